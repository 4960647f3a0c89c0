/*
 * cv-ingest: turn CSV or JSON-lines files of market data into an Event
 * stream.  A mapping (a file under pipelines/maps, -m and -s) says which
 * column feeds which field of IndexObs or VehicleObs; values are checked,
 * converted (dates to UTC, miles to km, condition grades to 0..1) and
 * every row that cannot be used is rejected with its file:line and reason.
 *
 *	cv-ingest -M pipelines/maps/auction.map sales.csv | cv-cat -f table
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/csv.h"
#include "lib/kafka.h"
#include "lib/kinds.h"
#include "lib/schema.h"
#include "lib/segkey.h"
#include "lib/stream.h"
#include "lib/timeparse.h"
#include "lib/valid.h"
#include "lib/view.h"

#define MS_PER_DAY	86400000LL
#define KM_PER_MILE	1.609344
#define MAX_FIELDS	32	/* of a type, see vehicle_defs */

enum kind {
	K_TEXT,		/* trimmed text */
	K_ID,		/* text, lower case */
	K_ATTR,		/* optional text, lower case, may have kinds */
	K_SEGMENT,	/* normalised key; derived when not mapped */
	K_TIME,		/* timestamp-millis */
	K_DATE,		/* days */
	K_YEAR,		/* model year */
	K_DIST,		/* distance, km */
	K_COND,		/* condition 0..1 */
	K_MONEY,	/* > 0 */
	K_BALANCE,	/* >= 0 */
	K_LEVEL,	/* index value > 0 */
	K_AMOUNT,	/* volume, supply or standard error >= 0 */
	K_COUNT		/* whole number >= 0 */
};

struct fdef {
	const char	*name;
	enum kind	 kind;
	int		 required;
	const char	*dflt;		/* when neither mapped nor given */
};

/* Positions in vehicle_defs and index_defs, for checks across fields. */
enum {
	V_ID, V_LOAN, V_SOURCE, V_MAKE, V_MODEL, V_TRIM, V_SEGMENT, V_REGION,
	V_OBSERVED, V_YEAR, V_MILEAGE, V_CONDITION, V_PRICE, V_REFERENCE,
	V_BALANCE, V_CURRENCY, V_BODY, V_TRANSMISSION, V_SELLER,
	V_SELLER_KIND, V_COLOUR, V_INTERIOR
};
enum { I_SOURCE, I_SEGMENT, I_REGION, I_PERIOD, I_PUBLISHED, I_VALUE,
	I_VOLUME, I_SUPPLY };

static const struct fdef vehicle_defs[] = {
	{ "vehicle_id", K_ID, 1, NULL },
	{ "loan_id", K_TEXT, 0, NULL },
	{ "source", K_TEXT, 0, "" },
	{ "make", K_TEXT, 1, NULL },
	{ "model", K_TEXT, 1, NULL },
	{ "trim", K_TEXT, 0, NULL },
	{ "segment", K_SEGMENT, 0, NULL },
	{ "region", K_ID, 0, "*" },
	{ "observed_at", K_TIME, 1, NULL },
	{ "model_year", K_YEAR, 1, NULL },
	{ "mileage_km", K_DIST, 0, NULL },
	{ "condition", K_COND, 0, NULL },
	{ "price", K_MONEY, 0, NULL },
	{ "reference_value", K_MONEY, 0, NULL },
	{ "loan_balance", K_BALANCE, 0, NULL },
	{ "currency", K_TEXT, 0, "USD" },
	{ "body", K_ATTR, 0, NULL },
	{ "transmission", K_ATTR, 0, NULL },
	{ "seller", K_ATTR, 0, NULL },
	{ "seller_kind", K_ATTR, 0, NULL },
	{ "colour", K_ATTR, 0, NULL },
	{ "interior", K_ATTR, 0, NULL },
};

static const struct fdef index_defs[] = {
	{ "source", K_TEXT, 1, NULL },
	{ "segment", K_TEXT, 0, "*" },
	{ "region", K_ID, 0, "*" },
	{ "period", K_DATE, 1, NULL },
	{ "published_at", K_TIME, 0, NULL },
	{ "value", K_LEVEL, 0, NULL },
	{ "volume", K_AMOUNT, 0, NULL },
	{ "days_supply", K_AMOUNT, 0, NULL },
	{ "value_se", K_AMOUNT, 0, NULL },
	{ "value_n", K_COUNT, 0, NULL },
};

enum scale { SCALE_01, SCALE_15, SCALE_AUCTION };

/* How one output field is filled. */
struct fmap {
	char		*column;	/* "NAME", "A|B" or "$N"; NULL if none */
	char		*constant;	/* %f file name, %l line */
	char		*format;	/* strptime pattern */
	char		*missing;	/* comma-separated markers of no value */
	int		 miles;
	enum scale	 scale;
	struct kinds	*kinds;		/* words naming a kind, or NULL */
	int		 col;		/* resolved per file; -1 none */
	int		 avro_index;
};

