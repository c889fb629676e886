/*
 * cron.h
 *		Cron expressions read in the wall-clock time of a time zone.
 */
#ifndef QUOTA_CRON_H
#define QUOTA_CRON_H

#include "datatype/timestamp.h"

/* A parsed 5-field cron expression, one bitmap per field. */
typedef struct CronSchedule
{
	uint64		minutes;		/* bits 0-59 */
	uint32		hours;			/* bits 0-23 */
	uint32		days;			/* bits 1-31 */
	uint32		months;			/* bits 1-12 */
	uint32		weekdays;		/* bits 0-6, Sunday = 0 */
	bool		days_star;		/* day-of-month field starts with '*' */
	bool		weekdays_star;	/* day-of-week field starts with '*' */
} CronSchedule;

extern bool CronParse(const char *expr, CronSchedule *schedule, char **error_detail);
extern void QuotaValidateSchedule(const char *cron, const char *timezone);
extern TimestampTz QuotaNextReset(const char *cron, const char *timezone, TimestampTz after);
extern char *QuotaLocalTime(TimestampTz t, const char *timezone);
extern void QuotaWindowBounds(const char *per, const char *timezone, TimestampTz at,
					   TimestampTz *start, TimestampTz *end);

#endif							/* QUOTA_CRON_H */
