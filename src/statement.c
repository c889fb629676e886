/*
 * statement.c
 *		Monthly statements (quota.statements): the SHA-256 of a statement's
 *		canonical text, the fingerprints that name a changed entry, and the
 *		wait for transactions that may still write a closing period.
 *
 * Design (read this before changing it)
 * -------------------------------------
 * quota_close_statements (src/sql/74_statements.sql) closes a pool's
 * calendar months.  This file reads every ledger entry of the period once,
 * in entry_id order, and in that one pass
 *
 *	- writes each entry as one line of the canonical text (the README
 *	  specifies it, and its auditor's query builds the same text with
 *	  plain SQL; statement_line.c) and feeds
 *
 *		head line + entry lines + figures line
 *
 *	  to SHA-256 (PostgreSQL's cryptohash: OpenSSL's when built with it),
 *	  a buffer of lines at a time;
 *	- adds the entry to its group (kind, user, model, service): requests,
 *	  amounts, tokens and costs, summed exactly in 128-bit integers (credits
 *	  are an int64 of 1e-9 credits; no floating point, no numeric), from
 *	  which come the statement's lines (the charge groups) and its figures
 *	  (statement_groups.c);
 *	- hashes the line to 64 bits (hash_bytes_extended, not cryptographic)
 *	  and keeps it with its entry_id in quota.statement_entries, in chunks
 *	  of STATEMENT_CHUNK entries: the SHA-256 proves that something
 *	  changed, the fingerprints say which entry was changed, deleted or
 *	  inserted (quota_verify_statements).
 *
 * The order of reading.  The hash needs the lines in entry_id order, but
 * walking the primary key reads the index and fetches the heap row by row
 * over the whole ledger (or over the month's range of ids, which only a
 * first reading could tell), and sorting a month of lines spills to disk.
 * So the entries are read in the heap's order, a sequential scan
 * or bitmap scan as the planner chooses for the pool and period
 * (synchronize_seqscans off, so a sequential scan starts at the first
 * page; no plain index scan, which fetches a small pool's rows one by one;
 * no parallel workers, whose rows interleave), which is the
 * order the entries were written in, nearly that of their ids: a line
 * waits until at least STATEMENT_REORDER later ones have been read, and
 * is hashed sorted with others (EntryReceive, FlushPending).  An entry
 * written further away than that
 * (concurrent writers each append to their own page; a restore can write
 * ids in any order) stops the reading, and the period is read again with
 * ORDER BY entry_id: correct in every case, one reading in the usual one.
 * The rows come from the executor to a DestReceiver, not copied into an
 * SPI tuple table; the fingerprints of a close are kept in memory (16
 * bytes an entry) and stored when the reading is complete.
 *
 * The head is built by the SQL caller, as the auditor's query builds it.
 * The figures line is the caller's too when verifying (the stored
 * figures); when closing it is written here from the groups, as
 * quota._statement_tail writes it, and returned, so that the caller checks
 * that it is the line of the figures it stores.  The seals and the usage
 * rollups are not used: the hash reads every entry anyway, the rollups
 * have no user (the lines need one) and count days in the zone of the
 * seal that wrote them.
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
#include "nodes/params.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "credits.h"
#include "credits_text.h"
#include "statement.h"
#include "statement_groups.h"
#include "statement_line.h"

PG_FUNCTION_INFO_V1(quota_statement_scan);
PG_FUNCTION_INFO_V1(quota_statement_wait);

/* Rows fetched from the cursor at a time; entries to a row of quota.statement_entries. */
#define STATEMENT_CHUNK		10000

/*
 * Entry lines read in the heap's order wait for their place in entry_id
 * order: at 4 * STATEMENT_REORDER lines waiting, all but the last
 * STATEMENT_REORDER read are hashed, sorted.
 */
#define STATEMENT_REORDER	10000

/* Canonical text fed to SHA-256 at a time (whole lines, at least this much). */
#define STATEMENT_HASH_BUFFER	(64 * 1024)

/* Columns of quota._statement_scan's result. */
#define RESULT_COLUMNS		14

/* One entry's id and fingerprint. */
typedef struct EntryPrint
{
	int64		entry_id;
	int64		print;
} EntryPrint;

