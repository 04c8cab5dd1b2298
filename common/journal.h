/*
 * journal: the SQLite record of what PostHog has acknowledged.  An
 * event's uuid is added only after a 2xx for the request that carried
 * it, all of one request in one transaction, so the journal never claims
 * more than was delivered.  ph-batch skips what is already there;
 * ph-alias reads it to skip identity events sent in earlier runs, and
 * the claims ph-batch records with them to decide shared devices;
 * ph-report reads it, and the runs table ph-batch keeps, to say what
 * arrived; ph-verify forgets what PostHog does not have.  ph-batch also
 * records the archive members it has settled (settle.h), which
 * amp-unpack -j skips and amp-convert -j asks about.  The database is
 * in WAL mode so all of them can use it at once.  This is the only module that opens it (and the only one that
 * calls SQLite), so the schema has one owner.
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

/* A row of the runs table, as ph-batch last updated it. */
struct journal_runrow {
	const char		*started, *updated;	/* ts_format text */
	const char		*host, *status;		/* "" when NULL */
	struct journal_run	 c;
};

/* NULL with a message in err.  Creates the file unless readonly. */
struct journal	*journal_open(const char *path, int readonly, char *err,
		    size_t errlen);
/*
 * Read-only, and in one read transaction until journal_close: every
 * lookup, count and runs row sees the same snapshot while ph-batch goes
 * on writing (WAL readers do not block it), and a lookup costs no lock
 * of its own.  No journal_read_begin/end on such a handle.
 */
struct journal	*journal_open_snapshot(const char *path, char *err,
		    size_t errlen);
/*
 * For a stage that only reads the journal beside ph-batch (ph-alias,
 * amp-unpack, amp-convert): the -j path's checks and messages in one
 * place.  A journal that does not exist yet, or that ph-batch is making
 * this moment (no tables yet), is made when make is set; else NULL with
 * err empty: nothing is recorded yet.  NULL with a message in err when
 * the path cannot be a journal (a directory, no such directory, no
 * read permission) or the database cannot be opened.
 */
struct journal	*journal_open_reader(const char *path, int make, char *err,
		    size_t errlen);
void		 journal_close(struct journal *);
/*
 * A private journal with no file, gone at close: ph-report's set of the
 * delivered uuids it has met, which may outgrow memory, so it is on
 * disk once past its cache.  Only journal_put, journal_has and
 * journal_count on it.
 */
struct journal	*journal_open_temp(char *err, size_t errlen);
/* Add one uuid: 1 if new, 0 if it was there, -1 on an error. */
int		 journal_put(struct journal *, const unsigned char uuid[16]);
/* 1 delivered, 0 not, -1 on a database error (message via err). */
int		 journal_has(struct journal *, const unsigned char uuid[16]);
/*
 * journal_has, and when PostHog acknowledged it: *at in unix seconds, 0
 * when the journal does not know (made before it kept the time).
 */
int		 journal_lookup(struct journal *, const unsigned char uuid[16],
		    int64_t *at);
/*
 * Lookups between these share one read transaction (cheaper than one
 * each); no journal_add in between.
 */
int		 journal_read_begin(struct journal *);
void		 journal_read_end(struct journal *);
/* A device's first user, as 16-byte keys (ph-alias's device_key). */
struct journal_claim {
	unsigned char	device[16], user[16];
};
/*
 * Record n delivered uuids, and the claims of the identity events among
 * them (a device already claimed keeps its first user), in one
 * transaction: 0, or -1.
 */
int		 journal_add(struct journal *, const unsigned char (*)[16],
		    size_t n, const struct journal_claim *, size_t nclaims);
/* The user that claimed device: 1 (in user), 0 none, -1 error. */
int		 journal_claimed(struct journal *, const unsigned char device[16],
		    unsigned char user[16]);
/*
 * An archive member (settle.h's key) whose every event is delivered:
 * journal_settle records it (0, or -1); journal_settled says 1 if it is
 * recorded, 0 if not (also in a journal older than the table), -1 on an
 * error.
 */
int		 journal_settle(struct journal *, const char *member);
int		 journal_settled(struct journal *, const char *member);
/*
 * Forget n uuids in one transaction, so ph-batch sends them again:
 * ph-verify's repair of events PostHog acknowledged but does not have.
 * Every settled member is forgotten with them.
 */
int		 journal_forget(struct journal *, const unsigned char (*)[16],
		    size_t n);
/* The meta table: 1 found (value in val), 0 not, -1 error. */
int		 journal_meta_get(struct journal *, const char *key, char *val,
		    size_t len);
int		 journal_meta_set(struct journal *, const char *key,
		    const char *val);
/*
 * A journal belongs to one destination: the host, the project (when
 * known: NULL if not) and a fingerprint of the token (never the token).
 * The first sender records them; a later one with another destination is
 * refused with a message in err (-1), unless rebind, which records the
 * new one.  Its events were acknowledged by the old destination only.
 */
int		 journal_bind(struct journal *, const char *host,
		    const char *project, const char *token_fp, int rebind,
		    char *err, size_t errlen);
/*
 * Only one sender may use a journal at a time: two would each find every
 * event undelivered and send it.  Takes a lock (released when the handle
 * is closed or the process dies) on a file beside the journal, path plus
 * "-sender", which names the holder; -1 with a message naming the
 * holder (pid, host, start time) if another has it.  Readers (ph-alias,
 * ph-report, ph-verify) need no lock.
 */
int		 journal_lock_sender(struct journal *, const char *path,
		    char *err, size_t errlen);
/* A row in the runs table for this run's summary: 0, or -1. */
int		 journal_run_begin(struct journal *, const char *host);
int		 journal_run_update(struct journal *, const struct journal_run *,
		    const char *status);
const char	*journal_error(struct journal *);
/* Rows of the delivered table; 0 on a database error. */
uint64_t	 journal_count(struct journal *);
/*
 * Calls fn for each row of the runs table, oldest first; the strings
 * last only until fn returns.  0 (also when there is no runs table: a
 * journal ph-batch never wrote), -1 on a database error, else what a
 * non-zero fn returned, which stops the walk.
 */
int		 journal_runs(struct journal *,
		    int (*fn)(const struct journal_runrow *, void *), void *);

#endif
