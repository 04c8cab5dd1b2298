/*
 * gzpool: request bodies compressed by worker threads while ph-batch's
 * one thread parses, checks and sends: gzip is a third of ph-batch's
 * CPU, and a body can be made ready before its turn to go.  The only
 * module that uses pthreads.  A job is the caller's until it is
 * submitted, the pool's until gzpool_wait returns.
 */
#ifndef GZPOOL_H
#define GZPOOL_H
#include "buf.h"

struct gzjob {
	struct buf	 body;		/* the caller's: what to compress */
	struct buf	 gz;		/* the gzip of body, once done */
	int		 level;
	int		 rc;		/* gzip_compress's answer */
	int		 state;		/* the pool's */
	struct gzjob	*next;
};

/* Start n workers (0: jobs are compressed by gzpool_wait itself). */
void	gzpool_start(int n);
/* Queue j, its body and level set. */
void	gzpool_submit(struct gzjob *j);
/* Until j is done (compressing it now if no worker has taken it). */
void	gzpool_wait(struct gzjob *j);
/* Let the workers finish what they hold, and stop them. */
void	gzpool_stop(void);

#endif
