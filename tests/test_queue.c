/*
 * queue: one behavioural suite, run against both backends (SQLite and a real
 * redis-server this test starts on 127.0.0.1 with a random port, a temporary
 * directory and AOF with appendfsync always). A missing redis-server fails
 * the suite; it never skips.
 *
 * Time: visibility timeouts and backoff units are set to a few hundred ms.
 * Assertions about time are lower bounds only ("not before its backoff"),
 * never upper bounds on how fast something ran.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/rand.h>

#include "testutil.h"

#include "log/log.h"
#include "queue/queue.h"

/* ---- shared state ----------------------------------------------------------- */

typedef enum { B_SQLITE, B_REDIS } backend;

static struct {
    backend kind;
    char dir[256]; /* temp dir of the current group */
    int next;      /* per-test counter: a fresh db file / key namespace */
    pid_t redis_pid;
    int redis_port;
    char log_path[300];
    FILE *log;
    uint8_t canary[32]; /* embedded in every payload; must never be logged */
} g;

/* A queue handle plus what is needed to reopen the same queue. */
typedef struct tq {
    ccc_queue *q;
    char url[512];
    char name[32];
    char db_path[400];
    ccc_queue_opts opts;
} tq;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void tq_open_again(tq *t)
{
    t->opts.name = t->name;
    ccc_status st = ccc_queue_open(t->url, &t->opts, &t->q);
    if (st != CCC_OK)
        fail_msg("open %s: %s: %s", t->url, ccc_status_name(st), ccc_error_detail());
}

/* A fresh queue for one test; `opts` may be NULL. */
static void tq_open(tq *t, const ccc_queue_opts *opts)
{
    memset(t, 0, sizeof *t);
    if (opts != NULL)
        t->opts = *opts;
    int n = ++g.next;
    snprintf(t->name, sizeof t->name, "t%d", n);
    if (g.kind == B_SQLITE) {
        snprintf(t->db_path, sizeof t->db_path, "%s/q%d.db", g.dir, n);
        snprintf(t->url, sizeof t->url, "sqlite://%s", t->db_path);
    } else {
        snprintf(t->url, sizeof t->url, "redis://127.0.0.1:%d/0", g.redis_port);
    }
    tq_open_again(t);
}

static void tq_close(tq *t)
{
    ccc_queue_free(t->q);
    t->q = NULL;
}

/* A payload: `size` random bytes with the canary in the middle. */
static uint8_t *make_payload(size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    assert_non_null(p);
    assert_int_equal(RAND_bytes(p, (int)size), 1);
    if (size >= sizeof g.canary)
        memcpy(p + size / 2 - sizeof g.canary / 2, g.canary, sizeof g.canary);
    return p;
}

static void enqueue_ok(tq *t, const char *id, const void *payload, size_t size)
{
    ccc_job_state s = CCC_JOB_UNKNOWN;
    assert_int_equal(
        ccc_queue_enqueue(t->q, id, ccc_bytes_of(payload, size), ccc_bytes_of("m", 1), &s), CCC_OK);
    assert_int_equal(s, CCC_JOB_QUEUED);
}

static bool claim(tq *t, const char *worker, ccc_queue_job *job)
{
    bool got = false;
    ccc_status st = ccc_queue_claim(t->q, worker, job, &got);
    if (st != CCC_OK)
        fail_msg("claim: %s: %s", ccc_status_name(st), ccc_error_detail());
    return got;
}

/* Claim, polling until something is ready (at most `limit_ms`). */
static bool claim_wait(tq *t, const char *worker, ccc_queue_job *job, unsigned limit_ms)
{
    uint64_t until = wall_ms() + limit_ms;
    do {
        if (claim(t, worker, job))
            return true;
        sleep_ms(20);
    } while (wall_ms() < until);
    return false;
}

static ccc_job_state state_of(tq *t, const char *id)
{
    ccc_queue_info info;
    assert_int_equal(ccc_queue_status(t->q, id, &info), CCC_OK);
    return info.state;
}

static ccc_queue_metrics metrics(tq *t)
{
    ccc_queue_metrics m;
    assert_int_equal(ccc_queue_metrics_get(t->q, &m), CCC_OK);
    return m;
}

