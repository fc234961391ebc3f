// SPDX-License-Identifier: GPL-2.0
/*
 * handler_zctest: a tcmu-runner handler that misbehaves on purpose, for the
 * zero-copy fault tests (ci/tests/test_zc_*.sh). Never install it anywhere.
 *
 * cfgstring: MODE@PATH, PATH an existing backing file. MODE:
 *   normal      plain buffered file I/O (the control)
 *   storeout    before each WRITE, store into the data-out buffer; a SIGBUS
 *               is caught and counted in PATH.sigbus, a store that went
 *               through is counted in PATH.stored (then the file gets what
 *               the buffer holds)
 *   untouched   READ completes GOOD without touching the buffer
 *   badid       the first WRITE is completed with a cmd_id the kernel never
 *               issued
 *   badpad      the first WRITE is written to the file, then its ring
 *               entry is rewritten as a PAD of length 0 and cmd_tail moved
 *               past it (a stock kernel spins on it forever); the handler
 *               thread then parks
 *   badlen      the same with the entry given a length of 16 bytes
 *               (shorter than a command entry) and cmd_tail moved by 16
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "libtcmu.h"
#include "tcmu-runner.h"
#include "tcmur_device.h"
#include "target_core_user_local.h"

enum zct_mode {
	ZCT_NORMAL, ZCT_STOREOUT, ZCT_UNTOUCHED, ZCT_BADID, ZCT_BADPAD, ZCT_BADLEN
};

struct zct_state {
	int fd;
	enum zct_mode mode;
	char path[256];
	int misbehaved;	/* badid, badpad, badlen: done once */
};

static __thread sigjmp_buf zct_jmp;
static __thread volatile int zct_armed;

