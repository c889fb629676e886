/*
 * direct.c
 *		Planner-free access to quota's own tables on the hot paths.
 *
 * An SPI statement costs an executor start-up and shut-down, often more
 * than the work itself (one index look-up, one row).  Here a look-up is an
 * index probe, a row lock follows the row's update chain to its last
 * version (as SELECT ... FOR UPDATE does in READ COMMITTED), and a write is
 * what the executor does for one row (ExecSimpleRelationInsert/Update: row
 * triggers, CHECK and NOT NULL constraints, every index, unique checks).
 * Not done here: statement-level triggers.  Callers set quota's own
 * columns (defaults included); columns a DBA added get their defaults on
 * insert and keep their values on update.
 * Row-level security is not applied: like the SPI statements they replace,
 * these run as the extension's owner, whom the policies do not restrict.
 *
 * The writes use the executor's single-row entry points (those of logical
 * replication's apply worker), whose arguments changed in 16 and 18
 * (compat.h).  The public alternative, SPI with a kept plan, was measured
 * for release 0.3 on 15 and 18: about 1 us more per row written (7.8-9.2
 * against 8.3-10.4 us in interleaved rounds of 200,000 ledger-like rows),
 * never less, so the charge path keeps these.
 */
#include "postgres.h"

#include "compat.h"

#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "storage/lmgr.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "direct.h"
#include "guard.h"

/* The relations, by their names in schema quota (order of QuotaRelation). */
static const char *const quota_rel_names[QR_COUNT] = {
	"ledger", "ledger_request_id", "reservations", "reservations_pkey",
	"users", "users_pkey", "user_state", "user_state_pkey",
	"pool_members", "pool_members_user", "pool_defs", "pool_defs_owner",
	"pool_defs_pkey"
};

/* Their OIDs, kept until a relcache invalidation touches one of them. */
static Oid	rel_oids[QR_COUNT];
static bool rel_oids_valid = false;
static uint64 catalog_version = 0;

/* Relcache callback: forget the OIDs if one of the relations may have changed. */
static void
DirectInvalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < QR_COUNT; i++)
		if (!OidIsValid(relid) || relid == rel_oids[i])
			rel_oids_valid = false;
}

/* Register the invalidation callback (from _PG_init). */
void
DirectInit(void)
{
	CacheRegisterRelcacheCallback(DirectInvalidate, (Datum) 0);
}

/* Look the OIDs up again if they may have changed. */
static void
DirectLoadCatalog(void)
{
	Oid			nsp;

	AcceptInvalidationMessages();
	if (rel_oids_valid)
		return;
	nsp = get_namespace_oid("quota", false);
	for (int i = 0; i < QR_COUNT; i++)
	{
		rel_oids[i] = get_relname_relid(quota_rel_names[i], nsp);
		if (!OidIsValid(rel_oids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"quota.%s\" is missing", quota_rel_names[i]),
					 errhint("Re-create the extension quota.")));
	}
	catalog_version++;
	rel_oids_valid = true;
}

/* The OID of one of the relations. */
Oid
QuotaRel(QuotaRelation r)
{
	DirectLoadCatalog();
	return rel_oids[r];
}

/* A number that changes whenever the relations may have changed. */
uint64
QuotaCatalogVersion(void)
{
	DirectLoadCatalog();
	return catalog_version;
}

