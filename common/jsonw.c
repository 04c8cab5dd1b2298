/* jsonw: JSON string escaping and number printing. */
#include <stdio.h>
#include <string.h>

#include "jsonw.h"

/* 1 for bytes that must be escaped inside a JSON string. */
static const unsigned char needs_escape[256] = {
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
	0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
};

/* Nonzero if any of the 8 bytes of w is '"', '\\' or below 0x20. */
static inline uint64_t
has_special(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return ((q - ones) & ~q & high) | ((b - ones) & ~b & high) |
	    ((w - ones * 0x20) & ~w & high);
}

/*
 * 1 if none of s's n bytes needs escaping, looked at 8 bytes at a time:
 * the last 8 overlap the ones before rather than go byte by byte.
 */
static int
clean(const char *s, size_t n)
{
	uint64_t w;
	size_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			if (needs_escape[(unsigned char)s[i]])
				return 0;
		return 1;
	}
	for (i = 0; i + 8 < n; i += 8) {
		memcpy(&w, s + i, 8);
		if (has_special(w))
			return 0;
	}
	memcpy(&w, s + n - 8, 8);
	return !has_special(w);
}

void
jsonw_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run;

	/* Most strings are keys and values without a byte to escape. */
	if (b->cap - b->len < n + 3)
		buf_grow(b, n + 2);
	if (clean(s, n)) {
		char *d = b->p + b->len;
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		b->len += n + 2;
		return;
	}
	b->p[b->len++] = '"';
	for (i = run = 0; i < n; i++) {
		unsigned char c = s[i];

		if (!needs_escape[c])
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':  buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\b': buf_add(b, "\\b", 2); break;
		case '\f': buf_add(b, "\\f", 2); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4],
			    hex[c & 15] };
			buf_add(b, u, 6);
		}
		}
	}
	buf_add(b, s + run, n - run);
	buf_addc(b, '"');
}

void
jsonw_cstr(struct buf *b, const char *s)
{
	jsonw_str(b, s, strlen(s));
}

void
jsonw_u64(struct buf *b, uint64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);

	buf_add(b, t, n);
}

void
jsonw_i64(struct buf *b, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%lld", (long long)v);

	buf_add(b, t, n);
}

void
jsonw_key(struct buf *b, const char *k, int *first)
{
	if (!*first)
		buf_addc(b, ',');
	*first = 0;
	jsonw_cstr(b, k);
	buf_addc(b, ':');
}

void
jsonw_item(struct buf *b, size_t i, int *first)
{
	if (i > 0)
		buf_addc(b, ',');
	buf_addc(b, '{');
	*first = 1;
}
