/*
 * seal.h
 *		Sealed balances and usage rollups (see seal.c).
 */
#ifndef QUOTA_SEAL_H
#define QUOTA_SEAL_H

#include "datatype/timestamp.h"
#include "utils/numeric.h"
#include "utils/snapshot.h"

#include "credits.h"

extern bool SealIgnored;

extern Credits SealedBalance(const char *pool, Snapshot snapshot, bool *in_range);
extern Numeric SealWindowCharges(const char *pool, TimestampTz start,
								 TimestampTz end, int64 upto, Snapshot snapshot);
extern int64 SealLedger(Oid ledger, int64 wait_ms, bool quiet);
extern void SealCheckContext(const char *function);
extern void SealWaitForWriters(Oid ledger);

#endif							/* QUOTA_SEAL_H */
