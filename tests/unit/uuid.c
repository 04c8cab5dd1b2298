/* Unit checks of common/uuid: accepted forms, v5 and v7. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "uuid.h"
#include "tap.h"

#define CANON	"0f8fad5b-d9cb-469f-a165-70867728950e"

static void
canon(const char *s, const char *want)
{
	char out[UUID_STRLEN + 1] = "";
	int rc = uuid_canon(s, strlen(s), out);
	char what[160];

	snprintf(what, sizeof(what), "uuid_canon(\"%s\")", s);
	if (!ok(rc == 0 && strcmp(out, want) == 0, "%s", what))
		diag("rc %d, got \"%s\", want \"%s\"", rc, out, want);
}

static void
refuses(const char *s, size_t n, const char *what)
{
	char out[UUID_STRLEN + 1];
	unsigned char b[16];

	ok(uuid_canon(s, n, out) == -1 && uuid_bytes(s, n, b) == -1,
	    "refuses %s", what);
}

static int
is_hexchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int
canonical(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !is_hexchar(s[i]))
			return 0;
	return 1;
}

/* uuid_bytes as it was first written, one character at a time. */
static int
ref_bytes(const char *s, size_t n, unsigned char out[16])
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
		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		if (i + 1 >= n || !isxdigit((unsigned char)s[i]) ||
		    !isxdigit((unsigned char)s[i + 1]))
			return -1;
		char two[3] = { s[i], s[i + 1], '\0' };
		out[k++] = (unsigned char)strtoul(two, NULL, 16);
		i++;
	}
	return k == 16 ? 0 : -1;
}

/* Random near-UUIDs: each form, with a wrong byte now and then. */
static void
random_bytes(void)
{
	static const char *const pre[] = { "", "", "urn:uuid:", "URN:UUID:",
	    "{", "urn:uuid:{" };
	static const char odd[] = "-gG{}: \x80\xff" "0aF";
	uint64_t r = 88172645463325252ULL;
	int bad = 0, good = 0;

	for (int t = 0; t < 200000; t++) {
		char s[64];
		unsigned char a[16], b[16];
		size_t n;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		n = strlen(strcpy(s, pre[r % 6]));
		int hyph = (r >> 3) & 1;
		for (int i = 0; i < (hyph ? 36 : 32); i++)
			s[n++] = hyph && (i == 8 || i == 13 || i == 18 ||
			    i == 23) ? '-' : "0123456789abcdefABCDEF"[(r >> (i %
			    40)) % 22];
		if (strchr(pre[r % 6], '{') != NULL)
			s[n++] = '}';
		if ((r >> 50) % 3 == 0)
			s[(r >> 20) % n] = odd[(r >> 30) % (sizeof(odd) - 1)];
		if ((r >> 55) % 8 == 0)
			n -= (r >> 58) % 3;
		memset(a, 0x5a, 16);
		memcpy(b, a, 16);
		int ra = uuid_bytes(s, n, a), rb = ref_bytes(s, n, b);
		if (ra != rb || (ra == 0 && memcmp(a, b, 16) != 0))
			bad++;
		good += ra == 0;
	}
	ok(bad == 0 && good > 50000 && good < 190000,
	    "uuid_bytes agrees with a digit-by-digit reader (%d of 200000 "
	    "read)", good);
}

