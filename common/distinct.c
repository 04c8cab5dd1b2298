/*
 * distinct: PostHog's list of ids it will not merge persons on.
 *
 * The list and the rules are those of isDistinctIdIllegal in PostHog's
 * ingestion, nodejs/src/worker/ingestion/persons/person-merge-service.ts
 * (PostHog/posthog, commit 039125e1f73832e9a96acbb1eea66c9aa27bef05):
 *   - an id that is empty once trimmed (JavaScript's String.trim: ASCII
 *     white space, line terminators, NBSP, U+1680, U+2000-U+200A, U+2028,
 *     U+2029, U+202F, U+205F, U+3000 and U+FEFF) is illegal;
 *   - BARE_CASE_INSENSITIVE_ILLEGAL_IDS, and the same wrapped in single or
 *     double quotes ('anonymous', "anonymous"), compared with id.toLowerCase();
 *   - BARE_CASE_SENSITIVE_ILLEGAL_IDS, bare and quoted, compared exactly.
 * The comparisons are made on the id as it is, not trimmed.  Every word
 * of the lists is ASCII and no non-ASCII character lower-cases to a lone
 * ASCII letter of them, so folding ASCII letters is toLowerCase here.
 */
#include <string.h>
#include <strings.h>

#include "distinct.h"

static const char *const nocase[] = {
	"anonymous", "guest", "distinctid", "distinct_id", "id",
	"not_authenticated", "email", "undefined", "true", "false", NULL
};
static const char *const exact[] = {
	"[object Object]", "NaN", "None", "none", "null", "0", "undefined",
	NULL
};

/* Bytes of the JavaScript white space character at s (n left), or 0. */
static size_t
js_space(const unsigned char *s, size_t n)
{
	if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		return 1;
	if (n >= 2 && s[0] == 0xc2 && s[1] == 0xa0)		/* U+00A0 */
		return 2;
	if (n < 3)
		return 0;
	if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)	/* U+1680 */
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x80 && (s[2] <= 0x8a ||	/* 2000-200A */
	    s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))	/* 2028 2029 202F */
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)	/* U+205F */
		return 3;
	if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)	/* U+3000 */
		return 3;
	if (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)	/* U+FEFF */
		return 3;
	return 0;
}

/* s[0..n) is word, bare or between two quote characters q. */
static int
is_word(const char *s, size_t n, const char *word, int nocasecmp)
{
	size_t wl = strlen(word);

	if (n == wl + 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
		s++;
		n -= 2;
	}
	if (n != wl)
		return 0;
	return nocasecmp ? strncasecmp(word, s, n) == 0 :
	    memcmp(word, s, n) == 0;
}

int
distinct_id_mergeable(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, w;

	for (i = 0; i < n && (w = js_space(u + i, n - i)) > 0; i += w)
		;
	if (i == n)
		return 0;
	/* Every listed id, quotes included, is at most 19 bytes. */
	if (n > 19)
		return 1;
	for (i = 0; nocase[i] != NULL; i++)
		if (is_word(s, n, nocase[i], 1))
			return 0;
	for (i = 0; exact[i] != NULL; i++)
		if (is_word(s, n, exact[i], 0))
			return 0;
	return 1;
}
