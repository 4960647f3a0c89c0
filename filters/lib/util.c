/* util.c: e-allocators, strict number parsing, growing buffers. */
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"

void *
emalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		err(1, "malloc");
	return p;
}

void *
ecalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		err(1, "calloc");
	return p;
}

void *
erealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		err(1, "realloc");
	return p;
}

char *
estrdup(const char *s)
{
	return estrndup(s, strlen(s));
}

char *
estrndup(const char *s, size_t n)
{
	char *p = emalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
easprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		err(1, "vasprintf");
	va_end(ap);
	return s;
}

static int
only_blanks(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

int
parse_double(const char *s, double *out)
{
	char *end;
	double d;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (end == s || !only_blanks(end) || !isfinite(d) ||
	    strpbrk(s, "xX") != NULL)
		return -1;
	if (errno == ERANGE && fabs(d) > 1)
		return -1;
	*out = d;
	return 0;
}

int
parse_long(const char *s, long long *out)
{
	char *end;
	long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || !only_blanks(end) || errno == ERANGE)
		return -1;
	*out = v;
	return 0;
}

void
buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->len + more + 1 > b->cap)
		b->cap = b->cap ? 2 * b->cap : 256;
	b->p = erealloc(b->p, b->cap);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
buf_addc(struct buf *b, int c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = (char)c;
	b->p[b->len] = '\0';
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		err(1, "vsnprintf");
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_clear(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
fshut(FILE *fp, const char *name)
{
	int bad = 0;

	if (fflush(fp) == EOF || ferror(fp))
		bad = 1;
	if (fp != stdout && fp != stderr && fclose(fp) == EOF)
		bad = 1;
	if (bad) {
		warn("%s", name);
		exit(1);
	}
	return 0;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double
number_arg(int c, const char *s, double lo, double hi, void (*usage)(FILE *))
{
	double d;

	if (parse_double(s, &d) < 0 || !(d >= lo && d <= hi)) {
		warnx("-%c: %s: not a number from %.15g to %.15g", c, s, lo,
		    hi);
		usage(stderr);
		exit(2);
	}
	return d;
}

long
utf8_invalid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, len;
	uint32_t c, min;

	while (i < n) {
		c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			c &= 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			c &= 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			c &= 0x07;
			min = 0x10000;
		} else
			return (long)i;
		if (n - i < len)
			return (long)i;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return (long)i;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return (long)i;
		i += len;
	}
	return -1;
}
