/*
 * invalidation.h
 *		When quota's configuration changed, told by PostgreSQL's own
 *		invalidation messages (invalidation.c).
 */
#ifndef QUOTA_INVALIDATION_H
#define QUOTA_INVALIDATION_H

#include "access/xact.h"
#include "utils/relcache.h"

extern Size InvalidationShmemSize(void);
extern void InvalidationShmemAttach(void);
extern void InvalidationInit(void);
extern void QuotaConfigChanged(Relation rel);
extern bool QuotaConfigDirty(void);
extern void InvalidationXactEvent(XactEvent event);
extern uint64 QuotaConfigGeneration(void);
extern uint64 QuotaSharedConfigStamp(void);

#endif							/* QUOTA_INVALIDATION_H */
