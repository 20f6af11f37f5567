/* host: the HTTP API of docs/protocol.md §11 on libmicrohttpd (internal
 * polling thread, one thread per connection). One table of routes; every
 * request is logged once, when it completes (method, route, status, sizes,
 * client, duration, job id) — never a body, never a query value. */
#include "host/host_internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log/log.h"

#define KMS_CONFIG_CAP (64u * 1024u)
#define STATIC_FILE_CAP ((off_t)16 << 20)

typedef struct http_req {
    ccc_host *host;
    ccc_host_route route;
    char id[CCC_QUEUE_ID_MAX + 1];
    char name[256];
    const char *method; /* "GET", "POST", "HEAD" or "other" (log identifier) */
    uint64_t t0_ns;
    ccc_buf body;
    bool over;         /* the body went over the cap while reading */
    bool over_budget;  /* all uploads together went over the host's budget */
    uint64_t seen;     /* body bytes received */
    uint64_t reserved; /* bytes of host->body_inflight this request holds */
    bool responded;
    int status;
    size_t bytes_out;
    char client[48];
} http_req;

/* ------------------------------------------------------------------------ */
/* Responses                                                                 */
/* ------------------------------------------------------------------------ */

/* A response is queued: count it now (a client that reads the answer and
 * asks /metrics at once sees it; completion may come later). */
static void responded(http_req *rq, int status, size_t size)
{
    rq->responded = true;
    rq->status = status;
    rq->bytes_out = size;
    host_metrics_http(rq->host, rq->route, status, (double)(ccc_now_ns() - rq->t0_ns) / 1e9);
}

typedef struct header_kv {
    const char *name, *value;
} header_kv;

static enum MHD_Result respond(struct MHD_Connection *c, http_req *rq, int status,
                               const char *ctype, const void *data, size_t size,
                               const header_kv *extra, size_t extra_count)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < extra_count; i++)
        MHD_add_response_header(resp, extra[i].name, extra[i].value);
    enum MHD_Result r = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (r == MHD_YES)
        responded(rq, status, size);
    return r;
}

static enum MHD_Result respond_json(struct MHD_Connection *c, http_req *rq, int status, json_t *j,
                                    const header_kv *extra, size_t extra_count)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return MHD_NO;
    enum MHD_Result r =
        respond(c, rq, status, "application/json", text, strlen(text), extra, extra_count);
    free(text);
    return r;
}

/* §11: {"error":"<class>","message":"<fixed text>"}, the class's status. */
static enum MHD_Result respond_error_h(struct MHD_Connection *c, http_req *rq, ccc_status st,
                                       const char *literal, const header_kv *extra, size_t n)
{
    json_t *j = json_pack("{s:s,s:s}", "error", ccc_status_name(st), "message", literal);
    return respond_json(c, rq, ccc_status_http_status(st), j, extra, n);
}

static enum MHD_Result respond_error(struct MHD_Connection *c, http_req *rq, ccc_status st,
                                     const char *literal)
{
    return respond_error_h(c, rq, st, literal, NULL, 0);
}

/* Standard base64 with padding (RFC 4648 §4) as a jansson string. */
static json_t *b64(ccc_bytes in)
{
    size_t n = 4 * ((in.size + 2) / 3) + 1;
    unsigned char *out = malloc(n);
    if (!out)
        return NULL;
    EVP_EncodeBlock(out, in.ptr ? in.ptr : (const unsigned char *)"", (int)in.size);
    json_t *s = json_string((const char *)out);
    free(out);
    return s;
}

/* ------------------------------------------------------------------------ */
/* GET /v1/config                                                            */
/* ------------------------------------------------------------------------ */

static ccc_status read_kms_config(ccc_host *h, ccc_buf *out)
{
    ccc_buf_init(out, KMS_CONFIG_CAP);
    return ccc_file_read(h->kms_config_path, out);
}

