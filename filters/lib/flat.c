/*
 * flat.c: compile a schema's JSON text into a small tree that knows its
 * column count and logical types, then walk it beside avro values.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/flat.h"
#include "lib/timeparse.h"

enum kind {
	K_NULL, K_BOOL, K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_BYTES, K_STRING,
	K_RECORD, K_ENUM, K_ARRAY, K_MAP, K_UNION, K_FIXED
};
enum logical { L_NONE, L_DATE, L_TS_MILLIS, L_TS_MICROS };

struct node {
	enum kind	  kind;
	enum logical	  logical;
	char		 *name;		/* short name of a named type */
	struct node	**kids;		/* fields, branches, or items */
	char		**labels;	/* field names */
	size_t		  nkids;
	size_t		  ncols;
	int		  nullable;	/* union [null, T]: T is kids[1-n] */
	struct node	 *next_alloc;
};

struct flat {
	struct node	 *root;
	struct node	 *allocs;
	struct node	**named;
	size_t		  nnamed;
	char		**names;
	enum flat_type	 *types;
	enum flat_type	 *vtypes;	/* of flat_values() */
	enum flat_time	 *times;
	size_t		  ncols;
	struct flat_val	 *vals;
	char		**cells;
	struct buf	  text;
	size_t		 *offsets;
	const char	 *why;
	int		  digits;	/* 0: shortest exact form */
};

static const struct { const char *name; enum kind kind; } prims[] = {
	{ "null", K_NULL }, { "boolean", K_BOOL }, { "int", K_INT },
	{ "long", K_LONG }, { "float", K_FLOAT }, { "double", K_DOUBLE },
	{ "bytes", K_BYTES }, { "string", K_STRING },
};

static struct node *
new_node(struct flat *f, enum kind k)
{
	struct node *n = ecalloc(1, sizeof(*n));

	n->kind = k;
	n->next_alloc = f->allocs;
	f->allocs = n;
	return n;
}

static const char *
short_name(const char *s)
{
	const char *dot = strrchr(s, '.');

	return dot ? dot + 1 : s;
}

static struct node *compile(struct flat *, json_t *, int);

static struct node *
compile_named_ref(struct flat *f, const char *s)
{
	size_t i;

	for (i = 0; i < NELEM(prims); i++)
		if (strcmp(s, prims[i].name) == 0)
			return new_node(f, prims[i].kind);
	for (i = 0; i < f->nnamed; i++)
		if (strcmp(f->named[i]->name, short_name(s)) == 0)
			return f->named[i];
	f->why = "reference to an undefined type";
	return NULL;
}

static void
add_named(struct flat *f, struct node *n, json_t *j)
{
	const char *name = json_string_value(json_object_get(j, "name"));

	n->name = estrdup(short_name(name ? name : "?"));
	f->named = erealloc(f->named, (f->nnamed + 1) * sizeof(*f->named));
	f->named[f->nnamed++] = n;
}

