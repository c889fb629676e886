/*
 * catalog.c
 *		Backend-local caches of quota.models and quota.discounts.
 *
 * Both tables are small and read on every charge, so each backend keeps a
 * copy in the "quota catalog cache" memory context.  A statement trigger on
 * each table sends a relcache invalidation for it; every backend drops its
 * copy when that invalidation arrives (at its next transaction or lock), so
 * a price change applies to later charges only.
 */
#include "postgres.h"

#include "compat.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "quota.h"

PG_FUNCTION_INFO_V1(quota_catalog_changed);

/* One discount rule. */
typedef struct QuotaDiscount
{
	char	   *service;
	char	   *model;			/* NULL: every model */
	char	   *pool;			/* NULL: every pool */
	TimestampTz valid_from;		/* DT_NOBEGIN when open */
	TimestampTz valid_until;	/* DT_NOEND when open */
	QuotaRate	rate;
} QuotaDiscount;

static MemoryContext CatalogContext = NULL;
static HTAB *model_hash = NULL;
static QuotaDiscount *discounts = NULL;
static int	ndiscounts = 0;
static bool catalog_valid = false;
static bool callback_registered = false;
static Oid	models_relid = InvalidOid;
static Oid	discounts_relid = InvalidOid;

/* Relcache callback: forget the copy when either table is invalidated. */
static void
CatalogInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == models_relid || relid == discounts_relid)
		catalog_valid = false;
}

/* Copy a text column of an SPI row into the cache context (NULL stays NULL). */
static char *
CopyText(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(CatalogContext, TextDatumGetCString(d));
}

/* Read one column as a Datum, reporting NULL. */
static Datum
GetCol(HeapTuple tuple, TupleDesc desc, int col, bool *isnull)
{
	return SPI_getbinval(tuple, desc, col, isnull);
}

/* Load the models into the hash table. */
static void
LoadModels(void)
{
	HASHCTL		info;

	/* 0.1's quota.models has no price_id (a charge then writes the prices) */
	bool		versioned = get_attnum(models_relid, "price_id") != InvalidAttrNumber;

	info.keysize = sizeof(((QuotaModel *) 0)->model);
	info.entrysize = sizeof(QuotaModel);
	info.hcxt = CatalogContext;
	model_hash = hash_create("quota model cache", 64, &info,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	if (SPI_execute(versioned ?
					"SELECT model, service, input_price, cached_input_price, "
					"output_price, request_price, enabled, price_id FROM quota.models" :
					"SELECT model, service, input_price, cached_input_price, "
					"output_price, request_price, enabled, NULL::pg_catalog.int4 "
					"FROM quota.models",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "quota: could not read quota.models");

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tuple, desc, 1);
		QuotaModel *m;
		bool		found;
		bool		isnull;

		m = hash_search(model_hash, name, HASH_ENTER, &found);
		m->service = CopyText(tuple, desc, 2);
		m->input_price = DatumGetCredits(GetCol(tuple, desc, 3, &isnull));
		m->cached_input_price = DatumGetCredits(GetCol(tuple, desc, 4, &isnull));
		if (isnull)
			m->cached_input_price = m->input_price;
		m->output_price = DatumGetCredits(GetCol(tuple, desc, 5, &isnull));
		m->request_price = DatumGetCredits(GetCol(tuple, desc, 6, &isnull));
		m->enabled = DatumGetBool(GetCol(tuple, desc, 7, &isnull));
		m->price_id = DatumGetInt32(GetCol(tuple, desc, 8, &isnull));
		if (isnull)
			m->price_id = 0;
	}
}

