/*
 * cv-sim: a synthetic used-car market and loan book with known
 * parameters.  Writes an Event stream in event time: monthly index values
 * (IndexObs) for the market and each make, comparable sales of trim
 * segments (VehicleObs with a price) and monthly snapshots of a loan book
 * (VehicleObs with a loan balance).  -p writes the true parameters as
 * JSON, so tests can check what later stages recover.
 *
 *	cv-sim -N 100000 -p truth.json | cv-features | cv-cat -f table
 *
 * The model, month t = 0 .. months-1 (the man page says it in full):
 *	series j (market, make k): latent L_j(t), a random walk in logs;
 *	ln volume_j(t) = (L_j(t) - a_j) / elasticity
 *	ln index_j(t)  = L_j(t) + e_j(t),	e ~ N(0, index_noise^2)
 *	ln price = ln level_s + ln index_k(t) - ln index_k(0) - decay_s * age
 *	    + mileage_slope * km / 1e4 + condition_coef * (condition - 0.5)
 *	    + u,				u ~ N(0, noise^2)
 */
#include <err.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"

#define MS_DAY		86400000LL
#define DAYS_YEAR	365.25		/* age_years = days / DAYS_YEAR */
#define PUBLISH_DAYS	15		/* published_at = period + 15 days */
#define BASE_INDEX	100.0		/* every latent starts at ln 100 */
#define BASE_VOLUME	20000.0		/* a make's median monthly units */
#define BASE_PRICE	30000.0		/* median price of a new car */
#define MAX_AGE		10		/* sales: model years back */
#define LOAN_MAX_AGE	6		/* loans: the same */
#define KM_YEAR		15000.0		/* median km per year */
#define KM_SPREAD	0.35		/* sd of ln km per year */
#define COND_A		4.0		/* condition ~ Beta(COND_A, COND_B) */
#define COND_B		3.0
#define COND_WEAR	0.02		/* condition lost per year after sale */
#define POOL		4096		/* sold vehicles that may be resold */
#define RESALE_GAP	(30 * MS_DAY)	/* no resale within a month */
#define LTV_LO		0.80
#define LTV_HI		1.00
#define APR_LO		0.04
#define APR_HI		0.12

struct shock {
	int	 make;		/* 1-based, 0 for the whole market */
	int	 month;		/* 0-based from --start */
	double	 size;		/* added to the latent log index */
};

struct opts {
	unsigned long	 seed;
	int64_t		 records;
	int		 makes, models, trims, segments;
	int		 months, start_y, start_m;
	int		 loans;
	double		 elasticity, index_noise;
	double		 drift, volatility, make_volatility;
	double		 noise, decay_lo, decay_hi;
	double		 mileage_slope, condition_coef, resale;
	struct shock	*shocks;
	int		 nshocks, no_shock;
};

/* One trim segment. */
struct seg {
	int	 make, model, trim;	/* 1-based */
	char	 key[64];		/* "make3/model2/trim1" */
	char	 make_name[24], model_name[24], trim_name[24];
	double	 level;		/* new, 0 km, condition 0.5, month 0 */
	double	 decay;		/* per year */
	int64_t	 sales;
};

/* The market (j = 0) or make j's monthly index. */
struct series {
	char	 segment[32];	/* "*" or "make:make3" */
	double	 a;		/* ln index = a + elasticity ln volume + e */
	double	*latent;	/* L(t), per month */
	double	*lnindex;	/* ln index(t) = L(t) + e(t) */
	double	*volume;
};

struct loan {
	int	 no;		/* 1-based, for the ids */
	int	 seg, model_year;
	int	 start, term;	/* month of origination, months */
	double	 frac;		/* place in every month, 0..1 */
	int64_t	 t0;		/* origination time, ms */
	double	 km_year, condition;
	double	 price, ltv, apr, principal, payment;
};

/* A sold vehicle that may come back. */
struct vehicle {
	int64_t	 id;
	int	 seg, model_year;
	double	 km_year, condition;
	int64_t	 sold_ms;
};

/* Handles on the fields of the two Event branches. */
struct out {
	struct sink		*sink;
	avro_value_iface_t	*iface;
	avro_value_t		 uidx, uveh;	/* the union values */
	avro_value_t		 i_source, i_segment, i_region, i_period,
				 i_published, i_value, i_volume, i_supply,
				 i_se, i_n;
	avro_value_t		 v_id, v_loan, v_source, v_make, v_model,
				 v_trim, v_segment, v_region, v_observed,
				 v_year, v_km, v_cond, v_price, v_ref,
				 v_balance, v_currency;
	avro_value_t		 v_attr[6];	/* body ... interior: null */
};

struct sim {
	const struct opts *o;
	gsl_rng		*rng;
	struct seg	*segs;
	int		 nsegs;
	struct series	*series;	/* 1 + makes */
	int		 nseries;
	struct loan	*loans;		/* sorted by frac */
	int64_t		 loan_records, index_records, sales_total;
	struct vehicle	 pool[POOL];
	int		 npool;
	int64_t		 next_id;
	int64_t		 written, sales, resales, loanbook, indexobs;
	struct out	 out;
};

static const char usage_text[] =
    "usage: cv-sim [-hv] [-N records] [-n sigma] [-o file] [-p file]\n"
    "              [--condition-coef c] [--decay lo:hi] [--drift mu]\n"
    "              [--elasticity e] [--index-noise sigma] [--loans n] "
    "[--makes n]\n"
    "              [--make-volatility sigma] [--mileage-slope b] "
    "[--models n]\n"
    "              [--months n] [--resale p] [--seed n] [--segments n]\n"
    "              [--shock make:month:size | none] [--start yyyy-mm] "
    "[--trims n]\n"
    "              [--volatility sigma]\n";

static void
usage(FILE *fp)
{
	fputs(usage_text, fp);
}