struct ingest {
	int		 is_vehicle;
	const struct fdef *defs;
	size_t		 ndefs;
	struct fmap	 map[MAX_FIELDS];
	long		 lag_days;
	int		 json;
	int		 sort;
	/* output */
	avro_value_iface_t *iface;
	avro_value_t	 event, branch;
	struct sink	*sink;
	/* held records when sorting */
	struct buf	 held;
	struct held	*keys;
	size_t		 nkeys, capkeys;
	avro_writer_t	 mw;
	/* current row */
	const char	*file;
	long		 line;
	char		**cells;
	int		 ncells;
	char		**header;
	int		 nheader;
	struct buf	 scratch;
	const char	*raw;
	size_t		 rawlen;
	int		 stop;		/* --on-error fail was hit */
	char		*map_dir;	/* of the map being read, for kinds */
};

struct held {
	int64_t	 t;
	size_t	 seq, off, len;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: cv-ingest [-Sv] [-e on-error] [-f csv|json] "
	    "[-M mapfile] [-m field=column] [-o file] [-s field=value] "
	    "[file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("  -e, --on-error X     fail (default), skip, or a file for "
	    "rejected rows\n"
	    "  -f, --input-format F csv (default) or json (one object a "
	    "line)\n"
	    "  -M, --map FILE       mapping file (pipelines/maps/*.map)\n"
	    "  -m, --map-field F=C  fill field F from column C (name, A|B, "
	    "A| if any, or $N)\n"
	    "  -o, --output FILE    write there instead of stdout\n"
	    "  -S, --sort           emit in event time (several inputs "
	    "always are)\n"
	    "  -s, --set F=VALUE    fill field F with a constant (%%f file, "
	    "%%l line)\n"
	    "  -v, --verbose        counts and rate on stderr\n"
	    "  -h, --help           this help\n");
	kafka_help(stdout);
}

