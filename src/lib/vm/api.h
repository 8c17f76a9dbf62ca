/* The region API's image endpoints over libcurl (region-api-images.yaml):
 *   list      GET    /api/v2/regions/{region}/images?organizationID=&scope=&status=
 *   register  POST   /api/v1/organizations/{org}/regions/{region}/images
 *   delete    DELETE /api/v1/organizations/{org}/regions/{region}/images/{id}
 *
 * Every request has a connect timeout and a total timeout. GETs are retried
 * with exponential backoff on connection errors and 5xx answers. A POST or
 * DELETE whose bytes reached the server is never retried: image names are not
 * unique, so a second POST could create a second image; the caller learns
 * that the outcome is unknown (-BOX_VM_EUNKNOWN) and how to check.
 *
 * Errors carry an errno that box_vm_exit_code() maps to the exit status of a
 * failure class, and a message that explains the answer (a 403 names the
 * permission and the organization; a 400 or 422 carries the server's
 * error_description). Redirects are not followed: the token goes to the
 * configured endpoint only. */
#ifndef BOX_VM_API_H
#define BOX_VM_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"
#include "lib/vm/settings.h"

#define BOX_VM_RESPONSE_MAX (8u << 20) /* bytes of one response body */
#define BOX_VM_IMAGES_MAX   100000     /* images in one listing */
#define BOX_VM_STATUSES_MAX 4

/* The errno of "the request may have taken effect". */
#define BOX_VM_EUNKNOWN EINPROGRESS
/* The errno of "the image import failed" (--wait saw state failed). */
#define BOX_VM_EFAILED ECANCELED

/* Exit statuses by failure class. */
enum box_vm_exit {
    BOX_VM_EXIT_OK = 0,
    BOX_VM_EXIT_INVALID = 1,   /* usage, settings, payload; 400 and 422 answers */
    BOX_VM_EXIT_AUTH = 2,      /* 401, 403 */
    BOX_VM_EXIT_NOT_FOUND = 3, /* 404 */
    BOX_VM_EXIT_SERVER = 4,    /* 5xx after retries, connection errors, bad answers */
    BOX_VM_EXIT_TIMEOUT = 5,   /* a request or --wait ran out of time */
    BOX_VM_EXIT_UNKNOWN = 6,   /* a POST or DELETE was cut after sending: may have happened */
    BOX_VM_EXIT_FAILED = 7,    /* the image reached state failed */
};

int box_vm_exit_code(int errno_code);

struct box_vm_client {
    const struct box_vm_settings *settings;
    long connect_timeout_s; /* per request; default 10 */
    long timeout_s;         /* per request, all of it; default 60 */
    int get_retries;        /* more attempts for a GET; default 4 */
    long backoff_ms;        /* first pause, doubled each time, at most 8 s; default 250 */
    const char *user_agent;
    int attempts; /* requests the last call made (reported in messages) */
};

void box_vm_client_init(struct box_vm_client *c, const struct box_vm_settings *s);

struct box_vm_list_query {
    bool organization; /* pass the organization id (else: global images only) */
    const char *scope; /* "owned", "available" or NULL */
    const char *statuses[BOX_VM_STATUSES_MAX];
    size_t nstatuses;
};

/* URLs of the three endpoints, from the settings; -ENAMETOOLONG. */
int box_vm_url_list(const struct box_vm_client *c, const struct box_vm_list_query *q, char *out,
                    size_t size);
int box_vm_url_images(const struct box_vm_client *c, const char *image_id, char *out, size_t size);

/* GET v2: *images takes a JSON array of image objects. */
int box_vm_list(struct box_vm_client *c, const struct box_vm_list_query *q, json_t **images,
                struct box_err *err);

/* POST v1 with a payload that validated: *image takes the answer. */
int box_vm_register(struct box_vm_client *c, json_t *payload, json_t **image, struct box_err *err);

/* DELETE v1 of an image id (a UUID). */
int box_vm_delete(struct box_vm_client *c, const char *image_id, struct box_err *err);

/* The image of that id among the organization's images (v2, scope owned);
 * -ENOENT when it is not listed. */
int box_vm_find(struct box_vm_client *c, const char *image_id, json_t **image, struct box_err *err);

/* Polls box_vm_find every interval_ms until the image is ready (0) or
 * failed (-BOX_VM_EFAILED), or timeout_s passes (-ETIMEDOUT). on_state, when
 * set, hears each state change. */
int box_vm_wait(struct box_vm_client *c, const char *image_id, long timeout_s, long interval_ms,
                void (*on_state)(void *ud, const char *state), void *ud, json_t **image,
                struct box_err *err);

/* The region's check of spec.uri, done here first: GET with
 * `Range: bytes=0-511` (no token sent), and bytes 510-511 must be 55 aa. */
int box_vm_check_image_uri(const struct box_vm_client *c, const char *uri, struct box_err *err);

/* The pure part of that check, on the bytes received. */
int box_vm_check_boot_sector(const unsigned char *buf, size_t n, struct box_err *err);

/* Describes an error answer: "(400 invalid_request: description)", with
 * control bytes removed; out is "" when body has no error document. */
void box_vm_error_text(long status, const char *body, size_t len, char *out, size_t size);

#endif
