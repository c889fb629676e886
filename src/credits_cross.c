/*
 * credits_cross.c
 *		Comparisons of credits with numeric, exact.
 *
 * Credits convert to numeric implicitly, so without these operators
 * "balance > 0.5" would compare two numerics and could not use an index on
 * the credits column.  With them the comparison stays on the credits side
 * (the planner finds the operators in credits' btree family), and it is
 * exact: the credits value is converted to numeric without rounding.
 */
#include "postgres.h"

#include "compat.h"

#include "credits_cross.h"
#include "fmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "credits.h"

PG_FUNCTION_INFO_V1(credits_numeric_cmp);
PG_FUNCTION_INFO_V1(numeric_credits_cmp);
PG_FUNCTION_INFO_V1(credits_numeric_eq);
PG_FUNCTION_INFO_V1(credits_numeric_ne);
PG_FUNCTION_INFO_V1(credits_numeric_lt);
PG_FUNCTION_INFO_V1(credits_numeric_le);
PG_FUNCTION_INFO_V1(credits_numeric_gt);
PG_FUNCTION_INFO_V1(credits_numeric_ge);
PG_FUNCTION_INFO_V1(numeric_credits_eq);
PG_FUNCTION_INFO_V1(numeric_credits_ne);
PG_FUNCTION_INFO_V1(numeric_credits_lt);
PG_FUNCTION_INFO_V1(numeric_credits_le);
PG_FUNCTION_INFO_V1(numeric_credits_gt);
PG_FUNCTION_INFO_V1(numeric_credits_ge);

/* Compare a credits value with a numeric: <0, 0 or >0 (NaN sorts last). */
static int
CreditsNumericCmp(Credits c, Numeric n)
{
	Numeric		cn = int64_div_fast_to_numeric(c, CREDITS_DIGITS);

	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(cn),
											 NumericGetDatum(n)));
}

/* btree support: credits vs numeric. */
Datum
credits_numeric_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CreditsNumericCmp(PG_GETARG_CREDITS(0), PG_GETARG_NUMERIC(1)));
}

/* btree support: numeric vs credits. */
Datum
numeric_credits_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(-CreditsNumericCmp(PG_GETARG_CREDITS(1), PG_GETARG_NUMERIC(0)));
}

/* One operator function each way, from the sign of the comparison. */
#define CREDITS_CROSS_OP(name, test) \
Datum \
credits_numeric_##name(PG_FUNCTION_ARGS) \
{ \
	int			r = CreditsNumericCmp(PG_GETARG_CREDITS(0), PG_GETARG_NUMERIC(1)); \
	PG_RETURN_BOOL(test); \
} \
Datum \
numeric_credits_##name(PG_FUNCTION_ARGS) \
{ \
	int			r = -CreditsNumericCmp(PG_GETARG_CREDITS(1), PG_GETARG_NUMERIC(0)); \
	PG_RETURN_BOOL(test); \
}

CREDITS_CROSS_OP(eq, r == 0)
CREDITS_CROSS_OP(ne, r != 0)
CREDITS_CROSS_OP(lt, r < 0)
CREDITS_CROSS_OP(le, r <= 0)
CREDITS_CROSS_OP(gt, r > 0)
CREDITS_CROSS_OP(ge, r >= 0)
