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
static pg_atomic_uint64 *shared_generation = NULL;	/* in shared memory */
static ProcessUtility_hook_type prev_process_utility = NULL;

/* Shared memory of the configuration generation (shmem.c). */
Size
InvalidationShmemSize(void)
{
	return MAXALIGN(sizeof(pg_atomic_uint64));
}

/* Create or attach to the generation (shmem.c, under AddinShmemInitLock). */
void
InvalidationShmemAttach(void)
{
	bool		found;

	shared_generation = ShmemInitStruct("quota configuration generation",
										sizeof(pg_atomic_uint64), &found);
	if (!found)
		pg_atomic_init_u64(shared_generation, 1);
}

/* The shared generation (0 without shared memory: nothing is cached). */
static uint64
QuotaSharedGeneration(void)
{
	return shared_generation ? pg_atomic_read_u64(shared_generation) : 0;
}

/* Move the shared generation (a change became visible). */
static void
QuotaSharedGenerationBump(void)
{
	if (shared_generation)
		(void) pg_atomic_fetch_add_u64(shared_generation, 1);
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
	bool		commit_prepared = IsA(stmt, TransactionStmt) &&
		((TransactionStmt *) stmt)->kind == TRANS_STMT_COMMIT_PREPARED;

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
	if (commit_prepared)
		QuotaSharedGenerationBump();
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
 * End of transaction (xact.c): a committed change moves the shared
 * generation, now that it is visible; a prepared one waits for COMMIT
 * PREPARED (the utility hook above); a rolled back one never counts.
 */
void
InvalidationXactEvent(XactEvent event)
{
	if (!config_dirty)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		QuotaSharedGenerationBump();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		config_dirty = false;
}

/*
 * This backend's configuration epoch: it moves whenever an invalidation of
 * a configuration table arrives.  Learns the tables' OIDs when it can.
 */
uint64
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
 * The generation the configuration caches compare (0 without shared memory:
 * nothing is cached): the shared routing generation plus this backend's
 * epoch; both only grow, so the sum moves whenever either does.
 */
uint64
QuotaConfigGeneration(void)
{
	uint64		shared = QuotaSharedGeneration();

	return shared == 0 ? 0 : shared + QuotaConfigEpoch();
}
