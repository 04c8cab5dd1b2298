/*
 * rejects: the file where refused input goes, so nothing is lost.  One
 * NDJSON line per rejected line or event: where it came from, why, and
 * the input itself (as a string when it is valid UTF-8, else base64),
 * so it can be fixed and replayed.
 */
#ifndef REJECTS_H
#define REJECTS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "utf8.h"

struct rejects {
	FILE		*fp;
	const char	*path;
	uint64_t	 count;
};

/* path NULL: rejects are only counted and warned about. */
void	rejects_open(struct rejects *, const char *path);
/*
 * Record one rejection.  input is the raw line, or for ph-batch the event;
 * status is an HTTP status, or 0 when there was none.
 */
void	rejects_add(struct rejects *, const char *file, uint64_t line,
	    const char *reason, const char *input, size_t len, int status);
/* 0, or -1 if the file could not be written completely. */
int	rejects_close(struct rejects *);
/* Append the bytes of an "input_base64" value to b. */
struct buf;
void	rejects_unbase64(struct buf *b, const char *s, size_t n);

#endif
