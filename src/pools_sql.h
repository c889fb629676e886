/*
 * pools_sql.h
 *		The SQL entry points of pools (pools_sql.c).
 */
#ifndef QUOTA_POOLS_SQL_H
#define QUOTA_POOLS_SQL_H

#include "fmgr.h"

extern Datum quota_pool_money(PG_FUNCTION_ARGS);
extern Datum quota_post(PG_FUNCTION_ARGS);
extern Datum quota_post_grant(PG_FUNCTION_ARGS);
extern Datum quota_switch(PG_FUNCTION_ARGS);
extern Datum quota_active_pool(PG_FUNCTION_ARGS);

#endif							/* QUOTA_POOLS_SQL_H */
