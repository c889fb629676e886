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
 * was counted into a charge that is counted, in the same commit.  A repeat
 * of a charged or reserved request returns before any of this.
 *
 * Member caps: a lock and counters.  Like member limits (request.c),
 * under the member's transaction advisory lock on the pool (the very lock
 * of member limits, lock 3 of charge.c, re-entrant), held to the end of the
 * transaction, so one member's requests to one pool queue (nobody else's).
 * With shared memory the member's spending per window is then read from the
 * member's counters (member_caps.c: per window, charges committed and in
 * flight, and active holds), not summed: no statement per request.  Every
 * writer of a member's spending (charges, reservations, settlements,
 * releases, expiries, capped pool or not) registers its amounts with them
 * before writing its row, so nothing depends on a snapshot and REPEATABLE
 * READ and SERIALIZABLE are as exact as READ COMMITTED; member_caps.c
 * argues why the counters equal the ledger, also when they are first read
 * from it (while transactions are in flight) and after a crash.  When the
 * counters cannot be used (no room in quota.max_members, no shared memory,
 * a hot standby's quota_check, a charge dated in a window the counters have
 * left, or their base cannot be read yet because a settlement or release of
 * the member is in flight), the member's spending is summed with a snapshot
 * taken now, at every isolation level.  Exact: every request that adds
 * spending under the cap holds that lock from its check to its end, so
 * once we hold it nobody else is admitting spending for the member, and a
 * fresh snapshot sees everything admitted and committed before (others'
 * charges and holds, releases, settlements, our own earlier rows).  An old
 * REPEATABLE READ or SERIALIZABLE snapshot would miss what committed after
 * it; raising 40001 would only make the client retry to get the answer the
 * fresh sum gives now, so the cap is decided on the fresh sum and the
 * transaction's snapshot is left for everything else.  A settlement does
 * not take the lock: its charge and the end of its hold commit together, so
 * a sum sees one or the other, and the counters count it, while it is in
 * flight, as its hold plus what its charge exceeds the hold by (at least
 * what either outcome leaves).
 *
 * Pool caps: compare-and-add in shared memory.  A lock per pool would put
 * every user of a shared pool in one queue, so the pool's spending per
 * window lives next to its balance in its escrow entry (escrow.c), under
 * the entry's spinlock: for each of the three windows (day, week, month,
 * always kept, capped or not) the charges dated in it, committed and in
 * flight, and the pool's active holds (the entry's held + pending_hold,
 * already exact).  CapsAdmit arms the escrow with the pool caps and the
 * charge's date (EscrowArmCaps); the admission that follows (EscrowDebit,
 * EscrowHold) checks spending + amount <= cap for each of them and the
 * balance in one compare-and-add, and a charge's amount joins its
 * windows' in-flight sums in the same step, so no two requests can both
 * take the same room.  At commit (after the commit record) the amount
 * moves to the window's committed sum; at abort it is dropped.  Nothing
 * here depends on a snapshot, so REPEATABLE READ and SERIALIZABLE are as
 * exact as READ COMMITTED; like the balance, a charge in flight counts
 * until its transaction ends (a request beside it may be refused although
 * it later rolls back; never the other way round).  Settlements arm the
 * escrow too (CapsSettle): never refused, but counted.
 *   Windows start in place: the first charge or hold dated at or after a
 * window's end starts the next one with zero charges (every charge dated
 * in it is admitted through the entry, so none can precede the start); an
 * amount in flight from the old window is dropped from the sums at the
 * start (a generation number tells its commit not to count it).  The first
 * window of an entry (new pool, restart, crash) counts its earlier charges
 * from the ledger, once, under a snapshot taken then: those with an
 * entry_id up to the ledger's last when the entry was created, all
 * committed at that moment because every ledger write of the pool passes
 * through its entry, and every later one got a larger id from the
 * sequence (which has no cache).  So a cap set on a pool with charges,
 * or a restart mid-window, is exact.  A request whose window ended while
 * it was admitted (a later request started the next one in between, a
 * matter of microseconds at midnight) raises 40001 and changes nothing.
 * A changed reset_timezone applies to pool caps from the next window (a
 * window never starts before the previous one ended); member caps and
 * the views use it at once.  Without shared memory (no
 * shared_preload_libraries) pool caps take the member caps' way, with a
 * transaction advisory lock on the pool (space QUOTA_LOCK_CAPS).
 *
 * The window boundary.  An unreserved charge is dated before this gate and
 * checked against the window of its date, counting exactly the charges
 * dated in that window: so a charge checked late (after midnight) against
 * yesterday's window counts yesterday, as its ledger row says, and nothing
 * of today's.  A reservation is checked against the window of the moment
 * of its check; its hold counts in every later window while it lasts.
 *
 * Locks, in the order taken: the request's lock and reservation row
 * (charge.c, locks 1 and 2), the member's lock (member caps), the pool's
 * cap lock (pool caps in locked mode only), the member counters' LWLock
 * and entry spinlock (member_caps.c: held for a look-up, never while a
 * statement runs), the escrow's spinlock (a few instructions, nothing
 * acquired under it; the windows' sums from the ledger and time zones are
 * read before it).  Deadlocks: one request
 * takes at most one member lock and one pool lock, both of its own pool,
 * always member before pool, after its request lock; two transactions can
 * only wait for each other if each charges several capped pools in
 * opposite orders, and PostgreSQL's deadlock detector then cancels one
 * (40P01), nothing of it booked.  A gateway charges one request per
 * transaction.
 *
 * Cost.  A pool without caps pays one index probe (the caps query) and
 * three comparisons under the spinlock; a window start reads the pool's
 * time zone (once per window and pool).  Member caps cost the member's
 * lock and a look-up in the counters' table (a sum of the member's charges
 * in the window when there are no counters to use, and once per member
 * when their counters are created); every request registers with the
 * member's counters (a hash and two atomic operations when the member has
 * none).  Pool caps cost nothing more than the compare-and-add.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "caps.h"
