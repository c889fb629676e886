/*
 * spi.h
 *		Statements prepared once per backend, the OID of quota.credits and
 *		advisory locks on text keys (spi.c).
 */
#ifndef QUOTA_SPI_H
#define QUOTA_SPI_H

#include "executor/spi.h"

/* Placeholder for the OID of quota.credits in QuotaQuery.types. */
#define CREDITSARG	((Oid) 1)

/* A statement prepared once per backend and kept. */
typedef struct QuotaQuery
{
	const char *sql;
	int			nargs;
	Oid			types[24];		/* CREDITSARG for quota.credits */
	SPIPlanPtr	plan;
	Oid			credits_type;	/* what CREDITSARG meant when prepared */
} QuotaQuery;

/* Advisory lock spaces of text keys (field4 of the lock tag). */
#define QUOTA_LOCK_REQUEST	0x5156
#define QUOTA_LOCK_MEMBER	0x5157

extern int	QuotaExec(QuotaQuery *query, Datum *values, const char *nulls,
					  long count);
extern int	QuotaExecSnapshot(QuotaQuery *query, Datum *values,
							  const char *nulls, Snapshot snapshot, long count);
extern char *QuotaGetText(int row, int col);
extern char *QuotaUpperStrdup(const char *s);
extern Oid	QuotaCreditsType(void);
extern Datum QuotaGetDatum(int row, int col, bool *isnull);
extern void QuotaLockKey(const char *key, uint16 space);

#endif							/* QUOTA_SPI_H */
