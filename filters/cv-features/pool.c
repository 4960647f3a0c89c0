/* cv-features: the pooled model's levels, sales and predictions (see
 * pool.h; the fit is in poolfit.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "pool.h"

/*
 * The groups and how strongly each is pooled: a prior worth so many
 * weighted sales of the level's own.  Little on what sets a vehicle's
 * price (make, model, trim, VIN line, model year), much on what only
 * nudges it (seller, colour, region).  Chosen on the Camry file, checked
 * on the others; never per file.
 */
const struct pool_group pool_groups[POOL_NGROUPS] = {
	{ "make",		PK_MAKE,	 PZ_ONE,  1 },
	{ "model",		PK_MODEL,	 PZ_ONE,  1 },
	{ "trim",		PK_TRIM,	 PZ_ONE,  2 },
	{ "vin8",		PK_VIN8,	 PZ_ONE,  2 },
	{ "squish",		PK_SQUISH,	 PZ_ONE,  3 },
	{ "year",		PK_YEAR,	 PZ_ONE,  1 },
	{ "make_year",		PK_MAKE_YEAR,	 PZ_ONE,  3 },
	{ "model_year",		PK_MODEL_YEAR,	 PZ_ONE,  3 },
	{ "trim_year",		PK_TRIM_YEAR,	 PZ_ONE,  5 },
	{ "body",		PK_BODY,	 PZ_ONE,  3 },
	{ "transmission",	PK_TRANSMISSION, PZ_ONE, 10 },
	{ "seller",		PK_SELLER,	 PZ_ONE, 20 },
	{ "seller_kind",	PK_SELLER_KIND,	 PZ_ONE, 10 },
	{ "region",		PK_REGION,	 PZ_ONE, 20 },
	{ "colour",		PK_COLOUR,	 PZ_ONE, 20 },
	{ "interior",		PK_INTERIOR,	 PZ_ONE, 20 },
	{ "week",		PK_WEEK,	 PZ_ONE, 10 },
	{ "make_age",		PK_MAKE,	 PZ_AGE,  3 },
	{ "model_age",		PK_MODEL,	 PZ_AGE,  3 },
	{ "trim_age",		PK_TRIM,	 PZ_AGE,  3 },
	{ "make_km",		PK_MAKE,	 PZ_KM,   3 },
	{ "model_km",		PK_MODEL,	 PZ_KM,   3 },
	{ "year_km",		PK_YEAR,	 PZ_KM,   3 },
	{ "year_cond",		PK_YEAR,	 PZ_COND, 3 },
	{ "model_cond",		PK_MODEL,	 PZ_COND, 3 },
};

/* A vehicle of unknown mileage is taken to have run the usual 15,000 km
 * a year, of unknown condition the middling 0.6 (an indicator each
 * says so, and carries what that costs). */
#define KM_PER_YEAR	15000.0
#define COND_FILL	0.6

/*
 * The curve's terms: 1, A, A^2, A^3, K, K^2, AK, C, C^2, AC, and whether
 * mileage and condition were unknown; A = age / 10 years, K = km / 1e5.
 */
void
pool_curve_x(float *x, double age_years, double km, double cond)
{
	double a = age_years / 10, k, c;

	k = (isnan(km) ? KM_PER_YEAR * age_years : km) / 1e5;
	c = isnan(cond) ? COND_FILL : cond;
	x[0] = 1;
	x[1] = (float)a;
	x[2] = (float)(a * a);
	x[3] = (float)(a * a * a);
	x[4] = (float)k;
	x[5] = (float)(k * k);
	x[6] = (float)(a * k);
	x[7] = (float)c;
	x[8] = (float)(c * c);
	x[9] = (float)(a * c);
	x[10] = (float)isnan(cond);
	x[11] = (float)isnan(km);
}

struct pool *
pool_new(size_t refit)
{
	struct pool *p = ecalloc(1, sizeof(*p));
	int k, g;

	for (k = 0; k < PK_COUNT; k++)
		p->keys[k].index = map_new();
	for (g = 0; g < POOL_NGROUPS; g++)
		p->prior[g] = pool_groups[g].prior;
	p->refit = refit;
	p->next_fit = POOL_FIRST_FIT;
	p->fit_week = -1;
	p->sd_scale = 1;
	return p;
}

