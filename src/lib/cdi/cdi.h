/* The Container Device Interface (CDI): spec files in JSON or YAML, the
 * registry of spec directories that resolves fully qualified device names
 * (`vendor/class=name`), and the edits a resolved device makes to an OCI
 * config.json. Pure library code: nothing here prints, mounts or creates a
 * device; box's runtime applies the edited config as it applies any other.
 *
 * Every input is hostile until validated: spec files are bounded in size,
 * counts and YAML depth and alias expansion; unknown fields fail; each
 * field is checked against the cdiVersion the spec declares. Errors name
 * the file and the JSON path ("`/etc/cdi/x.yaml`: devices[0].name: ..."). */
#ifndef BOX_CDI_CDI_H
#define BOX_CDI_CDI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/base/err.h"

/* ---- limits ---------------------------------------------------------------------------------- */
#define BOX_CDI_MAX_FILE_BYTES  (4u << 20) /* one spec file */
#define BOX_CDI_MAX_DEVICES     4096       /* devices in one spec */
#define BOX_CDI_MAX_ITEMS       4096       /* entries of each edit list (env, mounts, ...) */
#define BOX_CDI_MAX_NAME        256        /* vendor/class, a device name */
#define BOX_CDI_MAX_STRING      4096       /* any other string in a spec */
#define BOX_CDI_MAX_FILES       1024       /* spec files read from one directory */
#define BOX_CDI_MAX_DIRS        16         /* spec directories */
#define BOX_CDI_MAX_REQUESTS    256        /* devices requested for one container */
#define BOX_CDI_YAML_MAX_DEPTH  64         /* nesting of YAML collections */
#define BOX_CDI_YAML_MAX_NODES  (1u << 20) /* YAML nodes after alias expansion */
#define BOX_CDI_YAML_MAX_ANCHOR 1024       /* distinct anchors in one YAML document */

/* Versions as a comparable number: 0.5.0 -> 500, 1.1.0 -> 10100. */
#define BOX_CDI_VERSION(ma, mi, pa) ((ma)*10000u + (mi)*100u + (pa))
#define BOX_CDI_VERSION_OLDEST      BOX_CDI_VERSION(0, 3, 0)
#define BOX_CDI_VERSION_LATEST      BOX_CDI_VERSION(1, 1, 0)

/* The default spec directories, in priority order (a later one wins). */
extern const char *const box_cdi_default_dirs[2];

enum box_cdi_format {
    BOX_CDI_FORMAT_JSON,
    BOX_CDI_FORMAT_YAML,
};

struct box_cdi_device {
    const char *name; /* "0", "all", "GPU-<uuid>": borrowed from the spec's doc */
    json_t *edits;    /* its containerEdits object (borrowed), never NULL */
    unsigned index;   /* position in the spec's devices[] */
};

struct box_cdi_spec {
    char *path;           /* the file, as named in errors */
    json_t *doc;          /* the validated document (JSON, or YAML converted) */
    const char *version;  /* cdiVersion as written */
    unsigned version_num; /* BOX_CDI_VERSION() of it */
    unsigned required;    /* the lowest version its fields allow */
    const char *kind;     /* "vendor/class" */
    json_t *edits;        /* spec-level containerEdits (borrowed), or NULL */
    struct box_cdi_device *devices;
    size_t n_devices;
    unsigned priority; /* index of its spec directory */
};

/* ---- spec.c: parsing and validation ------------------------------------------------------ */

/* Parses and validates a spec text. `path` names the spec in errors.
 * On failure the spec is freed and zeroed. */
int box_cdi_spec_parse(const char *text, size_t len, enum box_cdi_format fmt, const char *path,
                       struct box_cdi_spec *spec, struct box_err *err);
/* Reads a spec file relative to dirfd (AT_FDCWD for a path): a regular file
 * of at most BOX_CDI_MAX_FILE_BYTES named *.json or *.yaml (the format). */
int box_cdi_spec_load(int dirfd, const char *name, const char *path, struct box_cdi_spec *spec,
                      struct box_err *err);
void box_cdi_spec_free(struct box_cdi_spec *spec);
/* The format a file name asks for; -EINVAL unless it ends in .json or .yaml. */
int box_cdi_format_of(const char *name, enum box_cdi_format *fmt);
/* "1.1.0" -> BOX_CDI_VERSION(1, 1, 0) when it is a released spec version
 * box knows (0.3.0 ... 1.1.0); -EINVAL otherwise. */
int box_cdi_version_parse(const char *s, unsigned *out);

/* Name grammar of the CDI specification. vendor and class: a letter first,
 * a letter or digit last, [A-Za-z0-9_.-] between. A device name: letters or
 * digits at both ends, [A-Za-z0-9_.:-] between. */
int box_cdi_check_kind(const char *kind, struct box_err *err);
int box_cdi_check_device_name(const char *name, struct box_err *err);
/* Splits "vendor/class=name" at its separators into kind ("vendor/class")
 * and name, each checked against the grammar. */
int box_cdi_parse_qualified(const char *qualified, char kind[2 * BOX_CDI_MAX_NAME + 2],
                            char name[BOX_CDI_MAX_NAME + 1], struct box_err *err);

/* ---- yaml.c ------------------------------------------------------------------------------------ */

