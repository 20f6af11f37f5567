/*
 * enclave_boot: the enclave's start-up on the host socket (docs/protocol.md
 * §10) in one process. The boot functions run as ccc-enclave runs them
 * (sandbox off: it would cover the test too), with a simulated NSM served
 * by a thread over a socket pair, and in-process key services (src/kms,
 * store in a temp dir, the local root = the simulator's CA) that this test,
 * playing the host, relays the enclave's key requests to. Covered: the
 * backoff schedule; listen addresses; start-up failures; a refusal
 * (policy:pcrs from a key service whose policy lists other PCRs), tampered
 * and truncated key responses and a well-sealed but malformed release
 * (nothing installed, retried each time with a NEW key pair, nonce and
 * document), then the release, attest_response, attest_request, a ping
 * and a real OHTTP job whose receipt verifies against the attest_response
 * document; a host that leaves mid-job; reconnects (no new key request,
 * attest_response again); a bad frame after ready; a silent host (key
 * timeout), a host that answers out of turn, one that talks during the
 * backoff; stop while waiting; and what the log holds (no key bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "testutil.h"

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "cose/cose.h"
#include "detect/manifest.h"
#include "egress/egress.h"
#include "enclave/enclave.h"
#include "frame/frame.h"
#include "kms/kms.h"
#include "log/log.h"
#include "nn/nn.h"
#include "nsm/nsm.h"
#include "policy/policy.h"
#include "receipt/receipt.h"
#include "x509/x509.h"

#define WAIT_MS 60000 /* failure bound for every wait, never a speed check */

/* Built once for the whole file. */
static struct {
    char dir[64];
    char policy_path[128], policy_pub_path[128], sock[128];
    ccc_policy policy, wrong_policy;
    uint8_t policy_sha[32], wrong_sha[32];
    uint8_t model_sha[32];
    ccc_nsm_sim sim;
    ccc_x509_root *root;
    ccc_kms_store *store;
    ccc_kms *kms, *kms_wrong;
    char *log_data;
    size_t log_size;
    FILE *log;
} F;

/* One running enclave (per test). */
typedef struct running {
    int nsm_sv[2];
    pthread_t nsm_thread;
    int stop[2];
    ccc_nsm_device dev;
    ccc_enclave_boot *b;
    pthread_t run_thread;
    ccc_status run_st;
    bool running;
} running;

/* ------------------------------------------------------------------------ */
/* Fixture                                                                   */
/* ------------------------------------------------------------------------ */

static void sign_policy(ccc_policy *p, EVP_PKEY *key, uint8_t sha[32], const char *path)
{
    ccc_buf bundle;
    ccc_buf_init(&bundle, CCC_POLICY_MAX_BUNDLE_SIZE);
    assert_int_equal(ccc_policy_sign(p, key, &bundle), CCC_OK);
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(&bundle), key, p, sha), CCC_OK);
    if (path)
        assert_int_equal(ccc_file_write(path, bundle.data, bundle.size), CCC_OK);
    ccc_buf_wipe(&bundle);
}

static void make_policy(ccc_policy *p, const uint8_t pcr0[48])
{
    memset(p, 0, sizeof *p);
    p->version = 1;
    assert_int_equal(ccc_attest_pcr_set_add(&p->sets[0], 0, ccc_bytes_of(pcr0, 48)), CCC_OK);
    p->set_count = 1;
    p->egress_max_answer_bytes = 1024;
    p->egress_max_boxes = 8;
    p->tou_max_body_bytes = 16u << 20;
    p->tou_rate_per_minute = 60;
    memcpy(p->manifests[0], F.model_sha, 32);
    p->manifest_count = 1;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as ccc-enclave: a peer that left is an error return */
    snprintf(F.dir, sizeof F.dir, "/tmp/ccc-test-eboot-XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    snprintf(F.policy_path, sizeof F.policy_path, "%s/policy.cbor", F.dir);
    snprintf(F.policy_pub_path, sizeof F.policy_pub_path, "%s/policy-pub.pem", F.dir);
    snprintf(F.sock, sizeof F.sock, "%s/enclave.sock", F.dir);

    /* The model manifest's hash, which the policy must accept. */
    ccc_buf json, bin;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    ccc_detect_manifest_info info;
    if (ccc_detect_manifest_load_files(test_path("data/models"), NULL, NULL, &json, &bin, &info) !=
        CCC_OK)
        fail_msg("model: %s (run scripts/setup)", ccc_error_detail());
    memcpy(F.model_sha, info.sha256, 32);
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);

    /* The simulated NSM, booted and measured like a launch of this test. */
    int64_t now = (int64_t)time(NULL);
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    assert_int_equal(ccc_nsm_ca_generate(&ca, now - 3600), CCC_OK);
    ccc_nsm_sim_init(&F.sim);
    assert_int_equal(ccc_nsm_sim_boot(&F.sim, &ca, now), CCC_OK);
    ccc_nsm_ca_wipe(&ca);
    int fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(ccc_nsm_sim_measure_fd(&F.sim, fd), CCC_OK);
    close(fd);
    ccc_buf pem;
    ccc_buf_init(&pem, 64u * 1024u);
    assert_int_equal(ccc_nsm_ca_root_pem(&F.sim.ca, &pem), CCC_OK);
    assert_int_equal(ccc_x509_root_new_pem(ccc_buf_bytes(&pem), &F.root), CCC_OK);
    ccc_buf_wipe(&pem);

    /* The signed policy (this PCR0, this model), written where the enclave
     * reads it, and one listing other PCRs for the refusing key service. */
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(key);
    assert_int_equal(ccc_cose_key_write_pem(F.policy_pub_path, key, false), CCC_OK);
    make_policy(&F.policy, F.sim.pcrs[0]);
    sign_policy(&F.policy, key, F.policy_sha, F.policy_path);
    uint8_t other[48];
    memset(other, 0x5a, sizeof other);
    make_policy(&F.wrong_policy, other);
    sign_policy(&F.wrong_policy, key, F.wrong_sha, NULL);
    EVP_PKEY_free(key);
    assert_int_equal(ccc_nsm_sim_extend(&F.sim, CCC_NSM_PCR_MANIFEST, ccc_bytes_of(F.model_sha, 32)),
                     CCC_OK);
    assert_int_equal(ccc_nsm_sim_extend(&F.sim, CCC_NSM_PCR_POLICY, ccc_bytes_of(F.policy_sha, 32)),
                     CCC_OK);

    /* Key services over one store: one enforcing the policy, one not
     * listing this enclave. */
    char store_dir[128];
    snprintf(store_dir, sizeof store_dir, "%s/kms", F.dir);
    assert_int_equal(ccc_kms_store_open(store_dir, true, &F.store), CCC_OK);
    assert_int_equal(ccc_kms_new(F.store, &F.policy, F.policy_sha, F.root, &F.kms), CCC_OK);
    assert_int_equal(ccc_kms_new(F.store, &F.wrong_policy, F.wrong_sha, F.root, &F.kms_wrong),
                     CCC_OK);

    F.log = open_memstream(&F.log_data, &F.log_size);
    assert_non_null(F.log);
    ccc_log_init(F.log, "ccc-enclave", CCC_LOG_DEBUG);
    return 0;
}

