/*
 * test-csv.c: the CSV reader on RFC 4180 text, CR LF and BOM files,
 * quoted fields, bad records and the reader's recovery from them,
 * over-long records, and pipes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/csv.h"
#include "lib/util.h"

/* A stream over the n bytes of s (which may hold NULs). */
static FILE *
mem(const void *s, size_t n)
{
	FILE *fp = tmpfile();

	if (fp == NULL || fwrite(s, 1, n, fp) != n || fseek(fp, 0, SEEK_SET))
		abort();
	return fp;
}

/*
 * Read a record and compare it with the n strings that follow; say
 * what came instead when they differ.
 */
static int
next_is(struct csv_reader *r, int n, ...)
{
	va_list ap;
	char **f;
	const char *want;
	int i, got, same;

	got = csv_next(r, &f);
	same = got == n;
	va_start(ap, n);
	for (i = 0; same && i < n; i++) {
		want = va_arg(ap, const char *);
		same = strcmp(f[i], want) == 0;
	}
	va_end(ap);
	if (!same) {
		printf("# got %d:", got);
		for (i = 0; i < got; i++)
			printf(" [%s]", f[i]);
		if (got == -1)
			printf(" error: %s", csv_error(r));
		printf("\n");
	}
	return same;
}

static int
raw_is(const struct csv_reader *r, const char *want, size_t wantlen)
{
	size_t len;
	const char *raw = csv_raw(r, &len);

	if (len == wantlen && memcmp(raw, want, len) == 0 && raw[len] == '\0')
		return 1;
	printf("# raw %zu bytes: [%.*s]\n", len, (int)len, raw);
	return 0;
}

/* Expect an error with this reason, from this line. */
static int
error_is(struct csv_reader *r, const char *why, long line)
{
	char *sentinel, **f = &sentinel;
	int got = csv_next(r, &f);

	if (got == -1 && f == NULL && strcmp(csv_error(r), why) == 0 &&
	    csv_line(r) == line)
		return 1;
	printf("# got %d, line %ld, error %s\n", got, csv_line(r),
	    got == -1 ? csv_error(r) : "none");
	return 0;
}

static int
at_eof(struct csv_reader *r)
{
	char *sentinel, **f = &sentinel;

	return csv_next(r, &f) == 0 && f == NULL && csv_next(r, &f) == 0;
}

#define OPEN(lit) do {							\
	fp = mem(lit, sizeof(lit) - 1);					\
	r = csv_open(fp, "test.csv");					\
} while (0)

#define CLOSE() do {							\
	csv_close(r);							\
	fclose(fp);							\
} while (0)

static void
test_basic(void)
{
	struct csv_reader *r;
	FILE *fp;

	OPEN("a,b,c\n1,2,3\n");
	CHECK(strcmp(csv_name(r), "test.csv") == 0, "csv_name");
	CHECK(next_is(r, 3, "a", "b", "c"), "header");
	CHECK(csv_line(r) == 1, "header on line 1");
	CHECK(raw_is(r, "a,b,c", 5), "raw without newline");
	CHECK(next_is(r, 3, "1", "2", "3"), "row");
	CHECK(csv_line(r) == 2, "row on line 2");
	CHECK(at_eof(r), "then end of input, twice");
	CLOSE();

	OPEN("a,b\nc,d");
	CHECK(next_is(r, 2, "a", "b"), "line with newline");
	CHECK(next_is(r, 2, "c", "d"), "last line without newline");
	CHECK(raw_is(r, "c,d", 3), "raw of last line");
	CHECK(at_eof(r), "end after last line without newline");
	CLOSE();

	OPEN("a,b\r\n,\r\nc,\"d\"\r\n\r\ne\r\n");
	CHECK(next_is(r, 2, "a", "b"), "CR LF line");
	CHECK(raw_is(r, "a,b", 3), "raw without CR LF");
	CHECK(next_is(r, 2, "", ""), "CR LF line of two empty fields");
	CHECK(next_is(r, 2, "c", "d"), "CR LF after a quoted field");
	CHECK(raw_is(r, "c,\"d\"", 5), "raw keeps quotes");
	CHECK(next_is(r, 1, ""), "blank CR LF line is one empty field");
	CHECK(csv_line(r) == 4, "blank line on line 4");
	CHECK(next_is(r, 1, "e"), "one field");
	CHECK(at_eof(r), "end of CR LF file");
	CLOSE();

	OPEN("a\n\n,,\nb");
	CHECK(next_is(r, 1, "a"), "before blank line");
	CHECK(next_is(r, 1, ""), "blank line is one empty field");
	CHECK(next_is(r, 3, "", "", ""), "three empty fields");
	CHECK(next_is(r, 1, "b"), "after");
	CHECK(at_eof(r), "end");
	CLOSE();

	OPEN("a\rb,c\r\r\n");
	CHECK(next_is(r, 2, "a\rb", "c\r"), "a CR not before LF is data");
	CLOSE();

	OPEN("");
	CHECK(at_eof(r), "empty input");
	CLOSE();

	OPEN("\n");
	CHECK(next_is(r, 1, ""), "one newline is one blank record");
	CHECK(at_eof(r), "and nothing else");
	CLOSE();

	csv_close(NULL);
	CHECK(1, "csv_close(NULL)");
}

