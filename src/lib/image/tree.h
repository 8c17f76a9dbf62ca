/* A virtual file tree: what an archive (or a manifest) says exists, keyed
 * by canonical relative path. It lets extraction reject duplicates, writes
 * through symlinks and escaping links without looking at the disk, and lets
 * the bundle checks compare the payload with its manifest after one pass.
 * Memory grows with the entry count, never with file sizes. */
#ifndef BOX_IMAGE_TREE_H
#define BOX_IMAGE_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/image/util.h"

enum box_node_type {
    BOX_NODE_DIR = 1,
    BOX_NODE_FILE = 2,
    BOX_NODE_SYMLINK = 3,
};

#define BOX_NODE_IMPLICIT 0x1u /* a directory only implied by its children */
#define BOX_NODE_HARDLINK 0x2u /* a file entry that is a hard link to `link` */
#define BOX_NODE_HASHED   0x4u /* size and sha256 are final */
#define BOX_NODE_SEEN     0x8u /* free for the tree's user (e.g. "listed") */

struct box_node {
    const char *path; /* canonical, relative; owned by the node */
    const char *link; /* symlink target, or NULL */
    uint64_t size;
    int64_t mtime;
    uint32_t mode; /* permission bits only */
    uint8_t type;  /* enum box_node_type */
    uint8_t flags;
    unsigned char sha256[BOX_SHA256_LEN];
};

struct box_tree {
    struct box_node **nodes; /* insertion order */
    size_t count, cap;
    uint32_t *slots; /* open addressing, index + 1, 0 = empty */
    size_t nslots;
};

void box_tree_init(struct box_tree *t);
void box_tree_free(struct box_tree *t);

struct box_node *box_tree_get(const struct box_tree *t, const char *path);
struct box_node *box_tree_getn(const struct box_tree *t, const char *path, size_t len);

/* Adds a node; -EEXIST with *out set to the existing node when the path is
 * taken, -ENOMEM, or -E2BIG past 2^31 nodes. */
int box_tree_add(struct box_tree *t, const char *path, enum box_node_type type, const char *link,
                 struct box_node **out);

/* Resolves `link`'s target as the kernel would, following the symlinks the
 * tree knows of (at most 40). Returns 0 when every step stays within the
 * first `keep` components of the link's path, -EXDEV when one climbs above
 * them or the target is absolute, -ELOOP on too many links, -ENAMETOOLONG.
 * Missing components are taken lexically, which is stricter than the kernel. */
int box_tree_resolve_symlink(const struct box_tree *t, const struct box_node *link, size_t keep);

#endif
