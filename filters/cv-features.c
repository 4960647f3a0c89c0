/*
 * cv-features: the market state behind each vehicle sighting.  Reads
 * Event streams (several inputs are merged in event time) and writes one
 * Features record per VehicleObs: the vehicle plus its index level,
 * returns, volatility, supply-demand elasticity and depreciation fit, all
 * as they stood just before the sighting.  Only then does the sighting
 * update the state, so nothing in a record was learned from itself or
 * from anything later.
 *
 *	cv-ingest -M pipelines/maps/auction.map sales.csv > sales.avro
 *	cv-features index.avro sales.avro | cv-cat -f table
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "lib/append.h"
#include "lib/db.h"
#include "lib/kafka.h"
#include "lib/map.h"
#include "lib/schema.h"
#include "lib/stat.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/view.h"

#define MS_PER_DAY	86400000.0
#define RING		72	/* monthly points kept per series */
#define NREG		7	/* depreciation regressors, see regressors() */
#define MAX_SEGMENT	200	/* characters in a segment key */
#define MAX_TIME_MS	1000000000000000LL	/* |event time| (order_key) */

struct opts {
	char	**sources;	/* index sources in order of preference */
	int	  nsources;
	char	 *volume_source;
	double	  ewma_half_life;	/* months */
	int	  window;		/* months, elasticity and volatility */
	int	  min_elasticity_n;
	double	  decay_half_life;	/* days */
	double	  min_comps;		/* effective n for a decay level */
	double	  lateness_ms;
	size_t	  max_vehicles;
	double	  cohort_prior;		/* sales' worth of segment curve */
	double	  region_prior;
};

/* One month of an index series: value, its log, ln volume (NAN if
 * unknown).  The value itself is kept so mpi is what was published. */
struct point {
	int32_t	period;		/* days, first of the month */
	double	v, lnv, lnvol;
};

struct series {
	char		*source, *segment, *region;
	struct point	 pts[RING];	/* by period, oldest first */
	int		 npts;
	/* derived when the points change */
	double		 mpi, ret1, ret3, ewma, volatility;
	int		 has_ret1, has_ret3, has_vol, has_el;
	struct olsfit	 el;
};

/* Index values of a volume-only series, by segment and region. */
struct volumes {
	struct point	 pts[RING];
	int		 npts;
};

struct decay {
	struct wls	*wls;
};

/*
 * What sets a group of sales apart from the fit that served them: a
 * forgetting sum of their log residuals and its weight, shrunk towards 0
 * by a prior worth so many sales (partial pooling).
 */
struct offset {
	double	s, w;
	double	t;		/* days, of the last update */
};

/* A segment's last sale, for the naive baseline. */
struct last_sale {
	double	price, mpi;	/* mpi NAN if none */
};

struct vehicle {
	char		*id;
	double		 price;
	double		 mpi;		/* the index it saw; NAN if none */
	int64_t		 at;
	uint64_t	 seq;		/* recency, for eviction */
	struct vehicle	*newer, *older;
};

/* Hierarchy keys of a segment, finest first: trim, model, make, market. */
struct level {
	const char	*name;
	char		 key[256];
};

/*
 * What serves a vehicle's segment and region, cached: the index series
 * (found again when a new series appears) and the depreciation state of
 * each level (created by the first sale there, never freed before exit).
 */
struct lookup {
	unsigned	 gen;
	struct series	*series;
	const char	*level;
	char		 where[64];
	struct level	 lv[4];
	int		 nl;
	struct decay	*dk[4];
	/* offsets and the segment's last sale, once they exist */
	struct offset	*region;
	struct last_sale *last;
	struct cohort	*cohorts;	/* by model year */
	int		 ncohorts;
};

struct cohort {
	int		 year;
	struct offset	*o;
};

/*
 * What a sighting teaches, kept from the moment it was served until it is
 * learned: the fit that served it and where its residual goes.
 */
struct learn {
	struct lookup	*lk;
	double		 x[NREG];
	double		 lnlevel, coff, sigma, mpi;	/* mpi NAN if none */
	int		 served;	/* by a depreciation fit */
};

/* An update waiting for a later event time (see defer()). */
struct pending {
	size_t		 off, len;	/* the record, in state.pendbuf */
	struct learn	 l;		/* for a sighting */
};

struct state {
	struct opts	 o;
	struct map	*series;	/* source|segment|region */
	struct map	*volumes;	/* segment|region */
	struct map	*decay;		/* hierarchy key */
	struct map	*vehicles;
	struct map	*lookups;	/* segment|region */
	struct map	*offsets;	/* c|segment|model year, r|region */
	struct map	*last;		/* segment */
	struct vehicle	*newest, *oldest;
	uint64_t	 vseq;
	unsigned	 gen;		/* bumped when a series appears */
	int64_t		 max_t;		/* latest event time seen */
	struct pending	*pend;		/* updates waiting for a later time */
	size_t		 npend, pendcap;
	int64_t		 pend_t;
	struct buf	 pendbuf;	/* their records' encodings */
	char		**seen_sources;
	int		 nseen;
	/* for -v: what the state could not serve */
	int64_t		 n_index, n_index_novol, n_vehicles, n_noindex,
			 n_nodecay, n_noelasticity;
};

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
static void
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

static void
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

