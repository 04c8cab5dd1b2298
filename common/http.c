/* http: libcurl set up once, the same way for every program. */
#include <curl/curl.h>

#include <err.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "http.h"
#include "retry.h"
#include "secret.h"
#include "xalloc.h"

_Static_assert(HTTP_ERRLEN >= CURL_ERROR_SIZE, "HTTP_ERRLEN too small");

static int	 global_done;

static void
global_cleanup(void)
{
	curl_global_cleanup();
}

void
http_global(void)
{
	if (global_done)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		errx(EXIT_RUNTIME, "cannot initialise libcurl");
	global_done = 1;
	atexit(global_cleanup);
}

/*
 * Every response starts with a status line, also the 100s and those of
 * redirects and proxies: forget what the previous one said, so a
 * Retry-After belongs to the answer that carried it.
 */
static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_answer *a = arg;
	size_t len = size * n;
	char line[256];

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);

		a->retry_after = -1;
		a->json = 0;
		a->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
	} else if (len < sizeof(line)) {
		memcpy(line, p, len);
		line[len] = '\0';
		if (strncasecmp(line, "Retry-After:", 12) == 0)
			a->retry_after = retry_after_parse(line + 12);
		else if (strncasecmp(line, "Content-Type:", 13) == 0)
			a->json = strcasestr(line + 13, "json") != NULL;
	}
	return len;
}

/*
 * libcurl says in its verbose text when it sends a request again on a
 * fresh connection (lib/transfer.c Curl_retry_request: "Connection died,
 * retrying a fresh connect"; lib/multi.c: "Re-used connection seems
 * dead, get a new one").  Nothing else reports it, and a re-sent batch
 * is a duplicate if the first copy was taken.
 */
static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	static const char died[] = "retrying a fresh connect";
	static const char dead[] = "seems dead, get a new one";
	struct http_answer *a = arg;

	(void)h;

	if (type == CURLINFO_TEXT && (memmem(data, size, died,
	    sizeof(died) - 1) != NULL || memmem(data, size, dead,
	    sizeof(dead) - 1) != NULL))
		a->resent++;
	return 0;
}

void *
http_easy(const struct http_conf *c, struct http_answer *a, char *errbuf)
{
	CURL *h;
	char agent[64];

	http_global();
	if ((h = curl_easy_init()) == NULL)
		errx(EXIT_RUNTIME, "cannot initialise libcurl");
	a->status = 0;
	a->retry_after = -1;
	a->json = 0;
	a->resent = 0;
	errbuf[0] = '\0';
	snprintf(agent, sizeof(agent), "amp2ph-%s/%s", c->prog,
	    AMP2PH_VERSION);
	curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
	/* Only what the URLs of --host can mean; no file://, no gopher. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)((c->connect_timeout
	    > 0 ? c->connect_timeout : 15) * 1000));
	if (c->timeout > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
		    (long)(c->timeout * 1000));
	if (c->stall > 0) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->stall);
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, a);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return h;
}

void
http_easy_free(void *h)
{
	if (h != NULL)
		curl_easy_cleanup(h);
}

const char *
http_strerror(int code, const char *errbuf)
{
	return errbuf != NULL && errbuf[0] != '\0' ? errbuf :
	    curl_easy_strerror((CURLcode)code);
}

int
http_permanent(int code)
{
	switch ((CURLcode)code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return 1;
	default:
		return 0;
	}
}

char *
http_url(const char *opt, const char *base, const char *path)
{
	size_t bl = strlen(base), pl = strlen(path);
	char *u;

	if (strncmp(base, "http://", 7) != 0 &&
	    strncmp(base, "https://", 8) != 0)
		errx(EXIT_USAGE, "%s: expected an http:// or https:// URL, "
		    "got %s", opt, base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	u = xmalloc(bl + pl + 1);
	memcpy(u, base, bl);
	memcpy(u + bl, path, pl + 1);
	return u;
}

const char *
http_region(const char *arg, const char *us, const char *eu)
{
	if (strcmp(arg, "us") == 0)
		return us;
	if (strcmp(arg, "eu") == 0)
		return eu;
	errx(EXIT_USAGE, "--region: us or eu, not %s", arg);
}

double
http_duration(const char *opt, const char *arg, double min)
{
	double v;

	if (cli_duration(arg, &v) == -1 || v < min) {
		if (min > 0)
			errx(EXIT_USAGE, "%s: expected a duration of at least "
			    "%gs, like 30s, 15m or 1h: %s", opt, min, arg);
		errx(EXIT_USAGE, "%s: expected a duration like 90s, 15m, "
		    "1h: %s", opt, arg);
	}
	return v;
}

struct sink {
	struct buf	*out;
	size_t		 max;
};

static size_t
sink_cb(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->out->len < s->max)
		buf_add(s->out, p, len < s->max - s->out->len ? len :
		    s->max - s->out->len);
	return len;
}

int
http_request(void *h, const char *method, const char *url,
    const char *const *headers, const char *body, size_t len,
    struct buf *out, size_t max)
{
	struct curl_slist *hl = NULL;
	struct sink s = { out, max };
	CURLcode cc;

	out->len = 0;
	for (; headers != NULL && *headers != NULL; headers++)
		hl = curl_slist_append(hl, *headers);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	} else
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	return (int)cc;
}

void
http_answer_text(const struct buf *m, char *out, size_t len, const char *s1,
    const char *s2)
{
	size_t n = 0;

	for (size_t i = 0; i < m->len && n + 1 < len && n < 200; i++) {
		unsigned char ch = m->p[i];

		if (ch == '\r' || ch == '\n' || ch == '\t')
			ch = ' ';
		if (ch < 0x20 || ch == 0x7f)
			continue;
		if (ch == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = ch;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	secret_mask(out, s1);
	secret_mask(out, s2);
}
