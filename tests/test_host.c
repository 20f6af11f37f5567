/*
 * host: ccc-host in process on a loopback port, with a SQLite queue in a
 * temporary directory, a fake enclave thread (a unix socket that speaks
 * docs/protocol.md §10: key_request, attest_response, then answers
 * job_requests by job id prefix) and a fake ccc-kms thread (answers every
 * key_request with fixed bytes). HTTP through libcurl.
 *
 * Fake enclave, by job id prefix:
 *   perm-*   job_error {"class": "crypto"}           (permanent)
 *   drop-*   the first time: close the connection      (then a result)
 *   other    job_result {receipt = "RCPT:" id, response = bytes 0..255 ||
 *            the request}
 *
 * No assertion is about time: waits are loops with a generous bound.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "testutil.h"

#include "cbor/cbor.h"
#include "frame/frame.h"
#include "host/host.h"
#include "kms/kms.h"
#include "log/log.h"
#include "policy/policy.h"

#define MAX_BODY 4096u
static const uint8_t kms_answer[] = {0x00, 0x31, 0xff, 'S', 'E', 'A', 'L', 'E', 'D', 0x00, 0x7f};
static const char attest_doc[] = "ATTEST-DOC\x00\x01\x02\xfe";
#define ATTEST_SIZE (sizeof attest_doc - 1)

static struct {
    char dir[64];
    char policy_path[128];
    char config_path[128];
    char log_path[128];
    FILE *log;
    ccc_buf policy;
    ccc_buf config;
    ccc_ohttp_key_config key;
    int seq;
} g;

/* ---- small helpers ----------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0);
    return fd;
}

/* accept with a stop flag */
static int accept_or_stop(int lfd, atomic_bool *stop)
{
    while (!atomic_load(stop)) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0)
            return accept(lfd, NULL, NULL);
    }
    return -1;
}

/* read a frame unless stop; -1 on stop/EOF/error */
static int read_or_stop(int fd, atomic_bool *stop, ccc_frame_type *type, ccc_buf *body)
{
    while (!atomic_load(stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0)
            return ccc_frame_read(fd, type, body) == CCC_OK ? 0 : -1;
    }
    return -1;
}

/* An OHTTP-shaped body: the 7-byte header, then enc, ciphertext, tag. */
static void make_body(ccc_buf *b, uint8_t key_id, uint16_t aead, size_t size, uint8_t fill)
{
    ccc_buf_init(b, 1u << 20);
    assert_int_equal(ccc_buf_u8(b, key_id), CCC_OK);
    assert_int_equal(ccc_buf_be16(b, 0x0020), CCC_OK);
    assert_int_equal(ccc_buf_be16(b, 0x0001), CCC_OK);
    assert_int_equal(ccc_buf_be16(b, aead), CCC_OK);
    while (b->size < size) {
        uint8_t v = (uint8_t)(fill + b->size * 7);
        assert_int_equal(ccc_buf_u8(b, v), CCC_OK);
    }
    if (size > 40)
        memcpy(b->data + 20, "CANARYCANARY", 12);
}

/* ---- fake ccc-kms ------------------------------------------------------------ */

typedef struct fake_kms {
    char path[108];
    int lfd;
    pthread_t th;
    atomic_bool stop;
    atomic_int requests;
} fake_kms;

static void *kms_main(void *arg)
{
    fake_kms *k = arg;
    ccc_buf body;
    ccc_buf_init(&body, 128u * 1024u);
    int fd;
    while ((fd = accept_or_stop(k->lfd, &k->stop)) >= 0) {
        ccc_frame_type t;
        if (read_or_stop(fd, &k->stop, &t, &body) == 0 && t == CCC_FRAME_KEY_REQUEST) {
            atomic_fetch_add(&k->requests, 1);
            if (ccc_frame_write(fd, CCC_FRAME_KEY_RESPONSE,
                                ccc_bytes_of(kms_answer, sizeof kms_answer)) != CCC_OK)
                atomic_fetch_add(&k->requests, 1000); /* visible in the test */
        }
        close(fd);
    }
    ccc_buf_wipe(&body);
    return NULL;
}

/* ---- fake enclave ------------------------------------------------------------ */

typedef struct fake_enclave {
    char path[108];
    int lfd;
    pthread_t th;
    atomic_bool stop;
    bool has_keys;
    pthread_mutex_t mu;
    /* what it saw */
    int connections;
    int key_answers;
    ccc_frame_type key_type;
    uint8_t key_body[64];
    size_t key_size;
    bool dropped;
    int requests_drop;    /* job_requests for drop-* ids */
    int results;          /* job_results sent */
    bool slowed;          /* a slow-* job went unanswered once */
    int held;             /* jobs left unanswered (hold-*, first slow-*) */
    ccc_buf last_request; /* enc_request of the last job */
} fake_enclave;

static void send_result(int fd, fake_enclave *e, ccc_bytes id, ccc_bytes req)
{
    ccc_buf resp, receipt, out;
    ccc_buf_init(&resp, 1u << 20);
    ccc_buf_init(&receipt, 4096);
    ccc_buf_init(&out, 1u << 20);
    for (int i = 0; i < 256; i++)
        assert_int_equal(ccc_buf_u8(&resp, (uint8_t)i), CCC_OK);
    assert_int_equal(ccc_buf_append_bytes(&resp, req), CCC_OK);
    assert_int_equal(ccc_buf_append(&receipt, "RCPT:", 5), CCC_OK);
    assert_int_equal(ccc_buf_append_bytes(&receipt, id), CCC_OK);
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, 1u << 20);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "job_id"), CCC_OK);
    assert_int_equal(ccc_cbor_put_text(ccc_cbor_mapb_value(&mb), (const char *)id.ptr, id.size),
                     CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "receipt"), CCC_OK);
    assert_int_equal(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), receipt.data, receipt.size),
                     CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "response"), CCC_OK);
    assert_int_equal(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), resp.data, resp.size), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_OK);
    ccc_cbor_mapb_wipe(&mb);
    /* counted first: the host may store it before this thread runs again */
    pthread_mutex_lock(&e->mu);
    e->results++;
    pthread_mutex_unlock(&e->mu);
    if (ccc_frame_write(fd, CCC_FRAME_JOB_RESULT, ccc_buf_bytes(&out)) != CCC_OK) {
        pthread_mutex_lock(&e->mu);
        e->results--;
        pthread_mutex_unlock(&e->mu);
    }
    ccc_buf_wipe(&resp);
    ccc_buf_wipe(&receipt);
    ccc_buf_wipe(&out);
}

static void send_error(int fd, ccc_bytes id, const char *cls)
{
    ccc_buf out;
    ccc_buf_init(&out, 4096);
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, 4096);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "class"), CCC_OK);
    assert_int_equal(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), cls), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "job_id"), CCC_OK);
    assert_int_equal(ccc_cbor_put_text(ccc_cbor_mapb_value(&mb), (const char *)id.ptr, id.size),
                     CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_OK);
    ccc_cbor_mapb_wipe(&mb);
    ccc_status wst = ccc_frame_write(fd, CCC_FRAME_JOB_ERROR, ccc_buf_bytes(&out));
    (void)wst;
    ccc_buf_wipe(&out);
}

