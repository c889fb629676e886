/*
 * pools.c
 *		The pool domain: pool and user look-ups, access rules and active
 *		pools, shared by the charging functions (the SQL entry points are in
 *		pools_sql.c).
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guard.h"
#include "identity.h"
#include "ledger.h"
#include "pools.h"
#include "profile.h"
#include "route.h"
#include "quota.h"
#include "relation.h"
#include "standby.h"
#include "rowtype.h"

static QuotaQuery pool_exists_q = {
	"SELECT 1 FROM quota.pool_defs WHERE pool OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}
};

/* Raise 42704 unless the pool exists (caller is connected to SPI). */
void
QuotaCheckPoolExists(const char *pool)
{
	Datum		v[1] = {CStringGetTextDatum(pool)};
	bool		connected = (SPI_connect() == SPI_OK_CONNECT);

	if (QuotaExec(&pool_exists_q, v, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pool \"%s\" does not exist", pool),
				 errhint("Pools are listed in quota.pools.")));
	if (connected)
		SPI_finish();
}

static QuotaQuery auto_register_q = {
	"SELECT quota._auto_register($1)",
	1, {TEXTOID}
};

/*
 * Register an unknown user as quota_auto_register() set (caller is
 * connected to SPI); false when it is off.  Concurrent first calls for the
 * same user wait for each other on the users' primary key, so the user and
 * their personal pools are made once.
 */
static bool
AutoRegister(const char *user_id)
{
	Datum		v[1] = {CStringGetTextDatum(user_id)};
	bool		isnull;

	bool		registered;

	if (RecoveryInProgress() || QuotaExec(&auto_register_q, v, NULL, 1) != 1)
		return false;
	registered = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											1, &isnull)) && !isnull;
	/* the profile is read next: let its snapshot see the new row */
	CommandCounterIncrement();
	return registered;
}

/*
 * Raise 42704 unless the user is in the directory; with may_register (a
 * writing function) an unknown user is first registered if
 * quota_auto_register() is on.  Fills *profile (the last switch, groups,
 * and what decides whether the routing of the user depends on their groups
 * alone), read by index probes (profile.c).
 */
void
QuotaCheckUserExists(const char *user_id, UserProfile *profile, bool may_register)
{
	if (RouteLookupUser(user_id, profile))
		return;
	if (!QuotaReadProfile(user_id, profile) &&
		!(may_register && AutoRegister(user_id) && QuotaReadProfile(user_id, profile)))
	{
		if (QuotaIsServiceRole(user_id))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("user \"%s\" does not exist", user_id),
					 errdetail("No user_id was given, so the call acted for the calling role \"%s\" itself.",
							   user_id),
					 errhint("Pass the user_id argument (or SET LOCAL quota.user_id) for the user the request is for.")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("user \"%s\" does not exist", user_id),
				 errhint("Register users with quota_set_user().")));
	}
	RouteStoreUser(user_id, profile);
}

/*
 * One statement: a pool's configuration and the user ($2)'s role in it,
 * for the pool chosen by the WHERE clause.
 */
#define LOAD_POOL_SQL_AS(expiry, where) \
	"SELECT p.pool_id, p.pool, p.kind, p.owner, p.allowance, p.enabled, " \
	"       p.next_reset_at, p.period_start, " \
	"       coalesce(m.member_limit, p.member_limit), p.models, " \
	"       CASE WHEN p.owner OPERATOR(pg_catalog.=) $2 THEN 'owner' " \
	"            WHEN m.role IS NOT NULL THEN m.role " \
	"            WHEN EXISTS (SELECT FROM quota.pool_groups g, quota.users u " \
	"                         WHERE u.user_id OPERATOR(pg_catalog.=) $2 " \
	"                           AND g.pool OPERATOR(pg_catalog.=) p.pool " \
	"                           AND g.group_name OPERATOR(pg_catalog.=) ANY (u.groups)) " \
	"            THEN 'member' END, " \
	"       p.period_funds, p.warn_at, " expiry " " \
	"FROM quota.pool_defs p " \
	"LEFT JOIN quota.pool_members m ON m.pool OPERATOR(pg_catalog.=) p.pool " \
	"     AND m.user_id OPERATOR(pg_catalog.=) $2 " \
	"WHERE " where
/* 0.3: the earliest expiry of a live credit grant (grants.c) */
#define LOAD_POOL_SQL(where) LOAD_POOL_SQL_AS("p.next_expiry_at", where)
/* an older install run by this library has no credit grants */
#define LOAD_POOL_SQL_02(where) LOAD_POOL_SQL_AS("NULL::pg_catalog.timestamptz", where)

static void FillPool(PoolInfo *info);