static struct series *
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


static int hierarchy(const char *, struct level *);

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
static struct lookup *
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
static void
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

static struct decay *
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

/* Age in months from 1 October of the year before the model year. */
static double
age_months(int64_t observed_ms, int model_year)
{
	double launch = days_from_civil(model_year - 1, 10, 1) * MS_PER_DAY;
	double months = (observed_ms - launch) / (MS_PER_DAY * 30.436875);

	return months > 0 ? months : 0;
}

static struct vehicle *
vehicle_get(struct state *st, const char *id)
{
	return map_get(st->vehicles, id);
}

static void
vehicle_unlink(struct state *st, struct vehicle *v)
{
	if (v->newer)
		v->newer->older = v->older;
	else
		st->newest = v->older;
	if (v->older)
		v->older->newer = v->newer;
	else
		st->oldest = v->newer;
	v->newer = v->older = NULL;
}

static void
vehicle_push(struct state *st, struct vehicle *v)
{
	v->older = st->newest;
	v->newer = NULL;
	if (st->newest)
		st->newest->newer = v;
	st->newest = v;
	if (st->oldest == NULL)
		st->oldest = v;
}

static void
vehicle_free(void *p)
{
	struct vehicle *v = p;

	free(v->id);
	free(v);
}

/*
 * Remember a vehicle's price; the least recently seen go past the cap.
 * v is the vehicle's entry if the caller has looked it up, else NULL.
 */
static void
vehicle_remember(struct state *st, struct vehicle *v, const char *id,
    double price, double mpi, int64_t at, uint64_t seq)
{
	if (v == NULL) {
		v = ecalloc(1, sizeof(*v));
		v->id = estrdup(id);
		map_put(st->vehicles, id, v);
	} else
		vehicle_unlink(st, v);
	v->price = price;
	v->mpi = mpi;
	v->at = at;
	v->seq = seq;
	vehicle_push(st, v);
	while (map_count(st->vehicles) > st->o.max_vehicles) {
		struct vehicle *old = st->oldest;

		vehicle_unlink(st, old);
		map_del(st->vehicles, old->id);
		vehicle_free(old);
	}
}

/* Residuals beyond this many sigmas count as this many: one wild sale
 * moves an offset no more than a plausible one. */
#define OFFSET_CLIP	2.5

static struct offset *
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
static double
offset_value(struct offset *o, double t, double half_life, double prior)
{
	if (o == NULL)
		return 0;
	offset_age(o, t, half_life);
	return o->s / (o->w + prior);
}

/* Learn residual r, taken relative to the current offset and clipped. */
static void
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
static struct offset *
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

static struct offset *
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

/* Output fields, by name, resolved once against the Features schema. */
enum {
	F_AGE, F_MPI, F_RET1, F_RET3, F_MPI_LEVEL, F_MPI_SOURCE, F_EL, F_EL_SE,
	F_EL_N, F_EL_R2, F_DECAY, F_HALF_LIFE, F_DECAY_N, F_DECAY_R2,
	F_DECAY_SE, F_DECAY_LEVEL, F_SIGMA, F_MILEAGE, F_MILEAGE_SE, F_COND,
	F_COND_SE, F_VOL, F_EWMA, F_LEVEL, F_LEVEL_LSE, F_COMPS, F_PREV,
	F_PREV_AT, F_PREV_MPI, F_COHORT, F_COHORT_N, F_REGION, F_REGION_N,
	F_SEG_PRICE, F_SEG_MPI, F_COUNT
};
static const char *field_names[F_COUNT] = {
	"age_months", "mpi", "mpi_ret_1m", "mpi_ret_3m", "mpi_level",
	"mpi_source", "elasticity", "elasticity_se", "elasticity_n",
	"elasticity_r2", "decay_rate", "decay_half_life", "decay_n",
	"decay_r2", "decay_rate_se", "decay_level", "decay_sigma",
	"mileage_slope", "mileage_slope_se", "condition_coef",
	"condition_coef_se", "volatility", "ewma", "price_level",
	"price_level_lse", "comps_n", "prev_value", "prev_observed_at",
	"prev_mpi", "cohort_offset", "cohort_n", "region_offset", "region_n",
	"segment_last_price", "segment_last_mpi"
};

/*
 * Records are read through views of their encoding and written as the
 * input vehicle's bytes followed by the encoded features: no avro-c
 * values on the way (see lib/append.h).  Static: the merge's time
 * function needs it too.
 */
static struct codec {
	struct reader	*event;		/* views in the Event schema */
	struct appender	*features;	/* VehicleObs + the fields above */
	int		 ix[7], vx[8];	/* fields used, by position */
} codec;

static const char *index_fields[7] = { "source", "segment", "region",
	"period", "published_at", "value", "volume" };
static const char *vehicle_fields[8] = { "vehicle_id", "segment", "region",
	"observed_at", "model_year", "mileage_km", "condition", "price" };
enum { X_SOURCE, X_SEGMENT, X_REGION, X_PERIOD, X_PUBLISHED, X_VALUE,
	X_VOLUME };
enum { V_ID, V_SEGMENT, V_REGION, V_OBSERVED, V_YEAR, V_KM, V_COND,
	V_PRICE };

