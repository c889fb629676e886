/*
 * guard_trigger.h
 *		The trigger ledger_insert_guard (guard_trigger.c).
 */
#ifndef QUOTA_GUARD_TRIGGER_H
#define QUOTA_GUARD_TRIGGER_H

#include "fmgr.h"

extern Datum quota_ledger_guard(PG_FUNCTION_ARGS);

#endif							/* QUOTA_GUARD_TRIGGER_H */
