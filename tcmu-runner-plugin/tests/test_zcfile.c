// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * Host-side unit tests of zcfile's config parsing and I/O paths, against
 * real temporary files and real iovecs, through the synchronous path and
 * through both engines (io_uring, threads), buffered and O_DIRECT. TAP.
 *
 * Data-out buffers are mprotect()ed read-only before they are handed
 * over, as the zero-copy window maps them: a store into one kills the
 * test. The O_DIRECT EFAULT fallback is driven with the vDSO's vvar
 * page, which (like the zero-copy window's special PTEs) can be read but
 * not pinned by GUP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcfile_config.h"
#include "zcfile_io.h"

static int n_test, n_fail;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n_test++;
	if (!cond)
		n_fail++;
	printf("%sok %d ", cond ? "" : "not ", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void skip(const char *name, const char *why)
{
	printf("ok %d %s # SKIP %s\n", ++n_test, name, why);
}

static char dir[] = "/var/tmp/zcfile-test.XXXXXX";

/* ---- config ---- */

static int parse_err(const char *cfg, const char *want)
{
	struct zcfile_config c;
	char *err = NULL;
	int r = zcfile_parse_config(cfg, &c, &err) < 0 && err && strstr(err, want);

	printf("# %s -> %s\n", cfg ? cfg : "(null)", err ? err : "(accepted)");
	free(err);
	return r;
}

static int check_err(const char *path, int direct, const char *want)
{
	struct zcfile_config c;
	char *err = NULL;
	int r;

	memset(&c, 0, sizeof(c));
	snprintf(c.path, sizeof(c.path), "%s", path);
	c.direct = direct;
	r = zcfile_check_file(&c, &err) < 0 && err && strstr(err, want);
	printf("# %s -> %s\n", path, err ? err : "(accepted)");
	free(err);
	return r;
}

static int size_err(uint64_t lun, uint32_t bs, uint64_t fsz, int blk, const char *want)
{
	char *err = NULL;
	int r = zcfile_check_size(lun, bs, fsz, blk, "/x", &err) < 0 && err && strstr(err, want);

	printf("# size %llu/%u file %llu blk %d -> %s\n", (unsigned long long)lun, bs,
	       (unsigned long long)fsz, blk, err ? err : "(accepted)");
	free(err);
	return r;
}

static void test_config(void)
{
	struct zcfile_config c;
	char *err = NULL, p[256];
	struct stat sb1, sb2;
	int fd;

	ok(zcfile_parse_config("zcfile//tmp/a", &c, &err) == 0 &&
	   strcmp(c.path, "/tmp/a") == 0 && !c.direct && c.engine == ZCFILE_ENGINE_AUTO &&
	   c.depth == 0 && c.inline_idle == 1, "config: subtype prefix stripped, defaults");
	ok(zcfile_parse_config("/tmp/b", &c, &err) == 0 &&
	   strcmp(c.path, "/tmp/b") == 0, "config: bare path");
	ok(zcfile_parse_config("zcfile//tmp/c;direct;engine=threads;depth=16", &c, &err) == 0 &&
	   strcmp(c.path, "/tmp/c") == 0 && c.direct == 1 && c.engine == ZCFILE_ENGINE_THREADS &&
	   c.depth == 16, "config: options direct, engine, depth");
	ok(zcfile_parse_config("/tmp/d;direct=1;direct=0;engine=uring;", &c, &err) == 0 &&
	   c.direct == 0 && c.engine == ZCFILE_ENGINE_URING, "config: last option wins, trailing ';'");
	ok(parse_err("", "empty"), "config: empty string refused");
	ok(parse_err(NULL, "empty"), "config: NULL refused");
	ok(parse_err("zcfile/relative", "absolute"), "config: relative path refused");
	ok(parse_err("zcfile/;direct", "no backing file"), "config: options without path refused");
	ok(parse_err("/tmp/a;bogus=1", "unknown option 'bogus'"), "config: unknown option refused");
	ok(parse_err("/tmp/a;direct=2", "bad value '2' for option direct"), "config: bad direct value");
	ok(parse_err("/tmp/a;engine=aio", "bad value 'aio' for option engine"), "config: bad engine");
	ok(parse_err("/tmp/a;depth=0", "bad value '0' for option depth"), "config: depth 0 refused");
	ok(zcfile_parse_config("/tmp/e;inline=0", &c, &err) == 0 && c.inline_idle == 0,
	   "config: inline=0");
	ok(parse_err("/tmp/a;inline=2", "bad value '2' for option inline"), "config: bad inline value");
	ok(parse_err("/tmp/a;depth=12x", "bad value '12x'"), "config: depth not a number");
	ok(parse_err("/tmp/a;depth=-1", "bad value '-1'"), "config: negative depth");
	ok(parse_err("/tmp/a;depth=4096", "bad value '4096'"), "config: depth too large");
	ok(parse_err("/tmp/a;depth", "needs a value"), "config: depth without value");
	ok(parse_err("/tmp/a;=1", "empty option"), "config: empty option name");

	snprintf(p, sizeof(p), "%s/missing", dir);
	ok(check_err(p, 0, "No such file"), "check: missing file refused");
	ok(access(p, F_OK) < 0, "check: missing file not created");
	ok(check_err(dir, 0, "directory"), "check: directory refused");
	ok(check_err("/dev/null", 0, "neither"), "check: character device refused");
	snprintf(p, sizeof(p), "%s/file", dir);
	fd = open(p, O_CREAT | O_RDWR, 0600);
	ok(write(fd, "keep", 4) == 4, "check: test file written");
	close(fd);
	stat(p, &sb1);
	memset(&c, 0, sizeof(c));
	snprintf(c.path, sizeof(c.path), "%s", p);
	ok(zcfile_check_file(&c, &err) == 0, "check: regular file accepted");
	c.direct = 1;
	if (zcfile_check_file(&c, &err) == 0) {
		ok(1, "check: regular file accepted with direct");
	} else {
		skip("check: regular file accepted with direct", err);
		free(err);
		err = NULL;
	}
	stat(p, &sb2);
	ok(sb1.st_size == sb2.st_size && sb1.st_mtim.tv_sec == sb2.st_mtim.tv_sec &&
	   sb1.st_mtim.tv_nsec == sb2.st_mtim.tv_nsec, "check: file left untouched");
	if (geteuid() == 0) {
		skip("check: unreadable file refused", "root can read anything");
	} else {
		chmod(p, 0);
		ok(check_err(p, 0, "not readable"), "check: unreadable file refused");
		chmod(p, 0600);
	}

	ok(size_err(0, 512, 0, 0, "bad LUN size 0"), "size: zero refused");
	ok(size_err(1000, 512, 0, 0, "not a multiple"), "size: not a multiple of the block size");
	ok(size_err(1 << 20, 512, 1 << 19, 1, "has only"), "size: block device too small");
	ok(size_err(1 << 20, 512, 0, 0, "(accepted)") == 0, "size: shorter regular file accepted");
	ok(zcfile_check_size(1 << 20, 4096, 1 << 20, 1, "/x", NULL) == 0, "size: block device fits");
}

/* ---- synchronous I/O paths ---- */

static void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *c = buf;
	size_t i;

	for (i = 0; i < len; i++)
		c[i] = (unsigned char)((i * 2654435761u + seed * 40503u) >> 7);
}

/* A page-aligned buffer, read-only once filled (a data-out buffer under zero copy). */
static void *ro_buffer(size_t len, unsigned int seed)
{
	size_t map = (len + 4095) & ~(size_t)4095;
	void *p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	fill(p, len, seed);
	mprotect(p, map, PROT_READ);
	return p;
}

static void ro_free(void *p, size_t len)
{
	munmap(p, (len + 4095) & ~(size_t)4095);
}

static int file_equals(int fd, off_t off, const void *want, size_t len)
{
	char *got = malloc(len);
	int r = got && pread(fd, got, len, off) == (ssize_t)len && memcmp(got, want, len) == 0;

	free(got);
	return r;
}

static void test_sync_io(void)
{
	char path[256], *a, *b, r1[1234], r2[4096 + 8192 - 1234], *zero;
	struct zcfile_file f;
	struct iovec w[2], r[2];
	int i, good = 1;

	snprintf(path, sizeof(path), "%s/io", dir);
	close(open(path, O_CREAT | O_RDWR | O_TRUNC, 0600));
	ok(zcfile_file_open(&f, path, 0) == 0, "io: open buffered");
	a = ro_buffer(3000, 1);
	b = ro_buffer(5000 - 3000 + 96, 2);
	w[0] = (struct iovec){ a, 3000 };
	w[1] = (struct iovec){ b, 5000 - 3000 + 96 };
	/* 5000 bytes: the second iovec is longer than needed. */
	ok(zcfile_rw(&f, w, 2, 5000, 4096, 1) == 5000, "io: write across two read-only iovecs");
	ok(w[0].iov_len == 3000 && w[1].iov_base == b, "io: caller's iovecs untouched");

	/* 8192 bytes at 4096: 5000 written, the rest is past EOF. */
	memset(r1, 0xaa, sizeof(r1));
	memset(r2, 0xaa, sizeof(r2));
	r[0] = (struct iovec){ r1, sizeof(r1) };
	r[1] = (struct iovec){ r2, sizeof(r2) };
	ok(zcfile_rw(&f, r, 2, 8192, 4096, 0) == 8192, "io: read across EOF returns full length");
	for (i = 0; i < 8192; i++) {
		char want = i < 3000 ? a[i] : i < 5000 ? b[i - 3000] : 0;
		char got = i < (int)sizeof(r1) ? r1[i] : r2[i - sizeof(r1)];

		if (want != got) {
			printf("# byte %d: want %d got %d\n", i, want, got);
			good = 0;
			break;
		}
	}
	ok(good, "io: data read back, tail past EOF zero-filled");
	ok(f.stats.eof_zero_bytes == 8192 - 5000, "io: EOF zero-fill counted (%llu bytes)",
	   (unsigned long long)f.stats.eof_zero_bytes);
	ok(zcfile_rw(&f, r, 1, 8192, 0, 0) == -EINVAL, "io: iovecs shorter than len refused");

	/* FLUSH, UNMAP, WRITE SAME through zcfile_exec. */
	{
		struct zcfile_req q;
		char *pat = ro_buffer(512, 9), *want = malloc(65536);
		struct iovec pv = { pat, 512 };
		struct stat sb;

		memset(&q, 0, sizeof(q));
		q.op = ZCFILE_FLUSH;
		ok(zcfile_exec(&f, &q) == 0, "io: flush (fdatasync)");

		memset(&q, 0, sizeof(q));
		q.op = ZCFILE_WRITESAME;
		q.iov = &pv;
		q.iov_cnt = 1;
		q.off = 65536;
		q.len = 65536;
		ok(zcfile_exec(&f, &q) == 0, "io: write same, non-zero block");
		for (i = 0; i < 65536; i += 512)
			memcpy(want + i, pat, 512);
		ok(file_equals(f.fd, 65536, want, 65536), "io: write same pattern on disk");

		memset(&q, 0, sizeof(q));
		q.op = ZCFILE_UNMAP;
		q.off = 65536 + 4096;
		q.len = 8192;
		ok(zcfile_exec(&f, &q) == 0, "io: unmap (punch hole)");
		memset(want + 4096, 0, 8192);
		fstat(f.fd, &sb);
		ok(file_equals(f.fd, 65536, want, 65536) && sb.st_size == 131072,
		   "io: unmapped range reads zeroes, the rest and the size kept");

		/* A read-only block of zeroes (the zero page). */
		zero = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		pv.iov_base = zero;
		memset(&q, 0, sizeof(q));
		q.op = ZCFILE_WRITESAME;
		q.iov = &pv;
		q.iov_cnt = 1;
		q.off = 65536 + 32768;
		q.len = 16384;
		ok(zcfile_exec(&f, &q) == 0, "io: write same, zero block (zero range)");
		memset(want + 32768, 0, 16384);
		ok(file_equals(f.fd, 65536, want, 65536), "io: zeroed range on disk");
		munmap(zero, 4096);
		q.len = 1000;
		ok(zcfile_exec(&f, &q) == -EINVAL, "io: write same length not a block multiple refused");
		ro_free(pat, 512);
		free(want);
	}
	zcfile_file_close(&f);
	ok(zcfile_rw(&f, w, 2, 100, 0, 1) == -EBADF, "io: errno reported");
	ro_free(a, 3000);
	ro_free(b, 5000 - 3000 + 96);
}

/*
 * A stable, readable page that GUP cannot pin: the vDSO data (vvar)
 * pages are VM_PFNMAP/VM_IO like the zero-copy window's special PTEs.
 * Some of them are not populated and SIGBUS when touched: probe.
 */
static sigjmp_buf probe_jmp;

static void probe_fault(int sig)
{
	(void)sig;
	siglongjmp(probe_jmp, 1);
}

static const void *find_unpinnable_page(void)
{
	static char s1[4096], s2[4096];
	struct sigaction sa, old_bus, old_segv;
	char line[512];
	unsigned long lo, hi;
	volatile unsigned long p;
	const void *volatile found = NULL;
	FILE *m = fopen("/proc/self/maps", "r");

	if (!m)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_fault;
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	while (!found && fgets(line, sizeof(line), m)) {
		if (!strstr(line, "[vvar") || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		for (p = lo; p < hi && !found; p += 4096) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			if (sigsetjmp(probe_jmp, 1))
				continue;	/* not populated */
			memcpy(s1, (void *)p, 4096);
			nanosleep(&ts, NULL);
			memcpy(s2, (void *)p, 4096);
			if (!memcmp(s1, s2, 4096))
				found = (const void *)p;
		}
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	fclose(m);
	return found;
}

static void test_direct(void)
{
	char path[256], *buf, *rd, msg[512];
	struct zcfile_file f;
	struct iovec v, rv;
	const void *vv;
	int ret, tries;

	snprintf(path, sizeof(path), "%s/direct", dir);
	close(open(path, O_CREAT | O_RDWR | O_TRUNC, 0600));
	ret = zcfile_file_open(&f, path, 1);
	if (ret < 0) {
		snprintf(msg, sizeof(msg), "O_DIRECT unsupported here: %s", strerror(-ret));
		skip("direct: O_DIRECT I/O paths", msg);
		return;
	}
	buf = ro_buffer(65536, 3);
	rd = aligned_alloc(4096, 65536 + 4096);
	v = (struct iovec){ buf, 65536 };
	ok(zcfile_rw(&f, &v, 1, 65536, 0, 1) == 65536 && f.stats.direct_ios == 1 &&
	   f.stats.buffered_ios == 0, "direct: aligned write goes O_DIRECT");
	rv = (struct iovec){ rd, 65536 };
	ok(zcfile_rw(&f, &rv, 1, 65536, 0, 0) == 65536 && f.stats.direct_ios == 2 &&
	   memcmp(rd, buf, 65536) == 0, "direct: aligned read goes O_DIRECT, data intact");

	/* A buffer O_DIRECT refuses (misaligned by 8 bytes): page cache instead. */
	rv = (struct iovec){ rd + 8, 4096 };
	ok(zcfile_rw(&f, &rv, 1, 4096, 4096, 0) == 4096 && f.stats.buffered_ios == 1 &&
	   f.stats.unaligned == 1 && memcmp(rd + 8, buf + 4096, 4096) == 0,
	   "direct: misaligned buffer served buffered, data intact");
	/* Misaligned file offset on an aligned buffer: never wrong data either. */
	v = (struct iovec){ buf, 4096 };
	ok(zcfile_rw(&f, &v, 1, 4096, 100, 1) == 4096 && file_equals(f.fd, 100, buf, 4096),
	   "direct: misaligned offset written buffered, coherent with O_DIRECT data");
	rv = (struct iovec){ rd, 8192 };
	ok(zcfile_rw(&f, &rv, 1, 8192, 0, 0) == 8192 && memcmp(rd, buf, 100) == 0 &&
	   memcmp(rd + 100, buf, 4096) == 0 && memcmp(rd + 4196, buf + 4196, 8192 - 4196) == 0,
	   "direct: O_DIRECT read sees the buffered write");

	vv = find_unpinnable_page();
	if (!vv) {
		skip("direct: EFAULT from an unpinnable buffer falls back", "no stable vvar page");
	} else {
		static char snap[4096], after[4096];

		for (tries = 0; tries < 3; tries++) {
			uint64_t before = f.stats.pin_fallbacks;

			memcpy(snap, vv, 4096);
			v = (struct iovec){ (void *)vv, 4096 };
			ret = (int)zcfile_rw(&f, &v, 1, 4096, 8192, 1);
			memcpy(after, vv, 4096);
			if (memcmp(snap, after, 4096))
				continue;	/* the page changed under us: retry */
			ok(ret == 4096 && f.stats.pin_fallbacks == before + 1 &&
			   file_equals(f.fd, 8192, snap, 4096),
			   "direct: write from an unpinnable (vvar) page: EFAULT detected, written buffered, data right");
			break;
		}
		if (tries == 3)
			skip("direct: EFAULT from an unpinnable buffer falls back", "vvar kept changing");
	}
	zcfile_stats_format(&f, msg, sizeof(msg));
	printf("# stats: %s\n", msg);
	zcfile_file_close(&f);
	ro_free(buf, 65536);
	free(rd);
}

/* ---- engines ---- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int pending, errors, first_err;
};

static struct waiter W = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };

static void on_done(struct zcfile_req *r, int err)
{
	(void)r;
	pthread_mutex_lock(&W.lock);
	if (err && !W.errors++)
		W.first_err = err;
	if (!--W.pending)
		pthread_cond_broadcast(&W.cond);
	pthread_mutex_unlock(&W.lock);
}

static void w_add(int n)
{
	pthread_mutex_lock(&W.lock);
	W.pending += n;
	pthread_mutex_unlock(&W.lock);
}

static int w_wait(void)
{
	int e;

	pthread_mutex_lock(&W.lock);
	while (W.pending)
		pthread_cond_wait(&W.cond, &W.lock);
	e = W.errors ? W.first_err : 0;
	W.errors = 0;
	pthread_mutex_unlock(&W.lock);
	return e;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define SLOTS 128
#define SLOT (64 * 1024)

static pthread_t inline_thread;
static int inline_done;

static void on_done_inline(struct zcfile_req *r, int err)
{
	(void)r;
	inline_thread = pthread_self();
	__atomic_store_n(&inline_done, err ? err : 1, __ATOMIC_SEQ_CST);
}

/*
 * inline on: a request submitted to an idle engine completes before
 * zcfile_engine_submit() returns, in the caller's thread; inline off:
 * in one of the engine's threads.
 */
static void test_inline(enum zcfile_engine_kind kind)
{
	const char *ename = zcfile_engine_name(kind);
	struct zcfile_engine *e;
	struct zcfile_req req;
	struct zcfile_file f;
	char path[256], *err = NULL;
	void *buf, *big;
	struct iovec iov;
	int i, inl, async;

	snprintf(path, sizeof(path), "%s/inline-%s", dir, ename);
	close(open(path, O_CREAT | O_RDWR | O_TRUNC, 0600));
	if (zcfile_file_open(&f, path, 0) < 0 || zcfile_engine_start(&e, &f, kind, 4, &err) < 0) {
		skip("inline: engine start", err ? err : "?");
		free(err);
		return;
	}
	buf = ro_buffer(8192, 11 + (unsigned int)kind);
	if (!buf) {
		skip("inline: buffer", strerror(errno));
		return;
	}
	zcfile_engine_set_inline(e, 1);
	iov = (struct iovec){ buf, 4096 };
	req = (struct zcfile_req){ .op = ZCFILE_WRITE, .iov = &iov, .iov_cnt = 1, .len = 4096,
				   .off = 0, .done = on_done_inline };
	inline_done = 0;
	zcfile_engine_submit(e, &req);
	inl = __atomic_load_n(&inline_done, __ATOMIC_SEQ_CST);
	ok(inl == 1 && pthread_equal(inline_thread, pthread_self()) && f.stats.inline_ios == 1,
	   "inline %s: an idle engine runs the request in the submitting thread", ename);

	zcfile_engine_set_inline(e, 0);
	iov = (struct iovec){ (char *)buf + 4096, 4096 };
	req = (struct zcfile_req){ .op = ZCFILE_WRITE, .iov = &iov, .iov_cnt = 1, .len = 4096,
				   .off = 4096, .done = on_done_inline };
	inline_done = 0;
	zcfile_engine_submit(e, &req);
	for (i = 0; i < 5000 && !__atomic_load_n(&inline_done, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	async = __atomic_load_n(&inline_done, __ATOMIC_SEQ_CST);
	ok(async == 1 && !pthread_equal(inline_thread, pthread_self()) && f.stats.inline_ios == 1,
	   "inline %s: off, an engine thread completes the request", ename);
	ok(file_equals(f.fd, 0, buf, 8192), "inline %s: both writes on disk", ename);

	/* on, but larger than ZCFILE_INLINE_MAX: the engine does it */
	zcfile_engine_set_inline(e, 1);
	big = ro_buffer(ZCFILE_INLINE_MAX + 4096, 21 + (unsigned int)kind);
	iov = (struct iovec){ big, ZCFILE_INLINE_MAX + 4096 };
	req = (struct zcfile_req){ .op = ZCFILE_WRITE, .iov = &iov, .iov_cnt = 1,
				   .len = ZCFILE_INLINE_MAX + 4096, .off = 8192,
				   .done = on_done_inline };
	inline_done = 0;
	zcfile_engine_submit(e, &req);
	for (i = 0; i < 5000 && !__atomic_load_n(&inline_done, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	async = __atomic_load_n(&inline_done, __ATOMIC_SEQ_CST);
	ok(big && async == 1 && !pthread_equal(inline_thread, pthread_self()) &&
	   f.stats.inline_ios == 1 && file_equals(f.fd, 8192, big, ZCFILE_INLINE_MAX + 4096),
	   "inline %s: on, a write above %d bytes goes to the engine", ename, ZCFILE_INLINE_MAX);
	zcfile_engine_stop(e);
	zcfile_file_close(&f);
	ro_free(buf, 8192);
	ro_free(big, ZCFILE_INLINE_MAX + 4096);
}

static void test_engine(enum zcfile_engine_kind kind, int direct)
{
	const char *ename = zcfile_engine_name(kind);
	const char *mode = direct ? "direct" : "buffered";
	struct zcfile_req *reqs = calloc(SLOTS, sizeof(*reqs));
	struct iovec *iovs = calloc(SLOTS * 4, sizeof(*iovs));
	char path[256], *src, *dst, *err = NULL;
	struct zcfile_engine *e;
	struct zcfile_file f;
	int i, j, ret, good;
	double t;

	snprintf(path, sizeof(path), "%s/engine-%s-%s", dir, ename, mode);
	close(open(path, O_CREAT | O_RDWR | O_TRUNC, 0600));
	ret = zcfile_file_open(&f, path, direct);
	if (ret < 0) {
		skip("engine: O_DIRECT", strerror(-ret));
		return;
	}
	if (zcfile_engine_start(&e, &f, kind, 16, &err) < 0) {
		skip("engine: start", err ? err : "?");
		free(err);
		zcfile_file_close(&f);
		return;
	}
	printf("# engine %s, %s\n", zcfile_engine_describe(e), mode);
	src = ro_buffer((size_t)SLOTS * SLOT, 7 + (unsigned int)kind);
	dst = aligned_alloc(4096, (size_t)SLOTS * SLOT);
	memset(dst, 0x55, (size_t)SLOTS * SLOT);

	/* Every slot written at once, each as 4 iovecs of uneven sizes. */
	t = now();
	w_add(SLOTS);
	for (i = 0; i < SLOTS; i++) {
		char *s = src + (size_t)i * SLOT;
		size_t cut[5] = { 0, 4096, 4096 + 512 * (size_t)(i % 7), SLOT - 8192, SLOT };

		for (j = 0; j < 4; j++)
			iovs[i * 4 + j] = (struct iovec){ s + cut[j], cut[j + 1] - cut[j] };
		reqs[i] = (struct zcfile_req){ .op = ZCFILE_WRITE, .iov = &iovs[i * 4],
					       .iov_cnt = 4, .len = SLOT,
					       .off = (off_t)i * SLOT, .done = on_done };
		zcfile_engine_submit(e, &reqs[i]);
	}
	ret = w_wait();
	t = now() - t;
	ok(ret == 0, "engine %s %s: %d writes in flight, all completed (%s)", ename, mode,
	   SLOTS, ret ? strerror(-ret) : "ok");
	printf("# %s %s: %d x 64 KiB writes in %.3f s (%.0f MiB/s; host, not a benchmark)\n",
	       ename, mode, SLOTS, t, SLOTS * SLOT / 1048576.0 / t);
	ok(file_equals(f.fd, 0, src, (size_t)SLOTS * SLOT), "engine %s %s: file holds what was written",
	   ename, mode);

	/* Read back into other slots' order, one iovec each; the last crosses EOF. */
	if (ftruncate(f.fd, (off_t)SLOTS * SLOT - 1000) < 0)
		perror("ftruncate");
	w_add(SLOTS);
	for (i = 0; i < SLOTS; i++) {
		iovs[i] = (struct iovec){ dst + (size_t)i * SLOT, SLOT };
		reqs[i] = (struct zcfile_req){ .op = ZCFILE_READ, .iov = &iovs[i], .iov_cnt = 1,
					       .len = SLOT, .off = (off_t)i * SLOT, .done = on_done };
		zcfile_engine_submit(e, &reqs[i]);
	}
	ret = w_wait();
	good = ret == 0 && memcmp(dst, src, (size_t)SLOTS * SLOT - 1000) == 0;
	for (i = SLOTS * SLOT - 1000; good && i < SLOTS * SLOT; i++)
		good = dst[i] == 0;
	ok(good, "engine %s %s: reads in flight return the data, past EOF zeroes", ename, mode);

	/* FLUSH, UNMAP, WRITE SAME through the engine. */
	{
		char *pat = ro_buffer(512, 11), *want = malloc(SLOT);
		struct iovec pv = { pat, 512 };

		w_add(3);
		reqs[0] = (struct zcfile_req){ .op = ZCFILE_UNMAP, .off = 0, .len = 8192,
					       .done = on_done };
		reqs[1] = (struct zcfile_req){ .op = ZCFILE_WRITESAME, .iov = &pv, .iov_cnt = 1,
					       .off = SLOT, .len = SLOT, .done = on_done };
		reqs[2] = (struct zcfile_req){ .op = ZCFILE_FLUSH, .done = on_done };
		for (i = 0; i < 3; i++)
			zcfile_engine_submit(e, &reqs[i]);
		ret = w_wait();
		memcpy(want, src, SLOT);
		memset(want, 0, 8192);
		good = ret == 0 && file_equals(f.fd, 0, want, SLOT);
		for (i = 0; i < SLOT; i += 512)
			memcpy(want + i, pat, 512);
		good = good && file_equals(f.fd, SLOT, want, SLOT);
		ok(good, "engine %s %s: unmap, write same, flush (%s)", ename, mode,
		   ret ? strerror(-ret) : "ok");
		ro_free(pat, 512);
		free(want);
	}
	/* O_DIRECT from an unpinnable page: EFAULT, resubmitted through the page cache. */
	if (direct) {
		const void *vv = find_unpinnable_page();
		static char snap[4096];
		struct iovec vi;
		uint64_t before = f.stats.pin_fallbacks;

		if (!vv) {
			skip("engine: EFAULT fallback", "no stable vvar page");
		} else {
			memcpy(snap, vv, 4096);
			vi = (struct iovec){ (void *)vv, 4096 };
			w_add(1);
			reqs[0] = (struct zcfile_req){ .op = ZCFILE_WRITE, .iov = &vi, .iov_cnt = 1,
						       .len = 4096, .off = 2 * SLOT, .done = on_done };
			zcfile_engine_submit(e, &reqs[0]);
			ret = w_wait();
			ok(ret == 0 && f.stats.pin_fallbacks == before + 1 &&
			   (memcmp(snap, vv, 4096) || file_equals(f.fd, 2 * SLOT, snap, 4096)),
			   "engine %s %s: write from an unpinnable page: EFAULT detected, written buffered",
			   ename, mode);
		}
	}
	/* An error is reported, not swallowed: a write on a read-only fd. */
	zcfile_engine_stop(e);
	{
		struct zcfile_file rof = f;

		rof.fd = open(path, O_RDONLY | O_CLOEXEC);
		rof.dfd = -1;
		if (zcfile_engine_start(&e, &rof, kind, 4, &err) == 0) {
			w_add(1);
			reqs[0] = (struct zcfile_req){ .op = ZCFILE_WRITE, .iov = &iovs[0],
						       .iov_cnt = 1, .len = 4096, .off = 0,
						       .done = on_done };
			zcfile_engine_submit(e, &reqs[0]);
			ret = w_wait();
			ok(ret == -EBADF, "engine %s %s: write error reported (%s)", ename, mode,
			   strerror(-ret));
			zcfile_engine_stop(e);
		}
		close(rof.fd);
	}
	{
		char msg[512];

		zcfile_stats_format(&f, msg, sizeof(msg));
		printf("# stats: %s\n", msg);
	}
	zcfile_file_close(&f);
	ro_free(src, (size_t)SLOTS * SLOT);
	free(dst);
	free(reqs);
	free(iovs);
}

/* ---- the option table: cfg_desc, and README.md's table ---- */

/* "| `SYNTAX` | HELP |" as README.md writes a row ('|' in SYNTAX as '\|'). */
static void readme_row(char *buf, size_t size, const struct zcfile_option *o)
{
	size_t n = 0;
	const char *c;

	n += snprintf(buf + n, size - n, "| `");
	for (c = o->syntax; *c && n + 3 < size; c++) {
		if (*c == '|')
			buf[n++] = '\\';
		buf[n++] = *c;
	}
	snprintf(buf + n, size - n, "` | %s |", o->help);
}

static void test_options(const char *readme)
{
	char line[1024], want[1024], *desc = zcfile_cfg_desc();
	size_t i, all = 1, nrows = 0;
	const char *c;
	int in_table = 0, seen[64] = { 0 };
	FILE *fp;

	for (i = 0; i < zcfile_n_options; i++)
		all = all && desc && strstr(desc, zcfile_options[i].syntax) &&
		      strstr(desc, zcfile_options[i].help);
	printf("# cfg_desc:\n");
	for (c = desc; c && *c; c += strcspn(c, "\n") + !!c[strcspn(c, "\n")])
		printf("#   %.*s\n", (int)strcspn(c, "\n"), c);
	ok(all, "options: cfg_desc names every option with its help");
	free(desc);

	if (!readme) {
		skip("options: README.md's table", "no README path given");
		return;
	}
	fp = fopen(readme, "r");
	if (!fp) {
		ok(0, "options: README.md's table (%s: %s)", readme, strerror(errno));
		return;
	}
	/* The table under the header row "| option | meaning |". */
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "| option | meaning |")) {
			in_table = 1;
			continue;
		}
		if (!in_table || !strncmp(line, "|--", 3))
			continue;
		if (line[0] != '|')
			break;
		for (i = 0; i < zcfile_n_options; i++) {
			readme_row(want, sizeof(want), &zcfile_options[i]);
			if (!strcmp(line, want) && i < 64) {
				seen[i]++;
				break;
			}
		}
		if (i == zcfile_n_options)
			printf("# README.md row not in the option table: %s\n", line);
		nrows++;
	}
	fclose(fp);
	for (i = 0; i < zcfile_n_options; i++) {
		readme_row(want, sizeof(want), &zcfile_options[i]);
		ok(seen[i] == 1, "options: README.md documents %s as the parser knows it", zcfile_options[i].name);
		if (seen[i] != 1)
			printf("# want, in README.md's option table:\n# %s\n", want);
	}
	ok(nrows == zcfile_n_options, "options: README.md's table has no other rows (%zu, want %zu)",
	   nrows, zcfile_n_options);
}

/* ---- resize (reconfig) ---- */

static void test_resize(void)
{
	struct zcfile_file f;
	char p[256], *err = NULL;
	struct stat sb;
	int fd, r;

	snprintf(p, sizeof(p), "%s/resize", dir);
	fd = open(p, O_CREAT | O_RDWR, 0600);
	r = fd >= 0 && ftruncate(fd, 1 << 20) == 0 && pwrite(fd, "keep", 4, 4096) == 4;
	if (fd >= 0)
		close(fd);
	if (!r || zcfile_file_open(&f, p, 0) < 0) {
		ok(0, "resize: test file");
		return;
	}
	r = zcfile_file_resize(&f, 4 << 20, 512, p, &err);
	ok(r == 0 && stat(p, &sb) == 0 && sb.st_size == 4 << 20, "resize: 1 MiB file grown to a 4 MiB LUN");
	r = zcfile_file_resize(&f, 2 << 20, 512, p, &err);
	ok(r == 0 && stat(p, &sb) == 0 && sb.st_size == 4 << 20, "resize: a smaller LUN leaves the file whole");
	r = zcfile_file_resize(&f, (8 << 20) + 100, 512, p, &err);
	printf("# %s\n", err ? err : "(accepted)");
	ok(r < 0 && err && strstr(err, "not a multiple") && stat(p, &sb) == 0 && sb.st_size == 4 << 20,
	   "resize: a size not in blocks refused, file unchanged");
	free(err);
	fd = open(p, O_RDONLY);
	r = fd >= 0 && pread(fd, p, 4, 4096) == 4 && !memcmp(p, "keep", 4);
	if (fd >= 0)
		close(fd);
	ok(r, "resize: data kept");
	zcfile_file_close(&f);
}

int main(int argc, char **argv)
{
	char cmd[300];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_options(argc > 1 ? argv[1] : NULL);
	test_resize();
	test_config();
	test_sync_io();
	test_direct();
#ifdef ZCFILE_HAVE_URING
	test_engine(ZCFILE_ENGINE_URING, 0);
	test_engine(ZCFILE_ENGINE_URING, 1);
	test_inline(ZCFILE_ENGINE_URING);
#else
	skip("engine uring", "built without liburing");
#endif
	test_engine(ZCFILE_ENGINE_THREADS, 0);
	test_engine(ZCFILE_ENGINE_THREADS, 1);
	test_inline(ZCFILE_ENGINE_THREADS);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	printf("1..%d\n", n_test);
	printf("# %d passed, %d failed\n", n_test - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
