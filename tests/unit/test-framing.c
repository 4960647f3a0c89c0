/*
 * test-framing.c: single-object and Confluent framing against bytes
 * written here by hand, and the ids file's errors with their lines.
 *
 * The fingerprints are not this code's: they were computed in python3
 * from schemas/ with tests/fixtures/kafka-check.py's Parsing Canonical
 * Form and CRC-64-AVRO (checked against the specification's vectors),
 * and python3-avro's canonical_form ({"type":T} read as T) gave the same
 * values.  To recompute after a schema changes: python3
 * tests/fixtures/fingerprints.py (kafka-check.py's definition(),
 * canonical() and crc64_avro() on "cvpipe.NAME").  The
 * Confluent ids are written out big-endian by hand.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lib/framing.h"
#include "lib/schema.h"
#include "lib/util.h"

static const struct {
	const char	*name;
	uint64_t	 fp;
	unsigned char	 le[8];	/* fp as the message holds it */
} fps[] = {
	{ "IndexObs", 0xc56cf1e331184238ULL,
	    { 0x38, 0x42, 0x18, 0x31, 0xe3, 0xf1, 0x6c, 0xc5 } },
	{ "VehicleObs", 0x8fd73bbe19e3ce8fULL,
	    { 0x8f, 0xce, 0xe3, 0x19, 0xbe, 0x3b, 0xd7, 0x8f } },
	{ "Event", 0x4af9843b10fe9954ULL,
	    { 0x54, 0x99, 0xfe, 0x10, 0x3b, 0x84, 0xf9, 0x4a } },
	{ "Features", 0x07860cf081970504ULL,
	    { 0x04, 0x05, 0x97, 0x81, 0xf0, 0x0c, 0x86, 0x07 } },
	{ "Valuation", 0x43dec56d73961e16ULL,
	    { 0x16, 0x1e, 0x96, 0x73, 0x6d, 0xc5, 0xde, 0x43 } },
	{ "Graded", 0x0d070c936022894fULL,
	    { 0x4f, 0x89, 0x22, 0x60, 0x93, 0x0c, 0x07, 0x0d } },
	{ "Warning", 0xcf6cc4f199bfacfeULL,
	    { 0xfe, 0xac, 0xbf, 0x99, 0xf1, 0xc4, 0x6c, 0xcf } },
};

static char path[64];

/* Write text to the scratch file. */
static void
put_file(const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF) {
		perror(path);
		exit(1);
	}
}

/* Load text as the ids: the message, or "" if it loaded. */
static const char *
load(const char *text)
{
	static char got[512];
	char *why = NULL;

	put_file(text);
	got[0] = '\0';
	if (framing_load_ids(path, &why) < 0) {
		snprintf(got, sizeof(got), "%s", why ? why : "(no why)");
		free(why);
	}
	return got;
}

/* Parse len bytes: the name, or "-" and the reason in *why. */
static const char *
parse(const unsigned char *p, size_t len, size_t *off, const char **why)
{
	const char *name = NULL;

	*why = "";
	*off = 999;
	if (framing_parse(p, len, &name, off, why) < 0)
		return "-";
	return name ? name : "(null)";
}

