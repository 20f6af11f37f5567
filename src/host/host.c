/* host: life cycle (new/start/stop/free), the maintenance thread, metrics
 * (Prometheus text format 0.0.4, docs/protocol.md §11) and the dedup memory. */
#include "host/host_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame/frame.h"
#include "log/log.h"
#include "policy/policy.h"

static const double http_bounds[HOST_HTTP_BUCKETS] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};
static const double job_bounds[HOST_JOB_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                                    5,    10,  30,   60,  120};

static ccc_status copy_str(char *dst, size_t cap, const char *src, const char *what_literal)
{
    (void)what_literal;
    CCC_ENSURE(src && strlen(src) < cap, CCC_ERR_USAGE, "option value too long");
    strcpy(dst, src);
    return CCC_OK;
}

static ccc_status parse_unix(const char *spec, char out[108])
{
    CCC_ENSURE(spec && strncmp(spec, "unix:", 5) == 0 && spec[5] != '\0', CCC_ERR_USAGE,
               "socket must be unix:PATH");
    return copy_str(out, 108, spec + 5, "socket path");
}

static ccc_status parse_listen(const char *spec, char addr[64], uint16_t *port)
{
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    CCC_ENSURE(colon && colon != spec && (size_t)(colon - spec) < 64, CCC_ERR_USAGE,
               "--listen must be A.B.C.D:PORT");
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    CCC_ENSURE(errno == 0 && end && *end == '\0' && end != colon + 1 && p <= 65535, CCC_ERR_USAGE,
               "--listen port");
    memcpy(addr, spec, (size_t)(colon - spec));
    addr[colon - spec] = '\0';
    *port = (uint16_t)p;
    return CCC_OK;
}

