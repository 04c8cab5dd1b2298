/* stage: which stage an input belongs to, from its first line. */
#include <err.h>
#include <string.h>

#include "progress.h"
#include "stage.h"

/* The length of a UTF-8 byte order mark at p (3), else 0. */
static size_t
stage_bom(const char *p, size_t len)
{
	return len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

static void
stage_bom_note(const char *file)
{
	warnx("%s: skipping a UTF-8 byte order mark at the start (not part "
	    "of NDJSON)", file);
}

/* A top-level key of a JSON object line, by a cheap look, not a parse. */
static int
has_key(const char *p, size_t len, const char *key)
{
	size_t kl = strlen(key);

	for (const char *q = p; (q = memchr(q, '"', len - (q - p))) != NULL;
	    q++) {
		if ((size_t)(p + len - q) < kl + 3)
			return 0;
		if (memcmp(q + 1, key, kl) == 0 && q[kl + 1] == '"') {
			const char *r = q + kl + 2;

			while (r < p + len && (*r == ' ' || *r == '\t'))
				r++;
			if (r < p + len && *r == ':')
				return 1;
		}
	}
	return 0;
}

enum stage_kind
stage_sniff(const char *p, size_t len)
{
	if (len >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
		return SK_ZIP;
	if (len >= 2 && (unsigned char)p[0] == 0x1f &&
	    (unsigned char)p[1] == 0x8b)
		return SK_GZIP;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if (len == 0 || *p != '{')
		return SK_UNKNOWN;
	/*
	 * An export row has "event_type" (and no "event"); a PostHog event
	 * has "event" and "distinct_id" or "properties".  Nested keys could
	 * fool the look, so both kinds are asked for by two keys.
	 */
	if (has_key(p, len, "event_type") && !has_key(p, len, "event") &&
	    (has_key(p, len, "event_time") || has_key(p, len, "device_id") ||
	    has_key(p, len, "amplitude_id")))
		return SK_AMPLITUDE;
	if (has_key(p, len, "event") && !has_key(p, len, "event_type") &&
	    (has_key(p, len, "distinct_id") || has_key(p, len, "properties")))
		return SK_POSTHOG;
	return SK_UNKNOWN;
}

const char *
stage_wrong(enum stage_kind want, const char *p, size_t len)
{
	switch (stage_sniff(p, len)) {
	case SK_ZIP:
		return want == SK_AMPLITUDE ? "this is a zip archive, not "
		    "NDJSON: amp-unpack was skipped (amp-unpack FILE | "
		    "amp-convert)" : "this is a zip archive, not NDJSON: "
		    "amp-unpack and amp-convert were skipped";
	case SK_GZIP:
		return want == SK_AMPLITUDE ? "this is gzip data, not NDJSON: "
		    "amp-unpack was skipped (amp-unpack FILE | amp-convert)" :
		    "this is gzip data, not NDJSON: amp-unpack and "
		    "amp-convert were skipped";
	case SK_AMPLITUDE:
		return want == SK_POSTHOG ? "these are Amplitude export rows, "
		    "not PostHog events: amp-convert was skipped "
		    "(... | amp-convert | ph-alias | ...)" : NULL;
	case SK_POSTHOG:
		return want == SK_AMPLITUDE ? "these are PostHog events "
		    "(amp-convert's output), not Amplitude export rows: "
		    "amp-convert has been run on them already" : NULL;
	default:
		return NULL;
	}
}

const char *
stage_first(enum stage_kind want, const char *file, const char **p,
    size_t *len, int note)
{
	size_t b = stage_bom(*p, *len);

	if (b > 0) {
		if (note)
			stage_bom_note(file);
		*p += b;
		*len -= b;
	}
	return stage_wrong(want, *p, *len);
}

void
stage_cut_note(const char *file, unsigned long long line)
{
	/* note(): above a progress line, if one is drawn. */
	note("%s:%llu: the input ends in a cut line (no newline, not whole "
	    "JSON): was a stage before this one stopped?  It is not taken "
	    "and not rejected: run the pipeline again", file, line);
}
