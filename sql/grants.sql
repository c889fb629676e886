-- grants: credit grants that expire (issue 29): consumption order, lazy and
-- scheduled expiry exactly once, revocation, resets on the allowance part,
-- quota.pool_grants and its row rules, every error path.
\set VERBOSITY default

CREATE ROLE regress_grant_student NOLOGIN IN ROLE quota_user;   -- member of Grant Lab
CREATE ROLE regress_grant_other NOLOGIN IN ROLE quota_user;     -- member of no pool with grants
SELECT quota_set_user(u, '{}')
  FROM unnest(ARRAY['regress_grant_student', 'regress_grant_other']) u;
-- one credit per 1,000,000 output tokens
SELECT quota_set_model('grant-m', 0, 1, 'granttest');
SELECT quota_create_pool('Grant Lab', 10, reset_policy => 'restore');
SELECT quota_add_member('Grant Lab', 'regress_grant_student');
SELECT quota_create_pool('Grant Other', 10);
SELECT quota_add_member('Grant Other', 'regress_grant_other');

-- what each live grant has left, by the grants' notes
CREATE FUNCTION public.grants_left(p text)
    RETURNS TABLE(note text, amount quota.credits, remaining quota.credits, state text)
    LANGUAGE sql AS $$
    SELECT g.note, g.amount, g.remaining, g.state FROM quota.pool_grants g
     WHERE g.pool = p ORDER BY g.grant_id
$$;
-- the pool's balance and the allowance part (balance minus live remainders)
CREATE FUNCTION public.grant_parts(p text)
    RETURNS TABLE(balance quota.credits, allowance_part numeric)
    LANGUAGE sql AS $$
    SELECT (quota._pool_money(p)).balance,
           (quota._pool_money(p)).balance::numeric
           - coalesce((SELECT sum(g.remaining::numeric) FROM quota.pool_grants g
                        WHERE g.pool = p AND g.state IN ('live', 'spent')), 0)
$$;

-- Three grants: a term grant, a priority grant without expiry, a short one.
SELECT quota_grant_credits('Grant Lab', 5, now() + interval '1 day', note => 'term') > 0 AS term;
SELECT quota_grant_credits('Grant Lab', 3, priority => 5, note => 'priority') > 0 AS priority;
SELECT quota_grant_credits('Grant Lab', 2, clock_timestamp() + interval '300 milliseconds',
                           note => 'short') > 0 AS short;
SELECT * FROM grant_parts('Grant Lab');
SELECT * FROM grants_left('Grant Lab');
-- grant entries carry their grant_id
SELECT l.kind, l.amount, l.note, l.grant_id = g.grant_id AS same_grant
  FROM quota.ledger l JOIN quota.credit_grants g ON g.entry_id = l.entry_id
 WHERE l.pool = 'Grant Lab' ORDER BY l.entry_id;
SELECT next_expiry_at IS NOT NULL AS expiry_known FROM quota.pool_defs WHERE pool = 'Grant Lab';

-- A charge of 4 draws priority 5 first (3), then the sooner expiry (short: 1).
SELECT pool, final_cost, balance FROM quota_charge('grant-m', 0, 4000000, 'grant-1',
                                                   user_id => 'regress_grant_student');
SELECT * FROM grants_left('Grant Lab');
SELECT * FROM grant_parts('Grant Lab');

-- After its expiry the short grant's remainder (1) leaves the pool at the
-- first call that touches it, before that call's charge (which draws term).
SELECT pg_sleep(0.4);
SELECT pool, final_cost, balance FROM quota_charge('grant-m', 0, 1000000, 'grant-2',
                                                   user_id => 'regress_grant_student');
SELECT * FROM grants_left('Grant Lab');
SELECT l.kind, l.amount, l.note, g.note AS grant_note
  FROM quota.ledger l JOIN quota.credit_grants g ON g.grant_id = l.grant_id
 WHERE l.pool = 'Grant Lab' AND l.kind = 'expire' ORDER BY l.entry_id;
-- the expire entry = amount - drawn
SELECT g.note, g.amount, g.end_amount, g.amount::numeric - g.end_amount::numeric AS drawn
  FROM quota.credit_grants g WHERE g.end_kind IS NOT NULL AND g.pool = 'Grant Lab';
-- a second pass finds nothing due: exactly once
SELECT * FROM quota_run_due();
SELECT count(*) AS expire_entries FROM quota.ledger WHERE pool = 'Grant Lab' AND kind = 'expire';

-- Spending past the grants falls on the allowance part: 6 = term 4 + 2.
SELECT pool, final_cost, balance FROM quota_charge('grant-m', 0, 6000000, 'grant-3',
                                                   user_id => 'regress_grant_student');
SELECT * FROM grants_left('Grant Lab');
SELECT * FROM grant_parts('Grant Lab');
-- an adjustment below zero draws like a charge
SELECT quota_grant_credits('Grant Lab', 5, priority => 1, note => 'workshop') > 0 AS workshop;
SELECT quota_adjust('Grant Lab', -1, 'correction');
SELECT * FROM grants_left('Grant Lab');

-- A restore reset sets the allowance part (8) back to the allowance (10);
-- the workshop grant keeps its 4.
SELECT quota_reset('Grant Lab');
SELECT * FROM grant_parts('Grant Lab');
SELECT * FROM grants_left('Grant Lab');
SELECT amount FROM quota.ledger WHERE pool = 'Grant Lab' AND kind = 'reset';

-- Revocation removes the remainder now and returns it; once.
SELECT quota_revoke_credits(grant_id, 'workshop cancelled')
  FROM quota.credit_grants WHERE note = 'workshop';
