/* journal: delivered-uuid table and run log in SQLite. */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "buf.h"
#include "journal.h"
#include "timestamp.h"
#include "xalloc.h"

struct journal {
	sqlite3		*db;
	sqlite3_stmt	*has, *add, *begin, *commit, *forget;
	sqlite3_stmt	*claim, *claimed, *settle, *settled;
	int64_t		 run;
	int		 snapshot;	/* in one read transaction */
	uint64_t	 count;		/* the snapshot's delivered rows */
	int		 lockfd;	/* the sender's lock file, or -1 */
	char		 err[256];
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    /*
     * NORMAL in WAL mode: a commit survives a killed process (what the
     * exactly-once promise is about) without an fsync each; a power cut
     * may lose the last ones, whose events are then sent again as
     * identical copies that PostHog collapses.
     */
    "PRAGMA synchronous=NORMAL;"
    /*
     * at: when PostHog acknowledged the event (unix seconds), so that
     * ph-verify can tell "not yet visible" (ingestion lag) from
     * "missing".  NULL in journals of schema 1, made before it existed.
     */
    "CREATE TABLE IF NOT EXISTS delivered ("
    "  uuid BLOB PRIMARY KEY, at INTEGER) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS runs ("
    "  id INTEGER PRIMARY KEY, started TEXT, updated TEXT, host TEXT,"
    "  status TEXT, read INTEGER, delivered INTEGER, skipped INTEGER,"
    "  rejected INTEGER, undelivered INTEGER, requests INTEGER,"
    "  retries INTEGER, bytes INTEGER);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    /*
     * Schema 3.  settled: archive members (settle.h's key) whose every
     * event was delivered, so amp-unpack -j skips them.  claims: the
     * user a device was first merged into (16-byte keys of the ids),
     * so that ph-alias decides a shared device the same way when the
     * member that showed its first user is skipped.
     */
    "CREATE TABLE IF NOT EXISTS settled ("
    "  member TEXT PRIMARY KEY, at INTEGER) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS claims ("
    "  device BLOB PRIMARY KEY, user BLOB) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES ('schema', '3');"
    "UPDATE meta SET value = '3' WHERE key = 'schema' AND value < '3';";

static int
fail(struct journal *j, const char *what)
{
	snprintf(j->err, sizeof(j->err), "%s: %s", what,
	    j->db ? sqlite3_errmsg(j->db) : "out of memory");
	return -1;
}

const char *
journal_error(struct journal *j)
{
	return j->err;
}

static struct journal *
open_db(const char *path, int flags, char *err, size_t errlen)
{
	struct journal *j = xcalloc(1, sizeof(*j));

	j->run = -1;
	j->lockfd = -1;
	if (sqlite3_open_v2(path, &j->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, j->db ?
		    sqlite3_errmsg(j->db) : "cannot open");
		journal_close(j);
		return NULL;
	}
	return j;
}

static int
prepare(struct journal *j, const char *sql, sqlite3_stmt **s)
{
	return sqlite3_prepare_v2(j->db, sql, -1, s, NULL) == SQLITE_OK ?
	    0 : -1;
}

/*
 * The lookup, with the acknowledgement time where the journal has one:
 * a read-only handle cannot add the column to a journal of schema 1.
 */
static int
prepare_has(struct journal *j)
{
	if (prepare(j, "SELECT at FROM delivered WHERE uuid = ?", &j->has) ==
	    0)
		return 0;
	return prepare(j, "SELECT NULL FROM delivered WHERE uuid = ?",
	    &j->has);
}

/* Journals of schema 1 have no acknowledgement times: add the column. */
static int
upgrade(struct journal *j)
{
	sqlite3_stmt *s;

	if (prepare(j, "SELECT at FROM delivered LIMIT 0", &s) == 0) {
		sqlite3_finalize(s);
		return 0;
	}
	return sqlite3_exec(j->db, "ALTER TABLE delivered ADD COLUMN at "
	    "INTEGER; UPDATE meta SET value = '2' WHERE key = 'schema';",
	    NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static struct journal *
open_bad(struct journal *j, const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(j->db));
	journal_close(j);
	return NULL;
}

/*
 * The schema, on a journal that another process may be making at the
 * same moment (ph-alias and ph-batch start together on a first run):
 * switching to WAL takes a lock the busy handler does not wait for, so
 * a busy answer is tried again for a while.
 */
static int
make_schema(struct journal *j)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 }, t0, t1;
	int r;

	/* At most a minute in all, as the busy timeout promises. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = sqlite3_exec(j->db, schema, NULL, NULL, NULL);
		if (r != SQLITE_BUSY && r != SQLITE_LOCKED)
			return r == SQLITE_OK ? upgrade(j) : -1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec >= 60)
			return -1;
		nanosleep(&ts, NULL);
	}
}

/*
 * A journal on read-only media: SQLite reads a WAL database through its
 * -shm file, which such media cannot get; nobody can be writing there,
 * so it may be read as immutable.
 */
static struct journal *
open_immutable(const char *path, char *err, size_t errlen)
{
	struct statvfs vfs;
	struct buf uri = { 0 };
	struct journal *j;

	if (statvfs(path, &vfs) == -1 || !(vfs.f_flag & ST_RDONLY))
		return NULL;
	buf_adds(&uri, "file:");
	for (const char *c = path; *c != '\0'; c++)
		if (strchr("?#%", *c) != NULL)
			buf_printf(&uri, "%%%02X", (unsigned char)*c);
		else
			buf_addc(&uri, *c);
	buf_adds(&uri, "?immutable=1");
	buf_addc(&uri, '\0');
	j = open_db(uri.p, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err,
	    errlen);
	buf_free(&uri);
	if (j != NULL && prepare_has(j) == -1)
		return open_bad(j, path, err, errlen);
	return j;
}

struct journal *
journal_open(const char *path, int readonly, char *err, size_t errlen)
{
	struct journal *j, *im;
	int flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if ((j = open_db(path, flags, err, errlen)) == NULL)
		return readonly ? open_immutable(path, err, errlen) : NULL;
	/* ph-alias and ph-batch share the file: wait out each other's locks. */
	sqlite3_busy_timeout(j->db, 60000);
	if (!readonly && make_schema(j) == -1)
		return open_bad(j, path, err, errlen);
	/*
	 * Random uuids land on a random page each: with the default 2 MB
	 * cache and a checkpoint every 1000 pages, a large journal is read
	 * and written back page by page for every batch.  64 MB of cache
	 * holds the interior of a 100M-row tree, and rarer checkpoints
	 * write each page once for many batches.
	 */
	if (!readonly)
		sqlite3_exec(j->db, "PRAGMA cache_size=-65536;"
		    "PRAGMA wal_autocheckpoint=16384;"
		    "PRAGMA mmap_size=1073741824;", NULL, NULL, NULL);
	if (prepare_has(j) == -1) {
		if (readonly && (im = open_immutable(path, err, errlen)) !=
		    NULL) {
			journal_close(j);
			return im;
		}
		return open_bad(j, path, err, errlen);
	}
	if (!readonly && (prepare(j, "INSERT OR IGNORE INTO delivered "
	    "VALUES (?, ?)", &j->add) == -1 || prepare(j, "BEGIN IMMEDIATE",
	    &j->begin) == -1 || prepare(j, "COMMIT", &j->commit) == -1 ||
	    prepare(j, "DELETE FROM delivered WHERE uuid = ?", &j->forget) ==
	    -1))
		return open_bad(j, path, err, errlen);
	return j;
}

struct journal *
journal_open_reader(const char *path, int make, char *err, size_t errlen)
{
	struct journal *j;
	struct stat sb;
	char *copy, *dir;
	int r;

	err[0] = '\0';
	if (stat(path, &sb) == -1) {
		if (errno != ENOENT && errno != ENOTDIR) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return NULL;
		}
		copy = xstrdup(path);
		dir = dirname(copy);
		r = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
		free(copy);
		if (!r) {
			snprintf(err, errlen, "%s: no such directory: create "
			    "it, or give -j a path in an existing one", path);
			return NULL;
		}
		return make ? journal_open(path, 0, err, errlen) : NULL;
	}
	if (S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: is a directory: give -j the "
		    "journal's file", path);
		return NULL;
	}
	if (access(path, R_OK) == -1) {
		snprintf(err, errlen, "%s: cannot read it: %s", path,
		    strerror(errno));
		return NULL;
	}
	/* Read-only first: it may be on read-only media. */
	if ((j = journal_open(path, 1, err, errlen)) != NULL)
		return j;
	/*
	 * Being made by ph-batch this moment (no tables yet, or its switch
	 * to WAL): wait for it as a writer does, or take it as empty.
	 */
	if (make) {
		char err2[256];

		if ((j = journal_open(path, 0, err2, sizeof(err2))) != NULL)
			err[0] = '\0';
		return j;
	}
	if (strstr(err, "no such table") == NULL)
		return NULL;
	err[0] = '\0';
	return NULL;
}

