/*
 * cv-ingest: a row checked field by field, converted (dates to UTC, miles
 * to km, condition grades to 0..1) and emitted as an Event, or rejected
 * with its file:line and reason; held and sorted into event time (-O).
 */
#include <ctype.h>
#include <err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kafka.h"
#include "lib/schema.h"
#include "lib/segkey.h"
#include "lib/timeparse.h"
#include "lib/valid.h"
#include "lib/view.h"
#include "ingest.h"

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
	buf_add(&g->scratch, "", 0);	/* text even when nothing is added */
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

/* Reject the current row; always -1.  Sets g->stop if the policy says. */
int
rows_bad(struct ingest *g, const char *fmt, ...)
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
			return rows_bad(g, "%s: %s: \"%s\"", col, why, s);
		if (f->kind == K_DATE) {
			if (*l % MS_PER_DAY != 0)
				return rows_bad(g, "%s: not a date: \"%s\"",
				    col, s);
			*l /= MS_PER_DAY;
		}
		return 0;
	case K_YEAR:
		if (parse_long(s, &n) < 0)
			return rows_bad(g, "%s: not a year: \"%s\"", col, s);
		if (n < 1900 || n > 2200)
			return rows_bad(g, "%s: impossible model year %lld",
			    col, n);
		*l = n;
		return 0;
	case K_COUNT:
		if (parse_long(s, &n) < 0 || n < 0)
			return rows_bad(g, "%s: not a whole number >= 0: \"%s\"",
			    col, s);
		*l = n;
		return 0;
	default:
		break;
	}
	if (parse_double(s, &x) < 0)
		return rows_bad(g, "%s: not a number: \"%s\"", col, s);
	switch (f->kind) {
	case K_DIST:
		if (x >= 999990)
			return rows_bad(g, "%s: sentinel value %s", col, s);
		if (x < 0)
			return rows_bad(g, "%s: negative distance %s", col, s);
		*d = m->miles ? x * KM_PER_MILE : x;
		if (*d > 2e6)
			return rows_bad(g, "%s: %s is beyond any odometer",
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
			return rows_bad(g, "%s: %s is not on the %s scale", col,
			    s, m->scale == SCALE_AUCTION ? "1-5 or 10-49" :
			    m->scale == SCALE_15 ? "1-5" : "0-1");
		return 0;
	case K_MONEY:
	case K_LEVEL:
		if (x <= 0)
			return rows_bad(g, "%s: not positive: %s", col, s);
		*d = x;
		return 0;
	case K_BALANCE:
	case K_AMOUNT:
		if (x < 0)
			return rows_bad(g, "%s: negative: %s", col, s);
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
		return rows_bad(g, "%s: not UTF-8 text (byte %ld)",
		    source_name(g, i), bad + 1);
	if (n > VALID_MAXKEY)
		return rows_bad(g, "%s: longer than %d bytes", source_name(g, i),
		    VALID_MAXKEY);
	return 0;
}

/* Check, convert and emit the current row; rejects name the reason. */
void
rows_ingest(struct ingest *g)
{
	double d[MAX_FIELDS];
	int64_t l[MAX_FIELDS];
	int has[MAX_FIELDS];
	char *str[MAX_FIELDS];
	const char *s, *kind;
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
				bad = rows_bad(g, "%s: missing",
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
			if (g->map[i].kinds != NULL) {
				/* The kind's name, not the text it was found in. */
				kind = kinds_of(g->map[i].kinds, str[i]);
				free(str[i]);
				str[i] = estrdup(kind);
			}
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
			bad = rows_bad(g, "%s: model year %lld is after the "
			    "sighting (%d)", source_name(g, V_YEAR),
			    (long long)l[V_YEAR], y);
		else if (has[V_MILEAGE] && d[V_MILEAGE] <= 2 && age > 1)
			bad = rows_bad(g, "%s: placeholder odometer %g on a "
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
			bad = rows_bad(g, "%s: missing (and no volume)",
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

static int
by_time(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Write the held records in event time (ties in input order). */
void
rows_release(struct ingest *g)
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

void
rows_open(struct ingest *g, const char *path)
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

void
rows_close(struct ingest *g)
{
	sink_close(g->sink);
	g->sink = NULL;
	avro_value_decref(&g->event);
	avro_value_iface_decref(g->iface);
	avro_writer_free(g->mw);
	buf_free(&g->held);
	buf_free(&g->scratch);
	free(g->keys);
	g->keys = NULL;
	g->nkeys = g->capkeys = 0;
}
