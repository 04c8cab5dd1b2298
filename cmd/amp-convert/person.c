/*
 * person: $set, $set_once and $unset from the row's user properties,
 * and the persons table that keeps an older row from overwriting newer
 * properties.
 */
#include "convert.h"

/*
 * Amplitude identify operations other than $set and $setOnce ($add,
 * $unset, ...) change a value relative to its old one: PostHog person
 * properties cannot say that, so they are not carried over.
 */
static int
identify_op(const struct jval *k)
{
	static const char *const ops[] = {
		"$setOnce", "$unset", "$add", "$append", "$prepend",
		"$preInsert", "$postInsert", "$remove", "$clearAll", NULL
	};

	if (k->n < 2 || k->u.s[0] != '$')
		return 0;
	for (int i = 0; ops[i] != NULL; i++)
		if (json_is_str(k, ops[i]))
			return 1;
	return 0;
}

static void
write_person_value(struct obj *s, const struct jval *v)
{
	if (json_is_lit(v, "EMPTY"))
		buf_add(s->b, "null", 4);
	else
		json_write(s->b, v);
}

/* user_properties into $set: "EMPTY" is null; {"$set":{...}} flattened. */
static void
set_props(struct obj *s, const struct jval *up)
{
	for (uint32_t i = 0; i < up->n; i++) {
		const struct jval *k = JKEY(up, i), *v = JVAL(up, i);

		if (json_is_lit(k, "$set") && v->type == J_OBJ) {
			set_props(s, v);
			continue;
		}
		if (identify_op(k) || is_initial(k) ||
		    !obj_key(s, k->u.s, k->n))
			continue;
		write_person_value(s, v);
	}
}

/*
 * initial_* as $initial_* (EMPTY skipped), and $setOnce flattened, its
 * initial_* keys (Amplitude's attribution) as $initial_* too.
 */
static void
set_once_props(struct obj *s, const struct jval *up)
{
	for (uint32_t i = 0; i < up->n; i++) {
		const struct jval *k = JKEY(up, i), *v = JVAL(up, i);

		if (json_is_lit(k, "$setOnce") && v->type == J_OBJ) {
			for (uint32_t j = 0; j < v->n; j++) {
				const struct jval *kk = JKEY(v, j);
				const struct jval *vv = JVAL(v, j);
				if (vv->type == J_NULL || json_is_lit(vv, "EMPTY") ||
				    !so_key(s, kk->u.s, kk->n))
					continue;
				json_write(s->b, vv);
			}
			continue;
		}
		if (!is_initial(k) || v->type == J_NULL || json_is_lit(v, "EMPTY"))
			continue;
		if (so_key(s, k->u.s, k->n))
			json_write(s->b, v);
	}
}

static int
opt_open(struct obj *o, const char *k, struct optobj *oo, struct obj *s,
    struct keyset *ks)
{
	oo->mark = o->b->len;
	oo->first = o->first;
	if (!obj_key(o, k, strlen(k)))
		return 0;
	obj_open(s, o->b, ks);
	return 1;
}

static void
opt_close(struct obj *o, const struct optobj *oo, const struct obj *s)
{
	if (s->first) {
		o->b->len = oo->mark;	/* the key stays taken: no one else */
		o->first = oo->first;	/* writes it */
	} else
		buf_addc(o->b, '}');
}

/*
 * Amplitude's $unset (an object of names, or a list) as PostHog's: a list
 * of names, which ingestion removes from the person (computeEventProperty-
 * Updates in nodejs/src/worker/ingestion/persons/person-update.ts,
 * PostHog/posthog commit 1843a1601cb3: an array, or an object's keys).
 */
static void
add_unset(struct obj *o, const struct jval *up)
{
	const struct jval *u = json_get(up, "$unset");
	int n = 0;

	if (u == NULL || (u->type != J_OBJ && u->type != J_ARR) || u->n == 0)
		return;
	size_t mark = o->b->len;
	int first = o->first;
	if (!obj_key(o, "$unset", 6))
		return;
	buf_addc(o->b, '[');
	for (uint32_t i = 0; i < u->n; i++) {
		const struct jval *k = u->type == J_OBJ ? JKEY(u, i) :
		    &u->u.kids[i];
		if (k->type != J_STR)
			continue;
		if (n++)
			buf_addc(o->b, ',');
		json_write(o->b, k);
	}
	if (n == 0) {
		o->b->len = mark;
		o->first = first;
	} else
		buf_addc(o->b, ']');
}

struct pers	*persons;

uint64_t		 pers_clock;

