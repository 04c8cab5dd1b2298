/*
 * period: UTC days as integers (days since 1970-01-01), as a report
 * counts them, and the calendar periods they fall in: the day itself,
 * the week from Monday, the month or the year, each numbered in its own
 * unit and labelled by its first day ("2024-03-04", "2024-03", "2024").
 */
#ifndef PERIOD_H
#define PERIOD_H
#include <stdint.h>

#define DAY_US		(86400LL * 1000000)
#define PERIOD_STRLEN	10

enum { P_DAY, P_WEEK, P_MONTH, P_YEAR, P_NUNIT };
extern const char *const period_name[P_NUNIT];	/* "day", ... "year" */

int64_t	day_of_us(int64_t us);
void	day_text(int64_t day, char *out);	/* out: PERIOD_STRLEN + 1 */
int64_t	period_of(int64_t day, int unit);
void	period_label(int64_t p, int unit, char *out);	/* as day_text */

#endif