#include "config.h"
#include "cron.h"
#include "invalidation.h"
#include "member_caps.h"
#include "quota.h"
#include "ratelimit.h"
#include "request.h"
#include "route.h"
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

/* The same for the whole pool (its charges read from the rollups where it can). */
static QuotaQuery pool_spent_q = {
	"SELECT LEAST(quota._pool_window_charges($1, $2, $3) "
	"  OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(r.held::pg_catalog.numeric) "
	"    FROM quota.reservations r WHERE r.pool OPERATOR(pg_catalog.=) $1 "
	"      AND r.settled_at IS NULL), 0), "
	"  9223372036.854775807)::quota.credits",
	3, {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/* A window's end as wall-clock time of the pool's zone, for the hint. */
/* One cap of a pool. */
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

/*
 * Caps per pool, kept in the configuration cache (config.c) while no
 * configuration changed.  A charge on a pool without caps, the common
 * case, then runs no statement for them.  A hot standby's backends read the
 * table every time.
 */
static uint64 caps_filled_epoch = 0;	/* the cache's epoch last filled */

/* Every pool's caps at once (one statement per change, not per pool). */
static QuotaQuery all_caps_q = {
	"SELECT d.pool_id, c.per, c.scope OPERATOR(pg_catalog.=) 'pool', c.amount, "
	"       d.reset_timezone "
	"FROM quota.pool_caps c JOIN quota.pool_defs d ON d.pool OPERATOR(pg_catalog.=) c.pool "
	"ORDER BY d.pool_id, c.scope OPERATOR(pg_catalog.=) 'pool', "
	"  pg_catalog.array_position(ARRAY['day', 'week', 'month'], c.per)",
	0, {InvalidOid}
};

/* Fill the cache with every pool's caps; complete unless a change raced it. */
static void
FillCapsCache(void)
{
	MemoryContext cxt = ConfigCacheContext();
	int			n;
	bool		isnull;

	caps_filled_epoch = ConfigCacheEpoch();
	if (!CapsInstalled())
		return;
	n = QuotaExec(&all_caps_q, NULL, NULL, 0);
	for (int i = 0; i < n; i++)
	{
		int64		pool_id = DatumGetInt64(QuotaGetDatum(i, 1, &isnull));
		ConfigPool *e = ConfigCachePool(pool_id, true);
		PoolCap    *cap;

		if (!e->caps_known)
		{
			e->caps_known = true;
			e->ncaps = 0;
		}
		if (e->ncaps >= 2 * ESCROW_WINDOWS)
			continue;
		cap = &e->caps[e->ncaps++];
		cap->per = MemoryContextStrdup(cxt, QuotaGetText(i, 2));
		cap->pool_scope = DatumGetBool(QuotaGetDatum(i, 3, &isnull));
		cap->amount = DatumGetCredits(QuotaGetDatum(i, 4, &isnull));
		cap->timezone = MemoryContextStrdup(cxt, QuotaGetText(i, 5));
	}
	ConfigCacheSetComplete(CONFIG_CAPS);
}

/* Read the pool's caps from the table (member scope first); returns how many. */
static int
ReadCaps(const char *pool, PoolCap **caps)
{
	Datum		v[1];
	int			n;
	bool		isnull;

	*caps = NULL;
	if (!CapsInstalled())
		return 0;
	v[0] = CStringGetTextDatum(pool);
	n = Min(QuotaExec(&caps_q, v, NULL, 0), 2 * ESCROW_WINDOWS);
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

/* The pool's caps (member scope first), from the configuration cache if valid. */
static int
LoadCaps(const PoolInfo *pool, PoolCap **caps)
{
	ConfigPool *e;
	PoolCap    *read;
	int			n;

	if (!ConfigCacheUsable())
		return ReadCaps(pool->pool, caps);
	if (!ConfigCacheComplete(CONFIG_CAPS) && caps_filled_epoch != ConfigCacheEpoch())
		FillCapsCache();
	e = ConfigCachePool(pool->pool_id, false);
	if ((e == NULL || !e->caps_known) && ConfigCacheComplete(CONFIG_CAPS))
	{
		*caps = NULL;
		return 0;				/* a pool without caps */
	}
	if (e == NULL || !e->caps_known)
	{
		n = ReadCaps(pool->pool, &read);
		/* stored only if nothing changed while it was read */
		if (!ConfigCacheStorable())
		{
			*caps = read;
			return n;
		}
		e = ConfigCachePool(pool->pool_id, true);
		e->caps_known = true;
		e->ncaps = n;
		for (int i = 0; i < n; i++)
		{
			e->caps[i] = read[i];
			e->caps[i].per = MemoryContextStrdup(ConfigCacheContext(), read[i].per);
			e->caps[i].timezone = MemoryContextStrdup(ConfigCacheContext(),
													  read[i].timezone);
		}
	}
	*caps = e->ncaps > 0 ? palloc(e->ncaps * sizeof(PoolCap)) : NULL;
	if (e->ncaps > 0)
		memcpy(*caps, e->caps, e->ncaps * sizeof(PoolCap));
	return e->ncaps;
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
	char	   *name = CapName(cap);
	char	   *local_end = QuotaLocalTime(end, cap->timezone);

	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_INSUFFICIENT),
			 cap->pool_scope ?
			 errmsg("insufficient quota: %s cap of pool \"%s\" reached",
					PerAdjective(cap->per), target->pool.pool) :
			 errmsg("insufficient quota: %s cap of user \"%s\" in pool \"%s\" reached",
					PerAdjective(cap->per), target->user_id, target->pool.pool),
			 errdetail("The %s cap is %s credits %s; %s are used or held this %s and the request needs %s.",
					   PerAdjective(cap->per), CreditsToCString(cap->amount),
					   cap->pool_scope ? "for the pool" : "per member",
					   CreditsToCString(spent), cap->per, CreditsToCString(amount)),
			 errhint("Pool \"%s\" has a %s; its window ends at %s (%s). Requests to free models are not capped.",
					 target->pool.pool, name, local_end, cap->timezone)));
}

