/* `box cdi generate`: discovers an NVIDIA driver and its GPUs under three
 * roots (driver files, /dev, /proc; "/" on a real host, test trees in the
 * suite) and writes the CDI spec for kind nvidia.com/gpu: one device per GPU
 * by index and by UUID, "all", and spec-level edits for the control nodes,
 * the driver's libraries, binaries, firmware and IPC sockets. The soname
 * links and the container's linker cache are made by `box hook`, which the
 * spec names as its createContainer hooks (see docs/cdi-nvidia.md). */
#ifndef BOX_CDI_GENERATE_H
#define BOX_CDI_GENERATE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_GEN_MAX_GPUS     64
#define BOX_GEN_MAX_FILES    2048 /* mounts, links or library directories */
#define BOX_GEN_INFO_MAX     (64 * 1024)
#define BOX_GEN_VERSION_MAX  32
#define BOX_GEN_NVIDIA_MAJOR 195

struct box_gen_opts {
    const char *driver_root; /* the driver's files; default "/" */
    const char *dev_root;    /* where dev/nvidia* lives; default the driver root */
    const char *proc_root;   /* where proc/driver/nvidia lives; default "/" */
    const char *hook_path;   /* absolute path of box, named by the hooks */
    bool by_index, by_uuid;  /* --device-name-strategy */
};

struct box_gen_gpu {
    char pci[32]; /* "0000:01:00.0", the directory name under gpus/ */
    unsigned minor;
    char node[64]; /* /dev/nvidia<minor> as resolved inside the dev root */
    char uuid[80];
    char model[128];
    /* The GPU's DRM nodes, through dev/dri/by-path; "" when absent. */
    char card[64], render[64];
    char card_link[96], render_link[96]; /* the by-path links themselves */
};

/* A file of the host: `host` is its resolved path on the host, `path` the
 * path the container sees (the looked-up path relative to its root). */
struct box_gen_file {
    char *host, *path;
};

struct box_gen_link {
    char *target, *link;
};

struct box_gen_host {
    char version[BOX_GEN_VERSION_MAX];
    char dev_root[PATH_MAX]; /* resolved; "" for "/" */
    struct box_gen_gpu gpus[BOX_GEN_MAX_GPUS];
    size_t n_gpus;
    struct box_gen_file *nodes; /* control nodes: nvidiactl, uvm, uvm-tools, modeset */
    size_t n_nodes;
    struct box_gen_file *mounts; /* libraries, binaries, firmware, sockets */
    size_t n_mounts;
    struct box_gen_link *links; /* soname links of the libraries */
    size_t n_links;
    char **lib_dirs; /* container paths of the directories holding libraries */
    size_t n_lib_dirs;
    size_t n_libs; /* how many of the mounts are libraries */
};

/* Discovery over the roots; every error names the root and the file. */
int box_gen_discover(const struct box_gen_opts *o, struct box_gen_host *h, struct box_err *err);
void box_gen_host_free(struct box_gen_host *h);

/* The spec for what was discovered (a new reference in *out). */
int box_gen_spec(const struct box_gen_host *h, const struct box_gen_opts *o, json_t **out,
                 struct box_err *err);

/* Pure parsers, exposed for the unit tests. */
/* /proc/driver/nvidia/gpus/<pci>/information: "Device Minor", "GPU UUID",
 * "Model". `what` names the file in errors. */
int box_gen_parse_information(const char *text, const char *what, struct box_gen_gpu *g,
                              struct box_err *err);
/* /proc/driver/nvidia/version: the first dotted number of the NVRM line. */
int box_gen_parse_version(const char *text, char *out, size_t size, struct box_err *err);
/* A driver version as it appears in a library's name: digits and dots. */
bool box_gen_version_ok(const char *v);
/* The lowest CDI version whose fields the spec uses (the minimum-version
 * rule of the CDI spec); "0.3.0" at least. */
const char *box_gen_min_version(json_t *spec);

#endif
