/*
 * cv-grade: grade each valued vehicle as collateral.  Reads Valuation
 * and writes Graded records: the valuation followed by a score from 0 to
 * 100 with its components, tier and level ("1-1" best ... "3-3" worst),
 * a suggested rate adjustment, and the watch list: a vehicle enters after
 * enter (3) consecutive tier-3 grades and leaves after leave (2)
 * consecutive better ones.  The per-vehicle streaks live in a sqlite file
 * with -S, so a restarted cv-grade goes on where it stopped.
 *
 *	cv-predict -m models.db features.avro |
 *	    cv-grade -c pipelines/grade.conf -r pipelines/segments.csv
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/append.h"
#include "lib/config.h"
#include "lib/csv.h"
#include "lib/db.h"
#include "lib/field.h"
#include "lib/kafka.h"
#include "lib/map.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/valid.h"

/* Settings (pipelines/grade.conf documents them). */
static struct weights {
	double	brand, holdings, cycle, volatility, interval, ltv;
} w = { 0.20, 0.15, 0.10, 0.15, 0.20, 0.20 };
static double tier1_cut = 70, tier2_cut = 45;
static double brand_ref_decay = 0.15, brand_scale = 0.10;
static double holdings_full = 1000;
static double cycle_full = 8, ev_factor = 0.7;
static double vol_max = 0.05, interval_max = 1.0;
static double ltv_best = 0.5, ltv_worst = 1.2;
static double tier1_bp = -50, tier3_bp = 100, tier3_vol_bp = 50;
static double watch_enter = 3, watch_leave = 2;

static const struct setting settings[] = {
	{ "weight.brand", &w.brand, 0, 100, "weight of the brand premium "
	    "component", 0 },
	{ "weight.holdings", &w.holdings, 0, 100, "weight of market holdings "
	    "(liquidity)", 0 },
	{ "weight.cycle", &w.cycle, 0, 100, "weight of the technology "
	    "iteration cycle", 0 },
	{ "weight.volatility", &w.volatility, 0, 100, "weight of the index "
	    "volatility", 0 },
	{ "weight.interval", &w.interval, 0, 100, "weight of the valuation "
	    "interval width", 0 },
	{ "weight.ltv", &w.ltv, 0, 100, "weight of loan to value", 0 },
	{ "tier1.min_score", &tier1_cut, 0, 100, "scores at or above are "
	    "tier 1", 0 },
	{ "tier2.min_score", &tier2_cut, 0, 100, "scores at or above (and "
	    "below tier 1) are tier 2; below, tier 3", 0 },
	{ "brand.reference_decay", &brand_ref_decay, 0, 2, "the market's "
	    "depreciation per year that brand premium is measured against", 0 },
	{ "brand.scale", &brand_scale, 1e-6, 10, "ln retention advantage "
	    "that scores 73 (logistic scale)", 0 },
	{ "holdings.full", &holdings_full, 1, 1e12, "effective comparables "
	    "that score 100 (log scale)", 0 },
	{ "cycle.full_years", &cycle_full, 0.1, 100, "years per model "
	    "generation that score 100", 0 },
	{ "cycle.ev_factor", &ev_factor, 0, 1, "multiplier of the cycle "
	    "score of an electric powertrain (faster obsolescence)", 0 },
	{ "volatility.max", &vol_max, 1e-9, 10, "monthly index volatility "
	    "that scores 0", 0 },
	{ "interval.max_width", &interval_max, 1e-9, 100, "relative "
	    "interval width (hi - lo) / value that scores 0", 0 },
	{ "ltv.best", &ltv_best, 0, 100, "loan to value that scores 100", 0 },
	{ "ltv.worst", &ltv_worst, 0, 100, "loan to value that scores 0", 0 },
	{ "rate.tier1_bp", &tier1_bp, -10000, 10000, "rate adjustment of "
	    "tier 1, basis points", 0 },
	{ "rate.tier3_bp", &tier3_bp, -10000, 10000, "risk premium of tier 3 "
	    "at zero volatility, basis points", 0 },
	{ "rate.tier3_vol_bp", &tier3_vol_bp, -10000, 10000, "added to the "
	    "tier-3 premium per point (1 %) of monthly volatility", 0 },
	{ "watch.enter", &watch_enter, 1, 1000, "consecutive tier-3 grades "
	    "that put a vehicle on the watch list", 1 },
	{ "watch.leave", &watch_leave, 1, 1000, "consecutive better grades "
	    "that take it off", 1 },
};