/* Emit the groups as rows of the result (entry_id and change NULL). */
static void
EmitGroups(ReturnSetInfo *rsinfo, GroupSet *set)
{
	int			i;

	for (i = 0; i < set->n; i++)
	{
		StatementGroup *g = set->order[i];
		Datum		values[RESULT_COLUMNS];
		bool		nulls[RESULT_COLUMNS];
		int			f;

		memset(nulls, true, sizeof(nulls));
		for (f = 0; f < GROUP_FIELDS; f++)
			if (g->value[f] != NULL)
			{
				values[f] = PointerGetDatum(cstring_to_text_with_len(g->value[f], g->valuelen[f]));
				nulls[f] = false;
			}
		values[4] = Int64GetDatum(g->requests);
		values[5] = CreditsGetDatum(CreditsRoundDiv128(g->amount, 1));
		values[6] = Int64GetDatum(StatementSumToInt64(g->tokens[0]));
		values[7] = Int64GetDatum(StatementSumToInt64(g->tokens[1]));
		values[8] = Int64GetDatum(StatementSumToInt64(g->tokens[2]));
		values[9] = CreditsGetDatum(CreditsRoundDiv128(g->original, 1));
		values[10] = CreditsGetDatum(CreditsRoundDiv128(g->final, 1));
		for (f = 4; f <= 10; f++)
			nulls[f] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
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
	pfree(DatumGetPointer(args[2]));
	pfree(DatumGetPointer(args[3]));
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
		ArrayType  *ids;
		ArrayType  *fps;
		int64	   *id;
		int64	   *fp;
		int			nids,
					nfps,
					i;

		if (null1 || null2)
			continue;
		ids = DatumGetArrayTypeP(a1);
		fps = DatumGetArrayTypeP(a2);
		/* a bigint[] without NULLs is a plain vector of int64 */
		if (ARR_HASNULL(ids) || ARR_HASNULL(fps) || ARR_NDIM(ids) > 1 || ARR_NDIM(fps) > 1)
			continue;
		nids = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
		nfps = ArrayGetNItems(ARR_NDIM(fps), ARR_DIMS(fps));
		id = (int64 *) ARR_DATA_PTR(ids);
		fp = (int64 *) ARR_DATA_PTR(fps);
		for (i = 0; i < nids && i < nfps; i++)
		{
			if (n == size)
			{
				size *= 2;
				prints = repalloc_huge(prints, sizeof(EntryPrint) * size);
			}
			prints[n].entry_id = id[i];
			prints[n].print = fp[i];
			n++;
		}
	}
	*result = prints;
	return n;
}

/* A change found by verify: an entry changed, deleted or inserted. */
typedef struct EntryChange
{
	int64		entry_id;
	const char *what;
} EntryChange;

/* An entry line read, waiting for its place in entry_id order. */
typedef struct PendingLine
{
	int64		entry_id;
	int64		print;
	int			offset;			/* in StatementReading.pendtext */
	int			len;
} PendingLine;

/* One reading of a period: what it has hashed, grouped and found so far. */
typedef struct StatementReading
{
	bool		record;
	text	   *head;
	MemoryContext cxt;			/* this reading's memory, reset to read again */
	pg_cryptohash_ctx *ctx;
	StringInfoData hashbuf;		/* lines in order, hashed a buffer at a time */
	PendingLine *pending;		/* lines read, not hashed yet */
	int			npending;
	StringInfoData pendtext;
	bool		any;			/* a line has been hashed */
	int64		last_id;		/* the entry_id of the last line hashed */
	EntryPrint *prints;			/* record: every entry's fingerprint, in order */
	int64		nprints;
	int64		printsize;
	EntryPrint *stored;			/* verify: the fingerprints stored */
	int			nstored;
	int			next_stored;
	EntryChange *changes;		/* verify: what differs from them */
	int			nchanges;
	int			changesize;
	GroupSet	groups;
	NumericCache numerics;
} StatementReading;

