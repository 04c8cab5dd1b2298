/* distinct: PostHog's list of ids it will not merge persons on. */
#include <ctype.h>
#include <strings.h>
#include <string.h>

#include "distinct.h"

int
distinct_id_mergeable(const char *s, size_t n)
{
	/* Compared case-insensitively (PostHog's person-merge rules). */
	static const char *const nocase[] = {
		"anonymous", "guest", "distinctid", "distinct_id", "id",
		"not_authenticated", "email", "undefined", "true", "false",
		NULL
	};
	/* Compared exactly. */
	static const char *const exact[] = {
		"[object Object]", "NaN", "None", "none", "null", "0", NULL
	};
	size_t i;

	for (i = 0; i < n && isspace((unsigned char)s[i]); i++)
		;
	if (i == n)
		return 0;
	for (i = 0; nocase[i] != NULL; i++)
		if (strlen(nocase[i]) == n && strncasecmp(nocase[i], s, n) == 0)
			return 0;
	for (i = 0; exact[i] != NULL; i++)
		if (strlen(exact[i]) == n && memcmp(exact[i], s, n) == 0)
			return 0;
	return 1;
}
