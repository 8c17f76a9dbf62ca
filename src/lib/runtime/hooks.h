/* The hook runner: OCI hooks and CDI hooks. Each hook gets the state JSON on
 * stdin, exactly its own env (never the runtime's or the image's), a cwd
 * outside the container root, its timeout enforced on its whole process
 * group, and bounded output. */
#ifndef BOX_RUNTIME_HOOKS_H
#define BOX_RUNTIME_HOOKS_H

#include "lib/base/err.h"
#include "lib/runtime/spec.h"

/* Runs one hook; the error names the hook (kind, index, path) and carries the
 * end of its stderr. cwd: where the hook runs (the bundle). */
int box_hook_run(const struct box_hook *hook, const char *kind, size_t index, const char *state,
                 const char *cwd, struct box_err *err);
/* Marks the createContainer hooks that are this very program running one
 * of its `box hook` verbs: the hook's path, opened, is the same file
 * (st_dev, st_ino) as /proc/self/exe, and its args are `ARGV0 hook VERB
 * ...`. Those run in-process (box_hooks_run), with the same checks and
 * errors and no fork or exec; every other hook is executed. */
void box_hooks_find_self(struct box_spec *spec);
/* Runs every hook of a kind in order; stops at the first failure. */
int box_hooks_run(const struct box_spec *spec, enum box_hook_kind kind, const char *state,
                  const char *cwd, struct box_err *err);

#endif
