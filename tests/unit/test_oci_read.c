/* OCI layout reading: references, manifests, configs, and whole layouts
 * written here (blobs hashed with libcrypto) and resolved by tag, by digest
 * and through nested indexes; damaged and hostile layouts refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/base/fs.h"
#include "lib/image/util.h"
#include "lib/oci/layout_read.h"
#include "lib/oci/unpack.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_ref_layouts(void **state)
{
    struct box_oci_ref r;
    struct box_err err = {0};
    assert_int_equal(box_oci_ref_parse("oci:/x/y", &r, &err), 0);
    assert_int_equal(r.kind, BOX_OCI_REF_LAYOUT);
    assert_string_equal(r.path, "/x/y");
    assert_string_equal(r.tag, "");
    assert_int_equal(box_oci_ref_parse("oci:rel/dir:v1.0", &r, &err), 0);
    assert_string_equal(r.path, "rel/dir");
    assert_string_equal(r.tag, "v1.0");
    assert_int_equal(box_oci_ref_parse("oci:/a:b/c@sha256:" D64, &r, &err), 0);
    assert_string_equal(r.path, "/a:b/c");
    assert_string_equal(r.digest, "sha256:" D64);
    assert_int_equal(box_oci_ref_parse("oci:/a@sha256:abc", &r, &err), -EINVAL);
    assert_int_equal(box_oci_ref_parse("oci:/a:-bad", &r, &err), -EINVAL);
    assert_int_equal(box_oci_ref_parse("oci:", &r, &err), -EINVAL);
    assert_int_equal(box_oci_ref_parse("oci:/a\n:b", &r, &err), -EINVAL);
    (void)state;
}

static void test_ref_registry(void **state)
{
    struct box_oci_ref r;
    struct box_err err = {0};
    assert_int_equal(box_oci_ref_parse("127.0.0.1:5000/openshell/x@sha256:" D64, &r, &err), 0);
    assert_int_equal(r.kind, BOX_OCI_REF_REGISTRY);
    assert_string_equal(r.path, "127.0.0.1:5000/openshell/x");
    assert_int_equal(box_oci_ref_parse("docker://reg.io/a/b:v1@sha256:" D64, &r, &err), 0);
    assert_string_equal(r.path, "reg.io/a/b"); /* the digest decides, the tag goes */
    assert_int_equal(box_oci_ref_parse("reg.io/a/b:latest", &r, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "by digest"));
    assert_int_equal(box_oci_ref_parse("reg.io/a/b", &r, &err), -EINVAL);
    assert_int_equal(box_oci_ref_parse("reg.io/A/b@sha256:" D64, &r, &err), -EINVAL);
    assert_int_equal(box_oci_ref_parse("noslash@sha256:" D64, &r, &err), -EINVAL);
    assert_int_equal(box_oci_ref_parse("", &r, &err), -EINVAL);
    (void)state;
}

#define CFG_DESC                                                                                   \
    "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" D64         \
    "\",\"size\":5}"
#define LAYER(mt) "{\"mediaType\":\"" mt "\",\"digest\":\"sha256:" D64 "\",\"size\":7}"

static int manifest(const char *text, struct box_oci_image *img, struct box_err *err)
{
    memset(img, 0, sizeof(*img));
    return box_oci_manifest_parse(text, strlen(text), img, err);
}

