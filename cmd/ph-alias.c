/*
 * ph-alias: pass PostHog events through unchanged and put, just before
 * the first event that shows a (device, user) pair, one identity event
 * that makes PostHog merge the device's anonymous person into the
 * user's: $identify (or, with --mode alias, $create_alias).  Each pair
 * once.  A journal tells which identity events were delivered in an
 * earlier run: they are written all the same (ph-batch skips them by
 * uuid, and ph-verify after it must see every event the migration
 * sent), and a delivered pair keeps its claim on its device.
 *
 * Memory holds 16-byte keys, never the ids: one for each distinct pair
 * (the identity event's uuid), one for each device with a usable pair,
 * one for each shared device; and the line at hand, at most MAX_LINE: a
 * longer one cannot be passed on without holding it, so it is refused.
 */

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "distinct.h"
#include "journal.h"
#include "json.h"
#include "jsonw.h"
#include "lines.h"
#include "outfile.h"
#include "phevent.h"
#include "settle.h"
#include "rejects.h"
#include "stage.h"
#include "uuid.h"
#include "uuidset.h"
#include "xalloc.h"

#define WARN_LIMIT	10		/* lines named on stderr, then a count */
#define FLUSH_AT	(1 << 20)
#define CACHE_SLOTS	4096		/* recently seen pairs, by their ids */
#define CACHE_IDS	120		/* longer id pairs are not cached */
/* As ph-batch's: a longer line is no event it would send anyway. */
#define MAX_LINE	(16 * 1024 * 1024)

enum mode { MODE_IDENTIFY, MODE_ALIAS };
enum shared { SHARED_FIRST, SHARED_ALL, SHARED_NONE };

static const char *const mode_names[] = { "identify", "alias", NULL };
static const char *const shared_names[] = { "first", "all", "none", NULL };

struct stats {
	uint64_t	lines, events, notevents, toolong;
	uint64_t	pairs, written, journal, shared, unmergeable, given;
};

/* A held-back identity event in the spool (--shared-device none). */
struct held {
	unsigned char	device[16];	/* device key */
	unsigned char	uuid[16];	/* the event's uuid, for the journal */
	uint32_t	len;		/* bytes of the line that follows */
};

/*
 * A pair seen lately, by its ids: most events repeat a recent pair, and
 * a hit there spares the SHA-1 of the pair's key.
 */
struct cached {
	uint32_t	dn, un;		/* 0, 0: empty */
	char		ids[CACHE_IDS];
};

static enum mode	 mode = MODE_IDENTIFY;
static enum shared	 shared = SHARED_FIRST;
static int		 quietflag;
static const char	*journal_path;
static struct journal	*jdb;
static struct json_parser *parser;
static struct uuidset	 pairs, devices, shareddevs;
static struct buf	 out, name, line;
static struct stats	 st;
static FILE		*spool;
static FILE		*marks;		/* member markers held back */
static int		 nl_owed;	/* last line written had no newline */
static struct cached	*cache;

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: ph-alias [-q] [-j journal] [--mode identify | alias]\n"
	    "                [--shared-device first | all | none] "
	    "[file ...]\n");
	exit(status);
}

static int
choice(const char *opt, const char *arg, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(arg, names[i]) == 0)
			return i;
	warnx("--%s: unknown value: %s", opt, arg);
	usage(stderr, EXIT_USAGE);
	return -1;
}

static void
flush_out(int force)
{
	if (out.len >= FLUSH_AT || (force && out.len > 0)) {
		outfile_write(stdout, out.p, out.len, "stdout");
		out.len = 0;
	}
}

/* A run-time failure: what was written so far is passed on first. */
static void __attribute__((noreturn))
fatal(const char *fmt, const char *msg)
{
	flush_out(1);
	fflush(stdout);
	errx(EXIT_RUNTIME, fmt, msg);
}

static void
owe_nl(void)
{
	if (nl_owed) {
		buf_addc(&out, '\n');
		nl_owed = 0;
	}
}

/* An id as text: a non-empty string, or a number's source text. */
static int
id_text(const struct jval *v, const char **s, size_t *n)
{
	if (v == NULL || (v->type != J_STR && v->type != J_NUM) || v->n == 0)
		return 0;
	*s = v->u.s;
	*n = v->n;
	return 1;
}

