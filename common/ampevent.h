/*
 * ampevent: what amp-convert decides about one Amplitude export row
 * before it writes anything.  The top-level fields it reads, the checks
 * that make it refuse a row, the PostHog event name (built-in names, then
 * --rename), the --drop/--keep rules (session_start dropped by default),
 * the time (event_time, else client_event_time, else
 * server_received_time), the distinct id and the uuid (Amplitude's own
 * when it is a valid UUID, else a v5 of the fields that identify the
 * row).  amp-convert and ph-report both call it, so the report looks up
 * in the journal exactly the uuids amp-convert gave.
 */
#ifndef AMPEVENT_H
#define AMPEVENT_H
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "uuid.h"

/* Top-level Amplitude fields the mapping reads; sorted by name. */
enum amp_field {
	AF_INSERT_ID, AF_ADID, AF_AMPLITUDE_ID, AF_APP, AF_CARRIER, AF_CITY,
	AF_CLIENT_EVENT_TIME, AF_COUNTRY, AF_DEVICE_BRAND, AF_DEVICE_CARRIER,
	AF_DEVICE_FAMILY, AF_DEVICE_ID, AF_DEVICE_MANUFACTURER,
	AF_DEVICE_MODEL, AF_DEVICE_TYPE, AF_EVENT_ID, AF_EVENT_PROPERTIES,
	AF_EVENT_TIME, AF_EVENT_TYPE, AF_GROUP_PROPERTIES, AF_GROUPS, AF_IDFA,
	AF_IP_ADDRESS, AF_LANGUAGE, AF_LIBRARY, AF_LOCATION_LAT,
	AF_LOCATION_LNG, AF_OS_NAME, AF_OS_VERSION, AF_PLATFORM, AF_REGION,
	AF_SERVER_RECEIVED_TIME, AF_SESSION_ID, AF_USER_ID, AF_USER_PROPERTIES,
	AF_UUID, AF_VERSION_NAME,
	AF_NFIELDS
};

extern const char *const amp_field_names[AF_NFIELDS];

/* A list of event names given on the command line. */
struct amp_names {
	char	**v;
	size_t	  n;
};

/* --drop, --keep and --rename, as amp-convert takes them. */
struct amp_rules {
	struct amp_names drops, keeps, rename_from, rename_to;
};

/* One row's fields: pointers into the parsed tree, NULL when absent. */
struct amp_row {
	const struct jval	*f[AF_NFIELDS];
	const struct jval	*ep;	/* event_properties object, or NULL */
	const struct jval	*up;	/* user_properties object, or NULL */
};

/* The PostHog name of an event and what it implies. */
struct amp_name {
	const char	*event;		/* PostHog event name */
	size_t		 event_len;
	const char	*event_type;	/* $event_type of $autocapture */
	int		 autocapture, set_event, group_event, screen, pageview;
};

/* All that amp_event_read decides for a row that becomes an event. */
struct amp_event {
	struct amp_row	 row;
	struct amp_name	 name;
	int64_t		 us;		/* timestamp, microseconds, UTC */
	const char	*did;		/* distinct id (not for groups) */
	size_t		 didlen;
	char		 uuid[UUID_STRLEN + 1];
};

enum { AMP_REJECT = -1, AMP_DROP = 0, AMP_EVENT = 1 };

/* 1 for a line that is no event: empty, or only spaces, tabs and CRs. */
int	amp_line_blank(const char *, size_t);

/* The rules with amp-convert's default: session_start is dropped. */
void	amp_rules_init(struct amp_rules *);
void	amp_rules_drop(struct amp_rules *, const char *);
void	amp_rules_keep(struct amp_rules *, const char *);
/* "OLD=NEW": 0, or -1 when it is not of that form (nothing is added). */
int	amp_rules_rename(struct amp_rules *, const char *);
void	amp_rules_free(struct amp_rules *);

/*
 * Everything amp-convert decides, in its order: AMP_EVENT with *e filled,
 * AMP_DROP when a rule drops the row (e->row and e->name are filled; the
 * time, distinct id and uuid are not checked, as amp-convert does not),
 * or AMP_REJECT with *why set to amp-convert's reason.  The pointers in
 * *e point into root's tree.
 */
int	amp_event_read(const struct amp_rules *, const struct jval *root,
	    struct amp_event *, const char **why);

/* The steps of amp_event_read, for callers that need one of them. */
/* 0, or -1 with *why when root is not an object.  Last duplicate wins. */
int	amp_row_fields(struct amp_row *, const struct jval *root,
	    const char **why);
/*
 * event_type a non-empty string, the property bags objects, the id,
 * session and groups fields of the right JSON type: 0, or -1 with *why.
 */
int	amp_row_check(struct amp_row *, const char **why);
void	amp_map_name(const struct amp_rules *, const struct jval *et,
	    struct amp_name *);
int	amp_dropped(const struct amp_rules *, const struct jval *et,
	    const struct amp_name *);
/* The first time field present: 0 and *us, or -1 with *why. */
int	amp_row_time(const struct amp_row *, int64_t *us, const char **why);
/* user_id, else device_id, else amplitude_id: 0, or -1 with *why. */
/*
 * The shard (0 .. n-1) of a row for --shard: by device_id, else user_id,
 * else amplitude_id (FNV-1a of the id's text), so that every event of a
 * device, and so every (device, user) pair ph-alias merges, is in one
 * shard; a row with none of them is in shard 0.  amp-convert selects by
 * it; ph-report must count the same way for one shard's export.
 */
unsigned	amp_row_shard(const struct amp_row *, unsigned n);
int	amp_row_distinct_id(const struct amp_row *, const char **,
	    size_t *, const char **why);
/* Amplitude's uuid in canonical form when valid, else the derived one. */
void	amp_row_uuid(const struct amp_row *, char *uuid);
/* The v5 of the fields that identify a row (out: UUID_STRLEN + 1). */
void	amp_derive_uuid(const struct amp_row *, char *uuid);

#endif