static struct node *
compile(struct flat *f, json_t *j, int depth)
{
	struct node *n, *k;
	json_t *t, *fl, *x;
	const char *type, *lt;
	size_t i;

	if (depth > 64) {
		f->why = "schema nests too deep";
		return NULL;
	}
	if (json_is_string(j))
		return compile_named_ref(f, json_string_value(j));
	if (json_is_array(j)) {
		n = new_node(f, K_UNION);
		n->nkids = json_array_size(j);
		n->kids = ecalloc(n->nkids, sizeof(*n->kids));
		json_array_foreach(j, i, x)
			if ((n->kids[i] = compile(f, x, depth + 1)) == NULL)
				return NULL;
		n->nullable = n->nkids == 2 && (n->kids[0]->kind == K_NULL) !=
		    (n->kids[1]->kind == K_NULL);
		return n;
	}
	if (!json_is_object(j)) {
		f->why = "schema node is not a string, array or object";
		return NULL;
	}
	t = json_object_get(j, "type");
	type = json_string_value(t);
	if (type == NULL)
		return t ? compile(f, t, depth + 1) : (f->why = "no type",
		    NULL);
	if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
		n = new_node(f, K_RECORD);
		add_named(f, n, j);
		fl = json_object_get(j, "fields");
		n->nkids = json_array_size(fl);
		n->kids = ecalloc(n->nkids, sizeof(*n->kids));
		n->labels = ecalloc(n->nkids, sizeof(*n->labels));
		json_array_foreach(fl, i, x) {
			const char *fname = json_string_value(
			    json_object_get(x, "name"));

			n->labels[i] = estrdup(fname ? fname : "?");
			k = compile(f, json_object_get(x, "type"), depth + 1);
			if (k == NULL)
				return NULL;
			n->kids[i] = k;
		}
		return n;
	}
	if (strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0) {
		n = new_node(f, type[0] == 'e' ? K_ENUM : K_FIXED);
		add_named(f, n, j);
		return n;
	}
	if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
		n = new_node(f, type[0] == 'a' ? K_ARRAY : K_MAP);
		n->nkids = 1;
		n->kids = ecalloc(1, sizeof(*n->kids));
		n->kids[0] = compile(f, json_object_get(j, type[0] == 'a' ?
		    "items" : "values"), depth + 1);
		return n->kids[0] ? n : NULL;
	}
	if ((n = compile_named_ref(f, type)) == NULL)
		return NULL;
	lt = json_string_value(json_object_get(j, "logicalType"));
	if (lt != NULL && n->kind == K_INT && strcmp(lt, "date") == 0)
		n->logical = L_DATE;
	else if (lt != NULL && n->kind == K_LONG &&
	    strcmp(lt, "timestamp-millis") == 0)
		n->logical = L_TS_MILLIS;
	else if (lt != NULL && n->kind == K_LONG &&
	    strcmp(lt, "timestamp-micros") == 0)
		n->logical = L_TS_MICROS;
	return n;
}

/* Columns under n; named records reached again through a union count. */
static size_t
count_cols(struct node *n, int depth)
{
	size_t i, c = 0;

	if (depth > 64)
		return 1;
	switch (n->kind) {
	case K_RECORD:
		for (i = 0; i < n->nkids; i++)
			c += count_cols(n->kids[i], depth + 1);
		return c;
	case K_UNION:
		if (n->nullable)
			return count_cols(n->kids[n->kids[0]->kind == K_NULL],
			    depth + 1);
		for (i = 0; i < n->nkids; i++)
			if (n->kids[i]->kind != K_NULL)
				c += count_cols(n->kids[i], depth + 1);
		return c + 1;
	default:
		return 1;
	}
}

static enum flat_type
cell_type(struct node *n)
{
	switch (n->kind) {
	case K_INT: case K_LONG:
		return n->logical == L_NONE ? FLAT_INTEGER : FLAT_TEXT;
	case K_FLOAT: case K_DOUBLE:
		return FLAT_REAL;
	default:
		return FLAT_TEXT;
	}
}

/* The type of n's value in flat_values(): see flat_valtype(). */
static enum flat_type
value_type(struct node *n)
{
	switch (n->kind) {
	case K_BOOL: case K_INT: case K_LONG:
		return FLAT_INTEGER;
	case K_FLOAT: case K_DOUBLE:
		return FLAT_REAL;
	default:
		return FLAT_TEXT;
	}
}

static enum flat_time
time_type(struct node *n)
{
	switch (n->logical) {
	case L_DATE:
		return FLAT_DATE;
	case L_TS_MILLIS:
		return FLAT_MILLIS;
	case L_TS_MICROS:
		return FLAT_MICROS;
	default:
		return FLAT_NOT_TIME;
	}
}

/* Add a column for the scalar n, or for text (a union's type, JSON). */
static void
add_col(struct flat *f, const char *prefix, const char *name,
    struct node *n)
{
	size_t c = f->ncols;

	f->names = erealloc(f->names, (c + 1) * sizeof(*f->names));
	f->types = erealloc(f->types, (c + 1) * sizeof(*f->types));
	f->vtypes = erealloc(f->vtypes, (c + 1) * sizeof(*f->vtypes));
	f->times = erealloc(f->times, (c + 1) * sizeof(*f->times));
	f->names[c] = *prefix ? (*name ? easprintf("%s.%s", prefix,
	    name) : estrdup(prefix)) : estrdup(*name ? name : "value");
	f->types[c] = n ? cell_type(n) : FLAT_TEXT;
	f->vtypes[c] = n ? value_type(n) : FLAT_TEXT;
	f->times[c] = n ? time_type(n) : FLAT_NOT_TIME;
	f->ncols++;
}

