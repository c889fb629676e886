/*
 * ratelimit.c
 *		Requests and tokens per minute: quota_set_rate_limit's limits,
 *		enforced in shared memory without row locks or WAL.
 *
 * Design
 * ------
 * A pool may have a limit per member and one for the pool as a whole
 * (quota.rate_limits, one row per scope), each of requests and/or tokens
 * per minute.  Every counter (one per pool, and one per member of a pool
 * with a member limit) is an entry of a fixed-size shared hash table
 * holding 61 one-second buckets: the requests and tokens admitted in that
 * second.  A request admitted in second s is counted until second s + 61
 * begins, so it stays in the window at least 60 s and at most 61 s: no 60
 * seconds ever hold more than the limit, and a refused request is told to
 * wait at most one second longer than it strictly must.
 *
 * Admission is a compare-and-add under the entries' spinlocks (both
 * entries, always in address order): the window's sums plus the new
 * request are compared with the limits and, only if every limit holds,
 * added to the current second.  So concurrent requests see each other at
 * once and no interleaving admits one request too many.  The hash table's
 * LWLock is held shared around it (exclusive to add entries), so an entry
 * cannot be reclaimed under an admission.
 *
 * The window's sums are kept in the entry beside its buckets, so that an
 * admission reads a few bytes, not 61 buckets (a member's entry is cold:
 * 61 buckets are 16 cache lines): moving an entry's window to a later
 * second subtracts the seconds that leave it (usually one).  An entry's
 * window never moves back: a backend whose clock reading is older than the
 * entry's newest second (read before another one's, or a clock stepped
 * back) counts its request in that newest second, which keeps it in the
 * window longer, never shorter.  A clock stepped back by more than a
 * window starts the entry afresh.
 *
 * What counts: a new request, when it is admitted, that is an unreserved
 * quota_charge (one request; input + cached input + output tokens) or a
 * quota_reserve (one request; its declared maxima).  A repeated request
 * (its request_id charged or reserved before) and a settlement count
 * nothing and are never refused.  Tokens are counted only by a counter
 * whose limit has tokens (so its window never holds more than the limit,
 * and no sum can overflow); a tokens limit set later counts from then on.
 * An admission belongs to its transaction:
 * if the transaction (or subtransaction) rolls back, nothing was charged or
 * reserved, so the admission is taken back (while its second is still in
 * the window), and a retry of the request counts once.  quota_check counts
 * nothing.
 *
 * Bounds: a fifth of quota.max_members entries (about 1 kB each), fixed at
 * server start.  An entry whose last admission left the window holds no
 * information and is reclaimed when the table is full; if every entry
 * was used within the last 61 seconds, a request that needs a new one gets
 * 53400 (the limit cannot be enforced exactly) and nothing changes.
 *
 * The counters are lost at a restart (like every rate limiter's).
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
#include "common/cryptohash.h"
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
#include "invalidation.h"
#include "quota.h"
#include "ratelimit.h"
#include "route.h"
#include "settings.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(quota_rate_limits_changed);

#define RATE_SLOTS			61	/* one-second buckets: a window of 60 s and the current second */
#define RATE_USER_BYTES		64	/* user ids shorter than this are kept as is */

/* Whose requests an entry counts. */
typedef struct RateKey
{
	Oid			dbid;
	Oid			ledger;			/* OID of quota.ledger: one extension's life */
	int64		pool_id;
	char		kind;			/* 'p' pool, 'm' member, 'h' member by SHA-256 */
	char		user[RATE_USER_BYTES];
} RateKey;

/* The requests and tokens admitted in one second. */
typedef struct RateBucket
{
	int32		second;			/* seconds since 2000-01-01 */
	int32		requests;
	int64		tokens;
} RateBucket;

typedef struct RateEntry
{
	RateKey		key;
	slock_t		mutex;
	int32		newest;			/* the window is (newest - RATE_SLOTS, newest] */
	int32		requests;		/* the sums of the window's buckets */
	int64		tokens;
	RateBucket	buckets[RATE_SLOTS];
} RateEntry;

