/*
 * shmem.c
 *		quota's shared memory, one design: one request, one start-up, one
 *		lock tranche, three settings.
 *
 * When quota is in shared_preload_libraries, the postmaster reserves, in
 * one request, the room of every shared table, and creates them in one
 * start-up hook, under AddinShmemInitLock, in this order:
 *
 *		table			entries					lock				file
 *		pool slots		quota.max_pools			QUOTA_LOCK_POOLS	escrow.c
 *		member slots	quota.max_members		QUOTA_LOCK_MEMBERS	member_caps.c
 *		rate windows	quota.max_members / 5	QUOTA_LOCK_RATES	rate_window.c
 *		user profiles	quota.max_users			QUOTA_LOCK_USERS	profile_cache.c
 *		refusal counts	quota.max_users / 20	QUOTA_LOCK_REFUSALS	refusals.c
 *
 * A pool slot holds the pool's balance, holds, in-flight amounts, cap
 * windows and the link to its rate window; a member slot a member's cap
 * windows, holds and the link to its rate window; a rate window the last
 * minute of a pool's or a member's admissions (only pools and members with
 * a rate limit, active within the minute, need one: a fifth of the member
 * slots); per-user state is what is needed before the pool is known (the
 * profile) and the refusals, counted per pool and user (about one user in
 * twenty is refused within a server's life).  Every table but the rate
 * windows is a fixed-size shared hash (HASH_FIXED_SIZE: all of its
 * elements are allocated at start, so a full table never takes the spare
 * shared memory the lock table needs); the rate windows are an array with
 * a free list, reached only through the slots' links.  What each does
 * when full is written at its top.  The tranche "quota" has one LWLock per table, shared to look up,
 * exclusive to add or remove entries; entries have their own spinlocks.
 *
 * Also created here: the shared configuration generation, which a
 * configuration change moves once it is visible (invalidation.c), for the
 * profiles kept in shared memory.
 */
#include "postgres.h"

#include "compat.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "escrow.h"
#include "invalidation.h"
#include "member_caps.h"
#include "profile_cache.h"
#include "rate_window.h"
#include "refusals.h"
#include "settings.h"
#include "shmem.h"

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The room of every table, in one request. */
static Size
QuotaShmemSize(void)
{
	Size		size = InvalidationShmemSize();

	size = add_size(size, EscrowShmemSize());
	size = add_size(size, MemberShmemSize());
	size = add_size(size, RateShmemSize());
	size = add_size(size, ProfileShmemSize());
	size = add_size(size, RefusalShmemSize());
	return size;
}

/* shmem_request_hook: reserve the tables and the tranche's locks. */
static void
QuotaShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(QuotaShmemSize());
	RequestNamedLWLockTranche("quota", QUOTA_NUM_LOCKS);
}

/* shmem_startup_hook: create (or attach to) every table, in order. */
static void
QuotaShmemStartup(void)
{
	LWLockPadded *locks;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	InvalidationShmemAttach();
	locks = GetNamedLWLockTranche("quota");
	EscrowShmemAttach(&locks[QUOTA_LOCK_POOLS].lock);
	MemberShmemAttach(&locks[QUOTA_LOCK_MEMBERS].lock);
	RateShmemAttach(&locks[QUOTA_LOCK_RATES].lock);
	ProfileShmemAttach(&locks[QUOTA_LOCK_USERS].lock);
	RefusalShmemAttach(&locks[QUOTA_LOCK_REFUSALS].lock);
	LWLockRelease(AddinShmemInitLock);
}

/* Install the hooks (from _PG_init, when preloaded). */
void
QuotaShmemInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = QuotaShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = QuotaShmemStartup;
}
