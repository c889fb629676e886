/*
 * rate_window.c
 *		The rate windows: the last minute of the requests and tokens a pool
 *		or a member was admitted, in shared memory (the limits themselves
 *		are read by ratelimit.c).
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
 * information and is reclaimed when the table is full.  If every entry was
 * used within the last 61 seconds, a request that needs a new one puts the
 * windows in table mode (logged once per episode): until 62 seconds after
 * the last admission made in it, every admission of every pool is decided
 * by ratelimit.c as without shared memory (the pool's lock, the rows of
 * quota.rate_window), counting the seconds still in the pool's and the
 * member's entries too (RateWindowSeconds).  The switch is made under the
 * exclusive lock and tested under the shared lock of every compare-and-add,
 * so each admission is either in an entry before the switch, where the
 * table mode reads it, or a row of the table mode: none is missed, and no
 * 60 seconds hold more than a limit.  Nothing is refused for want of room.
 *
 * The counters are lost at a restart (like every rate limiter's).
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "common/cryptohash.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "rate_window.h"
#include "settings.h"

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

/* The windows' shared state beside the table (rate_lock). */
typedef struct RateShared
{
	int32		table_until;	/* table mode until this second (excluded) */
} RateShared;

static LWLock *rate_lock = NULL;
static HTAB *rate_hash = NULL;
static RateShared *rate_shared = NULL;

static RatePending *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

/* Shared memory of the rate windows (shmem.c). */
Size
RateShmemSize(void)
{
	return add_size(hash_estimate_size(QuotaRateEntries(), sizeof(RateEntry)),
					MAXALIGN(sizeof(RateShared)));
}

/* Create or attach to the rate windows (shmem.c, under AddinShmemInitLock). */
void
RateShmemAttach(LWLock *lock)
{
	HASHCTL		info;
	bool		found;

	rate_lock = lock;
	rate_shared = ShmemInitStruct("quota rate windows state", sizeof(RateShared), &found);
	if (!found)
		rate_shared->table_until = 0;
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

/* The key of a rule's counter for this pool and user. */
static void
RateKeyFor(RateKey *key, Oid ledger, int64 pool_id, const RateRule *rule,
		   const char *user_id)
{
	size_t		len = strlen(user_id);

	memset(key, 0, sizeof(RateKey));
	key->dbid = MyDatabaseId;
	key->ledger = ledger;
	key->pool_id = pool_id;
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
int128
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

/* Rate limit counters in use (every database), or -1 without the table. */
long
RateEntriesUsed(void)
{
	return QuotaHashEntries(rate_hash, rate_hash ? rate_lock : NULL);
}

/*
 * Enter table mode (rate_lock held exclusive) until the given second,
 * logging when an episode starts.
 */
static void
RateTableUntil(int32 now_s, int32 until)
{
	if (rate_shared->table_until <= now_s)
		ereport(LOG,
				(errmsg("quota's rate windows are full: rate limits are enforced from table \"quota.rate_window\" until they have room"),
				 errdetail("Every one of the %d rate windows (a fifth of quota.max_members) was used within the last minute.",
						   QuotaRateEntries()),
				 errhint("Raise quota.max_members (takes effect at server start): meanwhile each pool's admissions are serialised.")));
	if (rate_shared->table_until < until)
		rate_shared->table_until = until;
}

/*
 * An admission in table mode at now_s (ratelimit.c): the table mode lasts
 * until its row has left the window (62 seconds: the row counts 60 s from
 * its microsecond, the entries by whole seconds).
 */
void
RateWindowTableAdmission(int32 now_s)
{
	LWLockAcquire(rate_lock, LW_EXCLUSIVE);
	RateTableUntil(now_s, now_s + RATE_SLOTS + 1);
	LWLockRelease(rate_lock);
}

/*
 * The seconds still in the window at now_s of a rule's counter for this
 * pool and user, oldest first, into out (RATE_SLOTS of room); returns how
 * many.  Table mode reads them beside its rows.
 */
int
RateWindowSeconds(int64 pool_id, const char *user_id, const RateRule *rule,
				  int32 now_s, RateSecond *out)
{
	RateKey		key;
	RateEntry  *e;
	int			n = 0;

	RateKeyFor(&key, QuotaLedgerRelid(false), pool_id, rule, user_id);
	LWLockAcquire(rate_lock, LW_SHARED);
	e = hash_search(rate_hash, &key, HASH_FIND, NULL);
	if (e != NULL)
	{
		SpinLockAcquire(&e->mutex);
		for (int32 s = Max(e->newest, now_s) - RATE_SLOTS + 1; s <= e->newest; s++)
		{
			RateBucket *b = &e->buckets[s % RATE_SLOTS];

			if (b->second != s || (b->requests == 0 && b->tokens == 0))
				continue;
			out[n].second = s;
			out[n].requests = b->requests;
			out[n].tokens = b->tokens;
			n++;
		}
		SpinLockRelease(&e->mutex);
	}
	LWLockRelease(rate_lock);
	return n;
}

/*
 * Compare a request with a pool's rules (at most two, the pool's first) in
 * the shared rate windows and, when count is true and it fits, admit it:
 * one compare-and-add under the windows' spinlocks.  Returns RATE_REFUSED
 * with *v filled when a limit refuses, RATE_TABLE when the windows are in
 * table mode (the caller decides from the table; nothing was counted).
 */
RateOutcome
RateWindowAdmit(int64 pool_id, const char *user_id, const RateRule *rules, int n,
				int64 tokens, bool count, RateVerdict *v)
{
	RateKey		keys[2];
	RateEntry  *entries[2] = {NULL, NULL};
	int			missing = 0;
	int64		now_us;
	int32		now_s;
	int32		seconds[2];
	Oid			ledger;
	bool		fits = true;
	LWLockMode	mode = LW_SHARED;

	Assert(n >= 1 && n <= 2);
	ledger = QuotaLedgerRelid(false);
	for (int i = 0; i < n; i++)
		RateKeyFor(&keys[i], ledger, pool_id, &rules[i], user_id);
	now_s = RateNow(&now_us);

	LWLockAcquire(rate_lock, mode);
	if (rate_shared->table_until > now_s)
	{
		LWLockRelease(rate_lock);
		return RATE_TABLE;
	}
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
		if (rate_shared->table_until > now_s)
		{
			LWLockRelease(rate_lock);
			return RATE_TABLE;
		}
		missing = 0;
		for (int i = 0; i < n; i++)
			if (hash_search(rate_hash, &keys[i], HASH_FIND, NULL) == NULL)
				missing++;
		if (hash_get_num_entries(rate_hash) + missing > QuotaRateEntries())
			RateReclaim(now_s);
		for (int i = 0; i < n; i++)
			if ((entries[i] = RateEntryFor(&keys[i], true)) == NULL)
			{
				/* no room: table mode, for at least a window */
				RateTableUntil(now_s, now_s + RATE_SLOTS + 1);
				LWLockRelease(rate_lock);
				return RATE_TABLE;
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
	return fits ? RATE_FITS : RATE_REFUSED;
}

/* Are the rate windows there (quota preloaded)? */
bool
RateWindowsReady(void)
{
	return rate_hash != NULL;
}
