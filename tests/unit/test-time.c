/*
 * test-time.c: calendar arithmetic, time parsing and formatting.  Every
 * expected number was computed by another tool while writing the test;
 * the command is in the comment beside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "lib/timeparse.h"
#include "lib/util.h"

/* A date and its day number from `date -u -d DATE +%s` / 86400. */
static const struct {
	int	 y;
	unsigned m, d;
	int64_t	 days;
} dates[] = {
	{ 1970, 1, 1, 0 },		/* date ... 1970-01-01 -> 0 */
	{ 2014, 12, 16, 16420 },	/* 2014-12-16 -> 1418688000 */
	{ 2000, 2, 29, 11016 },		/* 2000-02-29 -> 951782400 */
	{ 2024, 2, 29, 19782 },		/* 2024-02-29 -> 1709164800 */
	{ 1969, 12, 31, -1 },		/* 1969-12-31 -> -86400 */
	{ 1960, 2, 29, -3594 },		/* 1960-02-29 -> -310521600 */
	{ 1900, 3, 1, -25508 },		/* 1900-03-01 -> -2203891200 */
	{ 1899, 12, 31, -25568 },	/* 1899-12-31 -> -2209075200 */
	{ 1600, 2, 29, -135081 },	/* 1600-02-29 -> -11670998400 */
	{ 1582, 10, 15, -141427 },	/* 1582-10-15 -> -12219292800 */
	{ 2100, 3, 1, 47541 },		/* 2100-03-01 -> 4107542400 */
	{ 1, 1, 1, -719162 },		/* 0001-01-01 -> -62135596800 */
	{ 9999, 12, 31, 2932896 },	/* 9999-12-31 -> 253402214400 */
};

/* Accepted by automatic detection; ms from `date -u -d TEXT +%s%3N`. */
static const struct {
	const char *s;
	int64_t	 ms;
} good[] = {
	/* date -u -d '2014-12-16 00:00:00' +%s -> 1418688000 */
	{ "2014-12-16", 1418688000000LL },
	{ "  2014-12-16 \t", 1418688000000LL },
	/* date -u -d '2014-12-16 12:30:00' +%s -> 1418733000 */
	{ "2014-12-16T12:30:00Z", 1418733000000LL },
	{ "2014-12-16t12:30:00z", 1418733000000LL },
	{ "2014-12-16 12:30:00", 1418733000000LL },
	{ "2014-12-16T12:30", 1418733000000LL },
	{ "2014-12-16T12:30:00+00:00", 1418733000000LL },
	/* date -u -d '2014-12-16T12:30:00.250+02:00' +%s.%N -> 1418725800.25 */
	{ "2014-12-16T12:30:00.250+02:00", 1418725800250LL },
	{ "2014-12-16T12:30:00.25+0200", 1418725800250LL },
	{ "2014-12-16T12:30:00.2509+02", 1418725800250LL },
	{ "2014-12-16T12:30:00,250+02:00", 1418725800250LL },
	/* date -u -d '2014-12-16T12:30:00-0800' +%s -> 1418761800 */
	{ "2014-12-16T12:30:00-0800", 1418761800000LL },
	{ "2014-12-16T12:30:00-08:00", 1418761800000LL },
	/* date -u -d 'Tue Dec 16 2014 12:30:00 GMT-0800' +%s -> 1418761800 */
	{ "Tue Dec 16 2014 12:30:00 GMT-0800 (PST)", 1418761800000LL },
	{ "Tue Dec 16 2014 12:30:00 GMT-0800", 1418761800000LL },
	{ "tue dec 16 2014 12:30:00 GMT-08:00 (Pacific Standard Time) ",
	    1418761800000LL },
	/* date -u -d 'Wed Jun 17 2015 03:00:00 GMT-0700' +%s -> 1434535200 */
	{ "Wed Jun 17 2015 03:00:00 GMT-0700 (PDT)", 1434535200000LL },
	/* date -u -d '2014-12-16 12:30:00' +%s -> 1418733000 */
	{ "Tue Dec 16 2014 12:30:00 GMT", 1418733000000LL },
	/* date -u -d '2015-03-05 09:00:00 +0100' +%s -> 1425542400 */
	{ "Thu Mar 5 2015 09:00:00 GMT+0100 (CET)", 1425542400000LL },
	/* date -u -d '1969-12-31 23:59:59' +%s -> -1 */
	{ "1969-12-31T23:59:59Z", -1000LL },
	{ "1969-12-31T23:59:59.999Z", -1LL },
	/* date -u -d '1960-02-29 12:00:00' +%s -> -310478400 */
	{ "1960-02-29 12:00:00", -310478400000LL },
	/* date -u -d '2000-02-29' +%s -> 951782400 */
	{ "2000-02-29", 951782400000LL },
};