struct journal *
journal_open_snapshot(const char *path, char *err, size_t errlen)
{
	struct journal *j;
	sqlite3_stmt *s;
	int r;

	if ((j = open_db(path, SQLITE_OPEN_READONLY, err, errlen)) == NULL)
		return NULL;
	sqlite3_busy_timeout(j->db, 60000);
	/* Lookups go all over the table: map it rather than read pages. */
	sqlite3_exec(j->db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
	if (sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return open_bad(j, path, err, errlen);
	j->snapshot = 1;
	if (prepare_has(j) == -1)
		return open_bad(j, path, err, errlen);
	/*
	 * The first read fixes the snapshot: the count, which ph-report
	 * needs anyway, so journal_count costs nothing after it.
	 */
	if (prepare(j, "SELECT count(*) FROM delivered", &s) == -1)
		return open_bad(j, path, err, errlen);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		j->count = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (r != SQLITE_ROW)
		return open_bad(j, path, err, errlen);
	return j;
}

struct journal *
journal_open_temp(char *err, size_t errlen)
{
	struct journal *j;

	/* "": a private temporary database, on disk once past its cache. */
	if ((j = open_db("", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    err, errlen)) == NULL)
		return NULL;
	/* Nothing to survive a crash, so no rollback journal and no sync. */
	if (sqlite3_exec(j->db, "PRAGMA journal_mode=OFF;"
	    "PRAGMA synchronous=OFF; PRAGMA cache_size=-32768;"
	    "CREATE TABLE delivered (uuid BLOB PRIMARY KEY) WITHOUT ROWID;"
	    "BEGIN;", NULL, NULL, NULL) != SQLITE_OK ||
	    prepare(j, "SELECT 1 FROM delivered WHERE uuid = ?", &j->has) ==
	    -1 || prepare(j, "INSERT OR IGNORE INTO delivered VALUES (?)",
	    &j->add) == -1)
		return open_bad(j, "temporary database", err, errlen);
	return j;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	sqlite3_finalize(j->has);
	sqlite3_finalize(j->add);
	sqlite3_finalize(j->begin);
	sqlite3_finalize(j->commit);
	sqlite3_finalize(j->forget);
	sqlite3_finalize(j->claim);
	sqlite3_finalize(j->claimed);
	sqlite3_finalize(j->settle);
	sqlite3_finalize(j->settled);
	if (j->snapshot)
		sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	if (j->lockfd != -1)
		close(j->lockfd);	/* releases the flock */
	sqlite3_close(j->db);
	free(j);
}

int
journal_has(struct journal *j, const unsigned char uuid[16])
{
	int64_t at;

	return journal_lookup(j, uuid, &at);
}

int
journal_lookup(struct journal *j, const unsigned char uuid[16],
    int64_t *at)
{
	int r;

	sqlite3_bind_blob(j->has, 1, uuid, 16, SQLITE_STATIC);
	r = sqlite3_step(j->has);
	if (r == SQLITE_ROW)
		*at = sqlite3_column_int64(j->has, 0);	/* NULL gives 0 */
	sqlite3_reset(j->has);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	return fail(j, "journal lookup");
}

int
journal_put(struct journal *j, const unsigned char uuid[16])
{
	int r;

	sqlite3_bind_blob(j->add, 1, uuid, 16, SQLITE_STATIC);
	r = sqlite3_step(j->add);
	sqlite3_reset(j->add);
	if (r != SQLITE_DONE)
		return fail(j, "journal insert");
	return sqlite3_changes(j->db) > 0;
}

static int
step(struct journal *j, sqlite3_stmt *s, const char *what)
{
	int r = sqlite3_step(s);

	sqlite3_reset(s);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : fail(j, what);
}

/* What to do with one uuid of a transaction (at, when now > 0). */
static int
one_uuid(struct journal *j, sqlite3_stmt *st, const char *what,
    const unsigned char u[16], int64_t now)
{
	sqlite3_bind_blob(st, 1, u, 16, SQLITE_STATIC);
	if (now > 0)
		sqlite3_bind_int64(st, 2, now);
	return step(j, st, what);
}

static int
rollback(struct journal *j)
{
	sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * The uuids of one request, and the claims of its identity events, in
 * one transaction: all of a request's events, or none, as the promise
 * requires.
 */
int
journal_add(struct journal *j, const unsigned char (*u)[16], size_t n,
    const struct journal_claim *cl, size_t ncl)
{
	int64_t now = time(NULL);

	if (ncl > 0 && j->claim == NULL && prepare(j, "INSERT OR IGNORE "
	    "INTO claims VALUES (?, ?)", &j->claim) == -1)
		return fail(j, "journal claims");
	if (step(j, j->begin, "journal begin") == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (one_uuid(j, j->add, "journal insert", u[i], now) == -1)
			return rollback(j);
	for (size_t i = 0; i < ncl; i++) {
		sqlite3_bind_blob(j->claim, 1, cl[i].device, 16,
		    SQLITE_STATIC);
		sqlite3_bind_blob(j->claim, 2, cl[i].user, 16, SQLITE_STATIC);
		if (step(j, j->claim, "journal claim") == -1)
			return rollback(j);
	}
	if (step(j, j->commit, "journal commit") == -1)
		return rollback(j);
	return 0;
}

/*
 * A forgotten event is no longer delivered, so no member that held it
 * is settled: all the marks go (which members held it is not known),
 * and the next run with amp-unpack -j reads everything again once.
 */
int
journal_forget(struct journal *j, const unsigned char (*u)[16], size_t n)
{
	if (step(j, j->begin, "journal begin") == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (one_uuid(j, j->forget, "journal delete", u[i], 0) == -1)
			return rollback(j);
	if (n > 0 && sqlite3_exec(j->db, "DELETE FROM settled", NULL, NULL,
	    NULL) != SQLITE_OK && strncmp(sqlite3_errmsg(j->db),
	    "no such table", 13) != 0) {
		fail(j, "journal settled");
		return rollback(j);
	}
	if (step(j, j->commit, "journal commit") == -1)
		return rollback(j);
	return 0;
}

/* A statement on a table older journals lack: 0, 1 made, -1 error. */
static int
prepare_new(struct journal *j, const char *sql, sqlite3_stmt **s)
{
	if (*s != NULL)
		return 1;
	if (prepare(j, sql, s) == 0)
		return 1;
	return strncmp(sqlite3_errmsg(j->db), "no such table", 13) == 0 ?
	    0 : fail(j, "journal");
}

int
journal_claimed(struct journal *j, const unsigned char device[16],
    unsigned char user[16])
{
	int r;

	if ((r = prepare_new(j, "SELECT user FROM claims WHERE device = ?",
	    &j->claimed)) != 1)
		return r;
	sqlite3_bind_blob(j->claimed, 1, device, 16, SQLITE_STATIC);
	r = sqlite3_step(j->claimed);
	if (r == SQLITE_ROW && sqlite3_column_bytes(j->claimed, 0) == 16)
		memcpy(user, sqlite3_column_blob(j->claimed, 0), 16);
	else if (r == SQLITE_ROW)
		r = SQLITE_DONE;
	sqlite3_reset(j->claimed);
	if (r == SQLITE_ROW)
		return 1;
	return r == SQLITE_DONE ? 0 : fail(j, "journal claims");
}

int
journal_settle(struct journal *j, const char *member)
{
	if (j->settle == NULL && prepare(j, "INSERT OR IGNORE INTO settled "
	    "VALUES (?, ?)", &j->settle) == -1)
		return fail(j, "journal settled");
	sqlite3_bind_text(j->settle, 1, member, -1, SQLITE_STATIC);
	sqlite3_bind_int64(j->settle, 2, time(NULL));
	return step(j, j->settle, "journal settled");
}

int
journal_settled(struct journal *j, const char *member)
{
	int r;

	if ((r = prepare_new(j, "SELECT 1 FROM settled WHERE member = ?",
	    &j->settled)) != 1)
		return r;
	sqlite3_bind_text(j->settled, 1, member, -1, SQLITE_STATIC);
	r = sqlite3_step(j->settled);
	sqlite3_reset(j->settled);
	if (r == SQLITE_ROW)
		return 1;
	return r == SQLITE_DONE ? 0 : fail(j, "journal settled");
}

int
journal_meta_get(struct journal *j, const char *key, char *val, size_t len)
{
	sqlite3_stmt *s;
	int r;

	if (prepare(j, "SELECT value FROM meta WHERE key = ?", &s) == -1) {
		/* No meta table: a journal older than the table. */
		if (strncmp(sqlite3_errmsg(j->db), "no such table", 13) == 0)
			return 0;
		return fail(j, "journal meta");
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		snprintf(val, len, "%s", sqlite3_column_text(s, 0));
	else if (r == SQLITE_ROW)
		r = SQLITE_DONE;
	sqlite3_finalize(s);
	if (r == SQLITE_ROW)
		return 1;
	return r == SQLITE_DONE ? 0 : fail(j, "journal meta");
}

int
journal_meta_set(struct journal *j, const char *key, const char *val)
{
	sqlite3_stmt *s;
	int r;

	if (prepare(j, "INSERT OR REPLACE INTO meta VALUES (?, ?)", &s) == -1)
		return fail(j, "journal meta");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : fail(j, "journal meta");
}

int
journal_bind(struct journal *j, const char *host, const char *project,
    const char *token_fp, int rebind, char *err, size_t errlen)
{
	char h[512], p[64], t[64];
	int hh, hp, ht;

	if ((hh = journal_meta_get(j, "host", h, sizeof(h))) == -1 ||
	    (hp = journal_meta_get(j, "project", p, sizeof(p))) == -1 ||
	    (ht = journal_meta_get(j, "token", t, sizeof(t))) == -1) {
		snprintf(err, errlen, "%s", j->err);
		return -1;
	}
	if (!rebind && ((hh && strcmp(h, host) != 0) || (ht &&
	    strcmp(t, token_fp) != 0) || (hp && project != NULL &&
	    strcmp(p, project) != 0))) {
		snprintf(err, errlen, "this journal belongs to %s%s%s (token "
		    "%s); this run sends to %s%s%s (token %s).  Its events "
		    "would not be sent to the new destination; use another "
		    "journal, or --rebind if the destination really moved",
		    hh ? h : "?", hp ? ", project " : "", hp ? p : "",
		    ht ? t : "?", host, project ? ", project " : "",
		    project ? project : "", token_fp);
		return -1;
	}
	if (journal_meta_set(j, "host", host) == -1 ||
	    journal_meta_set(j, "token", token_fp) == -1 ||
	    (project != NULL && journal_meta_set(j, "project", project) == -1)) {
		snprintf(err, errlen, "%s", j->err);
		return -1;
	}
	return 0;
}

int
journal_lock_sender(struct journal *j, const char *path, char *err,
    size_t errlen)
{
	char lp[4096], who[512], host[256] = "?", now[TS_STRLEN + 1];
	ssize_t n;
	int fd;

	/*
	 * A file of its own beside the database: SQLite's locks on the
	 * database are POSIX record locks, which any close(2) of the file in
	 * this process would drop; flock(2) on another file is independent
	 * of them, and the kernel drops it when the holder dies, however.
	 */
	snprintf(lp, sizeof(lp), "%s-sender", path);
	if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) == -1) {
		snprintf(err, errlen, "%s: %s", lp, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int e = errno;

		n = pread(fd, who, sizeof(who) - 1, 0);
		who[n > 0 ? n : 0] = '\0';
		who[strcspn(who, "\n")] = '\0';
		close(fd);
		if (e != EWOULDBLOCK) {
			snprintf(err, errlen, "%s: flock: %s", lp, strerror(e));
			return -1;
		}
		snprintf(err, errlen, "%s is in use by another sender (%s): "
		    "one ph-batch per journal, or every event is sent twice; "
		    "wait for it, or stop it", path, who[0] ? who : "unknown");
		return -1;
	}
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	ts_format(ts_now_us(), now);
	n = snprintf(who, sizeof(who), "pid %ld on %s since %s\n",
	    (long)getpid(), host, now);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, who, n, 0) != n) {
		snprintf(err, errlen, "%s: %s", lp, strerror(errno));
		close(fd);
		return -1;
	}
	j->lockfd = fd;
	return 0;
}

int
journal_run_begin(struct journal *j, const char *host)
{
	sqlite3_stmt *s;
	char now[TS_STRLEN + 1];

	ts_format(ts_now_us(), now);
	if (sqlite3_prepare_v2(j->db, "INSERT INTO runs (started, updated, "
	    "host, status) VALUES (?, ?, ?, 'running')", -1, &s, NULL) !=
	    SQLITE_OK)
		return fail(j, "journal runs");
	sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, host, -1, SQLITE_TRANSIENT);
	int r = sqlite3_step(s);
	sqlite3_finalize(s);
	if (r != SQLITE_DONE)
		return fail(j, "journal runs");
	j->run = sqlite3_last_insert_rowid(j->db);
	return 0;
}

int
journal_run_update(struct journal *j, const struct journal_run *c,
    const char *status)
{
	sqlite3_stmt *s;
	char now[TS_STRLEN + 1];
	int r;

	if (j->run < 0)
		return 0;
	ts_format(ts_now_us(), now);
	if (sqlite3_prepare_v2(j->db, "UPDATE runs SET updated = ?, "
	    "status = ?, read = ?, delivered = ?, skipped = ?, rejected = ?, "
	    "undelivered = ?, requests = ?, retries = ?, bytes = ? "
	    "WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
		return fail(j, "journal runs");
	sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, c->read);
	sqlite3_bind_int64(s, 4, c->delivered);
	sqlite3_bind_int64(s, 5, c->skipped);
	sqlite3_bind_int64(s, 6, c->rejected);
	sqlite3_bind_int64(s, 7, c->undelivered);
	sqlite3_bind_int64(s, 8, c->requests);
	sqlite3_bind_int64(s, 9, c->retries);
	sqlite3_bind_int64(s, 10, c->bytes);
	sqlite3_bind_int64(s, 11, j->run);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : fail(j, "journal runs");
}

int
journal_read_begin(struct journal *j)
{
	return sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : fail(j, "journal begin");
}

void
journal_read_end(struct journal *j)
{
	sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
}

uint64_t
journal_count(struct journal *j)
{
	sqlite3_stmt *s;
	uint64_t n = 0;

	if (j->snapshot)
		return j->count;
	if (sqlite3_prepare_v2(j->db, "SELECT count(*) FROM delivered", -1,
	    &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

int
journal_runs(struct journal *j,
    int (*fn)(const struct journal_runrow *, void *), void *arg)
{
	struct journal_runrow row;
	sqlite3_stmt *s;
	int r, stop = 0;

	if (prepare(j, "SELECT started, updated, host, status, read, "
	    "delivered, skipped, rejected, undelivered, requests, retries, "
	    "bytes FROM runs ORDER BY id", &s) == -1) {
		/* No runs table: a journal not (yet) written by ph-batch. */
		if (strncmp(sqlite3_errmsg(j->db), "no such table", 13) == 0)
			return 0;
		return fail(j, "journal runs");
	}
	while (!stop && (r = sqlite3_step(s)) == SQLITE_ROW) {
		row.started = col_text(s, 0);
		row.updated = col_text(s, 1);
		row.host = col_text(s, 2);
		row.status = col_text(s, 3);
		row.c.read = sqlite3_column_int64(s, 4);
		row.c.delivered = sqlite3_column_int64(s, 5);
		row.c.skipped = sqlite3_column_int64(s, 6);
		row.c.rejected = sqlite3_column_int64(s, 7);
		row.c.undelivered = sqlite3_column_int64(s, 8);
		row.c.requests = sqlite3_column_int64(s, 9);
		row.c.retries = sqlite3_column_int64(s, 10);
		row.c.bytes = sqlite3_column_int64(s, 11);
		stop = fn(&row, arg);
	}
	if (!stop && r != SQLITE_DONE) {
		fail(j, "journal runs");
		stop = -1;
	}
	sqlite3_finalize(s);
	return stop;
}
