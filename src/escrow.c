/*
 * escrow.c
 *		Pool balances kept exact without a row lock per charge.
 *
 * Design of the charge path's money check (read this before changing it)
 * -----------------------------------------------------------------------
 * The ledger (quota.ledger) is the only record of money: a pool's balance is
 * the sum of its committed ledger amounts.  Summing on every charge would be
 * slow, and keeping the balance in one table row would put every user of a
 * shared pool behind that row's lock until its commit record is flushed.  So
 * when quota is in shared_preload_libraries, each pool has an escrow entry in
 * shared memory:
 *
 *		committed		sum of the pool's committed ledger amounts
 *		pending_debit	debits of transactions still in flight
 *		held			committed, unreleased reservation holds
 *		pending_hold	holds of transactions still in flight
 *
 *		available = committed - pending_debit - held - pending_hold
 *
 * (and pending_credit, the credits of transactions in flight, only to keep
 * the balance in range).
 *
 * A debit is admitted by one compare-and-add under the entry's spinlock: if
 * the amount fits in available it is added to pending_debit at once, so every
 * concurrent transaction sees it and none can spend the same credits.  The
 * ledger row is inserted afterwards, in the same transaction.  At commit
 * (XACT_EVENT_COMMIT, after the commit record is durable) the amount moves
 * from pending_debit to committed; at abort (or subtransaction abort) it is
 * simply dropped.  Credits (top-ups, grants, resets) and released holds only
 * take effect at commit, so nothing can spend money that might yet vanish.
 * Hence available never goes below zero except by the forced debit of a
 * settled overrun, and the committed figure always equals the sum of the
 * committed ledger, whatever the interleaving.
 *
 * No figure can leave the range of quota.credits: a debit or hold is
 * admitted only while committed - pending_debit - held - pending_hold (the
 * lowest available any set of commits can leave, own credits not counted)
 * stays at or above the type's minimum, and a credit only while committed +
 * pending_credit (the highest balance any set of commits can leave) stays at
 * or below its maximum.  Commits and aborts only move these bounds inward,
 * so balance, held and available always fit; a movement that would not
 * raises 22003 before anything is admitted.  In-flight sums are 128-bit: a
 * pool far below zero may take more than the type's maximum in credits in
 * one transaction (a restore reset) and still end in range.
 *
 * Locks: the hash table is protected by one LWLock (shared to look up,
 * exclusive to add an entry); each entry's counters by its own spinlock, held
 * for a few instructions and never while anything else is acquired.  The
 * only heavyweight lock of the hot path is the pool's debit lock, taken in
 * share mode by every debit until its transaction ends (share locks never
 * wait for each other): an expiry of a credit grant takes it exclusive to
 * see no debit in flight (grants.c).  So charges cannot deadlock with each
 * other on escrow state.  Shared memory is lost in a crash; an entry is
 * rebuilt from the ledger (its sealed sum plus the entries after the seal,
 * seal.c, and the active reservations) the first time a pool is touched,
 * under an advisory lock on the pool so that only one backend rebuilds it
 * (released as soon as the entry is in place, so one transaction may
 * rebuild any number of pools).  No transaction can have uncommitted ledger
 * rows for a pool without an entry, because every ledger write passes
 * through here first.
 *
 * Entries are keyed by database, the OID of quota.ledger (new for every
 * CREATE EXTENSION, so a dropped and re-created extension never sees stale
 * figures) and pool id.  There are at most quota.max_pools of them (the
 * shared memory reserved at start); when they are all in use (after the
 * entries of dropped databases and of dropped extensions of this database
 * have been reclaimed, see EscrowReclaim), a pool without one is written in
 * locked mode (below): its writers hold the pool's advisory lock to their
 * end and sum its ledger, exactly, and the server log says so once
 * (GetEntryOrLock explains why that stays exact when room comes later).
 * Reading such a pool sums its ledger.
 *
 * On a hot standby no entry is created or read: replay moves none of them,
 * so balances are summed from the replayed tables (standby.c explains why
 * none is left to mislead the server once it is promoted).
 *
 * Each entry also keeps the pool's charges per calendar window (day, week,
 * month in the pool's time zone), committed and in flight, so that pool
 * caps are admitted by the same compare-and-add as the balance: see the
 * top of caps.c.
 *
 * Without shared_preload_libraries the same functions fall back to a locked
 * mode: a transaction advisory lock on the pool serialises its writers and
 * the balance is summed from the ledger (sealed sum plus later entries).
 * Exact, but slower.
 */
#include "postgres.h"

#include "compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xlog.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "escrow.h"
#include "quota.h"
#include "catalog.h"
#include "cron.h"
#include "seal.h"
#include "settings.h"
#include "shmem.h"
#include "standby.h"

/* Advisory lock namespace of quota (field4 of the lock tag): "QU". */
#define QUOTA_LOCK_SPACE	0x5155
/* ... and of a pool's debits, for credit-grant expiry (grants.c); spi.h
 * and caps.h use 0x5156 to 0x5158 */
#define QUOTA_LOCK_DEBITS	0x5159

typedef struct EscrowKey
{
	Oid			dbid;
	Oid			ledger;
	int64		pool_id;
} EscrowKey;

typedef struct EscrowEntry
{
	EscrowKey	key;
	slock_t		mutex;
	int64		committed;
	int64		held;
	/* in flight: 128 bits, as a pool far below zero may take more credits */
	int128		pending_debit;
	int128		pending_hold;
	int128		pending_credit;
	/* charges per calendar window (day, week, month): see caps.c */
	int64		created_seq;	/* the ledger's last entry_id when created */
	TimestampTz win_start[ESCROW_WINDOWS];	/* 0: not yet set */
	TimestampTz win_end[ESCROW_WINDOWS];
	uint32		win_gen[ESCROW_WINDOWS];	/* bumped when a window starts */
	bool		win_base_known[ESCROW_WINDOWS];	/* earlier charges counted */
	int128		win_committed[ESCROW_WINDOWS];	/* committed (and earlier) charges */
	int128		win_pending[ESCROW_WINDOWS];	/* tracked, in flight */
	/* the pool has had a credit grant: its debits take the debit lock */
	bool		grants;
	RateLink	rate;			/* the pool's rate window (rate_window.c) */
} EscrowEntry;