/* A segment's reference data; NAN where the table leaves it out. */
struct reference {
	double	cycle_years, brand_premium, holdings;
	int	ev;
};

/* A vehicle's streaks; kept only while any is not zero. */
struct streak {
	int	tier3, better, watch;
};

enum {
	A_SCORE, A_BRAND, A_HOLDINGS, A_CYCLE, A_VOL, A_INTERVAL, A_LTV,
	A_TIER, A_LEVEL, A_GRADE, A_RATE, A_STREAK, A_WATCH, A_COUNT
};
static const char *added_names[A_COUNT] = {
	[A_SCORE] = "score",
	[A_BRAND] = "score_brand",
	[A_HOLDINGS] = "score_holdings",
	[A_CYCLE] = "score_cycle",
	[A_VOL] = "score_volatility",
	[A_INTERVAL] = "score_interval",
	[A_LTV] = "score_ltv",
	[A_TIER] = "tier",
	[A_LEVEL] = "level",
	[A_GRADE] = "grade",
	[A_RATE] = "rate_adjust_bp",
	[A_STREAK] = "tier3_streak",
	[A_WATCH] = "watchlist",
};

enum {
	F_ID, F_SEGMENT, F_AGE, F_DECAY, F_DECAY_N, F_VOL, F_VALUE, F_LO,
	F_HI, F_BALANCE, F_COUNT
};
static const struct field input[F_COUNT] = {
	[F_ID] = { "vehicle_id", 's' },
	[F_SEGMENT] = { "segment", 's' },
	[F_AGE] = { "age_months", 'd' },
	[F_DECAY] = { "decay_rate", 'D' },
	[F_DECAY_N] = { "decay_n", 'd' },
	[F_VOL] = { "volatility", 'D' },
	[F_VALUE] = { "value", 'D' },
	[F_LO] = { "value_lo", 'D' },
	[F_HI] = { "value_hi", 'D' },
	[F_BALANCE] = { "loan_balance", 'D' },
};

struct grader {
	struct map	*refs;		/* segment, model or make */
	struct map	*streaks;	/* vehicle_id */
	struct reader	*in;
	struct appender	*out;
	int		 fx[F_COUNT];
	struct valid	*valid;		/* of the fields read */
	int64_t		 graded[3];	/* per tier, for -v */
	int64_t		 entered, left;
	const char	*state;		/* -S */
	struct positions at;		/* where the state stands in topics */
};

/* Forget the streaks: the input is read again from its start. */
static void
start_again(void *arg)
{
	struct grader *g = arg;

	map_free(g->streaks, free);
	g->streaks = map_new();
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-grade [-pv] [-c config] [-e on-error] "
	    "[-o file] [-r segments.csv] [-S state] [-s key=value] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -c, --config FILE   settings (pipelines/grade.conf "
	    "documents them)\n"
	    "  -e, --on-error X    fail (default), skip, or a file for "
	    "rejects\n"
	    "  -o, --output FILE   write there instead of stdout\n"
	    "  -p, --print-config  print the settings in force and exit\n"
	    "  -r, --reference F   segment reference table "
	    "(pipelines/segments.csv)\n"
	    "  -S, --state FILE    keep the watch-list streaks in this "
	    "sqlite file\n"
	    "  -s, --set K=V       one setting, after the config file\n"
	    "  -v, --verbose       counts and rate on stderr\n"
	    "  -h, --help          this help\n");
	kafka_help(stdout);
}

