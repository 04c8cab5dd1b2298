/*
 * htmlw: text for a page people read, written into a buf.  Any bytes
 * become text a page can show (valid UTF-8; bad bytes, control characters
 * and non-characters as U+FFFD), escaped for HTML or not (for a JSON
 * string a person will read), and counts are grouped by thousands.
 */
#ifndef HTMLW_H
#define HTMLW_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* At most max bytes of s are read (an ellipsis marks a cut). */
void	htmlw_clean(struct buf *, const char *s, size_t n, int escape,
	    size_t max);
/* Cleaned and escaped: &<>"' as entities. */
void	htmlw_text(struct buf *, const char *, size_t);
void	htmlw_texts(struct buf *, const char *);
/* 1234567 as "1,234,567". */
void	htmlw_addnum(struct buf *, uint64_t);
/* The same in one of 8 static buffers, taken in turn. */
const char *htmlw_num(uint64_t);

#endif
