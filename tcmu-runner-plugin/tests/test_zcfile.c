// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * Host-side unit tests of zcfile's config parsing and I/O loops, against
 * real temporary files and real iovecs. TAP output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcfile_config.h"

static int n_test, n_fail;

static void ok(int cond, const char *name)
{
	n_test++;
	if (!cond)
		n_fail++;
	printf("%sok %d %s\n", cond ? "" : "not ", n_test, name);
}

static char dir[] = "/tmp/zcfile-test.XXXXXX";

static int parse_err(const char *cfg, const char *want)
{
	struct zcfile_config c;
	char *err = NULL;
	int r = zcfile_parse_config(cfg, &c, &err) < 0 &&
		err && strstr(err, want);

	if (err)
		printf("# %s -> %s\n", cfg ? cfg : "(null)", err);
	free(err);
	return r;
}

static int check_err(const char *path, const char *want)
{
	struct zcfile_config c;
	char *err = NULL;
	int r;

	snprintf(c.path, sizeof(c.path), "%s", path);
	r = zcfile_check_file(&c, &err) < 0 && err && strstr(err, want);
	if (err)
		printf("# %s -> %s\n", path, err);
	free(err);
	return r;
}

static void test_config(void)
{
	struct zcfile_config c;
	char *err = NULL, p[256];
	int fd;

	ok(zcfile_parse_config("zcfile//tmp/a", &c, &err) == 0 &&
	   strcmp(c.path, "/tmp/a") == 0, "config: subtype prefix stripped");
	ok(zcfile_parse_config("/tmp/b", &c, &err) == 0 &&
	   strcmp(c.path, "/tmp/b") == 0, "config: bare path");
	ok(parse_err("", "empty"), "config: empty string refused");
	ok(parse_err(NULL, "empty"), "config: NULL refused");
	ok(parse_err("zcfile/relative", "absolute"), "config: relative path refused");

	snprintf(p, sizeof(p), "%s/missing", dir);
	ok(check_err(p, "No such file"), "check: missing file refused");
	ok(check_err(dir, "directory"), "check: directory refused");
	ok(check_err("/dev/null", "neither"), "check: character device refused");
	snprintf(p, sizeof(p), "%s/file", dir);
	fd = open(p, O_CREAT | O_RDWR, 0600);
	close(fd);
	snprintf(c.path, sizeof(c.path), "%s", p);
	ok(zcfile_check_file(&c, &err) == 0, "check: regular file accepted");
	if (geteuid() == 0) {
		printf("ok %d check: unreadable file refused # SKIP root can read anything\n",
		       ++n_test);
	} else {
		chmod(p, 0);
		ok(check_err(p, "not readable"), "check: unreadable file refused");
		chmod(p, 0600);
	}
}

static void test_io(void)
{
	char path[256], a[3000], b[5000 - 3000 + 96], r1[1234], r2[4096 + 8192 - 1234];
	struct iovec w[2], r[2];
	int fd, i, good = 1;

	snprintf(path, sizeof(path), "%s/io", dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	for (i = 0; i < (int)sizeof(a); i++)
		a[i] = (char)(i * 7 + 1);
	for (i = 0; i < (int)sizeof(b); i++)
		b[i] = (char)(i * 13 + 5);
	w[0] = (struct iovec){ a, sizeof(a) };
	w[1] = (struct iovec){ b, sizeof(b) };
	/* Write 5000 bytes: the second iovec is longer than needed. */
	ok(zcfile_pwritev_full(fd, w, 2, 5000, 4096) == 5000, "io: write across two iovecs");
	ok(w[0].iov_len == sizeof(a) && w[1].iov_base == b, "io: caller's iovecs untouched");

	/* Read 8192 bytes at 4096: 5000 written, the rest is past EOF. */
	memset(r1, 0xaa, sizeof(r1));
	memset(r2, 0xaa, sizeof(r2));
	r[0] = (struct iovec){ r1, sizeof(r1) };
	r[1] = (struct iovec){ r2, sizeof(r2) };
	ok(zcfile_preadv_full(fd, r, 2, 8192, 4096) == 8192, "io: read across EOF returns full length");
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
	ok(zcfile_preadv_full(fd, r, 1, 8192, 0) == -EINVAL, "io: iovecs shorter than len refused");
	ok(zcfile_pwritev_full(-1, w, 2, 100, 0) == -EBADF, "io: errno reported");
	close(fd);
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_config();
	test_io();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	printf("1..%d\n", n_test);
	return n_fail ? 1 : 0;
}