/* One transaction's not yet committed change to one pool. */
typedef struct PendingOp
{
	EscrowEntry *entry;			/* NULL in locked mode */
	int64		pool_id;
	int			nest_level;
	int128		debit;			/* admitted against available */
	int128		credit;			/* applied at commit */
	int128		hold;			/* admitted against available */
	int128		unhold;			/* released at commit */
	int128		win_debit[ESCROW_WINDOWS];	/* charges tracked in a window */
	uint32		win_gen[ESCROW_WINDOWS];	/* ... of this generation */
} PendingOp;

static LWLock *escrow_lock = NULL;
static HTAB *escrow_hash = NULL;
static pg_atomic_uint32 *escrow_full_logged = NULL;	/* shared: said once */

/* Pools this transaction writes without an entry (no room): see GetEntryOrLock. */
static int64 *fallback_pools = NULL;
static int	nfallback = 0;
static int	maxfallback = 0;

static EscrowEntry *FindEntry(const EscrowPool *pool);

/*
 * The entry this backend found last, and its key: an entry of a live key
 * (this database, its current quota.ledger) is never freed (EscrowReclaim),
 * so a pool charged again finds it without the table's lock.
 */
static EscrowEntry *last_entry = NULL;
static EscrowKey last_key;

/* The caps of the next charge or hold (EscrowArmCaps). */
static EscrowCapCheck armed;

static PendingOp *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

/* Shared memory of quota.max_pools pool slots (shmem.c). */
Size
EscrowShmemSize(void)
{
	return add_size(MAXALIGN(sizeof(pg_atomic_uint32)),
					hash_estimate_size(quota_max_pools, sizeof(EscrowEntry)));
}

/* Create or attach to the pool slots (shmem.c, under AddinShmemInitLock). */
void
EscrowShmemAttach(LWLock *lock)
{
	HASHCTL		info;
	bool		found;

	escrow_lock = lock;
	escrow_full_logged = ShmemInitStruct("quota pool slots full",
										 sizeof(pg_atomic_uint32), &found);
	if (!found)
		pg_atomic_init_u32(escrow_full_logged, 0);
	info.keysize = sizeof(EscrowKey);
	info.entrysize = sizeof(EscrowEntry);
	escrow_hash = ShmemInitHash("quota pool slots", quota_max_pools,
								quota_max_pools, &info,
								HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* Release the in-flight amounts of ops at or above a nesting level. */
static void
EscrowForget(int from_level)
{
	int			keep = 0;

	for (int i = 0; i < npending; i++)
	{
		PendingOp  *op = &pending[i];

		if (op->nest_level >= from_level)
		{
			if (op->entry)
			{
				SpinLockAcquire(&op->entry->mutex);
				op->entry->pending_debit -= op->debit;
				op->entry->pending_hold -= op->hold;
				op->entry->pending_credit -= op->credit;
				for (int k = 0; k < ESCROW_WINDOWS; k++)
					if (op->win_debit[k] != 0 &&
						op->entry->win_gen[k] == op->win_gen[k])
						op->entry->win_pending[k] -= op->win_debit[k];
				SpinLockRelease(&op->entry->mutex);
			}
			continue;
		}
		pending[keep++] = *op;
	}
	npending = keep;
}

/* Make every pending op of the transaction part of the committed figures. */
static void
EscrowApplyCommit(void)
{
	for (int i = 0; i < npending; i++)
	{
		PendingOp  *op = &pending[i];

		if (!op->entry)
			continue;
		SpinLockAcquire(&op->entry->mutex);
		/* in range: see the top of the file */
		op->entry->committed += (int64) (op->credit - op->debit);
		op->entry->pending_debit -= op->debit;
		op->entry->held += (int64) (op->hold - op->unhold);
		op->entry->pending_hold -= op->hold;
		op->entry->pending_credit -= op->credit;
		for (int k = 0; k < ESCROW_WINDOWS; k++)
			if (op->win_debit[k] != 0 &&
				op->entry->win_gen[k] == op->win_gen[k])
			{
				op->entry->win_pending[k] -= op->win_debit[k];
				op->entry->win_committed[k] += op->win_debit[k];
			}
		SpinLockRelease(&op->entry->mutex);
	}
	npending = 0;
}

/* End of transaction (xact.c): apply at commit, drop at abort, refuse PREPARE. */
void
EscrowXactEvent(XactEvent event)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			EscrowApplyCommit();
			armed.armed = false;
			nfallback = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			EscrowForget(0);
			armed.armed = false;
			nfallback = 0;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (npending > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that has moved quota"),
						 errdetail("Quota balances are settled at commit and cannot wait for a two-phase commit."),
						 errhint("Commit the transaction directly.")));
			break;
		default:
			break;
	}
}

/* End of a subtransaction (xact.c): a rolled back savepoint frees its amounts. */
void
EscrowSubXactEvent(SubXactEvent event)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		EscrowForget(level);
		armed.armed = false;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = 0; i < npending; i++)
			if (pending[i].nest_level >= level)
				pending[i].nest_level = level - 1;
	}
}

/* Are balances kept in shared memory (quota was preloaded)? */
bool
EscrowIsShared(void)
{
	return escrow_hash != NULL;
}

/* Take the pool's transaction advisory lock (rebuild, or locked mode). */
void
EscrowLockPool(int64 pool_id)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (pool_id >> 32),
						 (uint32) pool_id, QUOTA_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * The pool's debit lock (grants.c): every debit of a pool that has had a
 * credit grant takes it shared until its transaction ends, so that one who
 * takes it exclusive (EscrowLockGrants) sees no debit of the pool in
 * flight.  A pool that never had a grant needs none (the hot path of most
 * pools): its entry's grants flag is set before a grant's entry is written
 * and, before that entry, the grant waits for every debit admitted without
 * the lock to end (EscrowGrantsBegin).  Locked mode takes it always.
 * Always taken before the pool's lock (a pool without room in shared
 * memory, GetEntryOrLock), never after it.
 */
static void
LockDebits(int64 pool_id, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (pool_id >> 32),
						 (uint32) pool_id, QUOTA_LOCK_DEBITS);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * Wait until no other transaction has a debit of the pool in flight, and
 * keep new ones out until this transaction ends (credit-grant expiry).
 */
void
EscrowLockGrants(int64 pool_id)
{
	if (EscrowIsShared())
		LockDebits(pool_id, ExclusiveLock);
	else
		EscrowLockPool(pool_id);
}

