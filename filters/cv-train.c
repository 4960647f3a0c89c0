/*
 * cv-train: fit the valuation models on a Features history whose vehicles
 * have realised prices, and write them as a new version into the model
 * store that cv-predict reads.
 *
 * hedonic: the global adjustment of ln(price / base), base being the
 *     pooled model's value where cv-features had one (class "pooled"),
 *     else the features' price_level moved by the cohort and region
 *     offsets (class: the decay level), on
 *     hinge terms in condition, age and mileage (lib/models.c); robust
 *     least squares (Huber by default).
 * calibration, per decay level and overall: the median residual left
 *     (shift) and the scale that makes the interval's coverage nominal on
 *     these rows.
 * blend, per class of comparables (1-3, 4-8 sales): the weight w in
 *     ln value = (1 - w) ln pooled_value + w ln comps_value that gives
 *     these rows the least median absolute error (w on a grid of 0.05);
 *     trained with hedonic.  These rows are earlier than those the
 *     version values (cv-predict -P): the weight never sees them.
 * gbm: boosted trees (XGBoost, lib/gbm.c) of ln price with ln pooled_value
 *     as base margin, on the rows with a pooled value: fitted on the
 *     earlier three quarters, weighed in the blend (class "gbm": w in
 *     ln value = (1 - w) ln blend + w ln gbm, least median error) on the
 *     latest quarter, which that fit never saw, then refitted on all.
 *     Trained with hedonic, whose blend it extends; a version keeps it
 *     with its weight, 0 included, so its error is reported either way.
 * seed: price = a V + b MPI + c H + d lambda + e by ordinary least
 *     squares, V the base, H the condition, lambda the elasticity.
 *
 * A fit on too few rows, a singular design or a non-finite result is
 * refused with a message, and nothing is written: the store keeps its
 * current version.
 *
 *	cv-train -m models.db -u 2015-04-01 features.avro
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "lib/append.h"
#include "lib/field.h"
#include "lib/gbm.h"
#include "lib/kafka.h"
#include "lib/models.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/valid.h"

/* Below this reciprocal condition number a design counts as singular. */
#define MIN_RCOND	1e-12
/* A hinge term with fewer non-zero rows than this is left out (0). */
#define MIN_TERM_ROWS	10
/* ... and one that the terms before it explain but for this share of
 * its sum of squares (collinear with them). */
#define MIN_TERM_SHARE	1e-9

enum {
	F_OBSERVED, F_PRICE, F_KM, F_COND, F_AGE, F_MPI, F_EL, F_DECAY_LEVEL,
	F_SIGMA, F_LEVEL, F_LEVEL_LSE, F_COHORT, F_REGION, F_POOLED,
	F_POOLED_SD, F_COMPS_VALUE, F_COMPS_SALES, F_MODEL_N, F_COUNT
};
static const struct field features[F_COUNT] = {
	[F_OBSERVED] = { "observed_at", 'l' },
	[F_PRICE] = { "price", 'D' },
	[F_KM] = { "mileage_km", 'D' },
	[F_COND] = { "condition", 'D' },
	[F_AGE] = { "age_months", 'd' },
	[F_MPI] = { "mpi", 'D' },
	[F_EL] = { "elasticity", 'D' },
	[F_DECAY_LEVEL] = { "decay_level", 'S' },
	[F_SIGMA] = { "decay_sigma", 'D' },
	[F_LEVEL] = { "price_level", 'D' },
	[F_LEVEL_LSE] = { "price_level_lse", 'D' },
	[F_COHORT] = { "cohort_offset", 'D' },
	[F_REGION] = { "region_offset", 'D' },
	[F_POOLED] = { "pooled_value", 'D' },
	[F_POOLED_SD] = { "pooled_sd", 'D' },
	[F_COMPS_VALUE] = { "comps_value", 'D' },
	[F_COMPS_SALES] = { "comps_sales", 'i' },
	[F_MODEL_N] = { "model_n", 'd' },
};

/* The blend's classes, by comparable sales (cv-predict's too). */
#define BLEND_CLASSES	2
static const char *blend_class[BLEND_CLASSES] = { "1-3", "4-8" };
static const char *const blend_terms[1] = { "comps" };

/* Growing columns of the rows each model learns from. */
struct rows {
	double	*x;		/* n x p, row-major */
	double	*y;
	double	*price, *base;	/* for the error in price terms */
	double	*sd;		/* hedonic: sqrt(sigma^2 + lse^2) */
	char	(*class)[32];
	size_t	 n, cap;
	int	 p;
};

/* The boosted trees' rows: terms, ln price, margin, time. */
struct gbm_rows {
	float	*x, *y, *margin;
	int64_t	*at;
	size_t	 n, cap;
};

/* Rows the boosted trees need, at least (a quarter of them weighs it). */
#define GBM_MIN_ROWS	1000

