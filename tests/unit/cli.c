/*
 * Unit checks of common/cli: whole numbers in a range and durations.
 * (--rate's "n/s|n/min" is parsed in cmd/ph-batch.c, not in common/cli,
 * so it is not reachable from here.)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tap.h"

static void
u64(const char *s, uint64_t min, uint64_t max, int rc, uint64_t want)
{
	uint64_t v = 12345;
	int got = cli_u64(s, min, max, &v);

	if (rc == 0) {
		if (!ok(got == 0 && v == want, "cli_u64(\"%s\", %llu, %llu)", s,
		    (unsigned long long)min, (unsigned long long)max))
			diag("rc %d, v %llu", got, (unsigned long long)v);
	} else if (!ok(got == -1 && v == 12345,
	    "cli_u64 refuses \"%s\" in [%llu, %llu]", s,
	    (unsigned long long)min, (unsigned long long)max))
		diag("rc %d, v %llu", got, (unsigned long long)v);
}

static void
dur(const char *s, double want)
{
	double v = -42;
	int got = cli_duration(s, &v);

	if (want >= 0) {
		if (!ok(got == 0 && v == want, "cli_duration(\"%s\") = %g", s,
		    want))
			diag("rc %d, v %g", got, v);
	} else if (!ok(got == -1 && v == -42, "cli_duration refuses \"%s\"",
	    s))
		diag("rc %d, v %g", got, v);
}

int
main(void)
{
	u64("0", 0, 10, 0, 0);
	u64("5", 1, 10, 0, 5);
	u64("10", 1, 10, 0, 10);
	u64("1", 1, 10, 0, 1);
	u64("007", 0, 10, 0, 7);
	u64("18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX);
	u64("0", 1, 10, -1, 0);
	u64("11", 1, 10, -1, 0);
	u64("18446744073709551616", 0, UINT64_MAX, -1, 0);
	u64("99999999999999999999999", 0, UINT64_MAX, -1, 0);
	u64("", 0, 10, -1, 0);
	u64("-1", 0, UINT64_MAX, -1, 0);
	u64("+1", 0, 10, -1, 0);
	u64(" 1", 0, 10, -1, 0);
	u64("1 ", 0, 10, -1, 0);
	u64("1x", 0, 10, -1, 0);
	u64("1.0", 0, 10, -1, 0);
	u64("0x10", 0, 100, -1, 0);
	u64("1e2", 0, 1000, -1, 0);

	dur("90", 90);
	dur("90s", 90);
	dur("15m", 900);
	dur("2h", 7200);
	dur("1d", 86400);
	dur("0", 0);
	dur("0s", 0);
	dur("1.5h", 5400);
	dur(".5m", 30);
	dur("0.25", 0.25);
	dur("", -1);
	dur("s", -1);
	dur("h", -1);
	dur("-5", -1);
	dur("-5m", -1);
	dur("+5", -1);
	dur(" 5", -1);
	dur("5 ", -1);
	dur("5 m", -1);
	dur("5x", -1);
	dur("5ms", -1);
	dur("5mm", -1);
	dur("5M", -1);
	dur("5H", -1);
	dur("1w", -1);
	dur("5s5", -1);
	dur(".", -1);
	dur(".m", -1);
	dur("1e999", -1);
	dur("nan", -1);
	dur("inf", -1);
	/*
	 * Only decimal numbers, and at most 100 years: "1e308d" would be
	 * infinite seconds, which common/http.c turns into a long.
	 */
	dur("1e308d", -1);
	dur("9e307m", -1);
	dur("0x10", -1);
	dur("1e3", -1);
	dur("1.5.2s", -1);
	dur("36500d", 36500.0 * 86400);
	dur("36600d", -1);

	/* --version: "<prog> (amp2ph) <version>" and a newline, on stdout. */
	{
		char buf[256] = "", want[256];
		int fd[2];
		ssize_t n = 0;

		fflush(stdout);
		if (pipe(fd) == 0) {
			int saved = dup(1);
			dup2(fd[1], 1);
			cli_version("amp-test");
			fflush(stdout);
			dup2(saved, 1);
			close(saved);
			close(fd[1]);
			n = read(fd[0], buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = '\0';
			close(fd[0]);
		}
		/* The number itself is the Makefile's (tests/test_cli.py). */
		snprintf(want, sizeof(want), "amp-test (amp2ph) ");
		n = strlen(buf);
		if (!ok(strncmp(buf, want, strlen(want)) == 0 &&
		    n > (ssize_t)strlen(want) + 1 && buf[n - 1] == '\n' &&
		    strchr(buf + strlen(want), ' ') == NULL,
		    "cli_version: \"amp-test (amp2ph) <version>\\n\""))
			diag("got \"%s\"", buf);
	}
	return tap_done();
}
