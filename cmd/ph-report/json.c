/*
 * json: ph-report's --json (the figures of the page, for scripts) and
 * --list (a line per export line: what became of it).  Both read only
 * the model in report.h.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "htmlw.h"
#include "jsonw.h"
#include "outfile.h"
#include "period.h"
#include "receipt.h"

#include "report.h"

static FILE		*listfp;
static struct buf	 scratch;

/* ------------------------------------------------------------------ */
/* JSON strings of any bytes, made valid UTF-8                         */

/* A JSON string of s made valid UTF-8 first. */
void
jstr(struct buf *b, const char *s, size_t n)
{
	struct buf t = { 0 };

	htmlw_clean(&t, s, n, 0, SIZE_MAX);
	jsonw_str(b, t.p ? t.p : "", t.len);
	buf_free(&t);
}

void
jstrs(struct buf *b, const char *s)
{
	jstr(b, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* --list                                                              */

void
list_open(void)
{
	if (opt.list == NULL)
		return;
	if (strcmp(opt.list, "-") == 0)
		listfp = stdout;
	else if ((listfp = fopen(opt.list, "w")) == NULL)
		err(EXIT_RUNTIME, "%s", opt.list);
}

/* 0, or -1 if the list could not be written completely. */
int
list_close(void)
{
	int r = 0;

	if (listfp != NULL && outfile_close(listfp, opt.list) == -1)
		r = -1;
	listfp = NULL;
	buf_free(&scratch);
	return r;
}

/* What became of one export line; nothing without --list. */
void
list_line(const char *file, uint64_t lineno, int status, size_t ti,
    int64_t day, const char *uuid, const char *why)
{
	int first = 1;
	char d[11];

	if (listfp == NULL)
		return;
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

/* A summary day's figures, or null. */
static void
json_ph(struct buf *b, const struct verifysum_day *d)
{
	int g = 1;

	if (d == NULL) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '{');
	jsonw_key(b, "expected", &g);
	jsonw_u64(b, d->expected);
	jsonw_key(b, "present", &g);
	jsonw_u64(b, d->present);
	jsonw_key(b, "missing", &g);
	jsonw_u64(b, d->missing);
	jsonw_key(b, "not_visible", &g);
	jsonw_u64(b, d->not_visible);
	jsonw_key(b, "unverified", &g);
	jsonw_u64(b, d->unverified);
	jsonw_key(b, "duplicates", &g);
	jsonw_u64(b, d->duplicates);
	buf_addc(b, '}');
}

/* What ph-verify found, and what ph-report makes of it; null without. */
static void
json_verified(struct buf *b)
{
	const struct verifysum_totals *t = &vsum.t;
	char d[11];
	int g = 1, h = 1;

	if (opt.verified == NULL) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '{');
	jsonw_key(b, "complete", &g);
	buf_adds(b, ver.complete ? "true" : "false");
	jsonw_key(b, "file", &g);
	jstrs(b, opt.verified);
	jsonw_key(b, "project", &g);
	jstrs(b, vsum.project);
	jsonw_key(b, "host", &g);
	jstrs(b, vsum.host);
	jsonw_key(b, "checked_at", &g);
	buf_printf(b, "%lld", (long long)vsum.checked_at);
	jsonw_key(b, "stale", &g);
	buf_adds(b, ver.stale ? "true" : "false");
	jsonw_key(b, "totals", &g);
	buf_addc(b, '{');
	jsonw_key(b, "read", &h);
	jsonw_u64(b, t->read);
	jsonw_key(b, "expected", &h);
	jsonw_u64(b, t->expected);
	jsonw_key(b, "present", &h);
	jsonw_u64(b, t->present);
	jsonw_key(b, "missing", &h);
	jsonw_u64(b, t->missing);
	jsonw_key(b, "not_visible", &h);
	jsonw_u64(b, t->not_visible);
	jsonw_key(b, "unverified", &h);
	jsonw_u64(b, t->unverified);
	jsonw_key(b, "never_delivered", &h);
	jsonw_u64(b, t->never_delivered);
	jsonw_key(b, "duplicates", &h);
	jsonw_u64(b, t->duplicates);
	jsonw_key(b, "bad", &h);
	jsonw_u64(b, t->bad);
	jsonw_key(b, "other_lib", &h);
	jsonw_u64(b, t->other_lib);
	buf_addc(b, '}');
	jsonw_key(b, "queries", &g);
	jsonw_u64(b, vsum.queries);
	jsonw_key(b, "throttled", &g);
	jsonw_u64(b, vsum.throttled);
	jsonw_key(b, "not_in_posthog", &g);
	jsonw_u64(b, ver.not_there);
	jsonw_key(b, "delivered_not_checked", &g);
	jsonw_u64(b, ver.uncovered);
	jsonw_key(b, "export_days_not_checked", &g);
	jsonw_u64(b, ver.days_unchecked);
	jsonw_key(b, "days_not_in_export", &g);
	buf_addc(b, '[');
	h = 1;
	for (size_t i = 0, k = 0; i < vsum.ndays; i++) {
		while (k < ndays && days[k].day < vsum.days[i].day)
			k++;
		if (k < ndays && days[k].day == vsum.days[i].day)
			continue;
		if (!h)
			buf_addc(b, ',');
		h = 0;
		day_text(vsum.days[i].day, d);
		jsonw_cstr(b, d);
	}
	buf_adds(b, "]}");
}

void
write_json(struct buf *b)
{
	int f = 1, g;
	size_t n;
	char d[11];

	buf_addc(b, '{');
	jsonw_key(b, "complete", &f);
	buf_adds(b, complete() ? "true" : "false");
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
	jsonw_key(b, "rejects_cut_lines", &g);
	jsonw_u64(b, st.rej_fragments);
	buf_addc(b, '}');

	jsonw_key(b, "no_day", &f);
	g = 1;
	buf_addc(b, '{');
	json_counts(b, &noday, &g);
	buf_addc(b, '}');

	jsonw_key(b, "days", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < ndays; i++) {
		jsonw_item(b, i, &g);
		jsonw_key(b, "day", &g);
		day_text(days[i].day, d);
		jsonw_cstr(b, d);
		json_counts(b, &days[i].c, &g);
		if (opt.verified != NULL) {
			jsonw_key(b, "in_posthog", &g);
			json_ph(b, days[i].ph);
		}
		buf_addc(b, '}');
	}
	buf_addc(b, ']');

	jsonw_key(b, "period", &f);
	jsonw_cstr(b, period_name[punit]);
	jsonw_key(b, "periods", &f);
	buf_addc(b, '[');
	for (size_t i = 0; i < nperiods; i++) {
		jsonw_item(b, i, &g);
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
		jsonw_item(b, i, &g);
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
		jsonw_item(b, i, &g);
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
		jsonw_item(b, i, &g);
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
	buf_addc(b, ']');

	/* Added with --verified: the keys above keep their order. */
	jsonw_key(b, "acknowledged", &f);
	buf_adds(b, acknowledged() ? "true" : "false");
	jsonw_key(b, "verified", &f);
	json_verified(b);
	buf_adds(b, "}\n");
}
