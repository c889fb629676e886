-- credits: the money type quota.credits (input and output, arithmetic,
-- rounding, casts, aggregates, operator classes, and every error path).
\set VERBOSITY default
SET search_path = quota, public;

-- public.try(sql) (from setup): 'ok', or the SQLSTATE and message.

--
-- Text input and output
--
-- round trips of the shortest exact form, with the boundaries
SELECT v, v::credits AS c, v::credits::text = v AS round_trip
  FROM unnest(ARRAY['0', '1', '-1', '12.5', '0.1', '100', '0.000000001', '-0.000000001',
                    '123456789.123456789', '9223372036.854775807',
                    '-9223372036.854775807']) v;
-- accepted spellings (a tab and a newline shown as \t and \n)
SELECT replace(replace(v, E'\t', '\t'), E'\n', '\n') AS v, v::credits AS c
  FROM unnest(ARRAY['5', '-5', '+5', '5.25', '.5', '5.', '+.5', '-.000000001', '-0',
                    '0.100000000', '007.25', ' 42 ', E'\t7\n',
                    '00000000000000000000000000001.5']) v;
-- malformed input: 22P02 (the whole text is checked before the range)
SELECT v, try(format('SELECT %L::quota.credits', v)) AS result
  FROM unnest(ARRAY['', ' ', '.', '-', '+', '+-1', '--1', '1-', '- 1', 'abc', '1e3',
                    '1.2.3', '1 000', '1,5', '0x10', 'NaN', 'Infinity', '-Infinity',
                    '0.0000000001', '1.1234567891', '5.0000000000',
                    '99999999999999999999999x']) v;
-- out of range: 22003
SELECT v, try(format('SELECT %L::quota.credits', v)) AS result
  FROM unnest(ARRAY['9223372036.854775808', '-9223372036.854775808', '9223372037',
                    '-9223372037', '99999999999', '18446744073709551616',
                    '-99999999999999999999999999.5']) v;
-- the errors in full
SELECT 'abc'::credits;
SELECT '1.1234567891'::credits;
SELECT '9223372036.854775808'::credits;

--
-- Binary send and receive: an int8 count of 1e-9 credits
--
SELECT v, credits_send(v::credits) AS bytes
  FROM unnest(ARRAY['12.5', '0', '0.000000001', '-0.000000001',
                    '9223372036.854775807', '-9223372036.854775807']) v;