static void rm(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", F.dir, name);
    unlink(p);
}

static int teardown(void **state)
{
    (void)state;
    ccc_log_init(stderr, "ccc", CCC_LOG_INFO);
    fclose(F.log);
    free(F.log_data);
    ccc_kms_free(F.kms);
    ccc_kms_free(F.kms_wrong);
    ccc_kms_store_free(F.store);
    rm("kms/state.cbor");
    rm("kms/storage.key");
    rm("kms/config.cose");
    char p[256];
    snprintf(p, sizeof p, "%s/kms", F.dir);
    rmdir(p);
    rm("policy.cbor");
    rm("policy-pub.pem");
    rm("enclave.sock");
    rm("not-a-socket");
    rmdir(F.dir);
    ccc_x509_root_free(F.root);
    ccc_nsm_sim_wipe(&F.sim);
    return 0;
}

/* The log so far (flushed; valid until the next log line). */
static const char *log_text(void)
{
    fflush(F.log);
    return F.log_data ? F.log_data : "";
}

static size_t count_in_log(const char *needle)
{
    size_t n = 0;
    for (const char *p = log_text(); (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* A running enclave                                                         */
/* ------------------------------------------------------------------------ */

static void *nsm_thread(void *p)
{
    running *r = p;
    ccc_status st = ccc_nsm_sim_serve(&F.sim, r->nsm_sv[0]);
    (void)st; /* ends when the enclave side closes */
    return NULL;
}

static void *run_thread(void *p)
{
    running *r = p;
    r->run_st = ccc_enclave_boot_run(r->b);
    return NULL;
}

static ccc_enclave_boot_config boot_config(running *r, uint32_t key_timeout_ms)
{
    ccc_enclave_boot_config cfg = {
        .listen = NULL,
        .policy_path = F.policy_path,
        .policy_pub_path = F.policy_pub_path,
        .model_dir = test_path("data/models"),
        .detect = {.threads = 2},
        .nsm = &r->dev,
        .stop_fd = r->stop[0],
        .sandbox = false, /* it would cover this test process too */
        .key_timeout_ms = key_timeout_ms,
        .backoff_first_ms = 10, /* 10, 20, 40, 80, 80 ms: the schedule, faster */
    };
    return cfg;
}

/* The NSM thread and the stop pipe, before start. */
static void nsm_up(running *r)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->nsm_sv), 0);
    assert_int_equal(pipe2(r->stop, O_CLOEXEC), 0);
    ccc_nsm_device_use_sim(&r->dev, r->nsm_sv[1]);
    assert_int_equal(pthread_create(&r->nsm_thread, NULL, nsm_thread, r), 0);
}

static void nsm_down(running *r)
{
    close(r->nsm_sv[1]); /* the simulator sees EOF and returns */
    pthread_join(r->nsm_thread, NULL);
    close(r->nsm_sv[0]);
    close(r->stop[0]);
    close(r->stop[1]);
}

static void boot_up_with(running *r, uint32_t key_timeout_ms)
{
    nsm_up(r);
    char listen[160];
    snprintf(listen, sizeof listen, "unix:%s", F.sock);
    ccc_enclave_boot_config cfg = boot_config(r, key_timeout_ms);
    cfg.listen = listen;
    if (ccc_enclave_boot_start(&cfg, &r->b) != CCC_OK)
        fail_msg("start: %s (run scripts/setup)", ccc_error_detail());
    assert_int_equal(pthread_create(&r->run_thread, NULL, run_thread, r), 0);
    r->running = true;
}

static void boot_up(running *r) { boot_up_with(r, 0); }

