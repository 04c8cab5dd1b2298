/* progress: one status line, shared by the stages of a pipeline. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "src.h"

static const char *pname;
static double	 plast, pstart;
static int	 pinit, ptty, drawn;
static uint64_t	 ptotal;
static int	 pactive;		/* the byte meter runs */
static int	 headfd = -1;		/* our published figures */
static char	 headpath[512], tailpath[512];
static int	 claimed;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
human_bytes(char *buf, size_t len, double v)
{
	const char *u[] = { "B", "KB", "MB", "GB", "TB" };
	int i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

void
human_hms(char *buf, size_t len, double s)
{
	long t = s > 0 && s < 1e9 ? (long)s : 0;

	snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* The rendezvous files of this user's process group. */
static void
paths(void)
{
	const char *dir = getenv("TMPDIR");

	if (headpath[0] != '\0')
		return;
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(headpath, sizeof(headpath), "%s/amp2ph-%ld-%ld.head", dir,
	    (long)getuid(), (long)getpgrp());
	snprintf(tailpath, sizeof(tailpath), "%s/amp2ph-%ld-%ld.tail", dir,
	    (long)getuid(), (long)getpgrp());
}

void
progress_init(const char *prog)
{
	pname = prog;
	pstart = now();
	plast = 0;
	pinit = 1;
	ptty = isatty(STDERR_FILENO);
}

int
progress_due(int final)
{
	double t;

	if (!pinit)
		return 0;
	if (final)
		return 1;
	t = now();
	/* A terminal gets 4 redraws a second; a log file one line a minute. */
	if (t - plast < (ptty ? 0.25 : 60))
		return 0;
	plast = t;
	return 1;
}

void
progress_draw(int final, const char *fmt, ...)
{
	va_list ap;

	if (!pinit)
		return;
	fprintf(stderr, "%s%s: ", ptty ? "\r" : "", pname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(!ptty ? "\n" : final ? "\033[K\n" : "\033[K", stderr);
	drawn = ptty && !final;
}

void
note(const char *fmt, ...)
{
	va_list ap;

	if (drawn) {
		fputs("\r\033[K", stderr);
		drawn = 0;
		plast = 0;	/* redraw below the note at once */
	}
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

/* A tail in this process group has claimed the line and is alive. */
static int
tail_draws(void)
{
	char b[32];
	ssize_t n;
	long pid;
	int fd;

	if ((fd = open(tailpath, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	b[n] = '\0';
	pid = strtol(b, NULL, 10);
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void
publish(void)
{
	char b[64];
	int n;

	if (headfd == -1)
		return;
	n = snprintf(b, sizeof(b), "%llu %llu\n",
	    (unsigned long long)src_raw_bytes, (unsigned long long)ptotal);
	/* Fixed width is not needed: the reader reads one line from 0. */
	if (pwrite(headfd, b, n, 0) != n || ftruncate(headfd, n) == -1) {
		close(headfd);
		headfd = -1;
	}
}

static void
draw_bytes(int final)
{
	double t = now() - pstart, rate;
	uint64_t done = src_raw_bytes;
	char d[32], tot[32], r[32], e[32];

	publish();
	if (!final && tail_draws())
		return;
	rate = t > 0 ? done / t : 0;
	human_bytes(d, sizeof(d), done);
	human_bytes(r, sizeof(r), rate);
	if (ptotal > 0) {
		human_bytes(tot, sizeof(tot), ptotal);
		human_hms(e, sizeof(e), rate > 0 && ptotal > done ?
		    (ptotal - done) / rate : 0);
		progress_draw(final, "%s of %s (%3.0f%%) %s/s ETA %s", d, tot,
		    100.0 * done / ptotal, r, e);
	} else
		progress_draw(final, "%s read, %s/s", d, r);
}

void
progress_start(const char *prog, uint64_t total)
{
	progress_init(prog);
	ptotal = total;
	pactive = 1;
	paths();
	headfd = open(headpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	publish();
}

void
progress_tick(void)
{
	if (!pactive || !progress_due(0))
		return;
	draw_bytes(0);
}

void
progress_end(void)
{
	if (!pactive)
		return;
	/* Headers and directories are not counted as read: finish at 100%. */
	if (src_raw_bytes < ptotal)
		src_raw_bytes = ptotal;
	publish();
	/*
	 * A tail draws the pipeline's last line and removes the files;
	 * without one, we draw it and leave nothing behind.
	 */
	if (!tail_draws()) {
		draw_bytes(1);
		(void)unlink(headpath);
	}
	if (headfd != -1) {
		close(headfd);
		headfd = -1;
	}
	pactive = 0;
}

void
progress_claim(void)
{
	char b[32];
	int fd, n;

	paths();
	if ((fd = open(tailpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return;
	n = snprintf(b, sizeof(b), "%ld\n", (long)getpid());
	if (write(fd, b, n) != n)
		(void)unlink(tailpath);
	close(fd);
	claimed = 1;
}

int
progress_upstream(uint64_t *done, uint64_t *total)
{
	char b[64];
	unsigned long long d, t;
	ssize_t n;
	int fd;

	paths();
	if ((fd = open(headpath, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = pread(fd, b, sizeof(b) - 1, 0);
	close(fd);
	if (n <= 0)
		return 0;
	b[n] = '\0';
	if (sscanf(b, "%llu %llu", &d, &t) != 2)
		return 0;
	*done = d;
	*total = t;
	return 1;
}

void
progress_release(void)
{
	if (!claimed)
		return;
	(void)unlink(tailpath);
	(void)unlink(headpath);
	claimed = 0;
}
