/* The local stack's processes: start, wait until ready, supervise, stop
 * (stack.h). Signals are blocked and taken synchronously with
 * sigtimedwait, so there is no handler and no race between a child's exit
 * and a stop request. */
#include "stack/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define MAX_ARGS 48
#define STOP_GRACE_MS 5000
#define RESTART_MIN_MS 500
#define RESTART_MAX_MS 8000
#define QUICK_DEATH_MS 10000 /* a child that dies sooner restarts slower */
/* The simulated NSM's per-boot leaf certificate lives 3 hours (as AWS's),
 * and the enclave's receipt-key document carries it: reboot the enclave
 * before clients would refuse an expired chain. The host requeues a job in
 * flight; the new boot gets a new key release and a new document. */
#define ENCLAVE_REBOOT_MS (2ull * 3600 * 1000)

typedef struct child {
    const char *name; /* "kms", "host", "enclave": also its log file name */
    char *argv[MAX_ARGS];
    size_t argc;
    pid_t pid;
    uint64_t started_ms;
    uint64_t restart_at_ms; /* 0: no restart pending */
    unsigned restart_delay_ms;
} child;

enum { KMS, HOST, ENCLAVE, CHILD_COUNT };

static uint64_t mono_ms(void) { return ccc_now_ns() / 1000000u; }

static ccc_status arg(child *c, const char *a)
{
    CCC_ENSURE(c->argc + 1 < MAX_ARGS, CCC_ERR_LIMIT, "too many arguments");
    c->argv[c->argc] = strdup(a);
    CCC_ENSURE(c->argv[c->argc], CCC_ERR_NOMEM, "out of memory");
    c->argc++;
    c->argv[c->argc] = NULL;
    return CCC_OK;
}

static ccc_status args(child *c, const char *const *list)
{
    for (; *list; list++)
        CCC_GUARD(arg(c, *list));
    return CCC_OK;
}

static void child_free(child *c)
{
    for (size_t i = 0; i < c->argc; i++)
        free(c->argv[i]);
    c->argc = 0;
}

static ccc_status build_children(const ccc_stack_paths *p, const ccc_stack_options *opts,
                                 child kids[CHILD_COUNT])
{
    char kms_listen[CCC_STACK_PATH_MAX + 8], enclave_listen[CCC_STACK_PATH_MAX + 8];
    char listen[32], hash[65];
    snprintf(kms_listen, sizeof kms_listen, "unix:%s", p->kms_sock);
    snprintf(enclave_listen, sizeof enclave_listen, "unix:%s", p->enclave_sock);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)p->port);
    ccc_hex_encode(p->manifest_sha256, 32, hash);

    kids[KMS].name = "kms";
    CCC_GUARD(args(&kids[KMS], (const char *const[]){p->kms_bin, "--state", p->kms_dir,
                                                     "--policy", p->policy, "--policy-pub",
                                                     p->policy_pub, "--root", p->root,
                                                     "--listen", kms_listen, NULL}));
    kids[HOST].name = "host";
    CCC_GUARD(args(&kids[HOST],
                   (const char *const[]){p->host_bin, "--listen", listen, "--enclave",
                                         enclave_listen, "--kms", kms_listen, "--kms-config",
                                         p->kms_config, "--policy", p->policy, "--queue",
                                         p->queue_url, NULL}));
    if (p->static_dir[0])
        CCC_GUARD(args(&kids[HOST], (const char *const[]){"--static", p->static_dir, NULL}));
    for (size_t i = 0; i < opts->host_arg_count; i++)
        CCC_GUARD(arg(&kids[HOST], opts->host_args[i]));
    /* The enclave is started by the simulated NSM's measured launch, which
     * extends PCR16/17 with the manifest and policy hashes. */
    kids[ENCLAVE].name = "enclave";
    CCC_GUARD(args(&kids[ENCLAVE],
                   (const char *const[]){p->ccc_bin, "nsm", "launch", "--dir", p->nsm_dir,
                                         "--manifest-hash", hash, "--policy", p->policy,
                                         "--policy-pub", p->policy_pub, "--", p->enclave_bin,
                                         "--listen", enclave_listen, "--policy", p->policy,
                                         "--policy-pub", p->policy_pub, "--model-dir",
                                         p->model_dir, NULL}));
    return CCC_OK;
}