-- a binary COPY round trip goes through credits_recv (the file is written
-- in the server's data directory and emptied at the end)
CREATE FUNCTION pg_temp.copy_binary(src text, dst text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    f text := current_setting('data_directory') || '/quota_credits_regress.bin';
BEGIN
    EXECUTE format('COPY %s TO %L WITH (FORMAT binary)', src, f);
    IF dst IS NOT NULL THEN
        EXECUTE format('COPY %s FROM %L WITH (FORMAT binary)', dst, f);
    END IF;
END
$$;
CREATE TEMP TABLE bin_out (c credits);
INSERT INTO bin_out VALUES ('12.5'), ('-3'), ('0.000000001'), ('0'), (NULL),
    ('9223372036.854775807'), ('-9223372036.854775807');
CREATE TEMP TABLE bin_in (c credits);
SELECT pg_temp.copy_binary('bin_out', 'bin_in');
SELECT c FROM bin_in ORDER BY c NULLS FIRST;
SELECT (SELECT array_agg(c ORDER BY c) FROM bin_in)
       IS NOT DISTINCT FROM (SELECT array_agg(c ORDER BY c) FROM bin_out) AS same;
-- credits and bigint share the binary format, but INT64_MIN is refused
CREATE TEMP TABLE bin_raw (i bigint);
INSERT INTO bin_raw VALUES (-9223372036854775807), (-9223372036854775808);
TRUNCATE bin_in;
SELECT try($$SELECT pg_temp.copy_binary('bin_raw', 'bin_in')$$);
SELECT count(*) FROM bin_in;
DELETE FROM bin_raw WHERE i = -9223372036854775808;
SELECT pg_temp.copy_binary('bin_raw', 'bin_in');
SELECT c FROM bin_in;
SELECT pg_temp.copy_binary('(SELECT 1 WHERE false)', NULL);

--
-- Addition, subtraction, negation
--
SELECT '1.5'::credits + '2.25'::credits AS plus, '1.5'::credits - '2.25'::credits AS minus,
       -'1.5'::credits AS neg, -'-0.000000001'::credits AS neg_unit,
       '9223372036.854775806'::credits + '0.000000001' AS to_max,
       '-9223372036.854775806'::credits - '0.000000001' AS to_min,
       -'9223372036.854775807'::credits AS neg_max,
       -'-9223372036.854775807'::credits AS neg_min;
-- overflow: 22003 (negation cannot overflow: the range is symmetric)
SELECT try($$SELECT '9223372036.854775807'::quota.credits + '0.000000001'::quota.credits$$);
SELECT try($$SELECT '-9223372036.854775807'::quota.credits + '-0.000000001'::quota.credits$$);
SELECT try($$SELECT '-9223372036.854775807'::quota.credits - '0.000000001'::quota.credits$$);
SELECT try($$SELECT '9223372036.854775807'::quota.credits - '-1'::quota.credits$$);
SELECT try($$SELECT '5000000000'::quota.credits + '5000000000'$$);
-- credits + a number is numeric arithmetic (credits -> numeric is implicit)
SELECT '5000000000'::credits + 5000000000 AS numeric_sum,
       pg_typeof('5000000000'::credits + 5000000000);
SELECT '9223372036.854775807'::credits + '1'::credits;

--
-- Multiplication: exact, rounded half away from zero to 1e-9
--
SELECT '2.5'::credits * 2 AS by_int, '2.5'::credits * 3::bigint AS by_bigint,
       '2.5'::credits * 1.5 AS by_numeric, '2.5'::credits * -1 AS by_minus_one,
       '2.5'::credits * 0 AS by_zero, '-2.5'::credits * -0.4 AS neg_neg;
SELECT '0.000000001'::credits * 0.5 AS half_up, '-0.000000001'::credits * 0.5 AS half_down,
       '0.000000001'::credits * -0.5 AS half_down2, '0.000000001'::credits * 0.49 AS below_half,
       '-0.000000001'::credits * 0.49 AS below_half_neg,
       '10'::credits * 0.123456789123 AS truncated, '1'::credits * 0.1234567895 AS rounded_up,
       '-1'::credits * 0.1234567895 AS rounded_down,
       '3'::credits * 0.33333333333333333333 AS third_of_three;
-- commutative forms with bigint and integer (exact)
SELECT 3 * '2.5'::credits AS int_times, 3::bigint * '2.5'::credits AS bigint_times,
       -2 * '0.000000001'::credits AS neg,
       9223372036854775807 * '0.000000001'::credits AS max_units;
-- overflow: 22003, for each operand type; NaN and infinities: 22003
SELECT try($$SELECT '9223372036'::quota.credits * 2$$) AS by_int,
       try($$SELECT '9223372036'::quota.credits * 2::bigint$$) AS by_bigint,
       try($$SELECT '1'::quota.credits * 1e30$$) AS by_numeric;
SELECT try($$SELECT '9223372036.854775807'::quota.credits * 1.0000000000000000001$$) AS just_over,
       try($$SELECT 2 * '9223372036'::quota.credits$$) AS int_times,
       try($$SELECT 9223372036854775807 * '0.000000002'::quota.credits$$) AS bigint_times,
       try($$SELECT (-9223372036854775807 - 1) * '0.000000001'::quota.credits$$) AS int64_min;
SELECT try($$SELECT '1'::quota.credits * 'NaN'::numeric$$) AS nan,
       try($$SELECT '1'::quota.credits * 'Infinity'::numeric$$) AS inf,
       try($$SELECT '0'::quota.credits * '-Infinity'::numeric$$) AS minus_inf;

--
-- Division: exact, rounded half away from zero to 1e-9
--
SELECT '1'::credits / 3 AS third, '2'::credits / 3 AS two_thirds, '-2'::credits / 3 AS neg,
       '10'::credits / 4 AS by_int, '10'::credits / 4::bigint AS by_bigint,
       '1'::credits / 0.3 AS by_numeric, '1'::credits / -0.3 AS by_neg_numeric;
SELECT '0.000000001'::credits / 2 AS half_up, '-0.000000001'::credits / 2 AS half_down,
       '0.000000001'::credits / -2 AS half_down2, '0.000000003'::credits / 2::bigint AS three_halves,
       '0.000000001'::credits / 3 AS below_half, '-0.000000001'::credits / 3 AS below_half_neg,
       '0.000000001'::credits / 2.0000000001 AS just_below_half;
SELECT '9223372036.854775807'::credits / 2 AS max_half,
       '-9223372036.854775807'::credits / 2 AS min_half,
       '9223372036.854775807'::credits / 9223372036854775807 AS unit,
       '1'::credits / 1e-9 AS by_unit, '0'::credits / -5 AS zero;
-- division by zero: 22012, for each operand type
SELECT try($$SELECT '1'::quota.credits / 0$$) AS by_int,
       try($$SELECT '1'::quota.credits / 0::bigint$$) AS by_bigint,
       try($$SELECT '1'::quota.credits / 0.000$$) AS by_numeric;
-- overflow and non-finite divisors: 22003
SELECT try($$SELECT '1'::quota.credits / 1e-30$$) AS tiny,
       try($$SELECT '9223372036.854775807'::quota.credits / 0.5$$) AS by_half,
       try($$SELECT '-9223372036.854775807'::quota.credits / -0.999999999999$$) AS just_over;
SELECT try($$SELECT '1'::quota.credits / 'NaN'::numeric$$) AS nan,
       try($$SELECT '1'::quota.credits / 'Infinity'::numeric$$) AS inf;
SELECT '1'::credits / 0;

--
-- Comparisons
--
SELECT a, b, a = b AS eq, a <> b AS ne, a < b AS lt, a <= b AS le, a > b AS gt, a >= b AS ge
  FROM (VALUES ('1'::credits, '1.5'::credits), ('1.5', '1.5'), ('-0.000000001', '-0.000000002'),
               ('-9223372036.854775807', '9223372036.854775807')) v(a, b);
-- NULL in, NULL out
SELECT NULL::credits + '1' AS plus, NULL::credits * 2 AS times, NULL::credits = '1' AS eq;

--
-- Resolution with literals: none of these is ambiguous
--
SELECT '1'::credits + 1.5 AS plus_numeric, '1'::credits > 0 AS gt_int,
       '1'::credits * 2 AS times_int, '1'::credits * 1.5 AS times_numeric,
       '1'::credits / 3 AS by_int, '1'::credits = 5 AS eq_int,
       '1'::credits - 1 AS minus_int, 1 - '1'::credits AS int_minus,
       '1'::credits >= 0.5 AS ge_numeric, '1'::credits * '2' AS times_unknown;
SELECT pg_typeof('1'::credits + 1.5) AS plus, pg_typeof('1'::credits * 2) AS times,
       pg_typeof('1'::credits / 3) AS div, pg_typeof(2 * '1'::credits) AS int_times,
       pg_typeof(coalesce(quota.sum(NULL::credits), '0')) AS coalesce_unknown,
       pg_typeof(CASE WHEN true THEN '1'::credits ELSE 1.5 END) AS case_numeric;
-- a number never converts to credits implicitly: coalesce with an integer
-- needs a typed zero ('0' above)
SELECT try($$SELECT coalesce(quota.sum(NULL::quota.credits), 0)$$) AS coalesce_int;
-- numeric and integer arithmetic is unchanged with quota on the search path
SELECT 1.5 * 2 AS numeric_times_int, 1.5 / 2 AS numeric_by_int,
       1.5::numeric * 100 AS numeric_times_hundred, 2 + 1.5 AS int_plus_numeric,
       2 * 3 AS int_times_int, 2 * '3' AS int_times_unknown;
-- every built-in expression stays unambiguous (0.2: no implicit cast to credits)
SELECT 2 * 1.5 AS int_times_numeric, 3 / 1.5 AS int_by_numeric, 1 + 2.5 AS int_plus_numeric,
       pg_typeof(2 * 1.5) AS type;
SELECT 2::numeric * 1.5 AS cast_one_side;
-- credits mix with numbers like numeric
SELECT '2.5'::credits > 0 AS gt, '2.5'::credits * 2 AS times, round('2.555'::credits, 2) AS rounded,
       sum(v) AS sum_any, pg_typeof(sum(v))
  FROM (VALUES ('1.25'::credits), ('2.5')) x(v);

--
-- Casts
--
-- numeric -> credits, rounded half away from zero at 1e-9
SELECT v, v::credits AS c
  FROM unnest(ARRAY[12.5, 0.0000000005, -0.0000000005, 0.00000000049, -0.00000000049,
                    0.00000000050000000001, 1.0000000005, -1.0000000015,
                    1.00000000049999999999, 1e-100, -1e-100,
                    9223372036.8547758074, -9223372036.8547758074]) v;
SELECT v, try(format('SELECT %s::numeric::quota.credits', quote_literal(v))) AS result
  FROM unnest(ARRAY['9223372036.8547758075', '-9223372036.8547758075', '1e100',
                    'NaN', 'Infinity', '-Infinity']) v;
-- bigint and integer -> credits
SELECT 9223372036::bigint::credits AS max_bigint, (-9223372036)::bigint::credits AS min_bigint,
       2147483647::credits AS max_int, (-2147483647 - 1)::credits AS min_int;
SELECT try('SELECT 9223372037::bigint::quota.credits') AS over,
       try('SELECT (-9223372037)::bigint::quota.credits') AS under,
       try('SELECT 9223372036854775807::quota.credits') AS bigint_max;
-- numbers reach a credits argument only through an explicit cast (quota's
-- own functions take money as numeric)
SELECT try($$SELECT credits_pl(500, 1.5)$$) AS int_and_numeric;
SELECT credits_pl(500::credits, 1.5::credits) AS int_and_numeric,
       credits_pl(5000000000::credits, '0') AS bigint;
-- credits -> numeric: exact, implicit
SELECT v::credits::numeric AS n, pg_typeof(v::credits::numeric)
  FROM unnest(ARRAY['12.5', '0', '-0.000000001', '9223372036.854775807',
                    '-9223372036.854775807']) v;
CREATE TEMP TABLE num_col (x numeric);
INSERT INTO num_col VALUES ('3.25'::credits), ('-0.000000001'::credits);
SELECT x FROM num_col ORDER BY x;
SELECT round('3.25'::quota.credits, 1) AS implicit_round, '3.25'::credits::numeric = 3.25 AS exact;
-- no other casts
SELECT try($$SELECT '1'::quota.credits::bigint$$) AS to_bigint,
       try($$SELECT 1.5::float8::quota.credits$$) AS from_float8;
SELECT format_type(castsource, NULL) AS source, format_type(casttarget, NULL) AS target,
       castcontext, castmethod
  FROM pg_cast
 WHERE castsource = 'quota.credits'::regtype OR casttarget = 'quota.credits'::regtype
 ORDER BY 1, 2;

--
-- Aggregates
--
CREATE TEMP TABLE agg AS
SELECT i, (i::numeric * 1.000000001)::credits AS c FROM generate_series(1, 1000) i;
INSERT INTO agg VALUES (0, NULL);
SELECT sum(c), min(c), max(c), avg(c), count(c), pg_typeof(sum(c)) FROM agg;
-- no rows, only NULLs: NULL
SELECT sum(c), min(c), max(c), avg(c) FROM agg WHERE false;
SELECT sum(c), min(c), max(c), avg(c) FROM agg WHERE c IS NULL;
-- avg rounds half away from zero
SELECT avg(x) AS up, avg(-x) AS down, avg(x * 2) AS exact,
       (SELECT avg(y) FROM (VALUES ('0.000000001'::credits), ('0'), ('0')) w(y)) AS third
  FROM (VALUES ('0.000000001'::credits), ('0')) v(x);
-- the sum is exact in 128 bits: only a final sum out of range is an error
SELECT sum(x) AS back_in_range, avg(x) AS avg_of_extremes
  FROM (VALUES ('9223372036.854775807'::credits), ('9223372036.854775807'),
               ('-9223372036.854775807')) v(x);
SELECT try($$SELECT quota.sum(x) FROM (VALUES ('9223372036.854775807'::quota.credits),
    ('0.000000001'::quota.credits)) v(x)$$) AS sum_over,
       try($$SELECT quota.sum(x) FROM (VALUES ('-9223372036.854775807'::quota.credits),
    ('-9223372036.854775807'::quota.credits)) v(x)$$) AS sum_under;
-- moving window frames use the inverse transition
SELECT i, c, sum(c) OVER w AS sum2, avg(c) OVER w AS avg2, min(c) OVER w AS min2
  FROM (VALUES (1, '1'::credits), (2, '2.5'), (3, NULL), (4, NULL), (5, '-0.000000001')) v(i, c)
WINDOW w AS (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
 ORDER BY i;
SELECT i, c, sum(c) OVER w AS sum3, avg(c) OVER w AS avg3, max(c) OVER w AS max3
  FROM (VALUES (1, NULL::credits), (2, NULL), (3, '0.000000001'), (4, '0'), (5, NULL),
               (6, NULL), (7, NULL), (8, '9223372036.854775807')) v(i, c)
WINDOW w AS (ORDER BY i ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
 ORDER BY i;
-- parallel aggregation: partial states are serialised and combined
CREATE TABLE credits_par AS
SELECT ((i % 1000)::numeric * 0.000000001 + 1 - (i % 7))::credits AS c
  FROM generate_series(1, 100000) i;
ALTER TABLE credits_par SET (parallel_workers = 2);
ANALYZE credits_par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT sum(c), avg(c), min(c), max(c) FROM credits_par;
SELECT sum(c), avg(c), min(c), max(c), count(*) FROM credits_par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- the same figures computed in numeric
SELECT sum(c::numeric), round(avg(c::numeric), 9), min(c::numeric), max(c::numeric)
  FROM credits_par;
DROP TABLE credits_par;

--
-- btree and hash operator classes
--
SELECT opc.opcname, am.amname, opc.opcdefault, amvalidate(opc.oid) AS valid
  FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
 WHERE opc.opcintype = 'quota.credits'::regtype
 ORDER BY am.amname;
SELECT oprname, oprcanmerge, oprcanhash, oprrest, oprjoin
  FROM pg_operator
 WHERE oprleft = 'quota.credits'::regtype AND oprright = 'quota.credits'::regtype
   AND oprresult = 'boolean'::regtype
 ORDER BY oprname COLLATE "C";
CREATE TEMP TABLE ord (c credits);
INSERT INTO ord SELECT (((i * 37) % 101) - 50)::credits / 10 FROM generate_series(1, 101) i;
INSERT INTO ord VALUES ('9223372036.854775807'), ('-9223372036.854775807'), ('0.000000001'),
    ('-0.000000001');
SELECT c FROM ord WHERE c < -4.7 OR c > 4.7 OR abs(c::numeric) < 0.1 ORDER BY c;
SELECT c FROM ord ORDER BY c DESC LIMIT 3;
CREATE INDEX ord_btree ON ord (c);
CREATE INDEX ord_hash ON ord USING hash (c);
ANALYZE ord;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT c FROM ord WHERE c BETWEEN -0.2 AND 0.2 ORDER BY c;
SELECT c FROM ord WHERE c BETWEEN -0.2 AND 0.2 ORDER BY c;
-- (the plan's InitPlan lines without "(returns $0)", which PostgreSQL 17 dropped)
DO $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) SELECT min(c), max(c) FROM ord' LOOP
        RAISE NOTICE '%', regexp_replace(l, ' \(returns \$\d+\)$', '');
    END LOOP;
END
$$;
SELECT min(c), max(c) FROM ord;
DROP INDEX ord_btree;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ord WHERE c = '1.5';
SELECT count(*) FROM ord WHERE c = '1.5';
RESET enable_seqscan;
RESET enable_bitmapscan;
-- merge join
SET enable_hashjoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ord a JOIN ord b ON a.c = b.c;
SELECT count(*) FROM ord a JOIN ord b ON a.c = b.c;
RESET enable_hashjoin;
RESET enable_nestloop;
-- hash join and hash aggregation
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ord a JOIN ord b ON a.c = b.c;
SELECT count(*) FROM ord a JOIN ord b ON a.c = b.c;
EXPLAIN (COSTS OFF) SELECT c, count(*) FROM (SELECT c FROM ord UNION ALL SELECT c FROM ord) x GROUP BY c;
SELECT count(*) AS groups, min(n), max(n)
  FROM (SELECT c, count(*) AS n FROM (SELECT c FROM ord UNION ALL SELECT c FROM ord) x
         GROUP BY c) g;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET enable_sort;
-- the hash functions agree with equality and with bigint's hashing
SELECT credits_hash('1.5') = credits_hash('1.500000000') AS same,
       credits_hash('-0.000000001') = hashint8(-1) AS like_bigint,
       credits_hash_extended('12.5', 42) = hashint8extended(12500000000, 42) AS extended;

--
-- Function properties
--
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict, p.proleakproof
  FROM pg_proc p
 WHERE p.pronamespace = 'quota'::regnamespace
   AND (p.proname LIKE 'credits%' OR p.proname IN ('int8_mul_credits', 'int4_mul_credits',
        'numeric_credits', 'int8_credits', 'int4_credits'))
 ORDER BY p.proname COLLATE "C";
SELECT p.proname, a.aggcombinefn, a.aggserialfn <> 0 AS serial, a.aggsortop::regoperator,
       p.proparallel
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'quota'::regnamespace
   AND p.proargtypes[0] = 'quota.credits'::regtype
 ORDER BY p.proname COLLATE "C";
