/*
 * iso3166: ISO 3166 names to codes from Debian's iso-codes JSON files.
 *
 * Both files are read once, on the first lookup, into one open-addressing
 * hash table of folded names: "\x01" + name for countries, the alpha-2
 * code + name for subdivisions.  A lookup folds the name into a stack
 * buffer and probes; nothing is allocated after loading.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "iso3166.h"
#include "json.h"
#include "xalloc.h"

#define ISO_DIR		"/usr/share/iso-codes/json"
#define MAXKEY		256

#define NONE		UINT32_MAX

struct entry {
	uint64_t	 hash;		/* 0: empty slot */
	uint32_t	 key, code;	/* offsets into pool */
	uint32_t	 parent, pname;	/* the parent's code and name, or NONE */
	uint16_t	 keylen;
	uint8_t		 rank;		/* lower wins on a shared name */
};

static struct entry	*tab;
static size_t		 tabmask;	/* capacity - 1 */
static struct buf	 pool;
static int		 loaded, warned;

/*
 * Base letters of U+00C0..U+017F ('.' for none: the character is
 * dropped, like punctuation).
 */
static const char latin[] =
    "aaaaaaaceeeeiiiidnooooo.ouuuuyts"		/* U+00C0 */
    "aaaaaaaceeeeiiiidnooooo.ouuuuyty"		/* U+00E0 */
    "aaaaaaccccccccddddeeeeeeeeeegggg"		/* U+0100 */
    "gggghhhhiiiiiiiiiiiijjkkklllllll"		/* U+0120 */
    "lllnnnnnnnnnoooooooorrrrrrssssss"		/* U+0140 */
    "ssttttttuuuuuuuuuuuuwwyyyzzzzzzs";		/* U+0160 */

/*
 * Fold s[0..n) into out (MAXKEY bytes): ASCII letters to lower case,
 * accented Latin letters to their base letter, ASCII digits kept, other
 * ASCII, general punctuation (U+2000..U+206F) and combining marks
 * (U+0300..U+036F) dropped, every other character kept as it is.
 * Returns the length, or 0 when nothing is left or it is too long.
 */
static size_t
fold(const char *s, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)s, *e = u + n;
	size_t o = 0;

	while (u < e) {
		unsigned c = *u;
		if (c < 0x80) {
			u++;
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' &&
			    c <= '9')))
				continue;
			if (o == MAXKEY)
				return 0;
			out[o++] = c;
			continue;
		}
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if ((size_t)(e - u) < len)
			len = e - u;
		unsigned cp = len == 2 ? (c & 0x1f) << 6 | (u[1] & 0x3f) :
		    len == 3 ? (c & 0x0f) << 12 | (u[1] & 0x3f) << 6 |
		    (u[2] & 0x3f) : 0;
		if (cp >= 0xc0 && cp <= 0x17f) {
			u += len;
			if (latin[cp - 0xc0] == '.')
				continue;
			if (o == MAXKEY)
				return 0;
			out[o++] = latin[cp - 0xc0];
			continue;
		}
		if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x2000 &&
		    cp <= 0x206f)) {
			u += len;
			continue;
		}
		if (o + len > MAXKEY)
			return 0;
		memcpy(out + o, u, len);
		o += len;
		u += len;
	}
	return o;
}

/* FNV-1a, 64 bits; never 0 (0 marks an empty slot). */
static uint64_t
hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

/* The slot of key, or the empty slot where it would go. */
static struct entry *
slot(const char *key, size_t n, uint64_t h)
{
	for (size_t i = h & tabmask;; i = (i + 1) & tabmask) {
		struct entry *e = &tab[i];
		if (e->hash == 0 || (e->hash == h && e->keylen == n &&
		    memcmp(pool.p + e->key, key, n) == 0))
			return e;
	}
}

static size_t	nentries;

static void
grow(void)
{
	struct entry *old = tab;
	size_t oldcap = tab ? tabmask + 1 : 0, cap = oldcap ? oldcap * 2 :
	    16384;

	tab = xcalloc(cap, sizeof(*tab));
	tabmask = cap - 1;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].hash != 0) {
			struct entry *e = slot(pool.p + old[i].key,
			    old[i].keylen, old[i].hash);
			*e = old[i];
		}
	free(old);
}

