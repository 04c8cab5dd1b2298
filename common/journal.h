/*
 * journal: the SQLite record of what PostHog has acknowledged.  An
 * event's uuid is added only after a 2xx for the request that carried
 * it, all of one request in one transaction, so the journal never claims
 * more than was delivered.  ph-batch skips what is already there;
 * ph-alias reads it to skip identity events sent in earlier runs.  The
 * database is in WAL mode so both can use it at once.
 */
#ifndef JOURNAL_H
#define JOURNAL_H
#include <stddef.h>
#include <stdint.h>

struct journal;

struct journal_run {
	uint64_t	read, delivered, skipped, rejected, undelivered;
	uint64_t	requests, retries, bytes;
};

/* NULL with a message in err.  Creates the file unless readonly. */
struct journal	*journal_open(const char *path, int readonly, char *err,
		    size_t errlen);
void		 journal_close(struct journal *);
/* 1 delivered, 0 not, -1 on a database error (message via err). */
int		 journal_has(struct journal *, const unsigned char uuid[16]);
/*
 * Lookups between these share one read transaction (cheaper than one
 * each); no journal_add in between.
 */
int		 journal_read_begin(struct journal *);
void		 journal_read_end(struct journal *);
/* Record n delivered uuids in one transaction: 0, or -1. */
int		 journal_add(struct journal *, const unsigned char (*)[16],
		    size_t n);
/* A row in the runs table for this run's summary: 0, or -1. */
int		 journal_run_begin(struct journal *, const char *host);
int		 journal_run_update(struct journal *, const struct journal_run *,
		    const char *status);
const char	*journal_error(struct journal *);
uint64_t	 journal_count(struct journal *);

#endif
