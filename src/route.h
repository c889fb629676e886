/*
 * route.h
 *		Per-backend cache of users and the pools they see (route.c).
 */
#ifndef QUOTA_ROUTE_H
#define QUOTA_ROUTE_H

#include "pools.h"

extern bool RouteLookupUser(const char *user_id, UserProfile *profile);
extern void RouteStoreUser(const char *user_id, const UserProfile *profile);
extern bool RouteLookupText(char kind, const char *key1, const char *key2,
							char **value);
extern void RouteStoreText(char kind, const char *key1, const char *key2,
						   const char *value);
extern bool RouteLookupPool(const char *user_id, const char *pool, PoolInfo *info,
							bool *explicit_choice);
extern void RouteStorePool(const char *user_id, const char *pool,
						   const PoolInfo *info, bool explicit_choice);

#endif							/* QUOTA_ROUTE_H */
