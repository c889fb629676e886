/*
 * rate_window.c
 *		The rate windows: the last minute of the requests and tokens a pool
 *		or a member was admitted, in shared memory, each one linked from
 *		its pool slot (escrow.c) or member slot (member_caps.c); the limits
 *		themselves are read by ratelimit.c.
 *
 * Design
 * ------
 * A pool may have a limit per member and one for the pool as a whole
 * (quota.rate_limits, one row per scope), each of requests and/or tokens
 * per minute.  Every counter (one per pool, and one per member of a pool
 * with a member limit) is a window of a fixed array in shared memory,
 * holding 61 one-second buckets: the requests and tokens admitted in that
 * second.  A request admitted in second s is counted until second s + 61
 * begins, so it stays in the window at least 60 s and at most 61 s: no 60
 * seconds ever hold more than the limit, and a refused request is told to
 * wait at most one second longer than it strictly must.
 *
 * Where a window is.  The pool slot and the member slot hold a link to
 * their window (RateLink: its index and stamp), so that a charge finds its
 * windows in the slots it has already found, without a table of its own
 * to look up.  Only pools and members with a rate limit, admitted within
 * the last minute, need a window: a fifth of quota.max_members of them
 * are reserved at start.  A window is given to a slot under the windows'
 * exclusive lock, from a free list; when that is empty, every window whose
 * last admission has left it (it holds no information) goes back to the
 * list, and its stamp moves on, so that its old slot's link no longer
 * matches.  A link is read under the shared lock, and the stamp only moves
 * under the exclusive one, so a window found linked stays its slot's until
 * the admission ends.  A member slot whose window is still in its minute
 * is never reclaimed (member_caps.c asks RateLinkActive), and a pool slot
 * is only freed with its database or extension: so a window in use is
 * always reached from its slot, and a slot never starts a fresh window
 * while its old one still counts.
 *
 * Admission is a compare-and-add under the windows' spinlocks (both
 * windows, always in address order): the window's sums plus the new
 * request are compared with the limits and, only if every limit holds,
 * added to the current second.  So concurrent requests see each other at
 * once and no interleaving admits one request too many.
 *
 * The window's sums are kept beside its buckets, so that an admission
 * reads a few bytes, not 61 buckets (16 cache lines): moving a window to a
 * later second subtracts the seconds that leave it (usually one).  A
 * window never moves back: a backend whose clock reading is older than the
 * window's newest second (read before another one's, or a clock stepped
 * back) counts its request in that newest second, which keeps it in the
 * window longer, never shorter.  A clock stepped back by more than a
 * window starts the window afresh.
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
 * the window and the window still has the stamp it had), and a retry of
 * the request counts once.  quota_check counts nothing.
 *
 * Table mode.  A request with no window to count in (no free window, or
 * no slot: the pool or member tables full, quota.max_members = 0) puts the
 * windows in table mode (logged once per episode): until 62 seconds after
 * the last admission made in it, every admission of every pool is decided
 * by ratelimit.c as without shared memory (the pool's lock, the rows of
 * quota.rate_window), counting the seconds still in the pool's and the
 * member's windows too (RateWindowSeconds).  The switch is made under the
 * exclusive lock and tested under the shared lock of every compare-and-add,
 * so each admission is either in a window before the switch, where the
 * table mode reads it, or a row of the table mode: none is missed, and no
 * 60 seconds hold more than a limit.  Nothing is refused for want of room.
 *
 * The counters are lost at a restart (like every rate limiter's).
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "rate_window.h"
#include "settings.h"

/* The requests and tokens admitted in one second. */
typedef struct RateBucket
{
	int32		second;			/* seconds since 2000-01-01 */
	int32		requests;
	int64		tokens;
} RateBucket;

/* One counter's window, linked from its slot. */
typedef struct RateWindow
{
	slock_t		mutex;
	uint32		stamp;			/* moves when the window leaves its slot */
	int32		next_free;		/* on the free list: the next one, or -1 */
	bool		owned;			/* linked from a slot (not on the free list) */
	int32		newest;			/* the window is (newest - RATE_SLOTS, newest] */
	int32		requests;		/* the sums of the window's buckets */
	int64		tokens;
	RateBucket	buckets[RATE_SLOTS];
} RateWindow;

