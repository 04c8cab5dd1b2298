/*
 * Unit checks of common/json: its fast path against YAJL.  json_parse
 * tries its own strict parser first and leaves every other text to
 * YAJL, so the one promise to check is that whatever the fast path
 * takes YAJL takes too, as the same tree; and that json_parse's answer
 * (tree or message) is YAJL's.  The module is included whole so that
 * both paths can be called on their own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/json.c"
#include "tap.h"

static int
same_tree(const struct jval *a, const struct jval *b)
{
	uint32_t n;

	if (a->type != b->type || a->n != b->n)
		return 0;
	switch (a->type) {
	case J_NUM:
	case J_STR:
		return memcmp(a->u.s, b->u.s, a->n) == 0;
	case J_ARR:
	case J_OBJ:
		n = a->type == J_OBJ ? 2 * a->n : a->n;
		for (uint32_t i = 0; i < n; i++)
			if (!same_tree(&a->u.kids[i], &b->u.kids[i]))
				return 0;
		return 1;
	default:
		return 1;
	}
}

static struct json_parser *fastp, *yajlp;
static long taken, left;

/*
 * 0 if the fast path took text that YAJL does not, or made another
 * tree, or json_parse says other than YAJL.
 */
static int
agrees(const char *text, size_t len)
{
	char e1[256], e2[256];
	struct jval *a, *b;
	int fast;

	start(fastp, text, len);
	fast = fast_parse(fastp);
	b = yajl_tree(yajlp, text, len, e2, sizeof(e2));
	if (fast) {
		taken++;
		if (b == NULL || !same_tree(&fastp->stack[0], b))
			return 0;
	} else
		left++;
	a = json_parse(fastp, text, len, e1, sizeof(e1));
	if ((a == NULL) != (b == NULL))
		return 0;
	return a != NULL ? same_tree(a, b) : strcmp(e1, e2) == 0;
}

static void
check(const char *text, const char *what)
{
	ok(agrees(text, strlen(text)), "%s", what);
}

/* The fast path must take it (or the speed is lost) and agree. */
static void
fast(const char *text, const char *what)
{
	start(fastp, text, strlen(text));
	ok(fast_parse(fastp) && agrees(text, strlen(text)), "fast: %s", what);
}

static void
message(const char *text, const char *want)
{
	char err[256];

	if (json_parse(fastp, text, strlen(text), err, sizeof(err)) != NULL)
		ok(0, "rejects %s", text);
	else
		ok_str(err, want, text);
}

static uint64_t rng = 88172645463325252ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const pieces[] = {
	"{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud83d",
	"\\ude00", "\\u00e9", "\\n", "\\/", "\\x", "0", "1", "9", "-", ".",
	"e", "E", "+", "true", "false", "null", "tru", "nul", " ", "\t",
	"\n", "\r", "\v", "\f", "a", "key", "\xc3\xa9", "\xe2\x80\x93",
	"\xf0\x9f\x98\x80", "\xc3", "\xff", "\xed\xa0\x80", "\x01", "\x1f",
	"\x7f", "/", "/*", "//", "12345678901234567890", "1e999", "0.5",
	"-0", "01", "abcdefghijklmnop",
};
#define NPIECES	(sizeof(pieces) / sizeof(pieces[0]))