/* One limit of a pool. */
typedef struct RateRule
{
	bool		pool_scope;
	int32		requests;		/* per minute; 0: none */
	int64		tokens;			/* per minute; 0: none */
} RateRule;

/* A pool's limits, as this backend last read them. */
typedef struct RateConfig
{
	int64		pool_id;		/* hash key */
	int			nrules;
	RateRule	rules[2];
} RateConfig;

/*
 * Admissions of this transaction to one counter in one second, taken back
 * if it rolls back (one record for many, so that bulk charging in one
 * transaction stays small).
 */
typedef struct RatePending
{
	RateKey		key;
	int32		second;
	int32		requests;
	int64		tokens;
	int			nest_level;
} RatePending;

/* The outcome of a comparison with the limits. */
typedef struct RateVerdict
{
	RateRule	rule;			/* the limit that refuses */
	bool		by_tokens;		/* ... its tokens (else its requests) */
	bool		never;			/* the request alone is over the limit */
	int64		wait_us;		/* until it would fit */
} RateVerdict;

static LWLock *rate_lock = NULL;
static HTAB *rate_hash = NULL;

static HTAB *config_cache = NULL;
static uint64 config_generation = 0;
static bool config_complete = false;	/* every pool's rules are cached */

static RatePending *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

static QuotaQuery rules_q = {
	"SELECT scope OPERATOR(pg_catalog.=) 'pool', "
	"       coalesce(requests_per_minute, 0), coalesce(tokens_per_minute, 0) "
	"FROM quota.rate_limits WHERE pool OPERATOR(pg_catalog.=) $1 "
	"ORDER BY scope OPERATOR(pg_catalog.=) 'pool' DESC",
	1, {TEXTOID}
};

/* Shared memory of the rate windows (shmem.c). */
Size
RateShmemSize(void)
{
	return hash_estimate_size(QuotaRateEntries(), sizeof(RateEntry));
}

/* Create or attach to the rate windows (shmem.c, under AddinShmemInitLock). */
void
RateShmemAttach(LWLock *lock)
{
	HASHCTL		info;

	rate_lock = lock;
	info.keysize = sizeof(RateKey);
	info.entrysize = sizeof(RateEntry);
	rate_hash = ShmemInitHash("quota rate windows", QuotaRateEntries(),
							  QuotaRateEntries(), &info,
							  HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* Take back this transaction's admissions at or above a nesting level. */
static void
RateForget(int from_level)
{
	int			keep = 0;

	for (int i = 0; i < npending; i++)
	{
		RatePending *p = &pending[i];

		if (p->nest_level >= from_level)
		{
			RateEntry  *e;

			LWLockAcquire(rate_lock, LW_SHARED);
			e = hash_search(rate_hash, &p->key, HASH_FIND, NULL);
			if (e != NULL)
			{
				RateBucket *b = &e->buckets[p->second % RATE_SLOTS];

				SpinLockAcquire(&e->mutex);
				/* only while its second is still in the window's sums */
				if (b->second == p->second && p->second > e->newest - RATE_SLOTS)
				{
					b->requests -= p->requests;
					b->tokens -= p->tokens;
					e->requests -= p->requests;
					e->tokens -= p->tokens;
				}
				SpinLockRelease(&e->mutex);
			}
			LWLockRelease(rate_lock);
			continue;
		}
		pending[keep++] = *p;
	}
	npending = keep;
}

/* End of transaction (xact.c): keep admissions at commit, take them back at abort. */
void
RateXactEvent(XactEvent event)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			npending = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (npending > 0)
				RateForget(0);
			break;
		default:
			break;
	}
}

