/*
 * lines: NDJSON input.  Reads a file descriptor in large blocks and hands
 * out one line at a time without copying, with its number for messages.
 * A line longer than the limit is skipped (its length reported), so one
 * bad line cannot make memory grow without bound.
 */
#ifndef LINES_H
#define LINES_H
#include <stddef.h>
#include <stdint.h>

#define LINES_HEAD	1024	/* bytes kept of an over-long line */

struct lines {
	int		 fd;
	const char	*name;		/* for messages: path or <stdin> */
	char		*buf;
	size_t		 cap, start, end, max;
	uint64_t	 lineno;
	int		 eof;
	int		 nonblock;	/* LINE_AGAIN instead of waiting */
	int		 owned;		/* fd opened by lines_open */
	/*
	 * The line just returned was the last and had no newline: if it
	 * is not whole, the input was cut (a stage before was killed), not
	 * bad, and must not be rejected as if it were.
	 */
	int		 nonl;
	char		 head[LINES_HEAD];	/* of an over-long line */
	char		 errmsg[128];
};

enum {
	LINE_EOF = 0, LINE_OK = 1, LINE_TOOLONG = 2, LINE_ERROR = -1,
	LINE_AGAIN = 3		/* non-blocking fd: no whole line yet */
};

void	lines_init(struct lines *, int fd, const char *name, size_t max);
/*
 * Open path ("-" is stdin, named <stdin>) for reading lines: 0, or -1
 * with errno set.  With nonblock, lines_next returns LINE_AGAIN when no
 * whole line is there yet (stdin is made non-blocking); otherwise it
 * waits.  lines_close undoes lines_open.
 */
int	lines_open(struct lines *, const char *path, size_t max, int nonblock);
void	lines_close(struct lines *);
/*
 * Next line (without its newline) in *p, *len.  LINE_TOOLONG: the line
 * was over the limit; *p holds its first bytes (up to LINES_HEAD), *len
 * its full length.
 */
int	lines_next(struct lines *, const char **p, size_t *len);
void	lines_free(struct lines *);

#endif
