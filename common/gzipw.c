/* gzipw: one-shot in-memory gzip compression with zlib. */
#include <string.h>
#include <zlib.h>

#include "gzipw.h"

int
gzip_compress(struct buf *out, const char *in, size_t len, int level)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	/* 16 + MAX_WBITS: a gzip header and trailer around the deflate data. */
	if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	out->len = 0;
	buf_grow(out, deflateBound(&z, len));
	z.next_in = (unsigned char *)in;
	z.avail_in = len;
	z.next_out = (unsigned char *)out->p;
	z.avail_out = out->cap;
	r = deflate(&z, Z_FINISH);
	out->len = out->cap - z.avail_out;
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}
