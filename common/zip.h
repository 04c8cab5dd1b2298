/*
 * zip: read the members of a zip archive (Amplitude's Export API answer,
 * its settings export) from a seekable file.  The central directory is
 * read first (zip64 included) so members can be listed, sorted and read
 * in any order; an archive whose end is missing (a cut download) is
 * recovered by walking its local headers, so the complete members before
 * the cut are still read.  Each member is a src: stored or deflated,
 * CRC-32 and size checked at its end, and only then counted as verified
 * (struct src): a member's bytes are whole or suspect until its last.
 */
#ifndef ZIP_H
#define ZIP_H
#include <stdint.h>

#include "src.h"

struct zip_entry {
	char		*name;
	uint16_t	 method;
	uint16_t	 flags;
	uint32_t	 crc;
	uint64_t	 csize;
	uint64_t	 usize;
	uint64_t	 offset;	/* of the local header */
	const char	*damage;	/* found while recovering, or NULL */
	int		 truncated;	/* cut off: csize is what is there */
};

struct zip {
	int		  fd;
	uint64_t	  size;
	struct zip_entry *ent;
	size_t		  nent;
	int		  recovered;	/* no central directory: walked */
};

/* 0 on success; -1 with a message in err. */
int		 zip_open(struct zip *, int fd, char *err, size_t errlen);
void		 zip_close(struct zip *);
/* A src over member i's uncompressed bytes, or NULL with err set. */
struct src	*zip_member(struct zip *, size_t i, char *err, size_t errlen);
/* True if the bytes start a zip archive (local header or empty zip). */
int		 zip_magic(const unsigned char *, size_t);

#endif
