/*
 * client_http.c — the §11 HTTP API from the client's side, over libcurl:
 * GET /v1/config, POST /v1/jobs, GET /v1/jobs/{id} with backoff.
 *
 * Every answer body is read into a capped ccc_buf (an answer over its cap
 * aborts the transfer: CCC_ERR_LIMIT). Error answers are mapped back to
 * their class with the JSON "error" field (§11), falling back to the HTTP
 * status; our error details are literals, never the host's message.
 */
#include "client/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define REQUEST_TIMEOUT_MS 30000u
#define CONNECT_TIMEOUT_MS 5000L
#define POLL_FIRST_MS 100u
#define POLL_MAX_MS 1000u
/* GET /v1/jobs/{id}?wait=: the host answers as soon as the result is stored
 * (a long poll), or after this long with the job's state (for the progress
 * line). A host without long polls answers at once; then we back off. */
#define LONG_POLL_MS 2000u
#define RETRY_AFTER_MAX_S 60u

struct ccc_client_http {
    CURL *curl;
    char base[2048];
    char noproxy[1024];
    uint32_t request_timeout_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

ccc_status ccc_client_http_new(const char *server_url, ccc_client_http **out)
{
    *out = NULL;
    CCC_ENSURE(server_url, CCC_ERR_USAGE, "no server URL");
    CCC_ENSURE(strncmp(server_url, "http://", 7) == 0 || strncmp(server_url, "https://", 8) == 0,
               CCC_ERR_USAGE, "server URL must start with http:// or https://");
    size_t n = strlen(server_url);
    while (n > 0 && server_url[n - 1] == '/')
        n--;
    pthread_once(&curl_once, curl_init_once);
    CCC_ENSURE(curl_init_result == CURLE_OK, CCC_ERR_INTERNAL, "libcurl failed to initialise");
    ccc_client_http *h = calloc(1, sizeof *h);
    CCC_ENSURE(h, CCC_ERR_NOMEM, "out of memory");
    if (n >= sizeof h->base) {
        free(h);
        CCC_BAIL(CCC_ERR_USAGE, "server URL too long");
    }
    memcpy(h->base, server_url, n);
    h->base[n] = '\0';
    h->request_timeout_ms = REQUEST_TIMEOUT_MS;
    /* Loopback never through a proxy; keep what the user asked besides. */
    const char *np = getenv("no_proxy");
    if (!np)
        np = getenv("NO_PROXY");
    snprintf(h->noproxy, sizeof h->noproxy, "%s%s127.0.0.1,localhost,::1", np ? np : "",
             np && np[0] ? "," : "");
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        CCC_BAIL(CCC_ERR_INTERNAL, "libcurl failed to make a handle");
    }
    *out = h;
    return CCC_OK;
}

void ccc_client_http_free(ccc_client_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void ccc_client_http_set_request_timeout(ccc_client_http *h, uint32_t ms)
{
    h->request_timeout_ms = ms ? ms : REQUEST_TIMEOUT_MS;
}

/* ------------------------------------------------------------------------ */
/* One request                                                               */
/* ------------------------------------------------------------------------ */

typedef struct sink {
    ccc_buf *body;
    bool over;
    uint64_t retry_after_s;
} sink;

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    sink *s = arg;
    size_t n = size * count;
    if (ccc_buf_append(s->body, data, n) != CCC_OK) {
        s->over = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    sink *s = arg;
    size_t n = size * count;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        unsigned long v = 0;
        size_t i = sizeof name - 1;
        while (i < n && data[i] == ' ')
            i++;
        for (; i < n && data[i] >= '0' && data[i] <= '9' && v < 100000; i++)
            v = v * 10 + (unsigned long)(data[i] - '0');
        s->retry_after_s = v;
    }
    return n;
}

static uint64_t remaining_ms(uint64_t deadline_ns)
{
    uint64_t now = ccc_now_ns();
    return deadline_ns > now ? (deadline_ns - now) / 1000000u : 0;
}

