/*
 * profile.c
 *		A user as the routing rules see them, read by index probes: the
 *		last switch, the groups, and whether the user's pools follow from
 *		their groups alone (no member rows, no pools owned); and a pool's
 *		own configuration.
 *
 * This runs once per user (or pool) and connection (the result is cached
 * in route.c), so with thousands of users or personal pools it is on the
 * hot path; one probe of each table costs a fraction of one SPI statement.
 * The probes share one snapshot, taken as an SPI statement would take it.
 */
#include "postgres.h"

#include "compat.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "direct.h"
#include "pools.h"
#include "profile.h"

/* A column of the slot's row by name; *isnull for NULL. */
static Datum
Column(Relation rel, TupleTableSlot *slot, const char *name, bool *isnull)
{
	return slot_getattr(slot, QuotaColumnRequired(rel, name), isnull);
}

/* A text column of the slot's row as a C string, or NULL. */
static char *
ColumnText(Relation rel, TupleTableSlot *slot, const char *name)
{
	return QuotaSlotText(slot, QuotaColumnRequired(rel, name));
}

/* users row: the groups, as text[] input. */
static bool
VisitUser(Relation rel, TupleTableSlot *slot, void *arg)
{
	UserProfile *profile = arg;
	bool		isnull;
	Datum		groups = Column(rel, slot, "groups", &isnull);
	AttrNumber	fallbacks = QuotaColumn(rel, "fallback_pools");

	profile->groups = isnull ? NULL : OidOutputFunctionCall(F_ARRAY_OUT, groups);
	/* 0.3 (fallback pools); an older install has no such column */
	if (fallbacks != InvalidAttrNumber)
	{
		(void) slot_getattr(slot, fallbacks, &isnull);
		profile->has_fallbacks = !isnull;
	}
	return false;
}

/* user_state row: the last switch. */
static bool
VisitState(Relation rel, TupleTableSlot *slot, void *arg)
{
	((UserProfile *) arg)->switched = ColumnText(rel, slot, "active_pool");
	return false;
}

/* Any row at all. */
static bool
VisitAny(Relation rel, TupleTableSlot *slot, void *arg)
{
	return false;
}

/* pool_defs rows owned: the personal pool, enabled first, then by name (C). */
static bool
VisitOwned(Relation rel, TupleTableSlot *slot, void *arg)
{
	UserProfile *profile = arg;
	char	   *kind = ColumnText(rel, slot, "kind");
	char	   *pool;
	bool		isnull;
	bool		enabled;

	if (kind == NULL || strcmp(kind, "personal") != 0)
		return true;
	pool = ColumnText(rel, slot, "pool");
	enabled = DatumGetBool(Column(rel, slot, "enabled", &isnull));
	if (profile->personal == NULL ||
		(enabled && !profile->personal_enabled) ||
		(enabled == profile->personal_enabled && strcmp(pool, profile->personal) < 0))
	{
		profile->personal = pool;
		profile->personal_enabled = enabled;
	}
	return true;
}

/*
 * Read the user's profile into *profile (palloc'd in the current context);
 * false if the user is not in quota.users.
 */
bool
QuotaReadProfile(const char *user_id, UserProfile *profile)
{
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	bool		exists;

	memset(profile, 0, sizeof(UserProfile));
	exists = QuotaForEachRow(QR_USERS, QR_USERS_PKEY, user_id, snapshot,
							 VisitUser, profile) > 0;
	if (exists)
	{
		QuotaForEachRow(QR_USER_STATE, QR_USER_STATE_PKEY, user_id, snapshot,
						VisitState, profile);
		profile->member_rows = QuotaForEachRow(QR_POOL_MEMBERS, QR_POOL_MEMBERS_USER,
											   user_id, snapshot, VisitAny, NULL) > 0;
		profile->owns_pools = QuotaForEachRow(QR_POOL_DEFS, QR_POOL_DEFS_OWNER,
											  user_id, snapshot, VisitOwned, profile) > 0;
	}
	UnregisterSnapshot(snapshot);
	return exists;
}

/* pool_defs row: the pool's own configuration, no user's role in it. */
static bool
VisitPool(Relation rel, TupleTableSlot *slot, void *arg)
{
	PoolInfo   *info = arg;
	bool		isnull;
	Datum		d;
	AttrNumber	attnum;

	info->pool_id = DatumGetInt64(Column(rel, slot, "pool_id", &isnull));
	info->pool = ColumnText(rel, slot, "pool");
	info->kind = ColumnText(rel, slot, "kind");
	info->owner = ColumnText(rel, slot, "owner");
	info->allowance = DatumGetCredits(Column(rel, slot, "allowance", &isnull));
	info->enabled = DatumGetBool(Column(rel, slot, "enabled", &isnull));
	d = Column(rel, slot, "next_reset_at", &isnull);
	info->has_next_reset = !isnull;
	info->next_reset_at = isnull ? 0 : DatumGetTimestampTz(d);
	info->period_start = DatumGetTimestampTz(Column(rel, slot, "period_start", &isnull));
	d = Column(rel, slot, "member_limit", &isnull);
	info->has_member_limit = !isnull;
	info->member_limit = isnull ? 0 : DatumGetCredits(d);
	d = Column(rel, slot, "models", &isnull);
	info->models = isnull ? (Datum) 0 : PointerGetDatum(DatumGetArrayTypePCopy(d));
	info->role = NULL;
	info->period_funds = DatumGetCredits(Column(rel, slot, "period_funds", &isnull));
	d = Column(rel, slot, "warn_at", &isnull);
	info->warn_at = PointerGetDatum(DatumGetArrayTypePCopy(d));
	/* 0.3 (credit grants); an older install has no such column */
	attnum = QuotaColumn(rel, "next_expiry_at");
	d = attnum == InvalidAttrNumber ? (Datum) 0 : slot_getattr(slot, attnum, &isnull);
	info->has_next_expiry = attnum != InvalidAttrNumber && !isnull;
	info->next_expiry_at = info->has_next_expiry ? DatumGetTimestampTz(d) : 0;
	return false;
}

/*
 * Read a pool's own configuration (role NULL, the pool's member limit)
 * into *info; false if there is no such pool.
 */
bool
QuotaReadPool(const char *pool, PoolInfo *info)
{
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	bool		exists;

	memset(info, 0, sizeof(PoolInfo));
	exists = QuotaForEachRow(QR_POOL_DEFS, QR_POOL_DEFS_PKEY, pool, snapshot,
							 VisitPool, info) > 0;
	UnregisterSnapshot(snapshot);
	return exists;
}

/* pool_defs row: its period_start. */
static bool
VisitPeriod(Relation rel, TupleTableSlot *slot, void *arg)
{
	bool		isnull;

	*(TimestampTz *) arg = DatumGetTimestampTz(Column(rel, slot, "period_start", &isnull));
	return false;
}

/*
 * The pool's period_start as a snapshot taken now sees it, this
 * transaction's own changes included (the member limit, request.c); false
 * if there is no such pool.
 */
bool
QuotaReadPeriodStart(const char *pool, TimestampTz *start)
{
	Snapshot	snapshot;
	bool		exists;

	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	exists = QuotaForEachRow(QR_POOL_DEFS, QR_POOL_DEFS_PKEY, pool, snapshot,
							 VisitPeriod, start) > 0;
	UnregisterSnapshot(snapshot);
	return exists;
}
