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
	s->val = NULL;
}

void
uuidmap_init(struct uuidset *s)
{
	uuidset_init(s);
	s->val = xcalloc(s->mask + 1, sizeof(*s->val));
}

static void
grow(struct uuidset *s, size_t newmask)
{
	unsigned char (*ok)[16] = s->key;
	uint8_t *os = s->state;
	uint32_t *ov = s->val;
	size_t omask = s->mask;

	s->mask = newmask;
	s->key = xcalloc(s->mask + 1, 16);
	s->state = xcalloc(s->mask + 1, 1);
	if (ov != NULL)
		s->val = xcalloc(s->mask + 1, sizeof(*s->val));
	s->tomb = 0;
	for (size_t i = 0; i <= omask; i++) {
		if (os[i] != 1)
			continue;
		size_t j = slot_of(ok[i], s->mask);
		while (s->state[j] != 0)
			j = (j + 1) & s->mask;
		memcpy(s->key[j], ok[i], 16);
		s->state[j] = 1;
		if (ov != NULL)
			s->val[j] = ov[i];
	}
	free(ok);
	free(os);
	free(ov);
}

/* Adds k unless there; its slot, or SIZE_MAX if it was there. */
static size_t
add(struct uuidset *s, const unsigned char k[16])
{
	size_t j, tomb = SIZE_MAX;

	if ((s->used + s->tomb + 1) * 2 > s->mask)
		grow(s, s->used * 4 > s->mask ? s->mask * 2 + 1 : s->mask);
	for (j = slot_of(k, s->mask); s->state[j] != 0; j = (j + 1) & s->mask) {
		if (s->state[j] == 1 && memcmp(s->key[j], k, 16) == 0)
			return SIZE_MAX;
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
	return j;
}

int
uuidset_add(struct uuidset *s, const unsigned char k[16])
{
	return add(s, k) != SIZE_MAX;
}

int
uuidmap_add(struct uuidset *s, const unsigned char k[16], uint32_t v)
{
	size_t j = add(s, k);

	if (j == SIZE_MAX)
		return 0;
	s->val[j] = v;
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

uint32_t *
uuidmap_get(const struct uuidset *s, const unsigned char k[16])
{
	size_t j = find(s, k);

	return j == SIZE_MAX ? NULL : &s->val[j];
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

int
uuidset_next(const struct uuidset *s, size_t *it, const unsigned char **k,
    uint32_t **v)
{
	for (; *it <= s->mask; (*it)++)
		if (s->state[*it] == 1) {
			*k = s->key[*it];
			if (v != NULL)
				*v = s->val != NULL ? &s->val[*it] : NULL;
			(*it)++;
			return 1;
		}
	return 0;
}

void
uuidset_free(struct uuidset *s)
{
	free(s->key);
	free(s->state);
	free(s->val);
	memset(s, 0, sizeof(*s));
}
