/*
 * amp-export: download a range of hours from Amplitude's Export API into
 * a directory, one zip archive per window of hours.  Each archive is
 * streamed to a .part file, checked to its last byte (zip CRCs, every
 * gzip member), synced and only then renamed into place, so running the
 * same command again after a crash resumes where it stopped.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <curl/curl.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "gunzip.h"
#include "hours.h"
#include "http.h"
#include "jsonw.h"
#include "outfile.h"
#include "progress.h"
#include "retry.h"
#include "secret.h"
#include "stop.h"
#include "src.h"
#include "xalloc.h"
#include "zip.h"

#define DEFAULT_WINDOW	24		/* hours */
#define MAX_WINDOW	(365 * 24)	/* the Export API's longest range */
#define LATENCY		2		/* hours until data is exportable */
#define BADBODY_MAX	5		/* attempts that got a bad 200 body */
#define TIMEOUT_MAX	3		/* attempts of one hour answered 504 */
#define MSG_MAX		2048		/* bytes of an error answer kept */
#define VERIFY_BUF	(256 * 1024)
#define NAME_LEN	27		/* amp-YYYYMMDDTHH-YYYYMMDDTHH */

/* A file of an earlier run found in the output directory. */
struct have {
	int64_t		 lo, hi;
	int		 zip;		/* else an .empty marker */
	uint64_t	 size;
};

/* What one request came to. */
enum result {
	GOT_OK,		/* archive checked and in place */
	GOT_EMPTY,	/* 404: no data in the window */
	GOT_SPLIT,	/* 400 or 504: too large or too slow */
	GOT_RETRY,	/* 429, 5xx, network: try again later */
	GOT_BADBODY,	/* 200 with an empty, cut or corrupt archive */
	GOT_AUTH,	/* 401, 403 */
	GOT_FATAL,	/* stop the run */
	GOT_STOP	/* signal */
};

/* One request in flight. */
struct xfer {
	int		 fd;		/* the .part file, once a 200 body comes */
	const char	*part;		/* its name in the directory */
	long		 status;
	uint64_t	 bytes;		/* body bytes written to fd */
	int		 werrno;	/* write error on fd */
	struct buf	 msg;		/* start of a non-200 body */
};

struct attempt {
	enum result	 r;
	long		 status;
	uint64_t	 bytes;
	double		 retry_after;
	char		 why[768];
};

static struct {
	const char	*dir, *host, *key_file, *region;
	int64_t		 start, end, window;
	double		 retry_for, timeout;
	int		 allow_recent, dry_run, progress, insecure;
} opt = {
	.window = DEFAULT_WINDOW, .retry_for = 3600, .timeout = 1800,
	.region = "us", .start = -1, .end = -1,
};

static struct {
	uint64_t	 lines, downloaded, empty, skipped, toolarge, failed;
	uint64_t	 requests, retries, splits, bytes, kept;
	int64_t		 planned, hours_total, hours_done, hours_fetched;
} c;

static char		*api_key, *secret_key;
static CURL		*curl;
static char		 curl_err[HTTP_ERRLEN];
static struct http_answer ans;	/* of the latest answer */
static int		 dirfd_out = -1, fatal;
static int64_t		 first_recent;	/* hours from here may be incomplete */
static struct have	*haves;
static size_t		 nhaves;
static struct buf	 scratch;
static double		 started, xfer_now;
static unsigned char	*vbuf;

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: amp-export [-np] --start when --end when -o dir "
	    "[--window duration]\n"
	    "                  [--region us|eu | --host url] "
	    "[--key-file file] [--retry-for duration]\n"
	    "                  [--timeout duration] [--allow-recent] "
	    "[--insecure]\n");
	exit(status);
}

static void
show_progress(int final)
{
	double t = monotime() - started, eta = 0, rate;
	uint64_t bytes = c.bytes + (uint64_t)xfer_now;
	char b[32], r[32], e[32];
	int64_t left;

	if (!opt.progress || !progress_due(final))
		return;
	rate = t > 0 ? bytes / t : 0;
	left = c.hours_total - c.hours_done;
	if (c.hours_fetched > 0)
		eta = t / c.hours_fetched * left;
	human_bytes(b, sizeof(b), bytes);
	human_bytes(r, sizeof(r), rate);
	human_hms(e, sizeof(e), eta);
	progress_draw(final, "%llu/%lld windows (%.0f%% of hours), %s, %s/s, "
	    "ETA %s", (unsigned long long)c.lines, (long long)c.planned,
	    c.hours_total ? 100.0 * c.hours_done / c.hours_total : 100.0,
	    b, r, e);
}