ccc_status ccc_host_new(const ccc_host_config *cfg, ccc_host **out)
{
    ccc_status st = CCC_OK;
    *out = NULL;
    CCC_ENSURE(cfg && cfg->queue_url && cfg->kms_config_path, CCC_ERR_USAGE,
               "queue URL and kms config are required");
    CCC_ENSURE(cfg->enclave_count <= CCC_HOST_MAX_ENCLAVES, CCC_ERR_USAGE, "too many enclaves");
    ccc_host *h = calloc(1, sizeof *h);
    CCC_ENSURE(h, CCC_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&h->queue_lock, NULL);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    pthread_cond_init(&h->done, NULL);
    ccc_buf_init(&h->policy, CCC_POLICY_MAX_BUNDLE_SIZE);
    for (size_t i = 0; i < CCC_HOST_MAX_ENCLAVES; i++)
        ccc_buf_init(&h->relays[i].doc, ccc_frame_type_max_size(CCC_FRAME_ATTEST_RESPONSE));
    h->dedup = calloc(CCC_HOST_DEDUP_MEMORY, sizeof *h->dedup);
    CCC_CHECK(h->dedup, CCC_ERR_NOMEM, "out of memory");

    CCC_TRY(parse_listen(cfg->listen ? cfg->listen : CCC_HOST_DEFAULT_LISTEN, h->listen_addr,
                         &h->listen_port));
    for (size_t i = 0; i < cfg->enclave_count; i++) {
        host_relay *r = &h->relays[i];
        CCC_TRY(parse_unix(cfg->enclaves[i], r->path));
        r->host = h;
        r->index = i;
    }
    h->relay_count = cfg->enclave_count;
    if (cfg->kms) {
        CCC_TRY(parse_unix(cfg->kms, h->kms_path));
        h->have_kms = true;
    }
    h->kms_config_path = strdup(cfg->kms_config_path);
    CCC_CHECK(h->kms_config_path, CCC_ERR_NOMEM, "out of memory");
    if (cfg->static_dir) {
        h->static_dir = strdup(cfg->static_dir);
        CCC_CHECK(h->static_dir, CCC_ERR_NOMEM, "out of memory");
    }
    if (cfg->worker_id) {
        CCC_TRY(copy_str(h->worker_id, sizeof h->worker_id - 4, cfg->worker_id, "worker id"));
        CCC_CHECK(h->worker_id[0] &&
                      strspn(h->worker_id,
                             "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == strlen(h->worker_id),
                  CCC_ERR_USAGE, "--worker-id must be [A-Za-z0-9._:-]");
    } else
        snprintf(h->worker_id, sizeof h->worker_id, "host-%ld", (long)getpid());

    /* Policy: served as is; tou limits peeked, not verified (host.h). */
    uint64_t tou_body = CCC_HOST_DEFAULT_MAX_BODY, tou_rate = CCC_HOST_DEFAULT_RATE_PER_MINUTE;
    if (cfg->policy_path) {
        ccc_policy p;
        CCC_TRY(ccc_file_read(cfg->policy_path, &h->policy));
        CCC_TRY(ccc_policy_peek(ccc_buf_bytes(&h->policy), &p));
        tou_body = p.tou_max_body_bytes;
        tou_rate = p.tou_rate_per_minute;
    }
    h->max_body = cfg->max_body_size ? cfg->max_body_size : tou_body;
    h->rate_per_minute = cfg->rate_per_minute ? cfg->rate_per_minute : tou_rate;
    CCC_CHECK(h->max_body <= CCC_QUEUE_DEFAULT_MAX_PAYLOAD_SIZE * 4, CCC_ERR_USAGE,
              "max body too large");
    /* a few bodies at the cap at once; more wait (429) instead of memory */
    h->body_budget =
        4 * h->max_body < ((uint64_t)64 << 20) ? ((uint64_t)64 << 20) : 4 * h->max_body;
    if (cfg->upload_budget)
        h->body_budget = cfg->upload_budget;
    h->job_timeout_ms = cfg->job_timeout_ms ? cfg->job_timeout_ms : CCC_HOST_DEFAULT_JOB_TIMEOUT_MS;
    h->kms_timeout_ms = cfg->kms_timeout_ms ? cfg->kms_timeout_ms : CCC_HOST_DEFAULT_KMS_TIMEOUT_MS;
    h->stop_grace_ms = cfg->stop_grace_ms ? cfg->stop_grace_ms : CCC_HOST_DEFAULT_STOP_GRACE_MS;
    h->connection_limit =
        cfg->connection_limit ? cfg->connection_limit : CCC_HOST_DEFAULT_CONNECTION_LIMIT;

    ccc_queue_opts qo = cfg->queue_opts;
    qo.max_payload_size = (size_t)h->max_body;
    qo.max_meta_size = 32;
    CCC_TRY(ccc_queue_open(cfg->queue_url, &qo, &h->queue));
    *out = h;
    return CCC_OK;
out:
    ccc_host_free(h);
    return st;
}

static void *maint_main(void *arg)
{
    ccc_host *h = arg;
    uint64_t last = ccc_now_ns();
    while (!atomic_load(&h->stopping)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (ccc_now_ns() - last < 60ull * 1000 * 1000 * 1000)
            continue;
        last = ccc_now_ns();
        uint64_t removed = 0;
        pthread_mutex_lock(&h->queue_lock);
        ccc_status st = ccc_queue_expire(h->queue, &removed);
        pthread_mutex_unlock(&h->queue_lock);
        if (st != CCC_OK)
            ccc_log_error_status(CCC_EV_ERROR, st);
    }
    return NULL;
}

ccc_status ccc_host_start(ccc_host *h)
{
    CCC_ENSURE(h && !h->running, CCC_ERR_USAGE, "host already running");
    atomic_store(&h->stopping, false);
    atomic_store(&h->draining, false); /* a restarted host long-polls again */
    CCC_GUARD(host_http_start(h));
    h->running = true;
    for (size_t i = 0; i < h->relay_count; i++) {
        if (pthread_create(&h->relays[i].thread, NULL, host_relay_main, &h->relays[i]) == 0)
            h->relays[i].started = true;
    }
    h->maint_started = pthread_create(&h->maint_thread, NULL, maint_main, h) == 0;
    if (!h->maint_started) {
        ccc_host_stop(h);
        CCC_BAIL(CCC_ERR_INTERNAL, "cannot start a thread");
    }
    ccc_log(CCC_LOG_INFO, CCC_EV_START, ccc_log_count(CCC_F_COUNT, h->relay_count), CCC_LOG_END);
    return CCC_OK;
}

uint16_t ccc_host_port(const ccc_host *h) { return h->listen_port; }

void ccc_host_stop(ccc_host *h)
{
    if (!h || !h->running)
        return;
    /* Waiting long-polls answer now, so the HTTP threads can end. */
    atomic_store(&h->draining, true);
    pthread_mutex_lock(&h->queue_lock);
    pthread_cond_broadcast(&h->done);
    pthread_mutex_unlock(&h->queue_lock);
    host_http_stop(h); /* no new jobs */
    atomic_store(&h->stopping, true);
    pthread_mutex_lock(&h->queue_lock);
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->queue_lock);
    for (size_t i = 0; i < h->relay_count; i++) {
        if (h->relays[i].started)
            pthread_join(h->relays[i].thread, NULL);
        h->relays[i].started = false;
    }
    if (h->maint_started)
        pthread_join(h->maint_thread, NULL);
    h->maint_started = false;
    h->running = false;
    ccc_log(CCC_LOG_INFO, CCC_EV_STOP, CCC_LOG_END);
}

