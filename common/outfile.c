/* outfile: checked writes and close of output streams. */
#include <err.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "outfile.h"

/* Returns 0 when everything written to fp reached the kernel. */
int
outfile_close(FILE *fp, const char *name)
{
	int bad = 0;

	if (fflush(fp) == EOF || ferror(fp)) {
		warn("%s", name);
		bad = 1;
	}
	if (fclose(fp) == EOF && !bad) {
		warn("%s", name);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* Write all of buf or exit 1: a short write on output is fatal. */
void
outfile_write(FILE *fp, const void *buf, size_t len, const char *name)
{
	if (len == 0)
		return;
	if (fwrite(buf, 1, len, fp) != len)
		err(1, "%s", name);
}

/*
 * Between the stages of a pipeline, the kernel's default 64 KB pipe means
 * a context switch every 30-odd events: ask for 1 MB.  Not a pipe, or
 * not allowed: nothing happens.
 */
void
pipe_grow(int fd)
{
#ifdef F_SETPIPE_SZ
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#else
	(void)fd;
#endif
}

FILE *
spool_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	FILE *fp;
	int fd, e;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if (snprintf(path, sizeof(path), "%s/amp2ph.XXXXXX", dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((fd = mkstemp(path)) == -1)
		return NULL;
	unlink(path);
	if ((fp = fdopen(fd, "w+")) == NULL) {
		e = errno;
		close(fd);
		errno = e;
	}
	return fp;
}
