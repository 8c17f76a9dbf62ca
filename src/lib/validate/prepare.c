#include "lib/validate/prepare.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/oci/unpack.h"
#include "lib/validate/config.h"

/* The last non-empty line of a captured stream, for an error message. */
static const char *last_line(const struct box_capture *c, char *out, size_t size)
{
    size_t end = c->len;
    while (end > 0 && (c->buf[end - 1] == '\n' || c->buf[end - 1] == ' '))
        end--;
    size_t start = end;
    while (start > 0 && c->buf[start - 1] != '\n')
        start--;
    size_t n = end - start < size - 1 ? end - start : size - 1;
    memcpy(out, c->buf + start, n);
    out[n] = '\0';
    return out;
}

int box_prepare_pull(const struct box_runner_opts *o, const struct box_oci_ref *ref,
                     const char *layout, struct box_err *err)
{
    char src[4200], dst[PATH_MAX + 8];
    snprintf(src, sizeof(src), "docker://%s@%s", ref->path, ref->digest);
    snprintf(dst, sizeof(dst), "oci:%s", layout);
    /* The digest is the trust anchor: it is checked on every blob read. */
    char *argv[] = {(char *)o->skopeo,
                    "--insecure-policy",
                    "copy",
                    "--quiet",
                    "--preserve-digests",
                    o->insecure_registry ? "--src-tls-verify=false" : "--src-tls-verify=true",
                    src,
                    dst,
                    NULL};
    if (!o->skopeo || access(o->skopeo, X_OK) < 0)
        return box_err_set(err, ENOENT,
                           "image `%s@%s`: skopeo is needed for registry images "
                           "and was not found",
                           ref->path, ref->digest);
    struct box_proc p;
    int r = box_proc_run(argv, 64 << 10, (int)o->pull_timeout_s * 1000, &p, err);
    if (r >= 0 && box_proc_exit_code(p.status) != 0) {
        char line[512];
        r = box_err_set(err, EIO, "skopeo copy %s: exit %d: %s", src, box_proc_exit_code(p.status),
                        last_line(&p.cap[BOX_STDERR], line, sizeof(line)));
    } else if (r < 0) {
        box_err_prefix(err, "skopeo copy %s", src);
    }
    box_proc_release(&p);
    return r;
}

/* Resolves the workload's image into an open layout and a parsed image. */
static int get_image(const struct box_runner_opts *o, const struct box_wl *w, const char *job_dir,
                     int *layout_fd, struct box_oci_image *img, struct box_err *err)
{
    struct box_oci_ref ref;
    char path[PATH_MAX + 64];
    int r = box_oci_ref_parse(w->image, &ref, err);
    if (r < 0)
        return r;
    if (ref.kind == BOX_OCI_REF_REGISTRY) {
        snprintf(path, sizeof(path), "%s/image", job_dir);
        if ((r = box_prepare_pull(o, &ref, path, err)) < 0)
            return r;
    } else if (ref.path[0] != '/' && o->base_dir) {
        /* Relative to the manifest's directory; failing that, to the
         * current directory (manifests written from the repository root). */
        snprintf(path, sizeof(path), "%s/%s/oci-layout", o->base_dir, ref.path);
        if (access(path, F_OK) == 0)
            snprintf(path, sizeof(path), "%s/%s", o->base_dir, ref.path);
        else
            snprintf(path, sizeof(path), "%s", ref.path);
    } else {
        snprintf(path, sizeof(path), "%s", ref.path);
    }
    if ((r = box_oci_layout_open(path, layout_fd, err)) < 0)
        return r;
    r = box_oci_image_resolve(*layout_fd, ref.tag, ref.digest, NULL, img, err);
    if (r < 0)
        return box_err_prefix(err, "image `%s`", w->image);
    return 0;
}

int box_prepare_bundle(const struct box_runner_opts *o, const struct box_wl *w, const char *job_dir,
                       struct box_result *res, struct box_err *err)
{
    int64_t t0 = box_now_ms();
    struct box_oci_image img;
    _cleanup_close_ int layout_fd = -1, job_fd = -1, bundle_fd = -1, rootfs_fd = -1;
    struct box_oci_unpack_stats st;
    int64_t t1 = 0, t2 = 0;
    memset(&img, 0, sizeof(img));
    int r = get_image(o, w, job_dir, &layout_fd, &img, err);
    if (r < 0)
        goto out;
    snprintf(res->digest, sizeof(res->digest), "%s", img.manifest_digest);
    t1 = box_now_ms();
    res->ms_fetch = t1 - t0;
    job_fd = open(job_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (job_fd < 0 || mkdirat(job_fd, "bundle", 0700) < 0) {
        r = box_err_sys(err, errno, "bundle directory in `%s`", job_dir);
        goto out;
    }
    bundle_fd = openat(job_fd, "bundle", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bundle_fd < 0 || mkdirat(bundle_fd, "rootfs", 0755) < 0) {
        r = box_err_sys(err, errno, "root filesystem directory in `%s`", job_dir);
        goto out;
    }
    if ((r = box_oci_unpack(layout_fd, &img, bundle_fd, "rootfs", &st, err)) < 0) {
        box_err_prefix(err, "image `%s`", w->image);
        goto out;
    }
    t2 = box_now_ms();
    res->ms_unpack = t2 - t1;
    rootfs_fd = openat(bundle_fd, "rootfs", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfs_fd < 0) {
        r = box_err_sys(err, errno, "root filesystem of `%s`", w->name);
        goto out;
    }
    r = box_validate_config(bundle_fd, rootfs_fd, &img, w->command, "box-validate", err);
    if (r < 0)
        box_err_prefix(err, "bundle of `%s`", w->name);
    res->ms_bundle = box_now_ms() - t2;
out:
    box_oci_image_free(&img);
    return r;
}
