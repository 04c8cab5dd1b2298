/* utf8: strict validation of UTF-8 byte strings. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "utf8.h"

int
utf8_decode(const char *s, size_t n, uint32_t *cpp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned c = p[0], need;
	uint32_t cp;

	if (c < 0x80) {
		*cpp = c;
		return 1;
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
		return -1;
	if (n <= need)
		return -1;
	for (unsigned i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
		return -1;
	*cpp = cp;
	return need + 1;
}

int
utf8_valid(const char *s, size_t n)
{
	const char *p = s, *e = s + n;
	uint32_t cp;
	int k;

	while (p < e) {
		/* ASCII runs, 8 bytes at a time: most text is ASCII. */
		if (e - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if ((w & 0x8080808080808080ULL) == 0) {
				p += 8;
				continue;
			}
		}
		if ((unsigned char)*p < 0x80) {
			p++;
			continue;
		}
		if ((k = utf8_decode(p, e - p, &cp)) < 0)
			return 0;
		p += k;
	}
	return 1;
}

/* Bytes in the UTF-8 sequence that c starts (1 for a stray byte). */
static size_t
seqlen(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

void
utf8_clean(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = seqlen((unsigned char)s[i]);
		if (k > n - i || !utf8_valid(s + i, k)) {
			buf_add(b, "\xef\xbf\xbd", 3);	/* U+FFFD */
			i++;
			continue;
		}
		buf_add(b, s + i, k);
		i += k;
	}
}
