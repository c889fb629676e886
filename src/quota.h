/*
 * quota.h
 *		Shared declarations of the quota extension: SQLSTATEs and GUCs
 *		(version differences are in compat.h).
 */
#ifndef QUOTA_H
#define QUOTA_H

#include "utils/elog.h"

#ifndef HAVE_INT128
#error "quota requires a compiler with 128-bit integer support"
#endif

/* Custom SQLSTATEs of the contract (class QU). */
#define ERRCODE_QUOTA_INSUFFICIENT		MAKE_SQLSTATE('Q','U','0','0','1')
#define ERRCODE_QUOTA_MODEL_NOT_PERMITTED	MAKE_SQLSTATE('Q','U','0','0','2')
#define ERRCODE_QUOTA_POOL_ACCESS		MAKE_SQLSTATE('Q','U','0','0','3')
#define ERRCODE_QUOTA_POOL_DISABLED		MAKE_SQLSTATE('Q','U','0','0','4')
#define ERRCODE_QUOTA_REQUEST_REUSED	MAKE_SQLSTATE('Q','U','0','0','5')
#define ERRCODE_QUOTA_RATE_LIMITED		MAKE_SQLSTATE('Q','U','0','0','6')


/* Raise 22004 naming the argument when a required argument is NULL. */
#define QUOTA_REQUIRE_ARG(fcinfo, n, name) \
	do { \
		if (PG_ARGISNULL(n)) \
			ereport(ERROR, \
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), \
					 errmsg("argument \"%s\" must not be null", (name)), \
					 errhint("Pass a value for \"%s\".", (name)))); \
	} while (0)

#endif							/* QUOTA_H */
