/*
 * charge.c
 *		quota_charge and quota_check: the hot path of the service.
 *
 * Locking in the charge path, in the order taken:
 *	 1. a transaction advisory lock on the request_id, so a retry of a
 *		request in flight waits for the first attempt and then returns its
 *		charge (or, if it rolled back, charges once itself);
 *	 2. a settlement locks its reservation row (FOR UPDATE), so settle,
 *		release and expiry of one reservation are serialised and its hold is
 *		freed exactly once;
 *	 3. only for a member with a limit, a transaction advisory lock on
 *		(pool, member), so one member's concurrent requests see each other's
 *		usage: under it the usage is summed with a fresh snapshot at every
 *		isolation level, and only then is the charge dated (ledger.at), so
 *		that it counts in the period it was checked against, whatever the
 *		age of the transaction (request.c explains why this is exact);
 *		The member caps are decided under this lock too, from the
 *		member's counters in shared memory or a fresh sum (caps.c,
 *		member_caps.c; the pool caps are checked in step 4, or under a
 *		lock of the pool in locked mode);
 *	 4. the ledger's RowExclusiveLock (the one its insert takes; from
 *		before the admission, so that a pool's first credit grant waits for
 *		the debits in flight), for a pool that has had a credit grant its
 *		debit lock in share mode, to the end of the transaction (an expiring
 *		grant waits for it: grants.c), then the pool's escrow entry spinlock
 *		(escrow.c), for a few instructions, to admit the debit against
 *		available.  No row of quota.pool_defs is
 *		locked, so the users of a shared pool never queue behind each other;
 *		a due reset (rare) takes the pool row's lock in _apply_reset().
 * The request's past is read by index probes after lock 1 (ledger.c); in
 * REPEATABLE READ, a charge or reservation of the request that the snapshot
 * cannot see raises 40001 before anything is debited.  The unique index on
 * request_id is the second line of defence.  Locks 1 to 3 belong to one
 * request and one member and are always taken in this order; nothing
 * waits for another pool while holding them, so charges cannot deadlock with
 * each other.  A fallback (fallback.c) tries the next pool only after the
 * refused attempt's subtransaction released what it took.  Why it cannot
 * overspend is explained at the top of escrow.c.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "alert.h"
#include "caps.h"
#include "charge.h"
#include "fallback.h"
#include "guard.h"
#include "hint.h"
#include "identity.h"
#include "ledger.h"
#include "quota.h"
#include "ratelimit.h"
#include "refusals.h"
#include "request.h"
#include "reserve.h"
#include "rowtype.h"
#include "standby.h"

PG_FUNCTION_INFO_V1(quota_charge);
PG_FUNCTION_INFO_V1(quota_check);

/* A request's reservation, locked, once the index shows there is one. */
static QuotaQuery reservation_q = {
	"SELECT pool, user_id, model, held, settled_at IS NULL, "
	"       max_input_tokens, max_output_tokens "
	"FROM quota.reservations WHERE request_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
	1, {TEXTOID}
};

/* A request's reservation, read by RequestPast. */
typedef struct PastReservation
{
	bool		exists;
	bool		direct;			/* locked by LedgerLockReservation, at tid */
	ItemPointerData tid;
	Reservation r;
} PastReservation;

static QuotaQuery settle_q = {
	"UPDATE quota.reservations SET settled_at = pg_catalog.now(), "
	"  outcome = 'charged', charge_id = $2 "
	"WHERE request_id OPERATOR(pg_catalog.=) $1",
	2, {TEXTOID, INT8OID}
};

/* The values quota_charge returns. */
typedef struct ChargeResult
{
	int64		charge_id;
	char	   *pool;
	Credits		original;
	Datum		rate;
	Credits		final;
	Credits		balance;
} ChargeResult;

/* Compare a stored text with an argument (NULL equals only NULL). */
static bool
SameString(const char *stored, const char *value)
{
	if (stored == NULL || value == NULL)
		return stored == NULL && value == NULL;
	return strcmp(stored, value) == 0;
}

