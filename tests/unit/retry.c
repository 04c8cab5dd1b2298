/* Unit checks of common/retry: backoff, Retry-After, retryable statuses. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "retry.h"
#include "tap.h"

static void
after(const char *v, double want, const char *what)
{
	double got = retry_after_parse(v);

	if (!ok(got == want, "Retry-After %s", what))
		diag("retry_after_parse(\"%s\") = %g, want %g", v, got, want);
}

/* An HTTP-date (IMF-fixdate) `secs` seconds from now. */
static void
http_date(char *out, size_t n, double secs, const char *fmt)
{
	time_t t = time(NULL) + (time_t)secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, fmt, &tm);
}

#define IMF	"%a, %d %b %Y %H:%M:%S GMT"

int
main(void)
{
	char d[128];
	double v;

	/* delta-seconds, as the header callback hands it over: after the
	 * colon, with its space and its CRLF. */
	after("120", 120, "120");
	after("0", 0, "0");
	after(" 120\r\n", 120, "\" 120\\r\\n\" (a header's value as read)");
	after("\t7 ", 7, "with tabs and spaces");
	after("86400", 86400, "a day (retry_wait caps it)");
	after("", -1, "empty");
	after(" \r\n", -1, "only whitespace");
	after("abc", -1, "a word");
	after("12abc", -1, "digits then text");
	after("12 34", -1, "two numbers");
	after("-5", -1, "a negative number");
	after("+5", -1, "a sign");

	/* HTTP-date. */
	after("Wed, 21 Oct 2015 07:28:00 GMT", 0, "a date in the past: 0");
	after("Wed, 21 Oct 2015 07:28:00 GMT\r\n", 0,
	    "a past date with its CRLF");
	http_date(d, sizeof(d), 120, IMF);
	v = retry_after_parse(d);
	ok(v >= 118 && v <= 121, "an HTTP-date 2 minutes ahead (%s): %g", d, v);
	http_date(d, sizeof(d), 3600, " " IMF "\r\n");
	v = retry_after_parse(d);
	ok(v >= 3598 && v <= 3601, "an hour ahead, with space and CRLF: %g", v);
	http_date(d, sizeof(d), 86400 * 400, IMF);
	v = retry_after_parse(d);
	ok(v >= 86400 * 400 - 2 && v <= 86400 * 400 + 1,
	    "400 days ahead: %g", v);
	after("Wed, 21 Oct 2015 07:28:00", -1, "a date without GMT");
	after("Wed, 32 Oct 2015 07:28:00 GMT", -1, "October 32");
	after("Wed, 21 Foo 2015 07:28:00 GMT", -1, "month Foo");
	after("Wed, 21 Oct 2015 25:28:00 GMT", -1, "hour 25");
	after("Wed 21 Oct 2015", -1, "half a date");
	after("yesterday", -1, "a word");

	/* Statuses. */
	{
		static const long yes[] = { 0, 408, 425, 429, 500, 502, 503,
		    504, 599 };
		static const long no[] = { 200, 201, 204, 301, 400, 401, 403,
		    404, 409, 413, 422, 499, 600, 1, -1 };
		int bad = 0;
		for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
			if (retry_status(yes[i]) != 1) {
				diag("%ld should be retried", yes[i]);
				bad++;
			}
		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
			if (retry_status(no[i]) != 0) {
				diag("%ld should not be retried", no[i]);
				bad++;
			}
		ok(bad == 0, "retry_status: 0, 408, 425, 429, 5xx and no other");
	}

	/* Backoff: doubling from base to cap, between half and all of it. */
	{
		static const struct { int attempt; double base, cap, d; } c[] = {
			{ 1, 1, 60, 1 }, { 2, 1, 60, 2 }, { 3, 1, 60, 4 },
			{ 6, 1, 60, 32 }, { 7, 1, 60, 60 }, { 8, 1, 60, 60 },
			{ 1000, 1, 60, 60 }, { 1, 0.5, 10, 0.5 },
			{ 4, 0.5, 10, 4 }, { 5, 0.5, 10, 8 }, { 6, 0.5, 10, 10 },
			{ 1, 5, 2, 2 },
		};
		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			double lo = 1e300, hi = -1;
			for (int k = 0; k < 2000; k++) {
				double w = retry_backoff(c[i].attempt, c[i].base,
				    c[i].cap);
				lo = w < lo ? w : lo;
				hi = w > hi ? w : hi;
			}
			if (!ok(lo >= c[i].d / 2 && hi <= c[i].d && hi > lo,
			    "retry_backoff(%d, %g, %g) jitters in [%g, %g]",
			    c[i].attempt, c[i].base, c[i].cap, c[i].d / 2,
			    c[i].d))
				diag("saw [%g, %g]", lo, hi);
		}
	}

	/* retry_wait: the backoff, or a longer Retry-After up to 10 min. */
	{
		int bad = 0;
		for (int k = 0; k < 1000; k++) {
			double w = retry_wait(1, -1);
			if (w < 0.5 || w > 1)
				bad++;
			if (retry_wait(1, 30) != 30)
				bad++;
			if (retry_wait(2, 0) < 1 || retry_wait(2, 0) > 2)
				bad++;
			w = retry_wait(10, 5);
			if (w < 30 || w > 60)
				bad++;
			if (retry_wait(1, 3600) != 600)
				bad++;
			if (retry_wait(1, 600) != 600)
				bad++;
			if (retry_wait(1, 1e300) != 600)
				bad++;
		}
		ok(bad == 0, "retry_wait: backoff, Retry-After when longer, "
		    "at most 600 s (%d wrong)", bad);
	}

	{
		double a = monotime(), b = monotime();
		ok(a > 0 && b >= a, "monotime does not go back");
	}
	return tap_done();
}
