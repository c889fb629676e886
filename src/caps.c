/*
 * caps.c
 *		Spending caps per calendar day, week and month (quota_set_cap): their
 *		windows, and the gate that quota_check, quota_reserve and unreserved
 *		quota_charge pass through (CapsAdmit, CapsRefusal).
 *
 * Windows.  A cap's window is the calendar day, week (from Monday) or month
 * in the pool's reset_timezone, found with the cron engine (cron.c) and so
 * with its DST rules: a day is the span between two firings of '0 0 * * *'
 * (a week of '0 0 * * 1', a month of '0 0 1 * *') in that zone.  A midnight
 * that falls in a DST gap starts the day at the first instant after the
 * gap; a midnight that occurs twice starts it at the first occurrence.
 *
 * What is counted.  A cap's spending in a window is the final cost of the
 * charges dated (ledger.at) in the window, settlements included, plus the
 * holds of the reservations still active (a hold counts in every window
 * while it is active, as it does against the pool's available).  A new
 * request (a reservation's hold, an unreserved charge's cost) is admitted
 * only if spending + its amount <= the cap, for each cap of the pool: per
 * member (that member's charges and holds) or for the pool (everyone's).
 * Settlements are never refused by caps: a settlement turns a hold that
 * was counted into a charge that is counted, in the same commit.
 *
 * Locks, in the order taken (after locks 1 and 2 of charge.c):
 *	 a. member caps: the member's transaction advisory lock on the pool, the
 *		very lock of member limits (lock 3 of charge.c, re-entrant);
 *	 b. pool caps: a transaction advisory lock on the pool in the space
 *		QUOTA_LOCK_CAPS, taken only when the pool has a pool-scope cap;
 *	 c. the escrow's spinlock (escrow.c), after this gate.
 * Under them the spending is summed with a snapshot taken now, at every
 * isolation level.  Why that is exact: every request that adds spending
 * under a cap (a reservation, an unreserved charge) holds that cap's lock
 * from its check to the end of its transaction.  Once we hold it, no other
 * transaction can be admitting spending under the cap, and a fresh
 * snapshot sees everything admitted and committed before: other
 * transactions' charges and holds, releases and settlements, and our own
 * earlier rows.  An old REPEATABLE READ or SERIALIZABLE snapshot would miss
 * what committed after it; raising 40001 would only make the client retry
 * to get the answer the fresh sum gives now, so the cap is decided on the
 * fresh sum and the transaction's snapshot is left for everything else (as
 * for member limits, request.c).  A settlement does not take the lock, but
 * its charge and the end of its hold commit together, so a sum sees one or
 * the other; releases and expiries only lower the spending.
 *
 * The window boundary.  An unreserved charge is dated before this gate and
 * checked against the window of its date, counting exactly the charges
 * dated in that window: so a charge checked late (after midnight) against
 * yesterday's window counts yesterday, as its ledger row says, and nothing
 * of today's.  A reservation is checked against the window of the moment
 * of its check; its hold counts in every later window while it lasts.
 *
 * Deadlocks.  One request takes at most one member lock and one pool lock,
 * both of the pool it is charged to, always member before pool, after its
 * request lock; nothing is waited for while the escrow spinlock is held.
 * Two transactions can only wait for each other if each charges several
 * capped pools, in opposite orders; PostgreSQL's deadlock detector then
 * cancels one (40P01) and nothing of it is booked.  A gateway charges one
 * request per transaction.
 *
 * Cost.  A pool without caps pays one index probe (the caps query).  A pool
 * cap serialises the admissions of the pool while each admitting
 * transaction is open (charges of a pool without pool caps, and settlements,
 * are not serialised), and each admission sums the window's charges of the
 * pool by the (pool, at) index: one row per charge in the window.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "caps.h"
#include "cron.h"
#include "quota.h"
#include "rowtype.h"

/* The caps of a pool, member scope first (the lock order), with its zone. */
static QuotaQuery caps_q = {
	"SELECT c.per, c.scope OPERATOR(pg_catalog.=) 'pool', c.amount, d.reset_timezone "
	"FROM quota.pool_caps c JOIN quota.pool_defs d ON d.pool OPERATOR(pg_catalog.=) c.pool "
	"WHERE c.pool OPERATOR(pg_catalog.=) $1 "
	"ORDER BY c.scope OPERATOR(pg_catalog.=) 'pool', "
	"  pg_catalog.array_position(ARRAY['day', 'week', 'month'], c.per)",
	1, {TEXTOID}
};

/*
 * Spending of one member in a window: charges dated in [start, end) plus
 * active holds, summed in numeric (a sum past the type's range is read as
 * its largest value: past any cap, so QU001 and never 22003).
 */
