/* uuidset: linear-probing hash set of 16-byte keys. */
#include <stdlib.h>
#include <string.h>

#include "uuidset.h"
#include "xalloc.h"

/* Keys are uuids or SHA-1 output: their bytes are already well mixed. */
static size_t
slot_of(const unsigned char k[16], size_t mask)
{
	uint64_t h;

	memcpy(&h, k + 8, sizeof(h));
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h & mask;
}

void
uuidset_init(struct uuidset *s)
{
	s->mask = 1023;
	s->key = xcalloc(s->mask + 1, 16);
	s->state = xcalloc(s->mask + 1, 1);
	s->used = s->tomb = 0;
}

static void
grow(struct uuidset *s, size_t newmask)
{
	unsigned char (*ok)[16] = s->key;
	uint8_t *os = s->state;
	size_t omask = s->mask;

	s->mask = newmask;
	s->key = xcalloc(s->mask + 1, 16);
	s->state = xcalloc(s->mask + 1, 1);
	s->tomb = 0;
	for (size_t i = 0; i <= omask; i++) {
		if (os[i] != 1)
			continue;
		size_t j = slot_of(ok[i], s->mask);
		while (s->state[j] != 0)
			j = (j + 1) & s->mask;
		memcpy(s->key[j], ok[i], 16);
		s->state[j] = 1;
	}
	free(ok);
	free(os);
}

int
uuidset_add(struct uuidset *s, const unsigned char k[16])
{
	size_t j, tomb = SIZE_MAX;

	if ((s->used + s->tomb + 1) * 2 > s->mask)
		grow(s, s->used * 4 > s->mask ? s->mask * 2 + 1 : s->mask);
	for (j = slot_of(k, s->mask); s->state[j] != 0; j = (j + 1) & s->mask) {
		if (s->state[j] == 1 && memcmp(s->key[j], k, 16) == 0)
			return 0;
		if (s->state[j] == 2 && tomb == SIZE_MAX)
			tomb = j;
	}
	if (tomb != SIZE_MAX) {
		j = tomb;
		s->tomb--;
	}
	memcpy(s->key[j], k, 16);
	s->state[j] = 1;
	s->used++;
	return 1;
}

static size_t
find(const struct uuidset *s, const unsigned char k[16])
{
	for (size_t j = slot_of(k, s->mask); s->state[j] != 0;
	    j = (j + 1) & s->mask)
		if (s->state[j] == 1 && memcmp(s->key[j], k, 16) == 0)
			return j;
	return SIZE_MAX;
}

int
uuidset_has(const struct uuidset *s, const unsigned char k[16])
{
	return find(s, k) != SIZE_MAX;
}

int
uuidset_del(struct uuidset *s, const unsigned char k[16])
{
	size_t j = find(s, k);

	if (j == SIZE_MAX)
		return 0;
	s->state[j] = 2;
	s->used--;
	s->tomb++;
	return 1;
}

size_t
uuidset_count(const struct uuidset *s)
{
	return s->used;
}

void
uuidset_free(struct uuidset *s)
{
	free(s->key);
	free(s->state);
	memset(s, 0, sizeof(*s));
}
