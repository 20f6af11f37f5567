/*
 * Redis backend (hiredis): a stream with a consumer group carries job ids,
 * hashes hold the jobs, and every state change is one Lua script, so it is
 * atomic against every other host sharing the queue. Key layout in queue.h.
 *
 * Redis commands used, as the Redis docs describe them:
 *   XREADGROUP ... STREAMS s >   "messages never delivered to other consumers"
 *   XAUTOCLAIM s g c min-idle    "transfers ownership of pending stream entries
 *                                 that match the specified criteria" (idle >=
 *                                 min-idle): our lease expiry.
 *   XACK, XDEL                   the entry is finished and removed.
 */
#include "queue/queue_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#define GROUP "workers"

/* Lua helpers shared by the scripts: s() prints an integer without a
   fractional part or exponent (Lua numbers are doubles). */
#define LUA_PRELUDE "local function s(n) return string.format('%d', n) end\n"

/* Outcome codes returned by complete/fail match ccc_queue_outcome. */

/* KEYS: stream stats done dead. ARGV: jobkey id payload meta now etok. */
static const char enqueue_lua[] = LUA_PRELUDE
    "local jk, now = ARGV[1], tonumber(ARGV[5])\n"
    "local h = redis.call('HMGET', jk, 'state', 'etok', 'exp')\n"
    "if h[1] then\n"
    "  local exp = tonumber(h[3] or '0')\n"
    "  if exp > 0 and exp <= now then redis.call('DEL', jk)\n"
    "  elseif h[2] == ARGV[6] then return {0, tonumber(h[1])}\n" /* our own retry */
    "  else return {1, tonumber(h[1])} end\n"
    "end\n"
    "redis.call('HSET', jk, 'state', 1, 'attempt', 0, 'payload', ARGV[3], 'meta', ARGV[4],\n"
    "  'psize', #ARGV[3], 'rsize', 0, 'enq', ARGV[5], 'upd', ARGV[5], 'vis', ARGV[5],\n"
    "  'exp', 0, 'error', 0, 'fetched', 0, 'etok', ARGV[6])\n"
    "local eid = redis.call('XADD', KEYS[1], '*', 'id', ARGV[2])\n"
    "redis.call('HSET', jk, 'entry', eid)\n"
    "redis.call('HINCRBY', KEYS[2], 'queued', 1)\n"
    "redis.call('ZREM', KEYS[3], ARGV[2])\n"
    "redis.call('ZREM', KEYS[4], ARGV[2])\n"
    "return {0, 1}\n";

/*
 * KEYS: stream delayed stats dead.
 * ARGV: jobprefix group consumer now vis token max ttl err_io.
 * Returns {dead = {id, attempt, ...}, job = {} or {id, attempt, payload, meta, enq}}.
 */