/* One host connection; returns when the host closes it or we drop it. */
static void enclave_serve(fake_enclave *e, int fd, ccc_buf *body)
{
    ccc_frame_type t;
    while (!e->has_keys) {
        static const char doc[] = "KEY-RELEASE-DOC";
        if (ccc_frame_write(fd, CCC_FRAME_KEY_REQUEST, ccc_bytes_of(doc, sizeof doc - 1)) != CCC_OK)
            return;
        if (read_or_stop(fd, &e->stop, &t, body) != 0)
            return;
        pthread_mutex_lock(&e->mu);
        e->key_answers++;
        e->key_type = t;
        e->key_size = body->size < sizeof e->key_body ? body->size : sizeof e->key_body;
        memcpy(e->key_body, body->data, e->key_size);
        pthread_mutex_unlock(&e->mu);
        if (t == CCC_FRAME_KEY_RESPONSE) {
            e->has_keys = true;
        } else {
            /* refused: stay not ready (the real enclave retries after 1..8 s) */
            while (!atomic_load(&e->stop))
                sleep_ms(20);
            return;
        }
    }
    if (ccc_frame_write(fd, CCC_FRAME_ATTEST_RESPONSE, ccc_bytes_of(attest_doc, ATTEST_SIZE)) !=
        CCC_OK)
        return;
    while (read_or_stop(fd, &e->stop, &t, body) == 0) {
        assert_int_equal(t, CCC_FRAME_JOB_REQUEST);
        ccc_cbor_doc doc;
        ccc_cbor_doc_init(&doc);
        ccc_cbor_limits lim = ccc_cbor_limits_default();
        lim.max_input_size = lim.max_string_size = 32u << 20;
        assert_int_equal(ccc_cbor_decode(&doc, ccc_buf_bytes(body), &lim, CCC_CBOR_CANONICAL),
                         CCC_OK);
        const ccc_cbor_item *it;
        ccc_bytes id, req;
        assert_int_equal(ccc_cbor_map_get_text(ccc_cbor_doc_root(&doc), "job_id", &it), CCC_OK);
        assert_int_equal(ccc_cbor_get_text(it, &id), CCC_OK);
        assert_int_equal(ccc_cbor_map_get_text(ccc_cbor_doc_root(&doc), "request", &it), CCC_OK);
        assert_int_equal(ccc_cbor_get_bytes(it, &req), CCC_OK);
        pthread_mutex_lock(&e->mu);
        ccc_buf_reset(&e->last_request);
        assert_int_equal(ccc_buf_append_bytes(&e->last_request, req), CCC_OK);
        bool drop = id.size > 5 && memcmp(id.ptr, "drop-", 5) == 0;
        if (drop)
            e->requests_drop++;
        bool do_drop = drop && !e->dropped;
        if (do_drop)
            e->dropped = true;
        pthread_mutex_unlock(&e->mu);
        if (do_drop) {
            ccc_cbor_doc_wipe(&doc);
            return; /* the enclave "dies" mid-job */
        }
        pthread_mutex_lock(&e->mu);
        bool hold = id.size > 5 && memcmp(id.ptr, "hold-", 5) == 0;
        bool slow = id.size > 5 && memcmp(id.ptr, "slow-", 5) == 0 && !e->slowed;
        e->slowed = e->slowed || slow;
        e->held += hold || slow;
        pthread_mutex_unlock(&e->mu);
        if (hold || slow) {
            /* never answer: wait until the host gives up on this connection */
            while (read_or_stop(fd, &e->stop, &t, body) == 0)
                ;
            ccc_cbor_doc_wipe(&doc);
            return;
        }
        if (id.size > 5 && memcmp(id.ptr, "fail-", 5) == 0)
            send_error(fd, id, "internal");
        else if (id.size > 5 && memcmp(id.ptr, "perm-", 5) == 0)
            send_error(fd, id, "crypto");
        else
            send_result(fd, e, id, req);
        ccc_cbor_doc_wipe(&doc);
    }
}

static void *enclave_main(void *arg)
{
    fake_enclave *e = arg;
    ccc_buf body;
    ccc_buf_init(&body, 32u << 20);
    int fd;
    while ((fd = accept_or_stop(e->lfd, &e->stop)) >= 0) {
        pthread_mutex_lock(&e->mu);
        e->connections++;
        pthread_mutex_unlock(&e->mu);
        enclave_serve(e, fd, &body);
        close(fd);
    }
    ccc_buf_wipe(&body);
    return NULL;
}

/* ---- environment: host + fakes ----------------------------------------------- */

typedef struct env_opts {
    bool no_kms;
    bool enclave_later; /* the enclave starts listening only on env_enclave_up */
    uint64_t rate;
    const char *static_dir;
    uint32_t job_timeout_ms;
    const char *queue_url; /* NULL: a fresh SQLite file */
    uint64_t upload_budget;
} env_opts;

typedef struct env {
    fake_kms kms;
    fake_enclave enc;
    bool kms_up, enc_up;
    ccc_host *host;
    char base[128];
    char queue[256];
} env;

static void env_enclave_up(env *e)
{
    e->enc.lfd = listen_unix(e->enc.path);
    assert_int_equal(pthread_create(&e->enc.th, NULL, enclave_main, &e->enc), 0);
    e->enc_up = true;
}

static void env_start(env *e, const env_opts *o)
{
    memset(e, 0, sizeof *e);
    int n = ++g.seq;
    snprintf(e->base, sizeof e->base, "http://127.0.0.1");
    snprintf(e->kms.path, sizeof e->kms.path, "%s/kms%d.sock", g.dir, n);
    snprintf(e->enc.path, sizeof e->enc.path, "%s/enc%d.sock", g.dir, n);
    pthread_mutex_init(&e->enc.mu, NULL);
    ccc_buf_init(&e->enc.last_request, 32u << 20);
    if (!o->no_kms) {
        e->kms.lfd = listen_unix(e->kms.path);
        assert_int_equal(pthread_create(&e->kms.th, NULL, kms_main, &e->kms), 0);
        e->kms_up = true;
    }
    if (!o->enclave_later)
        env_enclave_up(e);

    char kms[160], enc[160], worker[32];
    if (o->queue_url)
        snprintf(e->queue, sizeof e->queue, "%s", o->queue_url);
    else
        snprintf(e->queue, sizeof e->queue, "sqlite://%s/queue%d.db", g.dir, n);
    snprintf(kms, sizeof kms, "unix:%s", e->kms.path);
    snprintf(enc, sizeof enc, "unix:%s", e->enc.path);
    snprintf(worker, sizeof worker, "test-%d", n);
    ccc_host_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.enclaves[0] = enc;
    cfg.enclave_count = 1;
    cfg.kms = kms;
    cfg.kms_config_path = g.config_path;
    cfg.policy_path = g.policy_path;
    cfg.queue_url = e->queue;
    cfg.job_timeout_ms = o->job_timeout_ms;
    cfg.upload_budget = o->upload_budget;
    cfg.queue_opts.backoff_unit_ms = 10;
    cfg.rate_per_minute = o->rate ? o->rate : 100000;
    cfg.static_dir = o->static_dir;
    cfg.worker_id = worker;
    cfg.stop_grace_ms = 200;
    assert_int_equal(ccc_host_new(&cfg, &e->host), CCC_OK);
    assert_int_equal(ccc_host_start(e->host), CCC_OK);
}

static void env_stop(env *e)
{
    ccc_host_free(e->host);
    if (e->enc_up) {
        atomic_store(&e->enc.stop, true);
        pthread_join(e->enc.th, NULL);
        close(e->enc.lfd);
    }
    if (e->kms_up) {
        atomic_store(&e->kms.stop, true);
        pthread_join(e->kms.th, NULL);
        close(e->kms.lfd);
    }
    ccc_buf_wipe(&e->enc.last_request);
    pthread_mutex_destroy(&e->enc.mu);
}

