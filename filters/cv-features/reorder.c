/* cv-features: records held to be put back in event-time order (-l). */
#include <stdlib.h>
#include <string.h>

#include "features.h"

static int
held_before(const struct held *a, const struct held *b)
{
	return a->key != b->key ? a->key < b->key : a->seq < b->seq;
}

void
held_push(struct reorder *q, const struct view *v, const char *where)
{
	struct held x, tmp;
	size_t i, up;

	x.t = view_time(v);
	x.key = order_key(v, x.t);
	x.seq = q->seq++;
	x.len = v->off[v->nfields];
	x.bytes = estrndup(v->p, x.len);
	x.where = estrdup(where);
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 64;
		q->h = erealloc(q->h, q->cap * sizeof(*q->h));
	}
	i = q->n++;
	q->h[i] = x;
	for (; i > 0 && held_before(&q->h[i], &q->h[up = (i - 1) / 2]);
	    i = up) {
		tmp = q->h[up];
		q->h[up] = q->h[i];
		q->h[i] = tmp;
	}
}

struct held
held_pop(struct reorder *q)
{
	struct held top = q->h[0], tmp;
	size_t i = 0, c;

	q->h[0] = q->h[--q->n];
	for (;;) {
		c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && held_before(&q->h[c + 1], &q->h[c]))
			c++;
		if (!held_before(&q->h[c], &q->h[i]))
			break;
		tmp = q->h[c];
		q->h[c] = q->h[i];
		q->h[i] = tmp;
		i = c;
	}
	return top;
}

void
held_free(struct reorder *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->h[i].bytes);
		free(q->h[i].where);
	}
	free(q->h);
	memset(q, 0, sizeof(*q));
}
