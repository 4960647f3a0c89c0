/* framing.c: single-object and Confluent framing (see framing.h). */
#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fingerprint.h"
#include "lib/framing.h"
#include "lib/schema.h"
#include "lib/util.h"

#define ID_MAX	2147483647	/* Confluent's ids are Java ints >= 0 */

/* The embedded schemas by fingerprint, found once. */
static struct known {
	uint64_t	 fp;
	const char	*name;
} known[64];
static int nknown = -1;

/* The ids read, at most one a schema; ids_path NULL if none were. */
static struct id {
	uint32_t	 id;
	const char	*name;		/* as schema_names() has it */
	int		 line;
} ids[64];
static int nids;
static char *ids_path;

/* What framing_head() and framing_parse() say is wrong. */
static char why_buf[PATH_MAX + 100];

static void
find_schemas(void)
{
	const char **names = schema_names();
	const char *text;
	char *why;
	int i;

	if (nknown >= 0)
		return;
	nknown = 0;
	for (i = 0; names[i] != NULL && nknown < (int)NELEM(known); i++) {
		text = schema_text(names[i]);
		if (schema_fingerprint(text, strlen(text), &known[nknown].fp,
		    &why) < 0) {
			warnx("schema %s: %s", names[i], why);
			free(why);
			continue;
		}
		known[nknown++].name = names[i];
	}
}

const char *
framing_schema_by_fp(uint64_t fp)
{
	int i;

	find_schemas();
	for (i = 0; i < nknown; i++)
		if (known[i].fp == fp)
			return known[i].name;
	return NULL;
}

/*
 * The embedded schema called s ("Features" or "cvpipe.Features") by the
 * name schema_names() gives it, or NULL if there is none.
 */
static const char *
embedded_name(const char *s)
{
	const char **names = schema_names();
	const char *base = strrchr(s, '.');
	int i;

	base = base != NULL ? base + 1 : s;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], base) != 0)
			continue;
		/* A full name must have the schemas' namespace. */
		if (base != s && schema_text(s) == NULL)
			return NULL;
		return names[i];
	}
	return NULL;
}

static const struct id *
id_by_name(const char *name)
{
	int i;

	for (i = 0; i < nids; i++)
		if (strcmp(ids[i].name, name) == 0)
			return &ids[i];
	return NULL;
}

static const struct id *
id_by_id(uint32_t id)
{
	int i;

	for (i = 0; i < nids; i++)
		if (ids[i].id == id)
			return &ids[i];
	return NULL;
}

/*
 * One line of an ids file, comment and newline included: 0 and, for a
 * line that is not blank, the entry added; or -1 with *why (malloc'd)
 * saying what is wrong with it.
 */
static int
id_line(char *s, int line, char **why)
{
	const struct id *dup;
	const char *name, *f[3];
	unsigned long long v;
	char *t, *save;
	int n = 0, neg;

	if ((t = strchr(s, '#')) != NULL)
		*t = '\0';
	for (t = strtok_r(s, " \t\r\n", &save); t != NULL && n < 3;
	    t = strtok_r(NULL, " \t\r\n", &save))
		f[n++] = t;
	if (n == 0)
		return 0;
	if (n == 1) {
		*why = easprintf("expected ID NAME, found \"%s\" alone", f[0]);
		return -1;
	}
	if (n == 3) {
		*why = easprintf("expected ID NAME, found more: \"%s\"", f[2]);
		return -1;
	}
	neg = f[0][0] == '-';
	if (f[0][neg] == '\0' || strspn(f[0] + neg, "0123456789") !=
	    strlen(f[0] + neg)) {
		*why = easprintf("not a number: \"%s\"", f[0]);
		return -1;
	}
	errno = 0;
	v = strtoull(f[0] + neg, NULL, 10);
	if (neg || errno == ERANGE || v > ID_MAX) {
		*why = easprintf("id %s: out of range 0..%d", f[0], ID_MAX);
		return -1;
	}
	if ((name = embedded_name(f[1])) == NULL) {
		*why = easprintf("schema %s: not among schemas/", f[1]);
		return -1;
	}
	if ((dup = id_by_id((uint32_t)v)) != NULL) {
		*why = easprintf("id %s: duplicate of line %d", f[0],
		    dup->line);
		return -1;
	}
	if ((dup = id_by_name(name)) != NULL) {
		*why = easprintf("schema %s: duplicate of line %d", f[1],
		    dup->line);
		return -1;
	}
	/* No two entries share a schema, so there is room for all. */
	ids[nids].id = (uint32_t)v;
	ids[nids].name = name;
	ids[nids++].line = line;
	return 0;
}

