/*
 * verifysum: ph-verify's summary file, written and read in one place
 * (verifysum.h says why).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "jsonw.h"
#include "timestamp.h"
#include "verifysum.h"
#include "xalloc.h"

void
verifysum_write(const struct verifysum *s, struct buf *b)
{
	const struct verifysum_totals *t = &s->t;
	int y;
	unsigned m, d;

	buf_adds(b, "{\"days\":[");
	for (size_t i = 0; i < s->ndays; i++) {
		const struct verifysum_day *dy = &s->days[i];

		civil_from_days(dy->day, &y, &m, &d);
		buf_printf(b, "%s{\"day\":\"%04d-%02u-%02u\",\"expected\":%llu,"
		    "\"present\":%llu,\"missing\":%llu,\"not_visible\":%llu,"
		    "\"unverified\":%llu,\"duplicates\":%llu}", i ? "," : "",
		    y, m, d, (unsigned long long)dy->expected,
		    (unsigned long long)dy->present,
		    (unsigned long long)dy->missing,
		    (unsigned long long)dy->not_visible,
		    (unsigned long long)dy->unverified,
		    (unsigned long long)dy->duplicates);
	}
	buf_printf(b, "],\"totals\":{\"read\":%llu,\"expected\":%llu,"
	    "\"present\":%llu,\"missing\":%llu,\"not_visible\":%llu,"
	    "\"unverified\":%llu,\"never_delivered\":%llu,\"duplicates\":%llu,"
	    "\"bad\":%llu,\"other_lib\":%llu},\"queries\":%llu,"
	    "\"throttled\":%llu,\"project\":",
	    (unsigned long long)t->read, (unsigned long long)t->expected,
	    (unsigned long long)t->present, (unsigned long long)t->missing,
	    (unsigned long long)t->not_visible,
	    (unsigned long long)t->unverified,
	    (unsigned long long)t->never_delivered,
	    (unsigned long long)t->duplicates, (unsigned long long)t->bad,
	    (unsigned long long)t->other_lib,
	    (unsigned long long)s->queries, (unsigned long long)s->throttled);
	jsonw_cstr(b, s->project != NULL ? s->project : "");
	buf_adds(b, ",\"host\":");
	jsonw_cstr(b, s->host != NULL ? s->host : "");
	buf_printf(b, ",\"checked_at\":%lld}\n", (long long)s->checked_at);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A count: a JSON integer of at least 0. */
static int
count(const struct jval *o, const char *key, const char *in, uint64_t *out,
    char *err, size_t errlen)
{
	const struct jval *v = json_get(o, key);
	char *end;

	if (v == NULL)
		return fail(err, errlen, "%s has no \"%s\"", in, key);
	if (v->type != J_NUM || v->n == 0 || v->u.s[0] < '0' ||
	    v->u.s[0] > '9')
		return fail(err, errlen, "%s: \"%s\" is not a count (an "
		    "integer of 0 or more)", in, key);
	errno = 0;
	*out = strtoull(v->u.s, &end, 10);
	if (errno != 0 || end != v->u.s + v->n)
		return fail(err, errlen, "%s: \"%s\" is not a count (an "
		    "integer of 0 or more)", in, key);
	return 0;
}

static int
string(const struct jval *o, const char *key, char **out, char *err,
    size_t errlen)
{
	const struct jval *v = json_get(o, key);

	if (v == NULL || v->type != J_STR)
		return fail(err, errlen, "%s \"%s\" (a string)", v == NULL ?
		    "no" : "not a string:", key);
	if (memchr(v->u.s, '\0', v->n) != NULL)
		return fail(err, errlen, "\"%s\" holds a NUL", key);
	*out = xmalloc(v->n + 1);
	memcpy(*out, v->u.s, v->n);
	(*out)[v->n] = '\0';
	return 0;
}

/* "YYYY-MM-DD", a real date: days since the epoch. */
static int
date(const struct jval *v, int64_t *day)
{
	char tmp[32];
	int64_t us;

	if (v == NULL || v->type != J_STR || v->n != 10 || v->u.s[4] != '-' ||
	    v->u.s[7] != '-')
		return -1;
	memcpy(tmp, v->u.s, 10);
	memcpy(tmp + 10, "T00:00:00Z", 11);
	if (ts_parse(tmp, strlen(tmp), &us) == -1)
		return -1;
	*day = us / (86400LL * 1000000);
	if (us < 0 && us % (86400LL * 1000000))
		(*day)--;
	return 0;
}

