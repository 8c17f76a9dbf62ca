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