/* The window index of escrow.h (day 0, week 1, month 2). */
static int
WindowIndex(const char *per)
{
	return strcmp(per, "day") == 0 ? 0 : strcmp(per, "week") == 0 ? 1 : 2;
}

/* What CapsRefusedPool reports: the pool-scope caps of the armed request. */
static struct
{
	char	   *pool;
	PoolCap		caps[ESCROW_WINDOWS];
} armed_info;

/*
 * Arm the escrow with the pool-scope caps of the next charge or hold on
 * the pool (none: a charge is still counted in its windows).
 */
static void
ArmPoolCaps(const RequestTarget *target, const PoolCap *caps, int n,
			TimestampTz at, bool charge)
{
	EscrowCapCheck check;

	memset(&check, 0, sizeof(check));
	check.charge = charge;
	check.pool_id = target->pool.pool_id;
	check.at = at;
	armed_info.pool = MemoryContextStrdup(TopTransactionContext, target->pool.pool);
	for (int i = 0; i < n; i++)
	{
		int			k;

		if (!caps[i].pool_scope)
			continue;
		k = WindowIndex(caps[i].per);
		check.has_cap[k] = true;
		check.cap[k] = caps[i].amount;
		armed_info.caps[k] = caps[i];
		armed_info.caps[k].per = MemoryContextStrdup(TopTransactionContext, caps[i].per);
		armed_info.caps[k].timezone = MemoryContextStrdup(TopTransactionContext,
														  caps[i].timezone);
	}
	EscrowArmCaps(&check);
}

