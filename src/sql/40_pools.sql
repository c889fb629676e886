
-- ---------------------------------------------------------------------------
-- Users, pools and membership
-- ---------------------------------------------------------------------------

CREATE TABLE quota.users (
    user_id     text PRIMARY KEY CHECK (char_length(user_id) BETWEEN 1 AND 200),
    groups      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    fallback_pools text[]
);
COMMENT ON TABLE quota.users IS
    'the user directory: user ids and their groups (student, staff, dept:physics, ...)';
COMMENT ON COLUMN quota.users.fallback_pools IS
    'the pools to try, in order, when the active pool cannot pay (quota_set_fallback); NULL: none';

CREATE TABLE quota.pool_defs (
    pool_id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    pool            text PRIMARY KEY CHECK (char_length(pool) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('personal', 'shared')),
    owner           text REFERENCES quota.users (user_id),
    allowance       quota.credits NOT NULL CHECK (allowance >= '0'),
    reset_cron      text,
    reset_timezone  text NOT NULL DEFAULT 'UTC',
    reset_policy    text NOT NULL DEFAULT 'restore'
                    CHECK (reset_policy IN ('restore', 'add', 'none')),
    next_reset_at   timestamptz,
    period_start    timestamptz NOT NULL DEFAULT now(),
    period_funds    quota.credits NOT NULL DEFAULT 0,
    member_limit    quota.credits CHECK (member_limit >= '0'),
    warn_at         numeric[] NOT NULL DEFAULT '{0.8,0.95}'
                    CHECK (0 < ALL (warn_at) AND 1 >= ALL (warn_at)),
    enabled         boolean NOT NULL DEFAULT true,
    models          text[],
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_expiry_at  timestamptz,
    CHECK (kind <> 'personal' OR owner IS NOT NULL)
);
CREATE INDEX pool_defs_owner ON quota.pool_defs (owner) WHERE owner IS NOT NULL;
COMMENT ON TABLE quota.pool_defs IS
    'pool configuration (read it through quota.pools, which adds the balance)';
COMMENT ON COLUMN quota.pool_defs.models IS
    'models the pool pays for; NULL: every enabled model';
COMMENT ON COLUMN quota.pool_defs.period_start IS
    'start of the current period (the last reset); member usage and warnings count from here';
COMMENT ON COLUMN quota.pool_defs.next_expiry_at IS
    'the earliest expiry of the pool''s live credit grants (quota.credit_grants), applied lazily by the first call after it';
COMMENT ON COLUMN quota.pool_defs.period_funds IS
    'the balance the period started with plus every non-charge entry since: usage in the period is period_funds - balance';

CREATE TABLE quota.pool_members (
    pool            text NOT NULL REFERENCES quota.pool_defs (pool),
    user_id         text NOT NULL REFERENCES quota.users (user_id),
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
    member_limit    quota.credits CHECK (member_limit >= '0'),
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pool, user_id)
);
CREATE INDEX pool_members_user ON quota.pool_members (user_id);
COMMENT ON TABLE quota.pool_members IS
    'direct members and pool administrators, with optional per-member limits';

CREATE TABLE quota.pool_groups (
    pool        text NOT NULL REFERENCES quota.pool_defs (pool),
    group_name  text NOT NULL CHECK (group_name <> ''),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pool, group_name)
);
CREATE INDEX pool_groups_group ON quota.pool_groups (group_name);
COMMENT ON TABLE quota.pool_groups IS 'groups whose every user is a member of the pool';