static void
codec_init(void)
{
	avro_schema_t ev = schema_get("Event");
	avro_schema_t is = avro_schema_union_branch(ev, 0);
	avro_schema_t vs = avro_schema_union_branch(ev, 1);
	size_t i;

	codec.event = reader_new(ev);
	for (i = 0; i < NELEM(index_fields); i++)
		codec.ix[i] = field_pos(is, index_fields[i], "sssiLDD"[i],
		    "cv-features");
	for (i = 0; i < NELEM(vehicle_fields); i++)
		codec.vx[i] = field_pos(vs, vehicle_fields[i], "sssliDDD"[i],
		    "cv-features");
	codec.features = appender_new(vs, schema_get("Features"),
	    field_names, F_COUNT, "cv-features");
}

static void
codec_free(void)
{
	reader_free(codec.event);
	appender_free(codec.features);
}

static struct view *
view_of(struct rec *r)
{
	return reader_view(codec.event, r);
}

/* Event time of an Event: observed_at, published_at, else period. */
static int64_t
view_time(const struct view *v)
{
	int64_t pub;

	if (v->branch == 1)
		return view_long(v, codec.vx[V_OBSERVED]);
	pub = view_opt_long(v, codec.ix[X_PUBLISHED]);
	if (pub != INT64_MIN)
		return pub;
	return view_long(v, codec.ix[X_PERIOD]) * 86400000LL;
}

/*
 * The order records are processed in: event time, and at equal times a
 * sighting before an index value, since a value is known only to what
 * comes strictly after its publication.
 */
static int64_t
order_key(const struct view *v, int64_t t)
{
	return t * 2 + (v->branch == 0);
}

/* The merge's ordering. */
static int64_t
event_time(struct rec *r)
{
	struct view *v = view_of(r);

	int64_t t;

	if (v == NULL)
		return INT64_MIN;
	/* Out of range: first out, to be rejected by the main loop. */
	t = view_time(v);
	if (t < -MAX_TIME_MS || t > MAX_TIME_MS)
		return INT64_MIN;
	return order_key(v, t);
}

/*
 * Updates wait for a later time.  A record is served from what happened
 * strictly before it, and what it teaches is learned only once a later
 * event arrives (or the input ends); records of one instant are then
 * learned in the order of their encodings.  So the features do not depend
 * on the order in which records of the same instant arrive, which
 * partitions of a topic, merged in event time, do not keep.
 */
static void learn_index(struct state *, const struct view *);
static void learn_sighting(struct state *, const struct view *,
    const struct learn *);

static void
defer(struct state *st, const struct view *v, const struct learn *l)
{
	struct pending *p;

	if (st->npend == st->pendcap) {
		st->pendcap = st->pendcap ? 2 * st->pendcap : 64;
		st->pend = erealloc(st->pend, st->pendcap * sizeof(*st->pend));
	}
	p = &st->pend[st->npend++];
	p->off = st->pendbuf.len;
	p->len = v->off[v->nfields];
	buf_add(&st->pendbuf, v->p, p->len);
	if (l != NULL)
		p->l = *l;
	else
		memset(&p->l, 0, sizeof(p->l));
	st->pend_t = view_time(v);
}

static const char *pend_bytes;	/* for by_encoding() */

