/*
 * archive.c
 *		Archiving old ledger entries with every balance unchanged.
 *
 * quota_archive(before) seals the ledger (seal.c), then, in one
 * transaction, moves each pool's sealed entries dated before its cutoff to
 * quota.ledger_archive and inserts in their place one carry-forward entry
 * ('adjust') with the sum of the moved amounts, the largest moved entry_id
 * and the latest moved date.  Each pool's cutoff is the earliest of the
 * given time, the start of its current period (member limits sum the
 * period) and 32 days ago (cap windows reach back a month), so nothing any
 * check sums is moved.  Because the carry-forward entry replaces sealed
 * entries with one of the same total and an id at or below sealed_upto:
 *
 *	 - the sum of the pool's ledger is the same (balance = sum of ledger),
 *	 - quota.pool_seals and the unsealed tail are the same, so the escrow,
 *	   locked mode and standbys need not know,
 *	 - usage_rollup keeps the archived charges' usage (usage_daily).
 *
 * The only writes to quota.ledger besides inserts are these deletes: the
 * append-only trigger (quota_append_only) lets a DELETE through while
 * ArchiveMoving is set by this function, and refuses everything else.
 * Archived charges lose their request_id's protection against a repeat,
 * which is why nothing of the last 32 days is archived.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "archive.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "credits.h"
#include "escrow.h"
#include "guard.h"
#include "pools.h"
#include "relation.h"
#include "seal.h"

PG_FUNCTION_INFO_V1(quota_archive);
PG_FUNCTION_INFO_V1(quota_append_only);

/* Set while quota_archive() moves entries: the only deletes allowed. */
static bool ArchiveMoving = false;

#define ARCHIVE_MOVE_SQL_AS(grants) \
	"WITH cut AS (" \
	"  SELECT d.pool, LEAST($1, d.period_start, " \
	"         pg_catalog.now() OPERATOR(pg_catalog.-) '32 days'::pg_catalog.interval) AS cutoff " \
	"    FROM quota.pool_defs d), " \
	"moved AS (" \
	"  DELETE FROM quota.ledger l USING cut c " \
	"   WHERE l.pool OPERATOR(pg_catalog.=) c.pool AND l.at OPERATOR(pg_catalog.<) c.cutoff " \
	"     AND l.entry_id OPERATOR(pg_catalog.<=) $2 " grants \
	"  RETURNING l.*), " \
	"kept AS (" \
	"  INSERT INTO quota.ledger_archive SELECT * FROM moved " \
	"  RETURNING pool, entry_id, at, amount) " \
	"SELECT k.pool, pg_catalog.count(*), " \
	"       pg_catalog.sum(k.amount::pg_catalog.numeric)::quota.credits, " \
	"       pg_catalog.max(k.entry_id), pg_catalog.max(k.at) " \
	"  FROM kept k GROUP BY k.pool ORDER BY k.pool"

/*
 * 0.3: while a pool has a live credit grant, its entries since its first
 * grant stay in the ledger, where what each grant has left is replayed from
 * (grants.c); an older install has no grants.
 */
#define ARCHIVE_MOVE_SQL ARCHIVE_MOVE_SQL_AS( \
	"     AND l.entry_id OPERATOR(pg_catalog.<) COALESCE(" \
	"       (SELECT pg_catalog.min(g.entry_id) FROM quota.credit_grants g " \
	"         WHERE g.pool OPERATOR(pg_catalog.=) l.pool " \
	"           AND EXISTS (SELECT FROM quota.credit_grants h " \
	"                        WHERE h.pool OPERATOR(pg_catalog.=) l.pool " \
	"                          AND h.end_kind IS NULL)), " \
	"       $2 OPERATOR(pg_catalog.+) 1) ")
#define ARCHIVE_MOVE_SQL_02 ARCHIVE_MOVE_SQL_AS("")

#define ARCHIVE_CARRY_SQL \
	"INSERT INTO quota.ledger (entry_id, at, pool, kind, amount, note) " \
	"OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, 'adjust', $4, " \
	"  pg_catalog.format('carried forward: %s entries before %s moved to quota.ledger_archive', $5, $2))"

/* Insert one pool's carry-forward entry, announced to the ledger's guard. */
static void
InsertCarry(Datum *values, char *pool, Credits amount)
{
	Oid			types[5] = {INT8OID, TIMESTAMPTZOID, TEXTOID, InvalidOid, INT8OID};
	Datum		args[5];
	int			rc;

	types[3] = QuotaCreditsType();
	args[0] = values[3];
	args[1] = values[4];
	args[2] = CStringGetTextDatum(pool);
	args[3] = values[2];
	args[4] = values[1];
	GuardExpect(pool, "adjust", amount);
	PG_TRY();
	{
		rc = SPI_execute_with_args(ARCHIVE_CARRY_SQL, 5, types, args, NULL, false, 0);
		if (rc != SPI_OK_INSERT || SPI_processed != 1)
			GuardNotWritten("ledger");
	}
	PG_FINALLY();
	{
		GuardExpectDone();
	}
	PG_END_TRY();
}

/*
 * quota.quota_archive(before timestamptz): move sealed entries dated
 * before each pool's cutoff to quota.ledger_archive; one row per pool:
 * entries moved and the amount carried forward.
 */
Datum
quota_archive(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[2] = {TIMESTAMPTZOID, INT8OID};
	Datum		args[2];
	int64		sealed;
	bool		isnull;
	SPITupleTable *moved;
	uint64		npools;

	SealCheckContext("quota_archive");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"before\" must not be null"),
				 errhint("Pass the time before which entries are archived, for example now() - interval '12 months'.")));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	(void) SealLedger(QuotaLedgerRelid(false), 1000, false);
	/* SealLedger holds the seal's row lock: no seal runs until we commit */
	if (SPI_execute("SELECT s.sealed_upto FROM quota.ledger_seal s", false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "quota: quota.ledger_seal has no row");
	sealed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));

	args[0] = PG_GETARG_DATUM(0);
	args[1] = Int64GetDatum(sealed);
	ArchiveMoving = true;
	PG_TRY();
	{
		if (SPI_execute_with_args(get_attnum(QuotaRel(QR_POOL_DEFS), "next_expiry_at") != InvalidAttrNumber ?
								  ARCHIVE_MOVE_SQL : ARCHIVE_MOVE_SQL_02,
								  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "quota: could not archive the ledger");
	}
	PG_FINALLY();
	{
		ArchiveMoving = false;
	}
	PG_END_TRY();
	moved = SPI_tuptable;
	npools = SPI_processed;

	for (uint64 i = 0; i < npools; i++)
	{
		Datum		values[5];
		bool		nulls[5];
		Datum		out[3];
		bool		outnulls[3] = {false, false, false};
		char	   *pool;

		heap_deform_tuple(moved->vals[i], moved->tupdesc, values, nulls);
		pool = TextDatumGetCString(values[0]);
		InsertCarry(values, pool, DatumGetCredits(values[2]));
		out[0] = values[0];
		out[1] = values[1];
		out[2] = values[2];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * Trigger quota._append_only(): refuse UPDATE, DELETE and TRUNCATE of the
 * ledger, but the deletes of quota_archive().
 */
Datum
quota_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("quota._append_only() must run as a trigger")));
	if (ArchiveMoving && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) &&
		TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);
	op = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "delete" :
		TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "update" :
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) ? "truncate" : "insert";
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: %s of \"%s\" is not allowed", op,
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("The ledger is append-only: balances change only through quota's functions."),
			 errhint("Use quota_adjust() to correct a balance.")));
	PG_RETURN_NULL();
}