static void zct_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (zct_armed)
		siglongjmp(zct_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void zct_count(struct zct_state *st, const char *suffix)
{
	char p[300];
	FILE *f;

	snprintf(p, sizeof(p), "%s.%s", st->path, suffix);
	f = fopen(p, "a");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
}

static int zct_open(struct tcmu_device *dev, bool reopen)
{
	const char *cfg = strchr(tcmu_dev_get_cfgstring(dev), '/');
	struct zct_state *st;
	struct sigaction sa;
	const char *at;

	(void)reopen;
	if (!cfg || !(at = strchr(cfg + 1, '@'))) {
		tcmu_err("zctest: cfgstring must be MODE@PATH\n");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (!strncmp(cfg + 1, "normal@", 7))
		st->mode = ZCT_NORMAL;
	else if (!strncmp(cfg + 1, "storeout@", 9))
		st->mode = ZCT_STOREOUT;
	else if (!strncmp(cfg + 1, "untouched@", 10))
		st->mode = ZCT_UNTOUCHED;
	else if (!strncmp(cfg + 1, "badid@", 6))
		st->mode = ZCT_BADID;
	else if (!strncmp(cfg + 1, "badpad@", 7))
		st->mode = ZCT_BADPAD;
	else if (!strncmp(cfg + 1, "badlen@", 7))
		st->mode = ZCT_BADLEN;
	else {
		tcmu_err("zctest: unknown mode in %s\n", cfg + 1);
		free(st);
		return -EINVAL;
	}
	snprintf(st->path, sizeof(st->path), "%s", at + 1);
	st->fd = open(st->path, O_RDWR);
	if (st->fd < 0) {
		tcmu_err("zctest: open %s: %m\n", st->path);
		free(st);
		return -EINVAL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = zct_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	tcmur_dev_set_private(dev, st);
	return 0;
}

static void zct_close(struct tcmu_device *dev)
{
	struct zct_state *st = tcmur_dev_get_private(dev);

	close(st->fd);
	free(st);
}

static int zct_rw(struct zct_state *st, bool write, struct iovec *iov,
		  size_t iov_cnt, size_t len, off_t off)
{
	ssize_t ret;

	while (len) {
		ret = write ? pwritev(st->fd, iov, iov_cnt, off) :
			      preadv(st->fd, iov, iov_cnt, off);
		if (ret < 0)
			return write ? TCMU_STS_WR_ERR : TCMU_STS_RD_ERR;
		if (ret == 0) {
			tcmu_iovec_zero(iov, iov_cnt);
			break;
		}
		tcmu_iovec_seek(iov, ret);
		off += ret;
		len -= ret;
	}
	return TCMU_STS_OK;
}

static int zct_read(struct tcmu_device *dev, struct tcmur_cmd *cmd,
		    struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	struct zct_state *st = tcmur_dev_get_private(dev);

	(void)cmd;
	if (st->mode == ZCT_UNTOUCHED)
		return TCMU_STS_OK;
	return zct_rw(st, false, iov, iov_cnt, len, off);
}

/*
 * Malformed completion: rewrite the header of the entry at cmd_tail (the
 * oldest command not completed, here the only one) and move cmd_tail past
 * it, the way a buggy daemon would, then tell the kernel. The ring is
 * broken from here on: this thread never completes its command and parks
 * until the test kills tcmu-runner.
 */
static void zct_corrupt(struct tcmu_device *dev, struct zct_state *st)
{
	struct tcmur_device *rdev = tcmu_dev_get_private(dev);
	struct tcmu_cmd_entry *ent;
	uint32_t len = st->mode == ZCT_BADPAD ? 0 : 16;
	struct tcmu_mailbox *mb;
	void *base = NULL;

	free(tcmu_dev_get_memory_info(dev, &base, NULL, NULL));
	mb = base;
	pthread_spin_lock(&rdev->lock);
	ent = (void *)mb + mb->cmdr_off + mb->cmd_tail;
	ent->hdr.len_op = len | (st->mode == ZCT_BADPAD ? TCMU_OP_PAD : TCMU_OP_CMD);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mb->cmd_tail = (mb->cmd_tail + (len ? len : TCMU_OP_ALIGN_SIZE)) %
		       mb->cmdr_size;
	pthread_spin_unlock(&rdev->lock);
	zct_count(st, "corrupted");
	tcmulib_processing_complete(dev);
	for (;;)
		pause();
}

static int zct_write(struct tcmu_device *dev, struct tcmur_cmd *cmd,
		     struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	struct zct_state *st = tcmur_dev_get_private(dev);

	if (st->mode == ZCT_STOREOUT && iov_cnt && iov[0].iov_len) {
		volatile char *p = iov[0].iov_base;

		if (sigsetjmp(zct_jmp, 1) == 0) {
			zct_armed = 1;
			p[0] = (char)(p[0] ^ 0x5a);
			zct_armed = 0;
			zct_count(st, "stored");
		} else {
			zct_armed = 0;
			zct_count(st, "sigbus");
		}
	}
	if (st->mode == ZCT_BADID &&
	    !__atomic_exchange_n(&st->misbehaved, 1, __ATOMIC_SEQ_CST))
		cmd->lib_cmd->cmd_id ^= 0x8000;
	if ((st->mode == ZCT_BADPAD || st->mode == ZCT_BADLEN) &&
	    !__atomic_exchange_n(&st->misbehaved, 1, __ATOMIC_SEQ_CST)) {
		/* touch the buffer first: with zero copy it is mapped now */
		zct_rw(st, true, iov, iov_cnt, len, off);
		zct_corrupt(dev, st);
	}
	return zct_rw(st, true, iov, iov_cnt, len, off);
}

static int zct_flush(struct tcmu_device *dev, struct tcmur_cmd *cmd)
{
	struct zct_state *st = tcmur_dev_get_private(dev);

	(void)cmd;
	return fdatasync(st->fd) ? TCMU_STS_WR_ERR : TCMU_STS_OK;
}

static struct tcmur_handler zct_handler = {
	.name = "zero-copy fault test handler",
	.subtype = "zctest",
	.cfg_desc = "MODE@PATH (test only)",
	.open = zct_open,
	.close = zct_close,
	.read = zct_read,
	.write = zct_write,
	.flush = zct_flush,
	.nr_threads = 4,
};

int handler_init(void)
{
	return tcmur_register_handler(&zct_handler);
}
