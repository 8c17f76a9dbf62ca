/* The registration payload of an image, generated from the facts file that
 * `box vm build` writes next to it, so that the metadata the region stores
 * matches what is inside the image: the driver version from the built
 * module, softwareVersions from the installed packages, a gpu section only
 * for NVIDIA images.
 *
 * The facts file (JSON, at most 1 MiB; fields not listed are ignored):
 *   image         file name of the raw disk image
 *   sha256        64 lowercase hex digits; size: bytes (>= 512)
 *   format        "raw" (the region imports nothing else)
 *   architecture  "x86_64" | "aarch64"
 *   os            {kernel:"linux", family, distro, version, codename?, variant?}
 *   kernel        `uname -r` of the image's kernel
 *   gpu           null, or {vendor:"NVIDIA", driver:"<modinfo version>",
 *                 firmware_option: bool}
 *   packages      {"<package>": "<installed version>", ...}
 *   template      the template's name; built_at: RFC 3339 time */
#ifndef BOX_VM_PAYLOAD_H
#define BOX_VM_PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/base/err.h"

#define BOX_VM_FACTS_MAX (1u << 20)
#define BOX_VM_NOTES_MAX 8

struct box_vm_facts {
    char image[256], sha256[65], format[16], architecture[16];
    uint64_t size;
    char os_kernel[16], os_family[64], os_distro[64], os_version[64], os_codename[64],
        os_variant[64];
    char kernel[128];
    bool gpu, firmware_option;
    char gpu_vendor[16], gpu_driver[64];
    char template_name[128], built_at[64];
    json_t *packages; /* object of strings; owned */
};

struct box_vm_tag {
    const char *name, *value;
};

struct box_vm_payload_opts {
    const char *uri;            /* required */
    const char *name;           /* default: <distro><version>-<template>-<sha256[:8]> */
    const char *description;    /* default: a summary of the facts */
    const char *virtualization; /* default "virtualized" */
    const struct box_vm_tag *tags;
    size_t ntags;
    const char *const *models; /* GPU models; required when the image has a driver */
    size_t nmodels;
};

struct box_vm_notes {
    char text[BOX_VM_NOTES_MAX][256];
    size_t n;
};

/* Parses and checks a facts document; errors name the field ("facts
 * `os.version`: ..."). box_vm_facts_free releases it. */
int box_vm_facts_parse(const char *buf, size_t len, struct box_vm_facts *f, struct box_err *err);
void box_vm_facts_free(struct box_vm_facts *f);

/* Builds the payload; the result passes box_vm_validate_json. notes, when
 * not NULL, receives remarks worth showing (a URI whose file name differs
 * from the image's, packages whose version is not X.Y.Z). */
int box_vm_payload_build(const struct box_vm_facts *f, const struct box_vm_payload_opts *o,
                         json_t **out, struct box_vm_notes *notes, struct box_err *err);

/* "1:1.30.0-1.1" -> "v1.30.0"; -EINVAL when the upstream part is not X.Y.Z. */
int box_vm_package_semver(const char *version, char *out, size_t size);

#endif
