/* Unit checks of common/jsonw: RFC 8259 escaping, numbers, keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "tap.h"

/* The escaping jsonw promises, one byte at a time, for comparison. */
static void
reference(struct buf *b, const char *s, size_t n)
{
	buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '"':  buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		case '\b': buf_adds(b, "\\b"); break;
		case '\f': buf_adds(b, "\\f"); break;
		default:
			if (c < 0x20)
				buf_printf(b, "\\u%04x", c);
			else
				buf_addc(b, c);
		}
	}
	buf_addc(b, '"');
}

static void
str(const char *s, size_t n, const char *want, const char *what)
{
	struct buf b = { 0 };

	buf_adds(&b, "x");
	jsonw_str(&b, s, n);
	buf_addc(&b, '\0');
	ok_str(b.p + 1, want, what);
	buf_free(&b);
}

#define STR(s, want, what)	str(s, sizeof(s) - 1, want, what)

static void
num(int is_signed, int64_t i, uint64_t u, const char *want)
{
	struct buf b = { 0 };

	if (is_signed)
		jsonw_i64(&b, i);
	else
		jsonw_u64(&b, u);
	buf_addc(&b, '\0');
	ok_str(b.p, want, want);
	buf_free(&b);
}

int
main(void)
{
	STR("", "\"\"", "the empty string");
	STR("abc", "\"abc\"", "plain text");
	STR("say \"hi\"", "\"say \\\"hi\\\"\"", "quotes");
	STR("a\\b", "\"a\\\\b\"", "a backslash");
	STR("a/b", "\"a/b\"", "a slash is not escaped");
	STR("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"", "the short escapes");
	STR("\x01\x1f", "\"\\u0001\\u001f\"", "other control bytes as \\u00XX");
	STR("a\0b", "\"a\\u0000b\"", "an embedded NUL");
	STR("\x7f", "\"\x7f\"", "DEL passes");
	STR("caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"",
	    "UTF-8 passes through");
	STR("\xff\xfe", "\"\xff\xfe\"", "other bytes pass through too");
	STR("0123456789abcdef\"0123456789abcdef",
	    "\"0123456789abcdef\\\"0123456789abcdef\"",
	    "a quote between 8-byte words");
	STR("\xe9\xe9\xe9\xe9\xe9\xe9\xe9\x1f", "\"\xe9\xe9\xe9\xe9\xe9\xe9\xe9\\u001f\"",
	    "a control byte after high bytes, in one word");
	STR("\x9f\xa0\xbf\xdc\xa2\xdc\xdc\x22", "\"\x9f\xa0\xbf\xdc\xa2\xdc\xdc\\\"\"",
	    "a quote after high bytes, in one word");

	/* A special byte at every offset of strings around the word size. */
	{
		static const char special[] = "\"\\\n\x01\x1f\0";
		int bad = 0;
		for (size_t len = 1; len <= 24; len++)
			for (size_t at = 0; at < len; at++)
				for (size_t k = 0; k < sizeof(special); k++) {
					char s[24];
					struct buf g = { 0 }, w = { 0 };
					memset(s, 'a', len);
					s[at] = special[k];
					jsonw_str(&g, s, len);
					reference(&w, s, len);
					if (g.len != w.len ||
					    memcmp(g.p, w.p, g.len) != 0)
						bad++;
					buf_free(&g);
					buf_free(&w);
				}
		ok(bad == 0, "one special byte anywhere in 1..24 bytes (%d wrong)",
		    bad);
	}
	/* Random bytes, against the byte-at-a-time reference. */
	{
		int bad = 0;
		srand(7);
		for (int i = 0; i < 20000; i++) {
			char s[40];
			size_t n = rand() % sizeof(s);
			struct buf g = { 0 }, w = { 0 };
			for (size_t k = 0; k < n; k++) {
				int r = rand() % 8;
				s[k] = r == 0 ? rand() % 0x20 : r == 1 ? '"' :
				    r == 2 ? '\\' : r == 3 ? 0x80 + rand() % 0x80 :
				    0x20 + rand() % 0x60;
			}
			jsonw_str(&g, s, n);
			reference(&w, s, n);
			if (g.len != w.len || memcmp(g.p, w.p, g.len) != 0)
				bad++;
			buf_free(&g);
			buf_free(&w);
		}
		ok(bad == 0, "random strings escape as the reference does "
		    "(%d wrong)", bad);
	}
	{
		struct buf b = { 0 };
		jsonw_cstr(&b, "c\"str");
		buf_addc(&b, '\0');
		ok_str(b.p, "\"c\\\"str\"", "jsonw_cstr");
		buf_free(&b);
	}

	num(0, 0, 0, "0");
	num(0, 0, 42, "42");
	num(0, 0, UINT64_MAX, "18446744073709551615");
	num(1, 0, 0, "0");
	num(1, -1, 0, "-1");
	num(1, INT64_MAX, 0, "9223372036854775807");
	num(1, INT64_MIN, 0, "-9223372036854775808");

	{
		struct buf b = { 0 };
		int first = 1;
		buf_addc(&b, '{');
		jsonw_key(&b, "a", &first);
		ok(first == 0, "jsonw_key clears first");
		jsonw_u64(&b, 1);
		jsonw_key(&b, "b\"c", &first);
		jsonw_i64(&b, -2);
		jsonw_key(&b, "", &first);
		jsonw_cstr(&b, "");
		buf_adds(&b, "}");
		buf_addc(&b, '\0');
		ok_str(b.p, "{\"a\":1,\"b\\\"c\":-2,\"\":\"\"}",
		    "jsonw_key: separators and escaped keys");
		buf_free(&b);
	}
	{
		/* A long string grows the buffer from empty. */
		size_t n = 100000;
		char *s = malloc(n);
		struct buf b = { 0 };
		memset(s, 'x', n);
		s[n / 2] = '\n';
		jsonw_str(&b, s, n);
		ok(b.len == n + 3 && b.p[0] == '"' && b.p[b.len - 1] == '"' &&
		    memcmp(b.p + 1 + n / 2, "\\n", 2) == 0,
		    "a 100 kB string with one escape");
		buf_free(&b);
		free(s);
	}
	return tap_done();
}
