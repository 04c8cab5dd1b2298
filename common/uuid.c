/* uuid: parsing, formatting, name-based v5 and time-chosen v7. */
#include <string.h>
#include <uuid/uuid.h>

#include "uuid.h"

/*
 * Hex digit values, -1 for other bytes.  A table rather than tests: the
 * digits of random UUIDs defeat branch prediction, and uuid_bytes reads
 * every row's.
 */
static const signed char hexval[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

int
uuid_bytes(const char *s, size_t n, unsigned char out[16])
{
	/* Where each byte's two digits start in the hyphenated form. */
	static const unsigned char at36[16] = {
		0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34
	};
	unsigned char b[16];
	int bad = 0;

	if (n >= 9 && strncasecmp(s, "urn:uuid:", 9) == 0) {
		s += 9;
		n -= 9;
	}
	if (n == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		n -= 2;
	}
	if (n == 36) {
		if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
			return -1;
	} else if (n != 32)
		return -1;
	/* All 32 digits, then one test: no branch per digit. */
	for (int k = 0; k < 16; k++) {
		size_t i = n == 36 ? at36[k] : 2 * (size_t)k;
		int h = hexval[(unsigned char)s[i]];
		int l = hexval[(unsigned char)s[i + 1]];

		bad |= h | l;
		b[k] = (unsigned)h << 4 | (unsigned)l;
	}
	if (bad < 0)
		return -1;
	memcpy(out, b, 16);
	return 0;
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
