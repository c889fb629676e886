-- cost: models, discounts and quota_cost's exact formula.
\set VERBOSITY default

SELECT quota_set_model('gpt-test', 2.5, 10, cached_input_price => 1.25);
SELECT quota_set_model('nine-digits', 0.123456789, 9.876543219, 'chat',
                       0.012345678, 0.000000001);
SELECT quota_set_model('nano', 0.000000001, 0, 'api');
SELECT quota_set_model('per-request', 0, 0, 'api', NULL, 0.000000005);
SELECT quota_set_model('bulk', 0, 1, 'api');
SELECT quota_set_model('dear', 0, 1.02, 'api');
SELECT quota_set_model('too-dear', 0, 1.03, 'api');
SELECT quota_set_model('max', 9223372036.854775807, 9223372036.854775807, 'api');
SELECT quota_set_model('qwen3-moe-onprem', 0, 0);
-- the cached price defaults to the input price; updating keeps one row
SELECT quota_set_model('nano', 0.000000001, 0, 'api', enabled => true);
SELECT model, service, input_price, cached_input_price, output_price,
       request_price, enabled
  FROM quota.models ORDER BY model COLLATE "C";

-- the plain formula: (1000 x 2.5 + 500 x 10) / 1e6 = 0.0075
SELECT * FROM quota_cost('gpt-test', 1000, 500);
-- cached input tokens use the cached price: (1000 x 2.5 + 2000 x 1.25) / 1e6
SELECT * FROM quota_cost('gpt-test', 1000, 0, 2000);
-- 2^53 + 1 tokens at 1e-9 per 1M: 9.007199254740993 rounds to 9.007199255
SELECT * FROM quota_cost('nano', 9007199254740993, 0);
-- half away from zero at 1e-9: 500000 x 1e-9 / 1e6 = 5e-10 -> 1e-9; 499999 -> 0
SELECT * FROM quota_cost('nano', 500000, 0);
SELECT * FROM quota_cost('nano', 499999, 0);
SELECT * FROM quota_cost('nano', 1, 0);
-- 2^53 output tokens at 1 per 1M fits; at 1.02 it still fits (9187343239.83581184);
-- at 1.03 (9277415232.38...) it overflows the type
SELECT * FROM quota_cost('bulk', 0, 9007199254740992);
SELECT * FROM quota_cost('dear', 0, 9007199254740992);
SELECT try($$SELECT * FROM quota_cost('too-dear', 0, 9007199254740992)$$);
-- the largest prices and token counts overflow the 128-bit sum, cleanly
SELECT try($$SELECT * FROM quota_cost('max', 9223372036854775807, 9223372036854775807,
                                      9223372036854775807)$$);
-- prices with 9 fractional digits and a request price:
-- (1234567 x 0.123456789 + 7654321 x 0.012345678 + 2345678 x 9.876543219) / 1e6
--   = 23.414103605... -> 23.414103605 + 0.000000001 = 23.414103606
SELECT * FROM quota_cost('nine-digits', 1234567, 2345678, 7654321);
-- zero tokens cost the request price only
SELECT * FROM quota_cost('per-request', 0, 0);
-- a free model costs nothing
SELECT * FROM quota_cost('qwen3-moe-onprem', 100000, 100000);

-- Discounts: the lowest matching rate applies.
SELECT quota_set_discount('chat', 0.85) AS chat_all \gset
SELECT * FROM quota_cost('nine-digits', 1234567, 2345678, 7654321);
-- 23.414103606 x 0.85 = 19.9019880651 -> 19.901988065
SELECT quota_set_discount('chat', 0.5, 'nine-digits',
                          valid_from => '2026-01-01 00:00+00',
                          valid_until => '2026-02-01 00:00+00') AS january \gset
-- inside the window the model's 0.5 wins; at valid_from it applies,
-- at valid_until it no longer does
SELECT * FROM quota_cost('nine-digits', 1234567, 2345678, 7654321, at => '2026-01-15 00:00+00');
SELECT * FROM quota_cost('nine-digits', 1234567, 2345678, 7654321, at => '2026-01-01 00:00+00');
SELECT * FROM quota_cost('nine-digits', 1234567, 2345678, 7654321, at => '2025-12-31 23:59:59.999999+00');
SELECT * FROM quota_cost('nine-digits', 1234567, 2345678, 7654321, at => '2026-02-01 00:00+00');
-- other services and models are not discounted by a chat discount
SELECT * FROM quota_cost('nano', 500000, 0);
-- rate 0 (free for a service) and rate 1 (no change)
SELECT quota_set_discount('api', 0, 'per-request') AS api_free \gset
SELECT * FROM quota_cost('per-request', 0, 0);
SELECT quota_drop_discount(:api_free);
SELECT quota_set_discount('api', 1, 'per-request') AS api_one \gset
SELECT * FROM quota_cost('per-request', 0, 0);
SELECT quota_drop_discount(:api_one);
-- rounding of the final cost, half away from zero: 5e-9 x 0.5 = 2.5e-9 -> 3e-9,
-- x 0.1 = 5e-10 -> 1e-9, x 0.09 = 4.5e-10 -> 0
SELECT quota_set_discount('api', 0.5, 'per-request') AS d \gset
SELECT final_cost FROM quota_cost('per-request', 0, 0);
SELECT quota_drop_discount(:d);
SELECT quota_set_discount('api', 0.1, 'per-request') AS d \gset
SELECT final_cost FROM quota_cost('per-request', 0, 0);
SELECT quota_drop_discount(:d);
SELECT quota_set_discount('api', 0.09, 'per-request') AS d \gset
SELECT final_cost FROM quota_cost('per-request', 0, 0);
SELECT quota_drop_discount(:d);
SELECT quota_drop_discount(:january);
SELECT quota_drop_discount(:chat_all);
SELECT count(*) AS discounts_left FROM quota.discounts;

