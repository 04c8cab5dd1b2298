/*
 * settle: the marker lines and the state file that let a re-run read
 * only what is not yet delivered.  amp-unpack -j writes a member marker
 * after the lines of each zip member it passes on; amp-convert and
 * ph-alias pass it on in its place among the events; ph-batch -j, once
 * every event it read before the marker is delivered (or rejected, or
 * already in the journal), records the member's key in the journal as
 * settled.  amp-convert -j saves its own state (the sessions and persons
 * it remembers) after a member now and then, in a state file beside the
 * journal whose header names that member.  A re-run's amp-unpack -j
 * skips, unread, the settled members up to the last one a state file
 * names, and writes a resume marker first: amp-convert then loads that
 * state, so what it writes for the rest is what one whole run would
 * have.  ph-verify drops member markers and refuses a resume marker (it
 * must see every event).  All of them must agree on the lines, the key
 * (which names a member by its name, zip CRC-32 and sizes, not by the
 * archive it came in, so an export downloaded twice is settled once)
 * and the state file's header.
 */
#ifndef SETTLE_H
#define SETTLE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

/* Every marker line starts with one of these: no event does. */
#define SETTLE_PREFIX	"{\"$amp2ph_member\":"
#define SETTLE_RESUME	"{\"$amp2ph_resume\":"

enum { SETTLE_NONE, SETTLE_MEMBER, SETTLE_SKIPPED };

/*
 * What every stage says of a resume marker it cannot take (ph-verify and
 * ph-report must read every event; amp-convert needs -j), before its own
 * reason: one wording for "members were skipped".
 */
#define SETTLE_SKIPPED_WHY \
	"amp-unpack -j skipped the settled members before this line"

/* A zip member, as the marker and the journal name it. */
struct settle_member {
	const char	*name;		/* the member's name in the archive */
	size_t		 namelen;
	uint32_t	 crc;		/* of the member's stored bytes */
	uint64_t	 csize, usize;	/* stored and inflated sizes */
	uint64_t	 seq;		/* its place in the reading order, from 1 */
};

/*
 * SETTLE_MEMBER or SETTLE_SKIPPED if the line is a marker (it may still
 * be a damaged one), else SETTLE_NONE.
 */
int	settle_is(const char *p, size_t len);
/*
 * The marker line of m (kind SETTLE_MEMBER, or SETTLE_SKIPPED: the
 * resume marker, m the last member skipped), with its newline, appended
 * to b.
 */
void	settle_line(struct buf *b, int kind, const struct settle_member *m);
/*
 * The journal's key of m, appended to b (a NUL after it, not counted):
 * what the member holds, wherever it is read.
 */
void	settle_key(struct buf *b, const struct settle_member *m);
/*
 * Where a state was saved: the key and the member's place in the
 * reading order.  A member exported twice (overlapping windows) is one
 * key in two places, and the state after each is another.
 */
void	settle_at(struct buf *b, const char *key, uint64_t seq);
/*
 * The key of a marker line of either kind (the member it names),
 * appended to b, and the member's place in *seq: 0, or -1 with why set
 * when the line is not a well-formed marker.
 */
int	settle_parse(const char *p, size_t len, struct buf *b, uint64_t *seq,
	    const char **why);

/*
 * The state files of a journal: amp-convert saves its state after a
 * member as path "-convert." N (N counting up), and keeps every one
 * whose member ph-batch has not yet settled, and the newest whose member
 * it has: amp-convert runs ahead of ph-batch by what the pipes and
 * ph-batch's queue hold, so the newest state is seldom one a re-run can
 * start from.  A file starts with SETTLE_STATE_MAGIC, amp-convert's
 * version and the fingerprint of its options (each on a line), then
 * where it was saved (settle_at) and a newline; what follows is
 * amp-convert's own.
 */
#define SETTLE_STATE_MAGIC	"amp2ph-convert-state 1"
/* The name of state file n: malloc'ed. */
char	*settle_state_path(const char *journal, uint64_t n);
/*
 * The numbers of the journal's state files, in *ns (malloc'ed, oldest
 * first): how many, or 0 (also when the directory cannot be read).
 */
size_t	 settle_state_list(const char *journal, uint64_t **ns);
/*
 * The header of a state file, read from fp: 1 with where it was saved
 * in at (and version and fingerprint, if not NULL), 0 if fp is not a
 * state file.
 */
int	 settle_state_header(FILE *fp, struct buf *at, struct buf *version,
	    struct buf *fingerprint);
/* Where state file n was saved, into at: 1, or 0 if it says not. */
int	 settle_state_at(const char *journal, uint64_t n, struct buf *at);

#endif
