// SPDX-License-Identifier: MIT
/*
 * io_uring_setup_buf_ring() and io_uring_free_buf_ring() for liburing
 * older than 2.4 (Debian 12 ships 2.3), so that the kernel's ublk selftest
 * server (tools/testing/selftests/ublk/kublk) links against Debian's
 * liburing. Same behaviour as liburing 2.4's versions: an anonymous
 * mapping registered as a provided-buffer ring. Only kublk's --batch mode
 * uses them; ci/build-ublk.sh force-includes this file (-include) into
 * every kublk source only when liburing.h lacks them. The kernel's
 * <linux/io_uring.h> comes first, as in kublk.h, so that its definitions
 * (not liburing's older copy) are the ones in force.
 */
#ifndef UBLK_LIBURING_COMPAT_H
#define UBLK_LIBURING_COMPAT_H
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/io_uring.h>
#include <liburing.h>

static inline struct io_uring_buf_ring *io_uring_setup_buf_ring(struct io_uring *ring,
								unsigned int nentries,
								int bgid, unsigned int flags,
								int *ret)
{
	struct io_uring_buf_reg reg;
	struct io_uring_buf_ring *br;
	size_t size = nentries * sizeof(struct io_uring_buf);
	int r;

	br = mmap(NULL, size, PROT_READ | PROT_WRITE,
		  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED) {
		*ret = -errno;
		return NULL;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = nentries;
	reg.bgid = bgid;
	r = io_uring_register_buf_ring(ring, &reg, flags);
	if (r) {
		munmap(br, size);
		*ret = r;
		return NULL;
	}
	io_uring_buf_ring_init(br);
	*ret = 0;
	return br;
}

static inline int io_uring_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
					 unsigned int nentries, int bgid)
{
	int r = io_uring_unregister_buf_ring(ring, bgid);

	if (r)
		return r;
	munmap(br, nentries * sizeof(struct io_uring_buf));
	return 0;
}
#endif