struct train {
	int		 hedonic, seed, gbm;
	int		 verbose;
	const char	*method;		/* hedonic's: ols or robust */
	size_t		 min_rows, min_class;
	double		 interval;
	int64_t		 from, until;		/* observed_at window */
	int64_t		 first, last;		/* of the rows used */
	struct rows	 h, s;
	/* blend rows: ln(price / pooled), ln(comps / pooled), class */
	double		*by, *bx;
	int		*bc;
	size_t		 nb, capb;
	struct gbm_rows	 g;
	int		 fx[F_COUNT];
	int		 gpos[GBM_NFIELDS];	/* of gbm_fields */
	struct valid	*valid;		/* of the fields read */
	int64_t		 used;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-train [-v] [-a since] [-e on-error] "
	    "[-i interval] [-k kinds] [-l min-class] [-n min-rows] "
	    "[-r method] [-u before] -m models.db [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -a, --since TIME    only sales observed at or after TIME\n"
	    "  -e, --on-error X    fail (default), skip, or a file for "
	    "rejects\n"
	    "  -i, --interval P    coverage the calibration aims at (0.9)\n"
	    "  -k, --kinds L       models to fit: hedonic,gbm,seed (all)\n"
	    "  -l, --min-class N   rows a decay level needs for its own "
	    "calibration (30)\n"
	    "  -m, --models FILE   the model store (created if missing)\n"
	    "  -n, --min-rows N    rows a model needs (100)\n"
	    "  -r, --method M      hedonic fit: huber (default), bisquare, "
	    "cauchy,\n"
	    "                      fair, welsch (robust) or ols\n"
	    "  -u, --before TIME   only sales observed before TIME; the "
	    "version is\n"
	    "                      in force from TIME on (cv-predict -P)\n"
	    "  -v, --verbose       the fits on stderr\n"
	    "  -h, --help          this help\n");
	kafka_help(stdout);
}

static void
rows_add(struct rows *r, const double *x, double y, double price,
    double base, double sd, const char *class)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->x = erealloc(r->x, r->cap * (size_t)r->p * sizeof(*r->x));
		r->y = erealloc(r->y, r->cap * sizeof(*r->y));
		r->price = erealloc(r->price, r->cap * sizeof(*r->price));
		r->base = erealloc(r->base, r->cap * sizeof(*r->base));
		r->sd = erealloc(r->sd, r->cap * sizeof(*r->sd));
		r->class = erealloc(r->class, r->cap * sizeof(*r->class));
	}
	memcpy(r->x + r->n * (size_t)r->p, x, (size_t)r->p * sizeof(*x));
	r->y[r->n] = y;
	r->price[r->n] = price;
	r->base[r->n] = base;
	r->sd[r->n] = sd;
	snprintf(r->class[r->n], sizeof(*r->class), "%s", class);
	r->n++;
}

static void
gbm_rows_add(struct gbm_rows *g, const struct view *v, const int *pos,
    double price, int64_t at)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->x = erealloc(g->x, g->cap * GBM_NTERMS * sizeof(*g->x));
		g->y = erealloc(g->y, g->cap * sizeof(*g->y));
		g->margin = erealloc(g->margin, g->cap * sizeof(*g->margin));
		g->at = erealloc(g->at, g->cap * sizeof(*g->at));
	}
	if (gbm_row(v, pos, g->x + g->n * GBM_NTERMS, &g->margin[g->n]) < 0)
		return;
	g->y[g->n] = (float)log(price);
	g->at[g->n++] = at;
}

static void
gbm_rows_free(struct gbm_rows *g)
{
	free(g->x);
	free(g->y);
	free(g->margin);
	free(g->at);
}

static void
rows_free(struct rows *r)
{
	free(r->x);
	free(r->y);
	free(r->price);
	free(r->base);
	free(r->sd);
	free(r->class);
}

/*
 * Take one Features record's rows, if it teaches anything; -1 if it is
 * bad (rejected), -2 when the policy says stop.
 */
