/*
 * cost.c
 *		quota_cost(): the price of a request, with its discount.
 */
#include "postgres.h"

#include "compat.h"

#include "access/htup_details.h"
#include "cost.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "pools.h"
#include "quota.h"
#include "rowtype.h"

PG_FUNCTION_INFO_V1(quota_cost);

/*
 * quota_cost(model, input_tokens, output_tokens, cached_input_tokens, pool, at)
 *	 RETURNS TABLE(original_cost, discount_rate, final_cost)
 */
Datum
quota_cost(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	QuotaModel *model;
	QuotaCost	cost;
	char	   *modelname;
	char		name[sizeof(((QuotaModel *) 0)->model)];
	char	   *pool = NULL;
	int64		input_tokens,
				output_tokens,
				cached_tokens;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	QUOTA_REQUIRE_ARG(fcinfo, 0, "model");
	QUOTA_REQUIRE_ARG(fcinfo, 1, "input_tokens");
	QUOTA_REQUIRE_ARG(fcinfo, 2, "output_tokens");
	QUOTA_REQUIRE_ARG(fcinfo, 3, "cached_input_tokens");
	QUOTA_REQUIRE_ARG(fcinfo, 5, "at");

	{
		/* the name on the stack: no allocation per row when pricing in bulk */
		text	   *t = PG_GETARG_TEXT_PP(0);
		int			len = VARSIZE_ANY_EXHDR(t);

		if (len < (int) sizeof(name))
		{
			memcpy(name, VARDATA_ANY(t), len);
			name[len] = '\0';
			modelname = name;
		}
		else
			modelname = text_to_cstring(t);
	}
	input_tokens = PG_GETARG_INT64(1);
	output_tokens = PG_GETARG_INT64(2);
	cached_tokens = PG_GETARG_INT64(3);
	QuotaCheckTokens(input_tokens, "input_tokens");
	QuotaCheckTokens(output_tokens, "output_tokens");
	QuotaCheckTokens(cached_tokens, "cached_input_tokens");
	if (!PG_ARGISNULL(4))
	{
		pool = text_to_cstring(PG_GETARG_TEXT_PP(4));
		QuotaCheckPoolExists(pool);
	}

	model = QuotaFindModel(modelname, false);
	QuotaComputeCost(model, input_tokens, cached_tokens, output_tokens, pool,
					 PG_GETARG_TIMESTAMPTZ(5), &cost);

	tupdesc = QuotaResultDesc(fcinfo);
	values[0] = CreditsGetDatum(cost.original);
	values[1] = cost.rate.rate;
	values[2] = CreditsGetDatum(cost.final);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
