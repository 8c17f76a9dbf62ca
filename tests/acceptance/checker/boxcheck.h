/*
 * boxcheck: what its source files share (see boxcheck.c for the program).
 */
#ifndef BOXCHECK_H
#define BOXCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The descriptor a command reports to: stdout, or a file for `hook`. */
extern int out_fd;
/* The whole command line, for the report's argv.N lines. */
extern int main_argc;
extern char **main_argv;

__attribute__((format(printf, 1, 2))) void out(const char *fmt, ...);
/* A value with newlines and backslashes escaped, so it stays on one line. */
void out_escaped(const char *value, size_t len);
void out_kv(const char *key, const char *value, size_t len);
/* A probe's verdict: `op:arg=ok` or `op:arg=err:ENAME`. */
void out_verdict(const char *op, const char *arg, int err);
const char *errname(int err);

int parse_long(const char *s, long min, long max, long *value);
int parse_seconds(const char *s, double *value);
/* Reads a whole small file into buf (NUL-terminated); returns bytes or -errno. */
ssize_t read_file(const char *path, char *buf, size_t size);
double now_seconds(void);
void sleep_seconds(double seconds);

/* boxcheck_report.c */
int cmd_report(int argc, char **argv);
int cmd_fds(int argc, char **argv);

/* boxcheck_probes.c */
int cmd_write(int argc, char **argv);
int cmd_sched(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_hugemap(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_mknod(int argc, char **argv);
int cmd_sethostname(int argc, char **argv);
int cmd_chown(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_fork(int argc, char **argv);
int cmd_exe_race(int argc, char **argv);
int cmd_tty(int argc, char **argv);

#endif
