/*
 * ledger.c
 *		Charge rows of quota.ledger and rows of quota.reservations, read and
 *		written directly (direct.c) on the charge and reservation paths.
 *
 * Duplicates: callers hold the request's advisory lock and probe first, so
 * a second charge or reservation of one request_id is found, never
 * inserted; if another writer bypassed the lock, the unique index raises
 * 23505.
 */
#include "postgres.h"

#include "compat.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "direct.h"
#include "guard.h"
#include "ledger.h"
#include "pools.h"

/* The ledger's columns that a charge fills, in this order. */
typedef enum LedgerColumn
{
	LC_ENTRY_ID, LC_AT, LC_POOL, LC_USER_ID, LC_KIND, LC_AMOUNT, LC_MODEL,
	LC_SERVICE, LC_CONVERSATION_ID, LC_REQUEST_ID, LC_INPUT_TOKENS,
	LC_CACHED_INPUT_TOKENS, LC_OUTPUT_TOKENS, LC_ORIGINAL_COST,
	LC_DISCOUNT_RATE, LC_FINAL_COST, LC_BALANCE_AFTER, LC_PRICE_ID,
	LC_COUNT
} LedgerColumn;

static const char *const ledger_column_names[LC_COUNT] = {
	"entry_id", "at", "pool", "user_id", "kind", "amount", "model",
	"service", "conversation_id", "request_id", "input_tokens",
	"cached_input_tokens", "output_tokens", "original_cost",
	"discount_rate", "final_cost", "balance_after", "price_id"
};

/* Their types, in this order (InvalidOid stands for quota.credits). */
static const Oid ledger_column_types[LC_COUNT] = {
	INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, InvalidOid, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, INT8OID,
	INT8OID, INT8OID, InvalidOid,
	NUMERICOID, InvalidOid, InvalidOid, INT4OID
};

/* 0.1's ledger has the four unit prices where 0.2's has price_id. */
#define LEGACY_PRICES 4
static const char *const legacy_price_names[LEGACY_PRICES] = {
	"input_price", "cached_input_price", "output_price", "request_price"
};
static const Oid legacy_price_types[LEGACY_PRICES] = {
	InvalidOid, InvalidOid, InvalidOid, InvalidOid
};

/* The ledger's column numbers and identity sequence, per catalog version. */
static AttrNumber ledger_attnum[LC_COUNT];
static AttrNumber legacy_price_attnum[LEGACY_PRICES];
static bool ledger_has_price_id = true;
static Oid	entry_id_seq = InvalidOid;
static uint64 ledger_version = 0;

/*
 * Look up n columns by name and type (raising if one is missing or was
 * given another type): types[i] InvalidOid stands for quota.credits.
 */
static void
TypedColumns(Relation rel, const char *const *names, const Oid *types, int n,
			 AttrNumber *attnums)
{
	Oid			credits = QuotaCreditsType();
	Oid			resolved[LC_COUNT];

	Assert(n <= LC_COUNT);
	for (int i = 0; i < n; i++)
		resolved[i] = OidIsValid(types[i]) ? types[i] : credits;
	QuotaColumnsTyped(rel, names, resolved, n, attnums);
}

/* Look the ledger's columns up again if the catalog may have changed. */
static void
LedgerColumns(Relation ledger)
{
	if (ledger_version == QuotaCatalogVersion())
		return;
	TypedColumns(ledger, ledger_column_names, ledger_column_types, LC_PRICE_ID,
				 ledger_attnum);
	ledger_has_price_id = QuotaColumn(ledger, "price_id") != InvalidAttrNumber;
	if (ledger_has_price_id)
		ledger_attnum[LC_PRICE_ID] = QuotaColumnTyped(ledger, "price_id", INT4OID);
	else
		TypedColumns(ledger, legacy_price_names, legacy_price_types,
					 LEGACY_PRICES, legacy_price_attnum);
	entry_id_seq = getIdentitySequence(ledger, ledger_attnum[LC_ENTRY_ID], false);
	ledger_version = QuotaCatalogVersion();
}

