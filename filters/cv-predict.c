/*
 * cv-predict: value each vehicle from its features.  Reads Features and
 * writes Valuation records: the features followed by a value with a
 * prediction interval, a value one month ahead, and two naive baselines
 * (the last price of this vehicle or its segment, as it was and moved by
 * the index), naming the model and its version in the model store.
 *
 * hedonic (default): ln value = ln pooled_value where cv-features had a
 *     pooled model (calibration class "pooled"), else ln price_level +
 *     cohort_offset + region_offset + the store's global adjustment g(x)'b + the shift of
 *     the decay level's calibration; the interval from the fit's residual
 *     sigma and parameter uncertainty, scaled by that calibration.
 *     A pooled value is blended with the comparables (comps_value) and
 *     the boosted trees (gbm_value) by the version's blend weights.
 * seed: value = a V + b MPI + c H + d lambda + e, with V the hedonic base
 *     (price_level moved by the offsets), coefficients from the store.
 *
 *	cv-features index.avro sales.avro | cv-predict -m models.db |
 *	    cv-score -g segment
 */
#include <err.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "lib/append.h"
#include "lib/field.h"
#include "lib/gbm.h"
#include "lib/kafka.h"
#include "lib/models.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/valid.h"

/* Added fields, by name, resolved against the Valuation schema. */
enum {
	A_VALUE, A_LO, A_HI, A_INTERVAL, A_NEXT, A_MODEL, A_VERSION, A_NAIVE,
	A_INDEX, A_GBM, A_COUNT
};
static const char *added_names[A_COUNT] = {
	[A_VALUE] = "value",
	[A_LO] = "value_lo",
	[A_HI] = "value_hi",
	[A_INTERVAL] = "interval",
	[A_NEXT] = "value_next",
	[A_MODEL] = "valuation_model",
	[A_VERSION] = "model_version",
	[A_NAIVE] = "naive_value",
	[A_INDEX] = "index_value",
	[A_GBM] = "gbm_value",
};

/* Features read, and the type each must have (see field_pos). */
enum {
	F_OBSERVED, F_KM, F_COND, F_AGE, F_MPI, F_EL, F_DECAY, F_DECAY_LEVEL,
	F_SIGMA, F_MILEAGE, F_LEVEL, F_LEVEL_LSE, F_PREV, F_PREV_MPI,
	F_COHORT, F_REGION, F_SEG_PRICE, F_SEG_MPI, F_POOLED, F_POOLED_SD,
	F_POOLED_NEXT, F_COMPS_VALUE, F_COMPS_SALES, F_MODEL_N, F_COUNT
};
static const struct field features[F_COUNT] = {
	[F_OBSERVED] = { "observed_at", 'l' },
	[F_KM] = { "mileage_km", 'D' },
	[F_COND] = { "condition", 'D' },
	[F_AGE] = { "age_months", 'd' },
	[F_MPI] = { "mpi", 'D' },
	[F_EL] = { "elasticity", 'D' },
	[F_DECAY] = { "decay_rate", 'D' },
	[F_DECAY_LEVEL] = { "decay_level", 'S' },
	[F_SIGMA] = { "decay_sigma", 'D' },
	[F_MILEAGE] = { "mileage_slope", 'D' },
	[F_LEVEL] = { "price_level", 'D' },
	[F_LEVEL_LSE] = { "price_level_lse", 'D' },
	[F_PREV] = { "prev_value", 'D' },
	[F_PREV_MPI] = { "prev_mpi", 'D' },
	[F_COHORT] = { "cohort_offset", 'D' },
	[F_REGION] = { "region_offset", 'D' },
	[F_SEG_PRICE] = { "segment_last_price", 'D' },
	[F_SEG_MPI] = { "segment_last_mpi", 'D' },
	[F_POOLED] = { "pooled_value", 'D' },
	[F_POOLED_SD] = { "pooled_sd", 'D' },
	[F_POOLED_NEXT] = { "pooled_next", 'D' },
	[F_COMPS_VALUE] = { "comps_value", 'D' },
	[F_COMPS_SALES] = { "comps_sales", 'i' },
	[F_MODEL_N] = { "model_n", 'd' },
};

