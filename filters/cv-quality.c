/*
 * cv-quality: a league table of data quality per source.  Reads record
 * streams (any schema, each file on its own) and the reject files the
 * filters wrote (-r, JSON lines with where, reason and input), and
 * writes per source (-b: a column such as source or seller, the input
 * file, or the topic partition): records read, rejected (with the most
 * common reason, numbers taken out), duplicates (a record identical to
 * one read before), late records (before the source's latest event time
 * so far), staleness (days from its last record to the latest of all),
 * missing fields (-m), and how far its prices sit from the model's
 * consensus (median signed and absolute % deviation of price from -C,
 * value by default); ranked, worst first, with red and black list flags
 * at the thresholds of -s key=value (-p prints them).  A table, CSV (-f)
 * or a sqlite table (-d), one run after another; -R the rejects of each
 * source by reason instead (table quality_reason with -d).
 *
 *	cv-quality -r out/rejects-auction-sales.json=auction \
 *	    out/auction-sales.avro out/valuation-camry.avro
 */
#include <ctype.h>
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <jansson.h>

#include "lib/config.h"
#include "lib/db.h"
#include "lib/evtime.h"
#include "lib/flat.h"
#include "lib/kafka.h"
#include "lib/map.h"
#include "lib/schema.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/view.h"

#define MAXFIELDS	16
#define MS_DAY		86400000.0

/* Thresholds (-s key=value; -p prints them). */
static double red_reject = 0.01, black_reject = 0.05;
static double red_missing = 0.10, black_missing = 0.30;
static double red_dup = 0.01, black_dup = 0.05;
static double red_late = 0.01, black_late = 0.05;
static double red_stale = 31, black_stale = 92;
static double red_bias = 0.05, black_bias = 0.15;

/* In pairs, red then black (check_settings()). */
static const struct setting settings[] = {
	{ "red.rejected", &red_reject, 0, 1, "share of a source's records "
	    "rejected above which it is on the red list", 0 },
	{ "black.rejected", &black_reject, 0, 1, "... on the black list", 0 },
	{ "red.missing", &red_missing, 0, 1, "share of the fields of -m "
	    "missing (null) above which red", 0 },
	{ "black.missing", &black_missing, 0, 1, "... black", 0 },
	{ "red.duplicates", &red_dup, 0, 1, "share of records identical to "
	    "one read before, above which red", 0 },
	{ "black.duplicates", &black_dup, 0, 1, "... black", 0 },
	{ "red.late", &red_late, 0, 1, "share of records before the "
	    "source's latest event time so far, above which red", 0 },
	{ "black.late", &black_late, 0, 1, "... black", 0 },
	{ "red.stale_days", &red_stale, 0, 1e6, "days from the source's last "
	    "record to the latest of all, above which red", 0 },
	{ "black.stale_days", &black_stale, 0, 1e6, "... black", 0 },
	{ "red.bias", &red_bias, 0, 100, "median signed deviation of its "
	    "prices from the consensus, in absolute value, above which red", 0 },
	{ "black.bias", &black_bias, 0, 100, "... black", 0 },
};

struct source {
	char		*name;
	int64_t		 read, rejected, dups, late, fields, missing;
	int64_t		 last;		/* latest event time; INT64_MIN */
	int64_t		 last_here;	/* the same in the current input */
	int		 input;		/* which input last_here is of */
	struct map	*reasons;	/* reason class: count */
	double		*dev;		/* (price - consensus) / consensus */
	size_t		 ndev, capdev;
	/* figures */
	double		 stale, mdev, mabsdev;
	int		 flag;		/* 0, 1 red, 2 black */
	char		 why[128];
	const char	*top;		/* most common reject reason */
	int64_t		 topn;
};