/* Order pending lines by entry_id. */
static int
PendingCompare(const void *a, const void *b)
{
	int64		x = ((const PendingLine *) a)->entry_id;
	int64		y = ((const PendingLine *) b)->entry_id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Note a change found by verify. */
static void
AddChange(StatementReading *st, int64 entry_id, const char *what)
{
	if (st->nchanges == st->changesize)
	{
		st->changesize *= 2;
		st->changes = repalloc_huge(st->changes, sizeof(EntryChange) * st->changesize);
	}
	st->changes[st->nchanges].entry_id = entry_id;
	st->changes[st->nchanges].what = what;
	st->nchanges++;
}

/* Start (or start again) a reading: empty groups, the hash fed the head. */
static void
ReadingStart(StatementReading *st)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	GroupSetInit(&st->groups, st->cxt);
	memset(&st->numerics, 0, sizeof(st->numerics));
	st->numerics.cxt = st->cxt;
	st->ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(st->ctx) < 0)
		elog(ERROR, "quota: could not start a SHA-256 hash: %s", pg_cryptohash_error(st->ctx));
	HashText(st->ctx, VARDATA_ANY(st->head), VARSIZE_ANY_EXHDR(st->head));
	st->hashbuf.data = palloc(STATEMENT_HASH_BUFFER + 8192);
	st->hashbuf.maxlen = STATEMENT_HASH_BUFFER + 8192;
	resetStringInfo(&st->hashbuf);
	st->pending = palloc(sizeof(PendingLine) * 4 * STATEMENT_REORDER);
	st->npending = 0;
	initStringInfo(&st->pendtext);
	st->any = false;
	st->last_id = 0;
	st->printsize = 1024;
	st->nprints = 0;
	st->prints = st->record ? palloc(sizeof(EntryPrint) * st->printsize) : NULL;
	st->next_stored = 0;
	st->changesize = 64;
	st->nchanges = 0;
	st->changes = palloc(sizeof(EntryChange) * st->changesize);
	MemoryContextSwitchTo(old);
}

/* Forget a reading that could not be put in order, to read again. */
static void
ReadingReset(StatementReading *st)
{
	pg_cryptohash_free(st->ctx);
	MemoryContextReset(st->cxt);
	ReadingStart(st);
}

/*
 * Note that the line of entry_id comes next: its fingerprint, or its
 * comparison with the one stored.  False if an entry with a higher id came
 * first.
 */
static bool
NoteLine(StatementReading *st, int64 entry_id, int64 print)
{
	if (st->any && entry_id <= st->last_id)
		return false;
	st->any = true;
	st->last_id = entry_id;
	if (st->record)
	{
		if (st->nprints == st->printsize)
		{
			st->printsize *= 2;
			st->prints = repalloc_huge(st->prints, sizeof(EntryPrint) * st->printsize);
		}
		st->prints[st->nprints].entry_id = entry_id;
		st->prints[st->nprints].print = print;
		st->nprints++;
		return true;
	}
	/* merge with the stored fingerprints, both in entry_id order */
	while (st->next_stored < st->nstored && st->stored[st->next_stored].entry_id < entry_id)
		AddChange(st, st->stored[st->next_stored++].entry_id, "deleted");
	if (st->next_stored < st->nstored && st->stored[st->next_stored].entry_id == entry_id)
	{
		if (st->stored[st->next_stored].print != print)
			AddChange(st, entry_id, "changed");
		st->next_stored++;
	}
	else
		AddChange(st, entry_id, "inserted");
	return true;
}

/* Hash whole lines, after those buffered. */
static void
HashLines(StatementReading *st, const char *data, int len)
{
	if (st->hashbuf.len > 0)
	{
		HashText(st->ctx, st->hashbuf.data, st->hashbuf.len);
		resetStringInfo(&st->hashbuf);
	}
	HashText(st->ctx, data, len);
}

/* Hash one line in its place (buffered); false if an entry with a higher id came first. */
static bool
HashLine(StatementReading *st, int64 entry_id, int64 print, const char *line, int len)
{
	if (!NoteLine(st, entry_id, print))
		return false;
	appendBinaryStringInfo(&st->hashbuf, line, len);
	if (st->hashbuf.len >= STATEMENT_HASH_BUFFER)
	{
		HashText(st->ctx, st->hashbuf.data, st->hashbuf.len);
		resetStringInfo(&st->hashbuf);
	}
	return true;
}

