/*
 * config.c
 *		The one per-backend configuration cache: what the charge path reads
 *		of quota's configuration tables, kept between requests.
 *
 * Three parts of the policy layer read configuration on every request: the
 * routes (route.c: users' profiles, pools as a user sees them), the caps
 * (caps.c) and the rate limits (ratelimit.c).  They keep what they read
 * here, in one memory context ("quota configuration cache"), under one
 * rule of validity:
 *
 *	 - the cache holds what was read under one configuration generation
 *	   (QuotaConfigGeneration, invalidation.c): this backend's count of the
 *	   relcache invalidations of the configuration tables, which PostgreSQL
 *	   delivers at COMMIT, at COMMIT PREPARED and on a standby at replay,
 *	   plus the shared generation for what outlives backends.  When it
 *	   moved, everything is dropped at once (ConfigCacheUsable);
 *	 - a transaction that changed the configuration itself (QuotaConfigDirty)
 *	   and a hot standby read the tables, and store nothing;
 *	 - a result is stored only if the generation did not move while it was
 *	   read (ConfigCacheStorable), so nothing read from an older state
 *	   outlives a change.
 *
 * A pool's caps and rate limits are one entry (ConfigPool), found with one
 * look-up by pool id; each kind is read for every pool at once after a
 * change (one statement per change, not per pool), and a pool missing from
 * a complete kind has none.  The routes keep their own table (keyed by
 * user and pool names) in a child context, made again after each drop
 * (ConfigCacheEpoch tells them).
 */
#include "postgres.h"

#include "compat.h"

#include "access/xlog.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "config.h"
#include "invalidation.h"

static MemoryContext config_cxt = NULL;
static uint64 config_generation = 0;
static uint64 config_epoch = 0;
static HTAB *config_pools = NULL;
static bool config_complete[CONFIG_KINDS];

/* Drop everything cached; the cache now holds what generation shows. */
static void
ConfigCacheReset(uint64 generation)
{
	if (config_cxt == NULL)
		config_cxt = AllocSetContextCreate(TopMemoryContext,
										   "quota configuration cache",
										   ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(config_cxt);
	config_pools = NULL;
	memset(config_complete, 0, sizeof(config_complete));
	config_generation = generation;
	config_epoch++;
}

/*
 * May the cache be read now?  Drops it first when the configuration
 * changed since it was filled.  False: read the tables.
 */
bool
ConfigCacheUsable(void)
{
	uint64		generation;

	if (QuotaConfigDirty() || RecoveryInProgress())
		return false;
	generation = QuotaConfigGeneration();
	if (generation == 0)
		return false;
	if (generation != config_generation || config_cxt == NULL)
		ConfigCacheReset(generation);
	return true;
}

/* May a result read since ConfigCacheUsable() be stored? */
bool
ConfigCacheStorable(void)
{
	return config_cxt != NULL && !QuotaConfigDirty() && !RecoveryInProgress() &&
		QuotaConfigGeneration() == config_generation;
}

/* How many times the cache was dropped (its users' own tables go too). */
uint64
ConfigCacheEpoch(void)
{
	return config_epoch;
}

/* The cache's memory context (reset when the cache is dropped). */
MemoryContext
ConfigCacheContext(void)
{
	Assert(config_cxt != NULL);
	return config_cxt;
}

/* A pool's entry (created empty if asked); NULL when absent and not created. */
ConfigPool *
ConfigCachePool(int64 pool_id, bool create)
{
	ConfigPool *p;
	bool		found;

	if (config_pools == NULL)
	{
		HASHCTL		ctl;

		if (!create)
			return NULL;
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ConfigPool);
		ctl.hcxt = ConfigCacheContext();
		config_pools = hash_create("quota configuration per pool", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	p = hash_search(config_pools, &pool_id, create ? HASH_ENTER : HASH_FIND, &found);
	if (create && !found)
	{
		memset(p, 0, sizeof(ConfigPool));
		p->pool_id = pool_id;
	}
	return p;
}

/* Was a kind read for every pool at once (a pool without an entry has none)? */
bool
ConfigCacheComplete(ConfigKind kind)
{
	return config_complete[kind];
}

/* A kind was read for every pool, and nothing changed meanwhile. */
void
ConfigCacheSetComplete(ConfigKind kind)
{
	if (ConfigCacheStorable())
		config_complete[kind] = true;
}
