/*
 * verifysum: the summary file of ph-verify --summary, what PostHog's
 * query API said it stores of a migration, per UTC day and in total.
 * ph-verify writes it (verifysum_write); ph-report reads it
 * (verifysum_parse, for --verified) to say "in PostHog" rather than only
 * "acknowledged", and to call a migration complete only when PostHog
 * has every event.  They must agree on every key and its meaning, or
 * the report would show figures ph-verify never found, or call complete
 * a migration whose events were dropped after capture's 200: this
 * module is the one place the format is written and read
 * (man/ph-verify.1, "The summary file").
 *
 * One JSON object on one line:
 *   {"days":[{"day","expected","present","missing","not_visible",
 *    "unverified","duplicates"},...],
 *    "totals":{"read","expected","present","missing","not_visible",
 *    "unverified","never_delivered","duplicates","bad","other_lib"},
 *    "queries","throttled","project","host","checked_at"}
 * checked_at is unix seconds; project and host are strings.
 */
#ifndef VERIFYSUM_H
#define VERIFYSUM_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct verifysum_day {
	int64_t		day;		/* days since 1970-01-01 (UTC) */
	uint64_t	expected;	/* delivered events of the day */
	uint64_t	present, missing, not_visible, unverified;
	uint64_t	duplicates;	/* rows beyond the distinct uuids */
};

struct verifysum_totals {
	uint64_t	read, expected, present, missing, not_visible;
	uint64_t	unverified, never_delivered, duplicates, bad, other_lib;
};

struct verifysum {
	struct verifysum_day	*days;	/* in order of day */
	size_t			 ndays;
	struct verifysum_totals	 t;
	uint64_t		 queries, throttled;
	char			*project, *host;	/* verifysum_parse: owned */
	int64_t			 checked_at;	/* unix seconds */
};

/* Append the summary, one line with its newline, to b. */
void	verifysum_write(const struct verifysum *, struct buf *b);
/*
 * Read a summary from len bytes (surrounding white space allowed):
 * 0, or -1 with what is wrong in err.  The result is freed with
 * verifysum_free, also after a failure.
 */
int	verifysum_parse(const char *, size_t, struct verifysum *, char *err,
	    size_t errlen);
void	verifysum_free(struct verifysum *);
/* The summary's figures of a day (days since the epoch), or NULL. */
const struct verifysum_day *verifysum_day(const struct verifysum *,
	    int64_t day);

#endif
