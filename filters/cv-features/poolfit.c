/*
 * cv-features: fitting the pooled model (see pool.h).  Backfitting: the
 * curve by weighted least squares on what the effects leave, then each
 * group's levels in closed form, u = sum w z r / (sum w z^2 + prior),
 * sweep after sweep, the Huber weights of the residuals renewed each
 * sweep (iteratively reweighted least squares).  Warm-started from the
 * previous fit, a few sweeps follow the new sales.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "lib/stream.h"
#include "pool.h"

/* Sweeps, at most: as many as the first fit's for a refit whose new
 * sales are all of them, down to MIN_SWEEPS for a few more. */
#define FIRST_SWEEPS	40
#define MIN_SWEEPS	4
#define CONVERGED	1e-5	/* largest change of an effect, ln units */
#define CURVE_PRIOR	1.0	/* ridge on the curve's terms but the first */
#define POOL_EB_LEVELS	10	/* the table's spread counts as so many */
#define WEEK_DRIFT_FLOOR (0.025 * 0.025 / 52)
#define POOL_EB_MIN_PRIOR 0.1
#define POOL_EB_MAX_PRIOR 1000.0

/* Drop what forgetting has made worthless, and the oldest beyond the
 * cap (the rows are in time order). */
static void
prune(struct pool *p, double t_end)
{
	double oldest = t_end - POOL_PRUNE_HALF_LIVES * POOL_HALF_LIFE;
	size_t drop = 0;

	while (drop < p->nrows && p->rows[drop].t_days < oldest)
		drop++;
	if (p->nrows - drop > POOL_MAX_ROWS)
		drop = p->nrows - POOL_MAX_ROWS;
	if (drop == 0)
		return;
	memmove(p->rows, p->rows + drop, (p->nrows - drop) *
	    sizeof(*p->rows));
	p->nrows -= drop;
	p->row_base += (int64_t)drop;
}

/* The curve given the effects: weighted least squares with a ridge. */
static void
fit_curve(struct pool *p, const double *w, double *r)
{
	double a[POOL_NCURVE * POOL_NCURVE], b[POOL_NCURVE], d[POOL_NCURVE];
	gsl_matrix_view A = gsl_matrix_view_array(a, POOL_NCURVE,
	    POOL_NCURVE);
	gsl_vector_view B = gsl_vector_view_array(b, POOL_NCURVE);
	gsl_vector_view D = gsl_vector_view_array(d, POOL_NCURVE);
	const struct pool_row *row;
	double sw = 0, rr;
	size_t i;
	int j, k;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	for (i = 0; i < p->nrows; i++) {
		row = &p->rows[i];
		sw += w[i];
		for (j = 0; j < POOL_NCURVE; j++) {
			b[j] += w[i] * row->x[j] * r[i];
			for (k = 0; k <= j; k++)
				a[j * POOL_NCURVE + k] += w[i] * row->x[j] *
				    row->x[k];
		}
	}
	for (j = 0; j < POOL_NCURVE; j++) {
		for (k = 0; k < j; k++)
			a[k * POOL_NCURVE + j] = a[j * POOL_NCURVE + k];
		a[j * POOL_NCURVE + j] += j == 0 ? 1e-9 * sw : CURVE_PRIOR;
		/* The change's ridge is on the coefficient itself. */
		if (j > 0)
			b[j] -= CURVE_PRIOR * p->beta[j];
	}
	if (gsl_linalg_cholesky_decomp1(&A.matrix) != 0 ||
	    gsl_linalg_cholesky_solve(&A.matrix, &B.vector, &D.vector) != 0)
		return;		/* degenerate: keep the curve as it was */
	for (j = 0; j < POOL_NCURVE; j++)
		p->beta[j] += d[j];
	for (i = 0; i < p->nrows; i++) {
		row = &p->rows[i];
		for (rr = 0, j = 0; j < POOL_NCURVE; j++)
			rr += d[j] * row->x[j];
		r[i] -= rr;
	}
}

