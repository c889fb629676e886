/*
 * quota.c
 *		Module entry point: the quota.* settings, and the start of shared
 *		memory (shmem.c), transaction callbacks (xact.c) and hooks.
 */
#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "relation.h"
#include "invalidation.h"
#include "quota.h"
#include "settings.h"
#include "shmem.h"
#include "uninstall.h"
#include "xact.h"

PG_MODULE_MAGIC_EXT(.name = "quota", .version = QUOTA_VERSION);


void		_PG_init(void);

/* Define the settings and, when preloaded, ask for shared memory. */
void
_PG_init(void)
{
	QuotaDefineSettings();

	QuotaShmemInit();
	QuotaXactInit();
	InvalidationInit();
	QuotaRelationInit();
	UninstallInit();
}
