/* Writing an OCI image layout (image-spec 1.1, image-layout.md): the
 * `oci-layout` file, `index.json` and `blobs/sha256/`, holding one image of
 * one gzip layer. Every JSON document is written with sorted keys and no
 * whitespace, so the same inputs give the same manifest digest.
 *
 * The input fingerprint (box_oci_fingerprint) names what an image is built
 * from; it tags the image in index.json and in a stamp file beside it, so
 * that a builder can tell an up-to-date layout without rebuilding it. */
#ifndef BOX_OCI_LAYOUT_WRITE_H
#define BOX_OCI_LAYOUT_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/oci/digest.h"
#include "lib/oci/rootfs.h"

#define BOX_OCI_FPR_LEN       12               /* hex digits of an input fingerprint */
#define BOX_OCI_FPR_MAX_ITEMS 256              /* inputs, and input files, of one fingerprint */
#define BOX_OCI_STAMP         "box-image.json" /* the builder's stamp in a layout */

#define BOX_OCI_MT_INDEX    "application/vnd.oci.image.index.v1+json"
#define BOX_OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BOX_OCI_MT_CONFIG   "application/vnd.oci.image.config.v1+json"
#define BOX_OCI_MT_LAYER    "application/vnd.oci.image.layer.v1.tar+gzip"

struct box_oci_kv {
    const char *key, *value;
};

/* The parts of the image config (image-spec config.md) the builder sets. */
struct box_oci_config {
    const char *architecture, *os; /* GOARCH/GOOS names: "amd64", "linux" */
    const char *user, *workdir;
    const char *const *env;
    size_t nenv;
    const char *const *entrypoint;
    size_t nentrypoint;
    const struct box_oci_kv *labels;
    size_t nlabels;
    int64_t created; /* seconds since the epoch, also every layer mtime */
};

/* An input file of the fingerprint: its path as the build names it, and
 * its digest. */
struct box_oci_fpr_file {
    const char *path;
    const char *digest;
};

/* First BOX_OCI_FPR_LEN hex digits of the sha256 over the schema string,
 * the image name, the inputs (sorted by key), the input files (sorted by
 * path), every rootfs entry (path, type, mode, owner, content digest or
 * link target) and the config. Keys and values must not hold a newline.
 * rootfs must be finished (sorted). out: BOX_OCI_FPR_LEN + 1 bytes. */
int box_oci_fingerprint(const char *schema, const char *name, const struct box_oci_kv *inputs,
                        size_t ninputs, const struct box_oci_fpr_file *files, size_t nfiles,
                        const struct box_oci_rootfs *rootfs, const struct box_oci_config *cfg,
                        char *out, struct box_err *err);

struct box_oci_written {
    char manifest[BOX_OCI_DIGEST_LEN + 1], config[BOX_OCI_DIGEST_LEN + 1];
    char layer[BOX_OCI_DIGEST_LEN + 1], diff_id[BOX_OCI_DIGEST_LEN + 1];
    uint64_t manifest_size, config_size, layer_size, tar_size;
};

/* Writes the layout into dirfd, an empty directory. The index holds one
 * manifest annotated with org.opencontainers.image.ref.name = ref_name and
 * org.opencontainers.image.title = title. gzip_level 1..9. */
int box_oci_layout_write(int dirfd, const struct box_oci_rootfs *rootfs,
                         const struct box_oci_config *cfg, const char *ref_name, const char *title,
                         int gzip_level, struct box_oci_written *out, struct box_err *err);

#endif