/* End of a subtransaction (xact.c): a rolled back savepoint takes its admissions back. */
void
RateSubXactEvent(SubXactEvent event)
{
	int			level = GetCurrentTransactionNestLevel();

	if (npending == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		RateForget(level);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = 0; i < npending; i++)
			if (pending[i].nest_level >= level)
				pending[i].nest_level = level - 1;
	}
}

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

	config_complete = false;
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("rate_limits", nsp)))
		return;
	n = QuotaExec(&all_rules_q, NULL, NULL, 0);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int64		pool_id = DatumGetInt64(QuotaGetDatum(i, 1, &isnull));
		bool		found;
		RateConfig *c = hash_search(config_cache, &pool_id, HASH_ENTER, &found);
		RateRule   *rule;

		if (!found)
			c->nrules = 0;
		if (c->nrules >= 2)
			continue;
		rule = &c->rules[c->nrules++];
		rule->pool_scope = DatumGetBool(QuotaGetDatum(i, 2, &isnull));
		rule->requests = DatumGetInt32(QuotaGetDatum(i, 3, &isnull));
		rule->tokens = DatumGetInt64(QuotaGetDatum(i, 4, &isnull));
	}
	config_complete = QuotaConfigGeneration() == config_generation;
}

/*
 * The pool's limits (at most two rules, the pool's first), from this
 * backend's cache while no limit changed since it was filled.
 */
