/*
 * profile.h
 *		Users' profiles and pools read from the tables without SPI (profile.c).
 */
#ifndef QUOTA_PROFILE_H
#define QUOTA_PROFILE_H

#include "pools.h"

extern bool QuotaReadProfile(const char *user_id, UserProfile *profile);
extern bool QuotaReadPool(const char *pool, PoolInfo *info);
extern bool QuotaReadPeriodStart(const char *pool, TimestampTz *start);

#endif							/* QUOTA_PROFILE_H */
