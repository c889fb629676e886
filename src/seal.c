/*
 * seal.c
 *		Sealed balances and usage rollups: what quota reads instead of
 *		summing years of ledger.
 *
 * Design (read this before changing it)
 * -------------------------------------
 * A pool's balance is the sum of its ledger amounts.  Summing the whole
 * ledger of a busy pool takes seconds after a few million rows, and quota
 * sums it when a pool's escrow entry is rebuilt (first use after a restart
 * or a promotion), on every charge without shared_preload_libraries, and
 * on every read on a hot standby.  So the ledger is sealed: one row,
 * quota.ledger_seal, holds a sealed_upto entry id S, and quota.pool_seals
 * holds, per pool, the sum of its entries with entry_id <= S.  Then
 *
 *		balance(pool) = pool_seals.balance + sum(amount of entry_id > S)
 *
 * where the second sum runs over the primary key's last few entries only.
 * This is exact if no entry with entry_id <= S can still become visible
 * after the seal: an id is handed out by the ledger's sequence (without a
 * cache) while the inserting transaction holds RowExclusiveLock on
 * quota.ledger (taken when the INSERT or COPY is planned, before the
 * default is evaluated, and kept to the transaction's end).  quota_seal()
 * reads the sequence's last value L first and then the virtual transaction
 * ids of every holder of a lock on quota.ledger that conflicts with Share
 * (the writers; VACUUMs, which conflict but write no entry, are skipped),
 * as CREATE INDEX CONCURRENTLY does: any transaction with an
 * id <= L held its lock before L was read, so it has ended or it is in that
 * list.  The seal waits (a bounded time, without taking a lock that would
 * queue new writers) until each of them has ended; then every entry <= L is
 * committed or aborted for good, and a snapshot taken now sees exactly the
 * committed ones.  Only then are the entries (S, L] added to pool_seals and
 * to the rollups and S set to L, in one transaction.  A writer that stays
 * open longer than the wait (a session left idle in transaction) makes this
 * run seal nothing; the next run tries again.  A charge's `at` (its
 * transaction's start) plays no part: seals follow entry ids, and a charge
 * dated long ago but committed after the seal lands in the tail.
 *
 * Readers take one snapshot for both parts, so they see a seal with
 * exactly the entries it covers: a seal committing meanwhile is either
 * wholly visible (S moved and the totals with it) or not at all.  A crash
 * during a seal rolls it back; the entries stay in the tail.  Concurrent
 * seals and archiving are serialized by the row lock on quota.ledger_seal.
 *
 * The usage rollups (quota.usage_rollup) are kept by the same step: per
 * pool, model and day in the pool's time zone (reset_timezone, as caps'
 * windows), the sealed charges' requests, tokens and costs; usage_daily
 * adds the unsealed tail to them.  A day is decided when its charges are
 * sealed: after a change of a pool's time zone, earlier days stay as they
 * were counted.
 *
 * A pool cap's window (a day, week or month of the pool's zone) is summed
 * the same way (SealWindowCharges): its sealed days from the rollups, its
 * charges above the seal from the ledger, in one snapshot.  That is exact
 * only if every sealed charge dated in the window was counted in the
 * window's zone.  So pool_seals notes, per pool, the zone of its rollup
 * days and since when (zone, zone_since): the seal that first counts a
 * pool's days in another zone sets zone_since to the clock as it writes
 * them, later than every charge an earlier seal counted (a pool's first
 * rollups: -infinity).
 * A window that starts before zone_since, or does not start and end on a
 * day of the zone, or a tail longer than SEAL_WINDOW_TAIL_MAX (no seals
 * running), is summed from the ledger instead.
 *
 * Archiving (archive.c) removes sealed entries and puts in their place one
 * carry-forward entry per pool with the id and the sum of the last one it
 * removed, so neither pool_seals, the tail nor any sum of the ledger
 * changes.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/sinvaladt.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "credits.h"
#include "escrow.h"
#include "seal.h"
#include "standby.h"

PG_FUNCTION_INFO_V1(quota_seal);
PG_FUNCTION_INFO_V1(quota_pool_window_charges);

/*
 * A window's charges are read from the rollups only while the entries
 * above the seal (read by the primary key, every pool's) are at most this
 * many: about a minute of a busy server between quota_run_due's seals.
 */
