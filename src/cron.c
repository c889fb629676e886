/*
 * cron.c
 *		The cron engine of the reset schedules.
 *
 * An expression is matched against local wall-clock minutes of the pool's
 * zone, walking forward field by field (month, day, hour, minute).  Each
 * matching local time is mapped to an instant with PostgreSQL's own zone
 * data: a local time that occurs twice maps to its first occurrence, one
 * that does not exist (a DST gap) to the first instant after the gap.  The
 * mapping never decreases as local time grows, so the first matching local
 * time whose instant lies after the given one is the answer.
 */
#include "postgres.h"

#include "compat.h"

#include "access/xact.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "cron.h"
#include "quota.h"

PG_FUNCTION_INFO_V1(quota_next_reset);

#define CRON_HINT "A cron expression has five fields, minute hour day-of-month month day-of-week, for example '0 1 * * 5' for Fridays at 01:00."

/* How far ahead a schedule may first fire before it is called impossible. */
#define CRON_SEARCH_YEARS	30

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const weekday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

/* Read a number or a name of the field; false if neither. */
static bool
ParseValue(const char **p, const char *const *names, int name_base, int *value)
{
	const char *s = *p;

	if (isdigit((unsigned char) *s))
	{
		int			v = 0;

		while (isdigit((unsigned char) *s))
		{
			v = v * 10 + (*s++ - '0');
			if (v > 1000)
				return false;
		}
		*value = v;
		*p = s;
		return true;
	}
	if (names)
	{
		for (int i = 0; names[i]; i++)
			if (pg_strncasecmp(s, names[i], 3) == 0 &&
				!isalpha((unsigned char) s[3]))
			{
				*value = i + name_base;
				*p = s + 3;
				return true;
			}
	}
	return false;
}

/*
 * Parse one field ("*", lists, ranges, steps, names) into a bitmap of
 * [lo, hi]; false with a detail on error.
 */
static bool
ParseField(const char *field, const char *what, int lo, int hi,
		   const char *const *names, int name_base, uint64 *bits,
		   char **detail)
{
	const char *p = field;

	*bits = 0;
	for (;;)
	{
		int			from,
					to,
					step = 1;

		if (*p == '*')
		{
			from = lo;
			to = hi;
			p++;
		}
		else
		{
			if (!ParseValue(&p, names, name_base, &from))
				goto bad;
			to = from;
			if (*p == '-')
			{
				p++;
				if (!ParseValue(&p, names, name_base, &to))
					goto bad;
			}
			else if (*p == '/')
				to = hi;
		}
		if (*p == '/')
		{
			p++;
			if (!ParseValue(&p, NULL, 0, &step) || step <= 0)
			{
				*detail = psprintf("The step of the %s field must be a positive number.", what);
				return false;
			}
		}
		if (from < lo || to > hi || from > hi || to < lo)
		{
			*detail = psprintf("The %s field allows values from %d to %d.", what, lo, hi);
			return false;
		}
		if (from > to)
		{
			*detail = psprintf("The range %d-%d of the %s field is reversed.", from, to, what);
			return false;
		}
		for (int v = from; v <= to; v += step)
			*bits |= UINT64CONST(1) << v;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == '\0')
			return true;
bad:
		*detail = psprintf("The %s field \"%s\" is not valid.", what, field);
		return false;
	}
}

/* Parse an expression; false with a detail sentence on error. */
bool
CronParse(const char *expr, CronSchedule *schedule, char **error_detail)
{
	char	   *copy;
	char	   *fields[6];
	int			n = 0;
	uint64		bits;
	char	   *tok;
	char	   *save;

	memset(schedule, 0, sizeof(CronSchedule));
	while (isspace((unsigned char) *expr))
		expr++;
	if (expr[0] == '@')
	{
		if (pg_strcasecmp(expr, "@daily") == 0 || pg_strcasecmp(expr, "@midnight") == 0)
			expr = "0 0 * * *";
		else if (pg_strcasecmp(expr, "@hourly") == 0)
			expr = "0 * * * *";
		else if (pg_strcasecmp(expr, "@weekly") == 0)
			expr = "0 0 * * 0";
		else if (pg_strcasecmp(expr, "@monthly") == 0)
			expr = "0 0 1 * *";
		else if (pg_strcasecmp(expr, "@yearly") == 0 || pg_strcasecmp(expr, "@annually") == 0)
			expr = "0 0 1 1 *";
		else
		{
			*error_detail = psprintf("Unknown macro \"%s\"; use @hourly, @daily, @weekly, @monthly or @yearly.", expr);
			return false;
		}
	}
	copy = pstrdup(expr);
	for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
	{
		if (n == 5)
		{
			n++;
			break;
		}
		fields[n++] = tok;
	}
	if (n != 5)
	{
		*error_detail = pstrdup("The expression must have exactly five fields.");
		return false;
	}
	if (!ParseField(fields[0], "minute", 0, 59, NULL, 0, &bits, error_detail))
		return false;
	schedule->minutes = bits;
	if (!ParseField(fields[1], "hour", 0, 23, NULL, 0, &bits, error_detail))
		return false;
	schedule->hours = (uint32) bits;
	if (!ParseField(fields[2], "day-of-month", 1, 31, NULL, 0, &bits, error_detail))
		return false;
	schedule->days = (uint32) bits;
	if (!ParseField(fields[3], "month", 1, 12, month_names, 1, &bits, error_detail))
		return false;
	schedule->months = (uint32) bits;
	if (!ParseField(fields[4], "day-of-week", 0, 7, weekday_names, 0, &bits, error_detail))
		return false;
	if (bits & (UINT64CONST(1) << 7))
		bits |= 1;				/* 7 is Sunday too */
	schedule->weekdays = (uint32) (bits & 0x7F);
	schedule->days_star = fields[2][0] == '*';
	schedule->weekdays_star = fields[4][0] == '*';
	return true;
}

