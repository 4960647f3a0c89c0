/*
 * util.h: allocation that never returns NULL, number parsing, and the
 * small helpers every filter needs.  Running out of memory ends the
 * program, so callers carry no NULL checks.
 */
#ifndef CV_UTIL_H
#define CV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

void	*emalloc(size_t);
void	*ecalloc(size_t, size_t);
void	*erealloc(void *, size_t);
char	*estrdup(const char *);
char	*estrndup(const char *, size_t);
char	*easprintf(const char *, ...) PRINTF(1, 2);

/*
 * Parse all of s as a decimal number.  Leading and trailing blanks are
 * allowed, nothing else.  Return 0 on success, -1 (and leave *out alone)
 * on a malformed, empty or out-of-range value.  parse_double also refuses
 * NaN, infinities and hexadecimal (strtod's 0x10 and 0x1p-1).
 */
int	parse_double(const char *s, double *out);
/*
 * Option -c's argument s as a number from lo to hi; otherwise says so,
 * prints usage(stderr) and exits 2.
 */
double	number_arg(int c, const char *s, double lo, double hi,
	    void (*usage)(FILE *));
int	parse_long(const char *s, long long *out);

/*
 * The offset of the first byte of s[0..n) that is not part of valid
 * UTF-8 (overlong forms, surrogates and code points past U+10FFFF are
 * not), or -1 when all of it is.
 */
long	utf8_invalid(const char *s, size_t n);

/* A growing byte buffer; buf_free(NULL) is a no-op. */
struct buf {
	char	*p;
	size_t	 len, cap;
};
void	buf_reserve(struct buf *, size_t more);
void	buf_add(struct buf *, const void *, size_t);
void	buf_addc(struct buf *, int c);
void	buf_addf(struct buf *, const char *, ...) PRINTF(2, 3);
void	buf_clear(struct buf *);
void	buf_free(struct buf *);

/*
 * Close or flush a stdio stream and exit 1 with "prog: name: reason" on
 * a write error (sbase's fshut).  Returns 0 when all is well.
 */
int	fshut(FILE *, const char *name);

/* Monotonic seconds, for rates printed by -v and the benchmarks. */
double	now_seconds(void);

#endif
