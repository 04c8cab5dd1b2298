/* jqprog: compile once, run per event, collect objects as NDJSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jq.h>

#include "jqprog.h"
#include "xalloc.h"

struct jqprog {
	jq_state	*jq;
	struct buf	 prot;		/* the input, big integers protected */
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
	buf_free(&p->prot);
	jq_teardown(&p->jq);
	free(p);
}

/*
 * libjq 1.6 holds every number as a double: an integer past 2^53 (order
 * numbers, tweet ids, Amplitude ids) would come out rounded, and in
 * exponent form (1850000000000000001 -> 1.85e+18), without a word.  Such
 * integers go to the program as strings with this prefix and are
 * restored, digit for digit, where a whole string of that form comes
 * back; a program that computes with them sees a string, not a changed
 * number.
 */
#define BIGINT	"amp2ph-bigint:"

/* An integer literal of n bytes at s beyond 2^53 in magnitude. */
static int
big_integer(const char *s, size_t n)
{
	static const char limit[] = "9007199254740992";	/* 2^53 */
	size_t d = n - (s[0] == '-');
	const char *digits = s + (s[0] == '-');

	if (d < sizeof(limit) - 1)
		return 0;
	return d > sizeof(limit) - 1 || memcmp(digits, limit, d) > 0;
}

/* in with its big integers made strings, into b: 1 if any, else 0. */
static int
protect(const char *in, size_t len, struct buf *b)
{
	size_t i = 0, last = 0;
	int any = 0, str = 0;

	while (i < len) {
		char c = in[i];

		if (str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				str = 0;
			i++;
			continue;
		}
		if (c == '"') {
			str = 1;
			i++;
			continue;
		}
		if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i + 1;
			int integer = 1;

			while (j < len && (in[j] == '.' || in[j] == 'e' ||
			    in[j] == 'E' || in[j] == '+' || in[j] == '-' ||
			    (in[j] >= '0' && in[j] <= '9'))) {
				if (in[j] == '.' || in[j] == 'e' || in[j] == 'E')
					integer = 0;
				j++;
			}
			if (integer && big_integer(in + i, j - i)) {
				buf_add(b, in + last, i - last);
				buf_adds(b, "\"" BIGINT);
				buf_add(b, in + i, j - i);
				buf_addc(b, '"');
				last = j;
				any = 1;
			}
			i = j;
			continue;
		}
		i++;
	}
	if (any)
		buf_add(b, in + last, len - last);
	return any;
}

/* s (n bytes) onto out with each whole "amp2ph-bigint:<digits>" a number. */
static void
restore(struct buf *out, const char *s, size_t n)
{
	static const char mark[] = "\"" BIGINT;
	const size_t ml = sizeof(mark) - 1;
	size_t i = 0;

	while (i < n) {
		const char *q = memmem(s + i, n - i, mark, ml);
		size_t j, k;

		if (q == NULL)
			break;
		j = q - s;
		k = j + ml;
		if (k < n && s[k] == '-')
			k++;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		if (k < n && s[k] == '"' && k > j + ml) {
			buf_add(out, s + i, j - i);
			buf_add(out, s + j + ml, k - (j + ml));
			i = k + 1;
		} else {
			buf_add(out, s + i, k - i);
			i = k;
		}
	}
	buf_add(out, s + i, n - i);
}

int
jqprog_run(struct jqprog *p, const char *in, size_t len, struct buf *out,
    char *err, size_t errlen)
{
	size_t mark = out->len;
	int count = 0, big;
	jv input, r;

	p->prot.len = 0;
	if ((big = protect(in, len, &p->prot)) != 0) {
		in = p->prot.p;
		len = p->prot.len;
	}
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
		if (big)
			restore(out, jv_string_value(s),
			    jv_string_length_bytes(jv_copy(s)));
		else
			buf_add(out, jv_string_value(s),
			    jv_string_length_bytes(jv_copy(s)));
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
