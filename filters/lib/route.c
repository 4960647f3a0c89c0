/* route.c: keys, timestamps and fan-out of records on a topic (see
 * route.h). */
#include <stdlib.h>
#include <string.h>

#include "lib/avrowalk.h"
#include "lib/evtime.h"
#include "lib/route.h"
#include "lib/util.h"
#include "lib/view.h"

#define MAXBRANCH	8

struct router {
	struct walker	*walker;
	struct evtime	*evtime;	/* NULL: no branch has a time */
	int		 key[MAXBRANCH];	/* field index, -1: none */
	int		 index[MAXBRANCH];	/* an IndexObs branch */
	char		 keybuf[256];
};

struct router *
route_new(avro_schema_t sc)
{
	struct router *r = ecalloc(1, sizeof(*r));
	int n = is_avro_union(sc) ? (int)avro_schema_union_size(sc) : 1;
	avro_schema_t b;
	int i;

	r->walker = walker_new(sc);
	r->evtime = evtime_new(sc);
	for (i = 0; i < MAXBRANCH; i++)
		r->key[i] = -1;
	for (i = 0; i < n && i < MAXBRANCH; i++) {
		b = is_avro_union(sc) ? avro_schema_union_branch(sc, i) : sc;
		if (!is_avro_record(b))
			continue;
		r->index[i] = strcmp(avro_schema_name(b), "IndexObs") == 0;
		r->key[i] = avro_schema_record_field_get_index(b,
		    is_avro_union(sc) ? "segment" : "vehicle_id");
		if (r->key[i] < 0)
			r->key[i] = avro_schema_record_field_get_index(b,
			    "segment");
	}
	return r;
}

void
route_free(struct router *r)
{
	if (r == NULL)
		return;
	walker_free(r->walker);
	evtime_free(r->evtime);
	free(r);
}

void
route_of(struct router *r, const void *body, size_t len, struct route *out)
{
	struct view v;
	const char *why;

	if (view_parse(&v, r->walker, body, len, &why) < 0) {
		memset(out, 0, sizeof(*out));
		return;
	}
	route_of_view(r, &v, out);
}

void
route_of_view(struct router *r, const struct view *v, struct route *out)
{
	int64_t t;
	int b = v->branch < 0 ? 0 : v->branch;

	memset(out, 0, sizeof(*out));
	if (b >= MAXBRANCH)
		return;
	if (r->key[b] >= 0 && r->key[b] < v->nfields &&
	    (out->key = view_string(v, r->key[b], r->keybuf,
	    sizeof(r->keybuf))) != NULL)
		out->keylen = strlen(out->key);
	if (r->evtime != NULL && (t = evtime_of(r->evtime, v)) != INT64_MIN)
		out->time_ms = t;
	out->everywhere = r->index[b];
}