static int
take(struct train *t, struct rec *rec, const struct view *v)
{
	const int *fx = t->fx;
	int64_t at = view_long(v, fx[F_OBSERVED]);
	double price = view_opt_double(v, fx[F_PRICE]);
	double level = view_opt_double(v, fx[F_LEVEL]);
	double sigma = view_opt_double(v, fx[F_SIGMA]);
	double lse = view_opt_double(v, fx[F_LEVEL_LSE]);
	double cond = view_opt_double(v, fx[F_COND]);
	double mpi = view_opt_double(v, fx[F_MPI]);
	double el = view_opt_double(v, fx[F_EL]);
	double co = view_opt_double(v, fx[F_COHORT]);
	double ro = view_opt_double(v, fx[F_REGION]);
	double pooled = view_opt_double(v, fx[F_POOLED]);
	double x[HEDONIC_NTERMS], base, sd, age = view_double(v, fx[F_AGE]);
	char class[MODEL_CLASS_LEN];
	const char *why;

	if (valid_check(t->valid, v, &why) >= 0)
		return reject(rec_where(rec), 1, NULL, 0, rec_value(rec), "%s",
		    why) < 0 ? -2 : -1;
	if (view_text_len(v, fx[F_DECAY_LEVEL], 1) >= MODEL_CLASS_LEN)
		return reject(rec_where(rec), 1, NULL, 0, rec_value(rec),
		    "decay_level: longer than %d bytes", MODEL_CLASS_LEN - 1) <
		    0 ? -2 : -1;
	if (at < t->from || at >= t->until || !(price > 0) || !isfinite(price))
		return 0;
	if (pooled > 0) {
		base = pooled;
		sd = view_opt_double(v, fx[F_POOLED_SD]);
		pooled_class(class, sizeof(class), view_double(v,
		    fx[F_MODEL_N]));
	} else {
		if (!(level > 0) || isnan(sigma))
			return 0;
		base = level * exp((isnan(co) ? 0 : co) + (isnan(ro) ? 0 :
		    ro));
		sd = sqrt(sigma * sigma + (isnan(lse) ? 0 : lse * lse));
		view_opt_string(v, fx[F_DECAY_LEVEL], class, sizeof(class));
	}
	if (!(base > 0) || !isfinite(base) || !(sd >= 0))
		return 0;
	t->used++;
	if (at < t->first)
		t->first = at;
	if (at > t->last)
		t->last = at;
	if (t->hedonic) {
		hedonic_x(x, cond, age, view_opt_double(v, fx[F_KM]));
		rows_add(&t->h, x, log(price / base), price, base, sd, class);
	}
	if (t->hedonic && pooled > 0 && view_opt_double(v,
	    fx[F_COMPS_VALUE]) > 0 && view_long(v, fx[F_COMPS_SALES]) > 0) {
		if (t->nb == t->capb) {
			t->capb = t->capb ? 2 * t->capb : 1024;
			t->by = erealloc(t->by, t->capb * sizeof(*t->by));
			t->bx = erealloc(t->bx, t->capb * sizeof(*t->bx));
			t->bc = erealloc(t->bc, t->capb * sizeof(*t->bc));
		}
		t->by[t->nb] = log(price / pooled);
		t->bx[t->nb] = log(view_opt_double(v, fx[F_COMPS_VALUE]) /
		    pooled);
		t->bc[t->nb++] = view_long(v, fx[F_COMPS_SALES]) > 3;
	}
	if (t->gbm && pooled > 0)
		gbm_rows_add(&t->g, v, t->gpos, price, at);
	if (t->seed && !isnan(mpi) && !isnan(cond) && !isnan(el)) {
		seed_x(x, base, mpi, cond, el);
		rows_add(&t->s, x, price, price, base, 0, class);
	}
	return 0;
}

/* Refuse a model: it is not written, the store keeps its last one of
 * that kind.  Returns -1. */
static int
refuse(const char *model, const char *fmt, ...) PRINTF(2, 3);

static int
refuse(const char *model, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	warnx("%s: fit refused: %s; the store keeps its last %s model",
	    model, why, model);
	return -1;
}

static const gsl_multifit_robust_type *
robust_type(const char *name)
{
	if (strcmp(name, "huber") == 0)
		return gsl_multifit_robust_huber;
	if (strcmp(name, "bisquare") == 0)
		return gsl_multifit_robust_bisquare;
	if (strcmp(name, "cauchy") == 0)
		return gsl_multifit_robust_cauchy;
	if (strcmp(name, "fair") == 0)
		return gsl_multifit_robust_fair;
	if (strcmp(name, "welsch") == 0)
		return gsl_multifit_robust_welsch;
	return NULL;
}

/*
 * Fit y on the columns `use` of the rows by the method (ols or a robust
 * weight); the coefficients and covariance of the other columns are 0.
 * The fitted values go to fitted[].  -1 if the fit is refused.
 */
