#include "lib/vm/api.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/vm/text.h"

#define BOOT_SECTOR 512

int box_vm_exit_code(int code)
{
    switch (code < 0 ? -code : code) {
    case 0:
        return BOX_VM_EXIT_OK;
    case EACCES:
    case EPERM:
        return BOX_VM_EXIT_AUTH;
    case ENOENT:
        return BOX_VM_EXIT_NOT_FOUND;
    case EREMOTEIO:
    case ECONNREFUSED:
    case EPROTO:
    case EIO:
    case ENOMEM:
        return BOX_VM_EXIT_SERVER;
    case ETIMEDOUT:
        return BOX_VM_EXIT_TIMEOUT;
    case BOX_VM_EUNKNOWN:
        return BOX_VM_EXIT_UNKNOWN;
    case BOX_VM_EFAILED:
        return BOX_VM_EXIT_FAILED;
    default:
        return BOX_VM_EXIT_INVALID;
    }
}

void box_vm_client_init(struct box_vm_client *c, const struct box_vm_settings *s)
{
    *c = (struct box_vm_client){.settings = s,
                                .connect_timeout_s = 10,
                                .timeout_s = 60,
                                .get_retries = 4,
                                .backoff_ms = 250,
                                .user_agent = "box-vm/" BOX_VERSION};
}

/* ---- URLs ------------------------------------------------------------------- */

int box_vm_url_list(const struct box_vm_client *c, const struct box_vm_list_query *q, char *out,
                    size_t size)
{
    const struct box_vm_settings *s = c->settings;
    size_t n = (size_t)snprintf(out, size, "%s/api/v2/regions/%s/images", s->endpoint, s->region);
    char sep = '?';
    if (n < size && q->organization) {
        n += (size_t)snprintf(out + n, size - n, "%corganizationID=%s", sep, s->organization);
        sep = '&';
    }
    if (n < size && q->scope) {
        n += (size_t)snprintf(out + n, size - n, "%cscope=%s", sep, q->scope);
        sep = '&';
    }
    for (size_t i = 0; i < q->nstatuses && n < size; i++) {
        n += (size_t)snprintf(out + n, size - n, "%cstatus=%s", sep, q->statuses[i]);
        sep = '&';
    }
    return n < size ? 0 : -ENAMETOOLONG;
}

int box_vm_url_images(const struct box_vm_client *c, const char *image_id, char *out, size_t size)
{
    const struct box_vm_settings *s = c->settings;
    size_t n =
        (size_t)snprintf(out, size, "%s/api/v1/organizations/%s/regions/%s/images%s%s", s->endpoint,
                         s->organization, s->region, image_id ? "/" : "", image_id ? image_id : "");
    return n < size ? 0 : -ENAMETOOLONG;
}

/* ---- one request -------------------------------------------------------------- */

struct req {
    const char *method, *url, *body;
    bool auth;
};

