// SPDX-License-Identifier: GPL-2.0
/*
 * handler_zctest: a tcmu-runner handler that misbehaves on purpose, for the
 * zero-copy fault tests (ci/tests/test_zc_*.sh). Never install it anywhere.
 *
 * cfgstring: MODE[+N]@PATH, PATH an existing backing file (rtslib refuses
 * a colon in it, hence the plus). What the modes note down is appended to
 * PATH.<what>, one line per event. MODE:
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
 *
 * The modes below act on commands of 64 KiB and more (the zero-copied ones
 * with the default zero_copy_min_size):
 *   race+N      the first N such commands: a second thread keeps faulting
 *               the buffer in (MADV_DONTNEED, then a load per page) while
 *               the handler sleeps 3.5 s (past a cmd_time_out of 1: the
 *               buffer gets bounced), then the handler completes it late
 *               ("started" per race). The second thread runs until a load
 *               gets SIGBUS (the range was released), then counts the
 *               buffer's pages that are still mapped (/proc/self/pagemap):
 *               "stale" lines, one per page; "released" when it saw the
 *               SIGBUS, "unreleased" if it gave up after 10 s
 *   keepbuf     each such command completes with TCMU_UFLAG_KEEP_BUF; at
 *               the start of the next command every kept buffer is checked
 *               against the file ("keepbad" if it differs, "keepgone" if it
 *               SIGBUSes), released with action/free_kept_buf ("freed"),
 *               and then must have no page mapped ("stale" per page)
 *   mprotect    before a READ is filled: load one byte (the whole buffer
 *               gets mapped), then mprotect() the device's whole map
 *               read-only and back; then fill it with stores ("stored", or
 *               "sigbus" and the READ fails)
 *   clearrefs   the same with "4" written to /proc/self/clear_refs (clear
 *               soft-dirty: write-protects every PTE) instead of mprotect()
 *   twotouch+N  load every page of the buffer, count the mapped pages,
 *               sleep N ms, count again: "lost" per page that went away
 *               while the command was live
 *   stall+N     the first WRITE: load its buffer, sleep N ms, then write
 *               the file from it: "efault" if the buffer was taken away
 *               (the command timed out), "late_ok" if it was still there
 *   split       before the first command touches its buffer, mprotect()
 *               everything from the data area on read-only and back, which
 *               splits the mapping in two ("split"); then plain file I/O
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "libtcmu.h"
#include "tcmu-runner.h"
#include "tcmur_device.h"
#include "target_core_user_local.h"

/* Linux 5.14's uapi value; tcmu-runner 1.5.4's copy of the header predates it. */
#ifndef TCMU_UFLAG_KEEP_BUF
#define TCMU_UFLAG_KEEP_BUF	0x4
#endif

enum zct_mode {
	ZCT_NORMAL, ZCT_STOREOUT, ZCT_UNTOUCHED, ZCT_BADID, ZCT_BADPAD, ZCT_BADLEN,
	ZCT_RACE, ZCT_KEEPBUF, ZCT_MPROTECT, ZCT_CLEARREFS, ZCT_TWOTOUCH,
	ZCT_STALL, ZCT_SPLIT, ZCT_NR_MODES
};

static const char *const zct_mode_names[ZCT_NR_MODES] = {
	[ZCT_NORMAL] = "normal", [ZCT_STOREOUT] = "storeout",
	[ZCT_UNTOUCHED] = "untouched", [ZCT_BADID] = "badid",
	[ZCT_BADPAD] = "badpad", [ZCT_BADLEN] = "badlen", [ZCT_RACE] = "race",
	[ZCT_KEEPBUF] = "keepbuf", [ZCT_MPROTECT] = "mprotect",
	[ZCT_CLEARREFS] = "clearrefs", [ZCT_TWOTOUCH] = "twotouch",
	[ZCT_STALL] = "stall", [ZCT_SPLIT] = "split",
};

#define ZCT_BIG		(64 * 1024)	/* zero_copy_min_size's default */
#define ZCT_MAX_KEPT	64

struct zct_kept {
	uint16_t cmd_id;
	char *buf;
	size_t len;
	off_t off;
};