static const char claim_lua[] = LUA_PRELUDE
    "local P, G, C = ARGV[1], ARGV[2], ARGV[3]\n"
    "local now, vis, max, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7]), "
    "tonumber(ARGV[8])\n"
    "local dead = {}\n"
    /* 1. failed jobs whose backoff is over go back on the stream */
    "local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)\n"
    "for _, id in ipairs(due) do\n"
    "  if redis.call('HGET', P .. id, 'state') == '1' then\n"
    "    redis.call('HSET', P .. id, 'entry', redis.call('XADD', KEYS[1], '*', 'id', id))\n"
    "  end\n"
    "  redis.call('ZREM', KEYS[2], id)\n"
    "end\n"
    "local function drop(eid)\n"
    "  redis.call('XACK', KEYS[1], G, eid)\n"
    "  redis.call('XDEL', KEYS[1], eid)\n"
    "end\n"
    "local function take(eid, fields)\n"
    "  local id = nil\n"
    "  if fields then for i = 1, #fields, 2 do if fields[i] == 'id' then id = fields[i + 1] end "
    "end end\n"
    "  if not id then drop(eid) return nil end\n"
    "  local jk = P .. id\n"
    "  local h = redis.call('HMGET', jk, 'state', 'attempt', 'entry')\n"
    "  if (h[1] ~= '1' and h[1] ~= '2') or h[3] ~= eid then drop(eid) return nil end\n"
    "  local attempt = tonumber(h[2])\n"
    "  if h[1] == '2' and attempt >= max then\n" /* worker died on the last attempt */
    "    drop(eid)\n"
    "    redis.call('HSET', jk, 'state', 4, 'error', ARGV[9], 'upd', ARGV[4], 'vis', 0, 'exp', "
    "s(now + ttl))\n"
    "    redis.call('HDEL', jk, 'payload', 'meta', 'entry')\n"
    "    redis.call('PEXPIREAT', jk, s(now + ttl))\n"
    "    redis.call('ZADD', KEYS[4], s(now + ttl), id)\n"
    "    redis.call('HINCRBY', KEYS[3], 'processing', -1)\n"
    "    table.insert(dead, id) table.insert(dead, attempt)\n"
    "    return nil\n"
    "  end\n"
    "  if h[1] == '1' then\n"
    "    redis.call('HINCRBY', KEYS[3], 'queued', -1)\n"
    "    redis.call('HINCRBY', KEYS[3], 'processing', 1)\n"
    "  end\n"
    "  attempt = attempt + 1\n"
    "  redis.call('HSET', jk, 'state', 2, 'attempt', attempt, 'token', ARGV[6], 'worker', C,\n"
    "    'upd', ARGV[4], 'vis', s(now + vis))\n"
    "  local j = redis.call('HMGET', jk, 'payload', 'meta', 'enq')\n"
    "  return {id, attempt, j[1] or '', j[2] or '', tonumber(j[3] or '0')}\n"
    "end\n"
    /* 2. a lease that ran out (worker died): XAUTOCLAIM with min-idle = vis */
    "local cursor = '0-0'\n"
    "for i = 1, 100 do\n"
    "  local r = redis.call('XAUTOCLAIM', KEYS[1], G, C, vis, cursor, 'COUNT', 1)\n"
    "  cursor = r[1]\n"
    "  for _, e in ipairs(r[2]) do\n"
    "    local got = take(e[1], e[2])\n"
    "    if got then return {dead, got} end\n"
    "  end\n"
    "  if cursor == '0-0' then break end\n"
    "end\n"
    /* 3. a new entry */
    "for i = 1, 100 do\n"
    "  local r = redis.call('XREADGROUP', 'GROUP', G, C, 'COUNT', 1, 'STREAMS', KEYS[1], '>')\n"
    "  if not r or not r[1] or #r[1][2] == 0 then break end\n"
    "  for _, e in ipairs(r[1][2]) do\n"
    "    local got = take(e[1], e[2])\n"
    "    if got then return {dead, got} end\n"
    "  end\n"
    "end\n"
    "return {dead, {}}\n";

/* Token rules (queue.h). KEYS: stream stats done. ARGV: jobkey id token result now ttl group. */
static const char complete_lua[] = LUA_PRELUDE
    "local jk, now, ttl = ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local h = redis.call('HMGET', jk, 'state', 'token', 'entry', 'attempt', 'exp')\n"
    "if not h[1] then return {3, 0} end\n"
    "local exp = tonumber(h[5] or '0')\n"
    "if exp > 0 and exp <= now then return {3, 0} end\n"
    "local att = tonumber(h[4] or '0')\n"
    "if h[2] ~= ARGV[3] then return {2, att} end\n"
    "if h[1] == '3' then return {1, att} end\n"
    "if h[1] ~= '2' then return {2, att} end\n"
    "if h[3] then redis.call('XACK', KEYS[1], ARGV[7], h[3]) redis.call('XDEL', KEYS[1], h[3]) "
    "end\n"
    "redis.call('HSET', jk, 'state', 3, 'result', ARGV[4], 'rsize', #ARGV[4], 'upd', ARGV[5],\n"
    "  'vis', 0, 'exp', s(now + ttl))\n"
    "redis.call('HDEL', jk, 'payload', 'entry')\n"
    "redis.call('PEXPIREAT', jk, s(now + ttl))\n"
    "redis.call('HINCRBY', KEYS[2], 'processing', -1)\n"
    "redis.call('ZADD', KEYS[3], s(now + ttl), ARGV[2])\n"
    "return {0, att}\n";