static void test_manifest_parse(void **state)
{
    struct box_oci_image img;
    struct box_err err = {0};
    assert_int_equal(
        manifest("{\"schemaVersion\":2,\"config\":" CFG_DESC
                 ",\"layers\":[" LAYER("application/vnd.oci.image.layer.v1.tar+gzip") "," LAYER(
                     "application/vnd.oci.image.layer.v1.tar") "]}",
                 &img, &err),
        0);
    assert_int_equal(img.nlayers, 2);
    assert_int_equal(img.compression[0], BOX_OCI_GZIP);
    assert_int_equal(img.compression[1], BOX_OCI_PLAIN);
    assert_int_equal(img.layers[1].size, 7);
    assert_int_equal(
        manifest("{\"schemaVersion\":1,\"config\":" CFG_DESC ",\"layers\":[]}", &img, &err),
        -EINVAL);
    assert_int_equal(manifest("{\"schemaVersion\":2,\"config\":" CFG_DESC ",\"layers\":[" LAYER(
                                  "application/vnd.oci.image.layer.v1.tar+zstd") "]}",
                              &img, &err),
                     -ENOTSUP);
    assert_non_null(strstr(err.msg, "layers[0].mediaType"));
    assert_int_equal(manifest("{\"schemaVersion\":2,\"config\":" CFG_DESC
                              ",\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1."
                              "tar\",\"digest\":\"sha256:" D64 "\",\"size\":-1}]}",
                              &img, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "layers[0].size"));
    assert_int_equal(manifest("{\"schemaVersion\":2,\"schemaVersion\":2}", &img, &err), -EINVAL);
    assert_int_equal(manifest("[]", &img, &err), -EINVAL);
    /* more than BOX_OCI_MAX_LAYERS layers */
    char *big = malloc(64 << 10);
    int n = sprintf(big, "{\"schemaVersion\":2,\"config\":" CFG_DESC ",\"layers\":[");
    for (int i = 0; i <= BOX_OCI_MAX_LAYERS; i++)
        n += sprintf(big + n, "%s" LAYER("application/vnd.oci.image.layer.v1.tar"), i ? "," : "");
    strcpy(big + n, "]}");
    assert_int_equal(manifest(big, &img, &err), -E2BIG);
    free(big);
    (void)state;
}

static int config(const char *text, size_t nlayers, struct box_oci_image *img, struct box_err *err)
{
    memset(img, 0, sizeof(*img));
    img->nlayers = nlayers;
    return box_oci_config_parse(text, strlen(text), "amd64", img, err);
}

static void test_config_parse(void **state)
{
    struct box_oci_image img;
    struct box_err err = {0};
    assert_int_equal(config("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":"
                            "\"sandbox\",\"Env\":[\"A=1\"],\"Entrypoint\":[\"/w\"],\"Cmd\":null,"
                            "\"WorkingDir\":\"/home\"},\"rootfs\":{\"diff_ids\":[\"x\"]}}",
                            1, &img, &err),
                     0);
    assert_string_equal(img.user, "sandbox");
    assert_string_equal(img.entrypoint[0], "/w");
    assert_null(img.cmd);
    assert_int_equal(img.nenv, 1);
    box_oci_image_free(&img);
    assert_int_equal(config("{\"architecture\":\"arm64\",\"os\":\"linux\",\"rootfs\":{\"diff_"
                            "ids\":[]}}",
                            0, &img, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "wrong architecture"));
    assert_int_equal(config("{\"architecture\":\"amd64\",\"os\":\"windows\"}", 0, &img, &err),
                     -EINVAL);
    assert_int_equal(config("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"diff_"
                            "ids\":[\"a\"]}}",
                            2, &img, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "diff_ids"));
    assert_int_equal(config("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[1]},"
                            "\"rootfs\":{\"diff_ids\":[]}}",
                            0, &img, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "config.Env[0]"));
    box_oci_image_free(&img);
    (void)state;
}

/* ---- layouts on disk ------------------------------------------------------- */

static char dir[64];
static int dfd = -1;

