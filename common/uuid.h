/*
 * uuid: UUID text checks and the deterministic UUIDs that make re-runs
 * exactly-once: name-based v5 (libuuid's SHA-1, under amp2ph's own
 * namespace) and v7 with a chosen time and hashed random bits (what
 * PostHog's sessions table requires of $session_id).
 */
#ifndef UUID_H
#define UUID_H
#include <stddef.h>
#include <stdint.h>

#define UUID_STRLEN	36

/* Namespace of amp2ph's v5 UUIDs: the same input gives the same UUID. */
#define AMP2PH_UUID_NS	"8c3e53a1-3f4b-4b9e-9a52-6d0f6c1e2a77"

/*
 * Canonical lowercase 8-4-4-4-12 form of s into out (37 bytes) if s is a
 * UUID as PostHog's capture accepts it (hyphenated, 32 hex digits,
 * braced, or urn:uuid:); -1 otherwise.
 */
int	uuid_canon(const char *s, size_t n, char *out);
int	uuid_bytes(const char *s, size_t n, unsigned char out[16]);
void	uuid_format(const unsigned char in[16], char *out);
/* v5 of name under AMP2PH_UUID_NS into out (37 bytes). */
void	uuid_v5(const void *name, size_t n, char *out);
/* v7 whose time is ms, other bits from a v5 hash of seed. */
void	uuid_v7_at(uint64_t ms, const void *seed, size_t n, char *out);

#endif
