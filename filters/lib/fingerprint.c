/*
 * fingerprint.c: the Parsing Canonical Form of an Avro schema, written
 * out while walking the schema's JSON tree, and its CRC-64-AVRO
 * fingerprint.
 */
#include <err.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/fingerprint.h"
#include "lib/util.h"

/* The fingerprint of no bytes, which is also the polynomial. */
#define CRC64_AVRO_EMPTY	0xc15d213aa4d7a795ULL
/* Fixed sizes are Java ints. */
#define FIXED_SIZE_MAX		2147483647LL
/* How much of a bad name an error message quotes. */
#define QUOTE_MAX		64

struct pcf {
	struct buf	  out;		/* the canonical form so far */
	char		**names;	/* full names defined so far */
	size_t		  nnames, cap;
	char		 *why;		/* the error, once there is one */
};

static const char *const primitives[] = {
	"null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

static int	fail(struct pcf *, const char *, ...) PRINTF(2, 3);
static int	within(struct pcf *, const char *, ...) PRINTF(2, 3);
static int	pcf_schema(struct pcf *, json_t *, const char *,
		    const char **);

/* The specification's step, bit by bit: what the tables are made of. */
static uint64_t
crc64_bitwise(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t fp = CRC64_AVRO_EMPTY;
	int k;

	while (n-- > 0) {
		fp ^= *s++;
		for (k = 0; k < 8; k++)
			fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & -(fp & 1));
	}
	return fp;
}

/*
 * Eight bytes a step ("slicing by 8") through tables made from the
 * bitwise step: it is linear, so a byte's entry is its one-byte
 * fingerprint less that of a zero byte.  Records are hashed too
 * (cv-store's keys), where the bitwise loop would cost a sixth of a run.
 */
uint64_t
crc64_avro(const void *p, size_t n)
{
	static uint64_t t[8][256];
	static int ready;
	const unsigned char *s = p;
	unsigned char c = 0;
	uint64_t fp = CRC64_AVRO_EMPTY, zero, x;
	unsigned i, k;

	if (!ready) {
		zero = crc64_bitwise(&c, 1);
		for (i = 0; i < 256; i++) {
			c = (unsigned char)i;
			t[0][i] = crc64_bitwise(&c, 1) ^ zero;
		}
		for (k = 1; k < 8; k++)
			for (i = 0; i < 256; i++)
				t[k][i] = (t[k - 1][i] >> 8) ^
				    t[0][t[k - 1][i] & 0xff];
		ready = 1;
	}
	for (; n >= 8; n -= 8, s += 8) {
		x = fp ^ ((uint64_t)s[0] | (uint64_t)s[1] << 8 |
		    (uint64_t)s[2] << 16 | (uint64_t)s[3] << 24 |
		    (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
		    (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56);
		fp = t[7][x & 0xff] ^ t[6][x >> 8 & 0xff] ^
		    t[5][x >> 16 & 0xff] ^ t[4][x >> 24 & 0xff] ^
		    t[3][x >> 32 & 0xff] ^ t[2][x >> 40 & 0xff] ^
		    t[1][x >> 48 & 0xff] ^ t[0][x >> 56];
	}
	while (n-- > 0)
		fp = (fp >> 8) ^ t[0][(fp ^ *s++) & 0xff];
	return fp;
}

/* Set the error message; returns -1 for the caller to return. */
static int
fail(struct pcf *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&c->why, fmt, ap) < 0)
		err(1, "vasprintf");
	va_end(ap);
	return -1;
}

/*
 * Append n bytes of s with control characters as \xNN, so a message
 * stays on one line; quotes and backslashes too if quoted.
 */
static void
add_printable(struct buf *b, const char *s, size_t n, int quoted)
{
	size_t i;
	unsigned char ch;

	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f ||
		    (quoted && (ch == '"' || ch == '\\')))
			buf_addf(b, "\\x%02x", ch);
		else
			buf_addc(b, ch);
	}
}

/*
 * Fail with what, then s quoted, no more than QUOTE_MAX bytes of it
 * (cut at a character boundary).
 */
