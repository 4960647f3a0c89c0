/*
 * cv-index: a mix-adjusted collateral value index.  Reads Features (or a
 * later stage's records) in event time and writes IndexObs records, source
 * cvpipe.index: for each segment level (market *, make:toyota,
 * toyota/camry, toyota/camry/le), region and period (a month, or an ISO
 * week, -w), the price of a constant mix of vehicles, 100 in the first period
 * the series has, chained period to period, with its standard error
 * (value_se) and the number of sales behind it (value_n).
 *
 * Each link is one hedonic regression over the sales of two periods, the
 * last one published and the one just ended:
 *	ln price = a_g + b_g age + d D + c1 age^2 + c2 km/1e4 + c3 [km unknown]
 *	    + c4 condition + c5 [condition unknown] + e
 * with an intercept and an age slope per trim segment g (so a shift of the
 * mix between trims or ages is not a price change) and D = 1 for the later
 * period; d is the log change.  The fit is its own, not cv-features' or
 * cv-predict's, so the index does not move when the valuation changes.
 * A period is published once a sale of a later one arrives, with
 * published_at at the period's end: nothing in a value was learned after
 * it became known.
 *
 *	cv-features sales.avro | cv-index -R | cv-cat -f table
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "lib/append.h"
#include "lib/field.h"
#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/timeparse.h"
#include "lib/valid.h"
#include "index.h"

#define MS_DAY		86400000LL
#define DAYS_YEAR	365.25
#define MIN_AGE_SD	0.01	/* years: below, a trim gets no slope */

static const char *level_names[L_COUNT] = { "market", "make", "model",
	"trim" };

/* What one link gives. */
struct link {
	double	d, s2;		/* log change, residual variance */
	double	var;		/* of the new level */
	int	n, dof;
};

enum {
	F_SEGMENT, F_REGION, F_OBSERVED, F_PRICE, F_AGE, F_KM, F_COND,
	F_COUNT
};
static struct field input[F_COUNT] = {	/* price: -p */
	[F_SEGMENT] = { "segment", 's' },
	[F_REGION] = { "region", 's' },
	[F_OBSERVED] = { "observed_at", 'l' },
	[F_PRICE] = { "price", 'D' },
	[F_AGE] = { "age_months", 'd' },
	[F_KM] = { "mileage_km", 'D' },
	[F_COND] = { "condition", 'D' },
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-index [-Rvw] [-e on-error] [-l levels] "
	    "[-n min-sales] [-o file] [-p field] [-S state] [-s source=value] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -e, --on-error X    fail (default), skip, or a file for "
	    "rejects\n"
	    "  -l, --levels L,... segment levels: market, make, model, trim\n"
	    "                      (default market,make,model)\n"
	    "  -n, --min-sales N   sales a period needs to be published "
	    "(100)\n"
	    "  -o, --output FILE   write there instead of stdout\n"
	    "  -p, --price FIELD   the prices indexed (price; e.g. "
	    "reference_value)\n"
	    "  -R, --regions       also each region's series (else only "
	    "*)\n"
	    "  -S, --state FILE    keep the series and the open period in "
	    "this sqlite\n"
	    "                      file (a later run goes on from them)\n"
	    "  -s, --set K=V       source=NAME: the records' source "
	    "(cvpipe.index)\n"
	    "  -v, --verbose       counts on stderr\n"
	    "  -w, --weekly        ISO weeks (from Monday), not months\n"
	    "  -h, --help          this help\n");
	kafka_help(stdout);
}

/* The period (first day, days since the epoch) of a time, and the next. */
static int32_t
period_of(const struct indexer *ix, int64_t ms)
{
	int64_t days = ms / MS_DAY - (ms % MS_DAY < 0);
	int y;
	unsigned m, d;

	if (ix->weekly)		/* 1970-01-01 was a Thursday */
		return (int32_t)(days - ((days + 3) % 7 + 7) % 7);
	civil_from_days(days, &y, &m, &d);
	return (int32_t)days_from_civil(y, m, 1);
}

