/*
 * schema.c: expand the embedded schema files into standalone schemas.
 * Two steps: "extends" is replaced by the base's fields followed by the
 * record's own, then every reference to a type defined in another file is
 * replaced by its definition where the document first uses it (Avro
 * wants a named type defined once, before any reference by name).
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/schema.h"
#include "lib/util.h"

#define NAMESPACE "cvpipe"

extern const struct { const char *name, *text; } schemas_embedded[];

struct cached {
	char		*text;
	avro_schema_t	 schema;
};
static struct cached *cache;
static size_t ncache;

static int
find_file(const char *name)
{
	size_t i, nslen = strlen(NAMESPACE);

	if (strncmp(name, NAMESPACE ".", nslen + 1) == 0)
		name += nslen + 1;
	for (i = 0; schemas_embedded[i].name != NULL; i++)
		if (strcmp(schemas_embedded[i].name, name) == 0)
			return (int)i;
	return -1;
}

static json_t *
parse_file(int i)
{
	json_error_t jerr;
	json_t *j;

	j = json_loads(schemas_embedded[i].text, 0, &jerr);
	if (j == NULL)
		errx(1, "schemas/%s.avsc:%d: %s", schemas_embedded[i].name,
		    jerr.line, jerr.text);
	return j;
}

static void
check_unique_fields(json_t *fields, const char *file)
{
	const char *a, *b;
	size_t i, k;

	for (i = 0; i < json_array_size(fields); i++) {
		a = json_string_value(json_object_get(
		    json_array_get(fields, i), "name"));
		for (k = 0; a != NULL && k < i; k++) {
			b = json_string_value(json_object_get(
			    json_array_get(fields, k), "name"));
			if (b != NULL && strcmp(a, b) == 0)
				errx(1, "schemas/%s.avsc: field %s: defined "
				    "twice (once by extends)", file, a);
		}
	}
}

/* File i's JSON with every "extends" replaced by the base's fields. */
static json_t *
load_flat(int i, int depth)
{
	json_t *j, *ext, *fields, *merged, *base;
	const char *bname;
	int b;

	if (depth > 16)
		errx(1, "schemas/%s.avsc: extends nests too deep",
		    schemas_embedded[i].name);
	j = parse_file(i);
	ext = json_is_object(j) ? json_object_get(j, "extends") : NULL;
	if (ext == NULL)
		return j;
	bname = json_string_value(ext);
	if (bname == NULL || (b = find_file(bname)) < 0)
		errx(1, "schemas/%s.avsc: extends: unknown schema",
		    schemas_embedded[i].name);
	base = load_flat(b, depth + 1);
	merged = json_deep_copy(json_object_get(base, "fields"));
	fields = json_object_get(j, "fields");
	if (!json_is_array(merged) || !json_is_array(fields))
		errx(1, "schemas/%s.avsc: extends: fields missing",
		    schemas_embedded[i].name);
	json_array_extend(merged, fields);
	check_unique_fields(merged, schemas_embedded[i].name);
	json_object_set_new(j, "fields", merged);
	json_object_del(j, "extends");
	json_decref(base);
	return j;
}

struct names {
	char	**v;
	size_t	  n;
};

static int
names_has(struct names *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i], name) == 0)
			return 1;
	return 0;
}

static void
names_add(struct names *d, const char *name)
{
	d->v = erealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = strchr(name, '.') ? estrdup(name) :
	    easprintf("%s.%s", NAMESPACE, name);
}

static json_t *inline_refs(json_t *, struct names *);

/* Replace a reference by its definition if this document lacks it. */
static json_t *
inline_name(json_t *j, struct names *defined)
{
	const char *s = json_string_value(j);
	char *full;
	int i, known;

	full = strchr(s, '.') ? estrdup(s) : easprintf("%s.%s", NAMESPACE, s);
	known = names_has(defined, full);
	free(full);
	if (known || (i = find_file(s)) < 0)
		return j;
	json_decref(j);
	return inline_refs(load_flat(i, 0), defined);
}

/* Walk a schema node; takes ownership of j and returns its replacement. */
static json_t *
inline_refs(json_t *j, struct names *defined)
{
	json_t *t, *f;
	const char *type, *name;
	size_t i;

	if (json_is_string(j))
		return inline_name(j, defined);
	if (json_is_array(j)) {
		for (i = 0; i < json_array_size(j); i++)
			json_array_set_new(j, i, inline_refs(
			    json_incref(json_array_get(j, i)), defined));
		return j;
	}
	if (!json_is_object(j))
		return j;
	t = json_object_get(j, "type");
	type = json_string_value(t);
	name = json_string_value(json_object_get(j, "name"));
	if (type != NULL && name != NULL && (strcmp(type, "record") == 0 ||
	    strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0))
		names_add(defined, name);
	if (type == NULL && t != NULL)
		json_object_set_new(j, "type",
		    inline_refs(json_incref(t), defined));
	else if (type != NULL && strcmp(type, "record") == 0) {
		json_array_foreach(json_object_get(j, "fields"), i, f)
			json_object_set_new(f, "type", inline_refs(
			    json_incref(json_object_get(f, "type")), defined));
	} else if (type != NULL && strcmp(type, "array") == 0)
		json_object_set_new(j, "items", inline_refs(
		    json_incref(json_object_get(j, "items")), defined));
	else if (type != NULL && strcmp(type, "map") == 0)
		json_object_set_new(j, "values", inline_refs(
		    json_incref(json_object_get(j, "values")), defined));
	return j;
}

static struct cached *
lookup(const char *name)
{
	struct names defined = { NULL, 0 };
	json_t *j;
	size_t k;
	int i;

	if ((i = find_file(name)) < 0)
		return NULL;
	if (cache == NULL) {
		while (schemas_embedded[ncache].name != NULL)
			ncache++;
		cache = ecalloc(ncache, sizeof(*cache));
	}
	if (cache[i].text != NULL)
		return &cache[i];
	j = inline_refs(load_flat(i, 0), &defined);
	cache[i].text = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(j);
	for (k = 0; k < defined.n; k++)
		free(defined.v[k]);
	free(defined.v);
	if (cache[i].text == NULL)
		errx(1, "schemas/%s.avsc: cannot serialise", name);
	return &cache[i];
}

const char *
schema_text(const char *name)
{
	struct cached *c = lookup(name);

	return c ? c->text : NULL;
}

avro_schema_t
schema_get(const char *name)
{
	struct cached *c = lookup(name);

	if (c == NULL)
		errx(1, "schema %s: not among schemas/", name);
	if (c->schema == NULL && avro_schema_from_json_length(c->text,
	    strlen(c->text), &c->schema) != 0)
		errx(1, "schemas/%s.avsc: %s", name, avro_strerror());
	return c->schema;
}

const char **
schema_names(void)
{
	static const char *v[64];
	size_t i;

	for (i = 0; schemas_embedded[i].name != NULL && i + 1 < NELEM(v); i++)
		v[i] = schemas_embedded[i].name;
	v[i] = NULL;
	return v;
}

void
schema_cleanup(void)
{
	size_t i;

	for (i = 0; i < ncache; i++) {
		free(cache[i].text);
		if (cache[i].schema != NULL)
			avro_schema_decref(cache[i].schema);
	}
	free(cache);
	cache = NULL;
	ncache = 0;
}
