/*
 * stream.h: record sources and sinks, the one interface every filter
 * uses whether its records come from files, pipes or (later) Kafka.
 *
 * A source yields records decoded into the schema the filter asked for,
 * each with a key, a position for messages and an acknowledgement; a
 * sink takes records with a key.  The library counts what went through
 * so a filter can end with a summary that reconciles:
 *	read = written + absorbed + rejected
 * (absorbed: records that only update state, e.g. index values in
 * cv-features).
 */
#ifndef CV_STREAM_H
#define CV_STREAM_H

#include <stdint.h>

#include <avro.h>

#include "lib/positions.h"
#include "lib/reject.h"
#include "lib/run.h"
#include "lib/util.h"

/*
 * A filter whose state spans the keys of several partitions (cv-features)
 * or must follow a partition to another instance (cv-grade, cv-warn)
 * calls this before opening its input.  Read from topics in a consumer
 * group, each instance then reads every partition and keeps the whole
 * state, but writes, acknowledges and counts only the records of the
 * partitions the group gave it, from their committed offsets on; the
 * others are replayed: while one is processed, run_replaying is set,
 * sinks drop what is written and rejects are not reported (their
 * owner reports them).  When a partition comes to this instance after
 * it has replayed past the partition's committed offset, reset() is
 * called to empty the state and every partition is read again from the
 * start.  Without topics it changes nothing.
 */
void	stream_keep_state(void (*reset)(void *), void *arg);
/*
 * And with a state file (call after stream_keep_state()): the state
 * reflects its input up to at, read from the file; each partition named
 * there is read from its position, the others from the start (--from).
 * At every checkpoint after which the outputs of all that was read are
 * delivered and its offsets committed (the transaction, under --eos),
 * save(arg, now) is called with where the reading stands: the filter
 * writes its state and now in one sqlite transaction.  Killed at any
 * moment, it then starts from a state and positions that agree; what it
 * reads again up to the group's committed offsets is replayed (its
 * outputs are out already), so under --eos nothing is written twice.
 */
void	stream_resume(const struct positions *at,
	    void (*save)(void *, const struct positions *), void *arg);

struct rec {
	avro_value_t	*value;		/* in the source's value schema */
	const char	*key;		/* NULL for files and pipes */
	size_t		 keylen;
	int64_t		 timestamp_ms;	/* -1 if the transport has none */
	const char	*origin;	/* file name ("-" stdin) or topic */
	int32_t		 partition;	/* -1 for files */
	int64_t		 seqno;		/* record number (1-based) or offset */
	const char	*raw;		/* the record's encoding, in the */
	size_t		 rawlen;	/* writer schema */
	int		 same_schema;	/* writer schema == value schema */
	struct src	*owner;		/* for rec_value() */
	int		 undecodable;	/* src_value() failed (and said so) */
	/* Where raw's top-level fields start, found while checking it:
	 * nfields -1 if the writer schema is not a record (or a union of
	 * them); off[nfields] is the record's end (see lib/view.h). */
	int		 branch, nfields;
	const unsigned	*off;
};

/* The record's value, decoded if the source is lazy (see src_value()). */
avro_value_t	*rec_value(struct rec *);

/* "in.avro: record 812" or "topic[3]@81234", in a static buffer. */
const char	*rec_where(const struct rec *);

struct src;

/*
 * Read the Avro container streams in paths[0..n-1] one after the other
 * (n == 0 or "-": standard input).  Records are decoded into the embedded
 * schema called reader_schema, resolving each writer schema to it; with
 * reader_schema NULL the first writer schema is used for all inputs.
 */
struct src	*src_open(char *const *paths, int n, const char *reader_schema);

/*
 * Merge the inputs in event time: each is read as by src_open() (one
 * path each) and the record with the smallest time(r) comes next; ties go
 * to the earlier input.  Each input must be in time order itself.
 */
struct src	*src_open_merged(char *const *paths, int n,
		    const char *reader_schema, int64_t (*time)(struct rec *));

/*
 * Next record: 1 with *r set (valid until the next call); 0 at the end of
 * every input or after a stop signal; -1 when --on-error fail says stop.
 * Bad input is reported through reject() before this returns.
 */
int		 src_next(struct src *, struct rec **r);

/*
 * Decode values only on demand: src_next then sets r->value to NULL and
 * src_value() decodes it.  A filter that passes most records on as they
 * are (rec->raw, when rec->same_schema) saves the decoding.
 */
void		 src_lazy(struct src *);

/* The value of r, decoding it if needed; NULL if it cannot be decoded
 * (reported through reject(); if the policy says stop, the next
 * src_next() returns -1). */
avro_value_t	*src_value(struct src *, struct rec *r);

/* The record is done with: its outputs have been handed to a sink. */
void		 src_ack(struct src *, struct rec *);

/* Schema of the values src_next yields, and the JSON text of that
 * schema as the writer gave it (NULL before the first header). */
avro_schema_t	 src_schema(struct src *);
const char	*src_schema_text(struct src *);
void		 src_close(struct src *);

struct sink;

/*
 * Write Avro container records to path (NULL or "-": standard output)
 * with schema_text as the header schema.  A write error ends the program
 * with "prog: path: reason" and status 1.
 */
struct sink	*sink_open(const char *path, const char *schema_text);
/*
 * Put a record.  Written to a topic (-T), it gets key (key NULL: the
 * key of its record type, lib/route.h) and its event time as the
 * message's timestamp; files ignore the key.
 */
void		 sink_put(struct sink *, avro_value_t *, const void *key,
		    size_t keylen);
/* Put a record already encoded in the sink's schema. */
void		 sink_put_raw(struct sink *, const void *, size_t,
		    const void *key, size_t keylen);
/* Pass on a source's record as it came (r->same_schema, and the sink's
 * schema is the source's), keyed by its record type. */
void		 sink_put_rec(struct sink *, const struct rec *);
void		 sink_close(struct sink *);
/*
 * A sink in memory, for a program that runs a filter's record functions
 * itself (cv-serve): what is put is appended to a buffer, read by
 * sink_memory() (valid until the next put or clear) and emptied by
 * sink_memory_clear(); sink_close() frees it.
 */
struct sink	*sink_open_memory(void);
const char	*sink_memory(struct sink *, size_t *len);
void		 sink_memory_clear(struct sink *);

#endif
