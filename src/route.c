/*
 * route.c
 *		A per-backend cache of who may use which pool: the user check, the
 *		user's active pool and a pool as the user sees it.
 *
 * Most charges repeat the same look-ups (is the user registered, which pool
 * is theirs, with what configuration and role).  Their answers are kept
 * here: a profile per user (profile.c; kept in shared memory for every
 * backend, profile_cache.c, and here only when it does not fit there), a
 * pool's own configuration per pool, and, for users whose pools follow
 * from their groups alone (most students), the default pool and the grants
 * per set of groups, shared by all such users; other users get entries of
 * their own.  The cache is emptied whenever the tables the answers come
 * from change:
 *
 *	 - statement triggers on quota.users, user_state, pool_defs, pool_members
 *	   and pool_groups mark the changing transaction dirty (route_dirty); a
 *	   dirty transaction bypasses the cache, so its own uncommitted changes
 *	   are seen and never stored;
 *	 - when a dirty transaction commits, it increments a generation counter
 *	   in shared memory (after its changes became visible); the trigger also
 *	   queues an invalidation message, which moves every backend's
 *	   generation when it arrives, also at COMMIT PREPARED
 *	   (invalidation.c);
 *	 - every look-up first compares the shared generation with the one the
 *	   cache was filled under, and empties the cache when they differ; a
 *	   result is stored only if the generation is still the one read before
 *	   its query, so nothing read from an older state outlives a change.
 *
 * Nor is it used on a hot standby: replay moves no generation counter
 * (standby.c), so look-ups read the replayed tables there, and nothing read
 * during recovery is left for after a promotion.
 *
 * The cache is used only in READ COMMITTED (where each query takes a new
 * snapshot after the generation was read) and only with shared memory
 * (quota preloaded).  quota.route_cache_entries bounds it (it is emptied
 * when full) or turns it off (0).
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "escrow.h"
#include "invalidation.h"
#include "profile_cache.h"
#include "quota.h"
#include "route.h"
#include "settings.h"

PG_FUNCTION_INFO_V1(quota_routes_changed);

/* user id and pool name, with a kind prefix, must fit in the key */
#define ROUTE_KEY_SIZE		416

typedef struct RouteEntry
{
	char		key[ROUTE_KEY_SIZE];
	UserProfile profile;		/* user entries */
	char	   *text;			/* text entries (may be NULL) */
	bool		explicit_choice;	/* active entries: chosen by a switch */
	PoolInfo	info;			/* active and pool entries */
} RouteEntry;

static MemoryContext RouteContext = NULL;
static HTAB *route_hash = NULL;
static uint64 route_generation = 0;

/* Forget everything cached. */
static void
RouteFlush(void)
{
	if (RouteContext != NULL)
		MemoryContextReset(RouteContext);
	route_hash = NULL;
}

/*
 * May the cache be used now?  Empties it when the shared generation moved.
 * Returns false (use the tables) when it may not.
 */