static void
help(void)
{
	usage(stdout);
	printf("  -N, --records N          records in all (10000)\n"
	    "  -n, --noise SIGMA        sd of the log-price noise of a sale "
	    "(0.10)\n"
	    "  -o, --output FILE        write the Event stream here (stdout)\n"
	    "  -p, --params FILE        write the true parameters as JSON\n"
	    "  -v, --verbose            counts and rate on stderr\n"
	    "  -h, --help               this help\n"
	    "      --condition-coef C   ln price per unit of condition (0.4)\n"
	    "      --decay LO:HI        range of segment decay rates per year "
	    "(0.10:0.20)\n"
	    "      --drift MU           monthly drift of the market's log "
	    "index (0.002)\n"
	    "      --elasticity E       slope of ln index on ln volume "
	    "(-0.5)\n"
	    "      --index-noise S      sd of ln index about that line "
	    "(0.01)\n"
	    "      --loans N            loans in the book (50)\n"
	    "      --makes N            makes (5)\n"
	    "      --make-volatility S  monthly sd of a make's own index "
	    "moves (0.01)\n"
	    "      --mileage-slope B    ln price per 10000 km (-0.02)\n"
	    "      --models N           models per make (4)\n"
	    "      --months N           months simulated (36)\n"
	    "      --resale P           chance a sale is a resale (0.05)\n"
	    "      --seed N             seed of the mt19937 generator (1)\n"
	    "      --segments N         N trim segments dealt over makes, "
	    "models\n"
	    "      --shock K:M:SIZE     add SIZE to make K's log index (0: "
	    "market)\n"
	    "                           from month M on; repeatable; none; "
	    "1:months/2:-0.10\n"
	    "      --start YYYY-MM      first month (2020-01)\n"
	    "      --trims N            trims per model (3)\n"
	    "      --volatility S       monthly sd of the market's index "
	    "moves (0.01)\n");
	kafka_help(stdout);
}

static void
bad_usage(const char *fmt, ...) PRINTF(1, 2) __attribute__((noreturn));

/* Say what is wrong with the invocation, print the usage, exit 2. */
static void
bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	usage(stderr);
	exit(2);
}

static int
opt_int(const char *name, const char *arg, long long lo, long long hi)
{
	long long v;

	if (parse_long(arg, &v) < 0 || v < lo || v > hi)
		bad_usage("%s: not a whole number from %lld to %lld: %s",
		    name, lo, hi, arg);
	return (int)v;
}

static double
opt_double(const char *name, const char *arg)
{
	double v;

	if (parse_double(arg, &v) < 0)
		bad_usage("%s: not a number: %s", name, arg);
	return v;
}

static void
opt_decay(struct opts *o, const char *arg)
{
	char *copy = estrdup(arg), *colon = strchr(copy, ':');

	if (colon == NULL)
		bad_usage("--decay: want lo:hi: %s", arg);
	*colon = '\0';
	if (parse_double(copy, &o->decay_lo) < 0 ||
	    parse_double(colon + 1, &o->decay_hi) < 0 ||
	    o->decay_lo > o->decay_hi)
		bad_usage("--decay: want numbers lo <= hi: %s", arg);
	free(copy);
}

static void
opt_shock(struct opts *o, const char *arg)
{
	struct shock k;
	long long make, month;
	char *copy, *f[3], *save = NULL;

	if (strcmp(arg, "none") == 0) {
		free(o->shocks);
		o->shocks = NULL;
		o->nshocks = 0;
		o->no_shock = 1;
		return;
	}
	copy = estrdup(arg);
	f[0] = strtok_r(copy, ":", &save);
	f[1] = strtok_r(NULL, ":", &save);
	f[2] = strtok_r(NULL, ":", &save);
	if (f[2] == NULL || strtok_r(NULL, ":", &save) != NULL ||
	    parse_long(f[0], &make) < 0 || make < 0 || make > INT_MAX ||
	    parse_long(f[1], &month) < 0 || month < 1 || month > INT_MAX ||
	    parse_double(f[2], &k.size) < 0)
		bad_usage("--shock: want make:month:size, month >= 1: %s",
		    arg);
	free(copy);
	k.make = (int)make;
	k.month = (int)month;
	o->shocks = erealloc(o->shocks, (o->nshocks + 1) * sizeof(k));
	o->shocks[o->nshocks++] = k;
}

static void
opt_start(struct opts *o, const char *arg)
{
	int y, m, n = 0;

	if (sscanf(arg, "%4d-%2d%n", &y, &m, &n) != 2 ||
	    arg[n] != '\0' || y < 1900 || y > 9000 || m < 1 || m > 12)
		bad_usage("--start: want yyyy-mm: %s", arg);
	o->start_y = y;
	o->start_m = m;
}

/* Check what one option alone cannot; exits 2 when they do not fit. */
static void
check_opts(struct opts *o)
{
	int i;

	if (o->elasticity == 0)
		bad_usage("--elasticity: must not be 0");
	if (o->noise < 0)
		bad_usage("-n: %g: must be >= 0", o->noise);
	if (o->index_noise < 0)
		bad_usage("--index-noise: %g: must be >= 0", o->index_noise);
	if (o->volatility < 0)
		bad_usage("--volatility: %g: must be >= 0", o->volatility);
	if (o->make_volatility < 0)
		bad_usage("--make-volatility: %g: must be >= 0",
		    o->make_volatility);
	if (o->resale < 0 || o->resale > 1)
		bad_usage("--resale: %g: not a chance from 0 to 1",
		    o->resale);
	if (o->segments == 0 &&
	    (long long)o->makes * o->models * o->trims > 1000000)
		bad_usage("--makes %d --models %d --trims %d: more than "
		    "10^6 segments", o->makes, o->models, o->trims);
	if (o->segments == 0)
		o->segments = o->makes * o->models * o->trims;
	if (!o->no_shock && o->nshocks == 0 && o->months >= 2) {
		o->shocks = emalloc(sizeof(*o->shocks));
		o->shocks[0] = (struct shock){ 1, o->months / 2, -0.10 };
		o->nshocks = 1;
	}
	for (i = 0; i < o->nshocks; i++)
		if (o->shocks[i].make > o->makes ||
		    o->shocks[i].month >= o->months)
			bad_usage("--shock: %d:%d: no such make or month "
			    "(makes 0-%d, months 1-%d)", o->shocks[i].make,
			    o->shocks[i].month, o->makes, o->months - 1);
}

