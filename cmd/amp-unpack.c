/*
 * amp-unpack: write every Amplitude event line of zip archives, gzip
 * files, plain NDJSON files and directories to stdout, byte for byte,
 * one per line, in a deterministic order; a member's lines only once it
 * has passed its checks (CRC-32, sizes), so damaged data never goes on.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "gunzip.h"
#include "gzmem.h"
#include "hours.h"
#include "journal.h"
#include "jsonw.h"
#include "natsort.h"
#include "outfile.h"
#include "progress.h"
#include "settle.h"
#include "src.h"
#include "utf8.h"
#include "xalloc.h"
#include "zip.h"

#define CHUNK		(256 * 1024)
/*
 * Bytes of a member held in memory until its check passes; past that its
 * older whole lines wait in the spool, a temporary file.
 */
#define MAXHOLD		(64 * 1024 * 1024)
#define HOLD_ENV	"AMP2PH_UNPACK_HOLD"

struct strv {
	char	**v;
	size_t	  n, cap;
};

static int	 listflag, progressflag, strictflag;
static int64_t	 since = INT64_MIN, until = INT64_MAX;
static int	 dataerr, runerr;

/*
 * -j: a marker after each zip member (settle.h), and the members the
 * journal records as settled skipped unread.  jdb is NULL before the
 * journal exists (the first run): markers, nothing to skip.
 */
static const char	*journal_path;
static struct journal	*jdb;
static uint64_t		 skipped, skipped_bytes;
static size_t		 cur_file;	/* index of the input being read */
static uint64_t		 member_seq;	/* zip members met, in reading order */

/*
 * The resume point: the members up to the pos-th (in reading order) of
 * input file are settled, and amp-convert's state after that one is in
 * a state file, so they are skipped and line, the resume marker, goes
 * out instead.  file is SIZE_MAX when nothing is skipped.
 */
static struct {
	size_t		 file, pos;
	struct buf	 line;
} resume = { SIZE_MAX, 0, { 0 } };

/*
 * The hold.  A bit flipped in a member can leave valid JSON with a wrong
 * value under the event's own uuid, and once delivered the journal keeps
 * a good copy from ever replacing it: so no byte goes out before the
 * check that covers it has passed (struct src's verified count), and a
 * member that fails gives nothing.  The newest held bytes are in lbuf
 * (llen of them); when more than holdmax are held, the older whole lines
 * move to the spool, an unlinked file in $TMPDIR, so memory stays
 * bounded whatever the size of a member.  The common case, a member
 * that fits, is read straight into lbuf and written from there: no copy
 * beyond the hold (whole_member decompresses a small one into it too).
 */
static char	*lbuf;
static size_t	 lcap, llen;
static size_t	 holdmax = MAXHOLD;
static int	 spoolfd = -1;
static uint64_t	 spooled;	/* bytes in the spool, older than lbuf's */
static uint64_t	 spool_lines;	/* newlines among them */
static int	 spool_nl;	/* the spool ends with a newline */
static char	*sbuf;		/* for copying the spool out */
static int	 midline;	/* stdout ends inside a line of this src */
static uint64_t	 written;	/* lines of this src written, if counted */

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: amp-unpack [-lp] [-j journal] [--strict] [--since hour] "
	    "[--until hour] [file | dir | -] ...\n");
	exit(status);
}

static void
strv_push(struct strv *sv, char *s)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 16;
		sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = s;
}

/* Report bad input; with --strict it is the end of the run. */
static void
bad(const char *where, const char *what, const char *msg)
{
	if (what != NULL)
		warnx("%s: %s: %s", where, what, msg);
	else
		warnx("%s: %s", where, msg);
	dataerr = 1;
	if (strictflag) {
		warnx("stopping at the first error (--strict)");
		exit(EXIT_DATAERR);
	}
}

static const char *
basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t ls = strlen(s), lf = strlen(suf);

	return ls >= lf && strcmp(s + ls - lf, suf) == 0;
}

/*
 * Names that are not event data: S3-export completion markers, and
 * merged-id files (<org>_<date>_<H>.json.gz, no "#part" like events).
 */
