/*
 * cost.h
 *		quota_cost(): the price of a request (cost.c).
 */
#ifndef QUOTA_COST_H
#define QUOTA_COST_H

#include "fmgr.h"

extern Datum quota_cost(PG_FUNCTION_ARGS);

#endif							/* QUOTA_COST_H */
