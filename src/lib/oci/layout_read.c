#include "lib/oci/layout_read.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/image/fetch.h"
#include "lib/image/fsx.h"
#include "lib/image/util.h"

#define MT_OCI_INDEX     "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST  "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG    "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST   "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIF  "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define REF_NAME         "org.opencontainers.image.ref.name"
#define MAX_INDEX_ITEMS  4096

/* Tags as the distribution spec and image-layout ref.name allow in practice:
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
static bool tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > BOX_OCI_TAG_MAX || t[0] == '.' || t[0] == '-')
        return false;
    return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* HOST[:PORT]/REPO with lowercase repository components. */
static bool registry_name_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || slash[1] == '\0' || strlen(s) > 1024)
        return false;
    size_t hl = (size_t)(slash - s);
    for (size_t i = 0; i < hl; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", s[i]))
            return false;
    const char *repo = slash + 1;
    size_t rl = strlen(repo);
    if (strspn(repo, "abcdefghijklmnopqrstuvwxyz0123456789._-/") != rl)
        return false;
    return repo[rl - 1] != '/' && !strstr(repo, "//") && repo[0] != '.' && repo[0] != '-';
}

static int parse_layout_ref(const char *s, const char *orig, struct box_oci_ref *ref,
                            struct box_err *err)
{
    ref->kind = BOX_OCI_REF_LAYOUT;
    const char *at = strrchr(s, '@');
    size_t plen = strlen(s);
    if (at) {
        if (!box_oci_digest_valid(at + 1))
            return box_err_set(err, EINVAL, "image `%s`: `%s` is not sha256:<64 hex digits>", orig,
                               at + 1);
        strcpy(ref->digest, at + 1);
        plen = (size_t)(at - s);
    } else {
        const char *colon = strrchr(s, ':');
        const char *slash = strrchr(s, '/');
        if (colon && (!slash || colon > slash)) {
            if (!tag_valid(colon + 1))
                return box_err_set(err, EINVAL, "image `%s`: `%s` is not a valid tag", orig,
                                   colon + 1);
            strcpy(ref->tag, colon + 1);
            plen = (size_t)(colon - s);
        }
    }
    if (plen == 0)
        return box_err_set(err, EINVAL, "image `%s`: no layout directory", orig);
    if (plen >= sizeof(ref->path))
        return box_err_set(err, ENAMETOOLONG, "image `%s`: directory name too long", orig);
    memcpy(ref->path, s, plen);
    ref->path[plen] = '\0';
    return 0;
}

int box_oci_ref_parse(const char *s, struct box_oci_ref *ref, struct box_err *err)
{
    memset(ref, 0, sizeof(*ref));
    if (!s || !*s)
        return box_err_set(err, EINVAL, "image reference is empty");
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return box_err_set(err, EINVAL, "image reference has a control character");
    if (strncmp(s, "oci:", 4) == 0)
        return parse_layout_ref(s + 4, s, ref, err);
    const char *name = strncmp(s, "docker://", 9) == 0 ? s + 9 : s;
    ref->kind = BOX_OCI_REF_REGISTRY;
    const char *at = strrchr(name, '@');
    if (!at)
        return box_err_set(err, EINVAL,
                           "image `%s`: a registry image must be named by digest "
                           "(HOST[:PORT]/REPO@sha256:...), never by a tag that can move",
                           s);
    if (!box_oci_digest_valid(at + 1))
        return box_err_set(err, EINVAL, "image `%s`: `%s` is not sha256:<64 hex digits>", s,
                           at + 1);
    strcpy(ref->digest, at + 1);
    size_t n = (size_t)(at - name);
    if (n >= sizeof(ref->path))
        return box_err_set(err, ENAMETOOLONG, "image `%s`: name too long", s);
    memcpy(ref->path, name, n);
    ref->path[n] = '\0';
    /* NAME:TAG@DIGEST: the digest decides; the tag is dropped. */
    char *colon = strrchr(ref->path, ':'), *slash = strchr(ref->path, '/');
    if (colon && slash && colon > strrchr(ref->path, '/'))
        *colon = '\0';
    if (!registry_name_valid(ref->path))
        return box_err_set(
            err, EINVAL, "image `%s`: not an OCI layout (oci:DIR) nor HOST[:PORT]/REPO@sha256:...",
            s);
    return 0;
}

