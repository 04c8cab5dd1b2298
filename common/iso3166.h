/*
 * iso3166: country and subdivision names to ISO 3166 codes, from Debian's
 * iso-codes data (package iso-codes: iso_3166-1.json and iso_3166-2.json
 * in /usr/share/iso-codes/json), read at run time on the first lookup.
 * amp-convert uses it: Amplitude exports carry GeoIP names only
 * (country "United States", region "California"), PostHog's sessions and
 * maps read $geoip_country_code and $geoip_subdivision_1_code.
 *
 * The environment variable AMP2PH_ISO_CODES names another directory
 * holding the two files.  When a file cannot be read, one warning is
 * written to the standard error and its lookups find nothing.
 *
 * Names match without regard to ASCII case, to the accents of Latin
 * letters (Latin-1 and Latin Extended-A), to spaces and punctuation
 * ("Ile de France" is "Île-de-France"); a subdivision also matches by
 * the part of its ISO name before a comma or a bracket ("Madrid" for
 * "Madrid, Comunidad de", "Catalunya" or "Cataluña" for "Catalunya
 * [Cataluña]").  Within a country, top-level subdivisions win over
 * lower ones of the same name.
 */
#ifndef ISO3166_H
#define ISO3166_H
#include <stddef.h>

/* The alpha-2 code of an ISO 3166-1 name, short, official or common. */
const char	*iso3166_country_code(const char *, size_t);

/*
 * The subdivision named s[0..len) in the country of alpha-2 code cc:
 * 1 with *sub filled, or 0.  Codes are the subdivision part of the
 * ISO 3166-2 code ("CA" of "US-CA"), which is what MaxMind's subdivision
 * iso_code, and so PostHog's $geoip_subdivision_N_code, holds.  parent
 * and parent_name (its ISO name without bracketed alternatives) are set
 * when ISO places the subdivision under another ("HRT", Hertfordshire,
 * under "ENG", England), else NULL.  The strings are static.
 */
struct iso3166_sub {
	const char	*code, *parent, *parent_name;
};
int		 iso3166_subdivision(const char *cc, const char *, size_t,
		    struct iso3166_sub *);

#endif
