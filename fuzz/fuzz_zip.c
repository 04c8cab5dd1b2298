/*
 * fuzz_zip: the zip reader (common/zip.c) on arbitrary archive bytes.
 * The input is written to a memfd (zip_open wants a seekable regular
 * file), every entry is read through zip_member to its end, then read
 * again through src_gunzip as amp-unpack does for *.json.gz members.
 *
 * Decompressed output is budgeted per input: overlapping entries and
 * deflate bombs legitimately expand a 64 KB archive to gigabytes, which
 * is slow rather than wrong, and would only show up as fuzzer timeouts.
 */
#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gunzip.h"
#include "src.h"
#include "zip.h"

#define BUDGET	(32u * 1024 * 1024)	/* bytes read per input, all members */

static int fd = -1;
static unsigned char rbuf[65536];

/* Read s to its end or an error; vary the request size to hit edges. */
static void
drain(struct src *s, size_t *budget)
{
	static const size_t sizes[] = { 1, 7, 512, 4096, sizeof(rbuf) };
	ssize_t n;

	for (unsigned i = 0; *budget > 0; i++) {
		size_t want = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		if (want > *budget)
			want = *budget;
		if ((n = src_read(s, rbuf, want)) <= 0)
			break;
		if ((size_t)n > want)
			abort();	/* a src must never overfill */
		*budget -= n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zip z;
	struct src *m;
	char errbuf[256];
	size_t budget = BUDGET, done = 0;

	if (fd == -1 && (fd = memfd_create("fuzz_zip", 0)) == -1)
		err(1, "memfd_create");
	if (ftruncate(fd, 0) == -1)
		err(1, "ftruncate");
	while (done < size) {
		ssize_t n = pwrite(fd, data + done, size - done, done);
		if (n <= 0)
			err(1, "pwrite");
		done += n;
	}
	if (zip_open(&z, fd, errbuf, sizeof(errbuf)) == -1)
		return 0;
	for (size_t i = 0; i < z.nent; i++) {
		if ((m = zip_member(&z, i, errbuf, sizeof(errbuf))) == NULL)
			continue;
		drain(m, &budget);
		src_free(m);
		if ((m = zip_member(&z, i, errbuf, sizeof(errbuf))) == NULL)
			abort();	/* it opened a moment ago */
		m = src_gunzip(m);
		drain(m, &budget);
		src_free(m);
	}
	zip_close(&z);
	return 0;
}