static int
fit(const char *model, const struct rows *r, const int *use,
    const char *method, struct model *m, double *fitted)
{
	size_t n = r->n, i;
	int p = 0, j, k, cols[MODEL_MAXTERMS];
	gsl_matrix *X, *C;
	gsl_vector *y, *c;
	double chisq, rcond, e, sse = 0, mean, sst = 0;
	int status, ok = -1;

	for (j = 0; j < r->p; j++)
		if (use[j])
			cols[p++] = j;
	if (n < (size_t)p + 1)
		return refuse(model, "%zu rows for %d terms", n, p);
	X = gsl_matrix_alloc(n, (size_t)p);
	C = gsl_matrix_alloc((size_t)p, (size_t)p);
	y = gsl_vector_alloc(n);
	c = gsl_vector_alloc((size_t)p);
	for (i = 0; i < n; i++) {
		for (k = 0; k < p; k++)
			gsl_matrix_set(X, i, (size_t)k,
			    r->x[i * (size_t)r->p + (size_t)cols[k]]);
		gsl_vector_set(y, i, r->y[i]);
	}
	/* Ordinary least squares first: its SVD says if X is singular. */
	{
		gsl_multifit_linear_workspace *w =
		    gsl_multifit_linear_alloc(n, (size_t)p);

		status = gsl_multifit_linear(X, y, c, C, &chisq, w);
		rcond = gsl_multifit_linear_rcond(w);
		gsl_multifit_linear_free(w);
	}
	if (status != GSL_SUCCESS) {
		refuse(model, "%s", gsl_strerror(status));
		goto done;
	}
	if (!(rcond >= MIN_RCOND)) {
		refuse(model, "singular design (reciprocal condition number "
		    "%.3g)", rcond);
		goto done;
	}
	if (strcmp(method, "ols") != 0) {
		gsl_multifit_robust_workspace *w = gsl_multifit_robust_alloc(
		    robust_type(method), n, (size_t)p);

		status = gsl_multifit_robust(X, y, c, C, w);
		gsl_multifit_robust_free(w);
		/* GSL_EMAXITER still leaves a usable estimate. */
		if (status != GSL_SUCCESS && status != GSL_EMAXITER) {
			refuse(model, "%s", gsl_strerror(status));
			goto done;
		}
	}
	memset(m->coef, 0, sizeof(m->coef));
	memset(m->cov, 0, sizeof(m->cov));
	for (k = 0; k < p; k++) {
		m->coef[cols[k]] = gsl_vector_get(c, (size_t)k);
		for (j = 0; j < p; j++)
			m->cov[cols[k] * r->p + cols[j]] =
			    gsl_matrix_get(C, (size_t)k, (size_t)j);
	}
	for (k = 0; k < r->p * r->p; k++)
		if (!isfinite(m->cov[k]) || (k < r->p &&
		    !isfinite(m->coef[k]))) {
			refuse(model, "a coefficient or its variance is not "
			    "finite");
			goto done;
		}
	mean = gsl_stats_mean(r->y, 1, n);
	for (i = 0; i < n; i++) {
		fitted[i] = 0;
		for (j = 0; j < r->p; j++)
			fitted[i] += m->coef[j] * r->x[i * (size_t)r->p +
			    (size_t)j];
		e = r->y[i] - fitted[i];
		sse += e * e;
		sst += (r->y[i] - mean) * (r->y[i] - mean);
	}
	m->n = (int64_t)n;
	m->r2 = sst > 0 ? 1 - sse / sst : NAN;
	m->rmse = sqrt(sse / (double)(n - (size_t)p));
	m->nterms = r->p;
	snprintf(m->method, sizeof(m->method), "%s", method);
	ok = 0;
done:
	gsl_matrix_free(X);
	gsl_matrix_free(C);
	gsl_vector_free(y);
	gsl_vector_free(c);
	return ok;
}

/* Median absolute % error of predicted prices; scratch has n places. */
static double
mdape(const double *pred, const double *price, size_t n, double *scratch)
{
	size_t i;

	for (i = 0; i < n; i++)
		scratch[i] = fabs(pred[i] / price[i] - 1);
	gsl_sort(scratch, 1, n);
	return gsl_stats_median_from_sorted_data(scratch, 1, n);
}

static void
name_terms(struct model *m, const char *kind, const char *class,
    const char *const *terms, int n)
{
	int i;

	snprintf(m->kind, sizeof(m->kind), "%s", kind);
	snprintf(m->class, sizeof(m->class), "%s", class);
	m->nterms = n;
	for (i = 0; i < n; i++)
		snprintf(m->terms[i], sizeof(m->terms[i]), "%s", terms[i]);
}

/*
 * One calibration: the median residual (shift) and the scale that puts
 * the interval's share of |residual - shift| / sd inside z.
 */
static int
calibrate(struct model *m, const char *class, const double *res,
    const double *sd, size_t n, double interval, double *scratch)
{
	static const char *const terms[2] = { "shift", "scale" };
	double shift, z = gsl_cdf_ugaussian_Pinv((1 + interval) / 2), mad;
	size_t i;

	memcpy(scratch, res, n * sizeof(*res));
	gsl_sort(scratch, 1, n);
	shift = gsl_stats_median_from_sorted_data(scratch, 1, n);
	for (i = 0; i < n; i++)
		scratch[i] = fabs(res[i] - shift) / (sd[i] > 0 ? sd[i] : 1);
	gsl_sort(scratch, 1, n);
	memset(m, 0, sizeof(*m));
	name_terms(m, "calibration", class, terms, 2);
	snprintf(m->method, sizeof(m->method), "quantile");
	m->coef[0] = shift;
	m->coef[1] = gsl_stats_quantile_from_sorted_data(scratch, 1, n,
	    interval) / z;
	/* The median's variance, from the residuals' spread (MAD). */
	for (i = 0; i < n; i++)
		scratch[i] = fabs(res[i] - shift);
	gsl_sort(scratch, 1, n);
	mad = 1.4826 * gsl_stats_median_from_sorted_data(scratch, 1, n);
	m->cov[0] = M_PI / 2 * mad * mad / (double)n;
	m->cov[3] = NAN;	/* not estimated */
	m->n = (int64_t)n;
	m->r2 = NAN;
	m->rmse = mad;
	m->mdape = NAN;
	if (!(m->coef[1] > 0) || !isfinite(m->coef[0]))
		return refuse("hedonic", "calibration of %s: shift %g, scale "
		    "%g", class, m->coef[0], m->coef[1]);
	return 0;
}

/*
 * Leave out (use[j] = 0) each term the terms kept before it explain:
 * the Schur complement of its entry in X'X against theirs, below
 * MIN_TERM_SHARE of the entry.  So a hinge that all rows pass (linear in
 * age there, like the hinge before it) does not make the design singular.
 */
