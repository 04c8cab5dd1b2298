/*
 * tally: ph-report's counters.  Everything the report says is counted
 * here, in memory that grows with distinct event types, days, reasons
 * and runs, never with events: ph-report.c tells what it read, html.c
 * and json.c read the result (report.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "htmlw.h"
#include "journal.h"
#include "period.h"
#include "receipt.h"
#include "timestamp.h"
#include "xalloc.h"

#include "report.h"

const char *const cname[NC] = {
	"export", "dropped", "delivered", "rejected", "pending"
};

struct totals	 st;

/* ------------------------------------------------------------------ */
/* Event types                                                         */

static const char *const special_names[T_NSPECIAL] = {
	"(other)", "(unreadable line)", "(no event_type)"
};

struct etype		*types;
size_t			 ntypes;
static uint32_t		 thash[4096];	/* index + 1; > 2 * all types */

uint64_t
fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

void
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

size_t
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

struct dayc		*days;
size_t			 ndays;
static size_t		 dcap;
static uint32_t		*dhash;		/* index + 1 */
static size_t		 dmask;
struct counts		 noday;

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

struct reason		*reasons;
size_t			 nreasons;

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

size_t
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

void
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
/* The export                                                          */

void
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

/* ------------------------------------------------------------------ */
/* Receipts                                                            */

struct receipts	 rc = { .per = 1 };

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

uint64_t
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

/* One receipt; ph-report.c has parsed it. */
void
tally_receipt(const struct receipt *r)
{
	int o, si;
	uint64_t idx, ms;
	struct rbucket *b;

	o = r->outcome;
	ms = r->ms;
	rc.requests++;
	rc.out[o]++;
	rc.out_events[o] += r->events;
	rc.bytes += r->bytes;
	rc.ms += ms;
	if (ms > rc.ms_max)
		rc.ms_max = ms;
	rc.lat[lat_bucket(ms)]++;
	if ((uint64_t)r->attempts > rc.attempts_max)
		rc.attempts_max = r->attempts;
	for (si = 0; si < rc.nstatus; si++)
		if (rc.status[si] == r->status)
			break;
	if (si == rc.nstatus && rc.nstatus < 64) {
		rc.status[si] = r->status;
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
		b->events += r->events;
}

/* ------------------------------------------------------------------ */
/* The journal's runs table (ph-batch's summary of each run)           */

const char *const run_cols[8] = {
	"read", "delivered", "skipped", "rejected", "undelivered",
	"requests", "retries", "bytes"
};

static struct run	*runs;
size_t			 nruns;
uint64_t		 runs_total;

/* A journal_runs callback: keeps the latest MAXRUNS. */
int
tally_run(const struct journal_runrow *jr, void *arg)
{
	struct run *r;

	if (runs == NULL)
		runs = xcalloc(MAXRUNS, sizeof(*runs));
	r = &runs[runs_total++ % MAXRUNS];
	nruns = runs_total < MAXRUNS ? runs_total : MAXRUNS;

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

const struct run *
run_at(size_t i)	/* 0: the oldest listed */
{
	return &runs[(runs_total - nruns + i) % MAXRUNS];
}

/* Seconds between started and updated, or -1. */
double
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

struct period		*periods;
size_t			 nperiods;
int			 punit;
int64_t			 dmin, dmax;

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

struct etype **
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

struct reason **
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

uint64_t
rejected_total(void)
{
	return st.c.v[C_REJECTED] + st.outside;
}

const char *
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

uint64_t
merges(void)
{
	return st.journal_rows > st.delivered_distinct ? st.journal_rows -
	    st.delivered_distinct : 0;
}

void
tally_finish(void)
{
	if (ndays)
		qsort(days, ndays, sizeof(*days), cmp_day);
	make_periods();
}

/* ------------------------------------------------------------------ */
/* What ph-verify found                                                */

struct verifysum	 vsum;
struct verified		 ver;

void
tally_verified(void)
{
	const struct verifysum_totals *t = &vsum.t;
	size_t matched = 0;

	if (opt.verified == NULL)
		return;
	for (size_t i = 0; i < ndays; i++) {
		days[i].ph = verifysum_day(&vsum, days[i].day);
		if (days[i].ph != NULL)
			matched++;
		else if (days[i].c.v[C_DELIVERED] > 0)
			ver.days_unchecked++;
	}
	ver.days_outside = vsum.ndays - matched;
	ver.not_there = t->missing + t->not_visible + t->unverified +
	    t->never_delivered + t->other_lib;
	if (t->expected > t->present + t->missing + t->not_visible +
	    t->unverified)
		ver.not_there += t->expected - (t->present + t->missing +
		    t->not_visible + t->unverified);
	ver.uncovered = st.delivered_distinct > t->expected ?
	    st.delivered_distinct - t->expected : 0;
	/* A run of ph-batch that delivered after the check: out of date. */
	for (size_t i = 0; i < nruns; i++) {
		const struct run *r = run_at(i);
		int64_t us;

		if (r->n[1] > 0 && ts_parse(r->updated, strlen(r->updated),
		    &us) == 0 && us / 1000000 > vsum.checked_at)
			ver.stale = 1;
	}
	ver.complete = ver.not_there == 0 && ver.uncovered == 0 &&
	    ver.days_unchecked == 0 && !ver.stale &&
	    t->present == t->expected;
}

int
acknowledged(void)
{
	return st.c.v[C_PENDING] == 0 && rejected_total() == 0;
}

int
complete(void)
{
	return acknowledged() && (opt.verified == NULL || ver.complete);
}

void
tally_free(void)
{
	verifysum_free(&vsum);
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
}
