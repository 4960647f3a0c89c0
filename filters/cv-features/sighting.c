/* cv-features: a sighting served its features from the state as it stands,
 * and what it teaches learned later (see pending.c). */
#include <math.h>
#include <string.h>

#include "lib/timeparse.h"
#include "features.h"

/* Age in months from 1 October of the year before the model year. */
static double
age_months(int64_t observed_ms, int model_year)
{
	double launch = days_from_civil(model_year - 1, 10, 1) * MS_PER_DAY;
	double months = (observed_ms - launch) / (MS_PER_DAY * 30.436875);

	return months > 0 ? months : 0;
}

/*
 * One VehicleObs: write its Features from the state as it stands (to sink;
 * NULL when served again after a restart), and keep what it teaches for
 * later (defer()).  Returns 0, -1 if it was rejected, -2 to stop.
 */
int
vehicle(struct state *st, const struct item *it, const struct view *v,
    struct sink *sink)
{
	char id[256], segment[MAX_SEGMENT + 2], region[64];
	const char *lname, *why;
	int64_t t = view_long(v, codec.vx[V_OBSERVED]);
	double price = view_opt_double(v, codec.vx[V_PRICE]);
	double km = view_opt_double(v, codec.vx[V_KM]);
	double cond = view_opt_double(v, codec.vx[V_COND]);
	double x[NREG], age, t_days = t / MS_PER_DAY, lnlevel, q, coff, roff;
	double pool_lny, pool_sd;
	double hl = st->o.decay_half_life;
	int year = (int)view_long(v, codec.vx[V_YEAR]);
	struct offset *cohort, *reg;
	struct last_sale *last;
	struct slot sl[F_COUNT];
	struct series *ix;
	struct wlsfit fit;
	struct lookup *lk;
	struct vehicle *prev;
	struct keybuf kb;
	struct pool_vehicle pv;

	if (valid_check(codec.vehicle_valid, v, &why) >= 0)
		return bad(it, "%s", why);
	/* Keys are never cut (two would become one): too long, rejected. */
	view_string(v, codec.vx[V_ID], id, sizeof(id));
	if (view_string(v, codec.vx[V_REGION], region, sizeof(region)) ==
	    NULL)
		return bad(it, "region: longer than %zu bytes",
		    sizeof(region) - 1);
	view_string(v, codec.vx[V_SEGMENT], segment, sizeof(segment));
	if (*segment == '\0' || strlen(segment) > MAX_SEGMENT)
		return bad(it, "segment: empty or longer than %d characters",
		    MAX_SEGMENT);
	age = age_months(t, year);

	memset(sl, 0, sizeof(sl));
#define SET(f, h, val)	(sl[f].has = (h), sl[f].d = (h) ? (val) : 0)
	SET(F_AGE, 1, age);
	lk = find_index(st, segment, region);
	ix = lk->series;
	SET(F_MPI, ix != NULL, ix->mpi);
	SET(F_RET1, ix && ix->has_ret1, ix->ret1);
	SET(F_RET3, ix && ix->has_ret3, ix->ret3);
	sl[F_MPI_LEVEL].has = sl[F_MPI_SOURCE].has = ix != NULL;
	sl[F_MPI_LEVEL].s = ix ? lk->where : NULL;
	sl[F_MPI_SOURCE].s = ix ? ix->source : NULL;
	SET(F_EL, ix && ix->has_el, ix->el.slope);
	SET(F_EL_SE, ix && ix->has_el, ix->el.slope_se);
	SET(F_EL_N, 1, ix && ix->has_el ? ix->el.n : 0);
	SET(F_EL_R2, ix && ix->has_el, ix->el.r2);
	SET(F_VOL, ix && ix->has_vol, ix->volatility);
	SET(F_EWMA, ix != NULL, ix->ewma);

