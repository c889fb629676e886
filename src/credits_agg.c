/*
 * credits_agg.c
 *		Aggregate support of quota.credits: min, max and avg (sum uses
 *		credits_pl directly, so its state is a plain int64).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/memutils.h"

#include "credits.h"

/* avg state: an exact 128-bit sum and a count. */
typedef struct CreditsAvgState
{
	int128		sum;
	int64		count;
} CreditsAvgState;

PG_FUNCTION_INFO_V1(credits_smaller);
PG_FUNCTION_INFO_V1(credits_larger);
PG_FUNCTION_INFO_V1(credits_avg_accum);
PG_FUNCTION_INFO_V1(credits_avg_final);

/* min support */
Datum
credits_smaller(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(Min(PG_GETARG_CREDITS(0), PG_GETARG_CREDITS(1)));
}

/* max support */
Datum
credits_larger(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(Max(PG_GETARG_CREDITS(0), PG_GETARG_CREDITS(1)));
}

/* avg transition: add one value to the state (NULL inputs are skipped). */
Datum
credits_avg_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	CreditsAvgState *state;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "credits_avg_accum called in non-aggregate context");
	if (PG_ARGISNULL(0))
		state = MemoryContextAllocZero(aggcontext, sizeof(CreditsAvgState));
	else
		state = (CreditsAvgState *) PG_GETARG_POINTER(0);
	if (!PG_ARGISNULL(1))
	{
		state->sum += PG_GETARG_CREDITS(1);
		state->count++;
	}
	PG_RETURN_POINTER(state);
}

/* avg final: the mean rounded half away from zero, NULL over no rows. */
Datum
credits_avg_final(PG_FUNCTION_ARGS)
{
	CreditsAvgState *state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (CreditsAvgState *) PG_GETARG_POINTER(0);
	if (state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_CREDITS(CreditsRoundDiv128(state->sum, state->count));
}
