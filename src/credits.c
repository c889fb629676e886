/*
 * credits.c
 *		quota.credits: exact fixed-point money, an int64 count of 1e-9 credits.
 *
 * Every operation is integer arithmetic with overflow checks; products and
 * quotients go through 128-bit intermediates and round half away from zero.
 * Numeric is used only for casts and for multiplying by a numeric.
 * INT64_MIN is outside the type's range, so negation never overflows.
 */
#include "postgres.h"

#include "common/int.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "credits.h"
#include "quota.h"

#define CREDITS_MAX		PG_INT64_MAX

PG_FUNCTION_INFO_V1(credits_in);
PG_FUNCTION_INFO_V1(credits_out);
PG_FUNCTION_INFO_V1(credits_recv);
PG_FUNCTION_INFO_V1(credits_send);
PG_FUNCTION_INFO_V1(credits_pl);
PG_FUNCTION_INFO_V1(credits_mi);
PG_FUNCTION_INFO_V1(credits_um);
PG_FUNCTION_INFO_V1(credits_mul_numeric);
PG_FUNCTION_INFO_V1(credits_div_numeric);
PG_FUNCTION_INFO_V1(credits_eq);
PG_FUNCTION_INFO_V1(credits_ne);
PG_FUNCTION_INFO_V1(credits_lt);
PG_FUNCTION_INFO_V1(credits_le);
PG_FUNCTION_INFO_V1(credits_gt);
PG_FUNCTION_INFO_V1(credits_ge);
PG_FUNCTION_INFO_V1(credits_cmp);
PG_FUNCTION_INFO_V1(credits_hash);
PG_FUNCTION_INFO_V1(credits_hash_extended);
PG_FUNCTION_INFO_V1(numeric_credits);
PG_FUNCTION_INFO_V1(int8_credits);
PG_FUNCTION_INFO_V1(int4_credits);
PG_FUNCTION_INFO_V1(credits_numeric);

/* Raise 22003. */
static void
OutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("credits out of range"),
			 errdetail("quota.credits holds values between -9223372036.854775807 and 9223372036.854775807.")));
}

/* Check a 128-bit result against the type's range. */
static Credits
FromInt128(int128 v)
{
	if (v > CREDITS_MAX || v < -CREDITS_MAX)
		OutOfRange();
	return (Credits) v;
}

/* num / den rounded half away from zero; 22012 on zero, 22003 on overflow. */
Credits
CreditsRoundDiv128(int128 num, int128 den)
{
	int128		q,
				r,
				absr,
				absden;

	if (den == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DIVISION_BY_ZERO),
				 errmsg("division by zero")));
	q = num / den;
	r = num % den;
	absr = r < 0 ? -r : r;
	absden = den < 0 ? -den : den;
	if (absr >= absden - absr)	/* 2|r| >= |den| without overflow */
		q += ((num < 0) != (den < 0)) ? -1 : 1;
	return FromInt128(q);
}

/* Checked addition. */
Credits
CreditsAdd(Credits a, Credits b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r) || r == PG_INT64_MIN)
		OutOfRange();
	return r;
}

/* Checked subtraction. */
Credits
CreditsSub(Credits a, Credits b)
{
	int64		r;

	if (pg_sub_s64_overflow(a, b, &r) || r == PG_INT64_MIN)
		OutOfRange();
	return r;
}

/* Shortest exact text form. */
char *
CreditsToCString(Credits c)
{
	char		buf[32];
	char		frac[16];
	uint64		u = c < 0 ? (uint64) (-c) : (uint64) c;
	int			n = 9;

	snprintf(frac, sizeof(frac), "%09llu", (unsigned long long) (u % CREDITS_SCALE));
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	snprintf(buf, sizeof(buf), "%s%llu%s%s", c < 0 ? "-" : "",
			 (unsigned long long) (u / CREDITS_SCALE), n ? "." : "", frac);
	return pstrdup(buf);
}

