/*
 * timeparse.c: civil dates to days and back (Hinnant's algorithms,
 * http://howardhinnant.github.io/date_algorithms.html), ISO 8601 and
 * JavaScript Date text, strptime(3) patterns with %z.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/timeparse.h"

#define MS_PER_DAY	86400000LL

/* The fields of a time before it becomes milliseconds. */
struct civil {
	long	year;
	int	mon, mday, hour, min, sec, msec;
	long	gmtoff;		/* seconds east of UTC */
};

static const char *const monthnames[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec"
};

static const char *const daynames[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat"
};

int64_t
days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;				/* [0, 399] */
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	/* [0, 146096] */

	return era * 146097 + doe - 719468;
}

void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
is_leap(long y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int
month_days(long y, int m)
{
	static const int mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Check the fields and turn them into milliseconds since the epoch. */
static int
civil_to_ms(const struct civil *c, int64_t *ms, const char **why)
{
	int64_t days;

	if (c->year < -999999 || c->year > 999999)
		*why = "year out of range";
	else if (c->mon < 1 || c->mon > 12)
		*why = "month out of range";
	else if (c->mday < 1 || c->mday > month_days(c->year, c->mon))
		*why = "day out of range";
	else if (c->hour < 0 || c->hour > 23)
		*why = "hour out of range";
	else if (c->min < 0 || c->min > 59)
		*why = "minute out of range";
	else if (c->sec < 0 || c->sec > 59)
		*why = "second out of range";
	else {
		days = days_from_civil((int)c->year, (unsigned)c->mon,
		    (unsigned)c->mday);
		*ms = (days * 86400 + c->hour * 3600 + c->min * 60 + c->sec -
		    c->gmtoff) * 1000 + c->msec;
		return 0;
	}
	return -1;
}

/* Read exactly n digits. */
static int
digits(const char **sp, int n, int *out)
{
	const char *s = *sp;
	int v = 0;

	for (; n > 0; n--, s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	*sp = s;
	return 0;
}

/* Read one or two digits. */
static int
digits12(const char **sp, int *out)
{
	if (digits(sp, 2, out) == 0)
		return 0;
	return digits(sp, 1, out);
}

/* Match one of names (lowercase, three letters); return its index. */
static int
name3(const char **sp, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strncasecmp(*sp, names[i], 3) == 0) {
			*sp += 3;
			return i;
		}
	return -1;
}

/* An offset: +HH, +HHMM or +HH:MM (or -). */
static int
zone_offset(const char **sp, long *gmtoff, const char **why)
{
	const char *s = *sp;
	int sign, hh, mm = 0;

	sign = *s == '-' ? -1 : 1;
	s++;
	if (digits(&s, 2, &hh) == -1)
		goto bad;
	if (*s == ':') {
		s++;
		if (digits(&s, 2, &mm) == -1)
			goto bad;
	} else if (isdigit((unsigned char)*s) && digits(&s, 2, &mm) == -1)
		goto bad;
	if (hh > 23 || mm > 59)
		goto bad;
	*gmtoff = sign * (hh * 3600L + mm * 60L);
	*sp = s;
	return 0;
bad:
	*why = "bad time zone offset";
	return -1;
}

static const char *
skip_blanks(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/* 2014-12-16, with an optional time, fraction and zone. */
static int
parse_iso(const char *s, struct civil *c, const char **why)
{
	int y, n;

	*why = "unrecognised time";
	if (digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    digits(&s, 2, &c->mon) == -1 || *s++ != '-' ||
	    digits(&s, 2, &c->mday) == -1)
		return -1;
	c->year = y;
	if ((*s == 'T' || *s == 't' || *s == ' ') &&
	    isdigit((unsigned char)s[1])) {
		s++;
		if (digits(&s, 2, &c->hour) == -1 || *s++ != ':' ||
		    digits(&s, 2, &c->min) == -1)
			return -1;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &c->sec) == -1)
				return -1;
			if ((*s == '.' || *s == ',') &&
			    isdigit((unsigned char)s[1])) {
				s++;
				for (n = 0; isdigit((unsigned char)*s); n++, s++)
					if (n < 3)
						c->msec = c->msec * 10 +
						    (*s - '0');
				for (; n < 3; n++)
					c->msec *= 10;
			}
		}
		if (*s == 'Z' || *s == 'z')
			s++;
		else if ((*s == '+' || *s == '-') &&
		    zone_offset(&s, &c->gmtoff, why) == -1)
			return -1;
	}
	if (*skip_blanks(s) != '\0') {
		*why = "trailing characters after time";
		return -1;
	}
	return 0;
}

