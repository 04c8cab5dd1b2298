/* retry: backoff delays and Retry-After parsing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retry.h"

double
monotime(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

double
retry_backoff(int attempt, double base, double cap)
{
	static int seeded;
	double d = base;

	if (!seeded) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		srand48(t.tv_nsec ^ t.tv_sec);
		seeded = 1;
	}
	for (int i = 1; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	/* Half fixed, half random: never zero, never in lock step. */
	return d / 2 + drand48() * d / 2;
}

double
retry_after_parse(const char *v)
{
	struct tm tm;
	char *end;

	while (isspace((unsigned char)*v))
		v++;
	if (isdigit((unsigned char)*v)) {
		double s = strtod(v, &end);
		while (isspace((unsigned char)*end))
			end++;
		return *end == '\0' ? s : -1;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return -1;
	double d = difftime(timegm(&tm), time(NULL));
	return d > 0 ? d : 0;
}

int
retry_status(long status)
{
	return status == 0 || status == 408 || status == 425 ||
	    status == 429 || (status >= 500 && status <= 599);
}

double
retry_wait(int attempt, double retry_after)
{
	double wait = retry_backoff(attempt, 1, 60);

	/* A Retry-After past 10 minutes is a misconfigured proxy, not advice. */
	if (retry_after > 600)
		retry_after = 600;
	return retry_after > wait ? retry_after : wait;
}
