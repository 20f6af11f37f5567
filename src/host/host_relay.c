/* host: one relay thread per enclave socket (docs/protocol.md §10). Frames
 * go through unread: the relay reads only the job frames' CBOR maps (job
 * id, class; which byte string is the receipt and which the response). */
#include "host/host_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame/frame.h"
#include "log/log.h"

#define RELAY_POLL_MS 200
#define RELAY_FRAME_CAP (256u * 1024u) /* the largest frame an enclave sends */
#define RELAY_STALL_MS 10000u          /* a started frame must finish within */

static const char kms_unavailable[] = "io:kms_unavailable";

static bool stopping(const host_relay *r) { return atomic_load(&r->host->stopping); }

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until fd is readable (1), the deadline passes (0) or the host stops
 * and `stop_counts` (-1). */
static int wait_readable(const host_relay *r, int fd, uint64_t deadline_ns, bool stop_counts)
{
    for (;;) {
        if (stop_counts && stopping(r))
            return -1;
        uint64_t now = ccc_now_ns();
        if (now >= deadline_ns)
            return 0;
        uint64_t left_ms = (deadline_ns - now) / 1000000u + 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(left_ms < RELAY_POLL_MS ? left_ms : RELAY_POLL_MS));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 1; /* let the read report it */
    }
}

static int connect_enclave(host_relay *r)
{
    unsigned delay = 250; /* §10 host: retry 250 ms, doubling to 2 s */
    while (!stopping(r)) {
        int fd = host_unix_connect(r->path, RELAY_STALL_MS, r->host->job_timeout_ms);
        if (fd >= 0)
            return fd;
        for (unsigned w = 0; w < delay && !stopping(r); w += 50)
            sleep_ms(50);
        delay = delay * 2 > 2000 ? 2000 : delay * 2;
    }
    return -1;
}

/* One key request: a fresh connection to ccc-kms, the frame, one answer
 * (0x31 or 0x12), relayed to the enclave unread. */
static ccc_status relay_key_request(host_relay *r, int efd, ccc_bytes doc)
{
    ccc_host *h = r->host;
    ccc_frame_type atype = CCC_FRAME_JOB_ERROR;
    ccc_buf answer;
    ccc_buf_init(&answer, ccc_frame_type_max_size(CCC_FRAME_KEY_RESPONSE));
    bool ok = false;
    int kfd =
        h->have_kms ? host_unix_connect(h->kms_path, h->kms_timeout_ms, h->kms_timeout_ms) : -1;
    if (kfd >= 0) {
        if (ccc_frame_write(kfd, CCC_FRAME_KEY_REQUEST, doc) == CCC_OK &&
            ccc_frame_read(kfd, &atype, &answer) == CCC_OK &&
            (atype == CCC_FRAME_KEY_RESPONSE || atype == CCC_FRAME_JOB_ERROR))
            ok = true;
        close(kfd);
    }
    if (!ok) {
        atype = CCC_FRAME_JOB_ERROR;
        ccc_buf_reset(&answer);
        if (ccc_buf_append(&answer, kms_unavailable, sizeof kms_unavailable - 1) != CCC_OK)
            ccc_buf_reset(&answer);
    }
    pthread_mutex_lock(&h->lock);
    if (!ok)
        h->m.key_unavailable++;
    else if (atype == CCC_FRAME_KEY_RESPONSE)
        h->m.key_released++;
    else
        h->m.key_refused++;
    pthread_mutex_unlock(&h->lock);
    ccc_log(ok && atype == CCC_FRAME_KEY_RESPONSE ? CCC_LOG_INFO : CCC_LOG_WARN,
            ok && atype == CCC_FRAME_KEY_RESPONSE ? CCC_EV_KEY_RELEASED : CCC_EV_KEY_REFUSED,
            ccc_log_count(CCC_F_COUNT, r->index),
            ccc_log_id(CCC_F_REASON, !ok                               ? "kms_unavailable"
                                     : atype == CCC_FRAME_KEY_RESPONSE ? "kms_released"
                                                                       : "kms_refused"),
            ccc_log_size(CCC_F_BYTES_IN, doc.size), ccc_log_size(CCC_F_BYTES_OUT, answer.size),
            CCC_LOG_END);
    ccc_status st = ccc_frame_write(efd, atype, ccc_buf_bytes(&answer));
    ccc_buf_wipe(&answer); /* sealed to the enclave's key: ciphertext, wiped anyway */
    return st;
}

