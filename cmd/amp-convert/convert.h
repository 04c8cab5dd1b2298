/*
 * convert.h: what the files of amp-convert share: the row being mapped
 * (struct amp), the property writer (struct obj), the sessions and
 * persons tables, and the state they are saved in.  One program: these
 * are its own, not a contract with another (those are in common/).
 */
#ifndef AMP_CONVERT_H
#define AMP_CONVERT_H
/*
 * amp-convert: turn Amplitude export lines into PostHog capture events,
 * one per line, deterministically: the same input gives the same bytes.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "ampevent.h"
#include "buf.h"
#include "cli.h"
#include "country.h"
#include "distinct.h"
#include "iso3166.h"
#include "jqprog.h"
#include "json.h"
#include "journal.h"
#include "jsonw.h"
#include "keyset.h"
#include "lines.h"
#include "outfile.h"
#include "phevent.h"
#include "rejects.h"
#include "retry.h"
#include "settle.h"
#include "stage.h"
#include "timestamp.h"
#include "uuid.h"
#include "xalloc.h"

#define MAXLINE_DEFAULT	(16 * 1024 * 1024)

#define WARN_LIMIT	20	/* rejects named on stderr, then a count */

struct stats {
	uint64_t	lines, written, dropped, rejected, blank;
	uint64_t	othershard;	/* rows of the other --shard's */
};

/* Writing properties: each key at most once per object. */
struct obj {
	struct buf	*b;
	struct keyset	*ks;
	int		 first;
	int		 once;	/* $set_once: its keys as so_key takes them */
};

/* What an event is, beyond its name, for the property mapping. */
enum kind {
	K_OTHER, K_ELEMENT, K_FORM, K_LIFECYCLE, K_OPENED, K_DEEPLINK
};

struct amp {
	const struct jval	*f[AF_NFIELDS];
	const struct jval	*ep;	/* event_properties, an object or NULL */
	const struct jval	*up;	/* user_properties, an object or NULL */
	int			 web, mobile, pageview;
	enum kind		 kind;
	int			 from_background;
	const struct jval	*loc;	/* [Amplitude] Page Location */
	char			 host[320];	/* its location.host */
	size_t			 hostlen;
	struct sess		*sess;	/* NULL without a session */
};

/*
 * Sessions seen lately, by (device, Amplitude session): what the first
 * event seen of each decided, so that every event of a session gets the
 * same $session_id time and the same entry referrer.  A bounded table:
 * SESS_SETS sets of SESS_WAYS, the least recently used of a full set
 * making room, so memory does not grow with the input.  Which session is
 * evicted depends only on the input, so the output stays deterministic.
 */
#define SESS_SETS	(1 << 15)

#define SESS_WAYS	4

#define SESS_REFMAX	4096		/* longer entry referrers: not carried */

#define SESS_SKEW_MS	60000LL		/* session start after its event */

#define SESS_MAX_MS	(24 * 3600 * 1000LL)	/* the SDKs' longest session */

struct sess {
	uint64_t	 h1, h2;	/* identity; 0, 0 for an empty slot */
	uint64_t	 used;		/* clock of the last use; 0: empty */
	uint64_t	 ms;		/* the 48-bit time of its $session_id */
	char		*ref, *dom;	/* entry referrer and referring domain */
	uint32_t	 reflen, domlen;
	int		 entry;		/* 0 unknown, 1 ref/dom set, 2 too long */
	struct camp	*camp;		/* its campaign parameters, or NULL */
	char		 vp[2][24];	/* last viewport height, width seen */
	uint8_t		 vplen[2];
	char		*form;		/* last form seen: its id, $elements */
	uint32_t	 formlen, formidlen;
	char		*pv;		/* --pageleave: the last $pageview's */
	uint32_t	 pvurl, pvpath, pvhost;	/* $current_url, $pathname, $host */
	int64_t		 pvus;		/* its time */
	char		 pvuuid[UUID_STRLEN];	/* its uuid */
	char		 sid[UUID_STRLEN + 1];	/* its $session_id, once made */
};

#define NCAMP	24	/* campaign_keys */

/* A session's campaign parameters: the JSON text of each key's value. */
struct camp {
	uint32_t	off[NCAMP + 1];	/* key i is text[off[i]..off[i+1]) */
	char		text[];
};

#define FORM_MAX	4096	/* longer form hierarchies are not kept */

