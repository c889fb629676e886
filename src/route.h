/*
 * route.h
 *		Per-backend cache of users and the pools they see (route.c).
 */
#ifndef QUOTA_ROUTE_H
#define QUOTA_ROUTE_H

#include "pools.h"

extern void RouteInit(void);
extern bool RouteLookupUser(const char *user_id, char **switched);
extern void RouteStoreUser(const char *user_id, const char *switched);
extern bool RouteLookupPool(const char *user_id, const char *pool, PoolInfo *info,
							bool *explicit_choice);
extern void RouteStorePool(const char *user_id, const char *pool,
						   const PoolInfo *info, bool explicit_choice);

#endif							/* QUOTA_ROUTE_H */
