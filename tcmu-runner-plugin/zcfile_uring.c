// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: the io_uring engine (built with liburing only). One ring per
 * device: the device's command thread submits one SQE per request
 * (READV/WRITEV/FSYNC/FALLOCATE), a reaper thread completes them. Short
 * transfers continue from a private copy of the iovecs; O_DIRECT refusals
 * are resubmitted through the page cache; WRITE SAME runs synchronously.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <liburing.h>

#include "zcfile_engine.h"

struct uring {
	struct io_uring ring;
	pthread_mutex_t sq_lock;	/* submission side, never held for long */
	int need_submit;
	pthread_t reaper;
	unsigned int inflight;		/* under e->lock */
};
#define U(e) ((struct uring *)(e)->state)

static void req_finish(struct zcfile_engine *e, struct zcfile_req *r, int err)
{
	free(r->own);
	r->own = NULL;
	r->done(r, err);
	pthread_mutex_lock(&e->lock);
	if (!--U(e)->inflight)
		pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Queue one SQE for @r (read/write continue from r->cur). Called with U(e)->sq_lock. */
static void uring_prep(struct zcfile_engine *e, struct io_uring_sqe *sqe, struct zcfile_req *r)
{
	struct zcfile_file *f = e->f;
	int fd = f->fd;

	switch (r->op) {
	case ZCFILE_READ:
	case ZCFILE_WRITE:
		if (f->dfd >= 0 && !r->buffered) {
			if (zcfile_dio_aligned(f, r->cur, r->cur_cnt, r->off + (off_t)r->xfered)) {
				fd = f->dfd;
			} else {
				STAT_INC(f, unaligned, 1);
				r->buffered = 1;
			}
		}
		r->used_fd = fd;
		if (r->op == ZCFILE_READ)
			io_uring_prep_readv(sqe, fd, r->cur, (unsigned int)r->cur_cnt,
					    (uint64_t)(r->off + (off_t)r->xfered));
		else
			io_uring_prep_writev(sqe, fd, r->cur, (unsigned int)r->cur_cnt,
					     (uint64_t)(r->off + (off_t)r->xfered));
		break;
	case ZCFILE_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case ZCFILE_UNMAP:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(uint64_t)r->off, (uint64_t)r->len);
		break;
	default:
		io_uring_prep_nop(sqe);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
}

static int uring_queue(struct zcfile_engine *e, struct zcfile_req *r)
{
	struct io_uring_sqe *sqe;
	int ret;

	pthread_mutex_lock(&U(e)->sq_lock);
	sqe = io_uring_get_sqe(&U(e)->ring);
	if (!sqe) {
		io_uring_submit(&U(e)->ring);
		sqe = io_uring_get_sqe(&U(e)->ring);
	}
	if (!sqe) {
		pthread_mutex_unlock(&U(e)->sq_lock);
		return -EBUSY;
	}
	if (r)
		uring_prep(e, sqe, r);
	else {
		io_uring_prep_nop(sqe);	/* the reaper's stop sentinel */
		io_uring_sqe_set_data(sqe, NULL);
	}
	/*
	 * Once prepared, the SQE stays in the ring until a submit takes it:
	 * the request must not be completed any other way. A failed submit
	 * (EAGAIN, EBUSY: completions backed up) leaves it there for the
	 * reaper to submit again after it has drained completions.
	 */
	do {
		ret = io_uring_submit(&U(e)->ring);
	} while (ret == -EINTR);
	if (ret < 0)
		__atomic_store_n(&U(e)->need_submit, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&U(e)->sq_lock);
	return 0;
}

/* Reaper: submit what a failed io_uring_submit() left in the SQ ring. */
static void uring_flush_pending(struct zcfile_engine *e)
{
	int ret;

	if (!__atomic_load_n(&U(e)->need_submit, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&U(e)->sq_lock);
	__atomic_store_n(&U(e)->need_submit, 0, __ATOMIC_RELAXED);
	ret = io_uring_submit(&U(e)->ring);
	if (ret < 0)
		__atomic_store_n(&U(e)->need_submit, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&U(e)->sq_lock);
}

/* Finish @r synchronously (rare paths: too many iovecs, no SQE, EOPNOTSUPP). */
static void uring_sync(struct zcfile_engine *e, struct zcfile_req *r)
{
	int ret;

	if (r->op == ZCFILE_READ || r->op == ZCFILE_WRITE) {
		ssize_t n = zcfile_rw(e->f, r->cur, r->cur_cnt, r->len - r->xfered,
				      r->off + (off_t)r->xfered, r->op == ZCFILE_WRITE);
		ret = n < 0 ? (int)n : 0;
	} else {
		ret = zcfile_exec(e->f, r);
	}
	req_finish(e, r, ret);
}

static void uring_resubmit(struct zcfile_engine *e, struct zcfile_req *r)
{
	if (uring_queue(e, r) < 0)
		uring_sync(e, r);
}

static void uring_complete(struct zcfile_engine *e, struct zcfile_req *r, int res)
{
	struct zcfile_file *f = e->f;

	if (r->op != ZCFILE_READ && r->op != ZCFILE_WRITE) {
		if (r->op == ZCFILE_UNMAP && (res == -EOPNOTSUPP || res == -EINVAL))
			uring_sync(e, r);	/* no holes here: zero it instead */
		else
			req_finish(e, r, res < 0 ? res : 0);
		return;
	}
	if (res == -EINTR || res == -EAGAIN) {
		uring_resubmit(e, r);
		return;
	}
	if (res < 0 && r->used_fd == f->dfd &&
	    (res == -EFAULT || res == -EEXIST || res == -EINVAL)) {
		/* O_DIRECT refused the buffer (see zcfile_rw()). */
		if (res != -EINVAL)
			STAT_INC(f, pin_fallbacks, 1);
		else
			STAT_INC(f, einval_fallbacks, 1);
		r->buffered = 1;
		uring_resubmit(e, r);
		return;
	}
	if (res < 0) {
		req_finish(e, r, res);
		return;
	}
	if (r->used_fd == f->dfd)
		STAT_INC(f, direct_ios, 1);
	else
		STAT_INC(f, buffered_ios, 1);
	if (res == 0) {
		if (r->op == ZCFILE_WRITE) {
			req_finish(e, r, -EIO);
			return;
		}
		STAT_INC(f, eof_zero_bytes, zcfile_iov_zero(r->cur, r->cur_cnt));
		req_finish(e, r, 0);
		return;
	}
	r->xfered += (size_t)res;
	if (r->xfered >= r->len) {
		req_finish(e, r, 0);
		return;
	}
	/* Short transfer: continue from a private, advanced copy. */
	STAT_INC(f, short_resubmits, 1);
	if (!r->own) {
		r->own = malloc(r->cur_cnt * sizeof(*r->own));
		if (!r->own) {
			req_finish(e, r, -ENOMEM);
			return;
		}
		memcpy(r->own, r->cur, r->cur_cnt * sizeof(*r->own));
		r->cur = r->own;
	}
	r->cur = zcfile_iov_advance((struct iovec *)r->cur, &r->cur_cnt, (size_t)res);
	uring_resubmit(e, r);
}

static void *reaper(void *arg)
{
	struct zcfile_engine *e = arg;
	struct io_uring_cqe *cqe;
	struct zcfile_req *r;
	int res, ret;

	for (;;) {
		if (__atomic_load_n(&U(e)->need_submit, __ATOMIC_ACQUIRE)) {
			struct __kernel_timespec ts = { 0, 1000 * 1000 };

			ret = io_uring_wait_cqe_timeout(&U(e)->ring, &cqe, &ts);
		} else {
			ret = io_uring_wait_cqe(&U(e)->ring, &cqe);
		}
		if (ret == -ETIME || ret == -EINTR || ret == -EAGAIN) {
			uring_flush_pending(e);
			continue;
		}
		if (ret < 0) {
			fprintf(stderr, "zcfile: io_uring_wait_cqe: %s\n", strerror(-ret));
			continue;
		}
		r = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&U(e)->ring, cqe);
		if (!r)
			return NULL;
		uring_complete(e, r, res);
		uring_flush_pending(e);
	}
}

static int uring_start(struct zcfile_engine *e, char **err)
{
	unsigned int entries = e->depth ? e->depth : 64;
	struct io_uring_params p;
	int ret;

	e->state = calloc(1, sizeof(struct uring));
	if (!e->state) {
		if (err)
			*err = strdup("out of memory");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	/* Completions beyond the CQ are kept by the kernel (NODROP), not lost. */
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4 > 4096 ? entries * 4 : 4096;
	ret = io_uring_queue_init_params(entries, &U(e)->ring, &p);
	if (ret < 0) {
		if (err && asprintf(err, "io_uring unavailable: %s", strerror(-ret)) < 0)
			*err = NULL;
		free(e->state);
		e->state = NULL;
		return -1;
	}
	pthread_mutex_init(&U(e)->sq_lock, NULL);
	ret = pthread_create(&U(e)->reaper, NULL, reaper, e);
	if (ret) {
		pthread_mutex_destroy(&U(e)->sq_lock);
		io_uring_queue_exit(&U(e)->ring);
		if (err && asprintf(err, "cannot start the io_uring reaper: %s",
				    strerror(ret)) < 0)
			*err = NULL;
		free(e->state);
		e->state = NULL;
		return -1;
	}
	snprintf(e->desc, sizeof(e->desc), "uring (depth %u)", entries);
	return 0;
}

static void uring_submit(struct zcfile_engine *e, struct zcfile_req *r)
{
	struct iovec *copy;
	ssize_t n;
	size_t total = 0, i;

	pthread_mutex_lock(&e->lock);
	U(e)->inflight++;
	pthread_mutex_unlock(&e->lock);
	r->xfered = 0;
	r->own = NULL;
	r->buffered = 0;
	r->cur = r->iov;
	r->cur_cnt = r->iov_cnt;
	if (r->op == ZCFILE_WRITESAME) {
		/* Rare (zeroing, mostly a fallocate): done here, synchronously. */
		req_finish(e, r, zcfile_exec(e->f, r));
		return;
	}
	if (r->op == ZCFILE_READ || r->op == ZCFILE_WRITE) {
		if (r->iov_cnt > IOV_MAX) {
			uring_sync(e, r);
			return;
		}
		for (i = 0; i < r->iov_cnt; i++)
			total += r->iov[i].iov_len;
		if (total != r->len) {
			copy = malloc((r->iov_cnt ? r->iov_cnt : 1) * sizeof(*copy));
			n = copy ? zcfile_iov_clip(copy, r->iov, r->iov_cnt, r->len) : -ENOMEM;
			if (n < 0) {
				free(copy);
				req_finish(e, r, (int)n);
				return;
			}
			r->own = copy;
			r->cur = copy;
			r->cur_cnt = (size_t)n;
		}
		if (r->len == 0) {
			req_finish(e, r, 0);
			return;
		}
	}
	if (uring_queue(e, r) < 0)
		uring_sync(e, r);
}

static void uring_stop(struct zcfile_engine *e)
{
	pthread_mutex_lock(&e->lock);
	while (U(e)->inflight)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	while (uring_queue(e, NULL) < 0)	/* no free SQE yet */
		usleep(1000);
	pthread_join(U(e)->reaper, NULL);
	io_uring_queue_exit(&U(e)->ring);
	pthread_mutex_destroy(&U(e)->sq_lock);
	free(e->state);
	e->state = NULL;
}

/* Called with e->lock held. */
static int uring_idle(struct zcfile_engine *e)
{
	return !U(e)->inflight;
}

const struct zcfile_engine_ops zcfile_uring_ops = {
	.kind = ZCFILE_ENGINE_URING,
	.start = uring_start,
	.submit = uring_submit,
	.idle = uring_idle,
	.stop = uring_stop,
};
