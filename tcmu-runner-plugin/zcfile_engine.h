/* SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0 */
/*
 * zcfile: what the engines share, inside the I/O layer only.
 *
 * An engine keeps many zcfile_reqs in flight for one device and reports
 * each through req->done. zcfile_io.c chooses one (zcfile_engine_start),
 * runs small requests inline when it is idle, and otherwise hands them to
 * its ops: zcfile_threads.c (worker threads) and zcfile_uring.c (one
 * io_uring and a reaper thread; built with liburing only).
 */
#ifndef ZCFILE_ENGINE_H
#define ZCFILE_ENGINE_H

#include <pthread.h>

#include "zcfile_io.h"

#define STAT_INC(f, field, n) __atomic_fetch_add(&(f)->stats.field, (n), __ATOMIC_RELAXED)

struct zcfile_engine_ops {
	enum zcfile_engine_kind kind;
	/* Set e->state and e->desc; 0, or -1 with *err set (err may be NULL). */
	int (*start)(struct zcfile_engine *e, char **err);
	void (*submit)(struct zcfile_engine *e, struct zcfile_req *r);
	/* Nothing queued, running or in flight; called with e->lock held. */
	int (*idle)(struct zcfile_engine *e);
	/* Wait for every request in flight, then free e->state. */
	void (*stop)(struct zcfile_engine *e);
};

struct zcfile_engine {
	const struct zcfile_engine_ops *ops;
	struct zcfile_file *f;
	unsigned int depth;	/* 0: the engine's default */
	char desc[64];
	pthread_mutex_t lock;	/* guards the engine's queue and counts */
	pthread_cond_t cond;
	int inline_idle;
	void *state;		/* the engine's own */
};

extern const struct zcfile_engine_ops zcfile_threads_ops;
#ifdef ZCFILE_HAVE_URING
extern const struct zcfile_engine_ops zcfile_uring_ops;
#endif

/* Helpers of zcfile_io.c for the engines. */
int zcfile_dio_aligned(const struct zcfile_file *f, const struct iovec *iov,
		       size_t cnt, off_t off);
/* Advance an iovec array by @count bytes (in place); returns the new start. */
struct iovec *zcfile_iov_advance(struct iovec *iov, size_t *cnt, size_t count);
/* Zero a data-in vector (READ buffers only); returns the bytes zeroed. */
size_t zcfile_iov_zero(const struct iovec *iov, size_t cnt);
/* Copy @iov clipped to @len into @copy; returns the count, or -EINVAL if short. */
ssize_t zcfile_iov_clip(struct iovec *copy, const struct iovec *iov, size_t cnt, size_t len);

#endif
