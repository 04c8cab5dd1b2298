/* progress: a rate-limited byte progress line with rate and ETA. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "src.h"

static const char *pname;
static uint64_t ptotal;
static double pstart, plast;
static int pactive, ptty;

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

static void
draw(int final)
{
	double t = now() - pstart, rate;
	uint64_t done = src_raw_bytes;
	char d[32], tot[32], r[32];
	const char *suffix = !ptty ? "\n" : final ? "\033[K\n" : "\033[K";

	rate = t > 0 ? done / t : 0;
	human_bytes(d, sizeof(d), done);
	human_bytes(r, sizeof(r), rate);
	if (ptotal > 0) {
		double pct = 100.0 * done / ptotal, eta;
		human_bytes(tot, sizeof(tot), ptotal);
		eta = rate > 0 && ptotal > done ? (ptotal - done) / rate : 0;
		fprintf(stderr, "%s%s: %s of %s (%3.0f%%) %s/s ETA %d:%02d:%02d%s",
		    ptty ? "\r" : "", pname, d, tot, pct, r, (int)eta / 3600,
		    (int)eta / 60 % 60, (int)eta % 60,
		    suffix);
	} else
		fprintf(stderr, "%s%s: %s read, %s/s%s", ptty ? "\r" : "",
		    pname, d, r, suffix);
}

void
progress_start(const char *prog, uint64_t total)
{
	pname = prog;
	ptotal = total;
	pstart = plast = now();
	pactive = 1;
	ptty = isatty(STDERR_FILENO);
}

void
progress_tick(void)
{
	double t;

	if (!pactive)
		return;
	t = now();
	/* A terminal gets 4 redraws a second; a log file one line a minute. */
	if (t - plast < (ptty ? 0.25 : 60))
		return;
	plast = t;
	draw(0);
}

void
progress_end(void)
{
	if (!pactive)
		return;
	/* Headers and directories are not counted as read: finish at 100%. */
	if (src_raw_bytes < ptotal)
		src_raw_bytes = ptotal;
	draw(1);
	pactive = 0;
}
