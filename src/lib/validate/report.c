#include "lib/validate/report.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base/fs.h"

#define REPLACEMENT "\xef\xbf\xbd"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return s[0] ? 1 : 0;
    size_t len;
    unsigned cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

char *box_utf8_clean(const char *s, size_t n, size_t *out_len)
{
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(out + o, s + i, k);
        o += k;
        i += k;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

void box_xml_escape(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        /* XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | ... */
        bool bad = k == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
                   (k == 3 && c == 0xef && (unsigned char)s[i + 1] == 0xbf &&
                    (unsigned char)s[i + 2] >= 0xbe);
        if (bad) {
            fputs(REPLACEMENT, f);
            i += k ? k : 1;
            continue;
        }
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '\r':
            fputs("&#13;", f);
            break;
        default:
            fwrite(s + i, 1, k, f);
        }
        i += k;
    }
}

void box_report_count(const struct box_report *r, struct box_report_counts *c)
{
    memset(c, 0, sizeof(*c));
    c->total = r->n;
    for (size_t i = 0; i < r->n; i++) {
        if (r->res[i].v.outcome == BOX_OUT_SKIPPED)
            c->skipped++;
        else if (r->res[i].v.matched)
            c->matched++;
        else
            c->mismatched++;
    }
}

/* Writes a buffer to `path` through a temp file in its directory. */
static int write_atomic(const char *path, const char *data, size_t len, struct box_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    const char *name = path;
    if (slash) {
        name = path + (slash - dir) + 1;
        *slash = '\0';
    }
    if (!*name)
        return box_err_set(err, EINVAL, "report `%s`: not a file name", path);
    _cleanup_close_ int dfd =
        open(slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return box_err_sys(err, errno, "report `%s`", path);
    if (box_write_file_atomic(dfd, name, data, len, 0644, err) < 0)
        return box_err_prefix(err, "report `%s`", path);
    return 0;
}

static json_t *stream_json(const struct box_capture *c)
{
    size_t len = 0;
    char *text = c->buf ? box_utf8_clean(c->buf, c->len, &len) : NULL;
    json_t *o =
        json_pack("{s:I,s:I,s:I,s:s#}", "bytes", (json_int_t)c->total, "kept", (json_int_t)c->len,
                  "dropped", (json_int_t)c->dropped, "text", text ? text : "", len);
    free(text);
    return o;
}

static json_t *result_json(const struct box_wl *w, const struct box_result *res)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:b,s:{s:I,s:I,s:I,s:I},s:o,s:o}", "name",
                          w->name, "image", w->image, "expect", box_expect_str(w->expect), "result",
                          box_outcome_str(res->v.outcome), "matched", res->v.matched, "reason",
                          res->v.reason, "gpu", w->gpu, "phases_ms", "fetch",
                          (json_int_t)res->ms_fetch, "unpack", (json_int_t)res->ms_unpack, "bundle",
                          (json_int_t)res->ms_bundle, "run", (json_int_t)res->ms_run, "stdout",
                          stream_json(&res->out), "stderr", stream_json(&res->err));
    json_object_set_new(o, "digest", res->digest[0] ? json_string(res->digest) : json_null());
    json_object_set_new(o, "exit_code",
                        res->exit_code >= 0 ? json_integer(res->exit_code) : json_null());
    return o;
}

int box_report_json(const struct box_report *r, const char *path, struct box_err *err)
{
    struct box_report_counts c;
    box_report_count(r, &c);
    json_t *ws = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(ws, result_json(&r->ws[i], &r->res[i]));
    json_t *doc =
        json_pack("{s:s,s:s,s:{s:I,s:I,s:I,s:I},s:b,s:o}", "schema", "box-validate/1", "runtime",
                  r->runtime, "summary", "total", (json_int_t)c.total, "matched",
                  (json_int_t)c.matched, "mismatched", (json_int_t)c.mismatched, "skipped",
                  (json_int_t)c.skipped, "ok", c.mismatched == 0, "workloads", ws);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return box_err_set(err, ENOMEM, "report `%s`", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* in place of the NUL */
    int rc = write_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}

static void junit_case(FILE *f, const char *runtime, const struct box_wl *w,
                       const struct box_result *res)
{
    fprintf(f, "    <testcase classname=\"box-validate.%s\" name=\"", runtime);
    box_xml_escape(f, w->name, strlen(w->name));
    fprintf(f, "\" time=\"%.3f\">\n",
            (double)(res->ms_fetch + res->ms_unpack + res->ms_bundle + res->ms_run) / 1000.0);
    enum box_outcome o = res->v.outcome;
    const char *tag = o == BOX_OUT_SKIPPED                         ? "skipped"
                      : o == BOX_OUT_TIMEOUT || o == BOX_OUT_ERROR ? "error"
                      : !res->v.matched                            ? "failure"
                                                                   : NULL;
    if (tag) {
        char msg[700];
        int n = snprintf(msg, sizeof(msg), "expected %s, got %s: %s", box_expect_str(w->expect),
                         box_outcome_str(o), res->v.reason);
        fprintf(f, "      <%s message=\"", tag);
        box_xml_escape(f, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        fprintf(f, "\" type=\"%s\"/>\n", box_outcome_str(o));
    }
    fputs("      <system-out>", f);
    if (res->out.buf)
        box_xml_escape(f, res->out.buf, res->out.len);
    fputs("</system-out>\n      <system-err>", f);
    if (res->err.buf)
        box_xml_escape(f, res->err.buf, res->err.len);
    fputs("</system-err>\n    </testcase>\n", f);
}

int box_report_junit(const struct box_report *r, const char *path, struct box_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return box_err_sys(err, errno, "report `%s`", path);
    size_t failures = 0, errors = 0, skipped = 0;
    int64_t ms = 0;
    for (size_t i = 0; i < r->n; i++) {
        enum box_outcome o = r->res[i].v.outcome;
        skipped += o == BOX_OUT_SKIPPED;
        errors += o == BOX_OUT_TIMEOUT || o == BOX_OUT_ERROR;
        failures += !r->res[i].v.matched && o != BOX_OUT_TIMEOUT && o != BOX_OUT_ERROR;
        ms += r->res[i].ms_fetch + r->res[i].ms_unpack + r->res[i].ms_bundle + r->res[i].ms_run;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f,
            "<testsuites name=\"box validate\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"%zu\" time=\"%.3f\">\n",
            r->n, failures, errors, skipped, (double)ms / 1000.0);
    fprintf(f,
            "  <testsuite name=\"box-validate.%s\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            r->runtime, r->n, failures, errors, skipped, (double)ms / 1000.0);
    for (size_t i = 0; i < r->n; i++)
        junit_case(f, r->runtime, &r->ws[i], &r->res[i]);
    fputs("  </testsuite>\n</testsuites>\n", f);
    if (fclose(f) != 0) {
        free(text);
        return box_err_set(err, ENOMEM, "report `%s`", path);
    }
    int rc = write_atomic(path, text, len, err);
    free(text);
    return rc;
}