static void
test_bom(void)
{
	struct csv_reader *r;
	FILE *fp;

	OPEN("\xef\xbb\xbfid,name\r\n1,x\r\n");
	CHECK(next_is(r, 2, "id", "name"), "BOM skipped");
	CHECK(csv_line(r) == 1, "BOM line is line 1");
	CHECK(raw_is(r, "id,name", 7), "raw without BOM");
	CHECK(next_is(r, 2, "1", "x"), "after BOM header");
	CLOSE();

	OPEN("\xef\xbb\xbf\"q\"\n");
	CHECK(next_is(r, 1, "q"), "quoted field after BOM");
	CLOSE();

	OPEN("\xef\xbb\xbf");
	CHECK(at_eof(r), "only a BOM is empty input");
	CLOSE();

	OPEN("a\n\xef\xbb\xbf" "b\n");
	CHECK(next_is(r, 1, "a"), "first line");
	CHECK(next_is(r, 1, "\xef\xbb\xbf" "b"), "BOM later is data");
	CLOSE();

	OPEN("\xef\xbb" "x,y\n");
	CHECK(next_is(r, 2, "\xef\xbb" "x", "y"), "two bytes of a BOM are data");
	CLOSE();

	OPEN("\xef" ",y\n");
	CHECK(next_is(r, 2, "\xef", "y"), "one byte of a BOM is data");
	CLOSE();

	OPEN("\xef\xbb");
	CHECK(next_is(r, 1, "\xef\xbb"), "a BOM cut short by the end");
	CHECK(at_eof(r), "then the end");
	CLOSE();
}

static void
test_quoted(void)
{
	struct csv_reader *r;
	FILE *fp;

	OPEN("\"a,b\",\"say \"\"hi\"\"\",\"\",\"\"\"\"\n");
	CHECK(next_is(r, 4, "a,b", "say \"hi\"", "", "\""),
	    "commas, escaped quotes, empty and lone quote");
	CLOSE();

	OPEN("1,\"two\nlines\",x\n2,\"three\n\nlines\"\n3,\"cr\r\nlf\"\r\n4\n");
	CHECK(next_is(r, 3, "1", "two\nlines", "x"), "embedded newline");
	CHECK(csv_line(r) == 1, "starts on line 1");
	CHECK(raw_is(r, "1,\"two\nlines\",x", 15), "raw spans two lines");
	CHECK(next_is(r, 2, "2", "three\n\nlines"), "embedded blank line");
	CHECK(csv_line(r) == 3, "starts on line 3");
	CHECK(next_is(r, 2, "3", "cr\r\nlf"), "CR LF inside quotes kept");
	CHECK(csv_line(r) == 6, "starts on line 6");
	CHECK(next_is(r, 1, "4"), "after");
	CHECK(csv_line(r) == 8, "line 8 after embedded newlines");
	CHECK(at_eof(r), "end");
	CLOSE();

	OPEN("\"a\"");
	CHECK(next_is(r, 1, "a"), "quoted field at end of input");
	CLOSE();
}