static const char *
skip_reason(const char *name)
{
	const char *b = basename_of(name);
	int64_t h;
	size_t d;

	if (*b == '\0')
		return "directory entry";
	if (has_suffix(b, "_complete") || has_suffix(b, "_complete.json") ||
	    has_suffix(b, "_complete.json.gz"))
		return "export completion marker";
	/* <digits>_<YYYY-MM-DD>_<H>.json[.gz]: an hour but no part. */
	d = strspn(b, "0123456789");
	if (d > 0 && b[d] == '_' && strchr(b, '#') == NULL &&
	    hour_from_name(b, &h) == 0 &&
	    (has_suffix(b, ".json.gz") || has_suffix(b, ".json")))
		return "merged amplitude_id file, not events";
	return NULL;
}

/* --since/--until: members named for an hour outside them are skipped. */
static int
selected(const char *name)
{
	int64_t h;

	if (since == INT64_MIN && until == INT64_MAX)
		return 1;
	if (hour_from_name(name, &h) == -1)
		return 1;
	return h >= since && h <= until;
}

static void
write_out(const char *p, size_t n)
{
	outfile_write(stdout, p, n, "stdout");
}

static uint64_t
count_lines(const char *p, size_t n)
{
	const char *end = p + n;
	uint64_t c = 0;

	while ((p = memchr(p, '\n', end - p)) != NULL) {
		c++;
		p++;
	}
	return c;
}

static void
spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/amp-unpack.XXXXXX", dir);
	if ((spoolfd = mkstemp(path)) == -1)
		err(EXIT_RUNTIME, "temporary file in %s", dir);
	/* Unlinked at once: nothing is left behind, even after a kill. */
	if (unlink(path) == -1)
		err(EXIT_RUNTIME, "%s", path);
	sbuf = xmalloc(CHUNK);
}

/* Move the first n bytes of lbuf to the end of the spool. */
static void
spool_add(size_t n)
{
	size_t done = 0;
	ssize_t w;

	if (n == 0)
		return;
	if (spoolfd == -1)
		spool_open();
	while (done < n) {
		w = pwrite(spoolfd, lbuf + done, n - done, spooled + done);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			err(EXIT_RUNTIME, "temporary file");
		done += w;
	}
	spooled += n;
	spool_lines += count_lines(lbuf, n);
	spool_nl = lbuf[n - 1] == '\n';
	memmove(lbuf, lbuf + n, llen - n);
	llen -= n;
}

static void
spool_drop(void)
{
	if (spooled == 0)
		return;
	/* Truncated, not kept: the disk holds one member at most. */
	if (ftruncate(spoolfd, 0) == -1)
		err(EXIT_RUNTIME, "temporary file");
	spooled = spool_lines = 0;
	spool_nl = 0;
}

