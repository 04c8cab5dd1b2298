/*
 * cli: what every program's command line shares: --version, number
 * parsing with range checks, and the exit codes every program uses
 * (0 done, 1 runtime, 2 usage, 65 input rejected: the man pages' EXIT
 * STATUS).
 */
#ifndef CLI_H
#define CLI_H
#include <stdint.h>

#define EXIT_RUNTIME	1	/* something failed at run time */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_DATAERR	65	/* some input was rejected (EX_DATAERR) */

#ifndef AMP2PH_VERSION
#define AMP2PH_VERSION "0.0-dev"
#endif

void	cli_version(const char *prog);
struct option;
/*
 * Call for each option getopt_long returns: an option of single (by its
 * short letter or getopt value) given a second time, or two of alts (a
 * choice such as --host or --region), is a usage error (exit 2) naming
 * it: the last does not silently win.
 */
void	cli_once(const struct option *longopts, int ch, const char *single,
	    const char *alts);
/* Parse a whole unsigned number in [min, max]; -1 if it is not one. */
int	cli_u64(const char *, uint64_t min, uint64_t max, uint64_t *);
/* "90", "90s", "15m", "2h", "1d" into seconds; -1 if malformed. */
int	cli_duration(const char *, double *seconds);

#endif
