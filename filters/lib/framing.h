/*
 * framing.h: the bytes around one record in a Kafka message.
 *
 * Two framings, told apart by the first byte:
 *
 *   single-object   C3 01, the writer schema's CRC-64-AVRO fingerprint
 *                   (8 bytes, little-endian), the body (the Avro
 *                   specification, "Single object encoding"); the default
 *   Confluent       00, the schema id (4 bytes, big-endian), the body
 *                   (Confluent's wire format)
 *
 * The writer schema is one of the embedded schemas (schemas/): found by
 * fingerprint, or by id through a file of ids the user gives, since
 * there is no schema registry here.  Pure functions over bytes: no
 * librdkafka.
 */
#ifndef CV_FRAMING_H
#define CV_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#define FRAMING_HEAD_MAX	10	/* the longer header: single-object */

/*
 * The embedded schema (its name as schema_names() gives it, e.g.
 * "Features") whose Parsing Canonical Form has fingerprint fp, or NULL.
 */
const char	*framing_schema_by_fp(uint64_t fp);

/*
 * Read the schema ids from path: one "ID NAME" a line, ID a decimal
 * from 0 to 2^31-1 and NAME an embedded schema ("Features" or
 * "cvpipe.Features"), blanks between; '#' starts a comment, blank lines
 * are skipped.  An id may name one schema and a schema have one id.
 * Replaces ids read before.  Returns 0, or -1 with *why a malloc'd
 * "path:line: what" (or "path: what") the caller frees; the ids read
 * before are then gone too.
 */
int		 framing_load_ids(const char *path, char **why);

/*
 * The header for records of the embedded schema name (fingerprint fp):
 * single-object if confluent is 0, else Confluent with name's id.  Puts
 * *len bytes (10 or 5) at head and returns 0, or returns -1 with *why
 * (static) when name has no id or no ids were read.
 */
int		 framing_head(int confluent, const char *name, uint64_t fp,
		    unsigned char head[FRAMING_HEAD_MAX], size_t *len,
		    const char **why);

/*
 * A message of len bytes at p, in either framing: returns 0 with *name
 * the writer's embedded schema (as framing_schema_by_fp() names it) and
 * *body_off where the body begins, or -1 with *why saying what is wrong
 * (too short, neither framing, a fingerprint not among schemas/, an id
 * not among the ids read, or Confluent framing and no ids read).  *why
 * is valid until the next call.
 */
int		 framing_parse(const unsigned char *p, size_t len,
		    const char **name, size_t *body_off, const char **why);

/* Forget the ids read (for leak checkers). */
void		 framing_cleanup(void);

#endif
