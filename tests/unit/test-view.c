/*
 * test-view.c: field views and encoders against avro-c, an independent
 * implementation of the same binary encoding: what avro-c writes, a view
 * reads; what the encoders write, avro-c reads.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "lib/view.h"

static const char *schema_json =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"empty\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"long\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"od\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"odn\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"ol\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"oln\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"os\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"osn\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"b\",\"type\":\"boolean\"}]}";

static void
set_branch(avro_value_t *rec, const char *name, int b, avro_value_t *out)
{
	avro_value_t f;

	avro_value_get_by_name(rec, name, &f, NULL);
	avro_value_set_branch(&f, b, out);
}

int
main(void)
{
	avro_schema_t s;
	avro_value_iface_t *iface;
	avro_value_t v, f, br;
	avro_writer_t w;
	avro_reader_t r;
	struct walker *wk;
	struct view vw;
	struct buf b = { 0 };
	char mem[512], text[64];
	const char *why, *str;
	int64_t l;
	int32_t i32;
	double d;
	int disc, t;

	avro_schema_from_json_length(schema_json, strlen(schema_json), &s);
	iface = avro_generic_class_from_schema(s);
	avro_generic_value_new(iface, &v);
	avro_value_get_by_name(&v, "id", &f, NULL);
	avro_value_set_string(&f, "vin123");
	avro_value_get_by_name(&v, "empty", &f, NULL);
	avro_value_set_string(&f, "");
	avro_value_get_by_name(&v, "n", &f, NULL);
	avro_value_set_long(&f, -1234567890123LL);
	avro_value_get_by_name(&v, "i", &f, NULL);
	avro_value_set_int(&f, 2015);
	avro_value_get_by_name(&v, "d", &f, NULL);
	avro_value_set_double(&f, 0.1);
	set_branch(&v, "od", 1, &br);
	avro_value_set_double(&br, -2.5);
	set_branch(&v, "odn", 0, &br);
	set_branch(&v, "ol", 1, &br);
	avro_value_set_long(&br, 0);
	set_branch(&v, "oln", 0, &br);
	set_branch(&v, "os", 1, &br);
	avro_value_set_string(&br, "");
	set_branch(&v, "osn", 0, &br);
	avro_value_get_by_name(&v, "b", &f, NULL);
	avro_value_set_boolean(&f, 1);
	w = avro_writer_memory(mem, sizeof(mem));
	avro_value_write(w, &v);

	wk = walker_new(s);
	CHECK(view_parse(&vw, wk, mem, (size_t)avro_writer_tell(w), &why) ==
	    0 && vw.nfields == 12 && vw.branch == -1, "avro-c's record maps "
	    "to 12 fields");
	CHECK(strcmp(view_string(&vw, 0, text, sizeof(text)), "vin123") == 0,
	    "string");
	CHECK(strcmp(view_string(&vw, 1, text, sizeof(text)), "") == 0,
	    "empty string");
	CHECK(view_long(&vw, 2) == -1234567890123LL, "long");
	CHECK(view_long(&vw, 3) == 2015, "int");
	CHECK(view_double(&vw, 4) == 0.1, "double");
	CHECK(view_opt_double(&vw, 5) == -2.5, "nullable double");
	CHECK(isnan(view_opt_double(&vw, 6)), "null double");
	CHECK(view_opt_long(&vw, 7) == 0, "nullable long 0 is not null");
	CHECK(view_opt_long(&vw, 8) == INT64_MIN, "null long");
	str = view_opt_string(&vw, 9, text, sizeof(text));
	CHECK(str != NULL && *str == '\0', "nullable empty string is not "
	    "null");
	strcpy(text, "stale");
	CHECK(view_opt_string(&vw, 10, text, sizeof(text)) == NULL &&
	    *text == '\0', "null string: NULL, and the buffer emptied (it "
	    "kept what was there)");
	strcpy(text, "stale");
	CHECK(view_string(&vw, 0, text, 6) == NULL && *text == '\0',
	    "text too long for the buffer: NULL and empty, never cut (it "
	    "was cut to \"vin12\", so long keys collided)");
	str = view_string(&vw, 0, text, 7);
	CHECK(str != NULL && strcmp(str, "vin123") == 0, "text that just "
	    "fits");
	CHECK(view_opt_string(&vw, 9, text, 1) != NULL,
	    "an empty nullable string fits one byte");
	CHECK(view_text_len(&vw, 0, 0) == 6 && view_text_len(&vw, 1, 0) ==
	    0 && view_text_len(&vw, 10, 1) == 0, "text lengths");

	/* The encoders' bytes, read by avro-c. */
	enc_string(&b, "vin123");
	enc_string(&b, "");
	enc_long(&b, -1234567890123LL);
	enc_long(&b, 2015);
	enc_double(&b, 0.1);
	enc_opt_double(&b, 1, -2.5);
	enc_opt_double(&b, 0, 0);
	enc_opt_long(&b, 1, 0);
	enc_opt_long(&b, 0, 0);
	enc_opt_string(&b, "");
	enc_opt_string(&b, NULL);
	enc_bool(&b, 1);
	CHECK(b.len == (size_t)avro_writer_tell(w) &&
	    memcmp(b.p, mem, b.len) == 0, "encoders write avro-c's bytes");
	avro_value_reset(&v);
	r = avro_reader_memory(b.p, (int64_t)b.len);
	CHECK(avro_value_read(r, &v) == 0, "avro-c reads the encoders' "
	    "bytes");
	avro_value_get_by_name(&v, "n", &f, NULL);
	avro_value_get_long(&f, &l);
	avro_value_get_by_name(&v, "i", &f, NULL);
	avro_value_get_int(&f, &i32);
	avro_value_get_by_name(&v, "od", &f, NULL);
	avro_value_get_current_branch(&f, &br);
	avro_value_get_double(&br, &d);
	avro_value_get_by_name(&v, "osn", &f, NULL);
	avro_value_get_discriminant(&f, &disc);
	avro_value_get_by_name(&v, "b", &f, NULL);
	avro_value_get_boolean(&f, &t);
	CHECK(l == -1234567890123LL && i32 == 2015 && d == -2.5 && disc == 0 &&
	    t == 1, "values as encoded");

	avro_reader_free(r);
	avro_writer_free(w);
	buf_free(&b);
	walker_free(wk);
	avro_value_decref(&v);
	avro_value_iface_decref(iface);
	avro_schema_decref(s);
	return CHECK_DONE();
}