struct quality {
	const char	*by;		/* file, partition, or a column */
	const char	*consensus;	/* -C */
	char		*fields[MAXFIELDS];
	int		 nfields;
	int		 csv;
	int		 by_reason;	/* -R */
	struct map	*sources;
	struct source	**all;
	size_t		 nall;
	struct map	*seen;		/* record hashes */
	int64_t		 latest;
	int64_t		 now;		/* --now, else INT64_MIN: latest */
	int		 input;		/* the input being read, from 1 */
	sqlite3		*db;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-quality [-pRv] [-b by] [-C column] [-d file] "
	    "[-e on-error] [-f table|csv] [-m fields] [-N time] "
	    "[-r rejects[=source]] "
	    "[-s key=value] [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -b, --by B          the source: a column (source, the "
	    "default), file,\n"
	    "                      or partition (topic[partition])\n"
	    "  -C, --consensus C   the model's value to compare prices with "
	    "(value)\n"
	    "  -d, --db FILE       also append the table to table quality "
	    "in sqlite FILE\n"
	    "  -e, --on-error X    fail (default), skip, or a file for "
	    "rejects\n"
	    "  -f, --format F      table (default) or csv\n"
	    "  -m, --missing A,B   fields counted when null (trim,"
	    "mileage_km,condition)\n"
	    "  -N, --now TIME      staleness up to TIME (default: the "
	    "latest record)\n"
	    "  -p, --print-config  print the thresholds and exit\n"
	    "  -r, --rejects F[=S] a reject file; its records are source S "
	    "(default:\n"
	    "                      the file named in each one's where)\n"
	    "  -R, --reasons       the rejects of each source by reason "
	    "instead\n"
	    "  -s, --set K=V       one threshold\n"
	    "  -v, --verbose       counts on stderr\n"
	    "  -h, --help          this help\n");
	kafka_help(stdout);
}

static struct source *
source(struct quality *q, const char *name)
{
	struct source *s = map_get(q->sources, name);

	if (s == NULL) {
		s = ecalloc(1, sizeof(*s));
		s->name = estrdup(name);
		s->last = INT64_MIN;
		s->reasons = map_new();
		map_put(q->sources, name, s);
		q->all = erealloc(q->all, (q->nall + 1) * sizeof(*q->all));
		q->all[q->nall++] = s;
	}
	return s;
}

/*
 * A reject reason with its particulars taken out, so that reasons of a
 * kind count together: runs of digits become N, quoted text "...".
 */
static char *
reason_class(const char *r)
{
	struct buf b = { 0 };

	for (; *r; r++) {
		if (*r >= '0' && *r <= '9' && (b.len == 0 ||
		    !isalpha((unsigned char)b.p[b.len - 1]))) {
			buf_addc(&b, 'N');
			while (r[1] >= '0' && r[1] <= '9')
				r++;
		} else if (*r == '"') {
			buf_add(&b, "\"...\"", 5);
			while (r[1] && r[1] != '"')
				r++;
			if (r[1])
				r++;
		} else
			buf_addc(&b, *r);
	}
	buf_addc(&b, '\0');
	return b.p;
}

/* -r FILE[=SOURCE]: count its rejects; 0, or -1 if it cannot be read
 * or has a line that is no reject and the policy says stop. */
