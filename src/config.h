/*
 * config.h
 *		The one per-backend configuration cache (config.c).
 */
#ifndef QUOTA_CONFIG_H
#define QUOTA_CONFIG_H

#include "credits.h"
#include "escrow.h"
#include "rate_window.h"

/* A cap of a pool: per window, member scope or pool scope. */
typedef struct PoolCap
{
	char	   *per;			/* day, week or month */
	bool		pool_scope;
	Credits		amount;
	char	   *timezone;
} PoolCap;

/* A pool's configuration that is not in its PoolInfo: caps and rate limits. */
typedef struct ConfigPool
{
	int64		pool_id;		/* hash key */
	bool		caps_known;		/* caps read */
	int			ncaps;
	PoolCap		caps[2 * ESCROW_WINDOWS];	/* per window, member then pool */
	bool		rules_known;	/* rate limits read */
	int			nrules;
	RateRule	rules[2];		/* the pool's limit first */
} ConfigPool;

/* Kinds of configuration read for every pool at once. */
typedef enum ConfigKind
{
	CONFIG_CAPS,
	CONFIG_RULES,
	CONFIG_KINDS
} ConfigKind;

extern bool ConfigCacheUsable(void);
extern bool ConfigCacheStorable(void);
extern uint64 ConfigCacheEpoch(void);
extern MemoryContext ConfigCacheContext(void);
extern ConfigPool *ConfigCachePool(int64 pool_id, bool create);
extern bool ConfigCacheComplete(ConfigKind kind);
extern void ConfigCacheSetComplete(ConfigKind kind);

#endif							/* QUOTA_CONFIG_H */