CREATE TABLE quota.personal_policies (
    group_name      text PRIMARY KEY CHECK (group_name <> ''),
    allowance       quota.credits NOT NULL CHECK (allowance >= '0'),
    reset_cron      text NOT NULL,
    reset_timezone  text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE quota.personal_policies IS
    'groups whose users get a personal pool named personal:<user_id>';

CREATE TABLE quota.user_state (
    user_id         text PRIMARY KEY,
    active_pool     text NOT NULL,
    switched_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE quota.user_state IS 'the pool each user last switched to';

-- ---------------------------------------------------------------------------
-- The ledger and reservations
-- ---------------------------------------------------------------------------

CREATE TABLE quota.ledger (
    entry_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT now(),
    pool                text NOT NULL,
    user_id             text,
    kind                text NOT NULL
                        CHECK (kind IN ('grant', 'charge', 'topup', 'adjust', 'reset', 'expire')),
    amount              quota.credits NOT NULL,
    model               text,
    service             text,
    conversation_id     text,
    request_id          text,
    input_tokens        bigint,
    cached_input_tokens bigint,
    output_tokens       bigint,
    original_cost       quota.credits,
    discount_rate       numeric,
    final_cost          quota.credits,
    balance_after       quota.credits,
    note                text,
    price_id            integer,
    grant_id            bigint
);
CREATE UNIQUE INDEX ledger_request_id ON quota.ledger (request_id)
    WHERE request_id IS NOT NULL;
-- A pool's entries by pool (deduplicated: a few bytes per entry) and by
-- time.  Not (pool, at): every pool appends at its own end of such an
-- index, nbtree splits those pages in half, and it grows half empty at
-- 76 bytes per entry against 9 + 23 for these two.
CREATE INDEX ledger_pool ON quota.ledger (pool);
CREATE INDEX ledger_at ON quota.ledger (at);
CREATE INDEX ledger_user_at ON quota.ledger (user_id, at);
COMMENT ON TABLE quota.ledger IS
    'every balance movement; a pool''s balance is the sum of its amounts';
COMMENT ON COLUMN quota.ledger.amount IS 'signed: charges are negative';
COMMENT ON COLUMN quota.ledger.request_id IS 'idempotency key of a charge';
COMMENT ON COLUMN quota.ledger.grant_id IS
    'for grant and expire entries of credit grants: the grant (quota.pool_grants)';
COMMENT ON COLUMN quota.ledger.balance_after IS
    'for charges: the pool''s balance after the charge, as the charging transaction saw it';

CREATE TABLE quota.reservations (
    request_id          text PRIMARY KEY,
    pool                text NOT NULL,
    user_id             text NOT NULL,
    model               text NOT NULL,
    max_input_tokens    bigint NOT NULL,
    max_output_tokens   bigint NOT NULL,
    held                quota.credits NOT NULL CHECK (held >= '0'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    settled_at          timestamptz,
    outcome             text CHECK (outcome IN ('charged', 'released', 'expired')),
    charge_id           bigint
);
CREATE INDEX reservations_active ON quota.reservations (pool, expires_at)
    WHERE settled_at IS NULL;
COMMENT ON TABLE quota.reservations IS
    'holds of streaming requests: active while settled_at is null';

-- The ledger is append-only, for everyone.
CREATE FUNCTION quota._append_only() RETURNS trigger
    AS 'MODULE_PATHNAME', 'quota_append_only'
    LANGUAGE C;
COMMENT ON FUNCTION quota._append_only() IS
    'internal: refuse changes to the ledger (but quota_archive()''s moves)';

CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION quota._append_only();
COMMENT ON TRIGGER ledger_append_only ON quota.ledger IS 'the ledger is append-only';
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON quota.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION quota._append_only();
COMMENT ON TRIGGER ledger_no_truncate ON quota.ledger IS 'the ledger is append-only';

-- Rows enter the ledger through quota's own functions only, or by the load
-- of a restore (row_security off) into an empty ledger, which is booked into
-- the balances (src/guard.c).  ENABLE ALWAYS: session_replication_role does
-- not silence these triggers.
CREATE FUNCTION quota._ledger_guard() RETURNS trigger
    AS 'MODULE_PATHNAME', 'quota_ledger_guard'
    LANGUAGE C;
COMMENT ON FUNCTION quota._ledger_guard() IS
    'internal: let into the ledger only the rows quota''s functions write, or a restore''s load into an empty ledger';
CREATE TRIGGER ledger_insert_guard BEFORE INSERT ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION quota._ledger_guard();
COMMENT ON TRIGGER ledger_insert_guard ON quota.ledger IS
    'rows enter the ledger through quota''s functions only (or a restore into an empty ledger)';
ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_insert_guard;
ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_append_only;
ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_no_truncate;

-- Backends cache who may use which pool (route.c); any change to these
-- tables empties every backend's cache once it commits.
CREATE FUNCTION quota._routes_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'quota_routes_changed'
    LANGUAGE C;
COMMENT ON FUNCTION quota._routes_changed() IS
    'internal: mark the transaction as changing users or pools, so that every backend''s route cache is emptied at its commit';
CREATE TRIGGER users_routes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.users FOR EACH STATEMENT EXECUTE FUNCTION quota._routes_changed();
COMMENT ON TRIGGER users_routes ON quota.users IS 'empty the route caches at commit';
CREATE TRIGGER user_state_routes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.user_state FOR EACH STATEMENT EXECUTE FUNCTION quota._routes_changed();
COMMENT ON TRIGGER user_state_routes ON quota.user_state IS 'empty the route caches at commit';
CREATE TRIGGER pool_defs_routes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.pool_defs FOR EACH STATEMENT EXECUTE FUNCTION quota._routes_changed();
COMMENT ON TRIGGER pool_defs_routes ON quota.pool_defs IS 'empty the route caches at commit';
CREATE TRIGGER pool_members_routes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.pool_members FOR EACH STATEMENT EXECUTE FUNCTION quota._routes_changed();
COMMENT ON TRIGGER pool_members_routes ON quota.pool_members IS 'empty the route caches at commit';
CREATE TRIGGER pool_groups_routes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.pool_groups FOR EACH STATEMENT EXECUTE FUNCTION quota._routes_changed();
COMMENT ON TRIGGER pool_groups_routes ON quota.pool_groups IS 'empty the route caches at commit';

-- ---------------------------------------------------------------------------
-- Balances (C): the escrow of escrow.c
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota._pool_money(pool text, OUT balance quota.credits,
        OUT held quota.credits, OUT available quota.credits)
    AS 'MODULE_PATHNAME', 'quota_pool_money'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION quota._pool_money(text) IS
    'internal: a pool''s balance, held and available amounts as this transaction sees them';

CREATE FUNCTION quota._post(pool text, kind text, amount quota.credits,
        user_id text, note text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'quota_post'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._post(text, text, quota.credits, text, text) IS
    'internal: write a non-charge ledger entry (grant, topup, adjust, reset) through the escrow';

-- ---------------------------------------------------------------------------
-- Configuration functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota._pool_exists(pool text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM quota.pool_defs p WHERE p.pool = _pool_exists.pool) THEN
        RAISE EXCEPTION 'pool "%" does not exist', pool
            USING ERRCODE = 'undefined_object',
                  HINT = 'Pools are listed in quota.pools.';
    END IF;
END
$$;
COMMENT ON FUNCTION quota._pool_exists(text) IS 'internal: raise 42704 for an unknown pool';

CREATE FUNCTION quota._user_exists(user_id text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM quota.users u WHERE u.user_id = _user_exists.user_id) THEN
        RAISE EXCEPTION 'user "%" does not exist', user_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Register users with quota_set_user().';
    END IF;
END
$$;
COMMENT ON FUNCTION quota._user_exists(text) IS 'internal: raise 42704 for an unknown user';

CREATE FUNCTION quota._may_manage(pool text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF quota._caller_is_admin() THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM quota.pool_members m
                   WHERE m.pool = _may_manage.pool AND m.role = 'admin'
                     AND m.user_id = quota.current_user_id()) THEN
        RAISE EXCEPTION 'permission denied to manage pool "%"', pool
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only quota_admin and the pool''s administrators manage its members.';
    END IF;
END
$$;
COMMENT ON FUNCTION quota._may_manage(text) IS
    'internal: raise 42501 unless the caller is quota_admin or an administrator of the pool';

CREATE FUNCTION quota._check_schedule(reset_cron text, reset_timezone text,
        reset_policy text) RETURNS timestamptz
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF reset_policy IS NOT NULL AND reset_policy NOT IN ('restore', 'add', 'none') THEN
        RAISE EXCEPTION 'invalid reset policy "%"', reset_policy
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''restore'', ''add'' or ''none''.';
    END IF;
    IF reset_timezone IS NULL THEN
        PERFORM quota._require(ARRAY['reset_timezone'], ARRAY[true]);
    END IF;
    IF reset_cron IS NULL THEN
        -- validate the zone even without a schedule
        PERFORM quota.quota_next_reset('0 0 * * *', reset_timezone, now());
        RETURN NULL;
    END IF;
    RETURN CASE WHEN reset_policy = 'none' THEN NULL
                ELSE quota.quota_next_reset(reset_cron, reset_timezone, now()) END;
END
$$;
COMMENT ON FUNCTION quota._check_schedule(text, text, text) IS
    'internal: validate a schedule (22023) and return its next reset time';

CREATE FUNCTION quota.quota_set_user(user_id text, groups text[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['user_id', 'groups'],
                           ARRAY[user_id IS NULL, groups IS NULL]);
    IF user_id = '' OR char_length(user_id) > 200 THEN
        RAISE EXCEPTION 'invalid user id "%"', user_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A user id has 1 to 200 characters.';
    END IF;
    IF array_position(groups, NULL) IS NOT NULL OR '' = ANY (groups) THEN
        RAISE EXCEPTION 'group names must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass group names such as ''student'' or ''dept:physics''.';
    END IF;
    INSERT INTO quota.users AS u (user_id, groups)
    VALUES (quota_set_user.user_id, ARRAY(SELECT DISTINCT g FROM unnest(groups) g ORDER BY g))
    ON CONFLICT ON CONSTRAINT users_pkey DO UPDATE
        SET groups = excluded.groups, updated_at = now();
    PERFORM quota._apply_personal_policies(quota_set_user.user_id, quota_set_user.groups);
END
$$;
COMMENT ON FUNCTION quota.quota_set_user(text, text[]) IS
    'register a user or replace their groups; personal-account policies of the groups apply';

CREATE FUNCTION quota.quota_create_pool(pool text, allowance numeric,
        kind text DEFAULT 'shared', reset_cron text DEFAULT NULL,
        reset_timezone text DEFAULT 'UTC', reset_policy text DEFAULT 'restore',
        owner text DEFAULT NULL, member_limit numeric DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    next_at timestamptz;
BEGIN
    PERFORM quota._require(ARRAY['pool', 'allowance', 'kind', 'reset_timezone', 'reset_policy'],
        ARRAY[pool IS NULL, allowance IS NULL, kind IS NULL,
              reset_timezone IS NULL, reset_policy IS NULL]);
    IF pool = '' OR char_length(pool) > 200 THEN
        RAISE EXCEPTION 'invalid pool name "%"', pool
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A pool name has 1 to 200 characters.';
    END IF;
    IF kind NOT IN ('personal', 'shared') THEN
        RAISE EXCEPTION 'invalid pool kind "%"', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''personal'' or ''shared''.';
    END IF;
    IF allowance < 0 THEN
        RAISE EXCEPTION 'allowance of pool "%" must not be negative', pool
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF member_limit < 0 THEN
        RAISE EXCEPTION 'member limit of pool "%" must not be negative', pool
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind = 'personal' AND owner IS NULL THEN
        RAISE EXCEPTION 'a personal pool needs an owner'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass owner => the user the pool belongs to.';
    END IF;
    IF owner IS NOT NULL THEN
        PERFORM quota._user_exists(owner);
    END IF;
    next_at := quota._check_schedule(reset_cron, reset_timezone, reset_policy);
    IF EXISTS (SELECT FROM quota.pool_defs p WHERE p.pool = quota_create_pool.pool) THEN
        RAISE EXCEPTION 'pool "%" already exists', pool
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Change its configuration with UPDATE quota.pools.';
    END IF;
    INSERT INTO quota.pool_defs (pool, kind, owner, allowance, reset_cron,
                                 reset_timezone, reset_policy, next_reset_at,
                                 member_limit)
    VALUES (pool, kind, owner, allowance, reset_cron, reset_timezone,
            reset_policy, next_at, member_limit);
    PERFORM quota._post(pool, 'grant', allowance::quota.credits, NULL, 'initial allowance');
END
$$;
COMMENT ON FUNCTION quota.quota_create_pool(text, numeric, text, text, text, text,
                                            text, numeric) IS
    'create a personal or shared pool; its balance starts at the allowance';

CREATE FUNCTION quota._ensure_personal(user_id text, allowance quota.credits,
        reset_cron text, reset_timezone text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    name text := 'personal:' || user_id;
BEGIN
    IF EXISTS (SELECT FROM quota.pool_defs p WHERE p.pool = name) THEN
        UPDATE quota.pool_defs p
           SET allowance = _ensure_personal.allowance,
               reset_cron = _ensure_personal.reset_cron,
               reset_timezone = _ensure_personal.reset_timezone
         WHERE p.pool = name
           AND (p.allowance, p.reset_cron, p.reset_timezone)
               IS DISTINCT FROM (_ensure_personal.allowance, _ensure_personal.reset_cron,
                                 _ensure_personal.reset_timezone);
        RETURN;
    END IF;
    PERFORM quota.quota_create_pool(name, allowance, 'personal', reset_cron,
                                    reset_timezone, 'restore', user_id);
END
$$;
COMMENT ON FUNCTION quota._ensure_personal(text, quota.credits, text, text) IS
    'internal: create or update the personal pool of a user';

CREATE FUNCTION quota.quota_personal_policy(group_name text, allowance numeric,
        reset_cron text DEFAULT '0 1 * * 5', reset_timezone text DEFAULT 'UTC')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    u record;
BEGIN
    PERFORM quota._require(ARRAY['group_name', 'allowance', 'reset_cron', 'reset_timezone'],
        ARRAY[group_name IS NULL, allowance IS NULL, reset_cron IS NULL,
              reset_timezone IS NULL]);
    IF group_name = '' THEN
        RAISE EXCEPTION 'group name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF allowance < 0 THEN
        RAISE EXCEPTION 'allowance must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM quota._check_schedule(reset_cron, reset_timezone, 'restore');
    INSERT INTO quota.personal_policies AS p (group_name, allowance, reset_cron, reset_timezone)
    VALUES (group_name, allowance, reset_cron, reset_timezone)
    ON CONFLICT ON CONSTRAINT personal_policies_pkey DO UPDATE
        SET allowance = excluded.allowance, reset_cron = excluded.reset_cron,
            reset_timezone = excluded.reset_timezone, updated_at = now();
    FOR u IN SELECT us.user_id FROM quota.users us
             WHERE quota_personal_policy.group_name = ANY (us.groups)
             ORDER BY us.user_id LOOP
        PERFORM quota._ensure_personal(u.user_id, allowance::quota.credits, reset_cron, reset_timezone);
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota.quota_personal_policy(text, numeric, text, text) IS
    'give every user of a group a personal pool personal:<user_id> (existing users now, new users when set)';

CREATE FUNCTION quota.quota_add_member(pool text, user_id text,
        role text DEFAULT 'member', member_limit numeric DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'user_id', 'role'],
        ARRAY[pool IS NULL, user_id IS NULL, role IS NULL]);
    IF role NOT IN ('member', 'admin') THEN
        RAISE EXCEPTION 'invalid member role "%"', role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''member'' or ''admin''.';
    END IF;
    IF member_limit < 0 THEN
        RAISE EXCEPTION 'member limit must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._user_exists(user_id);
    PERFORM quota._may_manage(pool);
    IF role = 'admin' AND NOT quota._caller_is_admin() THEN
        RAISE EXCEPTION 'permission denied to appoint pool administrators'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only quota_admin appoints pool administrators.';
    END IF;
    INSERT INTO quota.pool_members AS m (pool, user_id, role, member_limit)
    VALUES (pool, user_id, role, member_limit)
    ON CONFLICT ON CONSTRAINT pool_members_pkey DO UPDATE
        SET role = excluded.role, member_limit = excluded.member_limit;
END
$$;
COMMENT ON FUNCTION quota.quota_add_member(text, text, text, numeric) IS
    'add a member (or pool administrator) to a pool, with an optional member limit';

CREATE FUNCTION quota.quota_remove_member(pool text, user_id text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'user_id'], ARRAY[pool IS NULL, user_id IS NULL]);
    PERFORM quota._pool_exists(pool);
    PERFORM quota._may_manage(pool);
    DELETE FROM quota.pool_members m
     WHERE m.pool = quota_remove_member.pool AND m.user_id = quota_remove_member.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user "%" is not a member of pool "%"', user_id, pool
            USING ERRCODE = 'undefined_object',
                  HINT = 'Members are listed in quota.pool_members; group members are removed with quota_revoke_group().';
    END IF;
    DELETE FROM quota.user_state s
     WHERE s.user_id = quota_remove_member.user_id AND s.active_pool = quota_remove_member.pool;
END
$$;
COMMENT ON FUNCTION quota.quota_remove_member(text, text) IS
    'remove a direct member from a pool; requests in flight still settle on it';

CREATE FUNCTION quota.quota_grant_group(pool text, group_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'group_name'], ARRAY[pool IS NULL, group_name IS NULL]);
    IF group_name = '' THEN
        RAISE EXCEPTION 'group name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM quota._pool_exists(pool);
    INSERT INTO quota.pool_groups (pool, group_name) VALUES (pool, group_name)
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION quota.quota_grant_group(text, text) IS
    'make every user of a group a member of the pool';

CREATE FUNCTION quota.quota_revoke_group(pool text, group_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'group_name'], ARRAY[pool IS NULL, group_name IS NULL]);
    PERFORM quota._pool_exists(pool);
    DELETE FROM quota.pool_groups g
     WHERE g.pool = quota_revoke_group.pool AND g.group_name = quota_revoke_group.group_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'group "%" is not granted pool "%"', group_name, pool
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION quota.quota_revoke_group(text, text) IS
    'withdraw a group''s membership of the pool';

CREATE FUNCTION quota.quota_set_pool_models(pool text, models text[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    missing text;
BEGIN
    PERFORM quota._require(ARRAY['pool'], ARRAY[pool IS NULL]);
    PERFORM quota._pool_exists(pool);
    IF array_position(models, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'model list for pool "%" contains a null', pool
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'List model names, or pass NULL to permit every model.';
    END IF;
    SELECT m INTO missing FROM unnest(models) m
     WHERE NOT EXISTS (SELECT FROM quota.models x WHERE x.model = m)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', missing
            USING ERRCODE = 'undefined_object',
                  HINT = 'Models are defined with quota_set_model(); see quota.models.';
    END IF;
    UPDATE quota.pool_defs p
       SET models = ARRAY(SELECT DISTINCT m FROM unnest(quota_set_pool_models.models) m ORDER BY m)
     WHERE p.pool = quota_set_pool_models.pool AND quota_set_pool_models.models IS NOT NULL;
    UPDATE quota.pool_defs p SET models = NULL
     WHERE p.pool = quota_set_pool_models.pool AND quota_set_pool_models.models IS NULL;
END
$$;
COMMENT ON FUNCTION quota.quota_set_pool_models(text, text[]) IS
    'set the models a pool pays for; NULL permits every enabled model';

CREATE FUNCTION quota.quota_set_pool_enabled(pool text, enabled boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'enabled'], ARRAY[pool IS NULL, enabled IS NULL]);
    PERFORM quota._pool_exists(pool);
    UPDATE quota.pool_defs p SET enabled = quota_set_pool_enabled.enabled
     WHERE p.pool = quota_set_pool_enabled.pool;
END
$$;
COMMENT ON FUNCTION quota.quota_set_pool_enabled(text, boolean) IS
    'enable or disable a pool (a disabled pool refuses new requests)';

CREATE FUNCTION quota.quota_topup(pool text, amount numeric, note text DEFAULT NULL)
    RETURNS quota.credits
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'amount'], ARRAY[pool IS NULL, amount IS NULL]);
    amount := amount::quota.credits;    -- rounded at 1e-9 as the cast does (22003)
    IF amount <= 0 THEN
        RAISE EXCEPTION 'top-up amount must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The amount given was %s.', amount),
                  HINT = 'Use quota_adjust() for a correction in either direction.';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._post(pool, 'topup', amount::quota.credits, quota.current_user_id(), note);
    RETURN (quota._pool_money(pool)).balance;
END
$$;
COMMENT ON FUNCTION quota.quota_topup(text, numeric, text) IS
    'add credits to a pool; returns the new balance';

CREATE FUNCTION quota.quota_adjust(pool text, amount numeric, note text)
    RETURNS quota.credits
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'amount', 'note'],
                           ARRAY[pool IS NULL, amount IS NULL, note IS NULL]);
    amount := amount::quota.credits;    -- rounded at 1e-9 as the cast does (22003)
    IF amount = 0 THEN
        RAISE EXCEPTION 'adjustment amount must not be zero'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF note = '' THEN
        RAISE EXCEPTION 'an adjustment needs a note'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Say why the balance is corrected.';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._post(pool, 'adjust', amount::quota.credits, quota.current_user_id(), note);
    RETURN (quota._pool_money(pool)).balance;
