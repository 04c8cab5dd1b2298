/* timestamp: strict parsing and RFC 3339 formatting of UTC times. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timestamp.h"

int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int
num(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
ts_parse(const char *s, size_t n, int64_t *us)
{
	static const int mdays[] = { 31,29,31,30,31,30,31,31,30,31,30,31 };
	int y, mo, d, h, mi, se, frac = 0, digits = 0, off = 0;
	size_t i = 19;

	if (n < 19 || num(s, 4, &y) || s[4] != '-' || num(s + 5, 2, &mo) ||
	    s[7] != '-' || num(s + 8, 2, &d) ||
	    (s[10] != ' ' && s[10] != 'T' && s[10] != 't') ||
	    num(s + 11, 2, &h) || s[13] != ':' || num(s + 14, 2, &mi) ||
	    s[16] != ':' || num(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || se > 59 || y < 1)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return -1;
	if (i < n && s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
			if (digits < 6)
				frac = frac * 10 + (s[i] - '0');
		if (digits == 0)
			return -1;
		for (int k = digits; k < 6; k++)
			frac *= 10;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int oh, om;
		if (n - i != 6 || num(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    num(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
		i = n;
	}
	if (i != n)
		return -1;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 +
	    mi * 60 + se - (int64_t)off * 60;
	/* In UTC it must still be a year RFC 3339 can write. */
	if (secs < days_from_civil(1, 1, 1) * 86400 ||
	    secs >= days_from_civil(10000, 1, 1) * 86400)
		return -1;
	*us = secs * 1000000 + frac;
	return 0;
}

void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

/* v as n decimal digits, zero-padded, at d; v < 10^n. */
static void
digits(char *d, unsigned v, int n)
{
	while (n-- > 0) {
		d[n] = '0' + v % 10;
		v /= 10;
	}
}

void
ts_format(int64_t us, char *out)
{
	int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
	int frac = (int)(us - secs * 1000000);
	int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400;
	int sod = (int)(secs - z * 86400), y;
	unsigned m, d;
	char t[64];

	civil_from_days(z, &y, &m, &d);
	if (y < 0) {
		/* Never from ts_parse: printf's "%04d" says how it looks. */
		snprintf(t, sizeof(t), "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ",
		    y, m, d, sod / 3600, sod / 60 % 60, sod % 60, frac);
		memcpy(out, t, TS_STRLEN + 1);
		return;
	}
	/*
	 * Digit by digit: snprintf's format parsing showed in amp-convert's
	 * profile, which writes a time per event.  Years past 9999 cannot be
	 * written in RFC 3339: clamp the text.
	 */
	memcpy(out, "0000-00-00T00:00:00.000000Z", TS_STRLEN + 1);
	digits(out, y > 9999 ? 9999 : y, 4);
	digits(out + 5, m, 2);
	digits(out + 8, d, 2);
	digits(out + 11, sod / 3600, 2);
	digits(out + 14, sod / 60 % 60, 2);
	digits(out + 17, sod % 60, 2);
	digits(out + 20, frac, 6);
}

int64_t
ts_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}
