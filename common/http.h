/*
 * http: the one file that sets up libcurl.  amp-export (GET of Export API
 * archives, streamed to a .part file), ph-batch (POST /batch/ through a
 * multi handle with --parallel slots) and ph-verify (HogQL queries and
 * project checks, one at a time) keep their own transfer loops, but every
 * handle they use is made here.  They must agree because the same user
 * runs all three against the same network: the protocols allowed, TLS
 * verification, timeouts, the user agent, how an answer's Retry-After and
 * content type are read (reset for every response, so a 429's Retry-After
 * never leaks into the next answer on a reused handle), which failures are
 * permanent, and what --host, --region, --timeout, --retry-for and
 * --insecure mean.  Only the two engines include <curl/curl.h>; everyone
 * else goes through http_request().
 */
#ifndef HTTP_H
#define HTTP_H
#include <stddef.h>

#include "buf.h"

#define HTTP_ERRLEN	256	/* CURL_ERROR_SIZE, checked in http.c */

struct http_conf {
	const char	*prog;		/* user agent amp2ph-<prog>/<version> */
	double		 timeout;	/* whole transfer, seconds; 0: none */
	double		 stall;		/* cut a transfer idle this long; 0: none */
	double		 connect_timeout;	/* 0: 15 s */
	int		 insecure;	/* --insecure: no TLS verification */
};

/* What the header callback learns of the answer being received. */
struct http_answer {
	long		 status;	/* of the latest status line */
	double		 retry_after;	/* seconds, -1: none */
	int		 json;		/* Content-Type names json */
	/*
	 * Requests libcurl sent again on its own because a reused
	 * connection died before an answer came: the server may have
	 * taken the first one.  Not reset by a new answer: the engine
	 * zeroes it before each transfer.
	 */
	int		 resent;
};

/* curl_global_init once (errx on failure); cleaned up at exit. */
void		 http_global(void);
/*
 * A new easy handle (a CURL *) with the shared options, its header
 * callback filling *a and its error text going to errbuf[HTTP_ERRLEN].
 * The caller sets URL, body and write callback.
 */
void		*http_easy(const struct http_conf *, struct http_answer *a,
		    char *errbuf);
void		 http_easy_free(void *);
/* The error text of a failed transfer: errbuf if set, else curl's. */
const char	*http_strerror(int code, const char *errbuf);
/*
 * 1 when a failed transfer will fail the same way however often it is
 * tried (a TLS certificate or host name that does not verify, a protocol
 * that is not allowed, a malformed URL): stop, do not retry.
 */
int		 http_permanent(int code);

/*
 * base (checked: http:// or https://; trailing slashes dropped) followed
 * by path; errx(EXIT_USAGE) naming opt when base is not a URL.
 */
char		*http_url(const char *opt, const char *base, const char *path);
/* --region us|eu: us or eu, else errx(EXIT_USAGE). */
const char	*http_region(const char *arg, const char *us, const char *eu);
/* PostHog's cloud hosts for a region. */
#define POSTHOG_US_CAPTURE	"https://us.i.posthog.com"
#define POSTHOG_EU_CAPTURE	"https://eu.i.posthog.com"
#define POSTHOG_US_APP		"https://us.posthog.com"
#define POSTHOG_EU_APP		"https://eu.posthog.com"
/*
 * --timeout / --retry-for: a duration of at least min seconds, else
 * errx(EXIT_USAGE) with the option's name and an example.
 */
double		 http_duration(const char *opt, const char *arg, double min);

/*
 * A blocking request on an easy handle made by http_easy(): method "GET"
 * or "POST" (body of len bytes), extra headers (NULL-terminated, may be
 * NULL).  The answer's first max bytes go to r->body (cleared first).
 * Returns 0 when an answer came (whatever its status, in a->status), or
 * the curl code of the failure (text via http_strerror).
 */
int		 http_request(void *easy, const char *method, const char *url,
		    const char *const *headers, const char *body, size_t len,
		    struct buf *out, size_t max);
/*
 * The start of a server's answer for a message: on one line, controls
 * dropped, spaces folded, at most 200 bytes, every copy of the secrets
 * s1 and s2 (either may be NULL) masked, since answers may echo a key.
 */
void		 http_answer_text(const struct buf *answer, char *out,
		    size_t len, const char *s1, const char *s2);

#endif