static int64_t
month_ms(const struct opts *o, int t)
{
	int m0 = o->start_m - 1 + t;

	return days_from_civil(o->start_y + m0 / 12, (unsigned)(m0 % 12 + 1),
	    1) * MS_DAY;
}

/* The model year launched last by time ms (launches on 1 October). */
static int
latest_model_year(int64_t ms)
{
	unsigned m, d;
	int y;

	civil_from_days(ms / MS_DAY, &y, &m, &d);
	return m >= 10 ? y + 1 : y;
}

/* Age in years as Features.age_months / 12 defines it. */
static double
age_years(int model_year, int64_t ms)
{
	int64_t launch = days_from_civil(model_year - 1, 10, 1) * MS_DAY;

	return (double)(ms - launch) / (MS_DAY * DAYS_YEAR);
}

static void
make_segments(struct sim *s)
{
	const struct opts *o = s->o;
	double *make_lv, *model_lv;
	struct seg *g;
	int i, per_make = o->makes * o->models;

	make_lv = emalloc(o->makes * sizeof(*make_lv));
	model_lv = emalloc(per_make * sizeof(*model_lv));
	for (i = 0; i < o->makes; i++)
		make_lv[i] = gsl_ran_gaussian_ziggurat(s->rng, 0.25);
	for (i = 0; i < per_make; i++)
		model_lv[i] = gsl_ran_gaussian_ziggurat(s->rng, 0.15);
	s->nsegs = o->segments;
	s->segs = ecalloc(s->nsegs, sizeof(*s->segs));
	for (i = 0; i < s->nsegs; i++) {
		g = &s->segs[i];
		g->make = i % o->makes + 1;
		g->model = i / o->makes % o->models + 1;
		g->trim = i / per_make + 1;
		snprintf(g->key, sizeof(g->key), "make%d/model%d/trim%d",
		    g->make, g->model, g->trim);
		snprintf(g->make_name, sizeof(g->make_name), "Make%d",
		    g->make);
		snprintf(g->model_name, sizeof(g->model_name), "Model%d",
		    g->model);
		snprintf(g->trim_name, sizeof(g->trim_name), "Trim%d",
		    g->trim);
		g->level = BASE_PRICE * exp(make_lv[g->make - 1] +
		    model_lv[(g->make - 1) * o->models + g->model - 1] +
		    0.10 * (g->trim - 1) +
		    gsl_ran_gaussian_ziggurat(s->rng, 0.05));
		g->decay = o->decay_lo + (o->decay_hi - o->decay_lo) *
		    gsl_rng_uniform(s->rng);
	}
	free(make_lv);
	free(model_lv);
}

/*
 * The latent log index of the market is a random walk with drift,
 * volatility and shocks; a make's moves are the market's plus its own
 * noise and shocks.  Volume follows from the latent (so it is free of the
 * index noise e), which makes the OLS slope of ln index on ln volume an
 * unbiased estimate of the elasticity.
 */
static void
make_indices(struct sim *s)
{
	const struct opts *o = s->o;
	struct series *x;
	double lnvol, sum0 = 0, *v0;
	int j, t, k;

	s->nseries = o->makes + 1;
	s->series = ecalloc(s->nseries, sizeof(*s->series));
	v0 = emalloc(s->nseries * sizeof(*v0));
	for (j = 0; j < s->nseries; j++) {
		x = &s->series[j];
		if (j == 0)
			snprintf(x->segment, sizeof(x->segment), "*");
		else
			snprintf(x->segment, sizeof(x->segment), "make:make%d",
			    j);
		x->latent = emalloc(o->months * sizeof(double));
		x->lnindex = emalloc(o->months * sizeof(double));
		x->volume = emalloc(o->months * sizeof(double));
		x->latent[0] = log(BASE_INDEX);
		if (j > 0) {
			v0[j] = BASE_VOLUME *
			    exp(gsl_ran_gaussian_ziggurat(s->rng, 0.5));
			sum0 += v0[j];
		}
	}
	v0[0] = sum0;
	for (t = 1; t < o->months; t++) {
		x = &s->series[0];
		x->latent[t] = x->latent[t - 1] + o->drift +
		    gsl_ran_gaussian_ziggurat(s->rng, o->volatility);
		for (k = 0; k < o->nshocks; k++)
			if (o->shocks[k].make == 0 && o->shocks[k].month == t)
				x->latent[t] += o->shocks[k].size;
		for (j = 1; j < s->nseries; j++) {
			x = &s->series[j];
			x->latent[t] = x->latent[t - 1] +
			    (s->series[0].latent[t] -
			    s->series[0].latent[t - 1]) +
			    gsl_ran_gaussian_ziggurat(s->rng,
			    o->make_volatility);
			for (k = 0; k < o->nshocks; k++)
				if (o->shocks[k].make == j &&
				    o->shocks[k].month == t)
					x->latent[t] += o->shocks[k].size;
		}
	}
	for (j = 0; j < s->nseries; j++) {
		x = &s->series[j];
		x->a = x->latent[0] - o->elasticity * log(v0[j]);
		for (t = 0; t < o->months; t++) {
			lnvol = (x->latent[t] - x->a) / o->elasticity;
			x->volume[t] = exp(lnvol);
			x->lnindex[t] = x->latent[t] +
			    gsl_ran_gaussian_ziggurat(s->rng, o->index_noise);
		}
	}
	free(v0);
}