/* Raise QU005 for a request_id reused with other arguments. */
static void
RequestReused(const char *request_id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_REQUEST_REUSED),
			 errmsg("request_id \"%s\" was already used with different arguments", request_id),
			 errdetail("The %s differs from the first use of the request_id.", what),
			 errhint("Use a new request_id for a new request; repeat a request with exactly the same arguments.")));
}

/*
 * The request's first charge: check the arguments against it (QU005 when
 * they differ) and fill the result from it.
 */
static void
UsePriorCharge(const LedgerCharge *prior, const char *user_id, const char *model,
			   int64 in, int64 cached, int64 out, const char *conversation_id,
			   const char *pool, ChargeResult *res)
{
	const char *request_id = prior->request_id;

	if (!SameString(prior->user_id, user_id))
		RequestReused(request_id, "user");
	if (!SameString(prior->model, model))
		RequestReused(request_id, "model");
	if (prior->input_tokens != in || prior->cached_input_tokens != cached ||
		prior->output_tokens != out)
		RequestReused(request_id, "token count");
	if (conversation_id && !SameString(prior->conversation_id, conversation_id))
		RequestReused(request_id, "conversation_id");
	if (pool && !SameString(prior->pool, pool))
		RequestReused(request_id, "pool");

	res->charge_id = prior->entry_id;
	res->pool = QuotaUpperStrdup(prior->pool);
	res->original = prior->original_cost;
	res->rate = SPI_datumTransfer(prior->discount_rate, false, -1);
	res->final = prior->final_cost;
	res->balance = prior->balance_after;
}

/*
 * Read the request's past (under its advisory lock): true (with *res
 * filled) when it was charged before; else its reservation, if any, is
 * locked and in *resv.  In READ COMMITTED: index probes and a row lock,
 * the reservation first (an active one means no charge yet, so a
 * settlement probes once); in REPEATABLE READ and SERIALIZABLE the
 * reservation is locked with SQL's FOR UPDATE, and a charge or reservation
 * committed after the snapshot raises 40001.
 */
static bool
RequestPast(const char *request_id, const char *user_id, const char *model,
			int64 in, int64 cached, int64 out, const char *conversation_id,
			const char *pool, ChargeResult *res, PastReservation *resv)
{
	Snapshot	snapshot;
	LedgerCharge prior;
	bool		charged;
	bool		reserved = false;

	memset(resv, 0, sizeof(PastReservation));
	if (!IsolationUsesXactSnapshot())
	{
		/*
		 * READ COMMITTED: one fresh snapshot (taken under the request's lock,
		 * so it sees every earlier attempt) to lock the reservation's last
		 * version, if any, and to look for a charge.
		 */
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		resv->exists = resv->direct =
			LedgerLockReservation(request_id, snapshot, &resv->r, &resv->tid);
		/* a hold still active was never settled: nothing charged yet */
		charged = !(resv->exists && resv->r.active) &&
			LedgerFindCharge(request_id, snapshot, &prior);
		UnregisterSnapshot(snapshot);
		if (charged)
			UsePriorCharge(&prior, user_id, model, in, cached, out,
						   conversation_id, pool, res);
		return charged;
	}

	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	charged = LedgerFindCharge(request_id, snapshot, &prior);
	if (!charged)
	{
		/* charged or reserved by a transaction this snapshot cannot see */
		Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
		bool		concurrent = LedgerFindCharge(request_id, latest, &prior);
		bool		late_reservation;

		reserved = LedgerFindReservation(request_id, snapshot, NULL);
		late_reservation = !concurrent && !reserved &&
			LedgerFindReservation(request_id, latest, NULL);
		UnregisterSnapshot(latest);
		if (concurrent)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to a concurrent charge of request_id \"%s\"",
							request_id),
					 errhint("Retry the request: it will return the first charge.")));

		/*
		 * Its settlement must end that reservation (free its hold, bill its
		 * pool even past zero), which this snapshot cannot read: charging it
		 * as a new request would leave the hold in place, or refuse usage
		 * that happened.
		 */
		if (late_reservation)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to a concurrent reservation of request_id \"%s\"",
							request_id),
					 errdetail("The request was reserved by a transaction that committed after this transaction's snapshot was taken."),
					 errhint("Retry the charge in a new transaction: it will settle the reservation.")));
	}
	UnregisterSnapshot(snapshot);
	if (charged)
	{
		UsePriorCharge(&prior, user_id, model, in, cached, out,
					   conversation_id, pool, res);
		return true;
	}
	if (reserved)
	{
		/* REPEATABLE READ: SQL's FOR UPDATE raises 40001 if it changed */
		Datum		v[1] = {CStringGetTextDatum(request_id)};
		bool		isnull;

		if (QuotaExec(&reservation_q, v, NULL, 1) == 0)
			return false;
		resv->exists = true;
		resv->r.pool = QuotaGetText(0, 1);
		resv->r.user_id = QuotaGetText(0, 2);
		resv->r.model = QuotaGetText(0, 3);
		resv->r.held = DatumGetCredits(QuotaGetDatum(0, 4, &isnull));
		resv->r.active = DatumGetBool(QuotaGetDatum(0, 5, &isnull));
		resv->r.max_input_tokens = DatumGetInt64(QuotaGetDatum(0, 6, &isnull));
		resv->r.max_output_tokens = DatumGetInt64(QuotaGetDatum(0, 7, &isnull));
	}
	return false;
}