static QuotaQuery load_pool_q = {
	LOAD_POOL_SQL("p.pool OPERATOR(pg_catalog.=) $1"),
	2, {TEXTOID, TEXTOID}
};
static QuotaQuery load_pool_02_q = {
	LOAD_POOL_SQL_02("p.pool OPERATOR(pg_catalog.=) $1"),
	2, {TEXTOID, TEXTOID}
};

/* Does the installed schema have credit grants (0.3)? */
static bool
HaveGrants(void)
{
	return get_attnum(QuotaRel(QR_POOL_DEFS), "next_expiry_at") != InvalidAttrNumber;
}

/*
 * Load a pool and the user's role in it; false when the pool does not exist.
 * Strings live in the SPI procedure context: use them before SPI_finish.
 */
bool
QuotaLoadPool(const char *pool, const char *user_id, PoolInfo *info)
{
	Datum		v[2] = {CStringGetTextDatum(pool), CStringGetTextDatum(user_id)};

	memset(info, 0, sizeof(PoolInfo));
	if (RouteLookupPool(user_id, pool, info, NULL))
		return true;
	if (QuotaExec(HaveGrants() ? &load_pool_q : &load_pool_02_q, v, NULL, 1) == 0)
		return false;
	FillPool(info);
	RouteStorePool(user_id, pool, info, false);
	return true;
}

/*
 * Load a pool's own configuration (no user's role: role NULL, the pool's
 * member limit) by an index probe, cached under the empty user id, which
 * no user has; false when the pool does not exist.
 */
bool
QuotaLoadPoolOwn(const char *pool, PoolInfo *info)
{
	memset(info, 0, sizeof(PoolInfo));
	if (RouteLookupPool("", pool, info, NULL))
		return true;
	if (!QuotaReadPool(pool, info))
		return false;
	RouteStorePool("", pool, info, false);
	return true;
}

/* Fill a PoolInfo from the first row of a LOAD_POOL_SQL result. */
static void
FillPool(PoolInfo *info)
{
	bool		isnull;
	Datum		d;

	info->pool_id = DatumGetInt64(QuotaGetDatum(0, 1, &isnull));
	info->pool = QuotaGetText(0, 2);
	info->kind = QuotaGetText(0, 3);
	info->owner = QuotaGetText(0, 4);
	info->allowance = DatumGetCredits(QuotaGetDatum(0, 5, &isnull));
	info->enabled = DatumGetBool(QuotaGetDatum(0, 6, &isnull));
	d = QuotaGetDatum(0, 7, &isnull);
	info->has_next_reset = !isnull;
	info->next_reset_at = isnull ? 0 : DatumGetTimestampTz(d);
	info->period_start = DatumGetTimestampTz(QuotaGetDatum(0, 8, &isnull));
	d = QuotaGetDatum(0, 9, &isnull);
	info->has_member_limit = !isnull;
	info->member_limit = isnull ? 0 : DatumGetCredits(d);
	d = QuotaGetDatum(0, 10, &isnull);
	info->models = isnull ? (Datum) 0 : PointerGetDatum(DatumGetArrayTypePCopy(d));
	info->role = QuotaGetText(0, 11);
	info->period_funds = DatumGetCredits(QuotaGetDatum(0, 12, &isnull));
	info->warn_at = PointerGetDatum(DatumGetArrayTypePCopy(QuotaGetDatum(0, 13, &isnull)));
	d = QuotaGetDatum(0, 14, &isnull);
	info->has_next_expiry = !isnull;
	info->next_expiry_at = isnull ? 0 : DatumGetTimestampTz(d);
}

/* Does the pool's model list permit the model (NULL list: every model)? */
bool
QuotaPoolPermits(const PoolInfo *info, const char *model)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (info->models == (Datum) 0)
		return true;
	arr = DatumGetArrayTypeP(info->models);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), model) == 0)
			return true;
	return false;
}

/* The default pool ($2's personal pool, else the first usable shared one), loaded. */
#define DEFAULT_POOL_WHERE "p.pool OPERATOR(pg_catalog.=) (" \
				  "SELECT u.pool FROM quota._usable_pools($2) u " \
				  "JOIN quota.pool_defs d ON d.pool OPERATOR(pg_catalog.=) u.pool " \
				  "ORDER BY NOT (d.kind OPERATOR(pg_catalog.=) 'personal' " \
				  "              AND d.owner OPERATOR(pg_catalog.=) $2), " \
				  "         d.kind OPERATOR(pg_catalog.<>) 'shared', " \
				  "         NOT d.enabled, u.pool COLLATE \"C\" LIMIT 1) " \
				  "AND $1 IS NOT NULL"
