/*
 * cv-stress: the loan book under market scenarios.  Reads Graded records
 * (or Warning: a later stage's), keeps each loan's last snapshot, takes
 * as the book the loans seen within -a days (1) of the latest snapshot
 * (the others have been repaid; --until sets the date), and lights it again by cv-warn's rules (lib/lights.h, without
 * hysteresis: a stress test compares states, not paths) with every value
 * moved by each scenario: an index shock for the market or a segment
 * (-x -0.10, -x toyota/camry:-0.20), or a depreciation shock that takes
 * an extra rate per year of age (-x decay:0.05).  Prints per scenario the
 * loans per light, the balance, the value, the shortfall (balance above
 * value) and the loans whose light got worse or better than at base.
 * With -p instead, per loan, the month in which its loan to value is
 * projected to cross the YELLOW and the RED threshold at the current
 * trend: the index's over the last three months less the depreciation.
 *
 *	... | cv-grade | cv-stress -c pipelines/warn.conf -x -0.10 -x decay:0.05
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/append.h"
#include "lib/field.h"
#include "lib/kafka.h"
#include "lib/lights.h"
#include "lib/map.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/valid.h"

#define MAXSCEN		32
#define MAXSHOCK	16
#define MS_DAY		86400000LL

/* One scenario: index shocks by segment prefix, and extra depreciation. */
struct scenario {
	char	*name;
	char	*seg[MAXSHOCK];		/* "*", "make:toyota", "toyota/camry" */
	double	 shock[MAXSHOCK];	/* relative: -0.10 is -10 % */
	int	 nshock;
	double	 decay;			/* per year of age */
};

/* A loan's last snapshot. */
struct loan {
	char	*id, *segment;
	int64_t	 at;
	double	 balance, value, next, comps, age_years, trend;
	int	 watch, grade33;
};

struct stress {
	struct scenario	 sc[MAXSCEN];
	int		 nsc;
	struct map	*loans;		/* loan_id: struct loan */
	struct loan	**book;
	size_t		 nbook;
	int		 fx[16];
	struct valid	*valid;		/* of the fields read */
	int		 csv, project;
	double		 horizon;	/* months */
	double		 active;	/* days */
	int64_t		 latest;	/* the latest snapshot's time */
};

enum {
	F_LOAN, F_SEGMENT, F_OBSERVED, F_BALANCE, F_VALUE, F_NEXT, F_COMPS,
	F_WATCH, F_GRADE, F_AGE, F_DECAY, F_RET3, F_COUNT
};
static const struct field input[F_COUNT] = {
	[F_LOAN] = { "loan_id", 'S' },
	[F_SEGMENT] = { "segment", 's' },
	[F_OBSERVED] = { "observed_at", 'l' },
	[F_BALANCE] = { "loan_balance", 'D' },
	[F_VALUE] = { "value", 'D' },
	[F_NEXT] = { "value_next", 'D' },
	[F_COMPS] = { "decay_n", 'd' },
	[F_WATCH] = { "watchlist", 'b' },
	[F_GRADE] = { "grade", 's' },
	[F_AGE] = { "age_months", 'd' },
	[F_DECAY] = { "decay_rate", 'D' },
	[F_RET3] = { "mpi_ret_3m", 'D' },
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-stress [-pv] [-a days] [-c config] [-e on-error] "
	    "[-f table|csv] [-H months] [-s key=value] [-x scenario] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -a, --active DAYS    the book: loans seen within DAYS of "
	    "the latest\n"
	    "                       snapshot (1)\n"
	    "  -c, --config FILE    cv-warn's settings "
	    "(pipelines/warn.conf)\n"
	    "  -e, --on-error X     fail (default), skip, or a file for "
	    "rejects\n"
	    "  -f, --format F       table (default) or csv\n"
	    "  -H, --horizon N      months -p looks ahead (36)\n"
	    "  -p, --project        per loan, the months its ltv crosses "
	    "YELLOW and RED\n"
	    "  -s, --set K=V        one setting, after the config file\n"
	    "  -v, --verbose        counts on stderr\n"
	    "  -x, --scenario S     [SEGMENT:]SHOCK,... or decay:RATE; "
	    "repeatable\n"
	    "                       (default -0.05, -0.10, -0.15 and "
	    "decay:0.05)\n"
	    "  -h, --help           this help\n");
	kafka_help(stdout);
}

