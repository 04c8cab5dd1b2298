/*
 * convert: one Amplitude row to one PostHog event (and the event's
 * properties that are the row's own: device, OS, groups, geo).
 */
#include "convert.h"

/*
 * [Amplitude] event properties that have a PostHog name.  The element
 * ones are consumed into $elements instead (see add_elements).
 */
static const struct rename {
	const char	*amp;
	const char	*ph;
} prop_renames[] = {
	{ "[Amplitude] Page Path",		"$pathname" },
	{ "[Amplitude] Viewport Height",	"$viewport_height" },
	{ "[Amplitude] Viewport Width",		"$viewport_width" },
	{ "[Amplitude] Screen Name",		"$screen_name" },
	{ "referrer",				"$referrer" },
	{ "referring_domain",			"$referring_domain" },
	{ "$price",				"price" },
	{ "$quantity",				"quantity" },
	{ "$productId",				"product" },
	{ "$revenueType",			"revenue_type" },
	{ NULL, NULL }
};

/* posthog-js campaign keys read from the page URL's query string. */
const char *const campaign_keys[] = {
	"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
	"gad_source", "mc_cid", "gclid", "gclsrc", "dclid", "gbraid",
	"wbraid", "fbclid", "msclkid", "twclid", "li_fat_id", "igshid",
	"ttclid", "rdt_cid", "epik", "qclid", "sccid", "irclid", "_kx", NULL
};

/* The OS PostHog would report, from Amplitude's device fields. */
static void
os_fields(const struct amp *a, const char **os, const char **devtype)
{
	const struct jval *dt = a->f[AF_DEVICE_TYPE], *fam = a->f[AF_DEVICE_FAMILY];
	const struct jval *plat = a->f[AF_PLATFORM], *osn = a->f[AF_OS_NAME];

	*os = NULL;
	*devtype = NULL;
	if (a->mobile) {
		if (json_is_lit(plat, "iOS") || json_is_lit(osn, "ios") ||
		    json_is_lit(osn, "iOS") || json_is_lit(osn, "ipados"))
			*os = "iOS";
		else if (json_is_lit(plat, "Android") || json_is_lit(osn, "android") ||
		    json_is_lit(osn, "Android"))
			*os = "Android";
		*devtype = str_has(dt, "iPad") || str_has(dt, "Tablet") ||
		    str_has(a->f[AF_DEVICE_MODEL], "iPad") ? "Tablet" : "Mobile";
		return;
	}
	const struct jval *src = is_str(fam) ? fam : dt;
	if (str_has(src, "iPad")) {
		*os = "iOS";
		*devtype = "Tablet";
	} else if (str_has(src, "iPhone") || json_is_lit(src, "iOS")) {
		*os = "iOS";
		*devtype = "Mobile";
	} else if (str_has(src, "Android")) {
		*os = "Android";
		*devtype = "Mobile";
	} else if (json_is_lit(src, "Mac") || str_has(src, "Mac OS") ||
	    json_is_lit(src, "macOS")) {
		*os = "Mac OS X";
		*devtype = "Desktop";
	} else if (str_has(src, "Windows")) {
		*os = "Windows";
		*devtype = "Desktop";
	} else if (str_has(src, "Chrome OS") || json_is_lit(src, "Chromebook")) {
		*os = "Chrome OS";
		*devtype = "Desktop";
	} else if (str_has(src, "Linux") || str_has(src, "Ubuntu")) {
		*os = "Linux";
		*devtype = "Desktop";
	}
}

/* The path of a URL: what posthog-js's $prev_pageview_pathname holds. */
int
url_path(const struct jval *v, const char **p, size_t *n)
{
	const char *s, *e, *q;

	if (!is_str(v))
		return 0;
	s = v->u.s;
	e = s + v->n;
	if ((q = memmem(s, v->n, "://", 3)) != NULL) {
		s = q + 3;
		while (s < e && *s != '/' && *s != '?' && *s != '#')
			s++;
	}
	for (q = s; q < e && *q != '?' && *q != '#'; q++)
		;
	*p = s == q ? "/" : s;
	*n = s == q ? 1 : (size_t)(q - s);
	return 1;
}

