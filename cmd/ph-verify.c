/*
 * ph-verify: ask PostHog which of a migration's events it stores, and
 * write to stdout those it does not have, forgotten in the journal, so
 * that ph-batch after it sends exactly them again.
 *
 * Capture's 200 is not "stored" (a wrong region, another project's token
 * or a project over its quota all answer 200 and drop the events), so
 * the journal only knows "acknowledged".  This reads the same events
 * ph-batch read, counts them per UTC day, and compares with what
 * PostHog's query API counts; only days that differ are looked at by
 * hour, and only their uuids are listed, so a migration that arrived
 * whole costs a handful of queries whatever its size.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "http.h"
#include "journal.h"
#include "json.h"
#include "jsonw.h"
#include "lines.h"
#include "outfile.h"
#include "phapi.h"
#include "phevent.h"
#include "rejects.h"
#include "secret.h"
#include "settle.h"
#include "stage.h"
#include "stop.h"
#include "timestamp.h"
#include "uuid.h"
#include "uuidset.h"
#include "verifysum.h"
#include "xalloc.h"

#define MAX_LINE	(16 * 1024 * 1024)
#define HOUR_US		(3600LL * 1000000)
#define PAGE		50000	/* HogQL's most rows per answer */
#define SPAN_DAYS	31	/* days one count query covers at most */
#define FORGET_BATCH	1000	/* missing events forgotten per transaction */

/* What is known of one UTC hour of the stream, then of PostHog. */
enum hstate { H_OPEN, H_COMPLETE, H_EMPTY, H_LIST, H_UNKNOWN };

struct hour {
	int64_t		 h;		/* hours since the epoch */
	uint64_t	 want;		/* delivered events of the stream */
	uint64_t	 unsettled;	/* of which acknowledged < --settle ago */
	int64_t		 present;	/* distinct uuids in PostHog, -1: ? */
	enum hstate	 st;
};

struct day {
	int64_t		 d;		/* days since the epoch */
	size_t		 first, n;	/* its hours in hours[] */
	uint64_t	 want, total, distinct;
	uint64_t	 present, missing, notvis, unverified, never;
	int		 counted;	/* PostHog's counts are in */
};

static struct {
	const char	*journal, *project, *app, *key_file, *summary;
	const char	*rejects;
	double		 settle, retry_for, timeout;
	uint64_t	 max_queries;
	int		 insecure, quiet;
} opt = { .settle = 3600, .retry_for = 600, .timeout = 120,
    .max_queries = 100 };

static struct {
	uint64_t	 read, delivered, never, present, missing, notvis;
	uint64_t	 unverified, dups, bad, other_lib, cut;
} c;

static struct hour	*hours;
static size_t		 nhours, caphours;
static size_t		*slot;		/* hour table: index+1, 0 empty */
static size_t		 slotmask;
static struct day	*days;
static size_t		 ndays;
/*
 * -j once per shard's journal: a snapshot of each for both passes, and
 * a handle of each to forget in the one that holds the event.
 */
static struct journal	**snaps, **jws;
static const char	**jpaths;
static size_t		 njournals;
static struct rejects	 rej;
static struct json_parser *jp;
static struct phapi	 api;
static struct uuidset	 listed;		/* uuids PostHog has, of H_LIST hours */
static int64_t		 now_s;
static int		 cut_last;	/* the line had no newline */
static off_t		 stdin_start;	/* where a file on stdin began */
static FILE		*spool;
static struct buf	 forget_ev;	/* missing events waiting to be written */
static unsigned char	(*forget_id)[16];
static size_t		*forget_in;	/* the journal of each */
static size_t		 nforget;

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: ph-verify [-q] -j journal --project id [--region us|eu | "
	    "--app-host url]\n"
	    "                 [--key-file file] [--settle duration] "
	    "[--max-queries n]\n"
	    "                 [--summary file] [--rejects file] [--retry-for "
	    "duration]\n"
	    "                 [--timeout duration] [--insecure] [file ...]\n");
	exit(status);
}

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void
slots_grow(void)
{
	size_t n = slotmask ? (slotmask + 1) * 2 : 1024;

	/* Rebuilt whole (make_days) or grown: always under half full. */
	while (n < nhours * 4)
		n *= 2;

	free(slot);
	slot = xcalloc(n, sizeof(*slot));
	slotmask = n - 1;
	for (size_t i = 0; i < nhours; i++) {
		size_t k = (uint64_t)hours[i].h * 0x9e3779b97f4a7c15ULL &
		    slotmask;
		while (slot[k] != 0)
			k = (k + 1) & slotmask;
		slot[k] = i + 1;
	}
}