static int
failq(struct pcf *c, const char *what, const char *s, size_t n)
{
	struct buf b = { 0 };
	size_t cut;

	cut = n;
	if (cut > QUOTE_MAX) {
		cut = QUOTE_MAX;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	buf_addf(&b, "%s \"", what);
	add_printable(&b, s, cut, 1);
	buf_addf(&b, "%s\"", cut < n ? "..." : "");
	c->why = b.p;
	return -1;
}

/* Put "where: " before the message of an error from further down. */
static int
within(struct pcf *c, const char *fmt, ...)
{
	va_list ap;
	char *where, *why;

	va_start(ap, fmt);
	if (vasprintf(&where, fmt, ap) < 0)
		err(1, "vasprintf");
	va_end(ap);
	why = easprintf("%s: %s", where, c->why);
	free(where);
	free(c->why);
	c->why = why;
	return -1;
}

static void
put(struct pcf *c, const char *s)
{
	buf_add(&c->out, s, strlen(s));
}

/*
 * Every string the canonical form holds is a type keyword or a name
 * checked by valid_part(), so none needs an escape: written as UTF-8,
 * which is the STRINGS rule.
 */
static void
put_string(struct pcf *c, const char *s)
{
	buf_addc(&c->out, '"');
	put(c, s);
	buf_addc(&c->out, '"');
}

static int
is(json_t *j, const char *lit)
{
	return json_is_string(j) && json_string_length(j) == strlen(lit) &&
	    memcmp(json_string_value(j), lit, strlen(lit)) == 0;
}

static const char *
primitive(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < NELEM(primitives); i++)
		if (strlen(primitives[i]) == n &&
		    memcmp(primitives[i], s, n) == 0)
			return primitives[i];
	return NULL;
}

/*
 * One dot-free part of a name: [A-Za-z_][A-Za-z0-9_]*, as the
 * specification says, but with non-ASCII bytes let through too, since
 * Java's parser takes any Unicode letter.
 */
static int
valid_part(const char *s, size_t n)
{
	size_t i;
	unsigned char ch;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch >= 0x80 || ch == '_' || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= 'a' && ch <= 'z'))
			continue;
		if (i > 0 && ch >= '0' && ch <= '9')
			continue;
		return 0;
	}
	return 1;
}

/* A full name: parts joined by single dots. */
static int
valid_fullname(const char *s, size_t n)
{
	const char *dot;

	while ((dot = memchr(s, '.', n)) != NULL) {
		if (!valid_part(s, (size_t)(dot - s)))
			return 0;
		n -= (size_t)(dot - s) + 1;
		s = dot + 1;
	}
	return valid_part(s, n);
}

/* The stored copy of a defined full name, or NULL. */
static const char *
defined(const struct pcf *c, const char *full)
{
	size_t i;

	for (i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i], full) == 0)
			return c->names[i];
	return NULL;
}

/*
 * The definition a type name refers to.  A short name is looked up in
 * the enclosing namespace and then, as Java does, in the null one.
 */
static const char *
resolve(const struct pcf *c, const char *name, const char *space)
{
	const char *d;
	char *full;

	if (space == NULL || strchr(name, '.') != NULL)
		return defined(c, name);
	full = easprintf("%s.%s", space, name);
	d = defined(c, full);
	free(full);
	return d != NULL ? d : defined(c, name);
}

/* Takes full, which lives until the walk ends; returns it. */
static const char *
define(struct pcf *c, char *full)
{
	if (c->nnames == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->names = erealloc(c->names, c->cap * sizeof(*c->names));
	}
	c->names[c->nnames++] = full;
	return full;
}

/*
 * A schema given by a type name: a primitive, or a named type defined
 * earlier, which from then on is written by its full name only.
 */
static int
pcf_typename(struct pcf *c, json_t *j, const char *space, const char **key)
{
	const char *s = json_string_value(j), *d;
	size_t n = json_string_length(j);

	if ((d = primitive(s, n)) == NULL) {
		/* valid_fullname() also rules out a NUL inside. */
		if (!valid_fullname(s, n) || (d = resolve(c, s, space)) == NULL)
			return failq(c, "unknown type", s, n);
	}
	put_string(c, d);
	*key = d;
	return 0;
}

/*
 * Each branch's key is its type, or its full name if named: no two
 * may be the same, and a union may not hold a union.
 */
static int
pcf_union(struct pcf *c, json_t *j, const char *space, const char **key)
{
	const char **keys;
	json_t *v;
	size_t i, k;

	keys = emalloc(json_array_size(j) * sizeof(*keys));
	buf_addc(&c->out, '[');
	json_array_foreach(j, i, v) {
		if (i > 0)
			buf_addc(&c->out, ',');
		if (json_is_array(v))
			fail(c, "nested union");
		else if (pcf_schema(c, v, space, &keys[i]) == 0) {
			for (k = 0; k < i; k++)
				if (strcmp(keys[k], keys[i]) == 0)
					break;
			if (k < i)
				failq(c, "duplicate", keys[i],
				    strlen(keys[i]));
		}
		if (c->why != NULL) {
			free(keys);
			return within(c, "union branch %zu", i + 1);
		}
	}
	buf_addc(&c->out, ']');
	free(keys);
	*key = "union";
	return 0;
}

