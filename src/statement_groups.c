/*
 * statement_groups.c
 *		A period's entries per kind, user, model and service (a statement's
 *		lines are its charge groups), each sum exact in 128 bits (credits
 *		are an int64 of 1e-9 credits: no floating point, no numeric), and
 *		the figures line of the canonical text written from them, as
 *		quota._statement_tail writes it from the stored figures.
 */
#include "postgres.h"

#include "compat.h"

#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "credits.h"
#include "credits_text.h"
#include "statement_groups.h"
#include "statement_line.h"

/* The columns that make an entry's group, in the group's order. */
static const int group_columns[GROUP_FIELDS] = {COL_KIND, COL_USER_ID, COL_MODEL, COL_SERVICE};

/* hash_bytes of a group key (dynahash's hash function). */
static uint32
GroupKeyHash(const void *key, Size keysize)
{
	const GroupKey *k = (const GroupKey *) key;

	return hash_bytes((const unsigned char *) k->data, k->len);
}

/* 0 if two group keys are equal (dynahash's comparison). */
static int
GroupKeyMatch(const void *a, const void *b, Size keysize)
{
	const GroupKey *ka = (const GroupKey *) a;
	const GroupKey *kb = (const GroupKey *) b;

	if (ka->len != kb->len)
		return 1;
	return memcmp(ka->data, kb->data, ka->len);
}

/* Start an empty set of groups in cxt. */
void
GroupSetInit(GroupSet *set, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(GroupKey);
	ctl.entrysize = sizeof(StatementGroup);
	ctl.hash = GroupKeyHash;
	ctl.match = GroupKeyMatch;
	ctl.hcxt = cxt;
	set->hash = hash_create("quota statement groups", 256, &ctl,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	set->cxt = cxt;
	set->n = 0;
	set->size = 64;
	set->order = MemoryContextAlloc(cxt, sizeof(StatementGroup *) * set->size);
	set->key.data = MemoryContextAlloc(cxt, 1024);
	set->key.maxlen = 1024;
	resetStringInfo(&set->key);
}

/* Add int8 v to an exact sum unless NULL. */
static inline void
AddInt128(int128 *sum, Datum v, bool isnull)
{
	if (!isnull)
		*sum += DatumGetInt64(v);
}

/* Add an entry (its deformed columns) to its group. */
void
GroupSetAdd(GroupSet *set, Datum *values, bool *isnull)
{
	GroupKey	k;
	StatementGroup *g;
	bool		found;
	int			f;

	resetStringInfo(&set->key);
	for (f = 0; f < GROUP_FIELDS; f++)
	{
		int			c = group_columns[f];
		text	   *t;
		int32		len;

		if (isnull[c])
		{
			appendStringInfoChar(&set->key, '\0');
			continue;
		}
		t = DatumGetTextPP(values[c]);
		len = VARSIZE_ANY_EXHDR(t);
		appendStringInfoChar(&set->key, '\1');
		appendBinaryStringInfo(&set->key, (const char *) &len, sizeof(len));
		appendBinaryStringInfo(&set->key, VARDATA_ANY(t), len);
	}
	k.data = set->key.data;
	k.len = set->key.len;
	g = (StatementGroup *) hash_search(set->hash, &k, HASH_ENTER, &found);
	if (!found)
	{
		const char *p;

		/* the key in the hash table points to its own copy from now on */
		g->key.data = MemoryContextAlloc(set->cxt, k.len);
		memcpy(g->key.data, k.data, k.len);
		g->key.len = k.len;
		p = g->key.data;
		for (f = 0; f < GROUP_FIELDS; f++)
		{
			int32		len;

			if (*p++ == '\0')
			{
				g->value[f] = NULL;
				g->valuelen[f] = 0;
				continue;
			}
			memcpy(&len, p, sizeof(len));
			p += sizeof(len);
			g->value[f] = p;
			g->valuelen[f] = len;
			p += len;
		}
		g->requests = 0;
		g->amount = 0;
		g->tokens[0] = g->tokens[1] = g->tokens[2] = 0;
		g->original = 0;
		g->final = 0;
		if (set->n == set->size)
		{
			set->size *= 2;
			set->order = repalloc(set->order, sizeof(StatementGroup *) * set->size);
		}
		set->order[set->n++] = g;
	}
	g->requests++;
	AddInt128(&g->amount, values[COL_AMOUNT], isnull[COL_AMOUNT]);
	AddInt128(&g->tokens[0], values[COL_INPUT], isnull[COL_INPUT]);
	AddInt128(&g->tokens[1], values[COL_CACHED], isnull[COL_CACHED]);
	AddInt128(&g->tokens[2], values[COL_OUTPUT], isnull[COL_OUTPUT]);
	AddInt128(&g->original, values[COL_ORIGINAL], isnull[COL_ORIGINAL]);
	AddInt128(&g->final, values[COL_FINAL], isnull[COL_FINAL]);
}

/* A sum of int8 as bigint: 22003 out of range, as sum(bigint)::bigint. */
int64
StatementSumToInt64(int128 sum)
{
	if (sum > PG_INT64_MAX || sum < PG_INT64_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint out of range")));
	return (int64) sum;
}

/* Whether a group's kind is kind. */
static bool
GroupIs(const StatementGroup *g, const char *kind)
{
	int			len = strlen(kind);

	return g->value[0] != NULL && g->valuelen[0] == len && memcmp(g->value[0], kind, len) == 0;
}

/*
 * The figures line of the canonical text from the groups and the opening
 * balance, as quota._statement_tail writes it from the figures that
 * quota._statement_figures gives: every sum exact, each out of the
 * credits range an error (22003), as the SQL casts raise it.
 */
void
StatementFiguresLine(GroupSet *set, Credits opening, StringInfo out)
{
	/* grants, topups, charges, original, resets, adjustments, expired */
	int128		fig[7] = {0, 0, 0, 0, 0, 0, 0};
	int128		total = 0;
	int64		entries = 0;
	char		cbuf[CREDITS_TEXT_SIZE];
	char		num[MAXINT8LEN + 1];
	int			i;

	for (i = 0; i < set->n; i++)
	{
		StatementGroup *g = set->order[i];
		/* each group's sums are credits, as quota.sum returns them */
		int128		amount = CreditsRoundDiv128(g->amount, 1);
		int128		original = CreditsRoundDiv128(g->original, 1);

		(void) CreditsRoundDiv128(g->final, 1);
		if (GroupIs(g, "grant"))
			fig[0] += amount;
		else if (GroupIs(g, "topup"))
			fig[1] += amount;
		else if (GroupIs(g, "charge"))
		{
			fig[2] -= amount;
			fig[3] += original;
		}
		else if (GroupIs(g, "reset"))
			fig[4] += amount;
		else if (GroupIs(g, "expire"))
			fig[6] -= amount;
		else
			fig[5] += amount;
		total += amount;
		entries += g->requests;
	}
	resetStringInfo(out);
	appendStringInfoString(out, CreditsFormat(opening, cbuf));
	for (i = 0; i < 7; i++)
	{
		appendStringInfoChar(out, '|');
		appendStringInfoString(out, CreditsFormat(CreditsRoundDiv128(fig[i], 1), cbuf));
	}
	appendStringInfoChar(out, '|');
	appendStringInfoString(out, CreditsFormat(CreditsRoundDiv128((int128) opening + total, 1), cbuf));
	appendStringInfoChar(out, '|');
	pg_lltoa(entries, num);
	appendStringInfoString(out, num);
	appendStringInfoChar(out, '\n');
}