/* Refused by automatic detection, and why. */
static const struct {
	const char *s, *why;
} bad[] = {
	{ "", "empty time" },
	{ "   ", "empty time" },
	{ "2014-02-30", "day out of range" },
	{ "2015-02-29", "day out of range" },
	{ "1900-02-29", "day out of range" },
	{ "2014-04-31", "day out of range" },
	{ "2014-12-00", "day out of range" },
	{ "2014-13-01", "month out of range" },
	{ "2014-00-01", "month out of range" },
	{ "2014-12-16T25:00:00", "hour out of range" },
	{ "2014-12-16T24:00:00", "hour out of range" },
	{ "2014-12-16T12:60:00", "minute out of range" },
	{ "2014-12-16T12:30:60", "second out of range" },
	{ "2014-12-16T12:30:00+25:00", "bad time zone offset" },
	{ "2014-12-16T12:30:00+0", "bad time zone offset" },
	{ "12/16/2014", "ambiguous date: give a format" },
	{ "2014/12/16", "ambiguous date: give a format" },
	{ "2014-12-16x", "trailing characters after time" },
	{ "2014-12-16T", "trailing characters after time" },
	{ "2014-12-16T12:30:00 PST", "trailing characters after time" },
	{ "2014-12-16 12", "unrecognised time" },
	{ "2014-1-16", "unrecognised time" },
	{ "14-12-16", "unrecognised time" },
	{ "1418733000", "unrecognised time" },
	{ "Tue Dec 16 2014 12:30:00", "unrecognised time" },
	{ "Tue Dec 16 2014 12:30:00 GMT-0800 (PST", "unrecognised time" },
	{ "Tue Dec 16 2014 12:30:00 GMT-0800 x", "trailing characters after time" },
	{ "Tue Dez 16 2014 12:30:00 GMT-0800", "unrecognised time" },
	{ "Tue Feb 30 2014 12:30:00 GMT-0800", "day out of range" },
	{ "Tue Dec 16 2014 12:30:00 GMT-2500", "bad time zone offset" },
	{ "yesterday", "unrecognised time" },
	{ "-", "unrecognised time" },
};

/* With a format; expected ms from `date -u -d ... +%s`. */
static const struct {
	const char *s, *fmt;
	int64_t	 ms;
} fmtgood[] = {
	/* date -u -d '2014-12-16' +%s -> 1418688000 */
	{ "16/12/2014", "%d/%m/%Y", 1418688000000LL },
	{ "12/16/2014 \t", "%m/%d/%Y", 1418688000000LL },
	/* date -u -d '2014-12-16 12:30 +0200' +%s -> 1418725800 */
	{ "2014-12-16 12:30 +0200", "%Y-%m-%d %H:%M %z", 1418725800000LL },
	{ "2014-12-16 12:30 +02:00", "%Y-%m-%d %H:%M %z", 1418725800000LL },
	/* date -u -d '2014-12-16 12:30 -0800' +%s -> 1418761800 */
	{ "Dec 16 2014 12:30:00 -0800", "%b %d %Y %H:%M:%S %z",
	    1418761800000LL },
	/* date -u -d '2014-12-16 12:30' +%s -> 1418733000 */
	{ "2014-12-16 12:30 Z", "%Y-%m-%d %H:%M %z", 1418733000000LL },
	/* date -u -d '2014-12-01' +%s -> 1417392000 */
	{ "2014-12", "%Y-%m", 1417392000000LL },
	/* 12:30 on 1970-01-01: 45000 s */
	{ "12:30", "%H:%M", 45000000LL },
	/* date -u -d @1418761800 -> the same instant */
	{ "1418761800", "%s", 1418761800000LL },
};

