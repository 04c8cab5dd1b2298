/*
 * progress: the -p status line on stderr.  It is driven by the bytes read
 * from disk (src_raw_bytes), so at the head of a pipeline it shows the
 * whole pipeline's progress: later stages cannot run ahead of it.
 */
#ifndef PROGRESS_H
#define PROGRESS_H
#include <stdint.h>

/* total 0: unknown (stdin). */
void	progress_start(const char *prog, uint64_t total);
/* Cheap enough to call per block; redraws a few times a second. */
void	progress_tick(void);
void	progress_end(void);
/* "1.2 MB": decimal units, for people reading a status line. */
void	human_bytes(char *buf, size_t len, double bytes);

#endif