void
pool_free(struct pool *p)
{
	int k, g, i;

	if (p == NULL)
		return;
	for (k = 0; k < PK_COUNT; k++) {
		map_free(p->keys[k].index, NULL);
		for (i = 0; i < p->keys[k].n; i++)
			free(p->keys[k].names[i]);
		free(p->keys[k].names);
		free(p->keys[k].count);
		free(p->keys[k].last_t);
		free(p->keys[k].last_row);
	}
	for (g = 0; g < POOL_NGROUPS; g++) {
		free(p->u[g]);
		free(p->den[g]);
	}
	free(p->rows);
	free(p);
}

/* The level of a key's text; -1 if unseen (and not to be made). */
static int
level_of(const struct pool *p, int k, const char *text)
{
	void *v;

	if (text == NULL || (v = map_get(p->keys[k].index, text)) == NULL)
		return -1;
	return (int)((intptr_t)v - 1);
}

/* A new level of key k; its effects start at 0 (see pool_grow()). */
int
pool_level_new(struct pool *p, int k, const char *text)
{
	struct pool_key *pk = &p->keys[k];

	if (pk->n == pk->cap) {
		pk->cap = pk->cap ? 2 * pk->cap : 16;
		pk->names = erealloc(pk->names, (size_t)pk->cap *
		    sizeof(*pk->names));
		pk->count = erealloc(pk->count, (size_t)pk->cap *
		    sizeof(*pk->count));
		pk->last_t = erealloc(pk->last_t, (size_t)pk->cap *
		    sizeof(*pk->last_t));
		pk->last_row = erealloc(pk->last_row, (size_t)pk->cap *
		    sizeof(*pk->last_row));
	}
	pk->last_row[pk->n] = -1;
	pk->names[pk->n] = estrdup(text);
	pk->count[pk->n] = 0;
	pk->last_t[pk->n] = -INFINITY;
	map_put(pk->index, text, (void *)(intptr_t)(pk->n + 1));
	return pk->n++;
}

/* Room for every level's effects, new ones 0. */
void
pool_grow(struct pool *p)
{
	int g, n, l;

	for (g = 0; g < POOL_NGROUPS; g++) {
		n = p->keys[pool_groups[g].key].cap;
		if (n <= p->ucap[g])
			continue;
		p->u[g] = erealloc(p->u[g], (size_t)n * sizeof(double));
		p->den[g] = erealloc(p->den[g], (size_t)n * sizeof(double));
		for (l = p->ucap[g]; l < n; l++)
			p->u[g][l] = p->den[g][l] = 0;
		p->ucap[g] = n;
	}
}

void
pool_add(struct pool *p, const struct pool_vehicle *v, double y, double lny,
    double sd)
{
	struct pool_row *r;
	int k, l;
	if (p->nrows == p->caprows) {
		p->caprows = p->caprows ? 2 * p->caprows : 1024;
		p->rows = erealloc(p->rows, p->caprows * sizeof(*p->rows));
	}
	r = &p->rows[p->nrows++];
	memset(r, 0, sizeof(*r));
	r->y = y;
	r->t_days = v->t_days;
	r->zres = isnan(sd) ? NAN : (float)((y - lny) / sd);
	pool_curve_x(r->x, v->age_years, v->km, v->cond);
	r->z[PZ_ONE] = 1;
	r->z[PZ_AGE] = r->x[1];
	r->z[PZ_KM] = r->x[4];
	r->z[PZ_COND] = r->x[7];
	for (k = 0; k < PK_COUNT; k++) {
		r->lv[k] = -1;
		if (v->key[k] == NULL)
			continue;
		if ((l = level_of(p, k, v->key[k])) < 0)
			l = pool_level_new(p, k, v->key[k]);
		r->lv[k] = l;
		p->keys[k].count[l] += 1;
		if (v->t_days > p->keys[k].last_t[l])
			p->keys[k].last_t[l] = v->t_days;
	}
	/* Chained to the sales before of its comparables' level. */
	r->comps_key = r->lv[PK_TRIM_YEAR] >= 0 ? PK_TRIM_YEAR :
	    r->lv[PK_MODEL_YEAR] >= 0 ? PK_MODEL_YEAR : -1;
	r->prev_comp = -1;
	if (r->comps_key >= 0) {
		int64_t *last = &p->keys[r->comps_key].last_row[
		    r->lv[r->comps_key]];

		r->prev_comp = *last;
		*last = p->row_base + (int64_t)(p->nrows - 1);
	}
	pool_grow(p);
	p->since_fit++;
}

