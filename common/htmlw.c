/* htmlw: clean and escaped text, and grouped numbers, for HTML pages. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "htmlw.h"
#include "utf8.h"

/* Tab and newline stay; other controls and non-characters do not. */
void
htmlw_clean(struct buf *b, const char *s, size_t n, int escape, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, lim = n > max ? max : n;

	while (i < lim) {
		uint32_t cp;
		int k = utf8_decode((const char *)p + i, n - i, &cp);

		if (k < 0 || (cp < 0x20 && cp != '\t' && cp != '\n') ||
		    (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xfdd0 &&
		    cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe) {
			buf_adds(b, "\xef\xbf\xbd");
			i += k < 0 ? 1 : (size_t)k;
			continue;
		}
		if (escape && cp == '&')
			buf_adds(b, "&amp;");
		else if (escape && cp == '<')
			buf_adds(b, "&lt;");
		else if (escape && cp == '>')
			buf_adds(b, "&gt;");
		else if (escape && cp == '"')
			buf_adds(b, "&quot;");
		else if (escape && cp == '\'')
			buf_adds(b, "&#39;");
		else
			buf_add(b, p + i, k);
		i += k;
	}
	if (lim < n)
		buf_adds(b, "\xe2\x80\xa6");
}

void
htmlw_text(struct buf *b, const char *s, size_t n)
{
	htmlw_clean(b, s, n, 1, SIZE_MAX);
}

void
htmlw_texts(struct buf *b, const char *s)
{
	htmlw_text(b, s, strlen(s));
}

void
htmlw_addnum(struct buf *b, uint64_t v)
{
	char t[32], o[48];
	int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v), k = 0;

	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			o[k++] = ',';
		o[k++] = t[i];
	}
	buf_add(b, o, k);
}

const char *
htmlw_num(uint64_t v)
{
	static char ring[8][48];
	static int r;
	struct buf t = { 0 };

	htmlw_addnum(&t, v);
	r = (r + 1) % 8;
	snprintf(ring[r], sizeof(ring[r]), "%.*s", (int)t.len, t.p);
	buf_free(&t);
	return ring[r];
}