/*
 * The rows' levels and covariates by column, for the sweeps: a group's
 * pass reads its key's levels and its covariate, not whole rows (the
 * same sums in the same order, a fraction of the memory traffic).
 */
struct columns {
	int32_t	*lv[PK_COUNT];
	float	*z[4];
};

static void
columns_make(struct columns *c, const struct pool *p)
{
	size_t i;
	int k;

	for (k = 0; k < PK_COUNT; k++)
		c->lv[k] = emalloc((p->nrows + 1) * sizeof(*c->lv[k]));
	for (k = 0; k < 4; k++)
		c->z[k] = emalloc((p->nrows + 1) * sizeof(*c->z[k]));
	for (i = 0; i < p->nrows; i++) {	/* one pass over the rows */
		for (k = 0; k < PK_COUNT; k++)
			c->lv[k][i] = p->rows[i].lv[k];
		for (k = 0; k < 4; k++)
			c->z[k][i] = p->rows[i].z[k];
	}
}

static void
columns_free(struct columns *c)
{
	int k;

	for (k = 0; k < PK_COUNT; k++)
		free(c->lv[k]);
	for (k = 0; k < 4; k++)
		free(c->z[k]);
}

/* One group's levels given everything else; the largest change. */
static double
fit_group(struct pool *p, const struct columns *c, int g, const double *w,
    double *r, double *num, double *den)
{
	int key = pool_groups[g].key, n, l;
	const int32_t *lv = c->lv[key];
	const float *zz = c->z[pool_groups[g].z];
	double *u = p->u[g], z, change = 0, nu;
	size_t i;

	n = p->keys[key].n;
	memset(num, 0, (size_t)n * sizeof(*num));
	memset(den, 0, (size_t)n * sizeof(*den));
	for (i = 0; i < p->nrows; i++) {
		if ((l = lv[i]) < 0)
			continue;
		z = zz[i];
		num[l] += w[i] * z * (r[i] + z * u[l]);
		den[l] += w[i] * z * z;
	}
	for (l = 0; l < n; l++) {
		nu = num[l] / (den[l] + p->prior[g]);
		num[l] = nu - u[l];	/* now the change */
		change = fmax(change, fabs(num[l]));
		u[l] = nu;
		p->den[g][l] = den[l];
	}
	for (i = 0; i < p->nrows; i++)
		if ((l = lv[i]) >= 0)
			r[i] -= zz[i] * num[l];
	return change;
}

/* The residuals' scale, robustly: 1.4826 times the median |r|. */
static double
robust_sigma(const double *r, size_t n)
{
	double *a = emalloc(n * sizeof(*a)), s;
	size_t i;

	for (i = 0; i < n; i++)
		a[i] = fabs(r[i]);
	s = 1.4826 * gsl_stats_median(a, 1, n);	/* (a selection, no sort) */
	free(a);
	return fmax(s, 1e-3);
}

/*
 * The residuals of a fit are smaller than a new sale's noise by the
 * parameters they fed (the spreads above are learned in the fit's own
 * units: so they valued best, on the simulated and the real sales): sigma^2 = RSS / (n - df), with df the effective number of
 * parameters of a ridge fit, sum den / (den + prior) over every level
 * (0 for one the prior holds at 0, 1 for one its sales alone decide),
 * plus the curve's; n the weighted sales.  As a factor on the scale.
 */
static double
dof_correction(const struct pool *p, const double *w)
{
	double n = 0, df = POOL_NCURVE;
	size_t i;
	int g, l, nl;

	for (i = 0; i < p->nrows; i++)
		n += w[i];
	for (g = 0; g < POOL_NGROUPS; g++) {
		nl = p->keys[pool_groups[g].key].n;
		for (l = 0; l < nl; l++)
			df += p->den[g][l] / (p->den[g][l] + p->prior[g]);
	}
	/* Never more than a doubling: a fit near saturation says little. */
	return n > 2 * df ? sqrt(n / (n - df)) : sqrt(2);
}

