/*
 * state: -j, the sessions and persons tables saved beside the journal
 * after members, and loaded when amp-unpack -j skipped the members before
 * (settle.h); and the markers that say when.
 */
#include "convert.h"

const char	*journal_path;

struct buf	 optsig;
static struct buf	 member_key, member_at;

static uint64_t		 member_seq;

static char		 fprint[UUID_STRLEN + 1];

int		 at_member_end;	/* the last line was a marker */

static double		 last_save;

static uint64_t		 state_bytes;	/* the size of the last state */

uint64_t		 read_since;	/* input bytes since the last save */

static uint64_t		 state_next;	/* the number of the next state file */

struct journal	*state_jdb;	/* to ask what is settled */

/*
 * The options that change what is written: --drop, --keep, --rename,
 * --max-line, --pageleave, --shard (collected as they are parsed) and
 * the jq program's text.
 */
void
state_fingerprint(const char *program)
{
	if (program != NULL)
		buf_add(&optsig, program, strlen(program) + 1);
	uuid_v5(optsig.p != NULL ? optsig.p : "", optsig.len, fprint);
	fprint[UUID_STRLEN] = '\0';
}

static void
put(FILE *fp, const void *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, fp) != n)
		err(EXIT_RUNTIME, "%s-convert", journal_path);
}

static void __attribute__((noreturn))
damaged(const char *path)
{
	errx(EXIT_RUNTIME, "%s: cut short or damaged: remove it, and read "
	    "every member again (amp-unpack without -j)", path);
}

static void
get(FILE *fp, const char *path, void *p, size_t n)
{
	if (n > 0 && fread(p, 1, n, fp) != n)
		damaged(path);
}

/* A string of a slot, or NULL: its length, then its bytes. */
static void
put_str(FILE *fp, const void *p, uint32_t n)
{
	uint32_t m = p != NULL ? n : UINT32_MAX;

	put(fp, &m, sizeof(m));
	if (p != NULL)
		put(fp, p, n);
}

static void *
get_str(FILE *fp, const char *path)
{
	uint32_t m;
	char *p;

	get(fp, path, &m, sizeof(m));
	if (m == UINT32_MAX)
		return NULL;
	if (m > 64 * 1024 * 1024)
		damaged(path);
	p = xmalloc(m + 1);
	get(fp, path, p, m);
	p[m] = '\0';
	return p;
}

/* The member's key in a state's place (settle_at): the text before " #". */
static const char *
state_member(struct buf *at)
{
	char *h = strrchr(at->p, '#');

	if (h != NULL && h > at->p && h[-1] == ' ')
		h[-1] = '\0';
	return at->p;
}

/*
 * The states a re-run could start from: the newest whose member is
 * settled, and every newer one (their members may settle yet).  The
 * rest go, and beyond STATE_KEEP files the oldest of them too.
 */