/*
 * Admissions of this transaction to one window in one second, taken back
 * if it rolls back (one record for many, so that bulk charging in one
 * transaction stays small).
 */
typedef struct RatePending
{
	int32		window;
	uint32		stamp;
	int32		second;
	int32		requests;
	int64		tokens;
	int			nest_level;
} RatePending;

/* The windows' shared state before the array (rate_lock). */
typedef struct RateShared
{
	int32		table_until;	/* table mode until this second (excluded) */
	int32		free_head;		/* the first free window, or -1 */
	int32		owned;			/* windows linked from a slot */
} RateShared;

static LWLock *rate_lock = NULL;
static RateShared *rate_shared = NULL;
static RateWindow *rate_windows = NULL;

static RatePending *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

/* Shared memory of the rate windows (shmem.c). */
Size
RateShmemSize(void)
{
	return add_size(MAXALIGN(sizeof(RateShared)),
					mul_size(QuotaRateEntries(), sizeof(RateWindow)));
}

/* Create or attach to the rate windows (shmem.c, under AddinShmemInitLock). */
void
RateShmemAttach(LWLock *lock)
{
	bool		found;
	int			n = QuotaRateEntries();

	rate_lock = lock;
	rate_shared = ShmemInitStruct("quota rate windows",
								  MAXALIGN(sizeof(RateShared)) +
								  mul_size(n, sizeof(RateWindow)), &found);
	rate_windows = (RateWindow *) ((char *) rate_shared + MAXALIGN(sizeof(RateShared)));
	if (found)
		return;
	rate_shared->table_until = 0;
	rate_shared->free_head = 0;
	rate_shared->owned = 0;
	for (int i = 0; i < n; i++)
	{
		RateWindow *w = &rate_windows[i];

		memset(w, 0, sizeof(RateWindow));
		SpinLockInit(&w->mutex);
		w->next_free = i + 1 < n ? i + 1 : -1;
	}
}