static enum MHD_Result get_config(ccc_host *h, struct MHD_Connection *c, http_req *rq)
{
    ccc_buf cfg;
    if (read_kms_config(h, &cfg) != CCC_OK) {
        ccc_buf_wipe(&cfg);
        return respond_error(c, rq, CCC_ERR_IO, "key configuration unavailable");
    }
    json_t *att = json_array();
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->relay_count; i++)
        if (h->relays[i].ready)
            json_array_append_new(att, b64(ccc_buf_bytes(&h->relays[i].doc)));
    pthread_mutex_unlock(&h->lock);
    json_t *j = json_pack("{s:i,s:o,s:o,s:o}", "v", 1, "kms_config", b64(ccc_buf_bytes(&cfg)),
                          "policy", b64(ccc_buf_bytes(&h->policy)), "attestations", att);
    ccc_buf_wipe(&cfg);
    return respond_json(c, rq, 200, j, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* GET /v1/jobs/{id}                                                         */
/* ------------------------------------------------------------------------ */

static json_t *status_json(const char *id, const ccc_queue_info *info)
{
    const char *s = info->state == CCC_JOB_PROCESSING ? "processing" : "queued";
    return json_pack("{s:s,s:s,s:I}", "id", id, "status", s, "attempt", (json_int_t)info->attempt);
}

/* §11 failed: {"id","status":"failed","error"}, plus "attempt" (claims so far). */
static enum MHD_Result failed_answer(struct MHD_Connection *c, http_req *rq, const char *id,
                                     ccc_status cls, uint32_t attempt, bool as_200)
{
    if (cls == CCC_OK)
        cls = CCC_ERR_INTERNAL;
    json_t *j = json_pack("{s:s,s:s,s:s,s:I}", "id", id, "status", "failed", "error",
                          ccc_status_name(cls), "attempt", (json_int_t)attempt);
    return respond_json(c, rq, as_200 ? 200 : ccc_status_http_status(cls), j, NULL, 0);
}

/* A job's state and, when done and still there, its result record (appended
 * to `result`, whose cap is the queue's). One queue call pair, one lock. */
static ccc_status lookup_job(ccc_host *h, const char *id, bool delete_after, ccc_queue_info *info,
                             ccc_buf *result)
{
    memset(info, 0, sizeof *info);
    ccc_buf_init(result, CCC_QUEUE_DEFAULT_MAX_RESULT_SIZE);
    pthread_mutex_lock(&h->queue_lock);
    ccc_status st = ccc_queue_status(h->queue, id, info);
    if (st == CCC_OK && info->state == CCC_JOB_DONE && info->result_available)
        st = ccc_queue_fetch_result(h->queue, id, delete_after, result, info);
    pthread_mutex_unlock(&h->queue_lock);
    return st;
}

/* Wait until a result is stored after `seq`, the host stops, or the wall
 * clock reaches deadline_ms. */
static void wait_for_result(ccc_host *h, uint64_t seq, uint64_t deadline_ms)
{
    pthread_mutex_lock(&h->queue_lock);
    while (h->done_seq == seq && !atomic_load(&h->draining)) {
        uint64_t now = ccc_wall_ms();
        if (now >= deadline_ms)
            break;
        struct timespec ts = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
        pthread_cond_timedwait(&h->done, &h->queue_lock, &ts);
    }
    pthread_mutex_unlock(&h->queue_lock);
}

/* ?wait=MS (0..CCC_HOST_MAX_WAIT_MS): a long poll. Anything else is 0. */
static uint64_t wait_ms_arg(struct MHD_Connection *c)
{
    const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
    if (!w || !*w || strlen(w) > 6)
        return 0;
    uint64_t v = 0;
    for (const char *p = w; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v > CCC_HOST_MAX_WAIT_MS ? CCC_HOST_MAX_WAIT_MS : v;
}

static enum MHD_Result get_job(ccc_host *h, struct MHD_Connection *c, http_req *rq)
{
    const char *del = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "delete");
    bool delete_after = del && strcmp(del, "1") == 0;
    uint64_t wait = wait_ms_arg(c), deadline = ccc_wall_ms() + wait;
    ccc_queue_info info;
    ccc_buf result;
    ccc_status st;
    for (;;) {
        /* The sequence is read before the lookup: a result stored after
         * the lookup changes it, so the wait below cannot miss it. */
        pthread_mutex_lock(&h->queue_lock);
        uint64_t seq = h->done_seq;
        pthread_mutex_unlock(&h->queue_lock);
        st = lookup_job(h, rq->id, delete_after, &info, &result);
        bool waiting = st == CCC_OK &&
                       (info.state == CCC_JOB_QUEUED || info.state == CCC_JOB_PROCESSING);
        if (!waiting || wait == 0 || ccc_wall_ms() >= deadline || atomic_load(&h->draining))
            break;
        ccc_buf_wipe(&result);
        wait_for_result(h, seq, deadline);
    }

    enum MHD_Result r;
    bool gone = info.state == CCC_JOB_UNKNOWN || (info.state == CCC_JOB_DONE && result.size == 0);
    /* an id the queue refuses (outside [A-Za-z0-9._:-]) cannot exist either */
    if (st == CCC_ERR_NOT_FOUND || st == CCC_ERR_USAGE || (st == CCC_OK && gone)) {
        r = respond_error(c, rq, CCC_ERR_NOT_FOUND, "unknown job");
    } else if (st != CCC_OK) {
        r = respond_error(c, rq, CCC_ERR_IO, "queue unavailable");
    } else if (info.state == CCC_JOB_QUEUED || info.state == CCC_JOB_PROCESSING) {
        r = respond_json(c, rq, 200, status_json(rq->id, &info), NULL, 0);
    } else if (info.state == CCC_JOB_DEAD) {
        r = failed_answer(c, rq, rq->id, info.error, info.attempt, false);
    } else {
        ccc_host_record rec;
        if (ccc_host_record_decode(ccc_buf_bytes(&result), &rec) != CCC_OK) {
            r = respond_error(c, rq, CCC_ERR_INTERNAL, "stored result unreadable");
        } else if (rec.error != CCC_OK) {
            r = failed_answer(c, rq, rq->id, rec.error, info.attempt, false);
        } else {
            /* §11 done, plus "attempt": the claim that produced it */
            json_t *j =
                json_pack("{s:s,s:s,s:o,s:o,s:o,s:I}", "id", rq->id, "status", "done", "response",
                          b64(rec.response), "receipt", b64(rec.receipt), "attestation",
                          b64(rec.attestation), "attempt", (json_int_t)info.attempt);
            r = respond_json(c, rq, 200, j, NULL, 0);
        }
    }
    ccc_buf_wipe(&result);
    return r;
}

/* ------------------------------------------------------------------------ */
/* POST /v1/jobs                                                             */
/* ------------------------------------------------------------------------ */

static enum MHD_Result header_len_check(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    (void)key;
    bool *too_long = cls;
    if (value && strlen(value) > CCC_HOST_MAX_HEADER_VALUE) {
        *too_long = true;
        return MHD_NO;
    }
    return MHD_YES;
}

static bool queue_id_chars_ok(const char *id)
{
    for (const char *p = id; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool rate_take(ccc_host *h, const char *client, uint64_t *retry_after)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = client; *p; p++)
        hash = (hash ^ (uint8_t)*p) * 1099511628211ull;
    pthread_mutex_lock(&h->lock);
    host_rate_slot *slot = NULL, *oldest = NULL;
    for (size_t k = 0; k < 8 && !slot; k++) {
        host_rate_slot *s = &h->rate[(hash + k) % HOST_RATE_SLOTS];
        if (s->bucket.used && strcmp(s->client, client) == 0)
            slot = s;
        else if (!oldest || !s->bucket.used ||
                 (oldest->bucket.used && s->bucket.last_ms < oldest->bucket.last_ms))
            oldest = oldest && !oldest->bucket.used ? oldest : s;
    }
    if (!slot) {
        slot = oldest;
        memset(slot, 0, sizeof *slot);
        snprintf(slot->client, sizeof slot->client, "%s", client);
    }
    bool ok = ccc_host_bucket_take(&slot->bucket, h->rate_per_minute, ccc_wall_ms(), retry_after);
    pthread_mutex_unlock(&h->lock);
    return ok;
}

/* Reserve `size` more bytes of the host's upload budget for this request. */
static bool reserve(ccc_host *h, http_req *rq, uint64_t size)
{
    uint64_t now = atomic_fetch_add(&h->body_inflight, size) + size;
    if (now > h->body_budget) {
        atomic_fetch_sub(&h->body_inflight, size);
        return false;
    }
    rq->reserved += size;
    return true;
}

/* The metadata checks of §11, in the table's order, before any body byte. */
static enum MHD_Result post_precheck(ccc_host *h, struct MHD_Connection *c, http_req *rq,
                                     bool *refused)
{
    *refused = true;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char want[] = "message/ohttp-req";
    if (!ct || strncasecmp(ct, want, sizeof want - 1) != 0 ||
        (ct[sizeof want - 1] != '\0' && ct[sizeof want - 1] != ';'))
        return respond_error(c, rq, CCC_ERR_UNSUPPORTED, "content type must be message/ohttp-req");
    bool too_long = false;
    MHD_get_connection_values(c, MHD_HEADER_KIND, header_len_check, &too_long);
    if (too_long)
        return respond_error(c, rq, CCC_ERR_USAGE, "header value too long");
    const char *jid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "CCC-Job-Id");
    if (jid) {
        if (ccc_host_job_id_check(jid, strlen(jid)) != CCC_OK || !queue_id_chars_ok(jid))
            return respond_error(c, rq, CCC_ERR_USAGE, "bad job id");
        snprintf(rq->id, sizeof rq->id, "%s", jid);
    }
    uint64_t retry = 0;
    if (!rate_take(h, rq->client, &retry)) {
        char v[24];
        snprintf(v, sizeof v, "%llu", (unsigned long long)retry);
        header_kv hk = {MHD_HTTP_HEADER_RETRY_AFTER, v};
        ccc_log(CCC_LOG_WARN, CCC_EV_RATE_LIMITED, ccc_log_id(CCC_F_CLIENT, rq->client),
                ccc_log_count(CCC_F_COUNT, retry), CCC_LOG_END);
        return respond_error_h(c, rq, CCC_ERR_BUSY, "rate limit", &hk, 1);
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end == cl || *end != '\0' || n > h->max_body)
            return respond_error(c, rq, CCC_ERR_LIMIT, "body too large");
        if (!reserve(h, rq, n)) {
            header_kv hk = {MHD_HTTP_HEADER_RETRY_AFTER, "1"};
            return respond_error_h(c, rq, CCC_ERR_BUSY, "too many uploads in progress", &hk, 1);
        }
    }
    *refused = false;
    return MHD_YES;
}

