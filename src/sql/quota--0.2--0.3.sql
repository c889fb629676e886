-- quota: upgrade from 0.2 to 0.3

\echo Use "ALTER EXTENSION quota UPDATE TO '0.3'" to load this file. \quit

-- Every change of release 0.3 is made here as well as in the install script
-- (src/sql/NN_*.sql); TAP test 010 checks that an installation walked from
-- 0.1 has exactly the objects of a fresh one.
--
-- 0.3 builds from one source tree for PostgreSQL 15, 17 and 18; the
-- library of 0.3 serves 0.1 and 0.2 installations until they are updated.

-- ---------------------------------------------------------------------------
-- Users the gateway has not seen (0.3): with quota_auto_register(groups) set,
-- the first call for an unknown user id registers that user with those
-- groups (src/pools.c, QuotaCheckUserExists), as quota_set_user would
-- ---------------------------------------------------------------------------

CREATE TABLE quota.registration (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    groups      text[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE quota.registration IS
    'auto-registration of unknown users (quota_auto_register): one row while it is on';
COMMENT ON COLUMN quota.registration.singleton IS 'always true: the table has at most one row';
COMMENT ON COLUMN quota.registration.groups IS 'the groups a user registered at their first call gets';
COMMENT ON COLUMN quota.registration.updated_at IS 'when auto-registration was last set';
SELECT pg_catalog.pg_extension_config_dump('quota.registration', '');
ALTER TABLE quota.registration ENABLE ROW LEVEL SECURITY;
CREATE POLICY registration_read ON quota.registration FOR SELECT
    USING (quota._caller_is_admin());
COMMENT ON POLICY registration_read ON quota.registration IS
    'quota_admin sees the setting';
GRANT SELECT ON quota.registration TO quota_admin;

CREATE FUNCTION quota._apply_personal_policies(user_id text, groups text[])
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    pol record;
BEGIN
    FOR pol IN SELECT * FROM quota.personal_policies p
               WHERE p.group_name = ANY (_apply_personal_policies.groups)
               ORDER BY p.group_name LOOP
        PERFORM quota._ensure_personal(_apply_personal_policies.user_id, pol.allowance,
                                       pol.reset_cron, pol.reset_timezone);
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota._apply_personal_policies(text, text[]) IS
    'internal: give a user the personal pools of their groups'' policies (quota_set_user, auto-registration)';

CREATE FUNCTION quota.quota_auto_register(groups text[] DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF groups IS NULL THEN
        DELETE FROM quota.registration;
        RETURN;
    END IF;
    IF array_position(groups, NULL) IS NOT NULL OR '' = ANY (groups) THEN
        RAISE EXCEPTION 'group names must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass group names such as ''student'' or ''dept:physics'', or NULL to turn auto-registration off.';
    END IF;
    INSERT INTO quota.registration AS r (groups)
    VALUES (ARRAY(SELECT DISTINCT g FROM unnest(groups) g ORDER BY g))
    ON CONFLICT ON CONSTRAINT registration_pkey DO UPDATE
        SET groups = excluded.groups, updated_at = now();
END
$$;
COMMENT ON FUNCTION quota.quota_auto_register(text[]) IS
    'register unknown users at their first call with these groups (NULL: off, unknown users get 42704)';

CREATE FUNCTION quota._auto_register(user_id text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    g text[];
BEGIN
    SELECT r.groups INTO g FROM quota.registration r;
    IF NOT FOUND OR _auto_register.user_id = '' OR char_length(_auto_register.user_id) > 200 THEN
        RETURN false;
    END IF;
    -- a concurrent first request of the same user waits here for the other's
    -- row and then inserts nothing: the user and their pools come once
    INSERT INTO quota.users AS u (user_id, groups)
    VALUES (_auto_register.user_id, g)
    ON CONFLICT ON CONSTRAINT users_pkey DO NOTHING;
    IF FOUND THEN
        PERFORM quota._apply_personal_policies(_auto_register.user_id, g);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION quota._auto_register(text) IS
    'internal: register an unknown user as quota.registration says; false when auto-registration is off';
REVOKE ALL ON FUNCTION quota._apply_personal_policies(text, text[]), quota._auto_register(text),
    quota.quota_auto_register(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_auto_register(text[]) TO quota_admin;

-- quota_set_user applies its groups' personal policies through the helper
-- auto-registration shares
CREATE OR REPLACE FUNCTION quota.quota_set_user(user_id text, groups text[] DEFAULT '{}')
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

-- Locked mode (quota not preloaded): the admissions of the last minute, per
-- pool with a rate limit (src/ratelimit.c); unlogged, like the counters of
-- shared memory they stand in for
CREATE UNLOGGED TABLE quota.rate_window (
    pool        text NOT NULL,
    user_id     text NOT NULL,
    admitted_at timestamptz NOT NULL,
    tokens      bigint NOT NULL
);
CREATE INDEX rate_window_pool ON quota.rate_window (pool, admitted_at);
CREATE INDEX rate_window_member ON quota.rate_window (pool, user_id, admitted_at);
COMMENT ON TABLE quota.rate_window IS
    'locked mode only: requests admitted within the last minute by pools with rate limits (unlogged: lost at a crash, as rate limits are)';
COMMENT ON COLUMN quota.rate_window.pool IS 'the pool';
COMMENT ON COLUMN quota.rate_window.user_id IS 'the member';
COMMENT ON COLUMN quota.rate_window.admitted_at IS 'when the request was admitted (clock time)';
COMMENT ON COLUMN quota.rate_window.tokens IS 'its tokens (a reservation''s declared maxima)';
COMMENT ON INDEX quota.rate_window_pool IS 'a pool''s last minute';
COMMENT ON INDEX quota.rate_window_member IS 'a member''s last minute';
-- no policy and no grant: only quota's own functions read it
ALTER TABLE quota.rate_window ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON quota.rate_window FROM PUBLIC;