static const struct {
	const char *s, *fmt, *why;
} fmtbad[] = {
	{ "2014-02-30", "%Y-%m-%d", "day out of range" },
	{ "2014-12-16 25:00", "%Y-%m-%d %H:%M",
	    "time does not match the format" },
	{ "2014-13-01", "%Y-%m-%d", "time does not match the format" },
	{ "2014-12-16x", "%Y-%m-%d", "trailing characters after time" },
	{ "2014-12-16 12:30", "%Y-%m-%d", "trailing characters after time" },
	{ "16/12/2014", "%Y-%m-%d", "time does not match the format" },
	{ "2014-12-16 12:30:60", "%Y-%m-%d %H:%M:%S", "second out of range" },
};

/* Formatted milliseconds; from python3 datetime(1970,1,1) + timedelta. */
static const struct {
	int64_t	 ms;
	const char *text;
} formats[] = {
	{ 0, "1970-01-01T00:00:00Z" },
	{ 1418761800000LL, "2014-12-16T20:30:00Z" },
	{ 1418725800250LL, "2014-12-16T10:30:00.250Z" },
	{ -1, "1969-12-31T23:59:59.999Z" },
	{ 951868799999LL, "2000-02-29T23:59:59.999Z" },
	{ -62135596800000LL, "0001-01-01T00:00:00Z" },
	{ 253402300799999LL, "9999-12-31T23:59:59.999Z" },
	{ 1000, "1970-01-01T00:00:01Z" },
	{ 1, "1970-01-01T00:00:00.001Z" },
};

static int
is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* The date after y-m-d, by the calendar's rules rather than day numbers. */
static void
next_date(int *y, unsigned *m, unsigned *d)
{
	static const unsigned mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	unsigned last = *m == 2 && is_leap(*y) ? 29 : mdays[*m - 1];

	if (++*d <= last)
		return;
	*d = 1;
	if (++*m <= 12)
		return;
	*m = 1;
	++*y;
}

static void
test_days(void)
{
	int64_t z, bad_rt = 0, bad_next = 0;
	unsigned m, d, m2, d2;
	size_t i;
	int y, y2;
	char buf[32];

	for (i = 0; i < NELEM(dates); i++) {
		CHECK(days_from_civil(dates[i].y, dates[i].m, dates[i].d) ==
		    dates[i].days, "days_from_civil %04d-%02u-%02u",
		    dates[i].y, dates[i].m, dates[i].d);
		civil_from_days(dates[i].days, &y, &m, &d);
		CHECK(y == dates[i].y && m == dates[i].m && d == dates[i].d,
		    "civil_from_days %lld -> %d-%u-%u",
		    (long long)dates[i].days, y, m, d);
	}

	/*
	 * Over 5,500 years either side of the epoch: each day number maps
	 * back to itself, and day z + 1 is the calendar's next date.
	 */
	civil_from_days(-2000000, &y2, &m2, &d2);
	for (z = -2000000; z <= 2000000; z++) {
		civil_from_days(z, &y, &m, &d);
		if (days_from_civil(y, m, d) != z)
			bad_rt++;
		if (y != y2 || m != m2 || d != d2)
			bad_next++;
		next_date(&y2, &m2, &d2);
	}
	CHECK(bad_rt == 0, "round trip over 4M days: %lld bad",
	    (long long)bad_rt);
	CHECK(bad_next == 0, "consecutive days over 4M days: %lld bad",
	    (long long)bad_next);

	/* 0000-03-01 is 366 days after -0001-03-01: year 0 is leap. */
	CHECK(days_from_civil(0, 3, 1) - days_from_civil(-1, 3, 1) == 366,
	    "year 0 is a leap year");
	CHECK(days_from_civil(0, 12, 31) + 1 == days_from_civil(1, 1, 1),
	    "year 0 ends before year 1");

	/* date -u -d 2014-12-16 ... and date -u -d 1969-12-31 */
	CHECK(strcmp(date_format(16420, buf, sizeof(buf)), "2014-12-16") == 0,
	    "date_format 16420: %s", buf);
	CHECK(strcmp(date_format(-1, buf, sizeof(buf)), "1969-12-31") == 0,
	    "date_format -1: %s", buf);
	CHECK(strcmp(date_format(-719162, buf, sizeof(buf)), "0001-01-01") ==
	    0, "date_format -719162: %s", buf);
}