/* The reservations' columns that are read or written, in this order. */
typedef enum ReservationColumn
{
	RC_REQUEST_ID, RC_POOL, RC_USER_ID, RC_MODEL, RC_MAX_INPUT_TOKENS,
	RC_MAX_OUTPUT_TOKENS, RC_HELD, RC_CREATED_AT, RC_EXPIRES_AT,
	RC_SETTLED_AT, RC_OUTCOME, RC_CHARGE_ID,
	RC_COUNT
} ReservationColumn;

static const char *const reservation_column_names[RC_COUNT] = {
	"request_id", "pool", "user_id", "model", "max_input_tokens",
	"max_output_tokens", "held", "created_at", "expires_at",
	"settled_at", "outcome", "charge_id"
};

/* Their types, in this order (InvalidOid stands for quota.credits). */
static const Oid reservation_column_types[RC_COUNT] = {
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID,
	INT8OID, InvalidOid, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, TEXTOID, INT8OID
};

/* The reservations' column numbers, per catalog version. */
static AttrNumber reservation_attnum[RC_COUNT];
static uint64 reservation_version = 0;

/* Look the reservations' columns up again if the catalog may have changed. */
static void
ReservationColumns(Relation reservations)
{
	if (reservation_version == QuotaCatalogVersion())
		return;
	TypedColumns(reservations, reservation_column_names, reservation_column_types,
				 RC_COUNT, reservation_attnum);
	reservation_version = QuotaCatalogVersion();
}

/*
 * Before quota writes the ledger or the reservations through SQL: lock the
 * table as the statement will (so no trigger can be added meanwhile) and
 * check its triggers, rules and columns as the direct paths do.
 */
void
LedgerCheckWrite(QuotaRelation table)
{
	Relation	rel = table_open(QuotaRel(table), RowExclusiveLock);

	GuardCheckWriters(rel, table);
	if (table == QR_LEDGER)
		LedgerColumns(rel);
	else
		ReservationColumns(rel);
	table_close(rel, NoLock);
}

/* A bigint (or credits) column of the slot; NULL reads as -1. */
static int64
SlotInt(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return isnull ? -1 : DatumGetInt64(d);
}

/* A charge row: fill the LedgerCharge (if any) passed as arg. */
static bool
VisitCharge(Relation rel, TupleTableSlot *slot, void *arg)
{
	LedgerCharge *charge = arg;
	AttrNumber *a = ledger_attnum;
	bool		isnull;
	Datum		d;

	if (charge == NULL)
		return false;
	LedgerColumns(rel);
	slot_getallattrs(slot);
	charge->entry_id = SlotInt(slot, a[LC_ENTRY_ID]);
	charge->pool = QuotaSlotText(slot, a[LC_POOL]);
	charge->user_id = QuotaSlotText(slot, a[LC_USER_ID]);
	charge->model = QuotaSlotText(slot, a[LC_MODEL]);
	charge->service = QuotaSlotText(slot, a[LC_SERVICE]);
	charge->conversation_id = QuotaSlotText(slot, a[LC_CONVERSATION_ID]);
	charge->request_id = QuotaSlotText(slot, a[LC_REQUEST_ID]);
	charge->input_tokens = SlotInt(slot, a[LC_INPUT_TOKENS]);
	charge->cached_input_tokens = SlotInt(slot, a[LC_CACHED_INPUT_TOKENS]);
	charge->output_tokens = SlotInt(slot, a[LC_OUTPUT_TOKENS]);
	charge->original_cost = SlotInt(slot, a[LC_ORIGINAL_COST]);
	d = slot_getattr(slot, a[LC_DISCOUNT_RATE], &isnull);
	charge->discount_rate = isnull ? NumericGetDatum(int64_to_numeric(1))
		: PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
	charge->final_cost = SlotInt(slot, a[LC_FINAL_COST]);
	charge->balance_after = SlotInt(slot, a[LC_BALANCE_AFTER]);
	return false;
}

/*
 * The ledger's charge of request_id visible to snapshot, if any, into
 * *charge (may be NULL; strings and the rate palloc'd in the current
 * context).  Token counts that are NULL read as -1, which no argument
 * equals.
 */
