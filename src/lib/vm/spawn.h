/* Running the image tools (packer, qemu-img, qemu-system, the base-image
 * script) as children that can always be stopped: each runs in its own
 * process group, and on a timeout, a SIGINT/SIGTERM to the caller or a marker
 * seen in its output the whole group is sent SIGTERM, then SIGKILL after a
 * grace period, and the call returns only when no member of the group is
 * left. Output is captured bounded (the last `capture_max` bytes) and may be
 * copied as it arrives to another fd. */
#ifndef BOX_VM_SPAWN_H
#define BOX_VM_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/base/err.h"

#define BOX_VM_SPAWN_CAPTURE_MAX (1u << 20)

struct box_vm_spawn_opts {
    const char *const *argv; /* argv[0] is looked up in PATH */
    const char *const *env;  /* extra NAME=VALUE entries added to the environment, or NULL */
    const char *cwd;         /* NULL: the caller's */
    unsigned timeout_ms;     /* 0: none */
    unsigned grace_ms;       /* SIGTERM -> SIGKILL delay (default 5000 when 0) */
    size_t capture_max;      /* bytes of output kept (the tail); <= BOX_VM_SPAWN_CAPTURE_MAX */
    int tee_fd;              /* output also copied here; -1: not copied */
    const char *marker;      /* stop the group once this string appears in the output */
};

enum box_vm_spawn_end {
    BOX_VM_SPAWN_EXITED,      /* the child exited or was killed by a signal on its own */
    BOX_VM_SPAWN_TIMED_OUT,   /* the timeout passed */
    BOX_VM_SPAWN_INTERRUPTED, /* SIGINT or SIGTERM arrived */
    BOX_VM_SPAWN_MARKER,      /* the marker appeared */
};

struct box_vm_spawn_result {
    enum box_vm_spawn_end end;
    int status;     /* exit code, or 128 + signal */
    pid_t pgid;     /* the group the child ran in */
    char *output;   /* the captured tail, NUL-terminated; free() it */
    size_t len;     /* bytes in output */
    bool truncated; /* earlier output was dropped */
    unsigned long elapsed_ms;
    unsigned long marker_ms; /* when the marker appeared */
};

/* Runs the command to its end (see enum box_vm_spawn_end). Returns 0 when it
 * ran, whatever its status; < 0 when it could not be started or watched. The
 * caller's signal mask and dispositions are unchanged on return. */
int box_vm_spawn_run(const struct box_vm_spawn_opts *o, struct box_vm_spawn_result *res,
                     struct box_err *err);
void box_vm_spawn_result_free(struct box_vm_spawn_result *res);

/* "exited with status 3", "killed by SIGKILL", "timed out after 10 s", ... */
void box_vm_spawn_describe(const struct box_vm_spawn_result *res, unsigned timeout_ms, char *buf,
                           size_t size);

/* The last `lines` lines of the captured output (a pointer into res->output). */
const char *box_vm_spawn_tail(const struct box_vm_spawn_result *res, unsigned lines);

#endif
