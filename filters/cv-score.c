/*
 * cv-score: how close predictions came to the prices that followed.
 * Reads any record stream with a price and writes, for each prediction
 * column, the median and mean absolute percentage error, the share within
 * 5 % and 10 %, the median signed error (bias) and the count, on the rows
 * where the price and every prediction are present (-a: each on its own
 * rows); overall, and per segment (-g segment) or per month (-g month).
 * Records without a price, or without a prediction, count as absorbed.
 * With -d the same figures also go into a sqlite table, one run after
 * another.
 *
 *	cv-features index.avro sales.avro |
 *	    cv-score -c price_level,reference_value,prev_value -d scores.db
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "lib/db.h"
#include "lib/flat.h"
#include "lib/kafka.h"
#include "lib/map.h"
#include "lib/schema.h"
#include "lib/stream.h"

#define MAXCOLS 16

/* Signed relative errors of one prediction column within one group. */
struct errs {
	double	*e;
	size_t	 n, cap;
};

struct group {
	char		*name;
	struct errs	 col[MAXCOLS];
};

/* One row of the table, as fractions (0.075, not 7.5 %). */
struct figures {
	size_t	n;
	double	mdape, mape, within5, within10, bias;
};

/* A row held until the end (default columns, see settle()). */
struct held {
	double		 price, pred[MAXCOLS];
	unsigned	 ok;		/* bit i: column i present */
	struct group	*g;
};

struct score {
	char		*cols[MAXCOLS];
	int		 ncols, colidx[MAXCOLS];
	int		 price, segment, observed;
	char		*by;		/* NULL, "segment" or "month" */
	int		 any;		/* each prediction on its own rows */
	int		 dflt;		/* the default columns */
	struct held	*held;
	size_t		 nheld, capheld;
	struct map	*groups;
	struct group	**order;	/* groups in order of appearance */
	size_t		 ngroups;
	struct flat	*flat;
	sqlite3		*db;		/* -d, else NULL */
	sqlite3_stmt	*put;
	sqlite3_int64	 run;
	time_t		 scored_at;
	char		*input;		/* the file names, or "-" */
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-score [-av] [-c columns] [-d file] "
	    "[-e on-error] [-g segment|month] [-p column] [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -a, --any          score each prediction on every row it "
	    "has\n"
	    "                     (default: only rows with all of them)\n"
	    "  -c, --columns A,B  predictions to score (default: value,"
	    "naive_value,\n"
	    "                     index_value,reference_value, those "
	    "present)\n"
	    "  -d, --db FILE      also append the figures to table score "
	    "in\n"
	    "                     sqlite FILE\n"
	    "  -e, --on-error X   fail (default), skip, or a file for "
	    "rejects\n"
	    "  -g, --group-by G   also per segment or per month "
	    "(observed_at)\n"
	    "  -p, --price C      the realised price column (price)\n"
	    "  -v, --verbose      counts on stderr\n"
	    "  -h, --help         this help\n");
	kafka_help(stdout);
}

/*
 * A column by name, or as the field of a union branch ("VehicleObs.price"
 * in an Event stream): of the branch given ("VehicleObs."), else the only
 * one of that name.
 */
static int
column(struct flat *f, const char *name, const char *branch)
{
	size_t i, n = strlen(name), len;
	const char *c;
	int found = -1;

	if ((found = flat_column(f, name)) >= 0)
		return found;
	/* Beside the price: the same branch's field. */
	for (i = 0; branch != NULL && i < flat_ncols(f); i++) {
		c = flat_colname(f, i);
		if (strncmp(c, branch, strlen(branch)) == 0 &&
		    strcmp(c + strlen(branch), name) == 0)
			return (int)i;
	}
	for (i = 0; i < flat_ncols(f); i++) {
		c = flat_colname(f, i);
		len = strlen(c);
		if (len > n && c[len - n - 1] == '.' &&
		    strcmp(c + len - n, name) == 0) {
			if (found >= 0)
				return -1;
			found = (int)i;
		}
	}
	return found;
}

static struct group *
group(struct score *sc, const char *name, int overall)
{
	/* Keyed apart, so a segment called "all" is a group of its own. */
	char *key = easprintf("%c%s", overall ? '*' : '=', name);
	struct group *g = map_get(sc->groups, key);

	if (g == NULL) {
		g = ecalloc(1, sizeof(*g));
		g->name = estrdup(name);
		map_put(sc->groups, key, g);
		sc->order = erealloc(sc->order, (sc->ngroups + 1) *
		    sizeof(*sc->order));
		sc->order[sc->ngroups++] = g;
	}
	free(key);
	return g;
}

