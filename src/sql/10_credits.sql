
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
