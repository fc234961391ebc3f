// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: a file-backed tcmu-runner handler for the zero-copy TCMU path.
 *
 * Config string (targetcli cfgstring): the absolute path of the backing
 * file. The file must exist; it is grown (sparsely) to the LUN size if it
 * is shorter.
 *
 * READ and WRITE use preadv()/pwritev() straight on the command's iovecs,
 * which point into TCMU's data area or, with zero copy, into the zero-copy
 * window: one copy between the page cache and the initiator's pages.
 * tcmu-runner's thread pool (nr_threads) keeps several commands in flight.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tcmu-runner.h"
#include "tcmur_device.h"

#include "zcfile_config.h"

struct zcfile_state {
	int fd;
	struct zcfile_config cfg;
};

static bool zcfile_check_config(const char *cfgstring, char **reason)
{
	struct zcfile_config cfg;
	char *err = NULL;

	if (zcfile_parse_config(cfgstring, &cfg, &err) < 0 ||
	    zcfile_check_file(&cfg, &err) < 0) {
		if (reason)
			*reason = err;
		else
			free(err);
		return false;
	}
	return true;
}

static int zcfile_open(struct tcmu_device *dev, bool reopen)
{
	struct zcfile_state *st;
	char *err = NULL;
	struct stat sb;
	off_t size;

	(void)reopen;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->fd = -1;

	if (zcfile_parse_config(tcmu_dev_get_cfgstring(dev), &st->cfg, &err) < 0 ||
	    zcfile_check_file(&st->cfg, &err) < 0) {
		tcmu_dev_err(dev, "%s\n", err ? err : "bad config string");
		free(err);
		free(st);
		return -EINVAL;
	}

	st->fd = open(st->cfg.path, O_RDWR | O_CLOEXEC);
	if (st->fd < 0) {
		int e = errno;

		tcmu_dev_err(dev, "cannot open %s: %s\n", st->cfg.path, strerror(e));
		free(st);
		return -e;
	}
	size = (off_t)tcmu_dev_get_num_lbas(dev) * tcmu_dev_get_block_size(dev);
	if (fstat(st->fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < size &&
	    ftruncate(st->fd, size) < 0) {
		int e = errno;

		tcmu_dev_err(dev, "cannot grow %s to %lld bytes: %s\n",
			     st->cfg.path, (long long)size, strerror(e));
		close(st->fd);
		free(st);
		return -e;
	}
	tcmu_dev_set_write_cache_enabled(dev, 1);
	tcmur_dev_set_private(dev, st);
	tcmu_dev_dbg(dev, "serving %s (%lld bytes)\n", st->cfg.path, (long long)size);
	return 0;
}

static void zcfile_close(struct tcmu_device *dev)
{
	struct zcfile_state *st = tcmur_dev_get_private(dev);

	close(st->fd);
	free(st);
}

static int zcfile_read(struct tcmu_device *dev, struct tcmur_cmd *cmd,
		       struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	struct zcfile_state *st = tcmur_dev_get_private(dev);
	ssize_t ret;

	(void)cmd;
	ret = zcfile_preadv_full(st->fd, iov, iov_cnt, len, off);
	if (ret < 0) {
		tcmu_dev_err(dev, "read of %zu bytes at %lld failed: %s\n",
			     len, (long long)off, strerror((int)-ret));
		return TCMU_STS_RD_ERR;
	}
	return TCMU_STS_OK;
}

static int zcfile_write(struct tcmu_device *dev, struct tcmur_cmd *cmd,
			struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	struct zcfile_state *st = tcmur_dev_get_private(dev);
	ssize_t ret;

	(void)cmd;
	ret = zcfile_pwritev_full(st->fd, iov, iov_cnt, len, off);
	if (ret < 0) {
		tcmu_dev_err(dev, "write of %zu bytes at %lld failed: %s\n",
			     len, (long long)off, strerror((int)-ret));
		return ret == -ENOSPC ? TCMU_STS_NO_RESOURCE : TCMU_STS_WR_ERR;
	}
	return TCMU_STS_OK;
}

static int zcfile_flush(struct tcmu_device *dev, struct tcmur_cmd *cmd)
{
	struct zcfile_state *st = tcmur_dev_get_private(dev);

	(void)cmd;
	if (fdatasync(st->fd) < 0) {
		tcmu_dev_err(dev, "fdatasync failed: %s\n", strerror(errno));
		return TCMU_STS_WR_ERR;
	}
	return TCMU_STS_OK;
}

static const char zcfile_cfg_desc[] =
	"The absolute path of the backing file, which must exist.";

static struct tcmur_handler zcfile_handler = {
	.name = "File-backed handler for zero-copy TCMU",
	.subtype = "zcfile",
	.cfg_desc = zcfile_cfg_desc,
	.check_config = zcfile_check_config,
	.open = zcfile_open,
	.close = zcfile_close,
	.nr_threads = 8,
	.read = zcfile_read,
	.write = zcfile_write,
	.flush = zcfile_flush,
};

int handler_init(void)
{
	return tcmur_register_handler(&zcfile_handler);
}
