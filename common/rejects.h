/*
 * rejects: the file where refused input goes, so nothing is lost.  One
 * NDJSON line per rejected line or event: where it came from, why, and
 * the input itself (as a string when it is valid UTF-8, else base64),
 * so it can be fixed and replayed.  amp-convert and ph-batch write it,
 * ph-report reads it (--rejects) to say which export lines were refused
 * and why, and users replay it with jq: all of them go through this
 * module, so a field added here is one every reader knows.  The module
 * also owns how refused input is told on stderr (rejects_warn), so the
 * programs name the first ones and then say where the rest are, alike.
 *
 * A migration is killed (kill -9, the OOM killer, a lost machine) and run
 * again, appending to the same file, so the file is written so that a
 * kill costs at most one line: each line goes out in one write(2) on an
 * O_APPEND descriptor (no stdio buffer to tear it at a block boundary),
 * and a file that does not end in a newline, torn by an earlier kill, is
 * given one before anything is added, so the torn line stays one bad
 * line of its own and every later line is whole.  Readers skip a line
 * that does not parse.
 */
#ifndef REJECTS_H
#define REJECTS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "utf8.h"

struct rejects {
	int		 fd;		/* when open is set */
	int		 open;		/* zeroed: no file */
	const char	*path;
	uint64_t	 count;
	uint64_t	 warned;	/* rejects_warn calls */
};

/* One line of a rejects file, as rejects_parse reads it. */
struct reject {
	const char	*file;		/* NULL: none given */
	uint64_t	 line;		/* 0: none given */
	const char	*reason;	/* NUL-terminated */
	size_t		 reasonlen;
	int		 has_status;	/* ph-batch's: PostHog answered */
	long		 status;
	const char	*input;		/* the bytes refused, NUL-terminated */
	size_t		 inputlen;
};

/*
 * path NULL: rejects are only counted and warned about.  Otherwise the
 * file is appended to (created if need be) or the program exits 1.
 */
void	rejects_open(struct rejects *, const char *path);
/*
 * Record one rejection.  input is the raw line, or for ph-batch the event;
 * status is an HTTP status, or 0 when there was none.  file and reason
 * are written as UTF-8 with each invalid byte as U+FFFD (a name from the
 * file system, a reason that quotes a cut answer), so the line is always
 * JSON text.  A failed write exits 1.
 */
void	rejects_add(struct rejects *, const char *file, uint64_t line,
	    const char *reason, const char *input, size_t len, int status);
/* 0, or -1 if the file could not be written completely. */
int	rejects_close(struct rejects *);
/*
 * Tell one refused line on stderr, as "file:line: " and the message,
 * for the first limit calls on r; the next call says once "further
 * <what> are not named here", with "; see <path>" when r has a file,
 * and later ones say nothing.  A zeroed struct rejects (no file) does
 * for problems that are only told, not kept.
 */
void	rejects_warn(struct rejects *r, unsigned limit, const char *what,
	    const char *file, uint64_t line, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
/* Append the bytes of an "input_base64" value to b. */
struct buf;
void	rejects_unbase64(struct buf *b, const char *s, size_t n);
struct json_parser;
/*
 * One line of a rejects file (without its newline) into rj: 0, or -1
 * with a message in err.  The input, decoded from input_base64 when it
 * was not UTF-8, goes into input (emptied first); rj's strings point
 * into it and into the parser's tree, until the next parse or change.
 */
int	rejects_parse(struct json_parser *, const char *p, size_t len,
	    struct reject *rj, struct buf *input, char *err, size_t errlen);

#endif
