
-- ---------------------------------------------------------------------------
-- quota.credits: exact fixed-point money (int64 count of 1e-9 credits)
-- ---------------------------------------------------------------------------

CREATE TYPE quota.credits;

CREATE FUNCTION quota.credits_in(cstring) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_in(cstring) IS 'text input of quota.credits';
CREATE FUNCTION quota.credits_out(quota.credits) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_out(quota.credits) IS 'text output of quota.credits (shortest exact form)';
CREATE FUNCTION quota.credits_recv(internal) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_recv(internal) IS 'binary input of quota.credits';
CREATE FUNCTION quota.credits_send(quota.credits) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_send(quota.credits) IS 'binary output of quota.credits';

CREATE TYPE quota.credits (
    INPUT = quota.credits_in,
    OUTPUT = quota.credits_out,
    RECEIVE = quota.credits_recv,
    SEND = quota.credits_send,
    LIKE = pg_catalog.int8
);
COMMENT ON TYPE quota.credits IS
    'exact money: 9 fractional digits in 8 bytes, range +-9223372036.854775807';

-- arithmetic.  Multiplication and division take a numeric right operand;
-- bigint and integer reach it by their implicit casts to numeric (exact).
-- Operators with integer operands would make numeric * integer ambiguous
-- for every session with quota on its search_path, through the implicit
-- numeric -> credits cast.
CREATE FUNCTION quota.credits_pl(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_pl(quota.credits, quota.credits) IS 'credits + credits';
CREATE FUNCTION quota.credits_mi(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_mi(quota.credits, quota.credits) IS 'credits - credits';
CREATE FUNCTION quota.credits_um(quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_um(quota.credits) IS '- credits';
CREATE FUNCTION quota.credits_mul_numeric(quota.credits, numeric) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_mul_numeric(quota.credits, numeric) IS
    'credits * numeric, rounded half away from zero';
CREATE FUNCTION quota.credits_div_numeric(quota.credits, numeric) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_div_numeric(quota.credits, numeric) IS
    'credits / numeric, rounded half away from zero';

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
COMMENT ON OPERATOR quota.* (quota.credits, numeric) IS 'multiply, rounded half away from zero';
CREATE OPERATOR quota./ (LEFTARG = quota.credits, RIGHTARG = numeric,
    FUNCTION = quota.credits_div_numeric);
COMMENT ON OPERATOR quota./ (quota.credits, numeric) IS 'divide, rounded half away from zero';

-- comparisons
CREATE FUNCTION quota.credits_eq(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_eq(quota.credits, quota.credits) IS 'equal';
CREATE FUNCTION quota.credits_ne(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_ne(quota.credits, quota.credits) IS 'not equal';
CREATE FUNCTION quota.credits_lt(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_lt(quota.credits, quota.credits) IS 'less than';
CREATE FUNCTION quota.credits_le(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_le(quota.credits, quota.credits) IS 'less than or equal';
CREATE FUNCTION quota.credits_gt(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_gt(quota.credits, quota.credits) IS 'greater than';
CREATE FUNCTION quota.credits_ge(quota.credits, quota.credits) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_ge(quota.credits, quota.credits) IS 'greater than or equal';
CREATE FUNCTION quota.credits_cmp(quota.credits, quota.credits) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_cmp(quota.credits, quota.credits) IS 'btree comparison';
CREATE FUNCTION quota.credits_hash(quota.credits) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_hash(quota.credits) IS 'hash';
CREATE FUNCTION quota.credits_hash_extended(quota.credits, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_hash_extended(quota.credits, bigint) IS 'extended hash';

CREATE OPERATOR quota.= (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_eq, COMMUTATOR = OPERATOR(quota.=),
    NEGATOR = OPERATOR(quota.<>), RESTRICT = eqsel, JOIN = eqjoinsel,
    HASHES, MERGES);
COMMENT ON OPERATOR quota.= (quota.credits, quota.credits) IS 'equal';
CREATE OPERATOR quota.<> (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_ne, COMMUTATOR = OPERATOR(quota.<>),
    NEGATOR = OPERATOR(quota.=), RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR quota.<> (quota.credits, quota.credits) IS 'not equal';
CREATE OPERATOR quota.< (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_lt, COMMUTATOR = OPERATOR(quota.>),
    NEGATOR = OPERATOR(quota.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
COMMENT ON OPERATOR quota.< (quota.credits, quota.credits) IS 'less than';
CREATE OPERATOR quota.<= (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_le, COMMUTATOR = OPERATOR(quota.>=),
    NEGATOR = OPERATOR(quota.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
COMMENT ON OPERATOR quota.<= (quota.credits, quota.credits) IS 'less than or equal';
CREATE OPERATOR quota.> (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_gt, COMMUTATOR = OPERATOR(quota.<),
    NEGATOR = OPERATOR(quota.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
COMMENT ON OPERATOR quota.> (quota.credits, quota.credits) IS 'greater than';
CREATE OPERATOR quota.>= (LEFTARG = quota.credits, RIGHTARG = quota.credits,
    FUNCTION = quota.credits_ge, COMMUTATOR = OPERATOR(quota.<=),
    NEGATOR = OPERATOR(quota.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
COMMENT ON OPERATOR quota.>= (quota.credits, quota.credits) IS 'greater than or equal';

CREATE OPERATOR CLASS quota.credits_ops DEFAULT FOR TYPE quota.credits USING btree AS
    OPERATOR 1 quota.<,
    OPERATOR 2 quota.<=,
    OPERATOR 3 quota.=,
    OPERATOR 4 quota.>=,
    OPERATOR 5 quota.>,
    FUNCTION 1 quota.credits_cmp(quota.credits, quota.credits);
COMMENT ON OPERATOR CLASS quota.credits_ops USING btree IS 'btree ordering of credits';
COMMENT ON OPERATOR FAMILY quota.credits_ops USING btree IS 'btree ordering of credits';
CREATE OPERATOR CLASS quota.credits_hash_ops DEFAULT FOR TYPE quota.credits USING hash AS
    OPERATOR 1 quota.=,
    FUNCTION 1 quota.credits_hash(quota.credits),
    FUNCTION 2 quota.credits_hash_extended(quota.credits, bigint);
COMMENT ON OPERATOR CLASS quota.credits_hash_ops USING hash IS 'hashing of credits';
COMMENT ON OPERATOR FAMILY quota.credits_hash_ops USING hash IS 'hashing of credits';

-- casts
CREATE FUNCTION quota.numeric_credits(numeric) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.numeric_credits(numeric) IS
    'numeric to credits, rounded half away from zero';
CREATE FUNCTION quota.int8_credits(bigint) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.int8_credits(bigint) IS 'bigint to credits';
CREATE FUNCTION quota.int4_credits(integer) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.int4_credits(integer) IS 'integer to credits';
CREATE FUNCTION quota.credits_numeric(quota.credits) RETURNS numeric
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_numeric(quota.credits) IS 'credits to numeric, exact';

CREATE CAST (numeric AS quota.credits) WITH FUNCTION quota.numeric_credits(numeric) AS IMPLICIT;
COMMENT ON CAST (numeric AS quota.credits) IS 'implicit: rounded half away from zero at 1e-9';
CREATE CAST (bigint AS quota.credits) WITH FUNCTION quota.int8_credits(bigint) AS IMPLICIT;
COMMENT ON CAST (bigint AS quota.credits) IS 'implicit';
CREATE CAST (integer AS quota.credits) WITH FUNCTION quota.int4_credits(integer) AS IMPLICIT;
COMMENT ON CAST (integer AS quota.credits) IS 'implicit';
CREATE CAST (quota.credits AS numeric) WITH FUNCTION quota.credits_numeric(quota.credits) AS ASSIGNMENT;
COMMENT ON CAST (quota.credits AS numeric) IS 'on assignment: exact';

-- aggregates
CREATE FUNCTION quota.credits_smaller(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_smaller(quota.credits, quota.credits) IS 'the smaller of two';
CREATE FUNCTION quota.credits_larger(quota.credits, quota.credits) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_larger(quota.credits, quota.credits) IS 'the larger of two';
CREATE FUNCTION quota.credits_avg_accum(internal, quota.credits) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_avg_accum(internal, quota.credits) IS 'avg transition';
CREATE FUNCTION quota.credits_avg_final(internal) RETURNS quota.credits
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.credits_avg_final(internal) IS 'avg final';

CREATE AGGREGATE quota.sum(quota.credits) (
    SFUNC = quota.credits_pl, STYPE = quota.credits,
    COMBINEFUNC = quota.credits_pl, PARALLEL = SAFE);
COMMENT ON AGGREGATE quota.sum(quota.credits) IS 'sum of credits (22003 on overflow)';
CREATE AGGREGATE quota.min(quota.credits) (
    SFUNC = quota.credits_smaller, STYPE = quota.credits,
    COMBINEFUNC = quota.credits_smaller, SORTOP = OPERATOR(quota.<), PARALLEL = SAFE);
COMMENT ON AGGREGATE quota.min(quota.credits) IS 'minimum';
CREATE AGGREGATE quota.max(quota.credits) (
    SFUNC = quota.credits_larger, STYPE = quota.credits,
    COMBINEFUNC = quota.credits_larger, SORTOP = OPERATOR(quota.>), PARALLEL = SAFE);
COMMENT ON AGGREGATE quota.max(quota.credits) IS 'maximum';
CREATE AGGREGATE quota.avg(quota.credits) (
    SFUNC = quota.credits_avg_accum, STYPE = internal,
    FINALFUNC = quota.credits_avg_final);
COMMENT ON AGGREGATE quota.avg(quota.credits) IS 'mean, rounded half away from zero';
