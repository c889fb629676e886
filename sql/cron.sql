-- cron: quota_next_reset in the wall-clock time of a zone, DST included.
\set VERBOSITY default
SET search_path = public, quota;
SET timezone = 'UTC';

-- every syntax form (after Wednesday 2026-11-25 10:07 UTC)
SELECT expr, quota_next_reset(expr, 'UTC', '2026-11-25 10:07:30+00') AS next
  FROM unnest(ARRAY['* * * * *', '15 * * * *', '0 12 * * *', '*/15 * * * *',
                    '5/20 * * * *', '10-20/5 * * * *', '0 8,12,18 * * *',
                    '0 9-17 * * MON-FRI', '0 0 1 * *', '0 0 * * 0', '0 0 * * 7',
                    '0 0 * * sun', '0 0 1 jan *', '0 0 1 Mar *', '30 6 * DEC SAT',
                    '@hourly', '@daily', '@midnight', '@weekly', '@monthly',
                    '@yearly', '@annually', '0 0 1,15 * *', ' 0  1  *  *  5 ']) expr;

-- strictly after: a firing instant itself is not returned
SELECT quota_next_reset('0 1 * * 5', 'UTC', '2026-11-27 01:00+00');
SELECT quota_next_reset('0 1 * * 5', 'UTC', '2026-11-27 00:59:59.999999+00');

-- Friday 01:00 in Hong Kong (UTC+8, no DST) is Thursday 17:00 UTC
SELECT quota_next_reset('0 1 * * 5', 'Asia/Hong_Kong', '2026-11-25 00:00+00');
SELECT quota_next_reset('0 1 * * 5', 'Asia/Hong_Kong', '2026-07-01 00:00+00');

-- leap years and month ends
SELECT quota_next_reset('0 0 29 2 *', 'UTC', '2026-01-01 00:00+00') AS leap_day;
SELECT quota_next_reset('0 0 29 2 *', 'UTC', '2028-02-29 00:00+00') AS next_leap_day;
SELECT quota_next_reset('0 0 31 * *', 'UTC', '2026-04-01 00:00+00') AS skips_april;
SELECT quota_next_reset('0 0 31 * *', 'UTC', '2026-05-31 00:00+00') AS skips_june;
SELECT quota_next_reset('0 0 30 * *', 'UTC', '2027-02-01 00:00+00') AS skips_february;
-- Vixie: both day fields restricted means either; one starred means both
SELECT quota_next_reset('0 0 1 * MON', 'UTC', '2026-01-01 00:00+00') AS first_or_monday;
SELECT quota_next_reset('0 0 * * MON', 'UTC', '2026-01-01 00:00+00') AS monday;
SELECT quota_next_reset('0 0 */10 * MON', 'UTC', '2026-01-02 00:00+00') AS star_step_is_star;

-- Europe/London: BST starts 2026-03-29 01:00 -> 02:00, ends 2026-10-25 02:00 -> 01:00
SELECT quota_next_reset('0 1 * * 5', 'Europe/London', '2026-03-01 00:00+00') AS friday_gmt,
       quota_next_reset('0 1 * * 5', 'Europe/London', '2026-04-01 00:00+00') AS friday_bst;
SELECT quota_next_reset('30 1 * * *', 'Europe/London', '2026-03-28 12:00+00') AS gap_0130;
SELECT quota_next_reset('30 1 * * *', 'Europe/London', '2026-10-24 12:00+00') AS repeated_0130,
       quota_next_reset('30 1 * * *', 'Europe/London', '2026-10-25 00:30+00') AS not_again;
-- America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00
SELECT quota_next_reset('30 2 * * *', 'America/New_York', '2026-03-07 12:00+00') AS gap_0230,
       quota_next_reset('0 2 * * *', 'America/New_York', '2026-03-07 12:00+00') AS gap_0200,
       quota_next_reset('0 3 * * *', 'America/New_York', '2026-03-07 12:00+00') AS at_0300;
SELECT quota_next_reset('30 1 * * *', 'America/New_York', '2026-11-01 00:00+00') AS first_0130,
       quota_next_reset('30 1 * * *', 'America/New_York', '2026-11-01 05:30+00') AS next_day;
-- every 30 minutes across the overlap: 01:00 and 01:30 fire once, then 02:00 EST
SELECT quota_next_reset('*/30 * * * *', 'America/New_York', t)
  FROM unnest(ARRAY['2026-11-01 04:45+00', '2026-11-01 05:00+00', '2026-11-01 05:30+00',
                    '2026-11-01 06:00+00', '2026-11-01 06:30+00']::timestamptz[]) t;
-- hourly across the gap: 01:00 EST, then 03:00 EDT
SELECT quota_next_reset('0 * * * *', 'America/New_York', '2026-03-08 06:00+00') AS after_0100,
       quota_next_reset('0 * * * *', 'America/New_York', '2026-03-08 06:30+00') AS skips_gap;
-- Australia/Sydney (southern hemisphere): DST ends 2026-04-05 03:00 -> 02:00,
-- starts 2026-10-04 02:00 -> 03:00
SELECT quota_next_reset('30 2 * * *', 'Australia/Sydney', '2026-04-04 00:00+00') AS repeated_0230,
       quota_next_reset('30 2 * * *', 'Australia/Sydney', '2026-04-04 15:31+00') AS not_again;
SELECT quota_next_reset('30 2 * * *', 'Australia/Sydney', '2026-10-03 00:00+00') AS gap_0230;
SELECT quota_next_reset('0 1 * * 5', 'Australia/Sydney', '2026-11-25 00:00+00') AS friday_aedt,
       quota_next_reset('0 1 * * 5', 'Australia/Sydney', '2026-06-01 00:00+00') AS friday_aest;

-- errors: 22023 with the valid form as a hint, 22004 for NULL
SELECT expr, try(format('SELECT quota.quota_next_reset(%L, %L, now())', expr, 'UTC'))
  FROM unnest(ARRAY['', '* * * *', '* * * * * *', '60 * * * *', '* 24 * * *',
                    '* * 0 * *', '* * 32 * *', '* * * 13 *', '* * * * 8', '*/0 * * * *',
                    '5-1 * * * *', 'a * * * *', '* * * foo *', '@reboot', '1,,2 * * * *',
                    '0 1 * * fri-mon', '0 0 30 2 *', '0 0 31 4,6,9,11 *']) expr;
SELECT try($$SELECT quota.quota_next_reset('0 1 * * 5', 'Mars/Olympus', now())$$);
SELECT try($$SELECT quota.quota_next_reset('0 1 * * 5', '', now())$$);
SELECT try($$SELECT quota.quota_next_reset(NULL, 'UTC', now())$$);
SELECT try($$SELECT quota.quota_next_reset('0 1 * * 5', NULL, now())$$);
SELECT try($$SELECT quota.quota_next_reset('0 1 * * 5', 'UTC', NULL)$$);
SELECT try($$SELECT quota.quota_next_reset('0 1 * * 5', 'UTC', 'infinity')$$);
SELECT quota_next_reset('61 * * * *', 'UTC', now());
SELECT quota_next_reset('0 1 * * 5', 'Mars/Olympus', now());