/*
 * A credit grant of the pool is about to be written (after its credit was
 * registered, which keeps the entry): from now on every debit of the pool
 * takes the debit lock, and this waits (a lock wait) until every debit
 * admitted without it has ended, so that none can draw from the grant
 * unseen by its expirer (grants.c).  Those debits hold a lock on the
 * ledger from before their admission (Debit): they are among the ledger's
 * writers now.  Locked mode needs nothing: its writers take the lock.
 */
void
EscrowGrantsBegin(const EscrowPool *pool)
{
	EscrowEntry *entry;
	bool		marked;

	if (!EscrowIsShared() || (entry = FindEntry(pool)) == NULL)
		return;
	SpinLockAcquire(&entry->mutex);
	marked = entry->grants;
	entry->grants = true;
	SpinLockRelease(&entry->mutex);
	/*
	 * Marked before: every debit since takes the lock, and those before
	 * were waited for by the grant that marked it (grants serialise on the
	 * pool's row), or the entry was built marked.
	 */
	if (!marked)
		SealWaitForWriters(QuotaLedgerRelid(false));
}

/*
 * Release the pool's advisory lock once its entry is rebuilt: holding it to
 * commit would protect nothing more, and a transaction that touches many
 * pools (100,000 resets after a restart) would run out of lock slots.
 */
static void
UnlockPool(int64 pool_id)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (pool_id >> 32),
						 (uint32) pool_id, QUOTA_LOCK_SPACE);
	(void) LockRelease(&tag, ExclusiveLock, false);
}

/* Run a one-value credits query about a pool through SPI. */
static int64
SumForPool(const char *sql, const char *pool)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int64		result = 0;
	bool		isnull;
	int			rc;

	args[0] = CStringGetTextDatum(pool);
	SPI_connect();

	/*
	 * Read with the latest snapshot, not the statement's: after waiting for
	 * the pool's lock we must see what its previous holder committed.
	 */
	PushActiveSnapshot(GetLatestSnapshot());
	rc = SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1);
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "quota: could not sum pool \"%s\"", pool);
	result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		result = 0;
	SPI_finish();
	return result;
}

/*
 * The pool's committed balance: its sealed total plus its later entries
 * (seal.c), read with a snapshot taken now (after waiting for the pool's
 * lock we must see what its previous holder committed).
 */
static Credits
LedgerSum(const char *pool)
{
	Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
	bool		in_range;
	Credits		balance = SealedBalance(pool, latest, &in_range);

	UnregisterSnapshot(latest);
	if (!in_range)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("balance of pool \"%s\" is out of range for type credits", pool),
				 errdetail("The sum of the pool's ledger does not fit quota.credits."),
				 errhint("Correct the balance with quota_adjust().")));
	return balance;
}
/*
 * The last entry_id given to a ledger row (the pool's rows inserted later
 * have larger ids: they are admitted here first, and ids come from one
 * sequence without a cache); $1 is not used.
 */
#define LAST_ENTRY_SQL \
	"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END " \
	"FROM quota.ledger_entry_id_seq WHERE $1 IS NOT NULL"
#define HOLD_SUM_SQL \
	"SELECT quota.sum(held) FROM quota.reservations " \
	"WHERE pool OPERATOR(pg_catalog.=) $1 AND settled_at IS NULL"
/* Whether a pool has a credit grant (0.3; it may have ended) */
#define GRANTS_SQL \
	"SELECT count(*) FROM (SELECT FROM quota.credit_grants " \
	"WHERE pool OPERATOR(pg_catalog.=) $1 LIMIT 1) g"

/*
 * Has the pool had a credit grant (its debits then take the debit lock)?
 * Conservative: a grant that ended counts too; an install before 0.3 has
 * none.
 */
static bool
PoolHadGrants(const char *pool)
{
	Oid			nsp = get_namespace_oid("quota", true);

	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("credit_grants", nsp)))
		return false;
	return SumForPool(GRANTS_SQL, pool) > 0;
}

/* Compare two OIDs for qsort and bsearch. */
static int
OidCompare(const void *a, const void *b)
{
	Oid			x = *(const Oid *) a;
	Oid			y = *(const Oid *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * The OIDs of the databases that exist, sorted, read from pg_database (a
 * shared catalog) with a snapshot taken now.
 */
static Oid *
LiveDatabases(int *count)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	int			n = 0;
	int			max = 16;
	Oid		   *dbs = palloc(max * sizeof(Oid));

	snap = RegisterSnapshot(GetLatestSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, snap, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		if (n == max)
		{
			max *= 2;
			dbs = repalloc(dbs, max * sizeof(Oid));
		}
		dbs[n++] = ((Form_pg_database) GETSTRUCT(tup))->oid;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	UnregisterSnapshot(snap);
	qsort(dbs, n, sizeof(Oid), OidCompare);
	*count = n;
	return dbs;
}

/* Was this installation's quota.ledger created by a committed transaction? */
static bool
LedgerCommitted(Oid ledger)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(ledger));
	bool		committed;

	if (!HeapTupleIsValid(tup))
		return false;
	committed = !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data));
	ReleaseSysCache(tup);
	return committed;
}

/* Does this transaction have a pending op on the entry? */
static bool
EntryInUse(EscrowEntry *entry)
{
	for (int i = 0; i < npending; i++)
		if (pending[i].entry == entry)
			return true;
	return false;
}

/*
 * Free the entries no transaction can use any more: those of databases that
 * were dropped, and those of this database keyed by an older quota.ledger
 * (the extension was dropped and created again).  Why no backend can still
 * have a pending op on them, which would write into a freed (or reused)
 * entry at its commit or abort:
 *
 * - A dropped database.  DROP DATABASE commits only once no backend is
 *	 connected to it, and a backend leaves the ProcArray (ProcKill) after its
 *	 transaction's abort callbacks have settled its escrow ops; nobody can
 *	 connect to it again, and only backends of a database touch its entries
 *	 (the key carries MyDatabaseId).  The pg_database scan uses a snapshot
 *	 taken after the entries were collected, and an entry's database was
 *	 committed before a backend could connect to it and create the entry,
 *	 so a live database is always seen; one being dropped is still seen.
 *
 * - An older ledger of this database.  Only when the current installation
 *	 is committed (else the DROP EXTENSION is ours and may roll back, with
 *	 other transactions' ops waiting on our locks), so the old extension's
 *	 tables are gone for good.  Every escrow op goes with a write to the
 *	 ledger or the reservations of its installation, and such a writer
 *	 keeps its lock on that table until after its commit callback has
 *	 applied its ops, so DROP EXTENSION (AccessExclusiveLock) committed
 *	 after every committed op on the old entries was applied.  A
 *	 transaction still in flight with ops there can only abort (its tables
 *	 are gone), and an abort only subtracts its debits and holds from the
 *	 entry's pending totals: entries whose totals are not zero are kept,
 *	 and on the others such an abort subtracts zero.  Entries this very
 *	 transaction has ops on are kept too.  The one window left is a charge
 *	 that looks up the ledger's OID from a cache not yet told of a DROP
 *	 EXTENSION committed a moment before, and debits between this check and
 *	 the removal; it needs a DROP EXTENSION under live traffic, which fails
 *	 that charge anyway.
 *
 * Entries of another database's dropped extension are freed when a backend
 * of that database runs out of room.  Returns the number freed.
 */
