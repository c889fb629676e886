/*
 * rate_window.h
 *		The rate windows in shared memory (rate_window.c).
 */
#ifndef QUOTA_RATE_WINDOW_H
#define QUOTA_RATE_WINDOW_H

#include "access/xact.h"
#include "storage/lwlock.h"

#define RATE_SLOTS			61	/* one-second buckets: a window of 60 s and the current second */

/*
 * A slot's link to its rate window: in the pool slot (escrow.c) and the
 * member slot (member_caps.c), read under the windows' lock shared, written
 * under it exclusive (rate_window.c).
 */
typedef struct RateLink
{
	int32		block;			/* -1: none */
	uint32		stamp;			/* the window's stamp when it was linked */
} RateLink;

#define RateLinkInit(link)	((link)->block = -1, (link)->stamp = 0)

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

/* An admission of the shared windows (RateWindowAdmit). */
typedef enum RateOutcome
{
	RATE_FITS,					/* admitted (or, not counting, would be) */
	RATE_REFUSED,				/* a limit refuses: see the verdict */
	RATE_TABLE					/* table mode: decide from quota.rate_window */
} RateOutcome;

/* One second of a counter's window (RateWindowSeconds). */
typedef struct RateSecond
{
	int32		second;			/* seconds since 2000-01-01 */
	int32		requests;
	int64		tokens;
} RateSecond;

extern Size RateShmemSize(void);
extern void RateShmemAttach(LWLock *lock);
extern void RateXactEvent(XactEvent event);
extern void RateSubXactEvent(SubXactEvent event);
extern bool RateWindowsReady(void);
extern int128 RateNeed(const RateRule *rule, int64 requests, int128 total, int64 tokens,
					   RateVerdict *v);
extern RateOutcome RateWindowAdmit(RateLink *const *links, const RateRule *rules,
								   int n, int64 tokens, bool count, RateVerdict *v);
extern void RateWindowTableAdmission(int32 now_s);
extern int	RateWindowSeconds(const RateLink *link, int32 now_s, RateSecond *out);
extern void RateLinksLock(void);
extern bool RateLinkActive(const RateLink *link, int32 now_s);
extern void RateLinksUnlock(void);
extern long RateEntriesUsed(void);

#endif							/* QUOTA_RATE_WINDOW_H */
