/*
 * evtime.h: a record's event time as the transports order records by it:
 * observed_at, else published_at when it is not null, else period (a
 * date), in milliseconds since 1970 (UTC).  For --from/--until on files;
 * Kafka messages carry the same time as their timestamp.
 */
#ifndef CV_EVTIME_H
#define CV_EVTIME_H

#include <stdint.h>

#include <avro.h>

struct view;
struct evtime;

/* The time fields of writer, a record or a union of records; NULL when
 * no branch has one (of the types above). */
struct evtime	*evtime_new(avro_schema_t writer);
void		 evtime_free(struct evtime *);	/* NULL: a no-op */

/* The event time of the record in view v; INT64_MIN if its branch has
 * none. */
int64_t		 evtime_of(const struct evtime *, const struct view *v);

#endif
