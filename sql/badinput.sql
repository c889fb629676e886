-- badinput: every quota_* function, every argument, tried with NULL,
-- negative, zero, boundary and overflow values, unknown names, a 100,000
-- character string and an SQL injection string, the other arguments valid.
-- Each call runs in a subtransaction that is always undone (a success is
-- undone too), and the SQLSTATE it gave is listed.  A fingerprint of every
-- quota table and of every pool's escrow figures must be the same after
-- the sweep: no failed call leaves anything behind, in tables or in shared
-- memory.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT quota_set_model('bad-m', 1, 2);
SELECT quota_set_user('bad_u', '{bad_g}');
SELECT quota_create_pool('Bad Pool', 100, reset_cron => '0 1 * * 5');
SELECT quota_add_member('Bad Pool', 'bad_u');
SELECT quota_set_discount('chat', 0.5, 'bad-m') AS bad_discount \gset
SELECT request_id FROM quota_reserve('bad-m', 10, 10, 'bad-held', user_id => 'bad_u');
SELECT quota_grant_credits('Bad Pool', 1, note => 'bad grant') AS bad_grant \gset

-- a valid value for each argument name
CREATE TEMP TABLE valid (arg text PRIMARY KEY, val text NOT NULL);
INSERT INTO valid VALUES
    ('model', $$'bad-m'$$), ('input_price', $$'1'$$), ('output_price', $$'2'$$),
    ('cached_input_price', $$'0.5'$$), ('request_price', $$'0'$$),
    ('service', $$'chat'$$), ('enabled', 'true'), ('rate', '0.5'),
    ('pool', $$'Bad Pool'$$), ('valid_from', $$'2026-01-01'$$),
    ('valid_until', $$'2036-01-01'$$), ('id', :'bad_discount'),
    ('user_id', $$'bad_u'$$), ('groups', $$'{bad_g}'$$), ('allowance', $$'10'$$),
    ('kind', $$'shared'$$), ('reset_cron', $$'0 1 * * 5'$$),
    ('reset_timezone', $$'UTC'$$), ('reset_policy', $$'restore'$$),
    ('owner', $$'bad_u'$$), ('member_limit', $$'5'$$), ('group_name', $$'bad_g'$$),
    ('role', $$'member'$$), ('models', $$'{bad-m}'$$), ('amount', $$'1'$$),
    ('note', $$'a note'$$), ('input_tokens', '10'), ('output_tokens', '10'),
    ('cached_input_tokens', '0'), ('max_input_tokens', '10'),
    ('max_output_tokens', '10'), ('request_id', $$'bad-new'$$),
    ('conversation_id', $$'conv'$$), ('ttl', $$'1 minute'$$),
    ('cron', $$'0 1 * * 5'$$), ('timezone', $$'UTC'$$), ('after', $$'2026-01-01'$$),
    ('at', $$'2026-06-01'$$), ('per', $$'day'$$),
    ('requests_per_minute', '3'), ('tokens_per_minute', '100'), ('scope', $$'member'$$),
    ('since', $$'2026-01-01'$$), ('until', $$'2026-06-01'$$),
    ('expires_at', $$'2036-01-01'$$), ('priority', '10'), ('grant_id', :'bad_grant'),
    ('pools', $$'{Bad Pool}'$$);

-- the bad values tried for each argument type
CREATE TEMP TABLE bad (typ regtype, ord int, label text, val text);
INSERT INTO bad VALUES
    ('text', 1, 'null', 'NULL'), ('text', 2, 'empty', $$''$$),
    ('text', 3, 'unknown', $$'no such thing'$$),
    ('text', 4, 'long', $$repeat('x', 100000)$$),
    ('text', 5, 'inject', $$'x''); DROP TABLE quota.ledger; --'$$),
    ('bigint', 1, 'null', 'NULL'), ('bigint', 2, 'neg', '-1'), ('bigint', 3, 'zero', '0'),
    ('bigint', 4, 'max', '9223372036854775807'),
    ('integer', 1, 'null', 'NULL'), ('integer', 2, 'neg', '-1'), ('integer', 3, 'zero', '0'),
    ('integer', 4, 'max', '2147483647'),
    ('quota.credits', 1, 'null', 'NULL'), ('quota.credits', 2, 'neg', $$'-1'$$),
    ('quota.credits', 3, 'zero', $$'0'$$),
    ('quota.credits', 4, 'max', $$'9223372036.854775807'$$),
    ('numeric', 1, 'null', 'NULL'), ('numeric', 2, 'neg', '-1'), ('numeric', 3, 'zero', '0'),
    ('numeric', 4, 'above1', '1.5'), ('numeric', 5, 'nan', $$'NaN'$$),
    ('numeric', 6, 'max', '9223372036.854775807'), ('numeric', 7, 'huge', '1e12'),
    ('boolean', 1, 'null', 'NULL'),
    ('timestamptz', 1, 'null', 'NULL'), ('timestamptz', 2, 'inf', $$'infinity'$$),
    ('timestamptz', 3, '-inf', $$'-infinity'$$),
    ('interval', 1, 'null', 'NULL'), ('interval', 2, 'zero', $$'0'$$),
    ('interval', 3, 'neg', $$'-1 s'$$), ('interval', 4, 'huge', $$'100000 years'$$),
    ('text[]', 1, 'null', 'NULL'), ('text[]', 2, 'empty', $$'{}'$$),
    ('text[]', 3, 'nullelem', $$'{NULL}'$$), ('text[]', 4, 'long', $$ARRAY[repeat('x', 100000)]$$);

