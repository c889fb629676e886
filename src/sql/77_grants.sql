
-- ---------------------------------------------------------------------------
-- Credit grants (0.3, issue 29): term credits that expire
--
-- A grant is a ledger entry of kind 'grant' carrying its grant_id; its end
-- (expiry or revocation) one entry of kind 'expire' carrying the same id.
-- What a grant has left is not stored: it is a function of the ledger,
-- quota._grant_remainders() (the argument for its exactness is at the top
-- of src/grants.c).
-- ---------------------------------------------------------------------------

CREATE TABLE quota.credit_grants (
    grant_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool            text NOT NULL,
    amount          quota.credits NOT NULL CHECK (amount > '0'),
    priority        integer NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    note            text,
    entry_id        bigint NOT NULL,
    ended_at        timestamptz,
    end_kind        text CHECK (end_kind IN ('expired', 'revoked')),
    end_amount      quota.credits,
    end_entry_id    bigint,
    CHECK ((end_kind IS NULL) = (ended_at IS NULL)
           AND (end_kind IS NULL) = (end_amount IS NULL)
           AND (end_kind IS NULL) = (end_entry_id IS NULL))
);
CREATE INDEX credit_grants_live ON quota.credit_grants (pool, expires_at)
    WHERE end_kind IS NULL;
COMMENT ON TABLE quota.credit_grants IS
    'credit grants (read them through quota.pool_grants, which adds what is left)';
COMMENT ON COLUMN quota.credit_grants.grant_id IS 'the grant''s id (quota_grant_credits() returns it)';
COMMENT ON COLUMN quota.credit_grants.pool IS 'the pool granted the credits';
COMMENT ON COLUMN quota.credit_grants.amount IS 'the credits granted';
COMMENT ON COLUMN quota.credit_grants.priority IS 'spent in order of priority (lower first), then expires_at, then grant_id';
COMMENT ON COLUMN quota.credit_grants.granted_at IS 'when the credits were granted';
COMMENT ON COLUMN quota.credit_grants.expires_at IS 'when the remainder leaves the pool; NULL: never';
COMMENT ON COLUMN quota.credit_grants.note IS 'the administrator''s note';
COMMENT ON COLUMN quota.credit_grants.ended_at IS 'when the grant expired or was revoked';
COMMENT ON COLUMN quota.credit_grants.entry_id IS 'the grant''s ledger entry (kind grant)';
COMMENT ON COLUMN quota.credit_grants.end_kind IS 'expired or revoked; NULL while live';
COMMENT ON COLUMN quota.credit_grants.end_amount IS
    'the remainder its expire entry removed (amount minus what spending drew from it)';
COMMENT ON COLUMN quota.credit_grants.end_entry_id IS 'the grant''s ledger entry of kind expire';
COMMENT ON SEQUENCE quota.credit_grants_grant_id_seq IS 'ids of quota.credit_grants';
-- one grant entry and one expire entry per grant, whoever posts them
CREATE UNIQUE INDEX ledger_grant_once ON quota.ledger (grant_id, kind)
    WHERE grant_id IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('quota.credit_grants', '');
SELECT pg_catalog.pg_extension_config_dump('quota.credit_grants_grant_id_seq', '');

