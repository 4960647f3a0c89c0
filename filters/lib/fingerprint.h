/*
 * fingerprint.h: an Avro schema's Parsing Canonical Form and its 64-bit
 * fingerprint, as the Avro specification defines them ("Parsing
 * Canonical Form for Schemas", "Schema Fingerprints").  Two schemas
 * that read and write the same bytes have the same fingerprint.
 */
#ifndef CV_FINGERPRINT_H
#define CV_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-64-AVRO (Rabin) fingerprint of n bytes at p.  Java and the Avro
 * test vectors print it as a signed long, that is (int64_t)fp; the
 * single-object encoding stores it little-endian.
 */
uint64_t	crc64_avro(const void *p, size_t n);

/*
 * The Parsing Canonical Form of the schema given as len bytes of JSON
 * text (UTF-8; need not be NUL-terminated).  Names become full names
 * (nested namespaces inherited as the specification says, a name with
 * a dot taking no namespace, an unknown short reference looked up in
 * the null namespace as Java does); only name, type, fields, symbols,
 * items, values and size are kept, in that order; a named type appears
 * whole where it is defined and by full name everywhere after.
 *
 * The schema must be valid: names as the specification's
 * [A-Za-z_][A-Za-z0-9_]* (non-ASCII characters also let through, as
 * Java's parser does), no type defined twice or used before its
 * definition, no duplicate field or symbol, no nested union or
 * duplicate branch, a fixed size from 0 to 2^31-1 ("size":"016" is
 * read as 16, per the INTEGERS rule).  "error" is written as "record",
 * as Java does.
 *
 * Returns a malloc'd NUL-terminated string.  On an invalid schema
 * returns NULL and sets *why to a malloc'd one-line message saying
 * where and what, e.g. "record x.Foo: field 3: missing name" (fields,
 * symbols and union branches counted from 1); the caller frees it.
 */
char	*schema_canonical(const char *json, size_t len, char **why);

/*
 * crc64_avro() of schema_canonical().  Returns 0 and sets *fp, or
 * returns -1 and sets *why as schema_canonical() does.
 */
int	 schema_fingerprint(const char *json, size_t len, uint64_t *fp,
	    char **why);

#endif