static int32_t
period_after(const struct indexer *ix, int32_t p)
{
	int y;
	unsigned m, d;

	if (ix->weekly)
		return p + 7;
	civil_from_days(p, &y, &m, &d);
	return (int32_t)(m == 12 ? days_from_civil(y + 1, 1, 1) :
	    days_from_civil(y, m + 1, 1));
}

void
add_sale(struct sales *ss, const struct sale *s)
{
	if (ss->n == ss->cap) {
		ss->cap = ss->cap ? 2 * ss->cap : 64;
		ss->s = erealloc(ss->s, ss->cap * sizeof(*ss->s));
	}
	ss->s[ss->n++] = *s;
}

struct series *
series_for(struct indexer *ix, const char *segment, const char *region)
{
	char *key = easprintf("%s\t%s", segment, region);
	struct series *s = map_get(ix->series, key);

	if (s == NULL) {
		s = ecalloc(1, sizeof(*s));
		s->segment = estrdup(segment);
		s->region = estrdup(region);
		map_put(ix->series, key, s);
		ix->all = erealloc(ix->all, (ix->nall + 1) * sizeof(*ix->all));
		ix->all[ix->nall++] = s;
	}
	free(key);
	return s;
}

static int
group_id(struct indexer *ix, const char *segment)
{
	void *p = map_get(ix->groups, segment);

	if (p == NULL) {
		p = (void *)(intptr_t)++ix->ngroups;
		map_put(ix->groups, segment, p);
	}
	return (int)(intptr_t)p - 1;
}

/* Rows of a link, sorted by trim segment for the within-group pass. */
struct row {
	int	 grp;
	double	 age;
	double	 v[NX + 2];	/* D, the x, then y */
	struct sale *from;	/* in prev or cur, to set its weight */
	int	 later;
};

static int
by_group(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return (x->grp > y->grp) - (x->grp < y->grp);
}

/*
 * Take out of every column, within each trim segment, its mean and (with
 * three or more sales whose ages differ) its slope on age: the
 * segment's own intercept and age slope.  Returns the number of those
 * parameters.
 */
static int
within_groups(struct row *r, size_t n)
{
	size_t i, j, k, m;
	int params = 0;

	for (i = 0; i < n; i = j) {
		double abar = 0, saa = 0, mean[NX + 2], sav[NX + 2];

		for (j = i; j < n && r[j].grp == r[i].grp; j++)
			abar += r[j].age;
		m = j - i;
		abar /= (double)m;
		memset(mean, 0, sizeof(mean));
		memset(sav, 0, sizeof(sav));
		for (j = i; j < i + m; j++) {
			saa += (r[j].age - abar) * (r[j].age - abar);
			for (k = 0; k < NX + 2; k++)
				mean[k] += r[j].v[k] / (double)m;
		}
		for (j = i; j < i + m; j++)
			for (k = 0; k < NX + 2; k++)
				sav[k] += (r[j].age - abar) *
				    (r[j].v[k] - mean[k]);
		params++;
		if (m < 3 || saa < (double)m * MIN_AGE_SD * MIN_AGE_SD)
			saa = 0;
		else
			params++;
		for (j = i; j < i + m; j++)
			for (k = 0; k < NX + 2; k++)
				r[j].v[k] -= mean[k] + (saa > 0 ? sav[k] /
				    saa * (r[j].age - abar) : 0);
	}
	return params;
}

/*
 * (X'X)^-1 of the columns sel[0..m) of the cross products g, into inv
 * (m x m); -1 when they are (nearly) collinear.  Solved scaled to a unit
 * diagonal, so that the reciprocal condition number measures collinearity
 * and not the columns' units.
 */
