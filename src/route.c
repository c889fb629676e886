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
 * their own.  They live in the configuration cache (config.c), whose top
 * says when it is dropped and what may be stored: everything goes when a
 * change of users, pools, members or groups is committed (or committed
 * prepared), and a transaction that changed them reads the tables.
 *
 * Nor is it used on a hot standby (standby.c): look-ups read the replayed
 * tables there, and nothing read during recovery is left for after a
 * promotion.
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
#include "config.h"
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

static MemoryContext RouteContext = NULL;	/* child of the configuration cache's */
static HTAB *route_hash = NULL;
static uint64 route_epoch = 0;	/* the configuration cache's, when made */
static uint64 user_stamp = 0;	/* the shared stamp before a user's profile was read */

/*
 * May the cache be used now?  Made again when the configuration cache was
 * dropped (a change) or when full.  Returns false (use the tables) when it
 * may not: also in REPEATABLE READ and SERIALIZABLE, whose snapshot may be
 * older than what the cache holds.
 */
static bool
RouteUsable(void)
{
	if (IsolationUsesXactSnapshot() || quota_route_cache_entries == 0 ||
		!ConfigCacheUsable())
		return false;
	if (route_hash == NULL || route_epoch != ConfigCacheEpoch() ||
		hash_get_num_entries(route_hash) >= quota_route_cache_entries)
	{
		HASHCTL		ctl;

		/* the old context went with the cache's, or is dropped here */
		if (route_hash != NULL && route_epoch == ConfigCacheEpoch())
			MemoryContextDelete(RouteContext);
		RouteContext = AllocSetContextCreate(ConfigCacheContext(),
											 "quota route cache",
											 ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = ROUTE_KEY_SIZE;
		ctl.entrysize = sizeof(RouteEntry);
		ctl.hcxt = RouteContext;
		route_hash = hash_create("quota routes", 1024, &ctl,
								 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		route_epoch = ConfigCacheEpoch();
	}
	return true;
}

/* May a result read since the last RouteUsable() be stored? */
static bool
RouteStorable(void)
{
	return route_hash != NULL && route_epoch == ConfigCacheEpoch() &&
		!IsolationUsesXactSnapshot() && ConfigCacheStorable();
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
	/* the shared profiles are stamped with the shared stamp alone */
	user_stamp = QuotaSharedConfigStamp();
	if (user_stamp != 0 && ProfileCacheLookup(user_id, user_stamp, profile))
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
	if (user_stamp != 0 && QuotaSharedConfigStamp() == user_stamp &&
		ProfileCacheStore(user_id, user_stamp, profile))
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