/* The window a link names, if it is still that slot's (rate_lock held). */
static RateWindow *
RateLinked(const RateLink *link)
{
	RateWindow *w;

	if (link == NULL || link->block < 0)
		return NULL;
	w = &rate_windows[link->block];
	return w->owned && w->stamp == link->stamp ? w : NULL;
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
			RateLink	link = {p->window, p->stamp};
			RateWindow *w;

			LWLockAcquire(rate_lock, LW_SHARED);
			if ((w = RateLinked(&link)) != NULL)
			{
				RateBucket *b = &w->buckets[p->second % RATE_SLOTS];

				SpinLockAcquire(&w->mutex);
				/* only while its second is still in the window's sums */
				if (b->second == p->second && p->second > w->newest - RATE_SLOTS)
				{
					b->requests -= p->requests;
					b->tokens -= p->tokens;
					w->requests -= p->requests;
					w->tokens -= p->tokens;
				}
				SpinLockRelease(&w->mutex);
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

/* Now, in whole seconds since 2000-01-01 and in microseconds. */
static int32
RateNow(int64 *now_us)
{
	*now_us = GetCurrentTimestamp();
	return (int32) (*now_us / USECS_PER_SEC);
}

/*
 * Move a window (its spinlock held) to end at now_s, or at its newest
 * second if that is later; returns the second the window ends at, where a
 * request admitted now is counted.
 */
static int32
RateAdvance(RateWindow *w, int32 now_s)
{
	int32		from = w->newest;

	if (now_s <= from && now_s > from - RATE_SLOTS)
		return from;
	if (now_s <= from)
	{
		/* the clock went back more than a window: start afresh */
		w->requests = 0;
		w->tokens = 0;
		memset(w->buckets, 0, sizeof(w->buckets));
	}
	else if (now_s - from >= RATE_SLOTS)
	{
		/* every second of the window has left it */
		w->requests = 0;
		w->tokens = 0;
	}
	else
	{
		/* the seconds (from - RATE_SLOTS, now_s - RATE_SLOTS] leave */
		for (int32 t = from - RATE_SLOTS + 1; t <= now_s - RATE_SLOTS; t++)
		{
			RateBucket *b = &w->buckets[t % RATE_SLOTS];

			if (b->second == t)
			{
				w->requests -= b->requests;
				w->tokens -= b->tokens;
			}
		}
	}
	w->newest = now_s;
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
 * Compare one window (its spinlock held, ending at now_s; NULL: empty)
 * with its rule for a request of these tokens; on refusal fill *v and
 * return false.
 */
static bool
RateFits(RateWindow *w, const RateRule *rule, int64 tokens, int32 now_s,
		 int64 now_us, RateVerdict *v)
{
	int128		need = RateNeed(rule, w ? w->requests : 0, w ? w->tokens : 0, tokens, v);

	if (need == 0)
		return true;
	v->wait_us = (int64) RATE_SLOTS * USECS_PER_SEC;
	if (v->never || w == NULL)
		return false;
	/* the oldest seconds leave first: when has enough left? */
	for (int32 s = now_s - RATE_SLOTS + 1; s <= now_s; s++)
	{
		RateBucket *b = &w->buckets[s % RATE_SLOTS];

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

/* Add an admission to a window (its spinlock held, ending at now_s). */
static void
RateAdd(RateWindow *w, int64 tokens, int32 now_s)
{
	RateBucket *b = &w->buckets[now_s % RATE_SLOTS];

	if (b->second != now_s)
	{
		b->second = now_s;
		b->requests = 0;
		b->tokens = 0;
	}
	b->requests += 1;
	b->tokens += tokens;
	w->requests += 1;
	w->tokens += tokens;
}

/*
 * Put every window whose last admission has left it back on the free list
 * (exclusive lock held): its stamp moves on, so its slot's link no longer
 * names it.
 */
static void
RateReclaim(int32 now_s)
{
	int			n = QuotaRateEntries();

	for (int i = 0; i < n; i++)
	{
		RateWindow *w = &rate_windows[i];

		if (!w->owned || w->newest > now_s - RATE_SLOTS)
			continue;
		SpinLockAcquire(&w->mutex);
		w->owned = false;
		w->stamp++;
		SpinLockRelease(&w->mutex);
		w->next_free = rate_shared->free_head;
		rate_shared->free_head = i;
		rate_shared->owned--;
	}
}

/*
 * Give a slot a free window (exclusive lock held); NULL when none is free.
 */
static RateWindow *
RateGive(RateLink *link)
{
	RateWindow *w;
	int32		i;

	if ((i = rate_shared->free_head) < 0)
		return NULL;
	w = &rate_windows[i];
	rate_shared->free_head = w->next_free;
	rate_shared->owned++;
	SpinLockAcquire(&w->mutex);
	w->owned = true;
	w->next_free = -1;
	w->newest = 0;
	w->requests = 0;
	w->tokens = 0;
	memset(w->buckets, 0, sizeof(w->buckets));
	SpinLockRelease(&w->mutex);
	link->block = i;
	link->stamp = w->stamp;
	return w;
}

/* Remember an admission of this transaction (added to the last of its kind). */
static void
RateRemember(const RateLink *link, int32 second, int64 tokens)
{
	int			level = GetCurrentTransactionNestLevel();
	RatePending *p;

	for (int i = Max(npending - 2, 0); i < npending; i++)
	{
		p = &pending[i];
		if (p->second == second && p->nest_level == level &&
			p->window == link->block && p->stamp == link->stamp)
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
	p->window = link->block;
	p->stamp = link->stamp;
	p->second = second;
	p->requests = 1;
	p->tokens = tokens;
	p->nest_level = level;
}

/* Rate windows linked from a slot (every database), or -1 without them. */
long
RateEntriesUsed(void)
{
	long		n;

	if (rate_shared == NULL)
		return -1;
	LWLockAcquire(rate_lock, LW_SHARED);
	n = rate_shared->owned;
	LWLockRelease(rate_lock);
	return n;
}

/*
 * Enter table mode (rate_lock held exclusive) until the given second,
 * logging when an episode starts, with why (no_slot: a pool or member had
 * no slot to link a window from).
 */
static void
RateTableUntil(int32 now_s, int32 until, bool no_slot)
{
	if (rate_shared->table_until <= now_s)
	{
		if (no_slot)
			ereport(LOG,
					(errmsg("quota's rate windows have no slot to count in: rate limits are enforced from table \"quota.rate_window\" for a minute"),
					 errdetail("A rate-limited pool or member has no slot in shared memory: quota.max_pools or quota.max_members are all in use, or quota.max_members is 0."),
					 errhint("Raise quota.max_pools or quota.max_members (takes effect at server start): meanwhile each pool's admissions are serialised.")));
		else
			ereport(LOG,
					(errmsg("quota's rate windows are full: rate limits are enforced from table \"quota.rate_window\" until they have room"),
					 errdetail("Every one of the %d rate windows (a fifth of quota.max_members) was used within the last minute.",
							   QuotaRateEntries()),
					 errhint("Raise quota.max_members (takes effect at server start): meanwhile each pool's admissions are serialised.")));
	}
	if (rate_shared->table_until < until)
		rate_shared->table_until = until;
}

/*
 * An admission in table mode at now_s (ratelimit.c): the table mode lasts
 * until its row has left the window (62 seconds: the row counts 60 s from
 * its microsecond, the windows by whole seconds).
 */
void
RateWindowTableAdmission(int32 now_s)
{
	LWLockAcquire(rate_lock, LW_EXCLUSIVE);
	RateTableUntil(now_s, now_s + RATE_SLOTS + 1, false);
	LWLockRelease(rate_lock);
}

/*
 * The seconds still in the window at now_s of the slot's link (NULL: no
 * slot), oldest first, into out (RATE_SLOTS of room); returns how many.
 * Table mode reads them beside its rows.
 */
int
RateWindowSeconds(const RateLink *link, int32 now_s, RateSecond *out)
{
	RateWindow *w;
	int			n = 0;

	if (link == NULL)
		return 0;
	LWLockAcquire(rate_lock, LW_SHARED);
	if ((w = RateLinked(link)) != NULL)
	{
		SpinLockAcquire(&w->mutex);
		for (int32 s = Max(w->newest, now_s) - RATE_SLOTS + 1; s <= w->newest; s++)
		{
			RateBucket *b = &w->buckets[s % RATE_SLOTS];

			if (b->second != s || (b->requests == 0 && b->tokens == 0))
				continue;
			out[n].second = s;
			out[n].requests = b->requests;
			out[n].tokens = b->tokens;
			n++;
		}
		SpinLockRelease(&w->mutex);
	}
	LWLockRelease(rate_lock);
	return n;
}

/* For member_caps.c's reclaiming: hold the windows' lock shared (RateLinkActive). */
void
RateLinksLock(void)
{
	if (rate_lock != NULL)
		LWLockAcquire(rate_lock, LW_SHARED);
}

/* Does a slot's window still hold an admission at now_s (RateLinksLock held)? */
bool
RateLinkActive(const RateLink *link, int32 now_s)
{
	RateWindow *w;
	bool		active;

	if (rate_lock == NULL || (w = RateLinked(link)) == NULL)
		return false;
	SpinLockAcquire(&w->mutex);
	active = w->newest > now_s - RATE_SLOTS;
	SpinLockRelease(&w->mutex);
	return active;
}

/* Release what RateLinksLock took. */
void
RateLinksUnlock(void)
{
	if (rate_lock != NULL)
		LWLockRelease(rate_lock);
}

/*
 * Compare a request with a pool's rules (at most two, the pool's first) in
 * the windows linked from links[i], the slot of rule i (the pool's or the
 * member's; NULL: it has none) and, when count is true and it fits, admit
 * it: one compare-and-add under the windows' spinlocks.  The caller keeps
 * the slots from being freed meanwhile.  Returns RATE_REFUSED with *v
 * filled when a limit refuses, RATE_TABLE when the windows are in table
 * mode, or go into it for want of a window or a slot (the caller decides
 * from the table; nothing was counted).
 */
RateOutcome
RateWindowAdmit(RateLink *const *links, const RateRule *rules, int n,
				int64 tokens, bool count, RateVerdict *v)
{
	RateWindow *windows[2] = {NULL, NULL};
	RateLink	used[2];
	int			missing = 0;
	int64		now_us;
	int32		now_s;
	int32		seconds[2];
	bool		fits = true;

	Assert(n >= 1 && n <= 2);
	now_s = RateNow(&now_us);

	LWLockAcquire(rate_lock, LW_SHARED);
	if (rate_shared->table_until > now_s)
	{
		LWLockRelease(rate_lock);
		return RATE_TABLE;
	}
	for (int i = 0; i < n; i++)
		if ((windows[i] = RateLinked(links[i])) == NULL)
			missing++;
	if (missing > 0 && count)
	{
		/*
		 * A window to give: again under the exclusive lock.  Idle windows
		 * are reclaimed (when too few are free) before any is looked up
		 * again or given, so none of those is freed under this admission.
		 */
		LWLockRelease(rate_lock);
		LWLockAcquire(rate_lock, LW_EXCLUSIVE);
		if (rate_shared->table_until > now_s)
		{
			LWLockRelease(rate_lock);
			return RATE_TABLE;
		}
		for (int i = 0; i < n; i++)
			if (links[i] == NULL)
			{
				/* no slot to link a window from: table mode for a window */
				RateTableUntil(now_s, now_s + RATE_SLOTS + 1, true);
				LWLockRelease(rate_lock);
				return RATE_TABLE;
			}
		missing = 0;
		for (int i = 0; i < n; i++)
			if (RateLinked(links[i]) == NULL)
				missing++;
		if (QuotaRateEntries() - rate_shared->owned < missing)
			RateReclaim(now_s);
		for (int i = 0; i < n; i++)
			if ((windows[i] = RateLinked(links[i])) == NULL &&
				(windows[i] = RateGive(links[i])) == NULL)
			{
				/* no room: table mode, for at least a window */
				RateTableUntil(now_s, now_s + RATE_SLOTS + 1, false);
				LWLockRelease(rate_lock);
				return RATE_TABLE;
			}
	}
	for (int i = 0; i < n; i++)
		if (windows[i])
			used[i] = *links[i];

	/* both windows' spinlocks, in address order, then compare and add */
	if (n == 2 && windows[0] && windows[1] && windows[1] < windows[0])
	{
		SpinLockAcquire(&windows[1]->mutex);
		SpinLockAcquire(&windows[0]->mutex);
	}
	else
		for (int i = 0; i < n; i++)
			if (windows[i])
				SpinLockAcquire(&windows[i]->mutex);
	for (int i = 0; i < n; i++)
		seconds[i] = windows[i] ? RateAdvance(windows[i], now_s) : now_s;
	for (int i = 0; i < n && fits; i++)
		fits = RateFits(windows[i], &rules[i], tokens, seconds[i], now_us, v);
	/* tokens only where they are limited: then the window never passes the limit */
	if (fits && count)
		for (int i = 0; i < n; i++)
			RateAdd(windows[i], rules[i].tokens > 0 ? tokens : 0, seconds[i]);
	for (int i = n - 1; i >= 0; i--)
		if (windows[i])
			SpinLockRelease(&windows[i]->mutex);
	LWLockRelease(rate_lock);

	/* remember the admissions, to take them back if the transaction rolls back */
	if (fits && count)
		for (int i = 0; i < n; i++)
			RateRemember(&used[i], seconds[i], rules[i].tokens > 0 ? tokens : 0);
	return fits ? RATE_FITS : RATE_REFUSED;
}

/* Are the rate windows there (quota preloaded)? */
bool
RateWindowsReady(void)
{
	return rate_windows != NULL;
}