/*
 * Hash the pending lines in entry_id order but the last keep of them;
 * false if one of them comes before a line already hashed.
 */
static bool
FlushPending(StatementReading *st, int keep)
{
	int			n = st->npending - keep;
	int			span_start = -1;
	int			span_end = -1;
	bool		contiguous = true;
	int			base;
	int			i;

	/* nearly always in order already: pg_qsort checks that first */
	qsort(st->pending, st->npending, sizeof(PendingLine), PendingCompare);
	for (i = 0; i < n; i++)
	{
		PendingLine *p = &st->pending[i];

		if (!NoteLine(st, p->entry_id, p->print))
			return false;
		/* lines that follow each other in pendtext are hashed together */
		if (p->offset == span_end)
			span_end += p->len;
		else
		{
			if (span_start >= 0)
				HashLines(st, st->pendtext.data + span_start, span_end - span_start);
			span_start = p->offset;
			span_end = p->offset + p->len;
		}
	}
	if (span_start >= 0)
		HashLines(st, st->pendtext.data + span_start, span_end - span_start);
	/* the lines kept move to the front */
	if (keep == 0)
	{
		resetStringInfo(&st->pendtext);
		st->npending = 0;
		return true;
	}
	base = st->pending[n].offset;
	for (i = n; i < st->npending; i++)
		if (st->pending[i].offset != (i == n ? base : st->pending[i - 1].offset + st->pending[i - 1].len))
			contiguous = false;
	if (contiguous && st->pending[st->npending - 1].offset + st->pending[st->npending - 1].len ==
		st->pendtext.len)
	{
		memmove(st->pendtext.data, st->pendtext.data + base, st->pendtext.len - base);
		st->pendtext.len -= base;
		st->pendtext.data[st->pendtext.len] = '\0';
		for (i = 0; i < keep; i++)
		{
			st->pending[i] = st->pending[n + i];
			st->pending[i].offset -= base;
		}
	}
	else
	{
		StringInfoData rest;

		rest.data = MemoryContextAlloc(st->cxt, st->pendtext.maxlen);
		rest.maxlen = st->pendtext.maxlen;
		resetStringInfo(&rest);
		for (i = 0; i < keep; i++)
		{
			PendingLine *p = &st->pending[n + i];

			st->pending[i] = *p;
			st->pending[i].offset = rest.len;
			appendBinaryStringInfo(&rest, st->pendtext.data + p->offset, p->len);
		}
		pfree(st->pendtext.data);
		st->pendtext = rest;
	}
	st->npending = keep;
	return true;
}

/* What receives the entries from the executor, one slot at a time. */
typedef struct EntryReceiver
{
	DestReceiver pub;
	StatementReading *st;
	bool		sorted;			/* the query sorts the entries */
	bool		ok;				/* false: out of order, the reading stopped */
	MemoryContext row_cxt;
} EntryReceiver;

/* Nothing to set up or tear down (DestReceiver callbacks). */
static void
EntryStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

/* Nothing to set up or tear down (DestReceiver callbacks). */
static void
EntryShutdown(DestReceiver *self)
{
}

/*
 * Take one entry: its line written, fingerprinted and grouped as it comes,
 * and hashed in entry_id order.  Rows in the heap's order are nearly in
 * entry_id order: a line waits until at least STATEMENT_REORDER later ones
 * have been read.  Stops the reading (false) if that does not put them in
 * order.
 */
