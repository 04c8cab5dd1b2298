/*
 * uuidset: a set of 16-byte keys (uuids, or hashes of id pairs) in one
 * open-addressing table: 16 bytes a key at most 50% load, so about 32-64
 * bytes per member.  Used where memory must be bounded by distinct keys,
 * not by events.  A uuidmap is the same table with a uint32_t value per
 * key (4 bytes more a slot): ph-report's rejects, keyed by uuid or by
 * a hash of the line, with what it knows of each.
 */
#ifndef UUIDSET_H
#define UUIDSET_H
#include <stddef.h>
#include <stdint.h>

struct uuidset {
	unsigned char	(*key)[16];
	uint8_t		*state;		/* 0 empty, 1 used, 2 deleted */
	size_t		 mask, used, tomb;
	uint32_t	*val;		/* a uuidmap's values, else NULL */
};

void	uuidset_init(struct uuidset *);
/* 1 if added, 0 if it was already there. */
int	uuidset_add(struct uuidset *, const unsigned char[16]);
int	uuidset_has(const struct uuidset *, const unsigned char[16]);
/* 1 if removed, 0 if it was not there. */
int	uuidset_del(struct uuidset *, const unsigned char[16]);
size_t	uuidset_count(const struct uuidset *);
/*
 * Walk the members in no order, *it 0 at first: 1 with *k (and *v for a
 * uuidmap, if v is not NULL) pointing at the next one, 0 at the end.  No
 * adds during a walk.
 */
int	uuidset_next(const struct uuidset *, size_t *it,
	    const unsigned char **k, uint32_t **v);
void	uuidset_free(struct uuidset *);

/* A uuidset with a value per key; uuidset_free frees it too. */
void	 uuidmap_init(struct uuidset *);
/* Adds k with value v unless there: 1 if added, 0 if it was there. */
int	 uuidmap_add(struct uuidset *, const unsigned char[16], uint32_t v);
/* k's value, to read or change until the next add; NULL if absent. */
uint32_t *uuidmap_get(const struct uuidset *, const unsigned char[16]);

#endif