/* Load the discounts into an array. */
static void
LoadDiscounts(void)
{
	if (SPI_execute("SELECT service, model, pool, valid_from, valid_until, "
					"(rate OPERATOR(pg_catalog.*) 1000000000000000000)::pg_catalog.int8, rate "
					"FROM quota.discounts",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "quota: could not read quota.discounts");

	ndiscounts = (int) SPI_processed;
	discounts = MemoryContextAllocZero(CatalogContext,
									   sizeof(QuotaDiscount) * Max(ndiscounts, 1));
	for (int i = 0; i < ndiscounts; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		QuotaDiscount *d = &discounts[i];
		bool		isnull;
		Datum		v;
		MemoryContext old;

		d->service = CopyText(tuple, desc, 1);
		d->model = CopyText(tuple, desc, 2);
		d->pool = CopyText(tuple, desc, 3);
		v = GetCol(tuple, desc, 4, &isnull);
		d->valid_from = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
		v = GetCol(tuple, desc, 5, &isnull);
		d->valid_until = isnull ? DT_NOEND : DatumGetTimestampTz(v);
		d->rate.r18 = DatumGetInt64(GetCol(tuple, desc, 6, &isnull));
		v = GetCol(tuple, desc, 7, &isnull);
		old = MemoryContextSwitchTo(CatalogContext);
		d->rate.rate = datumCopy(v, false, -1);
		MemoryContextSwitchTo(old);
	}
}

/* Link each model to the discount rules of its service and model. */
static void
LinkDiscounts(void)
{
	HASH_SEQ_STATUS seq;
	QuotaModel *m;

	hash_seq_init(&seq, model_hash);
	while ((m = hash_seq_search(&seq)) != NULL)
	{
		m->ndiscounts = 0;
		m->discounts = MemoryContextAlloc(CatalogContext,
										  sizeof(QuotaDiscount *) * Max(ndiscounts, 1));
		for (int i = 0; i < ndiscounts; i++)
		{
			QuotaDiscount *d = &discounts[i];

			if (m->service != NULL && strcmp(d->service, m->service) == 0 &&
				(d->model == NULL || strcmp(d->model, m->model) == 0))
				m->discounts[m->ndiscounts++] = d;
		}
	}
}

/* Make sure the cache reflects the committed tables. */
static void
EnsureCatalog(void)
{
	Oid			nsp;

	if (catalog_valid)
		return;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(CatalogInvalidate, (Datum) 0);
		callback_registered = true;
	}
	if (CatalogContext == NULL)
		CatalogContext = AllocSetContextCreate(CacheMemoryContext,
											   "quota catalog cache",
											   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(CatalogContext);
	model_hash = NULL;
	discounts = NULL;
	ndiscounts = 0;

	nsp = get_namespace_oid("quota", false);
	models_relid = get_relname_relid("models", nsp);
	discounts_relid = get_relname_relid("discounts", nsp);

	/* invalidations arriving while we load leave catalog_valid false */
	catalog_valid = true;
	SPI_connect();
	PG_TRY();
	{
		LoadModels();
		LoadDiscounts();
		LinkDiscounts();
	}
	PG_CATCH();
	{
		catalog_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	SPI_finish();
}

/* Look a model up by name; 42704 when missing unless missing_ok. */
QuotaModel *
QuotaFindModel(const char *model, bool missing_ok)
{
	QuotaModel *m = NULL;

	EnsureCatalog();
	if (strlen(model) < sizeof(m->model))
		m = hash_search(model_hash, model, HASH_FIND, NULL);
	if (m == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", model),
				 errhint("Models are defined with quota_set_model(); see quota.models.")));
	return m;
}

/* A free model has every price zero and never consumes quota. */
bool
QuotaModelIsFree(const QuotaModel *model)
{
	return model->input_price == 0 && model->cached_input_price == 0 &&
		model->output_price == 0 && model->request_price == 0;
}

/*
 * The lowest rate of the model's discounts that apply to the pool and
 * time, or 1.  Uses the rules linked to the model when the catalog was
 * loaded, never reloads: the model and its rules are one consistent copy.
 */
static QuotaRate
ModelDiscountRate(const QuotaModel *model, const char *pool, TimestampTz at)
{
	QuotaRate	best;
	bool		any = false;

	best.r18 = QUOTA_RATE_ONE;
	best.rate = (Datum) 0;
	for (int i = 0; i < model->ndiscounts; i++)
	{
		QuotaDiscount *d = model->discounts[i];

		if (d->pool && (pool == NULL || strcmp(d->pool, pool) != 0))
			continue;
		if (at < d->valid_from || at >= d->valid_until)
			continue;
		if (!any || d->rate.r18 < best.r18)
			best = d->rate;
		any = true;
	}
	if (!any)
	{
		/* the numeric 1, made once: no allocation per undiscounted request */
		static Datum one = (Datum) 0;

		if (one == (Datum) 0)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			one = DirectFunctionCall1(int4_numeric, Int32GetDatum(1));
			MemoryContextSwitchTo(old);
		}
		best.rate = one;
	}
	return best;
}

