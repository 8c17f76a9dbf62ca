/* box-bundle: GPU runtime bundle tarballs (create, verify, stage, fetch,
 * inspect). `box bundle ARGS...` hands over to this program as
 * `box-bundle bundle ARGS...`; it also runs on its own.
 *
 * Exit status: 0 success, 1 bundle rejected (validation), 2 usage,
 * 3 any other failure (I/O, network, environment). */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <jansson.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/base/err.h"
#include "lib/base/parse.h"
#include "lib/image/bundle.h"
#include "lib/image/bundle_create.h"
#include "lib/image/fetch.h"
#include "lib/image/util.h"

#ifndef BOX_VERSION
#define BOX_VERSION "0.0.0"
#endif

enum {
    EXIT_REJECTED = 1,
    EXIT_USAGE = 2,
    EXIT_ERROR = 3
};

#define MAX_TARBALLS 8

static const char usage_text[] =
    "Usage: box bundle COMMAND [OPTIONS]\n"
    "\n"
    "GPU runtime bundles: per-architecture tarballs with a manifest.json.\n"
    "\n"
    "Commands:\n"
    "  create  --from ROOT --arch A --name N --version V -o OUT.tar.gz\n"
    "          [--component NAME=VERSION@COMMIT]... [--profile P] [--level 1-12]\n"
    "  verify  TARBALL [--arch A] [--profile P] [--json]\n"
    "  stage   TARBALL --dest DIR [--arch A] [--profile P] [--sync] [--json]\n"
    "  stage   --tarball ARCH=PATH... --dest DIR [--profile P] [--sync] [--json]\n"
    "  fetch   URL --arch A --cache DIR [--sha256 HEX] [--profile P] [--retries N] [--json]\n"
    "  inspect TARBALL [--json]\n"
    "\n"
    "Options:\n"
    "  --arch A          amd64 or arm64 (default: the host's)\n"
    "  --profile P       required payload: nvidia (default), none, or a JSON file\n"
    "  --max-entries N   most tar entries (default 200000)\n"
    "  --max-size BYTES  most uncompressed bytes (default 64 GiB)\n"
    "  --max-ratio N     highest compression ratio past 64 MiB (default 200)\n"
    "  --zlib            decompress with zlib only (no whole-member fast path)\n"
    "  -h, --help        this text;  --version  the version\n"
    "\n"
    "Exit status: 0 ok, 1 bundle rejected, 2 usage error, 3 other failure.\n"
    "create honours SOURCE_DATE_EPOCH for mtimes and created_at.\n";

struct args {
    const char *cmd;
    const char *positional[2];
    size_t npositional;
    const char *arch, *profile, *dest, *cache, *sha256, *from, *name, *version, *output;
    const char *tarballs[MAX_TARBALLS];
    size_t ntarballs;
    struct box_component components[64];
    size_t ncomponents;
    bool json, sync, zlib;
    uint64_t max_entries, max_size, max_ratio, retries, level;
};

enum {
    OPT_ARCH = 0x100,
    OPT_PROFILE,
    OPT_DEST,
    OPT_CACHE,
    OPT_SHA256,
    OPT_TARBALL,
    OPT_FROM,
    OPT_NAME,
    OPT_VERSION_ARG,
    OPT_COMPONENT,
    OPT_JSON,
    OPT_SYNC,
    OPT_ZLIB,
    OPT_MAX_ENTRIES,
    OPT_MAX_SIZE,
    OPT_MAX_RATIO,
    OPT_RETRIES,
    OPT_LEVEL,
};

static const struct option long_opts[] = {
    {"arch", required_argument, NULL, OPT_ARCH},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"dest", required_argument, NULL, OPT_DEST},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"sha256", required_argument, NULL, OPT_SHA256},
    {"tarball", required_argument, NULL, OPT_TARBALL},
    {"from", required_argument, NULL, OPT_FROM},
    {"name", required_argument, NULL, OPT_NAME},
    {"version", required_argument, NULL, OPT_VERSION_ARG},
    {"component", required_argument, NULL, OPT_COMPONENT},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, OPT_JSON},
    {"sync", no_argument, NULL, OPT_SYNC},
    {"zlib", no_argument, NULL, OPT_ZLIB},
    {"max-entries", required_argument, NULL, OPT_MAX_ENTRIES},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"level", required_argument, NULL, OPT_LEVEL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("box-bundle: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'box bundle --help'.\n", stderr);
    return -1;
}