static void digest_of(const char *data, size_t n, char out[BOX_OCI_DIGEST_LEN + 1])
{
    unsigned char sum[32];
    EVP_Digest(data, n, sum, NULL, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    box_hex_encode(sum, sizeof(sum), out + 7);
}

static void blob(const char *data, char out[BOX_OCI_DIGEST_LEN + 1])
{
    char path[256];
    struct box_err err;
    digest_of(data, strlen(data), out);
    snprintf(path, sizeof(path), "blobs/sha256/%s", out + 7);
    int bfd = openat(dfd, "blobs/sha256", O_RDONLY | O_DIRECTORY);
    assert_true(bfd >= 0);
    assert_int_equal(box_write_file_atomic(bfd, out + 7, data, strlen(data), 0644, &err), 0);
    close(bfd);
}

static void write_file(const char *name, const char *text)
{
    struct box_err err;
    assert_int_equal(box_write_file_atomic(dfd, name, text, strlen(text), 0644, &err), 0);
}

static int setup_layout(void **state)
{
    strcpy(dir, "/tmp/test_oci_read.XXXXXX");
    assert_non_null(mkdtemp(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    mkdirat(dfd, "blobs", 0755);
    mkdirat(dfd, "blobs/sha256", 0755);
    write_file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
    (void)state;
    return 0;
}

static int teardown_layout(void **state)
{
    close(dfd);
    box_remove_tree(AT_FDCWD, dir);
    (void)state;
    return 0;
}

/* An image: config for `arch`, one layer; its manifest digest in `md`. */
static void make_image(const char *arch, const char *user, char md[BOX_OCI_DIGEST_LEN + 1],
                       size_t *msize)
{
    char cfg[512], cd[80], ld[80], man[1024];
    blob("layer-bytes", ld);
    snprintf(cfg, sizeof(cfg),
             "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"User\":\"%s\"},"
             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
             arch, user, ld);
    blob(cfg, cd);
    snprintf(man, sizeof(man),
             "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config."
             "v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"application/"
             "vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":11}]}",
             cd, strlen(cfg), ld);
    blob(man, md);
    *msize = strlen(man);
}

static void test_layout_resolve(void **state)
{
    char a[80], b[80], idx[1024];
    size_t as, bs;
    struct box_oci_image img;
    struct box_err err = {0};
    make_image("amd64", "alice", a, &as);
    make_image("amd64", "bob", b, &bs);
    snprintf(idx, sizeof(idx),
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image."
             "manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org."
             "opencontainers.image.ref.name\":\"a\"}},{\"mediaType\":\"application/vnd.oci.image."
             "manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org."
             "opencontainers.image.ref.name\":\"b\"}}]}",
             a, as, b, bs);
    write_file("index.json", idx);
    int lfd;
    assert_int_equal(box_oci_layout_open(dir, &lfd, &err), 0);
    assert_int_equal(box_oci_image_resolve(lfd, "b", NULL, "amd64", &img, &err), 0);
    assert_string_equal(img.user, "bob");
    assert_string_equal(img.manifest_digest, b);
    box_oci_image_free(&img);
    assert_int_equal(box_oci_image_resolve(lfd, NULL, a, "amd64", &img, &err), 0);
    assert_string_equal(img.user, "alice");
    box_oci_image_free(&img);
    /* two manifests, no tag: ambiguous */
    assert_int_equal(box_oci_image_resolve(lfd, NULL, NULL, "amd64", &img, &err), -EINVAL);
    box_oci_image_free(&img);
    assert_int_equal(box_oci_image_resolve(lfd, "c", NULL, "amd64", &img, &err), -ENOENT);
    box_oci_image_free(&img);
    close(lfd);
    (void)state;
}

