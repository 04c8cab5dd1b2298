/*
 * html: ph-report's page, one self-contained file (inline CSS and SVG,
 * no script) that reads well on screen and prints, made only from the
 * model in report.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "htmlw.h"
#include "period.h"
#include "receipt.h"
#include "svgchart.h"
#include "timestamp.h"

#include "report.h"

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
".headline.unv{border-color:#9a6700;background:#fff8c5}\n"
".headline.unv h2{color:#7d4e00}\n"
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
".card.ph{border-top-color:#0969da}\n"
"table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}\n"
"th,td{padding:4px 8px;border-bottom:1px solid var(--line);"
"text-align:left;vertical-align:top}\n"
"th{background:#f6f8fa;font-weight:600}\n"
"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;"
"white-space:nowrap}\n"
"tr.gap td{background:#fff8c5}\n"
"td.rej{color:var(--rej);font-weight:600}\n"
"td.pen{color:#9a5b00;font-weight:600}\n"
"td .miss{color:var(--rej);font-weight:600}\n"
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

/* "checked <time> against project P at H" */
static void
checked_text(struct buf *b)
{
	char when[TS_STRLEN + 1];

	ts_format(vsum.checked_at * 1000000, when);
	buf_printf(b, "checked %.10s %.8s UTC against project ", when,
	    when + 11);
	htmlw_texts(b, vsum.project);
	buf_adds(b, " at ");
	htmlw_texts(b, vsum.host);
}

static void
not_verified_text(struct buf *b)
{
	buf_adds(b, "<p>Not verified as stored: a 200 from capture is not "
	    "&ldquo;stored&rdquo;. Capture answers before it stores "
	    "anything, and a token of another project, the wrong cloud or a "
	    "project over its billing quota all answer 200 and drop the "
	    "events. To know that PostHog has them, pass the migration's "
	    "events through <code>ph-verify -j ");
	htmlw_texts(b, opt.journal);
	buf_adds(b, " --project ID --summary s.json</code> and give the "
	    "summary to <code>ph-report --verified s.json</code>.</p>\n");
}

/* What ph-verify found not there, and what to do about it. */
static void
verified_text(struct buf *b)
{
	const struct verifysum_totals *t = &vsum.t;
	const char *sep = ": ";

	buf_printf(b, "<p>In PostHog: %s of %s events (", htmlw_num(
	    t->present), htmlw_num(t->expected));
	checked_text(b);
	buf_adds(b, ")");
#define PART(v, what) do { if (v) { buf_printf(b, "%s%s %s", sep, \
	htmlw_num(v), what); sep = ", "; } } while (0)
	PART(t->missing, "missing");
	PART(t->not_visible, "not yet visible");
	PART(t->unverified, "unverified");
	PART(t->never_delivered, "never delivered");
	PART(t->other_lib, "without $lib amp2ph, not checked");
#undef PART
	buf_adds(b, ".</p>\n");
	if (t->missing || t->never_delivered) {
		buf_adds(b, "<p>The repair is the migration's own pipeline "
		    "with ph-verify before ph-batch: it writes the events "
		    "PostHog does not have (and forgets them in the journal), "
		    "and ph-batch sends exactly those again: <code>amp-unpack "
		    "&hellip; | amp-convert &hellip; | ph-alias -j ");
		htmlw_texts(b, opt.journal);
		buf_adds(b, " | ph-verify -j ");
		htmlw_texts(b, opt.journal);
		buf_adds(b, " --project ");
		htmlw_texts(b, vsum.project);
		buf_adds(b, " --app-host ");
		htmlw_texts(b, vsum.host);
		buf_adds(b, " | ph-batch -j ");
		htmlw_texts(b, opt.journal);
		buf_adds(b, " &hellip;</code>; then ph-verify "
		    "<code>--summary</code> again and this report.</p>\n");
	}
	if (t->not_visible)
		buf_adds(b, "<p>Events not yet visible were acknowledged "
		    "within ph-verify's <code>--settle</code>: PostHog may "
		    "still be ingesting them. Run ph-verify again later.</p>\n");
	if (t->unverified)
		buf_adds(b, "<p>Unverified events could not be checked (the "
		    "query budget, <code>--max-queries</code>, or a query that "
		    "failed): run ph-verify again.</p>\n");
	if (ver.uncovered)
		buf_printf(b, "<p>%s delivered events of the export are more "
		    "than ph-verify checked: give it the whole stream "
		    "(ph-alias's output).</p>\n", htmlw_num(ver.uncovered));
	if (ver.days_unchecked)
		buf_printf(b, "<p>%s days of the export with delivered events "
		    "are not in the summary.</p>\n",
		    htmlw_num(ver.days_unchecked));
	if (ver.stale)
		buf_adds(b, "<p><strong>ph-batch delivered events after this "
		    "check (the journal's runs): run ph-verify "
		    "<code>--summary</code> again for the figures of now."
		    "</strong></p>\n");
}

