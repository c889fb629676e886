/*
 * alert.c
 *		Usage warnings: quota.alerts and NOTIFY quota_alert.
 *
 * A pool's usage in its period is its period funds (the balance the period
 * started with plus every non-charge entry since) minus its balance, both
 * kept exact without a query: the funds are loaded with the pool, and the
 * balance comes from the escrow, including other transactions' admitted
 * debits, so of concurrent charges the one admitted across a threshold sees
 * it crossed.  Exactly once per threshold and period is the unique key of
 * quota.alerts: the insert is ON CONFLICT DO NOTHING, and the notification
 * is sent (at commit) only by the transaction whose row was inserted.  Each
 * backend keeps the credits every threshold stands for, and, once it has
 * seen a threshold's alert exist, remembers that for the period and stops
 * asking: a charge compares integers, and a pool past its thresholds costs
 * nothing more.
 *
 * Only what cannot roll back is remembered for the period.  An alert this
 * transaction inserted, or found (perhaps its own row of an earlier charge),
 * is remembered as pending, with the subtransaction that saw it: a rolled
 * back savepoint forgets what it and its children saw, a commit makes the
 * rest seen, an abort forgets everything.  So a crossing that rolled back
 * is announced again by the next charge that crosses.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "alert.h"
#include "credits.h"

/* A pool has at most this many thresholds (checked when warn_at is set). */
#define ALERT_MAX			16

/*
 * What this backend knows of a pool's warnings in its period: the credits
 * each threshold stands for (so a charge compares integers only) and which
 * ones already have their alert.  Rebuilt when the period, the thresholds
 * or the allowance change.
 */
typedef struct AlertSeen
{
	int64		pool_id;		/* hash key */
	TimestampTz period_start;
	uint32		warn_hash;		/* of the thresholds below */
	Credits		allowance;
	int			nlimits;
	Credits		limits[ALERT_MAX];	/* allowance x threshold; -1 for a NULL */
	Credits		lowest;			/* the smallest limit */
	uint32		seen;			/* bit i: threshold i has its committed alert */
	uint32		pending;		/* bit i: seen by this transaction only */
	SubTransactionId pending_subid[ALERT_MAX];	/* where bit i was seen */
} AlertSeen;

static HTAB *alert_seen = NULL;

/* Does some entry have pending bits (so the callbacks have work)? */
static bool alert_pending = false;

/*
 * Record an alert and notify, if it is the first.  Release 0.2 keeps the
 * rows in quota.alert_log (read through the view quota.alerts); an
 * installation of 0.1 has them in the table quota.alerts.
 */
#define ALERT_SQL(table) \
	"WITH a AS (" \
	"  INSERT INTO " table " (pool, threshold, period_start, used, allowance, " \
	"                            user_id, request_id) " \
	"  VALUES ($1, $2, $3, $4, $5, $6, $7) " \
	"  ON CONFLICT (pool, period_start, threshold) DO NOTHING " \
	"  RETURNING pool, threshold, used, allowance, at) " \
	"SELECT pg_catalog.pg_notify('quota_alert', pg_catalog.json_build_object(" \
	"  'pool', a.pool, 'threshold', a.threshold, " \
	"  'used', CAST(a.used AS pg_catalog.numeric), " \
	"  'allowance', CAST(a.allowance AS pg_catalog.numeric), " \
	"  'at', a.at)::pg_catalog.text) FROM a"

static QuotaQuery alert_q = {
	ALERT_SQL("quota.alert_log"),
	7, {TEXTOID, NUMERICOID, TIMESTAMPTZOID, CREDITSARG, CREDITSARG, TEXTOID, TEXTOID}
};

static QuotaQuery alert_q_0_1 = {
	ALERT_SQL("quota.alerts"),
	7, {TEXTOID, NUMERICOID, TIMESTAMPTZOID, CREDITSARG, CREDITSARG, TEXTOID, TEXTOID}
};

/*
 * End of a (sub)transaction: make the pending bits seen (commit) or forget
 * those seen at or below a subtransaction (abort; InvalidSubTransactionId
 * forgets all).
 */
static void
AlertSettlePending(bool commit, SubTransactionId from)
{
	HASH_SEQ_STATUS seq;
	AlertSeen  *s;
	bool		left = false;

	hash_seq_init(&seq, alert_seen);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		if (s->pending == 0)
			continue;
		if (commit)
			s->seen |= s->pending;
		for (int i = 0; i < ALERT_MAX; i++)
		{
			uint32		bit = UINT32_C(1) << i;

			if ((s->pending & bit) &&
				(commit || from == InvalidSubTransactionId ||
				 s->pending_subid[i] >= from))
				s->pending &= ~bit;
		}
		left |= (s->pending != 0);
	}
	alert_pending = left;
}