/* ln price without the noise of one vehicle of segment g at month t. */
static double
log_value(const struct sim *s, const struct seg *g, int t, double age,
    double km, double condition)
{
	const struct series *x = &s->series[g->make];

	return log(g->level) + x->lnindex[t] - x->lnindex[0] -
	    g->decay * age + s->o->mileage_slope * km / 1e4 +
	    s->o->condition_coef * (condition - 0.5);
}

static double
draw_km_year(struct sim *s)
{
	return KM_YEAR * exp(gsl_ran_gaussian_ziggurat(s->rng, KM_SPREAD));
}

static int
by_frac(const void *a, const void *b)
{
	const struct loan *p = a, *q = b;

	if (p->frac != q->frac)
		return p->frac < q->frac ? -1 : 1;
	return p->no - q->no;
}

/*
 * Originate the loans: the vehicle was bought at its market price (the
 * model's value with noise) and financed at an LTV in LTV_LO..LTV_HI as
 * an annuity.  The book then reports it once a month at the same place
 * in the month, through its last balance before payoff or the end.
 */
static void
make_loans(struct sim *s)
{
	const struct opts *o = s->o;
	struct loan *l;
	int64_t m0, len;
	double age, km, r;
	int i;

	s->loans = ecalloc(o->loans, sizeof(*s->loans));
	for (i = 0; i < o->loans; i++) {
		l = &s->loans[i];
		l->no = i + 1;
		l->start = (int)gsl_rng_uniform_int(s->rng, o->months);
		l->frac = gsl_rng_uniform(s->rng);
		m0 = month_ms(o, l->start);
		len = month_ms(o, l->start + 1) - m0;
		l->t0 = m0 + (int64_t)(l->frac * (double)len);
		l->seg = (int)gsl_rng_uniform_int(s->rng, s->nsegs);
		l->model_year = latest_model_year(l->t0) -
		    (int)gsl_rng_uniform_int(s->rng, LOAN_MAX_AGE);
		l->km_year = draw_km_year(s);
		l->condition = gsl_ran_beta(s->rng, COND_A, COND_B);
		age = age_years(l->model_year, l->t0);
		km = round(l->km_year * age);
		l->price = round(exp(log_value(s, &s->segs[l->seg], l->start,
		    age, km, l->condition) +
		    gsl_ran_gaussian_ziggurat(s->rng, o->noise)));
		l->ltv = LTV_LO + (LTV_HI - LTV_LO) * gsl_rng_uniform(s->rng);
		l->apr = APR_LO + (APR_HI - APR_LO) * gsl_rng_uniform(s->rng);
		l->term = 36 + 12 * (int)gsl_rng_uniform_int(s->rng, 4);
		l->principal = round(l->ltv * l->price * 100) / 100;
		r = l->apr / 12;
		l->payment = l->principal * r / (1 - pow(1 + r, -l->term));
		s->loan_records += l->term < o->months - l->start ? l->term :
		    o->months - l->start;
	}
	qsort(s->loans, o->loans, sizeof(*s->loans), by_frac);
}

/* Balance after k monthly payments of an annuity, rounded to cents. */
static double
loan_balance(const struct loan *l, int k)
{
	double r = l->apr / 12, g = pow(1 + r, k), b;

	b = l->principal * g - l->payment * (g - 1) / r;
	return b > 0 ? round(b * 100) / 100 : 0;
}

static void
get_field(avro_value_t *rec, const char *name, avro_value_t *field)
{
	if (avro_value_get_by_name(rec, name, field, NULL) != 0)
		errx(1, "Event schema: %s: %s", name, avro_strerror());
}

static void
open_output(struct out *w, const char *path)
{
	avro_value_t r;

	w->sink = sink_open(path, schema_text("Event"));
	if ((w->iface = avro_generic_class_from_schema(schema_get("Event")))
	    == NULL)
		errx(1, "Event schema: %s", avro_strerror());
	if (avro_generic_value_new(w->iface, &w->uidx) != 0 ||
	    avro_generic_value_new(w->iface, &w->uveh) != 0)
		errx(1, "Event value: %s", avro_strerror());
	if (avro_value_set_branch(&w->uidx, 0, &r) != 0)
		errx(1, "Event: IndexObs: %s", avro_strerror());
	get_field(&r, "source", &w->i_source);
	get_field(&r, "segment", &w->i_segment);
	get_field(&r, "region", &w->i_region);
	get_field(&r, "period", &w->i_period);
	get_field(&r, "published_at", &w->i_published);
	get_field(&r, "value", &w->i_value);
	get_field(&r, "volume", &w->i_volume);
	get_field(&r, "days_supply", &w->i_supply);
	get_field(&r, "value_se", &w->i_se);
	get_field(&r, "value_n", &w->i_n);
	if (avro_value_set_branch(&w->uveh, 1, &r) != 0)
		errx(1, "Event: VehicleObs: %s", avro_strerror());
	get_field(&r, "vehicle_id", &w->v_id);
	get_field(&r, "loan_id", &w->v_loan);
	get_field(&r, "source", &w->v_source);
	get_field(&r, "make", &w->v_make);
	get_field(&r, "model", &w->v_model);
	get_field(&r, "trim", &w->v_trim);
	get_field(&r, "segment", &w->v_segment);
	get_field(&r, "region", &w->v_region);
	get_field(&r, "observed_at", &w->v_observed);
	get_field(&r, "model_year", &w->v_year);
	get_field(&r, "mileage_km", &w->v_km);
	get_field(&r, "condition", &w->v_cond);
	get_field(&r, "price", &w->v_price);
	get_field(&r, "reference_value", &w->v_ref);
	get_field(&r, "loan_balance", &w->v_balance);
	get_field(&r, "currency", &w->v_currency);
	get_field(&r, "body", &w->v_attr[0]);
	get_field(&r, "transmission", &w->v_attr[1]);
	get_field(&r, "seller", &w->v_attr[2]);
	get_field(&r, "seller_kind", &w->v_attr[3]);
	get_field(&r, "colour", &w->v_attr[4]);
	get_field(&r, "interior", &w->v_attr[5]);
}

