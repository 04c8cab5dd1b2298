/* phapi: PostHog's flags check, project API and HogQL query API. */
#include <ctype.h>
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "jsonw.h"
#include "phapi.h"
#include "retry.h"
#include "secret.h"
#include "stop.h"
#include "xalloc.h"

#define RESP_MAX	(64 * 1024 * 1024)	/* 50,000 uuids fit easily */

const char *
phapi_project_arg(const char *arg)
{
	uint64_t u;

	if (cli_u64(arg, 1, INT64_MAX, &u) == -1)
		errx(EXIT_USAGE, "--project: expected the project's number (in "
		    "its URL), got %s", arg);
	return arg;
}

char *
phapi_app_host(const char *capture)
{
	static const struct { const char *in, *app; } cloud[] = {
		{ POSTHOG_US_CAPTURE, POSTHOG_US_APP },
		{ POSTHOG_EU_CAPTURE, POSTHOG_EU_APP },
	};
	size_t n = strlen(capture);

	while (n > 0 && capture[n - 1] == '/')
		n--;
	for (size_t i = 0; i < sizeof(cloud) / sizeof(cloud[0]); i++)
		if (strlen(cloud[i].in) == n &&
		    strncmp(cloud[i].in, capture, n) == 0)
			return xstrdup(cloud[i].app);
	/* Self-hosted PostHog serves capture and its API on one URL. */
	return xstrndup(capture, n);
}

int
phapi_flags_check(const char *capture, const char *token,
    const struct http_conf *hc, char *msg, size_t msglen)
{
	struct http_answer a;
	struct buf body = { 0 }, resp = { 0 };
	char errbuf[HTTP_ERRLEN], text[320], *url;
	const char *hdr[] = { "Content-Type: application/json", NULL };
	void *h = http_easy(hc, &a, errbuf);
	int cc, r;

	url = http_url("--host", capture, "/flags/?v=2");
	buf_adds(&body, "{\"token\":");
	jsonw_cstr(&body, token);
	buf_adds(&body, ",\"distinct_id\":\"amp2ph-preflight\"}");
	cc = http_request(h, "POST", url, hdr, body.p, body.len, &resp, 4096);
	http_answer_text(&resp, text, sizeof(text), token, NULL);
	if (cc != 0) {
		snprintf(msg, msglen, "%s", http_strerror(cc, errbuf));
		r = -1;
	} else if (a.status == 200) {
		r = 1;
	} else if (a.status == 401) {
		snprintf(msg, msglen, "%s answers that this project token is "
		    "not a project there (HTTP 401%s%s)", capture,
		    *text ? ": " : "", text);
		r = 0;
	} else {
		snprintf(msg, msglen, "%s/flags/ answered HTTP %ld%s%s",
		    capture, a.status, *text ? ": " : "", text);
		r = -1;
	}
	free(url);
	buf_free(&body);
	buf_free(&resp);
	http_easy_free(h);
	return r;
}

void
phapi_open(struct phapi *p, const char *app, const char *project,
    const char *key, const struct http_conf *hc, double retry_for,
    uint64_t max_queries)
{
	size_t n;

	memset(p, 0, sizeof(*p));
	p->h = http_easy(hc, &p->ans, p->errbuf);
	p->app = http_url("--app-host", app, "");
	p->project = xstrdup(project);
	p->key = key;
	n = strlen(key) + 32;
	p->auth = xmalloc(n);
	snprintf(p->auth, n, "Authorization: Bearer %s", key);
	p->jp = json_parser_new();
	p->retry_for = retry_for;
	p->max_queries = max_queries;
}

void
phapi_close(struct phapi *p)
{
	http_easy_free(p->h);
	free(p->app);
	free(p->project);
	if (p->auth != NULL) {
		explicit_bzero(p->auth, strlen(p->auth));
		free(p->auth);
	}
	json_parser_free(p->jp);
	buf_free(&p->body);
	buf_free(&p->resp);
}

/* What a refusal means for the user, by status. */
static void
refused(struct phapi *p, const char *what, const char *text)
{
	long st = p->ans.status;
	const char *fix;

	if (st == 401)
		fix = "the personal API key was not accepted: check "
		    "POSTHOG_PERSONAL_API_KEY (a personal key, phx_..., from "
		    "your user settings) and that --region or --app-host is "
		    "the project's";
	else if (st == 403)
		fix = what[0] == 'q' ? "the personal API key may not query "
		    "this project: give it the query:read scope and access "
		    "to the project" : "the personal API key may not read "
		    "this project: give it the project:read scope and "
		    "access to the project";
	else if (st == 404)
		fix = "no such project on this host: check --project (the "
		    "number in the project's URL) and --region or --app-host";
	else if (st == 400)
		fix = "PostHog refused the query (a bug in amp2ph, or a "
		    "PostHog that speaks another HogQL)";
	else
		fix = "unexpected answer";
	snprintf(p->err, sizeof(p->err), "%s/api/projects/%s/ (%s): HTTP "
	    "%ld: %s%s%s", p->app, p->project, what, st, fix,
	    *text ? "; server said: " : "", text);
	p->fatal = 1;
}

/*
 * One request, tried again while the answer says "later" (429 with its
 * Retry-After, 202 not computed yet, 5xx, a network failure) and the
 * budget allows.  0 with the answer in p->resp, or -1.
 */
