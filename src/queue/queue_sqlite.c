/*
 * SQLite backend: one table, WAL mode, synchronous=FULL, one BEGIN IMMEDIATE
 * transaction per operation, prepared statements made once at open.
 * The schema and the reasons for the pragmas are in queue.h.
 */
#include "queue/queue_impl.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define SCHEMA_VERSION 1

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS ccc_jobs ("
    " id TEXT PRIMARY KEY, state INTEGER NOT NULL, attempt INTEGER NOT NULL,"
    " token TEXT, ftok TEXT, worker TEXT, payload BLOB, meta BLOB, result BLOB,"
    " fetched INTEGER NOT NULL, error INTEGER NOT NULL,"
    " payload_size INTEGER NOT NULL, result_size INTEGER NOT NULL,"
    " enqueued_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " visible_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ccc_jobs_ready ON ccc_jobs(state, visible_ms);"
    "CREATE INDEX IF NOT EXISTS ccc_jobs_expiry ON ccc_jobs(expires_ms) WHERE expires_ms > 0;"
    "PRAGMA user_version = 1;";

/* Every statement, prepared once. */
enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_GET,
    S_DELETE,
    S_INSERT,
    S_PICK,
    S_TAKE,
    S_LOAD,
    S_DEAD_LEASE,
    S_DONE,
    S_RETRY,
    S_DEAD,
    S_RESULT,
    S_RESULT_DROP,
    S_META,
    S_EXPIRE,
    S_METRICS,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_GET] = "SELECT state, attempt, token, ftok, error, fetched, payload_size, result_size,"
              " enqueued_ms, updated_ms, visible_ms, expires_ms, result IS NOT NULL"
              " FROM ccc_jobs WHERE id = ?1",
    [S_DELETE] = "DELETE FROM ccc_jobs WHERE id = ?1",
    [S_INSERT] = "INSERT INTO ccc_jobs (id, state, attempt, payload, meta, fetched, error,"
                 " payload_size, result_size, enqueued_ms, updated_ms, visible_ms, expires_ms)"
                 " VALUES (?1, 1, 0, ?2, ?3, 0, 0, ?4, 0, ?5, ?5, ?5, 0)",
    /* Ready: queued past its backoff, or processing past its lease. */
    [S_PICK] = "SELECT id, state, attempt FROM ccc_jobs"
               " WHERE state IN (1, 2) AND visible_ms <= ?1 ORDER BY visible_ms, rowid LIMIT 1",
    [S_TAKE] = "UPDATE ccc_jobs SET state = 2, attempt = attempt + 1, token = ?2, worker = ?3,"
               " updated_ms = ?4, visible_ms = ?5 WHERE id = ?1",
    [S_LOAD] = "SELECT attempt, payload, meta, enqueued_ms FROM ccc_jobs WHERE id = ?1",
    [S_DEAD_LEASE] = "UPDATE ccc_jobs SET state = 4, error = ?2, payload = NULL, meta = NULL,"
                     " updated_ms = ?3, visible_ms = 0, expires_ms = ?4 WHERE id = ?1",
    [S_DONE] = "UPDATE ccc_jobs SET state = 3, result = ?2, result_size = ?3, payload = NULL,"
               " updated_ms = ?4, visible_ms = 0, expires_ms = ?5 WHERE id = ?1",
    [S_RETRY] = "UPDATE ccc_jobs SET state = 1, error = ?2, ftok = ?3, updated_ms = ?4,"
                " visible_ms = ?5 WHERE id = ?1",
    [S_DEAD] = "UPDATE ccc_jobs SET state = 4, error = ?2, ftok = ?3, payload = NULL, meta = NULL,"
               " updated_ms = ?4, visible_ms = 0, expires_ms = ?5 WHERE id = ?1",
    [S_RESULT] = "SELECT result FROM ccc_jobs WHERE id = ?1",
    [S_RESULT_DROP] = "UPDATE ccc_jobs SET result = NULL, fetched = 1 WHERE id = ?1",
    [S_META] = "SELECT meta FROM ccc_jobs WHERE id = ?1 AND state IN (1, 2) AND payload IS NOT NULL",
    [S_EXPIRE] = "DELETE FROM ccc_jobs WHERE expires_ms > 0 AND expires_ms <= ?1",
    [S_METRICS] = "SELECT state, count(*) FROM ccc_jobs"
                  " WHERE state IN (1, 2) OR expires_ms > ?1 GROUP BY state",
};

