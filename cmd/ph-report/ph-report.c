/*
 * ph-report: prove a migration complete.  Reads the Amplitude export
 * lines again, gives each the uuid amp-convert gives it (common/ampevent),
 * looks it up in the journal, and tallies per day and per event type what
 * was exported, dropped by a rule, delivered, rejected and still pending.
 * Writes one self-contained HTML page (or the same figures as JSON), a
 * summary on stderr, and exits 0 only when nothing is pending or rejected.
 *
 * Memory holds counters, not events: per day, per event type (at most
 * MAXTYPES), per reject reason (at most MAXREASONS), the keys of the
 * rejects files, and a temporary SQLite table (on disk past its cache) of
 * the delivered uuids seen, for the count of journal rows that are not
 * from the export.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ampevent.h"
#include "buf.h"
#include "cli.h"
#include "htmlw.h"
#include "journal.h"
#include "json.h"
#include "jsonw.h"
#include "lines.h"
#include "outfile.h"
#include "period.h"
#include "receipt.h"
#include "rejects.h"
#include "svgchart.h"
#include "timestamp.h"
#include "uuid.h"
#include "uuidset.h"
#include "xalloc.h"

#define MAXLINE_DEFAULT	(16 * 1024 * 1024)
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
static const char *const cname[NC] = {
	"export", "dropped", "delivered", "rejected", "pending"
};

struct counts {
	uint64_t	v[NC];
};

/* ------------------------------------------------------------------ */
/* Options and totals                                                  */

static struct {
	const char	*journal, *output, *list, *by;
	const char	**rejects, **receipts, **inputs;
	size_t		 nrejects, nreceipts, ninputs;
	int		 json, quiet;
	size_t		 maxline;
} opt = { .maxline = MAXLINE_DEFAULT, .by = "auto" };

static struct {
	uint64_t	lines, blank;
	struct counts	c;
	uint64_t	outside;	/* rejected, not lines of the export */
	uint64_t	dropped_delivered;
	uint64_t	delivered_distinct, journal_rows;
	uint64_t	rej_entries, rej_unreadable, rej_since_delivered;
	int		read_failed;
} st;

static struct amp_rules	 rules;
static struct json_parser *parser, *parser2;
static FILE		*listfp;
static struct buf	 scratch;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ph-report [-q] -j journal [--rejects file] [--receipts "
	    "file]"
	    " [--json]\n"
	    "                 [-o file] [--list file] "
	    "[--by auto|day|week|month|year]\n"
	    "                 [--drop event] [--keep event] [--rename old=new]"
	    " [--max-line bytes]\n"
	    "                 [file ...]\n");
	exit(EXIT_USAGE);
}

