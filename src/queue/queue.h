/*
 * queue — the job queue and result store behind one small interface.
 *
 * ccc-host puts each accepted request (ciphertext) here, workers (the host's
 * relay to an enclave) claim jobs, and the encrypted answer waits here until
 * the client fetches it or it expires. Nothing in the queue ever needs
 * plaintext: payloads, metadata and results are opaque bytes (ciphertext), the
 * queue never looks inside them, and it logs only job ids, sizes, attempts and
 * states through src/log.
 *
 * Two backends, chosen by URL in ccc_queue_open (a small vtable, like
 * BearSSL's br_*_class; see queue_impl.h):
 *
 *   sqlite:///var/lib/ccc/queue.db   embedded default: one SQLite file in WAL
 *   /var/lib/ccc/queue.db            mode; several processes on ONE machine
 *   queue.db                         may share it (not over a network FS).
 *                                    "sqlite://" + path: sqlite:///a/b is /a/b,
 *                                    sqlite://a.db is a.db (relative).
 *   redis://host[:port][/db]         scale-out: Redis Streams with a consumer
 *   redis://[::1]:6379/0             group; many hosts on many machines share
 *                                    one queue. Port 6379 and db 0 by default.
 *
 * Job life cycle (DESIGN.md §5: "job id is the deduplication key; a claimed
 * job is invisible for a visibility timeout (300 s default) and comes back if
 * the worker dies; at most 3 attempts with 2^attempt s backoff; then a
 * dead-letter record with no payload. Results wait for the client until
 * fetched or expired."):
 *
 *   enqueue ──► QUEUED ──claim──► PROCESSING ──complete──► DONE ──expire──► gone
 *                 ▲                 │   │                   (result kept
 *                 │   fail, attempt │   │ lease runs out     until fetched
 *                 │   < max: wait   │   │ (worker died):      with delete, or
 *                 └─ 2^attempt ◄────┘   │ next claim takes    result_ttl)
 *                    units              │ it over (attempt+1)
 *                                       ▼
 *                fail or lease-out at attempt == max ──► DEAD ──expire──► gone
 *                (dead letter: id, attempts, error class, times; NO payload)
 *
 *   - Every claim is one attempt (attempt 1, 2, 3). A job whose worker died
 *     mid-way counts that attempt, so a job that kills its worker every time
 *     (a poison pill) is dead-lettered after max_attempts, with error class
 *     CCC_ERR_IO ("worker lost").
 *   - Each claim gets a fresh random token. complete() and fail() must present
 *     it. Once a lease has run out AND another worker has claimed the job, the
 *     old token is stale: a late complete() gets CCC_ERR_REPLAY and changes
 *     nothing, so there is exactly one result per job id. (A late complete()
 *     whose lease ran out but nobody re-claimed yet is still accepted.)
 *   - complete() and fail() are idempotent per token: repeating the same call
 *     (e.g. after a lost reply) returns CCC_OK and changes nothing more.
 *   - DONE and DEAD records stay result_ttl_ms (default 24 h), which is also
 *     the deduplication window: after a record expires its id is unknown and
 *     may be enqueued again (the enclave's own replay check still refuses a
 *     replayed request ciphertext).
 *
 * Clocks: times are wall-clock milliseconds since the epoch
 * (CLOCK_REALTIME), taken on the calling machine; hosts sharing a Redis queue
 * should run NTP. The Redis visibility timeout is measured by the server
 * (XAUTOCLAIM idle time). All hosts sharing one queue must use the same
 * visibility_timeout_ms: it is a property of the queue, not of one claim.
 *
 * Threads and processes: a ccc_queue handle is not thread-safe; use one
 * handle per thread (they may all point at the same file / server), and do
 * not carry a handle across fork(): open a new one in the child.
 *
 * Schemas (the on-disk / in-Redis formats):
 *
 * SQLite (PRAGMA user_version = 1; journal_mode=WAL, synchronous=FULL,
 * secure_delete=ON, busy_timeout):
 *
 *   CREATE TABLE ccc_jobs (
 *     id          TEXT PRIMARY KEY,     -- job id, the deduplication key
 *     state       INTEGER NOT NULL,     -- ccc_job_state: 1 queued, 2 processing,
 *                                       --   3 done, 4 dead
 *     attempt     INTEGER NOT NULL,     -- claims so far (0 before the first)
 *     token       TEXT,                 -- token of the latest claim
 *     ftok        TEXT,                 -- token of the latest fail(), for idempotence
 *     worker      TEXT,                 -- worker id of the latest claim
 *     payload     BLOB,                 -- ciphertext; NULL once done or dead
 *     meta        BLOB,                 -- opaque metadata; NULL once dead
 *     result      BLOB,                 -- ciphertext; NULL until done and after
 *                                       --   a fetch with delete
 *     fetched     INTEGER NOT NULL,     -- 1 once fetched with delete
 *     error       INTEGER NOT NULL,     -- ccc_status class of the last failure
 *     payload_size INTEGER NOT NULL, result_size INTEGER NOT NULL,
 *     enqueued_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
 *     visible_ms  INTEGER NOT NULL,     -- queued: not before (backoff);
 *                                       --   processing: lease end
 *     expires_ms  INTEGER NOT NULL      -- done/dead: removed after; else 0
 *   );
 *   CREATE INDEX ccc_jobs_ready  ON ccc_jobs(state, visible_ms);
 *   CREATE INDEX ccc_jobs_expiry ON ccc_jobs(expires_ms) WHERE expires_ms > 0;
 *
 *   synchronous=FULL, not NORMAL: in WAL mode NORMAL survives a process crash
 *   but a power loss may roll back the last commits, and an enqueue that
 *   returned CCC_OK is a promise to the client (HTTP 202). FULL fsyncs the
 *   WAL at every commit; one fsync per operation is small next to inference.
 *   Every operation is one BEGIN IMMEDIATE transaction (so the busy timeout
 *   applies to the write lock, not a mid-transaction upgrade) with prepared
 *   statements. secure_delete=ON zeroes freed pages, so a dropped payload does
 *   not linger in free pages; old copies in the -wal file are gone after the
 *   next truncating checkpoint (done by ccc_queue_expire and on close).
 *
 * Redis (keys under "ccc:<name>:", name from opts, default "q"):
 *
 *   <p>stream           stream; each entry {id: <job id>}; consumer group
 *                       "workers". An entry is XACKed and XDELed when its job
 *                       is done, failed or dead, so the stream stays short.
 *   <p>job:<id>         hash: state, attempt, token, ftok, etok (enqueue
 *                       token), worker, entry (stream entry id), payload,
 *                       meta, result, fetched, error, psize, rsize, enq,
 *                       upd, vis, exp. Created atomically (Lua) only if
 *                       absent: that is the deduplication. PEXPIREAT exp
 *                       once done or dead.
 *   <p>delayed          zset id -> not-before ms: failed jobs waiting out
 *                       their backoff; claim moves due ones back to the stream.
 *   <p>done, <p>dead    zsets id -> expiry ms (for counts and the sweep).
 *   <p>stats            hash: queued, processing (counts kept by the scripts).
 *
 *   Every state change is one Lua script (EVAL), so it is atomic against
 *   every other host. Lease expiry: XAUTOCLAIM with min-idle = the visibility
 *   timeout. With appendonly yes + appendfsync always, everything that
 *   returned CCC_OK survives a Redis crash. A command that fails on the
 *   connection reconnects once and retries (enqueue, complete and fail carry
 *   tokens that make the retry idempotent); otherwise CCC_ERR_IO. A claim
 *   whose reply was lost leaves that job claimed until its lease runs out.
 *   Scripts touch keys derived from the job id: Redis Cluster is not
 *   supported (use one primary, with replicas for failover).
 *
 * Fuzzing: none. The queue parses no untrusted bytes: payloads and results
 * are stored and returned verbatim, and the only structured data it reads
 * back is what it wrote itself (SQLite columns, Redis replies from our own
 * scripts, checked for type on the way in). Ids and worker names are
 * validated against a fixed character set before use.
 *
 * Important caveats:
 *   - Payload ciphertext may persist in the Redis AOF until Redis rewrites it
 *     (automatic AOF rewrite or BGREWRITEAOF); in memory it is gone at once.
 *   - The SQLite file does not shrink after large payloads leave (no VACUUM);
 *     freed pages are zeroed and reused.
 *   - claim() does not block; poll with a short sleep when it finds nothing.
 */
