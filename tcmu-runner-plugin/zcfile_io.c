// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: synchronous I/O paths and the engines that keep many commands
 * in flight (io_uring, worker threads). See zcfile_io.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#ifdef ZCFILE_HAVE_URING
#include <liburing.h>
#endif

#include "zcfile_io.h"

#define STAT_INC(f, field, n) __atomic_fetch_add(&(f)->stats.field, (n), __ATOMIC_RELAXED)
#define WRITESAME_CHUNK (1024 * 1024)

int zcfile_file_open(struct zcfile_file *f, const char *path, int direct)
{
	struct stat sb;
	int bs;

	memset(f, 0, sizeof(*f));
	f->dfd = -1;
	f->dio_align = 512;
	f->fd = open(path, O_RDWR | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	if (!direct)
		return 0;
	f->dfd = open(path, O_RDWR | O_CLOEXEC | O_DIRECT);
	if (f->dfd < 0) {
		int e = errno;

		close(f->fd);
		f->fd = -1;
		return -e;
	}
	if (fstat(f->fd, &sb) == 0 && S_ISBLK(sb.st_mode) &&
	    ioctl(f->fd, BLKSSZGET, &bs) == 0 && bs > 0)
		f->dio_align = (unsigned int)bs;
	return 0;
}

void zcfile_file_close(struct zcfile_file *f)
{
	if (f->dfd >= 0)
		close(f->dfd);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = f->dfd = -1;
}

void zcfile_stats_format(struct zcfile_file *f, char *buf, size_t size)
{
	struct zcfile_stats s;

	__atomic_load(&f->stats.direct_ios, &s.direct_ios, __ATOMIC_RELAXED);
	__atomic_load(&f->stats.buffered_ios, &s.buffered_ios, __ATOMIC_RELAXED);
	__atomic_load(&f->stats.pin_fallbacks, &s.pin_fallbacks, __ATOMIC_RELAXED);
	__atomic_load(&f->stats.einval_fallbacks, &s.einval_fallbacks, __ATOMIC_RELAXED);
	__atomic_load(&f->stats.unaligned, &s.unaligned, __ATOMIC_RELAXED);
	__atomic_load(&f->stats.short_resubmits, &s.short_resubmits, __ATOMIC_RELAXED);
	__atomic_load(&f->stats.eof_zero_bytes, &s.eof_zero_bytes, __ATOMIC_RELAXED);
	__atomic_load(&f->stats.inline_ios, &s.inline_ios, __ATOMIC_RELAXED);
	snprintf(buf, size,
		 "direct_ios=%llu buffered_ios=%llu pin_fallbacks=%llu einval_fallbacks=%llu unaligned=%llu short_resubmits=%llu eof_zero_bytes=%llu inline_ios=%llu",
		 (unsigned long long)s.direct_ios, (unsigned long long)s.buffered_ios,
		 (unsigned long long)s.pin_fallbacks, (unsigned long long)s.einval_fallbacks,
		 (unsigned long long)s.unaligned, (unsigned long long)s.short_resubmits,
		 (unsigned long long)s.eof_zero_bytes, (unsigned long long)s.inline_ios);
}

/* Advance an iovec array by @count bytes (in place); returns the new start. */
static struct iovec *iov_advance(struct iovec *iov, size_t *cnt, size_t count)
{
	while (count && *cnt) {
		if (count < iov->iov_len) {
			iov->iov_base = (char *)iov->iov_base + count;
			iov->iov_len -= count;
			return iov;
		}
		count -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	while (*cnt && !iov->iov_len) {
		iov++;
		(*cnt)--;
	}
	return iov;
}

/* Zero a data-in vector (READ buffers only). */
static size_t iov_zero(const struct iovec *iov, size_t cnt)
{
	size_t i, n = 0;

	for (i = 0; i < cnt; i++) {
		memset(iov[i].iov_base, 0, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	return n;
}

static int dio_aligned(const struct zcfile_file *f, const struct iovec *iov,
		       size_t cnt, off_t off)
{
	uintptr_t m = f->dio_align - 1;
	size_t i;

	if ((uintptr_t)off & m)
		return 0;
	for (i = 0; i < cnt; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & m)
			return 0;
	return 1;
}

/* Copy @iov clipped to @len into @copy; returns the count, or -EINVAL if short. */
static ssize_t iov_clip(struct iovec *copy, const struct iovec *iov, size_t cnt, size_t len)
{
	size_t i, total = 0;

	for (i = 0; i < cnt && total < len; i++) {
		copy[i] = iov[i];
		if (copy[i].iov_len > len - total)
			copy[i].iov_len = len - total;
		total += copy[i].iov_len;
	}
	return total < len ? -EINVAL : (ssize_t)i;
}

#define IOV_STACK 64

ssize_t zcfile_rw(struct zcfile_file *f, const struct iovec *uiov, size_t iov_cnt,
		  size_t len, off_t off, int write)
{
	struct iovec stack[IOV_STACK], *copy = stack, *iov;
	size_t cnt, done = 0;
	ssize_t ret;
	int direct;

	if (iov_cnt > IOV_STACK) {
		copy = malloc(iov_cnt * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
	}
	ret = iov_clip(copy, uiov, iov_cnt, len);
	if (ret < 0)
		goto out;
	cnt = (size_t)ret;
	iov = copy;
	direct = f->dfd >= 0;
	while (done < len) {
		int n = cnt > IOV_MAX ? IOV_MAX : (int)cnt;
		int fd = f->fd;

		if (direct) {
			if (dio_aligned(f, iov, (size_t)n, off + (off_t)done)) {
				fd = f->dfd;
			} else {
				STAT_INC(f, unaligned, 1);
				direct = 0;
			}
		}
		ret = write ? pwritev(fd, iov, n, off + (off_t)done)
			    : preadv(fd, iov, n, off + (off_t)done);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			if (fd == f->dfd && (errno == EFAULT || errno == EEXIST || errno == EINVAL)) {
				/*
				 * O_DIRECT refused the buffer: GUP cannot pin it
				 * (EFAULT; EEXIST for a special PTE in a
				 * VM_MIXEDMAP vma such as the zero-copy window)
				 * or it is misaligned (EINVAL). The page cache
				 * copies with ordinary user accesses, which work.
				 */
				if (errno != EINVAL)
					STAT_INC(f, pin_fallbacks, 1);
				else
					STAT_INC(f, einval_fallbacks, 1);
				direct = 0;
				continue;
			}
			ret = -errno;
			goto out;
		}
		if (fd == f->dfd)
			STAT_INC(f, direct_ios, 1);
		else
			STAT_INC(f, buffered_ios, 1);
		if (ret == 0) {
			if (write) {
				ret = -EIO;
				goto out;
			}
			/* Past the end of the file: the rest reads as zeroes. */
			STAT_INC(f, eof_zero_bytes, iov_zero(iov, cnt));
			break;
		}
		done += (size_t)ret;
		if (done < len)
			STAT_INC(f, short_resubmits, 1);
		iov = iov_advance(iov, &cnt, (size_t)ret);
	}
	ret = (ssize_t)len;
out:
	if (copy != stack)
		free(copy);
	return ret;
}

static int is_zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	return len == 0 || (c[0] == 0 && memcmp(c, c + 1, len - 1) == 0);
}

/* Zero [off, off+len): a hole if the file system can, else written zeroes. */
static int zero_range(struct zcfile_file *f, off_t off, size_t len, int punch)
{
	static const int modes[2][2] = {
		{ FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE },
		{ FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE },
	};
	struct iovec v;
	size_t done = 0, chunk;
	void *buf;
	int i;

	for (i = 0; i < 2; i++) {
		if (fallocate(f->fd, modes[punch][i], off, (off_t)len) == 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENODEV)
			return -errno;
	}
	chunk = len < WRITESAME_CHUNK ? len : WRITESAME_CHUNK;
	buf = aligned_alloc(4096, (chunk + 4095) & ~(size_t)4095);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0, chunk);
	while (done < len) {
		ssize_t r;

		v.iov_base = buf;
		v.iov_len = len - done < chunk ? len - done : chunk;
		r = zcfile_rw(f, &v, 1, v.iov_len, off + (off_t)done, 1);
		if (r < 0) {
			free(buf);
			return (int)r;
		}
		done += v.iov_len;
	}
	free(buf);
	return 0;
}

static int writesame(struct zcfile_file *f, const struct iovec *pat, size_t len, off_t off)
{
	size_t blk = pat->iov_len, chunk, done = 0, i;
	struct iovec v;
	char *buf;
	int ret = 0;

	if (!blk || len % blk)
		return -EINVAL;
	/* The pattern is a data-out buffer: only ever read from it. */
	if (is_zero(pat->iov_base, blk))
		return zero_range(f, off, len, 0);
	chunk = WRITESAME_CHUNK - WRITESAME_CHUNK % blk;
	if (!chunk)
		chunk = blk;
	if (chunk > len)
		chunk = len;
	buf = aligned_alloc(4096, (chunk + 4095) & ~(size_t)4095);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < chunk; i += blk)
		memcpy(buf + i, pat->iov_base, blk);
	while (done < len) {
		ssize_t r;

		v.iov_base = buf;
		v.iov_len = len - done < chunk ? len - done : chunk;
		r = zcfile_rw(f, &v, 1, v.iov_len, off + (off_t)done, 1);
		if (r < 0) {
			ret = (int)r;
			break;
		}
		done += v.iov_len;
	}
	free(buf);
	return ret;
}

int zcfile_exec(struct zcfile_file *f, struct zcfile_req *r)
{
	ssize_t ret;

	switch (r->op) {
	case ZCFILE_READ:
	case ZCFILE_WRITE:
		ret = zcfile_rw(f, r->iov, r->iov_cnt, r->len, r->off, r->op == ZCFILE_WRITE);
		return ret < 0 ? (int)ret : 0;
	case ZCFILE_FLUSH:
		return fdatasync(f->fd) < 0 ? -errno : 0;
	case ZCFILE_UNMAP:
		return zero_range(f, r->off, r->len, 1);
	case ZCFILE_WRITESAME:
		if (r->iov_cnt < 1)
			return -EINVAL;
		return writesame(f, &r->iov[0], r->len, r->off);
	}
	return -EINVAL;
}

/* ---- engines ---- */

struct zcfile_engine {
	enum zcfile_engine_kind kind;
	struct zcfile_file *f;
	unsigned int depth;
	char desc[64];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int inline_idle;
	/* threads */
	struct zcfile_req *head, *tail;
	unsigned int running;	/* requests a worker has taken */
	int stop;
	unsigned int nthreads;
	pthread_t *threads;
#ifdef ZCFILE_HAVE_URING
	/* uring */
	struct io_uring ring;
	pthread_mutex_t sq_lock;	/* submission side, never held for long */
	int need_submit;
	pthread_t reaper;
	unsigned int inflight;
#endif
};

static void *worker(void *arg)
{
	struct zcfile_engine *e = arg;
	struct zcfile_req *r;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		while (!e->head && !e->stop)
			pthread_cond_wait(&e->cond, &e->lock);
		r = e->head;
		if (!r) {
			pthread_mutex_unlock(&e->lock);
			return NULL;
		}
		e->head = r->next;
		if (!e->head)
			e->tail = NULL;
		e->running++;
		pthread_mutex_unlock(&e->lock);
		r->done(r, zcfile_exec(e->f, r));
		pthread_mutex_lock(&e->lock);
		e->running--;
		pthread_mutex_unlock(&e->lock);
	}
}