/* Is the usage within the reservation's declared maxima (SPEC rule 4)? */
static bool
WithinMaxima(const Reservation *r, int64 in, int64 cached, int64 out)
{
	return (int128) in + cached <= r->max_input_tokens &&
		out <= r->max_output_tokens;
}

/* Optional text argument as a C string, or NULL. */
static char *
OptText(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* The request being charged, for ChargeOnPool (and its fallbacks). */
typedef struct ChargeCtx
{
	const char *model;
	const char *request_id;
	const char *conversation_id;
	int64		in;
	int64		out;
	int64		cached;
	RequestTarget *target;
	PastReservation *resv;
	ChargeResult *res;
	EscrowState *st;
} ChargeCtx;

/*
 * Charge the request on a pool (NULL: the user's active pool; a
 * reservation's or an explicit one), filling c->res; *chosen, if given, is
 * set to the pool as soon as it is chosen (fallback.c).
 */
static void
ChargeOnPool(ChargeCtx *c, const char *pool, char **chosen)
{
	RequestTarget *target = c->target;
	PastReservation *resv = c->resv;
	ChargeResult *res = c->res;
	EscrowState *st = c->st;
	LedgerCharge row;
	Credits		usage = 0;
	bool		limited;
	QuotaCost	cost;
	EscrowPool	ep;
	Credits		debited = 0;

	memset(st, 0, sizeof(EscrowState));
	QuotaChoosePool(target, pool);
	if (chosen)
		*chosen = target->pool.pool;
	RefusalNote(target->user_id, target->pool.pool);
	if (!resv->exists)
		QuotaRequireUsable(target);
	QuotaResetIfDue(&target->pool, target->user_id);

	/*
	 * Lock 3 and the member's usage come before the charge is dated:
	 * a reset that the usage saw began its period before now, so the
	 * charge counts in the period its limit was checked against.  The
	 * discount's time window is matched at the same date.
	 */
	limited = !resv->exists && !QuotaModelIsFree(target->model) &&
		QuotaMemberUsageLocked(target, &usage);
	row.at = GetCurrentTimestamp();
	QuotaComputeCost(target->model, c->in, c->cached, c->out, target->pool.pool,
					 row.at, &cost);

	ep = QuotaEscrowPool(&target->pool);
	if (resv->exists)
	{
		/*
		 * Settling: usage within the declared maxima happened as agreed
		 * and is billed, even past zero; beyond them it is gated like a
		 * new charge, with the hold it frees (rule 4).
		 */
		Credits		freed = resv->r.active ? resv->r.held : 0;
		bool		within = WithinMaxima(&resv->r, c->in, c->cached, c->out);

		if (!within && cost.final > freed &&
			!QuotaMemberLimitFits(target, cost.final - freed, &usage))
			QuotaRaiseInsufficient(target, cost.final - freed, st,
								   true, usage);
		CapsSettle(target, row.at, cost.final, freed);
		if (!EscrowSettle(&ep, cost.final, freed, within, st))
			QuotaRaiseOverrun(target, cost.final, st, c->request_id,
							  resv->r.max_input_tokens,
							  resv->r.max_output_tokens);
		debited = cost.final;
	}
	else if (cost.final > 0)
	{
		if (limited && !QuotaUsageFits(target, usage, cost.final))
			QuotaRaiseInsufficient(target, cost.final, st, true, usage);
		CapsAdmit(target, cost.final, row.at, false);
		if (!EscrowDebit(&ep, cost.final, false, st) &&
			(st->cap_refused >= 0 || QuotaExpireHolds(target->pool.pool) == 0 ||
			 !EscrowDebit(&ep, cost.final, false, st)))
		{
			CapsRaiseRefused(st, cost.final);
			QuotaRaiseInsufficient(target, cost.final, st, false, 0);
		}
		debited = cost.final;
	}
	else
		EscrowRead(&ep, st);

	/* a new request counts against the rate limits; a settlement never */
	if (!resv->exists)
		RateLimitAdmit(&target->pool, target->user_id,
					   RateLimitTokens(c->in, c->cached, c->out));

	row.pool = target->pool.pool;
	row.user_id = target->user_id;
	row.model = c->model;
	row.service = target->model->service;
	row.conversation_id = c->conversation_id;
	row.request_id = c->request_id;
	row.input_tokens = c->in;
	row.cached_input_tokens = c->cached;
	row.output_tokens = c->out;
	row.price_id = target->model->price_id;
	row.input_price = target->model->input_price;
	row.cached_input_price = target->model->cached_input_price;
	row.output_price = target->model->output_price;
	row.request_price = target->model->request_price;
	row.original_cost = cost.original;
	row.discount_rate = cost.rate.rate;
	row.final_cost = cost.final;
	row.balance_after = st->balance;
	res->charge_id = LedgerInsertCharge(&row);
	if (resv->direct)
		LedgerEndReservation(&resv->tid, "charged", res->charge_id);
	else if (resv->exists)
	{
		Datum		sv[2] = {CStringGetTextDatum(c->request_id),
		Int64GetDatum(res->charge_id)};

		LedgerCheckWrite(QR_RESERVATIONS);
		if (QuotaExec(&settle_q, sv, NULL, 0) != 1)
			GuardNotWritten("reservations");
	}
	if (debited > 0)
		QuotaCheckAlerts(&target->pool, st->live_balance, target->user_id,
						 c->request_id);
	res->pool = QuotaUpperStrdup(target->pool.pool);
	res->original = cost.original;
	res->rate = SPI_datumTransfer(cost.rate.rate, false, -1);
	res->final = cost.final;
	res->balance = st->balance;
}

/* One attempt of FallbackRun: the charge on one pool. */
static void
ChargeAttempt(void *arg, const char *pool, char **chosen)
{
	ChargeOnPool((ChargeCtx *) arg, pool, chosen);
}

/*
 * quota_charge(model, input_tokens, output_tokens, request_id,
 *				conversation_id, cached_input_tokens, user_id, pool)
 */
static Datum
ChargeRequest(PG_FUNCTION_ARGS)
{
	char	   *modelname;
	char	   *request_id;
	char	   *conversation_id;
	char	   *explicit_pool;
	int64		in,
				out,
				cached;
	RequestTarget target;
	ChargeResult res;
	EscrowState st;
	PastReservation resv;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	QuotaRefuseOnStandby("quota_charge");

	QUOTA_REQUIRE_ARG(fcinfo, 0, "model");
	QUOTA_REQUIRE_ARG(fcinfo, 1, "input_tokens");
	QUOTA_REQUIRE_ARG(fcinfo, 2, "output_tokens");
	QUOTA_REQUIRE_ARG(fcinfo, 3, "request_id");
	QUOTA_REQUIRE_ARG(fcinfo, 5, "cached_input_tokens");
	modelname = text_to_cstring(PG_GETARG_TEXT_PP(0));
	in = PG_GETARG_INT64(1);
	out = PG_GETARG_INT64(2);
	request_id = text_to_cstring(PG_GETARG_TEXT_PP(3));
	conversation_id = OptText(fcinfo, 4);
	cached = PG_GETARG_INT64(5);
	explicit_pool = OptText(fcinfo, 7);
	QuotaCheckTokens(in, "input_tokens");
	QuotaCheckTokens(out, "output_tokens");
	QuotaCheckTokens(cached, "cached_input_tokens");
	if (request_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_id must not be empty"),
				 errhint("Pass a unique id per request, such as a UUID.")));

	memset(&target, 0, sizeof(target));
	memset(&st, 0, sizeof(st));
	target.user_id = QuotaResolveUser(fcinfo, 6);
	RefusalNote(target.user_id, explicit_pool);

	SPI_connect();
	QuotaLockKey(request_id, QUOTA_LOCK_REQUEST);
	if (!RequestPast(request_id, target.user_id, modelname, in, cached, out,
					 conversation_id, explicit_pool, &res, &resv))
	{
		ChargeCtx	c;

		QuotaCheckUserExists(target.user_id, &target.profile, true);
		target.model = QuotaFindModel(modelname, false);

		/* a reservation of this request settles on its own pool */
		if (resv.exists)
		{
			if (!SameString(resv.r.user_id, target.user_id))
				RequestReused(request_id, "user");
			if (!SameString(resv.r.model, modelname))
				RequestReused(request_id, "model");
			if (explicit_pool && !SameString(resv.r.pool, explicit_pool))
				RequestReused(request_id, "pool");
		}

		c.model = modelname;
		c.request_id = request_id;
		c.conversation_id = conversation_id;
		c.in = in;
		c.out = out;
		c.cached = cached;
		c.target = &target;
		c.resv = &resv;
		c.res = &res;
		c.st = &st;
		if (resv.exists || explicit_pool || !target.profile.has_fallbacks)
			ChargeOnPool(&c, resv.exists ? resv.r.pool : explicit_pool, NULL);
		else
			FallbackRun(target.user_id, ChargeAttempt, &c);
	}
	SPI_finish();

	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = Int64GetDatum(res.charge_id);
	values[1] = CStringGetTextDatum(res.pool);
	values[2] = CreditsGetDatum(res.original);
	values[3] = res.rate;
	values[4] = CreditsGetDatum(res.final);
	values[5] = CreditsGetDatum(res.balance);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc,
													  values, nulls)));
}

