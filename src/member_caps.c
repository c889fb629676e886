/*
 * member_caps.c
 *		Member caps and member limits without a sum per request: each
 *		member's spending per calendar window (day, week, month) and since
 *		the pool's period_start kept in shared memory, so that CapsAdmit
 *		(caps.c) decides a member cap, and request.c a member limit, by a
 *		few comparisons.
 *
 * What an entry holds.  Keyed by (database, OID of quota.ledger, pool id,
 * member), under its spinlock, like a pool's escrow entry (escrow.c):
 *
 *		win_committed[k]	committed charges of the member dated in window k
 *							(k = MEMBER_PERIOD: dated from period_start)
 *		win_pending[k]		in flight: the sum over transactions of
 *							max(their charges in k - their released holds, 0)
 *		held				the member's committed active holds
 *		pending_hold		holds of transactions in flight
 *		writers				transactions registered with the entry, not ended
 *
 * A transaction X sees window k's spending as
 *
 *		win_committed[k] + win_pending[k] - X's own share of it
 *		  + X's charges in k + held + pending_hold - X's released holds
 *
 * that is: its own changes as if committed, everyone else's at their worst
 * (a transaction in flight adds its new holds and its charges less the
 * holds it frees, or nothing if that is negative; if it commits it adds
 * its charges and holds less its releases, if it aborts nothing: both are
 * at most what was counted).  At commit (XACT_EVENT_COMMIT runs after
 * ProcArrayEndTransaction, so the rows are visible by then) the amounts
 * move to win_committed and held; at abort, or the abort of the
 * subtransaction that registered them, they are dropped.
 *
 * Who registers.  Every writer of a member's spending registers with the
 * member's entry before it writes its row: an unreserved charge and a
 * reservation (CapsAdmit, under the member's lock when the pool has member
 * caps or a member limit), a settlement (CapsSettle: a charge and a freed
 * hold, without the member's lock, never refused), a release or an expiry
 * (reserve.c: a freed hold).  When the member has no entry, the writer instead
 * counts itself in one of MEMBER_SLOTS shared counters chosen by the key's
 * hash ("unregistered writers in flight"), until its transaction ends.  Pools
 * without member caps pay that: a hash, two atomic operations.
 *
 * Creating an entry (its base).  Only a request holding the member's lock
 * (CapsAdmit, a member-limit check) creates or rebuilds an entry, so no other
 * charge or reservation of the member is in flight (they hold that lock to
 * their end).  It inserts the entry (not yet known) only if the slot's counter
 * of unregistered writers is zero, with the writer's and the creator's steps
 * ordered by full barriers (the writer adds itself to the slot, then looks for
 * entries; the creator announces an entry in the slot, then reads the
 * counter): either the creator sees the writer and gives up, or the writer
 * finds the entry and registers.  From then on every writer of the member
 * registers.  The creator then reads writers and a registration count; with no
 * registered writer in flight it sums the member's charges per window and
 * active holds with a snapshot taken now, and installs the sums only if nobody
 * registered in between.  So when the sums are installed, every writer that
 * ever touched the member has ended and its rows are seen by that snapshot
 * (committed) or never will be (aborted), and every later writer registers and
 * is counted once.  A transaction in flight while the base is read (the pool
 * caps' problem: rows not yet visible that commit later) cannot exist:
 * unregistered ones keep the entry from being created, registered ones keep
 * the sums from being installed.  A writer that commits while the entry is not
 * known yet drops its amounts: the base, read later, sees its rows.  The
 * creator's own transaction must not have written for the member before (else
 * its rows would be counted twice): then the request takes the SQL sum
 * instead.  When the sums cannot be installed (a settlement or release of the
 * member in flight, another member's writer in the same slot), the request
 * takes today's SQL sum under the member's lock, and the next one tries again.
 *
 * The period.  The last window starts at the pool's period_start as the
 * base's snapshot read it and never ends: a reset moves period_start, not
 * the window.  A member-limit check reads period_start after taking the
 * member's lock, with a snapshot taken then (this transaction's own reset
 * included), and uses the entry only if its window starts there; else it
 * rebuilds the entry as above, or takes the SQL sum while a writer of the
 * member is in flight.  A window started by a reset that then rolled back
 * differs from the next check's period_start, and is rebuilt the same way.
 * A member-limit check may build an entry of a pool without caps: it has
 * no calendar windows (zone "").
 *
 * Windows.  The entry's windows are those of the pool's time zone when the
 * base was read.  The first charge dated at or after a window's end starts
 * the next window with zero charges (every charge dated in it passes
 * through the entry), never before the previous one ended; amounts in
 * flight of the old window are dropped by a generation number.  A charge
 * checked against a window the entry no longer holds (dated before the
 * current window started) takes the SQL sum for that window.  A changed
 * time zone marks the entry stale: it is rebuilt as above (or the SQL sum
 * is taken) before it is used again.
 *
 * Rate windows.  An entry also holds the link to the member's rate window
 * (rate_window.c).  A member of a pool with a member rate limit gets an
 * entry for it, caps or not (MemberRateLink): not known, and not guarded
 * (it was not made under the creator's check above), so Build reads its
 * base only once no unregistered writer is in its hash slot.  A member id
 * of 64 bytes or more has such an entry under its SHA-256 digest, which
 * caps never look up.
 *
 * Room.  quota.max_members entries are reserved at start.  When they are
 * all used, entries no transaction is using and whose rate window holds no
 * admission of the last minute are reclaimed (those whose month has ended,
 * not yet known, or of an older quota.ledger; else the least recently used
 * one), at most once per transaction; failing that the member's caps and
 * limit take the SQL sum under the member's lock, as without shared
 * memory, and its rate limit the table (rate_window.c).  Exact either way.
 * A member id longer than 63 bytes or a zone name longer than 63 never
 * gets an entry for its caps.
 *
 * Crash and restart lose the entries and the slot counters along with every
 * transaction in flight; each entry is rebuilt from the ledger when first
 * used.  A hot standby creates and reads no entry (member caps are summed
 * from the replayed tables there, caps.c), and a promoted server starts
 * with none.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "cron.h"
#include "caps.h"
#include "escrow.h"
#include "member_caps.h"
#include "pools.h"
#include "quota.h"
#include "settings.h"
#include "shmem.h"

#define MEMBER_USER_LEN		64
#define MEMBER_TZ_LEN		64
#define MEMBER_SLOTS		1024

/* The calendar windows (day, week, month: escrow.h), then the period. */
#define MEMBER_MONTH		(ESCROW_WINDOWS - 1)
#define MEMBER_PERIOD		ESCROW_WINDOWS
#define MEMBER_WINDOWS		(ESCROW_WINDOWS + 1)

