/* box-image: the workload manifest of built layouts (`manifest`) and
 * publishing them to a registry with skopeo (`publish`).
 *
 * Publishing is C rather than a script so that it reads the manifest with
 * the same bounded parser as everything else, writes it back with the same
 * quoting, and runs skopeo under a deadline in its own process group that
 * an interrupt kills as a whole. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "lib/oci/spawn.h"
#include "lib/oci/workloads.h"
#include "tools/box-image.h"

#define JSON_MAX (1u << 20)

static int json_str(json_t *o, const char *key, char *out, size_t size, const char *file,
                    struct box_err *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || strlen(s) >= size)
        return box_err_set(err, EINVAL, "`%s`: `%s` is missing, not a string or too long", file,
                           key);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int load_json(const char *dir, const char *name, json_t **out, struct box_err *err)
{
    char path[4096 + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int rc = box_read_file(AT_FDCWD, path, JSON_MAX, &text, &len, err);
    if (rc < 0)
        return rc;
    json_error_t je;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        return box_err_set(err, EINVAL, "`%s`: not a JSON object (%s)", path, je.text);
    }
    return 0;
}

static int stamp_inputs(json_t *inputs, struct box_image_stamp *st, const char *file,
                        struct box_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(inputs, k, v)
    {
        const char *s = json_string_value(v);
        if (st->ninputs == BOX_IMAGE_MAX_INPUTS || !s || strlen(k) >= sizeof(st->keys[0]) ||
            strlen(s) >= sizeof(st->values[0]))
            return box_err_set(err, EINVAL,
                               "`%s`: inputs: too many, or `%s` is not a short "
                               "string",
                               file, k);
        snprintf(st->keys[st->ninputs], sizeof(st->keys[0]), "%s", k);
        snprintf(st->values[st->ninputs++], sizeof(st->values[0]), "%s", s);
    }
    return 0;
}

int box_image_read_stamp(const char *dir, struct box_image_stamp *st, struct box_err *err)
{
    memset(st, 0, sizeof(*st));
    json_t *stamp = NULL, *index = NULL;
    int rc = load_json(dir, BOX_OCI_STAMP, &stamp, err);
    if (rc == 0)
        rc = load_json(dir, "index.json", &index, err);
    if (rc == 0)
        rc = json_str(stamp, "name", st->name, sizeof(st->name), BOX_OCI_STAMP, err);
    if (rc == 0)
        rc = json_str(stamp, "fingerprint", st->fingerprint, sizeof(st->fingerprint), BOX_OCI_STAMP,
                      err);
    if (rc == 0)
        rc = json_str(stamp, "manifest", st->manifest, sizeof(st->manifest), BOX_OCI_STAMP, err);
    if (rc == 0)
        rc = stamp_inputs(json_object_get(stamp, "inputs"), st, BOX_OCI_STAMP, err);
    json_t *m = json_array_get(json_object_get(index, "manifests"), 0);
    const char *digest = json_string_value(json_object_get(m, "digest"));
    if (rc == 0 && (!box_oci_digest_valid(st->manifest) || !digest ||
                    json_array_size(json_object_get(index, "manifests")) != 1 ||
                    strcmp(digest, st->manifest) != 0))
        rc = box_err_set(err, EINVAL,
                         "`%s`: index.json does not hold exactly the manifest "
                         "that %s names",
                         dir, BOX_OCI_STAMP);
    json_decref(stamp);
    json_decref(index);
    return rc < 0 ? box_err_prefix(err, "layout `%s`", dir) : 0;
}

static int write_manifest(const char *output, const struct box_workloads *m, struct box_err *err)
{
    _cleanup_free_ char *text = NULL;
    int rc = box_workloads_format(m, &text, err);
    if (rc < 0)
        return rc;
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s", output) >= (int)sizeof(dir))
        return box_err_set(err, ENAMETOOLONG, "`%s`: path too long", output);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : output;
    if (slash)
        *slash = '\0';
    _cleanup_close_ int dfd =
        open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return box_err_sys(err, errno, "`%s`: open its directory", output);
    return box_write_file_atomic(dfd, base, text, strlen(text), 0644, err);
}

/* NAME=DIR,expect=pass|fail[,gpu] */
static int parse_workload_arg(const char *arg, struct box_workload *w, char *dir, size_t dir_size)
{
    char copy[2048];
    if (snprintf(copy, sizeof(copy), "%s", arg) >= (int)sizeof(copy))
        return box_image_usage("--workload: longer than %zu bytes", sizeof(copy) - 1);
    char *eq = strchr(copy, '='), *save = NULL;
    if (!eq)
        return box_image_usage("--workload `%s`: expected NAME=DIR,expect=pass|fail[,gpu]", arg);
    *eq = '\0';
    if (box_image_name_valid(copy) < 0)
        return box_image_usage("--workload `%s`: `%s` is not a workload name", arg, copy);
    snprintf(w->name, sizeof(w->name), "%s", copy);
    char *d = strtok_r(eq + 1, ",", &save);
    if (!d || strlen(d) >= dir_size)
        return box_image_usage("--workload `%s`: no layout directory", arg);
    snprintf(dir, dir_size, "%s", d);
    bool expect = false;
    for (char *t = strtok_r(NULL, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "expect=pass") == 0 || strcmp(t, "expect=fail") == 0) {
            w->expect_pass = strcmp(t, "expect=pass") == 0;
            expect = true;
        } else if (strcmp(t, "gpu") == 0) {
            w->gpu = true;
        } else {
            return box_image_usage("--workload `%s`: unknown part `%s`", arg, t);
        }
    }
    if (!expect)
        return box_image_usage("--workload `%s`: expect=pass or expect=fail is required", arg);
    snprintf(w->command[0], sizeof(w->command[0]), "/usr/local/bin/openshell-gpu-workload");
    w->ncommand = 1;
    return 0;
}