static bool mem_contains(const uint8_t *hay, size_t hay_size, const uint8_t *needle, size_t n)
{
    if (hay_size < n)
        return false;
    for (size_t i = 0; i + n <= hay_size; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

static bool file_contains(const char *path, const uint8_t *needle, size_t n)
{
    ccc_buf b;
    ccc_buf_init(&b, 1u << 30);
    if (ccc_file_read(path, &b) != CCC_OK) {
        ccc_buf_wipe(&b);
        return false; /* absent file contains nothing */
    }
    bool hit = mem_contains(b.data, b.size, needle, n);
    ccc_buf_wipe(&b);
    return hit;
}

/* ---- redis-server for the tests --------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *redis_raw(void)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", g.redis_port, tv);
    if (c != NULL && c->err != 0) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Start redis-server on g.redis_port in g.dir; wait until it answers PING. */
static int redis_start(void)
{
    char port[16], logfile[400];
    snprintf(port, sizeof port, "%d", g.redis_port);
    snprintf(logfile, sizeof logfile, "%s/redis.log", g.dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               g.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize",
               "no", "--logfile", logfile, (char *)NULL);
        _exit(127);
    }
    g.redis_pid = pid;
    for (int i = 0; i < 500; i++) {
        int wst;
        if (waitpid(pid, &wst, WNOHANG) == pid) {
            g.redis_pid = 0;
            fprintf(stderr,
                    "redis-server did not start (exit %d): is it installed? "
                    "(scripts/setup installs it)\n",
                    WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
            return -1;
        }
        redisContext *c = redis_raw();
        if (c != NULL) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        }
        sleep_ms(20);
    }
    return -1;
}

static void redis_stop(int sig)
{
    if (g.redis_pid > 0) {
        kill(g.redis_pid, sig);
        waitpid(g.redis_pid, NULL, 0);
        g.redis_pid = 0;
    }
}

/* Does any key of namespace `name` hold `needle` (hash fields, stream
   entries, zset members)? Reads every value the queue stores. */
static bool redis_contains(const char *name, const uint8_t *needle, size_t n)
{
    redisContext *c = redis_raw();
    assert_non_null(c);
    redisReply *keys = redisCommand(c, "KEYS ccc:%s:*", name);
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    bool hit = false;
    for (size_t i = 0; i < keys->elements && !hit; i++) {
        const char *k = keys->element[i]->str;
        redisReply *t = redisCommand(c, "TYPE %s", k);
        assert_non_null(t);
        redisReply *v = NULL;
        if (strcmp(t->str, "hash") == 0)
            v = redisCommand(c, "HGETALL %s", k);
        else if (strcmp(t->str, "stream") == 0)
            v = redisCommand(c, "XRANGE %s - +", k);
        else if (strcmp(t->str, "zset") == 0)
            v = redisCommand(c, "ZRANGE %s 0 -1", k);
        freeReplyObject(t);
        if (v == NULL)
            continue;
        /* Walk the reply tree. */
        redisReply *stack[64];
        int sp = 0;
        stack[sp++] = v;
        while (sp > 0 && !hit) {
            redisReply *e = stack[--sp];
            if (e->type == REDIS_REPLY_STRING)
                hit = mem_contains((const uint8_t *)e->str, e->len, needle, n);
            else if (e->type == REDIS_REPLY_ARRAY)
                for (size_t j = 0; j < e->elements && sp < 64; j++)
                    stack[sp++] = e->element[j];
        }
        freeReplyObject(v);
    }
    freeReplyObject(keys);
    redisFree(c);
    return hit;
}

/* Is the payload (its canary) gone from wherever the backend keeps data? */
static void assert_canary_gone(tq *t)
{
    if (g.kind == B_SQLITE) {
        uint64_t removed;
        /* The sweep truncates the WAL; freed pages are zeroed (secure_delete). */
        assert_int_equal(ccc_queue_expire(t->q, &removed), CCC_OK);
        char wal[420];
        snprintf(wal, sizeof wal, "%s-wal", t->db_path);
        assert_false(file_contains(t->db_path, g.canary, sizeof g.canary));
        assert_false(file_contains(wal, g.canary, sizeof g.canary));
    } else {
        assert_false(redis_contains(t->name, g.canary, sizeof g.canary));
    }
}

static void assert_canary_present(tq *t)
{
    /* The positive control: proves the scan would find it. */
    if (g.kind == B_SQLITE) {
        char wal[420];
        snprintf(wal, sizeof wal, "%s-wal", t->db_path);
        assert_true(file_contains(t->db_path, g.canary, sizeof g.canary) ||
                    file_contains(wal, g.canary, sizeof g.canary));
    } else {
        assert_true(redis_contains(t->name, g.canary, sizeof g.canary));
    }
}

/* ---- the suite ---------------------------------------------------------------- */

static void dedup_keeps_the_first_job(void **state)
{
    (void)state;
    tq t;
    tq_open(&t, NULL);
    uint8_t *p1 = make_payload(1000), *p2 = make_payload(500);
    enqueue_ok(&t, "job-1", p1, 1000);
    ccc_job_state s = CCC_JOB_UNKNOWN;
    assert_int_equal(
        ccc_queue_enqueue(t.q, "job-1", ccc_bytes_of(p2, 500), ccc_bytes_of(NULL, 0), &s),
        CCC_ERR_REPLAY);
    assert_string_equal(ccc_error_detail(), "duplicate job id");
    assert_int_equal(s, CCC_JOB_QUEUED);
    assert_int_equal(metrics(&t).queued, 1);

    ccc_queue_job job;
    ccc_queue_job_init(&job);
    assert_true(claim(&t, "w1", &job));
    assert_string_equal(job.id, "job-1");
    assert_int_equal(job.payload.size, 1000); /* the first payload, untouched */
    assert_memory_equal(job.payload.data, p1, 1000);
    assert_int_equal(job.meta.size, 1);
    assert_int_equal(
        ccc_queue_enqueue(t.q, "job-1", ccc_bytes_of(p2, 500), ccc_bytes_of(NULL, 0), &s),
        CCC_ERR_REPLAY);
    assert_int_equal(s, CCC_JOB_PROCESSING);
    assert_int_equal(ccc_queue_complete(t.q, job.id, job.token, ccc_bytes_of("r", 1)), CCC_OK);
    assert_int_equal(
        ccc_queue_enqueue(t.q, "job-1", ccc_bytes_of(p2, 500), ccc_bytes_of(NULL, 0), &s),
        CCC_ERR_REPLAY);
    assert_int_equal(s, CCC_JOB_DONE);
    /* The duplicate did not queue a second job. */
    assert_false(claim(&t, "w1", &job));
    ccc_queue_metrics m = metrics(&t);
    assert_int_equal(m.queued, 0);
    assert_int_equal(m.processing, 0);
    assert_int_equal(m.done, 1);
    ccc_queue_job_wipe(&job);
    free(p1);
    free(p2);
    tq_close(&t);
}

static void claim_complete_fetch(void **state)
{
    (void)state;
    tq t;
    tq_open(&t, NULL);
    uint8_t *p = make_payload(4096);
    enqueue_ok(&t, "a", p, 4096);
    enqueue_ok(&t, "b", p, 10);
    /* Empty payload and empty metadata are stored as empty, not lost. */
    assert_int_equal(
        ccc_queue_enqueue(t.q, "c", ccc_bytes_of(NULL, 0), ccc_bytes_of(NULL, 0), NULL), CCC_OK);
    ccc_queue_metrics m = metrics(&t);
    assert_int_equal(m.queued, 3);

    ccc_queue_job job;
    ccc_queue_job_init(&job);
    assert_true(claim(&t, "w1", &job));
    assert_string_equal(job.id, "a"); /* oldest first */
    assert_int_equal(job.attempt, 1);
    assert_int_equal(strlen(job.token), CCC_QUEUE_TOKEN_SIZE);
    assert_int_equal(job.payload.size, 4096);
    assert_memory_equal(job.payload.data, p, 4096);
    assert_memory_equal(job.meta.data, "m", 1);
    assert_true(job.enqueued_ms > 0);
    assert_int_equal(state_of(&t, "a"), CCC_JOB_PROCESSING);
    m = metrics(&t);
    assert_int_equal(m.queued, 2);
    assert_int_equal(m.processing, 1);

    ccc_queue_info info;
    ccc_buf res;
    ccc_buf_init(&res, 1 << 20);
    /* The meta of waiting jobs (processing "a", queued "b", empty "c"). */
    assert_int_equal(ccc_queue_meta_get(t.q, "a", &res), CCC_OK);
    assert_int_equal(res.size, 1);
    assert_memory_equal(res.data, "m", 1);
    ccc_buf_reset(&res);
    assert_int_equal(ccc_queue_meta_get(t.q, "b", &res), CCC_OK);
    assert_int_equal(res.size, 1);
    ccc_buf_reset(&res);
    assert_int_equal(ccc_queue_meta_get(t.q, "c", &res), CCC_OK);
    assert_int_equal(res.size, 0);
    assert_int_equal(ccc_queue_meta_get(t.q, "zzz", &res), CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_queue_fetch_result(t.q, "a", false, &res, &info), CCC_ERR_BUSY);
    assert_int_equal(info.state, CCC_JOB_PROCESSING);

    /* Wrong calls change nothing. */
    char other[CCC_QUEUE_TOKEN_SIZE + 1];
    memset(other, 'a', CCC_QUEUE_TOKEN_SIZE);
    other[CCC_QUEUE_TOKEN_SIZE] = '\0';
    assert_int_equal(ccc_queue_complete(t.q, "a", other, ccc_bytes_of("x", 1)), CCC_ERR_REPLAY);
    assert_int_equal(ccc_queue_complete(t.q, "a", "not-a-token", ccc_bytes_of("x", 1)),
                     CCC_ERR_USAGE);
    assert_int_equal(ccc_queue_complete(t.q, "nope", job.token, ccc_bytes_of("x", 1)),
                     CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_queue_complete(t.q, "b", job.token, ccc_bytes_of("x", 1)), CCC_ERR_REPLAY);
    assert_int_equal(ccc_queue_fail(t.q, "a", job.token, CCC_OK, NULL), CCC_ERR_USAGE);
    assert_int_equal(ccc_queue_fail(t.q, "a", job.token, CCC_STATUS_COUNT, NULL), CCC_ERR_USAGE);
    assert_int_equal(state_of(&t, "a"), CCC_JOB_PROCESSING);

    assert_int_equal(ccc_queue_complete(t.q, "a", job.token, ccc_bytes_of("result-a", 8)), CCC_OK);
    assert_int_equal(ccc_queue_meta_get(t.q, "a", &res), CCC_ERR_NOT_FOUND); /* gone with it */
    assert_int_equal(res.size, 0);
    assert_int_equal(ccc_queue_status(t.q, "a", &info), CCC_OK);
    assert_int_equal(info.state, CCC_JOB_DONE);
    assert_true(info.result_available);
    assert_int_equal(info.result_size, 8);
    assert_int_equal(info.payload_size, 4096);
    assert_int_equal(info.attempt, 1);
    assert_true(info.expires_ms > info.updated_ms);
    /* A fetch without delete can be repeated. */
    for (int i = 0; i < 2; i++) {
        ccc_buf_reset(&res);
        assert_int_equal(ccc_queue_fetch_result(t.q, "a", false, &res, NULL), CCC_OK);
        assert_int_equal(res.size, 8);
        assert_memory_equal(res.data, "result-a", 8);
    }
    assert_int_equal(ccc_queue_fetch_result(t.q, "zzz", false, &res, &info), CCC_ERR_NOT_FOUND);
    assert_int_equal(info.state, CCC_JOB_UNKNOWN);
    assert_int_equal(state_of(&t, "zzz"), CCC_JOB_UNKNOWN);

    /* The rest, including the empty job and an empty result. */
    assert_true(claim(&t, "w2", &job));
    assert_string_equal(job.id, "b");
    assert_int_equal(job.payload.size, 10);
    assert_int_equal(ccc_queue_complete(t.q, "b", job.token, ccc_bytes_of(NULL, 0)), CCC_OK);
    assert_true(claim(&t, "w2", &job));
    assert_string_equal(job.id, "c");
    assert_int_equal(job.payload.size, 0);
    assert_int_equal(job.meta.size, 0);
    assert_int_equal(ccc_queue_complete(t.q, "c", job.token, ccc_bytes_of("r", 1)), CCC_OK);
    assert_false(claim(&t, "w2", &job));
    assert_string_equal(job.id, ""); /* a miss leaves the job empty */
    ccc_buf_reset(&res);
    assert_int_equal(ccc_queue_fetch_result(t.q, "b", false, &res, &info), CCC_OK);
    assert_int_equal(res.size, 0);
    assert_true(info.result_available);
    m = metrics(&t);
    assert_int_equal(m.queued + m.processing + m.dead, 0);
    assert_int_equal(m.done, 3);
    /* The payload is gone once done. */
    assert_canary_gone(&t);
    ccc_buf_wipe(&res);
    ccc_queue_job_wipe(&job);
    free(p);
    tq_close(&t);
}

static void lease_runs_out_and_exactly_one_result(void **state)
{
    (void)state;
    ccc_queue_opts o = {.visibility_timeout_ms = 800};
    tq t;
    tq_open(&t, &o);
    enqueue_ok(&t, "j", "payload", 7);
    ccc_queue_job a, b;
    ccc_queue_job_init(&a);
    ccc_queue_job_init(&b);
    assert_true(claim(&t, "worker-a", &a));
    /* Invisible to others while the lease runs. */
    assert_false(claim(&t, "worker-b", &b));
    ccc_queue_info info;
    assert_int_equal(ccc_queue_status(t.q, "j", &info), CCC_OK);
    assert_true(info.visible_ms >= info.updated_ms + 800);

    /* worker-a "dies"; after the timeout worker-b gets the job again. */
    assert_true(claim_wait(&t, "worker-b", &b, 5000));
    assert_true(wall_ms() >= info.visible_ms - 50); /* not before the lease ended */
    assert_string_equal(b.id, "j");
    assert_int_equal(b.attempt, 2);
    assert_string_not_equal(a.token, b.token);
    assert_memory_equal(b.payload.data, "payload", 7);

    /* The late worker-a can neither complete nor fail it. */
    assert_int_equal(ccc_queue_complete(t.q, "j", a.token, ccc_bytes_of("from-a", 6)),
                     CCC_ERR_REPLAY);
    assert_string_equal(ccc_error_detail(), "stale claim token");
    assert_int_equal(ccc_queue_fail(t.q, "j", a.token, CCC_ERR_IO, NULL), CCC_ERR_REPLAY);
    assert_int_equal(ccc_queue_complete(t.q, "j", b.token, ccc_bytes_of("from-b", 6)), CCC_OK);
    /* After the result: late a still refused; b's repeat is a no-op. */
    assert_int_equal(ccc_queue_complete(t.q, "j", a.token, ccc_bytes_of("from-a", 6)),
                     CCC_ERR_REPLAY);
    assert_int_equal(ccc_queue_complete(t.q, "j", b.token, ccc_bytes_of("again!", 6)), CCC_OK);
    assert_int_equal(ccc_queue_fail(t.q, "j", b.token, CCC_ERR_IO, NULL), CCC_ERR_REPLAY);
    ccc_buf res;
    ccc_buf_init(&res, 64);
    assert_int_equal(ccc_queue_fetch_result(t.q, "j", false, &res, &info), CCC_OK);
    assert_int_equal(res.size, 6);
    assert_memory_equal(res.data, "from-b", 6);
    assert_int_equal(info.attempt, 2);
    assert_false(claim(&t, "worker-c", &b));
    assert_int_equal(metrics(&t).done, 1);

    /* A lease that ran out but was not taken over still accepts its worker. */
    enqueue_ok(&t, "k", "p", 1);
    assert_true(claim(&t, "worker-a", &a));
    sleep_ms(900);
    assert_int_equal(ccc_queue_complete(t.q, "k", a.token, ccc_bytes_of("ok", 2)), CCC_OK);
    assert_false(claim(&t, "worker-b", &b));
    assert_int_equal(state_of(&t, "k"), CCC_JOB_DONE);

    ccc_buf_wipe(&res);
    ccc_queue_job_wipe(&a);
    ccc_queue_job_wipe(&b);
    tq_close(&t);
}

static void poison_job_dead_letters_after_lease_outs(void **state)
{
    (void)state;
    ccc_queue_opts o = {.visibility_timeout_ms = 300, .max_attempts = 2};
    tq t;
    tq_open(&t, &o);
    uint8_t *p = make_payload(300);
    enqueue_ok(&t, "poison", p, 300);
    ccc_queue_job job;
    ccc_queue_job_init(&job);
    assert_true(claim(&t, "w", &job));
    assert_true(claim_wait(&t, "w", &job, 5000));
    assert_int_equal(job.attempt, 2);
    char token[CCC_QUEUE_TOKEN_SIZE + 1];
    memcpy(token, job.token, sizeof token);
    /* The worker dies on the last attempt too: no third delivery. */
    sleep_ms(400);
    assert_false(claim(&t, "w", &job));
    ccc_queue_info info;
    assert_int_equal(ccc_queue_status(t.q, "poison", &info), CCC_OK);
    assert_int_equal(info.state, CCC_JOB_DEAD);
    assert_int_equal(info.error, CCC_ERR_IO);
    assert_int_equal(info.attempt, 2);
    ccc_queue_metrics m = metrics(&t);
    assert_int_equal(m.dead, 1);
    assert_int_equal(m.processing, 0);
    /* Too late for the last worker: the job is a dead letter. */
    assert_int_equal(ccc_queue_complete(t.q, "poison", token, ccc_bytes_of("x", 1)),
                     CCC_ERR_REPLAY);
    assert_canary_gone(&t);
    ccc_queue_job_wipe(&job);
    free(p);
    tq_close(&t);
}

static void three_attempts_backoff_then_dead_letter(void **state)
{
    (void)state;
    ccc_queue_opts o = {.backoff_unit_ms = 100};
    tq t;
    tq_open(&t, &o);
    uint8_t *p = make_payload(2048);
    enqueue_ok(&t, "bad", p, 2048);
    assert_canary_present(&t);
    ccc_queue_job job;
    ccc_queue_job_init(&job);
    ccc_queue_info info;
    memset(&info, 0, sizeof info);
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        assert_true(claim_wait(&t, "w", &job, 5000));
        assert_string_equal(job.id, "bad");
        assert_int_equal(job.attempt, attempt);
        assert_memory_equal(job.payload.data, p, 2048);
        uint64_t claimed_at = wall_ms();
        if (attempt > 1)
            assert_true(claimed_at + 5 >= info.visible_ms); /* waited out its backoff */
        ccc_job_state s = CCC_JOB_UNKNOWN;
        assert_int_equal(ccc_queue_fail(t.q, "bad", job.token, CCC_ERR_PARSE, &s), CCC_OK);
        /* Repeating the same fail is a no-op. */
        assert_int_equal(ccc_queue_fail(t.q, "bad", job.token, CCC_ERR_PARSE, NULL), CCC_OK);
        assert_int_equal(ccc_queue_status(t.q, "bad", &info), CCC_OK);
        assert_int_equal(info.attempt, attempt);
        assert_int_equal(info.error, CCC_ERR_PARSE);
        if (attempt < 3) {
            assert_int_equal(s, CCC_JOB_QUEUED);
            assert_int_equal(info.state, CCC_JOB_QUEUED);
            /* 2^attempt units: 200 ms, then 400 ms. */
            assert_int_equal(info.visible_ms - info.updated_ms, 100u << attempt);
            assert_int_equal(metrics(&t).queued, 1);
        } else {
            assert_int_equal(s, CCC_JOB_DEAD);
            assert_int_equal(info.state, CCC_JOB_DEAD);
        }
    }
    /* Dead letter: id, attempts, error class, times; no payload. */
    assert_false(info.result_available);
    assert_int_equal(info.payload_size, 2048);
    assert_true(info.enqueued_ms > 0 && info.updated_ms >= info.enqueued_ms);
    assert_false(claim(&t, "w", &job));
    sleep_ms(500);
    assert_false(claim(&t, "w", &job)); /* and no fourth attempt later */
    ccc_buf res;
    ccc_buf_init(&res, 64);
    assert_int_equal(ccc_queue_fetch_result(t.q, "bad", false, &res, &info), CCC_ERR_NOT_FOUND);
    assert_int_equal(info.state, CCC_JOB_DEAD);
    ccc_queue_metrics m = metrics(&t);
    assert_int_equal(m.dead, 1);
    assert_int_equal(m.queued + m.processing + m.done, 0);
    ccc_job_state s;
    assert_int_equal(ccc_queue_enqueue(t.q, "bad", ccc_bytes_of(p, 10), ccc_bytes_of(NULL, 0), &s),
                     CCC_ERR_REPLAY);
    assert_int_equal(s, CCC_JOB_DEAD);
    assert_canary_gone(&t);
    ccc_buf_wipe(&res);
    ccc_queue_job_wipe(&job);
    free(p);
    tq_close(&t);
}