/* §10 start-up: relay key requests until attest_response. */
static ccc_status startup(host_relay *r, int fd, ccc_buf *frame)
{
    ccc_host *h = r->host;
    for (;;) {
        int w = wait_readable(r, fd, UINT64_MAX, true);
        if (w < 0)
            return CCC_ERR_BUSY;
        ccc_frame_type type;
        CCC_GUARD(ccc_frame_read(fd, &type, frame));
        if (type == CCC_FRAME_KEY_REQUEST) {
            CCC_GUARD(relay_key_request(r, fd, ccc_buf_bytes(frame)));
            continue;
        }
        CCC_ENSURE(type == CCC_FRAME_ATTEST_RESPONSE, CCC_ERR_PARSE,
                   "unexpected frame from the enclave at start-up");
        pthread_mutex_lock(&h->lock);
        ccc_buf_reset(&r->doc);
        ccc_status st = ccc_buf_append_bytes(&r->doc, ccc_buf_bytes(frame));
        r->ready = st == CCC_OK;
        h->m.attestations++;
        pthread_mutex_unlock(&h->lock);
        CCC_GUARD(st);
        ccc_log(CCC_LOG_INFO, CCC_EV_ATTEST_VERIFIED, ccc_log_count(CCC_F_COUNT, r->index),
                ccc_log_size(CCC_F_BYTES_IN, frame->size),
                ccc_log_id(CCC_F_REASON, "enclave_ready"), CCC_LOG_END);
        return CCC_OK;
    }
}

/* Claim one job, or wait up to RELAY_POLL_MS for a POST to wake us. */
static ccc_status claim(host_relay *r, ccc_queue_job *job, bool *claimed)
{
    ccc_host *h = r->host;
    char worker[CCC_QUEUE_WORKER_MAX + 32]; /* id <= 60 chars + "-" + index */
    snprintf(worker, sizeof worker, "%s-%zu", h->worker_id, r->index);
    pthread_mutex_lock(&h->queue_lock);
    uint64_t seq = h->wake_seq;
    ccc_status st = ccc_queue_claim(h->queue, worker, job, claimed);
    if (st == CCC_OK && !*claimed && !atomic_load(&h->stopping) && seq == h->wake_seq) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += RELAY_POLL_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->wake, &h->queue_lock, &ts);
    }
    pthread_mutex_unlock(&h->queue_lock);
    return st;
}

static void store_result(host_relay *r, const ccc_queue_job *job, const ccc_host_record *rec)
{
    ccc_host *h = r->host;
    ccc_buf out;
    ccc_buf_init(&out, CCC_QUEUE_DEFAULT_MAX_RESULT_SIZE);
    ccc_status st = ccc_host_record_encode(rec, &out);
    uint64_t now = ccc_wall_ms();
    double secs = now > job->enqueued_ms ? (double)(now - job->enqueued_ms) / 1000.0 : 0.0;
    if (st == CCC_OK) {
        pthread_mutex_lock(&h->queue_lock);
        st = ccc_queue_complete(h->queue, job->id, job->token, ccc_buf_bytes(&out));
        /* counted before anyone can GET the result (the queue lock) */
        if (st == CCC_OK) {
            host_metrics_job(h, secs);
            if (rec->error != CCC_OK)
                host_metrics_job_error(h, rec->error);
            h->done_seq++;
            pthread_cond_broadcast(&h->done);
        }
        pthread_mutex_unlock(&h->queue_lock);
    }
    ccc_log(st == CCC_OK ? CCC_LOG_INFO : CCC_LOG_WARN,
            rec->error == CCC_OK ? CCC_EV_JOB_DONE : CCC_EV_JOB_FAILED, ccc_log_job(job->id),
            ccc_log_status(st == CCC_OK ? rec->error : st),
            ccc_log_count(CCC_F_ATTEMPT, job->attempt), ccc_log_size(CCC_F_BYTES_OUT, out.size),
            ccc_log_ms(CCC_F_DURATION_MS, secs * 1000.0), CCC_LOG_END);
    ccc_buf_wipe(&out);
}

static void fail_job(host_relay *r, const ccc_queue_job *job, ccc_status cls)
{
    ccc_host *h = r->host;
    ccc_job_state state = CCC_JOB_UNKNOWN;
    pthread_mutex_lock(&h->queue_lock);
    ccc_status st = ccc_queue_fail(h->queue, job->id, job->token, cls, &state);
    if (st == CCC_OK && state == CCC_JOB_DEAD) {
        host_metrics_job_error(h, cls);
        h->done_seq++;
        pthread_cond_broadcast(&h->done);
    }
    pthread_mutex_unlock(&h->queue_lock);
    ccc_log(CCC_LOG_WARN, state == CCC_JOB_DEAD ? CCC_EV_JOB_DEAD_LETTER : CCC_EV_JOB_FAILED,
            ccc_log_job(job->id), ccc_log_status(cls), ccc_log_count(CCC_F_ATTEMPT, job->attempt),
            CCC_LOG_END);
}

/*
 * Run one claimed job on the enclave. CCC_OK: the connection stays in step.
 * Anything else: the job went back to the queue; drop the connection.
 */
