/*
 * resolve.c: projections of a reader schema onto what a writer has, and
 * defaults for the rest (see resolve.h).  Records are matched by name,
 * as the specification says, at any depth (inside unions, arrays, maps).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/resolve.h"
#include "lib/util.h"

struct projection {
	json_t		*reader;	/* reader JSON, for the defaults */
	json_t		*records;	/* its records by full name */
	avro_schema_t	 schema;	/* the projection */
	int		 dropped;
};

static const char *
full_name(json_t *o, const char *ns)
{
	static char buf[512];
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *space = json_string_value(json_object_get(o,
	    "namespace"));

	if (name == NULL)
		return NULL;
	if (strchr(name, '.') != NULL)
		return name;
	if (space == NULL)
		space = ns;
	snprintf(buf, sizeof(buf), "%s%s%s", space ? space : "",
	    space && *space ? "." : "", name);
	return buf;
}

/* Record definitions of a schema tree: full name -> the record object. */
static void
collect_records(json_t *j, const char *ns, json_t *out)
{
	json_t *t, *f;
	const char *type, *fn, *space;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, t)
			collect_records(t, ns, out);
		return;
	}
	if (!json_is_object(j))
		return;
	t = json_object_get(j, "type");
	type = json_string_value(t);
	if (type == NULL) {
		collect_records(t, ns, out);
		return;
	}
	if (strcmp(type, "array") == 0)
		collect_records(json_object_get(j, "items"), ns, out);
	else if (strcmp(type, "map") == 0)
		collect_records(json_object_get(j, "values"), ns, out);
	else if (strcmp(type, "record") == 0 &&
	    (fn = full_name(j, ns)) != NULL) {
		char *copy = estrdup(fn), *dot = strrchr(copy, '.');

		json_object_set(out, copy, j);
		space = dot ? (*dot = '\0', copy) : "";
		json_array_foreach(json_object_get(j, "fields"), i, f)
			collect_records(json_object_get(f, "type"), space,
			    out);
		free(copy);
	}
}

static int
has_field(json_t *rec, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(rec, "fields"), i, f)
		if (strcmp(json_string_value(json_object_get(f, "name")),
		    name) == 0)
			return 1;
	return 0;
}

/* Drop from each reader record the defaulted fields its writer lacks. */
static int
project(json_t *reader_records, json_t *writer_records)
{
	const char *name;
	json_t *rrec, *wrec, *fields, *f;
	size_t i;
	int dropped = 0;

	json_object_foreach(reader_records, name, rrec) {
		wrec = json_object_get(writer_records, name);
		if (wrec == NULL)
			continue;
		fields = json_object_get(rrec, "fields");
		for (i = 0; i < json_array_size(fields); ) {
			f = json_array_get(fields, i);
			if (!has_field(wrec, json_string_value(
			    json_object_get(f, "name"))) &&
			    json_object_get(f, "default") != NULL) {
				json_array_remove(fields, i);
				dropped++;
			} else
				i++;
		}
	}
	return dropped;
}

struct projection *
projection_new(const char *writer_text, const char *reader_text,
    char **why)
{
	struct projection *p;
	json_t *w, *r, *proj, *wrecs, *rrecs;
	char *text;
	int dropped;

	*why = NULL;
	w = json_loads(writer_text, 0, NULL);
	r = json_loads(reader_text, 0, NULL);
	proj = r ? json_deep_copy(r) : NULL;
	if (w == NULL || proj == NULL) {
		json_decref(w);
		json_decref(r);
		json_decref(proj);
		return NULL;
	}
	wrecs = json_object();
	rrecs = json_object();
	collect_records(w, "", wrecs);
	/* The projection's records are edited in place through rrecs. */
	collect_records(proj, "", rrecs);
	dropped = project(rrecs, wrecs);
	json_decref(wrecs);
	json_decref(rrecs);
	json_decref(w);
	p = NULL;
	if (dropped > 0) {
		text = json_dumps(proj, JSON_COMPACT);
		p = ecalloc(1, sizeof(*p));
		if (text == NULL || avro_schema_from_json_length(text,
		    strlen(text), &p->schema) != 0) {
			*why = easprintf("projection: %s", avro_strerror());
			free(p);
			p = NULL;
		} else {
			p->reader = json_incref(r);
			p->records = json_object();
			collect_records(p->reader, "", p->records);
			p->dropped = dropped;
		}
		free(text);
	}
	json_decref(proj);
	json_decref(r);
	return p;
}

