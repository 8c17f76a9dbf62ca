/* box-trampoline: the last step between a container's init and its program.
 *
 * box embeds this program and execs it from a sealed memfd right before the
 * user's program, so the process that execs the program is never the
 * on-disk box binary: an image whose entrypoint is `#!/proc/self/exe`
 * reaches only this sealed, anonymous copy (CVE-2019-5736), at the cost of
 * one exec of a few-KiB static file instead of copying and re-executing box.
 *
 * argv: PATH FD ARGV0 ARGS...   The program at PATH is exec'd with ARGV0
 * ARGS... and the environment as given. FD is either the connection of
 * `box start` ("N"), or "LN": a listening socket on which to wait for that
 * connection first, so that a created container waits in this sealed copy
 * rather than in the runtime binary. The connection is close-on-exec, so
 * its reader sees EOF when the exec succeeds, and "E<errno>" when it fails.
 * No libc: raw system calls only. */

#if defined(__x86_64__)
#define NR_write   1
#define NR_close   3
#define NR_fcntl   72
#define NR_execve  59
#define NR_exit    60
#define NR_accept4 288
static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}
static long sys_accept4(long fd, long flags)
{
    long ret;
    register long r10 __asm__("r10") = flags;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(NR_accept4), "D"(fd), "S"(0L), "d"(0L), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
#define NR_write   64
#define NR_close   57
#define NR_fcntl   25
#define NR_execve  221
#define NR_exit    93
#define NR_accept4 242
static long sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
static long sys_accept4(long fd, long flags)
{
    register long x8 __asm__("x8") = NR_accept4;
    register long x0 __asm__("x0") = fd;
    register long x1 __asm__("x1") = 0;
    register long x2 __asm__("x2") = 0;
    register long x3 __asm__("x3") = flags;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
#else
#error "box-trampoline: unsupported architecture"
#endif

#define F_SETFD      2
#define FD_CLOEXEC   1
#define SOCK_CLOEXEC 02000000
#define EINTR        4

static long parse_fd(const char *s)
{
    long v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static void report(long fd, long err)
{
    char buf[16];
    int n = 0;
    char digits[12] = {0};
    int d = 0;
    buf[n++] = 'E';
    if (err <= 0)
        err = 1;
    while (err > 0 && d < 11) {
        digits[d++] = (char)('0' + err % 10);
        err /= 10;
    }
    while (d > 0)
        buf[n++] = digits[--d];
    sys3(NR_write, fd, (long)buf, n);
}

__attribute__((used)) void trampoline_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc < 3)
        sys3(NR_exit, 127, 0, 0);
    long fd;
    if (argv[1][0] == 'L') {
        long lfd = parse_fd(argv[1] + 1);
        do {
            /* accept4(lfd, NULL, NULL, SOCK_CLOEXEC): the fourth argument
             * goes in the fourth register, which sys3 does not set, so
             * pass the flags through a dedicated call. */
            fd = sys_accept4(lfd, SOCK_CLOEXEC);
        } while (fd == -EINTR);
        if (fd < 0)
            sys3(NR_exit, 1, 0, 0);
        sys3(NR_close, lfd, 0, 0);
    } else {
        fd = parse_fd(argv[1]);
        if (fd >= 0)
            sys3(NR_fcntl, fd, F_SETFD, FD_CLOEXEC);
    }
    long r = sys3(NR_execve, (long)argv[0], (long)(argv + 2), (long)envp);
    if (fd >= 0)
        report(fd, -r);
    sys3(NR_exit, 127, 0, 0);
    for (;;)
        ;
}

#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call trampoline_main\n"
        "  hlt\n");
#elif defined(__aarch64__)
__asm__(".text\n.global _start\n_start:\n"
        "  mov x0, sp\n"
        "  bl trampoline_main\n"
        "  brk #0\n");
#endif
