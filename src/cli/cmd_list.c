#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/runtime/container.h"

int box_cmd_list(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    bool json = false, quiet = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
                return box_cli_usage(cli, "list", "--format: `%s` is not table or json", optarg);
            json = strcmp(optarg, "json") == 0;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs("usage: box list [--format table|json] [--quiet]\n", stdout);
            return 0;
        default:
            return box_cli_usage(cli, "list", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return box_cli_usage(cli, "list", "takes no arguments");
    struct box_err err = {0};
    json_t *list = NULL;
    if (box_container_list(cli->root, &list, &err) < 0)
        return box_cli_fail_err(cli, &err);
    size_t i;
    json_t *st;
    if (json) {
        char *s = json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
    } else if (quiet) {
        json_array_foreach(list, i, st) puts(json_string_value(json_object_get(st, "id")));
    } else {
        printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
               "OWNER");
        json_array_foreach(list, i, st)
        {
            printf("%-12s %-8lld %-10s %-40s %-30s %s\n",
                   json_string_value(json_object_get(st, "id")),
                   (long long)json_integer_value(json_object_get(st, "pid")),
                   json_string_value(json_object_get(st, "status")),
                   json_string_value(json_object_get(st, "bundle")),
                   json_string_value(json_object_get(st, "created")),
                   json_string_value(json_object_get(st, "owner")));
        }
    }
    json_decref(list);
    return 0;
}