/* fork + exec one child in its own process group, stderr/stdout to its log. */
static ccc_status start_child(const ccc_stack_paths *p, child *c)
{
    char log_path[CCC_STACK_PATH_MAX];
    CCC_GUARD(ccc_stack_path(log_path, p->log_dir, c->name));
    CCC_ENSURE(strlen(log_path) + 5 < sizeof log_path, CCC_ERR_LIMIT, "path too long");
    strcat(log_path, ".log");
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    CCC_ENSURE(log_fd >= 0, CCC_ERR_IO, "cannot open a log file");
    pid_t supervisor = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(log_fd);
        CCC_BAIL(CCC_ERR_IO, "fork failed");
    }
    if (pid == 0) {
        /* Own process group: stopping a child also stops what it started
         * (nsm launch's enclave). Signals back to normal before exec. A
         * supervisor that dies (kill -9) takes its children with it. */
        setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != supervisor)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
            _exit(127);
        execv(c->argv[0], c->argv);
        _exit(127);
    }
    setpgid(pid, pid); /* also from the parent: no window where it is unset */
    close(log_fd);
    c->pid = pid;
    c->started_ms = mono_ms();
    c->restart_at_ms = 0;
    return CCC_OK;
}

static void describe_exit(const child *c, int status, char *out, size_t size)
{
    if (WIFEXITED(status))
        snprintf(out, size, "%s exited with status %d", c->name, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, size, "%s was killed by signal %d", c->name, WTERMSIG(status));
    else
        snprintf(out, size, "%s stopped", c->name);
}

/* Reap exited children. Returns the index of the first one that exited
 * (or -1); schedules restarts when `restart`. */
static int reap(child kids[CHILD_COUNT], bool restart)
{
    int first = -1;
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        for (int i = 0; i < CHILD_COUNT; i++) {
            child *c = &kids[i];
            if (c->pid != pid)
                continue;
            /* The group may hold the enclave under nsm launch: end it too. */
            kill(-pid, SIGKILL);
            char what[96];
            describe_exit(c, status, what, sizeof what);
            uint64_t now = mono_ms();
            c->pid = 0;
            if (first < 0)
                first = i;
            if (!restart)
                break;
            bool quick = now - c->started_ms < QUICK_DEATH_MS;
            c->restart_delay_ms = quick && c->restart_delay_ms
                                      ? (c->restart_delay_ms * 2 > RESTART_MAX_MS
                                             ? RESTART_MAX_MS
                                             : c->restart_delay_ms * 2)
                                      : RESTART_MIN_MS;
            c->restart_at_ms = now + c->restart_delay_ms;
            fprintf(stderr, "ccc up: %s; restarting it in %.1f s\n", what,
                    c->restart_delay_ms / 1000.0);
            break;
        }
    }
    return first;
}

/* Wait for signals up to `ms`; true if a stop was asked for. */
static bool wait_signal(unsigned ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig == SIGINT || sig == SIGTERM || sig == SIGHUP;
}

static void stop_children(child kids[CHILD_COUNT])
{
    /* Front to back: the host first (it requeues its in-flight job), then
     * the enclave (keys wiped on SIGTERM), then the key service. */
    static const int order[] = {HOST, ENCLAVE, KMS};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        child *c = &kids[order[k]];
        c->restart_at_ms = 0;
        if (c->pid <= 0)
            continue;
        pid_t pid = c->pid;
        kill(-pid, SIGTERM);
        uint64_t deadline = mono_ms() + STOP_GRACE_MS;
        while (c->pid > 0 && mono_ms() < deadline) {
            (void)wait_signal(100);
            (void)reap(kids, false);
        }
        if (c->pid > 0) {
            fprintf(stderr, "ccc up: %s did not stop in %d s; killing it\n", c->name,
                    STOP_GRACE_MS / 1000);
            kill(-pid, SIGKILL);
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            c->pid = 0;
        }
        kill(-pid, SIGKILL); /* anything left in its group */
    }
}

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr, (void)arg;
    return size * n;
}

/* GET /healthz: 200 means an enclave holds keys and serves. */
static bool healthy(const char *url)
{
    char probe[256];
    snprintf(probe, sizeof probe, "%s/healthz", url);
    CURL *curl = curl_easy_init();
    if (!curl)
        return false;
    long code = 0;
    curl_easy_setopt(curl, CURLOPT_URL, probe);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    bool ok = curl_easy_perform(curl) == CURLE_OK &&
              curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200;
    curl_easy_cleanup(curl);
    return ok;
}

