/*
 * standby.c
 *		quota on a hot standby, and after its promotion.
 *
 * A standby replays the primary's WAL: its tables are exact, as fresh as
 * replay, but nothing replay does passes through quota's code.  So on a
 * standby (RecoveryInProgress()) quota keeps no state of its own:
 *
 *	 - balances and holds are summed from quota.ledger (its sealed sums
 *	   plus the later entries, seal.c) and quota.reservations with a
 *	   snapshot taken at the call (escrow.c's EscrowRead); no escrow entry is created or read, because the shared
 *	   entries are moved only by local commits;
 *	 - the route cache and the shared profile table (route.c,
 *	   profile_cache.c) are neither read nor filled: their generation
 *	   counter is bumped only by local commits too;
 *	 - quota_check writes nothing: where the primary would release the
 *	   pool's expired holds and apply its due reset first, the standby
 *	   answers as if it had (StandbyAsIfDue; the member's usage in
 *	   QuotaMemberUsage);
 *	 - every function that writes raises 25006 before it reads anything
 *	   (QuotaRefuseOnStandby, and quota._require() for the PL/pgSQL ones).
 *
 * Why not caches invalidated through the WAL (relcache callbacks, as
 * pg_cron does for its job cache)?  Replay makes a commit visible
 * (ExpireTreeKnownAssignedTransactionIds) before it queues the commit's
 * invalidation messages, so a statement whose snapshot already sees a
 * replayed switch could still be answered from a cache the message has not
 * yet reached; and a shared table outlives the backends that would get the
 * messages.  Reading the tables is exact, and a standby serves dashboards,
 * not the charge path.
 *
 * Promotion.  Since nothing was kept during recovery, nothing computed
 * before the promotion survives it: the first use of a pool after it
 * rebuilds the pool's escrow entry from the ledger, which by then holds
 * every replayed commit (RecoveryInProgress() turns false only once replay
 * is over), and the caches start empty under the route generation that the
 * new primary's own commits move.  A backend that was running across the
 * promotion saw RecoveryInProgress() true until then and so kept nothing
 * either; a transaction it began during recovery stays read-only, and any
 * escrow amount it admits after the promotion is dropped when its write
 * fails and it aborts.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "quota.h"
#include "seal.h"
#include "standby.h"

/* The pool's balance, active unexpired holds and reset, as of now. */
static QuotaQuery as_if_due_q = {
	"SELECT 0, "
	"       (SELECT quota.sum(r.held) FROM quota.reservations r "
	"         WHERE r.pool OPERATOR(pg_catalog.=) d.pool AND r.settled_at IS NULL "
	"           AND r.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()), "
	"       d.reset_policy, d.allowance, "
	"       coalesce(d.next_reset_at OPERATOR(pg_catalog.<=) pg_catalog.now(), false) "
	"FROM quota.pool_defs d WHERE d.pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

/*
 * On a standby: the pool's figures as quota_check on the primary would see
 * them after releasing the pool's expired holds and applying its due reset
 * (restore: the balance becomes the allowance; add: the allowance is added),
 * read with a snapshot taken now; nothing is written.
 */
void
StandbyAsIfDue(const PoolInfo *info, EscrowState *state)
{
	Datum		v[1] = {CStringGetTextDatum(info->pool)};
	Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
	bool		isnull;
	int128		balance;
	int128		held;
	Credits		allowance;
	bool		due;
	bool		sealed_in_range;
	char	   *policy;

	QuotaExecSnapshot(&as_if_due_q, v, NULL, latest, 1);
	if (SPI_processed != 1)
		elog(ERROR, "quota: pool \"%s\" vanished", info->pool);
	held = DatumGetCredits(QuotaGetDatum(0, 2, &isnull));
	if (isnull)
		held = 0;
	policy = QuotaGetText(0, 3);
	allowance = DatumGetCredits(QuotaGetDatum(0, 4, &isnull));
	due = DatumGetBool(QuotaGetDatum(0, 5, &isnull));
	/* the sealed total and the later entries, in the same snapshot */
	balance = SealedBalance(info->pool, latest, &sealed_in_range);
	UnregisterSnapshot(latest);
	if (due && policy != NULL && strcmp(policy, "restore") == 0)
		balance = allowance;
	else if (due && policy != NULL && strcmp(policy, "add") == 0)
		balance += allowance;

	state->in_range = sealed_in_range && balance >= CREDITS_MIN && balance <= CREDITS_MAX &&
		balance - held >= CREDITS_MIN && balance - held <= CREDITS_MAX;
	state->balance = state->in_range ? (Credits) balance : 0;
	state->held = state->in_range ? (Credits) held : 0;
	state->available = state->in_range ? (Credits) (balance - held) : 0;
	state->live_balance = state->balance;
}
