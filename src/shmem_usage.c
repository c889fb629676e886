/*
 * shmem_usage.c
 *		quota.quota_shared_memory(): how full quota's fixed-size shared tables
 *		are, so that a DBA sees a setting to raise before requests slow down
 *		(member caps summed from the ledger) or fail (53400).
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "funcapi.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"

#include "quota.h"

PG_FUNCTION_INFO_V1(quota_shared_memory);

/* Entries of a shared table read under its lock; -1 when it was not created. */
long
QuotaHashEntries(HTAB *hash, LWLock *lock)
{
	long		n;

	if (hash == NULL)
		return -1;
	LWLockAcquire(lock, LW_SHARED);
	n = hash_get_num_entries(hash);
	LWLockRelease(lock);
	return n;
}

/*
 * SQL: quota.shared_memory() -> (setting, used, size): one row per shared
 * table, none without shared_preload_libraries.
 */
Datum
quota_shared_memory(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	struct
	{
		const char *setting;
		long		used;
		int			size;
	}			tables[] = {
		{"quota.max_pools", EscrowEntriesUsed(), quota_max_pools},
		{"quota.max_members", MemberEntriesUsed(), quota_max_members},
		{"quota.rate_limit_entries", RateEntriesUsed(), quota_rate_limit_entries},
		{"quota.profile_cache_entries", ProfileEntriesUsed(), quota_profile_cache_entries},
		{"quota.refusal_entries", RefusalEntriesUsed(), quota_refusal_entries},
	};

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < lengthof(tables); i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if (tables[i].used < 0)
			continue;
		values[0] = CStringGetTextDatum(tables[i].setting);
		values[1] = Int64GetDatum((int64) tables[i].used);
		values[2] = Int64GetDatum((int64) tables[i].size);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
