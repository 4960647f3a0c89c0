/*
 * timeparse.h: calendar arithmetic and time parsing, all in UTC.
 * Nothing here reads the TZ environment variable or calls mktime(3)
 * or localtime(3).
 */
#ifndef CV_TIMEPARSE_H
#define CV_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Days since 1970-01-01 of a date in the proleptic Gregorian calendar
 * (Howard Hinnant's algorithms), and back.  y is the astronomical year
 * (0 is 1 BC), m is 1-12, d is 1-31; the date is not checked.
 */
int64_t	days_from_civil(int y, unsigned m, unsigned d);
void	civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

/*
 * Parse s as a time into milliseconds since the epoch, UTC.  Return 0,
 * or -1 with *why set to a static reason ("day out of range", ...).
 *
 * fmt is a strptime(3) pattern, or NULL to recognise by itself:
 *	2014-12-16				midnight UTC
 *	2014-12-16T12:30, 2014-12-16 12:30:00	T or a space; seconds optional
 *	2014-12-16T12:30:00.250			any number of fraction digits,
 *						cut to milliseconds
 *	... Z, +02:00, -0800, +02		zone; UTC when there is none
 *	Tue Dec 16 2014 12:30:00 GMT-0800 (PST)	JavaScript Date text; the GMT
 *						offset counts, the weekday and
 *						the zone name are not checked
 * Slashed dates such as 12/16/2014 are ambiguous and refused; give a
 * format for them.  Leading and trailing blanks are allowed.
 *
 * With a format, fields it leaves out default to 1970-01-01 00:00:00,
 * a %z offset is honoured, and anything but blanks after the match is
 * an error.  Names (%a, %b) follow LC_TIME, "C" unless the program
 * called setlocale(3).
 *
 * Either way, impossible dates and times (February 30, hour 24, second
 * 60) are refused.
 */
int	time_parse(const char *s, const char *fmt, int64_t *ms,
	    const char **why);
/*
 * Check a strptime pattern before any time is read with it: 0, or -1 with
 * *why when it has a conversion strptime does not know, ends in a lone %,
 * or names no year (every time would fall in 1970).
 */
int	time_format_check(const char *fmt, const char **why);

/*
 * Write ms as ISO 8601 UTC, "2014-12-16T20:30:00.250Z", or without the
 * fraction when it is zero, "2014-12-16T20:30:00Z", into buf of len
 * bytes (32 hold any value).  Return buf.
 */
char	*time_format(int64_t ms, char *buf, size_t len);

/* Write the date of days since the epoch, "2014-12-16"; return buf. */
char	*date_format(int64_t days, char *buf, size_t len);

#endif