/* Stop through the pipe (as SIGTERM does) and free. */
static void boot_down(running *r)
{
    if (r->running) {
        assert_int_equal(write(r->stop[1], "x", 1), 1);
        pthread_join(r->run_thread, NULL);
        assert_int_equal(r->run_st, CCC_OK);
        assert_true(ccc_enclave_boot_stopping(r->b));
    }
    ccc_enclave_boot_free(r->b);
    struct stat sb;
    assert_int_not_equal(lstat(F.sock, &sb), 0); /* the socket file is removed */
    nsm_down(r);
}

/* ------------------------------------------------------------------------ */
/* The host's side                                                           */
/* ------------------------------------------------------------------------ */

static int host_connect(void)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    assert_true(strlen(F.sock) < sizeof sa.sun_path);
    memcpy(sa.sun_path, F.sock, strlen(F.sock));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static bool wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, WAIT_MS);
    while (n < 0 && errno == EINTR);
    return n == 1;
}

static ccc_frame_type read_frame(int fd, ccc_buf *body)
{
    if (!wait_readable(fd))
        fail_msg("no frame from the enclave within the bound");
    ccc_frame_type t;
    ccc_status st = ccc_frame_read(fd, &t, body);
    if (st != CCC_OK)
        fail_msg("read: %s (%s)", ccc_status_name(st), ccc_error_detail());
    return t;
}

/* The enclave closed the connection (clean EOF). */
static void expect_closed(int fd)
{
    ccc_buf body;
    ccc_buf_init(&body, CCC_FRAME_MAX_BODY_SIZE);
    if (!wait_readable(fd))
        fail_msg("the enclave did not close the connection");
    ccc_frame_type t;
    assert_int_equal(ccc_frame_read(fd, &t, &body), CCC_ERR_NOT_FOUND);
    ccc_buf_wipe(&body);
}

/* A key request as the enclave must make it: a Nitro document from our
 * NSM with a 32-byte nonce and an X25519 SPKI. Keeps nonce and key. */
typedef struct key_req {
    ccc_buf doc;
    uint8_t nonce[32];
    uint8_t pk[32];
} key_req;

static void expect_key_request(int fd, key_req *kr)
{
    ccc_buf_init(&kr->doc, CCC_FRAME_MAX_BODY_SIZE);
    assert_int_equal(read_frame(fd, &kr->doc), CCC_FRAME_KEY_REQUEST);
    ccc_attest_doc d;
    ccc_attest_doc_init(&d);
    assert_int_equal(ccc_attest_doc_parse(&d, ccc_buf_bytes(&kr->doc), NULL), CCC_OK);
    assert_true(d.has_nonce);
    assert_int_equal(d.nonce.size, 32);
    assert_true(d.has_public_key);
    assert_int_equal(d.public_key.size, CCC_KMS_X25519_SPKI_SIZE);
    assert_memory_equal(d.public_key.ptr, ccc_kms_x25519_spki_prefix, 12);
    memcpy(kr->nonce, d.nonce.ptr, 32);
    memcpy(kr->pk, d.public_key.ptr + 12, 32);
    /* It verifies: chain to our root, signature, this enclave's PCRs. */
    ccc_attest_policy ap;
    memset(&ap, 0, sizeof ap);
    ccc_policy_to_attest(&F.policy, &ap);
    ap.has_time = true;
    ap.at_ms = ccc_wall_ms();
    ap.max_age_ms = 60000;
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify(&d, F.root, &ap, &rep), CCC_OK);
    ccc_attest_doc_wipe(&d);
}

/* Two key requests must not share a nonce, a key or a document. */
static void assert_fresh(const key_req *a, const key_req *b)
{
    assert_memory_not_equal(a->nonce, b->nonce, 32);
    assert_memory_not_equal(a->pk, b->pk, 32);
    assert_false(a->doc.size == b->doc.size && memcmp(a->doc.data, b->doc.data, a->doc.size) == 0);
}

/* Relay to key service `kms` as the host does: 0x31 or 0x12 "<class>:<reason>". */
static ccc_frame_type relay(ccc_kms *kms, const key_req *kr, ccc_buf *answer)
{
    ccc_buf_reset(answer);
    ccc_kms_reason reason = CCC_KMS_R_OK;
    ccc_status st = ccc_kms_release(kms, ccc_buf_bytes(&kr->doc), ccc_wall_ms(), answer, &reason);
    if (st == CCC_OK)
        return CCC_FRAME_KEY_RESPONSE;
    ccc_buf_reset(answer);
    assert_int_equal(ccc_kms_refusal_body(st, reason, answer), CCC_OK);
    return CCC_FRAME_JOB_ERROR;
}

/* A release plaintext of our own, sealed to the request's key (as any host
 * could: base mode does not authenticate the sender). */
static void host_sealed(const key_req *kr, ccc_bytes pt, ccc_buf *out)
{
    static const ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                                         CCC_HPKE_AEAD_AES_256_GCM};
    uint8_t buf[512];
    size_t n = 0;
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(
        ccc_bytes_of(CCC_KMS_RELEASE_INFO, sizeof CCC_KMS_RELEASE_INFO - 1));
    assert_int_equal(ccc_hpke_seal(suite, kr->pk, &o, ccc_bytes_of(NULL, 0), pt.ptr, pt.size, buf,
                                   buf + CCC_HPKE_ENC_SIZE, sizeof buf - CCC_HPKE_ENC_SIZE, &n),
                     CCC_OK);
    ccc_buf_reset(out);
    assert_int_equal(ccc_buf_append(out, buf, CCC_HPKE_ENC_SIZE + n), CCC_OK);
}

