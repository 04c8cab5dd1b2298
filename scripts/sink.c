/*
 * sink: a fast local capture sink for scripts/bench.  Not a stand-in for
 * capture's validation (tests/capture_standin.py is that): it only answers
 * like capture and counts, so that the bench rows that send measure
 * ph-batch and not the receiver.
 *
 *   sink [--port N] [--port-file FILE] [--quiet]
 *
 * Listens on 127.0.0.1:N (0, the default: a free port), HTTP/1.1 with
 * keep-alive, any number of connections, one thread (poll).  The first
 * stdout line is "listening 127.0.0.1:PORT"; --port-file gets the port
 * (written to a temporary name, then renamed).
 *
 *   POST /batch /e /i/v0/e /capture /track (with or without a trailing
 *        slash, any query): the body (Content-Length or chunked) is
 *        gunzipped when it starts with 1f 8b, its events counted, and
 *        answered 200 {"status":"Ok"}; 400 for bad gzip or a body that
 *        is not one whole JSON value
 *   POST /flags /decide: 200 with no flags, as rust/feature-flags answers
 *   GET /_stats: {"requests":n,"events":n,"bytes":n,"json_bytes":n,
 *        "cpu_seconds":x}: capture requests answered 200, their events,
 *        their body bytes as received and decompressed, and the sink's
 *        own CPU time (user + system) so far
 *
 * Events are counted without parsing: a scan that follows strings (with
 * their escapes) and nesting counts the elements of the top-level
 * "batch" array of an object, the elements of a top-level array, or 1
 * for any other object.  SIGTERM/SIGINT: exit 0 (stats on stderr unless
 * --quiet).
 *
 * A gzip body is kept whole and decompressed at its end with libdeflate
 * (the bench's goal 1 line: 0.44 CPU-s for 196k events, 0.80 with zlib's
 * streaming inflate): the sink's CPU shares the machine with the
 * pipeline it measures.
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -o build/sink scripts/sink.c -ldeflate
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libdeflate.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define HDR_MAX		65536
#define CHUNK		(256 * 1024)

/* The event counter: a JSON scan that carries its state across chunks. */
struct scan {
	int		 depth;
	int		 top;		/* '{' or '[' or 0: the top value */
	int		 in_str, esc;
	int		 key_expected;	/* at depth 1 of an object */
	int		 key_len;	/* bytes of the depth-1 string so far */
	int		 key_batch;	/* that string is "batch" so far */
	int		 last_key_batch;	/* the key of the value now */
	int		 in_batch;	/* inside "batch": [...] (depth 2) */
	int		 batch_seen;	/* a value in it */
	int		 has_batch;	/* the top object has "batch" */
	int		 done, bad;
	uint64_t	 commas, events;
};

enum { ST_HDR, ST_BODY, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF,
    ST_TRAILER };

struct conn {
	int		 fd;
	int		 state;
	char		*hdr;
	size_t		 hlen;
	/* the request */
	int		 kind;		/* K_* */
	int		 keep;		/* keep-alive after the answer */
	uint64_t	 left;		/* body bytes (of the chunk) to come */
	int		 gzip_known, gzip, zbad;
	unsigned char	 magic[2];
	int		 nmagic;
	unsigned char	*gz;		/* a gzip body, whole */
	size_t		 gzlen, gzcap;
	struct scan	 sc;
	uint64_t	 body, json;
	char		 line[32];	/* a chunk-size line */
	size_t		 llen;
	/* the answer being written */
	char		*out;
	size_t		 olen, ooff;
};

enum { K_OTHER, K_CAPTURE, K_FLAGS, K_STATS, K_BADLEN };

static volatile sig_atomic_t stop;
static uint64_t st_requests, st_events, st_bytes, st_json;
static unsigned char *zbuf;
static size_t zcap;
static struct libdeflate_decompressor *dec;
static unsigned char is_special[256], is_str_special[256],
    is_deep_special[256];

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
scan_init(struct scan *s)
{
	memset(s, 0, sizeof(*s));
}

