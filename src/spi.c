/*
 * spi.c
 *		Base helpers of every layer: statements prepared once per backend
 *		and run through SPI, the OID of quota.credits, and transaction
 *		advisory locks on text keys.
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/syscache.h"

#include "spi.h"

/* The OID of quota.credits, through the syscache (changes if the extension is re-created). */
Oid
QuotaCreditsType(void)
{
	Oid			nsp = get_namespace_oid("quota", false);
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum("credits"),
										ObjectIdGetDatum(nsp));

	if (!OidIsValid(typid))
		elog(ERROR, "quota: type quota.credits is missing");
	return typid;
}

/*
 * Execute a kept statement (prepared on first use, and again if the
 * extension was re-created since); returns SPI_processed.
 */
int
QuotaExec(QuotaQuery *query, Datum *values, const char *nulls, long count)
{
	return QuotaExecSnapshot(query, values, nulls, InvalidSnapshot, count);
}

/*
 * QuotaExec reading with the given snapshot (InvalidSnapshot: the usual
 * one), its command id advanced so that it sees this transaction's rows.
 */
int
QuotaExecSnapshot(QuotaQuery *query, Datum *values, const char *nulls,
				  Snapshot snapshot, long count)
{
	Oid			credits = QuotaCreditsType();
	int			rc;

	if (query->plan != NULL && query->credits_type != credits)
	{
		SPI_freeplan(query->plan);
		query->plan = NULL;
	}
	if (query->plan == NULL)
	{
		Oid			types[lengthof(query->types)];
		SPIPlanPtr	plan;

		for (int i = 0; i < query->nargs; i++)
			types[i] = query->types[i] == CREDITSARG ? credits : query->types[i];
		plan = SPI_prepare(query->sql, query->nargs, types);
		if (plan == NULL)
			elog(ERROR, "quota: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "quota: SPI_keepplan failed");
		query->plan = plan;
		query->credits_type = credits;
	}
	if (snapshot == InvalidSnapshot)
		rc = SPI_execute_plan(query->plan, values, nulls, false, count);
	else
		rc = SPI_execute_snapshot(query->plan, values, nulls, snapshot,
								  InvalidSnapshot, false, false, count);
	if (rc < 0)
		elog(ERROR, "quota: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}

/* A column of the last result as a C string (NULL for SQL NULL). */
char *
QuotaGetText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/* Copy a string into the upper (caller's) memory context: it outlives SPI_finish. */
char *
QuotaUpperStrdup(const char *s)
{
	char	   *copy = SPI_palloc(strlen(s) + 1);

	strcpy(copy, s);
	return copy;
}

/* A column of the last result as a Datum. */
Datum
QuotaGetDatum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/* Take a transaction advisory lock on a text key in one of quota's spaces. */
void
QuotaLockKey(const char *key, uint16 space)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) key,
										(int) strlen(key), 0x51554f5441ULL);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, space);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}
