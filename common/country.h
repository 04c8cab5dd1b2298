/*
 * country: English country names as GeoIP databases write them, to
 * ISO 3166-1 alpha-2 codes.  Amplitude exports carry only the name
 * (MaxMind's, e.g. "United States"); PostHog's maps and sessions read
 * $geoip_country_code.  Current and past MaxMind GeoLite2/GeoIP2 names,
 * legacy GeoIP names and ISO short names are all known.
 */
#ifndef COUNTRY_H
#define COUNTRY_H
#include <stddef.h>

/*
 * The two-letter code ("US") for the name s[0..len), or NULL if the
 * name is unknown.  ASCII letters match without regard to case; every
 * other byte, UTF-8 included, must match exactly.  The string returned
 * is static.
 */
const char	*country_code(const char *, size_t);

#endif
