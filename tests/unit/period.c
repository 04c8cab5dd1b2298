/* Unit checks of common/period: days, weeks from Monday, months, years. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "period.h"
#include "timestamp.h"
#include "tap.h"

static int64_t
D(int y, unsigned m, unsigned d)
{
	return days_from_civil(y, m, d);
}

static void
label(int64_t day, int unit, const char *want)
{
	char out[PERIOD_STRLEN + 1 + 8];
	char what[96];

	memset(out, 'X', sizeof(out));
	period_label(period_of(day, unit), unit, out);
	snprintf(what, sizeof(what), "%s of day %" PRId64 " is %s",
	    period_name[unit], day, want);
	ok_str(out, want, what);
}

int
main(void)
{
	char t[PERIOD_STRLEN + 1];

	ok_str(period_name[P_DAY], "day", "period_name[P_DAY]");
	ok_str(period_name[P_WEEK], "week", "period_name[P_WEEK]");
	ok_str(period_name[P_MONTH], "month", "period_name[P_MONTH]");
	ok_str(period_name[P_YEAR], "year", "period_name[P_YEAR]");

	ok(day_of_us(0) == 0, "day_of_us(0) == 0");
	ok(day_of_us(DAY_US - 1) == 0, "the day's last microsecond");
	ok(day_of_us(DAY_US) == 1, "the next day");
	ok(day_of_us(-1) == -1, "day_of_us(-1) == -1 (floor, not truncation)");
	ok(day_of_us(-DAY_US) == -1, "day_of_us(-DAY_US) == -1");
	ok(day_of_us(-DAY_US - 1) == -2, "day_of_us(-DAY_US - 1) == -2");

	day_text(0, t);
	ok_str(t, "1970-01-01", "day_text(0)");
	day_text(-1, t);
	ok_str(t, "1969-12-31", "day_text(-1)");
	day_text(D(2024, 2, 29), t);
	ok_str(t, "2024-02-29", "day_text of a leap day");
	day_text(D(9999, 12, 31), t);
	ok_str(t, "9999-12-31", "day_text of 9999-12-31");
	ok(strlen(t) == PERIOD_STRLEN, "PERIOD_STRLEN is a day's length");

	/* Days. */
	ok(period_of(12345, P_DAY) == 12345, "a day is its own period");
	label(D(2024, 3, 5), P_DAY, "2024-03-05");

	/* Weeks start on Monday: 2024-03-04 was one, 1970-01-01 a Thursday. */
	label(D(2024, 3, 4), P_WEEK, "2024-03-04");
	label(D(2024, 3, 6), P_WEEK, "2024-03-04");
	label(D(2024, 3, 10), P_WEEK, "2024-03-04");
	label(D(2024, 3, 11), P_WEEK, "2024-03-11");
	label(D(2024, 3, 3), P_WEEK, "2024-02-26");
	label(0, P_WEEK, "1969-12-29");
	label(-3, P_WEEK, "1969-12-29");
	label(-4, P_WEEK, "1969-12-22");
	label(4, P_WEEK, "1970-01-05");
	label(D(2025, 1, 1), P_WEEK, "2024-12-30");
	label(D(2024, 12, 29), P_WEEK, "2024-12-23");
	label(D(2024, 2, 29), P_WEEK, "2024-02-26");
	ok(period_of(D(2024, 3, 11), P_WEEK) ==
	    period_of(D(2024, 3, 10), P_WEEK) + 1, "weeks are consecutive");
	{
		int bad = 0;

		for (int64_t d = D(1960, 1, 1); d < D(2040, 1, 1); d++) {
			int64_t w = period_of(d, P_WEEK), first = w * 7 - 3;
			/* The week's first day is a Monday, at most 6 days back. */
			if (d - first < 0 || d - first > 6 ||
			    ((first % 7) + 7 + 3) % 7 != 0)
				bad++;
		}
		ok(bad == 0, "every day 1960..2039 is in the week of its Monday "
		    "(%d wrong)", bad);
	}

	/* Months. */
	label(D(2024, 3, 15), P_MONTH, "2024-03");
	label(D(2024, 2, 29), P_MONTH, "2024-02");
	label(D(2024, 1, 1), P_MONTH, "2024-01");
	label(D(2024, 12, 31), P_MONTH, "2024-12");
	label(0, P_MONTH, "1970-01");
	label(-1, P_MONTH, "1969-12");
	ok(period_of(D(2024, 1, 1), P_MONTH) ==
	    period_of(D(2023, 12, 31), P_MONTH) + 1,
	    "December then January are consecutive months");
	ok(period_of(D(2024, 3, 1), P_MONTH) ==
	    period_of(D(2024, 2, 29), P_MONTH) + 1, "Feb 29 then March 1");

	/* Years. */
	label(D(2024, 6, 1), P_YEAR, "2024");
	label(D(2024, 12, 31), P_YEAR, "2024");
	label(D(2025, 1, 1), P_YEAR, "2025");
	label(-1, P_YEAR, "1969");
	label(D(9999, 12, 31), P_YEAR, "9999");
	ok(period_of(D(2025, 1, 1), P_YEAR) == 2025, "a year is its number");
	{
		int bad = 0;

		for (int64_t d = D(1999, 1, 1); d < D(2031, 1, 1); d++) {
			char a[PERIOD_STRLEN + 1], m[PERIOD_STRLEN + 1];
			day_text(d, a);
			period_label(period_of(d, P_MONTH), P_MONTH, m);
			if (strncmp(a, m, 7) != 0 || strlen(m) != 7)
				bad++;
			period_label(period_of(d, P_YEAR), P_YEAR, m);
			if (strncmp(a, m, 4) != 0 || strlen(m) != 4)
				bad++;
		}
		ok(bad == 0, "every day 1999..2030 is in its month and year "
		    "(%d wrong)", bad);
	}
	return tap_done();
}
