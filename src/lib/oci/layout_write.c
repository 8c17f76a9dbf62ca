/* OCI image layouts: config, manifest and index as canonical JSON, blobs
 * by digest, and the input fingerprint. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/base/fs.h"
#include "lib/oci/layout_write.h"

#define JSON_FLAGS (JSON_SORT_KEYS | JSON_COMPACT)

/* jansson's own cleanup helper (json_decrefp). */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

static json_t *string_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int iso_time(int64_t t, char out[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return -EINVAL;
    return 0;
}

/* The image config (image-spec config.md); diff_id may be NULL for the
 * fingerprint, which covers the config without its layer. */
static json_t *config_json(const struct box_oci_config *cfg, const char *diff_id)
{
    char created[32];
    if (iso_time(cfg->created, created) < 0)
        return NULL;
    json_t *labels = json_object();
    for (size_t i = 0; labels && i < cfg->nlabels; i++)
        json_object_set_new(labels, cfg->labels[i].key, json_string(cfg->labels[i].value));
    json_t *c = json_pack("{s:s?, s:o, s:o, s:s?, s:o}", "User", cfg->user, "Env",
                          string_array(cfg->env, cfg->nenv), "Entrypoint",
                          string_array(cfg->entrypoint, cfg->nentrypoint), "WorkingDir",
                          cfg->workdir, "Labels", labels);
    json_t *diff_ids = diff_id ? json_pack("[s]", diff_id) : json_array();
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:o}, s:[{s:s, s:s}]}", "architecture",
                     cfg->architecture, "os", cfg->os, "created", created, "config", c, "rootfs",
                     "type", "layers", "diff_ids", diff_ids, "history", "created", created,
                     "created_by", "box image build");
}

static int add_line(FILE *f, const char *what, const char *a, const char *b, struct box_err *err)
{
    if (strchr(a, '\n') || (b && strchr(b, '\n')))
        return box_err_set(err, EINVAL, "fingerprint %s `%s`: holds a newline", what, a);
    fprintf(f, "%s %s%s%s\n", what, a, b ? " " : "", b ? b : "");
    return 0;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const struct box_oci_kv *)a)->key, ((const struct box_oci_kv *)b)->key);
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct box_oci_fpr_file *)a)->path,
                  ((const struct box_oci_fpr_file *)b)->path);
}

static int fingerprint_text(FILE *f, const char *schema, const char *name,
                            struct box_oci_kv *inputs, size_t ninputs,
                            struct box_oci_fpr_file *files, size_t nfiles,
                            const struct box_oci_rootfs *r, struct box_err *err)
{
    int rc = add_line(f, "schema", schema, NULL, err);
    if (rc == 0)
        rc = add_line(f, "name", name, NULL, err);
    qsort(inputs, ninputs, sizeof(*inputs), cmp_kv);
    for (size_t i = 0; rc == 0 && i < ninputs; i++)
        rc = add_line(f, "input", inputs[i].key, inputs[i].value, err);
    qsort(files, nfiles, sizeof(*files), cmp_file);
    for (size_t i = 0; rc == 0 && i < nfiles; i++)
        rc = add_line(f, "file", files[i].path, files[i].digest, err);
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const struct box_oci_entry *e = &r->v[i];
        char meta[96];
        snprintf(meta, sizeof(meta), "%u %04o %u:%u %s", e->type, e->mode, e->uid, e->gid,
                 e->type == BOX_OCI_FILE ? e->digest : "-");
        rc = add_line(f, "entry", e->path, meta, err);
        if (rc == 0 && e->link)
            rc = add_line(f, "link", e->path, e->link, err);
    }
    return rc;
}

int box_oci_fingerprint(const char *schema, const char *name, const struct box_oci_kv *inputs,
                        size_t ninputs, const struct box_oci_fpr_file *files, size_t nfiles,
                        const struct box_oci_rootfs *rootfs, const struct box_oci_config *cfg,
                        char *out, struct box_err *err)
{
    /* Sorted copies: the caller's order stays as given. */
    struct box_oci_kv in[BOX_OCI_FPR_MAX_ITEMS];
    struct box_oci_fpr_file fl[BOX_OCI_FPR_MAX_ITEMS];
    if (ninputs > BOX_OCI_FPR_MAX_ITEMS || nfiles > BOX_OCI_FPR_MAX_ITEMS)
        return box_err_set(err, E2BIG, "fingerprint: more than %d inputs or input files",
                           BOX_OCI_FPR_MAX_ITEMS);
    _cleanup_json_ json_t *c = config_json(cfg, NULL);
    if (!c)
        return box_err_set(err, ENOMEM, "fingerprint: out of memory or a bad config");
    if (ninputs) /* memcpy's pointers must be valid even for 0 bytes */
        memcpy(in, inputs, ninputs * sizeof(*in));
    if (nfiles)
        memcpy(fl, files, nfiles * sizeof(*fl));
    _cleanup_free_ char *cjson = json_dumps(c, JSON_FLAGS);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!cjson || !f)
        return box_err_set(err, ENOMEM, "fingerprint: out of memory");
    int rc = fingerprint_text(f, schema, name, in, ninputs, fl, nfiles, rootfs, err);
    if (rc == 0)
        fprintf(f, "config %s\n", cjson);
    if (fclose(f) != 0 && rc == 0)
        rc = box_err_set(err, ENOMEM, "fingerprint: out of memory");
    char digest[BOX_OCI_DIGEST_LEN + 1];
    if (rc == 0 && box_oci_digest_buf(text, len, digest) < 0)
        rc = box_err_set(err, ENOMEM, "fingerprint: sha256 failed");
    free(text);
    if (rc < 0)
        return rc;
    memcpy(out, digest + 7, BOX_OCI_FPR_LEN);
    out[BOX_OCI_FPR_LEN] = '\0';
    return 0;
}