#ifndef CCC_QUEUE_H
#define CCC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Job ids and worker ids: 1..N characters of [A-Za-z0-9._:-]. */
#define CCC_QUEUE_ID_MAX 256
#define CCC_QUEUE_WORKER_MAX 64
/* A claim token: 32 lower-case hex characters (16 random bytes). */
#define CCC_QUEUE_TOKEN_SIZE 32
/* Defaults (used when an option is 0). */
#define CCC_QUEUE_DEFAULT_VISIBILITY_MS (300u * 1000u)
#define CCC_QUEUE_DEFAULT_MAX_ATTEMPTS 3u
#define CCC_QUEUE_DEFAULT_BACKOFF_UNIT_MS 1000u
#define CCC_QUEUE_DEFAULT_RESULT_TTL_MS (24ull * 3600u * 1000u)
#define CCC_QUEUE_DEFAULT_MAX_PAYLOAD_SIZE ((size_t)16 << 20)
#define CCC_QUEUE_DEFAULT_MAX_RESULT_SIZE ((size_t)1 << 20)
#define CCC_QUEUE_DEFAULT_MAX_META_SIZE ((size_t)4096)
#define CCC_QUEUE_DEFAULT_IO_TIMEOUT_MS 5000u
#define CCC_QUEUE_MAX_ATTEMPTS_LIMIT 10u

