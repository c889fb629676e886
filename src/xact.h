/*
 * xact.h
 *		quota's one transaction-callback dispatcher (xact.c).
 */
#ifndef QUOTA_XACT_H
#define QUOTA_XACT_H

extern void QuotaXactInit(void);

#endif							/* QUOTA_XACT_H */
