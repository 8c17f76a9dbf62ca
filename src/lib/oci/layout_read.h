/* Reading OCI image layouts (image-spec 1.1, image-layout.md): the
 * `oci-layout` marker, index.json, image indexes, image manifests and image
 * configs, each bounded in size and verified against its descriptor's
 * digest and size before it is parsed. References name a layout and one
 * image in it:
 *
 *   oci:DIR                 the layout's only manifest
 *   oci:DIR:TAG             the manifest annotated org.opencontainers.image.ref.name=TAG
 *   oci:DIR@sha256:HEX      the manifest (or index) with this digest
 *   HOST[:PORT]/REPO@sha256:HEX   a registry image by digest (fetched elsewhere)
 *
 * A registry reference without a digest is refused: a tag can move, and a
 * validation run must say exactly what it ran. */
#ifndef BOX_OCI_LAYOUT_READ_H
#define BOX_OCI_LAYOUT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"
#include "lib/oci/digest.h"

#define BOX_OCI_TAG_MAX         128
#define BOX_OCI_MAX_LAYERS      128
#define BOX_OCI_MAX_INDEX       (4u << 20) /* index.json and nested indexes */
#define BOX_OCI_MAX_MANIFEST    (4u << 20) /* image-spec manifest.md: 4 MiB */
#define BOX_OCI_MAX_CONFIG      (8u << 20)
#define BOX_OCI_MAX_INDEX_DEPTH 4
#define BOX_OCI_MAX_STRINGS     4096 /* entries of Env, Entrypoint, Cmd */

enum box_oci_ref_kind {
    BOX_OCI_REF_LAYOUT = 1,
    BOX_OCI_REF_REGISTRY = 2,
};

struct box_oci_ref {
    enum box_oci_ref_kind kind;
    char path[4096];                     /* layout directory, or HOST[:PORT]/REPO */
    char tag[BOX_OCI_TAG_MAX + 1];       /* layouts only; "" when none */
    char digest[BOX_OCI_DIGEST_LEN + 1]; /* "" when none */
};

/* Parses a reference as above. Pure. -EINVAL with a message naming the
 * reference for anything else, a registry reference without a digest
 * included. */
int box_oci_ref_parse(const char *s, struct box_oci_ref *ref, struct box_err *err);

enum box_oci_compression {
    BOX_OCI_PLAIN = 1,
    BOX_OCI_GZIP = 2,
};

struct box_oci_desc {
    char media_type[256];
    char digest[BOX_OCI_DIGEST_LEN + 1];
    uint64_t size;
};

/* What a run needs from one image: its manifest's digest, its layers in
 * order, and the parts of its config that shape the process. */
struct box_oci_image {
    char manifest_digest[BOX_OCI_DIGEST_LEN + 1];
    struct box_oci_desc config;
    struct box_oci_desc layers[BOX_OCI_MAX_LAYERS];
    enum box_oci_compression compression[BOX_OCI_MAX_LAYERS];
    size_t nlayers;
    char architecture[32], os[32];
    char *user, *workdir;     /* NULL when unset */
    char **entrypoint, **cmd; /* NULL-terminated, NULL when unset */
    char **env;
    size_t nentrypoint, ncmd, nenv;
};

void box_oci_image_free(struct box_oci_image *img);

/* The architecture name image-spec uses for this machine ("amd64", "arm64"). */
const char *box_oci_host_arch(void);

/* Opens a layout directory (O_PATH|O_DIRECTORY fd) after checking its
 * `oci-layout` file says imageLayoutVersion 1.0.0. */
int box_oci_layout_open(const char *dir, int *dirfd, struct box_err *err);

/* Reads a blob named by a digest into memory: at most max bytes, exactly
 * `size` when size is not UINT64_MAX, its sha256 checked. The blob is
 * opened below the layout with no symlink followed. */
int box_oci_blob_read(int dirfd, const char *digest, uint64_t size, size_t max, char **out,
                      size_t *len, struct box_err *err);
/* Opens a blob for streaming after checking its size and sha256 on the
 * open file (the caller reads what was verified, not a later rename). */
int box_oci_blob_open(int dirfd, const struct box_oci_desc *d, struct box_err *err);

/* Resolves `tag` or `digest` (either may be "" or NULL; at most one set) to
 * one image manifest for linux/`arch` (NULL: the host's), walking nested
 * indexes, and reads its config. */
int box_oci_image_resolve(int dirfd, const char *tag, const char *digest, const char *arch,
                          struct box_oci_image *img, struct box_err *err);

/* Parsers over documents already read and verified; pure, for tests. */
int box_oci_manifest_parse(const char *text, size_t len, struct box_oci_image *img,
                           struct box_err *err);
int box_oci_config_parse(const char *text, size_t len, const char *arch, struct box_oci_image *img,
                         struct box_err *err);

#endif