bool
LedgerFindCharge(const char *request_id, Snapshot snapshot, LedgerCharge *charge)
{
	return QuotaForEachRow(QR_LEDGER, QR_LEDGER_REQUEST_ID, request_id, snapshot,
						   VisitCharge, charge) > 0;
}

/*
 * Append a charge row (kind 'charge', amount = -final_cost, at = charge->at);
 * returns its entry_id, which is also stored in charge->entry_id.
 */
int64
LedgerInsertCharge(LedgerCharge *charge)
{
	DirectWrite w;
	AttrNumber *a = ledger_attnum;

	DirectBegin(&w, QR_LEDGER);
	LedgerColumns(w.rel);
	charge->entry_id = nextval_internal(entry_id_seq, false);
	DirectSetAttr(&w, a[LC_ENTRY_ID], Int64GetDatum(charge->entry_id));
	DirectSetAttr(&w, a[LC_AT], TimestampTzGetDatum(charge->at));
	DirectSetAttr(&w, a[LC_POOL], CStringGetTextDatum(charge->pool));
	DirectSetAttr(&w, a[LC_USER_ID], CStringGetTextDatum(charge->user_id));
	DirectSetAttr(&w, a[LC_KIND], CStringGetTextDatum("charge"));
	DirectSetAttr(&w, a[LC_AMOUNT], CreditsGetDatum(-charge->final_cost));
	DirectSetAttr(&w, a[LC_MODEL], CStringGetTextDatum(charge->model));
	DirectSetAttr(&w, a[LC_SERVICE], CStringGetTextDatum(charge->service));
	if (charge->conversation_id)
		DirectSetAttr(&w, a[LC_CONVERSATION_ID],
					  CStringGetTextDatum(charge->conversation_id));
	DirectSetAttr(&w, a[LC_REQUEST_ID], CStringGetTextDatum(charge->request_id));
	DirectSetAttr(&w, a[LC_INPUT_TOKENS], Int64GetDatum(charge->input_tokens));
	DirectSetAttr(&w, a[LC_CACHED_INPUT_TOKENS], Int64GetDatum(charge->cached_input_tokens));
	DirectSetAttr(&w, a[LC_OUTPUT_TOKENS], Int64GetDatum(charge->output_tokens));
	DirectSetAttr(&w, a[LC_ORIGINAL_COST], CreditsGetDatum(charge->original_cost));
	DirectSetAttr(&w, a[LC_DISCOUNT_RATE], charge->discount_rate);
	DirectSetAttr(&w, a[LC_FINAL_COST], CreditsGetDatum(charge->final_cost));
	DirectSetAttr(&w, a[LC_BALANCE_AFTER], CreditsGetDatum(charge->balance_after));
	if (!ledger_has_price_id)
	{
		AttrNumber *p = legacy_price_attnum;

		DirectSetAttr(&w, p[0], CreditsGetDatum(charge->input_price));
		DirectSetAttr(&w, p[1], CreditsGetDatum(charge->cached_input_price));
		DirectSetAttr(&w, p[2], CreditsGetDatum(charge->output_price));
		DirectSetAttr(&w, p[3], CreditsGetDatum(charge->request_price));
	}
	else if (charge->price_id != 0)
		DirectSetAttr(&w, a[LC_PRICE_ID], Int32GetDatum(charge->price_id));
	/* the row the ledger's insert guard lets through */
	GuardExpect(charge->pool, "charge", -charge->final_cost);
	PG_TRY();
	{
		DirectInsert(&w);
	}
	PG_FINALLY();
	{
		GuardExpectDone();
	}
	PG_END_TRY();
	return charge->entry_id;
}

