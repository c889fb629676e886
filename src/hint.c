/*
 * hint.c
 *		The QU001 error and its hint: what the seed's users are told when
 *		quota runs out (free models, the next reset, other pools that pay).
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "cron.h"
#include "hint.h"
#include "quota.h"
#include "request.h"

static QuotaQuery free_models_q = {
	"SELECT m.model FROM quota.models m "
	"WHERE m.enabled AND m.input_price OPERATOR(quota.=) 0 "
	"  AND m.cached_input_price OPERATOR(quota.=) 0 "
	"  AND m.output_price OPERATOR(quota.=) 0 AND m.request_price OPERATOR(quota.=) 0 "
	"  AND EXISTS (SELECT FROM quota._usable_pools($1) u "
	"              JOIN quota.pool_defs p ON p.pool OPERATOR(pg_catalog.=) u.pool "
	"              WHERE p.enabled AND (p.models IS NULL "
	"                    OR m.model OPERATOR(pg_catalog.=) ANY (p.models))) "
	"ORDER BY m.model COLLATE \"C\"",
	1, {TEXTOID}
};

static QuotaQuery pool_zone_q = {
	"SELECT d.reset_timezone FROM quota.pool_defs d WHERE d.pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

static QuotaQuery other_pools_q = {
	"SELECT x.pool, x.available FROM ("
	"  SELECT u.pool, (quota._pool_money(u.pool)).available "
	"  FROM quota._usable_pools($1) u "
	"  JOIN quota.pool_defs p ON p.pool OPERATOR(pg_catalog.=) u.pool "
	"  WHERE p.enabled AND u.pool OPERATOR(pg_catalog.<>) $2 "
	"    AND (p.models IS NULL OR $3 OPERATOR(pg_catalog.=) ANY (p.models))) x "
	"WHERE x.available OPERATOR(quota.>=) $4 "
	"ORDER BY x.pool COLLATE \"C\"",
	4, {TEXTOID, TEXTOID, TEXTOID, CREDITSARG}
};

/* While set, QU001 is raised without its hint (fallback.c). */
static bool skip_hints = false;

/*
 * Raise QU001 without building its hint (three statements) while set: the
 * refusals of fallback attempts are discarded (fallback.c).
 */
void
QuotaSkipHints(bool skip)
{
	skip_hints = skip;
}

/* Build the hint: free models, the pool's next reset, other pools that pay. */
static char *
InsufficientHint(const RequestTarget *target, Credits cost)
{
	StringInfoData buf;
	Datum		v[4];
	int			n;

	if (skip_hints)
		return "";
	initStringInfo(&buf);

	v[0] = CStringGetTextDatum(target->user_id);
	n = QuotaExec(&free_models_q, v, NULL, 0);
	if (n > 0)
	{
		appendStringInfoString(&buf, "Free models that never use quota: ");
		for (int i = 0; i < n; i++)
			appendStringInfo(&buf, "%s%s", i ? ", " : "", QuotaGetText(i, 1));
		appendStringInfoString(&buf, ". ");
	}

	if (target->pool.has_next_reset)
	{
		/* in the pool's own time zone, named, as its schedule reads */
		Datum		pool = CStringGetTextDatum(target->pool.pool);
		char	   *zone = QuotaExec(&pool_zone_q, &pool, NULL, 1) == 1 ?
			QuotaGetText(0, 1) : "UTC";

		appendStringInfo(&buf, "Pool \"%s\" is next restored at %s (%s). ",
						 target->pool.pool,
						 QuotaLocalTime(target->pool.next_reset_at, zone), zone);
	}
	else
		appendStringInfo(&buf, "Pool \"%s\" has no scheduled restore; ask its administrator. ",
						 target->pool.pool);

	v[1] = CStringGetTextDatum(target->pool.pool);
	v[2] = CStringGetTextDatum(target->model->model);
	v[3] = CreditsGetDatum(cost);
	n = QuotaExec(&other_pools_q, v, NULL, 0);
	if (n > 0)
	{
		appendStringInfoString(&buf, "Other pools of yours that can pay: ");
		for (int i = 0; i < n; i++)
			appendStringInfo(&buf, "%s\"%s\" (%s available)", i ? ", " : "",
							 QuotaGetText(i, 1), QuotaGetText(i, 2));
		appendStringInfoString(&buf, "; switch with quota_switch().");
	}
	else
		appendStringInfoString(&buf, "None of your other pools can pay for this request.");
	return buf.data;
}

/* Raise QU001 for a request that does not fit the pool or the member limit. */
void
QuotaRaiseInsufficient(const RequestTarget *target, Credits cost,
					   const EscrowState *state, bool member_limit, Credits usage)
{
	char	   *hint = InsufficientHint(target, cost);

	if (member_limit)
		ereport(ERROR,
				(errcode(ERRCODE_QUOTA_INSUFFICIENT),
				 errmsg("insufficient quota: member limit of user \"%s\" in pool \"%s\" reached",
						target->user_id, target->pool.pool),
				 errdetail("The member limit is %s credits; %s are used or held this period and the request needs %s.",
						   CreditsToCString(target->pool.member_limit),
						   CreditsToCString(usage), CreditsToCString(cost)),
				 errhint("%s", hint)));
	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_INSUFFICIENT),
			 errmsg("insufficient quota in pool \"%s\"", target->pool.pool),
			 errdetail("The request needs %s credits; the pool has %s available.",
					   CreditsToCString(cost), CreditsToCString(state->available)),
			 errhint("%s", hint)));
}

/*
 * Raise QU001 for a settlement whose usage exceeds its reservation's
 * declared maxima and whose cost does not fit in available plus the hold.
 */
void
QuotaRaiseOverrun(const RequestTarget *target, Credits cost,
				  const EscrowState *state, const char *request_id,
				  int64 max_input_tokens, int64 max_output_tokens)
{
	char	   *hint = InsufficientHint(target, cost);

	ereport(ERROR,
			(errcode(ERRCODE_QUOTA_INSUFFICIENT),
			 errmsg("insufficient quota in pool \"%s\"", target->pool.pool),
			 errdetail("The usage exceeds the maxima reserved for request \"%s\" (" INT64_FORMAT " input and " INT64_FORMAT " output tokens), so its cost of %s credits must fit in the %s available, its hold included.",
					   request_id, max_input_tokens, max_output_tokens,
					   CreditsToCString(cost),
					   CreditsToCString(state->available)),
			 errhint("%s", hint)));
}