/* An entry without calendar windows unused this long is reclaimed first. */
#define MEMBER_IDLE			(31 * USECS_PER_DAY)

typedef struct MemberKey
{
	Oid			dbid;
	Oid			ledger;
	int64		pool_id;
	char		kind;			/* 'm' the id, 'h' its SHA-256 digest */
	char		user_id[MEMBER_USER_LEN];	/* zero-padded */
	char		spare[7];		/* zero: the key has no padding to copy */
} MemberKey;

StaticAssertDecl(sizeof(MemberKey) == 88,
				 "a member key is compared and hashed as bytes: no padding");

typedef struct MemberEntry
{
	MemberKey	key;
	slock_t		mutex;
	bool		known;			/* the sums below are installed */
	bool		stale;			/* to be rebuilt before its next use */
	bool		guarded;		/* made with no unregistered writer in its slot */
	int32		writers;		/* registered transactions not ended */
	int32		pins;			/* creators reading its base */
	uint64		registrations;	/* ever; a creator's check */
	char		tz[MEMBER_TZ_LEN];	/* the zone of its windows; "" none */
	TimestampTz last_used;
	TimestampTz win_start[MEMBER_WINDOWS];	/* the period's: period_start */
	TimestampTz win_end[MEMBER_WINDOWS];	/* 0: none; the period's: DT_NOEND */
	uint32		win_gen[MEMBER_WINDOWS];
	int128		win_committed[MEMBER_WINDOWS];
	int128		win_pending[MEMBER_WINDOWS];
	int128		held;
	int128		pending_hold;
	RateLink	rate;			/* the member's rate window (rate_window.c) */
} MemberEntry;

typedef struct MemberShared
{
	LWLock	   *lock;
	pg_atomic_uint32 inflight[MEMBER_SLOTS];	/* unregistered writers */
	pg_atomic_uint32 entries[MEMBER_SLOTS];	/* entries (or creators) */
	pg_atomic_uint32 full_logged;	/* the server log said the table is full */
} MemberShared;

/*
 * This transaction registered with an entry (which cannot go away
 * meanwhile), with its totals over every nesting level.
 */
typedef struct MemberWriter
{
	MemberKey	key;			/* a copy: the entry is not ours after the end */
	MemberEntry *entry;
	bool		counted;		/* the entry was known: amounts are counted */
	int			last_op;		/* its latest op, or -1 */
	int128		charge[MEMBER_WINDOWS];	/* charges in window generation tgen */
	uint32		tgen[MEMBER_WINDOWS];
	int128		hold;
	int128		unhold;
	int128		contrib[MEMBER_WINDOWS];	/* our share of win_pending */
	uint32		cgen[MEMBER_WINDOWS];
} MemberWriter;

/* Amounts registered at one nesting level (to drop at its rollback). */
typedef struct MemberOp
{
	int			writer;			/* index in writers */
	int			nest_level;
	int128		charge[MEMBER_WINDOWS];
	uint32		gen[MEMBER_WINDOWS];
	int128		hold;
	int128		unhold;
} MemberOp;

/* This transaction counted itself in a slot as an unregistered writer. */
typedef struct MemberSlotReg
{
	MemberKey	key;
	int			slot;
} MemberSlotReg;

/* The keys this transaction wrote for: a writer index, or -1 (a slot). */
typedef struct LocalKey
{
	MemberKey	key;
	int			writer;
} LocalKey;

static MemberShared *member_shared = NULL;
static HTAB *member_hash = NULL;

static MemberWriter *writers = NULL;
static int	nwriters = 0,
			maxwriters = 0;
static MemberOp *ops = NULL;
static int	nops = 0,
			maxops = 0;
static MemberSlotReg *slotregs = NULL;
static int	nslotregs = 0,
			maxslotregs = 0;
static MemberEntry *building = NULL;	/* pinned by a creator */
static MemberEntry *rate_pinned = NULL; /* pinned for a rate admission */
static int	last_writer = -1;	/* the writer registered or found last */
static HTAB *local_keys = NULL;

static const char *const member_window_names[ESCROW_WINDOWS] = {"day", "week", "month"};

/*
 * The member's charges per calendar window ($3 to $8, NULL without
 * windows) and since the pool's period_start, and their active holds, in
 * 1e-9 credits as text; then that period_start.  No row without the pool.
 */
