/* rejects: writing and reading the rejects file, telling it on stderr. */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "jsonw.h"
#include "rejects.h"
#include "utf8.h"

/* All of p, or -1: a regular file takes a short write only on an error. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void
rejects_open(struct rejects *r, const char *path)
{
	struct stat sb;
	char last;

	memset(r, 0, sizeof(*r));
	r->path = path;
	if (path == NULL)
		return;
	if ((r->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0666)) == -1)
		err(1, "%s", path);
	r->open = 1;
	/*
	 * A last line without its newline was torn by a kill: end it, or
	 * the first line added here would be glued to it and lost too.
	 * pread needs a readable descriptor, so look through another.
	 */
	if (fstat(r->fd, &sb) == -1)
		err(1, "%s", path);
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0)
		return;
	int rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd == -1 || pread(rfd, &last, 1, sb.st_size - 1) != 1)
		err(1, "%s", path);
	close(rfd);
	if (last != '\n' && write_all(r->fd, "\n", 1) == -1)
		err(1, "%s", path);
}

static void
base64(struct buf *b, const char *s, size_t n)
{
	static const char t[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	buf_addc(b, '"');
	for (i = 0; i + 2 < n; i += 3) {
		char q[4] = { t[p[i] >> 2], t[(p[i] & 3) << 4 | p[i + 1] >> 4],
		    t[(p[i + 1] & 15) << 2 | p[i + 2] >> 6], t[p[i + 2] & 63] };
		buf_add(b, q, 4);
	}
	if (i < n) {
		char q[4] = { t[p[i] >> 2], 0, '=', '=' };
		if (i + 1 < n) {
			q[1] = t[(p[i] & 3) << 4 | p[i + 1] >> 4];
			q[2] = t[(p[i + 1] & 15) << 2];
		} else
			q[1] = t[(p[i] & 3) << 4];
		buf_add(b, q, 4);
	}
	buf_addc(b, '"');
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void
rejects_unbase64(struct buf *b, const char *s, size_t n)
{
	uint32_t acc = 0;
	int bits = 0, v;

	for (size_t i = 0; i < n; i++) {
		if ((v = b64val((unsigned char)s[i])) < 0)
			continue;	/* padding, line breaks */
		acc = acc << 6 | v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf_addc(b, (char)(acc >> bits));
		}
	}
}

/* A JSON string of s, with each byte that is not UTF-8 as U+FFFD. */
static void
text(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	struct buf c = { 0 };

	if (utf8_valid(s, n)) {
		jsonw_str(b, s, n);
		return;
	}
	utf8_clean(&c, s, n);
	jsonw_str(b, c.p, c.len);
	buf_free(&c);
}

void
rejects_add(struct rejects *r, const char *file, uint64_t line,
    const char *reason, const char *input, size_t len, int status)
{
	struct buf b = { 0 };
	int first = 1;

	r->count++;
	if (!r->open)
		return;
	buf_addc(&b, '{');
	jsonw_key(&b, "file", &first);
	text(&b, file);
	jsonw_key(&b, "line", &first);
	jsonw_u64(&b, line);
	jsonw_key(&b, "reason", &first);
	text(&b, reason);
	if (status != 0) {
		jsonw_key(&b, "status", &first);
		jsonw_i64(&b, status);
	}
	if (utf8_valid(input, len)) {
		jsonw_key(&b, "input", &first);
		jsonw_str(&b, input, len);
	} else {
		jsonw_key(&b, "input_base64", &first);
		base64(&b, input, len);
	}
	buf_adds(&b, "}\n");
	/* One write: a kill leaves this line whole or not there. */
	if (write_all(r->fd, b.p, b.len) == -1)
		err(1, "%s", r->path);
	buf_free(&b);
}

int
rejects_close(struct rejects *r)
{
	int rc = 0;

	if (!r->open)
		return 0;
	if (close(r->fd) == -1) {
		warn("%s", r->path);
		rc = -1;
	}
	r->open = 0;
	return rc;
}

void
rejects_warn(struct rejects *r, unsigned limit, const char *what,
    const char *file, uint64_t line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	/* Thousands of lines about one cause drown the rest: name a few. */
	if (++r->warned > (uint64_t)limit + 1)
		return;
	if (r->warned == (uint64_t)limit + 1) {
		warnx("further %s are not named here%s%s", what,
		    r->path ? "; see " : "", r->path ? r->path : "");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warnx("%s:%llu: %s", file, (unsigned long long)line, msg);
}

int
rejects_parse(struct json_parser *jp, const char *p, size_t len,
    struct reject *rj, struct buf *input, char *err, size_t errlen)
{
	const struct jval *root, *v;

	memset(rj, 0, sizeof(*rj));
	input->len = 0;
	if ((root = json_parse(jp, p, len, err, errlen)) == NULL)
		return -1;
	if (root->type != J_OBJ || (v = json_get(root, "reason")) == NULL ||
	    v->type != J_STR) {
		snprintf(err, errlen, "no \"reason\" string");
		return -1;
	}
	rj->reason = v->u.s;
	rj->reasonlen = v->n;
	if ((v = json_get(root, "file")) != NULL && v->type == J_STR)
		rj->file = v->u.s;
	if ((v = json_get(root, "line")) != NULL && v->type == J_NUM)
		rj->line = strtoull(v->u.s, NULL, 10);
	if ((v = json_get(root, "status")) != NULL && v->type == J_NUM) {
		rj->has_status = 1;
		rj->status = strtol(v->u.s, NULL, 10);
	}
	if ((v = json_get(root, "input")) != NULL && v->type == J_STR)
		buf_add(input, v->u.s, v->n);
	else if ((v = json_get(root, "input_base64")) != NULL &&
	    v->type == J_STR)
		rejects_unbase64(input, v->u.s, v->n);
	/* NUL-terminated, so the input can be parsed in place. */
	buf_addc(input, '\0');
	rj->input = input->p;
	rj->inputlen = --input->len;
	return 0;
}