static int
request(struct phapi *p, const char *what, const char *method,
    const char *url, const char *body, size_t len)
{
	const char *hdr[] = { p->auth, "Content-Type: application/json",
	    NULL };
	char text[320];
	double first = 0;
	int cc;

	for (int attempt = 1;; attempt++) {
		double wait, now;

		if (p->max_queries > 0 && p->queries >= p->max_queries) {
			snprintf(p->err, sizeof(p->err), "the query budget "
			    "(--max-queries %llu) is spent",
			    (unsigned long long)p->max_queries);
			p->fatal = 1;
			return -1;
		}
		if (stop_signal) {
			snprintf(p->err, sizeof(p->err), "stopped by signal");
			p->fatal = 1;
			return -1;
		}
		p->queries++;
		cc = http_request(p->h, method, url, hdr, body, len, &p->resp,
		    RESP_MAX);
		http_answer_text(&p->resp, text, sizeof(text), p->key, NULL);
		if (cc == 0 && p->ans.status == 200)
			return 0;
		if (cc == 0 && (p->ans.status == 400 || p->ans.status == 401 ||
		    p->ans.status == 403 || p->ans.status == 404)) {
			refused(p, what, text);
			return -1;
		}
		if (cc != 0 && http_permanent(cc)) {
			snprintf(p->err, sizeof(p->err), "%s: %s", p->app,
			    http_strerror(cc, p->errbuf));
			p->fatal = 1;
			return -1;
		}
		if (cc == 0 && p->ans.status != 202 && p->ans.status != 429 &&
		    !retry_status(p->ans.status)) {
			refused(p, what, text);
			return -1;
		}
		if (cc == 0 && p->ans.status == 429)
			p->throttled++;
		now = monotime();
		if (first == 0)
			first = now;
		wait = retry_wait(attempt, cc == 0 ? p->ans.retry_after : -1);
		/* --retry-for bounds the whole wait, the last one included. */
		if (now + wait - first > p->retry_for) {
			if (cc != 0)
				snprintf(p->err, sizeof(p->err), "%s: %s; gave "
				    "up after %.0f s (--retry-for)", p->app,
				    http_strerror(cc, p->errbuf), now - first);
			else
				snprintf(p->err, sizeof(p->err), "%s: HTTP %ld; "
				    "gave up after %.0f s (--retry-for)",
				    p->app, p->ans.status, now - first);
			p->fatal = 1;
			return -1;
		}
		if (cc == 0 && p->ans.status == 429)
			warnx("PostHog's query API is rate-limiting (HTTP 429)"
			    "; waiting %.0f s", wait);
		else if (cc != 0)
			warnx("%s: %s; retrying in %.0f s", p->app,
			    http_strerror(cc, p->errbuf), wait);
		else
			warnx("%s: HTTP %ld; retrying in %.0f s", p->app,
			    p->ans.status, wait);
		struct timespec ts = { (time_t)wait,
		    (long)((wait - (time_t)wait) * 1e9) };
		while (nanosleep(&ts, &ts) == -1 && !stop_signal)
			;
	}
}

static struct jval *
parse(struct phapi *p, const char *what)
{
	char e[128];
	struct jval *v = json_parse(p->jp, p->resp.p ? p->resp.p : "",
	    p->resp.len, e, sizeof(e));

	if (v == NULL || v->type != J_OBJ) {
		snprintf(p->err, sizeof(p->err), "%s/api/projects/%s/ (%s): "
		    "the answer is not JSON%s%s", p->app, p->project, what,
		    v == NULL ? ": " : "", v == NULL ? e : "");
		p->fatal = 1;
		return NULL;
	}
	return v;
}

int
phapi_project_token(struct phapi *p, char *token, size_t len)
{
	char *url;
	struct jval *v, *t;
	size_t n = strlen(p->app) + strlen(p->project) + 32;

	url = xmalloc(n);
	snprintf(url, n, "%s/api/projects/%s/", p->app, p->project);
	if (request(p, "project", "GET", url, NULL, 0) == -1) {
		free(url);
		return -1;
	}
	free(url);
	if ((v = parse(p, "project")) == NULL)
		return -1;
	t = json_get(v, "api_token");
	if (t == NULL || t->type != J_STR || t->n == 0 || t->n >= len) {
		snprintf(p->err, sizeof(p->err), "%s/api/projects/%s/: no "
		    "api_token in the answer", p->app, p->project);
		p->fatal = 1;
		return -1;
	}
	memcpy(token, t->u.s, t->n);
	token[t->n] = '\0';
	return 0;
}

struct jval *
phapi_query(struct phapi *p, const char *hogql)
{
	char *url;
	struct jval *v, *rows;
	size_t n = strlen(p->app) + strlen(p->project) + 32;

	p->body.len = 0;
	buf_adds(&p->body, "{\"query\":{\"kind\":\"HogQLQuery\",\"query\":");
	jsonw_cstr(&p->body, hogql);
	/*
	 * force_blocking: computed now, never a cached answer (posthog/
	 * hogql_queries/query_runner.py execution_mode_from_refresh,
	 * PostHog/posthog): a verifier acts on these counts.
	 */
	buf_adds(&p->body, "},\"refresh\":\"force_blocking\"}");
	url = xmalloc(n);
	snprintf(url, n, "%s/api/projects/%s/query/", p->app, p->project);
	if (request(p, "query", "POST", url, p->body.p, p->body.len) == -1) {
		free(url);
		return NULL;
	}
	free(url);
	if ((v = parse(p, "query")) == NULL)
		return NULL;
	rows = json_get(v, "results");
	if (rows == NULL || rows->type != J_ARR) {
		snprintf(p->err, sizeof(p->err), "%s/api/projects/%s/query/: "
		    "no results in the answer", p->app, p->project);
		p->fatal = 1;
		return NULL;
	}
	for (uint32_t i = 0; i < rows->n; i++)
		if (rows->u.kids[i].type != J_ARR) {
			snprintf(p->err, sizeof(p->err), "%s/api/projects/%s/"
			    "query/: a result row is not a list", p->app,
			    p->project);
			p->fatal = 1;
			return NULL;
		}
	return rows;
}