/* Merges one stamp's inputs into the manifest's; a key with two values
 * means the layouts were built from different bases. */
static int merge_inputs(struct box_workloads *m, const struct box_image_stamp *st,
                        struct box_err *err)
{
    for (size_t i = 0; i <= st->ninputs; i++) {
        char key[128], value[1024];
        if (i == st->ninputs) {
            snprintf(key, sizeof(key), "image.%s", st->name);
            snprintf(value, sizeof(value), "%s", st->fingerprint);
        } else {
            snprintf(key, sizeof(key), "%s", st->keys[i]);
            snprintf(value, sizeof(value), "%s", st->values[i]);
        }
        size_t j = 0;
        while (j < m->ninputs && strcmp(m->input_keys[j], key) != 0)
            j++;
        if (j < m->ninputs && strcmp(m->input_values[j], value) != 0)
            return box_err_set(err, EINVAL, "input `%s`: `%s` in one layout, `%s` in `%s`", key,
                               m->input_values[j], value, st->name);
        if (j == m->ninputs && m->ninputs == BOX_WORKLOADS_INPUTS)
            return box_err_set(err, E2BIG, "more than %d inputs", BOX_WORKLOADS_INPUTS);
        if (j == m->ninputs) {
            snprintf(m->input_keys[j], sizeof(m->input_keys[j]), "%s", key);
            snprintf(m->input_values[m->ninputs++], sizeof(m->input_values[0]), "%s", value);
        }
    }
    return 0;
}

/* The manifest's fingerprint: over its images' fingerprints, by name. */
static void manifest_fingerprint(struct box_workloads *m)
{
    static char text[BOX_WORKLOADS_INPUTS * 1200] = "box-image-manifest/1\n";
    size_t len = strlen(text);
    for (size_t i = 0; i < m->ninputs; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s=%s\n", m->input_keys[i],
                                m->input_values[i]);
    char digest[BOX_OCI_DIGEST_LEN + 1];
    box_oci_digest_buf(text, strnlen(text, sizeof(text)), digest);
    snprintf(m->input_fingerprint, sizeof(m->input_fingerprint), "%.*s", BOX_OCI_FPR_LEN,
             digest + 7);
}

