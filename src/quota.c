/*
 * quota.c
 *		Module entry point: GUCs, shared memory hooks and transaction
 *		callbacks of the quota extension.
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "escrow.h"
#include "member_caps.h"
#include "direct.h"
#include "route.h"
#include "invalidation.h"
#include "quota.h"
#include "ratelimit.h"

PG_MODULE_MAGIC_EXT(.name = "quota", .version = QUOTA_VERSION);

int			quota_max_pools = 100000;
int			quota_route_cache_entries = 2000;
int			quota_max_reservation_ttl = 86400;
int			quota_rate_limit_entries = 10000;
int			quota_refusal_entries = 1000;
int			quota_max_members = 10000;
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

	/* a server-start setting can only be defined while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("quota.max_pools",
								"Pools whose balances are kept in shared memory.",
								"Needs quota in shared_preload_libraries; takes effect at server start.",
								&quota_max_pools,
								100000,
								100,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("quota.profile_cache_entries",
								"User profiles kept in shared memory for every backend's charges.",
								"About 0.36 kB each; needs quota in shared_preload_libraries; 0 turns it off.",
								&quota_profile_cache_entries,
								20000,
								0,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("quota.rate_limit_entries",
								"Rate limit counters kept in shared memory: one per pool and per member with a rate limit.",
								"About 1 kB each; a counter unused for a minute is reused; needs quota in shared_preload_libraries; takes effect at server start.",
								&quota_rate_limit_entries,
								10000,
								100,
								1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("quota.max_members",
								"Members of pools with member caps whose spending per window is kept in shared memory.",
								"About 0.4 kB each; when all are used, entries idle longest are reused, else a member cap is summed from the ledger; 0 turns it off; takes effect at server start.",
								&quota_max_members,
								10000,
								0,
								10000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("quota.refusal_entries",
								"Counts of refused requests (pool, user, SQLSTATE) kept in shared memory for quota.refusals.",
								"About 1.7 kB each; when full, the entry refused longest ago makes room; takes effect at server start.",
								&quota_refusal_entries,
								1000,
								100,
								1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

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

	EscrowInit();
	MemberCapsInit();
	ProfileCacheInit();
	RouteInit();
	InvalidationInit();
	DirectInit();
	UninstallInit();
	RateLimitInit();
	RefusalInit();
}