static void
drop_collinear(const struct rows *r, int *use)
{
	int p = r->p, kept[MODEL_MAXTERMS], nk = 0, j, a, b;
	double xtx[MODEL_MAXTERMS][MODEL_MAXTERMS] = { { 0 } }, d;
	gsl_matrix *akk;
	gsl_vector *akj, *sol;
	size_t i;

	for (i = 0; i < r->n; i++)
		for (a = 0; a < p; a++)
			for (b = 0; b <= a; b++)
				xtx[a][b] += r->x[i * (size_t)p + (size_t)a] *
				    r->x[i * (size_t)p + (size_t)b];
	for (a = 0; a < p; a++)
		for (b = a + 1; b < p; b++)
			xtx[a][b] = xtx[b][a];
	for (j = 0; j < p; j++) {
		if (!use[j])
			continue;
		d = xtx[j][j];
		if (nk > 0) {
			akk = gsl_matrix_alloc((size_t)nk, (size_t)nk);
			akj = gsl_vector_alloc((size_t)nk);
			sol = gsl_vector_alloc((size_t)nk);
			for (a = 0; a < nk; a++) {
				for (b = 0; b < nk; b++)
					gsl_matrix_set(akk, (size_t)a,
					    (size_t)b, xtx[kept[a]][kept[b]]);
				gsl_vector_set(akj, (size_t)a,
				    xtx[kept[a]][j]);
			}
			/* The kept terms are independent: positive definite. */
			if (gsl_linalg_cholesky_decomp1(akk) == GSL_SUCCESS &&
			    gsl_linalg_cholesky_solve(akk, akj, sol) ==
			    GSL_SUCCESS) {
				for (a = 0; a < nk; a++)
					d -= gsl_vector_get(akj, (size_t)a) *
					    gsl_vector_get(sol, (size_t)a);
			}
			gsl_matrix_free(akk);
			gsl_vector_free(akj);
			gsl_vector_free(sol);
		}
		if (d > MIN_TERM_SHARE * xtx[j][j] && xtx[j][j] > 0)
			kept[nk++] = j;
		else
			use[j] = 0;
	}
}

/* The hedonic adjustment and its calibrations, appended to ver; -1 if
 * refused (ver as it was). */
static int
train_hedonic(struct train *t, struct version *ver)
{
	struct rows *r = &t->h;
	struct model *m;
	int use[HEDONIC_NTERMS], j;
	double *fitted, *res, *scratch, *pred;
	const char *classes[8];
	size_t i, k, nc = 0, n = r->n;
	int nm = ver->nmodels, bad;

	if (n < t->min_rows)
		return refuse("hedonic", "%zu rows with a price and a fitted "
		    "price level, fewer than %zu", n, t->min_rows);
	/* Hinges no row reaches would make X singular: leave them out. */
	for (j = 0; j < HEDONIC_NTERMS; j++) {
		for (i = k = 0; i < n; i++)
			k += r->x[i * HEDONIC_NTERMS + (size_t)j] != 0;
		use[j] = j == 0 || k >= MIN_TERM_ROWS;
	}
	drop_collinear(r, use);
	fitted = ecalloc(n, sizeof(double));
	res = ecalloc(n, sizeof(double));
	pred = ecalloc(n, sizeof(double));
	scratch = ecalloc(n, sizeof(double));
	m = &ver->models[ver->nmodels++];
	memset(m, 0, sizeof(*m));
	name_terms(m, "hedonic", "*", hedonic_terms, HEDONIC_NTERMS);
	if ((bad = fit("hedonic", r, use, t->method, m, fitted)) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		res[i] = r->y[i] - fitted[i];
		pred[i] = r->base[i] * exp(fitted[i]);
	}
	/* cv-predict leaves the pooled value unadjusted: its calibration
	 * is of its own residuals (the shift is reported, not applied). */
	for (i = 0; i < n; i++)
		if (strncmp(r->class[i], "pooled", 6) == 0)
			res[i] = r->y[i];
	m->mdape = mdape(pred, r->price, n, scratch);
	/* Calibrations: overall, then each decay level with enough rows. */
	if ((bad = calibrate(&ver->models[ver->nmodels++], "*", res, r->sd,
	    n, t->interval, scratch)) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		for (k = 0; k < nc; k++)
			if (strcmp(classes[k], r->class[i]) == 0)
				break;
		if (k == nc && nc < NELEM(classes) && *r->class[i])
			classes[nc++] = r->class[i];
	}
	for (k = 0; k < nc; k++) {
		size_t m_n = 0;

		for (i = 0; i < n; i++)
			if (strcmp(r->class[i], classes[k]) == 0) {
				fitted[m_n] = res[i];
				pred[m_n++] = r->sd[i];
			}
		if (m_n >= t->min_class && (bad = calibrate(
		    &ver->models[ver->nmodels++], classes[k], fitted, pred,
		    m_n, t->interval, scratch)) < 0)
			goto done;
	}
done:
	if (bad)
		ver->nmodels = nm;
	free(fitted);
	free(res);
	free(pred);
	free(scratch);
	return bad;
}

