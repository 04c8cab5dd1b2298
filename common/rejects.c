/* rejects: writing the rejects file. */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonw.h"
#include "outfile.h"
#include "rejects.h"

void
rejects_open(struct rejects *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	if (path != NULL && (r->fp = fopen(path, "a")) == NULL)
		err(1, "%s", path);
}

int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		unsigned c = *p, need;
		uint32_t cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else
			return 0;
		if ((size_t)(e - p) <= need)
			return 0;
		for (unsigned i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 &&
		    cp <= 0xdfff))) || (need == 3 && (cp < 0x10000 ||
		    cp > 0x10ffff)))
			return 0;
		p += need + 1;
	}
	return 1;
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

void
rejects_add(struct rejects *r, const char *file, uint64_t line,
    const char *reason, const char *input, size_t len, int status)
{
	struct buf b = { 0 };
	int first = 1;

	r->count++;
	if (r->fp == NULL)
		return;
	buf_addc(&b, '{');
	jsonw_key(&b, "file", &first);
	jsonw_cstr(&b, file);
	jsonw_key(&b, "line", &first);
	jsonw_u64(&b, line);
	jsonw_key(&b, "reason", &first);
	jsonw_cstr(&b, reason);
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
	outfile_write(r->fp, b.p, b.len, r->path);
	buf_free(&b);
}

int
rejects_close(struct rejects *r)
{
	if (r->fp == NULL)
		return 0;
	int rc = outfile_close(r->fp, r->path);
	r->fp = NULL;
	return rc;
}