static void
name_of(int64_t lo, int64_t hi, char *buf)
{
	char a[12], b[12];

	hour_format_api(lo, a);
	hour_format_api(hi, b);
	snprintf(buf, NAME_LEN + 1, "amp-%s-%s", a, b);
}

static void
window_of(int64_t lo, int64_t hi, char *buf)
{
	char a[12], b[12];

	hour_format_api(lo, a);
	hour_format_api(hi, b);
	snprintf(buf, 24, "%s-%s", a, b);
}

/* amp-<hour>-<hour><suffix>: 0 with the hours and *suffix set. */
static int
parse_name(const char *s, int64_t *lo, int64_t *hi, const char **suffix)
{
	char a[12], b[12];

	if (strncmp(s, "amp-", 4) != 0 || strlen(s) < NAME_LEN ||
	    s[15] != '-')
		return -1;
	memcpy(a, s + 4, 11);
	a[11] = '\0';
	memcpy(b, s + 16, 11);
	b[11] = '\0';
	if (a[8] != 'T' || b[8] != 'T' || hour_parse(a, 0, lo) == -1 ||
	    hour_parse(b, 0, hi) == -1 || *hi < *lo)
		return -1;
	*suffix = s + NAME_LEN;
	return 0;
}

/* The directory as given, without trailing slashes, for messages. */
static char *
clean_dir(const char *d)
{
	size_t n = strlen(d);

	while (n > 1 && d[n - 1] == '/')
		n--;
	return xstrndup(d, n);
}

static char *
path_of(const char *name, const char *suffix)
{
	struct buf b = { 0 };

	buf_printf(&b, "%s/%s%s", opt.dir, name, suffix);
	return b.p;
}

static void
mkdirs(const char *path)
{
	char *p = xstrdup(path), *s;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) == -1 && errno != EEXIST)
			err(EXIT_RUNTIME, "%s", p);
		*s = '/';
	}
	if (mkdir(p, 0777) == -1 && errno != EEXIST)
		err(EXIT_RUNTIME, "%s", p);
	free(p);
}