static QuotaQuery member_base_q = {
	"SELECT pg_catalog.trunc(coalesce(-pg_catalog.sum(l.amount::pg_catalog.numeric) "
	"         FILTER (WHERE l.at OPERATOR(pg_catalog.>=) $3 AND l.at OPERATOR(pg_catalog.<) $4), 0) "
	"         OPERATOR(pg_catalog.*) 1000000000)::pg_catalog.text, "
	"       pg_catalog.trunc(coalesce(-pg_catalog.sum(l.amount::pg_catalog.numeric) "
	"         FILTER (WHERE l.at OPERATOR(pg_catalog.>=) $5 AND l.at OPERATOR(pg_catalog.<) $6), 0) "
	"         OPERATOR(pg_catalog.*) 1000000000)::pg_catalog.text, "
	"       pg_catalog.trunc(coalesce(-pg_catalog.sum(l.amount::pg_catalog.numeric) "
	"         FILTER (WHERE l.at OPERATOR(pg_catalog.>=) $7 AND l.at OPERATOR(pg_catalog.<) $8), 0) "
	"         OPERATOR(pg_catalog.*) 1000000000)::pg_catalog.text, "
	"       pg_catalog.trunc(coalesce(-pg_catalog.sum(l.amount::pg_catalog.numeric) "
	"         FILTER (WHERE l.at OPERATOR(pg_catalog.>=) p.period_start), 0) "
	"         OPERATOR(pg_catalog.*) 1000000000)::pg_catalog.text, "
	"       (SELECT pg_catalog.trunc(coalesce(pg_catalog.sum(r.held::pg_catalog.numeric), 0) "
	"           OPERATOR(pg_catalog.*) 1000000000)::pg_catalog.text "
	"          FROM quota.reservations r WHERE r.pool OPERATOR(pg_catalog.=) $1 "
	"           AND r.user_id OPERATOR(pg_catalog.=) $2 AND r.settled_at IS NULL), "
	"       p.period_start "
	"FROM (SELECT d.period_start FROM quota.pool_defs d "
	"       WHERE d.pool OPERATOR(pg_catalog.=) $1) p "
	"LEFT JOIN quota.ledger l ON l.pool OPERATOR(pg_catalog.=) $1 "
	"  AND l.user_id OPERATOR(pg_catalog.=) $2 AND l.kind OPERATOR(pg_catalog.=) 'charge' "
	"  AND l.at OPERATOR(pg_catalog.>=) LEAST($9, p.period_start) "
	"GROUP BY p.period_start",
	9, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/* Shared memory of quota.max_members member slots (shmem.c). */
Size
MemberShmemSize(void)
{
	if (quota_max_members <= 0)
		return 0;
	return add_size(MAXALIGN(sizeof(MemberShared)),
					hash_estimate_size(quota_max_members, sizeof(MemberEntry)));
}

/* Create or attach to the member slots (shmem.c, under AddinShmemInitLock). */
void
MemberShmemAttach(LWLock *lock)
{
	bool		found;
	HASHCTL		info;

	if (quota_max_members <= 0)
		return;
	member_shared = ShmemInitStruct("quota member slots", sizeof(MemberShared), &found);
	if (!found)
	{
		member_shared->lock = lock;
		for (int i = 0; i < MEMBER_SLOTS; i++)
		{
			pg_atomic_init_u32(&member_shared->inflight[i], 0);
			pg_atomic_init_u32(&member_shared->entries[i], 0);
		}
		pg_atomic_init_u32(&member_shared->full_logged, 0);
	}
	info.keysize = sizeof(MemberKey);
	info.entrysize = sizeof(MemberEntry);
	member_hash = ShmemInitHash("quota member slot entries", quota_max_members,
								quota_max_members, &info,
								HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* Are member counters kept (preloaded, room reserved, not in recovery)? */
static bool
MemberCapsEnabled(void)
{
	return member_hash != NULL && !RecoveryInProgress();
}

/* The key of a member of a pool; false when it cannot have an entry. */
static bool
MakeKey(int64 pool_id, const char *user_id, MemberKey *key)
{
	size_t		len = strlen(user_id);
	Oid			ledger;

	if (len >= MEMBER_USER_LEN)
		return false;
	ledger = QuotaLedgerRelid(true);
	if (!OidIsValid(ledger))
		return false;
	memset(key, 0, sizeof(MemberKey));
	key->dbid = MyDatabaseId;
	key->ledger = ledger;
	key->pool_id = pool_id;
	key->kind = 'm';
	memcpy(key->user_id, user_id, len);
	return true;
}

/*
 * The key of a member's rate window: MakeKey's, or for an id too long for
 * it, its SHA-256 digest (such a slot holds only the rate window: caps
 * never find it); false when there is no ledger.
 */
static bool
MakeRateKey(int64 pool_id, const char *user_id, MemberKey *key)
{
	size_t		len = strlen(user_id);
	pg_cryptohash_ctx *ctx;

	if (len < MEMBER_USER_LEN)
		return MakeKey(pool_id, user_id, key);
	if (!MakeKey(pool_id, "", key))
		return false;
	key->kind = 'h';
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) user_id, len) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) key->user_id, MEMBER_USER_LEN) < 0)
		elog(ERROR, "could not compute the SHA-256 digest of a user id");
	pg_cryptohash_free(ctx);
	return true;
}

/* The slot of a key's unregistered writers. */
static int
SlotOf(const MemberKey *key)
{
	return hash_bytes((const unsigned char *) key, sizeof(MemberKey)) % MEMBER_SLOTS;
}

/* Make room for one more element in a backend-local array. */
static void *
Grow(void *array, int *max, Size size)
{
	int			newmax = *max ? *max * 2 : 8;

	array = array ? repalloc(array, newmax * size) :
		MemoryContextAlloc(TopMemoryContext, newmax * size);
	*max = newmax;
	return array;
}

/* This transaction's record of a key, or NULL. */
static LocalKey *
LocalFind(const MemberKey *key)
{
	if (local_keys == NULL || (nwriters == 0 && nslotregs == 0))
		return NULL;
	return hash_search(local_keys, key, HASH_FIND, NULL);
}

