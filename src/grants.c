/*
 * grants.c
 *		Credit grants: term credits that expire (SPEC "Credit grants and
 *		fallback pools (0.3)").
 *
 * Design of consumption order (read this before changing it)
 * ----------------------------------------------------------
 * A grant is one ledger entry of kind 'grant' carrying its grant_id; its end
 * (expiry or revocation) one entry of kind 'expire' carrying the same id,
 * whose amount is minus what the grant had left.  Nothing else about a
 * grant's money is stored: what a grant has left is a function of the
 * ledger, quota._grant_remainders() (src/sql/77_grants.sql), which replays
 * the pool's entries in entry_id order:
 *
 *		grant g			g becomes live with remainder = its amount
 *		expire g		g ends (remainder 0: the entry removed what was left)
 *		debit d			(charge or adjust entries below zero) d draws from
 *						the live grants in order of priority, expires_at (none
 *						last), grant_id, each down to 0, the rest from the
 *						allowance part, which may go below zero (an overrun)
 *		anything else	(top-ups, resets, the initial allowance, positive
 *						adjustments) moves the allowance part only
 *
 * so that at every entry: balance = allowance part + the live grants'
 * remainders = the sum of the pool's ledger, each remainder stays between 0
 * and its grant's amount, and no credit of a grant is drawn twice (each unit
 * of a debit is drawn once, from one bucket).  The charge path is unchanged:
 * the escrow (escrow.c) admits a debit against the pool's available balance,
 * grants included, as it always did; which bucket paid is decided by the
 * replay, not on the hot path.
 *
 * Why it is exact under concurrency.  The replay is a deterministic function
 * of the committed ledger, so it is the same in every session, after a crash
 * restart (the ledger is WAL-logged and the escrow rebuilds from it as
 * before), on a promoted standby and after a dump and restore (grant_id
 * travels with the rows; quota.credit_grants is dumped).  The one thing that
 * could make it disagree with a posted expire entry is a debit with a
 * smaller entry_id than the expire entry that commits after the expire was
 * computed: the replay would then attribute it to the grant the expirer had
 * already emptied.  That cannot happen: every debit of a pool that has had
 * a grant takes the pool's debit lock in share mode before it is admitted
 * and keeps it until its transaction ends (escrow.c, LockDebits), and
 * whoever posts an expire entry first takes it in exclusive mode
 * (EscrowLockGrants; in locked mode the pool's own lock, which every writer
 * takes).  A pool's first grant marks the pool's entry before its own
 * entry is written, so that every debit admitted later takes the lock, and
 * then waits until every debit admitted before the mark has ended (they
 * are writers of the ledger from before their admission: EscrowGrantsBegin);
 * a rebuilt entry is marked if the pool has had a grant.  So when the
 * expirer replays, every debit with a smaller entry_id has committed or
 * aborted, and every later debit gets a larger entry_id and sees the grant
 * ended.
 * Credits in flight do not matter: they move the allowance part only.  The
 * expire entry therefore equals the grant's amount minus what debits drew
 * from it, in every later replay too.
 *
 * Exactly once: the expirers of a pool (quota_run_due(), the first call
 * after next_expiry_at, quota_revoke_credits) serialise on the pool's
 * quota.pool_defs row (FOR UPDATE) and read the grant's state again under
 * it; a unique index on quota.ledger (grant_id, kind) refuses a second
 * expire entry in any case.  Resets take the debit lock too when the pool
 * has live grants, and a restore sets the allowance part (balance minus the
 * live remainders) to the allowance, so live grants keep their remainders.
 *
 * History: quota_archive() leaves a pool's entries since its first grant in
 * the ledger while the pool has a live grant (archive.c), so the replay
 * never needs what was archived (quota.ledger_archive may be truncated);
 * its carry-forward entry is dated before the replay starts.
 *
 * Waits: an expirer waits for the pool's debits in flight, and new debits
 * of the pool wait for the expirer's commit (a lazy expiry is one statement
 * of the first call after expires_at).  A transaction that charged a pool
 * and stays open holds the expiry of that pool's grants back until it ends;
 * two transactions that each charged the pool and then both apply its
 * expiry lazily deadlock, and PostgreSQL cancels one (40P01, nothing
 * posted twice).  A pool's first grant waits for the transactions writing
 * the ledger when it starts (a lock wait: lock_timeout applies; a writer
 * waiting for the pool's row, which the grant holds, is a deadlock: 40P01);
 * later grants find the pool marked and do not wait.
 *
 * Cost: a share lock per debit of a pool that has had a grant (no wait
 * unless an expiry is being posted; none for the others, so a hot shared
 * pool without grants has no lock its charges all take), and a replay over
 * the pool's entries since its oldest live grant when a grant expires or
 * quota.pool_grants is read, never on the charge path.
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"

#include "errors.h"
#include "escrow.h"
#include "grants.h"

PG_FUNCTION_INFO_V1(quota_lock_grants);

/*
 * SQL: quota._lock_grants(pool_id): wait until no other transaction has a
 * debit of the pool in flight, and keep new debits out until commit.
 */
Datum
quota_lock_grants(PG_FUNCTION_ARGS)
{
	QuotaRefuseOnStandby("quota._lock_grants");
	EscrowLockGrants(PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}
