/*
 * ccc bench e2e — the whole confidential path on loopback against bare
 * detection, in the same run:
 *
 *   bare      decode + detect in this process (the enclave's engine, the same
 *             thread count), one photo at a time: what the path costs at least
 *   e2e N     N client threads, each in a loop for --seconds: seal (OHTTP),
 *             POST /v1/jobs, long-poll GET, decrypt, verify the receipt
 *             against the (cached, verified) attestation — through a real
 *             ccc-host, queue and measured-launch ccc-enclave
 *
 * Prints throughput (jobs/s), latency p50/p95 and errors per level, the
 * overhead of one client's p50 over bare detection's p50, and the RSS of the
 * host and the enclave before and after each level (flat = no leak).
 *
 * Without --server it starts its own stack (`ccc up --detach` in a temporary
 * data directory, stopped at the end).
 */
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "client/client.h"
#include "detect/detect.h"
#include "image/image.h"
#include "stack/stack.h"

#define MAX_PHOTOS 16
#define MAX_LEVELS 8
#define MAX_SAMPLES (1u << 20)

typedef struct photo {
    const char *path;
    ccc_buf bytes;
} photo;

typedef struct bench {
    const char *server;
    const char *trust_dir;
    const char *stack_dir;    /* for finding the enclave (RSS); "" if unknown */
    ccc_client_trust trust;   /* shared read-only by the client threads */
    ccc_client_config *cfg;   /* verified once, shared read-only        */
    photo photos[MAX_PHOTOS];
    size_t photo_count;
    double seconds;
    /* one level */
    atomic_bool stop;
    atomic_uint_fast64_t done, errors, next_photo;
    pthread_mutex_t lock;
    double *latencies_ms;
    size_t latency_count;
    /* 1 client: bare detection interleaved with the confidential path,
     * photo for photo, so both are measured in the same minutes */
    ccc_detect_model *model;
    bool interleave;
    double *bare_ms;
    size_t bare_count;
    ccc_status first_error;
} bench;