/* End of transaction (xact.c): pending alerts become seen at commit only. */
void
AlertXactEvent(XactEvent event)
{
	if (!alert_pending)
		return;
	if (event == XACT_EVENT_COMMIT)
		AlertSettlePending(true, InvalidSubTransactionId);
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
			 event == XACT_EVENT_PARALLEL_COMMIT ||
			 event == XACT_EVENT_PARALLEL_ABORT)
		AlertSettlePending(false, InvalidSubTransactionId);
}

/*
 * Subtransaction callback: a rolled back savepoint forgets what it saw.
 * Subtransactions started after mySubid have larger ids, and while it is
 * open they are all its children.
 */
void
AlertSubXactEvent(SubXactEvent event, SubTransactionId mySubid)
{
	if (alert_pending && event == SUBXACT_EVENT_ABORT_SUB)
		AlertSettlePending(false, mySubid);
}

/* The statement that records an alert in this installation's table. */
static QuotaQuery *
AlertQuery(void)
{
	Oid			nsp = get_namespace_oid("quota", false);

	return OidIsValid(get_relname_relid("alert_log", nsp)) ? &alert_q : &alert_q_0_1;
}

/* This backend's memory of a pool's warnings, rebuilt when they change. */
static AlertSeen *
SeenFor(const PoolInfo *info)
{
	AlertSeen  *s;
	bool		found;
	struct varlena *warn = (struct varlena *) DatumGetPointer(info->warn_at);
	uint32		warn_hash = hash_bytes((unsigned char *) warn, VARSIZE_ANY(warn));

	if (alert_seen == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(AlertSeen);
		ctl.hcxt = TopMemoryContext;
		alert_seen = hash_create("quota alerts seen", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	s = hash_search(alert_seen, &info->pool_id, HASH_ENTER, &found);
	if (!found || s->period_start != info->period_start ||
		s->warn_hash != warn_hash || s->allowance != info->allowance)
	{
		Datum	   *thresholds;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(info->warn_at), NUMERICOID, -1,
						  false, TYPALIGN_INT, &thresholds, &nulls, &n);
		s->period_start = info->period_start;
		s->warn_hash = warn_hash;
		s->allowance = info->allowance;
		s->nlimits = Min(n, ALERT_MAX);
		s->lowest = CREDITS_MAX;
		for (int i = 0; i < s->nlimits; i++)
		{
			s->limits[i] = nulls[i] ? -1 :
				CreditsMulNumeric(info->allowance, DatumGetNumeric(thresholds[i]));
			if (s->limits[i] >= 0)
				s->lowest = Min(s->lowest, s->limits[i]);
		}
		s->seen = 0;
		s->pending = 0;
	}
	return s;
}

/*
 * After a debit: record and announce each threshold of the pool that its
 * period's usage has reached and that has no alert yet.  Runs inside the
 * caller's SPI connection.
 */
void
QuotaCheckAlerts(const PoolInfo *info, Credits live_balance,
				 const char *user_id, const char *request_id)
{
	int128		used128;
	Credits		used;
	AlertSeen  *seen;
	Datum	   *thresholds = NULL;
	bool	   *nulls;
	int			n;

	if (info->allowance <= 0 || info->warn_at == (Datum) 0)
		return;
	used128 = (int128) info->period_funds - live_balance;
	if (used128 <= 0)
		return;
	used = used128 > CREDITS_MAX ? CREDITS_MAX : (Credits) used128;

	seen = SeenFor(info);
	if (used < seen->lowest)
		return;
	for (int i = 0; i < seen->nlimits; i++)
	{
		Datum		v[7];
		char		vn[8] = "       ";
		uint32		bit = UINT32_C(1) << i;

		if (seen->limits[i] < 0 || ((seen->seen | seen->pending) & bit) ||
			used < seen->limits[i])
			continue;
		/* a threshold reached without a known alert: the rare path */
		if (thresholds == NULL)
			deconstruct_array(DatumGetArrayTypeP(info->warn_at), NUMERICOID, -1,
							  false, TYPALIGN_INT, &thresholds, &nulls, &n);
		v[0] = CStringGetTextDatum(info->pool);
		v[1] = thresholds[i];
		v[2] = TimestampTzGetDatum(info->period_start);
		v[3] = CreditsGetDatum(used);
		v[4] = CreditsGetDatum(info->allowance);
		v[5] = CStringGetTextDatum(user_id);
		v[6] = request_id ? CStringGetTextDatum(request_id) : (Datum) 0;
		vn[6] = request_id ? ' ' : 'n';
		(void) QuotaExec(AlertQuery(), v, vn, 0);

		/*
		 * Inserted, or found: either way the alert exists for this
		 * transaction, but the row found may be its own and may yet roll
		 * back.  Pending: seen for the period once the transaction commits,
		 * forgotten if the subtransaction that saw it rolls back.
		 */
		seen->pending |= bit;
		seen->pending_subid[i] = GetCurrentSubTransactionId();
		alert_pending = true;
	}
}
