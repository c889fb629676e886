/*
 * relation.c
 *		quota's own relations as the hot paths reach them without SPI: their
 *		OIDs (kept until a relcache invalidation touches one), their columns,
 *		index probes, and row locks that follow a row's update chain (as
 *		SELECT ... FOR UPDATE does in READ COMMITTED).  Writes are in
 *		direct.c.
 */
#include "postgres.h"

#include "compat.h"

#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "relation.h"

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
RelationIdsInvalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < QR_COUNT; i++)
		if (!OidIsValid(relid) || relid == rel_oids[i])
			rel_oids_valid = false;
}

/* Register the invalidation callback (from _PG_init). */
void
QuotaRelationInit(void)
{
	CacheRegisterRelcacheCallback(RelationIdsInvalidate, (Datum) 0);
}

/* Look the OIDs up again if they may have changed. */
static void
RelationIdsLoad(void)
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
	RelationIdsLoad();
	return rel_oids[r];
}

/* A number that changes whenever the relations may have changed. */
uint64
QuotaCatalogVersion(void)
{
	RelationIdsLoad();
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
