// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: config parsing and backing file checks.
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

const char *zcfile_engine_name(enum zcfile_engine_kind kind)
{
	switch (kind) {
	case ZCFILE_ENGINE_URING:
		return "uring";
	case ZCFILE_ENGINE_THREADS:
		return "threads";
	default:
		return "auto";
	}
}

static int parse_bool(const char *v, int *out)
{
	if (!v || !strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "no")) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* One "name[=value]" option, NUL-terminated, modified in place. */
static int parse_option(char *opt, struct zcfile_config *cfg, char **err)
{
	char *val = strchr(opt, '=');
	char *end;
	unsigned long n;

	if (val)
		*val++ = '\0';
	if (!strcmp(opt, "direct")) {
		if (parse_bool(val, &cfg->direct) < 0)
			return fail(err, "zcfile: bad value '%s' for option direct (0 or 1)", val);
		return 0;
	}
	if (!strcmp(opt, "engine")) {
		if (val && !strcmp(val, "auto"))
			cfg->engine = ZCFILE_ENGINE_AUTO;
		else if (val && !strcmp(val, "uring"))
			cfg->engine = ZCFILE_ENGINE_URING;
		else if (val && !strcmp(val, "threads"))
			cfg->engine = ZCFILE_ENGINE_THREADS;
		else
			return fail(err, "zcfile: bad value '%s' for option engine (auto, uring or threads)",
				    val ? val : "");
		return 0;
	}
	if (!strcmp(opt, "inline")) {
		if (parse_bool(val, &cfg->inline_idle) < 0)
			return fail(err, "zcfile: bad value '%s' for option inline (0 or 1)", val);
		return 0;
	}
	if (!strcmp(opt, "depth")) {
		if (!val || !*val)
			return fail(err, "zcfile: option depth needs a value (1..%d)", ZCFILE_DEPTH_MAX);
		errno = 0;
		n = strtoul(val, &end, 10);
		if (errno || *end || *val == '-' || n < 1 || n > ZCFILE_DEPTH_MAX)
			return fail(err, "zcfile: bad value '%s' for option depth (1..%d)",
				    val, ZCFILE_DEPTH_MAX);
		cfg->depth = (unsigned int)n;
		return 0;
	}
	if (!*opt)
		return fail(err, "zcfile: empty option in config string");
	return fail(err, "zcfile: unknown option '%s' (known: direct, engine, depth, inline)", opt);
}

int zcfile_parse_config(const char *cfgstring, struct zcfile_config *cfg, char **err)
{
	const char *p = cfgstring;
	char *opts, *o, *save = NULL;
	size_t n;
	int ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->inline_idle = 1;
	if (!p || !*p)
		return fail(err, "zcfile: empty config string: give the backing file's path");
	/* tcmu-runner hands over "<subtype>/<cfg>"; targetcli's cfgstring is <cfg>. */
	if (strncmp(p, "zcfile/", 7) == 0)
		p += 7;
	n = strcspn(p, ";");
	if (n == 0)
		return fail(err, "zcfile: no backing file path before the options");
	if (*p != '/')
		return fail(err, "zcfile: backing file '%.*s' is not an absolute path", (int)n, p);
	if (n >= sizeof(cfg->path))
		return fail(err, "zcfile: backing file path too long (%zu bytes)", n);
	memcpy(cfg->path, p, n);
	cfg->path[n] = '\0';
	if (!p[n])
		return 0;

	opts = strdup(p + n + 1);
	if (!opts)
		return fail(err, "zcfile: out of memory");
	for (o = strtok_r(opts, ";", &save); o; o = strtok_r(NULL, ";", &save)) {
		ret = parse_option(o, cfg, err);
		if (ret < 0)
			break;
	}
	free(opts);
	return ret;
}

int zcfile_check_file(const struct zcfile_config *cfg, char **err)
{
	struct stat sb;
	int fd;

	if (stat(cfg->path, &sb) < 0)
		return fail(err, "zcfile: backing file %s: %s", cfg->path, strerror(errno));
	if (S_ISDIR(sb.st_mode))
		return fail(err, "zcfile: backing file %s is a directory", cfg->path);
	if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))
		return fail(err, "zcfile: backing file %s is neither a regular file nor a block device",
			    cfg->path);
	/* Opening without O_CREAT/O_TRUNC changes nothing on disk. */
	fd = open(cfg->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(err, "zcfile: backing file %s is not readable and writable: %s",
			    cfg->path, strerror(errno));
	close(fd);
	if (cfg->direct) {
		fd = open(cfg->path, O_RDWR | O_CLOEXEC | O_DIRECT);
		if (fd < 0)
			return fail(err, "zcfile: backing file %s cannot be opened with O_DIRECT (option direct): %s",
				    cfg->path, strerror(errno));
		close(fd);
	}
	return 0;
}

int zcfile_check_size(uint64_t lun_size, uint32_t block_size,
		      uint64_t file_size, int is_blk, const char *path, char **err)
{
	if (!block_size || lun_size == 0)
		return fail(err, "zcfile: bad LUN size %llu (block size %u)",
			    (unsigned long long)lun_size, block_size);
	if (lun_size % block_size)
		return fail(err, "zcfile: bad LUN size %llu: not a multiple of the block size %u",
			    (unsigned long long)lun_size, block_size);
	if (lun_size > (uint64_t)LLONG_MAX)
		return fail(err, "zcfile: bad LUN size %llu: too large",
			    (unsigned long long)lun_size);
	if (is_blk && file_size < lun_size)
		return fail(err, "zcfile: bad LUN size %llu: block device %s has only %llu bytes",
			    (unsigned long long)lun_size, path, (unsigned long long)file_size);
	return 0;
}
