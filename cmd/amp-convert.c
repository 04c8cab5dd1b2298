/*
 * amp-convert: turn Amplitude export lines into PostHog capture events,
 * one per line, deterministically: the same input gives the same bytes.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ampevent.h"
#include "buf.h"
#include "cli.h"
#include "country.h"
#include "distinct.h"
#include "iso3166.h"
#include "jqprog.h"
#include "json.h"
#include "journal.h"
#include "jsonw.h"
#include "keyset.h"
#include "lines.h"
#include "outfile.h"
#include "phevent.h"
#include "rejects.h"
#include "retry.h"
#include "settle.h"
#include "stage.h"
#include "timestamp.h"
#include "uuid.h"
#include "xalloc.h"

#define MAXLINE_DEFAULT	(16 * 1024 * 1024)
#define WARN_LIMIT	20	/* rejects named on stderr, then a count */

static int	last_nonl, cut;	/* the input's last line was cut */
static unsigned	shard_k, shard_n;	/* --shard K/N: K-1 of N, 0 of 0 */
static int	othershard;	/* convert() met another shard's row */

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
static const char *const campaign_keys[] = {
	"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
	"gad_source", "mc_cid", "gclid", "gclsrc", "dclid", "gbraid",
	"wbraid", "fbclid", "msclkid", "twclid", "li_fat_id", "igshid",
	"ttclid", "rdt_cid", "epik", "qclid", "sccid", "irclid", "_kx", NULL
};

struct stats {
	uint64_t	lines, written, dropped, rejected, blank;
	uint64_t	othershard;	/* rows of the other --shard's */
};

static struct amp_rules	 rules;
static struct jqprog	*jq;
static struct rejects	 rej;
static struct stats	 st;
static int		 strictflag, quietflag, pageleaveflag;
static uint64_t		 pageleaves;	/* $pageleave events made */
static size_t		 maxline = MAXLINE_DEFAULT;
static struct buf	 out, tmp, campbuf, campvals;
static struct keyset	 pkeys, skeys;
static struct json_parser *parser;

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: amp-convert [-qs] [-j journal] [--drop event] "
	    "[--keep event] [--rename old=new]\n"
	    "                   [--jq program | --jq-file file] "
	    "[--rejects file] [--max-line bytes]\n"
	    "                   [--pageleave] [--shard k/n] [file ...]\n");
	exit(status);
}

static const struct jval *
nonnull(const struct jval *v)
{
	return v != NULL && v->type != J_NULL ? v : NULL;
}

static int
is_str(const struct jval *v)
{
	return v != NULL && v->type == J_STR && v->n > 0;
}

static int
str_has(const struct jval *v, const char *needle)
{
	return is_str(v) && memmem(v->u.s, v->n, needle, strlen(needle)) !=
	    NULL;
}

/* Writing properties: each key at most once per object. */
struct obj {
	struct buf	*b;
	struct keyset	*ks;
	int		 first;
	int		 once;	/* $set_once: its keys as so_key takes them */
};

static int	so_key(struct obj *, const char *, size_t);

static void
obj_open(struct obj *o, struct buf *b, struct keyset *ks)
{
	o->b = b;
	o->ks = ks;
	o->first = 1;
	o->once = 0;
	keyset_clear(ks);
	buf_addc(b, '{');
}

static int
obj_key(struct obj *o, const char *k, size_t n)
{
	if (o->once)
		return so_key(o, k, n);
	if (!keyset_add(o->ks, k, n))
		return 0;
	if (!o->first)
		buf_addc(o->b, ',');
	o->first = 0;
	jsonw_str(o->b, k, n);
	buf_addc(o->b, ':');
	return 1;
}

static void
obj_jv(struct obj *o, const char *k, const struct jval *v)
{
	if (v != NULL && v->type != J_NULL && obj_key(o, k, strlen(k)))
		json_write(o->b, v);
}

static void
obj_str(struct obj *o, const char *k, const char *s, size_t n)
{
	if (obj_key(o, k, strlen(k)))
		jsonw_str(o->b, s, n);
}

static void
obj_cstr(struct obj *o, const char *k, const char *s)
{
	obj_str(o, k, s, strlen(s));
}

static void
obj_raw(struct obj *o, const char *k, const char *raw)
{
	if (obj_key(o, k, strlen(k)))
		buf_adds(o->b, raw);
}

/*
 * posthog-js's $browser_version is a number: the first "major[.minor]"
 * of the version, parseFloat'ed (user-agent-utils.ts
 * BROWSER_VERSION_REGEX_SUFFIX "(\\d+(\\.\\d+)?)").  So "137" is 137,
 * "17.4.1" 17.4, "120.0.6099.71" 120, "17.10" 17.1.  A version that does
 * not start with a digit is kept as the string it is.
 */
static void
obj_version_number(struct obj *o, const char *k, const struct jval *v)
{
	const char *p, *e, *dot, *f;
	char num[40];
	size_t n = 0;

	if (!is_str(v) || v->u.s[0] < '0' || v->u.s[0] > '9')
		return obj_jv(o, k, v);
	p = v->u.s;
	e = p + v->n;
	while (p < e - 1 && *p == '0' && p[1] >= '0' && p[1] <= '9')
		p++;			/* leading zeros: parseFloat drops them */
	for (f = p; f < e && *f >= '0' && *f <= '9'; f++)
		;
	if (f - p > 15)			/* beyond a double's digits */
		return obj_jv(o, k, v);
	memcpy(num, p, f - p);
	n = f - p;
	if (f < e - 1 && *f == '.' && f[1] >= '0' && f[1] <= '9') {
		dot = f++;
		const char *d = f;
		while (f < e && *f >= '0' && *f <= '9' && f - d < 15)
			f++;
		while (f > d && f[-1] == '0')	/* 17.10 is 17.1, 120.0 120 */
			f--;
		if (f > d) {
			memcpy(num + n, dot, f - dot);
			n += f - dot;
		}
	}
	if (obj_key(o, k, strlen(k)))
		buf_add(o->b, num, n);
}

/* What an event is, beyond its name, for the property mapping. */
enum kind {
	K_OTHER, K_ELEMENT, K_FORM, K_LIFECYCLE, K_OPENED, K_DEEPLINK
};

struct amp {
	const struct jval	*f[AF_NFIELDS];
	const struct jval	*ep;	/* event_properties, an object or NULL */
	const struct jval	*up;	/* user_properties, an object or NULL */
	int			 web, mobile, pageview;
	enum kind		 kind;
	int			 from_background;
	const struct jval	*loc;	/* [Amplitude] Page Location */
	char			 host[320];	/* its location.host */
	size_t			 hostlen;
	struct sess		*sess;	/* NULL without a session */
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
static int
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
static size_t
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
 * Sessions seen lately, by (device, Amplitude session): what the first
 * event seen of each decided, so that every event of a session gets the
 * same $session_id time and the same entry referrer.  A bounded table:
 * SESS_SETS sets of SESS_WAYS, the least recently used of a full set
 * making room, so memory does not grow with the input.  Which session is
 * evicted depends only on the input, so the output stays deterministic.
 */
#define SESS_SETS	(1 << 15)
#define SESS_WAYS	4
#define SESS_REFMAX	4096		/* longer entry referrers: not carried */
#define SESS_SKEW_MS	60000LL		/* session start after its event */
#define SESS_MAX_MS	(24 * 3600 * 1000LL)	/* the SDKs' longest session */

struct sess {
	uint64_t	 h1, h2;	/* identity; 0, 0 for an empty slot */
	uint64_t	 used;		/* clock of the last use; 0: empty */
	uint64_t	 ms;		/* the 48-bit time of its $session_id */
	char		*ref, *dom;	/* entry referrer and referring domain */
	uint32_t	 reflen, domlen;
	int		 entry;		/* 0 unknown, 1 ref/dom set, 2 too long */
	struct camp	*camp;		/* its campaign parameters, or NULL */
	char		 vp[2][24];	/* last viewport height, width seen */
	uint8_t		 vplen[2];
	char		*form;		/* last form seen: its id, $elements */
	uint32_t	 formlen, formidlen;
	char		*pv;		/* --pageleave: the last $pageview's */
	uint32_t	 pvurl, pvpath, pvhost;	/* $current_url, $pathname, $host */
	int64_t		 pvus;		/* its time */
	char		 pvuuid[UUID_STRLEN];	/* its uuid */
	char		 sid[UUID_STRLEN + 1];	/* its $session_id, once made */
};

static struct sess	*sessions;
static uint64_t		 sess_clock;

static struct sess *
session_of(const struct jval *who, const struct jval *sid, uint64_t sid_ms,
    int64_t ev_ms)
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x9e3779b97f4a7c15ULL;
	struct sess *set, *victim;
	size_t i;