/*
 * METHOD base+path; POST sends `post` with the job's headers. The answer
 * body goes to `body` (reset; its cap applies); *code is the HTTP status
 * (0 when no answer came). CCC_ERR_IO for transport failures.
 */
static ccc_status http_do(ccc_client_http *h, const char *path, const ccc_client_job *post,
                          uint64_t deadline_ns, ccc_buf *body, long *code,
                          uint64_t *retry_after_s)
{
    ccc_status st = CCC_OK;
    struct curl_slist *headers = NULL;
    char url[2600], idh[CCC_RECEIPT_MAX_JOB_ID + 16];
    *code = 0;
    ccc_buf_reset(body);
    sink s = {.body = body};
    uint64_t left = remaining_ms(deadline_ns);
    CCC_CHECK(left > 0, CCC_ERR_IO, "timed out before the request");
    if (left > h->request_timeout_ms)
        left = h->request_timeout_ms;
    int n = snprintf(url, sizeof url, "%s%s", h->base, path);
    CCC_CHECK(n > 0 && (size_t)n < sizeof url, CCC_ERR_LIMIT, "URL too long");

    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, h->noproxy);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ccc-client/" CCC_VERSION);
    if (post) {
        n = snprintf(idh, sizeof idh, "CCC-Job-Id: %s", post->id);
        CCC_CHECK(n > 0 && (size_t)n < sizeof idh, CCC_ERR_LIMIT, "job id too long");
        struct curl_slist *l = curl_slist_append(NULL, "Content-Type: message/ohttp-req");
        if (l) {
            headers = l;
            l = curl_slist_append(headers, idh);
        }
        CCC_CHECK(l, CCC_ERR_NOMEM, "out of memory");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)post->enc_request.data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post->enc_request.size);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c);
    if (s.over)
        CCC_FAIL(CCC_ERR_LIMIT, "server answer over its size cap");
    if (rc == CURLE_OPERATION_TIMEDOUT)
        CCC_FAIL(CCC_ERR_IO, "request to the server timed out");
    CCC_CHECK(rc == CURLE_OK, CCC_ERR_IO, "cannot reach the server");
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    if (retry_after_s)
        *retry_after_s = s.retry_after_s;
out:
    curl_slist_free_all(headers);
    return st;
}

/* The class of an error answer: its JSON "error", else from the status. */
static ccc_status error_class(long code, const ccc_buf *body)
{
    ccc_status cls;
    if (ccc_client_error_json_parse(ccc_buf_bytes(body), &cls) == CCC_OK)
        return cls;
    switch (code) {
    case 400:
        return CCC_ERR_PARSE;
    case 403:
        return CCC_ERR_POLICY;
    case 404:
        return CCC_ERR_NOT_FOUND;
    case 409:
        return CCC_ERR_REPLAY;
    case 413:
        return CCC_ERR_LIMIT;
    case 415:
        return CCC_ERR_UNSUPPORTED;
    case 429:
        return CCC_ERR_BUSY;
    default:
        return code >= 500 ? CCC_ERR_IO : CCC_ERR_INTERNAL;
    }
}

