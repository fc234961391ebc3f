/* SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0 */
/*
 * zcfile: the I/O paths, free of tcmu-runner types so that they can be
 * unit tested on the host against real files and real iovecs.
 *
 * A zcfile_req is one backing-file operation. It is run either
 * synchronously (zcfile_exec) or through an engine that keeps many in
 * flight: io_uring (one ring and one reaper thread per device,
 * zcfile_uring.c) or a pool of worker threads (zcfile_threads.c). An
 * engine always reports the result through req->done, possibly before
 * zcfile_engine_submit() returns.
 *
 * Data-out buffers (WRITE, WRITE SAME) are never written to: under zero
 * copy they are read-only mappings of the initiator's pages.
 */
#ifndef ZCFILE_IO_H
#define ZCFILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "zcfile_config.h"

enum zcfile_op {
	ZCFILE_READ,
	ZCFILE_WRITE,
	ZCFILE_FLUSH,		/* fdatasync */
	ZCFILE_UNMAP,		/* punch a hole: reads back zeroes */
	ZCFILE_WRITESAME,	/* iov[0] (one block) repeated over [off, off+len) */
};

struct zcfile_stats {
	uint64_t direct_ios;	/* transfers done with O_DIRECT */
	uint64_t buffered_ios;	/* transfers done through the page cache */
	uint64_t pin_fallbacks;	/* O_DIRECT could not pin the buffer (EFAULT/EEXIST) */
	uint64_t einval_fallbacks;	/* O_DIRECT refused the alignment */
	uint64_t unaligned;	/* not tried with O_DIRECT: unaligned */
	uint64_t short_resubmits;	/* short transfers continued */
	uint64_t eof_zero_bytes;	/* read past end of file, zero-filled */
	uint64_t inline_ios;	/* run in the submitting thread (engine idle) */
};

struct zcfile_file {
	int fd;			/* O_RDWR, buffered */
	int dfd;		/* O_RDWR | O_DIRECT, or -1 */
	unsigned int dio_align;	/* O_DIRECT memory/offset/length alignment */
	struct zcfile_stats stats;	/* updated atomically */
};

struct zcfile_req;
typedef void (*zcfile_done_fn)(struct zcfile_req *req, int err);

struct zcfile_req {
	enum zcfile_op op;
	const struct iovec *iov;
	size_t iov_cnt;
	size_t len;		/* bytes to transfer, or the range length */
	off_t off;
	zcfile_done_fn done;	/* err: 0 or -errno */

	/* engine state */
	struct zcfile_req *next;
	size_t xfered;
	struct iovec *own;	/* private, advanced iovec copy */
	const struct iovec *cur;
	size_t cur_cnt;
	int buffered;		/* O_DIRECT given up for this request */
	int used_fd;
};

/* Open @path for the I/O paths (and with O_DIRECT when @direct). */
int zcfile_file_open(struct zcfile_file *f, const char *path, int direct);
void zcfile_file_close(struct zcfile_file *f);

/*
 * Make @f serve a LUN of @lun_size bytes in @block_size blocks (at open,
 * and when the LUN is resized): checked first (zcfile_check_size), then a
 * shorter regular file is grown sparsely. A longer file is left as it is.
 * Returns 0, or -1 with *err set.
 */
int zcfile_file_resize(struct zcfile_file *f, uint64_t lun_size, uint32_t block_size,
		       const char *path, char **err);

/* Run @req synchronously; returns 0 or -errno. req->done is not called. */
int zcfile_exec(struct zcfile_file *f, struct zcfile_req *req);

/*
 * Read or write exactly @len bytes at @off through @iov, retrying short
 * transfers; with f->dfd, O_DIRECT first and the page cache for what
 * O_DIRECT refuses (EFAULT, or EEXIST for special PTEs in a VM_MIXEDMAP
 * vma such as the TCMU zero-copy window: the buffer cannot be pinned;
 * EINVAL: alignment). A read past the
 * end of the file zero-fills the rest. Returns @len or -errno. @iov is
 * not modified.
 */
ssize_t zcfile_rw(struct zcfile_file *f, const struct iovec *iov, size_t iov_cnt,
		  size_t len, off_t off, int write);

struct zcfile_engine;

/*
 * Start an engine on @f. @kind AUTO picks io_uring when the kernel offers
 * it, else threads. @depth 0 is the engine's default. Returns 0, or -1
 * with *err set.
 */
int zcfile_engine_start(struct zcfile_engine **ep, struct zcfile_file *f,
			enum zcfile_engine_kind kind, unsigned int depth, char **err);
void zcfile_engine_submit(struct zcfile_engine *e, struct zcfile_req *req);
/*
 * With @on, zcfile_engine_submit() runs a request of at most
 * ZCFILE_INLINE_MAX bytes (zcfile_config.h) itself, in the caller's
 * thread, when the engine has nothing in flight: one command at a time
 * then costs no hand-off to a worker and back. Submissions must come from
 * one thread (tcmu-runner's command thread) for the check to hold.
 */
void zcfile_engine_set_inline(struct zcfile_engine *e, int on);
/* Wait for every request in flight, then stop. */
void zcfile_engine_stop(struct zcfile_engine *e);
const char *zcfile_engine_describe(struct zcfile_engine *e);

/* A snapshot of f->stats as "name=value ..." (static buffer in the caller). */
void zcfile_stats_format(struct zcfile_file *f, char *buf, size_t size);

#endif
