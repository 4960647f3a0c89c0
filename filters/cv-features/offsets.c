/* cv-features: the model-year (cohort) and region offsets, learned from the
 * residuals of the fit that served each sale by partial pooling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "features.h"

/* Residuals beyond this many sigmas count as this many: one wild sale
 * moves an offset no more than a plausible one. */
#define OFFSET_CLIP	2.5

struct offset *
get_offset(struct state *st, const char *key, int create)
{
	struct offset *o = map_get(st->offsets, key);

	if (o == NULL && create) {
		o = ecalloc(1, sizeof(*o));
		map_put(st->offsets, key, o);
	}
	return o;
}

/* Forget down to time t (days) at the decay half-life. */
static void
offset_age(struct offset *o, double t, double half_life)
{
	double f;

	if (half_life > 0 && t > o->t) {
		f = exp2(-(t - o->t) / half_life);
		o->s *= f;
		o->w *= f;
	}
	if (t > o->t)
		o->t = t;
}

/* The shrunk offset at time t: 0 when unknown. */
double
offset_value(struct offset *o, double t, double half_life, double prior)
{
	if (o == NULL)
		return 0;
	offset_age(o, t, half_life);
	return o->s / (o->w + prior);
}

/* Learn residual r, taken relative to the current offset and clipped. */
void
offset_learn(struct offset *o, double t, double half_life, double prior,
    double r, double sigma)
{
	double cur = offset_value(o, t, half_life, prior), d = r - cur;

	if (sigma > 0 && fabs(d) > OFFSET_CLIP * sigma)
		d = copysign(OFFSET_CLIP * sigma, d);
	o->s += cur + d;
	o->w += 1;
}

/* A model year's offset in a segment, found once per lookup. */
struct offset *
cohort_offset(struct state *st, struct lookup *lk, const char *segment,
    int year, int create)
{
	char key[MAX_SEGMENT + 20];
	struct offset *o;
	int i;

	for (i = 0; i < lk->ncohorts; i++)
		if (lk->cohorts[i].year == year)
			return lk->cohorts[i].o;
	snprintf(key, sizeof(key), "c|%s|%d", segment, year);
	if ((o = get_offset(st, key, create)) != NULL) {
		lk->cohorts = erealloc(lk->cohorts, ((size_t)lk->ncohorts + 1) *
		    sizeof(*lk->cohorts));
		lk->cohorts[lk->ncohorts].year = year;
		lk->cohorts[lk->ncohorts++].o = o;
	}
	return o;
}

struct offset *
region_offset(struct state *st, struct lookup *lk, const char *region,
    int create)
{
	char key[80];

	if (lk->region == NULL) {
		snprintf(key, sizeof(key), "r|%s", region);
		lk->region = get_offset(st, key, create);
	}
	return lk->region;
}
