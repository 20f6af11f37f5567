/*
 * enclave — start-up on the host socket (docs/protocol.md §10): policy,
 * model, the NSM's receipt-key document, listen; then per host connection
 * the attested key release through the host, attest_response, the sandbox
 * (once) and the frame service. The contract and every failure: enclave.h,
 * "Start-up on the host socket".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef AF_VSOCK
#include <linux/vm_sockets.h>
#endif

#include <openssl/rand.h>

#include "enclave/enclave.h"
#include "enclave/internal.h"
#include "kms/kms.h"
#include "log/log.h"

struct ccc_enclave_boot {
    ccc_enclave *e;
    ccc_policy policy;
    uint8_t policy_sha256[32];
    ccc_nsm_device nsm;
    int listen_fd;
    int stop_fd;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "" unless unix: */
    bool sandbox, sandbox_done, sandboxed, stopping;
    uint32_t key_timeout_ms, backoff_first_ms;
    uint64_t key_requests;
    ccc_status fatal; /* CCC_OK, or what ends run (enclave.h "Fatal") */
};

uint32_t ccc_enclave_backoff_ms(unsigned attempt, uint32_t first_ms)
{
    /* docs/protocol.md §10: "repeated after each refusal with backoff
     * 1, 2, 4, 8 s (max 8 s)". */
    uint64_t factor = attempt >= 3 ? CCC_ENCLAVE_BACKOFF_FACTOR_MAX : (1u << attempt);
    uint64_t ms = (uint64_t)first_ms * factor;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* ------------------------------------------------------------------------ */
/* Listening socket                                                          */
/* ------------------------------------------------------------------------ */

/* socket + bind + listen (backlog 4: one host connection at a time). */
static ccc_status bind_listen(int family, const void *sa, socklen_t sa_size, int *fd_out)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CCC_ENSURE(fd >= 0, CCC_ERR_IO, "enclave: cannot create the listening socket");
    if (bind(fd, (const struct sockaddr *)sa, sa_size) != 0 || listen(fd, 4) != 0) {
        close(fd);
        CCC_BAIL(CCC_ERR_IO, "enclave: cannot bind or listen");
    }
    *fd_out = fd;
    return CCC_OK;
}

static ccc_status listen_unix(const char *path, int *fd_out)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    CCC_ENSURE(n > 0 && n < sizeof sa.sun_path, CCC_ERR_USAGE,
               "enclave: unix socket path empty or too long");
    memcpy(sa.sun_path, path, n);
    /* A stale socket from an earlier run is replaced; any other file at
     * that path is a mistake in the command line, not ours to delete. */
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        CCC_ENSURE(S_ISSOCK(sb.st_mode), CCC_ERR_IO,
                   "enclave: --listen path exists and is not a socket");
        CCC_ENSURE(unlink(path) == 0, CCC_ERR_IO, "enclave: cannot remove the stale socket");
    }
    return bind_listen(AF_UNIX, &sa, sizeof sa, fd_out);
}

static ccc_status listen_vsock(const char *port_text, int *fd_out)
{
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(port_text, &end, 10);
    CCC_ENSURE(port_text[0] >= '0' && port_text[0] <= '9' && end && *end == '\0' && errno == 0 &&
                   port > 0 && port < 0xffffffffUL,
               CCC_ERR_USAGE, "enclave: vsock port must be a number 1..4294967294");
#ifdef AF_VSOCK
    /* Nitro: the parent instance connects to the enclave's CID and this
     * port; the enclave listens on any CID. */
    struct sockaddr_vm sa;
    memset(&sa, 0, sizeof sa);
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = VMADDR_CID_ANY;
    sa.svm_port = (unsigned)port;
    return bind_listen(AF_VSOCK, &sa, sizeof sa, fd_out);
#else
    (void)fd_out;
    CCC_BAIL(CCC_ERR_UNSUPPORTED, "enclave: this build has no AF_VSOCK");
#endif
}