/* ---- HTTP client --------------------------------------------------------------- */

typedef struct http_resp {
    long status;
    ccc_buf body;
    char retry_after[32], location[320], ctype[128], csp[128], cache[64];
} http_resp;

typedef struct upload {
    const uint8_t *p;
    size_t left;
} upload;

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    http_resp *r = ud;
    return ccc_buf_append(&r->body, p, s * n) == CCC_OK ? s * n : 0;
}

static void grab(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len > nl && strncasecmp(line, name, nl) == 0) {
        size_t v = len - nl;
        while (v > 0 && (line[nl + v - 1] == '\r' || line[nl + v - 1] == '\n'))
            v--;
        snprintf(out, cap, "%.*s", (int)v, line + nl);
    }
}

static size_t on_header(char *p, size_t s, size_t n, void *ud)
{
    http_resp *r = ud;
    size_t len = s * n;
    grab(p, len, "Retry-After: ", r->retry_after, sizeof r->retry_after);
    grab(p, len, "Location: ", r->location, sizeof r->location);
    grab(p, len, "Content-Type: ", r->ctype, sizeof r->ctype);
    grab(p, len, "Content-Security-Policy: ", r->csp, sizeof r->csp);
    grab(p, len, "Cache-Control: ", r->cache, sizeof r->cache);
    return len;
}

static size_t on_read(char *p, size_t s, size_t n, void *ud)
{
    upload *u = ud;
    size_t k = s * n < u->left ? s * n : u->left;
    if (k > 100)
        k = 100; /* small chunks */
    memcpy(p, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

static void http(env *e, const char *method, const char *path, const char *const *headers,
                 ccc_bytes body, bool chunked, http_resp *out)
{
    memset(out, 0, sizeof *out);
    ccc_buf_init(&out->body, 8u << 20);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[512];
    snprintf(url, sizeof url, "%s:%u%s", e->base, (unsigned)ccc_host_port(e->host), path);
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    upload u = {body.ptr, body.size};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (chunked) {
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &u);
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.size ? (const char *)body.ptr : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.size);
        }
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(c);
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    assert_int_equal(ccc_buf_u8(&out->body, 0), CCC_OK); /* NUL for string use */
    out->body.size--;
}

