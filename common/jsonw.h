/*
 * jsonw: writing JSON text into a buf.  Strings are escaped as RFC 8259
 * requires and no more (UTF-8 passes through), so output stays as close
 * to the input's bytes as JSON allows.
 */
#ifndef JSONW_H
#define JSONW_H
#include <stdint.h>

#include "buf.h"

void	jsonw_str(struct buf *, const char *, size_t);
void	jsonw_cstr(struct buf *, const char *);
void	jsonw_u64(struct buf *, uint64_t);
void	jsonw_i64(struct buf *, int64_t);
/* Item i of an array of objects: a comma after the first, then "{". */
void	jsonw_item(struct buf *, size_t i, int *first);
/* "key": with the separator; first is cleared after use. */
void	jsonw_key(struct buf *, const char *, int *first);

#endif
