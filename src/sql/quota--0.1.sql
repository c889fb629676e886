-- quota: exact LLM quota pools and billing (install script)

\echo Use "CREATE EXTENSION quota CASCADE" to load this file. \quit

-- The three roles of the contract, created when missing (roles are global,
-- so they outlive DROP EXTENSION and are shared by every database).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'quota_admin') THEN
        CREATE ROLE quota_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'quota_app') THEN
        CREATE ROLE quota_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'quota_user') THEN
        CREATE ROLE quota_user NOLOGIN;
    END IF;
END
$roles$;

COMMENT ON SCHEMA quota IS 'quota: LLM quota pools, reservations and the billing ledger';

REVOKE ALL ON SCHEMA quota FROM PUBLIC;
GRANT USAGE ON SCHEMA quota TO quota_admin, quota_app, quota_user;

-- ---------------------------------------------------------------------------
-- quota.credits: exact fixed-point money, an int64 count of 1e-9 credits
-- (src/credits.c, src/credits_agg.c)
-- ---------------------------------------------------------------------------

CREATE TYPE quota.credits;

CREATE FUNCTION quota.credits_in(cstring) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_in(cstring) IS
    'text input of quota.credits: optional sign, digits, at most 9 fractional digits';
CREATE FUNCTION quota.credits_out(quota.credits) RETURNS cstring
    AS 'MODULE_PATHNAME', 'credits_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_out(quota.credits) IS
    'text output of quota.credits, in the shortest exact form';
CREATE FUNCTION quota.credits_recv(internal) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_recv(internal) IS
    'binary input of quota.credits: an int8 count of 1e-9 credits';
CREATE FUNCTION quota.credits_send(quota.credits) RETURNS bytea
    AS 'MODULE_PATHNAME', 'credits_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_send(quota.credits) IS
    'binary output of quota.credits: an int8 count of 1e-9 credits';

-- Category N (numeric), like money: coalesce(quota.sum(x), 0) and CASE or
-- UNION mixing credits with integer or numeric resolve to credits.
CREATE TYPE quota.credits (
    INPUT = quota.credits_in,
    OUTPUT = quota.credits_out,
    RECEIVE = quota.credits_recv,
    SEND = quota.credits_send,
    LIKE = pg_catalog.int8,
    CATEGORY = 'N'
);
COMMENT ON TYPE quota.credits IS
    'exact money: 9 fractional digits in 8 bytes, range +-9223372036.854775807';

