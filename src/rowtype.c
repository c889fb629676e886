/*
 * rowtype.c
 *		The row types quota's functions return, built once per backend.
 *
 * get_call_result_type() builds a function's OUT-parameter row type from
 * pg_proc and BlessTupleDesc() registers it, on every call: for a charge,
 * a visible share of its time.  The blessed descriptors are kept here per
 * function OID and dropped when pg_proc changes (ALTER EXTENSION UPDATE
 * may change a function's columns).
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "rowtype.h"

#define ROWTYPE_SLOTS	16

/* A function's blessed row type. */
typedef struct RowTypeEntry
{
	Oid			function;
	TupleDesc	desc;
} RowTypeEntry;

static MemoryContext RowTypeContext = NULL;
static RowTypeEntry row_types[ROWTYPE_SLOTS];
static int	n_row_types = 0;
static bool row_types_stale = false;

/* Syscache callback: a function changed; rebuild before the next use. */
static void
RowTypeInvalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	row_types_stale = true;
}

/*
 * The blessed row type the called function returns (raises if it does not
 * return a row); valid until the next QuotaResultDesc().  Only anonymous
 * row types (OUT parameters) are kept: a named composite type can change
 * without pg_proc changing.
 */
TupleDesc
QuotaResultDesc(FunctionCallInfo fcinfo)
{
	Oid			function = fcinfo->flinfo->fn_oid;
	TupleDesc	desc;
	MemoryContext old;

	if (RowTypeContext == NULL)
	{
		RowTypeContext = AllocSetContextCreate(TopMemoryContext,
											   "quota result row types",
											   ALLOCSET_SMALL_SIZES);
		CacheRegisterSyscacheCallback(PROCOID, RowTypeInvalidate, (Datum) 0);
	}
	if (row_types_stale || n_row_types == ROWTYPE_SLOTS)
	{
		MemoryContextReset(RowTypeContext);
		n_row_types = 0;
		row_types_stale = false;
	}
	for (int i = 0; i < n_row_types; i++)
		if (row_types[i].function == function)
			return row_types[i].desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function %u must return a row type", function);
	if (desc->tdtypeid != RECORDOID)
		return desc;
	old = MemoryContextSwitchTo(RowTypeContext);
	desc = BlessTupleDesc(CreateTupleDescCopy(desc));
	MemoryContextSwitchTo(old);
	row_types[n_row_types].function = function;
	row_types[n_row_types].desc = desc;
	n_row_types++;
	return desc;
}