/*
 * location.host of a URL, as posthog-js's $host and $referring_domain
 * hold it (convertToURL(...).host): "host[:port]" in lower case, without
 * user info or the scheme's default port.  0 when there is none.
 */
size_t
url_host(const char *s, size_t n, char *dst, size_t cap)
{
	const char *e = s + n, *q, *h, *he, *at;
	size_t len;
	int https, http;

	if ((q = memmem(s, n, "://", 3)) == NULL)
		return 0;
	https = q - s == 5 && strncasecmp(s, "https", 5) == 0;
	http = q - s == 4 && strncasecmp(s, "http", 4) == 0;
	h = q + 3;
	for (he = h; he < e && *he != '/' && *he != '?' && *he != '#' &&
	    *he != '\\'; he++)
		;
	for (at = he; at > h && at[-1] != '@'; at--)
		;
	if (at > h)
		h = at;
	len = he - h;
	if (https && len > 4 && memcmp(he - 4, ":443", 4) == 0)
		len -= 4;
	else if (http && len > 3 && memcmp(he - 3, ":80", 3) == 0)
		len -= 3;
	if (len == 0 || len >= cap)
		return 0;
	for (size_t i = 0; i < len; i++)
		dst[i] = h[i] >= 'A' && h[i] <= 'Z' ? h[i] + 'a' - 'A' : h[i];
	return len;
}

/*
 * Browser names as posthog-js's detectBrowser (packages/core/src/utils/
 * user-agent-utils.ts, PostHog/posthog-js commit 9b2a1b18db64) gives them,
 * from Amplitude's os_name.  Amplitude's names come from ua-parser-js
 * (@amplitude/ua-parser-js 0.7.33, which its older browser SDKs and its
 * React Native SDK send: "Chrome" also for CriOS, "Edge" for Edg/EdgA/
 * EdgiOS, "Firefox" also for FxiOS, "Samsung Browser", "Mobile Safari",
 * "Facebook", "IE") and, for SDKs that leave the parsing to Amplitude's
 * servers, ua-parser (uap-core) families ("Chrome Mobile", "Chrome Mobile
 * iOS", "Firefox Mobile", "Edge Mobile", "Samsung Internet", "Mobile Safari
 * UI/WKWebView").  ios: which name depends on the OS, as posthog-js reads
 * the UA (CriOS is "Chrome iOS"; Edge on iOS has neither "Edge" nor
 * "Edg/" in its UA and is "Mobile Safari", on Android "Chrome").
 * Unknown names pass unchanged.
 */