/* Tue Dec 16 2014 12:30:00 GMT-0800 (PST), from JavaScript's Date. */
static int
parse_js(const char *s, struct civil *c, const char **why)
{
	int y;

	*why = "unrecognised time";
	if (name3(&s, daynames, 7) == -1 || *s++ != ' ' ||
	    (c->mon = name3(&s, monthnames, 12) + 1) == 0 || *s++ != ' ' ||
	    digits12(&s, &c->mday) == -1 || *s++ != ' ' ||
	    digits(&s, 4, &y) == -1 || *s++ != ' ' ||
	    digits(&s, 2, &c->hour) == -1 || *s++ != ':' ||
	    digits(&s, 2, &c->min) == -1 || *s++ != ':' ||
	    digits(&s, 2, &c->sec) == -1 || strncmp(s, " GMT", 4) != 0)
		return -1;
	c->year = y;
	s += 4;
	if ((*s == '+' || *s == '-') &&
	    zone_offset(&s, &c->gmtoff, why) == -1)
		return -1;
	if (s[0] == ' ' && s[1] == '(') {
		s = strchr(s, ')');
		if (s == NULL)
			return -1;
		s++;
	}
	if (*skip_blanks(s) != '\0') {
		*why = "trailing characters after time";
		return -1;
	}
	return 0;
}

static int
parse_format(const char *s, const char *fmt, struct civil *c,
    const char **why)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 70;
	tm.tm_mday = 1;
	if ((end = strptime(s, fmt, &tm)) == NULL) {
		*why = "time does not match the format";
		return -1;
	}
	if (*skip_blanks(end) != '\0') {
		*why = "trailing characters after time";
		return -1;
	}
	c->year = tm.tm_year + 1900L;
	c->mon = tm.tm_mon + 1;
	c->mday = tm.tm_mday;
	c->hour = tm.tm_hour;
	c->min = tm.tm_min;
	c->sec = tm.tm_sec;
	c->gmtoff = tm.tm_gmtoff;
	return 0;
}

int
time_format_check(const char *fmt, const char **why)
{
	/* glibc strptime(3)'s conversions; E and O may come before some. */
	static const char known[] = "aAbBcCdDeFgGhHIjmMnprRsStTuUVwWxXyYzZ%";
	static const char years[] = "cCDFgGsyY";
	const char *p;
	int year = 0;

	for (p = fmt; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == 'E' || p[1] == 'O')
			p++;
		if (p[1] == '\0') {
			*why = "a % at the end";
			return -1;
		}
		if (strchr(known, p[1]) == NULL) {
			*why = "a conversion strptime does not know";
			return -1;
		}
		year |= strchr(years, p[1]) != NULL;
		p++;
	}
	if (!year) {
		*why = "no year in the format (every time would be in 1970)";
		return -1;
	}
	return 0;
}

int
time_parse(const char *s, const char *fmt, int64_t *ms, const char **why)
{
	struct civil c;
	const char *p;
	int r;

	memset(&c, 0, sizeof(c));
	s = skip_blanks(s);
	if (*s == '\0') {
		*why = "empty time";
		return -1;
	}
	if (fmt != NULL)
		r = parse_format(s, fmt, &c, why);
	else if (isalpha((unsigned char)*s))
		r = parse_js(s, &c, why);
	else {
		for (p = s; isdigit((unsigned char)*p); p++)
			continue;
		if (*p == '/') {
			*why = "ambiguous date: give a format";
			return -1;
		}
		r = parse_iso(s, &c, why);
	}
	if (r == -1)
		return -1;
	return civil_to_ms(&c, ms, why);
}

char *
time_format(int64_t ms, char *buf, size_t len)
{
	int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
	unsigned m, d;
	int y, n;

	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, len, "%s%04d-%02u-%02uT%02d:%02d:%02d",
	    y < 0 ? "-" : "", y < 0 ? -y : y, m, d, (int)(rem / 3600000),
	    (int)(rem / 60000 % 60), (int)(rem / 1000 % 60));
	if (n < 0 || (size_t)n >= len)
		return buf;
	if (rem % 1000 != 0)
		snprintf(buf + n, len - (size_t)n, ".%03dZ", (int)(rem % 1000));
	else
		snprintf(buf + n, len - (size_t)n, "Z");
	return buf;
}

char *
date_format(int64_t days, char *buf, size_t len)
{
	unsigned m, d;
	int y;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%s%04d-%02u-%02u", y < 0 ? "-" : "",
	    y < 0 ? -y : y, m, d);
	return buf;
}
