/*
 * member_caps.h
 *		Per-member counters in shared memory for member caps and member
 *		limits (member_caps.c).
 */
#ifndef QUOTA_MEMBER_CAPS_H
#define QUOTA_MEMBER_CAPS_H

#include "access/xact.h"
#include "datatype/timestamp.h"
#include "storage/lwlock.h"

#include "credits.h"
#include "escrow.h"
#include "rate_window.h"

extern Size MemberShmemSize(void);
extern void MemberShmemAttach(LWLock *lock);
extern void MemberXactEvent(XactEvent event);
extern void MemberSubXactEvent(SubXactEvent event);
extern long MemberEntriesUsed(void);
extern bool MemberCapsSpent(int64 pool_id, const char *pool, const char *user_id,
							const char *timezone, TimestampTz at,
							int128 *spent, bool *usable);
extern bool MemberPeriodUsed(int64 pool_id, const char *pool, const char *user_id,
							 const char *timezone, TimestampTz period_start,
							 int128 *used);
extern void MemberCapsRegister(int64 pool_id, const char *user_id,
							   const char *timezone, TimestampTz at,
							   Credits charge, Credits hold, Credits unhold);
extern RateLink *MemberRateLink(int64 pool_id, const char *user_id, bool create);
extern void MemberRateRelease(void);

#endif							/* QUOTA_MEMBER_CAPS_H */
