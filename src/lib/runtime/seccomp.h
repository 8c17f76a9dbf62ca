/* linux.seccomp (runtime-spec config-linux.md "Seccomp"): the profile is
 * parsed and validated into a struct before any side effect, then built
 * with libseccomp and loaded into the calling process as late as possible.
 * With SCMP_ACT_NOTIFY, the notification fd goes to the listener at
 * listenerPath together with the container process state. */
#ifndef BOX_RUNTIME_SECCOMP_H
#define BOX_RUNTIME_SECCOMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"

#define BOX_SECCOMP_MAX_SYSCALLS 4096  /* entries of syscalls[] */
#define BOX_SECCOMP_MAX_NAMES    16384 /* names over all entries */
#define BOX_SECCOMP_MAX_NAME_LEN 64
#define BOX_SECCOMP_MAX_ARGS     6 /* args[] of one entry: a system call has six */
#define BOX_SECCOMP_MAX_ARCHES   32

/* Filter flags (runtime-spec: linux.seccomp.flags). */
enum {
    BOX_SECCOMP_FLAG_TSYNC = 1u << 0,
    BOX_SECCOMP_FLAG_LOG = 1u << 1,
    BOX_SECCOMP_FLAG_SPEC_ALLOW = 1u << 2,
    BOX_SECCOMP_FLAG_WAIT_KILLABLE_RECV = 1u << 3,
};

struct box_seccomp_arg {
    unsigned index;            /* 0..5 */
    int op;                    /* enum scmp_compare */
    uint64_t value, value_two; /* value_two: the masked value of SCMP_CMP_MASKED_EQ */
};

struct box_seccomp_rule {
    char **names; /* NULL-terminated; names libseccomp does not know are skipped at load */
    size_t n_names;
    uint32_t action; /* a libseccomp action, errno or trace data included */
    struct box_seccomp_arg args[BOX_SECCOMP_MAX_ARGS];
    size_t n_args;
};

struct box_seccomp {
    uint32_t default_action;
    uint32_t arches[BOX_SECCOMP_MAX_ARCHES]; /* SCMP_ARCH_* tokens */
    size_t n_arches;
    unsigned flags; /* BOX_SECCOMP_FLAG_* */
    char *listener_path, *listener_metadata;
    struct box_seccomp_rule *rules; /* in the order of syscalls[] */
    size_t n_rules;
    bool notify; /* some rule uses SCMP_ACT_NOTIFY */
};

/* The system calls the runtime itself makes after the filter is loaded
 * (NULL-terminated): the init sends the notify fd and its last message to
 * `box create` (sendmsg, sendto), closes fds and execs the trampoline
 * (execveat); the trampoline waits for `box start` and execs the program
 * (accept4, close, fcntl, write, execve, exit). A profile must allow them,
 * as with runc and execve. SCMP_ACT_NOTIFY on sendmsg, which carries the
 * listener's fd, is refused: nobody could answer it. */
extern const char *const box_seccomp_runtime_syscalls[];

/* Parses and validates linux.seccomp (a JSON object) without touching the
 * system. Unknown syscall names are kept and skipped at load (profiles list
 * system calls newer than this kernel); unknown actions, operators,
 * architectures and flags are errors naming the field. */
int box_seccomp_parse(json_t *seccomp, struct box_seccomp **out, struct box_err *err);
void box_seccomp_free(struct box_seccomp *sc);

/* Builds the filter and loads it into the calling (single-threaded)
 * process. It never sets no_new_privs itself: the caller did, or has
 * CAP_SYS_ADMIN. *notify_fd is the listener fd (O_CLOEXEC, the caller's to
 * close) when the profile uses SCMP_ACT_NOTIFY, else -1. */
int box_seccomp_load(const struct box_seccomp *sc, int *notify_fd, struct box_err *err);

/* A compiled filter: the BPF program and the seccomp(2) flags to load it
 * with (SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _NEW_LISTENER). */
struct box_seccomp_bpf {
    void *insns; /* struct sock_filter[] */
    size_t len;  /* bytes */
    unsigned flags;
};

/* Builds the filter with libseccomp, without loading it. */
int box_seccomp_compile(const struct box_seccomp *sc, struct box_seccomp_bpf *out,
                        struct box_err *err);
/* The compiled filter of `profile` (linux.seccomp as in config.json) from
 * <root>/.seccomp when a create compiled the same profile before, else
 * compiled (libseccomp takes milliseconds on a docker-size profile) and
 * kept there. rootfd -1: no cache. */
int box_seccomp_prepare(int rootfd, json_t *profile, const struct box_seccomp *sc,
                        struct box_seccomp_bpf *out, struct box_err *err);
/* Loads a compiled filter into the calling (single-threaded) process; the
 * rules of box_seccomp_load apply. */
int box_seccomp_load_bpf(const struct box_seccomp_bpf *bpf, int *notify_fd, struct box_err *err);
void box_seccomp_bpf_free(struct box_seccomp_bpf *bpf);

/* Connects to the unix socket at listener_path and sends it the container
 * process state (runtime-spec: "containerProcessState"), built around
 * state_json (the container's state, whose pid is the container process),
 * with notify_fd attached (SCM_RIGHTS). metadata may be NULL. */
int box_seccomp_send_listener(const char *listener_path, int notify_fd, const char *state_json,
                              const char *metadata, struct box_err *err);

/* linux.seccomp of the features document (runtime-spec features-linux.md):
 * enabled, actions, operators, archs, knownFlags, supportedFlags. */
json_t *box_seccomp_features(void);

#endif
