-- quota: exact LLM quota pools and billing (install script)

\echo Use "CREATE EXTENSION quota" to load this file. \quit

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

-- Comparisons with numeric (src/credits_cross.c): exact, and in credits'
-- btree family, so that "balance > 0.5" stays on the credits side (and can
-- use an index on a credits column) although credits convert to numeric
-- implicitly.
CREATE FUNCTION quota.credits_numeric_cmp(quota.credits, numeric) RETURNS integer
    AS 'MODULE_PATHNAME', 'credits_numeric_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric_cmp(quota.credits, numeric) IS
    'btree support: compare credits with numeric, exactly';
CREATE FUNCTION quota.numeric_credits_cmp(numeric, quota.credits) RETURNS integer
    AS 'MODULE_PATHNAME', 'numeric_credits_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits_cmp(numeric, quota.credits) IS
    'btree support: compare numeric with credits, exactly';

CREATE FUNCTION quota.credits_numeric_eq(quota.credits, numeric) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_numeric_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric_eq(quota.credits, numeric) IS 'equal, exactly';

CREATE FUNCTION quota.numeric_credits_eq(numeric, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'numeric_credits_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits_eq(numeric, quota.credits) IS 'equal, exactly';

CREATE FUNCTION quota.credits_numeric_ne(quota.credits, numeric) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_numeric_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric_ne(quota.credits, numeric) IS 'not equal, exactly';

CREATE FUNCTION quota.numeric_credits_ne(numeric, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'numeric_credits_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits_ne(numeric, quota.credits) IS 'not equal, exactly';

CREATE FUNCTION quota.credits_numeric_lt(quota.credits, numeric) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_numeric_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric_lt(quota.credits, numeric) IS 'less than, exactly';

CREATE FUNCTION quota.numeric_credits_lt(numeric, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'numeric_credits_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits_lt(numeric, quota.credits) IS 'less than, exactly';

CREATE FUNCTION quota.credits_numeric_le(quota.credits, numeric) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_numeric_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric_le(quota.credits, numeric) IS 'less than or equal, exactly';

CREATE FUNCTION quota.numeric_credits_le(numeric, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'numeric_credits_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits_le(numeric, quota.credits) IS 'less than or equal, exactly';

CREATE FUNCTION quota.credits_numeric_gt(quota.credits, numeric) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_numeric_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric_gt(quota.credits, numeric) IS 'greater than, exactly';

CREATE FUNCTION quota.numeric_credits_gt(numeric, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'numeric_credits_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits_gt(numeric, quota.credits) IS 'greater than, exactly';

CREATE FUNCTION quota.credits_numeric_ge(quota.credits, numeric) RETURNS boolean
    AS 'MODULE_PATHNAME', 'credits_numeric_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric_ge(quota.credits, numeric) IS 'greater than or equal, exactly';

CREATE FUNCTION quota.numeric_credits_ge(numeric, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME', 'numeric_credits_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits_ge(numeric, quota.credits) IS 'greater than or equal, exactly';

CREATE OPERATOR quota.= (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_numeric_eq, COMMUTATOR = OPERATOR(quota.=),
    NEGATOR = OPERATOR(quota.<>), RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel);
COMMENT ON OPERATOR quota.= (quota.credits, numeric) IS 'equal, exactly';

CREATE OPERATOR quota.= (LEFTARG = numeric, RIGHTARG = quota.credits,
    FUNCTION = quota.numeric_credits_eq, COMMUTATOR = OPERATOR(quota.=),
    NEGATOR = OPERATOR(quota.<>), RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel);
COMMENT ON OPERATOR quota.= (numeric, quota.credits) IS 'equal, exactly';

CREATE OPERATOR quota.<> (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_numeric_ne, COMMUTATOR = OPERATOR(quota.<>),
    NEGATOR = OPERATOR(quota.=), RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel);
COMMENT ON OPERATOR quota.<> (quota.credits, numeric) IS 'not equal, exactly';

CREATE OPERATOR quota.<> (LEFTARG = numeric, RIGHTARG = quota.credits,
    FUNCTION = quota.numeric_credits_ne, COMMUTATOR = OPERATOR(quota.<>),
    NEGATOR = OPERATOR(quota.=), RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel);
COMMENT ON OPERATOR quota.<> (numeric, quota.credits) IS 'not equal, exactly';

CREATE OPERATOR quota.< (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_numeric_lt, COMMUTATOR = OPERATOR(quota.>),
    NEGATOR = OPERATOR(quota.>=), RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel);
COMMENT ON OPERATOR quota.< (quota.credits, numeric) IS 'less than, exactly';

CREATE OPERATOR quota.< (LEFTARG = numeric, RIGHTARG = quota.credits,
    FUNCTION = quota.numeric_credits_lt, COMMUTATOR = OPERATOR(quota.>),
    NEGATOR = OPERATOR(quota.>=), RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel);
COMMENT ON OPERATOR quota.< (numeric, quota.credits) IS 'less than, exactly';

CREATE OPERATOR quota.<= (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_numeric_le, COMMUTATOR = OPERATOR(quota.>=),
    NEGATOR = OPERATOR(quota.>), RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel);
COMMENT ON OPERATOR quota.<= (quota.credits, numeric) IS 'less than or equal, exactly';

CREATE OPERATOR quota.<= (LEFTARG = numeric, RIGHTARG = quota.credits,
    FUNCTION = quota.numeric_credits_le, COMMUTATOR = OPERATOR(quota.>=),
    NEGATOR = OPERATOR(quota.>), RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel);
COMMENT ON OPERATOR quota.<= (numeric, quota.credits) IS 'less than or equal, exactly';

CREATE OPERATOR quota.> (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_numeric_gt, COMMUTATOR = OPERATOR(quota.<),
    NEGATOR = OPERATOR(quota.<=), RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel);
COMMENT ON OPERATOR quota.> (quota.credits, numeric) IS 'greater than, exactly';

CREATE OPERATOR quota.> (LEFTARG = numeric, RIGHTARG = quota.credits,
    FUNCTION = quota.numeric_credits_gt, COMMUTATOR = OPERATOR(quota.<),
    NEGATOR = OPERATOR(quota.<=), RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel);
COMMENT ON OPERATOR quota.> (numeric, quota.credits) IS 'greater than, exactly';

CREATE OPERATOR quota.>= (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_numeric_ge, COMMUTATOR = OPERATOR(quota.<=),
    NEGATOR = OPERATOR(quota.<), RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel);
COMMENT ON OPERATOR quota.>= (quota.credits, numeric) IS 'greater than or equal, exactly';

CREATE OPERATOR quota.>= (LEFTARG = numeric, RIGHTARG = quota.credits,
    FUNCTION = quota.numeric_credits_ge, COMMUTATOR = OPERATOR(quota.<=),
    NEGATOR = OPERATOR(quota.<), RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel);
COMMENT ON OPERATOR quota.>= (numeric, quota.credits) IS 'greater than or equal, exactly';

ALTER OPERATOR FAMILY quota.credits_ops USING btree ADD
    OPERATOR 1 quota.< (quota.credits, numeric),
    OPERATOR 2 quota.<= (quota.credits, numeric),
    OPERATOR 3 quota.= (quota.credits, numeric),
    OPERATOR 4 quota.>= (quota.credits, numeric),
    OPERATOR 5 quota.> (quota.credits, numeric),
    FUNCTION 1 (quota.credits, numeric) quota.credits_numeric_cmp(quota.credits, numeric),
    OPERATOR 1 quota.< (numeric, quota.credits),
    OPERATOR 2 quota.<= (numeric, quota.credits),
    OPERATOR 3 quota.= (numeric, quota.credits),
    OPERATOR 4 quota.>= (numeric, quota.credits),
    OPERATOR 5 quota.> (numeric, quota.credits),
    FUNCTION 1 (numeric, quota.credits) quota.numeric_credits_cmp(numeric, quota.credits),
    -- a family with two types holds each type's own comparisons too
    OPERATOR 1 pg_catalog.< (numeric, numeric),
    OPERATOR 2 pg_catalog.<= (numeric, numeric),
    OPERATOR 3 pg_catalog.= (numeric, numeric),
    OPERATOR 4 pg_catalog.>= (numeric, numeric),
    OPERATOR 5 pg_catalog.> (numeric, numeric),
    FUNCTION 1 (numeric, numeric) pg_catalog.numeric_cmp(numeric, numeric);

-- Casts: credits to numeric is implicit and exact, so credits mix with
-- numbers like numeric does (balance > 0, balance * 2, sum(balance) without
-- quota on the search_path); numeric, bigint and integer to credits are
-- assignment casts (numeric is rounded half away from zero at 1e-9; NaN,
-- Infinity and values out of range raise 22003), so that a session with
-- quota on its search_path keeps every built-in expression unambiguous
-- (2 * 1.5 is numeric * numeric, never credits * numeric).
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
    WITH FUNCTION quota.numeric_credits(numeric) AS ASSIGNMENT;
COMMENT ON CAST (numeric AS quota.credits) IS
    'on assignment: rounded half away from zero at 1e-9';
CREATE CAST (bigint AS quota.credits)
    WITH FUNCTION quota.int8_credits(bigint) AS ASSIGNMENT;
COMMENT ON CAST (bigint AS quota.credits) IS 'on assignment: exact';
CREATE CAST (integer AS quota.credits)
    WITH FUNCTION quota.int4_credits(integer) AS ASSIGNMENT;
COMMENT ON CAST (integer AS quota.credits) IS 'on assignment: exact';
CREATE CAST (quota.credits AS numeric)
    WITH FUNCTION quota.credits_numeric(quota.credits) AS IMPLICIT;
COMMENT ON CAST (quota.credits AS numeric) IS 'implicit: exact';

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
    -- every function that writes calls this first: refuse on a standby
    IF pg_catalog.pg_is_in_recovery() THEN
        RAISE EXCEPTION 'cannot change quota''s data on a hot standby'
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = 'This server is a standby in recovery: quota''s functions and views read the replicated data on it, and nothing can be charged, reserved or changed.',
                  HINT = 'Connect to the primary server.';
    END IF;
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
    'internal: raise 25006 on a hot standby, else 22004 naming the first argument that is null (every writing function calls it first)';

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
    input_price         quota.credits NOT NULL CHECK (input_price >= '0'),
    cached_input_price  quota.credits NOT NULL CHECK (cached_input_price >= '0'),
    output_price        quota.credits NOT NULL CHECK (output_price >= '0'),
    request_price       quota.credits NOT NULL DEFAULT 0 CHECK (request_price >= '0'),
    enabled             boolean NOT NULL DEFAULT true,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    price_id            integer
);
COMMENT ON TABLE quota.models IS
    'priced models: credits per 1,000,000 tokens, request_price per request';
COMMENT ON COLUMN quota.models.cached_input_price IS
    'price of cached input tokens; set to input_price when not given';

-- Every price a model has had.  A charge records the row of the prices it
-- used (quota.ledger.price_id) instead of repeating the four prices: the
-- model cache reads a model's prices and its price_id from the same row of
-- quota.models, so the row names exactly the prices of the charge even
-- while the prices change.  Rows are only added.
CREATE TABLE quota.model_prices (
    price_id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model               text NOT NULL,
    input_price         quota.credits NOT NULL,
    cached_input_price  quota.credits NOT NULL,
    output_price        quota.credits NOT NULL,
    request_price       quota.credits NOT NULL,
    since               timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE quota.model_prices IS
    'every price a model has had; a charge''s price_id names the prices it used';

CREATE FUNCTION quota._price_version() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    -- the model's newest prices (quota_set_model's INSERT ... ON CONFLICT
    -- fires this trigger for the insert it tries, then for the update)
    known integer := (SELECT max(p.price_id) FROM quota.model_prices p
                       WHERE p.model = NEW.model);
BEGIN
    -- a restore (row_security off) loads the rows of model_prices as well
    IF TG_OP = 'INSERT' AND NEW.price_id IS NOT NULL
       AND current_setting('row_security') = 'off' THEN
        RETURN NEW;
    END IF;
    IF known IS NOT NULL AND EXISTS (
           SELECT FROM quota.model_prices p
            WHERE p.price_id = known AND p.model = NEW.model
              AND p.input_price = NEW.input_price
              AND p.cached_input_price = NEW.cached_input_price
              AND p.output_price = NEW.output_price
              AND p.request_price = NEW.request_price) THEN
        NEW.price_id := known;
    ELSE
        INSERT INTO quota.model_prices (model, input_price, cached_input_price,
                                        output_price, request_price)
        VALUES (NEW.model, NEW.input_price, NEW.cached_input_price,
                NEW.output_price, NEW.request_price)
        RETURNING price_id INTO NEW.price_id;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION quota._price_version() IS
    'internal: give a model row whose prices are new a new row of quota.model_prices';

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
CREATE TRIGGER models_price_version BEFORE INSERT OR UPDATE
    ON quota.models FOR EACH ROW EXECUTE FUNCTION quota._price_version();
COMMENT ON TRIGGER models_price_version ON quota.models IS
    'record new prices in quota.model_prices and point the model at them';
CREATE TRIGGER discounts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.discounts FOR EACH STATEMENT EXECUTE FUNCTION quota._catalog_changed();
COMMENT ON TRIGGER discounts_changed ON quota.discounts IS
    'reload the discount cache of every backend';

CREATE FUNCTION quota.quota_set_model(model text, input_price numeric,
        output_price numeric, service text DEFAULT 'chat',
        cached_input_price numeric DEFAULT NULL,
        request_price numeric DEFAULT 0, enabled boolean DEFAULT true)
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
COMMENT ON FUNCTION quota.quota_set_model(text, numeric, numeric, text,
                                          numeric, numeric, boolean) IS
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
                        CHECK (kind IN ('grant', 'charge', 'topup', 'adjust', 'reset')),
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
    price_id            integer
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
    rest := CASE p.reset_policy
                WHEN 'restore' THEN p.allowance::numeric
                                    - ((quota._pool_money(p.pool)).balance)::numeric
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
-- ---------------------------------------------------------------------------
-- Usage warnings (written by the charge path, alert.c)
-- ---------------------------------------------------------------------------

-- Read through the view quota.alerts (70_views.sql), which shows who crossed
-- a threshold to the pool's administrators and quota_admin only.
CREATE TABLE quota.alert_log (
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
COMMENT ON TABLE quota.alert_log IS
    'one row per pool, period and warning threshold crossed; each row was also sent as NOTIFY quota_alert; read through quota.alerts';
COMMENT ON COLUMN quota.alert_log.threshold IS 'the fraction of the allowance (from the pool''s warn_at)';
COMMENT ON COLUMN quota.alert_log.period_start IS 'the period the warning belongs to (the pool''s period_start)';
COMMENT ON COLUMN quota.alert_log.used IS 'charges in the period, in-flight ones included, when the threshold was crossed';
COMMENT ON COLUMN quota.alert_log.allowance IS 'the pool''s allowance at that moment';
COMMENT ON COLUMN quota.alert_log.user_id IS 'the user whose charge crossed the threshold';
COMMENT ON COLUMN quota.alert_log.request_id IS 'the request whose charge crossed the threshold';

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
    RETURNS TABLE(allowed boolean, pool text, available quota.credits, reason text,
                  retry_after interval)
    AS 'MODULE_PATHNAME', 'quota_check'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_check(text, text, text) IS
    'could a new request start now? (access, pool enabled, model permitted, available > 0 and member limit for paid models, rate limits); reason names the first rule that fails, retry_after when a rate limit refuses';

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
    detail text;
BEGIN
    IF pg_catalog.pg_is_in_recovery() THEN
        RAISE EXCEPTION 'cannot change quota''s data on a hot standby'
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = 'This server is a standby in recovery: quota''s functions and views read the replicated data on it, and nothing can be charged, reserved or changed.',
                  HINT = 'Connect to the primary server.';
    END IF;
    -- One pool's trouble never stops the others: each pool's reset and
    -- expiry runs in its own subtransaction; a failure is logged and the
    -- pool, still due, is retried by the next run.
    resets := 0;
    FOR p IN SELECT d.pool FROM quota.pool_defs d
              WHERE d.next_reset_at <= now()
              ORDER BY d.next_reset_at, d.pool LOOP
        BEGIN
            IF quota._apply_reset(p.pool, false) THEN
                resets := resets + 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            RAISE WARNING 'quota_run_due: could not reset pool "%": %', p.pool, SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'The other pools were reset; this one is retried by the next run.';
        END;
    END LOOP;
    holds_expired := 0;
    FOR p IN SELECT DISTINCT r.pool FROM quota.reservations r
              WHERE r.settled_at IS NULL AND r.expires_at <= now()
              ORDER BY r.pool LOOP
        BEGIN
            holds_expired := holds_expired + quota._expire_holds(p.pool);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            RAISE WARNING 'quota_run_due: could not release the expired holds of pool "%": %',
                          p.pool, SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'The other pools'' holds were released; these are retried by the next run.';
        END;
    END LOOP;
    -- Seal the ledger up to now (seal.c): what restarts, standbys, locked
    -- mode and usage_daily read instead of history.  A seal needs a READ
    -- COMMITTED transaction; a writer left open postpones it to a later run.
    IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
        BEGIN
            PERFORM quota._seal('100 milliseconds', true);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            RAISE WARNING 'quota_run_due: could not seal the ledger: %', SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'Balances stay exact; the next run tries again.';
        END;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION quota.quota_run_due() IS
    'apply every due reset once, release expired reservations (each pool on its own) and seal the ledger (run every minute by pg_cron)';

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

CREATE FUNCTION quota._credits_or_null(value numeric) RETURNS quota.credits
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT CASE WHEN $1 BETWEEN -9223372036.854775807 AND 9223372036.854775807
                THEN $1::quota.credits END
$$;
COMMENT ON FUNCTION quota._credits_or_null(numeric) IS
    'internal: an exact figure as credits, or NULL when it does not fit the type (views never raise for one pool)';

CREATE FUNCTION quota._sum_or_null_final(internal) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_sum_final_or_null' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota._sum_or_null_final(internal) IS
    'internal: final function of quota._sum_or_null';
CREATE AGGREGATE quota._sum_or_null(quota.credits) (
    SFUNC = quota.credits_agg_accum, STYPE = internal, SSPACE = 32,
    FINALFUNC = quota._sum_or_null_final,
    COMBINEFUNC = quota.credits_agg_combine,
    SERIALFUNC = quota.credits_agg_serialize,
    DESERIALFUNC = quota.credits_agg_deserialize,
    MSFUNC = quota.credits_agg_accum, MINVFUNC = quota.credits_agg_accum_inv,
    MSTYPE = internal, MSSPACE = 32, MFINALFUNC = quota._sum_or_null_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE quota._sum_or_null(quota.credits) IS
    'internal (views): exact sum of credits, NULL over no rows or when the sum does not fit the type';

CREATE FUNCTION quota._pool_figures(pool text, OUT balance quota.credits,
        OUT held quota.credits, OUT available quota.credits, OUT used quota.credits)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    funds quota.credits;
    holds numeric;
BEGIN
    SELECT d.period_funds INTO funds FROM quota.pool_defs d WHERE d.pool = _pool_figures.pool;
    IF NOT FOUND OR NOT quota._sees_pool(pool) THEN
        RETURN;
    END IF;
    -- exact, in numeric: a figure that does not fit quota.credits (a pool
    -- far below zero) is NULL, never an error for every reader of the view
    balance := (quota._pool_money(pool)).balance;
    SELECT coalesce(sum(r.held::numeric), 0) INTO holds FROM quota.reservations r
     WHERE r.pool = _pool_figures.pool AND r.settled_at IS NULL AND r.expires_at > now();
    held := quota._credits_or_null(holds);
    available := quota._credits_or_null(balance::numeric - holds);
    -- the period's charges: what it was funded with, less what is left
    used := quota._credits_or_null(funds::numeric - balance::numeric);
END
$$;
COMMENT ON FUNCTION quota._pool_figures(text) IS
    'internal: balance, active unexpired holds, available and this period''s usage of a pool the caller may see (NULL where a figure does not fit quota.credits)';

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
    admin_only text[];
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
    -- a pool administrator may change the schedule and the warnings only
    IF NOT quota._caller_is_admin() THEN
        admin_only := array_remove(ARRAY[
            CASE WHEN NEW.allowance IS DISTINCT FROM OLD.allowance THEN 'allowance' END,
            CASE WHEN NEW.member_limit IS DISTINCT FROM OLD.member_limit THEN 'member_limit' END,
            CASE WHEN NEW.reset_policy IS DISTINCT FROM OLD.reset_policy THEN 'reset_policy' END,
            CASE WHEN NEW.enabled IS DISTINCT FROM OLD.enabled THEN 'enabled' END,
            CASE WHEN NEW.models IS DISTINCT FROM OLD.models THEN 'models' END], NULL);
        IF admin_only <> '{}' THEN
            RAISE EXCEPTION 'permission denied to change % of pool "%"',
                    array_to_string(admin_only, ', '), OLD.pool
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A pool''s administrators may change reset_cron, reset_timezone and warn_at; quota_admin changes the rest.',
                      HINT = 'Ask a member of quota_admin to make this change.';
        END IF;
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
       l.output_tokens, p.input_price, p.cached_input_price, p.output_price,
       p.request_price, l.original_cost, l.discount_rate, l.final_cost
  FROM quota.ledger l
  LEFT JOIN quota.model_prices p ON p.price_id = l.price_id
 WHERE l.kind = 'charge';
COMMENT ON VIEW quota.charges IS
    'the ledger''s charge entries (original cost crossed out, final cost charged)';

CREATE VIEW quota.conversation_costs WITH (security_invoker = true) AS
SELECT c.conversation_id, c.user_id, count(*) AS requests,
       sum(c.input_tokens) + sum(c.cached_input_tokens) + sum(c.output_tokens) AS tokens,
       quota._sum_or_null(c.original_cost) AS original_cost,
       quota._sum_or_null(c.final_cost) AS final_cost,
       min(c.at) AS first_at, max(c.at) AS last_at
  FROM quota.charges c
 WHERE c.conversation_id IS NOT NULL
 GROUP BY c.conversation_id, c.user_id;
COMMENT ON VIEW quota.conversation_costs IS 'cost of each conversation per user';

-- Who crossed a threshold is for the pool's administrators and quota_admin:
-- the view reads quota.alert_log with its owner's rights, keeps the rows of
-- the pools the caller may see, and blanks user_id and request_id unless the
-- caller administers the pool.  A security barrier, so that no function of
-- the caller's query sees the rows or values it hides.
CREATE VIEW quota.alerts WITH (security_barrier = true) AS
SELECT a.alert_id, a.pool, a.threshold, a.period_start, a.used, a.allowance,
       CASE WHEN quota._admins_pool(a.pool) THEN a.user_id END AS user_id,
       CASE WHEN quota._admins_pool(a.pool) THEN a.request_id END AS request_id,
       a.at
  FROM quota.alert_log a
 WHERE quota._sees_pool(a.pool);
COMMENT ON VIEW quota.alerts IS
    'usage warnings of the pools the caller may see; user_id and request_id only for the pool''s administrators and quota_admin';

-- ---------------------------------------------------------------------------
-- Years of history (0.2): sealed balances, usage rollups, archiving
-- ---------------------------------------------------------------------------

-- One row (created by the first seal): entries up to sealed_upto are
-- summed in quota.pool_seals and quota.usage_rollup (seal.c).
CREATE TABLE quota.ledger_seal (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    sealed_upto     bigint NOT NULL CHECK (sealed_upto >= 0),
    sealed_at       timestamptz
);
COMMENT ON TABLE quota.ledger_seal IS
    'how far the ledger is sealed: every entry up to sealed_upto is final and summed in pool_seals and usage_rollup';
COMMENT ON COLUMN quota.ledger_seal.only_row IS 'always true: the table has at most one row';
COMMENT ON COLUMN quota.ledger_seal.sealed_upto IS 'the last sealed entry_id (0: nothing sealed)';
COMMENT ON COLUMN quota.ledger_seal.sealed_at IS 'when the last seal ran';

CREATE TABLE quota.pool_seals (
    pool            text PRIMARY KEY,
    balance         numeric NOT NULL,
    entries         bigint NOT NULL,
    zone            text,
    zone_since      timestamptz
);
COMMENT ON TABLE quota.pool_seals IS
    'per pool: the sum and count of its ledger entries up to ledger_seal.sealed_upto; balance = this sum + the later entries';
COMMENT ON COLUMN quota.pool_seals.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_seals.balance IS 'sum of the pool''s sealed entries';
COMMENT ON COLUMN quota.pool_seals.entries IS 'number of the pool''s sealed entries (archived ones count as their carry-forward entry)';
COMMENT ON COLUMN quota.pool_seals.zone IS 'the time zone in which the last seal counted the pool''s rollup days';
COMMENT ON COLUMN quota.pool_seals.zone_since IS 'every sealed charge of the pool dated from then on has its rollup day in zone (so a cap window that starts then or later is summed from the rollups)';

CREATE TABLE quota.usage_rollup (
    pool                text NOT NULL,
    day                 date NOT NULL,
    model               text NOT NULL,
    requests            bigint NOT NULL,
    input_tokens        numeric NOT NULL,
    cached_input_tokens numeric NOT NULL,
    output_tokens       numeric NOT NULL,
    original_cost       numeric NOT NULL,
    final_cost          numeric NOT NULL,
    PRIMARY KEY (pool, day, model)
);
COMMENT ON TABLE quota.usage_rollup IS
    'sealed charges per pool, day (in the pool''s time zone) and model: what quota.usage_daily reads instead of the ledger (kept after archiving)';
COMMENT ON COLUMN quota.usage_rollup.pool IS 'the pool charged';
COMMENT ON COLUMN quota.usage_rollup.day IS 'the day in the pool''s time zone (reset_timezone) when the charges were sealed';
COMMENT ON COLUMN quota.usage_rollup.model IS 'the model';
COMMENT ON COLUMN quota.usage_rollup.requests IS 'number of charges';
COMMENT ON COLUMN quota.usage_rollup.input_tokens IS 'input tokens, cached input excluded';
COMMENT ON COLUMN quota.usage_rollup.cached_input_tokens IS 'cached input tokens';
COMMENT ON COLUMN quota.usage_rollup.output_tokens IS 'output tokens';
COMMENT ON COLUMN quota.usage_rollup.original_cost IS 'sum of the costs before discount';
COMMENT ON COLUMN quota.usage_rollup.final_cost IS 'sum of the costs charged';

-- Archived entries wait here until the DBA has exported them.
CREATE TABLE quota.ledger_archive (LIKE quota.ledger);
COMMENT ON TABLE quota.ledger_archive IS
    'ledger entries removed by quota_archive(), each replaced in the ledger by its pool''s carry-forward entry; export, then TRUNCATE';
COMMENT ON COLUMN quota.ledger_archive.entry_id IS 'the archived entry''s entry_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.at IS 'the archived entry''s at (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.pool IS 'the archived entry''s pool (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.user_id IS 'the archived entry''s user_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.kind IS 'the archived entry''s kind (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.amount IS 'the archived entry''s amount (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.model IS 'the archived entry''s model (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.service IS 'the archived entry''s service (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.conversation_id IS 'the archived entry''s conversation_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.request_id IS 'the archived entry''s request_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.input_tokens IS 'the archived entry''s input_tokens (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.cached_input_tokens IS 'the archived entry''s cached_input_tokens (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.output_tokens IS 'the archived entry''s output_tokens (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.original_cost IS 'the archived entry''s original_cost (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.discount_rate IS 'the archived entry''s discount_rate (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.final_cost IS 'the archived entry''s final_cost (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.balance_after IS 'the archived entry''s balance_after (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.note IS 'the archived entry''s note (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.price_id IS 'the archived entry''s price_id (as in quota.ledger; quota.model_prices keeps the prices)';

-- The two parts of usage_daily that read the ledger, as SECURITY DEFINER
-- functions that filter by the caller themselves: row-level security would
-- call a policy function for every row of the ledger and of pool_defs.
CREATE FUNCTION quota._unsealed_usage()
    RETURNS TABLE(day date, pool text, model text, tokens numeric,
                  original_cost numeric, final_cost numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    upto bigint := coalesce((SELECT s.sealed_upto FROM quota.ledger_seal s), 0);
BEGIN
    -- planned with the value: the primary key's range above the seal
    RETURN QUERY EXECUTE format(
        'SELECT timezone(d.reset_timezone, l.at)::date, l.pool, l.model, '
        '       coalesce(l.input_tokens, 0)::numeric + coalesce(l.cached_input_tokens, 0) '
        '        + coalesce(l.output_tokens, 0), '
        '       l.original_cost::numeric, l.final_cost::numeric '
        '  FROM quota.ledger l JOIN quota.pool_defs d ON d.pool = l.pool '
        ' WHERE l.entry_id > %s AND l.kind = ''charge'' '
        '   AND (quota._caller_is_admin() '
        '        OR l.pool IN (SELECT m.pool FROM quota.pool_members m '
        '                       WHERE m.user_id = quota.current_user_id() '
        '                         AND m.role = ''admin''))', upto);
END
$$;
COMMENT ON FUNCTION quota._unsealed_usage() IS
    'internal (usage_daily): the charges not yet in usage_rollup of the pools the caller administers';

CREATE FUNCTION quota._own_usage()
    RETURNS TABLE(day date, pool text, model text, tokens numeric,
                  original_cost numeric, final_cost numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT timezone(d.reset_timezone, l.at)::date, l.pool, l.model,
           coalesce(l.input_tokens, 0)::numeric + coalesce(l.cached_input_tokens, 0)
           + coalesce(l.output_tokens, 0),
           l.original_cost::numeric, l.final_cost::numeric
      FROM quota.ledger l JOIN quota.pool_defs d ON d.pool = l.pool
     WHERE l.user_id = quota.current_user_id() AND l.kind = 'charge'
       AND NOT quota._caller_is_admin()
       AND l.pool NOT IN (SELECT m.pool FROM quota.pool_members m
                           WHERE m.user_id = quota.current_user_id()
                             AND m.role = 'admin')
$$;
COMMENT ON FUNCTION quota._own_usage() IS
    'internal (usage_daily): the caller''s own charges in the pools they do not administer';

-- Pools the caller administers: the rollups (row-level security of
-- usage_rollup) and the unsealed charges; other pools: the caller's own
-- charges.  What the ledger's row-level security shows, counted per day in
-- each pool's time zone, without reading a pool's history.
CREATE VIEW quota.usage_daily WITH (security_invoker = true) AS
SELECT u.day, u.pool, u.model, sum(u.requests)::bigint AS requests,
       sum(u.tokens) AS tokens,
       quota._credits_or_null(sum(u.original_cost)) AS original_cost,
       quota._credits_or_null(sum(u.final_cost)) AS final_cost
  FROM (SELECT r.day, r.pool, r.model, r.requests,
               r.input_tokens + r.cached_input_tokens + r.output_tokens AS tokens,
               r.original_cost, r.final_cost
          FROM quota.usage_rollup r
        UNION ALL
        SELECT t.day, t.pool, t.model, 1, t.tokens, t.original_cost, t.final_cost
          FROM quota._unsealed_usage() t
        UNION ALL
        SELECT o.day, o.pool, o.model, 1, o.tokens, o.original_cost, o.final_cost
          FROM quota._own_usage() o) u
 GROUP BY 1, 2, 3;
COMMENT ON VIEW quota.usage_daily IS
    'per day (in the pool''s time zone), pool and model: requests, tokens and costs (pool administrators: the whole pool; users: their own charges)';

CREATE FUNCTION quota.quota_seal(wait interval DEFAULT '1 second') RETURNS bigint
    AS 'MODULE_PATHNAME', 'quota_seal'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_seal(interval) IS
    'seal the ledger up to its last entry (sums per pool and usage rollups); NULL when a transaction writing the ledger stayed open longer than wait';

CREATE FUNCTION quota._seal(wait interval, quiet boolean) RETURNS bigint
    AS 'MODULE_PATHNAME', 'quota_seal'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._seal(interval, boolean) IS
    'internal (quota_run_due): quota_seal(), with no NOTICE when quiet';

CREATE FUNCTION quota._pool_window_charges(pool text, window_start timestamptz,
        window_end timestamptz) RETURNS numeric
    AS 'MODULE_PATHNAME', 'quota_pool_window_charges'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION quota._pool_window_charges(text, timestamptz, timestamptz) IS
    'internal (pool caps): the charges of a pool dated in a window, from the usage rollups and the unsealed entries where the window is whole days of the rollups'' time zone, else from the ledger';

CREATE FUNCTION quota.quota_archive(before timestamptz)
    RETURNS TABLE(pool text, entries bigint, carried quota.credits)
    AS 'MODULE_PATHNAME', 'quota_archive'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_archive(timestamptz) IS
    'move sealed entries dated before a time (and before each pool''s current period and the last 32 days) to quota.ledger_archive, leaving one carry-forward entry per pool; every balance stays the same';

CREATE FUNCTION quota.quota_verify()
    RETURNS TABLE(pool text, ledger_sum quota.credits, sealed_sum quota.credits,
                  ok boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    WITH s AS (SELECT coalesce((SELECT x.sealed_upto FROM quota.ledger_seal x), 0) AS upto),
    full_sum AS (SELECT l.pool, sum(l.amount::numeric) AS total FROM quota.ledger l GROUP BY l.pool),
    tail AS (SELECT l.pool, sum(l.amount::numeric) AS total
               FROM quota.ledger l, s WHERE l.entry_id > s.upto GROUP BY l.pool),
    sealed AS (SELECT coalesce(c.pool, t.pool) AS pool,
                      coalesce(c.balance, 0) + coalesce(t.total, 0) AS total
                 FROM quota.pool_seals c FULL JOIN tail t ON t.pool = c.pool)
    SELECT coalesce(f.pool, x.pool),
           quota._credits_or_null(coalesce(f.total, 0)),
           quota._credits_or_null(coalesce(x.total, 0)),
           coalesce(f.total, 0) = coalesce(x.total, 0)
      FROM full_sum f FULL JOIN sealed x ON x.pool = f.pool
     ORDER BY 1
$$;
COMMENT ON FUNCTION quota.quota_verify() IS
    'per pool: the sum of its whole ledger next to its sealed total plus later entries (reads all history: for audits and tests)';

ALTER TABLE quota.ledger_seal ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_seal_read ON quota.ledger_seal FOR SELECT USING (true);
COMMENT ON POLICY ledger_seal_read ON quota.ledger_seal IS
    'how far the ledger is sealed is no secret';
ALTER TABLE quota.pool_seals ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_seals_read ON quota.pool_seals FOR SELECT
    USING (quota._admins_pool(pool));
COMMENT ON POLICY pool_seals_read ON quota.pool_seals IS
    'sealed totals: pool administrators their pool''s; quota_admin all';
ALTER TABLE quota.usage_rollup ENABLE ROW LEVEL SECURITY;
-- the pools the caller administers, found once per query (not per row)
CREATE POLICY usage_rollup_read ON quota.usage_rollup FOR SELECT
    USING (quota._caller_is_admin()
           OR pool IN (SELECT m.pool FROM quota.pool_members m
                        WHERE m.user_id = quota.current_user_id() AND m.role = 'admin'));
COMMENT ON POLICY usage_rollup_read ON quota.usage_rollup IS
    'pool-wide usage: pool administrators their pool''s; quota_admin all';
ALTER TABLE quota.ledger_archive ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_archive_read ON quota.ledger_archive FOR SELECT
    USING (quota._caller_is_admin());
COMMENT ON POLICY ledger_archive_read ON quota.ledger_archive IS
    'archived entries: quota_admin';

REVOKE ALL ON quota.ledger_seal, quota.pool_seals, quota.usage_rollup,
    quota.ledger_archive FROM PUBLIC;
GRANT SELECT ON quota.ledger_seal, quota.usage_rollup
    TO quota_admin, quota_app, quota_user;
GRANT SELECT ON quota.pool_seals TO quota_admin, quota_user;
GRANT SELECT, TRUNCATE ON quota.ledger_archive TO quota_admin;

REVOKE ALL ON FUNCTION
    quota.quota_seal(interval),
    quota.quota_archive(timestamptz),
    quota.quota_verify(),
    quota._unsealed_usage(),
    quota._own_usage(),
    quota._seal(interval, boolean),
    quota._pool_window_charges(text, timestamptz, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota.quota_seal(interval),
    quota.quota_archive(timestamptz),
    quota.quota_verify()
    TO quota_admin;
GRANT EXECUTE ON FUNCTION quota._unsealed_usage(), quota._own_usage()
    TO quota_admin, quota_app, quota_user;

SELECT pg_catalog.pg_extension_config_dump('quota.ledger_seal', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_seals', '');
SELECT pg_catalog.pg_extension_config_dump('quota.usage_rollup', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger_archive', '');

-- ---------------------------------------------------------------------------
-- Usage restrictions (0.2): spending caps per day, week and month, and the
-- account centre's views of limits and usage.  The gate is in caps.c.
-- ---------------------------------------------------------------------------

CREATE TABLE quota.pool_caps (
    pool        text NOT NULL REFERENCES quota.pool_defs (pool),
    per         text NOT NULL CHECK (per IN ('day', 'week', 'month')),
    scope       text NOT NULL CHECK (scope IN ('member', 'pool')),
    amount      quota.credits NOT NULL CHECK (amount >= '0'),
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pool, per, scope)
);
COMMENT ON TABLE quota.pool_caps IS
    'spending caps of pools per calendar day, week or month in the pool''s reset_timezone (quota_set_cap)';
COMMENT ON COLUMN quota.pool_caps.pool IS 'the capped pool';
COMMENT ON COLUMN quota.pool_caps.per IS 'the window: day (from local midnight), week (from Monday) or month (from the 1st), in the pool''s reset_timezone';
COMMENT ON COLUMN quota.pool_caps.scope IS 'member: each member separately; pool: all members together';
COMMENT ON COLUMN quota.pool_caps.amount IS 'most credits charged or held in one window (charges dated in it plus active holds)';
COMMENT ON COLUMN quota.pool_caps.set_at IS 'when the cap was last set';

CREATE FUNCTION quota._cap_window(per text, timezone text, at timestamptz,
        OUT window_start timestamptz, OUT window_end timestamptz)
    AS 'MODULE_PATHNAME', 'quota_cap_window'
    LANGUAGE C STABLE;
COMMENT ON FUNCTION quota._cap_window(text, text, timestamptz) IS
    'internal: the calendar window (day, week or month in the zone, by the cron engine''s DST rules) that contains at';

CREATE FUNCTION quota.quota_set_cap(pool text, per text, amount numeric,
        scope text DEFAULT 'member') RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    cap quota.credits;
BEGIN
    PERFORM quota._require(ARRAY['pool', 'per', 'scope'],
                           ARRAY[pool IS NULL, per IS NULL, scope IS NULL]);
    IF per NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'invalid cap period "%"', per
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''day'', ''week'' or ''month''.';
    END IF;
    IF scope NOT IN ('member', 'pool') THEN
        RAISE EXCEPTION 'invalid cap scope "%"', scope
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''member'' (each member separately) or ''pool'' (all members together).';
    END IF;
    IF amount < 0 THEN
        RAISE EXCEPTION 'cap amount must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the most credits per window, or NULL to remove the cap.';
    END IF;
    cap := amount;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._may_manage(pool);
    IF amount IS NULL THEN
        DELETE FROM quota.pool_caps c
         WHERE c.pool = quota_set_cap.pool AND c.per = quota_set_cap.per
           AND c.scope = quota_set_cap.scope;
    ELSE
        INSERT INTO quota.pool_caps AS c (pool, per, scope, amount)
        VALUES (pool, per, scope, cap)
        ON CONFLICT ON CONSTRAINT pool_caps_pkey DO UPDATE
            SET amount = excluded.amount, set_at = now();
    END IF;
END
$$;
COMMENT ON FUNCTION quota.quota_set_cap(text, text, numeric, text) IS
    'cap what a pool''s members (scope member) or the pool (scope pool) may spend per calendar day, week or month; NULL amount removes the cap';

ALTER TABLE quota.pool_caps ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_caps_read ON quota.pool_caps FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY pool_caps_read ON quota.pool_caps IS
    'caps are visible with their pool: to its users, its administrators and quota_admin';

-- quota.pool_limits: one place for every restriction of a pool (rate
-- limits join this definition when they are added).
CREATE VIEW quota.pool_limits WITH (security_invoker = true) AS
SELECT d.pool, d.models, d.member_limit,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'day' AND c.scope = 'member') AS member_day_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'week' AND c.scope = 'member') AS member_week_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'month' AND c.scope = 'member') AS member_month_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'day' AND c.scope = 'pool') AS pool_day_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'week' AND c.scope = 'pool') AS pool_week_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'month' AND c.scope = 'pool') AS pool_month_cap,
       d.reset_timezone
  FROM quota.pool_defs d;
COMMENT ON VIEW quota.pool_limits IS
    'per pool: the restrictions on its use (model list, member limit, spending caps per day, week and month)';
COMMENT ON COLUMN quota.pool_limits.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_limits.models IS 'models the pool pays for; NULL: every enabled model';
COMMENT ON COLUMN quota.pool_limits.member_limit IS 'most credits a member may use per reset period (a member''s own limit is in quota.member_usage); NULL: none';
COMMENT ON COLUMN quota.pool_limits.member_day_cap IS 'most credits each member may spend per calendar day; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.member_week_cap IS 'most credits each member may spend per calendar week (from Monday); NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.member_month_cap IS 'most credits each member may spend per calendar month; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.pool_day_cap IS 'most credits all members together may spend per calendar day; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.pool_week_cap IS 'most credits all members together may spend per calendar week (from Monday); NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.pool_month_cap IS 'most credits all members together may spend per calendar month; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.reset_timezone IS 'the time zone of the pool''s calendar windows (and of its reset schedule)';

CREATE FUNCTION quota._cap_spent(pool text, user_id text, window_start timestamptz,
        window_end timestamptz) RETURNS numeric
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT CASE WHEN $2 IS NULL THEN quota._pool_window_charges($1, $3, $4)
                ELSE coalesce((SELECT -sum(l.amount::numeric) FROM quota.ledger l
                                WHERE l.pool = $1 AND l.user_id = $2
                                  AND l.kind = 'charge' AND l.at >= $3 AND l.at < $4), 0)
           END
         + coalesce((SELECT sum(r.held::numeric) FROM quota.reservations r
                      WHERE r.pool = $1 AND ($2 IS NULL OR r.user_id = $2)
                        AND r.settled_at IS NULL), 0)
$$;
COMMENT ON FUNCTION quota._cap_spent(text, text, timestamptz, timestamptz) IS
    'internal: what a member (or with a NULL user_id the whole pool) spent in a window: charges dated in it plus active holds';

CREATE FUNCTION quota._member_usage()
    RETURNS TABLE(pool text, user_id text, used quota.credits,
                  member_limit quota.credits, day_used quota.credits,
                  day_cap quota.credits, week_used quota.credits,
                  week_cap quota.credits, month_used quota.credits,
                  month_cap quota.credits, remaining quota.credits)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    WITH members AS (
        SELECT DISTINCT ON (x.pool, x.user_id) x.pool, x.user_id, x.member_limit
          FROM (SELECT m.pool, m.user_id, m.member_limit, 1 AS rank
                  FROM quota.pool_members m
                UNION ALL
                SELECT p.pool, p.owner, NULL, 2
                  FROM quota.pool_defs p WHERE p.owner IS NOT NULL
                UNION ALL
                SELECT g.pool, u.user_id, NULL, 3
                  FROM quota.pool_groups g
                  JOIN quota.users u ON g.group_name = ANY (u.groups)) x
         WHERE x.user_id = quota.current_user_id() OR quota._admins_pool(x.pool)
         ORDER BY x.pool, x.user_id, x.rank),
    -- once per pool (not per member): room under the pool's own caps
    pool_room AS (
        SELECT c.pool,
               min(c.amount::numeric - quota._cap_spent(c.pool, NULL, w.window_start, w.window_end)) AS headroom
          FROM quota.pool_caps c
          JOIN quota.pool_defs d ON d.pool = c.pool
         CROSS JOIN LATERAL quota._cap_window(c.per, d.reset_timezone, now()) w
         WHERE c.scope = 'pool' AND c.pool IN (SELECT s.pool FROM members s)
         GROUP BY c.pool),
    figures AS (
        SELECT m.pool, m.user_id,
               coalesce(m.member_limit, d.member_limit) AS member_limit,
               s.period + h.held AS used, s.day + h.held AS day_used,
               s.week + h.held AS week_used, s.month + h.held AS month_used,
               cd.amount AS day_cap, cw.amount AS week_cap, cm.amount AS month_cap,
               pr.headroom AS pool_headroom
          FROM members m
          JOIN quota.pool_defs d ON d.pool = m.pool
          LEFT JOIN pool_room pr ON pr.pool = m.pool
         CROSS JOIN LATERAL quota._cap_window('day', d.reset_timezone, now()) wd
         CROSS JOIN LATERAL quota._cap_window('week', d.reset_timezone, now()) ww
         CROSS JOIN LATERAL quota._cap_window('month', d.reset_timezone, now()) wm
         CROSS JOIN LATERAL (
               SELECT coalesce(sum(r.held::numeric), 0) AS held
                 FROM quota.reservations r
                WHERE r.pool = m.pool AND r.user_id = m.user_id
                  AND r.settled_at IS NULL) h
         CROSS JOIN LATERAL (
               SELECT coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= d.period_start), 0) AS period,
                      coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= wd.window_start AND l.at < wd.window_end), 0) AS day,
                      coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= ww.window_start AND l.at < ww.window_end), 0) AS week,
                      coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= wm.window_start AND l.at < wm.window_end), 0) AS month
                 FROM quota.ledger l
                WHERE l.pool = m.pool AND l.user_id = m.user_id AND l.kind = 'charge'
                  AND l.at >= LEAST(d.period_start, wd.window_start, ww.window_start, wm.window_start)) s
          LEFT JOIN quota.pool_caps cd ON cd.pool = m.pool AND cd.per = 'day' AND cd.scope = 'member'
          LEFT JOIN quota.pool_caps cw ON cw.pool = m.pool AND cw.per = 'week' AND cw.scope = 'member'
          LEFT JOIN quota.pool_caps cm ON cm.pool = m.pool AND cm.per = 'month' AND cm.scope = 'member')
    SELECT f.pool, f.user_id, quota._credits_or_null(f.used), f.member_limit,
           quota._credits_or_null(f.day_used), f.day_cap,
           quota._credits_or_null(f.week_used), f.week_cap,
           quota._credits_or_null(f.month_used), f.month_cap,
           quota._credits_or_null(CASE WHEN r.headroom < 0 THEN 0 ELSE r.headroom END)
      FROM figures f
     CROSS JOIN LATERAL (
           SELECT LEAST(f.member_limit::numeric - f.used, f.day_cap::numeric - f.day_used,
                        f.week_cap::numeric - f.week_used, f.month_cap::numeric - f.month_used,
                        f.pool_headroom) AS headroom) r
$$;
COMMENT ON FUNCTION quota._member_usage() IS
    'internal: per pool and member the caller may see (themself; pool administrators their pools'' members): use this period and in each cap''s window, limits and the least headroom';

CREATE VIEW quota.member_usage WITH (security_invoker = true) AS
SELECT u.pool, u.user_id, u.used, u.member_limit, u.day_used, u.day_cap,
       u.week_used, u.week_cap, u.month_used, u.month_cap, u.remaining
  FROM quota._member_usage() u;
COMMENT ON VIEW quota.member_usage IS
    'per pool and member: use this period and in the current day, week and month, the member limit and caps, and the headroom left';
COMMENT ON COLUMN quota.member_usage.pool IS 'the pool';
COMMENT ON COLUMN quota.member_usage.user_id IS 'the member (direct, through a group, or the owner)';
COMMENT ON COLUMN quota.member_usage.used IS 'credits the member used this reset period, active holds included';
COMMENT ON COLUMN quota.member_usage.member_limit IS 'most credits the member may use per reset period (their own limit, else the pool''s); NULL: none';
COMMENT ON COLUMN quota.member_usage.day_used IS 'credits the member spent today (charges dated today in the pool''s time zone) plus active holds';
COMMENT ON COLUMN quota.member_usage.day_cap IS 'the pool''s daily cap per member; NULL: none';
COMMENT ON COLUMN quota.member_usage.week_used IS 'credits the member spent this week (from Monday, in the pool''s time zone) plus active holds';
COMMENT ON COLUMN quota.member_usage.week_cap IS 'the pool''s weekly cap per member; NULL: none';
COMMENT ON COLUMN quota.member_usage.month_used IS 'credits the member spent this calendar month (in the pool''s time zone) plus active holds';
COMMENT ON COLUMN quota.member_usage.month_cap IS 'the pool''s monthly cap per member; NULL: none';
COMMENT ON COLUMN quota.member_usage.remaining IS 'the least headroom of the member limit, the member caps and the pool''s own caps (never below 0); NULL: nothing limits the member but the pool''s balance';

GRANT SELECT ON quota.pool_caps, quota.pool_limits, quota.member_usage
    TO quota_admin, quota_app, quota_user;
REVOKE ALL ON FUNCTION
    quota.quota_set_cap(text, text, numeric, text),
    quota._cap_window(text, text, timestamptz),
    quota._cap_spent(text, text, timestamptz, timestamptz),
    quota._member_usage()
    FROM PUBLIC;
-- pool administrators (quota_user members) cap their own pools
GRANT EXECUTE ON FUNCTION quota.quota_set_cap(text, text, numeric, text)
    TO quota_admin, quota_user;
-- quota.member_usage runs as the role that reads it
GRANT EXECUTE ON FUNCTION quota._member_usage() TO quota_admin, quota_app, quota_user;

SELECT pg_catalog.pg_extension_config_dump('quota.pool_caps', '');

-- ---------------------------------------------------------------------------
-- Rate limits (0.2): requests and tokens per minute, counted in shared
-- memory (src/ratelimit.c); refused requests (src/refusals.c); the price list
-- ---------------------------------------------------------------------------

CREATE TABLE quota.rate_limits (
    pool                text NOT NULL REFERENCES quota.pool_defs (pool),
    scope               text NOT NULL CHECK (scope IN ('member', 'pool')),
    requests_per_minute integer CHECK (requests_per_minute > 0),
    tokens_per_minute   bigint CHECK (tokens_per_minute > 0),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pool, scope),
    CHECK (requests_per_minute IS NOT NULL OR tokens_per_minute IS NOT NULL)
);
COMMENT ON TABLE quota.rate_limits IS
    'requests and tokens per minute of a pool, per member or for the pool as a whole (set with quota_set_rate_limit)';
COMMENT ON COLUMN quota.rate_limits.pool IS 'the pool';
COMMENT ON COLUMN quota.rate_limits.scope IS 'member: each member separately; pool: all members together';
COMMENT ON COLUMN quota.rate_limits.requests_per_minute IS 'new requests admitted over any 60 seconds (NULL: no limit)';
COMMENT ON COLUMN quota.rate_limits.tokens_per_minute IS 'tokens of new requests (input, cached input and output; a reservation''s declared maxima) over any 60 seconds (NULL: no limit)';
COMMENT ON COLUMN quota.rate_limits.updated_at IS 'when the limit was last set';
SELECT pg_catalog.pg_extension_config_dump('quota.rate_limits', '');

ALTER TABLE quota.rate_limits ENABLE ROW LEVEL SECURITY;
CREATE POLICY rate_limits_read ON quota.rate_limits FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY rate_limits_read ON quota.rate_limits IS
    'rate limits are visible with their pool';
GRANT SELECT ON quota.rate_limits TO quota_admin, quota_app, quota_user;

CREATE FUNCTION quota._rate_limits_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'quota_rate_limits_changed' LANGUAGE C;
COMMENT ON FUNCTION quota._rate_limits_changed() IS
    'internal: tell every backend to re-read rate limits and caps once the change commits';
CREATE TRIGGER rate_limits_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.rate_limits FOR EACH STATEMENT EXECUTE FUNCTION quota._rate_limits_changed();
COMMENT ON TRIGGER rate_limits_changed ON quota.rate_limits IS
    'backends cache rate limits: a change makes them read again';

-- backends cache each pool's caps too (src/caps.c): a change of caps makes
-- them read again, as for rate limits
CREATE TRIGGER pool_caps_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.pool_caps FOR EACH STATEMENT EXECUTE FUNCTION quota._rate_limits_changed();
COMMENT ON TRIGGER pool_caps_changed ON quota.pool_caps IS
    'backends cache caps: a change makes them read again';

CREATE FUNCTION quota.quota_set_rate_limit(pool text, requests_per_minute integer,
        tokens_per_minute bigint DEFAULT NULL, scope text DEFAULT 'member')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'scope'], ARRAY[pool IS NULL, scope IS NULL]);
    IF scope NOT IN ('member', 'pool') THEN
        RAISE EXCEPTION 'invalid rate limit scope "%"', scope
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''member'' (each member separately) or ''pool'' (all members together).';
    END IF;
    IF requests_per_minute <= 0 OR tokens_per_minute <= 0 THEN
        RAISE EXCEPTION 'rate limits must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('requests_per_minute was %s and tokens_per_minute %s.',
                                  coalesce(requests_per_minute::text, 'NULL'),
                                  coalesce(tokens_per_minute::text, 'NULL')),
                  HINT = 'Pass NULL to remove a limit; quota_set_pool_enabled() stops a pool.';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._may_manage(pool);
    IF requests_per_minute IS NULL AND tokens_per_minute IS NULL THEN
        DELETE FROM quota.rate_limits r
         WHERE r.pool = quota_set_rate_limit.pool AND r.scope = quota_set_rate_limit.scope;
    ELSE
        INSERT INTO quota.rate_limits AS r (pool, scope, requests_per_minute, tokens_per_minute)
        VALUES (pool, scope, requests_per_minute, tokens_per_minute)
        ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE
            SET requests_per_minute = excluded.requests_per_minute,
                tokens_per_minute = excluded.tokens_per_minute,
                updated_at = now();
    END IF;
END
$$;
COMMENT ON FUNCTION quota.quota_set_rate_limit(text, integer, bigint, text) IS
    'limit the new requests and tokens of a pool over any 60 seconds, per member or for the pool (QU006); NULLs remove the limits';

CREATE FUNCTION quota._refusal_counts(OUT pool text, OUT user_id text,
        OUT sqlstate text, OUT refused bigint, OUT last_at timestamptz)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'quota_refusal_counts'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._refusal_counts() IS
    'internal: every refusal count of this database''s quota kept in shared memory (read through quota.refusals)';

CREATE FUNCTION quota._refusals()
    RETURNS TABLE(pool text, user_id text, sqlstate text, refused bigint,
                  last_at timestamptz)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT r.pool, r.user_id, r.sqlstate, r.refused, r.last_at
      FROM quota._refusal_counts() r
     WHERE r.user_id = quota.current_user_id() OR quota._admins_pool(r.pool)
$$;
COMMENT ON FUNCTION quota._refusals() IS
    'internal: the refusal counts the calling user may see (their own, their pools'' as administrator, all for quota_admin)';

CREATE VIEW quota.refusals WITH (security_invoker = true) AS
SELECT r.pool, r.user_id, r.sqlstate, r.refused, r.last_at
  FROM quota._refusals() r;
COMMENT ON VIEW quota.refusals IS
    'refused quota_charge and quota_reserve calls since the server started, per pool, user and SQLSTATE (counted outside the rolled back transaction)';
COMMENT ON COLUMN quota.refusals.pool IS 'the pool the request was for (NULL: none was chosen)';
COMMENT ON COLUMN quota.refusals.user_id IS 'the user';
COMMENT ON COLUMN quota.refusals.sqlstate IS 'the refusal: QU001 (insufficient quota) .. QU006 (rate limited)';
COMMENT ON COLUMN quota.refusals.refused IS 'refused requests since the server started';
COMMENT ON COLUMN quota.refusals.last_at IS 'the last refusal';

CREATE VIEW quota.price_list WITH (security_invoker = true) AS
SELECT m.model, m.service, p.pool, m.input_price, m.cached_input_price,
       m.output_price, m.request_price, c.discount_rate,
       quota._credits_or_null(m.input_price::numeric * c.discount_rate) AS discounted_input_price,
       quota._credits_or_null(m.output_price::numeric * c.discount_rate) AS discounted_output_price
  FROM quota._my_pools() p
  JOIN quota.pool_defs d ON d.pool = p.pool
  JOIN quota.models m ON m.enabled AND (d.models IS NULL OR m.model = ANY (d.models))
 CROSS JOIN LATERAL quota.quota_cost(m.model, 0, 0, 0, p.pool, now()) c;
COMMENT ON VIEW quota.price_list IS
    'per enabled model and pool the calling user may use: prices, the discount rate in force now and the discounted prices';
COMMENT ON COLUMN quota.price_list.model IS 'the model';
COMMENT ON COLUMN quota.price_list.service IS 'the model''s service';
COMMENT ON COLUMN quota.price_list.pool IS 'a pool the user may use that permits the model';
COMMENT ON COLUMN quota.price_list.input_price IS 'credits per 1,000,000 input tokens (cached input excluded), before discount';
COMMENT ON COLUMN quota.price_list.cached_input_price IS 'credits per 1,000,000 cached input tokens, before discount';
COMMENT ON COLUMN quota.price_list.output_price IS 'credits per 1,000,000 output tokens, before discount';
COMMENT ON COLUMN quota.price_list.request_price IS 'credits per request, before discount';
COMMENT ON COLUMN quota.price_list.discount_rate IS 'the rate that applies now to the model in this pool (1: no discount)';
COMMENT ON COLUMN quota.price_list.discounted_input_price IS 'input_price x discount_rate: what is charged now';
COMMENT ON COLUMN quota.price_list.discounted_output_price IS 'output_price x discount_rate: what is charged now';

GRANT SELECT ON quota.refusals, quota.price_list TO quota_admin, quota_app, quota_user;

REVOKE ALL ON FUNCTION
    quota.quota_set_rate_limit(text, integer, bigint, text),
    quota._rate_limits_changed(),
    quota._refusal_counts(),
    quota._refusals()
    FROM PUBLIC;
-- pool administrators (quota_user members) limit their own pools
GRANT EXECUTE ON FUNCTION quota.quota_set_rate_limit(text, integer, bigint, text)
    TO quota_admin, quota_user;
-- quota.refusals
GRANT EXECUTE ON FUNCTION quota._refusals() TO quota_admin, quota_app, quota_user;

-- quota.pool_limits gains the pool's rate limits (defined with the caps in
-- 75_caps.sql; extended here, where quota.rate_limits exists)
CREATE OR REPLACE VIEW quota.pool_limits WITH (security_invoker = true) AS
SELECT d.pool, d.models, d.member_limit,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'day' AND c.scope = 'member') AS member_day_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'week' AND c.scope = 'member') AS member_week_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'month' AND c.scope = 'member') AS member_month_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'day' AND c.scope = 'pool') AS pool_day_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'week' AND c.scope = 'pool') AS pool_week_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'month' AND c.scope = 'pool') AS pool_month_cap,
       d.reset_timezone,
       mr.requests_per_minute AS member_requests_per_minute,
       mr.tokens_per_minute AS member_tokens_per_minute,
       pr.requests_per_minute AS pool_requests_per_minute,
       pr.tokens_per_minute AS pool_tokens_per_minute
  FROM quota.pool_defs d
  LEFT JOIN quota.rate_limits mr ON mr.pool = d.pool AND mr.scope = 'member'
  LEFT JOIN quota.rate_limits pr ON pr.pool = d.pool AND pr.scope = 'pool';
