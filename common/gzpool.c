/*
 * gzpool: a queue of gzip jobs and the threads that do them; see
 * gzpool.h.  One mutex guards the queue and every job's state; the
 * compression itself runs outside it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "gzmem.h"
#include "gzpool.h"
#include "xalloc.h"

enum { QUEUED, RUNNING, DONE };

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 done = PTHREAD_COND_INITIALIZER;
static struct gzjob	*head, *tail;
static pthread_t	*threads;
static int		 nthreads, stopping;

/* Take j out of the queue (it is at its head when prev is NULL). */
static void
unqueue(struct gzjob *j, struct gzjob *prev)
{
	if (prev != NULL)
		prev->next = j->next;
	else
		head = j->next;
	if (tail == j)
		tail = prev;
}

/* Compress j outside the lock, which the caller holds. */
static void
run(struct gzjob *j)
{
	j->state = RUNNING;
	pthread_mutex_unlock(&mu);
	j->rc = gzip_compress(&j->gz, j->body.p, j->body.len, j->level);
	pthread_mutex_lock(&mu);
	j->state = DONE;
	pthread_cond_broadcast(&done);
}

static void *
worker(void *arg)
{
	pthread_mutex_lock(&mu);
	for (;;) {
		while (head == NULL && !stopping)
			pthread_cond_wait(&work, &mu);
		if (head == NULL)
			break;
		struct gzjob *j = head;
		unqueue(j, NULL);
		run(j);
	}
	pthread_mutex_unlock(&mu);
	gzip_compress_end();
	return arg;
}

void
gzpool_start(int n)
{
	sigset_t all, old;

	/* Signals are the main thread's: its handlers stop the run. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	threads = xcalloc(n > 0 ? n : 1, sizeof(*threads));
	for (nthreads = 0; nthreads < n; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, worker, NULL) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void
gzpool_submit(struct gzjob *j)
{
	pthread_mutex_lock(&mu);
	j->state = QUEUED;
	j->next = NULL;
	if (tail != NULL)
		tail->next = j;
	else
		head = j;
	tail = j;
	pthread_cond_signal(&work);
	pthread_mutex_unlock(&mu);
}

void
gzpool_wait(struct gzjob *j)
{
	struct gzjob *prev = NULL;

	pthread_mutex_lock(&mu);
	if (j->state == QUEUED) {
		/* Not taken yet: do it here rather than wait for a worker. */
		for (struct gzjob *q = head; q != j; q = q->next)
			prev = q;
		unqueue(j, prev);
		run(j);
	}
	while (j->state != DONE)
		pthread_cond_wait(&done, &mu);
	pthread_mutex_unlock(&mu);
}

void
gzpool_stop(void)
{
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_broadcast(&work);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
	stopping = 0;
}
