
-- ---------------------------------------------------------------------------
-- Fallback pools (0.3, issue 29): the pools to try, in order, when the
-- active pool cannot pay (QU001).  The list is quota.users.fallback_pools;
-- the charge path reads it only after a refusal (src/fallback.c).
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota._acting_user(user_id text) RETURNS text
    AS 'MODULE_PATHNAME', 'quota_acting_user'
    LANGUAGE C STABLE;
COMMENT ON FUNCTION quota._acting_user(text) IS
    'internal: the user a call acts for: the caller, or any user for quota_app and quota_admin (else 42501)';

CREATE FUNCTION quota.quota_set_fallback(pools text[], user_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    uid text;
    p text;
    list text[] := ARRAY[]::text[];
BEGIN
    PERFORM quota._require(ARRAY['user_id'], ARRAY[false]);   -- 25006 on a standby
    uid := quota._acting_user(user_id);
    PERFORM quota._user_exists(uid);
    IF array_ndims(pools) > 1 THEN
        RAISE EXCEPTION 'fallback pools must be a one-dimensional list'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the pools in the order to try them, such as ARRAY[''Students Pool''].';
    END IF;
    FOREACH p IN ARRAY coalesce(pools, ARRAY[]::text[]) LOOP
        IF p IS NULL THEN
            RAISE EXCEPTION 'fallback pools must not contain null'
                USING ERRCODE = 'null_value_not_allowed',
                      HINT = 'Name each pool to try, or pass NULL or an empty list for none.';
        END IF;
        PERFORM quota._pool_exists(p);
        IF NOT p = ANY (list) THEN
            list := list || p;
        END IF;
    END LOOP;
    UPDATE quota.users u
       SET fallback_pools = CASE WHEN cardinality(list) > 0 THEN list END,
           updated_at = now()
     WHERE u.user_id = uid;
END
$$;
COMMENT ON FUNCTION quota.quota_set_fallback(text[], text) IS
    'set the pools to try, in order, when the user''s active pool cannot pay (NULL or an empty list: none)';

REVOKE ALL ON FUNCTION quota._acting_user(text), quota.quota_set_fallback(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_set_fallback(text[], text)
    TO quota_admin, quota_app, quota_user;
COMMENT ON COLUMN quota.my_pools.fallback_order IS
    'the pool''s place in the caller''s fallback list (quota_set_fallback), 1 first; NULL: not in it';
