/*
 * ph-batch: deliver PostHog events to the capture /batch/ endpoint with
 * historical_migration set, at an agreed rate, exactly once across
 * crashes and re-runs when a journal is kept.
 */
#include <curl/curl.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "gzmem.h"
#include "gzpool.h"
#include "http.h"
#include "journal.h"
#include "json.h"
#include "jsonw.h"
#include "lines.h"
#include "outfile.h"
#include "progress.h"
#include "phapi.h"
#include "phevent.h"
#include "receipt.h"
#include "rejects.h"
#include "retry.h"
#include "secret.h"
#include "settle.h"
#include "stage.h"
#include "stop.h"
#include "timestamp.h"
#include "uuid.h"
#include "uuidset.h"
#include "xalloc.h"

#define DEFAULT_BATCH	1000
#define DEFAULT_BYTES	(5 * 1024 * 1024)
#define MAX_EVENT	(1000 * 1000)	/* capture's Kafka message limit */
#define MAX_LINE	(16 * 1024 * 1024)
#define LINGER		2.0		/* send a partial batch after this */
#define RESP_MAX	(64 * 1024)
#define WARN_LIMIT	20

/*
 * The events of one archive member, between two markers (settle.h): the
 * member settles in the journal once none of its events is owed and
 * every member before it has settled.  Kept in input order, from the
 * oldest that is not settled to the one being read.
 */
struct mark {
	struct mark	*next;
	char		*key;		/* NULL until its marker is read */
	uint64_t	 owed;		/* its events in batches not done */
};

/* One event waiting in a batch: its bytes live in the unit's data. */
struct ev {
	size_t		 off;
	uint32_t	 len;
	uint8_t		 has_uuid;
	uint8_t		 identity;	/* an identity event: claim is set */
	unsigned char	 uuid[16];
	uint64_t	 line;
	const char	*file;
	struct mark	*mark;		/* its member's, or NULL */
	struct journal_claim claim;	/* the device its pair claims */
};

/* A batch: sent whole, split in halves on 400/413, retried on faults. */
struct unit {
	struct unit	*next;
	struct buf	 data;
	struct ev	*ev;
	size_t		 n, cap;
	int		 attempts;
	int		 resent;	/* by libcurl, in its latest request */
	double		 first_fail;	/* monotime of the first failure */
	double		 due;		/* not before this monotime */
	double		 born;
	struct gzjob	*job;		/* its body, compressed ahead */
};

/* An easy handle and what belongs to the request it carries. */
struct slot {
	CURL		*h;
	struct unit	*u;
	struct buf	 body, resp;
	struct curl_slist *hdrs;
	double		 t0;
	struct http_answer ans;
	size_t		 sent;		/* bytes of the body on the wire */
	char		 errbuf[HTTP_ERRLEN];
};

struct counts {
	uint64_t	read, delivered, skipped, dup, rejected, requests;
	uint64_t	retries, bytes, recent, undelivered, resent;
};

static struct {
	const char	*url, *host, *token_file, *journal_path;
	const char	*rejects_path, *project, *app, *pkey_file;
	int		 rebind;
	size_t		 batch_size, batch_bytes, max_event;
	int		 parallel, gzip_level, dry_run, progress, quiet;
	int		 insecure;
	double		 rate;		/* events per second; 0 = no cap */
	double		 retry_for, timeout;
} opt = {
	.batch_size = DEFAULT_BATCH, .batch_bytes = DEFAULT_BYTES,
	.max_event = MAX_EVENT, .parallel = 4, .gzip_level = 1,
	.retry_for = 3600, .timeout = 120,
};

static struct counts	 c;
static char		*token;
static struct journal	*jdb;
static struct rejects	 rej;
static struct json_parser *parser;
static struct uuidset	 pending;	/* uuids in batches not yet done */
static struct unit	*ready_head, *ready_tail, *building;
static struct slot	*slots;
static CURLM		*multi;
static int		 inflight, fatal, input_done;
static int		 last_nonl, cut;	/* the input's last line was cut */
static double		 tokens, last_refill, started;
static struct mark	*marks_head, *marks_tail;	/* when settling */
static int		 settling;	/* -j, and not a dry run */
static uint64_t		 settled;	/* members settled in this run */

static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: ph-batch [-npq] [-j journal] [--host url | --region us|eu] "
	    "[--token-file file]\n"
	    "                [--project id] [--app-host url] "
	    "[--personal-key-file file] [--rebind]\n"
	    "                [--rate n/s|n/min] [--parallel n] "
	    "[--batch-size n] [--batch-bytes n]\n"
	    "                [--gzip-level n | --no-gzip] [--retry-for "
	    "duration] [--timeout duration]\n"
	    "                [--rejects file] [--max-event-bytes n] "
	    "[--insecure] [file ...]\n");
	exit(status);
}

static const char *token_checked = "not checked";

/*
 * Before the first batch: is the token the intended project's on this
 * host?  Capture would answer 200 to any well-formed token and drop the
 * events of one it does not know (rust/capture/src/token.rs,
 * PostHog/posthog@14b6bb00), so a wrong region or token must be caught
 * here.  With a personal key and --project, the project API says which
 * token the project has; without, /flags says whether the token is a
 * project on this host at all.
 */