static void
single_object(void)
{
	static const unsigned char features_msg[] = {
		0xc3, 0x01, 0x04, 0x05, 0x97, 0x81, 0xf0, 0x0c, 0x86, 0x07,
		0x02, 0x61, 0x00
	};
	unsigned char head[FRAMING_HEAD_MAX], msg[16];
	const char *why;
	size_t i, len, off;

	for (i = 0; i < NELEM(fps); i++) {
		const char *n = framing_schema_by_fp(fps[i].fp);

		CHECK(n != NULL && strcmp(n, fps[i].name) == 0,
		    "fingerprint %016llx is %s's (got %s)",
		    (unsigned long long)fps[i].fp, fps[i].name, n ? n : "none");
		len = 0;
		CHECK(framing_head(0, fps[i].name, fps[i].fp, head, &len,
		    &why) == 0 && len == 10 && head[0] == 0xc3 &&
		    head[1] == 0x01 && memcmp(head + 2, fps[i].le, 8) == 0,
		    "single-object header of %s: C3 01 and the fingerprint "
		    "little-endian", fps[i].name);
		/* Round trip: the header, then a body of 3 bytes. */
		memcpy(msg, head, 10);
		memcpy(msg + 10, "\x02\x61\x00", 3);
		CHECK(strcmp(parse(msg, 13, &off, &why), fps[i].name) == 0 &&
		    off == 10, "single-object %s: read back, body at 10 (%s)",
		    fps[i].name, why);
	}
	CHECK(framing_schema_by_fp(0x07860cf081970505ULL) == NULL,
	    "a fingerprint one bit off Features's is no schema's");

	CHECK(strcmp(parse(features_msg, sizeof(features_msg), &off, &why),
	    "Features") == 0 && off == 10,
	    "a Features message written by hand: Features, body at 10");
	CHECK(strcmp(parse(features_msg, 10, &off, &why), "Features") == 0 &&
	    off == 10, "a header and no body: Features, body at 10");
	for (len = 0; len < 10; len++)
		CHECK(strcmp(parse(features_msg, len, &off, &why), "-") == 0 &&
		    strstr(why, len == 0 ? "empty message" : "too short") !=
		    NULL, "single-object cut to %zu bytes: %s", len, why);
	CHECK(strcmp(why, "9 bytes: too short for Avro single-object "
	    "encoding (C3 01, 8-byte fingerprint, body)") == 0,
	    "the reason for 9 bytes: %s", why);

	memcpy(msg, features_msg, sizeof(features_msg));
	msg[2] = 0x05;
	CHECK(strcmp(parse(msg, sizeof(features_msg), &off, &why), "-") == 0 &&
	    strcmp(why, "writer schema fingerprint 07860cf081970505: not "
	    "among schemas/") == 0, "an unknown fingerprint: %s", why);
	msg[2] = 0x04;
	msg[1] = 0x02;
	CHECK(strcmp(parse(msg, sizeof(features_msg), &off, &why), "-") == 0 &&
	    strcmp(why, "not Avro single-object encoding (C3 01) or "
	    "Confluent framing (00): begins C3 02") == 0,
	    "C3 02: neither framing: %s", why);
	/* tests/e2e/kafka-delivery.sh greps for the start of this reason. */
	CHECK(strcmp(parse((const unsigned char *)"not an avro record", 18,
	    &off, &why), "-") == 0 && strncmp(why, "not Avro single-object "
	    "encoding", 30) == 0 && strstr(why, "begins 6E 6F") != NULL,
	    "text: neither framing: %s", why);
	CHECK(strcmp(parse((const unsigned char *)"\x01", 1, &off, &why),
	    "-") == 0 && strstr(why, "begins 01") != NULL,
	    "one byte 01: neither framing: %s", why);
}

static void
confluent(void)
{
	/* Written by hand: 7, 16909060 = 0x01020304, 2^31-1 and 0. */
	static const unsigned char m7[] = { 0, 0, 0, 0, 7, 0x02, 0x61 };
	static const unsigned char want[][5] = {
		{ 0, 0x00, 0x00, 0x00, 0x07 },
		{ 0, 0x01, 0x02, 0x03, 0x04 },
		{ 0, 0x7f, 0xff, 0xff, 0xff },
		{ 0, 0x00, 0x00, 0x00, 0x00 },
	};
	static const char *names[] = { "Features", "Event", "Warning",
	    "IndexObs" };
	unsigned char head[FRAMING_HEAD_MAX], msg[8];
	const char *why, *got;
	char exp[256];
	size_t i, len, off;

	/* Before any ids are read. */
	CHECK(framing_head(1, "Features", fps[3].fp, head, &len, &why) < 0 &&
	    strstr(why, "--schema-ids") != NULL,
	    "Confluent header and no ids: %s", why);
	CHECK(strcmp(parse(m7, sizeof(m7), &off, &why), "-") == 0 &&
	    strcmp(why, "Confluent framing (schema id 7) and no schema ids "
	    "(--schema-ids)") == 0, "Confluent message and no ids: %s", why);

	got = load("# the test's registry\n"
	    "7 cvpipe.Features   # a comment after\n"
	    "\n"
	    "   \t\n"
	    "16909060\tEvent\r\n"
	    "2147483647 cvpipe.Warning\n"
	    "0 IndexObs");
	CHECK(*got == '\0', "an ids file with comments, blanks, CRLF, no "
	    "last newline: %s", got);
	for (i = 0; i < NELEM(names); i++) {
		len = 0;
		CHECK(framing_head(1, names[i], 0, head, &len, &why) == 0 &&
		    len == 5 && memcmp(head, want[i], 5) == 0,
		    "Confluent header of %s: 00, id big-endian", names[i]);
		memcpy(msg, head, 5);
		memcpy(msg + 5, "\x02\x61", 2);
		CHECK(strcmp(parse(msg, 7, &off, &why), names[i]) == 0 &&
		    off == 5, "Confluent %s: read back, body at 5 (%s)",
		    names[i], why);
	}
	CHECK(framing_head(1, "cvpipe.Event", 0, head, &len, &why) == 0 &&
	    len == 5 && memcmp(head, want[1], 5) == 0,
	    "Confluent header by full name cvpipe.Event");
	CHECK(framing_head(0, "Features", fps[3].fp, head, &len, &why) == 0 &&
	    len == 10 && memcmp(head + 2, fps[3].le, 8) == 0,
	    "ids read: single-object still on request");
	snprintf(exp, sizeof(exp), "schema Valuation: no id in %s", path);
	CHECK(framing_head(1, "Valuation", fps[4].fp, head, &len, &why) < 0 &&
	    strcmp(why, exp) == 0, "Confluent header, no id: %s", why);

	CHECK(strcmp(parse(m7, sizeof(m7), &off, &why), "Features") == 0 &&
	    off == 5, "a message written by hand, id 7: Features, body at 5");
	for (len = 0; len < 5; len++)
		CHECK(strcmp(parse(m7, len, &off, &why), "-") == 0 &&
		    strstr(why, len == 0 ? "empty message" : "too short") !=
		    NULL, "Confluent cut to %zu bytes: %s", len, why);
	CHECK(strcmp(why, "4 bytes: too short for Confluent framing (00, "
	    "4-byte schema id, body)") == 0, "the reason for 4 bytes: %s", why);
	for (len = 5; len <= sizeof(m7); len++)
		CHECK(strcmp(parse(m7, len, &off, &why), "Features") == 0 &&
		    off == 5, "Confluent of %zu bytes: the body is not "
		    "framing's to check", len);

	memcpy(msg, m7, sizeof(m7));
	msg[4] = 8;
	snprintf(exp, sizeof(exp), "schema id 8: not in %s", path);
	CHECK(strcmp(parse(msg, sizeof(m7), &off, &why), "-") == 0 &&
	    strcmp(why, exp) == 0, "an id not in the file: %s", why);
	msg[1] = 0x80;
	msg[4] = 0;
	snprintf(exp, sizeof(exp), "schema id 2147483648: not in %s", path);
	CHECK(strcmp(parse(msg, sizeof(m7), &off, &why), "-") == 0 &&
	    strcmp(why, exp) == 0, "id 80 00 00 00 read unsigned: %s", why);
}

