/*
 * reserve.c
 *		Reservations of streaming requests: quota_reserve, quota_release and
 *		the expiry of holds.  Settlement is in quota_charge (charge.c).
 *
 * A reservation row is locked (FOR UPDATE) by whoever ends it (settle,
 * release, expiry), and its hold is freed only by the one that sees it still
 * active, so a hold is released exactly once.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "hint.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "caps.h"
#include "fallback.h"
#include "guard.h"
#include "identity.h"
#include "ledger.h"
#include "member_caps.h"
#include "quota.h"
#include "ratelimit.h"
#include "refusals.h"
#include "request.h"
#include "reserve.h"
#include "rowtype.h"
#include "settings.h"
#include "standby.h"

PG_FUNCTION_INFO_V1(quota_reserve);
PG_FUNCTION_INFO_V1(quota_release);
PG_FUNCTION_INFO_V1(quota_expire_holds);

/* Raise QU005 for a reused request_id. */
static void
Reused(const char *request_id, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_REQUEST_REUSED),
			 errmsg("request_id \"%s\" was already used with different arguments", request_id),
			 errdetail("%s", detail),
			 errhint("Use a new request_id for a new request.")));
}

/* The worst-case final cost of a request of at most these many tokens. */
static Credits
WorstCase(const RequestTarget *target, int64 max_in, int64 max_out)
{
	QuotaModel	worst = *target->model;
	QuotaCost	cost;

	/* every input token might be billed at the dearer of the two input prices */
	worst.input_price = Max(worst.input_price, worst.cached_input_price);
	QuotaComputeCost(&worst, max_in, 0, max_out, target->pool.pool,
					 GetCurrentTransactionStartTimestamp(), &cost);
	return cost.final;
}

/*
 * If the request was reserved before (visible to snapshot), check the
 * arguments (QU005 when they differ) and return the reservation's pool,
 * hold and expiry.
 */
static bool
PriorReservation(FunctionCallInfo fcinfo, const char *request_id,
				 const char *user_id, const char *model, int64 max_in,
				 int64 max_out, Snapshot snapshot, char **pool_name,
				 Credits *held, TimestampTz *expires_at)
{
	Reservation r;

	if (!LedgerFindReservation(request_id, snapshot, &r))
		return false;
	if (strcmp(r.user_id, user_id) != 0)
		Reused(request_id, "The request was reserved for another user.");
	if (strcmp(r.model, model) != 0)
		Reused(request_id, "The request was reserved for another model.");
	if (r.max_input_tokens != max_in || r.max_output_tokens != max_out)
		Reused(request_id, "The request was reserved with other token limits.");
	if (!PG_ARGISNULL(5) && strcmp(text_to_cstring(PG_GETARG_TEXT_PP(5)), r.pool) != 0)
		Reused(request_id, "The request was reserved on another pool.");
	*pool_name = QuotaUpperStrdup(r.pool);
	*held = r.held;
	*expires_at = r.expires_at;
	return true;
}

/*
 * In REPEATABLE READ, a reservation or charge of the request committed
 * after the snapshot cannot be returned: raise 40001 (nothing is held yet).
 */
static void
ConcurrentRequest(const char *request_id)
{
	Snapshot	latest;
	bool		found;

	if (!IsolationUsesXactSnapshot())
		return;
	latest = RegisterSnapshot(GetLatestSnapshot());
	found = LedgerFindReservation(request_id, latest, NULL) ||
		LedgerFindCharge(request_id, latest, NULL);
	UnregisterSnapshot(latest);
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent reservation of request_id \"%s\"",
						request_id),
				 errhint("Retry the request: it will return the first reservation.")));
}

/* Raise 22023 for a ttl longer than quota.max_reservation_ttl. */
static void
CheckTtlLimit(Interval *ttl)
{
	Interval	limit;

	memset(&limit, 0, sizeof(limit));
	limit.time = (int64) quota_max_reservation_ttl * USECS_PER_SEC;
	if (DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(ttl),
										 IntervalPGetDatum(&limit))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"ttl\" must not exceed quota.max_reservation_ttl"),
				 errdetail("The ttl given was %s; quota.max_reservation_ttl is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(ttl))),
						   GetConfigOptionByName("quota.max_reservation_ttl", NULL, false)),
				 errhint("Pass a shorter ttl, or ask a superuser to raise quota.max_reservation_ttl.")));
}

