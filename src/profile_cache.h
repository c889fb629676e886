/*
 * profile_cache.h
 *		User profiles kept in shared memory for every backend
 *		(profile_cache.c).
 */
#ifndef QUOTA_PROFILE_CACHE_H
#define QUOTA_PROFILE_CACHE_H

#include "storage/lwlock.h"

#include "pools.h"

extern Size ProfileShmemSize(void);
extern void ProfileShmemAttach(LWLock *lock);
extern bool ProfileCacheLookup(const char *user_id, uint64 generation,
							   UserProfile *profile);
extern bool ProfileCacheStore(const char *user_id, uint64 generation,
							  const UserProfile *profile);
extern long ProfileEntriesUsed(void);

#endif							/* QUOTA_PROFILE_CACHE_H */
