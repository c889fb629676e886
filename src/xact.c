/*
 * xact.c
 *		quota's one transaction-callback dispatcher, with its order written
 *		down.
 *
 * PostgreSQL calls transaction callbacks in the reverse order of their
 * registration, so callbacks registered by each module would run in an
 * order nobody chose.  quota registers one callback, which calls each
 * module's handler in this order:
 *
 *	1. money (escrow.c): balances, holds and pool cap windows.  First,
 *	   because at PRE_PREPARE it refuses a transaction that moved money
 *	   (an ERROR there must come before anything else acts), and because
 *	   its in-flight amounts are what every other backend admits against:
 *	   they are released before anything else is done.
 *	2. member slots (member_caps.c): the member cap windows and holds
 *	   registered by the transaction.
 *	3. rate windows (ratelimit.c): admissions stay at commit, are taken
 *	   back at abort.
 *	4. configuration (invalidation.c): a committed change moves the shared
 *	   generation, after the money state, so that nothing admitted under
 *	   the old configuration is still pending when the new one is read.
 *	5. alerts (alert.c): warnings of this transaction become seen at commit
 *	   only.
 *
 * Each handler touches only its own module's state and never raises an
 * error at COMMIT or ABORT (only escrow.c at PRE_PREPARE).  Subtransaction
 * ends run 1, 2, 3 and 5 in the same order.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"

#include "alert.h"
#include "escrow.h"
#include "invalidation.h"
#include "member_caps.h"
#include "rate_window.h"
#include "xact.h"

/* The transaction callback: every module's handler, in the order above. */
static void
QuotaXactCallback(XactEvent event, void *arg)
{
	EscrowXactEvent(event);
	MemberXactEvent(event);
	RateXactEvent(event);
	InvalidationXactEvent(event);
	AlertXactEvent(event);
}

/* The subtransaction callback: the same order. */
static void
QuotaSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	EscrowSubXactEvent(event);
	MemberSubXactEvent(event);
	RateSubXactEvent(event);
	AlertSubXactEvent(event, mySubid);
}

/* Register the two callbacks (from _PG_init). */
void
QuotaXactInit(void)
{
	RegisterXactCallback(QuotaXactCallback, NULL);
	RegisterSubXactCallback(QuotaSubXactCallback, NULL);
}