/* A segment key without "make:": make:toyota and toyota are one. */
static const char *
bare(const char *key)
{
	return strncmp(key, "make:", 5) == 0 ? key + 5 : key;
}

static void
scenario_free(struct scenario *s)
{
	int k;

	free(s->name);
	for (k = 0; k < s->nshock; k++)
		free(s->seg[k]);
	memset(s, 0, sizeof(*s));
}

/* Parse -x; -1 after saying what is wrong, with nothing of s kept. */
static int
parse_scenario(struct scenario *s, const char *arg)
{
	char *copy = estrdup(arg), *item, *save = NULL, *colon, *seg;
	double x;
	int k, decayed = 0, rc = 0;

	memset(s, 0, sizeof(*s));
	s->name = estrdup(arg);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL,
	    ",", &save)) {
		colon = strrchr(item, ':');
		if (parse_double(colon ? colon + 1 : item, &x) < 0) {
			warnx("-x: %s: %s: not a number", arg, colon ?
			    colon + 1 : item);
			rc = -1;
			break;
		}
		if (colon != NULL && colon - item == 5 &&
		    strncmp(item, "decay", 5) == 0) {
			if (decayed++) {
				warnx("-x: %s: decay given twice", arg);
				rc = -1;
				break;
			}
			if (fabs(x) > 1) {
				warnx("-x: %s: a depreciation shock is a rate "
				    "per year, at most 1", arg);
				rc = -1;
				break;
			}
			s->decay = x;
			continue;
		}
		if (!(x > -1) || x > 10 || s->nshock == MAXSHOCK) {
			warnx("-x: %s: a shock is above -1 (all value gone) "
			    "and at most 10, %d to a scenario", arg, MAXSHOCK);
			rc = -1;
			break;
		}
		seg = colon ? estrndup(item, (size_t)(colon - item)) :
		    estrdup("*");
		for (k = 0; k < s->nshock && strcmp(bare(s->seg[k]),
		    bare(seg)); k++)
			;
		if (k < s->nshock) {
			/* Which of the two would hold is anybody's guess. */
			warnx("-x: %s: %s shocked twice", arg, seg);
			free(seg);
			rc = -1;
			break;
		}
		s->seg[s->nshock] = seg;
		s->shock[s->nshock++] = x;
	}
	free(copy);
	if (rc < 0)
		scenario_free(s);
	return rc;
}

/*
 * How far a segment key names segment: 0 if not at all, else the length
 * of the match, so the finest shock that covers it wins ("*" covers all).
 */
static size_t
covers(const char *key, const char *segment)
{
	size_t n;

	if (strcmp(key, "*") == 0)
		return 1;
	key = bare(key);
	n = strlen(key);
	if (strncmp(key, segment, n) == 0 && (segment[n] == '\0' ||
	    segment[n] == '/'))
		return n + 1;
	return 0;
}

/* The factor a scenario multiplies a loan's value by. */
static double
factor(const struct scenario *s, const struct loan *ln)
{
	double f = 1;
	size_t best = 0, m;
	int i;

	for (i = 0; i < s->nshock; i++)
		if ((m = covers(s->seg[i], ln->segment)) > best) {
			best = m;
			f = 1 + s->shock[i];
		}
	return f * exp(-s->decay * ln->age_years);
}

/* The loan's light with its value times f, by the rules, no hysteresis. */
static int
light_at(const struct loan *ln, double f)
{
	const struct light_rules *r = &light_rules;
	double v = ln->value * f;
	int light = GREEN, l;

	if (v > 0)
		light = light_level(ln->balance / v, r->ltv_yellow, r->ltv_red,
		    0, GREEN);
	if (v > 0 && ln->next > 0) {
		l = light_level((ln->value - ln->next) / ln->value,
		    r->drop_yellow, r->drop_red, 0, GREEN);
		light = l > light ? l : light;
	}
	if (ln->watch && (int)r->watch_light > light)
		light = (int)r->watch_light;
	if (ln->grade33 && (int)r->grade_light > light)
		light = (int)r->grade_light;
	if ((!(v > 0) || ln->comps < r->thin_comps) &&
	    (int)r->thin_light > light)
		light = (int)r->thin_light;
	return light;
}