void
pool_tick(struct pool *p)
{
	if (p->since_fit > 0 && p->since_fit >= p->next_fit)
		pool_fit(p);
}

/* The curve's value at x, x clamped to the ages and mileages seen and
 * carried on beyond them by the slope at the edge (never upwards). */
static double
curve_at(const struct pool *p, double age_years, double km, double cond,
    float *zx)
{
	float x[POOL_NCURVE], xe[POOL_NCURVE];
	double a, k, a_c, k_c, f = 0, fe, slope, extra = 0, kk;
	int j;

	pool_curve_x(x, age_years, km, cond);
	a = x[1];
	k = x[4];
	a_c = fmin(fmax(a, p->x_lo[1]), p->x_hi[1]);
	k_c = fmin(fmax(k, p->x_lo[4]), p->x_hi[4]);
	kk = isnan(km) ? NAN : k_c * 1e5;
	pool_curve_x(x, a_c * 10, kk, cond);
	if (isnan(km)) {	/* the fill, clamped as a known one */
		x[4] = (float)k_c;
		x[5] = (float)(k_c * k_c);
		x[6] = (float)(a_c * k_c);
	}
	for (j = 0; j < POOL_NCURVE; j++)
		f += p->beta[j] * x[j];
	/* Beyond the edge: the derivative there, by a small step in. */
	if (a != a_c) {
		memcpy(xe, x, sizeof(x));
		xe[1] = (float)(a_c - 0.01 * (a > a_c ? 1 : -1));
		xe[2] = xe[1] * xe[1];
		xe[3] = xe[2] * xe[1];
		xe[6] = xe[1] * x[4];
		xe[9] = xe[1] * x[7];
		for (fe = 0, j = 0; j < POOL_NCURVE; j++)
			fe += p->beta[j] * xe[j];
		slope = (f - fe) / (a_c - xe[1]);
		extra += fmin(slope, 0) * (a - a_c);
	}
	if (k != k_c) {
		memcpy(xe, x, sizeof(x));
		xe[4] = (float)(k_c - 0.01 * (k > k_c ? 1 : -1));
		xe[5] = xe[4] * xe[4];
		xe[6] = x[1] * xe[4];
		for (fe = 0, j = 0; j < POOL_NCURVE; j++)
			fe += p->beta[j] * xe[j];
		slope = (f - fe) / (k_c - xe[4]);
		extra += fmin(slope, 0) * (k - k_c);
	}
	zx[PZ_ONE] = 1;
	zx[PZ_AGE] = x[1];
	zx[PZ_KM] = x[4];
	zx[PZ_COND] = x[7];
	return f + extra;
}

/* ln price, and its variance from the effects, at one vehicle state. */
static double
effects_at(const struct pool *p, const struct pool_vehicle *v,
    const int *lv, double age, double km, double *var)
{
	double f, s2 = p->noise * p->noise, z;
	float zx[4];
	int g, l;

	f = curve_at(p, age, km, v->cond, zx);
	*var = 0;
	for (g = 0; g < POOL_NGROUPS; g++) {
		z = zx[pool_groups[g].z];
		l = lv[pool_groups[g].key];
		if (l >= 0) {
			f += z * p->u[g][l];
			*var += z * z * s2 / (p->den[g][l] + p->prior[g]);
		} else if (v->key[pool_groups[g].key] != NULL)
			/* A level never seen: anywhere in its group's spread. */
			*var += z * z * s2 / p->prior[g];
	}
	return f;
}

