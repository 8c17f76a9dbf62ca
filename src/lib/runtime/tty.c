#include "lib/runtime/tty.h"

#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/base/fs.h"

int box_tty_recv_master(int sock, struct box_err *err)
{
    char dummy;
    struct iovec iov = {&dummy, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
        return box_err_set(err, EPROTO, "the container sent no terminal");
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

static void copy_winsize(int from, int to)
{
    struct winsize ws;
    if (ioctl(from, TIOCGWINSZ, &ws) == 0)
        ioctl(to, TIOCSWINSZ, &ws);
}

/* Moves what is readable on `from` to `to`; false at EOF or error. */
static bool pump(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    return box_write_all(to, buf, (size_t)n) == 0;
}

static bool child_done(pid_t pid, int *exit_code)
{
    int status;
    if (waitpid(pid, &status, WNOHANG) != pid)
        return false;
    *exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    return true;
}

int box_tty_relay(int master, pid_t pid, const sigset_t *set, int *exit_code)
{
    struct termios saved;
    bool raw = isatty(0) && tcgetattr(0, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        tcsetattr(0, TCSANOW, &t);
        copy_winsize(0, master);
    }
    sigset_t with_winch = *set;
    sigaddset(&with_winch, SIGWINCH);
    sigprocmask(SIG_BLOCK, &with_winch, NULL);
    int sfd = signalfd(-1, &with_winch, SFD_CLOEXEC | SFD_NONBLOCK);
    bool in_open = true, done = false;
    while (!done) {
        struct pollfd p[3] = {{master, POLLIN, 0}, {sfd, POLLIN, 0}, {0, POLLIN, 0}};
        if (poll(p, in_open ? 3 : 2, -1) < 0 && errno != EINTR)
            break;
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(master, 1))
            p[0].fd = -1; /* the pty's last writer is gone: wait for the exit */
        if (in_open && (p[2].revents & (POLLIN | POLLHUP)) && !pump(0, master))
            in_open = false;
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGWINCH)
                    copy_winsize(0, master);
                else if (si.ssi_signo != SIGCHLD)
                    kill(pid, (int)si.ssi_signo);
            }
            done = child_done(pid, exit_code);
        }
        if (p[0].fd < 0 && !done) {
            /* Output closed before the exit was seen: wait for it. */
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            *exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            done = true;
        }
    }
    /* What the program wrote last may still be in the pty. */
    fcntl(master, F_SETFL, O_NONBLOCK);
    char buf[8192];
    ssize_t n;
    while ((n = read(master, buf, sizeof(buf))) > 0 && box_write_all(1, buf, (size_t)n) == 0)
        ;
    if (sfd >= 0)
        close(sfd);
    if (raw)
        tcsetattr(0, TCSANOW, &saved);
    return 0;
}
