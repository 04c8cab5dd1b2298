/* zip: central-directory zip reader with zip64 and local-header recovery. */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "xalloc.h"
#include "zip.h"

#define SIG_LOCAL	0x04034b50
#define SIG_CENTRAL	0x02014b50
#define SIG_EOCD	0x06054b50
#define SIG_EOCD64	0x06064b50
#define SIG_LOC64	0x07064b50
#define SIG_DESC	0x08074b50
#define EOCD_LEN	22
#define CENTRAL_LEN	46
#define LOCAL_LEN	30
#define ZIPBUF		(256 * 1024)

static uint16_t
le16(const unsigned char *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const unsigned char *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

int
zip_magic(const unsigned char *p, size_t n)
{
	return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

/* pread exactly n bytes at off; -1 on error or short file. */
static int
readat(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, off + got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static void
seterr(char *err, size_t len, const char *msg)
{
	snprintf(err, len, "%s", msg);
}

/* Apply a zip64 extended-information extra field to 0xFFFFFFFF values. */
static void
zip64_extra(const unsigned char *x, size_t xlen, uint64_t *usize,
    uint64_t *csize, uint64_t *offset)
{
	while (xlen >= 4) {
		uint16_t id = le16(x), len = le16(x + 2);
		const unsigned char *d = x + 4, *end;

		if ((size_t)len + 4 > xlen)
			return;
		end = d + len;
		if (id == 0x0001) {
			if (usize && *usize == 0xFFFFFFFF && d + 8 <= end) {
				*usize = le64(d);
				d += 8;
			}
			if (csize && *csize == 0xFFFFFFFF && d + 8 <= end) {
				*csize = le64(d);
				d += 8;
			}
			if (offset && *offset == 0xFFFFFFFF && d + 8 <= end)
				*offset = le64(d);
			return;
		}
		x += 4 + len;
		xlen -= 4 + len;
	}
}

static int
has_zip64_extra(const unsigned char *x, size_t xlen)
{
	while (xlen >= 4) {
		uint16_t len = le16(x + 2);

		if (le16(x) == 0x0001)
			return 1;
		if ((size_t)len + 4 > xlen)
			return 0;
		x += 4 + len;
		xlen -= 4 + len;
	}
	return 0;
}

/* Find the end of central directory; 0 and *cdoff, *cdsize, *n set. */
static int
find_eocd(struct zip *z, uint64_t *cdoff, uint64_t *cdsize, uint64_t *n)
{
	size_t tail = z->size < 65535 + EOCD_LEN ? z->size : 65535 + EOCD_LEN;
	unsigned char *buf, *p;
	uint64_t base = z->size - tail;

	if (z->size < EOCD_LEN)
		return -1;
	buf = xmalloc(tail);
	if (readat(z->fd, buf, tail, base) == -1) {
		free(buf);
		return -1;
	}
	for (p = buf + tail - EOCD_LEN; p >= buf; p--) {
		if (le32(p) != SIG_EOCD)
			continue;
		/* The comment must reach exactly to the end of the file. */
		if ((size_t)(p - buf) + EOCD_LEN + le16(p + 20) != tail)
			continue;
		*n = le16(p + 10);
		*cdsize = le32(p + 12);
		*cdoff = le32(p + 16);
		uint64_t eocd = base + (p - buf);
		unsigned char loc[20], e64[56];
		if (eocd >= 20 && readat(z->fd, loc, 20, eocd - 20) == 0 &&
		    le32(loc) == SIG_LOC64) {
			uint64_t off64 = le64(loc + 8);
			if (readat(z->fd, e64, 56, off64) == 0 &&
			    le32(e64) == SIG_EOCD64) {
				*n = le64(e64 + 32);
				*cdsize = le64(e64 + 40);
				*cdoff = le64(e64 + 48);
			}
		}
		free(buf);
		return 0;
	}
	free(buf);
	return -1;
}

static int
read_central(struct zip *z, uint64_t cdoff, uint64_t cdsize, uint64_t n,
    char *err, size_t errlen)
{
	unsigned char *cd, *p, *end;
	size_t i;

	if (cdoff > z->size || cdsize > z->size - cdoff) {
		seterr(err, errlen, "central directory lies outside the file "
		    "(truncated or corrupt archive)");
		return -1;
	}
	if (n > cdsize / CENTRAL_LEN) {
		seterr(err, errlen, "corrupt central directory (entry count)");
		return -1;
	}
	cd = xmalloc(cdsize ? cdsize : 1);
	if (readat(z->fd, cd, cdsize, cdoff) == -1) {
		free(cd);
		seterr(err, errlen, "cannot read central directory");
		return -1;
	}
	z->ent = xcalloc(n ? n : 1, sizeof(*z->ent));
	p = cd;
	end = cd + cdsize;
	for (i = 0; i < n; i++) {
		struct zip_entry *e = &z->ent[i];
		uint16_t nlen, xlen, clen;

		if (end - p < CENTRAL_LEN || le32(p) != SIG_CENTRAL)
			goto bad;
		nlen = le16(p + 28);
		xlen = le16(p + 30);
		clen = le16(p + 32);
		if ((size_t)(end - p) < (size_t)CENTRAL_LEN + nlen + xlen + clen)
			goto bad;
		e->flags = le16(p + 8);
		e->method = le16(p + 10);
		e->crc = le32(p + 16);
		e->csize = le32(p + 20);
		e->usize = le32(p + 24);
		e->offset = le32(p + 42);
		e->name = xstrndup((char *)p + CENTRAL_LEN, nlen);
		zip64_extra(p + CENTRAL_LEN + nlen, xlen, &e->usize, &e->csize,
		    &e->offset);
		z->nent = i + 1;
		p += CENTRAL_LEN + nlen + xlen + clen;
	}
	free(cd);
	return 0;
bad:
	free(cd);
	seterr(err, errlen, "corrupt central directory entry");
	return -1;
}

/*
 * Skip over a deflate stream starting at off to learn its compressed
 * length, for members written with a data descriptor and no sizes.
 */
static int
deflate_length(struct zip *z, uint64_t off, uint64_t *len)
{
	unsigned char *in = xmalloc(ZIPBUF), *out = xmalloc(ZIPBUF);
	z_stream zs;
	int r = Z_OK, ret = -1;
	uint64_t pos = off;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
		abort();
	while (r != Z_STREAM_END) {
		if (zs.avail_in == 0) {
			size_t want = ZIPBUF;
			if (pos >= z->size)
				goto out;
			if (z->size - pos < want)
				want = z->size - pos;
			if (readat(z->fd, in, want, pos) == -1)
				goto out;
			pos += want;
			zs.next_in = in;
			zs.avail_in = want;
		}
		zs.next_out = out;
		zs.avail_out = ZIPBUF;
		r = inflate(&zs, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END)
			goto out;
	}
	*len = zs.total_in;
	ret = 0;
out:
	inflateEnd(&zs);
	free(in);
	free(out);
	return ret;
}

/*
 * No usable central directory: walk the local headers from the start.
 * Members that are complete are kept; the first damaged one is kept
 * with its damage noted, so the caller reports it by name.
 */
static int
walk_local(struct zip *z)
{
	uint64_t pos = 0, cap = 0;
	unsigned char h[LOCAL_LEN], *x = NULL;

	z->recovered = 1;
	while (pos + LOCAL_LEN <= z->size) {
		struct zip_entry *e;
		uint16_t nlen, xlen;

		if (readat(z->fd, h, LOCAL_LEN, pos) == -1 ||
		    le32(h) != SIG_LOCAL)
			break;
		nlen = le16(h + 26);
		xlen = le16(h + 28);
		if (z->nent == cap) {
			cap = cap ? cap * 2 : 64;
			z->ent = xrealloc(z->ent, cap * sizeof(*z->ent));
		}
		e = &z->ent[z->nent++];
		memset(e, 0, sizeof(*e));
		e->offset = pos;
		e->flags = le16(h + 6);
		e->method = le16(h + 8);
		e->crc = le32(h + 14);
		e->csize = le32(h + 18);
		e->usize = le32(h + 22);
		x = xrealloc(x, (size_t)nlen + xlen + 1);
		if (readat(z->fd, x, (size_t)nlen + xlen,
		    pos + LOCAL_LEN) == -1) {
			e->name = xstrdup("(name cut off)");
			e->damage = "archive ends inside a local header";
			break;
		}
		e->name = xstrndup((char *)x, nlen);
		zip64_extra(x + nlen, xlen, &e->usize, &e->csize, NULL);
		uint64_t data = pos + LOCAL_LEN + nlen + xlen;
		int z64 = has_zip64_extra(x + nlen, xlen);
		if ((e->flags & 8) && e->csize == 0) {
			uint64_t len;
			unsigned char d[24];
			size_t dlen = z64 ? 20 : 12;

			if (e->method != 8 || data > z->size) {
				e->damage = "member cut off or unreadable "
				    "(archive has no central directory)";
				break;
			}
			if (deflate_length(z, data, &len) == -1) {
				/* Read what is there; the reader says where
				 * it ends. */
				e->csize = z->size - data;
				e->truncated = 1;
				break;
			}
			e->csize = len;
			if (readat(z->fd, d, 4, data + len) == 0 &&
			    le32(d) == SIG_DESC)
				dlen += 4;
			if (readat(z->fd, d, dlen, data + len) == -1) {
				e->damage = "archive ends before the member's "
				    "data descriptor";
				break;
			}
			const unsigned char *q = dlen == 16 || dlen == 24 ?
			    d + 4 : d;
			e->crc = le32(q);
			e->usize = z64 ? le64(q + 12) : le32(q + 8);
			pos = data + len + dlen;
		} else {
			if (data > z->size) {
				e->damage = "archive ends inside the member";
				break;
			}
			if (e->csize > z->size - data) {
				e->csize = z->size - data;
				e->truncated = 1;
				break;
			}
			pos = data + e->csize;
			if (e->flags & 8) {
				unsigned char d[4];
				if (readat(z->fd, d, 4, pos) == 0 &&
				    le32(d) == SIG_DESC)
					pos += 4;
				pos += z64 ? 20 : 12;
			}
		}
	}
	free(x);
	return 0;
}

int
zip_open(struct zip *z, int fd, char *err, size_t errlen)
{
	struct stat st;
	uint64_t cdoff, cdsize, n;

	memset(z, 0, sizeof(*z));
	z->fd = fd;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		seterr(err, errlen, "not a regular file: a zip archive must "
		    "be read from a file, not a pipe");
		return -1;
	}
	z->size = st.st_size;
	if (find_eocd(z, &cdoff, &cdsize, &n) == 0) {
		if (read_central(z, cdoff, cdsize, n, err, errlen) == 0)
			return 0;
		/* A bad directory: fall back to the local headers. */
		for (size_t i = 0; i < z->nent; i++)
			free(z->ent[i].name);
		free(z->ent);
		z->ent = NULL;
		z->nent = 0;
	}
	walk_local(z);
	if (z->nent == 0) {
		seterr(err, errlen, z->size == 0 ? "empty file" :
		    "not a zip archive, or damaged beyond recovery "
		    "(no central directory and no local headers)");
		return -1;
	}
	return 0;
}

void
zip_close(struct zip *z)
{
	for (size_t i = 0; i < z->nent; i++)
		free(z->ent[i].name);
	free(z->ent);
	z->ent = NULL;
	z->nent = 0;
}

struct zipsrc {
	struct src	 s;
	struct zip	*z;
	struct zip_entry *e;
	uint64_t	 pos;		/* next compressed byte to read */
	uint64_t	 left;		/* compressed bytes not yet read */
	uint64_t	 out;		/* uncompressed bytes produced */
	uint32_t	 crc;
	z_stream	 zs;
	unsigned char	*buf;
	int		 ended;
	int		 failed;	/* error seen; report after the bytes */
};

static int
check_end(struct zipsrc *m)
{
	if (m->e->truncated) {
		src_seterr(&m->s, "archive ends inside the member "
		    "(truncated archive)");
		return -1;
	}
	if (m->out != m->e->usize) {
		src_seterr(&m->s, "size mismatch (expected %llu bytes, "
		    "got %llu)", (unsigned long long)m->e->usize,
		    (unsigned long long)m->out);
		return -1;
	}
	if (m->crc != m->e->crc) {
		src_seterr(&m->s, "bad CRC-32 (expected %08x, got %08x)",
		    m->e->crc, m->crc);
		return -1;
	}
	m->ended = 1;
	/* Only now may a reader pass any of the member on. */
	m->s.verified = m->out;
	return 0;
}

static ssize_t
zipsrc_read(struct src *s, unsigned char *out, size_t len)
{
	struct zipsrc *m = (struct zipsrc *)s;
	size_t n;

	if (m->ended)
		return 0;
	if (m->failed)
		return -1;
	if (len > UINT_MAX)
		len = UINT_MAX;
	if (m->e->method == 0) {
		if (m->left == 0)
			return check_end(m) == -1 ? -1 : 0;
		n = len < m->left ? len : m->left;
		if (readat(m->z->fd, out, n, m->pos) == -1) {
			src_seterr(s, "archive ends inside the member");
			return -1;
		}
		m->pos += n;
		m->left -= n;
		m->out += n;
		src_raw_bytes += n;
		m->crc = crc32(m->crc, out, n);
		return n;
	}
	for (;;) {
		if (m->zs.avail_in == 0 && m->left > 0) {
			n = m->left < ZIPBUF ? m->left : ZIPBUF;
			if (readat(m->z->fd, m->buf, n, m->pos) == -1) {
				src_seterr(s, "archive ends inside the member");
				return -1;
			}
			m->pos += n;
			m->left -= n;
			src_raw_bytes += n;
			m->zs.next_in = m->buf;
			m->zs.avail_in = n;
		}
		m->zs.next_out = out;
		m->zs.avail_out = len;
		int r = inflate(&m->zs, Z_NO_FLUSH);
		n = len - m->zs.avail_out;
		m->out += n;
		m->crc = crc32(m->crc, out, n);
		if (r == Z_STREAM_END) {
			if (check_end(m) == -1)
				m->failed = 1;
		} else if (r == Z_DATA_ERROR) {
			src_seterr(s, "corrupt deflate data: %s",
			    m->zs.msg ? m->zs.msg : "data error");
			m->failed = 1;
		} else if (r != Z_OK && r != Z_BUF_ERROR) {
			src_seterr(s, "inflate error %d", r);
			m->failed = 1;
		} else if (n == 0 && m->zs.avail_in == 0 && m->left == 0) {
			if (m->e->truncated)
				src_seterr(s, "archive ends inside the member "
				    "(truncated archive)");
			else
				src_seterr(s, "deflate data ends early "
				    "(truncated member)");
			m->failed = 1;
		}
		/* Bytes before the damage go out first, never verified. */
		if (n > 0 || m->ended)
			return n;
		if (m->failed)
			return -1;
	}
}

static void
zipsrc_free(struct src *s)
{
	struct zipsrc *m = (struct zipsrc *)s;

	if (m->e->method == 8)
		inflateEnd(&m->zs);
	free(m->buf);
	free(m);
}

struct src *
zip_member(struct zip *z, size_t i, char *err, size_t errlen)
{
	struct zip_entry *e = &z->ent[i];
	unsigned char h[LOCAL_LEN];
	struct zipsrc *m;
	uint64_t data;

	if (e->damage != NULL) {
		seterr(err, errlen, e->damage);
		return NULL;
	}
	if (e->flags & 1) {
		seterr(err, errlen, "encrypted member: not supported "
		    "(decrypt the archive first)");
		return NULL;
	}
	if (e->method != 0 && e->method != 8) {
		snprintf(err, errlen, "unsupported compression method %u "
		    "(only stored and deflate)", e->method);
		return NULL;
	}
	if (readat(z->fd, h, LOCAL_LEN, e->offset) == -1 ||
	    le32(h) != SIG_LOCAL) {
		seterr(err, errlen, "bad local header offset "
		    "(corrupt archive)");
		return NULL;
	}
	data = e->offset + LOCAL_LEN + le16(h + 26) + le16(h + 28);
	if (data > z->size || e->csize > z->size - data) {
		seterr(err, errlen, "archive ends inside the member "
		    "(truncated archive)");
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->s.read = zipsrc_read;
	m->s.free = zipsrc_free;
	m->z = z;
	m->e = e;
	m->pos = data;
	m->left = e->csize;
	m->crc = crc32(0, NULL, 0);
	if (e->method == 8) {
		m->buf = xmalloc(ZIPBUF);
		if (inflateInit2(&m->zs, -MAX_WBITS) != Z_OK)
			abort();
	}
	return &m->s;
}