/* 1 when a row of this time is the person's newest seen: its $set goes. */
int
person_newest(const char *did, size_t n, int64_t us)
{
	uint64_t h1 = 0x84222325cbf29ce4ULL, h2 = 0x9e3779b97f4a7c15ULL;
	struct pers *set, *victim;
	size_t i;

	table_hash(&h1, &h2, did, n);
	if (persons == NULL)
		persons = xcalloc((size_t)PERS_SETS * PERS_WAYS,
		    sizeof(*persons));
	set = &persons[(h1 >> 7 & (PERS_SETS - 1)) * PERS_WAYS];
	victim = set;
	for (i = 0; i < PERS_WAYS; i++) {
		if (set[i].used != 0 && set[i].h1 == h1 && set[i].h2 == h2) {
			set[i].used = ++pers_clock;
			if (us < set[i].us)
				return 0;
			set[i].us = us;
			return 1;
		}
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	victim->h1 = h1;
	victim->h2 = h2;
	victim->used = ++pers_clock;
	victim->us = us;
	return 1;
}

/* The browser (web rows: Amplitude's os_name) and the device type. */
static void
add_browser(struct obj *o, const struct amp *a, const char *browser,
    const char *devtype)
{
	if (a->web) {
		if (browser != NULL)
			obj_cstr(o, "$browser", browser);
		else
			obj_jv(o, "$browser", a->f[AF_OS_NAME]);
		obj_version_number(o, "$browser_version",
		    nonnull(a->f[AF_OS_VERSION]));
	}
	if (devtype != NULL)
		obj_cstr(o, "$device_type", devtype);
}

/* The row's snapshot: user properties, then device and location. */
static void
snapshot_props(struct obj *s, const struct amp *a, const char *os,
    const char *devtype, const char *browser, const struct geo *g)
{
	if (a->up != NULL)
		set_props(s, a->up);
	if (os != NULL)
		obj_cstr(s, "$os", os);
	if (a->mobile)
		obj_jv(s, "$os_version", a->f[AF_OS_VERSION]);
	add_browser(s, a, browser, devtype);
	if (a->mobile)
		obj_jv(s, "$app_version", a->f[AF_VERSION_NAME]);
	add_geo(s, g, 0);
}

/*
 * Person properties: $set (latest values) and $set_once ($initial_*).
 * A row older than a newer one of the same distinct_id already sent
 * (newest 0) sends its snapshot in $set_once instead, after the
 * $set_once keys proper, and no $unset: PostHog then keeps the newer
 * values and fills only the keys the person does not have, which is
 * what applying the rows in time order would have left for them.
 */
void
add_person(struct obj *o, const struct amp *a, const char *os,
    const char *devtype, const char *browser, const struct geo *g,
    int newest)
{
	struct obj s;
	struct optobj oo;

	/* An event property of the same name was kept instead. */
	if (newest && opt_open(o, "$set", &oo, &s, &skeys)) {
		snapshot_props(&s, a, os, devtype, browser, g);
		opt_close(o, &oo, &s);
	}
	if (opt_open(o, "$set_once", &oo, &s, &skeys)) {
		if (a->up != NULL)
			set_once_props(&s, a->up);
		/*
		 * posthog-js sends $initial_host in $set_once (posthog-core.ts
		 * _calculate_set_once_properties, from getPersonPropsFromInfo);
		 * ingestion makes the other $initial_* of the page itself.  The
		 * same $set_once has the session's entry $host too (session-
		 * props.ts getSetOnceProps, PostHog/posthog-js commit
		 * 9b2a1b18db64): ingestion lifts no $host, so the person's $host
		 * comes from there alone.  The first event's host wins, as
		 * posthog-js's first $set_once does.
		 */
		if (a->web && a->hostlen > 0) {
			if (so_key(&s, "$initial_host", 13))
				jsonw_str(s.b, a->host, a->hostlen);
			if (so_key(&s, "$host", 5))
				jsonw_str(s.b, a->host, a->hostlen);
		}
		add_geo(&s, g, 1);
		if (!newest) {
			s.once = 1;
			snapshot_props(&s, a, os, devtype, browser, g);
		}
		opt_close(o, &oo, &s);
	}
	if (newest && a->up != NULL)
		add_unset(o, a->up);
}

/* The device, location and library properties of an event. */
void
add_device(struct obj *o, const struct amp *a, const char *os,
    const char *devtype, const char *browser, const struct geo *g)
{
	const struct jval *v;

	if (os != NULL)
		obj_cstr(o, "$os", os);
	if (a->mobile) {
		if (os != NULL)
			obj_cstr(o, "$os_name", os);
		obj_jv(o, "$os_version", a->f[AF_OS_VERSION]);
		v = nonnull(a->f[AF_DEVICE_MANUFACTURER]);
		obj_jv(o, "$device_manufacturer", v ? v :
		    a->f[AF_DEVICE_BRAND]);
		obj_jv(o, "$device_model", a->f[AF_DEVICE_MODEL]);
		obj_jv(o, "$device_name", a->f[AF_DEVICE_TYPE]);
		obj_jv(o, "$app_version", a->f[AF_VERSION_NAME]);
		v = nonnull(a->f[AF_CARRIER]);
		obj_jv(o, "$network_carrier", v ? v : a->f[AF_DEVICE_CARRIER]);
	}
	add_browser(o, a, browser, devtype);
	add_geo(o, g, 0);
	obj_jv(o, "$ip", a->f[AF_IP_ADDRESS]);
	obj_raw(o, "$geoip_disable", "true");
	obj_cstr(o, "$lib", PHEVENT_LIB);
	obj_cstr(o, "$lib_version", AMP2PH_VERSION);
	obj_jv(o, "$amplitude_library", a->f[AF_LIBRARY]);
	obj_jv(o, "$device_id", a->f[AF_DEVICE_ID]);
}