/*
 * How far the market's level moves in a week beyond the index: the mean
 * squared change of the week effects between weeks with sales, per week
 * apart, less what their own uncertainty puts in it (sigma^2 / (den +
 * prior) each).
 */
static double
week_drift(const struct pool *p)
{
	int g, l, n = p->keys[PK_WEEK].n, prev = -1;
	double s = 0, sw = 0, gap, wk, pwk = 0, s2 = p->sigma * p->sigma, d;

	for (g = 0; pool_groups[g].key != PK_WEEK ||
	    pool_groups[g].z != PZ_ONE; g++)
		;
	/* Levels are made in time order, so weeks come in order. */
	for (l = 0; l < n; l++) {
		if (p->den[g][l] <= 0)
			continue;
		wk = atof(p->keys[PK_WEEK].names[l]);
		if (prev >= 0 && (gap = wk - pwk) > 0) {
			d = p->u[g][l] - p->u[g][prev];
			s += (d * d - s2 / (p->den[g][l] + p->prior[g]) - s2 /
			    (p->den[g][prev] + p->prior[g])) / gap;
			sw += 1;
		}
		prev = l;
		pwk = wk;
	}
	/* Too few weeks say nothing: the floor, which is also the least a
	 * market strays from its index (2.5 % a year, as segments' prices
	 * stray from a national index: (0.025^2 / 52 a week). */
	return sw >= 4 ? fmax(s / sw, WEEK_DRIFT_FLOOR) : WEEK_DRIFT_FLOOR;
}

/*
 * Empirical Bayes: each group's spread between levels, tau^2, from the
 * fit (an EM step: the mean over the levels with sales of u^2 plus its
 * posterior variance), so the prior is sigma^2 / tau^2 in weighted
 * sales.  The spread the table gives counts as POOL_EB_LEVELS levels
 * more (a scaled inverse chi-square prior on tau^2): a group of a few
 * levels keeps about the table's, one of hundreds learns its own.
 */
static void
learn_priors(struct pool *p)
{
	double s2 = p->sigma * p->sigma, tau2, v;
	int g, l, n, nl;
	double n0;

	for (g = 0; g < POOL_NGROUPS; g++) {
		n = p->keys[pool_groups[g].key].n;
		for (tau2 = 0, nl = 0, l = 0; l < n; l++) {
			if (p->den[g][l] <= 0)
				continue;
			v = s2 / (p->den[g][l] + p->prior[g]);
			tau2 += p->u[g][l] * p->u[g][l] + v;
			nl++;
		}
		n0 = POOL_EB_LEVELS;
		tau2 = (tau2 + n0 * s2 / pool_groups[g].prior) / (nl + n0);
		p->prior[g] = fmin(fmax(s2 / tau2, POOL_EB_MIN_PRIOR),
		    POOL_EB_MAX_PRIOR);
	}
}

/*
 * How far off the served sd was: the 90 % quantile of the latest served
 * errors in units of their sd, over the normal's 1.6449 (1 if it was
 * right), out of sample.  The next sds are scaled by it, so a 90 %
 * interval's coverage follows what happened: the noise is learned from
 * residuals a fit has shrunk, and prices have heavier tails than the
 * normal.
 */
#define SD_SALES	1000	/* latest served errors that say it */
static double
served_scale(const struct pool *p)
{
	double *a = emalloc(SD_SALES * sizeof(*a)), s;
	size_t i, n = 0;

	for (i = p->nrows; i > 0 && n < SD_SALES; i--)
		if (!isnan(p->rows[i - 1].zres))
			a[n++] = fabs(p->rows[i - 1].zres);
	if (n < 30) {
		free(a);
		return p->sd_scale;
	}
	gsl_sort(a, 1, n);
	s = a[(size_t)(0.9 * (double)(n - 1))] / 1.6448536269514722;
	free(a);
	/* Served with the scale then in force: the new one is relative. */
	return fmin(fmax(p->sd_scale * s, 0.5), 4);
}