/* attest_response: the receipt-key document, verified like a client does. */
static void expect_ready(int fd, ccc_enclave_boot *b, ccc_buf *doc)
{
    ccc_buf_init(doc, CCC_FRAME_MAX_BODY_SIZE);
    assert_int_equal(read_frame(fd, doc), CCC_FRAME_ATTEST_RESPONSE);
    ccc_bytes mine = ccc_enclave_attestation(ccc_enclave_boot_enclave(b));
    assert_int_equal(doc->size, mine.size);
    assert_memory_equal(doc->data, mine.ptr, mine.size);
    ccc_attest_doc d;
    ccc_attest_doc_init(&d);
    assert_int_equal(ccc_attest_doc_parse(&d, ccc_buf_bytes(doc), NULL), CCC_OK);
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_enclave_receipt_key_spki(ccc_enclave_boot_enclave(b), spki), CCC_OK);
    assert_false(d.has_nonce && d.nonce.size > 0); /* no nonce in the receipt-key document */
    ccc_attest_policy ap;
    memset(&ap, 0, sizeof ap);
    ccc_policy_to_attest(&F.policy, &ap);
    ap.public_key = ccc_bytes_of(spki, sizeof spki);
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify(&d, F.root, &ap, &rep), CCC_OK);
    ccc_attest_doc_wipe(&d);
}

static void ping(int fd, const char *tok)
{
    ccc_buf body;
    ccc_buf_init(&body, 64);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_PING, ccc_bytes_of(tok, strlen(tok))), CCC_OK);
    assert_int_equal(read_frame(fd, &body), CCC_FRAME_PONG);
    assert_int_equal(body.size, strlen(tok));
    assert_memory_equal(body.data, tok, body.size);
    ccc_buf_wipe(&body);
}

/* A job as a client makes it: the photo encrypted to the key service's
 * current config key (RFC 9458 §4.3), wrapped in a job_request body. */
static void make_job(const char *job_id, const char *sample, ccc_ohttp_ctx *c, ccc_buf *enc,
                     ccc_buf *req)
{
    char rel[128];
    snprintf(rel, sizeof rel, "data/samples/%s", sample);
    ccc_buf img;
    test_read_file(test_path(rel), &img);
    ccc_ohttp_key_config cfg;
    assert_int_equal(ccc_kms_key_config(&ccc_kms_store_keys(F.store)[0], &cfg), CCC_OK);
    ccc_hpke_suite suite;
    assert_int_equal(ccc_ohttp_key_config_choose(&cfg, CCC_HPKE_AEAD_AES_256_GCM, &suite), CCC_OK);
    ccc_ohttp_ctx_init(c);
    ccc_buf_init(enc, img.size + CCC_OHTTP_REQUEST_OVERHEAD);
    uint8_t *p = NULL;
    assert_int_equal(ccc_buf_extend(enc, img.size + CCC_OHTTP_REQUEST_OVERHEAD, &p), CCC_OK);
    size_t n = 0;
    assert_int_equal(
        ccc_ohttp_request_encapsulate(c, &cfg, suite, img.data, img.size, p, enc->size, &n),
        CCC_OK);
    assert_int_equal(n, enc->size);
    ccc_buf_init(req, CCC_FRAME_MAX_BODY_SIZE);
    assert_int_equal(
        ccc_enclave_job_request_encode(job_id, strlen(job_id), ccc_buf_bytes(enc), req), CCC_OK);
    ccc_buf_wipe(&img);
}

/* One job on the connection: job_result whose answer decrypts and passes
 * the egress guard and whose receipt verifies against `doc`. */
