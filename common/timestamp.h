/*
 * timestamp: event times as microseconds since the epoch, UTC.  Reads
 * Amplitude's zone-less "YYYY-MM-DD HH:MM:SS.ffffff" (always UTC, never
 * local time) and RFC 3339 / ISO 8601 with a zone; writes RFC 3339 UTC
 * with microseconds, the form amp2ph sends to PostHog.
 */
#ifndef TIMESTAMP_H
#define TIMESTAMP_H
#include <stddef.h>
#include <stdint.h>

#define TS_STRLEN	27	/* 2024-01-01T05:06:07.123000Z */

/* 0 and *us set, or -1 if s is not a valid date-time. */
int	ts_parse(const char *s, size_t n, int64_t *us);
void	ts_format(int64_t us, char *out);	/* out: TS_STRLEN + 1 */
int64_t	ts_now_us(void);
/* Proleptic Gregorian calendar, no time zones: days since 1970-01-01. */
int64_t	days_from_civil(int64_t y, unsigned m, unsigned d);
void	civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d);

#endif