static enum MHD_Result post_status_answer(ccc_host *h, struct MHD_Connection *c, http_req *rq,
                                          ccc_bytes body, const uint8_t sha[32])
{
    /* §11: "the same id with the same body (SHA-256 compared) → 200 with the
     * job's current status; with another body → 409 replay". */
    ccc_queue_info info;
    ccc_buf result;
    ccc_status st = lookup_job(h, rq->id, false, &info, &result);
    uint8_t known[32];
    bool have_hash = host_dedup_lookup(h, rq->id, known);
    ccc_host_record rec;
    bool have_rec = st == CCC_OK && result.size > 0 &&
                    ccc_host_record_decode(ccc_buf_bytes(&result), &rec) == CCC_OK;
    if (!have_hash && have_rec) {
        memcpy(known, rec.body_sha256, 32);
        have_hash = true;
    }
    if (!have_hash && (info.state == CCC_JOB_QUEUED || info.state == CCC_JOB_PROCESSING)) {
        /* Accepted before a restart, or by another host: the queue's meta
         * is the body's SHA-256. */
        ccc_buf meta;
        ccc_buf_init(&meta, 64);
        pthread_mutex_lock(&h->queue_lock);
        ccc_status ms = ccc_queue_meta_get(h->queue, rq->id, &meta);
        pthread_mutex_unlock(&h->queue_lock);
        if (ms == CCC_OK && meta.size == 32) {
            memcpy(known, meta.data, 32);
            have_hash = true;
        }
        ccc_buf_wipe(&meta);
    }
    /* Only a dead letter keeps neither (its payload and meta are gone): the
     * size is all that is left to compare. */
    bool same = have_hash ? memcmp(known, sha, 32) == 0 : info.payload_size == body.size;
    enum MHD_Result r;
    if (st != CCC_OK && st != CCC_ERR_NOT_FOUND)
        r = respond_error(c, rq, CCC_ERR_IO, "queue unavailable");
    else if (!same)
        r = respond_error(c, rq, CCC_ERR_REPLAY, "job id already used with another body");
    else if (info.state == CCC_JOB_DONE)
        r = have_rec && rec.error != CCC_OK
                ? failed_answer(c, rq, rq->id, rec.error, info.attempt, true)
                : respond_json(c, rq, 200, json_pack("{s:s,s:s}", "id", rq->id, "status", "done"),
                               NULL, 0);
    else if (info.state == CCC_JOB_DEAD)
        r = failed_answer(c, rq, rq->id, info.error, info.attempt, true);
    else if (info.state == CCC_JOB_UNKNOWN)
        r = respond_error(c, rq, CCC_ERR_BUSY, "job expired meanwhile, retry");
    else
        r = respond_json(c, rq, 200, status_json(rq->id, &info), NULL, 0);
    ccc_buf_wipe(&result);
    return r;
}

