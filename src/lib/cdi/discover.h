/* Internals shared by the two halves of NVIDIA discovery (discover.c: GPUs,
 * nodes and the rest; discover_libs.c: the driver's libraries). */
#ifndef BOX_CDI_DISCOVER_H
#define BOX_CDI_DISCOVER_H

#include <limits.h>

#include "lib/cdi/generate.h"

struct gen_root {
    const char *flag; /* "--driver-root", named in errors */
    char path[PATH_MAX];
    int fd;
};

struct gen_ctx {
    struct gen_root drv, dev, proc;
    struct box_gen_host *h;
    const struct box_gen_opts *o;
};

/* The host path of an fd opened inside r, and the path it has inside r. */
int gen_resolved(const struct gen_root *r, int fd, char host[PATH_MAX], char path[PATH_MAX],
                 struct box_err *err);
/* Opens path inside r; -ENOENT (err untouched) when it does not exist. */
int gen_open(const struct gen_root *r, const char *path, int flags, struct box_err *err);
/* Adds a file once; 1 added, 0 already there. */
int gen_add_file(struct box_gen_file **v, size_t *n, const char *host, const char *path,
                 struct box_err *err);
/* The names in the directory open at fd (which it takes), at most max. */
int gen_list_dir(int fd, const char *what, char ***names, size_t *n, size_t max,
                 struct box_err *err);
void gen_strv_free(char **v, size_t n);
/* Libraries, their directories and soname links; finds the driver version
 * from libcuda's name when proc did not give it. */
int gen_read_libraries(struct gen_ctx *c, struct box_err *err);

#endif
