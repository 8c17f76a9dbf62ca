/* cdi generate: discover the NVIDIA driver and GPUs and write their CDI spec. */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/base/fs.h"
#include "lib/cdi/generate.h"
#include "lib/cdi/yaml_emit.h"

static const char generate_usage[] =
    "usage: box cdi generate [options]\n"
    "\n"
    "Writes the CDI spec (kind nvidia.com/gpu) of this host's NVIDIA GPUs.\n"
    "\n"
    "  --driver-root DIR           root of the driver's files (default /)\n"
    "  --dev-root DIR              root holding dev/nvidia* (default: the driver root)\n"
    "  --proc-root DIR             root holding proc/driver/nvidia (default /)\n"
    "  --format yaml|json          output format (default: json for a FILE ending in\n"
    "                              .json, else yaml)\n"
    "  -o, --output FILE           write FILE atomically instead of stdout\n"
    "  --device-name-strategy LIST index, uuid or index,uuid (default index,uuid);\n"
    "                              `all` is always there\n"
    "  --hook-path PATH            box as the hooks name it (default: this program)\n";

static int parse_strategy(struct box_cli *cli, const char *s, struct box_gen_opts *o)
{
    o->by_index = o->by_uuid = false;
    _cleanup_free_ char *copy = strdup(s);
    if (!copy)
        return box_cli_fail(cli, "out of memory");
    char *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (strcmp(w, "index") == 0)
            o->by_index = true;
        else if (strcmp(w, "uuid") == 0)
            o->by_uuid = true;
        else
            return box_cli_usage(cli, "cdi generate",
                                 "--device-name-strategy: `%s` is not index or uuid", w);
    }
    if (!o->by_index && !o->by_uuid)
        return box_cli_usage(cli, "cdi generate", "--device-name-strategy: empty");
    return 0;
}

static int render(struct box_cli *cli, json_t *spec, bool yaml, char **text, size_t *len)
{
    struct box_err err = {0};
    if (yaml) {
        if (box_yaml_emit(spec, text, len, &err) < 0)
            return box_cli_fail_err(cli, &err);
        return 0;
    }
    char *s = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t n = s ? strlen(s) : 0;
    char *t = s ? realloc(s, n + 2) : NULL;
    if (!t) {
        free(s);
        return box_cli_fail(cli, "out of memory");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    *text = t;
    *len = n + 1;
    return 0;
}

static int write_output(struct box_cli *cli, const char *file, const char *text, size_t len)
{
    if (!file) {
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
            return box_cli_fail(cli, "cdi generate: write to stdout failed");
        return 0;
    }
    char a[PATH_MAX], b[PATH_MAX];
    if (snprintf(a, sizeof(a), "%s", file) >= (int)sizeof(a))
        return box_cli_fail(cli, "cdi generate: --output: path too long");
    snprintf(b, sizeof(b), "%s", file);
    const char *dir = dirname(a), *name = basename(b);
    if (!*name || strcmp(name, "/") == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return box_cli_fail(cli, "cdi generate: --output `%s`: not a file name", file);
    _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return box_cli_fail(cli, "cdi generate: --output `%s`: %s", file, strerror(errno));
    struct box_err err = {0};
    if (box_write_file_atomic(dfd, name, text, len, 0644, &err) < 0) {
        box_err_prefix(&err, "cdi generate: --output `%s`", file);
        return box_cli_fail_err(cli, &err);
    }
    return 0;
}

int box_cmd_cdi_generate(struct box_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"driver-root", required_argument, 0, 'D'},
        {"dev-root", required_argument, 0, 'V'},
        {"proc-root", required_argument, 0, 'P'},
        {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, 'o'},
        {"device-name-strategy", required_argument, 0, 's'},
        {"hook-path", required_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct box_gen_opts o = {.by_index = true, .by_uuid = true};
    const char *format = NULL, *output = NULL;
    char self[PATH_MAX];
    int c, r;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            o.driver_root = optarg;
            break;
        case 'V':
            o.dev_root = optarg;
            break;
        case 'P':
            o.proc_root = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "yaml") != 0 && strcmp(optarg, "json") != 0)
                return box_cli_usage(cli, "cdi generate", "--format: `%s` is not yaml or json",
                                     optarg);
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 's':
            if ((r = parse_strategy(cli, optarg, &o)) != 0)
                return r;
            break;
        case 'k':
            o.hook_path = optarg;
            break;
        case 'h':
            fputs(generate_usage, stdout);
            return 0;
        default:
            return box_cli_usage(cli, "cdi generate", "unknown option `%s`", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return box_cli_usage(cli, "cdi generate", "takes no arguments");
    if (!o.hook_path) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
            return box_cli_fail(cli, "cdi generate: find own executable: %s", strerror(errno));
        self[n] = '\0';
        o.hook_path = self;
    }
    size_t olen = output ? strlen(output) : 0;
    bool yaml = format ? strcmp(format, "yaml") == 0
                       : !(olen > 5 && strcmp(output + olen - 5, ".json") == 0);
    struct box_err err = {0};
    static struct box_gen_host host;
    if (box_gen_discover(&o, &host, &err) < 0) {
        box_err_prefix(&err, "cdi generate");
        return box_cli_fail_err(cli, &err);
    }
    json_t *spec = NULL;
    r = box_gen_spec(&host, &o, &spec, &err);
    box_gen_host_free(&host);
    if (r < 0) {
        box_err_prefix(&err, "cdi generate");
        return box_cli_fail_err(cli, &err);
    }
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    r = render(cli, spec, yaml, &text, &len);
    json_decref(spec);
    return r ? r : write_output(cli, output, text, len);
}
