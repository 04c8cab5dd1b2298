/*
 * pageleave: --pageleave's $pageleave events, and the previous page's
 * duration, from the next page view of a session.
 */
#include "convert.h"

/* A web $pageview's page, kept in its session until the next one. */
void
page_remember(const struct amp *a, const char *uuid, int64_t us)
{
	struct sess *ss = a->sess;
	const struct jval *url = a->loc, *path, *dom;
	const char *p = NULL, *h = NULL;
	size_t pn = 0, hn = 0, un;

	free(ss->pv);
	ss->pv = NULL;
	if (!is_str(url))
		url = nonnull(json_get(a->ep, "[Amplitude] Page URL"));
	if (!is_str(url))
		url = NULL;
	path = json_get(a->ep, "[Amplitude] Page Path");
	if (is_str(path)) {
		p = path->u.s;
		pn = path->n;
	} else if (!url_path(url, &p, &pn))
		return;
	if (a->hostlen > 0) {
		h = a->host;
		hn = a->hostlen;
	} else if (is_str(dom = json_get(a->ep, "[Amplitude] Page Domain"))) {
		h = dom->u.s;
		hn = dom->n;
	}
	un = url != NULL ? url->n : 0;
	if (un + pn + hn > PV_MAX)
		return;
	ss->pv = xmalloc(un + pn + hn + 1);
	if (un > 0)
		memcpy(ss->pv, url->u.s, un);
	memcpy(ss->pv + un, p, pn);
	if (hn > 0)
		memcpy(ss->pv + un + pn, h, hn);
	ss->pvurl = un;
	ss->pvpath = pn;
	ss->pvhost = hn;
	ss->pvus = us;
	memcpy(ss->pvuuid, uuid, UUID_STRLEN);
}

/* Seconds from one time to another, as posthog-js: ms / 1000. */
static void
obj_duration(struct obj *o, const char *k, int64_t from, int64_t to)
{
	int64_t ms = to / 1000 - from / 1000;
	char num[48];
	int n;

	n = snprintf(num, sizeof(num), "%lld.%03lld", (long long)(ms / 1000),
	    (long long)(ms % 1000));
	while (num[n - 1] == '0')
		n--;
	if (num[n - 1] == '.')
		n--;
	if (obj_key(o, k, strlen(k)))
		buf_add(o->b, num, n);
}

/*
 * The previous page of a page view, when the page view is a page load
 * from it in the same tab: the session's last page view, not later than
 * this one, whose path is that of Previous Page Location when the row
 * has one (else another tab's page was the last one seen), and Previous
 * Page Type neither direct (a new tab: the other's page is still open)
 * nor external (the page was left for another site, at a time no row
 * says).
 */
int
leave_applies(const struct amp *a, int64_t us)
{
	const struct sess *ss = a->sess;
	const struct jval *type, *prev;
	const char *p;
	size_t n;

	if (ss == NULL || ss->pv == NULL || us < ss->pvus)
		return 0;
	prev = json_get(a->ep, "[Amplitude] Previous Page Location");
	if (is_str(prev) && url_path(prev, &p, &n) && (n != ss->pvpath ||
	    memcmp(p, ss->pv + ss->pvurl, n) != 0))
		return 0;
	type = nonnull(json_get(a->ep, "[Amplitude] Previous Page Type"));
	return !(is_str(type) && ((type->n == 6 && strncasecmp(type->u.s,
	    "direct", 6) == 0) || (type->n == 8 && strncasecmp(type->u.s,
	    "external", 8) == 0)));
}

/* $prev_pageview_id and _duration on a single-page app's page view. */
void
add_prev_duration(struct obj *o, const struct amp *a, const char *p,
    size_t n, int64_t us)
{
	const struct sess *ss = a->sess;

	if (!pageleaveflag || !leave_applies(a, us) || ss->pvpath != n ||
	    memcmp(ss->pv + ss->pvurl, p, n) != 0)
		return;
	obj_str(o, "$prev_pageview_id", ss->pvuuid, UUID_STRLEN);
	obj_duration(o, "$prev_pageview_duration", ss->pvus, us);
}

