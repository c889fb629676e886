/*
 * settings.c
 *		The quota.* settings, and the sizes of the shared tables they give
 *		(shmem.c).
 *
 * Three settings size shared memory, each named for what it counts:
 * quota.max_pools (pool slots), quota.max_members (member slots, and a
 * fifth as many rate windows) and quota.max_users (user profiles, and a
 * twentieth as many refusal counts).  They can only be defined while the
 * library is preloaded (they take effect at server start); 0.2's
 * quota.profile_cache_entries, quota.rate_limit_entries and
 * quota.refusal_entries no longer exist, and MarkGUCPrefixReserved makes
 * a postgresql.conf that still sets them start with a warning for each.
 */
#include "postgres.h"

#include "compat.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "utils/guc.h"
#include "utils/hsearch.h"

#include "settings.h"

int			quota_max_pools = 100000;
int			quota_max_members = 50000;
int			quota_max_users = 50000;
int			quota_route_cache_entries = 2000;
int			quota_max_reservation_ttl = 86400;
static char *quota_user_id = NULL;
static bool quota_preloaded = false;

/* Define the quota.* settings (from _PG_init). */
void
QuotaDefineSettings(void)
{
	quota_preloaded = process_shared_preload_libraries_in_progress;
	DefineCustomStringVariable("quota.user_id",
							   "The user that quota_app or quota_admin sessions act for.",
							   "Ignored unless the role is a member of quota_app or quota_admin; "
							   "other roles naming another user get an error.",
							   &quota_user_id,
							   NULL,
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	/* the three settings that size shared memory (shmem.c): preloading only */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("quota.max_pools",
								"Pools whose balances and cap windows are kept in shared memory.",
								"About 0.3 kB each; takes effect at server start.",
								&quota_max_pools,
								100000,
								100,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("quota.max_members",
								"Members of pools (a user in one pool) whose cap windows and rate windows are kept in shared memory.",
								"About 0.6 kB each, rate windows included (one per five members); takes effect at server start; 0 keeps no member cap windows.",
								&quota_max_members,
								50000,
								0,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("quota.max_users",
								"Users whose profiles (and refusal counts) are kept in shared memory.",
								"About 0.5 kB each, refusal counts included (one per twenty users); takes effect at server start; 0 keeps no profiles.",
								&quota_max_users,
								50000,
								0,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	}

	DefineCustomIntVariable("quota.route_cache_entries",
							"Pools and sets of groups a backend remembers for the charge path.",
							"About 0.6 kB each; users too when the shared profile table cannot hold them. The cache is emptied when full; 0 turns it off.",
							&quota_route_cache_entries,
							2000,
							0,
							1000000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("quota.max_reservation_ttl",
							"The longest ttl quota_reserve() accepts.",
							"A hold lasts at most this long; quota_reserve() refuses a longer ttl.",
							&quota_max_reservation_ttl,
							86400,
							1,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("quota");
}

/* Was the library preloaded (shared memory asked for)? */
bool
QuotaPreloaded(void)
{
	return quota_preloaded;
}

/* Rate windows: a fifth of the member slots, at least 100. */
int
QuotaRateEntries(void)
{
	return Max(quota_max_members / 5, 100);
}

/* Refusal counts: one per twenty users, at least 100. */
int
QuotaRefusalEntries(void)
{
	return Max(quota_max_users / 20, 100);
}

/* Entries of a shared table read under its lock; -1 when it was not created. */
long
QuotaHashEntries(HTAB *hash, LWLock *lock)
{
	long		n;

	if (hash == NULL)
		return -1;
	LWLockAcquire(lock, LW_SHARED);
	n = hash_get_num_entries(hash);
	LWLockRelease(lock);
	return n;
}
