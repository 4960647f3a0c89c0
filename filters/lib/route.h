/*
 * route.h: where a record goes on a topic: its key, its timestamp and
 * whether every partition gets a copy.  The record types' rules live
 * here, so the producer (kout.c) knows messages, keys and times only:
 *   - Event records (a union) are keyed by segment: cv-features keeps
 *     its state per segment, so one segment's records stay in one
 *     partition;
 *   - the records of later stages (Features and after) by vehicle_id, as
 *     the state of cv-grade and cv-warn is per vehicle and per loan, and
 *     a segment's thousands of records would crowd one partition (by
 *     segment when a record has no vehicle_id);
 *   - index records (IndexObs) go to every partition, so that each
 *     partition's consumer sees the market;
 *   - the timestamp is the event time (lib/evtime.h), 0 if none.
 */
#ifndef CV_ROUTE_H
#define CV_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

struct route {
	const char	*key;		/* NULL: none */
	size_t		 keylen;
	int64_t		 time_ms;
	int		 everywhere;	/* a copy to every partition */
};

struct router;

/* The rules for records of schema sc (a record or a union of them). */
struct router	*route_new(avro_schema_t sc);
void		 route_free(struct router *);	/* NULL: a no-op */

/*
 * The route of the record encoded in body; the key points into the
 * router's buffer, valid until the next call.  A body that does not
 * parse gets no key, time 0 and one partition.
 */
void		 route_of(struct router *, const void *body, size_t len,
		    struct route *);
/* The same, from the view of a record already parsed (lib/view.h). */
struct view;
void		 route_of_view(struct router *, const struct view *,
		    struct route *);

#endif
