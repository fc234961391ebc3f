// SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0
/*
 * zcfile: the option table, config parsing and backing file checks.
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

#define STR_(x) #x
#define STR(x) STR_(x)

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

static int opt_direct(const char *v, struct zcfile_config *cfg)
{
	return parse_bool(v, &cfg->direct);
}

static int opt_inline(const char *v, struct zcfile_config *cfg)
{
	return parse_bool(v, &cfg->inline_idle);
}

static int opt_engine(const char *v, struct zcfile_config *cfg)
{
	static const enum zcfile_engine_kind kinds[] = {
		ZCFILE_ENGINE_AUTO, ZCFILE_ENGINE_URING, ZCFILE_ENGINE_THREADS,
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!strcmp(v, zcfile_engine_name(kinds[i]))) {
			cfg->engine = kinds[i];
			return 0;
		}
	}
	return -1;
}

static int opt_depth(const char *v, struct zcfile_config *cfg)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || !*v || *end || *v == '-' || n < 1 || n > ZCFILE_DEPTH_MAX)
		return -1;
	cfg->depth = (unsigned int)n;
	return 0;
}

/* The options: what the parser accepts, cfg_desc and README.md show. */
const struct zcfile_option zcfile_options[] = {
	{ "direct", "direct[=0|1]", "0 or 1", 1,
	  "O_DIRECT backing-file I/O (default 0)", opt_direct },
	{ "engine", "engine=auto|uring|threads", "auto, uring or threads", 0,
	  "what keeps commands in flight (default auto: io_uring if the kernel allows it, else threads)",
	  opt_engine },
	{ "depth", "depth=N", "1.." STR(ZCFILE_DEPTH_MAX), 0,
	  "io_uring queue depth / number of worker threads, 1.." STR(ZCFILE_DEPTH_MAX)
	  " (default 64 / 8)", opt_depth },
	{ "inline", "inline[=0|1]", "0 or 1", 1,
	  "a command of up to " STR(ZCFILE_INLINE_MAX_KIB) " KiB that arrives while the engine has "
	  "nothing in flight runs in tcmu-runner's command thread instead of being handed over "
	  "(default 1)", opt_inline },
};
const size_t zcfile_n_options = sizeof(zcfile_options) / sizeof(zcfile_options[0]);

/* One "name[=value]" option, NUL-terminated, modified in place. */
static int parse_option(char *opt, struct zcfile_config *cfg, char **err)
{
	char *val = strchr(opt, '=');
	const struct zcfile_option *o;
	char known[256] = "";
	size_t i;

	if (val)
		*val++ = '\0';
	if (!*opt)
		return fail(err, "empty option in config string");
	for (i = 0; i < zcfile_n_options; i++) {
		o = &zcfile_options[i];
		if (strcmp(opt, o->name))
			continue;
		if (!val && !o->flag)
			return fail(err, "option %s needs a value (%s)", o->name, o->values);
		if (o->parse(val, cfg) < 0)
			return fail(err, "bad value '%s' for option %s (%s)", val ? val : "",
				    o->name, o->values);
		return 0;
	}
	for (i = 0; i < zcfile_n_options; i++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 i ? ", " : "", zcfile_options[i].name);
	return fail(err, "unknown option '%s' (known: %s)", opt, known);
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
		return fail(err, "empty config string: give the backing file's path");
	/* tcmu-runner hands over "<subtype>/<cfg>"; targetcli's cfgstring is <cfg>. */
	if (strncmp(p, "zcfile/", 7) == 0)
		p += 7;
	n = strcspn(p, ";");
	if (n == 0)
		return fail(err, "no backing file path before the options");
	if (*p != '/')
		return fail(err, "backing file '%.*s' is not an absolute path", (int)n, p);
	if (n >= sizeof(cfg->path))
		return fail(err, "backing file path too long (%zu bytes)", n);
	memcpy(cfg->path, p, n);
	cfg->path[n] = '\0';
	if (!p[n])
		return 0;

	opts = strdup(p + n + 1);
	if (!opts)
		return fail(err, "out of memory");
	for (o = strtok_r(opts, ";", &save); o; o = strtok_r(NULL, ";", &save)) {
		ret = parse_option(o, cfg, err);
		if (ret < 0)
			break;
	}
	free(opts);
	return ret;
}

char *zcfile_cfg_desc(void)
{
	char *desc = NULL, *next;
	size_t i;

	if (asprintf(&desc, "PATH[;OPTION]...: PATH is the absolute path of an existing backing "
		     "file or block device (a shorter file is grown to the LUN size). Options:") < 0)
		return NULL;
	for (i = 0; i < zcfile_n_options; i++) {
		if (asprintf(&next, "%s\n  %s: %s", desc, zcfile_options[i].syntax,
			     zcfile_options[i].help) < 0) {
			free(desc);
			return NULL;
		}
		free(desc);
		desc = next;
	}
	return desc;
}

int zcfile_check_file(const struct zcfile_config *cfg, char **err)
{
	struct stat sb;
	int fd;

	if (stat(cfg->path, &sb) < 0)
		return fail(err, "backing file %s: %s", cfg->path, strerror(errno));
	if (S_ISDIR(sb.st_mode))
		return fail(err, "backing file %s is a directory", cfg->path);
	if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))
		return fail(err, "backing file %s is neither a regular file nor a block device",
			    cfg->path);
	/* Opening without O_CREAT/O_TRUNC changes nothing on disk. */
	fd = open(cfg->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(err, "backing file %s is not readable and writable: %s",
			    cfg->path, strerror(errno));
	close(fd);
	if (cfg->direct) {
		fd = open(cfg->path, O_RDWR | O_CLOEXEC | O_DIRECT);
		if (fd < 0)
			return fail(err, "backing file %s cannot be opened with O_DIRECT (option direct): %s",
				    cfg->path, strerror(errno));
		close(fd);
	}
	return 0;
}

int zcfile_check_size(uint64_t lun_size, uint32_t block_size,
		      uint64_t file_size, int is_blk, const char *path, char **err)
{
	if (!block_size || lun_size == 0)
		return fail(err, "bad LUN size %llu (block size %u)",
			    (unsigned long long)lun_size, block_size);
	if (lun_size % block_size)
		return fail(err, "bad LUN size %llu: not a multiple of the block size %u",
			    (unsigned long long)lun_size, block_size);
	if (lun_size > (uint64_t)LLONG_MAX)
		return fail(err, "bad LUN size %llu: too large",
			    (unsigned long long)lun_size);
	if (is_blk && file_size < lun_size)
		return fail(err, "bad LUN size %llu: block device %s has only %llu bytes",
			    (unsigned long long)lun_size, path, (unsigned long long)file_size);
	return 0;
}
