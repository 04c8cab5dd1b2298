/* gunzip: streaming gzip decompression over a src. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gunzip.h"
#include "xalloc.h"

#define GZ_INBUF	(256 * 1024)

struct gzsrc {
	struct src	 s;
	struct src	*in;
	z_stream	 z;
	unsigned char	*buf;
	int		 eof;		/* inner source exhausted */
	int		 between;	/* a member ended; another may follow */
	int		 done;
	int		 failed;	/* error seen; report after the bytes */
	uint64_t	 members;
	uint64_t	 inpos;		/* bytes read from in */
	uint64_t	 out;		/* bytes handed out */
};

int
gzip_magic(const unsigned char *p, size_t n)
{
	return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

static int
fill(struct gzsrc *g)
{
	ssize_t n;

	if (g->z.avail_in > 0 || g->eof)
		return 0;
	if ((n = src_read(g->in, g->buf, GZ_INBUF)) == -1) {
		src_seterr(&g->s, "%s", g->in->errmsg);
		return -1;
	}
	if (n == 0)
		g->eof = 1;
	g->inpos += n;
	g->z.next_in = g->buf;
	g->z.avail_in = n;
	return 0;
}

/*
 * After a member's end: another gzip member, or zero padding (some
 * tools pad to a block size), or the end.  Anything else is damage.
 */
static int
next_member(struct gzsrc *g)
{
	for (;;) {
		if (fill(g) == -1)
			return -1;
		while (g->z.avail_in > 0 && *g->z.next_in == 0) {
			g->z.next_in++;
			g->z.avail_in--;
		}
		if (g->z.avail_in > 0)
			break;
		if (g->eof) {
			g->done = 1;
			return 0;
		}
	}
	if (g->z.next_in[0] != 0x1f) {
		src_seterr(&g->s, "trailing garbage after gzip member %llu",
		    (unsigned long long)g->members);
		return -1;
	}
	if (inflateReset(&g->z) != Z_OK) {
		src_seterr(&g->s, "inflateReset failed");
		return -1;
	}
	g->between = 0;
	return 0;
}

static ssize_t
gzsrc_read(struct src *s, unsigned char *out, size_t len)
{
	struct gzsrc *g = (struct gzsrc *)s;
	int r;

	if (g->failed)
		return -1;
	for (;;) {
		if (g->done)
			return 0;
		if (g->between) {
			if (next_member(g) == -1)
				return -1;
			continue;
		}
		if (fill(g) == -1)
			return -1;
		g->z.next_out = out;
		g->z.avail_out = len > UINT_MAX ? UINT_MAX : len;
		r = inflate(&g->z, Z_NO_FLUSH);
		if (r == Z_STREAM_END) {
			g->members++;
			g->between = 1;
		} else if (r == Z_DATA_ERROR) {
			src_seterr(s, "corrupt gzip data: %s",
			    g->z.msg ? g->z.msg : "data error");
			g->failed = 1;
		} else if (r == Z_MEM_ERROR) {
			src_seterr(s, "out of memory in inflate");
			g->failed = 1;
		} else if (r != Z_OK && r != Z_BUF_ERROR) {
			src_seterr(s, "inflate error %d", r);
			g->failed = 1;
		}
		size_t got = (unsigned char *)g->z.next_out - out;
		g->out += got;
		/*
		 * A member whose trailer matched is good if its input was:
		 * the inner src must have verified every byte inflate took.
		 */
		if (r == Z_STREAM_END &&
		    g->in->verified >= g->inpos - g->z.avail_in)
			g->s.verified = g->out;
		/* Bytes before the damage go out first, never verified. */
		if (g->failed)
			return got > 0 ? (ssize_t)got : -1;
		if (got > 0)
			return got;
		if (!g->between && g->z.avail_in == 0 && g->eof) {
			if (g->members == 0 && g->z.total_in == 0)
				src_seterr(s, "empty gzip stream");
			else
				src_seterr(s, "truncated gzip stream "
				    "(member %llu ends early)",
				    (unsigned long long)g->members + 1);
			return -1;
		}
	}
}

static void
gzsrc_free(struct src *s)
{
	struct gzsrc *g = (struct gzsrc *)s;

	inflateEnd(&g->z);
	src_free(g->in);
	free(g->buf);
	free(g);
}

struct src *
src_gunzip(struct src *inner)
{
	struct gzsrc *g = xcalloc(1, sizeof(*g));

	g->s.read = gzsrc_read;
	g->s.free = gzsrc_free;
	g->in = inner;
	g->buf = xmalloc(GZ_INBUF);
	/* 16 + MAX_WBITS: gzip wrapper only, so a zlib stream is an error. */
	if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK)
		abort();
	return &g->s;
}