/* A number from the reference table, NAN if empty; exits if bad. */
static double
ref_number(const char *path, long line, const char *col, const char *s,
    double lo, double hi)
{
	double d;

	if (*s == '\0')
		return NAN;
	if (parse_double(s, &d) < 0 || !(d >= lo && d <= hi))
		errx(2, "%s:%ld: %s: %s is not a number from %g to %g", path,
		    line, col, s, lo, hi);
	return d;
}

/* Read the reference table: segment,cycle_years,powertrain,
 * brand_premium,holdings[,source...]. */
static void
load_reference(struct grader *g, const char *path)
{
	FILE *fp = fopen(path, "r");
	struct csv_reader *csv;
	struct reference *r;
	char **f;
	int n, first = 1;
	long line;

	if (fp == NULL)
		err(2, "%s", path);
	csv = csv_open(fp, path);
	while ((n = csv_next(csv, &f)) != 0) {
		line = csv_line(csv);
		if (n < 0)
			errx(2, "%s:%ld: %s", path, line, csv_error(csv));
		if (first) {
			first = 0;
			if (n < 5 || strcmp(f[0], "segment") != 0 ||
			    strcmp(f[1], "cycle_years") != 0 ||
			    strcmp(f[2], "powertrain") != 0 ||
			    strcmp(f[3], "brand_premium") != 0 ||
			    strcmp(f[4], "holdings") != 0)
				errx(2, "%s:%ld: the header must begin "
				    "segment,cycle_years,powertrain,"
				    "brand_premium,holdings", path, line);
			continue;
		}
		if (n < 5 || *f[0] == '\0')
			errx(2, "%s:%ld: %d fields, or no segment", path,
			    line, n);
		if (strcmp(f[2], "ice") != 0 && strcmp(f[2], "ev") != 0 &&
		    strcmp(f[2], "hybrid") != 0 && *f[2] != '\0')
			errx(2, "%s:%ld: powertrain: %s is not ice, hybrid or "
			    "ev", path, line, f[2]);
		if (map_get(g->refs, f[0]) != NULL)
			errx(2, "%s:%ld: segment %s: listed twice", path,
			    line, f[0]);
		r = ecalloc(1, sizeof(*r));
		r->cycle_years = ref_number(path, line, "cycle_years", f[1],
		    0.1, 100);
		r->ev = strcmp(f[2], "ev") == 0;
		r->brand_premium = ref_number(path, line, "brand_premium",
		    f[3], -5, 5);
		r->holdings = ref_number(path, line, "holdings", f[4], 0,
		    1e15);
		map_put(g->refs, f[0], r);
	}
	csv_close(csv);
	fclose(fp);
}

/* The finest row of the table covering a segment: trim, model, make. */
static const struct reference *
reference_of(const struct grader *g, const char *segment)
{
	char key[256];
	const struct reference *r;
	char *slash;

	snprintf(key, sizeof(key), "%s", segment);
	for (;;) {
		if ((r = map_get(g->refs, key)) != NULL)
			return r;
		if ((slash = strrchr(key, '/')) == NULL)
			return NULL;
		*slash = '\0';
	}
}

static double
clamp100(double x)
{
	return x < 0 ? 0 : x > 100 ? 100 : x;
}

/* The weighted mean of the components present (weights renormalised). */
static double
weighted(const double *c, const double *wt, int n)
{
	double s = 0, sw = 0;
	int i;

	for (i = 0; i < n; i++)
		if (!isnan(c[i])) {
			s += wt[i] * c[i];
			sw += wt[i];
		}
	return sw > 0 ? s / sw : 0;
}