static QuotaQuery member_spent_q = {
	"SELECT LEAST(coalesce((SELECT -pg_catalog.sum(l.amount::pg_catalog.numeric) "
	"    FROM quota.ledger l WHERE l.pool OPERATOR(pg_catalog.=) $1 "
	"      AND l.user_id OPERATOR(pg_catalog.=) $2 AND l.kind OPERATOR(pg_catalog.=) 'charge' "
	"      AND l.at OPERATOR(pg_catalog.>=) $3 AND l.at OPERATOR(pg_catalog.<) $4), 0) "
	"  OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(r.held::pg_catalog.numeric) "
	"    FROM quota.reservations r WHERE r.pool OPERATOR(pg_catalog.=) $1 "
	"      AND r.user_id OPERATOR(pg_catalog.=) $2 AND r.settled_at IS NULL), 0), "
	"  9223372036.854775807)::quota.credits",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/* The same for the whole pool. */
static QuotaQuery pool_spent_q = {
	"SELECT LEAST(coalesce((SELECT -pg_catalog.sum(l.amount::pg_catalog.numeric) "
	"    FROM quota.ledger l WHERE l.pool OPERATOR(pg_catalog.=) $1 "
	"      AND l.kind OPERATOR(pg_catalog.=) 'charge' "
	"      AND l.at OPERATOR(pg_catalog.>=) $2 AND l.at OPERATOR(pg_catalog.<) $3), 0) "
	"  OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(r.held::pg_catalog.numeric) "
	"    FROM quota.reservations r WHERE r.pool OPERATOR(pg_catalog.=) $1 "
	"      AND r.settled_at IS NULL), 0), "
	"  9223372036.854775807)::quota.credits",
	3, {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/* A window's end as wall-clock time of the pool's zone, for the hint. */
static QuotaQuery local_time_q = {
	"SELECT pg_catalog.to_char(pg_catalog.timezone($2, $1), 'YYYY-MM-DD HH24:MI')",
	2, {TIMESTAMPTZOID, TEXTOID}
};

/* One cap of a pool. */
typedef struct PoolCap
{
	char	   *per;			/* day, week or month */
	bool		pool_scope;
	Credits		amount;
	char	   *timezone;
} PoolCap;

/* The cron expression whose firings start the windows of a period. */
static const char *
WindowCron(const char *per, int64 *span)
{
	if (strcmp(per, "day") == 0)
	{
		*span = 26 * USECS_PER_HOUR;	/* longer than any day */
		return "0 0 * * *";
	}
	if (strcmp(per, "week") == 0)
	{
		*span = 8 * USECS_PER_DAY;
		return "0 0 * * 1";
	}
	*span = 32 * USECS_PER_DAY;
	return "0 0 1 * *";
}

/* The window [*start, *end) of a period containing at, in the zone. */
void
CapsWindow(const char *per, const char *timezone, TimestampTz at,
		   TimestampTz *start, TimestampTz *end)
{
	int64		span;
	const char *cron = WindowCron(per, &span);
	TimestampTz s = QuotaNextReset(cron, timezone, at - span);
	TimestampTz next;

	/* the last firing at or before at: at least one lies within a span */
	while ((next = QuotaNextReset(cron, timezone, s)) <= at)
		s = next;
	*start = s;
	*end = next;
}

/* The adjective of a period: daily, weekly, monthly. */
static const char *
PerAdjective(const char *per)
{
	return strcmp(per, "day") == 0 ? "daily" :
		strcmp(per, "week") == 0 ? "weekly" : "monthly";
}

/* Is quota.pool_caps there?  Not with the 0.1 SQL, which this library serves too. */
static bool
CapsInstalled(void)
{
	Oid			nsp = get_namespace_oid("quota", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("pool_caps", nsp));
}

/* Load the pool's caps (member scope first); returns how many. */
static int
LoadCaps(const char *pool, PoolCap **caps)
{
	Datum		v[1];
	int			n;
	bool		isnull;

	*caps = NULL;
	if (!CapsInstalled())
		return 0;
	v[0] = CStringGetTextDatum(pool);
	n = QuotaExec(&caps_q, v, NULL, 0);
	*caps = n > 0 ? palloc(n * sizeof(PoolCap)) : NULL;
	for (int i = 0; i < n; i++)
	{
		(*caps)[i].per = QuotaGetText(i, 1);
		(*caps)[i].pool_scope = DatumGetBool(QuotaGetDatum(i, 2, &isnull));
		(*caps)[i].amount = DatumGetCredits(QuotaGetDatum(i, 3, &isnull));
		(*caps)[i].timezone = QuotaGetText(i, 4);
	}
	return n;
}

/* Spending under a cap in the window [start, end), summed with a snapshot taken now. */
static Credits
CapSpent(const RequestTarget *target, const PoolCap *cap,
		 TimestampTz start, TimestampTz end)
{
	Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
	bool		isnull;
	Datum		d;

	if (cap->pool_scope)
	{
		Datum		v[3] = {CStringGetTextDatum(target->pool.pool),
			TimestampTzGetDatum(start), TimestampTzGetDatum(end)};

		QuotaExecSnapshot(&pool_spent_q, v, NULL, latest, 1);
	}
	else
	{
		Datum		v[4] = {CStringGetTextDatum(target->pool.pool),
			CStringGetTextDatum(target->user_id),
			TimestampTzGetDatum(start), TimestampTzGetDatum(end)};

		QuotaExecSnapshot(&member_spent_q, v, NULL, latest, 1);
	}
	UnregisterSnapshot(latest);
	d = QuotaGetDatum(0, 1, &isnull);
	return isnull ? 0 : DatumGetCredits(d);
}

/* "daily cap of 2 credits per member" */
static char *
CapName(const PoolCap *cap)
{
	return psprintf("%s cap of %s credits %s", PerAdjective(cap->per),
					CreditsToCString(cap->amount),
					cap->pool_scope ? "for the pool" : "per member");
}

/* Raise QU001 for a request that would pass a cap. */
static void
RaiseCap(const RequestTarget *target, const PoolCap *cap, Credits spent,
		 Credits amount, TimestampTz end)
{
	Datum		v[2] = {TimestampTzGetDatum(end), CStringGetTextDatum(cap->timezone)};
	char	   *name = CapName(cap);
	char	   *local_end;

	QuotaExec(&local_time_q, v, NULL, 1);
	local_end = QuotaGetText(0, 1);
	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_INSUFFICIENT),
			 cap->pool_scope ?
			 errmsg("insufficient quota: %s cap of pool \"%s\" reached",
					PerAdjective(cap->per), target->pool.pool) :
			 errmsg("insufficient quota: %s cap of user \"%s\" in pool \"%s\" reached",
					PerAdjective(cap->per), target->user_id, target->pool.pool),
			 errdetail("The %s; %s are used or held in this %s and the request needs %s.",
					   name, CreditsToCString(spent), cap->per,
					   CreditsToCString(amount)),
			 errhint("Pool \"%s\" has a %s; its window ends at %s (%s). Requests to free models are not capped.",
					 target->pool.pool, name, local_end, cap->timezone)));
}