static long
EscrowReclaim(Oid current_ledger)
{
	HASH_SEQ_STATUS seq;
	EscrowEntry *entry;
	EscrowKey  *keys;
	long		ncand = 0;
	long		freed = 0;
	int			ndbs;
	Oid		   *dbs;
	bool		old_ledgers = LedgerCommitted(current_ledger);

	/* the candidates, then the catalog (no catalog access under the LWLock) */
	LWLockAcquire(escrow_lock, LW_SHARED);
	keys = palloc(Max(hash_get_num_entries(escrow_hash), 1) * sizeof(EscrowKey));
	hash_seq_init(&seq, escrow_hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (entry->key.dbid != MyDatabaseId ||
			(old_ledgers && entry->key.ledger != current_ledger))
			keys[ncand++] = entry->key;
	LWLockRelease(escrow_lock);
	if (ncand == 0)
		return 0;
	dbs = LiveDatabases(&ndbs);

	LWLockAcquire(escrow_lock, LW_EXCLUSIVE);
	for (long i = 0; i < ncand; i++)
	{
		bool		idle;

		if (keys[i].dbid != MyDatabaseId &&
			bsearch(&keys[i].dbid, dbs, ndbs, sizeof(Oid), OidCompare) != NULL)
			continue;			/* another database, alive */
		entry = hash_search(escrow_hash, &keys[i], HASH_FIND, NULL);
		if (entry == NULL || EntryInUse(entry))
			continue;
		SpinLockAcquire(&entry->mutex);
		idle = entry->pending_debit == 0 && entry->pending_hold == 0 &&
			entry->pending_credit == 0;
		SpinLockRelease(&entry->mutex);
		if (!idle)
			continue;
		if (entry == last_entry)
			last_entry = NULL;
		hash_search(escrow_hash, &keys[i], HASH_REMOVE, NULL);
		freed++;
	}
	LWLockRelease(escrow_lock);
	pfree(keys);
	pfree(dbs);
	if (freed > 0)
		elog(DEBUG1, "quota: freed %ld escrow entries of dropped databases or extensions", freed);
	return freed;
}

/*
 * Is there room for one more entry?  When full, stale entries are reclaimed,
 * at most once per transaction: a scan of the whole table for each pool a
 * view reads would make a full table quadratic.
 */
static bool
EscrowHasRoom(Oid current_ledger)
{
	static LocalTransactionId reclaimed_in = InvalidLocalTransactionId;
	long		n;

	LWLockAcquire(escrow_lock, LW_SHARED);
	n = hash_get_num_entries(escrow_hash);
	LWLockRelease(escrow_lock);
	if (n < quota_max_pools)
		return true;
	if (reclaimed_in == ProcLocalXid(MyProc))
		return false;
	reclaimed_in = ProcLocalXid(MyProc);
	return EscrowReclaim(current_ledger) > 0;
}

/* Is the pool written without an entry in this transaction? */
static bool
InFallback(int64 pool_id)
{
	for (int i = 0; i < nfallback; i++)
		if (fallback_pools[i] == pool_id)
			return true;
	return false;
}

/* Say once in the server's life, in its log, that pools go without entries. */
static void
EscrowFullLog(const EscrowPool *pool)
{
	if (pg_atomic_exchange_u32(escrow_full_logged, 1) != 0)
		return;
	ereport(LOG,
			(errmsg("quota's shared memory has no room for pool \"%s\": quota.max_pools (%d) are in use",
					pool->pool, quota_max_pools),
			 errdetail("Pools without room are written in locked mode: exactly, with their balances summed from the ledger under a lock for each write."),
			 errhint("Raise quota.max_pools and restart the server.")));
}

/*
 * The pool's key, and its entry if there is one: the one found last, else
 * from the table (then remembered as the one found last).
 */
static EscrowEntry *
LookupEntry(const EscrowPool *pool, EscrowKey *key)
{
	EscrowEntry *entry;

	memset(key, 0, sizeof(EscrowKey));
	key->dbid = MyDatabaseId;
	key->ledger = QuotaLedgerRelid(false);
	key->pool_id = pool->pool_id;
	if (last_entry != NULL && memcmp(&last_key, key, sizeof(EscrowKey)) == 0 &&
		memcmp(&last_entry->key, key, sizeof(EscrowKey)) == 0)
		return last_entry;

	LWLockAcquire(escrow_lock, LW_SHARED);
	entry = hash_search(escrow_hash, key, HASH_FIND, NULL);
	LWLockRelease(escrow_lock);
	if (entry)
	{
		last_entry = entry;
		last_key = *key;
	}
	return entry;
}

/*
 * Find the pool's shared entry, rebuilding it from the ledger if missing.
 * NULL with no room for it, or when this transaction writes the pool
 * without an entry (its uncommitted rows must not go into one).
 */
static EscrowEntry *
FindEntry(const EscrowPool *pool)
{
	EscrowKey	key;
	EscrowEntry *entry;
	bool		found;
	int64		committed;
	int64		held;
	int64		created_seq;
	bool		grants;

	/* replay would not move it, and a promotion would inherit it */
	if (RecoveryInProgress())
		elog(ERROR, "quota: no escrow entry may be used during recovery");
	if (InFallback(pool->pool_id))
		return NULL;
	if ((entry = LookupEntry(pool, &key)) != NULL)
		return entry;

	/* Rebuild: one backend at a time per pool, then look again. */
	EscrowLockPool(pool->pool_id);
	LWLockAcquire(escrow_lock, LW_SHARED);
	entry = hash_search(escrow_hash, &key, HASH_FIND, NULL);
	LWLockRelease(escrow_lock);
	if (entry)
	{
		UnlockPool(pool->pool_id);
		return entry;
	}
	if (!EscrowHasRoom(key.ledger))
	{
		UnlockPool(pool->pool_id);
		return NULL;
	}

	committed = LedgerSum(pool->pool);
	held = SumForPool(HOLD_SUM_SQL, pool->pool);
	created_seq = SumForPool(LAST_ENTRY_SQL, pool->pool);
	grants = PoolHadGrants(pool->pool);

	LWLockAcquire(escrow_lock, LW_EXCLUSIVE);
	entry = hash_search(escrow_hash, &key, HASH_FIND, NULL);
	if (entry == NULL && hash_get_num_entries(escrow_hash) < quota_max_pools)
	{
		entry = hash_search(escrow_hash, &key, HASH_ENTER_NULL, &found);
		if (entry && !found)
		{
			SpinLockInit(&entry->mutex);
			entry->committed = committed;
			entry->pending_debit = 0;
			entry->held = held;
			entry->pending_hold = 0;
			entry->pending_credit = 0;
			entry->created_seq = created_seq;
			entry->grants = grants;
			RateLinkInit(&entry->rate);
			for (int k = 0; k < ESCROW_WINDOWS; k++)
			{
				entry->win_start[k] = entry->win_end[k] = 0;
				entry->win_gen[k] = 0;
				entry->win_base_known[k] = false;
				entry->win_committed[k] = entry->win_pending[k] = 0;
			}
		}
	}
	LWLockRelease(escrow_lock);
	UnlockPool(pool->pool_id);
	return entry;
}

/*
 * The link to the pool's rate window, in its slot (ratelimit.c): the slot
 * is made if need be with create (the caller is connected to SPI), found
 * only without.  NULL when the pool has no slot (no room, written without
 * one in this transaction, or a server in recovery, which admits nothing).
 * The slot is not freed while the pool's database and extension live.
 */
RateLink *
EscrowRateLink(const EscrowPool *pool, bool create)
{
	EscrowEntry *entry;

	if (escrow_hash == NULL || RecoveryInProgress())
		return NULL;
	if (create)
		entry = FindEntry(pool);
	else
	{
		EscrowKey	key;

		entry = LookupEntry(pool, &key);
	}
	return entry ? &entry->rate : NULL;
}

/*
 * The pool's entry for a write.  NULL when there is no room for one: the
 * transaction then writes the pool in locked mode (its balance summed from
 * the ledger), holding the pool's advisory lock to its end, and keeps doing
 * so for this pool until it ends.  Exact: an entry is made only under that
 * lock, by summing the committed ledger, so it waits for every such writer
 * and counts its rows once committed; and no transaction puts its own
 * uncommitted rows into an entry (FindEntry refuses while it is listed).
 */
static EscrowEntry *
GetEntryOrLock(const EscrowPool *pool)
{
	EscrowEntry *entry = FindEntry(pool);

	if (entry != NULL || InFallback(pool->pool_id))
		return entry;
	/* a writer without an entry takes the debit lock first, as every debit does */
	LockDebits(pool->pool_id, ShareLock);
	EscrowLockPool(pool->pool_id);
	/* room may have come meanwhile; nobody can make the entry from now on */
	entry = FindEntry(pool);
	if (entry != NULL)
		return entry;
	if (nfallback == maxfallback)
	{
		maxfallback = maxfallback ? maxfallback * 2 : 8;
		fallback_pools = fallback_pools == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxfallback * sizeof(int64)) :
			repalloc(fallback_pools, maxfallback * sizeof(int64));
	}
	fallback_pools[nfallback++] = pool->pool_id;
	EscrowFullLog(pool);
	return NULL;
}

