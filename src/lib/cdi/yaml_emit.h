/* Writes a JSON value as YAML through libyaml's emitter: block style, keys in
 * the object's order, strings quoted whenever a YAML 1.1 or 1.2 reader could
 * take them for anything but a string ("0", "yes", "0.5.0", "null"). */
#ifndef BOX_CDI_YAML_EMIT_H
#define BOX_CDI_YAML_EMIT_H

#include <jansson.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_YAML_MAX_DEPTH 64
#define BOX_YAML_MAX_BYTES (64u << 20)

/* On success *out holds a NUL-terminated document of *len bytes (free()). */
int box_yaml_emit(json_t *value, char **out, size_t *len, struct box_err *err);

#endif
