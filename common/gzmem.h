/*
 * gzmem: gzip of whole buffers in memory, with libdeflate (the only
 * module that calls it).  ph-batch compresses each request body: capture
 * detects gzip by its magic bytes, and compressing cuts a migration's
 * upload several times over for a little CPU.  amp-unpack decompresses a
 * small zip member in one go (scripts/bench: amp-unpack from 1.85x to
 * 4.3x zcat's rate); common/gunzip streams everything else and words
 * the errors.
 */
#ifndef GZMEM_H
#define GZMEM_H
#include <stddef.h>

#include "buf.h"

/*
 * Replace out's contents with the gzip of in; 0, or -1 on an error.  Any
 * thread may call it; gzip_compress_end frees what the calling thread's
 * calls kept.
 */
int	gzip_compress(struct buf *out, const char *in, size_t len, int level);
void	gzip_compress_end(void);
/*
 * Replace out's contents with the data of the gzip members in in, each
 * checked (CRC-32 and length): 0, or -1 when in is not whole, good gzip
 * (no trailing bytes), or its data would be over max bytes (a last
 * member whose trailer says so is refused before any work).  -1 says
 * nothing more: a reader that must say what is wrong reads it again
 * with common/gunzip.  One thread at a time.
 */
int	gzip_decompress(struct buf *out, const unsigned char *in, size_t len,
	    size_t max);

#endif