static int parse_number(const char *opt, const char *s, uint64_t *out)
{
    if (box_parse_u64(s, UINT64_MAX, out) < 0)
        return usage_error("%s: `%s` is not a non-negative integer", opt, s);
    return 0;
}

/* NAME=VERSION@COMMIT; the commit follows the last '@'. */
static int parse_component(struct args *a, char *s)
{
    char *eq = strchr(s, '='), *at = strrchr(s, '@');
    if (a->ncomponents >= BOX_ARRAY_SIZE(a->components))
        return usage_error("too many --component options");
    if (!eq || !at || at < eq || eq == s || at == eq + 1 || !at[1])
        return usage_error("--component `%s`: expected NAME=VERSION@COMMIT", s);
    *eq = '\0';
    *at = '\0';
    a->components[a->ncomponents++] =
        (struct box_component){.name = s, .version = eq + 1, .commit = at + 1};
    return 0;
}

static int take_option(struct args *a, int c, char *arg)
{
    switch (c) {
    case OPT_ARCH:
        a->arch = arg;
        return 0;
    case OPT_PROFILE:
        a->profile = arg;
        return 0;
    case OPT_DEST:
        a->dest = arg;
        return 0;
    case OPT_CACHE:
        a->cache = arg;
        return 0;
    case OPT_SHA256:
        a->sha256 = arg;
        return 0;
    case OPT_TARBALL:
        if (a->ntarballs >= MAX_TARBALLS)
            return usage_error("at most %d --tarball options", MAX_TARBALLS);
        a->tarballs[a->ntarballs++] = arg;
        return 0;
    case OPT_FROM:
        a->from = arg;
        return 0;
    case OPT_NAME:
        a->name = arg;
        return 0;
    case OPT_VERSION_ARG:
        a->version = arg;
        return 0;
    case OPT_COMPONENT:
        return parse_component(a, arg);
    case 'o':
        a->output = arg;
        return 0;
    case OPT_JSON:
        a->json = true;
        return 0;
    case OPT_SYNC:
        a->sync = true;
        return 0;
    case OPT_ZLIB:
        a->zlib = true;
        return 0;
    case OPT_MAX_ENTRIES:
        return parse_number("--max-entries", arg, &a->max_entries);
    case OPT_MAX_SIZE:
        return parse_number("--max-size", arg, &a->max_size);
    case OPT_MAX_RATIO:
        return parse_number("--max-ratio", arg, &a->max_ratio);
    case OPT_RETRIES:
        return parse_number("--retries", arg, &a->retries);
    case OPT_LEVEL:
        return parse_number("--level", arg, &a->level);
    default:
        return usage_error("unknown option");
    }
}

/* argv[0] is the command; options may come before or after its arguments. */
static int parse_args(int argc, char **argv, struct args *a)
{
    int c;
    a->cmd = argv[0];
    a->retries = 3;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":ho:", long_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 1;
        }
        if (c == '?')
            return usage_error("%s: unknown option `%s`", a->cmd, argv[optind - 1]);
        if (c == ':')
            return usage_error("%s: option `%s` needs a value", a->cmd, argv[optind - 1]);
        if (take_option(a, c, optarg) < 0)
            return -1;
    }
    for (; optind < argc; optind++) {
        if (a->npositional >= BOX_ARRAY_SIZE(a->positional))
            return usage_error("%s: unexpected argument `%s`", a->cmd, argv[optind]);
        a->positional[a->npositional++] = argv[optind];
    }
    return 0;
}

static bool is_rejection(const struct box_err *err)
{
    return err->code == BOX_EDATA;
}

static int fail(const char *cmd, const struct box_err *err)
{
    fflush(stdout);
    if (strncmp(err->msg, BOX_BUNDLE_FAIL, strlen(BOX_BUNDLE_FAIL)) == 0)
        fprintf(stderr, "%s\n", err->msg);
    else
        fprintf(stderr, "box-bundle %s: %s\n", cmd, err->msg);
    return is_rejection(err) ? EXIT_REJECTED : EXIT_ERROR;
}