/* The number of a live column by name, or InvalidAttrNumber. */
AttrNumber
QuotaColumn(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/*
 * Begin a scan of the rows with a text key through an index whose first
 * column is that key; fetch them with index_getnext_slot and end with
 * ProbeEnd.  The heap is open (caller's lock); the index is opened here.
 */
static IndexScanDesc
ProbeBegin(Relation heap, QuotaRelation index, const char *key,
		   Snapshot snapshot)
{
	Relation	irel = index_open(QuotaRel(index), AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData skey;

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   irel->rd_indcollation[0], F_TEXTEQ,
						   CStringGetTextDatum(key));
	scan = index_beginscan(heap, irel, snapshot, NULL, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	return scan;
}

/* End a scan begun by ProbeBegin (and close its index). */
static void
ProbeEnd(IndexScanDesc scan)
{
	Relation	irel = scan->indexRelation;

	index_endscan(scan);
	index_close(irel, AccessShareLock);
}

/* Fetch the first row with a text key through an index; false if none. */
static bool
ProbeFirst(Relation heap, QuotaRelation index, const char *key,
		   Snapshot snapshot, TupleTableSlot *slot)
{
	IndexScanDesc scan = ProbeBegin(heap, index, key, snapshot);
	bool		found = index_getnext_slot(scan, ForwardScanDirection, slot);

	ProbeEnd(scan);
	return found;
}

/*
 * Visit the rows of a table with a text key through an index, calling
 * visit for each (until it returns false); returns the number visited.
 */
int
QuotaForEachRow(QuotaRelation table, QuotaRelation index, const char *key,
				Snapshot snapshot, QuotaRowVisitor visit, void *arg)
{
	Relation	rel = table_open(QuotaRel(table), AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan = ProbeBegin(rel, index, key, snapshot);
	int			n = 0;

	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		n++;
		if (!visit(rel, slot, arg))
			break;
	}
	ProbeEnd(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	return n;
}

/* A text column of a row as a C string (palloc'd), or NULL. */
char *
QuotaSlotText(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * Lock the row with a text key (unique index) FOR UPDATE, waiting for other
 * writers, and fetch its last version into slot; false if there is none.
 * READ COMMITTED only (the caller uses SQL in other isolation levels):
 * snapshot is a fresh one (GetLatestSnapshot).
 */
bool
QuotaLockLatest(Relation heap, QuotaRelation index, const char *key,
				Snapshot snapshot, TupleTableSlot *slot)
{
	TM_FailureData tmfd;
	TM_Result	res;

	Assert(!IsolationUsesXactSnapshot());
	if (!ProbeFirst(heap, index, key, snapshot, slot))
		return false;
	res = table_tuple_lock(heap, &slot->tts_tid, snapshot, slot,
						   GetCurrentCommandId(false), LockTupleExclusive,
						   LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
						   &tmfd);
	if (res == TM_Deleted)
		return false;
	if (res != TM_Ok)
		elog(ERROR, "quota: could not lock row of \"%s\" (%d)",
			 RelationGetRelationName(heap), (int) res);
	return true;
}

/* A table's CHECK constraints, planned once per catalog version. */
typedef struct PlannedChecks
{
	Oid			relid;
	uint64		version;
	int			n;
	Expr	  **exprs;
	MemoryContext cxt;
} PlannedChecks;

static PlannedChecks planned_checks[QR_COUNT];

/*
 * Give the result relation its CHECK constraints' expression states, built
 * from expressions planned once (ExecRelCheck would parse and plan each
 * constraint for every row written: a fresh ResultRelInfo per row).
 */
static void
DirectPrepareChecks(DirectWrite *w, QuotaRelation table)
{
	TupleConstr *constr = RelationGetDescr(w->rel)->constr;
	PlannedChecks *pc = &planned_checks[table];
	MemoryContext old;

	if (constr == NULL || constr->num_check == 0)
		return;
	if (pc->version != QuotaCatalogVersion() || pc->relid != RelationGetRelid(w->rel) ||
		pc->n != constr->num_check)
	{
		if (pc->cxt == NULL)
			pc->cxt = AllocSetContextCreate(TopMemoryContext, "quota planned checks",
											ALLOCSET_SMALL_SIZES);
		MemoryContextReset(pc->cxt);
		pc->version = 0;
		old = MemoryContextSwitchTo(pc->cxt);
		pc->exprs = palloc(constr->num_check * sizeof(Expr *));
		for (int i = 0; i < constr->num_check; i++)
			pc->exprs[i] = ConstrCheckEnforced(&constr->check[i]) ?
				expression_planner((Expr *) stringToNode(constr->check[i].ccbin)) : NULL;
		MemoryContextSwitchTo(old);
		pc->relid = RelationGetRelid(w->rel);
		pc->n = constr->num_check;
		pc->version = QuotaCatalogVersion();
	}
	old = MemoryContextSwitchTo(w->estate->es_query_cxt);
	w->rri->ri_CheckConstraintExprs = palloc(pc->n * sizeof(ExprState *));
	for (int i = 0; i < pc->n; i++)
		w->rri->ri_CheckConstraintExprs[i] = ExecInitExpr(pc->exprs[i], NULL);
	MemoryContextSwitchTo(old);
}

/* Open a table for writing one row; every column of the new row is NULL. */
void
DirectBegin(DirectWrite *w, QuotaRelation table)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	List	   *perminfos = NIL;
	Oid			relid = QuotaRel(table);
	TupleDesc	desc;

	/* opened through a range table, as the executor does, so row triggers find it */
	LockRelationOid(relid, RowExclusiveLock);
	w->estate = CreateExecutorState();
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = get_rel_relkind(relid);
	rte->rellockmode = RowExclusiveLock;
	addRTEPermissionInfo(&perminfos, rte);
	ExecInitRangeTable(w->estate, list_make1(rte), perminfos, bms_make_singleton(1));
	w->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(w->estate, w->rri, 1);
	w->rel = w->rri->ri_RelationDesc;
	w->estate->es_output_cid = GetCurrentCommandId(true);
	if (ActiveSnapshotSet())
		w->estate->es_snapshot = GetActiveSnapshot();
	if (table == QR_LEDGER || table == QR_RESERVATIONS)
		GuardCheckWriters(w->rel, table);
	ExecOpenIndices(w->rri, false);
	DirectPrepareChecks(w, table);
	desc = RelationGetDescr(w->rel);
	w->slot = ExecInitExtraTupleSlot(w->estate, desc, &TTSOpsVirtual);
	ExecClearTuple(w->slot);
	memset(w->slot->tts_isnull, true, desc->natts * sizeof(bool));
}

/* The number of a live column by name; raises if it is missing. */
AttrNumber
QuotaColumnRequired(Relation rel, const char *name)
{
	AttrNumber	attnum = QuotaColumn(rel, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"quota.%s\" is missing",
						name, RelationGetRelationName(rel)),
				 errhint("Re-create the extension quota.")));
	return attnum;
}

/*
 * The numbers of n live columns by name into attnums[] (raises if one is
 * missing); callers keep them per QuotaCatalogVersion().
 */
void
QuotaColumnsRequired(Relation rel, const char *const *names, int n,
					 AttrNumber *attnums)
{
	for (int i = 0; i < n; i++)
		attnums[i] = QuotaColumnRequired(rel, names[i]);
}

/*
 * The number of a live column by name that must have the given type (no
 * typmod): raises 42703 if it is missing, 42804 if a DBA changed its type
 * (quota reads and writes it as that type's Datums).
 */
AttrNumber
QuotaColumnTyped(Relation rel, const char *name, Oid type)
{
	AttrNumber	attnum = QuotaColumnRequired(rel, name);
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);

	if (att->atttypid != type || att->atttypmod != -1)
	{
		/* the credits type is not built in: name its schema */
		char	   *expected = type >= FirstNormalObjectId ?
			format_type_be_qualified(type) : format_type_be(type);

		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"quota.%s\" has type %s",
						name, RelationGetRelationName(rel),
						format_type_with_typemod(att->atttypid, att->atttypmod)),
				 errdetail("quota reads and writes it as %s.", expected),
				 errhint("Restore it with ALTER TABLE quota.%s ALTER COLUMN %s TYPE %s.",
						 RelationGetRelationName(rel), quote_identifier(name),
						 expected)));
	}
	return attnum;
}

