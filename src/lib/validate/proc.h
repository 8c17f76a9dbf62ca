/* Child processes with their stdout and stderr captured separately into
 * bounded buffers: the first `max` bytes of each stream are kept, the rest
 * is counted and dropped, and the pipes are always drained, so that a child
 * that floods its output never blocks on a full pipe. Every complete line
 * (and a last unterminated one) is also handed to a callback, whatever was
 * kept, so that a marker printed after a flood is still seen.
 *
 * The child gets /dev/null on stdin, its own process group, and nothing else
 * of the caller's fds (all of them are O_CLOEXEC). Its exit is watched
 * through a pidfd where the kernel has one, so an event loop can poll many
 * children at once (runner.h). */
#ifndef BOX_VALIDATE_PROC_H
#define BOX_VALIDATE_PROC_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/base/err.h"

#define BOX_LINE_MAX 4096 /* longer lines are passed on cut, flagged */

enum box_stream {
    BOX_STDOUT = 1,
    BOX_STDERR = 2,
};

typedef void (*box_line_fn)(void *ud, enum box_stream s, const char *line, size_t len, bool cut);

struct box_capture {
    char *buf; /* the first `max` bytes, NUL-terminated */
    size_t len, max;
    uint64_t total;   /* every byte read */
    uint64_t dropped; /* total - len */
    char line[BOX_LINE_MAX];
    size_t line_len;
    bool line_cut;
};

struct box_proc {
    pid_t pid;
    int pidfd; /* -1 where the kernel has no pidfd_open */
    int fd[3]; /* [BOX_STDOUT], [BOX_STDERR]; -1 once at EOF */
    struct box_capture cap[3];
    box_line_fn on_line;
    void *ud;
    bool exited;
    int status; /* wait status once exited */
};

/* Starts argv[0] (an absolute path) with argv and the caller's environment. */
int box_proc_spawn(char *const *argv, size_t capture_max, box_line_fn on_line, void *ud,
                   struct box_proc *p, struct box_err *err);

/* The pollfds of a running child: up to 3 (stdout, stderr, pidfd); returns
 * how many were written. */
size_t box_proc_pollfds(const struct box_proc *p, struct pollfd *out);
/* Reads what is ready on both pipes and reaps the child if it has exited,
 * without blocking. */
int box_proc_step(struct box_proc *p, struct box_err *err);
/* True once the child was reaped and both pipes reached EOF. */
bool box_proc_done(const struct box_proc *p);
/* Closes the pipes (the child's output past this point is lost); used when
 * something the child started holds them open after it exited. */
void box_proc_close_pipes(struct box_proc *p);
/* Sends sig to the child's process group. */
void box_proc_kill(struct box_proc *p, int sig);
/* Frees the buffers and fds; kills and reaps the child if it still runs. */
void box_proc_release(struct box_proc *p);

/* Runs argv to completion, or kills its process group after timeout_ms.
 * Returns 0 with p filled (p->status), -ETIMEDOUT after a kill, or -errno. */
int box_proc_run(char *const *argv, size_t capture_max, int timeout_ms, struct box_proc *p,
                 struct box_err *err);

/* Exit code in the shell's convention: the status, or 128 + signal. */
int box_proc_exit_code(int status);

/* Monotonic milliseconds. */
int64_t box_now_ms(void);

#endif
