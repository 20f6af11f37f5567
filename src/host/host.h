/*
 * host — ccc-host, the untrusted parent: the HTTP API of docs/protocol.md
 * §11, the job queue (src/queue) and one blind relay per enclave socket
 * (docs/protocol.md §10), proxying the enclave's key requests to ccc-kms.
 *
 * The host holds no key that opens user data and never sees plaintext. It
 * reads exactly three things of what clients and enclaves send:
 *   - the public 7-byte OHTTP header of a job body (key id, KEM, KDF,
 *     AEAD; RFC 9458 §4.3) — ccc_host_job_body_check;
 *   - the CBOR maps of the job frames (job id, class, and which byte string
 *     is the receipt and which the response) — ccc_host_job_result_decode,
 *     ccc_host_job_error_decode;
 *   - the payload of the key service's signed configuration, to know the
 *     live key ids and suites — ccc_host_kms_config_parse. The host does
 *     NOT verify its signature (it has no reason to trust or distrust it:
 *     it serves it to clients, who verify it with the kms key they pin).
 * The policy bundle is served as is; its tou limits (max_body_bytes,
 * rate_per_minute) are read with ccc_policy_peek, NOT verified: the limits
 * only protect this host, whose operator wrote both.
 * Ciphertexts, receipts, attestation documents and key releases go through
 * unread. Nothing the host logs contains a body (src/log cannot take one).
 *
 * ------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------
 *   - libmicrohttpd: one internal polling thread, one thread per connection
 *     (connection limit, 64 KiB memory per connection, 30 s idle timeout).
 *   - one relay thread per enclave socket (cfg.enclaves).
 *   - one maintenance thread: ccc_queue_expire every minute.
 * The queue handle is not thread-safe: one handle, one mutex, held only for
 * the duration of one queue call. A POST signals a condition variable that
 * wakes the relays; they also poll every 200 ms (backoff retries, lease
 * outs, jobs enqueued by other hosts sharing a Redis queue).
 *
 * ------------------------------------------------------------------------
 * Relay (one per enclave), docs/protocol.md §10
 * ------------------------------------------------------------------------
 *   connect unix:PATH, retrying every 250 ms, doubling to 2 s;
 *   while the enclave sends 0x30 key_request: open one connection to
 *     ccc-kms per request, write the frame, read one answer frame (0x31 or
 *     0x12) and relay it unread; kms unreachable, silent (kms_timeout_ms)
 *     or answering anything else: 0x12 "io:kms_unavailable";
 *   0x21 attest_response: keep the document (served in GET /v1/config and
 *     stored with every result of this enclave); the enclave is ready;
 *   then one job at a time: claim, 0x10 job_request, wait job_timeout_ms:
 *     0x11 job_result        -> ccc_queue_complete(result record "done")
 *     0x12 job_error, class parse/limit/unsupported/crypto/policy/replay/
 *          not_found/usage   -> ccc_queue_complete(result record "failed")
 *     other class, timeout, lost connection, a frame that is not the
 *          answer            -> ccc_queue_fail (retried with backoff, then
 *                               dead letter), drop the connection, reconnect.
 *
 * Stored result record (the queue's opaque result; canonical CBOR, RFC 8949
 * §4.2.1; decoded only by this module):
 *   done:   {"attestation": bstr, "body_sha256": bstr(32), "receipt": bstr,
 *            "response": bstr, "v": 1}
 *   failed: {"body_sha256": bstr(32), "error": tstr class name, "v": 1}
 * The queue's meta of each job is SHA-256(body) (32 bytes).
 *
 * ------------------------------------------------------------------------
 * Deduplication (same id, same body → 200; other body → 409 replay)
 * ------------------------------------------------------------------------
 * The queue has no call that returns a job's meta, so the body hash of an
 * existing id is found, in order: in this process's memory of the last
 * CCC_HOST_DEDUP_MEMORY accepted jobs; in the job's stored result record
 * (done jobs, until fetched with delete); otherwise only the body SIZE is
 * compared (the queue keeps payload_size). Caveat: after a restart, or for
 * a job another host accepted, a queued/processing/dead job with a
 * same-size other body is answered 200 (its status), not 409. That answer
 * reveals only what GET /v1/jobs/{id} already does to anyone with the id.
 *
 * Caveats
 * 1. Body cap by count (chunked uploads, or a Content-Length that lies):
 *    libmicrohttpd 0.9 cannot answer in the middle of an upload, so the
 *    rest is read and dropped, and 413 is sent when the client has
 *    finished; a client that sends more than twice the cap (+64 KiB) is
 *    disconnected without an answer. Nothing over the cap is kept.
 * 2. Rate limits are per client IP in a fixed table (1024 slots, 8 probes;
 *    the least recently used bucket of the probe is reused), per host
 *    process: behind a proxy every client is one IP, and many source
 *    addresses can push a bucket out (it comes back full).
 * 3. A job whose enclave dies mid-way costs one attempt: after
 *    max_attempts such losses it is a dead letter with class io.
 *
 * Ownership: ccc_host is a heap object (new/free). ccc_host_new copies the
 * config's strings. Start/stop are called from one thread.
 */