static void
name_cols(struct flat *f, struct node *n, const char *prefix, int depth)
{
	char *p;
	size_t i;

	if (depth > 64) {
		add_col(f, prefix, "", NULL);
		return;
	}
	switch (n->kind) {
	case K_RECORD:
		for (i = 0; i < n->nkids; i++) {
			p = *prefix ? easprintf("%s.%s", prefix,
			    n->labels[i]) : estrdup(n->labels[i]);
			name_cols(f, n->kids[i], p, depth + 1);
			free(p);
		}
		return;
	case K_UNION:
		if (n->nullable) {
			name_cols(f, n->kids[n->kids[0]->kind == K_NULL],
			    prefix, depth + 1);
			return;
		}
		add_col(f, prefix, "type", NULL);
		for (i = 0; i < n->nkids; i++) {
			struct node *k = n->kids[i];
			const char *bn = k->name ? k->name :
			    prims[k->kind < NELEM(prims) ? k->kind : 0].name;

			if (k->kind == K_NULL)
				continue;
			p = *prefix ? easprintf("%s.%s", prefix, bn) :
			    estrdup(bn);
			name_cols(f, k, p, depth + 1);
			free(p);
		}
		return;
	default:
		add_col(f, prefix, "", n);
	}
}

static void
free_nodes(struct flat *f)
{
	struct node *n, *next;
	size_t i;

	for (n = f->allocs; n != NULL; n = next) {
		next = n->next_alloc;
		for (i = 0; n->labels && i < n->nkids; i++)
			free(n->labels[i]);
		free(n->labels);
		free(n->kids);
		free(n->name);
		free(n);
	}
	f->allocs = NULL;
}

struct flat *
flat_new(const char *schema_text, const char **why)
{
	struct flat *f = ecalloc(1, sizeof(*f));
	json_t *j = json_loads(schema_text, 0, NULL);
	size_t i;

	if (j == NULL) {
		*why = "schema is not JSON";
		free(f);
		return NULL;
	}
	f->root = compile(f, j, 0);
	json_decref(j);
	if (f->root == NULL) {
		*why = f->why;
		flat_free(f);
		return NULL;
	}
	name_cols(f, f->root, "", 0);
	f->cells = ecalloc(f->ncols, sizeof(*f->cells));
	f->offsets = ecalloc(f->ncols, sizeof(*f->offsets));
	f->vals = ecalloc(f->ncols + 1, sizeof(*f->vals));
	for (i = 0; i < f->ncols; i++)
		f->vals[i].type = f->vtypes[i];
	return f;
}

void
flat_free(struct flat *f)
{
	size_t i;

	if (f == NULL)
		return;
	free_nodes(f);
	for (i = 0; i < f->ncols; i++)
		free(f->names[i]);
	free(f->names);
	free(f->types);
	free(f->vtypes);
	free(f->times);
	free(f->vals);
	free(f->named);
	free(f->cells);
	free(f->offsets);
	buf_free(&f->text);
	free(f);
}

void
flat_set_digits(struct flat *f, int n)
{
	f->digits = n;
}

size_t
flat_ncols(const struct flat *f)
{
	return f->ncols;
}

const char *
flat_colname(const struct flat *f, size_t i)
{
	return f->names[i];
}

int
flat_column(const struct flat *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->ncols; i++)
		if (strcmp(f->names[i], name) == 0)
			return (int)i;
	return -1;
}

enum flat_type
flat_coltype(const struct flat *f, size_t i)
{
	return f->types[i];
}

enum flat_type
flat_valtype(const struct flat *f, size_t i)
{
	return f->vtypes[i];
}

enum flat_time
flat_coltime(const struct flat *f, size_t i)
{
	return f->times[i];
}