/* One YAML document -> the JSON tree it stands for: mappings with string
 * keys (duplicates rejected) become objects, sequences arrays; plain
 * scalars resolve as in YAML 1.2's core schema (null, true/false, integers
 * in decimal, 0x, 0o and YAML 1.1's leading-zero octal, floats), quoted
 * ones stay strings. Depth, node count after alias expansion and anchors
 * are bounded; several documents, merge keys (as unknown fields) and
 * unknown tags fail. */
int box_cdi_yaml_to_json(const char *text, size_t len, json_t **out, struct box_err *err);

/* ---- registry.c: spec directories ---------------------------------------------------------- */

struct box_cdi_entry {
    char *qualified;                  /* "vendor/class=name" */
    const struct box_cdi_spec *spec;  /* in the registry's specs */
    const struct box_cdi_device *dev; /* in that spec */
    const struct box_cdi_spec *other; /* non-NULL: defined twice in one directory, unusable */
};

/* A spec file the registry refused (it stays out; its devices do not exist). */
struct box_cdi_file_error {
    char *path;
    char *msg;
};

struct box_cdi_registry {
    char **dirs; /* as searched, in priority order */
    size_t n_dirs;
    struct box_cdi_spec *specs;
    size_t n_specs;
    struct box_cdi_entry *entries;
    size_t n_entries;
    struct box_cdi_file_error *errors;
    size_t n_errors;
};

/* Reads every *.json and *.yaml file of each directory (no recursion; a
 * missing directory is empty). A file that fails to parse or validate, is
 * not a regular file, is larger than the limit, or could be changed by
 * someone other than root or the caller (owned by another user, or
 * writable by group or others: its hooks run as the caller) is refused
 * and recorded in errors; the others still load. Fails only on errors of
 * the whole operation (memory, too many files, an unreadable directory). */
int box_cdi_registry_load(struct box_cdi_registry *reg, const char *const *dirs, size_t n_dirs,
                          struct box_err *err);
void box_cdi_registry_free(struct box_cdi_registry *reg);
/* The entry of a qualified name, or NULL. */
const struct box_cdi_entry *box_cdi_registry_find(const struct box_cdi_registry *reg,
                                                  const char *qualified);
/* Whether a usable spec of this kind ("nvidia.com/gpu") was loaded. */
bool box_cdi_registry_has_kind(const struct box_cdi_registry *reg, const char *kind);
/* Resolves requested names into the ordered list of containerEdits to apply
 * (per spec touched, its spec-level edits once before the first of its
 * devices; then each device's). *where gets "file: devices[N]" labels for
 * errors. Fails naming every unresolvable device and the directories
 * searched, or the two files of a conflict. */
int box_cdi_registry_resolve(const struct box_cdi_registry *reg, char *const *names, size_t n,
                             json_t ***edits, char ***where, size_t *n_edits, struct box_err *err);

/* ---- edits.c: containerEdits applied to a config.json ----------------------------------- */

struct box_cdi_apply_opts {
    /* linux.netDevices is not applied by box's runtime: refuse such edits
     * when the result is for a container rather than for printing. */
    bool refuse_net_devices;
};

/* Applies edits in the reference order, each kind over all edits before
 * the next kind: env (a variable of the same name replaced, else
 * appended), device nodes (missing type, numbers and mode from
 * stat(hostPath); same path replaced; a device-cgroup allow rule for b/c),
 * mounts (same containerPath replaced, then all mounts stable-sorted by
 * depth), hooks (appended to their phase), additionalGids (appended once,
 * 0 skipped), intelRdt (replaced), netDevices. Fails without a partial
 * result: config is untouched on error. */
int box_cdi_edits_apply(json_t *config, json_t *const *edits, char *const *where, size_t n,
                        const struct box_cdi_apply_opts *o, struct box_err *err);

/* ---- inject.c: the whole transform of a config.json --------------------------------------- */

struct box_cdi_inject_opts {
    const char *const *devices; /* requested on the command line (--device) */
    size_t n_devices;
    const char *const *dirs; /* spec directories; NULL: box_cdi_default_dirs */
    size_t n_dirs;
    bool refuse_net_devices;
};

/* Collects the requests (opts->devices, then `cdi.k8s.io/...` annotations in
 * document order, then NVIDIA_VISIBLE_DEVICES from process.env when a spec
 * of kind nvidia.com/gpu is loaded: `all`, indexes, UUIDs; `void`, `none`
 * and empty request nothing), drops repeats, resolves and applies them.
 * Returns 0 with *out NULL when nothing was requested: then no spec
 * directory was read and the config must be used as it is. Returns 1 with
 * *out (malloc'ed, NUL-terminated) the edited config.json text. */
int box_cdi_inject_text(const char *text, size_t len, const struct box_cdi_inject_opts *o,
                        char **out, size_t *out_len, struct box_err *err);
/* Whether a config.json text can request anything (--device given, a
 * cdi.k8s.io/ annotation or NVIDIA_VISIBLE_DEVICES in it); when not, it
 * need not be parsed for CDI at all. */
bool box_cdi_inject_wanted(const char *text, size_t len, const struct box_cdi_inject_opts *o);
/* The same on a parsed config (edited in place; untouched on error).
 * Returns 0 when nothing was requested, 1 when edited. */
int box_cdi_inject_json(json_t *config, const struct box_cdi_inject_opts *o, struct box_err *err);

#endif
