/* box vm register PAYLOAD [--dry-run] [--check-uri] [--wait [--wait-timeout S]] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vm/vm.h"

static const char help[] =
    "usage: box vm register PAYLOAD [--dry-run] [--check-uri] [--allow-unknown]\n"
    "                       [--wait [--wait-timeout S] [--wait-interval MS]]\n"
    "                       [--env-file F] [--timeout S] [--json]\n"
    "\n"
    "Validates PAYLOAD (as `box vm validate`) and POSTs it to the v1 images\n"
    "endpoint of the organization and region. --check-uri first reads bytes 0-511\n"
    "of spec.uri as the region will, and needs 55 aa at 510-511. --dry-run prints\n"
    "the request instead of sending it, token redacted. --wait polls the v2 list\n"
    "until the image is ready or failed (default at most 1800 s, every 5000 ms).\n"
    "A POST is never sent twice: when the connection is cut after sending, the\n"
    "image may exist; check with `box vm list --scope owned` (exit 6).\n";

struct register_args {
    struct vm_api_opts a;
    struct box_vm_validate_opts vo;
    const char *payload;
    bool dry_run, check_uri, wait;
    long wait_timeout_s, wait_interval_ms;
};

enum {
    OPT_DRY_RUN = 0x300,
    OPT_CHECK_URI,
    OPT_WAIT,
    OPT_WAIT_TIMEOUT,
    OPT_WAIT_INTERVAL,
    OPT_ALLOW_UNKNOWN,
};

static int option(struct register_args *r, int c, const char *arg)
{
    switch (c) {
    case OPT_DRY_RUN:
        r->dry_run = true;
        return 0;
    case OPT_CHECK_URI:
        r->check_uri = true;
        return 0;
    case OPT_WAIT:
        r->wait = true;
        return 0;
    case OPT_ALLOW_UNKNOWN:
        r->vo.allow_unknown = true;
        return 0;
    case OPT_WAIT_TIMEOUT:
        return vm_parse_long("register", "--wait-timeout", arg, 1, 86400, &r->wait_timeout_s) < 0
                   ? BOX_VM_EXIT_INVALID
                   : 0;
    case OPT_WAIT_INTERVAL:
        return vm_parse_long("register", "--wait-interval", arg, 50, 600000, &r->wait_interval_ms) <
                       0
                   ? BOX_VM_EXIT_INVALID
                   : 0;
    case VM_OPT_HELP:
        fputs(help, stdout);
        return -1;
    default:
        return vm_usage("register", "unknown option or missing value `%s`", arg ? arg : "");
    }
}

static int parse(int argc, char **argv, struct register_args *r)
{
    static const struct option opts[] = {
        {"dry-run", no_argument, 0, OPT_DRY_RUN},
        {"check-uri", no_argument, 0, OPT_CHECK_URI},
        {"wait", no_argument, 0, OPT_WAIT},
        {"wait-timeout", required_argument, 0, OPT_WAIT_TIMEOUT},
        {"wait-interval", required_argument, 0, OPT_WAIT_INTERVAL},
        {"allow-unknown", no_argument, 0, OPT_ALLOW_UNKNOWN},
        VM_API_LONG_OPTS,
        {0, 0, 0, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int k = vm_api_opt("register", &r->a, c, optarg);
        if (k < 0)
            return BOX_VM_EXIT_INVALID;
        if (k > 0)
            continue;
        k = option(r, c, c == '?' ? argv[optind - 1] : optarg);
        if (k)
            return k;
    }
    if (argc - optind != 1)
        return vm_usage("register", "give exactly one PAYLOAD file");
    if (!r->wait && (r->wait_timeout_s || r->wait_interval_ms))
        return vm_usage("register", "--wait-timeout and --wait-interval go with --wait");
    r->payload = argv[optind];
    return 0;
}

/* Reads and validates the payload; on failure prints the report. */
static int load_payload(const struct register_args *r, json_t **doc)
{
    struct box_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    if (vm_read_input(r->payload, BOX_VM_PAYLOAD_MAX, &buf, &len, &err) < 0) {
        err.code = EINVAL; /* a local input problem: exit 1, whatever the errno */
        return vm_fail("register", r->a.json, &err);
    }
    struct box_vm_report *rep = calloc(1, sizeof(*rep));
    if (!rep) {
        free(buf);
        return BOX_VM_EXIT_SERVER;
    }
    int ret = box_vm_validate_buf(buf, len, &r->vo, rep, doc, &err);
    free(buf);
    if (ret < 0) {
        vm_print_report(r->payload, rep, r->a.json);
        fprintf(stderr, "box vm register: %s: %s; nothing was sent\n", r->payload, err.msg);
    } else {
        for (size_t i = 0; i < rep->nwarnings; i++)
            fprintf(stderr, "box vm register: warning: %s: %s\n", rep->warnings[i].pointer,
                    rep->warnings[i].message);
    }
    free(rep);
    return ret < 0 ? BOX_VM_EXIT_INVALID : 0;
}

