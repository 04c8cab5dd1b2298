/*
 * receipt: the line ph-batch writes on stdout for each HTTP request it
 * made (its outcome, status, events, bytes, attempts, time and the
 * uuids of its first and last event, and when the answer came), and
 * ph-report reads with
 * --receipts to show how the sending went.  Both call this module, so
 * an outcome ph-batch starts to write is one ph-report knows: a name
 * not in receipt_outcome_names is a bad line, never silently "other".
 * Users read the lines too (jq), so the bytes of a line are part of
 * the contract: fields in this order, compact JSON.
 */
#ifndef RECEIPT_H
#define RECEIPT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

/* What became of one request; this order is the report's. */
enum receipt_outcome {
	RO_DELIVERED,	/* 2xx: its events are in the journal */
	RO_RETRY,	/* a fault: the same batch is sent again later */
	RO_SPLIT,	/* 400/413 with more than one event: halves follow */
	RO_REJECTED,	/* 400 for one event: it went to the rejects file */
	RO_FATAL,	/* an answer that stops the run (401, 403, ...) */
	RO_GAVE_UP,	/* retried for longer than --retry-for */
	RO_NOUTCOMES
};

extern const char *const receipt_outcome_names[RO_NOUTCOMES];
/* The outcome called name (len bytes), or -1. */
int	receipt_outcome(const char *name, size_t len);

struct receipt {
	long			 status;	/* HTTP; 0: no answer */
	enum receipt_outcome	 outcome;
	uint64_t		 events, bytes;
	int64_t			 attempts;
	int64_t			 ms;		/* rounded */
	int64_t			 resent;	/* by libcurl on its own */
	int64_t			 at;		/* µs since the epoch of the
						   answer; 0: not known (older
						   receipts) */
	int			 has_first, has_last;
	unsigned char		 first_uuid[16], last_uuid[16];
	/* NULL: none.  From receipt_parse: valid until the next parse. */
	const char		*error;
};

/* Append r's line, newline included, to b. */
void	receipt_append(struct buf *b, const struct receipt *r);
/*
 * Write r's line to fp and flush it: a receipt is for now, not later.
 * A failed write exits 1 with its errno (a full disk must stop a sender
 * whose record of what it did is lost).
 */
void	receipt_write(FILE *fp, const char *name, const struct receipt *r);

struct json_parser;
/*
 * One line (without its newline) into r: 0, or -1 with a message in
 * err.  The parser's tree holds r->error until its next parse.
 */
int	receipt_parse(struct json_parser *, const char *line, size_t len,
	    struct receipt *r, char *err, size_t errlen);

#endif
