/* libFuzzer target: config.json -> box_spec_parse, then box_spec_validate
 * when the parse succeeded (linux.seccomp included: parsed and validated,
 * never compiled or loaded). Whatever the input, nothing may crash, leak or
 * read out of bounds, and a failure must say why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/runtime/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct box_spec spec;
    struct box_err err;
    memset(&spec, 0, sizeof(spec));
    memset(&err, 0, sizeof(err));
    int r = box_spec_parse((const char *)data, size, &spec, &err);
    if (r >= 0) {
        memset(&err, 0, sizeof(err));
        r = box_spec_validate(&spec, &err);
    }
    /* A rejection names the field and the reason: never an empty message. */
    if (r < 0 && (err.code <= 0 || err.msg[0] == '\0' || -r != err.code))
        abort();
    box_spec_free(&spec);
    return 0;
}
