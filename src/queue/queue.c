/* queue front end: URL -> backend, argument checks, clock, tokens, logging. */
#include "queue/queue_impl.h"

#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "log/log.h"

/* Backends by URL scheme; a bare path (no "://") is SQLite. */
static const struct {
    const char *prefix;
    const ccc_queue_class *cls;
} backends[] = {
    {"sqlite://", &ccc_queue_sqlite_class},
    {"redis://", &ccc_queue_redis_class},
};

const char *ccc_job_state_name(ccc_job_state s)
{
    switch (s) {
    case CCC_JOB_QUEUED:
        return "queued";
    case CCC_JOB_PROCESSING:
        return "processing";
    case CCC_JOB_DONE:
        return "done";
    case CCC_JOB_DEAD:
        return "dead";
    case CCC_JOB_UNKNOWN:
        break;
    }
    return "unknown";
}

bool ccc_queue_name_ok(const char *s, size_t max)
{
    if (s == NULL)
        return false;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= max)
            return false;
    }
    return n > 0;
}

static bool token_ok(const char *t)
{
    if (t == NULL || strlen(t) != CCC_QUEUE_TOKEN_SIZE)
        return false;
    for (size_t i = 0; i < CCC_QUEUE_TOKEN_SIZE; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return false;
    return true;
}

static ccc_status new_token(char out[static CCC_QUEUE_TOKEN_SIZE + 1])
{
    uint8_t raw[CCC_QUEUE_TOKEN_SIZE / 2];
    CCC_ENSURE(RAND_bytes(raw, sizeof raw) == 1, CCC_ERR_INTERNAL, "random token failed");
    ccc_hex_encode(raw, sizeof raw, out);
    return CCC_OK;
}

uint64_t ccc_queue_backoff_ms(const ccc_queue_opts *o, uint32_t attempt)
{
    if (attempt > CCC_QUEUE_MAX_ATTEMPTS_LIMIT)
        attempt = CCC_QUEUE_MAX_ATTEMPTS_LIMIT;
    return (uint64_t)o->backoff_unit_ms << attempt;
}

void ccc_queue_log_dead(const char *id, uint32_t attempt, ccc_status error)
{
    ccc_log(CCC_LOG_WARN, CCC_EV_JOB_DEAD_LETTER, ccc_log_job(id),
            ccc_log_count(CCC_F_ATTEMPT, attempt), ccc_log_status(error), CCC_LOG_END);
}

static ccc_status fill_opts(const ccc_queue_opts *in, ccc_queue_opts *o, char name_buf[65])
{
    ccc_queue_opts d = {0};
    if (in != NULL)
        d = *in;
#define DEF(field, v)                                                                              \
    if (d.field == 0)                                                                              \
        d.field = (v);
    DEF(visibility_timeout_ms, CCC_QUEUE_DEFAULT_VISIBILITY_MS)
    DEF(max_attempts, CCC_QUEUE_DEFAULT_MAX_ATTEMPTS)
    DEF(backoff_unit_ms, CCC_QUEUE_DEFAULT_BACKOFF_UNIT_MS)
    DEF(result_ttl_ms, CCC_QUEUE_DEFAULT_RESULT_TTL_MS)
    DEF(max_payload_size, CCC_QUEUE_DEFAULT_MAX_PAYLOAD_SIZE)
    DEF(max_result_size, CCC_QUEUE_DEFAULT_MAX_RESULT_SIZE)
    DEF(max_meta_size, CCC_QUEUE_DEFAULT_MAX_META_SIZE)
    DEF(io_timeout_ms, CCC_QUEUE_DEFAULT_IO_TIMEOUT_MS)
#undef DEF
    CCC_ENSURE(d.max_attempts <= CCC_QUEUE_MAX_ATTEMPTS_LIMIT, CCC_ERR_USAGE,
               "max_attempts above limit");
    /* Sizes go through 32-bit-safe paths in both backends. */
    CCC_ENSURE(d.max_payload_size <= ((size_t)1 << 30) && d.max_result_size <= ((size_t)1 << 30) &&
                   d.max_meta_size <= ((size_t)1 << 20),
               CCC_ERR_USAGE, "size cap too large");
    const char *name = d.name ? d.name : "q";
    CCC_ENSURE(ccc_queue_name_ok(name, 64), CCC_ERR_USAGE, "bad queue name");
    memcpy(name_buf, name, strlen(name) + 1);
    d.name = name_buf;
    *o = d;
    return CCC_OK;
}

ccc_status ccc_queue_open(const char *url, const ccc_queue_opts *opts, ccc_queue **out)
{
    CCC_ENSURE(out != NULL, CCC_ERR_USAGE, "no output");
    *out = NULL;
    CCC_ENSURE(url != NULL && url[0] != '\0', CCC_ERR_USAGE, "empty queue URL");
    char name_buf[65];
    ccc_queue_opts o;
    CCC_GUARD(fill_opts(opts, &o, name_buf));

    const ccc_queue_class *cls = NULL;
    const char *target = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        size_t n = strlen(backends[i].prefix);
        if (strncmp(url, backends[i].prefix, n) == 0) {
            cls = backends[i].cls;
            target = url + n;
        }
    }
    if (cls == NULL) {
        CCC_ENSURE(strstr(url, "://") == NULL, CCC_ERR_UNSUPPORTED,
                   "unknown queue URL scheme (sqlite:// or redis://)");
        cls = &ccc_queue_sqlite_class;
        target = url;
    }
    CCC_ENSURE(target[0] != '\0', CCC_ERR_USAGE, "queue URL has nothing after the scheme");
    ccc_queue *q = NULL;
    CCC_GUARD(cls->open(target, &o, &q));
    q->vtable = cls;
    q->opts = o;
    memcpy(q->name_buf, name_buf, sizeof q->name_buf);
    q->opts.name = q->name_buf;
    *out = q;
    return CCC_OK;
}

