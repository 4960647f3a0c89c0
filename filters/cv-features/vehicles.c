/* cv-features: the vehicles remembered for prev_value, the least recently
 * seen forgotten past the cap (-M). */
#include <stdlib.h>

#include "features.h"

struct vehicle *
vehicle_get(struct state *st, const char *id)
{
	return map_get(st->vehicles, id);
}

static void
vehicle_unlink(struct state *st, struct vehicle *v)
{
	if (v->newer)
		v->newer->older = v->older;
	else
		st->newest = v->older;
	if (v->older)
		v->older->newer = v->newer;
	else
		st->oldest = v->newer;
	v->newer = v->older = NULL;
}

static void
vehicle_push(struct state *st, struct vehicle *v)
{
	v->older = st->newest;
	v->newer = NULL;
	if (st->newest)
		st->newest->newer = v;
	st->newest = v;
	if (st->oldest == NULL)
		st->oldest = v;
}

void
vehicle_free(void *p)
{
	struct vehicle *v = p;

	free(v->id);
	free(v);
}

/*
 * Remember a vehicle's price; the least recently seen go past the cap.
 * v is the vehicle's entry if the caller has looked it up, else NULL.
 */
void
vehicle_remember(struct state *st, struct vehicle *v, const char *id,
    double price, double mpi, int64_t at, uint64_t seq)
{
	if (v == NULL) {
		v = ecalloc(1, sizeof(*v));
		v->id = estrdup(id);
		map_put(st->vehicles, id, v);
	} else
		vehicle_unlink(st, v);
	v->price = price;
	v->mpi = mpi;
	v->at = at;
	v->seq = seq;
	vehicle_push(st, v);
	while (map_count(st->vehicles) > st->o.max_vehicles) {
		struct vehicle *old = st->oldest;

		vehicle_unlink(st, old);
		map_del(st->vehicles, old->id);
		vehicle_free(old);
	}
}
