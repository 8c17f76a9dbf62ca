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
    "      --cpu-shares N, --cpu-quota N, --cpu-period N\n"
    "      --cpuset-cpus LIST, --cpuset-mems LIST\n"
    "      --pids-limit N\n";

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
    static const struct option opts[] = {
        {"resources", required_argument, 0, 'r'},
        {"memory", required_argument, 0, 'm'},
        {"memory-reservation", required_argument, 0, 'R'},
        {"memory-swap", required_argument, 0, 's'},
        {"cpu-shares", required_argument, 0, 'c'},
        {"cpu-quota", required_argument, 0, 'q'},
        {"cpu-period", required_argument, 0, 'p'},
        {"cpuset-cpus", required_argument, 0, 'C'},
        {"cpuset-mems", required_argument, 0, 'M'},
        {"pids-limit", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    json_t *res = NULL, *flags = json_object();
    int c, r = 0;
    opterr = 0;
    while (r == 0 && (c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        const char *name = c == '?' ? NULL : opts[0].name;
        for (const struct option *o = opts; o->name; o++)
            if (o->val == c)
                name = o->name;
        switch (c) {
        case 'r':
            json_decref(res);
            res = read_resources(cli, optarg);
            r = res ? 0 : 1;
            break;
        case 'm':
            r = set_number(cli, flags, "memory", "limit", name, optarg);
            break;
        case 'R':
            r = set_number(cli, flags, "memory", "reservation", name, optarg);
            break;
        case 's':
            r = set_number(cli, flags, "memory", "swap", name, optarg);
            break;
        case 'c':
            r = set_number(cli, flags, "cpu", "shares", name, optarg);
            break;
        case 'q':
            r = set_number(cli, flags, "cpu", "quota", name, optarg);
            break;
        case 'p':
            r = set_number(cli, flags, "cpu", "period", name, optarg);
            break;
        case 'C':
        case 'M': {
            json_t *cpu = json_object_get(flags, "cpu");
            if (!cpu)
                json_object_set_new(flags, "cpu", cpu = json_object());
            json_object_set_new(cpu, c == 'C' ? "cpus" : "mems", json_string(optarg));
            break;
        }
        case 'P':
            r = set_number(cli, flags, "pids", "limit", name, optarg);
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