COMMENT ON VIEW quota.pool_limits IS
    'per pool: the restrictions on its use (model list, member limit, spending caps per day, week and month, rate limits)';
COMMENT ON COLUMN quota.pool_limits.member_requests_per_minute IS 'most requests each member may start in any 60 seconds; NULL: no limit';
COMMENT ON COLUMN quota.pool_limits.member_tokens_per_minute IS 'most tokens each member may use in any 60 seconds; NULL: no limit';
COMMENT ON COLUMN quota.pool_limits.pool_requests_per_minute IS 'most requests all members together may start in any 60 seconds; NULL: no limit';
COMMENT ON COLUMN quota.pool_limits.pool_tokens_per_minute IS 'most tokens all members together may use in any 60 seconds; NULL: no limit';

-- ---------------------------------------------------------------------------
-- Privileges and row-level security
-- ---------------------------------------------------------------------------

-- Tables: read under row-level security; written only by quota's functions.
REVOKE ALL ON ALL TABLES IN SCHEMA quota FROM PUBLIC;
GRANT SELECT ON quota.models, quota.model_prices, quota.discounts, quota.users, quota.pool_defs,
    quota.pool_members, quota.pool_groups, quota.personal_policies,
    quota.user_state, quota.ledger, quota.reservations
    TO quota_admin, quota_app, quota_user;
