/* hours: parsing and printing UTC hour numbers. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "hours.h"
#include "timestamp.h"

static int
valid_date(int y, int m, int d)
{
	static const int mdays[] = { 31,29,31,30,31,30,31,31,30,31,30,31 };

	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return 0;
	return 1;
}

static int
digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
hour_parse(const char *s, int end_of_day, int64_t *hour)
{
	int y, m, d, h = end_of_day ? 23 : 0;
	size_t len = strlen(s);
	const char *hp = NULL;

	if (len >= 8 && digits(s, 4, &y) == 0 && digits(s + 4, 2, &m) == 0 &&
	    digits(s + 6, 2, &d) == 0) {
		/* YYYYMMDD[THH] */
		if (len == 11 && s[8] == 'T')
			hp = s + 9;
		else if (len != 8)
			return -1;
	} else if (len >= 10 && digits(s, 4, &y) == 0 && s[4] == '-' &&
	    digits(s + 5, 2, &m) == 0 && s[7] == '-' &&
	    digits(s + 8, 2, &d) == 0) {
		if (len == 13 && (s[10] == 'T' || s[10] == ' '))
			hp = s + 11;
		else if (len != 10)
			return -1;
	} else
		return -1;
	if (hp != NULL && (digits(hp, 2, &h) == -1 || h > 23))
		return -1;
	if (!valid_date(y, m, d))
		return -1;
	*hour = days_from_civil(y, m, d) * 24 + h;
	return 0;
}

int
hour_from_name(const char *name, int64_t *hour)
{
	const char *base = strrchr(name, '/'), *p;
	int y, m, d, h;

	base = base ? base + 1 : name;
	/* Find "_YYYY-MM-DD_H" followed by '#', '.', or '_'. */
	for (p = strchr(base, '_'); p != NULL; p = strchr(p + 1, '_')) {
		const char *q = p + 12;
		if (strlen(p) < 13 || digits(p + 1, 4, &y) == -1 ||
		    p[5] != '-' || digits(p + 6, 2, &m) == -1 || p[8] != '-' ||
		    digits(p + 9, 2, &d) == -1 || p[11] != '_' ||
		    !isdigit((unsigned char)*q))
			continue;
		h = 0;
		while (isdigit((unsigned char)*q) && h < 100)
			h = h * 10 + (*q++ - '0');
		if (h > 23 || (*q != '#' && *q != '.' && *q != '_') ||
		    !valid_date(y, m, d))
			continue;
		*hour = days_from_civil(y, m, d) * 24 + h;
		return 0;
	}
	return -1;
}

static void
civil(int64_t hour, int *y, int *m, int *d, int *h)
{
	int64_t days = hour >= 0 ? hour / 24 : (hour - 23) / 24;
	unsigned um, ud;

	civil_from_days(days, y, &um, &ud);
	*m = um;
	*d = ud;
	*h = (int)(hour - days * 24);
}

void
hour_format(int64_t hour, char *buf)
{
	int y, m, d, h;

	civil(hour, &y, &m, &d, &h);
	snprintf(buf, 14, "%04d-%02d-%02dT%02d", y, m, d, h);
}

void
hour_format_api(int64_t hour, char *buf)
{
	int y, m, d, h;

	civil(hour, &y, &m, &d, &h);
	snprintf(buf, 12, "%04d%02d%02dT%02d", y, m, d, h);
}