static void
state_prune(void)
{
	struct buf key = { 0 };
	char err[512];
	uint64_t *ns;
	size_t n = settle_state_list(journal_path, &ns), keep = 0;

	/* None yet (ph-batch has not made it): nothing settled to keep. */
	if (state_jdb == NULL)
		state_jdb = journal_open_reader(journal_path, 0, err,
		    sizeof(err));
	for (size_t i = n; state_jdb != NULL && i-- > 0;) {
		key.len = 0;
		if (settle_state_at(journal_path, ns[i], &key) &&
		    journal_settled(state_jdb, state_member(&key)) == 1) {
			keep = i;
			break;
		}
	}
	if (n - keep > STATE_KEEP)
		keep = n - STATE_KEEP;
	for (size_t i = 0; i < keep; i++) {
		char *path = settle_state_path(journal_path, ns[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			warn("%s", path);
		free(path);
	}
	free(ns);
	buf_free(&key);
}

/* The state after the member of member_key, as the next state file. */
void
state_save(void)
{
	char *path;
	struct buf tp = { 0 };
	uint64_t n = 0;
	FILE *fp;
	int fd;

	if (state_next == 0) {
		uint64_t *ns;
		size_t k = settle_state_list(journal_path, &ns);
		state_next = k > 0 ? ns[k - 1] + 1 : 1;
		free(ns);
	}
	path = settle_state_path(journal_path, state_next++);
	buf_printf(&tp, "%s.tmp", path);
	buf_addc(&tp, '\0');
	if ((fd = open(tp.p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL)
		err(EXIT_RUNTIME, "%s", tp.p);
	member_at.len = 0;
	settle_at(&member_at, member_key.p, member_seq);
	fprintf(fp, "%s\n%s\n%s\n%s\n", SETTLE_STATE_MAGIC, AMP2PH_VERSION,
	    fprint, member_at.p);
	put(fp, &sess_clock, sizeof(sess_clock));
	for (size_t i = 0; sessions != NULL && i < (size_t)SESS_SETS *
	    SESS_WAYS; i++)
		n += sessions[i].used != 0;
	put(fp, &n, sizeof(n));
	for (size_t i = 0; n > 0 && i < (size_t)SESS_SETS * SESS_WAYS; i++) {
		struct sess c = sessions[i];
		uint32_t at = i;

		if (c.used == 0)
			continue;
		put(fp, &at, sizeof(at));
		c.ref = c.dom = c.form = c.pv = NULL;
		c.camp = NULL;
		put(fp, &c, sizeof(c));
		put_str(fp, sessions[i].ref, sessions[i].reflen +
		    sessions[i].domlen);
		put_str(fp, sessions[i].camp, sessions[i].camp == NULL ? 0 :
		    sizeof(struct camp) + sessions[i].camp->off[NCAMP]);
		put_str(fp, sessions[i].form, sessions[i].formlen);
		put_str(fp, sessions[i].pv, sessions[i].pvurl +
		    sessions[i].pvpath + sessions[i].pvhost);
	}
	n = 0;
	for (size_t i = 0; persons != NULL && i < (size_t)PERS_SETS *
	    PERS_WAYS; i++)
		n += persons[i].used != 0;
	put(fp, &pers_clock, sizeof(pers_clock));
	put(fp, &n, sizeof(n));
	for (size_t i = 0; n > 0 && i < (size_t)PERS_SETS * PERS_WAYS; i++) {
		uint32_t at = i;

		if (persons[i].used == 0)
			continue;
		put(fp, &at, sizeof(at));
		put(fp, &persons[i], sizeof(persons[i]));
	}
	put(fp, "end\n", 4);
	state_bytes = ftello(fp);
	read_since = 0;
	/* Whole or not at all: written aside, made durable, renamed. */
	if (fflush(fp) == EOF || fsync(fd) == -1 || fclose(fp) == EOF)
		err(EXIT_RUNTIME, "%s", tp.p);
	if (rename(tp.p, path) == -1)
		err(EXIT_RUNTIME, "%s", path);
	last_save = monotime();
	buf_free(&tp);
	free(path);
	state_prune();
}

/* The state after the member key, from whichever state file has it. */
static void
state_load(const char *file, uint64_t lineno, const char *key)
{
	struct buf k = { 0 }, ver = { 0 }, fp_ = { 0 };
	char *path = NULL, end[4];
	FILE *fp = NULL;
	uint64_t n, *ns;
	size_t nst = settle_state_list(journal_path, &ns);

	/* The newest first: a member exported twice has two states. */
	for (size_t i = nst; i-- > 0 && fp == NULL;) {
		free(path);
		path = settle_state_path(journal_path, ns[i]);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (settle_state_header(fp, &k, &ver, &fp_) != 1 ||
		    strcmp(k.p, key) != 0) {
			fclose(fp);
			fp = NULL;
		}
	}
	free(ns);
	if (fp == NULL)
		errx(EXIT_RUNTIME, "%s:%llu: " SETTLE_SKIPPED_WHY ", but no "
		    "state file of %s names the last of them: read every "
		    "member (amp-unpack without -j)", file,
		    (unsigned long long)lineno, journal_path);
	if (strcmp(ver.p, AMP2PH_VERSION) != 0 || strcmp(fp_.p, fprint) != 0)
		errx(EXIT_USAGE, "%s: written by amp-convert %s%s: the members "
		    "amp-unpack skipped were converted so; give the same "
		    "options, or read every member (amp-unpack without -j)",
		    path, ver.p, strcmp(ver.p, AMP2PH_VERSION) != 0 ? "" :
		    " with other options (--drop, --keep, --rename, --jq, "
		    "--max-line, --pageleave or --shard)");
	get(fp, path, &sess_clock, sizeof(sess_clock));
	get(fp, path, &n, sizeof(n));
	if (n > 0 && sessions == NULL)
		sessions = xcalloc((size_t)SESS_SETS * SESS_WAYS,
		    sizeof(*sessions));
	for (uint64_t j = 0; j < n; j++) {
		struct sess *ss;
		uint32_t at;

		get(fp, path, &at, sizeof(at));
		if (at >= (size_t)SESS_SETS * SESS_WAYS)
			damaged(path);
		ss = &sessions[at];
		get(fp, path, ss, sizeof(*ss));
		ss->ref = get_str(fp, path);
		ss->camp = get_str(fp, path);
		ss->form = get_str(fp, path);
		ss->pv = get_str(fp, path);
	}
	get(fp, path, &pers_clock, sizeof(pers_clock));
	get(fp, path, &n, sizeof(n));
	if (n > 0 && persons == NULL)
		persons = xcalloc((size_t)PERS_SETS * PERS_WAYS,
		    sizeof(*persons));
	for (uint64_t j = 0; j < n; j++) {
		uint32_t at;

		get(fp, path, &at, sizeof(at));
		if (at >= (size_t)PERS_SETS * PERS_WAYS)
			damaged(path);
		get(fp, path, &persons[at], sizeof(persons[at]));
	}
	get(fp, path, end, sizeof(end));
	if (memcmp(end, "end\n", 4) != 0)
		damaged(path);
	fclose(fp);
	free(path);
	buf_free(&k);
	buf_free(&ver);
	buf_free(&fp_);
}

/*
 * A marker (settle.h), passed on in its place: a member's end, so that
 * ph-batch knows when a member's events are all in (in every shard:
 * each shard's journal settles its own part), and the state saved now
 * and then; or a resume marker, the state loaded.
 */
void
marker(const char *file, uint64_t lineno, int kind, const char *line,
    size_t len)
{
	static double every = -1;
	const char *why;

	if (journal_path != NULL || kind == SETTLE_SKIPPED) {
		member_key.len = 0;
		if (settle_parse(line, len, &member_key, &member_seq, &why) == -1)
			errx(EXIT_DATAERR, "%s:%llu: %s", file,
			    (unsigned long long)lineno, why);
	}
	if (kind == SETTLE_SKIPPED) {
		if (journal_path == NULL)
			errx(EXIT_USAGE, "%s:%llu: " SETTLE_SKIPPED_WHY ": give "
			    "amp-convert the same -j journal (its state is kept "
			    "beside it)",
			    file, (unsigned long long)lineno);
		if (st.lines > 0)
			errx(EXIT_DATAERR, "%s:%llu: a resume marker after "
			    "events: not the output of one amp-unpack -j", file,
			    (unsigned long long)lineno);
		member_at.len = 0;
		settle_at(&member_at, member_key.p, member_seq);
		state_load(file, lineno, member_at.p);
		last_save = monotime();
	} else if (journal_path != NULL) {
		if (every < 0) {
			const char *e = getenv(STATE_ENV);
			every = e != NULL && *e != '\0' ? atof(e) : STATE_EVERY;
		}
		at_member_end = 1;
		if (read_since >= STATE_RATIO * state_bytes ||
		    monotime() - last_save >= every) {
			state_save();
			at_member_end = 2;	/* saved: not again at the end */
		}
	}
	buf_add(&out, line, len);
	buf_addc(&out, '\n');
	flush_out(0);
}
