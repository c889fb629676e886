/*
 * credits_agg.c
 *		Aggregates of quota.credits: sum, avg, min and max.
 *
 * sum and avg share one transition state, an exact 128-bit sum and a count,
 * so the hot path is one 128-bit addition per row and no numeric at all.
 * Intermediate sums never overflow (2^63 rows of the largest value still
 * fit), so the result does not depend on the order of the rows, even in a
 * parallel plan: only a final sum outside the type's range raises 22003.
 * The state is serialised for parallel aggregation and has an inverse
 * transition for moving window frames.  min and max keep the value itself.
 */
#include "postgres.h"

#include "compat.h"

#include "credits_agg.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/memutils.h"

#include "credits.h"

/* Transition state of sum and avg. */
typedef struct CreditsAggState
{
	int128		sum;			/* exact sum of the non-NULL inputs, in 1e-9 */
	int64		count;			/* how many non-NULL inputs */
} CreditsAggState;

PG_FUNCTION_INFO_V1(credits_agg_accum);
PG_FUNCTION_INFO_V1(credits_agg_accum_inv);
PG_FUNCTION_INFO_V1(credits_agg_combine);
PG_FUNCTION_INFO_V1(credits_agg_serialize);
PG_FUNCTION_INFO_V1(credits_agg_deserialize);
PG_FUNCTION_INFO_V1(credits_sum_final);
PG_FUNCTION_INFO_V1(credits_sum_final_or_null);
PG_FUNCTION_INFO_V1(credits_avg_final);
PG_FUNCTION_INFO_V1(credits_smaller);
PG_FUNCTION_INFO_V1(credits_larger);

/* The aggregate memory context, or an error outside an aggregate. */
static MemoryContext
CreditsAggContext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggcontext;
}

/*
 * Transition: add one value.  NULL inputs are skipped, but the state is
 * created on the first row whatever it holds: a moving-aggregate transition
 * must never return NULL, and the final functions map a count of 0 to NULL.
 */
Datum
credits_agg_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = CreditsAggContext(fcinfo, "credits_agg_accum");
	CreditsAggState *state;

	if (PG_ARGISNULL(0))
		state = (CreditsAggState *) MemoryContextAllocZero(aggcontext,
														   sizeof(CreditsAggState));
	else
		state = (CreditsAggState *) PG_GETARG_POINTER(0);
	if (!PG_ARGISNULL(1))
	{
		state->sum += PG_GETARG_CREDITS(1);
		state->count++;
	}
	PG_RETURN_POINTER(state);
}

/* Inverse transition for moving frames: remove one value added before. */
Datum
credits_agg_accum_inv(PG_FUNCTION_ARGS)
{
	CreditsAggState *state;

	(void) CreditsAggContext(fcinfo, "credits_agg_accum_inv");
	if (PG_ARGISNULL(0))
		elog(ERROR, "credits_agg_accum_inv called with NULL state");
	state = (CreditsAggState *) PG_GETARG_POINTER(0);
	if (!PG_ARGISNULL(1))
	{
		state->sum -= PG_GETARG_CREDITS(1);
		state->count--;
	}
	PG_RETURN_POINTER(state);
}

/* Combine two partial states (parallel aggregation). */
Datum
credits_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = CreditsAggContext(fcinfo, "credits_agg_combine");
	CreditsAggState *state1 = PG_ARGISNULL(0) ? NULL : (CreditsAggState *) PG_GETARG_POINTER(0);
	CreditsAggState *state2 = PG_ARGISNULL(1) ? NULL : (CreditsAggState *) PG_GETARG_POINTER(1);

	if (state2 == NULL)
	{
		if (state1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state1);
	}
	if (state1 == NULL)
	{
		state1 = (CreditsAggState *) MemoryContextAlloc(aggcontext,
														sizeof(CreditsAggState));
		*state1 = *state2;
		PG_RETURN_POINTER(state1);
	}
	state1->sum += state2->sum;
	state1->count += state2->count;
	PG_RETURN_POINTER(state1);
}

/* Serialise a state: the sum's high and low 64 bits, then the count. */
Datum
credits_agg_serialize(PG_FUNCTION_ARGS)
{
	CreditsAggState *state;
	StringInfoData buf;

	(void) CreditsAggContext(fcinfo, "credits_agg_serialize");
	state = (CreditsAggState *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendint64(&buf, (int64) (state->sum >> 64));
	pq_sendint64(&buf, (int64) (uint64) state->sum);
	pq_sendint64(&buf, state->count);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Deserialise a state written by credits_agg_serialize. */
Datum
credits_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *sstate;
	CreditsAggState *state;
	StringInfoData buf;
	int64		hi;
	uint64		lo;

	(void) CreditsAggContext(fcinfo, "credits_agg_deserialize");
	sstate = PG_GETARG_BYTEA_PP(0);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(sstate), VARSIZE_ANY_EXHDR(sstate));
	state = (CreditsAggState *) palloc(sizeof(CreditsAggState));
	hi = pq_getmsgint64(&buf);
	lo = (uint64) pq_getmsgint64(&buf);
	state->sum = (int128) (((uint128) (uint64) hi << 64) | lo);
	state->count = pq_getmsgint64(&buf);
	pq_getmsgend(&buf);
	pfree(buf.data);
	PG_RETURN_POINTER(state);
}

/* sum final: the exact sum (22003 if out of range), NULL over no rows. */
Datum
credits_sum_final(PG_FUNCTION_ARGS)
{
	CreditsAggState *state = PG_ARGISNULL(0) ? NULL : (CreditsAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_CREDITS(CreditsRoundDiv128(state->sum, 1));
}

/* Final function of the views' sum: NULL over no rows or out of range. */
Datum
credits_sum_final_or_null(PG_FUNCTION_ARGS)
{
	CreditsAggState *state = PG_ARGISNULL(0) ? NULL : (CreditsAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0 ||
		state->sum > CREDITS_MAX || state->sum < CREDITS_MIN)
		PG_RETURN_NULL();
	PG_RETURN_CREDITS((Credits) state->sum);
}

/* avg final: the mean rounded half away from zero, NULL over no rows. */
Datum
credits_avg_final(PG_FUNCTION_ARGS)
{
	CreditsAggState *state = PG_ARGISNULL(0) ? NULL : (CreditsAggState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_CREDITS(CreditsRoundDiv128(state->sum, state->count));
}

/* min transition and combine: the smaller of two. */
Datum
credits_smaller(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(Min(PG_GETARG_CREDITS(0), PG_GETARG_CREDITS(1)));
}

/* max transition and combine: the larger of two. */
Datum
credits_larger(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(Max(PG_GETARG_CREDITS(0), PG_GETARG_CREDITS(1)));
}
