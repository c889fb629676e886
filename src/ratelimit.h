/*
 * ratelimit.h
 *		Requests and tokens per minute (ratelimit.c) and the count of refused
 *		requests (refusals.c), both kept in shared memory.
 */
#ifndef QUOTA_RATELIMIT_H
#define QUOTA_RATELIMIT_H

#include "fmgr.h"

#include "pools.h"

extern void RateLimitInit(void);
extern void RateLimitAdmit(const PoolInfo *pool, const char *user_id,
						   int64 tokens);
extern const char *RateLimitCheck(const PoolInfo *pool, const char *user_id,
								  int64 *wait_us);

extern void RefusalInit(void);
extern void RefusalNote(const char *user_id, const char *pool);
extern Datum RefusalCounted(PGFunction function, FunctionCallInfo fcinfo);

/* Did this transaction change rate limits or caps (not yet committed)? */
extern bool LimitsChangedInTransaction(void);

/* The tokens a request counts against a rate limit (saturating). */
extern int64 RateLimitTokens(int64 in, int64 cached, int64 out);

#endif							/* QUOTA_RATELIMIT_H */
