/*
 * catalog.h
 *		Backend-local caches of models and discounts, and the cost formula.
 */
#ifndef QUOTA_CATALOG_H
#define QUOTA_CATALOG_H

#include "credits.h"
#include "datatype/timestamp.h"

struct QuotaDiscount;

/* A priced model. */
typedef struct QuotaModel
{
	char		model[256];		/* hash key */
	char	   *service;
	Credits		input_price;
	Credits		cached_input_price;
	Credits		output_price;
	Credits		request_price;
	int32		price_id;		/* the quota.model_prices row of these prices */
	bool		enabled;
	struct QuotaDiscount **discounts;	/* the rules of its service and model */
	int			ndiscounts;
} QuotaModel;

/* An exact discount rate: rate = r18 / 10^18. */
typedef struct QuotaRate
{
	int64		r18;
	Datum		rate;			/* the numeric as configured */
} QuotaRate;

/* The costs of one request. */
typedef struct QuotaCost
{
	Credits		original;
	QuotaRate	rate;
	Credits		final;
} QuotaCost;

#define QUOTA_RATE_ONE	INT64CONST(1000000000000000000)

extern Oid	QuotaLedgerRelid(bool missing_ok);
extern QuotaModel *QuotaFindModel(const char *model, bool missing_ok);
extern bool QuotaModelIsFree(const QuotaModel *model);
extern void QuotaComputeCost(const QuotaModel *model, int64 input_tokens,
							 int64 cached_input_tokens, int64 output_tokens,
							 const char *pool, TimestampTz at, QuotaCost *cost);
extern Credits QuotaApplyRate(Credits original, int64 r18);
extern void QuotaCheckTokens(int64 tokens, const char *name);

#endif							/* QUOTA_CATALOG_H */
