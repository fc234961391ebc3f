/* SPDX-License-Identifier: LGPL-2.1-or-later OR Apache-2.0 */
/*
 * zcfile: config string parsing and the I/O loops, kept free of
 * tcmu-runner types so they can be unit tested on the host.
 */
#ifndef ZCFILE_CONFIG_H
#define ZCFILE_CONFIG_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct zcfile_config {
	char path[4096];
};

/*
 * Parse a tcmu config string ("zcfile/<path>", or just "<path>").
 * On error returns -1 and sets *err to a malloc'd message.
 */
int zcfile_parse_config(const char *cfgstring, struct zcfile_config *cfg, char **err);

/* Check that the backing file exists and is a readable, writable file. */
int zcfile_check_file(const struct zcfile_config *cfg, char **err);

/*
 * Read or write exactly @len bytes at @off through @iov, retrying short
 * transfers. A read past the end of the file zero-fills the rest.
 * Returns @len or -errno. @iov is not modified.
 */
ssize_t zcfile_preadv_full(int fd, const struct iovec *iov, size_t iov_cnt,
			   size_t len, off_t off);
ssize_t zcfile_pwritev_full(int fd, const struct iovec *iov, size_t iov_cnt,
			    size_t len, off_t off);

#endif