/*
 * The location PostHog's GeoIP step would have written, from Amplitude's
 * names: nodejs/src/cdp/templates/_transformations/geoip/geoip.template.ts
 * (PostHog/posthog, commit 16d547c51a95) writes $geoip_<key> on the event
 * and in $set, and $initial_geoip_<key> in $set_once, for city_name,
 * country_name, country_code, continent_*, postal_code, latitude,
 * longitude, accuracy_radius, time_zone and subdivision_<N>_name/_code,
 * the code being MaxMind's subdivision isoCode: the part of the ISO
 * 3166-2 code after the country ("CA", not "US-CA").  Amplitude's region
 * is the most precise subdivision MaxMind knows ("Hertfordshire", where
 * MaxMind's first is "England"): when ISO places it under another, that
 * one is subdivision 1 and the region subdivision 2.
 */
struct geo {
	const struct jval	*country, *city, *region, *lat, *lng;
	const char		*cc;		/* alpha-2, or NULL */
	struct iso3166_sub	 sub;
	int			 sub_ok, any;
};

/*
 * An object property that is left out when it would be empty: open with
 * opt_open, close with opt_close, which takes the key back when nothing
 * was written in it (posthog-js sends no empty $set or $set_once).
 */
struct optobj {
	size_t	mark;
	int	first;
};

/*
 * Persons seen lately, by distinct_id: the time of the newest row whose
 * snapshot was sent in $set.  PostHog applies $set in the order it
 * ingests events, comparing values with the person's, never the events'
 * timestamps (computeEventPropertyUpdates in nodejs/src/worker/ingestion/
 * persons/person-update.ts, PostHog/posthog commit 1843a1601cb3), so an
 * older snapshot that arrives later would win.  A bounded table like the
 * sessions': PERS_SETS sets of PERS_WAYS, the least recently used of a
 * full set making room; which person is pushed out depends only on the
 * input, so the output stays deterministic.
 */
#define PERS_SETS	(1 << 16)

#define PERS_WAYS	4

struct pers {
	uint64_t	h1, h2;		/* identity */
	uint64_t	used;		/* clock of the last use; 0: empty */
	int64_t		us;		/* newest snapshot sent as $set */
};

/*
 * --pageleave: the $pageleave posthog-js sends when a page is left.
 * PostHog's web analytics reads the time on a page from the
 * $prev_pageview_duration of $pageview, $pageleave and $screen events,
 * by their $prev_pageview_pathname (PATH_BOUNCE_AND_AVG_TIME_QUERY in
 * posthog/hogql_queries/web_analytics/query_constants/stats_table_queries.py,
 * PostHog/posthog commit 0465d731ff13; stats_table.py
 * _scroll_prev_pathname_breakdown, commit 0011d5503e8b), and without
 * them has no time on page for migrated sessions.  posthog-js's page view
 * state lives in the page's memory (packages/browser/src/page-view.ts,
 * PostHog/posthog-js commit 9b2a1b18db64): a page load sends a $pageleave
 * of the page left at pagehide, a single-page application's navigation
 * has the previous page's duration on the next $pageview.  Amplitude
 * records neither: the next page view of the same session says when the
 * page was left.  The sessions table counts $pageleave in neither the
 * bounce (uniq $pageview, $autocapture, $screen) nor, at that time, the
 * duration (min and max timestamp), and takes the exit URL from page
 * views first (posthog/models/raw_sessions/sessions_v3.py, commit
 * 100e7ff21c1c), so those stay as they are.
 */
#define PV_MAX	8192	/* longer page URLs: their page gets no $pageleave */

#define LIT(s)	"" s, sizeof(s) - 1

/*
 * -j: the state this program carries from event to event (the sessions
 * and persons tables) saved beside the journal after a member now and
 * then, and loaded when amp-unpack -j skipped the members before: the
 * rest is then converted exactly as in one whole run (settle.h).  The
 * file is this build's own: a state of another version, or of other
 * options that change what is written, is refused.
 */
/*
 * When to save: after a member, once the input read since the last save
 * is STATE_RATIO times the last state's size (so saving costs a few per
 * cent of reading at most, and a re-run converts again little more than
 * what was in the pipes), or STATE_EVERY seconds went by (a slow run).
 */
#define STATE_EVERY	30.0

#define STATE_RATIO	16

#define STATE_ENV	"AMP2PH_STATE_EVERY"

#define STATE_KEEP	64	/* state files kept, at most */

/*
 * The two hashes that pick and name a slot of the sessions and persons
 * tables, over n more bytes.  Which slot an entry takes decides which is
 * pushed out of a full set, and so the output: these values must not
 * change.
 */