typedef struct sq_queue {
    struct ccc_queue base; /* first: the vtable */
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
} sq_queue;

/* Map an SQLite result code to our classes (detail is a literal). */
static ccc_status sq_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        CCC_BAIL(CCC_ERR_BUSY, "queue database busy");
    case SQLITE_NOMEM:
        CCC_BAIL(CCC_ERR_NOMEM, "sqlite out of memory");
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        CCC_BAIL_NUM(CCC_ERR_IO, "queue database I/O error, sqlite code", rc);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        CCC_BAIL(CCC_ERR_IO, "queue database file is corrupt or not a database");
    default:
        CCC_BAIL_NUM(CCC_ERR_INTERNAL, "sqlite error code", rc);
    }
}

static sqlite3_stmt *use(sq_queue *s, int which)
{
    sqlite3_stmt *st = s->stmt[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Empty blobs must bind as zero-length blobs, not NULL. */
static int bind_bytes(sqlite3_stmt *st, int i, ccc_bytes b)
{
    if (b.size == 0)
        return sqlite3_bind_zeroblob(st, i, 0);
    return sqlite3_bind_blob64(st, i, b.ptr, b.size, SQLITE_STATIC);
}

/* Step a statement that returns no rows. */
static ccc_status step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_error(rc);
    return CCC_OK;
}

static ccc_status begin(sq_queue *s) { return step_done(use(s, S_BEGIN)); }

/* Commit, or roll back if `st` is an error; returns the first error. */
static ccc_status finish(sq_queue *s, ccc_status st)
{
    if (st == CCC_OK)
        st = step_done(use(s, S_COMMIT));
    if (st != CCC_OK && sqlite3_get_autocommit(s->db) == 0) {
        /* Keep the first error's detail: roll back without raising. */
        sqlite3_stmt *rb = use(s, S_ROLLBACK);
        (void)sqlite3_step(rb);
        sqlite3_reset(rb);
    }
    return st;
}

static ccc_status append_column(sqlite3_stmt *st, int col, ccc_buf *out)
{
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (n <= 0)
        return CCC_OK;
    CCC_ENSURE(p != NULL, CCC_ERR_NOMEM, "sqlite out of memory");
    return ccc_buf_append(out, p, (size_t)n);
}

typedef struct row {
    bool found;
    ccc_job_state state;
    uint32_t attempt;
    char token[CCC_QUEUE_TOKEN_SIZE + 1];
    char ftok[CCC_QUEUE_TOKEN_SIZE + 1];
    ccc_queue_info info;
} row;

static void copy_text(sqlite3_stmt *st, int col, char *out, size_t out_size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    out[0] = '\0';
    if (t != NULL) {
        size_t n = strlen((const char *)t);
        if (n < out_size)
            memcpy(out, t, n + 1);
    }
}

/* Read one job row; a record past its expiry counts as absent. */
static ccc_status get_row(sq_queue *s, const char *id, uint64_t now, row *r)
{
    memset(r, 0, sizeof *r);
    sqlite3_stmt *st = use(s, S_GET);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return CCC_OK;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return sq_error(rc);
    }
    int state = sqlite3_column_int(st, 0);
    ccc_queue_info *in = &r->info;
    in->state = (state >= 1 && state <= 4) ? (ccc_job_state)state : CCC_JOB_UNKNOWN;
    in->attempt = (uint32_t)sqlite3_column_int64(st, 1);
    copy_text(st, 2, r->token, sizeof r->token);
    copy_text(st, 3, r->ftok, sizeof r->ftok);
    int err = sqlite3_column_int(st, 4);
    in->error = (err > 0 && err < CCC_STATUS_COUNT) ? (ccc_status)err : CCC_OK;
    bool fetched = sqlite3_column_int(st, 5) != 0;
    in->payload_size = (size_t)sqlite3_column_int64(st, 6);
    in->result_size = (size_t)sqlite3_column_int64(st, 7);
    in->enqueued_ms = (uint64_t)sqlite3_column_int64(st, 8);
    in->updated_ms = (uint64_t)sqlite3_column_int64(st, 9);
    in->visible_ms = (uint64_t)sqlite3_column_int64(st, 10);
    in->expires_ms = (uint64_t)sqlite3_column_int64(st, 11);
    in->result_available = in->state == CCC_JOB_DONE && !fetched && sqlite3_column_int(st, 12);
    sqlite3_reset(st);
    if (in->expires_ms != 0 && in->expires_ms <= now) {
        memset(r, 0, sizeof *r); /* expired, not yet swept: gone */
        r->found = false;
        r->info.state = CCC_JOB_UNKNOWN;
        return CCC_OK;
    }
    r->found = in->state != CCC_JOB_UNKNOWN;
    r->state = in->state;
    r->attempt = in->attempt;
    return CCC_OK;
}