static void
spool_out(void)
{
	uint64_t off = 0;
	ssize_t n;

	if (spooled == 0)
		return;
	while (off < spooled) {
		size_t want = spooled - off < CHUNK ? spooled - off : CHUNK;

		n = pread(spoolfd, sbuf, want, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			err(EXIT_RUNTIME, "temporary file");
		write_out(sbuf, n);
		off += n;
	}
	written += spool_lines;
	midline = !spool_nl;
	spool_drop();
}

/* Write the first n bytes of lbuf, after the spool they follow. */
static void
mem_out(size_t n, int count)
{
	spool_out();
	if (n == 0)
		return;
	write_out(lbuf, n);
	if (count)
		written += count_lines(lbuf, n);
	midline = lbuf[n - 1] != '\n';
	memmove(lbuf, lbuf + n, llen - n);
	llen -= n;
}

/*
 * The first v of the held bytes passed their checks: write their whole
 * lines.  A line is written only when all of it is checked, so a
 * member that fails cannot end a good one's last line with its bytes.
 */
static void
release(uint64_t v)
{
	char *nl;

	if (v > spooled &&
	    (nl = memrchr(lbuf, '\n', v - spooled)) != NULL)
		mem_out(nl + 1 - lbuf, 1);
	else if (v >= spooled && spool_nl)
		spool_out();
}

/* How many of the held bytes, total having been read from s, are good. */
static uint64_t
checked(struct src *s, uint64_t total)
{
	uint64_t base = total - llen - spooled;	/* of the first held byte */
	uint64_t v = s->verified < total ? s->verified : total;

	return v > base ? v - base : 0;
}

/*
 * Copy the lines of s to stdout, each once all of its bytes are checked;
 * with whole, only once all of s is (a zip member: one CRC for all of
 * it).  Even a line longer than the hold waits for its end, in the
 * spool: output never stops inside a line.  A last line without its
 * newline gets one.  Returns 0, or -1 with s->errmsg set, having written
 * nothing that was not checked, and in *lines how many lines were.
 */
static int
copy_lines(struct src *s, int whole, uint64_t *lines)
{
	uint64_t total = 0, v;
	ssize_t n;

	llen = 0;
	midline = 0;
	written = 0;
	for (;;) {
		if (lcap - llen < CHUNK && lcap < holdmax + CHUNK) {
			lcap = lcap ? lcap * 2 : 4 * CHUNK;
			if (lcap > holdmax + CHUNK)
				lcap = holdmax + CHUNK;
			lbuf = xrealloc(lbuf, lcap);
		}
		if ((n = src_read(s, (unsigned char *)lbuf + llen,
		    lcap - llen)) == -1)
			break;
		progress_tick();
		if (n == 0) {
			/* The end: every check has passed. */
			mem_out(llen, 0);
			if (midline)
				write_out("\n", 1);
			return 0;
		}
		llen += n;
		total += n;
		if (!whole && (v = checked(s, total)) > 0)
			release(v);
		if (llen >= holdmax) {
			/* Whole lines if there are any; a huge one as it is. */
			char *nl = memrchr(lbuf, '\n', llen);
			spool_add(nl != NULL ? (size_t)(nl + 1 - lbuf) : llen);
		}
	}
	/*
	 * Nothing unchecked goes out; but the failing read may have found
	 * the end of a good gzip member first, its bytes already held.
	 */
	if (!whole && (v = checked(s, total)) > 0)
		release(v);
	llen = 0;
	spool_drop();
	*lines = written;
	return -1;
}

/* Lines of a member or file, decompressing it if it is gzip: 0 if all. */
static int
emit(struct src *raw, const char *where, const char *what)
{
	unsigned char head[4];
	struct src *s;
	uint64_t lines;
	int gz;
	ssize_t n;

	if ((n = src_peek(raw, head, sizeof(head), &s)) == -1) {
		bad(where, what, raw->errmsg);
		src_free(raw);
		return -1;
	}
	if (n == 0) {
		src_free(s);
		return 0;
	}
	if ((gz = gzip_magic(head, n)))
		s = src_gunzip(s);
	else if (zip_magic(head, n)) {
		bad(where, what, "a zip inside a zip is not read; unzip the "
		    "outer archive first");
		src_free(s);
		return -1;
	}
	/* A zip member (what is set) is one unit: written whole or not. */
	if (copy_lines(s, what != NULL, &lines) == -1) {
		char msg[512];

		if (lines == 0)
			snprintf(msg, sizeof(msg), "%s; none of its lines were "
			    "written", s->errmsg);
		else if (gz)
			snprintf(msg, sizeof(msg), "%s; only the %llu whole "
			    "lines of the gzip members before it were written",
			    s->errmsg, (unsigned long long)lines);
		else
			snprintf(msg, sizeof(msg), "%s; %llu whole lines were "
			    "written before it", s->errmsg,
			    (unsigned long long)lines);
		bad(where, what, msg);
		src_free(s);
		return -1;
	}
	src_free(s);
	return 0;
}

/* A zip entry as settle.h names it. */
static void
member_of(const struct zip_entry *e, uint64_t seq, struct settle_member *m)
{
	m->seq = seq;
	m->name = e->name;
	m->namelen = strlen(e->name);
	m->crc = e->crc;
	m->csize = e->csize;
	m->usize = e->usize;
}

/*
 * Members found damaged while the archive was walked get no marker:
 * they are read every time.
 */
static int
settleable(const struct zip_entry *e)
{
	return journal_path != NULL && e->damage == NULL && !e->truncated;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct zip_entry *x = *(struct zip_entry *const *)a;
	const struct zip_entry *y = *(struct zip_entry *const *)b;

	return natcmp_qsort(&x->name, &y->name);
}

/*
 * 1 if an archive's entry is one amp-unpack reads (not a directory, a
 * hidden or a non-data file, and within --since/--until); why it is not
 * is said when path is given.  The plan of a resume and the reading
 * walk the same entries, so both ask this.
 */
static int
wanted(const struct zip_entry *e, const char *path)
{
	const char *why;

	if ((why = skip_reason(e->name)) != NULL) {
		if (path != NULL && strcmp(why, "directory entry") != 0)
			warnx("%s: %s: skipped: %s", path, e->name, why);
		return 0;
	}
	return selected(e->name);
}

/* An archive's entries in the order they are read. */
static struct zip_entry **
zip_order(struct zip *z)
{
	struct zip_entry **order = xcalloc(z->nent ? z->nent : 1,
	    sizeof(*order));

	for (size_t i = 0; i < z->nent; i++)
		order[i] = &z->ent[i];
	qsort(order, z->nent, sizeof(*order), cmp_entry);
	return order;
}

/*
 * A zip member that is a small gzip file whose data fits the hold, read
 * and decompressed whole (gzmem; scripts/bench: 4.3x zcat, against 1.85x
 * streamed): 1 when its lines are written, 0 when it is for emit() to
 * read again, from the start, as every other input (one that does not
 * fit, is not gzip, or fails a check: emit() says which).  Either way m
 * is freed.
 */
static int
whole_member(struct src *m, const struct zip_entry *e)
{
	static struct buf raw;
	struct buf data;
	ssize_t n;
	int done = 0;

	/*
	 * Only a gzip file of at most an eighth of the hold (JSON shrinks
	 * five to ten times): one whose data turns out not to fit costs a
	 * read of little, and memory stays near the hold.
	 */
	if (e->usize > holdmax / 8 || e->usize < 18) {
		src_free(m);
		return 0;
	}
	raw.len = 0;
	buf_grow(&raw, e->usize + 1);
	/* To the end: the zip layer checks the CRC-32 at its end. */
	while ((n = src_read(m, (unsigned char *)raw.p + raw.len,
	    raw.cap - raw.len)) > 0) {
		raw.len += n;
		progress_tick();
		if (raw.len > holdmax / 8)
			break;
		buf_grow(&raw, 65536);
	}
	src_free(m);
	/* Into the hold's own buffer, so the two never add up. */
	data.p = lbuf;
	data.len = 0;
	data.cap = lcap;
	if (n == 0 && gzip_magic((unsigned char *)raw.p, raw.len) &&
	    gzip_decompress(&data, (unsigned char *)raw.p, raw.len,
	    holdmax) == 0) {
		write_out(data.p, data.len);
		if (data.len > 0 && data.p[data.len - 1] != '\n')
			write_out("\n", 1);
		done = 1;
	}
	lbuf = data.p;
	lcap = data.cap;
	if (raw.cap > 1024 * 1024)
		buf_free(&raw);
	return done;
}

/* The marker of a member whose lines have all been written. */
static void
marker(const struct settle_member *m)
{
	static struct buf b;

	b.len = 0;
	settle_line(&b, SETTLE_MEMBER, m);
	write_out(b.p, b.len);
}

/* A file or member name as a JSON string: JSON must be UTF-8. */
static void
json_name(struct buf *b, const char *name)
{
	struct buf clean = { 0 };
	size_t n = strlen(name);

	if (utf8_valid(name, n)) {
		jsonw_str(b, name, n);
		return;
	}
	utf8_clean(&clean, name, n);
	jsonw_str(b, clean.p, clean.len);
	buf_free(&clean);
}

static void
list_line(const char *archive, const char *member, uint64_t csize,
    int has_usize, uint64_t usize)
{
	struct buf b = { 0 };
	int first = 1;
	int64_t h;
	char hs[16];

	buf_addc(&b, '{');
	jsonw_key(&b, "archive", &first);
	if (archive)
		json_name(&b, archive);
	else
		buf_adds(&b, "null");
	jsonw_key(&b, "member", &first);
	json_name(&b, member);
	jsonw_key(&b, "compressed", &first);
	jsonw_u64(&b, csize);
	jsonw_key(&b, "uncompressed", &first);
	if (has_usize)
		jsonw_u64(&b, usize);
	else
		buf_adds(&b, "null");
	jsonw_key(&b, "hour", &first);
	if (hour_from_name(member, &h) == 0) {
		hour_format(h, hs);
		jsonw_cstr(&b, hs);
	} else
		buf_adds(&b, "null");
	buf_adds(&b, "}\n");
	write_out(b.p, b.len);
	buf_free(&b);
}


static void
do_zip(int fd, const char *path)
{
	struct zip z;
	struct zip_entry **order;
	char err[256];
	size_t i;

	if (zip_open(&z, fd, err, sizeof(err)) == -1) {
		bad(path, NULL, err);
		return;
	}
	if (z.recovered)
		bad(path, NULL, "no central directory (truncated archive?); "
		    "reading the members that are there");
	order = zip_order(&z);
	for (i = 0; i < z.nent; i++) {
		struct zip_entry *e = order[i];
		struct settle_member sm;
		struct src *m;
		int settle;

		if (!wanted(e, path))
			continue;
		if (listflag) {
			list_line(path, e->name, e->csize, e->damage == NULL,
			    e->usize);
			continue;
		}
		member_seq++;
		if (resume.file != SIZE_MAX && (cur_file < resume.file ||
		    (cur_file == resume.file && i <= resume.pos))) {
			skipped++;
			skipped_bytes += e->usize;
			/* Done with, for -p: the share read starts where it is. */
			src_raw_bytes += e->csize;
			progress_tick();
			if (cur_file == resume.file && i == resume.pos)
				write_out(resume.line.p, resume.line.len);
			continue;
		}
		settle = settleable(e);
		member_of(e, member_seq, &sm);
		/* Whole if it is small; else (or if that fails) streamed. */
		m = zip_member(&z, e - z.ent, err, sizeof(err));
		if (m != NULL && whole_member(m, e)) {
			if (settle)
				marker(&sm);
			continue;
		}
		if (m != NULL)		/* freed: a stream from the start */
			m = zip_member(&z, e - z.ent, err, sizeof(err));
		if (m == NULL) {
			bad(path, e->name, err);
			continue;
		}
		if (emit(m, path, e->name) == 0 && settle)
			marker(&sm);
	}
	free(order);
	zip_close(&z);
}

static void
do_file(const char *path)
{
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	unsigned char head[4];
	struct stat st;
	ssize_t n;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY)) == -1) {
		warn("%s", path);
		runerr = 1;
		if (strictflag)
			exit(EXIT_RUNTIME);
		return;
	}
	if (fstat(fd, &st) == -1)
		err(1, "%s", name);
	if (S_ISREG(st.st_mode)) {
		n = pread(fd, head, sizeof(head), 0);
		if (n == -1) {
			warn("%s", name);
			runerr = 1;
			goto out;
		}
		if (zip_magic(head, n)) {
			do_zip(fd, name);
			goto out;
		}
		/*
		 * A .zip that is not one is a failed download (an empty 200
		 * from the Export API, a cut transfer): never read it as text.
		 */
		if (has_suffix(name, ".zip")) {
			bad(name, NULL, n == 0 ? "empty file, not a zip archive" :
			    "not a zip archive (damaged, or not a zip)");
			goto out;
		}
		if (n == 0) {
			warnx("%s: empty file", name);
			goto out;
		}
		if (listflag) {
			list_line(NULL, name, st.st_size, 0, 0);
			goto out;
		}
		/* Read from offset 0 even if stdin was already moved. */
		if (lseek(fd, 0, SEEK_SET) == -1 && fd != STDIN_FILENO)
			err(1, "%s", name);
		emit(src_fd(fd), name, NULL);
	} else {
		struct src *s;

		if ((n = src_peek(src_fd(fd), head, sizeof(head), &s)) == -1)
			err(1, "%s", name);
		if (zip_magic(head, n)) {
			bad(name, NULL, "a zip archive cannot be read from a "
			    "pipe: pass it as a file (amp-unpack FILE.zip), "
			    "or redirect it (amp-unpack < FILE.zip)");
			src_free(s);
			goto out;
		}
		if (listflag) {
			list_line(NULL, name, 0, 0, 0);
			src_free(s);
			goto out;
		}
		emit(s, name, NULL);
	}
