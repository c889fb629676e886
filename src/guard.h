/*
 * guard.h
 *		What may write quota.ledger and quota.reservations (guard.c).
 */
#ifndef QUOTA_GUARD_H
#define QUOTA_GUARD_H

#include "utils/relcache.h"

#include "credits.h"
#include "direct.h"

extern void GuardCheckWriters(Relation rel, QuotaRelation table);
extern void GuardNotWritten(const char *relname);
extern void GuardExpect(const char *pool, const char *kind, Credits amount);
extern void GuardExpectDone(void);
extern bool GuardTakeExpected(const char *pool, const char *kind, Credits amount);

#endif							/* QUOTA_GUARD_H */