static int
invert(const double g[NX + 1][NX + 2], const int *sel, int m,
    gsl_matrix *inv)
{
	gsl_matrix_view a = gsl_matrix_submatrix(inv, 0, 0, (size_t)m,
	    (size_t)m);
	gsl_vector *work = gsl_vector_alloc(3 * (size_t)m);
	double d[NX + 1], rcond;
	int j, k, rc = -1;

	for (j = 0; j < m; j++)
		d[j] = sqrt(g[sel[j]][sel[j]]);
	for (j = 0; j < m; j++)
		for (k = 0; k < m; k++)
			gsl_matrix_set(&a.matrix, (size_t)j, (size_t)k,
			    g[sel[j]][sel[k]] / (d[j] * d[k]));
	if (gsl_linalg_cholesky_decomp1(&a.matrix) == GSL_SUCCESS &&
	    gsl_linalg_cholesky_rcond(&a.matrix, &rcond, work) ==
	    GSL_SUCCESS && rcond >= 1e-10 &&
	    gsl_linalg_cholesky_invert(&a.matrix) == GSL_SUCCESS) {
		for (j = 0; j < m; j++)
			for (k = 0; k < m; k++)
				gsl_matrix_set(&a.matrix, (size_t)j, (size_t)k,
				    gsl_matrix_get(&a.matrix, (size_t)j,
				    (size_t)k) / (d[j] * d[k]));
		rc = 0;
	}
	gsl_vector_free(work);
	return rc;
}

/*
 * The link from the sales of a series' last published period to those
 * of the period just ended (see the top).  Of the common terms, those
 * the trim segments or the terms before them explain (an indicator never
 * set, two indicators always set together) drop out; D comes last and
 * must not be explained by the rest.  The new level's variance is that
 * of a linear function of the log prices: each period's sales weigh into
 * the two links that use them, so a period's weights are summed before
 * they are squared (the links are not independent).  Returns 0, or -1
 * when the two periods cannot be linked: D is (nearly) explained by the
 * trim segments and the other terms, or no degree of freedom is left.
 */
static int
fit_link(struct series *s, struct link *lk)
{
	size_t n = s->prev.n + s->cur.n, i;
	struct row *r = emalloc(n * sizeof(*r));
	gsl_matrix *inv = gsl_matrix_alloc(NX + 1, NX + 1);
	double g[NX + 1][NX + 2], beta[NX + 1], rss = 0, wprev = 0;
	double wcur = 0, s2, dprev;
	int sel[NX + 1], na = 0, params, dof, j, k, rc = -1;

	for (i = 0; i < n; i++) {
		struct sale *x = i < s->prev.n ? &s->prev.s[i] :
		    &s->cur.s[i - s->prev.n];

		r[i].grp = x->grp;
		r[i].age = x->age;
		r[i].later = i >= s->prev.n;
		r[i].v[0] = r[i].later;
		memcpy(r[i].v + 1, x->x, sizeof(x->x));
		r[i].v[NX + 1] = x->y;
		r[i].from = x;
	}
	qsort(r, n, sizeof(*r), by_group);
	params = within_groups(r, n);
	memset(g, 0, sizeof(g));
	for (i = 0; i < n; i++)
		for (j = 0; j < NX + 1; j++)
			for (k = 0; k < NX + 2; k++)
				g[j][k] += r[i].v[j] * r[i].v[k];
	for (j = 1; j <= NX + 1; j++) {
		k = j % (NX + 1);	/* 1 .. NX, then D (0) */
		sel[na] = k;
		if (g[k][k] > 1e-9 * (double)n && invert(g, sel, na + 1,
		    inv) == 0)
			na++;
		else if (k == 0)
			goto out;
	}
	dof = (int)n - params - na;
	if (dof < 1 || invert(g, sel, na, inv) < 0)
		goto out;
	/* inv is (X'X)^-1 of the columns kept, D last. */
	for (j = 0; j < na; j++)
		for (beta[j] = 0, k = 0; k < na; k++)
			beta[j] += gsl_matrix_get(inv, (size_t)j, (size_t)k) *
			    g[sel[k]][NX + 1];
	for (i = 0; i < n; i++) {
		double fit = 0, c = 0;

		for (j = 0; j < na; j++) {
			fit += beta[j] * r[i].v[sel[j]];
			c += gsl_matrix_get(inv, (size_t)na - 1, (size_t)j) *
			    r[i].v[sel[j]];
		}
		rss += (r[i].v[NX + 1] - fit) * (r[i].v[NX + 1] - fit);
		/* c: the weight of this sale's ln price in d. */
		if (r[i].later) {
			wcur += c * c;
			r[i].from->c = c;	/* its period's first link */
		} else {
			dprev = r[i].from->c + c;
			wprev += dprev * dprev;
			r[i].from->c = dprev;	/* both links: final */
		}
	}
	s2 = rss / dof;
	lk->d = beta[na - 1];
	lk->s2 = s2;
	lk->n = (int)s->cur.n;
	lk->dof = dof;
	/* The base period's sales get the first link's variance. */
	lk->var = s->var_closed + (s->s2_prev == 0 ? s2 : s->s2_prev) *
	    wprev + s2 * wcur;
	rc = 0;
out:
	gsl_matrix_free(inv);
	free(r);
	return rc;
}

