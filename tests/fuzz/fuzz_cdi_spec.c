/* libFuzzer target: a CDI spec file. The first byte picks JSON or YAML;
 * the rest is the file. A spec that parses has the edits of every device
 * applied to a small config. Whatever the input, nothing may crash, leak,
 * read out of bounds or take unbounded time (YAML aliases), and every
 * rejection says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cdi/cdi.h"

static const char config[] = "{\"process\":{\"env\":[\"A=1\"],\"user\":{\"uid\":1,\"gid\":1}},"
                             "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\"}]}";

static void check(int r, const struct box_err *err)
{
    if (r < 0 && (err->code <= 0 || err->msg[0] == '\0' || -r != err->code))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum box_cdi_format fmt = data[0] & 1 ? BOX_CDI_FORMAT_YAML : BOX_CDI_FORMAT_JSON;
    struct box_cdi_spec spec;
    struct box_err err = {0};
    int r = box_cdi_spec_parse((const char *)data + 1, size - 1, fmt, "fuzz", &spec, &err);
    check(r, &err);
    if (r < 0)
        return 0;
    json_t *cfg = json_loads(config, 0, NULL);
    json_t **edits = calloc(spec.n_devices + 1, sizeof(*edits));
    size_t n = 0;
    if (spec.edits)
        edits[n++] = spec.edits;
    for (size_t i = 0; i < spec.n_devices && n < 64; i++)
        edits[n++] = spec.devices[i].edits;
    memset(&err, 0, sizeof(err));
    r = box_cdi_edits_apply(cfg, edits, NULL, n, NULL, &err);
    check(r, &err);
    free(edits);
    json_decref(cfg);
    box_cdi_spec_free(&spec);
    return 0;
}
