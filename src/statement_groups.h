/*
 * statement_groups.h
 *		A period's entries per kind, user, model and service, summed
 *		exactly, and the figures line of the canonical text
 *		(statement_groups.c).
 */
#ifndef QUOTA_STATEMENT_GROUPS_H
#define QUOTA_STATEMENT_GROUPS_H

#include "lib/stringinfo.h"
#include "utils/hsearch.h"

#include "credits.h"

/* The group of an entry: kind, user_id, model, service. */
#define GROUP_FIELDS		4

/* A group's values, each a null byte, then (not null) an int32 length and the bytes. */
typedef struct GroupKey
{
	char	   *data;
	int			len;
} GroupKey;

/* The entries of one kind, user, model and service: exact sums. */
typedef struct StatementGroup
{
	GroupKey	key;			/* the hash key: must be first */
	const char *value[GROUP_FIELDS];	/* in key.data; NULL: SQL NULL */
	int			valuelen[GROUP_FIELDS];
	int64		requests;
	int128		amount;
	int128		tokens[3];		/* input, cached input, output */
	int128		original;
	int128		final;
} StatementGroup;

/* The groups of a scan, in the order of their first entry. */
typedef struct GroupSet
{
	HTAB	   *hash;
	StatementGroup **order;
	int			n;
	int			size;
	MemoryContext cxt;
	StringInfoData key;
} GroupSet;

extern void GroupSetInit(GroupSet *set, MemoryContext cxt);
extern void GroupSetAdd(GroupSet *set, Datum *values, bool *isnull);
extern int64 StatementSumToInt64(int128 sum);
extern void StatementFiguresLine(GroupSet *set, Credits opening, StringInfo out);

#endif							/* QUOTA_STATEMENT_GROUPS_H */