/* The request being reserved, for ReserveOnPool (and its fallbacks). */
typedef struct ReserveCtx
{
	const char *model;
	const char *request_id;
	int64		max_in;
	int64		max_out;
	Interval   *ttl;
	RequestTarget *target;
	Credits		held;			/* out */
	TimestampTz expires_at;		/* out */
	char	   *pool_name;		/* out */
} ReserveCtx;

/*
 * Reserve the request on a pool (NULL: the user's active pool); *chosen,
 * if given, is set to the pool as soon as it is chosen (fallback.c).
 */
static void
ReserveOnPool(ReserveCtx *c, const char *pool, char **chosen)
{
	RequestTarget *target = c->target;
	Reservation r;
	Credits		usage;
	Credits		held;
	EscrowPool	ep;
	EscrowState st;

	memset(&st, 0, sizeof(st));
	QuotaChoosePool(target, pool);
	if (chosen)
		*chosen = target->pool.pool;
	RefusalNote(target->user_id, target->pool.pool);
	QuotaRequireUsable(target);
	QuotaResetIfDue(&target->pool, target->user_id);
	held = WorstCase(target, c->max_in, c->max_out);

	ep = QuotaEscrowPool(&target->pool);
	if (held > 0)
	{
		if (!QuotaMemberLimitFits(target, held, &usage))
			QuotaRaiseInsufficient(target, held, &st, true, usage);
		CapsAdmit(target, held, GetCurrentTimestamp(), true);
		if (!EscrowHold(&ep, held, &st) &&
			(st.cap_refused >= 0 || QuotaExpireHolds(target->pool.pool) == 0 ||
			 !EscrowHold(&ep, held, &st)))
		{
			CapsRaiseRefused(&st, held);
			QuotaRaiseInsufficient(target, held, &st, false, 0);
		}
	}
	/* a new request, its declared maxima as its tokens */
	RateLimitAdmit(&target->pool, target->user_id,
				   RateLimitTokens(c->max_in, 0, c->max_out));
	c->expires_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
															IntervalPGetDatum(c->ttl)));
	r.request_id = c->request_id;
	r.pool = target->pool.pool;
	r.user_id = target->user_id;
	r.model = c->model;
	r.max_input_tokens = c->max_in;
	r.max_output_tokens = c->max_out;
	r.held = held;
	r.expires_at = c->expires_at;
	r.active = true;
	LedgerInsertReservation(&r);
	c->held = held;
	c->pool_name = QuotaUpperStrdup(target->pool.pool);
}

/* One attempt of FallbackRun: the reservation on one pool. */
static void
ReserveAttempt(void *arg, const char *pool, char **chosen)
{
	ReserveOnPool((ReserveCtx *) arg, pool, chosen);
}

/*
 * quota_reserve(model, max_input_tokens, max_output_tokens, request_id,
 *				 user_id, pool, ttl) -> (request_id, pool, held, expires_at)
 */