/* The hour's entry, made on first use: memory grows with hours, not events. */
static struct hour *
hour_of(int64_t h)
{
	size_t k;

	if (nhours * 2 >= slotmask)
		slots_grow();
	k = (uint64_t)h * 0x9e3779b97f4a7c15ULL & slotmask;
	while (slot[k] != 0) {
		if (hours[slot[k] - 1].h == h)
			return &hours[slot[k] - 1];
		k = (k + 1) & slotmask;
	}
	if (nhours == caphours) {
		caphours = caphours ? caphours * 2 : 1024;
		hours = xrealloc(hours, caphours * sizeof(*hours));
	}
	hours[nhours] = (struct hour){ .h = h, .present = -1 };
	slot[k] = ++nhours;
	return &hours[nhours - 1];
}

/* "2024-03-01 05:00:00" for an hour: the form HogQL's toDateTime reads. */
static void
hour_text(int64_t h, char *out, size_t len)
{
	int y;
	unsigned m, d;

	civil_from_days(floordiv(h, 24), &y, &m, &d);
	snprintf(out, len, "%04d-%02u-%02u %02d:00:00", y, m, d,
	    (int)(h - floordiv(h, 24) * 24));
}

/*
 * What ph-verify needs of an event line: its uuid, its hour, whether it
 * is a migrated event ($lib amp2ph, what the queries select on).  0, or
 * -1 with the reason in why.
 */
static int
event_of(const char *p, size_t len, unsigned char uuid[16], int64_t *hour,
    int *ours, const char **why)
{
	char e[128];
	struct jval *v, *lib;
	struct phevent ev;

	if ((v = json_parse(jp, p, len, e, sizeof(e))) == NULL) {
		*why = "not JSON";
		return -1;
	}
	/* What ph-batch would refuse was never sent: not ours to ask. */
	if (phevent_check(v, &ev, why) == -1)
		return -1;
	if (!ev.has_uuid) {
		*why = "no uuid: PostHog cannot be asked for it";
		return -1;
	}
	if (!ev.has_ts) {
		*why = "no timestamp: PostHog cannot be asked for it";
		return -1;
	}
	memcpy(uuid, ev.uuid, 16);
	*hour = floordiv(ev.ts, HOUR_US);
	lib = ev.props != NULL ? json_get(ev.props, "$lib") : NULL;
	*ours = lib != NULL && json_is_lit(lib, PHEVENT_LIB);
	return 0;
}

/* Missing events: forget them in the journal first, then write them. */
static void
forget_flush(void)
{
	static unsigned char (*ids)[16];

	if (nforget == 0)
		return;
	if (ids == NULL)
		ids = xcalloc(FORGET_BATCH, 16);
	/*
	 * In this order: ph-batch reading our output must not find the uuid
	 * still in the journal (it would skip the event); a crash between
	 * the two leaves events forgotten but unwritten, which the next run
	 * sees as never delivered and passes on.
	 */
	for (size_t j = 0; j < njournals; j++) {
		size_t k = 0;

		for (size_t i = 0; i < nforget; i++)
			if (forget_in[i] == j)
				memcpy(ids[k++], forget_id[i], 16);
		if (k > 0 && journal_forget(jws[j], (const unsigned char
		    (*)[16])ids, k) == -1)
			errx(EXIT_RUNTIME, "journal %s: %s", jpaths[j],
			    journal_error(jws[j]));
	}
	outfile_write(stdout, forget_ev.p, forget_ev.len, "stdout");
	if (fflush(stdout) == EOF)
		err(EXIT_RUNTIME, "stdout");
	forget_ev.len = 0;
	nforget = 0;
}

static void
missing(const char *p, size_t len, const unsigned char uuid[16], size_t in)
{
	buf_add(&forget_ev, p, len);
	buf_addc(&forget_ev, '\n');
	forget_in[nforget] = in;
	memcpy(forget_id[nforget++], uuid, 16);
	if (nforget == FORGET_BATCH || forget_ev.len > 8 * 1024 * 1024)
		forget_flush();
}

