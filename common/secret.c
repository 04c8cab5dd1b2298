/* secret: reading keys from the environment or a file, and token checks. */
#include <sys/stat.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "xalloc.h"

static char *
trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int
secret_read_file(const char *file, char **out, int n, char *err,
    size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *fp;
	int i;

	if ((fp = fopen(file, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & 077) != 0)
		warnx("%s: other users can read the key in it (chmod 600 %s)",
		    file, file);
	for (i = 0; i < n; i++) {
		if (getline(&line, &cap, fp) == -1)
			break;
		out[i] = xstrdup(trim(line));
		if (*out[i] == '\0') {
			free(out[i]);
			break;
		}
	}
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(fp);
	if (i < n) {
		while (i-- > 0)
			free(out[i]);
		snprintf(err, errlen, "%s: expected %s", file, n == 1 ?
		    "one non-empty line" : n == 2 ? "two non-empty lines" :
		    "more lines");
		return -1;
	}
	return 0;
}

char *
secret_read(const char *env, const char *file, char *err, size_t errlen)
{
	char line[4096], *v;

	if (file != NULL)
		return secret_read_file(file, &v, 1, err, errlen) == 0 ? v :
		    NULL;
	if ((v = getenv(env)) == NULL) {
		snprintf(err, errlen, "%s is not set (or give a key file)", env);
		return NULL;
	}
	snprintf(line, sizeof(line), "%s", v);
	v = trim(line);
	if (*v == '\0') {
		snprintf(err, errlen, "%s is empty", env);
		return NULL;
	}
	v = xstrdup(v);
	explicit_bzero(line, sizeof(line));
	return v;
}

int
project_token_check(const char *t, char *err, size_t errlen)
{
	if (strncmp(t, "phx_", 4) == 0) {
		snprintf(err, errlen, "the token is a personal API key "
		    "(phx_...): capture needs the project API key (phc_...), "
		    "found in the project's settings");
		return -1;
	}
	if (strlen(t) > 64) {
		snprintf(err, errlen, "the token is longer than 64 characters: "
		    "not a project API key");
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p >= 0x80 || *p < 0x20) {
			snprintf(err, errlen, "the token holds non-ASCII or "
			    "control characters: not a project API key");
			return -1;
		}
	return 0;
}

void
secret_mask(char *text, const char *secret)
{
	size_t n = secret != NULL ? strlen(secret) : 0;
	char *k;

	if (n < 4)
		return;
	while ((k = strstr(text, secret)) != NULL)
		memset(k, '*', n);
}
