/*
 * errors.c
 *		Errors that every layer raises alike.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xlog.h"

#include "errors.h"

/* Raise 25006 when this server is a hot standby. */
void
QuotaRefuseOnStandby(const char *function)
{
	if (!RecoveryInProgress())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("cannot run \"%s\" on a hot standby", function),
			 errdetail("This server is a standby in recovery: quota's functions and views read the replicated data on it, and nothing can be charged, reserved or changed."),
			 errhint("Connect to the primary server.")));
}
