/* An image root filesystem described in memory, and its one layer written
 * deterministically: entries sorted by path (bytewise), every mtime one
 * epoch, numeric owners with empty user and group names, ustar headers,
 * and a gzip stream with a fixed header (no name, mtime 0) at a fixed level.
 * The same entries always give the same bytes.
 *
 * Files are read into memory when added (an image of the validation
 * workloads is a few MiB); every input is bounded. */
#ifndef BOX_OCI_ROOTFS_H
#define BOX_OCI_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/oci/digest.h"

#define BOX_OCI_ROOTFS_MAX_ENTRIES 4096
#define BOX_OCI_ROOTFS_MAX_BYTES   (1024ull << 20) /* all file contents together */
#define BOX_OCI_FILE_MAX           (512ull << 20)  /* one file */

enum box_oci_entry_type {
    BOX_OCI_DIR = 1,
    BOX_OCI_FILE = 2,
    BOX_OCI_SYMLINK = 3,
};

struct box_oci_entry {
    char *path; /* canonical and relative: no leading '/', no "." or ".." */
    char *link; /* symlink target */
    unsigned char *data;
    size_t size;
    char digest[BOX_OCI_DIGEST_LEN + 1]; /* of data, for files */
    uint32_t mode;                       /* permission bits, sticky included */
    uint32_t uid, gid;
    uint8_t type;
};

struct box_oci_rootfs {
    struct box_oci_entry *v;
    size_t n, cap;
    uint64_t bytes;
};

void box_oci_rootfs_init(struct box_oci_rootfs *r);
void box_oci_rootfs_free(struct box_oci_rootfs *r);

/* Paths may start with '/'; they are made relative and checked (no "..",
 * no empty or "." component, no control characters). A path that is
 * already present is -EEXIST. */
int box_oci_rootfs_add_dir(struct box_oci_rootfs *r, const char *path, uint32_t mode, uint32_t uid,
                           uint32_t gid, struct box_err *err);
int box_oci_rootfs_add_data(struct box_oci_rootfs *r, const char *path, const void *data,
                            size_t len, uint32_t mode, struct box_err *err);
/* Reads a host file (symlinks followed) into the entry. mode 0: 0755 when
 * the host file is executable by its owner, else 0644. */
int box_oci_rootfs_add_file(struct box_oci_rootfs *r, const char *path, const char *host_path,
                            uint32_t mode, struct box_err *err);
int box_oci_rootfs_add_symlink(struct box_oci_rootfs *r, const char *path, const char *target,
                               struct box_err *err);

const struct box_oci_entry *box_oci_rootfs_get(const struct box_oci_rootfs *r, const char *path);

/* Adds the missing parent directories (0755, root), sorts the entries and
 * rejects an entry below a path that is not a directory. */
int box_oci_rootfs_finish(struct box_oci_rootfs *r, struct box_err *err);

/* The layer as an uncompressed tar (after finish). *out is malloc'ed. */
int box_oci_rootfs_tar(const struct box_oci_rootfs *r, int64_t epoch, unsigned char **out,
                       size_t *len, struct box_err *err);

/* gzip with zlib at `level` (1..9): header without name or mtime. */
int box_oci_gzip(const void *in, size_t len, int level, unsigned char **out, size_t *out_len,
                 struct box_err *err);

#endif