static QuotaQuery default_pool_q = {
	LOAD_POOL_SQL(DEFAULT_POOL_WHERE),
	2, {TEXTOID, TEXTOID}
};
static QuotaQuery default_pool_02_q = {
	LOAD_POOL_SQL_02(DEFAULT_POOL_WHERE),
	2, {TEXTOID, TEXTOID}
};

/* The same choice for a user who has only groups ($1, text[] input). */
static QuotaQuery group_default_q = {
	"SELECT g.pool FROM quota.pool_groups g "
	"JOIN quota.pool_defs d ON d.pool OPERATOR(pg_catalog.=) g.pool "
	"WHERE g.group_name OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[]) "
	"ORDER BY d.kind OPERATOR(pg_catalog.<>) 'shared', NOT d.enabled, "
	"         g.pool COLLATE \"C\" LIMIT 1",
	1, {TEXTOID}
};

/* Is the pool ($1) granted to one of the groups ($2, text[] input)? */
static QuotaQuery group_grant_q = {
	"SELECT FROM quota.pool_groups g WHERE g.pool OPERATOR(pg_catalog.=) $1 "
	"AND g.group_name OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[])",
	2, {TEXTOID, TEXTOID}
};

/*
 * Does the user's role follow from their groups alone?  True unless they
 * are listed in quota.pool_members or own a pool; then what holds for one
 * student holds for every student, and is cached once for all of them.
 */
static bool
RoutedByGroups(const UserProfile *profile)
{
	return profile != NULL && profile->groups != NULL &&
		!profile->member_rows && !profile->owns_pools;
}

/* Is the pool granted to one of the groups (cached per set of groups)? */
static bool
GroupsGranted(const char *groups, const char *pool)
{
	char	   *granted;
	Datum		v[2];

	if (RouteLookupText('g', groups, pool, &granted))
		return granted != NULL;
	v[0] = CStringGetTextDatum(pool);
	v[1] = CStringGetTextDatum(groups);
	granted = QuotaExec(&group_grant_q, v, NULL, 1) == 1 ? "t" : NULL;
	RouteStoreText('g', groups, pool, granted);
	return granted != NULL;
}

/*
 * Load a pool as the user sees it, like QuotaLoadPool; for a user routed by
 * groups alone, from the pool's own (shared) cache entry and their groups.
 */
bool
QuotaLoadPoolAs(const char *pool, const char *user_id,
				const UserProfile *profile, PoolInfo *info)
{
	if (!RoutedByGroups(profile))
		return QuotaLoadPool(pool, user_id, info);
	if (!QuotaLoadPoolOwn(pool, info))
		return false;
	info->role = GroupsGranted(profile->groups, pool) ? "member" : NULL;
	return true;
}

/*
 * The user's active pool: their last switch while still usable, else the
 * personal pool, else the first usable shared pool by name; NULL if none.
 * The pool is loaded into *info (when not NULL), so callers need not load
 * it again.  Users routed by groups alone, and owners of a personal pool
 * without member rows, take shared cache entries; the others one per user.
 */
char *
QuotaActivePool(const char *user_id, const UserProfile *profile,
				bool *explicit_choice, PoolInfo *info)
{
	PoolInfo	local;
	char	   *pool;

	if (info == NULL)
		info = &local;
	*explicit_choice = false;
	if (profile->switched != NULL &&
		QuotaLoadPoolAs(profile->switched, user_id, profile, info) &&
		info->role != NULL)
	{
		*explicit_choice = true;
		return info->pool;
	}
	if (profile->personal != NULL && !profile->member_rows)
	{
		/* found by its owner: the owner's role, the pool's own limits */
		if (!QuotaLoadPoolOwn(profile->personal, info))
			elog(ERROR, "quota: personal pool \"%s\" vanished", profile->personal);
		info->role = "owner";
		return info->pool;
	}
	if (RoutedByGroups(profile))
	{
		if (!RouteLookupText('d', profile->groups, NULL, &pool))
		{
			Datum		v[1] = {CStringGetTextDatum(profile->groups)};

			pool = QuotaExec(&group_default_q, v, NULL, 1) == 1 ? QuotaGetText(0, 1) : NULL;
			RouteStoreText('d', profile->groups, NULL, pool);
		}
		if (pool == NULL || !QuotaLoadPoolOwn(pool, info))
			return NULL;
		info->role = "member";
		return info->pool;
	}
	if (RouteLookupPool(user_id, NULL, info, explicit_choice))
		return info->pool;
	memset(info, 0, sizeof(PoolInfo));
	{
		Datum		v[2] = {CStringGetTextDatum(user_id), CStringGetTextDatum(user_id)};

		if (QuotaExec(HaveGrants() ? &default_pool_q : &default_pool_02_q,
					  v, NULL, 1) == 1)
		{
			FillPool(info);
			RouteStorePool(user_id, NULL, info, false);
			return info->pool;
		}
	}
	return NULL;
}