	st->n_vehicles++;
	st->n_noindex += ix == NULL;
	st->n_noelasticity += ix == NULL || !ix->has_el;
	regressors(x, age / 12, km, cond, ix != NULL);
	memset(&fit, 0, sizeof(fit));
	lname = serve_decay(st, lk, t_days, &fit);
	sl[F_DECAY_LEVEL].has = lname != NULL;
	sl[F_DECAY_LEVEL].s = lname;
	st->n_nodecay += lname == NULL;
	SET(F_DECAY, lname != NULL, -fit.beta[1]);
	SET(F_DECAY_SE, lname != NULL, fit.se[1]);
	SET(F_HALF_LIFE, lname && fit.beta[1] < 0, log(2) / -fit.beta[1]);
	SET(F_DECAY_N, 1, lname ? fit.n_eff : 0);
	SET(F_COMPS, 1, lname ? fit.n_eff : 0);
	SET(F_DECAY_R2, lname != NULL, fit.r2);
	SET(F_SIGMA, lname != NULL, fit.sigma);
	SET(F_MILEAGE, lname && fit.active[2], fit.beta[2]);
	SET(F_MILEAGE_SE, lname && fit.active[2], fit.se[2]);
	SET(F_COND, lname && fit.active[3], fit.beta[3]);
	SET(F_COND_SE, lname && fit.active[3], fit.se[3]);
	lnlevel = lname ? wls_predict(&fit, x) : 0;
	if (ix != NULL)
		lnlevel += log(ix->mpi);
	SET(F_LEVEL, lname != NULL, exp(lnlevel));
	q = lname ? wls_predict_se(&fit, x) : NAN;
	SET(F_LEVEL_LSE, lname != NULL && !isnan(q), q);
	prev = vehicle_get(st, id);
	SET(F_PREV, prev != NULL, prev->price);
	SET(F_PREV_AT, prev != NULL, (double)prev->at);
	SET(F_PREV_MPI, prev && !isnan(prev->mpi), prev->mpi);
	cohort = cohort_offset(st, lk, segment, year, 0);
	coff = offset_value(cohort, t_days, hl, st->o.cohort_prior);
	SET(F_COHORT, lname != NULL, coff);
	SET(F_COHORT_N, 1, lname && cohort ? cohort->w : 0);
	reg = region_offset(st, lk, region, 0);
	roff = offset_value(reg, t_days, hl, st->o.region_prior);
	SET(F_REGION, lname != NULL, roff);
	SET(F_REGION_N, 1, lname && reg ? reg->w : 0);
	if (lk->last == NULL)
		lk->last = map_get(st->last, segment);
	last = lk->last;
	SET(F_SEG_PRICE, last != NULL, last->price);
	SET(F_SEG_MPI, last && !isnan(last->mpi), last->mpi);
#undef SET
	/* The pool's keys only for a pool (-R 0: its fields null). */
	if (st->pool != NULL)
		valuing_vehicle(v, id, segment, region, age, &kb, &pv);
	valuing_serve(st, &pv, ix ? ix->mpi : NAN, sl, &pool_lny, &pool_sd);
	if (sink != NULL)	/* NULL: served again after a restart */
		appender_put(codec.features, sink, v, sl);
	if (!isnan(price)) {
		struct learn l;

		l.lk = lk;
		memcpy(l.x, x, sizeof(x));
		l.lnlevel = lnlevel;
		l.coff = coff;
		l.sigma = fit.sigma;
		l.mpi = ix ? ix->mpi : NAN;
		l.served = lname != NULL;
		l.pool_lny = pool_lny;
		l.pool_sd = pool_sd;
		defer(st, v, &l);
	}
	return 0;
}

/* Learn from a sighting served earlier (see struct learn). */
void
learn_sighting(struct state *st, const struct view *v, const struct learn *l)
{
	char id[256], segment[MAX_SEGMENT + 2], region[64];
	struct lookup *lk = l->lk;
	struct last_sale *last;
	int64_t t = view_long(v, codec.vx[V_OBSERVED]);
	double price = view_opt_double(v, codec.vx[V_PRICE]);
	double t_days = t / MS_PER_DAY, hl = st->o.decay_half_life, q;
	int year = (int)view_long(v, codec.vx[V_YEAR]);
	int i;
	struct keybuf kb;
	struct pool_vehicle pv;

	view_string(v, codec.vx[V_ID], id, sizeof(id));
	view_string(v, codec.vx[V_SEGMENT], segment, sizeof(segment));
	view_string(v, codec.vx[V_REGION], region, sizeof(region));
	if (st->pool != NULL) {
		valuing_vehicle(v, id, segment, region, age_months(t, year),
		    &kb, &pv);
		pool_add(st->pool, &pv, log(price) - (isnan(l->mpi) ? 0 :
		    log(l->mpi)), l->pool_lny, l->pool_sd);
	}
	for (i = 0; i < lk->nl; i++) {
		if (lk->dk[i] == NULL)
			lk->dk[i] = get_decay(st, lk->lv[i].key, 1);
		wls_add(lk->dk[i]->wls, t_days, l->x, log(price) -
		    (isnan(l->mpi) ? 0 : log(l->mpi)), 1);
	}
	vehicle_remember(st, vehicle_get(st, id), id, price, l->mpi, t,
	    ++st->vseq);
	if (lk->last == NULL)	/* another region's lookup may have made it */
		lk->last = map_get(st->last, segment);
	if ((last = lk->last) == NULL) {
		last = lk->last = ecalloc(1, sizeof(*last));
		map_put(st->last, segment, last);
	}
	last->price = price;
	last->mpi = l->mpi;
	/* What the fit that served missed: the cohort's part, then the
	 * region's part of what is left. */
	if (l->served) {
		q = log(price) - l->lnlevel;
		offset_learn(cohort_offset(st, lk, segment, year, 1), t_days,
		    hl, st->o.cohort_prior, q, l->sigma);
		offset_learn(region_offset(st, lk, region, 1), t_days, hl,
		    st->o.region_prior, q - l->coff, l->sigma);
	}
}