/* The blend's weights, a class at a time where it has the rows. */
static void
train_blend(struct train *t, struct version *ver)
{
	double *e = emalloc((t->nb ? t->nb : 1) * sizeof(*e)), best, mdae, w;
	struct model *m;
	size_t i, n;
	int c, k, bestk;

	for (c = 0; c < BLEND_CLASSES; c++) {
		best = INFINITY;
		bestk = 0;
		for (k = 0; k <= 20; k++) {
			w = k / 20.0;
			for (n = i = 0; i < t->nb; i++)
				if (t->bc[i] == c)
					e[n++] = fabs(exp(t->by[i] - w *
					    t->bx[i]) - 1);
			if (n < t->min_class)
				break;
			gsl_sort(e, 1, n);
			mdae = gsl_stats_median_from_sorted_data(e, 1, n);
			if (mdae < best) {
				best = mdae;
				bestk = k;
			}
		}
		if (n < t->min_class)
			continue;
		m = &ver->models[ver->nmodels++];
		memset(m, 0, sizeof(*m));
		name_terms(m, "blend", blend_class[c], blend_terms, 1);
		snprintf(m->method, sizeof(m->method), "grid");
		m->coef[0] = bestk / 20.0;
		m->cov[0] = NAN;
		m->n = (int64_t)n;
		m->r2 = m->rmse = NAN;
		m->mdape = best;
	}
	free(e);
}

/* The gbm rows in time order (Features come so; a merge may not). */
static const int64_t *gbm_at;

static int
by_time(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (gbm_at[i] != gbm_at[j])
		return gbm_at[i] < gbm_at[j] ? -1 : 1;
	return i < j ? -1 : i > j;
}

static void
gbm_sort(struct gbm_rows *g)
{
	size_t *ix = emalloc((g->n ? g->n : 1) * sizeof(*ix)), i;
	struct gbm_rows s = { 0 };

	for (i = 0; i < g->n; i++)
		ix[i] = i;
	gbm_at = g->at;
	qsort(ix, g->n, sizeof(*ix), by_time);
	s.x = emalloc((g->n ? g->n : 1) * GBM_NTERMS * sizeof(*s.x));
	s.y = emalloc((g->n ? g->n : 1) * sizeof(*s.y));
	s.margin = emalloc((g->n ? g->n : 1) * sizeof(*s.margin));
	s.at = emalloc((g->n ? g->n : 1) * sizeof(*s.at));
	for (i = 0; i < g->n; i++) {
		memcpy(s.x + i * GBM_NTERMS, g->x + ix[i] * GBM_NTERMS,
		    GBM_NTERMS * sizeof(*s.x));
		s.y[i] = g->y[ix[i]];
		s.margin[i] = g->margin[ix[i]];
		s.at[i] = g->at[ix[i]];
	}
	s.n = s.cap = g->n;
	gbm_rows_free(g);
	*g = s;
	free(ix);
}

/* ln of the value the blend gives without the trees: pooled moved
 * towards the comparables by its class's weight (term 2 is their gap). */
static double
blend_before(const struct version *ver, const float *x, float margin)
{
	const struct model *m;

	if (isnan(x[2]) || !(x[3] > 0))
		return margin;
	m = version_model(ver, "blend", x[3] > 3 ? "4-8" : "1-3");
	return margin + (m != NULL ? m->coef[0] * x[2] : 0);
}

static void
train_gbm(struct train *t, struct version *ver)
{
	struct gbm_rows *g = &t->g;
	size_t nfit = g->n * 3 / 4, nh = g->n - nfit, i, k, bestk = 0;
	double *lg, *e, best = INFINITY, alone = NAN, l0;
	unsigned char *bytes = NULL;
	struct gbm *tree = NULL;
	struct model *m;
	size_t len;
	char err[512];
	static const char *const gbm_blend_terms[1] = { "gbm" };

	if (g->n < GBM_MIN_ROWS) {
		/* Not a refusal: few sales have a pooled value yet. */
		if (t->verbose)
			warnx("gbm: %zu rows with a pooled value, fewer "
			    "than %d: not fitted", g->n, GBM_MIN_ROWS);
		return;
	}
	gbm_sort(g);
	lg = emalloc(nh * sizeof(*lg));
	e = emalloc(nh * sizeof(*e));
	if (gbm_fit(g->x, g->y, g->margin, nfit, &bytes, &len, err,
	    sizeof(err)) < 0 || (tree = gbm_load(bytes, len, err,
	    sizeof(err))) == NULL || gbm_predict(tree, g->x + nfit *
	    GBM_NTERMS, g->margin + nfit, nh, lg, err, sizeof(err)) < 0) {
		warnx("gbm: %s; not fitted", err);
		goto out;
	}
	/* Its weight on the latest quarter, which the fit never saw. */
	for (k = 0; k <= 20; k++) {
		for (i = 0; i < nh; i++) {
			l0 = blend_before(ver, g->x + (nfit + i) * GBM_NTERMS,
			    g->margin[nfit + i]);
			e[i] = fabs(exp(g->y[nfit + i] - (l0 + k / 20.0 *
			    (lg[i] - l0))) - 1);
		}
		gsl_sort(e, 1, nh);
		l0 = gsl_stats_median_from_sorted_data(e, 1, nh);
		if (k == 20)
			alone = l0;
		if (l0 < best) {
			best = l0;
			bestk = k;
		}
	}
	free(bytes);
	bytes = NULL;
	if (gbm_fit(g->x, g->y, g->margin, g->n, &bytes, &len, err,
	    sizeof(err)) < 0) {
		warnx("gbm: %s; not fitted", err);
		goto out;
	}
	m = &ver->models[ver->nmodels++];
	memset(m, 0, sizeof(*m));
	name_terms(m, "gbm", "*", gbm_terms, GBM_NTERMS);
	snprintf(m->method, sizeof(m->method), "xgboost");
	for (i = 0; i < GBM_NTERMS; i++)
		m->coef[i] = NAN;
	for (i = 0; i < GBM_NTERMS * GBM_NTERMS; i++)
		m->cov[i] = NAN;
	m->n = (int64_t)g->n;
	m->r2 = m->rmse = NAN;
	m->mdape = alone;
	m->bytes = bytes;
	m->nbytes = len;
	bytes = NULL;
	m = &ver->models[ver->nmodels++];
	memset(m, 0, sizeof(*m));
	name_terms(m, "blend", "gbm", gbm_blend_terms, 1);
	snprintf(m->method, sizeof(m->method), "grid");
	m->coef[0] = bestk / 20.0;
	m->cov[0] = NAN;
	m->n = (int64_t)nh;
	m->r2 = m->rmse = NAN;
	m->mdape = best;
out:
	gbm_free(tree);
	free(bytes);
	free(lg);
	free(e);
}

