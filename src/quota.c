/*
 * quota.c
 *		Module entry point: the quota.* settings, and the start of shared
 *		memory (shmem.c), transaction callbacks (xact.c) and hooks.
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "direct.h"
#include "invalidation.h"
#include "quota.h"
#include "shmem.h"
#include "xact.h"

PG_MODULE_MAGIC_EXT(.name = "quota", .version = QUOTA_VERSION);

int			quota_max_pools = 100000;
int			quota_max_members = 50000;
int			quota_max_users = 50000;
int			quota_route_cache_entries = 2000;
int			quota_max_reservation_ttl = 86400;
static char *quota_user_id = NULL;

void		_PG_init(void);

/* Define the quota.* GUCs and, when preloaded, ask for shared memory. */
void
_PG_init(void)
{
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

	QuotaShmemInit();
	QuotaXactInit();
	InvalidationInit();
	DirectInit();
	UninstallInit();
}
