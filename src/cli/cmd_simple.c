/* start, state, kill, delete: one id, a few flags each. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/base/parse.h"
#include "lib/runtime/container.h"

/* Parses only --help and the flags in `extra`; leaves the id at argv[optind]. */
static int parse_id(struct box_cli *cli, const char *cmd, int argc, char **argv, const char *usage,
                    int min_args, int max_args)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return 1;
        }
        return -box_cli_usage(cli, cmd, "unknown option `%s`", argv[optind - 1]);
    }
    int n = argc - optind;
    if (n < min_args || n > max_args)
        return -box_cli_usage(cli, cmd, "expects %s",
                              min_args == max_args ? "exactly one container id"
                                                   : "an id and a signal");
    return 0;
}

int box_cmd_start(struct box_cli *cli, int argc, char **argv)
{
    int r = parse_id(cli, "start", argc, argv, "usage: box start ID\n", 1, 1);
    if (r != 0)
        return r > 0 ? 0 : -r;
    struct box_err err = {0};
    if (box_container_start(cli->root, argv[optind], box_cli_warn, &err) < 0)
        return box_cli_fail_err(cli, &err);
    return 0;
}

int box_cmd_state(struct box_cli *cli, int argc, char **argv)
{
    int r = parse_id(cli, "state", argc, argv, "usage: box state ID\n", 1, 1);
    if (r != 0)
        return r > 0 ? 0 : -r;
    struct box_err err = {0};
    json_t *st = NULL;
    if (box_container_state(cli->root, argv[optind], &st, &err) < 0)
        return box_cli_fail_err(cli, &err);
    char *s = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(st);
    return 0;
}

int box_cmd_kill(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, 0, 'a'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool all = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+ah", opts, NULL)) != -1) {
        if (c == 'a') {
            all = true;
        } else if (c == 'h') {
            fputs("usage: box kill [--all] ID [SIGNAL]   (default TERM)\n", stdout);
            return 0;
        } else {
            return box_cli_usage(cli, "kill", "unknown option `%s`", argv[optind - 1]);
        }
    }
    int n = argc - optind;
    if (n < 1 || n > 2)
        return box_cli_usage(cli, "kill", "expects an id and an optional signal");
    int sig = 15;
    if (n == 2 && box_parse_signal(argv[optind + 1], &sig) < 0)
        return box_cli_fail(cli, "kill: invalid signal `%s`", argv[optind + 1]);
    struct box_err err = {0};
    if (box_container_kill(cli->root, argv[optind], sig, all, &err) < 0)
        return box_cli_fail_err(cli, &err);
    return 0;
}

int box_cmd_delete(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool force = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        if (c == 'f') {
            force = true;
        } else if (c == 'h') {
            fputs("usage: box delete [--force] ID\n", stdout);
            return 0;
        } else {
            return box_cli_usage(cli, "delete", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return box_cli_usage(cli, "delete", "expects exactly one container id");
    struct box_err err = {0};
    if (box_container_delete(cli->root, argv[optind], force, box_cli_warn, &err) < 0)
        return box_cli_fail_err(cli, &err);
    return 0;
}

static int pause_or_resume(struct box_cli *cli, int argc, char **argv, bool pause)
{
    const char *cmd = pause ? "pause" : "resume";
    char usage[64];
    snprintf(usage, sizeof(usage), "usage: box %s ID\n", cmd);
    int r = parse_id(cli, cmd, argc, argv, usage, 1, 1);
    if (r != 0)
        return r > 0 ? 0 : -r;
    struct box_err err = {0};
    if (box_container_pause(cli->root, argv[optind], pause, &err) < 0)
        return box_cli_fail_err(cli, &err);
    return 0;
}

int box_cmd_pause(struct box_cli *cli, int argc, char **argv)
{
    return pause_or_resume(cli, argc, argv, true);
}

int box_cmd_resume(struct box_cli *cli, int argc, char **argv)
{
    return pause_or_resume(cli, argc, argv, false);
}

/* ps: the container's processes; JSON is an array of pids (runc's shape). */
int box_cmd_ps(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool json = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
        if (c == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0)) {
            json = strcmp(optarg, "json") == 0;
        } else if (c == 'h') {
            fputs("usage: box ps [--format table|json] ID\n", stdout);
            return 0;
        } else {
            return box_cli_usage(cli, "ps", "bad option `%s`", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return box_cli_usage(cli, "ps", "expects exactly one container id");
    struct box_err err = {0};
    pid_t *pids = NULL;
    size_t n = 0;
    if (box_container_ps(cli->root, argv[optind], &pids, &n, &err) < 0)
        return box_cli_fail_err(cli, &err);
    if (json) {
        putchar('[');
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", (int)pids[i]);
        puts("]");
    } else {
        printf("%-8s %s\n", "PID", "CMD");
        for (size_t i = 0; i < n; i++) {
            char path[64], cmd[256] = "";
            snprintf(path, sizeof(path), "/proc/%d/comm", (int)pids[i]);
            FILE *f = fopen(path, "re");
            if (f) {
                if (fgets(cmd, sizeof(cmd), f))
                    cmd[strcspn(cmd, "\n")] = '\0';
                fclose(f);
            }
            printf("%-8d %s\n", (int)pids[i], cmd);
        }
    }
    free(pids);
    return 0;
}