void ccc_queue_free(ccc_queue *q)
{
    if (q != NULL)
        q->vtable->free(q);
}

const char *ccc_queue_backend_name(const ccc_queue *q) { return q ? q->vtable->name : "none"; }

void ccc_queue_job_init(ccc_queue_job *job)
{
    memset(job->id, 0, sizeof job->id);
    memset(job->token, 0, sizeof job->token);
    job->attempt = 0;
    job->enqueued_ms = 0;
    ccc_buf_init(&job->payload, CCC_QUEUE_DEFAULT_MAX_PAYLOAD_SIZE);
    ccc_buf_init(&job->meta, CCC_QUEUE_DEFAULT_MAX_META_SIZE);
}

void ccc_queue_job_wipe(ccc_queue_job *job)
{
    ccc_buf_wipe(&job->payload);
    ccc_buf_wipe(&job->meta);
    memset(job->id, 0, sizeof job->id);
    ccc_wipe(job->token, sizeof job->token);
    job->attempt = 0;
    job->enqueued_ms = 0;
}

#define CHECK_ID(id)                                                                               \
    CCC_ENSURE(ccc_queue_name_ok((id), CCC_QUEUE_ID_MAX), CCC_ERR_USAGE, "bad job id")

ccc_status ccc_queue_enqueue(ccc_queue *q, const char *job_id, ccc_bytes payload, ccc_bytes meta,
                             ccc_job_state *state)
{
    CCC_ENSURE(q != NULL, CCC_ERR_USAGE, "no queue");
    CHECK_ID(job_id);
    CCC_ENSURE(payload.ptr != NULL || payload.size == 0, CCC_ERR_USAGE, "no payload");
    CCC_ENSURE(meta.ptr != NULL || meta.size == 0, CCC_ERR_USAGE, "no meta");
    CCC_ENSURE(payload.size <= q->opts.max_payload_size, CCC_ERR_LIMIT, "payload too large");
    CCC_ENSURE(meta.size <= q->opts.max_meta_size, CCC_ERR_LIMIT, "job metadata too large");
    char etok[CCC_QUEUE_TOKEN_SIZE + 1];
    CCC_GUARD(new_token(etok));
    bool dup = false;
    ccc_job_state s = CCC_JOB_UNKNOWN;
    CCC_GUARD(q->vtable->enqueue(q, job_id, payload, meta, etok, ccc_wall_ms(), &dup, &s));
    if (state != NULL)
        *state = s;
    if (dup) {
        ccc_log(CCC_LOG_INFO, CCC_EV_JOB_ACCEPTED, ccc_log_job(job_id),
                ccc_log_status(CCC_ERR_REPLAY), CCC_LOG_END);
        CCC_BAIL(CCC_ERR_REPLAY, "duplicate job id");
    }
    ccc_log(CCC_LOG_DEBUG, CCC_EV_JOB_ACCEPTED, ccc_log_job(job_id),
            ccc_log_size(CCC_F_BYTES_IN, payload.size), CCC_LOG_END);
    return CCC_OK;
}

