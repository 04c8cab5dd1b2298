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
#include <unistd.h>

#include "ampevent.h"
#include "buf.h"
#include "cli.h"
#include "country.h"
#include "distinct.h"
#include "jqprog.h"
#include "json.h"
#include "jsonw.h"
#include "keyset.h"
#include "lines.h"
#include "outfile.h"
#include "rejects.h"
#include "timestamp.h"
#include "uuid.h"
#include "xalloc.h"

#define MAXLINE_DEFAULT	(16 * 1024 * 1024)
#define WARN_LIMIT	20	/* rejects named on stderr, then a count */
#define LIB_NAME	"amp2ph"

/*
 * [Amplitude] event properties that have a PostHog name.  The element
 * ones are consumed into $elements instead (see add_elements).
 */
static const struct rename {
	const char	*amp;
	const char	*ph;
} prop_renames[] = {
	{ "[Amplitude] Page Domain",		"$host" },
	{ "[Amplitude] Page Path",		"$pathname" },
	{ "[Amplitude] Page Title",		"title" },
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
};

static struct amp_rules	 rules;
static struct jqprog	*jq;
static struct rejects	 rej;
static struct stats	 st;
static int		 strictflag, quietflag;
static size_t		 maxline = MAXLINE_DEFAULT;
static struct buf	 out, tmp;
static struct keyset	 pkeys, skeys;
static struct json_parser *parser;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: amp-convert [-qs] [--drop event] [--keep event] "
	    "[--rename old=new]\n"
	    "                   [--jq program | --jq-file file] "
	    "[--rejects file] [--max-line bytes]\n"
	    "                   [file ...]\n");
	exit(EXIT_USAGE);
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
};

static void
obj_open(struct obj *o, struct buf *b, struct keyset *ks)
{
	o->b = b;
	o->ks = ks;
	o->first = 1;
	keyset_clear(ks);
	buf_addc(b, '{');
}