SELECT quota_revoke_credits(grant_id) FROM quota.credit_grants WHERE note = 'workshop';
SELECT * FROM grants_left('Grant Lab');
SELECT * FROM grant_parts('Grant Lab');
SELECT kind, amount, note FROM quota.ledger
 WHERE pool = 'Grant Lab' AND kind = 'expire' ORDER BY entry_id;

-- quota_run_due() applies a due expiry too, once.
SELECT quota_grant_credits('Grant Lab', 2, clock_timestamp() + interval '300 milliseconds',
                           note => 'lecture') > 0 AS lecture;
SELECT pg_sleep(0.4);
SELECT * FROM quota_run_due();
SELECT * FROM quota_run_due();
SELECT g.note, g.end_kind, g.end_amount FROM quota.credit_grants g WHERE g.note = 'lecture';
SELECT count(*) AS lecture_expires FROM quota.ledger l
  JOIN quota.credit_grants g USING (grant_id) WHERE g.note = 'lecture' AND l.kind = 'expire';

-- Two expiries and a reset due together, applied once each by the first
-- call: the expiries take what the grants had left, the restore sets the
-- allowance part (6 after a charge of 4) back to 10, the live grant keeps
-- its remainder; the call's own charge then draws that grant.
SELECT quota_create_pool('Grant Due', 10, reset_cron => '0 0 1 1 *');
SELECT quota_add_member('Grant Due', 'regress_grant_student');
SELECT final_cost FROM quota_charge('grant-m', 0, 4000000, 'grant-due-1',
                                    user_id => 'regress_grant_student', pool => 'Grant Due');
SELECT quota_grant_credits('Grant Due', 2, now() + interval '1 day', note => 'due a') > 0 AS a;
SELECT quota_grant_credits('Grant Due', 3, now() + interval '2 days', note => 'due b') > 0 AS b;
SELECT quota_grant_credits('Grant Due', 4, note => 'stays') > 0 AS stays;
SELECT final_cost FROM quota_charge('grant-m', 0, 1000000, 'grant-due-2',
                                    user_id => 'regress_grant_student', pool => 'Grant Due');
SELECT * FROM grants_left('Grant Due');
UPDATE quota.credit_grants SET expires_at = now() - interval '1 minute'
 WHERE pool = 'Grant Due' AND expires_at IS NOT NULL;
UPDATE quota.pool_defs SET next_expiry_at = now() - interval '1 minute',
                           next_reset_at = now() - interval '1 minute'
 WHERE pool = 'Grant Due';
SELECT pool, final_cost, balance FROM quota_charge('grant-m', 0, 1000000, 'grant-due-3',
                                    user_id => 'regress_grant_student', pool => 'Grant Due');
SELECT l.kind, l.amount, g.note FROM quota.ledger l LEFT JOIN quota.credit_grants g USING (grant_id)
 WHERE l.pool = 'Grant Due' AND l.kind IN ('expire', 'reset') ORDER BY l.entry_id;
SELECT * FROM grants_left('Grant Due');
SELECT * FROM grant_parts('Grant Due');
SELECT resets FROM quota_run_due();
SELECT count(*) AS entries FROM quota.ledger
 WHERE pool = 'Grant Due' AND kind IN ('expire', 'reset');

-- Monitoring: credits that expire within 7 days.
SELECT quota_grant_credits('Grant Lab', 3, now() + interval '3 days', note => 'soon') > 0 AS soon;
SELECT quota_grant_credits('Grant Lab', 4, now() + interval '30 days', note => 'later') > 0 AS later;
SELECT pool, expiring_7d FROM quota.metrics_grants() WHERE pool LIKE 'Grant%' ORDER BY pool;

-- Row rules: members see their pool's grants, others none, quota_admin all.
SET ROLE regress_grant_student;
SELECT note, state FROM quota.pool_grants ORDER BY grant_id;
SET ROLE regress_grant_other;
SELECT count(*) AS seen FROM quota.pool_grants;
SELECT try($$SELECT * FROM quota._grant_remainders('Grant Lab')$$);
SELECT try($$SELECT * FROM quota.credit_grants$$);
SET ROLE regress_admin;
SELECT count(*) AS seen FROM quota.pool_grants WHERE pool = 'Grant Lab';
RESET ROLE;

-- Errors, each changing nothing.
SELECT count(*) AS grants_before FROM quota.credit_grants \gset
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', 0)$$);
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', -5)$$);
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', 0.0000000001)$$);
SELECT try($$SELECT quota_grant_credits('Grant Lab', 5, now() - interval '1 second')$$);
SELECT try($$SELECT quota_grant_credits('Grant Lab', 5, now())$$);
SELECT * FROM try_full($$SELECT quota_grant_credits(NULL, 5)$$);
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', NULL)$$);
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', 5, priority => NULL)$$);
SELECT * FROM try_full($$SELECT quota_grant_credits('No Such Pool', 5)$$);
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', 1e12)$$);
SELECT * FROM try_full($$SELECT quota_revoke_credits(NULL)$$);
SELECT * FROM try_full($$SELECT quota_revoke_credits(-1)$$);
SET ROLE regress_grant_student;
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', 5)$$);
SELECT * FROM try_full($$SELECT quota_revoke_credits(1)$$);
SET ROLE regress_app;
SELECT * FROM try_full($$SELECT quota_grant_credits('Grant Lab', 5)$$);
RESET ROLE;
SELECT count(*) = :grants_before AS nothing_changed FROM quota.credit_grants;

SELECT * FROM invariant() WHERE pool LIKE 'Grant%';