static void results_expire_and_delete_after_fetch(void **state)
{
    (void)state;
    /* Long enough for the checks below to finish before expiry even under
     * ASan on a loaded machine; the wait after them is what the TTL tests. */
    ccc_queue_opts o = {.result_ttl_ms = 2500};
    tq t;
    tq_open(&t, &o);
    ccc_queue_job job;
    ccc_queue_job_init(&job);
    const char *ids[] = {"r1", "r2"};
    for (int i = 0; i < 2; i++) {
        enqueue_ok(&t, ids[i], "p", 1);
        assert_true(claim(&t, "w", &job));
        assert_int_equal(ccc_queue_complete(t.q, job.id, job.token, ccc_bytes_of("secret-ct", 9)),
                         CCC_OK);
    }
    ccc_buf small, res;
    ccc_buf_init(&small, 4);
    ccc_buf_init(&res, 64);
    /* Too small an output buffer: CCC_ERR_LIMIT, and nothing is deleted. */
    assert_int_equal(ccc_queue_fetch_result(t.q, "r1", true, &small, NULL), CCC_ERR_LIMIT);
    ccc_queue_info info;
    assert_int_equal(ccc_queue_fetch_result(t.q, "r1", true, &res, &info), CCC_OK);
    assert_memory_equal(res.data, "secret-ct", 9);
    assert_false(info.result_available);
    ccc_buf_reset(&res);
    assert_int_equal(ccc_queue_fetch_result(t.q, "r1", true, &res, &info), CCC_ERR_NOT_FOUND);
    assert_string_equal(ccc_error_detail(), "result already fetched");
    assert_int_equal(res.size, 0);
    assert_int_equal(info.state, CCC_JOB_DONE);
    /* The record stays until it expires, so the id stays deduplicated. */
    ccc_job_state s;
    assert_int_equal(ccc_queue_enqueue(t.q, "r1", ccc_bytes_of("p", 1), ccc_bytes_of(NULL, 0), &s),
                     CCC_ERR_REPLAY);
    assert_int_equal(s, CCC_JOB_DONE);
    assert_int_equal(metrics(&t).done, 2);

    sleep_ms(2600);
    assert_int_equal(state_of(&t, "r2"), CCC_JOB_UNKNOWN);
    assert_int_equal(ccc_queue_fetch_result(t.q, "r2", false, &res, NULL), CCC_ERR_NOT_FOUND);
    assert_int_equal(metrics(&t).done, 0);
    uint64_t removed = 99;
    assert_int_equal(ccc_queue_expire(t.q, &removed), CCC_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(ccc_queue_expire(t.q, &removed), CCC_OK);
    assert_int_equal(removed, 0);
    if (g.kind == B_REDIS)
        assert_false(redis_contains(t.name, (const uint8_t *)"secret-ct", 9));
    /* After expiry the id is free again. */
    enqueue_ok(&t, "r2", "new", 3);
    assert_true(claim(&t, "w", &job));
    assert_string_equal(job.id, "r2");
    assert_int_equal(job.attempt, 1);
    assert_memory_equal(job.payload.data, "new", 3);
    ccc_buf_wipe(&small);
    ccc_buf_wipe(&res);
    ccc_queue_job_wipe(&job);
    tq_close(&t);
}

/* Close and reopen (SQLite), or kill -9 and restart redis-server (Redis). */
static void restart_storage(tq *t, bool keep_handle)
{
    if (g.kind == B_SQLITE) {
        tq_close(t);
        tq_open_again(t);
        return;
    }
    redis_stop(SIGKILL);
    assert_int_equal(redis_start(), 0);
    if (!keep_handle) {
        tq_close(t);
        tq_open_again(t);
    }
}

static void durable_across_restarts(void **state)
{
    (void)state;
    ccc_queue_opts o = {.visibility_timeout_ms = 500, .backoff_unit_ms = 100};
    tq t;
    tq_open(&t, &o);
    ccc_queue_job job;
    ccc_queue_job_init(&job);
    enqueue_ok(&t, "d-done", "p0", 2);
    enqueue_ok(&t, "d-busy", "p1", 2);
    enqueue_ok(&t, "d-wait", "p2", 2);
    enqueue_ok(&t, "d-retry", "p3", 2);
    assert_true(claim(&t, "w", &job));
    assert_int_equal(ccc_queue_complete(t.q, "d-done", job.token, ccc_bytes_of("R0", 2)), CCC_OK);
    assert_true(claim(&t, "w", &job));
    assert_string_equal(job.id, "d-busy"); /* its worker "dies" with the storage */
    ccc_queue_job retry;
    ccc_queue_job_init(&retry);
    assert_true(claim(&t, "w", &retry));
    assert_string_equal(retry.id, "d-wait");
    assert_true(claim(&t, "w", &retry));
    assert_string_equal(retry.id, "d-retry");
    assert_int_equal(ccc_queue_fail(t.q, "d-retry", retry.token, CCC_ERR_BUSY, NULL), CCC_OK);
    /* A process that enqueues and then dies without closing anything. */
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        ccc_queue *cq = NULL;
        t.opts.name = t.name;
        if (ccc_queue_open(t.url, &t.opts, &cq) != CCC_OK ||
            ccc_queue_enqueue(cq, "d-crash", ccc_bytes_of("p4", 2), ccc_bytes_of(NULL, 0), NULL) !=
                CCC_OK)
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int wst;
    assert_int_equal(waitpid(kid, &wst, 0), kid);
    assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
    /* Now: d-done done, d-busy and d-wait processing (their worker "dies"
       with the storage), d-retry waiting out its backoff, d-crash queued. */

    /* First restart keeps the handle (Redis: the next command reconnects). */
    restart_storage(&t, true);
    assert_int_equal(state_of(&t, "d-done"), CCC_JOB_DONE);
    assert_int_equal(state_of(&t, "d-busy"), CCC_JOB_PROCESSING);
    assert_int_equal(state_of(&t, "d-retry"), CCC_JOB_QUEUED);
    assert_int_equal(state_of(&t, "d-crash"), CCC_JOB_QUEUED);
    ccc_buf res;
    ccc_buf_init(&res, 64);
    assert_int_equal(ccc_queue_fetch_result(t.q, "d-done", false, &res, NULL), CCC_OK);
    assert_memory_equal(res.data, "R0", 2);

    /* A second restart, with a new handle this time. */
    restart_storage(&t, false);
    ccc_queue_metrics m = metrics(&t);
    assert_int_equal(m.done, 1);
    assert_int_equal(m.processing, 2); /* d-busy and d-wait */
    assert_int_equal(m.queued, 2);     /* d-retry (in backoff), d-crash */
    /* Everything accepted comes back: the leases run out, the backoff ends. */
    int got = 0;
    bool seen_busy = false, seen_wait = false, seen_retry = false, seen_crash = false;
    while (got < 4 && claim_wait(&t, "w2", &job, 5000)) {
        got++;
        seen_busy |= strcmp(job.id, "d-busy") == 0 && job.attempt == 2 &&
                     memcmp(job.payload.data, "p1", 2) == 0;
        seen_wait |= strcmp(job.id, "d-wait") == 0 && job.attempt == 2;
        seen_retry |= strcmp(job.id, "d-retry") == 0 && job.attempt == 2 &&
                      memcmp(job.payload.data, "p3", 2) == 0;
        seen_crash |= strcmp(job.id, "d-crash") == 0 && job.attempt == 1 &&
                      memcmp(job.payload.data, "p4", 2) == 0;
        assert_int_equal(ccc_queue_complete(t.q, job.id, job.token, ccc_bytes_of("R", 1)), CCC_OK);
    }
    assert_int_equal(got, 4);
    assert_true(seen_busy && seen_wait && seen_retry && seen_crash);
    m = metrics(&t);
    assert_int_equal(m.done, 5);
    assert_int_equal(m.queued + m.processing, 0);
    ccc_buf_wipe(&res);
    ccc_queue_job_wipe(&job);
    ccc_queue_job_wipe(&retry);
    tq_close(&t);
}

static void redis_down_is_a_clean_io_error(void **state)
{
    (void)state;
    if (g.kind != B_REDIS)
        skip(); /* SQLite has no server to lose */
    tq t;
    tq_open(&t, NULL);
    enqueue_ok(&t, "x", "p", 1);
    redis_stop(SIGKILL);
    ccc_job_state s;
    assert_int_equal(ccc_queue_enqueue(t.q, "y", ccc_bytes_of("p", 1), ccc_bytes_of(NULL, 0), &s),
                     CCC_ERR_IO);
    ccc_queue_info info;
    assert_int_equal(ccc_queue_status(t.q, "x", &info), CCC_ERR_IO);
    assert_int_equal(redis_start(), 0);
    /* Back: nothing accepted was lost, the refused one was never stored. */
    assert_int_equal(state_of(&t, "x"), CCC_JOB_QUEUED);
    assert_int_equal(state_of(&t, "y"), CCC_JOB_UNKNOWN);
    tq_close(&t);
}

static void big_payloads_and_size_caps(void **state)
{
    (void)state;
    tq t;
    tq_open(&t, NULL);
    size_t big = (size_t)16 << 20;
    uint8_t *p = make_payload(big + 1);
    enqueue_ok(&t, "big", p, big);
    ccc_job_state s;
    assert_int_equal(
        ccc_queue_enqueue(t.q, "too-big", ccc_bytes_of(p, big + 1), ccc_bytes_of(NULL, 0), &s),
        CCC_ERR_LIMIT);
    assert_int_equal(state_of(&t, "too-big"), CCC_JOB_UNKNOWN);
    uint8_t meta[4097] = {0};
    assert_int_equal(
        ccc_queue_enqueue(t.q, "big-meta", ccc_bytes_of("p", 1), ccc_bytes_of(meta, 4097), &s),
        CCC_ERR_LIMIT);
    assert_int_equal(
        ccc_queue_enqueue(t.q, "ok-meta", ccc_bytes_of("p", 1), ccc_bytes_of(meta, 4096), &s),
        CCC_OK);

    ccc_queue_job job;
    ccc_queue_job_init(&job);
    assert_true(claim(&t, "w", &job));
    assert_string_equal(job.id, "big");
    assert_int_equal(job.payload.size, big);
    assert_memory_equal(job.payload.data, p, big);
    size_t rbig = (size_t)1 << 20;
    assert_int_equal(ccc_queue_complete(t.q, "big", job.token, ccc_bytes_of(p, rbig + 1)),
                     CCC_ERR_LIMIT);
    assert_int_equal(ccc_queue_complete(t.q, "big", job.token, ccc_bytes_of(p + 7, rbig)), CCC_OK);
    ccc_buf res;
    ccc_buf_init(&res, 2u << 20);
    assert_int_equal(ccc_queue_fetch_result(t.q, "big", true, &res, NULL), CCC_OK);
    assert_int_equal(res.size, rbig);
    assert_memory_equal(res.data, p + 7, rbig);
    assert_true(claim(&t, "w", &job));
    assert_string_equal(job.id, "ok-meta");
    assert_int_equal(job.meta.size, 4096);
    ccc_buf_wipe(&res);
    ccc_queue_job_wipe(&job);
    free(p);
    tq_close(&t);
}

static void bad_ids_and_arguments(void **state)
{
    (void)state;
    tq t;
    tq_open(&t, NULL);
    char long_id[CCC_QUEUE_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    const char *bad[] = {"", "a b", "../etc", "a/b", "j\n", "ü", "a*", "{x}", long_id};
    ccc_job_state s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            ccc_queue_enqueue(t.q, bad[i], ccc_bytes_of("p", 1), ccc_bytes_of(NULL, 0), &s),
            CCC_ERR_USAGE);
        ccc_queue_info info;
        assert_int_equal(ccc_queue_status(t.q, bad[i], &info), CCC_ERR_USAGE);
    }
    long_id[CCC_QUEUE_ID_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(
        ccc_queue_enqueue(t.q, long_id, ccc_bytes_of("p", 1), ccc_bytes_of(NULL, 0), &s), CCC_OK);
    assert_int_equal(ccc_queue_enqueue(t.q, NULL, ccc_bytes_of("p", 1), ccc_bytes_of(NULL, 0), &s),
                     CCC_ERR_USAGE);
    ccc_queue_job job;
    ccc_queue_job_init(&job);
    bool got = true;
    assert_int_equal(ccc_queue_claim(t.q, "bad worker", &job, &got), CCC_ERR_USAGE);
    assert_false(got);
    assert_int_equal(ccc_queue_claim(t.q, "", &job, &got), CCC_ERR_USAGE);
    assert_true(claim(&t, "w", &job));
    assert_string_equal(job.id, long_id);
    ccc_queue_job_wipe(&job);
    tq_close(&t);
}

/* Several processes (like host+enclave pairs) share one queue: every job is
   done exactly once and nobody claims a job another holds. */
static void several_processes_share_one_queue(void **state)
{
    (void)state;
    tq t;
    tq_open(&t, NULL);
    enum { JOBS = 24, WORKERS = 3 };
    for (int i = 0; i < JOBS; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%02d", i);
        enqueue_ok(&t, id, id, strlen(id));
    }
    pid_t kids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        kids[w] = fork();
        assert_true(kids[w] >= 0);
        if (kids[w] == 0) {
            ccc_queue *q = NULL;
            t.opts.name = t.name;
            if (ccc_queue_open(t.url, &t.opts, &q) != CCC_OK)
                _exit(100);
            ccc_queue_job job;
            ccc_queue_job_init(&job);
            int done = 0;
            char worker[32];
            snprintf(worker, sizeof worker, "proc-%d", w);
            for (;;) {
                bool claimed = false;
                if (ccc_queue_claim(q, worker, &job, &claimed) != CCC_OK)
                    _exit(101);
                if (!claimed)
                    break;
                if (job.attempt != 1 || job.payload.size != strlen(job.id) ||
                    memcmp(job.payload.data, job.id, job.payload.size) != 0)
                    _exit(102);
                if (ccc_queue_complete(q, job.id, job.token,
                                       ccc_bytes_of(worker, strlen(worker))) != CCC_OK)
                    _exit(103);
                done++;
            }
            ccc_queue_job_wipe(&job);
            ccc_queue_free(q);
            _exit(done);
        }
    }
    int total = 0;
    for (int w = 0; w < WORKERS; w++) {
        int wst;
        assert_int_equal(waitpid(kids[w], &wst, 0), kids[w]);
        assert_true(WIFEXITED(wst));
        assert_true(WEXITSTATUS(wst) <= JOBS);
        total += WEXITSTATUS(wst);
    }
    assert_int_equal(total, JOBS);
    ccc_queue_metrics m = metrics(&t);
    assert_int_equal(m.done, JOBS);
    assert_int_equal(m.queued + m.processing, 0);
    tq_close(&t);
}

