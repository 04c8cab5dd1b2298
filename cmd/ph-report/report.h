/*
 * report.h: ph-report's model, what was counted, which the writers read.
 * ph-report.c reads the export, the rejects files, the receipts and the
 * journal (through common/) and hands what it learns to tally.c, which
 * owns the counters; html.c and json.c only read them, so the page and
 * --json always show the same figures.  Given --verified, ph-verify's
 * summary (common/verifysum) says what PostHog stores, per day.
 * Private to cmd/ph-report/.
 */
#ifndef REPORT_H
#define REPORT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "journal.h"
#include "receipt.h"
#include "verifysum.h"

#define MAXTYPES	500	/* distinct event types; the rest: (other) */
#define MAXREASONS	100	/* distinct reject reasons; the rest folded */
#define NEX		3	/* examples kept per reason */
#define EXAMPLE_BYTES	400	/* of each example's input */
#define MAXBARS		120	/* chart bars before days become weeks... */
#define RBUCKETS	120	/* receipt-order buckets in the sending chart */
#define MAXRUNS		200	/* journal runs listed (the latest) */
#define GAPROWS		60	/* periods with gaps listed */
#define NODAY		INT64_MIN

/* What became of each line of the export. */
enum { C_EXPORT, C_DROPPED, C_DELIVERED, C_REJECTED, C_PENDING, NC };
extern const char *const cname[NC];

struct counts {
	uint64_t	v[NC];
};

/* Options (ph-report.c) and totals (tally.c) */

struct options {
	const char	*journal, *output, *list, *by, *verified;
	/*
	 * -j, once per shard: an event is delivered when any journal has
	 * it.  journal is their names, joined, for the page.
	 */
	const char	**journals;
	size_t		 njournals;
	const char	**rejects, **receipts, **inputs;
	size_t		 nrejects, nreceipts, ninputs;
	int		 json, quiet;
	size_t		 maxline;
};
extern struct options	opt;

struct totals {
	uint64_t	lines, blank;
	struct counts	c;
	uint64_t	outside;	/* rejected, not lines of the export */
	uint64_t	dropped_delivered;
	uint64_t	delivered_distinct, journal_rows;
	uint64_t	rej_entries, rej_unreadable, rej_since_delivered;
	uint64_t	rej_fragments;	/* cut lines, not events */
	int		read_failed;
};
extern struct totals	st;

/* Event types */

enum { T_OTHER, T_UNREADABLE, T_NOTYPE, T_NSPECIAL };

struct etype {
	char		*name, *ph;
	size_t		 len, phlen;
	int		 special;
	struct counts	 c;
	int64_t		 first, last;
};
extern struct etype	*types;
extern size_t		 ntypes;

/* Days */

struct dayc {
	int64_t		day;
	struct counts	c;
	const struct verifysum_day *ph;	/* --verified: its day, or NULL */
};
extern struct dayc	*days;	/* sorted by tally_finish */
extern size_t		 ndays;
extern struct counts	 noday;	/* lines without a usable time */

/* Reject reasons */

enum { FROM_CONVERT = 1, FROM_BATCH = 2, FROM_SOURCE = 4, FROM_FILE = 8 };

struct example {
	char	*where, *text;
};

struct reason {
	char		*text;
	size_t		 len;
	unsigned	 from;
	uint64_t	 events;	/* lines of the export rejected */
	uint64_t	 outside;	/* rejected, not in the export */
	uint64_t	 entries;	/* lines of the rejects files */
	struct example	 ex[NEX];
	int		 nex;
};
extern struct reason	*reasons;
extern size_t		 nreasons;

/* Receipts */

#define NOUT	RO_NOUTCOMES
#define oname	receipt_outcome_names

struct rbucket {
	uint64_t	out[NOUT];
	uint64_t	events, ms, req;
};

#define LATN	3000
struct receipts {
	uint64_t	lines, bad, requests, bytes, ms, attempts_max;
	uint64_t	out[NOUT], out_events[NOUT];
	long		status[64];
	uint64_t	status_n[64];
	int		nstatus;
	uint64_t	lat[LATN], ms_max;
	struct rbucket	b[RBUCKETS];
	uint64_t	per;		/* receipts per bucket */
};
extern struct receipts	rc;

/* The journal's runs table (ph-batch's summary of each run) */

struct run {
	char		*started, *updated, *host, *status;
	uint64_t	 n[8];	/* as run_cols */
};
extern const char *const run_cols[8];
extern size_t		 nruns;		/* listed: the latest MAXRUNS */
extern uint64_t		 runs_total;

/* What ph-verify found (--verified), and what that makes of it */

extern struct verifysum	vsum;	/* the summary read */

struct verified {
	int		complete;	/* PostHog has every event checked */
	int		stale;		/* ph-batch delivered since the check */
	uint64_t	not_there;	/* missing, not visible, unverified... */
	uint64_t	uncovered;	/* delivered uuids beyond those checked */
	size_t		days_outside;	/* summary days with no export event */
	size_t		days_unchecked;	/* export days delivered, not checked */
};
extern struct verified	ver;

/* Periods for the chart */

struct period {
	char		label[11];
	struct counts	c;
};
extern struct period	*periods;
extern size_t		 nperiods;
extern int		 punit;
extern int64_t		 dmin, dmax;

/* tally.c: counting */
uint64_t	 fnv(const void *, size_t, uint64_t);
void		 types_init(void);
size_t		 type_of(const char *, size_t, const char *, size_t);
size_t		 reason_of(const char *, size_t, unsigned);
void		 reason_example(size_t, const char *, uint64_t, const char *,
		    size_t);
void		 tally(size_t, int64_t, int);
void		 tally_receipt(const struct receipt *);
int		 tally_run(const struct journal_runrow *, void *);
/* After the last tally: days sorted, periods made. */
void		 tally_finish(void);
/* After tally_finish, given --verified: the days matched, ver made. */
void		 tally_verified(void);
void		 tally_free(void);

/* tally.c: what the writers ask */
uint64_t	 lat_pct(double);
const struct run *run_at(size_t);
double		 run_seconds(const struct run *);
struct etype	**sorted_types(size_t *);
struct reason	**sorted_reasons(size_t *);
uint64_t	 rejected_total(void);
const char	*from_text(unsigned);
uint64_t	 merges(void);
/* Nothing pending or rejected: all acknowledged by PostHog's capture. */
int		 acknowledged(void);
/* Exit 0: acknowledged and, given --verified, all in PostHog. */
int		 complete(void);

/* json.c: --json and --list */
void		 jstr(struct buf *, const char *, size_t);
void		 jstrs(struct buf *, const char *);
void		 write_json(struct buf *);
void		 list_open(void);
int		 list_close(void);
void		 list_line(const char *, uint64_t, int, size_t, int64_t,
		    const char *, const char *);

/* html.c: the page */
void		 write_html(struct buf *);

#endif