static int cmp_input(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void sort_inputs(struct box_workloads *m)
{
    /* Keys and values move together: sort "key\0value" records. */
    static char rec[BOX_WORKLOADS_INPUTS][128 + 1024];
    for (size_t i = 0; i < m->ninputs; i++) {
        memcpy(rec[i], m->input_keys[i], 128);
        memcpy(rec[i] + 128, m->input_values[i], 1024);
    }
    qsort(rec, m->ninputs, sizeof(rec[0]), cmp_input);
    for (size_t i = 0; i < m->ninputs; i++) {
        memcpy(m->input_keys[i], rec[i], 128);
        memcpy(m->input_values[i], rec[i] + 128, 1024);
    }
}

int box_image_cmd_manifest(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", 1, 0, 'o'},   {"generated-by", 1, 0, 'g'}, {"source-path", 1, 0, 's'},
        {"workload", 1, 0, 'w'}, {"help", 0, 0, 'h'},         {0, 0, 0, 0},
    };
    _cleanup_free_ struct box_workloads *m = calloc(1, sizeof(*m));
    if (!m)
        return box_image_usage("out of memory");
    const char *output = NULL, *dirs[BOX_WORKLOADS_MAX];
    char dirbuf[BOX_WORKLOADS_MAX][1024];
    *m = (struct box_workloads){.schema_version = 1};
    snprintf(m->generated_by, sizeof(m->generated_by), "box image manifest");
    snprintf(m->source_path, sizeof(m->source_path), "e2e/gpu/images");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o')
            output = optarg;
        else if (c == 'g')
            snprintf(m->generated_by, sizeof(m->generated_by), "%s", optarg);
        else if (c == 's')
            snprintf(m->source_path, sizeof(m->source_path), "%s", optarg);
        else if (c == 'w' && m->n == BOX_WORKLOADS_MAX)
            return box_image_usage("at most %d --workload options", BOX_WORKLOADS_MAX);
        else if (c == 'w' && parse_workload_arg(optarg, &m->w[m->n], dirbuf[m->n], 1024) != 0)
            return BOX_IMAGE_EXIT_USAGE;
        else if (c == 'w')
            dirs[m->n] = dirbuf[m->n], m->n++;
        else if (c == 'h') {
            puts("Usage: box image manifest --output FILE [--generated-by TEXT] [--source-path "
                 "P]\n       --workload NAME=DIR,expect=pass|fail[,gpu]...");
            return 0;
        } else
            return box_image_usage("manifest: unknown option `%s`", argv[optind - 1]);
    }
    if (!output || optind < argc)
        return box_image_usage("manifest: --output is required, and no other arguments");
    struct box_err err = {0};
    for (size_t i = 0; i < m->n; i++) {
        struct box_image_stamp st;
        int rc = box_image_read_stamp(dirs[i], &st, &err);
        if (rc == 0 && strcmp(st.name, m->w[i].name) != 0)
            rc = box_err_set(&err, EINVAL, "layout `%s` holds `%s`, not `%s`", dirs[i], st.name,
                             m->w[i].name);
        if (rc == 0)
            rc = merge_inputs(m, &st, &err);
        if (rc < 0)
            return box_image_fail(&err);
        snprintf(m->w[i].image, sizeof(m->w[i].image), "oci:%s@%s", dirs[i], st.manifest);
    }
    sort_inputs(m);
    manifest_fingerprint(m);
    if (write_manifest(output, m, &err) < 0)
        return box_image_fail(&err);
    printf("%s: %zu workloads, input fingerprint %s\n", output, m->n, m->input_fingerprint);
    return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

struct publish_args {
    const char *registry, *manifest, *output, *skopeo;
    bool tls_verify;
    uint64_t timeout_s;
};

/* Runs skopeo; on success its stdout is in res (caller frees). */
static int skopeo(const struct publish_args *a, const char *const *args,
                  struct box_spawn_result *res, struct box_err *err)
{
    const char *argv[16] = {a->skopeo};
    size_t n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    struct box_spawn_opts o = {.argv = argv,
                               .timeout_s = (int)a->timeout_s,
                               .max_stdout = 1u << 20,
                               .stop = &stop_requested};
    int rc = box_spawn(&o, res, err);
    if (rc == 0 && res->status != 0)
        rc = box_err_set(err, EIO, "skopeo %s exited with %d: %s", args[0], res->status,
                         res->err_tail);
    if (rc < 0)
        box_spawn_result_free(res);
    return rc;
}

/* Pushes one layout under its fingerprint tag and resolves it back: the
 * raw manifest fetched by digest must hash to that digest, and the tag must
 * name it. */