static const char *
browser_name(const struct jval *v, int ios, int android)
{
	static const struct {
		const char *amp, *ph, *ph_ios, *ph_android;
	} names[] = {
		{ "Chrome", "Chrome", "Chrome iOS", NULL },
		{ "Chrome Mobile", "Chrome", "Chrome iOS", NULL },
		{ "Chrome Mobile iOS", "Chrome iOS", NULL, NULL },
		{ "Chrome iOS", "Chrome iOS", NULL, NULL },
		{ "Chrome WebView", "Chrome", NULL, NULL },
		{ "Chrome Mobile WebView", "Chrome", NULL, NULL },
		{ "Chrome Headless", "Chrome", NULL, NULL },
		{ "HeadlessChrome", "Chrome", NULL, NULL },
		{ "Chromium", "Chrome", NULL, NULL },
		{ "Edge", "Microsoft Edge", "Mobile Safari", "Chrome" },
		{ "Edge Mobile", "Microsoft Edge", "Mobile Safari", "Chrome" },
		{ "Microsoft Edge", "Microsoft Edge", "Mobile Safari", "Chrome" },
		{ "Firefox", "Firefox", "Firefox iOS", NULL },
		{ "Firefox Mobile", "Firefox", "Firefox iOS", NULL },
		{ "Firefox iOS", "Firefox iOS", NULL, NULL },
		{ "Safari", "Safari", NULL, NULL },
		{ "Mobile Safari", "Mobile Safari", NULL, NULL },
		{ "Mobile Safari UI/WKWebView", "Mobile Safari", NULL, NULL },
		{ "Samsung Browser", "Samsung Internet", NULL, NULL },
		{ "Samsung Internet", "Samsung Internet", NULL, NULL },
		{ "IE", "Internet Explorer", NULL, NULL },
		{ "Internet Explorer", "Internet Explorer", NULL, NULL },
		{ "IEMobile", "Internet Explorer Mobile", NULL, NULL },
		{ "IE Mobile", "Internet Explorer Mobile", NULL, NULL },
		{ "Opera", "Opera", NULL, NULL },
		{ "Opera Mobile", "Opera", NULL, NULL },
		{ "Opera Mini", "Opera Mini", NULL, NULL },
		{ "Facebook", "Facebook Mobile", NULL, "Chrome" },
		{ "Instagram", "Instagram", "Mobile Safari", "Chrome" },
		{ "GSA", "GSA", "Mobile Safari", "Chrome" },
		{ "Google", "Google", "Mobile Safari", "Chrome" },
		{ "Yandex", "Yandex", NULL, NULL },
		{ "Yandex Browser", "Yandex", NULL, NULL },
		{ "UCBrowser", "UC Browser", NULL, NULL },
		{ "UC Browser", "UC Browser", NULL, NULL },
		{ "Android Browser", "Android Mobile", NULL, NULL },
		{ "Silk", "Chrome", NULL, NULL },
		{ "Amazon Silk", "Chrome", NULL, NULL },
		{ "MIUI Browser", "Chrome", NULL, NULL },
		{ "Electron", "Chrome", NULL, NULL },
		{ "Coc Coc", "Chrome", NULL, NULL },
		{ "PaleMoon", "Pale Moon", NULL, NULL },
		{ NULL, NULL, NULL, NULL }
	};

	if (!is_str(v))
		return NULL;
	for (int i = 0; names[i].amp != NULL; i++)
		if (json_is_str(v, names[i].amp))
			return ios && names[i].ph_ios ? names[i].ph_ios :
			    android && names[i].ph_android ?
			    names[i].ph_android : names[i].ph;
	return NULL;
}

/*
 * Amplitude's mobile lifecycle properties (Amplitude-Kotlin
 * analytics-core/.../Constants.kt, commit b18926e7a69a; Amplitude-Swift
 * Sources/Amplitude/Constants.swift, commit 17ca168cfe6b) under the names
 * posthog-ios (PostHog/AppLifeCycle/PostHogAppLifeCycleIntegration.swift,
 * commit 64c7dd0e09dc) and posthog-android (PostHogAppInstallIntegration.kt,
 * PostHogLifecycleObserverIntegration.kt, commit 1042d2533d85) give them.
 * 1 when k was one of them (and written, or left out on purpose).
 */
static const struct jval link_ref_key = { J_STR, 25,
    { "[Amplitude] Link Referrer" } };

static int
lifecycle_property(struct obj *o, const struct amp *a, const struct jval *k,
    const struct jval *v)
{
	char host[320];
	size_t hn;

	if (a->kind == K_LIFECYCLE || a->kind == K_OPENED) {
		/* posthog: version and build on a cold start only. */
		int warm = a->kind == K_OPENED && a->from_background;
		if (json_is_lit(k, "[Amplitude] Version")) {
			if (!warm)
				obj_jv(o, "version", v);
		} else if (json_is_lit(k, "[Amplitude] Build")) {
			if (!warm)
				obj_build(o, "build", v);
		} else if (json_is_lit(k, "[Amplitude] Previous Version"))
			obj_jv(o, "previous_version", v);
		else if (json_is_lit(k, "[Amplitude] Previous Build"))
			obj_build(o, "previous_build", v);
		else if (json_is_lit(k, "[Amplitude] From Background")) {
			if (obj_key(o, "from_background", 15))
				buf_adds(o->b, a->from_background ? "true" :
				    "false");
		} else
			return 0;
		return 1;
	}
	if (a->kind == K_DEEPLINK) {
		if (json_is_lit(k, "[Amplitude] Link URL")) {
			obj_jv(o, "url", v);
			if (json_is_lit(a->f[AF_PLATFORM], "Android")) {
				const struct jval *lr = json_get(a->ep,
				    "[Amplitude] Link Referrer");
				if (is_str(lr))
					lifecycle_property(o, a, &link_ref_key,
					    lr);
				add_link_params(o, v);
			}
		} else if (json_is_lit(k, "[Amplitude] Link Referrer")) {
			/* posthog-ios PostHogDeepLinkHelper.swift */
			obj_jv(o, "$referrer", v);
			if (is_str(v) && (hn = url_host(v->u.s, v->n, host,
			    sizeof(host))) > 0)
				obj_str(o, "$referring_domain", host, hn);
		} else
			return 0;
		return 1;
	}
	return 0;
}