#ifdef __SSE2__
/*
 * Inside an event (depth >= 3), 16 bytes at a time: the positions of
 * quotes, backslashes and brackets as a bit mask, read in order.  Stops
 * when the event ends (depth 2) or fewer than 16 bytes are left.
 */
static const unsigned char *
scan_deep(struct scan *s, const unsigned char *p, const unsigned char *e)
{
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
	    c1 = _mm_set1_epi8('{'), c2 = _mm_set1_epi8('}'),
	    c3 = _mm_set1_epi8('['), c4 = _mm_set1_epi8(']');

	while (e - p >= 16) {
		if (s->esc) {
			s->esc = 0;
			p++;
			continue;
		}
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		__m128i x = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q),
		    _mm_cmpeq_epi8(v, bs)), _mm_or_si128(_mm_or_si128(
		    _mm_cmpeq_epi8(v, c1), _mm_cmpeq_epi8(v, c2)),
		    _mm_or_si128(_mm_cmpeq_epi8(v, c3), _mm_cmpeq_epi8(v, c4))));
		unsigned m = (unsigned)_mm_movemask_epi8(x);

		while (m != 0) {
			int i = __builtin_ctz(m);
			int c = p[i];

			m &= m - 1;
			if (s->in_str) {
				if (c == '"')
					s->in_str = 0;
				else if (c == '\\') {
					if (i == 15)
						s->esc = 1;
					else
						m &= ~(1u << (i + 1));
				}
				continue;
			}
			if (c == '"')
				s->in_str = 1;
			else if (c == '{' || c == '[')
				s->depth++;
			else if (c == '}' || c == ']') {
				if (--s->depth == 2)
					return p + i + 1;
			}
		}
		p += 16;
	}
	return p;
}
#endif

