/* SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0 */
/*
 * zcfile: config string parsing and backing file checks, kept free of
 * tcmu-runner types so they can be unit tested on the host.
 *
 * Config string: PATH[;OPTION]...
 *   direct[=0|1]          O_DIRECT backing-file I/O (default 0)
 *   engine=auto|uring|threads
 *                         how commands are kept in flight (default auto:
 *                         io_uring when the kernel offers it, else threads)
 *   depth=N               io_uring queue depth / number of worker threads
 *                         (1..1024; default 64 for uring, 8 for threads)
 *   inline[=0|1]          run a command of up to 64 KiB in tcmu-runner's
 *                         command thread when nothing else is in flight,
 *                         instead of handing it to the engine (default 1)
 */
#ifndef ZCFILE_CONFIG_H
#define ZCFILE_CONFIG_H

#include <stdint.h>
#include <sys/types.h>

enum zcfile_engine_kind {
	ZCFILE_ENGINE_AUTO,
	ZCFILE_ENGINE_URING,
	ZCFILE_ENGINE_THREADS,
};

#define ZCFILE_DEPTH_MAX 1024

struct zcfile_config {
	char path[4096];
	int direct;
	enum zcfile_engine_kind engine;
	unsigned int depth;	/* 0: the engine's default */
	int inline_idle;	/* run commands inline when the engine is idle */
};

/*
 * Parse a tcmu config string ("zcfile/<cfg>", or just "<cfg>").
 * On error returns -1 and sets *err to a malloc'd message naming the
 * problem.
 */
int zcfile_parse_config(const char *cfgstring, struct zcfile_config *cfg, char **err);

/*
 * Check that the backing file exists, is a regular file or a block
 * device, and can be opened for reading and writing (with O_DIRECT when
 * asked). Nothing on disk is changed.
 */
int zcfile_check_file(const struct zcfile_config *cfg, char **err);

/*
 * Check that a backing file of @file_size bytes (@is_blk: a block
 * device) can serve a LUN of @lun_size bytes in @block_size blocks.
 * A shorter regular file is fine: it is grown sparsely.
 */
int zcfile_check_size(uint64_t lun_size, uint32_t block_size,
		      uint64_t file_size, int is_blk, const char *path, char **err);

const char *zcfile_engine_name(enum zcfile_engine_kind kind);

#endif