/* Note that this transaction wrote for a key (as writer, or -1: in a slot). */
static void
LocalAdd(const MemberKey *key, int writer)
{
	LocalKey   *lk;

	if (local_keys == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(MemberKey);
		ctl.entrysize = sizeof(LocalKey);
		ctl.hcxt = TopMemoryContext;
		local_keys = hash_create("quota member caps of the transaction", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	lk = hash_search(local_keys, key, HASH_ENTER, NULL);
	lk->writer = writer;
}

/* This transaction's writer index for a key, or -1. */
static int
FindWriter(const MemberKey *key)
{
	LocalKey   *lk;

	if (last_writer >= 0 && last_writer < nwriters &&
		memcmp(&writers[last_writer].key, key, sizeof(MemberKey)) == 0)
		return last_writer;
	lk = LocalFind(key);
	if (lk != NULL && lk->writer >= 0)
		last_writer = lk->writer;
	return lk ? lk->writer : -1;
}

/* Has this transaction counted itself in a slot for the key? */
static bool
HasSlotReg(const MemberKey *key)
{
	LocalKey   *lk = LocalFind(key);

	return lk != NULL && lk->writer < 0;
}

/* Register this transaction with an entry; the caller holds the LWLock. */
static int
AddWriter(MemberEntry *entry)
{
	MemberWriter *w;

	if (nwriters == maxwriters)
		writers = Grow(writers, &maxwriters, sizeof(MemberWriter));
	w = &writers[nwriters];
	memset(w, 0, sizeof(MemberWriter));
	w->key = entry->key;
	w->entry = entry;
	w->last_op = -1;
	SpinLockAcquire(&entry->mutex);
	entry->writers++;
	entry->registrations++;
	w->counted = entry->known;
	SpinLockRelease(&entry->mutex);
	nwriters++;
	LocalAdd(&w->key, nwriters - 1);	/* last: MemberEnd undoes the rest */
	last_writer = nwriters - 1;
	return nwriters - 1;
}

/* The op of a writer at the current nesting level (created). */
static MemberOp *
GetOp(int writer)
{
	int			level = GetCurrentTransactionNestLevel();
	MemberWriter *wr = &writers[writer];

	if (wr->last_op >= 0 && ops[wr->last_op].nest_level == level)
		return &ops[wr->last_op];
	if (nops == maxops)
		ops = Grow(ops, &maxops, sizeof(MemberOp));
	memset(&ops[nops], 0, sizeof(MemberOp));
	ops[nops].writer = writer;
	ops[nops].nest_level = level;
	wr->last_op = nops;
	return &ops[nops++];
}

/*
 * Register with the key's entry, or count in its slot when it has none:
 * the writer's index, or -1 (unregistered).
 */
static int
Enlist(const MemberKey *key)
{
	int			w = FindWriter(key);
	int			slot;
	MemberEntry *entry;

	if (w >= 0)
		return w;
	if (HasSlotReg(key))
		return -1;
	slot = SlotOf(key);
	if (nslotregs == maxslotregs)
		slotregs = Grow(slotregs, &maxslotregs, sizeof(MemberSlotReg));
	/* in the slot first (a full barrier), then look for an entry */
	pg_atomic_fetch_add_u32(&member_shared->inflight[slot], 1);
	if (pg_atomic_read_u32(&member_shared->entries[slot]) != 0)
	{
		LWLockAcquire(member_shared->lock, LW_SHARED);
		entry = hash_search(member_hash, key, HASH_FIND, NULL);
		if (entry)
			w = AddWriter(entry);
		LWLockRelease(member_shared->lock);
		if (w >= 0)
		{
			pg_atomic_fetch_sub_u32(&member_shared->inflight[slot], 1);
			return w;
		}
	}
	slotregs[nslotregs].key = *key;
	slotregs[nslotregs].slot = slot;
	nslotregs++;
	LocalAdd(key, -1);
	return -1;
}

/* Is at in the entry's window k?  The caller holds the spinlock. */
static inline bool
InWindow(const MemberEntry *entry, int k, TimestampTz at)
{
	return entry->win_end[k] != 0 && at >= entry->win_start[k] &&
		at < entry->win_end[k];
}

/*
 * Re-add this transaction's share of the entry's in-flight charges: per
 * window, its charges there less the holds it frees, at least zero.  The
 * caller holds the spinlock.
 */
static void
Recontribute(int w)
{
	MemberWriter *wr = &writers[w];
	MemberEntry *entry = wr->entry;

	for (int k = 0; k < MEMBER_WINDOWS; k++)
	{
		int128		charge = wr->tgen[k] == entry->win_gen[k] ? wr->charge[k] : 0;
		int128		share = charge > wr->unhold ? charge - wr->unhold : 0;
		int128		old = wr->cgen[k] == entry->win_gen[k] ? wr->contrib[k] : 0;

		entry->win_pending[k] += share - old;
		wr->contrib[k] = share;
		wr->cgen[k] = entry->win_gen[k];
	}
}

/*
 * Start the windows that at has passed, in the entry's zone (a known entry
 * this transaction uses); a zone other than the entry's marks it stale.
 */
static void
RollWindows(MemberEntry *entry, const char *tz, TimestampTz at)
{
	bool		need = false;
	bool		same_zone;
	bool		known;

	SpinLockAcquire(&entry->mutex);
	known = entry->known;
	same_zone = tz != NULL && strcmp(entry->tz, tz) == 0;
	for (int k = 0; k < ESCROW_WINDOWS; k++)
		need |= entry->win_end[k] != 0 && at >= entry->win_end[k];
	if (known && need && !same_zone)
		entry->stale = true;
	SpinLockRelease(&entry->mutex);
	if (!known || !need || !same_zone)
		return;
	for (int k = 0; k < ESCROW_WINDOWS; k++)
	{
		TimestampTz start;
		TimestampTz end;

		QuotaWindowBounds(member_window_names[k], tz, at, &start, &end);
		SpinLockAcquire(&entry->mutex);
		if (at >= entry->win_end[k] && end > entry->win_end[k])
		{
			/* never before the previous window ended */
			entry->win_start[k] = Max(start, entry->win_end[k]);
			entry->win_end[k] = end;
			entry->win_gen[k]++;
			entry->win_committed[k] = entry->win_pending[k] = 0;
		}
		SpinLockRelease(&entry->mutex);
	}
}

/* Parse an integer's text into 128 bits (the base query's sums). */
static int128
ParseInt128(const char *s)
{
	int128		v = 0;
	bool		neg = (*s == '-');

	if (neg)
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return neg ? -v : v;
}

/*
 * Free entries no transaction uses, when the table is full (the caller
 * holds the LWLock exclusively): those not known, whose month has ended (or
 * without calendar windows, unused for MEMBER_IDLE) or of another
 * quota.ledger of this database; else the least recently used.
 * An entry whose rate window still holds an admission is in use: freeing
 * it would let the member start a fresh window.  At most once per
 * transaction.  Returns whether one was freed.
 */
static bool
Reclaim(Oid current_ledger, TimestampTz now)
{
	static LocalTransactionId reclaimed_in = InvalidLocalTransactionId;
	HASH_SEQ_STATUS seq;
	MemberEntry *entry;
	MemberKey	oldest;
	TimestampTz oldest_used = 0;
	bool		have_oldest = false;
	long		freed = 0;
	int32		now_s;

	if (reclaimed_in == ProcLocalXid(MyProc))
		return false;
	reclaimed_in = ProcLocalXid(MyProc);
	now_s = (int32) (GetCurrentTimestamp() / USECS_PER_SEC);
	RateLinksLock();
	hash_seq_init(&seq, member_hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		bool		idle;
		bool		dead;
		RateLink	rate;

		SpinLockAcquire(&entry->mutex);
		idle = entry->writers == 0 && entry->pins == 0;
		rate = entry->rate;
		dead = !entry->known ||
			(entry->tz[0] != '\0' ? entry->win_end[MEMBER_MONTH] <= now :
			 entry->last_used <= now - MEMBER_IDLE) ||
			(entry->key.dbid == MyDatabaseId && entry->key.ledger != current_ledger);
		SpinLockRelease(&entry->mutex);
		/* nobody can pin it meanwhile: a pin needs the LWLock */
		idle = idle && !RateLinkActive(&rate, now_s);
		SpinLockAcquire(&entry->mutex);
		if (idle && !dead && (!have_oldest || entry->last_used < oldest_used))
		{
			oldest = entry->key;
			oldest_used = entry->last_used;
			have_oldest = true;
		}
		SpinLockRelease(&entry->mutex);
		if (idle && dead)
		{
			MemberKey	key = entry->key;

			/* removing the element just returned is allowed */
			pg_atomic_fetch_sub_u32(&member_shared->entries[SlotOf(&key)], 1);
			hash_search(member_hash, &key, HASH_REMOVE, NULL);
			freed++;
		}
	}
	RateLinksUnlock();
	if (freed == 0 && have_oldest)
	{
		pg_atomic_fetch_sub_u32(&member_shared->entries[SlotOf(&oldest)], 1);
		hash_search(member_hash, &oldest, HASH_REMOVE, NULL);
		freed++;
	}
	return freed > 0;
}

/* A new entry (the LWLock held exclusively): not known, nothing counted. */
static void
InitEntry(MemberEntry *entry, bool guarded, TimestampTz now)
{
	SpinLockInit(&entry->mutex);
	entry->known = false;
	entry->stale = false;
	entry->guarded = guarded;
	entry->writers = 0;
	entry->pins = 0;
	entry->registrations = 0;
	entry->tz[0] = '\0';
	entry->last_used = now;
	for (int k = 0; k < MEMBER_WINDOWS; k++)
	{
		entry->win_start[k] = entry->win_end[k] = 0;
		entry->win_gen[k] = 0;
		entry->win_committed[k] = entry->win_pending[k] = 0;
	}
	entry->held = entry->pending_hold = 0;
	RateLinkInit(&entry->rate);
}

/*
 * Create or rebuild the key's entry for a request dated at, its calendar
 * windows in zone tz (NULL: none), its period from the pool's period_start
 * as a snapshot taken now sees it (see the top of the file): true when its
 * sums are installed.  The caller holds the member's lock, is connected to
 * SPI and has not written for the member in this transaction.
 */
static bool
Build(const MemberKey *key, const char *pool, const char *user_id,
	  const char *tz, TimestampTz at)
{
	int			slot = SlotOf(key);
	MemberEntry *entry;
	bool		found;
	bool		ok;
	bool		guarded;
	uint64		r0;
	TimestampTz start[ESCROW_WINDOWS];
	TimestampTz end[ESCROW_WINDOWS];
	TimestampTz lo = 0;
	TimestampTz period_start = 0;
	int128		base[MEMBER_WINDOWS + 1];	/* the windows, then the holds */

	if (building)
	{
		/* left pinned by a build that failed in a rolled back subtransaction */
		SpinLockAcquire(&building->mutex);
		building->pins--;
		SpinLockRelease(&building->mutex);
		building = NULL;
	}
	LWLockAcquire(member_shared->lock, LW_SHARED);
	entry = hash_search(member_hash, key, HASH_FIND, NULL);
	if (entry)
	{
		SpinLockAcquire(&entry->mutex);
		entry->pins++;
		SpinLockRelease(&entry->mutex);
	}
	LWLockRelease(member_shared->lock);
	if (entry == NULL)
	{
		LWLockAcquire(member_shared->lock, LW_EXCLUSIVE);
		entry = hash_search(member_hash, key, HASH_FIND, NULL);
		if (entry == NULL)
		{
			if (hash_get_num_entries(member_hash) >= quota_max_members &&
				!Reclaim(key->ledger, at))
			{
				LWLockRelease(member_shared->lock);
				if (pg_atomic_exchange_u32(&member_shared->full_logged, 1) == 0)
					ereport(LOG,
							(errmsg("quota's shared memory has no room for member \"%s\" of pool \"%s\": quota.max_members (%d) are in use",
									user_id, pool, quota_max_members),
							 errdetail("Members without room have their caps and member limit summed from the ledger under their lock, exactly but with a statement per request."),
							 errhint("Raise quota.max_members and restart the server.")));
				return false;
			}
			/* announce the entry (a full barrier), then look for writers */
			pg_atomic_fetch_add_u32(&member_shared->entries[slot], 1);
			if (pg_atomic_read_u32(&member_shared->inflight[slot]) != 0 ||
				(entry = hash_search(member_hash, key, HASH_ENTER_NULL, &found)) == NULL)
			{
				pg_atomic_fetch_sub_u32(&member_shared->entries[slot], 1);
				LWLockRelease(member_shared->lock);
				return false;
			}
			InitEntry(entry, true, at);
		}
		SpinLockAcquire(&entry->mutex);
		entry->pins++;
		SpinLockRelease(&entry->mutex);
		LWLockRelease(member_shared->lock);
	}
	building = entry;

	/*
	 * No registered writer in flight now, and none until the sums are in;
	 * for an entry made for a rate window (MemberRateLink: not guarded),
	 * no unregistered writer either, of those in flight when it was made.
	 */
	SpinLockAcquire(&entry->mutex);
	ok = entry->writers == 0;
	guarded = entry->guarded;
	r0 = entry->registrations;
	SpinLockRelease(&entry->mutex);
	if (ok && !guarded)
	{
		pg_memory_barrier();
		ok = pg_atomic_read_u32(&member_shared->inflight[slot]) == 0;
	}
	if (ok)
	{
		Snapshot	latest;
		Datum		v[9];
		char		nulls[9];
		bool		isnull;

		memset(nulls, tz ? ' ' : 'n', sizeof(nulls));
		nulls[0] = nulls[1] = ' ';
		v[0] = CStringGetTextDatum(pool);
		v[1] = CStringGetTextDatum(user_id);
		for (int k = 0; k < ESCROW_WINDOWS; k++)
		{
			start[k] = end[k] = 0;
			if (tz != NULL)
				QuotaWindowBounds(member_window_names[k], tz, at, &start[k], &end[k]);
			lo = k == 0 ? start[k] : Min(lo, start[k]);
			v[2 + 2 * k] = TimestampTzGetDatum(start[k]);
			v[3 + 2 * k] = TimestampTzGetDatum(end[k]);
		}
		v[8] = TimestampTzGetDatum(lo);	/* all NULL without windows */
		latest = RegisterSnapshot(GetLatestSnapshot());
		ok = QuotaExecSnapshot(&member_base_q, v, nulls, latest, 1) == 1;
		UnregisterSnapshot(latest);
		for (int k = 0; ok && k <= MEMBER_WINDOWS; k++)
		{
			Datum		d = QuotaGetDatum(0, k + 1, &isnull);

			base[k] = isnull ? 0 : ParseInt128(TextDatumGetCString(d));
		}
		if (ok)
			period_start = DatumGetTimestampTz(QuotaGetDatum(0, MEMBER_WINDOWS + 2, &isnull));
		SpinLockAcquire(&entry->mutex);
		ok = ok && entry->writers == 0 && entry->registrations == r0;
		if (ok)
		{
			for (int k = 0; k < MEMBER_WINDOWS; k++)
			{
				entry->win_start[k] = k == MEMBER_PERIOD ? period_start : start[k];
				entry->win_end[k] = k == MEMBER_PERIOD ? DT_NOEND : end[k];
				entry->win_gen[k]++;
				entry->win_committed[k] = base[k];
				entry->win_pending[k] = 0;
			}
			entry->held = base[MEMBER_WINDOWS];
			entry->pending_hold = 0;
			strlcpy(entry->tz, tz ? tz : "", MEMBER_TZ_LEN);
			entry->known = true;
			entry->guarded = true;
			entry->stale = false;
			entry->last_used = at;
		}
		SpinLockRelease(&entry->mutex);
	}
	SpinLockAcquire(&entry->mutex);
	entry->pins--;
	SpinLockRelease(&entry->mutex);
	building = NULL;
	if (ok)
		elog(DEBUG1, "quota: counters of member \"%s\" of pool \"%s\" read from the ledger",
			 user_id, pool);
	return ok;
}

/* What a request needs of a member's entry: its zone, or its period. */
typedef struct MemberNeed
{
	const char *tz;				/* the calendar windows' zone (NULL: none) */
	bool		same_tz;		/* ... and the entry must have it */
	bool		has_period;		/* the entry must count from period_start */
	TimestampTz period_start;
} MemberNeed;

/* Does a known entry serve the request?  The caller holds the spinlock. */
static inline bool
Serves(const MemberEntry *entry, const MemberNeed *need)
{
	return entry->known && !entry->stale &&
		(!need->same_tz || strcmp(entry->tz, need->tz) == 0) &&
		(!need->has_period || entry->win_start[MEMBER_PERIOD] == need->period_start);
}

/*
 * The spending in window k that writer w sees: its own as if committed,
 * everyone else's at their worst.  The caller holds the spinlock.
 */
static int128
SeenIn(int w, int k)
{
	MemberWriter *wr = &writers[w];
	MemberEntry *entry = wr->entry;

	return entry->win_committed[k] + entry->win_pending[k]
		- (wr->cgen[k] == entry->win_gen[k] ? wr->contrib[k] : 0)
		+ (wr->tgen[k] == entry->win_gen[k] ? wr->charge[k] : 0)
		+ entry->held + entry->pending_hold - wr->unhold;
}

/*
 * Register this transaction with the member's entry for a request dated at,
 * under the member's lock: one that serves it, else one built (or rebuilt)
 * now.  Returns the writer, or -1 when there is no counted entry to use and
 * the caller sums the ledger.
 */
static int
JoinEntry(const MemberKey *key, const char *pool, const char *user_id,
		  const MemberNeed *need, TimestampTz at)
{
	int			w = FindWriter(key);
	MemberEntry *entry;
	bool		ok;

	if (w < 0 && HasSlotReg(key))
		return -1;				/* our own unregistered rows: not twice */
	for (int attempt = 0; attempt < 2 && w < 0; attempt++)
	{
		LWLockAcquire(member_shared->lock, LW_SHARED);
		entry = hash_search(member_hash, key, HASH_FIND, NULL);
		if (entry)
		{
			SpinLockAcquire(&entry->mutex);
			ok = Serves(entry, need);
			SpinLockRelease(&entry->mutex);
			if (ok)
				w = AddWriter(entry);
		}
		LWLockRelease(member_shared->lock);
		if (w < 0 && (attempt > 0 || !Build(key, pool, user_id, need->tz, at)))
			return -1;
	}
	return w >= 0 && writers[w].counted ? w : -1;
}

/*
 * For CapsAdmit, under the member's lock: the member's spending in each
 * window containing at (usable[k]), as this transaction sees it, from the
 * member's entry (created if need be); false when there is none to use,
 * and the caller sums the ledger.  Registers the transaction with the
 * entry.
 */
bool
MemberCapsSpent(int64 pool_id, const char *pool, const char *user_id,
				const char *timezone, TimestampTz at, int128 *spent, bool *usable)
{
	MemberKey	key;
	MemberNeed	need = {timezone, true, false, 0};
	int			w;
	MemberEntry *entry;
	bool		ok;

	for (int k = 0; k < ESCROW_WINDOWS; k++)
		usable[k] = false;
	if (!MemberCapsEnabled() || timezone == NULL ||
		strlen(timezone) >= MEMBER_TZ_LEN || !MakeKey(pool_id, user_id, &key))
		return false;
	if ((w = JoinEntry(&key, pool, user_id, &need, at)) < 0)
		return false;
	entry = writers[w].entry;
	RollWindows(entry, timezone, at);
	SpinLockAcquire(&entry->mutex);
	ok = Serves(entry, &need);
	for (int k = 0; ok && k < ESCROW_WINDOWS; k++)
	{
		if (!InWindow(entry, k, at))
			continue;
		spent[k] = SeenIn(w, k);
		usable[k] = true;
	}
	SpinLockRelease(&entry->mutex);
	return ok;
}

/*
 * For the member limit (request.c), under the member's lock: the member's
 * charges dated from period_start (the pool's, as a snapshot taken after
 * the lock sees it) plus their active holds, as this transaction sees them,
 * from the member's entry (built if need be, with calendar windows in
 * timezone, NULL for none); false when there is none to use, and the
 * caller sums the ledger.  Registers the transaction with the entry.  A
 * reset that moved the period makes the entry differ from period_start: it
 * is rebuilt once no writer of the member is in flight, and until then the
 * ledger is summed.
 */
bool
MemberPeriodUsed(int64 pool_id, const char *pool, const char *user_id,
				 const char *timezone, TimestampTz period_start, int128 *used)
{
	MemberKey	key;
	MemberNeed	need = {timezone, false, true, period_start};
	int			w;
	MemberEntry *entry;
	bool		ok;

	if (!MemberCapsEnabled() ||
		(timezone != NULL && strlen(timezone) >= MEMBER_TZ_LEN) ||
		!MakeKey(pool_id, user_id, &key))
		return false;
	if ((w = JoinEntry(&key, pool, user_id, &need, GetCurrentTimestamp())) < 0)
		return false;
	entry = writers[w].entry;
	SpinLockAcquire(&entry->mutex);
	ok = Serves(entry, &need);
	if (ok)
		*used = SeenIn(w, MEMBER_PERIOD);
	SpinLockRelease(&entry->mutex);
	return ok;
}

/*
 * Register a writer's amounts for a member before its row is written: a
 * charge dated at, a new hold, a freed hold (see the top of the file).
 * timezone is the pool's (NULL if unknown: a window to start then marks
 * the entry stale).
 */
void
MemberCapsRegister(int64 pool_id, const char *user_id, const char *timezone,
				   TimestampTz at, Credits charge, Credits hold, Credits unhold)
{
	MemberKey	key;
	int			w;
	MemberEntry *entry;
	MemberWriter *wr;
	MemberOp   *op;

	if (!MemberCapsEnabled() || (charge == 0 && hold == 0 && unhold == 0) ||
		!MakeKey(pool_id, user_id, &key))
		return;
	if ((w = Enlist(&key)) < 0)
		return;
	entry = writers[w].entry;
	if (!writers[w].counted)
		return;					/* the base, read later, sees our rows */
	if (charge != 0)
		RollWindows(entry, timezone, at);
	op = GetOp(w);
	wr = &writers[w];
	SpinLockAcquire(&entry->mutex);
	entry->last_used = Max(entry->last_used, at);
	for (int k = 0; charge != 0 && k < MEMBER_WINDOWS; k++)
	{
		uint32		gen = entry->win_gen[k];

		if (!InWindow(entry, k, at))
			continue;
		if (op->gen[k] != gen)
		{
			op->gen[k] = gen;
			op->charge[k] = 0;
		}
		op->charge[k] += charge;
		if (wr->tgen[k] != gen)
		{
			wr->tgen[k] = gen;
			wr->charge[k] = 0;
		}
		wr->charge[k] += charge;
	}
	op->hold += hold;
	op->unhold += unhold;
	wr->hold += hold;
	wr->unhold += unhold;
	entry->pending_hold += hold;
	Recontribute(w);
	SpinLockRelease(&entry->mutex);
}

/* Apply (commit) or drop (abort) every registration of the transaction. */
static void
MemberEnd(bool commit)
{
	for (int w = 0; w < nwriters; w++)
	{
		MemberWriter *wr = &writers[w];
		MemberEntry *entry = wr->entry;

		if (local_keys)
			hash_search(local_keys, &wr->key, HASH_REMOVE, NULL);
		SpinLockAcquire(&entry->mutex);
		if (wr->counted)
		{
			for (int k = 0; k < MEMBER_WINDOWS; k++)
			{
				if (wr->cgen[k] == entry->win_gen[k])
					entry->win_pending[k] -= wr->contrib[k];
				if (commit && wr->tgen[k] == entry->win_gen[k])
					entry->win_committed[k] += wr->charge[k];
			}
			entry->pending_hold -= wr->hold;
			if (commit)
				entry->held += wr->hold - wr->unhold;
		}
		entry->writers--;
		SpinLockRelease(&entry->mutex);
	}
	nwriters = nops = 0;
	last_writer = -1;
	MemberRateRelease();
	for (int i = 0; i < nslotregs; i++)
	{
		if (local_keys)
			hash_search(local_keys, &slotregs[i].key, HASH_REMOVE, NULL);
		pg_atomic_fetch_sub_u32(&member_shared->inflight[slotregs[i].slot], 1);
	}
	nslotregs = 0;
	if (local_keys && hash_get_num_entries(local_keys) > 0)
	{
		/* left by an error between two steps: start afresh */
		hash_destroy(local_keys);
		local_keys = NULL;
	}
	if (building)
	{
		SpinLockAcquire(&building->mutex);
		building->pins--;
		SpinLockRelease(&building->mutex);
		building = NULL;
	}
}

/* End of transaction (xact.c): apply at commit, drop at abort. */
void
MemberXactEvent(XactEvent event)
{
	if (member_hash == NULL)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			MemberEnd(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a transaction with registrations cannot prepare (escrow.c) */
			MemberEnd(false);
			break;
		default:
			break;
	}
}

/* End of a subtransaction (xact.c): a rolled back savepoint drops its amounts. */
void
MemberSubXactEvent(SubXactEvent event)
{
	int			level = GetCurrentTransactionNestLevel();

	if (member_hash == NULL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			keep = 0;
		bool		changed = false;

		for (int i = 0; i < nops; i++)
		{
			MemberOp   *op = &ops[i];
			MemberWriter *wr = &writers[op->writer];

			if (op->nest_level < level)
			{
				ops[keep++] = *op;
				continue;
			}
			/* take the op out of its writer's totals */
			for (int k = 0; k < MEMBER_WINDOWS; k++)
				if (op->gen[k] == wr->tgen[k])
					wr->charge[k] -= op->charge[k];
			wr->hold -= op->hold;
			wr->unhold -= op->unhold;
			if (wr->counted && op->hold != 0)
			{
				SpinLockAcquire(&wr->entry->mutex);
				wr->entry->pending_hold -= op->hold;
				SpinLockRelease(&wr->entry->mutex);
			}
			changed = true;
		}
		nops = keep;
		if (!changed)
			return;
		for (int w = 0; w < nwriters; w++)
			writers[w].last_op = -1;
		for (int i = 0; i < nops; i++)
			writers[ops[i].writer].last_op = i;
		for (int w = 0; w < nwriters; w++)
			if (writers[w].counted)
			{
				SpinLockAcquire(&writers[w].entry->mutex);
				Recontribute(w);
				SpinLockRelease(&writers[w].entry->mutex);
			}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = 0; i < nops; i++)
			if (ops[i].nest_level >= level)
				ops[i].nest_level = level - 1;
	}
}

/*
 * The link to a member's rate window, in the member's slot (ratelimit.c):
 * the slot is made if need be with create, found only without.  NULL when
 * there is none (no room, no member slots, a server in recovery).  The
 * slot stays until MemberRateRelease: registered with it by this charge
 * (found without a look-up), or pinned.
 *
 * A slot made here is not guarded: writers of the member counted in its
 * hash slot as unregistered may still be in flight (the entry is announced
 * in that slot first, so every later one registers with it).  Build reads
 * its base only once none is (see there).  Until then it is not known, and
 * holds the rate window alone.
 */
RateLink *
MemberRateLink(int64 pool_id, const char *user_id, bool create)
{
	MemberKey	key;
	MemberEntry *entry;
	int			w;
	bool		found;

	MemberRateRelease();
	if (!MemberCapsEnabled() || !MakeRateKey(pool_id, user_id, &key))
		return NULL;
	if ((w = FindWriter(&key)) >= 0)
		return &writers[w].entry->rate;
	LWLockAcquire(member_shared->lock, LW_SHARED);
	entry = hash_search(member_hash, &key, HASH_FIND, NULL);
	if (entry)
	{
		SpinLockAcquire(&entry->mutex);
		entry->pins++;
		SpinLockRelease(&entry->mutex);
	}
	LWLockRelease(member_shared->lock);
	if (entry == NULL && create)
	{
		int			slot = SlotOf(&key);

		LWLockAcquire(member_shared->lock, LW_EXCLUSIVE);
		entry = hash_search(member_hash, &key, HASH_FIND, NULL);
		if (entry == NULL &&
			(hash_get_num_entries(member_hash) < quota_max_members ||
			 Reclaim(key.ledger, GetCurrentTimestamp())))
		{
			/* announce the entry (a full barrier), then make it */
			pg_atomic_fetch_add_u32(&member_shared->entries[slot], 1);
			entry = hash_search(member_hash, &key, HASH_ENTER_NULL, &found);
			if (entry == NULL)
				pg_atomic_fetch_sub_u32(&member_shared->entries[slot], 1);
			else if (!found)
				InitEntry(entry, false, GetCurrentTimestamp());
		}
		if (entry)
		{
			SpinLockAcquire(&entry->mutex);
			entry->pins++;
			SpinLockRelease(&entry->mutex);
		}
		LWLockRelease(member_shared->lock);
	}
	rate_pinned = entry;
	return entry ? &entry->rate : NULL;
}

/* Unpin the slot MemberRateLink pinned, if any. */
void
MemberRateRelease(void)
{
	if (rate_pinned == NULL)
		return;
	SpinLockAcquire(&rate_pinned->mutex);
	rate_pinned->pins--;
	SpinLockRelease(&rate_pinned->mutex);
	rate_pinned = NULL;
}

/* Member entries in use (every database), or -1 without the table. */
long
MemberEntriesUsed(void)
{
	return QuotaHashEntries(member_hash, member_hash ? member_shared->lock : NULL);
}