/* Load a zone by name, raising 22023 when PostgreSQL does not know it. */
static pg_tz *
LoadZone(const char *timezone)
{
	pg_tz	   *tz = NULL;

	if (timezone[0] != '\0' && strlen(timezone) < TZ_STRLEN_MAX)
		tz = pg_tzset(timezone);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid time zone \"%s\"", timezone),
				 errhint("Use a time zone name from pg_timezone_names, such as 'Asia/Hong_Kong'.")));
	return tz;
}

/* Parse or raise 22023 with the valid form as a hint. */
static void
ParseOrRaise(const char *cron, CronSchedule *schedule)
{
	char	   *detail = NULL;

	if (!CronParse(cron, schedule, &detail))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cron expression \"%s\"", cron),
				 errdetail("%s", detail),
				 errhint(CRON_HINT)));
}

/* UTC offset (seconds east) of a zone at an instant. */
static int
OffsetAt(TimestampTz t, pg_tz *tz)
{
	pg_time_t	tt = timestamptz_to_time_t(t);
	struct pg_tm *tm = pg_localtime(&tt, tz);

	return tm ? (int) tm->tm_gmtoff : 0;
}

/*
 * The instant of a local wall-clock time (as microseconds, read as if UTC):
 * the first occurrence of a repeated time, the end of a gap for a missing one.
 */
static TimestampTz
LocalToInstant(Timestamp local, pg_tz *tz)
{
	int			off1 = OffsetAt(local - USECS_PER_DAY, tz);
	int			off2 = OffsetAt(local + USECS_PER_DAY, tz);
	TimestampTz t1 = local - (int64) off1 * USECS_PER_SEC;
	TimestampTz t2 = local - (int64) off2 * USECS_PER_SEC;
	bool		ok1 = OffsetAt(t1, tz) == off1;
	bool		ok2 = OffsetAt(t2, tz) == off2;
	TimestampTz lo,
				hi;

	if (ok1 && ok2)
		return Min(t1, t2);
	if (ok1)
		return t1;
	if (ok2)
		return t2;
	/* in a gap: find the transition between the two candidates */
	lo = Min(t1, t2);
	hi = Max(t1, t2);
	while (hi - lo > USECS_PER_SEC)
	{
		TimestampTz mid = lo + (hi - lo) / 2;

		if (OffsetAt(mid, tz) == off1)
			lo = mid;
		else
			hi = mid;
	}
	return hi - hi % USECS_PER_SEC;
}

/* Does the local date match the day fields (Vixie: OR when both restricted)? */
static bool
DayMatches(const CronSchedule *s, int mday, int wday)
{
	bool		dom = (s->days >> mday) & 1;
	bool		dow = (s->weekdays >> wday) & 1;

	if (s->days_star || s->weekdays_star)
		return dom && dow;
	return dom || dow;
}