static void
add_err(struct errs *x, double e)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 256;
		x->e = erealloc(x->e, x->cap * sizeof(*x->e));
	}
	x->e[x->n++] = e;
}

/* Set up the columns from the stream's schema, at its first record. */
static void
start(struct score *sc, struct src *src, const char *price,
    const char *list)
{
	static const char *dflt[] = { "value", "naive_value", "index_value",
	    "reference_value" };
	const char *why, *pc, *dot;
	char *copy, *p, *save = NULL, *branch;
	size_t i;
	int k;

	if ((sc->flat = flat_new(src_schema_text(src), &why)) == NULL)
		errx(1, "writer schema: %s", why);
	if ((sc->price = column(sc->flat, price, NULL)) < 0)
		errx(1, "-p: no column %s in this stream", price);
	pc = flat_colname(sc->flat, (size_t)sc->price);
	dot = strrchr(pc, '.');
	branch = dot ? estrndup(pc, (size_t)(dot - pc + 1)) : NULL;
	sc->segment = column(sc->flat, "segment", branch);
	sc->observed = column(sc->flat, "observed_at", branch);
	if (sc->by != NULL && (strcmp(sc->by, "segment") == 0 ?
	    sc->segment : sc->observed) < 0)
		errx(1, "-g %s: the stream has no %s column", sc->by,
		    strcmp(sc->by, "segment") == 0 ? "segment" :
		    "observed_at");
	if (list == NULL) {
		for (i = 0; i < NELEM(dflt); i++)
			if ((k = column(sc->flat, dflt[i], branch)) >= 0) {
				sc->cols[sc->ncols] = estrdup(dflt[i]);
				sc->colidx[sc->ncols++] = k;
			}
		if (sc->ncols == 0)
			errx(1, "no prediction columns (value, naive_value, "
			    "index_value, reference_value): name them with -c");
		sc->dflt = 1;
		free(branch);
		return;
	}
	copy = estrdup(list);
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",",
	    &save)) {
		if ((k = column(sc->flat, p, branch)) < 0)
			errx(1, "-c: no column %s in this stream", p);
		if (sc->ncols == MAXCOLS)
			errx(1, "-c: at most %d columns", MAXCOLS);
		sc->cols[sc->ncols] = estrdup(p);
		sc->colidx[sc->ncols++] = k;
	}
	free(copy);
	free(branch);
}

static void
hold(struct score *sc, double price, const double *pred, const int *ok,
    struct group *g)
{
	struct held *h;
	int i;

	if (sc->nheld == sc->capheld) {
		sc->capheld = sc->capheld ? 2 * sc->capheld : 1024;
		sc->held = erealloc(sc->held, sc->capheld * sizeof(*sc->held));
	}
	h = &sc->held[sc->nheld++];
	h->price = price;
	h->ok = 0;
	h->g = g;
	for (i = 0; i < sc->ncols; i++) {
		h->pred[i] = pred[i];
		h->ok |= (unsigned)ok[i] << i;
	}
}

/*
 * The default columns are scored on the rows that have all of those the
 * stream fills at all: a column null on every row (reference_value of
 * simulated data) is shown with n 0 and does not empty the table.
 */
static void
settle(struct score *sc)
{
	struct group *all = group(sc, "all", 1);
	unsigned seen = 0;
	size_t k;
	int i;

	for (k = 0; k < sc->nheld; k++)
		seen |= sc->held[k].ok;
	for (k = 0; k < sc->nheld; k++) {
		const struct held *h = &sc->held[k];

		if ((h->ok & seen) != seen) {
			tally.absorbed++;
			continue;
		}
		for (i = 0; i < sc->ncols; i++) {
			if (!(seen >> i & 1))
				continue;
			add_err(&all->col[i], (h->pred[i] - h->price) /
			    h->price);
			if (h->g != NULL)
				add_err(&h->g->col[i], (h->pred[i] -
				    h->price) / h->price);
		}
		tally.written++;
	}
	free(sc->held);
	sc->held = NULL;
	sc->nheld = 0;
}

