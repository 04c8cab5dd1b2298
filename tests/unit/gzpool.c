/*
 * Unit checks of common/gzpool and common/gzmem: jobs compressed by two
 * workers, waited for in any order (some before a worker took them),
 * decompress to their bodies; with no worker, gzpool_wait does the job
 * itself; gzip_decompress reads several members and refuses a cut one
 * or one over its limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gzmem.h"
#include "gzpool.h"
#include "tap.h"

#define NJOBS	64

static void
fill(struct buf *b, int i)
{
	b->len = 0;
	for (int k = 0; k < 2000 + i * 97; k++)
		buf_printf(b, "{\"event\":\"e%d\",\"n\":%d},", i, k);
}

static int
round_trip(struct gzjob *j)
{
	struct buf out = { 0 };
	int ok_ = j->rc == 0 && gzip_decompress(&out, (unsigned char *)j->gz.p,
	    j->gz.len, 1 << 26) == 0 && out.len == j->body.len &&
	    memcmp(out.p, j->body.p, out.len) == 0;

	buf_free(&out);
	return ok_;
}

static int
pool_run(int workers)
{
	struct gzjob *jobs = calloc(NJOBS, sizeof(*jobs));
	int good = 0;

	gzpool_start(workers);
	for (int i = 0; i < NJOBS; i++) {
		fill(&jobs[i].body, i);
		jobs[i].level = 1 + i % 9;
		gzpool_submit(&jobs[i]);
	}
	/* Backwards: the last ones are likely still queued. */
	for (int i = NJOBS - 1; i >= 0; i--) {
		gzpool_wait(&jobs[i]);
		good += round_trip(&jobs[i]);
	}
	gzpool_stop();
	for (int i = 0; i < NJOBS; i++) {
		buf_free(&jobs[i].body);
		buf_free(&jobs[i].gz);
	}
	free(jobs);
	return good;
}

int
main(void)
{
	struct buf a = { 0 }, b = { 0 }, two = { 0 }, out = { 0 };
	struct buf ga = { 0 }, gb = { 0 };

	ok(pool_run(2) == NJOBS, "two workers: every job decompresses to "
	    "its body");
	ok(pool_run(0) == NJOBS, "no worker: gzpool_wait does each job");
	ok(pool_run(3) == NJOBS, "the pool starts again after a stop");

	fill(&a, 1);
	fill(&b, 2);
	gzip_compress(&ga, a.p, a.len, 1);
	gzip_compress(&gb, b.p, b.len, 6);
	buf_add(&two, ga.p, ga.len);
	buf_add(&two, gb.p, gb.len);
	ok(gzip_decompress(&out, (unsigned char *)two.p, two.len, 1 << 26) ==
	    0 && out.len == a.len + b.len && memcmp(out.p, a.p, a.len) == 0 &&
	    memcmp(out.p + a.len, b.p, b.len) == 0,
	    "two gzip members read as one stream");
	ok(gzip_decompress(&out, (unsigned char *)two.p, two.len - 3,
	    1 << 26) == -1, "a cut member is refused");
	ok(gzip_decompress(&out, (unsigned char *)two.p, two.len,
	    a.len + b.len - 1) == -1, "data over the limit is refused");
	ok(gzip_decompress(&out, (unsigned char *)two.p, two.len,
	    a.len + b.len) == 0, "data at the limit is read");
	ok(gzip_decompress(&out, (unsigned char *)ga.p, ga.len, a.len - 1) ==
	    -1 && gzip_decompress(&out, (unsigned char *)ga.p, ga.len, a.len) ==
	    0 && out.len == a.len, "one member: its trailer's length against "
	    "the limit");
	two.p[ga.len + 20] ^= 0x55;
	ok(gzip_decompress(&out, (unsigned char *)two.p, two.len, 1 << 26) ==
	    -1, "a damaged member is refused");
	gzip_compress_end();
	buf_free(&a);
	buf_free(&b);
	buf_free(&two);
	buf_free(&out);
	buf_free(&ga);
	buf_free(&gb);
	return tap_done();
}