static void
test_parse(void)
{
	const char *why;
	int64_t ms;
	size_t i;
	int r;

	for (i = 0; i < NELEM(good); i++) {
		ms = 42;
		why = NULL;
		r = time_parse(good[i].s, NULL, &ms, &why);
		CHECK(r == 0 && ms == good[i].ms, "auto \"%s\" -> %lld (%s)",
		    good[i].s, (long long)ms, r == 0 ? "ok" : why);
	}
	for (i = 0; i < NELEM(bad); i++) {
		why = NULL;
		r = time_parse(bad[i].s, NULL, &ms, &why);
		CHECK(r == -1 && why != NULL && strcmp(why, bad[i].why) == 0,
		    "auto refuses \"%s\": %s", bad[i].s, r == -1 ? why : "ok");
	}
	for (i = 0; i < NELEM(fmtgood); i++) {
		ms = 42;
		why = NULL;
		r = time_parse(fmtgood[i].s, fmtgood[i].fmt, &ms, &why);
		CHECK(r == 0 && ms == fmtgood[i].ms,
		    "\"%s\" as %s -> %lld (%s)", fmtgood[i].s, fmtgood[i].fmt,
		    (long long)ms, r == 0 ? "ok" : why);
	}
	for (i = 0; i < NELEM(fmtbad); i++) {
		why = NULL;
		r = time_parse(fmtbad[i].s, fmtbad[i].fmt, &ms, &why);
		CHECK(r == -1 && why != NULL &&
		    strcmp(why, fmtbad[i].why) == 0,
		    "\"%s\" as %s refused: %s", fmtbad[i].s, fmtbad[i].fmt,
		    r == -1 ? why : "ok");
	}
}

static void
test_format(void)
{
	char buf[32], small[8];
	const char *why;
	int64_t ms;
	size_t i;

	for (i = 0; i < NELEM(formats); i++) {
		time_format(formats[i].ms, buf, sizeof(buf));
		CHECK(strcmp(buf, formats[i].text) == 0, "time_format %lld: %s",
		    (long long)formats[i].ms, buf);
		CHECK(time_parse(buf, NULL, &ms, &why) == 0 &&
		    ms == formats[i].ms, "%s parses back", buf);
	}
	/* The extremes fit in 32 bytes and do not overflow. */
	time_format(INT64_MAX, buf, sizeof(buf));
	CHECK(strlen(buf) < sizeof(buf), "time_format INT64_MAX: %s", buf);
	time_format(INT64_MIN, buf, sizeof(buf));
	CHECK(strlen(buf) < sizeof(buf), "time_format INT64_MIN: %s", buf);
	time_format(1418725800250LL, small, sizeof(small));
	CHECK(strcmp(small, "2014-12") == 0, "time_format truncates: %s",
	    small);
}

/* The local time zone must make no difference. */
static void
test_tz(void)
{
	const char *why;
	int64_t ms;

	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
	/* date -u -d '2014-12-16 12:30:00' +%s -> 1418733000 */
	CHECK(time_parse("2014-12-16 12:30:00", NULL, &ms, &why) == 0 &&
	    ms == 1418733000000LL, "auto under TZ=America/Los_Angeles");
	CHECK(time_parse("2014-12-16 12:30:00", "%Y-%m-%d %H:%M:%S", &ms,
	    &why) == 0 && ms == 1418733000000LL,
	    "format under TZ=America/Los_Angeles");
	CHECK(time_parse("1418733000", "%s", &ms, &why) == 0 &&
	    ms == 1418733000000LL, "%%s under TZ=America/Los_Angeles");
	setenv("TZ", "Asia/Kolkata", 1);
	tzset();
	CHECK(time_parse("Tue Dec 16 2014 12:30:00 GMT-0800 (PST)", NULL, &ms,
	    &why) == 0 && ms == 1418761800000LL, "JS date under TZ=Asia/Kolkata");
	CHECK(time_parse("1418733000", "%s", &ms, &why) == 0 &&
	    ms == 1418733000000LL, "%%s under TZ=Asia/Kolkata");
}

int
main(void)
{
	test_days();
	test_parse();
	test_format();
	test_tz();
	return CHECK_DONE();
}
