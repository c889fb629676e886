/*
 * credits.c
 *		quota.credits: exact fixed-point money, an int64 count of 1e-9 credits.
 *
 * Addition, subtraction, comparison and the integer casts are int64/int128
 * arithmetic with overflow checks.  Products and quotients by a numeric are
 * computed exactly in numeric and rounded once, half away from zero, to
 * 1e-9.  No floating point is used anywhere.
 *
 * INT64_MIN is outside the type's range (+-9223372036.854775807): every way
 * in (text, binary, casts, arithmetic) refuses it, so negation is always
 * safe.
 *
 * Non-finite numerics (NaN, +-Infinity) have no credits value: casting one,
 * or multiplying or dividing credits by one, raises 22003 (numeric value
 * out of range), the SQLSTATE the contract gives to every credits value
 * that cannot be represented.
 */
#include "postgres.h"

#include "compat.h"

#include "common/hashfn.h"
#include "common/int.h"
#include "credits_text.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/sortsupport.h"

#include "credits.h"
#include "quota.h"

pg_noreturn static void CreditsOutOfRange(void);
pg_noreturn static void CreditsValueOutOfRange(const char *value);
pg_noreturn static void CreditsDivisionByZero(void);
pg_noreturn static void CreditsParseError(CreditsParseResult res, const char *str);

PG_FUNCTION_INFO_V1(credits_in);
PG_FUNCTION_INFO_V1(credits_out);
PG_FUNCTION_INFO_V1(credits_recv);
PG_FUNCTION_INFO_V1(credits_send);
PG_FUNCTION_INFO_V1(credits_pl);
PG_FUNCTION_INFO_V1(credits_mi);
PG_FUNCTION_INFO_V1(credits_um);
PG_FUNCTION_INFO_V1(credits_mul_numeric);
PG_FUNCTION_INFO_V1(credits_div_numeric);
PG_FUNCTION_INFO_V1(int8_mul_credits);
PG_FUNCTION_INFO_V1(int4_mul_credits);
PG_FUNCTION_INFO_V1(credits_eq);
PG_FUNCTION_INFO_V1(credits_ne);
PG_FUNCTION_INFO_V1(credits_lt);
PG_FUNCTION_INFO_V1(credits_le);
PG_FUNCTION_INFO_V1(credits_gt);
PG_FUNCTION_INFO_V1(credits_ge);
PG_FUNCTION_INFO_V1(credits_cmp);
PG_FUNCTION_INFO_V1(credits_sortsupport);
PG_FUNCTION_INFO_V1(credits_hash);
PG_FUNCTION_INFO_V1(credits_hash_extended);
PG_FUNCTION_INFO_V1(numeric_credits);
PG_FUNCTION_INFO_V1(int8_credits);
PG_FUNCTION_INFO_V1(int4_credits);
PG_FUNCTION_INFO_V1(credits_numeric);

/* Raise 22003 for an arithmetic result outside the type's range. */
static void
CreditsOutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("credits out of range"),
			 errdetail("Credits lie between -9223372036.854775807 and 9223372036.854775807.")));
}

/* Raise 22003 naming a value (text or binary input) outside the range. */
static void
CreditsValueOutOfRange(const char *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value \"%s\" is out of range for type %s", value, "credits"),
			 errdetail("Credits lie between -9223372036.854775807 and 9223372036.854775807.")));
}

/* The text of a numeric, for error messages. */
static char *
NumericText(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/* Raise 22012. */
static void
CreditsDivisionByZero(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DIVISION_BY_ZERO),
			 errmsg("division by zero")));
}

/* Check a 128-bit count of 1e-9 units against the type's range. */
static inline Credits
CreditsFromInt128(int128 v)
{
	if (v > CREDITS_MAX || v < CREDITS_MIN)
		CreditsOutOfRange();
	return (Credits) v;
}

/* num / den rounded half away from zero; 22012 if den is 0, 22003 on overflow. */
Credits
CreditsRoundDiv128(int128 num, int128 den)
{
	bool		negative = (num < 0) != (den < 0);
	uint128		n = num < 0 ? -(uint128) num : (uint128) num;
	uint128		d = den < 0 ? -(uint128) den : (uint128) den;
	uint128		q;
	uint128		r;

	if (d == 0)
		CreditsDivisionByZero();
	q = n / d;
	r = n % d;
	/* round up in magnitude when 2r >= d, written so that it cannot overflow */
	if (r >= d - r)
		q++;
	if (q > (uint128) CREDITS_MAX)
		CreditsOutOfRange();
	return negative ? -(Credits) q : (Credits) q;
}

