/*
 * jqprog: a user's jq program run in-process with libjq on one event at a
 * time, so customising the conversion costs no extra process or pipe.
 * libjq parses at a tenth of YAJL's rate, so only --jq uses it.  Its
 * numbers are doubles: integers past 2^53 reach the program as strings
 * and come back as the same digits (jqprog.c says how).
 */
#ifndef JQPROG_H
#define JQPROG_H
#include <stddef.h>

#include "buf.h"

struct jqprog;

/* NULL with a message in err if the program does not compile. */
struct jqprog	*jqprog_new(const char *program, char *err, size_t errlen);
void		 jqprog_free(struct jqprog *);
/*
 * Run on the JSON text in[0..len); append each output (it must be an
 * object) to out as one line.  Returns the number of outputs, or -1 with
 * err set; out is left as it was on error.
 */
int		 jqprog_run(struct jqprog *, const char *in, size_t len,
		    struct buf *out, char *err, size_t errlen);

#endif