static ccc_status sq_enqueue(ccc_queue *q, const char *id, ccc_bytes payload, ccc_bytes meta,
                             const char *enq_token, uint64_t now, bool *dup, ccc_job_state *state)
{
    (void)enq_token; /* a local transaction cannot lose its reply */
    sq_queue *s = (sq_queue *)q;
    ccc_status st = begin(s);
    if (st != CCC_OK)
        return st;
    row r;
    CCC_TRY(get_row(s, id, now, &r));
    if (r.found) {
        *dup = true;
        *state = r.state;
        goto out;
    }
    /* An expired record not yet swept gives way to the new job. */
    sqlite3_stmt *del = use(s, S_DELETE);
    sqlite3_bind_text(del, 1, id, -1, SQLITE_STATIC);
    CCC_TRY(step_done(del));
    sqlite3_stmt *ins = use(s, S_INSERT);
    sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
    bind_bytes(ins, 2, payload);
    bind_bytes(ins, 3, meta);
    sqlite3_bind_int64(ins, 4, (sqlite3_int64)payload.size);
    sqlite3_bind_int64(ins, 5, (sqlite3_int64)now);
    CCC_TRY(step_done(ins));
    *dup = false;
    *state = CCC_JOB_QUEUED;
out:
    return finish(s, st);
}

