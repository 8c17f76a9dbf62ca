/* events: resource usage and OOM kills of a container, one JSON object per
 * line, as `runc events` prints them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/base/parse.h"
#include "lib/runtime/container.h"

static const char events_usage[] =
    "usage: box events [--stats] [--interval DURATION] ID\n"
    "  --stats              print the resource usage once and exit\n"
    "  --interval DURATION  how often to print it (default 5s; 500ms, 2s, 1m)\n";

/* A Go-style duration: a number with ms, s or m (a bare number is seconds). */
static int parse_interval(const char *s, unsigned *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"", 1000}};
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 9)
        return -1;
    char num[16];
    memcpy(num, s, digits);
    num[digits] = '\0';
    uint64_t v;
    if (box_parse_u64(num, 1000000000, &v) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(s + digits, units[i].unit) == 0) {
            uint64_t total = v * units[i].ms;
            if (total == 0 || total > 86400000)
                return -1;
            *ms = (unsigned)total;
            return 0;
        }
    return -1;
}

static int print_event(json_t *ev, void *ctx)
{
    (void)ctx;
    char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        return -ENOMEM;
    int r = puts(s) < 0 || fflush(stdout) != 0 ? -EPIPE : 0;
    free(s);
    return r;
}

int box_cmd_events(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"stats", no_argument, 0, 's'},
                                         {"interval", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct box_events_opts o = {.root = cli->root, .interval_ms = 5000, .emit = print_event};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o.stats_only = true;
            break;
        case 'i':
            if (parse_interval(optarg, &o.interval_ms) < 0)
                return box_cli_usage(cli, "events",
                                     "--interval: `%s` is not a duration like 500ms, 5s or 1m",
                                     optarg);
            break;
        case 'h':
            fputs(events_usage, stdout);
            return 0;
        default:
            return box_cli_usage(cli, "events", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return box_cli_usage(cli, "events", "expects exactly one container id");
    o.id = argv[optind];
    struct box_err err = {0};
    if (box_container_events(&o, &err) < 0)
        return box_cli_fail_err(cli, &err);
    return 0;
}
