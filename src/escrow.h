/*
 * escrow.h
 *		Pool balances, holds and in-flight amounts: the part of the charge
 *		path that decides whether money is there (see escrow.c).
 */
#ifndef QUOTA_ESCROW_H
#define QUOTA_ESCROW_H

#include "access/xact.h"
#include "datatype/timestamp.h"
#include "storage/lwlock.h"

#include "credits.h"
#include "rate_window.h"

/* Calendar windows of caps, in this order: day, week, month (caps.c). */
#define ESCROW_WINDOWS	3

/*
 * The pool-scope caps the next charge or hold on a pool must fit in, and
 * the charge's date (EscrowArmCaps; caps.c).  A charge (not a hold) is
 * counted in the windows that contain its date.
 */
typedef struct EscrowCapCheck
{
	bool		armed;
	bool		charge;			/* a charge (counted), else a hold */
	int64		pool_id;
	TimestampTz at;
	bool		has_cap[ESCROW_WINDOWS];
	Credits		cap[ESCROW_WINDOWS];
} EscrowCapCheck;

/* What a pool has, as seen by the calling transaction. */
typedef struct EscrowState
{
	Credits		balance;		/* committed ledger sum plus own changes */
	Credits		held;			/* active holds, own included */
	Credits		available;		/* balance - held - others' in-flight debits */
	Credits		live_balance;	/* balance - others' in-flight debits */
	bool		in_range;		/* false: some figure does not fit
								 * quota.credits, and all are 0 */
	/* a debit or hold refused by the pool's cap of window cap_refused */
	int			cap_refused;	/* -1: not refused by a cap */
	Credits		cap_spent;		/* the window's spending, others' in flight included */
	TimestampTz cap_end;		/* the window's end */
} EscrowState;

/* A pool as the escrow knows it. */
typedef struct EscrowPool
{
	int64		pool_id;
	const char *pool;
} EscrowPool;

extern Size EscrowShmemSize(void);
extern void EscrowShmemAttach(LWLock *lock);
extern void EscrowXactEvent(XactEvent event);
extern void EscrowSubXactEvent(SubXactEvent event);
extern bool EscrowIsShared(void);
extern bool EscrowPoolShared(const EscrowPool *pool);
extern long EscrowEntriesUsed(void);

extern bool EscrowDebit(const EscrowPool *pool, Credits amount, bool force,
						EscrowState *after);
extern bool EscrowSettle(const EscrowPool *pool, Credits amount, Credits freed,
						 bool force, EscrowState *after);
extern void EscrowCredit(const EscrowPool *pool, Credits amount);
extern bool EscrowHold(const EscrowPool *pool, Credits amount, EscrowState *after);
extern void EscrowUnhold(const EscrowPool *pool, Credits amount);
extern void EscrowRead(const EscrowPool *pool, EscrowState *state);

extern void EscrowArmCaps(const EscrowCapCheck *check);
extern bool EscrowWindowSpent(const EscrowPool *pool, int window, TimestampTz at,
							  Credits *spent);

/* Has this transaction moved money not yet committed? */
extern bool EscrowHasPending(void);

extern RateLink *EscrowRateLink(const EscrowPool *pool, bool create);

extern void EscrowLockPool(int64 pool_id);
extern void EscrowLockGrants(int64 pool_id);
extern void EscrowGrantsBegin(const EscrowPool *pool);

#endif							/* QUOTA_ESCROW_H */
