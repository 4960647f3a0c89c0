/* cv-features: the levels of the hierarchy (trim, model, make, market)
 * that serve a segment its index and its depreciation fit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "features.h"

static int
hierarchy(const char *segment, struct level *lv)
{
	const char *s1 = strchr(segment, '/'), *s2 = s1 ? strchr(s1 + 1, '/') :
	    NULL;
	int n = 0;

	if (s2 != NULL) {
		lv[n].name = "trim";
		snprintf(lv[n++].key, sizeof(lv->key), "%s", segment);
	}
	if (s1 != NULL) {
		lv[n].name = "model";
		snprintf(lv[n++].key, sizeof(lv->key), "%.*s",
		    (int)((s2 ? s2 : segment + strlen(segment)) - segment),
		    segment);
	}
	lv[n].name = "make";
	snprintf(lv[n++].key, sizeof(lv->key), "%.*s", (int)(s1 ? s1 -
	    segment : (long)strlen(segment)), segment);
	lv[n].name = "market";
	snprintf(lv[n++].key, sizeof(lv->key), "*");
	return n;
}

/*
 * The finest index covering a vehicle: segment level by level, each in
 * the vehicle's region and then in all regions, sources in the order of
 * preference (-I) or of first appearance.  A make's index may be keyed
 * "make:toyota" or "toyota".
 */
struct lookup *
find_index(struct state *st, const char *segment, const char *region)
{
	char key[MAX_SEGMENT + 70], name[300];
	struct lookup *lk;
	size_t ls, lr;
	struct level lv[4];
	const char *regions[2] = { region, "*" }, *src;
	char *const *sources;
	struct series *s;
	int nl, l, v, r, k, n;

	/* segment is at most MAX_SEGMENT characters, region fits 64. */
	ls = strlen(segment);
	lr = strlen(region);
	memcpy(key, segment, ls);
	key[ls] = '|';
	memcpy(key + ls + 1, region, lr + 1);
	if ((lk = map_get(st->lookups, key)) == NULL) {
		lk = ecalloc(1, sizeof(*lk));
		lk->gen = st->gen + 1;
		lk->nl = hierarchy(segment, lk->lv);
		map_put(st->lookups, key, lk);
	}
	if (lk->gen == st->gen)
		return lk;
	lk->gen = st->gen;
	lk->series = NULL;
	sources = st->o.nsources ? st->o.sources : st->seen_sources;
	n = st->o.nsources ? st->o.nsources : st->nseen;
	nl = hierarchy(segment, lv);
	for (l = 0; l < nl && lk->series == NULL; l++)
		for (v = 0; v < 2 && lk->series == NULL; v++) {
			if (v == 1 && strcmp(lv[l].name, "make") != 0)
				break;
			if (v == 0 && strcmp(lv[l].name, "make") == 0)
				snprintf(name, sizeof(name), "make:%s",
				    lv[l].key);
			else
				snprintf(name, sizeof(name), "%s", lv[l].key);
			for (r = 0; r < 2 && lk->series == NULL; r++) {
				if (r == 1 && strcmp(region, "*") == 0)
					break;
				for (k = 0; k < n && lk->series == NULL; k++) {
					src = sources[k];
					s = get_series(st, src, name,
					    regions[r], 0);
					if (s == NULL)
						continue;
					lk->series = s;
					lk->level = lv[l].name;
					snprintf(lk->where, sizeof(lk->where),
					    "%s@%s", lv[l].name, regions[r]);
				}
			}
		}
	return lk;
}

/* Depreciation regressors; see the Features schema for their meaning. */
void
regressors(double *x, double age_years, double km, double cond,
    int has_index)
{
	x[0] = 1;
	x[1] = age_years;
	x[2] = isnan(km) ? 0 : km / 1e4;
	x[3] = isnan(cond) ? 0 : cond - 0.5;
	x[4] = isnan(km);
	x[5] = isnan(cond);
	/* Prices not deflated by an index sit on another scale. */
	x[6] = !has_index;
}

struct decay *
get_decay(struct state *st, const char *key, int create)
{
	struct decay *d = map_get(st->decay, key);

	if (d == NULL && create) {
		d = ecalloc(1, sizeof(*d));
		d->wls = wls_new(NREG, st->o.decay_half_life);
		map_put(st->decay, key, d);
	}
	return d;
}

/* The depreciation features of the finest level with enough comparables;
 * fills *fit and returns the level's name, or NULL. */
const char *
serve_decay(struct state *st, struct lookup *lk, double t_days,
    struct wlsfit *fit)
{
	struct decay *d;
	int l;

	for (l = 0; l < lk->nl; l++) {
		if ((d = lk->dk[l]) == NULL)
			d = lk->dk[l] = get_decay(st, lk->lv[l].key, 0);
		if (d != NULL && wls_fit_cached(d->wls, t_days, fit) == 0 &&
		    fit->n_eff >= st->o.min_comps && fit->active[1])
			return lk->lv[l].name;
	}
	return NULL;
}

void
free_decay(void *p)
{
	struct decay *d = p;

	wls_free(d->wls);
	free(d);
}

void
free_lookup(void *p)
{
	struct lookup *lk = p;

	free(lk->cohorts);
	free(lk);
}
