/*
 * credits_fuzz.c
 *		libFuzzer target for the text form of quota.credits.
 *
 * Each input (up to its first NUL, as SQL would pass it) is parsed by
 * CreditsParse and by a deliberately naive reference parser written here
 * from the grammar; their verdicts and values must agree.  Every accepted
 * value must format and parse back to itself, and its text must be the
 * canonical form.  Built with AddressSanitizer and UBSan by run.sh.
 */
#include "postgres.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "credits.h"
#include "credits_text.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The grammar, the slow way: [spaces][sign]digits[.digits][spaces]. */
static CreditsParseResult
ReferenceParse(const char *s, Credits *result)
{
	size_t		i = 0,
				n = strlen(s);
	int			sign = 1;
	size_t		wstart,
				wend,
				fstart = 0,
				fend = 0;
	int128		v = 0;
	bool		huge = false;

	while (i < n && isspace((unsigned char) s[i]))
		i++;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		sign = (s[i++] == '-') ? -1 : 1;
	wstart = i;
	while (i < n && isdigit((unsigned char) s[i]))
		i++;
	wend = i;
	if (i < n && s[i] == '.')
	{
		fstart = ++i;
		while (i < n && isdigit((unsigned char) s[i]))
			i++;
		fend = i;
	}
	while (i < n && isspace((unsigned char) s[i]))
		i++;
	if (i != n || (wend - wstart) + (fend - fstart) == 0)
		return CREDITS_PARSE_SYNTAX;
	if (fend - fstart > 9)
		return CREDITS_PARSE_FRACTION;
	for (size_t k = wstart; k < wend; k++)
	{
		v = v * 10 + (s[k] - '0');
		if (v > (int128) PG_INT64_MAX)
		{
			huge = true;
			v = 0;
		}
	}
	for (size_t k = 0; k < 9; k++)
		v = v * 10 + ((fstart + k < fend) ? s[fstart + k] - '0' : 0);
	if (huge || v > (int128) PG_INT64_MAX)
		return CREDITS_PARSE_RANGE;
	*result = (Credits) (sign * v);
	return CREDITS_PARSE_OK;
}

/* One input: the two parsers agree, and accepted values round-trip. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	Credits		a = 0,
				b = 0,
				c = 0;
	CreditsParseResult ra,
				rb;
	char		buf[CREDITS_TEXT_SIZE];
	char	   *text;

	memcpy(s, data, size);
	s[size] = '\0';
	ra = CreditsParse(s, &a);
	rb = ReferenceParse(s, &b);
	if (ra != rb || (ra == CREDITS_PARSE_OK && a != b))
		abort();
	if (ra == CREDITS_PARSE_OK)
	{
		if (a == PG_INT64_MIN)
			abort();
		text = CreditsFormat(a, buf);
		if (CreditsParse(text, &c) != CREDITS_PARSE_OK || c != a)
			abort();
		if (strcmp(CreditsFormat(c, buf), text) != 0)
			abort();
		/* canonical: no '+', no leading zeros, no trailing fractional zeros */
		if (text[0] == '+' || (strchr(text, '.') && text[strlen(text) - 1] == '0'))
			abort();
	}
	free(s);
	return 0;
}
