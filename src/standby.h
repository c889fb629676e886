/*
 * standby.h
 *		quota on a hot standby: refusing writes and answering reads from
 *		the replayed tables (see standby.c).
 */
#ifndef QUOTA_STANDBY_H
#define QUOTA_STANDBY_H

#include "escrow.h"
#include "errors.h"
#include "pools.h"

extern void StandbyAsIfDue(const PoolInfo *info, EscrowState *state);

#endif							/* QUOTA_STANDBY_H */
