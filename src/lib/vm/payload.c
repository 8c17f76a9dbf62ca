#include "lib/vm/payload.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/vm/text.h"
#include "lib/vm/validate.h"

/* softwareVersions entries and the packages they come from. */
static const struct {
    const char *package, *software;
    bool required_form; /* a version that is not X.Y.Z is an error, not a note */
} software_map[] = {
    {"kubelet", "kubernetes", true},
    {"containerd", "containerd", false},
    {"nvidia-container-toolkit", "nvidia-container-toolkit", false},
};

/* Packages that must carry the same version as kubelet. */
static const char *const kube_siblings[] = {"kubeadm", "kubectl"};

static void __attribute__((format(printf, 2, 3))) note(struct box_vm_notes *n, const char *fmt, ...)
{
    if (!n || n->n >= BOX_VM_NOTES_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->text[n->n++], sizeof(n->text[0]), fmt, ap);
    va_end(ap);
}

/* ---- facts ----------------------------------------------------------------- */

/* A string field into out (size bytes). required: absent is an error. */
static int fact_string(json_t *obj, const char *key, const char *path, bool required, char *out,
                       size_t size, struct box_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return box_err_set(err, EINVAL, "facts `%s%s`: missing", path, key);
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v))
        return box_err_set(err, EINVAL, "facts `%s%s`: not a string", path, key);
    const char *s = json_string_value(v);
    if (strlen(s) >= size)
        return box_err_set(err, EINVAL, "facts `%s%s`: longer than %zu characters", path, key,
                           size - 1);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return box_err_set(err, EINVAL, "facts `%s%s`: holds a control character", path, key);
    if (required && !*s)
        return box_err_set(err, EINVAL, "facts `%s%s`: empty", path, key);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

#define FACT(obj, key, path, req, field)                                                           \
    do {                                                                                           \
        int _r = fact_string(obj, key, path, req, field, sizeof(field), err);                      \
        if (_r < 0)                                                                                \
            return _r;                                                                             \
    } while (0)

static int facts_os(json_t *os, struct box_vm_facts *f, struct box_err *err)
{
    if (!json_is_object(os))
        return box_err_set(err, EINVAL, "facts `os`: missing or not an object");
    FACT(os, "kernel", "os.", true, f->os_kernel);
    FACT(os, "family", "os.", true, f->os_family);
    FACT(os, "distro", "os.", true, f->os_distro);
    FACT(os, "version", "os.", true, f->os_version);
    FACT(os, "codename", "os.", false, f->os_codename);
    FACT(os, "variant", "os.", false, f->os_variant);
    if (strcmp(f->os_kernel, "linux") != 0)
        return box_err_set(err, EINVAL, "facts `os.kernel`: `%s` is not linux", f->os_kernel);
    return 0;
}

static int facts_gpu(json_t *gpu, struct box_vm_facts *f, struct box_err *err)
{
    if (!gpu || json_is_null(gpu))
        return 0;
    if (!json_is_object(gpu))
        return box_err_set(err, EINVAL, "facts `gpu`: neither null nor an object");
    FACT(gpu, "vendor", "gpu.", true, f->gpu_vendor);
    FACT(gpu, "driver", "gpu.", true, f->gpu_driver);
    json_t *fw = json_object_get(gpu, "firmware_option");
    if (fw && !json_is_boolean(fw))
        return box_err_set(err, EINVAL, "facts `gpu.firmware_option`: not a boolean");
    f->firmware_option = json_is_true(fw);
    f->gpu = true;
    return 0;
}

static int facts_packages(json_t *pk, struct box_vm_facts *f, struct box_err *err)
{
    if (!pk || json_is_null(pk)) {
        f->packages = json_object();
        return f->packages ? 0 : box_err_set(err, ENOMEM, "facts");
    }
    if (!json_is_object(pk))
        return box_err_set(err, EINVAL, "facts `packages`: not an object");
    if (json_object_size(pk) > 4096)
        return box_err_set(err, EINVAL, "facts `packages`: more than 4096 entries");
    const char *k;
    json_t *v;
    json_object_foreach(pk, k, v)
    {
        if (!json_is_string(v) || json_string_length(v) > 128)
            return box_err_set(err, EINVAL, "facts `packages.%.64s`: not a version string", k);
    }
    f->packages = json_incref(pk);
    return 0;
}