-- Errors: nothing is changed by a failed call.
SELECT try($$SELECT * FROM quota_cost(NULL, 1, 1)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', NULL, 1)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', 1, NULL)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', 1, 1, NULL)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', 1, 1, at => NULL)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', -1, 1)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', 1, -1)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', 1, 1, -1)$$);
SELECT try($$SELECT * FROM quota_cost('no-such-model', 1, 1)$$);
SELECT try($$SELECT * FROM quota_cost('gpt-test', 1, 1, 0, 'no-such-pool')$$);
SELECT try($$SELECT quota_set_model(NULL, 1, 1)$$);
SELECT try($$SELECT quota_set_model('x', NULL, 1)$$);
SELECT try($$SELECT quota_set_model('x', 1, NULL)$$);
SELECT try($$SELECT quota_set_model('x', 1, 1, NULL)$$);
SELECT try($$SELECT quota_set_model('x', 1, 1, request_price => NULL)$$);
SELECT try($$SELECT quota_set_model('x', 1, 1, enabled => NULL)$$);
SELECT try($$SELECT quota_set_model('', 1, 1)$$);
SELECT try($$SELECT quota_set_model('x', -1, 1)$$);
SELECT try($$SELECT quota_set_model('x', 1, -1)$$);
SELECT try($$SELECT quota_set_model('x', 1, 1, cached_input_price => -1)$$);
SELECT try($$SELECT quota_set_model('x', 1, 1, request_price => -0.000000001)$$);
SELECT try($$SELECT quota_set_model('x', 1, 1, '')$$);
SELECT try($$SELECT quota_set_model('x', 'abc', 1)$$);
SELECT try($$SELECT quota_set_model('x', 1.0000000001, 1)$$) AS rounded_numeric_is_fine;
SELECT try($$SELECT quota_set_model('x', 99999999999, 1)$$);
SELECT try($$SELECT quota_set_discount(NULL, 0.5)$$);
SELECT try($$SELECT quota_set_discount('chat', NULL)$$);
SELECT try($$SELECT quota_set_discount('chat', 1.5)$$);
SELECT try($$SELECT quota_set_discount('chat', -0.1)$$);
SELECT try($$SELECT quota_set_discount('chat', 'NaN')$$);
SELECT try($$SELECT quota_set_discount('chat', 0.1234567890123456789)$$);
SELECT try($$SELECT quota_set_discount('chat', 0.5, 'no-such-model')$$);
SELECT try($$SELECT quota_set_discount('chat', 0.5, pool => 'no-such-pool')$$);
SELECT try($$SELECT quota_set_discount('chat', 0.5, valid_from => '2026-02-01', valid_until => '2026-01-01')$$);
SELECT try($$SELECT quota_set_discount('chat', 0.5, valid_from => '2026-02-01', valid_until => '2026-02-01')$$);
SELECT try($$SELECT quota_drop_discount(NULL)$$);
SELECT try($$SELECT quota_drop_discount(-1)$$);
SELECT count(*) AS discounts_left FROM quota.discounts;
SELECT count(*) AS models FROM quota.models;
DELETE FROM quota.models WHERE model = 'x';
-- a message with its hint
SELECT * FROM quota_cost('no-such-model', 1, 1);
SELECT * FROM quota_cost('gpt-test', -5, 1);

-- Functions returning one row say so (ROWS 1): the planner would otherwise
-- expect 1,000 rows per call, and JIT-compile bulk pricing for nothing.
SELECT p.proname, p.prorows FROM pg_proc p
 WHERE p.pronamespace = 'quota'::regnamespace AND p.proretset
 ORDER BY p.proname;

-- Row types are built once per backend and function: a function created
-- again (a new OID) or changed in pg_proc returns its own columns.
CREATE FUNCTION regress_priced(text, bigint, bigint, bigint DEFAULT 0, text DEFAULT NULL, timestamptz DEFAULT now())
    RETURNS TABLE(before_discount quota.credits, rate numeric, due quota.credits)
    AS 'quota', 'quota_cost' LANGUAGE C STABLE;
SELECT row_to_json(regress_priced('gpt-test', 1000, 1000));
SELECT row_to_json(quota_cost('gpt-test', 1000, 1000));
DROP FUNCTION regress_priced;
CREATE FUNCTION regress_priced(text, bigint, bigint, bigint DEFAULT 0, text DEFAULT NULL, timestamptz DEFAULT now())
    RETURNS TABLE(gross quota.credits, factor numeric, net quota.credits)
    AS 'quota', 'quota_cost' LANGUAGE C STABLE;
SELECT row_to_json(regress_priced('gpt-test', 1000, 1000));
ALTER FUNCTION regress_priced COST 5;
SELECT row_to_json(regress_priced('gpt-test', 2000, 0));
DROP FUNCTION regress_priced;
