/*
 * ratelimit.c
 *		Requests and tokens per minute: quota_set_rate_limit's limits, read
 *		and cached per pool, and enforced in the shared rate windows
 *		(rate_window.c, whose top explains the windows) or, without shared
 *		memory, in a table.
 *
 * Locked mode (quota not in shared_preload_libraries: no shared memory)
 * ------------------------------------------------------------------------
 * Each admission is a row of the unlogged table quota.rate_window (pool,
 * user, the clock time it was admitted, its tokens), written by the
 * admitting transaction, so a rolled-back admission was never there.  An
 * admission takes the pool's transaction advisory lock (the lock that
 * serialises the pool's writers in locked mode), so no other admission to
 * the pool is in flight; it reads the last 60 seconds of the pool's (or the
 * member's) rows with a fresh snapshot, which sees every admission
 * committed, at every isolation level; and only if every limit holds it
 * adds its row.  So no 60 seconds hold more than the limit, exactly.  The
 * rows older than a minute are deleted by the next admission to the pool.
 * Unlogged: they vanish at a crash, like the counters, and are neither
 * replicated nor dumped; a standby enforces nothing (it admits nothing).
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "escrow.h"
#include "member_caps.h"
#include "pools.h"
#include "invalidation.h"
#include "quota.h"
#include "rate_window.h"
#include "config.h"
#include "ratelimit.h"
#include "route.h"
#include "settings.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(quota_rate_limits_changed);

static uint64 rules_filled_epoch = 0;	/* the cache's epoch last filled */


static QuotaQuery rules_q = {
	"SELECT scope OPERATOR(pg_catalog.=) 'pool', "
	"       coalesce(requests_per_minute, 0), coalesce(tokens_per_minute, 0) "
	"FROM quota.rate_limits WHERE pool OPERATOR(pg_catalog.=) $1 "
	"ORDER BY scope OPERATOR(pg_catalog.=) 'pool' DESC",
	1, {TEXTOID}
};

/* Statement trigger on quota.rate_limits: backends re-read limits after commit. */
Datum
quota_rate_limits_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "quota_rate_limits_changed: not called as a trigger");
	QuotaConfigChanged(((TriggerData *) fcinfo->context)->tg_relation);
	PG_RETURN_POINTER(NULL);
}

/* Every pool's rules at once (one statement per change, not per pool). */
static QuotaQuery all_rules_q = {
	"SELECT d.pool_id, r.scope OPERATOR(pg_catalog.=) 'pool', "
	"       coalesce(r.requests_per_minute, 0), coalesce(r.tokens_per_minute, 0) "
	"FROM quota.rate_limits r JOIN quota.pool_defs d ON d.pool OPERATOR(pg_catalog.=) r.pool "
	"ORDER BY d.pool_id, r.scope OPERATOR(pg_catalog.=) 'pool' DESC",
	0, {InvalidOid}
};

/* Fill the cache with every pool's rules; complete unless a change raced it. */
static void
FillRulesCache(void)
{
	Oid			nsp = get_namespace_oid("quota", true);
	int			n;

	rules_filled_epoch = ConfigCacheEpoch();
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("rate_limits", nsp)))
		return;
	n = QuotaExec(&all_rules_q, NULL, NULL, 0);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int64		pool_id = DatumGetInt64(QuotaGetDatum(i, 1, &isnull));
		ConfigPool *c = ConfigCachePool(pool_id, true);
		RateRule   *rule;

		if (!c->rules_known)
		{
			c->rules_known = true;
			c->nrules = 0;
		}
		if (c->nrules >= 2)
			continue;
		rule = &c->rules[c->nrules++];
		rule->pool_scope = DatumGetBool(QuotaGetDatum(i, 2, &isnull));
		rule->requests = DatumGetInt32(QuotaGetDatum(i, 3, &isnull));
		rule->tokens = DatumGetInt64(QuotaGetDatum(i, 4, &isnull));
	}
	ConfigCacheSetComplete(CONFIG_RULES);
}

/*
 * The pool's limits (at most two rules, the pool's first), from the
 * configuration cache while no limit changed since it was filled.
 */