CREATE FUNCTION quota._post_grant(pool text, kind text, amount quota.credits,
                                  grant_id bigint, note text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'quota_post_grant'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._post_grant(text, text, quota.credits, bigint, text) IS
    'internal: post a grant or expire entry carrying its grant_id (as quota._post does the others)';

CREATE FUNCTION quota._lock_grants(pool_id bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'quota_lock_grants'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION quota._lock_grants(bigint) IS
    'internal: wait until no transaction has an uncommitted debit on the pool, and keep new ones out until commit';

-- What each live grant of a pool has left: the pool's ledger replayed in
-- entry order from the first entry at which a grant still relevant was
-- live.  Debits (charge and adjust entries below zero) draw from the live
-- grants by priority, expires_at (none last), grant_id, the rest from the
-- allowance part; every other entry moves the allowance part only.
CREATE FUNCTION quota._grant_remainders(pool text)
    RETURNS TABLE(grant_id bigint, remaining quota.credits)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    start bigint;
    earlier bigint;
    ids bigint[];
    rem numeric[];
    live boolean[];
    e record;
    i integer;
    need numeric;
    d numeric;
BEGIN
    SELECT min(g.entry_id) INTO start FROM quota.credit_grants g
     WHERE g.pool = _grant_remainders.pool AND g.end_kind IS NULL;
    IF start IS NULL THEN
        RETURN;
    END IF;
    -- a grant that ended after start was live there: start at its grant
    LOOP
        SELECT min(g.entry_id) INTO earlier FROM quota.credit_grants g
         WHERE g.pool = _grant_remainders.pool AND g.entry_id < start
           AND g.end_entry_id > start;
        EXIT WHEN earlier IS NULL;
        start := earlier;
    END LOOP;
    SELECT array_agg(g.grant_id ORDER BY g.priority, g.expires_at NULLS LAST, g.grant_id)
      INTO ids FROM quota.credit_grants g
     WHERE g.pool = _grant_remainders.pool AND g.entry_id >= start;
    rem := array_fill(0::numeric, ARRAY[cardinality(ids)]);
    live := array_fill(false, ARRAY[cardinality(ids)]);
    -- quota_archive() leaves these entries in the ledger (src/archive.c)
    FOR e IN SELECT l.kind, l.amount::numeric AS amount, l.grant_id
               FROM quota.ledger l
              WHERE l.pool = _grant_remainders.pool AND l.entry_id >= start
                AND (l.grant_id IS NOT NULL
                     OR (l.amount < '0' AND l.kind IN ('charge', 'adjust')))
              ORDER BY l.entry_id LOOP
        IF e.grant_id IS NOT NULL THEN
            i := array_position(ids, e.grant_id);
            CONTINUE WHEN i IS NULL;
            IF e.kind = 'grant' THEN
                live[i] := true;
                rem[i] := e.amount;
            ELSE
                live[i] := false;
                rem[i] := 0;
            END IF;
        ELSE
            need := -e.amount;
            FOR j IN 1 .. cardinality(ids) LOOP
                EXIT WHEN need = 0;
                IF live[j] AND rem[j] > 0 THEN
                    d := least(rem[j], need);
                    rem[j] := rem[j] - d;
                    need := need - d;
                END IF;
            END LOOP;
        END IF;
    END LOOP;
    FOR j IN 1 .. cardinality(ids) LOOP
        IF live[j] THEN
            grant_id := ids[j];
            remaining := rem[j]::quota.credits;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota._grant_remainders(text) IS
    'internal: what each live grant of the pool has left, replayed from the ledger (src/grants.c)';

-- The pool's earliest live expiry, which the charge path reads with the
-- pool (src/pools.c) to expire lazily.
CREATE FUNCTION quota._grants_changed(pool text) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    UPDATE quota.pool_defs d
       SET next_expiry_at = (SELECT min(g.expires_at) FROM quota.credit_grants g
                              WHERE g.pool = $1 AND g.end_kind IS NULL)
     WHERE d.pool = $1
$$;
COMMENT ON FUNCTION quota._grants_changed(text) IS
    'internal: set the pool''s next_expiry_at from its live grants';

-- End one grant now: its remainder leaves the pool as one expire entry.
-- The caller holds the pool's row lock and quota._lock_grants().
CREATE FUNCTION quota._end_grant(g quota.credit_grants, how text, rest quota.credits, why text)
    RETURNS quota.credits
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    entry bigint;
BEGIN
    entry := quota._post_grant(g.pool, 'expire', (-(rest::numeric))::quota.credits,
                               g.grant_id, why);
    UPDATE quota.credit_grants c
       SET ended_at = now(), end_kind = how, end_amount = rest, end_entry_id = entry
     WHERE c.grant_id = g.grant_id;
    RETURN rest;
END
$$;
COMMENT ON FUNCTION quota._end_grant(quota.credit_grants, text, quota.credits, text) IS
    'internal: post a grant''s expire entry and mark it expired or revoked';

-- Apply every due expiry of a pool once (quota_run_due() and the first
-- call that touches the pool); returns how many grants expired.
CREATE FUNCTION quota._expire_grants(pool text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    pid bigint;
    g quota.credit_grants;
    r record;
    n integer := 0;
BEGIN
    SELECT d.pool_id INTO pid FROM quota.pool_defs d
     WHERE d.pool = _expire_grants.pool FOR UPDATE;
    IF pid IS NULL THEN
        RETURN 0;
    END IF;
    IF NOT EXISTS (SELECT FROM quota.credit_grants c
                    WHERE c.pool = _expire_grants.pool AND c.end_kind IS NULL
                      AND c.expires_at <= now()) THEN
        RETURN 0;                   -- another session expired them first
    END IF;
    PERFORM quota._lock_grants(pid);
    FOR r IN SELECT c.grant_id, coalesce(x.remaining, '0') AS remaining
               FROM quota.credit_grants c
               LEFT JOIN quota._grant_remainders(_expire_grants.pool) x
                      ON x.grant_id = c.grant_id
              WHERE c.pool = _expire_grants.pool AND c.end_kind IS NULL
                AND c.expires_at <= now()
              ORDER BY c.expires_at, c.grant_id LOOP
        SELECT * INTO g FROM quota.credit_grants c WHERE c.grant_id = r.grant_id;
        PERFORM quota._end_grant(g, 'expired', r.remaining, 'grant expired');
        n := n + 1;
    END LOOP;
    PERFORM quota._grants_changed(_expire_grants.pool);
    RETURN n;
END
$$;
COMMENT ON FUNCTION quota._expire_grants(text) IS
    'internal: post the expire entry of every due grant of the pool, exactly once';

CREATE FUNCTION quota.quota_grant_credits(pool text, amount numeric,
                                          expires_at timestamptz DEFAULT NULL,
                                          priority integer DEFAULT 10,
                                          note text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    id bigint;
    entry bigint;
BEGIN
    PERFORM quota._require(ARRAY['pool', 'amount', 'priority'],
                           ARRAY[pool IS NULL, amount IS NULL, priority IS NULL]);
    amount := amount::quota.credits;    -- rounded at 1e-9 as the cast does (22003)
    IF amount <= 0 THEN
        RAISE EXCEPTION 'grant amount must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The amount given was %s.', amount),
                  HINT = 'Use quota_revoke_credits() to take a grant back.';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= now() THEN
        RAISE EXCEPTION 'grant expiry must be in the future'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The expiry given was %s.', expires_at),
                  HINT = 'Pass a later expires_at, or NULL for credits that do not expire.';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM FROM quota.pool_defs d WHERE d.pool = quota_grant_credits.pool FOR UPDATE;
    id := nextval('quota.credit_grants_grant_id_seq');
    entry := quota._post_grant(pool, 'grant', amount::quota.credits, id, note);
    INSERT INTO quota.credit_grants
           (grant_id, pool, amount, priority, expires_at, note, entry_id)
    OVERRIDING SYSTEM VALUE VALUES (id, pool, amount::quota.credits, priority, expires_at, note, entry);
    PERFORM quota._grants_changed(pool);
    RETURN id;
END
$$;
COMMENT ON FUNCTION quota.quota_grant_credits(text, numeric, timestamptz, integer, text) IS
    'grant credits to a pool, spent before its allowance (lower priority first) and removed at expires_at; returns the grant_id';

CREATE FUNCTION quota.quota_revoke_credits(grant_id bigint, note text DEFAULT NULL)
    RETURNS quota.credits
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    g quota.credit_grants;
    pid bigint;
    rest quota.credits;
BEGIN
    PERFORM quota._require(ARRAY['grant_id'], ARRAY[grant_id IS NULL]);
    SELECT * INTO g FROM quota.credit_grants c WHERE c.grant_id = quota_revoke_credits.grant_id;
    IF g.grant_id IS NULL THEN
        RAISE EXCEPTION 'credit grant % does not exist', grant_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Grants are listed in quota.pool_grants.';
    END IF;
    SELECT d.pool_id INTO pid FROM quota.pool_defs d WHERE d.pool = g.pool FOR UPDATE;
    -- read again under the pool's lock: an expiry may have ended it meanwhile
    SELECT * INTO g FROM quota.credit_grants c WHERE c.grant_id = quota_revoke_credits.grant_id;
    IF g.end_kind IS NOT NULL THEN
        RETURN '0';                 -- already expired or revoked: nothing is left
    END IF;
    PERFORM quota._lock_grants(pid);
    SELECT x.remaining INTO rest FROM quota._grant_remainders(g.pool) x
     WHERE x.grant_id = g.grant_id;
    PERFORM quota._end_grant(g, 'revoked', coalesce(rest, '0'),
                             coalesce(note, 'grant revoked'));
    PERFORM quota._grants_changed(g.pool);
    RETURN coalesce(rest, '0');
END
$$;
COMMENT ON FUNCTION quota.quota_revoke_credits(bigint, text) IS
    'remove a grant''s remainder from its pool now; returns the credits removed';

-- what the caller may know of a pool's grants (the view's figures)
CREATE FUNCTION quota._grants_left(pool text)
    RETURNS TABLE(grant_id bigint, remaining quota.credits)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT x.grant_id, x.remaining FROM quota._grant_remainders($1) x
     WHERE quota._sees_pool($1)
$$;
COMMENT ON FUNCTION quota._grants_left(text) IS
    'internal: what each live grant of a pool the caller may see has left (quota.pool_grants)';

CREATE VIEW quota.pool_grants WITH (security_barrier = true) AS
SELECT g.grant_id, g.pool, g.amount,
       CASE WHEN g.end_kind IS NULL THEN coalesce(x.remaining, '0')
            ELSE '0' END::quota.credits AS remaining,
       g.priority, g.granted_at, g.expires_at, g.note,
       CASE WHEN g.end_kind IS NOT NULL THEN g.end_kind
            WHEN x.remaining > '0' THEN 'live'
            ELSE 'spent' END AS state
  FROM quota.credit_grants g
  LEFT JOIN LATERAL (SELECT l.remaining FROM quota._grants_left(g.pool) l
                      WHERE l.grant_id = g.grant_id) x ON g.end_kind IS NULL
 WHERE quota._sees_pool(g.pool);
COMMENT ON VIEW quota.pool_grants IS
    'credit grants of the pools the caller may see, with what each has left and its state (live, spent, expired, revoked)';
COMMENT ON COLUMN quota.pool_grants.grant_id IS 'the grant''s id';
COMMENT ON COLUMN quota.pool_grants.pool IS 'the pool granted the credits';
COMMENT ON COLUMN quota.pool_grants.amount IS 'the credits granted';
COMMENT ON COLUMN quota.pool_grants.remaining IS 'what spending has left of them (0 once expired, revoked or spent)';
COMMENT ON COLUMN quota.pool_grants.priority IS 'spent in order of priority (lower first), then expires_at, then grant_id';
COMMENT ON COLUMN quota.pool_grants.granted_at IS 'when the credits were granted';
COMMENT ON COLUMN quota.pool_grants.expires_at IS 'when the remainder leaves the pool; NULL: never';
COMMENT ON COLUMN quota.pool_grants.note IS 'the administrator''s note';
COMMENT ON COLUMN quota.pool_grants.state IS 'live, spent (nothing left), expired or revoked';
GRANT SELECT ON quota.pool_grants TO quota_admin, quota_app, quota_user;

-- read through quota.pool_grants only
REVOKE ALL ON quota.credit_grants FROM PUBLIC;
ALTER TABLE quota.credit_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY credit_grants_read ON quota.credit_grants FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY credit_grants_read ON quota.credit_grants IS
    'grants are visible with their pool: to its users, its administrators and quota_admin (read through quota.pool_grants)';

REVOKE ALL ON FUNCTION
    quota._post_grant(text, text, quota.credits, bigint, text),
    quota._lock_grants(bigint),
    quota._grant_remainders(text),
    quota._grants_changed(text),
    quota._end_grant(quota.credit_grants, text, quota.credits, text),
    quota._expire_grants(text),
    quota.quota_grant_credits(text, numeric, timestamptz, integer, text),
    quota.quota_revoke_credits(bigint, text),
    quota._grants_left(text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota.quota_grant_credits(text, numeric, timestamptz, integer, text),
    quota.quota_revoke_credits(bigint, text)
    TO quota_admin;
GRANT EXECUTE ON FUNCTION quota._grants_left(text) TO quota_admin, quota_app, quota_user;