static double now_ms(void) { return (double)ccc_now_ns() / 1e6; }

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 ? 0 : 0; /* best effort: keep going */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* VmRSS in MB of the process whose argv[0] ends in `/program` and whose
 * command line mentions `needle` (this stack's data directory or port). */
static double rss_of(const char *program, const char *needle)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    double mb = 0;
    struct dirent *e;
    while ((e = readdir(d)) && mb == 0) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t n = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        cmd[n] = '\0';
        const char *base = strrchr(cmd, '/'); /* argv[0] ends at the first NUL */
        base = base ? base + 1 : cmd;
        if (strcmp(base, program) != 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        if (!strstr(cmd, needle))
            continue;
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        f = fopen(path, "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "VmRSS:", 6) == 0)
                mb = strtod(line + 6, NULL) / 1024.0;
        if (f)
            fclose(f);
    }
    closedir(d);
    return mb;
}

/* Decode + detect one photo here; milliseconds, or -1 on failure. */
static double bare_one(ccc_detect_model *m, const photo *p)
{
    double t0 = now_ms();
    ccc_image img;
    ccc_image_init(&img);
    ccc_detect_result res;
    ccc_status st = ccc_image_decode(ccc_buf_bytes(&p->bytes), NULL, &img);
    if (st == CCC_OK)
        st = ccc_detect_model_run(m, &img, ccc_detect_model_threshold(m), &res, NULL);
    ccc_image_wipe(&img);
    return st == CCC_OK ? now_ms() - t0 : -1;
}

/* Let every worker pool (ours, the enclave's) stop spinning first. */
static void settle(void)
{
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
}

static void *client_thread(void *arg)
{
    bench *b = arg;
    ccc_client_http *h = NULL;
    ccc_status st = ccc_client_http_new(b->server, &h);
    while (st == CCC_OK && !atomic_load(&b->stop)) {
        const photo *p = &b->photos[atomic_fetch_add(&b->next_photo, 1) % b->photo_count];
        if (b->interleave) {
            settle();
            double bare = bare_one(b->model, p);
            if (bare >= 0 && b->bare_count < MAX_SAMPLES)
                b->bare_ms[b->bare_count++] = bare;
            settle();
        }
        double t0 = now_ms();
        ccc_client_job job;
        ccc_client_result res;
        bool job_failed = false;
        ccc_client_job_init(&job);
        ccc_client_result_init(&res);
        st = ccc_client_count(h, &b->trust, b->cfg, ccc_buf_bytes(&p->bytes), 120000, NULL, NULL,
                              &job, &res, &job_failed);
        ccc_client_result_wipe(&res);
        ccc_client_job_wipe(&job);
        double dt = now_ms() - t0;
        if (st != CCC_OK) {
            pthread_mutex_lock(&b->lock);
            if (b->first_error == CCC_OK)
                b->first_error = st;
            pthread_mutex_unlock(&b->lock);
            atomic_fetch_add(&b->errors, 1);
            st = CCC_OK; /* keep going: the level reports its errors */
            continue;
        }
        atomic_fetch_add(&b->done, 1);
        pthread_mutex_lock(&b->lock);
        if (b->latency_count < MAX_SAMPLES)
            b->latencies_ms[b->latency_count++] = dt;
        pthread_mutex_unlock(&b->lock);
    }
    if (st != CCC_OK) {
        atomic_fetch_add(&b->errors, 1);
        pthread_mutex_lock(&b->lock);
        if (b->first_error == CCC_OK)
            b->first_error = st;
        pthread_mutex_unlock(&b->lock);
    }
    ccc_client_http_free(h);
    return NULL;
}

typedef struct level_result {
    unsigned clients;
    double jobs_per_s, p50, p95;
    uint64_t done, errors;
    double host_rss[2], enclave_rss[2];
} level_result;

static void run_level(bench *b, unsigned clients, level_result *r)
{
    atomic_store(&b->stop, false);
    atomic_store(&b->done, 0);
    atomic_store(&b->errors, 0);
    b->latency_count = 0;
    b->first_error = CCC_OK;
    r->clients = clients;
    r->host_rss[0] = rss_of("ccc-host", b->server + strlen("http://"));
    r->enclave_rss[0] = rss_of("ccc-enclave", b->stack_dir);
    pthread_t *t = calloc(clients, sizeof *t);
    double t0 = now_ms();
    for (unsigned i = 0; i < clients; i++)
        pthread_create(&t[i], NULL, client_thread, b);
    /* the level's length, or until Ctrl-C (the stack is still stopped) */
    double end = now_ms() + b->seconds * 1000.0;
    while (now_ms() < end && !interrupted) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_store(&b->stop, true);
    for (unsigned i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    double elapsed = (now_ms() - t0) / 1000.0;
    free(t);
    r->done = atomic_load(&b->done);
    r->errors = atomic_load(&b->errors);
    r->jobs_per_s = (double)r->done / elapsed;
    r->p50 = percentile(b->latencies_ms, b->latency_count, 0.50);
    r->p95 = percentile(b->latencies_ms, b->latency_count, 0.95);
    r->host_rss[1] = rss_of("ccc-host", b->server + strlen("http://"));
    r->enclave_rss[1] = rss_of("ccc-enclave", b->stack_dir);
    if (r->errors)
        fprintf(stderr, "  first error at %u clients: %s: %s\n", clients,
                ccc_status_name(b->first_error), ccc_error_detail());
}

/* Bare detection: decode + detect here, the photos in turn, `runs` rounds
 * (the first round warms up). */
static ccc_status run_bare(bench *b, unsigned runs, double *p50, double *jobs_per_s)
{
    size_t n = (size_t)runs * b->photo_count;
    double *v = calloc(n, sizeof *v);
    CCC_ENSURE(v, CCC_ERR_NOMEM, "out of memory");
    double total = 0;
    ccc_status st = CCC_OK;
    for (size_t i = 0; i < n + b->photo_count; i++) {
        double dt = bare_one(b->model, &b->photos[i % b->photo_count]);
        if (dt < 0) {
            st = ccc_error_raise(CCC_ERR_INTERNAL, "bare detection failed", false, 0, __FILE__,
                                 __LINE__);
            break;
        }
        if (i >= b->photo_count) {
            v[i - b->photo_count] = dt;
            total += dt;
        }
    }
    if (st == CCC_OK) {
        *jobs_per_s = (double)n / (total / 1000.0);
        *p50 = percentile(v, n, 0.5);
    }
    free(v);
    return st;
}

/* Start `ccc up --detach` in `dir` on `port` (this executable). */
static ccc_status stack_start(const char *dir, unsigned port)
{
    char self[4096], port_s[16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CCC_ENSURE(n > 0, CCC_ERR_IO, "cannot find this executable");
    self[n] = '\0';
    snprintf(port_s, sizeof port_s, "%u", port);
    pid_t pid = fork();
    CCC_ENSURE(pid >= 0, CCC_ERR_IO, "fork failed");
    if (pid == 0) {
        execl(self, self, "up", "--detach", "--data", dir, "--port", port_s, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    CCC_ENSURE(WIFEXITED(status) && WEXITSTATUS(status) == 0, CCC_ERR_IO,
               "ccc up did not start the stack (its log is in the data directory)");
    return CCC_OK;
}

static void stack_stop(const char *dir)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return;
    self[n] = '\0';
    pid_t pid = fork();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0)
            dup2(null_fd, 1);
        execl(self, self, "down", "--data", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

static ccc_status parse_levels(const char *s, unsigned *levels, size_t *count)
{
    *count = 0;
    while (*s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        CCC_ENSURE(end != s && v >= 1 && v <= 256 && *count < MAX_LEVELS, CCC_ERR_USAGE,
                   "--clients takes up to 8 numbers 1..256, comma-separated");
        levels[(*count)++] = (unsigned)v;
        s = *end == ',' ? end + 1 : end;
        CCC_ENSURE(*end == ',' || *end == '\0', CCC_ERR_USAGE, "--clients: N[,N...]");
    }
    CCC_ENSURE(*count > 0, CCC_ERR_USAGE, "--clients: N[,N...]");
    return CCC_OK;
}

int ccc_cmd_bench_e2e(int argc, char **argv)
{
    static const char words[] = "bench e2e";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    bench b;
    memset(&b, 0, sizeof b);
    pthread_mutex_init(&b.lock, NULL);
    b.seconds = 10;
    b.stack_dir = "ccc-enclave";
    unsigned levels[MAX_LEVELS] = {1, 10, 50}, bare_runs = 10, port = 0;
    size_t level_count = 3;
    const char *data_dir = NULL;
    static const struct option longs[] = {
        {"server", required_argument, 0, 's'}, {"trust", required_argument, 0, 't'},
        {"clients", required_argument, 0, 'c'}, {"seconds", required_argument, 0, 'S'},
        {"bare-runs", required_argument, 0, 'b'}, {"data", required_argument, 0, 'd'},
        {"port", required_argument, 0, 'p'},     {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    ccc_status st = CCC_OK;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 's': b.server = optarg; break;
        case 't': b.trust_dir = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'c': st = parse_levels(optarg, levels, &level_count); break;
        case 'S': b.seconds = strtod(optarg, NULL); break;
        case 'b': bare_runs = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
        default: return ccc_cli_usage_error(words, "unknown option");
        }
        if (st != CCC_OK)
            return ccc_cli_usage_error(words, ccc_error_detail());
    }
    if (b.seconds < 1 || b.seconds > 3600 || bare_runs < 1 || bare_runs > 1000)
        return ccc_cli_usage_error(words, "--seconds 1..3600, --bare-runs 1..1000");
    /* Photos: the arguments, or the repository's sample photos. */
    static const char *const defaults[] = {CCC_SOURCE_DIR "/data/samples/chelsea.png",
                                           CCC_SOURCE_DIR "/data/samples/coffee.png",
                                           CCC_SOURCE_DIR "/data/samples/rocket.jpg",
                                           CCC_SOURCE_DIR "/data/samples/astronaut.png"};
    for (int i = optind; i < argc && b.photo_count < MAX_PHOTOS; i++)
        b.photos[b.photo_count++].path = argv[i];
    if (b.photo_count == 0)
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            b.photos[b.photo_count++].path = defaults[i];
    for (size_t i = 0; i < b.photo_count && st == CCC_OK; i++) {
        ccc_buf_init(&b.photos[i].bytes, 16u << 20);
        st = ccc_file_read(b.photos[i].path, &b.photos[i].bytes);
    }
    if (st != CCC_OK)
        return ccc_cli_report(words, st);

    /* Ctrl-C ends the run early but still stops the stack we started. */
    struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* Bare detection first, before any stack runs on these cores. */
    double bare_p50 = 0, bare_rate = 0;
    char model_dir[4096];
    ccc_detect_options dopt = {.threads = 0}; /* all cores, as the enclave */
    if (st == CCC_OK)
        st = ccc_detect_default_model_dir(model_dir, sizeof model_dir);
    if (st == CCC_OK)
        st = ccc_detect_model_load(model_dir, &dopt, &b.model);
    if (st == CCC_OK) {
        printf("bare detection (decode + detect, this process) ...\n");
        fflush(stdout);
        st = run_bare(&b, bare_runs, &bare_p50, &bare_rate);
    }
    char tmp[] = "/tmp/ccc-bench-e2e.XXXXXX", url[64], trust[4200];
    bool own_stack = !b.server;
    if (st == CCC_OK && own_stack) {
        if (!data_dir && !mkdtemp(tmp))
            return ccc_cli_report(words, ccc_error_raise(CCC_ERR_IO, "mkdtemp failed", false, 0,
                                                         __FILE__, __LINE__));
        data_dir = data_dir ? data_dir : tmp;
        port = port ? port : 18000 + (unsigned)(getpid() % 2000);
        printf("starting a local stack in %s on port %u ...\n", data_dir, port);
        fflush(stdout);
        st = stack_start(data_dir, port);
        snprintf(url, sizeof url, "http://127.0.0.1:%u", port);
        snprintf(trust, sizeof trust, "%s/trust", data_dir);
        b.server = url;
        b.trust_dir = trust;
        b.stack_dir = data_dir;
    }
    /* The client's checks, once: trust anchors and the verified config. */
    ccc_client_trust_init(&b.trust);
    b.cfg = calloc(1, sizeof *b.cfg);
    char state[4300];
    if (st == CCC_OK && !b.cfg)
        st = ccc_error_raise(CCC_ERR_NOMEM, "out of memory", false, 0, __FILE__, __LINE__);
    if (st == CCC_OK && !b.trust_dir) {
        st = ccc_stack_default_dir(trust, sizeof trust - 8);
        strcat(trust, "/trust");
        b.trust_dir = trust;
    }
    if (st == CCC_OK)
        st = ccc_client_trust_load_dir(&b.trust, b.trust_dir, NULL, NULL, NULL);
    if (st == CCC_OK) {
        /* A throwaway anti-rollback state: a benchmark is not a user. */
        snprintf(state, sizeof state, "%s/policy-state",
                 own_stack ? data_dir : "/tmp");
        if (!own_stack)
            snprintf(state, sizeof state, "/tmp/ccc-bench-e2e-state.%d", (int)getpid());
        ccc_client_http *h = NULL;
        st = ccc_client_http_new(b.server, &h);
        if (st == CCC_OK)
            st = ccc_client_fetch_config(h, &b.trust, state, b.cfg);
        ccc_client_http_free(h);
        if (!own_stack)
            unlink(state);
    }
    level_result results[MAX_LEVELS];
    double interleaved_bare_p50 = 0;
    b.latencies_ms = calloc(MAX_SAMPLES, sizeof *b.latencies_ms);
    b.bare_ms = calloc(MAX_SAMPLES, sizeof *b.bare_ms);
    if (st == CCC_OK && (!b.latencies_ms || !b.bare_ms))
        st = CCC_ERR_NOMEM;
    for (size_t i = 0; st == CCC_OK && i < level_count && !interrupted; i++) {
        printf("%u client%s for %.0f s%s ...\n", levels[i], levels[i] == 1 ? "" : "s", b.seconds,
               levels[i] == 1 ? " (each job in turn with a bare run of the same photo)" : "");
        fflush(stdout);
        b.interleave = levels[i] == 1;
        b.bare_count = 0;
        run_level(&b, levels[i], &results[i]);
        if (b.interleave)
            interleaved_bare_p50 = percentile(b.bare_ms, b.bare_count, 0.5);
    }
    if (st == CCC_OK) {
        printf("\n%zu photos: ", b.photo_count);
        for (size_t i = 0; i < b.photo_count; i++)
            printf("%s%s", i ? ", " : "", strrchr(b.photos[i].path, '/') ? strrchr(b.photos[i].path, '/') + 1 : b.photos[i].path);
        printf("\nbare detection: %.1f jobs/s, p50 %.1f ms\n\n", bare_rate, bare_p50);
        printf("clients   jobs/s   p50 ms   p95 ms   jobs   errors   host RSS MB     enclave RSS MB\n");
        for (size_t i = 0; i < level_count; i++) {
            level_result *r = &results[i];
            printf("%7u %8.1f %8.1f %8.1f %6llu %8llu   %5.1f -> %5.1f   %6.1f -> %6.1f\n",
                   r->clients, r->jobs_per_s, r->p50, r->p95, (unsigned long long)r->done,
                   (unsigned long long)r->errors, r->host_rss[0], r->host_rss[1],
                   r->enclave_rss[0], r->enclave_rss[1]);
        }
        for (size_t i = 0; i < level_count; i++)
            if (results[i].clients == 1 && interleaved_bare_p50 > 0)
                printf("\noverhead of the confidential path at 1 client: p50 %.1f ms vs bare "
                       "%.1f ms, measured photo for photo in turn = %+.1f%% (bar: <= 15%%)\n",
                       results[i].p50, interleaved_bare_p50,
                       100.0 * (results[i].p50 - interleaved_bare_p50) / interleaved_bare_p50);
    }
    if (own_stack && data_dir)
        stack_stop(data_dir);
    /* The temporary data directory holds keys (CA, policy, key store). */
    if (own_stack && data_dir == tmp)
        nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (interrupted)
        fprintf(stderr, "ccc bench e2e: interrupted; the stack is stopped\n");
    free(b.latencies_ms);
    free(b.bare_ms);
    ccc_detect_model_free(b.model);
    free(b.cfg);
    ccc_client_trust_wipe(&b.trust);
    for (size_t i = 0; i < b.photo_count; i++)
        ccc_buf_wipe(&b.photos[i].bytes);
    pthread_mutex_destroy(&b.lock);
    return ccc_cli_report(words, st);
}
