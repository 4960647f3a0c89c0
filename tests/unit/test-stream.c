/*
 * test-stream.c: schema resolution through a source, and the framing
 * round trip.  Files are written with the library's own sink under
 * writer schemas that differ from the reader's; what must come out is set
 * by the Avro specification's resolution rules (a record resolves to the
 * union branch of the same name; int promotes to long; writer fields the
 * reader lacks are skipped; a reader field the writer lacks is an error
 * that names it).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "lib/schema.h"
#include "lib/stream.h"

/* IndexObs with one extra field, fields reordered, period as an int. */
static const char *extra_writer =
    "{\"type\":\"record\",\"name\":\"IndexObs\",\"namespace\":\"cvpipe\","
    "\"fields\":[{\"name\":\"value\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"note\",\"type\":\"string\"},"
    "{\"name\":\"source\",\"type\":\"string\"},"
    "{\"name\":\"segment\",\"type\":\"string\"},"
    "{\"name\":\"region\",\"type\":\"string\"},"
    "{\"name\":\"period\",\"type\":\"int\"},"
    "{\"name\":\"published_at\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"volume\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"days_supply\",\"type\":[\"null\",\"double\"]}]}";

static const char *missing_writer =
    "{\"type\":\"record\",\"name\":\"IndexObs\",\"namespace\":\"cvpipe\","
    "\"fields\":[{\"name\":\"source\",\"type\":\"string\"}]}";

static void
write_one(const char *path, const char *text)
{
	avro_schema_t sc;
	avro_value_iface_t *iface;
	avro_value_t v, f, b;
	struct sink *k;

	if (avro_schema_from_json_length(text, strlen(text), &sc))
		abort();
	iface = avro_generic_class_from_schema(sc);
	avro_generic_value_new(iface, &v);
	avro_value_get_by_name(&v, "source", &f, NULL);
	avro_value_set_string(&f, "bls");
	if (avro_value_get_by_name(&v, "value", &f, NULL) == 0) {
		avro_value_set_branch(&f, 1, &b);
		avro_value_set_double(&b, 123.5);
		avro_value_get_by_name(&v, "note", &f, NULL);
		avro_value_set_string(&f, "dropped by the reader");
		avro_value_get_by_name(&v, "segment", &f, NULL);
		avro_value_set_string(&f, "*");
		avro_value_get_by_name(&v, "region", &f, NULL);
		avro_value_set_string(&f, "west");
		avro_value_get_by_name(&v, "period", &f, NULL);
		avro_value_set_int(&f, 16436);
		avro_value_get_by_name(&v, "published_at", &f, NULL);
		avro_value_set_branch(&f, 0, &b);
		avro_value_get_by_name(&v, "volume", &f, NULL);
		avro_value_set_branch(&f, 0, &b);
		avro_value_get_by_name(&v, "days_supply", &f, NULL);
		avro_value_set_branch(&f, 0, &b);
	}
	k = sink_open(path, text);
	sink_put(k, &v, NULL, 0);
	sink_put(k, &v, NULL, 0);
	sink_close(k);
	avro_value_decref(&v);
	avro_value_iface_decref(iface);
	avro_schema_decref(sc);
}

/* The embedded schema name without the fields listed (an older version). */
static char *
older(const char *name, const char *const *drop, size_t ndrop)
{
	json_t *j = json_loads(schema_text(name), 0, NULL), *fields, *f;
	size_t i, k;
	char *text;

	fields = json_object_get(j, "fields");
	for (i = 0; i < json_array_size(fields); ) {
		f = json_array_get(fields, i);
		for (k = 0; k < ndrop; k++)
			if (strcmp(json_string_value(json_object_get(f,
			    "name")), drop[k]) == 0)
				break;
		if (k < ndrop)
			json_array_remove(fields, i);
		else
			i++;
	}
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return text;
}

/* Fill every field: strings "s", numbers 7, unions null. */
static void
fill_all(avro_value_t *v)
{
	avro_value_t f, b;
	size_t i, n;

	avro_value_get_size(v, &n);
	for (i = 0; i < n; i++) {
		avro_value_get_by_index(v, i, &f, NULL);
		switch (avro_value_get_type(&f)) {
		case AVRO_STRING:
			avro_value_set_string(&f, "s");
			break;
		case AVRO_INT32:
			avro_value_set_int(&f, 7);
			break;
		case AVRO_INT64:
			avro_value_set_long(&f, 7);
			break;
		case AVRO_DOUBLE:
			avro_value_set_double(&f, 7);
			break;
		case AVRO_UNION:
			avro_value_set_branch(&f, 0, &b);
			break;
		default:
			break;
		}
	}
}

/* Write one record under writer text (a record or a union, whose
 * branch is then set) and read it back as reader; returns the count. */
static int
roundtrip(const char *path, const char *text, int branch,
    const char *reader, int (*check)(avro_value_t *))
{
	char *paths[1] = { (char *)path };
	avro_schema_t sc;
	avro_value_iface_t *iface;
	avro_value_t v, b, *rec = &v;
	struct sink *k;
	struct src *s;
	struct rec *r;
	int n = 0;

	if (avro_schema_from_json_length(text, strlen(text), &sc))
		abort();
	iface = avro_generic_class_from_schema(sc);
	avro_generic_value_new(iface, &v);
	if (branch >= 0) {
		avro_value_set_branch(&v, branch, &b);
		rec = &b;
	}
	fill_all(rec);
	k = sink_open(path, text);
	sink_put(k, &v, NULL, 0);
	sink_close(k);
	avro_value_decref(&v);
	avro_value_iface_decref(iface);
	avro_schema_decref(sc);
	s = src_open(paths, 1, reader);
	while (src_next(s, &r) > 0)
		n += check(r->value);
	src_close(s);
	return n;
}