static void print_log_tail(const ccc_stack_paths *p, const char *name)
{
    char path[CCC_STACK_PATH_MAX];
    if (ccc_stack_path(path, p->log_dir, name) != CCC_OK || strlen(path) + 5 >= sizeof path)
        return;
    strcat(path, ".log");
    ccc_buf b;
    ccc_buf_init(&b, 64u << 20);
    if (ccc_file_read(path, &b) == CCC_OK && b.size > 0) {
        size_t start = b.size > 2000 ? b.size - 2000 : 0;
        fprintf(stderr, "---- last lines of %s ----\n", path);
        fwrite(b.data + start, 1, b.size - start, stderr);
        fprintf(stderr, "----\n");
    }
    ccc_buf_wipe(&b);
}

static ccc_status write_text(const char *path, const char *text)
{
    return ccc_file_write(path, text, strlen(text));
}

/* Hold DIR/run/up.lock; with `record_pid` also write our pid INTO it, so
 * `ccc down` reads the pid of whoever holds the lock — never a stale
 * up.pid left by a crashed run (that pid may be another process now). */
static ccc_status take_lock(const ccc_stack_paths *p, bool record_pid, int *fd_out)
{
    char path[CCC_STACK_PATH_MAX];
    CCC_GUARD(ccc_stack_path(path, p->run_dir, "up.lock"));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CCC_ENSURE(fd >= 0, CCC_ERR_IO, "cannot open the stack's lock file");
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        CCC_BAIL(CCC_ERR_BUSY, "a stack is already running in this data directory (ccc down)");
    }
    if (record_pid) {
        char text[32];
        int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
            close(fd);
            CCC_BAIL(CCC_ERR_IO, "cannot write the stack's lock file");
        }
    }
    *fd_out = fd;
    return CCC_OK;
}

static ccc_status wait_for_file(const char *path, child kids[CHILD_COUNT], unsigned timeout_ms)
{
    uint64_t deadline = mono_ms() + timeout_ms;
    while (!ccc_stack_exists(path)) {
        if (wait_signal(50))
            CCC_BAIL(CCC_ERR_IO, "interrupted during start-up");
        int dead = reap(kids, false);
        CCC_ENSURE(dead < 0, CCC_ERR_IO, "a process exited during start-up");
        CCC_ENSURE(mono_ms() < deadline, CCC_ERR_IO, "the key service did not start in time");
    }
    return CCC_OK;
}

ccc_status ccc_stack_run(const ccc_stack_options *opts, void (*ready)(const char *url, void *arg),
                         void *arg)
{
    ccc_status st = CCC_OK;
    int lock_fd = -1;
    child kids[CHILD_COUNT];
    memset(kids, 0, sizeof kids);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    ccc_stack_paths *p = calloc(1, sizeof *p);
    CCC_CHECK(p, CCC_ERR_NOMEM, "out of memory");
    CCC_TRY(ccc_stack_paths_init(opts, p));
    CCC_TRY(ccc_stack_model_manifest_hash(p->model_dir, p->manifest_sha256));
    CCC_TRY(ccc_stack_make_dirs(p));
    CCC_TRY(take_lock(p, true, &lock_fd));
    /* Else the readiness probe could find another stack's host there. */
    CCC_CHECK(!ccc_tcp_port_in_use("127.0.0.1", p->port), CCC_ERR_BUSY,
              "the port is already in use (another stack? choose another --port)");
    CCC_TRY(ccc_stack_prepare_paths(p, !opts->static_dir));
    unlink(p->kms_sock);
    unlink(p->enclave_sock);
    char pid_text[32], url[64];
    snprintf(pid_text, sizeof pid_text, "%d\n", (int)getpid());
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)p->port);
    CCC_TRY(write_text(p->pid_file, pid_text));
    CCC_TRY(build_children(p, opts, kids));

    /* kms first (the host relays to it), then the host, then the enclave. */
    CCC_TRY(start_child(p, &kids[KMS]));
    st = wait_for_file(p->kms_sock, kids, 15000);
    if (st != CCC_OK) {
        print_log_tail(p, "kms");
        goto out;
    }
    CCC_TRY(start_child(p, &kids[HOST]));
    CCC_TRY(start_child(p, &kids[ENCLAVE]));
    fprintf(stderr, "ccc up: started ccc-kms, ccc-host and ccc-enclave; waiting for the "
                    "enclave's attested key release\n");
    unsigned timeout_s = opts->ready_timeout_s ? opts->ready_timeout_s : 120;
    uint64_t deadline = mono_ms() + timeout_s * 1000ull, next_note = mono_ms() + 10000;
    while (!healthy(url)) {
        if (wait_signal(200)) {
            st = ccc_error_raise(CCC_ERR_IO, "interrupted during start-up", false, 0, __FILE__,
                                 __LINE__);
            goto out;
        }
        int dead = reap(kids, false);
        if (dead >= 0) {
            print_log_tail(p, kids[dead].name);
            st = ccc_error_raise(CCC_ERR_IO, "a process exited during start-up (its log is above)",
                                 false, 0, __FILE__, __LINE__);
            goto out;
        }
        if (mono_ms() > deadline) {
            print_log_tail(p, "enclave");
            print_log_tail(p, "host");
            st = ccc_error_raise(CCC_ERR_IO, "the stack was not ready in time", false, 0,
                                 __FILE__, __LINE__);
            goto out;
        }
        if (mono_ms() > next_note) {
            fprintf(stderr, "ccc up: still waiting for the enclave (logs: %s)\n", p->log_dir);
            next_note = mono_ms() + 10000;
        }
    }
    char url_line[80];
    snprintf(url_line, sizeof url_line, "%s\n", url);
    CCC_TRY(write_text(p->url_file, url_line));
    if (ready)
        ready(url, arg);

    for (;;) {
        if (wait_signal(250))
            break;
        (void)reap(kids, true);
        uint64_t now = mono_ms();
        child *enc = &kids[ENCLAVE];
        if (enc->pid > 0 && now - enc->started_ms > ENCLAVE_REBOOT_MS) {
            fprintf(stderr, "ccc up: rebooting the enclave before its attestation "
                            "certificate expires\n");
            kill(-enc->pid, SIGTERM);
            enc->started_ms = now; /* once; reap restarts it when it exits */
        }
        for (int i = 0; i < CHILD_COUNT; i++) {
            child *c = &kids[i];
            if (c->pid == 0 && c->restart_at_ms && now >= c->restart_at_ms) {
                ccc_status rs = start_child(p, c);
                if (rs != CCC_OK)
                    c->restart_at_ms = now + RESTART_MAX_MS;
            }
        }
    }
    fprintf(stderr, "ccc up: stopping\n");
