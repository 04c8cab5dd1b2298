/*
 * settle: the marker line of a member and its journal key; see settle.h.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "xalloc.h"
#include "jsonw.h"
#include "settle.h"
#include "utf8.h"

int
settle_is(const char *p, size_t len)
{
	/* Both prefixes have the same length; an event starts otherwise. */
	if (len < sizeof(SETTLE_PREFIX) - 1 || p[0] != '{' || p[1] != '"' ||
	    p[2] != '$' || p[3] != 'a')
		return SETTLE_NONE;
	if (memcmp(p, SETTLE_PREFIX, sizeof(SETTLE_PREFIX) - 1) == 0)
		return SETTLE_MEMBER;
	if (memcmp(p, SETTLE_RESUME, sizeof(SETTLE_RESUME) - 1) == 0)
		return SETTLE_SKIPPED;
	return SETTLE_NONE;
}

/* The marker's text; with seq, the member's place too. */
static void
marker_text(struct buf *b, int kind, const struct settle_member *m,
    int seq)
{
	struct buf clean = { 0 };

	buf_adds(b, kind == SETTLE_SKIPPED ? SETTLE_RESUME : SETTLE_PREFIX);
	/* JSON is UTF-8; a member name need not be. */
	if (utf8_valid(m->name, m->namelen))
		jsonw_str(b, m->name, m->namelen);
	else {
		utf8_clean(&clean, m->name, m->namelen);
		jsonw_str(b, clean.p, clean.len);
		buf_free(&clean);
	}
	buf_printf(b, ",\"crc32\":\"%08" PRIx32 "\",\"compressed\":%" PRIu64
	    ",\"uncompressed\":%" PRIu64, m->crc, m->csize, m->usize);
	if (seq)
		buf_printf(b, ",\"seq\":%" PRIu64, m->seq);
	buf_adds(b, "}\n");
}

void
settle_line(struct buf *b, int kind, const struct settle_member *m)
{
	marker_text(b, kind, m, 1);
}

void
settle_at(struct buf *b, const char *key, uint64_t seq)
{
	buf_printf(b, "%s #%" PRIu64, key, seq);
	buf_addc(b, '\0');
	b->len--;
}

/*
 * The key is the marker's own text without its place, so that the name
 * the journal holds is the one amp-unpack wrote (a name that is not
 * UTF-8 cleaned the same way on both sides).
 */
void
settle_key(struct buf *b, const struct settle_member *m)
{
	marker_text(b, SETTLE_MEMBER, m, 0);
	b->len--;			/* the newline */
	buf_addc(b, '\0');
	b->len--;
}

int
settle_parse(const char *p, size_t len, struct buf *b, uint64_t *seq,
    const char **why)
{
	static struct json_parser *jp;
	char err[128];
	const struct jval *root, *name, *crc, *cs, *us, *sq;
	struct settle_member m;
	char *end;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (jp == NULL)
		jp = json_parser_new();
	if ((root = json_parse(jp, p, len, err, sizeof(err))) == NULL ||
	    root->type != J_OBJ) {
		*why = "a member marker that is not a JSON object";
		return -1;
	}
	if ((name = json_get(root, "$amp2ph_member")) == NULL)
		name = json_get(root, "$amp2ph_resume");
	crc = json_get(root, "crc32");
	cs = json_get(root, "compressed");
	us = json_get(root, "uncompressed");
	sq = json_get(root, "seq");
	if (name == NULL || name->type != J_STR || crc == NULL ||
	    crc->type != J_STR || crc->n != 8 || cs == NULL ||
	    cs->type != J_NUM || us == NULL || us->type != J_NUM ||
	    sq == NULL || sq->type != J_NUM) {
		*why = "a member marker without its name, crc32, sizes and "
		    "seq";
		return -1;
	}
	*seq = strtoull(sq->u.s, NULL, 10);
	m.name = name->u.s;
	m.namelen = name->n;
	m.crc = (uint32_t)strtoul(crc->u.s, &end, 16);
	if (end != crc->u.s + 8) {
		*why = "a member marker whose crc32 is not 8 hex digits";
		return -1;
	}
	m.csize = strtoull(cs->u.s, NULL, 10);
	m.usize = strtoull(us->u.s, NULL, 10);
	settle_key(b, &m);
	return 0;
}

char *
settle_state_path(const char *journal, uint64_t n)
{
	size_t len = strlen(journal) + sizeof("-convert.") + 20;
	char *p = xmalloc(len);

	snprintf(p, len, "%s-convert.%" PRIu64, journal, n);
	return p;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

size_t
settle_state_list(const char *journal, uint64_t **ns)
{
	const char *slash = strrchr(journal, '/');
	char *dir = slash == NULL ? xstrdup(".") :
	    xstrndup(journal, slash == journal ? 1 : (size_t)(slash - journal));
	const char *base = slash == NULL ? journal : slash + 1;
	size_t blen = strlen(base), n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*ns = NULL;
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		const char *t = de->d_name;
		char *end;
		uint64_t v;

		if (strncmp(t, base, blen) != 0 ||
		    strncmp(t + blen, "-convert.", 9) != 0)
			continue;
		t += blen + 9;
		if (*t < '0' || *t > '9')
			continue;
		v = strtoull(t, &end, 10);
		if (*end != '\0')
			continue;	/* a .tmp being written */
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			*ns = xrealloc(*ns, cap * sizeof(**ns));
		}
		(*ns)[n++] = v;
	}
	closedir(d);
	free(dir);
	if (n > 1)
		qsort(*ns, n, sizeof(**ns), cmp_u64);
	return n;
}

int
settle_state_at(const char *journal, uint64_t n, struct buf *key)
{
	char *path = settle_state_path(journal, n);
	FILE *fp = fopen(path, "r");
	int r = 0;

	if (fp != NULL) {
		r = settle_state_header(fp, key, NULL, NULL);
		fclose(fp);
	}
	free(path);
	return r;
}

/* One header line into b, without its newline: 0, or -1 at EOF. */
static int
header_line(FILE *fp, struct buf *b)
{
	int ch;

	b->len = 0;
	while ((ch = getc(fp)) != EOF && ch != '\n') {
		if (b->len > 64 * 1024)
			return -1;
		buf_addc(b, ch);
	}
	buf_addc(b, '\0');
	b->len--;
	return ch == EOF ? -1 : 0;
}

int
settle_state_header(FILE *fp, struct buf *key, struct buf *version,
    struct buf *fingerprint)
{
	struct buf l = { 0 };
	int ok;

	ok = header_line(fp, &l) == 0 && strcmp(l.p, SETTLE_STATE_MAGIC) ==
	    0 && header_line(fp, version ? version : &l) == 0 &&
	    header_line(fp, fingerprint ? fingerprint : &l) == 0 &&
	    header_line(fp, key) == 0;
	buf_free(&l);
	return ok;
}
