// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: config parsing and full-length vectored I/O.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcfile_config.h"

static int fail(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

int zcfile_parse_config(const char *cfgstring, struct zcfile_config *cfg, char **err)
{
	const char *p = cfgstring;
	size_t n;

	memset(cfg, 0, sizeof(*cfg));
	if (!p || !*p)
		return fail(err, "zcfile: empty config string: give the backing file's path");
	/* tcmu-runner hands over "<subtype>/<path>"; targetcli's cfgstring is the path. */
	if (strncmp(p, "zcfile/", 7) == 0)
		p += 7;
	if (*p != '/')
		return fail(err, "zcfile: backing file '%s' is not an absolute path", p);
	n = strlen(p);
	if (n >= sizeof(cfg->path))
		return fail(err, "zcfile: backing file path too long (%zu bytes)", n);
	memcpy(cfg->path, p, n + 1);
	return 0;
}

int zcfile_check_file(const struct zcfile_config *cfg, char **err)
{
	struct stat sb;

	if (stat(cfg->path, &sb) < 0)
		return fail(err, "zcfile: backing file %s: %s", cfg->path, strerror(errno));
	if (S_ISDIR(sb.st_mode))
		return fail(err, "zcfile: backing file %s is a directory", cfg->path);
	if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))
		return fail(err, "zcfile: backing file %s is neither a regular file nor a block device",
			    cfg->path);
	if (access(cfg->path, R_OK | W_OK) < 0)
		return fail(err, "zcfile: backing file %s is not readable and writable: %s",
			    cfg->path, strerror(errno));
	return 0;
}

/* Advance a private iovec copy by @count bytes; returns the new start. */
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

static void iov_zero(const struct iovec *iov, size_t cnt)
{
	size_t i;

	for (i = 0; i < cnt; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

#define IOV_STACK 64

static ssize_t rw_full(int fd, const struct iovec *uiov, size_t iov_cnt,
		       size_t len, off_t off, int write)
{
	struct iovec stack[IOV_STACK], *copy = stack, *iov;
	size_t cnt = iov_cnt, done = 0, total = 0, i;
	ssize_t ret = 0;

	if (iov_cnt > IOV_STACK) {
		copy = malloc(iov_cnt * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
	}
	/* Clip the vector to @len. */
	for (i = 0; i < iov_cnt; i++) {
		copy[i] = uiov[i];
		if (total + copy[i].iov_len > len)
			copy[i].iov_len = len - total;
		total += copy[i].iov_len;
	}
	if (total < len) {
		ret = -EINVAL;
		goto out;
	}
	iov = copy;
	while (done < len) {
		int n = cnt > IOV_MAX ? IOV_MAX : (int)cnt;

		ret = write ? pwritev(fd, iov, n, off + (off_t)done)
			    : preadv(fd, iov, n, off + (off_t)done);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (ret == 0) {
			if (write) {
				ret = -EIO;
				goto out;
			}
			/* Past the end of the file: the rest reads as zeroes. */
			iov_zero(iov, cnt);
			break;
		}
		done += (size_t)ret;
		iov = iov_advance(iov, &cnt, (size_t)ret);
	}
	ret = (ssize_t)len;
out:
	if (copy != stack)
		free(copy);
	return ret;
}

ssize_t zcfile_preadv_full(int fd, const struct iovec *iov, size_t iov_cnt,
			   size_t len, off_t off)
{
	return rw_full(fd, iov, iov_cnt, len, off, 0);
}

ssize_t zcfile_pwritev_full(int fd, const struct iovec *iov, size_t iov_cnt,
			    size_t len, off_t off)
{
	return rw_full(fd, iov, iov_cnt, len, off, 1);
}
