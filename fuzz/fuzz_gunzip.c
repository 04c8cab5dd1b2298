/*
 * fuzz_gunzip: the streaming gzip reader (common/gunzip.c) over an
 * in-memory src.
 *
 * Input format: one byte that sets how many bytes the inner src hands
 * out per read (0: all it is asked for; else 1..255), then the gzip
 * bytes.  Short inner reads put member boundaries, headers and trailers
 * across refills, where multi-member and padding handling can go wrong.
 *
 * Output is budgeted per input: a gzip bomb is slow, not a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gunzip.h"
#include "src.h"
#include "xalloc.h"

#define BUDGET	(32u * 1024 * 1024)

struct memsrc {
	struct src		 s;
	const uint8_t		*p;
	size_t			 len, off, chunk;
};

static ssize_t
memsrc_read(struct src *s, unsigned char *buf, size_t len)
{
	struct memsrc *m = (struct memsrc *)s;
	size_t n = m->len - m->off;

	if (n > len)
		n = len;
	if (m->chunk > 0 && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return n;
}

static void
memsrc_free(struct src *s)
{
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[65536];
	static const size_t sizes[] = { 1, 13, 4096, sizeof(out) };
	struct memsrc *m;
	struct src *g;
	size_t budget = BUDGET;
	ssize_t n = 0;

	if (size < 1)
		return 0;
	m = xcalloc(1, sizeof(*m));
	m->s.read = memsrc_read;
	m->s.free = memsrc_free;
	m->chunk = data[0];
	m->p = data + 1;
	m->len = size - 1;
	g = src_gunzip(&m->s);
	for (unsigned i = 0; budget > 0; i++) {
		size_t want = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		if (want > budget)
			want = budget;
		if ((n = src_read(g, out, want)) <= 0)
			break;
		if ((size_t)n > want)
			abort();	/* a src must never overfill */
		budget -= n;
	}
	/* An error must come with a message. */
	if (n == -1 && g->errmsg[0] == '\0')
		abort();
	src_free(g);
	return 0;
}