static void
close_output(struct out *w)
{
	sink_close(w->sink);
	avro_value_decref(&w->uidx);
	avro_value_decref(&w->uveh);
	avro_value_iface_decref(w->iface);
}

/*
 * Setters that take a plain field or a ["null", T] union alike, so a
 * field made nullable in schemas/ keeps working; they return an avro
 * status.
 */
static int
set_null(avro_value_t *u)
{
	avro_value_t b;

	return avro_value_set_branch(u, 0, &b) || avro_value_set_null(&b);
}

static int
set_double(avro_value_t *f, double x)
{
	avro_value_t b;

	if (avro_value_get_type(f) != AVRO_UNION)
		return avro_value_set_double(f, x);
	return avro_value_set_branch(f, 1, &b) ||
	    avro_value_set_double(&b, x);
}

static int
set_long(avro_value_t *f, int64_t x)
{
	avro_value_t b;

	if (avro_value_get_type(f) != AVRO_UNION)
		return avro_value_set_long(f, x);
	return avro_value_set_branch(f, 1, &b) || avro_value_set_long(&b, x);
}

static int
set_string(avro_value_t *f, const char *str)
{
	avro_value_t b;

	if (avro_value_get_type(f) != AVRO_UNION)
		return avro_value_set_string(f, str);
	return avro_value_set_branch(f, 1, &b) ||
	    avro_value_set_string(&b, str);
}

/*
 * The values are reused: every field is set for every record, so the
 * previous record leaves nothing behind and no reset is needed.
 */
static void
put(struct sim *s, avro_value_t *v, int rc)
{
	if (rc != 0)
		errx(1, "Event schema: a field does not take its value%s%s",
		    *avro_strerror() ? ": " : "", avro_strerror());
	sink_put(s->out.sink, v, NULL, 0);
	s->written++;
}

static void
put_indices(struct sim *s, int t, int64_t published)
{
	struct out *w = &s->out;
	struct series *x;
	int32_t period = (int32_t)(month_ms(s->o, t) / MS_DAY);
	int j, rc;

	for (j = 0; j < s->nseries; j++) {
		x = &s->series[j];
		rc = set_string(&w->i_source, "sim") ||
		    set_string(&w->i_segment, x->segment) ||
		    set_string(&w->i_region, "*") ||
		    avro_value_set_int(&w->i_period, period) ||
		    set_long(&w->i_published, published) ||
		    set_double(&w->i_value, exp(x->lnindex[t])) ||
		    set_double(&w->i_volume, x->volume[t]) ||
		    set_null(&w->i_supply) || set_null(&w->i_se) ||
		    set_null(&w->i_n);
		put(s, &w->uidx, rc);
		s->indexobs++;
	}
}

/* The fields every VehicleObs of this program shares. */
static int
set_vehicle(struct sim *s, const struct seg *g, const char *id,
    int64_t ms, int model_year, double km, double condition)
{
	struct out *w = &s->out;

	return set_string(&w->v_id, id) ||
	    set_string(&w->v_make, g->make_name) ||
	    set_string(&w->v_model, g->model_name) ||
	    set_string(&w->v_trim, g->trim_name) ||
	    set_string(&w->v_segment, g->key) ||
	    set_string(&w->v_region, "*") ||
	    set_long(&w->v_observed, ms) ||
	    avro_value_set_int(&w->v_year, model_year) ||
	    set_double(&w->v_km, km) ||
	    set_double(&w->v_cond, condition) ||
	    set_null(&w->v_ref) ||
	    set_string(&w->v_currency, "USD") ||
	    set_null(&w->v_attr[0]) || set_null(&w->v_attr[1]) ||
	    set_null(&w->v_attr[2]) || set_null(&w->v_attr[3]) ||
	    set_null(&w->v_attr[4]) || set_null(&w->v_attr[5]);
}

static void
put_loan(struct sim *s, const struct loan *l, int t, int64_t ms)
{
	struct out *w = &s->out;
	char id[32], loan[32];
	double age, km, cond;
	int rc;

	age = age_years(l->model_year, ms);
	km = round(l->km_year * age);
	cond = l->condition - COND_WEAR * (double)(ms - l->t0) /
	    (MS_DAY * DAYS_YEAR);
	if (cond < 0)
		cond = 0;
	snprintf(id, sizeof(id), "bk%07d", l->no);
	snprintf(loan, sizeof(loan), "ln%07d", l->no);
	rc = set_vehicle(s, &s->segs[l->seg], id, ms, l->model_year, km,
	    cond) ||
	    set_string(&w->v_loan, loan) ||
	    set_string(&w->v_source, "loanbook") ||
	    set_null(&w->v_price) ||
	    set_double(&w->v_balance, loan_balance(l, t - l->start));
	put(s, &w->uveh, rc);
	s->loanbook++;
}

/* A vehicle never seen before, sold at ms. */
static void
new_vehicle(struct sim *s, struct vehicle *v, int64_t ms)
{
	v->id = ++s->next_id;
	v->seg = (int)gsl_rng_uniform_int(s->rng, (unsigned long)s->nsegs);
	v->model_year = latest_model_year(ms) -
	    (int)gsl_rng_uniform_int(s->rng, MAX_AGE);
	v->km_year = draw_km_year(s);
	v->condition = gsl_ran_beta(s->rng, COND_A, COND_B);
}

/*
 * The vehicle of a sale at ms.  With chance --resale it is one sold
 * before, drawn from the pool, older and a little worn (unless that one
 * sold within RESALE_GAP: then a new vehicle after all).  The pool is a
 * reservoir sample of every new vehicle so far (Vitter's algorithm R),
 * so resales reach back over the whole history in constant memory.
 */
