/*
 * refusals.c
 *		Refused requests counted in shared memory (quota.refusals).
 *
 * A refused quota_charge or quota_reserve raises an error, and its
 * transaction rolls back: a table row could not survive it.  So, as
 * pg_stat_statements does, the count lives in shared memory, outside any
 * transaction: the entry points run under RefusalCounted(), which catches
 * an error of class QU (QU001..QU006), adds one to the count of (pool,
 * user, SQLSTATE) and raises it again.  quota_check refuses nothing (it
 * answers a question) and is not counted; neither are other errors (bad
 * arguments, permissions, 40001).
 *
 * Bounds: a twentieth of quota.max_users entries (about 1.7 kB each: full pool and
 * user names), fixed at server start; when the table is full, the entry
 * refused longest ago makes room.  Counts start again at a restart.
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/namespace.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "escrow.h"
#include "quota.h"
#include "ratelimit.h"
#include "refusals.h"
#include "settings.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(quota_refusal_counts);

#define REFUSAL_NAME_BYTES	804	/* 200 characters of up to 4 bytes */

typedef struct RefusalKey
{
	Oid			dbid;
	Oid			ledger;
	int			sqlstate;
	bool		has_pool;
	char		pool[REFUSAL_NAME_BYTES];
	char		user_id[REFUSAL_NAME_BYTES];
} RefusalKey;

typedef struct RefusalEntry
{
	RefusalKey	key;
	int64		refused;
	TimestampTz last_at;
} RefusalEntry;

static LWLock *refusal_lock = NULL;
static HTAB *refusal_hash = NULL;

/* The request being served: whose, and on which pool (RefusalNote). */
static char note_user[REFUSAL_NAME_BYTES];
static char note_pool[REFUSAL_NAME_BYTES];
static bool note_has_pool = false;

/* Shared memory of the refusal counts (shmem.c). */
Size
RefusalShmemSize(void)
{
	return hash_estimate_size(QuotaRefusalEntries(), sizeof(RefusalEntry));
}

/* Create or attach to the refusal counts (shmem.c, under AddinShmemInitLock). */
void
RefusalShmemAttach(LWLock *lock)
{
	HASHCTL		info;

	refusal_lock = lock;
	info.keysize = sizeof(RefusalKey);
	info.entrysize = sizeof(RefusalEntry);
	refusal_hash = ShmemInitHash("quota refusal counts", QuotaRefusalEntries(),
								 QuotaRefusalEntries(), &info,
								 HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* Copy a name into a fixed buffer (names are at most 200 characters). */
static void
CopyName(char *dst, const char *src)
{
	memset(dst, 0, REFUSAL_NAME_BYTES);
	if (src != NULL)
		strlcpy(dst, src, REFUSAL_NAME_BYTES);
}

/* Who the request being served is for, and its pool as far as known. */
void
RefusalNote(const char *user_id, const char *pool)
{
	CopyName(note_user, user_id);
	CopyName(note_pool, pool);
	note_has_pool = (pool != NULL);
}


/* Count one refusal of the noted request with this SQLSTATE. */
static void
RefusalCount(int sqlstate)
{
	RefusalKey	key;
	RefusalEntry *e;
	bool		found;

	if (refusal_hash == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.ledger = QuotaLedgerRelid(true);
	key.sqlstate = sqlstate;
	key.has_pool = note_has_pool;
	memcpy(key.pool, note_pool, REFUSAL_NAME_BYTES);
	memcpy(key.user_id, note_user, REFUSAL_NAME_BYTES);

	LWLockAcquire(refusal_lock, LW_EXCLUSIVE);
	e = hash_search(refusal_hash, &key, HASH_FIND, NULL);
	if (e == NULL && hash_get_num_entries(refusal_hash) >= QuotaRefusalEntries())
	{
		/* full: the entry refused longest ago makes room */
		HASH_SEQ_STATUS status;
		RefusalEntry *x;
		RefusalEntry *oldest = NULL;

		hash_seq_init(&status, refusal_hash);
		while ((x = hash_seq_search(&status)) != NULL)
			if (oldest == NULL || x->last_at < oldest->last_at)
				oldest = x;
		if (oldest != NULL)
			hash_search(refusal_hash, &oldest->key, HASH_REMOVE, NULL);
	}
	if (e == NULL)
	{
		e = hash_search(refusal_hash, &key, HASH_ENTER_NULL, &found);
		if (e != NULL && !found)
			e->refused = 0;
	}
	if (e != NULL)
	{
		e->refused++;
		e->last_at = GetCurrentTimestamp();
	}
	LWLockRelease(refusal_lock);
}

/* Is this SQLSTATE one of quota's refusals (QU001..QU006)? */
static bool
IsRefusal(int sqlstate)
{
	return sqlstate == ERRCODE_QUOTA_INSUFFICIENT ||
		sqlstate == ERRCODE_QUOTA_MODEL_NOT_PERMITTED ||
		sqlstate == ERRCODE_QUOTA_POOL_ACCESS ||
		sqlstate == ERRCODE_QUOTA_POOL_DISABLED ||
		sqlstate == ERRCODE_QUOTA_REQUEST_REUSED ||
		sqlstate == ERRCODE_QUOTA_RATE_LIMITED;
}

/*
 * Call an entry point (quota_charge, quota_reserve); count a refusal it
 * raises, then raise it again.
 */
Datum
RefusalCounted(PGFunction function, FunctionCallInfo fcinfo)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;

	RefusalNote(NULL, NULL);
	PG_TRY();
	{
		result = function(fcinfo);
	}
	PG_CATCH();
	{
		MemoryContext ecxt = MemoryContextSwitchTo(cxt);
		ErrorData  *edata = CopyErrorData();

		MemoryContextSwitchTo(ecxt);
		if (IsRefusal(edata->sqlerrcode))
			RefusalCount(edata->sqlerrcode);
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return result;
}

/*
 * SQL: quota._refusal_counts() -> (pool, user_id, sqlstate, refused,
 * last_at): this extension's counts, every row (quota._refusals() filters).
 */
Datum
quota_refusal_counts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	RefusalEntry *e;
	Oid			ledger = QuotaLedgerRelid(true);

	InitMaterializedSRF(fcinfo, 0);
	if (refusal_hash == NULL)
		return (Datum) 0;
	LWLockAcquire(refusal_lock, LW_SHARED);
	hash_seq_init(&status, refusal_hash);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (e->key.dbid != MyDatabaseId || e->key.ledger != ledger)
			continue;
		values[0] = CStringGetTextDatum(e->key.pool);
		nulls[0] = !e->key.has_pool;
		values[1] = CStringGetTextDatum(e->key.user_id);
		nulls[1] = (e->key.user_id[0] == '\0');
		values[2] = CStringGetTextDatum(unpack_sql_state(e->key.sqlstate));
		values[3] = Int64GetDatum(e->refused);
		values[4] = TimestampTzGetDatum(e->last_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(refusal_lock);
	return (Datum) 0;
}

/* Refusal counts in the shared table (every database), or -1 without it. */
long
RefusalEntriesUsed(void)
{
	return QuotaHashEntries(refusal_hash, refusal_hash ? refusal_lock : NULL);
}