static uint32_t
pool_str(const char *s, size_t n)
{
	uint32_t off = pool.len;

	buf_add(&pool, s, n);
	buf_addc(&pool, '\0');
	return off;
}

/*
 * Add prefix (plen bytes) + name, folded unless raw, -> code (and the
 * parent's code and name offsets), unless a better rank has it.
 */
static void
add(const char *prefix, size_t plen, const char *name, size_t n, int raw,
    const char *code, size_t codelen, int rank, uint32_t parent,
    uint32_t pname)
{
	char key[MAXKEY + 8];
	size_t kl;

	if (raw) {
		if (n == 0 || n > MAXKEY)
			return;
		memcpy(key + plen, name, n);
		kl = n;
	} else if ((kl = fold(name, n, key + plen)) == 0)
		return;
	memcpy(key, prefix, plen);
	kl += plen;
	if ((nentries + 1) * 2 > (tab ? tabmask + 1 : 0))
		grow();
	uint64_t h = hash(key, kl);
	struct entry *e = slot(key, kl, h);
	if (e->hash != 0) {
		if (e->rank <= rank)
			return;
	} else
		nentries++;
	e->hash = h;
	e->keylen = kl;
	e->key = pool.len;
	buf_add(&pool, key, kl);
	e->code = pool_str(code, codelen);
	e->parent = parent;
	e->pname = pname;
	e->rank = rank;
}

/* The entry of a key as it is (not folded), or NULL. */
static const struct entry *
find_raw(const char *prefix, size_t plen, const char *s, size_t n)
{
	char key[MAXKEY + 8];

	if (n == 0 || n > MAXKEY)
		return NULL;
	memcpy(key, prefix, plen);
	memcpy(key + plen, s, n);
	struct entry *e = slot(key, plen + n, hash(key, plen + n));
	return e->hash != 0 ? e : NULL;
}

/* An ISO name without its bracketed alternatives: "Wales [Cymru GB-CYM]". */
static size_t
plain_len(const char *s, size_t n)
{
	const char *br = memchr(s, '[', n);

	if (br == NULL)
		return n;
	while (br > s && br[-1] == ' ')
		br--;
	return br - s;
}

static char *
slurp(const char *path, size_t *len)
{
	struct buf b = { 0 };
	char chunk[65536];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(fp)) {
		fclose(fp);
		buf_free(&b);
		return NULL;
	}
	fclose(fp);
	*len = b.len;
	buf_addc(&b, '\0');
	return b.p;
}

/* The list under key of the file dir/name, parsed; NULL after a warning. */
static const struct jval *
load_list(struct json_parser *jp, char **text, const char *dir,
    const char *name, const char *key)
{
	char path[4096], err[256];
	size_t len = 0;
	const struct jval *root, *list;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* One warning in all: a missing directory would give two. */
	if ((*text = slurp(path, &len)) == NULL) {
		if (!warned++)
			warn("%s (package iso-codes); ISO 3166 codes from it "
			    "are not written", path);
		return NULL;
	}
	if ((root = json_parse(jp, *text, len, err, sizeof(err))) == NULL ||
	    (list = json_get(root, key)) == NULL || list->type != J_ARR) {
		if (!warned++)
			warnx("%s: %s; ISO 3166 codes from it are not written",
			    path, root == NULL ? err : "not an iso-codes file");
		return NULL;
	}
	return list;
}