ccc_status ccc_host_run(ccc_host *h, volatile sig_atomic_t *stop_flag)
{
    CCC_GUARD(ccc_host_start(h));
    while (!*stop_flag) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ccc_host_stop(h);
    return CCC_OK;
}

void ccc_host_free(ccc_host *h)
{
    if (!h)
        return;
    ccc_host_stop(h);
    ccc_queue_free(h->queue);
    for (size_t i = 0; i < CCC_HOST_MAX_ENCLAVES; i++)
        ccc_buf_wipe(&h->relays[i].doc);
    ccc_buf_wipe(&h->policy);
    free(h->dedup);
    free(h->kms_config_path);
    free(h->static_dir);
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->done);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->queue_lock);
    free(h);
}

size_t ccc_host_enclaves_ready(ccc_host *h)
{
    size_t n = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->relay_count; i++)
        n += h->relays[i].ready;
    pthread_mutex_unlock(&h->lock);
    return n;
}

int host_unix_connect(const char *path, uint32_t recv_ms, uint32_t send_ms)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval rt = {recv_ms / 1000, (recv_ms % 1000) * 1000};
    struct timeval wt = {send_ms / 1000, (send_ms % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof wt);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ------------------------------------------------------------------------ */
/* Dedup memory                                                              */
/* ------------------------------------------------------------------------ */

/* The entry of SHA-256(id), or NULL (h->lock held). */
static host_dedup_entry *dedup_find(ccc_host *h, const uint8_t idh[32])
{
    for (size_t i = 0; i < CCC_HOST_DEDUP_MEMORY; i++)
        if (h->dedup[i].used && memcmp(h->dedup[i].id_sha256, idh, 32) == 0)
            return &h->dedup[i];
    return NULL;
}

void host_dedup_remember(ccc_host *h, const char *id, const uint8_t body_sha256[32])
{
    uint8_t idh[32];
    if (ccc_sha256(ccc_bytes_of(id, strlen(id)), idh) != CCC_OK)
        return;
    pthread_mutex_lock(&h->lock);
    /* An id seen before (its record expired, then enqueued again) is
     * updated in place, so a lookup never finds a stale hash. */
    host_dedup_entry *e = dedup_find(h, idh);
    if (!e) {
        e = &h->dedup[h->dedup_next];
        h->dedup_next = (h->dedup_next + 1) % CCC_HOST_DEDUP_MEMORY;
    }
    memcpy(e->id_sha256, idh, 32);
    memcpy(e->body_sha256, body_sha256, 32);
    e->used = true;
    pthread_mutex_unlock(&h->lock);
}

bool host_dedup_lookup(ccc_host *h, const char *id, uint8_t body_sha256[32])
{
    uint8_t idh[32];
    if (ccc_sha256(ccc_bytes_of(id, strlen(id)), idh) != CCC_OK)
        return false;
    pthread_mutex_lock(&h->lock);
    const host_dedup_entry *e = dedup_find(h, idh);
    if (e)
        memcpy(body_sha256, e->body_sha256, 32);
    pthread_mutex_unlock(&h->lock);
    return e != NULL;
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                   */
/* ------------------------------------------------------------------------ */

static void hist_add(host_histogram *hg, const double *bounds, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > bounds[i])
        i++;
    hg->counts[i]++;
    hg->total++;
    hg->sum += v;
}

void host_metrics_http(ccc_host *h, ccc_host_route route, int status, double seconds)
{
    pthread_mutex_lock(&h->lock);
    size_t i = 0;
    while (i < h->m.code_used && !(h->m.code_route[i] == route && h->m.code_status[i] == status))
        i++;
    if (i == h->m.code_used && i < HOST_CODE_SLOTS) {
        h->m.code_route[i] = route;
        h->m.code_status[i] = status;
        h->m.code_used++;
    }
    if (i < HOST_CODE_SLOTS)
        h->m.code_count[i]++;
    hist_add(&h->m.http, http_bounds, HOST_HTTP_BUCKETS, seconds);
    pthread_mutex_unlock(&h->lock);
}

void host_metrics_job(ccc_host *h, double seconds)
{
    pthread_mutex_lock(&h->lock);
    hist_add(&h->m.job, job_bounds, HOST_JOB_BUCKETS, seconds);
    pthread_mutex_unlock(&h->lock);
}

void host_metrics_job_error(ccc_host *h, ccc_status st)
{
    pthread_mutex_lock(&h->lock);
    if ((unsigned)st < CCC_STATUS_COUNT)
        h->m.job_errors[st]++;
    pthread_mutex_unlock(&h->lock);
}

static void hist_print(FILE *f, const char *name, const host_histogram *hg, const double *bounds,
                       size_t n)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += hg->counts[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    cum += hg->counts[n];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, hg->sum, name, (unsigned long long)hg->total);
}