static int
read_rejects(struct quality *q, const char *arg)
{
	char *path = estrdup(arg), *eq = strrchr(path, '='), *line = NULL;
	char *cls, *name;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	FILE *fp;
	json_t *j, *w, *r;
	json_error_t je;
	struct source *s;
	intptr_t c;
	int rc = 0;

	if (eq != NULL)
		*eq++ = '\0';
	if ((fp = fopen(path, "r")) == NULL) {
		warn("%s", path);
		free(path);
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		lineno++;
		j = json_loadb(line, (size_t)n, 0, &je);
		w = json_object_get(j, "where");
		r = json_object_get(j, "reason");
		if (!json_is_string(w) || !json_is_string(r)) {
			/* Not a reject: the file is damaged, not the data. */
			json_decref(j);
			if (reject(path, 0, line, (size_t)n, NULL, "line %ld: "
			    "not a reject (JSON with where and reason): %s",
			    lineno, j ? "no where or reason" : je.text) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		name = eq ? estrdup(eq) : estrdup(json_string_value(w));
		/* file:line, or topic[partition]@offset */
		if (!eq && strrchr(name, '@'))
			*strrchr(name, '@') = '\0';
		else if (!eq && strrchr(name, ':'))
			*strrchr(name, ':') = '\0';
		s = source(q, name);
		s->rejected++;
		cls = reason_class(json_string_value(r));
		c = (intptr_t)map_get(s->reasons, cls);
		map_put(s->reasons, cls, (void *)(c + 1));
		free(cls);
		free(name);
		json_decref(j);
	}
	if (ferror(fp)) {
		warn("%s", path);
		rc = -1;
	}
	fclose(fp);
	free(line);
	free(path);
	return rc;
}

/* A column by name, or as the only field of that name in a branch. */
static int
column(struct flat *f, const char *name)
{
	size_t i, n = strlen(name), len;
	const char *c;
	int found;

	if ((found = flat_column(f, name)) >= 0)
		return found;
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

/* The branch a column belongs to ("VehicleObs"), or NULL. */
static char *
branch_of(struct flat *f, int k)
{
	const char *c = flat_colname(f, (size_t)k), *dot = strchr(c, '.');

	return dot ? estrndup(c, (size_t)(dot - c)) : NULL;
}

/* One input's columns. */
struct plan {
	struct flat	*flat;
	struct evtime	*evt;
	int		 by[8], nby, type, price, cons, field[MAXFIELDS];
	char		*bybranch[8];
	char		*fbranch[MAXFIELDS];
};

static void
plan_free(struct plan *p)
{
	int i;

	flat_free(p->flat);
	evtime_free(p->evt);
	for (i = 0; i < MAXFIELDS; i++)
		free(p->fbranch[i]);
	for (i = 0; i < p->nby; i++)
		free(p->bybranch[i]);
	memset(p, 0, sizeof(*p));
}

static void
plan_for(struct quality *q, struct plan *p, struct src *src,
    const char *where)
{
	const char *why;
	int i;

	if ((p->flat = flat_new(src_schema_text(src), &why)) == NULL)
		errx(1, "%s: writer schema: %s", where, why);
	p->evt = evtime_new(src_schema(src));
	p->nby = 0;
	if (strcmp(q->by, "file") && strcmp(q->by, "partition")) {
		/* In a union each branch may have its own (source). */
		size_t k, n = strlen(q->by), len;
		const char *c;

		for (k = 0; k < flat_ncols(p->flat) && p->nby < 8; k++) {
			c = flat_colname(p->flat, k);
			len = strlen(c);
			if (strcmp(c, q->by) == 0 || (len > n &&
			    c[len - n - 1] == '.' && strcmp(c + len - n,
			    q->by) == 0)) {
				p->by[p->nby] = (int)k;
				p->bybranch[p->nby++] = branch_of(p->flat,
				    (int)k);
			}
		}
		if (p->nby == 0)
			errx(1, "%s: -b: no column %s", where, q->by);
	}
	p->type = flat_column(p->flat, "type");
	p->price = column(p->flat, "price");
	p->cons = column(p->flat, q->consensus);
	for (i = 0; i < q->nfields; i++) {
		p->field[i] = column(p->flat, q->fields[i]);
		p->fbranch[i] = p->field[i] >= 0 ? branch_of(p->flat,
		    p->field[i]) : NULL;
	}
}

static uint64_t
fnv(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 0x100000001b3ULL;
	return h;
}

/* One record of an input. */
static void
take(struct quality *q, struct plan *p, struct rec *r)
{
	char *const *cells = flat_row(p->flat, r->value);
	char name[300], hash[24];
	const char *type = p->type >= 0 ? cells[p->type] : NULL;
	struct source *s;
	struct view v;
	int64_t t = INT64_MIN;
	double price, cons;
	int i;

	for (i = 0; i < p->nby; i++)
		if (p->nby == 1 || (type && p->bybranch[i] &&
		    strcmp(type, p->bybranch[i]) == 0))
			break;
	if (p->nby > 0 && i < p->nby)
		snprintf(name, sizeof(name), "%s", cells[p->by[i]] ?
		    cells[p->by[i]] : "(none)");
	else if (p->nby > 0)
		snprintf(name, sizeof(name), "(none)");
	else if (strcmp(q->by, "partition") == 0 && r->partition >= 0)
		snprintf(name, sizeof(name), "%s[%d]", r->origin,
		    (int)r->partition);
	else
		snprintf(name, sizeof(name), "%s", r->origin);
	s = source(q, name);
	s->read++;
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)fnv(r->raw,
	    r->rawlen));
	if (map_get(q->seen, hash) != NULL)
		s->dups++;
	else
		map_put(q->seen, hash, (void *)1);
	if (p->evt != NULL && view_of_rec(&v, r) == 0)
		t = evtime_of(p->evt, &v);
	if (t != INT64_MIN) {
		/* Late within its own input: inputs may overlap in time. */
		if (s->input != q->input) {
			s->input = q->input;
			s->last_here = INT64_MIN;
		}
		if (t < s->last_here)
			s->late++;
		else
			s->last_here = t;
		if (t > s->last)
			s->last = t;
		if (t > q->latest)
			q->latest = t;
	}
	for (i = 0; i < q->nfields; i++) {
		/* A field of another branch is not this record's to miss. */
		if (p->field[i] < 0 || (p->fbranch[i] && (type == NULL ||
		    strcmp(type, p->fbranch[i]))))
			continue;
		s->fields++;
		s->missing += cells[p->field[i]] == NULL;
	}
	if (p->price >= 0 && p->cons >= 0 && cells[p->price] &&
	    cells[p->cons] && parse_double(cells[p->price], &price) == 0 &&
	    parse_double(cells[p->cons], &cons) == 0 && cons > 0) {
		if (s->ndev == s->capdev) {
			s->capdev = s->capdev ? 2 * s->capdev : 256;
			s->dev = erealloc(s->dev, s->capdev * sizeof(*s->dev));
		}
		s->dev[s->ndev++] = (price - cons) / cons;
	}
	run_tally.written++;
}

static void
flag(struct source *s, double x, double red, double black,
    const char *what)
{
	int f = x > black ? 2 : x > red ? 1 : 0;
	size_t n = strlen(s->why);

	if (f == 0)
		return;
	snprintf(s->why + n, sizeof(s->why) - n, "%s%s%s", n ? "," : "",
	    what, f == 2 ? "!" : "");
	if (f > s->flag)
		s->flag = f;
}

/* The figures and flags of every source. */
static void
measure(struct quality *q)
{
	const char *key;
	void *val;
	size_t it, i;
	double n, *a;

	for (i = 0; i < q->nall; i++) {
		struct source *s = q->all[i];

		n = (double)(s->read + s->rejected);
		s->stale = s->last == INT64_MIN ? NAN : ((q->now != INT64_MIN ?
		    q->now : q->latest) - s->last) / MS_DAY;
		s->mdev = s->mabsdev = NAN;
		if (s->ndev > 0) {
			gsl_sort(s->dev, 1, s->ndev);
			s->mdev = gsl_stats_median_from_sorted_data(s->dev, 1,
			    s->ndev);
			a = emalloc(s->ndev * sizeof(*a));
			for (it = 0; it < s->ndev; it++)
				a[it] = fabs(s->dev[it]);
			gsl_sort(a, 1, s->ndev);
			s->mabsdev = gsl_stats_median_from_sorted_data(a, 1,
			    s->ndev);
			free(a);
		}
		for (it = 0; map_next(s->reasons, &it, &key, &val); )
			if ((intptr_t)val > s->topn || ((intptr_t)val ==
			    s->topn && strcmp(key, s->top) < 0)) {
				s->topn = (intptr_t)val;
				s->top = key;
			}
		flag(s, s->rejected / n, red_reject, black_reject, "rejected");
		if (s->fields > 0)
			flag(s, (double)s->missing / s->fields, red_missing,
			    black_missing, "missing");
		if (s->read > 0) {
			flag(s, (double)s->dups / s->read, red_dup, black_dup,
			    "duplicates");
			flag(s, (double)s->late / s->read, red_late,
			    black_late, "late");
		}
		if (!isnan(s->stale))
			flag(s, s->stale, red_stale, black_stale, "stale");
		if (!isnan(s->mdev))
			flag(s, fabs(s->mdev), red_bias, black_bias, "bias");
	}
}

/* Worst first: the flag, then the share rejected, then the name. */
static int
by_rank(const void *a, const void *b)
{
	const struct source *x = *(struct source *const *)a;
	const struct source *y = *(struct source *const *)b;
	double rx = (double)x->rejected / (x->read + x->rejected);
	double ry = (double)y->rejected / (y->read + y->rejected);

	if (x->flag != y->flag)
		return y->flag - x->flag;
	if (rx != ry)
		return rx < ry ? 1 : -1;
	return strcmp(x->name, y->name);
}

static const char *flag_names[3] = { "-", "RED", "BLACK" };

/* A number for the table: "-" when there is none. */
static const char *
pct(double x, char *buf, size_t len)
{
	if (isnan(x))
		return "-";
	snprintf(buf, len, "%.2f%%", 100 * x);
	return buf;
}

/* A CSV cell: quoted when it holds a comma, a quote or a newline. */
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

/* A source's reject reasons, the commonest first (then by name). */
struct reason {
	const char	*text;
	int64_t		 n;
};

static int
by_count(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->text, y->text);
}

