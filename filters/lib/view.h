/*
 * view.h: read and write records' fields in their Avro binary encoding,
 * without building avro-c values.
 *
 * A stage's output record begins with its input record's fields (schemas
 * "extend" each other), so a stage can copy the input's encoding as it is
 * and encode only the fields it adds.  A view gives the top-level fields
 * of an encoded record: numbers, strings and nullable unions of them.
 */
#ifndef CV_VIEW_H
#define CV_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "lib/avrowalk.h"
#include "lib/util.h"

#define VIEW_MAXFIELDS 128
#define VIEW_MAXKEY 255		/* bytes of a text that may name state */

struct view {
	const char	*p;		/* the record's encoding */
	int		 branch;	/* of a union of records, else -1 */
	int		 nfields;
	unsigned	 off[VIEW_MAXFIELDS + 1];
};

struct rec;

/* The view of a record a source has already checked; -1 if the source
 * could not give its fields (a writer schema that is no record). */
int		 view_of_rec(struct view *, const struct rec *);

/* Map the record at p; 0, or -1 with *why when it is malformed. */
int		 view_parse(struct view *, struct walker *, const char *p,
		    size_t n, const char **why);

/*
 * Field i as a number or text; the view_opt_ forms read a nullable union
 * ["null", T] and give NAN, INT64_MIN or NULL for null.  The types must be
 * what the schema says: the filter checks them once, at start.  Text is
 * copied NUL-terminated into buf; if it has len bytes or more it is not
 * cut (two long keys would become one): buf is then "" and the result
 * NULL, as for null (view_is_null tells them apart).
 */
int		 view_is_null(const struct view *, int i);	/* nullable */
/* A nullable double that holds NaN (not null: NaN is bad data). */
int		 view_opt_nan(const struct view *, int i);
double		 view_double(const struct view *, int i);
int		 view_bool(const struct view *, int i);
double		 view_opt_double(const struct view *, int i);
int64_t		 view_long(const struct view *, int i);	/* int or long */
int64_t		 view_opt_long(const struct view *, int i);
const char	*view_string(const struct view *, int i, char *buf,
		    size_t len);
const char	*view_opt_string(const struct view *, int i, char *buf,
		    size_t len);
/* Bytes of text field i (0 if null, when nullable). */
size_t		 view_text_len(const struct view *, int i, int nullable);
/* Encoding of fields [from, to) of the record. */
const char	*view_span(const struct view *, int from, int to,
		    size_t *len);

/* Encoders for the fields a stage adds (Avro binary encoding). */
void		 enc_long(struct buf *, int64_t);	/* int or long */
void		 enc_double(struct buf *, double);
void		 enc_string(struct buf *, const char *);
void		 enc_bool(struct buf *, int);
/* ["null", T]: null when !has, else branch 1 and the value. */
void		 enc_opt_double(struct buf *, int has, double);
void		 enc_opt_long(struct buf *, int has, int64_t);
void		 enc_opt_string(struct buf *, const char *);	/* NULL: null */
/* Append an avro-c value's encoding, through the memory writer w;
 * -1 with avro_strerror() if avro-c cannot encode it. */
int		 enc_value(struct buf *, avro_writer_t w, avro_value_t *);

#endif
