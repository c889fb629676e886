/*
 * profile_cache.c
 *		User profiles shared by every backend (shared memory), so that a
 *		connection's first charge for a user needs no look-ups either.
 *
 * The per-backend route cache (route.c) is empty in a new connection, and
 * a shared pool's users are many: a pool of connections that each see
 * thousands of students would read each student's profile (four index
 * probes) again in every connection, and fill (and so empty) their own
 * bounded caches.  Profiles read by one backend are kept here for all of
 * them, and only here; the backends' caches keep the few that do not fit.
 *
 * Entries are keyed by database, installation and user.  Consistency: an
 * entry carries the shared configuration stamp it was read under
 * (QuotaSharedConfigStamp, invalidation.c: the shared generation, or 0
 * while a change is being committed; route.c stores an entry only if the
 * stamp was the same non-zero value before and after reading); a look-up
 * uses it only while the stamp is still the same, so any committed change
 * to users or pools retires every entry at once, from before it becomes
 * visible, in every backend alike (the stamp holds no backend's own count,
 * so backends started at different times share the entries).  Profiles that do not fit (long names
 * or many groups) are left to the backends' caches.  When the table is
 * full, entries of older generations are swept; if none is old, an eighth
 * of the table is.
 *
 * Locking: one LWLock, shared to look up and exclusive to store or sweep.
 *
 * Not used on a hot standby: replay moves no generation, and the table
 * would outlive the recovery into the promoted server (standby.c).
 */
#include "postgres.h"

#include "compat.h"

#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "direct.h"
#include "profile_cache.h"
#include "quota.h"
#include "route.h"
#include "settings.h"
#include "shmem.h"

/*
 * Fixed fields, sized for the common case (an entry is about 0.36 kB);
 * profiles with longer values are kept by each backend instead (route.c).
 */
#define PROFILE_KEY_SIZE	64		/* user_id */
#define PROFILE_NAME_SIZE	64		/* pool names */
#define PROFILE_GROUPS_SIZE	128		/* the groups as text[] input */

/*
 * The key: a user of one database and one installation of quota (the OID
 * of quota.users changes when the extension is created again); zero-padded
 * and compared as bytes.
 */
typedef struct ProfileKey
{
	Oid			database;
	Oid			users;
	char		user_id[PROFILE_KEY_SIZE];
} ProfileKey;

/* A cached profile (strings empty when absent). */
typedef struct SharedProfile
{
	ProfileKey	key;
	uint64		generation;
	bool		has_switched;
	bool		has_groups;
	bool		has_personal;
	bool		member_rows;
	bool		owns_pools;
	bool		personal_enabled;
	bool		has_fallbacks;	/* a fallback list is set (fallback.c) */
	char		switched[PROFILE_NAME_SIZE];
	char		groups[PROFILE_GROUPS_SIZE];
	char		personal[PROFILE_NAME_SIZE];
} SharedProfile;

static HTAB *profile_hash = NULL;
static LWLock *profile_lock = NULL;

/* Shared memory of quota.max_users profiles (shmem.c). */
Size
ProfileShmemSize(void)
{
	if (quota_max_users <= 0)
		return 0;
	return hash_estimate_size(quota_max_users, sizeof(SharedProfile));
}