void
fmt_double(char *buf, size_t len, double d)
{
	int prec;

	if (buf == NULL || len == 0)	/* GCC under UBSan warns otherwise */
		return;
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static void
add_time(struct buf *out, struct node *n, int64_t v)
{
	char tb[40];

	if (n->logical == L_DATE)
		date_format(v, tb, sizeof(tb));
	else if (n->logical == L_TS_MILLIS)
		time_format(v, tb, sizeof(tb));
	else
		time_format(v / 1000, tb, sizeof(tb));
	buf_add(out, tb, strlen(tb));
}

/* Append a scalar's text; JSON quoting when json is set. */
static void add_json_string(struct buf *, const char *, size_t);

/* Significant digits for doubles in rows; set by flat_row(). */
static int digits;

static void
add_scalar(struct buf *out, struct node *n, avro_value_t *v, int json)
{
	char nb[40];
	const char *s;
	const void *p;
	size_t len, i;
	int32_t i32;
	int64_t i64;
	float fl;
	double d;
	int b;

	switch (n->kind) {
	case K_NULL:
		buf_add(out, "null", json ? 4 : 0);
		break;
	case K_BOOL:
		avro_value_get_boolean(v, &b);
		buf_add(out, b ? "true" : "false", b ? 4 : 5);
		break;
	case K_INT:
		avro_value_get_int(v, &i32);
		if (n->logical == L_DATE) {
			if (json)
				buf_addc(out, '"');
			add_time(out, n, i32);
			if (json)
				buf_addc(out, '"');
		} else
			buf_addf(out, "%" PRId32, i32);
		break;
	case K_LONG:
		avro_value_get_long(v, &i64);
		if (n->logical != L_NONE) {
			if (json)
				buf_addc(out, '"');
			add_time(out, n, i64);
			if (json)
				buf_addc(out, '"');
		} else
			buf_addf(out, "%" PRId64, i64);
		break;
	case K_FLOAT:
	case K_DOUBLE:
		if (n->kind == K_FLOAT) {
			avro_value_get_float(v, &fl);
			d = fl;
		} else
			avro_value_get_double(v, &d);
		if (!isfinite(d)) {
			s = isnan(d) ? "NaN" : d > 0 ? "Infinity" :
			    "-Infinity";
			if (json)
				add_json_string(out, s, strlen(s));
			else
				buf_add(out, s, strlen(s));
			break;
		}
		if (digits > 0)
			snprintf(nb, sizeof(nb), "%.*g", digits, d);
		else
			fmt_double(nb, sizeof(nb), d);
		buf_add(out, nb, strlen(nb));
		break;
	case K_STRING:
		avro_value_get_string(v, &s, &len);
		len = len ? len - 1 : 0;
		if (json)
			add_json_string(out, s, len);
		else
			buf_add(out, s, len);
		break;
	case K_ENUM:
		avro_value_get_enum(v, &i32);
		s = avro_schema_enum_get(avro_value_get_schema(v), i32);
		if (json)
			add_json_string(out, s, strlen(s));
		else
			buf_add(out, s, strlen(s));
		break;
	case K_BYTES:
	case K_FIXED:
		if (n->kind == K_BYTES)
			avro_value_get_bytes(v, &p, &len);
		else
			avro_value_get_fixed(v, &p, &len);
		if (json)
			buf_addc(out, '"');
		for (i = 0; i < len; i++)
			buf_addf(out, "%02x", ((const unsigned char *)p)[i]);
		if (json)
			buf_addc(out, '"');
		break;
	default:
		break;
	}
}

static void
add_json_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	unsigned char c;

	buf_reserve(out, len + 2);
	buf_addc(out, '"');
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf_addc(out, '\\');
			buf_addc(out, c);
		} else if (c == '\n')
			buf_add(out, "\\n", 2);
		else if (c == '\t')
			buf_add(out, "\\t", 2);
		else if (c == '\r')
			buf_add(out, "\\r", 2);
		else if (c < 0x20) {
			buf_add(out, "\\u00", 4);
			buf_addc(out, hex[c >> 4]);
			buf_addc(out, hex[c & 15]);
		} else
			buf_addc(out, c);
	}
	buf_addc(out, '"');
}