static void
test_errors(void)
{
	struct csv_reader *r;
	FILE *fp;
	static const char nul[] = "a,b\0c\nok\n1,\"x\0\ny\",2\n3,z\n";

	OPEN("ab\"c,d\nnext,1\n");
	CHECK(error_is(r, "quote inside unquoted field", 1), "bare quote");
	CHECK(raw_is(r, "ab\"c,d", 6), "raw of the bad line");
	CHECK(next_is(r, 2, "next", "1"), "resync after bare quote");
	CHECK(csv_line(r) == 2, "on line 2");
	CLOSE();

	/* The line is skipped even though its quote would open a field. */
	OPEN("5\" wheel,\"x\r\ny,z\r\n");
	CHECK(error_is(r, "quote inside unquoted field", 1), "12\" style");
	CHECK(raw_is(r, "5\" wheel,\"x", 11), "raw without CR LF");
	CHECK(next_is(r, 2, "y", "z"), "next line read");
	CLOSE();

	OPEN("\"ab\"c,d\n\"ab\"\rc\nok\n");
	CHECK(error_is(r, "character after closing quote", 1), "after quote");
	CHECK(error_is(r, "character after closing quote", 2), "CR then c");
	CHECK(next_is(r, 1, "ok"), "resync after closing quote");
	CLOSE();

	fp = mem(nul, sizeof(nul) - 1);
	r = csv_open(fp, "nul.csv");
	CHECK(error_is(r, "NUL byte in input", 1), "NUL byte");
	CHECK(raw_is(r, "a,b\0c", 5), "raw holds the NUL");
	CHECK(next_is(r, 1, "ok"), "next line after NUL");
	CHECK(error_is(r, "NUL byte in input", 3), "NUL in a quoted field");
	CHECK(next_is(r, 2, "3", "z"), "the quoted field was read to its end");
	CHECK(csv_line(r) == 5, "on line 5");
	CLOSE();

	OPEN("a,\"bc\nd\n");
	CHECK(error_is(r, "unterminated quoted field", 1), "open quote");
	CHECK(raw_is(r, "a,\"bc\nd\n", 8), "raw runs to the end");
	CHECK(at_eof(r), "then the end, not a loop");
	CLOSE();

	OPEN("1\n\"\"\"");
	CHECK(next_is(r, 1, "1"), "first line");
	CHECK(error_is(r, "unterminated quoted field", 2), "open after \"\"");
	CHECK(at_eof(r), "then the end");
	CLOSE();

	OPEN("\"a\"\r");
	CHECK(error_is(r, "character after closing quote", 1), "CR at end");
	CHECK(at_eof(r), "then the end");
	CLOSE();

	/* Reading a directory fails with EISDIR. */
	fp = fopen("/", "r");
	r = csv_open(fp, "/");
	CHECK(error_is(r, "read error: Is a directory", 1), "read error");
	CHECK(at_eof(r), "then the end, not a loop");
	CLOSE();

	OPEN("x\ny\"");
	CHECK(next_is(r, 1, "x"), "first");
	CHECK(error_is(r, "quote inside unquoted field", 2), "at end");
	CHECK(at_eof(r), "then the end");
	CLOSE();
}

/* s with n bytes of c inserted at the single '#'. */
static char *
padded(const char *s, size_t n, int c, size_t *len)
{
	const char *hash = strchr(s, '#');
	size_t pre = (size_t)(hash - s), post = strlen(hash + 1);
	char *p = emalloc(pre + n + post + 1);

	memcpy(p, s, pre);
	memset(p + pre, c, n);
	memcpy(p + pre + n, hash + 1, post + 1);
	*len = pre + n + post;
	return p;
}