/* ---- backend-independent ------------------------------------------------------- */

static void bad_urls_and_options(void **state)
{
    (void)state;
    ccc_queue *q = (ccc_queue *)&q; /* must be reset to NULL on failure */
    struct {
        const char *url;
        ccc_status want;
    } cases[] = {
        {"", CCC_ERR_USAGE},
        {"http://example.com/q", CCC_ERR_UNSUPPORTED},
        {"mysql://h/db", CCC_ERR_UNSUPPORTED},
        {"sqlite://", CCC_ERR_USAGE},
        {"redis://", CCC_ERR_USAGE},
        {"redis://:6379", CCC_ERR_USAGE},
        {"redis://h:0", CCC_ERR_USAGE},
        {"redis://h:65536", CCC_ERR_USAGE},
        {"redis://h:port", CCC_ERR_USAGE},
        {"redis://h:", CCC_ERR_USAGE},
        {"redis://h:6379/x", CCC_ERR_USAGE},
        {"redis://h:6379/1/2", CCC_ERR_USAGE},
        {"redis://h/-1", CCC_ERR_USAGE},
        {"redis://[::1", CCC_ERR_USAGE},
        {"redis://h?x=1", CCC_ERR_USAGE},
        {"redis://h o", CCC_ERR_USAGE},
        {"redis://user:pw@h:6379", CCC_ERR_UNSUPPORTED},
        {"redis://127.0.0.1:1", CCC_ERR_IO},
        {"sqlite:///nonexistent-dir-ccc/x/q.db", CCC_ERR_IO},
        {"/nonexistent-dir-ccc/q.db", CCC_ERR_IO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ccc_status st = ccc_queue_open(cases[i].url, NULL, &q);
        if (st != cases[i].want)
            fail_msg("%s: got %s (%s), want %s", cases[i].url, ccc_status_name(st),
                     ccc_error_detail(), ccc_status_name(cases[i].want));
        assert_null(q);
    }
    assert_int_equal(ccc_queue_open(NULL, NULL, &q), CCC_ERR_USAGE);
    assert_int_equal(ccc_queue_open("q.db", NULL, NULL), CCC_ERR_USAGE);

    char path[400], url[420];
    snprintf(path, sizeof path, "%s/opts.db", g.dir);
    ccc_queue_opts o = {.max_attempts = CCC_QUEUE_MAX_ATTEMPTS_LIMIT + 1};
    assert_int_equal(ccc_queue_open(path, &o, &q), CCC_ERR_USAGE);
    ccc_queue_opts o2 = {.name = "bad name"};
    assert_int_equal(ccc_queue_open(path, &o2, &q), CCC_ERR_USAGE);
    ccc_queue_opts o3 = {.max_payload_size = (size_t)2 << 30};
    assert_int_equal(ccc_queue_open(path, &o3, &q), CCC_ERR_USAGE);

    /* A bare path and sqlite:// open the same file; it is private (0600). */
    assert_int_equal(ccc_queue_open(path, NULL, &q), CCC_OK);
    assert_string_equal(ccc_queue_backend_name(q), "sqlite");
    enqueue_ok(&(tq){.q = q}, "same", "p", 1);
    ccc_queue_free(q);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(url, sizeof url, "sqlite://%s", path);
    assert_int_equal(ccc_queue_open(url, NULL, &q), CCC_OK);
    ccc_queue_info info;
    assert_int_equal(ccc_queue_status(q, "same", &info), CCC_OK);
    assert_int_equal(info.state, CCC_JOB_QUEUED);
    ccc_queue_free(q);
    ccc_queue_free(NULL);

    /* Not a database: a clear I/O error, not a crash. */
    snprintf(path, sizeof path, "%s/garbage.db", g.dir);
    uint8_t junk[4096];
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(ccc_file_write(path, junk, sizeof junk), CCC_OK);
    assert_int_equal(ccc_queue_open(path, NULL, &q), CCC_ERR_IO);
    assert_null(q);

    assert_string_equal(ccc_job_state_name(CCC_JOB_DEAD), "dead");
    assert_string_equal(ccc_job_state_name((ccc_job_state)42), "unknown");
}

static void log_has_no_payload_bytes(void **state)
{
    (void)state;
    fflush(g.log);
    char hex[2 * sizeof g.canary + 1];
    ccc_hex_encode(g.canary, sizeof g.canary, hex);
    ccc_buf b;
    ccc_buf_init(&b, 64u << 20);
    assert_int_equal(ccc_file_read(g.log_path, &b), CCC_OK);
    assert_true(b.size > 0); /* the queue did log (job ids, attempts, states) */
    assert_false(mem_contains(b.data, b.size, g.canary, sizeof g.canary));
    assert_false(mem_contains(b.data, b.size, (const uint8_t *)hex, strlen(hex)));
    assert_false(mem_contains(b.data, b.size, (const uint8_t *)"secret-ct", 9));
    assert_true(mem_contains(b.data, b.size, (const uint8_t *)"job_dead_letter", 15));
    ccc_buf_wipe(&b);
}

/* ---- groups ---------------------------------------------------------------------- */

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g.dir, sizeof g.dir, "%s/ccc-queue-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(g.dir) ? 0 : -1;
}

