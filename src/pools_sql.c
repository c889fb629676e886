/*
 * pools_sql.c
 *		The SQL entry points of pools: their money as the views show it,
 *		non-charge ledger entries (top-ups, adjustments, grants, resets),
 *		switching pools and the active pool.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guard.h"
#include "identity.h"
#include "ledger.h"
#include "pools.h"
#include "pools_sql.h"
#include "profile.h"
#include "route.h"
#include "quota.h"
#include "standby.h"
#include "rowtype.h"

PG_FUNCTION_INFO_V1(quota_pool_money);
PG_FUNCTION_INFO_V1(quota_post);
PG_FUNCTION_INFO_V1(quota_post_grant);
PG_FUNCTION_INFO_V1(quota_switch);
PG_FUNCTION_INFO_V1(quota_active_pool);

/* SQL: quota._pool_money(pool) -> (balance, held, available). */
Datum
quota_pool_money(PG_FUNCTION_ARGS)
{
	char	   *pool = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TupleDesc	tupdesc;
	PoolInfo	info;
	EscrowPool	ep;
	EscrowState st;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	SPI_connect();
	if (!QuotaLoadPoolOwn(pool, &info))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pool \"%s\" does not exist", pool),
				 errhint("Pools are listed in quota.pools.")));
	ep = QuotaEscrowPool(&info);
	EscrowRead(&ep, &st);
	SPI_finish();

	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = CreditsGetDatum(st.balance);
	values[1] = CreditsGetDatum(st.held);
	values[2] = CreditsGetDatum(st.available);
	/* figures that do not fit quota.credits are NULL, never wrong numbers */
	nulls[0] = nulls[1] = nulls[2] = !st.in_range;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc,
													  values, nulls)));
}

static QuotaQuery post_q = {
	"INSERT INTO quota.ledger (pool, user_id, kind, amount, note) "
	"VALUES ($1, $2, $3, $4, $5) RETURNING entry_id",
	5, {TEXTOID, TEXTOID, TEXTOID, CREDITSARG, TEXTOID}
};

/* A credit grant's entry (0.3: older installs have no grant_id). */
static QuotaQuery post_grant_q = {
	"INSERT INTO quota.ledger (pool, user_id, kind, amount, note, grant_id) "
	"VALUES ($1, $2, $3, $4, $5, $6) RETURNING entry_id",
	6, {TEXTOID, TEXTOID, TEXTOID, CREDITSARG, TEXTOID, INT8OID}
};

/* Non-charge entries move the period's funds, so used = funds - balance. */
static QuotaQuery period_funds_q = {
	"UPDATE quota.pool_defs SET period_funds = period_funds OPERATOR(quota.+) $2 "
	"WHERE pool_id OPERATOR(pg_catalog.=) $1",
	2, {INT8OID, CREDITSARG}
};

/*
 * Post one non-charge entry: user_id, note and grant_id may be null
 * (Datum 0).  Credits wait for commit; debits are forced.
 */
static int64
PostEntry(Datum pool_d, Datum kind_d, Credits amount, Datum user_d,
		  Datum note_d, Datum grant_d)
{
	char	   *pool = TextDatumGetCString(pool_d);
	char	   *kind = TextDatumGetCString(kind_d);
	PoolInfo	info;
	EscrowPool	ep;
	EscrowState st;
	Datum		v[6];
	char		n[7] = "      ";
	bool		isnull;
	int64		entry_id;
	volatile int written = 0;

	SPI_connect();
	if (!QuotaLoadPoolOwn(pool, &info))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pool \"%s\" does not exist", pool)));
	LedgerCheckWrite(QR_LEDGER);
	ep = QuotaEscrowPool(&info);
	if (amount >= 0)
	{
		EscrowCredit(&ep, amount);
		/* a credit grant: its pool's debits take the debit lock from now on */
		if (grant_d != (Datum) 0)
			EscrowGrantsBegin(&ep);
	}
	else
		(void) EscrowDebit(&ep, -amount, true, &st);

	v[0] = pool_d;
	v[1] = user_d;
	n[1] = user_d == (Datum) 0 ? 'n' : ' ';
	v[2] = kind_d;
	v[3] = CreditsGetDatum(amount);
	v[4] = note_d;
	n[4] = note_d == (Datum) 0 ? 'n' : ' ';
	v[5] = grant_d;
	n[5] = grant_d == (Datum) 0 ? 'n' : ' ';
	/* the row the ledger's insert guard lets through */
	GuardExpect(pool, kind, amount);
	PG_TRY();
	{
		written = QuotaExec(grant_d == (Datum) 0 ? &post_q : &post_grant_q, v, n, 0);
	}
	PG_FINALLY();
	{
		GuardExpectDone();
	}
	PG_END_TRY();
	if (written != 1)
		GuardNotWritten("ledger");
	entry_id = DatumGetInt64(QuotaGetDatum(0, 1, &isnull));
	/* a reset starts a new period: _apply_reset() sets its funds */
	if (strcmp(kind, "reset") != 0)
	{
		Datum		fv[2] = {Int64GetDatum(info.pool_id), CreditsGetDatum(amount)};

		QuotaExec(&period_funds_q, fv, NULL, 0);
	}
	SPI_finish();
	return entry_id;
}

