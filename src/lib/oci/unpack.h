/* Unpacking an image's layers into a root filesystem with the shared secure
 * extraction module (lib/image/extract.h), applying the whiteouts of
 * image-spec layer.md:
 *
 * - `DIR/.wh.NAME` removes DIR/NAME of the layers below;
 * - `DIR/.wh..wh..opq` hides everything the layers below put in DIR;
 * - whiteout files themselves never appear in the result.
 *
 * The first layer is extracted straight into the root. Every later layer is
 * extracted into a staging directory beside it (same filesystem), its
 * whiteouts applied to the root, and its entries renamed into place; no
 * path of the root is ever followed through a symlink while doing so (a
 * layer that writes below a symlink of a lower layer is refused, naming the
 * path). Each layer's blob is checked against its digest and size on the
 * open file before a byte is extracted.
 *
 * Known limits, each refused with a clear message: hard links to a file of a
 * lower layer, zstd layers. File ownership is not applied: the tree belongs
 * to the caller, which runs it read-only. */
#ifndef BOX_OCI_UNPACK_H
#define BOX_OCI_UNPACK_H

#include <stdint.h>

#include "lib/base/err.h"
#include "lib/oci/layout_read.h"

struct box_oci_unpack_stats {
    uint64_t layers, entries, files, file_bytes, whiteouts;
};

/* Unpacks img's layers from the layout at layout_fd into the empty
 * directory `rootfs` below work_fd (staging directories are made and
 * removed below work_fd too). On failure the caller removes the tree. */
int box_oci_unpack(int layout_fd, const struct box_oci_image *img, int work_fd, const char *rootfs,
                   struct box_oci_unpack_stats *st, struct box_err *err);

/* True when a path's last component is a whiteout (".wh." prefix). Pure. */
int box_oci_whiteout_kind(const char *path, const char **target);
#define BOX_OCI_WH_NONE   0
#define BOX_OCI_WH_FILE   1 /* `.wh.NAME`: *target = NAME */
#define BOX_OCI_WH_OPAQUE 2 /* `.wh..wh..opq` */
#define BOX_OCI_WH_BAD    3 /* `.wh.` with no name, `.wh..`, other `.wh..wh.` names */

#endif