void
pool_fit(struct pool *p)
{
	double t0 = now_seconds(), t_end = -INFINITY, *w, *wh, *r, *num, *den;
	double change, f, a;
	struct columns cols;
	size_t i;
	int g, j, sweep, maxn = 1, sweeps, l;
	const struct pool_row *row;
	char wk[32];

	for (i = 0; i < p->nrows; i++)
		t_end = fmax(t_end, p->rows[i].t_days);
	prune(p, t_end);
	w = emalloc(p->nrows * sizeof(*w));
	wh = emalloc(p->nrows * sizeof(*wh));
	r = emalloc(p->nrows * sizeof(*r));
	for (j = 0; j < PK_COUNT; j++)
		if (p->keys[j].n > maxn)
			maxn = p->keys[j].n;
	num = emalloc((size_t)maxn * sizeof(*num));
	den = emalloc((size_t)maxn * sizeof(*den));
	/* The ages and mileages seen, for clamping predictions. */
	for (j = 0; j < POOL_NCURVE; j++) {
		p->x_lo[j] = INFINITY;
		p->x_hi[j] = -INFINITY;
	}
	for (i = 0; i < p->nrows; i++) {
		row = &p->rows[i];
		w[i] = exp2(-(t_end - row->t_days) / POOL_HALF_LIFE);
		for (j = 0; j < POOL_NCURVE; j++) {
			p->x_lo[j] = fmin(p->x_lo[j], row->x[j]);
			p->x_hi[j] = fmax(p->x_hi[j], row->x[j]);
		}
		f = 0;
		for (j = 0; j < POOL_NCURVE; j++)
			f += p->beta[j] * row->x[j];
		for (g = 0; g < POOL_NGROUPS; g++)
			if ((l = row->lv[pool_groups[g].key]) >= 0)
				f += row->z[pool_groups[g].z] * p->u[g][l];
		r[i] = row->y - f;
	}
	columns_make(&cols, p);
	sweeps = FIRST_SWEEPS;
	if (p->fitted)
		sweeps = (int)fmax(MIN_SWEEPS, fmin(FIRST_SWEEPS, FIRST_SWEEPS *
		    (double)p->since_fit / (double)p->nrows));
	for (sweep = 0; sweep < sweeps; sweep++) {
		/* Huber: a residual beyond delta weighs delta / |r|. */
		for (i = 0; i < p->nrows; i++) {
			a = fabs(r[i]);
			wh[i] = w[i] * (a <= POOL_DELTA ? 1 : POOL_DELTA / a);
		}
		fit_curve(p, wh, r);
		change = 0;
		for (g = 0; g < POOL_NGROUPS; g++)
			change = fmax(change, fit_group(p, &cols, g, wh, r,
			    num, den));
		if (change < CONVERGED)
			break;
	}
	columns_free(&cols);
	p->sigma = robust_sigma(r, p->nrows);
	learn_priors(p);
	p->noise = p->sigma * dof_correction(p, wh);
	p->sd_scale = served_scale(p);
	p->week_var = week_drift(p);
	p->fit_t = t_end;
	snprintf(wk, sizeof(wk), "%.0f", floor(t_end / 7));
	{
		void *v = map_get(p->keys[PK_WEEK].index, wk);

		p->fit_week = v ? (int)((intptr_t)v - 1) : -1;
	}
	p->fitted = 1;
	p->nfits++;
	p->since_fit = 0;
	/* Every POOL_REFIT sales or a share of the rows, whichever is
	 * more: early on too, when a market's first days are most of
	 * what it has (doubling 100, 200, ... 1,600 left a day's 1,000
	 * sales valued by a fit that had not seen the 800 before them). */
	p->next_fit = (size_t)fmax((double)p->refit, POOL_REFIT_SHARE *
	    (double)p->nrows);
	free(w);
	free(wh);
	free(r);
	free(num);
	free(den);
	p->fit_seconds += now_seconds() - t0;
}
