/* Unit checks of common/hours: hour numbers, their text, member names. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "hours.h"
#include "timestamp.h"
#include "tap.h"

static int64_t
H(int y, unsigned m, unsigned d, int h)
{
	return days_from_civil(y, m, d) * 24 + h;
}

static void
parses(const char *s, int eod, int64_t want)
{
	int64_t h = -42;
	int rc = hour_parse(s, eod, &h);

	if (!ok(rc == 0 && h == want, "hour_parse(\"%s\", %d)", s, eod))
		diag("rc %d, hour %" PRId64 ", want %" PRId64, rc, h, want);
}

static void
refuses(const char *s, const char *what)
{
	int64_t h = -42;
	int rc = hour_parse(s, 0, &h);

	if (!ok(rc == -1, "hour_parse refuses %s: \"%s\"", what, s))
		diag("rc %d, hour %" PRId64, rc, h);
	rc = hour_parse(s, 1, &h);
	if (!ok(rc == -1, "hour_parse refuses %s at end of day", what))
		diag("rc %d, hour %" PRId64, rc, h);
}

static void
named(const char *name, int64_t want)
{
	int64_t h = -42;
	int rc = hour_from_name(name, &h);

	if (want < 0) {
		if (!ok(rc == -1, "no hour in \"%s\"", name))
			diag("rc %d, hour %" PRId64, rc, h);
	} else if (!ok(rc == 0 && h == want, "hour of \"%s\"", name))
		diag("rc %d, hour %" PRId64 ", want %" PRId64, rc, h, want);
}

int
main(void)
{
	char b[32];

	/* The four forms, and a bare date's first or last hour. */
	parses("1970-01-01", 0, 0);
	parses("1970-01-01", 1, 23);
	parses("1970-01-01T05", 0, 5);
	parses("1970-01-01T05", 1, 5);
	parses("1970-01-01 05", 0, 5);
	parses("19700101T05", 0, 5);
	parses("19700101", 0, 0);
	parses("19700101", 1, 23);
	parses("2024-01-05T07", 0, H(2024, 1, 5, 7));
	parses("20240105T07", 0, H(2024, 1, 5, 7));
	parses("2024-12-31T23", 0, H(2024, 12, 31, 23));

	/* Leap years. */
	parses("2024-02-29", 0, H(2024, 2, 29, 0));
	parses("2000-02-29T12", 0, H(2000, 2, 29, 12));
	parses("20240229", 1, H(2024, 2, 29, 23));
	refuses("2023-02-29", "Feb 29 of a common year");
	refuses("2100-02-29", "Feb 29, 2100");
	refuses("21000229T00", "Feb 29, 2100 (compact)");
	refuses("2024-02-30", "Feb 30");
	refuses("2024-06-31", "June 31");

	/* Range: the epoch to 9999. */
	parses("9999-12-31T23", 0, H(9999, 12, 31, 23));
	parses("9999-12-31", 1, H(9999, 12, 31, 23));
	refuses("10000-01-01", "year 10000");
	refuses("10000-01-01T00", "year 10000 with an hour");
	refuses("100000101T00", "year 10000, compact");
	refuses("1969-12-31T23", "an hour before the epoch");
	refuses("0000-01-01", "year 0");

	/* Malformed. */
	refuses("", "empty");
	refuses("2024", "a bare year");
	refuses("2024-01", "a month");
	refuses("2024-1-5", "unpadded month and day");
	refuses("2024-01-05T7", "an unpadded hour");
	refuses("2024-01-05T24", "hour 24");
	refuses("2024-01-05T07:00", "minutes");
	refuses("2024-01-05T07Z", "a zone");
	refuses("2024-01-05x07", "another separator");
	refuses("2024-01-05 ", "a trailing space");
	refuses(" 2024-01-05", "a leading space");
	refuses("2024-13-01", "month 13");
	refuses("2024-00-10", "month 0");
	refuses("2024-01-00", "day 0");
	refuses("20240105 07", "compact with a space");
	refuses("20240105T7", "compact with one hour digit");
	refuses("2024010507", "compact without T");
	refuses("2024-01-0a", "a letter");

	/* Printing. */
	hour_format(0, b);
	ok_str(b, "1970-01-01T00", "hour_format(0)");
	hour_format(H(2024, 1, 5, 7), b);
	ok_str(b, "2024-01-05T07", "hour_format, 2024-01-05T07");
	hour_format(H(2024, 2, 29, 23), b);
	ok_str(b, "2024-02-29T23", "hour_format, a leap day");
	hour_format(H(9999, 12, 31, 23), b);
	ok_str(b, "9999-12-31T23", "hour_format, the last hour of 9999");
	hour_format(-1, b);
	ok_str(b, "1969-12-31T23", "hour_format(-1)");
	hour_format_api(H(2024, 1, 5, 7), b);
	ok_str(b, "20240105T07", "hour_format_api");
	hour_format_api(0, b);
	ok_str(b, "19700101T00", "hour_format_api(0)");
	{
		char small[14];

		memset(small, 'X', sizeof(small));
		hour_format(H(2024, 1, 5, 7), small);
		ok(small[13] == '\0', "hour_format fits 14 bytes");
		memset(small, 'X', sizeof(small));
		hour_format_api(H(2024, 1, 5, 7), small);
		ok(small[11] == '\0' && small[12] == 'X',
		    "hour_format_api fits 12 bytes");
	}

	/* Every hour of a few years prints and parses back. */
	{
		int bad = 0;
		int64_t h2;

		for (int64_t h = H(1999, 12, 1, 0); h < H(2025, 1, 1, 0); h++) {
			hour_format(h, b);
			if (hour_parse(b, 0, &h2) != 0 || h2 != h)
				bad++;
			hour_format_api(h, b);
			if (hour_parse(b, 0, &h2) != 0 || h2 != h)
				bad++;
		}
		ok(bad == 0, "every hour 1999-12 .. 2024 round trips (%d wrong)",
		    bad);
	}

	/* Amplitude's member names: <project>_<YYYY-MM-DD>_<H>#<N>.json.gz */
	named("123456_2024-01-05_7#0.json.gz", H(2024, 1, 5, 7));
	named("123456_2024-01-05_17#12.json.gz", H(2024, 1, 5, 17));
	named("123456_2024-01-05_0#0.json.gz", H(2024, 1, 5, 0));
	named("123456_2024-01-05_23#0.json.gz", H(2024, 1, 5, 23));
	named("123456_2024-01-05_9.json", H(2024, 1, 5, 9));
	named("123456_2024-01-05_9_part", H(2024, 1, 5, 9));
	named("123456/123456_2024-02-29_1#3.json.gz", H(2024, 2, 29, 1));
	named("x_2023-01-01_3/123456_2024-01-05_4#0.json.gz",
	    H(2024, 1, 5, 4));
	named("my_project_2024-01-05_4#0.json.gz", H(2024, 1, 5, 4));
	named("123456_2024-01-05_07#0.json.gz", H(2024, 1, 5, 7));
	named("123456_2024-01-05_24#0.json.gz", -1);
	named("123456_2024-01-05_100#0.json.gz", -1);
	named("123456_2023-02-29_1#0.json.gz", -1);
	named("123456_2024-13-01_1#0.json.gz", -1);
	named("123456_2024-01-05_7", -1);
	named("123456_2024-01-05_#0.json.gz", -1);
	named("123456_2024-01-05_x#0.json.gz", -1);
	named("123456_2024-01-05", -1);
	named("123456_2024-01-05_", -1);
	named("events.json.gz", -1);
	named("", -1);
	named("_", -1);
	named("2024-01-05_7#0.json.gz", -1);
	named("123456_1969-12-31_23#0.json.gz", -1);
	return tap_done();
}