static int publish_one(const struct publish_args *a, struct box_workload *w, struct box_err *err)
{
    const char *at = strrchr(w->image, '@');
    if (strncmp(w->image, "oci:", 4) != 0 || !at || !box_oci_digest_valid(at + 1))
        return box_err_set(err, EINVAL, "workload `%s`: image `%s` is not oci:DIR@sha256:HEX",
                           w->name, w->image);
    char dir[BOX_WORKLOADS_STR_MAX], digest[BOX_OCI_DIGEST_LEN + 1];
    snprintf(dir, sizeof(dir), "%.*s", (int)(at - w->image - 4), w->image + 4);
    snprintf(digest, sizeof(digest), "%s", at + 1);
    struct box_image_stamp st;
    int rc = box_image_read_stamp(dir, &st, err);
    if (rc == 0 && strcmp(st.manifest, digest) != 0)
        rc = box_err_set(err, EINVAL, "layout `%s` now holds %s, not %s: rebuild the manifest", dir,
                         st.manifest, digest);
    if (rc < 0)
        return box_err_prefix(err, "workload `%s`", w->name);
    char src[BOX_WORKLOADS_STR_MAX + 8], by_tag[1200], by_digest[1200];
    snprintf(src, sizeof(src), "oci:%s", dir);
    snprintf(by_tag, sizeof(by_tag), "docker://%s/openshell/gpu-workload-%s:%s", a->registry,
             w->name, st.fingerprint);
    snprintf(by_digest, sizeof(by_digest), "docker://%s/openshell/gpu-workload-%s@%s", a->registry,
             w->name, digest);
    const char *tls_dest = a->tls_verify ? "--dest-tls-verify=true" : "--dest-tls-verify=false";
    const char *tls = a->tls_verify ? "--tls-verify=true" : "--tls-verify=false";
    struct box_spawn_result res;
    const char *copy[] = {"copy", "--quiet", "--preserve-digests", tls_dest, src, by_tag, NULL};
    rc = skopeo(a, copy, &res, err);
    if (rc < 0)
        return box_err_prefix(err, "push `%s`", w->name);
    box_spawn_result_free(&res);
    const char *raw[] = {"inspect", "--raw", tls, by_digest, NULL};
    rc = skopeo(a, raw, &res, err);
    if (rc < 0)
        return box_err_prefix(err, "resolve `%s` by digest", w->name);
    char got[BOX_OCI_DIGEST_LEN + 1];
    box_oci_digest_buf(res.out, res.out_len, got);
    box_spawn_result_free(&res);
    if (strcmp(got, digest) != 0)
        return box_err_set(err, EBADMSG,
                           "`%s`: the registry serves a manifest with digest %s "
                           "for %s",
                           w->name, got, digest);
    const char *tag[] = {"inspect", "--format", "{{.Digest}}", tls, by_tag, NULL};
    rc = skopeo(a, tag, &res, err);
    if (rc < 0)
        return box_err_prefix(err, "resolve `%s` by tag", w->name);
    bool same = strncmp(res.out, digest, BOX_OCI_DIGEST_LEN) == 0;
    box_spawn_result_free(&res);
    if (!same)
        return box_err_set(err, EBADMSG, "`%s`: tag %s does not name %s", w->name, st.fingerprint,
                           digest);
    snprintf(w->image, sizeof(w->image), "%s", by_digest + strlen("docker://"));
    printf("%s: pushed %s, resolved %s\n", w->name, by_tag + 9, w->image);
    return 0;
}

static int parse_publish_args(int argc, char **argv, struct publish_args *a)
{
    static const struct option opts[] = {
        {"registry", 1, 0, 'r'},   {"manifest", 1, 0, 'm'},
        {"output", 1, 0, 'o'},     {"skopeo", 1, 0, 'S'},
        {"tls-verify", 1, 0, 't'}, {"timeout", 1, 0, 'T'},
        {"help", 0, 0, 'h'},       {0, 0, 0, 0},
    };
    *a = (struct publish_args){.skopeo = "skopeo", .tls_verify = true, .timeout_s = 300};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            a->registry = optarg;
            break;
        case 'm':
            a->manifest = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case 'S':
            a->skopeo = optarg;
            break;
        case 't':
            if (strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0)
                return box_image_usage("--tls-verify: `%s` is not true or false", optarg);
            a->tls_verify = strcmp(optarg, "true") == 0;
            break;
        case 'T':
            if (box_parse_u64(optarg, 86400, &a->timeout_s) < 0 || a->timeout_s == 0)
                return box_image_usage("--timeout: `%s` is not 1..86400 seconds", optarg);
            break;
        case 'h':
            puts("Usage: box image publish --registry HOST[:PORT] --manifest FILE --output FILE\n"
                 "       [--tls-verify=true|false] [--timeout S] [--skopeo PATH]");
            return -1;
        default:
            return box_image_usage("publish: unknown option `%s`", argv[optind - 1]);
        }
    }
    if (!a->registry || !a->manifest || !a->output || optind < argc)
        return box_image_usage("publish: --registry, --manifest and --output are required");
    if (!*a->registry || strpbrk(a->registry, "/@ \t\n") || strlen(a->registry) > 255)
        return box_image_usage("--registry `%s`: expected HOST[:PORT]", a->registry);
    return 0;
}

int box_image_cmd_publish(int argc, char **argv)
{
    struct publish_args a;
    int rc = parse_publish_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct box_err err = {0};
    _cleanup_free_ struct box_workloads *m = malloc(sizeof(*m));
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (!m)
        return box_image_usage("out of memory");
    rc = box_read_file(AT_FDCWD, a.manifest, BOX_WORKLOADS_FILE_MAX, &text, &len, &err);
    if (rc == 0)
        rc = box_workloads_parse(text, len, m, &err);
    if (rc < 0)
        return box_image_fail((box_err_prefix(&err, "`%s`", a.manifest), &err));
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        rc = publish_one(&a, &m->w[i], &err);
    snprintf(m->generated_by, sizeof(m->generated_by), "box image publish --registry %s",
             a.registry);
    if (rc == 0)
        rc = write_manifest(a.output, m, &err);
    if (rc < 0)
        return box_image_fail(&err);
    printf("%s: %zu workloads by registry digest\n", a.output, m->n);
    return stop_requested ? 128 + stop_requested : 0;
}
