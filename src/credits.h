/*
 * credits.h
 *		The quota.credits money type: an int64 count of 1e-9 credits.
 */
#ifndef QUOTA_CREDITS_H
#define QUOTA_CREDITS_H

#include "fmgr.h"
#include "utils/numeric.h"

typedef int64 Credits;

#define CREDITS_SCALE			INT64CONST(1000000000)
#define CREDITS_DIGITS			9
/* The range is symmetric: INT64_MIN is not a credits value. */
#define CREDITS_MAX				PG_INT64_MAX
#define CREDITS_MIN				(-CREDITS_MAX)

#define DatumGetCredits(X)		DatumGetInt64(X)
#define CreditsGetDatum(X)		Int64GetDatum(X)
#define PG_GETARG_CREDITS(n)	DatumGetCredits(PG_GETARG_DATUM(n))
#define PG_RETURN_CREDITS(x)	return CreditsGetDatum(x)

/* Divide an exact 128-bit numerator, rounding half away from zero; 22003 on overflow. */
extern Credits CreditsRoundDiv128(int128 num, int128 den);
/* Checked addition and subtraction (22003 on overflow). */
extern Credits CreditsAdd(Credits a, Credits b);
extern Credits CreditsSub(Credits a, Credits b);
/* credits x numeric, exact, rounded half away from zero to 1e-9. */
extern Credits CreditsMulNumeric(Credits a, Numeric n);
/* Exact conversions. */
extern Numeric CreditsToNumeric(Credits c);
extern Credits NumericToCredits(Numeric n);
/* Text form, e.g. "12.5" or "-0.000000001" (palloc'd). */
extern char *CreditsToCString(Credits c);

#endif							/* QUOTA_CREDITS_H */