/* Keep the record as its loan's snapshot if it is the loan's latest. */
static void
take(struct stress *st, const struct view *v)
{
	const int *fx = st->fx;
	char id[256], seg[256], grade[8];
	struct loan *ln;
	int64_t at = view_long(v, fx[F_OBSERVED]);
	double ret3 = view_opt_double(v, fx[F_RET3]);
	double decay = view_opt_double(v, fx[F_DECAY]);

	if (at > st->latest)
		st->latest = at;
	view_opt_string(v, fx[F_LOAN], id, sizeof(id));
	if ((ln = map_get(st->loans, id)) == NULL) {
		ln = ecalloc(1, sizeof(*ln));
		ln->id = estrdup(id);
		ln->at = INT64_MIN;
		map_put(st->loans, id, ln);
		st->book = erealloc(st->book, (st->nbook + 1) *
		    sizeof(*st->book));
		st->book[st->nbook++] = ln;
	}
	if (at < ln->at)
		return;
	free(ln->segment);
	ln->segment = estrdup(view_string(v, fx[F_SEGMENT], seg,
	    sizeof(seg)));
	ln->at = at;
	ln->balance = view_opt_double(v, fx[F_BALANCE]);
	ln->value = view_opt_double(v, fx[F_VALUE]);
	ln->next = view_opt_double(v, fx[F_NEXT]);
	ln->comps = view_double(v, fx[F_COMPS]);
	ln->watch = view_bool(v, fx[F_WATCH]);
	ln->grade33 = strcmp(view_string(v, fx[F_GRADE], grade,
	    sizeof(grade)), "3-3") == 0;
	ln->age_years = view_double(v, fx[F_AGE]) / 12;
	/* Log change a month: the index's trend less the depreciation. */
	ln->trend = (isnan(ret3) ? 0 : ret3 / 3) - (isnan(decay) ? 0 :
	    decay / 12);
}

/* Keep in the book only the loans seen lately; the others are repaid. */
static void
active_book(struct stress *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->nbook; i++)
		if ((double)(st->latest - st->book[i]->at) <= st->active *
		    MS_DAY)
			st->book[n++] = st->book[i];
	st->nbook = n;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp((*(struct loan *const *)a)->id,
	    (*(struct loan *const *)b)->id);
}