/* Fill *resv from a reservations row in slot (strings palloc'd). */
static void
ReadReservation(Relation rel, TupleTableSlot *slot, Reservation *resv)
{
	AttrNumber *a = reservation_attnum;
	bool		isnull;

	ReservationColumns(rel);
	slot_getallattrs(slot);
	resv->request_id = QuotaSlotText(slot, a[RC_REQUEST_ID]);
	resv->pool = QuotaSlotText(slot, a[RC_POOL]);
	resv->user_id = QuotaSlotText(slot, a[RC_USER_ID]);
	resv->model = QuotaSlotText(slot, a[RC_MODEL]);
	resv->max_input_tokens = SlotInt(slot, a[RC_MAX_INPUT_TOKENS]);
	resv->max_output_tokens = SlotInt(slot, a[RC_MAX_OUTPUT_TOKENS]);
	resv->held = SlotInt(slot, a[RC_HELD]);
	resv->expires_at = DatumGetTimestampTz(slot_getattr(slot, a[RC_EXPIRES_AT],
														&isnull));
	(void) slot_getattr(slot, a[RC_SETTLED_AT], &isnull);
	resv->active = isnull;
}

/* A reservation row: fill the Reservation (if any) passed as arg. */
static bool
VisitReservation(Relation rel, TupleTableSlot *slot, void *arg)
{
	if (arg != NULL)
		ReadReservation(rel, slot, arg);
	return false;
}

/* The reservation of request_id visible to snapshot, if any (resv may be NULL). */
bool
LedgerFindReservation(const char *request_id, Snapshot snapshot, Reservation *resv)
{
	return QuotaForEachRow(QR_RESERVATIONS, QR_RESERVATIONS_PKEY, request_id,
						   snapshot, VisitReservation, resv) > 0;
}

/*
 * Lock the reservation of request_id (as SELECT ... FOR UPDATE in READ
 * COMMITTED, with a fresh snapshot) and read its last version into *resv,
 * its place into *tid; false if there is none.
 */
bool
LedgerLockReservation(const char *request_id, Snapshot snapshot,
					  Reservation *resv, ItemPointer tid)
{
	Relation	heap = table_open(QuotaRel(QR_RESERVATIONS), RowShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	bool		found = QuotaLockLatest(heap, QR_RESERVATIONS_PKEY, request_id,
										snapshot, slot);

	if (found)
	{
		ReadReservation(heap, slot, resv);
		*tid = slot->tts_tid;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
	return found;
}

/* Insert a reservation (created now, active). */
void
LedgerInsertReservation(const Reservation *resv)
{
	DirectWrite w;
	AttrNumber *a = reservation_attnum;

	DirectBegin(&w, QR_RESERVATIONS);
	ReservationColumns(w.rel);
	DirectSetAttr(&w, a[RC_REQUEST_ID], CStringGetTextDatum(resv->request_id));
	DirectSetAttr(&w, a[RC_POOL], CStringGetTextDatum(resv->pool));
	DirectSetAttr(&w, a[RC_USER_ID], CStringGetTextDatum(resv->user_id));
	DirectSetAttr(&w, a[RC_MODEL], CStringGetTextDatum(resv->model));
	DirectSetAttr(&w, a[RC_MAX_INPUT_TOKENS], Int64GetDatum(resv->max_input_tokens));
	DirectSetAttr(&w, a[RC_MAX_OUTPUT_TOKENS], Int64GetDatum(resv->max_output_tokens));
	DirectSetAttr(&w, a[RC_HELD], CreditsGetDatum(resv->held));
	DirectSetAttr(&w, a[RC_CREATED_AT],
				  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	DirectSetAttr(&w, a[RC_EXPIRES_AT], TimestampTzGetDatum(resv->expires_at));
	DirectInsert(&w);
}

/*
 * End a reservation this transaction has locked (LedgerLockReservation):
 * settled now with the outcome, and the charge if charge_id is not 0.
 */
void
LedgerEndReservation(ItemPointer tid, const char *outcome, int64 charge_id)
{
	DirectWrite w;
	AttrNumber *a = reservation_attnum;

	DirectBegin(&w, QR_RESERVATIONS);
	ReservationColumns(w.rel);
	DirectSetAttr(&w, a[RC_SETTLED_AT],
				  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	DirectSetAttr(&w, a[RC_OUTCOME], CStringGetTextDatum(outcome));
	if (charge_id != 0)
		DirectSetAttr(&w, a[RC_CHARGE_ID], Int64GetDatum(charge_id));
	DirectUpdate(&w, tid);
}
