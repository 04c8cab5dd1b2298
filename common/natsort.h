/*
 * natsort: "natural" string order, where runs of digits compare as
 * numbers, so part _9 of an hour comes before part _10.  Amplitude does
 * not zero-pad hours or part numbers in member names.
 */
#ifndef NATSORT_H
#define NATSORT_H

int	natcmp(const char *, const char *);
int	natcmp_qsort(const void *, const void *);	/* for char *[] */

#endif
