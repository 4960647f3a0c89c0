/*
 * flat.h: records as flat rows and as plain JSON, for people and for
 * tables (cv-cat, cv-store).
 *
 * Column names are stable and come from the schema alone: a field's
 * name, "outer.inner" inside a nested record, the same name for a
 * nullable union ["null", T], and for a union of several types a
 * "type" column plus each branch's columns under "Branch.".  Arrays and
 * maps stay one column ("a;b;c", "k=v;k=v").  Dates and timestamps
 * (logical types read from the schema text) print as ISO 8601 UTC.
 */
#ifndef CV_FLAT_H
#define CV_FLAT_H

#include <stddef.h>

#include <avro.h>

#include "lib/util.h"

enum flat_type { FLAT_INTEGER, FLAT_REAL, FLAT_TEXT };

struct flat;

/* Plan for the schema given as JSON text; NULL with *why (static) set. */
struct flat	*flat_new(const char *schema_text, const char **why);
void		 flat_free(struct flat *);

/* Print doubles in rows with n significant digits (0: exact, default). */
void		 flat_set_digits(struct flat *, int n);

size_t		 flat_ncols(const struct flat *);
const char	*flat_colname(const struct flat *, size_t);
/* Index of the column called name, or -1. */
int		 flat_column(const struct flat *, const char *name);
enum flat_type	 flat_coltype(const struct flat *, size_t);

/*
 * Render v as one row: an array of flat_ncols() strings, NULL for a null
 * or absent cell; valid until the next call.  Numbers print in the
 * shortest form that reads back to the same double.
 */
char *const	*flat_row(struct flat *, avro_value_t *v);

/* Append v to out as one line of JSON: unions unwrapped, times as text. */
void		 flat_json(struct flat *, avro_value_t *v, struct buf *out);

/* Shortest "%.*g" form of d that reads back as d. */
void		 fmt_double(char *buf, size_t len, double d);

#endif
