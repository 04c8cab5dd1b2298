/*
 * utf8: strict UTF-8 validation (no overlong forms, no surrogates, nothing
 * past U+10FFFF).  JSON text must be UTF-8 and PostHog stores strings as
 * such; YAJL checks only the shape of multi-byte sequences.
 */
#ifndef UTF8_H
#define UTF8_H
#include <stddef.h>
#include <stdint.h>

struct buf;

int	utf8_valid(const char *, size_t);
/*
 * The code point at s (n > 0) into *cp: its length in bytes, or -1 for a
 * byte that does not start a valid sequence.  The one decoder.
 */
int	utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Append s to b with each byte that is not valid UTF-8 as U+FFFD. */
void	utf8_clean(struct buf *b, const char *s, size_t n);

#endif