-- Arithmetic.  * and / take a numeric right operand, and bigint and integer
-- reach it through their implicit (exact) casts to numeric.  Operators
-- (credits, bigint), (credits, integer) or (numeric, credits) are left out
-- on purpose: through the implicit numeric -> credits cast each would make
-- numeric * integer ambiguous (with numeric * numeric) in every session
-- with quota on its search_path.  bigint * credits and integer * credits
-- add no such ambiguity.
CREATE FUNCTION quota.credits_pl(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_pl' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_pl(quota.credits, quota.credits) IS
    'credits + credits (22003 on overflow)';
CREATE FUNCTION quota.credits_mi(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_mi' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_mi(quota.credits, quota.credits) IS
    'credits - credits (22003 on overflow)';
CREATE FUNCTION quota.credits_um(quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_um' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_um(quota.credits) IS 'negation of credits';
CREATE FUNCTION quota.credits_mul_numeric(quota.credits, numeric) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_mul_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_mul_numeric(quota.credits, numeric) IS
    'credits * numeric, exact, rounded half away from zero to 1e-9';
CREATE FUNCTION quota.credits_div_numeric(quota.credits, numeric) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_div_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_div_numeric(quota.credits, numeric) IS
    'credits / numeric, exact, rounded half away from zero to 1e-9 (22012 on zero)';
CREATE FUNCTION quota.int8_mul_credits(bigint, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'int8_mul_credits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.int8_mul_credits(bigint, quota.credits) IS
    'bigint * credits, exact (22003 on overflow)';
CREATE FUNCTION quota.int4_mul_credits(integer, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'int4_mul_credits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.int4_mul_credits(integer, quota.credits) IS
    'integer * credits, exact (22003 on overflow)';

CREATE OPERATOR quota.+ (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_pl, COMMUTATOR = OPERATOR(quota.+));
COMMENT ON OPERATOR quota.+ (quota.credits, quota.credits) IS 'add';
CREATE OPERATOR quota.- (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_mi);
COMMENT ON OPERATOR quota.- (quota.credits, quota.credits) IS 'subtract';
CREATE OPERATOR quota.- (RIGHTARG = quota.credits, FUNCTION = quota.credits_um);
COMMENT ON OPERATOR quota.- (NONE, quota.credits) IS 'negate';
CREATE OPERATOR quota.* (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_mul_numeric);
COMMENT ON OPERATOR quota.* (quota.credits, numeric) IS
    'multiply by a numeric, bigint or integer, rounded half away from zero';
CREATE OPERATOR quota./ (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_div_numeric);
COMMENT ON OPERATOR quota./ (quota.credits, numeric) IS
    'divide by a numeric, bigint or integer, rounded half away from zero';
CREATE OPERATOR quota.* (LEFTARG = bigint, RIGHTARG = quota.credits,
    FUNCTION = quota.int8_mul_credits);
COMMENT ON OPERATOR quota.* (bigint, quota.credits) IS 'multiply, exact';
CREATE OPERATOR quota.* (LEFTARG = integer, RIGHTARG = quota.credits,
    FUNCTION = quota.int4_mul_credits);
COMMENT ON OPERATOR quota.* (integer, quota.credits) IS 'multiply, exact';

-- Comparisons: they cannot fail, so they are leakproof.
CREATE FUNCTION quota.credits_eq(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_eq' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_eq(quota.credits, quota.credits) IS 'credits = credits';
CREATE FUNCTION quota.credits_ne(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_ne' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_ne(quota.credits, quota.credits) IS 'credits <> credits';
CREATE FUNCTION quota.credits_lt(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_lt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_lt(quota.credits, quota.credits) IS 'credits < credits';
CREATE FUNCTION quota.credits_le(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_le' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_le(quota.credits, quota.credits) IS 'credits <= credits';
CREATE FUNCTION quota.credits_gt(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_gt' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_gt(quota.credits, quota.credits) IS 'credits > credits';
CREATE FUNCTION quota.credits_ge(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_ge' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_ge(quota.credits, quota.credits) IS 'credits >= credits';
CREATE FUNCTION quota.credits_cmp(quota.credits, quota.credits) RETURNS integer
    AS 'MODULE_PATHNAME', 'credits_cmp' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_cmp(quota.credits, quota.credits) IS
    'btree support: -1, 0 or 1 as the first is less than, equal to or greater than the second';
CREATE FUNCTION quota.credits_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'credits_sortsupport' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_sortsupport(internal) IS 'btree support: fast sorting';
CREATE FUNCTION quota.credits_hash(quota.credits) RETURNS integer
    AS 'MODULE_PATHNAME', 'credits_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_hash(quota.credits) IS 'hash support: hash of a credits value';
CREATE FUNCTION quota.credits_hash_extended(quota.credits, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'credits_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_hash_extended(quota.credits, bigint) IS
    'hash support: seeded 64-bit hash of a credits value';

CREATE OPERATOR quota.= (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_eq, COMMUTATOR = OPERATOR(quota.=),
    NEGATOR = OPERATOR(quota.<>), RESTRICT = pg_catalog.eqsel,
    JOIN = pg_catalog.eqjoinsel, HASHES, MERGES);
COMMENT ON OPERATOR quota.= (quota.credits, quota.credits) IS 'equal';
CREATE OPERATOR quota.<> (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_ne, COMMUTATOR = OPERATOR(quota.<>),
    NEGATOR = OPERATOR(quota.=), RESTRICT = pg_catalog.neqsel,
    JOIN = pg_catalog.neqjoinsel);
COMMENT ON OPERATOR quota.<> (quota.credits, quota.credits) IS 'not equal';
CREATE OPERATOR quota.< (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_lt, COMMUTATOR = OPERATOR(quota.>),
    NEGATOR = OPERATOR(quota.>=), RESTRICT = pg_catalog.scalarltsel,
    JOIN = pg_catalog.scalarltjoinsel);
COMMENT ON OPERATOR quota.< (quota.credits, quota.credits) IS 'less than';
CREATE OPERATOR quota.<= (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_le, COMMUTATOR = OPERATOR(quota.>=),
    NEGATOR = OPERATOR(quota.>), RESTRICT = pg_catalog.scalarlesel,
    JOIN = pg_catalog.scalarlejoinsel);
COMMENT ON OPERATOR quota.<= (quota.credits, quota.credits) IS 'less than or equal';
CREATE OPERATOR quota.> (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_gt, COMMUTATOR = OPERATOR(quota.<),
    NEGATOR = OPERATOR(quota.<=), RESTRICT = pg_catalog.scalargtsel,
    JOIN = pg_catalog.scalargtjoinsel);
COMMENT ON OPERATOR quota.> (quota.credits, quota.credits) IS 'greater than';
CREATE OPERATOR quota.>= (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_ge, COMMUTATOR = OPERATOR(quota.<=),
    NEGATOR = OPERATOR(quota.<), RESTRICT = pg_catalog.scalargesel,
    JOIN = pg_catalog.scalargejoinsel);
COMMENT ON OPERATOR quota.>= (quota.credits, quota.credits) IS 'greater than or equal';

CREATE OPERATOR CLASS quota.credits_ops DEFAULT FOR TYPE quota.credits USING btree AS
    OPERATOR 1 quota.< ,
    OPERATOR 2 quota.<= ,
    OPERATOR 3 quota.= ,
    OPERATOR 4 quota.>= ,
    OPERATOR 5 quota.> ,
    FUNCTION 1 quota.credits_cmp(quota.credits, quota.credits),
    FUNCTION 2 quota.credits_sortsupport(internal),
    FUNCTION 4 pg_catalog.btequalimage(oid);
COMMENT ON OPERATOR CLASS quota.credits_ops USING btree IS
    'default btree operator class of credits (sorting, indexes, merge joins)';
COMMENT ON OPERATOR FAMILY quota.credits_ops USING btree IS
    'btree operator family of credits';
CREATE OPERATOR CLASS quota.credits_ops DEFAULT FOR TYPE quota.credits USING hash AS
    OPERATOR 1 quota.= ,
    FUNCTION 1 quota.credits_hash(quota.credits),
    FUNCTION 2 quota.credits_hash_extended(quota.credits, bigint);
COMMENT ON OPERATOR CLASS quota.credits_ops USING hash IS
    'default hash operator class of credits (hash indexes, hash joins and aggregation)';
COMMENT ON OPERATOR FAMILY quota.credits_ops USING hash IS
    'hash operator family of credits';

-- Casts: numeric, bigint and integer to credits are implicit (numeric is
-- rounded half away from zero at 1e-9; NaN, Infinity and values out of
-- range raise 22003); credits to numeric is an assignment cast and exact.
CREATE FUNCTION quota.numeric_credits(numeric) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'numeric_credits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits(numeric) IS
    'numeric to credits, rounded half away from zero at 1e-9 (22003 for NaN, Infinity or out of range)';
CREATE FUNCTION quota.int8_credits(bigint) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'int8_credits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.int8_credits(bigint) IS 'bigint to credits (22003 out of range)';
CREATE FUNCTION quota.int4_credits(integer) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'int4_credits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.int4_credits(integer) IS 'integer to credits';
CREATE FUNCTION quota.credits_numeric(quota.credits) RETURNS numeric
    AS 'MODULE_PATHNAME', 'credits_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric(quota.credits) IS
    'credits to numeric, exact, scale as in the text form';

CREATE CAST (numeric AS quota.credits)
    WITH FUNCTION quota.numeric_credits(numeric) AS IMPLICIT;
COMMENT ON CAST (numeric AS quota.credits) IS
    'implicit: rounded half away from zero at 1e-9';
CREATE CAST (bigint AS quota.credits)
    WITH FUNCTION quota.int8_credits(bigint) AS IMPLICIT;
COMMENT ON CAST (bigint AS quota.credits) IS 'implicit: exact';
CREATE CAST (integer AS quota.credits)
    WITH FUNCTION quota.int4_credits(integer) AS IMPLICIT;
COMMENT ON CAST (integer AS quota.credits) IS 'implicit: exact';
CREATE CAST (quota.credits AS numeric)
    WITH FUNCTION quota.credits_numeric(quota.credits) AS ASSIGNMENT;
COMMENT ON CAST (quota.credits AS numeric) IS 'on assignment: exact';

-- Aggregates.  sum and avg share an exact 128-bit state (no numeric on the
-- hot path, no intermediate overflow), serialised for parallel plans and
-- with an inverse transition for moving window frames.
CREATE FUNCTION quota.credits_agg_accum(internal, quota.credits) RETURNS internal
    AS 'MODULE_PATHNAME', 'credits_agg_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_agg_accum(internal, quota.credits) IS
    'sum and avg transition: add a value';
CREATE FUNCTION quota.credits_agg_accum_inv(internal, quota.credits) RETURNS internal
    AS 'MODULE_PATHNAME', 'credits_agg_accum_inv' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_agg_accum_inv(internal, quota.credits) IS
    'sum and avg inverse transition: remove a value from a moving frame';
CREATE FUNCTION quota.credits_agg_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'credits_agg_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_agg_combine(internal, internal) IS
    'sum and avg combine: merge two partial states';
CREATE FUNCTION quota.credits_agg_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'credits_agg_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_agg_serialize(internal) IS
    'sum and avg: serialise a partial state';
CREATE FUNCTION quota.credits_agg_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'credits_agg_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_agg_deserialize(bytea, internal) IS
    'sum and avg: deserialise a partial state';
CREATE FUNCTION quota.credits_sum_final(internal) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_sum_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_sum_final(internal) IS
    'sum final: the exact sum, NULL over no rows (22003 out of range)';
CREATE FUNCTION quota.credits_avg_final(internal) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_avg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_avg_final(internal) IS
    'avg final: the mean rounded half away from zero, NULL over no rows';
CREATE FUNCTION quota.credits_smaller(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_smaller' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_smaller(quota.credits, quota.credits) IS
    'min transition: the smaller of two credits';
CREATE FUNCTION quota.credits_larger(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_larger' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_larger(quota.credits, quota.credits) IS
    'max transition: the larger of two credits';

CREATE AGGREGATE quota.sum(quota.credits) (
    SFUNC = quota.credits_agg_accum, STYPE = internal, SSPACE = 32,
    FINALFUNC = quota.credits_sum_final,
    COMBINEFUNC = quota.credits_agg_combine,
    SERIALFUNC = quota.credits_agg_serialize,
    DESERIALFUNC = quota.credits_agg_deserialize,
    MSFUNC = quota.credits_agg_accum, MINVFUNC = quota.credits_agg_accum_inv,
    MSTYPE = internal, MSSPACE = 32, MFINALFUNC = quota.credits_sum_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE quota.sum(quota.credits) IS
    'exact sum of credits, NULL over no rows (22003 if the sum is out of range)';
CREATE AGGREGATE quota.avg(quota.credits) (
    SFUNC = quota.credits_agg_accum, STYPE = internal, SSPACE = 32,
    FINALFUNC = quota.credits_avg_final,
    COMBINEFUNC = quota.credits_agg_combine,
    SERIALFUNC = quota.credits_agg_serialize,
    DESERIALFUNC = quota.credits_agg_deserialize,
    MSFUNC = quota.credits_agg_accum, MINVFUNC = quota.credits_agg_accum_inv,
    MSTYPE = internal, MSSPACE = 32, MFINALFUNC = quota.credits_avg_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE quota.avg(quota.credits) IS
    'mean of credits, rounded half away from zero to 1e-9, NULL over no rows';
CREATE AGGREGATE quota.min(quota.credits) (
    SFUNC = quota.credits_smaller, STYPE = quota.credits,
    COMBINEFUNC = quota.credits_smaller, SORTOP = OPERATOR(quota.<),
    PARALLEL = SAFE);
COMMENT ON AGGREGATE quota.min(quota.credits) IS 'smallest credits value';
CREATE AGGREGATE quota.max(quota.credits) (
    SFUNC = quota.credits_larger, STYPE = quota.credits,
    COMBINEFUNC = quota.credits_larger, SORTOP = OPERATOR(quota.>),
    PARALLEL = SAFE);
COMMENT ON AGGREGATE quota.max(quota.credits) IS 'largest credits value';

-- ---------------------------------------------------------------------------
-- Identity and argument checks
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota.current_user_id() RETURNS text
    AS 'MODULE_PATHNAME', 'quota_current_user_id'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.current_user_id() IS
    'the user id this session acts for: the calling role, or quota.user_id for quota_app and quota_admin members';

CREATE FUNCTION quota._require(names text[], nulls boolean[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    FOR i IN 1 .. array_length(names, 1) LOOP
        IF nulls[i] THEN
            RAISE EXCEPTION 'argument "%" must not be null', names[i]
                USING ERRCODE = 'null_value_not_allowed',
                      HINT = format('Pass a value for "%s".', names[i]);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota._require(text[], boolean[]) IS
    'internal: raise 22004 naming the first argument that is null';

CREATE FUNCTION quota._caller_is_admin() RETURNS boolean
    AS 'MODULE_PATHNAME', 'quota_caller_is_admin'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota._caller_is_admin() IS
    'internal: does the calling role (as SET ROLE leaves it) have the privileges of quota_admin';

-- ---------------------------------------------------------------------------
-- Models and prices
-- ---------------------------------------------------------------------------

CREATE TABLE quota.models (
    model               text PRIMARY KEY
                        CHECK (char_length(model) BETWEEN 1 AND 200),
    service             text NOT NULL CHECK (service <> ''),
    input_price         quota.credits NOT NULL CHECK (input_price >= 0),
    cached_input_price  quota.credits NOT NULL CHECK (cached_input_price >= 0),
    output_price        quota.credits NOT NULL CHECK (output_price >= 0),
    request_price       quota.credits NOT NULL DEFAULT 0 CHECK (request_price >= 0),
    enabled             boolean NOT NULL DEFAULT true,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE quota.models IS
    'priced models: credits per 1,000,000 tokens, request_price per request';
COMMENT ON COLUMN quota.models.cached_input_price IS
    'price of cached input tokens; set to input_price when not given';

CREATE TABLE quota.discounts (
    discount_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service         text NOT NULL,
    rate            numeric NOT NULL
                    CHECK (rate >= 0 AND rate <= 1 AND scale(rate) <= 18),
    model           text,
    pool            text,
    valid_from      timestamptz,
    valid_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_from < valid_until)
);
COMMENT ON TABLE quota.discounts IS
    'discount rates by service, optionally model, pool and window [valid_from, valid_until); the lowest matching rate applies';

CREATE FUNCTION quota._catalog_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'quota_catalog_changed'
    LANGUAGE C;
COMMENT ON FUNCTION quota._catalog_changed() IS
    'internal: tell every backend to reload its copy of models and discounts';

CREATE TRIGGER models_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.models FOR EACH STATEMENT EXECUTE FUNCTION quota._catalog_changed();
COMMENT ON TRIGGER models_changed ON quota.models IS
    'reload the model cache of every backend';
CREATE TRIGGER discounts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.discounts FOR EACH STATEMENT EXECUTE FUNCTION quota._catalog_changed();
COMMENT ON TRIGGER discounts_changed ON quota.discounts IS
    'reload the discount cache of every backend';

CREATE FUNCTION quota.quota_set_model(model text, input_price quota.credits,
        output_price quota.credits, service text DEFAULT 'chat',
        cached_input_price quota.credits DEFAULT NULL,
        request_price quota.credits DEFAULT 0, enabled boolean DEFAULT true)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(
        ARRAY['model', 'input_price', 'output_price', 'service', 'request_price', 'enabled'],
        ARRAY[model IS NULL, input_price IS NULL, output_price IS NULL,
              service IS NULL, request_price IS NULL, enabled IS NULL]);
    IF model = '' OR char_length(model) > 200 THEN
        RAISE EXCEPTION 'invalid model name "%"', model
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A model name has 1 to 200 characters.';
    END IF;
    IF service = '' THEN
        RAISE EXCEPTION 'invalid service ""'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the service, for example ''chat'' or ''api''.';
    END IF;
    IF input_price < 0 OR output_price < 0 OR request_price < 0
       OR cached_input_price < 0 THEN
        RAISE EXCEPTION 'prices of model "%" must not be negative', model
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 0 for a free model.';
    END IF;
    INSERT INTO quota.models AS m (model, service, input_price, cached_input_price,
                                   output_price, request_price, enabled)
    VALUES (quota_set_model.model, quota_set_model.service,
            quota_set_model.input_price,
            coalesce(quota_set_model.cached_input_price, quota_set_model.input_price),
            quota_set_model.output_price, quota_set_model.request_price,
            quota_set_model.enabled)
    ON CONFLICT ON CONSTRAINT models_pkey DO UPDATE
        SET service = excluded.service, input_price = excluded.input_price,
            cached_input_price = excluded.cached_input_price,
            output_price = excluded.output_price,
            request_price = excluded.request_price, enabled = excluded.enabled,
            updated_at = now();
END
$$;
COMMENT ON FUNCTION quota.quota_set_model(text, quota.credits, quota.credits, text,
                                          quota.credits, quota.credits, boolean) IS
    'create or update a model and its prices (credits per 1M tokens); later charges use the new prices';

CREATE FUNCTION quota.quota_set_discount(service text, rate numeric,
        model text DEFAULT NULL, pool text DEFAULT NULL,
        valid_from timestamptz DEFAULT NULL, valid_until timestamptz DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM quota._require(ARRAY['service', 'rate'],
                           ARRAY[service IS NULL, rate IS NULL]);
    IF service = '' THEN
        RAISE EXCEPTION 'argument "service" must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the service the discount applies to, such as chat.';
    END IF;
    IF rate < 0 OR rate > 1 OR rate = 'NaN'::numeric THEN
        RAISE EXCEPTION 'discount rate % is out of range', rate
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A rate lies between 0 and 1: final cost = original cost x rate.',
                  HINT = 'Write 0.8 for 20% off.';
    END IF;
    IF scale(rate) > 18 THEN
        RAISE EXCEPTION 'discount rate % has too many digits', rate
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A rate has at most 18 fractional digits.';
    END IF;
    IF valid_from IS NOT NULL AND valid_until IS NOT NULL
       AND valid_from >= valid_until THEN
        RAISE EXCEPTION 'discount window is empty'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('valid_from %s is not before valid_until %s.',
                                  valid_from, valid_until);
    END IF;
    IF model IS NOT NULL AND NOT EXISTS
       (SELECT FROM quota.models m WHERE m.model = quota_set_discount.model) THEN
        RAISE EXCEPTION 'model "%" does not exist', model
            USING ERRCODE = 'undefined_object',
                  HINT = 'Models are defined with quota_set_model(); see quota.models.';
    END IF;
    IF pool IS NOT NULL AND NOT EXISTS
       (SELECT FROM quota.pool_defs p WHERE p.pool = quota_set_discount.pool) THEN
        RAISE EXCEPTION 'pool "%" does not exist', pool
            USING ERRCODE = 'undefined_object',
                  HINT = 'Pools are listed in quota.pools.';
    END IF;
    INSERT INTO quota.discounts (service, rate, model, pool, valid_from, valid_until)
    VALUES (service, rate, model, pool, valid_from, valid_until)
    RETURNING discount_id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION quota.quota_set_discount(text, numeric, text, text, timestamptz, timestamptz) IS
    'add a discount (rate in [0, 1]) for a service, optionally a model, a pool and a time window; returns its id';

CREATE FUNCTION quota.quota_drop_discount(id bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['id'], ARRAY[id IS NULL]);
    DELETE FROM quota.discounts d WHERE d.discount_id = id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'discount % does not exist', id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Discounts are listed in quota.discounts.';
    END IF;
END
$$;
COMMENT ON FUNCTION quota.quota_drop_discount(bigint) IS 'remove a discount by id';

CREATE FUNCTION quota.quota_cost(model text, input_tokens bigint, output_tokens bigint,
        cached_input_tokens bigint DEFAULT 0, pool text DEFAULT NULL,
        at timestamptz DEFAULT now())
    RETURNS TABLE(original_cost quota.credits, discount_rate numeric,
                  final_cost quota.credits)
    AS 'MODULE_PATHNAME', 'quota_cost'
    LANGUAGE C STABLE PARALLEL SAFE
    ROWS 1;
COMMENT ON FUNCTION quota.quota_cost(text, bigint, bigint, bigint, text, timestamptz) IS
    'cost of a request: original cost, the lowest applicable discount rate, and final cost = round(original x rate)';

-- ---------------------------------------------------------------------------
-- Schedules: cron expressions in the wall-clock time of a zone
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota.quota_next_reset(cron text, timezone text, after timestamptz)
    RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'quota_next_reset'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.quota_next_reset(text, text, timestamptz) IS
    'first firing of a 5-field cron expression strictly after a time, read in the wall-clock time of a zone (DST gaps fire at the gap''s end, repeated times once)';

-- ---------------------------------------------------------------------------
-- Users, pools and membership
-- ---------------------------------------------------------------------------

CREATE TABLE quota.users (
    user_id     text PRIMARY KEY CHECK (char_length(user_id) BETWEEN 1 AND 200),
    groups      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE quota.users IS
    'the user directory: user ids and their groups (student, staff, dept:physics, ...)';

CREATE TABLE quota.pool_defs (
    pool_id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    pool            text PRIMARY KEY CHECK (char_length(pool) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('personal', 'shared')),
    owner           text REFERENCES quota.users (user_id),
    allowance       quota.credits NOT NULL CHECK (allowance >= 0),
    reset_cron      text,
    reset_timezone  text NOT NULL DEFAULT 'UTC',
    reset_policy    text NOT NULL DEFAULT 'restore'
                    CHECK (reset_policy IN ('restore', 'add', 'none')),
    next_reset_at   timestamptz,
    period_start    timestamptz NOT NULL DEFAULT now(),
    period_funds    quota.credits NOT NULL DEFAULT 0,
    member_limit    quota.credits CHECK (member_limit >= 0),
    warn_at         numeric[] NOT NULL DEFAULT '{0.8,0.95}'
                    CHECK (0 < ALL (warn_at) AND 1 >= ALL (warn_at)),
    enabled         boolean NOT NULL DEFAULT true,
    models          text[],
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'personal' OR owner IS NOT NULL)
);
CREATE INDEX pool_defs_owner ON quota.pool_defs (owner) WHERE owner IS NOT NULL;
COMMENT ON TABLE quota.pool_defs IS
    'pool configuration (read it through quota.pools, which adds the balance)';
COMMENT ON COLUMN quota.pool_defs.models IS
    'models the pool pays for; NULL: every enabled model';
COMMENT ON COLUMN quota.pool_defs.period_start IS
    'start of the current period (the last reset); member usage and warnings count from here';
COMMENT ON COLUMN quota.pool_defs.period_funds IS
    'the balance the period started with plus every non-charge entry since: usage in the period is period_funds - balance';

CREATE TABLE quota.pool_members (
    pool            text NOT NULL REFERENCES quota.pool_defs (pool),
    user_id         text NOT NULL REFERENCES quota.users (user_id),
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
    member_limit    quota.credits CHECK (member_limit >= 0),
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
    allowance       quota.credits NOT NULL CHECK (allowance >= 0),
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
                        CHECK (kind IN ('grant', 'charge', 'topup', 'adjust', 'reset')),
    amount              quota.credits NOT NULL,
    model               text,
    service             text,
    conversation_id     text,
    request_id          text,
    input_tokens        bigint,
    cached_input_tokens bigint,
    output_tokens       bigint,
    input_price         quota.credits,
    cached_input_price  quota.credits,
    output_price        quota.credits,
    request_price       quota.credits,
    original_cost       quota.credits,
    discount_rate       numeric,
    final_cost          quota.credits,
    balance_after       quota.credits,
    note                text
);
CREATE UNIQUE INDEX ledger_request_id ON quota.ledger (request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX ledger_pool_at ON quota.ledger (pool, at);
CREATE INDEX ledger_user_at ON quota.ledger (user_id, at);
COMMENT ON TABLE quota.ledger IS
    'every balance movement; a pool''s balance is the sum of its amounts';
COMMENT ON COLUMN quota.ledger.amount IS 'signed: charges are negative';
COMMENT ON COLUMN quota.ledger.request_id IS 'idempotency key of a charge';
COMMENT ON COLUMN quota.ledger.balance_after IS
    'for charges: the pool''s balance after the charge, as the charging transaction saw it';

CREATE TABLE quota.reservations (
    request_id          text PRIMARY KEY,
    pool                text NOT NULL,
    user_id             text NOT NULL,
    model               text NOT NULL,
    max_input_tokens    bigint NOT NULL,
    max_output_tokens   bigint NOT NULL,
    held                quota.credits NOT NULL CHECK (held >= 0),
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
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'permission denied: % of "%" is not allowed', lower(TG_OP), TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'The ledger is append-only: balances change only through quota''s functions.',
              HINT = 'Use quota_adjust() to correct a balance.';
END
$$;
COMMENT ON FUNCTION quota._append_only() IS 'internal: refuse changes to the ledger';

CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION quota._append_only();
COMMENT ON TRIGGER ledger_append_only ON quota.ledger IS 'the ledger is append-only';
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON quota.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION quota._append_only();
COMMENT ON TRIGGER ledger_no_truncate ON quota.ledger IS 'the ledger is append-only';

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
DECLARE
    pol record;
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
    FOR pol IN SELECT * FROM quota.personal_policies p
               WHERE p.group_name = ANY (quota_set_user.groups)
               ORDER BY p.group_name LOOP
        PERFORM quota._ensure_personal(quota_set_user.user_id, pol.allowance,
                                       pol.reset_cron, pol.reset_timezone);
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota.quota_set_user(text, text[]) IS
    'register a user or replace their groups; personal-account policies of the groups apply';

CREATE FUNCTION quota.quota_create_pool(pool text, allowance quota.credits,
        kind text DEFAULT 'shared', reset_cron text DEFAULT NULL,
        reset_timezone text DEFAULT 'UTC', reset_policy text DEFAULT 'restore',
        owner text DEFAULT NULL, member_limit quota.credits DEFAULT NULL)
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
    PERFORM quota._post(pool, 'grant', allowance, NULL, 'initial allowance');
END
$$;
COMMENT ON FUNCTION quota.quota_create_pool(text, quota.credits, text, text, text, text,
                                            text, quota.credits) IS
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

CREATE FUNCTION quota.quota_personal_policy(group_name text, allowance quota.credits,
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
        PERFORM quota._ensure_personal(u.user_id, allowance, reset_cron, reset_timezone);
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota.quota_personal_policy(text, quota.credits, text, text) IS
    'give every user of a group a personal pool personal:<user_id> (existing users now, new users when set)';

CREATE FUNCTION quota.quota_add_member(pool text, user_id text,
        role text DEFAULT 'member', member_limit quota.credits DEFAULT NULL)
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
COMMENT ON FUNCTION quota.quota_add_member(text, text, text, quota.credits) IS
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

CREATE FUNCTION quota.quota_topup(pool text, amount quota.credits, note text DEFAULT NULL)
    RETURNS quota.credits
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'amount'], ARRAY[pool IS NULL, amount IS NULL]);
    IF amount <= 0 THEN
        RAISE EXCEPTION 'top-up amount must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The amount given was %s.', amount),
                  HINT = 'Use quota_adjust() for a correction in either direction.';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._post(pool, 'topup', amount, quota.current_user_id(), note);
    RETURN (quota._pool_money(pool)).balance;
END
$$;
COMMENT ON FUNCTION quota.quota_topup(text, quota.credits, text) IS
    'add credits to a pool; returns the new balance';

CREATE FUNCTION quota.quota_adjust(pool text, amount quota.credits, note text)
    RETURNS quota.credits
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'amount', 'note'],
                           ARRAY[pool IS NULL, amount IS NULL, note IS NULL]);
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
    PERFORM quota._post(pool, 'adjust', amount, quota.current_user_id(), note);
    RETURN (quota._pool_money(pool)).balance;
END
$$;
COMMENT ON FUNCTION quota.quota_adjust(text, quota.credits, text) IS
    'signed correction of a pool''s balance, with a note; returns the new balance';

CREATE FUNCTION quota._apply_reset(pool text, manual boolean) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    p quota.pool_defs;
    amount quota.credits;
    boundary timestamptz;
BEGIN
    SELECT * INTO p FROM quota.pool_defs d WHERE d.pool = _apply_reset.pool FOR UPDATE;
    IF NOT manual AND (p.next_reset_at IS NULL OR p.next_reset_at > now()) THEN
        RETURN false;               -- another session reset it first
    END IF;
    IF p.reset_policy = 'none' THEN
        RETURN false;
    END IF;
    amount := CASE p.reset_policy
                  WHEN 'restore' THEN p.allowance - (quota._pool_money(p.pool)).balance
                  ELSE p.allowance END;
    PERFORM quota._post(p.pool, 'reset', amount, NULL,
                        CASE WHEN manual THEN 'manual reset' ELSE 'scheduled reset' END);
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
-- ---------------------------------------------------------------------------
-- Usage warnings (written by the charge path, alert.c)
-- ---------------------------------------------------------------------------

CREATE TABLE quota.alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool            text NOT NULL,
    threshold       numeric NOT NULL,
    period_start    timestamptz NOT NULL,
    used            quota.credits NOT NULL,
    allowance       quota.credits NOT NULL,
    user_id         text,
    request_id      text,
    at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (pool, period_start, threshold)
);
COMMENT ON TABLE quota.alerts IS
    'one row per pool, period and warning threshold crossed; each row was also sent as NOTIFY quota_alert';
COMMENT ON COLUMN quota.alerts.threshold IS 'the fraction of the allowance (from the pool''s warn_at)';
COMMENT ON COLUMN quota.alerts.period_start IS 'the period the warning belongs to (the pool''s period_start)';
COMMENT ON COLUMN quota.alerts.used IS 'charges in the period, in-flight ones included, when the threshold was crossed';
COMMENT ON COLUMN quota.alerts.allowance IS 'the pool''s allowance at that moment';
COMMENT ON COLUMN quota.alerts.user_id IS 'the user whose charge crossed the threshold';
COMMENT ON COLUMN quota.alerts.request_id IS 'the request whose charge crossed the threshold';

-- ---------------------------------------------------------------------------
-- Using the service: switching, checking, reserving, charging (C)
-- ---------------------------------------------------------------------------

-- No SET clause, so that the planner inlines it into the charge path's
-- queries (a SET would make it an opaque function scan, joined by hashing
-- every pool on each call).  Every name and operator is qualified; its
-- callers are SECURITY DEFINER functions with a pinned search_path.
CREATE FUNCTION quota._usable_pools(user_id text)
    RETURNS TABLE(pool text, role text)
    LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT ON (x.pool) x.pool, x.role
      FROM (SELECT p.pool, 'owner'::pg_catalog.text AS role, 1 AS rank
              FROM quota.pool_defs p WHERE p.owner OPERATOR(pg_catalog.=) $1
            UNION ALL
            SELECT m.pool, m.role,
                   CASE WHEN m.role OPERATOR(pg_catalog.=) 'admin' THEN 2 ELSE 3 END
              FROM quota.pool_members m WHERE m.user_id OPERATOR(pg_catalog.=) $1
            UNION ALL
            SELECT g.pool, 'member'::pg_catalog.text, 4
              FROM quota.users u
              JOIN quota.pool_groups g
                ON g.group_name OPERATOR(pg_catalog.=) ANY (u.groups)
             WHERE u.user_id OPERATOR(pg_catalog.=) $1) x
     ORDER BY x.pool, x.rank
$$;
COMMENT ON FUNCTION quota._usable_pools(text) IS
    'internal: the pools a user can use (owner, direct member or group member) and the user''s role';

CREATE FUNCTION quota.quota_switch(pool text, user_id text DEFAULT NULL)
    RETURNS TABLE(pool text, available quota.credits, next_reset_at timestamptz)
    AS 'MODULE_PATHNAME', 'quota_switch'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_switch(text, text) IS
    'make a pool the active one for new requests (requests in flight keep their pool)';

CREATE FUNCTION quota.quota_active_pool(user_id text DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'quota_active_pool'
    LANGUAGE C STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_active_pool(text) IS
    'the pool new requests of the user are billed to: the last switch, else the personal pool, else the first usable shared pool by name';

CREATE FUNCTION quota.quota_check(model text, user_id text DEFAULT NULL,
        pool text DEFAULT NULL)
    RETURNS TABLE(allowed boolean, pool text, available quota.credits, reason text)
    AS 'MODULE_PATHNAME', 'quota_check'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_check(text, text, text) IS
    'could a new request start now? (access, pool enabled, model permitted, available > 0 and member limit for paid models); reason names the first rule that fails';

CREATE FUNCTION quota.quota_reserve(model text, max_input_tokens bigint,
        max_output_tokens bigint, request_id text, user_id text DEFAULT NULL,
        pool text DEFAULT NULL, ttl interval DEFAULT '15 minutes')
    RETURNS TABLE(request_id text, pool text, held quota.credits, expires_at timestamptz)
    AS 'MODULE_PATHNAME', 'quota_reserve'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_reserve(text, bigint, bigint, text, text, text, interval) IS
    'hold the worst-case final cost of a streaming request; settle it with quota_charge() using the same request_id';

CREATE FUNCTION quota.quota_charge(model text, input_tokens bigint, output_tokens bigint,
        request_id text, conversation_id text DEFAULT NULL,
        cached_input_tokens bigint DEFAULT 0, user_id text DEFAULT NULL,
        pool text DEFAULT NULL)
    RETURNS TABLE(charge_id bigint, pool text, original_cost quota.credits,
                  discount_rate numeric, final_cost quota.credits,
                  balance quota.credits)
    AS 'MODULE_PATHNAME', 'quota_charge'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_charge(text, bigint, bigint, text, text, bigint, text, text) IS
    'bill a request exactly once per request_id: settles its reservation, or must fit in available and the member limit';

CREATE FUNCTION quota.quota_release(request_id text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quota_release'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_release(text) IS
    'free a reservation''s hold without charging; false when it had already ended';

CREATE FUNCTION quota._expire_holds(pool text) RETURNS integer
    AS 'MODULE_PATHNAME', 'quota_expire_holds'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._expire_holds(text) IS
    'internal: release the expired holds of a pool (NULL: of every pool)';

CREATE FUNCTION quota.quota_run_due()
    RETURNS TABLE(resets integer, holds_expired integer)
    LANGUAGE plpgsql SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    resets := 0;
    FOR p IN SELECT d.pool FROM quota.pool_defs d
              WHERE d.next_reset_at <= now()
              ORDER BY d.next_reset_at, d.pool LOOP
        IF quota._apply_reset(p.pool, false) THEN
            resets := resets + 1;
        END IF;
    END LOOP;
    holds_expired := quota._expire_holds(NULL);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION quota.quota_run_due() IS
    'apply every due reset once and release expired reservations (run every minute by pg_cron)';

-- ---------------------------------------------------------------------------
-- Views (security_invoker: row-level security of the tables applies)
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota._sees_pool(pool text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT quota._caller_is_admin()
        OR EXISTS (SELECT FROM quota._usable_pools(quota.current_user_id()) u
                    WHERE u.pool = $1)
$$;
COMMENT ON FUNCTION quota._sees_pool(text) IS
    'internal (row-level security): may the calling user see this pool';

CREATE FUNCTION quota._admins_pool(pool text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT quota._caller_is_admin()
        OR EXISTS (SELECT FROM quota.pool_members m
                    WHERE m.pool = $1 AND m.role = 'admin'
                      AND m.user_id = quota.current_user_id())
$$;
COMMENT ON FUNCTION quota._admins_pool(text) IS
    'internal (row-level security): is the calling user quota_admin or an administrator of this pool';

CREATE FUNCTION quota._pool_figures(pool text, OUT balance quota.credits,
        OUT held quota.credits, OUT available quota.credits, OUT used quota.credits)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    funds quota.credits;
BEGIN
    SELECT d.period_funds INTO funds FROM quota.pool_defs d WHERE d.pool = _pool_figures.pool;
    IF NOT FOUND OR NOT quota._sees_pool(pool) THEN
        RETURN;
    END IF;
    balance := (quota._pool_money(pool)).balance;
    SELECT coalesce(quota.sum(r.held), '0') INTO held FROM quota.reservations r
     WHERE r.pool = _pool_figures.pool AND r.settled_at IS NULL AND r.expires_at > now();
    available := balance - held;
    -- the period's charges: what it was funded with, less what is left
    used := funds - balance;
END
$$;
COMMENT ON FUNCTION quota._pool_figures(text) IS
    'internal: balance, active unexpired holds, available and this period''s usage of a pool the caller may see';

CREATE VIEW quota.pools WITH (security_invoker = true) AS
SELECT d.pool, d.kind, d.owner, d.allowance, f.balance, d.reset_cron,
       d.reset_timezone, d.reset_policy, d.next_reset_at, d.member_limit,
       d.warn_at, d.enabled, d.models, d.period_start, d.created_at
  FROM quota.pool_defs d
 CROSS JOIN LATERAL quota._pool_figures(d.pool) f;
COMMENT ON VIEW quota.pools IS
    'one row per pool with its balance; schedule, policy, allowance, limits, thresholds and enabled may be changed with UPDATE, the balance may not';

CREATE FUNCTION quota._pools_update() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    sets text[] := '{}';
BEGIN
    IF NEW.balance IS DISTINCT FROM OLD.balance THEN
        RAISE EXCEPTION 'permission denied to change the balance of pool "%"', OLD.pool
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A balance is the sum of the pool''s ledger and changes only through quota''s functions.',
                  HINT = 'Use quota_topup() or quota_adjust().';
    END IF;
    IF (NEW.pool, NEW.kind, NEW.owner, NEW.next_reset_at, NEW.period_start, NEW.created_at)
       IS DISTINCT FROM
       (OLD.pool, OLD.kind, OLD.owner, OLD.next_reset_at, OLD.period_start, OLD.created_at) THEN
        RAISE EXCEPTION 'permission denied to change the identity or period of pool "%"', OLD.pool
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'pool, kind, owner, next_reset_at, period_start and created_at are kept by quota.',
                  HINT = 'Change reset_cron or reset_timezone to move the next reset.';
    END IF;
    IF NEW.allowance IS DISTINCT FROM OLD.allowance THEN
        sets := sets || format('allowance = %L::quota.credits', NEW.allowance);
    END IF;
    IF NEW.member_limit IS DISTINCT FROM OLD.member_limit THEN
        sets := sets || format('member_limit = %L::quota.credits', NEW.member_limit);
    END IF;
    IF NEW.reset_cron IS DISTINCT FROM OLD.reset_cron THEN
        sets := sets || format('reset_cron = %L', NEW.reset_cron);
    END IF;
    IF NEW.reset_timezone IS DISTINCT FROM OLD.reset_timezone THEN
        sets := sets || format('reset_timezone = %L', NEW.reset_timezone);
    END IF;
    IF NEW.reset_policy IS DISTINCT FROM OLD.reset_policy THEN
        sets := sets || format('reset_policy = %L', NEW.reset_policy);
    END IF;
    IF NEW.warn_at IS DISTINCT FROM OLD.warn_at THEN
        sets := sets || format('warn_at = %L::numeric[]', NEW.warn_at);
    END IF;
    IF NEW.enabled IS DISTINCT FROM OLD.enabled THEN
        sets := sets || format('enabled = %L::boolean', NEW.enabled);
    END IF;
    IF NEW.models IS DISTINCT FROM OLD.models THEN
        sets := sets || format('models = %L::text[]', NEW.models);
    END IF;
    IF sets <> '{}' THEN
        EXECUTE format('UPDATE quota.pool_defs SET %s WHERE pool = $1',
                       array_to_string(sets, ', '))
            USING OLD.pool;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION quota._pools_update() IS
    'internal: UPDATE of quota.pools, column by column, under the caller''s privileges; the balance is refused';

CREATE TRIGGER pools_update INSTEAD OF UPDATE ON quota.pools
    FOR EACH ROW EXECUTE FUNCTION quota._pools_update();
COMMENT ON TRIGGER pools_update ON quota.pools IS
    'configuration changes go to quota.pool_defs; balance changes are refused';

CREATE FUNCTION quota._pool_defs_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF (NEW.reset_cron, NEW.reset_timezone, NEW.reset_policy)
       IS DISTINCT FROM (OLD.reset_cron, OLD.reset_timezone, OLD.reset_policy) THEN
        NEW.next_reset_at := quota._check_schedule(NEW.reset_cron, NEW.reset_timezone,
                                                   NEW.reset_policy);
    END IF;
    IF NEW.warn_at IS DISTINCT FROM OLD.warn_at THEN
        IF NEW.warn_at IS NULL THEN
            RAISE EXCEPTION 'warning thresholds of pool "%" must not be null', NEW.pool
                USING ERRCODE = 'null_value_not_allowed',
                      HINT = 'Use ''{}'' for a pool without warnings.';
        END IF;
        IF array_ndims(NEW.warn_at) > 1 OR cardinality(NEW.warn_at) > 16
           OR EXISTS (SELECT FROM unnest(NEW.warn_at) t WHERE t IS NULL OR t <= 0 OR t > 1) THEN
            RAISE EXCEPTION 'invalid warning thresholds "%" for pool "%"', NEW.warn_at, NEW.pool
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Each threshold is a fraction of the allowance, greater than 0 and at most 1; a pool has at most 16.',
                      HINT = 'Use for example ''{0.8,0.95}'', or ''{}'' for no warnings.';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION quota._pool_defs_changed() IS
    'internal: validate a changed schedule (recomputing next_reset_at) and warning thresholds';

CREATE TRIGGER pool_defs_schedule BEFORE UPDATE ON quota.pool_defs
    FOR EACH ROW EXECUTE FUNCTION quota._pool_defs_changed();
COMMENT ON TRIGGER pool_defs_schedule ON quota.pool_defs IS
    'a changed schedule recomputes next_reset_at; thresholds are validated';

CREATE VIEW quota.pool_status WITH (security_invoker = true) AS
SELECT d.pool, d.kind, d.allowance, f.balance, f.held, f.available, f.used,
       CASE WHEN d.allowance > 0
            THEN round(f.used::numeric * 100 / d.allowance::numeric, 2) END AS used_pct,
       d.next_reset_at, d.enabled
  FROM quota.pool_defs d
 CROSS JOIN LATERAL quota._pool_figures(d.pool) f;
COMMENT ON VIEW quota.pool_status IS
    'per pool: allowance, balance, held, available, used this period (and percent of allowance), next reset';

CREATE FUNCTION quota._my_pools()
    RETURNS TABLE(pool text, role text, active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT u.pool, u.role, u.pool IS NOT DISTINCT FROM a.active
      FROM quota._usable_pools(quota.current_user_id()) u,
           (SELECT quota.quota_active_pool() AS active) a
$$;
COMMENT ON FUNCTION quota._my_pools() IS
    'internal: the calling user''s usable pools, role and which one is active';

CREATE VIEW quota.my_pools WITH (security_invoker = true) AS
SELECT m.pool, d.kind, m.role, m.active, f.balance, f.held, f.available,
       d.next_reset_at, d.enabled
  FROM quota._my_pools() m
  JOIN quota.pool_defs d ON d.pool = m.pool
 CROSS JOIN LATERAL quota._pool_figures(m.pool) f;
COMMENT ON VIEW quota.my_pools IS
    'the calling user''s usable pools with available balance, role, and which one is active';

CREATE VIEW quota.charges WITH (security_invoker = true) AS
SELECT l.entry_id AS charge_id, l.at, l.pool, l.user_id, l.model, l.service,
       l.request_id, l.conversation_id, l.input_tokens, l.cached_input_tokens,
       l.output_tokens, l.input_price, l.cached_input_price, l.output_price,
       l.request_price, l.original_cost, l.discount_rate, l.final_cost
  FROM quota.ledger l
 WHERE l.kind = 'charge';
COMMENT ON VIEW quota.charges IS
    'the ledger''s charge entries (original cost crossed out, final cost charged)';

CREATE VIEW quota.conversation_costs WITH (security_invoker = true) AS
SELECT c.conversation_id, c.user_id, count(*) AS requests,
       sum(c.input_tokens + c.cached_input_tokens + c.output_tokens) AS tokens,
       quota.sum(c.original_cost) AS original_cost,
       quota.sum(c.final_cost) AS final_cost,
       min(c.at) AS first_at, max(c.at) AS last_at
  FROM quota.charges c
 WHERE c.conversation_id IS NOT NULL
 GROUP BY c.conversation_id, c.user_id;
COMMENT ON VIEW quota.conversation_costs IS 'cost of each conversation per user';

CREATE VIEW quota.usage_daily WITH (security_invoker = true) AS
SELECT c.at::date AS day, c.pool, c.model, count(*) AS requests,
       sum(c.input_tokens + c.cached_input_tokens + c.output_tokens) AS tokens,
       quota.sum(c.original_cost) AS original_cost,
       quota.sum(c.final_cost) AS final_cost
  FROM quota.charges c
 GROUP BY 1, 2, 3;
COMMENT ON VIEW quota.usage_daily IS
    'per day (in the session''s time zone), pool and model: requests, tokens and costs';

-- ---------------------------------------------------------------------------
-- Privileges and row-level security
-- ---------------------------------------------------------------------------

-- Tables: read under row-level security; written only by quota's functions.
REVOKE ALL ON ALL TABLES IN SCHEMA quota FROM PUBLIC;
GRANT SELECT ON quota.models, quota.discounts, quota.users, quota.pool_defs,
    quota.pool_members, quota.pool_groups, quota.personal_policies,
    quota.user_state, quota.ledger, quota.reservations, quota.alerts
    TO quota_admin, quota_app, quota_user;
GRANT SELECT ON quota.pools, quota.pool_status, quota.my_pools, quota.charges,
    quota.conversation_costs, quota.usage_daily
    TO quota_admin, quota_app, quota_user;

-- Configuration columns: all for quota_admin; schedule and thresholds for
-- pool administrators (row-level security narrows them to their pools).
GRANT UPDATE (allowance, member_limit, reset_cron, reset_timezone, reset_policy,
              warn_at, enabled, models)
    ON quota.pool_defs TO quota_admin;
GRANT UPDATE (reset_cron, reset_timezone, warn_at) ON quota.pool_defs TO quota_user;
GRANT UPDATE ON quota.pools TO quota_admin, quota_user;

ALTER TABLE quota.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_read ON quota.users FOR SELECT
    USING (quota._caller_is_admin() OR user_id = quota.current_user_id());
COMMENT ON POLICY users_read ON quota.users IS 'users see their own entry; quota_admin sees all';

ALTER TABLE quota.pool_defs ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_defs_read ON quota.pool_defs FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY pool_defs_read ON quota.pool_defs IS
    'users see the pools they may use; quota_admin sees all';
CREATE POLICY pool_defs_manage ON quota.pool_defs FOR UPDATE
    USING (quota._admins_pool(pool)) WITH CHECK (quota._admins_pool(pool));
COMMENT ON POLICY pool_defs_manage ON quota.pool_defs IS
    'quota_admin and the pool''s administrators change its configuration';

ALTER TABLE quota.pool_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_members_read ON quota.pool_members FOR SELECT
    USING (user_id = quota.current_user_id() OR quota._admins_pool(pool));
COMMENT ON POLICY pool_members_read ON quota.pool_members IS
    'users see their own memberships; pool administrators their pool''s members';

ALTER TABLE quota.pool_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_groups_read ON quota.pool_groups FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY pool_groups_read ON quota.pool_groups IS
    'group grants are visible with their pool';

ALTER TABLE quota.personal_policies ENABLE ROW LEVEL SECURITY;
CREATE POLICY personal_policies_read ON quota.personal_policies FOR SELECT
    USING (quota._caller_is_admin());
COMMENT ON POLICY personal_policies_read ON quota.personal_policies IS
    'personal-account policies are visible to quota_admin';

ALTER TABLE quota.user_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_state_read ON quota.user_state FOR SELECT
    USING (quota._caller_is_admin() OR user_id = quota.current_user_id());
COMMENT ON POLICY user_state_read ON quota.user_state IS
    'users see their own active pool; quota_admin sees all';

ALTER TABLE quota.ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_read ON quota.ledger FOR SELECT
    USING (user_id = quota.current_user_id() OR quota._admins_pool(pool));
COMMENT ON POLICY ledger_read ON quota.ledger IS
    'users see their own entries; pool administrators their pool''s; quota_admin all';

ALTER TABLE quota.reservations ENABLE ROW LEVEL SECURITY;
CREATE POLICY reservations_read ON quota.reservations FOR SELECT
    USING (user_id = quota.current_user_id() OR quota._admins_pool(pool));
COMMENT ON POLICY reservations_read ON quota.reservations IS
    'users see their own reservations; pool administrators their pool''s; quota_admin all';

ALTER TABLE quota.alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY alerts_read ON quota.alerts FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY alerts_read ON quota.alerts IS
    'warnings are visible with their pool: to its users, its administrators and quota_admin';

-- Functions: nothing is executable by PUBLIC but the money type and pure
-- calculations; each role gets what it needs.
REVOKE ALL ON FUNCTION
    quota.quota_set_model(text, quota.credits, quota.credits, text, quota.credits, quota.credits, boolean),
    quota.quota_set_discount(text, numeric, text, text, timestamptz, timestamptz),
    quota.quota_drop_discount(bigint),
    quota.quota_set_user(text, text[]),
    quota.quota_create_pool(text, quota.credits, text, text, text, text, text, quota.credits),
    quota.quota_personal_policy(text, quota.credits, text, text),
    quota.quota_add_member(text, text, text, quota.credits),
    quota.quota_remove_member(text, text),
    quota.quota_grant_group(text, text),
    quota.quota_revoke_group(text, text),
    quota.quota_set_pool_models(text, text[]),
    quota.quota_set_pool_enabled(text, boolean),
    quota.quota_topup(text, quota.credits, text),
    quota.quota_adjust(text, quota.credits, text),
    quota.quota_reset(text),
    quota.quota_run_due(),
    quota.quota_switch(text, text),
    quota.quota_active_pool(text),
    quota.quota_check(text, text, text),
    quota.quota_reserve(text, bigint, bigint, text, text, text, interval),
    quota.quota_charge(text, bigint, bigint, text, text, bigint, text, text),
    quota.quota_release(text),
    quota._post(text, text, quota.credits, text, text),
    quota._pool_money(text),
    quota._apply_reset(text, boolean),
    quota._expire_holds(text),
    quota._ensure_personal(text, quota.credits, text, text),
    quota._usable_pools(text),
    quota._pool_exists(text),
    quota._user_exists(text),
    quota._may_manage(text),
    quota._check_schedule(text, text, text)
    FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    quota.quota_set_model(text, quota.credits, quota.credits, text, quota.credits, quota.credits, boolean),
    quota.quota_set_discount(text, numeric, text, text, timestamptz, timestamptz),
    quota.quota_drop_discount(bigint),
    quota.quota_set_user(text, text[]),
    quota.quota_create_pool(text, quota.credits, text, text, text, text, text, quota.credits),
    quota.quota_personal_policy(text, quota.credits, text, text),
    quota.quota_grant_group(text, text),
    quota.quota_revoke_group(text, text),
    quota.quota_set_pool_models(text, text[]),
    quota.quota_set_pool_enabled(text, boolean),
    quota.quota_topup(text, quota.credits, text),
    quota.quota_adjust(text, quota.credits, text),
    quota.quota_reset(text),
    quota.quota_run_due()
    TO quota_admin;

-- validation used by the schedule trigger, which runs as the updating role
GRANT EXECUTE ON FUNCTION quota._check_schedule(text, text, text)
    TO quota_admin, quota_user;

-- pool administrators (quota_user members) manage their own pools' members
GRANT EXECUTE ON FUNCTION
    quota.quota_add_member(text, text, text, quota.credits),
    quota.quota_remove_member(text, text)
    TO quota_admin, quota_user;

GRANT EXECUTE ON FUNCTION
    quota.quota_switch(text, text),
    quota.quota_active_pool(text),
    quota.quota_check(text, text, text),
    quota.quota_reserve(text, bigint, bigint, text, text, text, interval),
    quota.quota_charge(text, bigint, bigint, text, text, bigint, text, text),
    quota.quota_release(text)
    TO quota_admin, quota_app, quota_user;

-- ---------------------------------------------------------------------------
-- pg_cron scheduling and pg_dump
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota.quota_schedule(cron text DEFAULT '* * * * *') RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    job bigint;
BEGIN
    PERFORM quota._require(ARRAY['cron'], ARRAY[cron IS NULL]);
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run CREATE EXTENSION pg_cron (it must be in shared_preload_libraries), then call quota_schedule() again.';
    END IF;
    PERFORM quota.quota_next_reset(cron, 'UTC', now());     -- 22023 for a bad expression
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
        USING 'quota-maintenance', cron, 'SELECT quota.quota_run_due()';
    RETURN job;
END
$$;
COMMENT ON FUNCTION quota.quota_schedule(text) IS
    '(re)create the pg_cron job quota-maintenance that runs quota_run_due(); returns the job id';
REVOKE ALL ON FUNCTION quota.quota_schedule(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_schedule(text) TO quota_admin;

-- A restore brings the job in cron.job's own data, with its schedule, and
-- creating it here too would collide with that row.  pg_dump's scripts (and
-- pg_restore) run with row_security off, which sessions otherwise leave on:
-- then the job is left to the dump.
DO $cron$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        IF pg_catalog.current_setting('row_security') <> 'off' THEN
            PERFORM quota.quota_schedule();
        END IF;
    ELSE
        -- CREATE EXTENSION hides notices of its script; this one should be seen
        IF pg_catalog.current_setting('client_min_messages') = 'warning' THEN
            PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        END IF;
        RAISE NOTICE 'pg_cron is not installed: quota resets happen lazily on first use'
            USING HINT = 'For timely resets and expiry, CREATE EXTENSION pg_cron and call quota.quota_schedule().';
    END IF;
END
$cron$;

COMMENT ON SEQUENCE quota.discounts_discount_id_seq IS 'ids of quota.discounts';
COMMENT ON SEQUENCE quota.pool_defs_pool_id_seq IS 'ids of quota.pool_defs';
COMMENT ON SEQUENCE quota.ledger_entry_id_seq IS 'ids of quota.ledger entries (and charge ids)';
COMMENT ON SEQUENCE quota.alerts_alert_id_seq IS 'ids of quota.alerts';

-- Every table's data is dumped by pg_dump.
SELECT pg_catalog.pg_extension_config_dump('quota.models', '');
SELECT pg_catalog.pg_extension_config_dump('quota.discounts', '');
SELECT pg_catalog.pg_extension_config_dump('quota.users', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_defs', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_members', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_groups', '');
SELECT pg_catalog.pg_extension_config_dump('quota.personal_policies', '');
SELECT pg_catalog.pg_extension_config_dump('quota.user_state', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('quota.reservations', '');
SELECT pg_catalog.pg_extension_config_dump('quota.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('quota.alerts_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.discounts_discount_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_defs_pool_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger_entry_id_seq', '');