/* KEYS: stream stats delayed dead. ARGV: jobkey id token error now ttl group max unit. */
static const char fail_lua[] = LUA_PRELUDE
    "local jk, now, ttl = ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local max, unit = tonumber(ARGV[8]), tonumber(ARGV[9])\n"
    "local h = redis.call('HMGET', jk, 'state', 'token', 'entry', 'attempt', 'exp', 'ftok')\n"
    "if not h[1] then return {3, 0, 0} end\n"
    "local exp = tonumber(h[5] or '0')\n"
    "if exp > 0 and exp <= now then return {3, 0, 0} end\n"
    "local att = tonumber(h[4] or '0')\n"
    "if h[2] ~= ARGV[3] then return {2, att, tonumber(h[1])} end\n"
    "if (h[1] == '1' or h[1] == '4') and h[6] == ARGV[3] then return {1, att, tonumber(h[1])} end\n"
    "if h[1] ~= '2' then return {2, att, tonumber(h[1])} end\n"
    "if h[3] then redis.call('XACK', KEYS[1], ARGV[7], h[3]) redis.call('XDEL', KEYS[1], h[3]) "
    "end\n"
    "redis.call('HDEL', jk, 'entry')\n"
    "redis.call('HINCRBY', KEYS[2], 'processing', -1)\n"
    "if att >= max then\n"
    "  redis.call('HSET', jk, 'state', 4, 'error', ARGV[4], 'ftok', ARGV[3], 'upd', ARGV[5],\n"
    "    'vis', 0, 'exp', s(now + ttl))\n"
    "  redis.call('HDEL', jk, 'payload', 'meta')\n"
    "  redis.call('PEXPIREAT', jk, s(now + ttl))\n"
    "  redis.call('ZADD', KEYS[4], s(now + ttl), ARGV[2])\n"
    "  return {0, att, 4}\n"
    "end\n"
    "local nb = now + unit * (2 ^ att)\n"
    "redis.call('HSET', jk, 'state', 1, 'error', ARGV[4], 'ftok', ARGV[3], 'upd', ARGV[5], 'vis', "
    "s(nb))\n"
    "redis.call('ZADD', KEYS[3], s(nb), ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[2], 'queued', 1)\n"
    "return {0, att, 1}\n";

/*
 * ARGV: jobkey now want del cap. Returns {} if absent, else
 * {state attempt error avail psize rsize enq upd vis exp result|false over}.
 */
static const char status_lua[] =
    "local jk, now = ARGV[1], tonumber(ARGV[2])\n"
    "local h = redis.call('HMGET', jk, 'state', 'attempt', 'error', 'fetched', 'psize', 'rsize',\n"
    "  'enq', 'upd', 'vis', 'exp')\n"
    "if not h[1] then return {} end\n"
    "local exp = tonumber(h[10] or '0')\n"
    "if exp > 0 and exp <= now then return {} end\n"
    "local avail = 0\n"
    "if h[1] == '3' and h[4] ~= '1' and redis.call('HEXISTS', jk, 'result') == 1 then avail = 1 "
    "end\n"
    "local res, over = false, 0\n"
    "if ARGV[3] == '1' and avail == 1 then\n"
    "  if tonumber(h[6] or '0') > tonumber(ARGV[5]) then over = 1\n"
    "  else\n"
    "    res = redis.call('HGET', jk, 'result')\n"
    "    if ARGV[4] == '1' then redis.call('HDEL', jk, 'result') redis.call('HSET', jk, 'fetched', "
    "1) end\n"
    "  end\n"
    "end\n"
    "local out = {}\n"
    "for i, k in ipairs({1, 2, 3}) do out[i] = tonumber(h[k] or '0') end\n"
    "out[4] = avail\n"
    "for i = 5, 10 do out[i] = tonumber(h[i] or '0') end\n"
    "out[11] = res\n"
    "out[12] = over\n"
    "return out\n";

/* KEYS: done dead. ARGV: jobprefix now. At most 1000 ids per zset per call. */
static const char expire_lua[] =
    "local P, now, n = ARGV[1], tonumber(ARGV[2]), 0\n"
    "for _, z in ipairs(KEYS) do\n"
    "  for _, id in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, 1000)) do\n"
    "    local st = redis.call('HGET', P .. id, 'state')\n"
    "    if st ~= '1' and st ~= '2' then redis.call('DEL', P .. id) n = n + 1 end\n"
    "    redis.call('ZREM', z, id)\n"
    "  end\n"
    "end\n"
    "return n\n";

/* KEYS: stats done dead. ARGV: now. */
static const char metrics_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'queued', 'processing')\n"
    "local lo = '(' .. ARGV[1]\n"
    "return {tonumber(h[1] or '0'), tonumber(h[2] or '0'),\n"
    "  redis.call('ZCOUNT', KEYS[2], lo, '+inf'), redis.call('ZCOUNT', KEYS[3], lo, '+inf')}\n";

enum { K_STREAM, K_DELAYED, K_STATS, K_DONE, K_DEAD, K_JOB, K_COUNT };
static const char *const key_suffix[K_COUNT] = {"stream", "delayed", "stats",
                                                "done",   "dead",    "job:"};

typedef struct rd_queue {
    struct ccc_queue base; /* first: the vtable */
    redisContext *c;
    char host[256];
    int port;
    int db;
    char key[K_COUNT][160];
} rd_queue;

/* ---- connection ---------------------------------------------------------- */