/* Event properties, renamed where PostHog has a name for them. */
static void
add_event_properties(struct obj *o, const struct amp *a)
{
	const struct jval *ep = a->ep;

	if (ep == NULL)
		return;
	for (uint32_t i = 0; i < ep->n; i++) {
		const struct jval *k = JKEY(ep, i), *v = JVAL(ep, i);
		const char *name = k->u.s;
		size_t n = k->n;
		const struct rename *r;

		/* Only "[Amplitude] ...", "referr..." and "$..." are renamed. */
		if (name[0] != '[' && name[0] != 'r' && name[0] != '$') {
			if (obj_key(o, name, n))
				json_write(o->b, v);
			continue;
		}
		if (consumed_by_elements(name, n, a->kind) ||
		    lifecycle_property(o, a, k, v))
			continue;
		if (json_is_lit(k, "[Amplitude] Page Location")) {
			obj_jv(o, "$current_url", v);
			continue;
		}
		if (json_is_lit(k, "[Amplitude] Page URL") &&
		    nonnull(a->loc) == NULL) {
			obj_jv(o, "$current_url", v);
			continue;
		}
		/* Page Domain is the hostname; $host is location.host. */
		if (json_is_lit(k, "[Amplitude] Page Domain")) {
			if (a->hostlen > 0)
				obj_str(o, "$host", a->host, a->hostlen);
			else
				obj_jv(o, "$host", v);
			continue;
		}
		/* posthog-js sends title on $pageview only. */
		if (json_is_lit(k, "[Amplitude] Page Title") && a->pageview) {
			obj_jv(o, "title", v);
			continue;
		}
		/* Web: the session's entry referrer instead (add_referrer). */
		if (a->web && (json_is_lit(k, "referrer") ||
		    json_is_lit(k, "referring_domain")))
			continue;
		for (r = prop_renames; r->amp != NULL; r++)
			if (json_is_str(k, r->amp))
				break;
		if (r->amp != NULL) {
			if (obj_key(o, r->ph, strlen(r->ph)))
				json_write(o->b, v);
			continue;
		}
		if (obj_key(o, name, n))
			json_write(o->b, v);
	}
	if (a->hostlen > 0)
		obj_str(o, "$host", a->host, a->hostlen);
	/* PostHog's revenue analytics reads a plain "revenue" by default. */
	obj_jv(o, "revenue", json_get(ep, "$revenue"));
}

/* A group's key: a string or number; for a list of keys, the first. */
static const struct jval *
group_key(const struct jval *v)
{
	if (v->type == J_ARR)
		v = v->n > 0 ? &v->u.kids[0] : NULL;
	if (v == NULL || (v->type != J_STR && v->type != J_NUM) || v->n == 0)
		return NULL;
	return v;
}

static int
first_group(const struct jval *g, const struct jval **type,
    const struct jval **key)
{
	if (g == NULL || g->type != J_OBJ)
		return 0;
	for (uint32_t i = 0; i < g->n; i++)
		if ((*key = group_key(JVAL(g, i))) != NULL) {
			*type = JKEY(g, i);
			return 1;
		}
	return 0;
}

