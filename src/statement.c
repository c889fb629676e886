/*
 * statement.c
 *		Monthly statements (quota.statements): the SHA-256 of a statement's
 *		canonical text, the fingerprints that name a changed entry, and the
 *		wait for transactions that may still write a closing period.
 *
 * Design (read this before changing it)
 * -------------------------------------
 * quota_close_statements (src/sql/74_statements.sql) closes a pool's
 * calendar months.  Its figures and lines are summed in SQL; this file
 * reads every ledger entry of the period once, in entry_id order, writes
 * each as one line of the canonical text (the README specifies it, and
 * its auditor's query builds the same text with plain SQL), and feeds
 *
 *		head line + entry lines + figures line
 *
 * to SHA-256 (PostgreSQL's cryptohash: OpenSSL's when built with it).  The
 * head and the figures line are built by the SQL caller, as the auditor's
 * query builds them.  Each entry line is also hashed to 64 bits
 * (hash_bytes_extended, not cryptographic) and kept with its entry_id in
 * quota.statement_entries, in chunks of STATEMENT_CHUNK entries: the
 * SHA-256 proves that something changed, the fingerprints say which
 * entry was changed, deleted or inserted (quota_verify_statements).
 *
 * The race when closing.  A ledger entry's `at` is its transaction's start
 * (now()), so a transaction that started before a period's end may commit
 * an entry dated inside the period after the period was closed; the closed
 * statement would then look tampered with.  Before closing the periods
 * that end by `until`, the caller lists the sessions of this database
 * whose transaction started before `until` (pg_stat_activity), and
 * quota._statement_wait() waits for each of those transactions to end:
 * a real lock wait on its virtual transaction id (as CREATE INDEX
 * CONCURRENTLY does), bounded by lock_timeout, which the caller sets; no
 * lock that a charge would queue behind is taken, so charges go on.  A
 * transaction that starts later has now() >= until and dates its entries
 * after every period closed.  A prepared transaction that wrote the ledger
 * cannot be waited for: the caller refuses to close while one exists.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "credits.h"
#include "credits_text.h"
#include "statement.h"

PG_FUNCTION_INFO_V1(quota_statement_scan);
PG_FUNCTION_INFO_V1(quota_statement_wait);

/* Rows fetched from the cursor at a time: one row of quota.statement_entries. */
#define STATEMENT_CHUNK		10000

/* Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
#define STATEMENT_UNIX_OFFSET \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/*
 * The entries of a pool in a period, in entry_id order; %s: the bounds
 * that the caller adds (the first statement also covers any entry dated
 * before its period, and a close reads the primary key's range only).
 */
#define STATEMENT_ENTRIES_SQL \
	"SELECT l.entry_id, l.at, l.user_id, l.kind, l.amount, l.model, l.service, " \
	"       l.conversation_id, l.request_id, l.input_tokens, l.cached_input_tokens, " \
	"       l.output_tokens, l.original_cost, l.discount_rate, l.final_cost, " \
	"       l.balance_after, l.note, l.price_id " \
	"  FROM quota.ledger l " \
	" WHERE l.pool OPERATOR(pg_catalog.=) $1 AND l.at OPERATOR(pg_catalog.<) $3 %s%s " \
	" ORDER BY l.entry_id"

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

/* One entry's id and fingerprint. */
typedef struct EntryPrint
{
	int64		entry_id;
	int64		print;
} EntryPrint;

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
	appendStringInfo(buf, "%d:", pg_mbstrlen_with_len(VARDATA_ANY(t), len));
	appendBinaryStringInfo(buf, VARDATA_ANY(t), len);
}