#define SEAL_WINDOW_TAIL_MAX	1000000

/* The ledger's last handed-out entry id (the sequence has no cache). */
#define SEAL_LAST_ENTRY_SQL \
	"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END " \
	"FROM quota.ledger_entry_id_seq"

/* The sealed id and the pool's sealed total (numeric, or NULL). */
#define SEAL_POOL_SQL \
	"SELECT coalesce((SELECT s.sealed_upto FROM quota.ledger_seal s), 0), " \
	"       (SELECT c.balance FROM quota.pool_seals c " \
	"         WHERE c.pool OPERATOR(pg_catalog.=) $1)"

/* Sealed total plus the tail; NULL when it does not fit quota.credits. */
#define SEAL_TAIL_SQL \
	"SELECT quota._credits_or_null(coalesce($3, 0) OPERATOR(pg_catalog.+) " \
	"         coalesce(pg_catalog.sum(l.amount::pg_catalog.numeric), 0)) " \
	"FROM quota.ledger l WHERE l.entry_id OPERATOR(pg_catalog.>) $2 " \
	"  AND l.pool OPERATOR(pg_catalog.=) $1"

/*
 * Set while a restore's load into the ledger is booked (guard.c): the seal
 * tables may be restored before or after the ledger (pg_restore --jobs), so
 * an entry built then sums the ledger as loaded so far, ignoring them.
 */
bool		SealIgnored = false;

/*
 * May readers use the seals?  Not during a restore's load (above), nor
 * with the 0.1 SQL (no quota.ledger_seal), which this library serves too.
 */
static bool
SealsReadable(void)
{
	return !SealIgnored &&
		OidIsValid(get_relname_relid("ledger_seal", get_namespace_oid("quota", false)));
}

/*
 * The pool's balance, exact: its sealed total plus its later entries, both
 * read with the given snapshot.  *in_range is false (and 0 returned) when
 * the sum does not fit quota.credits.
 */