/* A learned sale's ln price as the model fits it now. */
static double
row_fitted(const struct pool *p, const struct pool_row *r)
{
	double f = 0;
	int j, g, l;

	for (j = 0; j < POOL_NCURVE; j++)
		f += p->beta[j] * r->x[j];
	for (g = 0; g < POOL_NGROUPS; g++)
		if ((l = r->lv[pool_groups[g].key]) >= 0)
			f += r->z[pool_groups[g].z] * p->u[g][l];
	return f;
}

static double
median(double *a, int n)
{
	gsl_sort(a, 1, (size_t)n);
	return gsl_stats_median_from_sorted_data(a, 1, (size_t)n);
}

/*
 * The comparables: the latest POOL_COMPS sales of the vehicle's trim and
 * model year (else model and model year), each moved to this vehicle by
 * the model: the median of their residuals now, added to its value.
 */
static void
comps(const struct pool *p, const int *lv, double lny, struct pool_pred *out)
{
	double res[POOL_COMPS], dev[POOL_COMPS], m;
	int k = lv[PK_TRIM_YEAR] >= 0 ? PK_TRIM_YEAR : PK_MODEL_YEAR, n = 0, i;
	int64_t at = lv[k] >= 0 ? p->keys[k].last_row[lv[k]] : -1;
	const struct pool_row *r;

	while (n < POOL_COMPS && at >= p->row_base &&
	    at - p->row_base < (int64_t)p->nrows) {
		r = &p->rows[at - p->row_base];
		res[n++] = r->y - row_fitted(p, r);
		at = r->prev_comp;
	}
	out->comps_n = n;
	out->comps_lny = out->comps_spread = NAN;
	if (n == 0)
		return;
	memcpy(dev, res, sizeof(res));
	m = median(res, n);
	out->comps_lny = lny + m;
	for (i = 0; i < n; i++)
		dev[i] = fabs(dev[i] - m);
	if (n >= 2)
		out->comps_spread = 1.4826 * median(dev, n);
}

int
pool_predict(const struct pool *p, const struct pool_vehicle *v,
    struct pool_pred *out)
{
	int lv[PK_COUNT], k, l, i;
	double var, var_next, stale, km_month, last;
	static const int wk[3] = { PK_MAKE, PK_MODEL, PK_TRIM };
	static const int wg[3] = { 0, 1, 2 };	/* their level groups */

	if (!p->fitted)
		return -1;
	for (k = 0; k < PK_COUNT; k++)
		lv[k] = level_of(p, k, v->key[k]);
	/* The week: the latest fitted one's level, carried forward. */
	lv[PK_WEEK] = p->fit_week;
	out->lny = effects_at(p, v, lv, v->age_years, v->km, &var);
	km_month = !isnan(v->km) && v->age_years > 1.0 / 12 ?
	    v->km / (v->age_years * 12) : 0;
	out->lny_next = effects_at(p, v, lv, v->age_years + 1.0 / 12,
	    isnan(v->km) ? v->km : v->km + km_month, &var_next);
	stale = fmax(v->t_days - p->fit_t, 0);
	var += p->noise * p->noise + p->week_var * stale / 7;
	out->sd = sqrt(var) * p->sd_scale;
	for (i = 0; i < 3; i++) {
		l = lv[wk[i]];
		out->weight[i] = l < 0 ? 0 : p->den[wg[i]][l] /
		    (p->den[wg[i]][l] + p->prior[wg[i]]);
	}
	out->model_n = lv[PK_MODEL] < 0 ? 0 :
	    p->keys[PK_MODEL].count[lv[PK_MODEL]];
	if (lv[PK_MODEL] >= 0)
		last = p->keys[PK_MODEL].last_t[lv[PK_MODEL]];
	else if (lv[PK_MAKE] >= 0)
		last = p->keys[PK_MAKE].last_t[lv[PK_MAKE]];
	else
		last = p->fit_t;
	out->stale_days = fmax(v->t_days - last, 0);
	comps(p, lv, out->lny, out);
	return 0;
}
