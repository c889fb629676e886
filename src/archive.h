/*
 * archive.h
 *		quota_archive() and the append-only trigger (archive.c).
 */
#ifndef QUOTA_ARCHIVE_H
#define QUOTA_ARCHIVE_H

#include "fmgr.h"

extern Datum quota_append_only(PG_FUNCTION_ARGS);
extern Datum quota_archive(PG_FUNCTION_ARGS);

#endif							/* QUOTA_ARCHIVE_H */
