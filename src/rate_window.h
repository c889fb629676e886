/*
 * rate_window.h
 *		The rate windows in shared memory (rate_window.c).
 */
#ifndef QUOTA_RATE_WINDOW_H
#define QUOTA_RATE_WINDOW_H

#include "access/xact.h"
#include "storage/lwlock.h"

#define RATE_SLOTS			61	/* one-second buckets: a window of 60 s and the current second */

/* One limit of a pool. */
typedef struct RateRule
{
	bool		pool_scope;
	int32		requests;		/* per minute; 0: none */
	int64		tokens;			/* per minute; 0: none */
} RateRule;

/* The outcome of a comparison with the limits. */
typedef struct RateVerdict
{
	RateRule	rule;			/* the limit that refuses */
	bool		by_tokens;		/* ... its tokens (else its requests) */
	bool		never;			/* the request alone is over the limit */
	int64		wait_us;		/* until it would fit */
} RateVerdict;

extern Size RateShmemSize(void);
extern void RateShmemAttach(LWLock *lock);
extern void RateXactEvent(XactEvent event);
extern void RateSubXactEvent(SubXactEvent event);
extern bool RateWindowsReady(void);
extern int128 RateNeed(const RateRule *rule, int64 requests, int128 total, int64 tokens,
					   RateVerdict *v);
extern bool RateWindowAdmit(int64 pool_id, const char *user_id, const RateRule *rules,
							int n, int64 tokens, bool count, RateVerdict *v);
extern long RateEntriesUsed(void);

#endif							/* QUOTA_RATE_WINDOW_H */
