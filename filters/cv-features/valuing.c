/*
 * cv-features: a sighting as the pooled model sees it (pool.h): its keys
 * from the record, and the model's answer as Features fields.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "features.h"

static const char *attr_fields[NATTR] = { "body", "transmission", "seller",
	"seller_kind", "colour", "interior" };
static const int attr_keys[NATTR] = { PK_BODY, PK_TRANSMISSION, PK_SELLER,
	PK_SELLER_KIND, PK_COLOUR, PK_INTERIOR };

void
valuing_init(avro_schema_t vs)
{
	int i;

	for (i = 0; i < NATTR; i++)
		codec.ax[i] = field_pos(vs, attr_fields[i], 'S', "cv-features");
}

/* A VIN as the pool can use it: 17 letters and digits. */
static int
is_vin(const char *id)
{
	int i;

	for (i = 0; id[i]; i++)
		if (!isalnum((unsigned char)id[i]))
			return 0;
	return i == 17;
}

/*
 * The pool's view of a sighting: keys into kb, pointed at by pv->key.
 * The segment is make/model/trim already folded (cv-ingest), so a model
 * is its make's and a trim its model's: the hierarchy is in the keys.
 */
void
valuing_vehicle(const struct view *v, const char *id, const char *segment,
    const char *region, double age_months, struct keybuf *kb,
    struct pool_vehicle *pv)
{
	int64_t t = view_long(v, codec.vx[V_OBSERVED]);
	int year = (int)view_long(v, codec.vx[V_YEAR]);
	const char *slash1, *slash2;
	int i;

	memset(pv, 0, sizeof(*pv));
	pv->t_days = t / MS_PER_DAY;
	pv->age_years = age_months / 12;
	pv->km = view_opt_double(v, codec.vx[V_KM]);
	pv->cond = view_opt_double(v, codec.vx[V_COND]);
	slash1 = strchr(segment, '/');
	slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
	snprintf(kb->make, sizeof(kb->make), "%.*s", slash1 ? (int)(slash1 -
	    segment) : (int)strlen(segment), segment);
	pv->key[PK_MAKE] = kb->make;
	snprintf(kb->year, sizeof(kb->year), "%d", year);
	pv->key[PK_YEAR] = kb->year;
	snprintf(kb->make_year, sizeof(kb->make_year), "%s|%d", kb->make,
	    year);
	pv->key[PK_MAKE_YEAR] = kb->make_year;
	if (slash1 != NULL) {
		snprintf(kb->model, sizeof(kb->model), "%.*s", slash2 ?
		    (int)(slash2 - segment) : (int)strlen(segment), segment);
		pv->key[PK_MODEL] = kb->model;
		snprintf(kb->model_year, sizeof(kb->model_year), "%s|%d",
		    kb->model, year);
		pv->key[PK_MODEL_YEAR] = kb->model_year;
	}
	if (slash2 != NULL) {
		pv->key[PK_TRIM] = segment;
		snprintf(kb->trim_year, sizeof(kb->trim_year), "%s|%d",
		    segment, year);
		pv->key[PK_TRIM_YEAR] = kb->trim_year;
	}
	if (is_vin(id)) {
		snprintf(kb->vin8, sizeof(kb->vin8), "%.8s", id);
		pv->key[PK_VIN8] = kb->vin8;
		snprintf(kb->squish, sizeof(kb->squish), "%.8s%c", id, id[9]);
		pv->key[PK_SQUISH] = kb->squish;
	}
	if (strcmp(region, "*") != 0)
		pv->key[PK_REGION] = region;
	for (i = 0; i < NATTR; i++)
		pv->key[attr_keys[i]] = view_opt_string(v, codec.ax[i],
		    kb->attr[i], sizeof(kb->attr[i]));
	snprintf(kb->week, sizeof(kb->week), "%.0f", floor(pv->t_days / 7));
	pv->key[PK_WEEK] = kb->week;
}

/* The pooled fields of a sighting's Features (mpi NAN without index). */
void
valuing_serve(struct state *st, const struct pool_vehicle *pv, double mpi,
    struct slot *sl, double *lny, double *sd)
{
	struct pool_pred pp;
	double lnmpi = isnan(mpi) ? 0 : log(mpi);
	int ok = st->pool != NULL && pool_predict(st->pool, pv, &pp) == 0;

#define SET(f, h, val)	(sl[f].has = (h), sl[f].d = (h) ? (val) : 0)
	SET(F_POOLED, ok, exp(pp.lny + lnmpi));
	SET(F_POOLED_SD, ok, pp.sd);
	SET(F_POOLED_NEXT, ok, exp(pp.lny_next + lnmpi));
	SET(F_WEIGHT_MAKE, ok, pp.weight[0]);
	SET(F_WEIGHT_MODEL, ok, pp.weight[1]);
	SET(F_WEIGHT_TRIM, ok, pp.weight[2]);
	SET(F_MODEL_N, 1, ok ? pp.model_n : 0);
	SET(F_STALE, ok, pp.stale_days);
	SET(F_COMPS_VALUE, ok && pp.comps_n > 0, exp(pp.comps_lny + lnmpi));
	SET(F_COMPS_SALES, 1, ok ? pp.comps_n : 0);
	SET(F_COMPS_SPREAD, ok && !isnan(pp.comps_spread), pp.comps_spread);
#undef SET
	*lny = ok ? pp.lny : NAN;
	*sd = ok ? pp.sd : NAN;
}
