/*
 * gunzip: a src that decompresses a gzip stream read from another src.
 * Handles multi-member files (concatenated gzip, as `cat a.gz b.gz`
 * makes) and reports a truncated stream or bad checksum as an error
 * rather than a short read, so a partial member is never silent.
 * The bytes of a member count as verified (struct src) once its trailer
 * (CRC-32 and length) matched and the inner src vouches for the input
 * up to there: a file does, a zip member only at its own end.
 */
#ifndef GUNZIP_H
#define GUNZIP_H
#include "src.h"

/* Takes ownership of inner. */
struct src	*src_gunzip(struct src *inner);
/* True if buf (at least 2 bytes) starts a gzip stream. */
int		 gzip_magic(const unsigned char *, size_t);

#endif
