/*
 * elements: autocapture, the $elements chain of a click or a form, and
 * the link parameters of a URL.
 */
#include "convert.h"

int
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
void
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
void
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
void
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

struct buf	formbuf;

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
void
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

int
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
void
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
