/*
 * hint.h
 *		The QU001 errors, with their hints (hint.c).
 */
#ifndef QUOTA_HINT_H
#define QUOTA_HINT_H

#include "escrow.h"
#include "request.h"

extern void QuotaSkipHints(bool skip);
extern void QuotaRaiseInsufficient(const RequestTarget *target, Credits cost,
								   const EscrowState *state, bool member_limit,
								   Credits usage);
extern void QuotaRaiseOverrun(const RequestTarget *target, Credits cost,
							  const EscrowState *state, const char *request_id,
							  int64 max_input_tokens, int64 max_output_tokens);

#endif							/* QUOTA_HINT_H */
