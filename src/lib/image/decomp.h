/* A decompressing reader for tarballs and image layers, bounded in output
 * size and compression ratio.
 *
 * gzip: each member is first tried whole with libdeflate (about twice
 * zlib's speed; box's own tarballs are written as 1 MiB members for this),
 * and a member that does not fit the buffers is streamed through zlib
 * instead. Truncated streams, bad CRCs, trailing garbage and non-gzip input
 * are rejected. Plain (uncompressed) input passes through when allowed. */
#ifndef BOX_IMAGE_DECOMP_H
#define BOX_IMAGE_DECOMP_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/base/err.h"

/* Data errors (bad input, not I/O) are reported with this code, so callers
 * can tell a rejected archive from a failing disk. */
#define BOX_EDATA EBADMSG

struct box_decomp_limits {
    uint64_t max_out;     /* total uncompressed bytes */
    uint64_t max_ratio;   /* uncompressed / compressed, checked past ratio_floor */
    uint64_t ratio_floor; /* bytes of output before the ratio is enforced */
};

#define BOX_DECOMP_ALLOW_PLAIN 0x1u /* accept input that is not gzip, as is */
#define BOX_DECOMP_NO_FAST     0x2u /* never use the libdeflate path (tests, benchmarks) */

struct box_decomp;

/* Reads from fd (not taken over). */
int box_decomp_open(int fd, unsigned flags, const struct box_decomp_limits *limits,
                    struct box_decomp **out, struct box_err *err);
void box_decomp_free(struct box_decomp *d);

/* Next block of output: its length, 0 at the clean end, or -errno. A block
 * stays valid until the call after the next one. */
ssize_t box_decomp_read(struct box_decomp *d, const void **buf, struct box_err *err);

/* After the consumer (the tar reader) has taken `consumed` bytes of output,
 * checks that everything after them is zero padding up to a clean end. */
int box_decomp_check_tail(struct box_decomp *d, uint64_t consumed, struct box_err *err);

uint64_t box_decomp_bytes_in(const struct box_decomp *d);
uint64_t box_decomp_bytes_out(const struct box_decomp *d);

#endif