static bool
EntryReceive(TupleTableSlot *slot, DestReceiver *self)
{
	EntryReceiver *r = (EntryReceiver *) self;
	StatementReading *st = r->st;
	StringInfo	line = &st->pendtext;
	Datum	   *values;
	bool	   *isnull;
	int64		entry_id;
	int64		print;
	int			start = line->len;
	MemoryContext old;

	slot_getallattrs(slot);
	values = slot->tts_values;
	isnull = slot->tts_isnull;
	entry_id = DatumGetInt64(values[COL_ENTRY_ID]);
	old = MemoryContextSwitchTo(r->row_cxt);
	StatementLineAppend(line, values, isnull, &st->numerics);
	GroupSetAdd(&st->groups, values, isnull);
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->row_cxt);
	print = (int64) hash_bytes_extended((const unsigned char *) line->data + start,
										line->len - start, 0);
	if (r->sorted)
	{
		bool		in_order = HashLine(st, entry_id, print, line->data + start, line->len - start);

		line->len = start;
		if (!in_order)
			elog(ERROR, "quota: the entries of a statement were not read in entry_id order");
		return true;
	}
	st->pending[st->npending].entry_id = entry_id;
	st->pending[st->npending].print = print;
	st->pending[st->npending].offset = start;
	st->pending[st->npending].len = line->len - start;
	st->npending++;
	/* a flush hashes three quarters and keeps the last STATEMENT_REORDER lines */
	if (st->npending == 4 * STATEMENT_REORDER && !FlushPending(st, STATEMENT_REORDER))
	{
		r->ok = false;
		return false;
	}
	return true;
}

/*
 * Read a period's entries: in the heap's order (a sequential or index scan,
 * the planner's choice for this pool and period), or sorted by entry_id.
 * False if those in the heap's order could not be put in order.
 */