out:
	if (fd != STDIN_FILENO)
		close(fd);
}

/*
 * -j: the journal, read-only.  None yet is a first run: ph-batch makes
 * it, and every member gets its marker.
 */
static void
open_journal(void)
{
	char msg[512];

	if ((jdb = journal_open_reader(journal_path, 0, msg, sizeof(msg))) ==
	    NULL && msg[0] != '\0')
		errx(EXIT_RUNTIME, "journal %s", msg);
}

/*
 * Where a re-run can start: walk the members in reading order while the
 * journal records them as settled, and take the last one that a state
 * file of amp-convert names.  The first input that is not a zip archive,
 * and the first member not settled, end the walk: from there on every
 * member is read.
 */
static void
plan_resume(struct strv *files)
{
	struct buf *keys, key = { 0 }, at = { 0 };
	uint64_t *ns, run = 0, seq = 0;
	size_t nstates = settle_state_list(journal_path, &ns);
	int *have, stop = 0;

	keys = xcalloc(nstates + 1, sizeof(*keys));
	have = xcalloc(nstates + 1, sizeof(*have));
	for (size_t i = 0; i < nstates; i++)
		have[i] = settle_state_at(journal_path, ns[i], &keys[i]);
	for (size_t j = 0; j < files->n && !stop; j++) {
		unsigned char head[4];
		struct zip z;
		struct zip_entry **order;
		char err[256];
		int fd;

		if (strcmp(files->v[j], "-") == 0 ||
		    (fd = open(files->v[j], O_RDONLY)) == -1)
			break;
		if (pread(fd, head, sizeof(head), 0) != sizeof(head) ||
		    !zip_magic(head, sizeof(head)) ||
		    zip_open(&z, fd, err, sizeof(err)) == -1) {
			close(fd);
			break;
		}
		order = zip_order(&z);
		for (size_t i = 0; i < z.nent && !stop; i++) {
			struct zip_entry *e = order[i];
			struct settle_member m;
			int r;

			if (!wanted(e, NULL))
				continue;
			seq++;
			if (!settleable(e)) {
				stop = 1;
				break;
			}
			member_of(e, seq, &m);
			key.len = 0;
			settle_key(&key, &m);
			if ((r = journal_settled(jdb, key.p)) == -1)
				errx(EXIT_RUNTIME, "journal %s: %s",
				    journal_path, journal_error(jdb));
			if (r == 0) {
				stop = 1;
				break;
			}
			run++;
			at.len = 0;
			settle_at(&at, key.p, seq);
			for (size_t k = 0; k < nstates; k++)
				if (have[k] && strcmp(keys[k].p, at.p) == 0) {
					resume.file = j;
					resume.pos = i;
					resume.line.len = 0;
					settle_line(&resume.line,
					    SETTLE_SKIPPED, &m);
				}
		}
		free(order);
		zip_close(&z);
		close(fd);
	}
	if (run > 0 && resume.file == SIZE_MAX)
		warnx("journal %s: %llu members are settled, but no state of "
		    "amp-convert after one of them is beside the journal "
		    "(amp-convert -j %s keeps it): reading them again",
		    journal_path, (unsigned long long)run, journal_path);
	for (size_t i = 0; i < nstates; i++)
		buf_free(&keys[i]);
	free(keys);
	free(have);
	free(ns);
	buf_free(&key);
	buf_free(&at);
}

