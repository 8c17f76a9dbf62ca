/* `box cdi`: the CDI spec directories seen from the command line. list
 * prints the devices they define, validate checks spec files, inject is
 * the pure config.json transform that create and run apply (stdin to
 * stdout; no root needed), generate writes an NVIDIA spec. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/base/fs.h"
#include "lib/cdi/cdi.h"

static const char cdi_usage[] =
    "usage: box cdi COMMAND [options]\n"
    "  list [--cdi-spec-dir DIR]... [--format table|json]\n"
    "                            the devices the spec directories define\n"
    "  validate [--format json|yaml] FILE...\n"
    "                            check spec files (`-`: stdin, with --format)\n"
    "  inject [--device NAME]... [--cdi-spec-dir DIR]...\n"
    "                            read config.json on stdin, write it with the CDI edits of\n"
    "                            the devices requested (--device, cdi.k8s.io/ annotations,\n"
    "                            NVIDIA_VISIBLE_DEVICES) on stdout\n"
    "  generate [options]        write a CDI spec for this host's NVIDIA GPUs\n"
    "spec directories: /etc/cdi then /var/run/cdi, or each --cdi-spec-dir in order\n";

struct cdi_opts {
    const char *devices[BOX_CDI_MAX_REQUESTS];
    size_t n_devices;
    const char *dirs[BOX_CDI_MAX_DIRS];
    size_t n_dirs;
    const char *format;
};

static int parse_opts(struct box_cli *cli, const char *cmd, int argc, char **argv,
                      struct cdi_opts *o, const char *allowed)
{
    static const struct option opts[] = {
        {"device", required_argument, 0, 'D'},
        {"cdi-spec-dir", required_argument, 0, 'S'},
        {"format", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c != 'h' && c != '?' && !strchr(allowed, c))
            return -box_cli_usage(cli, cmd, "unknown option `%s`", argv[optind - 1]);
        switch (c) {
        case 'D':
            if (box_cli_add_repeated(cli, cmd, "--device", o->devices, &o->n_devices,
                                     BOX_CDI_MAX_REQUESTS, optarg) < 0)
                return -1;
            break;
        case 'S':
            if (box_cli_add_repeated(cli, cmd, "--cdi-spec-dir", o->dirs, &o->n_dirs,
                                     BOX_CDI_MAX_DIRS, optarg) < 0)
                return -1;
            break;
        case 'f':
            o->format = optarg;
            break;
        case 'h':
            fputs(cdi_usage, stdout);
            return 1;
        default:
            return -box_cli_usage(cli, cmd, "unknown option `%s`", argv[optind - 1]);
        }
    }
    return 0;
}

static void warn_refused(const struct box_cdi_registry *reg)
{
    for (size_t i = 0; i < reg->n_errors; i++) {
        char msg[BOX_ERR_MSG_MAX + 32];
        snprintf(msg, sizeof(msg), "CDI spec refused: %s", reg->errors[i].msg);
        box_cli_warn(msg);
    }
}

static int cdi_list(struct box_cli *cli, int argc, char **argv)
{
    struct cdi_opts o = {0};
    int r = parse_opts(cli, "cdi list", argc, argv, &o, "Sf");
    if (r != 0)
        return r > 0 ? 0 : 1;
    bool json = o.format && strcmp(o.format, "json") == 0;
    if (o.format && !json && strcmp(o.format, "table") != 0)
        return box_cli_usage(cli, "cdi list", "--format: `%s` is not table or json", o.format);
    if (optind != argc)
        return box_cli_usage(cli, "cdi list", "takes no arguments");
    struct box_cdi_registry reg;
    struct box_err err = {0};
    if (box_cdi_registry_load(&reg, o.n_dirs ? o.dirs : NULL, o.n_dirs, &err) < 0)
        return box_cli_fail_err(cli, &err);
    warn_refused(&reg);
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < reg.n_entries; i++) {
        const struct box_cdi_entry *e = &reg.entries[i];
        if (json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:b}", "name", e->qualified, "spec",
                                                 e->spec->path, "conflict", e->other != NULL));
        else if (e->other)
            printf("%s\t%s\tconflict with %s\n", e->qualified, e->spec->path, e->other->path);
        else
            printf("%s\t%s\n", e->qualified, e->spec->path);
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        if (s)
            puts(s);
        free(s);
        json_decref(arr);
    }
    box_cdi_registry_free(&reg);
    return 0;
}

static int validate_one(struct box_cli *cli, const char *file, const char *format)
{
    struct box_cdi_spec spec;
    struct box_err err = {0};
    int r;
    if (strcmp(file, "-") == 0) {
        enum box_cdi_format fmt = BOX_CDI_FORMAT_JSON;
        if (!format || (strcmp(format, "json") && strcmp(format, "yaml")))
            return box_cli_usage(cli, "cdi validate", "stdin needs --format json or yaml");
        if (strcmp(format, "yaml") == 0)
            fmt = BOX_CDI_FORMAT_YAML;
        char *text = NULL;
        size_t len = 0;
        r = box_read_fd(STDIN_FILENO, BOX_CDI_MAX_FILE_BYTES, &text, &len);
        if (r < 0) {
            box_err_sys(&err, -r, "`<stdin>`");
            return box_cli_fail_err(cli, &err);
        }
        r = box_cdi_spec_parse(text, len, fmt, "<stdin>", &spec, &err);
        free(text);
    } else {
        r = box_cdi_spec_load(AT_FDCWD, file, file, &spec, &err);
    }
    if (r < 0)
        return box_cli_fail_err(cli, &err);
    printf("%s: ok: cdiVersion %s, kind %s, %zu device%s\n", spec.path, spec.version, spec.kind,
           spec.n_devices, spec.n_devices == 1 ? "" : "s");
    box_cdi_spec_free(&spec);
    return 0;
}

static int cdi_validate(struct box_cli *cli, int argc, char **argv)
{
    struct cdi_opts o = {0};
    int r = parse_opts(cli, "cdi validate", argc, argv, &o, "f");
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (optind >= argc)
        return box_cli_usage(cli, "cdi validate", "expects at least one spec file");
    int status = 0;
    for (int i = optind; i < argc; i++)
        status |= validate_one(cli, argv[i], o.format);
    return status;
}

static int cdi_inject(struct box_cli *cli, int argc, char **argv)
{
    struct cdi_opts o = {0};
    int r = parse_opts(cli, "cdi inject", argc, argv, &o, "DS");
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (optind != argc)
        return box_cli_usage(cli, "cdi inject", "takes no arguments (config.json on stdin)");
    _cleanup_free_ char *text = NULL, *out = NULL;
    size_t len = 0, out_len = 0;
    struct box_err err = {0};
    r = box_read_fd(STDIN_FILENO, 8u << 20, &text, &len);
    if (r < 0) {
        box_err_sys(&err, -r, "config.json on stdin");
        return box_cli_fail_err(cli, &err);
    }
    struct box_cdi_inject_opts io = {
        .devices = o.devices,
        .n_devices = o.n_devices,
        .dirs = o.n_dirs ? o.dirs : NULL,
        .n_dirs = o.n_dirs,
    };
    r = box_cdi_inject_text(text, len, &io, &out, &out_len, &err);
    if (r < 0)
        return box_cli_fail_err(cli, &err);
    if (r == 0)
        return box_write_all(STDOUT_FILENO, text, len) < 0;
    return box_write_all(STDOUT_FILENO, out, out_len) < 0 || box_write_all(STDOUT_FILENO, "\n", 1);
}

/* Until the NVIDIA discovery is linked in, `generate` says so. */
__attribute__((weak)) int box_cmd_cdi_generate(struct box_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return box_cli_fail(cli, "cdi generate: not built in");
}

int box_cmd_cdi(struct box_cli *cli, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(struct box_cli *, int, char **);
    } subs[] = {
        {"list", cdi_list},
        {"validate", cdi_validate},
        {"inject", cdi_inject},
        {"generate", box_cmd_cdi_generate},
    };
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(cdi_usage, argc < 2 ? stderr : stdout);
        return argc < 2;
    }
    for (size_t i = 0; i < BOX_ARRAY_SIZE(subs); i++) {
        if (strcmp(argv[1], subs[i].name) == 0) {
            optind = 0;
            return subs[i].fn(cli, argc - 1, argv + 1);
        }
    }
    return box_cli_usage(cli, "cdi", "unknown command `%s`", argv[1]);
}