Credits
SealedBalance(const char *pool, Snapshot snapshot, bool *in_range)
{
	Oid			types[3] = {TEXTOID, INT8OID, NUMERICOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	Datum		d;
	Credits		result = 0;
	int			rc;

	args[0] = CStringGetTextDatum(pool);
	SPI_connect();
	PushActiveSnapshot(snapshot);
	if (!SealsReadable())
	{
		/* a restore's load, or 0.1 on this library: the whole sum */
		rc = SPI_execute_with_args("SELECT coalesce(quota.sum(amount), '0') FROM quota.ledger "
								   "WHERE pool OPERATOR(pg_catalog.=) $1",
								   1, types, args, NULL, true, 1);
	}
	else
	{
		rc = SPI_execute_with_args(SEAL_POOL_SQL, 1, types, args, NULL, true, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "quota: could not read the seal of pool \"%s\"", pool);
		args[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		args[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (isnull)
			nulls[2] = 'n';

		/*
		 * Planned with the values (a one-shot plan): the primary key's range
		 * above the seal holds a few minutes of entries, the pool's whole
		 * history does not.
		 */
		rc = SPI_execute_with_args(SEAL_TAIL_SQL, 3, types, args, nulls, true, 1);
	}
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "quota: could not sum pool \"%s\"", pool);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*in_range = !isnull;
	if (!isnull)
		result = DatumGetCredits(d);
	SPI_finish();
	return result;
}

/*
 * A window of a pool, as SealWindowCharges reads it: the seal, the last
 * entry id, and whether the window is whole days of the zone in which the
 * pool's rollup days were counted since before the window began.
 */
#define SEAL_WINDOW_SQL \
	"SELECT coalesce((SELECT s.sealed_upto FROM quota.ledger_seal s), 0), " \
	"       (SELECT CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END " \
	"          FROM quota.ledger_entry_id_seq q), " \
	"       coalesce(p.zone OPERATOR(pg_catalog.=) d.reset_timezone " \
	"         AND $2 OPERATOR(pg_catalog.>=) p.zone_since " \
	"         AND pg_catalog.timezone(d.reset_timezone, $2)::pg_catalog.date OPERATOR(pg_catalog.>) " \
	"             pg_catalog.timezone(d.reset_timezone, $2 OPERATOR(pg_catalog.-) " \
	"                                 '1 microsecond'::pg_catalog.interval)::pg_catalog.date " \
	"         AND pg_catalog.timezone(d.reset_timezone, $3)::pg_catalog.date OPERATOR(pg_catalog.>) " \
	"             pg_catalog.timezone(d.reset_timezone, $3 OPERATOR(pg_catalog.-) " \
	"                                 '1 microsecond'::pg_catalog.interval)::pg_catalog.date, false), " \
	"       d.reset_timezone " \
	"FROM quota.pool_defs d LEFT JOIN quota.pool_seals p ON p.pool OPERATOR(pg_catalog.=) d.pool " \
	"WHERE d.pool OPERATOR(pg_catalog.=) $1"

/* The window's sealed days from the rollups, plus its charges in the tail. */
#define SEAL_WINDOW_FAST_SQL \
	"SELECT coalesce((SELECT pg_catalog.sum(r.final_cost) FROM quota.usage_rollup r " \
	"    WHERE r.pool OPERATOR(pg_catalog.=) $1 " \
	"      AND r.day OPERATOR(pg_catalog.>=) pg_catalog.timezone($6, $2)::pg_catalog.date " \
	"      AND r.day OPERATOR(pg_catalog.<) pg_catalog.timezone($6, $3)::pg_catalog.date), 0) " \
	"  OPERATOR(pg_catalog.+) coalesce((SELECT -pg_catalog.sum(l.amount::pg_catalog.numeric) " \
	"    FROM quota.ledger l " \
	"    WHERE l.entry_id OPERATOR(pg_catalog.>) $4 AND l.entry_id OPERATOR(pg_catalog.<=) $5 " \
	"      AND l.pool OPERATOR(pg_catalog.=) $1 AND l.kind OPERATOR(pg_catalog.=) 'charge' " \
	"      AND l.at OPERATOR(pg_catalog.>=) $2 AND l.at OPERATOR(pg_catalog.<) $3), 0)"

/* The window's charges from the ledger, through its pool and time indexes. */
#define SEAL_WINDOW_LEDGER_SQL \
	"SELECT coalesce(-pg_catalog.sum(l.amount::pg_catalog.numeric), 0) FROM quota.ledger l " \
	"WHERE l.pool OPERATOR(pg_catalog.=) $1 AND l.kind OPERATOR(pg_catalog.=) 'charge' " \
	"  AND l.at OPERATOR(pg_catalog.>=) $2 AND l.at OPERATOR(pg_catalog.<) $3 " \
	"  AND l.entry_id OPERATOR(pg_catalog.<=) $4"

/*
 * The charges (a positive numeric) of a pool dated in [start, end) with
 * entry_id <= upto, read with the snapshot: a cap window's use.  From the
 * rollups and the tail above the seal when the window is whole days of the
 * zone the pool's rollups were counted in (see the top of this file), so
 * that the cost does not grow with the window's charges; else from the
 * ledger.  Both give the same sum.
 */
Numeric
SealWindowCharges(const char *pool, TimestampTz start, TimestampTz end,
				  int64 upto, Snapshot snapshot)
{
	Oid			types[6] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID};
	Datum		args[6];
	bool		fast = false;
	bool		isnull;
	int			rc;
	Datum		sum;

	args[0] = CStringGetTextDatum(pool);
	args[1] = TimestampTzGetDatum(start);
	args[2] = TimestampTzGetDatum(end);
	SPI_connect();
	PushActiveSnapshot(snapshot);
	if (SealsReadable())
	{
		rc = SPI_execute_with_args(SEAL_WINDOW_SQL, 3, types, args, NULL, true, 1);
		if (rc == SPI_OK_SELECT && SPI_processed == 1)
		{
			HeapTuple	row = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			int64		sealed = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
			int64		last = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));

			/*
			 * The rollups hold the sealed charges: none above upto may be
			 * among them, and the tail must be short to beat the index.
			 */
			fast = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull)) &&
				sealed <= upto && last - sealed <= SEAL_WINDOW_TAIL_MAX;
			if (fast)
			{
				args[3] = Int64GetDatum(sealed);
				args[4] = Int64GetDatum(upto);
				args[5] = SPI_getbinval(row, desc, 4, &isnull);
				/* a one-shot plan: the primary key's range above the seal */
				rc = SPI_execute_with_args(SEAL_WINDOW_FAST_SQL, 6, types, args,
										   NULL, true, 1);
			}
		}
	}
	if (!fast)
	{
		args[3] = Int64GetDatum(upto);
		rc = SPI_execute_with_args(SEAL_WINDOW_LEDGER_SQL, 4, types, args, NULL, true, 1);
	}
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "quota: could not sum a window of pool \"%s\"", pool);
	/* copied to the caller's memory context, and only then unpacked there */
	sum = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull),
							false, -1);
	SPI_finish();
	return DatumGetNumeric(sum);
}