/* Feed n bytes of JSON text. */
static void
scan_feed(struct scan *s, const unsigned char *p, size_t n)
{
	const unsigned char *e = p + n;

	while (p < e) {
#ifdef __SSE2__
		if (s->depth >= 3 && e - p >= 16) {
			p = scan_deep(s, p, e);
			continue;
		}
#endif
		if (s->in_str && s->depth != 1) {
			/* a string that cannot be a key of the top object */
			if (s->esc) {
				s->esc = 0;
				p++;
				continue;
			}
			while (p < e && !is_str_special[*p])
				p++;
			if (p == e)
				break;
			if (*p++ == '\\')
				s->esc = 1;
			else
				s->in_str = 0;
			continue;
		}
		if (!s->in_str && s->depth >= 3) {
			/* inside an event: only strings and nesting matter */
			while (p < e && !is_deep_special[*p])
				p++;
			if (p == e)
				break;
			int c = *p++;
			if (c == '"')
				s->in_str = 1;
			else if (c == '{' || c == '[')
				s->depth++;
			else
				s->depth--;
			continue;
		}
		if (s->in_str) {
			if (s->esc) {
				s->esc = 0;
				if (s->depth == 1 && s->key_batch)
					s->key_batch = 0;
				s->key_len++;
				p++;
				continue;
			}
			const unsigned char *q = p;
			while (q < e && !is_str_special[*q])
				q++;
			if (s->depth == 1 && s->key_batch) {
				/* compare with "batch" */
				static const char kb[] = "batch";
				for (const unsigned char *r = p; r < q; r++) {
					if (s->key_len >= 5 ||
					    *r != (unsigned char)kb[s->key_len]) {
						s->key_batch = 0;
						s->key_len += q - r;
						break;
					}
					s->key_len++;
				}
			} else
				s->key_len += q - p;
			p = q;
			if (p == e)
				break;
			if (*p == '\\') {
				s->esc = 1;
				p++;
				continue;
			}
			/* the closing quote */
			s->in_str = 0;
			p++;
			if (s->depth == 1 && s->top == '{' && s->key_expected) {
				s->key_expected = 0;
				s->last_key_batch = s->key_batch &&
				    s->key_len == 5;
				if (s->last_key_batch)
					s->has_batch = 1;
			}
			continue;
		}
		int c = *p++;
		if (s->done && c != ' ' && c != '\t' && c != '\n' &&
		    c != '\r') {
			s->bad = 1;
			return;
		}
		switch (c) {
		case ' ': case '\t': case '\n': case '\r':
			continue;
		case ':':
			continue;
		case '"':
			if ((s->in_batch && s->depth == 2) ||
			    (s->depth == 1 && s->top == '['))
				s->batch_seen = 1;
			if (s->depth == 0) {
				s->bad = 1;	/* a bare string: no event */
				return;
			}
			s->in_str = 1;
			s->key_len = 0;
			s->key_batch = 1;
			continue;
		case '{':
		case '[':
			if (s->in_batch && s->depth == 2)
				s->batch_seen = 1;
			if (s->depth == 0) {
				s->top = c;
				if (c == '{')
					s->key_expected = 1;
			} else if (s->depth == 1 && s->top == '{' &&
			    c == '[' && s->last_key_batch) {
				s->in_batch = 1;
				s->batch_seen = 0;
				s->commas = 0;
			}
			if (s->depth == 1 && s->top == '[')
				s->batch_seen = 1;
			s->depth++;
			continue;
		case '}':
		case ']':
			if (s->depth == 0) {
				s->bad = 1;
				return;
			}
			s->depth--;
			if (s->in_batch && s->depth == 1) {
				s->in_batch = 0;
				s->events = s->batch_seen ? s->commas + 1 : 0;
				s->last_key_batch = 0;
			}
			if (s->depth == 0) {
				s->done = 1;
				if (s->top == '[')
					s->events = s->batch_seen ?
					    s->commas + 1 : 0;
				else if (!s->has_batch)
					s->events = 1;	/* one event */
			}
			continue;
		case ',':
			if (s->depth == 1 && s->top == '{') {
				s->key_expected = 1;
				s->last_key_batch = 0;
			} else if ((s->in_batch && s->depth == 2) ||
			    (s->depth == 1 && s->top == '['))
				s->commas++;
			continue;
		default:	/* a number, true, false, null */
			if (s->depth == 0) {
				s->bad = 1;
				return;
			}
			if (s->in_batch && s->depth == 2)
				s->batch_seen = 1;
			if (s->depth == 1 && s->top == '[')
				s->batch_seen = 1;
			/* skip the rest of the literal */
			while (p < e && !is_special[*p])
				p++;
			continue;
		}
	}
}

/*
 * The number of events, or -1.  An object with "batch": its elements
 * (a "batch" that is not an array counts 0); any other object: 1.
 */
static int64_t
scan_result(struct scan *s)
{
	if (s->bad || !s->done || s->in_str)
		return -1;
	return (int64_t)s->events;
}

static void
tables(void)
{
	const char *sp = " \t\r\n\"{}[],:";

	for (const char *p = sp; *p; p++)
		is_special[(unsigned char)*p] = 1;
	is_str_special['"'] = is_str_special['\\'] = 1;
	for (const char *p = "\"{}[]"; *p; p++)
		is_deep_special[(unsigned char)*p] = 1;
}

static void
conn_reset(struct conn *c)
{
	c->gzlen = 0;
	c->state = ST_HDR;
	c->hlen = 0;
	c->kind = K_OTHER;
	c->keep = 1;
	c->left = 0;
	c->gzip_known = c->gzip = c->zbad = 0;
	c->nmagic = 0;
	c->body = c->json = 0;
	c->llen = 0;
	scan_init(&c->sc);
}

static void
conn_free(struct conn *c)
{
	free(c->gz);
	close(c->fd);
	free(c->hdr);
	free(c->out);
	free(c);
}