static int sqlite_setup(void **state)
{
    (void)state;
    g.kind = B_SQLITE;
    return make_dir();
}

static int redis_setup(void **state)
{
    (void)state;
    g.kind = B_REDIS;
    if (make_dir() != 0)
        return -1;
    g.redis_port = free_port();
    return redis_start();
}

static int group_teardown(void **state)
{
    (void)state;
    redis_stop(SIGTERM);
    rm_tree(g.dir);
    return 0;
}

#define SUITE                                                                                      \
    cmocka_unit_test(dedup_keeps_the_first_job), cmocka_unit_test(claim_complete_fetch),           \
        cmocka_unit_test(lease_runs_out_and_exactly_one_result),                                   \
        cmocka_unit_test(poison_job_dead_letters_after_lease_outs),                                \
        cmocka_unit_test(three_attempts_backoff_then_dead_letter),                                 \
        cmocka_unit_test(results_expire_and_delete_after_fetch),                                   \
        cmocka_unit_test(durable_across_restarts),                                                 \
        cmocka_unit_test(redis_down_is_a_clean_io_error),                                          \
        cmocka_unit_test(big_payloads_and_size_caps), cmocka_unit_test(bad_ids_and_arguments),     \
        cmocka_unit_test(several_processes_share_one_queue)

