/* Where the region API is and who calls it: NSCALE_SERVICE_TOKEN,
 * NSCALE_REGION_SERVICE_API_ENDPOINT, NSCALE_ORGANIZATION_ID and
 * NSCALE_REGION_ID, from the environment or from an env file that only its
 * owner can read (mode 0600 or stricter).
 *
 * The token is a secret: it is never put in an error message, and it is
 * wiped from memory by box_vm_settings_free. */
#ifndef BOX_VM_SETTINGS_H
#define BOX_VM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

#define BOX_VM_ENV_FILE_MAX (64u << 10)
#define BOX_VM_TOKEN_MAX    16384
#define BOX_VM_ENDPOINT_MAX 1024

enum box_vm_need {
    BOX_VM_NEED_TOKEN = 1,
    BOX_VM_NEED_ENDPOINT = 2,
    BOX_VM_NEED_ORGANIZATION = 4,
    BOX_VM_NEED_REGION = 8,
};

struct box_vm_settings {
    char *token;                          /* NULL when unset */
    char endpoint[BOX_VM_ENDPOINT_MAX];   /* no trailing '/'; "" when unset */
    char organization[40], region[40];    /* UUIDs; "" when unset */
    char token_from[BOX_VM_ENDPOINT_MAX]; /* where the token came from, for messages */
};

/* Reads env_file when it is not NULL (its values win), then fills what is
 * still unset from the environment, and checks every value that is set. */
int box_vm_settings_load(struct box_vm_settings *s, const char *env_file, struct box_err *err);

/* Parses env-file text (KEY=VALUE lines, `export` and quotes allowed,
 * keys other than NSCALE_* ignored); name is used in messages. */
int box_vm_settings_parse_env(struct box_vm_settings *s, const char *text, size_t len,
                              const char *name, struct box_err *err);

/* Fills unset values from the process environment. */
int box_vm_settings_from_environ(struct box_vm_settings *s, struct box_err *err);

/* -EINVAL naming the first missing setting of `need` (a mask of box_vm_need). */
int box_vm_settings_require(const struct box_vm_settings *s, unsigned need, struct box_err *err);

/* Wipes and frees the token. */
void box_vm_settings_free(struct box_vm_settings *s);

/* 8-4-4-4-12 hexadecimal digits. */
bool box_vm_is_uuid(const char *s);

/* Checks an API endpoint: an http(s) URL without query or credentials;
 * plain http only to a loopback host, because the token travels with every
 * request. Returns NULL or the reason. */
const char *box_vm_check_endpoint(const char *s);

#endif