/* Files of a directory tree, each directory's entries in natural order. */
static void
walk(const char *dir, struct strv *out)
{
	struct strv here = { 0 };
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		warn("%s", dir);
		runerr = 1;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;	/* ., .., and hidden files */
		size_t len = strlen(dir) + strlen(de->d_name) + 2;
		char *p = xmalloc(len);
		snprintf(p, len, "%s/%s", dir, de->d_name);
		strv_push(&here, p);
	}
	closedir(d);
	qsort(here.v, here.n, sizeof(*here.v), natcmp_qsort);
	for (size_t i = 0; i < here.n; i++) {
		struct stat st;

		if (stat(here.v[i], &st) == -1) {
			warn("%s", here.v[i]);
			runerr = 1;
			free(here.v[i]);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			walk(here.v[i], out);
			free(here.v[i]);
		} else
			strv_push(out, here.v[i]);
	}
	free(here.v);
}

static int
is_data_name(const char *p)
{
	return has_suffix(p, ".zip") || has_suffix(p, ".gz") ||
	    has_suffix(p, ".json") || has_suffix(p, ".ndjson") ||
	    has_suffix(p, ".jsonl");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "journal",	required_argument,	NULL, 'j' },
		{ "list",	no_argument,		NULL, 'l' },
		{ "progress",	no_argument,		NULL, 'p' },
		{ "since",	required_argument,	NULL, 'S' },
		{ "strict",	no_argument,		NULL, 's' },
		{ "until",	required_argument,	NULL, 'U' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct strv files = { 0 };
	uint64_t total = 0;
	const char *hold;
	int ch, i;

	while ((ch = getopt_long(argc, argv, "hj:lp", longopts, NULL)) != -1) {
		cli_once(longopts, ch, "SUj", NULL);
		switch (ch) {
		case 'j':
			journal_path = optarg;
			break;
		case 'l':
			listflag = 1;
			break;
		case 'p':
			progressflag = 1;
			break;
		case 'S':
			if (hour_parse(optarg, 0, &since) == -1)
				errx(EXIT_USAGE, "--since: not a date or hour: "
				    "%s (use YYYY-MM-DD or YYYY-MM-DDTHH)",
				    optarg);
			break;
		case 's':
			strictflag = 1;
			break;
		case 'U':
			if (hour_parse(optarg, 1, &until) == -1)
				errx(EXIT_USAGE, "--until: not a date or hour: "
				    "%s (use YYYY-MM-DD or YYYY-MM-DDTHH)",
				    optarg);
			break;
		case 'V':
			cli_version("amp-unpack");
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if ((hold = getenv(HOLD_ENV)) != NULL && *hold != '\0') {
		char *end;
		unsigned long long h;

		errno = 0;
		h = strtoull(hold, &end, 10);
		if (errno != 0 || *end != '\0' || h == 0 || h > MAXHOLD ||
		    *hold == '-')
			errx(EXIT_USAGE, "%s: not a size from 1 to %d bytes: %s",
			    HOLD_ENV, MAXHOLD, hold);
		holdmax = h;
	}
	pipe_grow(STDIN_FILENO);
	pipe_grow(STDOUT_FILENO);
	if (since > until)
		errx(EXIT_USAGE, "--since is after --until");

	if (argc == 0)
		strv_push(&files, xstrdup("-"));
	for (i = 0; i < argc; i++) {
		struct stat st;

		if (strcmp(argv[i], "-") == 0) {
			strv_push(&files, xstrdup("-"));
			continue;
		}
		if (stat(argv[i], &st) == -1) {
			warn("%s", argv[i]);
			runerr = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			struct strv tree = { 0 };

			walk(argv[i], &tree);
			for (size_t j = 0; j < tree.n; j++) {
				const char *why = skip_reason(tree.v[j]);
				if (has_suffix(tree.v[j], ".empty"))
					;	/* amp-export: an hour with no data */
				else if (why != NULL)
					warnx("%s: skipped: %s", tree.v[j], why);
				else if (has_suffix(tree.v[j], ".part"))
					warnx("%s: skipped: an unfinished "
					    "download (run amp-export again)",
					    tree.v[j]);
				else if (!is_data_name(tree.v[j]))
					warnx("%s: skipped: not a .zip, .gz, "
					    ".json or .ndjson file", tree.v[j]);
				else if (selected(tree.v[j])) {
					strv_push(&files, tree.v[j]);
					continue;
				}
				free(tree.v[j]);
			}
			free(tree.v);
		} else if (skip_reason(argv[i]) != NULL)
			warnx("%s: skipped: %s", argv[i], skip_reason(argv[i]));
		else
			strv_push(&files, xstrdup(argv[i]));
	}
	if (runerr && strictflag)
		exit(EXIT_RUNTIME);

	for (size_t j = 0; j < files.n; j++) {
		struct stat st;
		const char *p = files.v[j];

		if (strcmp(p, "-") == 0 ? fstat(STDIN_FILENO, &st) == 0 :
		    stat(p, &st) == 0)
			if (S_ISREG(st.st_mode))
				total += st.st_size;
	}
	if (journal_path != NULL && !listflag) {
		open_journal();
		if (jdb != NULL)
			plan_resume(&files);
	}
	if (progressflag && !listflag)
		progress_start("amp-unpack", total);
	for (size_t j = 0; j < files.n; j++) {
		cur_file = j;
		do_file(files.v[j]);
		free(files.v[j]);
	}
	free(files.v);
	free(lbuf);
	free(sbuf);
	if (spoolfd != -1)
		close(spoolfd);
	progress_end();
	if (skipped > 0)
		warnx("%llu archive members (%.1f MB) skipped: settled in "
		    "journal %s", (unsigned long long)skipped,
		    skipped_bytes / 1e6, journal_path);
	journal_close(jdb);
	if (outfile_close(stdout, "stdout") == -1)
		return EXIT_RUNTIME;
	if (runerr)
		return EXIT_RUNTIME;
	return dataerr ? EXIT_DATAERR : 0;
}
