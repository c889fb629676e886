-- statements: monthly statements (quota_close_statements), their chain,
-- lines and row-level security, quota_verify_statements, re-rating
-- (quota_rerate), and every error path.  In a database of its own: the
-- past months are loaded through the restore path, which needs an empty
-- ledger.
\set VERBOSITY default
CREATE DATABASE regress_statements;
\c regress_statements
SET client_min_messages = warning;
CREATE EXTENSION quota;
RESET client_min_messages;
SET search_path = public, quota;
SET timezone = 'UTC';
CREATE ROLE regress_stmt_head NOLOGIN IN ROLE quota_user;     -- administers Stmt Lab
CREATE ROLE regress_stmt_ann NOLOGIN IN ROLE quota_user;      -- member of Stmt Lab
CREATE ROLE regress_stmt_bob NOLOGIN IN ROLE quota_user;      -- member of Stmt Lab
CREATE ROLE regress_stmt_dba NOLOGIN IN ROLE quota_admin;
SELECT quota_set_user(u) FROM unnest(ARRAY['regress_stmt_head', 'regress_stmt_ann',
                                          'regress_stmt_bob']) u;
SELECT quota_set_model('stmt-m', 2, 4);                        -- cached input at 2
SELECT quota_set_model('stmt-free', 0, 0);

-- Two pools created in September 2026: Stmt Lab in Hong Kong (months end
-- at 16:00 UTC), Stmt NY in New York; their history loaded as a restore
-- loads it (row_security off, into the empty ledger).  October has no
-- entry in Stmt NY.
INSERT INTO quota.pool_defs (pool, kind, allowance, reset_timezone, period_funds, created_at)
VALUES ('Stmt Lab', 'shared', 100, 'Asia/Hong_Kong', 100, '2026-09-03 10:00+08'),
       ('Stmt NY', 'shared', 50, 'America/New_York', 50, '2026-09-20 10:00-04');
INSERT INTO quota.pool_members (pool, user_id, role)
VALUES ('Stmt Lab', 'regress_stmt_head', 'admin'), ('Stmt Lab', 'regress_stmt_ann', 'member'),
       ('Stmt Lab', 'regress_stmt_bob', 'member'), ('Stmt NY', 'regress_stmt_bob', 'member');
BEGIN;
SET LOCAL row_security = off;
INSERT INTO quota.ledger (at, pool, kind, amount, note)
VALUES ('2026-09-03 10:00+08', 'Stmt Lab', 'grant', 100, 'initial allowance'),
       ('2026-09-20 10:00-04', 'Stmt NY', 'grant', 50, 'initial allowance');
-- 60 charges from 2026-09-25 every 23 hours, alternately Ann and Bob, one
-- in three at a discount of 0.5; the last ones in November
INSERT INTO quota.ledger (at, pool, user_id, kind, amount, model, service, conversation_id,
                          request_id, input_tokens, cached_input_tokens, output_tokens,
                          price_id, original_cost, discount_rate, final_cost, balance_after)
SELECT at, 'Stmt Lab', CASE WHEN g % 2 = 0 THEN 'regress_stmt_ann' ELSE 'regress_stmt_bob' END,
       'charge', -round(orig * rate, 9), 'stmt-m', 'chat', 'conv-' || g / 5, 'stmt-' || g,
       1000 * g, 100 * g, 500, (SELECT price_id FROM quota.models WHERE model = 'stmt-m'),
       orig, rate, round(orig * rate, 9), 0
  FROM generate_series(1, 60) g,
       LATERAL (SELECT '2026-09-25 00:00+00'::timestamptz + (g - 1) * interval '23 hours' AS at,
                       round((1000 * g * 2 + 100 * g * 2 + 500 * 4) * 0.000001, 9) AS orig,
                       CASE WHEN g % 3 = 0 THEN 0.5 ELSE 1 END AS rate) x;