static int
train_seed(struct train *t, struct version *ver)
{
	struct rows *r = &t->s;
	struct model *m;
	int use[SEED_NTERMS] = { 1, 1, 1, 1, 1 };
	double *fitted, *scratch;
	size_t n = r->n;
	int bad;

	if (n < t->min_rows)
		return refuse("seed", "%zu rows with a price, fitted price "
		    "level, index, condition and elasticity, fewer than %zu",
		    n, t->min_rows);
	fitted = ecalloc(n, sizeof(double));
	scratch = ecalloc(n, sizeof(double));
	m = &ver->models[ver->nmodels++];
	memset(m, 0, sizeof(*m));
	name_terms(m, "seed", "*", seed_terms, SEED_NTERMS);
	if ((bad = fit("seed", r, use, "ols", m, fitted)) < 0)
		ver->nmodels--;
	else
		m->mdape = mdape(fitted, r->price, n, scratch);
	free(fitted);
	free(scratch);
	return bad;
}

static void
show(const struct version *ver)
{
	const struct model *m;
	int i, j;

	for (i = 0; i < ver->nmodels; i++) {
		m = &ver->models[i];
		fprintf(stderr, "cv-train: %s %s (%s): n %lld", m->kind,
		    m->class, m->method, (long long)m->n);
		if (!isnan(m->r2))
			fprintf(stderr, ", R2 %.4f, RMSE %.4g, MdAPE %.2f%%",
			    m->r2, m->rmse, 100 * m->mdape);
		else if (!isnan(m->mdape))
			fprintf(stderr, ", MdAPE %.2f%%", 100 * m->mdape);
		if (m->bytes != NULL)
			fprintf(stderr, ", %zu bytes of model", m->nbytes);
		fputc('\n', stderr);
		/* A learner of its own bytes has no coefficients. */
		for (j = 0; m->bytes == NULL && j < m->nterms; j++)
			fprintf(stderr, "cv-train:   %-14s %12.6g  se %.3g\n",
			    m->terms[j], m->coef[j], isnan(m->cov[j * m->nterms
			    + j]) ? NAN : sqrt(m->cov[j * m->nterms + j]));
	}
}

static int64_t
time_arg(int c, const char *s)
{
	int64_t ms;
	const char *why;

	if (time_parse(s, NULL, &ms, &why) < 0) {
		warnx("-%c: %s: %s", c, s, why);
		usage(stderr);
		exit(2);
	}
	return ms;
}


