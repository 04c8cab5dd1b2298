/*
 * phapi: PostHog's own word on a migration, through its APIs.  ph-batch
 * asks it before the first batch whether the project token belongs to
 * the intended project on the intended host (capture answers 200 to any
 * well-formed token and drops the events of an unknown one:
 * rust/capture/src/token.rs, PostHog/posthog@14b6bb00, "We don't validate
 * these against team lookup at the edge yet"); ph-verify asks it which of
 * the migration's events are stored (HogQL through the query API).  Both
 * must agree with PostHog on hosts (ingestion us.i/eu.i.posthog.com, the
 * private API us/eu.posthog.com, one URL when self-hosted), on the
 * personal API key's use (Bearer, never sent to capture, never printed)
 * and on what each answer means, so that "the token is right" and "the
 * events are there" are decided the same way everywhere.
 */
#ifndef PHAPI_H
#define PHAPI_H
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "json.h"

/*
 * --project's value: a project's number, as in its URL; else a usage
 * error (exit 2) that says so.  ph-batch and ph-verify take it alike.
 */
const char *phapi_project_arg(const char *arg);

/* The private-API host that goes with a capture host (malloc'd). */
char	*phapi_app_host(const char *capture_host);

/*
 * Is token a project on capture_host?  POST /flags/?v=2 evaluates the
 * token (rust/feature-flags/src/api/errors.rs, PostHog/posthog@014f09c6:
 * an unknown token is 401); a GET would answer 200 without looking.
 * 1 yes, 0 no (why in msg), -1 could not tell (why in msg).
 */
int	 phapi_flags_check(const char *capture_host, const char *token,
	    const struct http_conf *, char *msg, size_t msglen);

struct phapi {
	void			*h;
	struct http_answer	 ans;
	char			 errbuf[HTTP_ERRLEN];
	char			*app, *project, *auth;
	const char		*key;		/* to mask in server text */
	struct json_parser	*jp;
	struct buf		 body, resp;
	double			 retry_for;	/* per request */
	uint64_t		 queries;	/* HTTP requests made */
	uint64_t		 max_queries;	/* 0: no bound */
	uint64_t		 throttled;	/* 429 answers */
	int			 fatal;		/* stop: a refusal */
	char			 err[512];
};

void	 phapi_open(struct phapi *, const char *app_host, const char *project,
	    const char *key, const struct http_conf *, double retry_for,
	    uint64_t max_queries);
void	 phapi_close(struct phapi *);
/*
 * GET /api/projects/<id>/ and the project token in it (api_token),
 * needing the key's project:read scope.  0, or -1 with p->err.
 */
int	 phapi_project_token(struct phapi *, char *token, size_t len);
/*
 * A HogQL query (refresh force_blocking: never a cached answer), retried
 * on 429 (Retry-After), 202 (not computed yet), 5xx and network errors
 * within retry_for and the query budget.  The rows (a J_ARR of J_ARR)
 * are valid until the next call.  NULL with p->err; p->fatal set when
 * retrying cannot help (401, 403, 404, 400) or the budget is spent.
 */
struct jval *phapi_query(struct phapi *, const char *hogql);

#endif