void
projection_free(struct projection *p)
{
	if (p == NULL)
		return;
	avro_schema_decref(p->schema);
	json_decref(p->records);
	json_decref(p->reader);
	free(p);
}

avro_schema_t
projection_schema(struct projection *p)
{
	return p->schema;
}

/* Set dst to the JSON default d (the specification's default rules). */
static int
set_default(avro_value_t *dst, json_t *d)
{
	avro_value_t br, item;
	avro_schema_t s;
	size_t i;
	json_t *x;

	switch (avro_value_get_type(dst)) {
	case AVRO_NULL:
		return avro_value_set_null(dst);
	case AVRO_BOOLEAN:
		return avro_value_set_boolean(dst, json_is_true(d));
	case AVRO_INT32:
		return avro_value_set_int(dst, (int32_t)json_integer_value(d));
	case AVRO_INT64:
		return avro_value_set_long(dst, json_integer_value(d));
	case AVRO_FLOAT:
		return avro_value_set_float(dst, (float)json_number_value(d));
	case AVRO_DOUBLE:
		return avro_value_set_double(dst, json_number_value(d));
	case AVRO_STRING:
		return avro_value_set_string(dst, json_string_value(d) ?
		    json_string_value(d) : "");
	case AVRO_ENUM:
		s = avro_value_get_schema(dst);
		return avro_value_set_enum(dst, avro_schema_enum_get_by_name(s,
		    json_string_value(d) ? json_string_value(d) : ""));
	case AVRO_UNION:
		/* A union's default belongs to its first branch. */
		if (avro_value_set_branch(dst, 0, &br) != 0)
			return -1;
		return set_default(&br, d);
	case AVRO_ARRAY:
		json_array_foreach(d, i, x)
			if (avro_value_append(dst, &item, NULL) != 0 ||
			    set_default(&item, x) != 0)
				return -1;
		return 0;
	case AVRO_MAP:
		return 0;
	default:
		return -1;
	}
}

static json_t *
field_default(json_t *records, avro_schema_t rec, const char *field)
{
	const char *ns = avro_schema_namespace(rec);
	char name[512];
	json_t *f;
	size_t i;

	snprintf(name, sizeof(name), "%s%s%s", ns ? ns : "", ns && *ns ?
	    "." : "", avro_schema_name(rec));
	json_array_foreach(json_object_get(json_object_get(records, name),
	    "fields"), i, f)
		if (strcmp(json_string_value(json_object_get(f, "name")),
		    field) == 0)
			return json_object_get(f, "default");
	return NULL;
}

static int
fill(json_t *records, avro_value_t *dst, avro_value_t *src)
{
	avro_value_t df, sf, db, sb;
	avro_schema_t ds;
	const char *fname;
	size_t i, n;
	int disc;

	switch (avro_value_get_type(dst)) {
	case AVRO_RECORD:
		ds = avro_value_get_schema(dst);
		avro_value_get_size(dst, &n);
		for (i = 0; i < n; i++) {
			avro_value_get_by_index(dst, i, &df, &fname);
			if (avro_value_get_by_name(src, fname, &sf, NULL) == 0) {
				if (fill(records, &df, &sf) != 0)
					return -1;
			} else if (set_default(&df, field_default(records, ds,
			    fname)) != 0)
				return -1;
		}
		return 0;
	case AVRO_UNION:
		avro_value_get_discriminant(src, &disc);
		avro_value_get_current_branch(src, &sb);
		if (avro_value_set_branch(dst, disc, &db) != 0)
			return -1;
		return fill(records, &db, &sb);
	case AVRO_ARRAY:
	case AVRO_MAP:
		avro_value_get_size(src, &n);
		for (i = 0; i < n; i++) {
			avro_value_get_by_index(src, i, &sf, &fname);
			if ((avro_value_get_type(dst) == AVRO_ARRAY ?
			    avro_value_append(dst, &df, NULL) :
			    avro_value_add(dst, fname, &df, NULL, NULL)) != 0 ||
			    fill(records, &df, &sf) != 0)
				return -1;
		}
		return 0;
	default:
		/* Below here the schemas are the same. */
		return avro_value_copy(dst, src);
	}
}

int
projection_fill(struct projection *p, avro_value_t *dst, avro_value_t *src)
{
	return fill(p->records, dst, src);
}