static const char *target_arch(const struct args *a)
{
    const char *arch = a->arch ? a->arch : box_arch_host();
    if (!arch)
        usage_error("%s: cannot tell the host architecture; pass --arch", a->cmd);
    return arch;
}

static int setup(const struct args *a, bool with_profile, struct box_profile **profile,
                 struct box_bundle_opts *o)
{
    struct box_err err = {0};
    *profile = NULL;
    if (with_profile && box_profile_load(a->profile ? a->profile : "nvidia", profile, &err) < 0) {
        fprintf(stderr, "box-bundle %s: %s\n", a->cmd, err.msg);
        return EXIT_USAGE;
    }
    box_bundle_opts_default(o, *profile);
    if (a->max_entries)
        o->limits.max_entries = a->max_entries;
    if (a->max_size) {
        o->dlimits.max_out = a->max_size;
        o->limits.max_total_size = a->max_size;
        if (o->limits.max_entry_size > a->max_size)
            o->limits.max_entry_size = a->max_size;
    }
    if (a->max_ratio)
        o->dlimits.max_ratio = a->max_ratio;
    o->flags = (a->sync ? BOX_BUNDLE_SYNC : 0) | (a->zlib ? BOX_BUNDLE_NO_FAST : 0);
    return 0;
}

static json_t *manifest_json(const struct box_manifest *m)
{
    json_t *comps = json_object();
    for (size_t i = 0; i < m->ncomponents; i++)
        json_object_set_new(comps, m->components[i].name,
                            json_pack("{s:s, s:s}", "version", m->components[i].version, "commit",
                                      m->components[i].commit));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "name", m->bundle_name, "version",
                     m->bundle_version, "architecture", m->architecture, "created_at",
                     m->created_at, "components", comps, "files", (json_int_t)m->nfiles, "symlinks",
                     (json_int_t)m->nsymlinks, "payload_bytes", (json_int_t)m->payload_bytes);
}

static json_t *report_json(const char *tarball, const char *arch,
                           const struct box_bundle_report *rep, const struct box_err *err)
{
    json_t *o = json_pack("{s:b, s:s}", "ok", err == NULL, "tarball", tarball);
    if (arch)
        json_object_set_new(o, "architecture", json_string(arch));
    if (rep->top_dir[0])
        json_object_set_new(o, "top_dir", json_string(rep->top_dir));
    if (rep->manifest)
        json_object_set_new(o, "manifest", manifest_json(rep->manifest));
    json_object_set_new(
        o, "stream",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "entries",
                  (json_int_t)rep->stats.entries, "directories", (json_int_t)rep->stats.dirs,
                  "files", (json_int_t)rep->stats.files, "symlinks",
                  (json_int_t)rep->stats.symlinks, "hardlinks", (json_int_t)rep->stats.hardlinks,
                  "file_bytes", (json_int_t)rep->stats.file_bytes, "tar_bytes",
                  (json_int_t)rep->tar_bytes, "compressed_bytes",
                  (json_int_t)rep->compressed_bytes));
    if (rep->staged_path[0])
        json_object_set_new(o, "staged_path", json_string(rep->staged_path));
    if (err) {
        json_object_set_new(o, "error", json_string(err->msg));
        json_object_set_new(o, "rejected", json_boolean(is_rejection(err)));
    }
    return o;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

static void print_summary(const char *verb, const char *tarball,
                          const struct box_bundle_report *rep)
{
    const struct box_manifest *m = rep->manifest;
    printf("%s: %s: %s %s (%s), %zu files, %zu symlinks, %llu bytes\n", verb, tarball,
           m->bundle_name, m->bundle_version, m->architecture, m->nfiles, m->nsymlinks,
           (unsigned long long)m->payload_bytes);
}

static int need_positional(const struct args *a, size_t n, const char *what)
{
    if (a->npositional != n)
        return usage_error("%s: expected %s", a->cmd, what);
    return 0;
}