GRANT SELECT ON quota.pools, quota.pool_status, quota.my_pools, quota.charges,
    quota.conversation_costs, quota.usage_daily, quota.alerts
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

ALTER TABLE quota.alert_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY alerts_read ON quota.alert_log FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY alerts_read ON quota.alert_log IS
    'warnings are visible with their pool: to its users, its administrators and quota_admin (read through quota.alerts)';

-- Functions: nothing is executable by PUBLIC but the money type and pure
-- calculations; each role gets what it needs.
REVOKE ALL ON FUNCTION
    quota.quota_set_model(text, numeric, numeric, text, numeric, numeric, boolean),
    quota.quota_set_discount(text, numeric, text, text, timestamptz, timestamptz),
    quota.quota_drop_discount(bigint),
    quota.quota_set_user(text, text[]),
    quota.quota_create_pool(text, numeric, text, text, text, text, text, numeric),
    quota.quota_personal_policy(text, numeric, text, text),
    quota.quota_add_member(text, text, text, numeric),
    quota.quota_remove_member(text, text),
    quota.quota_grant_group(text, text),
    quota.quota_revoke_group(text, text),
    quota.quota_set_pool_models(text, text[]),
    quota.quota_set_pool_enabled(text, boolean),
    quota.quota_topup(text, numeric, text),
    quota.quota_adjust(text, numeric, text),
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
    quota.quota_set_model(text, numeric, numeric, text, numeric, numeric, boolean),
    quota.quota_set_discount(text, numeric, text, text, timestamptz, timestamptz),
    quota.quota_drop_discount(bigint),
    quota.quota_set_user(text, text[]),
    quota.quota_create_pool(text, numeric, text, text, text, text, text, numeric),
    quota.quota_personal_policy(text, numeric, text, text),
    quota.quota_grant_group(text, text),
    quota.quota_revoke_group(text, text),
    quota.quota_set_pool_models(text, text[]),
    quota.quota_set_pool_enabled(text, boolean),
    quota.quota_topup(text, numeric, text),
    quota.quota_adjust(text, numeric, text),
    quota.quota_reset(text),
    quota.quota_run_due()
    TO quota_admin;

