/*
 * test-walk.c: record spans and malformed encodings, on bytes encoded by
 * hand from the Avro specification's "Binary Encoding" rules (zig-zag
 * varints: 1 -> 02, 2 -> 04, -1 -> 01; strings are a length then bytes;
 * a union its branch index then the value; arrays and maps blocks of a
 * count then items, ended by 0).
 */
#include <string.h>

#include "check.h"
#include "lib/avrowalk.h"

static const char *schema_json =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"u\",\"type\":[\"null\",\"double\"]},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"A\",\"B\"]}},"
    "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
    "\"size\":2}},"
    "{\"name\":\"b\",\"type\":\"boolean\"}]}";

/* l=1, s="ab", u=double 0.0, a=[1,2], m={k:v}, e=B, f=xy, b=true */
static const char good[] = {
	0x02,			/* l */
	0x04, 'a', 'b',		/* s */
	0x02, 0, 0, 0, 0, 0, 0, 0, 0,	/* u: branch 1, 8 bytes */
	0x04, 0x02, 0x04, 0x00,	/* a: 2 items, end */
	0x02, 0x02, 'k', 0x02, 'v', 0x00,	/* m */
	0x02,			/* e */
	'x', 'y',		/* f */
	0x01			/* b */
};

static void
check_bad(struct walker *w, int at, char byte, const char *want)
{
	char buf[sizeof(good)];
	const char *why = "";
	long n;

	memcpy(buf, good, sizeof(buf));
	buf[at] = byte;
	n = walker_span(w, buf, sizeof(buf), &why);
	CHECK(n < 0 && strcmp(why, want) == 0, "byte %d = %d: %s (got %ld, "
	    "%s)", at, byte, want, n, n < 0 ? why : "accepted");
}

int
main(void)
{
	avro_schema_t s;
	struct walker *w;
	const char *why = NULL;
	char two[2 * sizeof(good)];
	long n;

	if (avro_schema_from_json_length(schema_json, strlen(schema_json),
	    &s))
		return 1;
	w = walker_new(s);
	n = walker_span(w, good, sizeof(good), &why);
	CHECK(n == (long)sizeof(good), "span of the whole record: %ld of %zu",
	    n, sizeof(good));
	memcpy(two, good, sizeof(good));
	memcpy(two + sizeof(good), good, sizeof(good));
	n = walker_span(w, two, sizeof(two), &why);
	CHECK(n == (long)sizeof(good), "first of two records ends in time");
	n = walker_span(w, good, sizeof(good) - 1, &why);
	CHECK(n < 0 && strcmp(why, "record runs past its block") == 0,
	    "a record cut short is refused");
	check_bad(w, 1, 0x01, "negative length");
	check_bad(w, 1, 0x7e, "length runs past its block");
	check_bad(w, 4, 0x04, "union branch out of range");
	check_bad(w, 13, 0x7e, "item count runs past its block");
	check_bad(w, 23, 0x04, "enum index out of range");
	check_bad(w, 26, 0x02, "boolean neither 0 nor 1");
	memset(two, (char)0x80, 12);
	n = walker_span(w, two, sizeof(two), &why);
	CHECK(n < 0 && strcmp(why, "varint longer than 10 bytes") == 0,
	    "an 11-byte varint is refused");
	walker_free(w);
	avro_schema_decref(s);

	/*
	 * Items of no bytes are capped over the whole record: 300 blocks of
	 * 2^20 nulls each (each block: varint 2^20 = zig-zag 2^21 = 80 80 80
	 * 01) ask for 3e8 items in 1.2 KB.  And an int must fit 32 bits:
	 * 80 80 80 80 20 (zig-zag of 2^32) is too big.
	 */
	{
		static const char *js = "{\"type\":\"record\",\"name\":"
		    "\"N\",\"fields\":[{\"name\":\"a\",\"type\":{"
		    "\"type\":\"array\",\"items\":\"null\"}},{\"name\":"
		    "\"i\",\"type\":\"int\"}]}";
		static const char big_int[] = { (char)0x80, (char)0x80,
		    (char)0x80, (char)0x80, 0x20 };
		char bomb[300 * 4 + 1 + 1];
		int k;

		avro_schema_from_json_length(js, strlen(js), &s);
		w = walker_new(s);
		for (k = 0; k < 300; k++)
			memcpy(bomb + 4 * k, "\x80\x80\x80\x01", 4);
		bomb[1200] = 0;
		bomb[1201] = 0;
		n = walker_span(w, bomb, sizeof(bomb), &why);
		CHECK(n < 0 && strcmp(why, "too many items of no bytes") == 0,
		    "3e8 null items in 1.2 KB are refused");
		bomb[0] = 0;		/* an empty array, then the int */
		memcpy(bomb + 1, big_int, sizeof(big_int));
		n = walker_span(w, bomb, 1 + sizeof(big_int), &why);
		CHECK(n < 0 && strcmp(why, "int out of range") == 0,
		    "an int of 2^31 or more is refused");
		walker_free(w);
		avro_schema_decref(s);
	}
	return CHECK_DONE();
}
