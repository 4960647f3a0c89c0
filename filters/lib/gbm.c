/*
 * gbm.c: the boosted trees through XGBoost's C API (gbm.h).  One thread
 * and no sampling, so a fit is the same on every run and machine, and
 * python3-xgboost evaluates the stored bytes to the same values (tests/
 * e2e/gbm-xgboost.sh).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "lib/gbm.h"
#include "lib/util.h"
#include "lib/view.h"

const char *const gbm_terms[GBM_NTERMS] = {
	"ln_pooled", "pooled_sd", "comps_gap", "comps_sales", "comps_spread",
	"ln_model_n", "weight_model", "weight_trim", "stale_days",
	"age_months", "mileage_km", "condition"
};

/* The median is judged: absolute error; shallow trees, small steps. */
static const char *const params[][2] = {
	{ "objective", "reg:pseudohubererror" }, { "huber_slope", "0.1" },
	{ "tree_method", "hist" },
	{ "max_depth", "4" }, { "eta", "0.1" }, { "min_child_weight", "20" },
	{ "lambda", "1" }, { "subsample", "1" }, { "nthread", "1" },
	{ "seed", "0" }, { "verbosity", "0" }
};
#define GBM_ROUNDS	150

/*
 * A model, and the proxy its rows are handed in by: prediction in place
 * makes no DMatrix a call (each reads the cgroup's CPU quota from /sys
 * and starts OpenMP's team, most of a served request's XGBoost time).
 * So one thread at a time per model.
 */
struct gbm {
	BoosterHandle	 booster;
	DMatrixHandle	 proxy;
};

const struct field gbm_fields[GBM_NFIELDS] = {
	{ "pooled_value", 'D' }, { "pooled_sd", 'D' }, { "comps_value", 'D' },
	{ "comps_sales", 'i' }, { "comps_spread", 'D' }, { "model_n", 'd' },
	{ "weight_model", 'D' }, { "weight_trim", 'D' }, { "stale_days", 'D' },
	{ "age_months", 'd' }, { "mileage_km", 'D' }, { "condition", 'D' },
};

static float
term(double x)
{
	return isfinite(x) ? (float)x : NAN;
}

int
gbm_row(const struct view *v, const int *pos, float *x, float *margin)
{
	double pooled = view_opt_double(v, pos[0]);
	double comps = view_opt_double(v, pos[2]);

	if (!(pooled > 0) || !isfinite(pooled))
		return -1;
	x[0] = term(log(pooled));
	x[1] = term(view_opt_double(v, pos[1]));
	x[2] = comps > 0 ? term(log(comps / pooled)) : NAN;
	x[3] = (float)view_long(v, pos[3]);
	x[4] = term(view_opt_double(v, pos[4]));
	x[5] = term(log1p(view_double(v, pos[5])));
	x[6] = term(view_opt_double(v, pos[6]));
	x[7] = term(view_opt_double(v, pos[7]));
	x[8] = term(view_opt_double(v, pos[8]));
	x[9] = term(view_double(v, pos[9]));
	x[10] = term(view_opt_double(v, pos[10]));
	x[11] = term(view_opt_double(v, pos[11]));
	*margin = x[0];
	return 0;
}

static int
failed(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "XGBoost: %s: %s", what, XGBGetLastError());
	return -1;
}

static int
matrix(const float *x, const float *margin, const float *y, size_t n,
    DMatrixHandle *d, char *err, size_t errlen)
{
	if (XGDMatrixCreateFromMat(x, (bst_ulong)n, GBM_NTERMS, NAN, d) != 0)
		return failed(err, errlen, "matrix");
	if (XGDMatrixSetFloatInfo(*d, "base_margin", margin,
	    (bst_ulong)n) != 0 || (y != NULL &&
	    XGDMatrixSetFloatInfo(*d, "label", y, (bst_ulong)n) != 0)) {
		XGDMatrixFree(*d);
		return failed(err, errlen, "matrix");
	}
	return 0;
}

