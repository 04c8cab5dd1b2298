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

/* Object member by key, or NULL.  Last one wins for duplicate keys. */
struct jval	*json_get(const struct jval *, const char *key);
/* Object members: key i is kids[2i], value kids[2i+1]. */
#define JKEY(o, i)	(&(o)->u.kids[2 * (i)])
#define JVAL(o, i)	(&(o)->u.kids[2 * (i) + 1])

int		 json_is_str(const struct jval *, const char *);
int		 json_is_strn(const struct jval *, const char *, size_t);
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
