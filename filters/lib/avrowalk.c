/*
 * avrowalk.c: a schema compiled to a small tree of nodes, walked over
 * encoded bytes.  Encoding rules: Avro specification, "Binary Encoding".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/avrowalk.h"
#include "lib/util.h"

enum wkind {
	W_NULL, W_BOOL, W_INT, W_VARINT, W_FLOAT, W_DOUBLE, W_BYTES, W_FIXED,
	W_ENUM, W_RECORD, W_ARRAY, W_MAP, W_UNION
};

struct wnode {
	enum wkind	 kind;
	int64_t		 n;	/* fields, branches, symbols or fixed size */
	struct wnode	**kids;
	int64_t		 min_bytes;	/* of any encoding of this type */
	avro_schema_t	 from;	/* for sharing named types while compiling */
	struct wnode	*next;	/* every node, for freeing */
};

struct walker {
	struct wnode	*root;
	struct wnode	*all;
	const char	*why;
	const char	*end;
	int		 recursive;
	int64_t		 empty_items;	/* in the record being walked */
};

#define MAX_DEPTH	200
#define MAX_NULL_ITEMS	(1 << 20)

static struct wnode *
compile(struct walker *w, avro_schema_t s)
{
	struct wnode *n;
	size_t i;

	if (is_avro_link(s)) {
		w->recursive = 1;
		s = avro_schema_link_target(s);
	}
	/* A named type met again (recursion) shares its node. */
	for (n = w->all; n != NULL; n = n->next)
		if (n->from == s && is_avro_named_type(s))
			return n;
	n = ecalloc(1, sizeof(*n));
	n->from = s;
	n->next = w->all;
	w->all = n;
	switch (avro_typeof(s)) {
	case AVRO_NULL:
		n->kind = W_NULL;
		break;
	case AVRO_BOOLEAN:
		n->kind = W_BOOL;
		break;
	case AVRO_INT32:
		n->kind = W_INT;
		break;
	case AVRO_INT64:
		n->kind = W_VARINT;
		break;
	case AVRO_FLOAT:
		n->kind = W_FLOAT;
		break;
	case AVRO_DOUBLE:
		n->kind = W_DOUBLE;
		break;
	case AVRO_STRING:
	case AVRO_BYTES:
		n->kind = W_BYTES;
		break;
	case AVRO_FIXED:
		n->kind = W_FIXED;
		n->n = avro_schema_fixed_size(s);
		break;
	case AVRO_ENUM:
		n->kind = W_ENUM;
		n->n = avro_schema_enum_number_of_symbols(s);
		break;
	case AVRO_RECORD:
		n->kind = W_RECORD;
		n->n = (int64_t)avro_schema_record_size(s);
		n->kids = ecalloc((size_t)n->n, sizeof(*n->kids));
		for (i = 0; i < (size_t)n->n; i++)
			n->kids[i] = compile(w,
			    avro_schema_record_field_get_by_index(s, (int)i));
		break;
	case AVRO_ARRAY:
	case AVRO_MAP:
		n->kind = avro_typeof(s) == AVRO_ARRAY ? W_ARRAY : W_MAP;
		n->n = 1;
		n->kids = ecalloc(1, sizeof(*n->kids));
		n->kids[0] = compile(w, avro_typeof(s) == AVRO_ARRAY ?
		    avro_schema_array_items(s) : avro_schema_map_values(s));
		break;
	case AVRO_UNION:
		n->kind = W_UNION;
		n->n = (int64_t)avro_schema_union_size(s);
		n->kids = ecalloc((size_t)n->n, sizeof(*n->kids));
		for (i = 0; i < (size_t)n->n; i++)
			n->kids[i] = compile(w,
			    avro_schema_union_branch(s, (int)i));
		break;
	default:
		n->kind = W_NULL;
		break;
	}
	return n;
}

/* Fewest bytes an encoding of n takes; recursion counts as none. */
static int64_t
min_bytes(struct wnode *n, int depth)
{
	int64_t m = 0;
	int64_t i;

	if (depth > MAX_DEPTH)
		return 0;
	switch (n->kind) {
	case W_NULL:
		return 0;
	case W_FLOAT:
		return 4;
	case W_DOUBLE:
		return 8;
	case W_FIXED:
		return n->n;
	case W_RECORD:
		for (i = 0; i < n->n; i++)
			m += min_bytes(n->kids[i], depth + 1);
		return m;
	default:
		return 1;
	}
}

struct walker *
walker_new(avro_schema_t s)
{
	struct walker *w = ecalloc(1, sizeof(*w));
	struct wnode *n;

	w->root = compile(w, s);
	for (n = w->all; n != NULL; n = n->next)
		n->min_bytes = min_bytes(n, 0);
	return w;
}

int
walker_recursive(const struct walker *w)
{
	return w->recursive;
}

void
walker_free(struct walker *w)
{
	struct wnode *n, *next;

	if (w == NULL)
		return;
	for (n = w->all; n != NULL; n = next) {
		next = n->next;
		free(n->kids);
		free(n);
	}
	free(w);
}

static int
fail(struct walker *w, const char *why)
{
	w->why = why;
	return -1;
}

