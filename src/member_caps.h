/*
 * member_caps.h
 *		Per-member window counters for member caps in shared memory
 *		(member_caps.c).
 */
#ifndef QUOTA_MEMBER_CAPS_H
#define QUOTA_MEMBER_CAPS_H

#include "datatype/timestamp.h"

#include "credits.h"
#include "escrow.h"

extern void MemberCapsInit(void);
extern bool MemberCapsSpent(int64 pool_id, const char *pool, const char *user_id,
							const char *timezone, TimestampTz at,
							int128 *spent, bool *usable);
extern void MemberCapsRegister(int64 pool_id, const char *user_id,
							   const char *timezone, TimestampTz at,
							   Credits charge, Credits hold, Credits unhold);

#endif							/* QUOTA_MEMBER_CAPS_H */