static int
cmp_have(const void *a, const void *b)
{
	const struct have *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * The archives and markers of earlier runs.  With the directory locked,
 * .part files are leftovers of a run that died: they are removed.
 */
static void
scan_dir(int remove_parts)
{
	struct dirent *de;
	struct stat st;
	const char *suf;
	int64_t lo, hi;
	size_t cap = 0;
	DIR *d;
	int fd;

	if (dirfd_out != -1) {
		if ((fd = dup(dirfd_out)) == -1 || (d = fdopendir(fd)) == NULL)
			err(EXIT_RUNTIME, "%s", opt.dir);
		rewinddir(d);
	} else if ((d = opendir(opt.dir)) == NULL) {
		if (errno == ENOENT)
			return;
		err(EXIT_RUNTIME, "%s", opt.dir);
	}
	while ((de = readdir(d)) != NULL) {
		if (parse_name(de->d_name, &lo, &hi, &suf) == -1)
			continue;
		if (strcmp(suf, ".zip.part") == 0 ||
		    strcmp(suf, ".empty.part") == 0) {
			if (remove_parts && unlinkat(dirfd(d), de->d_name, 0) ==
			    -1)
				warn("%s/%s", opt.dir, de->d_name);
			continue;
		}
		if (strcmp(suf, ".zip") != 0 && strcmp(suf, ".empty") != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (nhaves == cap) {
			cap = cap ? cap * 2 : 64;
			haves = xrealloc(haves, cap * sizeof(*haves));
		}
		haves[nhaves].lo = lo;
		haves[nhaves].hi = hi;
		haves[nhaves].zip = strcmp(suf, ".zip") == 0;
		haves[nhaves].size = st.st_size;
		nhaves++;
	}
	closedir(d);
	if (nhaves > 1)
		qsort(haves, nhaves, sizeof(*haves), cmp_have);
}

/* A file holding all of lo..hi (an archive before a marker), or NULL. */
static const struct have *
covering(int64_t lo, int64_t hi)
{
	const struct have *best = NULL;

	for (size_t i = 0; i < nhaves; i++)
		if (haves[i].lo <= lo && hi <= haves[i].hi &&
		    (best == NULL || (haves[i].zip && !best->zip)))
			best = &haves[i];
	return best;
}

/* How many hours of lo..hi the files hold (haves sorted by lo). */
static int64_t
coverage(int64_t lo, int64_t hi)
{
	int64_t n = 0, reach = lo - 1, a, b;

	for (size_t i = 0; i < nhaves; i++) {
		a = haves[i].lo > reach + 1 ? haves[i].lo : reach + 1;
		b = haves[i].hi < hi ? haves[i].hi : hi;
		if (b >= a) {
			n += b - a + 1;
			reach = b;
		}
	}
	return n;
}

/* 1 if a file lies inside lo..hi: an earlier run split this window. */
static int
inside(int64_t lo, int64_t hi)
{
	for (size_t i = 0; i < nhaves; i++)
		if (lo <= haves[i].lo && haves[i].hi <= hi)
			return 1;
	return 0;
}

static const struct have *
overlapping(int64_t lo, int64_t hi)
{
	for (size_t i = 0; i < nhaves; i++)
		if (haves[i].lo <= hi && lo <= haves[i].hi)
			return &haves[i];
	return NULL;
}

/* One NDJSON line on stdout for a window that is done with. */
static void
report(int64_t lo, int64_t hi, const char *file, uint64_t bytes,
    const char *status, long http, int attempts, const char *error)
{
	char w[24];
	int first = 1;

	window_of(lo, hi, w);
	scratch.len = 0;
	buf_addc(&scratch, '{');
	jsonw_key(&scratch, "window", &first);
	jsonw_cstr(&scratch, w);
	jsonw_key(&scratch, "file", &first);
	if (file != NULL)
		jsonw_cstr(&scratch, file);
	else
		buf_adds(&scratch, "null");
	jsonw_key(&scratch, "bytes", &first);
	jsonw_u64(&scratch, bytes);
	jsonw_key(&scratch, "status", &first);
	jsonw_cstr(&scratch, status);
	jsonw_key(&scratch, "http", &first);
	if (http >= 0)
		jsonw_i64(&scratch, http);
	else
		buf_adds(&scratch, "null");
	jsonw_key(&scratch, "attempts", &first);
	jsonw_i64(&scratch, attempts);
	if (error != NULL) {
		jsonw_key(&scratch, "error", &first);
		jsonw_cstr(&scratch, error);
	}
	buf_adds(&scratch, "}\n");
	outfile_write(stdout, scratch.p, scratch.len, "stdout");
	if (fflush(stdout) == EOF)
		err(EXIT_RUNTIME, "stdout");
	c.lines++;
	c.hours_done += hi - lo + 1;
}

/* A 200 body goes to the .part file as it comes; others are kept short. */
static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, off = 0;
	ssize_t w;

	if (x->status == 0)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status != 200) {
		if (x->msg.len < MSG_MAX)
			buf_add(&x->msg, p, len < MSG_MAX - x->msg.len ? len :
			    MSG_MAX - x->msg.len);
		return len;
	}
	if (x->fd == -1 && (x->fd = openat(dirfd_out, x->part,
	    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) == -1) {
		x->werrno = errno;
		return 0;
	}
	while (off < len) {
		if ((w = write(x->fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			x->werrno = errno;
			return 0;	/* curl stops with a write error */
		}
		off += w;
	}
	x->bytes += len;
	return len;
}

static int
xferinfo_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	if (stop_signal)
		return 1;
	xfer_now = dlnow;
	show_progress(0);
	return 0;
}

/*
 * Read the whole archive: the zip's directory, every member to its end
 * (size and CRC-32 checked there) and each member's gzip stream to its
 * end (its own CRC).  0 when sound; -1 with the damage in why; -2 when
 * a signal came.
 */
static int
verify(int fd, char *why, size_t len)
{
	struct zip z;
	char zerr[256];
	int rc = 0;

	if (vbuf == NULL)
		vbuf = xmalloc(VERIFY_BUF);
	if (zip_open(&z, fd, zerr, sizeof(zerr)) == -1) {
		snprintf(why, len, "not a readable zip archive: %s", zerr);
		return -1;
	}
	if (z.recovered) {
		snprintf(why, len, "the zip archive has no central directory "
		    "(cut short)");
		zip_close(&z);
		return -1;
	}
	for (size_t i = 0; i < z.nent && rc == 0; i++) {
		struct zip_entry *e = &z.ent[i];
		size_t nl = strlen(e->name);
		struct src *s;
		ssize_t n;

		if (nl > 0 && e->name[nl - 1] == '/')
			continue;	/* a directory entry */
		if ((s = zip_member(&z, i, zerr, sizeof(zerr))) == NULL) {
			snprintf(why, len, "%s: %s", e->name, zerr);
			rc = -1;
			break;
		}
		if (e->usize > 0)
			s = src_gunzip(s);
		while ((n = src_read(s, vbuf, VERIFY_BUF)) > 0)
			if (stop_signal) {
				rc = -2;
				break;
			}
		if (n == -1) {
			snprintf(why, len, "%s: %s", e->name, s->errmsg);
			rc = -1;
		}
		src_free(s);
	}
	zip_close(&z);
	return rc;
}

static void
sync_dir(void)
{
	if (fsync(dirfd_out) == -1 && errno != EINVAL)
		warn("%s: fsync", opt.dir);
}

/* Keep a checked .part: sync it, then give it its final name. */
static int
keep(struct xfer *x, const char *final, char *why, size_t len)
{
	if (fsync(x->fd) == -1) {
		snprintf(why, len, "%s/%s: fsync: %s", opt.dir, x->part,
		    strerror(errno));
		return -1;
	}
	if (renameat(dirfd_out, x->part, dirfd_out, final) == -1) {
		snprintf(why, len, "%s/%s: rename: %s", opt.dir, x->part,
		    strerror(errno));
		return -1;
	}
	sync_dir();
	return 0;
}

/* The record that a window has no data, so that a re-run skips it. */
static int
write_marker(int64_t lo, int64_t hi, const char *name)
{
	char part[NAME_LEN + 16], final[NAME_LEN + 16], w[24], when[32];
	struct buf b = { 0 };
	time_t now = time(NULL);
	struct tm tm;
	int fd, rc = -1;

	snprintf(part, sizeof(part), "%s.empty.part", name);
	snprintf(final, sizeof(final), "%s.empty", name);
	window_of(lo, hi, w);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_printf(&b, "{\"window\":\"%s\",\"http\":404,\"checked\":\"%s\"}\n",
	    w, when);
	if ((fd = openat(dirfd_out, part, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0666)) == -1)
		goto out;
	if (write(fd, b.p, b.len) != (ssize_t)b.len || fsync(fd) == -1) {
		int e = errno;
		close(fd);
		unlinkat(dirfd_out, part, 0);
		errno = e;
		goto out;
	}
	if (close(fd) == -1 || renameat(dirfd_out, part, dirfd_out,
	    final) == -1)
		goto out;
	sync_dir();
	rc = 0;
out:
	if (rc == -1)
		warn("%s/%s", opt.dir, final);
	buf_free(&b);
	return rc;
}

/* One request for lo..hi, and what came of it. */
static void
fetch(int64_t lo, int64_t hi, const char *name, struct attempt *a)
{
	char url[2048], s[12], e[12], part[NAME_LEN + 16], final[NAME_LEN + 8];
	char text[256];
	struct xfer x = { .fd = -1, .part = part };
	CURLcode cc;
	long status = 0;
	int v;

	memset(a, 0, sizeof(*a));
	a->retry_after = -1;
	hour_format_api(lo, s);
	hour_format_api(hi, e);
	snprintf(url, sizeof(url), "%s/api/2/export?start=%s&end=%s",
	    opt.host, s, e);
	snprintf(part, sizeof(part), "%s.zip.part", name);
	snprintf(final, sizeof(final), "%s.zip", name);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
	curl_err[0] = '\0';
	xfer_now = 0;
	c.requests++;
	cc = curl_easy_perform(curl);
	xfer_now = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	a->status = status;
	a->retry_after = ans.retry_after;
	a->bytes = x.bytes;
	c.bytes += x.bytes;
	http_answer_text(&x.msg, text, sizeof(text), api_key, secret_key);
	buf_free(&x.msg);

	if (cc == CURLE_ABORTED_BY_CALLBACK && stop_signal)
		a->r = GOT_STOP;
	else if (x.werrno != 0) {
		snprintf(a->why, sizeof(a->why), "%s/%s: %s", opt.dir, part,
		    strerror(x.werrno));
		a->r = GOT_FATAL;
	} else if (status == 200 && cc != CURLE_OK) {
		snprintf(a->why, sizeof(a->why), "the archive was cut off "
		    "after %llu bytes: %s", (unsigned long long)x.bytes,
		    http_strerror(cc, curl_err));
		a->r = GOT_BADBODY;
	} else if (status == 200 && x.bytes == 0) {
		snprintf(a->why, sizeof(a->why), "HTTP 200 with an empty "
		    "body");
		a->r = GOT_BADBODY;
	} else if (status == 200) {
		v = verify(x.fd, a->why, sizeof(a->why));
		if (v == -2)
			a->r = GOT_STOP;
		else if (v == -1)
			a->r = GOT_BADBODY;
		else if (keep(&x, final, a->why, sizeof(a->why)) == -1)
			a->r = GOT_FATAL;
		else {
			a->r = GOT_OK;
			close(x.fd);
			return;
		}
	} else if (cc != CURLE_OK) {
		snprintf(a->why, sizeof(a->why), "%s", http_strerror(cc,
		    curl_err));
		/* A certificate that does not verify will not verify later. */
		a->r = http_permanent(cc) ? GOT_FATAL : GOT_RETRY;
	} else {
		if (text[0] != '\0')
			snprintf(a->why, sizeof(a->why), "HTTP %ld: %s", status,
			    text);
		else
			snprintf(a->why, sizeof(a->why), "HTTP %ld", status);
		if (status == 404)
			a->r = GOT_EMPTY;
		else if (status == 400 || status == 504)
			a->r = GOT_SPLIT;
		else if (status == 401 || status == 403)
			a->r = GOT_AUTH;
		else if (retry_status(status))
			a->r = GOT_RETRY;
		else
			a->r = GOT_FATAL;
	}
	if (x.fd != -1) {
		close(x.fd);
		unlinkat(dirfd_out, part, 0);
	}
}

/* Sleep, waking early for a signal. */
static void
nap(double secs)
{
	double until = monotime() + secs, left;
	struct timespec ts;

	while (!stop_signal && (left = until - monotime()) > 0) {
		if (left > 0.2)
			left = 0.2;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

static void
auth_failure(const struct attempt *a)
{
	char keys[512];

	if (opt.key_file != NULL)
		snprintf(keys, sizeof(keys), "%s (line 1: the API key, line "
		    "2: the secret key; in place of AMPLITUDE_API_KEY and "
		    "AMPLITUDE_SECRET_KEY)", opt.key_file);
	else
		snprintf(keys, sizeof(keys), "AMPLITUDE_API_KEY and "
		    "AMPLITUDE_SECRET_KEY");
	if (opt.region != NULL)
		note("Amplitude refused the keys (%s): check that %s hold "
		    "the project's API key and secret key, and that the "
		    "project is in the %s region (%s)%s", a->why, keys,
		    strcmp(opt.region, "eu") == 0 ? "EU" : "US", opt.host,
		    strcmp(opt.region, "eu") == 0 ?
		    "; a project in the US region needs --region us" :
		    "; a project with EU data residency needs --region eu");
	else
		note("Amplitude refused the keys (%s): check that %s hold "
		    "the project's API key and secret key, and that --host "
		    "%s serves the project's region (us: "
		    "https://amplitude.com, eu: "
		    "https://analytics.eu.amplitude.com)", a->why, keys,
		    opt.host);
}

/*
 * Fetch lo..hi into the directory, splitting it in halves when the
 * Export API says it is too large, until each part is done: downloaded,
 * empty, already there, too large at one hour, or failed.
 */
static void
do_window(int64_t lo, int64_t hi)
{
	char name[NAME_LEN + 1], w[24], *file;
	const struct have *h;
	struct attempt a;
	int attempts = 0, bad = 0, timeouts = 0;
	double first_fail = 0, wait, now, t0 = monotime();
	int64_t n = hi - lo + 1, mid;

	if (fatal || stop_signal)
		return;
	name_of(lo, hi, name);
	window_of(lo, hi, w);
	if ((h = covering(lo, hi)) != NULL) {
		char hn[NAME_LEN + 1];

		name_of(h->lo, h->hi, hn);
		file = h->zip ? path_of(hn, ".zip") : NULL;
		report(lo, hi, file, h->zip ? h->size : 0, "skipped", -1, 0,
		    NULL);
		c.skipped++;
		free(file);
		return;
	}
	if (n > 1 && inside(lo, hi))
		goto split;	/* an earlier run split it: go to the halves */
	if ((h = overlapping(lo, hi)) != NULL) {
		char hn[NAME_LEN + 1];

		name_of(h->lo, h->hi, hn);
		note("%s: overlaps %s/%s%s of an earlier run with other "
		    "windows: the hours in both will be in two files "
		    "(ph-batch delivers each event once)", w, opt.dir, hn,
		    h->zip ? ".zip" : ".empty");
	}
	for (;;) {
		attempts++;
		fetch(lo, hi, name, &a);
		now = monotime();
		switch (a.r) {
		case GOT_STOP:
			return;
		case GOT_OK:
			file = path_of(name, ".zip");
			report(lo, hi, file, a.bytes, "downloaded", a.status,
			    attempts, NULL);
			free(file);
			c.downloaded++;
			c.kept += a.bytes;
			c.hours_fetched += n;
			return;
		case GOT_EMPTY:
			if (hi >= first_recent)
				note("%s: no data yet; no marker is written "
				    "for recent hours, so a later run asks "
				    "again", w);
			else
				write_marker(lo, hi, name);
			report(lo, hi, NULL, 0, "empty", a.status, attempts,
			    NULL);
			c.empty++;
			c.hours_fetched += n;
			return;
		case GOT_SPLIT:
			if (n > 1) {
				note("%s: %s: splitting it in two", w, a.why);
				c.splits++;
				goto split;
			}
			if (a.status == 504 && ++timeouts < TIMEOUT_MAX)
				break;
			note("%s: this one hour is too large for the Export "
			    "API (%s): export it with Amplitude's Amazon S3 "
			    "(or Google Cloud Storage) export instead; going "
			    "on with the other hours", w, a.why);
			report(lo, hi, NULL, 0, "too-large", a.status,
			    attempts, a.why);
			c.toolarge++;
			c.hours_fetched += n;
			return;
		case GOT_AUTH:
			auth_failure(&a);
			report(lo, hi, NULL, 0, "failed", a.status, attempts,
			    a.why);
			c.failed++;
			fatal = 1;
			return;
		case GOT_FATAL:
			note("%s: %s%s", w, a.why, a.status > 0 ?
			    " (is --host the Export API?)" : "");
			report(lo, hi, NULL, 0, "failed", a.status, attempts,
			    a.why);
			c.failed++;
			fatal = 1;
			return;
		case GOT_BADBODY:
			if (++bad >= BADBODY_MAX) {
				note("%s: %s; giving up after %d attempts", w,
				    a.why, attempts);
				report(lo, hi, NULL, 0, "failed", a.status,
				    attempts, a.why);
				c.failed++;
				c.hours_fetched += n;
				return;
			}
			break;
		case GOT_RETRY:
			break;
		}
		/* Try again later, within --retry-for of the first failure. */
		if (first_fail == 0)
			first_fail = now;
		wait = retry_wait(attempts, a.retry_after);
		if (now + wait - first_fail > opt.retry_for) {
			note("%s: %s; giving up after %d attempts in %.0f s "
			    "(--retry-for)", w, a.why, attempts, now - t0);
			report(lo, hi, NULL, 0, "failed", a.status, attempts,
			    a.why);
			c.failed++;
			c.hours_fetched += n;
			/* The service is down: the next window would wait too. */
			if (a.r == GOT_RETRY)
				fatal = 1;
			return;
		}
		note("%s: %s; retrying in %.1f s (attempt %d)", w, a.why, wait,
		    attempts + 1);
		c.retries++;
		nap(wait);
		if (stop_signal)
			return;
	}
split:
	c.planned++;
	mid = lo + (n + 1) / 2;
	do_window(lo, mid - 1);
	do_window(mid, hi);
}

static int
key_ok(const char *k)
{
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	return 1;
}

/* --key-file: the API key on its first line, the secret key on its second. */
static void
read_key_file(const char *path)
{
	char *k[2], e[512];

	if (secret_read_file(path, k, 2, e, sizeof(e)) == -1)
		errx(EXIT_USAGE, "--key-file %s (the project's API key, then "
		    "its secret key)", e);
	api_key = k[0];
	secret_key = k[1];
}

static void
read_keys(void)
{
	char e[256];

	if (opt.key_file != NULL)
		read_key_file(opt.key_file);
	else if ((api_key = secret_read("AMPLITUDE_API_KEY", NULL, e,
	    sizeof(e))) == NULL || (secret_key = secret_read(
	    "AMPLITUDE_SECRET_KEY", NULL, e, sizeof(e))) == NULL)
		errx(EXIT_USAGE, "%s: the project's API key and secret key "
		    "come from AMPLITUDE_API_KEY and AMPLITUDE_SECRET_KEY, or "
		    "from --key-file FILE (two lines)", e);
	if (!key_ok(api_key) || strchr(api_key, ':') != NULL)
		errx(EXIT_USAGE, "the API key holds spaces, a colon or "
		    "control characters: not an Amplitude API key");
	if (!key_ok(secret_key))
		errx(EXIT_USAGE, "the secret key holds spaces or control "
		    "characters: not an Amplitude secret key");
	if (strcmp(api_key, secret_key) == 0)
		warnx("the API key and the secret key are the same: one of "
		    "them is likely the wrong value");
}

static void
setup_curl(void)
{
	/* A transfer that stalls --timeout long is cut, however long it runs. */
	struct http_conf hc = { .prog = "amp-export", .stall = opt.timeout,
	    .connect_timeout = 30, .insecure = opt.insecure };

	curl = http_easy(&hc, &ans, curl_err);
	/* Basic auth from these, never in the URL that messages show. */
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_USERNAME, api_key);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, secret_key);
	curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
}

/* --dry-run: the windows and whether a run would fetch them. */
static void
dry_run(void)
{
	int64_t lo, hi, have, todo = 0, present = 0;
	char name[NAME_LEN + 1], w[24], *file;
	const char *status;

	scan_dir(0);
	for (lo = opt.start; lo <= opt.end; lo += opt.window) {
		int first = 1;

		hi = lo + opt.window - 1 < opt.end ? lo + opt.window - 1 :
		    opt.end;
		name_of(lo, hi, name);
		window_of(lo, hi, w);
		if ((have = coverage(lo, hi)) == hi - lo + 1) {
			status = "skipped";
			present++;
		} else {
			status = have > 0 ? "partial" : "pending";
			todo++;
		}
		file = path_of(name, ".zip");
		scratch.len = 0;
		buf_addc(&scratch, '{');
		jsonw_key(&scratch, "window", &first);
		jsonw_cstr(&scratch, w);
		jsonw_key(&scratch, "file", &first);
		jsonw_cstr(&scratch, file);
		jsonw_key(&scratch, "hours", &first);
		jsonw_i64(&scratch, hi - lo + 1);
		jsonw_key(&scratch, "status", &first);
		jsonw_cstr(&scratch, status);
		buf_adds(&scratch, "}\n");
		outfile_write(stdout, scratch.p, scratch.len, "stdout");
		free(file);
	}
	fprintf(stderr, "amp-export: %lld windows of %lld hours: %lld to "
	    "fetch, %lld already there (dry run, nothing fetched)\n",
	    (long long)(todo + present), (long long)c.hours_total,
	    (long long)todo, (long long)present);
}

static void
when_arg(const char *name, const char *s, int end_of_day, int64_t *h)
{
	if (hour_parse(s, end_of_day, h) == -1)
		errx(EXIT_USAGE, "%s: not a date or hour: %s (use YYYY-MM-DD "
		    "or YYYY-MM-DDTHH, UTC)", name, s);
}

static void
check_recent(void)
{
	int64_t now = (int64_t)time(NULL) / 3600;
	char e[16], h[16];

	/* Hour H is complete LATENCY hours after it ends: H+1+LATENCY. */
	first_recent = now - LATENCY;
	hour_format(opt.end, e);
	if (opt.end > now) {
		hour_format(now, h);
		errx(EXIT_USAGE, "--end %s is in the future (this hour is %s, "
		    "UTC)", e, h);
	}
	if (opt.end >= first_recent && !opt.allow_recent) {
		hour_format(first_recent - 1, h);
		errx(EXIT_USAGE, "--end %s is less than %d hours ago: Amplitude "
		    "makes data exportable about %d hours after it arrives, so "
		    "the last complete hour is %s (UTC); give --end %s, or "
		    "--allow-recent to fetch what is there now", e, LATENCY,
		    LATENCY, h, h);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "allow-recent",	no_argument,	   NULL, 'A' },
		{ "dry-run",		no_argument,	   NULL, 'n' },
		{ "end",		required_argument, NULL, 'E' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "host",		required_argument, NULL, 'H' },
		{ "insecure",		no_argument,	   NULL, 'k' },
		{ "key-file",		required_argument, NULL, 'K' },
		{ "output",		required_argument, NULL, 'o' },
		{ "progress",		no_argument,	   NULL, 'p' },
		{ "region",		required_argument, NULL, 'R' },
		{ "retry-for",		required_argument, NULL, 'T' },
		{ "start",		required_argument, NULL, 'S' },
		{ "timeout",		required_argument, NULL, 't' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ "window",		required_argument, NULL, 'w' },
		{ NULL,			0,		   NULL, 0 }
	};
	double secs;
	int64_t lo, hi;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "hno:p", longopts, NULL)) != -1) {
		cli_once(longopts, ch, "ESKotw", "HR");
		switch (ch) {
		case 'A':
			opt.allow_recent = 1;
			break;
		case 'E':
			when_arg("--end", optarg, 1, &opt.end);
			break;
		case 'H':
			opt.host = optarg;
			opt.region = NULL;
			break;
		case 'K':
			opt.key_file = optarg;
			break;
		case 'k':
			opt.insecure = 1;
			break;
		case 'n':
			opt.dry_run = 1;
			break;
		case 'o':
			if (*optarg == '\0')
				errx(EXIT_USAGE, "-o: empty directory name");
			opt.dir = optarg;
			break;
		case 'p':
			opt.progress = 1;
			break;
		case 'R':
			opt.region = http_region(optarg, "us", "eu");
			opt.host = NULL;
			break;
		case 'S':
			when_arg("--start", optarg, 0, &opt.start);
			break;
		case 'T':
			opt.retry_for = http_duration("--retry-for", optarg, 0);
			break;
		case 't':
			opt.timeout = http_duration("--timeout", optarg, 1);
			break;
		case 'w':
			if (cli_duration(optarg, &secs) == -1 || secs < 3600 ||
			    secs > MAX_WINDOW * 3600.0 ||
			    secs != (int64_t)(secs / 3600) * 3600.0)
				errx(EXIT_USAGE, "--window: expected whole "
				    "hours from 1h to 365d, like 6h or 1d: %s",
				    optarg);
			opt.window = (int64_t)(secs / 3600);
			break;
		case 'V':
			cli_version("amp-export");
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0) {
		warnx("unexpected argument: %s", argv[0]);
		usage(stderr, EXIT_USAGE);
	}
	if (opt.start < 0 || opt.end < 0 || opt.dir == NULL) {
		warnx("%s is required", opt.start < 0 ? "--start" :
		    opt.end < 0 ? "--end" : "-o dir");
		usage(stderr, EXIT_USAGE);
	}
	if (opt.start > opt.end)
		errx(EXIT_USAGE, "--start is after --end");
	check_recent();
	if (opt.host == NULL)
		opt.host = strcmp(opt.region, "eu") == 0 ?
		    "https://analytics.eu.amplitude.com" :
		    "https://amplitude.com";
	else
		opt.host = http_url("--host", opt.host, "");
	opt.dir = clean_dir(opt.dir);
	c.hours_total = opt.end - opt.start + 1;
	c.planned = (c.hours_total + opt.window - 1) / opt.window;

	if (opt.dry_run) {
		dry_run();
		return outfile_close(stdout, "stdout") == -1 ? EXIT_RUNTIME : 0;
	}
	read_keys();
	mkdirs(opt.dir);
	if ((dirfd_out = open(opt.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		err(EXIT_RUNTIME, "%s", opt.dir);
	if (flock(dirfd_out, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			errx(EXIT_RUNTIME, "%s: another amp-export is writing "
			    "into this directory", opt.dir);
		err(EXIT_RUNTIME, "%s: flock", opt.dir);
	}
	scan_dir(1);
	setup_curl();

	stop_on_signals();
	if (opt.progress)
		progress_init("amp-export");
	started = monotime();

	for (lo = opt.start; lo <= opt.end && !fatal && !stop_signal;
	    lo += opt.window) {
		hi = lo + opt.window - 1 < opt.end ? lo + opt.window - 1 :
		    opt.end;
		do_window(lo, hi);
		show_progress(0);
	}
	show_progress(1);

	if (stop_signal)
		note("stopped by signal %d: run the same command again to "
		    "resume", (int)stop_signal);
	else if (fatal)
		note("stopped: run the same command again to resume once "
		    "the cause is fixed");
	{
		char b[32];
		human_bytes(b, sizeof(b), c.kept);
		fprintf(stderr, "amp-export: %llu windows: %llu downloaded "
		    "(%s), %llu empty, %llu skipped, %llu too large, %llu "
		    "failed", (unsigned long long)c.lines,
		    (unsigned long long)c.downloaded, b,
		    (unsigned long long)c.empty,
		    (unsigned long long)c.skipped,
		    (unsigned long long)c.toolarge,
		    (unsigned long long)c.failed);
		if (c.hours_done < c.hours_total)
			fprintf(stderr, ", %lld of %lld hours not fetched",
			    (long long)(c.hours_total - c.hours_done),
			    (long long)c.hours_total);
		fprintf(stderr, "; %llu requests, %llu retries, %llu splits, "
		    "%.1f s\n", (unsigned long long)c.requests,
		    (unsigned long long)c.retries,
		    (unsigned long long)c.splits, monotime() - started);
	}
	if (c.toolarge > 0)
		warnx("%llu hours are too large for the Export API: use "
		    "Amplitude's Amazon S3 export for them",
		    (unsigned long long)c.toolarge);

	rc = 0;
	if (fatal || stop_signal || c.failed > 0 || c.toolarge > 0 ||
	    c.hours_done < c.hours_total)
		rc = EXIT_RUNTIME;
	if (outfile_close(stdout, "stdout") == -1)
		rc = EXIT_RUNTIME;
	http_easy_free(curl);
	explicit_bzero(api_key, strlen(api_key));
	explicit_bzero(secret_key, strlen(secret_key));
	free(api_key);
	free(secret_key);
	free(haves);
	free(vbuf);
	buf_free(&scratch);
	close(dirfd_out);
	return rc;
}