ccc_status ccc_queue_claim(ccc_queue *q, const char *worker_id, ccc_queue_job *job, bool *claimed)
{
    CCC_ENSURE(q != NULL && job != NULL && claimed != NULL, CCC_ERR_USAGE, "no queue or job");
    *claimed = false;
    CCC_ENSURE(ccc_queue_name_ok(worker_id, CCC_QUEUE_WORKER_MAX), CCC_ERR_USAGE, "bad worker id");
    char token[CCC_QUEUE_TOKEN_SIZE + 1];
    CCC_GUARD(new_token(token));
    ccc_queue_job_wipe(job);
    /* The job's buffers take this queue's caps. */
    job->payload.max_size = q->opts.max_payload_size;
    job->meta.max_size = q->opts.max_meta_size;
    ccc_status st = q->vtable->claim(q, worker_id, token, ccc_wall_ms(), job, claimed);
    if (st != CCC_OK || !*claimed) {
        ccc_queue_job_wipe(job);
        *claimed = false;
        return st;
    }
    /* A later attempt means a retry or a worker that died: worth INFO. */
    ccc_log(job->attempt > 1 ? CCC_LOG_INFO : CCC_LOG_DEBUG, CCC_EV_JOB_CLAIMED,
            ccc_log_job(job->id), ccc_log_count(CCC_F_ATTEMPT, job->attempt),
            ccc_log_size(CCC_F_BYTES_IN, job->payload.size), CCC_LOG_END);
    return CCC_OK;
}

static ccc_status outcome_status(ccc_queue_outcome oc)
{
    switch (oc) {
    case CCC_QO_APPLIED:
    case CCC_QO_REPEATED:
        return CCC_OK;
    case CCC_QO_STALE:
        CCC_BAIL(CCC_ERR_REPLAY, "stale claim token");
    case CCC_QO_UNKNOWN:
        break;
    }
    CCC_BAIL(CCC_ERR_NOT_FOUND, "no such job");
}

ccc_status ccc_queue_complete(ccc_queue *q, const char *job_id, const char *token, ccc_bytes result)
{
    CCC_ENSURE(q != NULL, CCC_ERR_USAGE, "no queue");
    CHECK_ID(job_id);
    CCC_ENSURE(token_ok(token), CCC_ERR_USAGE, "bad claim token");
    CCC_ENSURE(result.ptr != NULL || result.size == 0, CCC_ERR_USAGE, "no result");
    CCC_ENSURE(result.size <= q->opts.max_result_size, CCC_ERR_LIMIT, "result too large");
    ccc_queue_outcome oc = CCC_QO_UNKNOWN;
    uint32_t attempt = 0;
    CCC_GUARD(q->vtable->complete(q, job_id, token, result, ccc_wall_ms(), &oc, &attempt));
    if (oc == CCC_QO_APPLIED)
        ccc_log(CCC_LOG_DEBUG, CCC_EV_JOB_DONE, ccc_log_job(job_id),
                ccc_log_count(CCC_F_ATTEMPT, attempt), ccc_log_size(CCC_F_BYTES_OUT, result.size),
                CCC_LOG_END);
    else if (oc == CCC_QO_STALE)
        ccc_log(CCC_LOG_WARN, CCC_EV_JOB_DONE, ccc_log_job(job_id), ccc_log_status(CCC_ERR_REPLAY),
                CCC_LOG_END);
    return outcome_status(oc);
}