static json_t *json_of(const http_resp *r)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)r->body.data, r->body.size, 0, &err);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* base64 string → bytes */
static void unb64(const char *s, ccc_buf *out)
{
    size_t n = strlen(s);
    ccc_buf_init(out, n + 16);
    uint8_t *tail;
    assert_int_equal(ccc_buf_extend(out, n / 4 * 3 + 3, &tail), CCC_OK);
    int k = EVP_DecodeBlock(tail, (const unsigned char *)s, (int)n);
    assert_true(k >= 0);
    size_t pad = (n >= 1 && s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    out->size = (size_t)k - pad;
}

static void expect_error(const http_resp *r, long status, const char *cls, const char *msg)
{
    assert_int_equal(r->status, status);
    json_t *j = json_of(r);
    assert_string_equal(jstr(j, "error"), cls);
    if (msg)
        assert_string_equal(jstr(j, "message"), msg);
    assert_int_equal(json_object_size(j), 2);
    json_decref(j);
}

static void resp_free(http_resp *r) { ccc_buf_wipe(&r->body); }

static void post_job(env *e, const char *id, ccc_bytes body, http_resp *r)
{
    char idh[300];
    snprintf(idh, sizeof idh, "CCC-Job-Id: %s", id ? id : "");
    const char *h[] = {"Content-Type: message/ohttp-req", id ? idh : NULL, NULL};
    http(e, "POST", "/v1/jobs", h, body, false, r);
}

/* POST a 100-byte job body (kept in *body for comparisons); expect 202. */
static void submit(env *e, const char *id, uint8_t fill, ccc_buf *body)
{
    make_body(body, g.key.key_id, 0x0002, 100, fill);
    http_resp r;
    post_job(e, id, ccc_buf_bytes(body), &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
}

static void wait_ready(env *e)
{
    for (int i = 0; i < 3000 && ccc_host_enclaves_ready(e->host) == 0; i++)
        sleep_ms(10);
    assert_int_equal(ccc_host_enclaves_ready(e->host), 1);
}

/* GET until the job is neither queued nor processing. */
static void wait_job(env *e, const char *id, http_resp *r)
{
    char path[300];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    for (int i = 0; i < 3000; i++) {
        http(e, "GET", path, NULL, ccc_bytes_of(NULL, 0), false, r);
        if (r->status != 200)
            return;
        json_t *j = json_of(r);
        const char *s = jstr(j, "status");
        bool pending = strcmp(s, "queued") == 0 || strcmp(s, "processing") == 0;
        json_decref(j);
        if (!pending)
            return;
        resp_free(r);
        sleep_ms(10);
    }
    fail_msg("job never finished");
}

/* Wait for a job's end and check its HTTP status, status and error class. */
static void expect_job(env *e, const char *id, long http_status, const char *status,
                       const char *error)
{
    http_resp r;
    wait_job(e, id, &r);
    assert_int_equal(r.status, http_status);
    json_t *j = json_of(&r);
    assert_string_equal(jstr(j, "status"), status);
    if (error)
        assert_string_equal(jstr(j, "error"), error);
    json_decref(j);
    resp_free(&r);
}

/* ---- group setup: policy bundle, kms signed config, log file ------------------- */

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(g.dir, sizeof g.dir, "/tmp/ccc-test-host-XXXXXX");
    assert_non_null(mkdtemp(g.dir));
    snprintf(g.policy_path, sizeof g.policy_path, "%s/policy.cose", g.dir);
    snprintf(g.config_path, sizeof g.config_path, "%s/config.cose", g.dir);
    snprintf(g.log_path, sizeof g.log_path, "%s/host.log", g.dir);
    g.log = fopen(g.log_path, "w");
    assert_non_null(g.log);
    setvbuf(g.log, NULL, _IOLBF, 0);
    ccc_log_init(g.log, "ccc-host", CCC_LOG_DEBUG);

    ccc_policy p;
    memset(&p, 0, sizeof p);
    p.version = 1;
    uint8_t pcr0[48];
    memset(pcr0, 0x42, sizeof pcr0);
    assert_int_equal(ccc_attest_pcr_set_add(&p.sets[0], 0, ccc_bytes_of(pcr0, 48)), CCC_OK);
    p.set_count = 1;
    p.egress_max_answer_bytes = 1024;
    p.egress_max_boxes = 4;
    p.tou_max_body_bytes = MAX_BODY;
    p.tou_rate_per_minute = 60;
    memset(p.manifests[0], 0x11, 32);
    p.manifest_count = 1;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pkey);
    ccc_buf_init(&g.policy, CCC_POLICY_MAX_BUNDLE_SIZE);
    assert_int_equal(ccc_policy_sign(&p, pkey, &g.policy), CCC_OK);
    EVP_PKEY_free(pkey);
    assert_int_equal(ccc_file_write(g.policy_path, g.policy.data, g.policy.size), CCC_OK);

    char kdir[128];
    snprintf(kdir, sizeof kdir, "%s/kms", g.dir);
    ccc_kms_store *store = NULL;
    assert_int_equal(ccc_kms_store_open(kdir, true, &store), CCC_OK);
    uint8_t phash[32] = {0};
    ccc_buf_init(&g.config, CCC_KMS_MAX_CONFIG_SIZE);
    assert_int_equal(ccc_kms_config_sign(store, phash, ccc_wall_ms(), &g.config), CCC_OK);
    assert_int_equal(ccc_kms_key_config(&ccc_kms_store_keys(store)[0], &g.key), CCC_OK);
    ccc_kms_store_free(store);
    assert_int_equal(ccc_file_write(g.config_path, g.config.data, g.config.size), CCC_OK);
    return 0;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int group_teardown(void **state)
{
    (void)state;
    ccc_log_init(stderr, "ccc-host", CCC_LOG_INFO);
    fclose(g.log);
    ccc_buf_wipe(&g.policy);
    ccc_buf_wipe(&g.config);
    rm_rf(g.dir);
    curl_global_cleanup();
    return 0;
}

/* ---- pure parsers ---------------------------------------------------------------- */

static void body_check_every_truncation(void **state)
{
    (void)state;
    ccc_buf b;
    make_body(&b, g.key.key_id, 0x0002, 55, 1);
    uint8_t kid = 0;
    assert_int_equal(ccc_host_job_body_check(ccc_buf_bytes(&b), &g.key, 1, &kid), CCC_OK);
    assert_int_equal(kid, g.key.key_id);
    for (size_t n = 0; n < 55; n++)
        assert_int_equal(ccc_host_job_body_check(ccc_bytes_of(b.data, n), &g.key, 1, NULL),
                         CCC_ERR_PARSE);
    /* ChaCha20-Poly1305 is offered too; AES-128-GCM is not */
    b.data[6] = 0x03;
    assert_int_equal(ccc_host_job_body_check(ccc_buf_bytes(&b), &g.key, 1, NULL), CCC_OK);
    b.data[6] = 0x01;
    assert_int_equal(ccc_host_job_body_check(ccc_buf_bytes(&b), &g.key, 1, NULL),
                     CCC_ERR_UNSUPPORTED);
    b.data[6] = 0x02;
    b.data[2] = 0x21; /* another KEM */
    assert_int_equal(ccc_host_job_body_check(ccc_buf_bytes(&b), &g.key, 1, NULL),
                     CCC_ERR_UNSUPPORTED);
    b.data[2] = 0x20;
    b.data[0] = (uint8_t)(g.key.key_id + 1); /* unknown key id, offered suite */
    assert_int_equal(ccc_host_job_body_check(ccc_buf_bytes(&b), &g.key, 1, NULL),
                     CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_host_job_body_check(ccc_buf_bytes(&b), &g.key, 0, NULL),
                     CCC_ERR_UNSUPPORTED);
    ccc_buf_wipe(&b);
}

static void route_and_id_parsing(void **state)
{
    (void)state;
    char id[CCC_QUEUE_ID_MAX + 1], name[256];
    assert_int_equal(ccc_host_route_parse("GET", "/v1/config", id, name), CCC_HOST_ROUTE_CONFIG);
    assert_int_equal(ccc_host_route_parse("POST", "/v1/jobs", id, name), CCC_HOST_ROUTE_JOBS_POST);
    assert_int_equal(ccc_host_route_parse("GET", "/v1/jobs", id, name), CCC_HOST_ROUTE_OTHER);
    assert_int_equal(ccc_host_route_parse("POST", "/v1/config", id, name), CCC_HOST_ROUTE_OTHER);
    assert_int_equal(ccc_host_route_parse("GET", "/v1/jobs/abc", id, name),
                     CCC_HOST_ROUTE_JOBS_GET);
    assert_string_equal(id, "abc");
    assert_int_equal(ccc_host_route_parse("GET", "/v1/jobs/a/b", id, name), CCC_HOST_ROUTE_OTHER);
    assert_int_equal(ccc_host_route_parse("GET", "/v1/jobs/", id, name), CCC_HOST_ROUTE_OTHER);
    assert_int_equal(ccc_host_route_parse("HEAD", "/healthz", id, name), CCC_HOST_ROUTE_HEALTHZ);
    assert_int_equal(ccc_host_route_parse("GET", "/metrics", id, name), CCC_HOST_ROUTE_METRICS);
    assert_int_equal(ccc_host_route_parse("GET", "/", id, name), CCC_HOST_ROUTE_STATIC);
    assert_string_equal(name, "index.html");
    assert_int_equal(ccc_host_route_parse("GET", "/app-1.js", id, name), CCC_HOST_ROUTE_STATIC);
    assert_string_equal(name, "app-1.js");
    static const char *const bad[] = {
        "/..", "/../etc/passwd", "/.env", "/a/b", "/a b", "/%2e%2e", "//", "x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ccc_host_route_parse("GET", bad[i], id, name), CCC_HOST_ROUTE_OTHER);
    assert_int_equal(ccc_host_route_parse("DELETE", "/v1/jobs/x", id, name), CCC_HOST_ROUTE_OTHER);

    char big[300];
    memset(big, 'a', sizeof big);
    assert_int_equal(ccc_host_job_id_check(big, 256), CCC_OK);
    assert_int_equal(ccc_host_job_id_check(big, 257), CCC_ERR_USAGE);
    assert_int_equal(ccc_host_job_id_check(big, 0), CCC_ERR_USAGE);
    assert_int_equal(ccc_host_job_id_check("a b", 3), CCC_ERR_USAGE);
    assert_int_equal(ccc_host_job_id_check("a\x7f", 2), CCC_ERR_USAGE);
    assert_int_equal(ccc_host_job_id_check("!~", 2), CCC_OK);
}

static void bucket_refills_one_minute_worth(void **state)
{
    (void)state;
    ccc_host_bucket b;
    memset(&b, 0, sizeof b);
    uint64_t retry = 0, t = 1000000;
    for (int i = 0; i < 6; i++)
        assert_true(ccc_host_bucket_take(&b, 6, t, &retry)); /* burst = 6 */
    assert_false(ccc_host_bucket_take(&b, 6, t, &retry));
    assert_int_equal(retry, 10); /* one token every 10 s */
    assert_false(ccc_host_bucket_take(&b, 6, t + 9000, &retry));
    assert_int_equal(retry, 1);
    assert_true(ccc_host_bucket_take(&b, 6, t + 10000, &retry));
    /* a long pause refills only up to the burst */
    for (int i = 0; i < 6; i++)
        assert_true(ccc_host_bucket_take(&b, 6, t + 10000000, &retry));
    assert_false(ccc_host_bucket_take(&b, 6, t + 10000000, &retry));
}

static void record_and_frames_roundtrip(void **state)
{
    (void)state;
    ccc_host_record rec;
    memset(&rec, 0, sizeof rec);
    memset(rec.body_sha256, 0xab, 32);
    rec.attestation = ccc_bytes_of("doc", 3);
    rec.receipt = ccc_bytes_of("rcpt", 4);
    rec.response = ccc_bytes_of("\x00\x01resp", 6);
    ccc_buf out;
    ccc_buf_init(&out, 1u << 20);
    assert_int_equal(ccc_host_record_encode(&rec, &out), CCC_OK);
    ccc_host_record back;
    assert_int_equal(ccc_host_record_decode(ccc_buf_bytes(&out), &back), CCC_OK);
    assert_int_equal(back.error, CCC_OK);
    assert_memory_equal(back.body_sha256, rec.body_sha256, 32);
    assert_int_equal(back.response.size, 6);
    assert_memory_equal(back.response.ptr, "\x00\x01resp", 6);
    for (size_t n = 0; n < out.size; n++)
        assert_int_not_equal(ccc_host_record_decode(ccc_bytes_of(out.data, n), &back), CCC_OK);
    ccc_buf_reset(&out);
    rec.error = CCC_ERR_CRYPTO;
    assert_int_equal(ccc_host_record_encode(&rec, &out), CCC_OK);
    assert_int_equal(ccc_host_record_decode(ccc_buf_bytes(&out), &back), CCC_OK);
    assert_int_equal(back.error, CCC_ERR_CRYPTO);

    /* job_request: the bytes §6 gives as the example */
    ccc_buf_reset(&out);
    assert_int_equal(ccc_host_job_request_encode("j1", ccc_bytes_of("\x01\x02", 2), &out), CCC_OK);
    static const uint8_t want[] = {0xa2, 0x66, 'j', 'o', 'b', '_', 'i', 'd', 0x62, 'j',  '1',
                                   0x67, 'r',  'e', 'q', 'u', 'e', 's', 't', 0x42, 0x01, 0x02};
    assert_int_equal(out.size, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);

    /* job_error: known class, unknown class (transient), another job id */
    ccc_buf_reset(&out);
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, 4096);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "class"), CCC_OK);
    assert_int_equal(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), "policy"), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "job_id"), CCC_OK);
    assert_int_equal(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), "j1"), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_OK);
    ccc_cbor_mapb_wipe(&mb);
    ccc_status cls = CCC_OK;
    assert_int_equal(ccc_host_job_error_decode(ccc_buf_bytes(&out), "j1", &cls), CCC_OK);
    assert_int_equal(cls, CCC_ERR_POLICY);
    assert_true(ccc_host_class_is_permanent(cls));
    assert_int_equal(ccc_host_job_error_decode(ccc_buf_bytes(&out), "j2", &cls), CCC_ERR_PARSE);
    assert_int_not_equal(
        ccc_host_job_result_decode(ccc_buf_bytes(&out), "j1", &rec.receipt, &rec.response), CCC_OK);
    assert_false(ccc_host_class_is_permanent(CCC_ERR_BUSY));
    assert_false(ccc_host_class_is_permanent(CCC_ERR_IO));
    assert_false(ccc_host_class_is_permanent(CCC_ERR_INTERNAL));
    ccc_buf_wipe(&out);

    /* the kms config: both suites of the live key */
    ccc_ohttp_key_config cfgs[4];
    size_t n = 0;
    assert_int_equal(ccc_host_kms_config_parse(ccc_buf_bytes(&g.config), cfgs, 4, &n), CCC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(cfgs[0].key_id, g.key.key_id);
    for (size_t k = 0; k < g.config.size; k++)
        assert_int_not_equal(ccc_host_kms_config_parse(ccc_bytes_of(g.config.data, k), cfgs, 4, &n),
                             CCC_OK);
}

