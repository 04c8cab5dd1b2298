/* json: a strict fast parser and YAJL callbacks building an arena tree. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "json.h"
#include "jsonw.h"
#include "utf8.h"
#include "xalloc.h"

#define MAXDEPTH	256
#define ARENA_BLOCK	(64 * 1024)

struct block {
	struct block	*next;
	size_t		 size, used;
	char		 mem[];
};

struct json_parser {
	struct block	*blocks;	/* current first; reset keeps them */
	struct jval	*stack;		/* values of open containers */
	size_t		 top, cap;
	size_t		 marks[MAXDEPTH];
	unsigned char	 inobj[MAXDEPTH];	/* fast_parse: container kind */
	int		 depth;
	int		 toodeep;
	int		 badutf8;
	int		 borrow;	/* strings may point into the text */
	const char	*text;		/* being parsed */
	size_t		 len;
	yajl_handle	 h;
};

static void *
arena_alloc(struct json_parser *p, size_t n)
{
	struct block *b = p->blocks;

	n = (n + 7) & ~(size_t)7;
	if (b == NULL || b->size - b->used < n) {
		/* Use a kept block that fits, or make one. */
		struct block **pp;
		for (pp = &p->blocks; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->used == 0 && (*pp)->size >= n)
				break;
		if (*pp != NULL) {
			b = *pp;
			*pp = b->next;
		} else {
			size_t sz = n > ARENA_BLOCK ? n : ARENA_BLOCK;
			b = xmalloc(sizeof(*b) + sz);
			b->size = sz;
			b->used = 0;
		}
		b->next = p->blocks;
		p->blocks = b;
	}
	void *r = b->mem + b->used;
	b->used += n;
	return r;
}

static void
arena_reset(struct json_parser *p)
{
	struct block *b, *keep = NULL, *next;
	size_t total = 0;

	/* Keep up to 4 MB of blocks for the next line; free the rest. */
	for (b = p->blocks; b != NULL; b = next) {
		next = b->next;
		if (total + b->size <= 4 * 1024 * 1024) {
			total += b->size;
			b->used = 0;
			b->next = keep;
			keep = b;
		} else
			free(b);
	}
	p->blocks = keep;
}

static struct jval *
push(struct json_parser *p)
{
	if (p->top == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->stack = xrealloc(p->stack, p->cap * sizeof(*p->stack));
	}
	return &p->stack[p->top++];
}

