/*
 * ledger.h
 *		Direct (planner-free) access to quota's tables on the charge path:
 *		index probes and the ledger insert (ledger.c).
 */
#ifndef QUOTA_LEDGER_H
#define QUOTA_LEDGER_H

#include "access/genam.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#include "credits.h"

/* A charge row of quota.ledger, as quota_charge writes and reads it. */
typedef struct LedgerCharge
{
	int64		entry_id;
	const char *pool;
	const char *user_id;
	const char *model;
	const char *service;
	const char *conversation_id;	/* NULL if none */
	const char *request_id;
	int64		input_tokens;
	int64		cached_input_tokens;
	int64		output_tokens;
	Credits		input_price;
	Credits		cached_input_price;
	Credits		output_price;
	Credits		request_price;
	Credits		original_cost;
	Datum		discount_rate;	/* numeric */
	Credits		final_cost;
	Credits		balance_after;
} LedgerCharge;

/* quota's relations that are read or written without SPI. */
typedef enum QuotaRelation
{
	QR_LEDGER, QR_LEDGER_REQUEST_ID, QR_RESERVATIONS, QR_RESERVATIONS_PKEY,
	QR_USERS, QR_USERS_PKEY, QR_USER_STATE, QR_USER_STATE_PKEY,
	QR_POOL_MEMBERS, QR_POOL_MEMBERS_USER, QR_POOL_DEFS, QR_POOL_DEFS_OWNER,
	QR_POOL_DEFS_PKEY,
	QR_COUNT
} QuotaRelation;

extern Oid	QuotaRel(QuotaRelation r);
extern AttrNumber QuotaColumn(Relation rel, const char *name);
extern IndexScanDesc QuotaProbeBegin(Relation heap, Oid index, const char *key,
									 Snapshot snapshot);
extern void QuotaProbeEnd(IndexScanDesc scan);
extern bool LedgerFindCharge(const char *request_id, Snapshot snapshot,
							 LedgerCharge *charge);
extern bool LedgerReservationExists(const char *request_id, Snapshot snapshot);
extern int64 LedgerInsertCharge(LedgerCharge *charge);
extern void LedgerInit(void);

#endif							/* QUOTA_LEDGER_H */