static inline void
table_hash(uint64_t *h1, uint64_t *h2, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		*h1 = (*h1 ^ (unsigned char)p[i]) * 0x100000001b3ULL;
		*h2 = (*h2 ^ (unsigned char)p[i]) * 0xff51afd7ed558ccdULL;
		*h2 ^= *h2 >> 29;
	}
}

/* Shared by the files of amp-convert. */
extern unsigned	shard_k, shard_n;
extern int	othershard;
extern struct amp_rules	 rules;
extern struct jqprog	*jq;
extern struct stats	 st;
extern int		 strictflag, quietflag, pageleaveflag;
extern uint64_t		 pageleaves;
extern struct buf	 out, tmp, campbuf, campvals;
extern struct keyset	 pkeys, skeys;
extern struct json_parser *parser;
extern const char *const campaign_keys[];
extern struct sess	*sessions;
extern uint64_t		 sess_clock;
extern struct buf	formbuf;
extern struct pers	*persons;
extern uint64_t		 pers_clock;
extern const char	*journal_path;
extern struct buf	 optsig;
extern int		 at_member_end;
extern uint64_t		 read_since;
extern struct journal	*state_jdb;

/* amp-convert.c */
void	flush_out(int force);

/* obj.c */
const struct jval	*nonnull(const struct jval *v);
int	is_str(const struct jval *v);
int	str_has(const struct jval *v, const char *needle);
void	obj_open(struct obj *o, struct buf *b, struct keyset *ks);
int	obj_key(struct obj *o, const char *k, size_t n);
void	obj_jv(struct obj *o, const char *k, const struct jval *v);
void	obj_str(struct obj *o, const char *k, const char *s, size_t n);
void	obj_cstr(struct obj *o, const char *k, const char *s);
void	obj_raw(struct obj *o, const char *k, const char *raw);
void	obj_version_number(struct obj *o, const char *k, const struct jval *v);
int	so_key(struct obj *s, const char *k, size_t n);

/* convert.c */
int	url_path(const struct jval *v, const char **p, size_t *n);
size_t	url_host(const char *s, size_t n, char *dst, size_t cap);
void	add_groups(struct obj *o, const struct jval *g);
int	is_initial(const struct jval *k);
void	add_geo(struct obj *o, const struct geo *g, int set);
int	convert(const struct jval *root, const char **why);

/* session.c */
struct sess	*session_of(const struct jval *who, const struct jval *sid,
	    uint64_t sid_ms, int64_t ev_ms);
void	sessions_free(void);
void	campaign_write(struct obj *o, const char *text, const uint32_t *off);
void	add_campaign(struct obj *o, const struct jval *url, struct sess *ss);
void	add_viewport(struct obj *o, const struct amp *a);
void	add_referrer(struct obj *o, const struct amp *a);
void	new_tab(const struct amp *a);

/* elements.c */
int	hexdig(int c);
void	add_link_params(struct obj *o, const struct jval *url);
void	target_of(const struct amp *a, int *sensitive,
	    const struct jval **href);
void	add_external_click(struct obj *o, const struct amp *a,
	    const struct jval *href);
void	add_elements(struct obj *o, const struct amp *a);
int	consumed_by_elements(const char *k, size_t n, enum kind kind);
void	obj_build(struct obj *o, const char *k, const struct jval *v);

/* person.c */
int	person_newest(const char *did, size_t n, int64_t us);
void	add_person(struct obj *o, const struct amp *a, const char *os,
	    const char *devtype, const char *browser, const struct geo *g,
	    int newest);
void	add_device(struct obj *o, const struct amp *a, const char *os,
	    const char *devtype, const char *browser, const struct geo *g);

/* pageleave.c */
void	page_remember(const struct amp *a, const char *uuid, int64_t us);
int	leave_applies(const struct amp *a, int64_t us);
void	add_prev_duration(struct obj *o, const struct amp *a, const char *p,
	    size_t n, int64_t us);
void	event_head(const char *name, size_t namelen, const char *did,
	    size_t didlen, const char *ts, const char *uuid);
void	write_pageleave(const struct amp *a, const char *did, size_t didlen,
	    const char *ts, int64_t us, const char *sid, const char *os,
	    const char *devtype, const char *browser, const struct geo *g);

/* state.c */
void	state_fingerprint(const char *program);
void	state_save(void);
void	marker(const char *file, uint64_t lineno, int kind, const char *line,
	    size_t len);

#endif
