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

void
jsonw_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;

	buf_grow(b, n + 2);
	b->p[b->len++] = '"';
	while (i < n) {
		/* Most strings need no escapes: skip 8 clean bytes at a time. */
		if (n - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (!has_special(w)) {
				i += 8;
				continue;
			}
		}
		unsigned char c = s[i];

		if (!needs_escape[c]) {
			i++;
			continue;
		}
		buf_add(b, s + run, i - run);
		run = ++i;
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