	for (i = 0; who != NULL && i < who->n; i++) {
		h1 = (h1 ^ (unsigned char)who->u.s[i]) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)who->u.s[i]) * 0xff51afd7ed558ccdULL;
		h2 ^= h2 >> 29;
	}
	h1 = (h1 ^ 0x1f) * 0x100000001b3ULL;
	h2 = (h2 ^ 0x1f) * 0xff51afd7ed558ccdULL;
	for (i = 0; i < sid->n; i++) {
		h1 = (h1 ^ (unsigned char)sid->u.s[i]) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)sid->u.s[i]) * 0xff51afd7ed558ccdULL;
		h2 ^= h2 >> 29;
	}
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

static void
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

static int
hexdig(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* s..e percent-decoded into b (emptied first), '+' as a space. */
static void
pct_decode(struct buf *b, const char *s, const char *e)
{
	b->len = 0;
	for (const char *c = s; c < e; c++) {
		int h, l;
		if (*c == '+')
			buf_addc(b, ' ');
		else if (*c == '%' && e - c > 2 && (h = hexdig(c[1])) >= 0 &&
		    (l = hexdig(c[2])) >= 0) {
			buf_addc(b, h << 4 | l);
			c += 2;
		} else
			buf_addc(b, *c);
	}
}

/*
 * posthog-android's Deep Link Opened also has every query parameter of
 * the link with a value as its own property (PostHogActivityLifecycle-
 * CallbackIntegration.kt: Uri.getQueryParameter, decoded); url and the
 * referrer win over parameters of the same name.
 */
static void
add_link_params(struct obj *o, const struct jval *url)
{
	const char *s, *e, *q;
	struct buf name = { 0 };

	if (!is_str(url) || (q = memchr(url->u.s, '?', url->n)) == NULL)
		return;
	e = url->u.s + url->n;
	const char *hash = memchr(q, '#', e - q);
	if (hash != NULL)
		e = hash;
	for (s = q + 1; s < e;) {
		const char *amp = memchr(s, '&', e - s), *end = amp ? amp : e;
		const char *eq = memchr(s, '=', end - s);
		if (eq != NULL && eq > s && eq + 1 < end) {
			pct_decode(&name, s, eq);
			pct_decode(&tmp, eq + 1, end);
			if (name.len > 0 && tmp.len > 0 &&
			    utf8_valid(name.p, name.len) &&
			    utf8_valid(tmp.p, tmp.len) &&
			    obj_key(o, name.p, name.len))
				jsonw_str(o->b, tmp.p, tmp.len);
		}
		s = end + 1;
	}
	buf_free(&name);
}

#define NCAMP	24	/* campaign_keys */

/* A session's campaign parameters: the JSON text of each key's value. */
struct camp {
	uint32_t	off[NCAMP + 1];	/* key i is text[off[i]..off[i+1]) */
	char		text[];
};

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

static void
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
static void
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

/* Amplitude's 0-based sibling index as posthog-js's 1-based one. */
static int64_t
one_based(const struct jval *v)
{
	long long n = strtoll(v->u.s, NULL, 10);

	return n < 0 || n >= INT64_MAX ? 0 : n + 1;
}

/*
 * posthog-js's isSensitiveElement (packages/browser-common/src/utils/
 * autocapture-utils.ts): an input other than a button, checkbox, submit
 * or reset, a select, a textarea, a contenteditable element.  posthog-js
 * takes no text of one and only its name, id, class and aria-label
 * attributes.  Amplitude keeps only the type attribute of such elements
 * (plugin-autocapture-browser/src/hierarchy.ts).
 */
static int
sensitive_node(const struct jval *tag, const struct jval *attrs)
{
	const struct jval *t = json_get(attrs, "type");

	if (json_is_lit(tag, "select") || json_is_lit(tag, "textarea") ||
	    json_is_lit(json_get(attrs, "contenteditable"), "true"))
		return 1;
	if (!json_is_lit(tag, "input"))
		return 0;
	return !(is_str(t) && ((t->n == 6 && (strncasecmp(t->u.s, "button",
	    6) == 0 || strncasecmp(t->u.s, "submit", 6) == 0)) || (t->n == 8 &&
	    strncasecmp(t->u.s, "checkbox", 8) == 0) || (t->n == 5 &&
	    strncasecmp(t->u.s, "reset", 5) == 0)));
}

static const struct jval *
node_attrs(const struct jval *node)
{
	const struct jval *attrs;

	/* Amplitude's HierarchyNode calls them attrs; older: attributes. */
	if ((attrs = json_get(node, "attrs")) == NULL)
		attrs = json_get(node, "attributes");
	return attrs != NULL && attrs->type == J_OBJ ? attrs : NULL;
}

/* The event's target: sensitive (no text), and its href as written. */
static void
target_of(const struct amp *a, int *sensitive, const struct jval **href)
{
	const struct jval *h = json_get(a->ep, "[Amplitude] Element Hierarchy");
	const struct jval *node = h != NULL && h->type == J_ARR && h->n > 0 &&
	    h->u.kids[0].type == J_OBJ ? &h->u.kids[0] : NULL;
	const struct jval *attrs = node ? node_attrs(node) : NULL, *v;

	*sensitive = sensitive_node(node ? json_get(node, "tag") :
	    json_get(a->ep, "[Amplitude] Element Tag"), attrs);
	/*
	 * posthog-js's attr__href is the attribute as written (autocapture.ts
	 * reads getAttribute('href')); Amplitude's Element Href is the
	 * resolved URL, and its hierarchy keeps the attribute.
	 */
	v = json_get(attrs, "href");
	*href = is_str(v) ? v : nonnull(json_get(a->ep,
	    "[Amplitude] Element Href"));
}

/*
 * $external_click_url: posthog-js's for a click on a link to another host
 * than the page's (autocapture.ts: the href as written, when its host
 * differs from location.host).  The host is Element Href's, the resolved
 * URL, so a relative link is never external.
 */
static void
add_external_click(struct obj *o, const struct amp *a,
    const struct jval *href)
{
	const struct jval *res = nonnull(json_get(a->ep,
	    "[Amplitude] Element Href"));
	const struct jval *page = a->loc ? a->loc : nonnull(json_get(a->ep,
	    "[Amplitude] Page URL"));
	char h1[320], h2[320];
	size_t n1, n2;

	if (!is_str(href) || !is_str(page))
		return;
	if (!is_str(res))
		res = href;
	if ((n1 = url_host(res->u.s, res->n, h1, sizeof(h1))) == 0 ||
	    (n2 = url_host(page->u.s, page->n, h2, sizeof(h2))) == 0)
		return;
	if (n1 != n2 || memcmp(h1, h2, n1) != 0)
		obj_jv(o, "$external_click_url", href);
}

/* One $elements item: posthog-js's shape, built from Amplitude's node. */
static void
element_item(struct buf *b, const struct jval *node, int target,
    const struct amp *a)
{
	const struct jval *tag = json_get(node, "tag"), *id, *cls, *attrs;
	const struct jval *v, *href;
	struct obj o;
	struct keyset ks = { 0 }, attrks = { 0 };

	obj_open(&o, b, &ks);
	keyset_clear(&attrks);
	attrs = node_attrs(node);
	int sens = sensitive_node(tag, attrs);
	if (is_str(tag))
		obj_jv(&o, "tag_name", tag);
	if (target && !sens && (v = json_get(a->ep,
	    "[Amplitude] Element Text")) && is_str(v))
		obj_jv(&o, "$el_text", v);
	cls = json_get(node, "class");
	if (cls == NULL)
		cls = json_get(node, "classes");
	if (cls != NULL && cls->type == J_ARR && cls->n > 0) {
		obj_key(&o, "classes", 7);	/* new keys: always written */
		json_write(b, cls);
		obj_key(&o, "attr__class", 11);
		tmp.len = 0;
		for (uint32_t i = 0; i < cls->n; i++) {
			if (cls->u.kids[i].type != J_STR)
				continue;
			if (tmp.len)
				buf_addc(&tmp, ' ');
			buf_add(&tmp, cls->u.kids[i].u.s, cls->u.kids[i].n);
		}
		jsonw_str(b, tmp.p ? tmp.p : "", tmp.len);
	}
	if ((id = json_get(node, "id")) && is_str(id))
		obj_jv(&o, "attr__id", id);
	href = NULL;
	if (target) {
		int dummy;
		target_of(a, &dummy, &href);
	}
	if (is_str(href))
		obj_jv(&o, "attr__href", href);
	if (attrs != NULL)
		for (uint32_t i = 0; i < attrs->n; i++) {
			const struct jval *k = JKEY(attrs, i);
			/*
			 * id and class are written above, and the target's
			 * href.  Attribute names have their own set: they are
			 * written with the attr__ prefix.
			 */
			if (json_is_lit(k, "id") || json_is_lit(k, "class") ||
			    (json_is_lit(k, "href") && is_str(href)) ||
			    (sens && !json_is_lit(k, "name") &&
			    !json_is_lit(k, "aria-label")) ||
			    !keyset_add(&attrks, k->u.s, k->n))
				continue;
			if (!o.first)
				buf_addc(b, ',');
			o.first = 0;
			tmp.len = 0;
			buf_add(&tmp, "attr__", 6);
			buf_add(&tmp, k->u.s, k->n);
			jsonw_str(b, tmp.p, tmp.len);
			buf_addc(b, ':');
			json_write(b, JVAL(attrs, i));
		}
	if ((v = json_get(node, "index")) && v->type == J_NUM &&
	    obj_key(&o, "nth_child", 9))
		jsonw_i64(b, one_based(v));
	if ((v = json_get(node, "indexOfType")) && v->type == J_NUM &&
	    obj_key(&o, "nth_of_type", 11))
		jsonw_i64(b, one_based(v));
	buf_addc(b, '}');
	keyset_free(&ks);
	keyset_free(&attrks);
}

#define FORM_MAX	4096	/* longer form hierarchies are not kept */

static struct buf	formbuf;

/*
 * The form of an element event's hierarchy (a field of it, its submit
 * button), from the form node up, kept in the session: Amplitude's Form
 * Submitted has no hierarchy, posthog-js's submit names the form and its
 * ancestors.
 */
static void
form_remember(const struct amp *a, const struct jval *h)
{
	struct sess *ss = a->sess;
	uint32_t i, n = 0;
	const struct jval *id;

	if (ss == NULL)
		return;
	for (i = 0; i < h->n; i++)
		if (h->u.kids[i].type == J_OBJ &&
		    json_is_lit(json_get(&h->u.kids[i], "tag"), "form"))
			break;
	if (i == h->n)
		return;
	id = json_get(&h->u.kids[i], "id");
	formbuf.len = 0;
	if (is_str(id))
		buf_add(&formbuf, id->u.s, id->n);
	uint32_t idn = formbuf.len;
	for (; i < h->n; i++) {
		const struct jval *node = &h->u.kids[i];
		if (node->type != J_OBJ ||
		    json_is_lit(json_get(node, "tag"), "html"))
			continue;
		if (n++)
			buf_addc(&formbuf, ',');
		element_item(&formbuf, node, 0, a);
	}
	if (formbuf.len > FORM_MAX)
		return;
	ss->form = xrealloc(ss->form, formbuf.len);
	memcpy(ss->form, formbuf.p, formbuf.len);
	ss->formlen = formbuf.len;
	ss->formidlen = idn;
}

/* The session's form, when it is the submitted one (same id): 1. */
static int
form_seen(struct buf *b, const struct amp *a)
{
	const struct sess *ss = a->sess;
	const struct jval *id = json_get(a->ep, "[Amplitude] Form ID");
	size_t idn;

	if (ss == NULL || ss->form == NULL)
		return 0;
	idn = ss->formidlen;
	if (is_str(id) ? id->n != idn || memcmp(id->u.s, ss->form, idn) != 0 :
	    idn != 0)
		return 0;
	buf_add(b, ss->form + idn, ss->formlen - idn);
	return 1;
}

/*
 * $elements, target first, up to body, from [Amplitude] Element
 * Hierarchy (or from the single-element properties when it is absent),
 * so that PostHog builds the same elements_chain posthog-js would.
 */
static void
add_elements(struct obj *o, const struct amp *a)
{
	const struct jval *h = json_get(a->ep, "[Amplitude] Element Hierarchy");
	const struct jval *tag = json_get(a->ep, "[Amplitude] Element Tag");
	const struct jval *v;
	int n = 0;

	if (!obj_key(o, "$elements", 9))
		return;
	buf_addc(o->b, '[');
	if (a->kind == K_FORM && form_seen(o->b, a)) {
		/* The form and its ancestors, as an element event showed them. */
	} else if (a->kind == K_FORM) {
		/*
		 * posthog-js's submit autocapture names the form; Amplitude's
		 * Form Submitted knows its id and name (and Form Destination,
		 * the resolved action URL, not the attribute: kept as it is).
		 */
		struct obj e;
		struct keyset ks = { 0 };
		obj_open(&e, o->b, &ks);
		obj_cstr(&e, "tag_name", "form");
		if ((v = json_get(a->ep, "[Amplitude] Form ID")) && is_str(v))
			obj_jv(&e, "attr__id", v);
		if ((v = json_get(a->ep, "[Amplitude] Form Name")) &&
		    is_str(v))
			obj_jv(&e, "attr__name", v);
		buf_addc(o->b, '}');
		keyset_free(&ks);
	} else if (h != NULL && h->type == J_ARR && h->n > 0) {
		for (uint32_t i = 0; i < h->n; i++) {
			const struct jval *node = &h->u.kids[i];
			if (node->type != J_OBJ ||
			    json_is_lit(json_get(node, "tag"), "html"))
				continue;
			if (n++)
				buf_addc(o->b, ',');
			element_item(o->b, node, i == 0, a);
		}
		form_remember(a, h);
	} else if (is_str(tag)) {
		/* Only the target is known: make a one-node hierarchy. */
		struct obj e;
		struct keyset ks = { 0 };
		obj_open(&e, o->b, &ks);
		obj_jv(&e, "tag_name", tag);
		if (!sensitive_node(tag, NULL) && (v = json_get(a->ep,
		    "[Amplitude] Element Text")) && is_str(v))
			obj_jv(&e, "$el_text", v);
		if ((v = json_get(a->ep, "[Amplitude] Element Class")) &&
		    is_str(v)) {
			obj_key(&e, "classes", 7);
			buf_addc(o->b, '[');
			int c = 0;
			for (const char *s = v->u.s, *end = s + v->n; s < end;) {
				const char *sp = memchr(s, ' ', end - s);
				const char *w = sp ? sp : end;
				if (w > s) {
					if (c++)
						buf_addc(o->b, ',');
					jsonw_str(o->b, s, w - s);
				}
				s = w + 1;
			}
			buf_addc(o->b, ']');
			obj_jv(&e, "attr__class", v);
		}
		if ((v = json_get(a->ep, "[Amplitude] Element ID")) &&
		    is_str(v))
			obj_jv(&e, "attr__id", v);
		if ((v = json_get(a->ep, "[Amplitude] Element Href")) &&
		    is_str(v))
			obj_jv(&e, "attr__href", v);
		buf_addc(o->b, '}');
		keyset_free(&ks);
	}
	buf_addc(o->b, ']');
}

static int
lit_in(const char *k, size_t n, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
			return 1;
	return 0;
}

static int
consumed_by_elements(const char *k, size_t n, enum kind kind)
{
	static const char *const element[] = {
		"[Amplitude] Element Tag", "[Amplitude] Element Text",
		"[Amplitude] Element ID", "[Amplitude] Element Class",
		"[Amplitude] Element Href", "[Amplitude] Element Hierarchy",
		NULL
	};
	static const char *const form[] = {
		"[Amplitude] Form ID", "[Amplitude] Form Name", NULL
	};

	return kind == K_ELEMENT ? lit_in(k, n, element) :
	    kind == K_FORM ? lit_in(k, n, form) : 0;
}

/* "42" as 42, as posthog-ios (Int(value) ?? value) and Android send it. */
static void
obj_build(struct obj *o, const char *k, const struct jval *v)
{
	size_t i;

	if (is_str(v) && v->n < 19 && (v->u.s[0] != '0' || v->n == 1)) {
		for (i = 0; i < v->n && v->u.s[i] >= '0' && v->u.s[i] <= '9';
		    i++)
			;
		if (i == v->n) {
			if (obj_key(o, k, strlen(k)))
				buf_add(o->b, v->u.s, v->n);
			return;
		}
	}
	obj_jv(o, k, v);
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

/*
 * $viewport_height and _width: posthog-js sends them on every event
 * (event-utils.ts getEventProperties: window.innerHeight/innerWidth);
 * Amplitude has them on element events.  The last ones seen in the
 * session fill the web events without them.
 */
static void
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
static void
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
 * its previous one; a reload keeps the previous page it had).  posthog-js keeps the referrer and the campaign
 * parameters in sessionStorage as well (posthog-core.ts sessionPersistence,
 * posthog-persistence.ts update_referrer_info, update_campaign_params,
 * PostHog/posthog-js commit 9b2a1b18db64), so a new tab starts over:
 * "$direct", and only its own URL's campaign parameters.  The session
 * goes on (its $session_id and, in PostHog's sessions table, its entry
 * values stay those of its first page view).  Amplitude's rows do not say
 * which tab an event came from: later events of the first tab get the new
 * tab's values too (amp-convert(1), CAVEATS).
 */
static void
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
static void
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

static int
is_initial(const struct jval *k)
{
	return k->n > 8 && memcmp(k->u.s, "initial_", 8) == 0;
}

/*
 * The location PostHog's GeoIP step would have written, from Amplitude's
 * names: nodejs/src/cdp/templates/_transformations/geoip/geoip.template.ts
 * (PostHog/posthog, commit 16d547c51a95) writes $geoip_<key> on the event
 * and in $set, and $initial_geoip_<key> in $set_once, for city_name,
 * country_name, country_code, continent_*, postal_code, latitude,
 * longitude, accuracy_radius, time_zone and subdivision_<N>_name/_code,
 * the code being MaxMind's subdivision isoCode: the part of the ISO
 * 3166-2 code after the country ("CA", not "US-CA").  Amplitude's region
 * is the most precise subdivision MaxMind knows ("Hertfordshire", where
 * MaxMind's first is "England"): when ISO places it under another, that
 * one is subdivision 1 and the region subdivision 2.
 */
struct geo {
	const struct jval	*country, *city, *region, *lat, *lng;
	const char		*cc;		/* alpha-2, or NULL */
	struct iso3166_sub	 sub;
	int			 sub_ok, any;
};

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

/*
 * A key of $set_once: "$initial_x" and "initial_x" (Amplitude's
 * attribution name, written "$initial_x") are one key.  The set holds the
 * name without "$", whose bytes outlive the event.
 */
static int
so_key(struct obj *s, const char *k, size_t n)
{
	const char *id = k;
	size_t idn = n;
	int prefix = 0;

	if (n > 9 && memcmp(k, "$initial_", 9) == 0) {
		id = k + 1;
		idn = n - 1;
	} else if (n > 8 && memcmp(k, "initial_", 8) == 0)
		prefix = 1;
	if (!keyset_add(s->ks, id, idn))
		return 0;
	if (!s->first)
		buf_addc(s->b, ',');
	s->first = 0;
	if (prefix) {
		tmp.len = 0;
		buf_addc(&tmp, '$');
		buf_add(&tmp, k, n);
		jsonw_str(s->b, tmp.p, tmp.len);
	} else
		jsonw_str(s->b, k, n);
	buf_addc(s->b, ':');
	return 1;
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
static void
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
 * Amplitude identify operations other than $set and $setOnce ($add,
 * $unset, ...) change a value relative to its old one: PostHog person
 * properties cannot say that, so they are not carried over.
 */
static int
identify_op(const struct jval *k)
{
	static const char *const ops[] = {
		"$setOnce", "$unset", "$add", "$append", "$prepend",
		"$preInsert", "$postInsert", "$remove", "$clearAll", NULL
	};

	if (k->n < 2 || k->u.s[0] != '$')
		return 0;
	for (int i = 0; ops[i] != NULL; i++)
		if (json_is_str(k, ops[i]))
			return 1;
	return 0;
}

static void
write_person_value(struct obj *s, const struct jval *v)
{
	if (json_is_lit(v, "EMPTY"))
		buf_add(s->b, "null", 4);
	else
		json_write(s->b, v);
}

/* user_properties into $set: "EMPTY" is null; {"$set":{...}} flattened. */
static void
set_props(struct obj *s, const struct jval *up)
{
	for (uint32_t i = 0; i < up->n; i++) {
		const struct jval *k = JKEY(up, i), *v = JVAL(up, i);

		if (json_is_lit(k, "$set") && v->type == J_OBJ) {
			set_props(s, v);
			continue;
		}
		if (identify_op(k) || is_initial(k) ||
		    !obj_key(s, k->u.s, k->n))
			continue;
		write_person_value(s, v);
	}
}

/*
 * initial_* as $initial_* (EMPTY skipped), and $setOnce flattened, its
 * initial_* keys (Amplitude's attribution) as $initial_* too.
 */
static void
set_once_props(struct obj *s, const struct jval *up)
{
	for (uint32_t i = 0; i < up->n; i++) {
		const struct jval *k = JKEY(up, i), *v = JVAL(up, i);

		if (json_is_lit(k, "$setOnce") && v->type == J_OBJ) {
			for (uint32_t j = 0; j < v->n; j++) {
				const struct jval *kk = JKEY(v, j);
				const struct jval *vv = JVAL(v, j);
				if (vv->type == J_NULL || json_is_lit(vv, "EMPTY") ||
				    !so_key(s, kk->u.s, kk->n))
					continue;
				json_write(s->b, vv);
			}
			continue;
		}
		if (!is_initial(k) || v->type == J_NULL || json_is_lit(v, "EMPTY"))
			continue;
		if (so_key(s, k->u.s, k->n))
			json_write(s->b, v);
	}
}

/*
 * An object property that is left out when it would be empty: open with
 * opt_open, close with opt_close, which takes the key back when nothing
 * was written in it (posthog-js sends no empty $set or $set_once).
 */
struct optobj {
	size_t	mark;
	int	first;
};

static int
opt_open(struct obj *o, const char *k, struct optobj *oo, struct obj *s,
    struct keyset *ks)
{
	oo->mark = o->b->len;
	oo->first = o->first;
	if (!obj_key(o, k, strlen(k)))
		return 0;
	obj_open(s, o->b, ks);
	return 1;
}

static void
opt_close(struct obj *o, const struct optobj *oo, const struct obj *s)
{
	if (s->first) {
		o->b->len = oo->mark;	/* the key stays taken: no one else */
		o->first = oo->first;	/* writes it */
	} else
		buf_addc(o->b, '}');
}

/*
 * Amplitude's $unset (an object of names, or a list) as PostHog's: a list
 * of names, which ingestion removes from the person (computeEventProperty-
 * Updates in nodejs/src/worker/ingestion/persons/person-update.ts,
 * PostHog/posthog commit 1843a1601cb3: an array, or an object's keys).
 */
static void
add_unset(struct obj *o, const struct jval *up)
{
	const struct jval *u = json_get(up, "$unset");
	int n = 0;

	if (u == NULL || (u->type != J_OBJ && u->type != J_ARR) || u->n == 0)
		return;
	size_t mark = o->b->len;
	int first = o->first;
	if (!obj_key(o, "$unset", 6))
		return;
	buf_addc(o->b, '[');
	for (uint32_t i = 0; i < u->n; i++) {
		const struct jval *k = u->type == J_OBJ ? JKEY(u, i) :
		    &u->u.kids[i];
		if (k->type != J_STR)
			continue;
		if (n++)
			buf_addc(o->b, ',');
		json_write(o->b, k);
	}
	if (n == 0) {
		o->b->len = mark;
		o->first = first;
	} else
		buf_addc(o->b, ']');
}

/*
 * Persons seen lately, by distinct_id: the time of the newest row whose
 * snapshot was sent in $set.  PostHog applies $set in the order it
 * ingests events, comparing values with the person's, never the events'
 * timestamps (computeEventPropertyUpdates in nodejs/src/worker/ingestion/
 * persons/person-update.ts, PostHog/posthog commit 1843a1601cb3), so an
 * older snapshot that arrives later would win.  A bounded table like the
 * sessions': PERS_SETS sets of PERS_WAYS, the least recently used of a
 * full set making room; which person is pushed out depends only on the
 * input, so the output stays deterministic.
 */
#define PERS_SETS	(1 << 16)
#define PERS_WAYS	4

struct pers {
	uint64_t	h1, h2;		/* identity */
	uint64_t	used;		/* clock of the last use; 0: empty */
	int64_t		us;		/* newest snapshot sent as $set */
};

static struct pers	*persons;
static uint64_t		 pers_clock;

/* 1 when a row of this time is the person's newest seen: its $set goes. */
static int
person_newest(const char *did, size_t n, int64_t us)
{
	uint64_t h1 = 0x84222325cbf29ce4ULL, h2 = 0x9e3779b97f4a7c15ULL;
	struct pers *set, *victim;
	size_t i;

	for (i = 0; i < n; i++) {
		h1 = (h1 ^ (unsigned char)did[i]) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)did[i]) * 0xff51afd7ed558ccdULL;
		h2 ^= h2 >> 29;
	}
	if (persons == NULL)
		persons = xcalloc((size_t)PERS_SETS * PERS_WAYS,
		    sizeof(*persons));
	set = &persons[(h1 >> 7 & (PERS_SETS - 1)) * PERS_WAYS];
	victim = set;
	for (i = 0; i < PERS_WAYS; i++) {
		if (set[i].used != 0 && set[i].h1 == h1 && set[i].h2 == h2) {
			set[i].used = ++pers_clock;
			if (us < set[i].us)
				return 0;
			set[i].us = us;
			return 1;
		}
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	victim->h1 = h1;
	victim->h2 = h2;
	victim->used = ++pers_clock;
	victim->us = us;
	return 1;
}

/* The browser (web rows: Amplitude's os_name) and the device type. */
static void
add_browser(struct obj *o, const struct amp *a, const char *browser,
    const char *devtype)
{
	if (a->web) {
		if (browser != NULL)
			obj_cstr(o, "$browser", browser);
		else
			obj_jv(o, "$browser", a->f[AF_OS_NAME]);
		obj_version_number(o, "$browser_version",
		    nonnull(a->f[AF_OS_VERSION]));
	}
	if (devtype != NULL)
		obj_cstr(o, "$device_type", devtype);
}

/* The row's snapshot: user properties, then device and location. */
static void
snapshot_props(struct obj *s, const struct amp *a, const char *os,
    const char *devtype, const char *browser, const struct geo *g)
{
	if (a->up != NULL)
		set_props(s, a->up);
	if (os != NULL)
		obj_cstr(s, "$os", os);
	if (a->mobile)
		obj_jv(s, "$os_version", a->f[AF_OS_VERSION]);
	add_browser(s, a, browser, devtype);
	if (a->mobile)
		obj_jv(s, "$app_version", a->f[AF_VERSION_NAME]);
	add_geo(s, g, 0);
}

/*
 * Person properties: $set (latest values) and $set_once ($initial_*).
 * A row older than a newer one of the same distinct_id already sent
 * (newest 0) sends its snapshot in $set_once instead, after the
 * $set_once keys proper, and no $unset: PostHog then keeps the newer
 * values and fills only the keys the person does not have, which is
 * what applying the rows in time order would have left for them.
 */
static void
add_person(struct obj *o, const struct amp *a, const char *os,
    const char *devtype, const char *browser, const struct geo *g,
    int newest)
{
	struct obj s;
	struct optobj oo;

	/* An event property of the same name was kept instead. */
	if (newest && opt_open(o, "$set", &oo, &s, &skeys)) {
		snapshot_props(&s, a, os, devtype, browser, g);
		opt_close(o, &oo, &s);
	}
	if (opt_open(o, "$set_once", &oo, &s, &skeys)) {
		if (a->up != NULL)
			set_once_props(&s, a->up);
		/*
		 * posthog-js sends $initial_host in $set_once (posthog-core.ts
		 * _calculate_set_once_properties, from getPersonPropsFromInfo);
		 * ingestion makes the other $initial_* of the page itself.  The
		 * same $set_once has the session's entry $host too (session-
		 * props.ts getSetOnceProps, PostHog/posthog-js commit
		 * 9b2a1b18db64): ingestion lifts no $host, so the person's $host
		 * comes from there alone.  The first event's host wins, as
		 * posthog-js's first $set_once does.
		 */
		if (a->web && a->hostlen > 0) {
			if (so_key(&s, "$initial_host", 13))
				jsonw_str(s.b, a->host, a->hostlen);
			if (so_key(&s, "$host", 5))
				jsonw_str(s.b, a->host, a->hostlen);
		}
		add_geo(&s, g, 1);
		if (!newest) {
			s.once = 1;
			snapshot_props(&s, a, os, devtype, browser, g);
		}
		opt_close(o, &oo, &s);
	}
	if (newest && a->up != NULL)
		add_unset(o, a->up);
}

/* The device, location and library properties of an event. */
static void
add_device(struct obj *o, const struct amp *a, const char *os,
    const char *devtype, const char *browser, const struct geo *g)
{
	const struct jval *v;

	if (os != NULL)
		obj_cstr(o, "$os", os);
	if (a->mobile) {
		if (os != NULL)
			obj_cstr(o, "$os_name", os);
		obj_jv(o, "$os_version", a->f[AF_OS_VERSION]);
		v = nonnull(a->f[AF_DEVICE_MANUFACTURER]);
		obj_jv(o, "$device_manufacturer", v ? v :
		    a->f[AF_DEVICE_BRAND]);
		obj_jv(o, "$device_model", a->f[AF_DEVICE_MODEL]);
		obj_jv(o, "$device_name", a->f[AF_DEVICE_TYPE]);
		obj_jv(o, "$app_version", a->f[AF_VERSION_NAME]);
		v = nonnull(a->f[AF_CARRIER]);
		obj_jv(o, "$network_carrier", v ? v : a->f[AF_DEVICE_CARRIER]);
	}
	add_browser(o, a, browser, devtype);
	add_geo(o, g, 0);
	obj_jv(o, "$ip", a->f[AF_IP_ADDRESS]);
	obj_raw(o, "$geoip_disable", "true");
	obj_cstr(o, "$lib", PHEVENT_LIB);
	obj_cstr(o, "$lib_version", AMP2PH_VERSION);
	obj_jv(o, "$amplitude_library", a->f[AF_LIBRARY]);
	obj_jv(o, "$device_id", a->f[AF_DEVICE_ID]);
}

/*
 * --pageleave: the $pageleave posthog-js sends when a page is left.
 * PostHog's web analytics reads the time on a page from the
 * $prev_pageview_duration of $pageview, $pageleave and $screen events,
 * by their $prev_pageview_pathname (PATH_BOUNCE_AND_AVG_TIME_QUERY in
 * posthog/hogql_queries/web_analytics/query_constants/stats_table_queries.py,
 * PostHog/posthog commit 0465d731ff13; stats_table.py
 * _scroll_prev_pathname_breakdown, commit 0011d5503e8b), and without
 * them has no time on page for migrated sessions.  posthog-js's page view
 * state lives in the page's memory (packages/browser/src/page-view.ts,
 * PostHog/posthog-js commit 9b2a1b18db64): a page load sends a $pageleave
 * of the page left at pagehide, a single-page application's navigation
 * has the previous page's duration on the next $pageview.  Amplitude
 * records neither: the next page view of the same session says when the
 * page was left.  The sessions table counts $pageleave in neither the
 * bounce (uniq $pageview, $autocapture, $screen) nor, at that time, the
 * duration (min and max timestamp), and takes the exit URL from page
 * views first (posthog/models/raw_sessions/sessions_v3.py, commit
 * 100e7ff21c1c), so those stay as they are.
 */
#define PV_MAX	8192	/* longer page URLs: their page gets no $pageleave */

/* A web $pageview's page, kept in its session until the next one. */
static void
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
static int
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
static void
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

#define LIT(s)	"" s, sizeof(s) - 1

/* An event's line up to its properties, in the key order every one has. */
static void
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
static void
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

/*
 * Convert one parsed Amplitude row into out.  Returns the number of
 * events written (2 with a $pageleave before the row's), 0 when a rule
 * dropped it, -1 with why set.
 */
static int
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

static void flush_out(int);

/* --shard K/N: 1 <= K <= N <= 4096. */
static void
parse_shard(const char *arg)
{
	char *end;
	unsigned long k, n;

	errno = 0;
	k = strtoul(arg, &end, 10);
	if (end == arg || *end != '/')
		goto bad;
	arg = end + 1;
	n = strtoul(arg, &end, 10);
	if (end == arg || *end != '\0' || errno != 0 || n < 1 || n > 4096 ||
	    k < 1 || k > n)
		goto bad;
	shard_k = k - 1;
	shard_n = n;
	return;
bad:
	errx(EXIT_USAGE, "--shard: expected K/N with 1 <= K <= N <= 4096, "
	    "like 2/4: %s", arg);
}

static void
reject(const char *file, uint64_t lineno, const char *why,
    const char *line, size_t len)
{
	/* Each rejected row once across the shards: in the first. */
	if (shard_n > 1 && shard_k != 0) {
		st.othershard++;
		return;
	}
	st.rejected++;
	rejects_warn(&rej, WARN_LIMIT, "rejected lines", file, lineno, "%s",
	    why);
	rejects_add(&rej, file, lineno, why, line, len, 0);
	if (strictflag) {
		warnx("stopping at the first rejected line (--strict)");
		flush_out(1);
		if (outfile_close(stdout, "stdout") == -1 ||
		    rejects_close(&rej) == -1)
			exit(EXIT_RUNTIME);
		exit(EXIT_DATAERR);
	}
}

static void
flush_out(int force)
{
	if (out.len >= (1 << 20) || (force && out.len > 0)) {
		outfile_write(stdout, out.p, out.len, "stdout");
		out.len = 0;
	}
}

/*
 * -j: the state this program carries from event to event (the sessions
 * and persons tables) saved beside the journal after a member now and
 * then, and loaded when amp-unpack -j skipped the members before: the
 * rest is then converted exactly as in one whole run (settle.h).  The
 * file is this build's own: a state of another version, or of other
 * options that change what is written, is refused.
 */
/*
 * When to save: after a member, once the input read since the last save
 * is STATE_RATIO times the last state's size (so saving costs a few per
 * cent of reading at most, and a re-run converts again little more than
 * what was in the pipes), or STATE_EVERY seconds went by (a slow run).
 */
#define STATE_EVERY	30.0
#define STATE_RATIO	16
#define STATE_ENV	"AMP2PH_STATE_EVERY"
#define STATE_KEEP	64	/* state files kept, at most */

static const char	*journal_path;
static struct buf	 optsig, member_key, member_at;
static uint64_t		 member_seq;
static char		 fprint[UUID_STRLEN + 1];
static int		 at_member_end;	/* the last line was a marker */
static double		 last_save;
static uint64_t		 state_bytes;	/* the size of the last state */
static uint64_t		 read_since;	/* input bytes since the last save */
static uint64_t		 state_next;	/* the number of the next state file */
static struct journal	*state_jdb;	/* to ask what is settled */

/*
 * The options that change what is written: --drop, --keep, --rename,
 * --max-line, --pageleave, --shard (collected as they are parsed) and
 * the jq program's text.
 */
static void
state_fingerprint(const char *program)
{
	if (program != NULL)
		buf_add(&optsig, program, strlen(program) + 1);
	uuid_v5(optsig.p != NULL ? optsig.p : "", optsig.len, fprint);
	fprint[UUID_STRLEN] = '\0';
}

static void
put(FILE *fp, const void *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, fp) != n)
		err(EXIT_RUNTIME, "%s-convert", journal_path);
}