/* ---- HTTP + relay ------------------------------------------------------------------ */

static void healthz_before_and_after_ready(void **state)
{
    (void)state;
    env e;
    env_opts o = {.enclave_later = true};
    env_start(&e, &o);
    http_resp r;
    http(&e, "GET", "/healthz", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 503);
    json_t *j = json_of(&r);
    assert_string_equal(jstr(j, "status"), "unavailable");
    json_decref(j);
    resp_free(&r);

    env_enclave_up(&e);
    wait_ready(&e);
    http(&e, "GET", "/healthz", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_string_equal(jstr(j, "status"), "ok");
    assert_string_equal(jstr(j, "queue"), "sqlite");
    assert_int_equal(json_integer_value(json_object_get(j, "enclaves_ready")), 1);
    json_decref(j);
    resp_free(&r);
    /* the kms answer reached the enclave unread, byte for byte */
    pthread_mutex_lock(&e.enc.mu);
    assert_int_equal(e.enc.key_type, CCC_FRAME_KEY_RESPONSE);
    assert_int_equal(e.enc.key_size, sizeof kms_answer);
    assert_memory_equal(e.enc.key_body, kms_answer, sizeof kms_answer);
    pthread_mutex_unlock(&e.enc.mu);
    assert_int_equal(atomic_load(&e.kms.requests), 1);
    env_stop(&e);
}

static void kms_unavailable_is_relayed(void **state)
{
    (void)state;
    env e;
    env_opts o = {.no_kms = true};
    env_start(&e, &o);
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&e.enc.mu);
        int n = e.enc.key_answers;
        pthread_mutex_unlock(&e.enc.mu);
        if (n > 0)
            break;
        sleep_ms(10);
    }
    pthread_mutex_lock(&e.enc.mu);
    assert_int_equal(e.enc.key_answers, 1);
    assert_int_equal(e.enc.key_type, CCC_FRAME_JOB_ERROR);
    assert_int_equal(e.enc.key_size, strlen("io:kms_unavailable"));
    assert_memory_equal(e.enc.key_body, "io:kms_unavailable", e.enc.key_size);
    pthread_mutex_unlock(&e.enc.mu);
    assert_int_equal(ccc_host_enclaves_ready(e.host), 0);
    http_resp r;
    http(&e, "GET", "/healthz", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    http(&e, "GET", "/metrics", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_non_null(
        strstr((char *)r.body.data, "ccc_key_releases_total{result=\"unavailable\"} 1"));
    resp_free(&r);
    env_stop(&e);
}

static void config_json(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    wait_ready(&e);
    http_resp r;
    http(&e, "GET", "/v1/config", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(r.cache, "no-store");
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "v")), 1);
    ccc_buf b;
    unb64(jstr(j, "kms_config"), &b);
    assert_int_equal(b.size, g.config.size);
    assert_memory_equal(b.data, g.config.data, b.size);
    ccc_buf_wipe(&b);
    unb64(jstr(j, "policy"), &b);
    assert_int_equal(b.size, g.policy.size);
    assert_memory_equal(b.data, g.policy.data, b.size);
    ccc_buf_wipe(&b);
    json_t *att = json_object_get(j, "attestations");
    assert_int_equal(json_array_size(att), 1);
    unb64(json_string_value(json_array_get(att, 0)), &b);
    assert_int_equal(b.size, ATTEST_SIZE);
    assert_memory_equal(b.data, attest_doc, ATTEST_SIZE);
    ccc_buf_wipe(&b);
    json_decref(j);
    resp_free(&r);
    env_stop(&e);
}