INSERT INTO quota.ledger (at, pool, user_id, kind, amount, note)
VALUES ('2026-10-10 09:00+08', 'Stmt Lab', 'regress_stmt_head', 'topup', 25, 'grant from the dean'),
       ('2026-10-11 09:00+08', 'Stmt Lab', 'regress_stmt_head', 'adjust', -1.5, 'a correction, with | and a
new line'),
       ('2026-10-31 23:59:59+08', 'Stmt Lab', NULL, 'reset', 2.25, 'monthly restore'),
       ('2026-09-30 12:00-04', 'Stmt NY', 'regress_stmt_bob', 'topup', 5, NULL),
       ('2026-11-02 12:00-04', 'Stmt NY', 'regress_stmt_bob', 'adjust', -0.5, 'fix');
COMMIT;
SELECT pool, balance FROM quota.pools WHERE pool LIKE 'Stmt%' ORDER BY pool;

-- Close the months that ended by 2026-12-01 00:00 UTC: Stmt Lab's
-- September, October and November (Hong Kong's ends at 16:00 UTC the day
-- before); Stmt NY's September and October, and not its November (it ends
-- at 05:00 UTC on the 1st).  October of Stmt NY has no entry and still
-- gets a statement: a pool's chain has no gap.
SELECT quota_close_statements('2026-12-01 00:00+00');
SELECT pool, period_start AT TIME ZONE 'UTC' AS period_start_utc,
       period_end AT TIME ZONE 'UTC' AS period_end_utc,
       opening_balance, grants, topups, charges, original, resets, adjustments, expired,
       closing_balance, entries
  FROM quota.statements ORDER BY pool COLLATE "C", period_start;
-- the figures add up, the chain holds, the hash is hex SHA-256
SELECT pool, period_start AT TIME ZONE 'UTC' AS period_start_utc,
       opening_balance + grants + topups - charges + resets + adjustments - expired
         = closing_balance AS adds_up,
       opening_balance = coalesce(lag(closing_balance) OVER w, '0') AS opens_at_last_close,
       previous_hash IS NOT DISTINCT FROM lag(hash) OVER w AS chained,
       period_start = coalesce(lag(period_end) OVER w, period_start) AS no_gap,
       hash ~ '^[0-9a-f]{64}$' AS sha256
  FROM quota.statements
WINDOW w AS (PARTITION BY pool ORDER BY period_start)
 ORDER BY pool COLLATE "C", period_start;
-- the last closing balance of Stmt Lab is its balance (nothing after November)
SELECT (SELECT closing_balance FROM quota.statements WHERE pool = 'Stmt Lab'
         ORDER BY period_start DESC LIMIT 1) = balance AS closes_at_balance
  FROM quota.pools WHERE pool = 'Stmt Lab';
-- the lines: per user, model and service; they add up to the charges
SELECT s.pool, s.period_start AT TIME ZONE 'UTC' AS period_start_utc, l.user_id, l.model,
       l.service, l.requests, l.input_tokens, l.cached_input_tokens, l.output_tokens,
       l.original_cost, l.final_cost
  FROM quota.statement_lines l JOIN quota.statements s USING (statement_id)
 ORDER BY s.pool COLLATE "C", s.period_start, l.user_id COLLATE "C";
SELECT s.pool, s.period_start AT TIME ZONE 'UTC' AS period_start_utc,
       s.charges = coalesce(sum(l.final_cost), '0') AS charges_match,
       s.original = coalesce(sum(l.original_cost), '0') AS original_matches
  FROM quota.statements s LEFT JOIN quota.statement_lines l USING (statement_id)
 GROUP BY s.statement_id ORDER BY s.pool COLLATE "C", s.period_start;
-- every entry is fingerprinted once
SELECT s.pool, sum(cardinality(e.entry_ids)) = s.entries AS all_entries
  FROM quota.statements s JOIN quota.statement_entries e USING (statement_id)
 GROUP BY s.statement_id ORDER BY s.pool COLLATE "C", s.period_start;
-- all intact
SELECT * FROM quota_verify_statements();

