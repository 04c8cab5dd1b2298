/*
 * phevent: a PostHog capture event, as capture accepts it.  amp-convert
 * and ph-alias write these events; ph-batch checks every one with
 * phevent_check before it goes into a batch (capture refuses a whole
 * batch for one bad event), and ph-verify reads their uuid and time with
 * it.  Both must agree with capture's own types (RawEvent in
 * rust/common/types/src/event.rs and the checks of rust/capture,
 * PostHog/posthog@6e2cafdd): what is refused here is exactly what would
 * cost a 400 and a bisection there.
 */
#ifndef PHEVENT_H
#define PHEVENT_H
#include <stdint.h>

struct jval;

/*
 * The $lib of every event amp2ph makes (amp-convert's, ph-alias's
 * identity events): ph-verify asks PostHog for the events that carry
 * it, so that a project's live SDK events are not counted.
 */
#define PHEVENT_LIB	"amp2ph"

struct phevent {
	const struct jval *root, *props;	/* props NULL if absent */
	int		 has_uuid;
	unsigned char	 uuid[16];
	int		 has_ts;
	int64_t		 ts;		/* µs since the epoch, UTC */
};

/*
 * Check a parsed line as capture would: 0 with e filled in, or -1 with
 * the reason in *why (a constant string).
 */
int	phevent_check(const struct jval *root, struct phevent *e,
	    const char **why);

/*
 * The pair an identity event merges: $identify (distinct_id the user,
 * $anon_distinct_id the device) or $create_alias (distinct_id the
 * device, properties.alias the user), both ids mergeable and distinct.
 * 1 with the 16-byte keys of device and user, else 0.  ph-batch records
 * the pair of each identity event it delivers as the device's claim in
 * the journal, and ph-alias, keying the ids the same way with
 * phevent_id_key, asks who claimed a device it has not seen in its run.
 */
int	phevent_identity(const struct jval *root, unsigned char device[16],
	    unsigned char user[16]);
void	phevent_id_key(const char *id, size_t n, unsigned char key[16]);

#endif
