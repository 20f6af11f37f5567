/*
 * enclave — the seccomp allowlist installed after start-up.
 *
 * Default action SCMP_ACT_KILL_PROCESS: anything not listed kills the
 * whole worker (all threads) with SIGSYS. A worker that asks for a syscall
 * it never needs is broken or compromised; an error return (EPERM) would
 * let an attacker probe the filter at leisure while the keys stay live.
 * Not allowed, on purpose: open/openat (no files after start-up), socket,
 * connect, bind, listen, accept (only accept4 on the socket that is
 * already listening), setsockopt, unlink, ioctl (so /dev/nsm is not usable
 * under the filter: the enclave asks the NSM for documents only before
 * it), execve, execveat, ptrace, clone/clone3/fork (the thread pool is
 * started while the model loads, before the sandbox), kill/tgkill to
 * other processes, rt_sigaction (handlers are installed before).
 */
#include <errno.h>
#include <seccomp.h>

#include "enclave/enclave.h"

ccc_status ccc_enclave_sandbox_enter(void)
{
    static const int allowed[] = {
        /* I/O on already-open descriptors: the frame socket (read/write,
         * recvfrom/sendto: send(MSG_NOSIGNAL) in src/frame), the log
         * stream (write/writev via stdio), pipes in tests. */
        SCMP_SYS(read),
        SCMP_SYS(write),
        SCMP_SYS(readv),
        SCMP_SYS(writev),
        SCMP_SYS(recvfrom),
        SCMP_SYS(sendto),
        SCMP_SYS(recvmsg),
        SCMP_SYS(sendmsg),
        /* closing a finished connection / descriptor */
        SCMP_SYS(close),
        /* the next host connection on the socket bound and listening
         * before the sandbox (docs/protocol.md §10: "accepting the next
         * host connection is allowed under it (accept4)"); creating,
         * binding or connecting sockets is not */
        SCMP_SYS(accept4),
        /* waiting for the host's next frame or the next connection
         * together with the stop pipe (ccc_enclave_wait); glibc's poll()
         * is the poll syscall on x86-64 and ppoll elsewhere */
        SCMP_SYS(poll),
        SCMP_SYS(ppoll),
        /* stdio's first use of a stream queries it (fstat/newfstatat) */
        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),
        /* memory: malloc (brk, mmap/munmap for large blocks, mremap for
         * realloc), mprotect (glibc arenas, guard pages), madvise (free
         * returning memory; MADV_DONTDUMP of secret buffers), mlock/munlock
         * (ccc_secret_alloc locks secret buffers) */
        SCMP_SYS(brk),
        SCMP_SYS(mmap),
        SCMP_SYS(munmap),
        SCMP_SYS(mremap),
        SCMP_SYS(mprotect),
        SCMP_SYS(madvise),
        SCMP_SYS(mlock),
        SCMP_SYS(munlock),
        /* the detector's thread pool: mutexes and condition variables */
        SCMP_SYS(futex),
        SCMP_SYS(sched_yield),
        /* glibc's per-thread bookkeeping when a pool thread exits */
        SCMP_SYS(set_robust_list),
        SCMP_SYS(rseq),
        /* blocking signals around thread exit / stdio locking in glibc */
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(rt_sigreturn),
        /* the kernel resumes a poll/futex wait interrupted by a stop
         * (SIGSTOP/SIGCONT, a debugger) through restart_syscall; without it
         * a stopped and continued enclave is killed */
        SCMP_SYS(restart_syscall),
        /* time: receipts (CLOCK_REALTIME) and durations (CLOCK_MONOTONIC);
         * usually vDSO, the syscall is the fallback */
        SCMP_SYS(clock_gettime),
        SCMP_SYS(gettimeofday),
        /* randomness for HPKE response nonces and Ed25519 (OpenSSL's
         * seed source) */
        SCMP_SYS(getrandom),
        /* OpenSSL's fork detection and glibc's raise() read their ids */
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        /* leaving: a thread, the process */
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    CCC_ENSURE(ctx != NULL, CCC_ERR_INTERNAL, "sandbox: seccomp_init failed");
    int rc = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    /* All threads (the pool already runs), and no new privileges. */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    CCC_ENSURE(rc == 0, CCC_ERR_INTERNAL, "sandbox: cannot install the seccomp filter");
    return CCC_OK;
}