-- validation used by the schedule trigger, which runs as the updating role
GRANT EXECUTE ON FUNCTION quota._check_schedule(text, text, text)
    TO quota_admin, quota_user;

-- Internal functions (14.12).  Trigger functions are called by their
-- triggers whatever the privileges; EXECUTE only lets a role attach them to
-- its own tables, so nobody gets it.  Helpers of row-level security and of
-- the views run as the role that reads (functions in a view or policy are
-- called by the caller), so the three quota roles keep them; everything a
-- SECURITY DEFINER function calls runs as the extension's owner.
REVOKE ALL ON FUNCTION
    quota.current_user_id(),
    quota._require(text[], boolean[]),
    quota._caller_is_admin(),
    quota._catalog_changed(),
    quota._price_version(),
    quota._append_only(),
    quota._ledger_guard(),
    quota._routes_changed(),
    quota._sees_pool(text),
    quota._admins_pool(text),
    quota._pool_figures(text),
    quota._pools_update(),
    quota._pool_defs_changed(),
    quota._my_pools()
    FROM PUBLIC;

-- row-level security policies, quota.pools, pool_status, my_pools, alerts
GRANT EXECUTE ON FUNCTION
    quota.current_user_id(),
    quota._caller_is_admin(),
    quota._sees_pool(text),
    quota._admins_pool(text),
    quota._pool_figures(text),
    quota._my_pools()
    TO quota_admin, quota_app, quota_user;