#ifndef CCC_HOST_H
#define CCC_HOST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "ohttp/ohttp.h"
#include "queue/queue.h"

#define CCC_HOST_DEFAULT_LISTEN "127.0.0.1:8750"
#define CCC_HOST_DEFAULT_JOB_TIMEOUT_MS 120000u
#define CCC_HOST_DEFAULT_KMS_TIMEOUT_MS 10000u
#define CCC_HOST_DEFAULT_STOP_GRACE_MS 10000u
#define CCC_HOST_DEFAULT_CONNECTION_LIMIT 128u
#define CCC_HOST_MAX_ENCLAVES 16
#define CCC_HOST_MAX_KEY_CONFIGS 4
#define CCC_HOST_MAX_HEADER_VALUE 256
/* GET /v1/jobs/{id}?wait=MS holds the answer up to this long while the job
 * is queued or processing (a long poll; below the 30 s connection timeout). */
#define CCC_HOST_MAX_WAIT_MS 20000
#define CCC_HOST_DEDUP_MEMORY 16384
/* Without a policy: 16 MiB bodies, 60 jobs a minute per client. */
#define CCC_HOST_DEFAULT_MAX_BODY ((uint64_t)16 << 20)
#define CCC_HOST_DEFAULT_RATE_PER_MINUTE 60u

typedef struct ccc_host_config {
    const char *listen; /* "A.B.C.D:PORT" (port 0: any; see ccc_host_port) */
    const char *enclaves[CCC_HOST_MAX_ENCLAVES]; /* "unix:PATH" each */
    size_t enclave_count;
    const char *kms;             /* "unix:PATH" of ccc-kms (NULL: every key
                                    request is answered io:kms_unavailable) */
    const char *kms_config_path; /* config.cose written by ccc-kms; re-read on
                                    every request that needs it */
    const char *policy_path;     /* signed policy bundle, served as is (NULL:
                                    none served, default limits) */
    const char *queue_url;       /* src/queue URL (required) */
    ccc_queue_opts queue_opts;   /* visibility, attempts, backoff, ttl; the
                                    max payload follows max_body */
    uint64_t max_body_size;      /* 0: the policy's tou.max_body_bytes */
    uint64_t rate_per_minute;    /* 0: the policy's tou.rate_per_minute */
    uint32_t job_timeout_ms;     /* 0: 120 s */
    uint32_t kms_timeout_ms;     /* 0: 10 s */
    uint32_t stop_grace_ms;      /* 0: 10 s for the in-flight job at stop */
    unsigned connection_limit;   /* 0: 128 */
    uint64_t upload_budget;      /* bytes of POST bodies held at once, all
                                    connections (0: max(4 x max body, 64 MiB));
                                    beyond it: 429 busy, Retry-After: 1 */
    const char *static_dir;      /* browser client files (NULL: none) */
    const char *worker_id;       /* queue worker id prefix (NULL: "host-<pid>") */
} ccc_host_config;

typedef struct ccc_host ccc_host;

/*
 * Check the config, read the policy (peek) and open the queue. No thread
 * and no socket yet. Errors: CCC_ERR_USAGE (bad option), CCC_ERR_IO,
 * CCC_ERR_PARSE (policy), anything ccc_queue_open returns.
 */
CCC_MUST_USE ccc_status ccc_host_new(const ccc_host_config *cfg, ccc_host **out);
/* Listen and start the relays. CCC_ERR_IO if the address cannot be bound. */
CCC_MUST_USE ccc_status ccc_host_start(ccc_host *h);
/* The bound TCP port (after start). */
uint16_t ccc_host_port(const ccc_host *h);
/*
 * Stop: refuse new connections, let each relay finish its in-flight job
 * (up to stop_grace_ms; then the job is failed back to the queue, which
 * retries it), join every thread. Safe twice; free calls it.
 */
void ccc_host_stop(ccc_host *h);
/* start, then wait until *stop_flag (set by a SIGINT/SIGTERM handler), stop. */
CCC_MUST_USE ccc_status ccc_host_run(ccc_host *h, volatile sig_atomic_t *stop_flag);
/* Stop if running, close the queue, free. NULL is fine. */
void ccc_host_free(ccc_host *h);
/* Enclaves that sent attest_response on their current connection. */
size_t ccc_host_enclaves_ready(ccc_host *h);

/* ------------------------------------------------------------------------ */
/* Parsers of request and frame bytes (pure; fuzzed by fuzz_http_job)       */
/* ------------------------------------------------------------------------ */