/* Append one field of an entry line, as the README's canonical form says. */
static void
AppendField(StringInfo buf, LineField kind, Datum d, bool isnull)
{
	char		num[MAXINT8LEN + 1];
	char		cbuf[CREDITS_TEXT_SIZE];

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
			pg_lltoa(DatumGetInt64(d), num);
			appendStringInfoString(buf, num);
			break;
		case LF_INT4:
			pg_ltoa(DatumGetInt32(d), num);
			appendStringInfoString(buf, num);
			break;
		case LF_TIME:
			/* microseconds since 1970-01-01 00:00 UTC */
			pg_lltoa(DatumGetTimestampTz(d) + STATEMENT_UNIX_OFFSET, num);
			appendStringInfoString(buf, num);
			break;
		case LF_CREDITS:
			appendStringInfoString(buf, CreditsFormat(DatumGetCredits(d), cbuf));
			break;
		case LF_NUMERIC:
			appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out, d)));
			break;
		case LF_TEXT:
			break;
	}
}

/* Feed text to the hash, as UTF-8 (the canonical text's encoding). */
static void
HashText(pg_cryptohash_ctx *ctx, const char *data, int len)
{
	const char *bytes = data;
	char	   *utf8 = NULL;

	if (len > 0 && GetDatabaseEncoding() != PG_UTF8)
	{
		utf8 = pg_server_to_any(data, len, PG_UTF8);
		if (utf8 != data)
		{
			bytes = utf8;
			len = strlen(utf8);
		}
		else
			utf8 = NULL;
	}
	if (pg_cryptohash_update(ctx, (const uint8 *) bytes, len) < 0)
		elog(ERROR, "quota: could not compute a SHA-256 hash: %s",
			 pg_cryptohash_error(ctx));
	if (utf8 != NULL)
		pfree(utf8);
}

/* Write one chunk of a statement's fingerprints to quota.statement_entries. */
static void
StoreChunk(int64 statement_id, int chunk, EntryPrint *prints, int n)
{
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *fps = palloc(sizeof(Datum) * n);
	Oid			types[4] = {INT8OID, INT4OID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		args[4];
	int			i;

	for (i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(prints[i].entry_id);
		fps[i] = Int64GetDatum(prints[i].print);
	}
	args[0] = Int64GetDatum(statement_id);
	args[1] = Int32GetDatum(chunk);
	args[2] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_array(fps, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("INSERT INTO quota.statement_entries "
							  "(statement_id, chunk, entry_ids, fingerprints) "
							  "VALUES ($1, $2, $3, $4)",
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "quota: could not store the entries of statement %lld",
			 (long long) statement_id);
	pfree(ids);
	pfree(fps);
}

/* Load a statement's stored fingerprints, in entry_id order; returns the count. */
static int
LoadPrints(int64 statement_id, EntryPrint **result)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(statement_id)};
	int			n = 0;
	int			size = 1024;
	EntryPrint *prints = palloc(sizeof(EntryPrint) * size);
	uint64		row;

	if (SPI_execute_with_args("SELECT e.entry_ids, e.fingerprints FROM quota.statement_entries e "
							  "WHERE e.statement_id OPERATOR(pg_catalog.=) $1 ORDER BY e.chunk",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "quota: could not read the entries of statement %lld",
			 (long long) statement_id);
	for (row = 0; row < SPI_processed; row++)
	{
		bool		null1,
					null2;
		Datum		a1 = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &null1);
		Datum		a2 = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &null2);
		Datum	   *ids;
		Datum	   *fps;
		int			nids,
					nfps,
					i;

		if (null1 || null2)
			continue;
		deconstruct_array(DatumGetArrayTypeP(a1), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &ids, NULL, &nids);
		deconstruct_array(DatumGetArrayTypeP(a2), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &fps, NULL, &nfps);
		for (i = 0; i < nids && i < nfps; i++)
		{
			if (n == size)
			{
				size *= 2;
				prints = repalloc_huge(prints, sizeof(EntryPrint) * size);
			}
			prints[n].entry_id = DatumGetInt64(ids[i]);
			prints[n].print = DatumGetInt64(fps[i]);
			n++;
		}
	}
	*result = prints;
	return n;
}