/* Create or attach to the profiles (shmem.c, under AddinShmemInitLock). */
void
ProfileShmemAttach(LWLock *lock)
{
	HASHCTL		info;

	if (quota_max_users <= 0)
		return;
	profile_lock = lock;
	info.keysize = sizeof(ProfileKey);
	info.entrysize = sizeof(SharedProfile);
	/*
	 * Bounded: every element is allocated here and HASH_FIXED_SIZE keeps the
	 * table from taking spare shared memory, so a full table makes
	 * HASH_ENTER_NULL fail and ProfileCacheStore sweeps.
	 */
	profile_hash = ShmemInitHash("quota user profiles", quota_max_users,
								 quota_max_users, &info,
								 HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* The key of user_id in this database; false if the id is too long. */
static bool
MakeKey(ProfileKey *key, const char *user_id)
{
	if (strlen(user_id) >= PROFILE_KEY_SIZE)
		return false;
	memset(key, 0, sizeof(ProfileKey));
	key->database = MyDatabaseId;
	key->users = QuotaRel(QR_USERS);
	strcpy(key->user_id, user_id);
	return true;
}

/* Copy a string into a fixed field; false if it does not fit. */
static bool
PutString(char *field, Size size, const char *value, bool *present)
{
	*present = (value != NULL);
	if (value == NULL)
	{
		field[0] = '\0';
		return true;
	}
	if (strlen(value) >= size)
		return false;
	strcpy(field, value);
	return true;
}

/*
 * The profile of user_id read under the given generation, if cached;
 * strings are palloc'd in the current context.
 */
bool
ProfileCacheLookup(const char *user_id, uint64 generation, UserProfile *profile)
{
	SharedProfile *e;
	ProfileKey	key;
	bool		hit = false;

	if (profile_hash == NULL || RecoveryInProgress() ||
		!MakeKey(&key, user_id))
		return false;
	LWLockAcquire(profile_lock, LW_SHARED);
	e = hash_search(profile_hash, &key, HASH_FIND, NULL);
	if (e != NULL && e->generation == generation)
	{
		profile->switched = e->has_switched ? pstrdup(e->switched) : NULL;
		profile->groups = e->has_groups ? pstrdup(e->groups) : NULL;
		profile->personal = e->has_personal ? pstrdup(e->personal) : NULL;
		profile->member_rows = e->member_rows;
		profile->owns_pools = e->owns_pools;
		profile->personal_enabled = e->personal_enabled;
		profile->has_fallbacks = e->has_fallbacks;
		hit = true;
	}
	LWLockRelease(profile_lock);
	return hit;
}

/*
 * Make room: drop the entries of other generations, or else an eighth of
 * the table (in hash order, which is arbitrary), so that more users than
 * entries share the table instead of emptying it over and over.
 */
static void
ProfileCacheSweep(uint64 generation)
{
	HASH_SEQ_STATUS seq;
	SharedProfile *e;
	long		removed = 0;
	long		enough = Max(hash_get_num_entries(profile_hash) / 8, 1);

	hash_seq_init(&seq, profile_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->generation != generation)
		{
			hash_search(profile_hash, &e->key, HASH_REMOVE, NULL);
			removed++;
		}
	if (removed > 0)
		return;
	hash_seq_init(&seq, profile_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		hash_search(profile_hash, &e->key, HASH_REMOVE, NULL);
		if (++removed >= enough)
		{
			hash_seq_term(&seq);
			break;
		}
	}
}

/*
 * Remember a profile read under the given generation; false if it was not
 * stored (no shared table, or the profile does not fit).
 */
bool
ProfileCacheStore(const char *user_id, uint64 generation, const UserProfile *profile)
{
	SharedProfile tmp;
	SharedProfile *e;
	ProfileKey	key;
	bool		found;

	if (profile_hash == NULL || RecoveryInProgress() ||
		!MakeKey(&key, user_id))
		return false;
	memset(&tmp, 0, sizeof(tmp));
	if (!PutString(tmp.switched, PROFILE_NAME_SIZE, profile->switched, &tmp.has_switched) ||
		!PutString(tmp.groups, PROFILE_GROUPS_SIZE, profile->groups, &tmp.has_groups) ||
		!PutString(tmp.personal, PROFILE_NAME_SIZE, profile->personal, &tmp.has_personal))
		return false;
	tmp.generation = generation;
	tmp.member_rows = profile->member_rows;
	tmp.owns_pools = profile->owns_pools;
	tmp.personal_enabled = profile->personal_enabled;
	tmp.has_fallbacks = profile->has_fallbacks;

	LWLockAcquire(profile_lock, LW_EXCLUSIVE);
	e = hash_search(profile_hash, &key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		ProfileCacheSweep(generation);
		e = hash_search(profile_hash, &key, HASH_ENTER_NULL, &found);
	}
	if (e != NULL)
	{
		/* every field but the key, which the hash table wrote */
		e->generation = tmp.generation;
		e->has_switched = tmp.has_switched;
		e->has_groups = tmp.has_groups;
		e->has_personal = tmp.has_personal;
		e->member_rows = tmp.member_rows;
		e->owns_pools = tmp.owns_pools;
		e->personal_enabled = tmp.personal_enabled;
		e->has_fallbacks = tmp.has_fallbacks;
		memcpy(e->switched, tmp.switched, PROFILE_NAME_SIZE);
		memcpy(e->groups, tmp.groups, PROFILE_GROUPS_SIZE);
		memcpy(e->personal, tmp.personal, PROFILE_NAME_SIZE);
	}
	LWLockRelease(profile_lock);
	return e != NULL;
}

/* Profiles in the shared table (every database), or -1 without it. */
long
ProfileEntriesUsed(void)
{
	return QuotaHashEntries(profile_hash, profile_hash ? profile_lock : NULL);
}
