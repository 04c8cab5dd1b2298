/* receipt: ph-batch's receipt lines, written and read. */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "jsonw.h"
#include "outfile.h"
#include "receipt.h"
#include "timestamp.h"
#include "uuid.h"

const char *const receipt_outcome_names[RO_NOUTCOMES] = {
	"delivered", "retry", "split", "rejected", "fatal", "gave-up"
};

int
receipt_outcome(const char *name, size_t len)
{
	for (int i = 0; i < RO_NOUTCOMES; i++)
		if (strlen(receipt_outcome_names[i]) == len &&
		    memcmp(receipt_outcome_names[i], name, len) == 0)
			return i;
	return -1;
}

static void
uuid_or_null(struct buf *b, int has, const unsigned char u[16])
{
	char a[UUID_STRLEN + 1];

	if (!has) {
		buf_adds(b, "null");
		return;
	}
	uuid_format(u, a);
	jsonw_cstr(b, a);
}

void
receipt_append(struct buf *b, const struct receipt *r)
{
	int first = 1;

	buf_addc(b, '{');
	jsonw_key(b, "status", &first);
	jsonw_i64(b, r->status);
	jsonw_key(b, "outcome", &first);
	jsonw_cstr(b, receipt_outcome_names[r->outcome]);
	jsonw_key(b, "events", &first);
	jsonw_u64(b, r->events);
	jsonw_key(b, "bytes", &first);
	jsonw_u64(b, r->bytes);
	jsonw_key(b, "attempts", &first);
	jsonw_i64(b, r->attempts);
	jsonw_key(b, "ms", &first);
	jsonw_i64(b, r->ms);
	jsonw_key(b, "first_uuid", &first);
	uuid_or_null(b, r->has_first, r->first_uuid);
	jsonw_key(b, "last_uuid", &first);
	uuid_or_null(b, r->has_last, r->last_uuid);
	if (r->resent != 0) {
		jsonw_key(b, "resent", &first);
		jsonw_i64(b, r->resent);
	}
	if (r->at != 0) {
		char t[TS_STRLEN + 1];

		ts_format(r->at, t);
		jsonw_key(b, "at", &first);
		jsonw_cstr(b, t);
	}
	if (r->error != NULL) {
		jsonw_key(b, "error", &first);
		jsonw_cstr(b, r->error);
	}
	buf_adds(b, "}\n");
}

void
receipt_write(FILE *fp, const char *name, const struct receipt *r)
{
	struct buf b = { 0 };

	receipt_append(&b, r);
	outfile_write(fp, b.p, b.len, name);
	if (fflush(fp) == EOF)
		err(1, "%s", name);
	buf_free(&b);
}

/* A JSON integer as ph-batch writes them: digits, a minus sign at most. */
static int
integer(const struct jval *v, int sign, int64_t *out)
{
	const char *s;
	size_t i = 0;
	uint64_t n = 0;

	if (v == NULL || v->type != J_NUM)
		return -1;
	s = v->u.s;
	if (sign && v->n > 0 && s[0] == '-')
		i++;
	if (i == v->n || v->n - i > 18)
		return -1;
	for (; i < v->n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*out = s[0] == '-' ? -(int64_t)n : (int64_t)n;
	return 0;
}

static int
uuid_field(const struct jval *v, int *has, unsigned char u[16])
{
	*has = 0;
	if (v == NULL)
		return -1;
	if (v->type == J_NULL)
		return 0;
	if (v->type != J_STR || uuid_bytes(v->u.s, v->n, u) == -1)
		return -1;
	*has = 1;
	return 0;
}

int
receipt_parse(struct json_parser *jp, const char *line, size_t len,
    struct receipt *r, char *err, size_t errlen)
{
	static const char *const num[] = {
		"status", "events", "bytes", "attempts", "ms"
	};
	const struct jval *root, *v;
	int64_t n[5];
	int i;

	memset(r, 0, sizeof(*r));
	if ((root = json_parse(jp, line, len, err, errlen)) == NULL)
		return -1;
	if (root->type != J_OBJ) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	if ((v = json_get(root, "outcome")) == NULL || v->type != J_STR) {
		snprintf(err, errlen, "no \"outcome\" string");
		return -1;
	}
	if ((i = receipt_outcome(v->u.s, v->n)) == -1) {
		snprintf(err, errlen, "unknown outcome \"%.*s\"",
		    (int)(v->n < 40 ? v->n : 40), v->u.s);
		return -1;
	}
	r->outcome = i;
	for (i = 0; i < 5; i++)
		if (integer(json_get(root, num[i]), i == 0, &n[i]) == -1) {
			snprintf(err, errlen, "\"%s\" is not %s integer",
			    num[i], i == 0 ? "an" : "a non-negative");
			return -1;
		}
	r->status = n[0];
	r->events = n[1];
	r->bytes = n[2];
	r->attempts = n[3];
	r->ms = n[4];
	if (uuid_field(json_get(root, "first_uuid"), &r->has_first,
	    r->first_uuid) == -1 || uuid_field(json_get(root, "last_uuid"),
	    &r->has_last, r->last_uuid) == -1) {
		snprintf(err, errlen, "first_uuid or last_uuid is neither a "
		    "uuid nor null");
		return -1;
	}
	if ((v = json_get(root, "resent")) != NULL && integer(v, 0,
	    &r->resent) == -1) {
		snprintf(err, errlen, "\"resent\" is not a count");
		return -1;
	}
	if ((v = json_get(root, "at")) != NULL && (v->type != J_STR ||
	    ts_parse(v->u.s, v->n, &r->at) == -1)) {
		snprintf(err, errlen, "\"at\" is not a time");
		return -1;
	}
	if ((v = json_get(root, "error")) != NULL) {
		if (v->type != J_STR) {
			snprintf(err, errlen, "\"error\" is not a string");
			return -1;
		}
		r->error = v->u.s;
	}
	return 0;
}