static void
preflight(void)
{
	struct http_conf hc = { .prog = "ph-batch", .timeout = 60,
	    .insecure = opt.insecure };
	char err[640], ptoken[128], *pkey = NULL, *app;
	struct phapi api;
	int r;

	if (opt.project != NULL && (opt.pkey_file != NULL ||
	    getenv("POSTHOG_PERSONAL_API_KEY") != NULL) &&
	    (pkey = secret_read("POSTHOG_PERSONAL_API_KEY", opt.pkey_file,
	    err, sizeof(err))) == NULL)
		errx(EXIT_USAGE, "%s", err);
	if (pkey != NULL) {
		app = opt.app != NULL ? xstrdup(opt.app) :
		    phapi_app_host(opt.host);
		phapi_open(&api, app, opt.project, pkey, &hc, 120, 20);
		if (phapi_project_token(&api, ptoken, sizeof(ptoken)) == -1)
			errx(EXIT_RUNTIME, "cannot check the project token, so "
			    "nothing was sent: %s", api.err);
		if (strcmp(ptoken, token) != 0)
			errx(EXIT_RUNTIME, "POSTHOG_API_KEY is not the token of "
			    "project %s on %s: PostHog would answer 200 and "
			    "drop every event.  Nothing was sent; use the "
			    "project's API key from its settings", opt.project,
			    app);
		phapi_close(&api);
		explicit_bzero(pkey, strlen(pkey));
		free(pkey);
		free(app);
		token_checked = "checked against the project";
		return;
	}
	if (opt.project != NULL)
		note("--project without POSTHOG_PERSONAL_API_KEY: the token "
		    "can only be checked against %s/flags/", opt.host);
	r = phapi_flags_check(opt.host, token, &hc, err, sizeof(err));
	if (r == 0)
		errx(EXIT_RUNTIME, "%s.  Nothing was sent: capture would have "
		    "answered 200 and dropped every event.  Check --region "
		    "(us or eu: the project's cloud) or --host, and "
		    "POSTHOG_API_KEY", err);
	if (r == -1) {
		note("could not check the project token: %s", err);
		return;
	}
	token_checked = "known to this host (/flags; a personal key and "
	    "--project check the project too)";
}

/* A fingerprint of the token for the journal: never the token itself. */
static void
token_fp(char *out, size_t len)
{
	char v5[UUID_STRLEN + 1];
	struct buf b = { 0 };

	buf_adds(&b, "amp2ph-token:");
	buf_adds(&b, token);
	uuid_v5(b.p, b.len, v5);
	explicit_bzero(b.p, b.len);
	buf_free(&b);
	snprintf(out, len, "sha1:%.8s%.4s", v5, v5 + 9);
}

static void
say_reject(const struct ev *e, const char *why)
{
	rejects_warn(&rej, WARN_LIMIT, "rejects", e->file, e->line,
	    "rejected: %s", why);
}

static void
reject_line(const char *file, uint64_t line, const char *why,
    const char *text, size_t len, int status)
{
	struct ev e = { .file = file, .line = line };

	c.rejected++;
	say_reject(&e, why);
	rejects_add(&rej, file, line, why, text, len, status);
}

static struct unit *
unit_new(void)
{
	struct unit *u = xcalloc(1, sizeof(*u));

	u->born = monotime();
	return u;
}

static void
unit_free(struct unit *u)
{
	if (u->job != NULL) {
		gzpool_wait(u->job);	/* a worker may hold it */
		buf_free(&u->job->body);
		buf_free(&u->job->gz);
		free(u->job);
	}
	buf_free(&u->data);
	free(u->ev);
	free(u);
}

static void
unit_push(struct unit *u, const char *file, uint64_t line, const char *p,
    size_t len, const unsigned char *uuid, struct mark *m,
    const struct journal_claim *claim)
{
	struct ev *e;

	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		u->ev = xrealloc(u->ev, u->cap * sizeof(*u->ev));
	}
	e = &u->ev[u->n++];
	e->off = u->data.len;
	e->len = len;
	e->line = line;
	e->file = file;
	e->has_uuid = uuid != NULL;
	if (uuid != NULL)
		memcpy(e->uuid, uuid, 16);
	e->mark = m;
	if ((e->identity = claim != NULL))
		e->claim = *claim;
	buf_add(&u->data, p, len);
}

static void	body_of(struct buf *, const struct unit *);

/*
 * A unit in the queue gets its body compressed by a worker meanwhile,
 * once (a retry sends the same bytes); start() waits for it if need be.
 */
static void
compress_ahead(struct unit *u)
{
	if (opt.gzip_level == 0 || opt.dry_run || u->job != NULL)
		return;
	u->job = xcalloc(1, sizeof(*u->job));
	u->job->level = opt.gzip_level;
	body_of(&u->job->body, u);
	gzpool_submit(u->job);
}

static void
ready_append(struct unit *u)
{
	u->next = NULL;
	if (ready_tail)
		ready_tail->next = u;
	else
		ready_head = u;
	ready_tail = u;
	compress_ahead(u);
}

static void
ready_prepend(struct unit *u)
{
	u->next = ready_head;
	ready_head = u;
	if (ready_tail == NULL)
		ready_tail = u;
	compress_ahead(u);
}

/* The events of u from a to b as a unit of their own (for bisection). */
static struct unit *
unit_slice(const struct unit *u, size_t a, size_t b)
{
	struct unit *s = unit_new();

	for (size_t i = a; i < b; i++)
		unit_push(s, u->ev[i].file, u->ev[i].line,
		    u->data.p + u->ev[i].off, u->ev[i].len,
		    u->ev[i].has_uuid ? u->ev[i].uuid : NULL, u->ev[i].mark,
		    u->ev[i].identity ? &u->ev[i].claim : NULL);
	s->born = u->born;
	return s;
}

static size_t
batch_limit(void)
{
	size_t n = opt.batch_size;

	/* Under a rate cap, a batch is at most a second's worth: smooth. */
	if (opt.rate > 0 && n > ceil(opt.rate))
		n = ceil(opt.rate);
	return n < 1 ? 1 : n;
}

static size_t
envelope_len(void)
{
	static size_t n;

	if (n == 0) {
		struct buf b = { 0 };
		jsonw_cstr(&b, token ? token : "<POSTHOG_API_KEY>");
		n = strlen("{\"api_key\":,\"historical_migration\":true,"
		    "\"batch\":[]}") + b.len;
		buf_free(&b);
	}
	return n;
}

