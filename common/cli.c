/* cli: version output and strict parsing of numeric option values. */
#include <ctype.h>
#include <string.h>
#include <getopt.h>
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

void
cli_version(const char *prog)
{
	printf("%s (amp2ph) %s\n", prog, AMP2PH_VERSION);
}

int
cli_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

int
cli_duration(const char *s, double *seconds)
{
	char *end, *num_end;
	double v;
	int dots = 0;

	/* Decimal only: strtod would also take "0x10", "1e3" and "inf". */
	for (end = (char *)s; isdigit((unsigned char)*end) || *end == '.';
	    end++)
		dots += *end == '.';
	if (end == s || dots > 1)
		return -1;
	errno = 0;
	v = strtod(s, &num_end);
	if (errno != 0 || v < 0 || num_end != end)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	/*
	 * At most 100 years: callers turn durations into milliseconds in a
	 * long, where an infinite or vast value is undefined behaviour.
	 */
	if (!(v <= 100 * 365.25 * 86400))
		return -1;
	*seconds = v;
	return 0;
}

static const char *
opt_name(const struct option *lo, int ch, char *buf, size_t len)
{
	for (; lo->name != NULL; lo++)
		if (lo->val == ch) {
			snprintf(buf, len, "--%s", lo->name);
			return buf;
		}
	snprintf(buf, len, "-%c", ch);
	return buf;
}

void
cli_once(const struct option *lo, int ch, const char *single,
    const char *alts)
{
	static unsigned char seen[256];
	static int alt_seen;
	char a[64], b[64];

	if (ch <= 0 || ch > 255)
		return;
	if (alts != NULL && strchr(alts, ch) != NULL) {
		if (alt_seen != 0)
			errx(EXIT_USAGE, "%s: %s was given already (one of "
			    "them, once)", opt_name(lo, ch, a, sizeof(a)),
			    opt_name(lo, alt_seen, b, sizeof(b)));
		alt_seen = ch;
		return;
	}
	if (single == NULL || strchr(single, ch) == NULL)
		return;
	if (seen[ch])
		errx(EXIT_USAGE, "%s given twice: it takes one value",
		    opt_name(lo, ch, a, sizeof(a)));
	seen[ch] = 1;
}
