/*
 * session: the sessions table, and what a session's first event gives
 * the later ones: the entry referrer, the campaign, the viewport.
 */
#include "convert.h"

struct sess	*sessions;

uint64_t		 sess_clock;

struct sess *
session_of(const struct jval *who, const struct jval *sid, uint64_t sid_ms,
    int64_t ev_ms)
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x9e3779b97f4a7c15ULL;
	struct sess *set, *victim;
	size_t i;

	if (who != NULL)
		table_hash(&h1, &h2, who->u.s, who->n);
	h1 = (h1 ^ 0x1f) * 0x100000001b3ULL;
	h2 = (h2 ^ 0x1f) * 0xff51afd7ed558ccdULL;
	table_hash(&h1, &h2, sid->u.s, sid->n);
	if (h1 == 0 && h2 == 0)
		h1 = 1;
	if (sessions == NULL)
		sessions = xcalloc((size_t)SESS_SETS * SESS_WAYS,
		    sizeof(*sessions));
	set = &sessions[(h1 >> 7 & (SESS_SETS - 1)) * SESS_WAYS];
	victim = set;
	for (i = 0; i < SESS_WAYS; i++) {
		if (set[i].h1 == h1 && set[i].h2 == h2 && set[i].used != 0) {
			set[i].used = ++sess_clock;
			return &set[i];
		}
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	free(victim->ref);
	free(victim->dom);
	free(victim->camp);
	free(victim->form);
	free(victim->pv);
	memset(victim, 0, sizeof(*victim));
	victim->h1 = h1;
	victim->h2 = h2;
	victim->used = ++sess_clock;
	/*
	 * A session start later than its event, or more than a day before
	 * it, is not the time of this session (device clocks that are off):
	 * the session's UUIDv7 then takes the time of its first event seen.
	 */
	if ((int64_t)sid_ms <= ev_ms + SESS_SKEW_MS &&
	    ev_ms - (int64_t)sid_ms < SESS_MAX_MS)
		victim->ms = sid_ms;
	else
		victim->ms = ev_ms > 0 ? (uint64_t)ev_ms : 0;
	return victim;
}

void
sessions_free(void)
{
	for (size_t i = 0; sessions != NULL && i < (size_t)SESS_SETS *
	    SESS_WAYS; i++) {
		free(sessions[i].ref);
		free(sessions[i].dom);
		free(sessions[i].camp);
		free(sessions[i].form);
		free(sessions[i].pv);
	}
	free(sessions);
	sessions = NULL;
}

/*
 * posthog-js's getQueryParam (packages/browser-common/src/utils/
 * request-utils.ts) for value v..e of the first query part named after a
 * key: the text up to a second '=', decodeURIComponent'ed (as it is when
 * that fails: a bad escape or bytes that are no UTF-8), then '+' as a
 * space.  Into tmp.
 */
static void
campaign_value(const char *v, const char *e)
{
	const char *eq2 = memchr(v, '=', e - v);
	int ok = 1;

	if (eq2 != NULL)
		e = eq2;
	tmp.len = 0;
	for (const char *c = v; c < e; c++) {
		int h, l;
		if (*c != '%')
			buf_addc(&tmp, *c);
		else if (e - c > 2 && (h = hexdig(c[1])) >= 0 &&
		    (l = hexdig(c[2])) >= 0) {
			buf_addc(&tmp, h << 4 | l);
			c += 2;
		} else {
			ok = 0;
			break;
		}
	}
	if (!ok || !utf8_valid(tmp.p, tmp.len)) {
		tmp.len = 0;
		buf_add(&tmp, v, e - v);
	}
	for (size_t i = 0; i < tmp.len; i++)
		if (tmp.p[i] == '+')
			tmp.p[i] = ' ';
}

/*
 * The campaign parameters of a page URL as posthog-js registers them
 * (event-utils.ts _getCampaignParamsFromUrl): every key, null when the
 * URL has no non-empty value for it.  The JSON values go into b, key i at
 * off[i]; the number of non-null ones is returned.
 */
