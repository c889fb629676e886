/*
 * reserve.h
 *		Reservations: quota_reserve, quota_release, expiry of holds (reserve.c).
 */
#ifndef QUOTA_RESERVE_H
#define QUOTA_RESERVE_H

#include "fmgr.h"

extern int	QuotaExpireHolds(const char *pool);
extern Datum quota_expire_holds(PG_FUNCTION_ARGS);
extern Datum quota_release(PG_FUNCTION_ARGS);
extern Datum quota_reserve(PG_FUNCTION_ARGS);

#endif							/* QUOTA_RESERVE_H */
