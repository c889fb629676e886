/*
 * charge.h
 *		quota_charge() and quota_check() (charge.c).
 */
#ifndef QUOTA_CHARGE_H
#define QUOTA_CHARGE_H

#include "fmgr.h"

extern Datum quota_charge(PG_FUNCTION_ARGS);
extern Datum quota_check(PG_FUNCTION_ARGS);

#endif							/* QUOTA_CHARGE_H */