/* Options; zero-initialise and set what you need (0 = default). */
typedef struct ccc_queue_opts {
    uint32_t visibility_timeout_ms; /* lease of one claim (300 s)              */
    uint32_t max_attempts;          /* claims before dead letter (3, max 10)   */
    uint32_t backoff_unit_ms;       /* after failed attempt n, wait unit*2^n   */
    uint64_t result_ttl_ms;         /* DONE/DEAD records kept this long (24 h) */
    size_t max_payload_size;        /* enqueue refuses more (16 MiB)           */
    size_t max_result_size;         /* complete refuses more (1 MiB)           */
    size_t max_meta_size;           /* enqueue refuses more (4 KiB)            */
    uint32_t io_timeout_ms;         /* SQLite busy timeout, Redis socket (5 s) */
    const char *name;               /* Redis key namespace [A-Za-z0-9._:-]{1,64}
                                       ("q"); copied. Ignored by SQLite.       */
} ccc_queue_opts;

typedef enum ccc_job_state {
    CCC_JOB_UNKNOWN = 0,    /* never enqueued, or expired and swept        */
    CCC_JOB_QUEUED = 1,     /* waiting (possibly for its retry backoff)    */
    CCC_JOB_PROCESSING = 2, /* claimed; lease may have run out             */
    CCC_JOB_DONE = 3,       /* result stored (or fetched with delete)      */
    CCC_JOB_DEAD = 4,       /* dead letter: no payload, no result          */
} ccc_job_state;

/* "unknown", "queued", "processing", "done", "dead". */
const char *ccc_job_state_name(ccc_job_state s);

/* What the queue knows about one job (no payload, no result bytes). */
typedef struct ccc_queue_info {
    ccc_job_state state;
    uint32_t attempt;      /* claims so far                                  */
    ccc_status error;      /* class of the last failure, CCC_OK if none      */
    bool result_available; /* DONE and not yet fetched with delete           */
    size_t payload_size;   /* as enqueued (kept after the payload is gone)   */
    size_t result_size;
    uint64_t enqueued_ms;
    uint64_t updated_ms; /* last state change                              */
    uint64_t visible_ms; /* QUEUED: not before; PROCESSING: lease end      */
    uint64_t expires_ms; /* DONE/DEAD: record removed after; else 0        */
} ccc_queue_info;

/* A claimed job. Caller-owned: ccc_queue_job_init before use, _wipe after. */
typedef struct ccc_queue_job {
    char id[CCC_QUEUE_ID_MAX + 1];
    char token[CCC_QUEUE_TOKEN_SIZE + 1]; /* present it to complete/fail */
    uint32_t attempt;                     /* 1 for the first delivery     */
    uint64_t enqueued_ms;
    ccc_buf payload; /* owned; ciphertext, returned verbatim */
    ccc_buf meta;    /* owned; opaque metadata               */
} ccc_queue_job;

void ccc_queue_job_init(ccc_queue_job *job);
void ccc_queue_job_wipe(ccc_queue_job *job);

/* Gauges for /metrics. */
typedef struct ccc_queue_metrics {
    uint64_t queued;     /* waiting, including backoff              */
    uint64_t processing; /* claimed                                 */
    uint64_t done;       /* results stored and not expired          */
    uint64_t dead;       /* dead letters not expired                */
} ccc_queue_metrics;

typedef struct ccc_queue ccc_queue;

/*
 * Open a queue. `url` selects the backend (see the top of this file);
 * `opts` may be NULL (all defaults) and is copied. SQLite: creates the file
 * (mode 0600) and schema if absent. Redis: connects, selects the db, creates
 * the consumer group if absent. Errors: CCC_ERR_USAGE (malformed URL or
 * option), CCC_ERR_UNSUPPORTED (unknown scheme), CCC_ERR_IO (cannot open or
 * connect). On success *out is a heap object; free it with ccc_queue_free.
 */
CCC_MUST_USE ccc_status ccc_queue_open(const char *url, const ccc_queue_opts *opts,
                                       ccc_queue **out);