static void rd_drop(rd_queue *r)
{
    if (r->c != NULL)
        redisFree(r->c);
    r->c = NULL;
}

/* Run a simple command during connect; error replies matching `ok_err` pass. */
static ccc_status rd_setup_cmd(rd_queue *r, int argc, const char **argv, const char *ok_err)
{
    redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
    CCC_ENSURE(rep != NULL, CCC_ERR_IO, "redis connection lost during set-up");
    ccc_status st = CCC_OK;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (strncmp(rep->str, "LOADING", 7) == 0)
            st = ccc_error_raise(CCC_ERR_BUSY, "redis is loading its data", false, 0, __FILE__,
                                 __LINE__);
        else if (ok_err == NULL || strstr(rep->str, ok_err) == NULL)
            st = ccc_error_raise(CCC_ERR_IO, "redis refused set-up command", false, 0, __FILE__,
                                 __LINE__);
    }
    freeReplyObject(rep);
    return st;
}

static ccc_status rd_connect(rd_queue *r)
{
    rd_drop(r);
    uint32_t ms = r->base.opts.io_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u)};
    r->c = redisConnectWithTimeout(r->host, r->port, tv);
    if (r->c == NULL || r->c->err != 0) {
        rd_drop(r);
        CCC_BAIL(CCC_ERR_IO, "cannot connect to redis");
    }
    ccc_status st = CCC_OK;
    if (redisSetTimeout(r->c, tv) != REDIS_OK || redisEnableKeepAlive(r->c) != REDIS_OK)
        CCC_FAIL(CCC_ERR_IO, "cannot configure the redis socket");
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        const char *sel[] = {"SELECT", db};
        CCC_TRY(rd_setup_cmd(r, 2, sel, NULL));
    }
    /* "0": a new group reads the stream from its start, so entries added
       before the group existed are not skipped. */
    const char *grp[] = {"XGROUP", "CREATE", r->key[K_STREAM], GROUP, "0", "MKSTREAM"};
    CCC_TRY(rd_setup_cmd(r, 6, grp, "BUSYGROUP"));
out:
    if (st != CCC_OK)
        rd_drop(r);
    return st;
}

/*
 * Send one command. A connection failure (no reply) drops the connection,
 * reconnects once and retries; a NOGROUP error (the server lost the group)
 * is handled the same way, since connecting re-creates the group. An error
 * reply otherwise is CCC_ERR_BUSY (loading, out of memory) or CCC_ERR_IO.
 */
static ccc_status rd_call(rd_queue *r, int argc, const char **argv, const size_t *lens,
                          redisReply **out)
{
    *out = NULL;
    ccc_status st = CCC_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (r->c == NULL) {
            st = rd_connect(r);
            if (st != CCC_OK)
                continue;
        }
        redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
        if (rep == NULL) {
            rd_drop(r);
            st = ccc_error_raise(CCC_ERR_IO, "redis connection failed", false, 0, __FILE__,
                                 __LINE__);
            continue;
        }
        if (rep->type != REDIS_REPLY_ERROR) {
            *out = rep;
            return CCC_OK;
        }
        bool nogroup = strstr(rep->str, "NOGROUP") != NULL;
        bool loading = strncmp(rep->str, "LOADING", 7) == 0;
        bool oom = strncmp(rep->str, "OOM", 3) == 0;
        freeReplyObject(rep);
        if (nogroup) {
            rd_drop(r);
            st = ccc_error_raise(CCC_ERR_IO, "redis consumer group missing", false, 0, __FILE__,
                                 __LINE__);
            continue;
        }
        if (loading)
            CCC_BAIL(CCC_ERR_BUSY, "redis is loading its data");
        if (oom)
            CCC_BAIL(CCC_ERR_BUSY, "redis is out of memory");
        CCC_BAIL(CCC_ERR_IO, "redis returned an error");
    }
    return st;
}

/* EVAL script with `nkeys` of our keys and string/binary args. */
#define MAX_ARGS 16
static ccc_status rd_eval(rd_queue *r, const char *script, const int *keys, int nkeys,
                          const ccc_bytes *args, int nargs, redisReply **out)
{
    const char *argv[3 + MAX_ARGS];
    size_t lens[3 + MAX_ARGS];
    char nk[8];
    CCC_ENSURE(nkeys + nargs <= MAX_ARGS, CCC_ERR_INTERNAL, "too many script arguments");
    snprintf(nk, sizeof nk, "%d", nkeys);
    int n = 0;
    argv[n] = "EVAL", lens[n++] = 4;
    argv[n] = script, lens[n++] = strlen(script);
    argv[n] = nk, lens[n++] = strlen(nk);
    for (int i = 0; i < nkeys; i++)
        argv[n] = r->key[keys[i]], lens[n++] = strlen(r->key[keys[i]]);
    for (int i = 0; i < nargs; i++)
        argv[n] = args[i].size ? (const char *)args[i].ptr : "", lens[n++] = args[i].size;
    return rd_call(r, n, argv, lens, out);
}

