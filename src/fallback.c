/*
 * fallback.c
 *		Fallback pools (SPEC "Credit grants and fallback pools (0.3)"): when
 *		a new request made without an explicit pool fails with QU001 on the
 *		user's active pool, the pools of the user's fallback list are tried
 *		in order and the first that can pay is billed (or holds).
 *
 * Each attempt runs in an internal subtransaction, so a refused attempt
 * leaves nothing behind: its escrow admissions are forgotten (escrow.c, at
 * subtransaction abort), its locks released, its rows gone.  Only QU001
 * (the balance, the member limit or a cap) on the active pool moves on to
 * the list; any other error is raised as it is.  A pool of the list that
 * the user may not use, that does not permit the model or is disabled
 * (QU002, QU003, QU004) is passed over; one that cannot pay either (QU001)
 * is named in the final error's hint.  Users without a list (the flag in
 * their cached profile, pools.h) never reach this file: their charges pay
 * nothing for it.  A successful fallback costs the refused attempt and a
 * second one: the refused attempts build no hint (QuotaSkipHints); only
 * when no pool can pay is the active pool tried once more for its full
 * error.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "hint.h"
#include "request.h"
#include "fallback.h"
#include "identity.h"
#include "quota.h"
#include "spi.h"

PG_FUNCTION_INFO_V1(quota_acting_user);

static QuotaQuery fallback_q = {
	"SELECT p FROM quota.users u, pg_catalog.unnest(u.fallback_pools) p "
	"WHERE u.user_id OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

/*
 * Run one attempt in a subtransaction: true when it succeeded; else the
 * error, copied, in *err (the subtransaction rolled back).
 */
static bool
TryAttempt(FallbackAttempt attempt, void *arg, const char *pool, char **chosen,
		   ErrorData **err)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		attempt(arg, pool, chosen);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		*err = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return ok;
}

/* The user's fallback pools, in order (strings in the SPI context). */
int
FallbackPools(const char *user_id, char ***pools)
{
	Datum		v[1] = {CStringGetTextDatum(user_id)};
	int			n = QuotaExec(&fallback_q, v, NULL, 0);

	*pools = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*pools)[i] = QuotaGetText(i, 1);
	return n;
}

/*
 * Run attempt on the active pool (pool NULL) and, if it fails with QU001,
 * on the user's fallback pools in turn; raise the active pool's QU001,
 * naming the pools tried in its hint, when none can pay.
 */
void
FallbackRun(const char *user_id, FallbackAttempt attempt, void *arg)
{
	ErrorData  *first = NULL;
	ErrorData  *err = NULL;
	char	   *active = NULL;
	char	   *chosen = NULL;
	char	  **pools;
	int			n;
	bool		ok;
	StringInfoData tried;

	/* the refusals of the attempts are discarded: no hints for them */
	QuotaSkipHints(true);
	ok = TryAttempt(attempt, arg, NULL, &active, &first);
	QuotaSkipHints(false);
	if (ok)
		return;
	/* not a refusal to fall back from (QuotaSkipHints touches QU001 only) */
	if (first->sqlerrcode != ERRCODE_QUOTA_INSUFFICIENT || active == NULL)
		ReThrowError(first);

	initStringInfo(&tried);
	appendStringInfo(&tried, "\"%s\"", active);
	n = FallbackPools(user_id, &pools);
	for (int i = 0; i < n; i++)
	{
		if (strcmp(pools[i], active) == 0)
			continue;
		QuotaSkipHints(true);
		ok = TryAttempt(attempt, arg, pools[i], &chosen, &err);
		QuotaSkipHints(false);
		if (ok)
			return;
		if (err->sqlerrcode == ERRCODE_QUOTA_INSUFFICIENT)
			appendStringInfo(&tried, ", \"%s\"", pools[i]);
		else if (err->sqlerrcode != ERRCODE_QUOTA_MODEL_NOT_PERMITTED &&
				 err->sqlerrcode != ERRCODE_QUOTA_POOL_ACCESS &&
				 err->sqlerrcode != ERRCODE_QUOTA_POOL_DISABLED)
			ReThrowError(err);
		FreeErrorData(err);
	}

	/*
	 * None could pay: the active pool's refusal again, now with its hint,
	 * naming the pools tried (if the active pool can pay by now, it pays).
	 */
	FreeErrorData(first);
	if (TryAttempt(attempt, arg, NULL, &chosen, &first))
		return;
	if (first->sqlerrcode == ERRCODE_QUOTA_INSUFFICIENT)
		first->hint = first->hint && first->hint[0] ?
			psprintf("%s Pools tried in order: %s.", first->hint, tried.data) :
			psprintf("Pools tried in order: %s.", tried.data);
	ReThrowError(first);
}

/*
 * SQL: quota._acting_user(user_id): the user a call acts for (the caller,
 * or another user for quota_app and quota_admin; else 42501).
 */
Datum
quota_acting_user(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(QuotaResolveUser(fcinfo, 0)));
}