static enum MHD_Result post_job(ccc_host *h, struct MHD_Connection *c, http_req *rq)
{
    if (rq->over)
        return respond_error(c, rq, CCC_ERR_LIMIT, "body too large");
    if (rq->over_budget) {
        header_kv hk = {MHD_HTTP_HEADER_RETRY_AFTER, "1"};
        return respond_error_h(c, rq, CCC_ERR_BUSY, "too many uploads in progress", &hk, 1);
    }
    ccc_bytes body = ccc_buf_bytes(&rq->body);
    ccc_buf cfgbuf;
    ccc_ohttp_key_config cfgs[CCC_HOST_MAX_KEY_CONFIGS];
    size_t n = 0;
    ccc_status st = read_kms_config(h, &cfgbuf);
    if (st == CCC_OK)
        st = ccc_host_kms_config_parse(ccc_buf_bytes(&cfgbuf), cfgs, CCC_HOST_MAX_KEY_CONFIGS, &n);
    ccc_buf_wipe(&cfgbuf);
    if (st != CCC_OK)
        return respond_error(c, rq, CCC_ERR_IO, "key configuration unavailable");
    st = ccc_host_job_body_check(body, cfgs, n, NULL);
    if (st == CCC_ERR_NOT_FOUND)
        return respond_error(c, rq, st, "unknown key id");
    if (st == CCC_ERR_UNSUPPORTED)
        return respond_error(c, rq, st, "suite not offered by the key configuration");
    if (st != CCC_OK)
        return respond_error(c, rq, CCC_ERR_PARSE, "malformed OHTTP request");