static int
PoolRules(const PoolInfo *pool, RateRule *rules)
{
	Oid			nsp;
	uint64		generation = QuotaConfigGeneration();
	RateConfig *c = NULL;
	int			n;
	bool		cacheable = !QuotaConfigDirty() && generation != 0 &&
		!RecoveryInProgress();

	if (cacheable)
	{
		if (config_cache == NULL || generation != config_generation)
		{
			HASHCTL		ctl;

			if (config_cache != NULL)
				hash_destroy(config_cache);
			ctl.keysize = sizeof(int64);
			ctl.entrysize = sizeof(RateConfig);
			ctl.hcxt = TopMemoryContext;
			config_cache = hash_create("quota rate limit rules", 64, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			config_generation = generation;
			FillRulesCache();
		}
		c = hash_search(config_cache, &pool->pool_id, HASH_FIND, NULL);
		if (c != NULL)
		{
			memcpy(rules, c->rules, sizeof(RateRule) * c->nrules);
			return c->nrules;
		}
		if (config_complete)
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
	if (cacheable && QuotaConfigGeneration() == config_generation)
	{
		c = hash_search(config_cache, &pool->pool_id, HASH_ENTER, NULL);
		c->nrules = n;
		memcpy(c->rules, rules, sizeof(RateRule) * n);
	}
	return n;
}

/* The key of a rule's counter for this pool and user. */
static void
RateKeyFor(RateKey *key, Oid ledger, const PoolInfo *pool, const RateRule *rule,
		   const char *user_id)
{
	size_t		len = strlen(user_id);

	memset(key, 0, sizeof(RateKey));
	key->dbid = MyDatabaseId;
	key->ledger = ledger;
	key->pool_id = pool->pool_id;
	if (rule->pool_scope)
		key->kind = 'p';
	else if (len < RATE_USER_BYTES)
	{
		key->kind = 'm';
		memcpy(key->user, user_id, len);
	}
	else
	{
		/* a long id by its SHA-256 digest */
		pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

		if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
			pg_cryptohash_update(ctx, (const uint8 *) user_id, len) < 0 ||
			pg_cryptohash_final(ctx, (uint8 *) key->user, RATE_USER_BYTES) < 0)
			elog(ERROR, "could not compute the SHA-256 digest of a user id");
		pg_cryptohash_free(ctx);
		key->kind = 'h';
	}
}

/* Now, in whole seconds since 2000-01-01 and in microseconds. */
static int32
RateNow(int64 *now_us)
{
	*now_us = GetCurrentTimestamp();
	return (int32) (*now_us / USECS_PER_SEC);
}

/*
 * Move a counter's window (its spinlock held) to end at now_s, or at its
 * newest second if that is later; returns the second the window ends at,
 * where a request admitted now is counted.
 */
static int32
RateAdvance(RateEntry *e, int32 now_s)
{
	int32		from = e->newest;

	if (now_s <= from && now_s > from - RATE_SLOTS)
		return from;
	if (now_s <= from)
	{
		/* the clock went back more than a window: start afresh */
		e->requests = 0;
		e->tokens = 0;
		memset(e->buckets, 0, sizeof(e->buckets));
	}
	else if (now_s - from >= RATE_SLOTS)
	{
		/* every second of the window has left it */
		e->requests = 0;
		e->tokens = 0;
	}
	else
	{
		/* the seconds (from - RATE_SLOTS, now_s - RATE_SLOTS] leave */
		for (int32 t = from - RATE_SLOTS + 1; t <= now_s - RATE_SLOTS; t++)
		{
			RateBucket *b = &e->buckets[t % RATE_SLOTS];

			if (b->second == t)
			{
				e->requests -= b->requests;
				e->tokens -= b->tokens;
			}
		}
	}
	e->newest = now_s;
	return now_s;
}

/*
 * Would a request of these tokens pass a rule, with the window holding
 * requests and total tokens?  0 if it fits; else *v names the rule and
 * whether tokens (else requests) refuse, and the result is how much of
 * them must leave the window first.
 */
static int128
RateNeed(const RateRule *rule, int64 requests, int128 total, int64 tokens,
		 RateVerdict *v)
{
	int128		need;

	if (rule->requests > 0 && requests + 1 > rule->requests)
	{
		v->by_tokens = false;
		need = requests + 1 - rule->requests;
	}
	else if (rule->tokens > 0 && total + tokens > rule->tokens)
	{
		v->by_tokens = true;
		need = total + tokens - rule->tokens;
	}
	else
		return 0;
	v->rule = *rule;
	v->never = v->by_tokens && tokens > rule->tokens;
	return need;
}

/*
 * Compare one counter (its spinlock held, its window ending at now_s) with
 * its rule for a request of these tokens; on refusal fill *v and return
 * false.
 */
static bool
RateFits(RateEntry *e, const RateRule *rule, int64 tokens, int32 now_s,
		 int64 now_us, RateVerdict *v)
{
	int128		need = RateNeed(rule, e ? e->requests : 0, e ? e->tokens : 0, tokens, v);

	if (need == 0)
		return true;
	v->wait_us = (int64) RATE_SLOTS * USECS_PER_SEC;
	if (v->never || e == NULL)
		return false;
	/* the oldest seconds leave first: when has enough left? */
	for (int32 s = now_s - RATE_SLOTS + 1; s <= now_s; s++)
	{
		RateBucket *b = &e->buckets[s % RATE_SLOTS];

		if (b->second != s)
			continue;
		need -= v->by_tokens ? b->tokens : b->requests;
		if (need <= 0)
		{
			v->wait_us = Max((int64) (s + RATE_SLOTS) * USECS_PER_SEC - now_us, 1);
			break;
		}
	}
	return false;
}

/* Add an admission to a counter (its spinlock held, its window ending at now_s). */
static void
RateAdd(RateEntry *e, int64 tokens, int32 now_s)
{
	RateBucket *b = &e->buckets[now_s % RATE_SLOTS];

	if (b->second != now_s)
	{
		b->second = now_s;
		b->requests = 0;
		b->tokens = 0;
	}
	b->requests += 1;
	b->tokens += tokens;
	e->requests += 1;
	e->tokens += tokens;
}

/* Remove every counter with nothing in the window (exclusive lock held). */
static void
RateReclaim(int32 now_s)
{
	HASH_SEQ_STATUS status;
	RateEntry  *e;

	hash_seq_init(&status, rate_hash);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->newest <= now_s - RATE_SLOTS)
			hash_search(rate_hash, &e->key, HASH_REMOVE, NULL);
}

/*
 * Find (create: add, exclusive lock held) the counter of a key; NULL when
 * it does not exist, or with create, when the table is full.
 */