/* Which journal has u (its index in *in, and *at), or 0 if none. */
static int
lookup(const unsigned char u[16], int64_t *at, size_t *in)
{
	for (size_t j = 0; j < njournals; j++) {
		int r = journal_lookup(snaps[j], u, at);

		if (r == -1)
			errx(EXIT_RUNTIME, "journal %s: %s", jpaths[j],
			    journal_error(snaps[j]));
		if (r == 1) {
			*in = j;
			return 1;
		}
	}
	return 0;
}

static void
spool_line(const char *p, size_t len)
{
	uint32_t n = len;

	if (fwrite(&n, sizeof(n), 1, spool) != 1 ||
	    fwrite(p, 1, len, spool) != len)
		err(EXIT_RUNTIME, "temporary file");
}

/* The day of hour h, which pass 1 saw (days[] is sorted). */
static struct day *
day_of(int64_t h)
{
	int64_t d = floordiv(h, 24);
	size_t lo = 0, hi = ndays;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (days[mid].d < d)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ndays || days[lo].d != d)
		errx(EXIT_RUNTIME, "the input changed between its two readings");
	return &days[lo];
}

/*
 * Pass 1: count the delivered events per hour; pass never-delivered ones
 * on (ph-batch sends them); keep a copy of stdin's delivered lines for
 * pass 2.  Pass 2: decide each delivered event from PostHog's answers.
 */
static void
line(int pass, const char *name, uint64_t lineno, const char *p,
    size_t len, int spooling)
{
	unsigned char u[16];
	int64_t h, at;
	const char *why;
	int ours, r;
	size_t in = 0;
	struct hour *hr;
	struct day *dy;

	if (len == 0)
		return;
	switch (settle_is(p, len)) {
	case SETTLE_MEMBER:
		return;		/* amp-unpack -j's, for ph-batch */
	case SETTLE_SKIPPED:
		/* Skipped members' events would all look missing. */
		errx(EXIT_DATAERR, "%s:%llu: " SETTLE_SKIPPED_WHY ": ph-verify "
		    "must see every event: run amp-unpack without -j", name,
		    (unsigned long long)lineno);
	}
	if (event_of(p, len, u, &h, &ours, &why) == -1) {
		if (cut_last && strcmp(why, "not JSON") == 0) {
			/* A killed stage before us, not a bad event. */
			if (pass == 1) {
				stage_cut_note(name, lineno);
				c.cut++;
			}
			return;
		}
		if (pass == 1) {
			c.bad++;
			rejects_warn(&rej, 20, "bad lines", name, lineno, "%s",
			    why);
			rejects_add(&rej, name, lineno, why, p, len, 0);
		}
		return;
	}
	r = lookup(u, &at, &in);
	if (pass == 1) {
		c.read++;
		if (r == 0) {
			/* Not acknowledged yet: ph-batch's to send. */
			c.never++;
			outfile_write(stdout, p, len, "stdout");
			outfile_write(stdout, "\n", 1, "stdout");
			return;
		}
		if (!ours) {
			c.other_lib++;
			return;
		}
		c.delivered++;
		hr = hour_of(h);
		hr->want++;
		if (at > 0 && now_s - at < opt.settle)
			hr->unsettled++;
		if (spooling)
			spool_line(p, len);
		return;
	}
	if (r == 0 || !ours)
		return;
	hr = hour_of(h);
	dy = day_of(h);
	switch (hr->st) {
	case H_COMPLETE:
		c.present++;
		dy->present++;
		break;
	case H_LIST:
		if (uuidset_has(&listed, u)) {
			c.present++;
			dy->present++;
			break;
		}
		/* FALLTHROUGH */
	case H_EMPTY:
		/* Not seen, but maybe still on its way through ingestion. */
		if (at > 0 && now_s - at < opt.settle) {
			c.notvis++;
			dy->notvis++;
			break;
		}
		c.missing++;
		dy->missing++;
		missing(p, len, u, in);
		break;
	default:
		c.unverified++;
		dy->unverified++;
		break;
	}
}

