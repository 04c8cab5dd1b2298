/*
 * ph-report: prove a migration complete.  Reads the Amplitude export
 * lines again, gives each the uuid amp-convert gives it (common/ampevent),
 * looks it up in the journal, and tallies per day and per event type what
 * was exported, dropped by a rule, delivered, rejected and still pending.
 * Given ph-verify's summary (--verified), says per day how many of them
 * PostHog's query API found stored.  Writes one self-contained HTML page
 * (or the same figures as JSON), a summary on stderr, and exits 0 only
 * when nothing is pending or rejected and, given --verified, PostHog
 * has every event.
 *
 * Memory holds counters, not events: per day, per event type (at most
 * MAXTYPES), per reject reason (at most MAXREASONS), the keys of the
 * rejects files, and a temporary journal (on disk past its cache) of
 * the delivered uuids seen, for the count of journal rows that are not
 * from the export.
 *
 * This file reads, through common/ (ampevent, journal, rejects,
 * receipt, verifysum); tally.c counts; html.c and json.c write (report.h).
 */
#include <err.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ampevent.h"
#include "buf.h"
#include "cli.h"
#include "journal.h"
#include "json.h"
#include "lines.h"
#include "outfile.h"
#include "period.h"
#include "receipt.h"
#include "rejects.h"
#include "settle.h"
#include "timestamp.h"
#include "utf8.h"
#include "uuid.h"
#include "uuidset.h"
#include "verifysum.h"
#include "xalloc.h"

#include "report.h"

#define MAXLINE_DEFAULT	(16 * 1024 * 1024)

struct options	 opt = { .maxline = MAXLINE_DEFAULT, .by = "auto" };

static struct amp_rules	 rules;
static struct json_parser *parser, *parser2;

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: ph-report [-q] -j journal [--rejects file] [--receipts "
	    "file]\n"
	    "                 [--verified file] [--json] [-o file] [--list "
	    "file]\n"
	    "                 [--by auto|day|week|month|year] [--drop event] "
	    "[--keep event]\n"
	    "                 [--rename old=new] [--max-line bytes] "
	    "[file ...]\n");
	exit(status);
}