static struct reason *
reasons_of(const struct source *s, size_t *n)
{
	struct reason *r = NULL;
	const char *key;
	void *val;
	size_t it;

	*n = 0;
	for (it = 0; map_next(s->reasons, &it, &key, &val); ) {
		r = erealloc(r, (*n + 1) * sizeof(*r));
		r[*n].text = key;
		r[(*n)++].n = (intptr_t)val;
	}
	if (*n > 1)
		qsort(r, *n, sizeof(*r), by_count);
	return r;
}

/* The width of the source column: the longest name, 24 at least. */
static int
name_width(const struct quality *q)
{
	size_t i, w = 24;

	for (i = 0; i < q->nall; i++)
		if (strlen(q->all[i]->name) > w)
			w = strlen(q->all[i]->name);
	return (int)w;
}

/* -R: one row per source and reason, in the league table's order. */
static void
report_reasons(struct quality *q)
{
	struct reason *r;
	size_t i, j, n;
	int w = name_width(q);

	if (q->csv)
		printf("rank,source,rejected,share,reason\n");
	else
		printf("%4s %-*s %8s %6s %s\n", "rank", w, "source", "rejected",
		    "share", "reason");
	for (i = 0; i < q->nall; i++) {
		const struct source *s = q->all[i];

		r = reasons_of(s, &n);
		for (j = 0; j < n; j++) {
			double share = (double)r[j].n / s->rejected;

			if (q->csv) {
				printf("%zu,", i + 1);
				put_csv(s->name);
				printf(",%lld,%.6f,", (long long)r[j].n, share);
				put_csv(r[j].text);
				putchar('\n');
			} else
				printf("%4zu %-*s %8lld %5.1f%% %s\n", i + 1,
				    w, s->name, (long long)r[j].n, 100 * share,
				    r[j].text);
		}
		free(r);
	}
}