ccc_status ccc_queue_fail(ccc_queue *q, const char *job_id, const char *token, ccc_status error,
                          ccc_job_state *state)
{
    CCC_ENSURE(q != NULL, CCC_ERR_USAGE, "no queue");
    CHECK_ID(job_id);
    CCC_ENSURE(token_ok(token), CCC_ERR_USAGE, "bad claim token");
    CCC_ENSURE(error > CCC_OK && error < CCC_STATUS_COUNT, CCC_ERR_USAGE, "bad error class");
    ccc_queue_outcome oc = CCC_QO_UNKNOWN;
    ccc_job_state s = CCC_JOB_UNKNOWN;
    uint32_t attempt = 0;
    CCC_GUARD(q->vtable->fail(q, job_id, token, error, ccc_wall_ms(), &oc, &s, &attempt));
    if (state != NULL)
        *state = s;
    if (oc == CCC_QO_APPLIED) {
        if (s == CCC_JOB_DEAD)
            ccc_queue_log_dead(job_id, attempt, error);
        else
            ccc_log(CCC_LOG_INFO, CCC_EV_JOB_FAILED, ccc_log_job(job_id),
                    ccc_log_count(CCC_F_ATTEMPT, attempt), ccc_log_status(error), CCC_LOG_END);
    }
    return outcome_status(oc);
}

ccc_status ccc_queue_status(ccc_queue *q, const char *job_id, ccc_queue_info *info)
{
    CCC_ENSURE(q != NULL && info != NULL, CCC_ERR_USAGE, "no queue or info");
    memset(info, 0, sizeof *info);
    CHECK_ID(job_id);
    return q->vtable->status(q, job_id, ccc_wall_ms(), info, NULL, false);
}

ccc_status ccc_queue_meta_get(ccc_queue *q, const char *job_id, ccc_buf *out)
{
    CCC_ENSURE(q != NULL && out != NULL, CCC_ERR_USAGE, "no queue or output");
    CHECK_ID(job_id);
    return q->vtable->meta(q, job_id, out);
}

ccc_status ccc_queue_fetch_result(ccc_queue *q, const char *job_id, bool delete_after_fetch,
                                  ccc_buf *out, ccc_queue_info *info)
{
    CCC_ENSURE(q != NULL && out != NULL, CCC_ERR_USAGE, "no queue or output");
    ccc_queue_info local;
    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof *info);
    CHECK_ID(job_id);
    CCC_GUARD(q->vtable->status(q, job_id, ccc_wall_ms(), info, out, delete_after_fetch));
    switch (info->state) {
    case CCC_JOB_UNKNOWN:
        CCC_BAIL(CCC_ERR_NOT_FOUND, "no such job");
    case CCC_JOB_QUEUED:
    case CCC_JOB_PROCESSING:
        CCC_BAIL(CCC_ERR_BUSY, "job not done yet");
    case CCC_JOB_DEAD:
        CCC_BAIL(CCC_ERR_NOT_FOUND, "job is a dead letter");
    case CCC_JOB_DONE:
        break;
    }
    CCC_ENSURE(info->result_available, CCC_ERR_NOT_FOUND, "result already fetched");
    if (delete_after_fetch)
        info->result_available = false;
    return CCC_OK;
}

ccc_status ccc_queue_expire(ccc_queue *q, uint64_t *removed)
{
    CCC_ENSURE(q != NULL, CCC_ERR_USAGE, "no queue");
    uint64_t n = 0;
    CCC_GUARD(q->vtable->expire(q, ccc_wall_ms(), &n));
    if (removed != NULL)
        *removed = n;
    return CCC_OK;
}

ccc_status ccc_queue_metrics_get(ccc_queue *q, ccc_queue_metrics *m)
{
    CCC_ENSURE(q != NULL && m != NULL, CCC_ERR_USAGE, "no queue or metrics");
    memset(m, 0, sizeof *m);
    return q->vtable->metrics(q, ccc_wall_ms(), m);
}
