/* ampevent: amp-convert's reading of one Amplitude row, shared. */
#include <stdlib.h>
#include <string.h>

#include "ampevent.h"
#include "buf.h"
#include "distinct.h"
#include "timestamp.h"
#include "xalloc.h"

const char *const amp_field_names[AF_NFIELDS] = {
	"$insert_id", "adid", "amplitude_id", "app", "carrier", "city",
	"client_event_time", "country", "device_brand", "device_carrier",
	"device_family", "device_id", "device_manufacturer", "device_model",
	"device_type", "event_id", "event_properties", "event_time",
	"event_type", "group_properties", "groups", "idfa", "ip_address",
	"language", "library", "location_lat", "location_lng", "os_name",
	"os_version", "platform", "region", "server_received_time",
	"session_id", "user_id", "user_properties", "uuid", "version_name",
};

static void
names_add(struct amp_names *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

static void
names_free(struct amp_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
names_has(const struct amp_names *l, const char *s, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && memcmp(l->v[i], s, n) == 0)
			return 1;
	return 0;
}

void
amp_rules_init(struct amp_rules *r)
{
	memset(r, 0, sizeof(*r));
	/* Amplitude's session markers; PostHog derives sessions itself. */
	names_add(&r->drops, "session_start");
	names_add(&r->drops, "session_end");
}

void
amp_rules_drop(struct amp_rules *r, const char *name)
{
	names_add(&r->drops, name);
}

void
amp_rules_keep(struct amp_rules *r, const char *name)
{
	names_add(&r->keeps, name);
}

int
amp_rules_rename(struct amp_rules *r, const char *spec)
{
	const char *eq = strchr(spec, '=');

	if (eq == NULL || eq == spec || eq[1] == '\0')
		return -1;
	char *from = xstrndup(spec, eq - spec);
	names_add(&r->rename_from, from);
	names_add(&r->rename_to, eq + 1);
	free(from);
	return 0;
}

void
amp_rules_free(struct amp_rules *r)
{
	names_free(&r->drops);
	names_free(&r->keeps);
	names_free(&r->rename_from);
	names_free(&r->rename_to);
}

/*
 * Top-level keys to fields: the sorted names bucketed by first byte, so
 * a line's 50-odd keys cost a few compares each, not a binary search.
 */
static uint8_t field_first[256], field_count[256];
static int field_ready;
static uint8_t field_len[AF_NFIELDS];

static void
field_index_init(void)
{
	for (int i = AF_NFIELDS - 1; i >= 0; i--) {
		unsigned char c = amp_field_names[i][0];
		field_first[c] = i;
		field_count[c]++;
		field_len[i] = strlen(amp_field_names[i]);
	}
	field_ready = 1;
}

static int
field_of(const struct jval *k)
{
	unsigned char c = k->n ? (unsigned char)k->u.s[0] : 0;

	/* By length too: a key with an escaped NUL is not a field name. */
	for (int i = field_first[c], e = i + field_count[c]; i < e; i++)
		if (json_is_strn(k, amp_field_names[i], field_len[i]))
			return i;
	return -1;
}

int
amp_row_fields(struct amp_row *a, const struct jval *root, const char **why)
{
	if (!field_ready)
		field_index_init();
	memset(a, 0, sizeof(*a));
	if (root->type != J_OBJ) {
		*why = "not a JSON object";
		return -1;
	}
	for (uint32_t i = 0; i < root->n; i++) {
		int f = field_of(JKEY(root, i));
		if (f >= 0)
			a->f[f] = JVAL(root, i);
	}
	return 0;
}

/* A field of the wrong JSON type makes the row unusable: say which. */
static const char *
wrong_type(const struct amp_row *a)
{
	static const struct {
		enum amp_field	 f;
		int		 num_ok;
		const char	*why;
	} ids[] = {
		{ AF_USER_ID, 1, "user_id is not a string" },
		{ AF_DEVICE_ID, 1, "device_id is not a string" },
		{ AF_UUID, 0, "uuid is not a string" },
	};
	const struct jval *v;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		v = a->f[ids[i].f];
		if (v != NULL && v->type != J_NULL && v->type != J_STR &&
		    !(ids[i].num_ok && v->type == J_NUM))
			return ids[i].why;
	}
	v = a->f[AF_SESSION_ID];
	if (v != NULL && v->type != J_NULL && v->type != J_NUM)
		return "session_id is not a number";
	v = a->f[AF_GROUPS];
	if (v != NULL && v->type != J_NULL && v->type != J_OBJ)
		return "groups is not an object";
	return NULL;
}

