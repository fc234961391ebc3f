// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: the synchronous I/O paths, and the choice of engine (the
 * engines themselves: zcfile_threads.c, zcfile_uring.c). See zcfile_io.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "zcfile_engine.h"

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

int zcfile_file_resize(struct zcfile_file *f, uint64_t lun_size, uint32_t block_size,
		       const char *path, char **err)
{
	uint64_t file_size = 0, bsz;
	struct stat sb;

	if (fstat(f->fd, &sb) < 0) {
		if (err && asprintf(err, "cannot stat %s: %s", path, strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	if (S_ISBLK(sb.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &bsz) == 0)
			file_size = bsz;
	} else {
		file_size = (uint64_t)sb.st_size;
	}
	if (zcfile_check_size(lun_size, block_size, file_size, S_ISBLK(sb.st_mode), path, err) < 0)
		return -1;
	if (S_ISREG(sb.st_mode) && file_size < lun_size &&
	    ftruncate(f->fd, (off_t)lun_size) < 0) {
		if (err && asprintf(err, "bad LUN size %llu: cannot grow %s to it: %s",
				    (unsigned long long)lun_size, path, strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	return 0;
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

struct iovec *zcfile_iov_advance(struct iovec *iov, size_t *cnt, size_t count)
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

size_t zcfile_iov_zero(const struct iovec *iov, size_t cnt)
{
	size_t i, n = 0;

	for (i = 0; i < cnt; i++) {
		memset(iov[i].iov_base, 0, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	return n;
}

int zcfile_dio_aligned(const struct zcfile_file *f, const struct iovec *iov,
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

ssize_t zcfile_iov_clip(struct iovec *copy, const struct iovec *iov, size_t cnt, size_t len)
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
	ret = zcfile_iov_clip(copy, uiov, iov_cnt, len);
	if (ret < 0)
		goto out;
	cnt = (size_t)ret;
	iov = copy;
	direct = f->dfd >= 0;
	while (done < len) {
		int n = cnt > IOV_MAX ? IOV_MAX : (int)cnt;
		int fd = f->fd;

		if (direct) {
			if (zcfile_dio_aligned(f, iov, (size_t)n, off + (off_t)done)) {
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
			STAT_INC(f, eof_zero_bytes, zcfile_iov_zero(iov, cnt));
			break;
		}
		done += (size_t)ret;
		if (done < len)
			STAT_INC(f, short_resubmits, 1);
		iov = zcfile_iov_advance(iov, &cnt, (size_t)ret);
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

/*
 * Write [off, off+len) with the @blk-byte block @pat repeated (NULL:
 * zeroes), through a bounce buffer of about WRITESAME_CHUNK bytes.
 */
static int write_repeat(struct zcfile_file *f, const void *pat, size_t blk, size_t len, off_t off)
{
	size_t chunk = WRITESAME_CHUNK - WRITESAME_CHUNK % blk, done = 0, i;
	struct iovec v;
	char *buf;
	int ret = 0;

	if (!chunk)
		chunk = blk;
	if (chunk > len)
		chunk = len;
	buf = aligned_alloc(4096, (chunk + 4095) & ~(size_t)4095);
	if (!buf)
		return -ENOMEM;
	if (pat)
		for (i = 0; i < chunk; i += blk)
			memcpy(buf + i, pat, blk);
	else
		memset(buf, 0, chunk);
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

/* Zero [off, off+len): a hole if the file system can, else written zeroes. */
static int zero_range(struct zcfile_file *f, off_t off, size_t len, int punch)
{
	static const int modes[2][2] = {
		{ FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE },
		{ FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		  FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE },
	};
	int i;

	for (i = 0; i < 2; i++) {
		if (fallocate(f->fd, modes[punch][i], off, (off_t)len) == 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != EINVAL && errno != ENODEV)
			return -errno;
	}
	return write_repeat(f, NULL, 1, len, off);
}

static int writesame(struct zcfile_file *f, const struct iovec *pat, size_t len, off_t off)
{
	size_t blk = pat->iov_len;

	if (!blk || len % blk)
		return -EINVAL;
	/* The pattern is a data-out buffer: only ever read from it. */
	if (is_zero(pat->iov_base, blk))
		return zero_range(f, off, len, 0);
	return write_repeat(f, pat->iov_base, blk, len, off);
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

/* ---- the engine: chosen per device, small requests inline when idle ---- */

int zcfile_engine_start(struct zcfile_engine **ep, struct zcfile_file *f,
			enum zcfile_engine_kind kind, unsigned int depth, char **err)
{
	struct zcfile_engine *e;
	int ret = -1;

	e = calloc(1, sizeof(*e));
	if (!e) {
		if (err)
			*err = strdup("out of memory");
		return -1;
	}
	e->f = f;
	e->depth = depth;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	switch (kind) {
	case ZCFILE_ENGINE_URING:
#ifdef ZCFILE_HAVE_URING
		e->ops = &zcfile_uring_ops;
		ret = e->ops->start(e, err);
#else
		if (err)
			*err = strdup("engine=uring: built without liburing");
#endif
		break;
	case ZCFILE_ENGINE_AUTO:
#ifdef ZCFILE_HAVE_URING
		e->ops = &zcfile_uring_ops;
		ret = e->ops->start(e, NULL);
		if (ret == 0)
			break;
#endif
		/* fall through */
	case ZCFILE_ENGINE_THREADS:
		e->ops = &zcfile_threads_ops;
		ret = e->ops->start(e, err);
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

static int engine_idle(struct zcfile_engine *e)
{
	int idle;

	pthread_mutex_lock(&e->lock);
	idle = e->ops->idle(e);
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
		STAT_INC(e->f, inline_ios, 1);
		r->done(r, zcfile_exec(e->f, r));
		return;
	}
	e->ops->submit(e, r);
}

void zcfile_engine_stop(struct zcfile_engine *e)
{
	if (!e)
		return;
	e->ops->stop(e);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
}

const char *zcfile_engine_describe(struct zcfile_engine *e)
{
	return e->desc;
}