int main(void)
{
    if (make_dir() != 0)
        return 1;
    snprintf(g.log_path, sizeof g.log_path, "%s/queue.log", g.dir);
    char logdir[256];
    memcpy(logdir, g.dir, sizeof logdir);
    g.log = fopen(g.log_path, "w");
    if (g.log == NULL || RAND_bytes(g.canary, sizeof g.canary) != 1)
        return 1;
    ccc_log_init(g.log, "test-queue", CCC_LOG_DEBUG);

    const struct CMUnitTest sqlite_tests[] = {SUITE};
    const struct CMUnitTest redis_tests[] = {SUITE};
    const struct CMUnitTest common_tests[] = {
        cmocka_unit_test(bad_urls_and_options),
        cmocka_unit_test(log_has_no_payload_bytes),
    };
    int failed = 0;
    failed +=
        cmocka_run_group_tests_name("queue_sqlite", sqlite_tests, sqlite_setup, group_teardown);
    failed += cmocka_run_group_tests_name("queue_redis", redis_tests, redis_setup, group_teardown);
    failed +=
        cmocka_run_group_tests_name("queue_common", common_tests, sqlite_setup, group_teardown);
    fclose(g.log);
    ccc_log_init(stderr, "test-queue", CCC_LOG_INFO);
    rm_tree(logdir);
    return failed;
}
