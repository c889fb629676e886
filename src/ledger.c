/*
 * ledger.c
 *		Direct access to quota.ledger and quota.reservations on the charge
 *		path: an index probe by request_id and a charge row insert, without
 *		SPI or the planner.
 *
 * A charge used to run two SPI statements for this (the request's past and
 * an INSERT ... ON CONFLICT); their executor start-up cost more than the
 * work.  Here the probe is one unique-index look-up and the insert is what
 * the executor itself does for a row (ExecSimpleRelationInsert: BEFORE and
 * AFTER ROW triggers, CHECK and NOT NULL constraints, every index, unique
 * checks).  What it leaves out: statement-level triggers, and defaults of
 * columns a DBA may add to the ledger (they are NULL).
 *
 * Duplicates: the caller holds the request's advisory lock and probes first,
 * so a second charge of one request_id is found, never inserted; if another
 * writer bypassed the lock, the unique index raises 23505.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "ledger.h"

/* The ledger's columns that a charge fills, in this order. */
typedef enum LedgerColumn
{
	LC_ENTRY_ID, LC_AT, LC_POOL, LC_USER_ID, LC_KIND, LC_AMOUNT, LC_MODEL,
	LC_SERVICE, LC_CONVERSATION_ID, LC_REQUEST_ID, LC_INPUT_TOKENS,
	LC_CACHED_INPUT_TOKENS, LC_OUTPUT_TOKENS, LC_INPUT_PRICE,
	LC_CACHED_INPUT_PRICE, LC_OUTPUT_PRICE, LC_REQUEST_PRICE,
	LC_ORIGINAL_COST, LC_DISCOUNT_RATE, LC_FINAL_COST, LC_BALANCE_AFTER,
	LC_COUNT
} LedgerColumn;

static const char *const ledger_column_names[LC_COUNT] = {
	"entry_id", "at", "pool", "user_id", "kind", "amount", "model",
	"service", "conversation_id", "request_id", "input_tokens",
	"cached_input_tokens", "output_tokens", "input_price",
	"cached_input_price", "output_price", "request_price",
	"original_cost", "discount_rate", "final_cost", "balance_after"
};

/* The relations read or written directly, by their names in schema quota. */
static const char *const quota_rel_names[QR_COUNT] = {
	"ledger", "ledger_request_id", "reservations", "reservations_pkey",
	"users", "users_pkey", "user_state", "user_state_pkey",
	"pool_members", "pool_members_user", "pool_defs", "pool_defs_owner",
	"pool_defs_pkey"
};

/* Catalog facts, kept until a relcache invalidation touches them. */
typedef struct LedgerCatalog
{
	bool		valid;
	Oid			relid[QR_COUNT];
	Oid			entry_id_seq;	/* identity sequence of ledger.entry_id */
	AttrNumber	attnum[LC_COUNT];	/* ledger columns */
} LedgerCatalog;

static LedgerCatalog catalog;

/* Relcache callback: forget the catalog facts if they may have changed. */
static void
LedgerInvalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < QR_COUNT; i++)
		if (!OidIsValid(relid) || relid == catalog.relid[i])
			catalog.valid = false;
}

/* Register the invalidation callback (from _PG_init). */
void
LedgerInit(void)
{
	CacheRegisterRelcacheCallback(LedgerInvalidate, (Datum) 0);
}

/* Look the catalog facts up again (after an invalidation). */
static void
LedgerLoadCatalog(void)
{
	Oid			nsp = get_namespace_oid("quota", false);
	Relation	rel;

	catalog.valid = false;
	for (int i = 0; i < QR_COUNT; i++)
	{
		catalog.relid[i] = get_relname_relid(quota_rel_names[i], nsp);
		if (!OidIsValid(catalog.relid[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"quota.%s\" is missing", quota_rel_names[i]),
					 errhint("Re-create the extension quota.")));
	}

	rel = table_open(catalog.relid[QR_LEDGER], AccessShareLock);
	for (int c = 0; c < LC_COUNT; c++)
	{
		catalog.attnum[c] = QuotaColumn(rel, ledger_column_names[c]);
		if (catalog.attnum[c] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"quota.ledger\" is missing",
							ledger_column_names[c]),
					 errhint("Re-create the extension quota.")));
	}
	catalog.entry_id_seq = getIdentitySequence(catalog.relid[QR_LEDGER],
											   catalog.attnum[LC_ENTRY_ID], false);
	table_close(rel, AccessShareLock);
	/* only now: an invalidation during the look-ups must not be missed */
	catalog.valid = true;
}