/* Emit one change (entry_id, what) to the result. */
static void
EmitChange(ReturnSetInfo *rsinfo, int64 entry_id, bool has_id, const char *what)
{
	Datum		values[2];
	bool		nulls[2] = {!has_id, false};

	values[0] = Int64GetDatum(entry_id);
	values[1] = CStringGetTextDatum(what);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * quota._statement_scan(statement_id, pool, period_start, period_end,
 * first, lo, hi, head, tail, record) -> SETOF (entry_id, change).
 *
 * Reads the pool's entries dated before period_end, and from period_start
 * on unless first (a pool's first statement also covers anything dated
 * earlier), with entry_id in [lo, hi] when these are not NULL, in entry_id
 * order; hashes head, the entry lines and tail.  With record, writes the
 * entries' fingerprints for statement_id; else compares them with those
 * stored, one row per entry 'changed', 'deleted' or 'inserted'.  The last
 * row has a NULL entry_id and the SHA-256 in hex.
 */
Datum
quota_statement_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		statement_id;
	bool		first;
	bool		record;
	text	   *head;
	text	   *tail;
	char		sql[2048];
	Oid			types[5] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID};
	Datum		args[5];
	Portal		portal;
	pg_cryptohash_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	StringInfoData line;
	MemoryContext scan_cxt;
	MemoryContext row_cxt;
	MemoryContext old;
	EntryPrint *stored = NULL;
	int			nstored = 0;
	int			next_stored = 0;
	EntryPrint *chunk = NULL;
	int			nchunk = 0;
	int			chunks = 0;
	int			i;

	for (i = 0; i < 10; i++)
		if (i != 5 && i != 6 && PG_ARGISNULL(i))
			elog(ERROR, "quota._statement_scan: argument %d is null", i + 1);
	statement_id = PG_GETARG_INT64(0);
	first = PG_GETARG_BOOL(4);
	head = PG_GETARG_TEXT_PP(7);
	tail = PG_GETARG_TEXT_PP(8);
	record = PG_GETARG_BOOL(9);

	InitMaterializedSRF(fcinfo, 0);

	scan_cxt = AllocSetContextCreate(CurrentMemoryContext, "quota statement scan",
									 ALLOCSET_DEFAULT_SIZES);
	row_cxt = AllocSetContextCreate(scan_cxt, "quota statement line",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scan_cxt);

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "quota: could not start a SHA-256 hash: %s", pg_cryptohash_error(ctx));
	HashText(ctx, VARDATA_ANY(head), VARSIZE_ANY_EXHDR(head));

	SPI_connect();
	if (record)
		chunk = palloc(sizeof(EntryPrint) * STATEMENT_CHUNK);
	else
		nstored = LoadPrints(statement_id, &stored);

	snprintf(sql, sizeof(sql), STATEMENT_ENTRIES_SQL,
			 first ? "" : "AND l.at OPERATOR(pg_catalog.>=) $2 ",
			 PG_ARGISNULL(5) || PG_ARGISNULL(6) ? "" :
			 "AND l.entry_id OPERATOR(pg_catalog.>=) $4 AND l.entry_id OPERATOR(pg_catalog.<=) $5");
	args[0] = PG_GETARG_DATUM(1);
	args[1] = PG_GETARG_DATUM(2);
	args[2] = PG_GETARG_DATUM(3);
	args[3] = PG_ARGISNULL(5) ? Int64GetDatum(0) : PG_GETARG_DATUM(5);
	args[4] = PG_ARGISNULL(6) ? Int64GetDatum(0) : PG_GETARG_DATUM(6);
	/* planned with the values: the primary key's range of the month */
	portal = SPI_cursor_open_with_args("quota_statement_entries", sql, 5, types, args,
									   NULL, true, CURSOR_OPT_NO_SCROLL);
	initStringInfo(&line);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		row;

		SPI_cursor_fetch(portal, true, STATEMENT_CHUNK);
		tt = SPI_tuptable;
		if (SPI_processed == 0)
			break;
		for (row = 0; row < SPI_processed; row++)
		{
			Datum		values[LINE_FIELDS];
			bool		isnull[LINE_FIELDS];
			int64		entry_id;
			int64		print;
			int			f;

			/* one pass over the tuple, not one per column */
			heap_deform_tuple(tt->vals[row], tt->tupdesc, values, isnull);
			entry_id = DatumGetInt64(values[0]);
			resetStringInfo(&line);
			MemoryContextSwitchTo(row_cxt);
			for (f = 0; f < LINE_FIELDS; f++)
			{
				if (f > 0)
					appendStringInfoChar(&line, '|');
				AppendField(&line, line_fields[f], values[f], isnull[f]);
			}
			MemoryContextSwitchTo(scan_cxt);
			appendStringInfoChar(&line, '\n');
			HashText(ctx, line.data, line.len);
			print = (int64) hash_bytes_extended((const unsigned char *) line.data, line.len, 0);
			MemoryContextReset(row_cxt);

			if (record)
			{
				chunk[nchunk].entry_id = entry_id;
				chunk[nchunk].print = print;
				nchunk++;
				continue;
			}
			/* merge with the stored fingerprints, both in entry_id order */
			while (next_stored < nstored && stored[next_stored].entry_id < entry_id)
				EmitChange(rsinfo, stored[next_stored++].entry_id, true, "deleted");
			if (next_stored < nstored && stored[next_stored].entry_id == entry_id)
			{
				if (stored[next_stored].print != print)
					EmitChange(rsinfo, entry_id, true, "changed");
				next_stored++;
			}
			else
				EmitChange(rsinfo, entry_id, true, "inserted");
		}
		SPI_freetuptable(tt);
		/* written after the batch: an INSERT replaces SPI_tuptable */
		if (record && nchunk > 0)
		{
			StoreChunk(statement_id, chunks++, chunk, nchunk);
			nchunk = 0;
		}
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	while (next_stored < nstored)
		EmitChange(rsinfo, stored[next_stored++].entry_id, true, "deleted");
	SPI_finish();

	HashText(ctx, VARDATA_ANY(tail), VARSIZE_ANY_EXHDR(tail));
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "quota: could not finish a SHA-256 hash: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	hex_encode((const char *) digest, sizeof(digest), hex);
	hex[sizeof(hex) - 1] = '\0';
	MemoryContextSwitchTo(old);
	EmitChange(rsinfo, 0, false, hex);
	MemoryContextDelete(scan_cxt);
	return (Datum) 0;
}