/* Tier and level of a score: each tier's range in thirds, best first. */
static void
tier_level(double score, int *tier, int *level)
{
	double lo, hi;

	if (score >= tier1_cut) {
		*tier = 1;
		lo = tier1_cut;
		hi = 100;
	} else if (score >= tier2_cut) {
		*tier = 2;
		lo = tier2_cut;
		hi = tier1_cut;
	} else {
		*tier = 3;
		lo = 0;
		hi = tier2_cut;
	}
	if (score >= lo + 2 * (hi - lo) / 3)
		*level = 1;
	else if (score >= lo + (hi - lo) / 3)
		*level = 2;
	else
		*level = 3;
}

/* Count the grade into the vehicle's streaks; the state after it. */
static struct streak
update_streak(struct grader *g, const char *id, int tier)
{
	struct streak *s = map_get(g->streaks, id), now = { 0, 0, 0 };

	if (s != NULL)
		now = *s;
	if (tier == 3) {
		now.tier3++;
		now.better = 0;
		if (!now.watch && now.tier3 >= watch_enter) {
			now.watch = 1;
			g->entered += !run_replaying;
		}
	} else {
		now.tier3 = 0;
		if (now.watch && ++now.better >= watch_leave) {
			now.watch = 0;
			now.better = 0;
			g->left += !run_replaying;
		}
	}
	if (now.tier3 || now.better || now.watch) {
		if (s == NULL) {
			s = emalloc(sizeof(*s));
			map_put(g->streaks, id, s);
		}
		*s = now;
	} else if (s != NULL) {
		map_del(g->streaks, id);
		free(s);
	}
	return now;
}

static void
grade_one(struct grader *g, const struct view *v, struct sink *sink)
{
	const int *fx = g->fx;
	char id[256], segment[256], grade[8];
	const struct reference *ref;
	double c[6], wt[6] = { w.brand, w.holdings, w.cycle, w.volatility,
	    w.interval, w.ltv };
	double decay = view_opt_double(v, fx[F_DECAY]);
	double age_years = view_double(v, fx[F_AGE]) / 12;
	double n = view_double(v, fx[F_DECAY_N]);
	double vol = view_opt_double(v, fx[F_VOL]);
	double value = view_opt_double(v, fx[F_VALUE]);
	double lo = view_opt_double(v, fx[F_LO]);
	double hi = view_opt_double(v, fx[F_HI]);
	double balance = view_opt_double(v, fx[F_BALANCE]);
	double premium, score, rate;
	struct slot sl[A_COUNT];
	struct streak st;
	int tier, level, i;

	view_string(v, fx[F_ID], id, sizeof(id));
	view_string(v, fx[F_SEGMENT], segment, sizeof(segment));
	ref = reference_of(g, segment);
	/* Brand premium: ln of the value kept against the market's at
	 * equal age, from the table or the segment's depreciation. */
	premium = ref && !isnan(ref->brand_premium) ? ref->brand_premium :
	    isnan(decay) ? NAN : -(decay - brand_ref_decay) * age_years;
	c[0] = isnan(premium) ? NAN : 100 / (1 + exp(-premium / brand_scale));
	if (ref && !isnan(ref->holdings))
		n = ref->holdings;
	c[1] = clamp100(100 * log1p(n) / log1p(holdings_full));
	c[2] = ref && !isnan(ref->cycle_years) ? clamp100(100 *
	    ref->cycle_years / cycle_full * (ref->ev ? ev_factor : 1)) : NAN;
	c[3] = isnan(vol) ? NAN : clamp100(100 * (1 - vol / vol_max));
	c[4] = value > 0 && !isnan(lo) && !isnan(hi) ? clamp100(100 * (1 -
	    (hi - lo) / value / interval_max)) : NAN;
	c[5] = value > 0 && !isnan(balance) ? clamp100(100 * (ltv_worst -
	    balance / value) / (ltv_worst - ltv_best)) : NAN;
	score = weighted(c, wt, 6);
	tier_level(score, &tier, &level);
	rate = tier == 1 ? tier1_bp : tier == 3 ? tier3_bp + tier3_vol_bp *
	    (isnan(vol) ? 0 : 100 * vol) : 0;
	st = update_streak(g, id, tier);
	if (!run_replaying)	/* -v counts this instance's records */
		g->graded[tier - 1]++;
	snprintf(grade, sizeof(grade), "%d-%d", tier, level);

	memset(sl, 0, sizeof(sl));
	sl[A_SCORE].has = 1;
	sl[A_SCORE].d = score;
	for (i = 0; i < 6; i++) {
		sl[A_BRAND + i].has = !isnan(c[i]);
		sl[A_BRAND + i].d = c[i];
	}
	sl[A_TIER].has = sl[A_LEVEL].has = sl[A_GRADE].has = 1;
	sl[A_TIER].d = tier;
	sl[A_LEVEL].d = level;
	sl[A_GRADE].s = grade;
	sl[A_RATE].has = 1;
	sl[A_RATE].d = rate;
	sl[A_STREAK].has = 1;
	sl[A_STREAK].d = st.tier3;
	sl[A_WATCH].has = 1;
	sl[A_WATCH].d = st.watch;
	appender_put(g->out, sink, v, sl);
}

