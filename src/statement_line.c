/*
 * statement_line.c
 *		A ledger entry as one line of a statement's canonical text, as the
 *		README specifies it (its auditor's query writes the same line with
 *		plain SQL): the fields in STATEMENT_ENTRIES_SQL's order, separated
 *		by '|'; integers and credits in their text form, times in
 *		microseconds since 1970-01-01 UTC, text as its length in characters,
 *		':' and the text, NULL as '-'.  Written a field at a time without
 *		printf, as a close writes millions of them.
 */
#include "postgres.h"

#include "compat.h"

#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "credits.h"
#include "credits_text.h"
#include "statement_line.h"

/* Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
#define STATEMENT_UNIX_OFFSET \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* Column kinds of the entry line, in STATEMENT_ENTRIES_SQL's order. */
typedef enum LineField
{
	LF_INT8,
	LF_TIME,
	LF_TEXT,
	LF_CREDITS,
	LF_NUMERIC,
	LF_INT4
} LineField;

static const LineField line_fields[] = {
	LF_INT8, LF_TIME, LF_TEXT, LF_TEXT, LF_CREDITS, LF_TEXT, LF_TEXT,
	LF_TEXT, LF_TEXT, LF_INT8, LF_INT8,
	LF_INT8, LF_CREDITS, LF_NUMERIC, LF_CREDITS,
	LF_CREDITS, LF_TEXT, LF_INT4
};

#define LINE_FIELDS	lengthof(line_fields)

/* appendBinaryStringInfo, inlined: the lines are written a field at a time. */
static inline void
AppendBytes(StringInfo buf, const char *data, int len)
{
	if (buf->len + len >= buf->maxlen)
		enlargeStringInfo(buf, len);
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

/* Append a credits value as its text form (CreditsFormat). */
static inline void
AppendCredits(StringInfo buf, Credits c)
{
	char		cbuf[CREDITS_TEXT_SIZE];
	char	   *p = CreditsFormat(c, cbuf);

	/* CreditsFormat writes the text at the end of cbuf */
	AppendBytes(buf, p, cbuf + CREDITS_TEXT_SIZE - 1 - p);
}

/* Append an int4 as text (pg_ltoa, not printf). */
static inline void
AppendInt(StringInfo buf, int32 v)
{
	char		num[MAXINT8LEN + 1];
	int			len = pg_ltoa(v, num);

	AppendBytes(buf, num, len);
}

/* The length in characters of valid text in the database's encoding. */
static inline int
TextChars(const char *p, int len)
{
	int			n = 0;
	int			i;

	if (GetDatabaseEncoding() != PG_UTF8)
		return pg_database_encoding_max_length() == 1 ? len : pg_mbstrlen_with_len(p, len);
	/* UTF-8: every byte but the continuation bytes (10xxxxxx) starts a character */
	for (i = 0; i < len; i++)
		n += ((unsigned char) p[i] & 0xC0) != 0x80;
	return n;
}

/* Append a text field: its length in characters, ':', the text; '-' if NULL. */
static void
AppendTextField(StringInfo buf, Datum d, bool isnull)
{
	text	   *t;
	int			len;

	if (isnull)
	{
		appendStringInfoChar(buf, '-');
		return;
	}
	t = DatumGetTextPP(d);
	len = VARSIZE_ANY_EXHDR(t);
	AppendInt(buf, TextChars(VARDATA_ANY(t), len));
	appendStringInfoCharMacro(buf, ':');
	AppendBytes(buf, VARDATA_ANY(t), len);
}

/* Append a numeric as numeric_out writes it (a repeated value from the cache). */
static void
AppendNumeric(StringInfo buf, Datum d, NumericCache *cache)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	char	   *out;

	/* an inline, uncompressed value is compared byte for byte */
	if (!VARATT_IS_EXTENDED(v) || VARATT_IS_SHORT(v))
	{
		int			len = VARSIZE_ANY(v);

		if (cache->raw != NULL && cache->rawlen == len && memcmp(cache->raw, v, len) == 0)
		{
			AppendBytes(buf, cache->text, cache->textlen);
			return;
		}
		out = DatumGetCString(DirectFunctionCall1(numeric_out, d));
		if (cache->raw != NULL)
		{
			pfree(cache->raw);
			pfree(cache->text);
		}
		cache->raw = MemoryContextAlloc(cache->cxt, len);
		memcpy(cache->raw, v, len);
		cache->rawlen = len;
		cache->textlen = strlen(out);
		cache->text = MemoryContextStrdup(cache->cxt, out);
		AppendBytes(buf, cache->text, cache->textlen);
		return;
	}
	appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out, d)));
}

/* Append one field of an entry line, as the README's canonical form says. */
static void
AppendField(StringInfo buf, LineField kind, Datum d, bool isnull, NumericCache *cache)
{
	char		num[MAXINT8LEN + 1];
	int			len;

	if (kind == LF_TEXT)
	{
		AppendTextField(buf, d, isnull);
		return;
	}
	if (isnull)
	{
		appendStringInfoChar(buf, '-');
		return;
	}
	switch (kind)
	{
		case LF_INT8:
			len = pg_lltoa(DatumGetInt64(d), num);
			AppendBytes(buf, num, len);
			break;
		case LF_INT4:
			AppendInt(buf, DatumGetInt32(d));
			break;
		case LF_TIME:
			/* microseconds since 1970-01-01 00:00 UTC */
			len = pg_lltoa(DatumGetTimestampTz(d) + STATEMENT_UNIX_OFFSET, num);
			AppendBytes(buf, num, len);
			break;
		case LF_CREDITS:
			AppendCredits(buf, DatumGetCredits(d));
			break;
		case LF_NUMERIC:
			AppendNumeric(buf, d, cache);
			break;
		case LF_TEXT:
			break;
	}
}

/* Append an entry's line (its deformed columns), '\n' included. */
void
StatementLineAppend(StringInfo buf, Datum *values, bool *isnull, NumericCache *cache)
{
	for (int f = 0; f < LINE_FIELDS; f++)
	{
		if (f > 0)
			appendStringInfoCharMacro(buf, '|');
		AppendField(buf, line_fields[f], values[f], isnull[f], cache);
	}
	appendStringInfoCharMacro(buf, '\n');
}