static void
answer(struct conn *c, int status, const char *reason, const char *body)
{
	char head[256];
	size_t bl = strlen(body);
	int hl = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
	    status, reason, bl, c->keep ? "" : "Connection: close\r\n");

	c->out = realloc(c->out, c->olen + hl + bl);
	if (c->out == NULL)
		abort();
	memcpy(c->out + c->olen, head, hl);
	memcpy(c->out + c->olen + hl, body, bl);
	c->olen += hl + bl;
}

static void
json_bytes(struct conn *c, const unsigned char *p, size_t n)
{
	c->json += n;
	scan_feed(&c->sc, p, n);
}

/*
 * The whole gzip body: its members one after another, each into zbuf
 * (grown to the member's ISIZE), then scanned.  A truncated or damaged
 * member is bad gzip.
 */
static void
gunzip_body(struct conn *c)
{
	size_t at = 0;

	while (at < c->gzlen) {
		const unsigned char *t;
		size_t in, out, want;
		enum libdeflate_result r;

		/* ISIZE of the last member, if there is one: a first guess. */
		t = c->gz + c->gzlen - 4;
		want = c->gzlen - at >= 18 ? (size_t)t[0] | (size_t)t[1] << 8 |
		    (size_t)t[2] << 16 | (size_t)t[3] << 24 : 0;
		if (want < CHUNK)
			want = CHUNK;
		if (want > 1 << 28)
			want = 1 << 28;	/* a guess; grown if short */
		for (;;) {
			if (zcap < want) {
				free(zbuf);
				if ((zbuf = malloc(want)) == NULL)
					abort();
				zcap = want;
			}
			r = libdeflate_gzip_decompress_ex(dec, c->gz + at,
			    c->gzlen - at, zbuf, zcap, &in, &out);
			if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
				break;
			want = zcap * 2;
		}
		if (r != LIBDEFLATE_SUCCESS) {
			c->zbad = 1;
			return;
		}
		json_bytes(c, zbuf, out);
		at += in;
	}
}

/* Body bytes of a request, after any chunked framing. */
static void
body_bytes(struct conn *c, const unsigned char *p, size_t n)
{
	c->body += n;
	if (c->kind != K_CAPTURE || c->zbad || n == 0)
		return;
	if (!c->gzip_known) {
		while (c->nmagic < 2 && n > 0) {
			c->magic[c->nmagic++] = *p++;
			n--;
		}
		if (c->nmagic < 2)
			return;
		c->gzip_known = 1;
		c->gzip = c->magic[0] == 0x1f && c->magic[1] == 0x8b;
		body_bytes(c, c->magic, 2);
		c->body -= 2;
	}
	if (!c->gzip) {
		json_bytes(c, p, n);
		return;
	}
	if (c->gzcap - c->gzlen < n) {
		while (c->gzcap - c->gzlen < n)
			c->gzcap = c->gzcap ? c->gzcap * 2 : CHUNK;
		if ((c->gz = realloc(c->gz, c->gzcap)) == NULL)
			abort();
	}
	memcpy(c->gz + c->gzlen, p, n);
	c->gzlen += n;
}