static int
vehicle_defaults(avro_value_t *ev)
{
	avro_value_t v, f;
	const char *cur, *src, *id;
	int disc;

	avro_value_get_discriminant(ev, &disc);
	avro_value_get_current_branch(ev, &v);
	avro_value_get_by_name(&v, "currency", &f, NULL);
	avro_value_get_string(&f, &cur, NULL);
	avro_value_get_by_name(&v, "source", &f, NULL);
	avro_value_get_string(&f, &src, NULL);
	avro_value_get_by_name(&v, "vehicle_id", &f, NULL);
	avro_value_get_string(&f, &id, NULL);
	CHECK(disc == 1 && strcmp(cur, "USD") == 0 && *src == '\0' &&
	    strcmp(id, "s") == 0, "fields the writer lacked take their "
	    "defaults (currency \"%s\", source \"%s\"), the rest its "
	    "values (vehicle_id \"%s\")", cur, src, id);
	return 1;
}

static int
index_defaults(avro_value_t *ev)
{
	avro_value_t v, f;
	int disc, nul;

	avro_value_get_discriminant(ev, &disc);
	avro_value_get_current_branch(ev, &v);
	avro_value_get_by_name(&v, "days_supply", &f, NULL);
	avro_value_get_discriminant(&f, &nul);
	CHECK(disc == 0 && nul == 0, "IndexObs branch, days_supply null "
	    "by default");
	return 1;
}

int
main(void)
{
	char path[] = "/tmp/cv-test-stream.XXXXXX";
	char *paths[1] = { path };
	struct src *s;
	struct rec *r;
	avro_value_t br, f, b;
	const char *str;
	double d;
	int32_t period;
	int disc, n, fd;
	FILE *errf;
	char msg[1024];

	if ((fd = mkstemp(path)) < 0)
		return 1;
	close(fd);
	reject_policy("skip");
	/* Messages go to a file, to check what they say. */
	errf = freopen("/tmp/cv-test-stream.err", "w+", stderr);

	write_one(path, extra_writer);
	s = src_open(paths, 1, "Event");
	n = 0;
	while (src_next(s, &r) > 0) {
		n++;
		avro_value_get_discriminant(r->value, &disc);
		avro_value_get_current_branch(r->value, &br);
		CHECK(disc == 0, "record %d resolves to the IndexObs branch",
		    n);
		avro_value_get_by_name(&br, "source", &f, NULL);
		avro_value_get_string(&f, &str, NULL);
		CHECK(strcmp(str, "bls") == 0, "source survives reordering");
		avro_value_get_by_name(&br, "value", &f, NULL);
		avro_value_get_current_branch(&f, &b);
		avro_value_get_double(&b, &d);
		CHECK(d == 123.5, "value read by name, not position");
		avro_value_get_by_name(&br, "period", &f, NULL);
		avro_value_get_int(&f, &period);
		CHECK(period == 16436, "period 2015-01-01 = day 16436");
	}
	CHECK(n == 2, "both records read (%d)", n);
	src_close(s);

	run_tally.rejected = 0;
	write_one(path, missing_writer);
	s = src_open(paths, 1, "Event");
	n = 0;
	while (src_next(s, &r) > 0)
		n++;
	CHECK(n == 0, "a writer lacking reader fields yields no records");
	CHECK(run_tally.rejected == 2, "its 2 records are counted as rejected "
	    "(%lld)", (long long)run_tally.rejected);
	src_close(s);
	fflush(stderr);
	rewind(errf);
	n = (int)fread(msg, 1, sizeof(msg) - 1, errf);
	msg[n > 0 ? n : 0] = '\0';
	CHECK(strstr(msg, "does not resolve to Event") != NULL &&
	    strstr(msg, "field segment") != NULL,
	    "the error names the schema and the missing field");
	printf("# %s", msg);

	/* Older writers: reader fields with defaults are filled in. */
	{
		static const char *const vdrop[] = { "currency", "source" };
		static const char *const idrop[] = { "days_supply" };
		char *vold = older("VehicleObs", vdrop, 2);
		char *iold = older("IndexObs", idrop, 1);
		char *uold = easprintf("[%s,%s]", iold, vold);

		run_tally.rejected = 0;
		CHECK(roundtrip(path, vold, -1, "Event", vehicle_defaults) == 1,
		    "an older VehicleObs reads as Event");
		CHECK(roundtrip(path, uold, 1, "Event", vehicle_defaults) == 1,
		    "an older Event (vehicle) reads as Event");
		CHECK(roundtrip(path, uold, 0, "Event", index_defaults) == 1,
		    "an older Event (index) reads as Event");
		CHECK(run_tally.rejected == 0, "nothing rejected");
		free(vold);
		free(iold);
		free(uold);
	}

	/* avro-c 1.11 reads freed memory resolving this union writer. */
	{
		char *crash[1] = { "fuzz/crashes/avroc-union-resolve-uaf.avro" };

		run_tally.rejected = 0;
		s = src_open(crash, 1, "Event");
		n = 0;
		while (src_next(s, &r) > 0)
			n++;
		CHECK(n == 0 && run_tally.rejected > 0, "a union writer whose "
		    "branch does not resolve is refused, not a crash");
		src_close(s);
	}

	unlink(path);
	unlink("/tmp/cv-test-stream.err");
	schema_cleanup();
	return CHECK_DONE();
}
