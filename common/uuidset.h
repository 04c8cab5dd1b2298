/*
 * uuidset: a set of 16-byte keys (uuids, or hashes of id pairs) in one
 * open-addressing table: 16 bytes a key at most 50% load, so about 32-64
 * bytes per member.  Used where memory must be bounded by distinct keys,
 * not by events.
 */
#ifndef UUIDSET_H
#define UUIDSET_H
#include <stddef.h>
#include <stdint.h>

struct uuidset {
	unsigned char	(*key)[16];
	uint8_t		*state;		/* 0 empty, 1 used, 2 deleted */
	size_t		 mask, used, tomb;
};

void	uuidset_init(struct uuidset *);
/* 1 if added, 0 if it was already there. */
int	uuidset_add(struct uuidset *, const unsigned char[16]);
int	uuidset_has(const struct uuidset *, const unsigned char[16]);
/* 1 if removed, 0 if it was not there. */
int	uuidset_del(struct uuidset *, const unsigned char[16]);
size_t	uuidset_count(const struct uuidset *);
void	uuidset_free(struct uuidset *);

#endif