/* A day's "in PostHog" cell: present, and what is not there. */
static void
ph_cell(struct buf *b, const struct dayc *d)
{
	const struct verifysum_day *v = d->ph;
	const char *sep = " &middot; ";

	if (v == NULL) {
		buf_adds(b, d->c.v[C_DELIVERED] ? "<td class=\"n pen\">not "
		    "checked</td>" : "<td class=\"n\">&mdash;</td>");
		return;
	}
	buf_printf(b, "<td class=\"n\">%s", htmlw_num(v->present));
	if (v->missing)
		buf_printf(b, "%s<span class=\"miss\">%s missing</span>", sep,
		    htmlw_num(v->missing));
	if (v->not_visible)
		buf_printf(b, "%s<span class=\"miss\">%s not yet visible"
		    "</span>", sep, htmlw_num(v->not_visible));
	if (v->unverified)
		buf_printf(b, "%s<span class=\"miss\">%s unverified</span>",
		    sep, htmlw_num(v->unverified));
	buf_adds(b, "</td>");
}

static int
day_short(const struct dayc *d)
{
	if (d->ph == NULL)
		return d->c.v[C_DELIVERED] > 0;
	return d->ph->missing + d->ph->not_visible + d->ph->unverified > 0 ||
	    d->ph->present < d->ph->expected;
}

/* Per day: what the export has, what was acknowledged, what is stored. */
static void
section_posthog(struct buf *b)
{
	size_t n = 0, shown = 0;
	int all = ndays <= MAXBARS;
	char d[11];

	for (size_t i = 0; i < ndays; i++)
		n += day_short(&days[i]);
	buf_adds(b, "<section id=\"posthog\">\n<h2>In PostHog (ph-verify)"
	    "</h2>\n<p>What PostHog's query API holds, per UTC day, as "
	    "ph-verify found it (");
	checked_text(b);
	buf_adds(b, "). <em>Checked</em> counts the delivered events "
	    "ph-verify was given, identity events of ph-alias included; "
	    "<em>in PostHog</em> those it found stored.</p>\n");
	if (!all)
		buf_printf(b, "<p>%s days; those not wholly in PostHog (%s) "
		    "are listed, all of them in --json.</p>\n",
		    htmlw_num(ndays), htmlw_num(n));
	buf_adds(b, "<table><thead><tr><th>day</th><th class=\"n\">in "
	    "export</th><th class=\"n\">delivered</th><th class=\"n\">"
	    "checked</th><th class=\"n\">in PostHog</th></tr></thead>\n"
	    "<tbody>\n");
	for (size_t i = 0; i < ndays; i++) {
		const struct dayc *dy = &days[i];
		int gap = day_short(dy);

		if (!all && (!gap || shown >= GAPROWS))
			continue;
		shown++;
		day_text(dy->day, d);
		buf_printf(b, "<tr%s><td>%s</td>", gap ? " class=\"gap\"" : "",
		    d);
		td_num(b, dy->c.v[C_EXPORT], NULL);
		td_num(b, dy->c.v[C_DELIVERED], NULL);
		if (dy->ph != NULL)
			td_num(b, dy->ph->expected, NULL);
		else
			buf_adds(b, "<td class=\"n\">&mdash;</td>");
		ph_cell(b, dy);
		buf_adds(b, "</tr>\n");
	}
	buf_adds(b, "</tbody></table>\n");
	if (!all && n > shown)
		buf_printf(b, "<p>and %s more (all of them in --json).</p>\n",
		    htmlw_num(n - shown));
	if (ver.days_outside)
		buf_printf(b, "<p>%s days of the summary have no event of the "
		    "export (identity events, or another export).</p>\n",
		    htmlw_num(ver.days_outside));
	buf_adds(b, "</section>\n");
}

static const char counts_head[] =
    "<th class=\"n\">in export</th><th class=\"n\">dropped by rule</th>"
    "<th class=\"n\">delivered</th><th class=\"n\">rejected</th>"
    "<th class=\"n\">pending</th>";

