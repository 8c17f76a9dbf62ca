/* Shared parts of box-image's commands (src/tools/box-image*.c). */
#ifndef BOX_TOOLS_BOX_IMAGE_H
#define BOX_TOOLS_BOX_IMAGE_H

#include "lib/base/err.h"
#include "lib/oci/digest.h"
#include "lib/oci/layout_write.h"

enum {
    BOX_IMAGE_EXIT_REJECTED = 1,
    BOX_IMAGE_EXIT_USAGE = 2,
    BOX_IMAGE_EXIT_ERROR = 3,
};

/* Prints "box-image: MESSAGE" and a hint; returns BOX_IMAGE_EXIT_USAGE. */
int box_image_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints err; returns the exit status its code calls for. */
int box_image_fail(const struct box_err *err);
/* Image and workload names: 1..64 of [a-z0-9-], a letter first. */
int box_image_name_valid(const char *name);

#define BOX_IMAGE_MAX_INPUTS 64

/* What a layout's stamp (BOX_OCI_STAMP) says. */
struct box_image_stamp {
    char name[65];
    char fingerprint[BOX_OCI_FPR_LEN + 1];
    char manifest[BOX_OCI_DIGEST_LEN + 1];
    char keys[BOX_IMAGE_MAX_INPUTS][128], values[BOX_IMAGE_MAX_INPUTS][1024];
    size_t ninputs;
};

/* Reads and checks DIR/box-image.json and that DIR/index.json names the
 * same manifest. */
int box_image_read_stamp(const char *dir, struct box_image_stamp *st, struct box_err *err);

int box_image_cmd_manifest(int argc, char **argv);
int box_image_cmd_publish(int argc, char **argv);

#endif
