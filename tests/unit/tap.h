/*
 * tap.h: the few lines every unit driver shares.  Each check prints
 * "ok N - what" or "not ok N - what"; tap_done() prints the plan and is
 * the driver's exit status (1 on any failure).  A check of a known bug
 * says so with KNOWN_BUG in its text, and still fails until it is fixed.
 */
#ifndef TAP_H
#define TAP_H
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3)))
static int __attribute__((unused))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

/* A diagnostic line, after a failed check. */
__attribute__((format(printf, 1, 2)))
static void __attribute__((unused))
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Strings equal; prints both when they are not. */
static int __attribute__((unused))
ok_str(const char *got, const char *want, const char *what)
{
	int c = got != NULL && strcmp(got, want) == 0;

	if (!ok(c, "%s", what))
		diag("got \"%s\", want \"%s\"", got ? got : "(null)", want);
	return c;
}

static int __attribute__((unused))
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
