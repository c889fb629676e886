/*
 * rowtype.h
 *		The row types quota's functions return (rowtype.c).
 */
#ifndef QUOTA_ROWTYPE_H
#define QUOTA_ROWTYPE_H

#include "fmgr.h"
#include "access/tupdesc.h"

extern TupleDesc QuotaResultDesc(FunctionCallInfo fcinfo);

#endif							/* QUOTA_ROWTYPE_H */