static void
report(struct quality *q)
{
	char a[5][32];
	size_t i;
	int w = name_width(q);

	qsort(q->all, q->nall, sizeof(*q->all), by_rank);
	if (q->by_reason) {
		report_reasons(q);
		return;
	}
	if (q->csv)
		printf("rank,source,flag,why,read,rejected,top_reason,"
		    "duplicates,late,stale_days,missing,median_dev,"
		    "median_abs_dev,priced\n");
	else
		printf("%4s %-*s %-5s %-22s %8s %8s %6s %6s %8s %8s %9s %9s "
		    "%s\n", "rank", w, "source", "flag", "why", "read",
		    "rejected", "dups", "late", "stale", "missing", "bias",
		    "|dev|", "top reject reason");
	for (i = 0; i < q->nall; i++) {
		const struct source *s = q->all[i];
		double miss = s->fields ? (double)s->missing / s->fields : NAN;
		double n = (double)(s->read + s->rejected);

		if (q->csv) {
			printf("%zu,", i + 1);
			put_csv(s->name);
			printf(",%s,", flag_names[s->flag]);
			put_csv(s->why);
			printf(",%lld,%lld,", (long long)s->read,
			    (long long)s->rejected);
			if (s->top != NULL)
				put_csv(s->top);
			printf(",%lld,%lld,", (long long)s->dups,
			    (long long)s->late);
			if (!isnan(s->stale))
				printf("%.3f", s->stale);
			printf(",");
			if (!isnan(miss))
				printf("%.6f", miss);
			printf(",");
			if (!isnan(s->mdev))
				printf("%.6f,%.6f", s->mdev, s->mabsdev);
			else
				printf(",");
			printf(",%zu\n", s->ndev);
			continue;
		}
		snprintf(a[0], sizeof(a[0]), "%.1f%%", 100 * s->rejected / n);
		if (!isnan(s->stale))
			snprintf(a[1], sizeof(a[1]), "%.0fd", s->stale);
		printf("%4zu %-*s %-5s %-22s %8lld %8s %6lld %6lld %8s %8s "
		    "%9s %9s %s\n", i + 1, w, s->name, flag_names[s->flag],
		    *s->why ? s->why : "-", (long long)s->read, a[0],
		    (long long)s->dups, (long long)s->late,
		    isnan(s->stale) ? "-" : a[1], pct(miss, a[2],
		    sizeof(a[2])), pct(s->mdev, a[3], sizeof(a[3])),
		    pct(s->mabsdev, a[4], sizeof(a[4])), s->top ? s->top :
		    "-");
	}
}

