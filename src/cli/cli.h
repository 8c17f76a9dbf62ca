/* The CLI: argv -> one library call -> print -> exit code. Only this layer
 * prints. */
#ifndef BOX_CLI_H
#define BOX_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

struct box_cli {
    const char *root;
    const char *log_path;
    bool log_json;
    bool debug;
    bool systemd_cgroup;
    const char *argv0;
};

/* Reports an error on stderr and, with --log, in the log file (JSON lines
 * with level, msg and time under --log-format json: containerd reads the
 * last one). Returns the exit code 1. */
int box_cli_fail(const struct box_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int box_cli_fail_err(const struct box_cli *cli, const struct box_err *err);
void box_cli_warn(const char *msg);
void box_cli_set_log(const struct box_cli *cli);
/* Usage errors: message plus a pointer to --help; exit code 1. */
int box_cli_usage(const struct box_cli *cli, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int box_cmd_create(struct box_cli *cli, int argc, char **argv);
int box_cmd_start(struct box_cli *cli, int argc, char **argv);
int box_cmd_state(struct box_cli *cli, int argc, char **argv);
int box_cmd_kill(struct box_cli *cli, int argc, char **argv);
int box_cmd_delete(struct box_cli *cli, int argc, char **argv);
int box_cmd_run(struct box_cli *cli, int argc, char **argv);
int box_cmd_exec(struct box_cli *cli, int argc, char **argv);
int box_cmd_pause(struct box_cli *cli, int argc, char **argv);
int box_cmd_resume(struct box_cli *cli, int argc, char **argv);
int box_cmd_ps(struct box_cli *cli, int argc, char **argv);
int box_cmd_events(struct box_cli *cli, int argc, char **argv);
int box_cmd_update(struct box_cli *cli, int argc, char **argv);
int box_cmd_list(struct box_cli *cli, int argc, char **argv);
int box_cmd_spec(struct box_cli *cli, int argc, char **argv);
int box_cmd_features(struct box_cli *cli, int argc, char **argv);
/* `box cdi list|validate|inject|generate` (cmd_cdi.c); generate lives in
 * cmd_cdi_generate.c. */
int box_cmd_cdi(struct box_cli *cli, int argc, char **argv);
int box_cmd_cdi_generate(struct box_cli *cli, int argc, char **argv);
int box_cmd_hook(struct box_cli *cli, int argc, char **argv);

/* Parses create/run options shared by both verbs. */
struct box_create_opts;
int box_cli_parse_create(struct box_cli *cli, const char *cmd, int argc, char **argv,
                         struct box_create_opts *o, bool *detach);
/* Appends value to a repeatable option's list of at most max entries;
 * -1 after printing a usage error. */
int box_cli_add_repeated(struct box_cli *cli, const char *cmd, const char *opt, const char **list,
                         size_t *n, size_t max, const char *value);

#endif