static int
obj_key(struct obj *o, const char *k, size_t n)
{
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

/* "137" -> 137, "17.1" -> 17.1: posthog-js sends $browser_version as a number. */
static void
obj_version_number(struct obj *o, const char *k, const struct jval *v)
{
	size_t i, dots = 0;

	if (!is_str(v))
		return obj_jv(o, k, v);
	for (i = 0; i < v->n; i++) {
		if (v->u.s[i] == '.')
			dots++;
		else if (v->u.s[i] < '0' || v->u.s[i] > '9')
			break;
	}
	if (i == v->n && dots <= 1 && v->u.s[0] != '.' &&
	    v->u.s[v->n - 1] != '.' && !(v->n > 1 && v->u.s[0] == '0' &&
	    v->u.s[1] != '.')) {
		if (obj_key(o, k, strlen(k)))
			buf_add(o->b, v->u.s, v->n);
	} else
		obj_jv(o, k, v);
}

struct amp {
	const struct jval	*f[AF_NFIELDS];
	const struct jval	*ep;	/* event_properties, an object or NULL */
	const struct jval	*up;	/* user_properties, an object or NULL */
	int			 web, mobile;
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

/* Campaign parameters of the page URL, as posthog-js registers them. */
static void
add_campaign(struct obj *o, const struct jval *url)
{
	const char *s, *e, *q;

	if (!is_str(url) || (q = memchr(url->u.s, '?', url->n)) == NULL)
		return;
	e = url->u.s + url->n;
	const char *hash = memchr(q, '#', e - q);
	if (hash != NULL)
		e = hash;
	for (s = q + 1; s < e;) {
		const char *amp = memchr(s, '&', e - s), *end = amp ? amp : e;
		const char *eq = memchr(s, '=', end - s);
		size_t klen = eq ? (size_t)(eq - s) : (size_t)(end - s);

		for (int i = 0; campaign_keys[i] != NULL; i++) {
			if (strlen(campaign_keys[i]) != klen ||
			    memcmp(campaign_keys[i], s, klen) != 0 || eq == NULL)
				continue;
			tmp.len = 0;
			for (const char *c = eq + 1; c < end; c++) {
				int h, l;
				if (*c == '+')
					buf_addc(&tmp, ' ');
				else if (*c == '%' && end - c > 2 &&
				    (h = hexdig(c[1])) >= 0 &&
				    (l = hexdig(c[2])) >= 0) {
					buf_addc(&tmp, h << 4 | l);
					c += 2;
				} else
					buf_addc(&tmp, *c);
			}
			/* Percent-decoding may produce bad UTF-8: keep raw. */
			if (utf8_valid(tmp.p, tmp.len))
				obj_str(o, campaign_keys[i], tmp.p, tmp.len);
			else
				obj_str(o, campaign_keys[i], eq + 1, end - eq - 1);
		}
		s = end + 1;
	}
}

/* Amplitude's 0-based sibling index as posthog-js's 1-based one. */
static int64_t
one_based(const struct jval *v)
{
	long long n = strtoll(v->u.s, NULL, 10);

	return n < 0 || n >= INT64_MAX ? 0 : n + 1;
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
	if (is_str(tag))
		obj_jv(&o, "tag_name", tag);
	if (target && (v = json_get(a->ep, "[Amplitude] Element Text")) &&
	    is_str(v))
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
	href = target ? json_get(a->ep, "[Amplitude] Element Href") : NULL;
	if (is_str(href))
		obj_jv(&o, "attr__href", href);
	/* Amplitude's HierarchyNode calls them attrs; older: attributes. */
	if ((attrs = json_get(node, "attrs")) == NULL)
		attrs = json_get(node, "attributes");
	if (attrs != NULL && attrs->type == J_OBJ)
		for (uint32_t i = 0; i < attrs->n; i++) {
			const struct jval *k = JKEY(attrs, i);
			/*
			 * id and class are written above, and href when the
			 * event named it.  Attribute names have their own set:
			 * they are written with the attr__ prefix.
			 */
			if (json_is_lit(k, "id") || json_is_lit(k, "class") ||
			    (json_is_lit(k, "href") && is_str(href)) ||
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
	if (h != NULL && h->type == J_ARR && h->n > 0) {
		for (uint32_t i = 0; i < h->n; i++) {
			const struct jval *node = &h->u.kids[i];
			if (node->type != J_OBJ ||
			    json_is_lit(json_get(node, "tag"), "html"))
				continue;
			if (n++)
				buf_addc(o->b, ',');
			element_item(o->b, node, i == 0, a);
		}
	} else if (is_str(tag)) {
		/* Only the target is known: make a one-node hierarchy. */
		struct obj e;
		struct keyset ks = { 0 };
		obj_open(&e, o->b, &ks);
		obj_jv(&e, "tag_name", tag);
		if ((v = json_get(a->ep, "[Amplitude] Element Text")) &&
		    is_str(v))
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
consumed_by_elements(const char *k, size_t n)
{
	static const char *const names[] = {
		"[Amplitude] Element Tag", "[Amplitude] Element Text",
		"[Amplitude] Element ID", "[Amplitude] Element Class",
		"[Amplitude] Element Href", "[Amplitude] Element Hierarchy",
		NULL
	};

	for (int i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
			return 1;
	return 0;
}

/* Event properties, renamed where PostHog has a name for them. */
static void
add_event_properties(struct obj *o, const struct amp *a, int autocapture)
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
		if (autocapture && consumed_by_elements(name, n))
			continue;
		if (json_is_lit(k, "[Amplitude] Page Location")) {
			obj_jv(o, "$current_url", v);
			continue;
		}
		if (json_is_lit(k, "[Amplitude] Page URL") &&
		    nonnull(json_get(ep, "[Amplitude] Page Location")) ==
		    NULL) {
			obj_jv(o, "$current_url", v);
			continue;
		}
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

static int
is_initial(const struct jval *k)
{
	return k->n > 8 && memcmp(k->u.s, "initial_", 8) == 0;
}

/* $geoip_country_code: what PostHog's world map and sessions read. */
static void
add_country_code(struct obj *o, const struct jval *country)
{
	const char *code;

	if (is_str(country) && (code = country_code(country->u.s,
	    country->n)) != NULL)
		obj_cstr(o, "$geoip_country_code", code);
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

/* initial_* as $initial_* (EMPTY skipped), and $setOnce flattened. */
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
				    !obj_key(s, kk->u.s, kk->n))
					continue;
				json_write(s->b, vv);
			}
			continue;
		}
		if (!is_initial(k) || v->type == J_NULL || json_is_lit(v, "EMPTY"))
			continue;
		/* The set holds the bare name: the key bytes must outlive tmp. */
		if (!keyset_add(s->ks, k->u.s, k->n))
			continue;
		if (!s->first)
			buf_addc(s->b, ',');
		s->first = 0;
		tmp.len = 0;
		buf_addc(&tmp, '$');
		buf_add(&tmp, k->u.s, k->n);
		jsonw_str(s->b, tmp.p, tmp.len);
		buf_addc(s->b, ':');
		json_write(s->b, v);
	}
}

/* Person properties: $set (latest values) and $set_once ($initial_*). */
static void
add_person(struct obj *o, const struct amp *a, const char *os,
    const char *devtype)
{
	struct obj s;

	/* An event property of the same name was kept instead. */
	if (!obj_key(o, "$set", 4))
		goto set_once;
	obj_open(&s, o->b, &skeys);
	if (a->up != NULL)
		set_props(&s, a->up);
	if (os != NULL)
		obj_cstr(&s, "$os", os);
	if (a->mobile)
		obj_jv(&s, "$os_version", a->f[AF_OS_VERSION]);
	if (a->web) {
		obj_jv(&s, "$browser", a->f[AF_OS_NAME]);
		obj_version_number(&s, "$browser_version",
		    nonnull(a->f[AF_OS_VERSION]));
	}
	if (devtype != NULL)
		obj_cstr(&s, "$device_type", devtype);
	if (a->mobile)
		obj_jv(&s, "$app_version", a->f[AF_VERSION_NAME]);
	obj_jv(&s, "$geoip_country_name", a->f[AF_COUNTRY]);
	add_country_code(&s, a->f[AF_COUNTRY]);
	obj_jv(&s, "$geoip_city_name", a->f[AF_CITY]);
	obj_jv(&s, "$geoip_subdivision_1_name", a->f[AF_REGION]);
	buf_addc(o->b, '}');
set_once:
	if (!obj_key(o, "$set_once", 9))
		return;
	obj_open(&s, o->b, &skeys);
	if (a->up != NULL)
		set_once_props(&s, a->up);
	buf_addc(o->b, '}');
}

/*
 * Convert one parsed Amplitude row into out.  Returns 1 when an event
 * was written, 0 when a rule dropped it, -1 with why set.
 */
static int
convert(const struct jval *root, const char **why)
{
	struct amp a;
	struct amp_event e;
	struct amp_name m;
	int r;
	const struct jval *v, *gtype = NULL, *gkey = NULL;
	const char *did, *os, *devtype;
	size_t didlen;
	char uuid[UUID_STRLEN + 1], ts[TS_STRLEN + 1];
	struct obj o;

	if ((r = amp_event_read(&rules, root, &e, why)) != AMP_EVENT)
		return r;	/* AMP_REJECT -1, AMP_DROP 0: convert's own codes */
	memset(&a, 0, sizeof(a));
	memcpy(a.f, e.row.f, sizeof(a.f));
	a.ep = e.row.ep;
	a.up = e.row.up;
	m = e.name;
	ts_format(e.us, ts);
	did = e.did;
	didlen = e.didlen;
	memcpy(uuid, e.uuid, sizeof(uuid));

	a.web = json_is_lit(a.f[AF_PLATFORM], "Web");
	a.mobile = json_is_lit(a.f[AF_PLATFORM], "iOS") ||
	    json_is_lit(a.f[AF_PLATFORM], "Android") ||
	    json_is_lit(a.f[AF_OS_NAME], "ios") || json_is_lit(a.f[AF_OS_NAME], "android");
	if (!a.web && !a.mobile && a.ep != NULL &&
	    json_get(a.ep, "[Amplitude] Page URL") != NULL)
		a.web = 1;
	os_fields(&a, &os, &devtype);

	buf_add(&out, "{\"event\":", 9);
	jsonw_str(&out, m.event, m.event_len);
	buf_add(&out, ",\"distinct_id\":", 15);
	if (m.group_event) {
		tmp.len = 0;
		if (first_group(a.f[AF_GROUPS], &gtype, &gkey)) {
			/* posthog-js: "$<type>_<key>" */
			buf_addc(&tmp, '$');
			buf_add(&tmp, gtype->u.s, gtype->n);
			buf_addc(&tmp, '_');
			buf_add(&tmp, gkey->u.s, gkey->n);
			jsonw_str(&out, tmp.p, tmp.len);
		} else
			jsonw_str(&out, did, didlen);
	} else
		jsonw_str(&out, did, didlen);
	buf_add(&out, ",\"timestamp\":\"", 14);
	buf_add(&out, ts, TS_STRLEN);
	buf_add(&out, "\",\"uuid\":\"", 10);
	buf_add(&out, uuid, UUID_STRLEN);
	buf_add(&out, "\",\"properties\":", 15);

	obj_open(&o, &out, &pkeys);
	if (m.group_event && gtype != NULL) {
		obj_jv(&o, "$group_type", gtype);
		obj_key(&o, "$group_key", 10);
		jsonw_str(o.b, gkey->u.s, gkey->n);
		const struct jval *gp = a.f[AF_GROUP_PROPERTIES], *set = NULL;
		if (gp != NULL && gp->type == J_OBJ) {
			tmp.len = 0;
			buf_add(&tmp, gtype->u.s, gtype->n);
			buf_addc(&tmp, '\0');
			set = json_get(gp, tmp.p);
			if (set == NULL || set->type != J_OBJ)
				set = gp;
			/* Amplitude's groupIdentify form: {"$set": {...}} */
			const struct jval *inner = json_get(set, "$set");
			if (inner != NULL && inner->type == J_OBJ)
				set = inner;
		}
		obj_jv(&o, "$group_set", set);
	}
	add_event_properties(&o, &a, m.autocapture);
	if (m.autocapture) {
		obj_cstr(&o, "$event_type", m.event_type);
		add_elements(&o, &a);
		if ((v = json_get(a.ep, "[Amplitude] Element Text")) &&
		    is_str(v))
			obj_jv(&o, "$el_text", v);
	}
	if (a.web && a.ep != NULL) {
		const char *p;
		size_t n;
		const struct jval *loc = json_get(a.ep,
		    "[Amplitude] Page Location");
		if (url_path(json_get(a.ep,
		    "[Amplitude] Previous Page Location"), &p, &n))
			obj_str(&o, "$prev_pageview_pathname", p, n);
		add_campaign(&o, loc ? loc : json_get(a.ep,
		    "[Amplitude] Page URL"));
	}

	if (os != NULL)
		obj_cstr(&o, "$os", os);
	if (a.mobile) {
		if (os != NULL)
			obj_cstr(&o, "$os_name", os);
		obj_jv(&o, "$os_version", a.f[AF_OS_VERSION]);
		v = nonnull(a.f[AF_DEVICE_MANUFACTURER]);
		obj_jv(&o, "$device_manufacturer", v ? v :
		    a.f[AF_DEVICE_BRAND]);
		obj_jv(&o, "$device_model", a.f[AF_DEVICE_MODEL]);
		obj_jv(&o, "$device_name", a.f[AF_DEVICE_TYPE]);
		obj_jv(&o, "$app_version", a.f[AF_VERSION_NAME]);
		v = nonnull(a.f[AF_CARRIER]);
		obj_jv(&o, "$network_carrier", v ? v : a.f[AF_DEVICE_CARRIER]);
	}
	if (a.web) {
		obj_jv(&o, "$browser", a.f[AF_OS_NAME]);
		obj_version_number(&o, "$browser_version",
		    nonnull(a.f[AF_OS_VERSION]));
	}
	if (devtype != NULL)
		obj_cstr(&o, "$device_type", devtype);
	obj_jv(&o, "$geoip_country_name", a.f[AF_COUNTRY]);
	add_country_code(&o, a.f[AF_COUNTRY]);
	obj_jv(&o, "$geoip_city_name", a.f[AF_CITY]);
	obj_jv(&o, "$geoip_subdivision_1_name", a.f[AF_REGION]);
	obj_jv(&o, "$geoip_latitude", a.f[AF_LOCATION_LAT]);
	obj_jv(&o, "$geoip_longitude", a.f[AF_LOCATION_LNG]);
	obj_jv(&o, "$ip", a.f[AF_IP_ADDRESS]);
	obj_raw(&o, "$geoip_disable", "true");
	obj_cstr(&o, "$lib", LIB_NAME);
	obj_cstr(&o, "$lib_version", AMP2PH_VERSION);
	obj_jv(&o, "$amplitude_library", a.f[AF_LIBRARY]);
	obj_jv(&o, "$device_id", a.f[AF_DEVICE_ID]);

	v = a.f[AF_SESSION_ID];
	if (v != NULL && v->type == J_NUM && v->u.s[0] != '-' &&
	    strtoll(v->u.s, NULL, 10) > 0) {
		char sid[UUID_STRLEN + 1];
		const struct jval *d = nonnull(a.f[AF_DEVICE_ID]);
		tmp.len = 0;
		buf_adds(&tmp, "amplitude-session\x1f");
		if (d == NULL)
			d = nonnull(a.f[AF_USER_ID]);
		if (d == NULL)
			d = nonnull(a.f[AF_AMPLITUDE_ID]);
		if (d != NULL && (d->type == J_STR || d->type == J_NUM))
			buf_add(&tmp, d->u.s, d->n);
		buf_addc(&tmp, '\x1f');
		buf_add(&tmp, v->u.s, v->n);
		uuid_v7_at(strtoull(v->u.s, NULL, 10), tmp.p, tmp.len, sid);
		obj_str(&o, "$session_id", sid, UUID_STRLEN);
	}
	if (!m.group_event)
		add_groups(&o, a.f[AF_GROUPS]);
	obj_jv(&o, "$amplitude_user_id", a.f[AF_USER_ID]);
	obj_jv(&o, "$amplitude_device_id", a.f[AF_DEVICE_ID]);
	obj_jv(&o, "$amplitude_id", a.f[AF_AMPLITUDE_ID]);
	obj_jv(&o, "$amplitude_event_id", a.f[AF_EVENT_ID]);
	obj_jv(&o, "$amplitude_session_id", a.f[AF_SESSION_ID]);
	obj_jv(&o, "$insert_id", a.f[AF_INSERT_ID]);
	if (!m.group_event)
		add_person(&o, &a, os, devtype);
	buf_add(&out, "}}\n", 3);
	return 1;
}

static void flush_out(int);

static void
reject(const char *file, uint64_t lineno, const char *why,
    const char *line, size_t len)
{
	st.rejected++;
	if (st.rejected <= WARN_LIMIT)
		warnx("%s:%llu: %s", file, (unsigned long long)lineno, why);
	else if (st.rejected == WARN_LIMIT + 1)
		warnx("further rejected lines are not named here%s%s",
		    rej.path ? "; see " : "", rej.path ? rej.path : "");
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

static void
do_line(const char *file, uint64_t lineno, const char *line, size_t len)
{
	char err[256];
	const char *why = NULL;
	struct jval *root;
	size_t mark = out.len;
	int r;

	st.lines++;
	/* Blank lines (spaces, tabs, a CR) are not events. */
	if (amp_line_blank(line, len)) {
		st.blank++;
		return;
	}
	if ((root = json_parse(parser, line, len, err, sizeof(err))) == NULL) {
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
	if (r == 0) {
		st.dropped++;
		return;
	}
	if (jq != NULL) {
		/* Run the program on the event just written, in place. */
		size_t evlen = out.len - mark - 1;
		tmp.len = 0;
		buf_add(&tmp, out.p + mark, evlen);
		out.len = mark;
		if ((r = jqprog_run(jq, tmp.p, tmp.len, &out, err,
		    sizeof(err))) == -1) {
			reject(file, lineno, err, line, len);
			return;
		}
		if (r == 0)
			st.dropped++;
		st.written += r;
	} else
		st.written++;
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
		{ "jq",		required_argument,	NULL, 'j' },
		{ "jq-file",	required_argument,	NULL, 'J' },
		{ "keep",	required_argument,	NULL, 'k' },
		{ "max-line",	required_argument,	NULL, 'M' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "rejects",	required_argument,	NULL, 'r' },
		{ "rename",	required_argument,	NULL, 'R' },
		{ "strict",	no_argument,		NULL, 's' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *program = NULL, *rejects_path = NULL;
	char *owned = NULL, err[512];
	uint64_t u;
	int ch, failed = 0;

	amp_rules_init(&rules);
	while ((ch = getopt_long(argc, argv, "hqs", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			amp_rules_drop(&rules, optarg);
			break;
		case 'j':
			program = optarg;
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
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	pipe_grow(STDIN_FILENO);
	pipe_grow(STDOUT_FILENO);

	if (program != NULL && (jq = jqprog_new(program, err,
	    sizeof(err))) == NULL)
		errx(EXIT_USAGE, "--jq: %s", err);
	rejects_open(&rej, rejects_path);
	parser = json_parser_new();
	json_parser_borrow(parser);

	if (argc == 0)
		failed |= do_file("-") == -1;
	for (int i = 0; i < argc; i++)
		failed |= do_file(argv[i]) == -1;
	flush_out(1);

	if (!quietflag || st.rejected > 0)
		fprintf(stderr, "amp-convert: %llu lines, %llu events written, "
		    "%llu dropped by rule, %llu rejected%s%s%s\n",
		    (unsigned long long)st.lines,
		    (unsigned long long)st.written,
		    (unsigned long long)st.dropped,
		    (unsigned long long)st.rejected,
		    st.rejected && rej.path ? " (see " : "",
		    st.rejected && rej.path ? rej.path : "",
		    st.rejected && rej.path ? ")" : "");
	jqprog_free(jq);
	amp_rules_free(&rules);
	json_parser_free(parser);
	free(owned);
	buf_free(&out);
	buf_free(&tmp);
	keyset_free(&pkeys);
	keyset_free(&skeys);
	if (rejects_close(&rej) == -1)
		failed = 1;
	if (outfile_close(stdout, "stdout") == -1 || failed)
		return EXIT_RUNTIME;
	return st.rejected > 0 ? EXIT_DATAERR : 0;
}
