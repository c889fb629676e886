/*
 * guard_trigger.c
 *		The trigger ledger_insert_guard on quota.ledger: rules 2 and 3 of
 *		guard.c (quota's announced row, or a restore's load, booked into the
 *		escrow), as an entry point above the escrow.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "escrow.h"
#include "guard.h"
#include "guard_trigger.h"
#include "relation.h"
#include "seal.h"
#include "spi.h"

PG_FUNCTION_INFO_V1(quota_ledger_guard);

/* The local transaction that is loading rows into an empty ledger. */
static LocalTransactionId load_lxid = InvalidLocalTransactionId;

/* The ledger's columns the guard reads, per catalog version. */
static AttrNumber guard_pool_att;
static AttrNumber guard_kind_att;
static AttrNumber guard_amount_att;
static uint64 guard_version = 0;

/* Look the guard's columns up again if the catalog may have changed. */
static void
GuardColumns(Relation ledger)
{
	if (guard_version == QuotaCatalogVersion())
		return;
	guard_pool_att = QuotaColumnTyped(ledger, "pool", TEXTOID);
	guard_kind_att = QuotaColumnTyped(ledger, "kind", TEXTOID);
	guard_amount_att = QuotaColumnTyped(ledger, "amount", QuotaCreditsType());
	guard_version = QuotaCatalogVersion();
}

/* A text column of the new row as a C string, or NULL. */
static char *
TupleText(HeapTuple tuple, TupleDesc desc, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * May this transaction load rows into the ledger (rule 3)?  Yes when
 * row_security is off and the ledger held no row (committed, or this
 * transaction's) when its first loaded row came.
 */
static bool
LoadAllowed(Relation ledger)
{
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	bool		empty;

	if (row_security)
		return false;
	if (load_lxid == ProcLocalXid(MyProc))
		return true;
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(ledger, snapshot, 0, NULL);
	slot = table_slot_create(ledger, NULL);
	empty = !table_scan_getnextslot(scan, ForwardScanDirection, slot);
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	if (empty)
		load_lxid = ProcLocalXid(MyProc);
	return empty;
}

/* A pool_defs row: its pool_id into the int64 passed as arg. */
static bool
VisitPoolId(Relation rel, TupleTableSlot *slot, void *arg)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, QuotaColumnTyped(rel, "pool_id", INT8OID),
								 &isnull);

	if (!isnull)
		*(int64 *) arg = DatumGetInt64(d);
	return false;
}

/*
 * Book a loaded row's amount into the pool's escrow entry, as quota's own
 * writes are: a credit at commit, a debit at once.  A pool not (yet) in
 * quota.pool_defs has no entry: it is built from the ledger when first used.
 * Without shared memory balances are summed from the ledger: nothing to do.
 */
static void
BookLoad(const char *pool, Credits amount)
{
	Snapshot	snapshot;
	int64		pool_id = 0;
	EscrowPool	ep;
	EscrowState st;

	if (!EscrowIsShared())
		return;
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	(void) QuotaForEachRow(QR_POOL_DEFS, QR_POOL_DEFS_PKEY, pool, snapshot,
						   VisitPoolId, &pool_id);
	UnregisterSnapshot(snapshot);
	if (pool_id == 0)
		return;
	ep.pool_id = pool_id;
	ep.pool = pool;
	SealIgnored = true;
	PG_TRY();
	{
		if (amount >= 0)
			EscrowCredit(&ep, amount);
		else
			(void) EscrowDebit(&ep, -amount, true, &st);
	}
	PG_FINALLY();
	{
		SealIgnored = false;
	}
	PG_END_TRY();
}

/*
 * Trigger quota._ledger_guard(), BEFORE INSERT FOR EACH ROW on quota.ledger:
 * let in the row quota's own code announced, or a restore's load (booked);
 * refuse any other (rules 2 and 3 at the top).
 */
Datum
quota_ledger_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tuple;
	char	   *pool;
	char	   *kind;
	bool		isnull;
	Datum		d;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		RelationGetRelid(trigdata->tg_relation) != QuotaRel(QR_LEDGER))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("quota._ledger_guard() must run as a BEFORE INSERT row trigger on quota.ledger")));
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tuple = trigdata->tg_trigtuple;
	GuardColumns(rel);
	pool = TupleText(tuple, desc, guard_pool_att);
	kind = TupleText(tuple, desc, guard_kind_att);
	d = heap_getattr(tuple, guard_amount_att, desc, &isnull);

	if (!isnull && GuardTakeExpected(pool, kind, DatumGetCredits(d)))
		return PointerGetDatum(tuple);
	if (LoadAllowed(rel))
	{
		if (pool != NULL && !isnull)
			BookLoad(pool, DatumGetCredits(d));
		return PointerGetDatum(tuple);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: insert of \"ledger\" is not allowed"),
			 errdetail("The ledger is append-only and written by quota's functions; only a restore (row_security off) may load rows, and only into an empty ledger."),
			 errhint("Use quota_adjust() to correct a balance.")));
	PG_RETURN_NULL();			/* not reached */
}
