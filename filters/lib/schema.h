/*
 * schema.h: the record schemas of schemas/, embedded in every program.
 *
 * A schema file may say "extends": "cvpipe.Base" to start its fields with
 * Base's, and may name types defined in other files; schema_text() gives
 * the standalone JSON with both expanded, docs, defaults and logical types
 * kept.  That text is what goes into stream headers.
 */
#ifndef CV_SCHEMA_H
#define CV_SCHEMA_H

#include <avro.h>

/*
 * Standalone JSON text of the schema called name ("Event", "Features",
 * or "cvpipe.Features"), or NULL if there is none.  The text lives as
 * long as the process.
 */
const char	*schema_text(const char *name);

/*
 * The parsed schema called name; the caller does not own it.  A schema
 * that fails to parse is a build error: the program exits.
 */
avro_schema_t	 schema_get(const char *name);

/* Names of all embedded schemas, NULL-terminated. */
const char	**schema_names(void);

/* Release what schema_text()/schema_get() cached (for leak checkers). */
void		 schema_cleanup(void);

#endif
