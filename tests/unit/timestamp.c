/* Unit checks of common/timestamp: parsing, formatting, civil days. */
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "timestamp.h"
#include "tap.h"

#define S(x)	x, sizeof(x) - 1
#define SEC	1000000LL

static int64_t
at(int y, unsigned m, unsigned d, int h, int mi, int s)
{
	return (days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s) *
	    SEC;
}

static void
parses(const char *s, int64_t want, const char *what)
{
	int64_t us = -42;
	int rc = ts_parse(s, strlen(s), &us);

	if (!ok(rc == 0 && us == want, "%s: \"%s\"", what, s))
		diag("rc %d, us %" PRId64 ", want %" PRId64, rc, us, want);
}

static void
refuses(const char *s, const char *what)
{
	int64_t us = -42;
	int rc = ts_parse(s, strlen(s), &us);

	if (!ok(rc == -1, "refuses %s: \"%s\"", what, s))
		diag("rc %d, us %" PRId64, rc, us);
}

static void
formats(int64_t us, const char *want)
{
	char out[TS_STRLEN + 8];

	memset(out, 'X', sizeof(out));
	ts_format(us, out);
	ok_str(out, want, want);
}

int
main(void)
{
	int64_t us;

	/* Known day numbers. */
	ok(days_from_civil(1970, 1, 1) == 0, "1970-01-01 is day 0");
	ok(days_from_civil(1969, 12, 31) == -1, "1969-12-31 is day -1");
	ok(days_from_civil(2000, 3, 1) == 11017, "2000-03-01 is day 11017");
	ok(days_from_civil(1, 1, 1) == -719162, "0001-01-01 is day -719162");
	ok(days_from_civil(10000, 1, 1) == 2932897,
	    "10000-01-01 is day 2932897");
	ok(days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 28) == 2,
	    "2024 is a leap year");
	ok(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28) == 1,
	    "2100 is not a leap year");
	ok(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28) == 2,
	    "2000 is a leap year");

	/* civil_from_days inverts days_from_civil, day by day. */
	{
		int bad = 0, y, py = 0;
		unsigned m, d, pm = 0, pd = 0;

		for (int64_t z = -719162; z < 2932897; z++) {
			civil_from_days(z, &y, &m, &d);
			if (days_from_civil(y, m, d) != z || m < 1 || m > 12 ||
			    d < 1 || d > 31 || (z > -719162 && !(
			    (y == py && m == pm && d == pd + 1) ||
			    (y == py && m == pm + 1 && d == 1) ||
			    (y == py + 1 && m == 1 && d == 1 && pm == 12))))
				bad++;
			py = y, pm = m, pd = d;
		}
		ok(bad == 0, "civil_from_days: every day from year 1 to 9999, "
		    "in order (%d wrong)", bad);
	}

	/* Amplitude's form, RFC 3339 and its variants. */
	parses("1970-01-01 00:00:00", 0, "the epoch, Amplitude form");
	parses("1970-01-01T00:00:00Z", 0, "the epoch, RFC 3339");
	parses("2024-01-01 05:06:07.123", at(2024, 1, 1, 5, 6, 7) + 123000,
	    "milliseconds");
	parses("2024-01-01 05:06:07.123456", at(2024, 1, 1, 5, 6, 7) + 123456,
	    "microseconds");
	parses("2024-01-01T05:06:07.123456789Z",
	    at(2024, 1, 1, 5, 6, 7) + 123456, "nanoseconds cut to micro");
	parses("2024-01-01t05:06:07z", at(2024, 1, 1, 5, 6, 7),
	    "lower-case t and z");
	parses("2024-01-01T01:00:00+01:00", at(2024, 1, 1, 0, 0, 0),
	    "a positive offset");
	parses("2023-12-31T18:30:00-05:30", at(2024, 1, 1, 0, 0, 0),
	    "a negative offset crossing a year");
	parses("2024-01-01T00:00:00.5-00:00", at(2024, 1, 1, 0, 0, 0) + 500000,
	    "fraction then offset");
	parses("1969-12-31T23:59:59.999999Z", -1, "just before the epoch");
	parses("0001-01-01T00:00:00Z", at(1, 1, 1, 0, 0, 0), "year 1");
	parses("9999-12-31T23:59:59.999999Z", at(10000, 1, 1, 0, 0, 0) - 1,
	    "the last microsecond of 9999");

	/* Leap years. */
	parses("2024-02-29 12:00:00", at(2024, 2, 29, 12, 0, 0), "Feb 29, 2024");
	parses("2000-02-29 00:00:00", at(2000, 2, 29, 0, 0, 0), "Feb 29, 2000");
	refuses("2023-02-29 00:00:00", "Feb 29 of a common year");
	refuses("1900-02-29 00:00:00", "Feb 29, 1900");
	refuses("2100-02-29 00:00:00", "Feb 29, 2100");
	refuses("2024-02-30 00:00:00", "Feb 30");
	refuses("2024-04-31 00:00:00", "April 31");

	/* The edges of what RFC 3339 can write. */
	refuses("10000-01-01T00:00:00Z", "year 10000");
	refuses("9999-12-31T23:30:00-01:00", "year 10000 once in UTC");
	refuses("0001-01-01T00:30:00+01:00", "year 0 once in UTC");
	refuses("0000-06-01T00:00:00Z", "year 0");

	/* Malformed. */
	refuses("", "empty");
	refuses("2024-01-01", "a bare date");
	refuses("2024-01-01 05:06", "no seconds");
	refuses("2024-01-01 05:06:07.", "a dot without digits");
	refuses("2024-01-01 05:06:07 ", "a trailing space");
	refuses("2024-01-01 05:06:07Zx", "trailing text");
	refuses("2024-01-01 05:06:07+0100", "an offset without a colon");
	refuses("2024-01-01 05:06:07+01:00x", "text after the offset");
	refuses("2024-01-01 05:06:07+24:00", "offset hour 24");
	refuses("2024-01-01 05:06:07+01:60", "offset minute 60");
	refuses("2024-13-01 00:00:00", "month 13");
	refuses("2024-00-01 00:00:00", "month 0");
	refuses("2024-01-00 00:00:00", "day 0");
	refuses("2024-01-01 24:00:00", "hour 24");
	refuses("2024-01-01 00:60:00", "minute 60");
	refuses("2024-01-01_00:00:00", "an underscore separator");
	refuses("2024/01/01 00:00:00", "slashes");
	refuses("2024-01-01 0a:00:00", "a letter in the hour");
	refuses("+024-01-01 00:00:00", "a sign in the year");

	/* Only n bytes are read. */
	us = -42;
	ok(ts_parse("2024-01-01 00:00:00junk", 19, &us) == 0 &&
	    us == at(2024, 1, 1, 0, 0, 0), "reads only n bytes");
	ok(ts_parse("2024-01-01 00:00:00", 18, &us) == -1,
	    "refuses 18 bytes of a time");

	/* Formatting. */
	formats(0, "1970-01-01T00:00:00.000000Z");
	formats(-1, "1969-12-31T23:59:59.999999Z");
	formats(-SEC, "1969-12-31T23:59:59.000000Z");
	formats(-86400 * SEC, "1969-12-31T00:00:00.000000Z");
	formats(at(2024, 2, 29, 23, 59, 59) + 123, "2024-02-29T23:59:59.000123Z");
	formats(at(1, 1, 1, 0, 0, 0), "0001-01-01T00:00:00.000000Z");
	formats(at(10000, 1, 1, 0, 0, 0) - 1, "9999-12-31T23:59:59.999999Z");
	{
		char out[TS_STRLEN + 1];

		ts_format(at(2024, 1, 1, 0, 0, 0), out);
		ok(strlen(out) == TS_STRLEN, "TS_STRLEN is the length written");
	}

	/* Round trips through the text. */
	{
		static const int64_t v[] = { 0, 1, -1, 999999, 1000000,
		    1704067200123456LL, -62135596800000000LL,
		    253402300799999999LL, 951782400000000LL };
		int bad = 0;

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			char t[TS_STRLEN + 1];
			ts_format(v[i], t);
			if (ts_parse(t, strlen(t), &us) != 0 || us != v[i]) {
				diag("%" PRId64 " -> %s", v[i], t);
				bad++;
			}
		}
		ok(bad == 0, "format then parse gives the same microsecond");
	}

	/* ts_format writes what printf's "%04d-%02u-..." wrote before it. */
	{
		uint64_t r = 88172645463325252ULL;
		int64_t lo = at(-300, 1, 1, 0, 0, 0), hi = at(12000, 1, 1, 0, 0,
		    0);
		int bad = 0;

		for (int i = 0; i < 200000; i++) {
			char t[TS_STRLEN + 1], want[64];
			int64_t v, secs, z;
			int y, sod, frac;
			unsigned m, d;

			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			/* Years -300 to 12000, and the edges of days. */
			v = lo + (int64_t)(r % (uint64_t)(hi - lo));
			if (i % 4 == 0)
				v -= v % (86400 * SEC) + (int)(r >> 60) % 3 - 1;
			ts_format(v, t);
			secs = v >= 0 ? v / SEC : (v - 999999) / SEC;
			frac = (int)(v - secs * SEC);
			z = (secs >= 0 ? secs : secs - 86399) / 86400;
			sod = (int)(secs - z * 86400);
			civil_from_days(z, &y, &m, &d);
			snprintf(want, sizeof(want),
			    "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ",
			    y > 9999 ? 9999 : y, m, d, sod / 3600,
			    sod / 60 % 60, sod % 60, frac);
			want[TS_STRLEN] = '\0';
			if (strcmp(t, want) != 0 && bad++ < 5)
				diag("%" PRId64 ": %s, printf %s", v, t, want);
		}
		ok(bad == 0, "ts_format is printf's text, years -300 to 12000");
	}

	us = ts_now_us();
	ok(us > at(2020, 1, 1, 0, 0, 0) && us < at(9999, 1, 1, 0, 0, 0),
	    "ts_now_us is a time after 2020");
	return tap_done();
}
