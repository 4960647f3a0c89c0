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

/* ": " after a field path, nothing before the top level's message. */
#define SEP(path)	(*(path) ? ": " : "")

static avro_schema_t
deref(avro_schema_t s)
{
	return is_avro_link(s) ? avro_schema_link_target(s) : s;
}

/* Whether a value of type w can be read as t (same type or promotion). */
static int
promotes(avro_type_t w, avro_type_t t)
{
	if (w == t)
		return 1;
	switch (w) {
	case AVRO_INT32:
		return t == AVRO_INT64 || t == AVRO_FLOAT || t == AVRO_DOUBLE;
	case AVRO_INT64:
		return t == AVRO_FLOAT || t == AVRO_DOUBLE;
	case AVRO_FLOAT:
		return t == AVRO_DOUBLE;
	case AVRO_STRING:
		return t == AVRO_BYTES;
	case AVRO_BYTES:
		return t == AVRO_STRING;
	default:
		return 0;
	}
}

/* The specification's "match" for picking a reader union's branch. */
static int
matches(avro_schema_t w, avro_schema_t r)
{
	if (is_avro_named_type(w) || is_avro_named_type(r))
		return avro_typeof(w) == avro_typeof(r) &&
		    strcmp(avro_schema_name(w), avro_schema_name(r)) == 0;
	if (is_avro_array(w) || is_avro_map(w))
		return avro_typeof(w) == avro_typeof(r);
	return promotes(avro_typeof(w), avro_typeof(r));
}

static int
check(avro_schema_t w, avro_schema_t r, const char *path, char *why,
    size_t len, int depth)
{
	avro_schema_t wf, rf;
	const char *name, *sym;
	char sub[256];
	size_t i, n;
	int rc = 0, k, j;

	w = deref(w);
	r = deref(r);
	if (depth > 64) {
		snprintf(why, len, "%s%snesting too deep", path, SEP(path));
		return -1;
	}
	if (is_avro_union(w)) {
		for (i = 0; i < avro_schema_union_size(w); i++) {
			k = check(avro_schema_union_branch(w, (int)i), r,
			    path, why, len, depth + 1);
			if (k < 0)
				return -1;
			rc |= k;
		}
		return rc;
	}
	if (is_avro_union(r)) {
		for (i = 0; i < avro_schema_union_size(r); i++)
			if (matches(w, avro_schema_union_branch(r, (int)i)))
				return check(w, avro_schema_union_branch(r,
				    (int)i), path, why, len, depth + 1);
		snprintf(why, len, "%s%sno branch of the reader's union takes "
		    "a %s", path, SEP(path), is_avro_named_type(w) ?
		    avro_schema_name(w) : avro_schema_type_name(w));
		return -1;
	}
	if (!matches(w, r)) {
		snprintf(why, len, "%s%swriter's %s cannot be read as %s",
		    path, SEP(path), is_avro_named_type(w) ?
		    avro_schema_name(w) : avro_schema_type_name(w),
		    is_avro_named_type(r) ?
		    avro_schema_name(r) : avro_schema_type_name(r));
		return -1;
	}
	switch (avro_typeof(r)) {
	case AVRO_RECORD:
		n = avro_schema_record_size(r);
		for (i = 0; i < n; i++) {
			name = avro_schema_record_field_name(r, (int)i);
			rf = avro_schema_record_field_get_by_index(r, (int)i);
			snprintf(sub, sizeof(sub), "%s%s%s", path,
			    *path ? "." : "", name);
			/* avro_schema_record_field_get() returns garbage
			 * for a missing name in avro-c 1.11; the index
			 * lookup says -1. */
			j = avro_schema_record_field_get_index(w, name);
			if (j < 0) {
				/* Fine if it has a default, which only the
				 * projection can tell; say so in case not. */
				if (rc == 0)
					snprintf(why, len, "field %s: not in the "
					    "writer's schema and has no default",
					    sub);
				rc = 1;
				continue;
			}
			wf = avro_schema_record_field_get_by_index(w, j);
			if ((k = check(wf, rf, sub, why, len, depth + 1)) < 0)
				return -1;
			rc |= k;
		}
		return rc;
	case AVRO_ENUM:
		for (k = 0; k < avro_schema_enum_number_of_symbols(w); k++) {
			sym = avro_schema_enum_get(w, k);
			j = avro_schema_enum_get_by_name(r, sym);
			if (j < 0) {
				snprintf(why, len, "%s: symbol %s unknown to "
				    "the reader", path, sym);
				return -1;
			}
		}
		return 0;
	case AVRO_FIXED:
		if (avro_schema_fixed_size(w) != avro_schema_fixed_size(r)) {
			snprintf(why, len, "%s: fixed sizes differ", path);
			return -1;
		}
		return 0;
	case AVRO_ARRAY:
		return check(avro_schema_array_items(w),
		    avro_schema_array_items(r), path, why, len, depth + 1);
	case AVRO_MAP:
		return check(avro_schema_map_values(w),
		    avro_schema_map_values(r), path, why, len, depth + 1);
	default:
		return 0;
	}
}

int
resolve_check(avro_schema_t writer, avro_schema_t reader, char *why,
    size_t len)
{
	return check(writer, reader, "", why, len, 0);
}

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
