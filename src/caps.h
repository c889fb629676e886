/*
 * caps.h
 *		Spending caps per day, week and month (caps.c).
 */
#ifndef QUOTA_CAPS_H
#define QUOTA_CAPS_H

#include "request.h"

/* Advisory lock space of a pool's pool-scope caps. */
#define QUOTA_LOCK_CAPS		0x5158

extern void CapsAdmit(const RequestTarget *target, Credits amount, TimestampTz at,
					  bool hold);
extern void CapsSettle(const RequestTarget *target, TimestampTz at, Credits amount,
					   Credits freed);
extern void CapsRaiseRefused(const EscrowState *st, Credits amount);
extern const char *CapsRefusal(const RequestTarget *target);
extern const char *CapsTimezone(const PoolInfo *pool);

#endif							/* QUOTA_CAPS_H */
