/*
 * gzipw: one-shot in-memory gzip compression with libdeflate, the only
 * file that calls it.  A request body is whole in memory before it is
 * sent, which is the case libdeflate is made for: at level 1 it
 * compresses about three times faster than zlib's level 1, to a
 * smaller body, and the body's compression was a third of ph-batch's
 * CPU (scripts/bench).
 */
#include <libdeflate.h>
#include <string.h>

#include "gzipw.h"

int
gzip_compress(struct buf *out, const char *in, size_t len, int level)
{
	/* One compressor a level, kept: making one costs more than a body. */
	static struct libdeflate_compressor *c[13];
	size_t n;

	if (level < 1 || level > 12)
		return -1;
	if (c[level] == NULL &&
	    (c[level] = libdeflate_alloc_compressor(level)) == NULL)
		return -1;
	out->len = 0;
	buf_grow(out, libdeflate_gzip_compress_bound(c[level], len));
	n = libdeflate_gzip_compress(c[level], in, len, out->p, out->cap);
	if (n == 0)
		return -1;
	out->len = n;
	return 0;
}
