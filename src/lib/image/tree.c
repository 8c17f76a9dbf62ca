#include "lib/image/tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES    (1u << 31)
#define MAX_SYMLINKS 40 /* path_resolution(7): the kernel's limit */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

void box_tree_init(struct box_tree *t)
{
    memset(t, 0, sizeof(*t));
}

void box_tree_free(struct box_tree *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->nodes[i]);
    free(t->nodes);
    free(t->slots);
    box_tree_init(t);
}

struct box_node *box_tree_getn(const struct box_tree *t, const char *path, size_t len)
{
    if (!t->nslots)
        return NULL;
    size_t mask = t->nslots - 1;
    for (size_t i = hash_bytes(path, len) & mask;; i = (i + 1) & mask) {
        uint32_t s = t->slots[i];
        if (!s)
            return NULL;
        struct box_node *n = t->nodes[s - 1];
        if (strncmp(n->path, path, len) == 0 && n->path[len] == '\0')
            return n;
    }
}

struct box_node *box_tree_get(const struct box_tree *t, const char *path)
{
    return box_tree_getn(t, path, strlen(path));
}

static void slot_insert(uint32_t *slots, size_t nslots, const char *path, uint32_t value)
{
    size_t mask = nslots - 1;
    size_t i = hash_bytes(path, strlen(path)) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = value;
}

static int grow(struct box_tree *t)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct box_node **v = realloc(t->nodes, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        t->nodes = v;
        t->cap = cap;
    }
    /* Keep the load factor under one half. */
    if ((t->count + 1) * 2 > t->nslots) {
        size_t nslots = t->nslots ? t->nslots * 2 : 128;
        uint32_t *slots = calloc(nslots, sizeof(*slots));
        if (!slots)
            return -ENOMEM;
        for (size_t i = 0; i < t->count; i++)
            slot_insert(slots, nslots, t->nodes[i]->path, (uint32_t)(i + 1));
        free(t->slots);
        t->slots = slots;
        t->nslots = nslots;
    }
    return 0;
}

int box_tree_add(struct box_tree *t, const char *path, enum box_node_type type, const char *link,
                 struct box_node **out)
{
    struct box_node *old = box_tree_get(t, path);
    if (old) {
        if (out)
            *out = old;
        return -EEXIST;
    }
    if (t->count >= MAX_NODES)
        return -E2BIG;
    if (grow(t) < 0)
        return -ENOMEM;
    size_t plen = strlen(path), llen = link ? strlen(link) + 1 : 0;
    struct box_node *n = calloc(1, sizeof(*n) + plen + 1 + llen);
    if (!n)
        return -ENOMEM;
    char *p = (char *)(n + 1);
    memcpy(p, path, plen + 1);
    n->path = p;
    if (link) {
        memcpy(p + plen + 1, link, llen);
        n->link = p + plen + 1;
    }
    n->type = (uint8_t)type;
    t->nodes[t->count++] = n;
    slot_insert(t->slots, t->nslots, n->path, (uint32_t)t->count);
    if (out)
        *out = n;
    return 0;
}

struct walk {
    const struct box_tree *t;
    char cur[BOX_PATH_MAX + 1];
    size_t len, depth, keep;
    int hops;
};

static void walk_pop(struct walk *w)
{
    char *slash = memrchr(w->cur, '/', w->len);
    w->len = slash ? (size_t)(slash - w->cur) : 0;
    w->cur[w->len] = '\0';
    w->depth--;
}

static int walk_push(struct walk *w, const char *p, size_t n)
{
    size_t need = w->len + (w->len ? 1 : 0) + n;
    if (need > BOX_PATH_MAX)
        return -ENAMETOOLONG;
    if (w->len)
        w->cur[w->len++] = '/';
    memcpy(w->cur + w->len, p, n);
    w->len += n;
    w->cur[w->len] = '\0';
    w->depth++;
    return 0;
}

static int walk_target(struct walk *w, const char *target)
{
    if (target[0] == '/')
        return -EXDEV;
    for (const char *p = target; *p;) {
        const char *e = strchrnul(p, '/');
        size_t n = (size_t)(e - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (w->depth <= w->keep)
                return -EXDEV;
            walk_pop(w);
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            size_t saved_len = w->len;
            int r = walk_push(w, p, n);
            if (r < 0)
                return r;
            const struct box_node *nd = box_tree_getn(w->t, w->cur, w->len);
            if (nd && nd->type == BOX_NODE_SYMLINK) {
                if (++w->hops > MAX_SYMLINKS)
                    return -ELOOP;
                w->len = saved_len;
                w->cur[w->len] = '\0';
                w->depth--;
                r = walk_target(w, nd->link);
                if (r < 0)
                    return r;
            } else if (nd && nd->type == BOX_NODE_FILE && *e) {
                return 0; /* the kernel stops here with ENOTDIR */
            }
        }
        p = *e ? e + 1 : e;
    }
    return 0;
}

int box_tree_resolve_symlink(const struct box_tree *t, const struct box_node *link, size_t keep)
{
    struct walk w = {.t = t, .keep = keep};
    const char *slash = strrchr(link->path, '/');
    size_t plen = slash ? (size_t)(slash - link->path) : 0;
    memcpy(w.cur, link->path, plen);
    w.cur[plen] = '\0';
    w.len = plen;
    w.depth = box_path_depth(w.cur);
    return walk_target(&w, link->link ? link->link : "");
}
