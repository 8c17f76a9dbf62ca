/* What `box hook` does for a CDI spec that `box cdi generate` wrote: runs as
 * a createContainer hook (in the container's mount namespace, before
 * pivot_root), finds the container's root from the OCI state on stdin, and
 * changes files inside that root only through the in-root resolver. It
 * never runs a program of the image and reads nothing from its environment. */
#ifndef BOX_CDI_HOOK_H
#define BOX_CDI_HOOK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_HOOK_STATE_MAX (1u << 20)
#define BOX_HOOK_ARGS_MAX  4096
#define BOX_HOOK_CONF_NAME "000-box-cdi.conf"
/* Names read from one --folder by update-ldcache. */
#define BOX_HOOK_SCAN_MAX 65536

enum box_cdi_hook_verb {
    BOX_CDI_HOOK_SYMLINKS, /* create-symlinks --link TARGET::LINK ... */
    BOX_CDI_HOOK_LDCACHE,  /* update-ldcache --folder DIR ... [--ldconfig PATH] */
};

/* One hook call, as `box hook VERB ARGS...` names it. */
struct box_cdi_hook_req {
    enum box_cdi_hook_verb verb;
    const char *verb_name;
    char **items; /* the --link or --folder values (pointing into argv) */
    size_t n;
    const char *ldconfig; /* --ldconfig, or NULL */
    bool help;            /* --help: nothing to do */
};

/* Whether `name` is a verb of `box hook`. */
bool box_cdi_hook_verb_known(const char *name);
/* Parses argv[0] = VERB and its options (`--opt VALUE`, `--opt=VALUE`, an
 * unambiguous prefix of an option, -h/--help), the way `box hook` always
 * has. -EINVAL naming the verb and the argument at fault. */
int box_cdi_hook_parse(int argc, char *const *argv, struct box_cdi_hook_req *req,
                       struct box_err *err);
void box_cdi_hook_req_free(struct box_cdi_hook_req *req);
/* Runs the hook: the root from the OCI state (box_cdi_hook_rootfs), then
 * box_cdi_hook_symlinks or box_cdi_hook_ldcache on it. Errors start with
 * "hook VERB". `box hook` runs it after reading stdin; box's init runs it
 * in-process for a createContainer hook that is box itself. */
int box_cdi_hook_run(const struct box_cdi_hook_req *req, const char *state, size_t len,
                     struct box_err *err);

/* The container's root from the state JSON: `root.path` (box, and others
 * that send it), else `rootfs`, else `root.path` of bundle/config.json; a
 * relative root is relative to `bundle`. */
int box_cdi_hook_rootfs(const char *state, size_t len, char out[PATH_MAX], struct box_err *err);

/* Makes each "TARGET::LINK" a symlink at LINK (absolute, inside the root)
 * holding TARGET; missing parents are created, an existing non-directory at
 * LINK is replaced atomically. All links are checked before the first is
 * made. */
int box_cdi_hook_symlinks(int rootfd, char *const *links, size_t n, struct box_err *err);

/* Lists the folders in the root's /etc/ld.so.conf.d/BOX_HOOK_CONF_NAME and
 * updates the root's linker cache: without ldconfig, box_cdi_hook_ldcache_write;
 * with one, by running that static host ldconfig chrooted into the root with
 * an empty environment. */
int box_cdi_hook_ldcache(int rootfd, char *const *folders, size_t n, const char *ldconfig,
                         struct box_err *err);
/* Writes the root's /etc/ld.so.cache itself: the libraries of this
 * machine's ABI found in the folders (regular files named lib*.so* or
 * ld-*.so*, keyed
 * by SONAME, the path being FOLDER/SONAME when that name exists there)
 * replace the entries of the same names in the image's cache; its other
 * entries stay. An image cache that cannot be read is replaced. A file
 * whose content would not change is not rewritten. */
int box_cdi_hook_ldcache_write(int rootfd, char *const *folders, size_t n, struct box_err *err);
/* Writes dirfd/name atomically unless it already holds exactly data (a
 * regular file, not followed if it is a link). */
int box_cdi_hook_write_if_changed(int dirfd, const char *name, const void *data, size_t len,
                                  struct box_err *err);

#endif