    if (rq->id[0] == '\0') {
        /* §11: "32 hex digits from 16 random bytes" */
        uint8_t rnd[16];
        if (RAND_bytes(rnd, sizeof rnd) != 1)
            return respond_error(c, rq, CCC_ERR_INTERNAL, "no randomness");
        ccc_hex_encode(rnd, sizeof rnd, rq->id);
    }
    uint8_t sha[32];
    if (ccc_sha256(body, sha) != CCC_OK)
        return respond_error(c, rq, CCC_ERR_INTERNAL, "hash failed");
    ccc_job_state state = CCC_JOB_UNKNOWN;
    pthread_mutex_lock(&h->queue_lock);
    st = ccc_queue_enqueue(h->queue, rq->id, body, ccc_bytes_of(sha, 32), &state);
    if (st == CCC_OK) {
        h->wake_seq++;
        pthread_cond_broadcast(&h->wake);
    }
    pthread_mutex_unlock(&h->queue_lock);
    if (st == CCC_ERR_REPLAY)
        return post_status_answer(h, c, rq, body, sha);
    if (st == CCC_ERR_LIMIT)
        return respond_error(c, rq, st, "body too large");
    if (st == CCC_ERR_USAGE)
        return respond_error(c, rq, st, "bad job id");
    if (st != CCC_OK)
        return respond_error(c, rq, CCC_ERR_IO, "queue unavailable");
    host_dedup_remember(h, rq->id, sha);
    ccc_log(CCC_LOG_INFO, CCC_EV_JOB_ACCEPTED, ccc_log_job(rq->id),
            ccc_log_size(CCC_F_BYTES_IN, body.size), CCC_LOG_END);
    char loc[sizeof "/v1/jobs/" + CCC_QUEUE_ID_MAX];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", rq->id);
    header_kv hk = {MHD_HTTP_HEADER_LOCATION, loc};
    return respond_json(c, rq, 202, json_pack("{s:s,s:s}", "id", rq->id, "status", "queued"), &hk,
                        1);
}

