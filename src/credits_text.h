/*
 * credits_text.h
 *		The text form of quota.credits (credits_text.c).
 */
#ifndef QUOTA_CREDITS_TEXT_H
#define QUOTA_CREDITS_TEXT_H

#include "credits.h"

/* How text failed to parse, in order of precedence (credits_text.c). */
typedef enum CreditsParseResult
{
	CREDITS_PARSE_OK,
	CREDITS_PARSE_SYNTAX,
	CREDITS_PARSE_FRACTION,
	CREDITS_PARSE_RANGE
} CreditsParseResult;

/* Room for the longest text form and its terminator. */
#define CREDITS_TEXT_SIZE		32

/* Parse [spaces][sign]digits[.digits][spaces]; *result is set when OK. */
extern CreditsParseResult CreditsParse(const char *str, Credits *result);
/* Format into buf (CREDITS_TEXT_SIZE bytes); returns the text's start. */
extern char *CreditsFormat(Credits c, char *buf);

#endif							/* QUOTA_CREDITS_TEXT_H */