static ccc_status raise_server(ccc_status cls)
{
    return ccc_error_raise(cls, "the server refused the request", false, 0, __FILE__, __LINE__);
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Sleep `ms` unless that passes the deadline (then false). */
static bool wait_before(uint64_t deadline_ns, uint64_t ms)
{
    if (remaining_ms(deadline_ns) <= ms)
        return false;
    sleep_ms(ms);
    return true;
}

/* ------------------------------------------------------------------------ */
/* The API                                                                   */
/* ------------------------------------------------------------------------ */

ccc_status ccc_client_http_get_config(ccc_client_http *h, ccc_buf *json)
{
    long code = 0;
    ccc_buf_wipe(json);
    ccc_buf_init(json, CCC_CLIENT_MAX_CONFIG_JSON);
    uint64_t deadline = ccc_now_ns() + (uint64_t)h->request_timeout_ms * 1000000u;
    CCC_GUARD(http_do(h, "/v1/config", NULL, deadline, json, &code, NULL));
    if (code == 200)
        return CCC_OK;
    return raise_server(error_class(code, json));
}

ccc_status ccc_client_http_submit(ccc_client_http *h, const ccc_client_job *job,
                                  uint64_t deadline_ns)
{
    CCC_ENSURE(job->sealed, CCC_ERR_USAGE, "job not sealed");
    ccc_buf body;
    ccc_buf_init(&body, CCC_CLIENT_MAX_ERROR_JSON);
    uint64_t backoff = POLL_FIRST_MS;
    ccc_status st;
    for (;;) {
        long code = 0;
        uint64_t retry_after = 0;
        st = http_do(h, "/v1/jobs", job, deadline_ns, &body, &code, &retry_after);
        uint64_t pause = backoff;
        if (st == CCC_OK && (code == 202 || code == 200))
            break;
        if (st == CCC_OK) {
            ccc_status cls = error_class(code, &body);
            if (code == 429 || cls == CCC_ERR_BUSY) {
                pause = (retry_after ? retry_after : 1u) * 1000u;
                if (pause > RETRY_AFTER_MAX_S * 1000u)
                    pause = RETRY_AFTER_MAX_S * 1000u;
            } else if (!(code == 503 || cls == CCC_ERR_IO)) {
                st = raise_server(cls);
                break;
            }
            st = raise_server(cls);
        } else if (st != CCC_ERR_IO) {
            break;
        }
        /* transient: the same id and body again (§11: a safe retry) */
        if (!wait_before(deadline_ns, pause)) {
            if (st == CCC_OK)
                st = raise_server(CCC_ERR_IO);
            break;
        }
        backoff = backoff * 2 > POLL_MAX_MS ? POLL_MAX_MS : backoff * 2;
    }
    ccc_buf_wipe(&body);
    return st;
}

ccc_status ccc_client_http_wait(ccc_client_http *h, const char *job_id, uint64_t deadline_ns,
                                ccc_client_progress_fn progress, void *arg,
                                ccc_client_job_json *out, bool *job_failed)
{
    char path[CCC_RECEIPT_MAX_JOB_ID + 32];
    *job_failed = false;
    CCC_ENSURE(ccc_client_job_id_ok(job_id), CCC_ERR_USAGE, "malformed job id");
    int n = snprintf(path, sizeof path, "/v1/jobs/%s?wait=%u", job_id, LONG_POLL_MS);
    CCC_ENSURE(n > 0 && (size_t)n < sizeof path, CCC_ERR_USAGE, "job id too long");
    ccc_buf body;
    ccc_buf_init(&body, CCC_CLIENT_MAX_JOB_JSON);
    uint64_t start = ccc_now_ns(), backoff = POLL_FIRST_MS;
    ccc_client_job_state last = CCC_CLIENT_JOB_QUEUED;
    ccc_status st;
    for (;;) {
        long code = 0;
        uint64_t asked = ccc_now_ns();
        bool long_polled = false;
        st = http_do(h, path, NULL, deadline_ns, &body, &code, NULL);
        if (st == CCC_OK) {
            /* a job answer (200, or a failed job with its class's status) */
            bool parsed = ccc_client_job_json_parse(ccc_buf_bytes(&body), out) == CCC_OK;
            if (parsed && strcmp(out->id, job_id) != 0) {
                st = ccc_error_raise(CCC_ERR_POLICY, "job id mismatch: the server answered for another job", false, 0, __FILE__, __LINE__);
                break;
            }
            if (parsed && out->state == CCC_CLIENT_JOB_DONE) {
                if (progress)
                    progress(arg, out->state, out->attempt, (ccc_now_ns() - start) / 1000000u);
                break;
            }
            if (parsed && out->state == CCC_CLIENT_JOB_FAILED) {
                *job_failed = true;
                if (progress)
                    progress(arg, out->state, out->attempt, (ccc_now_ns() - start) / 1000000u);
                st = ccc_error_raise(out->error == CCC_OK ? CCC_ERR_INTERNAL : out->error,
                                     "the service refused the job", false, 0, __FILE__, __LINE__);
                break;
            }
            if (parsed && code == 200) {
                if (out->state != last)
                    backoff = POLL_FIRST_MS;
                last = out->state;
                if (progress)
                    progress(arg, out->state, out->attempt, (ccc_now_ns() - start) / 1000000u);
                /* the host held the answer: ask again at once */
                long_polled = ccc_now_ns() - asked >= LONG_POLL_MS * 1000000ull / 2;
            } else if (code == 200) {
                st = ccc_error_raise(CCC_ERR_PARSE, "job answer is malformed", false, 0, __FILE__,
                                     __LINE__);
                break;
            } else {
                ccc_status cls = error_class(code, &body);
                if (cls == CCC_ERR_NOT_FOUND) {
                    st = ccc_error_raise(CCC_ERR_NOT_FOUND,
                                         "the server does not know the job (expired or lost)",
                                         false, 0, __FILE__, __LINE__);
                    break;
                }
                if (!(cls == CCC_ERR_BUSY || cls == CCC_ERR_IO || code >= 500)) {
                    st = raise_server(cls);
                    break;
                }
                st = raise_server(cls); /* transient: wait it out */
            }
        } else if (st != CCC_ERR_IO) {
            break;
        }
        if (long_polled && ccc_now_ns() < deadline_ns)
            continue;
        if (!wait_before(deadline_ns, backoff)) {
            st = ccc_error_raise(CCC_ERR_IO, "timed out waiting for the job", false, 0, __FILE__,
                                 __LINE__);
            break;
        }
        backoff = backoff * 2 > POLL_MAX_MS ? POLL_MAX_MS : backoff * 2;
    }
    ccc_buf_wipe(&body);
    if (st != CCC_OK && !*job_failed) {
        /* keep the class and detail raised above */
        ccc_client_job_json_wipe(out);
        ccc_client_job_json_init(out);
    }
    return st;
}

ccc_status ccc_client_count(ccc_client_http *h, const ccc_client_trust *trust,
                            const ccc_client_config *cfg, ccc_bytes photo, uint32_t timeout_ms,
                            ccc_client_progress_fn progress, void *arg, ccc_client_job *job,
                            ccc_client_result *out, bool *job_failed)
{
    ccc_status st = CCC_OK;
    *job_failed = false;
    ccc_client_job_json jj;
    ccc_client_job_json_init(&jj);
    uint64_t deadline = ccc_now_ns() +
                        (uint64_t)(timeout_ms ? timeout_ms : CCC_CLIENT_DEFAULT_TIMEOUT_MS) * 1000000u;
    out->step = "seal";
    CCC_TRY(ccc_client_job_seal(cfg, photo, NULL, job));
    out->step = "submit";
    CCC_TRY(ccc_client_http_submit(h, job, deadline));
    out->step = "wait";
    CCC_TRY(ccc_client_http_wait(h, job->id, deadline, progress, arg, &jj, job_failed));
    CCC_TRY(ccc_client_result_open_parsed(trust, cfg, job, &jj, ccc_wall_ms(), out));
out:
    ccc_client_job_json_wipe(&jj);
    return st;
}

ccc_status ccc_client_fetch_config(ccc_client_http *h, const ccc_client_trust *trust,
                                   const char *state_path, ccc_client_config *out)
{
    ccc_buf json;
    ccc_buf_init(&json, CCC_CLIENT_MAX_CONFIG_JSON);
    ccc_client_config_init(out);
    out->step = "fetch";
    ccc_status st = ccc_client_http_get_config(h, &json);
    if (st == CCC_OK)
        st = ccc_client_config_verify(trust, ccc_buf_bytes(&json), state_path, ccc_wall_ms(), out);
    ccc_buf_wipe(&json);
    return st;
}
