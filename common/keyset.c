/* keyset: open-addressing string set with generation-stamped slots. */
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "xalloc.h"

/*
 * Keys are property names of 10 to 40 bytes, hashed for every property
 * of every event: 8 bytes a step (the last 8 overlapping the one before)
 * rather than FNV's one.  Multiplying mixes upwards, so the high half is
 * folded down into the low bits that pick a slot.
 */
static uint32_t
hash(const char *s, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = n * k, w;
	size_t i;

	if (n < 8) {
		for (i = 0; i < n; i++)
			h = (h ^ (unsigned char)s[i]) * k;
	} else {
		for (i = 0; i + 8 < n; i += 8) {
			memcpy(&w, s + i, 8);
			h = (h ^ w) * k;
			h ^= h >> 32;
		}
		memcpy(&w, s + n - 8, 8);
		h = (h ^ w) * k;
	}
	h ^= h >> 32;
	return (uint32_t)(h ^ h >> 16);
}

void
keyset_clear(struct keyset *k)
{
	if (k->slot == NULL) {
		/* Small: sets made for one element are made often. */
		k->mask = 31;
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
		uint32_t j = old[i].hash & k->mask;
		while (k->slot[j].gen == k->gen)
			j = (j + 1) & k->mask;
		k->slot[j] = old[i];
	}
	free(old);
}

int
keyset_add(struct keyset *k, const char *s, size_t n)
{
	uint32_t h = hash(s, n), j;

	if ((k->count + 1) * 2 > k->mask)
		rehash(k);
	for (j = h & k->mask; k->slot[j].gen == k->gen; j = (j + 1) & k->mask)
		if (k->slot[j].hash == h && k->slot[j].len == n &&
		    memcmp(k->slot[j].key, s, n) == 0)
			return 0;
	k->slot[j].key = s;
	k->slot[j].len = n;
	k->slot[j].gen = k->gen;
	k->slot[j].hash = h;
	k->count++;
	return 1;
}

void
keyset_free(struct keyset *k)
{
	free(k->slot);
	memset(k, 0, sizeof(*k));
}
