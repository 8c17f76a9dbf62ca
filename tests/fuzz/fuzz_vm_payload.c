/* libFuzzer target: the image payload validator (duplicate keys, depth,
 * pointers, quoting of hostile strings) and the facts parser and payload
 * generator on the same bytes. Seeds: tests/vm/payloads. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vm/payload.h"
#include "lib/vm/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct box_vm_report rep;
    struct box_err err = {0};
    struct box_vm_validate_opts o = {.allow_unknown = size & 1};
    memset(&rep, 0, sizeof(rep));
    json_t *doc = NULL;
    if (box_vm_validate_buf((const char *)data, size, &o, &rep, &doc, &err) == 0)
        json_decref(doc);
    struct box_vm_facts f;
    if (box_vm_facts_parse((const char *)data, size, &f, &err) == 0) {
        const char *models[] = {"H100"};
        struct box_vm_payload_opts po = {
            .uri = "https://h.example/x.raw", .models = models, .nmodels = 1};
        json_t *out = NULL;
        if (box_vm_payload_build(&f, &po, &out, NULL, &err) == 0)
            json_decref(out);
        box_vm_facts_free(&f);
    }
    return 0;
}