static void
body_of(struct buf *b, const struct unit *u)
{
	b->len = 0;
	buf_adds(b, "{\"api_key\":");
	jsonw_cstr(b, token ? token : "<POSTHOG_API_KEY>");
	buf_adds(b, ",\"historical_migration\":true,\"batch\":[");
	for (size_t i = 0; i < u->n; i++) {
		if (i)
			buf_addc(b, ',');
		buf_add(b, u->data.p + u->ev[i].off, u->ev[i].len);
	}
	buf_adds(b, "]}");
}

/* The mark of the member being read, made at its first event. */
static struct mark *
mark_current(void)
{
	struct mark *m;

	if (marks_tail != NULL && marks_tail->key == NULL)
		return marks_tail;
	m = xcalloc(1, sizeof(*m));
	if (marks_tail != NULL)
		marks_tail->next = m;
	else
		marks_head = m;
	marks_tail = m;
	return m;
}

/*
 * Record, in input order, the members of which no event is owed: each
 * after the commit of its last acknowledgement, so a settled member's
 * events are all in the journal.  Not inside a read transaction.
 */
static void
settle_ready(void)
{
	static int failed;

	while (marks_head != NULL && marks_head->key != NULL &&
	    marks_head->owed == 0) {
		struct mark *m = marks_head;

		if (!failed && journal_settle(jdb, m->key) == -1) {
			/* Only a re-run that reads the member again. */
			note("%s: %s", opt.journal_path, journal_error(jdb));
			failed = 1;
		} else if (!failed)
			settled++;
		if ((marks_head = m->next) == NULL)
			marks_tail = NULL;
		free(m->key);
		free(m);
	}
}

/* An event of a batch is done with: its member owes one less. */
static void
mark_paid(const struct ev *e)
{
	if (e->mark != NULL)
		e->mark->owed--;
}

/*
 * A marker: the member being read ends here.  Without a journal there
 * is nothing to settle; a damaged marker leaves its events to the next
 * member's, so the damaged one is read again by a re-run.
 */
static void
take_marker(const char *file, uint64_t line, const char *p, size_t len)
{
	struct buf key = { 0 };
	const char *why;
	uint64_t seq;

	if (!settling)
		return;
	if (settle_parse(p, len, &key, &seq, &why) == -1) {
		note("%s:%llu: %s: not used", file, (unsigned long long)line,
		    why);
		return;
	}
	mark_current()->key = key.p;
}

/*
 * Check one input line as capture would; on success add it to the batch
 * being built.  Events already delivered (journal) or already pending in
 * this run are skipped: that is what makes re-runs and overlapping
 * exports safe.
 */
static void
take_line(const char *file, uint64_t line, const char *p, size_t len)
{
	char err[256];
	const char *why;
	struct jval *root;
	struct phevent e;
	struct journal_claim cl, *claim = NULL;
	struct mark *m = NULL;
	unsigned char uuid[16];
	int has_uuid;

	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (len == 0)
		return;
	switch (settle_is(p, len)) {
	case SETTLE_MEMBER:
		return take_marker(file, line, p, len);
	case SETTLE_SKIPPED:
		return;		/* amp-convert's: nothing to send */
	}
	c.read++;
	if (len > opt.max_event) {
		snprintf(err, sizeof(err), "event of %zu bytes is over the "
		    "%zu-byte limit of capture", len, opt.max_event);
		return reject_line(file, line, err, p, len, 0);
	}
	if ((root = json_parse(parser, p, len, err, sizeof(err))) == NULL) {
		if (last_nonl) {
			/* A killed stage before us, not a bad event. */
			stage_cut_note(file, line);
			c.read--;
			cut = 1;
			return;
		}
		if (!utf8_valid(p, len))
			snprintf(err, sizeof(err), "invalid UTF-8");
		return reject_line(file, line, err, p, len, 0);
	}
	if (phevent_check(root, &e, &why) == -1)
		return reject_line(file, line, why, p, len, 0);
	has_uuid = e.has_uuid;
	memcpy(uuid, e.uuid, 16);
	if (!has_uuid && opt.journal_path != NULL)
		return reject_line(file, line, "no uuid: an event without one "
		    "cannot be journaled (amp-convert always sets one)", p,
		    len, 0);
	if (e.has_ts && e.ts > ts_now_us() - 48LL * 3600 * 1000000)
		c.recent++;
	if (has_uuid) {
		if (jdb != NULL) {
			int r = journal_has(jdb, uuid);
			if (r == -1) {
				note("%s", journal_error(jdb));
				fatal = 1;
				return;
			}
			if (r == 1) {
				c.skipped++;
				return;
			}
		}
		if (!uuidset_add(&pending, uuid)) {
			c.dup++;	/* the same uuid earlier in this run */
			return;
		}
	}
	if (settling) {
		m = mark_current();
		m->owed++;
		if (phevent_identity(root, cl.device, cl.user))
			claim = &cl;
	}
	if (building == NULL)
		building = unit_new();
	/* The body: envelope, the events, a comma between each two. */
	if (building->n > 0 && envelope_len() + building->data.len +
	    building->n + len > opt.batch_bytes) {
		ready_append(building);
		building = unit_new();
	}
	unit_push(building, file, line, p, len, has_uuid ? uuid : NULL, m,
	    claim);
	if (building->n >= batch_limit()) {
		ready_append(building);
		building = NULL;
	}
}