/* $groups: {"<group type>": "<group key>"}, as posthog-js sends it. */
void
add_groups(struct obj *o, const struct jval *g)
{
	int any = 0;

	if (g == NULL || g->type != J_OBJ)
		return;
	for (uint32_t i = 0; i < g->n; i++) {
		const struct jval *k = JKEY(g, i), *v = group_key(JVAL(g, i));
		if (v == NULL)
			continue;
		if (!any) {
			if (!obj_key(o, "$groups", 7))
				return;
			buf_addc(o->b, '{');
		} else
			buf_addc(o->b, ',');
		any = 1;
		json_write(o->b, k);
		buf_addc(o->b, ':');
		if (v->type == J_NUM)
			jsonw_str(o->b, v->u.s, v->n);
		else
			json_write(o->b, v);
	}
	if (any)
		buf_addc(o->b, '}');
}

/*
 * $group_set of a $groupidentify.  Amplitude exports a group's properties
 * under its type and key: group_properties {"company": {"acme": {...}}};
 * group_properties[type], or group_properties itself, are read when that
 * is not there; an Amplitude "$set" operation object in it is unwrapped.
 */
static const struct jval *
group_set(const struct jval *gp, const struct jval *type,
    const struct jval *key)
{
	const struct jval *t, *k, *set, *inner;

	if (gp == NULL || gp->type != J_OBJ)
		return NULL;
	tmp.len = 0;
	buf_add(&tmp, type->u.s, type->n);
	buf_addc(&tmp, '\0');
	t = json_get(gp, tmp.p);
	set = gp;
	if (t != NULL && t->type == J_OBJ) {
		set = t;
		tmp.len = 0;
		buf_add(&tmp, key->u.s, key->n);
		buf_addc(&tmp, '\0');
		if ((k = json_get(t, tmp.p)) != NULL && k->type == J_OBJ)
			set = k;
	}
	inner = json_get(set, "$set");
	if (inner != NULL && inner->type == J_OBJ)
		set = inner;
	return set;
}

/*
 * The path of the previous page when it was a page of the same site, as
 * posthog-js's $prev_pageview_pathname (page-view.ts: the pathname of the
 * last $pageview of the tab, kept in memory).  Amplitude's Previous Page
 * Type says "internal", "external" or "direct" (plugin-page-url-
 * enrichment-browser/src/page-url-enrichment.ts, Amplitude-TypeScript
 * commit 6deb0623b3d4); without it, the hosts are compared.  A page that
 * was loaded from the previous one has it as its referrer: posthog-js
 * starts over on every page load, so only a single-page application's
 * navigation (the referrer stays that of the landing page) has one.
 */
static int
internal_previous(const struct amp *a, const char **p, size_t *n)
{
	const struct jval *prev = json_get(a->ep,
	    "[Amplitude] Previous Page Location");
	const struct jval *type = nonnull(json_get(a->ep,
	    "[Amplitude] Previous Page Type"));
	char h[320];
	size_t hn;

	const struct jval *ref = json_get(a->ep, "referrer");

	if (!is_str(prev) || (is_str(ref) && ref->n == prev->n &&
	    memcmp(ref->u.s, prev->u.s, ref->n) == 0))
		return 0;
	if (type != NULL) {
		if (!is_str(type) || type->n != 8 ||
		    strncasecmp(type->u.s, "internal", 8) != 0)
			return 0;
	} else if (a->hostlen == 0 || (hn = url_host(prev->u.s, prev->n, h,
	    sizeof(h))) != a->hostlen || memcmp(h, a->host, hn) != 0)
		return 0;
	return url_path(prev, p, n);
}

int
is_initial(const struct jval *k)
{
	return k->n > 8 && memcmp(k->u.s, "initial_", 8) == 0;
}