enum kind { HEDONIC, SEED };

/* A decay level's calibration: a shift of ln value, a scale of sigma. */
struct calib {
	char	 class[MODEL_CLASS_LEN];
	double	 shift, scale;
};

/* What one version of the store says, ready to apply. */
struct valuer {
	int		 version;	/* 0: built-in defaults */
	int64_t		 from;		/* in force for records after this */
	int		 has_adjust;
	double		 adjust[HEDONIC_NTERMS];
	double		 adjust_cov[HEDONIC_NTERMS * HEDONIC_NTERMS];
	struct calib	*calib;		/* the last is class "*" if stored */
	int		 ncalib;
	int		 has_seed;
	double		 seed[SEED_NTERMS];
	double		 seed_cov[SEED_NTERMS * SEED_NTERMS];
	double		 seed_rmse;
	/* The blend's weight of comps_value, by comparables: 1-3, 4-8
	 * (cv-train's classes); NAN if not trained. */
	double		 blend[2];
	/* The boosted trees and their blend weight, if the version has
	 * them (cv-train -k gbm). */
	struct gbm	*gbm;
	double		 gbm_weight;
};

struct predict {
	enum kind	 kind;
	double		 interval, z;
	struct valuer	*valuers;	/* by data_to, oldest first */
	int		 nvaluers;
	int		 point_in_time;
	struct reader	*features;
	struct appender	*out;
	int		 fx[F_COUNT];
	int		 gpos[GBM_NFIELDS];	/* of gbm_fields */
	struct valid	*valid;		/* of the fields read */
	int64_t		 n_unvalued;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-predict [-Pv] [-e on-error] [-i interval] "
	    "[-k hedonic|seed] [-m models.db [-V version]] [-o file] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -e, --on-error X      fail (default), skip, or a file for "
	    "rejects\n"
	    "  -i, --interval P      nominal coverage of value_lo..value_hi "
	    "(0.9)\n"
	    "  -k, --kind K          hedonic (default) or seed\n"
	    "  -m, --models FILE     model store written by cv-train (else "
	    "built-in\n"
	    "                        defaults: no adjustment, version 0)\n"
	    "  -P, --point-in-time   value each record with the latest "
	    "version trained\n"
	    "                        on data before it (backtests)\n"
	    "  -V, --version N       use version N (default: the latest)\n"
	    "  -o, --output FILE     write there instead of stdout\n"
	    "  -v, --verbose         counts and rate on stderr\n"
	    "  -h, --help            this help\n");
	kafka_help(stdout);
}

/* The version's boosted trees and their weight; exits if damaged. */
static void
gbm_from(struct valuer *vr, const struct version *ver, const struct model *m)
{
	const struct model *w = version_model(ver, "blend", "gbm");
	char err[512];

	model_check_terms(m, ver->version, gbm_terms, GBM_NTERMS);
	if (m->bytes == NULL)
		errx(1, "model store version %d: gbm: no model bytes",
		    ver->version);
	if (w == NULL || !(w->coef[0] >= 0 && w->coef[0] <= 1))
		errx(1, "model store version %d: gbm: no blend weight in "
		    "0..1", ver->version);
	if ((vr->gbm = gbm_load(m->bytes, m->nbytes, err, sizeof(err))) ==
	    NULL)
		errx(1, "model store version %d: gbm: %s", ver->version, err);
	vr->gbm_weight = w->coef[0];
}