static void
receipt(const struct unit *u, long status, const char *outcome,
    size_t bytes, double ms, const char *error)
{
	struct receipt r = { .status = status, .events = u->n,
	    .bytes = bytes, .attempts = u->attempts,
	    .ms = (int64_t)(ms + 0.5), .resent = u->resent, .at = ts_now_us(),
	    .error = error };
	int o = receipt_outcome(outcome, strlen(outcome));

	if (o == -1)
		errx(1, "receipt: unknown outcome %s", outcome);
	r.outcome = o;
	if (u->n > 0 && (r.has_first = u->ev[0].has_uuid))
		memcpy(r.first_uuid, u->ev[0].uuid, 16);
	if (u->n > 0 && (r.has_last = u->ev[u->n - 1].has_uuid))
		memcpy(r.last_uuid, u->ev[u->n - 1].uuid, 16);
	receipt_write(stdout, "stdout", &r);
}

static void	unit_forget(struct unit *);

/*
 * Done with u's events.  Delivered uuids stay in the pending set when
 * there is no journal: it is then the only record that stops a later
 * copy in the input (an overlapping export) from being sent again, at
 * the cost of memory per event.  With a journal, the journal is that
 * record and memory stays flat.
 */
static void
unit_done(struct unit *u, int was_delivered)
{
	if (was_delivered && jdb == NULL)
		return;
	unit_forget(u);
}

static void
unit_forget(struct unit *u)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->ev[i].has_uuid)
			uuidset_del(&pending, u->ev[i].uuid);
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	size_t len = size * n;

	if (s->resp.len < RESP_MAX)
		buf_add(&s->resp, p, len < RESP_MAX - s->resp.len ? len :
		    RESP_MAX - s->resp.len);
	return len;
}

static void
start(struct slot *s, struct unit *u)
{
	const char *body;
	size_t len;

	s->u = u;
	u->attempts++;
	if (u->job != NULL) {
		gzpool_wait(u->job);
		if (u->job->rc == -1)
			errx(EXIT_RUNTIME, "gzip compression failed");
		body = u->job->gz.p;
		len = u->job->gz.len;
	} else {
		body_of(&s->body, u);
		body = s->body.p;
		len = s->body.len;
	}
	s->sent = len;
	s->resp.len = 0;
	s->ans.retry_after = -1;
	s->ans.json = 0;
	s->ans.resent = 0;
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	s->t0 = monotime();
	c.requests++;
	c.bytes += len;
	curl_multi_add_handle(multi, s->h);
	inflight++;
}

/* The bytes that went on the wire for the request s carried. */
static size_t
sent_bytes(const struct slot *s)
{
	return s->sent;
}

/* Messages shown for 401/403: the two usual mistakes. */
static void
auth_failure(long status, const char *resp)
{
	note("PostHog refused the project token (HTTP %ld): check that "
	    "POSTHOG_API_KEY (or --token-file) holds the project API key "
	    "(phc_...) of the project you migrate into, and that --host / "
	    "--region is that project's region (us or eu)%s%s", status,
	    *resp ? "; server said: " : "", resp);
}

static void
delivered(struct slot *s, struct unit *u, long status, double ms)
{
	unsigned char (*ids)[16] = xcalloc(u->n ? u->n : 1, 16);
	struct journal_claim *cl = NULL;
	size_t k = 0, ncl = 0;

	for (size_t i = 0; i < u->n; i++) {
		if (u->ev[i].has_uuid)
			memcpy(ids[k++], u->ev[i].uuid, 16);
		if (u->ev[i].identity) {
			if (cl == NULL)
				cl = xcalloc(u->n, sizeof(*cl));
			cl[ncl++] = u->ev[i].claim;
		}
	}
	if (jdb != NULL && k > 0 && journal_add(jdb, (const unsigned char
	    (*)[16])ids, k, cl, ncl) == -1) {
		char why[320];

		/*
		 * PostHog has them but the journal does not: not "delivered"
		 * in any count or receipt, since a re-run will send them
		 * again (identical copies, which PostHog collapses).  Stop:
		 * the next commit would fail the same way (a full disk).
		 */
		snprintf(why, sizeof(why), "accepted by PostHog but not "
		    "recorded in the journal: %s", journal_error(jdb));
		note("%s: %s", opt.journal_path, why);
		free(ids);
		free(cl);
		receipt(u, status, "fatal", sent_bytes(s), ms, why);
		fatal = 1;
		ready_prepend(u);
		return;
	}
	free(ids);
	free(cl);
	c.delivered += u->n;
	receipt(u, status, "delivered", sent_bytes(s),
	    ms, NULL);
	for (size_t i = 0; i < u->n; i++)
		mark_paid(&u->ev[i]);
	unit_done(u, 1);
	unit_free(u);
	settle_ready();
}

/* The server's answer, for a message: one line, the token masked. */
static const char *
answer(const struct slot *s)
{
	static char text[224];

	http_answer_text(&s->resp, text, sizeof(text), token, NULL);
	return text;
}

/* 400 or 413: halves go first in the queue until the culprit is alone. */
static void
bisect(struct slot *s, struct unit *u, long status, double ms)
{
	char why[512];

	if (u->n == 1) {
		const char *r = answer(s);
		if (status == 413)
			snprintf(why, sizeof(why), "PostHog refused the event "
			    "as too large (413)%s%s", *r ? ": " : "", r);
		else
			snprintf(why, sizeof(why), "PostHog refused the event "
			    "(%ld)%s%s", status, *r ? ": " : "", r);
		c.rejected++;
		say_reject(&u->ev[0], why);
		rejects_add(&rej, u->ev[0].file, u->ev[0].line, why,
		    u->data.p, u->ev[0].len, status);
		receipt(u, status, "rejected", sent_bytes(s), ms, NULL);
		mark_paid(&u->ev[0]);
		unit_forget(u);
		unit_free(u);
		settle_ready();
		return;
	}
	receipt(u, status, "split", sent_bytes(s), ms,
	    NULL);
	struct unit *a = unit_slice(u, 0, u->n / 2);
	struct unit *b = unit_slice(u, u->n / 2, u->n);
	ready_prepend(b);
	ready_prepend(a);
	unit_free(u);
}

