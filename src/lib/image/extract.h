/* Secure tar extraction, shared by bundle staging and image layer unpacking.
 *
 * libarchive is used as a reader only. Every entry is checked before any byte
 * of it is written: canonical relative path, allowed type (directory, regular
 * file, symlink, hard link to a file already extracted), no setuid/setgid, no
 * sparse data, no file capabilities, no duplicate path, no write through a
 * symlink, no link that escapes the root; entry count, entry size and total
 * size are bounded. Regular files are hashed (SHA-256) while they are written
 * through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) below dest_fd, or only
 * hashed when dest_fd is -1. The archive must end with its end-of-archive
 * marker followed by nothing but zero padding.
 *
 * Every rejection is an error with code BOX_EDATA whose message names the
 * path at fault. What the archive contained is left in a box_tree. */
#ifndef BOX_IMAGE_EXTRACT_H
#define BOX_IMAGE_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/image/decomp.h"
#include "lib/image/tree.h"

struct box_extract_limits {
    uint64_t max_entries;
    uint64_t max_entry_size; /* one regular file */
    uint64_t max_total_size; /* all regular files */
    size_t max_depth;        /* path components */
};

/* Returned by ops->begin to keep a regular file's bytes in memory as well. */
#define BOX_EXTRACT_CAPTURE 0x1

struct box_extract_ops {
    /* Called for every entry once the common rules passed and before it is
     * written; returns 0, BOX_EXTRACT_CAPTURE, or -errno (err set) to stop. */
    int (*begin)(void *ud, const struct box_node *node, struct box_err *err);
    /* Called when the entry is complete (files: hashed and written), with the
     * captured bytes if asked for. */
    int (*end)(void *ud, const struct box_node *node, const char *data, size_t len,
               struct box_err *err);
};

#define BOX_EXTRACT_ALLOW_HARDLINKS 0x1u
#define BOX_EXTRACT_IGNORE_XATTRS   0x2u /* other than security.capability, always refused */
#define BOX_EXTRACT_THREADED        0x4u /* write from a second thread (tools only) */
/* Image layers: symlink targets are stored as they are, absolute or climbing
 * out. Nothing in extraction follows a link (every write refuses them), a
 * later path through a link in the same archive is still refused, and the
 * runtime resolves the root filesystem with RESOLVE_IN_ROOT. */
#define BOX_EXTRACT_ANY_SYMLINK_TARGET 0x8u

struct box_extract_opts {
    struct box_decomp *src;
    int dest_fd;      /* -1: hash only */
    size_t keep;      /* leading path components that links must stay below */
    const char *noun; /* names the root in messages: "bundle", "layer" */
    unsigned flags;
    struct box_extract_limits limits;
    size_t capture_max;
    const struct box_extract_ops *ops;
    void *ud;
};

struct box_extract_stats {
    uint64_t entries, dirs, files, symlinks, hardlinks;
    uint64_t file_bytes; /* sum of regular file sizes */
};

/* Defaults suited to runtime bundles and image layers. */
void box_extract_limits_default(struct box_extract_limits *l);

int box_extract_tar(const struct box_extract_opts *o, struct box_tree *tree,
                    struct box_extract_stats *st, struct box_err *err);

/* Applies the recorded permission bits of every directory in `tree` below
 * dest_fd (they are created 0755, less the umask, so that extraction can
 * write into them). */
int box_extract_apply_dir_modes(int dest_fd, const struct box_tree *tree, struct box_err *err);

#endif