/*
 * After a refused debit or hold (EscrowDebit, EscrowHold of a request
 * armed by CapsAdmit): if a pool cap refused it, raise QU001 for that cap.
 * Nothing was admitted.  Returns when no cap refused it.
 */
void
CapsRaiseRefused(const EscrowState *st, Credits amount)
{
	RequestTarget target;

	if (st->cap_refused < 0)
		return;
	memset(&target, 0, sizeof(target));
	target.pool.pool = armed_info.pool;
	RaiseCap(&target, &armed_info.caps[st->cap_refused], st->cap_spent, amount,
			 st->cap_end);
}

/*
 * A settlement is never refused by caps, but its charge counts in the
 * pool's windows (tell the escrow its date), and its charge and freed hold
 * in the member's (member_caps.c).
 */
void
CapsSettle(const RequestTarget *target, TimestampTz at, Credits amount,
		   Credits freed)
{
	PoolCap    *caps;
	int			n;

	if (!EscrowIsShared())
		return;
	ArmPoolCaps(target, NULL, 0, at, true);
	n = LoadCaps(&target->pool, &caps);
	MemberCapsRegister(target->pool.pool_id, target->user_id,
					   n > 0 ? caps[0].timezone : NULL, at, amount, 0, freed);
}

/*
 * The gate of a new request (a reservation's hold, an unreserved charge's
 * cost) dated at: raise QU001 if it would pass one of the pool's member
 * caps; its pool caps are checked by the escrow's admission that follows
 * (EscrowDebit, EscrowHold), or here without shared memory.  Takes the
 * caps' locks (see the top of the file); the caller is connected to SPI
 * and has taken the request's lock.  With shared memory, the request is
 * then registered with the member's counters (member_caps.c), capped or
 * not, before its row is written.
 */