static void
add_arg(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

/* ------------------------------------------------------------------ */
/* Keys of the rejects files: uuids, or hashes of unreadable inputs    */

enum { K_WAITING = 1, K_REJECTED, K_DELIVERED };

/*
 * A rejects-file key's value: the reason's index, and in the low two
 * bits what the export said of it.
 */
#define KV(ri, state)	((uint32_t)(ri) << 2 | (state))
#define KREASON(v)	((v) >> 2)
#define KSTATE(v)	((v) & 3)
#define KSET(v, state)	((v) = ((v) & ~3U) | (state))

static struct uuidset	byuuid, byhash;	/* uuidmaps: uuids, line hashes */
/*
 * Rejects whose input is not JSON at all: a line cut by a stage that was
 * killed (its whole line is in the export), or a bad export line (which
 * the export then still holds, and meets by its hash).
 */
static struct uuidset	fragments;

static void
hash_key(const char *s, size_t n, unsigned char k[16])
{
	uint64_t a = fnv(s, n, 0xcbf29ce484222325ULL);
	uint64_t b = fnv(s, n, 0x84222325cbf29ce4ULL) ^ n;

	memcpy(k, &a, 8);
	memcpy(k + 8, &b, 8);
}

/* ------------------------------------------------------------------ */
/* The journal, and the delivered uuids seen                           */

/*
 * The journal in one read snapshot (journal_open_snapshot), so every
 * lookup, the row count and the runs see the same state even while
 * ph-batch adds to it.  The delivered uuids met in the export go into a
 * temporary journal, to count the journal rows not from the export.
 */
static struct journal	**jdbs, *seen;

static void
journal_begin(void)
{
	char err[512];

	jdbs = xcalloc(opt.njournals, sizeof(*jdbs));
	for (size_t i = 0; i < opt.njournals; i++) {
		if ((jdbs[i] = journal_open_snapshot(opt.journals[i], err,
		    sizeof(err))) == NULL)
			errx(EXIT_RUNTIME, "journal %s", err);
		st.journal_rows += journal_count(jdbs[i]);
	}
	if ((seen = journal_open_temp(err, sizeof(err))) == NULL)
		errx(EXIT_RUNTIME, "%s", err);
}

static void
journal_end(void)
{
	journal_close(seen);
	for (size_t i = 0; i < opt.njournals; i++)
		journal_close(jdbs[i]);
	free(jdbs);
}

static void
seen_add(const unsigned char u[16])
{
	int r = journal_put(seen, u);

	if (r == -1)
		errx(EXIT_RUNTIME, "temporary database: %s",
		    journal_error(seen));
	st.delivered_distinct += r;
}

static int
delivered(const unsigned char u[16])
{
	for (size_t i = 0; i < opt.njournals; i++) {
		int r = journal_has(jdbs[i], u);

		if (r == -1)
			errx(EXIT_RUNTIME, "journal %s: %s", opt.journals[i],
			    journal_error(jdbs[i]));
		if (r == 1)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading the rejects files                                           */

/*
 * One line of a rejects file.  amp-convert's carry the Amplitude line:
 * its uuid is the one amp-convert would have given it, when it has one.
 * ph-batch's carry the PostHog event: its uuid.  Lines without either
 * are keyed by their input's bytes, to meet the export line they were.
 */
static void
reject_entry(const char *path, uint64_t lineno, const char *p, size_t len,
    struct buf *input)
{
	char err[256], uuid[UUID_STRLEN + 1];
	const struct jval *root, *v;
	const char *why, *fname;
	struct reject rj;
	struct amp_event e;
	unsigned char key[16];
	uint64_t where;
	unsigned from;
	size_t ri;
	struct uuidset *m = &byhash;

	st.rej_entries++;
	if (rejects_parse(parser, p, len, &rj, input, err, sizeof(err)) ==
	    -1) {
		st.rej_unreadable++;
		warnx("%s:%llu: not a line of a rejects file: %s", path,
		    (unsigned long long)lineno, err);
		ri = reason_of("unreadable line of a rejects file", 33,
		    FROM_FILE);
		reason_example(ri, path, lineno, p, len);
		reasons[ri].entries++;
		hash_key(p, len, key);
		uuidmap_add(&byhash, key, KV(ri, K_WAITING));
		return;
	}
	fname = rj.file != NULL ? rj.file : path;
	where = rj.line != 0 ? rj.line : lineno;
	from = rj.has_status ? FROM_BATCH : FROM_CONVERT;

	/* The input, parsed with the second parser: rj stays valid. */
	if ((root = json_parse(parser2, rj.input, rj.inputlen, err,
	    sizeof(err))) != NULL && root->type == J_OBJ) {
		if (json_get(root, "event_type") != NULL) {
			int r = amp_event_read(&rules, root, &e, &why);
			from = FROM_CONVERT;
			if (r == AMP_EVENT || r == AMP_DROP) {
				if (r == AMP_DROP)
					amp_row_uuid(&e.row, e.uuid);
				uuid_bytes(e.uuid, UUID_STRLEN, key);
				m = &byuuid;
			}
		} else if ((v = json_get(root, "uuid")) != NULL &&
		    v->type == J_STR && uuid_canon(v->u.s, v->n, uuid) == 0) {
			from = FROM_BATCH;
			uuid_bytes(uuid, UUID_STRLEN, key);
			m = &byuuid;
		}
	}
	if (m == &byhash)
		hash_key(rj.input, rj.inputlen, key);
	if (root == NULL)
		uuidset_add(&fragments, key);
	ri = reason_of(rj.reason, rj.reasonlen, from);
	reasons[ri].entries++;
	if (uuidmap_add(m, key, KV(ri, K_WAITING)))
		reason_example(ri, fname, where, rj.input, rj.inputlen);
}

static int
read_rejects(const char *path)
{
	struct lines l;
	struct buf input = { 0 };
	const char *p;
	size_t len;
	int r;

	/* A rejects line holds its input escaped: allow for that. */
	if (lines_open(&l, path, opt.maxline < SIZE_MAX / 16 ?
	    opt.maxline * 6 + 65536 : opt.maxline, 0) == -1) {
		warn("%s", path);
		return -1;
	}
	while ((r = lines_next(&l, &p, &len)) != LINE_EOF) {
		if (r == LINE_ERROR) {
			warnx("%s: read error: %s", l.name, l.errmsg);
			break;
		}
		if (len == 0 || (len == 1 && p[0] == '\r'))
			continue;
		if (r == LINE_TOOLONG) {
			warnx("%s:%llu: line of %zu bytes skipped", l.name,
			    (unsigned long long)l.lineno, len);
			st.rej_unreadable++;
			continue;
		}
		reject_entry(l.name, l.lineno, p, len, &input);
	}
	buf_free(&input);
	lines_close(&l);
	return r == LINE_ERROR ? -1 : 0;
}


/* ------------------------------------------------------------------ */
/* The export                                                          */

/* A line amp-convert refuses: the reason is its own, or the file's. */
static const char *
refused(const char *file, uint64_t lineno, const char *line, size_t len,
    const char *why, size_t *ri)
{
	unsigned char key[16];
	uint32_t *v;

	hash_key(line, len, key);
	if ((v = uuidmap_get(&byhash, key)) != NULL) {
		KSET(*v, K_REJECTED);
		*ri = KREASON(*v);
		reasons[*ri].events++;
		return reasons[*ri].text;
	}
	*ri = reason_of(why, strlen(why), FROM_SOURCE);
	reasons[*ri].events++;
	reason_example(*ri, file, lineno, line, len);
	return why;
}

static void
do_line(const char *file, uint64_t lineno, const char *line, size_t len,
    const char *toolong)
{
	char err[256];
	const char *why = NULL, *tw;
	const struct jval *root, *et;
	struct amp_event e;
	unsigned char key[16];
	int64_t us, day = NODAY;
	size_t ti, ri;
	uint32_t *v;
	int r, status;

	if (toolong != NULL) {
		why = refused(file, lineno, line, len, toolong, &ri);
		tally(T_UNREADABLE, NODAY, C_REJECTED);
		list_line(file, lineno, C_REJECTED, T_UNREADABLE, NODAY, NULL,
		    why);
		return;
	}
	if ((root = json_parse(parser, line, len, err, sizeof(err))) == NULL) {
		if (!utf8_valid(line, len))
			snprintf(err, sizeof(err), "invalid UTF-8");
		why = refused(file, lineno, line, len, err, &ri);
		tally(T_UNREADABLE, NODAY, C_REJECTED);
		list_line(file, lineno, C_REJECTED, T_UNREADABLE, NODAY, NULL,
		    why);
		return;
	}
	r = amp_event_read(&rules, root, &e, &why);
	if (root->type != J_OBJ)
		ti = T_UNREADABLE;
	else if ((et = e.row.f[AF_EVENT_TYPE]) == NULL ||
	    et->type != J_STR || et->n == 0)
		ti = T_NOTYPE;
	else {
		if (r == AMP_REJECT)
			amp_map_name(&rules, et, &e.name);
		ti = type_of(et->u.s, et->n, e.name.event, e.name.event_len);
	}
	if (r == AMP_EVENT)
		day = day_of_us(e.us);
	else if (root->type == J_OBJ && amp_row_time(&e.row, &us, &tw) == 0)
		day = day_of_us(us);

	if (r == AMP_REJECT) {
		why = refused(file, lineno, line, len, why, &ri);
		tally(ti, day, C_REJECTED);
		list_line(file, lineno, C_REJECTED, ti, day, NULL, why);
		return;
	}
	if (r == AMP_DROP)
		amp_row_uuid(&e.row, e.uuid);
	uuid_bytes(e.uuid, UUID_STRLEN, key);
	why = NULL;
	v = uuidmap_get(&byuuid, key);
	if (delivered(key)) {
		status = C_DELIVERED;
		seen_add(key);
		if (r == AMP_DROP)
			st.dropped_delivered++;
		if (v != NULL)
			KSET(*v, K_DELIVERED);
	} else if (r == AMP_DROP)
		status = C_DROPPED;
	else if (v != NULL) {
		status = C_REJECTED;
		if (KSTATE(*v) == K_WAITING)
			KSET(*v, K_REJECTED);
		reasons[KREASON(*v)].events++;
		why = reasons[KREASON(*v)].text;
	} else
		status = C_PENDING;
	tally(ti, day, status);
	list_line(file, lineno, status, ti, day, e.uuid, why);
}

static int
read_export(const char *path)
{
	struct lines l;
	const char *p;
	size_t len;
	int r;

	if (lines_open(&l, path, opt.maxline, 0) == -1) {
		warn("%s", path);
		return -1;
	}
	while ((r = lines_next(&l, &p, &len)) != LINE_EOF) {
		if (r == LINE_ERROR) {
			warnx("%s: read error: %s", l.name, l.errmsg);
			break;
		}
		switch (r == LINE_OK ? settle_is(p, len) : SETTLE_NONE) {
		case SETTLE_MEMBER:
			continue;	/* amp-unpack -j's, not a row */
		case SETTLE_SKIPPED:
			/* The skipped members' rows would look missing. */
			errx(EXIT_DATAERR, "%s:%llu: " SETTLE_SKIPPED_WHY ": the "
			    "report must read every row: run amp-unpack without "
			    "-j", l.name,
			    (unsigned long long)l.lineno);
		}
		st.lines++;
		if (r == LINE_TOOLONG) {
			char why[128];
			snprintf(why, sizeof(why), "line of %zu bytes is "
			    "longer than --max-line %zu (first 1024 bytes "
			    "kept)", len, opt.maxline);
			do_line(l.name, l.lineno, p, 1024, why);
			continue;
		}
		if (amp_line_blank(p, len)) {
			st.blank++;
			continue;
		}
		do_line(l.name, l.lineno, p, len, NULL);
	}
	lines_close(&l);
	return r == LINE_ERROR ? -1 : 0;
}

/* Rejects-file keys no export line met: rejected all the same. */
static void
outside_rejects(void)
{
	struct uuidset *ms[2] = { &byuuid, &byhash };
	const unsigned char *key;
	uint32_t *v;

	for (int k = 0; k < 2; k++) {
		struct uuidset *m = ms[k];
		for (size_t it = 0; uuidset_next(m, &it, &key, &v); ) {
			if (KSTATE(*v) == K_DELIVERED)
				st.rej_since_delivered++;
			if (KSTATE(*v) != K_WAITING)
				continue;
			/* An $identify refused once, delivered since? */
			if (m == &byuuid && delivered(key)) {
				st.rej_since_delivered++;
				continue;
			}
			/*
			 * Not JSON, and no export line is it: the cut end of a
			 * line whose whole copy the export holds (a killed
			 * stage), not an event that is missing.
			 */
			if (m == &byhash && uuidset_has(&fragments, key)) {
				st.rej_fragments++;
				continue;
			}
			reasons[KREASON(*v)].outside++;
			st.outside++;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Receipts                                                            */

static void
receipt_line(const char *path, uint64_t lineno, const char *line,
    size_t len)
{
	char err[256];
	struct receipt r;

	if (receipt_parse(parser, line, len, &r, err, sizeof(err)) == -1) {
		if (rc.bad++ < 5)
			warnx("%s:%llu: not a receipt: %s", path,
			    (unsigned long long)lineno, err);
		return;
	}
	tally_receipt(&r);
}

static int
read_receipts(const char *path)
{
	struct lines l;
	const char *p;
	size_t len;
	int r;

	if (lines_open(&l, path, 1 << 20, 0) == -1) {
		warn("%s", path);
		return -1;
	}
	while ((r = lines_next(&l, &p, &len)) != LINE_EOF) {
		if (r == LINE_ERROR) {
			warnx("%s: read error: %s", l.name, l.errmsg);
			break;
		}
		if (len == 0 || r == LINE_TOOLONG)
			continue;
		rc.lines++;
		receipt_line(l.name, l.lineno, p, len);
	}
	lines_close(&l);
	return r == LINE_ERROR ? -1 : 0;
}

/* The journal's runs table: ph-batch's summary of each run. */
static void
read_runs(void)
{
	for (size_t i = 0; i < opt.njournals; i++)
		if (journal_runs(jdbs[i], tally_run, NULL) == -1)
			errx(EXIT_RUNTIME, "journal %s: %s", opt.journals[i],
			    journal_error(jdbs[i]));
}

/* ------------------------------------------------------------------ */
/* ph-verify's summary (--verified)                                    */

#define SUMMARY_MAX	(256 * 1024 * 1024)

/* Read and check it before the export: a bad file stops at once. */
static void
read_verified(void)
{
	struct buf b = { 0 };
	char e[512];
	FILE *fp;
	size_t n;

	if ((fp = fopen(opt.verified, "r")) == NULL)
		err(EXIT_RUNTIME, "--verified %s", opt.verified);
	for (;;) {
		buf_grow(&b, 65536);
		n = fread(b.p + b.len, 1, 65536, fp);
		b.len += n;
		if (n < 65536)
			break;
		if (b.len > SUMMARY_MAX)
			errx(EXIT_RUNTIME, "--verified %s: larger than %d MiB: "
			    "not a summary of ph-verify --summary", opt.verified,
			    SUMMARY_MAX >> 20);
	}
	if (ferror(fp))
		err(EXIT_RUNTIME, "--verified %s", opt.verified);
	fclose(fp);
	if (verifysum_parse(b.p, b.len, &vsum, e, sizeof(e)) == -1)
		errx(EXIT_RUNTIME, "--verified %s: %s", opt.verified, e);
	buf_free(&b);
}

/* A check of another project than the journal's says nothing of it. */
static void
verified_project(void)
{
	char jp[64];

	for (size_t i = 0; i < opt.njournals; i++) {
		int r = journal_meta_get(jdbs[i], "project", jp, sizeof(jp));

		if (r == -1)
			errx(EXIT_RUNTIME, "journal %s: %s", opt.journals[i],
			    journal_error(jdbs[i]));
		if (r == 1 && strcmp(jp, vsum.project) != 0)
			errx(EXIT_RUNTIME, "--verified %s: a check of project "
			    "%s, but journal %s belongs to project %s",
			    opt.verified, vsum.project, opt.journals[i], jp);
	}
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static void
write_out(struct buf *b)
{
	FILE *fp = stdout;
	const char *name = "stdout";

	if (opt.output != NULL && strcmp(opt.output, "-") != 0) {
		if ((fp = fopen(opt.output, "w")) == NULL)
			err(EXIT_RUNTIME, "%s", opt.output);
		name = opt.output;
	}
	outfile_write(fp, b->p, b->len, name);
	if (outfile_close(fp, name) == -1)
		exit(EXIT_RUNTIME);
}

static void
summary(void)
{
	const struct verifysum_totals *t = &vsum.t;
	uint64_t pend = st.c.v[C_PENDING], rej = rejected_total();
	char when[TS_STRLEN + 1];

	if (opt.quiet && complete() && st.c.v[C_EXPORT] > 0)
		return;
	fprintf(stderr, "ph-report: %llu events in the export: %llu "
	    "delivered, %llu dropped by rule, %llu rejected, %llu pending",
	    (unsigned long long)st.c.v[C_EXPORT],
	    (unsigned long long)st.c.v[C_DELIVERED],
	    (unsigned long long)st.c.v[C_DROPPED],
	    (unsigned long long)st.c.v[C_REJECTED],
	    (unsigned long long)pend);
	if (st.outside)
		fprintf(stderr, "; %llu rejected not from the export",
		    (unsigned long long)st.outside);
	fprintf(stderr, "; %llu identity merges sent\n",
	    (unsigned long long)merges());
	if (opt.verified != NULL) {
		ts_format(vsum.checked_at * 1000000, when);
		fprintf(stderr, "ph-report: in PostHog (ph-verify, %.10s %.8s "
		    "UTC, project %s): %llu of %llu events checked, %llu "
		    "missing, %llu not yet visible, %llu unverified\n", when,
		    when + 11, vsum.project, (unsigned long long)t->present,
		    (unsigned long long)t->expected,
		    (unsigned long long)t->missing,
		    (unsigned long long)t->not_visible,
		    (unsigned long long)t->unverified);
		if (ver.stale)
			warnx("ph-batch delivered events after this check: "
			    "run ph-verify --summary again");
		if (ver.uncovered)
			warnx("%llu delivered events of the export were not "
			    "checked: give ph-verify the whole stream",
			    (unsigned long long)ver.uncovered);
	}
	if (st.c.v[C_EXPORT] == 0)
		warnx("the export read has no events: is it the right one?");
	if (st.dropped_delivered)
		warnx("%llu events dropped by the rules given are in the "
		    "journal: were amp-convert's --drop/--keep/--rename the "
		    "same?", (unsigned long long)st.dropped_delivered);
	if (!acknowledged())
		fprintf(stderr, "ph-report: NOT complete: %llu pending%s, "
		    "%llu rejected%s\n", (unsigned long long)pend,
		    pend ? " (run the pipeline again)" : "",
		    (unsigned long long)rej, rej ? " (see the report)" : "");
	else if (opt.verified == NULL)
		fprintf(stderr, "ph-report: acknowledged, not verified: every "
		    "event of the export was acknowledged by PostHog's "
		    "capture, which does not say it is stored (check with "
		    "ph-verify --summary, then ph-report --verified)\n");
	else if (ver.complete)
		fprintf(stderr, "ph-report: complete: every event of the "
		    "export is in PostHog\n");
	if (opt.verified == NULL || ver.complete)
		return;
	fprintf(stderr, "ph-report: NOT complete: not all in PostHog");
	if (t->missing || t->never_delivered)
		fprintf(stderr, " (repair: ... | ph-alias -j %s | ph-verify -j "
		    "%s --project %s ... | ph-batch -j %s ..., then ph-verify "
		    "--summary again)", opt.journal, opt.journal,
		    vsum.project, opt.journal);
	else
		fprintf(stderr, " (run ph-verify --summary again%s)",
		    t->not_visible ? " once PostHog has ingested them" : "");
	fputc('\n', stderr);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "by",		required_argument,	NULL, 'b' },
		{ "drop",	required_argument,	NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "journal",	required_argument,	NULL, 'j' },
		{ "json",	no_argument,		NULL, 'J' },
		{ "keep",	required_argument,	NULL, 'k' },
		{ "list",	required_argument,	NULL, 'l' },
		{ "max-line",	required_argument,	NULL, 'M' },
		{ "output",	required_argument,	NULL, 'o' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "receipts",	required_argument,	NULL, 'r' },
		{ "rejects",	required_argument,	NULL, 'x' },
		{ "rename",	required_argument,	NULL, 'R' },
		{ "verified",	required_argument,	NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct buf out = { 0 };
	uint64_t u;
	int ch, failed = 0;

	amp_rules_init(&rules);
	while ((ch = getopt_long(argc, argv, "hj:o:q", longopts, NULL)) !=
	    -1) {
		cli_once(longopts, ch, "blMov", NULL);
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "auto") && strcmp(optarg, "day") &&
			    strcmp(optarg, "week") && strcmp(optarg, "month") &&
			    strcmp(optarg, "year"))
				errx(EXIT_USAGE, "--by: auto, day, week, month "
				    "or year, not %s", optarg);
			opt.by = optarg;
			break;
		case 'd':
			amp_rules_drop(&rules, optarg);
			break;
		case 'j':
			opt.journals = xrealloc(opt.journals, (opt.njournals +
			    1) * sizeof(*opt.journals));
			opt.journals[opt.njournals++] = optarg;
			break;
		case 'J':
			opt.json = 1;
			break;
		case 'k':
			amp_rules_keep(&rules, optarg);
			break;
		case 'l':
			opt.list = optarg;
			break;
		case 'M':
			if (cli_u64(optarg, 1024, SIZE_MAX / 4, &u) == -1)
				errx(EXIT_USAGE, "--max-line: not a size of at "
				    "least 1024: %s", optarg);
			opt.maxline = u;
			break;
		case 'o':
			opt.output = optarg;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'r':
			add_arg(&opt.receipts, &opt.nreceipts, optarg);
			break;
		case 'x':
			add_arg(&opt.rejects, &opt.nrejects, optarg);
			break;
		case 'R':
			if (amp_rules_rename(&rules, optarg) == -1)
				errx(EXIT_USAGE, "--rename: expected OLD=NEW, "
				    "got %s", optarg);
			break;
		case 'v':
			opt.verified = optarg;
			break;
		case 'V':
			cli_version("ph-report");
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (opt.njournals == 0) {
		warnx("-j journal is required");
		usage(stderr, EXIT_USAGE);
	}
	/* The page names them all: the shards' journals, joined. */
	{
		struct buf names = { 0 };

		for (size_t i = 0; i < opt.njournals; i++) {
			if (i > 0)
				buf_adds(&names, ", ");
			buf_adds(&names, opt.journals[i]);
		}
		buf_addc(&names, '\0');
		opt.journal = names.p;	/* kept for the run */
	}
	for (int i = 0; i < argc; i++)
		add_arg(&opt.inputs, &opt.ninputs, argv[i]);
	if (opt.list != NULL && strcmp(opt.list, "-") == 0 &&
	    (opt.output == NULL || strcmp(opt.output, "-") == 0))
		errx(EXIT_USAGE, "--list - and the report cannot both go to "
		    "the standard output: give -o");

	if (opt.verified != NULL)
		read_verified();
	journal_begin();
	if (opt.verified != NULL)
		verified_project();
	list_open();
	parser = json_parser_new();
	parser2 = json_parser_new();
	types_init();
	uuidmap_init(&byuuid);
	uuidmap_init(&byhash);
	uuidset_init(&fragments);

	for (size_t i = 0; i < opt.nrejects; i++)
		failed |= read_rejects(opt.rejects[i]) == -1;
	if (argc == 0)
		st.read_failed |= read_export("-") == -1;
	for (int i = 0; i < argc; i++)
		st.read_failed |= read_export(argv[i]) == -1;
	failed |= st.read_failed;
	outside_rejects();
	for (size_t i = 0; i < opt.nreceipts; i++)
		failed |= read_receipts(opt.receipts[i]) == -1;
	read_runs();
	if (list_close() == -1)
		failed = 1;

	tally_finish();
	tally_verified();
	if (opt.json)
		write_json(&out);
	else
		write_html(&out);
	write_out(&out);
	summary();

	buf_free(&out);
	tally_free();
	uuidset_free(&byuuid);
	uuidset_free(&byhash);
	uuidset_free(&fragments);
	journal_end();
	json_parser_free(parser);
	json_parser_free(parser2);
	amp_rules_free(&rules);
	free(opt.rejects);
	free(opt.receipts);
	free(opt.inputs);
	free(opt.journals);
	free((char *)opt.journal);
	if (failed)
		return EXIT_RUNTIME;
	if (st.c.v[C_PENDING] > 0)
		return EXIT_RUNTIME;
	if (opt.verified != NULL && !ver.complete)
		return EXIT_RUNTIME;
	return rejected_total() > 0 ? EXIT_DATAERR : 0;
}

