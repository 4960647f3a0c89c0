/* view.c: field access and encoding in Avro's binary format. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lib/stream.h"
#include "lib/view.h"

int
view_of_rec(struct view *v, const struct rec *r)
{
	if (r->nfields < 0 || r->nfields > VIEW_MAXFIELDS)
		return -1;
	v->p = r->raw;
	v->branch = r->branch;
	v->nfields = r->nfields;
	memcpy(v->off, r->off, (size_t)(r->nfields + 1) * sizeof(*v->off));
	return 0;
}

int
view_parse(struct view *v, struct walker *w, const char *p, size_t n,
    const char **why)
{
	v->p = p;
	v->nfields = walker_fields(w, p, n, &v->branch, v->off,
	    VIEW_MAXFIELDS, why);
	return v->nfields < 0 ? -1 : 0;
}

/* Zig-zag varint at *q; the walker has checked the bytes. */
static int64_t
get_varint(const char **q)
{
	uint64_t u = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		c = (unsigned char)*(*q)++;
		u |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while ((c & 0x80) && shift < 64);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int
view_is_null(const struct view *v, int i)
{
	const char *q = v->p + v->off[i];

	return get_varint(&q) == 0;
}

int
view_opt_nan(const struct view *v, int i)
{
	return !view_is_null(v, i) && isnan(view_opt_double(v, i));
}

int
view_bool(const struct view *v, int i)
{
	return v->p[v->off[i]] != 0;
}

double
view_double(const struct view *v, int i)
{
	double d;

	memcpy(&d, v->p + v->off[i], 8);
	return d;
}

double
view_opt_double(const struct view *v, int i)
{
	const char *q = v->p + v->off[i];
	double d;

	if (get_varint(&q) == 0)
		return NAN;
	memcpy(&d, q, 8);
	return d;
}

int64_t
view_long(const struct view *v, int i)
{
	const char *q = v->p + v->off[i];

	return get_varint(&q);
}

int64_t
view_opt_long(const struct view *v, int i)
{
	const char *q = v->p + v->off[i];

	return get_varint(&q) == 0 ? INT64_MIN : get_varint(&q);
}

/* Never cut: two long keys cut to one length would be one key. */
static const char *
copy_text(const char *q, char *buf, size_t len)
{
	int64_t n = get_varint(&q);

	if ((size_t)n >= len) {
		*buf = '\0';
		return NULL;
	}
	memcpy(buf, q, (size_t)n);
	buf[n] = '\0';
	return buf;
}

size_t
view_text_len(const struct view *v, int i, int nullable)
{
	const char *q = v->p + v->off[i];

	if (nullable && get_varint(&q) == 0)
		return 0;
	return (size_t)get_varint(&q);
}

const char *
view_string(const struct view *v, int i, char *buf, size_t len)
{
	return copy_text(v->p + v->off[i], buf, len);
}

const char *
view_opt_string(const struct view *v, int i, char *buf, size_t len)
{
	const char *q = v->p + v->off[i];

	if (get_varint(&q) == 0) {
		*buf = '\0';
		return NULL;
	}
	return copy_text(q, buf, len);
}

const char *
view_span(const struct view *v, int from, int to, size_t *len)
{
	*len = v->off[to] - v->off[from];
	return v->p + v->off[from];
}

void
enc_long(struct buf *b, int64_t l)
{
	uint64_t z = ((uint64_t)l << 1) ^ (uint64_t)(l >> 63);

	buf_reserve(b, 10);
	while (z > 0x7f) {
		b->p[b->len++] = (char)((z & 0x7f) | 0x80);
		z >>= 7;
	}
	b->p[b->len++] = (char)z;
}

void
enc_double(struct buf *b, double d)
{
	buf_add(b, &d, 8);	/* little-endian, as Avro wants */
}

void
enc_string(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	enc_long(b, (int64_t)n);
	buf_add(b, s, n);
}

void
enc_bool(struct buf *b, int t)
{
	buf_addc(b, t ? 1 : 0);
}

void
enc_opt_double(struct buf *b, int has, double d)
{
	enc_long(b, has);
	if (has)
		enc_double(b, d);
}

void
enc_opt_long(struct buf *b, int has, int64_t l)
{
	enc_long(b, has);
	if (has)
		enc_long(b, l);
}

void
enc_opt_string(struct buf *b, const char *s)
{
	enc_long(b, s != NULL);
	if (s != NULL)
		enc_string(b, s);
}

int
enc_value(struct buf *b, avro_writer_t w, avro_value_t *v)
{
	int rc;

	for (;;) {
		buf_reserve(b, 4096);
		avro_writer_memory_set_dest(w, b->p + b->len,
		    (int64_t)(b->cap - b->len - 1));
		if ((rc = avro_value_write(w, v)) == 0)
			break;
		if (rc != ENOSPC)	/* only a full buffer is worth growing */
			return -1;
		buf_reserve(b, b->cap);
	}
	b->len += (size_t)avro_writer_tell(w);
	return 0;
}