static void
stats_body(char *buf, size_t len)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	snprintf(buf, len, "{\"requests\":%llu,\"events\":%llu,\"bytes\":%llu,"
	    "\"json_bytes\":%llu,\"cpu_seconds\":%.3f}",
	    (unsigned long long)st_requests, (unsigned long long)st_events,
	    (unsigned long long)st_bytes, (unsigned long long)st_json,
	    ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

static void
request_done(struct conn *c)
{
	char sb[256];

	switch (c->kind) {
	case K_CAPTURE: {
		int64_t n = -1;

		if (!c->zbad && c->gzip_known && c->gzip)
			gunzip_body(c);
		else if (!c->gzip_known && c->nmagic == 1)
			json_bytes(c, c->magic, 1);
		if (!c->zbad)
			n = scan_result(&c->sc);
		if (c->zbad)
			answer(c, 400, "Bad Request", "{\"type\":\"validation_"
			    "error\",\"code\":\"request_decoding_error\","
			    "\"detail\":\"bad gzip\",\"status\":400}");
		else if (n <= 0)
			answer(c, 400, "Bad Request", "{\"type\":\"validation_"
			    "error\",\"code\":\"request_parsing_error\","
			    "\"detail\":\"not a JSON batch or event\","
			    "\"status\":400}");
		else {
			st_requests++;
			st_events += n;
			st_bytes += c->body;
			st_json += c->json;
			answer(c, 200, "OK", "{\"status\":\"Ok\"}");
		}
		break;
	}
	case K_FLAGS:
		answer(c, 200, "OK", "{\"errorsWhileComputingFlags\":false,"
		    "\"flags\":{},\"quotaLimited\":[],\"requestId\":"
		    "\"00000000-0000-0000-0000-000000000000\"}");
		break;
	case K_STATS:
		stats_body(sb, sizeof(sb));
		answer(c, 200, "OK", sb);
		break;
	case K_BADLEN:
		c->keep = 0;
		answer(c, 400, "Bad Request", "{\"detail\":\"bad request\"}");
		break;
	default:
		answer(c, 404, "Not Found", "{\"detail\":\"not found\"}");
		break;
	}
	int keep = c->keep;
	conn_reset(c);
	c->keep = keep;
}

static int
path_is(const char *path, size_t n, const char *want)
{
	size_t w = strlen(want);

	if (n == w + 1 && path[w] == '/')
		n = w;
	return n == w && memcmp(path, want, w) == 0;
}

/* The header block is in c->hdr[0..hlen), ending "\r\n\r\n". */
static void
parse_head(struct conn *c)
{
	char *h = c->hdr, *e = h + c->hlen, *sp1, *sp2, *eol, *q;
	int post, get, chunked = 0, has_len = 0, http10;
	uint64_t len = 0;

	eol = memchr(h, '\n', e - h);
	sp1 = memchr(h, ' ', eol - h);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', eol - sp1 - 1) : NULL;
	if (sp1 == NULL || sp2 == NULL) {
		c->kind = K_BADLEN;
		c->state = ST_BODY;
		c->left = 0;
		return;
	}
	post = sp1 - h == 4 && memcmp(h, "POST", 4) == 0;
	get = (sp1 - h == 3 && memcmp(h, "GET", 3) == 0) ||
	    (sp1 - h == 4 && memcmp(h, "HEAD", 4) == 0);
	http10 = sp2 + 9 <= eol && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
	c->keep = !http10;
	char *path = sp1 + 1;
	q = memchr(path, '?', sp2 - path);
	size_t plen = (q ? q : sp2) - path;
	if (post && (path_is(path, plen, "/batch") ||
	    path_is(path, plen, "/e") || path_is(path, plen, "/i/v0/e") ||
	    path_is(path, plen, "/capture") || path_is(path, plen, "/track")))
		c->kind = K_CAPTURE;
	else if (path_is(path, plen, "/flags") ||
	    path_is(path, plen, "/decide"))
		c->kind = K_FLAGS;
	else if (get && path_is(path, plen, "/_stats"))
		c->kind = K_STATS;
	else
		c->kind = K_OTHER;
	for (char *l = eol + 1; l < e; ) {
		char *le = memchr(l, '\n', e - l);
		if (le == NULL)
			break;
		size_t ll = le - l;
		if (ll >= 15 && strncasecmp(l, "Content-Length:", 15) == 0) {
			char *end;
			errno = 0;
			len = strtoull(l + 15, &end, 10);
			has_len = errno == 0 && end > l + 15;
		} else if (ll >= 18 && strncasecmp(l, "Transfer-Encoding:",
		    18) == 0 && memmem(l, ll, "chunked", 7) != NULL)
			chunked = 1;
		else if (ll >= 11 && strncasecmp(l, "Connection:", 11) == 0) {
			if (memmem(l, ll, "close", 5) != NULL)
				c->keep = 0;
			else if (memmem(l, ll, "eep-alive", 9) != NULL)
				c->keep = 1;
		} else if (ll >= 7 && strncasecmp(l, "Expect:", 7) == 0 &&
		    memmem(l, ll, "100-continue", 12) != NULL) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			c->out = realloc(c->out, c->olen + sizeof(cont) - 1);
			if (c->out == NULL)
				abort();
			memcpy(c->out + c->olen, cont, sizeof(cont) - 1);
			c->olen += sizeof(cont) - 1;
		}
		l = le + 1;
	}
	if (chunked) {
		c->state = ST_CHUNK_SIZE;
		c->llen = 0;
	} else {
		c->state = ST_BODY;
		c->left = has_len ? len : 0;
		if (post && !has_len && c->kind == K_CAPTURE)
			c->kind = K_BADLEN;
	}
}

