/*
 * request.c
 *		Which pool pays for a request, and whether it may: the access,
 *		enablement, model and member-limit rules shared by quota_check,
 *		quota_reserve and quota_charge.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xlog.h"
#include "utils/builtins.h"

#include "caps.h"
#include "member_caps.h"
#include "profile.h"
#include "quota.h"
#include "request.h"

/*
 * Choose the pool (explicit argument, else the active pool) and load it with
 * the user's role.  Raises 42704 for an unknown pool, QU003 when the user has
 * no pool at all.  The caller is connected to SPI.
 */
void
QuotaChoosePool(RequestTarget *target, const char *explicit_pool)
{
	const char *pool = explicit_pool;
	bool		explicit_choice;

	if (pool == NULL)
	{
		/* the active pool comes loaded */
		if (QuotaActivePool(target->user_id, &target->profile, &explicit_choice,
							&target->pool) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_QUOTA_POOL_ACCESS),
					 errmsg("user \"%s\" has no pool to use", target->user_id),
					 errdetail("The user is not a member of any pool and has no personal pool."),
					 errhint("Ask a pool administrator to add the user, or grant a pool to one of the user's groups.")));
		return;
	}
	if (!QuotaLoadPoolAs(pool, target->user_id, &target->profile, &target->pool))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pool \"%s\" does not exist", pool),
				 errhint("quota.my_pools lists the pools you can use.")));
}

/* The first rule refusing a new request (NULL if none): for quota_check. */
const char *
QuotaRefusal(const RequestTarget *target)
{
	if (target->pool.role == NULL)
		return "user cannot use this pool";
	if (!target->pool.enabled)
		return "pool is disabled";
	if (!target->model->enabled)
		return "model is disabled";
	if (!QuotaPoolPermits(&target->pool, target->model->model))
		return "model is not permitted by this pool";
	return NULL;
}

/* Raise QU003, QU004 or QU002 when a new request may not use the pool. */
void
QuotaRequireUsable(const RequestTarget *target)
{
	const PoolInfo *p = &target->pool;

	if (p->role == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_QUOTA_POOL_ACCESS),
				 errmsg("user \"%s\" cannot use pool \"%s\"", target->user_id, p->pool),
				 errdetail("The user is neither a member of the pool, nor in a group granted it, nor its owner."),
				 errhint("quota.my_pools lists the pools the user can use.")));
	if (!p->enabled)
		ereport(ERROR,
				(errcode(ERRCODE_QUOTA_POOL_DISABLED),
				 errmsg("pool \"%s\" is disabled", p->pool),
				 errhint("Switch to another pool, or ask the pool's administrator to enable it.")));
	if (!target->model->enabled)
		ereport(ERROR,
				(errcode(ERRCODE_QUOTA_MODEL_NOT_PERMITTED),
				 errmsg("model \"%s\" is disabled", target->model->model),
				 errhint("Choose another model from quota.models.")));
	if (!QuotaPoolPermits(p, target->model->model))
		ereport(ERROR,
				(errcode(ERRCODE_QUOTA_MODEL_NOT_PERMITTED),
				 errmsg("model \"%s\" is not permitted by pool \"%s\"",
						target->model->model, p->pool),
				 errdetail("The pool pays only for the models in its model list."),
				 errhint("Choose a model the pool permits, or switch to another pool.")));
}

/*
 * Take the member's lock on the pool (lock 3 of charge.c) and read their
 * exact usage this period, active holds included; false (usage 0) when no
 * member limit applies.
 *
 * Why the usage is read as of now rather than the transaction's snapshot,
 * and why that is exact at every isolation level: every request that adds
 * usage under the limit (a charge without reservation, a reservation)
 * holds this lock until its transaction ends.  Once we hold it, no other
 * transaction of the member can be admitting usage, and a snapshot taken
 * now sees all that was admitted and committed before, the period's
 * current start (a reset that committed meanwhile), and our own earlier
 * rows.  An old REPEATABLE READ or SERIALIZABLE snapshot would miss what
 * committed after it; raising 40001 in that case would only make the
 * client retry to get the answer this gives at once, so the limit is
 * decided as of now and the transaction's snapshot is left for everything
 * else.  Settlements within their maxima do not take the lock: an
 * unsettled reservation counts its hold until the settlement commits, and
 * such a settlement is never refused by the limit (SPEC rule 4).
 *
 * With shared memory the usage comes from the member's slot
 * (member_caps.c), which every writer of the member's charges and holds
 * registers with, and which counts from the period_start read here; the
 * ledger is summed when the slot cannot answer (none, no room, a reset
 * with a writer of the member still in flight, a hot standby).
 */
bool
QuotaMemberUsageLocked(const RequestTarget *target, Credits *usage)
{
	char	   *key;
	TimestampTz period_start;
	int128		used;

	*usage = 0;
	if (!target->pool.has_member_limit)
		return false;
	key = psprintf(INT64_FORMAT ":%s", target->pool.pool_id, target->user_id);
	QuotaLockKey(key, QUOTA_LOCK_MEMBER);
	if (EscrowIsShared() && !RecoveryInProgress() &&
		QuotaReadPeriodStart(target->pool.pool, &period_start) &&
		MemberPeriodUsed(target->pool.pool_id, target->pool.pool, target->user_id,
						 CapsTimezone(&target->pool), period_start, &used))
		*usage = used > CREDITS_MAX ? CREDITS_MAX : (Credits) used;
	else
		*usage = QuotaMemberUsage(&target->pool, target->user_id);
	return true;
}

/*
 * Does amount fit in the user's member limit (if any)?  Serialises the
 * member's requests on the pool with a transaction advisory lock, so two
 * concurrent requests of one member cannot both pass the limit.
 */
bool
QuotaMemberLimitFits(const RequestTarget *target, Credits amount, Credits *usage)
{
	*usage = 0;
	if (amount == 0 || !QuotaMemberUsageLocked(target, usage))
		return true;
	return QuotaUsageFits(target, *usage, amount);
}

/*
 * Does amount fit in the member limit beside usage?  Exact: a sum past the
 * type's range is past any limit (QU001, not 22003).
 */
bool
QuotaUsageFits(const RequestTarget *target, Credits usage, Credits amount)
{
	return (int128) usage + amount <= target->pool.member_limit;
}
