/*
 * shmem.h
 *		quota's shared memory: one request, one start-up, one lock tranche
 *		(see shmem.c).
 */
#ifndef QUOTA_SHMEM_H
#define QUOTA_SHMEM_H

#include "storage/lwlock.h"

/* The locks of the tranche "quota", one per shared table. */
typedef enum QuotaLockId
{
	QUOTA_LOCK_POOLS,			/* pool slots (escrow.c) */
	QUOTA_LOCK_MEMBERS,			/* member slots (member_caps.c) */
	QUOTA_LOCK_RATES,			/* rate windows (ratelimit.c) */
	QUOTA_LOCK_USERS,			/* user profiles (profile_cache.c) */
	QUOTA_LOCK_REFUSALS,		/* refusal counts (refusals.c) */
	QUOTA_NUM_LOCKS
} QuotaLockId;

/* The three settings that size shared memory (quota.c). */
extern int	quota_max_pools;
extern int	quota_max_members;
extern int	quota_max_users;

extern void QuotaShmemInit(void);
extern bool QuotaShmemRequested(void);
extern int	QuotaRateEntries(void);
extern int	QuotaRefusalEntries(void);
extern uint64 QuotaSharedGeneration(void);
extern void QuotaSharedGenerationBump(void);
extern long QuotaHashEntries(struct HTAB *hash, LWLock *lock);

#endif							/* QUOTA_SHMEM_H */