-- Closing again closes nothing; Stmt NY's November ends at 05:00 UTC on
-- the 1st (the maintenance job closes it then, with until = now())
SELECT quota_close_statements('2026-12-01 00:00+00');
SELECT quota_close_statements('2026-12-01 06:00+00');
SELECT pool, period_start AT TIME ZONE 'UTC' AS period_start_utc, opening_balance,
       adjustments, closing_balance, entries
  FROM quota.statements WHERE pool = 'Stmt NY' ORDER BY period_start;
-- the default closes up to the start of this month in the session's time
-- zone; the maintenance job closes each month as it ends (rolled back:
-- what they close depends on today's date)
BEGIN;
SELECT quota_close_statements() >= 0 AS default_runs;
SELECT resets FROM quota_run_due();
SELECT resets FROM quota_run_due();
SELECT statements_due_at > now() AS next_close_later,
       quota._statements_next_end() > now() AS every_ended_month_closed
  FROM quota.maintenance;
ROLLBACK;

-- The auditor's query (README): the hash recomputed with plain SQL and
-- sha256(), with none of quota's functions
WITH e AS (
    SELECT s.statement_id,
           string_agg(concat_ws('|', l.entry_id,
               (extract(epoch FROM l.at) * 1000000)::bigint,
               coalesce(char_length(l.user_id) || ':' || l.user_id, '-'),
               coalesce(char_length(l.kind) || ':' || l.kind, '-'),
               l.amount::text,
               coalesce(char_length(l.model) || ':' || l.model, '-'),
               coalesce(char_length(l.service) || ':' || l.service, '-'),
               coalesce(char_length(l.conversation_id) || ':' || l.conversation_id, '-'),
               coalesce(char_length(l.request_id) || ':' || l.request_id, '-'),
               coalesce(l.input_tokens::text, '-'),
               coalesce(l.cached_input_tokens::text, '-'),
               coalesce(l.output_tokens::text, '-'),
               coalesce(l.original_cost::text, '-'),
               coalesce(l.discount_rate::text, '-'),
               coalesce(l.final_cost::text, '-'),
               coalesce(l.balance_after::text, '-'),
               coalesce(char_length(l.note) || ':' || l.note, '-'),
               coalesce(l.price_id::text, '-')) || E'\n', '' ORDER BY l.entry_id) AS lines
      FROM quota.statements s JOIN quota.ledger l
        ON l.pool = s.pool AND l.at < s.period_end
       AND (l.at >= s.period_start OR s.previous_hash IS NULL)
     GROUP BY s.statement_id)
SELECT s.pool, s.period_start AT TIME ZONE 'UTC' AS period_start_utc,
       s.hash = encode(sha256(convert_to(
           concat_ws('|', 'quota statement 1', char_length(s.pool) || ':' || s.pool,
                     (extract(epoch FROM s.period_start) * 1000000)::bigint,
                     (extract(epoch FROM s.period_end) * 1000000)::bigint,
                     coalesce(s.previous_hash, '-')) || E'\n'
           || coalesce(e.lines, '')
           || concat_ws('|', s.opening_balance, s.grants, s.topups, s.charges, s.original,
                        s.resets, s.adjustments, s.expired, s.closing_balance, s.entries)
           || E'\n', 'UTF8')), 'hex') AS auditor_agrees
  FROM quota.statements s LEFT JOIN e USING (statement_id)
 ORDER BY s.pool COLLATE "C", s.period_start;

-- A closed statement never changes, for anyone (42501)
UPDATE quota.statements SET closing_balance = 0 WHERE pool = 'Stmt Lab';
DELETE FROM quota.statements WHERE pool = 'Stmt NY';
TRUNCATE quota.statements;
UPDATE quota.statement_lines SET final_cost = 0;
DELETE FROM quota.statement_entries;
TRUNCATE quota.rerated;

-- Row-level security: the pool's administrator sees its statements and
-- lines; a member their own lines only; quota_admin everything
SET ROLE regress_stmt_head;
SELECT pool, count(*) FROM quota.statements GROUP BY pool ORDER BY pool COLLATE "C";
SELECT count(*) AS lines FROM quota.statement_lines;
SELECT count(*) AS fingerprints FROM quota.statement_entries;   -- quota_admin only
RESET ROLE;
SET ROLE regress_stmt_ann;
SELECT count(*) AS statements FROM quota.statements;
SELECT DISTINCT user_id FROM quota.statement_lines;
RESET ROLE;
SET ROLE regress_stmt_dba;
SELECT count(*) AS statements FROM quota.statements;
SELECT count(*) AS lines FROM quota.statement_lines;
SELECT * FROM quota_verify_statements('Stmt Lab');
RESET ROLE;

-- Only quota_admin closes, verifies and re-rates (42501)
SET ROLE regress_stmt_head;
SELECT quota_close_statements('2026-12-01 00:00+00');
SELECT * FROM quota_verify_statements();
SELECT * FROM quota_rerate('stmt-m', '2026-09-01', '2026-10-01', 1, 4);
RESET ROLE;

-- Errors of quota_close_statements: NULL (22004), a time to come (22023),
-- a snapshot older than the close (25000); each changes nothing
SELECT quota_close_statements(NULL);
SELECT quota_close_statements('2999-01-01 00:00+00');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT quota_close_statements();
ROLLBACK;
SELECT count(*) AS statements FROM quota.statements;

-- Re-rating: stmt-m was billed at an input price of 2 in October (Hong
-- Kong's October: 2026-09-30 16:00 to 2026-10-31 16:00 UTC); the right
-- price was 1.  One adjust entry per pool and user, dated now; tokens and
-- discount rates as billed, each charge rounded as the cost formula does.
SET ROLE regress_stmt_dba;
SELECT * FROM quota_rerate('stmt-m', '2026-09-30 16:00+00', '2026-10-31 16:00+00', 1, NULL,
                           note => 'input price was mistyped')
 ORDER BY user_id COLLATE "C";
RESET ROLE;
SELECT user_id, amount, at > '2026-12-01' AS dated_now, note FROM quota.ledger
 WHERE kind = 'adjust' AND note LIKE 're-rated%' ORDER BY user_id COLLATE "C";
-- what each charge's cost would have been: the formula, charge by charge
SELECT sum(round(round((l.input_tokens * 1 + l.cached_input_tokens * 2 + l.output_tokens * 4)
                       * 0.000001, 9) * l.discount_rate, 9)) AS expected_corrected,
       sum(l.final_cost) AS billed
  FROM quota.ledger l
 WHERE l.kind = 'charge' AND l.model = 'stmt-m'
   AND l.at >= '2026-09-30 16:00+00' AND l.at < '2026-10-31 16:00+00';
-- each adjust entry names the charges it corrects
SELECT r.user_id, count(*) AS charges, sum(r.billed) AS billed, sum(r.corrected) AS corrected,
       count(DISTINCT r.adjust_id) AS adjust_entries,
       bool_and(a.kind = 'adjust' AND a.user_id = r.user_id) AS adjust_entry_matches
  FROM quota.rerated r JOIN quota.ledger a ON a.entry_id = r.adjust_id
 GROUP BY r.user_id ORDER BY r.user_id COLLATE "C";
-- again with the same prices: nothing more
SET ROLE regress_stmt_dba;
SELECT * FROM quota_rerate('stmt-m', '2026-09-30 16:00+00', '2026-10-31 16:00+00', 1, NULL);
-- a wider range at other prices: only the remaining difference
SELECT * FROM quota_rerate('stmt-m', '2026-09-01', '2026-12-01', 1, 3)
 ORDER BY user_id COLLATE "C";
SELECT * FROM quota_rerate('stmt-m', '2026-09-01', '2026-12-01', 1, 3);
-- a free model: nothing to correct
SELECT * FROM quota_rerate('stmt-free', '2026-09-01', '2026-12-01', 0, 0);
RESET ROLE;
-- the balance is still the sum of the ledger; the closed statements are
-- intact (the corrections are dated in December)
SELECT p.balance = (SELECT sum(l.amount) FROM quota.ledger l WHERE l.pool = p.pool) AS exact
  FROM quota.pools p WHERE p.pool = 'Stmt Lab';
SELECT * FROM quota_verify_statements();
-- the members see their own re-rated charges
SET ROLE regress_stmt_ann;
SELECT DISTINCT user_id FROM quota.rerated;
RESET ROLE;

-- Errors of quota_rerate (each posts nothing)
SET ROLE regress_stmt_dba;
SELECT * FROM quota_rerate('stmt-m', '2026-09-01', '2026-10-01', -1, 4);
SELECT * FROM quota_rerate('stmt-m', '2026-09-01', '2026-10-01', 1, 4, cached_input_price => -0.5);
SELECT * FROM quota_rerate('stmt-m', '2026-10-01', '2026-10-01', 1, 4);
SELECT * FROM quota_rerate('stmt-m', '2026-10-01', '2026-09-01', 1, 4);
SELECT * FROM quota_rerate('no-such-model', '2026-09-01', '2026-10-01', 1, 4);
SELECT * FROM quota_rerate(NULL, '2026-09-01', '2026-10-01', 1, 4);
SELECT * FROM quota_rerate('stmt-m', NULL, '2026-10-01', 1, 4);
SELECT * FROM quota_rerate('stmt-m', '2026-09-01', NULL, 1, 4);
RESET ROLE;
SELECT count(*) AS adjust_entries FROM quota.ledger WHERE note LIKE 're-rated%';

-- verify names a change made behind quota's back (triggers disabled by a
-- superuser): here an update of a statement's figures, rolled back
BEGIN;
ALTER TABLE quota.statements DISABLE TRIGGER statements_append_only;
UPDATE quota.statements SET topups = topups + 1, closing_balance = closing_balance + 1
 WHERE pool = 'Stmt NY' AND period_start = '2026-09-01 00:00-04';
SELECT pool, problem FROM quota_verify_statements('Stmt NY');
ROLLBACK;
-- a changed fingerprint: the entries still match the hash
BEGIN;
ALTER TABLE quota.statement_entries DISABLE TRIGGER statement_entries_append_only;
UPDATE quota.statement_entries SET fingerprints[1] = 0
 WHERE statement_id = (SELECT statement_id FROM quota.statements
                        WHERE pool = 'Stmt Lab' ORDER BY period_start LIMIT 1);
SELECT pool, problem FROM quota_verify_statements('Stmt Lab');
ROLLBACK;

\c contrib_regression
DROP DATABASE regress_statements;
DROP ROLE regress_stmt_head, regress_stmt_ann, regress_stmt_bob, regress_stmt_dba;

-- The entries are read in the heap's order and hashed in entry_id order
-- (src/statement.c): neighbours written in swapped order are put back in
-- order as they are read; 45,000 entries written in descending entry_id
-- order (as a restore could write them; more than the 40,000 lines that
-- wait for their place) are read again, sorted.  Either
-- way the figures, lines and hashes are those of the auditor's query.
CREATE DATABASE regress_statements_heap;
\c regress_statements_heap
SET client_min_messages = warning;
CREATE EXTENSION quota;
RESET client_min_messages;
SET search_path = public, quota;
SET timezone = 'UTC';
INSERT INTO quota.pool_defs (pool, kind, allowance, reset_timezone, period_funds, created_at)
VALUES ('Heap', 'shared', 100, 'UTC', 100, '2026-10-01 00:00+00'),
       ('Swapped', 'shared', 100, 'UTC', 100, '2026-10-01 00:00+00');
BEGIN;
SET LOCAL row_security = off;
INSERT INTO quota.ledger (entry_id, at, pool, user_id, kind, amount, model, service,
                          original_cost, final_cost, note)
OVERRIDING SYSTEM VALUE
SELECT CASE WHEN p = 'Heap' THEN 100000 - g ELSE 200000 + (g # 1) END,
       '2026-10-01 00:00+00'::timestamptz + g * interval '50 seconds', p,
       CASE WHEN g % 2 = 0 THEN 'u' || g % 3 END,
       CASE WHEN g % 2 = 0 THEN 'charge' ELSE 'topup' END,
       CASE WHEN g % 2 = 0 THEN -0.002 ELSE 0.003 END,
       CASE WHEN g % 2 = 0 THEN 'm' END, CASE WHEN g % 2 = 0 THEN 'chat' END,
       CASE WHEN g % 2 = 0 THEN 0.0025 END, CASE WHEN g % 2 = 0 THEN 0.002 END, 'n' || g
  FROM (VALUES ('Heap', 45000), ('Swapped', 1000)) v(p, n), generate_series(1, v.n) g
 ORDER BY p, g;
COMMIT;
SET log_temp_files = -1;     -- the sort may spill, depending on work_mem
SET client_min_messages = debug1;
SELECT quota_close_statements('2026-11-01 00:00+00');
RESET client_min_messages;
RESET log_temp_files;
SELECT pool, opening_balance, grants, topups, charges, original, adjustments, closing_balance,
       entries
  FROM quota.statements ORDER BY pool COLLATE "C";
SELECT s.pool, l.user_id, l.model, l.service, l.requests, l.original_cost, l.final_cost
  FROM quota.statement_lines l JOIN quota.statements s USING (statement_id)
 ORDER BY s.pool COLLATE "C", l.user_id COLLATE "C";
WITH e AS (
    SELECT s.statement_id,
           string_agg(concat_ws('|', l.entry_id,
               (extract(epoch FROM l.at) * 1000000)::bigint,
               coalesce(char_length(l.user_id) || ':' || l.user_id, '-'),
               coalesce(char_length(l.kind) || ':' || l.kind, '-'),
               l.amount::text,
               coalesce(char_length(l.model) || ':' || l.model, '-'),
               coalesce(char_length(l.service) || ':' || l.service, '-'),
               coalesce(char_length(l.conversation_id) || ':' || l.conversation_id, '-'),
               coalesce(char_length(l.request_id) || ':' || l.request_id, '-'),
               coalesce(l.input_tokens::text, '-'),
               coalesce(l.cached_input_tokens::text, '-'),
               coalesce(l.output_tokens::text, '-'),
               coalesce(l.original_cost::text, '-'),
               coalesce(l.discount_rate::text, '-'),
               coalesce(l.final_cost::text, '-'),
               coalesce(l.balance_after::text, '-'),
               coalesce(char_length(l.note) || ':' || l.note, '-'),
               coalesce(l.price_id::text, '-')) || E'\n', '' ORDER BY l.entry_id) AS lines
      FROM quota.statements s JOIN quota.ledger l
        ON l.pool = s.pool AND l.at < s.period_end
       AND (l.at >= s.period_start OR s.previous_hash IS NULL)
     GROUP BY s.statement_id)
SELECT s.pool,
       s.hash = encode(sha256(convert_to(
           concat_ws('|', 'quota statement 1', char_length(s.pool) || ':' || s.pool,
                     (extract(epoch FROM s.period_start) * 1000000)::bigint,
                     (extract(epoch FROM s.period_end) * 1000000)::bigint,
                     coalesce(s.previous_hash, '-')) || E'\n'
           || coalesce(e.lines, '')
           || concat_ws('|', s.opening_balance, s.grants, s.topups, s.charges, s.original,
                        s.resets, s.adjustments, s.expired, s.closing_balance, s.entries)
           || E'\n', 'UTF8')), 'hex') AS auditor_agrees
  FROM quota.statements s LEFT JOIN e USING (statement_id)
 ORDER BY s.pool COLLATE "C";
SELECT * FROM quota_verify_statements();
-- a change is still named, read in either order
BEGIN;
ALTER TABLE quota.ledger DISABLE TRIGGER USER;
UPDATE quota.ledger SET note = 'forged' WHERE entry_id IN (99000, 200500);
SELECT pool, problem FROM quota_verify_statements() ORDER BY pool COLLATE "C";
ROLLBACK;

\c contrib_regression
DROP DATABASE regress_statements_heap;