/* The cache slot of a pair; NULL if its ids are too long to keep. */
static struct cached *
cache_slot(const char *dev, size_t dn, const char *user, size_t un)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */
	size_t i;

	if (dn + un > CACHE_IDS)
		return NULL;
	for (i = 0; i < dn; i++)
		h = (h ^ (unsigned char)dev[i]) * 1099511628211ULL;
	h = (h ^ 0x1f) * 1099511628211ULL;
	for (i = 0; i < un; i++)
		h = (h ^ (unsigned char)user[i]) * 1099511628211ULL;
	return &cache[(h ^ h >> 32) & (CACHE_SLOTS - 1)];
}

static int
cache_hit(const struct cached *c, const char *dev, size_t dn,
    const char *user, size_t un)
{
	return c != NULL && c->dn == dn && c->un == un &&
	    memcmp(c->ids, dev, dn) == 0 && memcmp(c->ids + dn, user, un) == 0;
}

/*
 * The identity event's uuid: v5 of the mode, the device id's length and
 * both ids, so no two (device, user) pairs can give the same name.
 */
static void
pair_uuid(const char *dev, size_t dn, const char *user, size_t un,
    char *uuid, unsigned char key[16])
{
	char num[24];
	size_t i = sizeof(num), n = dn;

	do
		num[--i] = '0' + n % 10;
	while ((n /= 10) > 0);
	name.len = 0;
	buf_adds(&name, mode == MODE_ALIAS ? "ph-alias\x1f$create_alias\x1f" :
	    "ph-alias\x1f$identify\x1f");
	buf_add(&name, num + i, sizeof(num) - i);
	buf_addc(&name, ':');
	buf_add(&name, dev, dn);
	buf_add(&name, user, un);
	uuid_v5(name.p, name.len, uuid);
	if (uuid_bytes(uuid, UUID_STRLEN, key) == -1)
		abort();
}

static void
device_key(const char *dev, size_t dn, unsigned char key[16])
{
	phevent_id_key(dev, dn, key);
}

/* The identity event, one line with its newline, into b. */
static void
identity_event(struct buf *b, const char *dev, size_t dn, const char *user,
    size_t un, const struct jval *ts, const char *uuid)
{
	const char *did = mode == MODE_ALIAS ? dev : user;
	size_t didn = mode == MODE_ALIAS ? dn : un;

	buf_adds(b, mode == MODE_ALIAS ? "{\"event\":\"$create_alias\"" :
	    "{\"event\":\"$identify\"");
	buf_adds(b, ",\"distinct_id\":");
	jsonw_str(b, did, didn);
	if (ts != NULL && ts->type != J_NULL) {
		buf_adds(b, ",\"timestamp\":");
		json_write(b, ts);
	}
	buf_adds(b, ",\"uuid\":\"");
	buf_add(b, uuid, UUID_STRLEN);
	buf_adds(b, "\",\"properties\":{");
	if (mode == MODE_ALIAS) {
		buf_adds(b, "\"distinct_id\":");
		jsonw_str(b, dev, dn);
		buf_adds(b, ",\"alias\":");
		jsonw_str(b, user, un);
	} else {
		buf_adds(b, "\"$anon_distinct_id\":");
		jsonw_str(b, dev, dn);
	}
	buf_adds(b, ",\"$lib\":\"" PHEVENT_LIB "\",\"$lib_version\":\""
	    AMP2PH_VERSION "\",\"$geoip_disable\":true}}\n");
}

/* 1 if the journal says this uuid was delivered. */
static int
delivered(const unsigned char key[16])
{
	int r;

	if (jdb == NULL)
		return 0;
	if ((r = journal_has(jdb, key)) == -1)
		fatal("%s", journal_error(jdb));
	return r;
}

/*
 * 1 if the journal says another user claimed the device in an earlier
 * run: the pair that did may be in a member amp-unpack -j skipped, so
 * this run would not see it first.  (With --shared-device all every
 * pair gets its event anyway.)
 */