static int
campaign_read(const struct jval *url, struct buf *b, uint32_t *off)
{
	const char *s, *e, *q;
	uint32_t seen = 0, vals[NCAMP][2];
	int n = 0;

	b->len = 0;
	if (!is_str(url) || (q = memchr(url->u.s, '?', url->n)) == NULL)
		return 0;
	e = url->u.s + url->n;
	const char *hash = memchr(url->u.s, '#', url->n);
	if (hash != NULL && hash < q)
		return 0;
	if (hash != NULL)
		e = hash;
	while (q < e && *q == '?')
		q++;
	struct buf *vb = &campvals;
	vb->len = 0;
	for (s = q; s < e;) {
		const char *amp = memchr(s, '&', e - s), *end = amp ? amp : e;
		const char *eq = memchr(s, '=', end - s);
		size_t klen = eq ? (size_t)(eq - s) : (size_t)(end - s);

		for (int i = 0; i < NCAMP && klen > 0; i++) {
			if (seen & 1u << i || campaign_keys[i][0] != s[0] ||
			    strlen(campaign_keys[i]) != klen ||
			    memcmp(campaign_keys[i], s, klen) != 0)
				continue;
			seen |= 1u << i;	/* the first part of the name counts */
			vals[i][0] = vb->len;
			if (eq != NULL) {
				campaign_value(eq + 1, end);
				buf_add(vb, tmp.p, tmp.len);
			}
			vals[i][1] = vb->len;
			break;
		}
		s = end + 1;
	}
	for (int i = 0; i < NCAMP; i++) {
		off[i] = b->len;
		if (seen & 1u << i && vals[i][1] > vals[i][0]) {
			jsonw_str(b, vb->p + vals[i][0], vals[i][1] - vals[i][0]);
			n++;
		} else
			buf_add(b, "null", 4);
	}
	off[NCAMP] = b->len;
	return n;
}

void
campaign_write(struct obj *o, const char *text, const uint32_t *off)
{
	for (int i = 0; i < NCAMP; i++)
		if (obj_key(o, campaign_keys[i], strlen(campaign_keys[i])))
			buf_add(o->b, text + off[i], off[i + 1] - off[i]);
}

/*
 * Campaign parameters of a web event as posthog-js sends them: when the
 * page URL carries any, all of them (null for the absent ones) are
 * registered for the tab (posthog-persistence.ts update_campaign_params)
 * and sent with every later event until a URL carries others.  Amplitude
 * has them on the campaign page only, so they are carried forward per
 * (device, session), with the entry referrer.
 */
void
add_campaign(struct obj *o, const struct jval *url, struct sess *ss)
{
	uint32_t off[NCAMP + 1];

	if (campaign_read(url, &campbuf, off) > 0) {
		if (ss != NULL) {
			free(ss->camp);
			ss->camp = xmalloc(sizeof(*ss->camp) + campbuf.len);
			memcpy(ss->camp->off, off, sizeof(off));
			memcpy(ss->camp->text, campbuf.p, campbuf.len);
		}
		campaign_write(o, campbuf.p, off);
	} else if (ss != NULL && ss->camp != NULL)
		campaign_write(o, ss->camp->text, ss->camp->off);
}

/*
 * $viewport_height and _width: posthog-js sends them on every event
 * (event-utils.ts getEventProperties: window.innerHeight/innerWidth);
 * Amplitude has them on element events.  The last ones seen in the
 * session fill the web events without them.
 */
void
add_viewport(struct obj *o, const struct amp *a)
{
	static const char *const amp[2] = { "[Amplitude] Viewport Height",
	    "[Amplitude] Viewport Width" };
	static const char *const ph[2] = { "$viewport_height",
	    "$viewport_width" };
	struct sess *ss = a->sess;

	if (ss == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		const struct jval *v = json_get(a->ep, amp[i]);
		if (v != NULL && v->type == J_NUM && v->n < sizeof(ss->vp[i])) {
			memcpy(ss->vp[i], v->u.s, v->n);
			ss->vplen[i] = v->n;
		} else if (ss->vplen[i] > 0 && obj_key(o, ph[i],
		    strlen(ph[i])))
			buf_add(o->b, ss->vp[i], ss->vplen[i]);
	}
}