/* Checked addition (22003 on overflow). */
Credits
CreditsAdd(Credits a, Credits b)
{
	int64		r;

	if (unlikely(pg_add_s64_overflow(a, b, &r) || r == PG_INT64_MIN))
		CreditsOutOfRange();
	return r;
}

/* Checked subtraction (22003 on overflow). */
Credits
CreditsSub(Credits a, Credits b)
{
	int64		r;

	if (unlikely(pg_sub_s64_overflow(a, b, &r) || r == PG_INT64_MIN))
		CreditsOutOfRange();
	return r;
}

/* Shortest exact text form (palloc'd); see CreditsFormat. */
char *
CreditsToCString(Credits c)
{
	char		buf[CREDITS_TEXT_SIZE];

	return pstrdup(CreditsFormat(c, buf));
}

/* Exact numeric of a credits value, its scale trimmed as in the text form. */
Numeric
CreditsToNumeric(Credits c)
{
	Numeric		n = int64_div_fast_to_numeric(c, CREDITS_DIGITS);

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale,
											   NumericGetDatum(n)));
}

/* An integral numeric count of 1e-9 units as credits (22003 if out of range). */
static Credits
NumericUnitsToCredits(Numeric units)
{
	Numeric		limit = int64_to_numeric(CREDITS_MAX);
	Datum		magnitude = DirectFunctionCall1(numeric_abs, NumericGetDatum(units));

	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, magnitude,
										  NumericGetDatum(limit))) > 0)
		CreditsOutOfRange();
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(units)));
}

/* Round a numeric count of units to an integer, half away from zero. */
static inline Numeric
NumericRoundUnits(Numeric units)
{
	/* numeric's round() rounds half away from zero */
	return DatumGetNumeric(DirectFunctionCall2(numeric_round,
											   NumericGetDatum(units),
											   Int32GetDatum(0)));
}

/* numeric -> credits, rounded half away from zero at 1e-9 (22003 if out of range). */
Credits
NumericToCredits(Numeric n)
{
	Numeric		units;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot convert \"%s\" to credits", NumericText(n)),
				 errdetail("Credits are finite amounts.")));
	units = numeric_mul_opt_error(n, int64_to_numeric(CREDITS_SCALE), NULL);
	return NumericUnitsToCredits(NumericRoundUnits(units));
}

/* credits x numeric: the exact product, rounded half away from zero to 1e-9. */
Credits
CreditsMulNumeric(Credits a, Numeric n)
{
	Numeric		units;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot multiply credits by \"%s\"", NumericText(n)),
				 errdetail("Credits are finite amounts.")));
	units = numeric_mul_opt_error(int64_to_numeric(a), n, NULL);
	return NumericUnitsToCredits(NumericRoundUnits(units));
}

/* credits / numeric: the exact quotient, rounded half away from zero to 1e-9. */
static Credits
CreditsDivNumeric(Credits a, Numeric n)
{
	Numeric		zero = int64_to_numeric(0);
	int			sign;
	Datum		u;
	Datum		d;
	Datum		num;
	Datum		den;
	Credits		q;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot divide credits by \"%s\"", NumericText(n)),
				 errdetail("Credits are finite amounts.")));
	sign = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
											 NumericGetDatum(zero)));
	if (sign == 0)
		CreditsDivisionByZero();

	/*
	 * |a| / |n| rounded half away from zero is trunc((2|a| + |n|) / (2|n|)),
	 * and numeric's div() truncates exactly.  a is never INT64_MIN.
	 */
	u = NumericGetDatum(int64_to_numeric(a < 0 ? -a : a));
	d = DirectFunctionCall1(numeric_abs, NumericGetDatum(n));
	num = DirectFunctionCall2(numeric_add,
							  DirectFunctionCall2(numeric_add, u, u), d);
	den = DirectFunctionCall2(numeric_add, d, d);
	q = NumericUnitsToCredits(DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
																  num, den)));
	return ((a < 0) != (sign < 0)) ? -q : q;
}

/* Report a parse failure of text input with its SQLSTATE. */
static void
CreditsParseError(CreditsParseResult res, const char *str)
{
	if (res == CREDITS_PARSE_RANGE)
		CreditsValueOutOfRange(str);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "credits", str),
			 res == CREDITS_PARSE_FRACTION ?
			 errdetail("Credits have at most 9 fractional digits.") :
			 errdetail("A credits value is an optional sign, digits and an optional fraction, for example \"-12.5\".")));
}


/* Text input. */
Datum
credits_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	Credits		result = 0;
	CreditsParseResult res = CreditsParse(str, &result);

	if (res != CREDITS_PARSE_OK)
		CreditsParseError(res, str);
	PG_RETURN_CREDITS(result);
}

/* Text output: the shortest exact form. */
Datum
credits_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(CreditsToCString(PG_GETARG_CREDITS(0)));
}