struct resp {
    long status;
    char *body;
    size_t len, max;
    bool overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct resp *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > r->max) {
        r->overflow = true;
        return 0;
    }
    char *nb = realloc(r->body, r->len + n + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static void resp_reset(struct resp *r)
{
    free(r->body);
    *r = (struct resp){.max = BOX_VM_RESPONSE_MAX};
}

static struct curl_slist *headers_for(const struct box_vm_client *c, const struct req *q)
{
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    /* No "Expect: 100-continue" round trip before the body. */
    h = h ? curl_slist_append(h, "Expect:") : NULL;
    if (h && q->body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (h && q->auth) {
        size_t n = strlen(c->settings->token) + 32;
        char *line = malloc(n);
        if (!line) {
            curl_slist_free_all(h);
            return NULL;
        }
        snprintf(line, n, "Authorization: Bearer %s", c->settings->token);
        struct curl_slist *nh = curl_slist_append(h, line);
        explicit_bzero(line, n);
        free(line);
        if (!nh)
            curl_slist_free_all(h);
        h = nh;
    }
    return h;
}

/* The token is in the list: wipe it before freeing. */
static void headers_free(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/* Performs one request. *sent says whether the connection was made (so the
 * request may have reached the server). */
static CURLcode perform(const struct box_vm_client *c, const struct req *q, struct resp *r,
                        bool *sent, char *errbuf)
{
    *sent = false;
    errbuf[0] = '\0';
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = headers_for(c, q);
    if (!h || !hdr) {
        curl_easy_cleanup(h);
        headers_free(hdr);
        return CURLE_OUT_OF_MEMORY;
    }
    curl_easy_setopt(h, CURLOPT_URL, q->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    if (q->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(q->body));
    }
    if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    long connected = 0;
    curl_off_t connect_us = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &connected);
    *sent = rc == CURLE_OK || connect_us > 0 || connected > 0;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
        *sent = false;
    curl_easy_cleanup(h);
    headers_free(hdr);
    return rc;
}

static bool transient(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_PARTIAL_FILE || rc == CURLE_OPERATION_TIMEDOUT;
}

static bool retry_status(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int network_error(const struct req *q, CURLcode rc, bool sent, const char *errbuf,
                         int attempts, struct box_err *err)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (sent && strcmp(q->method, "GET") != 0)
        return box_err_set(err, BOX_VM_EUNKNOWN,
                           "%s %s: the connection failed after the request was sent (%s): the "
                           "server may have acted on it; it is not sent again",
                           q->method, q->url, why);
    int code = rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
               : rc == CURLE_WRITE_ERROR      ? EPROTO
                                              : ECONNREFUSED;
    return box_err_set(err, code, "%s %s: %s%s (%d attempt%s)", q->method, q->url, why,
                       rc == CURLE_WRITE_ERROR ? " (answer too large)" : "", attempts,
                       attempts == 1 ? "" : "s");
}

/* Sends q; GETs again after transient failures. On return 0, r holds the
 * last answer, whatever its status. */
static int request(struct box_vm_client *c, const struct req *q, struct resp *r,
                   struct box_err *err)
{
    bool idempotent = strcmp(q->method, "GET") == 0;
    int tries = idempotent ? 1 + c->get_retries : 1;
    long backoff = c->backoff_ms;
    char errbuf[CURL_ERROR_SIZE];
    CURLcode rc = CURLE_OK;
    bool sent = false;
    c->attempts = 0;
    for (int i = 0; i < tries; i++) {
        if (i > 0) {
            pause_ms(backoff);
            backoff = backoff * 2 > 8000 ? 8000 : backoff * 2;
        }
        resp_reset(r);
        rc = perform(c, q, r, &sent, errbuf);
        c->attempts++;
        if (rc == CURLE_OUT_OF_MEMORY)
            return box_err_set(err, ENOMEM, "%s %s", q->method, q->url);
        if (rc == CURLE_OK && !retry_status(r->status))
            return 0;
        if (rc != CURLE_OK && !transient(rc))
            break;
    }
    if (rc == CURLE_OK)
        return 0;
    return network_error(q, rc, sent, errbuf, c->attempts, err);
}

/* ---- answers ------------------------------------------------------------------ */

void box_vm_error_text(long status, const char *body, size_t len, char *out, size_t size)
{
    out[0] = '\0';
    json_t *doc = body ? json_loadb(body, len, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(doc, "error"));
    const char *desc = json_string_value(json_object_get(doc, "error_description"));
    char c[64], d[400];
    box_vm_sanitize(code ? code : "", c, sizeof(c));
    box_vm_sanitize(desc ? desc : "", d, sizeof(d));
    if (code || desc)
        snprintf(out, size, "(%ld%s%s%s%s)", status, code ? " " : "", c, desc ? ": " : "", d);
    else
        snprintf(out, size, "(%ld)", status);
    json_decref(doc);
}

struct op {
    const char *what;       /* "register the image" */
    const char *permission; /* region:images read, create, delete */
    const char *image_id;   /* for a 404 on one image */
};

static int explain_forbidden(const struct box_vm_client *c, const struct op *o, const char *detail,
                             struct box_err *err)
{
    return box_err_set(
        err, EPERM,
        "%s: permission denied %s: the token from %s has no region:images %s permission in "
        "organization %s. Either that organization id is wrong, or no role granting it is bound "
        "to the token's account there (user and administrator may create and delete; reader "
        "and auditor may only read). A working `box vm list` proves nothing: the v2 list "
        "without an organization checks no organization permission",
        o->what, detail, c->settings->token_from, o->permission, c->settings->organization);
}

static int check_answer(const struct box_vm_client *c, const struct op *o, const struct resp *r,
                        long want, struct box_err *err)
{
    if (r->status == want)
        return 0;
    char detail[512];
    box_vm_error_text(r->status, r->body, r->len, detail, sizeof(detail));
    const struct box_vm_settings *s = c->settings;
    switch (r->status) {
    case 400:
        return box_err_set(err, EINVAL, "%s: the server refused the request %s", o->what, detail);
    case 401:
        return box_err_set(err, EACCES,
                           "%s: authentication failed %s: the token from %s is wrong, expired or "
                           "revoked (service account tokens last 90 days)",
                           o->what, detail, s->token_from);
    case 403:
        return explain_forbidden(c, o, detail, err);
    case 404:
        if (o->image_id)
            return box_err_set(err, ENOENT, "%s: not found %s: no image %s in region %s", o->what,
                               detail, o->image_id, s->region);
        return box_err_set(err, ENOENT, "%s: not found %s: is region %s served at %s?", o->what,
                           detail, s->region, s->endpoint);
    case 422:
        return box_err_set(err, EINVAL,
                           "%s: the server cannot use the image %s: it reads the first 512 bytes "
                           "of spec.uri and needs bytes 510-511 to be 55 aa (a raw disk with an "
                           "MBR or protective MBR); --check-uri makes the same check first",
                           o->what, detail);
    default:
        break;
    }
    if (r->status >= 500)
        return box_err_set(err, EREMOTEIO, "%s: server error %s after %d attempt%s", o->what,
                           detail, c->attempts, c->attempts == 1 ? "" : "s");
    if (r->status >= 300 && r->status < 400)
        return box_err_set(err, EPROTO,
                           "%s: answer %ld is a redirect, which is not followed: the token goes "
                           "only to %s",
                           o->what, r->status, s->endpoint);
    return box_err_set(err, EPROTO, "%s: unexpected answer %s", o->what, detail);
}

static json_t *parse_answer(const struct resp *r, const struct op *o, json_type type,
                            struct box_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc || json_typeof(doc) != type) {
        json_decref(doc);
        box_err_set(err, EPROTO, "%s: the answer is not a JSON %s", o->what,
                    type == JSON_ARRAY ? "array" : "object");
        return NULL;
    }
    return doc;
}

/* ---- endpoints ------------------------------------------------------------------ */

int box_vm_list(struct box_vm_client *c, const struct box_vm_list_query *q, json_t **images,
                struct box_err *err)
{
    char url[2048];
    struct op o = {.what = "list images", .permission = "read"};
    if (box_vm_url_list(c, q, url, sizeof(url)) < 0)
        return box_err_set(err, ENAMETOOLONG, "list images: URL too long");
    struct req rq = {.method = "GET", .url = url, .auth = true};
    struct resp r = {0};
    int ret = request(c, &rq, &r, err);
    if (ret >= 0)
        ret = check_answer(c, &o, &r, 200, err);
    json_t *doc = ret >= 0 ? parse_answer(&r, &o, JSON_ARRAY, err) : NULL;
    free(r.body);
    if (!doc)
        return ret < 0 ? ret : -EPROTO;
    size_t i;
    json_t *img;
    json_array_foreach(doc, i, img)
    {
        if (!json_is_object(img) || i >= BOX_VM_IMAGES_MAX) {
            json_decref(doc);
            return box_err_set(err, EPROTO, "list images: entry %zu of the answer is %s", i,
                               i >= BOX_VM_IMAGES_MAX ? "past the limit" : "not an object");
        }
    }
    *images = doc;
    return 0;
}

int box_vm_register(struct box_vm_client *c, json_t *payload, json_t **image, struct box_err *err)
{
    char url[2048];
    struct op o = {.what = "register the image", .permission = "create"};
    if (box_vm_url_images(c, NULL, url, sizeof(url)) < 0)
        return box_err_set(err, ENAMETOOLONG, "register: URL too long");
    char *body = json_dumps(payload, JSON_COMPACT);
    if (!body)
        return box_err_set(err, ENOMEM, "register: payload");
    struct req rq = {.method = "POST", .url = url, .body = body, .auth = true};
    struct resp r = {0};
    int ret = request(c, &rq, &r, err);
    free(body);
    if (ret == -BOX_VM_EUNKNOWN || (ret >= 0 && r.overflow))
        ret = box_err_set(err, BOX_VM_EUNKNOWN,
                          "register the image: the connection was cut after the request was sent, "
                          "so the image may have been created. It is not sent again: names are "
                          "not unique, and a second POST could create a second image. Check with "
                          "`box vm list --scope owned` before registering again");
    if (ret >= 0)
        ret = check_answer(c, &o, &r, 200, err);
    json_t *doc = ret >= 0 ? parse_answer(&r, &o, JSON_OBJECT, err) : NULL;
    free(r.body);
    if (!doc)
        return ret < 0 ? ret : -EPROTO;
    if (!json_is_string(json_object_get(json_object_get(doc, "metadata"), "id"))) {
        json_decref(doc);
        return box_err_set(err, EPROTO, "register the image: the answer has no metadata.id");
    }
    *image = doc;
    return 0;
}

int box_vm_delete(struct box_vm_client *c, const char *image_id, struct box_err *err)
{
    char url[2048];
    struct op o = {.what = "delete the image", .permission = "delete", .image_id = image_id};
    if (!box_vm_is_uuid(image_id))
        return box_err_set(err, EINVAL, "image id `%.64s` is not a UUID", image_id);
    if (box_vm_url_images(c, image_id, url, sizeof(url)) < 0)
        return box_err_set(err, ENAMETOOLONG, "delete: URL too long");
    struct req rq = {.method = "DELETE", .url = url, .auth = true};
    struct resp r = {0};
    int ret = request(c, &rq, &r, err);
    if (ret == -BOX_VM_EUNKNOWN)
        box_err_set(err, BOX_VM_EUNKNOWN,
                    "delete the image: the connection was cut after the request was sent, so "
                    "image %s may have been deleted; check with `box vm list --scope owned`",
                    image_id);
    if (ret >= 0)
        ret = check_answer(c, &o, &r, 202, err);
    free(r.body);
    return ret;
}

int box_vm_find(struct box_vm_client *c, const char *image_id, json_t **image, struct box_err *err)
{
    struct box_vm_list_query q = {.organization = true, .scope = "owned"};
    json_t *all = NULL;
    int r = box_vm_list(c, &q, &all, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *img;
    json_array_foreach(all, i, img)
    {
        const char *id = json_string_value(json_object_get(json_object_get(img, "metadata"), "id"));
        if (id && strcmp(id, image_id) == 0) {
            *image = json_incref(img);
            json_decref(all);
            return 0;
        }
    }
    json_decref(all);
    return box_err_set(err, ENOENT, "image %s is not among the organization's images", image_id);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int box_vm_wait(struct box_vm_client *c, const char *image_id, long timeout_s, long interval_ms,
                void (*on_state)(void *ud, const char *state), void *ud, json_t **image,
                struct box_err *err)
{
    double deadline = now_s() + (double)timeout_s;
    char last[32] = "";
    for (;;) {
        json_t *img = NULL;
        int r = box_vm_find(c, image_id, &img, err);
        if (r < 0 && r != -ENOENT)
            return r;
        const char *state =
            json_string_value(json_object_get(json_object_get(img, "status"), "state"));
        state = state ? state : r == -ENOENT ? "not listed" : "unknown";
        if (strcmp(state, last) != 0 && on_state)
            on_state(ud, state);
        snprintf(last, sizeof(last), "%s", state);
        if (strcmp(state, "ready") == 0 || strcmp(state, "failed") == 0) {
            *image = img;
            if (state[0] == 'f')
                return box_err_set(err, BOX_VM_EFAILED, "image %s: the import failed", image_id);
            return 0;
        }
        json_decref(img);
        if (now_s() + (double)interval_ms / 1000.0 > deadline)
            return box_err_set(err, ETIMEDOUT, "image %s is still %s after %ld s (--wait-timeout)",
                               image_id, last, timeout_s);
        pause_ms(interval_ms);
    }
}

/* ---- the first 512 bytes ------------------------------------------------------ */

int box_vm_check_boot_sector(const unsigned char *buf, size_t n, struct box_err *err)
{
    if (n < BOOT_SECTOR)
        return box_err_set(err, EINVAL, "only %zu bytes arrived, not the first 512", n);
    if (buf[510] != 0x55 || buf[511] != 0xaa)
        return box_err_set(err, EINVAL,
                           "bytes 510-511 are %02x %02x, not 55 aa: not a raw disk with an MBR "
                           "or protective MBR (a qcow2 or a bare filesystem is refused)",
                           buf[510], buf[511]);
    return 0;
}

static size_t on_sector(char *data, size_t size, size_t nmemb, void *ud)
{
    struct resp *r = ud;
    size_t n = size * nmemb, room = BOOT_SECTOR - r->len;
    memcpy(r->body + r->len, data, n < room ? n : room);
    r->len += n < room ? n : room;
    return r->len >= BOOT_SECTOR ? 0 : n; /* enough: stop the transfer */
}

int box_vm_check_image_uri(const struct box_vm_client *c, const char *uri, struct box_err *err)
{
    unsigned char sector[BOOT_SECTOR];
    struct resp r = {.body = (char *)sector};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    if (!h)
        return box_err_set(err, ENOMEM, "check `%s`", uri);
    /* Like the region's fetch: no token, redirects followed. */
    curl_easy_setopt(h, CURLOPT_URL, uri);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_RANGE, "0-511");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_sector);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r.len >= BOOT_SECTOR))
        return box_err_set(err, rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : ECONNREFUSED,
                           "check spec.uri `%s`: %s", uri,
                           errbuf[0] ? errbuf : curl_easy_strerror(rc));
    if (r.status != 200 && r.status != 206)
        return box_err_set(err, EINVAL,
                           "check spec.uri `%s`: answer %ld to a GET of bytes 0-511: the region "
                           "could not read the image either",
                           uri, r.status);
    int ret = box_vm_check_boot_sector(sector, r.len, err);
    if (ret < 0)
        return box_err_prefix(err, "check spec.uri `%s` (the region would answer 422)", uri);
    return 0;
}