-- everything a failed call could have touched
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.models t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.discounts t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.users t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.pool_defs t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.pool_members t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.pool_groups t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.personal_policies t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.user_state t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.ledger t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.reservations t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.alerts t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.rate_limits t),
        (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM quota.credit_grants t),
        (SELECT string_agg(pool || '=' || quota._pool_money(pool)::text, ',' ORDER BY pool)
           FROM quota.pool_defs),
        (SELECT string_agg(jobname || schedule, ',' ORDER BY jobname) FROM cron.job)))
$$;
SELECT pg_temp.fingerprint() AS before \gset

CREATE TEMP TABLE results (fn text, argpos int, arg text, ord int, label text, state text);
DO $$
DECLARE
    f record;
    a record;
    b record;
    args text;
    sql text;
    st text;
BEGIN
    FOR f IN SELECT p.oid, p.proname, p.pronargs
               FROM pg_proc p
              WHERE p.pronamespace = 'quota'::regnamespace
                AND p.proname LIKE 'quota\_%' AND p.pronargs > 0
              ORDER BY p.proname LOOP
        FOR a IN SELECT n.name, n.pos, t.typ
                   FROM pg_proc p,
                        unnest(p.proargnames[1:p.pronargs]) WITH ORDINALITY n(name, pos),
                        unnest(p.proargtypes::regtype[]) WITH ORDINALITY t(typ, pos)
                  WHERE p.oid = f.oid AND n.pos = t.pos ORDER BY n.pos LOOP
            FOR b IN SELECT * FROM bad WHERE bad.typ = a.typ ORDER BY ord LOOP
                SELECT string_agg(format('%I => %s::%s', n.name,
                                         CASE WHEN n.pos = a.pos THEN b.val
                                              WHEN f.proname = 'quota_create_pool' AND n.name = 'pool'
                                              THEN $q$'Bad New'$q$
                                              WHEN f.proname = 'quota_create_pool' AND n.name = 'kind'
                                              THEN $q$'personal'$q$
                                              ELSE (SELECT v.val FROM valid v WHERE v.arg = n.name) END,
                                         t.typ), ', ' ORDER BY n.pos)
                  INTO args
                  FROM pg_proc p,
                       unnest(p.proargnames[1:p.pronargs]) WITH ORDINALITY n(name, pos),
                       unnest(p.proargtypes::regtype[]) WITH ORDINALITY t(typ, pos)
                 WHERE p.oid = f.oid AND n.pos = t.pos;
                sql := format('SELECT quota.%I(%s)', f.proname, args);
                BEGIN
                    EXECUTE sql;
                    RAISE EXCEPTION 'undo' USING ERRCODE = 'QZ999';
                EXCEPTION WHEN OTHERS THEN
                    st := CASE WHEN SQLSTATE = 'QZ999' THEN 'ok' ELSE SQLSTATE END;
                END;
                INSERT INTO results VALUES (f.proname, a.pos, a.name, b.ord, b.label, st);
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;

-- nothing changed, in tables or in the escrow
SELECT pg_temp.fingerprint() = :'before' AS unchanged;
SELECT count(*) AS calls, count(*) FILTER (WHERE state <> 'ok') AS refused FROM results;
-- no call failed with an internal error, and none was refused for lack of privilege
SELECT fn, arg, label, state FROM results WHERE state IN ('XX000', '42501', '42883', '42P01');
-- the SQLSTATE of each bad value, per function and argument
SELECT fn, arg, string_agg(label || ' ' || state, ', ' ORDER BY ord) AS results
  FROM results GROUP BY fn, argpos, arg ORDER BY fn, argpos;
RESET client_min_messages;