const char *box_oci_host_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__powerpc64__)
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#else
    return "unknown";
#endif
}

static void strv_free(char **v)
{
    if (v)
        for (char **p = v; *p; p++)
            free(*p);
    free(v);
}

void box_oci_image_free(struct box_oci_image *img)
{
    free(img->user);
    free(img->workdir);
    strv_free(img->entrypoint);
    strv_free(img->cmd);
    strv_free(img->env);
    memset(img, 0, sizeof(*img));
}

int box_oci_layout_open(const char *dir, int *dirfd, struct box_err *err)
{
    _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return box_err_sys(err, errno, "OCI layout `%s`", dir);
    _cleanup_close_ int mfd = box_fsx_open_beneath(fd, "oci-layout", O_RDONLY, 0);
    if (mfd < 0)
        return box_err_sys(err, -mfd, "OCI layout `%s`: `oci-layout`", dir);
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = box_read_fd(mfd, 64 << 10, &text, &len);
    if (r < 0)
        return box_err_sys(err, -r, "OCI layout `%s`: read `oci-layout`", dir);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    const char *v = json_string_value(json_object_get(doc, "imageLayoutVersion"));
    r = v && strcmp(v, "1.0.0") == 0;
    json_decref(doc);
    if (!r)
        return box_err_set(err, EINVAL,
                           "OCI layout `%s`: `oci-layout`: imageLayoutVersion must be \"1.0.0\"",
                           dir);
    *dirfd = box_steal_fd(&fd);
    return 0;
}

static int blob_path(const char *digest, char *path, size_t size, struct box_err *err)
{
    if (!box_oci_digest_valid(digest))
        return box_err_set(err, EINVAL, "digest `%.80s` is not sha256:<64 hex digits>", digest);
    snprintf(path, size, "blobs/sha256/%s", digest + 7);
    return 0;
}

/* Opens a blob, checks it is a regular file of the expected size and that
 * its content hashes to its name. */