int
framing_load_ids(const char *path, char **why)
{
	FILE *fp;
	char *s = NULL, *what;
	size_t cap = 0;
	int line = 0, rc = 0;

	framing_cleanup();
	if ((fp = fopen(path, "r")) == NULL) {
		*why = easprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&s, &cap, fp) != -1) {
		if (id_line(s, ++line, &what) < 0) {
			*why = easprintf("%s:%d: %s", path, line, what);
			free(what);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		*why = easprintf("%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(s);
	fclose(fp);
	if (rc < 0)
		nids = 0;
	else
		ids_path = estrdup(path);
	return rc;
}

void
framing_cleanup(void)
{
	free(ids_path);
	ids_path = NULL;
	nids = 0;
}

/* Say what is wrong in why_buf, point *why at it, and return -1. */
static int PRINTF(2, 3)
fail(const char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	*why = why_buf;
	return -1;
}

int
framing_head(int confluent, const char *name, uint64_t fp,
    unsigned char head[FRAMING_HEAD_MAX], size_t *len, const char **why)
{
	const struct id *e;
	const char *n;
	int i;

	if (!confluent) {
		head[0] = 0xc3;
		head[1] = 0x01;
		for (i = 0; i < 8; i++)
			head[2 + i] = (unsigned char)(fp >> (8 * i));
		*len = 10;
		return 0;
	}
	if (ids_path == NULL)
		return fail(why, "Confluent framing needs schema ids "
		    "(--schema-ids)");
	if ((n = embedded_name(name)) == NULL || (e = id_by_name(n)) == NULL)
		return fail(why, "schema %s: no id in %s", name, ids_path);
	head[0] = 0;
	for (i = 0; i < 4; i++)
		head[1 + i] = (unsigned char)(e->id >> (8 * (3 - i)));
	*len = 5;
	return 0;
}

int
framing_parse(const unsigned char *p, size_t len, const char **name,
    size_t *body_off, const char **why)
{
	const struct id *e;
	uint64_t fp = 0;
	uint32_t id = 0;
	int i;

	if (len == 0)
		return fail(why, "empty message: not Avro single-object "
		    "encoding (C3 01) or Confluent framing (00)");
	if (p[0] == 0xc3 && (len < 2 || p[1] == 0x01)) {
		if (len < 10)
			return fail(why, "%zu byte%s: too short for Avro "
			    "single-object encoding (C3 01, 8-byte "
			    "fingerprint, body)", len, len == 1 ? "" : "s");
		for (i = 0; i < 8; i++)
			fp |= (uint64_t)p[2 + i] << (8 * i);
		if ((*name = framing_schema_by_fp(fp)) == NULL)
			return fail(why, "writer schema fingerprint %016" PRIx64
			    ": not among schemas/", fp);
		*body_off = 10;
		return 0;
	}
	if (p[0] == 0) {
		if (len < 5)
			return fail(why, "%zu byte%s: too short for Confluent "
			    "framing (00, 4-byte schema id, body)", len,
			    len == 1 ? "" : "s");
		for (i = 0; i < 4; i++)
			id = id << 8 | p[1 + i];
		if (ids_path == NULL)
			return fail(why, "Confluent framing (schema id %" PRIu32
			    ") and no schema ids (--schema-ids)", id);
		if ((e = id_by_id(id)) == NULL)
			return fail(why, "schema id %" PRIu32 ": not in %s", id,
			    ids_path);
		*name = e->name;
		*body_off = 5;
		return 0;
	}
	if (len == 1)
		return fail(why, "not Avro single-object encoding (C3 01) or "
		    "Confluent framing (00): begins %02X", p[0]);
	return fail(why, "not Avro single-object encoding (C3 01) or "
	    "Confluent framing (00): begins %02X %02X", p[0], p[1]);
}