/*
 * The numbers of n live columns by name and type into attnums[] (raises if
 * one is missing or retyped); callers keep them per QuotaCatalogVersion().
 */
void
QuotaColumnsTyped(Relation rel, const char *const *names, const Oid *types,
				  int n, AttrNumber *attnums)
{
	for (int i = 0; i < n; i++)
		attnums[i] = QuotaColumnTyped(rel, names[i], types[i]);
}

/* Set a column of the new row by number. */
void
DirectSetAttr(DirectWrite *w, AttrNumber attnum, Datum value)
{
	w->slot->tts_values[attnum - 1] = value;
	w->slot->tts_isnull[attnum - 1] = false;
}

/* Release what DirectBegin set up; later commands see the change. */
static void
DirectEnd(DirectWrite *w)
{
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	ExecCloseResultRelations(w->estate);	/* indexes, triggers' relations */
	ExecCloseRangeTableRelations(w->estate);
	FreeExecutorState(w->estate);
	CommandCounterIncrement();
}

/*
 * Fill columns left NULL that have a default (columns a DBA added to one
 * of quota's tables); quota's own defaults are set by the callers.
 */
static void
DirectDefaults(DirectWrite *w)
{
	TupleConstr *constr = RelationGetDescr(w->rel)->constr;

	if (constr == NULL)
		return;
	for (int i = 0; i < constr->num_defval; i++)
	{
		AttrNumber	attnum = constr->defval[i].adnum;
		Node	   *expr;

		if (!w->slot->tts_isnull[attnum - 1])
			continue;
		expr = build_column_default(w->rel, attnum);
		if (expr != NULL)
		{
			ExprState  *state = ExecPrepareExpr((Expr *) expr, w->estate);
			ExprContext *econtext = GetPerTupleExprContext(w->estate);

			w->slot->tts_values[attnum - 1] =
				ExecEvalExprSwitchContext(state, econtext,
										  &w->slot->tts_isnull[attnum - 1]);
		}
	}
}