static void
add_json(struct buf *out, struct node *n, avro_value_t *v)
{
	avro_value_t k, br;
	const char *kname;
	size_t i, cnt;
	int disc;

	switch (n->kind) {
	case K_RECORD:
		buf_addc(out, '{');
		for (i = 0; i < n->nkids; i++) {
			avro_value_get_by_index(v, i, &k, NULL);
			if (i)
				buf_addc(out, ',');
			add_json_string(out, n->labels[i],
			    strlen(n->labels[i]));
			buf_addc(out, ':');
			add_json(out, n->kids[i], &k);
		}
		buf_addc(out, '}');
		break;
	case K_UNION:
		avro_value_get_discriminant(v, &disc);
		avro_value_get_current_branch(v, &br);
		add_json(out, n->kids[disc], &br);
		break;
	case K_ARRAY:
	case K_MAP:
		avro_value_get_size(v, &cnt);
		buf_addc(out, n->kind == K_ARRAY ? '[' : '{');
		for (i = 0; i < cnt; i++) {
			avro_value_get_by_index(v, i, &k, &kname);
			if (i)
				buf_addc(out, ',');
			if (n->kind == K_MAP) {
				add_json_string(out, kname, strlen(kname));
				buf_addc(out, ':');
			}
			add_json(out, n->kids[0], &k);
		}
		buf_addc(out, n->kind == K_ARRAY ? ']' : '}');
		break;
	default:
		add_scalar(out, n, v, 1);
	}
}

void
flat_json(struct flat *f, avro_value_t *v, struct buf *out)
{
	add_json(out, f->root, v);
	buf_addc(out, '\n');
}

/* Fill cells from *col on; text goes to f->text, offsets remembered. */
static void
fill_cells(struct flat *f, struct node *n, avro_value_t *v, size_t *col,
    int depth)
{
	avro_value_t k, br;
	const char *kname;
	size_t i, cnt;
	int disc;

	if (depth > 64) {
		f->offsets[*col] = f->text.len;
		add_json(&f->text, n, v);
		buf_addc(&f->text, '\0');
		f->cells[(*col)++] = (char *)1;
		return;
	}
	switch (n->kind) {
	case K_RECORD:
		for (i = 0; i < n->nkids; i++) {
			avro_value_get_by_index(v, i, &k, NULL);
			fill_cells(f, n->kids[i], &k, col, depth + 1);
		}
		return;
	case K_UNION:
		avro_value_get_discriminant(v, &disc);
		avro_value_get_current_branch(v, &br);
		if (n->nullable) {
			if (n->kids[disc]->kind == K_NULL)
				*col += count_cols(n->kids[1 - disc],
				    depth + 1);
			else
				fill_cells(f, n->kids[disc], &br, col,
				    depth + 1);
			return;
		}
		f->offsets[*col] = f->text.len;
		kname = n->kids[disc]->name ? n->kids[disc]->name :
		    prims[n->kids[disc]->kind].name;
		buf_add(&f->text, kname, strlen(kname) + 1);
		f->cells[(*col)++] = (char *)1;
		for (i = 0; i < n->nkids; i++) {
			if (n->kids[i]->kind == K_NULL)
				continue;
			if ((int)i == disc)
				fill_cells(f, n->kids[i], &br, col, depth + 1);
			else
				*col += count_cols(n->kids[i], depth + 1);
		}
		return;
	case K_ARRAY:
	case K_MAP:
		f->offsets[*col] = f->text.len;
		avro_value_get_size(v, &cnt);
		for (i = 0; i < cnt; i++) {
			avro_value_get_by_index(v, i, &k, &kname);
			if (i)
				buf_addc(&f->text, ';');
			if (n->kind == K_MAP)
				buf_addf(&f->text, "%s=", kname);
			if (n->kids[0]->kind <= K_STRING ||
			    n->kids[0]->kind == K_ENUM)
				add_scalar(&f->text, n->kids[0], &k, 0);
			else
				add_json(&f->text, n->kids[0], &k);
		}
		buf_addc(&f->text, '\0');
		f->cells[(*col)++] = (char *)1;
		return;
	case K_NULL:
		(*col)++;
		return;
	default:
		f->offsets[*col] = f->text.len;
		add_scalar(&f->text, n, v, 0);
		buf_addc(&f->text, '\0');
		f->cells[(*col)++] = (char *)1;
	}
}

char *const *
flat_row(struct flat *f, avro_value_t *v)
{
	size_t i, col = 0;

	buf_clear(&f->text);
	memset(f->cells, 0, f->ncols * sizeof(*f->cells));
	digits = f->digits;
	fill_cells(f, f->root, v, &col, 0);
	digits = 0;
	/* Text may have moved while growing: point cells at it now. */
	for (i = 0; i < f->ncols; i++)
		if (f->cells[i] != NULL)
			f->cells[i] = f->text.p + f->offsets[i];
	return f->cells;
}

