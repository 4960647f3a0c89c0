/* append.c: read through views, write input bytes plus added fields. */
#include <err.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/append.h"
#include "lib/stream.h"

int
field_pos(avro_schema_t rec, const char *name, int type, const char *prog)
{
	int i = avro_schema_record_field_get_index(rec, name), ok;
	avro_schema_t f, b;

	if (i < 0)
		errx(1, "schema %s: no field %s", avro_schema_name(rec), name);
	f = avro_schema_record_field_get_by_index(rec, i);
	b = is_avro_union(f) && avro_schema_union_size(f) == 2 &&
	    is_avro_null(avro_schema_union_branch(f, 0)) ?
	    avro_schema_union_branch(f, 1) : NULL;
	switch (type) {
	case 's':
		ok = is_avro_string(f);
		break;
	case 'i':
		ok = is_avro_int32(f);
		break;
	case 'l':
		ok = is_avro_int64(f);
		break;
	case 'd':
		ok = is_avro_double(f);
		break;
	case 'b':
		ok = is_avro_boolean(f);
		break;
	case 'L':
		ok = b != NULL && is_avro_int64(b);
		break;
	case 'S':
		ok = b != NULL && is_avro_string(b);
		break;
	default:
		ok = b != NULL && is_avro_double(b);
		break;
	}
	if (!ok)
		errx(1, "schema %s: field %s: not the type %s reads",
		    avro_schema_name(rec), name, prog);
	return i;
}

struct reader {
	struct walker	*walker;
	struct view	 view;
	struct buf	 canon;		/* a record encoded in our schema */
	avro_writer_t	 mw;
};

struct reader *
reader_new(avro_schema_t schema)
{
	struct reader *rd = ecalloc(1, sizeof(*rd));

	rd->walker = walker_new(schema);
	rd->mw = avro_writer_memory("", 0);
	return rd;
}

void
reader_free(struct reader *rd)
{
	if (rd == NULL)
		return;
	walker_free(rd->walker);
	avro_writer_free(rd->mw);
	buf_free(&rd->canon);
	free(rd);
}

struct walker *
reader_walker(struct reader *rd)
{
	return rd->walker;
}

struct view *
reader_view(struct reader *rd, struct rec *r)
{
	avro_value_t *v;
	const char *p = r->raw, *why;
	size_t n = r->rawlen;

	if (r->same_schema && view_of_rec(&rd->view, r) == 0)
		return &rd->view;
	if (!r->same_schema) {
		if ((v = rec_value(r)) == NULL)
			return NULL;
		buf_clear(&rd->canon);
		if (enc_value(&rd->canon, rd->mw, v) < 0)
			errx(1, "%s: cannot encode: %s", rec_where(r),
			    avro_strerror());
		p = rd->canon.p;
		n = rd->canon.len;
	}
	if (view_parse(&rd->view, rd->walker, p, n, &why) < 0)
		errx(1, "%s: re-encoded record: %s", rec_where(r), why);
	return &rd->view;
}

/* How an added field is encoded, from its type in the schema. */
enum tkind { T_DOUBLE, T_INT, T_LONG, T_STRING, T_BOOL, T_STRINGS,
	T_OPT_DOUBLE, T_OPT_LONG, T_OPT_STRING, T_OPT_ENUM };

struct appender {
	int		 ntail;		/* fields after the input's */
	int		*slot;		/* of each, in schema order */
	enum tkind	*kind;
	struct buf	 out;
};

static enum tkind
kind_of(avro_schema_t f, const char *name, const char *prog)
{
	avro_schema_t b;

	switch (avro_typeof(f)) {
	case AVRO_DOUBLE:
		return T_DOUBLE;
	case AVRO_INT32:
		return T_INT;
	case AVRO_INT64:
		return T_LONG;
	case AVRO_STRING:
		return T_STRING;
	case AVRO_BOOLEAN:
		return T_BOOL;
	case AVRO_ARRAY:
		if (is_avro_string(avro_schema_array_items(f)))
			return T_STRINGS;
		break;
	case AVRO_UNION:
		if (avro_schema_union_size(f) == 2 &&
		    is_avro_null(avro_schema_union_branch(f, 0))) {
			b = avro_schema_union_branch(f, 1);
			if (is_avro_double(b))
				return T_OPT_DOUBLE;
			if (is_avro_int64(b))
				return T_OPT_LONG;
			if (is_avro_string(b))
				return T_OPT_STRING;
			if (is_avro_enum(b))
				return T_OPT_ENUM;
		}
		break;
	default:
		break;
	}
	errx(1, "field %s: a type %s cannot write", name, prog);
}