int
amp_row_check(struct amp_row *a, const char **why)
{
	const struct jval *et = a->f[AF_EVENT_TYPE], *v;

	if (et == NULL || et->type == J_NULL) {
		*why = "missing event_type";
		return -1;
	}
	if (et->type != J_STR || et->n == 0) {
		*why = "event_type is not a non-empty string";
		return -1;
	}
	if ((v = a->f[AF_EVENT_PROPERTIES]) != NULL && v->type != J_NULL &&
	    v->type != J_OBJ) {
		*why = "event_properties is not an object";
		return -1;
	}
	a->ep = v != NULL && v->type == J_OBJ ? v : NULL;
	if ((v = a->f[AF_USER_PROPERTIES]) != NULL && v->type != J_NULL &&
	    v->type != J_OBJ) {
		*why = "user_properties is not an object";
		return -1;
	}
	a->up = v != NULL && v->type == J_OBJ ? v : NULL;
	if ((*why = wrong_type(a)) != NULL)
		return -1;
	return 0;
}

void
amp_map_name(const struct amp_rules *r, const struct jval *et,
    struct amp_name *m)
{
	static const struct {
		const char *amp, *ph, *etype;
	} names[] = {
		{ "[Amplitude] Page Viewed", "$pageview", NULL },
		{ "[Amplitude] Element Clicked", "$autocapture", "click" },
		{ "[Amplitude] Element Changed", "$autocapture", "change" },
		{ "[Amplitude] Screen Viewed", "$screen", NULL },
		{ "$identify", "$set", NULL },
		{ "$groupidentify", "$groupidentify", NULL },
		{ NULL, NULL, NULL }
	};

	memset(m, 0, sizeof(*m));
	m->event = et->u.s;
	m->event_len = et->n;
	for (int i = 0; names[i].amp != NULL; i++) {
		if (!json_is_str(et, names[i].amp))
			continue;
		m->event = names[i].ph;
		m->event_len = strlen(names[i].ph);
		m->event_type = names[i].etype;
		m->autocapture = names[i].etype != NULL;
		m->pageview = i == 0;
		m->screen = i == 3;
		m->set_event = i == 4;
		m->group_event = i == 5;
	}
	for (size_t i = 0; i < r->rename_from.n; i++)
		if (json_is_str(et, r->rename_from.v[i])) {
			m->event = r->rename_to.v[i];
			m->event_len = strlen(r->rename_to.v[i]);
		}
}

int
amp_dropped(const struct amp_rules *r, const struct jval *et,
    const struct amp_name *m)
{
	int drop = names_has(&r->drops, et->u.s, et->n) ||
	    names_has(&r->drops, m->event, m->event_len);

	if (drop && (names_has(&r->keeps, et->u.s, et->n) ||
	    names_has(&r->keeps, m->event, m->event_len)))
		drop = 0;
	return drop;
}

int
amp_row_time(const struct amp_row *a, int64_t *us, const char **why)
{
	static const enum amp_field tf[] = { AF_EVENT_TIME,
	    AF_CLIENT_EVENT_TIME, AF_SERVER_RECEIVED_TIME };

	for (size_t i = 0; i < 3; i++) {
		const struct jval *v = a->f[tf[i]];
		if (v == NULL || v->type == J_NULL)
			continue;
		if (v->type != J_STR || ts_parse(v->u.s, v->n, us)) {
			*why = i == 0 ? "unparseable event_time" :
			    i == 1 ? "unparseable client_event_time" :
			    "unparseable server_received_time";
			return -1;
		}
		return 0;
	}
	*why = "no event_time, client_event_time or server_received_time";
	return -1;
}

