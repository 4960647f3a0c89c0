/* cv-features: the index series, one per source, segment and region: level,
 * returns, EWMA, volatility and the supply-demand elasticity. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeparse.h"
#include "features.h"

static int
month_index(int32_t days)
{
	int y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	return y * 12 + (int)m - 1;
}

/*
 * Set the values known for a period (NAN leaves one as it was); points
 * stay in period order and the oldest goes when the ring is full.
 */
static void
put_point(struct point *pts, int *npts, int32_t period, double v,
    double lnvol)
{
	double lnv = isnan(v) ? NAN : log(v);
	int i, k;

	for (i = *npts - 1; i >= 0 && pts[i].period > period; i--)
		;
	if (i >= 0 && pts[i].period == period) {
		if (!isnan(lnv)) {
			pts[i].v = v;
			pts[i].lnv = lnv;
		}
		if (!isnan(lnvol))
			pts[i].lnvol = lnvol;
		return;
	}
	/* Insert after i; when full, drop the oldest (or this, if older). */
	if (*npts == RING) {
		if (i < 0)
			return;
		memmove(pts, pts + 1, (size_t)i * sizeof(*pts));
		k = i;
	} else {
		k = i + 1;
		memmove(pts + k + 1, pts + k, (size_t)(*npts - k) *
		    sizeof(*pts));
		(*npts)++;
	}
	pts[k].period = period;
	pts[k].v = v;
	pts[k].lnv = lnv;
	pts[k].lnvol = lnvol;
}

static const struct point *
point_at_month(const struct point *pts, int npts, int month)
{
	int i;

	for (i = npts - 1; i >= 0; i--) {
		int mi = month_index(pts[i].period);

		if (mi == month && !isnan(pts[i].lnv))
			return &pts[i];
		if (mi < month)
			break;
	}
	return NULL;
}

/* Level, returns, EWMA, volatility and elasticity from the points. */
void
derive(struct series *s, const struct opts *o)
{
	const struct point *last = NULL, *p;
	double alpha = 1 - pow(2, -1 / o->ewma_half_life);
	double r, sum = 0, sum2 = 0;
	struct olsw *w;
	int i, lm, n = 0, first = 1;

	s->has_ret1 = s->has_ret3 = s->has_vol = s->has_el = 0;
	for (i = 0; i < s->npts; i++) {
		if (isnan(s->pts[i].lnv))
			continue;
		last = &s->pts[i];
		s->ewma = first ? last->v : alpha * last->v +
		    (1 - alpha) * s->ewma;
		first = 0;
	}
	if (last == NULL)
		return;
	s->mpi = last->v;
	lm = month_index(last->period);
	if ((p = point_at_month(s->pts, s->npts, lm - 1)) != NULL) {
		s->ret1 = last->lnv - p->lnv;
		s->has_ret1 = 1;
	}
	if ((p = point_at_month(s->pts, s->npts, lm - 3)) != NULL) {
		s->ret3 = last->lnv - p->lnv;
		s->has_ret3 = 1;
	}
	/* Monthly log returns within the window. */
	for (i = 1; i < s->npts; i++) {
		int mi = month_index(s->pts[i].period);

		if (mi <= lm - o->window || isnan(s->pts[i].lnv))
			continue;
		p = point_at_month(s->pts, i, mi - 1);
		if (p == NULL)
			continue;
		r = s->pts[i].lnv - p->lnv;
		sum += r;
		sum2 += r * r;
		n++;
	}
	if (n >= 3) {
		s->volatility = sqrt(fmax(0, (sum2 - sum * sum / n) /
		    (n - 1)));
		s->has_vol = 1;
	}
	/* Elasticity: the last `window` months with both value and volume. */
	w = olsw_new(o->window);
	for (i = 0; i < s->npts; i++)
		if (!isnan(s->pts[i].lnv) && !isnan(s->pts[i].lnvol) &&
		    month_index(s->pts[i].period) > lm - o->window)
			olsw_push(w, s->pts[i].lnvol, s->pts[i].lnv);
	if (olsw_count(w) >= o->min_elasticity_n && olsw_fit(w, &s->el) == 0)
		s->has_el = 1;
	olsw_free(w);
}

static char *
series_key(const char *source, const char *segment, const char *region)
{
	return easprintf("%s|%s|%s", source, segment, region);
}