static const char *
copy(struct json_parser *p, const void *s, size_t n)
{
	char *d = arena_alloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/*
 * A leaf of the tree (a string, a number, a literal), the same from
 * both parsers.  A literal has n 0, so that no reader of n sees a stale
 * value.
 */
static void
leaf(struct json_parser *p, enum jtype t, const char *s, size_t n)
{
	struct jval *v = push(p);

	v->type = t;
	v->u.s = s;
	v->n = n;
}

static void
literal(struct json_parser *p, enum jtype t)
{
	leaf(p, t, NULL, 0);
}

static int
cb_null(void *ctx)
{
	literal(ctx, J_NULL);
	return 1;
}

static int
cb_bool(void *ctx, int b)
{
	literal(ctx, b ? J_TRUE : J_FALSE);
	return 1;
}

static int
cb_number(void *ctx, const char *s, size_t n)
{
	struct json_parser *p = ctx;

	leaf(p, J_NUM, copy(p, s, n), n);
	return 1;
}

static int
hex4(const char *s)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t
put_utf8(char *d, unsigned long cp)
{
	if (cp < 0x80) {
		d[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = 0xc0 | cp >> 6;
		d[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = 0xe0 | cp >> 12;
		d[1] = 0x80 | (cp >> 6 & 0x3f);
		d[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	d[0] = 0xf0 | cp >> 18;
	d[1] = 0x80 | (cp >> 12 & 0x3f);
	d[2] = 0x80 | (cp >> 6 & 0x3f);
	d[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/*
 * The string from s to its closing quote at end, decoded here rather
 * than by YAJL: YAJL pairs a high surrogate escape with whatever \u
 * escape follows ("\ud83d\u00e9" became U+1F4E9, the é lost) and writes
 * a lone one as "?".  Here a high surrogate followed by a low one is
 * their character and every other surrogate escape is U+FFFD, the
 * character after it decoded on its own: PostHog's capture likewise
 * turns unpaired surrogate escapes into U+FFFD
 * (rust/capture/src/passes/invalid_surrogates.rs, PostHog/posthog commit
 * bd1ff55aa92c4b07e40e94df166294bc2d5cac9d), since serde_json refuses
 * them.  The result, in the arena, is never longer than the token.  NULL
 * for an escape cut short or a bad \u escape.
 */
static const char *
decode(struct json_parser *p, const char *s, const char *end, size_t *np)
{
	char *d, *out;

	out = d = arena_alloc(p, (size_t)(end - s) + 1);
	while (s < end) {
		if (*s != '\\') {
			*d++ = *s++;
			continue;
		}
		if (end - s < 2)
			return NULL;
		switch (s[1]) {
		case 'b': *d++ = '\b'; s += 2; continue;
		case 'f': *d++ = '\f'; s += 2; continue;
		case 'n': *d++ = '\n'; s += 2; continue;
		case 'r': *d++ = '\r'; s += 2; continue;
		case 't': *d++ = '\t'; s += 2; continue;
		case 'u': break;
		default: *d++ = s[1]; s += 2; continue;	/* " \\ / */
		}
		int cp = end - s >= 6 ? hex4(s + 2) : -1, lo;
		if (cp < 0)
			return NULL;
		s += 6;
		if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 6 &&
		    s[0] == '\\' && s[1] == 'u' && (lo = hex4(s + 2)) >= 0xdc00 &&
		    lo <= 0xdfff) {
			d += put_utf8(d, 0x10000 + ((unsigned long)(cp - 0xd800) <<
			    10) + (lo - 0xdc00));
			s += 6;
		} else if (cp >= 0xd800 && cp <= 0xdfff)
			d += put_utf8(d, 0xfffd);
		else
			d += put_utf8(d, cp);
	}
	*d = '\0';
	*np = d - out;
	return out;
}

/*
 * The string token that ends just before the text's byte at end (its
 * closing quote is end[-1]), decoded by decode.  NULL when the token
 * cannot be found (the caller then keeps YAJL's bytes).
 */
static const char *
decode_escaped(struct json_parser *p, const char *end, size_t *np)
{
	const char *q;

	if (end <= p->text || end > p->text + p->len || end[-1] != '"')
		return NULL;
	/* The opening quote: the nearest one before not escaped. */
	for (q = end - 2; q >= p->text; q--) {
		if (*q != '"')
			continue;
		const char *b = q;
		while (b > p->text && b[-1] == '\\')
			b--;
		if ((q - b) % 2 == 0)
			break;
	}
	if (q < p->text)
		return NULL;
	return decode(p, q + 1, end - 1, np);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct json_parser *p = ctx;
	const char *c;

	/*
	 * A string without escapes lies in the text, which json_parse has
	 * checked already, and may be borrowed instead of copied (no NUL
	 * after it, then).  One with escapes is decoded from the text again,
	 * by decode_escaped; YAJL's bytes are the fallback, checked.
	 */
	int in_text = (const char *)s >= p->text &&
	    (const char *)s + n <= p->text + p->len;
	if (in_text)
		c = p->borrow ? (const char *)s : copy(p, s, n);
	else if ((c = decode_escaped(p, p->text +
	    yajl_get_bytes_consumed(p->h), &n)) == NULL) {
		if (!utf8_valid((const char *)s, n)) {
			p->badutf8 = 1;
			return 0;
		}
		c = copy(p, s, n);
	}
	leaf(p, J_STR, c, n);
	return 1;
}

static int
cb_open(void *ctx)
{
	struct json_parser *p = ctx;

	if (p->depth == MAXDEPTH) {
		p->toodeep = 1;
		return 0;
	}
	p->marks[p->depth++] = p->top;
	return 1;
}

static int
cb_close(struct json_parser *p, enum jtype t)
{
	size_t mark = p->marks[--p->depth], n = p->top - mark;
	struct jval *kids = NULL;

	if (n > 0) {
		kids = arena_alloc(p, n * sizeof(*kids));
		memcpy(kids, p->stack + mark, n * sizeof(*kids));
	}
	p->top = mark;
	struct jval *v = push(p);
	v->type = t;
	v->n = t == J_OBJ ? n / 2 : n;
	v->u.kids = kids;
	return 1;
}

static int
cb_end_map(void *ctx)
{
	return cb_close(ctx, J_OBJ);
}

static int
cb_end_array(void *ctx)
{
	return cb_close(ctx, J_ARR);
}

static const yajl_callbacks callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_open, cb_string, cb_end_map, cb_open, cb_end_array
};

/*
 * The fast path.  Calling back into the tree builder for every token
 * made YAJL most of the parse time, so json_parse first tries this
 * parser of strict RFC 8259 text: one value, between spaces, tabs, CRs
 * and LFs only, no deeper than MAXDEPTH.  Each thing it accepts YAJL
 * accepts as well (with the options json_parse gives it), and it builds
 * the same tree through the same helpers as the callbacks; on anything
 * else it gives up, and YAJL parses the line again: so the lines taken,
 * the trees and every error message stay YAJL's.
 */

/* Nonzero if any of the 8 bytes of w is '"', '\\' or below 0x20. */
static inline uint64_t
str_special(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return ((q - ones) & ~q & high) | ((b - ones) & ~b & high) |
	    ((w - ones * 0x20) & ~w & high);
}

/*
 * The string whose opening quote is at *qp, pushed: decoded if it has
 * escapes, borrowed or copied if not.  0 if it is not one YAJL takes
 * (a control character, a bad escape, no end) or not UTF-8, which
 * json_parse then rejects.
 */
static int
fast_string(struct json_parser *p, const char **qp, const char *e)
{
	const char *q = *qp + 1, *s = q, *c;
	uint64_t w, hi = 0, m;
	size_t n;
	int esc = 0;

	for (;;) {
#ifdef __SSE2__
		/*
		 * Most strings are plain and shorter than 16 bytes: one look
		 * at 16 finds the closing quote.  SSE2 is in every x86-64.
		 */
		int found = 0;
		while (e - q >= 16) {
			const __m128i x = _mm_loadu_si128((const __m128i *)q);
			const __m128i ctl = _mm_set1_epi8(0x1f);
			__m128i sp = _mm_or_si128(_mm_or_si128(
			    _mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
			    _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
			    _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl));
			unsigned sm = _mm_movemask_epi8(sp);
			unsigned hm = _mm_movemask_epi8(x);	/* bytes >= 0x80 */
			if (sm != 0) {
				/* Only the high bytes before it are the string's. */
				hi |= (hm & ((sm & -sm) - 1)) != 0 ? 0x80 : 0;
				q += __builtin_ctz(sm);
				found = 1;
				break;
			}
			hi |= hm != 0 ? 0x80 : 0;
			q += 16;
		}
		/* Otherwise the line's last 15 bytes, 8 at a time. */
		while (!found && e - q >= 8) {
#else
		/* Most bytes are plain: look at 8 at a time. */
		while (e - q >= 8) {
#endif
			memcpy(&w, q, 8);
			hi |= w;
			if ((m = str_special(w)) != 0) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				/* The lowest flagged byte is the first one. */
				q += __builtin_ctzll(m) / 8;
#endif
				break;
			}
			q += 8;
		}
		if (q == e)
			return 0;
		unsigned char ch = *q;
		if (ch == '"')
			break;
		if (ch == '\\') {
			esc = 1;
			if (e - q < 2)
				return 0;
			switch (q[1]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				q += 2;
				continue;
			case 'u':
				if (e - q < 6 || hex4(q + 2) < 0)
					return 0;
				q += 6;
				continue;
			default:
				return 0;
			}
		}
		if (ch < 0x20)
			return 0;
		hi |= ch;
		q++;
	}
	n = q - s;
	/* Outside strings only ASCII is taken, so this checks the line. */
	if ((hi & 0x8080808080808080ULL) != 0 && !utf8_valid(s, n))
		return 0;
	if (esc) {
		if ((c = decode(p, s, q, &n)) == NULL)
			return 0;
	} else
		c = p->borrow ? s : copy(p, s, n);
	leaf(p, J_STR, c, n);
	*qp = q + 1;
	return 1;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* YAJL's number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
fast_number(struct json_parser *p, const char **qp, const char *e)
{
	const char *q = *qp, *s = q, *d;

	if (*q == '-')
		q++;
	if (q < e && *q == '0')
		q++;
	else if (q < e && *q >= '1' && *q <= '9')
		while (++q < e && is_digit(*q))
			;
	else
		return 0;
	if (q < e && *q == '.') {
		for (d = ++q; q < e && is_digit(*q); q++)
			;
		if (q == d)
			return 0;
	}
	if (q < e && (*q == 'e' || *q == 'E')) {
		if (++q < e && (*q == '+' || *q == '-'))
			q++;
		for (d = q; q < e && is_digit(*q); q++)
			;
		if (q == d)
			return 0;
	}
	leaf(p, J_NUM, copy(p, s, q - s), q - s);
	*qp = q;
	return 1;
}

static int
fast_literal(struct json_parser *p, const char **qp, const char *e,
    const char *lit, size_t n, enum jtype t)
{
	if ((size_t)(e - *qp) < n || memcmp(*qp, lit, n) != 0)
		return 0;
	literal(p, t);
	*qp += n;
	return 1;
}

#define SKIP_WS(q, e)	while ((q) < (e) && (*(q) == ' ' || *(q) == '\t' || \
			    *(q) == '\n' || *(q) == '\r')) (q)++

/* 1 with the root alone on the stack, or 0: YAJL must look. */
static int
fast_parse(struct json_parser *p)
{
	const char *q = p->text, *e = p->text + p->len;

value:
	SKIP_WS(q, e);
	if (q == e)
		return 0;
	switch (*q) {
	case '{':
	case '[':
		if (p->depth == MAXDEPTH)
			return 0;
		p->inobj[p->depth] = *q == '{';
		p->marks[p->depth++] = p->top;
		q++;
		SKIP_WS(q, e);
		if (q < e && *q == (p->inobj[p->depth - 1] ? '}' : ']')) {
			q++;
			cb_close(p, p->inobj[p->depth - 1] ? J_OBJ : J_ARR);
			break;
		}
		if (p->inobj[p->depth - 1])
			goto key;
		goto value;
	case '"':
		if (!fast_string(p, &q, e))
			return 0;
		break;
	case 't':
		if (!fast_literal(p, &q, e, "true", 4, J_TRUE))
			return 0;
		break;
	case 'f':
		if (!fast_literal(p, &q, e, "false", 5, J_FALSE))
			return 0;
		break;
	case 'n':
		if (!fast_literal(p, &q, e, "null", 4, J_NULL))
			return 0;
		break;
	default:
		if ((*q != '-' && !is_digit(*q)) || !fast_number(p, &q, e))
			return 0;
		break;
	}
next:
	/* After a value: the end, or what its container takes next. */
	SKIP_WS(q, e);
	if (p->depth == 0)
		return q == e;
	if (q == e)
		return 0;
	if (p->inobj[p->depth - 1]) {
		if (*q == '}') {
			q++;
			cb_close(p, J_OBJ);
			goto next;
		}
		if (*q != ',')
			return 0;
		q++;
		SKIP_WS(q, e);
		goto key;
	}
	if (*q == ']') {
		q++;
		cb_close(p, J_ARR);
		goto next;
	}
	if (*q != ',')
		return 0;
	q++;
	goto value;
key:
	if (q == e || *q != '"' || !fast_string(p, &q, e))
		return 0;
	SKIP_WS(q, e);
	if (q == e || *q != ':')
		return 0;
	q++;
	goto value;
}

struct json_parser *
json_parser_new(void)
{
	return xcalloc(1, sizeof(struct json_parser));
}

void
json_parser_borrow(struct json_parser *p)
{
	p->borrow = 1;
}

void
json_parser_free(struct json_parser *p)
{
	struct block *b, *next;

	if (p == NULL)
		return;
	for (b = p->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(p->stack);
	free(p);
}

/* YAJL's message without its multi-line context dump. */
static void
yajl_message(yajl_handle h, const char *text, size_t len, int at_end,
    char *err, size_t errlen)
{
	unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)text,
	    len);
	/* A text cut short is found only when it ends. */
	size_t at = at_end ? len : yajl_get_bytes_consumed(h);
	char *nl;

	if ((nl = strchr((char *)m, '\n')) != NULL)
		*nl = '\0';
	snprintf(err, errlen, "invalid JSON: %s (near byte %zu)", (char *)m,
	    at);
	yajl_free_error(h, m);
}

/* The parser made ready for the text: nothing of the last line kept. */
static void
start(struct json_parser *p, const char *text, size_t len)
{
	arena_reset(p);
	p->top = 0;
	p->depth = 0;
	p->toodeep = 0;
	p->badutf8 = 0;
	p->text = text;
	p->len = len;
}

/* What json_parse says of the text, by YAJL alone. */
static struct jval *
yajl_tree(struct json_parser *p, const char *text, size_t len, char *err,
    size_t errlen)
{
	yajl_handle h;
	yajl_status st;

	start(p, text, len);
	/* One pass over the line is cheaper than one per string. */
	if (!utf8_valid(text, len)) {
		snprintf(err, errlen, "invalid UTF-8");
		return NULL;
	}
	if ((h = yajl_alloc(&callbacks, NULL, p)) == NULL)
		abort();
	p->h = h;	/* cb_string finds escaped strings in the text by it */
	/* cb_string checks UTF-8 strictly; YAJL's own check is laxer. */
	yajl_config(h, yajl_dont_validate_strings, 1);
	st = yajl_parse(h, (const unsigned char *)text, len);
	int at_end = 0;
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		at_end = 1;
	}
	if (st != yajl_status_ok) {
		if (p->toodeep)
			snprintf(err, errlen, "invalid JSON: nested deeper "
			    "than %d levels", MAXDEPTH);
		else if (p->badutf8)
			snprintf(err, errlen, "invalid UTF-8");
		else
			yajl_message(h, text, len, at_end, err, errlen);
		yajl_free(h);
		return NULL;
	}
	yajl_free(h);
	if (p->top != 1) {
		snprintf(err, errlen, "invalid JSON: empty line");
		return NULL;
	}
	return &p->stack[0];
}

struct jval *
json_parse(struct json_parser *p, const char *text, size_t len, char *err,
    size_t errlen)
{
	start(p, text, len);
	if (fast_parse(p))
		return &p->stack[0];
	/* Not text fast_parse takes: YAJL's tree, or its error message. */
	return yajl_tree(p, text, len, err, errlen);
}

struct jval *
json_getn(const struct jval *o, const char *key, size_t kl)
{
	if (o == NULL || o->type != J_OBJ)
		return NULL;
	for (uint32_t i = o->n; i-- > 0;) {
		const struct jval *k = JKEY(o, i);
		/* The first byte before memcmp: most keys differ there. */
		if (k->n == kl && (kl == 0 || (k->u.s[0] == key[0] &&
		    memcmp(k->u.s, key, kl) == 0)))
			return JVAL(o, i);
	}
	return NULL;
}

/* The external definitions of json.h's inline functions. */
extern struct jval *json_get(const struct jval *, const char *);
extern int	 json_is_str(const struct jval *, const char *);
extern int	 json_is_strn(const struct jval *, const char *, size_t);

void
json_write(struct buf *b, const struct jval *v)
{
	uint32_t i;

	switch (v->type) {
	case J_NULL:
		buf_add(b, "null", 4);
		break;
	case J_FALSE:
		buf_add(b, "false", 5);
		break;
	case J_TRUE:
		buf_add(b, "true", 4);
		break;
	case J_NUM:
		buf_add(b, v->u.s, v->n);
		break;
	case J_STR:
		jsonw_str(b, v->u.s, v->n);
		break;
	case J_ARR:
		buf_addc(b, '[');
		for (i = 0; i < v->n; i++) {
			if (i)
				buf_addc(b, ',');
			json_write(b, &v->u.kids[i]);
		}
		buf_addc(b, ']');
		break;
	case J_OBJ:
		buf_addc(b, '{');
		for (i = 0; i < v->n; i++) {
			if (i)
				buf_addc(b, ',');
			json_write(b, JKEY(v, i));
			buf_addc(b, ':');
			json_write(b, JVAL(v, i));
		}
		buf_addc(b, '}');
		break;
	}
}

int
json_numbers_finite(const struct jval *v)
{
	char tmp[64];
	uint32_t n;

	switch (v->type) {
	case J_NUM:
		if (v->n <= 300 && memchr(v->u.s, 'e', v->n) == NULL &&
		    memchr(v->u.s, 'E', v->n) == NULL)
			return 1;
		{
			char *t = v->n < sizeof(tmp) ? tmp : xmalloc(v->n + 1);
			int fin;

			memcpy(t, v->u.s, v->n);
			t[v->n] = '\0';
			fin = isfinite(strtod(t, NULL));
			if (t != tmp)
				free(t);
			return fin;
		}
	case J_ARR:
		for (uint32_t i = 0; i < v->n; i++)
			if (!json_numbers_finite(&v->u.kids[i]))
				return 0;
		return 1;
	case J_OBJ:
		n = 2 * v->n;
		for (uint32_t i = 1; i < n; i += 2)
			if (!json_numbers_finite(&v->u.kids[i]))
				return 0;
		return 1;
	default:
		return 1;
	}
}
