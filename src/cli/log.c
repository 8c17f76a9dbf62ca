#include <fcntl.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

static const struct box_cli *log_cli;

static void log_line(const struct box_cli *cli, const char *level, const char *msg)
{
    if (!cli || !cli->log_path)
        return;
    int fd = open(cli->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char ts[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (cli->log_json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", ts);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s)
            dprintf(fd, "%s\n", s);
        free(s);
        json_decref(o);
    } else {
        dprintf(fd, "time=\"%s\" level=%s msg=\"%s\"\n", ts, level, msg);
    }
    close(fd);
}

int box_cli_fail(const struct box_cli *cli, const char *fmt, ...)
{
    char msg[BOX_ERR_MSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "box: %s\n", msg);
    log_line(cli, "error", msg);
    return 1;
}

int box_cli_fail_err(const struct box_cli *cli, const struct box_err *err)
{
    return box_cli_fail(cli, "%s", err->msg[0] ? err->msg : strerror(err->code ? err->code : EIO));
}

void box_cli_warn(const char *msg)
{
    fprintf(stderr, "box: warning: %s\n", msg);
    log_line(log_cli, "warning", msg);
}

int box_cli_usage(const struct box_cli *cli, const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_cli = cli;
    return box_cli_fail(cli, "%s: %s (see `box %s --help`)", cmd, msg, cmd);
}

void box_cli_set_log(const struct box_cli *cli)
{
    log_cli = cli;
}