static Datum
ReserveRequest(PG_FUNCTION_ARGS)
{
	char	   *modelname;
	char	   *request_id;
	int64		max_in,
				max_out;
	Interval   *ttl;
	RequestTarget target;
	Credits		held;
	TimestampTz expires_at;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	Snapshot	snapshot;
	char	   *pool_name;

	QuotaRefuseOnStandby("quota_reserve");

	QUOTA_REQUIRE_ARG(fcinfo, 0, "model");
	QUOTA_REQUIRE_ARG(fcinfo, 1, "max_input_tokens");
	QUOTA_REQUIRE_ARG(fcinfo, 2, "max_output_tokens");
	QUOTA_REQUIRE_ARG(fcinfo, 3, "request_id");
	QUOTA_REQUIRE_ARG(fcinfo, 6, "ttl");
	modelname = text_to_cstring(PG_GETARG_TEXT_PP(0));
	max_in = PG_GETARG_INT64(1);
	max_out = PG_GETARG_INT64(2);
	request_id = text_to_cstring(PG_GETARG_TEXT_PP(3));
	ttl = PG_GETARG_INTERVAL_P(6);
	QuotaCheckTokens(max_in, "max_input_tokens");
	QuotaCheckTokens(max_out, "max_output_tokens");
	if (request_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("request_id must not be empty"),
				 errhint("Pass a unique id per request, such as a UUID.")));
	if (ttl->month < 0 || ttl->day < 0 || ttl->time < 0 ||
		(ttl->month == 0 && ttl->day == 0 && ttl->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"ttl\" must be positive"),
				 errhint("Pass how long the hold may last, such as '15 minutes'.")));
	CheckTtlLimit(ttl);

	memset(&target, 0, sizeof(target));
	target.user_id = QuotaResolveUser(fcinfo, 4);
	RefusalNote(target.user_id, PG_ARGISNULL(5) ? NULL :
				text_to_cstring(PG_GETARG_TEXT_PP(5)));

	SPI_connect();
	QuotaLockKey(request_id, QUOTA_LOCK_REQUEST);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	if (!PriorReservation(fcinfo, request_id, target.user_id, modelname,
						  max_in, max_out, snapshot, &pool_name, &held,
						  &expires_at))
	{
		ReserveCtx	c;

		if (LedgerFindCharge(request_id, snapshot, NULL))
			Reused(request_id, "The request was already charged without a reservation.");
		ConcurrentRequest(request_id);
		QuotaCheckUserExists(target.user_id, &target.profile, true);
		target.model = QuotaFindModel(modelname, false);
		c.model = modelname;
		c.request_id = request_id;
		c.max_in = max_in;
		c.max_out = max_out;
		c.ttl = ttl;
		c.target = &target;
		if (!PG_ARGISNULL(5) || !target.profile.has_fallbacks)
			ReserveOnPool(&c, PG_ARGISNULL(5) ? NULL :
						  text_to_cstring(PG_GETARG_TEXT_PP(5)), NULL);
		else
			FallbackRun(target.user_id, ReserveAttempt, &c);
		held = c.held;
		expires_at = c.expires_at;
		pool_name = c.pool_name;
	}
	UnregisterSnapshot(snapshot);
	SPI_finish();

	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = CStringGetTextDatum(request_id);
	values[1] = CStringGetTextDatum(pool_name);
	values[2] = CreditsGetDatum(held);
	values[3] = TimestampTzGetDatum(expires_at);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc,
													  values, nulls)));
}

/* SQL: quota_reserve(), its refusals counted (quota.refusals). */
Datum
quota_reserve(PG_FUNCTION_ARGS)
{
	return RefusalCounted(ReserveRequest, fcinfo);
}

static QuotaQuery lock_reservation_q = {
	"SELECT r.user_id, r.held, r.settled_at IS NULL, p.pool_id, p.pool "
	"FROM quota.reservations r JOIN quota.pool_defs p "
	"  ON p.pool OPERATOR(pg_catalog.=) r.pool "
	"WHERE r.request_id OPERATOR(pg_catalog.=) $1 FOR UPDATE OF r",
	1, {TEXTOID}
};

static QuotaQuery end_reservation_q = {
	"UPDATE quota.reservations SET settled_at = pg_catalog.now(), outcome = $2 "
	"WHERE request_id OPERATOR(pg_catalog.=) $1",
	2, {TEXTOID, TEXTOID}
};

/* Free the hold of a locked, active reservation and mark how it ended. */
static void
EndReservation(Datum request_id, int64 pool_id, char *pool, const char *user_id,
			   Credits held, const char *outcome)
{
	EscrowPool	ep;
	Datum		v[2];

	LedgerCheckWrite(QR_RESERVATIONS);
	ep.pool_id = pool_id;
	ep.pool = pool;
	/* the member's counters, before the row changes (member_caps.c) */
	MemberCapsRegister(pool_id, user_id, NULL, GetCurrentTimestamp(), 0, 0, held);
	EscrowUnhold(&ep, held);
	v[0] = request_id;
	v[1] = CStringGetTextDatum(outcome);
	if (QuotaExec(&end_reservation_q, v, NULL, 0) != 1)
		GuardNotWritten("reservations");
}

