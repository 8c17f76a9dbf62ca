/* OCI content digests: "sha256:" followed by 64 lowercase hex digits
 * (image-spec descriptor.md, "Digests"). Only sha256 is produced; only
 * sha256 is accepted. Kept small and stable: the layout writer and reader
 * and the validation harness all name blobs through it. */
#ifndef BOX_OCI_DIGEST_H
#define BOX_OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"

#define BOX_OCI_DIGEST_PREFIX "sha256:"
#define BOX_OCI_DIGEST_LEN    71 /* "sha256:" + 64 hex, without the NUL */

/* The digest of a buffer into out (BOX_OCI_DIGEST_LEN + 1 bytes). 0 or -ENOMEM. */
int box_oci_digest_buf(const void *buf, size_t len, char *out);

/* The digest of everything from fd's current offset to its end; *size gets
 * the byte count when size is not NULL. */
int box_oci_digest_fd(int fd, char *out, uint64_t *size, struct box_err *err);

/* True when s is exactly "sha256:" and 64 lowercase hex digits. */
bool box_oci_digest_valid(const char *s);

/* The 64 hex digits of a valid digest (a pointer into it), or NULL. */
const char *box_oci_digest_hex(const char *digest);

#endif