static int dry_run(const struct box_vm_client *c, json_t *doc, bool json)
{
    char url[2048];
    box_vm_url_images(c, NULL, url, sizeof(url));
    if (json) {
        json_t *out =
            json_pack("{s:b, s:b, s:s, s:s, s:{s:s, s:s}, s:O}", "ok", 1, "dry_run", 1, "method",
                      "POST", "url", url, "headers", "Authorization", "Bearer <redacted>",
                      "Content-Type", "application/json", "body", doc);
        vm_print_json(out);
        json_decref(out);
        return 0;
    }
    printf("POST %s\nAuthorization: Bearer <redacted>\nContent-Type: application/json\n\n", url);
    vm_print_json(doc);
    printf("(dry run: nothing was sent)\n");
    return 0;
}

static void on_state(void *ud, const char *state)
{
    fprintf(stderr, "box vm register: image %s: %s\n", (const char *)ud, state);
}

static int send_it(struct box_vm_client *c, const struct register_args *r, json_t *doc)
{
    struct box_err err = {0};
    json_t *image = NULL;
    if (box_vm_register(c, doc, &image, &err) < 0)
        return vm_fail("register", r->a.json, &err);
    json_t *md = json_object_get(image, "metadata");
    char id[64];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(md, "id")));
    const char *state =
        json_string_value(json_object_get(json_object_get(image, "status"), "state"));
    fprintf(stderr, "box vm register: registered `%s` as image %s (%s)\n",
            json_string_value(json_object_get(md, "name")), id, state ? state : "no state");
    int ret = 0;
    if (r->wait) {
        json_t *final = NULL;
        ret = box_vm_wait(c, id, r->wait_timeout_s ? r->wait_timeout_s : 1800,
                          r->wait_interval_ms ? r->wait_interval_ms : 5000, on_state, id, &final,
                          &err);
        if (final) {
            json_decref(image);
            image = final;
        }
        if (ret < 0)
            ret = vm_fail("register", r->a.json, &err);
    }
    if (r->a.json && ret == 0) {
        json_t *out = json_pack("{s:b, s:O}", "ok", 1, "image", image);
        vm_print_json(out);
        json_decref(out);
    } else if (ret == 0) {
        printf("%s\n", id);
    }
    json_decref(image);
    return ret;
}

int vm_cmd_register(int argc, char **argv)
{
    struct register_args r = {.a = {.retries = -1}};
    int ret = parse(argc, argv, &r);
    if (ret)
        return ret < 0 ? 0 : ret;
    json_t *doc = NULL;
    ret = load_payload(&r, &doc);
    if (ret)
        return ret;
    struct box_vm_settings s = {0};
    struct box_vm_client c;
    ret = vm_client_setup("register", &r.a,
                          BOX_VM_NEED_TOKEN | BOX_VM_NEED_ENDPOINT | BOX_VM_NEED_ORGANIZATION |
                              BOX_VM_NEED_REGION,
                          &s, &c);
    if (ret == 0 && r.check_uri) {
        struct box_err err = {0};
        const char *uri = json_string_value(json_object_get(json_object_get(doc, "spec"), "uri"));
        if (box_vm_check_image_uri(&c, uri, &err) < 0)
            ret = vm_fail("register", r.a.json, &err);
        else
            fprintf(stderr, "box vm register: spec.uri: bytes 510-511 are 55 aa\n");
    }
    if (ret == 0)
        ret = r.dry_run ? dry_run(&c, doc, r.a.json) : send_it(&c, &r, doc);
    json_decref(doc);
    box_vm_settings_free(&s);
    return ret;
}