static const char *const geo_keys[2][9] = { {
	"$geoip_country_name", "$geoip_country_code", "$geoip_city_name",
	"$geoip_subdivision_1_name", "$geoip_subdivision_1_code",
	"$geoip_subdivision_2_name", "$geoip_subdivision_2_code",
	"$geoip_latitude", "$geoip_longitude"
}, {
	"$initial_geoip_country_name", "$initial_geoip_country_code",
	"$initial_geoip_city_name", "$initial_geoip_subdivision_1_name",
	"$initial_geoip_subdivision_1_code",
	"$initial_geoip_subdivision_2_name",
	"$initial_geoip_subdivision_2_code", "$initial_geoip_latitude",
	"$initial_geoip_longitude"
} };

static void
geo_read(struct geo *g, const struct amp *a)
{
	memset(g, 0, sizeof(*g));
	g->country = nonnull(a->f[AF_COUNTRY]);
	g->city = nonnull(a->f[AF_CITY]);
	g->region = nonnull(a->f[AF_REGION]);
	g->lat = nonnull(a->f[AF_LOCATION_LAT]);
	g->lng = nonnull(a->f[AF_LOCATION_LNG]);
	g->any = g->country || g->city || g->region || g->lat || g->lng;
	if (is_str(g->country))
		g->cc = country_code(g->country->u.s, g->country->n);
	if (g->cc != NULL && is_str(g->region))
		g->sub_ok = iso3166_subdivision(g->cc, g->region->u.s,
		    g->region->n, &g->sub);
}

/* One location key: on the event or in $set (set 0), in $set_once (1). */
static int
geo_key(struct obj *o, const char *k, int set)
{
	return set ? so_key(o, k, strlen(k)) : obj_key(o, k, strlen(k));
}

static void
geo_jv(struct obj *o, const char *k, int set, const struct jval *v)
{
	if (v != NULL && v->type != J_NULL && geo_key(o, k, set))
		json_write(o->b, v);
}

static void
geo_str(struct obj *o, const char *k, int set, const char *v)
{
	if (geo_key(o, k, set))
		jsonw_str(o->b, v, strlen(v));
}

/* The location under the names of set (0: $geoip_*, 1: $initial_geoip_*). */
void
add_geo(struct obj *o, const struct geo *g, int set)
{
	const char *const *k = geo_keys[set];

	geo_jv(o, k[0], set, g->country);
	if (g->cc != NULL)
		geo_str(o, k[1], set, g->cc);
	geo_jv(o, k[2], set, g->city);
	if (g->sub_ok && g->sub.parent != NULL) {
		if (g->sub.parent_name != NULL)
			geo_str(o, k[3], set, g->sub.parent_name);
		geo_str(o, k[4], set, g->sub.parent);
		geo_jv(o, k[5], set, g->region);
		geo_str(o, k[6], set, g->sub.code);
	} else {
		geo_jv(o, k[3], set, g->region);
		if (g->sub_ok)
			geo_str(o, k[4], set, g->sub.code);
	}
	geo_jv(o, k[7], set, g->lat);
	geo_jv(o, k[8], set, g->lng);
}

/*
 * Convert one parsed Amplitude row into out.  Returns the number of
 * events written (2 with a $pageleave before the row's), 0 when a rule
 * dropped it, -1 with why set.
 */
