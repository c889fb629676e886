/*
 * credits_agg.h
 *		Aggregates of quota.credits: sum, avg, min, max (credits_agg.c).
 */
#ifndef QUOTA_CREDITS_AGG_H
#define QUOTA_CREDITS_AGG_H

#include "fmgr.h"

extern Datum credits_agg_accum(PG_FUNCTION_ARGS);
extern Datum credits_agg_accum_inv(PG_FUNCTION_ARGS);
extern Datum credits_agg_combine(PG_FUNCTION_ARGS);
extern Datum credits_agg_deserialize(PG_FUNCTION_ARGS);
extern Datum credits_agg_serialize(PG_FUNCTION_ARGS);
extern Datum credits_avg_final(PG_FUNCTION_ARGS);
extern Datum credits_larger(PG_FUNCTION_ARGS);
extern Datum credits_smaller(PG_FUNCTION_ARGS);
extern Datum credits_sum_final(PG_FUNCTION_ARGS);
extern Datum credits_sum_final_or_null(PG_FUNCTION_ARGS);

#endif							/* QUOTA_CREDITS_AGG_H */
