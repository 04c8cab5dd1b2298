/*
 * hours: UTC hours as integers (hours since 1970-01-01T00), the unit of
 * Amplitude's Export API windows and of its member names
 * (<project>_<YYYY-MM-DD>_<H>#<N>.json.gz, H not zero-padded).
 */
#ifndef HOURS_H
#define HOURS_H
#include <stdint.h>

/*
 * Parse YYYY-MM-DD, YYYY-MM-DDTHH, "YYYY-MM-DD HH" or YYYYMMDDTHH.
 * A bare date means its first hour, or its last when end_of_day is set.
 * Returns 0, or -1 if s is not such a time.
 */
int	hour_parse(const char *s, int end_of_day, int64_t *hour);
/* The upload hour in a member or file name; -1 when it has none. */
int	hour_from_name(const char *name, int64_t *hour);
/* "2024-01-05T07" into buf (at least 14 bytes). */
void	hour_format(int64_t hour, char *buf);
/* "20240105T07", the Export API's form, into buf (at least 12 bytes). */
void	hour_format_api(int64_t hour, char *buf);

#endif