static void good_job(int fd, const char *job_id, const char *sample, ccc_bytes doc)
{
    ccc_ohttp_ctx c;
    ccc_buf enc, req, body;
    make_job(job_id, sample, &c, &enc, &req);
    ccc_buf_init(&body, CCC_FRAME_MAX_BODY_SIZE);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&req)), CCC_OK);
    assert_int_equal(read_frame(fd, &body), CCC_FRAME_JOB_RESULT);
    ccc_cbor_doc cd;
    ccc_cbor_doc_init(&cd);
    assert_int_equal(ccc_cbor_decode(&cd, ccc_buf_bytes(&body), NULL, CCC_CBOR_CANONICAL), CCC_OK);
    const ccc_cbor_item *root = ccc_cbor_doc_root(&cd), *it;
    assert_int_equal(ccc_cbor_map_get_text(root, "job_id", &it), CCC_OK);
    assert_true(ccc_cbor_text_equals(it, job_id));
    ccc_bytes resp, rcpt;
    assert_int_equal(ccc_cbor_map_get_text(root, "response", &it), CCC_OK);
    assert_int_equal(ccc_cbor_get_bytes(it, &resp), CCC_OK);
    assert_int_equal(ccc_cbor_map_get_text(root, "receipt", &it), CCC_OK);
    assert_int_equal(ccc_cbor_get_bytes(it, &rcpt), CCC_OK);

    uint8_t answer[CCC_EGRESS_MAX_ANSWER_SIZE];
    size_t answer_size = 0;
    uint8_t salt[CCC_RECEIPT_ANSWER_SALT_SIZE]; /* the receipt's answer salt */
    assert_int_equal(ccc_hpke_ctx_export(&c.hpke,
                                         ccc_bytes_of(CCC_RECEIPT_ANSWER_SALT_LABEL,
                                                      sizeof CCC_RECEIPT_ANSWER_SALT_LABEL - 1),
                                         salt, sizeof salt),
                     CCC_OK);
    assert_int_equal(ccc_ohttp_response_decapsulate(&c, resp.ptr, resp.size, answer, sizeof answer,
                                                    &answer_size),
                     CCC_OK);
    ccc_egress_policy ep = ccc_egress_policy_from_limits(F.policy.egress_max_answer_bytes,
                                                         F.policy.egress_max_boxes);
    ccc_egress_answer a;
    assert_int_equal(ccc_egress_check(ccc_bytes_of(answer, answer_size), &ep, &a), CCC_OK);
    assert_string_equal(a.model, CCC_ENCLAVE_MODEL_ID);

    ccc_attest_doc d;
    ccc_attest_doc_init(&d);
    assert_int_equal(ccc_attest_doc_parse(&d, doc, NULL), CCC_OK);
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    assert_int_equal(ccc_receipt_parse(&m, rcpt), CCC_OK);
    uint8_t req_sha[32], ans_sha[32];
    assert_int_equal(ccc_receipt_sha256(ccc_buf_bytes(&enc), req_sha), CCC_OK);
    assert_int_equal(ccc_receipt_answer_commit(salt, ccc_bytes_of(answer, answer_size), ans_sha),
                     CCC_OK);
    ccc_receipt_expect ex = {.job_id = job_id,
                             .request_sha256 = req_sha,
                             .answer_sha256 = ans_sha,
                             .policy_sha256 = F.policy_sha,
                             .model_sha256 = F.model_sha};
    if (ccc_receipt_verify(&m, &d, &ex) != CCC_OK)
        fail_msg("receipt: %s", ccc_error_detail());
    ex.job_id = "another-job"; /* and it claims nothing about another job */
    assert_int_equal(ccc_receipt_verify(&m, &d, &ex), CCC_ERR_POLICY);
    ccc_receipt_msg_wipe(&m);
    ccc_attest_doc_wipe(&d);
    ccc_cbor_doc_wipe(&cd);
    ccc_ohttp_ctx_wipe(&c);
    ccc_buf_wipe(&enc);
    ccc_buf_wipe(&req);
    ccc_buf_wipe(&body);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void backoff_schedule(void **state)
{
    (void)state;
    /* docs/protocol.md §10: 1, 2, 4, 8 s, then 8 s. */
    static const uint32_t want[] = {1000, 2000, 4000, 8000, 8000, 8000};
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(ccc_enclave_backoff_ms(i, CCC_ENCLAVE_BACKOFF_FIRST_MS), want[i]);
    assert_int_equal(ccc_enclave_backoff_ms(1000000, 10), 80);
    assert_int_equal(ccc_enclave_backoff_ms(5, UINT32_MAX), UINT32_MAX); /* saturates */
}

static void listen_addresses(void **state)
{
    (void)state;
    static const char *const bad[] = {"tcp:1",      "127.0.0.1:80", "unix:", "vsock:",
                                      "vsock:abc",  "vsock:0",      "vsock:-1", "vsock:12x",
                                      "vsock:4294967295", "", "UNIX:/tmp/x"};
    int fd = -1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ccc_enclave_listen(bad[i], &fd) != CCC_ERR_USAGE)
            fail_msg("listen address '%s' was not refused as usage", bad[i]);
        assert_int_equal(fd, -1);
    }
    char longp[200];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, "unix:/", 6);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(ccc_enclave_listen(longp, &fd), CCC_ERR_USAGE);

    /* A file that is not a socket is not ours to delete. */
    char spec[192], path[160];
    snprintf(path, sizeof path, "%s/not-a-socket", F.dir);
    assert_int_equal(ccc_file_write(path, "keep", 4), CCC_OK);
    snprintf(spec, sizeof spec, "unix:%s", path);
    assert_int_equal(ccc_enclave_listen(spec, &fd), CCC_ERR_IO);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 4);

    /* A stale socket (left by a crash) is replaced. */
    snprintf(spec, sizeof spec, "unix:%s", F.sock);
    assert_int_equal(ccc_enclave_listen(spec, &fd), CCC_OK);
    close(fd); /* not unlinked: stale */
    assert_int_equal(lstat(F.sock, &sb), 0);
    assert_int_equal(ccc_enclave_listen(spec, &fd), CCC_OK);
    close(fd);
    unlink(F.sock);

    /* vsock: well-formed; bound where the kernel has a transport. */
    ccc_status st = ccc_enclave_listen("vsock:5005", &fd);
    assert_true(st == CCC_OK || st == CCC_ERR_IO || st == CCC_ERR_UNSUPPORTED);
    if (st == CCC_OK)
        close(fd);
}