out:
    stop_children(kids);
    for (int i = 0; i < CHILD_COUNT; i++)
        child_free(&kids[i]);
    if (p && lock_fd >= 0) {
        unlink(p->url_file);
        unlink(p->pid_file);
        unlink(p->kms_sock);
        unlink(p->enclave_sock);
    }
    if (lock_fd >= 0)
        close(lock_fd);
    free(p);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return st;
}

ccc_status ccc_stack_check_free(const ccc_stack_options *opts)
{
    ccc_stack_paths *p = calloc(1, sizeof *p);
    CCC_ENSURE(p, CCC_ERR_NOMEM, "out of memory");
    int fd = -1;
    ccc_status st = ccc_stack_paths_init(opts, p);
    if (st == CCC_OK)
        st = ccc_stack_make_dirs(p);
    if (st == CCC_OK)
        st = take_lock(p, false, &fd); /* released at once: only a probe */
    if (st == CCC_OK && ccc_tcp_port_in_use("127.0.0.1", p->port))
        st = ccc_error_raise(CCC_ERR_BUSY, "the port is already in use (another stack? choose "
                                           "another --port)", false, 0, __FILE__, __LINE__);
    if (fd >= 0)
        close(fd);
    free(p);
    return st;
}

ccc_status ccc_stack_down(const char *dir, unsigned timeout_s, bool *was_running)
{
    *was_running = false;
    char root[CCC_STACK_PATH_MAX], lock_path[CCC_STACK_PATH_MAX];
    if (dir)
        CCC_GUARD(ccc_stack_path(root, dir, "."));
    else
        CCC_GUARD(ccc_stack_default_dir(root, sizeof root));
    CCC_GUARD(ccc_stack_path(lock_path, root, "run/up.lock"));
    int fd = open(lock_path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return CCC_OK; /* never started here */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        close(fd); /* nobody holds it: nothing runs */
        return CCC_OK;
    }
    /* The holder writes its pid into the lock right after taking it. */
    long pid = 0;
    for (int i = 0; i < 20 && pid <= 1; i++) {
        char text[32] = {0};
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        pid = n > 0 ? strtol(text, NULL, 10) : 0;
        if (pid <= 1) {
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (pid <= 1) {
        close(fd);
        CCC_BAIL(CCC_ERR_IO, "a stack holds the lock but has not written its pid");
    }
    *was_running = true;
    kill((pid_t)pid, SIGTERM);
    uint64_t deadline = mono_ms() + (uint64_t)timeout_s * 1000u;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (mono_ms() > deadline) {
            close(fd);
            CCC_BAIL(CCC_ERR_BUSY, "the stack did not stop in time");
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    close(fd);
    return CCC_OK;
}