/*
 * SQL: quota._post(pool, kind, amount, user_id, note): a grant, top-up,
 * adjustment or reset entry.  Credits wait for commit; debits are forced
 * (an administrator's correction may take available below zero).
 */
Datum
quota_post(PG_FUNCTION_ARGS)
{
	QuotaRefuseOnStandby("quota._post");

	QUOTA_REQUIRE_ARG(fcinfo, 0, "pool");
	QUOTA_REQUIRE_ARG(fcinfo, 1, "kind");
	QUOTA_REQUIRE_ARG(fcinfo, 2, "amount");
	PG_RETURN_INT64(PostEntry(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1),
							  PG_GETARG_CREDITS(2),
							  PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3),
							  PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4),
							  (Datum) 0));
}

/*
 * SQL: quota._post_grant(pool, kind, amount, grant_id, note): a credit
 * grant's grant or expire entry, carrying its grant_id (grants.c).
 */
Datum
quota_post_grant(PG_FUNCTION_ARGS)
{
	QuotaRefuseOnStandby("quota._post_grant");

	QUOTA_REQUIRE_ARG(fcinfo, 0, "pool");
	QUOTA_REQUIRE_ARG(fcinfo, 1, "kind");
	QUOTA_REQUIRE_ARG(fcinfo, 2, "amount");
	QUOTA_REQUIRE_ARG(fcinfo, 3, "grant_id");
	PG_RETURN_INT64(PostEntry(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1),
							  PG_GETARG_CREDITS(2), (Datum) 0,
							  PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4),
							  PG_GETARG_DATUM(3)));
}

static QuotaQuery switch_q = {
	"INSERT INTO quota.user_state AS s (user_id, active_pool) VALUES ($1, $2) "
	"ON CONFLICT (user_id) DO UPDATE SET active_pool = excluded.active_pool, "
	"switched_at = pg_catalog.now()",
	2, {TEXTOID, TEXTOID}
};

/* Raise QU003: the user cannot use the pool. */
static void
NoAccess(const char *user_id, const char *pool)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_POOL_ACCESS),
			 errmsg("user \"%s\" cannot use pool \"%s\"", user_id, pool),
			 errdetail("The user is neither a member of the pool, nor in a group granted it, nor its owner."),
			 errhint("quota.my_pools lists the pools the user can use.")));
}

/*
 * SQL: quota_switch(pool, user_id) -> (pool, available, next_reset_at).
 * Takes effect for new requests at once; reservations keep their pool.
 */
Datum
quota_switch(PG_FUNCTION_ARGS)
{
	char	   *pool;
	char	   *user_id;
	PoolInfo	info;
	UserProfile profile;
	EscrowPool	ep;
	EscrowState st;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	Datum		v[2];

	QuotaRefuseOnStandby("quota_switch");

	QUOTA_REQUIRE_ARG(fcinfo, 0, "pool");
	pool = text_to_cstring(PG_GETARG_TEXT_PP(0));
	user_id = QuotaResolveUser(fcinfo, 1);

	SPI_connect();
	QuotaCheckUserExists(user_id, &profile, true);
	if (!QuotaLoadPoolAs(pool, user_id, &profile, &info))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pool \"%s\" does not exist", pool),
				 errhint("quota.my_pools lists the pools you can use.")));
	if (info.role == NULL)
		NoAccess(user_id, pool);
	if (!info.enabled)
		ereport(ERROR,
				(errcode(ERRCODE_QUOTA_POOL_DISABLED),
				 errmsg("pool \"%s\" is disabled", pool),
				 errhint("Switch to another pool, or ask its administrator to enable it.")));
	QuotaResetIfDue(&info, user_id);
	v[0] = CStringGetTextDatum(user_id);
	v[1] = CStringGetTextDatum(pool);
	QuotaExec(&switch_q, v, NULL, 0);
	ep = QuotaEscrowPool(&info);
	EscrowRead(&ep, &st);
	SPI_finish();

	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = CStringGetTextDatum(pool);
	values[1] = CreditsGetDatum(st.available);
	nulls[1] = !st.in_range;
	values[2] = TimestampTzGetDatum(info.next_reset_at);
	nulls[2] = !info.has_next_reset;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc,
													  values, nulls)));
}

/* SQL: quota_active_pool(user_id) -> the pool new requests are billed to. */
Datum
quota_active_pool(PG_FUNCTION_ARGS)
{
	char	   *user_id = QuotaResolveUser(fcinfo, 0);
	char	   *pool;
	bool		explicit_choice;
	UserProfile profile;
	text	   *result = NULL;

	SPI_connect();
	QuotaCheckUserExists(user_id, &profile, false);
	pool = QuotaActivePool(user_id, &profile, &explicit_choice, NULL);
	if (pool)
		result = (text *) SPI_palloc(VARHDRSZ + strlen(pool));
	if (result)
	{
		SET_VARSIZE(result, VARHDRSZ + strlen(pool));
		memcpy(VARDATA(result), pool, strlen(pool));
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}