struct appender *
appender_new(avro_schema_t in, avro_schema_t out, const char *const *names,
    int n, const char *prog)
{
	struct appender *a = ecalloc(1, sizeof(*a));
	size_t ni = avro_schema_record_size(in);
	size_t no = avro_schema_record_size(out), i;
	const char *name;
	int k;

	a->ntail = (int)(no - ni);
	if (a->ntail != n)
		errx(1, "schema %s: %d fields after %s's, %s writes %d",
		    avro_schema_name(out), a->ntail, avro_schema_name(in),
		    prog, n);
	a->slot = ecalloc((size_t)n + 1, sizeof(*a->slot));
	a->kind = ecalloc((size_t)n + 1, sizeof(*a->kind));
	for (i = ni; i < no; i++) {
		name = avro_schema_record_field_name(out, (int)i);
		for (k = 0; k < n; k++)
			if (strcmp(names[k], name) == 0)
				break;
		if (k == n)
			errx(1, "schema %s: field %s: unknown to %s",
			    avro_schema_name(out), name, prog);
		a->slot[i - ni] = k;
		a->kind[i - ni] = kind_of(
		    avro_schema_record_field_get_by_index(out, (int)i), name,
		    prog);
	}
	return a;
}

void
appender_free(struct appender *a)
{
	if (a == NULL)
		return;
	free(a->slot);
	free(a->kind);
	buf_free(&a->out);
	free(a);
}

/* Zig-zag varint at q, as enc_long() writes it; the bytes written. */
static size_t
put_long(char *q, int64_t l)
{
	uint64_t z = ((uint64_t)l << 1) ^ (uint64_t)(l >> 63);
	size_t n = 0;

	while (z > 0x7f) {
		q[n++] = (char)((z & 0x7f) | 0x80);
		z >>= 7;
	}
	q[n++] = (char)z;
	return n;
}

/* Most a number field takes: a branch index and a varint or a double. */
#define MAX_NUMBER	(1 + 10)

void
appender_put(struct appender *a, struct sink *sink, const struct view *v,
    const struct slot *sl)
{
	const struct slot *x;
	const char *p;
	char *q;
	size_t n;
	int i, k;

	buf_clear(&a->out);
	p = view_span(v, 0, v->nfields, &n);
	/* Numbers are written in place, after one reservation: this runs
	 * for every record of every stage. */
	buf_reserve(&a->out, n + (size_t)a->ntail * MAX_NUMBER);
	memcpy(a->out.p, p, n);
	a->out.len = n;
	for (i = 0; i < a->ntail; i++) {
		x = &sl[a->slot[i]];
		q = a->out.p + a->out.len;
		switch (a->kind[i]) {
		case T_DOUBLE:
			memcpy(q, &(double){ x->has && isfinite(x->d) ? x->d :
			    0 }, 8);
			a->out.len += 8;
			break;
		case T_INT:
			a->out.len += put_long(q, x->has ? (int32_t)x->d : 0);
			break;
		case T_LONG:
			a->out.len += put_long(q, x->has ? (int64_t)x->d : 0);
			break;
		case T_BOOL:
			*q = x->has && x->d != 0;
			a->out.len++;
			break;
		case T_OPT_DOUBLE:
			if (x->has && isfinite(x->d)) {
				*q = 2;		/* branch 1, zig-zag */
				memcpy(q + 1, &x->d, 8);
				a->out.len += 9;
			} else {
				*q = 0;
				a->out.len++;
			}
			break;
		case T_OPT_LONG:
		case T_OPT_ENUM:
			*q = x->has ? 2 : 0;
			a->out.len++;
			if (x->has)
				a->out.len += put_long(q + 1, (int64_t)x->d);
			break;
		case T_STRING:
			enc_string(&a->out, x->has && x->s ? x->s : "");
			break;
		case T_OPT_STRING:
			enc_opt_string(&a->out, x->has ? x->s : NULL);
			break;
		case T_STRINGS:
			/* One block of items, then the empty block. */
			if (x->has && x->nlist > 0) {
				enc_long(&a->out, x->nlist);
				for (k = 0; k < x->nlist; k++)
					enc_string(&a->out, x->list[k]);
			}
			enc_long(&a->out, 0);
			break;
		}
		/* Strings may have grown the buffer: keep room for numbers. */
		buf_reserve(&a->out, (size_t)(a->ntail - i) * MAX_NUMBER);
	}
	sink_put_raw(sink, a->out.p, a->out.len, NULL, 0);
}
