
-- ---------------------------------------------------------------------------
-- Schedules: cron expressions in the wall-clock time of a zone
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota.quota_next_reset(cron text, timezone text, after timestamptz)
    RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'quota_next_reset'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota.quota_next_reset(text, text, timestamptz) IS
    'first firing of a 5-field cron expression strictly after a time, read in the wall-clock time of a zone (DST gaps fire at the gap''s end, repeated times once)';