static int
claimed_by_other(const unsigned char dkey[16], const char *user, size_t un)
{
	unsigned char was[16], ukey[16];
	int r;

	if (jdb == NULL || shared == SHARED_ALL)
		return 0;
	if ((r = journal_claimed(jdb, dkey, was)) == -1)
		fatal("%s", journal_error(jdb));
	if (r == 0)
		return 0;
	phevent_id_key(user, un, ukey);
	return memcmp(was, ukey, 16) != 0;
}

/*
 * A member's marker (settle.h).  Under --shared-device none the identity
 * events of a member come after all the input, so its marker waits for
 * them: a member is settled only once they are delivered too.
 */
static void
marker(const char *p, size_t len)
{
	if (shared == SHARED_NONE && settle_is(p, len) == SETTLE_MEMBER) {
		if (marks == NULL && (marks = spool_file()) == NULL)
			fatal("cannot make a spool file: %s", strerror(errno));
		if (fwrite(p, 1, len, marks) != len || putc('\n', marks) == EOF)
			fatal("spool: %s", strerror(errno));
		return;
	}
	owe_nl();
	buf_add(&out, p, len);
	buf_addc(&out, '\n');
	flush_out(0);
}

static void
release_marks(void)
{
	char chunk[65536];
	size_t n;

	if (marks == NULL)
		return;
	if (fflush(marks) == EOF || fseek(marks, 0, SEEK_SET) == -1)
		fatal("spool: %s", strerror(errno));
	owe_nl();
	while ((n = fread(chunk, 1, sizeof(chunk), marks)) > 0) {
		buf_add(&out, chunk, n);
		flush_out(0);
	}
	if (ferror(marks))
		fatal("spool: %s", "read error");
	fclose(marks);
	marks = NULL;
}

static void
spool_start(void)
{
	if ((spool = spool_file()) == NULL)
		fatal("cannot make a spool file: %s", strerror(errno));
}

/* --shared-device none: keep the event until the device is known. */
static void
hold(const unsigned char dkey[16], const unsigned char pkey[16],
    const char *dev, size_t dn, const char *user, size_t un,
    const struct jval *ts, const char *uuid)
{
	struct held h;

	if (spool == NULL)
		spool_start();
	line.len = 0;
	identity_event(&line, dev, dn, user, un, ts, uuid);
	memcpy(h.device, dkey, 16);
	memcpy(h.uuid, pkey, 16);
	h.len = line.len;
	if (fwrite(&h, sizeof(h), 1, spool) != 1 ||
	    fwrite(line.p, 1, line.len, spool) != line.len)
		fatal("spool: %s", strerror(errno));
}

/* The held-back events of devices that stayed with one user. */
static void
release(void)
{
	struct held h;

	if (spool == NULL)
		return;
	if (fflush(spool) == EOF || fseek(spool, 0, SEEK_SET) == -1)
		fatal("spool: %s", strerror(errno));
	while (fread(&h, sizeof(h), 1, spool) == 1) {
		line.len = 0;
		buf_grow(&line, h.len);
		if (fread(line.p, 1, h.len, spool) != h.len)
			fatal("spool: %s", "short read");
		if (uuidset_has(&shareddevs, h.device)) {
			st.shared++;
			continue;
		}
		/*
		 * Written even when delivered: ph-verify after us must see
		 * every event the migration sent, and ph-batch skips it.
		 */
		if (delivered(h.uuid))
			st.journal++;
		owe_nl();
		buf_add(&out, line.p, h.len);
		st.written++;
		flush_out(0);
	}
	if (ferror(spool))
		fatal("spool: %s", "read error");
	fclose(spool);
	spool = NULL;
}

/*
 * A (device, user) pair shown by an event (given = 0), or by an identity
 * event already in the input (given = 1).  Decides, the first time the
 * pair is seen, whether an identity event goes out before this line.
 */
