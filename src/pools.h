/*
 * pools.h
 *		Pools, access and the ledger as seen from C: lookups shared by the
 *		charging functions (pools.c).
 */
#ifndef QUOTA_POOLS_H
#define QUOTA_POOLS_H

#include "datatype/timestamp.h"

#include "credits.h"
#include "escrow.h"
#include "spi.h"

/* A pool's configuration and the caller's relation to it. */
typedef struct PoolInfo
{
	int64		pool_id;
	char	   *pool;
	char	   *kind;
	char	   *owner;			/* NULL for most shared pools */
	Credits		allowance;
	bool		enabled;
	bool		has_next_reset;
	TimestampTz next_reset_at;
	TimestampTz period_start;
	bool		has_member_limit;
	Credits		member_limit;	/* the member's own limit, else the pool's */
	Datum		models;			/* text[] or 0 for every model */
	char	   *role;			/* owner, admin, member, or NULL: no access */
	Credits		period_funds;	/* money the period started with, plus non-charge entries */
	Datum		warn_at;		/* numeric[] of warning thresholds */
	bool		has_next_expiry;	/* a live credit grant expires ... */
	TimestampTz next_expiry_at; /* ... first at this time (grants.c) */
} PoolInfo;

/* A user as the routing rules see them (QuotaCheckUserExists). */
typedef struct UserProfile
{
	char	   *switched;		/* the pool of the last switch, or NULL */
	char	   *groups;			/* the user's groups as text[] input */
	bool		member_rows;	/* listed in quota.pool_members */
	bool		owns_pools;		/* the owner of some pool */
	char	   *personal;		/* the personal pool they own, or NULL */
	bool		personal_enabled;	/* ... and whether it is enabled */
	bool		has_fallbacks;	/* a fallback list is set (fallback.c) */
} UserProfile;

extern void QuotaCheckPoolExists(const char *pool);
extern void QuotaCheckUserExists(const char *user_id, UserProfile *profile,
								 bool may_register);
extern bool QuotaLoadPool(const char *pool, const char *user_id, PoolInfo *info);
extern bool QuotaLoadPoolOwn(const char *pool, PoolInfo *info);
extern bool QuotaPoolPermits(const PoolInfo *info, const char *model);
extern bool QuotaLoadPoolAs(const char *pool, const char *user_id,
							const UserProfile *profile, PoolInfo *info);
extern char *QuotaActivePool(const char *user_id, const UserProfile *profile,
							 bool *explicit_choice, PoolInfo *info);
extern void QuotaResetIfDue(PoolInfo *info, const char *user_id);
extern EscrowPool QuotaEscrowPool(const PoolInfo *info);
extern Credits QuotaMemberUsage(const PoolInfo *info, const char *user_id);

#endif							/* QUOTA_POOLS_H */