static void __attribute__((noreturn))
damaged(const char *path)
{
	errx(EXIT_RUNTIME, "%s: cut short or damaged: remove it, and read "
	    "every member again (amp-unpack without -j)", path);
}

static void
get(FILE *fp, const char *path, void *p, size_t n)
{
	if (n > 0 && fread(p, 1, n, fp) != n)
		damaged(path);
}

/* A string of a slot, or NULL: its length, then its bytes. */
static void
put_str(FILE *fp, const void *p, uint32_t n)
{
	uint32_t m = p != NULL ? n : UINT32_MAX;

	put(fp, &m, sizeof(m));
	if (p != NULL)
		put(fp, p, n);
}

static void *
get_str(FILE *fp, const char *path)
{
	uint32_t m;
	char *p;

	get(fp, path, &m, sizeof(m));
	if (m == UINT32_MAX)
		return NULL;
	if (m > 64 * 1024 * 1024)
		damaged(path);
	p = xmalloc(m + 1);
	get(fp, path, p, m);
	p[m] = '\0';
	return p;
}

/* The member's key in a state's place (settle_at): the text before " #". */
static const char *
state_member(struct buf *at)
{
	char *h = strrchr(at->p, '#');

	if (h != NULL && h > at->p && h[-1] == ' ')
		h[-1] = '\0';
	return at->p;
}