static void
load(void)
{
	const char *dir = getenv("AMP2PH_ISO_CODES");
	struct json_parser *jp;
	const struct jval *list;
	char *text;

	loaded = 1;
	if (dir == NULL || *dir == '\0')
		dir = ISO_DIR;
	grow();
	jp = json_parser_new();
	if ((list = load_list(jp, &text, dir, "iso_3166-1.json", "3166-1")) !=
	    NULL)
		for (uint32_t i = 0; i < list->n; i++) {
			const struct jval *c = &list->u.kids[i];
			const struct jval *a2 = json_get(c, "alpha_2");
			static const char *const names[] = { "name",
			    "common_name", "official_name" };
			if (a2 == NULL || a2->type != J_STR || a2->n != 2)
				continue;
			for (int k = 0; k < 3; k++) {
				const struct jval *v = json_get(c, names[k]);
				if (v != NULL && v->type == J_STR)
					add("\x01", 1, v->u.s, v->n, 0,
					    a2->u.s, 2, k, NONE, NONE);
			}
		}
	free(text);
	list = load_list(jp, &text, dir, "iso_3166-2.json", "3166-2");
	/* First every code to its plain name ("\x02" + "GB-ENG"). */
	for (uint32_t i = 0; list != NULL && i < list->n; i++) {
		const struct jval *c = &list->u.kids[i];
		const struct jval *code = json_get(c, "code");
		const struct jval *name = json_get(c, "name");
		if (code == NULL || code->type != J_STR || name == NULL ||
		    name->type != J_STR)
			continue;
		add("\x02", 1, code->u.s, code->n, 1, name->u.s,
		    plain_len(name->u.s, name->n), 0, NONE, NONE);
	}
	for (uint32_t i = 0; list != NULL && i < list->n; i++) {
		const struct jval *c = &list->u.kids[i];
		const struct jval *code = json_get(c, "code");
		const struct jval *name = json_get(c, "name");
		const struct jval *par = json_get(c, "parent");
		const struct entry *pe;
		const char *s, *br, *comma, *cs;
		uint32_t parent = NONE, pname = NONE;
		size_t cn;
		if (code == NULL || code->type != J_STR || code->n < 4 ||
		    code->u.s[2] != '-' || name == NULL ||
		    name->type != J_STR)
			continue;
		cs = code->u.s + 3;
		cn = code->n - 3;
		int rank = 0;
		/* The parent: "GB-ENG", or only "CT" (for "ES-CT"). */
		if (par != NULL && par->type == J_STR && par->n > 0 &&
		    par->n < 16) {
			char full[20];
			size_t fn;
			if (par->n > 3 && par->u.s[2] == '-')
				fn = snprintf(full, sizeof(full), "%.*s",
				    (int)par->n, par->u.s);
			else
				fn = snprintf(full, sizeof(full), "%.2s-%.*s",
				    code->u.s, (int)par->n, par->u.s);
			rank = 2;
			parent = pool_str(full + 3, fn - 3);
			if ((pe = find_raw("\x02", 1, full, fn)) != NULL)
				pname = pe->code;
		}
		s = name->u.s;
		add(code->u.s, 2, s, name->n, 0, cs, cn, rank, parent, pname);
		/* "Catalunya [Cataluña]": each name on its own. */
		br = memchr(s, '[', name->n);
		if (br != NULL) {
			const char *close = memchr(br, ']', name->n - (br - s));
			add(code->u.s, 2, s, br - s, 0, cs, cn, rank + 1,
			    parent, pname);
			if (close != NULL)
				add(code->u.s, 2, br + 1, close - br - 1, 0, cs,
				    cn, rank + 1, parent, pname);
		}
		/* "Madrid, Comunidad de": Madrid. */
		comma = memchr(s, ',', br ? (size_t)(br - s) : name->n);
		if (comma != NULL)
			add(code->u.s, 2, s, comma - s, 0, cs, cn, rank + 1,
			    parent, pname);
	}
	free(text);
	json_parser_free(jp);
}

static const struct entry *
lookup(const char *prefix, size_t plen, const char *s, size_t n)
{
	char key[MAXKEY + 8];
	size_t kl;

	if (!loaded)
		load();
	if (s == NULL || n == 0 || nentries == 0 ||
	    (kl = fold(s, n, key + plen)) == 0)
		return NULL;
	memcpy(key, prefix, plen);
	kl += plen;
	struct entry *e = slot(key, kl, hash(key, kl));
	return e->hash != 0 ? e : NULL;
}

const char *
iso3166_country_code(const char *s, size_t n)
{
	const struct entry *e = lookup("\x01", 1, s, n);

	return e != NULL ? pool.p + e->code : NULL;
}

int
iso3166_subdivision(const char *cc, const char *s, size_t n,
    struct iso3166_sub *sub)
{
	const struct entry *e;

	memset(sub, 0, sizeof(*sub));
	if (cc == NULL || strlen(cc) != 2 || (e = lookup(cc, 2, s, n)) == NULL)
		return 0;
	sub->code = pool.p + e->code;
	if (e->parent != NONE) {
		sub->parent = pool.p + e->parent;
		sub->parent_name = e->pname != NONE ? pool.p + e->pname : NULL;
	}
	return 1;
}