/* -d: each source's rejects by reason, in table quality_reason. */
static void
save_reasons(struct quality *q, sqlite3_int64 run)
{
	sqlite3_stmt *st;
	struct reason *r;
	size_t i, j, n;

	db_exec(q->db, "CREATE TABLE IF NOT EXISTS quality_reason(run "
	    "INTEGER, source TEXT, reason TEXT, rejected INTEGER)");
	st = db_prepare(q->db, "INSERT INTO quality_reason VALUES (?, ?, ?, "
	    "?)");
	for (i = 0; i < q->nall; i++) {
		r = reasons_of(q->all[i], &n);
		for (j = 0; j < n; j++) {
			sqlite3_bind_int64(st, 1, run);
			sqlite3_bind_text(st, 2, q->all[i]->name, -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 3, r[j].text, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, r[j].n);
			db_step_done(q->db, st);
		}
		free(r);
	}
	sqlite3_finalize(st);
}

/* -d: the table as rows of table quality, one numbered run. */
static void
save_table(struct quality *q, const char *path)
{
	sqlite3_stmt *st;
	sqlite3_int64 run;
	time_t now = time(NULL);
	size_t i;

	q->db = db_open(path);
	db_exec(q->db, "CREATE TABLE IF NOT EXISTS quality(run INTEGER, "
	    "made_at INTEGER, rank INTEGER, source TEXT, flag TEXT, why TEXT, "
	    "read INTEGER, rejected INTEGER, top_reason TEXT, "
	    "duplicates INTEGER, late INTEGER, stale_days REAL, "
	    "missing REAL, median_dev REAL, median_abs_dev REAL, "
	    "priced INTEGER)");
	db_exec(q->db, "BEGIN IMMEDIATE");
	st = db_prepare(q->db, "SELECT coalesce(max(run), 0) + 1 FROM "
	    "quality");
	if (sqlite3_step(st) != SQLITE_ROW)
		errx(1, "%s: %s", path, sqlite3_errmsg(q->db));
	run = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = db_prepare(q->db, "INSERT INTO quality VALUES (?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	for (i = 0; i < q->nall; i++) {
		const struct source *s = q->all[i];

		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)i + 1);
		sqlite3_bind_text(st, 4, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, flag_names[s->flag], -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 6, s->why, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, s->read);
		sqlite3_bind_int64(st, 8, s->rejected);
		if (s->top)
			sqlite3_bind_text(st, 9, s->top, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 10, s->dups);
		sqlite3_bind_int64(st, 11, s->late);
		if (!isnan(s->stale))
			sqlite3_bind_double(st, 12, s->stale);
		if (s->fields)
			sqlite3_bind_double(st, 13, (double)s->missing /
			    s->fields);
		if (!isnan(s->mdev)) {
			sqlite3_bind_double(st, 14, s->mdev);
			sqlite3_bind_double(st, 15, s->mabsdev);
		}
		sqlite3_bind_int64(st, 16, (sqlite3_int64)s->ndev);
		db_step_done(q->db, st);
	}
	sqlite3_finalize(st);
	save_reasons(q, run);
	db_exec(q->db, "COMMIT");
	db_close(q->db);
}

static void
free_source(void *p)
{
	struct source *s = p;

	map_free(s->reasons, NULL);
	free(s->dev);
	free(s->name);
	free(s);
}

/* Read one input (a file, standard input or the topics): 0, or -1. */
static int
read_input(struct quality *q, char *const *paths, int n)
{
	struct src *src = src_open(paths, n, NULL);

	q->input++;
	struct plan p = { 0 };
	struct rec *r;
	int rc, started = 0;

	while ((rc = src_next(src, &r)) > 0) {
		if (!started) {
			plan_for(q, &p, src, n ? paths[0] : "-");
			started = 1;
		}
		take(q, &p, r);
		src_ack(src, r);
	}
	plan_free(&p);
	src_close(src);
	return rc < 0 ? -1 : 0;
}