/* A CSV cell: quoted when it holds a comma or a quote. */
static void
put_csv(const char *s)
{
	if (strpbrk(s, ",\"\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* The scenario table. */
static void
report(const struct stress *st)
{
	static const char *head[] = { "scenario", "loans", "GREEN", "YELLOW",
	    "RED", "balance", "value", "shortfall", "worse", "better" };
	double bal, val, sf, v;
	int64_t n[3], worse, better, loans;
	size_t k;
	int s, l, b, i;

	if (st->csv) {
		for (i = 0; i < (int)NELEM(head); i++)
			printf("%s%s", i ? "," : "", head[i]);
		printf("\n");
	} else
		printf("%-28s %6s %6s %6s %6s %14s %14s %12s %6s %6s\n",
		    head[0], head[1], head[2], head[3], head[4], head[5],
		    head[6], head[7], head[8], head[9]);
	for (s = -1; s < st->nsc; s++) {
		memset(n, 0, sizeof(n));
		bal = val = sf = 0;
		worse = better = loans = 0;
		for (k = 0; k < st->nbook; k++) {
			const struct loan *ln = st->book[k];
			double f = s < 0 ? 1 : factor(&st->sc[s], ln);

			l = light_at(ln, f);
			b = light_at(ln, 1);
			n[l]++;
			loans++;
			worse += l > b;
			better += l < b;
			if (!(ln->value > 0))
				continue;
			v = ln->value * f;
			bal += ln->balance;
			val += v;
			sf += ln->balance > v ? ln->balance - v : 0;
		}
		if (st->csv) {
			put_csv(s < 0 ? "base" : st->sc[s].name);
			printf(",%lld,%lld,%lld,%lld,%.2f,%.2f,%.2f,%lld,"
			    "%lld\n", (long long)loans, (long long)n[GREEN],
			    (long long)n[YELLOW], (long long)n[RED], bal, val,
			    sf, (long long)worse, (long long)better);
		} else
			printf("%-28s %6lld %6lld %6lld %6lld %14.0f %14.0f "
			    "%12.0f %6lld %6lld\n", s < 0 ? "base" :
			    st->sc[s].name, (long long)loans,
			    (long long)n[GREEN], (long long)n[YELLOW],
			    (long long)n[RED], bal, val, sf, (long long)worse,
			    (long long)better);
	}
}

/*
 * The first month, from the snapshot's, in which balance / value with
 * value moving by trend a month is above thr: 0 if it is already, -1 if
 * not within the horizon (the balance held as it is).
 */
static int
crossing(const struct loan *ln, double thr, double horizon)
{
	double ltv = ln->balance / ln->value, m;

	if (ltv > thr)
		return 0;
	if (!(ln->trend < 0) || ltv <= 0)
		return -1;
	m = floor(log(thr / ltv) / -ln->trend) + 1;
	return m > horizon ? -1 : (int)m;
}

/* "2015-06", m months after the month of at; "now", or "-" for never. */
static const char *
month_after(int64_t at, int m, char *buf, size_t len)
{
	int y;
	unsigned mo, d;
	int64_t days = at / MS_DAY - (at % MS_DAY < 0);

	if (m < 0)
		return "-";
	if (m == 0)
		return "now";
	civil_from_days(days, &y, &mo, &d);
	mo += (unsigned)m;
	y += (int)((mo - 1) / 12);
	mo = (mo - 1) % 12 + 1;
	snprintf(buf, len, "%04d-%02u", y, mo);
	return buf;
}

/* Per loan: when its ltv crosses YELLOW and RED at its trend. */
static void
project(struct stress *st)
{
	const struct light_rules *r = &light_rules;
	char when[32], ym[16], rm[16];
	const char *y, *red;
	size_t k;

	qsort(st->book, st->nbook, sizeof(*st->book), by_id);
	if (st->csv)
		printf("loan_id,segment,as_of,balance,value,ltv,trend,yellow,"
		    "red\n");
	else
		printf("%-32s %-24s %-10s %10s %10s %6s %8s %8s %8s\n",
		    "loan_id", "segment", "as_of", "balance", "value", "ltv",
		    "trend", "yellow", "red");
	for (k = 0; k < st->nbook; k++) {
		const struct loan *ln = st->book[k];

		date_format(ln->at / MS_DAY - (ln->at % MS_DAY < 0), when,
		    sizeof(when));
		if (!(ln->value > 0)) {
			y = red = "-";
		} else {
			y = month_after(ln->at, crossing(ln, r->ltv_yellow,
			    st->horizon), ym, sizeof(ym));
			red = month_after(ln->at, crossing(ln, r->ltv_red,
			    st->horizon), rm, sizeof(rm));
		}
		if (st->csv && ln->value > 0)
			printf("%s,%s,%s,%.2f,%.2f,%.4f,%.5f,%s,%s\n", ln->id,
			    ln->segment, when, ln->balance, ln->value,
			    ln->balance / ln->value, ln->trend, y, red);
		else if (st->csv)
			printf("%s,%s,%s,%.2f,,,%.5f,%s,%s\n", ln->id,
			    ln->segment, when, ln->balance, ln->trend, y, red);
		else if (ln->value > 0)
			printf("%-32s %-24s %-10s %10.0f %10.0f %6.2f %+7.2f%% "
			    "%8s %8s\n", ln->id, ln->segment, when,
			    ln->balance, ln->value, ln->balance / ln->value,
			    100 * ln->trend, y, red);
		else
			printf("%-32s %-24s %-10s %10.0f %10s %6s %+7.2f%% "
			    "%8s %8s\n", ln->id, ln->segment, when,
			    ln->balance, "-", "-", 100 * ln->trend, y, red);
	}
}

static void
free_loan(void *p)
{
	struct loan *ln = p;

	free(ln->id);
	free(ln->segment);
	free(ln);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "active",	required_argument, NULL, 'a' },
		{ "config",	required_argument, NULL, 'c' },
		{ "on-error",	required_argument, NULL, 'e' },
		{ "format",	required_argument, NULL, 'f' },
		{ "horizon",	required_argument, NULL, 'H' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "project",	no_argument,	   NULL, 'p' },
		{ "set",	required_argument, NULL, 's' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "scenario",	required_argument, NULL, 'x' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const char *dflt[] = { "-0.05", "-0.10", "-0.15",
	    "decay:0.05" };
	struct stress st = { .horizon = 36, .active = 1, .latest = INT64_MIN };
	struct reader *in;
	struct src *src;
	struct rec *r;
	struct view *v;
	avro_schema_t gs;
	int c, i, rc, verbose = 0, status;
	int64_t nrec = 0;
	const char *why;

	while ((c = getopt_long(argc, argv, "a:c:e:f:H:hps:vx:" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			st.active = number_arg('a', optarg, 0, 1e5, usage);
			break;
		case 'c':
			config_load(optarg, light_settings, light_nsettings);
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'f':
			if (strcmp(optarg, "table") && strcmp(optarg, "csv")) {
				warnx("-f: %s: not table or csv", optarg);
				usage(stderr);
				return 2;
			}
			st.csv = strcmp(optarg, "csv") == 0;
			break;
		case 'H':
			st.horizon = number_arg('H', optarg, 1, 1200, usage);
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'p':
			st.project = 1;
			break;
		case 's':
			config_keep(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'x':
			if (st.nsc == MAXSCEN || parse_scenario(&st.sc[st.nsc],
			    optarg) < 0) {
				if (st.nsc == MAXSCEN)
					warnx("-x: at most %d scenarios",
					    MAXSCEN);
				while (st.nsc > 0)
					scenario_free(&st.sc[--st.nsc]);
				usage(stderr);
				return 2;
			}
			st.nsc++;
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	config_set_kept(light_settings, light_nsettings);
	light_check();
	if (st.nsc == 0)
		for (i = 0; i < (int)NELEM(dflt); i++)
			parse_scenario(&st.sc[st.nsc++], dflt[i]);
	run_init();
	st.loans = map_new();
	gs = schema_get("Graded");
	for (i = 0; i < F_COUNT; i++)
		st.fx[i] = field_pos(gs, input[i].name, input[i].type,
		    "cv-stress");
	st.valid = valid_new(input, st.fx, F_COUNT);
	in = reader_new(gs);
	src = src_open(argv + optind, argc - optind, "Graded");
	src_lazy(src);
	while ((rc = src_next(src, &r)) > 0) {
		if ((v = reader_view(in, r)) == NULL) {
			src_ack(src, r);
			continue;
		}
		if (valid_check(st.valid, v, &why) >= 0) {
			if (reject(rec_where(r), 1, NULL, 0, rec_value(r),
			    "%s", why) < 0) {
				rc = -1;
				break;
			}
		} else if (view_is_null(v, st.fx[F_LOAN]) ||
		    view_is_null(v, st.fx[F_BALANCE]))
			run_tally.absorbed++;	/* no loan */
		else {
			take(&st, v);
			nrec++;
		}
		src_ack(src, r);
	}
	active_book(&st);
	/* Each loan in the book is used once; its earlier snapshots, and
	 * the loans repaid before, are absorbed. */
	run_tally.written += (int64_t)st.nbook;
	run_tally.absorbed += nrec - (int64_t)st.nbook;
	if (rc >= 0) {
		if (st.project)
			project(&st);
		else
			report(&st);
	}
	fshut(stdout, "stdout");
	src_close(src);
	reader_free(in);
	valid_free(st.valid);
	map_free(st.loans, free_loan);
	free(st.book);
	for (i = 0; i < st.nsc; i++)
		scenario_free(&st.sc[i]);
	schema_cleanup();
	if (verbose)
		warnx("%zu loans in the book", st.nbook);
	status = reject_finish(verbose);
	return rc < 0 ? 1 : status;
}