/* Write one index value. */
static void
put_value(struct indexer *ix, const struct series *s, int32_t period,
    double value, double se, size_t n)
{
	struct buf *e = &ix->enc;
	int64_t written = run_tally.written;

	buf_clear(e);
	enc_string(e, ix->source);
	enc_string(e, s->segment);
	enc_string(e, s->region);
	enc_long(e, period);
	enc_opt_long(e, 1, (int64_t)period_after(ix, period) * MS_DAY);
	enc_opt_double(e, 1, value);
	enc_opt_double(e, 0, 0);	/* volume */
	enc_opt_double(e, 0, 0);	/* days_supply */
	enc_opt_double(e, 1, se);
	enc_opt_long(e, 1, (int64_t)n);
	sink_put_raw(ix->out, e->p, e->len, s->segment, strlen(s->segment));
	/* The summary reconciles the sales read; values count apart. */
	run_tally.written = written;
	ix->values++;
}

static int
by_name(const void *a, const void *b)
{
	const struct series *x = *(struct series *const *)a;
	const struct series *y = *(struct series *const *)b;
	int c = strcmp(x->segment, y->segment);

	return c ? c : strcmp(x->region, y->region);
}

/*
 * The open period has ended: publish each series that has enough of its
 * sales, linked to its last published period.  A series without enough,
 * or whose two periods cannot be linked, publishes nothing and waits
 * for a later period to link to the last one it published.
 */
static void
close_period(struct indexer *ix)
{
	struct link lk;
	struct sales t;
	size_t i, k;

	qsort(ix->all, ix->nall, sizeof(*ix->all), by_name);
	for (i = 0; i < ix->nall; i++) {
		struct series *s = ix->all[i];

		if (s->cur.n == 0)
			continue;
		if ((long)s->cur.n < ix->min_n) {
			ix->thin++;
			s->cur.n = 0;
			continue;
		}
		if (!s->based) {
			for (k = 0; k < s->cur.n; k++)
				s->cur.s[k].c = 0;
			put_value(ix, s, ix->open, 100, 0, s->cur.n);
			s->based = 1;
		} else if (fit_link(s, &lk) < 0) {
			ix->unlinked++;
			s->cur.n = 0;
			continue;
		} else {
			s->var_closed = lk.var;
			for (k = 0; k < s->cur.n; k++)
				s->var_closed -= lk.s2 * s->cur.s[k].c *
				    s->cur.s[k].c;
			s->s2_prev = lk.s2;
			s->lnlevel += lk.d;
			put_value(ix, s, ix->open, 100 * exp(s->lnlevel),
			    100 * exp(s->lnlevel) * sqrt(lk.var), s->cur.n);
		}
		t = s->prev;
		s->prev = s->cur;
		s->cur = t;
		s->cur.n = 0;
	}
}

/* The series a sale of segment in region belongs to, at each level. */
static void
file_sale(struct indexer *ix, const char *segment, const char *region,
    const struct sale *x)
{
	char key[512];
	const char *slash1 = strchr(segment, '/');
	const char *slash2 = slash1 ? strchr(slash1 + 1, '/') : NULL;
	int l, rg;

	for (l = 0; l < L_COUNT; l++) {
		if (!ix->levels[l])
			continue;
		switch (l) {
		case L_MARKET:
			snprintf(key, sizeof(key), "*");
			break;
		case L_MAKE:
			snprintf(key, sizeof(key), "make:%.*s", slash1 ?
			    (int)(slash1 - segment) : (int)strlen(segment),
			    segment);
			break;
		case L_MODEL:
			if (slash1 == NULL)
				continue;
			snprintf(key, sizeof(key), "%.*s", slash2 ?
			    (int)(slash2 - segment) : (int)strlen(segment),
			    segment);
			break;
		default:
			if (slash2 == NULL)
				continue;
			snprintf(key, sizeof(key), "%s", segment);
			break;
		}
		for (rg = 0; rg <= (ix->regions && strcmp(region, "*")); rg++)
			add_sale(&series_for(ix, key, rg ? region : "*")->cur,
			    x);
	}
}