static void post_refusals_in_order(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf good;
    make_body(&good, g.key.key_id, 0x0002, 200, 3);
    http_resp r;

    /* 415: wrong or missing content type (checked first: also with a long header) */
    char longh[400];
    snprintf(longh, sizeof longh, "X-Long: %0300d", 7);
    const char *h1[] = {"Content-Type: application/octet-stream", longh, NULL};
    http(&e, "POST", "/v1/jobs", h1, ccc_buf_bytes(&good), false, &r);
    expect_error(&r, 415, "unsupported", "content type must be message/ohttp-req");
    resp_free(&r);
    http(&e, "POST", "/v1/jobs", NULL, ccc_buf_bytes(&good), false, &r);
    expect_error(&r, 415, "unsupported", NULL);
    resp_free(&r);

    /* 400: a header value over 256 bytes */
    const char *h2[] = {"Content-Type: message/ohttp-req", longh, NULL};
    http(&e, "POST", "/v1/jobs", h2, ccc_buf_bytes(&good), false, &r);
    expect_error(&r, 400, "usage", "header value too long");
    resp_free(&r);

    /* 400: bad job ids */
    post_job(&e, "a b", ccc_buf_bytes(&good), &r);
    expect_error(&r, 400, "usage", "bad job id");
    resp_free(&r);
    post_job(&e, "a/b", ccc_buf_bytes(&good), &r);
    expect_error(&r, 400, "usage", "bad job id");
    resp_free(&r);

    /* 413: by Content-Length before reading, and by count while reading (chunked) */
    ccc_buf big;
    make_body(&big, g.key.key_id, 0x0002, MAX_BODY + 1, 5);
    post_job(&e, "big-1", ccc_buf_bytes(&big), &r);
    expect_error(&r, 413, "limit", "body too large");
    resp_free(&r);
    const char *hc[] = {"Content-Type: message/ohttp-req", "CCC-Job-Id: big-2", NULL};
    http(&e, "POST", "/v1/jobs", hc, ccc_buf_bytes(&big), true, &r);
    expect_error(&r, 413, "limit", "body too large");
    resp_free(&r);
    /* exactly the cap, chunked: accepted */
    big.size = MAX_BODY;
    http(&e, "POST", "/v1/jobs", hc, ccc_buf_bytes(&big), true, &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    ccc_buf_wipe(&big);

    /* 400: truncated; 415: suite not offered; 404: unknown key id */
    post_job(&e, "short-1", ccc_bytes_of(good.data, 54), &r);
    expect_error(&r, 400, "parse", "malformed OHTTP request");
    resp_free(&r);
    good.data[6] = 0x01;
    post_job(&e, "suite-1", ccc_buf_bytes(&good), &r);
    expect_error(&r, 415, "unsupported", "suite not offered by the key configuration");
    resp_free(&r);
    good.data[6] = 0x02;
    good.data[0] = (uint8_t)(g.key.key_id + 7);
    post_job(&e, "kid-1", ccc_buf_bytes(&good), &r);
    expect_error(&r, 404, "not_found", "unknown key id");
    resp_free(&r);
    /* none of those reached the queue */
    http(&e, "GET", "/v1/jobs/kid-1", NULL, ccc_bytes_of(NULL, 0), false, &r);
    expect_error(&r, 404, "not_found", "unknown job");
    resp_free(&r);
    http(&e, "GET", "/v1/jobs/a!b", NULL, ccc_bytes_of(NULL, 0), false, &r);
    expect_error(&r, 404, "not_found", "unknown job");
    resp_free(&r);
    http(&e, "GET", "/v1/nothing", NULL, ccc_bytes_of(NULL, 0), false, &r);
    expect_error(&r, 404, "not_found", "no such route");
    resp_free(&r);
    ccc_buf_wipe(&good);
    env_stop(&e);
}

static void rate_limit_429(void **state)
{
    (void)state;
    env e;
    env_opts o = {.rate = 3};
    env_start(&e, &o);
    ccc_buf good;
    make_body(&good, g.key.key_id, 0x0002, 100, 9);
    http_resp r;
    char id[32];
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "rate-%d", i);
        post_job(&e, id, ccc_buf_bytes(&good), &r);
        assert_int_not_equal(r.status, 429);
        resp_free(&r);
    }
    post_job(&e, "rate-x", ccc_buf_bytes(&good), &r);
    expect_error(&r, 429, "busy", "rate limit");
    assert_true(atoi(r.retry_after) >= 1);
    resp_free(&r);
    /* GETs are not rate limited */
    http(&e, "GET", "/v1/jobs/rate-0", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_not_equal(r.status, 429);
    resp_free(&r);
    ccc_buf_wipe(&good);
    env_stop(&e);
}

/* All uploads together hold at most the budget: by Content-Length before
 * reading, by count for a chunked body. */