static int
pcf_container(struct pcf *c, json_t *j, const char *type, const char *attr,
    const char *space, const char **key)
{
	json_t *v;
	const char *k;

	if ((v = json_object_get(j, attr)) == NULL)
		return fail(c, "%s: missing %s", type, attr);
	buf_addf(&c->out, "{\"type\":\"%s\",\"%s\":", type, attr);
	if (pcf_schema(c, v, space, &k) == -1)
		return within(c, "%s %s", type, attr);
	buf_addc(&c->out, '}');
	*key = type;
	return 0;
}

static int
pcf_fields(struct pcf *c, json_t *j, const char *space)
{
	json_t *fields, *f, *name, *type;
	const char *key;
	size_t i, k;

	if ((fields = json_object_get(j, "fields")) == NULL)
		return fail(c, "missing fields");
	if (!json_is_array(fields))
		return fail(c, "fields is not an array");
	put(c, ",\"fields\":[");
	json_array_foreach(fields, i, f) {
		if (!json_is_object(f))
			return fail(c, "field %zu: not an object", i + 1);
		if ((name = json_object_get(f, "name")) == NULL)
			return fail(c, "field %zu: missing name", i + 1);
		if (!json_is_string(name))
			return fail(c, "field %zu: name is not a string",
			    i + 1);
		if (!valid_part(json_string_value(name),
		    json_string_length(name))) {
			failq(c, "invalid name", json_string_value(name),
			    json_string_length(name));
			return within(c, "field %zu", i + 1);
		}
		for (k = 0; k < i; k++)
			if (json_equal(json_object_get(
			    json_array_get(fields, k), "name"), name)) {
				failq(c, "duplicate name",
				    json_string_value(name),
				    json_string_length(name));
				return within(c, "field %zu", i + 1);
			}
		if ((type = json_object_get(f, "type")) == NULL)
			return fail(c, "field %zu: missing type", i + 1);
		put(c, i > 0 ? ",{\"name\":" : "{\"name\":");
		put_string(c, json_string_value(name));
		put(c, ",\"type\":");
		if (pcf_schema(c, type, space, &key) == -1)
			return within(c, "field %zu", i + 1);
		buf_addc(&c->out, '}');
	}
	buf_addc(&c->out, ']');
	return 0;
}

static int
pcf_symbols(struct pcf *c, json_t *j)
{
	json_t *syms, *s;
	size_t i, k;

	if ((syms = json_object_get(j, "symbols")) == NULL)
		return fail(c, "missing symbols");
	if (!json_is_array(syms))
		return fail(c, "symbols is not an array");
	put(c, ",\"symbols\":[");
	json_array_foreach(syms, i, s) {
		if (!json_is_string(s))
			return fail(c, "symbol %zu: not a string", i + 1);
		if (!valid_part(json_string_value(s), json_string_length(s))) {
			failq(c, "invalid name", json_string_value(s),
			    json_string_length(s));
			return within(c, "symbol %zu", i + 1);
		}
		for (k = 0; k < i; k++)
			if (json_equal(json_array_get(syms, k), s)) {
				failq(c, "duplicate", json_string_value(s),
				    json_string_length(s));
				return within(c, "symbol %zu", i + 1);
			}
		if (i > 0)
			buf_addc(&c->out, ',');
		put_string(c, json_string_value(s));
	}
	buf_addc(&c->out, ']');
	return 0;
}

/*
 * A JSON integer, or by the INTEGERS rule a quoted one whose leading
 * zeros go.
 */
static int
pcf_size(struct pcf *c, json_t *j)
{
	json_t *size;
	const char *s;
	long long v;
	size_t i, n;

	if ((size = json_object_get(j, "size")) == NULL)
		return fail(c, "missing size");
	if (json_is_integer(size))
		v = json_integer_value(size);
	else if (json_is_string(size) && json_string_length(size) > 0) {
		s = json_string_value(size);
		n = json_string_length(size);
		v = 0;
		for (i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return fail(c, "size is not an integer");
			/* Stop before v can overflow; it is refused below. */
			if (v <= FIXED_SIZE_MAX)
				v = 10 * v + (s[i] - '0');
		}
	} else
		return fail(c, "size is not an integer");
	if (v < 0 || v > FIXED_SIZE_MAX)
		return fail(c, "size out of range");
	buf_addf(&c->out, ",\"size\":%lld", v);
	return 0;
}

/*
 * A record, enum or fixed definition.  Its full name comes from a name
 * with a dot, else from the namespace attribute, else from the
 * enclosing space; the types inside take the full name's namespace.
 */