/*
 * The §11 job body check, on the public OHTTP header only (RFC 9458 §4.3:
 * hdr = key_id(1) kem_id(2) kdf_id(2) aead_id(2)):
 *   body shorter than 7 + 32 + 16                          CCC_ERR_PARSE
 *   (kem, kdf, aead) not offered by the config of that key
 *   id (or, for an unknown key id, by any config)          CCC_ERR_UNSUPPORTED
 *   key id in none of cfgs[0..count)                      CCC_ERR_NOT_FOUND
 * `*key_id` (may be NULL) receives the key id when the body is long enough.
 */
CCC_MUST_USE ccc_status ccc_host_job_body_check(ccc_bytes body, const ccc_ohttp_key_config *cfgs,
                                                size_t count, uint8_t *key_id);

/* §11 CCC-Job-Id: 1..256 bytes of 0x21..0x7e (CCC_ERR_USAGE otherwise).
 * The queue further allows only [A-Za-z0-9._:-] (also CCC_ERR_USAGE). */
CCC_MUST_USE ccc_status ccc_host_job_id_check(const char *id, size_t size);

/* Routes of the API (the request log's "route" field). */
typedef enum ccc_host_route {
    CCC_HOST_ROUTE_OTHER = 0, /* "other": 404 */
    CCC_HOST_ROUTE_CONFIG,    /* GET /v1/config */
    CCC_HOST_ROUTE_JOBS_POST, /* POST /v1/jobs */
    CCC_HOST_ROUTE_JOBS_GET,  /* GET /v1/jobs/{id} */
    CCC_HOST_ROUTE_HEALTHZ,   /* GET /healthz */
    CCC_HOST_ROUTE_METRICS,   /* GET /metrics */
    CCC_HOST_ROUTE_STATIC,    /* GET / and GET /<name> */
    CCC_HOST_ROUTE_COUNT
} ccc_host_route;

/* "other", "config", "jobs_post", "jobs_get", "healthz", "metrics", "static". */
const char *ccc_host_route_name(ccc_host_route r);

/*
 * Route a request. `method` and `path` are NUL-terminated (the path without
 * the query). For JOBS_GET the id (checked with ccc_host_job_id_check) is
 * copied to `id` (CCC_QUEUE_ID_MAX + 1 bytes); for STATIC the file name
 * ("index.html" for "/") is copied to `name` (256 bytes), and is only ever
 * [A-Za-z0-9._-]{1,255} not starting with '.'; anything else under "/" is
 * OTHER. HEAD routes like GET.
 */
ccc_host_route ccc_host_route_parse(const char *method, const char *path,
                                    char id[static CCC_QUEUE_ID_MAX + 1], char name[static 256]);

/*
 * The live key configs from the COSE_Sign1 payload of ccc-kms's signed
 * configuration (docs/protocol.md §9; signature NOT verified, see top).
 * Up to `max_count` configs into cfgs. CCC_ERR_PARSE if malformed.
 */
CCC_MUST_USE ccc_status ccc_host_kms_config_parse(ccc_bytes signed_config,
                                                  ccc_ohttp_key_config *cfgs, size_t max_count,
                                                  size_t *count);

/* job_request body {"job_id": tstr, "request": bstr} (canonical CBOR),
 * appended to out. */
CCC_MUST_USE ccc_status ccc_host_job_request_encode(const char *job_id, ccc_bytes request,
                                                    ccc_buf *out);
/* job_result body {"job_id","receipt","response"}; exactly these keys,
 * canonical, job_id equal to `job_id` (else CCC_ERR_PARSE). Views borrow
 * `body`. */
CCC_MUST_USE ccc_status ccc_host_job_result_decode(ccc_bytes body, const char *job_id,
                                                   ccc_bytes *receipt, ccc_bytes *response);
/* job_error body {"class","job_id"}; *class_st receives the class (an
 * unknown class name is CCC_ERR_INTERNAL: transient). */
CCC_MUST_USE ccc_status ccc_host_job_error_decode(ccc_bytes body, const char *job_id,
                                                  ccc_status *class_st);
/* True for the classes a retry cannot change (§11). */
bool ccc_host_class_is_permanent(ccc_status st);

/* The stored result record (top of file). */
typedef struct ccc_host_record {
    ccc_status error; /* CCC_OK: done; else the failed class */
    uint8_t body_sha256[32];
    ccc_bytes attestation, receipt, response; /* borrowed (done only) */
} ccc_host_record;

CCC_MUST_USE ccc_status ccc_host_record_encode(const ccc_host_record *rec, ccc_buf *out);
CCC_MUST_USE ccc_status ccc_host_record_decode(ccc_bytes in, ccc_host_record *rec);

/*
 * Token bucket: capacity = rate_per_minute (one minute's worth), refilled
 * at rate_per_minute / 60 per second. Take one token at now_ms: true if
 * taken; else false and *retry_after_s (>= 1) until one is available.
 */
typedef struct ccc_host_bucket {
    double tokens;
    uint64_t last_ms;
    bool used;
} ccc_host_bucket;

bool ccc_host_bucket_take(ccc_host_bucket *b, uint64_t rate_per_minute, uint64_t now_ms,
                          uint64_t *retry_after_s);

#endif /* CCC_HOST_H */