/* Exact numeric of a credits value. */
Numeric
CreditsToNumeric(Credits c)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in,
											   CStringGetDatum(CreditsToCString(c)),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* numeric -> credits, rounded half away from zero at 1e-9 (22003 if out of range). */
Credits
NumericToCredits(Numeric n)
{
	Datum		scaled;
	Datum		rounded;
	Numeric		limit;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot convert %s to credits",
						DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)))),
				 errdetail("Credits are finite amounts.")));
	scaled = DirectFunctionCall2(numeric_mul, NumericGetDatum(n),
								 DirectFunctionCall1(int8_numeric, Int64GetDatum(CREDITS_SCALE)));
	/* numeric's round() rounds half away from zero */
	rounded = DirectFunctionCall2(numeric_round, scaled, Int32GetDatum(0));
	limit = int64_to_numeric(CREDITS_MAX);
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, rounded, NumericGetDatum(limit))) > 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp,
										  DirectFunctionCall1(numeric_uminus, rounded),
										  NumericGetDatum(limit))) > 0)
		OutOfRange();
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, rounded));
}

/* credits x numeric, exact, rounded half away from zero. */
Credits
CreditsMulNumeric(Credits a, Numeric n)
{
	Datum		product = DirectFunctionCall2(numeric_mul,
											  NumericGetDatum(CreditsToNumeric(a)),
											  NumericGetDatum(n));

	return NumericToCredits(DatumGetNumeric(product));
}

/* Raise 22P02 for malformed text. */
static void
BadInput(const char *str, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "credits", str),
			 errdetail("%s", detail),
			 errhint("Write an optional sign, digits and at most 9 fractional digits, for example 12.5.")));
}

/* Parse text: [sign] digits [. up to 9 digits], surrounding spaces allowed. */
static Credits
ParseCredits(const char *str)
{
	const char *p = str;
	bool		neg = false;
	uint64		whole = 0;
	uint64		frac = 0;
	int			nwhole = 0;
	int			nfrac = 0;
	int128		value;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '+' || *p == '-')
		neg = (*p++ == '-');
	while (isdigit((unsigned char) *p))
	{
		whole = whole * 10 + (*p++ - '0');
		if (whole > (uint64) (CREDITS_MAX / CREDITS_SCALE) + 1)
		{
			while (isdigit((unsigned char) *p))
				p++;
			while (isspace((unsigned char) *p))
				p++;
			if (*p != '\0' && *p != '.')
				BadInput(str, "The value is not a number.");
			OutOfRange();
		}
		nwhole++;
	}
	if (*p == '.')
	{
		p++;
		while (isdigit((unsigned char) *p))
		{
			if (++nfrac > CREDITS_DIGITS)
				BadInput(str, "Credits have at most 9 fractional digits.");
			frac = frac * 10 + (*p++ - '0');
		}
	}
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0' || nwhole + nfrac == 0)
		BadInput(str, "The value is not a number.");
	for (int i = nfrac; i < CREDITS_DIGITS; i++)
		frac *= 10;
	value = (int128) whole * CREDITS_SCALE + frac;
	return FromInt128(neg ? -value : value);
}

/* Type input. */
Datum
credits_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(ParseCredits(PG_GETARG_CSTRING(0)));
}

/* Type output. */
Datum
credits_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(CreditsToCString(PG_GETARG_CREDITS(0)));
}

/* Binary input: an int8 of 1e-9 units. */
Datum
credits_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int64		v = pq_getmsgint64(buf);

	if (v == PG_INT64_MIN)
		OutOfRange();
	PG_RETURN_CREDITS(v);
}

/* Binary output. */
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
	PG_RETURN_CREDITS(-PG_GETARG_CREDITS(0));
}

/* credits * numeric */
Datum
credits_mul_numeric(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(CreditsMulNumeric(PG_GETARG_CREDITS(0), PG_GETARG_NUMERIC(1)));
}

