/*
 * invalidation.c
 *		When quota's configuration (users, pools, members, groups, caps,
 *		rate limits) changed, told by PostgreSQL's own invalidation messages.
 *
 * The statement triggers on those tables queue a relcache invalidation of
 * the table changed (QuotaConfigChanged).  PostgreSQL sends it with the
 * commit: at COMMIT, at COMMIT PREPARED (the message is kept in the
 * prepared transaction's state file, so it goes out whoever commits it and
 * whenever, also after a restart), and in the WAL to standbys; a
 * rolled-back change sends nothing.  Every backend runs the callback below
 * when it reads the message, at its next transaction or lock, before it
 * looks at a cache: the callback moves this backend's configuration epoch,
 * so the per-backend caches (routes, caps, rate limits: compared through
 * QuotaConfigGeneration) are read again.
 *
 * The callback runs inside lock acquisition: it only counts, with no
 * catalog access and no error.  Which relations are quota's is learnt
 * outside it (QuotaConfigEpoch); until then, or after an invalidation of
 * every relation, any invalidation counts.
 *
 * The profiles kept in shared memory outlive backends (and a new backend
 * does not read messages sent before it started): they are stamped with
 * the shared routing generation, which a change moves once, after it
 * became visible: the committing transaction in its commit callback
 * (InvalidationXactEvent), and for COMMIT PREPARED, which runs no callback
 * of the prepared transaction, the utility hook here, once the prepared
 * transaction is committed (quota is preloaded wherever that memory
 * exists, so every backend has the hook).
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/namespace.h"
#include "nodes/parsenodes.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "invalidation.h"

/* quota's configuration tables, whose invalidations count */
static const char *const config_tables[] = {
	"users", "user_state", "pool_defs", "pool_members", "pool_groups",
	"personal_policies", "pool_caps", "rate_limits", "registration"
};

#define NCONFIG lengthof(config_tables)

static Oid	config_relids[NCONFIG];
static bool config_relids_valid = false;
static uint64 config_epoch = 0;
static bool config_dirty = false;	/* this transaction changed the configuration */
static bool config_inflight = false;	/* this commit counted in inflight */

/*
 * In shared memory: the generation, moved by every committed change, and
 * the changes being committed (from before they become visible until the
 * generation moved).
 */
typedef struct ConfigShared
{
	pg_atomic_uint64 generation;
	pg_atomic_uint32 inflight;
} ConfigShared;

static ConfigShared *config_shared = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;

/* Shared memory of the configuration generation (shmem.c). */
Size
InvalidationShmemSize(void)
{
	return MAXALIGN(sizeof(ConfigShared));
}

/* Create or attach to the generation (shmem.c, under AddinShmemInitLock). */
void
InvalidationShmemAttach(void)
{
	bool		found;

	config_shared = ShmemInitStruct("quota configuration generation",
									sizeof(ConfigShared), &found);
	if (!found)
	{
		pg_atomic_init_u64(&config_shared->generation, 1);
		pg_atomic_init_u32(&config_shared->inflight, 0);
	}
}

/* A change is about to become visible: caches read the tables until it is counted. */
static void
ChangeBegins(void)
{
	if (config_shared)
		(void) pg_atomic_fetch_add_u32(&config_shared->inflight, 1);
}

/* A change became visible (or failed): move the generation, then let caches in. */
static void
ChangeEnds(void)
{
	if (config_shared)
	{
		(void) pg_atomic_fetch_add_u64(&config_shared->generation, 1);
		(void) pg_atomic_fetch_sub_u32(&config_shared->inflight, 1);
	}
}

/*
 * The shared stamp of what caches that outlive a backend may hold (the
 * shared profiles): the generation, or 0 (cache nothing) without shared
 * memory or while a change is being committed.  A result read between two
 * equal non-zero stamps is of that generation: a change that became
 * visible meanwhile was in flight at the second, or moved the generation.
 * (The in-flight count is read first: a change ends by moving the
 * generation before it leaves the count.)
 */
uint64
QuotaSharedConfigStamp(void)
{
	uint32		inflight;

	if (config_shared == NULL)
		return 0;
	inflight = pg_atomic_read_u32(&config_shared->inflight);
	pg_read_barrier();
	if (inflight != 0)
		return 0;
	return pg_atomic_read_u64(&config_shared->generation);
}

/* Relcache callback: count an invalidation that may concern the configuration. */
static void
ConfigInvalidate(Datum arg, Oid relid)
{
	bool		ours = !OidIsValid(relid) || !config_relids_valid;

	for (int i = 0; i < NCONFIG && !ours; i++)
		ours = relid == config_relids[i];
	if (!ours)
		return;
	if (!OidIsValid(relid))
		config_relids_valid = false;
	config_epoch++;
}

/* After COMMIT PREPARED: what the prepared transaction changed is visible now. */
static void
ConfigProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest,
					 QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	volatile bool commit_prepared = IsA(stmt, TransactionStmt) &&
		((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED;

	/* whatever it changed is in flight from before it becomes visible */
	if (commit_prepared)
		ChangeBegins();
	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
								 queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		if (commit_prepared)
			ChangeEnds();
	}
	PG_END_TRY();
}

/* Register the callback and the hook (from _PG_init). */
void
InvalidationInit(void)
{
	CacheRegisterRelcacheCallback(ConfigInvalidate, (Datum) 0);
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = ConfigProcessUtility;
}

/*
 * From a statement trigger on a configuration table: tell every backend at
 * commit, and bypass the caches until then (this transaction's own changes
 * are not in them).
 */
void
QuotaConfigChanged(Relation rel)
{
	CacheInvalidateRelcache(rel);
	config_dirty = true;
}

/* Did this transaction change the configuration (not yet committed)? */
bool
QuotaConfigDirty(void)
{
	return config_dirty;
}

/*
 * End of transaction (xact.c): a change is in flight from PRE_COMMIT (before
 * it becomes visible) until the COMMIT callback (after) has moved the
 * shared generation; a prepared one waits for COMMIT PREPARED (the utility
 * hook above); a rolled back one only leaves the count.
 */
void
InvalidationXactEvent(XactEvent event)
{
	if (!config_dirty)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			if (!config_inflight)
			{
				ChangeBegins();
				config_inflight = true;
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (config_inflight)
				ChangeEnds();
			config_inflight = false;
			config_dirty = false;
			break;
		case XACT_EVENT_PREPARE:
			config_dirty = false;
			break;
		default:
			break;
	}
}

/*
 * This backend's configuration epoch: it moves whenever an invalidation of
 * a configuration table arrives.  Learns the tables' OIDs when it can.
 */
static uint64
QuotaConfigEpoch(void)
{
	if (!config_relids_valid)
	{
		Oid			nsp = get_namespace_oid("quota", true);

		if (OidIsValid(nsp))
		{
			for (int i = 0; i < NCONFIG; i++)
				config_relids[i] = get_relname_relid(config_tables[i], nsp);
			config_relids_valid = true;
		}
	}
	return config_epoch;
}

/*
 * The generation the per-backend configuration caches compare (0: cache
 * nothing, without shared memory or while a change is being committed):
 * the shared stamp plus this backend's epoch; both only grow, so the sum
 * moves whenever either does.
 */
uint64
QuotaConfigGeneration(void)
{
	uint64		shared = QuotaSharedConfigStamp();

	return shared == 0 ? 0 : shared + QuotaConfigEpoch();
}