static RateEntry *
RateEntryFor(const RateKey *key, bool create)
{
	RateEntry  *e;
	bool		found;

	e = hash_search(rate_hash, key, HASH_FIND, NULL);
	if (e != NULL || !create)
		return e;
	if (hash_get_num_entries(rate_hash) >= QuotaRateEntries())
		return NULL;
	e = hash_search(rate_hash, key, HASH_ENTER_NULL, &found);
	if (e != NULL && !found)
	{
		SpinLockInit(&e->mutex);
		e->newest = 0;
		e->requests = 0;
		e->tokens = 0;
		memset(e->buckets, 0, sizeof(e->buckets));
	}
	return e;
}

/* Remember an admission of this transaction (added to the last of its kind). */
static void
RateRemember(const RateKey *key, int32 second, int64 tokens)
{
	int			level = GetCurrentTransactionNestLevel();
	RatePending *p;

	for (int i = Max(npending - 2, 0); i < npending; i++)
	{
		p = &pending[i];
		if (p->second == second && p->nest_level == level &&
			memcmp(&p->key, key, sizeof(RateKey)) == 0)
		{
			p->requests += 1;
			p->tokens += tokens;
			return;
		}
	}
	if (npending == maxpending)
	{
		maxpending = Max(16, maxpending * 2);
		pending = pending == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxpending * sizeof(RatePending)) :
			repalloc(pending, maxpending * sizeof(RatePending));
	}
	p = &pending[npending++];
	p->key = *key;
	p->second = second;
	p->requests = 1;
	p->tokens = tokens;
	p->nest_level = level;
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
 * Locked mode: compare one rule with the admissions of the last 60 seconds
 * (read with snapshot) for a request of these tokens; on refusal fill *v
 * and return false.  See the top of the file.
 */
static bool
WindowFits(const PoolInfo *pool, const char *user_id, const RateRule *rule,
		   int64 tokens, TimestampTz now, Snapshot snapshot, RateVerdict *v)
{
	Datum		args[3] = {CStringGetTextDatum(pool->pool),
						   TimestampTzGetDatum(now - 60 * USECS_PER_SEC),
						   CStringGetTextDatum(user_id)};
	int			n = QuotaExecSnapshot(rule->pool_scope ? &window_pool_q : &window_member_q,
									  args, NULL, snapshot, 0);
	int128		total = 0;
	int128		need;
	bool		isnull;

	for (int i = 0; i < n; i++)
		total += DatumGetInt64(QuotaGetDatum(i, 2, &isnull));
	need = RateNeed(rule, n, total, tokens, v);
	if (need == 0)
		return true;
	v->wait_us = 60 * USECS_PER_SEC;
	if (v->never)
		return false;
	/* the oldest admissions leave first: when has enough left? */
	for (int i = 0; i < n; i++)
	{
		need -= v->by_tokens ? DatumGetInt64(QuotaGetDatum(i, 2, &isnull)) : 1;
		if (need <= 0)
		{
			TimestampTz at = DatumGetTimestampTz(QuotaGetDatum(i, 1, &isnull));

			v->wait_us = Max(at + 60 * USECS_PER_SEC - now, 1);
			break;
		}
	}
	return false;
}

/*
 * Locked mode: compare a request with the pool's rules from
 * quota.rate_window and, when count is true and it fits, admit it (see the
 * top of the file).  A standby, or a schema without the table (before
 * ALTER EXTENSION UPDATE), enforces nothing.
 */
static bool
WindowCompare(const PoolInfo *pool, const char *user_id, int64 tokens,
			  bool count, const RateRule *rules, int n, RateVerdict *v)
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
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	if (count)
	{
		Datum		prune[2] = {CStringGetTextDatum(pool->pool),
								TimestampTzGetDatum(now - 60 * USECS_PER_SEC)};

		QuotaExecSnapshot(&window_prune_q, prune, NULL, snapshot, 0);
	}
	for (int i = 0; i < n && fits; i++)
		fits = WindowFits(pool, user_id, &rules[i], tokens, now, snapshot, v);
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
 * fits, admit it.  Returns false with *v filled when a limit refuses.
 */
