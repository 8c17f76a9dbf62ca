/* box-vm: the command-line front of the vm module. One cmd_<verb>.c per
 * verb; main.c holds the table. Only this layer prints. */
#ifndef BOX_TOOLS_VM_H
#define BOX_TOOLS_VM_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "lib/base/err.h"
#include "lib/vm/api.h"
#include "lib/vm/settings.h"
#include "lib/vm/validate.h"

/* Each verb: argv[0] is the verb's name; returns the exit status. */
int vm_cmd_validate(int argc, char **argv);
int vm_cmd_payload(int argc, char **argv);
int vm_cmd_list(int argc, char **argv);
int vm_cmd_register(int argc, char **argv);
int vm_cmd_delete(int argc, char **argv);

/* Options shared by the verbs that talk to the region API. */
struct vm_api_opts {
    const char *env_file;
    long timeout_s, retries;
    bool json;
};

enum {
    VM_OPT_ENV_FILE = 0x200,
    VM_OPT_TIMEOUT,
    VM_OPT_RETRIES,
    VM_OPT_JSON,
    VM_OPT_HELP,
};

#define VM_API_LONG_OPTS                                                                           \
    {"env-file", required_argument, 0, VM_OPT_ENV_FILE},                                           \
        {"timeout", required_argument, 0, VM_OPT_TIMEOUT},                                         \
        {"retries", required_argument, 0, VM_OPT_RETRIES}, {"json", no_argument, 0, VM_OPT_JSON},  \
    {                                                                                              \
        "help", no_argument, 0, VM_OPT_HELP                                                        \
    }

/* 1: handled; 0: not a shared option; -1: bad value (already reported). */
int vm_api_opt(const char *cmd, struct vm_api_opts *a, int opt, const char *arg);

/* Loads the settings, checks those in need, and sets up a client. Returns
 * 0, or the exit status after reporting. */
int vm_client_setup(const char *cmd, const struct vm_api_opts *a, unsigned need,
                    struct box_vm_settings *s, struct box_vm_client *c);

/* Reports a usage error (exit 1). */
int vm_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports err and returns the exit status of its class; with json, also
 * prints {"ok": false, ...} on stdout. */
int vm_fail(const char *cmd, bool json, const struct box_err *err);

/* Prints a JSON value on stdout, indented, with a newline. */
void vm_print_json(json_t *doc);

/* Reads a payload file (or - for stdin), at most BOX_VM_PAYLOAD_MAX bytes. */
int vm_read_input(const char *path, size_t max, char **buf, size_t *len, struct box_err *err);

/* Prints a validation report: text lines, or the JSON document. */
void vm_print_report(const char *what, const struct box_vm_report *rep, bool json);

/* Parses a decimal number of seconds or a count in [min, max]. */
int vm_parse_long(const char *cmd, const char *opt, const char *arg, long min, long max, long *out);

#endif