/* SQL: quota_charge(), its refusals counted (quota.refusals). */
Datum
quota_charge(PG_FUNCTION_ARGS)
{
	return RefusalCounted(ChargeRequest, fcinfo);
}

/*
 * quota_check's answer for one pool, but the rate limits: the first rule
 * that fails (NULL: none); *money when it is the balance, the member limit
 * or a cap (QU001, which fallback pools may answer).
 */
static const char *
CheckPool(RequestTarget *target, EscrowState *st, bool *money)
{
	const char *reason = QuotaRefusal(target);
	EscrowPool	ep;

	*money = false;
	if (target->pool.role != NULL)
		QuotaResetIfDue(&target->pool, target->user_id);
	ep = QuotaEscrowPool(&target->pool);
	EscrowRead(&ep, st);
	if (RecoveryInProgress())
		StandbyAsIfDue(&target->pool, st);
	if (reason == NULL && !QuotaModelIsFree(target->model))
	{
		Credits		usage;

		if (st->available <= 0 && QuotaExpireHolds(target->pool.pool) > 0)
			EscrowRead(&ep, st);
		if (st->available <= 0)
			reason = "insufficient quota";
		else if (target->pool.has_member_limit &&
				 !QuotaMemberLimitFits(target, 1, &usage))
			reason = "member limit reached";
		else
			reason = CapsRefusal(target);
		*money = reason != NULL;
	}
	return reason;
}