static void
read_input(int pass, char **files, int nfiles, int *spooled)
{
	struct lines in;
	const char *p;
	size_t len;
	int r;

	for (int i = 0; i < nfiles; i++) {
		if (pass == 2 && spooled[i])
			continue;
		/*
		 * Standard input that is a file is read again from where it
		 * stood at the start (it need not be the file's beginning).
		 */
		if (strcmp(files[i], "-") == 0 && pass == 2 &&
		    lseek(STDIN_FILENO, stdin_start, SEEK_SET) == -1)
			err(EXIT_RUNTIME, "<stdin>");
		if (lines_open(&in, files[i], MAX_LINE, 0) == -1)
			err(EXIT_RUNTIME, "%s", files[i]);
		while ((r = lines_next(&in, &p, &len)) != LINE_EOF) {
			if (r == LINE_ERROR)
				errx(EXIT_RUNTIME, "%s: %s", in.name,
				    in.errmsg);
			if (r == LINE_TOOLONG) {
				if (pass == 1) {
					c.bad++;
					rejects_warn(&rej, 20, "bad lines",
					    in.name, in.lineno, "line too long "
					    "(%zu bytes)", len);
					rejects_add(&rej, in.name, in.lineno,
					    "line too long", p, LINES_HEAD, 0);
				}
				continue;
			}
			if (in.lineno == 1) {
				const char *why = stage_first(SK_POSTHOG,
				    in.name, &p, &len, pass == 1);

				if (why != NULL)
					errx(EXIT_DATAERR, "%s: %s", in.name, why);
			}
			cut_last = in.nonl;
			line(pass, in.name, in.lineno, p, len, pass == 1 &&
			    spooled[i]);
			if (stop_signal)
				errx(EXIT_RUNTIME, "stopped by signal %d",
				    (int)stop_signal);
		}
		lines_close(&in);
	}
}

static void
read_spool(void)
{
	struct buf b = { 0 };
	uint32_t n;
	uint64_t k = 0;

	if (spool == NULL)
		return;
	cut_last = 0;
	if (fflush(spool) == EOF || fseek(spool, 0, SEEK_SET) == -1)
		err(EXIT_RUNTIME, "temporary file");
	while (fread(&n, sizeof(n), 1, spool) == 1) {
		b.len = 0;
		buf_grow(&b, n);
		if (fread(b.p, 1, n, spool) != n)
			errx(EXIT_RUNTIME, "temporary file: cut short");
		line(2, "<stdin>", ++k, b.p, n, 0);
	}
	if (ferror(spool))
		err(EXIT_RUNTIME, "temporary file");
	buf_free(&b);
}

static int
cmp_hour(const void *a, const void *b)
{
	const struct hour *x = a, *y = b;

	return x->h < y->h ? -1 : x->h > y->h;
}

/* Sort the hours (the table is rebuilt) and group them into days. */
static void
make_days(void)
{
	qsort(hours, nhours, sizeof(*hours), cmp_hour);
	slotmask = 0;
	slots_grow();
	days = xcalloc(nhours ? nhours : 1, sizeof(*days));
	for (size_t i = 0; i < nhours; i++) {
		int64_t d = floordiv(hours[i].h, 24);

		if (ndays == 0 || days[ndays - 1].d != d)
			days[ndays++] = (struct day){ .d = d, .first = i };
		days[ndays - 1].n++;
		days[ndays - 1].want += hours[i].want;
	}
}

static const char *
where(int64_t lo_h, int64_t hi_h, char *buf, size_t len)
{
	char a[32], b[32];

	hour_text(lo_h, a, sizeof(a));
	hour_text(hi_h, b, sizeof(b));
	/*
	 * properties.$lib: only the migration's events, not what live SDKs
	 * send to the same project.  toDateTime(s, 'UTC'): HogQL reads a
	 * zone-less time in the project's time zone otherwise (posthog/
	 * hogql/printer, tz-aware functions get the team's zone appended).
	 */
	snprintf(buf, len, "properties.$lib = 'amp2ph' and timestamp >= "
	    "toDateTime('%s', 'UTC') and timestamp < toDateTime('%s', 'UTC')",
	    a, b);
	return buf;
}

static int
num(const struct jval *v, uint64_t *out)
{
	char *end;

	if (v->type != J_NUM)
		return -1;
	errno = 0;
	*out = strtoull(v->u.s, &end, 10);
	return errno == 0 && end == v->u.s + v->n ? 0 : -1;
}

/* A date ("2024-03-01") or time ("2024-03-01T05:00:00Z") cell. */
static int
cell_time(const struct jval *v, int64_t *us)
{
	char tmp[40];

	if (v->type != J_STR || v->n < 10 || v->n >= sizeof(tmp) - 10)
		return -1;
	memcpy(tmp, v->u.s, v->n);
	tmp[v->n] = '\0';
	if (v->n == 10)
		strcat(tmp, "T00:00:00Z");
	return ts_parse(tmp, strlen(tmp), us);
}

