/*
 * cv-score: how close predictions came to the prices that followed.
 * Reads any record stream with a price and writes, for each prediction
 * column, the median and mean absolute percentage error, the share within
 * 5 % and 10 %, the median signed error (bias), the count and, for a
 * prediction with an interval (value: value_lo .. value_hi), the share of
 * prices inside it; on the rows where the price and every prediction are
 * present (-a: each on its own rows); overall, and per group of each -g:
 * segment, month, density (earlier sales of the make/model in the stream:
 * 0, 1-4, 5-19, 20+), level (decay_level, the hierarchy level that
 * served) or decile (of the realised price).  Records without a price, or
 * without a prediction, count as absorbed.  The table is text, CSV or
 * JSON lines (-f); with -d the same figures also go into a sqlite table,
 * one run after another.
 *
 *	cv-predict -P -m models.db features.avro |
 *	    cv-score -g density,level,decile -d scores.db
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <jansson.h>

#include "lib/db.h"
#include "lib/flat.h"
#include "lib/kafka.h"
#include "lib/map.h"
#include "lib/schema.h"
#include "lib/stream.h"

#define MAXCOLS 16
#define MAXBY	5
#define NDECILE	10

enum by { BY_SEGMENT, BY_MONTH, BY_DENSITY, BY_LEVEL, BY_DECILE, BY_SOURCE,
	BY_COUNT };
static const char *by_names[BY_COUNT] = { "segment", "month", "density",
	"level", "decile", "source" };
static const char *density_names[] = { "0", "1-4", "5-19", "20+" };
static const char *level_names[] = { "trim", "model", "make", "market",
	"none" };

enum format { F_TABLE, F_CSV, F_JSON };

/* Signed relative errors of one prediction column within one group, and
 * how many of its prices fell inside the prediction's interval. */
struct errs {
	double	*e;
	size_t	 n, cap;
	size_t	 with_interval, inside;
};

struct group {
	char		*name;
	int		 by;		/* index in score.by, -1 for "all" */
	struct errs	 col[MAXCOLS];
};

/* One row of the table, as fractions (0.075, not 7.5 %). */
struct figures {
	size_t	n, with_interval;
	double	mdape, mape, within5, within10, bias, coverage;
};