static void upload_budget_429(void **state)
{
    (void)state;
    env e;
    env_opts o = {.upload_budget = 150};
    env_start(&e, &o);
    ccc_buf small, big;
    make_body(&small, g.key.key_id, 0x0002, 140, 1);
    make_body(&big, g.key.key_id, 0x0002, 200, 2);
    http_resp r;
    post_job(&e, "budget-1", ccc_buf_bytes(&big), &r);
    expect_error(&r, 429, "busy", "too many uploads in progress");
    assert_string_equal(r.retry_after, "1");
    resp_free(&r);
    const char *hc[] = {"Content-Type: message/ohttp-req", "CCC-Job-Id: budget-2", NULL};
    http(&e, "POST", "/v1/jobs", hc, ccc_buf_bytes(&big), true, &r);
    expect_error(&r, 429, "busy", "too many uploads in progress");
    resp_free(&r);
    /* the budget is given back: a body that fits, twice in a row */
    post_job(&e, "budget-3", ccc_buf_bytes(&small), &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    http(&e, "POST", "/v1/jobs", hc, ccc_buf_bytes(&small), true, &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    ccc_buf_wipe(&small);
    ccc_buf_wipe(&big);
    env_stop(&e);
}

static void job_done_bit_exact_then_delete(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf body;
    make_body(&body, g.key.key_id, 0x0002, 300, 0);
    http_resp r;
    post_job(&e, "job-1", ccc_buf_bytes(&body), &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.location, "/v1/jobs/job-1");
    json_t *j = json_of(&r);
    assert_string_equal(jstr(j, "id"), "job-1");
    assert_string_equal(jstr(j, "status"), "queued");
    json_decref(j);
    resp_free(&r);

    wait_job(&e, "job-1", &r);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_string_equal(jstr(j, "status"), "done");
    ccc_buf b;
    unb64(jstr(j, "response"), &b);
    assert_int_equal(b.size, 256 + body.size);
    for (int i = 0; i < 256; i++)
        assert_int_equal(b.data[i], i);
    assert_memory_equal(b.data + 256, body.data, body.size);
    ccc_buf_wipe(&b);
    unb64(jstr(j, "receipt"), &b);
    assert_int_equal(b.size, 10);
    assert_memory_equal(b.data, "RCPT:job-1", 10);
    ccc_buf_wipe(&b);
    unb64(jstr(j, "attestation"), &b);
    assert_int_equal(b.size, ATTEST_SIZE);
    assert_memory_equal(b.data, attest_doc, ATTEST_SIZE);
    ccc_buf_wipe(&b);
    json_decref(j);
    resp_free(&r);
    /* the enclave got the body unchanged */
    pthread_mutex_lock(&e.enc.mu);
    assert_int_equal(e.enc.last_request.size, body.size);
    assert_memory_equal(e.enc.last_request.data, body.data, body.size);
    pthread_mutex_unlock(&e.enc.mu);

    http(&e, "GET", "/v1/jobs/job-1?delete=1", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http(&e, "GET", "/v1/jobs/job-1", NULL, ccc_bytes_of(NULL, 0), false, &r);
    expect_error(&r, 404, "not_found", NULL);
    resp_free(&r);

    /* without CCC-Job-Id: 32 hex digits */
    post_job(&e, NULL, ccc_buf_bytes(&body), &r);
    assert_int_equal(r.status, 202);
    j = json_of(&r);
    const char *id = jstr(j, "id");
    assert_int_equal(strlen(id), 32);
    for (size_t i = 0; i < 32; i++)
        assert_non_null(strchr("0123456789abcdef", id[i]));
    json_decref(j);
    resp_free(&r);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

static void dedup_same_body_200_other_body_409(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf a, b;
    make_body(&a, g.key.key_id, 0x0002, 120, 1);
    make_body(&b, g.key.key_id, 0x0002, 120, 2);
    http_resp r;
    post_job(&e, "dup-1", ccc_buf_bytes(&a), &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    post_job(&e, "dup-1", ccc_buf_bytes(&a), &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_of(&r);
    assert_string_equal(jstr(j, "id"), "dup-1");
    json_decref(j);
    resp_free(&r);
    post_job(&e, "dup-1", ccc_buf_bytes(&b), &r);
    expect_error(&r, 409, "replay", NULL);
    resp_free(&r);
    /* after it is done: same answers */
    wait_job(&e, "dup-1", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    post_job(&e, "dup-1", ccc_buf_bytes(&a), &r);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_string_equal(jstr(j, "status"), "done");
    json_decref(j);
    resp_free(&r);
    post_job(&e, "dup-1", ccc_buf_bytes(&b), &r);
    expect_error(&r, 409, "replay", NULL);
    resp_free(&r);
    pthread_mutex_lock(&e.enc.mu);
    assert_int_equal(e.enc.results, 1); /* ran once */
    pthread_mutex_unlock(&e.enc.mu);
    ccc_buf_wipe(&a);
    ccc_buf_wipe(&b);
    env_stop(&e);
}

/* A job another host accepted (or this one before a restart): the host's
 * memory does not have it, the queue's meta (the body's SHA-256) does. */
static void dedup_of_a_job_accepted_elsewhere(void **state)
{
    (void)state;
    char dir[] = "/tmp/ccc-test-host-dedup-XXXXXX", url[128];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite://%s/q.db", dir);
    ccc_buf a, b;
    make_body(&a, g.key.key_id, 0x0002, 120, 1);
    make_body(&b, g.key.key_id, 0x0002, 120, 2); /* same size, other bytes */
    uint8_t sha[32];
    assert_int_equal(ccc_sha256(ccc_buf_bytes(&a), sha), CCC_OK);
    ccc_queue *q = NULL;
    assert_int_equal(ccc_queue_open(url, NULL, &q), CCC_OK);
    assert_int_equal(ccc_queue_enqueue(q, "elsewhere-1", ccc_buf_bytes(&a), ccc_bytes_of(sha, 32),
                                       NULL),
                     CCC_OK);
    ccc_queue_free(q);
    env e;
    env_opts o = {.enclave_later = true, .queue_url = url}; /* the job stays queued */
    env_start(&e, &o);
    http_resp r;
    post_job(&e, "elsewhere-1", ccc_buf_bytes(&b), &r);
    expect_error(&r, 409, "replay", NULL);
    resp_free(&r);
    post_job(&e, "elsewhere-1", ccc_buf_bytes(&a), &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    env_stop(&e);
    ccc_buf_wipe(&a);
    ccc_buf_wipe(&b);
    rm_rf(dir);
}

static void permanent_job_error_is_failed(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf body;
    submit(&e, "perm-1", 4, &body);
    http_resp r;
    wait_job(&e, "perm-1", &r);
    assert_int_equal(r.status, 400); /* crypto's status */
    json_t *j = json_of(&r);
    assert_string_equal(jstr(j, "status"), "failed");
    assert_string_equal(jstr(j, "error"), "crypto");
    assert_null(json_object_get(j, "response"));
    json_decref(j);
    resp_free(&r);
    http(&e, "GET", "/metrics", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_non_null(strstr((char *)r.body.data, "ccc_job_errors_total{class=\"crypto\"} 1"));
    resp_free(&r);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

static void dropped_enclave_retried_exactly_once(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf body;
    submit(&e, "drop-1", 6, &body);
    expect_job(&e, "drop-1", 200, "done", NULL);
    http_resp r;
    http(&e, "GET", "/v1/jobs/drop-1", NULL, ccc_bytes_of(NULL, 0), false, &r);
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
    json_decref(j);
    resp_free(&r);
    pthread_mutex_lock(&e.enc.mu);
    assert_true(e.enc.dropped);
    assert_int_equal(e.enc.requests_drop, 2);
    assert_int_equal(e.enc.results, 1);
    assert_int_equal(e.enc.connections, 2);
    pthread_mutex_unlock(&e.enc.mu);
    /* the second connection needed no key (the enclave kept its keys) */
    assert_int_equal(atomic_load(&e.kms.requests), 1);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

static void transient_errors_dead_letter(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf body;
    submit(&e, "fail-1", 11, &body);
    http_resp r;
    /* internal is transient: 3 attempts, then the queue's dead letter */
    expect_job(&e, "fail-1", 500, "failed", "internal");
    http(&e, "GET", "/v1/jobs/fail-1", NULL, ccc_bytes_of(NULL, 0), false, &r);
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 3);
    json_decref(j);
    resp_free(&r);
    http(&e, "GET", "/metrics", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_non_null(strstr((char *)r.body.data, "ccc_queue_jobs{state=\"dead\"} 1"));
    resp_free(&r);
    /* each refusal dropped the connection; the enclave kept its keys */
    pthread_mutex_lock(&e.enc.mu);
    assert_true(e.enc.connections >= 3);
    pthread_mutex_unlock(&e.enc.mu);
    assert_int_equal(atomic_load(&e.kms.requests), 1);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

static void silent_enclave_times_out_then_retry(void **state)
{
    (void)state;
    env e;
    env_opts o = {.job_timeout_ms = 1500}; /* ample for the answer of the retry */
    env_start(&e, &o);
    ccc_buf body;
    submit(&e, "slow-1", 12, &body);
    expect_job(&e, "slow-1", 200, "done", NULL);
    pthread_mutex_lock(&e.enc.mu);
    assert_int_equal(e.enc.held, 1);
    assert_int_equal(e.enc.results, 1);
    pthread_mutex_unlock(&e.enc.mu);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

static void *enclave_up_later(void *arg)
{
    sleep_ms(300);
    env_enclave_up(arg);
    return NULL;
}

/* GET ?wait=: one request that is answered when the result is stored. A host
 * without long polls would answer "queued" (no enclave is there yet). */
static void long_poll_answers_when_done(void **state)
{
    (void)state;
    env e;
    env_opts o = {.enclave_later = true};
    env_start(&e, &o);
    ccc_buf body;
    submit(&e, "lp-1", 13, &body);
    http_resp r;
    http(&e, "GET", "/v1/jobs/lp-1?wait=0", NULL, ccc_bytes_of(NULL, 0), false, &r);
    json_t *j = json_of(&r);
    assert_string_equal(jstr(j, "status"), "queued"); /* wait=0: at once */
    json_decref(j);
    resp_free(&r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, enclave_up_later, &e), 0);
    http(&e, "GET", "/v1/jobs/lp-1?wait=20000", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.status, 200);
    j = json_of(&r);
    assert_string_equal(jstr(j, "status"), "done");
    json_decref(j);
    resp_free(&r);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

static void stop_requeues_the_job_in_flight(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf body;
    submit(&e, "hold-1", 13, &body);
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&e.enc.mu);
        int held = e.enc.held;
        pthread_mutex_unlock(&e.enc.mu);
        if (held)
            break;
        sleep_ms(10);
    }
    ccc_host_free(e.host); /* stop: the job does not finish within the grace */
    e.host = NULL;
    ccc_queue *q = NULL;
    assert_int_equal(ccc_queue_open(e.queue, NULL, &q), CCC_OK);
    ccc_queue_info info;
    assert_int_equal(ccc_queue_status(q, "hold-1", &info), CCC_OK);
    assert_int_equal(info.state, CCC_JOB_QUEUED);
    assert_int_equal(info.attempt, 1);
    assert_int_equal(info.error, CCC_ERR_IO);
    ccc_queue_free(q);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

/* The same API over the Redis Streams queue (a redis-server on loopback). */
static void redis_queue_end_to_end(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    char port[16], url[64], logf[128];
    snprintf(logf, sizeof logf, "%s/redis.log", g.dir);
    snprintf(port, sizeof port, "%u", (unsigned)ntohs(a.sin_port));
    snprintf(url, sizeof url, "redis://127.0.0.1:%s/0", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--dir", g.dir, "--logfile", logf,
               (char *)NULL);
        _exit(127);
    }
    ccc_queue *q = NULL;
    for (int i = 0; i < 500 && ccc_queue_open(url, NULL, &q) != CCC_OK; i++)
        sleep_ms(20);
    assert_non_null(q); /* redis-server is installed by scripts/setup */
    ccc_queue_free(q);

    env e;
    env_opts o = {.queue_url = url};
    env_start(&e, &o);
    wait_ready(&e);
    http_resp r;
    http(&e, "GET", "/healthz", NULL, ccc_bytes_of(NULL, 0), false, &r);
    json_t *j = json_of(&r);
    assert_string_equal(jstr(j, "queue"), "redis");
    json_decref(j);
    resp_free(&r);
    ccc_buf body, other;
    submit(&e, "redis-1", 14, &body);
    expect_job(&e, "redis-1", 200, "done", NULL);
    make_body(&other, g.key.key_id, 0x0002, 100, 15);
    post_job(&e, "redis-1", ccc_buf_bytes(&body), &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    post_job(&e, "redis-1", ccc_buf_bytes(&other), &r);
    expect_error(&r, 409, "replay", NULL);
    resp_free(&r);
    ccc_buf_wipe(&body);
    ccc_buf_wipe(&other);
    env_stop(&e);
    kill(pid, SIGTERM);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
}

static void metrics_text(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    wait_ready(&e);
    ccc_buf body;
    submit(&e, "m-1", 8, &body);
    http_resp r;
    wait_job(&e, "m-1", &r);
    resp_free(&r);
    http(&e, "GET", "/metrics", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    const char *t = (const char *)r.body.data;
    static const char *const want[] = {
        "# TYPE ccc_http_requests_total counter",
        "ccc_http_requests_total{route=\"jobs_post\",code=\"202\"} 1",
        "# TYPE ccc_http_request_duration_seconds histogram",
        "ccc_http_request_duration_seconds_bucket{le=\"+Inf\"}",
        "# TYPE ccc_job_duration_seconds histogram",
        "ccc_job_duration_seconds_count 1",
        "ccc_queue_jobs{state=\"done\"} 1",
        "ccc_enclaves_ready 1",
        "ccc_attestations_total 1",
        "ccc_key_releases_total{result=\"released\"} 1",
        "# TYPE ccc_job_errors_total counter",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(t, want[i]))
            fail_msg("metrics lack: %s", want[i]);
    resp_free(&r);
    ccc_buf_wipe(&body);
    env_stop(&e);
}

static void static_files_and_traversal(void **state)
{
    (void)state;
    char sdir[160], p[256];
    snprintf(sdir, sizeof sdir, "%s/static", g.dir);
    assert_int_equal(mkdir(sdir, 0700), 0);
    snprintf(p, sizeof p, "%s/index.html", sdir);
    assert_int_equal(ccc_file_write(p, "<h1>cats</h1>", 13), CCC_OK);
    snprintf(p, sizeof p, "%s/app.js", sdir);
    assert_int_equal(ccc_file_write(p, "let x=1;", 8), CCC_OK);
    snprintf(p, sizeof p, "%s/.secret", sdir);
    assert_int_equal(ccc_file_write(p, "no", 2), CCC_OK);
    env e;
    env_opts o = {.static_dir = sdir};
    env_start(&e, &o);
    http_resp r;
    http(&e, "GET", "/", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal((char *)r.body.data, "<h1>cats</h1>");
    assert_string_equal(r.ctype, "text/html; charset=utf-8");
    assert_string_equal(r.csp, "default-src 'self'");
    resp_free(&r);
    http(&e, "GET", "/app.js", NULL, ccc_bytes_of(NULL, 0), false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/javascript; charset=utf-8");
    resp_free(&r);
    static const char *const bad[] = {"/../policy.cose", "/..",
                                      "/.secret",        "/%2e%2e/policy.cose",
                                      "/static/app.js",  "/nope.html"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http(&e, "GET", bad[i], NULL, ccc_bytes_of(NULL, 0), false, &r);
        assert_int_equal(r.status, 404);
        resp_free(&r);
    }
    env_stop(&e);
}

static void request_log_has_route_never_body(void **state)
{
    (void)state;
    env e;
    env_opts o = {0};
    env_start(&e, &o);
    ccc_buf body;
    submit(&e, "log-1", 10, &body);
    http_resp r;
    wait_job(&e, "log-1", &r);
    resp_free(&r);
    env_stop(&e);
    fflush(g.log);
    ccc_buf log;
    test_read_file(g.log_path, &log);
    assert_int_equal(ccc_buf_u8(&log, 0), CCC_OK);
    const char *t = (const char *)log.data;
    assert_non_null(strstr(t, "\"method\":\"POST\",\"route\":\"jobs_post\",\"http_status\":202"));
    assert_non_null(strstr(t, "\"route\":\"jobs_get\""));
    assert_non_null(strstr(t, "\"job\":\"log-1\""));
    assert_null(strstr(t, "CANARY"));
    /* every line is one JSON object without a repeated key */
    size_t lines = 0;
    for (const char *line = t; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        json_error_t err;
        json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
        if (!j)
            fail_msg("log line %zu is not clean JSON: %s", lines + 1, err.text);
        json_decref(j);
        lines++;
        line += len + (nl ? 1 : 0);
    }
    assert_true(lines > 10);
    ccc_buf_wipe(&log);
    ccc_buf_wipe(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_check_every_truncation),
        cmocka_unit_test(route_and_id_parsing),
        cmocka_unit_test(bucket_refills_one_minute_worth),
        cmocka_unit_test(record_and_frames_roundtrip),
        cmocka_unit_test(healthz_before_and_after_ready),
        cmocka_unit_test(kms_unavailable_is_relayed),
        cmocka_unit_test(config_json),
        cmocka_unit_test(post_refusals_in_order),
        cmocka_unit_test(rate_limit_429),
        cmocka_unit_test(upload_budget_429),
        cmocka_unit_test(job_done_bit_exact_then_delete),
        cmocka_unit_test(dedup_same_body_200_other_body_409),
        cmocka_unit_test(dedup_of_a_job_accepted_elsewhere),
        cmocka_unit_test(permanent_job_error_is_failed),
        cmocka_unit_test(dropped_enclave_retried_exactly_once),
        cmocka_unit_test(transient_errors_dead_letter),
        cmocka_unit_test(silent_enclave_times_out_then_retry),
        cmocka_unit_test(long_poll_answers_when_done),
        cmocka_unit_test(stop_requeues_the_job_in_flight),
        cmocka_unit_test(redis_queue_end_to_end),
        cmocka_unit_test(metrics_text),
        cmocka_unit_test(static_files_and_traversal),
        cmocka_unit_test(request_log_has_route_never_body),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