static int open_verified(int dirfd, const char *digest, uint64_t size, uint64_t max,
                         struct box_err *err)
{
    char path[128];
    int r = blob_path(digest, path, sizeof(path), err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = box_fsx_open_beneath(dirfd, path, O_RDONLY, 0);
    if (fd < 0)
        return box_err_sys(err, -fd, "blob %s", digest);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return box_err_sys(err, errno, "blob %s", digest);
    if (!S_ISREG(st.st_mode))
        return box_err_set(err, EINVAL, "blob %s: not a regular file", digest);
    if (size != UINT64_MAX && (uint64_t)st.st_size != size)
        return box_err_set(err, EBADMSG, "blob %s: size %lld, descriptor says %llu", digest,
                           (long long)st.st_size, (unsigned long long)size);
    if ((uint64_t)st.st_size > max)
        return box_err_set(err, EFBIG, "blob %s: %lld bytes, more than the limit of %llu", digest,
                           (long long)st.st_size, (unsigned long long)max);
    unsigned char sum[BOX_SHA256_LEN];
    char hex[BOX_SHA256_HEXLEN + 1];
    uint64_t got;
    if ((r = box_sha256_file(fd, sum, &got, err)) < 0)
        return box_err_prefix(err, "blob %s", digest);
    box_hex_encode(sum, sizeof(sum), hex);
    if (strcmp(hex, digest + 7) != 0 || got != (uint64_t)st.st_size)
        return box_err_set(err, EBADMSG, "blob %s: content does not match its digest (sha256:%s)",
                           digest, hex);
    return box_steal_fd(&fd);
}

int box_oci_blob_read(int dirfd, const char *digest, uint64_t size, size_t max, char **out,
                      size_t *len, struct box_err *err)
{
    _cleanup_close_ int fd = open_verified(dirfd, digest, size, max, err);
    if (fd < 0)
        return fd;
    int r = box_read_fd(fd, max, out, len);
    if (r < 0)
        return box_err_sys(err, -r, "blob %s", digest);
    return 0;
}

int box_oci_blob_open(int dirfd, const struct box_oci_desc *d, struct box_err *err)
{
    return open_verified(dirfd, d->digest, d->size, UINT64_MAX, err);
}

static int parse_desc(json_t *o, const char *path, struct box_oci_desc *d, struct box_err *err)
{
    if (!json_is_object(o))
        return box_err_set(err, EINVAL, "%s: must be an object", path);
    const char *mt = json_string_value(json_object_get(o, "mediaType"));
    const char *dg = json_string_value(json_object_get(o, "digest"));
    json_t *sz = json_object_get(o, "size");
    if (!mt || strlen(mt) >= sizeof(d->media_type))
        return box_err_set(err, EINVAL, "%s.mediaType: must be a string of at most %zu bytes", path,
                           sizeof(d->media_type) - 1);
    if (!box_oci_digest_valid(dg))
        return box_err_set(err, EINVAL, "%s.digest: must be sha256:<64 lowercase hex digits>",
                           path);
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return box_err_set(err, EINVAL, "%s.size: must be a non-negative integer", path);
    strcpy(d->media_type, mt);
    strcpy(d->digest, dg);
    d->size = (uint64_t)json_integer_value(sz);
    return 0;
}

static bool platform_matches(json_t *entry, const char *arch)
{
    json_t *p = json_object_get(entry, "platform");
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *a = json_string_value(json_object_get(p, "architecture"));
    return os && a && strcmp(os, "linux") == 0 && strcmp(a, arch) == 0;
}

/* Picks one descriptor from an index: by tag, then by platform. */
static int pick(json_t *doc, const char *where, const char *tag, const char *arch,
                struct box_oci_desc *out, struct box_err *err)
{
    json_t *ms = json_object_get(doc, "manifests");
    if (!json_is_array(ms))
        return box_err_set(err, EINVAL, "%s: manifests: must be an array", where);
    size_t n = json_array_size(ms);
    if (n > MAX_INDEX_ITEMS)
        return box_err_set(err, E2BIG, "%s: manifests: more than %d entries", where,
                           MAX_INDEX_ITEMS);
    size_t cand = 0, by_arch = 0, ci = 0, ai = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(ms, i);
        if (tag) {
            json_t *ann = json_object_get(e, "annotations");
            const char *name = json_string_value(json_object_get(ann, REF_NAME));
            if (!name || strcmp(name, tag) != 0)
                continue;
        }
        cand++;
        ci = i;
        if (platform_matches(e, arch)) {
            by_arch++;
            ai = i;
        }
    }
    if (cand == 0 && tag)
        return box_err_set(err, ENOENT, "%s: no manifest tagged `%s` (%zu entries)", where, tag, n);
    if (cand == 0)
        return box_err_set(err, ENOENT, "%s: lists no manifest", where);
    if (cand > 1 && by_arch != 1)
        return box_err_set(err, EINVAL,
                           "%s: %zu manifests%s%s%s and none or several for linux/%s: name one "
                           "by tag or digest",
                           where, cand, tag ? " tagged `" : "", tag ? tag : "", tag ? "`" : "",
                           arch);
    size_t idx = cand == 1 ? ci : ai;
    char path[128];
    snprintf(path, sizeof(path), "%s: manifests[%zu]", where, idx);
    return parse_desc(json_array_get(ms, idx), path, out, err);
}

static json_t *load(const char *text, size_t len, const char *what, struct box_err *err)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        box_err_set(err, EINVAL, "%s: line %d: %s", what, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        box_err_set(err, EINVAL, "%s: must be a JSON object", what);
        return NULL;
    }
    return doc;
}

static bool is_index(json_t *doc, const char *desc_type)
{
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (!mt)
        mt = desc_type;
    if (mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0))
        return true;
    return !mt && json_object_get(doc, "manifests") && !json_object_get(doc, "layers");
}

static int layer_compression(const char *mt, enum box_oci_compression *c)
{
    static const struct {
        const char *mt;
        enum box_oci_compression c;
    } known[] = {
        {"application/vnd.oci.image.layer.v1.tar", BOX_OCI_PLAIN},
        {"application/vnd.oci.image.layer.v1.tar+gzip", BOX_OCI_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", BOX_OCI_PLAIN},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", BOX_OCI_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar", BOX_OCI_PLAIN},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", BOX_OCI_GZIP},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", BOX_OCI_GZIP},
    };
    for (size_t i = 0; i < BOX_ARRAY_SIZE(known); i++)
        if (strcmp(mt, known[i].mt) == 0) {
            *c = known[i].c;
            return 0;
        }
    return -ENOTSUP;
}