static void
finish(struct slot *s, CURLcode cc)
{
	struct unit *u = s->u;
	double now = monotime(), ms = (now - s->t0) * 1000, wait;
	long status = 0;
	char err[HTTP_ERRLEN + 64];

	curl_multi_remove_handle(multi, s->h);
	inflight--;
	s->u = NULL;
	u->resent = s->ans.resent;
	c.resent += s->ans.resent;
	buf_addc(&s->resp, '\0');
	s->resp.len--;
	if (cc == CURLE_OK)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(err, sizeof(err), "%s", http_strerror(cc, s->errbuf));

	if (status >= 200 && status <= 299) {
		/*
		 * Capture answers JSON.  An HTML page from a proxy or portal
		 * with a 200 is not a delivery: retry, and report it.
		 */
		const char *b = s->resp.p;
		while (b && isspace((unsigned char)*b))
			b++;
		if (s->ans.json || (b && *b == '{'))
			return delivered(s, u, status, ms);
		snprintf(err, sizeof(err), "HTTP %ld but the answer is not "
		    "capture's JSON (a proxy?)", status);
		status = 0;
		cc = CURLE_WEIRD_SERVER_REPLY;
	} else if (status == 400 || status == 413)
		return bisect(s, u, status, ms);
	else if (status == 401 || status == 403) {
		auth_failure(status, answer(s));
		receipt(u, status, "fatal", sent_bytes(s), ms, NULL);
		fatal = 1;
		ready_prepend(u);
		return;
	} else if (cc == CURLE_OK && !retry_status(status)) {
		note("%s: HTTP %ld: %s (check --host)", opt.url, status,
		    answer(s));
		receipt(u, status, "fatal", sent_bytes(s), ms, NULL);
		fatal = 1;
		ready_prepend(u);
		return;
	} else if (cc == CURLE_OK)
		snprintf(err, sizeof(err), "HTTP %ld", status);
	else if (http_permanent(cc)) {
		/* A certificate that does not verify will not verify later. */
		note("%s: %s (not retried: fix the host or its certificate)",
		    opt.url, err);
		receipt(u, status, "fatal", sent_bytes(s), ms, err);
		fatal = 1;
		ready_prepend(u);
		return;
	}

	/* Retryable: network error, timeout, 408, 429, 5xx. */
	c.retries++;
	if (u->first_fail == 0)
		u->first_fail = now;
	wait = retry_wait(u->attempts, s->ans.retry_after);
	/* --retry-for bounds the waiting: the last wait never runs past it. */
	if (now + wait - u->first_fail > opt.retry_for) {
		note("%s: giving up after %.0f s of failures (--retry-for): "
		    "%s", opt.url, now - u->first_fail, err);
		receipt(u, status, "gave-up", sent_bytes(s), ms, err);
		fatal = 1;
		ready_prepend(u);
		return;
	}
	if (c.retries <= WARN_LIMIT)
		note("%s; retrying %zu events in %.1f s (attempt %d)", err,
		    u->n, wait, u->attempts + 1);
	receipt(u, status, "retry", sent_bytes(s), ms,
	    err);
	u->due = now + wait;
	ready_prepend(u);
}

static void
refill(void)
{
	double now = monotime();

	if (opt.rate <= 0)
		return;
	tokens += (now - last_refill) * opt.rate;
	if (tokens > (double)batch_limit())
		tokens = batch_limit();
	last_refill = now;
}

/* Start what may start; returns seconds until something else could. */
static double
dispatch(void)
{
	double now = monotime(), wait = 1;

	while (!fatal && !stop_signal && ready_head != NULL &&
	    inflight < opt.parallel) {
		struct unit *u = ready_head;
		if (u->due > now) {
			/* Retries wait in order: the first one due blocks. */
			return u->due - now < wait ? u->due - now : wait;
		}
		if (opt.rate > 0) {
			refill();
			if (tokens < (double)u->n) {
				double t = (u->n - tokens) / opt.rate;
				return t < wait ? t : wait;
			}
			tokens -= u->n;
		}
		ready_head = u->next;
		if (ready_head == NULL)
			ready_tail = NULL;
		for (int i = 0; i < opt.parallel; i++)
			if (slots[i].u == NULL) {
				start(&slots[i], u);
				break;
			}
	}
	return wait;
}

/*
 * With a head of the pipeline publishing its figures (amp-unpack -p),
 * the one line for the whole pipeline: share of the export read,
 * delivered, rate, ETA, errors.  Else ph-batch's own counts.
 */
static void
show_progress(int final)
{
	double t = monotime() - started, rate;
	uint64_t done, total;
	char e[32];

	if (!opt.progress || !progress_due(final))
		return;
	rate = t > 0 ? c.delivered / t : 0;
	if (progress_upstream(&done, &total) && total > 0) {
		human_hms(e, sizeof(e), done > 0 && total > done ?
		    t * (total - done) / done : 0);
		progress_draw(final, "%.0f%% of the export read, %llu "
		    "delivered, %llu skipped, %.0f events/s, ETA %s, %llu "
		    "rejected, %llu retries", 100.0 * done / total,
		    (unsigned long long)c.delivered,
		    (unsigned long long)(c.skipped + c.dup), rate, e,
		    (unsigned long long)c.rejected,
		    (unsigned long long)c.retries);
		return;
	}
	progress_draw(final, "%llu delivered, %llu skipped, %llu rejected, "
	    "%llu retries, %.0f events/s", (unsigned long long)c.delivered,
	    (unsigned long long)(c.skipped + c.dup),
	    (unsigned long long)c.rejected, (unsigned long long)c.retries,
	    rate);
}