/* Does the pool have an entry for this transaction's writes (else locked mode)? */
bool
EscrowPoolShared(const EscrowPool *pool)
{
	return EscrowIsShared() && !RecoveryInProgress() && GetEntryOrLock(pool) != NULL;
}

/* The transaction's pending op for a pool at the current level (created). */
static PendingOp *
GetOp(EscrowEntry *entry, int64 pool_id)
{
	int			level = GetCurrentTransactionNestLevel();

	for (int i = npending - 1; i >= 0; i--)
		if (pending[i].pool_id == pool_id && pending[i].entry == entry &&
			pending[i].nest_level == level)
			return &pending[i];

	if (npending == maxpending)
	{
		int			newmax = maxpending ? maxpending * 2 : 16;

		if (pending == NULL)
			pending = MemoryContextAlloc(TopMemoryContext,
										 newmax * sizeof(PendingOp));
		else
			pending = repalloc(pending, newmax * sizeof(PendingOp));
		maxpending = newmax;
	}
	memset(&pending[npending], 0, sizeof(PendingOp));
	pending[npending].entry = entry;
	pending[npending].pool_id = pool_id;
	pending[npending].nest_level = level;
	return &pending[npending++];
}

/* Sum this transaction's pending ops on one pool. */
static void
OwnPending(EscrowEntry *entry, int64 pool_id, PendingOp *own)
{
	memset(own, 0, sizeof(PendingOp));
	for (int i = 0; i < npending; i++)
		if (pending[i].pool_id == pool_id && pending[i].entry == entry)
		{
			own->debit += pending[i].debit;
			own->credit += pending[i].credit;
			own->hold += pending[i].hold;
			own->unhold += pending[i].unhold;
		}
}

/* Does an exact figure fit quota.credits? */
static inline bool
FitsCredits(int128 value)
{
	return value >= CREDITS_MIN && value <= CREDITS_MAX;
}

/* Raise 22003: a movement would take a pool's figures out of range. */
static void
OutOfRange(const EscrowPool *pool, const char *what, Credits amount)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("credits out of range"),
			 errdetail("A %s of %s credits would take the figures of pool \"%s\" out of the range of quota.credits; nothing was changed.",
					   what, CreditsToCString(amount), pool->pool)));
}

