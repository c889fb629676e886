/*
 * charge.h
 *		Shared pieces of the charging functions.
 */
#ifndef QUOTA_CHARGE_H
#define QUOTA_CHARGE_H

#include "catalog.h"
#include "pools.h"

/* How a request's pool was chosen. */
typedef struct RequestTarget
{
	char	   *user_id;
	QuotaModel *model;
	PoolInfo	pool;
	UserProfile profile;		/* QuotaCheckUserExists */
} RequestTarget;

extern void QuotaSkipHints(bool skip);
extern void QuotaRaiseInsufficient(const RequestTarget *target, Credits cost,
								   const EscrowState *state, bool member_limit,
								   Credits usage);
extern void QuotaRaiseOverrun(const RequestTarget *target, Credits cost,
							  const EscrowState *state, const char *request_id,
							  int64 max_input_tokens, int64 max_output_tokens);
extern const char *QuotaRefusal(const RequestTarget *target);
extern void QuotaRequireUsable(const RequestTarget *target);
extern void QuotaChoosePool(RequestTarget *target, const char *explicit_pool);
extern bool QuotaMemberUsageLocked(const RequestTarget *target, Credits *usage);
extern bool QuotaMemberLimitFits(const RequestTarget *target, Credits amount,
								 Credits *usage);
/* Does amount fit in the member limit beside a usage already read? */
extern bool QuotaUsageFits(const RequestTarget *target, Credits usage, Credits amount);
extern int	QuotaExpireHolds(const char *pool);

#endif							/* QUOTA_CHARGE_H */