static size_t
queued(void)
{
	size_t n = 0;

	for (struct unit *u = ready_head; u != NULL; u = u->next)
		n++;
	return n;
}

static struct slot *
slots_new(void)
{
	struct slot *s = xcalloc(opt.parallel, sizeof(*s));
	struct http_conf hc = { .prog = "ph-batch", .timeout = opt.timeout,
	    .insecure = opt.insecure };

	for (int i = 0; i < opt.parallel; i++) {
		CURL *h = http_easy(&hc, &s[i].ans, s[i].errbuf);

		s[i].h = h;
		s[i].hdrs = curl_slist_append(NULL,
		    "Content-Type: application/json");
		if (opt.gzip_level > 0)
			s[i].hdrs = curl_slist_append(s[i].hdrs,
			    "Content-Encoding: gzip");
		s[i].hdrs = curl_slist_append(s[i].hdrs, "Expect:");
		curl_easy_setopt(h, CURLOPT_URL, opt.url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, s[i].hdrs);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &s[i]);
		curl_easy_setopt(h, CURLOPT_PRIVATE, &s[i]);
	}
	return s;
}

static void
slots_free(void)
{
	for (int i = 0; i < opt.parallel; i++) {
		http_easy_free(slots[i].h);
		curl_slist_free_all(slots[i].hdrs);
		buf_free(&slots[i].body);
		buf_free(&slots[i].resp);
	}
	free(slots);
}

/* --dry-run: the bodies that would be sent, one per line, no network. */
static void
dry_run_flush(void)
{
	struct buf b = { 0 };

	while (ready_head != NULL) {
		struct unit *u = ready_head;
		ready_head = u->next;
		body_of(&b, u);
		buf_addc(&b, '\n');
		outfile_write(stdout, b.p, b.len, "stdout");
		c.delivered += u->n;
		unit_done(u, 1);
		unit_free(u);
	}
	ready_tail = NULL;
	buf_free(&b);
}

struct input {
	char	**files;
	int	  nfiles, cur;
	struct lines l;
	int	  open;
};

/*
 * The first line of an input: a BOM is skipped with a note; input that
 * belongs to another stage stops the run with one message (not a reject
 * for each line of a zip).
 */
static void
first_line(const char *name, const char **p, size_t *len)
{
	const char *why = stage_first(SK_POSTHOG, name, p, len, 1);

	if (why != NULL)
		errx(EXIT_DATAERR, "%s: %s", name, why);
}

/* Read lines while there is room; never block when requests are out. */
static void
read_lines(struct input *in)
{
	const char *p;
	size_t len;
	int r;

	while (!input_done && !fatal && !stop_signal &&
	    queued() < (size_t)opt.parallel * 2) {
		if (!in->open) {
			if (in->cur == in->nfiles) {
				input_done = 1;
				break;
			}
			if (lines_open(&in->l, in->files[in->cur], MAX_LINE,
			    1) == -1)
			{
				/* Like a signal: finish what is in flight. */
				warn("%s", in->files[in->cur]);
				fatal = 1;
				input_done = 1;
				break;
			}
			in->open = 1;
		}
		r = lines_next(&in->l, &p, &len);
		if (r == LINE_AGAIN)
			return;
		if ((r == LINE_OK || r == LINE_TOOLONG) && in->l.lineno == 1)
			first_line(in->l.name, &p, &len);
		if (r == LINE_OK) {
			last_nonl = in->l.nonl;
			take_line(in->l.name, in->l.lineno, p, len);
			continue;
		}
		if (r == LINE_TOOLONG) {
			char why[128];
			c.read++;
			snprintf(why, sizeof(why), "line of %zu bytes is too "
			    "long to be an event", len);
			reject_line(in->l.name, in->l.lineno, why, p,
			    len < LINES_HEAD ? len : LINES_HEAD, 0);
			continue;
		}
		if (r == LINE_ERROR)
			errx(EXIT_RUNTIME, "%s: %s", in->l.name, in->l.errmsg);
		/* LINE_EOF */
		lines_close(&in->l);
		in->open = 0;
		in->cur++;
	}
}

/*
 * The journal lookups of a burst of input share one read transaction:
 * one lock round trip for the burst, not one per event.
 */
static void
read_input(struct input *in)
{
	if (jdb != NULL && journal_read_begin(jdb) == -1) {
		note("%s", journal_error(jdb));
		fatal = 1;
		return;
	}
	read_lines(in);
	if (jdb != NULL) {
		journal_read_end(jdb);
		if (settling)
			settle_ready();
	}
}

static void
parse_rate(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || v <= 0 || end == s)
		errx(EXIT_USAGE, "--rate: expected N/s or N/min, got %s", s);
	if (strcmp(end, "/s") == 0 || strcmp(end, "/sec") == 0)
		opt.rate = v;
	else if (strcmp(end, "/min") == 0 || strcmp(end, "/m") == 0)
		opt.rate = v / 60;
	else if (strcmp(end, "/h") == 0 || strcmp(end, "/hour") == 0)
		opt.rate = v / 3600;
	else
		errx(EXIT_USAGE, "--rate: expected N/s or N/min, got %s", s);
}

