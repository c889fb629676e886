/*
 * uninstall.c
 *		DROP EXTENSION quota removes the pg_cron job it scheduled.
 *
 * pg_cron's job table is not part of quota, so dropping the extension does
 * not drop its row.  An event trigger of the extension fires at the start of
 * every DROP EXTENSION and calls quota__drop_starting(); calling it loads
 * this library, whose object access hook is then in place while the
 * command deletes its objects.  When the object deleted is quota's own
 * extension, the hook deletes the job named quota-maintenance of this
 * database in the same transaction, so a rolled-back DROP keeps it.  The
 * event trigger itself is one of the extension's objects and goes with it.
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "quota.h"
#include "uninstall.h"

PG_FUNCTION_INFO_V1(quota_drop_starting);

static object_access_hook_type prev_object_access_hook = NULL;

/* Delete this database's quota-maintenance job, if pg_cron's table is there. */
static void
UnscheduleMaintenance(void)
{
	Oid			cron = get_namespace_oid("cron", true);
	int			rc;

	/* pg_cron may be gone, or going in the same DROP EXTENSION */
	if (!OidIsValid(get_extension_oid("pg_cron", true)) || !OidIsValid(cron) ||
		!OidIsValid(get_relname_relid("job", cron)))
		return;
	SPI_connect();
	rc = SPI_execute("DELETE FROM cron.job "
					 "WHERE jobname OPERATOR(pg_catalog.=) 'quota-maintenance' "
					 "AND database OPERATOR(pg_catalog.=) pg_catalog.current_database()",
					 false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "quota: could not remove the job quota-maintenance: %s",
			 SPI_result_code_string(rc));
	SPI_finish();
}

/* Object access hook: the drop of quota's extension takes its job along. */
static void
QuotaObjectAccess(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_DROP && classId == ExtensionRelationId &&
		objectId == get_extension_oid("quota", true))
		UnscheduleMaintenance();
}

/* Install the object access hook (from _PG_init). */
void
UninstallInit(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = QuotaObjectAccess;
}

/*
 * SQL: quota._drop_starting() -> event_trigger.  Does nothing itself:
 * being called loads the library, and with it the hook above.
 */
Datum
quota_drop_starting(PG_FUNCTION_ARGS)
{
	PG_RETURN_NULL();
}
