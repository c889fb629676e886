/*
 * ratelimit.h
 *		Requests and tokens per minute: the limits (ratelimit.c).
 */
#ifndef QUOTA_RATELIMIT_H
#define QUOTA_RATELIMIT_H

#include "access/xact.h"
#include "storage/lwlock.h"

#include "pools.h"

extern void RateLimitAdmit(const PoolInfo *pool, const char *user_id,
						   int64 tokens);
extern const char *RateLimitCheck(const PoolInfo *pool, const char *user_id,
								  int64 *wait_us);

/* The tokens a request counts against a rate limit (saturating). */
extern int64 RateLimitTokens(int64 in, int64 cached, int64 out);

#endif							/* QUOTA_RATELIMIT_H */