static struct vehicle *
sold_vehicle(struct sim *s, struct vehicle *tmp, int64_t ms)
{
	struct vehicle *v;
	unsigned long slot;

	if (s->npool > 0 && gsl_rng_uniform(s->rng) < s->o->resale) {
		v = &s->pool[gsl_rng_uniform_int(s->rng,
		    (unsigned long)s->npool)];
		if (ms - v->sold_ms >= RESALE_GAP) {
			v->condition -= COND_WEAR * (double)(ms - v->sold_ms) /
			    (MS_DAY * DAYS_YEAR);
			if (v->condition < 0)
				v->condition = 0;
			s->resales++;
			return v;
		}
	}
	if (s->npool < POOL)
		v = &s->pool[s->npool++];
	else if ((slot = gsl_rng_uniform_int(s->rng,
	    (unsigned long)s->next_id + 1)) < POOL)
		v = &s->pool[slot];
	else
		v = tmp;
	new_vehicle(s, v, ms);
	return v;
}

/* A comparable sale at ms in month t. */
static void
put_sale(struct sim *s, int t, int64_t ms)
{
	struct out *w = &s->out;
	struct vehicle tmp, *v;
	struct seg *g;
	char id[32];
	double age, km, price;
	int rc;

	v = sold_vehicle(s, &tmp, ms);
	v->sold_ms = ms;
	g = &s->segs[v->seg];
	age = age_years(v->model_year, ms);
	km = round(v->km_year * age);
	price = round(exp(log_value(s, g, t, age, km, v->condition) +
	    gsl_ran_gaussian_ziggurat(s->rng, s->o->noise)));
	snprintf(id, sizeof(id), "v%09lld", (long long)v->id);
	rc = set_vehicle(s, g, id, ms, v->model_year, km, v->condition) ||
	    set_null(&w->v_loan) ||
	    set_string(&w->v_source, "sim") ||
	    set_double(&w->v_price, price) ||
	    set_null(&w->v_balance);
	put(s, &w->uveh, rc);
	g->sales++;
	s->sales++;
}

/*
 * The next of n sorted uniform times in [m0, m0 + len), after the one at
 * fraction *x of the month: the minimum of n uniforms on (*x, 1).
 */
static int64_t
next_time(struct sim *s, double *x, int64_t n, int64_t m0, int64_t len)
{
	int64_t ms;

	*x = 1 - (1 - *x) * pow(gsl_rng_uniform_pos(s->rng), 1.0 / (double)n);
	ms = m0 + (int64_t)(*x * (double)len);
	return ms < m0 + len ? ms : m0 + len - 1;
}

/*
 * Month t in event time: its sales at sorted uniform times (drawn in
 * order as successive order statistics, so nothing is held), the index
 * values at their publication and each live loan at its place in the
 * month.  At equal times: index, then loans, then sales.
 */
static void
run_month(struct sim *s, int t)
{
	const struct opts *o = s->o;
	int64_t m0 = month_ms(o, t), len = month_ms(o, t + 1) - m0;
	int64_t left, tsale = 0, tloan, tidx = m0 + PUBLISH_DAYS * MS_DAY;
	int64_t total = s->sales_total;
	double x = 0;
	struct loan *l;
	int li = 0, idx_done = 0;

	left = total * (t + 1) / o->months - total * t / o->months;
	if (left > 0)
		tsale = next_time(s, &x, left, m0, len);
	while (!run_stop) {
		while (li < o->loans && (s->loans[li].start > t ||
		    s->loans[li].start + s->loans[li].term <= t))
			li++;
		l = li < o->loans ? &s->loans[li] : NULL;
		tloan = l ? m0 + (int64_t)(l->frac * (double)len) : INT64_MAX;
		if (!idx_done && tidx <= tloan &&
		    (left == 0 || tidx <= tsale)) {
			put_indices(s, t, tidx);
			idx_done = 1;
		} else if (l != NULL && (left == 0 || tloan <= tsale)) {
			put_loan(s, l, t, tloan);
			li++;
		} else if (left > 0) {
			put_sale(s, t, tsale);
			if (--left > 0)
				tsale = next_time(s, &x, left, m0, len);
		} else
			break;
	}
}

static json_t *
json_date(int64_t ms)
{
	char buf[32];

	return json_string(date_format(ms / MS_DAY, buf, sizeof(buf)));
}

static json_t *
json_time(int64_t ms)
{
	char buf[32];

	return json_string(time_format(ms, buf, sizeof(buf)));
}

static json_t *
params_series(const struct sim *s, const struct series *x)
{
	json_t *j = json_object();
	double lo = x->lnindex[0], hi = lo;
	int t, n = s->o->months;

	for (t = 1; t < n; t++) {
		if (x->lnindex[t] < lo)
			lo = x->lnindex[t];
		if (x->lnindex[t] > hi)
			hi = x->lnindex[t];
	}
	json_object_set_new(j, "segment", json_string(x->segment));
	json_object_set_new(j, "a", json_real(x->a));
	json_object_set_new(j, "first", json_real(exp(x->lnindex[0])));
	json_object_set_new(j, "last", json_real(exp(x->lnindex[n - 1])));
	json_object_set_new(j, "min", json_real(exp(lo)));
	json_object_set_new(j, "max", json_real(exp(hi)));
	json_object_set_new(j, "latent_drift", json_real(n > 1 ?
	    (x->latent[n - 1] - x->latent[0]) / (n - 1) : 0));
	json_object_set_new(j, "volume_first", json_real(x->volume[0]));
	json_object_set_new(j, "volume_last", json_real(x->volume[n - 1]));
	return j;
}

static json_t *
params_loans(const struct sim *s)
{
	const struct loan *l;
	json_t *a = json_array(), *j;
	char id[32];
	int i;

	for (i = 0; i < s->o->loans; i++) {
		l = &s->loans[i];
		j = json_object();
		snprintf(id, sizeof(id), "ln%07d", l->no);
		json_object_set_new(j, "loan_id", json_string(id));
		snprintf(id, sizeof(id), "bk%07d", l->no);
		json_object_set_new(j, "vehicle_id", json_string(id));
		json_object_set_new(j, "segment",
		    json_string(s->segs[l->seg].key));
		json_object_set_new(j, "originated", json_time(l->t0));
		json_object_set_new(j, "price", json_real(l->price));
		json_object_set_new(j, "ltv", json_real(l->ltv));
		json_object_set_new(j, "principal", json_real(l->principal));
		json_object_set_new(j, "apr", json_real(l->apr));
		json_object_set_new(j, "term", json_integer(l->term));
		json_object_set_new(j, "payment", json_real(l->payment));
		json_array_append_new(a, j);
	}
	return a;
}