-- the views' exact figures (14.2): NULL where a figure does not fit; the
-- aggregate's final function is checked for the aggregate's owner only
REVOKE ALL ON FUNCTION
    quota._credits_or_null(numeric),
    quota._sum_or_null(quota.credits),
    quota._sum_or_null_final(internal)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota._credits_or_null(numeric),
    quota._sum_or_null(quota.credits)
    TO quota_admin, quota_app, quota_user;

-- _check_schedule's argument check, in the schedule trigger of an UPDATE
GRANT EXECUTE ON FUNCTION quota._require(text[], boolean[])
    TO quota_admin, quota_user;

-- pool administrators (quota_user members) manage their own pools' members
GRANT EXECUTE ON FUNCTION
    quota.quota_add_member(text, text, text, numeric),
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
COMMENT ON SEQUENCE quota.model_prices_price_id_seq IS 'ids of quota.model_prices';
COMMENT ON SEQUENCE quota.pool_defs_pool_id_seq IS 'ids of quota.pool_defs';
COMMENT ON SEQUENCE quota.ledger_entry_id_seq IS 'ids of quota.ledger entries (and charge ids)';
COMMENT ON SEQUENCE quota.alert_log_alert_id_seq IS 'ids of quota.alert_log (quota.alerts)';

-- Every table's data is dumped by pg_dump.
SELECT pg_catalog.pg_extension_config_dump('quota.models', '');
SELECT pg_catalog.pg_extension_config_dump('quota.model_prices', '');
SELECT pg_catalog.pg_extension_config_dump('quota.model_prices_price_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.discounts', '');
SELECT pg_catalog.pg_extension_config_dump('quota.users', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_defs', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_members', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_groups', '');
SELECT pg_catalog.pg_extension_config_dump('quota.personal_policies', '');
SELECT pg_catalog.pg_extension_config_dump('quota.user_state', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('quota.reservations', '');
SELECT pg_catalog.pg_extension_config_dump('quota.alert_log', '');
SELECT pg_catalog.pg_extension_config_dump('quota.alert_log_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.discounts_discount_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_defs_pool_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger_entry_id_seq', '');

-- DROP EXTENSION quota takes the pg_cron job quota-maintenance along: this
-- event trigger loads quota's library at the start of every DROP EXTENSION,
-- and the library's object access hook deletes the job when the extension
-- dropped is quota (src/uninstall.c).
CREATE FUNCTION quota._drop_starting() RETURNS event_trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'quota_drop_starting';
COMMENT ON FUNCTION quota._drop_starting() IS
    'internal: loads quota''s library when DROP EXTENSION starts, so that dropping quota removes its pg_cron job';
REVOKE ALL ON FUNCTION quota._drop_starting() FROM PUBLIC;

CREATE EVENT TRIGGER quota_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION quota._drop_starting();
COMMENT ON EVENT TRIGGER quota_drop_extension IS
    'removes the pg_cron job quota-maintenance when the extension quota is dropped';

-- Say so when quota is not preloaded: it then runs in locked mode.
DO $preload$
BEGIN
    IF pg_catalog.translate(pg_catalog.current_setting('shared_preload_libraries'), ' "', '')
            OPERATOR(pg_catalog.!~) '(^|,|/)quota(\.so)?(,|$)' THEN
        IF pg_catalog.current_setting('client_min_messages') = 'warning' THEN
            PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        END IF;
        RAISE NOTICE 'quota is not in shared_preload_libraries: it runs in locked mode'
            USING DETAIL = 'Each pool''s charges are serialised by a lock and its balance is summed from the ledger: exact, but slower.',
                  HINT = 'Add quota to shared_preload_libraries in postgresql.conf and restart the server.';
    END IF;
END
$preload$;
-- ---------------------------------------------------------------------------
-- How full quota's shared tables are (src/shmem_usage.c)
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota.quota_shared_memory()
    RETURNS TABLE(setting text, used bigint, size bigint)
    AS 'MODULE_PATHNAME', 'quota_shared_memory'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION quota.quota_shared_memory() IS
    'entries in use in each of quota''s fixed-size shared tables (all databases of the server), beside the setting that sizes it; no rows when quota is not preloaded';
REVOKE ALL ON FUNCTION quota.quota_shared_memory() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_shared_memory() TO quota_admin;

-- ---------------------------------------------------------------------------
-- Comments on every user-visible column (kept last: views re-created by an
-- upgrade keep them)
-- ---------------------------------------------------------------------------

COMMENT ON COLUMN quota.models.model IS 'model name, as the gateway passes it';
COMMENT ON COLUMN quota.models.service IS 'service the model belongs to (chat, embedding, ...); discounts apply by service';
COMMENT ON COLUMN quota.models.input_price IS 'credits per 1,000,000 input tokens (cached input excluded)';
COMMENT ON COLUMN quota.models.output_price IS 'credits per 1,000,000 output tokens';
COMMENT ON COLUMN quota.models.request_price IS 'credits per request, added to the token cost';
COMMENT ON COLUMN quota.models.enabled IS 'false: the model is refused everywhere (QU002)';
COMMENT ON COLUMN quota.models.updated_at IS 'when the model''s prices or state last changed';
COMMENT ON COLUMN quota.models.price_id IS 'the row of quota.model_prices with the model''s current prices (charges record it)';

COMMENT ON COLUMN quota.model_prices.price_id IS 'id of the prices, recorded by every charge that used them (quota.ledger.price_id)';
COMMENT ON COLUMN quota.model_prices.model IS 'the model';
COMMENT ON COLUMN quota.model_prices.input_price IS 'credits per 1,000,000 input tokens (cached input excluded)';
COMMENT ON COLUMN quota.model_prices.cached_input_price IS 'credits per 1,000,000 cached input tokens';
COMMENT ON COLUMN quota.model_prices.output_price IS 'credits per 1,000,000 output tokens';
COMMENT ON COLUMN quota.model_prices.request_price IS 'credits per request, added to the token cost';
COMMENT ON COLUMN quota.model_prices.since IS 'when the model got these prices (first, for prices of 0.1 charges)';

COMMENT ON COLUMN quota.discounts.discount_id IS 'id of the discount, for quota_drop_discount';
COMMENT ON COLUMN quota.discounts.service IS 'service the discount applies to';
COMMENT ON COLUMN quota.discounts.rate IS 'final cost = original cost x rate, in [0, 1]; the lowest matching rate wins';
COMMENT ON COLUMN quota.discounts.model IS 'only this model (NULL: every model of the service)';
COMMENT ON COLUMN quota.discounts.pool IS 'only this pool (NULL: every pool)';
COMMENT ON COLUMN quota.discounts.valid_from IS 'start of the window, inclusive (NULL: always)';
COMMENT ON COLUMN quota.discounts.valid_until IS 'end of the window, exclusive (NULL: never ends)';
COMMENT ON COLUMN quota.discounts.created_at IS 'when the discount was set';

COMMENT ON COLUMN quota.users.user_id IS 'user id: the login name of a quota_user, or what the gateway passes as user_id';
COMMENT ON COLUMN quota.users.groups IS 'groups of the user (student, staff, dept:physics, ...): pools granted to a group are the user''s';
COMMENT ON COLUMN quota.users.created_at IS 'when the user was registered';
COMMENT ON COLUMN quota.users.updated_at IS 'when the user''s groups last changed';

COMMENT ON COLUMN quota.user_state.user_id IS 'the user';
COMMENT ON COLUMN quota.user_state.active_pool IS 'the pool last chosen with quota_switch';
COMMENT ON COLUMN quota.user_state.switched_at IS 'when the user switched';

COMMENT ON COLUMN quota.personal_policies.group_name IS 'every user of this group gets a personal pool';
COMMENT ON COLUMN quota.personal_policies.allowance IS 'allowance of each personal pool';
COMMENT ON COLUMN quota.personal_policies.reset_cron IS 'reset schedule of each personal pool (5-field cron)';
COMMENT ON COLUMN quota.personal_policies.reset_timezone IS 'time zone the schedule is read in';
COMMENT ON COLUMN quota.personal_policies.updated_at IS 'when the policy last changed';

COMMENT ON COLUMN quota.pool_defs.pool_id IS 'internal id of the pool';
COMMENT ON COLUMN quota.pool_defs.pool IS 'pool name';
COMMENT ON COLUMN quota.pool_defs.kind IS 'personal (one owner) or shared (members and groups)';
COMMENT ON COLUMN quota.pool_defs.owner IS 'the user who owns a personal pool';
COMMENT ON COLUMN quota.pool_defs.allowance IS 'credits restored (restore) or added (add) at each reset';
COMMENT ON COLUMN quota.pool_defs.reset_cron IS 'reset schedule, a 5-field cron expression (NULL: never)';
COMMENT ON COLUMN quota.pool_defs.reset_timezone IS 'time zone the schedule is read in';
COMMENT ON COLUMN quota.pool_defs.reset_policy IS 'restore (balance = allowance), add (+ allowance) or none';
COMMENT ON COLUMN quota.pool_defs.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.pool_defs.member_limit IS 'default most a member may spend per period (NULL: no limit)';
COMMENT ON COLUMN quota.pool_defs.warn_at IS 'warning thresholds: fractions of the allowance used in the period';
COMMENT ON COLUMN quota.pool_defs.enabled IS 'false: paid and free requests on the pool are refused (QU004)';
COMMENT ON COLUMN quota.pool_defs.created_at IS 'when the pool was created';

COMMENT ON COLUMN quota.pool_members.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_members.user_id IS 'the member';
COMMENT ON COLUMN quota.pool_members.role IS 'member, or admin (manages the pool''s members, schedule and warnings)';
COMMENT ON COLUMN quota.pool_members.member_limit IS 'most this member may spend per period (NULL: the pool''s member_limit)';
COMMENT ON COLUMN quota.pool_members.added_at IS 'when the member was added';

COMMENT ON COLUMN quota.pool_groups.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_groups.group_name IS 'every user of this group is a member';
COMMENT ON COLUMN quota.pool_groups.granted_at IS 'when the group was granted';

COMMENT ON COLUMN quota.ledger.entry_id IS 'id of the entry (the charge_id of a charge)';
COMMENT ON COLUMN quota.ledger.at IS 'when the entry was written';
COMMENT ON COLUMN quota.ledger.pool IS 'the pool whose balance moved';
COMMENT ON COLUMN quota.ledger.user_id IS 'the user charged, or who made the change';
COMMENT ON COLUMN quota.ledger.kind IS 'grant, charge, topup, adjust or reset';
COMMENT ON COLUMN quota.ledger.model IS 'the model (charges)';
COMMENT ON COLUMN quota.ledger.service IS 'the model''s service (charges)';
COMMENT ON COLUMN quota.ledger.conversation_id IS 'the conversation, as the application passed it (charges)';
COMMENT ON COLUMN quota.ledger.input_tokens IS 'input tokens, cached input excluded (charges)';
COMMENT ON COLUMN quota.ledger.cached_input_tokens IS 'cached input tokens (charges)';
COMMENT ON COLUMN quota.ledger.output_tokens IS 'output tokens (charges)';
COMMENT ON COLUMN quota.ledger.original_cost IS 'cost before discount: the crossed-out price (charges)';
COMMENT ON COLUMN quota.ledger.discount_rate IS 'discount rate applied (charges)';
COMMENT ON COLUMN quota.ledger.final_cost IS 'cost charged = original_cost x discount_rate (charges)';
COMMENT ON COLUMN quota.ledger.note IS 'why the balance was changed (top-ups, adjustments)';
COMMENT ON COLUMN quota.ledger.price_id IS 'the unit prices used: a row of quota.model_prices (charges)';

COMMENT ON COLUMN quota.reservations.request_id IS 'the request; settle it with quota_charge and the same request_id';
COMMENT ON COLUMN quota.reservations.pool IS 'the pool holding the credits';
COMMENT ON COLUMN quota.reservations.user_id IS 'the user';
COMMENT ON COLUMN quota.reservations.model IS 'the model';
COMMENT ON COLUMN quota.reservations.max_input_tokens IS 'declared most input tokens, cached included';
COMMENT ON COLUMN quota.reservations.max_output_tokens IS 'declared most output tokens';
COMMENT ON COLUMN quota.reservations.held IS 'credits held: the worst-case final cost';
COMMENT ON COLUMN quota.reservations.created_at IS 'when the reservation was taken';
COMMENT ON COLUMN quota.reservations.expires_at IS 'when an unsettled hold is released';
COMMENT ON COLUMN quota.reservations.settled_at IS 'when the reservation ended (NULL: still held)';
COMMENT ON COLUMN quota.reservations.outcome IS 'charged, released or expired';
COMMENT ON COLUMN quota.reservations.charge_id IS 'the charge that settled it';

COMMENT ON COLUMN quota.alerts.alert_id IS 'id of the warning';
COMMENT ON COLUMN quota.alerts.pool IS 'the pool that crossed a threshold';
COMMENT ON COLUMN quota.alerts.at IS 'when the threshold was crossed';
COMMENT ON COLUMN quota.alerts.threshold IS 'the fraction of the allowance crossed';
COMMENT ON COLUMN quota.alerts.period_start IS 'the period in which it was crossed';
COMMENT ON COLUMN quota.alerts.used IS 'usage in the period when it was crossed';
COMMENT ON COLUMN quota.alerts.allowance IS 'the pool''s allowance then';
COMMENT ON COLUMN quota.alerts.user_id IS 'the user whose charge crossed it (pool administrators and quota_admin only)';
COMMENT ON COLUMN quota.alerts.request_id IS 'the request that crossed it (pool administrators and quota_admin only)';

COMMENT ON COLUMN quota.pools.pool IS 'pool name';
COMMENT ON COLUMN quota.pools.kind IS 'personal or shared';
COMMENT ON COLUMN quota.pools.owner IS 'owner of a personal pool';
COMMENT ON COLUMN quota.pools.allowance IS 'credits restored or added at each reset';
COMMENT ON COLUMN quota.pools.balance IS 'committed balance: the sum of the pool''s ledger';
COMMENT ON COLUMN quota.pools.reset_cron IS 'reset schedule (5-field cron; NULL: never)';
COMMENT ON COLUMN quota.pools.reset_timezone IS 'time zone the schedule is read in';
COMMENT ON COLUMN quota.pools.reset_policy IS 'restore, add or none';
COMMENT ON COLUMN quota.pools.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.pools.member_limit IS 'default most a member may spend per period';
COMMENT ON COLUMN quota.pools.warn_at IS 'warning thresholds, fractions of the allowance used';
COMMENT ON COLUMN quota.pools.enabled IS 'false: requests on the pool are refused';
COMMENT ON COLUMN quota.pools.models IS 'models the pool pays for (NULL: every enabled model)';
COMMENT ON COLUMN quota.pools.period_start IS 'start of the current period (the last reset)';
COMMENT ON COLUMN quota.pools.created_at IS 'when the pool was created';

COMMENT ON COLUMN quota.pool_status.pool IS 'pool name';
COMMENT ON COLUMN quota.pool_status.kind IS 'personal or shared';
COMMENT ON COLUMN quota.pool_status.allowance IS 'credits restored or added at each reset';
COMMENT ON COLUMN quota.pool_status.balance IS 'committed balance: the sum of the pool''s ledger';
COMMENT ON COLUMN quota.pool_status.held IS 'credits held by active reservations';
COMMENT ON COLUMN quota.pool_status.available IS 'balance - held: what new requests may spend';
COMMENT ON COLUMN quota.pool_status.used IS 'spent in the current period';
COMMENT ON COLUMN quota.pool_status.used_pct IS 'used as a percentage of the allowance';
COMMENT ON COLUMN quota.pool_status.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.pool_status.enabled IS 'false: requests on the pool are refused';

COMMENT ON COLUMN quota.my_pools.pool IS 'a pool the caller may use';
COMMENT ON COLUMN quota.my_pools.kind IS 'personal or shared';
COMMENT ON COLUMN quota.my_pools.role IS 'owner, admin or member';
COMMENT ON COLUMN quota.my_pools.active IS 'true for the pool new requests are charged to';
COMMENT ON COLUMN quota.my_pools.balance IS 'committed balance';
COMMENT ON COLUMN quota.my_pools.held IS 'credits held by active reservations';
COMMENT ON COLUMN quota.my_pools.available IS 'balance - held';
COMMENT ON COLUMN quota.my_pools.next_reset_at IS 'when the next reset is due';
COMMENT ON COLUMN quota.my_pools.enabled IS 'false: the pool is disabled and refuses requests';

COMMENT ON COLUMN quota.charges.charge_id IS 'id of the charge (the ledger entry)';
COMMENT ON COLUMN quota.charges.at IS 'when the charge was written';
COMMENT ON COLUMN quota.charges.pool IS 'the pool charged';
COMMENT ON COLUMN quota.charges.user_id IS 'the user charged';
COMMENT ON COLUMN quota.charges.model IS 'the model';
COMMENT ON COLUMN quota.charges.service IS 'the model''s service';
COMMENT ON COLUMN quota.charges.request_id IS 'the request (idempotency key)';
COMMENT ON COLUMN quota.charges.conversation_id IS 'the conversation';
COMMENT ON COLUMN quota.charges.input_tokens IS 'input tokens, cached input excluded';
COMMENT ON COLUMN quota.charges.cached_input_tokens IS 'cached input tokens';
COMMENT ON COLUMN quota.charges.output_tokens IS 'output tokens';
COMMENT ON COLUMN quota.charges.input_price IS 'input price used, credits per 1M tokens';
COMMENT ON COLUMN quota.charges.cached_input_price IS 'cached input price used, credits per 1M tokens';
COMMENT ON COLUMN quota.charges.output_price IS 'output price used, credits per 1M tokens';
COMMENT ON COLUMN quota.charges.request_price IS 'request price used';
COMMENT ON COLUMN quota.charges.original_cost IS 'cost before discount (crossed out)';
COMMENT ON COLUMN quota.charges.discount_rate IS 'discount rate applied';
COMMENT ON COLUMN quota.charges.final_cost IS 'cost charged';

COMMENT ON COLUMN quota.conversation_costs.conversation_id IS 'the conversation';
COMMENT ON COLUMN quota.conversation_costs.user_id IS 'the user';
COMMENT ON COLUMN quota.conversation_costs.requests IS 'charged requests';
COMMENT ON COLUMN quota.conversation_costs.tokens IS 'input, cached input and output tokens';
COMMENT ON COLUMN quota.conversation_costs.original_cost IS 'cost before discounts';
COMMENT ON COLUMN quota.conversation_costs.final_cost IS 'cost charged';
COMMENT ON COLUMN quota.conversation_costs.first_at IS 'first charge';
COMMENT ON COLUMN quota.conversation_costs.last_at IS 'last charge';

COMMENT ON COLUMN quota.usage_daily.day IS 'the day, in the pool''s time zone (reset_timezone)';
COMMENT ON COLUMN quota.usage_daily.pool IS 'the pool';
COMMENT ON COLUMN quota.usage_daily.model IS 'the model';
COMMENT ON COLUMN quota.usage_daily.requests IS 'charged requests';
COMMENT ON COLUMN quota.usage_daily.tokens IS 'input, cached input and output tokens';
COMMENT ON COLUMN quota.usage_daily.original_cost IS 'cost before discounts';
COMMENT ON COLUMN quota.usage_daily.final_cost IS 'cost charged';