int
main(void)
{
	char a[UUID_STRLEN + 1], b[UUID_STRLEN + 1];
	unsigned char bytes[16];

	/* The forms PostHog's capture accepts. */
	canon(CANON, CANON);
	canon("0F8FAD5B-D9CB-469F-A165-70867728950E", CANON);
	canon("{0f8fad5b-d9cb-469f-a165-70867728950e}", CANON);
	canon("urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e", CANON);
	canon("URN:UUID:0F8FAD5B-D9CB-469F-A165-70867728950E", CANON);
	canon("0f8fad5bd9cb469fa16570867728950e", CANON);
	canon("00000000-0000-0000-0000-000000000000",
	    "00000000-0000-0000-0000-000000000000");
	canon("ffffffff-ffff-ffff-ffff-ffffffffffff",
	    "ffffffff-ffff-ffff-ffff-ffffffffffff");

	/* Not UUIDs. */
	refuses("", 0, "the empty string");
	refuses(CANON, 35, "35 characters");
	refuses("0f8fad5b-d9cb-469f-a165-70867728950e0", 37, "37 characters");
	refuses("0f8fad5bd-9cb-469f-a165-70867728950e", 36, "a hyphen moved");
	refuses("0f8fad5b_d9cb_469f_a165_70867728950e", 36, "underscores");
	refuses("0f8fad5b-d9cb-469f-a165-70867728950g", 36, "a 'g'");
	refuses("0f8fad5b-d9cb-469f-a165-7086772895 e", 36, "a space");
	refuses("0f8fad5b-d9cb-469f-a165-7086772895\xc3\xa9", 36,
	    "a non-ASCII byte");
	refuses("0f8fad5bd9cb469fa16570867728950", 31, "31 hex digits");
	refuses("0f8fad5bd9cb469fa16570867728950e0", 33, "33 hex digits");
	refuses("0f8fad5b-d9cb469f-a165-70867728950e0", 36,
	    "a hyphen missing, an extra digit");
	refuses("(0f8fad5b-d9cb-469f-a165-70867728950e)", 38, "parentheses");
	refuses("{0f8fad5b-d9cb-469f-a165-70867728950e", 37, "an open brace");
	refuses("urn:uuid:", 9, "a bare urn:uuid:");
	refuses("urn:uid:0f8fad5b-d9cb-469f-a165-70867728950e", 44,
	    "urn:uid:");
	{
		char nul[37];
		memcpy(nul, CANON, 37);
		nul[20] = '\0';
		refuses(nul, 36, "an embedded NUL");
	}

	/* Bytes and back. */
	ok(uuid_bytes(CANON, 36, bytes) == 0 && bytes[0] == 0x0f &&
	    bytes[1] == 0x8f && bytes[6] == 0x46 && bytes[15] == 0x0e,
	    "uuid_bytes reads the bytes in order");
	uuid_format(bytes, a);
	ok_str(a, CANON, "uuid_format writes them back, lower case");

	/* v5 under amp2ph's namespace (values from Python's uuid.uuid5). */
	uuid_v5("", 0, a);
	ok_str(a, "9a437148-11bd-587f-935d-74aa4d848925", "uuid_v5 of \"\"");
	uuid_v5("hello", 5, a);
	ok_str(a, "ab5382af-36f0-53e4-9a3c-381952ad05e8", "uuid_v5 of hello");
	uuid_v5("device-1|user-1", 15, a);
	ok_str(a, "9ecdd012-4108-5884-b3d7-b34fba927e06",
	    "uuid_v5 of device-1|user-1");
	uuid_v5("hello", 5, b);
	ok(strcmp(a, b) != 0, "different names, different UUIDs");
	uuid_v5("hello\0x", 7, a);
	ok(strcmp(a, b) != 0, "uuid_v5 reads n bytes, past a NUL");

	/* v7 at a chosen time. */
	uuid_v7_at(0x0123456789abULL, "seed", 4, a);
	ok(canonical(a), "uuid_v7_at writes a canonical UUID (%s)", a);
	ok(strncmp(a, "01234567-89ab-7", 15) == 0,
	    "uuid_v7_at: 48-bit milliseconds then version 7");
	ok(strchr("89ab", a[19]) != NULL, "uuid_v7_at: RFC 4122 variant");
	uuid_v7_at(0x0123456789abULL, "seed", 4, b);
	ok_str(b, a, "uuid_v7_at is deterministic");
	uuid_v7_at(0x0123456789acULL, "seed", 4, b);
	ok(strncmp(b, "01234567-89ac-7", 15) == 0 &&
	    strcmp(a + 15, b + 15) == 0,
	    "uuid_v7_at: another time, the same other bits");
	uuid_v7_at(0x0123456789abULL, "seeds", 5, b);
	ok(strncmp(a, b, 15) == 0 && strcmp(a + 15, b + 15) != 0,
	    "uuid_v7_at: another seed, other bits");
	uuid_v7_at(1704067200000ULL, "s", 1, a);
	ok(strncmp(a, "018cc251-f400-7", 15) == 0,
	    "uuid_v7_at(2024-01-01T00:00:00Z): %s", a);
	uuid_v7_at(0, "", 0, a);
	ok(strncmp(a, "00000000-0000-7", 15) == 0 && canonical(a),
	    "uuid_v7_at(0)");
	uuid_v7_at(0xffffffffffffULL, "", 0, a);
	ok(strncmp(a, "ffffffff-ffff-7", 15) == 0, "uuid_v7_at(2^48 - 1)");
	ok(uuid_canon(a, strlen(a), b) == 0 && strcmp(a, b) == 0,
	    "a v7 UUID is accepted as is");
	{
		unsigned char v[16];
		char want[UUID_STRLEN + 1];

		/* v7 is v5's bytes with the time and the version bits. */
		uuid_v5("amplitude-session\x1f" "d\x1f" "17", 22, want);
		uuid_bytes(want, UUID_STRLEN, v);
		for (int i = 0; i < 6; i++)
			v[i] = 0x018cc251f400ULL >> (40 - 8 * i);
		v[6] = 0x70 | (v[6] & 0x0f);
		v[8] = 0x80 | (v[8] & 0x3f);
		uuid_format(v, want);
		uuid_v7_at(0x018cc251f400ULL, "amplitude-session\x1f" "d\x1f"
		    "17", 22, a);
		ok_str(a, want, "uuid_v7_at is v5's bits under the time");
	}
	random_bytes();
	return tap_done();
}
