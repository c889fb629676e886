/*
 * direct.c
 *		Planner-free writes to quota's own tables on the hot paths (the
 *		look-ups and row locks are in relation.c).
 *
 * An SPI statement costs an executor start-up and shut-down, often more
 * than the work itself (one index look-up, one row).  Here a write is
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