/* A random JSON value, with random spaces and odd but valid strings. */
static void
gen(struct buf *b, int depth)
{
	static const char *const strs[] = {
		"", "plain", "with space", "\\\"q\\\"", "\\\\", "\\u0000",
		"\\ud83d\\ude00", "\\ud83d", "\\ude00x", "\\ud83d\\u00e9",
		"caf\xc3\xa9", "\xe2\x80\x93 dash", "long string of many "
		"bytes, more than eight", "tab\\tnew\\nline", "\\/\\b\\f\\r",
		"x\\u00E9\\u20AC",
	};
	static const char *const nums[] = {
		"0", "-0", "1", "-12", "3.25", "1e5", "1E+5", "-2.5e-3",
		"123456789012345678901234567890", "0.000001",
	};
	static const char *const ws[] = { "", "", "", " ", "\n", "\t ", "\r" };
	unsigned k = depth > 4 ? rnd(6) : rnd(8), n;

	buf_adds(b, ws[rnd(7)]);
	switch (k) {
	case 0: buf_adds(b, "null"); break;
	case 1: buf_adds(b, rnd(2) ? "true" : "false"); break;
	case 2: case 3:
		buf_printf(b, "\"%s\"", strs[rnd(sizeof(strs) / sizeof(strs[0]))]);
		break;
	case 4: case 5:
		buf_adds(b, nums[rnd(sizeof(nums) / sizeof(nums[0]))]);
		break;
	case 6:
		buf_addc(b, '[');
		n = rnd(4);
		for (unsigned i = 0; i < n; i++) {
			if (i)
				buf_addc(b, ',');
			gen(b, depth + 1);
		}
		buf_adds(b, ws[rnd(7)]);
		buf_addc(b, ']');
		break;
	default:
		buf_addc(b, '{');
		n = rnd(4);
		for (unsigned i = 0; i < n; i++) {
			if (i)
				buf_addc(b, ',');
			buf_adds(b, ws[rnd(7)]);
			buf_printf(b, "\"%s\"",
			    strs[rnd(sizeof(strs) / sizeof(strs[0]))]);
			buf_adds(b, ws[rnd(7)]);
			buf_addc(b, ':');
			gen(b, depth + 1);
		}
		buf_adds(b, ws[rnd(7)]);
		buf_addc(b, '}');
		break;
	}
	buf_adds(b, ws[rnd(7)]);
}

/* Valid text changed in one to three places: cut, a byte, a piece. */
static void
mutate(struct buf *b)
{
	unsigned times = 1 + rnd(3);

	for (unsigned t = 0; t < times && b->len > 0; t++) {
		size_t at = rnd(b->len);
		switch (rnd(4)) {
		case 0:
			b->len = at;
			break;
		case 1:
			b->p[at] = (char)rnd(256);
			break;
		case 2:
			memmove(b->p + at, b->p + at + 1, b->len - at - 1);
			b->len--;
			break;
		default: {
			const char *s = pieces[rnd(NPIECES)];
			size_t n = strlen(s);
			buf_grow(b, n);
			memmove(b->p + at + n, b->p + at, b->len - at);
			memcpy(b->p + at, s, n);
			b->len += n;
		}
		}
	}
}

static void
deep(int levels, int close, const char *what)
{
	struct buf b = { 0 };

	for (int i = 0; i < levels; i++)
		buf_addc(&b, i % 2 ? '{' : '[');
	for (int i = levels; close && i-- > 0;) {
		if (i % 2)
			buf_adds(&b, "\"k\":0}");
		else
			buf_addc(&b, ']');
	}
	/* Odd levels are objects that need a key first. */
	ok(agrees(b.p, b.len), "%s", what);
	buf_free(&b);
}

/*
 * Each odd byte at each place in strings of 1 to 47 bytes, so that it
 * falls in the 16- and 8-byte scans and the bytes after them.
 */
static void
places(void)
{
	static const char *const odd[] = {
		"\x01", "\x1f", "\\n", "\\u00e9", "\\ud83d", "\\q", "\xc3\xa9",
		"\xe2\x80\x93", "\xff", "\xc3", "\x7f", "\"", "\\",
	};
	struct buf b = { 0 };
	int bad = 0;

	for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++)
		for (int len = 1; len < 48; len++)
			for (int at = 0; at < len; at++) {
				b.len = 0;
				buf_adds(&b, "[\"");
				for (int i = 0; i < len; i++)
					if (i == at)
						buf_adds(&b, odd[k]);
					else
						buf_addc(&b, 'a' + i % 26);
				buf_adds(&b, "\",\"tail \xc3\xa9\"]");
				if (!agrees(b.p, b.len) && bad++ < 5)
					diag("disagree on: %.*s", (int)b.len, b.p);
			}
	ok(bad == 0, "odd bytes at every place of a string agree with YAJL");
	buf_free(&b);
}

