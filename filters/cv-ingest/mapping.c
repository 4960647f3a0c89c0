/*
 * cv-ingest: the mapping, which column feeds which field and how (map
 * files, -m and -s), and the header it is resolved against.
 */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/timeparse.h"
#include "ingest.h"

const struct fdef vehicle_defs[] = {
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

const struct fdef index_defs[] = {
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
const size_t nvehicle_defs = NELEM(vehicle_defs);
const size_t nindex_defs = NELEM(index_defs);

static int
def_index(struct ingest *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->ndefs; i++)
		if (strcmp(g->defs[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* -1 with *why set, for the mapping functions' returns. */
static int
wrong(char **why, const char *fmt, ...) PRINTF(2, 3);

static int
wrong(char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(why, fmt, ap) < 0)
		errx(1, "out of memory");
	va_end(ap);
	return -1;
}

/*
 * Settings are held by position in the type's field list, so they
 * cannot carry over to another type: a type after fields is an error.
 */
int
mapping_type(struct ingest *g, const char *type, const char *where,
    char **why)
{
	const struct fmap *m;
	int vehicle;
	size_t i;

	if (strcmp(type, "vehicle") == 0)
		vehicle = 1;
	else if (strcmp(type, "index") == 0)
		vehicle = 0;
	else
		return wrong(why, "%s: type: %s: not vehicle or index", where,
		    type);
	for (i = 0; g->defs != NULL && vehicle != g->is_vehicle &&
	    i < g->ndefs; i++) {
		m = &g->map[i];
		if (m->column || m->constant || m->format || m->missing ||
		    m->miles || m->scale != SCALE_01)
			return wrong(why, "%s: type=%s after a %s field: give "
			    "the type first", where, type, g->defs[i].name);
	}
	g->is_vehicle = vehicle;
	g->defs = vehicle ? vehicle_defs : index_defs;
	g->ndefs = vehicle ? nvehicle_defs : nindex_defs;
	return 0;
}

static void
replace(char **slot, const char *v)
{
	free(*slot);
	*slot = estrdup(v);
}

/* An attribute of field m: "format", "missing", "kinds", "unit" or
 * "scale" set to v. */
static int
set_attribute(struct ingest *g, struct fmap *m, const struct fdef *f,
    const char *attr, const char *v, const char *s, const char *where,
    char **why)
{
	const char *bad;
	struct kinds *k;

	if (strcmp(attr, "format") == 0) {
		if (time_format_check(v, &bad) < 0)
			return wrong(why, "%s: %s: %s", where, s, bad);
		replace(&m->format, v);
	} else if (strcmp(attr, "missing") == 0)
		replace(&m->missing, v);
	else if (strcmp(attr, "kinds") == 0 && f->kind == K_ATTR) {
		if ((k = kinds_load(v, g->map_dir, where, why)) == NULL)
			return -1;
		kinds_free(m->kinds);
		m->kinds = k;
	} else if (strcmp(attr, "unit") == 0 && (strcmp(v, "mi") == 0 ||
	    strcmp(v, "km") == 0))
		m->miles = v[0] == 'm';
	else if (strcmp(attr, "scale") == 0 && strcmp(v, "0-1") == 0)
		m->scale = SCALE_01;
	else if (strcmp(attr, "scale") == 0 && strcmp(v, "1-5") == 0)
		m->scale = SCALE_15;
	else if (strcmp(attr, "scale") == 0 && strcmp(v, "auction") == 0)
		m->scale = SCALE_AUCTION;
	else
		return wrong(why, "%s: %s: unknown attribute or value (format, "
		    "missing, unit=mi|km, scale=0-1|1-5|auction, kinds)",
		    where, s);
	return 0;
}

/*
 * One mapping setting: "field=column", "field:=constant" or
 * "field.attr=value"; where names it in messages.
 */
int
mapping_setting(struct ingest *g, const char *s, const char *where,
    char **why)
{
	const char *eq = strchr(s, '='), *dot;
	char *key;
	struct fmap *m;
	int constant, i, rc = 0;
	long long n;

	if (eq == NULL || eq == s)
		return wrong(why, "%s: %s: not field=value", where, s);
	constant = eq[-1] == ':';
	key = estrndup(s, (size_t)(eq - s - constant));
	dot = strchr(key, '.');
	if (strcmp(key, "type") == 0)
		rc = mapping_type(g, eq + 1, where, why);
	else if (strcmp(key, "published_lag_days") == 0) {
		if (parse_long(eq + 1, &n) < 0 || n < 0 || n > 3660)
			rc = wrong(why, "%s: published_lag_days: not a number "
			    "of days: %s", where, eq + 1);
		else
			g->lag_days = (long)n;
	} else {
		if (dot != NULL)
			key[dot - key] = '\0';
		if ((i = def_index(g, key)) < 0)
			rc = wrong(why, "%s: %s: no such field in %s", where,
			    key, g->is_vehicle ? "VehicleObs" : "IndexObs");
		else if (dot == NULL && !constant && eq[1] == '\0')
			rc = wrong(why, "%s: %s: no column named (field=COLUMN)",
			    where, s);
		else if (dot != NULL)
			rc = set_attribute(g, &g->map[i], &g->defs[i], dot + 1,
			    eq + 1, s, where, why);
		else {
			/* A field is fed by a column or a constant, not both. */
			m = &g->map[i];
			replace(constant ? &m->constant : &m->column, eq + 1);
			free(constant ? m->column : m->constant);
			*(constant ? &m->column : &m->constant) = NULL;
		}
	}
	free(key);
	return rc;
}

/*
 * A map file, read from fp (named path): a setting a line, blank lines
 * and lines starting with # aside.  Kinds files are found beside it.
 */
int
mapping_load(struct ingest *g, FILE *fp, const char *path, char **why)
{
	char *line = NULL, *s, *e, *where;
	size_t cap = 0;
	ssize_t len;
	long no = 0;
	int rc = 0;

	free(g->map_dir);
	g->map_dir = estrdup(path);
	if ((s = strrchr(g->map_dir, '/')) != NULL)
		*s = '\0';
	else
		replace(&g->map_dir, ".");
	while (rc == 0 && (len = getline(&line, &cap, fp)) > 0) {
		no++;
		/* Else the line would end at the NUL, unseen. */
		if (memchr(line, '\0', (size_t)len) != NULL) {
			rc = wrong(why, "%s:%ld: a NUL byte: not a text file",
			    path, no);
			break;
		}
		for (s = line; isspace((unsigned char)*s); s++)
			;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		where = easprintf("%s:%ld", path, no);
		rc = mapping_setting(g, s, where, why);
		free(where);
	}
	if (rc == 0 && ferror(fp))
		rc = wrong(why, "%s: %s", path, strerror(errno));
	free(line);
	/* -m and -s name files from the working directory. */
	free(g->map_dir);
	g->map_dir = NULL;
	return rc;
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

int
mapping_columns(struct ingest *g)
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

void
mapping_free(struct ingest *g)
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
}
