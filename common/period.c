/* period: day numbers and the weeks, months and years they fall in. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"
#include "timestamp.h"

const char *const period_name[P_NUNIT] = { "day", "week", "month", "year" };

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t
day_of_us(int64_t us)
{
	return floordiv(us, DAY_US);
}

void
day_text(int64_t day, char *out)
{
	char t[TS_STRLEN + 1];

	ts_format(day * DAY_US, t);
	memcpy(out, t, 10);
	out[10] = '\0';
}

static void
civil(int64_t day, int *y, int *m)
{
	char t[11];

	day_text(day, t);
	*y = atoi(t);
	*m = atoi(t + 5);
}

int64_t
period_of(int64_t day, int unit)
{
	int y, m;

	switch (unit) {
	case P_DAY:
		return day;
	case P_WEEK:	/* weeks from Monday; 1970-01-01 was a Thursday */
		return floordiv(day + 3, 7);
	default:
		civil(day, &y, &m);
		return unit == P_MONTH ? (int64_t)y * 12 + (m - 1) : y;
	}
}

void
period_label(int64_t p, int unit, char *out)
{
	switch (unit) {
	case P_DAY:
		day_text(p, out);
		break;
	case P_WEEK:
		day_text(p * 7 - 3, out);
		break;
	case P_MONTH:
		snprintf(out, 11, "%04d-%02d", (int)(p / 12),
		    (int)(p % 12) + 1);
		break;
	default:
		snprintf(out, 11, "%04d", (int)p);
	}
}