/* Binary input: an int8 count of 1e-9 units (INT64_MIN refused). */
Datum
credits_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int64		v = pq_getmsgint64(buf);

	if (v == PG_INT64_MIN)
		CreditsValueOutOfRange(CreditsToCString(v));
	PG_RETURN_CREDITS(v);
}

/* Binary output: an int8 count of 1e-9 units. */
Datum
credits_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, PG_GETARG_CREDITS(0));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* credits + credits */
Datum
credits_pl(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsAdd(PG_GETARG_CREDITS(0), PG_GETARG_CREDITS(1)));
}

/* credits - credits */
Datum
credits_mi(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsSub(PG_GETARG_CREDITS(0), PG_GETARG_CREDITS(1)));
}

/* - credits */
Datum
credits_um(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsSub(0, PG_GETARG_CREDITS(0)));
}

/* credits * numeric (integers reach it through their casts to numeric) */
Datum
credits_mul_numeric(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsMulNumeric(PG_GETARG_CREDITS(0), PG_GETARG_NUMERIC(1)));
}

/* credits / numeric (integers reach it through their casts to numeric) */
Datum
credits_div_numeric(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsDivNumeric(PG_GETARG_CREDITS(0), PG_GETARG_NUMERIC(1)));
}

/* bigint * credits, exact in 128 bits */
Datum
int8_mul_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsFromInt128((int128) PG_GETARG_INT64(0) *
										PG_GETARG_CREDITS(1)));
}

/* integer * credits, exact in 128 bits */
Datum
int4_mul_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsFromInt128((int128) PG_GETARG_INT32(0) *
										PG_GETARG_CREDITS(1)));
}

/* credits = credits */
Datum
credits_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) == PG_GETARG_CREDITS(1));
}

/* credits <> credits */
Datum
credits_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) != PG_GETARG_CREDITS(1));
}

/* credits < credits */
Datum
credits_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) < PG_GETARG_CREDITS(1));
}

/* credits <= credits */
Datum
credits_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) <= PG_GETARG_CREDITS(1));
}

/* credits > credits */
Datum
credits_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) > PG_GETARG_CREDITS(1));
}

/* credits >= credits */
Datum
credits_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) >= PG_GETARG_CREDITS(1));
}

/* btree support 1: three-way comparison. */
Datum
credits_cmp(PG_FUNCTION_ARGS)
{
	Credits		a = PG_GETARG_CREDITS(0);
	Credits		b = PG_GETARG_CREDITS(1);

	PG_RETURN_INT32(a < b ? -1 : (a > b ? 1 : 0));
}

#if SIZEOF_DATUM < 8
/* Sort comparator for builds where int8 is passed by reference. */
static int
CreditsFastCmp(Datum x, Datum y, SortSupport ssup)
{
	Credits		a = DatumGetCredits(x);
	Credits		b = DatumGetCredits(y);

	return a < b ? -1 : (a > b ? 1 : 0);
}
#endif

/* btree support 2: sort support, the same fast comparator as bigint's. */
Datum
credits_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

#if SIZEOF_DATUM >= 8
	ssup->comparator = ssup_datum_signed_cmp;
#else
	ssup->comparator = CreditsFastCmp;
#endif
	PG_RETURN_VOID();
}

/* Fold an int64 into 32 bits exactly as bigint's hash does. */
static inline uint32
CreditsHashKey(Credits c)
{
	uint32		lohalf = (uint32) c;
	uint32		hihalf = (uint32) ((uint64) c >> 32);

	return lohalf ^ (c >= 0 ? hihalf : ~hihalf);
}

/* hash support 1: the same hash as bigint's. */
Datum
credits_hash(PG_FUNCTION_ARGS)
{
	return hash_uint32(CreditsHashKey(PG_GETARG_CREDITS(0)));
}

/* hash support 2: seeded 64-bit hash, the same as bigint's. */
Datum
credits_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_uint32_extended(CreditsHashKey(PG_GETARG_CREDITS(0)),
								PG_GETARG_INT64(1));
}

/* Cast numeric -> credits, rounded half away from zero at 1e-9. */
Datum
numeric_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(NumericToCredits(PG_GETARG_NUMERIC(0)));
}

/* Cast bigint -> credits. */
Datum
int8_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsFromInt128((int128) PG_GETARG_INT64(0) * CREDITS_SCALE));
}

/* Cast integer -> credits (always in range). */
Datum
int4_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS((Credits) PG_GETARG_INT32(0) * CREDITS_SCALE);
}

/* Cast credits -> numeric, exact. */
Datum
credits_numeric(PG_FUNCTION_ARGS)
{
	PG_RETURN_NUMERIC(CreditsToNumeric(PG_GETARG_CREDITS(0)));
}
