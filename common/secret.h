/*
 * secret: API keys from the environment or a file, never from the command
 * line (where ps(1) and shell history would show them), and checks that
 * catch the usual mix-ups before any request is made.
 */
#ifndef SECRET_H
#define SECRET_H
#include <stddef.h>

/*
 * The value of file (first line, trimmed) if file is not NULL, else of
 * environment variable env, trimmed.  NULL with a message in err if
 * missing or empty.  The caller frees the result.
 */
char	*secret_read(const char *env, const char *file, char *err,
	    size_t errlen);
/*
 * The first n lines of file, trimmed, into out[0..n-1] (each to be freed):
 * 0, or -1 with a message in err.  Warns when others can read the file.
 */
int	 secret_read_file(const char *file, char **out, int n, char *err,
	    size_t errlen);
/*
 * Overwrite every copy of secret in text with '*': server answers may
 * echo a key, and messages must never show one.  Secrets shorter than 4
 * bytes are left alone (they would mask ordinary words).
 */
void	 secret_mask(char *text, const char *secret);
/* PostHog's rules for a project token (capture refuses the rest). */
int	 project_token_check(const char *, char *err, size_t errlen);

#endif