static int
PoolRules(const PoolInfo *pool, RateRule *rules)
{
	Oid			nsp;
	ConfigPool *c;
	int			n;
	bool		cacheable = ConfigCacheUsable();

	if (cacheable)
	{
		if (!ConfigCacheComplete(CONFIG_RULES) && rules_filled_epoch != ConfigCacheEpoch())
			FillRulesCache();
		c = ConfigCachePool(pool->pool_id, false);
		if (c != NULL && c->rules_known)
		{
			memcpy(rules, c->rules, sizeof(RateRule) * c->nrules);
			return c->nrules;
		}
		if (ConfigCacheComplete(CONFIG_RULES))
			return 0;			/* a pool without rate limits */
	}

	/* an extension still at 0.1 has no rate limits */
	nsp = get_namespace_oid("quota", true);
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("rate_limits", nsp)))
		n = 0;
	else
	{
		Datum		v[1] = {CStringGetTextDatum(pool->pool)};

		n = Min(QuotaExec(&rules_q, v, NULL, 2), 2);
		for (int i = 0; i < n; i++)
		{
			bool		isnull;

			rules[i].pool_scope = DatumGetBool(QuotaGetDatum(i, 1, &isnull));
			rules[i].requests = DatumGetInt32(QuotaGetDatum(i, 2, &isnull));
			rules[i].tokens = DatumGetInt64(QuotaGetDatum(i, 3, &isnull));
		}
	}
	/* stored only if no limit changed while it was read */
	if (cacheable && ConfigCacheStorable())
	{
		c = ConfigCachePool(pool->pool_id, true);
		c->rules_known = true;
		c->nrules = n;
		memcpy(c->rules, rules, sizeof(RateRule) * n);
	}
	return n;
}

/* The figures of a limit for messages: "20 requests per minute". */
static char *
RateLimitText(const RateVerdict *v)
{
	return v->by_tokens ?
		psprintf(INT64_FORMAT " tokens per minute", v->rule.tokens) :
		psprintf("%d requests per minute", v->rule.requests);
}

static QuotaQuery window_prune_q = {
	"DELETE FROM quota.rate_window WHERE pool OPERATOR(pg_catalog.=) $1 "
	"AND admitted_at OPERATOR(pg_catalog.<=) $2",
	2, {TEXTOID, TIMESTAMPTZOID}
};

static QuotaQuery window_pool_q = {
	"SELECT admitted_at, tokens FROM quota.rate_window "
	"WHERE pool OPERATOR(pg_catalog.=) $1 AND admitted_at OPERATOR(pg_catalog.>) $2 "
	"ORDER BY admitted_at",
	2, {TEXTOID, TIMESTAMPTZOID}
};

