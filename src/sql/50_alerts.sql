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