static void
pair(const char *dev, size_t dn, const char *user, size_t un,
    const struct jval *ts, int given)
{
	unsigned char pkey[16], dkey[16];
	char uuid[UUID_STRLEN + 1];
	struct cached *c = cache_slot(dev, dn, user, un);

	if (cache_hit(c, dev, dn, user, un))
		return;
	if (c != NULL) {
		c->dn = dn;
		c->un = un;
		memcpy(c->ids, dev, dn);
		memcpy(c->ids + dn, user, un);
	}
	pair_uuid(dev, dn, user, un, uuid, pkey);
	if (!uuidset_add(&pairs, pkey))
		return;
	st.pairs++;
	if (!distinct_id_mergeable(dev, dn) ||
	    !distinct_id_mergeable(user, un)) {
		st.unmergeable++;
		return;
	}
	device_key(dev, dn, dkey);
	if (!uuidset_add(&devices, dkey) || claimed_by_other(dkey, user, un)) {
		/*
		 * A later user of a device already seen with another, in
		 * this run or in the journal's record of earlier ones.
		 */
		uuidset_add(&shareddevs, dkey);
		if (given) {
			st.given++;
			return;
		}
		if (shared != SHARED_ALL) {
			st.shared++;
			return;
		}
	} else if (given) {
		st.given++;
		return;
	} else if (shared == SHARED_NONE) {
		hold(dkey, pkey, dev, dn, user, un, ts, uuid);
		return;
	}
	if (delivered(pkey))
		st.journal++;		/* written all the same: see release() */
	owe_nl();
	identity_event(&out, dev, dn, user, un, ts, uuid);
	st.written++;
}

static void
not_event(const char *file, uint64_t lineno, const char *why)
{
	/* Passed on, not kept: only told, so a rejects with no file. */
	static struct rejects told;

	st.notevents++;
	if (quietflag || why == NULL)
		return;
	rejects_warn(&told, WARN_LIMIT, "lines that are not events", file,
	    lineno, "%s; passed on", why);
}

static int
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* Look at one event for pairs. */
static void
event(const struct jval *root, const char *user, size_t un)
{
	const struct jval *ev = json_get(root, "event");
	const struct jval *props = json_get(root, "properties");
	const struct jval *ts = json_get(root, "timestamp");
	const struct jval *v;
	const char *id;
	size_t n;

	if (props == NULL || props->type != J_OBJ)
		return;
	/* Identity events already there: theirs is the pair's event. */
	if (json_is_str(ev, "$identify") &&
	    id_text(json_get(props, "$anon_distinct_id"), &id, &n) &&
	    (n != un || memcmp(id, user, n) != 0))
		pair(id, n, user, un, ts, 1);
	/* distinct_id is not a user here: the anon id, or a group's. */
	if (json_is_str(ev, "$create_alias")) {
		if (id_text(json_get(props, "alias"), &id, &n) &&
		    (n != un || memcmp(id, user, n) != 0))
			pair(user, un, id, n, ts, 1);
		return;
	}
	if (json_is_str(ev, "$groupidentify"))
		return;
	v = json_get(props, "$device_id");
	if (v == NULL || v->type != J_STR || v->n == 0)
		return;
	if (v->n == un && memcmp(v->u.s, user, un) == 0)
		return;
	pair(v->u.s, v->n, user, un, ts, 0);
}

static void
do_line(const char *file, uint64_t lineno, const char *p, size_t len,
    int nl)
{
	char err[256];
	const struct jval *root;
	const char *user;
	size_t un;

	if (settle_is(p, len)) {
		marker(p, len);
		return;
	}
	st.lines++;
	if (blank(p, len))
		not_event(file, lineno, NULL);
	else if ((root = json_parse(parser, p, len, err, sizeof(err))) ==
	    NULL)
		not_event(file, lineno, err);
	else if (root->type != J_OBJ)
		not_event(file, lineno, "not a JSON object");
	else if (!id_text(json_get(root, "distinct_id"), &user, &un))
		not_event(file, lineno, "no distinct_id");
	else {
		st.events++;
		event(root, user, un);
	}
	owe_nl();
	if (len > 0)
		buf_add(&out, p, len);
	if (nl)
		buf_addc(&out, '\n');
	else
		nl_owed = 1;
	flush_out(0);
}