/* A value as a distinct-id-like string: strings as they are, numbers. */
static int
id_text(const struct jval *v, const char **s, size_t *n)
{
	if (v == NULL || (v->type != J_STR && v->type != J_NUM) || v->n == 0)
		return 0;
	*s = v->u.s;
	*n = v->n;
	return 1;
}

unsigned
amp_row_shard(const struct amp_row *a, unsigned n)
{
	static const enum amp_field by[] = { AF_DEVICE_ID, AF_USER_ID,
	    AF_AMPLITUDE_ID };
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *s;
	size_t len;

	if (n <= 1)
		return 0;
	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++)
		if (id_text(a->f[by[i]], &s, &len)) {
			for (size_t k = 0; k < len; k++)
				h = (h ^ (unsigned char)s[k]) *
				    0x100000001b3ULL;
			return h % n;
		}
	return 0;
}

int
amp_row_distinct_id(const struct amp_row *a, const char **did,
    size_t *didlen, const char **why)
{
	if (!id_text(a->f[AF_USER_ID], did, didlen) ||
	    !distinct_id_mergeable(*did, *didlen))
		if (!id_text(a->f[AF_DEVICE_ID], did, didlen) ||
		    !distinct_id_mergeable(*did, *didlen))
			/* amplitude_id 0 is no more a person than "anonymous" */
			if (!id_text(a->f[AF_AMPLITUDE_ID], did, didlen) ||
			    !distinct_id_mergeable(*did, *didlen)) {
				*why = "no usable user_id, device_id or "
				    "amplitude_id";
				return -1;
			}
	return 0;
}

void
amp_derive_uuid(const struct amp_row *a, char *uuid)
{
	static const enum amp_field keyf[] = {
		AF_APP, AF_AMPLITUDE_ID, AF_DEVICE_ID, AF_USER_ID, AF_EVENT_ID,
		AF_EVENT_TYPE, AF_EVENT_TIME, AF_CLIENT_EVENT_TIME,
		AF_INSERT_ID, AF_SESSION_ID, AF_SERVER_RECEIVED_TIME
	};
	static struct buf name;

	name.len = 0;
	buf_adds(&name, "amplitude-event");
	for (size_t i = 0; i < sizeof(keyf) / sizeof(keyf[0]); i++) {
		const struct jval *v = a->f[keyf[i]];
		buf_addc(&name, '\x1f');
		if (v != NULL && (v->type == J_STR || v->type == J_NUM))
			buf_add(&name, v->u.s, v->n);
	}
	uuid_v5(name.p, name.len, uuid);
}

void
amp_row_uuid(const struct amp_row *a, char *uuid)
{
	const struct jval *v = a->f[AF_UUID];

	if (v == NULL || v->type != J_STR ||
	    uuid_canon(v->u.s, v->n, uuid) == -1)
		amp_derive_uuid(a, uuid);
}

int
amp_line_blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' ||
	    line[i] == '\r'); i++)
		;
	return i == len;
}

int
amp_event_read(const struct amp_rules *r, const struct jval *root,
    struct amp_event *e, const char **why)
{
	const struct jval *et;

	if (amp_row_fields(&e->row, root, why) == -1 ||
	    amp_row_check(&e->row, why) == -1)
		return AMP_REJECT;
	et = e->row.f[AF_EVENT_TYPE];
	amp_map_name(r, et, &e->name);
	if (amp_dropped(r, et, &e->name))
		return AMP_DROP;
	if (amp_row_time(&e->row, &e->us, why) == -1 ||
	    amp_row_distinct_id(&e->row, &e->did, &e->didlen, why) == -1)
		return AMP_REJECT;
	amp_row_uuid(&e->row, e->uuid);
	return AMP_EVENT;
}