/*
 * Is this virtual transaction a VACUUM (its ShareUpdateExclusiveLock on
 * the ledger conflicts with Share, but it writes no entry)?  A VACUUM of a
 * large ledger may run for minutes and must not hold seals back.
 */
static bool
IsVacuum(VirtualTransactionId vxid)
{
	PGPROC	   *proc = VirtualXidGetProc(vxid);
	bool		vacuum = false;

	if (proc == NULL)
		return false;
	LWLockAcquire(ProcArrayLock, LW_SHARED);
	if (ProcLocalXid(proc) == vxid.localTransactionId &&
		(proc->statusFlags & (PROC_IS_AUTOVACUUM | PROC_IN_VACUUM)) != 0)
		vacuum = true;
	LWLockRelease(ProcArrayLock);
	return vacuum;
}

/*
 * Wait until every transaction that holds a lock on the ledger conflicting
 * with Share (its writers) at the time of the call has ended, at most
 * wait_ms milliseconds; false if one is still running then.
 */
static bool
WaitForLedgerWriters(Oid ledger, int64 wait_ms, int *still_open)
{
	LOCKTAG		tag;
	VirtualTransactionId *writers;
	TimestampTz deadline;
	int			open = 0;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, ledger);
	writers = GetLockConflicts(&tag, ShareLock, NULL);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	while (VirtualTransactionIdIsValid(*writers))
	{
		if (IsVacuum(*writers) || VirtualXactLock(*writers, false))
		{
			writers++;
			continue;
		}
		if (GetCurrentTimestamp() >= deadline)
		{
			for (; VirtualTransactionIdIsValid(*writers); writers++)
				open++;
			*still_open = open;
			return false;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	*still_open = 0;
	return true;
}

/*
 * Wait, as a lock wait (lock_timeout applies, deadlocks are detected),
 * until every transaction that holds a lock on the ledger conflicting with
 * Share at the time of the call (its writers; a VACUUM excepted) has ended.
 * A credit grant waits so for the debits admitted before it (escrow.c).
 */
void
SealWaitForWriters(Oid ledger)
{
	LOCKTAG		tag;
	VirtualTransactionId *writers;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, ledger);
	writers = GetLockConflicts(&tag, ShareLock, NULL);
	for (; VirtualTransactionIdIsValid(*writers); writers++)
		if (!IsVacuum(*writers))
			(void) VirtualXactLock(*writers, true);
}

/* Run one statement of the seal; its own snapshot (READ COMMITTED). */
static void
SealExec(const char *sql, int nargs, Oid *types, Datum *args, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, args, NULL, false, 0);

	if (rc != expect)
		elog(ERROR, "quota: seal statement failed: %s", SPI_result_code_string(rc));
}

/*
 * Seal the ledger up to its last entry (see the top of this file): the new
 * sealed_upto, or -1 when a writer was still open after wait_ms (a NOTICE
 * says so unless quiet).  The caller is connected to SPI, in READ
 * COMMITTED, on a primary.
 */