/*
 * quota._statement_wait(pids integer[]): wait for the transaction each of
 * these backends is running now to end (a lock wait on its virtual
 * transaction id, bounded by the caller's lock_timeout: 55P03).  Backends
 * that have ended, or run no transaction, are skipped; so is a transaction
 * a backend starts later (another close, waiting for this one's lock).
 */
Datum
quota_statement_wait(PG_FUNCTION_ARGS)
{
	ArrayType  *pids;
	Datum	   *elems;
	bool	   *nulls;
	VirtualTransactionId *vxids;
	int			n;
	int			nvxids = 0;
	int			i;
	int			waited = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	pids = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(pids, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &n);
	vxids = palloc(sizeof(VirtualTransactionId) * (n + 1));
	/* first the transactions running now, then the waits */
	for (i = 0; i < n; i++)
	{
		PGPROC	   *proc;

		if (nulls[i] || DatumGetInt32(elems[i]) == MyProcPid)
			continue;
		proc = BackendPidGetProc(DatumGetInt32(elems[i]));
		if (proc == NULL)
			continue;
		GET_VXID_FROM_PGPROC(vxids[nvxids], *proc);
		if (VirtualTransactionIdIsValid(vxids[nvxids]))
			nvxids++;
	}
	for (i = 0; i < nvxids; i++)
	{
		if (!VirtualXactLock(vxids[i], false))
		{
			(void) VirtualXactLock(vxids[i], true);
			waited++;
		}
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_INT32(waited);
}