/*
 * Raise unless the row was written: the table AM sets the slot's tid, which
 * a BEFORE row trigger returning NULL leaves unset (such triggers are
 * refused by GuardCheckWriters; this is the second line of defence).
 */
static void
DirectWritten(DirectWrite *w)
{
	if (!ItemPointerIsValid(&w->slot->tts_tid))
		GuardNotWritten(RelationGetRelationName(w->rel));
}

/* Insert the new row (see the top of the file for what is checked). */
void
DirectInsert(DirectWrite *w)
{
	DirectDefaults(w);
	ExecStoreVirtualTuple(w->slot);
	AfterTriggerBeginQuery();
	ExecSimpleRelationInsert(w->rri, w->estate, w->slot);
	DirectWritten(w);
	AfterTriggerEndQuery(w->estate);
	DirectEnd(w);
}

/*
 * Update the row at tid, which this transaction has locked: columns set by
 * DirectSetAttr take their new values, the others keep theirs.
 */
void
DirectUpdate(DirectWrite *w, ItemPointer tid)
{
	TupleTableSlot *old = table_slot_create(w->rel, &w->estate->es_tupleTable);
	TupleDesc	desc = RelationGetDescr(w->rel);
	EPQState	epq;

	if (!table_tuple_fetch_row_version(w->rel, tid, SnapshotAny, old))
		elog(ERROR, "quota: locked row of \"%s\" vanished", RelationGetRelationName(w->rel));
	slot_getallattrs(old);
	for (int i = 0; i < desc->natts; i++)
		if (w->slot->tts_isnull[i])
		{
			w->slot->tts_values[i] = old->tts_values[i];
			w->slot->tts_isnull[i] = old->tts_isnull[i];
		}
	ExecStoreVirtualTuple(w->slot);
	EvalPlanQualInit(&epq, w->estate, NULL, NIL, -1, NIL);
	AfterTriggerBeginQuery();
	ExecSimpleRelationUpdate(w->rri, w->estate, &epq, old, w->slot);
	DirectWritten(w);
	AfterTriggerEndQuery(w->estate);
	EvalPlanQualEnd(&epq);
	DirectEnd(w);
}