static struct jval *
query(const char *q)
{
	struct jval *rows = phapi_query(&api, q);

	if (rows == NULL)
		warnx("%s", api.err);	/* -q quiets figures, not failures */
	return rows;
}

/* Counts per day for days[i..j): 0, or -1 (budget spent or refused). */
static int
count_days(size_t i, size_t j)
{
	char w[256], q[512];
	struct jval *rows;

	snprintf(q, sizeof(q), "select toDate(toTimeZone(timestamp, 'UTC')) "
	    "as d, count(), count(distinct uuid) from events where %s group "
	    "by d order by d", where(days[i].d * 24, days[j - 1].d * 24 + 24,
	    w, sizeof(w)));
	if ((rows = query(q)) == NULL)
		return -1;
	for (size_t k = i; k < j; k++)
		days[k].counted = 1;
	for (uint32_t r = 0; r < rows->n; r++) {
		struct jval *row = &rows->u.kids[r];
		uint64_t tot, dis;
		int64_t us, d;

		if (row->n < 3 || cell_time(&row->u.kids[0], &us) == -1 ||
		    num(&row->u.kids[1], &tot) == -1 ||
		    num(&row->u.kids[2], &dis) == -1)
			errx(EXIT_RUNTIME, "PostHog's answer has a row that is "
			    "not (date, count, count)");
		d = floordiv(us, 24 * HOUR_US);
		for (size_t k = i; k < j; k++)
			if (days[k].d == d) {
				days[k].total = tot;
				days[k].distinct = dis;
			}
	}
	return 0;
}

/* Counts per hour for one day whose count differs. */
static int
count_hours(struct day *dy)
{
	char w[256], q[512];
	struct jval *rows;

	snprintf(q, sizeof(q), "select toStartOfHour(toTimeZone(timestamp, "
	    "'UTC')) as h, count(), count(distinct uuid) from events where %s "
	    "group by h order by h", where(dy->d * 24, dy->d * 24 + 24, w,
	    sizeof(w)));
	if ((rows = query(q)) == NULL)
		return -1;
	for (size_t k = dy->first; k < dy->first + dy->n; k++)
		hours[k].present = 0;
	for (uint32_t r = 0; r < rows->n; r++) {
		struct jval *row = &rows->u.kids[r];
		uint64_t tot, dis;
		int64_t us;

		if (row->n < 3 || cell_time(&row->u.kids[0], &us) == -1 ||
		    num(&row->u.kids[1], &tot) == -1 ||
		    num(&row->u.kids[2], &dis) == -1)
			errx(EXIT_RUNTIME, "PostHog's answer has a row that is "
			    "not (hour, count, count)");
		for (size_t k = dy->first; k < dy->first + dy->n; k++)
			if (hours[k].h == floordiv(us, HOUR_US))
				hours[k].present = dis;
	}
	return 0;
}

/* The uuids PostHog has in hours [lo, hi), page by page, into listed. */
static int
list_uuids(int64_t lo, int64_t hi)
{
	char w[256], q[640], last[UUID_STRLEN + 1] = "";

	for (;;) {
		struct jval *rows;
		unsigned char u[16];

		/* Keyset paging: OFFSET is refused for personal API keys. */
		if (last[0] == '\0')
			snprintf(q, sizeof(q), "select uuid from events where "
			    "%s order by uuid limit %d", where(lo, hi, w,
			    sizeof(w)), PAGE);
		else
			snprintf(q, sizeof(q), "select uuid from events where "
			    "%s and uuid > '%s' order by uuid limit %d",
			    where(lo, hi, w, sizeof(w)), last, PAGE);
		if ((rows = query(q)) == NULL)
			return -1;
		for (uint32_t r = 0; r < rows->n; r++) {
			struct jval *cell = rows->u.kids[r].n > 0 ?
			    &rows->u.kids[r].u.kids[0] : NULL;

			if (cell == NULL || cell->type != J_STR ||
			    uuid_bytes(cell->u.s, cell->n, u) == -1)
				errx(EXIT_RUNTIME, "PostHog's answer has a row "
				    "that is not a uuid");
			uuidset_add(&listed, u);
			if (r + 1 == rows->n)
				uuid_format(u, last);
		}
		/* A full page may have more behind it (LIMIT is cut at 50,000). */
		if (rows->n < PAGE)
			return 0;
	}
}