int
verifysum_parse(const char *p, size_t len, struct verifysum *s, char *err,
    size_t errlen)
{
	static const char *const dkeys[6] = { "expected", "present",
	    "missing", "not_visible", "unverified", "duplicates" };
	static const char *const tkeys[10] = { "read", "expected", "present",
	    "missing", "not_visible", "unverified", "never_delivered",
	    "duplicates", "bad", "other_lib" };
	struct json_parser *jp;
	const struct jval *root, *days, *tot, *v;
	char e[256], in[64];
	uint64_t u;
	int r = -1;

	memset(s, 0, sizeof(*s));
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' ||
	    p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0)
		return fail(err, errlen, "empty: not a summary of ph-verify "
		    "--summary");
	jp = json_parser_new();
	if ((root = json_parse(jp, p, len, e, sizeof(e))) == NULL) {
		fail(err, errlen, "not JSON (%s): not a summary of ph-verify "
		    "--summary", e);
		goto out;
	}
	if (root->type != J_OBJ || (days = json_get(root, "days")) == NULL ||
	    (tot = json_get(root, "totals")) == NULL) {
		fail(err, errlen, "not a summary of ph-verify --summary (no "
		    "\"days\" and \"totals\")");
		goto out;
	}
	if (days->type != J_ARR) {
		fail(err, errlen, "\"days\" is not an array");
		goto out;
	}
	if (tot->type != J_OBJ) {
		fail(err, errlen, "\"totals\" is not an object");
		goto out;
	}
	s->days = xcalloc(days->n ? days->n : 1, sizeof(*s->days));
	for (uint32_t i = 0; i < days->n; i++) {
		const struct jval *o = &days->u.kids[i];
		struct verifysum_day *dy = &s->days[i];
		uint64_t *f[6] = { &dy->expected, &dy->present, &dy->missing,
		    &dy->not_visible, &dy->unverified, &dy->duplicates };

		snprintf(in, sizeof(in), "day %u of \"days\"", i + 1);
		if (o->type != J_OBJ) {
			fail(err, errlen, "%s is not an object", in);
			goto out;
		}
		if (date(json_get(o, "day"), &dy->day) == -1) {
			fail(err, errlen, "%s: \"day\" is not a date "
			    "(YYYY-MM-DD)", in);
			goto out;
		}
		snprintf(in, sizeof(in), "day %.10s", json_get(o, "day")->u.s);
		if (s->ndays > 0 && dy->day <= s->days[s->ndays - 1].day) {
			fail(err, errlen, "%s: \"days\" are not in order",
			    in);
			goto out;
		}
		for (int k = 0; k < 6; k++)
			if (count(o, dkeys[k], in, f[k], err, errlen) == -1)
				goto out;
		s->ndays++;
	}
	{
		struct verifysum_totals *t = &s->t;
		uint64_t *f[10] = { &t->read, &t->expected, &t->present,
		    &t->missing, &t->not_visible, &t->unverified,
		    &t->never_delivered, &t->duplicates, &t->bad,
		    &t->other_lib };

		for (int k = 0; k < 10; k++)
			if (count(tot, tkeys[k], "\"totals\"", f[k], err,
			    errlen) == -1)
				goto out;
	}
	if (count(root, "queries", "the summary", &s->queries, err,
	    errlen) == -1 || count(root, "throttled", "the summary",
	    &s->throttled, err, errlen) == -1 || count(root, "checked_at",
	    "the summary", &u, err, errlen) == -1)
		goto out;
	if (u > INT64_MAX) {
		fail(err, errlen, "\"checked_at\" is out of range");
		goto out;
	}
	s->checked_at = (int64_t)u;
	if (string(root, "project", &s->project, err, errlen) == -1 ||
	    string(root, "host", &s->host, err, errlen) == -1)
		goto out;
	if ((v = json_get(root, "project")) != NULL && v->n == 0) {
		fail(err, errlen, "\"project\" is empty");
		goto out;
	}
	r = 0;
out:
	json_parser_free(jp);
	return r;
}

void
verifysum_free(struct verifysum *s)
{
	free(s->days);
	free(s->project);
	free(s->host);
	memset(s, 0, sizeof(*s));
}

const struct verifysum_day *
verifysum_day(const struct verifysum *s, int64_t day)
{
	size_t lo = 0, hi = s->ndays;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->days[mid].day == day)
			return &s->days[mid];
		if (s->days[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