/* credits / numeric, exact, rounded half away from zero */
Datum
credits_div_numeric(PG_FUNCTION_ARGS)
{
	Numeric		d = PG_GETARG_NUMERIC(1);
	Datum		q;

	if (numeric_is_nan(d) || numeric_is_inf(d))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot divide credits by %s",
						DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(d))))));
	{
		Datum		e18 = DirectFunctionCall1(int8_numeric,
											  Int64GetDatum(INT64CONST(1000000000000000000)));
		Datum		half = DirectFunctionCall1(int8_numeric,
											   Int64GetDatum(INT64CONST(500000000000000000)));
		Datum		units = DirectFunctionCall1(int8_numeric,
												Int64GetDatum(PG_GETARG_CREDITS(0)));
		Datum		t;
		Datum		rem;
		Numeric		limit = int64_to_numeric(CREDITS_MAX);

		/* t = trunc(units x 1e18 / d): the quotient with 18 more digits */
		t = DirectFunctionCall2(numeric_div_trunc,
								DirectFunctionCall2(numeric_mul, units, e18),
								NumericGetDatum(d));
		q = DirectFunctionCall2(numeric_div_trunc, t, e18);
		rem = DirectFunctionCall1(numeric_abs,
								  DirectFunctionCall2(numeric_sub, t,
													  DirectFunctionCall2(numeric_mul, q, e18)));
		/* round half away from zero on the dropped digits */
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, rem, half)) >= 0)
		{
			Datum		one = DirectFunctionCall1(int8_numeric, Int64GetDatum(
				DatumGetInt32(DirectFunctionCall2(numeric_cmp, t,
												  DirectFunctionCall1(int8_numeric, Int64GetDatum(0)))) < 0 ? -1 : 1));

			q = DirectFunctionCall2(numeric_add, q, one);
		}
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, q, NumericGetDatum(limit))) > 0 ||
			DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											  DirectFunctionCall1(numeric_uminus, q),
											  NumericGetDatum(limit))) > 0)
			OutOfRange();
	}
	PG_RETURN_CREDITS(DatumGetInt64(DirectFunctionCall1(numeric_int8, q)));
}

/* = */
Datum
credits_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) == PG_GETARG_CREDITS(1));
}

/* <> */
Datum
credits_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) != PG_GETARG_CREDITS(1));
}

/* < */
Datum
credits_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) < PG_GETARG_CREDITS(1));
}

/* <= */
Datum
credits_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) <= PG_GETARG_CREDITS(1));
}

/* > */
Datum
credits_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) > PG_GETARG_CREDITS(1));
}

/* >= */
Datum
credits_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_CREDITS(0) >= PG_GETARG_CREDITS(1));
}

/* btree comparison support */
Datum
credits_cmp(PG_FUNCTION_ARGS)
{
	Credits		a = PG_GETARG_CREDITS(0);
	Credits		b = PG_GETARG_CREDITS(1);

	PG_RETURN_INT32(a < b ? -1 : (a > b ? 1 : 0));
}

/* hash support, the same as bigint's */
Datum
credits_hash(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(hashint8, PG_GETARG_DATUM(0));
}

/* extended hash support */
Datum
credits_hash_extended(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall2(hashint8extended, PG_GETARG_DATUM(0), PG_GETARG_DATUM(1));
}

/* cast numeric -> credits */
Datum
numeric_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(NumericToCredits(PG_GETARG_NUMERIC(0)));
}

/* cast bigint -> credits */
Datum
int8_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS(FromInt128((int128) PG_GETARG_INT64(0) * CREDITS_SCALE));
}

/* cast integer -> credits */
Datum
int4_credits(PG_FUNCTION_ARGS)
{
	PG_RETURN_CREDITS((int64) PG_GETARG_INT32(0) * CREDITS_SCALE);
}

/* cast credits -> numeric (exact) */
Datum
credits_numeric(PG_FUNCTION_ARGS)
{
	PG_RETURN_NUMERIC(CreditsToNumeric(PG_GETARG_CREDITS(0)));
}
