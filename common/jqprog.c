/* jqprog: compile once, run per event, collect objects as NDJSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jq.h>

#include "jqprog.h"
#include "xalloc.h"

struct jqprog {
	jq_state	*jq;
	char		 err[512];
};

/* libjq reports compile errors through a callback, not a return value. */
static void
on_error(void *data, jv msg)
{
	struct jqprog *p = data;

	if (jv_get_kind(msg) == JV_KIND_STRING && p->err[0] == '\0')
		snprintf(p->err, sizeof(p->err), "%s", jv_string_value(msg));
	else if (p->err[0] == '\0') {
		jv s = jv_dump_string(jv_copy(msg), 0);
		snprintf(p->err, sizeof(p->err), "%s", jv_string_value(s));
		jv_free(s);
	}
	jv_free(msg);
}

struct jqprog *
jqprog_new(const char *program, char *err, size_t errlen)
{
	struct jqprog *p = xcalloc(1, sizeof(*p));

	if ((p->jq = jq_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libjq");
		free(p);
		return NULL;
	}
	jq_set_error_cb(p->jq, on_error, p);
	if (!jq_compile(p->jq, program)) {
		snprintf(err, errlen, "%s", p->err[0] ? p->err :
		    "jq program does not compile");
		jqprog_free(p);
		return NULL;
	}
	return p;
}

void
jqprog_free(struct jqprog *p)
{
	if (p == NULL)
		return;
	jq_teardown(&p->jq);
	free(p);
}

int
jqprog_run(struct jqprog *p, const char *in, size_t len, struct buf *out,
    char *err, size_t errlen)
{
	size_t mark = out->len;
	int count = 0;
	jv input, r;

	input = jv_parse_sized(in, len);
	if (!jv_is_valid(input)) {
		jv m = jv_invalid_get_msg(input);
		snprintf(err, errlen, "jq input: %s",
		    jv_get_kind(m) == JV_KIND_STRING ? jv_string_value(m) :
		    "invalid JSON");
		jv_free(m);
		return -1;
	}
	p->err[0] = '\0';
	jq_start(p->jq, input, 0);
	while (jv_is_valid(r = jq_next(p->jq))) {
		if (jv_get_kind(r) != JV_KIND_OBJECT) {
			snprintf(err, errlen, "jq program produced a value of "
			    "type %s, not an event object", jv_kind_name(jv_get_kind(r)));
			jv_free(r);
			out->len = mark;
			/* Drain so the next run starts clean. */
			while (jv_is_valid(r = jq_next(p->jq)))
				jv_free(r);
			jv_free(r);
			return -1;
		}
		jv s = jv_dump_string(r, 0);
		buf_add(out, jv_string_value(s), jv_string_length_bytes(
		    jv_copy(s)));
		buf_addc(out, '\n');
		jv_free(s);
		count++;
	}
	if (jv_invalid_has_msg(jv_copy(r))) {
		jv m = jv_invalid_get_msg(r);
		if (jv_get_kind(m) == JV_KIND_STRING)
			snprintf(err, errlen, "jq error: %s",
			    jv_string_value(m));
		else {
			jv s = jv_dump_string(jv_copy(m), 0);
			snprintf(err, errlen, "jq error: %s",
			    jv_string_value(s));
			jv_free(s);
		}
		jv_free(m);
		out->len = mark;
		return -1;
	}
	jv_free(r);
	return count;
}