/*
 * The active pool cannot pay: answer for the first pool of the user's
 * fallback list that they may use, that permits the model and can pay;
 * else leave the active pool's answer.
 */
static void
CheckFallbacks(RequestTarget *target, EscrowState *st, const char **reason)
{
	char	  **pools;
	int			n = FallbackPools(target->user_id, &pools);

	for (int i = 0; i < n; i++)
	{
		RequestTarget t = *target;
		EscrowState fst;
		bool		money;

		memset(&fst, 0, sizeof(fst));
		if (strcmp(pools[i], target->pool.pool) == 0 ||
			!QuotaLoadPool(pools[i], target->user_id, &t.pool) ||
			t.pool.role == NULL ||
			CheckPool(&t, &fst, &money) != NULL)
			continue;
		*target = t;
		*st = fst;
		*reason = NULL;
		return;
	}
}

/*
 * quota_check(model, user_id, pool) -> (allowed, pool, available, reason
 * [, retry_after]): could a new request start now?  Never raises for a
 * refusal and never holds.  0.1 declares four columns, 0.2 five: the
 * result follows the declared row type.
 */
Datum
quota_check(PG_FUNCTION_ARGS)
{
	RequestTarget target;
	EscrowState st;
	const char *reason;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, true};
	char	   *pool_name;
	int64		wait_us = -1;
	bool		money;

	QUOTA_REQUIRE_ARG(fcinfo, 0, "model");
	memset(&target, 0, sizeof(target));
	target.user_id = QuotaResolveUser(fcinfo, 1);

	SPI_connect();
	QuotaCheckUserExists(target.user_id, &target.profile, true);
	target.model = QuotaFindModel(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	if (PG_ARGISNULL(2))
	{
		bool		explicit_choice;
		char	   *active = QuotaActivePool(target.user_id, &target.profile,
											 &explicit_choice, &target.pool);

		if (active == NULL)
		{
			SPI_finish();
			tupdesc = QuotaResultDesc(fcinfo);
			values[0] = BoolGetDatum(false);
			nulls[1] = nulls[2] = true;
			values[3] = CStringGetTextDatum("user has no pool to use");
			PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc,
															  values, nulls)));
		}
	}
	else
		QuotaChoosePool(&target, text_to_cstring(PG_GETARG_TEXT_PP(2)));

	reason = CheckPool(&target, &st, &money);
	/* the pool that would be billed: the first of the fallback list that can pay */
	if (money && PG_ARGISNULL(2) && target.profile.has_fallbacks)
		CheckFallbacks(&target, &st, &reason);
	if (reason == NULL)
		reason = RateLimitCheck(&target.pool, target.user_id, &wait_us);
	pool_name = QuotaUpperStrdup(target.pool.pool);
	SPI_finish();

	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = BoolGetDatum(reason == NULL);
	values[1] = CStringGetTextDatum(pool_name);
	values[2] = CreditsGetDatum(st.available);
	/* not the user's to see, or (a pool far below zero) not a credits value */
	nulls[2] = (target.pool.role == NULL) || !st.in_range;
	if (reason)
		values[3] = CStringGetTextDatum(reason);
	else
		nulls[3] = true;
	if (wait_us >= 0 && tupdesc->natts >= 5)
	{
		/* retry_after, in whole seconds as the QU006 hint gives them */
		Interval   *retry = palloc0(sizeof(Interval));

		retry->time = (wait_us + USECS_PER_SEC - 1) / USECS_PER_SEC * USECS_PER_SEC;
		values[4] = IntervalPGetDatum(retry);
		nulls[4] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc,
													  values, nulls)));
}