/*
 * $referrer and $referring_domain of a web event as posthog-js sends
 * them: the referrer of the first page of the visit, "$direct" when it
 * had none (event-utils.ts getReferrer/getReferringDomain; registered
 * once per tab session, posthog-persistence.ts update_referrer_info).
 * Amplitude's referrer is per page, so the entry one is carried forward
 * per (device, session): the first $pageview, or first event with a
 * referrer, of a session fixes it, until a new tab's page view (new_tab)
 * starts over.
 */
void
add_referrer(struct obj *o, const struct amp *a)
{
	const struct jval *ref = nonnull(json_get(a->ep, "referrer"));
	const struct jval *dom = nonnull(json_get(a->ep, "referring_domain"));
	struct sess *ss = a->sess;
	const char *r = "$direct", *d = "$direct";
	size_t rn = 7, dn = 7;
	char host[320];

	if (ss != NULL && ss->entry == 1) {
		obj_str(o, "$referrer", ss->ref, ss->reflen);
		obj_str(o, "$referring_domain", ss->ref + ss->reflen,
		    ss->domlen);
		return;
	}
	if (is_str(ref)) {
		r = ref->u.s;
		rn = ref->n;
		if ((dn = url_host(r, rn, host, sizeof(host))) > 0)
			d = host;
		else if (is_str(dom)) {
			d = dom->u.s;
			dn = dom->n;
		} else {
			d = "$direct";
			dn = 7;
		}
	}
	if (ss != NULL && ss->entry == 0 && (a->pageview || ref != NULL)) {
		if (rn <= SESS_REFMAX && dn <= SESS_REFMAX) {
			ss->ref = xmalloc(rn + dn);
			memcpy(ss->ref, r, rn);
			memcpy(ss->ref + rn, d, dn);
			ss->dom = NULL;
			ss->reflen = rn;
			ss->domlen = dn;
			ss->entry = 1;
			r = ss->ref;
			d = ss->ref + rn;
		} else
			ss->entry = 2;
	}
	obj_str(o, "$referrer", r, rn);
	obj_str(o, "$referring_domain", d, dn);
}

/*
 * A page view Amplitude calls "direct" is the first page of a new browser
 * tab: Amplitude keeps the tab's current page in sessionStorage and calls
 * a page direct only when that is empty and document.referrer too
 * (plugin-page-url-enrichment-browser/src/page-url-enrichment.ts,
 * amplitude/Amplitude-TypeScript commit 6deb0623b3d4: a later page of
 * the same tab, one at a typed address included, has the stored page as
 * its previous one; a reload keeps the previous page it had).
 * posthog-js keeps the referrer and the campaign parameters in
 * sessionStorage as well (posthog-core.ts sessionPersistence,
 * posthog-persistence.ts update_referrer_info, update_campaign_params,
 * PostHog/posthog-js commit 9b2a1b18db64), so a new tab starts over:
 * "$direct", and only its own URL's campaign parameters.  The session
 * goes on (its $session_id and, in PostHog's sessions table, its entry
 * values stay those of its first page view).  Amplitude's rows do not say
 * which tab an event came from: later events of the first tab get the new
 * tab's values too (amp-convert(1), CAVEATS).
 */
void
new_tab(const struct amp *a)
{
	struct sess *ss = a->sess;
	const struct jval *type;

	if (ss == NULL || !a->pageview)
		return;
	type = nonnull(json_get(a->ep, "[Amplitude] Previous Page Type"));
	if (!is_str(type) || type->n != 6 ||
	    strncasecmp(type->u.s, "direct", 6) != 0)
		return;
	free(ss->ref);
	ss->ref = NULL;
	ss->reflen = ss->domlen = 0;
	ss->entry = 0;
	free(ss->camp);
	ss->camp = NULL;
}
