/*
 * cv-features: updates wait for a later time.  A record is served from
 * what happened strictly before it, and what it teaches is learned only
 * once a later event arrives (or the input ends); records of one instant
 * are then learned in the order of their encodings.  So the features do
 * not depend on the order in which records of the same instant arrive,
 * which partitions of a topic, merged in event time, do not keep.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"

void
defer(struct state *st, const struct view *v, const struct learn *l)
{
	struct pending *p;

	if (st->npend == st->pendcap) {
		st->pendcap = st->pendcap ? 2 * st->pendcap : 64;
		st->pend = erealloc(st->pend, st->pendcap * sizeof(*st->pend));
	}
	p = &st->pend[st->npend++];
	p->off = st->pendbuf.len;
	p->len = v->off[v->nfields];
	buf_add(&st->pendbuf, v->p, p->len);
	if (l != NULL)
		p->l = *l;
	else
		memset(&p->l, 0, sizeof(p->l));
	st->pend_t = view_time(v);
}

static const char *pend_bytes;	/* for by_encoding() */

static int
by_encoding(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	int c = memcmp(pend_bytes + x->off, pend_bytes + y->off,
	    x->len < y->len ? x->len : y->len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Learn what waits (all of it: the caller knows its time is past). */
void
learn_pending(struct state *st)
{
	struct view v;
	const char *why;
	size_t i;

	pend_bytes = st->pendbuf.p;
	qsort(st->pend, st->npend, sizeof(*st->pend), by_encoding);
	for (i = 0; i < st->npend; i++) {
		if (view_parse(&v, reader_walker(codec.event), st->pendbuf.p +
		    st->pend[i].off, st->pend[i].len, &why) < 0)
			errx(1, "pending update: %s", why);
		if (v.branch == 0)
			learn_index(st, &v);
		else
			learn_sighting(st, &v, &st->pend[i].l);
	}
	st->npend = 0;
	buf_clear(&st->pendbuf);
	/* The instant is learned whole: the pool may refit now. */
	if (st->pool != NULL)
		pool_tick(st->pool);
}
