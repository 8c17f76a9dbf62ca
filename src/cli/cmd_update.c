/* update: new resource limits for a running container, from a LinuxResources
 * JSON file (or stdin) and/or runc's flags. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/runtime/container.h"

static const char update_usage[] =
    "usage: box update [options] ID\n"
    "  -r, --resources FILE|-  a LinuxResources JSON object (- for stdin)\n"
    "      --memory N, --memory-reservation N, --memory-swap N   bytes\n"
    "      --kernel-memory N, --kernel-memory-tcp N              bytes (deprecated)\n"
    "      --cpu-shares N, --cpu-quota N, --cpu-period N\n"
    "      --cpu-rt-runtime N, --cpu-rt-period N                 microseconds\n"
    "      --cpuset-cpus LIST, --cpuset-mems LIST\n"
    "      --blkio-weight N        10 to 1000\n"
    "      --pids-limit N\n";

/* runc's numeric flags and where each goes in LinuxResources. */
static const struct {
    const char *flag, *section, *key;
} number_flags[] = {
    {"memory", "memory", "limit"},
    {"memory-reservation", "memory", "reservation"},
    {"memory-swap", "memory", "swap"},
    {"kernel-memory", "memory", "kernel"},
    {"kernel-memory-tcp", "memory", "kernelTCP"},
    {"cpu-shares", "cpu", "shares"},
    {"cpu-quota", "cpu", "quota"},
    {"cpu-period", "cpu", "period"},
    {"cpu-rt-runtime", "cpu", "realtimeRuntime"},
    {"cpu-rt-period", "cpu", "realtimePeriod"},
    {"blkio-weight", "blockIO", "weight"},
    {"pids-limit", "pids", "limit"},
};
#define N_NUMBER_FLAGS (sizeof(number_flags) / sizeof(number_flags[0]))

/* Sets res[section][key] to a number parsed from the flag's argument. */
static int set_number(struct box_cli *cli, json_t *res, const char *section, const char *key,
                      const char *flag, const char *arg)
{
    int64_t v;
    if (box_parse_i64(arg, -1, INT64_MAX, &v) < 0)
        return box_cli_usage(cli, "update", "--%s: `%s` is not a number", flag, arg);
    json_t *sec = json_object_get(res, section);
    if (!sec)
        json_object_set_new(res, section, sec = json_object());
    json_object_set_new(sec, key, json_integer(v));
    return 0;
}

static json_t *read_resources(struct box_cli *cli, const char *path)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    struct box_err err = {0};
    int r = strcmp(path, "-") == 0 ? box_read_fd(0, 1u << 20, &text, &len)
                                   : box_read_file(AT_FDCWD, path, 1u << 20, &text, &len, &err);
    if (r < 0) {
        box_cli_fail(cli, "update --resources `%s`: %s", path, err.msg[0] ? err.msg : strerror(-r));
        return NULL;
    }
    json_error_t jerr;
    json_t *res = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!res)
        box_cli_fail(cli, "update --resources `%s`: line %d: %s", path, jerr.line, jerr.text);
    return res;
}

int box_cmd_update(struct box_cli *cli, int argc, char **argv)
{
    /* val: 0..N_NUMBER_FLAGS-1 for the numbers, then the others. */
    enum {
        CPUS = 256,
        MEMS,
        RDT
    };
    struct option opts[N_NUMBER_FLAGS + 8];
    size_t n = 0;
    for (; n < N_NUMBER_FLAGS; n++)
        opts[n] = (struct option){number_flags[n].flag, required_argument, 0, (int)n};
    opts[n++] = (struct option){"resources", required_argument, 0, 'r'};
    opts[n++] = (struct option){"cpuset-cpus", required_argument, 0, CPUS};
    opts[n++] = (struct option){"cpuset-mems", required_argument, 0, MEMS};
    opts[n++] = (struct option){"l3-cache-schema", required_argument, 0, RDT};
    opts[n++] = (struct option){"mem-bw-schema", required_argument, 0, RDT};
    opts[n++] = (struct option){"help", no_argument, 0, 'h'};
    opts[n] = (struct option){0, 0, 0, 0};
    json_t *res = NULL, *flags = json_object();
    int c, r = 0;
    opterr = 0;
    while (r == 0 && (c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        if (c >= 0 && c < (int)N_NUMBER_FLAGS) {
            r = set_number(cli, flags, number_flags[c].section, number_flags[c].key,
                           number_flags[c].flag, optarg);
            continue;
        }
        switch (c) {
        case 'r':
            json_decref(res);
            res = read_resources(cli, optarg);
            r = res ? 0 : 1;
            break;
        case CPUS:
        case MEMS: {
            json_t *cpu = json_object_get(flags, "cpu");
            if (!cpu)
                json_object_set_new(flags, "cpu", cpu = json_object());
            json_object_set_new(cpu, c == CPUS ? "cpus" : "mems", json_string(optarg));
            break;
        }
        case RDT:
            r = box_cli_fail(cli, "update: %s: box does not manage Intel RDT (resctrl) groups",
                             argv[optind - 1]);
            break;
        case 'h':
            fputs(update_usage, stdout);
            goto out;
        default:
            r = box_cli_usage(cli, "update", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (r != 0)
        goto out;
    if (argc - optind != 1) {
        r = box_cli_usage(cli, "update", "expects exactly one container id");
        goto out;
    }
    if (!res)
        res = json_object();
    /* Flags win over the file, field by field. */
    const char *k;
    json_t *v;
    json_object_foreach(flags, k, v)
    {
        json_t *sec = json_object_get(res, k);
        if (json_is_object(sec))
            json_object_update(sec, v);
        else
            json_object_set(res, k, v);
    }
    struct box_err err = {0};
    if (box_container_update(cli->root, argv[optind], res, &err) < 0)
        r = box_cli_fail_err(cli, &err);
out:
    json_decref(res);
    json_decref(flags);
    return r;
}