static int facts_fields(json_t *doc, struct box_vm_facts *f, struct box_err *err)
{
    FACT(doc, "image", "", true, f->image);
    if (strchr(f->image, '/'))
        return box_err_set(err, EINVAL, "facts `image`: a file name, not a path");
    FACT(doc, "sha256", "", true, f->sha256);
    FACT(doc, "format", "", true, f->format);
    FACT(doc, "architecture", "", true, f->architecture);
    FACT(doc, "kernel", "", false, f->kernel);
    FACT(doc, "template", "", false, f->template_name);
    FACT(doc, "built_at", "", false, f->built_at);
    if (strlen(f->sha256) != 64 || strspn(f->sha256, "0123456789abcdef") != 64)
        return box_err_set(err, EINVAL, "facts `sha256`: not 64 lowercase hex digits");
    json_t *size = json_object_get(doc, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 512)
        return box_err_set(err, EINVAL, "facts `size`: not an integer of at least 512");
    f->size = (uint64_t)json_integer_value(size);
    if (strcmp(f->format, "raw") != 0)
        return box_err_set(err, EINVAL,
                           "facts `format`: `%s`: the region imports raw images only "
                           "(qemu-img convert -O raw)",
                           f->format);
    if (strcmp(f->architecture, "x86_64") != 0 && strcmp(f->architecture, "aarch64") != 0)
        return box_err_set(err, EINVAL, "facts `architecture`: `%s` is not x86_64 or aarch64",
                           f->architecture);
    int r = facts_os(json_object_get(doc, "os"), f, err);
    if (r >= 0)
        r = facts_gpu(json_object_get(doc, "gpu"), f, err);
    if (r >= 0)
        r = facts_packages(json_object_get(doc, "packages"), f, err);
    return r;
}

int box_vm_facts_parse(const char *buf, size_t len, struct box_vm_facts *f, struct box_err *err)
{
    memset(f, 0, sizeof(*f));
    if (len > BOX_VM_FACTS_MAX)
        return box_err_set(err, EFBIG, "facts: larger than %u bytes", BOX_VM_FACTS_MAX);
    json_error_t jerr;
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return box_err_set(err, EINVAL, "facts: not JSON: %s at line %d, column %d", jerr.text,
                           jerr.line, jerr.column);
    int r = json_is_object(doc) ? facts_fields(doc, f, err)
                                : box_err_set(err, EINVAL, "facts: not a JSON object");
    json_decref(doc);
    if (r < 0)
        box_vm_facts_free(f);
    return r;
}

void box_vm_facts_free(struct box_vm_facts *f)
{
    json_decref(f->packages);
    f->packages = NULL;
}

/* ---- versions ----------------------------------------------------------------- */

int box_vm_package_semver(const char *version, char *out, size_t size)
{
    const char *p = version;
    const char *colon = strchr(p, ':');
    if (colon && colon > p && strspn(p, "0123456789") == (size_t)(colon - p))
        p = colon + 1; /* a Debian epoch */
    size_t n = strcspn(p, "-~+");
    if (n == 0 || n >= 64 || (size_t)snprintf(out, size, "v%.*s", (int)n, p) >= size)
        return -EINVAL;
    return box_vm_check_semver(out) ? -EINVAL : 0;
}