static json_t *
params_json(const struct sim *s)
{
	const struct opts *o = s->o;
	const struct seg *g;
	json_t *p = json_object(), *a, *j;
	int i;

	json_object_set_new(p, "seed", json_integer((json_int_t)o->seed));
	json_object_set_new(p, "records", json_integer(s->written));
	json_object_set_new(p, "start", json_date(month_ms(o, 0)));
	json_object_set_new(p, "months", json_integer(o->months));
	json_object_set_new(p, "makes", json_integer(o->makes));
	json_object_set_new(p, "models", json_integer(o->models));
	json_object_set_new(p, "trims", json_integer(o->trims));
	json_object_set_new(p, "price_model", json_string(
	    "ln price = ln level + ln index_make(t) - ln index_make(0) "
	    "- decay * age_years + mileage_slope * mileage_km / 1e4 "
	    "+ condition_coef * (condition - 0.5) + N(0, noise^2); "
	    "t is the month of observed_at; age_years = days from "
	    "1 October of model_year - 1 to observed_at / 365.25"));
	json_object_set_new(p, "index_model", json_string(
	    "ln volume(t) = (L(t) - a) / elasticity; "
	    "ln index(t) = L(t) + N(0, index_noise^2); L(0) = ln 100; "
	    "market L(t) = L(t-1) + drift + N(0, volatility^2) + shocks; "
	    "make L(t) = L(t-1) + market move + N(0, make_volatility^2) "
	    "+ shocks"));
	json_object_set_new(p, "elasticity", json_real(o->elasticity));
	json_object_set_new(p, "index_noise", json_real(o->index_noise));
	json_object_set_new(p, "drift", json_real(o->drift));
	json_object_set_new(p, "volatility", json_real(o->volatility));
	json_object_set_new(p, "make_volatility",
	    json_real(o->make_volatility));
	json_object_set_new(p, "noise", json_real(o->noise));
	json_object_set_new(p, "decay_range", json_pack("[f,f]",
	    o->decay_lo, o->decay_hi));
	json_object_set_new(p, "mileage_slope", json_real(o->mileage_slope));
	json_object_set_new(p, "condition_coef",
	    json_real(o->condition_coef));
	json_object_set_new(p, "resale", json_real(o->resale));
	a = json_array();
	for (i = 0; i < o->nshocks; i++)
		json_array_append_new(a, json_pack("{s:s,s:i,s:o,s:f}",
		    "segment", s->series[o->shocks[i].make].segment,
		    "month", o->shocks[i].month,
		    "period", json_date(month_ms(o, o->shocks[i].month)),
		    "size", o->shocks[i].size));
	json_object_set_new(p, "shocks", a);
	a = json_array();
	for (i = 0; i < s->nseries; i++)
		json_array_append_new(a, params_series(s, &s->series[i]));
	json_object_set_new(p, "indices", a);
	a = json_array();
	for (i = 0; i < s->nsegs; i++) {
		g = &s->segs[i];
		j = json_object();
		json_object_set_new(j, "segment", json_string(g->key));
		json_object_set_new(j, "index",
		    json_string(s->series[g->make].segment));
		json_object_set_new(j, "level", json_real(g->level));
		json_object_set_new(j, "decay", json_real(g->decay));
		json_object_set_new(j, "mileage_slope",
		    json_real(o->mileage_slope));
		json_object_set_new(j, "condition_coef",
		    json_real(o->condition_coef));
		json_object_set_new(j, "sales", json_integer(g->sales));
		json_array_append_new(a, j);
	}
	json_object_set_new(p, "segments", a);
	json_object_set_new(p, "counts", json_pack("{s:I,s:I,s:I,s:I}",
	    "index", (json_int_t)s->indexobs, "sales", (json_int_t)s->sales,
	    "resales", (json_int_t)s->resales,
	    "loanbook", (json_int_t)s->loanbook));
	json_object_set_new(p, "loans", params_loans(s));
	return p;
}

static void
write_params(const struct sim *s, FILE *fp, const char *path)
{
	json_t *p = params_json(s);
	char *text;

	text = json_dumps(p, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(15));
	if (text == NULL)
		errx(1, "%s: cannot format the parameters", path);
	if (fputs(text, fp) == EOF || fputc('\n', fp) == EOF)
		err(1, "%s", path);
	fshut(fp, path);
	free(text);
	json_decref(p);
}

static void
free_sim(struct sim *s)
{
	int j;

	for (j = 0; j < s->nseries; j++) {
		free(s->series[j].latent);
		free(s->series[j].lnindex);
		free(s->series[j].volume);
	}
	free(s->series);
	free(s->segs);
	free(s->loans);
	gsl_rng_free(s->rng);
}