/* One record; 0, or -1 when the reject policy says stop. */
static int
take(struct indexer *ix, struct rec *r, const struct view *v)
{
	const int *fx = ix->fx;
	char segment[256], region[64], when[32], open[16];
	const char *why;
	double price, km, cond;
	struct sale x;
	int64_t t;
	int32_t p;

	if (valid_check(ix->valid, v, &why) >= 0)
		return reject(rec_where(r), 1, NULL, 0, rec_value(r), "%s",
		    why);
	/* Keys are never cut (two would become one). */
	if (view_text_len(v, fx[F_REGION], 0) >= sizeof(region))
		return reject(rec_where(r), 1, NULL, 0, rec_value(r),
		    "region: longer than %zu bytes", sizeof(region) - 1);
	if (view_is_null(v, fx[F_PRICE])) {
		run_tally.absorbed++;	/* a book vehicle: no sale */
		return 0;
	}
	price = view_opt_double(v, fx[F_PRICE]);
	if (!(price > 0) || isinf(price))
		return reject(rec_where(r), 1, NULL, 0, rec_value(r),
		    "%s: not a positive number: %g", input[F_PRICE].name,
		    price);
	x.age = view_double(v, fx[F_AGE]) / 12;
	if (!isfinite(x.age))
		return reject(rec_where(r), 1, NULL, 0, rec_value(r),
		    "age_months: not finite");
	t = view_long(v, fx[F_OBSERVED]);
	p = period_of(ix, t);
	if (ix->open != INT32_MIN && p < ix->open)
		return reject(rec_where(r), 1, NULL, 0, rec_value(r),
		    "observed_at %s: before the open period %s: input out "
		    "of time order", time_format(t, when, sizeof(when)),
		    date_format(ix->open, open, sizeof(open)));
	if (ix->open == INT32_MIN)
		ix->open = p;
	while (p > ix->open) {
		close_period(ix);
		ix->open = period_after(ix, ix->open);
	}
	view_string(v, fx[F_SEGMENT], segment, sizeof(segment));
	view_string(v, fx[F_REGION], region, sizeof(region));
	km = view_opt_double(v, fx[F_KM]);
	cond = view_opt_double(v, fx[F_COND]);
	x.y = log(price);
	x.x[0] = x.age * x.age;
	x.x[1] = isnan(km) ? 0 : km / 1e4;
	x.x[2] = isnan(km);
	x.x[3] = isnan(cond) ? 0 : cond - 0.5;
	x.x[4] = isnan(cond);
	x.grp = group_id(ix, segment);
	x.c = 0;
	file_sale(ix, segment, region, &x);
	run_tally.written++;	/* taken into the index */
	return 0;
}

static int
parse_levels(struct indexer *ix, const char *arg)
{
	char *copy = estrdup(arg), *p, *save = NULL;
	int l, rc = 0;

	memset(ix->levels, 0, sizeof(ix->levels));
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",",
	    &save)) {
		for (l = 0; l < L_COUNT; l++)
			if (strcmp(p, level_names[l]) == 0)
				break;
		if (l == L_COUNT) {
			warnx("-l: %s: not market, make, model or trim", p);
			rc = -1;
			break;
		}
		ix->levels[l] = 1;
	}
	free(copy);
	return rc;
}

/* Over topics, a partition that comes to this instance late: start
 * again from nothing (stream_keep_state()). */
static void
start_again(void *arg)
{
	struct indexer *ix = arg;

	map_free(ix->series, free_series);
	map_free(ix->groups, NULL);
	ix->series = map_new();
	ix->groups = map_new();
	free(ix->all);
	ix->all = NULL;
	ix->nall = 0;
	ix->ngroups = 0;
	ix->open = INT32_MIN;
}

/* A checkpoint over topics (stream_resume()). */
static void
checkpointed(void *arg, const struct positions *now)
{
	struct indexer *ix = arg;

	index_state_save(ix, ix->state, now);
}