static QuotaQuery reset_q = {
	"SELECT quota._apply_reset($1, false)",
	1, {TEXTOID}
};

static QuotaQuery expire_q = {
	"SELECT quota._expire_grants($1)",
	1, {TEXTOID}
};

/*
 * Apply due credit-grant expiries and a due reset before the pool is used,
 * then reload it.  Expiries touch the grants only and a reset the allowance
 * part only (grants.c), so their order does not matter.
 */
void
QuotaResetIfDue(PoolInfo *info, const char *user_id)
{
	Datum		v[1];

	if (info->has_next_expiry &&
		info->next_expiry_at <= GetCurrentTransactionStartTimestamp() &&
		!RecoveryInProgress())
	{
		v[0] = CStringGetTextDatum(info->pool);
		QuotaExec(&expire_q, v, NULL, 1);
		if (!QuotaLoadPool(TextDatumGetCString(v[0]), user_id, info))
			elog(ERROR, "quota: pool vanished during expiry");
	}
	/* a standby applies nothing: quota_check computes it (standby.c) */
	if (!info->has_next_reset ||
		info->next_reset_at > GetCurrentTransactionStartTimestamp() ||
		RecoveryInProgress())
		return;
	v[0] = CStringGetTextDatum(info->pool);
	QuotaExec(&reset_q, v, NULL, 1);
	if (!QuotaLoadPool(TextDatumGetCString(v[0]), user_id, info))
		elog(ERROR, "quota: pool vanished during reset");
}

/* The escrow's view of a loaded pool. */
EscrowPool
QuotaEscrowPool(const PoolInfo *info)
{
	EscrowPool	p;

	p.pool_id = info->pool_id;
	p.pool = info->pool;
	return p;
}

/*
 * The member's usage in the pool's current period plus their active holds.
 * The period's start is read in the same statement, so the charges counted
 * are those dated in the period a concurrent reset left.  With $3 (a hot
 * standby, which cannot apply a due reset or release expired holds) the
 * answer is as if it had: the period starts at the due boundary and expired
 * holds do not count (standby.c).
 */
static QuotaQuery member_usage_q = {
	"SELECT LEAST(coalesce(-pg_catalog.sum(l.amount::pg_catalog.numeric), 0) "
	"       OPERATOR(pg_catalog.+) coalesce((SELECT pg_catalog.sum(r.held::pg_catalog.numeric) "
	"            FROM quota.reservations r "
	"            WHERE r.pool OPERATOR(pg_catalog.=) $1 AND r.user_id OPERATOR(pg_catalog.=) $2 "
	"              AND r.settled_at IS NULL "
	"              AND (NOT $3 OR r.expires_at OPERATOR(pg_catalog.>) pg_catalog.now())), 0), "
	"       9223372036.854775807)::quota.credits "
	"FROM quota.ledger l WHERE l.pool OPERATOR(pg_catalog.=) $1 "
	"  AND l.user_id OPERATOR(pg_catalog.=) $2 AND l.kind OPERATOR(pg_catalog.=) 'charge' "
	"  AND l.at OPERATOR(pg_catalog.>=) (SELECT CASE "
	"        WHEN $3 AND d.reset_policy OPERATOR(pg_catalog.<>) 'none' "
	"         AND d.next_reset_at OPERATOR(pg_catalog.<=) pg_catalog.now() "
	"        THEN d.next_reset_at ELSE d.period_start END "
	"      FROM quota.pool_defs d WHERE d.pool OPERATOR(pg_catalog.=) $1)",
	3, {TEXTOID, TEXTOID, BOOLOID}
};

/*
 * The member's usage this period plus their active holds, exact at every
 * isolation level: summed with a snapshot taken now (the caller holds the
 * member's lock, request.c), which sees every committed charge and hold,
 * the current period's start, and this transaction's own rows.  Summed in
 * numeric: a usage past the type's range, which only repeated overruns can
 * reach, is read as the largest credits value, past any member limit, so a
 * request gets QU001, never 22003.
 */
Credits
QuotaMemberUsage(const PoolInfo *info, const char *user_id)
{
	Datum		v[3] = {CStringGetTextDatum(info->pool), CStringGetTextDatum(user_id),
	BoolGetDatum(RecoveryInProgress())};
	Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
	bool		isnull;
	Datum		d;

	QuotaExecSnapshot(&member_usage_q, v, NULL, latest, 1);
	UnregisterSnapshot(latest);
	d = QuotaGetDatum(0, 1, &isnull);
	return isnull ? 0 : DatumGetCredits(d);
}