/* Close and free (SQLite: truncating checkpoint first). NULL is fine. */
void ccc_queue_free(ccc_queue *q);
/* "sqlite" or "redis". */
const char *ccc_queue_backend_name(const ccc_queue *q);

/*
 * Enqueue a job. payload and meta are borrowed and copied (meta may be
 * empty). New id: CCC_OK and *state = CCC_JOB_QUEUED. Existing id:
 * CCC_ERR_REPLAY ("duplicate job id"), the stored job is unchanged and
 * *state is its current state. CCC_ERR_LIMIT over a size cap, CCC_ERR_USAGE
 * for a bad id. `state` may be NULL.
 */
CCC_MUST_USE ccc_status ccc_queue_enqueue(ccc_queue *q, const char *job_id, ccc_bytes payload,
                                          ccc_bytes meta, ccc_job_state *state);

/*
 * Claim the next ready job for `worker_id`: a queued job past its backoff, or
 * a processing job whose lease has run out (its previous worker died). On
 * CCC_OK, *claimed tells whether a job was found; if so `job` (reset first)
 * holds its id, a fresh token, the attempt number, payload and meta, and the
 * job is invisible to other workers for visibility_timeout_ms. A lease-out
 * at the last attempt dead-letters that job instead (logged) and looks on.
 */
CCC_MUST_USE ccc_status ccc_queue_claim(ccc_queue *q, const char *worker_id, ccc_queue_job *job,
                                        bool *claimed);

/*
 * Store the result of a claimed job and drop its payload. `result` is
 * borrowed and copied. CCC_ERR_REPLAY ("stale claim token") if the token is
 * not the job's current claim (another worker took over, or the job is
 * already done by someone else) — nothing changes. CCC_ERR_NOT_FOUND for an
 * unknown id, CCC_ERR_LIMIT over max_result_size.
 */
CCC_MUST_USE ccc_status ccc_queue_complete(ccc_queue *q, const char *job_id, const char *token,
                                           ccc_bytes result);

/*
 * Report a failed attempt with its error class (e.g. CCC_ERR_PARSE for a
 * garbage ciphertext). Before max_attempts: the job waits
 * backoff_unit_ms * 2^attempt, then is claimable again. At max_attempts: it
 * becomes a dead letter (payload and meta deleted). Token rules as complete.
 * `*state` (may be NULL) receives CCC_JOB_QUEUED or CCC_JOB_DEAD.
 */
CCC_MUST_USE ccc_status ccc_queue_fail(ccc_queue *q, const char *job_id, const char *token,
                                       ccc_status error, ccc_job_state *state);

/*
 * State of a job. An unknown (or expired) id is CCC_OK with state
 * CCC_JOB_UNKNOWN, not an error.
 */
CCC_MUST_USE ccc_status ccc_queue_status(ccc_queue *q, const char *job_id, ccc_queue_info *info);

/*
 * The meta a job was enqueued with (appended to `out`; its cap applies),
 * while the job still has it: QUEUED or PROCESSING (completion and dead
 * letters drop it with the payload). CCC_ERR_NOT_FOUND otherwise. For a
 * host that must tell a retried POST (same id, same body hash in meta) from
 * a conflicting one after a restart, or for a job another host accepted.
 */
CCC_MUST_USE ccc_status ccc_queue_meta_get(ccc_queue *q, const char *job_id, ccc_buf *out);

/*
 * Fetch the result of a DONE job into `out` (appended; its cap applies).
 * With delete_after_fetch the result bytes are deleted (the record stays,
 * DONE without result, until it expires, so the id stays deduplicated).
 * Errors: CCC_ERR_NOT_FOUND (unknown/expired id, dead letter, or result
 * already fetched with delete), CCC_ERR_BUSY (still queued or processing).
 * `info` (may be NULL) is filled whenever the job exists.
 */
CCC_MUST_USE ccc_status ccc_queue_fetch_result(ccc_queue *q, const char *job_id,
                                               bool delete_after_fetch, ccc_buf *out,
                                               ccc_queue_info *info);

/*
 * Remove DONE and DEAD records older than result_ttl_ms. Call it
 * periodically (ccc-host: every minute). `*removed` (may be NULL) gets the
 * number removed. SQLite also runs a truncating WAL checkpoint, so dropped
 * payloads leave the -wal file too.
 */
CCC_MUST_USE ccc_status ccc_queue_expire(ccc_queue *q, uint64_t *removed);

/* Current gauges. */
CCC_MUST_USE ccc_status ccc_queue_metrics_get(ccc_queue *q, ccc_queue_metrics *m);

#endif /* CCC_QUEUE_H */