static int threads_start(struct zcfile_engine *e, char **err)
{
	unsigned int i;
	int ret;

	e->nthreads = e->depth ? e->depth : 8;
	e->threads = calloc(e->nthreads, sizeof(*e->threads));
	if (!e->threads) {
		if (err)
			*err = strdup("zcfile: out of memory");
		return -1;
	}
	for (i = 0; i < e->nthreads; i++) {
		ret = pthread_create(&e->threads[i], NULL, worker, e);
		if (ret) {
			if (err && asprintf(err, "zcfile: cannot start worker threads: %s",
					    strerror(ret)) < 0)
				*err = NULL;
			pthread_mutex_lock(&e->lock);
			e->stop = 1;
			pthread_cond_broadcast(&e->cond);
			pthread_mutex_unlock(&e->lock);
			while (i--)
				pthread_join(e->threads[i], NULL);
			free(e->threads);
			return -1;
		}
	}
	e->kind = ZCFILE_ENGINE_THREADS;
	snprintf(e->desc, sizeof(e->desc), "threads (%u workers)", e->nthreads);
	return 0;
}

static void threads_submit(struct zcfile_engine *e, struct zcfile_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&e->lock);
	if (e->tail)
		e->tail->next = r;
	else
		e->head = r;
	e->tail = r;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void threads_stop(struct zcfile_engine *e)
{
	unsigned int i;

	pthread_mutex_lock(&e->lock);
	e->stop = 1;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	for (i = 0; i < e->nthreads; i++)
		pthread_join(e->threads[i], NULL);
	free(e->threads);
}