/* final = round(original x rate), exact. */
Credits
QuotaApplyRate(Credits original, int64 r18)
{
	if (r18 == QUOTA_RATE_ONE)
		return original;
	return CreditsRoundDiv128((int128) original * r18, QUOTA_RATE_ONE);
}

/* Raise 22023 for a negative token count. */
void
QuotaCheckTokens(int64 tokens, const char *name)
{
	if (tokens < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must not be negative", name),
				 errdetail("The value given was " INT64_FORMAT ".", tokens),
				 errhint("Token counts are zero or more.")));
}

/* Add one tokens x price term to an exact sum, raising 22003 on overflow. */
static int128
AddTerm(int128 sum, int64 tokens, Credits price)
{
	int128		term = (int128) tokens * (int128) price;
	int128		result;

	if (__builtin_add_overflow(sum, term, &result))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("credits out of range"),
				 errdetail("The cost of the request does not fit in quota.credits.")));
	return result;
}

/*
 * The SPEC's cost formula:
 *	 original = round((in x ip + cached x cp + out x op) / 1e6) + request_price
 *	 final    = round(original x rate)
 * with 128-bit intermediates and rounding half away from zero to 1e-9.
 */
void
QuotaComputeCost(const QuotaModel *model, int64 input_tokens,
				 int64 cached_input_tokens, int64 output_tokens,
				 const char *pool, TimestampTz at, QuotaCost *cost)
{
	int128		sum = 0;

	sum = AddTerm(sum, input_tokens, model->input_price);
	sum = AddTerm(sum, cached_input_tokens, model->cached_input_price);
	sum = AddTerm(sum, output_tokens, model->output_price);
	cost->original = CreditsAdd(CreditsRoundDiv128(sum, 1000000),
								model->request_price);
	cost->rate = ModelDiscountRate(model, pool, at);
	cost->final = QuotaApplyRate(cost->original, cost->rate.r18);
}

/* Statement trigger on quota.models and quota.discounts: invalidate caches. */
Datum
quota_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "quota_catalog_changed: not called as a trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	catalog_valid = false;
	PG_RETURN_POINTER(NULL);
}

/* quota.ledger's OID as last looked up (InvalidOid: look it up again). */
static Oid	ledger_relid = InvalidOid;
static bool ledger_callbacks = false;

/* Syscache callback: a schema or a relation's name changed; forget the OID. */
static void
LedgerRelidReset(Datum arg, int cacheid, uint32 hashvalue)
{
	ledger_relid = InvalidOid;
}

/*
 * The OID of quota.ledger; InvalidOid when missing and missing_ok, else an
 * error.  Kept between calls (the charge path asks several times per
 * request) until a change to pg_namespace or to a relation's name or schema
 * is seen: dropping or recreating the extension, renaming the schema.
 */
Oid
QuotaLedgerRelid(bool missing_ok)
{
	Oid			nsp;

	if (OidIsValid(ledger_relid))
		return ledger_relid;
	if (!ledger_callbacks)
	{
		CacheRegisterSyscacheCallback(NAMESPACENAME, LedgerRelidReset, (Datum) 0);
		CacheRegisterSyscacheCallback(RELNAMENSP, LedgerRelidReset, (Datum) 0);
		ledger_callbacks = true;
	}
	nsp = get_namespace_oid("quota", missing_ok);
	if (OidIsValid(nsp))
		ledger_relid = get_relname_relid("ledger", nsp);
	if (!OidIsValid(ledger_relid) && !missing_ok)
		elog(ERROR, "quota.ledger is missing");
	return ledger_relid;
}
