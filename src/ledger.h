/*
 * ledger.h
 *		Direct (executor-free) access to quota.ledger and quota.reservations
 *		on the charge path (ledger.c).
 */
#ifndef QUOTA_LEDGER_H
#define QUOTA_LEDGER_H

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

extern bool LedgerFindCharge(const char *request_id, Snapshot snapshot,
							 LedgerCharge *charge);
extern bool LedgerReservationExists(const char *request_id, Snapshot snapshot);
extern int64 LedgerInsertCharge(LedgerCharge *charge);
extern void LedgerInit(void);

#endif							/* QUOTA_LEDGER_H */
