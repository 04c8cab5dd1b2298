/* Unit checks of common/utf8: strict validation and U+FFFD cleaning. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"
#include "tap.h"

#define FFFD	"\xef\xbf\xbd"

static void
valid(const char *s, size_t n, const char *what)
{
	ok(utf8_valid(s, n) == 1, "valid: %s", what);
}

static void
invalid(const char *s, size_t n, const char *what)
{
	ok(utf8_valid(s, n) == 0, "invalid: %s", what);
}

#define V(s, what)	valid(s, sizeof(s) - 1, what)
#define I(s, what)	invalid(s, sizeof(s) - 1, what)

static void
cleans(const char *s, size_t n, const char *want, size_t wn,
    const char *what)
{
	struct buf b = { 0 };

	buf_adds(&b, "<");
	utf8_clean(&b, s, n);
	ok(b.len == wn + 1 && memcmp(b.p + 1, want, wn) == 0 &&
	    utf8_valid(b.p, b.len), "utf8_clean: %s", what);
	buf_free(&b);
}

#define C(s, w, what)	cleans(s, sizeof(s) - 1, w, sizeof(w) - 1, what)

int
main(void)
{
	V("", "the empty string");
	V("plain ASCII", "ASCII");
	V("a\0b", "an embedded NUL (JSON can escape it)");
	V("\x7f", "DEL");
	V("\xc2\x80", "U+0080, the first 2-byte");
	V("caf\xc3\xa9", "e acute");
	V("\xdf\xbf", "U+07FF, the last 2-byte");
	V("\xe0\xa0\x80", "U+0800, the first 3-byte");
	V("\xe2\x82\xac", "the euro sign");
	V("\xed\x9f\xbf", "U+D7FF, below the surrogates");
	V("\xee\x80\x80", "U+E000, above the surrogates");
	V("\xef\xbf\xbd", "U+FFFD");
	V("\xef\xbf\xbf", "U+FFFF (a noncharacter, still UTF-8)");
	V("\xf0\x90\x80\x80", "U+10000, the first 4-byte");
	V("\xf0\x9f\x98\x80", "an emoji");
	V("\xf4\x8f\xbf\xbf", "U+10FFFF, the last code point");
	V("0123456789abcdef\xe2\x82\xac" "0123456789abcdef",
	    "a 3-byte sequence between ASCII runs");
	V("0123456\xe2\x82\xac", "a sequence across an 8-byte word");

	I("\x80", "a lone continuation byte");
	I("\xbf", "another continuation byte");
	I("a\x80" "b", "a continuation byte between letters");
	I("\xc0\x80", "overlong NUL (C0 80)");
	I("\xc1\xbf", "overlong 2-byte (C1 BF)");
	I("\xe0\x80\x80", "overlong 3-byte NUL");
	I("\xe0\x9f\xbf", "overlong U+07FF");
	I("\xf0\x80\x80\x80", "overlong 4-byte NUL");
	I("\xf0\x8f\xbf\xbf", "overlong U+FFFF");
	I("\xed\xa0\x80", "surrogate U+D800");
	I("\xed\xbf\xbf", "surrogate U+DFFF");
	I("\xed\xa0\xbd\xed\xb8\x80", "a CESU-8 surrogate pair");
	I("\xf4\x90\x80\x80", "U+110000");
	I("\xf5\x80\x80\x80", "an F5 lead byte");
	I("\xf8\x88\x80\x80\x80", "a 5-byte form");
	I("\xfc\x84\x80\x80\x80\x80", "a 6-byte form");
	I("\xfe", "FE");
	I("\xff", "FF");
	I("\xc3", "a 2-byte sequence cut at the end");
	I("\xe2\x82", "a 3-byte sequence cut at the end");
	I("\xf0\x9f\x98", "a 4-byte sequence cut at the end");
	I("\xe2\x82" "A", "a 3-byte sequence cut by ASCII");
	I("\xc3\xc3\xa9", "a lead byte then a sequence");
	I("0123456789abcdef\x80", "an invalid byte after 16 ASCII bytes");
	I("0123456\x80" "89abcdef", "an invalid byte ending an 8-byte word");
	I("01234567\xff", "an invalid byte after one 8-byte word");
	{
		/* Only n bytes count: a valid prefix of an invalid string. */
		ok(utf8_valid("abc\xff", 3) == 1, "reads only n bytes");
		ok(utf8_valid("\xe2\x82\xac", 2) == 0,
		    "a sequence cut by n is invalid");
	}
	{
		/* Every 2-byte lead with every second byte: only C2..DF + 80..BF. */
		int bad = 0;
		for (int a = 0x80; a < 0x100; a++)
			for (int c = 0; c < 0x100; c++) {
				char s[2] = { (char)a, (char)c };
				int want = a >= 0xc2 && a <= 0xdf && c >= 0x80 &&
				    c <= 0xbf;
				if (utf8_valid(s, 2) != want)
					bad++;
			}
		ok(bad == 0, "every 2-byte pair with a high lead (%d wrong)", bad);
	}
	{
		/* Every code point, encoded by hand: valid unless a surrogate. */
		int bad = 0;
		for (unsigned cp = 0x80; cp <= 0x10ffff; cp++) {
			char s[4];
			size_t n;
			if (cp < 0x800) {
				s[0] = 0xc0 | cp >> 6;
				s[1] = 0x80 | (cp & 0x3f);
				n = 2;
			} else if (cp < 0x10000) {
				s[0] = 0xe0 | cp >> 12;
				s[1] = 0x80 | (cp >> 6 & 0x3f);
				s[2] = 0x80 | (cp & 0x3f);
				n = 3;
			} else {
				s[0] = 0xf0 | cp >> 18;
				s[1] = 0x80 | (cp >> 12 & 0x3f);
				s[2] = 0x80 | (cp >> 6 & 0x3f);
				s[3] = 0x80 | (cp & 0x3f);
				n = 4;
			}
			if (utf8_valid(s, n) != !(cp >= 0xd800 && cp <= 0xdfff))
				bad++;
		}
		ok(bad == 0, "every code point U+0080..U+10FFFF (%d wrong)", bad);
	}

	C("", "", "the empty string");
	C("caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80",
	    "valid text is unchanged");
	C("a\x80" "b", "a" FFFD "b", "a stray byte becomes U+FFFD");
	C("\xff\xfe", FFFD FFFD, "each bad byte is one U+FFFD");
	C("\xe2\x82", FFFD FFFD, "a cut sequence: one U+FFFD a byte");
	C("\xe2\x82" "A", FFFD FFFD "A", "a cut sequence before ASCII");
	C("\xc0\x80", FFFD FFFD, "overlong NUL");
	C("\xed\xa0\x80", FFFD FFFD FFFD, "a surrogate");
	C("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD, "past U+10FFFF");
	C("\xc3\xc3\xa9", FFFD "\xc3\xa9", "a lead byte then a sequence");
	C("ok\xe2\x82\xac\xe2", "ok\xe2\x82\xac" FFFD,
	    "a sequence cut at the very end");
	{
		/* Whatever the bytes, clean output is valid UTF-8. */
		int bad = 0;
		srand(1);
		for (int i = 0; i < 20000; i++) {
			char s[16];
			size_t n = rand() % sizeof(s);
			struct buf b = { 0 };
			for (size_t k = 0; k < n; k++)
				s[k] = (char)(rand() % 4 ? 0x80 + rand() % 0x80 :
				    rand() % 0x80);
			utf8_clean(&b, s, n);
			if (!utf8_valid(b.p, b.len) ||
			    (utf8_valid(s, n) && (b.len != n ||
			    (n > 0 && memcmp(b.p, s, n) != 0))))
				bad++;
			buf_free(&b);
		}
		ok(bad == 0, "utf8_clean of random bytes is valid, and keeps "
		    "valid input (%d wrong)", bad);
	}
	return tap_done();
}