/* Store exact figures in state, noting whether they all fit the type. */
static void
SetState(EscrowState *state, int128 balance, int128 held, int128 available,
		 int128 live_balance)
{
	state->in_range = FitsCredits(balance) && FitsCredits(held) &&
		FitsCredits(available) && FitsCredits(live_balance);
	state->balance = state->in_range ? (Credits) balance : 0;
	state->held = state->in_range ? (Credits) held : 0;
	state->available = state->in_range ? (Credits) available : 0;
	state->live_balance = state->in_range ? (Credits) live_balance : 0;
	state->cap_refused = -1;
	state->cap_spent = 0;
	state->cap_end = 0;
}

/*
 * Fill state from an entry as this transaction sees it; the caller holds the
 * entry's spinlock.  Own debits and holds are already in the entry's pending
 * totals; own credits and released holds count only for this transaction.
 */
static void
StateFromEntry(EscrowEntry *entry, const PendingOp *own, EscrowState *state)
{
	SetState(state,
			 (int128) entry->committed + own->credit - own->debit,
			 (int128) entry->held + own->hold - own->unhold,
			 (int128) entry->committed - entry->pending_debit
			 - entry->held - entry->pending_hold + own->credit + own->unhold,
			 (int128) entry->committed - entry->pending_debit + own->credit);
}

/*
 * Can amount more be debited or held without any figure leaving the type's
 * range, whatever commits or aborts next?  The caller holds the spinlock.
 */
static bool
EntryFits(EscrowEntry *entry, Credits amount)
{
	return (int128) entry->committed - entry->pending_debit - entry->held
		- entry->pending_hold - amount >= CREDITS_MIN;
}

/* Locked mode: lock the pool and sum its balance and holds. */
static void
LockedState(const EscrowPool *pool, EscrowState *state)
{
	Credits		balance;
	Credits		held;

	EscrowLockPool(pool->pool_id);
	balance = LedgerSum(pool->pool);
	held = SumForPool(HOLD_SUM_SQL, pool->pool);
	SetState(state, balance, held, (int128) balance - held, balance);
}

static const char *const window_names[ESCROW_WINDOWS] = {"day", "week", "month"};

/* The pool's time zone, read when a window starts (rare); NULL if gone. */
static char *
PoolTimezone(const EscrowPool *pool)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	MemoryContext upper = CurrentMemoryContext;
	char	   *tz = NULL;

	args[0] = CStringGetTextDatum(pool->pool);
	SPI_connect();
	if (SPI_execute_with_args("SELECT reset_timezone FROM quota.pool_defs "
							  "WHERE pool OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		tz = MemoryContextStrdup(upper, SPI_getvalue(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1));
	SPI_finish();
	return tz;
}

/*
 * The charges of a window that the entry did not see: those dated in it
 * with an entry_id up to the ledger's last one when the entry was created
 * (every later charge of the pool was admitted through the entry).  They
 * were all committed then, so a snapshot taken now sees each of them.
 * Read from the rollups where it can (seal.c): a month of a busy pool is
 * millions of charges.  A sum past the range counts as the range's end
 * (past any cap).
 */
static int128
WindowBase(const EscrowPool *pool, TimestampTz start, TimestampTz end, int64 seq)
{
	Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
	Numeric		sum = SealWindowCharges(pool->pool, start, end, seq, latest);
	Numeric		max = CreditsToNumeric(CREDITS_MAX);

	UnregisterSnapshot(latest);
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(sum),
										  NumericGetDatum(max))) > 0)
		return CREDITS_MAX;
	return NumericToCredits(sum);
}

/*
 * Bring the entry's windows up to date for a charge or hold dated at:
 * start the window that contains at when the entry's has ended (its
 * counters start at zero: every charge dated in it is admitted here, and
 * the first one starts it), or the entry's first window (its earlier
 * charges are then in the ledger: WindowBase, read for the windows in
 * need_base).  A window never starts before the previous one ended (only
 * a changed time zone could make it), so no charge counts twice.
 */
static void
PrepareWindows(EscrowEntry *entry, const EscrowPool *pool, TimestampTz at,
			   const bool *need_base)
{
	char	   *tz = NULL;

	for (int k = 0; k < ESCROW_WINDOWS; k++)
	{
		TimestampTz start;
		TimestampTz end;
		TimestampTz cur_end;
		uint32		gen;
		bool		known;
		int64		seq;

		SpinLockAcquire(&entry->mutex);
		cur_end = entry->win_end[k];
		SpinLockRelease(&entry->mutex);
		if (cur_end == 0 || at >= cur_end)
		{
			if (tz == NULL && (tz = PoolTimezone(pool)) == NULL)
				return;
			QuotaWindowBounds(window_names[k], tz, at, &start, &end);
			SpinLockAcquire(&entry->mutex);
			if (entry->win_end[k] == 0 || at >= entry->win_end[k])
			{
				entry->win_base_known[k] = entry->win_end[k] != 0;
				if (entry->win_end[k] != 0)
					start = Max(start, entry->win_end[k]);
				entry->win_start[k] = start;
				entry->win_end[k] = end;
				entry->win_gen[k]++;
				entry->win_committed[k] = entry->win_pending[k] = 0;
			}
			SpinLockRelease(&entry->mutex);
		}
		if (need_base == NULL || !need_base[k])
			continue;
		SpinLockAcquire(&entry->mutex);
		known = entry->win_base_known[k];
		gen = entry->win_gen[k];
		start = entry->win_start[k];
		end = entry->win_end[k];
		seq = entry->created_seq;
		SpinLockRelease(&entry->mutex);
		if (!known)
		{
			int128		base = WindowBase(pool, start, end, seq);

			SpinLockAcquire(&entry->mutex);
			if (entry->win_gen[k] == gen && !entry->win_base_known[k])
			{
				entry->win_committed[k] += base;
				entry->win_base_known[k] = true;
			}
			SpinLockRelease(&entry->mutex);
		}
	}
}

/*
 * Spending in window k as this transaction sees it: the window's charges
 * (committed and in flight) plus every active hold (in flight too), less
 * the holds this transaction released.  The caller holds the spinlock.
 */
static int128
WindowSpentLocked(EscrowEntry *entry, int k, const PendingOp *own)
{
	return entry->win_committed[k] + entry->win_pending[k]
		+ entry->held + entry->pending_hold - own->unhold;
}

/* Is at in the entry's window k, with its earlier charges known? */
static inline bool
InWindow(EscrowEntry *entry, int k, TimestampTz at)
{
	return entry->win_end[k] != 0 && at >= entry->win_start[k] &&
		at < entry->win_end[k];
}