#ifdef ZCFILE_HAVE_URING

static void req_finish(struct zcfile_engine *e, struct zcfile_req *r, int err)
{
	free(r->own);
	r->own = NULL;
	r->done(r, err);
	pthread_mutex_lock(&e->lock);
	if (!--e->inflight)
		pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Queue one SQE for @r (read/write continue from r->cur). Called with e->sq_lock. */
static void uring_prep(struct zcfile_engine *e, struct io_uring_sqe *sqe, struct zcfile_req *r)
{
	struct zcfile_file *f = e->f;
	int fd = f->fd;

	switch (r->op) {
	case ZCFILE_READ:
	case ZCFILE_WRITE:
		if (f->dfd >= 0 && !r->buffered) {
			if (dio_aligned(f, r->cur, r->cur_cnt, r->off + (off_t)r->xfered)) {
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

	pthread_mutex_lock(&e->sq_lock);
	sqe = io_uring_get_sqe(&e->ring);
	if (!sqe) {
		io_uring_submit(&e->ring);
		sqe = io_uring_get_sqe(&e->ring);
	}
	if (!sqe) {
		pthread_mutex_unlock(&e->sq_lock);
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
		ret = io_uring_submit(&e->ring);
	} while (ret == -EINTR);
	if (ret < 0)
		__atomic_store_n(&e->need_submit, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&e->sq_lock);
	return 0;
}

/* Reaper: submit what a failed io_uring_submit() left in the SQ ring. */
static void uring_flush_pending(struct zcfile_engine *e)
{
	int ret;

	if (!__atomic_load_n(&e->need_submit, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&e->sq_lock);
	__atomic_store_n(&e->need_submit, 0, __ATOMIC_RELAXED);
	ret = io_uring_submit(&e->ring);
	if (ret < 0)
		__atomic_store_n(&e->need_submit, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&e->sq_lock);
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
		STAT_INC(f, eof_zero_bytes, iov_zero(r->cur, r->cur_cnt));
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
	r->cur = iov_advance((struct iovec *)r->cur, &r->cur_cnt, (size_t)res);
	uring_resubmit(e, r);
}

static void *reaper(void *arg)
{
	struct zcfile_engine *e = arg;
	struct io_uring_cqe *cqe;
	struct zcfile_req *r;
	int res, ret;

	for (;;) {
		if (__atomic_load_n(&e->need_submit, __ATOMIC_ACQUIRE)) {
			struct __kernel_timespec ts = { 0, 1000 * 1000 };

			ret = io_uring_wait_cqe_timeout(&e->ring, &cqe, &ts);
		} else {
			ret = io_uring_wait_cqe(&e->ring, &cqe);
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
		io_uring_cqe_seen(&e->ring, cqe);
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

	memset(&p, 0, sizeof(p));
	/* Completions beyond the CQ are kept by the kernel (NODROP), not lost. */
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4 > 4096 ? entries * 4 : 4096;
	ret = io_uring_queue_init_params(entries, &e->ring, &p);
	if (ret < 0) {
		if (err && asprintf(err, "zcfile: io_uring unavailable: %s", strerror(-ret)) < 0)
			*err = NULL;
		return -1;
	}
	pthread_mutex_init(&e->sq_lock, NULL);
	ret = pthread_create(&e->reaper, NULL, reaper, e);
	if (ret) {
		pthread_mutex_destroy(&e->sq_lock);
		io_uring_queue_exit(&e->ring);
		if (err && asprintf(err, "zcfile: cannot start the io_uring reaper: %s",
				    strerror(ret)) < 0)
			*err = NULL;
		return -1;
	}
	e->kind = ZCFILE_ENGINE_URING;
	snprintf(e->desc, sizeof(e->desc), "uring (depth %u)", entries);
	return 0;
}

static void uring_submit(struct zcfile_engine *e, struct zcfile_req *r)
{
	struct iovec *copy;
	ssize_t n;
	size_t total = 0, i;

	pthread_mutex_lock(&e->lock);
	e->inflight++;
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
			n = copy ? iov_clip(copy, r->iov, r->iov_cnt, r->len) : -ENOMEM;
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
	while (e->inflight)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	while (uring_queue(e, NULL) < 0)	/* no free SQE yet */
		usleep(1000);
	pthread_join(e->reaper, NULL);
	io_uring_queue_exit(&e->ring);
	pthread_mutex_destroy(&e->sq_lock);
}
#endif /* ZCFILE_HAVE_URING */

int zcfile_engine_start(struct zcfile_engine **ep, struct zcfile_file *f,
			enum zcfile_engine_kind kind, unsigned int depth, char **err)
{
	struct zcfile_engine *e;
	int ret = -1;

	e = calloc(1, sizeof(*e));
	if (!e) {
		if (err)
			*err = strdup("zcfile: out of memory");
		return -1;
	}
	e->f = f;
	e->depth = depth;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	switch (kind) {
	case ZCFILE_ENGINE_URING:
#ifdef ZCFILE_HAVE_URING
		ret = uring_start(e, err);
#else
		if (err)
			*err = strdup("zcfile: engine=uring: built without liburing");
#endif
		break;
	case ZCFILE_ENGINE_AUTO:
#ifdef ZCFILE_HAVE_URING
		ret = uring_start(e, NULL);
		if (ret == 0)
			break;
#endif
		/* fall through */
	case ZCFILE_ENGINE_THREADS:
		ret = threads_start(e, err);
		break;
	}
	if (ret < 0) {
		pthread_mutex_destroy(&e->lock);
		pthread_cond_destroy(&e->cond);
		free(e);
		return -1;
	}
	*ep = e;
	return 0;
}

void zcfile_engine_set_inline(struct zcfile_engine *e, int on)
{
	e->inline_idle = on;
}

/* Nothing queued, running or in the ring. */
static int engine_idle(struct zcfile_engine *e)
{
	int idle;

	pthread_mutex_lock(&e->lock);
#ifdef ZCFILE_HAVE_URING
	if (e->kind == ZCFILE_ENGINE_URING)
		idle = !e->inflight;
	else
#endif
		idle = !e->head && !e->running;
	pthread_mutex_unlock(&e->lock);
	return idle;
}

void zcfile_engine_submit(struct zcfile_engine *e, struct zcfile_req *r)
{
	/*
	 * Small and alone in the engine: do it here. A worker would only add
	 * a wake-up on the way in and another on the way out; with others in
	 * flight, queue it so that they overlap. Large transfers always go to
	 * the engine: measured (README.md), inline loses there.
	 */
	if (e->inline_idle && r->len <= ZCFILE_INLINE_MAX && engine_idle(e)) {
		__atomic_add_fetch(&e->f->stats.inline_ios, 1, __ATOMIC_RELAXED);
		r->done(r, zcfile_exec(e->f, r));
		return;
	}
#ifdef ZCFILE_HAVE_URING
	if (e->kind == ZCFILE_ENGINE_URING) {
		uring_submit(e, r);
		return;
	}
#endif
	threads_submit(e, r);
}

void zcfile_engine_stop(struct zcfile_engine *e)
{
	if (!e)
		return;
#ifdef ZCFILE_HAVE_URING
	if (e->kind == ZCFILE_ENGINE_URING)
		uring_stop(e);
	else
#endif
		threads_stop(e);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
}

const char *zcfile_engine_describe(struct zcfile_engine *e)
{
	return e->desc;
}
