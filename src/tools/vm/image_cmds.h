/* The image-building verbs of box-vm: build, check, smoke. Each takes the
 * arguments after the verb (argv[0] is the verb) and returns the exit code:
 * 0 success, 1 the image or build failed, 2 usage error, 130 interrupted. */
#ifndef BOX_TOOLS_VM_IMAGE_CMDS_H
#define BOX_TOOLS_VM_IMAGE_CMDS_H

enum {
    BOX_VM_EXIT_FAIL = 1,
    BOX_VM_EXIT_USAGE = 2,
    BOX_VM_EXIT_INTERRUPTED = 130,
};

int box_vm_cmd_build(int argc, char **argv);
int box_vm_cmd_check(int argc, char **argv);
int box_vm_cmd_smoke(int argc, char **argv);

/* The directory holding the templates: $BOX_VM_TEMPLATES, else
 * <directory of the executable>/../images/vm. */
const char *box_vm_templates_dir(void);

/* Prints a JSON value on stdout (one line) and releases it. */
struct json_t;
void box_vm_print_json(struct json_t *v);

#endif
