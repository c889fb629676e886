-- credits: the money type.
\set VERBOSITY default
SET search_path = public, quota;

-- input and output round trips, boundaries
SELECT v::credits AS c, v::credits::text = v AS round_trip
  FROM unnest(ARRAY['0', '12.5', '-0.000000001', '0.000000001', '1',
                    '9223372036.854775807', '-9223372036.854775807',
                    '123456789.123456789']) v;
SELECT ' 42 '::credits, '+7'::credits, '.5'::credits, '5.'::credits,
       '-0'::credits, '0.100000000'::credits, '007.25'::credits;
-- malformed input: 22P02; out of range: 22003
SELECT v, try(format('SELECT %L::quota.credits', v))
  FROM unnest(ARRAY['', ' ', '.', '-', '+', 'abc', '1e3', '1.2.3', '1 000', 'NaN',
                    'Infinity', '0.0000000001', '1.1234567891', '--1', '1-',
                    '9223372036.854775808', '-9223372036.854775808',
                    '99999999999', '18446744073709551616']) v;

-- arithmetic
SELECT '1.5'::credits + '2.25'::credits AS sum, '1.5'::credits - '2.25'::credits AS diff,
       -'1.5'::credits AS neg, -('-0.000000001'::credits) AS neg2;
SELECT try($$SELECT '9223372036.854775807'::quota.credits + '0.000000001'::quota.credits$$);
SELECT try($$SELECT '-9223372036.854775807'::quota.credits - '0.000000001'::quota.credits$$);
SELECT try($$SELECT '-9223372036.854775807'::quota.credits - 1$$);
-- multiplication and division, rounded half away from zero at 1e-9
SELECT '0.000000001'::credits * 0.5 AS half_up, '-0.000000001'::credits * 0.5 AS half_down,
       '0.000000001'::credits * 0.49 AS below_half, '10'::credits * 0.123456789123 AS many_digits;
SELECT '1'::credits / 3 AS third, '2'::credits / 3 AS two_thirds, '-2'::credits / 3 AS neg,
       '0.000000001'::credits / 2 AS half, '-0.000000001'::credits / 2 AS neg_half,
       '0.000000003'::credits / 2::bigint AS by_bigint, '1'::credits / 0.3 AS by_numeric;
SELECT '2.5'::credits * 2 AS by_int, '2.5'::credits * 3::bigint AS by_bigint,
       '2.5'::credits * 1.5 AS by_numeric, '2.5'::credits * -1 AS negative;
SELECT try($$SELECT '9223372036'::quota.credits * 2$$);
SELECT try($$SELECT '1'::quota.credits * 1e30$$);
SELECT try($$SELECT '1'::quota.credits / 0$$);
SELECT try($$SELECT '1'::quota.credits / 0.0$$);
SELECT try($$SELECT '1'::quota.credits / 1e-30$$);
SELECT try($$SELECT '1'::quota.credits * 'NaN'::numeric$$);

-- comparisons and resolution with literals
SELECT '1'::credits = 1 AS eq, '1'::credits <> 1.5 AS ne, '1'::credits < 1.5 AS lt,
       '1'::credits <= 1 AS le, '1'::credits > 0 AS gt, '1'::credits >= 2 AS ge,
       '1'::credits + 1.5 AS plus_numeric, '1'::credits * 2 AS times_int,
       '1'::credits * 1.5 AS times_numeric, '1'::credits / 3 AS by_int,
       '1'::credits = 5 AS eq_int;
SELECT pg_typeof('1'::credits + 1.5), pg_typeof('1'::credits * 2),
       pg_typeof(coalesce(NULL::credits, '0'));

-- casts
SELECT 1.0000000005::credits AS half_up, (-1.0000000005)::credits AS half_down,
       1.00000000049::credits AS below, 5::credits AS int, 5::bigint::credits AS bigint,
       '12.5'::credits::numeric AS to_numeric, pg_typeof('12.5'::credits::numeric);
SELECT try($$SELECT 99999999999::bigint::quota.credits$$);
SELECT try($$SELECT 'NaN'::numeric::quota.credits$$);
SELECT try($$SELECT 'Infinity'::numeric::quota.credits$$);
SELECT try($$SELECT 9223372036.8547758075::quota.credits$$);
SELECT 9223372036.8547758074::credits AS max_rounded;
-- credits -> numeric is an assignment cast, not implicit
CREATE TEMP TABLE n (x numeric);
INSERT INTO n VALUES ('3.25'::credits);
SELECT x FROM n;
SELECT try($$SELECT round('3.25'::quota.credits, 1)$$);

-- binary send/receive
SELECT credits_send('12.5'::credits) AS bytes, credits_send('-0.000000001'::credits);
CREATE TEMP TABLE b (c credits);
INSERT INTO b VALUES ('12.5'), ('-3'), ('0.000000001');
COPY b TO '/tmp/quota_credits_regress.bin' WITH (FORMAT binary);
CREATE TEMP TABLE b2 (c credits);
COPY b2 FROM '/tmp/quota_credits_regress.bin' WITH (FORMAT binary);
SELECT * FROM b2 ORDER BY c;
-- INT64_MIN is refused on the way in
CREATE TEMP TABLE raw (i bigint);
INSERT INTO raw VALUES (-9223372036854775808);
COPY raw TO '/tmp/quota_credits_regress.bin' WITH (FORMAT binary);
SELECT try($$COPY b2 FROM '/tmp/quota_credits_regress.bin' WITH (FORMAT binary)$$);

-- aggregates
CREATE TEMP TABLE t AS
SELECT (i::numeric * 0.000000001 + i)::credits AS c FROM generate_series(1, 1000) i;
SELECT sum(c), min(c), max(c), avg(c), count(*) FROM t;
SELECT sum(c), min(c), max(c), avg(c) FROM t WHERE false;
SELECT avg(x) FROM (VALUES ('0.000000001'::credits), ('0'::credits)) v(x);
SELECT avg(x) FROM (VALUES ('-0.000000001'::credits), ('0'::credits)) v(x);
SELECT try($$SELECT quota.sum(x) FROM (VALUES ('9223372036'::quota.credits), ('1'::quota.credits)) v(x)$$);
-- parallel partial sums combine exactly
CREATE TABLE big AS SELECT ((i % 1000)::numeric * 0.000000001 + 1)::credits AS c FROM generate_series(1, 200000) i;
ANALYZE big;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT sum(c), min(c), max(c) FROM big;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE big;

-- btree and hash operator classes
CREATE TEMP TABLE o (c credits);
INSERT INTO o SELECT ((i * 37 % 101) - 50)::credits / 10 FROM generate_series(1, 101) i;
CREATE INDEX o_btree ON o (c);
CREATE INDEX o_hash ON o USING hash (c);
SET enable_seqscan = off;
SELECT c FROM o WHERE c BETWEEN -0.2 AND 0.2 ORDER BY c;
SELECT count(*) FROM o WHERE c = 1.5;
RESET enable_seqscan;
SELECT count(DISTINCT c), count(*) FROM o;
SELECT c, count(*) FROM (SELECT c FROM o UNION ALL SELECT c FROM o) x
 GROUP BY c HAVING c > 4.5 ORDER BY c;
SELECT o1.c FROM o o1 JOIN o o2 ON o1.c = o2.c WHERE o1.c >= 4.8 ORDER BY 1;

-- Known limitation: with quota on the search_path, integer * numeric has two
-- candidates (numeric * numeric, and credits * numeric through the implicit
-- integer -> credits cast the contract requires); cast one side.
SELECT try($$SELECT 2 * 1.5$$);
SELECT 2::numeric * 1.5 AS cast_one_side;