static int cmd_verify(const struct args *a)
{
    struct box_profile *profile;
    struct box_bundle_opts o;
    struct box_bundle_report rep;
    struct box_err err = {0};
    const char *arch = target_arch(a);
    if (need_positional(a, 1, "one TARBALL") < 0 || !arch)
        return EXIT_USAGE;
    int rc = setup(a, true, &profile, &o);
    if (rc)
        return rc;
    int r = box_bundle_verify(a->positional[0], arch, &o, &rep, &err);
    if (a->json)
        print_json(report_json(a->positional[0], arch, &rep, r < 0 ? &err : NULL));
    if (r < 0)
        rc = fail(a->cmd, &err);
    else if (!a->json)
        print_summary("ok", a->positional[0], &rep);
    box_bundle_report_free(&rep);
    box_profile_free(profile);
    return rc;
}

static int stage_items(const struct args *a, struct box_bundle_item *items, size_t *n)
{
    *n = 0;
    if (a->ntarballs && (a->npositional || a->arch))
        return usage_error("stage: use either TARBALL [--arch A] or --tarball ARCH=PATH...");
    if (!a->ntarballs) {
        const char *arch = target_arch(a);
        if (need_positional(a, 1, "one TARBALL or --tarball ARCH=PATH") < 0 || !arch)
            return -1;
        items[0] = (struct box_bundle_item){.arch = arch, .tarball = a->positional[0]};
        *n = 1;
        return 0;
    }
    for (size_t i = 0; i < a->ntarballs; i++) {
        static char archs[MAX_TARBALLS][16];
        const char *eq = strchr(a->tarballs[i], '=');
        size_t len = eq ? (size_t)(eq - a->tarballs[i]) : 0;
        if (!eq || len == 0 || len >= sizeof(archs[i]) || !eq[1])
            return usage_error("--tarball `%s`: expected ARCH=PATH", a->tarballs[i]);
        memcpy(archs[i], a->tarballs[i], len);
        archs[i][len] = '\0';
        for (size_t j = 0; j < i; j++)
            if (strcmp(archs[j], archs[i]) == 0)
                return usage_error("stage: architecture %s given twice", archs[i]);
        items[(*n)++] = (struct box_bundle_item){.arch = archs[i], .tarball = eq + 1};
    }
    return 0;
}

static int cmd_stage(const struct args *a)
{
    struct box_bundle_item items[MAX_TARBALLS];
    struct box_profile *profile;
    struct box_bundle_opts o;
    struct box_err err = {0};
    size_t n, failed;
    if (stage_items(a, items, &n) < 0)
        return EXIT_USAGE;
    if (!a->dest) {
        usage_error("stage: --dest DIR is required");
        return EXIT_USAGE;
    }
    int rc = setup(a, true, &profile, &o);
    if (rc)
        return rc;
    int r = box_bundle_stage(a->dest, items, n, &o, &failed, &err);
    if (a->json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list,
                                  report_json(items[i].tarball, items[i].arch, &items[i].report,
                                              r < 0 && i == failed ? &err : NULL));
        print_json(json_pack("{s:b, s:s, s:o}", "ok", r >= 0, "dest", a->dest, "bundles", list));
    }
    if (r < 0 && n > 1)
        fprintf(stderr, "box-bundle stage: %s tarball `%s` failed; nothing was staged\n",
                items[failed].arch, items[failed].tarball);
    if (r < 0)
        rc = fail(a->cmd, &err);
    for (size_t i = 0; i < n; i++) {
        if (r >= 0 && !a->json)
            printf("Runtime bundle staged at %s\n", items[i].report.staged_path);
        if (r >= 0 && items[i].report.cleanup_error)
            fprintf(stderr,
                    "box-bundle stage: warning: the previous %s tree could not be "
                    "removed; the next stage will retry\n",
                    items[i].arch);
        box_bundle_report_free(&items[i].report);
    }
    box_profile_free(profile);
    return rc;
}

