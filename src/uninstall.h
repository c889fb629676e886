/*
 * uninstall.h
 *		DROP EXTENSION takes the pg_cron job along (uninstall.c).
 */
#ifndef QUOTA_UNINSTALL_H
#define QUOTA_UNINSTALL_H

#include "fmgr.h"

extern void UninstallInit(void);
extern Datum quota_drop_starting(PG_FUNCTION_ARGS);

#endif							/* QUOTA_UNINSTALL_H */
