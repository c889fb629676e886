
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