static bool
RateCompare(const PoolInfo *pool, const char *user_id, int64 tokens,
			bool count, RateVerdict *v)
{
	RateRule	rules[2];
	RateKey		keys[2];
	RateEntry  *entries[2] = {NULL, NULL};
	int			n;
	int			missing = 0;
	int64		now_us;
	int32		now_s;
	int32		seconds[2];
	Oid			ledger;
	bool		fits = true;
	LWLockMode	mode = LW_SHARED;

	memset(v, 0, sizeof(RateVerdict));
	if (pool->pool_id == 0 || (QuotaPreloaded() && rate_hash == NULL))
		return true;
	n = PoolRules(pool, rules);
	if (n == 0)
		return true;
	if (!QuotaPreloaded())
		return WindowCompare(pool, user_id, tokens, count, rules, n, v);
	ledger = QuotaLedgerRelid(false);
	for (int i = 0; i < n; i++)
		RateKeyFor(&keys[i], ledger, pool, &rules[i], user_id);
	now_s = RateNow(&now_us);

	LWLockAcquire(rate_lock, mode);
	for (int i = 0; i < n; i++)
		if ((entries[i] = RateEntryFor(&keys[i], false)) == NULL)
			missing++;
	if (missing > 0 && count)
	{
		/*
		 * A counter to add: again under the exclusive lock.  Idle counters
		 * are reclaimed before any is looked up, so none looked up is freed.
		 */
		LWLockRelease(rate_lock);
		mode = LW_EXCLUSIVE;
		LWLockAcquire(rate_lock, mode);
		missing = 0;
		for (int i = 0; i < n; i++)
			if (hash_search(rate_hash, &keys[i], HASH_FIND, NULL) == NULL)
				missing++;
		if (hash_get_num_entries(rate_hash) + missing > QuotaRateEntries())
			RateReclaim(now_s);
		for (int i = 0; i < n; i++)
			if ((entries[i] = RateEntryFor(&keys[i], true)) == NULL)
			{
				LWLockRelease(rate_lock);
				ereport(ERROR,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("too many rate limited members for quota's shared memory"),
						 errdetail("Every one of the %d rate windows (a fifth of quota.max_members) was used within the last minute.",
								   QuotaRateEntries()),
						 errhint("Raise quota.max_members (takes effect at server start), or retry in a minute.")));
			}
	}

	/* both counters' spinlocks, in address order, then compare and add */
	if (n == 2 && entries[0] && entries[1] && entries[1] < entries[0])
	{
		SpinLockAcquire(&entries[1]->mutex);
		SpinLockAcquire(&entries[0]->mutex);
	}
	else
		for (int i = 0; i < n; i++)
			if (entries[i])
				SpinLockAcquire(&entries[i]->mutex);
	for (int i = 0; i < n; i++)
		seconds[i] = entries[i] ? RateAdvance(entries[i], now_s) : now_s;
	for (int i = 0; i < n && fits; i++)
		fits = RateFits(entries[i], &rules[i], tokens, seconds[i], now_us, v);
	/* tokens only where they are limited: then the window never passes the limit */
	if (fits && count)
		for (int i = 0; i < n; i++)
			RateAdd(entries[i], rules[i].tokens > 0 ? tokens : 0, seconds[i]);
	for (int i = n - 1; i >= 0; i--)
		if (entries[i])
			SpinLockRelease(&entries[i]->mutex);
	LWLockRelease(rate_lock);

	/* remember the admissions, to take them back if the transaction rolls back */
	if (fits && count)
		for (int i = 0; i < n; i++)
			RateRemember(&keys[i], seconds[i], rules[i].tokens > 0 ? tokens : 0);
	return fits;
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

/* Rate limit counters in use (every database), or -1 without the table. */
long
RateEntriesUsed(void)
{
	return QuotaHashEntries(rate_hash, rate_hash ? rate_lock : NULL);
}