/* An event's line up to its properties, in the key order every one has. */
void
event_head(const char *name, size_t namelen, const char *did, size_t didlen,
    const char *ts, const char *uuid)
{
	buf_add(&out, "{\"event\":", 9);
	jsonw_str(&out, name, namelen);
	buf_add(&out, ",\"distinct_id\":", 15);
	jsonw_str(&out, did, didlen);
	buf_add(&out, ",\"timestamp\":\"", 14);
	buf_add(&out, ts, TS_STRLEN);
	buf_add(&out, "\",\"uuid\":\"", 10);
	buf_add(&out, uuid, UUID_STRLEN);
	buf_add(&out, "\",\"properties\":", 15);
}

/*
 * The $pageleave of the session's last page, at the time of the page
 * view a (a page load from it), before it: the page's $current_url,
 * $host and $pathname, the session's referrer, campaign and viewport as
 * they were on it, the device of a; as its uuid, a name-based one of
 * "amplitude-pageleave" and the page view's uuid.
 */
void
write_pageleave(const struct amp *a, const char *did, size_t didlen,
    const char *ts, int64_t us, const char *sid, const char *os,
    const char *devtype, const char *browser, const struct geo *g)
{
	static const char *const vp[2] = { "$viewport_height",
	    "$viewport_width" };
	const struct sess *ss = a->sess;
	const char *pv = ss->pv, *path = ss->pv + ss->pvurl;
	char uuid[UUID_STRLEN + 1];
	struct obj o;

	tmp.len = 0;
	buf_adds(&tmp, "amplitude-pageleave\x1f");
	buf_add(&tmp, ss->pvuuid, UUID_STRLEN);
	uuid_v5(tmp.p, tmp.len, uuid);
	event_head(LIT("$pageleave"), did, didlen, ts, uuid);
	obj_open(&o, &out, &pkeys);
	if (ss->pvurl > 0)
		obj_str(&o, "$current_url", pv, ss->pvurl);
	if (ss->pvhost > 0)
		obj_str(&o, "$host", path + ss->pvpath, ss->pvhost);
	obj_str(&o, "$pathname", path, ss->pvpath);
	if (ss->entry == 1) {
		obj_str(&o, "$referrer", ss->ref, ss->reflen);
		obj_str(&o, "$referring_domain", ss->ref + ss->reflen,
		    ss->domlen);
	}
	for (int i = 0; i < 2; i++)
		if (ss->vplen[i] > 0 && obj_key(&o, vp[i], strlen(vp[i])))
			buf_add(o.b, ss->vp[i], ss->vplen[i]);
	if (ss->camp != NULL)
		campaign_write(&o, ss->camp->text, ss->camp->off);
	obj_str(&o, "$pageview_id", ss->pvuuid, UUID_STRLEN);
	obj_str(&o, "$prev_pageview_id", ss->pvuuid, UUID_STRLEN);
	obj_str(&o, "$prev_pageview_pathname", path, ss->pvpath);
	obj_duration(&o, "$prev_pageview_duration", ss->pvus, us);
	add_device(&o, a, os, devtype, browser, g);
	obj_str(&o, "$session_id", sid, UUID_STRLEN);
	add_groups(&o, a->f[AF_GROUPS]);
	obj_jv(&o, "$amplitude_user_id", a->f[AF_USER_ID]);
	obj_jv(&o, "$amplitude_device_id", a->f[AF_DEVICE_ID]);
	obj_jv(&o, "$amplitude_id", a->f[AF_AMPLITUDE_ID]);
	obj_jv(&o, "$amplitude_session_id", a->f[AF_SESSION_ID]);
	buf_add(&out, "}}\n", 3);
	pageleaves++;
}