static void
test_long(void)
{
	struct csv_reader *r;
	FILE *fp;
	char **f, *p;
	size_t len, rawlen, i;
	int n, calls;

	/* A 20 MB record, unquoted, then a good one. */
	p = padded("x,#,y\r\nnext,1\n", 20 * 1000 * 1000, 'a', &len);
	fp = mem(p, len);
	r = csv_open(fp, "big.csv");
	CHECK(error_is(r, "record longer than 16777216 bytes", 1),
	    "20 MB record refused");
	csv_raw(r, &rawlen);
	CHECK(rawlen == CSV_MAX_RECORD && memcmp(csv_raw(r, NULL), "x,aaa", 5)
	    == 0, "raw cut to the limit: %zu", rawlen);
	CHECK(next_is(r, 2, "next", "1"), "resync after 20 MB record");
	CHECK(csv_line(r) == 2, "next record on line 2");
	CHECK(at_eof(r), "end");
	CLOSE();
	free(p);

	/* Exactly the limit passes, CR LF or not; one more byte does not. */
	len = CSV_MAX_RECORD;
	p = emalloc(3 * len + 16);
	memset(p, 'b', len);
	memcpy(p + len, "\r\n", 2);
	memset(p + len + 2, 'c', len);
	p[2 * len + 2] = '\n';
	memset(p + 2 * len + 3, 'd', len + 1);
	memcpy(p + 3 * len + 4, "\nok\n", 4);
	fp = mem(p, 3 * len + 8);
	r = csv_open(fp, "limit.csv");
	n = csv_next(r, &f);
	CHECK(n == 1 && strlen(f[0]) == CSV_MAX_RECORD && f[0][0] == 'b',
	    "16 MiB record with CR LF read");
	n = csv_next(r, &f);
	CHECK(n == 1 && strlen(f[0]) == CSV_MAX_RECORD && f[0][0] == 'c',
	    "16 MiB record with LF read");
	CHECK(error_is(r, "record longer than 16777216 bytes", 3),
	    "16 MiB + 1 refused");
	CHECK(next_is(r, 1, "ok"), "then ok");
	CHECK(at_eof(r), "end");
	CLOSE();
	free(p);

	/*
	 * A 20 MB quoted field with a newline every MB: reading resumes
	 * mid-field, after the line where the limit was passed; what comes
	 * next is garbage, but it ends.
	 */
	p = padded("\"#\"\nlast\n", 20 * 1000 * 1000, 'q', &len);
	for (i = 1; i < 20; i++)
		p[i * 1000 * 1000] = '\n';
	fp = mem(p, len);
	r = csv_open(fp, "quoted.csv");
	CHECK(error_is(r, "record longer than 16777216 bytes", 1),
	    "20 MB quoted field refused");
	for (calls = 0; calls < 100; calls++)
		if (csv_next(r, &f) == 0)
			break;
	CHECK(calls < 100, "reading ends after %d more calls", calls);
	CLOSE();
	free(p);

	/* A large good record and many fields. */
	p = padded("\"#\",x\n", 10 * 1000 * 1000, ',', &len);
	fp = mem(p, len);
	r = csv_open(fp, "ten.csv");
	n = csv_next(r, &f);
	CHECK(n == 2 && strlen(f[0]) == 10 * 1000 * 1000 &&
	    strcmp(f[1], "x") == 0, "10 MB quoted field of commas");
	CLOSE();
	free(p);

	p = padded("#\n", 100000, ',', &len);
	fp = mem(p, len);
	r = csv_open(fp, "wide.csv");
	n = csv_next(r, &f);
	CHECK(n == 100001 && f[0][0] == '\0' && f[100000][0] == '\0',
	    "100001 empty fields: %d", n);
	CLOSE();
	free(p);
}

static void
test_pipe(void)
{
	struct csv_reader *r;
	FILE *fp;
	char **f;
	long n, bad;

	fp = popen("printf '\\357\\273\\277a,b\\r\\n\"c\\nd\",e\\r\\nf\\n'",
	    "r");
	r = csv_open(fp, "pipe");
	CHECK(next_is(r, 2, "a", "b"), "pipe: BOM and CR LF");
	CHECK(next_is(r, 2, "c\nd", "e"), "pipe: embedded newline");
	CHECK(next_is(r, 1, "f"), "pipe: last");
	CHECK(csv_line(r) == 4, "pipe: line 4");
	CHECK(at_eof(r), "pipe: end");
	csv_close(r);
	CHECK(pclose(fp) == 0, "pipe: printf succeeded");

	fp = popen("yes 'a,\"b\"\"\",c' | head -n 200000", "r");
	r = csv_open(fp, "yes");
	for (n = 0, bad = 0; csv_next(r, &f) > 0; n++)
		if (strcmp(f[0], "a") != 0 || strcmp(f[1], "b\"") != 0 ||
		    strcmp(f[2], "c") != 0)
			bad++;
	CHECK(n == 200000 && bad == 0, "pipe: %ld records, %ld bad", n, bad);
	CHECK(csv_line(r) == 200000, "pipe: last line %ld", csv_line(r));
	csv_close(r);
	pclose(fp);
}

int
main(void)
{
	test_basic();
	test_bom();
	test_quoted();
	test_errors();
	test_long();
	test_pipe();
	return CHECK_DONE();
}
