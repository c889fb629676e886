/*
 * shmem_usage.h
 *		quota.quota_shared_memory() (shmem_usage.c).
 */
#ifndef QUOTA_SHMEM_USAGE_H
#define QUOTA_SHMEM_USAGE_H

#include "fmgr.h"

extern Datum quota_shared_memory(PG_FUNCTION_ARGS);

#endif							/* QUOTA_SHMEM_USAGE_H */