static ccc_status sq_claim(ccc_queue *q, const char *worker, const char *token, uint64_t now,
                           ccc_queue_job *job, bool *claimed)
{
    sq_queue *s = (sq_queue *)q;
    ccc_status st = begin(s);
    if (st != CCC_OK)
        return st;
    for (;;) {
        sqlite3_stmt *pick = use(s, S_PICK);
        sqlite3_bind_int64(pick, 1, (sqlite3_int64)now);
        int rc = sqlite3_step(pick);
        if (rc == SQLITE_DONE) {
            sqlite3_reset(pick);
            goto out; /* nothing ready */
        }
        if (rc != SQLITE_ROW) {
            sqlite3_reset(pick);
            st = sq_error(rc);
            goto out;
        }
        copy_text(pick, 0, job->id, sizeof job->id);
        int state = sqlite3_column_int(pick, 1);
        uint32_t attempt = (uint32_t)sqlite3_column_int64(pick, 2);
        sqlite3_reset(pick);
        CCC_CHECK(job->id[0] != '\0', CCC_ERR_INTERNAL, "queue row without id");
        if (state == CCC_JOB_PROCESSING && attempt >= q->opts.max_attempts) {
            /* Its worker died on the last attempt: dead letter, look on. */
            sqlite3_stmt *dl = use(s, S_DEAD_LEASE);
            sqlite3_bind_text(dl, 1, job->id, -1, SQLITE_STATIC);
            sqlite3_bind_int(dl, 2, CCC_ERR_IO);
            sqlite3_bind_int64(dl, 3, (sqlite3_int64)now);
            sqlite3_bind_int64(dl, 4, (sqlite3_int64)(now + q->opts.result_ttl_ms));
            CCC_TRY(step_done(dl));
            ccc_queue_log_dead(job->id, attempt, CCC_ERR_IO);
            continue;
        }
        sqlite3_stmt *take = use(s, S_TAKE);
        sqlite3_bind_text(take, 1, job->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(take, 2, token, -1, SQLITE_STATIC);
        sqlite3_bind_text(take, 3, worker, -1, SQLITE_STATIC);
        sqlite3_bind_int64(take, 4, (sqlite3_int64)now);
        sqlite3_bind_int64(take, 5, (sqlite3_int64)(now + q->opts.visibility_timeout_ms));
        CCC_TRY(step_done(take));
        sqlite3_stmt *load = use(s, S_LOAD);
        sqlite3_bind_text(load, 1, job->id, -1, SQLITE_STATIC);
        rc = sqlite3_step(load);
        if (rc != SQLITE_ROW) {
            sqlite3_reset(load);
            st = sq_error(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
            goto out;
        }
        job->attempt = (uint32_t)sqlite3_column_int64(load, 0);
        job->enqueued_ms = (uint64_t)sqlite3_column_int64(load, 3);
        st = append_column(load, 1, &job->payload);
        if (st == CCC_OK)
            st = append_column(load, 2, &job->meta);
        sqlite3_reset(load);
        if (st != CCC_OK)
            goto out;
        memcpy(job->token, token, CCC_QUEUE_TOKEN_SIZE + 1);
        *claimed = true;
        goto out;
    }
out:
    return finish(s, st);
}

/* The token rules shared by complete and fail (see queue.h). */
static ccc_queue_outcome judge(const row *r, const char *token, bool is_fail)
{
    if (!r->found)
        return CCC_QO_UNKNOWN;
    if (r->state == CCC_JOB_PROCESSING && strcmp(r->token, token) == 0)
        return CCC_QO_APPLIED;
    if (!is_fail && r->state == CCC_JOB_DONE && strcmp(r->token, token) == 0)
        return CCC_QO_REPEATED;
    if (is_fail && (r->state == CCC_JOB_QUEUED || r->state == CCC_JOB_DEAD) &&
        strcmp(r->token, token) == 0 && strcmp(r->ftok, token) == 0)
        return CCC_QO_REPEATED;
    return CCC_QO_STALE;
}

/* BEGIN, read the row and judge the token; on CCC_OK the caller finishes
   the transaction, on an error it is already rolled back. */
static ccc_status begin_judged(sq_queue *s, const char *id, const char *token, uint64_t now,
                               bool is_fail, row *r, ccc_queue_outcome *oc)
{
    CCC_GUARD(begin(s));
    ccc_status st = get_row(s, id, now, r);
    if (st != CCC_OK)
        return finish(s, st);
    *oc = judge(r, token, is_fail);
    return CCC_OK;
}

static ccc_status sq_complete(ccc_queue *q, const char *id, const char *token, ccc_bytes result,
                              uint64_t now, ccc_queue_outcome *oc, uint32_t *attempt)
{
    sq_queue *s = (sq_queue *)q;
    row r;
    ccc_status st = begin_judged(s, id, token, now, false, &r, oc);
    if (st != CCC_OK)
        return st;
    *attempt = r.attempt;
    if (*oc != CCC_QO_APPLIED)
        goto out;
    sqlite3_stmt *d = use(s, S_DONE);
    sqlite3_bind_text(d, 1, id, -1, SQLITE_STATIC);
    bind_bytes(d, 2, result);
    sqlite3_bind_int64(d, 3, (sqlite3_int64)result.size);
    sqlite3_bind_int64(d, 4, (sqlite3_int64)now);
    sqlite3_bind_int64(d, 5, (sqlite3_int64)(now + q->opts.result_ttl_ms));
    CCC_TRY(step_done(d));
out:
    return finish(s, st);
}

static ccc_status sq_fail(ccc_queue *q, const char *id, const char *token, ccc_status error,
                          uint64_t now, ccc_queue_outcome *oc, ccc_job_state *state,
                          uint32_t *attempt)
{
    sq_queue *s = (sq_queue *)q;
    row r;
    ccc_status st = begin_judged(s, id, token, now, true, &r, oc);
    if (st != CCC_OK)
        return st;
    *attempt = r.attempt;
    *state = r.state;
    if (*oc != CCC_QO_APPLIED)
        goto out;
    bool dead = r.attempt >= q->opts.max_attempts;
    sqlite3_stmt *u = use(s, dead ? S_DEAD : S_RETRY);
    sqlite3_bind_text(u, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(u, 2, (int)error);
    sqlite3_bind_text(u, 3, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(u, 4, (sqlite3_int64)now);
    sqlite3_bind_int64(u, 5,
                       (sqlite3_int64)(dead ? now + q->opts.result_ttl_ms
                                            : now + ccc_queue_backoff_ms(&q->opts, r.attempt)));
    CCC_TRY(step_done(u));
    *state = dead ? CCC_JOB_DEAD : CCC_JOB_QUEUED;
out:
    return finish(s, st);
}

static ccc_status sq_meta(ccc_queue *q, const char *id, ccc_buf *out)
{
    sq_queue *s = (sq_queue *)q;
    sqlite3_stmt *g = use(s, S_META);
    sqlite3_bind_text(g, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(g);
    ccc_status st = rc == SQLITE_ROW    ? append_column(g, 0, out)
                    : rc == SQLITE_DONE ? ccc_error_raise(CCC_ERR_NOT_FOUND, "no such waiting job",
                                                          false, 0, __FILE__, __LINE__)
                                        : sq_error(rc);
    sqlite3_reset(g);
    return st;
}

static ccc_status sq_status(ccc_queue *q, const char *id, uint64_t now, ccc_queue_info *info,
                            ccc_buf *out, bool del)
{
    sq_queue *s = (sq_queue *)q;
    ccc_status st = begin(s);
    if (st != CCC_OK)
        return st;
    row r;
    CCC_TRY(get_row(s, id, now, &r));
    *info = r.info;
    if (out == NULL || !r.info.result_available)
        goto out;
    sqlite3_stmt *g = use(s, S_RESULT);
    sqlite3_bind_text(g, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(g);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(g);
        st = sq_error(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
        goto out;
    }
    st = append_column(g, 0, out);
    sqlite3_reset(g);
    if (st != CCC_OK || !del)
        goto out;
    sqlite3_stmt *drop = use(s, S_RESULT_DROP);
    sqlite3_bind_text(drop, 1, id, -1, SQLITE_STATIC);
    CCC_TRY(step_done(drop));
out:
    return finish(s, st);
}

static ccc_status sq_expire(ccc_queue *q, uint64_t now, uint64_t *removed)
{
    sq_queue *s = (sq_queue *)q;
    ccc_status st = begin(s);
    if (st != CCC_OK)
        return st;
    sqlite3_stmt *e = use(s, S_EXPIRE);
    sqlite3_bind_int64(e, 1, (sqlite3_int64)now);
    CCC_TRY(step_done(e));
    *removed = (uint64_t)sqlite3_changes64(s->db);
out:
    st = finish(s, st);
    if (st == CCC_OK) {
        /* Truncate the WAL so dropped payloads leave it too; readers in other
           processes may keep it busy, which is fine (next sweep). */
        (void)sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    return st;
}

static ccc_status sq_metrics(ccc_queue *q, uint64_t now, ccc_queue_metrics *m)
{
    sq_queue *s = (sq_queue *)q;
    sqlite3_stmt *st = use(s, S_METRICS);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
        switch (sqlite3_column_int(st, 0)) {
        case CCC_JOB_QUEUED:
            m->queued = n;
            break;
        case CCC_JOB_PROCESSING:
            m->processing = n;
            break;
        case CCC_JOB_DONE:
            m->done = n;
            break;
        case CCC_JOB_DEAD:
            m->dead = n;
            break;
        default:
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_error(rc);
    return CCC_OK;
}

static void sq_free(ccc_queue *q)
{
    sq_queue *s = (sq_queue *)q;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db != NULL) {
        (void)sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(s->db);
    }
    free(s);
}

static ccc_status exec(sq_queue *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CCC_OK : sq_error(rc);
}

/* Read one integer/text pragma answer. */
static ccc_status pragma_text(sq_queue *s, const char *sql, char *out, size_t out_size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_error(rc);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        copy_text(st, 0, out, out_size);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_error(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
    return CCC_OK;
}

static ccc_status sq_setup(sq_queue *s, const ccc_queue_opts *o)
{
    sqlite3_busy_timeout(s->db, (int)o->io_timeout_ms);
    sqlite3_extended_result_codes(s->db, 1);
    char mode[16];
    CCC_GUARD(pragma_text(s, "PRAGMA journal_mode=WAL", mode, sizeof mode));
    CCC_ENSURE(strcmp(mode, "wal") == 0, CCC_ERR_IO, "queue database cannot use WAL mode");
    CCC_GUARD(exec(s, "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
                      " PRAGMA journal_size_limit=4194304; PRAGMA trusted_schema=OFF;"));
    CCC_GUARD(exec(s, "BEGIN IMMEDIATE"));
    char ver[16];
    ccc_status st = pragma_text(s, "PRAGMA user_version", ver, sizeof ver);
    if (st == CCC_OK && atoi(ver) > SCHEMA_VERSION)
        st = ccc_error_raise(CCC_ERR_UNSUPPORTED, "queue database schema is newer than this build",
                             false, 0, __FILE__, __LINE__);
    if (st == CCC_OK)
        st = exec(s, schema_sql);
    if (st == CCC_OK)
        st = exec(s, "COMMIT");
    if (st != CCC_OK) {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    for (int i = 0; i < S_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                                    NULL);
        if (rc != SQLITE_OK)
            return sq_error(rc);
    }
    return CCC_OK;
}

static ccc_status sq_open(const char *path, const ccc_queue_opts *o, ccc_queue **out)
{
    /* Create the file 0600 ourselves: SQLite would make it 0644, and its
       -wal and -shm files copy the database file's mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    CCC_ENSURE(fd >= 0, CCC_ERR_IO, "cannot open queue database file");
    close(fd);
    sq_queue *s = calloc(1, sizeof *s);
    CCC_ENSURE(s != NULL, CCC_ERR_NOMEM, "out of memory");
    ccc_status st = CCC_OK;
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = sq_error(rc);
        goto out;
    }
    CCC_TRY(sq_setup(s, o));
    *out = &s->base;
out:
    if (st != CCC_OK) {
        s->base.vtable = &ccc_queue_sqlite_class;
        sq_free(&s->base);
    }
    return st;
}

const ccc_queue_class ccc_queue_sqlite_class = {
    .name = "sqlite",
    .open = sq_open,
    .free = sq_free,
    .enqueue = sq_enqueue,
    .claim = sq_claim,
    .complete = sq_complete,
    .fail = sq_fail,
    .status = sq_status,
    .meta = sq_meta,
    .expire = sq_expire,
    .metrics = sq_metrics,
};