static QuotaQuery window_member_q = {
	"SELECT admitted_at, tokens FROM quota.rate_window "
	"WHERE pool OPERATOR(pg_catalog.=) $1 AND user_id OPERATOR(pg_catalog.=) $3 "
	"  AND admitted_at OPERATOR(pg_catalog.>) $2 "
	"ORDER BY admitted_at",
	3, {TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

static QuotaQuery window_add_q = {
	"INSERT INTO quota.rate_window (pool, user_id, admitted_at, tokens) "
	"VALUES ($1, $2, $3, $4)",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}
};

/*
 * The link to a rule's rate window in its slot: the pool's (escrow.c) or
 * the member's (member_caps.c, pinned until MemberRateRelease); the slot is
 * made if need be with create.  NULL: it has none.
 */
static RateLink *
RuleLink(const PoolInfo *pool, const char *user_id, const RateRule *rule, bool create)
{
	EscrowPool	ep;

	if (!rule->pool_scope)
		return MemberRateLink(pool->pool_id, user_id, create);
	ep = QuotaEscrowPool(pool);
	return EscrowRateLink(&ep, create);
}

/* One admission still in a window: when it leaves it, and what it holds. */
typedef struct WindowItem
{
	TimestampTz leaves;
	int64		requests;
	int64		tokens;
} WindowItem;

/* Order window items by when they leave. */
static int
WindowItemCmp(const void *a, const void *b)
{
	TimestampTz x = ((const WindowItem *) a)->leaves;
	TimestampTz y = ((const WindowItem *) b)->leaves;

	return x < y ? -1 : x > y;
}

/*
 * Locked and table mode: compare one rule with the admissions of the last
 * 60 seconds (the rows read with snapshot; in table mode also the seconds
 * still in the shared counter) for a request of these tokens; on refusal
 * fill *v and return false.  See the top of the file.
 */
static bool
WindowFits(const PoolInfo *pool, const char *user_id, const RateRule *rule,
		   int64 tokens, TimestampTz now, Snapshot snapshot, bool shared,
		   RateVerdict *v)
{
	Datum		args[3] = {CStringGetTextDatum(pool->pool),
						   TimestampTzGetDatum(now - 60 * USECS_PER_SEC),
						   CStringGetTextDatum(user_id)};
	int			n = QuotaExecSnapshot(rule->pool_scope ? &window_pool_q : &window_member_q,
									  args, NULL, snapshot, 0);
	RateSecond	seconds[RATE_SLOTS];
	int			m = 0;
	WindowItem *items;
	int64		requests = n;
	int128		total = 0;
	int128		need;
	bool		isnull;

	if (shared)
	{
		m = RateWindowSeconds(RuleLink(pool, user_id, rule, false),
							  (int32) (now / USECS_PER_SEC), seconds);
		MemberRateRelease();
	}
	items = palloc((n + m + 1) * sizeof(WindowItem));
	for (int i = 0; i < n; i++)
	{
		items[i].leaves = DatumGetTimestampTz(QuotaGetDatum(i, 1, &isnull)) +
			60 * USECS_PER_SEC;
		items[i].requests = 1;
		items[i].tokens = DatumGetInt64(QuotaGetDatum(i, 2, &isnull));
		total += items[i].tokens;
	}
	/* a second's admissions count until the window has moved past it */
	for (int i = 0; i < m; i++)
	{
		items[n + i].leaves = (TimestampTz) (seconds[i].second + RATE_SLOTS) * USECS_PER_SEC;
		items[n + i].requests = seconds[i].requests;
		items[n + i].tokens = seconds[i].tokens;
		requests += seconds[i].requests;
		total += seconds[i].tokens;
	}
	need = RateNeed(rule, requests, total, tokens, v);
	if (need == 0)
		return true;
	v->wait_us = (int64) RATE_SLOTS * USECS_PER_SEC;
	if (v->never)
		return false;
	/* the oldest admissions leave first: when has enough left? */
	qsort(items, n + m, sizeof(WindowItem), WindowItemCmp);
	for (int i = 0; i < n + m; i++)
	{
		need -= v->by_tokens ? items[i].tokens : items[i].requests;
		if (need <= 0)
		{
			v->wait_us = Max(items[i].leaves - now, 1);
			break;
		}
	}
	return false;
}

/*
 * Locked mode, and table mode of the shared windows (shared): compare a
 * request with the pool's rules from quota.rate_window (and the shared
 * counters) and, when count is true and it fits, admit it (see the top of
 * the file).  A standby, or a schema without the table (before ALTER
 * EXTENSION UPDATE), enforces nothing.
 */
static bool
WindowCompare(const PoolInfo *pool, const char *user_id, int64 tokens,
			  bool count, const RateRule *rules, int n, bool shared, RateVerdict *v)
{
	Oid			nsp = get_namespace_oid("quota", true);
	TimestampTz now;
	Snapshot	snapshot;
	bool		fits = true;

	if (RecoveryInProgress() || !OidIsValid(nsp) ||
		!OidIsValid(get_relname_relid("rate_window", nsp)))
		return true;
	if (count)
		EscrowLockPool(pool->pool_id);
	now = GetCurrentTimestamp();
	/*
	 * Table mode: extended before the counters are read, so that every
	 * admission after this reading comes here too (rate_window.c).
	 */
	if (shared && count)
		RateWindowTableAdmission((int32) (now / USECS_PER_SEC));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	if (count)
	{
		Datum		prune[2] = {CStringGetTextDatum(pool->pool),
								TimestampTzGetDatum(now - 60 * USECS_PER_SEC)};

		QuotaExecSnapshot(&window_prune_q, prune, NULL, snapshot, 0);
	}
	for (int i = 0; i < n && fits; i++)
		fits = WindowFits(pool, user_id, &rules[i], tokens, now, snapshot, shared, v);
	UnregisterSnapshot(snapshot);
	if (fits && count)
	{
		Datum		row[4] = {CStringGetTextDatum(pool->pool), CStringGetTextDatum(user_id),
							  TimestampTzGetDatum(now), Int64GetDatum(tokens)};

		QuotaExec(&window_add_q, row, NULL, 0);
	}
	return fits;
}

/*
 * Compare a request with the pool's limits and, when count is true and it
 * fits, admit it: in the shared rate windows, or in locked mode in
 * quota.rate_window.  Returns false with *v filled when a limit refuses.
 */
static bool
RateCompare(const PoolInfo *pool, const char *user_id, int64 tokens,
			bool count, RateVerdict *v)
{
	RateRule	rules[2];
	RateLink   *links[2];
	int			n;
	RateOutcome outcome;

	memset(v, 0, sizeof(RateVerdict));
	if (pool->pool_id == 0 || (QuotaPreloaded() && !RateWindowsReady()))
		return true;
	n = PoolRules(pool, rules);
	if (n == 0)
		return true;
	if (!QuotaPreloaded())
		return WindowCompare(pool, user_id, tokens, count, rules, n, false, v);
	/* the member's slot (pinned) after the pool's, which may be made by SPI */
	for (int i = 0; i < n; i++)
		links[i] = RuleLink(pool, user_id, &rules[i], count);
	outcome = RateWindowAdmit(links, rules, n, tokens, count, v);
	MemberRateRelease();
	switch (outcome)
	{
		case RATE_FITS:
			return true;
		case RATE_REFUSED:
			return false;
		case RATE_TABLE:
			break;
	}
	return WindowCompare(pool, user_id, tokens, count, rules, n, true, v);
}

/*
 * Admit a new request of a pool (one request, these tokens) or raise QU006
 * naming the limit, with the seconds to wait.
 */
void
RateLimitAdmit(const PoolInfo *pool, const char *user_id, int64 tokens)
{
	RateVerdict v;
	const char *scope;

	if (RateCompare(pool, user_id, tokens, true, &v))
		return;
	scope = v.rule.pool_scope ? "pool" : "member";
	if (v.never)
		ereport(ERROR,
				(errcode(ERRCODE_QUOTA_RATE_LIMITED),
				 errmsg("rate limit of pool \"%s\" exceeded", pool->pool),
				 errdetail("The %s limit is %s; this request alone has " INT64_FORMAT " tokens.",
						   scope, RateLimitText(&v), tokens),
				 errhint("Send a smaller request: no wait lets it through.")));
	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_RATE_LIMITED),
			 errmsg("rate limit of pool \"%s\" exceeded", pool->pool),
			 errdetail("The %s limit is %s.", scope, RateLimitText(&v)),
			 errhint("Retry in " INT64_FORMAT " seconds.",
					 (v.wait_us + USECS_PER_SEC - 1) / USECS_PER_SEC)));
}

/*
 * quota_check: would a new request (of at least one token) be refused by a
 * rate limit now?  Returns the reason (NULL: no) and the microseconds to
 * wait; counts nothing.
 */
const char *
RateLimitCheck(const PoolInfo *pool, const char *user_id, int64 *wait_us)
{
	RateVerdict v;

	if (RateCompare(pool, user_id, 1, false, &v))
		return NULL;
	*wait_us = v.wait_us;
	return psprintf("%s rate limit reached (%s)",
					v.rule.pool_scope ? "pool" : "member", RateLimitText(&v));
}

/* The tokens a request counts against a rate limit (past the range: the most). */
int64
RateLimitTokens(int64 in, int64 cached, int64 out)
{
	int128		sum = (int128) in + cached + out;

	return sum > PG_INT64_MAX ? PG_INT64_MAX : (int64) sum;
}