void
free_series(void *p)
{
	struct series *s = p;

	free(s->segment);
	free(s->region);
	free(s->prev.s);
	free(s->cur.s);
	free(s);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "on-error",	required_argument, NULL, 'e' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "levels",	required_argument, NULL, 'l' },
		{ "min-sales",	required_argument, NULL, 'n' },
		{ "output",	required_argument, NULL, 'o' },
		{ "price",	required_argument, NULL, 'p' },
		{ "regions",	no_argument,	   NULL, 'R' },
		{ "set",	required_argument, NULL, 's' },
		{ "state",	required_argument, NULL, 'S' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "weekly",	no_argument,	   NULL, 'w' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct indexer ix = { .min_n = 100, .source = "cvpipe.index",
	    .levels = { 1, 1, 1, 0 }, .open = INT32_MIN };
	avro_schema_t fs;
	struct src *src;
	struct rec *r;
	struct view *v;
	const char *out = NULL, *price = "price", *eq;
	int c, i, rc, verbose = 0, status;

	while ((c = getopt_long(argc, argv, "e:hl:n:o:p:RS:s:vw" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'l':
			if (parse_levels(&ix, optarg) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'n':
			ix.min_n = (long)number_arg('n', optarg, 2, 1e9, usage);
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			price = optarg;
			break;
		case 'R':
			ix.regions = 1;
			break;
		case 'S':
			ix.state = optarg;
			break;
		case 's':
			if (strncmp(optarg, "source=", 7) == 0) {
				ix.source = optarg + 7;
				break;
			}
			if ((eq = strchr(optarg, '=')) == NULL)
				warnx("-s %s: not key=value (source=NAME)",
				    optarg);
			else
				warnx("-s %s: unknown key %.*s (the one key is "
				    "source)", optarg, (int)(eq - optarg),
				    optarg);
			usage(stderr);
			return 2;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			ix.weekly = 1;
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	gsl_set_error_handler_off();
	run_init();
	ix.series = map_new();
	ix.groups = map_new();
	fs = schema_get("Features");
	if (avro_schema_record_field_get_index(fs, price) < 0) {
		warnx("-p: %s: no such field in Features", price);
		usage(stderr);
		return 2;
	}
	input[F_PRICE].name = price;
	ix.price = price;
	for (i = 0; i < F_COUNT; i++)
		ix.fx[i] = field_pos(fs, input[i].name, input[i].type,
		    "cv-index");
	ix.valid = valid_new(input, ix.fx, F_COUNT);
	ix.in = reader_new(fs);
	ix.out = sink_open(out, schema_text("IndexObs"));
	/* The index is the whole market's: over topics every instance reads
	 * every partition, and a period is published by the instance that
	 * owns the record that closes it. */
	stream_keep_state(start_again, &ix);
	if (ix.state != NULL) {
		index_state_load(&ix, ix.state);
		stream_resume(&ix.at, checkpointed, &ix);
	}
	src = src_open(argv + optind, argc - optind, "Features");
	src_lazy(src);
	while ((rc = src_next(src, &r)) > 0) {
		if ((v = reader_view(ix.in, r)) != NULL &&
		    take(&ix, r, v) < 0) {
			rc = -1;
			break;
		}
		src_ack(src, r);
	}
	if (ix.state != NULL && rc >= 0 && !kafka_input())
		index_state_save(&ix, ix.state, NULL);	/* (topics: at the
							 * last checkpoint) */
	sink_close(ix.out);
	src_close(src);
	reader_free(ix.in);
	valid_free(ix.valid);
	map_free(ix.series, free_series);
	map_free(ix.groups, NULL);
	free(ix.all);
	positions_free(&ix.at);
	buf_free(&ix.enc);
	schema_cleanup();
	if (verbose)
		warnx("%lld index values; %lld series-periods with fewer than "
		    "%ld sales, %lld that could not be linked; the open "
		    "period is not published", (long long)ix.values,
		    (long long)ix.thin, ix.min_n, (long long)ix.unlinked);
	status = reject_finish(verbose);
	return rc < 0 ? 1 : status;
}
