/*
 * settings.h
 *		The quota.* settings and the sizes they give (settings.c).
 */
#ifndef QUOTA_SETTINGS_H
#define QUOTA_SETTINGS_H

#include "storage/lwlock.h"
#include "utils/hsearch.h"

extern int	quota_max_pools;
extern int	quota_max_members;
extern int	quota_max_users;
extern int	quota_route_cache_entries;
extern int	quota_max_reservation_ttl;

extern void QuotaDefineSettings(void);
extern bool QuotaPreloaded(void);
extern int	QuotaRateEntries(void);
extern int	QuotaRefusalEntries(void);
extern long QuotaHashEntries(HTAB *hash, LWLock *lock);

#endif							/* QUOTA_SETTINGS_H */
