/*
 * ledger.h
 *		Charge rows of quota.ledger and rows of quota.reservations, read
 *		and written without SPI on the hot paths (ledger.c).
 */
#ifndef QUOTA_LEDGER_H
#define QUOTA_LEDGER_H

#include "datatype/timestamp.h"
#include "storage/itemptr.h"
#include "utils/snapshot.h"

#include "credits.h"
#include "direct.h"

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
	int32		price_id;		/* quota.model_prices row of the prices used
								 * (0: none; written, not read back) */
	Credits		input_price;	/* the prices used: written only into 0.1's */
	Credits		cached_input_price;	/* ledger, which has no price_id */
	Credits		output_price;
	Credits		request_price;
	Credits		original_cost;
	Datum		discount_rate;	/* numeric */
	Credits		final_cost;
	Credits		balance_after;
	TimestampTz at;				/* when charged (written, not read back) */
} LedgerCharge;

/* A row of quota.reservations. */
typedef struct Reservation
{
	const char *request_id;
	const char *pool;
	const char *user_id;
	const char *model;
	int64		max_input_tokens;
	int64		max_output_tokens;
	Credits		held;
	TimestampTz expires_at;
	bool		active;			/* not settled, released or expired */
} Reservation;

extern void LedgerCheckWrite(QuotaRelation table);
extern bool LedgerFindCharge(const char *request_id, Snapshot snapshot,
							 LedgerCharge *charge);
extern int64 LedgerInsertCharge(LedgerCharge *charge);
extern bool LedgerFindReservation(const char *request_id, Snapshot snapshot,
								  Reservation *resv);
extern bool LedgerLockReservation(const char *request_id, Snapshot snapshot,
								  Reservation *resv, ItemPointer tid);
extern void LedgerInsertReservation(const Reservation *resv);
extern void LedgerEndReservation(ItemPointer tid, const char *outcome,
								 int64 charge_id);

#endif							/* QUOTA_LEDGER_H */
