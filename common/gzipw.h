/*
 * gzipw: compress a request body into gzip format in memory.  Capture
 * detects gzip by its magic bytes; compressing cuts a migration's upload
 * several times over for the price of a little CPU.
 */
#ifndef GZIPW_H
#define GZIPW_H
#include <stddef.h>

#include "buf.h"

/* Replace out's contents with the gzip of in; 0, or -1 on zlib error. */
int	gzip_compress(struct buf *out, const char *in, size_t len, int level);

#endif