/* Consume n input bytes; may finish requests (pipelined ones too). */
static void
conn_input(struct conn *c, const unsigned char *p, size_t n)
{
	while (n > 0 || (c->state == ST_BODY && c->left == 0)) {
		switch (c->state) {
		case ST_HDR: {
			size_t take = 0;
			int found = 0;
			/* append byte by byte until the blank line */
			while (take < n) {
				if (c->hlen == HDR_MAX) {
					c->kind = K_BADLEN;
					c->keep = 0;
					request_done(c);
					c->keep = 0;
					return;
				}
				c->hdr[c->hlen++] = p[take++];
				if (c->hlen >= 4 && memcmp(c->hdr + c->hlen - 4,
				    "\r\n\r\n", 4) == 0) {
					found = 1;
					break;
				}
			}
			p += take;
			n -= take;
			if (!found)
				return;
			parse_head(c);
			continue;
		}
		case ST_BODY: {
			size_t take = n < c->left ? n : (size_t)c->left;
			body_bytes(c, p, take);
			p += take;
			n -= take;
			c->left -= take;
			if (c->left == 0)
				request_done(c);
			if (!c->keep)
				return;
			continue;
		}
		case ST_CHUNK_SIZE:
			while (n > 0) {
				unsigned char ch = *p++;
				n--;
				if (ch == '\n') {
					c->line[c->llen < sizeof(c->line) ?
					    c->llen : sizeof(c->line) - 1] = 0;
					c->left = strtoull(c->line, NULL, 16);
					c->llen = 0;
					c->state = c->left ? ST_CHUNK_DATA :
					    ST_TRAILER;
					break;
				}
				if (c->llen < sizeof(c->line) - 1)
					c->line[c->llen++] = ch;
			}
			continue;
		case ST_CHUNK_DATA: {
			size_t take = n < c->left ? n : (size_t)c->left;
			body_bytes(c, p, take);
			p += take;
			n -= take;
			c->left -= take;
			if (c->left == 0) {
				c->state = ST_CHUNK_CRLF;
				c->llen = 0;
			}
			continue;
		}
		case ST_CHUNK_CRLF:
			while (n > 0) {
				unsigned char ch = *p++;
				n--;
				if (ch == '\n') {
					c->state = ST_CHUNK_SIZE;
					break;
				}
			}
			continue;
		case ST_TRAILER:
			/* lines until an empty one */
			while (n > 0) {
				unsigned char ch = *p++;
				n--;
				if (ch == '\n') {
					if (c->llen == 0) {
						c->state = ST_BODY;
						c->left = 0;
						break;
					}
					c->llen = 0;
				} else if (ch != '\r')
					c->llen++;
			}
			if (c->state == ST_BODY)
				continue;
			return;
		}
	}
}