static bool
ReadEntries(StatementReading *st, FunctionCallInfo fcinfo, bool first, bool sorted,
			MemoryContext row_cxt)
{
	char		sql[2048];
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	ParamListInfo params = makeParamList(3);
	SPIExecuteOptions options;
	EntryReceiver r;
	int			nestlevel = 0;
	int			i;

	snprintf(sql, sizeof(sql), STATEMENT_ENTRIES_SQL,
			 first ? "" : "AND l.at OPERATOR(pg_catalog.>=) $2",
			 sorted ? "ORDER BY l.entry_id" : "");
	for (i = 0; i < 3; i++)
	{
		/* planned with the values: the pool's share of the ledger decides the plan */
		params->params[i].value = PG_GETARG_DATUM(i + 1);
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = types[i];
	}
	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = EntryReceive;
	r.pub.rStartup = EntryStartup;
	r.pub.rShutdown = EntryShutdown;
	r.pub.rDestroy = EntryShutdown;
	r.pub.mydest = DestNone;
	r.st = st;
	r.sorted = sorted;
	r.ok = true;
	r.row_cxt = row_cxt;
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = &r.pub;
	if (!sorted)
	{
		/*
		 * The heap's order: a sequential scan from the first page, or a
		 * bitmap scan (a plain index scan fetches a small pool's rows one
		 * by one, at three times the cost), in this process alone.
		 */
		nestlevel = NewGUCNestLevel();
		(void) set_config_option("synchronize_seqscans", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("enable_indexscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("max_parallel_workers_per_gather", "0", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}
	/* SPI_OK_UTILITY: the rows went to the receiver (DestNone), not to SPI */
	if (SPI_execute_extended(sql, &options) < 0)
		elog(ERROR, "quota: could not read the entries of a statement");
	if (!sorted)
		AtEOXact_GUC(true, nestlevel);
	if (!r.ok)
		return false;
	return FlushPending(st, 0);
}

/* Put one row in the result: a change (entry_id, what), or the hash and tail. */
static void
EmitChange(ReturnSetInfo *rsinfo, int64 entry_id, bool has_id, const char *what,
		   const char *tail)
{
	Datum		values[RESULT_COLUMNS];
	bool		nulls[RESULT_COLUMNS];

	memset(nulls, true, sizeof(nulls));
	values[11] = Int64GetDatum(entry_id);
	nulls[11] = !has_id;
	values[12] = CStringGetTextDatum(what);
	nulls[12] = false;
	if (tail != NULL)
	{
		values[13] = CStringGetTextDatum(tail);
		nulls[13] = false;
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * quota._statement_scan(statement_id, pool, period_start, period_end,
 * first, head, tail, opening_balance, record) -> SETOF (kind, user_id,
 * model, service, requests, amount, input_tokens, cached_input_tokens,
 * output_tokens, original_cost, final_cost, entry_id, change, tail).
 *
 * Reads the pool's entries dated before period_end, and from period_start
 * on unless first (a pool's first statement also covers anything dated
 * earlier), once.  Returns one row per kind, user, model and service with
 * its sums (entry_id and change NULL), and hashes head, the entry lines
 * in entry_id order and tail; a NULL tail is the figures line of these
 * groups after opening_balance.  With record, writes the entries'
 * fingerprints for statement_id; else compares them with those stored, one
 * row per entry 'changed', 'deleted' or 'inserted' (kind NULL).  The last
 * row has a NULL kind and entry_id, the SHA-256 in hex as change and the
 * figures line hashed as tail.
 *
 * The entries are read in the heap's order (a sequential or bitmap scan,
 * the planner's choice for this pool and period: no sort, no walk of the
 * primary key over the ledger's history) and put back in entry_id order
 * within STATEMENT_REORDER lines or more; should that not do (an entry
 * written far from its neighbours), the period is read again, sorted.
 */
Datum
quota_statement_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		statement_id;
	bool		first;
	Credits		opening;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	StringInfoData tail;
	MemoryContext scan_cxt;
	MemoryContext row_cxt;
	MemoryContext old;
	StatementReading	st;
	int64		i;

	for (i = 0; i < 9; i++)
		if (i != 6 && PG_ARGISNULL(i))
			elog(ERROR, "quota._statement_scan: argument %d is null", (int) i + 1);
	statement_id = PG_GETARG_INT64(0);
	first = PG_GETARG_BOOL(4);
	opening = PG_GETARG_CREDITS(7);

	InitMaterializedSRF(fcinfo, 0);

	scan_cxt = AllocSetContextCreate(CurrentMemoryContext, "quota statement scan",
									 ALLOCSET_DEFAULT_SIZES);
	row_cxt = AllocSetContextCreate(scan_cxt, "quota statement line",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scan_cxt);
	memset(&st, 0, sizeof(st));
	st.record = PG_GETARG_BOOL(8);
	st.head = PG_GETARG_TEXT_PP(5);
	st.cxt = AllocSetContextCreate(scan_cxt, "quota statement reading",
								   ALLOCSET_DEFAULT_SIZES);

	SPI_connect();
	if (!st.record)
		st.nstored = LoadPrints(statement_id, &st.stored);
	ReadingStart(&st);
	if (!ReadEntries(&st, fcinfo, first, false, row_cxt))
	{
		elog(DEBUG1, "quota: the entries of statement %lld are not in entry_id order in the heap: read again, sorted",
			 (long long) statement_id);
		ReadingReset(&st);
		(void) ReadEntries(&st, fcinfo, first, true, row_cxt);
	}
	if (st.record)
	{
		/* the fingerprints, STATEMENT_CHUNK to a row */
		for (i = 0; i < st.nprints; i += STATEMENT_CHUNK)
			StoreChunk(statement_id, (int) (i / STATEMENT_CHUNK), st.prints + i,
					   (int) Min(STATEMENT_CHUNK, st.nprints - i));
	}
	else
		while (st.next_stored < st.nstored)
			AddChange(&st, st.stored[st.next_stored++].entry_id, "deleted");
	SPI_finish();
	HashText(st.ctx, st.hashbuf.data, st.hashbuf.len);

	for (i = 0; i < st.nchanges; i++)
		EmitChange(rsinfo, st.changes[i].entry_id, true, st.changes[i].what, NULL);
	/* the groups, then the figures line: the caller's, or theirs */
	EmitGroups(rsinfo, &st.groups);
	initStringInfo(&tail);
	if (PG_ARGISNULL(6))
		StatementFiguresLine(&st.groups, opening, &tail);
	else
	{
		text	   *t = PG_GETARG_TEXT_PP(6);

		appendBinaryStringInfo(&tail, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	HashText(st.ctx, tail.data, tail.len);
	if (pg_cryptohash_final(st.ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "quota: could not finish a SHA-256 hash: %s", pg_cryptohash_error(st.ctx));
	pg_cryptohash_free(st.ctx);
	hex_encode((const char *) digest, sizeof(digest), hex);
	hex[sizeof(hex) - 1] = '\0';
	MemoryContextSwitchTo(old);
	EmitChange(rsinfo, 0, false, hex, tail.data);
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