static void
main_loop(struct input *in)
{
	double linger_wait;

	for (;;) {
		read_input(in);
		/* A partial batch goes when input ends or pauses too long. */
		if (building != NULL && building->n > 0 && (input_done ||
		    stop_signal || monotime() - building->born > LINGER)) {
			ready_append(building);
			building = NULL;
		}
		if (opt.dry_run) {
			dry_run_flush();
			if (input_done || fatal || stop_signal)
				return;
			continue;
		}
		double wait = dispatch();
		int running;
		curl_multi_perform(multi, &running);
		CURLMsg *m;
		int left, finished = 0;
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct slot *s;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			finish(s, m->data.result);
			finished++;
		}
		show_progress(0);
		if ((fatal || stop_signal) && inflight == 0)
			return;
		if (input_done && building == NULL && ready_head == NULL &&
		    inflight == 0)
			return;
		if (inflight == 0 && ready_head == NULL && input_done &&
		    building != NULL && building->n == 0)
			return;
		/* A slot came free, or halves wait: start them now. */
		if (finished > 0)
			continue;
		/* Sleep until input, a socket, a retry or a token is due. */
		linger_wait = building != NULL && building->n > 0 ?
		    LINGER - (monotime() - building->born) : 1;
		if (linger_wait < wait)
			wait = linger_wait;
		if (wait < 0.001)
			wait = 0.001;
		struct curl_waitfd wfd = { .fd = in->l.fd,
		    .events = CURL_WAIT_POLLIN };
		int want_input = in->open && !input_done &&
		    queued() < (size_t)opt.parallel * 2;
		curl_multi_poll(multi, want_input ? &wfd : NULL,
		    want_input ? 1 : 0, (int)(wait * 1000) + 1, NULL);
	}
}

