/* host: state shared by the HTTP side (host_http.c), the relays
 * (host_relay.c) and the life cycle / metrics (host.c). Not public. */
#ifndef CCC_HOST_INTERNAL_H
#define CCC_HOST_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "host/host.h"

#define HOST_RATE_SLOTS 1024
#define HOST_HTTP_BUCKETS 9
#define HOST_JOB_BUCKETS 11
#define HOST_CODE_SLOTS 128

struct MHD_Daemon;

/* One enclave socket and its relay thread. */
typedef struct host_relay {
    struct ccc_host *host;
    char path[108];
    size_t index;
    pthread_t thread;
    bool started;
    bool ready;  /* attest_response seen on the current connection (host->lock) */
    ccc_buf doc; /* its receipt-key attestation document (host->lock) */
} host_relay;

typedef struct host_rate_slot {
    char client[48];
    ccc_host_bucket bucket;
} host_rate_slot;

typedef struct host_histogram {
    uint64_t counts[16]; /* per bucket (not cumulative) + the +Inf one */
    uint64_t total;
    double sum;
} host_histogram;

typedef struct host_dedup_entry {
    uint8_t id_sha256[32];
    uint8_t body_sha256[32];
    bool used;
} host_dedup_entry;

struct ccc_host {
    /* config (strings copied) */
    char listen_addr[64];
    uint16_t listen_port;
    char kms_path[108];
    bool have_kms;
    char *kms_config_path;
    char *static_dir;
    char worker_id[CCC_QUEUE_WORKER_MAX + 1];
    uint64_t max_body;
    uint64_t rate_per_minute;
    uint32_t job_timeout_ms, kms_timeout_ms, stop_grace_ms;
    unsigned connection_limit;
    ccc_buf policy; /* the bundle, served as is */

    /* queue: one handle, one mutex; a POST signals `wake` */
    ccc_queue *queue;
    pthread_mutex_t queue_lock;
    pthread_cond_t wake;
    uint64_t wake_seq;
    /* a result was stored (done or failed): wakes GET /v1/jobs/{id}?wait= */
    pthread_cond_t done;
    uint64_t done_seq;
    atomic_bool draining; /* stop: long-polls return at once */

    /* shared state (relays' readiness and documents, rate limits, dedup,
     * metrics) under `lock`. Lock order: `lock` may be taken while
     * queue_lock is held (metrics of a stored result), never the reverse. */
    pthread_mutex_t lock;
    host_relay relays[CCC_HOST_MAX_ENCLAVES];
    size_t relay_count;
    host_rate_slot rate[HOST_RATE_SLOTS];
    host_dedup_entry *dedup; /* CCC_HOST_DEDUP_MEMORY entries, a ring */
    size_t dedup_next;
    struct {
        uint64_t code_count[HOST_CODE_SLOTS];
        int code_status[HOST_CODE_SLOTS];
        ccc_host_route code_route[HOST_CODE_SLOTS];
        size_t code_used;
        host_histogram http;
        host_histogram job;
        uint64_t job_errors[CCC_STATUS_COUNT];
        uint64_t attestations;
        uint64_t key_released, key_refused, key_unavailable;
    } m;

    /* life cycle */
    struct MHD_Daemon *daemon;
    pthread_t maint_thread;
    bool maint_started;
    bool running;
    atomic_bool stopping;

    /* bytes of POST bodies being received, all connections together; a
     * request reserves its Content-Length (or each chunk) first */
    atomic_uint_fast64_t body_inflight;
    uint64_t body_budget;
};

/* host_http.c */
CCC_MUST_USE ccc_status host_http_start(struct ccc_host *h);
void host_http_stop(struct ccc_host *h);

/* host_relay.c */
void *host_relay_main(void *arg);

/* host.c: metrics and shared helpers */
void host_metrics_http(struct ccc_host *h, ccc_host_route route, int status, double seconds);
void host_metrics_job(struct ccc_host *h, double seconds);
void host_metrics_job_error(struct ccc_host *h, ccc_status st);
CCC_MUST_USE ccc_status host_metrics_text(struct ccc_host *h, ccc_buf *out);
void host_dedup_remember(struct ccc_host *h, const char *id, const uint8_t body_sha256[32]);
bool host_dedup_lookup(struct ccc_host *h, const char *id, uint8_t body_sha256[32]);
/* Connect a stream socket to "PATH" (unix) with receive/send timeouts set
 * BEFORE connect (a full backlog then fails after send_ms instead of
 * blocking); -1 on failure. */
int host_unix_connect(const char *path, uint32_t recv_ms, uint32_t send_ms);

#endif /* CCC_HOST_INTERNAL_H */
