/* Helpers shared by the box-vm verbs: options, settings, printing. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"
#include "lib/base/parse.h"
#include "tools/vm/vm.h"

int vm_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "box vm %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `box vm %s --help`)\n", cmd);
    return BOX_VM_EXIT_INVALID;
}

static const char *class_name(int status)
{
    static const char *const names[] = {"ok",     "invalid", "auth",    "not_found",
                                        "server", "timeout", "unknown", "failed"};
    return status >= 0 && status < (int)BOX_ARRAY_SIZE(names) ? names[status] : "error";
}

int vm_fail(const char *cmd, bool json, const struct box_err *err)
{
    int status = box_vm_exit_code(err->code);
    fprintf(stderr, "box vm %s: %s\n", cmd, err->msg);
    if (json) {
        json_t *doc = json_pack("{s:b, s:i, s:s, s:s}", "ok", 0, "exit", status, "class",
                                class_name(status), "error", err->msg);
        vm_print_json(doc);
        json_decref(doc);
    }
    return status;
}

void vm_print_json(json_t *doc)
{
    if (!doc)
        return;
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    fflush(stdout);
}

int vm_parse_long(const char *cmd, const char *opt, const char *arg, long min, long max, long *out)
{
    int64_t v;
    if (box_parse_i64(arg, min, max, &v) < 0) {
        vm_usage(cmd, "%s: `%s` is not a whole number in [%ld, %ld]", opt, arg, min, max);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int vm_api_opt(const char *cmd, struct vm_api_opts *a, int opt, const char *arg)
{
    switch (opt) {
    case VM_OPT_ENV_FILE:
        a->env_file = arg;
        return 1;
    case VM_OPT_TIMEOUT:
        return vm_parse_long(cmd, "--timeout", arg, 1, 3600, &a->timeout_s) < 0 ? -1 : 1;
    case VM_OPT_RETRIES:
        return vm_parse_long(cmd, "--retries", arg, 0, 20, &a->retries) < 0 ? -1 : 1;
    case VM_OPT_JSON:
        a->json = true;
        return 1;
    default:
        return 0;
    }
}

int vm_client_setup(const char *cmd, const struct vm_api_opts *a, unsigned need,
                    struct box_vm_settings *s, struct box_vm_client *c)
{
    struct box_err err = {0};
    int r = box_vm_settings_load(s, a->env_file, &err);
    if (r >= 0)
        r = box_vm_settings_require(s, need, &err);
    if (r < 0) {
        /* Settings problems are the caller's to fix: exit 1 whatever errno. */
        fprintf(stderr, "box vm %s: %s\n", cmd, err.msg);
        if (a->json) {
            err.code = EINVAL;
            vm_fail(cmd, true, &err);
        }
        return BOX_VM_EXIT_INVALID;
    }
    box_vm_client_init(c, s);
    if (a->timeout_s)
        c->timeout_s = a->timeout_s;
    if (a->retries >= 0)
        c->get_retries = (int)a->retries;
    return 0;
}

int vm_read_input(const char *path, size_t max, char **buf, size_t *len, struct box_err *err)
{
    if (strcmp(path, "-") == 0) {
        int r = box_read_fd(STDIN_FILENO, max, buf, len);
        if (r == -EFBIG || (r >= 0 && *len > max)) {
            if (r >= 0)
                free(*buf);
            return box_err_set(err, EFBIG, "standard input: larger than %zu bytes", max);
        }
        return r < 0 ? box_err_sys(err, -r, "read standard input") : 0;
    }
    int r = box_read_file(AT_FDCWD, path, max, buf, len, err);
    if (r >= 0 && *len > max) {
        free(*buf);
        return box_err_set(err, EFBIG, "`%s` is larger than %zu bytes", path, max);
    }
    return r;
}

static void print_problems(const char *kind, const struct box_vm_problem *p, size_t n,
                           size_t dropped)
{
    for (size_t i = 0; i < n; i++)
        printf("%s: %s: %s\n", kind, p[i].pointer[0] ? p[i].pointer : "(document)", p[i].message);
    if (dropped)
        printf("%s: ... and %zu more\n", kind, dropped);
}

static json_t *problems_json(const struct box_vm_problem *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "pointer", p[i].pointer, "message", p[i].message));
    return a;
}

void vm_print_report(const char *what, const struct box_vm_report *rep, bool json)
{
    size_t ne = rep->nerrors + rep->errors_dropped, nw = rep->nwarnings + rep->warnings_dropped;
    if (json) {
        json_t *doc = json_pack("{s:s, s:b, s:o, s:o, s:I, s:I}", "file", what, "ok", ne == 0,
                                "errors", problems_json(rep->errors, rep->nerrors), "warnings",
                                problems_json(rep->warnings, rep->nwarnings), "error_count",
                                (json_int_t)ne, "warning_count", (json_int_t)nw);
        vm_print_json(doc);
        json_decref(doc);
        return;
    }
    print_problems("error", rep->errors, rep->nerrors, rep->errors_dropped);
    print_problems("warning", rep->warnings, rep->nwarnings, rep->warnings_dropped);
    if (ne)
        printf("%s: refused: %zu error%s, %zu warning%s\n", what, ne, ne == 1 ? "" : "s", nw,
               nw == 1 ? "" : "s");
    else
        printf("%s: ok (%zu warning%s)\n", what, nw, nw == 1 ? "" : "s");
}