static void
set_day(struct day *dy, enum hstate st)
{
	for (size_t k = dy->first; k < dy->first + dy->n; k++)
		if (hours[k].st == H_OPEN)
			hours[k].st = st;
}

/*
 * Ask PostHog, coarse to fine: days, then the hours of days that differ,
 * then the uuids of what still differs, grouped so one listing serves
 * up to a page of rows.  What the budget does not reach stays H_UNKNOWN.
 */
static void
ask(void)
{
	size_t i, j;

	for (i = 0; i < ndays; i = j) {
		for (j = i + 1; j < ndays && days[j].d - days[i].d < SPAN_DAYS;
		    j++)
			;
		if (count_days(i, j) == -1)
			return;
	}
	for (i = 0; i < ndays; i++) {
		struct day *dy = &days[i];

		if (dy->distinct == dy->want)
			set_day(dy, H_COMPLETE);
		else if (dy->distinct == 0)
			set_day(dy, H_EMPTY);
		else if (dy->total > PAGE) {
			if (count_hours(dy) == -1)
				return;
			for (size_t k = dy->first; k < dy->first + dy->n; k++) {
				struct hour *hr = &hours[k];

				hr->st = (uint64_t)hr->present == hr->want ?
				    H_COMPLETE : hr->present == 0 ? H_EMPTY :
				    H_OPEN;
			}
		}
	}
	/*
	 * What is still open needs its uuids: group neighbouring open hours
	 * while PostHog's rows for the span fit in about a page.
	 */
	for (i = 0; i < nhours;) {
		int64_t lo, hi;
		uint64_t rows = 0;

		if (hours[i].st != H_OPEN) {
			i++;
			continue;
		}
		lo = hours[i].h;
		for (j = i; j < nhours; j++) {
			struct hour *hr = &hours[j];
			uint64_t r = hr->present >= 0 ? (uint64_t)hr->present :
			    hr->want;

			if (hr->st != H_OPEN && hr->st != H_COMPLETE &&
			    hr->st != H_EMPTY)
				break;
			if (hr->h - lo >= SPAN_DAYS * 24 || (rows > 0 &&
			    rows + r > PAGE))
				break;
			rows += r;
		}
		while (j > i && hours[j - 1].st != H_OPEN)
			j--;
		hi = hours[j - 1].h + 1;
		if (list_uuids(lo, hi) == -1)
			return;
		for (size_t k = i; k < j; k++)
			if (hours[k].st == H_OPEN)
				hours[k].st = H_LIST;
		i = j;
	}
}

static void
unknown_rest(void)
{
	for (size_t i = 0; i < nhours; i++)
		if (hours[i].st == H_OPEN)
			hours[i].st = H_UNKNOWN;
}

static void
write_summary(void)
{
	struct verifysum vs = { .ndays = ndays, .queries = api.queries,
	    .throttled = api.throttled, .project = (char *)opt.project,
	    .host = api.app, .checked_at = now_s };
	struct buf b = { 0 };
	FILE *fp;

	vs.days = xcalloc(ndays ? ndays : 1, sizeof(*vs.days));
	for (size_t i = 0; i < ndays; i++) {
		struct day *dy = &days[i];

		vs.days[i] = (struct verifysum_day){ .day = dy->d,
		    .expected = dy->want, .present = dy->present,
		    .missing = dy->missing, .not_visible = dy->notvis,
		    .unverified = dy->unverified, .duplicates = dy->total >
		    dy->distinct ? dy->total - dy->distinct : 0 };
	}
	vs.t = (struct verifysum_totals){ .read = c.read,
	    .expected = c.delivered, .present = c.present,
	    .missing = c.missing, .not_visible = c.notvis,
	    .unverified = c.unverified, .never_delivered = c.never,
	    .duplicates = c.dups, .bad = c.bad, .other_lib = c.other_lib };
	verifysum_write(&vs, &b);
	free(vs.days);
	if ((fp = fopen(opt.summary, "w")) == NULL)
		err(EXIT_RUNTIME, "%s", opt.summary);
	outfile_write(fp, b.p, b.len, opt.summary);
	if (outfile_close(fp, opt.summary) == -1)
		exit(EXIT_RUNTIME);
	buf_free(&b);
}