static int
def_index(struct ingest *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->ndefs; i++)
		if (strcmp(g->defs[i].name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * Settings are held by position in the type's field list, so they
 * cannot carry over to another type: a type after fields is an error.
 */
static void
set_type(struct ingest *g, const char *type, const char *where)
{
	const struct fmap *m;
	int vehicle;
	size_t i;

	if (strcmp(type, "vehicle") == 0)
		vehicle = 1;
	else if (strcmp(type, "index") == 0)
		vehicle = 0;
	else {
		warnx("%s: type: %s: not vehicle or index", where, type);
		exit(2);
	}
	for (i = 0; g->defs != NULL && vehicle != g->is_vehicle &&
	    i < g->ndefs; i++) {
		m = &g->map[i];
		if (m->column || m->constant || m->format || m->missing ||
		    m->miles || m->scale != SCALE_01) {
			warnx("%s: type=%s after a %s field: give the type "
			    "first", where, type, g->defs[i].name);
			exit(2);
		}
	}
	g->is_vehicle = vehicle;
	g->defs = vehicle ? vehicle_defs : index_defs;
	g->ndefs = vehicle ? NELEM(vehicle_defs) : NELEM(index_defs);
}

static void
replace(char **slot, const char *v)
{
	free(*slot);
	*slot = estrdup(v);
}

/*
 * One mapping setting: "field=column", "field:=constant" or
 * "field.attr=value"; where names it in messages.  Exits 2 when wrong.
 */
static void
map_setting(struct ingest *g, const char *s, const char *where)
{
	const char *eq = strchr(s, '='), *dot, *why;
	char *key;
	struct fmap *m;
	int constant, i;
	long long n;

	if (eq == NULL || eq == s) {
		warnx("%s: %s: not field=value", where, s);
		exit(2);
	}
	constant = eq[-1] == ':';
	key = estrndup(s, (size_t)(eq - s - constant));
	if (strcmp(key, "type") == 0) {
		set_type(g, eq + 1, where);
		free(key);
		return;
	}
	if (strcmp(key, "published_lag_days") == 0) {
		if (parse_long(eq + 1, &n) < 0 || n < 0 || n > 3660) {
			warnx("%s: published_lag_days: not a number of days: "
			    "%s", where, eq + 1);
			exit(2);
		}
		g->lag_days = (long)n;
		free(key);
		return;
	}
	dot = strchr(key, '.');
	if (dot != NULL)
		key[dot - key] = '\0';
	if ((i = def_index(g, key)) < 0) {
		warnx("%s: %s: no such field in %s", where, key,
		    g->is_vehicle ? "VehicleObs" : "IndexObs");
		exit(2);
	}
	m = &g->map[i];
	if (dot == NULL && constant) {
		replace(&m->constant, eq + 1);
		free(m->column);
		m->column = NULL;
	} else if (dot == NULL) {
		replace(&m->column, eq + 1);
		free(m->constant);
		m->constant = NULL;
	} else if (strcmp(dot + 1, "format") == 0) {
		if (time_format_check(eq + 1, &why) < 0) {
			warnx("%s: %s: %s", where, s, why);
			exit(2);
		}
		replace(&m->format, eq + 1);
	}
	else if (strcmp(dot + 1, "missing") == 0)
		replace(&m->missing, eq + 1);
	else if (strcmp(dot + 1, "kinds") == 0 &&
	    g->defs[i].kind == K_ATTR) {
		kinds_free(m->kinds);
		m->kinds = kinds_load(eq + 1, g->map_dir, where);
	}
	else if (strcmp(dot + 1, "unit") == 0 && (strcmp(eq + 1, "mi") == 0 ||
	    strcmp(eq + 1, "km") == 0))
		m->miles = eq[1] == 'm';
	else if (strcmp(dot + 1, "scale") == 0 && strcmp(eq + 1, "0-1") == 0)
		m->scale = SCALE_01;
	else if (strcmp(dot + 1, "scale") == 0 && strcmp(eq + 1, "1-5") == 0)
		m->scale = SCALE_15;
	else if (strcmp(dot + 1, "scale") == 0 &&
	    strcmp(eq + 1, "auction") == 0)
		m->scale = SCALE_AUCTION;
	else {
		warnx("%s: %s: unknown attribute or value (format, missing, "
		    "unit=mi|km, scale=0-1|1-5|auction, kinds)", where, s);
		exit(2);
	}
	free(key);
}

static void
load_map(struct ingest *g, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, *s, *e, *where;
	size_t cap = 0;
	ssize_t len;
	long no = 0;

	if (fp == NULL)
		err(2, "%s", path);
	free(g->map_dir);
	g->map_dir = estrdup(path);
	if ((s = strrchr(g->map_dir, '/')) != NULL)
		*s = '\0';
	else
		replace(&g->map_dir, ".");
	while ((len = getline(&line, &cap, fp)) > 0) {
		no++;
		/* Else the line would end at the NUL, unseen. */
		if (memchr(line, '\0', (size_t)len) != NULL)
			errx(2, "%s:%ld: a NUL byte: not a text file", path,
			    no);
		for (s = line; isspace((unsigned char)*s); s++)
			;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		where = easprintf("%s:%ld", path, no);
		map_setting(g, s, where);
		free(where);
	}
	if (ferror(fp))
		err(2, "%s", path);
	free(line);
	fclose(fp);
	/* -m and -s name files from the working directory. */
	free(g->map_dir);
	g->map_dir = NULL;
}

/* Find the column for a mapping in this file's header; -1 if absent. */
static int
find_column(struct ingest *g, const char *spec)
{
	char *alts, *name, *save = NULL;
	long long n;
	int i, found = -1;

	if (spec[0] == '$') {
		if (parse_long(spec + 1, &n) < 0 || n < 1 || n > g->nheader)
			return -1;
		return (int)n - 1;
	}
	alts = estrdup(spec);
	for (name = strtok_r(alts, "|", &save); name && found < 0;
	    name = strtok_r(NULL, "|", &save))
		for (i = 0; i < g->nheader && found < 0; i++)
			if (strcasecmp(g->header[i], name) == 0)
				found = i;
	free(alts);
	return found;
}

/* Resolve every mapped column against the header; -1 if one is absent
 * or ambiguous. */
static int
resolve_columns(struct ingest *g)
{
	size_t i;
	int bad = 0, c, j;

	for (i = 0; i < g->ndefs; i++) {
		g->map[i].col = -1;
		if (g->map[i].column == NULL)
			continue;
		c = g->map[i].col = find_column(g, g->map[i].column);
		/* Which of two columns of one name is meant cannot be known. */
		for (j = c + 1; c >= 0 && g->map[i].column[0] != '$' &&
		    j < g->nheader; j++)
			if (strcasecmp(g->header[j], g->header[c]) == 0) {
				warnx("%s: column %s for field %s: twice in "
				    "the header (columns %d and %d)", g->file,
				    g->header[c], g->defs[i].name, c + 1,
				    j + 1);
				bad = 1;
				break;
			}
		/* "A|": column A if the file has it, else unknown. */
		if (c < 0 && g->map[i].column[strlen(g->map[i].column) - 1] ==
		    '|')
			continue;
		if (c < 0) {
			warnx("%s: no column %s for field %s", g->file,
			    g->map[i].column, g->defs[i].name);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static int
is_missing(const struct fmap *m, const char *v)
{
	const char *p, *q;
	size_t n = strlen(v);

	if (n == 0)
		return 1;
	for (p = m->missing; p != NULL && *p; p = q ? q + 1 : NULL) {
		q = strchr(p, ',');
		if ((size_t)((q ? q : p + strlen(p)) - p) == n &&
		    strncmp(p, v, n) == 0)
			return 1;
		if (q == NULL)
			break;
	}
	return 0;
}

/* The raw text for field i of this row, trimmed; "" when absent. */
static const char *
raw_value(struct ingest *g, size_t i)
{
	const struct fmap *m = &g->map[i];
	const char *s, *src;
	char *e;

	buf_clear(&g->scratch);
	if (m->constant != NULL) {
		for (src = m->constant; *src; src++) {
			if (src[0] == '%' && src[1] == 'f') {
				s = strrchr(g->file, '/');
				buf_addf(&g->scratch, "%s", s ? s + 1 :
				    g->file);
				src++;
			} else if (src[0] == '%' && src[1] == 'l') {
				buf_addf(&g->scratch, "%ld", g->line);
				src++;
			} else
				buf_addc(&g->scratch, *src);
		}
	} else if (m->col >= 0 && m->col < g->ncells)
		buf_add(&g->scratch, g->cells[m->col],
		    strlen(g->cells[m->col]));
	else if (m->column == NULL && g->defs[i].dflt != NULL)
		buf_add(&g->scratch, g->defs[i].dflt,
		    strlen(g->defs[i].dflt));
	else
		buf_add(&g->scratch, "", 0);
	for (s = g->scratch.p; isspace((unsigned char)*s); s++)
		;
	e = g->scratch.p + g->scratch.len;
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Name of what fed field i, for messages: the column or the field. */
static const char *
source_name(struct ingest *g, size_t i)
{
	const struct fmap *m = &g->map[i];

	if (m->col >= 0 && m->col < g->nheader)
		return g->header[m->col];
	return g->defs[i].name;
}

static int
bad_row(struct ingest *g, const char *fmt, ...) PRINTF(2, 3);

/* Reject the current row; always -1.  Sets g->stop if the policy says. */
static int
bad_row(struct ingest *g, const char *fmt, ...)
{
	char reason[512], where[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "%s:%ld", g->file, g->line);
	if (reject(where, 1, g->raw, g->rawlen, NULL, "%s", reason) < 0)
		g->stop = 1;
	return -1;
}

static void
set_string(avro_value_t *rec, int idx, const char *s, int nullable)
{
	avro_value_t f, br;

	avro_value_get_by_index(rec, (size_t)idx, &f, NULL);
	if (nullable) {
		if (s == NULL) {
			avro_value_set_branch(&f, 0, &br);
			avro_value_set_null(&br);
			return;
		}
		avro_value_set_branch(&f, 1, &br);
		avro_value_set_string(&br, s);
	} else
		avro_value_set_string(&f, s ? s : "");
}

static void
set_number(avro_value_t *rec, int idx, enum kind k, int has, double d,
    int64_t l)
{
	avro_value_t f, br, *t = &f;

	avro_value_get_by_index(rec, (size_t)idx, &f, NULL);
	if (avro_value_get_type(&f) == AVRO_UNION) {
		avro_value_set_branch(&f, has, &br);
		if (!has) {
			avro_value_set_null(&br);
			return;
		}
		t = &br;
	}
	if (k == K_TIME || k == K_COUNT)
		avro_value_set_long(t, l);
	else if (k == K_DATE || k == K_YEAR)
		avro_value_set_int(t, (int32_t)l);
	else
		avro_value_set_double(t, d);
}

/* Convert the raw text of field i; 0, or -1 after rejecting the row. */
static int
convert(struct ingest *g, size_t i, const char *s, double *d, int64_t *l)
{
	const struct fdef *f = &g->defs[i];
	const struct fmap *m = &g->map[i];
	const char *why, *col = source_name(g, i);
	long long n;
	double x;

	switch (f->kind) {
	case K_TIME:
	case K_DATE:
		if (time_parse(s, m->format, l, &why) < 0)
			return bad_row(g, "%s: %s: \"%s\"", col, why, s);
		if (f->kind == K_DATE) {
			if (*l % MS_PER_DAY != 0)
				return bad_row(g, "%s: not a date: \"%s\"",
				    col, s);
			*l /= MS_PER_DAY;
		}
		return 0;
	case K_YEAR:
		if (parse_long(s, &n) < 0)
			return bad_row(g, "%s: not a year: \"%s\"", col, s);
		if (n < 1900 || n > 2200)
			return bad_row(g, "%s: impossible model year %lld",
			    col, n);
		*l = n;
		return 0;
	case K_COUNT:
		if (parse_long(s, &n) < 0 || n < 0)
			return bad_row(g, "%s: not a whole number >= 0: \"%s\"",
			    col, s);
		*l = n;
		return 0;
	default:
		break;
	}
	if (parse_double(s, &x) < 0)
		return bad_row(g, "%s: not a number: \"%s\"", col, s);
	switch (f->kind) {
	case K_DIST:
		if (x >= 999990)
			return bad_row(g, "%s: sentinel value %s", col, s);
		if (x < 0)
			return bad_row(g, "%s: negative distance %s", col, s);
		*d = m->miles ? x * KM_PER_MILE : x;
		if (*d > 2e6)
			return bad_row(g, "%s: %s is beyond any odometer",
			    col, s);
		return 0;
	case K_COND:
		if (m->scale == SCALE_AUCTION && x >= 1 && x <= 5)
			*d = (x - 1) / 4;
		else if (m->scale == SCALE_AUCTION && x >= 10 && x <= 50)
			*d = (x / 10 - 1) / 4;
		else if (m->scale == SCALE_15 && x >= 1 && x <= 5)
			*d = (x - 1) / 4;
		else if (m->scale == SCALE_01 && x >= 0 && x <= 1)
			*d = x;
		else
			return bad_row(g, "%s: %s is not on the %s scale", col,
			    s, m->scale == SCALE_AUCTION ? "1-5 or 10-49" :
			    m->scale == SCALE_15 ? "1-5" : "0-1");
		return 0;
	case K_MONEY:
	case K_LEVEL:
		if (x <= 0)
			return bad_row(g, "%s: not positive: %s", col, s);
		*d = x;
		return 0;
	case K_BALANCE:
	case K_AMOUNT:
		if (x < 0)
			return bad_row(g, "%s: negative: %s", col, s);
		*d = x;
		return 0;
	default:
		return 0;
	}
}

/* Event time: when the record's content became known. */
static int64_t
event_time(struct ingest *g, const int *has, const int64_t *l)
{
	if (g->is_vehicle)
		return l[V_OBSERVED];
	if (has[I_PUBLISHED])
		return l[I_PUBLISHED];
	return l[I_PERIOD] * MS_PER_DAY;
}

static void
emit(struct ingest *g, int64_t t)
{
	struct held *h;
	size_t off;

	if (!g->sort) {
		sink_put(g->sink, &g->event, NULL, 0);
		return;
	}
	off = g->held.len;
	if (enc_value(&g->held, g->mw, &g->event) < 0)
		errx(1, "cannot encode: %s", avro_strerror());
	if (g->nkeys == g->capkeys) {
		g->capkeys = g->capkeys ? 2 * g->capkeys : 1024;
		g->keys = erealloc(g->keys, g->capkeys * sizeof(*g->keys));
	}
	h = &g->keys[g->nkeys];
	h->t = t;
	h->seq = g->nkeys++;
	h->off = off;
	h->len = g->held.len - off;
}

/*
 * Text goes into Avro strings, which must be UTF-8 (python3-avro could
 * not read the file back), and may name state downstream, so it must fit
 * a key (lib/valid.h).  0, or -1 after rejecting the row.
 */
static int
check_text(struct ingest *g, size_t i, const char *s)
{
	size_t n = strlen(s);
	long bad = utf8_invalid(s, n);

	if (bad >= 0)
		return bad_row(g, "%s: not UTF-8 text (byte %ld)",
		    source_name(g, i), bad + 1);
	if (n > VALID_MAXKEY)
		return bad_row(g, "%s: longer than %d bytes", source_name(g, i),
		    VALID_MAXKEY);
	return 0;
}

/* Check, convert and emit the current row; rejects name the reason. */
static void
ingest_row(struct ingest *g)
{
	double d[MAX_FIELDS];
	int64_t l[MAX_FIELDS];
	int has[MAX_FIELDS];
	char *str[MAX_FIELDS];
	const char *s;
	struct buf key = { 0 };
	size_t i;
	int bad = 0, idx, y;	/* bad: -1 once the row is rejected */
	unsigned mo, dd;
	double age;
	int64_t t;

	run_tally.read++;
	memset(str, 0, sizeof(str));
	for (i = 0; i < g->ndefs && !bad; i++) {
		d[i] = 0;
		l[i] = 0;
		s = raw_value(g, i);
		has[i] = !is_missing(&g->map[i], s);
		if (!has[i]) {
			if (g->defs[i].required)
				bad = bad_row(g, "%s: missing",
				    source_name(g, i));
			else if (g->defs[i].dflt != NULL)
				/* Blank means unknown, as when not mapped. */
				str[i] = estrdup(g->defs[i].dflt);
			continue;
		}
		switch (g->defs[i].kind) {
		case K_TEXT:
		case K_SEGMENT:
		case K_ID:
		case K_ATTR:
			bad = check_text(g, i, s);
			break;
		default:
			break;
		}
		if (bad)
			continue;
		switch (g->defs[i].kind) {
		case K_TEXT:
		case K_SEGMENT:
			str[i] = estrdup(s);
			break;
		case K_ID:
		case K_ATTR:
			str[i] = estrdup(s);
			for (y = 0; str[i][y]; y++)
				str[i][y] = (char)tolower(
				    (unsigned char)str[i][y]);
			if (g->map[i].kinds != NULL)
				replace(&str[i], kinds_of(g->map[i].kinds,
				    str[i]));
			break;
		default:
			bad = convert(g, i, s, &d[i], &l[i]);
		}
	}
	if (!bad && g->is_vehicle) {
		civil_from_days(l[V_OBSERVED] / MS_PER_DAY -
		    (l[V_OBSERVED] < 0), &y, &mo, &dd);
		age = (double)(y - l[V_YEAR]) + (mo - 1) / 12.0 + 0.25;
		if (l[V_YEAR] > y + 1)
			bad = bad_row(g, "%s: model year %lld is after the "
			    "sighting (%d)", source_name(g, V_YEAR),
			    (long long)l[V_YEAR], y);
		else if (has[V_MILEAGE] && d[V_MILEAGE] <= 2 && age > 1)
			bad = bad_row(g, "%s: placeholder odometer %g on a "
			    "%.0f-year-old vehicle", source_name(g, V_MILEAGE),
			    d[V_MILEAGE] / (g->map[V_MILEAGE].miles ? KM_PER_MILE : 1),
			    age);
		if (!bad && str[V_SEGMENT] == NULL) {
			segkey(&key, str[V_MAKE], str[V_MODEL], str[V_TRIM]);
			str[V_SEGMENT] = estrdup(key.p);
		}
	}
	if (!bad && !g->is_vehicle) {
		if (!has[I_VALUE] && !has[I_VOLUME])
			bad = bad_row(g, "%s: missing (and no volume)",
			    source_name(g, I_VALUE));
		if (!has[I_PUBLISHED] && g->lag_days > 0) {
			has[I_PUBLISHED] = 1;
			l[I_PUBLISHED] = (l[I_PERIOD] + g->lag_days) * MS_PER_DAY;
		}
	}
	if (!bad) {
		avro_value_set_branch(&g->event, g->is_vehicle, &g->branch);
		for (i = 0; i < g->ndefs; i++) {
			idx = g->map[i].avro_index;
			switch (g->defs[i].kind) {
			case K_TEXT:
			case K_ID:
			case K_ATTR:
			case K_SEGMENT:
				set_string(&g->branch, idx, str[i],
				    !g->defs[i].required &&
				    g->defs[i].dflt == NULL &&
				    g->defs[i].kind != K_SEGMENT);
				break;
			default:
				set_number(&g->branch, idx, g->defs[i].kind,
				    has[i], d[i], l[i]);
			}
		}
		t = event_time(g, has, l);
		if (t < kafka.from || t >= kafka.until)
			run_tally.read--;  /* outside --from/--until */
		else
			emit(g, t);
	}
	for (i = 0; i < g->ndefs; i++)
		free(str[i]);
	buf_free(&key);
}

static void
free_header(struct ingest *g)
{
	int i;

	for (i = 0; i < g->nheader; i++)
		free(g->header[i]);
	free(g->header);
	g->header = NULL;
	g->nheader = 0;
}

/* Rows of a CSV file: the first is the header.  -1 when told to stop. */
static int
ingest_csv(struct ingest *g, FILE *fp)
{
	struct csv_reader *csv = csv_open(fp, g->file);
	char **fields;
	int n, i;

	while (!g->stop && !run_stop && (n = csv_next(csv, &fields)) != 0) {
		/* A stop signal ends the input where it is, maybe mid-row. */
		if (run_stop)
			break;
		g->line = csv_line(csv);
		g->raw = csv_raw(csv, &g->rawlen);
		if (n < 0) {
			run_tally.read++;
			bad_row(g, "%s", csv_error(csv));
			continue;
		}
		if (n == 1 && fields[0][0] == '\0')
			continue;	/* a blank line holds no record */
		if (g->header == NULL) {
			g->header = ecalloc((size_t)n, sizeof(*g->header));
			for (i = 0; i < n; i++)
				g->header[i] = estrdup(fields[i]);
			g->nheader = n;
			/* A missing column is a wrong mapping, not bad data. */
			if (resolve_columns(g) < 0)
				g->stop = 1;
			continue;
		}
		if (n != g->nheader) {
			run_tally.read++;
			bad_row(g, "%d fields where the header has %d", n,
			    g->nheader);
			continue;
		}
		g->cells = fields;
		g->ncells = n;
		ingest_row(g);
	}
	csv_close(csv);
	return g->stop ? -1 : 0;
}

/* JSON text of a scalar, as a CSV cell would hold it. */
static char *
json_cell(json_t *v)
{
	if (json_is_string(v))
		return estrdup(json_string_value(v));
	if (json_is_integer(v))
		return easprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v))
		return easprintf("%.17g", json_real_value(v));
	if (json_is_boolean(v))
		return estrdup(json_is_true(v) ? "true" : "false");
	if (json_is_null(v))
		return estrdup("");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/*
 * The member named by spec ("NAME" or "A|B", case ignored, as for CSV
 * headers); NULL if the object has none.  *twice is set to a second key
 * of the found one's name (case ignored: which is meant cannot be
 * known), else NULL.
 */
static json_t *
json_lookup(json_t *o, const char *spec, const char **twice)
{
	char *alts = estrdup(spec), *name, *save = NULL;
	const char *key;
	json_t *v, *found = NULL;

	*twice = NULL;
	for (name = strtok_r(alts, "|", &save); name && !found;
	    name = strtok_r(NULL, "|", &save))
		json_object_foreach(o, key, v)
			if (strcasecmp(key, name) == 0) {
				if (found != NULL) {
					*twice = key;
					break;
				}
				found = v;
			}
	free(alts);
	return found;
}

/*
 * JSON lines: one object a line; its keys are the columns.  The mapped
 * columns are looked up by name in each object.
 */
static int
ingest_json(struct ingest *g, FILE *fp)
{
	json_error_t jerr;
	json_t *o;
	char *line = NULL;
	size_t cap = 0, i;
	ssize_t len;
	const char *spec, *twice;
	json_t *val;
	int dup;

	g->line = 0;
	for (i = 0; i < g->ndefs; i++)
		if (g->map[i].column != NULL && g->map[i].column[0] == '$') {
			warnx("%s: %s: column positions need CSV input",
			    g->file, g->map[i].column);
			return -1;
		}
	while (!g->stop && !run_stop &&
	    (len = getline(&line, &cap, fp)) > 0) {
		if (run_stop)	/* maybe mid-line */
			break;
		g->line++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		g->raw = line;
		g->rawlen = (size_t)len;
		/* A key given twice: jansson would keep the last. */
		o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES,
		    &jerr);
		if (!json_is_object(o)) {
			run_tally.read++;
			bad_row(g, "not a JSON object: %s", o ? "other value" :
			    jerr.text);
			json_decref(o);
			continue;
		}
		/* One column per mapped field, in field order. */
		g->cells = ecalloc(g->ndefs, sizeof(*g->cells));
		g->header = ecalloc(g->ndefs, sizeof(*g->header));
		g->nheader = g->ncells = (int)g->ndefs;
		for (i = 0, dup = 0; i < g->ndefs; i++) {
			spec = g->map[i].column;
			g->header[i] = estrdup(spec ? spec : g->defs[i].name);
			val = spec ? json_lookup(o, spec, &twice) : NULL;
			if (val != NULL && twice != NULL && !dup++) {
				run_tally.read++;
				bad_row(g, "%s: key %s twice (case ignored)",
				    spec, twice);
			}
			g->cells[i] = val ? json_cell(val) : estrdup("");
			g->map[i].col = spec ? (int)i : -1;
		}
		if (!dup)
			ingest_row(g);
		for (i = 0; i < g->ndefs; i++)
			free(g->cells[i]);
		free(g->cells);
		g->cells = NULL;
		free_header(g);
		json_decref(o);
	}
	if (ferror(fp) && !run_stop) {
		warn("%s", g->file);
		g->stop = 1;
	}
	free(line);
	return g->stop ? -1 : 0;
}

static int
by_time(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Write the held records in event time (ties in input order). */
static void
release_sorted(struct ingest *g)
{
	avro_reader_t rd = avro_reader_memory("", 0);
	size_t i;

	/* qsort(3) may not be given a null array, even an empty one. */
	if (g->nkeys > 0)
		qsort(g->keys, g->nkeys, sizeof(*g->keys), by_time);
	for (i = 0; i < g->nkeys; i++) {
		avro_reader_memory_set_source(rd, g->held.p + g->keys[i].off,
		    (int64_t)g->keys[i].len);
		avro_value_reset(&g->event);
		if (avro_value_read(rd, &g->event) != 0)
			errx(1, "held record %zu: %s", i, avro_strerror());
		sink_put(g->sink, &g->event, NULL, 0);
	}
	avro_reader_free(rd);
}

/*
 * stdio calls this when the buffer of an input is empty.  If the
 * descriptor has nothing either, the rows converted so far go out
 * before the wait (run_idle), so an idle pipe passes each row on at
 * once instead of holding it until a block fills.  A signal ends the
 * input.
 */
static ssize_t
idle_read(void *cookie, char *p, size_t len)
{
	int fd = (int)(intptr_t)cookie;
	ssize_t n;

	if (!run_wait_input(fd))
		return 0;
	while ((n = read(fd, p, len)) < 0 && errno == EINTR)
		;
	return n;
}

/* Read fp's descriptor through idle_read; fclose() it before fp. */
static FILE *
idle_open(FILE *fp)
{
	static const cookie_io_functions_t io = { .read = idle_read };
	FILE *in;

	in = fopencookie((void *)(intptr_t)fileno(fp), "r", io);
	if (in == NULL)
		err(1, "fopencookie");
	return in;
}

static void
setup_output(struct ingest *g, const char *path)
{
	avro_schema_t branch;
	size_t i;
	int idx;

	g->iface = avro_generic_class_from_schema(schema_get("Event"));
	avro_generic_value_new(g->iface, &g->event);
	branch = avro_schema_union_branch(schema_get("Event"),
	    g->is_vehicle);
	for (i = 0; i < g->ndefs; i++) {
		idx = avro_schema_record_field_get_index(branch,
		    g->defs[i].name);
		if (idx < 0)
			errx(1, "schema %s: no field %s",
			    avro_schema_name(branch), g->defs[i].name);
		g->map[i].avro_index = idx;
	}
	g->sink = sink_open(path, schema_text("Event"));
	g->mw = avro_writer_memory("", 0);
}

static void
free_ingest(struct ingest *g)
{
	size_t i;

	for (i = 0; i < NELEM(g->map); i++) {
		free(g->map[i].column);
		free(g->map[i].constant);
		free(g->map[i].format);
		free(g->map[i].missing);
		kinds_free(g->map[i].kinds);
	}
	free(g->map_dir);
	avro_value_decref(&g->event);
	avro_value_iface_decref(g->iface);
	avro_writer_free(g->mw);
	buf_free(&g->held);
	buf_free(&g->scratch);
	free(g->keys);
	free_header(g);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "on-error",	  required_argument, NULL, 'e' },
		{ "input-format", required_argument, NULL, 'f' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ "map",	  required_argument, NULL, 'M' },
		{ "map-field",	  required_argument, NULL, 'm' },
		{ "output",	  required_argument, NULL, 'o' },
		{ "sort",	  no_argument,	     NULL, 'S' },
		{ "set",	  required_argument, NULL, 's' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		KAFKA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static char *dash[] = { "-" };
	struct ingest g = { 0 };
	const char *out = NULL;
	char **files, *where;
	FILE *fp, *in;
	int c, i, nfiles, verbose = 0, status, failed = 0;
	double t0 = now_seconds();

	set_type(&g, "vehicle", "default");
	/* The map file comes first, so -m and -s override it. */
	while ((c = getopt_long(argc, argv, "e:f:hM:m:o:Ss:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (reject_policy(optarg) < 0)
				return 2;
			break;
		case 'f':
			if (strcmp(optarg, "csv") && strcmp(optarg, "json")) {
				warnx("-f: %s: not csv or json", optarg);
				usage(stderr);
				return 2;
			}
			g.json = optarg[0] == 'j';
			break;
		case 'h':
			help();
			return fshut(stdout, "stdout");
		case 'M':
			load_map(&g, optarg);
			break;
		case 'm':
		case 'o':
		case 'S':
		case 's':
		case 'v':
			break;
		default:
			if (kafka_option(c, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "e:f:hM:m:o:Ss:v" KAFKA_OPTSTRING,
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
		case 's':
			if (c == 's') {
				char *eq = strchr(optarg, '=');

				if (eq == NULL) {
					warnx("-s: %s: not field=value",
					    optarg);
					usage(stderr);
					return 2;
				}
				where = easprintf("%.*s:=%s",
				    (int)(eq - optarg), optarg, eq + 1);
				map_setting(&g, where, "-s");
				free(where);
			} else
				map_setting(&g, optarg, "-m");
			break;
		case 'o':
			out = optarg;
			break;
		case 'S':
			g.sort = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		}
	}
	files = argv + optind;
	nfiles = argc - optind;
	if (nfiles == 0) {
		files = dash;
		nfiles = 1;
	}
	if (nfiles > 1)
		g.sort = 1;
	if (kafka_input())
		errx(2, "-t: cv-ingest reads CSV or JSON lines, not topics");
	kafka_check(nfiles);
	run_init();
	setup_output(&g, out);
	for (i = 0; i < nfiles && !g.stop && !run_stop; i++) {
		g.file = files[i];
		if (strcmp(files[i], "-") == 0)
			fp = stdin;
		else if ((fp = fopen(files[i], "r")) == NULL) {
			if (reject(files[i], 0, NULL, 0, NULL, "%s",
			    strerror(errno)) < 0)
				g.stop = 1;
			continue;
		}
		in = idle_open(fp);
		if ((g.json ? ingest_json(&g, in) : ingest_csv(&g, in)) < 0) {
			failed = 1;
			run_fail();
		}
		free_header(&g);
		fclose(in);
		if (fp != stdin)
			fclose(fp);
	}
	if (g.sort)
		release_sorted(&g);
	sink_close(g.sink);
	free_ingest(&g);
	schema_cleanup();
	status = reject_finish(verbose);
	if (verbose)
		warnx("%.0f rows/s", run_tally.read / (now_seconds() - t0));
	return failed ? 1 : status;
}
