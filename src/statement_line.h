/*
 * statement_line.h
 *		A ledger entry as one line of a statement's canonical text
 *		(statement_line.c): the query that reads a period's entries, and the
 *		positions of its columns.
 */
#ifndef QUOTA_STATEMENT_LINE_H
#define QUOTA_STATEMENT_LINE_H

#include "lib/stringinfo.h"
#include "utils/palloc.h"

/*
 * The entries of a pool in a period; %s: the lower bound unless first (the
 * first statement also covers any entry dated before its period), and
 * ORDER BY entry_id or nothing (ReadEntries).
 */
#define STATEMENT_ENTRIES_SQL \
	"SELECT l.entry_id, l.at, l.user_id, l.kind, l.amount, l.model, l.service, " \
	"       l.conversation_id, l.request_id, l.input_tokens, l.cached_input_tokens, " \
	"       l.output_tokens, l.original_cost, l.discount_rate, l.final_cost, " \
	"       l.balance_after, l.note, l.price_id " \
	"  FROM quota.ledger l " \
	" WHERE l.pool OPERATOR(pg_catalog.=) $1 AND l.at OPERATOR(pg_catalog.<) $3 %s %s"

/* Columns of STATEMENT_ENTRIES_SQL that the groups and figures read. */
#define COL_ENTRY_ID		0
#define COL_USER_ID			2
#define COL_KIND			3
#define COL_AMOUNT			4
#define COL_MODEL			5
#define COL_SERVICE			6
#define COL_INPUT			9
#define COL_CACHED			10
#define COL_OUTPUT			11
#define COL_ORIGINAL		12
#define COL_FINAL			14

/* The text of the last numeric written, reused while the value repeats. */
typedef struct NumericCache
{
	char	   *raw;			/* the last value's bytes, header included */
	int			rawlen;
	char	   *text;			/* its text */
	int			textlen;
	MemoryContext cxt;
} NumericCache;

extern void StatementLineAppend(StringInfo buf, Datum *values, bool *isnull,
								NumericCache *cache);

#endif							/* QUOTA_STATEMENT_LINE_H */
