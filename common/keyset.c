/* keyset: open-addressing string set with generation-stamped slots. */
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "xalloc.h"

static uint32_t
hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

void
keyset_clear(struct keyset *k)
{
	if (k->slot == NULL) {
		k->mask = 255;
		k->slot = xcalloc(k->mask + 1, sizeof(*k->slot));
	}
	k->count = 0;
	if (++k->gen == 0) {		/* wrapped: really clear */
		memset(k->slot, 0, (k->mask + 1) * sizeof(*k->slot));
		k->gen = 1;
	}
}

static void
rehash(struct keyset *k)
{
	struct keyslot *old = k->slot;
	uint32_t omask = k->mask;

	k->mask = k->mask * 2 + 1;
	k->slot = xcalloc(k->mask + 1, sizeof(*k->slot));
	for (uint32_t i = 0; i <= omask; i++) {
		if (old[i].gen != k->gen)
			continue;
		uint32_t j = hash(old[i].key, old[i].len) & k->mask;
		while (k->slot[j].gen == k->gen)
			j = (j + 1) & k->mask;
		k->slot[j] = old[i];
	}
	free(old);
}

int
keyset_add(struct keyset *k, const char *s, size_t n)
{
	uint32_t j;

	if ((k->count + 1) * 2 > k->mask)
		rehash(k);
	for (j = hash(s, n) & k->mask; k->slot[j].gen == k->gen;
	    j = (j + 1) & k->mask)
		if (k->slot[j].len == n && memcmp(k->slot[j].key, s, n) == 0)
			return 0;
	k->slot[j].key = s;
	k->slot[j].len = n;
	k->slot[j].gen = k->gen;
	k->count++;
	return 1;
}

void
keyset_free(struct keyset *k)
{
	free(k->slot);
	memset(k, 0, sizeof(*k));
}
