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
	QUOTA_LOCK_RATES,			/* rate windows (rate_window.c) */
	QUOTA_LOCK_USERS,			/* user profiles (profile_cache.c) */
	QUOTA_LOCK_REFUSALS,		/* refusal counts (refusals.c) */
	QUOTA_NUM_LOCKS
} QuotaLockId;

extern void QuotaShmemInit(void);

#endif							/* QUOTA_SHMEM_H */
