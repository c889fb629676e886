/*
 * credits_text.c
 *		Text form of quota.credits: parsing and formatting.
 *
 * Plain C on plain buffers: no memory allocation and no error reporting, so
 * that the fuzz target (test/fuzz) links this file alone.  credits.c turns
 * the parse results into SQLSTATEs.
 */
#include "postgres.h"

#include "compat.h"

#include <ctype.h>

#include "credits.h"
#include "credits_text.h"

#define CREDITS_MAX_WHOLE	(CREDITS_MAX / CREDITS_SCALE)

/*
 * Parse [spaces][sign]digits[.digits][spaces] with at least one digit and at
 * most 9 fractional digits.  The whole string is checked before the range,
 * so malformed text is 22P02 even when it is also too large.
 */
CreditsParseResult
CreditsParse(const char *str, Credits *result)
{
	const char *p = str;
	bool		negative = false;
	bool		too_large = false;
	uint64		whole = 0;
	uint64		frac = 0;
	int			nwhole = 0;
	int			nfrac = 0;
	int128		units;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '+' || *p == '-')
		negative = (*p++ == '-');
	for (; isdigit((unsigned char) *p); p++, nwhole++)
	{
		if (whole > CREDITS_MAX_WHOLE)
			too_large = true;	/* keep scanning: syntax errors come first */
		else
			whole = whole * 10 + (*p - '0');
	}
	if (*p == '.')
	{
		for (p++; isdigit((unsigned char) *p); p++, nfrac++)
		{
			if (nfrac < CREDITS_DIGITS)
				frac = frac * 10 + (*p - '0');
		}
	}
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0' || nwhole + nfrac == 0)
		return CREDITS_PARSE_SYNTAX;
	if (nfrac > CREDITS_DIGITS)
		return CREDITS_PARSE_FRACTION;
	if (too_large || whole > CREDITS_MAX_WHOLE)
		return CREDITS_PARSE_RANGE;
	for (; nfrac < CREDITS_DIGITS; nfrac++)
		frac *= 10;
	units = (int128) whole * CREDITS_SCALE + frac;
	if (units > CREDITS_MAX)
		return CREDITS_PARSE_RANGE;
	*result = negative ? -(Credits) units : (Credits) units;
	return CREDITS_PARSE_OK;
}

/*
 * Shortest exact text form, no trailing fractional zeros and no lone point,
 * written at the end of buf (CREDITS_TEXT_SIZE bytes); returns its start.
 */
char *
CreditsFormat(Credits c, char *buf)
{
	char	   *p = buf + CREDITS_TEXT_SIZE;
	uint64		u = c < 0 ? -(uint64) c : (uint64) c;
	uint64		whole = u / CREDITS_SCALE;
	uint64		frac = u % CREDITS_SCALE;

	*--p = '\0';
	if (frac != 0)
	{
		int			ndigits = CREDITS_DIGITS;

		while (frac % 10 == 0)
		{
			frac /= 10;
			ndigits--;
		}
		while (ndigits-- > 0)
		{
			*--p = (char) ('0' + frac % 10);
			frac /= 10;
		}
		*--p = '.';
	}
	do
	{
		*--p = (char) ('0' + whole % 10);
		whole /= 10;
	} while (whole != 0);
	if (c < 0)
		*--p = '-';
	return p;
}