static void start_failures(void **state)
{
    (void)state;
    running r;
    char listen[160];
    snprintf(listen, sizeof listen, "unix:%s", F.sock);
    struct stat sb;

    /* The policy checked with another key: refused before anything else. */
    nsm_up(&r);
    char other_pub[160];
    snprintf(other_pub, sizeof other_pub, "%s/other-pub.pem", F.dir);
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    assert_int_equal(ccc_cose_key_write_pem(other_pub, k, false), CCC_OK);
    EVP_PKEY_free(k);
    ccc_enclave_boot_config cfg = boot_config(&r, 0);
    cfg.listen = listen;
    cfg.policy_pub_path = other_pub;
    assert_int_equal(ccc_enclave_boot_start(&cfg, &r.b), CCC_ERR_CRYPTO);
    assert_null(r.b);
    unlink(other_pub);

    /* No model there. */
    cfg = boot_config(&r, 0);
    cfg.listen = listen;
    cfg.model_dir = F.dir;
    assert_int_not_equal(ccc_enclave_boot_start(&cfg, &r.b), CCC_OK);
    assert_null(r.b);

    /* A TCP address: refused (after the NSM document, before any socket). */
    cfg = boot_config(&r, 0);
    cfg.listen = "127.0.0.1:8080";
    assert_int_equal(ccc_enclave_boot_start(&cfg, &r.b), CCC_ERR_USAGE);
    assert_null(r.b);

    /* Incomplete configuration. */
    cfg = boot_config(&r, 0);
    assert_int_equal(ccc_enclave_boot_start(&cfg, &r.b), CCC_ERR_USAGE);
    assert_int_not_equal(lstat(F.sock, &sb), 0); /* nothing bound by any of these */
    nsm_down(&r);

    /* The NSM channel is gone (ccc nsm launch ended). */
    nsm_up(&r);
    assert_int_equal(shutdown(r.nsm_sv[0], SHUT_RDWR), 0); /* wakes and ends the simulator */
    pthread_join(r.nsm_thread, NULL);
    cfg = boot_config(&r, 0);
    cfg.listen = listen;
    assert_int_equal(ccc_enclave_boot_start(&cfg, &r.b), CCC_ERR_IO);
    assert_null(r.b);
    close(r.nsm_sv[1]);
    close(r.nsm_sv[0]);
    close(r.stop[0]);
    close(r.stop[1]);
}

/* The whole start-up with every key-release failure on the way, then jobs,
 * reconnects and a bad frame. */
