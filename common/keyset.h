/*
 * keyset: the set of keys already written into one JSON object, so an
 * event never carries the same property twice when several sources
 * (event properties, renames, derived fields) offer it.  Cleared in O(1)
 * per event by a generation counter.
 */
#ifndef KEYSET_H
#define KEYSET_H
#include <stddef.h>
#include <stdint.h>

struct keyslot {
	const char	*key;
	uint32_t	 len;
	uint32_t	 gen;
	uint32_t	 hash;	/* of key: most probes end without memcmp */
};

struct keyset {
	struct keyslot	*slot;
	uint32_t	 mask;
	uint32_t	 gen;
	uint32_t	 count;
};

void	keyset_clear(struct keyset *);
/* 1 if key was new (and is now in the set), 0 if already there. */
int	keyset_add(struct keyset *, const char *, size_t);
void	keyset_free(struct keyset *);

#endif