static int
do_file(const char *path)
{
	/* Told even with -q: the line is lost from the output. */
	static struct rejects told;
	const char *fname = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct lines l;
	const char *p;
	size_t len;
	int r;

	if (lines_open(&l, path, MAX_LINE, 0) == -1) {
		warn("%s", path);
		return -1;
	}
	while ((r = lines_next(&l, &p, &len)) != LINE_EOF) {
		if (r == LINE_TOOLONG) {
			st.lines++;
			st.toolong++;
			rejects_warn(&told, WARN_LIMIT, "over-long lines",
			    fname, l.lineno, "line of %zu bytes is longer "
			    "than %d MiB: not written", len, MAX_LINE >> 20);
			continue;
		}
		if (r != LINE_OK) {
			warnx("%s: read error: %s", fname, l.errmsg);
			r = LINE_ERROR;
			break;
		}
		if (l.lineno == 1) {
			const char *why = stage_first(SK_POSTHOG, fname, &p,
			    &len, 1);

			if (why != NULL) {
				flush_out(1);
				errx(EXIT_DATAERR, "%s: %s", fname, why);
			}
		}
		/* Only a last line without its newline ends at the end. */
		do_line(fname, l.lineno, p, len, !l.nonl);
	}
	lines_close(&l);
	return r == LINE_ERROR ? -1 : 0;
}

/*
 * ph-alias only reads the journal, so an existing one is opened
 * read-only and may be on read-only media; a missing one is created,
 * which lets the first run of the pipeline work (ph-batch fills it).
 */
static struct journal *
open_journal(const char *path)
{
	struct journal *j;
	char err[512];

	if ((j = journal_open_reader(path, 1, err, sizeof(err))) == NULL)
		errx(EXIT_RUNTIME, "journal %s", err);
	return j;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",		no_argument,		NULL, 'h' },
		{ "journal",		required_argument,	NULL, 'j' },
		{ "mode",		required_argument,	NULL, 'm' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "shared-device",	required_argument,	NULL, 'S' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 }
	};
	int ch, failed = 0;

	while ((ch = getopt_long(argc, argv, "hj:q", longopts, NULL)) != -1) {
		cli_once(longopts, ch, "jmS", NULL);
		switch (ch) {
		case 'j':
			journal_path = optarg;
			break;
		case 'm':
			mode = choice("mode", optarg, mode_names);
			break;
		case 'q':
			quietflag = 1;
			break;
		case 'S':
			shared = choice("shared-device", optarg, shared_names);
			break;
		case 'V':
			cli_version("ph-alias");
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	pipe_grow(STDIN_FILENO);
	pipe_grow(STDOUT_FILENO);

	if (journal_path != NULL)
		jdb = open_journal(journal_path);
	parser = json_parser_new();
	uuidset_init(&pairs);
	uuidset_init(&devices);
	uuidset_init(&shareddevs);
	cache = xcalloc(CACHE_SLOTS, sizeof(*cache));

	if (argc == 0)
		failed |= do_file("-") == -1;
	for (int i = 0; i < argc; i++)
		failed |= do_file(argv[i]) == -1;
	if (failed && spool != NULL) {
		warnx("input incomplete: identity events held back for "
		    "--shared-device none not written");
		fclose(spool);
	} else {
		release();
		release_marks();
	}
	flush_out(1);

	if (st.toolong > 0)
		warnx("%llu over-long lines not written",
		    (unsigned long long)st.toolong);
	if (!quietflag)
		fprintf(stderr, "ph-alias: %llu lines: %llu events, %llu not "
		    "events (passed on); %llu pairs: %llu identity events "
		    "written, of which %llu already delivered (journal); "
		    "skipped: %llu shared device, %llu unmergeable id, %llu "
		    "already in input; shared devices: %llu\n",
		    (unsigned long long)st.lines,
		    (unsigned long long)st.events,
		    (unsigned long long)st.notevents,
		    (unsigned long long)st.pairs,
		    (unsigned long long)st.written,
		    (unsigned long long)st.journal,
		    (unsigned long long)st.shared,
		    (unsigned long long)st.unmergeable,
		    (unsigned long long)st.given,
		    (unsigned long long)uuidset_count(&shareddevs));
	journal_close(jdb);
	json_parser_free(parser);
	uuidset_free(&pairs);
	uuidset_free(&devices);
	uuidset_free(&shareddevs);
	free(cache);
	buf_free(&out);
	buf_free(&name);
	buf_free(&line);
	if (outfile_close(stdout, "stdout") == -1 || failed)
		return EXIT_RUNTIME;
	return st.toolong > 0 ? EXIT_DATAERR : 0;
}