static ccc_status run_job(host_relay *r, int fd, ccc_queue_job *job, ccc_buf *frame)
{
    ccc_host *h = r->host;
    ccc_host_record rec;
    memset(&rec, 0, sizeof rec);
    if (job->meta.size == 32)
        memcpy(rec.body_sha256, job->meta.data, 32);
    ccc_log(CCC_LOG_INFO, CCC_EV_JOB_CLAIMED, ccc_log_job(job->id),
            ccc_log_count(CCC_F_ATTEMPT, job->attempt),
            ccc_log_size(CCC_F_BYTES_IN, job->payload.size), ccc_log_count(CCC_F_COUNT, r->index),
            CCC_LOG_END);

    ccc_buf req;
    ccc_buf_init(&req, CCC_FRAME_MAX_BODY_SIZE);
    ccc_status st = ccc_host_job_request_encode(job->id, ccc_buf_bytes(&job->payload), &req);
    if (st == CCC_OK)
        st = ccc_frame_write(fd, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&req));
    ccc_buf_wipe(&req);
    if (st != CCC_OK) {
        fail_job(r, job, CCC_ERR_IO);
        return CCC_ERR_IO;
    }

    /* Wait for the answer; at stop, at most stop_grace_ms more. */
    uint64_t deadline = ccc_now_ns() + (uint64_t)h->job_timeout_ms * 1000000u;
    int w;
    for (;;) {
        w = wait_readable(r, fd, deadline, true);
        if (w >= 0)
            break;
        uint64_t grace = ccc_now_ns() + (uint64_t)h->stop_grace_ms * 1000000u;
        if (grace < deadline)
            deadline = grace;
        w = wait_readable(r, fd, deadline, false);
        break;
    }
    if (w == 0) {
        fail_job(r, job, CCC_ERR_IO); /* timed out (or stopping): requeue */
        return CCC_ERR_IO;
    }
    ccc_frame_type type;
    st = ccc_frame_read(fd, &type, frame);
    if (st != CCC_OK) {
        fail_job(r, job, CCC_ERR_IO); /* the enclave went away mid-job */
        return CCC_ERR_IO;
    }
    if (type == CCC_FRAME_JOB_RESULT) {
        st = ccc_host_job_result_decode(ccc_buf_bytes(frame), job->id, &rec.receipt, &rec.response);
        if (st != CCC_OK) {
            fail_job(r, job, CCC_ERR_IO);
            return CCC_ERR_PARSE;
        }
        pthread_mutex_lock(&h->lock);
        ccc_buf doc;
        ccc_buf_init(&doc, r->doc.max_size);
        ccc_status cst = ccc_buf_append_bytes(&doc, ccc_buf_bytes(&r->doc));
        pthread_mutex_unlock(&h->lock);
        if (cst == CCC_OK) {
            rec.attestation = ccc_buf_bytes(&doc);
            store_result(r, job, &rec);
        } else {
            fail_job(r, job, CCC_ERR_INTERNAL);
        }
        ccc_buf_wipe(&doc);
        return CCC_OK;
    }
    if (type == CCC_FRAME_JOB_ERROR) {
        ccc_status cls = CCC_ERR_INTERNAL;
        st = ccc_host_job_error_decode(ccc_buf_bytes(frame), job->id, &cls);
        if (st != CCC_OK) {
            fail_job(r, job, CCC_ERR_IO);
            return CCC_ERR_PARSE;
        }
        if (ccc_host_class_is_permanent(cls)) {
            rec.error = cls;
            store_result(r, job, &rec);
            return CCC_OK;
        }
        /* busy / io / internal: the queue retries; start afresh. */
        fail_job(r, job, cls);
        return cls;
    }
    fail_job(r, job, CCC_ERR_IO);
    return CCC_ERR_PARSE;
}

/* Connected and ready: one job at a time until the connection breaks. */
static void serve_jobs(host_relay *r, int fd, ccc_buf *frame)
{
    ccc_queue_job job;
    ccc_queue_job_init(&job);
    while (!stopping(r)) {
        /* Idle: the enclave must not speak; readable means it closed. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) != 0)
            break;
        bool claimed = false;
        ccc_status st = claim(r, &job, &claimed);
        if (st != CCC_OK) {
            ccc_log_error_status(CCC_EV_ERROR, st);
            sleep_ms(1000); /* the queue is down (Redis restarting): once a second */
            continue;
        }
        if (!claimed)
            continue;
        st = run_job(r, fd, &job, frame);
        ccc_queue_job_wipe(&job);
        ccc_queue_job_init(&job);
        if (st != CCC_OK)
            break;
    }
    ccc_queue_job_wipe(&job);
}

void *host_relay_main(void *arg)
{
    host_relay *r = arg;
    ccc_host *h = r->host;
    ccc_buf frame;
    ccc_buf_init(&frame, RELAY_FRAME_CAP);
    while (!stopping(r)) {
        int fd = connect_enclave(r);
        if (fd < 0)
            break;
        ccc_status st = startup(r, fd, &frame);
        if (st == CCC_OK)
            serve_jobs(r, fd, &frame);
        else if (st != CCC_ERR_BUSY)
            ccc_log(CCC_LOG_WARN, CCC_EV_ERROR, ccc_log_status(st),
                    ccc_log_count(CCC_F_COUNT, r->index), CCC_LOG_END);
        pthread_mutex_lock(&h->lock);
        r->ready = false;
        pthread_mutex_unlock(&h->lock);
        close(fd);
        ccc_buf_reset(&frame);
        if (!stopping(r))
            sleep_ms(250);
    }
    ccc_buf_wipe(&frame);
    return NULL;
}