static const char state_schema[] =
    "CREATE TABLE IF NOT EXISTS streaks(vehicle_id TEXT PRIMARY KEY, "
    "tier3 INTEGER, better INTEGER, watch INTEGER);";

static void
load_state(struct grader *g, const char *path)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	struct streak *s;

	db_exec(db, state_schema);
	q = db_prepare(db, "SELECT vehicle_id, tier3, better, watch FROM "
	    "streaks");
	while (db_row(q)) {
		s = emalloc(sizeof(*s));
		s->tier3 = sqlite3_column_int(q, 1);
		s->better = sqlite3_column_int(q, 2);
		s->watch = sqlite3_column_int(q, 3);
		map_put(g->streaks, (const char *)sqlite3_column_text(q, 0), s);
	}
	sqlite3_finalize(q);
	positions_load(db, &g->at);
	db_close(db);
}

/* The streaks, and where they stand in the input topics (now; none for
 * files and pipes), in one transaction. */
static void
save_state(struct grader *g, const char *path, const struct positions *now)
{
	sqlite3 *db = db_open(path);
	sqlite3_stmt *q;
	const char *key;
	void *val;
	const struct streak *s;
	size_t it;

	db_exec(db, state_schema);
	db_exec(db, "BEGIN");
	db_exec(db, "DELETE FROM streaks");
	q = db_prepare(db, "INSERT INTO streaks VALUES (?, ?, ?, ?)");
	for (it = 0; map_next(g->streaks, &it, &key, &val); ) {
		s = val;
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, s->tier3);
		sqlite3_bind_int(q, 3, s->better);
		sqlite3_bind_int(q, 4, s->watch);
		db_step_done(db, q);
	}
	sqlite3_finalize(q);
	positions_commit(db, now);
}

/* A checkpoint over topics (stream_resume()). */
static void
checkpointed(void *arg, const struct positions *now)
{
	struct grader *g = arg;

	save_state(g, g->state, now);
}

/* Settings that cannot go together; each named with where it was set. */
static void
check_settings(void)
{
	if (tier2_cut > tier1_cut)
		errx(2, "%s: tier2.min_score %g is above tier1.min_score %g "
		    "(%s)", config_where(&tier2_cut), tier2_cut, tier1_cut,
		    config_where(&tier1_cut));
	if (ltv_best >= ltv_worst)
		errx(2, "%s: ltv.best %g is not below ltv.worst %g (%s)",
		    config_where(&ltv_best), ltv_best, ltv_worst,
		    config_where(&ltv_worst));
	if (w.brand + w.holdings + w.cycle + w.volatility + w.interval +
	    w.ltv == 0)
		errx(2, "%s: every weight is 0: no score can be made",
		    config_where(&w.ltv));
}

/*
 * The reference table (path NULL: none), the fields read, the appender.
 * cv-serve calls it too (filters/cv-serve/grade.c).
 */