void
note_source(struct state *st, const char *source)
{
	int i;

	for (i = 0; i < st->nseen; i++)
		if (strcmp(st->seen_sources[i], source) == 0)
			return;
	st->seen_sources = erealloc(st->seen_sources, (size_t)(st->nseen + 1) *
	    sizeof(*st->seen_sources));
	st->seen_sources[st->nseen++] = estrdup(source);
}

struct series *
get_series(struct state *st, const char *source, const char *segment,
    const char *region, int create)
{
	char *key = series_key(source, segment, region);
	struct series *s = map_get(st->series, key);

	if (s == NULL && create) {
		s = ecalloc(1, sizeof(*s));
		s->source = estrdup(source);
		s->segment = estrdup(segment);
		s->region = estrdup(region);
		map_put(st->series, key, s);
		note_source(st, source);
		st->gen++;
	}
	free(key);
	return s;
}

static int
volume_counts(const struct state *st, const char *source)
{
	return st->o.volume_source == NULL ||
	    strcmp(st->o.volume_source, source) == 0;
}

/*
 * An index value and/or volume for a period.  A volume-only record pairs
 * with every series of its segment and region, now and when their values
 * for the period arrive later.
 */
static void
absorb_index(struct state *st, const char *source, const char *segment,
    const char *region, int32_t period, double value, double volume)
{
	double lnvol = isnan(volume) ? NAN : log(volume);
	char *vkey = easprintf("%s|%s", segment, region);
	struct volumes *vs = map_get(st->volumes, vkey);
	const struct point *vp;
	struct series *s;
	const char *key;
	void *val;
	size_t it = 0;
	int i;

	if (isnan(value)) {
		if (volume_counts(st, source)) {
			if (vs == NULL) {
				vs = ecalloc(1, sizeof(*vs));
				map_put(st->volumes, vkey, vs);
			}
			put_point(vs->pts, &vs->npts, period, NAN, lnvol);
			while (map_next(st->series, &it, &key, &val)) {
				s = val;
				if (strcmp(s->segment, segment) ||
				    strcmp(s->region, region))
					continue;
				for (i = 0; i < s->npts; i++)
					if (s->pts[i].period == period &&
					    isnan(s->pts[i].lnvol))
						break;
				if (i < s->npts) {
					s->pts[i].lnvol = lnvol;
					derive(s, &st->o);
				}
			}
		}
		free(vkey);
		return;
	}
	s = get_series(st, source, segment, region, 1);
	if (isnan(lnvol) && vs != NULL)
		for (i = vs->npts - 1; i >= 0; i--) {
			vp = &vs->pts[i];
			if (vp->period == period) {
				lnvol = vp->lnvol;
				break;
			}
		}
	put_point(s->pts, &s->npts, period, value, lnvol);
	derive(s, &st->o);
	free(vkey);
}

/* An IndexObs: checked, then folded into its series. */
int
index_obs(struct state *st, const struct item *it, const struct view *v)
{
	double value = view_opt_double(v, codec.ix[X_VALUE]);
	double volume = view_opt_double(v, codec.ix[X_VOLUME]);
	const char *why;
	char text[256];

	if (valid_check(codec.index_valid, v, &why) >= 0)
		return bad(it, "%s", why);
	/* The keys learn_index() reads, never cut. */
	if (view_string(v, codec.ix[X_SEGMENT], text, MAX_SEGMENT + 1) ==
	    NULL)
		return bad(it, "segment: longer than %d characters",
		    MAX_SEGMENT);
	if (view_string(v, codec.ix[X_REGION], text, 64) == NULL)
		return bad(it, "region: longer than 63 bytes");
	if (isnan(value) && isnan(volume))
		return bad(it, "neither value nor volume");
	st->n_index++;
	st->n_index_novol += isnan(volume);
	defer(st, v, NULL);
	run_tally.absorbed++;
	return 0;
}

/* Fold an IndexObs into its series. */
void
learn_index(struct state *st, const struct view *v)
{
	char source[256], segment[MAX_SEGMENT + 2], region[64];
	double value = view_opt_double(v, codec.ix[X_VALUE]);
	double volume = view_opt_double(v, codec.ix[X_VOLUME]);

	absorb_index(st, view_string(v, codec.ix[X_SOURCE], source,
	    sizeof(source)), view_string(v, codec.ix[X_SEGMENT], segment,
	    sizeof(segment)), view_string(v, codec.ix[X_REGION], region,
	    sizeof(region)), (int32_t)view_long(v, codec.ix[X_PERIOD]), value,
	    volume);
}

void
free_series(void *p)
{
	struct series *s = p;

	free(s->source);
	free(s->segment);
	free(s->region);
	free(s);
}