/*
 * A red threshold above its black one would put a source on the black
 * list before the red: exit 2, led by the one that was set (the other
 * may be the default), naming where each was set.
 */
static void
check_settings(void)
{
	const struct setting *red, *black;
	size_t i;

	for (i = 0; i + 1 < NELEM(settings); i += 2) {
		red = &settings[i];
		black = &settings[i + 1];
		if (*red->val <= *black->val)
			continue;
		if (strcmp(config_where(red->val), "the default") == 0)
			errx(2, "%s: %s %g is below %s %g (%s)",
			    config_where(black->val), black->key, *black->val,
			    red->key, *red->val, config_where(red->val));
		errx(2, "%s: %s %g is above %s %g (%s)",
		    config_where(red->val), red->key, *red->val, black->key,
		    *black->val, config_where(black->val));
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "by",		  required_argument, NULL, 'b' },
		{ "consensus",	  required_argument, NULL, 'C' },
		{ "db",		  required_argument, NULL, 'd' },
		{ "on-error",	  required_argument, NULL, 'e' },
		{ "format",	  required_argument, NULL, 'f' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ "missing",	  required_argument, NULL, 'm' },
		{ "now",	  required_argument, NULL, 'N' },
		{ "print-config", no_argument,	     NULL, 'p' },
		{ "reasons",	  no_argument,	     NULL, 'R' },
		{ "rejects",	  required_argument, NULL, 'r' },
		{ "set",	  required_argument, NULL, 's' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct quality q = { .by = "source", .consensus = "value",
	    .latest = INT64_MIN, .now = INT64_MIN };
	const char *why;
	const char *dbpath = NULL, *fields = "trim,mileage_km,condition";
	char **rejects = NULL, *copy, *f, *save = NULL;
	int c, i, nrej = 0, rc = 0, verbose = 0, print = 0, status;

	while ((c = getopt_long(argc, argv, "b:C:d:e:f:hm:N:pRr:s:v"
	    KAFKA_OPTSTRING, longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			q.by = optarg;
			break;
		case 'C':
			q.consensus = optarg;
			break;
		case 'd':
			dbpath = optarg;
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
			q.csv = strcmp(optarg, "csv") == 0;
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'm':
			fields = optarg;
			break;
		case 'N':
			if (time_parse(optarg, NULL, &q.now, &why) < 0) {
				warnx("-N: %s: %s", optarg, why);
				usage(stderr);
				return 2;
			}
			break;
		case 'p':
			print = 1;
			break;
		case 'R':
			q.by_reason = 1;
			break;
		case 'r':
			rejects = erealloc(rejects, (size_t)(nrej + 1) *
			    sizeof(*rejects));
			rejects[nrej++] = optarg;
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
		free(rejects);
		return fshut(stdout, "stdout");
	}
	copy = estrdup(fields);
	for (f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",",
	    &save)) {
		if (q.nfields == MAXFIELDS)
			errx(2, "-m: at most %d fields", MAXFIELDS);
		q.fields[q.nfields++] = estrdup(f);
	}
	free(copy);
	run_init();
	q.sources = map_new();
	q.seen = map_new();
	for (i = 0; i < nrej; i++)
		if (read_rejects(&q, rejects[i]) < 0)
			rc = -1;
	if (kafka_input() || optind == argc)
		rc |= read_input(&q, argv + optind, argc - optind);
	else
		for (i = optind; i < argc && rc == 0 && !run_stop; i++)
			rc |= read_input(&q, argv + i, 1);
	measure(&q);
	report(&q);
	fshut(stdout, "stdout");
	if (dbpath != NULL)
		save_table(&q, dbpath);
	if (verbose)
		warnx("%zu sources", q.nall);
	map_free(q.sources, free_source);
	map_free(q.seen, NULL);
	free(q.all);
	free(rejects);
	for (i = 0; i < q.nfields; i++)
		free(q.fields[i]);
	schema_cleanup();
	status = reject_finish(verbose);
	return rc < 0 ? 1 : status;
}
