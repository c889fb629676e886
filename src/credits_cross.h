/*
 * credits_cross.h
 *		Comparisons of quota.credits with numeric (credits_cross.c).
 */
#ifndef QUOTA_CREDITS_CROSS_H
#define QUOTA_CREDITS_CROSS_H

#include "fmgr.h"

extern Datum credits_numeric_cmp(PG_FUNCTION_ARGS);
extern Datum credits_numeric_eq(PG_FUNCTION_ARGS);
extern Datum credits_numeric_ge(PG_FUNCTION_ARGS);
extern Datum credits_numeric_gt(PG_FUNCTION_ARGS);
extern Datum credits_numeric_le(PG_FUNCTION_ARGS);
extern Datum credits_numeric_lt(PG_FUNCTION_ARGS);
extern Datum credits_numeric_ne(PG_FUNCTION_ARGS);
extern Datum numeric_credits_cmp(PG_FUNCTION_ARGS);
extern Datum numeric_credits_eq(PG_FUNCTION_ARGS);
extern Datum numeric_credits_ge(PG_FUNCTION_ARGS);
extern Datum numeric_credits_gt(PG_FUNCTION_ARGS);
extern Datum numeric_credits_le(PG_FUNCTION_ARGS);
extern Datum numeric_credits_lt(PG_FUNCTION_ARGS);
extern Datum numeric_credits_ne(PG_FUNCTION_ARGS);

#endif							/* QUOTA_CREDITS_CROSS_H */