/* The first matching local minute at or after local (read as if UTC). */
static Timestamp
NextLocalMatch(const CronSchedule *s, Timestamp local, Timestamp limit,
			   const char *cron)
{
	while (local <= limit)
	{
		struct pg_tm tm;
		fsec_t		fsec;

		if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
			break;
		if (!((s->months >> tm.tm_mon) & 1))
		{
			tm.tm_mon++;
			if (tm.tm_mon > 12)
			{
				tm.tm_mon = 1;
				tm.tm_year++;
			}
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		}
		else if (!DayMatches(s, tm.tm_mday,
							 j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday))))
		{
			local += USECS_PER_DAY - (local % USECS_PER_DAY + USECS_PER_DAY) % USECS_PER_DAY;
			continue;
		}
		else if (!((s->hours >> tm.tm_hour) & 1))
		{
			local += USECS_PER_HOUR - (local % USECS_PER_HOUR + USECS_PER_HOUR) % USECS_PER_HOUR;
			continue;
		}
		else if (!((s->minutes >> tm.tm_min) & 1))
		{
			local += USECS_PER_MINUTE;
			continue;
		}
		else
			return local;
		if (tm2timestamp(&tm, 0, NULL, &local) != 0)
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cron expression \"%s\" never fires", cron),
			 errdetail("No date in the next %d years matches it.", CRON_SEARCH_YEARS),
			 errhint(CRON_HINT)));
	return 0;					/* keep compiler quiet */
}

/* Validate a cron expression and a zone, raising 22023. */
void
QuotaValidateSchedule(const char *cron, const char *timezone)
{
	(void) QuotaNextReset(cron, timezone, GetCurrentTransactionStartTimestamp());
}

/* The first firing strictly after 'after', in the zone's wall-clock time. */
TimestampTz
QuotaNextReset(const char *cron, const char *timezone, TimestampTz after)
{
	CronSchedule s;
	pg_tz	   *tz;
	Timestamp	local;
	Timestamp	limit;

	ParseOrRaise(cron, &s);
	tz = LoadZone(timezone);
	if (TIMESTAMP_NOT_FINITE(after))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"after\" must be finite")));

	/* start a few hours early: DST can move wall time back */
	local = after + (int64) OffsetAt(after, tz) * USECS_PER_SEC;
	local -= (local % USECS_PER_MINUTE + USECS_PER_MINUTE) % USECS_PER_MINUTE;
	local -= 3 * USECS_PER_HOUR;
	limit = local + (int64) CRON_SEARCH_YEARS * 366 * USECS_PER_DAY;
	for (;;)
	{
		TimestampTz t;

		local = NextLocalMatch(&s, local, limit, cron);
		t = LocalToInstant(local, tz);
		if (t > after)
			return t;
		local += USECS_PER_MINUTE;
	}
}

/* SQL: quota_next_reset(cron, timezone, after) -> timestamptz */
Datum
quota_next_reset(PG_FUNCTION_ARGS)
{
	QUOTA_REQUIRE_ARG(fcinfo, 0, "cron");
	QUOTA_REQUIRE_ARG(fcinfo, 1, "timezone");
	QUOTA_REQUIRE_ARG(fcinfo, 2, "after");
	PG_RETURN_TIMESTAMPTZ(QuotaNextReset(text_to_cstring(PG_GETARG_TEXT_PP(0)),
										 text_to_cstring(PG_GETARG_TEXT_PP(1)),
										 PG_GETARG_TIMESTAMPTZ(2)));
}

/*
 * A time as the wall-clock time of a zone, "YYYY-MM-DD HH24:MI" (for
 * messages: a pool's times are shown in its reset_timezone).
 */
char *
QuotaLocalTime(TimestampTz t, const char *timezone)
{
	Datum		local = DirectFunctionCall2(timestamptz_zone,
											CStringGetTextDatum(timezone),
											TimestampTzGetDatum(t));
	Datum		shown = DirectFunctionCall2(timestamp_to_char, local,
											CStringGetTextDatum("YYYY-MM-DD HH24:MI"));

	return TextDatumGetCString(shown);
}

/* The cron expression whose firings start the windows of a period. */
static const char *
WindowCron(const char *per, int64 *span)
{
	if (strcmp(per, "day") == 0)
	{
		*span = 26 * USECS_PER_HOUR;	/* longer than any day */
		return "0 0 * * *";
	}
	if (strcmp(per, "week") == 0)
	{
		*span = 8 * USECS_PER_DAY;
		return "0 0 * * 1";
	}
	*span = 32 * USECS_PER_DAY;
	return "0 0 1 * *";
}

/* The window [*start, *end) of a period containing at, in the zone. */
void
QuotaWindowBounds(const char *per, const char *timezone, TimestampTz at,
		   TimestampTz *start, TimestampTz *end)
{
	int64		span;
	const char *cron = WindowCron(per, &span);
	TimestampTz s = QuotaNextReset(cron, timezone, at - span);
	TimestampTz next;

	/* the last firing at or before at: at least one lies within a span */
	while ((next = QuotaNextReset(cron, timezone, s)) <= at)
		s = next;
	*start = s;
	*end = next;
}