/* Text for cell *col, kept in f->text until flat_values() points at it. */
static void
start_text(struct flat *f, size_t col)
{
	f->offsets[col] = f->text.len;
	f->vals[col].null = 0;
	f->vals[col].s = NULL;
}

static void
end_text(struct flat *f, size_t col)
{
	f->vals[col].len = f->text.len - f->offsets[col];
	buf_addc(&f->text, '\0');
}

/* Fill f->vals from *col on, as fill_cells() fills the text cells. */
static void
fill_values(struct flat *f, struct node *n, avro_value_t *v, size_t *col,
    int depth)
{
	struct flat_val *c = &f->vals[*col];
	avro_value_t k, br;
	const char *s;
	size_t i, len;
	int32_t i32;
	float fl;
	int disc, b;
	size_t bk;

	if (depth > 64) {
		start_text(f, *col);
		add_json(&f->text, n, v);
		end_text(f, (*col)++);
		return;
	}
	switch (n->kind) {
	case K_RECORD:
		for (i = 0; i < n->nkids; i++) {
			avro_value_get_by_index(v, i, &k, NULL);
			fill_values(f, n->kids[i], &k, col, depth + 1);
		}
		return;
	case K_UNION:
		avro_value_get_discriminant(v, &disc);
		avro_value_get_current_branch(v, &br);
		if (n->nullable) {
			if (n->kids[disc]->kind == K_NULL)
				*col += count_cols(n->kids[1 - disc],
				    depth + 1);
			else
				fill_values(f, n->kids[disc], &br, col,
				    depth + 1);
			return;
		}
		bk = n->kids[disc]->kind;
		c->null = 0;
		c->s = n->kids[disc]->name ? n->kids[disc]->name :
		    prims[bk < NELEM(prims) ? bk : 0].name;
		c->len = strlen(c->s);
		(*col)++;
		for (i = 0; i < n->nkids; i++) {
			if (n->kids[i]->kind == K_NULL)
				continue;
			if ((int)i == disc)
				fill_values(f, n->kids[i], &br, col,
				    depth + 1);
			else
				*col += count_cols(n->kids[i], depth + 1);
		}
		return;
	case K_NULL:
		(*col)++;
		return;
	case K_BOOL:
		avro_value_get_boolean(v, &b);
		c->i = b != 0;
		break;
	case K_INT:
		avro_value_get_int(v, &i32);
		c->i = i32;
		break;
	case K_LONG:
		avro_value_get_long(v, &c->i);
		break;
	case K_FLOAT:
		avro_value_get_float(v, &fl);
		c->d = fl;
		break;
	case K_DOUBLE:
		avro_value_get_double(v, &c->d);
		break;
	case K_STRING:
		/* The value's own bytes: they live until it is reset. */
		avro_value_get_string(v, &s, &len);
		c->s = s ? s : "";
		c->len = len ? len - 1 : 0;
		break;
	case K_ENUM:
		avro_value_get_enum(v, &i32);
		c->s = avro_schema_enum_get(avro_value_get_schema(v), i32);
		c->len = strlen(c->s);
		break;
	case K_ARRAY:
	case K_MAP:
		start_text(f, *col);
		add_json(&f->text, n, v);
		end_text(f, (*col)++);
		return;
	default:		/* bytes and fixed, in hex */
		start_text(f, *col);
		add_scalar(&f->text, n, v, 0);
		end_text(f, (*col)++);
		return;
	}
	c->null = 0;
	(*col)++;
}

const struct flat_val *
flat_values(struct flat *f, avro_value_t *v)
{
	size_t i, col = 0;

	buf_clear(&f->text);
	for (i = 0; i < f->ncols; i++)
		f->vals[i].null = 1;
	fill_values(f, f->root, v, &col, 0);
	/* Text may have moved while growing: point cells at it now. */
	for (i = 0; i < f->ncols; i++)
		if (!f->vals[i].null && f->vals[i].type == FLAT_TEXT &&
		    f->vals[i].s == NULL)
			f->vals[i].s = f->text.p + f->offsets[i];
	return f->vals;
}