struct zct_state {
	int fd;
	enum zct_mode mode;
	long arg;
	char path[256];
	int misbehaved;	/* badid, badpad, badlen, stall: done once */
	int races;	/* race: iterations started */
	pthread_mutex_t lock;
	int nkept;
	struct zct_kept kept[ZCT_MAX_KEPT];
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

static void zct_note(struct zct_state *st, const char *suffix, long n)
{
	char p[300];
	FILE *f;

	snprintf(p, sizeof(p), "%s.%s", st->path, suffix);
	f = fopen(p, "a");
	if (f) {
		while (n-- > 0)
			fputs("1\n", f);
		fclose(f);
	}
}

static void zct_count(struct zct_state *st, const char *suffix)
{
	zct_note(st, suffix, 1);
}

/* How many pages of [buf, buf + len) this process has mapped. */
static long zct_mapped(const char *buf, size_t len)
{
	long psz = sysconf(_SC_PAGESIZE), n = 0;
	uintptr_t a = (uintptr_t)buf & ~(uintptr_t)(psz - 1);
	uint64_t e;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return -1;
	for (; a < (uintptr_t)buf + len; a += psz) {
		if (pread(fd, &e, sizeof(e), (off_t)(a / psz) * sizeof(e)) != sizeof(e)) {
			n = -1;
			break;
		}
		n += (e >> 63) & 1;
	}
	close(fd);
	return n;
}

/* Load one byte of every page; false if one of them raised SIGBUS. */
static bool zct_load_all(const char *buf, size_t len)
{
	long psz = sysconf(_SC_PAGESIZE);
	volatile const char *p = buf;
	size_t i;
	bool ok = true;

	if (sigsetjmp(zct_jmp, 1) == 0) {
		zct_armed = 1;
		for (i = 0; i < len; i += psz)
			(void)p[i];
	} else {
		ok = false;
	}
	zct_armed = 0;
	return ok;
}

/* memcpy() into the buffer; false if a store raised SIGBUS. */
static bool zct_store(char *dst, const char *src, size_t len)
{
	bool ok = true;

	if (sigsetjmp(zct_jmp, 1) == 0) {
		zct_armed = 1;
		memcpy(dst, src, len);
	} else {
		ok = false;
	}
	zct_armed = 0;
	return ok;
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
	for (st->mode = 0; st->mode < ZCT_NR_MODES; st->mode++) {
		size_t l = strlen(zct_mode_names[st->mode]);

		if (!strncmp(cfg + 1, zct_mode_names[st->mode], l) &&
		    (cfg[1 + l] == '@' || cfg[1 + l] == '+'))
			break;
	}
	if (st->mode == ZCT_NR_MODES) {
		tcmu_err("zctest: unknown mode in %s\n", cfg + 1);
		free(st);
		return -EINVAL;
	}
	st->arg = strchr(cfg + 1, '+') && strchr(cfg + 1, '+') < at ?
		  strtol(strchr(cfg + 1, '+') + 1, NULL, 10) : 0;
	pthread_mutex_init(&st->lock, NULL);
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


/* ---- race: fault a bounced buffer in while it is released ---- */

struct zct_hammer {
	struct zct_state *st;
	char *buf;
	size_t len;
};

static void *zct_hammer_fn(void *arg)
{
	struct zct_hammer *h = arg;
	struct timespec t0, t;
	bool released = false;
	long stale;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* drop our PTEs, so that every load below faults again */
		madvise(h->buf, h->len, MADV_DONTNEED);
		if (!zct_load_all(h->buf, h->len)) {
			released = true;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 10);
	stale = zct_mapped(h->buf, h->len);
	zct_count(h->st, released ? "released" : "unreleased");
	zct_note(h->st, "stale", released ? stale : 0);
	free(h);
	return NULL;
}

static void zct_race(struct zct_state *st, struct iovec *iov)
{
	struct zct_hammer *h = malloc(sizeof(*h));
	pthread_t t;

	if (!h)
		return;
	h->st = st;
	h->buf = iov[0].iov_base;
	h->len = iov[0].iov_len;
	if (pthread_create(&t, NULL, zct_hammer_fn, h)) {
		free(h);
		return;
	}
	pthread_detach(t);
	zct_count(st, "started");
	/*
	 * Past cmd_time_out=1: the timer is rounded up to a whole second and
	 * runs from a workqueue, so the command is bounced within 2-3 s.
	 */
	usleep(3500 * 1000);
}

/* ---- keepbuf ---- */

/*
 * Complete the command at hand with KEEP_BUF: tcmu-runner writes the
 * response into the oldest command entry of the ring, which with one
 * command in flight is this command's.
 */
static void zct_mark_keep(struct tcmu_device *dev)
{
	struct tcmur_device *rdev = tcmu_dev_get_private(dev);
	struct tcmu_cmd_entry *ent;
	struct tcmu_mailbox *mb;
	void *base = NULL;
	uint32_t t;

	free(tcmu_dev_get_memory_info(dev, &base, NULL, NULL));
	mb = base;
	pthread_spin_lock(&rdev->lock);
	for (t = mb->cmd_tail; t != mb->cmd_head;
	     t = (t + tcmu_hdr_get_len(ent->hdr.len_op)) % mb->cmdr_size) {
		ent = (void *)mb + mb->cmdr_off + t;
		if (tcmu_hdr_get_op(ent->hdr.len_op) == TCMU_OP_CMD) {
			ent->hdr.uflags |= TCMU_UFLAG_KEEP_BUF;
			break;
		}
	}
	pthread_spin_unlock(&rdev->lock);
}

/* Check and release the buffers kept so far (none is in use any more). */
static void zct_release_kept(struct tcmu_device *dev, struct zct_state *st)
{
	struct zct_kept k;
	char *tmp;
	long n;

	pthread_mutex_lock(&st->lock);
	while (st->nkept) {
		k = st->kept[--st->nkept];
		tmp = malloc(k.len);
		if (tmp && pread(st->fd, tmp, k.len, k.off) == (ssize_t)k.len) {
			if (!zct_load_all(k.buf, k.len))
				zct_count(st, "keepgone");
			else if (memcmp(tmp, k.buf, k.len))
				zct_count(st, "keepbad");
		}
		free(tmp);
		if (tcmu_cfgfs_dev_exec_action(dev, "free_kept_buf", k.cmd_id))
			zct_count(st, "freefail");
		else
			zct_count(st, "freed");
		n = zct_mapped(k.buf, k.len);
		zct_note(st, "stale", n);
	}
	pthread_mutex_unlock(&st->lock);
}

static void zct_keep(struct tcmu_device *dev, struct zct_state *st,
		     struct tcmur_cmd *cmd, char *buf, size_t len, off_t off)
{
	pthread_mutex_lock(&st->lock);
	if (st->nkept < ZCT_MAX_KEPT) {
		st->kept[st->nkept++] = (struct zct_kept){
			.cmd_id = cmd->lib_cmd->cmd_id, .buf = buf, .len = len,
			.off = off,
		};
		zct_mark_keep(dev);
		zct_count(st, "kept");
	}
	pthread_mutex_unlock(&st->lock);
}

/* ---- mprotect, clearrefs: a data-in buffer write-protected under us ---- */

static void zct_wrprotect(struct tcmu_device *dev, struct zct_state *st,
			  char *buf)
{
	size_t len = 0;
	void *base = NULL;
	int fd;

	(void)zct_load_all(buf, 1);	/* maps the whole buffer, writable */
	if (st->mode == ZCT_MPROTECT) {
		free(tcmu_dev_get_memory_info(dev, &base, &len, NULL));
		if (mprotect(base, len, PROT_READ) ||
		    mprotect(base, len, PROT_READ | PROT_WRITE))
			zct_count(st, "mprotect_failed");
		return;
	}
	fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0 || write(fd, "4", 1) != 1)
		zct_count(st, "clear_refs_failed");
	if (fd >= 0)
		close(fd);
}

static int zct_read_stores(struct zct_state *st, char *buf, size_t len,
			   off_t off)
{
	char *tmp = malloc(len);
	ssize_t r;
	bool ok;

	if (!tmp)
		return TCMU_STS_NO_RESOURCE;
	r = pread(st->fd, tmp, len, off);
	if (r < 0) {
		free(tmp);
		return TCMU_STS_RD_ERR;
	}
	memset(tmp + r, 0, len - r);
	ok = zct_store(buf, tmp, len);
	free(tmp);
	zct_count(st, ok ? "stored" : "sigbus");
	return ok ? TCMU_STS_OK : TCMU_STS_RD_ERR;
}

/* ---- twotouch: a live command's PTEs must stay while it is live ---- */

static void zct_twotouch(struct zct_state *st, const char *buf, size_t len)
{
	long before, after;

	(void)zct_load_all(buf, len);
	before = zct_mapped(buf, len);
	usleep((st->arg ? st->arg : 20) * 1000);
	after = zct_mapped(buf, len);
	zct_note(st, "lost", before - after);
}

/* ---- split: the daemon's mapping in two pieces ---- */

static void zct_split(struct tcmu_device *dev, struct zct_state *st)
{
	struct tcmu_mailbox *mb;
	void *base = NULL;
	size_t len = 0;
	char *data;

	if (__atomic_exchange_n(&st->misbehaved, 1, __ATOMIC_SEQ_CST))
		return;
	free(tcmu_dev_get_memory_info(dev, &base, &len, NULL));
	mb = base;
	data = (char *)base + mb->cmdr_off + mb->cmdr_size;
	if (mprotect(data, (char *)base + len - data, PROT_READ) ||
	    mprotect(data, (char *)base + len - data, PROT_READ | PROT_WRITE))
		zct_count(st, "mprotect_failed");
	else
		zct_count(st, "split");
}

static bool zct_big(struct iovec *iov, size_t iov_cnt, size_t len)
{
	return iov_cnt == 1 && len >= ZCT_BIG && iov[0].iov_len == len;
}

static int zct_read(struct tcmu_device *dev, struct tcmur_cmd *cmd,
		    struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	struct zct_state *st = tcmur_dev_get_private(dev);
	char *buf;
	int ret;

	if (st->mode == ZCT_UNTOUCHED)
		return TCMU_STS_OK;
	if (st->mode == ZCT_KEEPBUF)
		zct_release_kept(dev, st);
	if (st->mode == ZCT_SPLIT)
		zct_split(dev, st);
	if (!zct_big(iov, iov_cnt, len))
		return zct_rw(st, false, iov, iov_cnt, len, off);
	switch (st->mode) {
	case ZCT_MPROTECT:
	case ZCT_CLEARREFS:
		zct_wrprotect(dev, st, iov[0].iov_base);
		return zct_read_stores(st, iov[0].iov_base, len, off);
	case ZCT_TWOTOUCH:
		zct_twotouch(st, iov[0].iov_base, len);
		break;
	case ZCT_RACE:
		if (__atomic_fetch_add(&st->races, 1, __ATOMIC_SEQ_CST) < st->arg)
			zct_race(st, iov);
		break;
	default:
		break;
	}
	buf = iov[0].iov_base;	/* zct_rw() moves the iovec on */
	ret = zct_rw(st, false, iov, iov_cnt, len, off);
	if (st->mode == ZCT_KEEPBUF && ret == TCMU_STS_OK)
		zct_keep(dev, st, cmd, buf, len, off);
	return ret;
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
	char *buf;
	bool big;
	int ret;

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
	if (st->mode == ZCT_KEEPBUF)
		zct_release_kept(dev, st);
	if (st->mode == ZCT_SPLIT)
		zct_split(dev, st);
	if (zct_big(iov, iov_cnt, len)) {
		switch (st->mode) {
		case ZCT_RACE:
			if (__atomic_fetch_add(&st->races, 1, __ATOMIC_SEQ_CST) <
			    st->arg)
				zct_race(st, iov);
			break;
		case ZCT_TWOTOUCH:
			zct_twotouch(st, iov[0].iov_base, len);
			break;
		case ZCT_STALL:
			if (__atomic_exchange_n(&st->misbehaved, 1, __ATOMIC_SEQ_CST))
				break;
			(void)zct_load_all(iov[0].iov_base, len);
			usleep(st->arg * 1000);
			ret = zct_rw(st, true, iov, iov_cnt, len, off);
			zct_count(st, ret == TCMU_STS_OK ? "late_ok" : "efault");
			return ret;
		default:
			break;
		}
	}
	big = zct_big(iov, iov_cnt, len);
	buf = iov[0].iov_base;	/* zct_rw() moves the iovec on */
	ret = zct_rw(st, true, iov, iov_cnt, len, off);
	if (st->mode == ZCT_KEEPBUF && ret == TCMU_STS_OK && big)
		zct_keep(dev, st, cmd, buf, len, off);
	return ret;
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