/* quota_release(request_id): free a hold without charging; false if already ended. */
Datum
quota_release(PG_FUNCTION_ARGS)
{
	char	   *request_id;
	char	   *user_id;
	Datum		rv[1];
	bool		isnull;
	bool		active;

	QuotaRefuseOnStandby("quota_release");

	QUOTA_REQUIRE_ARG(fcinfo, 0, "request_id");
	request_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	user_id = QuotaResolveUser(fcinfo, -1);

	SPI_connect();
	rv[0] = CStringGetTextDatum(request_id);
	if (QuotaExec(&lock_reservation_q, rv, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("reservation \"%s\" does not exist", request_id),
				 errhint("Pass the request_id given to quota_reserve().")));
	if (strcmp(QuotaGetText(0, 1), user_id) != 0 && !QuotaCallerIsAdmin())
	{
		Oid			app = get_role_oid("quota_app", true);

		if (!OidIsValid(app) || !has_privs_of_role(GetOuterUserId(), app))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to release reservation \"%s\"", request_id),
					 errdetail("The reservation belongs to another user.")));
	}
	active = DatumGetBool(QuotaGetDatum(0, 3, &isnull));
	if (active)
		EndReservation(rv[0], DatumGetInt64(QuotaGetDatum(0, 4, &isnull)),
					   QuotaGetText(0, 5), QuotaGetText(0, 1),
					   DatumGetCredits(QuotaGetDatum(0, 2, &isnull)), "released");
	SPI_finish();
	PG_RETURN_BOOL(active);
}

static QuotaQuery expired_q = {
	"SELECT r.request_id, r.held, p.pool_id, p.pool, r.user_id "
	"FROM quota.reservations r JOIN quota.pool_defs p "
	"  ON p.pool OPERATOR(pg_catalog.=) r.pool "
	"WHERE r.settled_at IS NULL AND r.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() "
	"  AND ($1 IS NULL OR r.pool OPERATOR(pg_catalog.=) $1) "
	"ORDER BY r.request_id FOR UPDATE OF r SKIP LOCKED",
	1, {TEXTOID}
};

/*
 * Release the expired holds of one pool (or of all pools when pool is NULL);
 * returns how many.  Rows locked by a concurrent settle or release are
 * skipped: that session ends them.
 */
int
QuotaExpireHolds(const char *pool)
{
	Datum		v[1];
	char		n[2] = " ";
	int			count;
	SPITupleTable *expired;

	/* a standby's quota_check counts them as released (standby.c) */
	if (RecoveryInProgress())
		return 0;
	v[0] = pool ? CStringGetTextDatum(pool) : (Datum) 0;
	n[0] = pool ? ' ' : 'n';
	count = QuotaExec(&expired_q, v, n, 0);
	expired = SPI_tuptable;
	for (int i = 0; i < count; i++)
	{
		bool		isnull;
		HeapTuple	tup = expired->vals[i];
		TupleDesc	desc = expired->tupdesc;

		EndReservation(SPI_getbinval(tup, desc, 1, &isnull),
					   DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull)),
					   SPI_getvalue(tup, desc, 4),
					   SPI_getvalue(tup, desc, 5),
					   DatumGetCredits(SPI_getbinval(tup, desc, 2, &isnull)),
					   "expired");
	}
	return count;
}

/* SQL: quota._expire_holds(pool) -> number of expired holds released. */
Datum
quota_expire_holds(PG_FUNCTION_ARGS)
{
	int			count;

	QuotaRefuseOnStandby("quota._expire_holds");

	SPI_connect();
	count = QuotaExpireHolds(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	SPI_finish();
	PG_RETURN_INT32(count);
}