/* One record: its errors go to "all" and, with -g, to its group. */
static void
score_record(struct score *sc, struct rec *r)
{
	char *const *cells = flat_row(sc->flat, r->value);
	char month[8];
	struct group *all, *g = NULL;
	double price, pred[MAXCOLS];
	int i, ok[MAXCOLS];

	if (cells[sc->price] == NULL || parse_double(cells[sc->price],
	    &price) < 0 || !(price > 0)) {
		tally.absorbed++;	/* no price: nothing to score */
		return;
	}
	if (!sc->any && !sc->dflt)
		for (i = 0; i < sc->ncols; i++)
			if (cells[sc->colidx[i]] == NULL) {
				tally.absorbed++;
				return;
			}
	all = group(sc, "all", 1);
	if (sc->by != NULL && strcmp(sc->by, "segment") == 0)
		g = group(sc, cells[sc->segment] ? cells[sc->segment] : "",
		    0);
	else if (sc->by != NULL && cells[sc->observed] != NULL) {
		snprintf(month, sizeof(month), "%.7s", cells[sc->observed]);
		g = group(sc, month, 0);
	}
	/* By default every prediction is scored on the same rows. */
	for (i = 0; i < sc->ncols; i++) {
		ok[i] = cells[sc->colidx[i]] != NULL &&
		    parse_double(cells[sc->colidx[i]], &pred[i]) == 0;
		if (!ok[i] && !sc->any && !sc->dflt) {
			tally.absorbed++;
			return;
		}
	}
	if (sc->dflt && !sc->any) {
		hold(sc, price, pred, ok, g);
		return;
	}
	for (i = 0; i < sc->ncols; i++) {
		if (!ok[i])
			continue;
		add_err(&all->col[i], (pred[i] - price) / price);
		if (g != NULL)
			add_err(&g->col[i], (pred[i] - price) / price);
	}
	tally.written++;
}

/* The figures of one group's errors, which it sorts; all 0 if it has none. */
static void
measure(struct errs *x, struct figures *f)
{
	double *a, mape = 0;
	size_t i, w5 = 0, w10 = 0;

	memset(f, 0, sizeof(*f));
	if ((f->n = x->n) == 0)
		return;
	a = emalloc(x->n * sizeof(*a));
	gsl_sort(x->e, 1, x->n);
	f->bias = gsl_stats_median_from_sorted_data(x->e, 1, x->n);
	for (i = 0; i < x->n; i++) {
		a[i] = fabs(x->e[i]);
		mape += a[i];
		w5 += a[i] <= 0.05;
		w10 += a[i] <= 0.10;
	}
	gsl_sort(a, 1, x->n);
	f->mdape = gsl_stats_median_from_sorted_data(a, 1, x->n);
	f->mape = mape / x->n;
	f->within5 = (double)w5 / x->n;
	f->within10 = (double)w10 / x->n;
	free(a);
}

static void
print_row(const char *group, const char *col, const struct figures *f)
{
	if (f->n == 0) {
		printf("%-24s %-16s %7d %8s %8s %7s %7s %8s\n", group, col, 0,
		    "-", "-", "-", "-", "-");
		return;
	}
	printf("%-24s %-16s %7zu %7.2f%% %7.2f%% %6.1f%% %6.1f%% %+7.2f%%\n",
	    group, col, f->n, 100 * f->mdape, 100 * f->mape,
	    100 * f->within5, 100 * f->within10, 100 * f->bias);
}

/*
 * Open path for -d and make the table, before any input is read, so that
 * a database that cannot be written stops the run at once.
 */
static void
open_scores(struct score *sc, const char *path, char *const *files, int n)
{
	size_t len = 2;
	int i;

	sc->db = db_open(path);
	db_exec(sc->db, "CREATE TABLE IF NOT EXISTS score(run INTEGER, "
	    "scored_at INTEGER, grouping TEXT, grp TEXT, col TEXT, "
	    "n INTEGER, mdape REAL, mape REAL, within5 REAL, within10 REAL, "
	    "bias REAL, input TEXT)");
	sc->put = db_prepare(sc->db, "INSERT INTO score VALUES (?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?)");
	sc->scored_at = time(NULL);
	for (i = 0; i < n; i++)
		len += strlen(files[i]) + 1;
	sc->input = emalloc(len);
	strcpy(sc->input, n == 0 ? "-" : "");
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(sc->input, " ");
		strcat(sc->input, files[i]);
	}
}

/* Begin this run's transaction and take the next run number. */
static void
begin_run(struct score *sc)
{
	sqlite3_stmt *q;

	/* IMMEDIATE: two runs at once must not both take the same number. */
	db_exec(sc->db, "BEGIN IMMEDIATE");
	q = db_prepare(sc->db, "SELECT coalesce(max(run), 0) + 1 FROM score");
	if (sqlite3_step(q) != SQLITE_ROW)
		errx(1, "%s: %s", sqlite3_db_filename(sc->db, "main"),
		    sqlite3_errmsg(sc->db));
	sc->run = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
}