static void key_release_and_jobs(void **state)
{
    (void)state;
    running r;
    boot_up(&r);
    ccc_enclave *e = ccc_enclave_boot_enclave(r.b);
    assert_false(ccc_enclave_has_keys(e));
    ccc_buf answer;
    ccc_buf_init(&answer, CCC_FRAME_MAX_BODY_SIZE);
    key_req prev, kr;
    size_t refused0 = count_in_log("\"event\":\"key_refused\"");

    /* Connection 1: the host leaves right after the key request. */
    int fd = host_connect();
    expect_key_request(fd, &prev);
    close(fd);

    /* Connection 2: a new key request (the old one died with its host). */
    fd = host_connect();
    expect_key_request(fd, &kr);
    assert_fresh(&prev, &kr);
    ccc_buf_wipe(&prev.doc);
    prev = kr;

    /* A refusal from a key service that does not list these PCRs... */
    assert_int_equal(relay(F.kms_wrong, &prev, &answer), CCC_FRAME_JOB_ERROR);
    assert_int_equal(answer.size, strlen("policy:pcrs"));
    assert_memory_equal(answer.data, "policy:pcrs", answer.size);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_ERROR, ccc_buf_bytes(&answer)), CCC_OK);
    /* ... is retried with a new key pair, nonce and document. */
    expect_key_request(fd, &kr);
    assert_fresh(&prev, &kr);
    ccc_buf_wipe(&prev.doc);
    prev = kr;

    /* Tampered key responses (enc, ciphertext, tag) and a truncated one:
     * nothing installed, retried each time. */
    static const int flip_at[] = {0, 31, 40, -1};
    for (size_t i = 0; i <= sizeof flip_at / sizeof flip_at[0]; i++) {
        assert_int_equal(relay(F.kms, &prev, &answer), CCC_FRAME_KEY_RESPONSE);
        if (i < sizeof flip_at / sizeof flip_at[0]) {
            size_t at = flip_at[i] < 0 ? answer.size - 1 : (size_t)flip_at[i];
            answer.data[at] ^= 0x01;
        } else {
            answer.size = CCC_HPKE_ENC_SIZE + 3; /* truncated */
        }
        assert_int_equal(ccc_frame_write(fd, CCC_FRAME_KEY_RESPONSE, ccc_buf_bytes(&answer)),
                         CCC_OK);
        expect_key_request(fd, &kr);
        assert_fresh(&prev, &kr);
        assert_false(ccc_enclave_has_keys(e));
        ccc_buf_wipe(&prev.doc);
        prev = kr;
    }

    /* Well sealed to the request's key but not a valid release: version 2;
     * an id over 255; three keys. */
    static const uint8_t sk[32] = {1};
    for (int variant = 0; variant < 3; variant++) {
        ccc_buf pt;
        ccc_buf_init(&pt, 512);
        size_t n = variant == 2 ? 3 : 1;
        assert_int_equal(ccc_cbor_put_map(&pt, 2), CCC_OK);
        assert_int_equal(ccc_cbor_put_cstr(&pt, "v"), CCC_OK);
        assert_int_equal(ccc_cbor_put_uint(&pt, variant == 0 ? 2 : 1), CCC_OK);
        assert_int_equal(ccc_cbor_put_cstr(&pt, "keys"), CCC_OK);
        assert_int_equal(ccc_cbor_put_array(&pt, n), CCC_OK);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(ccc_cbor_put_map(&pt, 2), CCC_OK);
            assert_int_equal(ccc_cbor_put_cstr(&pt, "id"), CCC_OK);
            assert_int_equal(ccc_cbor_put_uint(&pt, variant == 1 ? 256 : j + 1), CCC_OK);
            assert_int_equal(ccc_cbor_put_cstr(&pt, "sk"), CCC_OK);
            assert_int_equal(ccc_cbor_put_bytes(&pt, sk, 32), CCC_OK);
        }
        host_sealed(&prev, ccc_buf_bytes(&pt), &answer);
        ccc_buf_wipe(&pt);
        assert_int_equal(ccc_frame_write(fd, CCC_FRAME_KEY_RESPONSE, ccc_buf_bytes(&answer)),
                         CCC_OK);
        expect_key_request(fd, &kr);
        assert_fresh(&prev, &kr);
        assert_false(ccc_enclave_has_keys(e));
        ccc_buf_wipe(&prev.doc);
        prev = kr;
    }
    /* An unsafe refusal body is logged as <invalid>, never verbatim. */
    static const char unsafe[] = "policy:pcrs\n{\"injected\":1}";
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_ERROR, ccc_bytes_of(unsafe, sizeof unsafe - 1)),
                     CCC_OK);
    expect_key_request(fd, &kr);
    assert_fresh(&prev, &kr);
    ccc_buf_wipe(&prev.doc);
    prev = kr;

    /* The real release: keys installed, then "ready". */
    assert_int_equal(relay(F.kms, &prev, &answer), CCC_FRAME_KEY_RESPONSE);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_KEY_RESPONSE, ccc_buf_bytes(&answer)), CCC_OK);
    ccc_buf doc;
    expect_ready(fd, r.b, &doc);
    assert_true(ccc_enclave_has_keys(e));
    uint64_t requests = ccc_enclave_boot_key_requests(r.b);
    /* Every try above: connection 1, the refused one, 5 bad responses,
     * 3 malformed releases, the unsafe refusal: the last one released. */
    assert_int_equal(requests, 1 + 1 + 5 + 3 + 1 + 1);
    ccc_buf_wipe(&prev.doc);

    /* attest_request -> the same document; a body is a bad frame (later). */
    ccc_buf body;
    ccc_buf_init(&body, CCC_FRAME_MAX_BODY_SIZE);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_ATTEST_REQUEST, ccc_bytes_of(NULL, 0)), CCC_OK);
    assert_int_equal(read_frame(fd, &body), CCC_FRAME_ATTEST_RESPONSE);
    assert_int_equal(body.size, doc.size);
    assert_memory_equal(body.data, doc.data, doc.size);
    ping(fd, "tok");
    good_job(fd, "boot-job-1", "chelsea.png", ccc_buf_bytes(&doc));
    assert_int_equal(ccc_enclave_jobs_done(e), 1);

    /* The host leaves in the middle of a job: the enclave finishes it,
     * cannot answer, and goes back to accept. */
    ccc_ohttp_ctx c;
    ccc_buf enc, req;
    make_job("boot-job-2", "coffee.png", &c, &enc, &req);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&req)), CCC_OK);
    close(fd);
    ccc_ohttp_ctx_wipe(&c);
    ccc_buf_wipe(&enc);
    ccc_buf_wipe(&req);

    /* Connection 3: keys kept: attest_response first, no key request. */
    fd = host_connect();
    ccc_buf doc2;
    expect_ready(fd, r.b, &doc2);
    assert_int_equal(doc2.size, doc.size);
    assert_memory_equal(doc2.data, doc.data, doc.size);
    assert_int_equal(ccc_enclave_boot_key_requests(r.b), requests);
    good_job(fd, "boot-job-3", "rocket.jpg", ccc_buf_bytes(&doc));
    /* A frame the enclave does not take after ready: connection closed. */
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_KEY_RESPONSE, ccc_buf_bytes(&answer)), CCC_OK);
    expect_closed(fd);
    close(fd);

    /* Connection 4: attest_request with a body is a bad frame too. */
    fd = host_connect();
    ccc_buf_wipe(&doc2);
    expect_ready(fd, r.b, &doc2);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_ATTEST_REQUEST, ccc_bytes_of("n", 1)), CCC_OK);
    expect_closed(fd);
    close(fd);

    /* Connection 5 is idle when the stop comes: run returns, keys wiped on free. */
    fd = host_connect();
    ccc_buf_wipe(&doc2);
    expect_ready(fd, r.b, &doc2);
    ping(fd, "");
    uint64_t done = ccc_enclave_jobs_done(e);
    assert_true(done == 2 || done == 3); /* job 2 may have finished before its host left */
    assert_int_equal(ccc_enclave_boot_key_requests(r.b), requests);
    boot_down(&r);
    expect_closed(fd);
    close(fd);

    /* The log: each step, each refusal; never a key. */
    assert_true(count_in_log("\"event\":\"key_refused\"") - refused0 >= 10);
    assert_non_null(strstr(log_text(), "\"event\":\"key_refused\",\"reason\":\"policy:pcrs\""));
    assert_non_null(strstr(log_text(), "\"reason\":\"bad_key_response\",\"status\":\"crypto\""));
    assert_non_null(strstr(log_text(), "\"reason\":\"bad_key_response\",\"status\":\"unsupported\""));
    assert_non_null(strstr(log_text(), "\"reason\":\"<invalid>\""));
    assert_null(strstr(log_text(), "injected"));
    assert_non_null(strstr(log_text(), "\"event\":\"key_released\",\"key_id\":\"1\",\"count\":1"));
    assert_non_null(strstr(log_text(), "\"reason\":\"receipt_key_attested\""));
    assert_non_null(strstr(log_text(), "\"reason\":\"stop_requested\""));
    const ccc_kms_key *keys = ccc_kms_store_keys(F.store);
    char hex[65];
    ccc_hex_encode(keys[0].kp.sk, 32, hex);
    fflush(F.log);
    assert_null(memmem(F.log_data, F.log_size, keys[0].kp.sk, 32));
    assert_null(strstr(log_text(), hex));
    for (size_t i = 0; hex[i]; i++) /* upper-case hex too */
        if (hex[i] >= 'a')
            hex[i] = (char)(hex[i] - 'a' + 'A');
    assert_null(strstr(log_text(), hex));
    ccc_buf_wipe(&doc);
    ccc_buf_wipe(&doc2);
    ccc_buf_wipe(&body);
    ccc_buf_wipe(&answer);
}

