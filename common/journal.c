/* journal: delivered-uuid table and run log in SQLite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "journal.h"
#include "timestamp.h"
#include "xalloc.h"

struct journal {
	sqlite3		*db;
	sqlite3_stmt	*has, *add, *begin, *commit;
	int64_t		 run;
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
    "CREATE TABLE IF NOT EXISTS delivered ("
    "  uuid BLOB PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS runs ("
    "  id INTEGER PRIMARY KEY, started TEXT, updated TEXT, host TEXT,"
    "  status TEXT, read INTEGER, delivered INTEGER, skipped INTEGER,"
    "  rejected INTEGER, undelivered INTEGER, requests INTEGER,"
    "  retries INTEGER, bytes INTEGER);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "INSERT OR IGNORE INTO meta VALUES ('schema', '1');";

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

struct journal *
journal_open(const char *path, int readonly, char *err, size_t errlen)
{
	struct journal *j = xcalloc(1, sizeof(*j));
	int flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	j->run = -1;
	if (sqlite3_open_v2(path, &j->db, flags, NULL) != SQLITE_OK)
		goto bad;
	/* ph-alias and ph-batch share the file: wait out each other's locks. */
	sqlite3_busy_timeout(j->db, 60000);
	if (!readonly && sqlite3_exec(j->db, schema, NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto bad;
	if (sqlite3_prepare_v2(j->db,
	    "SELECT 1 FROM delivered WHERE uuid = ?", -1, &j->has, NULL) !=
	    SQLITE_OK)
		goto bad;
	if (!readonly && (sqlite3_prepare_v2(j->db,
	    "INSERT OR IGNORE INTO delivered VALUES (?)", -1, &j->add, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(j->db, "BEGIN IMMEDIATE", -1,
	    &j->begin, NULL) != SQLITE_OK || sqlite3_prepare_v2(j->db,
	    "COMMIT", -1, &j->commit, NULL) != SQLITE_OK))
		goto bad;
	return j;
bad:
	snprintf(err, errlen, "%s: %s", path, j->db ? sqlite3_errmsg(j->db) :
	    "cannot open");
	journal_close(j);
	return NULL;
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
	sqlite3_close(j->db);
	free(j);
}

int
journal_has(struct journal *j, const unsigned char uuid[16])
{
	int r;

	sqlite3_bind_blob(j->has, 1, uuid, 16, SQLITE_STATIC);
	r = sqlite3_step(j->has);
	sqlite3_reset(j->has);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	return fail(j, "journal lookup");
}

static int
step(struct journal *j, sqlite3_stmt *s, const char *what)
{
	int r = sqlite3_step(s);

	sqlite3_reset(s);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : fail(j, what);
}

int
journal_add(struct journal *j, const unsigned char (*u)[16], size_t n)
{
	if (step(j, j->begin, "journal begin") == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_blob(j->add, 1, u[i], 16, SQLITE_STATIC);
		if (step(j, j->add, "journal insert") == -1) {
			sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	if (step(j, j->commit, "journal commit") == -1) {
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
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

	if (sqlite3_prepare_v2(j->db, "SELECT count(*) FROM delivered", -1,
	    &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}
