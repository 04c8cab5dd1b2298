/*
 * Unit checks of common/rejects: what rejects_add writes reads back as
 * what was refused, as a JSON string when it is valid UTF-8 and as base64
 * (decoded with rejects_unbase64) when it is not.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "buf.h"
#include "rejects.h"
#include "tap.h"

struct input {
	const char	*file;
	uint64_t	 line;
	const char	*reason;
	const char	*s;
	size_t		 n;
	int		 status;
};

static const char *
text(yajl_val o, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_string);

	return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

static int
number(yajl_val o, const char *key, long long *out)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_number);

	if (v == NULL || !YAJL_IS_INTEGER(v))
		return -1;
	*out = YAJL_GET_INTEGER(v);
	return 0;
}

static void
unb64(const char *s, const char *want, size_t wn, const char *what)
{
	struct buf b = { 0 };

	rejects_unbase64(&b, s, strlen(s));
	if (!ok(b.len == wn && (wn == 0 || memcmp(b.p, want, wn) == 0),
	    "rejects_unbase64: %s", what))
		diag("\"%s\": %zu bytes, want %zu", s, b.len, wn);
	buf_free(&b);
}

int
main(void)
{
	static const char bin[] = "\xff\x00\x80\xfe\xc3";
	static const char nul[] = "a\0b";
	char big_bad[3000];
	const struct input in[] = {
		{ "a.ndjson", 1, "not JSON", "{oops", 5, 0 },
		{ "dir/b \"q\".ndjson", 42, "too big", "{\"event\":\"x\"}", 13,
		    413 },
		{ "-", 0, "bad UTF-8", "caf\xe9", 4, 0 },
		{ "c", UINT64_MAX, "empty", "", 0, 0 },
		{ "d", 7, "binary", bin, sizeof(bin) - 1, 400 },
		{ "e", 8, "binary 1", "\xff", 1, 0 },
		{ "f", 9, "binary 2", "\xff\xfe", 2, 0 },
		{ "g", 10, "binary 3", "\xff\xfe\xfd", 3, 0 },
		{ "h", 11, "NUL", nul, 3, 0 },
		{ "i\n", 12, "line\nbreak\t\"quoted\"\\", "\"\\\n\r\t\x01",
		    6, 503 },
		{ "j", 13, "utf-8", "\xe2\x82\xac \xf0\x9f\x98\x80", 8, 0 },
		{ "k", 14, "long binary", big_bad, sizeof(big_bad), 0 },
	};
	size_t nin = sizeof(in) / sizeof(in[0]);
	char path[] = "/tmp/amp2ph-unit-rejects-XXXXXX";
	struct rejects r;
	int fd;

	for (size_t i = 0; i < sizeof(big_bad); i++)
		big_bad[i] = (char)(i * 7 + 0x80);

	/* rejects_unbase64 alone. */
	unb64("", "", 0, "empty");
	unb64("TWFu", "Man", 3, "three bytes");
	unb64("TWE=", "Ma", 2, "two bytes, one =");
	unb64("TQ==", "M", 1, "one byte, two =");
	unb64("TWE", "Ma", 2, "padding left out");
	unb64("TW\nFu", "Man", 3, "a line break inside");
	unb64("/+8=", "\xff\xef", 2, "+ and /");
	unb64("AP8A", "\0\xff\0", 3, "NUL bytes");

	/* Without a path: counted, nothing written. */
	rejects_open(&r, NULL);
	rejects_add(&r, "x", 1, "why", "abc", 3, 0);
	rejects_add(&r, "x", 2, "why", "\xff", 1, 0);
	ok(r.count == 2, "no file: rejects are still counted");
	ok(rejects_close(&r) == 0, "no file: rejects_close is 0");

	if ((fd = mkstemp(path)) == -1) {
		ok(0, "mkstemp");
		return tap_done();
	}
	close(fd);
	rejects_open(&r, path);
	for (size_t i = 0; i < nin; i++)
		rejects_add(&r, in[i].file, in[i].line, in[i].reason, in[i].s,
		    in[i].n, in[i].status);
	ok(r.count == nin, "rejects_add counts each rejection");
	ok(rejects_close(&r) == 0, "rejects_close is 0");

	/* Read back, one JSON object a line, in order. */
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, k = 0;
	ssize_t len;

	while (fp != NULL && (len = getline(&line, &cap, fp)) > 0) {
		char errbuf[256];
		const struct input *w = k < nin ? &in[k] : NULL;
		yajl_val o;

		if (w == NULL) {
			ok(0, "an extra line: %s", line);
			break;
		}
		if (!ok(line[len - 1] == '\n' &&
		    memchr(line, '\n', len - 1) == NULL,
		    "line %zu is one line", k + 1))
			diag("%s", line);
		o = yajl_tree_parse(line, errbuf, sizeof(errbuf));
		if (!ok(o != NULL && YAJL_IS_OBJECT(o), "line %zu is a JSON "
		    "object", k + 1)) {
			diag("%s: %s", errbuf, line);
			k++;
			continue;
		}
		const char *f = text(o, "file"), *why = text(o, "reason");
		const char *s = text(o, "input"), *b64 = text(o, "input_base64");
		long long ln = -1, st = 0;
		const char *p[] = { "status", NULL };
		int has_status = yajl_tree_get(o, p, yajl_t_any) != NULL;

		ok(f != NULL && strcmp(f, w->file) == 0, "line %zu: file", k + 1);
		ok(w->line > INT64_MAX || (number(o, "line", &ln) == 0 &&
		    (uint64_t)ln == w->line), "line %zu: line number", k + 1);
		if (w->line > INT64_MAX)
			ok(strstr(line, "\"line\":18446744073709551615") != NULL,
			    "line %zu: a line number past INT64_MAX", k + 1);
		ok(why != NULL && strcmp(why, w->reason) == 0,
		    "line %zu: reason", k + 1);
		if (w->status != 0)
			ok(number(o, "status", &st) == 0 && st == w->status,
			    "line %zu: status %d", k + 1, w->status);
		else
			ok(!has_status, "line %zu: no status when it is 0",
			    k + 1);
		if (utf8_valid(w->s, w->n)) {
			ok(b64 == NULL && s != NULL,
			    "line %zu: valid UTF-8 is kept as \"input\"", k + 1);
			if (memchr(w->s, '\0', w->n) != NULL) {
				/* yajl's strings end at a NUL: check the text. */
				ok(strstr(line, "\"input\":\"a\\u0000b\"") !=
				    NULL, "line %zu: a NUL is \\u0000", k + 1);
			} else
				ok(s != NULL && strlen(s) == w->n &&
				    memcmp(s, w->s, w->n) == 0,
				    "line %zu: the input reads back", k + 1);
		} else {
			struct buf d = { 0 };

			ok(s == NULL && b64 != NULL,
			    "line %zu: other bytes are kept as \"input_base64\"",
			    k + 1);
			if (b64 != NULL) {
				size_t bl = strlen(b64), pad = 0;
				for (size_t i = 0; i < bl; i++)
					if (b64[i] == '=')
						pad++;
				ok(bl % 4 == 0 && bl == (w->n + 2) / 3 * 4 &&
				    pad == (3 - w->n % 3) % 3,
				    "line %zu: base64 with its padding", k + 1);
				rejects_unbase64(&d, b64, bl);
			}
			ok(d.len == w->n && memcmp(d.p, w->s, w->n) == 0,
			    "line %zu: the bytes read back (%zu of %zu)", k + 1,
			    d.len, w->n);
			buf_free(&d);
		}
		yajl_tree_free(o);
		k++;
	}
	ok(fp != NULL && k == nin, "%zu lines for %zu rejections", k, nin);
	free(line);
	line = NULL;
	cap = 0;
	if (fp != NULL)
		fclose(fp);

	/* The file is appended to, never truncated. */
	rejects_open(&r, path);
	rejects_add(&r, "z", 1, "again", "x", 1, 0);
	ok(r.count == 1 && rejects_close(&r) == 0, "reopened: one more");
	fp = fopen(path, "r");
	k = 0;
	while (fp != NULL && getline(&line, &cap, fp) > 0)
		k++;
	ok(k == nin + 1, "rejects_open appends to an existing file");
	free(line);
	if (fp != NULL)
		fclose(fp);
	unlink(path);

	/*
	 * A file name that is not UTF-8 (or a reason ph-batch cut from an
	 * answer's body with %.300s, in the middle of a character) must
	 * still make a line of JSON text, which every reader (jq, yajl,
	 * ph-report) takes: rejects_add puts them through utf8_clean, as
	 * amp-unpack --list's names are.
	 */
	{
		char p2[] = "/tmp/amp2ph-unit-rejects-XXXXXX", *l = NULL;
		size_t c2 = 0;
		ssize_t n2;

		if ((fd = mkstemp(p2)) == -1) {
			ok(0, "mkstemp");
			return tap_done();
		}
		close(fd);
		rejects_open(&r, p2);
		rejects_add(&r, "caf\xe9.ndjson", 3, "PostHog refused the "
		    "event (400): caf\xc3\xa9 \xe2\x82", "{}", 2, 400);
		rejects_close(&r);
		fp = fopen(p2, "r");
		n2 = fp != NULL ? getline(&l, &c2, fp) : -1;
		if (n2 > 0) {
			char errbuf[256] = "";
			yajl_val o = yajl_tree_parse(l, errbuf, sizeof(errbuf));
			const char *f = o != NULL ? text(o, "file") : NULL;

			if (!ok(utf8_valid(l, n2) && o != NULL,
			    "rejects_add: a file name "
			    "and a reason that are not UTF-8 still make a JSON "
			    "line"))
			{
				struct buf e = { 0 };
				for (ssize_t i = 0; i < n2 && l[i] != '\n'; i++)
					if ((unsigned char)l[i] < 0x80)
						buf_addc(&e, l[i]);
					else
						buf_printf(&e, "\\x%02x",
						    (unsigned char)l[i]);
				buf_addc(&e, '\0');
				errbuf[strcspn(errbuf, "\n")] = '\0';
				diag("%s: %s", errbuf, e.p);
				buf_free(&e);
			}
			ok(f != NULL && strncmp(f, "caf", 3) == 0 &&
			    strlen(f) > 10 && strcmp(f + strlen(f) - 7,
			    ".ndjson") == 0, "... and the file name "
			    "reads back, its bad byte replaced");
			yajl_tree_free(o);
		} else
			ok(0, "the line was written");
		free(l);
		if (fp != NULL)
			fclose(fp);
		unlink(p2);
	}

	/*
	 * A file torn by a kill (its last line has no newline) is mended
	 * before appending: the torn line stays alone on its line and the
	 * new one is whole.  A file that ends in a newline gets nothing.
	 */
	{
		static const char torn[] = "{\"file\":\"a\",\"li";
		char p3[] = "/tmp/amp2ph-unit-rejects-XXXXXX", got[256];
		const char *want = "{\"file\":\"a\",\"li\n{\"file\":\"m\","
		    "\"line\":1,\"reason\":\"r\",\"input\":\"x\"}\n";
		ssize_t n3;

		if ((fd = mkstemp(p3)) == -1 ||
		    write(fd, torn, sizeof(torn) - 1) != sizeof(torn) - 1) {
			ok(0, "mkstemp");
			return tap_done();
		}
		close(fd);
		rejects_open(&r, p3);
		rejects_add(&r, "m", 1, "r", "x", 1, 0);
		rejects_close(&r);
		fd = open(p3, O_RDONLY);
		n3 = fd != -1 ? read(fd, got, sizeof(got) - 1) : -1;
		got[n3 > 0 ? n3 : 0] = '\0';
		if (fd != -1)
			close(fd);
		if (!ok(n3 == (ssize_t)strlen(want) && strcmp(got, want) == 0,
		    "a torn last line is ended before appending"))
			diag("%s", got);
		rejects_open(&r, p3);
		rejects_add(&r, "m", 1, "r", "x", 1, 0);
		rejects_close(&r);
		fd = open(p3, O_RDONLY);
		n3 = fd != -1 ? read(fd, got, sizeof(got) - 1) : -1;
		if (fd != -1)
			close(fd);
		ok(n3 == (ssize_t)(2 * strlen(want) - sizeof(torn)),
		    "a whole last line gets no newline more");
		unlink(p3);
	}
	return tap_done();
}