/* ---- reply helpers --------------------------------------------------------- */

static ccc_bytes str_arg(const char *s) { return ccc_bytes_of(s, strlen(s)); }

static bool rep_int(const redisReply *e, long long *v)
{
    if (e == NULL)
        return false;
    if (e->type == REDIS_REPLY_INTEGER) {
        *v = e->integer;
        return true;
    }
    if (e->type == REDIS_REPLY_STRING && e->len > 0 && e->len < 24) {
        char *end = NULL;
        *v = strtoll(e->str, &end, 10);
        return end == e->str + e->len;
    }
    return false;
}

static bool rep_array(const redisReply *e, size_t min_count)
{
    return e != NULL && e->type == REDIS_REPLY_ARRAY && e->elements >= min_count;
}

#define BAD_REPLY(rep)                                                                             \
    do {                                                                                           \
        freeReplyObject(rep);                                                                      \
        CCC_BAIL(CCC_ERR_INTERNAL, "unexpected reply from a queue script");                        \
    } while (0)

/* The job key of an id, as one argument. */
static ccc_status job_key(const rd_queue *r, const char *id,
                          char out[static 160 + CCC_QUEUE_ID_MAX + 1])
{
    int n = snprintf(out, 160 + CCC_QUEUE_ID_MAX + 1, "%s%s", r->key[K_JOB], id);
    CCC_ENSURE(n > 0 && n < 160 + CCC_QUEUE_ID_MAX + 1, CCC_ERR_INTERNAL, "job key too long");
    return CCC_OK;
}

static void u64_str(uint64_t v, char out[24]) { snprintf(out, 24, "%llu", (unsigned long long)v); }

/* ---- operations ------------------------------------------------------------ */

static ccc_status rd_enqueue(ccc_queue *q, const char *id, ccc_bytes payload, ccc_bytes meta,
                             const char *enq_token, uint64_t now, bool *dup, ccc_job_state *state)
{
    rd_queue *r = (rd_queue *)q;
    char jk[160 + CCC_QUEUE_ID_MAX + 1], nows[24];
    CCC_GUARD(job_key(r, id, jk));
    u64_str(now, nows);
    static const int keys[] = {K_STREAM, K_STATS, K_DONE, K_DEAD};
    const ccc_bytes args[] = {str_arg(jk), str_arg(id),   payload,
                              meta,        str_arg(nows), str_arg(enq_token)};
    redisReply *rep = NULL;
    CCC_GUARD(rd_eval(r, enqueue_lua, keys, 4, args, 6, &rep));
    long long d, s;
    if (!rep_array(rep, 2) || !rep_int(rep->element[0], &d) || !rep_int(rep->element[1], &s) ||
        s < 1 || s > 4)
        BAD_REPLY(rep);
    freeReplyObject(rep);
    *dup = d != 0;
    *state = (ccc_job_state)s;
    return CCC_OK;
}

static ccc_status copy_str(const redisReply *e, ccc_buf *out)
{
    CCC_ENSURE(e != NULL && e->type == REDIS_REPLY_STRING, CCC_ERR_INTERNAL,
               "unexpected reply from a queue script");
    return ccc_buf_append(out, e->str, e->len);
}