int64
SealLedger(Oid ledger, int64 wait_ms, bool quiet)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	bool		isnull;
	int64		sealed;
	int64		last;
	int			open;

	/* serialize seals and archiving: the one row, created on first use */
	SealExec("INSERT INTO quota.ledger_seal (sealed_upto) VALUES (0) ON CONFLICT DO NOTHING",
			 0, NULL, NULL, SPI_OK_INSERT);
	SealExec("SELECT s.sealed_upto FROM quota.ledger_seal s FOR UPDATE",
			 0, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "quota: quota.ledger_seal has no row");
	sealed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));

	/* ids are handed out in order only without a sequence cache */
	SealExec("SELECT s.seqcache FROM pg_catalog.pg_sequence s "
			 "WHERE s.seqrelid OPERATOR(pg_catalog.=) 'quota.ledger_entry_id_seq'::pg_catalog.regclass",
			 0, NULL, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1 &&
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sequence \"quota.ledger_entry_id_seq\" has a cache"),
				 errdetail("Seals and balances rely on entry ids being handed out in order, one at a time."),
				 errhint("Run ALTER SEQUENCE quota.ledger_entry_id_seq CACHE 1.")));

	/* first the last id, then the writers that may hold ids up to it */
	SealExec(SEAL_LAST_ENTRY_SQL, 0, NULL, NULL, SPI_OK_SELECT);
	last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	if (last <= sealed)
		return sealed;
	if (!WaitForLedgerWriters(ledger, wait_ms, &open))
	{
		ereport(quiet ? DEBUG1 : NOTICE,
				(errmsg("ledger not sealed: %d transaction%s writing \"quota.ledger\" still open",
						open, open == 1 ? "" : "s"),
				 errdetail("Entries up to %lld cannot be sealed until every transaction that may still write them has ended.",
						   (long long) last),
				 errhint("Look for sessions idle in transaction in pg_stat_activity; the next run tries again.")));
		return -1;
	}

	/* every entry in (sealed, last] is final: add them up */
	args[0] = Int64GetDatum(sealed);
	args[1] = Int64GetDatum(last);
	SealExec("INSERT INTO quota.pool_seals AS p (pool, balance, entries) "
			 "SELECT l.pool, pg_catalog.trim_scale(pg_catalog.sum(l.amount::pg_catalog.numeric)), "
			 "       pg_catalog.count(*) "
			 "  FROM quota.ledger l "
			 " WHERE l.entry_id OPERATOR(pg_catalog.>) $1 AND l.entry_id OPERATOR(pg_catalog.<=) $2 "
			 " GROUP BY l.pool "
			 "ON CONFLICT (pool) DO UPDATE "
			 "   SET balance = pg_catalog.trim_scale(p.balance OPERATOR(pg_catalog.+) excluded.balance), "
			 "       entries = p.entries OPERATOR(pg_catalog.+) excluded.entries",
			 2, types, args, SPI_OK_INSERT);
	/*
	 * The rollups, and in the same statement (one reading of the pools'
	 * zones) the zone each pool's days were counted in: when it changes,
	 * zone_since moves to now, after every charge sealed before (a pool's
	 * first rollups have no earlier days: -infinity).
	 */
	SealExec("WITH z AS MATERIALIZED (SELECT d.pool, d.reset_timezone AS tz FROM quota.pool_defs d), "
			 "r AS (INSERT INTO quota.usage_rollup AS u (pool, day, model, requests, "
			 "       input_tokens, cached_input_tokens, output_tokens, original_cost, final_cost) "
			 "SELECT l.pool, pg_catalog.timezone(z.tz, l.at)::pg_catalog.date, "
			 "       coalesce(l.model, ''), pg_catalog.count(*), "
			 "       coalesce(pg_catalog.sum(l.input_tokens), 0), "
			 "       coalesce(pg_catalog.sum(l.cached_input_tokens), 0), "
			 "       coalesce(pg_catalog.sum(l.output_tokens), 0), "
			 "       coalesce(pg_catalog.sum(l.original_cost::pg_catalog.numeric), 0), "
			 "       coalesce(pg_catalog.sum(l.final_cost::pg_catalog.numeric), 0) "
			 "  FROM quota.ledger l JOIN z ON z.pool OPERATOR(pg_catalog.=) l.pool "
			 " WHERE l.entry_id OPERATOR(pg_catalog.>) $1 AND l.entry_id OPERATOR(pg_catalog.<=) $2 "
			 "   AND l.kind OPERATOR(pg_catalog.=) 'charge' "
			 " GROUP BY 1, 2, 3 "
			 "ON CONFLICT (pool, day, model) DO UPDATE "
			 "   SET requests = u.requests OPERATOR(pg_catalog.+) excluded.requests, "
			 "       input_tokens = u.input_tokens OPERATOR(pg_catalog.+) excluded.input_tokens, "
			 "       cached_input_tokens = u.cached_input_tokens OPERATOR(pg_catalog.+) excluded.cached_input_tokens, "
			 "       output_tokens = u.output_tokens OPERATOR(pg_catalog.+) excluded.output_tokens, "
			 "       original_cost = u.original_cost OPERATOR(pg_catalog.+) excluded.original_cost, "
			 "       final_cost = u.final_cost OPERATOR(pg_catalog.+) excluded.final_cost) "
			 "UPDATE quota.pool_seals p SET zone = z.tz, "
			 "       zone_since = CASE WHEN EXISTS (SELECT FROM quota.usage_rollup o "
			 "                                       WHERE o.pool OPERATOR(pg_catalog.=) p.pool) "
			 "                         THEN pg_catalog.clock_timestamp() "
			 "                         ELSE '-infinity'::pg_catalog.timestamptz END "
			 "  FROM z WHERE z.pool OPERATOR(pg_catalog.=) p.pool AND p.zone IS DISTINCT FROM z.tz",
			 2, types, args, SPI_OK_UPDATE);
	SealExec("UPDATE quota.ledger_seal SET sealed_upto = $2, sealed_at = pg_catalog.now() "
			 "WHERE $1 IS NOT NULL",
			 2, types, args, SPI_OK_UPDATE);
	return last;
}

