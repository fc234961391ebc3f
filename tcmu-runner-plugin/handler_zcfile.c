// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: a file-backed tcmu-runner handler for the zero-copy TCMU path.
 *
 * Config string (targetcli cfgstring): PATH[;OPTION]..., the options in
 * zcfile_options[] (zcfile_config.c; cfg_desc is made from them). The file
 * must exist; a regular file shorter than the LUN is grown sparsely (also
 * when the LUN is resized: reconfig), a block device must be large enough.
 *
 * Log lines go through tcmu_dev_err()/tcmu_dev_info(), which prefix them
 * with "zcfile/<device>: "; the messages themselves carry no prefix.
 *
 * READ and WRITE go straight between the command's iovecs and the backing
 * file: the iovecs point into TCMU's data area or, with zero copy, into
 * the zero-copy window (the initiator's own pages). Under zero copy the
 * data-out pages are mapped read-only and cannot be pinned by GUP: this
 * handler never stores into a data-out buffer, and O_DIRECT from such a
 * buffer (EFAULT) falls back to the page cache for that command.
 *
 * Concurrency: tcmu-runner's own thread pool is off (nr_threads = 0, the
 * callouts run on the device's command thread); each device has its own
 * engine (io_uring with a reaper thread, or worker threads) and every
 * callout completes through tcmur_cmd_complete().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <scsi/scsi.h>

#include "libtcmu.h"
#include "tcmu-runner.h"
#include "tcmur_device.h"

#include "zcfile_config.h"
#include "zcfile_io.h"

struct zcfile_state {
	struct zcfile_config cfg;
	struct zcfile_file file;
	struct zcfile_engine *engine;
};

struct zcfile_cmd {
	struct zcfile_req req;
	struct tcmu_device *dev;
	struct tcmur_cmd *cmd;
};

static bool zcfile_check_config(const char *cfgstring, char **reason)
{
	struct zcfile_config cfg;
	char *err = NULL;

	if (zcfile_parse_config(cfgstring, &cfg, &err) < 0 ||
	    zcfile_check_file(&cfg, &err) < 0) {
		/* targetcli shows this as "cfgstring invalid: <reason>": say whose. */
		if (reason && asprintf(reason, "zcfile: %s", err ? err : "bad config string") < 0)
			*reason = NULL;
		free(err);
		return false;
	}
	return true;
}

static int zcfile_open(struct tcmu_device *dev, bool reopen)
{
	uint32_t block_size = tcmu_dev_get_block_size(dev);
	uint64_t lun_size = tcmu_dev_get_num_lbas(dev) * block_size;
	struct zcfile_state *st;
	char *err = NULL;
	uint64_t raw;
	int ret, gran;

	(void)reopen;
	/* tcmu-runner rounds the kernel's dev_size down to blocks: look at it whole. */
	raw = tcmu_cfgfs_dev_get_info_u64(dev, "Size", &ret);
	if (ret == 0 && raw != lun_size)
		lun_size = raw;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;

	if (zcfile_parse_config(tcmu_dev_get_cfgstring(dev), &st->cfg, &err) < 0 ||
	    zcfile_check_file(&st->cfg, &err) < 0) {
		ret = -EINVAL;
		goto err_msg;
	}
	ret = zcfile_file_open(&st->file, st->cfg.path, st->cfg.direct);
	if (ret < 0) {
		tcmu_dev_err(dev, "cannot open %s: %s\n", st->cfg.path, strerror(-ret));
		goto err_free;
	}
	ret = zcfile_engine_start(&st->engine, &st->file, st->cfg.engine, st->cfg.depth, &err);
	if (ret < 0) {
		ret = -EINVAL;
		zcfile_file_close(&st->file);
		goto err_msg;
	}
	zcfile_engine_set_inline(st->engine, st->cfg.inline_idle);
	/* Checks first: a refused size changes nothing on disk. */
	if (zcfile_file_resize(&st->file, lun_size, block_size, st->cfg.path, &err) < 0) {
		ret = -EINVAL;
		zcfile_engine_stop(st->engine);
		zcfile_file_close(&st->file);
		goto err_msg;
	}

	tcmu_dev_set_write_cache_enabled(dev, 1);
	/*
	 * UNMAP: whole ranges in one callout (one fallocate), at page
	 * granularity. tcmu-runner uses the alignment as a modulus when it
	 * turns WRITE SAME with UNMAP into an unmap (0 would divide by zero);
	 * an alignment equal to the granularity is the same as 0 for SBC.
	 */
	gran = block_size < 4096 ? (int)(4096 / block_size) : 1;
	tcmu_dev_set_opt_unmap_gran(dev, gran, false);
	tcmu_dev_set_unmap_gran_align(dev, gran);

	tcmur_dev_set_private(dev, st);
	tcmu_dev_info(dev, "serving %s (%llu bytes, block %u) engine %s, direct %s, inline %s\n",
		      st->cfg.path, (unsigned long long)lun_size, block_size,
		      zcfile_engine_describe(st->engine), st->cfg.direct ? "on" : "off",
		      st->cfg.inline_idle ? "when idle" : "off");
	return 0;

err_msg:
	tcmu_dev_err(dev, "%s\n", err ? err : "bad config string");
	free(err);
err_free:
	free(st);
	return ret;
}

static void zcfile_close(struct tcmu_device *dev)
{
	struct zcfile_state *st = tcmur_dev_get_private(dev);
	char stats[512];

	zcfile_engine_stop(st->engine);
	zcfile_stats_format(&st->file, stats, sizeof(stats));
	tcmu_dev_info(dev, "closing %s: %s\n", st->cfg.path, stats);
	zcfile_file_close(&st->file);
	free(st);
}

/* errno of a backing-file operation -> TCMU status (and sense data). */
static int zcfile_status(struct tcmu_device *dev, struct tcmur_cmd *cmd,
			 enum zcfile_op op, int err)
{
	static const char *const names[] = {
		"read", "write", "flush", "unmap", "write same",
	};

	if (!err)
		return TCMU_STS_OK;
	tcmu_dev_err(dev, "%s failed: %s\n", names[op], strerror(-err));
	switch (err) {
	case -ENOSPC:
	case -EDQUOT:
		/* DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (as LIO's fileio). */
		if (cmd->lib_cmd) {
			tcmu_sense_set_data(cmd->lib_cmd->sense_buf, DATA_PROTECT, 0x2707);
			return TCMU_STS_PASSTHROUGH_ERR;
		}
		return TCMU_STS_WR_ERR;
	case -ENOMEM:
	case -EAGAIN:
		return TCMU_STS_BUSY;
	default:
		/* MEDIUM ERROR: unrecovered read error / write error. */
		return op == ZCFILE_READ ? TCMU_STS_RD_ERR : TCMU_STS_WR_ERR;
	}
}

static void zcfile_done(struct zcfile_req *req, int err)
{
	struct zcfile_cmd *zc = (struct zcfile_cmd *)((char *)req - offsetof(struct zcfile_cmd, req));
	struct tcmu_device *dev = zc->dev;
	struct tcmur_cmd *cmd = zc->cmd;
	int sts = zcfile_status(dev, cmd, req->op, err);

	free(zc);
	tcmur_cmd_complete(dev, cmd, sts);
}

/* Every callout completes through tcmur_cmd_complete(), and returns OK. */
static int zcfile_submit(struct tcmu_device *dev, struct tcmur_cmd *cmd, enum zcfile_op op,
			 const struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	struct zcfile_state *st = tcmur_dev_get_private(dev);
	struct zcfile_cmd *zc;

	zc = calloc(1, sizeof(*zc));
	if (!zc)
		return TCMU_STS_NO_RESOURCE;
	zc->dev = dev;
	zc->cmd = cmd;
	zc->req.op = op;
	zc->req.iov = iov;
	zc->req.iov_cnt = iov_cnt;
	zc->req.len = len;
	zc->req.off = off;
	zc->req.done = zcfile_done;
	zcfile_engine_submit(st->engine, &zc->req);
	return TCMU_STS_OK;
}

static int zcfile_read(struct tcmu_device *dev, struct tcmur_cmd *cmd,
		       struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	return zcfile_submit(dev, cmd, ZCFILE_READ, iov, iov_cnt, len, off);
}

static int zcfile_write(struct tcmu_device *dev, struct tcmur_cmd *cmd,
			struct iovec *iov, size_t iov_cnt, size_t len, off_t off)
{
	return zcfile_submit(dev, cmd, ZCFILE_WRITE, iov, iov_cnt, len, off);
}

static int zcfile_flush(struct tcmu_device *dev, struct tcmur_cmd *cmd)
{
	return zcfile_submit(dev, cmd, ZCFILE_FLUSH, NULL, 0, 0, 0);
}

static int zcfile_unmap(struct tcmu_device *dev, struct tcmur_cmd *cmd,
			uint64_t off, uint64_t len)
{
	return zcfile_submit(dev, cmd, ZCFILE_UNMAP, NULL, 0, (size_t)len, (off_t)off);
}

static int zcfile_writesame(struct tcmu_device *dev, struct tcmur_cmd *cmd, uint64_t off,
			    uint64_t len, struct iovec *iov, size_t iov_cnt)
{
	uint32_t bs = tcmu_dev_get_block_size(dev);

	/* tcmu-runner checked: one data-out iovec of one block. */
	if (iov_cnt < 1 || iov[0].iov_len < bs)
		return TCMU_STS_INVALID_CDB;
	return zcfile_submit(dev, cmd, ZCFILE_WRITESAME, iov, 1, (size_t)len, (off_t)off);
}

/* A new LUN size (configfs attrib/dev_size): grow the file to it. */
static int zcfile_reconfig(struct tcmu_device *dev, struct tcmulib_cfg_info *cfg)
{
	struct zcfile_state *st = tcmur_dev_get_private(dev);
	char *err = NULL;

	switch (cfg->type) {
	case TCMULIB_CFG_DEV_SIZE:
		if (zcfile_file_resize(&st->file, cfg->data.dev_size, tcmu_dev_get_block_size(dev),
				       st->cfg.path, &err) < 0) {
			tcmu_dev_err(dev, "resize refused: %s\n", err ? err : "out of memory");
			free(err);
			return -EINVAL;
		}
		tcmu_dev_info(dev, "resized to %llu bytes\n", (unsigned long long)cfg->data.dev_size);
		return 0;
	case TCMULIB_CFG_DEV_CFGSTR:
	case TCMULIB_CFG_WRITE_CACHE:
	default:
		return -EOPNOTSUPP;
	}
}

static struct tcmur_handler zcfile_handler = {
	.name = "File-backed handler for zero-copy TCMU",
	.subtype = "zcfile",
	.check_config = zcfile_check_config,
	.reconfig = zcfile_reconfig,
	.open = zcfile_open,
	.close = zcfile_close,
	/* Per-device engines instead of tcmu-runner's pool (see above). */
	.nr_threads = 0,
	.read = zcfile_read,
	.write = zcfile_write,
	.flush = zcfile_flush,
	.unmap = zcfile_unmap,
	.writesame = zcfile_writesame,
};

int handler_init(void)
{
	/* The syntax and one line per option, from the option table. */
	zcfile_handler.cfg_desc = zcfile_cfg_desc();
	if (!zcfile_handler.cfg_desc)
		return -ENOMEM;
	return tcmur_register_handler(&zcfile_handler);
}