enum {
	O_CONDITION = 256, O_DECAY, O_DRIFT, O_ELASTICITY, O_INDEX,
	O_LOANS, O_MAKES, O_MAKE_VOL, O_MILEAGE, O_MODELS, O_MONTHS,
	O_RESALE, O_SEED, O_SEGMENTS, O_SHOCK, O_START, O_TRIMS,
	O_VOLATILITY
};

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "records",		required_argument, NULL, 'N' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "noise",		required_argument, NULL, 'n' },
		{ "output",		required_argument, NULL, 'o' },
		{ "params",		required_argument, NULL, 'p' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "condition-coef",	required_argument, NULL, O_CONDITION },
		{ "decay",		required_argument, NULL, O_DECAY },
		{ "drift",		required_argument, NULL, O_DRIFT },
		{ "elasticity",		required_argument, NULL, O_ELASTICITY },
		{ "index-noise",	required_argument, NULL, O_INDEX },
		{ "loans",		required_argument, NULL, O_LOANS },
		{ "makes",		required_argument, NULL, O_MAKES },
		{ "make-volatility",	required_argument, NULL, O_MAKE_VOL },
		{ "mileage-slope",	required_argument, NULL, O_MILEAGE },
		{ "models",		required_argument, NULL, O_MODELS },
		{ "months",		required_argument, NULL, O_MONTHS },
		{ "resale",		required_argument, NULL, O_RESALE },
		{ "seed",		required_argument, NULL, O_SEED },
		{ "segments",		required_argument, NULL, O_SEGMENTS },
		{ "shock",		required_argument, NULL, O_SHOCK },
		{ "start",		required_argument, NULL, O_START },
		{ "trims",		required_argument, NULL, O_TRIMS },
		{ "volatility",		required_argument, NULL, O_VOLATILITY },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = {
		.seed = 1, .records = 10000, .makes = 5, .models = 4,
		.trims = 3, .months = 36, .start_y = 2020, .start_m = 1,
		.loans = 50, .elasticity = -0.5, .index_noise = 0.01,
		.drift = 0.002, .volatility = 0.01, .make_volatility = 0.01,
		.noise = 0.10, .decay_lo = 0.10, .decay_hi = 0.20,
		.mileage_slope = -0.02, .condition_coef = 0.4, .resale = 0.05
	};
	struct sim s = { 0 };
	const char *output = NULL, *params = NULL;
	FILE *pfp = NULL;
	long long n;
	int c, t, verbose = 0;
	double t0 = now_seconds(), dt;

	while ((c = getopt_long(argc, argv, "N:hn:o:p:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'N':
			if (parse_long(optarg, &n) < 0 || n < 0 ||
			    n > 1000000000000LL)
				bad_usage("-N: not a count up to 10^12: %s",
				    optarg);
			o.records = n;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'n':
			o.noise = opt_double("-n", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 'p':
			params = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case O_CONDITION:
			o.condition_coef = opt_double("--condition-coef",
			    optarg);
			break;
		case O_DECAY:
			opt_decay(&o, optarg);
			break;
		case O_DRIFT:
			o.drift = opt_double("--drift", optarg);
			break;
		case O_ELASTICITY:
			o.elasticity = opt_double("--elasticity", optarg);
			break;
		case O_INDEX:
			o.index_noise = opt_double("--index-noise", optarg);
			break;
		case O_LOANS:
			o.loans = opt_int("--loans", optarg, 0, 10000000);
			break;
		case O_MAKES:
			o.makes = opt_int("--makes", optarg, 1, 1000);
			break;
		case O_MAKE_VOL:
			o.make_volatility = opt_double("--make-volatility",
			    optarg);
			break;
		case O_MILEAGE:
			o.mileage_slope = opt_double("--mileage-slope",
			    optarg);
			break;
		case O_MODELS:
			o.models = opt_int("--models", optarg, 1, 1000);
			break;
		case O_MONTHS:
			o.months = opt_int("--months", optarg, 1, 1200);
			break;
		case O_RESALE:
			o.resale = opt_double("--resale", optarg);
			break;
		case O_SEED:
			if (parse_long(optarg, &n) < 0 || n < 0 ||
			    n > 4294967295LL)
				bad_usage("--seed: not a seed from 0 to "
				    "4294967295: %s", optarg);
			o.seed = (unsigned long)n;
			break;
		case O_SEGMENTS:
			o.segments = opt_int("--segments", optarg, 1, 1000000);
			break;
		case O_SHOCK:
			opt_shock(&o, optarg);
			break;
		case O_START:
			opt_start(&o, optarg);
			break;
		case O_TRIMS:
			o.trims = opt_int("--trims", optarg, 1, 1000);
			break;
		case O_VOLATILITY:
			o.volatility = opt_double("--volatility", optarg);
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		bad_usage("%s: no operands expected", argv[optind]);
	if (kafka_input() || kafka.exit_at_end || kafka.from != INT64_MIN ||
	    kafka.until != INT64_MAX)
		bad_usage("-t, -E, --from and --until: cv-sim reads nothing");
	check_opts(&o);

	gsl_set_error_handler_off();
	s.o = &o;
	if ((s.rng = gsl_rng_alloc(gsl_rng_mt19937)) == NULL)
		errx(1, "gsl_rng_alloc: cannot allocate the generator");
	gsl_rng_set(s.rng, o.seed);
	make_segments(&s);
	make_indices(&s);
	make_loans(&s);
	s.index_records = (int64_t)s.nseries * o.months;
	s.sales_total = o.records - s.index_records - s.loan_records;
	if (s.sales_total < 0) {
		free_sim(&s);
		free(o.shocks);
		bad_usage("-N %lld: fewer than the %lld index and %lld "
		    "loan-book records", (long long)o.records,
		    (long long)s.index_records, (long long)s.loan_records);
	}
	if (params != NULL && (pfp = fopen(params, "w")) == NULL)
		err(1, "%s", params);

	run_init();
	open_output(&s.out, output);
	for (t = 0; t < o.months && !run_stop; t++)
		run_month(&s, t);
	close_output(&s.out);
	if (pfp != NULL)
		write_params(&s, pfp, params);
	if (verbose) {
		dt = now_seconds() - t0;
		warnx("%lld records: %lld index, %lld sales (%lld resales), "
		    "%lld loan-book%s; %.2f s, %.0f records/s",
		    (long long)s.written, (long long)s.indexobs,
		    (long long)s.sales, (long long)s.resales,
		    (long long)s.loanbook, run_stop ? "; interrupted" : "",
		    dt, dt > 0 ? s.written / dt : 0);
	}
	free_sim(&s);
	free(o.shocks);
	schema_cleanup();
	return 0;
}
