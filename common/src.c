/* src: the byte-source interface and its plain file-descriptor reader. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src.h"
#include "xalloc.h"

uint64_t src_raw_bytes;

struct fdsrc {
	struct src	 s;
	int		 fd;
};

static ssize_t
fdsrc_read(struct src *s, unsigned char *buf, size_t len)
{
	struct fdsrc *f = (struct fdsrc *)s;
	ssize_t n;

	do
		n = read(f->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		src_seterr(s, "read: %s", strerror(errno));
		return -1;
	}
	src_raw_bytes += n;
	s->verified += n;	/* a file has no checksum to wait for */
	return n;
}

static void
fdsrc_free(struct src *s)
{
	free(s);
}

/* The fd stays open: its owner closes it. */
struct src *
src_fd(int fd)
{
	struct fdsrc *f = xcalloc(1, sizeof(*f));

	f->s.read = fdsrc_read;
	f->s.free = fdsrc_free;
	f->fd = fd;
	return &f->s;
}

ssize_t
src_read(struct src *s, unsigned char *buf, size_t len)
{
	return s->read(s, buf, len);
}

/* Read until len bytes or the end; short only at the end. */
ssize_t
src_read_full(struct src *s, unsigned char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = s->read(s, buf + got, len - got)) == -1)
			return -1;
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

void
src_free(struct src *s)
{
	if (s != NULL)
		s->free(s);
}

void
src_seterr(struct src *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

/* A src that yields saved bytes first, then the rest of inner. */
struct prefixsrc {
	struct src	 s;
	struct src	*in;
	unsigned char	 pre[16];
	size_t		 n, off;
};

static ssize_t
prefixsrc_read(struct src *s, unsigned char *buf, size_t len)
{
	struct prefixsrc *p = (struct prefixsrc *)s;
	ssize_t n;

	/* The saved bytes are inner's first: offsets are inner's too. */
	if (p->off < p->n) {
		n = p->n - p->off < len ? p->n - p->off : len;
		memcpy(buf, p->pre + p->off, n);
		p->off += n;
		s->verified = p->in->verified;
		return n;
	}
	if ((n = src_read(p->in, buf, len)) == -1)
		src_seterr(s, "%s", p->in->errmsg);
	s->verified = p->in->verified;
	return n;
}

static void
prefixsrc_free(struct src *s)
{
	struct prefixsrc *p = (struct prefixsrc *)s;

	src_free(p->in);
	free(p);
}

/*
 * Peek at the first bytes of inner (up to 16) without losing them:
 * *out becomes a src that yields them again.  Returns how many were
 * read, or -1 on error (message in inner->errmsg).
 */
ssize_t
src_peek(struct src *inner, unsigned char *head, size_t want,
    struct src **out)
{
	struct prefixsrc *p;
	ssize_t n;

	if (want > sizeof(p->pre))
		want = sizeof(p->pre);
	if ((n = src_read_full(inner, head, want)) == -1)
		return -1;
	p = xcalloc(1, sizeof(*p));
	p->s.read = prefixsrc_read;
	p->s.free = prefixsrc_free;
	p->in = inner;
	memcpy(p->pre, head, n);
	p->n = n;
	*out = &p->s;
	return n;
}