ccc_status ccc_enclave_listen(const char *spec, int *fd)
{
    *fd = -1;
    CCC_ENSURE(spec != NULL, CCC_ERR_USAGE, "enclave: no listen address");
    if (strncmp(spec, "unix:", 5) == 0)
        return listen_unix(spec + 5, fd);
    if (strncmp(spec, "vsock:", 6) == 0)
        return listen_vsock(spec + 6, fd);
    /* No TCP, on purpose: the enclave has no network (DESIGN.md §2). */
    CCC_BAIL(CCC_ERR_USAGE, "enclave: listen address must be unix:PATH or vsock:PORT");
}

/* ------------------------------------------------------------------------ */
/* Start                                                                     */
/* ------------------------------------------------------------------------ */

static void log_step(const char *step)
{
    ccc_log(CCC_LOG_INFO, CCC_EV_START, ccc_log_id(CCC_F_REASON, step), CCC_LOG_END);
}

/* Step 3: the receipt-key document (docs/protocol.md §10: "public_key =
 * Ed25519 SPKI of the per-boot receipt key, nonce none"). */
static ccc_status attest_receipt_key(ccc_enclave_boot *b)
{
    ccc_status st = CCC_OK;
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    uint8_t sha[32];
    ccc_buf doc;
    ccc_buf_init(&doc, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    CCC_TRY(ccc_enclave_receipt_key_spki(b->e, spki));
    CCC_TRY(ccc_nsm_device_attest(&b->nsm, none, none, ccc_bytes_of(spki, sizeof spki), &doc));
    CCC_TRY(ccc_enclave_set_attestation(b->e, ccc_buf_bytes(&doc)));
    CCC_TRY(ccc_sha256(ccc_buf_bytes(&doc), sha));
    ccc_log(CCC_LOG_INFO, CCC_EV_START, ccc_log_id(CCC_F_REASON, "receipt_key_attested"),
            ccc_log_sha256(CCC_F_DOC_SHA256, sha), ccc_log_size(CCC_F_BYTES_OUT, doc.size),
            CCC_LOG_END);
out:
    ccc_buf_wipe(&doc);
    return st;
}

ccc_status ccc_enclave_boot_start(const ccc_enclave_boot_config *cfg, ccc_enclave_boot **out)
{
    ccc_status st = CCC_OK;
    ccc_enclave_boot *b = NULL;
    char model_dir[4096];
    *out = NULL;
    CCC_CHECK(cfg != NULL && cfg->listen != NULL && cfg->policy_path != NULL &&
                  cfg->policy_pub_path != NULL && cfg->nsm != NULL,
              CCC_ERR_USAGE, "enclave: start-up needs --listen, --policy, --policy-pub and an NSM");
    b = calloc(1, sizeof *b);
    CCC_CHECK(b != NULL, CCC_ERR_NOMEM, "enclave: out of memory");
    b->listen_fd = -1;
    b->stop_fd = cfg->stop_fd;
    b->nsm = *cfg->nsm;
    b->sandbox = cfg->sandbox;
    b->key_timeout_ms = cfg->key_timeout_ms ? cfg->key_timeout_ms : CCC_ENCLAVE_KEY_TIMEOUT_MS;
    b->backoff_first_ms =
        cfg->backoff_first_ms ? cfg->backoff_first_ms : CCC_ENCLAVE_BACKOFF_FIRST_MS;

    /* 1. The policy, verified with the policy key. */
    CCC_TRY(ccc_kms_load_policy(cfg->policy_path, cfg->policy_pub_path, &b->policy,
                                b->policy_sha256));
    log_step("policy_verified");

    /* 2. The model (signed manifest, accepted by the policy) and the
     *    per-boot receipt key. */
    if (cfg->model_dir != NULL) {
        CCC_CHECK(strlen(cfg->model_dir) < sizeof model_dir, CCC_ERR_LIMIT,
                  "enclave: model directory path too long");
        strcpy(model_dir, cfg->model_dir);
    } else {
        CCC_TRY(ccc_detect_default_model_dir(model_dir, sizeof model_dir));
    }
    uint64_t t0 = ccc_now_ns();
    ccc_enclave_config ec = {.model_dir = model_dir,
                             .detect = cfg->detect,
                             .policy = &b->policy,
                             .policy_sha256 = b->policy_sha256,
                             .replay_capacity = cfg->replay_capacity};
    CCC_TRY(ccc_enclave_new(&ec, &b->e));
    ccc_log(CCC_LOG_INFO, CCC_EV_START, ccc_log_id(CCC_F_REASON, "model_loaded"),
            ccc_log_ms(CCC_F_DURATION_MS, (double)(ccc_now_ns() - t0) / 1e6), CCC_LOG_END);

    /* 3. The receipt-key document from the NSM. */
    CCC_TRY(attest_receipt_key(b));

    /* 4. Bind and listen before the sandbox (it allows no bind). */
    CCC_TRY(ccc_enclave_listen(cfg->listen, &b->listen_fd));
    if (strncmp(cfg->listen, "unix:", 5) == 0)
        strcpy(b->unix_path, cfg->listen + 5); /* length checked by listen */
    log_step("listening");
    *out = b;
    b = NULL;
out:
    ccc_enclave_boot_free(b);
    return st;
}

void ccc_enclave_boot_free(ccc_enclave_boot *b)
{
    if (b == NULL)
        return;
    ccc_enclave_free(b->e); /* gateway keys and receipt key wiped */
    if (b->listen_fd >= 0)
        close(b->listen_fd);
    /* enclave.h caveat 3: no unlink under the sandbox. */
    if (b->unix_path[0] && !b->sandboxed)
        unlink(b->unix_path);
    ccc_wipe(b, sizeof *b);
    free(b);
}

ccc_enclave *ccc_enclave_boot_enclave(ccc_enclave_boot *b) { return b->e; }
bool ccc_enclave_boot_stopping(const ccc_enclave_boot *b) { return b->stopping; }
uint64_t ccc_enclave_boot_key_requests(const ccc_enclave_boot *b) { return b->key_requests; }

/* ------------------------------------------------------------------------ */
/* Key release through the host (kms.h §3)                                   */
/* ------------------------------------------------------------------------ */

typedef enum answer_kind {
    ANSWER_INSTALLED, /* keys installed                                  */
    ANSWER_REFUSED,   /* 0x12, or a 0x31 that did not open: retry later   */
} answer_kind;

/* A 0x12 body, logged as the refusal's reason only if it is a safe
 * identifier (ccc_log_id prints "<invalid>" otherwise). */
static void log_refusal(ccc_bytes body, unsigned attempt)
{
    char reason[65] = "";
    if (body.size > 0 && body.size < sizeof reason && memchr(body.ptr, 0, body.size) == NULL)
        memcpy(reason, body.ptr, body.size);
    ccc_log(CCC_LOG_WARN, CCC_EV_KEY_REFUSED, ccc_log_id(CCC_F_REASON, reason),
            ccc_log_count(CCC_F_ATTEMPT, attempt + 1u), CCC_LOG_END);
}

/* 0x31: open with the request's private key, install, wipe everything. */
static ccc_status install_released(ccc_enclave *e, ccc_bytes sealed,
                                   const uint8_t sk[static 32], answer_kind *kind,
                                   unsigned attempt)
{
    ccc_status st = CCC_OK;
    ccc_kms_released rel;
    ccc_ohttp_gateway_key gk[CCC_KMS_MAX_LIVE];
    memset(&rel, 0, sizeof rel);
    memset(gk, 0, sizeof gk);
    ccc_status open_st = ccc_kms_release_open(sealed, sk, &rel);
    if (open_st != CCC_OK) {
        /* Nothing installed; a refusal like any other (enclave.h). */
        ccc_log(CCC_LOG_WARN, CCC_EV_KEY_REFUSED, ccc_log_id(CCC_F_REASON, "bad_key_response"),
                ccc_log_status(open_st), ccc_log_count(CCC_F_ATTEMPT, attempt + 1u),
                CCC_LOG_END);
        *kind = ANSWER_REFUSED;
        goto out;
    }
    CCC_TRY(ccc_kms_gateway_keys(rel.keys, rel.count, gk));
    CCC_TRY(ccc_enclave_install_keys(e, gk, rel.count));
    char id[4];
    snprintf(id, sizeof id, "%u", (unsigned)rel.keys[0].id);
    ccc_log(CCC_LOG_INFO, CCC_EV_KEY_RELEASED, ccc_log_id(CCC_F_KEY_ID, id),
            ccc_log_count(CCC_F_COUNT, rel.count), ccc_log_count(CCC_F_ATTEMPT, attempt + 1u),
            CCC_LOG_END);
    *kind = ANSWER_INSTALLED;
out:
    ccc_kms_released_wipe(&rel);
    for (size_t i = 0; i < CCC_KMS_MAX_LIVE; i++)
        ccc_ohttp_gateway_key_wipe(&gk[i]);
    return st;
}

/* One key request: fresh key pair, nonce and document; send 0x30; wait for
 * and handle the answer. *stopped when stop was requested meanwhile. */
static ccc_status key_request_once(ccc_enclave_boot *b, int fd, unsigned attempt,
                                   answer_kind *kind, bool *stopped)
{
    ccc_status st = CCC_OK;
    ccc_hpke_keypair kp;
    memset(&kp, 0, sizeof kp);
    uint8_t nonce[CCC_KMS_NONCE_SIZE];
    uint8_t spki[CCC_KMS_X25519_SPKI_SIZE];
    uint8_t sha[32];
    ccc_buf doc, body;
    ccc_buf_init(&doc, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_buf_init(&body, ccc_frame_type_max_size(CCC_FRAME_KEY_RESPONSE)); /* 16 KiB */
    *stopped = false;

    /* docs/protocol.md §10: "key-release document: public_key = X25519
     * SPKI of a per-request HPKE key, nonce = 32 random bytes". */
    CCC_TRY(ccc_hpke_keypair_generate(&kp));
    CCC_CHECK(RAND_bytes(nonce, sizeof nonce) == 1, CCC_ERR_INTERNAL,
              "enclave: no randomness for the nonce");
    ccc_kms_x25519_spki(kp.pk, spki);
    st = ccc_nsm_device_attest(&b->nsm, ccc_bytes_of(NULL, 0), ccc_bytes_of(nonce, sizeof nonce),
                               ccc_bytes_of(spki, sizeof spki), &doc);
    if (st != CCC_OK) {
        b->fatal = st; /* the NSM is gone: no key release is possible */
        goto out;
    }
    CCC_TRY(ccc_sha256(ccc_buf_bytes(&doc), sha));
    CCC_TRY(ccc_frame_write(fd, CCC_FRAME_KEY_REQUEST, ccc_buf_bytes(&doc)));
    b->key_requests++;
    ccc_log(CCC_LOG_INFO, CCC_EV_REQUEST, ccc_log_id(CCC_F_REASON, "key_request"),
            ccc_log_sha256(CCC_F_DOC_SHA256, sha), ccc_log_count(CCC_F_ATTEMPT, attempt + 1u),
            CCC_LOG_END);

    ccc_enclave_wait_result w = CCC_ENCLAVE_WAIT_READY;
    CCC_TRY(ccc_enclave_wait(fd, b->stop_fd, (int)b->key_timeout_ms, &w));
    if (w == CCC_ENCLAVE_WAIT_STOP) {
        *stopped = true;
        goto out;
    }
    CCC_CHECK(w == CCC_ENCLAVE_WAIT_READY, CCC_ERR_IO, "enclave: no key response in time");
    ccc_frame_type type;
    CCC_TRY(ccc_frame_read(fd, &type, &body));
    if (type == CCC_FRAME_KEY_RESPONSE) {
        CCC_TRY(install_released(b->e, ccc_buf_bytes(&body), kp.sk, kind, attempt));
    } else if (type == CCC_FRAME_JOB_ERROR) {
        log_refusal(ccc_buf_bytes(&body), attempt);
        *kind = ANSWER_REFUSED;
    } else {
        CCC_FAIL(CCC_ERR_PARSE, "enclave: unexpected frame while waiting for the key response");
    }
out:
    ccc_hpke_keypair_wipe(&kp);
    ccc_buf_wipe(&doc);
    ccc_buf_wipe(&body);
    return st;
}

/* Until keys are installed (CCC_OK), the connection breaks (error) or stop. */
static ccc_status key_release(ccc_enclave_boot *b, int fd)
{
    for (unsigned attempt = 0;; attempt++) {
        if (attempt > 0) {
            ccc_enclave_wait_result w = CCC_ENCLAVE_WAIT_READY;
            CCC_GUARD(ccc_enclave_wait(
                fd, b->stop_fd, (int)ccc_enclave_backoff_ms(attempt - 1, b->backoff_first_ms),
                &w));
            if (w == CCC_ENCLAVE_WAIT_STOP) {
                b->stopping = true;
                return CCC_OK;
            }
            /* The host speaks only to answer a key request. */
            CCC_ENSURE(w == CCC_ENCLAVE_WAIT_TIMEOUT, CCC_ERR_IO,
                       "enclave: host closed or spoke out of turn during the backoff");
        }
        answer_kind kind = ANSWER_REFUSED;
        bool stopped = false;
        CCC_GUARD(key_request_once(b, fd, attempt, &kind, &stopped));
        if (stopped) {
            b->stopping = true;
            return CCC_OK;
        }
        if (kind == ANSWER_INSTALLED)
            return CCC_OK;
    }
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */
/* ------------------------------------------------------------------------ */

ccc_status ccc_enclave_boot_connection(ccc_enclave_boot *b, int fd)
{
    /* a. Keys first (only while the enclave holds none). */
    if (!ccc_enclave_has_keys(b->e)) {
        CCC_GUARD(key_release(b, fd));
        if (b->stopping)
            return CCC_OK;
    }
    /* b. "ready": the receipt-key document. */
    CCC_GUARD(ccc_frame_write(fd, CCC_FRAME_ATTEST_RESPONSE, ccc_enclave_attestation(b->e)));
    log_step("ready");
    /* c. The sandbox, once, after the first key release, before any job. */
    if (b->sandbox && !b->sandbox_done) {
        b->sandbox_done = true;
#ifdef CCC_SANITIZED
        ccc_log(CCC_LOG_WARN, CCC_EV_START, ccc_log_id(CCC_F_REASON, "sandbox_skipped_sanitizer"),
                CCC_LOG_END);
#else
        ccc_status st = ccc_enclave_sandbox_enter();
        if (st != CCC_OK) {
            b->fatal = st;
            return st;
        }
        b->sandboxed = true;
        log_step("sandboxed");
#endif
    }
    /* d. Jobs, pings, attest_request until the host closes. */
    bool stopped = false;
    ccc_status st = ccc_enclave_serve_until(b->e, fd, b->stop_fd, &stopped);
    if (stopped)
        b->stopping = true;
    return st;
}

ccc_status ccc_enclave_boot_run(ccc_enclave_boot *b)
{
    while (!b->stopping && b->fatal == CCC_OK) {
        ccc_enclave_wait_result w = CCC_ENCLAVE_WAIT_READY;
        CCC_GUARD(ccc_enclave_wait(b->listen_fd, b->stop_fd, -1, &w));
        if (w == CCC_ENCLAVE_WAIT_STOP) {
            b->stopping = true;
            break;
        }
        int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            /* A connection that went away before we took it, or a signal. */
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
                continue;
            CCC_BAIL(CCC_ERR_IO, "enclave: accept failed");
        }
        ccc_log(CCC_LOG_INFO, CCC_EV_START, ccc_log_id(CCC_F_REASON, "host_connected"),
                CCC_LOG_END);
        ccc_status st = ccc_enclave_boot_connection(b, fd);
        close(fd);
        if (st != CCC_OK)
            ccc_log(CCC_LOG_WARN, CCC_EV_ERROR, ccc_log_id(CCC_F_REASON, "host_connection_dropped"),
                    ccc_log_status(st), CCC_LOG_END);
        else if (!b->stopping)
            ccc_log(CCC_LOG_INFO, CCC_EV_STOP, ccc_log_id(CCC_F_REASON, "host_disconnected"),
                    CCC_LOG_END);
    }
    if (b->fatal != CCC_OK)
        return b->fatal;
    ccc_log(CCC_LOG_INFO, CCC_EV_STOP, ccc_log_id(CCC_F_REASON, "stop_requested"), CCC_LOG_END);
    return CCC_OK;
}