/* A stored version, made ready to apply; exits if it does not fit. */
static void
valuer_from(struct valuer *vr, const struct version *ver, enum kind kind)
{
	const struct model *m;
	int i;

	memset(vr, 0, sizeof(*vr));
	vr->blend[0] = vr->blend[1] = NAN;
	vr->version = ver->version;
	vr->from = ver->data_to;
	if ((m = version_model(ver, "hedonic", "*")) != NULL) {
		model_check_terms(m, ver->version, hedonic_terms,
		    HEDONIC_NTERMS);
		vr->has_adjust = 1;
		memcpy(vr->adjust, m->coef, sizeof(vr->adjust));
		memcpy(vr->adjust_cov, m->cov, sizeof(vr->adjust_cov));
	}
	for (i = 0; i < ver->nmodels; i++) {
		m = &ver->models[i];
		if (strcmp(m->kind, "calibration") != 0)
			continue;
		if (m->nterms != 2 || strcmp(m->terms[0], "shift") != 0 ||
		    strcmp(m->terms[1], "scale") != 0)
			errx(1, "model store version %d: calibration %s: "
			    "terms are not shift, scale", ver->version,
			    m->class);
		vr->calib = erealloc(vr->calib, ((size_t)vr->ncalib + 1) *
		    sizeof(*vr->calib));
		snprintf(vr->calib[vr->ncalib].class,
		    sizeof(vr->calib->class), "%s", m->class);
		vr->calib[vr->ncalib].shift = m->coef[0];
		vr->calib[vr->ncalib++].scale = m->coef[1];
	}
	for (i = 0; i < 2; i++) {
		static const char *const terms[1] = { "comps" };

		if ((m = version_model(ver, "blend", i ? "4-8" : "1-3")) ==
		    NULL)
			continue;
		model_check_terms(m, ver->version, terms, 1);
		if (!(m->coef[0] >= 0 && m->coef[0] <= 1))
			errx(1, "model store version %d: blend %s: weight %g "
			    "is not in 0..1", ver->version, m->class,
			    m->coef[0]);
		vr->blend[i] = m->coef[0];
	}
	if ((m = version_model(ver, "gbm", "*")) != NULL)
		gbm_from(vr, ver, m);
	if ((m = version_model(ver, "seed", "*")) != NULL) {
		model_check_terms(m, ver->version, seed_terms, SEED_NTERMS);
		vr->has_seed = 1;
		memcpy(vr->seed, m->coef, sizeof(vr->seed));
		memcpy(vr->seed_cov, m->cov, sizeof(vr->seed_cov));
		vr->seed_rmse = m->rmse;
	}
	if (kind == SEED ? !vr->has_seed : !vr->has_adjust)
		errx(1, "model store version %d has no %s model",
		    ver->version, kind == SEED ? "seed" : "hedonic");
}

static int
by_from(const void *a, const void *b)
{
	const struct valuer *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->version - y->version;
}

static void
load_models(struct predict *p, const char *path, int version)
{
	sqlite3 *db = models_open_readonly(path);
	struct version *all, one;
	const char *kind = p->kind == SEED ? "seed" : "hedonic";
	int n, i;

	if (p->point_in_time) {
		if ((n = models_load_all(db, kind, &all)) == 0)
			errx(1, "%s: no version with a %s model; run cv-train "
			    "first", path, kind);
		/* Before the first version: the built-in defaults. */
		p->valuers = ecalloc((size_t)n + 1, sizeof(*p->valuers));
		p->valuers[0].from = INT64_MIN;
		for (i = 0; i < n; i++)
			valuer_from(&p->valuers[i + 1], &all[i], p->kind);
		p->nvaluers = n + 1;
		versions_free(all, n);
		/* Versions may have been trained out of time order. */
		qsort(p->valuers + 1, (size_t)n, sizeof(*p->valuers),
		    by_from);
	} else {
		if (models_load(db, version, kind, &one) < 0) {
			if (version)
				errx(1, "%s: no version %d", path, version);
			errx(1, "%s: no version with a %s model; run cv-train "
			    "first", path, kind);
		}
		p->valuers = ecalloc(1, sizeof(*p->valuers));
		valuer_from(&p->valuers[0], &one, p->kind);
		p->nvaluers = 1;
		version_free(&one);
	}
	sqlite3_close(db);
}