/* The catalog facts, looked up again if needed. */
static LedgerCatalog *
LedgerGetCatalog(void)
{
	AcceptInvalidationMessages();
	if (!catalog.valid)
		LedgerLoadCatalog();
	return &catalog;
}

/* The OID of one of the relations read directly. */
Oid
QuotaRel(QuotaRelation r)
{
	return LedgerGetCatalog()->relid[r];
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
 * QuotaProbeEnd.  The heap is open (caller's lock); the index is opened here.
 */
IndexScanDesc
QuotaProbeBegin(Relation heap, Oid index, const char *key, Snapshot snapshot)
{
	Relation	irel = index_open(index, AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData skey;

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   irel->rd_indcollation[0], F_TEXTEQ,
						   CStringGetTextDatum(key));
	scan = index_beginscan(heap, irel, snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	return scan;
}

/* End a scan begun by QuotaProbeBegin (and close its index). */
void
QuotaProbeEnd(IndexScanDesc scan)
{
	Relation	irel = scan->indexRelation;

	index_endscan(scan);
	index_close(irel, AccessShareLock);
}

/* Fetch the first row with a text key through an index; false if none. */
static bool
ProbeRequestId(Relation heap, Oid index, const char *request_id,
			   Snapshot snapshot, TupleTableSlot *slot)
{
	IndexScanDesc scan = QuotaProbeBegin(heap, index, request_id, snapshot);
	bool		found = index_getnext_slot(scan, ForwardScanDirection, slot);

	QuotaProbeEnd(scan);
	return found;
}

/* A text column of the slot as a C string, or NULL. */
static const char *
SlotText(TupleTableSlot *slot, LedgerColumn c)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, catalog.attnum[c], &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A bigint (or credits) column of the slot; 0 with *isnull for NULL. */
static int64
SlotInt(TupleTableSlot *slot, LedgerColumn c, bool *isnull)
{
	Datum		d = slot_getattr(slot, catalog.attnum[c], isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/*
 * The ledger's charge of request_id visible to snapshot, if any, into
 * *charge (strings and the rate palloc'd in the current context).  Token
 * counts that are NULL read as -1, which no argument equals.
 */
bool
LedgerFindCharge(const char *request_id, Snapshot snapshot, LedgerCharge *charge)
{
	LedgerCatalog *cat = LedgerGetCatalog();
	Relation	heap = table_open(cat->relid[QR_LEDGER], AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	bool		found = ProbeRequestId(heap, cat->relid[QR_LEDGER_REQUEST_ID], request_id,
									   snapshot, slot);

	if (found)
	{
		bool		isnull;
		Datum		d;

		slot_getallattrs(slot);
		charge->entry_id = SlotInt(slot, LC_ENTRY_ID, &isnull);
		charge->pool = SlotText(slot, LC_POOL);
		charge->user_id = SlotText(slot, LC_USER_ID);
		charge->model = SlotText(slot, LC_MODEL);
		charge->service = SlotText(slot, LC_SERVICE);
		charge->conversation_id = SlotText(slot, LC_CONVERSATION_ID);
		charge->request_id = SlotText(slot, LC_REQUEST_ID);
		charge->input_tokens = SlotInt(slot, LC_INPUT_TOKENS, &isnull);
		if (isnull)
			charge->input_tokens = -1;
		charge->cached_input_tokens = SlotInt(slot, LC_CACHED_INPUT_TOKENS, &isnull);
		if (isnull)
			charge->cached_input_tokens = -1;
		charge->output_tokens = SlotInt(slot, LC_OUTPUT_TOKENS, &isnull);
		if (isnull)
			charge->output_tokens = -1;
		charge->original_cost = SlotInt(slot, LC_ORIGINAL_COST, &isnull);
		d = slot_getattr(slot, catalog.attnum[LC_DISCOUNT_RATE], &isnull);
		charge->discount_rate = isnull ? NumericGetDatum(int64_to_numeric(1))
			: PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
		charge->final_cost = SlotInt(slot, LC_FINAL_COST, &isnull);
		charge->balance_after = SlotInt(slot, LC_BALANCE_AFTER, &isnull);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
	return found;
}

/* Is there a reservation of request_id visible to snapshot? */
bool
LedgerReservationExists(const char *request_id, Snapshot snapshot)
{
	LedgerCatalog *cat = LedgerGetCatalog();
	Relation	heap = table_open(cat->relid[QR_RESERVATIONS], AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	bool		found = ProbeRequestId(heap, cat->relid[QR_RESERVATIONS_PKEY], request_id,
									   snapshot, slot);

	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
	return found;
}

/*
 * Append a charge row (kind 'charge', amount = -final_cost, at = now());
 * returns its entry_id, which is also stored in charge->entry_id.
 */
int64
LedgerInsertCharge(LedgerCharge *charge)
{
	LedgerCatalog *cat = LedgerGetCatalog();
	Relation	rel = table_open(cat->relid[QR_LEDGER], RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot;
	Datum	   *v;
	bool	   *n;

	rte->rtekind = RTE_RELATION;
	rte->relid = cat->relid[QR_LEDGER];
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(rri, false);

	slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	v = slot->tts_values;
	n = slot->tts_isnull;
	memset(n, true, desc->natts * sizeof(bool));
#define SET(c, d) (v[cat->attnum[c] - 1] = (d), n[cat->attnum[c] - 1] = false)
	charge->entry_id = nextval_internal(cat->entry_id_seq, false);
	SET(LC_ENTRY_ID, Int64GetDatum(charge->entry_id));
	SET(LC_AT, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	SET(LC_POOL, CStringGetTextDatum(charge->pool));
	SET(LC_USER_ID, CStringGetTextDatum(charge->user_id));
	SET(LC_KIND, CStringGetTextDatum("charge"));
	SET(LC_AMOUNT, CreditsGetDatum(-charge->final_cost));
	SET(LC_MODEL, CStringGetTextDatum(charge->model));
	SET(LC_SERVICE, CStringGetTextDatum(charge->service));
	if (charge->conversation_id)
		SET(LC_CONVERSATION_ID, CStringGetTextDatum(charge->conversation_id));
	SET(LC_REQUEST_ID, CStringGetTextDatum(charge->request_id));
	SET(LC_INPUT_TOKENS, Int64GetDatum(charge->input_tokens));
	SET(LC_CACHED_INPUT_TOKENS, Int64GetDatum(charge->cached_input_tokens));
	SET(LC_OUTPUT_TOKENS, Int64GetDatum(charge->output_tokens));
	SET(LC_INPUT_PRICE, CreditsGetDatum(charge->input_price));
	SET(LC_CACHED_INPUT_PRICE, CreditsGetDatum(charge->cached_input_price));
	SET(LC_OUTPUT_PRICE, CreditsGetDatum(charge->output_price));
	SET(LC_REQUEST_PRICE, CreditsGetDatum(charge->request_price));
	SET(LC_ORIGINAL_COST, CreditsGetDatum(charge->original_cost));
	SET(LC_DISCOUNT_RATE, charge->discount_rate);
	SET(LC_FINAL_COST, CreditsGetDatum(charge->final_cost));
	SET(LC_BALANCE_AFTER, CreditsGetDatum(charge->balance_after));
#undef SET
	ExecStoreVirtualTuple(slot);

	AfterTriggerBeginQuery();
	ExecSimpleRelationInsert(rri, estate, slot);
	AfterTriggerEndQuery(estate);

	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	/* later statements of this transaction (and probes) see the row */
	CommandCounterIncrement();
	return charge->entry_id;
}