/* Write what can be written: 0, or -1 to close. */
static int
conn_flush(struct conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t w = send(c->fd, c->out + c->ooff, c->olen - c->ooff,
		    MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c->ooff += w;
	}
	c->olen = c->ooff = 0;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: sink [--port N] [--port-file FILE] "
	    "[--quiet]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *port_file = NULL;
	int port = 0, quiet = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--quiet") == 0 ||
		    strcmp(argv[i], "-q") == 0)
			quiet = 1;
		else
			usage();
	}
	tables();
	if ((dec = libdeflate_alloc_decompressor()) == NULL)
		abort();
	zcap = CHUNK;
	if ((zbuf = malloc(CHUNK)) == NULL)
		abort();

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons(port) };
	socklen_t sl = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(ls, 128) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) == -1) {
		perror("sink: listen");
		return 1;
	}
	port = ntohs(sa.sin_port);

	sigset_t block, none;
	struct sigaction act = { .sa_handler = on_signal };
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &none);
	sigdelset(&none, SIGTERM);
	sigdelset(&none, SIGINT);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (port_file != NULL) {
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.tmp%ld", port_file,
		    (long)getpid());
		if ((f = fopen(tmp, "w")) == NULL ||
		    fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0) {
			perror(port_file);
			return 1;
		}
	}
	printf("listening 127.0.0.1:%d\n", port);
	fflush(stdout);

	struct conn **cs = NULL;
	struct pollfd *pf = NULL;
	size_t nc = 0, cap = 0;
	unsigned char *rbuf = malloc(CHUNK);

	if (rbuf == NULL)
		abort();
	while (!stop) {
		if (cap < nc + 1) {
			cap = cap ? cap * 2 : 16;
			cs = realloc(cs, cap * sizeof(*cs));
			pf = realloc(pf, cap * sizeof(*pf));
			if (cs == NULL || pf == NULL)
				abort();
		}
		pf[0].fd = ls;
		pf[0].events = POLLIN;
		for (size_t i = 0; i < nc; i++) {
			pf[i + 1].fd = cs[i]->fd;
			pf[i + 1].events = cs[i]->olen > cs[i]->ooff ?
			    POLLOUT : POLLIN;
		}
		int r = ppoll(pf, nc + 1, NULL, &none);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("sink: poll");
			return 1;
		}
		size_t n0 = nc;
		for (size_t i = 0; i < n0; i++) {
			struct conn *c = cs[i];
			short re = pf[i + 1].revents;
			int dead = 0;

			if (re == 0)
				continue;
			if (c->olen > c->ooff) {
				if (conn_flush(c) == -1)
					dead = 1;
				else if (c->olen == 0 && !c->keep)
					dead = 1;
			} else if (re & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t got = recv(c->fd, rbuf, CHUNK, 0);
				if (got == 0 || (got < 0 && errno != EAGAIN &&
				    errno != EINTR))
					dead = 1;
				else if (got > 0) {
					conn_input(c, rbuf, got);
					if (conn_flush(c) == -1)
						dead = 1;
					else if (c->olen == 0 && !c->keep)
						dead = 1;
				}
			}
			if (dead) {
				conn_free(c);
				cs[i] = NULL;
			}
		}
		size_t k = 0;
		for (size_t i = 0; i < nc; i++)
			if (cs[i] != NULL)
				cs[k++] = cs[i];
		nc = k;
		if (pf[0].revents & POLLIN) {
			for (;;) {
				int fd = accept4(ls, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					break;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				if (cap < nc + 2) {
					cap *= 2;
					cs = realloc(cs, cap * sizeof(*cs));
					pf = realloc(pf, cap * sizeof(*pf));
					if (cs == NULL || pf == NULL)
						abort();
				}
				struct conn *c = calloc(1, sizeof(*c));
				if (c == NULL || (c->hdr = malloc(HDR_MAX)) ==
				    NULL)
					abort();
				c->fd = fd;
				conn_reset(c);
				cs[nc++] = c;
			}
		}
	}
	for (size_t i = 0; i < nc; i++)
		conn_free(cs[i]);
	free(cs);
	free(pf);
	free(rbuf);
	free(zbuf);
	close(ls);
	if (!quiet) {
		char sb[256];
		stats_body(sb, sizeof(sb));
		fprintf(stderr, "sink: %s\n", sb);
	}
	return 0;
}