static int
varint(struct walker *w, const char **p, int64_t *v)
{
	uint64_t u = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		if (*p >= w->end)
			return fail(w, "record runs past its block");
		if (shift > 63)
			return fail(w, "varint longer than 10 bytes");
		c = (unsigned char)*(*p)++;
		u |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return 0;
}

static int
skip(struct walker *w, const char **p, int64_t n)
{
	if (n < 0)
		return fail(w, "negative length");
	if (n > w->end - *p)
		return fail(w, "length runs past its block");
	*p += n;
	return 0;
}

static int
walk(struct walker *w, const struct wnode *n, const char **p, int depth)
{
	int64_t v, count, i, size;

	if (depth > MAX_DEPTH)
		return fail(w, "nesting too deep");
	switch (n->kind) {
	case W_NULL:
		return 0;
	case W_BOOL:
		if (*p >= w->end)
			return fail(w, "record runs past its block");
		if ((unsigned char)**p > 1)
			return fail(w, "boolean neither 0 nor 1");
		(*p)++;
		return 0;
	case W_VARINT:
		return varint(w, p, &v);
	case W_INT:
		if (varint(w, p, &v) < 0)
			return -1;
		if (v < INT32_MIN || v > INT32_MAX)
			return fail(w, "int out of range");
		return 0;
	case W_FLOAT:
		return skip(w, p, 4);
	case W_DOUBLE:
		return skip(w, p, 8);
	case W_FIXED:
		return skip(w, p, n->n);
	case W_BYTES:
		if (varint(w, p, &v) < 0)
			return -1;
		return skip(w, p, v);
	case W_ENUM:
		if (varint(w, p, &v) < 0)
			return -1;
		if (v < 0 || v >= n->n)
			return fail(w, "enum index out of range");
		return 0;
	case W_UNION:
		if (varint(w, p, &v) < 0)
			return -1;
		if (v < 0 || v >= n->n)
			return fail(w, "union branch out of range");
		return walk(w, n->kids[v], p, depth + 1);
	case W_RECORD:
		for (i = 0; i < n->n; i++)
			if (walk(w, n->kids[i], p, depth + 1) < 0)
				return -1;
		return 0;
	case W_ARRAY:
	case W_MAP:
		for (;;) {
			if (varint(w, p, &count) < 0)
				return -1;
			if (count == 0)
				return 0;
			if (count < 0) {
				/* A negative count is followed by the
				 * block's size in bytes. */
				if (count == INT64_MIN)
					return fail(w, "bad item count");
				count = -count;
				if (varint(w, p, &size) < 0)
					return -1;
			}
			/*
			 * An item of at least a byte is bounded by the bytes
			 * left; items of no bytes (null, empty records) only
			 * by a cap over the whole record, or a few bytes of
			 * blocks could ask for billions of them.
			 */
			if (n->kind == W_MAP || n->kids[0]->min_bytes > 0) {
				if (count > w->end - *p)
					return fail(w, "item count runs past "
					    "its block");
			} else if ((w->empty_items += count) > MAX_NULL_ITEMS)
				return fail(w, "too many items of no bytes");
			for (i = 0; i < count; i++) {
				if (n->kind == W_MAP) {
					if (varint(w, p, &v) < 0 ||
					    skip(w, p, v) < 0)
						return -1;
				}
				if (walk(w, n->kids[0], p, depth + 1) < 0)
					return -1;
			}
		}
	}
	return 0;
}

long
walker_span(struct walker *w, const char *p, size_t n, const char **why)
{
	const char *start = p;

	w->end = p + n;
	w->why = NULL;
	w->empty_items = 0;
	if (walk(w, w->root, &p, 0) < 0) {
		*why = w->why;
		return -1;
	}
	return (long)(p - start);
}

int
walker_fields(struct walker *w, const char *p, size_t n, int *branch,
    unsigned *off, int max, const char **why)
{
	const struct wnode *rec = w->root;
	const char *start = p;
	int64_t v;
	int i;

	w->end = p + n;
	w->why = NULL;
	w->empty_items = 0;
	*branch = -1;
	if (rec->kind == W_UNION) {
		if (varint(w, &p, &v) < 0)
			goto bad;
		if (v < 0 || v >= rec->n) {
			fail(w, "union branch out of range");
			goto bad;
		}
		*branch = (int)v;
		rec = rec->kids[v];
	}
	if (rec->kind != W_RECORD || rec->n > max) {
		fail(w, "not a record of at most the fields asked for");
		goto bad;
	}
	for (i = 0; i < rec->n; i++) {
		off[i] = (unsigned)(p - start);
		if (walk(w, rec->kids[i], &p, 1) < 0)
			goto bad;
	}
	off[rec->n] = (unsigned)(p - start);
	return (int)rec->n;
bad:
	*why = w->why;
	return -1;
}

int
walker_is_record(const struct walker *w, int max)
{
	const struct wnode *n = w->root;
	int64_t i;

	if (n->kind == W_RECORD)
		return n->n <= max;
	if (n->kind != W_UNION)
		return 0;
	for (i = 0; i < n->n; i++)
		if (n->kids[i]->kind != W_RECORD || n->kids[i]->n > max)
			return 0;
	return 1;
}
