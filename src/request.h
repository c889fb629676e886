/*
 * request.h
 *		How a request finds its pool, and the checks every request makes (request.c).
 */
#ifndef QUOTA_REQUEST_H
#define QUOTA_REQUEST_H

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

extern const char *QuotaRefusal(const RequestTarget *target);
extern void QuotaRequireUsable(const RequestTarget *target);
extern void QuotaChoosePool(RequestTarget *target, const char *explicit_pool);
extern bool QuotaMemberUsageLocked(const RequestTarget *target, Credits *usage);
extern bool QuotaMemberLimitFits(const RequestTarget *target, Credits amount,
								 Credits *usage);
/* Does amount fit in the member limit beside a usage already read? */
extern bool QuotaUsageFits(const RequestTarget *target, Credits usage, Credits amount);

#endif							/* QUOTA_REQUEST_H */
