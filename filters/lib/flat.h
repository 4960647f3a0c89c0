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
#include <stdint.h>

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

/*
 * Typed cells, for a database (cv-store): the columns of flat_row(), each
 * holding the Avro value itself rather than its text.
 */
struct flat_val {
	enum flat_type	 type;		/* flat_valtype() of the column */
	int		 null;		/* null, or another union branch's */
	int64_t		 i;		/* FLAT_INTEGER */
	double		 d;		/* FLAT_REAL */
	const char	*s;		/* FLAT_TEXT: len bytes, then a NUL */
	size_t		 len;
};

/*
 * The type of column i in flat_values(): FLAT_INTEGER for int, long and
 * boolean (0 or 1), dates and timestamps included (the number the record
 * holds: days, milliseconds or microseconds since 1970); FLAT_REAL for
 * float and double; FLAT_TEXT for strings, enum symbols, the "type"
 * column of a union, bytes and fixed (hex), and arrays and maps (one
 * JSON text, as flat_json() writes them).
 */
enum flat_type	 flat_valtype(const struct flat *, size_t i);

/* Whether column i holds a date or a timestamp, and in what unit. */
enum flat_time { FLAT_NOT_TIME, FLAT_DATE, FLAT_MILLIS, FLAT_MICROS };
enum flat_time	 flat_coltime(const struct flat *, size_t i);

/* Render v as flat_ncols() typed cells; valid until the next call or
 * until v is reset. */
const struct flat_val *flat_values(struct flat *, avro_value_t *v);

/* Append v to out as one line of JSON: unions unwrapped, times as text. */
void		 flat_json(struct flat *, avro_value_t *v, struct buf *out);

/* Shortest "%.*g" form of d that reads back as d. */
void		 fmt_double(char *buf, size_t len, double d);

#endif