struct score {
	char		*cols[MAXCOLS];
	int		 ncols, colidx[MAXCOLS];
	int		 lo[MAXCOLS], hi[MAXCOLS];	/* interval; -1 none */
	int		 price, segment, observed, level, source;
	enum by		 by[MAXBY];
	int		 nby;
	int		 any;		/* each prediction on its own rows */
	int		 dflt;		/* the default columns */
	enum format	 format;
	/* Rows held until the end: price, the predictions, the interval
	 * bounds, per row; a mask of what each has; its groups. */
	double		*vals;
	unsigned	*okm;		/* bit i: column i; 16 + i: interval */
	int32_t		*gid;		/* nby per row: group, -1 none */
	size_t		 nrows, caprows;
	int		 stride;
	struct map	*groups;
	struct group	**order;	/* groups in order of appearance */
	size_t		 ngroups;
	struct map	*models;	/* make/model: sales seen + 1 */
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
	fprintf(fp, "usage: cv-score [-av] [-C columns] [-d file] "
	    "[-e on-error] [-f table|csv|json] [-g grouping,...] "
	    "[-p column] [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -a, --any          score each prediction on every row it "
	    "has\n"
	    "                     (default: only rows with all of them)\n"
	    "  -C, --columns A,B  predictions to score (default: value,"
	    "naive_value,\n"
	    "                     index_value,reference_value, those "
	    "present)\n"
	    "  -d, --db FILE      also append the figures to table score "
	    "in\n"
	    "                     sqlite FILE\n"
	    "  -e, --on-error X   fail (default), skip, or a file for "
	    "rejects\n"
	    "  -f, --format F     table (default), csv or json (one object "
	    "a line)\n"
	    "  -g, --group-by G   also per group of each of: segment, month "
	    "(observed_at),\n"
	    "                     density (earlier sales of the model: 0, "
	    "1-4, 5-19, 20+),\n"
	    "                     level (decay_level), decile (of the "
	    "price), source\n"
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
	for (i = 0; i < flat_ncols(f); i++) {
		c = flat_colname(f, i);
		if (branch != NULL && strncmp(c, branch, strlen(branch)) == 0 &&
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

/* The group called name of grouping by (-1: "all"), made if new. */
static struct group *
group(struct score *sc, int by, const char *name)
{
	/* Keyed apart, so a segment called "all" is a group of its own. */
	char *key = easprintf("%d\t%s", by, name);
	struct group *g = map_get(sc->groups, key);

	if (g == NULL) {
		g = ecalloc(1, sizeof(*g));
		g->name = estrdup(name);
		g->by = by;
		map_put(sc->groups, key, g);
		sc->order = erealloc(sc->order, (sc->ngroups + 1) *
		    sizeof(*sc->order));
		sc->order[sc->ngroups++] = g;
	}
	free(key);
	return g;
}

static int32_t
group_index(struct score *sc, int by, const char *name)
{
	struct group *g = group(sc, by, name);
	size_t i;

	for (i = sc->ngroups; i-- > 0; )
		if (sc->order[i] == g)
			break;
	return (int32_t)i;
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

/* -g's list; -1 (after saying so) if an item is not a grouping. */
static int
parse_groupings(struct score *sc, const char *arg)
{
	char *copy = estrdup(arg), *p, *save = NULL;
	int b, rc = 0;

	sc->nby = 0;
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",",
	    &save)) {
		for (b = 0; b < BY_COUNT; b++)
			if (strcmp(p, by_names[b]) == 0)
				break;
		if (b == BY_COUNT || sc->nby == MAXBY) {
			warnx("-g: %s: not segment, month, density, level, "
			    "decile or source", p);
			rc = -1;
			break;
		}
		sc->by[sc->nby++] = (enum by)b;
	}
	free(copy);
	return rc;
}

/* A column -g needs; exits if the stream has none. */
static int
need_column(struct score *sc, const char *name, const char *branch,
    enum by by)
{
	int k = column(sc->flat, name, branch);

	if (k < 0)
		errx(1, "-g %s: the stream has no %s column", by_names[by],
		    name);
	return k;
}

/* The interval columns of prediction col: col_lo and col_hi. */
static void
find_interval(struct score *sc, int i, const char *branch)
{
	char *lo = easprintf("%s_lo", sc->cols[i]);
	char *hi = easprintf("%s_hi", sc->cols[i]);

	sc->lo[i] = column(sc->flat, lo, branch);
	sc->hi[i] = column(sc->flat, hi, branch);
	if (sc->lo[i] < 0 || sc->hi[i] < 0)
		sc->lo[i] = sc->hi[i] = -1;
	free(lo);
	free(hi);
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
	int k, b;

	if ((sc->flat = flat_new(src_schema_text(src), &why)) == NULL)
		errx(1, "writer schema: %s", why);
	if ((sc->price = column(sc->flat, price, NULL)) < 0)
		errx(1, "-p: no column %s in this stream", price);
	pc = flat_colname(sc->flat, (size_t)sc->price);
	dot = strrchr(pc, '.');
	branch = dot ? estrndup(pc, (size_t)(dot - pc + 1)) : NULL;
	sc->segment = sc->observed = sc->level = sc->source = -1;
	for (b = 0; b < sc->nby; b++)
		switch (sc->by[b]) {
		case BY_SEGMENT:
		case BY_DENSITY:
			sc->segment = need_column(sc, "segment", branch,
			    sc->by[b]);
			break;
		case BY_MONTH:
			sc->observed = need_column(sc, "observed_at", branch,
			    sc->by[b]);
			break;
		case BY_LEVEL:
			sc->level = need_column(sc, "decay_level", branch,
			    sc->by[b]);
			break;
		case BY_SOURCE:
			sc->source = need_column(sc, "source", branch,
			    sc->by[b]);
			break;
		default:
			break;
		}
	if (list == NULL) {
		for (i = 0; i < NELEM(dflt); i++)
			if ((k = column(sc->flat, dflt[i], branch)) >= 0) {
				sc->cols[sc->ncols] = estrdup(dflt[i]);
				sc->colidx[sc->ncols++] = k;
			}
		if (sc->ncols == 0)
			errx(1, "no prediction columns (value, naive_value, "
			    "index_value, reference_value): name them with -C");
		sc->dflt = 1;
	} else {
		copy = estrdup(list);
		for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL,
		    ",", &save)) {
			if ((k = column(sc->flat, p, branch)) < 0)
				errx(1, "-C: no column %s in this stream", p);
			if (sc->ncols == MAXCOLS)
				errx(1, "-C: at most %d columns", MAXCOLS);
			sc->cols[sc->ncols] = estrdup(p);
			sc->colidx[sc->ncols++] = k;
		}
		free(copy);
	}
	for (k = 0; k < sc->ncols; k++)
		find_interval(sc, k, branch);
	free(branch);
	sc->stride = 1 + 3 * sc->ncols;
	/* Fixed groups first, in their natural order. */
	for (b = 0; b < sc->nby; b++)
		if (sc->by[b] == BY_DENSITY)
			for (i = 0; i < NELEM(density_names); i++)
				group(sc, b, density_names[i]);
		else if (sc->by[b] == BY_LEVEL)
			for (i = 0; i < NELEM(level_names); i++)
				group(sc, b, level_names[i]);
}

/*
 * The density class of a sale of segment ("make/model/trim"): how many
 * sales of its make and model came before it in the stream.  Counts the
 * sale.
 */
static const char *
density(struct score *sc, const char *segment)
{
	const char *slash = strchr(segment, '/');
	char *model = slash && strchr(slash + 1, '/') ? estrndup(segment,
	    (size_t)(strchr(slash + 1, '/') - segment)) : estrdup(segment);
	intptr_t seen = (intptr_t)map_get(sc->models, model);
	intptr_t before = seen ? seen - 1 : 0;

	map_put(sc->models, model, (void *)(before + 2));
	free(model);
	return density_names[before == 0 ? 0 : before < 5 ? 1 : before < 20 ?
	    2 : 3];
}

/* The row's groups of each grouping but decile (known only at the end). */
static void
row_groups(struct score *sc, char *const *cells, const char *dens,
    int32_t *gid)
{
	char month[8];
	const char *c;
	size_t i;
	int b;

	for (b = 0; b < sc->nby; b++) {
		gid[b] = -1;
		switch (sc->by[b]) {
		case BY_SEGMENT:
			c = cells[sc->segment];
			gid[b] = group_index(sc, b, c ? c : "");
			break;
		case BY_MONTH:
			if (cells[sc->observed] == NULL)
				break;
			snprintf(month, sizeof(month), "%.7s",
			    cells[sc->observed]);
			gid[b] = group_index(sc, b, month);
			break;
		case BY_DENSITY:
			gid[b] = group_index(sc, b, dens);
			break;
		case BY_SOURCE:
			c = cells[sc->source];
			gid[b] = group_index(sc, b, c ? c : "");
			break;
		case BY_LEVEL:
			c = cells[sc->level];
			for (i = 0; c && i < NELEM(level_names) - 1; i++)
				if (strcmp(c, level_names[i]) == 0)
					break;
			gid[b] = group_index(sc, b, c ? c : "none");
			break;
		default:
			break;
		}
	}
}

/* A cell as a number: 1, 0 when null (or no column), -1 when it holds
 * something else (NaN, infinity). */
static int
number(char *const *cells, int k, double *x)
{
	if (k < 0 || cells[k] == NULL)
		return 0;
	return parse_double(cells[k], x) == 0 ? 1 : -1;
}

/* The first column of a record that holds something but no finite
 * number: the price, a prediction or a bound; NULL if none. */
static const char *
bad_number(struct score *sc, char *const *cells, const char **text)
{
	const char *name;
	double x;
	int i, j, k;

	for (i = -1; i < sc->ncols; i++)
		for (j = 0; j < (i < 0 ? 1 : 3); j++) {
			k = i < 0 ? sc->price : j == 0 ? sc->colidx[i] : j == 1 ?
			    sc->lo[i] : sc->hi[i];
			if (number(cells, k, &x) < 0) {
				name = flat_colname(sc->flat, (size_t)k);
				*text = cells[k];
				return name;
			}
		}
	return NULL;
}

/*
 * One record: held with its predictions, intervals and groups; 0, or -1
 * when the reject policy says stop.
 */
static int
score_record(struct score *sc, struct rec *r)
{
	char *const *cells = flat_row(sc->flat, r->value);
	const char *dens = NULL, *bad, *text;
	double price, *v;
	unsigned ok = 0;
	int i;

	if ((bad = bad_number(sc, cells, &text)) != NULL)
		return reject(rec_where(r), 1, NULL, 0, r->value,
		    "%s: not a number: %s", bad, text);
	if (number(cells, sc->price, &price) <= 0 || !(price > 0)) {
		run_tally.absorbed++;	/* no price: nothing to score */
		return 0;
	}
	if (sc->segment >= 0 && cells[sc->segment] != NULL)
		dens = density(sc, cells[sc->segment]);
	else
		dens = density_names[0];
	if (sc->nrows == sc->caprows) {
		sc->caprows = sc->caprows ? 2 * sc->caprows : 1024;
		sc->vals = erealloc(sc->vals, sc->caprows * (size_t)sc->stride *
		    sizeof(*sc->vals));
		sc->okm = erealloc(sc->okm, sc->caprows * sizeof(*sc->okm));
		sc->gid = erealloc(sc->gid, sc->caprows * (MAXBY + 0u) *
		    sizeof(*sc->gid));
	}
	v = sc->vals + sc->nrows * (size_t)sc->stride;
	v[0] = price;
	for (i = 0; i < sc->ncols; i++) {
		if (number(cells, sc->colidx[i], &v[1 + i]) > 0)
			ok |= 1u << i;
		if (number(cells, sc->lo[i], &v[1 + sc->ncols + 2 * i]) > 0 &&
		    number(cells, sc->hi[i], &v[2 + sc->ncols + 2 * i]) > 0)
			ok |= 1u << (16 + i);
	}
	/* With -C, every prediction must be there, unless -a. */
	if (!sc->any && !sc->dflt && (ok & 0xffff) != (1u << sc->ncols) - 1) {
		run_tally.absorbed++;
		return 0;
	}
	sc->okm[sc->nrows] = ok;
	row_groups(sc, cells, dens, sc->gid + sc->nrows * MAXBY);
	sc->nrows++;
	return 0;
}

static int
by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The decile groups from the prices of the rows scored: cut at the 10th
 * ... 90th percentiles (gsl_stats_quantile_from_sorted_data); a price on
 * a cut is in the lower decile.  Group names say the range.
 */
static void
deciles(struct score *sc, int b, const char *use)
{
	double *p = emalloc((sc->nrows + 1) * sizeof(*p)), cut[NDECILE - 1];
	char name[64];
	size_t i, n = 0;
	int d;

	for (i = 0; i < sc->nrows; i++)
		if (use[i])
			p[n++] = sc->vals[i * (size_t)sc->stride];
	qsort(p, n, sizeof(*p), by_double);
	for (d = 0; d < NDECILE - 1; d++)
		cut[d] = n ? gsl_stats_quantile_from_sorted_data(p, 1, n,
		    (d + 1) / 10.0) : 0;
	for (d = 0; d < NDECILE; d++) {
		if (d == 0)
			snprintf(name, sizeof(name), "d1 <=%.0f", cut[0]);
		else if (d == NDECILE - 1)
			snprintf(name, sizeof(name), "d10 >%.0f", cut[d - 1]);
		else
			snprintf(name, sizeof(name), "d%d %.0f-%.0f", d + 1,
			    cut[d - 1], cut[d]);
		group(sc, b, name);
	}
	for (i = 0; i < sc->nrows; i++) {
		double x = sc->vals[i * (size_t)sc->stride];

		for (d = 0; d < NDECILE - 1 && x > cut[d]; d++)
			;
		/* The decile groups were made last, in order. */
		sc->gid[i * MAXBY + b] = (int32_t)(sc->ngroups - NDECILE) + d;
	}
	free(p);
}

/* Add prediction i of row k to group g. */
static void
count(struct score *sc, struct group *g, size_t k, int i)
{
	const double *v = sc->vals + k * (size_t)sc->stride;
	double price = v[0], lo, hi;

	add_err(&g->col[i], (v[1 + i] - price) / price);
	if (sc->okm[k] >> (16 + i) & 1) {
		lo = v[1 + sc->ncols + 2 * i];
		hi = v[2 + sc->ncols + 2 * i];
		g->col[i].with_interval++;
		g->col[i].inside += price >= lo && price <= hi;
	}
}

/*
 * Score the rows held.  With the default columns they are scored on the
 * rows that have all of those the stream fills at all: a column null on
 * every row (reference_value of simulated data) is shown with n 0 and
 * does not empty the table.  With -a each column on its own rows.
 */
static void
settle(struct score *sc)
{
	struct group *all = group(sc, -1, "all");
	unsigned seen = 0, want;
	char *use = ecalloc(sc->nrows + 1, 1);
	size_t k;
	int i, b;

	for (k = 0; k < sc->nrows; k++)
		seen |= sc->okm[k] & 0xffff;
	for (k = 0; k < sc->nrows; k++) {
		want = sc->any ? sc->okm[k] & 0xffff : sc->dflt ? seen :
		    (1u << sc->ncols) - 1;
		use[k] = want != 0 && (sc->okm[k] & want) == want;
		if (use[k])
			run_tally.written++;
		else
			run_tally.absorbed++;
	}
	for (b = 0; b < sc->nby; b++)
		if (sc->by[b] == BY_DECILE)
			deciles(sc, b, use);
	for (k = 0; k < sc->nrows; k++) {
		if (!use[k])
			continue;
		want = sc->any ? sc->okm[k] & 0xffff : sc->dflt ? seen :
		    (1u << sc->ncols) - 1;
		for (i = 0; i < sc->ncols; i++) {
			if (!(want >> i & 1))
				continue;
			count(sc, all, k, i);
			for (b = 0; b < sc->nby; b++)
				if (sc->gid[k * MAXBY + b] >= 0)
					count(sc, sc->order[sc->gid[k * MAXBY +
					    b]], k, i);
		}
	}
	free(use);
}

/* The figures of one group's errors, which it sorts; all 0 if it has none. */
static void
measure(struct errs *x, struct figures *f)
{
	double *a, mape = 0;
	size_t i, w5 = 0, w10 = 0;

	memset(f, 0, sizeof(*f));
	f->with_interval = x->with_interval;
	f->coverage = x->with_interval ? (double)x->inside /
	    x->with_interval : NAN;
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
print_header(struct score *sc, const char *title)
{
	if (sc->format == F_TABLE)
		printf("%-24s %-16s %7s %8s %8s %7s %7s %8s %7s\n", title,
		    "prediction", "n", "MdAPE", "MAPE", "±5%", "±10%", "bias",
		    "cover");
	else if (sc->format == F_CSV)
		printf("grouping,group,prediction,n,mdape,mape,within5,"
		    "within10,bias,coverage\n");
}

/* A number or, when there is none, null (JSON) or empty (CSV). */
static void
put_number(json_t *o, const char *key, int has, double x)
{
	json_object_set_new(o, key, has ? json_real(x) : json_null());
}

static void
print_row(struct score *sc, const char *grouping, const char *group,
    const char *col, const struct figures *f)
{
	char cover[16] = "-";
	json_t *o;
	char *line;

	if (sc->format == F_JSON) {
		o = json_object();
		json_object_set_new(o, "grouping", json_string(grouping));
		json_object_set_new(o, "group", json_string(group));
		json_object_set_new(o, "prediction", json_string(col));
		json_object_set_new(o, "n", json_integer((json_int_t)f->n));
		put_number(o, "mdape", f->n > 0, f->mdape);
		put_number(o, "mape", f->n > 0, f->mape);
		put_number(o, "within5", f->n > 0, f->within5);
		put_number(o, "within10", f->n > 0, f->within10);
		put_number(o, "bias", f->n > 0, f->bias);
		put_number(o, "coverage", f->with_interval > 0, f->coverage);
		line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(10));
		printf("%s\n", line);
		free(line);
		json_decref(o);
		return;
	}
	if (sc->format == F_CSV) {
		printf("%s,%s,%s,%zu", grouping, group, col, f->n);
		if (f->n > 0)
			printf(",%.10g,%.10g,%.10g,%.10g,%.10g", f->mdape,
			    f->mape, f->within5, f->within10, f->bias);
		else
			printf(",,,,,");
		if (f->with_interval > 0)
			printf(",%.10g\n", f->coverage);
		else
			printf(",\n");
		return;
	}
	if (f->with_interval > 0)
		snprintf(cover, sizeof(cover), "%.1f%%", 100 * f->coverage);
	if (f->n == 0) {
		printf("%-24s %-16s %7d %8s %8s %7s %7s %8s %7s\n", group, col,
		    0, "-", "-", "-", "-", "-", cover);
		return;
	}
	printf("%-24s %-16s %7zu %7.2f%% %7.2f%% %6.1f%% %6.1f%% %+7.2f%% "
	    "%7s\n", group, col, f->n, 100 * f->mdape, 100 * f->mape,
	    100 * f->within5, 100 * f->within10, 100 * f->bias, cover);
}

/*
 * Open path for -d and make the table, before any input is read, so that
 * a database that cannot be written stops the run at once.  A table made
 * before the coverage column gets it.
 */
static void
open_scores(struct score *sc, const char *path, char *const *files, int n)
{
	sqlite3_stmt *q;
	size_t len = 2;
	int i, has_coverage = 0;

	sc->db = db_open(path);
	db_exec(sc->db, "CREATE TABLE IF NOT EXISTS score(run INTEGER, "
	    "scored_at INTEGER, grouping TEXT, grp TEXT, col TEXT, "
	    "n INTEGER, mdape REAL, mape REAL, within5 REAL, within10 REAL, "
	    "bias REAL, input TEXT, coverage REAL)");
	q = db_prepare(sc->db, "SELECT name FROM pragma_table_info('score')");
	while (db_row(q))
		has_coverage |= strcmp((const char *)sqlite3_column_text(q, 0),
		    "coverage") == 0;
	sqlite3_finalize(q);
	if (!has_coverage)
		db_exec(sc->db, "ALTER TABLE score ADD COLUMN coverage REAL");
	sc->put = db_prepare(sc->db, "INSERT INTO score(run, scored_at, "
	    "grouping, grp, col, n, mdape, mape, within5, within10, bias, "
	    "input, coverage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
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
	if (!db_row(q))
		errx(1, "%s: no next run number",
		    sqlite3_db_filename(sc->db, "main"));
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
	if (f->with_interval > 0)
		sqlite3_bind_double(q, 13, f->coverage);
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

/* The rows of one group, printed and, with -d, saved. */
static void
report_group(struct score *sc, struct group *g)
{
	const char *grouping = g->by < 0 ? "all" : by_names[sc->by[g->by]];
	const char *grp = g->by < 0 ? "*" : g->name;
	struct figures f;
	int i;

	for (i = 0; i < sc->ncols; i++) {
		measure(&g->col[i], &f);
		print_row(sc, grouping, sc->format == F_TABLE ? g->name : grp,
		    sc->cols[i], &f);
		if (sc->db != NULL)
			save_row(sc, grouping, grp, sc->cols[i], &f);
	}
}

/*
 * Print the table and, with -d, put the same rows in the database: "all"
 * and the first grouping's groups under one header, then a block for each
 * further grouping (in a table, each under its own header).
 */
static void
report(struct score *sc)
{
	size_t g;
	int b;

	print_header(sc, sc->nby ? by_names[sc->by[0]] : "group");
	if (sc->db != NULL)
		begin_run(sc);
	for (b = -1; b < sc->nby; b++) {
		if (b > 0 && sc->format == F_TABLE)
			print_header(sc, by_names[sc->by[b]]);
		for (g = 0; g < sc->ngroups; g++)
			if (sc->order[g]->by == b)
				report_group(sc, sc->order[g]);
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
		{ "columns",	required_argument, NULL, 'C' },
		{ "db",		required_argument, NULL, 'd' },
		{ "on-error",	required_argument, NULL, 'e' },
		{ "format",	required_argument, NULL, 'f' },
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

	while ((c = getopt_long(argc, argv, "aC:d:e:f:g:hp:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			sc.any = 1;
			break;
		case 'C':
			list = optarg;
			break;
		case 'd':
			dbpath = optarg;
			break;
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0)
				sc.format = F_TABLE;
			else if (strcmp(optarg, "csv") == 0)
				sc.format = F_CSV;
			else if (strcmp(optarg, "json") == 0)
				sc.format = F_JSON;
			else {
				warnx("-f: %s: not table, csv or json", optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'g':
			if (parse_groupings(&sc, optarg) < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
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
	run_init();
	sc.groups = map_new();
	sc.models = map_new();
	if (dbpath != NULL)
		open_scores(&sc, dbpath, argv + optind, argc - optind);
	src = src_open(argv + optind, argc - optind, NULL);
	while ((rc = src_next(src, &r)) > 0) {
		if (!started) {
			start(&sc, src, price, list);
			group(&sc, -1, "all");
			started = 1;
		}
		if (score_record(&sc, r) < 0) {
			rc = -1;
			break;
		}
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
	map_free(sc.models, NULL);
	free(sc.order);
	free(sc.vals);
	free(sc.okm);
	free(sc.gid);
	for (i = 0; i < sc.ncols; i++)
		free(sc.cols[i]);
	schema_cleanup();
	status = reject_finish(verbose);
	return rc < 0 ? 1 : status;
}