ccc_status host_metrics_text(ccc_host *h, ccc_buf *out)
{
    ccc_queue_metrics qm = {0};
    pthread_mutex_lock(&h->queue_lock);
    ccc_status qst = ccc_queue_metrics_get(h->queue, &qm);
    pthread_mutex_unlock(&h->queue_lock);
    size_t ready = ccc_host_enclaves_ready(h);

    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    CCC_ENSURE(f, CCC_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&h->lock);
    fputs("# HELP ccc_http_requests_total HTTP requests by route and status code.\n"
          "# TYPE ccc_http_requests_total counter\n",
          f);
    for (size_t i = 0; i < h->m.code_used; i++)
        fprintf(f, "ccc_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                ccc_host_route_name(h->m.code_route[i]), h->m.code_status[i],
                (unsigned long long)h->m.code_count[i]);
    fputs("# HELP ccc_http_request_duration_seconds Time to answer an HTTP request.\n"
          "# TYPE ccc_http_request_duration_seconds histogram\n",
          f);
    hist_print(f, "ccc_http_request_duration_seconds", &h->m.http, http_bounds, HOST_HTTP_BUCKETS);
    fputs("# HELP ccc_job_duration_seconds Time from a job's acceptance to its stored result.\n"
          "# TYPE ccc_job_duration_seconds histogram\n",
          f);
    hist_print(f, "ccc_job_duration_seconds", &h->m.job, job_bounds, HOST_JOB_BUCKETS);
    fputs("# HELP ccc_job_errors_total Jobs that failed, by error class.\n"
          "# TYPE ccc_job_errors_total counter\n",
          f);
    for (int s = 1; s < (int)CCC_STATUS_COUNT; s++)
        if (h->m.job_errors[s])
            fprintf(f, "ccc_job_errors_total{class=\"%s\"} %llu\n", ccc_status_name((ccc_status)s),
                    (unsigned long long)h->m.job_errors[s]);
    fprintf(f,
            "# HELP ccc_attestations_total Attestation documents received from enclaves.\n"
            "# TYPE ccc_attestations_total counter\nccc_attestations_total %llu\n",
            (unsigned long long)h->m.attestations);
    fprintf(f,
            "# HELP ccc_key_releases_total Key requests relayed to the key service, by result.\n"
            "# TYPE ccc_key_releases_total counter\n"
            "ccc_key_releases_total{result=\"released\"} %llu\n"
            "ccc_key_releases_total{result=\"refused\"} %llu\n"
            "ccc_key_releases_total{result=\"unavailable\"} %llu\n",
            (unsigned long long)h->m.key_released, (unsigned long long)h->m.key_refused,
            (unsigned long long)h->m.key_unavailable);
    pthread_mutex_unlock(&h->lock);
    fprintf(f,
            "# HELP ccc_enclaves_ready Enclaves ready for jobs.\n"
            "# TYPE ccc_enclaves_ready gauge\nccc_enclaves_ready %zu\n",
            ready);
    if (qst == CCC_OK)
        fprintf(f,
                "# HELP ccc_queue_jobs Jobs in the queue by state.\n"
                "# TYPE ccc_queue_jobs gauge\n"
                "ccc_queue_jobs{state=\"queued\"} %llu\n"
                "ccc_queue_jobs{state=\"processing\"} %llu\n"
                "ccc_queue_jobs{state=\"done\"} %llu\n"
                "ccc_queue_jobs{state=\"dead\"} %llu\n",
                (unsigned long long)qm.queued, (unsigned long long)qm.processing,
                (unsigned long long)qm.done, (unsigned long long)qm.dead);
    fclose(f);
    ccc_status st = ccc_buf_append(out, text, size);
    free(text);
    return st;
}