/* ------------------------------------------------------------------------ */
/* /healthz, /metrics, static files                                          */
/* ------------------------------------------------------------------------ */

static enum MHD_Result get_healthz(ccc_host *h, struct MHD_Connection *c, http_req *rq)
{
    size_t ready = ccc_host_enclaves_ready(h);
    json_t *j = json_pack("{s:s,s:I,s:s}", "status", ready ? "ok" : "unavailable", "enclaves_ready",
                          (json_int_t)ready, "queue", ccc_queue_backend_name(h->queue));
    return respond_json(c, rq, ready ? 200 : 503, j, NULL, 0);
}

static enum MHD_Result get_metrics(ccc_host *h, struct MHD_Connection *c, http_req *rq)
{
    ccc_buf text;
    ccc_buf_init(&text, 1u << 20);
    enum MHD_Result r;
    if (host_metrics_text(h, &text) != CCC_OK)
        r = respond_error(c, rq, CCC_ERR_INTERNAL, "metrics unavailable");
    else
        r = respond(c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", text.data, text.size,
                    NULL, 0);
    ccc_buf_wipe(&text);
    return r;
}

static const char *static_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".wasm", "application/wasm"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result get_static(ccc_host *h, struct MHD_Connection *c, http_req *rq)
{
    if (!h->static_dir)
        return respond_error(c, rq, CCC_ERR_NOT_FOUND, "no such file");
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", h->static_dir, rq->name);
    if (n < 0 || (size_t)n >= sizeof path)
        return respond_error(c, rq, CCC_ERR_NOT_FOUND, "no such file");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > STATIC_FILE_CAP) {
        if (fd >= 0)
            close(fd);
        return respond_error(c, rq, CCC_ERR_NOT_FOUND, "no such file");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)sb.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, static_type(rq->name));
    MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'self'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result r = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    if (r == MHD_YES)
        responded(rq, 200, (size_t)sb.st_size);
    return r;
}

/* ------------------------------------------------------------------------ */
/* libmicrohttpd callbacks                                                   */
/* ------------------------------------------------------------------------ */

static void client_of(struct MHD_Connection *c, char out[48])
{
    strcpy(out, "unknown");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, 48);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, 48);
}