/*
 * With the entry's spinlock held: the first armed cap window that the
 * amount would pass (its index, with its spending and end), else -1; *ended
 * when a window ended or is not yet counted (the caller refuses with 40001).
 */
static int
CapRefusedLocked(EscrowEntry *entry, const EscrowCapCheck *check,
				 const PendingOp *own, Credits amount, int128 *spent,
				 TimestampTz *end, bool *ended)
{
	for (int k = 0; k < ESCROW_WINDOWS; k++)
	{
		if (!check->has_cap[k])
			continue;
		if (!InWindow(entry, k, check->at) || !entry->win_base_known[k])
		{
			*ended = true;
			return -1;
		}
		*spent = WindowSpentLocked(entry, k, own);
		if (*spent + amount > check->cap[k])
		{
			*end = entry->win_end[k];
			return k;
		}
	}
	return -1;
}

/* Raise 40001: the window of a request ended while it was admitted. */
static void
WindowEnded(const EscrowPool *pool)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to a window of the caps of pool \"%s\" ending",
					pool->pool),
			 errdetail("A cap's calendar window ended while the request was being admitted."),
			 errhint("Retry the request: it will be counted in the new window.")));
}

/*
 * The caps (and the date) the next charge or hold on check->pool_id must
 * fit, or be counted under; used once by EscrowDebit, EscrowSettle or
 * EscrowHold, forgotten at the end of the transaction.
 */
void
EscrowArmCaps(const EscrowCapCheck *check)
{
	armed = *check;
	armed.armed = true;
}

/*
 * For quota_check: the pool's spending in window k (day, week, month) at
 * at, from shared memory; false when the escrow cannot tell (no shared
 * memory, no room, or at outside the current window), and the caller sums
 * the ledger.
 */
bool
EscrowWindowSpent(const EscrowPool *pool, int window, TimestampTz at, Credits *spent)
{
	EscrowEntry *entry;
	PendingOp	own;
	bool		need[ESCROW_WINDOWS] = {false, false, false};
	bool		ok;
	int128		sum = 0;

	/* a hot standby keeps no entry: the caller sums the replayed ledger */
	if (!EscrowIsShared() || RecoveryInProgress() ||
		(entry = FindEntry(pool)) == NULL)
		return false;
	need[window] = true;
	PrepareWindows(entry, pool, at, need);
	OwnPending(entry, pool->pool_id, &own);
	SpinLockAcquire(&entry->mutex);
	ok = InWindow(entry, window, at) && entry->win_base_known[window];
	if (ok)
		sum = WindowSpentLocked(entry, window, &own);
	SpinLockRelease(&entry->mutex);
	*spent = sum > CREDITS_MAX ? CREDITS_MAX : sum < CREDITS_MIN ? CREDITS_MIN : (Credits) sum;
	return ok;
}

/* Read a pool's balance, holds and availability as this transaction sees them. */
void
EscrowRead(const EscrowPool *pool, EscrowState *state)
{
	EscrowEntry *entry;
	PendingOp	own;

	if (!EscrowIsShared() && !RecoveryInProgress())
	{
		LockedState(pool, state);
		return;
	}
	entry = RecoveryInProgress() ? NULL : FindEntry(pool);
	if (entry == NULL)
	{
		/*
		 * No room, or a hot standby: no transaction has an op on it, the
		 * ledger as replayed (or committed) is exact.
		 */
		Credits		balance = LedgerSum(pool->pool);
		Credits		held = SumForPool(HOLD_SUM_SQL, pool->pool);

		SetState(state, balance, held, (int128) balance - held, balance);
		return;
	}
	OwnPending(entry, pool->pool_id, &own);
	SpinLockAcquire(&entry->mutex);
	StateFromEntry(entry, &own, state);
	SpinLockRelease(&entry->mutex);
}

/*
 * Admit a debit of amount, freeing a hold of freed first, if it fits in
 * available (always when force).  Returns false, changing nothing, when it
 * does not fit; raises 22003, changing nothing, when it would take a figure
 * out of range.
 */
static bool
Debit(const EscrowPool *pool, Credits amount, Credits freed, bool force,
	  EscrowState *after)
{
	EscrowEntry *entry;
	PendingOp  *op;
	PendingOp	own;
	bool		ok;
	bool		fits;
	EscrowCapCheck *check;
	int			refused = -1;
	bool		ended = false;
	bool		debits_locked;
	int128		spent = 0;
	TimestampTz refused_end = 0;

	Assert(amount >= 0 && freed >= 0);
	QuotaRefuseOnStandby("quota_charge");
	/*
	 * A debit in flight is a writer of the ledger from now on, before it is
	 * admitted, so that a credit grant waits for it (EscrowGrantsBegin);
	 * the ledger row's insert takes the same lock later.
	 */
	LockRelationOid(QuotaLedgerRelid(false), RowExclusiveLock);
	if (!EscrowIsShared() || (entry = GetEntryOrLock(pool)) == NULL)
	{
		LockedState(pool, after);
		/* the freed hold is still in the reservations' sum */
		if (after->in_range)
			SetState(after, after->balance, (int128) after->held - freed,
					 (int128) after->available + freed, after->live_balance);
		if (!force && after->available < amount)
			return false;
		if (!after->in_range || (int128) after->available - amount < CREDITS_MIN)
			OutOfRange(pool, "debit", amount);
		after->balance -= amount;
		after->live_balance -= amount;
		after->available -= amount;
		return true;
	}

	/* the expirer's wait (grants.c), only where a grant ever was */
	debits_locked = entry->grants;
	if (debits_locked)
		LockDebits(pool->pool_id, ShareLock);
	check = armed.armed && armed.pool_id == pool->pool_id ? &armed : NULL;
	if (check)
		PrepareWindows(entry, pool, check->at, check->has_cap);
	op = GetOp(entry, pool->pool_id);
	op->unhold += freed;
	OwnPending(entry, pool->pool_id, &own);

	SpinLockAcquire(&entry->mutex);
	/* a grant began meanwhile: take the lock first, then admit */
	while (entry->grants && !debits_locked)
	{
		SpinLockRelease(&entry->mutex);
		LockDebits(pool->pool_id, ShareLock);
		debits_locked = true;
		SpinLockAcquire(&entry->mutex);
	}
	StateFromEntry(entry, &own, after);
	/* the pool's caps first, in the same compare-and-add (caps.c) */
	if (check && !force)
		refused = CapRefusedLocked(entry, check, &own, amount, &spent,
								   &refused_end, &ended);
	ok = (force || after->available >= amount) && refused < 0 && !ended;
	fits = after->in_range && EntryFits(entry, amount);
	if (ok && fits)
	{
		entry->pending_debit += amount;
		op->debit += amount;
		after->balance -= amount;
		after->live_balance -= amount;
		after->available -= amount;
		/* a charge counts in the windows that contain its date */
		for (int k = 0; check && check->charge && k < ESCROW_WINDOWS; k++)
		{
			if (!InWindow(entry, k, check->at))
				continue;
			if (op->win_gen[k] != entry->win_gen[k])
			{
				op->win_gen[k] = entry->win_gen[k];
				op->win_debit[k] = 0;
			}
			entry->win_pending[k] += amount;
			op->win_debit[k] += amount;
		}
	}
	SpinLockRelease(&entry->mutex);
	if (!ok || !fits)
		op->unhold -= freed;
	if (ended)
		WindowEnded(pool);
	/* refused by a cap: the caller raises it (CapsRaiseRefused) */
	after->cap_refused = refused;
	after->cap_spent = spent > CREDITS_MAX ? CREDITS_MAX : (Credits) spent;
	after->cap_end = refused_end;
	if (ok && !fits)
		OutOfRange(pool, "debit", amount);
	if (ok && check)
		armed.armed = false;
	return ok;
}