/*
 * The states a re-run could start from: the newest whose member is
 * settled, and every newer one (their members may settle yet).  The
 * rest go, and beyond STATE_KEEP files the oldest of them too.
 */
static void
state_prune(void)
{
	struct buf key = { 0 };
	char err[512];
	uint64_t *ns;
	size_t n = settle_state_list(journal_path, &ns), keep = 0;

	if (state_jdb == NULL && access(journal_path, F_OK) == 0)
		state_jdb = journal_open(journal_path, 1, err, sizeof(err));
	for (size_t i = n; state_jdb != NULL && i-- > 0;) {
		key.len = 0;
		if (settle_state_at(journal_path, ns[i], &key) &&
		    journal_settled(state_jdb, state_member(&key)) == 1) {
			keep = i;
			break;
		}
	}
	if (n - keep > STATE_KEEP)
		keep = n - STATE_KEEP;
	for (size_t i = 0; i < keep; i++) {
		char *path = settle_state_path(journal_path, ns[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			warn("%s", path);
		free(path);
	}
	free(ns);
	buf_free(&key);
}

/* The state after the member of member_key, as the next state file. */
static void
state_save(void)
{
	char *path;
	struct buf tp = { 0 };
	uint64_t n = 0;
	FILE *fp;
	int fd;

	if (state_next == 0) {
		uint64_t *ns;
		size_t k = settle_state_list(journal_path, &ns);
		state_next = k > 0 ? ns[k - 1] + 1 : 1;
		free(ns);
	}
	path = settle_state_path(journal_path, state_next++);
	buf_printf(&tp, "%s.tmp", path);
	buf_addc(&tp, '\0');
	if ((fd = open(tp.p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL)
		err(EXIT_RUNTIME, "%s", tp.p);
	member_at.len = 0;
	settle_at(&member_at, member_key.p, member_seq);
	fprintf(fp, "%s\n%s\n%s\n%s\n", SETTLE_STATE_MAGIC, AMP2PH_VERSION,
	    fprint, member_at.p);
	put(fp, &sess_clock, sizeof(sess_clock));
	for (size_t i = 0; sessions != NULL && i < (size_t)SESS_SETS *
	    SESS_WAYS; i++)
		n += sessions[i].used != 0;
	put(fp, &n, sizeof(n));
	for (size_t i = 0; n > 0 && i < (size_t)SESS_SETS * SESS_WAYS; i++) {
		struct sess c = sessions[i];
		uint32_t at = i;

		if (c.used == 0)
			continue;
		put(fp, &at, sizeof(at));
		c.ref = c.dom = c.form = c.pv = NULL;
		c.camp = NULL;
		put(fp, &c, sizeof(c));
		put_str(fp, sessions[i].ref, sessions[i].reflen +
		    sessions[i].domlen);
		put_str(fp, sessions[i].camp, sessions[i].camp == NULL ? 0 :
		    sizeof(struct camp) + sessions[i].camp->off[NCAMP]);
		put_str(fp, sessions[i].form, sessions[i].formlen);
		put_str(fp, sessions[i].pv, sessions[i].pvurl +
		    sessions[i].pvpath + sessions[i].pvhost);
	}
	n = 0;
	for (size_t i = 0; persons != NULL && i < (size_t)PERS_SETS *
	    PERS_WAYS; i++)
		n += persons[i].used != 0;
	put(fp, &pers_clock, sizeof(pers_clock));
	put(fp, &n, sizeof(n));
	for (size_t i = 0; n > 0 && i < (size_t)PERS_SETS * PERS_WAYS; i++) {
		uint32_t at = i;

		if (persons[i].used == 0)
			continue;
		put(fp, &at, sizeof(at));
		put(fp, &persons[i], sizeof(persons[i]));
	}
	put(fp, "end\n", 4);
	state_bytes = ftello(fp);
	read_since = 0;
	/* Whole or not at all: written aside, made durable, renamed. */
	if (fflush(fp) == EOF || fsync(fd) == -1 || fclose(fp) == EOF)
		err(EXIT_RUNTIME, "%s", tp.p);
	if (rename(tp.p, path) == -1)
		err(EXIT_RUNTIME, "%s", path);
	last_save = monotime();
	buf_free(&tp);
	free(path);
	state_prune();
}

/* The state after the member key, from whichever state file has it. */
static void
state_load(const char *file, uint64_t lineno, const char *key)
{
	struct buf k = { 0 }, ver = { 0 }, fp_ = { 0 };
	char *path = NULL, end[4];
	FILE *fp = NULL;
	uint64_t n, *ns;
	size_t nst = settle_state_list(journal_path, &ns);

	/* The newest first: a member exported twice has two states. */
	for (size_t i = nst; i-- > 0 && fp == NULL;) {
		free(path);
		path = settle_state_path(journal_path, ns[i]);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (settle_state_header(fp, &k, &ver, &fp_) != 1 ||
		    strcmp(k.p, key) != 0) {
			fclose(fp);
			fp = NULL;
		}
	}
	free(ns);
	if (fp == NULL)
		errx(EXIT_RUNTIME, "%s:%llu: amp-unpack skipped the members "
		    "before this line, but no state file of %s names the last "
		    "of them: read every member (amp-unpack without -j)", file,
		    (unsigned long long)lineno, journal_path);
	if (strcmp(ver.p, AMP2PH_VERSION) != 0 || strcmp(fp_.p, fprint) != 0)
		errx(EXIT_USAGE, "%s: written by amp-convert %s%s: the members "
		    "amp-unpack skipped were converted so; give the same "
		    "options, or read every member (amp-unpack without -j)",
		    path, ver.p, strcmp(ver.p, AMP2PH_VERSION) != 0 ? "" :
		    " with other options (--drop, --keep, --rename, --jq, "
		    "--max-line, --pageleave or --shard)");
	get(fp, path, &sess_clock, sizeof(sess_clock));
	get(fp, path, &n, sizeof(n));
	if (n > 0 && sessions == NULL)
		sessions = xcalloc((size_t)SESS_SETS * SESS_WAYS,
		    sizeof(*sessions));
	for (uint64_t j = 0; j < n; j++) {
		struct sess *ss;
		uint32_t at;

		get(fp, path, &at, sizeof(at));
		if (at >= (size_t)SESS_SETS * SESS_WAYS)
			damaged(path);
		ss = &sessions[at];
		get(fp, path, ss, sizeof(*ss));
		ss->ref = get_str(fp, path);
		ss->camp = get_str(fp, path);
		ss->form = get_str(fp, path);
		ss->pv = get_str(fp, path);
	}
	get(fp, path, &pers_clock, sizeof(pers_clock));
	get(fp, path, &n, sizeof(n));
	if (n > 0 && persons == NULL)
		persons = xcalloc((size_t)PERS_SETS * PERS_WAYS,
		    sizeof(*persons));
	for (uint64_t j = 0; j < n; j++) {
		uint32_t at;

		get(fp, path, &at, sizeof(at));
		if (at >= (size_t)PERS_SETS * PERS_WAYS)
			damaged(path);
		get(fp, path, &persons[at], sizeof(persons[at]));
	}
	get(fp, path, end, sizeof(end));
	if (memcmp(end, "end\n", 4) != 0)
		damaged(path);
	fclose(fp);
	free(path);
	buf_free(&k);
	buf_free(&ver);
	buf_free(&fp_);
}

/*
 * A marker (settle.h), passed on in its place: a member's end, so that
 * ph-batch knows when a member's events are all in (in every shard:
 * each shard's journal settles its own part), and the state saved now
 * and then; or a resume marker, the state loaded.
 */
static void
marker(const char *file, uint64_t lineno, int kind, const char *line,
    size_t len)
{
	static double every = -1;
	const char *why;

	if (journal_path != NULL || kind == SETTLE_SKIPPED) {
		member_key.len = 0;
		if (settle_parse(line, len, &member_key, &member_seq, &why) == -1)
			errx(EXIT_DATAERR, "%s:%llu: %s", file,
			    (unsigned long long)lineno, why);
	}
	if (kind == SETTLE_SKIPPED) {
		if (journal_path == NULL)
			errx(EXIT_USAGE, "%s:%llu: amp-unpack -j skipped the "
			    "settled members before this line: give amp-convert "
			    "the same -j journal (its state is kept beside it)",
			    file, (unsigned long long)lineno);
		if (st.lines > 0)
			errx(EXIT_DATAERR, "%s:%llu: a resume marker after "
			    "events: not the output of one amp-unpack -j", file,
			    (unsigned long long)lineno);
		member_at.len = 0;
		settle_at(&member_at, member_key.p, member_seq);
		state_load(file, lineno, member_at.p);
		last_save = monotime();
	} else if (journal_path != NULL) {
		if (every < 0) {
			const char *e = getenv(STATE_ENV);
			every = e != NULL && *e != '\0' ? atof(e) : STATE_EVERY;
		}
		at_member_end = 1;
		if (read_since >= STATE_RATIO * state_bytes ||
		    monotime() - last_save >= every) {
			state_save();
			at_member_end = 2;	/* saved: not again at the end */
		}
	}
	buf_add(&out, line, len);
	buf_addc(&out, '\n');
	flush_out(0);
}

static void
do_line(const char *file, uint64_t lineno, const char *line, size_t len)
{
	char err[256];
	const char *why = NULL;
	struct jval *root;
	size_t mark = out.len;
	int r;

	/*
	 * amp-unpack -j's marker of a member's end (settle.h): passed on in
	 * its place, so ph-batch knows when a member's events are all in;
	 * in every shard, since each shard's journal settles its own part.
	 */
	if ((r = settle_is(line, len)) != SETTLE_NONE) {
		marker(file, lineno, r, line, len);
		return;
	}
	at_member_end = 0;
	read_since += len + 1;
	st.lines++;
	/* Blank lines (spaces, tabs, a CR) are not events. */
	if (amp_line_blank(line, len)) {
		st.blank++;
		return;
	}
	if ((root = json_parse(parser, line, len, err, sizeof(err))) == NULL) {
		if (last_nonl) {
			/* A killed stage before us, not a bad row. */
			stage_cut_note(file, lineno);
			st.lines--;
			cut = 1;
			return;
		}
		if (!utf8_valid(line, len))
			snprintf(err, sizeof(err), "invalid UTF-8");
		reject(file, lineno, err, line, len);
		return;
	}
	if ((r = convert(root, &why)) == -1) {
		out.len = mark;
		reject(file, lineno, why, line, len);
		return;
	}
	if (r == 0 && othershard) {
		othershard = 0;
		st.othershard++;
		return;
	}
	if (r == 0) {
		st.dropped++;
		return;
	}
	if (jq != NULL) {
		/*
		 * Run the program on each event just written (a $pageleave
		 * and the row's), in place; an error rejects the row, and
		 * none of its outputs are written.
		 */
		int n = 0, k;
		tmp.len = 0;
		buf_add(&tmp, out.p + mark, out.len - mark);
		out.len = mark;
		for (size_t at = 0; at < tmp.len;) {
			const char *nl = memchr(tmp.p + at, '\n', tmp.len - at);
			size_t evlen = nl - (tmp.p + at);
			if ((k = jqprog_run(jq, tmp.p + at, evlen, &out, err,
			    sizeof(err))) == -1) {
				out.len = mark;
				if (r > 1)
					pageleaves--;
				reject(file, lineno, err, line, len);
				return;
			}
			n += k;
			at += evlen + 1;
		}
		if (n == 0)
			st.dropped++;
		st.written += n;
	} else
		st.written += r;
	flush_out(0);
}

static int
do_file(const char *path)
{
	struct lines l;
	const char *p, *name;
	size_t len;
	int r;

	if (lines_open(&l, path, maxline, 0) == -1) {
		warn("%s", path);
		return -1;
	}
	name = l.name;
	while ((r = lines_next(&l, &p, &len)) != LINE_EOF) {
		if (r == LINE_ERROR) {
			warnx("%s: read error: %s", name, l.errmsg);
			break;
		}
		if (r == LINE_TOOLONG) {
			char why[128];
			snprintf(why, sizeof(why), "line of %zu bytes is "
			    "longer than --max-line %zu (first 1024 bytes "
			    "kept)", len, maxline);
			st.lines++;
			reject(name, l.lineno, why, p, len < LINES_HEAD ? len :
			    LINES_HEAD);
			continue;
		}
		if (l.lineno == 1) {
			const char *why = stage_first(SK_AMPLITUDE, name, &p,
			    &len, 1);

			if (why != NULL)
				errx(EXIT_DATAERR, "%s: %s", name, why);
		}
		last_nonl = l.nonl;
		do_line(name, l.lineno, p, len);
	}
	lines_close(&l);
	return r == LINE_ERROR ? -1 : 0;
}

static char *
read_file(const char *path)
{
	struct buf b = { 0 };
	char chunk[8192];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		err(EXIT_USAGE, "%s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(fp))
		err(EXIT_USAGE, "%s", path);
	fclose(fp);
	buf_addc(&b, '\0');
	return b.p;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "drop",	required_argument,	NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "journal",	required_argument,	NULL, 'j' },
		{ "jq",		required_argument,	NULL, 'Q' },
		{ "jq-file",	required_argument,	NULL, 'J' },
		{ "keep",	required_argument,	NULL, 'k' },
		{ "max-line",	required_argument,	NULL, 'M' },
		{ "pageleave",	no_argument,		NULL, 'P' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "rejects",	required_argument,	NULL, 'r' },
		{ "rename",	required_argument,	NULL, 'R' },
		{ "shard",	required_argument,	NULL, 'S' },
		{ "strict",	no_argument,		NULL, 's' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *program = NULL, *rejects_path = NULL;
	char *owned = NULL, err[512], shardtext[192] = "";
	uint64_t u;
	int ch, failed = 0;

	amp_rules_init(&rules);
	while ((ch = getopt_long(argc, argv, "hj:qs", longopts, NULL)) !=
	    -1) {
		/*
		 * One value each (--jq and --jq-file: one program); --drop,
		 * --keep and --rename add to a list.
		 */
		cli_once(longopts, ch, "rMSPj", "QJ");
		/* What the state's fingerprint holds: see state_fingerprint. */
		if (strchr("dkMPRS", ch) != NULL) {
			buf_addc(&optsig, ch);
			if (optarg != NULL)
				buf_add(&optsig, optarg, strlen(optarg) + 1);
		}
		switch (ch) {
		case 'd':
			amp_rules_drop(&rules, optarg);
			break;
		case 'j':
			journal_path = optarg;
			break;
		case 'Q':
			program = optarg;
			break;
		case 'S':
			parse_shard(optarg);
			break;
		case 'J':
			program = owned = read_file(optarg);
			break;
		case 'k':
			amp_rules_keep(&rules, optarg);
			break;
		case 'M':
			if (cli_u64(optarg, 1024, SIZE_MAX / 4, &u) == -1)
				errx(EXIT_USAGE, "--max-line: not a size of at "
				    "least 1024: %s", optarg);
			maxline = u;
			break;
		case 'P':
			pageleaveflag = 1;
			break;
		case 'q':
			quietflag = 1;
			break;
		case 'r':
			rejects_path = optarg;
			break;
		case 'R':
			if (amp_rules_rename(&rules, optarg) == -1)
				errx(EXIT_USAGE, "--rename: expected OLD=NEW, "
				    "got %s", optarg);
			break;
		case 's':
			strictflag = 1;
			break;
		case 'V':
			cli_version("amp-convert");
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	pipe_grow(STDIN_FILENO);
	pipe_grow(STDOUT_FILENO);

	if (program != NULL && (jq = jqprog_new(program, err,
	    sizeof(err))) == NULL)
		errx(EXIT_USAGE, "--jq: %s", err);
	if (journal_path != NULL)
		state_fingerprint(program);
	rejects_open(&rej, rejects_path);
	parser = json_parser_new();
	json_parser_borrow(parser);

	if (argc == 0)
		failed |= do_file("-") == -1;
	for (int i = 0; i < argc; i++)
		failed |= do_file(argv[i]) == -1;
	flush_out(1);
	/* The state after the last member, for a later run's new exports. */
	if (journal_path != NULL && at_member_end == 1 && !failed && !cut)
		state_save();

	if (shard_n > 1)
		snprintf(shardtext, sizeof(shardtext), "; %llu rows of the "
		    "other shards (--shard %u/%u)",
		    (unsigned long long)st.othershard, shard_k + 1, shard_n);
	if (pageleaveflag) {
		size_t sl = strlen(shardtext);
		snprintf(shardtext + sl, sizeof(shardtext) - sl, "; %llu "
		    "$pageleave events made (--pageleave)",
		    (unsigned long long)pageleaves);
	}
	if (!quietflag || st.rejected > 0)
		fprintf(stderr, "amp-convert: %llu lines, %llu events written, "
		    "%llu dropped by rule, %llu rejected%s%s%s%s\n",
		    (unsigned long long)st.lines,
		    (unsigned long long)st.written,
		    (unsigned long long)st.dropped,
		    (unsigned long long)st.rejected,
		    st.rejected && rej.path ? " (see " : "",
		    st.rejected && rej.path ? rej.path : "",
		    st.rejected && rej.path ? ")" : "", shardtext);
	jqprog_free(jq);
	amp_rules_free(&rules);
	json_parser_free(parser);
	free(owned);
	buf_free(&out);
	buf_free(&tmp);
	buf_free(&campbuf);
	buf_free(&campvals);
	buf_free(&formbuf);
	keyset_free(&pkeys);
	keyset_free(&skeys);
	sessions_free();
	free(persons);
	journal_close(state_jdb);
	if (rejects_close(&rej) == -1)
		failed = 1;
	if (outfile_close(stdout, "stdout") == -1 || failed || cut)
		return EXIT_RUNTIME;
	return st.rejected > 0 ? EXIT_DATAERR : 0;
}
