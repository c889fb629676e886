/*
 * refusals.h
 *		Refused requests counted in shared memory (refusals.c).
 */
#ifndef QUOTA_REFUSALS_H
#define QUOTA_REFUSALS_H

#include "fmgr.h"
#include "storage/lwlock.h"

extern Size RefusalShmemSize(void);
extern void RefusalShmemAttach(LWLock *lock);
extern void RefusalNote(const char *user_id, const char *pool);
extern Datum RefusalCounted(PGFunction function, FunctionCallInfo fcinfo);
extern long RefusalEntriesUsed(void);

#endif							/* QUOTA_REFUSALS_H */