/*
 * Admit a debit of amount if it fits in available (always when force).
 * Returns false, changing nothing, when it does not fit.  The caller then
 * writes the ledger row in the same transaction.
 */
bool
EscrowDebit(const EscrowPool *pool, Credits amount, bool force,
			EscrowState *after)
{
	return Debit(pool, amount, 0, force, after);
}

/*
 * Settle a reservation: free its hold of freed (0 when it had already
 * ended) and debit amount, which must fit in available plus the freed hold
 * unless force.  Returns false, changing nothing, when it does not fit.
 */
bool
EscrowSettle(const EscrowPool *pool, Credits amount, Credits freed, bool force,
			 EscrowState *after)
{
	return Debit(pool, amount, freed, force, after);
}

/* Record a credit to the pool; it becomes spendable when the transaction commits. */
void
EscrowCredit(const EscrowPool *pool, Credits amount)
{
	EscrowEntry *entry;
	PendingOp  *op;
	bool		fits;

	Assert(amount >= 0);
	QuotaRefuseOnStandby("quota._post");
	if (!EscrowIsShared() || (entry = GetEntryOrLock(pool)) == NULL)
	{
		EscrowState st;

		LockedState(pool, &st);
		if (!st.in_range || (int128) st.balance + amount > CREDITS_MAX)
			OutOfRange(pool, "credit", amount);
		return;
	}
	op = GetOp(entry, pool->pool_id);
	/* the balance after any set of commits must stay in range */
	SpinLockAcquire(&entry->mutex);
	fits = (int128) entry->committed + entry->pending_credit + amount <= CREDITS_MAX;
	if (fits)
		entry->pending_credit += amount;
	SpinLockRelease(&entry->mutex);
	if (!fits)
		OutOfRange(pool, "credit", amount);
	op->credit += amount;
}

/* Admit a hold of amount if it fits in available; false changes nothing. */
bool
EscrowHold(const EscrowPool *pool, Credits amount, EscrowState *after)
{
	EscrowEntry *entry;
	PendingOp  *op;
	PendingOp	own;
	bool		ok;
	bool		fits;
	EscrowCapCheck *check;
	int			refused = -1;
	bool		ended = false;
	int128		spent = 0;
	TimestampTz refused_end = 0;

	Assert(amount >= 0);
	QuotaRefuseOnStandby("quota_reserve");
	if (!EscrowIsShared() || (entry = GetEntryOrLock(pool)) == NULL)
	{
		LockedState(pool, after);
		if (after->available < amount)
			return false;
		if (!after->in_range)
			OutOfRange(pool, "hold", amount);
		after->held += amount;
		after->available -= amount;
		return true;
	}

	check = armed.armed && armed.pool_id == pool->pool_id ? &armed : NULL;
	if (check)
		PrepareWindows(entry, pool, check->at, check->has_cap);
	op = GetOp(entry, pool->pool_id);
	OwnPending(entry, pool->pool_id, &own);

	SpinLockAcquire(&entry->mutex);
	StateFromEntry(entry, &own, after);
	/* the pool's caps first, in the same compare-and-add (caps.c) */
	if (check)
		refused = CapRefusedLocked(entry, check, &own, amount, &spent,
								   &refused_end, &ended);
	ok = after->available >= amount && refused < 0 && !ended;
	fits = after->in_range && EntryFits(entry, amount);
	if (ok && fits)
	{
		entry->pending_hold += amount;
		op->hold += amount;
		after->held += amount;
		after->available -= amount;
	}
	SpinLockRelease(&entry->mutex);
	if (ended)
		WindowEnded(pool);
	/* refused by a cap: the caller raises it (CapsRaiseRefused) */
	after->cap_refused = refused;
	after->cap_spent = spent > CREDITS_MAX ? CREDITS_MAX : (Credits) spent;
	after->cap_end = refused_end;
	if (ok && !fits)
		OutOfRange(pool, "hold", amount);
	if (ok && check)
		armed.armed = false;
	return ok;
}

/* Release a hold; the credits become available when the transaction commits. */
void
EscrowUnhold(const EscrowPool *pool, Credits amount)
{
	EscrowEntry *entry;
	PendingOp  *op;

	Assert(amount >= 0);
	QuotaRefuseOnStandby("quota_release");
	if (!EscrowIsShared() || (entry = GetEntryOrLock(pool)) == NULL)
	{
		EscrowLockPool(pool->pool_id);
		return;
	}
	op = GetOp(entry, pool->pool_id);
	op->unhold += amount;
}

/* Has this transaction moved money (credits, debits, holds) not yet committed? */
bool
EscrowHasPending(void)
{
	return npending > 0;
}

/* Entries of the pools' table in use (every database), or -1 without one. */
long
EscrowEntriesUsed(void)
{
	return QuotaHashEntries(escrow_hash, escrow_hash ? escrow_lock : NULL);
}