/* Refuse what a seal cannot do: a standby, or a snapshot older than now. */
void
SealCheckContext(const char *function)
{
	QuotaRefuseOnStandby(function);
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("\"%s\" must run in a READ COMMITTED transaction", function),
				 errdetail("It reads entries committed while it runs, which a REPEATABLE READ or SERIALIZABLE snapshot does not see."),
				 errhint("Run it in its own transaction at the default isolation level, as pg_cron does.")));
}

/*
 * quota.quota_seal(wait interval): seal the ledger up to its last entry;
 * returns the sealed entry id, or NULL (with a NOTICE) when a writer stayed
 * open longer than wait.  quota._seal(wait, quiet) is the same for
 * quota_run_due(), which says nothing of a postponed seal.
 */
Datum
quota_seal(PG_FUNCTION_ARGS)
{
	Interval   *wait = PG_ARGISNULL(0) ? NULL : PG_GETARG_INTERVAL_P(0);
	bool		quiet = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	int64		wait_ms;
	int64		sealed;

	SealCheckContext("quota_seal");
	if (wait == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"wait\" must not be null"),
				 errhint("Pass how long to wait for open transactions, for example '1 second'.")));
	wait_ms = (wait->time + (wait->day + (int64) wait->month * 30) * USECS_PER_DAY) / 1000;
	if (wait_ms < 0 || wait_ms > 3600 * 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait \"%s\" is out of range",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(wait)))),
				 errdetail("The wait lies between 0 and 1 hour."),
				 errhint("Use for example '1 second'.")));
	SPI_connect();
	sealed = SealLedger(QuotaLedgerRelid(false), wait_ms, quiet);
	SPI_finish();
	if (sealed < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(sealed);
}

/*
 * quota._pool_window_charges(pool, window_start, window_end): the charges of
 * a pool dated in the window (caps, quota.member_usage), read with the
 * statement's snapshot.
 */
Datum
quota_pool_window_charges(PG_FUNCTION_ARGS)
{
	char	   *pool = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_NUMERIC(SealWindowCharges(pool, PG_GETARG_TIMESTAMPTZ(1),
										PG_GETARG_TIMESTAMPTZ(2), PG_INT64_MAX,
										GetActiveSnapshot()));
}