static int
by_encoding(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	int c = memcmp(pend_bytes + x->off, pend_bytes + y->off,
	    x->len < y->len ? x->len : y->len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Learn what waits (all of it: the caller knows its time is past). */
static void
learn_pending(struct state *st)
{
	struct view v;
	const char *why;
	size_t i;

	pend_bytes = st->pendbuf.p;
	qsort(st->pend, st->npend, sizeof(*st->pend), by_encoding);
	for (i = 0; i < st->npend; i++) {
		if (view_parse(&v, reader_walker(codec.event), st->pendbuf.p +
		    st->pend[i].off, st->pend[i].len, &why) < 0)
			errx(1, "pending update: %s", why);
		if (v.branch == 0)
			learn_index(st, &v);
		else
			learn_sighting(st, &v, &st->pend[i].l);
	}
	st->npend = 0;
	buf_clear(&st->pendbuf);
}

/* The depreciation features of the finest level with enough comparables;
 * fills *fit and returns the level's name, or NULL. */
static const char *
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

/* A record being processed: where it came from, and its source record
 * while that is still at hand (not for records held to be reordered). */
struct item {
	const char	*where;
	struct rec	*r;
};

static int
bad(const struct item *it, const char *fmt, ...) PRINTF(2, 3);

/* Reject the record; -1, or -2 when the policy says stop. */
static int
bad(const struct item *it, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return reject(it->where, 1, NULL, 0, it->r ? rec_value(it->r) : NULL,
	    "%s", reason) < 0 ? -2 : -1;
}

/*
 * One VehicleObs: write its Features from the state as it stands (to sink;
 * NULL when served again after a restart), and keep what it teaches for
 * later (defer()).  Returns 0, -1 if it was rejected, -2 to stop.
 */
static int
vehicle(struct state *st, const struct item *it, const struct view *v,
    struct sink *sink)
{
	char id[256], segment[MAX_SEGMENT + 2], region[64];
	const char *lname;
	int64_t t = view_long(v, codec.vx[V_OBSERVED]);
	double price = view_opt_double(v, codec.vx[V_PRICE]);
	double km = view_opt_double(v, codec.vx[V_KM]);
	double cond = view_opt_double(v, codec.vx[V_COND]);
	double x[NREG], age, t_days = t / MS_PER_DAY, lnlevel, q, coff, roff;
	double hl = st->o.decay_half_life;
	int year = (int)view_long(v, codec.vx[V_YEAR]);
	struct offset *cohort, *reg;
	struct last_sale *last;
	struct slot sl[F_COUNT];
	struct series *ix;
	struct wlsfit fit;
	struct lookup *lk;
	struct vehicle *prev;

	view_string(v, codec.vx[V_ID], id, sizeof(id));
	view_string(v, codec.vx[V_SEGMENT], segment, sizeof(segment));
	view_string(v, codec.vx[V_REGION], region, sizeof(region));
	if (*segment == '\0' || strlen(segment) > MAX_SEGMENT)
		return bad(it, "segment: empty or longer than %d characters",
		    MAX_SEGMENT);
	if (view_opt_nan(v, codec.vx[V_PRICE]) ||
	    view_opt_nan(v, codec.vx[V_KM]) ||
	    view_opt_nan(v, codec.vx[V_COND]))
		return bad(it, "price, mileage_km or condition: NaN");
	if (!isnan(price) && (!isfinite(price) || price <= 0))
		return bad(it, "price: %g is not a positive number", price);
	if (isinf(km) || isinf(cond))
		return bad(it, "mileage or condition: not finite");
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
		defer(st, v, &l);
	}
	return 0;
}

/* Learn from a sighting served earlier (see struct learn). */
static void
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

	view_string(v, codec.vx[V_ID], id, sizeof(id));
	view_string(v, codec.vx[V_SEGMENT], segment, sizeof(segment));
	view_string(v, codec.vx[V_REGION], region, sizeof(region));
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

/* An IndexObs: checked, then folded into its series. */
static int
index_obs(struct state *st, const struct item *it, const struct view *v)
{
	double value = view_opt_double(v, codec.ix[X_VALUE]);
	double volume = view_opt_double(v, codec.ix[X_VOLUME]);

	if (view_opt_nan(v, codec.ix[X_VALUE]) ||
	    view_opt_nan(v, codec.ix[X_VOLUME]))
		return bad(it, "value or volume: NaN");
	if ((!isnan(value) && (!isfinite(value) || value <= 0)) ||
	    (!isnan(volume) && (!isfinite(volume) || volume <= 0)))
		return bad(it, "value %g or volume %g: not a positive number",
		    value, volume);
	if (isnan(value) && isnan(volume))
		return bad(it, "neither value nor volume");
	st->n_index++;
	st->n_index_novol += isnan(volume);
	defer(st, v, NULL);
	tally.absorbed++;
	return 0;
}

/* Fold an IndexObs into its series. */
static void
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

/* The options that give state its meaning, to refuse a mismatch. */
static char *
options_text(const struct opts *o)
{
	return easprintf("ewma %g window %d min-elasticity-n %d decay %g "
	    "min-comps %g vehicles %zu volume-source %s cohort-prior %g "
	    "region-prior %g", o->ewma_half_life, o->window,
	    o->min_elasticity_n, o->decay_half_life, o->min_comps,
	    o->max_vehicles, o->volume_source ? o->volume_source : "*",
	    o->cohort_prior, o->region_prior);
}

static const char state_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS sources(pos INTEGER PRIMARY KEY, "
    "source TEXT);"
    "CREATE TABLE IF NOT EXISTS series(key TEXT PRIMARY KEY, source TEXT, "
    "segment TEXT, region TEXT, points BLOB);"
    "CREATE TABLE IF NOT EXISTS volumes(key TEXT PRIMARY KEY, points BLOB);"
    "CREATE TABLE IF NOT EXISTS decay(key TEXT PRIMARY KEY, image BLOB);"
    "CREATE TABLE IF NOT EXISTS vehicles(id TEXT PRIMARY KEY, price REAL, "
    "mpi REAL, observed_at INTEGER, seq INTEGER);"
    "CREATE TABLE IF NOT EXISTS offsets(key TEXT PRIMARY KEY, s REAL, "
    "w REAL, t REAL);"
    "CREATE TABLE IF NOT EXISTS last_sales(segment TEXT PRIMARY KEY, "
    "price REAL, mpi REAL);"
    "CREATE TABLE IF NOT EXISTS pending(seq INTEGER PRIMARY KEY, "
    "event BLOB);";

static void
load_state(struct state *st, const char *path)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	char *opts = options_text(&st->o);
	const char *key;
	struct series *s;
	struct volumes *vs;
	struct decay *d;
	struct offset *o;
	struct last_sale *ls;
	const void *blob;
	int len;

	db_exec(db, state_schema);
	q = db_prepare(db, "SELECT key, value FROM meta");
	while (sqlite3_step(q) == SQLITE_ROW) {
		key = (const char *)sqlite3_column_text(q, 0);
		if (strcmp(key, "max_t") == 0)
			st->max_t = sqlite3_column_int64(q, 1);
		else if (strcmp(key, "vseq") == 0)
			st->vseq = (uint64_t)sqlite3_column_int64(q, 1);
		else if (strcmp(key, "options") == 0 && strcmp(opts,
		    (const char *)sqlite3_column_text(q, 1)) != 0)
			errx(1, "%s: state made with other options (%s), "
			    "not %s", path, sqlite3_column_text(q, 1), opts);
	}
	sqlite3_finalize(q);
	free(opts);
	q = db_prepare(db, "SELECT source FROM sources ORDER BY pos");
	while (sqlite3_step(q) == SQLITE_ROW)
		note_source(st, (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT source, segment, region, points FROM "
	    "series ORDER BY key");
	while (sqlite3_step(q) == SQLITE_ROW) {
		s = get_series(st, (const char *)sqlite3_column_text(q, 0),
		    (const char *)sqlite3_column_text(q, 1),
		    (const char *)sqlite3_column_text(q, 2), 1);
		blob = sqlite3_column_blob(q, 3);
		len = sqlite3_column_bytes(q, 3);
		if (len < 0 || len % sizeof(struct point) ||
		    len / sizeof(struct point) > RING)
			errx(1, "%s: series %s: damaged", path, s->segment);
		memcpy(s->pts, blob, (size_t)len);
		s->npts = len / (int)sizeof(struct point);
		derive(s, &st->o);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT key, points FROM volumes");
	while (sqlite3_step(q) == SQLITE_ROW) {
		len = sqlite3_column_bytes(q, 1);
		if (len < 0 || len % sizeof(struct point) ||
		    len / sizeof(struct point) > RING)
			errx(1, "%s: volumes: damaged", path);
		vs = ecalloc(1, sizeof(*vs));
		memcpy(vs->pts, sqlite3_column_blob(q, 1), (size_t)len);
		vs->npts = len / (int)sizeof(struct point);
		map_put(st->volumes, (const char *)sqlite3_column_text(q, 0),
		    vs);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT key, image FROM decay");
	while (sqlite3_step(q) == SQLITE_ROW) {
		d = ecalloc(1, sizeof(*d));
		d->wls = wls_from_image(sqlite3_column_blob(q, 1),
		    (size_t)sqlite3_column_bytes(q, 1));
		if (d->wls == NULL)
			errx(1, "%s: decay %s: damaged", path,
			    sqlite3_column_text(q, 0));
		map_put(st->decay, (const char *)sqlite3_column_text(q, 0), d);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT id, price, mpi, observed_at, seq FROM "
	    "vehicles ORDER BY seq");
	while (sqlite3_step(q) == SQLITE_ROW)
		vehicle_remember(st, NULL,
		    (const char *)sqlite3_column_text(q, 0),
		    sqlite3_column_double(q, 1), sqlite3_column_type(q, 2) ==
		    SQLITE_NULL ? NAN : sqlite3_column_double(q, 2),
		    sqlite3_column_int64(q, 3),
		    (uint64_t)sqlite3_column_int64(q, 4));
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT key, s, w, t FROM offsets");
	while (sqlite3_step(q) == SQLITE_ROW) {
		o = get_offset(st, (const char *)sqlite3_column_text(q, 0), 1);
		o->s = sqlite3_column_double(q, 1);
		o->w = sqlite3_column_double(q, 2);
		o->t = sqlite3_column_double(q, 3);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "SELECT segment, price, mpi FROM last_sales");
	while (sqlite3_step(q) == SQLITE_ROW) {
		ls = ecalloc(1, sizeof(*ls));
		ls->price = sqlite3_column_double(q, 1);
		ls->mpi = sqlite3_column_type(q, 2) == SQLITE_NULL ? NAN :
		    sqlite3_column_double(q, 2);
		map_put(st->last, (const char *)sqlite3_column_text(q, 0), ls);
	}
	sqlite3_finalize(q);
	/* Updates that were waiting: served again, without output, from the
	 * state they were served from, they wait again. */
	q = db_prepare(db, "SELECT event FROM pending ORDER BY seq");
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct item it = { "state", NULL };
		struct view v;
		const char *why;

		if (view_parse(&v, reader_walker(codec.event),
		    sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q,
		    0), &why) < 0)
			errx(1, "%s: pending: %s", path, why);
		if (v.branch == 0)
			defer(st, &v, NULL);
		else if (vehicle(st, &it, &v, NULL) < 0)
			errx(1, "%s: pending: a sighting refused", path);
	}
	sqlite3_finalize(q);
	db_close(db);
}

static void
save_points(sqlite3 *db, sqlite3_stmt *q, int col, const struct point *p,
    int n)
{
	(void)db;
	sqlite3_bind_blob(q, col, p, n * (int)sizeof(*p), SQLITE_TRANSIENT);
}

static void
save_state(struct state *st, const char *path)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	const char *key;
	void *val;
	struct series *s;
	struct vehicle *v;
	char *opts = options_text(&st->o), *img;
	size_t it, n;
	int i;

	db_exec(db, state_schema);
	db_exec(db, "BEGIN");
	db_exec(db, "DELETE FROM meta; DELETE FROM sources; DELETE FROM "
	    "series; DELETE FROM volumes; DELETE FROM decay; DELETE FROM "
	    "vehicles; DELETE FROM offsets; DELETE FROM last_sales; "
	    "DELETE FROM pending");
	q = db_prepare(db, "INSERT INTO meta VALUES (?, ?)");
	sqlite3_bind_text(q, 1, "max_t", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, st->max_t);
	db_step_done(db, q);
	sqlite3_bind_text(q, 1, "vseq", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)st->vseq);
	db_step_done(db, q);
	sqlite3_bind_text(q, 1, "options", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, opts, -1, SQLITE_STATIC);
	db_step_done(db, q);
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO sources VALUES (?, ?)");
	for (i = 0; i < st->nseen; i++) {
		sqlite3_bind_int(q, 1, i);
		sqlite3_bind_text(q, 2, st->seen_sources[i], -1,
		    SQLITE_STATIC);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO series VALUES (?, ?, ?, ?, ?)");
	for (it = 0; map_next(st->series, &it, &key, &val); ) {
		s = val;
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, s->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, s->segment, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, s->region, -1, SQLITE_STATIC);
		save_points(db, q, 5, s->pts, s->npts);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO volumes VALUES (?, ?)");
	for (it = 0; map_next(st->volumes, &it, &key, &val); ) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		save_points(db, q, 2, ((struct volumes *)val)->pts,
		    ((struct volumes *)val)->npts);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO decay VALUES (?, ?)");
	for (it = 0; map_next(st->decay, &it, &key, &val); ) {
		n = wls_image_size(((struct decay *)val)->wls);
		img = emalloc(n);
		wls_image(((struct decay *)val)->wls, img);
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_blob(q, 2, img, (int)n, SQLITE_TRANSIENT);
		db_step_done(db, q);
		free(img);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO vehicles VALUES (?, ?, ?, ?, ?)");
	for (v = st->oldest; v != NULL; v = v->newer) {
		sqlite3_bind_text(q, 1, v->id, -1, SQLITE_STATIC);
		sqlite3_bind_double(q, 2, v->price);
		if (isnan(v->mpi))
			sqlite3_bind_null(q, 3);
		else
			sqlite3_bind_double(q, 3, v->mpi);
		sqlite3_bind_int64(q, 4, v->at);
		sqlite3_bind_int64(q, 5, (sqlite3_int64)v->seq);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO offsets VALUES (?, ?, ?, ?)");
	for (it = 0; map_next(st->offsets, &it, &key, &val); ) {
		const struct offset *o = val;

		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_double(q, 2, o->s);
		sqlite3_bind_double(q, 3, o->w);
		sqlite3_bind_double(q, 4, o->t);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO pending VALUES (?, ?)");
	for (it = 0; it < st->npend; it++) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)it);
		sqlite3_bind_blob(q, 2, st->pendbuf.p + st->pend[it].off,
		    (int)st->pend[it].len, SQLITE_STATIC);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	q = db_prepare(db, "INSERT INTO last_sales VALUES (?, ?, ?)");
	for (it = 0; map_next(st->last, &it, &key, &val); ) {
		const struct last_sale *ls = val;

		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_double(q, 2, ls->price);
		if (isnan(ls->mpi))
			sqlite3_bind_null(q, 3);
		else
			sqlite3_bind_double(q, 3, ls->mpi);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	db_exec(db, "COMMIT");
	db_close(db);
	free(opts);
}

static void
free_series(void *p)
{
	struct series *s = p;

	free(s->source);
	free(s->segment);
	free(s->region);
	free(s);
}

static void
free_decay(void *p)
{
	struct decay *d = p;

	wls_free(d->wls);
	free(d);
}

static void
free_lookup(void *p)
{
	struct lookup *lk = p;

	free(lk->cohorts);
	free(lk);
}

static void
state_init(struct state *st)
{
	st->series = map_new();
	st->volumes = map_new();
	st->decay = map_new();
	st->vehicles = map_new();
	st->lookups = map_new();
	st->offsets = map_new();
	st->last = map_new();
	st->max_t = INT64_MIN;
}

/* Free everything learned; the options stay. */
static void
state_clear(struct state *st)
{
	struct opts o = st->o;
	int i;

	map_free(st->series, free_series);
	map_free(st->volumes, free);
	map_free(st->decay, free_decay);
	map_free(st->vehicles, vehicle_free);
	map_free(st->lookups, free_lookup);
	map_free(st->offsets, free);
	map_free(st->last, free);
	free(st->pend);
	buf_free(&st->pendbuf);
	for (i = 0; i < st->nseen; i++)
		free(st->seen_sources[i]);
	free(st->seen_sources);
	memset(st, 0, sizeof(*st));
	st->o = o;
}

static void
free_state(struct state *st)
{
	int i;

	state_clear(st);
	for (i = 0; i < st->o.nsources; i++)
		free(st->o.sources[i]);
	free(st->o.sources);
}

/*
 * Records held to be put in order (-l): a binary heap by order key, then
 * arrival.  A record is released once the latest event time is past it
 * by the lateness, so nothing that could still arrive belongs before it.
 */
struct held {
	int64_t	 key, t;
	uint64_t seq;
	char	*bytes;		/* the Event encoding */
	size_t	 len;
	char	*where;
};

struct reorder {
	struct held	*h;
	size_t		 n, cap;
	uint64_t	 seq;
};

static int
held_before(const struct held *a, const struct held *b)
{
	return a->key != b->key ? a->key < b->key : a->seq < b->seq;
}

static void
held_push(struct reorder *q, const struct view *v, const char *where)
{
	struct held x, tmp;
	size_t i, up;

	x.t = view_time(v);
	x.key = order_key(v, x.t);
	x.seq = q->seq++;
	x.len = v->off[v->nfields];
	x.bytes = estrndup(v->p, x.len);
	x.where = estrdup(where);
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 64;
		q->h = erealloc(q->h, q->cap * sizeof(*q->h));
	}
	i = q->n++;
	q->h[i] = x;
	for (; i > 0 && held_before(&q->h[i], &q->h[up = (i - 1) / 2]);
	    i = up) {
		tmp = q->h[up];
		q->h[up] = q->h[i];
		q->h[i] = tmp;
	}
}

static struct held
held_pop(struct reorder *q)
{
	struct held top = q->h[0], tmp;
	size_t i = 0, c;

	q->h[0] = q->h[--q->n];
	for (;;) {
		c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && held_before(&q->h[c + 1], &q->h[c]))
			c++;
		if (!held_before(&q->h[c], &q->h[i]))
			break;
		tmp = q->h[c];
		q->h[c] = q->h[i];
		q->h[i] = tmp;
		i = c;
	}
	return top;
}

static int
process(struct state *st, const struct item *it, const struct view *v,
    struct sink *sink)
{
	if (st->npend > 0 && view_time(v) > st->pend_t)
		learn_pending(st);
	return v->branch == 0 ? index_obs(st, it, v) : vehicle(st, it, v,
	    sink);
}

/*
 * Process the held records due by time `until` (all with INT64_MAX); with
 * drop, only free them (after a stop).
 */
static int
release(struct state *st, struct reorder *q, int64_t until,
    struct sink *sink, int drop)
{
	struct held x;
	struct view v;
	struct item it;
	const char *why;
	int stop = drop;

	while (q->n > 0 && q->h[0].t <= until) {
		x = held_pop(q);
		if (!stop) {
			if (view_parse(&v, reader_walker(codec.event),
			    x.bytes, x.len, &why))
				errx(1, "%s: held record: %s", x.where, why);
			it.where = x.where;
			it.r = NULL;
			stop = process(st, &it, &v, sink) == -2;
		}
		free(x.bytes);
		free(x.where);
	}
	return stop ? -1 : 0;
}

/* The state of this run, for start_again(). */
static struct state *live;

/* Forget everything: the input is read again from its start. */
static void
start_again(void)
{
	state_clear(live);
	state_init(live);
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-features [-v] [-c min-comps] [-d days] "
	    "[-e on-error] [-H months] [-I sources] [-k prior] [-l seconds] "
	    "[-M vehicles] [-n min-n] [-o file] [-r prior] [-s state] "
	    "[-V source] [-w months] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -c, --min-comps N       effective comparables a decay "
	    "level needs (20)\n"
	    "  -d, --decay-half-life D forgetting of old sales, days (180)\n"
	    "  -e, --on-error X        fail (default), skip, or a file for "
	    "rejects\n"
	    "  -H, --ewma-half-life M  index EWMA half-life, months (3)\n"
	    "  -I, --index-sources L   index sources by preference, "
	    "comma-separated\n"
	    "                          (default: in order of first "
	    "appearance)\n"
	    "  -k, --cohort-prior N    sales' worth of the segment's curve "
	    "a model\n"
	    "                          year's offset is shrunk towards (3)\n"
	    "  -l, --lateness S        hold records S seconds to put them in "
	    "event-time\n"
	    "                          order (0: they must arrive in order)\n"
	    "  -M, --max-vehicles N    vehicles remembered for prev_value "
	    "(1000000)\n"
	    "  -n, --min-n N           months an elasticity fit needs (12)\n"
	    "  -o, --output FILE       write there instead of stdout\n"
	    "  -r, --region-prior N    the same for a region's offset (20)\n"
	    "  -s, --state FILE        keep state in this sqlite file across "
	    "runs\n"
	    "  -V, --volume-source S   only this source's volume-only "
	    "records pair\n"
	    "                          with index values (default: any)\n"
	    "  -w, --window M          elasticity and volatility window, "
	    "months (24)\n"
	    "  -v, --verbose           counts and rate on stderr\n"
	    "  -h, --help              this help\n");
	kafka_help(stdout);
}