static void
kinds_arg(struct train *t, const char *list)
{
	char *copy = estrdup(list), *p, *save = NULL;

	t->hedonic = t->seed = t->gbm = 0;
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",",
	    &save)) {
		if (strcmp(p, "hedonic") == 0)
			t->hedonic = 1;
		else if (strcmp(p, "seed") == 0)
			t->seed = 1;
		else if (strcmp(p, "gbm") == 0)
			t->gbm = 1;
		else {
			warnx("-k: %s: not hedonic, gbm or seed", p);
			usage(stderr);
			exit(2);
		}
	}
	free(copy);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "since",     required_argument, NULL, 'a' },
		{ "on-error",  required_argument, NULL, 'e' },
		{ "help",      no_argument,	  NULL, 'h' },
		{ "interval",  required_argument, NULL, 'i' },
		{ "kinds",     required_argument, NULL, 'k' },
		{ "min-class", required_argument, NULL, 'l' },
		{ "models",    required_argument, NULL, 'm' },
		{ "min-rows",  required_argument, NULL, 'n' },
		{ "method",    required_argument, NULL, 'r' },
		{ "before",    required_argument, NULL, 'u' },
		{ "verbose",   no_argument,	  NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct train t = { 0 };
	struct version ver = { 0 };
	struct reader *rd;
	struct src *src;
	struct rec *r;
	struct view *v;
	avro_schema_t fs;
	const char *store = NULL;
	sqlite3 *db;
	char *input = NULL, *p;
	int c, i, rc, verbose = 0, status, has_until = 0, refused = 0;
	struct timespec wall;

	t.hedonic = t.seed = t.gbm = 1;
	t.method = "huber";
	t.min_rows = 100;
	t.min_class = 30;
	t.interval = 0.9;
	t.from = INT64_MIN;
	t.until = INT64_MAX;
	while ((c = getopt_long(argc, argv,
	    "a:e:hi:k:l:m:n:r:u:v" KAFKA_OPTSTRING, longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			t.from = time_arg(c, optarg);
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'i':
			t.interval = number_arg(c, optarg, 0.01, 0.999, usage);
			break;
		case 'k':
			kinds_arg(&t, optarg);
			break;
		case 'l':
			t.min_class = (size_t)number_arg(c, optarg, 2, 1e9,
			    usage);
			break;
		case 'm':
			store = optarg;
			break;
		case 'n':
			t.min_rows = (size_t)number_arg(c, optarg, 2, 1e12,
			    usage);
			break;
		case 'r':
			if (strcmp(optarg, "ols") != 0 &&
			    robust_type(optarg) == NULL) {
				warnx("-r: %s: not ols, huber, bisquare, "
				    "cauchy, fair or welsch", optarg);
				usage(stderr);
				return 2;
			}
			t.method = optarg;
			break;
		case 'u':
			t.until = time_arg(c, optarg);
			has_until = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (t.gbm && !t.hedonic) {
		warnx("-k: gbm extends hedonic's blend: fit them together");
		usage(stderr);
		return 2;
	}
	if (store == NULL || (!t.hedonic && !t.seed)) {
		warnx(store ? "-k: no model to fit" : "-m: a model store is "
		    "needed");
		usage(stderr);
		return 2;
	}
	run_init();
	gsl_set_error_handler_off();
	fs = schema_get("Features");
	for (i = 0; i < F_COUNT; i++)
		t.fx[i] = field_pos(fs, features[i].name, features[i].type,
		    "cv-train");
	for (i = 0; i < GBM_NFIELDS; i++)
		t.gpos[i] = field_pos(fs, gbm_fields[i].name, gbm_fields[i].type,
		    "cv-train");
	t.valid = valid_new(features, t.fx, F_COUNT);
	t.h.p = HEDONIC_NTERMS;
	t.s.p = SEED_NTERMS;
	t.first = INT64_MAX;
	t.last = INT64_MIN;
	rd = reader_new(fs);
	src = src_open(argv + optind, argc - optind, "Features");
	src_lazy(src);
	while ((rc = src_next(src, &r)) > 0) {
		if ((v = reader_view(rd, r)) != NULL) {
			if ((i = take(&t, r, v)) == -2) {
				rc = -1;
				break;
			}
			if (i == 0)
				run_tally.absorbed++;
		}
		src_ack(src, r);
	}
	src_close(src);
	reader_free(rd);
	valid_free(t.valid);
	if (rc < 0)
		errx(1, "input failed; the model store is unchanged");
	if (run_stop) {
		/* A model of part of the input would pass for one of all. */
		warnx("stopped by a signal; the model store is unchanged");
		rows_free(&t.h);
		rows_free(&t.s);
		gbm_rows_free(&t.g);
		free(t.by);
		free(t.bx);
		free(t.bc);
		schema_cleanup();
		return reject_finish(verbose);
	}
	/* hedonic, the calibrations (all and at most 8 levels), 3 blends,
	 * gbm, seed */
	ver.models = ecalloc(20, sizeof(*ver.models));
	t.verbose = verbose;
	if (t.hedonic && train_hedonic(&t, &ver) < 0)
		refused = 1;
	else if (t.hedonic) {
		train_blend(&t, &ver);
		if (t.gbm)
			train_gbm(&t, &ver);
	}
	if (t.seed && train_seed(&t, &ver) < 0)
		refused = 1;
	if (ver.nmodels == 0)
		errx(1, "%s: nothing written", store);
	clock_gettime(CLOCK_REALTIME, &wall);
	ver.trained_at = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	ver.data_from = t.first;
	ver.data_to = has_until ? t.until : t.last + 1;
	ver.rows = t.used;
	for (i = optind; i < argc; i++) {
		p = easprintf("%s%s%s", input ? input : "", input ? " " : "",
		    argv[i]);
		free(input);
		input = p;
	}
	ver.input = input ? input : estrdup("-");
	db = models_open(store);
	models_save(db, &ver);
	sqlite3_close(db);
	if (verbose) {
		show(&ver);
		warnx("%s: version %d from %lld rows", store, ver.version,
		    (long long)ver.rows);
	}
	version_free(&ver);
	rows_free(&t.h);
	rows_free(&t.s);
	gbm_rows_free(&t.g);
	free(t.by);
	free(t.bx);
	free(t.bc);
	schema_cleanup();
	status = reject_finish(verbose);
	return refused ? 1 : status;
}
