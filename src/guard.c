/*
 * guard.c
 *		What may write quota.ledger and quota.reservations.
 *
 * quota writes a ledger row after the escrow (escrow.c) admitted its amount,
 * and a reservation row with its hold, so the figures stay exact only if
 * the row written is the row computed, and if no row enters the ledger
 * behind the escrow's back.  Hence three rules:
 *
 *	 1. A row trigger that may change or skip a row quota writes (a BEFORE
 *		INSERT or UPDATE row trigger that is not quota's own, enabled) or a
 *		rule on either table makes quota refuse to write it (55000), before
 *		the row exists; so does a missing or not always enabled guard (2).
 *		The check is cached per catalog version (direct.c).
 *		A write that nonetheless did not happen raises too (GuardNotWritten).
 *	 2. The trigger ledger_insert_guard (BEFORE INSERT, ENABLE ALWAYS, so
 *		session_replication_role does not silence it) lets a row into the
 *		ledger when quota's own code announced exactly that row (pool, kind,
 *		amount) with GuardExpect just before writing it.  The announcement
 *		lets one row in and is withdrawn after the write (also on error): a
 *		DBA's code that runs meanwhile (a column default, a constraint) can
 *		at most take the place of quota's row, which is then refused, so the
 *		statement fails and nothing is written.
 *	 3. Any other row is refused (42501), for every role, superusers
 *		included, except the load of a restore: with row_security off (as
 *		pg_dump's scripts and pg_restore run) into a ledger that held no row
 *		when the transaction loaded its first one.  Loaded rows are booked
 *		into the escrow like quota's own (credits at commit, debits at once),
 *		so balance = sum of the ledger holds in a running server too.
 *
 * A superuser can still switch the guard off (ALTER TABLE ... DISABLE
 * TRIGGER, ENABLE TRIGGER without ALWAYS, or DROP); quota then refuses to
 * write the ledger until it is enabled always again, and rows written
 * meanwhile are not in the balances until the next restart.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "escrow.h"
#include "guard.h"
#include "pools.h"
#include "seal.h"

PG_FUNCTION_INFO_V1(quota_ledger_guard);

/* quota's own trigger functions, per catalog version (InvalidOid if absent). */
static Oid	append_only_fn = InvalidOid;
static Oid	ledger_guard_fn = InvalidOid;
static uint64 own_version = 0;

/* The catalog version at which each table's writers were last found sound. */
static uint64 writers_checked[QR_COUNT];

/* The row quota's own code is about to insert into the ledger. */
static struct
{
	bool		armed;
	const char *pool;
	const char *kind;
	Credits		amount;
} expected;

/* The local transaction that is loading rows into an empty ledger. */
static LocalTransactionId load_lxid = InvalidLocalTransactionId;

/* The ledger's columns the guard reads, per catalog version. */
static AttrNumber guard_pool_att;
static AttrNumber guard_kind_att;
static AttrNumber guard_amount_att;
static uint64 guard_version = 0;

/* The OID of quota.<name>() (no arguments), or InvalidOid. */
static Oid
OwnFunction(const char *name)
{
	Oid			nsp = get_namespace_oid("quota", false);

	return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
						   CStringGetDatum(name),
						   PointerGetDatum(buildoidvector(NULL, 0)),
						   ObjectIdGetDatum(nsp));
}

/* Look quota's own trigger functions up again if the catalog may have changed. */
static void
OwnFunctions(void)
{
	if (own_version == QuotaCatalogVersion())
		return;
	append_only_fn = OwnFunction("_append_only");
	ledger_guard_fn = OwnFunction("_ledger_guard");	/* absent in 0.1 */
	own_version = QuotaCatalogVersion();
}

/*
 * Raise 55000 unless quota may write the table (rule 1 at the top): no
 * rule, no foreign enabled BEFORE INSERT or UPDATE row trigger, and on the
 * ledger the insert guard in place.  The caller holds RowExclusiveLock, so
 * no trigger can be added before its write; cached per catalog version.
 */
void
GuardCheckWriters(Relation rel, QuotaRelation table)
{
	TriggerDesc *td = rel->trigdesc;
	const char *name = RelationGetRelationName(rel);
	bool		guarded = false;

	if (writers_checked[table] == QuotaCatalogVersion())
		return;
	OwnFunctions();
	if (rel->rd_rules != NULL && rel->rd_rules->numLocks > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"quota.%s\" has rules", name),
				 errdetail("quota writes the rows of quota.%s itself, and a rule could change or skip them.",
						   name),
				 errhint("Drop the rules on quota.%s (pg_rules lists them).", name)));
	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (t->tgfoid == ledger_guard_fn && OidIsValid(ledger_guard_fn))
		{
			/* fires whatever session_replication_role says */
			guarded |= (table == QR_LEDGER && TRIGGER_FOR_ROW(t->tgtype) &&
						TRIGGER_FOR_BEFORE(t->tgtype) &&
						TRIGGER_FOR_INSERT(t->tgtype) &&
						t->tgenabled == TRIGGER_FIRES_ALWAYS);
			continue;
		}
		if (t->tgenabled == TRIGGER_DISABLED)
			continue;
		if (t->tgfoid == append_only_fn)
			continue;			/* only ever raises */
		if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_BEFORE(t->tgtype) ||
			!(TRIGGER_FOR_INSERT(t->tgtype) || TRIGGER_FOR_UPDATE(t->tgtype)))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("trigger \"%s\" on \"quota.%s\" may change the rows quota writes",
						t->tgname, name),
				 errdetail("A BEFORE row trigger can change or skip a row, but quota's balances count the row it computed."),
				 errhint("Drop the trigger, or make it an AFTER trigger.")));
	}
	if (table == QR_LEDGER && OidIsValid(ledger_guard_fn) && !guarded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("trigger \"ledger_insert_guard\" on \"quota.ledger\" is missing or not enabled always"),
				 errdetail("Without it, rows written into the ledger directly would bypass the balances."),
				 errhint("Enable it with ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_insert_guard.")));
	writers_checked[table] = QuotaCatalogVersion();
}

/* Raise 55000: quota's write of a row of relname did not happen. */
void
GuardNotWritten(const char *relname)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("row of \"quota.%s\" was not written", relname),
			 errdetail("A trigger or rule skipped the row that quota computed."),
			 errhint("Drop the BEFORE row triggers and rules that were added to quota.%s.",
					 relname)));
}

/*
 * Announce the one ledger row quota's own code inserts next (the strings
 * must live until GuardExpectDone, which the caller calls after the write,
 * also when it fails).
 */
void
GuardExpect(const char *pool, const char *kind, Credits amount)
{
	expected.pool = pool;
	expected.kind = kind;
	expected.amount = amount;
	expected.armed = true;
}

/* Withdraw the announcement, used or not. */
void
GuardExpectDone(void)
{
	expected.armed = false;
}

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

	if (expected.armed && pool != NULL && kind != NULL && !isnull &&
		strcmp(pool, expected.pool) == 0 && strcmp(kind, expected.kind) == 0 &&
		DatumGetCredits(d) == expected.amount)
	{
		expected.armed = false;	/* one row per announcement */
		return PointerGetDatum(tuple);
	}
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
