/* SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0 */
/*
 * zcfile: config string parsing and backing file checks, kept free of
 * tcmu-runner types so they can be unit tested on the host.
 *
 * Config string: PATH[;OPTION]... The options are the table
 * zcfile_options[] (zcfile_config.c): the parser, the handler's cfg_desc
 * and the "known: ..." error text are made from it, and a unit test
 * checks README.md's option table against it.
 */
#ifndef ZCFILE_CONFIG_H
#define ZCFILE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum zcfile_engine_kind {
	ZCFILE_ENGINE_AUTO,
	ZCFILE_ENGINE_URING,
	ZCFILE_ENGINE_THREADS,
};

#define ZCFILE_DEPTH_MAX 1024
/* Largest command run inline (option inline): see zcfile_engine_submit(). */
#define ZCFILE_INLINE_MAX_KIB 64
#define ZCFILE_INLINE_MAX (ZCFILE_INLINE_MAX_KIB * 1024)

struct zcfile_config {
	char path[4096];
	int direct;
	enum zcfile_engine_kind engine;
	unsigned int depth;	/* 0: the engine's default */
	int inline_idle;	/* run commands inline when the engine is idle */
};

struct zcfile_option {
	const char *name;
	const char *syntax;	/* as users write it, e.g. "direct[=0|1]" */
	const char *values;	/* the accepted values, for messages */
	int flag;		/* the value may be left out (means 1) */
	const char *help;	/* one sentence, with the default */
	/* Store @val (NULL for a bare flag) into @cfg; -1 if not accepted. */
	int (*parse)(const char *val, struct zcfile_config *cfg);
};

extern const struct zcfile_option zcfile_options[];
extern const size_t zcfile_n_options;

/*
 * Parse a tcmu config string ("zcfile/<cfg>", or just "<cfg>").
 * On error returns -1 and sets *err to a malloc'd message naming the
 * problem (without a "zcfile: " prefix: tcmu_dev_err() adds one).
 */
int zcfile_parse_config(const char *cfgstring, struct zcfile_config *cfg, char **err);

/* The handler's cfg_desc: the syntax, then one line per option (malloc'd). */
char *zcfile_cfg_desc(void);

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
