/*
 * xalloc: memory allocation that cannot fail.  Out of memory is not an
 * input error we can recover from in a filter, so these print and exit 1.
 */
#ifndef XALLOC_H
#define XALLOC_H
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

#endif