static const char *method_id(const char *m)
{
    static const char *const known[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "other";
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    ccc_host *h = cls;
    http_req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        rq->t0_ns = ccc_now_ns();
        rq->host = h;
        rq->method = method_id(method);
        client_of(c, rq->client);
        rq->route = ccc_host_route_parse(method, url, rq->id, rq->name);
        ccc_buf_init(&rq->body, (size_t)h->max_body);
        switch (rq->route) {
        case CCC_HOST_ROUTE_JOBS_POST: {
            bool refused;
            enum MHD_Result r = post_precheck(h, c, rq, &refused);
            return refused ? r : MHD_YES;
        }
        case CCC_HOST_ROUTE_CONFIG:
            return get_config(h, c, rq);
        case CCC_HOST_ROUTE_JOBS_GET:
            return get_job(h, c, rq);
        case CCC_HOST_ROUTE_HEALTHZ:
            return get_healthz(h, c, rq);
        case CCC_HOST_ROUTE_METRICS:
            return get_metrics(h, c, rq);
        case CCC_HOST_ROUTE_STATIC:
            return get_static(h, c, rq);
        default:
            return respond_error(c, rq, CCC_ERR_NOT_FOUND, "no such route");
        }
    }
    if (rq->responded) { /* a refusal was queued; drop what still arrives */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* §11: "by count while reading" — the buffer's cap is max_body. */
        rq->seen += *upload_data_size;
        /* chunked bodies reserve as they come; a Content-Length reserved all */
        if (!rq->over && !rq->over_budget) {
            if (rq->seen > rq->reserved && !reserve(h, rq, rq->seen - rq->reserved)) {
                rq->over_budget = true;
                ccc_buf_wipe(&rq->body);
            } else if (ccc_buf_append(&rq->body, upload_data, *upload_data_size) != CCC_OK) {
                rq->over = true;
                ccc_buf_wipe(&rq->body);
            }
        }
        *upload_data_size = 0;
        /* Refuse to drain more than another cap's worth: close instead. */
        if ((rq->over || rq->over_budget) && rq->seen > 2 * h->max_body + 65536)
            return MHD_NO;
        return MHD_YES;
    }
    /* The whole body is here: answer, then give its memory and budget back
     * at once (not when libmicrohttpd reports completion: a client's next
     * upload may already be on its way). */
    enum MHD_Result r = post_job(h, c, rq);
    ccc_buf_wipe(&rq->body);
    atomic_fetch_sub(&h->body_inflight, rq->reserved);
    rq->reserved = 0;
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    ccc_host *h = cls;
    http_req *rq = *con_cls;
    if (!rq)
        return;
    double secs = (double)(ccc_now_ns() - rq->t0_ns) / 1e9;
    if (!rq->responded) /* ended without an answer (client gone, closed) */
        host_metrics_http(h, rq->route, 0, secs);
    ccc_log_field job =
        rq->route == CCC_HOST_ROUTE_JOBS_GET || rq->route == CCC_HOST_ROUTE_JOBS_POST
            ? ccc_log_job(rq->id[0] ? rq->id : "-")
            : CCC_LOG_END; /* no job: the list ends here */
    ccc_log(CCC_LOG_INFO, CCC_EV_REQUEST, ccc_log_id(CCC_F_METHOD, rq->method),
            ccc_log_id(CCC_F_ROUTE, ccc_host_route_name(rq->route)),
            ccc_log_count(CCC_F_HTTP_STATUS, (uint64_t)rq->status),
            ccc_log_size(CCC_F_BYTES_IN, (size_t)rq->seen),
            ccc_log_size(CCC_F_BYTES_OUT, rq->bytes_out), ccc_log_id(CCC_F_CLIENT, rq->client),
            ccc_log_ms(CCC_F_DURATION_MS, secs * 1000.0), job, CCC_LOG_END);
    ccc_buf_wipe(&rq->body);
    atomic_fetch_sub(&h->body_inflight, rq->reserved);
    free(rq);
    *con_cls = NULL;
}

static void mhd_quiet(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap; /* libmicrohttpd's messages could quote request bytes: dropped */
}

ccc_status host_http_start(ccc_host *h)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(h->listen_port);
    CCC_ENSURE(inet_pton(AF_INET, h->listen_addr, &sin.sin_addr) == 1, CCC_ERR_USAGE,
               "--listen must be an IPv4 address");
    CCC_ENSURE(h->listen_port == 0 || !ccc_tcp_port_in_use(h->listen_addr, h->listen_port),
               CCC_ERR_BUSY, "the --listen port is already in use (choose another)");
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
        h->listen_port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&sin, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_CONNECTION_LIMIT, h->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)30, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_quiet, NULL, MHD_OPTION_END);
    CCC_ENSURE(h->daemon, CCC_ERR_IO, "cannot listen on the HTTP address");
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (di)
        h->listen_port = di->port;
    return CCC_OK;
}

void host_http_stop(ccc_host *h)
{
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
}