/* The valuer in force for a record observed at t. */
static const struct valuer *
valuer_at(const struct predict *p, int64_t t)
{
	int lo = 0, hi = p->nvaluers - 1, mid;

	if (!p->point_in_time)
		return &p->valuers[0];
	/* The last whose data ended at or before t. */
	while (lo < hi) {
		mid = (lo + hi + 1) / 2;
		if (p->valuers[mid].from <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &p->valuers[lo];
}

static const struct calib *
calib_of(const struct valuer *vr, const char *class)
{
	const struct calib *all = NULL;
	int i;

	for (i = 0; i < vr->ncalib; i++) {
		if (strcmp(vr->calib[i].class, class) == 0)
			return &vr->calib[i];
		if (strcmp(vr->calib[i].class, "*") == 0)
			all = &vr->calib[i];
	}
	return all;
}

/* x'Cx for a symmetric n x n C. */
static double
quad(const double *x, const double *c, int n)
{
	double s = 0;
	int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			s += x[i] * c[i * n + j] * x[j];
	return s;
}

static double
dot(const double *a, const double *b, int n)
{
	double s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* A nullable double as 0 when null. */
static double
or0(double d)
{
	return isnan(d) ? 0 : d;
}

/* The boosted trees' ln value of n rows; a failure of XGBoost on a
 * model it loaded is not the records' fault: exit. */
static void
trees(const struct valuer *vr, const float *x, const float *margin,
    size_t n, double *lg)
{
	char err[512];

	if (gbm_predict(vr->gbm, x, margin, n, lg, err, sizeof(err)) < 0)
		errx(1, "model store version %d: gbm: %s", vr->version, err);
}

/* The boosted trees' value of a record with a pooled value, alone. */
static double
tree_value(const struct predict *p, const struct valuer *vr,
    const struct view *v)
{
	float x[GBM_NTERMS], margin;
	double lg;

	if (gbm_row(v, p->gpos, x, &margin) < 0)
		return NAN;
	trees(vr, x, &margin, 1, &lg);
	return exp(lg);
}

/*
 * The hedonic value: ln value, its sigma and ln value a month on
 * (and the boosted trees' value in *gbm, if the version has them: the
 * caller's if it is not NAN, else computed); -1 if the features have no
 * fitted price.
 */
static int
hedonic(const struct predict *p, const struct valuer *vr,
    const struct view *v, double *lnv, double *sd, double *lnnext,
    double *gbm)
{
	const int *fx = p->fx;
	double level = view_opt_double(v, fx[F_LEVEL]);
	double sigma = or0(view_opt_double(v, fx[F_SIGMA]));
	double lse = or0(view_opt_double(v, fx[F_LEVEL_LSE]));
	double km = view_opt_double(v, fx[F_KM]);
	double cond = view_opt_double(v, fx[F_COND]);
	double age = view_double(v, fx[F_AGE]);
	double x[HEDONIC_NTERMS], xn[HEDONIC_NTERMS], var, km_month;
	double pooled = view_opt_double(v, fx[F_POOLED]), comps, w, d;
	int64_t n;
	const struct calib *c;
	char class[MODEL_CLASS_LEN];

	km_month = !isnan(km) && age >= 1 ? km / age : 0;
	if (pooled > 0) {
		/* The pooled model's, where cv-features had one. */
		*lnv = log(pooled);
		var = pow(or0(view_opt_double(v, fx[F_POOLED_SD])), 2);
		*lnnext = log(view_opt_double(v, fx[F_POOLED_NEXT]));
		pooled_class(class, sizeof(class), view_double(v,
		    fx[F_MODEL_N]));
		/* Blended with the comparables by the store's weight. */
		comps = view_opt_double(v, fx[F_COMPS_VALUE]);
		n = view_long(v, fx[F_COMPS_SALES]);
		w = n > 0 ? vr->blend[n > 3] : NAN;
		if (comps > 0 && !isnan(w)) {
			*lnv += w * (log(comps) - log(pooled));
			*lnnext += w * (log(comps) - log(pooled));
		}
		/* And with the boosted trees by theirs. */
		if (vr->gbm != NULL) {
			if (isnan(*gbm))
				*gbm = tree_value(p, vr, v);
			d = vr->gbm_weight * (log(*gbm) - *lnv);
			*lnv += d;
			*lnnext += d;
		}
	} else {
		if (isnan(level) || level <= 0)
			return -1;
		*lnv = log(level) + or0(view_opt_double(v, fx[F_COHORT])) +
		    or0(view_opt_double(v, fx[F_REGION]));
		var = sigma * sigma + lse * lse;
		/* A month on: a month older, a month's more kilometres at
		 * its own pace, the index where it is (its best forecast). */
		*lnnext = *lnv - or0(view_opt_double(v, fx[F_DECAY])) / 12 +
		    or0(view_opt_double(v, fx[F_MILEAGE])) * km_month / 1e4;
		view_opt_string(v, fx[F_DECAY_LEVEL], class, sizeof(class));
	}
	/* The pooled model was fitted on the latest sales, robustly and
	 * with curvature: last month's adjustment and shift of its
	 * residuals would only move it back; its interval is calibrated. */
	if (vr->has_adjust && !(pooled > 0)) {
		hedonic_x(x, cond, age, km);
		hedonic_x(xn, cond, age + 1, isnan(km) ? km : km + km_month);
		*lnv += dot(vr->adjust, x, HEDONIC_NTERMS);
		*lnnext += dot(vr->adjust, xn, HEDONIC_NTERMS);
		var += quad(x, vr->adjust_cov, HEDONIC_NTERMS);
	}
	*sd = sqrt(var);
	if ((c = calib_of(vr, class)) != NULL) {
		if (!(pooled > 0)) {
			*lnv += c->shift;
			*lnnext += c->shift;
		}
		*sd *= c->scale;
	}
	return 0;
}

/* The seed value, its standard error and a month on; -1 if a term is
 * missing or the value is not positive. */
static int
seed(const struct predict *p, const struct valuer *vr, const struct view *v,
    double lnbase, double *val, double *se, double *next)
{
	const int *fx = p->fx;
	double mpi = view_opt_double(v, fx[F_MPI]);
	double cond = view_opt_double(v, fx[F_COND]);
	double el = view_opt_double(v, fx[F_EL]);
	double x[SEED_NTERMS];

	if (isnan(mpi) || isnan(cond) || isnan(el))
		return -1;
	seed_x(x, exp(lnbase), mpi, cond, el);
	*val = dot(vr->seed, x, SEED_NTERMS);
	*se = sqrt(quad(x, vr->seed_cov, SEED_NTERMS) + vr->seed_rmse *
	    vr->seed_rmse);
	/* V(t+2) from V(t+1): the formula once more, the rest held. */
	x[1] = *val;
	*next = dot(vr->seed, x, SEED_NTERMS);
	return *val > 0 ? 0 : -1;
}

/* Check a record; -1 if it was rejected, -2 to stop, else 0. */
static int
check_one(struct predict *p, struct rec *r, const struct view *v)
{
	const char *why;

	if (valid_check(p->valid, v, &why) >= 0)
		return reject(rec_where(r), 1, NULL, 0, rec_value(r), "%s",
		    why) < 0 ? -2 : -1;
	if (view_text_len(v, p->fx[F_DECAY_LEVEL], 1) >= MODEL_CLASS_LEN)
		return reject(rec_where(r), 1, NULL, 0, rec_value(r),
		    "decay_level: longer than %d bytes", MODEL_CLASS_LEN - 1) <
		    0 ? -2 : -1;
	return 0;
}

/* Value a checked record and write it; gbm the trees' value if the
 * caller has it (a batch), else NAN. */
static void
value_checked(struct predict *p, const struct view *v, struct sink *sink,
    double gbm)
{
	const int *fx = p->fx;
	const struct valuer *vr = valuer_at(p, view_long(v, fx[F_OBSERVED]));
	struct slot sl[A_COUNT];
	double lnv, sd, lnnext, val, se, next, naive, nmpi, mpi;
	int ok;

	memset(sl, 0, sizeof(sl));
#define SET(f, h, val)	(sl[f].has = (h), sl[f].d = (h) ? (val) : 0)
	ok = hedonic(p, vr, v, &lnv, &sd, &lnnext, &gbm) == 0;
	if (ok && p->kind == HEDONIC) {
		SET(A_VALUE, 1, exp(lnv));
		SET(A_LO, 1, exp(lnv - p->z * sd));
		SET(A_HI, 1, exp(lnv + p->z * sd));
		SET(A_NEXT, 1, exp(lnnext));
	} else if (p->kind == SEED && (ok = ok && vr->has_seed)) {
		/* The seed model starts from the base, not the adjustment:
		 * the pooled value, else the level moved by the offsets. */
		if (view_opt_double(v, fx[F_POOLED]) > 0)
			lnv = log(view_opt_double(v, fx[F_POOLED]));
		else
			lnv = log(view_opt_double(v, fx[F_LEVEL])) +
			    or0(view_opt_double(v, fx[F_COHORT])) +
			    or0(view_opt_double(v, fx[F_REGION]));
		ok = seed(p, vr, v, lnv, &val, &se, &next) == 0;
		SET(A_VALUE, ok, val);
		SET(A_LO, ok, fmax(val - p->z * se, 0));
		SET(A_HI, ok, val + p->z * se);
		SET(A_NEXT, ok && next > 0, next);
	}
	p->n_unvalued += !ok;
	SET(A_INTERVAL, 1, p->interval);
	sl[A_MODEL].has = 1;
	sl[A_MODEL].s = p->kind == SEED ? "seed" : "hedonic";
	SET(A_VERSION, 1, vr->version);
	/* Baselines: this vehicle's last price, else its segment's. */
	naive = view_opt_double(v, fx[F_PREV]);
	nmpi = view_opt_double(v, fx[F_PREV_MPI]);
	if (isnan(naive)) {
		naive = view_opt_double(v, fx[F_SEG_PRICE]);
		nmpi = view_opt_double(v, fx[F_SEG_MPI]);
	}
	mpi = view_opt_double(v, fx[F_MPI]);
	SET(A_NAIVE, !isnan(naive), naive);
	SET(A_INDEX, !isnan(naive) && !isnan(nmpi) && !isnan(mpi) && nmpi > 0,
	    naive * mpi / nmpi);
	SET(A_GBM, p->kind == HEDONIC && !isnan(gbm), gbm);
#undef SET
	appender_put(p->out, sink, v, sl);
}

/*
 * Records held for the boosted trees: XGBoost takes some 20 us a call,
 * 2 us a row in a batch of hundreds.  The checked records' bytes wait
 * here, in order, until BATCH of them, the input's pause (run_idle)
 * or its end; then the trees value them in one call per version, and
 * they are written and acknowledged in order.
 */
#define BATCH	512
struct batch {
	struct predict	*p;
	struct src	*src;
	struct sink	*sink;
	struct buf	 bytes;
	size_t		 off[BATCH + 1];
	struct rec	 rec[BATCH];	/* for src_ack: origin, partition */
	float		 x[BATCH * GBM_NTERMS], margin[BATCH];
	double		 lg[BATCH];
	struct view	 view[BATCH];
	int		 n;
	int		 flushing;	/* a sink's wait calls run_idle */
};

/* The trees' values of the run's n rows, into gbm[] of their records. */
static void
trees_run(const struct valuer *vr, struct batch *b, int n, const int *at,
    double *gbm)
{
	int i;

	trees(vr, b->x, b->margin, (size_t)n, b->lg);
	for (i = 0; i < n; i++)
		gbm[at[i]] = exp(b->lg[i]);
}

static void
batch_add(struct batch *b, const struct rec *r, const struct view *v)
{
	buf_add(&b->bytes, v->p, v->off[v->nfields]);
	b->rec[b->n++] = *r;
	b->off[b->n] = b->bytes.len;
}

static void
batch_flush(void *arg)
{
	struct batch *b = arg;
	struct predict *p = b->p;
	const struct valuer *vr, *run = NULL;
	const char *why;
	double gbm[BATCH];
	int i, n = 0, at[BATCH];

	if (b->flushing || b->n == 0)
		return;
	b->flushing = 1;
	/* The views now: the bytes no longer move.  The trees' rows go in
	 * runs of one version (one run, unless -P crosses a version). */
	for (i = 0; i < b->n; i++) {
		if (view_parse(&b->view[i], reader_walker(p->features),
		    b->bytes.p + b->off[i], b->off[i + 1] - b->off[i], &why) <
		    0)
			errx(1, "held record: %s", why);
		gbm[i] = NAN;
		vr = valuer_at(p, view_long(&b->view[i], p->fx[F_OBSERVED]));
		if (vr->gbm == NULL || gbm_row(&b->view[i], p->gpos, b->x +
		    n * GBM_NTERMS, &b->margin[n]) < 0)
			continue;
		if (run != NULL && vr != run) {
			/* This row starts the next run: move it there. */
			trees_run(run, b, n, at, gbm);
			memmove(b->x, b->x + n * GBM_NTERMS, GBM_NTERMS *
			    sizeof(*b->x));
			b->margin[0] = b->margin[n];
			n = 0;
		}
		run = vr;
		at[n++] = i;
	}
	if (n > 0)
		trees_run(run, b, n, at, gbm);
	for (i = 0; i < b->n; i++) {
		/* NAN for a record without the trees: hedonic() asks them
		 * itself only where the version has them and the record a
		 * pooled value, which the loop above has done. */
		value_checked(p, &b->view[i], b->sink, gbm[i]);
		src_ack(b->src, &b->rec[i]);
	}
	b->n = 0;
	buf_clear(&b->bytes);
	b->flushing = 0;
}

/*
 * Make p ready to value records (its kind, interval and point_in_time set):
 * the model store's versions (version 0: the latest; no store: the
 * built-in defaults), the fields read and the appender.  cv-serve calls
 * it too (filters/cv-serve/predict.c).
 */
static void
predict_setup(struct predict *p, const char *models, int version)
{
	avro_schema_t fs;
	int i;

	p->z = gsl_cdf_ugaussian_Pinv((1 + p->interval) / 2);
	if (models != NULL)
		load_models(p, models, version);
	else {
		p->valuers = ecalloc(1, sizeof(*p->valuers));
		p->nvaluers = 1;
	}
	fs = schema_get("Features");
	for (i = 0; i < F_COUNT; i++)
		p->fx[i] = field_pos(fs, features[i].name, features[i].type,
		    "cv-predict");
	for (i = 0; i < GBM_NFIELDS; i++)
		p->gpos[i] = field_pos(fs, gbm_fields[i].name, gbm_fields[i].type,
		    "cv-predict");
	p->valid = valid_new(features, p->fx, F_COUNT);
	p->features = reader_new(fs);
	p->out = appender_new(fs, schema_get("Valuation"), added_names,
	    A_COUNT, "cv-predict");
}

static void
predict_free(struct predict *p)
{
	int i;

	reader_free(p->features);
	valid_free(p->valid);
	appender_free(p->out);
	for (i = 0; i < p->nvaluers; i++) {
		free(p->valuers[i].calib);
		gbm_free(p->valuers[i].gbm);
	}
	free(p->valuers);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "on-error",	   required_argument, NULL, 'e' },
		{ "help",	   no_argument,	      NULL, 'h' },
		{ "interval",	   required_argument, NULL, 'i' },
		{ "kind",	   required_argument, NULL, 'k' },
		{ "models",	   required_argument, NULL, 'm' },
		{ "output",	   required_argument, NULL, 'o' },
		{ "point-in-time", no_argument,	      NULL, 'P' },
		{ "version",	   required_argument, NULL, 'V' },
		{ "verbose",	   no_argument,	      NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct predict p = { 0 };
	struct sink *sink;
	struct src *src;
	struct rec *r;
	struct view *v;
	const char *out = NULL, *models = NULL;
	int c, rc, verbose = 0, version = 0, status, i, batched = 0;
	double t0 = now_seconds();
	struct batch *batch;

	p.kind = HEDONIC;
	p.interval = 0.9;
	while ((c = getopt_long(argc, argv, "e:hi:k:m:o:PV:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'i':
			p.interval = number_arg(c, optarg, 0.01, 0.999, usage);
			break;
		case 'k':
			if (strcmp(optarg, "hedonic") == 0)
				p.kind = HEDONIC;
			else if (strcmp(optarg, "seed") == 0)
				p.kind = SEED;
			else {
				warnx("-k: %s: not hedonic or seed", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'm':
			models = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'P':
			p.point_in_time = 1;
			break;
		case 'V':
			version = (int)number_arg(c, optarg, 1, INT_MAX, usage);
			if (version != atof(optarg)) {
				warnx("-V: %s: not a whole number", optarg);
				usage(stderr);
				return 2;
			}
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
	if ((version || p.point_in_time) && models == NULL) {
		warnx("-%c: needs a model store (-m)", version ? 'V' : 'P');
		usage(stderr);
		return 2;
	}
	if (version && p.point_in_time) {
		warnx("-V and -P: choose one");
		usage(stderr);
		return 2;
	}
	if (models == NULL && p.kind == SEED) {
		warnx("-k seed: needs a model store (-m) with a seed model");
		usage(stderr);
		return 2;
	}
	run_init();
	predict_setup(&p, models, version);
	sink = sink_open(out, schema_text("Valuation"));
	src = src_open(argv + optind, argc - optind, "Features");
	src_lazy(src);
	batch = ecalloc(1, sizeof(*batch));
	batch->p = &p;
	batch->src = src;
	batch->sink = sink;
	for (i = 0; i < p.nvaluers; i++)
		batched |= p.valuers[i].gbm != NULL;
	if (batched)
		run_on_idle(batch_flush, batch);
	while ((rc = src_next(src, &r)) > 0) {
		if ((v = reader_view(p.features, r)) == NULL) {
			src_ack(src, r);
			continue;
		}
		if ((i = check_one(&p, r, v)) == -2) {
			rc = -1;
			break;
		}
		if (i == 0 && batched) {
			batch_add(batch, r, v);
			if (batch->n == BATCH)
				batch_flush(batch);
			continue;
		}
		/* In order: what waits goes first. */
		if (batch->n > 0)
			batch_flush(batch);
		if (i == 0)
			value_checked(&p, v, sink, NAN);
		src_ack(src, r);
	}
	/* What was read before a stop or the end is written. */
	if (batch->n > 0)
		batch_flush(batch);
	buf_free(&batch->bytes);
	free(batch);
	sink_close(sink);
	src_close(src);
	predict_free(&p);
	schema_cleanup();
	if (verbose)
		warnx("%lld records without a value (no fitted price or a "
		    "missing term)", (long long)p.n_unvalued);
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f records/s", run_tally.read / (now_seconds() - t0));
	return rc < 0 ? 1 : status;
}