static void test_layout_nested_index(void **state)
{
    char amd[80], arm[80], inner[1024], id[80], idx[512];
    size_t as, rs;
    struct box_oci_image img;
    struct box_err err = {0};
    make_image("amd64", "amd-user", amd, &as);
    make_image("arm64", "arm-user", arm, &rs);
    snprintf(inner, sizeof(inner),
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
             "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":"
             "\"arm64\"}},{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":"
             "\"amd64\"}}]}",
             arm, rs, amd, as);
    blob(inner, id);
    snprintf(idx, sizeof(idx),
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image."
             "index.v1+json\",\"digest\":\"%s\",\"size\":%zu}]}",
             id, strlen(inner));
    write_file("index.json", idx);
    int lfd;
    assert_int_equal(box_oci_layout_open(dir, &lfd, &err), 0);
    assert_int_equal(box_oci_image_resolve(lfd, NULL, NULL, "amd64", &img, &err), 0);
    assert_string_equal(img.user, "amd-user");
    box_oci_image_free(&img);
    assert_int_equal(box_oci_image_resolve(lfd, NULL, NULL, "arm64", &img, &err), 0);
    assert_string_equal(img.user, "arm-user");
    box_oci_image_free(&img);
    close(lfd);
    (void)state;
}

static void test_layout_damage(void **state)
{
    char a[80], path[256];
    size_t as;
    struct box_oci_image img;
    struct box_err err = {0};
    make_image("amd64", "alice", a, &as);
    int lfd;
    assert_int_equal(box_oci_layout_open(dir, &lfd, &err), 0);
    /* a descriptor with the wrong size */
    char *text;
    size_t len;
    assert_int_equal(box_oci_blob_read(lfd, a, as + 1, 1 << 20, &text, &len, &err), -EBADMSG);
    /* content that does not hash to its name */
    snprintf(path, sizeof(path), "blobs/sha256/%s", a + 7);
    int fd = openat(dfd, path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 0), 1);
    close(fd);
    assert_int_equal(box_oci_image_resolve(lfd, NULL, a, "amd64", &img, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "does not match its digest"));
    box_oci_image_free(&img);
    /* a blob that is a symlink is never followed */
    char b[80];
    size_t bs;
    make_image("amd64", "bob", b, &bs);
    snprintf(path, sizeof(path), "blobs/sha256/%s", b + 7);
    unlinkat(dfd, path, 0);
    assert_int_equal(symlinkat("/etc/passwd", dfd, path), 0);
    assert_true(box_oci_image_resolve(lfd, NULL, b, "amd64", &img, &err) < 0);
    box_oci_image_free(&img);
    /* a layout without oci-layout */
    close(lfd);
    unlinkat(dfd, "oci-layout", 0);
    assert_int_equal(box_oci_layout_open(dir, &lfd, &err), -ENOENT);
    (void)state;
}

static void test_whiteout_kind(void **state)
{
    const char *t = NULL;
    assert_int_equal(box_oci_whiteout_kind("etc/.wh.passwd", &t), BOX_OCI_WH_FILE);
    assert_string_equal(t, "passwd");
    assert_int_equal(box_oci_whiteout_kind(".wh.top", &t), BOX_OCI_WH_FILE);
    assert_int_equal(box_oci_whiteout_kind("a/.wh..wh..opq", &t), BOX_OCI_WH_OPAQUE);
    assert_int_equal(box_oci_whiteout_kind("a/.wh.", &t), BOX_OCI_WH_BAD);
    assert_int_equal(box_oci_whiteout_kind("a/.wh..", &t), BOX_OCI_WH_BAD);
    assert_int_equal(box_oci_whiteout_kind("a/.wh..wh.plnk", &t), BOX_OCI_WH_BAD);
    assert_int_equal(box_oci_whiteout_kind("a/x.wh.y", &t), BOX_OCI_WH_NONE);
    assert_int_equal(box_oci_whiteout_kind("a/.whx", &t), BOX_OCI_WH_NONE);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_layouts),
        cmocka_unit_test(test_ref_registry),
        cmocka_unit_test(test_manifest_parse),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test_setup_teardown(test_layout_resolve, setup_layout, teardown_layout),
        cmocka_unit_test_setup_teardown(test_layout_nested_index, setup_layout, teardown_layout),
        cmocka_unit_test_setup_teardown(test_layout_damage, setup_layout, teardown_layout),
        cmocka_unit_test(test_whiteout_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