static void
add_arg(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

/* ------------------------------------------------------------------ */
/* JSON strings of any bytes, made valid UTF-8                         */

/* A JSON string of s made valid UTF-8 first. */
static void
jstr(struct buf *b, const char *s, size_t n)
{
	struct buf t = { 0 };

	htmlw_clean(&t, s, n, 0, SIZE_MAX);
	jsonw_str(b, t.p ? t.p : "", t.len);
	buf_free(&t);
}

static void
jstrs(struct buf *b, const char *s)
{
	jstr(b, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Event types                                                         */

enum { T_OTHER, T_UNREADABLE, T_NOTYPE, T_NSPECIAL };
static const char *const special_names[T_NSPECIAL] = {
	"(other)", "(unreadable line)", "(no event_type)"
};

struct etype {
	char		*name, *ph;
	size_t		 len, phlen;
	int		 special;
	struct counts	 c;
	int64_t		 first, last;
};

static struct etype	*types;
static size_t		 ntypes;
static uint32_t		 thash[4096];	/* index + 1; > 2 * all types */

static uint64_t
fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

static void
types_init(void)
{
	types = xcalloc(MAXTYPES + T_NSPECIAL, sizeof(*types));
	for (int i = 0; i < T_NSPECIAL; i++) {
		types[i].name = xstrdup(special_names[i]);
		types[i].len = strlen(special_names[i]);
		types[i].special = 1;
		types[i].first = INT64_MAX;
		types[i].last = INT64_MIN;
	}
	ntypes = T_NSPECIAL;
}

static size_t
type_of(const char *s, size_t n, const char *ph, size_t phlen)
{
	size_t i = fnv(s, n, 0xcbf29ce484222325ULL) & 4095;
	struct etype *t;

	for (; thash[i] != 0; i = (i + 1) & 4095) {
		t = &types[thash[i] - 1];
		if (t->len == n && memcmp(t->name, s, n) == 0)
			return thash[i] - 1;
	}
	if (ntypes >= MAXTYPES + T_NSPECIAL)
		return T_OTHER;
	t = &types[ntypes];
	t->name = xmalloc(n + 1);	/* n bytes: names may hold NULs */
	memcpy(t->name, s, n);
	t->name[n] = '\0';
	t->len = n;
	if (ph != NULL) {
		t->ph = xmalloc(phlen + 1);
		memcpy(t->ph, ph, phlen);
		t->ph[phlen] = '\0';
		t->phlen = phlen;
	}
	t->first = INT64_MAX;
	t->last = INT64_MIN;
	thash[i] = ++ntypes;
	return ntypes - 1;
}

/* ------------------------------------------------------------------ */
/* Days                                                                */

struct dayc {
	int64_t		day;
	struct counts	c;
};

static struct dayc	*days;
static size_t		 ndays, dcap;
static uint32_t		*dhash;		/* index + 1 */
static size_t		 dmask;
static struct counts	 noday;		/* lines without a usable time */

static size_t
dslot(int64_t day)
{
	uint64_t h = (uint64_t)day * 0x9e3779b97f4a7c15ULL;

	return (h >> 20) & dmask;
}

static struct counts *
day_counts(int64_t day)
{
	size_t i;

	if (day == NODAY)
		return &noday;
	if (dhash == NULL || (ndays + 1) * 2 > dmask + 1) {
		size_t nm = dhash ? (dmask + 1) * 2 - 1 : 1023;
		free(dhash);
		dhash = xcalloc(nm + 1, sizeof(*dhash));
		dmask = nm;
		for (size_t k = 0; k < ndays; k++) {
			for (i = dslot(days[k].day); dhash[i]; i = (i + 1) &
			    dmask)
				;
			dhash[i] = k + 1;
		}
	}
	for (i = dslot(day); dhash[i]; i = (i + 1) & dmask)
		if (days[dhash[i] - 1].day == day)
			return &days[dhash[i] - 1].c;
	if (ndays == dcap) {
		dcap = dcap ? dcap * 2 : 256;
		days = xrealloc(days, dcap * sizeof(*days));
	}
	memset(&days[ndays], 0, sizeof(days[ndays]));
	days[ndays].day = day;
	dhash[i] = ++ndays;
	return &days[ndays - 1].c;
}

/* ------------------------------------------------------------------ */
/* Reject reasons                                                      */

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

static struct reason	*reasons;
static size_t		 nreasons;

/* " (near byte 12)" would make every parse error a reason of its own. */
static size_t
reason_len(const char *s, size_t n)
{
	static const char near[] = " (near byte ";
	const char *p;

	if (n > 0 && s[n - 1] == ')' && (p = memmem(s, n, near,
	    sizeof(near) - 1)) != NULL) {
		for (const char *q = p + sizeof(near) - 1; q < s + n - 1; q++)
			if (*q < '0' || *q > '9')
				return n;
		return p - s;
	}
	return n;
}

static size_t
reason_of(const char *s, size_t n, unsigned from)
{
	n = reason_len(s, n);
	for (size_t i = 0; i < nreasons; i++)
		if (reasons[i].len == n && memcmp(reasons[i].text, s, n) == 0) {
			reasons[i].from |= from;
			return i;
		}
	if (nreasons == MAXREASONS) {
		/* The last slot gathers every reason past the cap. */
		reasons[nreasons - 1].from |= from;
		return nreasons - 1;
	}
	if (reasons == NULL)
		reasons = xcalloc(MAXREASONS, sizeof(*reasons));
	struct reason *r = &reasons[nreasons];
	if (nreasons == MAXREASONS - 1) {
		r->text = xstrdup("(further reasons)");
		r->len = strlen(r->text);
	} else {
		r->text = xmalloc(n + 1);
		memcpy(r->text, s, n);
		r->text[n] = '\0';
		r->len = n;
	}
	r->from = from;
	return nreasons++;
}

static void
reason_example(size_t ri, const char *file, uint64_t line, const char *s,
    size_t n)
{
	struct reason *r = &reasons[ri];
	struct buf t = { 0 };
	char w[64];

	if (r->nex >= NEX)
		return;
	htmlw_clean(&t, file, strlen(file), 0, 200);
	snprintf(w, sizeof(w), ":%llu", (unsigned long long)line);
	buf_adds(&t, w);
	buf_addc(&t, '\0');
	r->ex[r->nex].where = t.p;
	t.p = NULL;
	t.len = t.cap = 0;
	htmlw_clean(&t, s, n, 0, EXAMPLE_BYTES);
	buf_addc(&t, '\0');
	r->ex[r->nex].text = t.p;
	r->nex++;
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
static struct journal	*jdb, *seen;

static void
journal_begin(void)
{
	char err[512];

	if ((jdb = journal_open_snapshot(opt.journal, err, sizeof(err))) ==
	    NULL)
		errx(EXIT_RUNTIME, "journal %s", err);
	st.journal_rows = journal_count(jdb);
	if ((seen = journal_open_temp(err, sizeof(err))) == NULL)
		errx(EXIT_RUNTIME, "%s", err);
}

static void
journal_end(void)
{
	journal_close(seen);
	journal_close(jdb);
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
	int r = journal_has(jdb, u);

	if (r == -1)
		errx(EXIT_RUNTIME, "journal %s: %s", opt.journal,
		    journal_error(jdb));
	return r;
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

static void
tally(size_t ti, int64_t day, int status)
{
	struct counts *dc = day_counts(day);
	struct etype *t = &types[ti];

	dc->v[C_EXPORT]++;
	dc->v[status]++;
	t->c.v[C_EXPORT]++;
	t->c.v[status]++;
	st.c.v[C_EXPORT]++;
	st.c.v[status]++;
	if (day != NODAY) {
		if (day < t->first)
			t->first = day;
		if (day > t->last)
			t->last = day;
	}
}

static void
list_line(const char *file, uint64_t lineno, int status, size_t ti,
    int64_t day, const char *uuid, const char *why)
{
	int first = 1;
	char d[11];

	scratch.len = 0;
	buf_addc(&scratch, '{');
	jsonw_key(&scratch, "file", &first);
	jstrs(&scratch, file);
	jsonw_key(&scratch, "line", &first);
	jsonw_u64(&scratch, lineno);
	jsonw_key(&scratch, "status", &first);
	jsonw_cstr(&scratch, cname[status]);
	jsonw_key(&scratch, "event_type", &first);
	if (types[ti].special)
		buf_adds(&scratch, "null");
	else
		jstr(&scratch, types[ti].name, types[ti].len);
	jsonw_key(&scratch, "day", &first);
	if (day == NODAY)
		buf_adds(&scratch, "null");
	else {
		day_text(day, d);
		jsonw_cstr(&scratch, d);
	}
	jsonw_key(&scratch, "uuid", &first);
	if (uuid == NULL)
		buf_adds(&scratch, "null");
	else
		jsonw_cstr(&scratch, uuid);
	if (why != NULL) {
		jsonw_key(&scratch, "reason", &first);
		jstrs(&scratch, why);
	}
	buf_adds(&scratch, "}\n");
	outfile_write(listfp, scratch.p, scratch.len, opt.list);
}

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
		if (listfp)
			list_line(file, lineno, C_REJECTED, T_UNREADABLE,
			    NODAY, NULL, why);
		return;
	}
	if ((root = json_parse(parser, line, len, err, sizeof(err))) == NULL) {
		if (!utf8_valid(line, len))
			snprintf(err, sizeof(err), "invalid UTF-8");
		why = refused(file, lineno, line, len, err, &ri);
		tally(T_UNREADABLE, NODAY, C_REJECTED);
		if (listfp)
			list_line(file, lineno, C_REJECTED, T_UNREADABLE,
			    NODAY, NULL, why);
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
		if (listfp)
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
	if (listfp)
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
			reasons[KREASON(*v)].outside++;
			st.outside++;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Receipts                                                            */

#define NOUT	RO_NOUTCOMES
#define oname	receipt_outcome_names

struct rbucket {
	uint64_t	out[NOUT];
	uint64_t	events, ms, req;
};

#define LATN	3000
static struct {
	uint64_t	lines, bad, requests, bytes, ms, attempts_max;
	uint64_t	out[NOUT], out_events[NOUT];
	long		status[64];
	uint64_t	status_n[64];
	int		nstatus;
	uint64_t	lat[LATN], ms_max;
	struct rbucket	b[RBUCKETS];
	uint64_t	per;		/* receipts per bucket */
} rc = { .per = 1 };

static int
lat_bucket(uint64_t ms)
{
	if (ms < 1000)
		return (int)ms;
	if (ms < 100000)
		return 1000 + (int)((ms - 1000) / 100);
	ms = (ms - 100000) / 10000;
	return 1990 + (int)(ms < LATN - 1991 ? ms : LATN - 1991);
}

static uint64_t
lat_value(int b)
{
	if (b < 1000)
		return b;
	if (b < 1990)
		return 1000 + (uint64_t)(b - 1000) * 100 + 99;
	return 100000 + (uint64_t)(b - 1990) * 10000 + 9999;
}

static uint64_t
lat_pct(double q)
{
	uint64_t n = 0, want;

	for (int i = 0; i < LATN; i++)
		n += rc.lat[i];
	if (n == 0)
		return 0;
	want = (uint64_t)(q * n + 0.999999);
	if (want == 0)
		want = 1;
	n = 0;
	for (int i = 0; i < LATN; i++)
		if ((n += rc.lat[i]) >= want) {
			uint64_t v = lat_value(i);
			return v > rc.ms_max ? rc.ms_max : v;
		}
	return rc.ms_max;
}

static void
receipt_line(const char *path, uint64_t lineno, const char *p, size_t len)
{
	char err[256];
	struct receipt r;
	int o, si;
	uint64_t idx, ms;
	struct rbucket *b;

	if (receipt_parse(parser, p, len, &r, err, sizeof(err)) == -1) {
		if (rc.bad++ < 5)
			warnx("%s:%llu: not a receipt: %s", path,
			    (unsigned long long)lineno, err);
		return;
	}
	o = r.outcome;
	ms = r.ms;
	rc.requests++;
	rc.out[o]++;
	rc.out_events[o] += r.events;
	rc.bytes += r.bytes;
	rc.ms += ms;
	if (ms > rc.ms_max)
		rc.ms_max = ms;
	rc.lat[lat_bucket(ms)]++;
	if ((uint64_t)r.attempts > rc.attempts_max)
		rc.attempts_max = r.attempts;
	for (si = 0; si < rc.nstatus; si++)
		if (rc.status[si] == r.status)
			break;
	if (si == rc.nstatus && rc.nstatus < 64) {
		rc.status[si] = r.status;
		rc.nstatus++;
	}
	if (si < 64)
		rc.status_n[si]++;

	/* Buckets of consecutive receipts; halve their number when full. */
	idx = (rc.requests - 1) / rc.per;
	if (idx >= RBUCKETS) {
		for (int i = 0; i < RBUCKETS / 2; i++) {
			struct rbucket m = rc.b[2 * i];
			for (int k = 0; k < NOUT; k++)
				m.out[k] += rc.b[2 * i + 1].out[k];
			m.events += rc.b[2 * i + 1].events;
			m.ms += rc.b[2 * i + 1].ms;
			m.req += rc.b[2 * i + 1].req;
			rc.b[i] = m;
		}
		memset(&rc.b[RBUCKETS / 2], 0, sizeof(rc.b) / 2);
		rc.per *= 2;
		idx = (rc.requests - 1) / rc.per;
	}
	b = &rc.b[idx];
	b->out[o]++;
	b->req++;
	b->ms += ms;
	if (o == RO_DELIVERED)
		b->events += r.events;
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

/* ------------------------------------------------------------------ */
/* The journal's runs table (ph-batch's summary of each run)           */

struct run {
	char		*started, *updated, *host, *status;
	uint64_t	 n[8];	/* as run_cols */
};
static const char *const run_cols[8] = {
	"read", "delivered", "skipped", "rejected", "undelivered",
	"requests", "retries", "bytes"
};

static struct run	*runs;
static size_t		 nruns;
static uint64_t		 runs_total;

static int
run_row(const struct journal_runrow *jr, void *arg)
{
	struct run *r = &runs[runs_total++ % MAXRUNS];

	free(r->started);
	free(r->updated);
	free(r->host);
	free(r->status);
	r->started = xstrdup(jr->started);
	r->updated = xstrdup(jr->updated);
	r->host = xstrdup(jr->host);
	r->status = xstrdup(jr->status);
	r->n[0] = jr->c.read;
	r->n[1] = jr->c.delivered;
	r->n[2] = jr->c.skipped;
	r->n[3] = jr->c.rejected;
	r->n[4] = jr->c.undelivered;
	r->n[5] = jr->c.requests;
	r->n[6] = jr->c.retries;
	r->n[7] = jr->c.bytes;
	return 0;
}

static void
read_runs(void)
{
	runs = xcalloc(MAXRUNS, sizeof(*runs));
	if (journal_runs(jdb, run_row, NULL) == -1)
		errx(EXIT_RUNTIME, "journal %s: %s", opt.journal,
		    journal_error(jdb));
	nruns = runs_total < MAXRUNS ? runs_total : MAXRUNS;
}

static const struct run *
run_at(size_t i)	/* 0: the oldest listed */
{
	return &runs[(runs_total - nruns + i) % MAXRUNS];
}

/* Seconds between started and updated, or -1. */
static double
run_seconds(const struct run *r)
{
	int64_t a, b;

	if (ts_parse(r->started, strlen(r->started), &a) == -1 ||
	    ts_parse(r->updated, strlen(r->updated), &b) == -1 || b < a)
		return -1;
	return (b - a) / 1e6;
}

/* ------------------------------------------------------------------ */
/* Periods for the chart                                               */

struct period {
	char		label[11];
	struct counts	c;
};

static struct period	*periods;
static size_t		 nperiods;
static int		 punit;
static int64_t		 dmin, dmax;

static void
make_periods(void)
{
	int64_t p0, p1;

	if (ndays == 0)
		return;
	dmin = INT64_MAX;
	dmax = INT64_MIN;
	for (size_t i = 0; i < ndays; i++) {
		if (days[i].day < dmin)
			dmin = days[i].day;
		if (days[i].day > dmax)
			dmax = days[i].day;
	}
	if (strcmp(opt.by, "auto") == 0) {
		for (punit = P_DAY; punit < P_YEAR; punit++)
			if (period_of(dmax, punit) - period_of(dmin, punit) <
			    MAXBARS)
				break;
	} else
		for (punit = P_DAY; strcmp(period_name[punit], opt.by) != 0;
		    punit++)
			;
	p0 = period_of(dmin, punit);
	p1 = period_of(dmax, punit);
	nperiods = (size_t)(p1 - p0 + 1);
	periods = xcalloc(nperiods, sizeof(*periods));
	for (size_t i = 0; i < nperiods; i++)
		period_label(p0 + (int64_t)i, punit, periods[i].label);
	for (size_t i = 0; i < ndays; i++) {
		struct period *pp = &periods[period_of(days[i].day, punit) -
		    p0];
		for (int k = 0; k < NC; k++)
			pp->c.v[k] += days[i].c.v[k];
	}
}

static int
cmp_day(const void *a, const void *b)
{
	const struct dayc *x = a, *y = b;

	return x->day < y->day ? -1 : x->day > y->day;
}

/* Types by lines in the export, most first; specials last. */
static int
cmp_type(const void *a, const void *b)
{
	const struct etype *x = *(const struct etype *const *)a;
	const struct etype *y = *(const struct etype *const *)b;

	if (x->special != y->special)
		return x->special - y->special;
	if (x->c.v[C_EXPORT] != y->c.v[C_EXPORT])
		return x->c.v[C_EXPORT] > y->c.v[C_EXPORT] ? -1 : 1;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->name, y->name, n);
	return r ? r : (x->len > y->len) - (x->len < y->len);
}

static int
cmp_reason(const void *a, const void *b)
{
	const struct reason *x = *(const struct reason *const *)a;
	const struct reason *y = *(const struct reason *const *)b;
	uint64_t nx = x->events + x->outside, ny = y->events + y->outside;

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(x->text, y->text);
}

static struct etype **
sorted_types(size_t *n)
{
	struct etype **v = xcalloc(ntypes, sizeof(*v));

	*n = 0;
	for (size_t i = 0; i < ntypes; i++)
		if (types[i].c.v[C_EXPORT] > 0)
			v[(*n)++] = &types[i];
	qsort(v, *n, sizeof(*v), cmp_type);
	return v;
}

static struct reason **
sorted_reasons(size_t *n)
{
	struct reason **v = xcalloc(nreasons + 1, sizeof(*v));

	*n = 0;
	for (size_t i = 0; i < nreasons; i++)
		if (reasons[i].events + reasons[i].outside > 0)
			v[(*n)++] = &reasons[i];
	qsort(v, *n, sizeof(*v), cmp_reason);
	return v;
}

static uint64_t
rejected_total(void)
{
	return st.c.v[C_REJECTED] + st.outside;
}

static const char *
from_text(unsigned from)
{
	static char t[64];

	t[0] = '\0';
	if (from & FROM_CONVERT)
		strcat(t, "amp-convert, ");
	if (from & FROM_BATCH)
		strcat(t, "ph-batch, ");
	if (from & FROM_SOURCE)
		strcat(t, "the export, ");
	if (from & FROM_FILE)
		strcat(t, "rejects file, ");
	if (t[0])
		t[strlen(t) - 2] = '\0';
	return t;
}

static uint64_t
merges(void)
{
	return st.journal_rows > st.delivered_distinct ? st.journal_rows -
	    st.delivered_distinct : 0;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

/* A day as "YYYY-MM-DD", or null when it is the "none seen" value. */
static void
json_day(struct buf *b, int64_t day, int64_t none)
{
	char d[PERIOD_STRLEN + 1];

	if (day == none) {
		buf_adds(b, "null");
		return;
	}
	day_text(day, d);
	jsonw_cstr(b, d);
}

static void
json_counts(struct buf *b, const struct counts *c, int *first)
{
	for (int k = 0; k < NC; k++) {
		jsonw_key(b, cname[k], first);
		jsonw_u64(b, c->v[k]);
	}
}

static void
write_json(struct buf *b)
{
	int f = 1, g;
	size_t n;
	char d[11];

	buf_addc(b, '{');
	jsonw_key(b, "complete", &f);
	buf_adds(b, st.c.v[C_PENDING] == 0 && rejected_total() == 0 ?
	    "true" : "false");
	jsonw_key(b, "journal", &f);
	jstrs(b, opt.journal);
	jsonw_key(b, "inputs", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < opt.ninputs; i++) {
		if (i)
			buf_addc(b, ',');
		jstrs(b, opt.inputs[i]);
	}
	if (opt.ninputs == 0)
		jsonw_cstr(b, "-");
	buf_addc(b, ']');

	jsonw_key(b, "totals", &f);
	g = 1;
	buf_addc(b, '{');
	jsonw_key(b, "lines", &g);
	jsonw_u64(b, st.lines);
	jsonw_key(b, "blank", &g);
	jsonw_u64(b, st.blank);
	json_counts(b, &st.c, &g);
	jsonw_key(b, "rejected_outside_export", &g);
	jsonw_u64(b, st.outside);
	jsonw_key(b, "dropped_but_delivered", &g);
	jsonw_u64(b, st.dropped_delivered);
	jsonw_key(b, "delivered_distinct", &g);
	jsonw_u64(b, st.delivered_distinct);
	jsonw_key(b, "journal_rows", &g);
	jsonw_u64(b, st.journal_rows);
	jsonw_key(b, "identity_merges", &g);
	jsonw_u64(b, merges());
	jsonw_key(b, "rejects_entries", &g);
	jsonw_u64(b, st.rej_entries);
	jsonw_key(b, "rejects_unreadable", &g);
	jsonw_u64(b, st.rej_unreadable);
	jsonw_key(b, "rejects_since_delivered", &g);
	jsonw_u64(b, st.rej_since_delivered);
	buf_addc(b, '}');

	jsonw_key(b, "no_day", &f);
	g = 1;
	buf_addc(b, '{');
	json_counts(b, &noday, &g);
	buf_addc(b, '}');

	jsonw_key(b, "days", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < ndays; i++) {
		if (i)
			buf_addc(b, ',');
		g = 1;
		buf_addc(b, '{');
		jsonw_key(b, "day", &g);
		day_text(days[i].day, d);
		jsonw_cstr(b, d);
		json_counts(b, &days[i].c, &g);
		buf_addc(b, '}');
	}
	buf_addc(b, ']');

	jsonw_key(b, "period", &f);
	jsonw_cstr(b, period_name[punit]);
	jsonw_key(b, "periods", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < nperiods; i++) {
		if (i)
			buf_addc(b, ',');
		g = 1;
		buf_addc(b, '{');
		jsonw_key(b, "start", &g);
		jsonw_cstr(b, periods[i].label);
		json_counts(b, &periods[i].c, &g);
		buf_addc(b, '}');
	}
	buf_addc(b, ']');

	struct etype **tv = sorted_types(&n);
	jsonw_key(b, "types", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		g = 1;
		buf_addc(b, '{');
		jsonw_key(b, "event_type", &g);
		jstr(b, tv[i]->name, tv[i]->len);
		jsonw_key(b, "special", &g);
		buf_adds(b, tv[i]->special ? "true" : "false");
		jsonw_key(b, "event", &g);
		if (tv[i]->ph)
			jstr(b, tv[i]->ph, tv[i]->phlen);
		else
			buf_adds(b, "null");
		json_counts(b, &tv[i]->c, &g);
		jsonw_key(b, "first_day", &g);
		json_day(b, tv[i]->first, INT64_MAX);
		jsonw_key(b, "last_day", &g);
		json_day(b, tv[i]->last, INT64_MIN);
		buf_addc(b, '}');
	}
	buf_addc(b, ']');
	free(tv);

	struct reason **rv = sorted_reasons(&n);
	jsonw_key(b, "reasons", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		g = 1;
		buf_addc(b, '{');
		jsonw_key(b, "reason", &g);
		jstrs(b, rv[i]->text);
		jsonw_key(b, "from", &g);
		jsonw_cstr(b, from_text(rv[i]->from));
		jsonw_key(b, "events", &g);
		jsonw_u64(b, rv[i]->events);
		jsonw_key(b, "outside_export", &g);
		jsonw_u64(b, rv[i]->outside);
		jsonw_key(b, "entries", &g);
		jsonw_u64(b, rv[i]->entries);
		jsonw_key(b, "examples", &g);
		buf_addc(b, '[');
		for (int k = 0; k < rv[i]->nex; k++) {
			int h = 1;
			if (k)
				buf_addc(b, ',');
			buf_addc(b, '{');
			jsonw_key(b, "where", &h);
			jsonw_cstr(b, rv[i]->ex[k].where);
			jsonw_key(b, "input", &h);
			jsonw_cstr(b, rv[i]->ex[k].text);
			buf_addc(b, '}');
		}
		buf_adds(b, "]}");
	}
	buf_addc(b, ']');
	free(rv);

	jsonw_key(b, "receipts", &f);
	if (opt.nreceipts == 0)
		buf_adds(b, "null");
	else {
		g = 1;
		buf_addc(b, '{');
		jsonw_key(b, "requests", &g);
		jsonw_u64(b, rc.requests);
		jsonw_key(b, "unreadable", &g);
		jsonw_u64(b, rc.bad);
		jsonw_key(b, "retries", &g);
		jsonw_u64(b, rc.out[RO_RETRY]);
		jsonw_key(b, "events_delivered", &g);
		jsonw_u64(b, rc.out_events[RO_DELIVERED]);
		jsonw_key(b, "bytes", &g);
		jsonw_u64(b, rc.bytes);
		jsonw_key(b, "ms_total", &g);
		jsonw_u64(b, rc.ms);
		jsonw_key(b, "ms_p50", &g);
		jsonw_u64(b, lat_pct(0.5));
		jsonw_key(b, "ms_p95", &g);
		jsonw_u64(b, lat_pct(0.95));
		jsonw_key(b, "ms_max", &g);
		jsonw_u64(b, rc.ms_max);
		jsonw_key(b, "attempts_max", &g);
		jsonw_u64(b, rc.attempts_max);
		jsonw_key(b, "outcomes", &g);
		buf_addc(b, '{');
		int h = 1;
		for (int k = 0; k < NOUT; k++) {
			if (rc.out[k] == 0)
				continue;
			jsonw_key(b, oname[k], &h);
			jsonw_u64(b, rc.out[k]);
		}
		buf_addc(b, '}');
		jsonw_key(b, "statuses", &g);
		buf_addc(b, '{');
		h = 1;
		for (int k = 0; k < rc.nstatus; k++) {
			char s[24];
			snprintf(s, sizeof(s), "%ld", rc.status[k]);
			jsonw_key(b, s, &h);
			jsonw_u64(b, rc.status_n[k]);
		}
		buf_addc(b, '}');
		jsonw_key(b, "per_bucket", &g);
		jsonw_u64(b, rc.per);
		jsonw_key(b, "buckets", &g);
		buf_addc(b, '[');
		for (int k = 0; k < RBUCKETS && rc.b[k].req; k++) {
			if (k)
				buf_addc(b, ',');
			h = 1;
			buf_addc(b, '{');
			jsonw_key(b, "requests", &h);
			jsonw_u64(b, rc.b[k].req);
			jsonw_key(b, "events_delivered", &h);
			jsonw_u64(b, rc.b[k].events);
			jsonw_key(b, "retries", &h);
			jsonw_u64(b, rc.b[k].out[RO_RETRY]);
			jsonw_key(b, "ms", &h);
			jsonw_u64(b, rc.b[k].ms);
			buf_addc(b, '}');
		}
		buf_adds(b, "]}");
	}

	jsonw_key(b, "runs", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < nruns; i++) {
		const struct run *r = run_at(i);
		if (i)
			buf_addc(b, ',');
		g = 1;
		buf_addc(b, '{');
		jsonw_key(b, "started", &g);
		jstrs(b, r->started);
		jsonw_key(b, "updated", &g);
		jstrs(b, r->updated);
		jsonw_key(b, "host", &g);
		jstrs(b, r->host);
		jsonw_key(b, "status", &g);
		jstrs(b, r->status);
		for (int k = 0; k < 8; k++) {
			jsonw_key(b, run_cols[k], &g);
			jsonw_u64(b, r->n[k]);
		}
		buf_addc(b, '}');
	}
	buf_adds(b, "]}\n");
}

/* ------------------------------------------------------------------ */
/* HTML                                                                */

static const char css[] =
":root{--ok:#1a7f37;--bad:#b42318;--ink:#1f2328;--mute:#59636e;"
"--line:#d1d9e0;--del:#2da44e;--drop:#afb8c1;--rej:#cf222e;"
"--pen:#f08c00}\n"
"*{box-sizing:border-box}\n"
"html{background:#fff}\n"
"body{margin:0 auto;max-width:1180px;padding:20px 28px 40px;"
"font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,"
"\"Helvetica Neue\",Arial,sans-serif;color:var(--ink);background:#fff}\n"
"h1{font-size:24px;margin:0 0 2px}\n"
"h2{font-size:19px;margin:30px 0 8px;padding-bottom:4px;"
"border-bottom:1px solid var(--line)}\n"
"p{margin:6px 0}\n"
".meta{color:var(--mute);font-size:13px;margin:0 0 14px}\n"
"code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\n"
".headline{border:2px solid;border-radius:8px;padding:14px 20px;"
"margin:14px 0}\n"
".headline.ok{border-color:var(--ok);background:#dafbe1}\n"
".headline.bad{border-color:var(--bad);background:#ffebe9}\n"
".headline h2{font-size:28px;margin:0 0 4px;border:0;padding:0}\n"
".headline.ok h2{color:var(--ok)}\n"
".headline.bad h2{color:var(--bad)}\n"
".cards{display:grid;grid-template-columns:repeat(auto-fit,"
"minmax(150px,1fr));gap:10px;margin:14px 0}\n"
".card{border:1px solid var(--line);border-radius:6px;"
"padding:8px 12px;border-top:4px solid var(--line)}\n"
".card .n{font-size:24px;font-weight:600;"
"font-variant-numeric:tabular-nums}\n"
".card .l{color:var(--mute);font-size:13px}\n"
".card.del{border-top-color:var(--del)}\n"
".card.drop{border-top-color:var(--drop)}\n"
".card.rej{border-top-color:var(--rej)}\n"
".card.pen{border-top-color:var(--pen)}\n"
"table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}\n"
"th,td{padding:4px 8px;border-bottom:1px solid var(--line);"
"text-align:left;vertical-align:top}\n"
"th{background:#f6f8fa;font-weight:600}\n"
"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;"
"white-space:nowrap}\n"
"tr.gap td{background:#fff8c5}\n"
"td.rej{color:var(--rej);font-weight:600}\n"
"td.pen{color:#9a5b00;font-weight:600}\n"
"em.sp{color:var(--mute)}\n"
".nw{white-space:nowrap}\n"
".pct{display:inline-block;width:70px;height:9px;background:#eaeef2;"
"margin-left:6px;vertical-align:0}\n"
".pct span{display:block;height:9px;background:var(--del)}\n"
".legend{font-size:13px;color:var(--mute)}\n"
".key{display:inline-block;width:11px;height:11px;margin:0 4px 0 14px;"
"vertical-align:-1px}\n"
".key.del{background:var(--del)}.key.drop{background:var(--drop)}"
".key.rej{background:var(--rej)}.key.pen{background:var(--pen)}"
".key.mark{background:var(--bad);height:5px}\n"
"svg{display:block;width:100%;height:auto;margin:6px 0}\n"
"svg text{font:12px system-ui,sans-serif;fill:#59636e}\n"
"svg .grid{stroke:#e1e4e8;stroke-width:1}\n"
"svg .axis{stroke:#8c959f;stroke-width:1}\n"
"svg .del{fill:#2da44e}svg .drop{fill:#afb8c1}svg .rej{fill:#cf222e}"
"svg .pen{fill:#f08c00}svg .mark{fill:#b42318}svg .fat{fill:#24292f}"
"svg .spl{fill:#8250df}\n"
"svg .lat{fill:none;stroke:#0969da;stroke-width:2}\n"
"pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;"
"border:1px solid var(--line);border-radius:4px;padding:4px 8px;"
"margin:3px 0;font:12px ui-monospace,Menlo,Consolas,monospace;"
"max-height:7.5em;overflow:auto}\n"
".where{font-size:12px;color:var(--mute)}\n"
"ul.notes{color:var(--mute);font-size:13px;padding-left:20px}\n"
"@media print{\n"
"body{max-width:none;padding:0;font-size:10pt}\n"
"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
"h2{break-after:avoid}\n"
".headline,.cards,.card,svg,tr,pre{break-inside:avoid}\n"
"pre{max-height:none;overflow:visible}\n"
"table{font-size:9pt}\n"
"@page{margin:14mm}\n"
"}\n";

static void
chart_periods(struct buf *b)
{
	static const int order[4] = { C_DELIVERED, C_DROPPED, C_REJECTED,
	    C_PENDING };
	static const char *const cls[4] = { "del", "drop", "rej", "pen" };
	struct svgchart ch = { .top = 10, .h = 230, .below = 44,
	    .maxslot = 70, .center = 1 };
	char t[512];
	uint64_t max = 0, v[4];
	size_t every;

	for (size_t i = 0; i < nperiods; i++)
		if (periods[i].c.v[C_EXPORT] > max)
			max = periods[i].c.v[C_EXPORT];
	snprintf(t, sizeof(t), "Events per %s: in the export and delivered",
	    period_name[punit]);
	svgchart_begin(&ch, b, nperiods, max, t);
	for (size_t i = 0; i < nperiods; i++) {
		const struct counts *c = &periods[i].c;
		snprintf(t, sizeof(t), "%s: %s in the export, %s delivered, "
		    "%s dropped by rule, %s rejected, %s pending",
		    periods[i].label, htmlw_num(c->v[C_EXPORT]),
		    htmlw_num(c->v[C_DELIVERED]), htmlw_num(c->v[C_DROPPED]),
		    htmlw_num(c->v[C_REJECTED]), htmlw_num(c->v[C_PENDING]));
		for (int k = 0; k < 4; k++)
			v[k] = c->v[order[k]];
		svgchart_bar(&ch, i, t, v, cls, 4, c->v[C_PENDING] +
		    c->v[C_REJECTED] > 0);
	}
	/* Labels of a day or week, month or year: one every so many bars. */
	every = svgchart_every(&ch, punit < P_MONTH ? 75 :
	    punit == P_MONTH ? 55 : 40);
	for (size_t i = 0; i < nperiods; i += every)
		svgchart_xlabel(&ch, i, periods[i].label);
	svgchart_end(&ch);
}

static void
chart_receipts(struct buf *b)
{
	static const int order[5] = { RO_DELIVERED, RO_SPLIT, RO_REJECTED,
	    RO_RETRY, RO_FATAL };
	static const char *const cls[5] = { "del", "spl", "pen", "rej",
	    "fat" };
	struct svgchart ch = { .top = 24, .h = 150, .below = 34,
	    .maxslot = 40 };
	char t[512];
	size_t nb = 0;
	uint64_t max = 0, mmax = 0, v[5], mean[RBUCKETS];

	while (nb < RBUCKETS && rc.b[nb].req)
		nb++;
	if (nb == 0)
		return;
	for (size_t i = 0; i < nb; i++) {
		if (rc.b[i].req > max)
			max = rc.b[i].req;
		mean[i] = rc.b[i].ms / rc.b[i].req;
		if (mean[i] > mmax)
			mmax = mean[i];
	}
	svgchart_begin(&ch, b, nb, max,
	    "Requests in receipt order, by outcome");
	for (size_t i = 0; i < nb; i++) {
		const struct rbucket *r = &rc.b[i];
		snprintf(t, sizeof(t), "requests %s to %s: %s delivered (%s "
		    "events), %s retried, %s split, %s rejected, mean %s ms",
		    htmlw_num(i * rc.per + 1), htmlw_num(i * rc.per + r->req),
		    htmlw_num(r->out[RO_DELIVERED]), htmlw_num(r->events),
		    htmlw_num(r->out[RO_RETRY]), htmlw_num(r->out[RO_SPLIT]),
		    htmlw_num(r->out[RO_REJECTED]), htmlw_num(mean[i]));
		for (int k = 0; k < 5; k++)
			v[k] = r->out[order[k]];
		v[4] += r->out[RO_GAVE_UP];
		svgchart_bar(&ch, i, t, v, cls, 5, 0);
	}
	/* Mean latency per bucket, on its own scale (right edge label). */
	svgchart_line(&ch, "lat", mean, mmax);
	snprintf(t, sizeof(t), "blue line: mean ms per request, top %s ms",
	    htmlw_num(mmax));
	svgchart_caption(&ch, SVGC_TOP_RIGHT, t);
	svgchart_caption(&ch, SVGC_TOP_LEFT, "requests per bar");
	svgchart_caption(&ch, SVGC_BELOW_LEFT, "request 1");
	snprintf(t, sizeof(t), "request %s", htmlw_num(rc.requests));
	svgchart_caption(&ch, SVGC_BELOW_END, t);
	svgchart_end(&ch);
}

static void
card(struct buf *b, const char *cls, uint64_t v, const char *label)
{
	buf_printf(b, "<div class=\"card %s\"><div class=\"n\">%s</div>"
	    "<div class=\"l\">", cls, htmlw_num(v));
	htmlw_texts(b, label);
	buf_adds(b, "</div></div>\n");
}

static void
td_num(struct buf *b, uint64_t v, const char *cls)
{
	if (v && cls)
		buf_printf(b, "<td class=\"n %s\">%s</td>", cls, htmlw_num(v));
	else
		buf_printf(b, "<td class=\"n\">%s</td>", htmlw_num(v));
}

static void
counts_cells(struct buf *b, const struct counts *c)
{
	td_num(b, c->v[C_EXPORT], NULL);
	td_num(b, c->v[C_DROPPED], NULL);
	td_num(b, c->v[C_DELIVERED], NULL);
	td_num(b, c->v[C_REJECTED], "rej");
	td_num(b, c->v[C_PENDING], "pen");
}

static void
pct_cell(struct buf *b, const struct counts *c)
{
	uint64_t want = c->v[C_EXPORT] - c->v[C_DROPPED];
	double p;

	if (want == 0) {
		buf_adds(b, "<td class=\"n\">&mdash;</td>");
		return;
	}
	p = 100.0 * c->v[C_DELIVERED] / want;

	if (p > 100)
		p = 100;
	/* Never round an incomplete figure up to 100. */
	if (c->v[C_DELIVERED] < want && p > 99.9)
		p = 99.9;
	buf_printf(b, "<td class=\"n\">%.1f%%<span class=\"pct\"><span "
	    "style=\"width:%.1f%%\"></span></span></td>", p, p);
}

static const char counts_head[] =
    "<th class=\"n\">in export</th><th class=\"n\">dropped by rule</th>"
    "<th class=\"n\">delivered</th><th class=\"n\">rejected</th>"
    "<th class=\"n\">pending</th>";

static void
write_html(struct buf *b)
{
	uint64_t pend = st.c.v[C_PENDING], rej = rejected_total();
	int complete = pend == 0 && rej == 0;
	char now[TS_STRLEN + 1], d1[11], d2[11];
	size_t n;

	ts_format(ts_now_us(), now);
	buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n<title>");
	buf_printf(b, "Migration report: %s", complete ? "complete" :
	    "not complete");
	buf_adds(b, "</title>\n<style>\n");
	buf_adds(b, css);
	buf_adds(b, "</style>\n</head>\n<body>\n<header>\n"
	    "<h1>Amplitude to PostHog migration report</h1>\n"
	    "<p class=\"meta\">Journal <code>");
	htmlw_texts(b, opt.journal);
	buf_adds(b, "</code> &middot; export read from ");
	if (opt.ninputs == 0)
		buf_adds(b, "<code>standard input</code>");
	for (size_t i = 0; i < opt.ninputs; i++) {
		buf_adds(b, i ? ", <code>" : "<code>");
		htmlw_texts(b, opt.inputs[i]);
		buf_adds(b, "</code>");
	}
	buf_printf(b, " &middot; made %.10s %.8s UTC by ph-report %s</p>\n"
	    "</header>\n", now, now + 11, AMP2PH_VERSION);

	/* The headline. */
	buf_printf(b, "<section id=\"headline\" class=\"headline %s\">\n",
	    complete ? "ok" : "bad");
	if (complete) {
		buf_printf(b, "<h2>Migration complete</h2>\n<p>Every event of "
		    "the "
		    "export is in PostHog: %s delivered", htmlw_num(
		    st.c.v[C_DELIVERED]));
		if (st.c.v[C_DROPPED])
			buf_printf(b, ", %s dropped by a mapping rule",
			    htmlw_num(st.c.v[C_DROPPED]));
		buf_adds(b, "; nothing pending, nothing rejected.</p>\n");
	} else {
		buf_printf(b, "<h2>Migration not complete: %s pending, %s "
		    "rejected"
		    "</h2>\n<p>", htmlw_num(pend), htmlw_num(rej));
		buf_printf(b, "%s of %s events of the export are in PostHog "
		    "(%s dropped by a mapping rule).", htmlw_num(
		    st.c.v[C_DELIVERED]), htmlw_num(st.c.v[C_EXPORT]),
		    htmlw_num(st.c.v[C_DROPPED]));
		if (pend)
			buf_adds(b, " Pending events were never acknowledged "
			    "by PostHog: run the same pipeline again to send "
			    "them.");
		if (rej)
			buf_adds(b, " Rejected events will not be sent as "
			    "they are: see <a href=\"#rejects\">rejects by "
			    "reason</a>.");
		buf_adds(b, "</p>\n");
	}
	if (st.c.v[C_EXPORT] == 0)
		buf_adds(b, "<p><strong>The export read has no events: is it "
		    "the right one?</strong></p>\n");
	if (st.read_failed)
		buf_adds(b, "<p><strong>The export could not be read to its "
		    "end: these figures are incomplete.</strong></p>\n");
	if (st.dropped_delivered)
		buf_printf(b, "<p><strong>%s events that the mapping rules "
		    "given to "
		    "ph-report drop are in the journal: give ph-report the "
		    "same --drop, --keep and --rename as amp-convert."
		    "</strong></p>\n", htmlw_num(st.dropped_delivered));
	buf_adds(b, "</section>\n<section class=\"cards\">\n");
	card(b, "", st.c.v[C_EXPORT], "events in the export");
	card(b, "drop", st.c.v[C_DROPPED], "dropped by a mapping rule");
	card(b, "del", st.c.v[C_DELIVERED], "delivered");
	card(b, "rej", rej, "rejected");
	card(b, "pen", pend, "pending");
	card(b, "", merges(), "identity merges sent");
	buf_adds(b, "</section>\n");

	/* Per period. */
	buf_printf(b, "<section id=\"periods\">\n<h2>Events per %s</h2>\n",
	    period_name[punit]);
	if (nperiods == 0)
		buf_adds(b, "<p>No event of the export has a usable time."
		    "</p>\n");
	else {
		day_text(dmin, d1);
		day_text(dmax, d2);
		buf_printf(b, "<p>By event time (UTC), %s to %s, one bar a %s. "
		    "Each bar is the %s's events in the export: delivered, "
		    "dropped by rule, rejected and pending stacked; a red "
		    "mark under a bar flags a %s with events not delivered."
		    "</p>\n", d1, d2, period_name[punit], period_name[punit],
		    period_name[punit]);
		chart_periods(b);
		buf_adds(b, "<p class=\"legend\">"
		    "<span class=\"key del\"></span>delivered"
		    "<span class=\"key drop\"></span>dropped by rule"
		    "<span class=\"key rej\"></span>rejected"
		    "<span class=\"key pen\"></span>pending"
		    "<span class=\"key mark\"></span>not all delivered</p>\n");
	}
	if (noday.v[C_EXPORT])
		buf_printf(b, "<p>%s events have no usable time and are not in "
		    "the "
		    "chart: %s rejected, %s pending, %s delivered, %s "
		    "dropped.</p>\n", htmlw_num(noday.v[C_EXPORT]),
		    htmlw_num(noday.v[C_REJECTED]),
		    htmlw_num(noday.v[C_PENDING]),
		    htmlw_num(noday.v[C_DELIVERED]),
		    htmlw_num(noday.v[C_DROPPED]));
	n = 0;
	for (size_t i = 0; i < nperiods; i++)
		if (periods[i].c.v[C_PENDING] + periods[i].c.v[C_REJECTED])
			n++;
	if (n) {
		buf_printf(b, "<p>%s with events not delivered "
		    "(%s):</p>\n<table>"
		    "<thead><tr><th>%s</th>%s</tr></thead>\n<tbody>\n",
		    punit == P_DAY ? "Days" : punit == P_WEEK ? "Weeks" :
		    punit == P_MONTH ? "Months" : "Years", htmlw_num(n),
		    period_name[punit], counts_head);
		size_t shown = 0;
		for (size_t i = 0; i < nperiods && shown < GAPROWS; i++) {
			if (periods[i].c.v[C_PENDING] +
			    periods[i].c.v[C_REJECTED] == 0)
				continue;
			shown++;
			buf_printf(b, "<tr "
			    "class=\"gap\"><td>%s</td>", periods[i].label);
			counts_cells(b, &periods[i].c);
			buf_adds(b, "</tr>\n");
		}
		buf_adds(b, "</tbody></table>\n");
		if (n > shown)
			buf_printf(b, "<p>and %s more (all of them in "
			    "--json).</p>\n",
			    htmlw_num(n - shown));
	}
	buf_adds(b, "</section>\n");

	/* Per event type. */
	struct etype **tv = sorted_types(&n);
	buf_adds(b, "<section id=\"types\">\n<h2>By event type</h2>\n");
	buf_printf(b, "<table><thead><tr><th>Amplitude "
	    "event_type</th><th>PostHog "
	    "event</th>%s<th class=\"n\" title=\"of the events not dropped "
	    "by rule\">delivered %%</th>"
	    "<th>days</th></tr></thead>\n<tbody>\n", counts_head);
	for (size_t i = 0; i < n; i++) {
		const struct etype *t = tv[i];
		buf_printf(b, "<tr%s><td>",
		    t->c.v[C_PENDING] + t->c.v[C_REJECTED] ?
		    " class=\"gap\"" : "");
		if (t->special)
			buf_adds(b, "<em class=\"sp\">");
		htmlw_text(b, t->name, t->len);
		buf_adds(b, t->special ? "</em></td><td>" : "</td><td>");
		if (t->ph)
			htmlw_text(b, t->ph, t->phlen);
		buf_adds(b, "</td>");
		counts_cells(b, &t->c);
		pct_cell(b, &t->c);
		if (t->first != INT64_MAX) {
			day_text(t->first, d1);
			day_text(t->last, d2);
			if (t->first == t->last)
				buf_printf(b, "<td class=\"nw\">%s</td>", d1);
			else
				buf_printf(b, "<td><span "
				    "class=\"nw\">%s</span> to "
				    "<span "
				    "class=\"nw\">%s</span></td>", d1, d2);
		} else
			buf_adds(b, "<td></td>");
		buf_adds(b, "</tr>\n");
	}
	buf_printf(b, "</tbody><tfoot><tr><th>all</th><th></th>");
	counts_cells(b, &st.c);
	pct_cell(b, &st.c);
	buf_adds(b, "<th></th></tr></tfoot></table>\n");
	if (types[T_OTHER].c.v[C_EXPORT])
		buf_printf(b, "<p>Event types past the first %d seen are "
		    "counted "
		    "together as <em>(other)</em>.</p>\n", MAXTYPES);
	/* A type with nothing delivered while others are: a --drop missed? */
	for (size_t i = 0, said = 0; i < n && !said; i++)
		if (!tv[i]->special && st.c.v[C_DELIVERED] &&
		    tv[i]->c.v[C_PENDING] && tv[i]->c.v[C_DELIVERED] == 0 &&
		    tv[i]->c.v[C_PENDING] == tv[i]->c.v[C_EXPORT]) {
			buf_adds(b, "<p>Some event types have nothing "
			    "delivered "
			    "while others do. If amp-convert was given "
			    "<code>--drop</code> (or a <code>--jq</code> "
			    "program that drops events) for them, give "
			    "ph-report the same <code>--drop</code>.</p>\n");
			said = 1;
		}
	buf_adds(b, "</section>\n");
	free(tv);

	/* Rejects. */
	struct reason **rv = sorted_reasons(&n);
	buf_adds(b, "<section id=\"rejects\">\n<h2>Rejects by reason</h2>\n");
	if (n == 0)
		buf_printf(b, "<p>No event is "
		    "rejected%s.</p>\n", opt.nrejects ? "" :
		    " (no rejects file was given; lines amp-convert refuses "
		    "are found in the export all the same)");
	else {
		buf_printf(b, "<p>%s events of the export are "
		    "rejected", htmlw_num(
		    st.c.v[C_REJECTED]));
		if (st.outside)
			buf_printf(b, ", and %s more rejects-file entries are "
			    "not "
			    "events of this export (identity events, or "
			    "another export)", htmlw_num(st.outside));
		buf_adds(b, ". <em>From</em> says who refused them: "
		    "amp-convert, ph-batch (PostHog or its checks), or the "
		    "export itself (lines amp-convert refuses, found by "
		    "ph-report).</p>\n<table><thead><tr><th>reason</th>"
		    "<th>from</th><th class=\"n\">events</th>"
		    "<th class=\"n\">not in export</th><th>examples</th>"
		    "</tr></thead>\n<tbody>\n");
		for (size_t i = 0; i < n; i++) {
			const struct reason *r = rv[i];
			buf_adds(b, "<tr><td>");
			htmlw_texts(b, r->text);
			buf_adds(b, "</td><td class=\"nw\">");
			htmlw_texts(b, from_text(r->from));
			buf_adds(b, "</td>");
			td_num(b, r->events, "rej");
			td_num(b, r->outside, "rej");
			buf_adds(b, "<td>");
			for (int k = 0; k < r->nex; k++) {
				buf_adds(b, "<div class=\"where\">");
				htmlw_texts(b, r->ex[k].where);
				buf_adds(b, "</div><pre>");
				htmlw_texts(b, r->ex[k].text);
				buf_adds(b, "</pre>");
			}
			buf_adds(b, "</td></tr>\n");
		}
		buf_adds(b, "</tbody></table>\n");
	}
	if (st.rej_since_delivered)
		buf_printf(b, "<p>%s rejects-file entries have been delivered "
		    "since "
		    "(fixed and sent again): they are counted as delivered."
		    "</p>\n", htmlw_num(st.rej_since_delivered));
	if (st.rej_unreadable)
		buf_printf(b, "<p>%s lines of the rejects files could not be "
		    "read."
		    "</p>\n", htmlw_num(st.rej_unreadable));
	buf_adds(b, "</section>\n");
	free(rv);

	/* Receipts. */
	if (opt.nreceipts) {
		buf_adds(b, "<section id=\"sending\">\n<h2>Sending "
		    "(ph-batch receipts)</h2>\n<p>Receipts carry no clock "
		    "time, so this shows them in the order ph-batch wrote "
		    "them: totals, and requests by outcome in buckets of "
		    "consecutive receipts with their mean time (blue line). "
		    "A run of retries stands out in red. For events per "
		    "minute, see the runs below.</p>\n");
		buf_adds(b, "<section class=\"cards\">\n");
		card(b, "", rc.requests, "requests");
		card(b, "del", rc.out_events[RO_DELIVERED], "events delivered");
		card(b, "rej", rc.out[RO_RETRY], "retries");
		card(b, "", rc.requests ? rc.ms / rc.requests : 0,
		    "mean ms per request");
		card(b, "", lat_pct(0.95), "95th percentile ms");
		card(b, "", rc.bytes, "bytes sent");
		buf_adds(b, "</section>\n");
		chart_receipts(b);
		if (rc.requests)
			buf_printf(b, "<p class=\"legend\">%s receipts per bar."
			    "<span class=\"key del\"></span>delivered"
			    "<span class=\"key\" style=\"background:#8250df\">"
			    "</span>split"
			    "<span class=\"key pen\"></span>rejected"
			    "<span class=\"key rej\"></span>retry"
			    "<span class=\"key\" style=\"background:#24292f\">"
			    "</span>fatal or gave up</p>\n", htmlw_num(rc.per));
		buf_adds(b, "<table><thead><tr><th>outcome</th>"
		    "<th class=\"n\">requests</th><th class=\"n\">events"
		    "</th></tr></thead>\n<tbody>\n");
		for (int k = 0; k < NOUT; k++)
			if (rc.out[k])
				buf_printf(b, "<tr><td>%s</td><td "
				    "class=\"n\">%s</td>"
				    "<td class=\"n\">%s</td></tr>\n", oname[k],
				    htmlw_num(rc.out[k]),
				    htmlw_num(rc.out_events[k]));
		buf_adds(b, "</tbody></table>\n<table><thead><tr><th>HTTP "
		    "status</th><th class=\"n\">requests</th></tr></thead>\n"
		    "<tbody>\n");
		for (int k = 0; k < rc.nstatus; k++)
			buf_printf(b, "<tr><td>%ld%s</td><td "
			    "class=\"n\">%s</td></tr>\n",
			    rc.status[k], rc.status[k] ? "" :
			    " (no answer: network error)",
			    htmlw_num(rc.status_n[k]));
		buf_adds(b, "</tbody></table>\n");
		buf_printf(b, "<p>Request time: median %s ms, 95th percentile "
		    "%s ms, "
		    "longest %s ms; at most %s attempts for one batch.",
		    htmlw_num(lat_pct(0.5)), htmlw_num(lat_pct(0.95)),
		    htmlw_num(rc.ms_max), htmlw_num(rc.attempts_max));
		if (rc.bad)
			buf_printf(b, " %s lines were not "
			    "receipts.", htmlw_num(rc.bad));
		buf_adds(b, "</p>\n</section>\n");
	}

	/* Runs. */
	if (nruns) {
		buf_adds(b, "<section id=\"runs\">\n<h2>Runs of ph-batch "
		    "(from the journal)</h2>\n");
		if (runs_total > nruns)
			buf_printf(b, "<p>The latest %s of %s runs.</p>\n",
			    htmlw_num(nruns), htmlw_num(runs_total));
		buf_adds(b, "<table><thead><tr><th>started (UTC)</th>"
		    "<th>status</th><th>host</th><th class=\"n\">read</th>"
		    "<th class=\"n\">delivered</th><th class=\"n\">skipped"
		    "</th><th class=\"n\">rejected</th><th class=\"n\">"
		    "requests</th><th class=\"n\">retries</th>"
		    "<th class=\"n\">minutes</th><th class=\"n\">events/min"
		    "</th></tr></thead>\n<tbody>\n");
		for (size_t i = 0; i < nruns; i++) {
			const struct run *r = run_at(i);
			double s = run_seconds(r);
			buf_adds(b, "<tr><td>");
			n = strlen(r->started);
			htmlw_text(b, r->started, n > 19 ? 19 : n);
			buf_adds(b, "</td><td>");
			htmlw_texts(b, r->status);
			buf_adds(b, "</td><td>");
			htmlw_texts(b, r->host);
			buf_adds(b, "</td>");
			td_num(b, r->n[0], NULL);
			td_num(b, r->n[1], NULL);
			td_num(b, r->n[2], NULL);
			td_num(b, r->n[3], "rej");
			td_num(b, r->n[5], NULL);
			td_num(b, r->n[6], NULL);
			if (s >= 0)
				buf_printf(b, "<td "
				    "class=\"n\">%.1f</td>", s / 60);
			else
				buf_adds(b, "<td class=\"n\"></td>");
			if (s > 0)
				buf_printf(b, "<td "
				    "class=\"n\">%s</td>", htmlw_num(
				    (uint64_t)(r->n[1] / (s / 60) + 0.5)));
			else
				buf_adds(b, "<td class=\"n\"></td>");
			buf_adds(b, "</tr>\n");
		}
		buf_adds(b, "</tbody></table>\n</section>\n");
	}

	/* How. */
	buf_adds(b, "<section id=\"how\">\n<h2>How these figures are made"
	    "</h2>\n<ul class=\"notes\">\n");
	buf_printf(b, "<li>Each line of the export gets the uuid amp-convert "
	    "gives "
	    "it and is looked up in the journal, which holds the uuids "
	    "PostHog acknowledged: there, it is <em>delivered</em>; else "
	    "<em>dropped</em> if a mapping rule drops it, <em>rejected</em> "
	    "if amp-convert refuses it or a rejects file names it, and "
	    "<em>pending</em> otherwise.</li>\n");
	buf_printf(b, "<li>%s lines read, %s blank. %s delivered lines share "
	    "their uuid with an earlier line (overlapping exports: PostHog "
	    "keeps one).</li>\n", htmlw_num(st.lines), htmlw_num(st.blank),
	    htmlw_num(st.c.v[C_DELIVERED] - st.delivered_distinct));
	buf_printf(b, "<li>Identity merges sent: the journal's %s rows less "
	    "the %s "
	    "distinct uuids of the export found there. ph-alias's identity "
	    "events cannot be listed from the export alone, so every other "
	    "row of the journal counts as one.</li>\n",
	    htmlw_num(st.journal_rows), htmlw_num(st.delivered_distinct));
	buf_printf(b, "<li>Days are UTC days of event_time (else "
	    "client_event_time, "
	    "else server_received_time), as amp-convert chooses the "
	    "timestamp.</li>\n</ul>\n</section>\n</body>\n</html>\n");
}

/* ------------------------------------------------------------------ */

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
	uint64_t pend = st.c.v[C_PENDING], rej = rejected_total();

	if (opt.quiet && pend == 0 && rej == 0 && st.c.v[C_EXPORT] > 0)
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
	if (st.c.v[C_EXPORT] == 0)
		warnx("the export read has no events: is it the right one?");
	if (st.dropped_delivered)
		warnx("%llu events dropped by the rules given are in the "
		    "journal: were amp-convert's --drop/--keep/--rename the "
		    "same?", (unsigned long long)st.dropped_delivered);
	if (pend == 0 && rej == 0)
		fprintf(stderr, "ph-report: complete: every event of the "
		    "export is in PostHog\n");
	else
		fprintf(stderr, "ph-report: NOT complete: %llu pending%s, "
		    "%llu rejected%s\n", (unsigned long long)pend,
		    pend ? " (run the pipeline again)" : "",
		    (unsigned long long)rej, rej ? " (see the report)" : "");
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
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct buf out = { 0 };
	uint64_t u;
	int ch, failed = 0;

	amp_rules_init(&rules);
	while ((ch = getopt_long(argc, argv, "hj:o:q", longopts, NULL)) !=
	    -1) {
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
			opt.journal = optarg;
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
		case 'V':
			cli_version("ph-report");
			return 0;
		case 'h':
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (opt.journal == NULL) {
		warnx("-j journal is required");
		usage();
	}
	for (int i = 0; i < argc; i++)
		add_arg(&opt.inputs, &opt.ninputs, argv[i]);
	if (opt.list != NULL && strcmp(opt.list, "-") == 0 &&
	    (opt.output == NULL || strcmp(opt.output, "-") == 0))
		errx(EXIT_USAGE, "--list - and the report cannot both go to "
		    "the standard output: give -o");

	journal_begin();
	if (opt.list != NULL) {
		if (strcmp(opt.list, "-") == 0)
			listfp = stdout;
		else if ((listfp = fopen(opt.list, "w")) == NULL)
			err(EXIT_RUNTIME, "%s", opt.list);
	}
	parser = json_parser_new();
	parser2 = json_parser_new();
	types_init();
	uuidmap_init(&byuuid);
	uuidmap_init(&byhash);

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
	if (listfp != NULL && outfile_close(listfp, opt.list) == -1)
		failed = 1;
	listfp = NULL;

	if (ndays)
		qsort(days, ndays, sizeof(*days), cmp_day);
	make_periods();
	if (opt.json)
		write_json(&out);
	else
		write_html(&out);
	write_out(&out);
	summary();

	buf_free(&out);
	buf_free(&scratch);
	for (size_t i = 0; i < ntypes; i++) {
		free(types[i].name);
		free(types[i].ph);
	}
	free(types);
	free(days);
	free(dhash);
	free(periods);
	for (size_t i = 0; i < nreasons; i++) {
		free(reasons[i].text);
		for (int k = 0; k < reasons[i].nex; k++) {
			free(reasons[i].ex[k].where);
			free(reasons[i].ex[k].text);
		}
	}
	free(reasons);
	for (size_t i = 0; runs != NULL && i < MAXRUNS; i++) {
		free(runs[i].started);
		free(runs[i].updated);
		free(runs[i].host);
		free(runs[i].status);
	}
	free(runs);
	uuidset_free(&byuuid);
	uuidset_free(&byhash);
	journal_end();
	json_parser_free(parser);
	json_parser_free(parser2);
	amp_rules_free(&rules);
	free(opt.rejects);
	free(opt.receipts);
	free(opt.inputs);
	if (failed)
		return EXIT_RUNTIME;
	if (st.c.v[C_PENDING] > 0)
		return EXIT_RUNTIME;
	return rejected_total() > 0 ? EXIT_DATAERR : 0;
}