/* Duplicates: rows PostHog has more than once, until ClickHouse merges. */
static void
day_figures(void)
{
	for (size_t i = 0; i < ndays; i++) {
		struct day *dy = &days[i];

		c.dups += dy->total > dy->distinct ? dy->total - dy->distinct :
		    0;
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "app-host",		required_argument, NULL, 'A' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "insecure",		no_argument,	   NULL, 'k' },
		{ "journal",		required_argument, NULL, 'j' },
		{ "key-file",		required_argument, NULL, 'K' },
		{ "max-queries",	required_argument, NULL, 'M' },
		{ "project",		required_argument, NULL, 'P' },
		{ "quiet",		no_argument,	   NULL, 'q' },
		{ "region",		required_argument, NULL, 'R' },
		{ "rejects",		required_argument, NULL, 'x' },
		{ "retry-for",		required_argument, NULL, 'T' },
		{ "settle",		required_argument, NULL, 'S' },
		{ "summary",		required_argument, NULL, 's' },
		{ "timeout",		required_argument, NULL, 't' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ NULL,			0,		   NULL, 0 }
	};
	static char *stdin_only[] = { "-" };
	char errs[512], *key, **files;
	int ch, nfiles, *spooled, rc;
	uint64_t u;
	struct http_conf hc = { .prog = "ph-verify" };

	while ((ch = getopt_long(argc, argv, "hj:q", longopts, NULL)) != -1) {
		cli_once(longopts, ch, "KMPxTSst", "AR");
		switch (ch) {
		case 'A':
			opt.app = optarg;
			break;
		case 'j':
			/* Once per shard's journal (amp-convert --shard). */
			jpaths = xrealloc(jpaths, (njournals + 1) *
			    sizeof(*jpaths));
			jpaths[njournals++] = optarg;
			opt.journal = optarg;
			break;
		case 'K':
			opt.key_file = optarg;
			break;
		case 'k':
			opt.insecure = 1;
			break;
		case 'M':
			if (cli_u64(optarg, 1, 1000000, &u) == -1)
				errx(EXIT_USAGE, "--max-queries: expected 1 to "
				    "1000000, got %s", optarg);
			opt.max_queries = u;
			break;
		case 'P':
			opt.project = phapi_project_arg(optarg);
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'R':
			opt.app = http_region(optarg, POSTHOG_US_APP,
			    POSTHOG_EU_APP);
			break;
		case 'S':
			opt.settle = http_duration("--settle", optarg, 0);
			break;
		case 's':
			opt.summary = optarg;
			break;
		case 'T':
			opt.retry_for = http_duration("--retry-for", optarg, 0);
			break;
		case 't':
			opt.timeout = http_duration("--timeout", optarg, 1);
			break;
		case 'x':
			opt.rejects = optarg;
			break;
		case 'V':
			cli_version("ph-verify");
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (opt.journal == NULL || opt.project == NULL) {
		warnx("%s is required", opt.journal == NULL ? "-j journal" :
		    "--project id");
		usage(stderr, EXIT_USAGE);
	}
	if (opt.app == NULL && ((opt.app = getenv("POSTHOG_APP_HOST")) ==
	    NULL || *opt.app == '\0'))
		errx(EXIT_USAGE, "no PostHog app host: give --region us|eu, "
		    "--app-host URL, or set POSTHOG_APP_HOST");
	if ((key = secret_read("POSTHOG_PERSONAL_API_KEY", opt.key_file, errs,
	    sizeof(errs))) == NULL)
		errx(EXIT_USAGE, "%s (a personal API key with the query:read "
		    "scope, from your PostHog user settings)", errs);
	if (strncmp(key, "phc_", 4) == 0)
		errx(EXIT_USAGE, "the personal API key is a project token "
		    "(phc_...): the query API needs a personal API key "
		    "(phx_...) with the query:read scope");
	pipe_grow(STDIN_FILENO);
	pipe_grow(STDOUT_FILENO);
	files = argc > 0 ? argv : stdin_only;
	nfiles = argc > 0 ? argc : 1;
	spooled = xcalloc(nfiles, sizeof(*spooled));
	for (int i = 0; i < nfiles; i++) {
		struct stat st;

		/* A file is read twice; anything else is kept on disk once. */
		if (strcmp(files[i], "-") == 0 ? fstat(STDIN_FILENO, &st) ==
		    -1 || !S_ISREG(st.st_mode) || (stdin_start =
		    lseek(STDIN_FILENO, 0, SEEK_CUR)) == -1 : stat(files[i],
		    &st) == 0 && !S_ISREG(st.st_mode))
			spooled[i] = 1;
	}
	snaps = xcalloc(njournals, sizeof(*snaps));
	jws = xcalloc(njournals, sizeof(*jws));
	for (size_t k = 0; k < njournals; k++) {
		char jp_[64];
		int r;

		if (access(jpaths[k], F_OK) == -1)
			errx(EXIT_RUNTIME, "journal %s: %s (ph-verify checks "
			    "what ph-batch recorded there)", jpaths[k],
			    strerror(errno));
		/*
		 * One snapshot for both passes, so an event ph-batch records
		 * while we run is judged alike in both; a second handle
		 * forgets.
		 */
		/* The writer first: it may upgrade the journal or make it WAL. */
		if ((jws[k] = journal_open(jpaths[k], 0, errs, sizeof(errs))) ==
		    NULL || (snaps[k] = journal_open_snapshot(jpaths[k], errs,
		    sizeof(errs))) == NULL)
			errx(EXIT_RUNTIME, "journal %s", errs);
		/*
		 * Asking another project would find every event missing and
		 * have them all sent again, into the journal's project.
		 */
		if ((r = journal_meta_get(snaps[k], "project", jp_,
		    sizeof(jp_))) == -1)
			errx(EXIT_RUNTIME, "journal %s: %s", jpaths[k],
			    journal_error(snaps[k]));
		if (r == 1 && strcmp(jp_, opt.project) != 0)
			errx(EXIT_USAGE, "journal %s belongs to project %s, not "
			    "--project %s", jpaths[k], jp_, opt.project);
	}
	for (int i = 0; i < nfiles; i++)
		if (spooled[i] && spool == NULL && (spool = spool_file()) ==
		    NULL)
			err(EXIT_RUNTIME, "temporary file");
	rejects_open(&rej, opt.rejects);
	jp = json_parser_new();
	json_parser_borrow(jp);
	uuidset_init(&listed);
	forget_id = xcalloc(FORGET_BATCH, 16);
	forget_in = xcalloc(FORGET_BATCH, sizeof(*forget_in));
	hc.timeout = opt.timeout;
	hc.insecure = opt.insecure;
	phapi_open(&api, opt.app, opt.project, key, &hc, opt.retry_for,
	    opt.max_queries);
	stop_on_signals();
	now_s = ts_now_us() / 1000000;

	read_input(1, files, nfiles, spooled);
	make_days();
	ask();
	unknown_rest();
	read_input(2, files, nfiles, spooled);
	read_spool();
	forget_flush();
	day_figures();

	if (!opt.quiet || c.missing || c.notvis || c.never || c.unverified ||
	    c.other_lib || c.bad || api.fatal)
		fprintf(stderr, "ph-verify: %llu events read: %llu in PostHog, "
		    "%llu missing (written, forgotten in the journal), %llu not "
		    "yet visible, %llu never delivered (passed on), %llu "
		    "unverified; %llu duplicates in PostHog; %llu queries\n",
		    (unsigned long long)c.read, (unsigned long long)c.present,
		    (unsigned long long)c.missing, (unsigned long long)c.notvis,
		    (unsigned long long)c.never,
		    (unsigned long long)c.unverified,
		    (unsigned long long)c.dups,
		    (unsigned long long)api.queries);
	if (c.other_lib > 0)
		warnx("%llu delivered events have no $lib \"amp2ph\" and were "
		    "not verified", (unsigned long long)c.other_lib);
	if (opt.summary != NULL)
		write_summary();
	rc = 0;
	if (c.missing || c.notvis || c.never || c.unverified || c.other_lib ||
	    c.cut || api.fatal)
		rc = EXIT_RUNTIME;
	else if (c.bad)
		rc = EXIT_DATAERR;
	if (rejects_close(&rej) == -1 || outfile_close(stdout, "stdout") == -1)
		rc = EXIT_RUNTIME;
	phapi_close(&api);
	for (size_t k = 0; k < njournals; k++) {
		journal_close(snaps[k]);
		journal_close(jws[k]);
	}
	free(snaps);
	free(jws);
	free(jpaths);
	free(forget_in);
	json_parser_free(jp);
	uuidset_free(&listed);
	buf_free(&forget_ev);
	free(forget_id);
	free(spooled);
	free(hours);
	free(days);
	free(slot);
	if (spool != NULL)
		fclose(spool);
	explicit_bzero(key, strlen(key));
	free(key);
	return rc;
}