END
$$;
COMMENT ON FUNCTION quota.quota_adjust(text, numeric, text) IS
    'signed correction of a pool''s balance, with a note; returns the new balance';

CREATE FUNCTION quota._apply_reset(pool text, manual boolean) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    p quota.pool_defs;
    amount quota.credits;
    rest numeric;
    boundary timestamptz;
BEGIN
    SELECT * INTO p FROM quota.pool_defs d WHERE d.pool = _apply_reset.pool FOR UPDATE;
    IF NOT manual AND (p.next_reset_at IS NULL OR p.next_reset_at > now()) THEN
        RETURN false;               -- another session reset it first
    END IF;
    IF p.reset_policy = 'none' THEN
        RETURN false;
    END IF;
    -- with live credit grants, the allowance part is read with no debit in
    -- flight (src/grants.c)
    IF EXISTS (SELECT FROM quota.credit_grants g
                WHERE g.pool = p.pool AND g.end_kind IS NULL) THEN
        PERFORM quota._lock_grants(p.pool_id);
    END IF;
    -- restore sets the allowance part only: live credit grants keep their
    -- remainders (src/grants.c)
    rest := CASE p.reset_policy
                WHEN 'restore' THEN p.allowance::numeric
                                    - ((quota._pool_money(p.pool)).balance)::numeric
                                    + coalesce((SELECT sum(x.remaining::numeric)
                                                  FROM quota._grant_remainders(p.pool) x), 0)
                ELSE p.allowance::numeric END;
    -- restoring a pool far below zero may need more than one entry's range
    LOOP
        amount := greatest(least(rest, 9223372036.854775807), -9223372036.854775807);
        PERFORM quota._post(p.pool, 'reset', amount, NULL,
                            CASE WHEN manual THEN 'manual reset' ELSE 'scheduled reset' END);
        rest := rest - amount::numeric;
        EXIT WHEN rest = 0;
    END LOOP;
    boundary := now();
    IF NOT manual THEN
        -- several missed boundaries make one reset, dated at the latest
        boundary := p.next_reset_at;
        WHILE quota.quota_next_reset(p.reset_cron, p.reset_timezone, boundary) <= now() LOOP
            boundary := quota.quota_next_reset(p.reset_cron, p.reset_timezone, boundary);
        END LOOP;
    END IF;
    UPDATE quota.pool_defs d
       SET period_start = boundary,
           period_funds = (quota._pool_money(p.pool)).balance,
           next_reset_at = CASE WHEN d.reset_cron IS NULL THEN NULL
                                ELSE quota.quota_next_reset(d.reset_cron, d.reset_timezone, now()) END
     WHERE d.pool = p.pool;
    RETURN true;
END
$$;
COMMENT ON FUNCTION quota._apply_reset(text, boolean) IS
    'internal: apply a pool''s reset policy once (restore or add), under the pool''s row lock';

CREATE FUNCTION quota.quota_reset(pool text) RETURNS quota.credits
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool'], ARRAY[pool IS NULL]);
    PERFORM quota._pool_exists(pool);
    PERFORM quota._apply_reset(pool, true);
    RETURN (quota._pool_money(pool)).balance;
END
$$;
COMMENT ON FUNCTION quota.quota_reset(text) IS
    'apply the pool''s reset policy now (restore: balance = allowance; add: + allowance; none: nothing); returns the balance';
