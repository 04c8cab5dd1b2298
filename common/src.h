/*
 * src: a pull-based byte source.  Readers stack: a file, a zip member on
 * top of the archive file, a gunzip stream on top of either.  Each layer
 * reports its own errors in words that name what went wrong, so the
 * program can say "archive: member: truncated gzip stream".
 */
#ifndef SRC_H
#define SRC_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct src {
	/* Bytes read into buf, 0 at the end, -1 on error (see errmsg). */
	ssize_t	(*read)(struct src *, unsigned char *, size_t);
	void	(*free)(struct src *);
	/*
	 * How many of the bytes read so far have passed every check of
	 * this layer and the ones below it: a reader that must never pass
	 * on bad data holds the rest.  A file has nothing to check, so all
	 * of it counts; a zip member counts once its CRC-32 and size
	 * matched, a gzip stream at the end of each good member.  A layer
	 * that leaves it 0 is checked only at its end: a read of 0.
	 */
	uint64_t verified;
	char	errmsg[256];
};

/* Total bytes read from disk or pipes by every src, for progress. */
extern uint64_t src_raw_bytes;

struct src	*src_fd(int fd);
ssize_t		 src_read(struct src *, unsigned char *, size_t);
ssize_t		 src_read_full(struct src *, unsigned char *, size_t);
void		 src_free(struct src *);
ssize_t		 src_peek(struct src *, unsigned char *, size_t, struct src **);
void		 src_seterr(struct src *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
