/*
 * json: parse one JSON text (an NDJSON line) into a read-only tree.
 * Strict RFC 8259 text is parsed by json.c itself, anything else by
 * YAJL, whose verdicts and messages hold for all text.  The tree lives in
 * an arena that is reset for every line, so parsing allocates nothing in
 * the steady state.  Numbers keep their source text, so big integers and
 * long decimals pass through exactly as written.
 */
#ifndef JSON_H
#define JSON_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype	 type;
	uint32_t	 n;	/* bytes of s; or children (objects: pairs) */
	union {
		const char	*s;	/* J_STR (unescaped), J_NUM (source) */
					/* NUL-terminated unless borrowed */
		struct jval	*kids;	/* J_ARR: n values; J_OBJ: 2n, k,v */
	} u;
};

struct json_parser;

struct json_parser *json_parser_new(void);
void		 json_parser_free(struct json_parser *);
/*
 * Let strings point into the parsed text when they have no escapes,
 * saving a copy: the text must then outlive the tree, and J_STR values
 * are not NUL-terminated (use the length, never str*(3)).
 */
void		 json_parser_borrow(struct json_parser *);
/*
 * Parse len bytes.  Returns the root, or NULL with a message of at most
 * errlen bytes in err.  The tree is valid until the next parse.
 */
struct jval	*json_parse(struct json_parser *, const char *, size_t,
		    char *err, size_t errlen);

/* Object members: key i is kids[2i], value kids[2i+1]. */
#define JKEY(o, i)	(&(o)->u.kids[2 * (i)])
#define JVAL(o, i)	(&(o)->u.kids[2 * (i) + 1])

/*
 * Object member by key of n bytes, or NULL.  Last one wins for duplicate
 * keys.
 */
struct jval	*json_getn(const struct jval *, const char *key, size_t n);

/*
 * The lookups and comparisons below are inline (C99 inline: json.c has
 * the external definitions) because converting an event makes hundreds
 * of them, nearly all with literal keys whose length the compiler knows.
 */

/* json_getn of a NUL-terminated key. */
inline struct jval *
json_get(const struct jval *o, const char *key)
{
	return json_getn(o, key, strlen(key));
}

inline int
json_is_strn(const struct jval *v, const char *s, size_t n)
{
	return v != NULL && v->type == J_STR && v->n == n &&
	    memcmp(v->u.s, s, n) == 0;
}

inline int
json_is_str(const struct jval *v, const char *s)
{
	/* The first byte rules out most candidates before any strlen. */
	return v != NULL && v->type == J_STR && v->n > 0 &&
	    v->u.s[0] == s[0] && v->n == strlen(s) &&
	    memcmp(v->u.s, s, v->n) == 0;
}

/* json_is_str for a string literal: its length is known at compile time. */
#define json_is_lit(v, lit)	json_is_strn((v), "" lit, sizeof(lit) - 1)
/*
 * 0 if a number anywhere in v overflows a double (1e999): readers that
 * parse numbers as doubles (serde_json, JavaScript) refuse or change
 * it.  Only numbers with an exponent or over 300 digits are looked at.
 */
int		 json_numbers_finite(const struct jval *);
/* Write v as compact JSON text. */
void		 json_write(struct buf *, const struct jval *);

#endif
