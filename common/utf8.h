/*
 * utf8: strict UTF-8 validation (no overlong forms, no surrogates, nothing
 * past U+10FFFF).  JSON text must be UTF-8 and PostHog stores strings as
 * such; YAJL checks only the shape of multi-byte sequences.
 */
#ifndef UTF8_H
#define UTF8_H
#include <stddef.h>

struct buf;

int	utf8_valid(const char *, size_t);
/* Append s to b with each byte that is not valid UTF-8 as U+FFFD. */
void	utf8_clean(struct buf *b, const char *s, size_t n);

#endif