static int
pcf_named(struct pcf *c, json_t *j, const char *type, const char *space,
    const char **key)
{
	json_t *name, *ns;
	struct buf b = { 0 };
	const char *full, *dot, *base;
	char *inner;
	int rc;

	if ((name = json_object_get(j, "name")) == NULL)
		return fail(c, "%s: missing name", type);
	if (!json_is_string(name))
		return fail(c, "%s: name is not a string", type);
	ns = json_object_get(j, "namespace");
	if (ns != NULL && !json_is_string(ns) && !json_is_null(ns))
		return fail(c, "%s: namespace is not a string", type);
	if (memchr(json_string_value(name), '.',
	    json_string_length(name)) == NULL) {
		if (json_is_string(ns) && json_string_length(ns) > 0) {
			buf_add(&b, json_string_value(ns),
			    json_string_length(ns));
			buf_addc(&b, '.');
		} else if (!json_is_string(ns) && space != NULL) {
			buf_add(&b, space, strlen(space));
			buf_addc(&b, '.');
		}
	}
	buf_add(&b, json_string_value(name), json_string_length(name));
	if (!valid_fullname(b.p, b.len)) {
		failq(c, "invalid name", b.p, b.len);
		buf_free(&b);
		return -1;
	}
	dot = strrchr(b.p, '.');
	base = dot != NULL ? dot + 1 : b.p;
	if (primitive(base, strlen(base)) != NULL) {
		failq(c, "primitive type name", b.p, b.len);
		buf_free(&b);
		return -1;
	}
	if (defined(c, b.p) != NULL) {
		failq(c, "redefinition of", b.p, b.len);
		buf_free(&b);
		return -1;
	}
	/* Defined before its body, which may refer to it. */
	full = define(c, b.p);
	inner = dot ? estrndup(full, (size_t)(dot - b.p)) : NULL;

	put(c, "{\"name\":");
	put_string(c, full);
	put(c, ",\"type\":");
	put_string(c, type);
	if (strcmp(type, "record") == 0)
		rc = pcf_fields(c, j, inner);
	else if (strcmp(type, "enum") == 0)
		rc = pcf_symbols(c, j);
	else
		rc = pcf_size(c, j);
	buf_addc(&c->out, '}');
	free(inner);
	if (rc == -1)
		return within(c, "%s %s", type, full);
	*key = full;
	return 0;
}

static int
pcf_object(struct pcf *c, json_t *j, const char *space, const char **key)
{
	json_t *t;

	if ((t = json_object_get(j, "type")) == NULL)
		return fail(c, "missing type");
	if (!json_is_string(t))
		return fail(c, "type is not a string");
	if (is(t, "record") || is(t, "error"))
		return pcf_named(c, j, "record", space, key);
	if (is(t, "enum"))
		return pcf_named(c, j, "enum", space, key);
	if (is(t, "fixed"))
		return pcf_named(c, j, "fixed", space, key);
	if (is(t, "array"))
		return pcf_container(c, j, "array", "items", space, key);
	if (is(t, "map"))
		return pcf_container(c, j, "map", "values", space, key);
	/* A primitive with attributes (a logicalType, say) or a reference. */
	return pcf_typename(c, t, space, key);
}

/*
 * Write the canonical form of schema j, found in namespace space (NULL
 * for the null namespace), to c->out.  *key gets what tells union
 * branches apart.  Returns 0, or -1 with c->why set.
 */
static int
pcf_schema(struct pcf *c, json_t *j, const char *space, const char **key)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		return pcf_typename(c, j, space, key);
	case JSON_ARRAY:
		return pcf_union(c, j, space, key);
	case JSON_OBJECT:
		return pcf_object(c, j, space, key);
	default:
		return fail(c, "not a schema: a JSON %s",
		    json_is_number(j) ? "number" : json_is_null(j) ?
		    "null" : "boolean");
	}
}

char *
schema_canonical(const char *json, size_t len, char **why)
{
	struct pcf c = { 0 };
	json_error_t e;
	json_t *j;
	const char *key;
	char *s = NULL;
	size_t i;

	*why = NULL;
	j = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &e);
	if (j == NULL) {
		/* jansson quotes the bad token, which may hold a newline. */
		buf_addf(&c.out, "line %d, column %d: ", e.line, e.column);
		add_printable(&c.out, e.text, strlen(e.text), 0);
		*why = c.out.p;
		return NULL;
	}
	if (pcf_schema(&c, j, NULL, &key) == 0) {
		s = c.out.p;
		c.out.p = NULL;
	} else
		*why = c.why;
	for (i = 0; i < c.nnames; i++)
		free(c.names[i]);
	free(c.names);
	buf_free(&c.out);
	json_decref(j);
	return s;
}

int
schema_fingerprint(const char *json, size_t len, uint64_t *fp, char **why)
{
	char *s;

	if ((s = schema_canonical(json, len, why)) == NULL)
		return -1;
	*fp = crc64_avro(s, strlen(s));
	free(s);
	return 0;
}
