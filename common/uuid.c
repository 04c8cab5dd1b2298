/* uuid: parsing, formatting, name-based v5 and time-chosen v7. */
#include <string.h>
#include <uuid/uuid.h>

#include "uuid.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	/* ASCII's case bit, rather than tolower(3) and its locale lookup. */
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
uuid_bytes(const char *s, size_t n, unsigned char out[16])
{
	int k = 0;

	if (n >= 9 && strncasecmp(s, "urn:uuid:", 9) == 0) {
		s += 9;
		n -= 9;
	}
	if (n == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		n -= 2;
	}
	if (n != 36 && n != 32)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int h, l;

		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		if (i + 1 >= n || (h = hexval(s[i])) < 0 ||
		    (l = hexval(s[i + 1])) < 0)
			return -1;
		out[k++] = h << 4 | l;
		i++;
	}
	return k == 16 ? 0 : -1;
}

void
uuid_format(const unsigned char in[16], char *out)
{
	uuid_unparse_lower(in, out);
}

int
uuid_canon(const char *s, size_t n, char *out)
{
	unsigned char b[16];

	if (uuid_bytes(s, n, b) == -1)
		return -1;
	uuid_format(b, out);
	return 0;
}

/* The v5 UUID of name under AMP2PH_UUID_NS, as bytes. */
static void
v5_bytes(const void *name, size_t n, uuid_t u)
{
	static uuid_t ns;
	static int ready;

	if (!ready) {
		uuid_parse(AMP2PH_UUID_NS, ns);
		ready = 1;
	}
	uuid_generate_sha1(u, ns, name, n);
}

void
uuid_v5(const void *name, size_t n, char *out)
{
	uuid_t u;

	v5_bytes(name, n, u);
	uuid_unparse_lower(u, out);
}

void
uuid_v7_at(uint64_t ms, const void *seed, size_t n, char *out)
{
	uuid_t b;

	/* The v5 UUID's bytes, not its text parsed again. */
	v5_bytes(seed, n, b);
	for (int i = 0; i < 6; i++)
		b[i] = ms >> (40 - 8 * i);
	b[6] = 0x70 | (b[6] & 0x0f);		/* version 7 */
	b[8] = 0x80 | (b[8] & 0x3f);		/* RFC 4122 variant */
	uuid_unparse_lower(b, out);
}
