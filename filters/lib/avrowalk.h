/*
 * avrowalk.h: walk one record's binary encoding by its schema without
 * decoding it, to find where it ends and to prove every length, index and
 * varint in it sane before avro-c sees it.
 *
 * avro-c 1.11 trusts lengths: a negative string length asks malloc for
 * 2^64 bytes, an overlong one leaks (see tests/fuzz/crashes/avroc-*).  A
 * record that walks cleanly cannot trip those, and its byte span lets a
 * filter pass it on without re-encoding.
 */
#ifndef CV_AVROWALK_H
#define CV_AVROWALK_H

#include <stddef.h>

#include <avro.h>

struct walker;

/* Compile schema into a walker; the schema is not kept. */
struct walker	*walker_new(avro_schema_t);
void		 walker_free(struct walker *);

/* Whether the schema refers to itself (avro-c's generic values recurse
 * without end on some such schemas). */
int		 walker_recursive(const struct walker *);

/*
 * Length of the record encoded at p (at most n bytes), or -1 if it is
 * malformed or runs past n; then *why says what was wrong.
 */
long		 walker_span(struct walker *, const char *p, size_t n,
		    const char **why);

/*
 * Where each top-level field of the record encoded at p starts and ends.
 * The schema is a record, or a union whose branches are records: then
 * *branch says which (else it is -1).  Fills off[0..nfields] (off[i] is
 * field i's start, off[nfields] the record's end, offsets from p) for at
 * most max fields; returns nfields, or -1 with *why as walker_span.
 */
int		 walker_fields(struct walker *, const char *p, size_t n,
		    int *branch, unsigned *off, int max, const char **why);

/* Whether walker_fields() applies: a record, or a union of records,
 * of at most max fields each. */
int		 walker_is_record(const struct walker *, int max);

#endif