static bool
RouteUsable(void)
{
	uint64		generation;

	if (QuotaConfigDirty() || IsolationUsesXactSnapshot() || quota_route_cache_entries == 0 ||
		RecoveryInProgress())
		return false;
	generation = QuotaConfigGeneration();
	if (generation == 0)
		return false;
	if (generation != route_generation ||
		(route_hash != NULL &&
		 hash_get_num_entries(route_hash) >= quota_route_cache_entries))
	{
		RouteFlush();
		route_generation = generation;
	}
	if (route_hash == NULL)
	{
		HASHCTL		ctl;

		if (RouteContext == NULL)
			RouteContext = AllocSetContextCreate(TopMemoryContext,
												 "quota route cache",
												 ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = ROUTE_KEY_SIZE;
		ctl.entrysize = sizeof(RouteEntry);
		ctl.hcxt = RouteContext;
		route_hash = hash_create("quota routes", 1024, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	return true;
}

/* May a result read since the last RouteUsable() be stored? */
static bool
RouteStorable(void)
{
	return route_hash != NULL && !QuotaConfigDirty() && !IsolationUsesXactSnapshot() &&
		!RecoveryInProgress() && QuotaConfigGeneration() == route_generation;
}

/* Build a key; false when the names are too long to cache. */
static bool
RouteKey(char *key, char kind, const char *user_id, const char *pool)
{
	int			n;

	memset(key, 0, ROUTE_KEY_SIZE);
	n = snprintf(key, ROUTE_KEY_SIZE, "%c\x01%s\x01%s", kind, user_id, pool ? pool : "");
	return n > 0 && n < ROUTE_KEY_SIZE;
}

/* Copy a pool's strings and arrays into the given context. */
static void
CopyPool(PoolInfo *dst, const PoolInfo *src, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	*dst = *src;
	dst->pool = pstrdup(src->pool);
	dst->kind = pstrdup(src->kind);
	dst->owner = src->owner ? pstrdup(src->owner) : NULL;
	dst->role = src->role ? pstrdup(src->role) : NULL;
	dst->models = src->models ? datumCopy(src->models, false, -1) : (Datum) 0;
	dst->warn_at = src->warn_at ? datumCopy(src->warn_at, false, -1) : (Datum) 0;
	MemoryContextSwitchTo(old);
}

/* A string copied into a context, NULL staying NULL. */
static char *
CopyString(MemoryContext cxt, const char *str)
{
	return str ? MemoryContextStrdup(cxt, str) : NULL;
}

/* Copy a user profile's strings into the given context. */
static void
CopyProfile(UserProfile *dst, const UserProfile *src, MemoryContext cxt)
{
	*dst = *src;
	dst->switched = CopyString(cxt, src->switched);
	dst->groups = CopyString(cxt, src->groups);
	dst->personal = CopyString(cxt, src->personal);
}

/*
 * The cached user check: true with *profile filled (palloc'd) when known.
 * The shared table (profile_cache.c) is the users' cache; this backend's
 * own keeps only the profiles it could not hold.  Users kept here too
 * would fill this cache in a pool of thousands (and empty it, with the
 * pool entries, every quota.route_cache_entries new users).
 */
bool
RouteLookupUser(const char *user_id, UserProfile *profile)
{
	char		key[ROUTE_KEY_SIZE];
	RouteEntry *e;

	if (!RouteUsable() || !RouteKey(key, 'u', user_id, NULL))
		return false;
	if (ProfileCacheLookup(user_id, route_generation, profile))
		return true;
	e = hash_search(route_hash, key, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	CopyProfile(profile, &e->profile, CurrentMemoryContext);
	return true;
}

/* Remember that the user exists, with their profile (shared if it fits). */
void
RouteStoreUser(const char *user_id, const UserProfile *profile)
{
	char		key[ROUTE_KEY_SIZE];
	RouteEntry *e;

	if (!RouteStorable() || !RouteKey(key, 'u', user_id, NULL))
		return;
	if (ProfileCacheStore(user_id, route_generation, profile))
		return;
	e = hash_search(route_hash, key, HASH_ENTER, NULL);
	CopyProfile(&e->profile, profile, RouteContext);
}

/*
 * A cached text (possibly NULL) under a kind and two key parts, such as the
 * default pool of a set of groups; true with *value (palloc'd) when known.
 */
bool
RouteLookupText(char kind, const char *key1, const char *key2, char **value)
{
	char		key[ROUTE_KEY_SIZE];
	RouteEntry *e;

	if (!RouteUsable() || !RouteKey(key, kind, key1, key2))
		return false;
	e = hash_search(route_hash, key, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	*value = e->text ? pstrdup(e->text) : NULL;
	return true;
}

/* Remember a text (possibly NULL) under a kind and two key parts. */
void
RouteStoreText(char kind, const char *key1, const char *key2, const char *value)
{
	char		key[ROUTE_KEY_SIZE];
	RouteEntry *e;

	if (!RouteStorable() || !RouteKey(key, kind, key1, key2))
		return;
	e = hash_search(route_hash, key, HASH_ENTER, NULL);
	e->text = CopyString(RouteContext, value);
}

/*
 * The cached pool (pool == NULL: the user's active pool) as the user sees
 * it; true with *info filled (copied into the current context) when known.
 */
bool
RouteLookupPool(const char *user_id, const char *pool, PoolInfo *info,
				bool *explicit_choice)
{
	char		key[ROUTE_KEY_SIZE];
	RouteEntry *e;

	if (!RouteUsable() || !RouteKey(key, pool ? 'p' : 'a', user_id, pool))
		return false;
	e = hash_search(route_hash, key, HASH_FIND, NULL);
	if (e == NULL)
		return false;
	CopyPool(info, &e->info, CurrentMemoryContext);
	if (explicit_choice)
		*explicit_choice = e->explicit_choice;
	return true;
}

/* Remember a pool as the user sees it (pool == NULL: their active pool). */
void
RouteStorePool(const char *user_id, const char *pool, const PoolInfo *info,
			   bool explicit_choice)
{
	char		key[ROUTE_KEY_SIZE];
	RouteEntry *e;

	if (!RouteStorable() || !RouteKey(key, pool ? 'p' : 'a', user_id, pool))
		return;
	e = hash_search(route_hash, key, HASH_ENTER, NULL);
	CopyPool(&e->info, info, RouteContext);
	e->explicit_choice = explicit_choice;
}

/* Statement trigger on the routing tables: this transaction changed them. */
Datum
quota_routes_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "quota_routes_changed: not called as a trigger");
	QuotaConfigChanged(((TriggerData *) fcinfo->context)->tg_relation);
	PG_RETURN_POINTER(NULL);
}

