/*
 * progress: the one -p status line on stderr, and how the stages of one
 * pipeline share it.  amp-unpack (the head: it alone knows how much of
 * the export is read), amp-export and ph-batch (the tail: it alone knows
 * what was delivered) draw through this module, so the line looks the
 * same everywhere and a warning is printed above it, never onto it
 * (progress_note clears the line first).
 *
 * Two meters on one terminal would overwrite each other's row, so the
 * stages of one pipeline (one process group) agree through two small
 * files in $TMPDIR named by user and process group: the head publishes
 * its figures (bytes read of the total), and a tail that draws claims
 * the line; the head then stops drawing and the tail shows one line for
 * the whole pipeline: share of the export, events delivered, rate, ETA,
 * errors.  A claim whose process is gone counts for nothing.
 */
#ifndef PROGRESS_H
#define PROGRESS_H
#include <stddef.h>
#include <stdint.h>

/* A meter named prog (the line's prefix).  Call once, with -p. */
void	progress_init(const char *prog);
/* 1 when the line is due for a redraw (4 a second on a terminal, one a
 * minute into a log); final forces it. */
int	progress_due(int final);
/* Draw the line: on a terminal in place, else one line each call. */
void	progress_draw(int final, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* warnx(3), with the drawn line cleared first (redrawn at the next tick). */
void	note(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* The head's byte meter (amp-unpack): total 0 when unknown (stdin). */
void	progress_start(const char *prog, uint64_t total);
/* Cheap enough to call per block. */
void	progress_tick(void);
void	progress_end(void);

/* The tail: say this process draws the pipeline's line. */
void	progress_claim(void);
/* At the tail's end: the claim and the head's figures are removed. */
void	progress_release(void);
/*
 * The head's figures, if a head of this pipeline publishes them: 1 with
 * *done and *total (0: unknown) bytes, else 0.
 */
int	progress_upstream(uint64_t *done, uint64_t *total);

/* "1.2 MB": decimal units, for people reading a status line. */
void	human_bytes(char *buf, size_t len, double bytes);
/* "1:02:03" */
void	human_hms(char *buf, size_t len, double seconds);

#endif