int
gbm_fit(const float *x, const float *y, const float *margin, size_t n,
    unsigned char **bytes, size_t *len, char *err, size_t errlen)
{
	DMatrixHandle d;
	BoosterHandle b;
	const char *out;
	bst_ulong outlen;
	size_t i;
	int rc = -1;

	if (matrix(x, margin, y, n, &d, err, errlen) < 0)
		return -1;
	if (XGBoosterCreate(&d, 1, &b) != 0) {
		XGDMatrixFree(d);
		return failed(err, errlen, "booster");
	}
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (XGBoosterSetParam(b, params[i][0], params[i][1]) != 0) {
			failed(err, errlen, params[i][0]);
			goto out;
		}
	for (i = 0; i < GBM_ROUNDS; i++)
		if (XGBoosterUpdateOneIter(b, (int)i, d) != 0) {
			failed(err, errlen, "boosting");
			goto out;
		}
	if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &outlen,
	    &out) != 0) {
		failed(err, errlen, "saving the model");
		goto out;
	}
	*bytes = emalloc(outlen ? outlen : 1);
	memcpy(*bytes, out, outlen);
	*len = outlen;
	rc = 0;
out:
	XGBoosterFree(b);
	XGDMatrixFree(d);
	return rc;
}

struct gbm *
gbm_load(const unsigned char *bytes, size_t len, char *err, size_t errlen)
{
	struct gbm *g = ecalloc(1, sizeof(*g));

	if (XGBoosterCreate(NULL, 0, &g->booster) != 0) {
		failed(err, errlen, "booster");
		free(g);
		return NULL;
	}
	if (XGBoosterLoadModelFromBuffer(g->booster, bytes,
	    (bst_ulong)len) != 0 ||
	    XGBoosterSetParam(g->booster, "nthread", "1") != 0 ||
	    XGProxyDMatrixCreate(&g->proxy) != 0) {
		failed(err, errlen, "loading the model");
		gbm_free(g);
		return NULL;
	}
	return g;
}

int
gbm_predict(struct gbm *g, const float *x, const float *margin, size_t n,
    double *out, char *err, size_t errlen)
{
	/* The rows as NumPy's __array_interface__, where they are. */
	char rows[160];
	const bst_ulong *shape;
	bst_ulong dim;
	const float *res;
	size_t i;

	if (n == 0)
		return 0;
	snprintf(rows, sizeof(rows), "{\"data\": [%llu, true], \"shape\": "
	    "[%zu, %d], \"typestr\": \"<f4\", \"version\": 3}",
	    (unsigned long long)(uintptr_t)x, n, GBM_NTERMS);
	/* The rows first: the margin's length is checked against them. */
	if (XGProxyDMatrixSetDataDense(g->proxy, rows) != 0 ||
	    XGDMatrixSetFloatInfo(g->proxy, "base_margin", margin,
	    (bst_ulong)n) != 0)
		return failed(err, errlen, "prediction");
	if (XGBoosterPredictFromDense(g->booster, rows, "{\"type\": 0, "
	    "\"training\": false, \"iteration_begin\": 0, "
	    "\"iteration_end\": 0, \"strict_shape\": false, \"cache_id\": 0, "
	    "\"missing\": NaN}", g->proxy, &shape, &dim, &res) != 0)
		return failed(err, errlen, "prediction");
	if (dim != 1 || shape[0] != n) {
		snprintf(err, errlen, "XGBoost: %llu predictions for %zu "
		    "rows", (unsigned long long)shape[0], n);
		return -1;
	}
	for (i = 0; i < n; i++)
		out[i] = res[i];
	return 0;
}

void
gbm_free(struct gbm *g)
{
	if (g == NULL)
		return;
	XGBoosterFree(g->booster);
	if (g->proxy != NULL)
		XGDMatrixFree(g->proxy);
	free(g);
}
