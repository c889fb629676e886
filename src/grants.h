/*
 * grants.h
 *		Credit grants: the expirer's lock (grants.c).
 */
#ifndef QUOTA_GRANTS_H
#define QUOTA_GRANTS_H

#include "fmgr.h"

extern Datum quota_lock_grants(PG_FUNCTION_ARGS);

#endif							/* QUOTA_GRANTS_H */
