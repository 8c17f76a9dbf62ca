#include "lib/vm/text.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

const char *box_vm_quote(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (n + 4 + 5 > size) { /* room for one escape, "...\"" and the NUL */
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

void box_vm_sanitize(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 1 < size; p++)
        out[n++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
    out[n] = '\0';
}

size_t box_vm_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64 || (la > lb ? la - lb : lb - la) >= cap)
        return cap;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(size_t) * (lb + 1));
    }
    return prev[lb] < cap ? prev[lb] : cap;
}

void box_vm_report_add(struct box_vm_report *rep, bool warn, const char *ptr, const char *fmt,
                       va_list ap)
{
    struct box_vm_problem *list = warn ? rep->warnings : rep->errors;
    size_t *n = warn ? &rep->nwarnings : &rep->nerrors;
    if (*n >= BOX_VM_PROBLEMS_MAX) {
        (*(warn ? &rep->warnings_dropped : &rep->errors_dropped))++;
        return;
    }
    struct box_vm_problem *p = &list[(*n)++];
    snprintf(p->pointer, sizeof(p->pointer), "%s", ptr);
    vsnprintf(p->message, sizeof(p->message), fmt, ap);
}

/* ---- structural scan ------------------------------------------------------- */

struct scan {
    const char *p, *end;
    size_t max_depth, errors;
    bool deep;
    struct box_vm_report *rep;
};

static void __attribute__((format(printf, 3, 4)))
scan_error(struct scan *s, const char *ptr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    box_vm_report_add(s->rep, false, ptr, fmt, ap);
    va_end(ap);
    s->errors++;
}

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
        s->p++;
}

static void skip_string(struct scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end && *s->p != '"')
        s->p += *s->p == '\\' ? 2 : 1;
    if (s->p < s->end)
        s->p++;
}

static void skip_scalar(struct scan *s)
{
    const char *start = s->p;
    while (s->p < s->end && !memchr(",]} \t\r\n", *s->p, 7))
        s->p++;
    if (s->p == start && s->p < s->end)
        s->p++; /* never stand still on a byte no rule expects */
}

/* Skips one value without recursion (used past the depth limit). */
static void skip_value(struct scan *s)
{
    long depth = 0;
    do {
        ws(s);
        if (s->p >= s->end)
            return;
        char ch = *s->p;
        if (ch == '"')
            skip_string(s);
        else if (ch == '{' || ch == '[')
            depth++, s->p++;
        else if (ch == '}' || ch == ']')
            depth--, s->p++;
        else if (ch == ',' || ch == ':')
            s->p++;
        else
            skip_scalar(s);
    } while (depth > 0);
}

static void scan_value(struct scan *s, const char *ptr, size_t depth);

static void scan_object(struct scan *s, const char *ptr, size_t depth)
{
    json_t *seen = json_object();
    char sub[BOX_VM_POINTER_MAX];
    s->p++;
    for (;;) {
        ws(s);
        if (s->p >= s->end || *s->p == '}')
            break;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        const char *start = s->p;
        skip_string(s);
        json_t *key = json_loadb(start, (size_t)(s->p - start), JSON_DECODE_ANY, NULL);
        const char *k = json_is_string(key) ? json_string_value(key) : "";
        box_vm_pointer_join(sub, sizeof(sub), ptr, k);
        if (seen && json_object_get(seen, k))
            scan_error(s, sub,
                       "duplicate key (a JSON reader keeps one of the values, "
                       "silently)");
        else if (seen)
            json_object_set_new(seen, k, json_true());
        json_decref(key);
        ws(s);
        if (s->p < s->end && *s->p == ':')
            s->p++;
        const char *before = s->p;
        scan_value(s, sub, depth + 1);
        if (s->p == before && s->p < s->end)
            s->p++;
    }
    if (s->p < s->end)
        s->p++;
    json_decref(seen);
}

static void scan_array(struct scan *s, const char *ptr, size_t depth)
{
    char sub[BOX_VM_POINTER_MAX], idx[24];
    size_t i = 0;
    s->p++;
    for (;;) {
        ws(s);
        if (s->p >= s->end || *s->p == ']')
            break;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        snprintf(idx, sizeof(idx), "%zu", i++);
        box_vm_pointer_join(sub, sizeof(sub), ptr, idx);
        const char *before = s->p;
        scan_value(s, sub, depth + 1);
        if (s->p == before)
            s->p++;
    }
    if (s->p < s->end)
        s->p++;
}

static void scan_value(struct scan *s, const char *ptr, size_t depth)
{
    ws(s);
    if (s->p >= s->end)
        return;
    char ch = *s->p;
    if ((ch == '{' || ch == '[') && depth >= s->max_depth) {
        if (!s->deep)
            scan_error(s, ptr, "nested deeper than %zu levels", s->max_depth);
        s->deep = true;
        skip_value(s);
    } else if (ch == '{') {
        scan_object(s, ptr, depth);
    } else if (ch == '[') {
        scan_array(s, ptr, depth);
    } else if (ch == '"') {
        skip_string(s);
    } else {
        skip_scalar(s);
    }
}

size_t box_vm_scan_structure(const char *buf, size_t len, size_t max_depth,
                             struct box_vm_report *rep)
{
    /* jansson ends its input at a NUL byte; so does this scan. */
    struct scan s = {.p = buf, .end = buf + strnlen(buf, len), .max_depth = max_depth, .rep = rep};
    scan_value(&s, "", 0);
    return s.errors;
}