static void
split_sources(struct opts *o, const char *list)
{
	char *copy = estrdup(list), *p, *save = NULL;

	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",",
	    &save)) {
		o->sources = erealloc(o->sources, (size_t)(o->nsources + 1) *
		    sizeof(*o->sources));
		o->sources[o->nsources++] = estrdup(p);
	}
	free(copy);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "min-comps",	     required_argument, NULL, 'c' },
		{ "decay-half-life", required_argument, NULL, 'd' },
		{ "on-error",	     required_argument, NULL, 'e' },
		{ "ewma-half-life",  required_argument, NULL, 'H' },
		{ "help",	     no_argument,	NULL, 'h' },
		{ "index-sources",   required_argument, NULL, 'I' },
		{ "cohort-prior",    required_argument, NULL, 'k' },
		{ "lateness",	     required_argument, NULL, 'l' },
		{ "max-vehicles",    required_argument, NULL, 'M' },
		{ "min-n",	     required_argument, NULL, 'n' },
		{ "output",	     required_argument, NULL, 'o' },
		{ "region-prior",    required_argument, NULL, 'r' },
		{ "state",	     required_argument, NULL, 's' },
		{ "volume-source",   required_argument, NULL, 'V' },
		{ "verbose",	     no_argument,	NULL, 'v' },
		{ "window",	     required_argument, NULL, 'w' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct state st = { 0 };
	struct sink *sink;
	struct src *src;
	struct rec *r;
	struct view *v;
	struct reorder held = { 0 };
	struct item it;
	const char *out = NULL, *state = NULL;
	int64_t t;
	int c, rc, verbose = 0, status, stop = 0, late_stop = 0;
	double t0 = now_seconds();

	st.o.ewma_half_life = 3;
	st.o.window = 24;
	st.o.min_elasticity_n = 12;
	st.o.decay_half_life = 180;
	st.o.min_comps = 20;
	st.o.lateness_ms = 0;
	st.o.max_vehicles = 1000000;
	st.o.cohort_prior = 3;
	st.o.region_prior = 20;
	while ((c = getopt_long(argc, argv,
	    "c:d:e:H:hI:k:l:M:n:o:r:s:V:vw:" KAFKA_OPTSTRING, longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'c':
			st.o.min_comps = number_arg(c, optarg, 1, 1e9, usage);
			break;
		case 'd':
			st.o.decay_half_life = number_arg(c, optarg, 0, 1e6,
			    usage);
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'H':
			st.o.ewma_half_life = number_arg(c, optarg, 0.01,
			    1000, usage);
			break;
		case 'h':
			help();
			return 0;
		case 'I':
			split_sources(&st.o, optarg);
			break;
		case 'k':
			st.o.cohort_prior = number_arg(c, optarg, 0, 1e9,
			    usage);
			break;
		case 'l':
			st.o.lateness_ms = number_arg(c, optarg, 0, 1e9,
			    usage) * 1e3;
			break;
		case 'M':
			st.o.max_vehicles = (size_t)number_arg(c, optarg, 0,
			    1e9, usage);
			break;
		case 'n':
			st.o.min_elasticity_n = (int)number_arg(c, optarg, 3,
			    RING, usage);
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			st.o.region_prior = number_arg(c, optarg, 0, 1e9,
			    usage);
			break;
		case 's':
			state = optarg;
			break;
		case 'V':
			st.o.volume_source = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			st.o.window = (int)number_arg(c, optarg, 3, RING,
			    usage);
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	stream_init();
	gsl_set_error_handler_off();
	state_init(&st);
	codec_init();
	if (state != NULL)
		load_state(&st, state);
	else if (kafka_input()) {
		/* Scaled out, each instance keeps the whole market. */
		if (st.o.lateness_ms > 0)
			errx(2, "-l: not with -t unless -s (partitions are "
			    "merged in event time; see --idle)");
		live = &st;
		stream_keep_state(start_again);
	}
	sink = sink_open(out, schema_text("Features"));
	src = src_open_merged(argv + optind, argc - optind, "Event",
	    event_time);
	src_lazy(src);
	while (!stop && (rc = src_next(src, &r)) > 0) {
		if ((v = view_of(r)) == NULL)
			continue;
		t = view_time(v);
		if (t < -MAX_TIME_MS || t > MAX_TIME_MS) {
			if (reject(rec_where(r), 1, NULL, 0, rec_value(r),
			    "time %lld ms: outside the years -29719..33658",
			    (long long)t) < 0)
				stop = 1;
			continue;
		}
		if (st.max_t != INT64_MIN && t < st.max_t - st.o.lateness_ms) {
			char a[40], b[40];

			if (reject(rec_where(r), 1, NULL, 0, rec_value(r), "out of "
			    "time order: %s is before %s by more than the "
			    "lateness (%g s)", time_format(t, a, sizeof(a)),
			    time_format(st.max_t, b, sizeof(b)),
			    st.o.lateness_ms / 1e3) < 0)
				late_stop = stop = 1;
			continue;
		}
		if (t > st.max_t)
			st.max_t = t;
		if (st.o.lateness_ms > 0) {
			held_push(&held, v, rec_where(r));
			if (release(&st, &held, st.max_t - st.o.lateness_ms,
			    sink, 0) < 0)
				stop = 1;
		} else {
			it.where = rec_where(r);
			it.r = r;
			if (process(&st, &it, v, sink) == -2)
				stop = 1;
		}
		src_ack(src, r);
	}
	/* What arrived before a late record is still written. */
	if (release(&st, &held, INT64_MAX, sink, stop && !late_stop) < 0)
		stop = 1;
	free(held.h);
	if (state != NULL)
		save_state(&st, state);
	sink_close(sink);
	src_close(src);
	codec_free();
	if (verbose)
		warnx("%lld index records (%lld without their own volume); "
		    "%lld sightings: %lld without an index, %lld without an "
		    "elasticity, %lld without a depreciation fit",
		    (long long)st.n_index, (long long)st.n_index_novol,
		    (long long)st.n_vehicles, (long long)st.n_noindex,
		    (long long)st.n_noelasticity, (long long)st.n_nodecay);
	free_state(&st);
	schema_cleanup();
	status = tally_finish(verbose);
	if (verbose)
		warnx("%.0f records/s", tally.read / (now_seconds() - t0));
	return stop || rc < 0 ? 1 : status;
}