static int software_versions(const struct box_vm_facts *f, json_t *sv, struct box_vm_notes *notes,
                             struct box_err *err)
{
    const char *kubelet = json_string_value(json_object_get(f->packages, "kubelet"));
    for (size_t i = 0; kubelet && i < BOX_ARRAY_SIZE(kube_siblings); i++) {
        const char *other = json_string_value(json_object_get(f->packages, kube_siblings[i]));
        if (other && strcmp(other, kubelet) != 0)
            return box_err_set(err, EINVAL,
                               "facts `packages`: kubelet %.64s and %s %.64s differ: the image "
                               "would not match the kubernetes version it declares",
                               kubelet, kube_siblings[i], other);
    }
    for (size_t i = 0; i < BOX_ARRAY_SIZE(software_map); i++) {
        const char *ver = json_string_value(json_object_get(f->packages, software_map[i].package));
        char sem[72], q[BOX_VM_QUOTE_MAX];
        if (!ver)
            continue;
        if (box_vm_package_semver(ver, sem, sizeof(sem)) < 0) {
            if (software_map[i].required_form)
                return box_err_set(err, EINVAL,
                                   "facts `packages.%s`: %s has no X.Y.Z version for "
                                   "softwareVersions.%s",
                                   software_map[i].package, box_vm_quote(ver, q, sizeof(q)),
                                   software_map[i].software);
            note(notes, "packages.%s %s is not X.Y.Z: left out of softwareVersions",
                 software_map[i].package, box_vm_quote(ver, q, sizeof(q)));
            continue;
        }
        json_object_set_new(sv, software_map[i].software, json_string(sem));
    }
    return 0;
}

/* ---- the payload ---------------------------------------------------------------- */

static void default_name(const struct box_vm_facts *f, char *out, size_t size)
{
    char raw[160];
    snprintf(raw, sizeof(raw), "%s%s-%s", f->os_distro, f->os_version,
             f->template_name[0] ? f->template_name : "image");
    size_t n = 0;
    for (const char *p = raw; *p && n < 54; p++) {
        char ch = (char)tolower((unsigned char)*p);
        if (ch == '.')
            continue; /* 22.04 -> 2204 */
        out[n++] = isalnum((unsigned char)ch) || ch == '-' || ch == '_' ? ch : '-';
    }
    while (n > 0 && !isalnum((unsigned char)out[n - 1]))
        n--;
    snprintf(out + n, size - n, "%s%.8s", n ? "-" : "", f->sha256);
}

static void default_description(const struct box_vm_facts *f, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "%s%s%s %s", f->template_name,
                                f->template_name[0] ? ": " : "", f->os_distro, f->os_version);
    if (f->os_codename[0] && n < size)
        n += (size_t)snprintf(out + n, size - n, " (%s)", f->os_codename);
    if (f->kernel[0] && n < size)
        n += (size_t)snprintf(out + n, size - n, ", kernel %s", f->kernel);
    if (f->gpu && n < size)
        n += (size_t)snprintf(out + n, size - n, ", %s driver %s%s", f->gpu_vendor, f->gpu_driver,
                              f->firmware_option ? " with NVreg_EnableGpuFirmware=1" : "");
    if (n < size)
        n += (size_t)snprintf(out + n, size - n, ", %s sha256 %s", f->image, f->sha256);
    if (f->built_at[0] && n < size)
        snprintf(out + n, size - n, ", built %s", f->built_at);
}

static json_t *os_section(const struct box_vm_facts *f)
{
    json_t *os = json_pack("{s:s, s:s, s:s, s:s}", "kernel", f->os_kernel, "family", f->os_family,
                           "distro", f->os_distro, "version", f->os_version);
    if (os && f->os_variant[0])
        json_object_set_new(os, "variant", json_string(f->os_variant));
    if (os && f->os_codename[0])
        json_object_set_new(os, "codename", json_string(f->os_codename));
    return os;
}

static int gpu_section(const struct box_vm_facts *f, const struct box_vm_payload_opts *o,
                       json_t *spec, struct box_err *err)
{
    if (!f->gpu || strcmp(f->gpu_vendor, "NVIDIA") != 0) {
        if (o->nmodels)
            return box_err_set(err, EINVAL,
                               "--gpu-model: the image has no NVIDIA driver (facts `gpu` is %s)",
                               f->gpu ? "another vendor's" : "null");
        return 0;
    }
    if (o->nmodels == 0)
        return box_err_set(err, EINVAL,
                           "the image has an NVIDIA driver: name the GPU models it is for with "
                           "--gpu-model (the region refuses a gpu section without models)");
    json_t *models = json_array();
    for (size_t i = 0; models && i < o->nmodels; i++) {
        const char *why = box_vm_check_model(o->models[i]);
        char q[BOX_VM_QUOTE_MAX];
        if (why) {
            json_decref(models);
            return box_err_set(err, EINVAL, "--gpu-model %s %s",
                               box_vm_quote(o->models[i], q, sizeof(q)), why);
        }
        json_array_append_new(models, json_string(o->models[i]));
    }
    json_t *gpu =
        json_pack("{s:s, s:s, s:o}", "vendor", "NVIDIA", "driver", f->gpu_driver, "models", models);
    if (!gpu)
        return box_err_set(err, ENOMEM, "payload");
    json_object_set_new(spec, "gpu", gpu);
    return 0;
}