static void
save_row(struct score *sc, const char *grouping, const char *grp,
    const char *col, const struct figures *f)
{
	sqlite3_stmt *q = sc->put;

	sqlite3_bind_int64(q, 1, sc->run);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)sc->scored_at);
	sqlite3_bind_text(q, 3, grouping, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, grp, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, col, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)f->n);
	/*
	 * No rows: the figures stay NULL ("-" in the table), as
	 * db_step_done() clears the bindings after each row.
	 */
	if (f->n > 0) {
		sqlite3_bind_double(q, 7, f->mdape);
		sqlite3_bind_double(q, 8, f->mape);
		sqlite3_bind_double(q, 9, f->within5);
		sqlite3_bind_double(q, 10, f->within10);
		sqlite3_bind_double(q, 11, f->bias);
	}
	sqlite3_bind_text(q, 12, sc->input, -1, SQLITE_STATIC);
	db_step_done(sc->db, q);
}

/* Commit the run, if one was begun, and close the database. */
static void
close_scores(struct score *sc)
{
	if (sc->db == NULL)
		return;
	if (!sqlite3_get_autocommit(sc->db))
		db_exec(sc->db, "COMMIT");
	sqlite3_finalize(sc->put);
	db_close(sc->db);
	free(sc->input);
}

/* Print the table and, with -d, put the same rows in the database. */
static void
report(struct score *sc)
{
	struct figures f;
	size_t g;
	int i;

	printf("%-24s %-16s %7s %8s %8s %7s %7s %8s\n", sc->by ? sc->by :
	    "group", "prediction", "n", "MdAPE", "MAPE", "±5%", "±10%",
	    "bias");
	if (sc->db != NULL)
		begin_run(sc);
	for (g = 0; g < sc->ngroups; g++)
		for (i = 0; i < sc->ncols; i++) {
			measure(&sc->order[g]->col[i], &f);
			print_row(sc->order[g]->name, sc->cols[i], &f);
			if (sc->db == NULL)
				continue;
			/* order[0] is "all": score_record makes it first. */
			if (g == 0)
				save_row(sc, "all", "*", sc->cols[i], &f);
			else
				save_row(sc, sc->by, sc->order[g]->name,
				    sc->cols[i], &f);
		}
}

static void
free_group(void *p)
{
	struct group *g = p;
	int i;

	for (i = 0; i < MAXCOLS; i++)
		free(g->col[i].e);
	free(g->name);
	free(g);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "any",	no_argument,	   NULL, 'a' },
		{ "columns",	required_argument, NULL, 'c' },
		{ "db",		required_argument, NULL, 'd' },
		{ "on-error",	required_argument, NULL, 'e' },
		{ "group-by",	required_argument, NULL, 'g' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "price",	required_argument, NULL, 'p' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct score sc = { 0 };
	struct src *src;
	struct rec *r;
	const char *list = NULL, *price = "price", *dbpath = NULL;
	int c, i, rc, verbose = 0, status, started = 0;

	while ((c = getopt_long(argc, argv, "ac:d:e:g:hp:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			sc.any = 1;
			break;
		case 'c':
			list = optarg;
			break;
		case 'd':
			dbpath = optarg;
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'g':
			if (strcmp(optarg, "segment") && strcmp(optarg,
			    "month")) {
				warnx("-g: %s: not segment or month", optarg);
				usage(stderr);
				return 2;
			}
			sc.by = optarg;
			break;
		case 'h':
			help();
			return 0;
		case 'p':
			price = optarg;
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
	stream_init();
	sc.groups = map_new();
	if (dbpath != NULL)
		open_scores(&sc, dbpath, argv + optind, argc - optind);
	src = src_open(argv + optind, argc - optind, NULL);
	while ((rc = src_next(src, &r)) > 0) {
		if (!started) {
			start(&sc, src, price, list);
			started = 1;
		}
		score_record(&sc, r);
		src_ack(src, r);
	}
	if (started) {
		settle(&sc);
		report(&sc);
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "stdout");
	/* The run goes in only once the table is out as well. */
	close_scores(&sc);
	src_close(src);
	flat_free(sc.flat);
	map_free(sc.groups, free_group);
	free(sc.order);
	for (i = 0; i < sc.ncols; i++)
		free(sc.cols[i]);
	schema_cleanup();
	status = tally_finish(verbose);
	return rc < 0 ? 1 : status;
}
