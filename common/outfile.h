/*
 * outfile: the end of every filter's output.  A full disk or a closed
 * pipe must be an error, not silence, so each program ends with
 * outfile_close(stdout, "stdout") and exits 1 if it fails.
 */
#ifndef OUTFILE_H
#define OUTFILE_H
#include <stdio.h>

int	outfile_close(FILE *, const char *);
void	outfile_write(FILE *, const void *, size_t, const char *);
void	pipe_grow(int fd);
/*
 * An unlinked temporary file in $TMPDIR (else /tmp), open for writing
 * and reading back: where a filter keeps what it must read twice.  NULL
 * with errno set.  tmpfile(3) would ignore TMPDIR.
 */
FILE	*spool_file(void);

#endif