static void
count_undelivered(struct input *in)
{
	for (struct unit *u = ready_head; u != NULL; u = u->next)
		c.undelivered += u->n;
	if (building != NULL)
		c.undelivered += building->n;
	for (int i = 0; i < opt.parallel && slots; i++)
		if (slots[i].u != NULL)
			c.undelivered += slots[i].u->n;
	/* Lines never read also remain to be sent. */
	if (!input_done)
		c.undelivered += (in->open || in->cur < in->nfiles) ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "batch-bytes",	required_argument, NULL, 'B' },
		{ "batch-size",		required_argument, NULL, 'b' },
		{ "dry-run",		no_argument,	   NULL, 'n' },
		{ "app-host",		required_argument, NULL, 'A' },
		{ "gzip-level",		required_argument, NULL, 'z' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "host",		required_argument, NULL, 'H' },
		{ "insecure",		no_argument,	   NULL, 'k' },
		{ "journal",		required_argument, NULL, 'j' },
		{ "max-event-bytes",	required_argument, NULL, 'E' },
		{ "no-gzip",		no_argument,	   NULL, 'Z' },
		{ "parallel",		required_argument, NULL, 'P' },
		{ "personal-key-file",	required_argument, NULL, 'X' },
		{ "project",		required_argument, NULL, 'I' },
		{ "progress",		no_argument,	   NULL, 'p' },
		{ "quiet",		no_argument,	   NULL, 'q' },
		{ "rate",		required_argument, NULL, 'r' },
		{ "rebind",		no_argument,	   NULL, 'W' },
		{ "region",		required_argument, NULL, 'R' },
		{ "rejects",		required_argument, NULL, 'x' },
		{ "retry-for",		required_argument, NULL, 'T' },
		{ "timeout",		required_argument, NULL, 't' },
		{ "token-file",		required_argument, NULL, 'K' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ NULL,			0,		   NULL, 0 }
	};
	struct input in = { 0 };
	char err[512], resent[128] = "";
	uint64_t u;
	int ch, rc;
	char *stdin_only[] = { "-" };

	while ((ch = getopt_long(argc, argv, "hj:npq", longopts, NULL)) != -1) {
		cli_once(longopts, ch, "BbzKPXIrxTtEj", "HR");
		switch (ch) {
		case 'B':
			if (cli_u64(optarg, 1024, 100 * 1024 * 1024, &u) == -1)
				errx(EXIT_USAGE, "--batch-bytes: expected 1024 "
				    "to 104857600, got %s", optarg);
			opt.batch_bytes = u;
			break;
		case 'b':
			if (cli_u64(optarg, 1, 1000000, &u) == -1)
				errx(EXIT_USAGE, "--batch-size: expected 1 to "
				    "1000000, got %s", optarg);
			opt.batch_size = u;
			break;
		case 'E':
			if (cli_u64(optarg, 1, MAX_LINE, &u) == -1)
				errx(EXIT_USAGE, "--max-event-bytes: bad size "
				    "%s", optarg);
			opt.max_event = u;
			break;
		case 'A':
			opt.app = optarg;
			break;
		case 'H':
			opt.host = optarg;
			break;
		case 'I':
			opt.project = phapi_project_arg(optarg);
			break;
		case 'j':
			opt.journal_path = optarg;
			break;
		case 'W':
			opt.rebind = 1;
			break;
		case 'X':
			opt.pkey_file = optarg;
			break;
		case 'K':
			opt.token_file = optarg;
			break;
		case 'k':
			opt.insecure = 1;
			break;
		case 'n':
			opt.dry_run = 1;
			break;
		case 'P':
			if (cli_u64(optarg, 1, 64, &u) == -1)
				errx(EXIT_USAGE, "--parallel: expected 1 to "
				    "64, got %s", optarg);
			opt.parallel = u;
			break;
		case 'p':
			opt.progress = 1;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'R':
			opt.host = http_region(optarg, POSTHOG_US_CAPTURE,
			    POSTHOG_EU_CAPTURE);
			break;
		case 'r':
			parse_rate(optarg);
			break;
		case 'T':
			opt.retry_for = http_duration("--retry-for", optarg, 0);
			break;
		case 't':
			opt.timeout = http_duration("--timeout", optarg, 1);
			break;
		case 'x':
			opt.rejects_path = optarg;
			break;
		case 'z':
			if (cli_u64(optarg, 1, 9, &u) == -1)
				errx(EXIT_USAGE, "--gzip-level: 1 to 9, not %s",
				    optarg);
			opt.gzip_level = u;
			break;
		case 'Z':
			opt.gzip_level = 0;
			break;
		case 'V':
			cli_version("ph-batch");
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

	if (!opt.dry_run) {
		if (opt.host == NULL && ((opt.host = getenv("POSTHOG_HOST")) ==
		    NULL || *opt.host == '\0'))
			errx(EXIT_USAGE, "no PostHog host: give --host URL, "
			    "--region us|eu, or set POSTHOG_HOST");
		if ((token = secret_read("POSTHOG_API_KEY", opt.token_file,
		    err, sizeof(err))) == NULL)
			errx(EXIT_USAGE, "%s", err);
		if (project_token_check(token, err, sizeof(err)) == -1)
			errx(EXIT_USAGE, "%s", err);
		opt.url = http_url("--host", opt.host, "/batch/");
	}
	/* A dry run reads the journal (if there is one) but never writes. */
	if (opt.journal_path != NULL && (!opt.dry_run ||
	    access(opt.journal_path, F_OK) == 0) &&
	    (jdb = journal_open(opt.journal_path, opt.dry_run, err,
	    sizeof(err))) == NULL)
		errx(EXIT_RUNTIME, "journal %s", err);
	rejects_open(&rej, opt.rejects_path);
	parser = json_parser_new();
	uuidset_init(&pending);
	http_global();
	/*
	 * Compression workers: as many as the other cores, up to the
	 * requests in flight (with one core, bodies are compressed in line).
	 */
	if (opt.gzip_level > 0 && !opt.dry_run) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		int n = ncpu > 1 ? (int)ncpu - 1 : 0;
		gzpool_start(n < opt.parallel ? n : opt.parallel);
	}
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)opt.parallel);
	if (!opt.dry_run)
		slots = slots_new();
	stop_on_signals();
	if (opt.progress) {
		progress_init("ph-batch");
		progress_claim();
	}
	started = last_refill = monotime();
	tokens = batch_limit();
	settling = jdb != NULL && !opt.dry_run;
	if (settling && journal_lock_sender(jdb,
	    opt.journal_path, err, sizeof(err)) == -1)
		errx(EXIT_RUNTIME, "journal %s", err);
	if (!opt.dry_run)
		preflight();
	if (jdb != NULL && !opt.dry_run) {
		char fp[32], host[1024], was[8];

		/* A deleted journal must not turn into a silent full re-send. */
		if (journal_meta_get(jdb, "host", was, sizeof(was)) == 0 &&
		    journal_count(jdb) == 0)
			note("%s: new journal: every event will be sent",
			    opt.journal_path);
		token_fp(fp, sizeof(fp));
		snprintf(host, sizeof(host), "%.*s", (int)(strlen(opt.url) -
		    strlen("/batch/")), opt.url);
		if (journal_bind(jdb, host, opt.project, fp, opt.rebind, err,
		    sizeof(err)) == -1)
			errx(EXIT_RUNTIME, "journal %s: %s", opt.journal_path,
			    err);
		if (journal_run_begin(jdb, opt.url) == -1)
			note("%s", journal_error(jdb));
	}

	in.files = argc > 0 ? argv : stdin_only;
	in.nfiles = argc > 0 ? argc : 1;
	main_loop(&in);
	count_undelivered(&in);
	if (in.open)		/* stopped before its end */
		lines_close(&in.l);

	show_progress(1);
	progress_release();
	if (c.dup > 0)
		note("%llu events had a uuid seen earlier in this run and "
		    "were sent once", (unsigned long long)c.dup);
	if (c.recent > 0)
		note("%llu events are less than 48 hours old: PostHog asks "
		    "that historical imports be older (they are still "
		    "billed)", (unsigned long long)c.recent);
	if (stop_signal)
		note("stopped by signal %d: run the same command again to "
		    "send the rest", (int)stop_signal);
	if (c.resent > 0)
		snprintf(resent, sizeof(resent), "; %llu requests sent again "
		    "by libcurl on a fresh connection (their events may be "
		    "in PostHog twice)", (unsigned long long)c.resent);
	if (!opt.quiet || fatal || c.rejected || c.resent)
		fprintf(stderr, "ph-batch: %llu read, %llu %s, %llu "
		    "already delivered, %llu rejected, %s%llu requests, "
		    "%llu retries, %.1f s%s\n",
		    (unsigned long long)c.read,
		    (unsigned long long)c.delivered,
		    opt.dry_run ? "printed (dry run)" : "delivered",
		    (unsigned long long)c.skipped,
		    (unsigned long long)c.rejected,
		    fatal || stop_signal ? "some undelivered, " : "",
		    (unsigned long long)c.requests,
		    (unsigned long long)c.retries, monotime() - started, resent);
	if (!opt.quiet && !opt.dry_run)
		fprintf(stderr, "ph-batch: project token %s\n", token_checked);
	if (!opt.quiet && settled > 0)
		note("%llu archive members settled in the journal: amp-unpack "
		    "-j skips them", (unsigned long long)settled);
	if (jdb != NULL && !opt.dry_run) {
		struct journal_run jr = { c.read, c.delivered, c.skipped + c.dup,
		    c.rejected, c.undelivered, c.requests, c.retries, c.bytes };
		journal_run_update(jdb, &jr, fatal || stop_signal ?
		    "incomplete" : c.rejected ? "rejects" : "complete");
	}
	rc = 0;
	if (fatal || stop_signal || c.undelivered > 0 || cut)
		rc = EXIT_RUNTIME;
	else if (c.rejected > 0)
		rc = EXIT_DATAERR;
	if (rejects_close(&rej) == -1 || outfile_close(stdout, "stdout") == -1)
		rc = EXIT_RUNTIME;
	if (opt.gzip_level > 0 && !opt.dry_run)
		gzpool_stop();
	if (slots)
		slots_free();
	curl_multi_cleanup(multi);
	journal_close(jdb);
	json_parser_free(parser);
	uuidset_free(&pending);
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return rc;
}
