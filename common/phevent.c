/* phevent: capture's rules for one event. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "distinct.h"
#include "json.h"
#include "phevent.h"
#include "timestamp.h"
#include "uuid.h"

/* A member capture's types refuse, or NULL. */
static const char *
shape(const struct jval *root)
{
	static const char *const maps[] = { "$set", "$set_once" };
	static const char *const tok[] = { "token", "$token", "api_key" };
	const struct jval *v;

	for (size_t i = 0; i < 2; i++)
		if ((v = json_get(root, maps[i])) != NULL && v->type != J_OBJ &&
		    v->type != J_NULL)
			return i == 0 ? "a top-level $set that is not an object" :
			    "a top-level $set_once that is not an object";
	for (size_t i = 0; i < 3; i++)
		if ((v = json_get(root, tok[i])) != NULL && v->type != J_STR &&
		    v->type != J_NULL)
			return "a token member that is not a string";
	if ((v = json_get(root, "offset")) != NULL && v->type != J_NULL &&
	    (v->type != J_NUM || strspn(v->u.s, "-0123456789") != v->n))
		return "an offset that is not an integer";
	if (!json_numbers_finite(root))
		return "a number too large for a double (capture refuses it)";
	return NULL;
}

int
phevent_check(const struct jval *root, struct phevent *e, const char **why)
{
	const struct jval *v, *props;

	memset(e, 0, sizeof(*e));
	e->root = root;
	if (root->type != J_OBJ) {
		*why = "not a JSON object";
		return -1;
	}
	v = json_get(root, "event");
	if (v == NULL || v->type != J_STR || v->n == 0) {
		*why = "missing or empty event name";
		return -1;
	}
	/*
	 * properties is a map with a default: absent is fine, null is not;
	 * $set and $set_once optional maps, a token a string, offset an
	 * integer, every number within a double.
	 */
	props = json_get(root, "properties");
	if (props != NULL && props->type != J_OBJ) {
		*why = props->type == J_NULL ? "properties is null (capture "
		    "refuses it)" : "properties is not an object";
		return -1;
	}
	e->props = props;
	if ((*why = shape(root)) != NULL)
		return -1;
	/* distinct_id, $distinct_id, then properties.distinct_id. */
	v = json_get(root, "distinct_id");
	if (v == NULL || v->type == J_NULL)
		v = json_get(root, "$distinct_id");
	if ((v == NULL || v->type == J_NULL) && props != NULL)
		v = json_get(props, "distinct_id");
	if (v == NULL || v->type == J_NULL || (v->type == J_STR && v->n == 0)) {
		*why = "missing or empty distinct_id";
		return -1;
	}
	v = json_get(root, "uuid");
	if (v != NULL && v->type != J_NULL) {
		if (v->type != J_STR || uuid_bytes(v->u.s, v->n, e->uuid) ==
		    -1) {
			*why = "invalid uuid (capture would refuse the whole "
			    "batch)";
			return -1;
		}
		e->has_uuid = 1;
	}
	v = json_get(root, "timestamp");
	if (v != NULL && v->type != J_NULL) {
		if (v->type != J_STR || ts_parse(v->u.s, v->n, &e->ts) == -1) {
			*why = "unparseable timestamp (expected ISO 8601)";
			return -1;
		}
		e->has_ts = 1;
	}
	return 0;
}

/* A name-based uuid of the id: the same key in ph-alias and ph-batch. */
void
phevent_id_key(const char *id, size_t n, unsigned char key[16])
{
	static const char pre[] = "ph-alias\x1f" "device\x1f";
	static struct buf name;
	char uuid[UUID_STRLEN + 1];

	name.len = 0;
	buf_add(&name, pre, sizeof(pre) - 1);
	buf_add(&name, id, n);
	uuid_v5(name.p, name.len, uuid);
	if (uuid_bytes(uuid, UUID_STRLEN, key) == -1)
		abort();
}

/* A string or a number (as its text), not empty: an id. */
static int
id_of(const struct jval *v, const char **s, size_t *n)
{
	if (v == NULL || (v->type != J_STR && v->type != J_NUM) || v->n == 0)
		return 0;
	*s = v->u.s;
	*n = v->n;
	return 1;
}

int
phevent_identity(const struct jval *root, unsigned char device[16],
    unsigned char user[16])
{
	const struct jval *ev = json_get(root, "event");
	const struct jval *props = json_get(root, "properties");
	const char *d, *u;
	size_t dn, un;

	if (ev == NULL || ev->type != J_STR || props == NULL ||
	    props->type != J_OBJ)
		return 0;
	if (json_is_str(ev, "$identify")) {
		if (!id_of(json_get(root, "distinct_id"), &u, &un) ||
		    !id_of(json_get(props, "$anon_distinct_id"), &d, &dn))
			return 0;
	} else if (json_is_str(ev, "$create_alias")) {
		if (!id_of(json_get(root, "distinct_id"), &d, &dn) ||
		    !id_of(json_get(props, "alias"), &u, &un))
			return 0;
	} else
		return 0;
	if ((dn == un && memcmp(d, u, dn) == 0) ||
	    !distinct_id_mergeable(d, dn) || !distinct_id_mergeable(u, un))
		return 0;
	phevent_id_key(d, dn, device);
	phevent_id_key(u, un, user);
	return 1;
}
