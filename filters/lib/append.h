/*
 * append.h: a stage that reads records through views and writes each as
 * its input record's bytes followed by the fields the stage adds (the
 * output schema "extends" the input's, see view.h).
 *
 * The reader gives a view of every record in the stage's input schema:
 * the record's own bytes when it was written with that schema, else the
 * record decoded (resolved) by avro-c and encoded again.  The appender
 * encodes the added fields from slots the stage fills by name.
 */
#ifndef CV_APPEND_H
#define CV_APPEND_H

#include <avro.h>

#include "lib/view.h"

struct rec;
struct sink;

/*
 * Position of field name in record schema rec, checked once to have the
 * type the stage reads: 's' string, 'i' int, 'l' long, 'd' double,
 * 'b' boolean,
 * 'L' nullable long, 'D' nullable double, 'S' nullable string.  Exits
 * naming prog if the schema does not say so.
 */
int		 field_pos(avro_schema_t rec, const char *name, int type,
		    const char *prog);

struct reader;

struct reader	*reader_new(avro_schema_t);
void		 reader_free(struct reader *);
/* The record as a view in the reader's schema; NULL if it cannot be
 * decoded (already reported by the source).  Valid until the next call. */
struct view	*reader_view(struct reader *, struct rec *);
/* The walker of the reader's schema, to parse held copies of views. */
struct walker	*reader_walker(struct reader *);

/*
 * One added field's value: has (else null, zero or empty), a number
 * (also a boolean, or an enum's symbol index), text, or a list of text
 * (an array of strings).
 */
struct slot {
	int		 has;
	double		 d;
	const char	*s;
	const char *const *list;
	int		 nlist;
};

struct appender;

/*
 * The fields of record schema out after those of in, each of which must
 * be among names[0..n) (slot i is names[i]); exits naming prog if the
 * schemas disagree with the stage.
 */
struct appender	*appender_new(avro_schema_t in, avro_schema_t out,
		    const char *const *names, int n, const char *prog);
void		 appender_free(struct appender *);
/* Write the view's fields (its record's encoding) and then the slots. */
void		 appender_put(struct appender *, struct sink *,
		    const struct view *, const struct slot *);

#endif