static json_t *metadata_section(const struct box_vm_facts *f, const struct box_vm_payload_opts *o,
                                struct box_err *err)
{
    char name[80], desc[1024];
    default_name(f, name, sizeof(name));
    default_description(f, desc, sizeof(desc));
    json_t *md = json_pack("{s:s, s:s}", "name", o->name ? o->name : name, "description",
                           o->description ? o->description : desc);
    if (!md || o->ntags == 0)
        return md;
    json_t *tags = json_array();
    for (size_t i = 0; tags && i < o->ntags; i++)
        json_array_append_new(
            tags, json_pack("{s:s, s:s}", "name", o->tags[i].name, "value", o->tags[i].value));
    json_object_set_new(md, "tags", tags);
    (void)err;
    return md;
}

static void uri_note(const struct box_vm_facts *f, const char *uri, struct box_vm_notes *notes)
{
    size_t end = strcspn(uri, "?#");
    const char *base = uri;
    for (size_t i = 0; i < end; i++)
        if (uri[i] == '/')
            base = uri + i + 1;
    size_t n = (size_t)(uri + end - base);
    if (n != strlen(f->image) || strncmp(base, f->image, n) != 0)
        note(notes, "the URI's file name `%.*s` is not the image's `%s`: is it the same file?",
             (int)(n > 100 ? 100 : n), base, f->image);
}

static int check_result(json_t *doc, struct box_err *err)
{
    struct box_vm_report *rep = calloc(1, sizeof(*rep));
    if (!rep)
        return box_err_set(err, ENOMEM, "payload");
    struct box_vm_validate_opts vo = {0};
    int r = 0;
    if (box_vm_validate_json(doc, &vo, rep) > 0)
        r = box_err_set(err, EINVAL, "the payload would be refused: `%s`: %s",
                        rep->errors[0].pointer, rep->errors[0].message);
    free(rep);
    return r;
}

int box_vm_payload_build(const struct box_vm_facts *f, const struct box_vm_payload_opts *o,
                         json_t **out, struct box_vm_notes *notes, struct box_err *err)
{
    if (!o->uri)
        return box_err_set(err, EINVAL, "--uri is required");
    const char *why = box_vm_check_uri(o->uri);
    char q[BOX_VM_QUOTE_MAX];
    if (why)
        return box_err_set(err, EINVAL, "--uri %s %s", box_vm_quote(o->uri, q, sizeof(q)), why);
    json_t *spec = json_pack(
        "{s:s, s:s, s:s, s:o}", "uri", o->uri, "architecture", f->architecture, "virtualization",
        o->virtualization ? o->virtualization : "virtualized", "os", os_section(f));
    json_t *sv = json_object();
    json_t *md = metadata_section(f, o, err);
    int r = spec && sv && md ? 0 : box_err_set(err, ENOMEM, "payload");
    if (r >= 0)
        r = software_versions(f, sv, notes, err);
    if (r >= 0 && json_object_size(sv) > 0)
        json_object_set(spec, "softwareVersions", sv);
    if (r >= 0)
        r = gpu_section(f, o, spec, err);
    json_decref(sv);
    json_t *doc = r >= 0 ? json_pack("{s:O, s:O}", "metadata", md, "spec", spec) : NULL;
    json_decref(md);
    json_decref(spec);
    if (r >= 0 && !doc)
        r = box_err_set(err, ENOMEM, "payload");
    if (r >= 0)
        r = check_result(doc, err);
    if (r < 0) {
        json_decref(doc);
        return r;
    }
    uri_note(f, o->uri, notes);
    *out = doc;
    return 0;
}