static void
grader_setup(struct grader *g, const char *ref)
{
	avro_schema_t vs;
	int i;

	g->refs = map_new();
	g->streaks = map_new();
	if (ref != NULL)
		load_reference(g, ref);
	vs = schema_get("Valuation");
	for (i = 0; i < F_COUNT; i++)
		g->fx[i] = field_pos(vs, input[i].name, input[i].type,
		    "cv-grade");
	g->valid = valid_new(input, g->fx, F_COUNT);
	g->in = reader_new(vs);
	g->out = appender_new(vs, schema_get("Graded"), added_names, A_COUNT,
	    "cv-grade");
}

static void
grader_free(struct grader *g)
{
	reader_free(g->in);
	valid_free(g->valid);
	appender_free(g->out);
	map_free(g->refs, free);
	map_free(g->streaks, free);
	positions_free(&g->at);
}

/* Check and grade one record of r; -1 when the policy says stop. */
static int
grade_record(struct grader *g, struct rec *r, const struct view *v,
    struct sink *sink)
{
	const char *why;

	if (valid_check(g->valid, v, &why) >= 0)
		return reject(rec_where(r), 1, NULL, 0, rec_value(r), "%s",
		    why) < 0 ? -1 : 0;
	grade_one(g, v, sink);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	  required_argument, NULL, 'c' },
		{ "on-error",	  required_argument, NULL, 'e' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ "output",	  required_argument, NULL, 'o' },
		{ "print-config", no_argument,	     NULL, 'p' },
		{ "reference",	  required_argument, NULL, 'r' },
		{ "state",	  required_argument, NULL, 'S' },
		{ "set",	  required_argument, NULL, 's' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct grader g = { 0 };
	struct sink *sink;
	struct src *src;
	struct rec *r;
	struct view *v;
	const char *out = NULL, *state = NULL, *ref = NULL;
	int c, rc, verbose = 0, print = 0, status;
	double t0 = now_seconds();

	while ((c = getopt_long(argc, argv, "c:e:ho:pr:S:s:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_load(optarg, settings, NELEM(settings));
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'o':
			out = optarg;
			break;
		case 'p':
			print = 1;
			break;
		case 'r':
			ref = optarg;
			break;
		case 'S':
			state = optarg;
			break;
		case 's':
			config_keep(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	config_set_kept(settings, NELEM(settings));
	check_settings();
	if (print) {
		config_print(stdout, settings, NELEM(settings));
		return fshut(stdout, "stdout");
	}
	run_init();
	grader_setup(&g, ref);
	/* Over topics every instance reads every partition: the streaks
	 * follow a partition to another instance.  With -S the state and
	 * its positions are saved at each checkpoint; without, the state is
	 * rebuilt by replay. */
	stream_keep_state(start_again, &g);
	if (state != NULL) {
		load_state(&g, state);
		g.state = state;
		stream_resume(&g.at, checkpointed, &g);
	}
	sink = sink_open(out, schema_text("Graded"));
	src = src_open(argv + optind, argc - optind, "Valuation");
	src_lazy(src);
	while ((rc = src_next(src, &r)) > 0) {
		if ((v = reader_view(g.in, r)) != NULL &&
		    grade_record(&g, r, v, sink) < 0) {
			rc = -1;
			break;
		}
		src_ack(src, r);
	}
	if (state != NULL && rc >= 0 && !kafka_input())
		save_state(&g, state, NULL);	/* (topics: at the last
						 * checkpoint) */
	sink_close(sink);
	src_close(src);
	grader_free(&g);
	schema_cleanup();
	if (verbose)
		warnx("tier 1: %lld, tier 2: %lld, tier 3: %lld; watch list: "
		    "%lld entered, %lld left", (long long)g.graded[0],
		    (long long)g.graded[1], (long long)g.graded[2],
		    (long long)g.entered, (long long)g.left);
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f records/s", run_tally.read / (now_seconds() - t0));
	return rc < 0 ? 1 : status;
}