static ccc_status rd_claim(ccc_queue *q, const char *worker, const char *token, uint64_t now,
                           ccc_queue_job *job, bool *claimed)
{
    rd_queue *r = (rd_queue *)q;
    char nows[24], vis[24], maxs[24], ttl[24], errio[8];
    u64_str(now, nows);
    u64_str(q->opts.visibility_timeout_ms, vis);
    u64_str(q->opts.max_attempts, maxs);
    u64_str(q->opts.result_ttl_ms, ttl);
    snprintf(errio, sizeof errio, "%d", (int)CCC_ERR_IO);
    static const int keys[] = {K_STREAM, K_DELAYED, K_STATS, K_DEAD};
    const ccc_bytes args[] = {str_arg(r->key[K_JOB]), str_arg(GROUP), str_arg(worker),
                              str_arg(nows),          str_arg(vis),   str_arg(token),
                              str_arg(maxs),          str_arg(ttl),   str_arg(errio)};
    redisReply *rep = NULL;
    CCC_GUARD(rd_eval(r, claim_lua, keys, 4, args, 9, &rep));
    if (!rep_array(rep, 2) || !rep_array(rep->element[0], 0) || !rep_array(rep->element[1], 0))
        BAD_REPLY(rep);
    /* Dead letters made on the way (leases that ran out at the last try). */
    const redisReply *dead = rep->element[0];
    for (size_t i = 0; i + 1 < dead->elements; i += 2) {
        long long a = 0;
        const redisReply *e = dead->element[i];
        if (e->type == REDIS_REPLY_STRING && ccc_queue_name_ok(e->str, CCC_QUEUE_ID_MAX) &&
            rep_int(dead->element[i + 1], &a))
            ccc_queue_log_dead(e->str, (uint32_t)a, CCC_ERR_IO);
    }
    const redisReply *j = rep->element[1];
    ccc_status st = CCC_OK;
    if (j->elements == 0)
        goto out;
    long long attempt, enq;
    const redisReply *idr = rep_array(j, 5) ? j->element[0] : NULL;
    CCC_CHECK(idr != NULL && idr->type == REDIS_REPLY_STRING && idr->len <= CCC_QUEUE_ID_MAX &&
                  rep_int(j->element[1], &attempt) && rep_int(j->element[4], &enq),
              CCC_ERR_INTERNAL, "unexpected reply from a queue script");
    memcpy(job->id, idr->str, idr->len);
    job->id[idr->len] = '\0';
    CCC_TRY(copy_str(j->element[2], &job->payload));
    CCC_TRY(copy_str(j->element[3], &job->meta));
    job->attempt = (uint32_t)attempt;
    job->enqueued_ms = (uint64_t)enq;
    memcpy(job->token, token, CCC_QUEUE_TOKEN_SIZE + 1);
    *claimed = true;
out:
    freeReplyObject(rep);
    return st;
}

static ccc_status rd_complete(ccc_queue *q, const char *id, const char *token, ccc_bytes result,
                              uint64_t now, ccc_queue_outcome *oc, uint32_t *attempt)
{
    rd_queue *r = (rd_queue *)q;
    char jk[160 + CCC_QUEUE_ID_MAX + 1], nows[24], ttl[24];
    CCC_GUARD(job_key(r, id, jk));
    u64_str(now, nows);
    u64_str(q->opts.result_ttl_ms, ttl);
    static const int keys[] = {K_STREAM, K_STATS, K_DONE};
    const ccc_bytes args[] = {str_arg(jk),   str_arg(id),  str_arg(token), result,
                              str_arg(nows), str_arg(ttl), str_arg(GROUP)};
    redisReply *rep = NULL;
    CCC_GUARD(rd_eval(r, complete_lua, keys, 3, args, 7, &rep));
    long long o, a;
    if (!rep_array(rep, 2) || !rep_int(rep->element[0], &o) || !rep_int(rep->element[1], &a) ||
        o < 0 || o > CCC_QO_UNKNOWN)
        BAD_REPLY(rep);
    freeReplyObject(rep);
    *oc = (ccc_queue_outcome)o;
    *attempt = (uint32_t)a;
    return CCC_OK;
}

static ccc_status rd_fail(ccc_queue *q, const char *id, const char *token, ccc_status error,
                          uint64_t now, ccc_queue_outcome *oc, ccc_job_state *state,
                          uint32_t *attempt)
{
    rd_queue *r = (rd_queue *)q;
    char jk[160 + CCC_QUEUE_ID_MAX + 1], nows[24], ttl[24], errs[8], maxs[24], unit[24];
    CCC_GUARD(job_key(r, id, jk));
    u64_str(now, nows);
    u64_str(q->opts.result_ttl_ms, ttl);
    snprintf(errs, sizeof errs, "%d", (int)error);
    u64_str(q->opts.max_attempts, maxs);
    u64_str(q->opts.backoff_unit_ms, unit);
    static const int keys[] = {K_STREAM, K_STATS, K_DELAYED, K_DEAD};
    const ccc_bytes args[] = {str_arg(jk),    str_arg(id),   str_arg(token),
                              str_arg(errs),  str_arg(nows), str_arg(ttl),
                              str_arg(GROUP), str_arg(maxs), str_arg(unit)};
    redisReply *rep = NULL;
    CCC_GUARD(rd_eval(r, fail_lua, keys, 4, args, 9, &rep));
    long long o, a, s;
    if (!rep_array(rep, 3) || !rep_int(rep->element[0], &o) || !rep_int(rep->element[1], &a) ||
        !rep_int(rep->element[2], &s) || o < 0 || o > CCC_QO_UNKNOWN || s < 0 || s > 4)
        BAD_REPLY(rep);
    freeReplyObject(rep);
    *oc = (ccc_queue_outcome)o;
    *attempt = (uint32_t)a;
    *state = (ccc_job_state)s;
    return CCC_OK;
}

