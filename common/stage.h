/*
 * stage: what the input of a stage looks like, so that input given to
 * the wrong stage is told once, by the stage that was skipped, instead
 * of as thousands of rejects.  Every filter of the pipeline calls it on
 * the first line of each input (amp-convert wants Amplitude export rows;
 * ph-alias, ph-verify and ph-batch want PostHog events), so the programs
 * agree on what each format looks like and which stage makes it.
 */
#ifndef STAGE_H
#define STAGE_H
#include <stddef.h>

enum stage_kind {
	SK_UNKNOWN,	/* a line that is neither: left to the stage */
	SK_ZIP,		/* an archive: amp-unpack reads it */
	SK_GZIP,	/* a .json.gz member: amp-unpack reads it */
	SK_AMPLITUDE,	/* an Amplitude export row: amp-convert's input */
	SK_POSTHOG	/* a PostHog event: amp-convert's output */
};

/* The kind of a first line (a BOM already taken off). */
enum stage_kind	 stage_sniff(const char *p, size_t len);
/*
 * For a stage wanting want: if the first line of file is of another
 * kind, the message naming the stage that was skipped (or run twice),
 * else NULL.
 */
const char	*stage_wrong(enum stage_kind want, const char *p, size_t len);
/*
 * A last line without its newline that is not whole JSON: the stage
 * before was stopped mid-line.  Every filter says so the same way, and
 * none rejects it (it is not bad input: the whole line is upstream).
 */
void		 stage_cut_note(const char *file, unsigned long long line);
/*
 * What every stage does with the first line of an input: a BOM taken
 * off *p and *len (with a note, if note), then stage_wrong's answer.
 */
const char	*stage_first(enum stage_kind want, const char *file,
		    const char **p, size_t *len, int note);

#endif