/* Writes a blob under blobs/sha256/ and returns its digest. */
static int put_blob(int blobs_fd, const void *data, size_t len, char *digest, struct box_err *err)
{
    if (box_oci_digest_buf(data, len, digest) < 0)
        return box_err_set(err, ENOMEM, "blob: sha256 failed");
    int rc = box_write_file_atomic(blobs_fd, digest + 7, data, len, 0644, err);
    return rc < 0 ? box_err_prefix(err, "blob `%s`", digest) : 0;
}

/* Takes j over. With digest, a blob; without, dirfd/name. */
static int put_json(int dirfd, const char *name, json_t *j_in, char *digest, uint64_t *size,
                    struct box_err *err)
{
    _cleanup_json_ json_t *j = j_in;
    if (!j)
        return box_err_set(err, ENOMEM, "%s: cannot build the JSON document", name);
    _cleanup_free_ char *s = json_dumps(j, JSON_FLAGS);
    if (!s)
        return box_err_set(err, ENOMEM, "%s: cannot serialise", name);
    size_t len = strlen(s);
    if (size)
        *size = len;
    if (digest)
        return put_blob(dirfd, s, len, digest, err);
    return box_write_file_atomic(dirfd, name, s, len, 0644, err);
}

static int write_layer(int blobs_fd, const struct box_oci_rootfs *rootfs, int64_t epoch, int level,
                       struct box_oci_written *w, struct box_err *err)
{
    _cleanup_free_ unsigned char *tar = NULL;
    _cleanup_free_ unsigned char *gz = NULL;
    size_t tar_len = 0, gz_len = 0;
    int rc = box_oci_rootfs_tar(rootfs, epoch, &tar, &tar_len, err);
    if (rc < 0)
        return rc;
    if (box_oci_digest_buf(tar, tar_len, w->diff_id) < 0)
        return box_err_set(err, ENOMEM, "layer: sha256 failed");
    rc = box_oci_gzip(tar, tar_len, level, &gz, &gz_len, err);
    if (rc < 0)
        return box_err_prefix(err, "layer");
    w->tar_size = tar_len;
    w->layer_size = gz_len;
    return put_blob(blobs_fd, gz, gz_len, w->layer, err);
}

static int open_blobs(int dirfd, struct box_err *err)
{
    if (mkdirat(dirfd, "blobs", 0755) < 0 && errno != EEXIST)
        return box_err_sys(err, errno, "mkdir `blobs`");
    if (mkdirat(dirfd, "blobs/sha256", 0755) < 0 && errno != EEXIST)
        return box_err_sys(err, errno, "mkdir `blobs/sha256`");
    int fd = openat(dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? box_err_sys(err, errno, "open `blobs/sha256`") : fd;
}

int box_oci_layout_write(int dirfd, const struct box_oci_rootfs *rootfs,
                         const struct box_oci_config *cfg, const char *ref_name, const char *title,
                         int gzip_level, struct box_oci_written *w, struct box_err *err)
{
    memset(w, 0, sizeof(*w));
    _cleanup_close_ int blobs = open_blobs(dirfd, err);
    if (blobs < 0)
        return blobs;
    int rc = write_layer(blobs, rootfs, cfg->created, gzip_level, w, err);
    if (rc < 0)
        return rc;
    rc = put_json(blobs, "config", config_json(cfg, w->diff_id), w->config, &w->config_size, err);
    if (rc < 0)
        return rc;
    json_t *manifest =
        json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
                  "mediaType", BOX_OCI_MT_MANIFEST, "config", "mediaType", BOX_OCI_MT_CONFIG,
                  "digest", w->config, "size", (json_int_t)w->config_size, "layers", "mediaType",
                  BOX_OCI_MT_LAYER, "digest", w->layer, "size", (json_int_t)w->layer_size);
    rc = put_json(blobs, "manifest", manifest, w->manifest, &w->manifest_size, err);
    if (rc < 0)
        return rc;
    json_t *index = json_pack(
        "{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s}, s:{s:s, s:s}}]}", "schemaVersion", 2,
        "mediaType", BOX_OCI_MT_INDEX, "manifests", "mediaType", BOX_OCI_MT_MANIFEST, "digest",
        w->manifest, "size", (json_int_t)w->manifest_size, "platform", "architecture",
        cfg->architecture, "os", cfg->os, "annotations", "org.opencontainers.image.ref.name",
        ref_name, "org.opencontainers.image.title", title);
    rc = put_json(dirfd, "oci-layout", json_pack("{s:s}", "imageLayoutVersion", "1.0.0"), NULL,
                  NULL, err);
    if (rc == 0)
        rc = put_json(dirfd, "index.json", index, NULL, NULL, err);
    else
        json_decref(index);
    return rc;
}