/* A new host connection: a fresh key request (compared with *prev, then
 * replacing it), answered with `raw` bytes, after which the enclave closes. */
static void answer_then_closed(key_req *prev, ccc_bytes raw)
{
    key_req kr;
    int fd = host_connect();
    expect_key_request(fd, &kr);
    assert_fresh(prev, &kr);
    assert_int_equal(ccc_fd_write_all(fd, raw.ptr, raw.size), CCC_OK);
    expect_closed(fd);
    close(fd);
    ccc_buf_wipe(&prev->doc);
    *prev = kr;
}

/* Hosts that break the key exchange: each costs the connection only. */
static void key_release_broken_hosts(void **state)
{
    (void)state;
    running r;
    key_req a, b;
    /* Silent host: the enclave gives up on it and closes (a short key
     * timeout in this boot only, so nothing else here races it). */
    boot_up_with(&r, 200);
    int fd = host_connect();
    expect_key_request(fd, &b);
    expect_closed(fd);
    close(fd);
    fd = host_connect(); /* and asks the next host afresh */
    expect_key_request(fd, &a);
    assert_fresh(&a, &b);
    close(fd);
    ccc_buf_wipe(&b.doc);
    boot_down(&r);

    boot_up(&r); /* the default 30 s key timeout: only a failure bound */
    ccc_enclave *e = ccc_enclave_boot_enclave(r.b);
    ccc_buf answer;
    ccc_buf_init(&answer, CCC_FRAME_MAX_BODY_SIZE);

    /* A ping instead of the answer: a bad frame, closed. */
    static const uint8_t ping_frame[] = {CCC_FRAME_PING, 0, 0, 0, 0, 0, 0, 1, 'x'};
    answer_then_closed(&a, ccc_bytes_of(ping_frame, sizeof ping_frame));
    /* A key response over the key_response limit: refused from the header. */
    static const uint8_t huge[] = {CCC_FRAME_KEY_RESPONSE, 0, 0, 0, 0x01, 0, 0, 0}; /* 16 MiB */
    answer_then_closed(&a, ccc_bytes_of(huge, sizeof huge));

    /* A host that talks during the backoff after a refusal. */
    fd = host_connect();
    expect_key_request(fd, &b);
    assert_fresh(&a, &b);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_ERROR, ccc_bytes_of("io:kms_unavailable", 18)),
                     CCC_OK);
    /* The enclave may close as soon as the ping's header arrives, before
     * its body is sent: this write may fail (IO), and that is fine. */
    ccc_status ping_st = ccc_frame_write(fd, CCC_FRAME_PING, ccc_bytes_of("x", 1));
    assert_true(ping_st == CCC_OK || ping_st == CCC_ERR_IO);
    /* Either the retry came before the ping was seen (then the ping is the
     * bad answer) or the backoff saw it: closed either way, no keys. */
    ccc_buf_wipe(&a.doc);
    ccc_buf_wipe(&b.doc);
    for (;;) {
        if (!wait_readable(fd))
            fail_msg("the enclave did not close the connection");
        ccc_frame_type t;
        ccc_status st = ccc_frame_read(fd, &t, &answer);
        /* closed; a reset (IO) when our ping was still unread there */
        if (st == CCC_ERR_NOT_FOUND || st == CCC_ERR_IO)
            break;
        assert_int_equal(st, CCC_OK);
        assert_int_equal(t, CCC_FRAME_KEY_REQUEST);
    }
    close(fd);
    assert_false(ccc_enclave_has_keys(e));
    assert_non_null(strstr(log_text(), "\"reason\":\"io:kms_unavailable\""));

    /* Still serving: the next host gets its keys. */
    fd = host_connect();
    expect_key_request(fd, &a);
    assert_int_equal(relay(F.kms, &a, &answer), CCC_FRAME_KEY_RESPONSE);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_KEY_RESPONSE, ccc_buf_bytes(&answer)), CCC_OK);
    ccc_buf doc;
    expect_ready(fd, r.b, &doc);
    assert_true(ccc_enclave_has_keys(e));
    close(fd);
    boot_down(&r);
    ccc_buf_wipe(&a.doc);
    ccc_buf_wipe(&doc);
    ccc_buf_wipe(&answer);
}

/* Stop while waiting for the key response, and while waiting for a host. */
static void stop_while_waiting(void **state)
{
    (void)state;
    running r;
    boot_up(&r); /* the default 30 s key timeout: the stop must end the wait */
    int fd = host_connect();
    key_req kr;
    expect_key_request(fd, &kr);
    boot_down(&r);
    expect_closed(fd);
    close(fd);
    ccc_buf_wipe(&kr.doc);

    boot_up(&r); /* nobody connects */
    boot_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_schedule),
        cmocka_unit_test(listen_addresses),
        cmocka_unit_test(start_failures),
        cmocka_unit_test(key_release_and_jobs),
        cmocka_unit_test(key_release_broken_hosts),
        cmocka_unit_test(stop_while_waiting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
