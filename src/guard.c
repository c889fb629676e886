/*
 * guard.c
 *		What may write quota.ledger and quota.reservations (the checks; the
 *		trigger of rules 2 and 3 is in guard_trigger.c).
 *
 * quota writes a ledger row after the escrow (escrow.c) admitted its amount,
 * and a reservation row with its hold, so the figures stay exact only if
 * the row written is the row computed, and if no row enters the ledger
 * behind the escrow's back.  Hence three rules:
 *
 *	 1. A row trigger that may change or skip a row quota writes (a BEFORE
 *		INSERT or UPDATE row trigger that is not quota's own, enabled) or a
 *		rule on either table makes quota refuse to write it (55000), before
 *		the row exists; so does a missing or not always enabled guard (2).
 *		The check is cached per catalog version (direct.c).
 *		A write that nonetheless did not happen raises too (GuardNotWritten).
 *	 2. The trigger ledger_insert_guard (BEFORE INSERT, ENABLE ALWAYS, so
 *		session_replication_role does not silence it) lets a row into the
 *		ledger when quota's own code announced exactly that row (pool, kind,
 *		amount) with GuardExpect just before writing it.  The announcement
 *		lets one row in and is withdrawn after the write (also on error): a
 *		DBA's code that runs meanwhile (a column default, a constraint) can
 *		at most take the place of quota's row, which is then refused, so the
 *		statement fails and nothing is written.
 *	 3. Any other row is refused (42501), for every role, superusers
 *		included, except the load of a restore: with row_security off (as
 *		pg_dump's scripts and pg_restore run) into a ledger that held no row
 *		when the transaction loaded its first one.  Loaded rows are booked
 *		into the escrow like quota's own (credits at commit, debits at once),
 *		so balance = sum of the ledger holds in a running server too.
 *
 * A superuser can still switch the guard off (ALTER TABLE ... DISABLE
 * TRIGGER, ENABLE TRIGGER without ALWAYS, or DROP); quota then refuses to
 * write the ledger until it is enabled always again, and rows written
 * meanwhile are not in the balances until the next restart.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "guard.h"
#include "spi.h"

/* quota's own trigger functions, per catalog version (InvalidOid if absent). */
static Oid	append_only_fn = InvalidOid;
static Oid	ledger_guard_fn = InvalidOid;
static uint64 own_version = 0;

/* The catalog version at which each table's writers were last found sound. */
static uint64 writers_checked[QR_COUNT];

/* The row quota's own code is about to insert into the ledger. */
static struct
{
	bool		armed;
	const char *pool;
	const char *kind;
	Credits		amount;
} expected;


/* The OID of quota.<name>() (no arguments), or InvalidOid. */
static Oid
OwnFunction(const char *name)
{
	Oid			nsp = get_namespace_oid("quota", false);

	return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
						   CStringGetDatum(name),
						   PointerGetDatum(buildoidvector(NULL, 0)),
						   ObjectIdGetDatum(nsp));
}

/* Look quota's own trigger functions up again if the catalog may have changed. */
static void
OwnFunctions(void)
{
	if (own_version == QuotaCatalogVersion())
		return;
	append_only_fn = OwnFunction("_append_only");
	ledger_guard_fn = OwnFunction("_ledger_guard");	/* absent in 0.1 */
	own_version = QuotaCatalogVersion();
}

/*
 * Raise 55000 unless quota may write the table (rule 1 at the top): no
 * rule, no foreign enabled BEFORE INSERT or UPDATE row trigger, and on the
 * ledger the insert guard in place.  The caller holds RowExclusiveLock, so
 * no trigger can be added before its write; cached per catalog version.
 */
void
GuardCheckWriters(Relation rel, QuotaRelation table)
{
	TriggerDesc *td = rel->trigdesc;
	const char *name = RelationGetRelationName(rel);
	bool		guarded = false;

	if (writers_checked[table] == QuotaCatalogVersion())
		return;
	OwnFunctions();
	if (rel->rd_rules != NULL && rel->rd_rules->numLocks > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"quota.%s\" has rules", name),
				 errdetail("quota writes the rows of quota.%s itself, and a rule could change or skip them.",
						   name),
				 errhint("Drop the rules on quota.%s (pg_rules lists them).", name)));
	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (t->tgfoid == ledger_guard_fn && OidIsValid(ledger_guard_fn))
		{
			/* fires whatever session_replication_role says */
			guarded |= (table == QR_LEDGER && TRIGGER_FOR_ROW(t->tgtype) &&
						TRIGGER_FOR_BEFORE(t->tgtype) &&
						TRIGGER_FOR_INSERT(t->tgtype) &&
						t->tgenabled == TRIGGER_FIRES_ALWAYS);
			continue;
		}
		if (t->tgenabled == TRIGGER_DISABLED)
			continue;
		if (t->tgfoid == append_only_fn)
			continue;			/* only ever raises */
		if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_BEFORE(t->tgtype) ||
			!(TRIGGER_FOR_INSERT(t->tgtype) || TRIGGER_FOR_UPDATE(t->tgtype)))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("trigger \"%s\" on \"quota.%s\" may change the rows quota writes",
						t->tgname, name),
				 errdetail("A BEFORE row trigger can change or skip a row, but quota's balances count the row it computed."),
				 errhint("Drop the trigger, or make it an AFTER trigger.")));
	}
	if (table == QR_LEDGER && OidIsValid(ledger_guard_fn) && !guarded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("trigger \"ledger_insert_guard\" on \"quota.ledger\" is missing or not enabled always"),
				 errdetail("Without it, rows written into the ledger directly would bypass the balances."),
				 errhint("Enable it with ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_insert_guard.")));
	writers_checked[table] = QuotaCatalogVersion();
}

/* Raise 55000: quota's write of a row of relname did not happen. */
void
GuardNotWritten(const char *relname)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("row of \"quota.%s\" was not written", relname),
			 errdetail("A trigger or rule skipped the row that quota computed."),
			 errhint("Drop the BEFORE row triggers and rules that were added to quota.%s.",
					 relname)));
}

/*
 * Announce the one ledger row quota's own code inserts next (the strings
 * must live until GuardExpectDone, which the caller calls after the write,
 * also when it fails).
 */
void
GuardExpect(const char *pool, const char *kind, Credits amount)
{
	expected.pool = pool;
	expected.kind = kind;
	expected.amount = amount;
	expected.armed = true;
}

/* Withdraw the announcement, used or not. */
void
GuardExpectDone(void)
{
	expected.armed = false;
}

/*
 * Is this the row quota's own code announced (rule 2)?  If so, the
 * announcement is used up: it lets one row in.
 */
bool
GuardTakeExpected(const char *pool, const char *kind, Credits amount)
{
	if (!expected.armed || pool == NULL || kind == NULL ||
		strcmp(pool, expected.pool) != 0 || strcmp(kind, expected.kind) != 0 ||
		amount != expected.amount)
		return false;
	expected.armed = false;
	return true;
}