void
write_html(struct buf *b)
{
	uint64_t pend = st.c.v[C_PENDING], rej = rejected_total();
	char now[TS_STRLEN + 1], d1[11], d2[11];
	size_t n;

	ts_format(ts_now_us(), now);
	buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n<title>");
	buf_printf(b, "Migration report: %s", !complete() ? "not complete" :
	    opt.verified != NULL ? "complete" : "acknowledged, not verified");
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
	    !complete() ? "bad" : opt.verified != NULL ? "ok" : "unv");
	if (complete() && opt.verified != NULL) {
		buf_printf(b, "<h2>Migration complete</h2>\n<p>In PostHog: all "
		    "%s events (", htmlw_num(vsum.t.expected));
		checked_text(b);
		buf_printf(b, ").</p>\n<p>Every event of the export is in "
		    "PostHog: %s delivered", htmlw_num(st.c.v[C_DELIVERED]));
		if (st.c.v[C_DROPPED])
			buf_printf(b, ", %s dropped by a mapping rule",
			    htmlw_num(st.c.v[C_DROPPED]));
		buf_adds(b, "; nothing pending, nothing rejected, nothing "
		    "missing.</p>\n");
	} else if (complete()) {
		buf_printf(b, "<h2>All events acknowledged, not verified as "
		    "stored</h2>\n<p>Every event of the export was "
		    "acknowledged by PostHog's capture: %s delivered",
		    htmlw_num(st.c.v[C_DELIVERED]));
		if (st.c.v[C_DROPPED])
			buf_printf(b, ", %s dropped by a mapping rule",
			    htmlw_num(st.c.v[C_DROPPED]));
		buf_adds(b, "; nothing pending, nothing rejected.</p>\n");
		not_verified_text(b);
	} else {
		buf_adds(b, "<h2>Migration not complete: ");
		if (!acknowledged())
			buf_printf(b, "%s pending, %s rejected", htmlw_num(pend),
			    htmlw_num(rej));
		if (opt.verified != NULL && !ver.complete) {
			const char *sep = acknowledged() ? "" : ", ";

			if (ver.not_there + ver.uncovered)
				buf_printf(b, "%s%s not in PostHog", sep,
				    htmlw_num(ver.not_there + ver.uncovered));
			else if (ver.days_unchecked)
				buf_printf(b, "%s%s days not checked", sep,
				    htmlw_num(ver.days_unchecked));
			else
				buf_printf(b, "%sph-verify's check is out of "
				    "date", sep);
		}
		buf_adds(b, "</h2>\n");
		if (!acknowledged()) {
			buf_printf(b, "<p>%s of %s events of the export were "
			    "acknowledged by PostHog's capture (%s dropped by "
			    "a mapping rule).", htmlw_num(st.c.v[C_DELIVERED]),
			    htmlw_num(st.c.v[C_EXPORT]),
			    htmlw_num(st.c.v[C_DROPPED]));
			if (pend)
				buf_adds(b, " Pending events were never "
				    "acknowledged by PostHog (or ph-verify "
				    "found them missing and forgot them): run "
				    "the same pipeline again to send them.");
			if (rej)
				buf_adds(b, " Rejected events will not be sent "
				    "as they are: see <a href=\"#rejects\">"
				    "rejects by reason</a>.");
			buf_adds(b, "</p>\n");
		}
		if (opt.verified != NULL)
			verified_text(b);
		else
			not_verified_text(b);
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
	if (opt.verified != NULL) {
		card(b, "ph", vsum.t.present, "in PostHog (ph-verify)");
		card(b, "rej", ver.not_there, "not in PostHog");
	}
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

	if (opt.verified != NULL)
		section_posthog(b);

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
	if (st.rej_fragments)
		buf_printf(b, "<p>%s rejects-file entries are cut lines (a "
		    "stage before was stopped mid-line; the export holds the "
		    "whole line): they are not events and not counted.</p>\n",
		    htmlw_num(st.rej_fragments));
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
	buf_adds(b, "<li><em>Delivered</em> means acknowledged: PostHog's "
	    "capture answered 2xx to the request that carried the event, "
	    "which it does before storing anything. Only PostHog's query "
	    "API can say <em>stored</em>: ph-verify asks it, and "
	    "<code>--verified</code> shows what it found.</li>\n");
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
