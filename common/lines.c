/* lines: zero-copy line splitting over a file descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "xalloc.h"

#define LINES_BLOCK	(1024 * 1024)

void
lines_init(struct lines *l, int fd, const char *name, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->name = name;
	l->max = max;
	l->cap = LINES_BLOCK;
	l->buf = xmalloc(l->cap);
}

void
lines_free(struct lines *l)
{
	free(l->buf);
	l->buf = NULL;
}

static int stdin_flags = -1;

/* Leave stdin as it was found: a terminal shares it with the shell. */
static void
restore_stdin(void)
{
	if (stdin_flags != -1)
		fcntl(STDIN_FILENO, F_SETFL, stdin_flags);
}

int
lines_open(struct lines *l, const char *path, size_t max, int nonblock)
{
	int fd, owned = 0;

	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		path = "<stdin>";
		if (nonblock && stdin_flags == -1 &&
		    (stdin_flags = fcntl(fd, F_GETFL)) != -1) {
			fcntl(fd, F_SETFL, stdin_flags | O_NONBLOCK);
			atexit(restore_stdin);
		}
	} else if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	else
		owned = 1;
	lines_init(l, fd, path, max);
	l->nonblock = nonblock;
	l->owned = owned;
	return 0;
}

void
lines_close(struct lines *l)
{
	if (l->owned)
		close(l->fd);
	lines_free(l);
}

/* An over-long line on a non-blocking fd: just wait for the rest. */
static void
wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	poll(&p, 1, -1);
}

static ssize_t
fill(struct lines *l)
{
	ssize_t n;

	if (l->start > 0) {
		memmove(l->buf, l->buf + l->start, l->end - l->start);
		l->end -= l->start;
		l->start = 0;
	}
	if (l->end == l->cap) {
		l->cap *= 2;
		l->buf = xrealloc(l->buf, l->cap);
	}
	do
		n = read(l->fd, l->buf + l->end, l->cap - l->end);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -2;
	if (n == -1) {
		snprintf(l->errmsg, sizeof(l->errmsg), "%s", strerror(errno));
		return -1;
	}
	if (n == 0)
		l->eof = 1;
	l->end += n;
	return n;
}

int
lines_next(struct lines *l, const char **p, size_t *len)
{
	size_t scanned = 0;
	char *nl;

	for (;;) {
		nl = memchr(l->buf + l->start + scanned, '\n',
		    l->end - l->start - scanned);
		if (nl != NULL) {
			*p = l->buf + l->start;
			*len = nl - *p;
			l->start = nl + 1 - l->buf;
			l->lineno++;
			if (*len <= l->max)
				return LINE_OK;
			/* Over the limit though it came in one read. */
			memcpy(l->head, *p, *len < LINES_HEAD ? *len :
			    LINES_HEAD);
			*p = l->head;
			return LINE_TOOLONG;
		}
		scanned = l->end - l->start;
		if (l->eof) {
			if (scanned == 0)
				return LINE_EOF;
			*p = l->buf + l->start;	/* last line, no newline */
			*len = scanned;
			l->start = l->end;
			l->lineno++;
			l->nonl = 1;
			return LINE_OK;
		}
		if (scanned > l->max) {
			/* Keep the head for the message, skip the rest. */
			size_t total = scanned, keep = scanned < sizeof(l->head) ?
			    scanned : sizeof(l->head);
			memcpy(l->head, l->buf + l->start, keep);
			l->lineno++;
			l->start = l->end;
			for (;;) {
				ssize_t f;
				while ((f = fill(l)) == -2)
					wait_readable(l->fd);
				if (f == -1)
					return LINE_ERROR;
				char *q = memchr(l->buf + l->start, '\n',
				    l->end - l->start);
				if (q != NULL) {
					total += q - (l->buf + l->start);
					l->start = q + 1 - l->buf;
					break;
				}
				total += l->end - l->start;
				l->start = l->end;
				if (l->eof)
					break;
			}
			*p = l->head;
			*len = total;
			return LINE_TOOLONG;
		}
		switch (fill(l)) {
		case -1:
			return LINE_ERROR;
		case -2:
			if (l->nonblock)
				return LINE_AGAIN;
			wait_readable(l->fd);
			break;
		}
	}
}
