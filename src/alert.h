/*
 * alert.h
 *		Usage warnings of pools (alert.c).
 */
#ifndef QUOTA_ALERT_H
#define QUOTA_ALERT_H

#include "access/xact.h"

#include "pools.h"

extern void AlertXactEvent(XactEvent event);
extern void AlertSubXactEvent(SubXactEvent event, SubTransactionId mySubid);

extern void QuotaCheckAlerts(const PoolInfo *info, Credits live_balance,
							 const char *user_id, const char *request_id);

#endif							/* QUOTA_ALERT_H */
