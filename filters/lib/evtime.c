/* evtime.c: a record's event time from its fields (see evtime.h). */
#include <stdint.h>
#include <string.h>

#include "lib/evtime.h"
#include "lib/util.h"
#include "lib/view.h"

#define MAXBRANCH 16
#define MS_DAY	86400000LL

struct evtime {
	int	observed[MAXBRANCH], published[MAXBRANCH], period[MAXBRANCH];
};

/* Field name of record r if it has type t (a nullable t when opt). */
static int
field_of(avro_schema_t r, const char *name, avro_type_t t, int opt)
{
	int i = avro_schema_record_field_get_index(r, name);
	avro_schema_t f;

	if (i < 0 || i >= VIEW_MAXFIELDS)
		return -1;
	f = avro_schema_record_field_get_by_index(r, i);
	if (opt) {
		if (!is_avro_union(f) || avro_schema_union_size(f) != 2 ||
		    !is_avro_null(avro_schema_union_branch(f, 0)))
			return -1;
		f = avro_schema_union_branch(f, 1);
	}
	return avro_typeof(f) == t ? i : -1;
}

struct evtime *
evtime_new(avro_schema_t w)
{
	struct evtime *e = ecalloc(1, sizeof(*e));
	avro_schema_t r;
	int n = is_avro_union(w) ? (int)avro_schema_union_size(w) : 1;
	int i, any = 0;

	for (i = 0; i < MAXBRANCH; i++)
		e->observed[i] = e->published[i] = e->period[i] = -1;
	for (i = 0; i < n && i < MAXBRANCH; i++) {
		r = is_avro_union(w) ? avro_schema_union_branch(w, i) : w;
		if (!is_avro_record(r))
			continue;
		e->observed[i] = field_of(r, "observed_at", AVRO_INT64, 0);
		e->published[i] = field_of(r, "published_at", AVRO_INT64, 1);
		e->period[i] = field_of(r, "period", AVRO_INT32, 0);
		any |= e->observed[i] >= 0 || e->published[i] >= 0 ||
		    e->period[i] >= 0;
	}
	if (!any) {
		evtime_free(e);
		return NULL;
	}
	return e;
}

void
evtime_free(struct evtime *e)
{
	free(e);
}

int64_t
evtime_of(const struct evtime *e, const struct view *v)
{
	int b = v->branch < 0 ? 0 : v->branch;
	int64_t t;

	if (b >= MAXBRANCH)
		return INT64_MIN;
	if (e->observed[b] >= 0 && e->observed[b] < v->nfields)
		return view_long(v, e->observed[b]);
	if (e->published[b] >= 0 && e->published[b] < v->nfields &&
	    (t = view_opt_long(v, e->published[b])) != INT64_MIN)
		return t;
	if (e->period[b] >= 0 && e->period[b] < v->nfields)
		return view_long(v, e->period[b]) * MS_DAY;
	return INT64_MIN;
}