/*
 * The gate of a new request (a reservation's hold, an unreserved charge's
 * cost) dated at: raise QU001 if it would pass one of the pool's caps.
 * Takes the caps' locks (see the top of the file); the caller is connected
 * to SPI and has taken the request's lock.
 */
void
CapsAdmit(const RequestTarget *target, Credits amount, TimestampTz at)
{
	PoolCap    *caps;
	int			n;
	bool		member_locked = false;
	bool		pool_locked = false;

	if (amount <= 0)
		return;
	n = LoadCaps(target->pool.pool, &caps);
	for (int i = 0; i < n; i++)
	{
		PoolCap    *cap = &caps[i];
		TimestampTz start;
		TimestampTz end;
		Credits		spent;

		if (!cap->pool_scope && !member_locked)
		{
			QuotaLockKey(psprintf(INT64_FORMAT ":%s", target->pool.pool_id,
								  target->user_id), QUOTA_LOCK_MEMBER);
			member_locked = true;
		}
		if (cap->pool_scope && !pool_locked)
		{
			QuotaLockKey(psprintf(INT64_FORMAT, target->pool.pool_id),
						 QUOTA_LOCK_CAPS);
			pool_locked = true;
		}
		CapsWindow(cap->per, cap->timezone, at, &start, &end);
		spent = CapSpent(target, cap, start, end);
		/* exact: a sum past the type's range is past any cap */
		if ((int128) spent + amount > cap->amount)
			RaiseCap(target, cap, spent, amount, end);
	}
}

/*
 * For quota_check: the first cap that leaves no room now ("daily cap of 2
 * credits per member reached"), or NULL.  Takes no lock.
 */
const char *
CapsRefusal(const RequestTarget *target)
{
	PoolCap    *caps;
	int			n = LoadCaps(target->pool.pool, &caps);
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < n; i++)
	{
		TimestampTz start;
		TimestampTz end;

		CapsWindow(caps[i].per, caps[i].timezone, now, &start, &end);
		if (CapSpent(target, &caps[i], start, end) >= caps[i].amount)
			return psprintf("%s reached", CapName(&caps[i]));
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(quota_cap_window);

/* SQL: quota._cap_window(per, timezone, at) -> (window_start, window_end). */
Datum
quota_cap_window(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	TimestampTz start;
	TimestampTz end;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	char	   *per;

	QUOTA_REQUIRE_ARG(fcinfo, 0, "per");
	QUOTA_REQUIRE_ARG(fcinfo, 1, "timezone");
	QUOTA_REQUIRE_ARG(fcinfo, 2, "at");
	per = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strcmp(per, "day") != 0 && strcmp(per, "week") != 0 &&
		strcmp(per, "month") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cap period \"%s\"", per),
				 errhint("Use 'day', 'week' or 'month'.")));
	CapsWindow(per, text_to_cstring(PG_GETARG_TEXT_PP(1)),
			   PG_GETARG_TIMESTAMPTZ(2), &start, &end);
	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = TimestampTzGetDatum(start);
	values[1] = TimestampTzGetDatum(end);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