static ccc_status rd_status(ccc_queue *q, const char *id, uint64_t now, ccc_queue_info *info,
                            ccc_buf *out, bool del)
{
    rd_queue *r = (rd_queue *)q;
    char jk[160 + CCC_QUEUE_ID_MAX + 1], nows[24], cap[24];
    CCC_GUARD(job_key(r, id, jk));
    u64_str(now, nows);
    u64_str(out ? out->max_size - out->size : 0, cap);
    const ccc_bytes args[] = {str_arg(jk), str_arg(nows), str_arg(out ? "1" : "0"),
                              str_arg(del ? "1" : "0"), str_arg(cap)};
    redisReply *rep = NULL;
    CCC_GUARD(rd_eval(r, status_lua, NULL, 0, args, 5, &rep));
    if (!rep_array(rep, 0))
        BAD_REPLY(rep);
    memset(info, 0, sizeof *info);
    ccc_status st = CCC_OK;
    if (rep->elements == 0)
        goto out; /* unknown */
    long long v[10], over = 0;
    CCC_CHECK(rep->elements == 12, CCC_ERR_INTERNAL, "unexpected reply from a queue script");
    for (int i = 0; i < 10; i++)
        CCC_CHECK(rep_int(rep->element[i], &v[i]) && v[i] >= 0, CCC_ERR_INTERNAL,
                  "unexpected reply from a queue script");
    CCC_CHECK(rep_int(rep->element[11], &over), CCC_ERR_INTERNAL,
              "unexpected reply from a queue script");
    info->state = (v[0] >= 1 && v[0] <= 4) ? (ccc_job_state)v[0] : CCC_JOB_UNKNOWN;
    info->attempt = (uint32_t)v[1];
    info->error = (v[2] > 0 && v[2] < CCC_STATUS_COUNT) ? (ccc_status)v[2] : CCC_OK;
    info->result_available = v[3] != 0;
    info->payload_size = (size_t)v[4];
    info->result_size = (size_t)v[5];
    info->enqueued_ms = (uint64_t)v[6];
    info->updated_ms = (uint64_t)v[7];
    info->visible_ms = (uint64_t)v[8];
    info->expires_ms = (uint64_t)v[9];
    if (out != NULL && info->result_available) {
        CCC_CHECK(over == 0, CCC_ERR_LIMIT, "result larger than the output buffer allows");
        CCC_TRY(copy_str(rep->element[10], out));
    }
out:
    freeReplyObject(rep);
    return st;
}

static ccc_status rd_meta(ccc_queue *q, const char *id, ccc_buf *out)
{
    rd_queue *r = (rd_queue *)q;
    char jk[160 + CCC_QUEUE_ID_MAX + 1];
    CCC_GUARD(job_key(r, id, jk));
    /* state 1/2 = queued/processing; the meta field goes with the payload */
    const char *argv[] = {"HMGET", jk, "state", "meta"};
    redisReply *rep = NULL;
    CCC_GUARD(rd_call(r, 4, argv, NULL, &rep));
    ccc_status st = CCC_OK;
    CCC_CHECK(rep->type == REDIS_REPLY_ARRAY && rep->elements == 2, CCC_ERR_INTERNAL,
              "unexpected reply from redis");
    const redisReply *state = rep->element[0], *meta = rep->element[1];
    bool waiting = state->type == REDIS_REPLY_STRING && state->len == 1 &&
                   (state->str[0] == '1' || state->str[0] == '2');
    CCC_CHECK(waiting && meta->type == REDIS_REPLY_STRING, CCC_ERR_NOT_FOUND,
              "no such waiting job");
    CCC_TRY(ccc_buf_append(out, meta->str, meta->len));
out:
    freeReplyObject(rep);
    return st;
}

static ccc_status rd_expire(ccc_queue *q, uint64_t now, uint64_t *removed)
{
    rd_queue *r = (rd_queue *)q;
    char nows[24];
    u64_str(now, nows);
    static const int keys[] = {K_DONE, K_DEAD};
    const ccc_bytes args[] = {str_arg(r->key[K_JOB]), str_arg(nows)};
    redisReply *rep = NULL;
    CCC_GUARD(rd_eval(r, expire_lua, keys, 2, args, 2, &rep));
    long long n;
    if (!rep_int(rep, &n) || n < 0)
        BAD_REPLY(rep);
    freeReplyObject(rep);
    *removed = (uint64_t)n;
    return CCC_OK;
}