static int cmd_inspect(const struct args *a)
{
    struct box_bundle_opts o;
    struct box_bundle_report rep;
    struct box_profile *none;
    struct box_err err = {0};
    if (need_positional(a, 1, "one TARBALL") < 0)
        return EXIT_USAGE;
    setup(a, false, &none, &o);
    int r = box_bundle_inspect(a->positional[0], &o, &rep, &err);
    if (a->json)
        print_json(report_json(a->positional[0], NULL, &rep, r < 0 ? &err : NULL));
    if (r < 0) {
        box_bundle_report_free(&rep);
        return fail(a->cmd, &err);
    }
    const struct box_manifest *m = rep.manifest;
    if (!a->json) {
        printf("bundle:       %s\nversion:      %s\narchitecture: %s\ncreated_at:   %s\n"
               "directory:    %s\nfiles:        %zu (%llu bytes)\nsymlinks:     %zu\n",
               m->bundle_name, m->bundle_version, m->architecture, m->created_at, rep.top_dir,
               m->nfiles, (unsigned long long)m->payload_bytes, m->nsymlinks);
        for (size_t i = 0; i < m->ncomponents; i++)
            printf("component:    %s %s (%s)\n", m->components[i].name, m->components[i].version,
                   m->components[i].commit);
    }
    box_bundle_report_free(&rep);
    return 0;
}

struct bar {
    struct timespec last;
    uint64_t last_now;
    bool drawn;
};

static void draw_bar(void *ud, uint64_t now, uint64_t total)
{
    struct bar *b = ud;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long ms = (t.tv_sec - b->last.tv_sec) * 1000 + (t.tv_nsec - b->last.tv_nsec) / 1000000;
    /* at most ten frames a second, and the last one when complete */
    if (b->drawn && (now == b->last_now || (ms < 100 && !(total && now == total))))
        return;
    b->last = t;
    b->last_now = now;
    b->drawn = true;
    if (total == 0) {
        fprintf(stderr, "\r%8.1f MiB", (double)now / (1 << 20));
        return;
    }
    int width = 40, fill = (int)(now * (uint64_t)width / total);
    char line[64];
    for (int i = 0; i < width; i++)
        line[i] = i < fill ? '#' : '.';
    line[width] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MiB", line, (int)(now * 100 / total),
            (double)now / (1 << 20), (double)total / (1 << 20));
}

static int fetch_opts(const struct args *a, struct box_fetch_opts *fo, unsigned char *sha,
                      struct bar *bar)
{
    box_fetch_opts_default(fo);
    fo->url = a->positional[0];
    fo->cache = a->cache;
    fo->retries = a->retries > 100 ? 100 : (int)a->retries;
    fo->user_agent = "box-bundle/" BOX_VERSION;
    if (a->sha256) {
        if (!box_is_sha256_hex(a->sha256) || box_hex_decode(a->sha256, sha, BOX_SHA256_LEN) < 0)
            return usage_error("fetch: --sha256 needs 64 lowercase hex digits");
        fo->sha256 = sha;
    }
    if (isatty(STDERR_FILENO) && !a->json) {
        fo->progress = draw_bar;
        fo->progress_ud = bar;
    }
    return 0;
}

static json_t *fetch_json(const struct box_fetch_result *res, const char *url)
{
    char hex[BOX_SHA256_HEXLEN + 1] = "";
    if (res->bytes || res->cached)
        box_hex_encode(res->sha256, BOX_SHA256_LEN, hex);
    return json_pack("{s:s, s:s, s:I, s:s, s:b, s:i, s:i}", "url", url, "path", res->path, "bytes",
                     (json_int_t)res->bytes, "sha256", hex, "cached", res->cached, "resumed",
                     res->resumed, "restarted", res->restarted);
}