int
convert(const struct jval *root, const char **why)
{
	static const struct {
		const char	*amp, *ph;
		enum kind	 kind;
	} renamed[] = {
		/* Amplitude autocapture as posthog-js and the mobile SDKs. */
		{ "[Amplitude] Form Submitted", "$autocapture", K_FORM },
		{ "[Amplitude] Application Installed", "Application Installed",
		    K_LIFECYCLE },
		{ "[Amplitude] Application Updated", "Application Updated",
		    K_LIFECYCLE },
		{ "[Amplitude] Application Opened", "Application Opened",
		    K_OPENED },
		{ "[Amplitude] Application Backgrounded",
		    "Application Backgrounded", K_LIFECYCLE },
		{ "[Amplitude] Deep Link Opened", "Deep Link Opened",
		    K_DEEPLINK },
		{ NULL, NULL, K_OTHER }
	};
	struct amp a;
	struct amp_event e;
	struct amp_name m;
	struct geo g;
	int r, leave = 0;
	const struct jval *v, *et, *sidv, *gtype = NULL, *gkey = NULL;
	const char *did, *os, *devtype, *browser = NULL;
	size_t didlen;
	uint64_t sid_ms;
	char uuid[UUID_STRLEN + 1], ts[TS_STRLEN + 1], sid[UUID_STRLEN + 1];
	struct obj o;

	if ((r = amp_event_read(&rules, root, &e, why)) != AMP_EVENT)
		return r;	/* AMP_REJECT -1, AMP_DROP 0: convert's own codes */
	if (shard_n > 1 && amp_row_shard(&e.row, shard_n) != shard_k) {
		othershard = 1;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	memcpy(a.f, e.row.f, sizeof(a.f));
	a.ep = e.row.ep;
	a.up = e.row.up;
	m = e.name;
	et = a.f[AF_EVENT_TYPE];
	ts_format(e.us, ts);
	did = e.did;
	didlen = e.didlen;
	memcpy(uuid, e.uuid, sizeof(uuid));

	if (m.autocapture)
		a.kind = K_ELEMENT;
	if (et->u.s[0] == '[') {
		/*
		 * Unless --rename named it otherwise (common/ampevent may also
		 * know these names one day: then they arrive renamed already).
		 */
		for (int i = 0; renamed[i].amp != NULL; i++) {
			if (!json_is_str(et, renamed[i].amp))
				continue;
			if (m.event != et->u.s && (m.event_len !=
			    strlen(renamed[i].ph) || memcmp(m.event,
			    renamed[i].ph, m.event_len) != 0))
				break;
			m.event = renamed[i].ph;
			m.event_len = strlen(m.event);
			a.kind = renamed[i].kind;
			if (a.kind == K_FORM) {
				m.autocapture = 1;
				m.event_type = "submit";
			}
			break;
		}
	}
	if (a.kind == K_OPENED) {
		v = json_get(a.ep, "[Amplitude] From Background");
		a.from_background = v != NULL && (v->type == J_TRUE ||
		    json_is_lit(v, "true"));
	}
	a.pageview = m.pageview;

	a.web = json_is_lit(a.f[AF_PLATFORM], "Web");
	/* A mobile os_name counts without a platform (not on web rows). */
	v = a.f[AF_OS_NAME];
	a.mobile = json_is_lit(a.f[AF_PLATFORM], "iOS") ||
	    json_is_lit(a.f[AF_PLATFORM], "Android") || (!a.web &&
	    (json_is_lit(v, "ios") || json_is_lit(v, "iOS") ||
	    json_is_lit(v, "ipados") || json_is_lit(v, "iPadOS") ||
	    json_is_lit(v, "android") || json_is_lit(v, "Android")));
	if (!a.web && !a.mobile && a.ep != NULL &&
	    json_get(a.ep, "[Amplitude] Page URL") != NULL)
		a.web = 1;
	os_fields(&a, &os, &devtype);
	if (a.web)
		browser = browser_name(a.f[AF_OS_NAME], os != NULL &&
		    strcmp(os, "iOS") == 0, os != NULL &&
		    strcmp(os, "Android") == 0);
	if ((a.loc = nonnull(json_get(a.ep, "[Amplitude] Page Location"))) !=
	    NULL && is_str(a.loc))
		a.hostlen = url_host(a.loc->u.s, a.loc->n, a.host,
		    sizeof(a.host));

	/* The session of (device, session_id), and its $session_id time. */
	sidv = a.f[AF_SESSION_ID];
	if (sidv != NULL && sidv->type == J_NUM && sidv->u.s[0] != '-' &&
	    strtoll(sidv->u.s, NULL, 10) > 0) {
		const struct jval *d = nonnull(a.f[AF_DEVICE_ID]);
		if (d == NULL)
			d = nonnull(a.f[AF_USER_ID]);
		if (d == NULL)
			d = nonnull(a.f[AF_AMPLITUDE_ID]);
		if (d != NULL && d->type != J_STR && d->type != J_NUM)
			d = NULL;
		sid_ms = strtoull(sidv->u.s, NULL, 10);
		a.sess = session_of(d, sidv, sid_ms, e.us / 1000);
		/*
		 * A function of the slot's identity and time, both fixed
		 * when the slot was taken: one SHA-1 a session, not an event.
		 */
		if (a.sess->sid[0] == '\0') {
			tmp.len = 0;
			buf_adds(&tmp, "amplitude-session\x1f");
			if (d != NULL)
				buf_add(&tmp, d->u.s, d->n);
			buf_addc(&tmp, '\x1f');
			buf_add(&tmp, sidv->u.s, sidv->n);
			uuid_v7_at(a.sess->ms, tmp.p, tmp.len, a.sess->sid);
		}
		memcpy(sid, a.sess->sid, sizeof(a.sess->sid));
	}

	geo_read(&g, &a);
	if (pageleaveflag && a.web && a.pageview && a.ep != NULL &&
	    leave_applies(&a, e.us)) {
		const char *p;
		size_t n;
		if (!internal_previous(&a, &p, &n)) {
			write_pageleave(&a, did, didlen, ts, e.us, sid, os,
			    devtype, browser, &g);
			leave = 1;
		}
	}

	/* $groupidentify too: posthog-js sends it as the current user. */
	event_head(m.event, m.event_len, did, didlen, ts, uuid);

	obj_open(&o, &out, &pkeys);
	if (m.group_event && first_group(a.f[AF_GROUPS], &gtype, &gkey)) {
		obj_jv(&o, "$group_type", gtype);
		obj_key(&o, "$group_key", 10);
		if (gkey->type == J_NUM)
			jsonw_str(o.b, gkey->u.s, gkey->n);
		else
			json_write(o.b, gkey);
		obj_jv(&o, "$group_set", group_set(a.f[AF_GROUP_PROPERTIES],
		    gtype, gkey));
	}
	add_event_properties(&o, &a);
	if (m.autocapture) {
		obj_cstr(&o, "$event_type", m.event_type);
		add_elements(&o, &a);
		if (a.kind == K_ELEMENT) {
			int sens;
			const struct jval *href;
			target_of(&a, &sens, &href);
			if (!sens && (v = json_get(a.ep,
			    "[Amplitude] Element Text")) && is_str(v))
				obj_jv(&o, "$el_text", v);
			if (strcmp(m.event_type, "click") == 0)
				add_external_click(&o, &a, href);
		}
	}
	if (a.web && a.ep != NULL) {
		const char *p;
		size_t n;
		new_tab(&a);
		add_referrer(&o, &a);
		add_viewport(&o, &a);
		if (a.pageview && internal_previous(&a, &p, &n)) {
			obj_str(&o, "$prev_pageview_pathname", p, n);
			add_prev_duration(&o, &a, p, n, e.us);
		}
		add_campaign(&o, a.loc ? a.loc : json_get(a.ep,
		    "[Amplitude] Page URL"), a.sess);
	} else if (a.web) {
		add_referrer(&o, &a);
		add_viewport(&o, &a);
	}

	add_device(&o, &a, os, devtype, browser, &g);
	if (a.sess != NULL)
		obj_str(&o, "$session_id", sid, UUID_STRLEN);
	add_groups(&o, a.f[AF_GROUPS]);
	obj_jv(&o, "$amplitude_user_id", a.f[AF_USER_ID]);
	obj_jv(&o, "$amplitude_device_id", a.f[AF_DEVICE_ID]);
	obj_jv(&o, "$amplitude_id", a.f[AF_AMPLITUDE_ID]);
	obj_jv(&o, "$amplitude_event_id", a.f[AF_EVENT_ID]);
	obj_jv(&o, "$amplitude_session_id", a.f[AF_SESSION_ID]);
	obj_jv(&o, "$insert_id", a.f[AF_INSERT_ID]);
	if (!m.group_event)
		add_person(&o, &a, os, devtype, browser, &g,
		    person_newest(did, didlen, e.us));
	buf_add(&out, "}}\n", 3);
	if (pageleaveflag && a.web && a.pageview && a.sess != NULL &&
	    a.ep != NULL)
		page_remember(&a, uuid, e.us);
	return 1 + leave;
}
