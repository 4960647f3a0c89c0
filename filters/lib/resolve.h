/*
 * resolve.h: the part of Avro schema resolution that avro-c 1.11 lacks.
 *
 * The specification lets a reader field that the writer lacks take its
 * default; avro-c refuses such a pair ("Reader field x doesn't appear in
 * writer").  A projection is the reader schema without those fields: the
 * writer resolves to it through avro-c, and projection_fill() copies the
 * result into a reader value, filling each missing field with its default.
 */
#ifndef CV_RESOLVE_H
#define CV_RESOLVE_H

#include <avro.h>

/*
 * Check by the specification's rules whether writer resolves to reader,
 * before avro-c is asked: avro-c 1.11 frees memory twice on some pairs
 * it refuses.  Returns 0 if it resolves, 1 if it does once reader fields
 * missing from the writer take their defaults (use a projection), -1 if
 * not, with why (len bytes) naming the field and the reason.
 */
int	resolve_check(avro_schema_t writer, avro_schema_t reader, char *why,
	    size_t len);

struct projection;

/*
 * A projection for writer and reader (both JSON text), or NULL if none
 * is needed or possible; *why (malloc'd) then says why not, when it is
 * something other than "the schemas differ in another way".
 */
struct projection	*projection_new(const char *writer_text,
			    const char *reader_text, char **why);
void			 projection_free(struct projection *);

/* The projected schema, owned by the projection. */
avro_schema_t		 projection_schema(struct projection *);

/* Copy src (a value of the projected schema) into dst (a value of the
 * reader schema), defaults filled in; 0, or -1 on an avro-c error. */
int			 projection_fill(struct projection *,
			    avro_value_t *dst, avro_value_t *src);

#endif