void
CapsAdmit(const RequestTarget *target, Credits amount, TimestampTz at, bool hold)
{
	PoolCap    *caps;
	int			n;
	bool		member_locked = false;
	bool		pool_locked = false;
	bool		shared = EscrowIsShared();
	bool		pool_shared = shared;
	bool		counted = false;
	int128		member_spent[ESCROW_WINDOWS];
	bool		usable[ESCROW_WINDOWS] = {false, false, false};

	if (amount <= 0)
		return;
	n = LoadCaps(&target->pool, &caps);
	/* a pool without room in shared memory has its pool caps summed here */
	for (int i = 0; i < n && pool_shared; i++)
		if (caps[i].pool_scope)
		{
			EscrowPool	ep = QuotaEscrowPool(&target->pool);

			pool_shared = EscrowPoolShared(&ep);
			break;
		}
	if (pool_shared)
		ArmPoolCaps(target, caps, n, at, !hold);
	for (int i = 0; i < n; i++)
	{
		PoolCap    *cap = &caps[i];
		TimestampTz start;
		TimestampTz end;
		int128		spent;
		int			k = WindowIndex(cap->per);

		if (cap->pool_scope && pool_shared)
			continue;
		if (!cap->pool_scope && !member_locked)
		{
			QuotaLockKey(psprintf(INT64_FORMAT ":%s", target->pool.pool_id,
								  target->user_id), QUOTA_LOCK_MEMBER);
			member_locked = true;
			counted = shared &&
				MemberCapsSpent(target->pool.pool_id, target->pool.pool,
								target->user_id, cap->timezone, at,
								member_spent, usable);
		}
		if (cap->pool_scope && !pool_locked)
		{
			QuotaLockKey(psprintf(INT64_FORMAT, target->pool.pool_id),
						 QUOTA_LOCK_CAPS);
			pool_locked = true;
		}
		if (!cap->pool_scope && counted && usable[k])
			spent = member_spent[k];	/* no statement: the counters */
		else
		{
			QuotaWindowBounds(cap->per, cap->timezone, at, &start, &end);
			spent = CapSpent(target, cap, start, end);
		}
		/* exact: a sum past the type's range is past any cap */
		if (spent + amount > cap->amount)
		{
			QuotaWindowBounds(cap->per, cap->timezone, at, &start, &end);
			RaiseCap(target, cap, spent > CREDITS_MAX ? CREDITS_MAX :
					 spent < 0 ? 0 : (Credits) spent, amount, end);
		}
	}
	if (shared)
		MemberCapsRegister(target->pool.pool_id, target->user_id,
						   n > 0 ? caps[0].timezone : NULL, at,
						   hold ? 0 : amount, hold ? amount : 0, 0);
}

/*
 * For quota_check: the first cap that leaves no room now ("daily cap of 2
 * credits per member reached"), or NULL.  Takes no lock.
 */
const char *
CapsRefusal(const RequestTarget *target)
{
	PoolCap    *caps;
	int			n = LoadCaps(&target->pool, &caps);
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < n; i++)
	{
		TimestampTz start;
		TimestampTz end;
		Credits		spent;
		EscrowPool	ep = QuotaEscrowPool(&target->pool);

		if (!caps[i].pool_scope ||
			!EscrowWindowSpent(&ep, WindowIndex(caps[i].per), now, &spent))
		{
			QuotaWindowBounds(caps[i].per, caps[i].timezone, now, &start, &end);
			spent = CapSpent(target, &caps[i], start, end);
		}
		if (spent >= caps[i].amount)
			return psprintf("%s reached", CapName(&caps[i]));
	}
	return NULL;
}

/*
 * The zone of the pool's caps (its reset_timezone), in which the member's
 * counters keep their calendar windows; NULL for a pool without caps.
 */
const char *
CapsTimezone(const PoolInfo *pool)
{
	PoolCap    *caps;

	return LoadCaps(pool, &caps) > 0 ? caps[0].timezone : NULL;
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
	QuotaWindowBounds(per, text_to_cstring(PG_GETARG_TEXT_PP(1)),
			   PG_GETARG_TIMESTAMPTZ(2), &start, &end);
	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = TimestampTzGetDatum(start);
	values[1] = TimestampTzGetDatum(end);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
