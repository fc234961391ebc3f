// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: the threads engine. N workers per device take requests from a
 * queue and run the synchronous paths (zcfile_exec).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zcfile_engine.h"

struct threads {
	struct zcfile_req *head, *tail;	/* the queue, under e->lock */
	unsigned int running;		/* requests a worker has taken */
	int stop;
	unsigned int nthreads;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct zcfile_engine *e = arg;
	struct threads *t = e->state;
	struct zcfile_req *r;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		while (!t->head && !t->stop)
			pthread_cond_wait(&e->cond, &e->lock);
		r = t->head;
		if (!r) {
			pthread_mutex_unlock(&e->lock);
			return NULL;
		}
		t->head = r->next;
		if (!t->head)
			t->tail = NULL;
		t->running++;
		pthread_mutex_unlock(&e->lock);
		r->done(r, zcfile_exec(e->f, r));
		pthread_mutex_lock(&e->lock);
		t->running--;
		pthread_mutex_unlock(&e->lock);
	}
}

/* Stop and join the first @n workers. */
static void threads_join(struct zcfile_engine *e, unsigned int n)
{
	struct threads *t = e->state;

	pthread_mutex_lock(&e->lock);
	t->stop = 1;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	while (n--)
		pthread_join(t->threads[n], NULL);
	free(t->threads);
	free(t);
	e->state = NULL;
}

static int threads_start(struct zcfile_engine *e, char **err)
{
	struct threads *t;
	unsigned int i;
	int ret;

	t = calloc(1, sizeof(*t));
	if (t) {
		t->nthreads = e->depth ? e->depth : 8;
		t->threads = calloc(t->nthreads, sizeof(*t->threads));
	}
	if (!t || !t->threads) {
		free(t);
		if (err)
			*err = strdup("out of memory");
		return -1;
	}
	e->state = t;
	for (i = 0; i < t->nthreads; i++) {
		ret = pthread_create(&t->threads[i], NULL, worker, e);
		if (ret) {
			if (err && asprintf(err, "cannot start worker threads: %s", strerror(ret)) < 0)
				*err = NULL;
			threads_join(e, i);
			return -1;
		}
	}
	snprintf(e->desc, sizeof(e->desc), "threads (%u workers)", t->nthreads);
	return 0;
}

static void threads_submit(struct zcfile_engine *e, struct zcfile_req *r)
{
	struct threads *t = e->state;

	r->next = NULL;
	pthread_mutex_lock(&e->lock);
	if (t->tail)
		t->tail->next = r;
	else
		t->head = r;
	t->tail = r;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static int threads_idle(struct zcfile_engine *e)
{
	struct threads *t = e->state;

	return !t->head && !t->running;
}

/* The workers drain the queue before they see stop. */
static void threads_stop(struct zcfile_engine *e)
{
	struct threads *t = e->state;

	threads_join(e, t->nthreads);
}

const struct zcfile_engine_ops zcfile_threads_ops = {
	.kind = ZCFILE_ENGINE_THREADS,
	.start = threads_start,
	.submit = threads_submit,
	.idle = threads_idle,
	.stop = threads_stop,
};