int box_oci_manifest_parse(const char *text, size_t len, struct box_oci_image *img,
                           struct box_err *err)
{
    json_t *doc = load(text, len, "manifest", err);
    if (!doc)
        return -err->code;
    int r = 0;
    json_t *sv = json_object_get(doc, "schemaVersion");
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    json_t *layers = json_object_get(doc, "layers");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        r = box_err_set(err, EINVAL, "manifest: schemaVersion must be 2");
    } else if (mt && strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIF) != 0) {
        r = box_err_set(err, EINVAL, "manifest: mediaType `%.200s` is not an image manifest", mt);
    } else if ((r = parse_desc(json_object_get(doc, "config"), "manifest: config", &img->config,
                               err)) < 0) {
    } else if (strcmp(img->config.media_type, MT_OCI_CONFIG) != 0 &&
               strcmp(img->config.media_type, MT_DOCKER_CONFIG) != 0) {
        r = box_err_set(err, EINVAL, "manifest: config.mediaType `%s` is not an image config",
                        img->config.media_type);
    } else if (!json_is_array(layers)) {
        r = box_err_set(err, EINVAL, "manifest: layers: must be an array");
    } else if (json_array_size(layers) > BOX_OCI_MAX_LAYERS) {
        r = box_err_set(err, E2BIG, "manifest: layers: more than %d", BOX_OCI_MAX_LAYERS);
    }
    for (size_t i = 0; r >= 0 && i < json_array_size(layers); i++) {
        char path[64];
        snprintf(path, sizeof(path), "manifest: layers[%zu]", i);
        r = parse_desc(json_array_get(layers, i), path, &img->layers[i], err);
        if (r >= 0 && layer_compression(img->layers[i].media_type, &img->compression[i]) < 0)
            r = box_err_set(err, ENOTSUP, "%s.mediaType: `%s` is not supported (tar or tar+gzip)",
                            path, img->layers[i].media_type);
        img->nlayers = i + 1;
    }
    json_decref(doc);
    return r;
}

/* An array of strings, or null/absent (left NULL). */
static int strings(json_t *obj, const char *key, char ***out, size_t *n, struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return box_err_set(err, EINVAL, "config: config.%s: must be an array of strings", key);
    size_t cnt = json_array_size(v);
    if (cnt > BOX_OCI_MAX_STRINGS)
        return box_err_set(err, E2BIG, "config: config.%s: more than %d entries", key,
                           BOX_OCI_MAX_STRINGS);
    char **a = calloc(cnt + 1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || memchr(json_string_value(s), '\0', json_string_length(s)) ||
            !(a[i] = strdup(json_string_value(s)))) {
            strv_free(a);
            return box_err_set(err, EINVAL, "config: config.%s[%zu]: must be a string", key, i);
        }
    }
    *out = a;
    *n = cnt;
    return 0;
}

static int string(json_t *obj, const char *key, char **out, struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > 4096 ||
        memchr(json_string_value(v), '\0', json_string_length(v)))
        return box_err_set(err, EINVAL, "config: config.%s: must be a string (at most 4096 bytes)",
                           key);
    if (json_string_length(v) && !(*out = strdup(json_string_value(v))))
        return -ENOMEM;
    return 0;
}

static int config_platform(json_t *doc, const char *arch, struct box_oci_image *img,
                           struct box_err *err)
{
    const char *a = json_string_value(json_object_get(doc, "architecture"));
    const char *os = json_string_value(json_object_get(doc, "os"));
    if (!a || !os || strlen(a) >= sizeof(img->architecture) || strlen(os) >= sizeof(img->os))
        return box_err_set(err, EINVAL, "config: architecture and os must be short strings");
    strcpy(img->architecture, a);
    strcpy(img->os, os);
    if (strcmp(os, "linux") != 0)
        return box_err_set(err, EINVAL, "config: os `%s`: only linux images run here", os);
    if (strcmp(a, arch) != 0)
        return box_err_set(err, EINVAL,
                           "config: wrong architecture: image is for `%s`, this "
                           "machine runs `%s`",
                           a, arch);
    json_t *ids = json_object_get(json_object_get(doc, "rootfs"), "diff_ids");
    if (!json_is_array(ids) || json_array_size(ids) != img->nlayers)
        return box_err_set(err, EINVAL,
                           "config: rootfs.diff_ids must list one digest per layer (%zu)",
                           img->nlayers);
    return 0;
}