static void
ids_errors(void)
{
	static const struct {
		const char	*text;
		const char	*want;	/* after "path:" */
	} cases[] = {
		{ "7 Features\nx Event\n", "2: not a number: \"x\"" },
		{ "0x10 Features\n", "1: not a number: \"0x10\"" },
		{ "+5 Features\n", "1: not a number: \"+5\"" },
		{ "- Features\n", "1: not a number: \"-\"" },
		{ "# c\n\n-1 Event\n", "3: id -1: out of range 0..2147483647" },
		{ "2147483648 Event\n",
		    "1: id 2147483648: out of range 0..2147483647" },
		{ "99999999999999999999999 Event\n",
		    "1: id 99999999999999999999999: out of range "
		    "0..2147483647" },
		{ "1 Features\n2 Nope\n",
		    "2: schema Nope: not among schemas/" },
		{ "1 other.Features\n",
		    "1: schema other.Features: not among schemas/" },
		{ "1 Features\n\n1 Event\n", "3: id 1: duplicate of line 1" },
		{ "01 Features\n1 Event\n", "2: id 1: duplicate of line 1" },
		{ "1 Features\n2 cvpipe.Features\n",
		    "2: schema cvpipe.Features: duplicate of line 1" },
		{ "1\n", "1: expected ID NAME, found \"1\" alone" },
		{ "1 Features extra\n",
		    "1: expected ID NAME, found more: \"extra\"" },
	};
	static const unsigned char m1[] = { 0, 0, 0, 0, 1, 0x02 };
	const char *got, *why;
	char want[512];
	size_t i, off;

	for (i = 0; i < NELEM(cases); i++) {
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].want);
		got = load(cases[i].text);
		CHECK(strcmp(got, want) == 0, "ids file case %zu: %s", i + 1,
		    got);
	}
	CHECK(strcmp(parse(m1, sizeof(m1), &off, &why), "-") == 0 &&
	    strstr(why, "no schema ids") != NULL,
	    "after a bad ids file no ids are left: %s", why);

	CHECK(*load("") == '\0', "an empty ids file loads");
	CHECK(strcmp(parse(m1, sizeof(m1), &off, &why), "-") == 0 &&
	    strstr(why, "schema id 1: not in") != NULL,
	    "with no ids read from it, id 1 is not in it: %s", why);

	unlink(path);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	{
		char *w = NULL;

		CHECK(framing_load_ids(path, &w) < 0 && w != NULL &&
		    strcmp(w, want) == 0, "a missing ids file: %s",
		    w ? w : "");
		free(w);
	}
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/ids.XXXXXX",
	    tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if ((fd = mkstemp(path)) < 0) {
		perror(path);
		return 1;
	}
	close(fd);
	single_object();
	confluent();
	ids_errors();
	unlink(path);
	framing_cleanup();
	schema_cleanup();
	return CHECK_DONE();
}