static int cmd_fetch(const struct args *a)
{
    struct box_fetch_opts fo;
    struct box_fetch_result res;
    struct box_profile *profile;
    struct box_bundle_opts o;
    struct box_bundle_report rep = {0};
    struct box_err err = {0};
    unsigned char sha[BOX_SHA256_LEN];
    struct bar bar = {0};
    const char *arch = target_arch(a);
    if (need_positional(a, 1, "one URL") < 0 || !arch)
        return EXIT_USAGE;
    if (!a->cache) {
        usage_error("fetch: --cache DIR is required");
        return EXIT_USAGE;
    }
    if (fetch_opts(a, &fo, sha, &bar) < 0)
        return EXIT_USAGE;
    fo.arch = arch;
    int rc = setup(a, true, &profile, &o);
    if (rc)
        return rc;
    int r = box_fetch(&fo, &res, &err);
    bool fetched = r >= 0;
    if (bar.drawn)
        fputc('\n', stderr);
    if (r < 0 && is_rejection(&err))
        box_err_prefix(&err, BOX_BUNDLE_FAIL);
    if (r >= 0)
        r = box_bundle_verify(res.path, arch, &o, &rep, &err);
    if (a->json) {
        json_t *j = fetch_json(&res, fo.url);
        json_object_set_new(j, "ok", json_boolean(r >= 0));
        if (fetched)
            json_object_set_new(j, "bundle",
                                report_json(res.path, arch, &rep, r < 0 ? &err : NULL));
        else
            json_object_set_new(j, "error", json_string(err.msg));
        print_json(j);
    }
    if (r < 0)
        rc = fail(a->cmd, &err);
    if (r >= 0 && !a->json) {
        printf("fetched %s (%llu bytes%s)\n", res.path, (unsigned long long)res.bytes,
               res.cached ? ", cached" : "");
        print_summary("ok", res.path, &rep);
    }
    box_bundle_report_free(&rep);
    box_profile_free(profile);
    return rc;
}

static int source_date_epoch(int64_t *epoch)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    uint64_t v = 0;
    *epoch = 0;
    if (!s || !*s)
        return 0;
    if (box_parse_u64(s, 253402300799ull /* 9999-12-31 */, &v) < 0)
        return usage_error("SOURCE_DATE_EPOCH `%s` is not a valid timestamp", s);
    *epoch = (int64_t)v;
    return 0;
}

static int cmd_create(const struct args *a)
{
    struct box_profile *profile;
    struct box_bundle_opts unused;
    struct box_bundle_create_stats st;
    struct box_err err = {0};
    if (a->npositional) {
        usage_error("create: unexpected argument `%s`", a->positional[0]);
        return EXIT_USAGE;
    }
    if (!a->from || !a->arch || !a->name || !a->version || !a->output) {
        usage_error("create: --from, --arch, --name, --version and -o are required");
        return EXIT_USAGE;
    }
    if (a->level > 12) {
        usage_error("create: --level is 1 to 12");
        return EXIT_USAGE;
    }
    struct box_bundle_create_opts co = {
        .from = a->from,
        .arch = a->arch,
        .name = a->name,
        .version = a->version,
        .components = a->components,
        .ncomponents = a->ncomponents,
        .output = a->output,
        .level = (int)a->level,
        .max_entries = a->max_entries ? a->max_entries : 200000,
    };
    if (source_date_epoch(&co.epoch) < 0)
        return EXIT_USAGE;
    int rc = setup(a, true, &profile, &unused);
    if (rc)
        return rc;
    co.profile = profile;
    int r = box_bundle_create(&co, &st, &err);
    box_profile_free(profile);
    if (r < 0)
        return fail(a->cmd, &err);
    printf("created %s: %llu files, %llu symlinks, %llu directories, %llu bytes -> %llu bytes\n",
           a->output, (unsigned long long)st.files, (unsigned long long)st.symlinks,
           (unsigned long long)st.dirs, (unsigned long long)st.payload_bytes,
           (unsigned long long)st.tarball_bytes);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(const struct args *);
    } cmds[] = {{"create", cmd_create},
                {"verify", cmd_verify},
                {"stage", cmd_stage},
                {"fetch", cmd_fetch},
                {"inspect", cmd_inspect}};
    /* Archive member names are UTF-8 (pax); keep them byte-exact. */
    setlocale(LC_CTYPE, "C.UTF-8");
    int i = 1;
    if (i < argc && strcmp(argv[i], "bundle") == 0)
        i++;
    if (i >= argc) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(argv[i], "--version")) {
        printf("box-bundle %s\n", BOX_VERSION);
        return 0;
    }
    for (size_t c = 0; c < BOX_ARRAY_SIZE(cmds); c++) {
        if (strcmp(argv[i], cmds[c].name) != 0)
            continue;
        struct args a = {0};
        int r = parse_args(argc - i, argv + i, &a);
        if (r)
            return r > 0 ? 0 : EXIT_USAGE;
        return cmds[c].run(&a);
    }
    usage_error("unknown command `%s`", argv[i]);
    return EXIT_USAGE;
}
