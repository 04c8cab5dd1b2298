/*
 * obj: writing the properties of an event, each key at most once.
 */
#include "convert.h"

const struct jval *
nonnull(const struct jval *v)
{
	return v != NULL && v->type != J_NULL ? v : NULL;
}

int
is_str(const struct jval *v)
{
	return v != NULL && v->type == J_STR && v->n > 0;
}

int
str_has(const struct jval *v, const char *needle)
{
	return is_str(v) && memmem(v->u.s, v->n, needle, strlen(needle)) !=
	    NULL;
}

void
obj_open(struct obj *o, struct buf *b, struct keyset *ks)
{
	o->b = b;
	o->ks = ks;
	o->first = 1;
	o->once = 0;
	keyset_clear(ks);
	buf_addc(b, '{');
}

int
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

void
obj_jv(struct obj *o, const char *k, const struct jval *v)
{
	if (v != NULL && v->type != J_NULL && obj_key(o, k, strlen(k)))
		json_write(o->b, v);
}

void
obj_str(struct obj *o, const char *k, const char *s, size_t n)
{
	if (obj_key(o, k, strlen(k)))
		jsonw_str(o->b, s, n);
}

void
obj_cstr(struct obj *o, const char *k, const char *s)
{
	obj_str(o, k, s, strlen(s));
}

void
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
void
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

/*
 * A key of $set_once: "$initial_x" and "initial_x" (Amplitude's
 * attribution name, written "$initial_x") are one key.  The set holds the
 * name without "$", whose bytes outlive the event.
 */
int
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