static ccc_status rd_metrics(ccc_queue *q, uint64_t now, ccc_queue_metrics *m)
{
    rd_queue *r = (rd_queue *)q;
    char nows[24];
    u64_str(now, nows);
    static const int keys[] = {K_STATS, K_DONE, K_DEAD};
    const ccc_bytes args[] = {str_arg(nows)};
    redisReply *rep = NULL;
    CCC_GUARD(rd_eval(r, metrics_lua, keys, 3, args, 1, &rep));
    long long v[4];
    if (!rep_array(rep, 4))
        BAD_REPLY(rep);
    for (int i = 0; i < 4; i++)
        if (!rep_int(rep->element[i], &v[i]))
            BAD_REPLY(rep);
    freeReplyObject(rep);
    m->queued = v[0] > 0 ? (uint64_t)v[0] : 0;
    m->processing = v[1] > 0 ? (uint64_t)v[1] : 0;
    m->done = v[2] > 0 ? (uint64_t)v[2] : 0;
    m->dead = v[3] > 0 ? (uint64_t)v[3] : 0;
    return CCC_OK;
}

static void rd_free(ccc_queue *q)
{
    rd_queue *r = (rd_queue *)q;
    rd_drop(r);
    free(r);
}

/* ---- open: redis://host[:port][/db] --------------------------------------- */

static bool parse_uint(const char *p, size_t n, unsigned long max, unsigned long *out)
{
    if (n == 0 || n > 10)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static ccc_status parse_target(const char *t, rd_queue *r)
{
    const char *host = t;
    size_t host_len;
    const char *p;
    CCC_ENSURE(strchr(t, '@') == NULL, CCC_ERR_UNSUPPORTED,
               "credentials in a redis URL are not supported");
    if (*t == '[') {
        const char *end = strchr(t, ']');
        CCC_ENSURE(end != NULL, CCC_ERR_USAGE, "redis URL: unclosed [ in host");
        host = t + 1;
        host_len = (size_t)(end - host);
        p = end + 1;
    } else {
        host_len = strcspn(t, ":/");
        p = t + host_len;
    }
    CCC_ENSURE(host_len > 0 && host_len < sizeof r->host, CCC_ERR_USAGE, "redis URL: bad host");
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_' || (c == ':' && *t == '[');
        CCC_ENSURE(ok, CCC_ERR_USAGE, "redis URL: bad character in host");
    }
    memcpy(r->host, host, host_len);
    r->host[host_len] = '\0';
    unsigned long v = 6379;
    if (*p == ':') {
        size_t n = strcspn(p + 1, "/");
        CCC_ENSURE(parse_uint(p + 1, n, 65535, &v) && v > 0, CCC_ERR_USAGE, "redis URL: bad port");
        p += 1 + n;
    }
    r->port = (int)v;
    v = 0;
    if (*p == '/') {
        size_t n = strlen(p + 1);
        CCC_ENSURE(n == 0 || parse_uint(p + 1, n, 1000000, &v), CCC_ERR_USAGE,
                   "redis URL: bad database number");
        p += 1 + n;
    }
    CCC_ENSURE(*p == '\0', CCC_ERR_USAGE, "redis URL: unexpected characters after host");
    r->db = (int)v;
    return CCC_OK;
}

static ccc_status rd_open(const char *target, const ccc_queue_opts *o, ccc_queue **out)
{
    rd_queue *r = calloc(1, sizeof *r);
    CCC_ENSURE(r != NULL, CCC_ERR_NOMEM, "out of memory");
    ccc_status st = CCC_OK;
    r->base.vtable = &ccc_queue_redis_class;
    r->base.opts = *o;
    CCC_TRY(parse_target(target, r));
    for (int i = 0; i < K_COUNT; i++) {
        int n = snprintf(r->key[i], sizeof r->key[i], "ccc:%s:%s", o->name, key_suffix[i]);
        CCC_CHECK(n > 0 && (size_t)n < sizeof r->key[i], CCC_ERR_USAGE, "queue name too long");
    }
    CCC_TRY(rd_connect(r));
    *out = &r->base;
out:
    if (st != CCC_OK)
        rd_free(&r->base);
    return st;
}

const ccc_queue_class ccc_queue_redis_class = {
    .name = "redis",
    .open = rd_open,
    .free = rd_free,
    .enqueue = rd_enqueue,
    .claim = rd_claim,
    .complete = rd_complete,
    .fail = rd_fail,
    .status = rd_status,
    .meta = rd_meta,
    .expire = rd_expire,
    .metrics = rd_metrics,
};
