/*
 * shmem_usage.c
 *		quota.quota_shared_memory(): how full quota's fixed-size shared tables
 *		are, so that a DBA sees a setting to raise before requests slow down
 *		(member caps summed from the ledger, pools in locked mode, rate limits
 *		enforced from a table).
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "funcapi.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"

#include "escrow.h"
#include "member_caps.h"
#include "profile_cache.h"
#include "rate_window.h"
#include "refusals.h"
#include "settings.h"
#include "shmem.h"
#include "shmem_usage.h"

PG_FUNCTION_INFO_V1(quota_shared_memory);

/*
 * SQL: quota.quota_shared_memory() -> (setting, holds, used, size): one row
 * per shared table, beside the setting that sizes it; none without
 * shared_preload_libraries.
 */
Datum
quota_shared_memory(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	struct
	{
		const char *setting;
		const char *holds;
		long		used;
		int			size;
	}			tables[] = {
		{"quota.max_pools", "pool slots", EscrowEntriesUsed(), quota_max_pools},
		{"quota.max_members", "member slots", MemberEntriesUsed(), quota_max_members},
		{"quota.max_members", "rate windows", RateEntriesUsed(), QuotaRateEntries()},
		{"quota.max_users", "user profiles", ProfileEntriesUsed(), quota_max_users},
		{"quota.max_users", "refusal counts", RefusalEntriesUsed(), QuotaRefusalEntries()},
	};

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < lengthof(tables); i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (tables[i].used < 0)
			continue;
		values[0] = CStringGetTextDatum(tables[i].setting);
		values[1] = CStringGetTextDatum(tables[i].holds);
		values[2] = Int64GetDatum((int64) tables[i].used);
		values[3] = Int64GetDatum((int64) tables[i].size);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
