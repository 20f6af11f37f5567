/*
 * queue_impl.h — the backend vtable (private to src/queue).
 *
 * queue.c validates every argument (ids, sizes, tokens), takes the clock,
 * makes claim tokens and logs; a backend only stores. Each backend embeds
 * `struct ccc_queue` as its first member and provides one class:
 *
 *   ccc_queue_sqlite_class   queue_sqlite.c
 *   ccc_queue_redis_class    queue_redis.c
 */
#ifndef CCC_QUEUE_IMPL_H
#define CCC_QUEUE_IMPL_H

#include "queue/queue.h"

typedef struct ccc_queue_class ccc_queue_class;

struct ccc_queue {
    const ccc_queue_class *vtable;
    ccc_queue_opts opts; /* defaults filled in; name points at name_buf */
    char name_buf[65];
};

/* Outcome of complete/fail as seen by the backend. */
typedef enum ccc_queue_outcome {
    CCC_QO_APPLIED,  /* the state changed                                */
    CCC_QO_REPEATED, /* same token, already applied: nothing changed      */
    CCC_QO_STALE,    /* token is not the current claim: nothing changed   */
    CCC_QO_UNKNOWN,  /* no such job                                       */
} ccc_queue_outcome;

struct ccc_queue_class {
    const char *name;
    /* `target` is the URL without its scheme (SQLite path, or host:port/db). */
    ccc_status (*open)(const char *target, const ccc_queue_opts *opts, ccc_queue **out);
    void (*free)(ccc_queue *q);
    /* *dup = true (and *state = current) if the id exists. */
    ccc_status (*enqueue)(ccc_queue *q, const char *id, ccc_bytes payload, ccc_bytes meta,
                          const char *enq_token, uint64_t now_ms, bool *dup, ccc_job_state *state);
    /* job is reset by the caller; token is fresh. */
    ccc_status (*claim)(ccc_queue *q, const char *worker, const char *token, uint64_t now_ms,
                        ccc_queue_job *job, bool *claimed);
    ccc_status (*complete)(ccc_queue *q, const char *id, const char *token, ccc_bytes result,
                           uint64_t now_ms, ccc_queue_outcome *outcome, uint32_t *attempt);
    /* *state receives QUEUED or DEAD when applied or repeated. */
    ccc_status (*fail)(ccc_queue *q, const char *id, const char *token, ccc_status error,
                       uint64_t now_ms, ccc_queue_outcome *outcome, ccc_job_state *state,
                       uint32_t *attempt);
    /* info->state UNKNOWN if absent or expired at now_ms. With `out`
       non-NULL and a result available, appends it (deleting if asked). */
    ccc_status (*status)(ccc_queue *q, const char *id, uint64_t now_ms, ccc_queue_info *info,
                         ccc_buf *out, bool del);
    /* Appends the meta of a job that still has it (QUEUED/PROCESSING);
       CCC_ERR_NOT_FOUND otherwise. */
    ccc_status (*meta)(ccc_queue *q, const char *id, ccc_buf *out);
    ccc_status (*expire)(ccc_queue *q, uint64_t now_ms, uint64_t *removed);
    ccc_status (*metrics)(ccc_queue *q, uint64_t now_ms, ccc_queue_metrics *m);
};

extern const ccc_queue_class ccc_queue_sqlite_class;
extern const ccc_queue_class ccc_queue_redis_class;

/* backoff_unit_ms * 2^attempt (attempt <= CCC_QUEUE_MAX_ATTEMPTS_LIMIT). */
uint64_t ccc_queue_backoff_ms(const ccc_queue_opts *o, uint32_t attempt);
/* Log a dead letter made inside a backend (lease ran out at the last try). */
void ccc_queue_log_dead(const char *id, uint32_t attempt, ccc_status error);
/* Does `s` (NUL-terminated) have 1..max characters of [A-Za-z0-9._:-]? */
bool ccc_queue_name_ok(const char *s, size_t max);

#endif /* CCC_QUEUE_IMPL_H */