int box_oci_config_parse(const char *text, size_t len, const char *arch, struct box_oci_image *img,
                         struct box_err *err)
{
    json_t *doc = load(text, len, "config", err);
    if (!doc)
        return -err->code;
    json_t *c = json_object_get(doc, "config");
    int r = config_platform(doc, arch ? arch : box_oci_host_arch(), img, err);
    if (r >= 0 && c && !json_is_object(c) && !json_is_null(c))
        r = box_err_set(err, EINVAL, "config: config: must be an object");
    if (r >= 0)
        r = string(c, "User", &img->user, err);
    if (r >= 0)
        r = string(c, "WorkingDir", &img->workdir, err);
    if (r >= 0)
        r = strings(c, "Env", &img->env, &img->nenv, err);
    if (r >= 0)
        r = strings(c, "Entrypoint", &img->entrypoint, &img->nentrypoint, err);
    if (r >= 0)
        r = strings(c, "Cmd", &img->cmd, &img->ncmd, err);
    json_decref(doc);
    return r;
}

/* The starting descriptor: a digest given, or index.json's choice. */
static int start_desc(int dirfd, const char *tag, const char *digest, const char *arch,
                      struct box_oci_desc *d, struct box_err *err)
{
    memset(d, 0, sizeof(*d));
    if (digest) {
        if (!box_oci_digest_valid(digest))
            return box_err_set(err, EINVAL, "digest `%.80s` is not sha256:<64 hex digits>", digest);
        strcpy(d->digest, digest);
        d->size = UINT64_MAX;
        return 0;
    }
    _cleanup_close_ int fd = box_fsx_open_beneath(dirfd, "index.json", O_RDONLY, 0);
    if (fd < 0)
        return box_err_sys(err, -fd, "index.json");
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = box_read_fd(fd, BOX_OCI_MAX_INDEX, &text, &len);
    if (r < 0)
        return r == -EFBIG
                   ? box_err_set(err, EFBIG, "index.json: larger than %u bytes", BOX_OCI_MAX_INDEX)
                   : box_err_sys(err, -r, "read index.json");
    json_t *doc = load(text, len, "index.json", err);
    if (!doc)
        return -err->code;
    r = pick(doc, "index.json", tag, arch, d, err);
    json_decref(doc);
    return r;
}

int box_oci_image_resolve(int dirfd, const char *tag, const char *digest, const char *arch,
                          struct box_oci_image *img, struct box_err *err)
{
    struct box_oci_desc d;
    arch = arch ? arch : box_oci_host_arch();
    memset(img, 0, sizeof(*img));
    int r = start_desc(dirfd, tag && *tag ? tag : NULL, digest && *digest ? digest : NULL, arch, &d,
                       err);
    for (int depth = 0; r >= 0; depth++) {
        if (depth > BOX_OCI_MAX_INDEX_DEPTH)
            return box_err_set(err, ELOOP, "image indexes nested deeper than %d",
                               BOX_OCI_MAX_INDEX_DEPTH);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if ((r = box_oci_blob_read(dirfd, d.digest, d.size, BOX_OCI_MAX_MANIFEST, &text, &len,
                                   err)) < 0)
            return r;
        json_t *doc = load(text, len, d.digest, err);
        if (!doc)
            return -err->code;
        bool index = is_index(doc, d.media_type[0] ? d.media_type : NULL);
        if (index) {
            char where[128];
            snprintf(where, sizeof(where), "index %s", d.digest);
            r = pick(doc, where, NULL, arch, &d, err);
            json_decref(doc);
            continue;
        }
        json_decref(doc);
        strcpy(img->manifest_digest, d.digest);
        if ((r = box_oci_manifest_parse(text, len, img, err)) < 0)
            return box_err_prefix(err, "%s", d.digest);
        break;
    }
    if (r < 0)
        return r;
    _cleanup_free_ char *cfg = NULL;
    size_t len;
    if ((r = box_oci_blob_read(dirfd, img->config.digest, img->config.size, BOX_OCI_MAX_CONFIG,
                               &cfg, &len, err)) < 0)
        return r;
    if ((r = box_oci_config_parse(cfg, len, arch, img, err)) < 0)
        return box_err_prefix(err, "image %s", img->manifest_digest);
    return 0;
}