static void
random_texts(int borrow)
{
	struct buf b = { 0 };
	long bad = 0, t0 = taken, l0 = left;

	for (int i = 0; i < 40000; i++) {
		b.len = 0;
		if (i % 4 == 3) {
			/* Token soup: mostly invalid, odd corners. */
			unsigned n = rnd(12);
			for (unsigned k = 0; k < n; k++)
				buf_adds(&b, pieces[rnd(NPIECES)]);
		} else {
			gen(&b, 0);
			if (i % 2)
				mutate(&b);
		}
		if (!agrees(b.p ? b.p : "", b.len) && bad++ < 5)
			diag("disagree on: %.*s", (int)b.len, b.p);
	}
	ok(bad == 0, "random texts agree with YAJL (%s)", borrow ? "borrowed" :
	    "copied");
	ok(taken - t0 > 10000 && left - l0 > 10000,
	    "random texts exercise both paths (%ld fast, %ld YAJL)",
	    taken - t0, left - l0);
	buf_free(&b);
}

int
main(void)
{
	fastp = json_parser_new();
	yajlp = json_parser_new();

	fast("{}", "empty object");
	fast("[]", "empty array");
	fast(" \t\r\n{ \"a\" : [ 1 , -2.5e+3 , true , false , null ] } \r\n",
	    "spaces everywhere RFC 8259 allows");
	fast("{\"a\":\"\\ud83d\\ude00\",\"b\":\"\\ud83d\\u00e9\",\"c\":\"\\ude00\"}",
	    "surrogate escapes, paired and not");
	fast("{\"caf\xc3\xa9\":\"\xe2\x80\x93\",\"x\":\"\\u0000\"}", "UTF-8 and NUL");
	fast("\"top\"", "a string alone");
	fast("12345678901234567890123", "a long number alone");
	fast("{\"a\":1,\"a\":2}", "duplicate keys kept");
	fast("{\"k\":\"0123456789abcdef\\\"0123456789abcdef\\\\\"}",
	    "escapes after long plain runs");

	check("", "empty");
	check("   ", "only spaces");
	check("\v{}\f", "vertical tab and form feed, YAJL's spaces");
	check("{\"a\":1,}", "trailing comma in an object");
	check("[1,]", "trailing comma in an array");
	check("[01]", "leading zero");
	check("[-]", "minus alone");
	check("[1.]", "no digit after the point");
	check("[1e]", "no digit in the exponent");
	check("[.5]", "no digit before the point");
	check("{\"a\":1} {}", "two values");
	check("{\"a\":1}x", "trailing garbage");
	check("[\"a\x01\"]", "control character in a string");
	check("[\"\\x\"]", "bad escape");
	check("[\"\\u12G4\"]", "bad hex escape");
	check("[\"\\u12\"]", "short hex escape");
	check("[\"\xc3\"]", "cut UTF-8");
	check("[\"\xed\xa0\x80\"]", "UTF-8 of a surrogate");
	check("[\xc3\xa9]", "UTF-8 outside a string");
	check("{1:2}", "number as a key");
	check("[tru]", "cut literal");
	check("[truex]", "literal run on");
	check("[1true]", "number run into a literal");
	check("/* c */ {}", "comment");
	check("{\"a\" 1}", "no colon");
	check("[\"abc", "string cut");
	check("[1", "array cut");
	check("1 ", "a number alone then a space");
	deep(256, 1, "256 levels: as deep as allowed");
	deep(257, 1, "257 levels: too deep, YAJL's path says so");
	deep(300, 0, "300 open levels");

	message("{\"a\":}", "invalid JSON: parse error: unallowed token at "
	    "this point in JSON text (near byte 6)");
	message("[1,]", "invalid JSON: parse error: unallowed token at this "
	    "point in JSON text (near byte 4)");
	message("[1 x]", "invalid JSON: lexical error: invalid char in json "
	    "text. (near byte 4)");
	message("[\"\xff\"]", "invalid UTF-8");
	message("", "invalid JSON: parse error: premature EOF (near byte 0)");

	places();
	random_texts(0);
	json_parser_borrow(fastp);
	json_parser_borrow(yajlp);
	random_texts(1);

	json_parser_free(fastp);
	json_parser_free(yajlp);
	return tap_done();
}
