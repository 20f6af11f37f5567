/* kms: key store at rest, rotation, the signed config, attestation-gated
 * release (every refusal class), and the enclave side's strict open. */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "cose/cose.h"
#include "frame/frame.h"
#include "kms/kms.h"
#include "log/log.h"
#include "nsm/nsm.h"
#include "policy/policy.h"
#include "testutil.h"

typedef struct fixture {
    char dir[256];
    ccc_nsm_sim sim, other_sim; /* other_sim chains to another root */
    ccc_x509_root *root;
    ccc_policy policy, wrong_policy;
    uint8_t policy_sha256[32];
    uint64_t now_ms;
    ccc_kms_store *store;
    FILE *log;
} fixture;

static void boot_sim(ccc_nsm_sim *sim, int64_t now)
{
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    assert_int_equal(ccc_nsm_ca_generate(&ca, now - 3600), CCC_OK);
    ccc_nsm_sim_init(sim);
    assert_int_equal(ccc_nsm_sim_boot(sim, &ca, now), CCC_OK);
    ccc_nsm_ca_wipe(&ca);
    int fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(ccc_nsm_sim_measure_fd(sim, fd), CCC_OK);
    close(fd);
}

static void make_policy(ccc_policy *p, const uint8_t pcr0[48])
{
    memset(p, 0, sizeof *p);
    p->version = 1;
    assert_int_equal(ccc_attest_pcr_set_add(&p->sets[0], 0, ccc_bytes_of(pcr0, 48)), CCC_OK);
    p->set_count = 1;
    p->egress_max_answer_bytes = 1024;
    p->egress_max_boxes = 4;
    p->tou_max_body_bytes = 16u << 20;
    p->tou_rate_per_minute = 60;
    memset(p->manifests[0], 0x11, 32);
    p->manifest_count = 1;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    int64_t now = (int64_t)time(NULL);
    f->now_ms = (uint64_t)now * 1000u;
    boot_sim(&f->sim, now);
    boot_sim(&f->other_sim, now);
    ccc_buf pem;
    ccc_buf_init(&pem, 64u * 1024u);
    assert_int_equal(ccc_nsm_ca_root_pem(&f->sim.ca, &pem), CCC_OK);
    assert_int_equal(ccc_x509_root_new_pem(ccc_buf_bytes(&pem), &f->root), CCC_OK);
    ccc_buf_wipe(&pem);
    make_policy(&f->policy, f->sim.pcrs[0]);
    uint8_t other[48];
    memset(other, 0x5a, sizeof other);
    make_policy(&f->wrong_policy, other);
    /* the policy hash as src/policy computes it: sign and verify a bundle */
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pkey);
    ccc_buf bundle;
    ccc_buf_init(&bundle, CCC_POLICY_MAX_BUNDLE_SIZE);
    assert_int_equal(ccc_policy_sign(&f->policy, pkey, &bundle), CCC_OK);
    ccc_policy check;
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(&bundle), pkey, &check, f->policy_sha256),
                     CCC_OK);
    ccc_buf_wipe(&bundle);
    EVP_PKEY_free(pkey);
    snprintf(f->dir, sizeof f->dir, "/tmp/ccc-test-kms-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->log = tmpfile();
    assert_non_null(f->log);
    ccc_log_init(f->log, "ccc-kms", CCC_LOG_DEBUG);
    *state = f;
    return 0;
}

static void rm_store(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/state.cbor", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/storage.key", dir);
    unlink(p);
}

static int teardown(void **state)
{
    fixture *f = *state;
    ccc_kms_store_free(f->store);
    rm_store(f->dir);
    rmdir(f->dir);
    ccc_x509_root_free(f->root);
    ccc_nsm_sim_wipe(&f->sim);
    ccc_nsm_sim_wipe(&f->other_sim);
    ccc_log_init(stderr, "ccc", CCC_LOG_INFO);
    fclose(f->log);
    free(f);
    return 0;
}

/* A fresh store per test. */
static void fresh_store(fixture *f)
{
    ccc_kms_store_free(f->store);
    f->store = NULL;
    rm_store(f->dir);
    assert_int_equal(ccc_kms_store_open(f->dir, true, &f->store), CCC_OK);
}

static void read_state(fixture *f, ccc_buf *out)
{
    char p[512];
    snprintf(p, sizeof p, "%s/state.cbor", f->dir);
    test_read_file(p, out);
}

static bool contains(ccc_bytes hay, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= hay.size; i++)
        if (memcmp(hay.ptr + i, needle, n) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------------ */
/* Store                                                                     */
/* ------------------------------------------------------------------------ */

static void store_create_reopen(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    assert_int_equal(ccc_kms_store_key_count(f->store), 1);
    ccc_kms_key k0 = ccc_kms_store_keys(f->store)[0];
    assert_int_equal(k0.id, 1);
    uint8_t sign_sk[32], sign_sk2[32];
    size_t n = 32;
    assert_int_equal(EVP_PKEY_get_raw_private_key(ccc_kms_store_sign_key(f->store), sign_sk, &n),
                     1);

    /* storage.key is 0600 */
    char p[512];
    struct stat sb;
    snprintf(p, sizeof p, "%s/storage.key", f->dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* restart: same keys */
    ccc_kms_store_free(f->store);
    f->store = NULL;
    assert_int_equal(ccc_kms_store_open(f->dir, false, &f->store), CCC_OK);
    assert_int_equal(ccc_kms_store_key_count(f->store), 1);
    assert_int_equal(ccc_kms_store_keys(f->store)[0].id, 1);
    assert_memory_equal(ccc_kms_store_keys(f->store)[0].kp.sk, k0.kp.sk, 32);
    assert_memory_equal(ccc_kms_store_keys(f->store)[0].kp.pk, k0.kp.pk, 32);
    n = 32;
    assert_int_equal(
        EVP_PKEY_get_raw_private_key(ccc_kms_store_sign_key(f->store), sign_sk2, &n), 1);
    assert_memory_equal(sign_sk, sign_sk2, 32);

    /* the state holds public keys but no private key bytes */
    ccc_buf st;
    read_state(f, &st);
    assert_true(contains(ccc_buf_bytes(&st), k0.kp.pk, 32));
    assert_false(contains(ccc_buf_bytes(&st), k0.kp.sk, 32));
    assert_false(contains(ccc_buf_bytes(&st), sign_sk, 32));
    assert_false(contains(ccc_buf_bytes(&st), k0.kp.sk, 8));
    ccc_buf_wipe(&st);

    /* no store, no create */
    ccc_kms_store *s = NULL;
    assert_int_equal(ccc_kms_store_open("/tmp/ccc-test-kms-does-not-exist", false, &s),
                     CCC_ERR_NOT_FOUND);
    assert_null(s);

    /* storage.key readable by others: refused */
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(ccc_kms_store_open(f->dir, false, &s), CCC_ERR_POLICY);
    assert_int_equal(chmod(p, 0600), 0);

    /* another storage key: the state does not unseal */
    ccc_buf key;
    test_read_file(p, &key);
    uint8_t other[32];
    memcpy(other, key.data, 32);
    other[0] ^= 1;
    assert_int_equal(unlink(p), 0);
    assert_int_equal(ccc_file_write(p, other, 32), CCC_OK);
    assert_int_equal(ccc_kms_store_open(f->dir, false, &s), CCC_ERR_CRYPTO);
    assert_null(s);
    assert_int_equal(ccc_file_write(p, key.data, 32), CCC_OK);
    ccc_buf_wipe(&key);

    /* every byte of the state tampered: refused, never a different key */
    ccc_buf orig;
    read_state(f, &orig);
    snprintf(p, sizeof p, "%s/state.cbor", f->dir);
    for (size_t i = 0; i < orig.size; i++) {
        orig.data[i] ^= 0x01;
        assert_int_equal(ccc_file_write(p, orig.data, orig.size), CCC_OK);
        ccc_status rc = ccc_kms_store_open(f->dir, false, &s);
        if (rc == CCC_OK) {
            /* only a flip that keeps the same meaning could pass; there is none */
            fail_msg("tampered state byte %zu accepted", i);
        }
        assert_null(s);
        orig.data[i] ^= 0x01;
    }
    assert_int_equal(ccc_file_write(p, orig.data, orig.size), CCC_OK);
    ccc_buf_wipe(&orig);
    assert_int_equal(ccc_kms_store_open(f->dir, false, &s), CCC_OK);
    ccc_kms_store_free(s);
    ccc_wipe(sign_sk, 32);
    ccc_wipe(&k0, sizeof k0);
}

static void store_rotation(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    ccc_kms_key k1 = ccc_kms_store_keys(f->store)[0];
    assert_int_equal(ccc_kms_store_retire(f->store), CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_kms_store_rotate(f->store), CCC_OK);
    assert_int_equal(ccc_kms_store_key_count(f->store), 2);
    const ccc_kms_key *k = ccc_kms_store_keys(f->store);
    assert_int_equal(k[0].id, 2);
    assert_int_equal(k[1].id, 1);
    assert_memory_equal(k[1].kp.sk, k1.kp.sk, 32);
    assert_memory_not_equal(k[0].kp.sk, k1.kp.sk, 32);
    ccc_kms_key k2 = k[0];
    /* a third key needs a retire first */
    assert_int_equal(ccc_kms_store_rotate(f->store), CCC_ERR_USAGE);
    assert_int_equal(ccc_kms_store_key_count(f->store), 2);

    /* restart keeps both live keys, and no private key is in the file */
    ccc_kms_store_free(f->store);
    f->store = NULL;
    assert_int_equal(ccc_kms_store_open(f->dir, false, &f->store), CCC_OK);
    k = ccc_kms_store_keys(f->store);
    assert_int_equal(ccc_kms_store_key_count(f->store), 2);
    assert_int_equal(k[0].id, 2);
    assert_memory_equal(k[0].kp.sk, k2.kp.sk, 32);
    assert_int_equal(k[1].id, 1);
    assert_memory_equal(k[1].kp.sk, k1.kp.sk, 32);
    ccc_buf st;
    read_state(f, &st);
    assert_false(contains(ccc_buf_bytes(&st), k1.kp.sk, 32));
    assert_false(contains(ccc_buf_bytes(&st), k2.kp.sk, 32));
    ccc_buf_wipe(&st);

    /* retire drops the previous key, also on disk */
    assert_int_equal(ccc_kms_store_retire(f->store), CCC_OK);
    assert_int_equal(ccc_kms_store_key_count(f->store), 1);
    assert_int_equal(ccc_kms_store_keys(f->store)[0].id, 2);
    ccc_kms_store_free(f->store);
    f->store = NULL;
    assert_int_equal(ccc_kms_store_open(f->dir, false, &f->store), CCC_OK);
    assert_int_equal(ccc_kms_store_key_count(f->store), 1);
    assert_int_equal(ccc_kms_store_keys(f->store)[0].id, 2);
    read_state(f, &st);
    assert_false(contains(ccc_buf_bytes(&st), k1.kp.pk, 32));
    ccc_buf_wipe(&st);

    /* ids wrap around 255 -> 0 without colliding */
    for (int i = 0; i < 260; i++) {
        assert_int_equal(ccc_kms_store_rotate(f->store), CCC_OK);
        k = ccc_kms_store_keys(f->store);
        assert_int_not_equal(k[0].id, k[1].id);
        assert_int_equal(ccc_kms_store_retire(f->store), CCC_OK);
    }
    ccc_wipe(&k1, sizeof k1);
    ccc_wipe(&k2, sizeof k2);
}

/* ------------------------------------------------------------------------ */
/* Signed config                                                             */
/* ------------------------------------------------------------------------ */

static void config_sign_verify(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    assert_int_equal(ccc_kms_store_rotate(f->store), CCC_OK);
    ccc_buf cfg;
    ccc_buf_init(&cfg, CCC_KMS_MAX_CONFIG_SIZE);
    assert_int_equal(ccc_kms_config_sign(f->store, f->policy_sha256, f->now_ms, &cfg), CCC_OK);

    /* the client gets the kms public key as PEM */
    ccc_buf pem;
    ccc_buf_init(&pem, 4096);
    assert_int_equal(ccc_kms_store_public_pem(f->store, &pem), CCC_OK);
    BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.size);
    EVP_PKEY *pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(pub);

    ccc_kms_config c;
    assert_int_equal(ccc_kms_config_verify(ccc_buf_bytes(&cfg), pub, &c), CCC_OK);
    assert_int_equal(c.key_count, 2);
    assert_int_equal(c.time_ms, f->now_ms);
    assert_memory_equal(c.policy_sha256, f->policy_sha256, 32);
    const ccc_kms_key *k = ccc_kms_store_keys(f->store);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(c.keys[i].key_id, k[i].id);
        assert_memory_equal(c.keys[i].public_key, k[i].kp.pk, 32);
        ccc_hpke_suite suite;
        assert_int_equal(ccc_ohttp_key_config_choose(&c.keys[i], CCC_HPKE_AEAD_AES_256_GCM, &suite),
                         CCC_OK);
        assert_int_equal(suite.aead_id, CCC_HPKE_AEAD_AES_256_GCM);
    }

    /* another key: refused */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_int_equal(ccc_kms_config_verify(ccc_buf_bytes(&cfg), other, &c), CCC_ERR_CRYPTO);
    assert_int_equal(c.key_count, 0);

    /* every byte changed, every truncation: refused */
    for (size_t i = 0; i < cfg.size; i++) {
        cfg.data[i] ^= 0x20;
        assert_int_not_equal(ccc_kms_config_verify(ccc_buf_bytes(&cfg), pub, &c), CCC_OK);
        cfg.data[i] ^= 0x20;
    }
    for (size_t n = 0; n < cfg.size; n++)
        assert_int_not_equal(ccc_kms_config_verify(ccc_bytes_of(cfg.data, n), pub, &c), CCC_OK);
    assert_int_equal(ccc_kms_config_verify(ccc_buf_bytes(&cfg), pub, &c), CCC_OK);

    /* a correctly signed payload with an extra key is still refused */
    ccc_buf bad, payload;
    ccc_buf_init(&bad, CCC_KMS_MAX_CONFIG_SIZE);
    ccc_buf_init(&payload, 256);
    assert_int_equal(ccc_cbor_put_map(&payload, 1), CCC_OK);
    assert_int_equal(ccc_cbor_put_cstr(&payload, "v"), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(&payload, 1), CCC_OK);
    assert_int_equal(ccc_cose_sign1_sign(ccc_kms_store_sign_key(f->store), NULL,
                                         ccc_buf_bytes(&payload), &bad),
                     CCC_OK);
    assert_int_equal(ccc_kms_config_verify(ccc_buf_bytes(&bad), pub, &c), CCC_ERR_PARSE);
    ccc_buf_wipe(&bad);
    ccc_buf_wipe(&payload);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pub);
    ccc_buf_wipe(&pem);
    ccc_buf_wipe(&cfg);
}

/* ------------------------------------------------------------------------ */
/* Release                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct enclave {
    ccc_hpke_keypair kp;
    uint8_t spki[CCC_KMS_X25519_SPKI_SIZE];
    uint8_t nonce[32];
} enclave;

static void enclave_new(enclave *e)
{
    assert_int_equal(ccc_hpke_keypair_generate(&e->kp), CCC_OK);
    ccc_kms_x25519_spki(e->kp.pk, e->spki);
    assert_int_equal(RAND_bytes(e->nonce, sizeof e->nonce), 1);
}

static void attest(const ccc_nsm_sim *sim, uint64_t t, ccc_bytes nonce, ccc_bytes pk, ccc_buf *doc)
{
    ccc_buf_init(doc, CCC_ATTEST_MAX_DOC_SIZE + 16);
    assert_int_equal(ccc_nsm_sim_attest(sim, t, ccc_bytes_of(NULL, 0), nonce, pk, doc), CCC_OK);
}

static ccc_kms *kms_with(fixture *f, const ccc_policy *p)
{
    ccc_kms *kms = NULL;
    assert_int_equal(ccc_kms_new(f->store, p, f->policy_sha256, f->root, &kms), CCC_OK);
    return kms;
}

static void expect_refused(ccc_kms *kms, ccc_bytes doc, uint64_t now, ccc_status want,
                           ccc_kms_reason want_reason)
{
    ccc_buf sealed;
    ccc_buf_init(&sealed, CCC_KMS_MAX_RELEASE_SIZE);
    ccc_kms_reason r = CCC_KMS_R_OK;
    ccc_status st = ccc_kms_release(kms, doc, now, &sealed, &r);
    if (st != want || r != want_reason)
        fail_msg("want %s/%s, got %s/%s (%s)", ccc_status_name(want),
                 ccc_kms_reason_name(want_reason), ccc_status_name(st), ccc_kms_reason_name(r),
                 ccc_error_detail());
    assert_int_equal(sealed.size, 0);
    ccc_buf_wipe(&sealed);
}

static void expect_released(fixture *f, ccc_kms *kms, ccc_bytes doc, uint64_t now,
                            const enclave *e)
{
    ccc_buf sealed;
    ccc_buf_init(&sealed, CCC_KMS_MAX_RELEASE_SIZE);
    ccc_kms_reason r = CCC_KMS_R_INTERNAL;
    ccc_status st = ccc_kms_release(kms, doc, now, &sealed, &r);
    if (st != CCC_OK)
        fail_msg("release refused: %s/%s (%s)", ccc_status_name(st), ccc_kms_reason_name(r),
                 ccc_error_detail());
    assert_int_equal(r, CCC_KMS_R_OK);
    ccc_kms_released got;
    assert_int_equal(ccc_kms_release_open(ccc_buf_bytes(&sealed), e->kp.sk, &got), CCC_OK);
    size_t n = ccc_kms_store_key_count(f->store);
    const ccc_kms_key *k = ccc_kms_store_keys(f->store);
    assert_int_equal(got.count, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got.keys[i].id, k[i].id);
        assert_memory_equal(got.keys[i].kp.sk, k[i].kp.sk, 32);
        assert_memory_equal(got.keys[i].kp.pk, k[i].kp.pk, 32);
    }
    /* the sealed bytes carry no key in clear */
    for (size_t i = 0; i < n; i++)
        assert_false(contains(ccc_buf_bytes(&sealed), k[i].kp.sk, 32));
    ccc_kms_released_wipe(&got);
    assert_true(test_all_zero(&got, sizeof got));
    ccc_buf_wipe(&sealed);
}

static void release_succeeds(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    ccc_kms *kms = kms_with(f, &f->policy);
    enclave e;
    enclave_new(&e);
    ccc_buf doc;
    attest(&f->sim, f->now_ms, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e.spki, sizeof e.spki),
           &doc);
    expect_released(f, kms, ccc_buf_bytes(&doc), f->now_ms + 1000, &e);
    ccc_buf_wipe(&doc);

    /* during a rotation the enclave gets both keys, current first */
    assert_int_equal(ccc_kms_store_rotate(f->store), CCC_OK);
    enclave_new(&e);
    attest(&f->sim, f->now_ms, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e.spki, sizeof e.spki),
           &doc);
    expect_released(f, kms, ccc_buf_bytes(&doc), f->now_ms + 59000, &e);
    ccc_buf_wipe(&doc);

    /* released keys serve as OHTTP gateway keys matching the published config */
    ccc_ohttp_gateway_key gk[2];
    assert_int_equal(ccc_kms_gateway_keys(ccc_kms_store_keys(f->store), 2, gk), CCC_OK);
    ccc_ohttp_key_config cfg;
    assert_int_equal(ccc_kms_key_config(&ccc_kms_store_keys(f->store)[0], &cfg), CCC_OK);
    assert_memory_equal(gk[0].config.public_key, cfg.public_key, 32);
    assert_int_equal(gk[0].config.key_id, cfg.key_id);
    ccc_ohttp_gateway_key_wipe(&gk[0]);
    ccc_ohttp_gateway_key_wipe(&gk[1]);

    /* the log names the decision and the document, never a key */
    fflush(f->log);
    long size = ftell(f->log);
    assert_true(size > 0);
    char *text = calloc(1, (size_t)size + 1);
    rewind(f->log);
    assert_int_equal(fread(text, 1, (size_t)size, f->log), (size_t)size);
    assert_non_null(strstr(text, "\"key_released\""));
    assert_non_null(strstr(text, "\"doc_sha256\""));
    assert_non_null(strstr(text, "\"pcr_sha384\""));
    assert_non_null(strstr(text, "\"reason\":\"ok\""));
    char hex[65];
    for (size_t i = 0; i < 2; i++) {
        ccc_hex_encode(ccc_kms_store_keys(f->store)[i].kp.sk, 32, hex);
        assert_null(strstr(text, hex));
    }
    free(text);
    ccc_kms_free(kms);
    ccc_hpke_keypair_wipe(&e.kp);
}

/* A debug-mode document: PCR0/1/2 zero, otherwise genuine (signed by the
 * per-boot leaf, chained to the pinned root). */
static void debug_doc(const ccc_nsm_sim *sim, uint64_t t, const enclave *e, ccc_buf *out)
{
    static uint8_t zero[16][CCC_NSM_PCR_SIZE];
    ccc_bytes bundle[CCC_NSM_CA_LEVELS];
    for (size_t i = 0; i < CCC_NSM_CA_LEVELS; i++)
        bundle[i] = ccc_buf_bytes(&sim->ca.certs[i]);
    ccc_nsm_doc_fields fl = {
        .module_id = "i-debug-enc",
        .digest = "SHA384",
        .timestamp_ms = t,
        .pcrs = zero,
        .pcr_count = 16,
        .certificate = ccc_buf_bytes(&sim->leaf_cert),
        .cabundle = bundle,
        .cabundle_count = CCC_NSM_CA_LEVELS,
        .public_key = ccc_bytes_of(e->spki, sizeof e->spki),
        .user_data = ccc_bytes_of(NULL, 0),
        .nonce = ccc_bytes_of(e->nonce, 32),
    };
    ccc_buf payload;
    ccc_buf_init(&payload, CCC_ATTEST_MAX_DOC_SIZE);
    assert_int_equal(ccc_nsm_doc_encode(&fl, &payload), CCC_OK);
    ccc_buf_init(out, CCC_ATTEST_MAX_DOC_SIZE);
    assert_int_equal(ccc_nsm_doc_sign(sim->leaf_key, ccc_buf_bytes(&payload), out), CCC_OK);
    ccc_buf_wipe(&payload);
}

static void release_refusals(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    ccc_kms *kms = kms_with(f, &f->policy);
    ccc_kms *strict = kms_with(f, &f->wrong_policy);
    enclave e;
    ccc_buf doc;
    uint64_t t = f->now_ms;

    /* PCR outside the policy */
    enclave_new(&e);
    attest(&f->sim, t, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e.spki, 44), &doc);
    expect_refused(strict, ccc_buf_bytes(&doc), t, CCC_ERR_POLICY, CCC_KMS_R_PCRS);
    /* ... and the refusal did not burn the nonce: the right kms releases */
    expect_released(f, kms, ccc_buf_bytes(&doc), t, &e);
    /* replayed document */
    expect_refused(kms, ccc_buf_bytes(&doc), t + 1, CCC_ERR_REPLAY, CCC_KMS_R_REPLAY);
    ccc_buf_wipe(&doc);
    /* replayed nonce in a new document with another key */
    enclave e2;
    enclave_new(&e2);
    attest(&f->sim, t + 5, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e2.spki, 44), &doc);
    expect_refused(kms, ccc_buf_bytes(&doc), t + 5, CCC_ERR_REPLAY, CCC_KMS_R_REPLAY);
    ccc_buf_wipe(&doc);

    /* debug mode */
    enclave_new(&e);
    debug_doc(&f->sim, t, &e, &doc);
    expect_refused(kms, ccc_buf_bytes(&doc), t, CCC_ERR_POLICY, CCC_KMS_R_DEBUG);
    ccc_buf_wipe(&doc);

    /* stale (one ms past the max age), and from the future */
    enclave_new(&e);
    attest(&f->sim, t, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e.spki, 44), &doc);
    expect_refused(kms, ccc_buf_bytes(&doc), t + CCC_KMS_DEFAULT_MAX_AGE_MS + 1, CCC_ERR_POLICY,
                   CCC_KMS_R_STALE);
    /* a shorter max age applies */
    ccc_kms_set_max_age(kms, 1000);
    expect_refused(kms, ccc_buf_bytes(&doc), t + 1001, CCC_ERR_POLICY, CCC_KMS_R_STALE);
    ccc_kms_set_max_age(kms, CCC_KMS_DEFAULT_MAX_AGE_MS);
    expect_released(f, kms, ccc_buf_bytes(&doc), t + CCC_KMS_DEFAULT_MAX_AGE_MS - 1, &e);
    ccc_buf_wipe(&doc);
    enclave_new(&e);
    attest(&f->sim, t + CCC_ATTEST_MAX_SKEW_MS + 2000, ccc_bytes_of(e.nonce, 32),
           ccc_bytes_of(e.spki, 44), &doc);
    expect_refused(kms, ccc_buf_bytes(&doc), t + 1000, CCC_ERR_POLICY, CCC_KMS_R_STALE);
    ccc_buf_wipe(&doc);

    /* missing nonce, short nonce */
    enclave_new(&e);
    attest(&f->sim, t, ccc_bytes_of(NULL, 0), ccc_bytes_of(e.spki, 44), &doc);
    expect_refused(kms, ccc_buf_bytes(&doc), t, CCC_ERR_POLICY, CCC_KMS_R_NONCE);
    ccc_buf_wipe(&doc);
    attest(&f->sim, t, ccc_bytes_of(e.nonce, 16), ccc_bytes_of(e.spki, 44), &doc);
    expect_refused(kms, ccc_buf_bytes(&doc), t, CCC_ERR_POLICY, CCC_KMS_R_NONCE);
    ccc_buf_wipe(&doc);

    /* wrong public_key: Ed25519 SPKI, raw 32 bytes, absent, low-order point */
    static const uint8_t ed_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    uint8_t ed_spki[44];
    memcpy(ed_spki, ed_prefix, 12);
    memcpy(ed_spki + 12, e.kp.pk, 32);
    uint8_t zero_spki[44];
    uint8_t zero_pk[32] = {0};
    ccc_kms_x25519_spki(zero_pk, zero_spki);
    const ccc_bytes bad_keys[] = {
        ccc_bytes_of(ed_spki, 44),
        ccc_bytes_of(e.kp.pk, 32),
        ccc_bytes_of(NULL, 0),
        ccc_bytes_of(e.spki, 43),
        ccc_bytes_of(zero_spki, 44),
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        enclave_new(&e);
        attest(&f->sim, t, ccc_bytes_of(e.nonce, 32), bad_keys[i], &doc);
        expect_refused(kms, ccc_buf_bytes(&doc), t, CCC_ERR_POLICY, CCC_KMS_R_PUBLIC_KEY);
        ccc_buf_wipe(&doc);
    }

    /* a document chained to another root */
    enclave_new(&e);
    attest(&f->other_sim, t, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e.spki, 44), &doc);
    expect_refused(kms, ccc_buf_bytes(&doc), t, CCC_ERR_CRYPTO, CCC_KMS_R_CHAIN);
    ccc_buf_wipe(&doc);

    /* too large */
    ccc_buf big;
    ccc_buf_init(&big, CCC_ATTEST_MAX_DOC_SIZE + 1);
    uint8_t *tail;
    assert_int_equal(ccc_buf_extend(&big, CCC_ATTEST_MAX_DOC_SIZE + 1, &tail), CCC_OK);
    memset(tail, 0x84, CCC_ATTEST_MAX_DOC_SIZE + 1);
    expect_refused(kms, ccc_buf_bytes(&big), t, CCC_ERR_LIMIT, CCC_KMS_R_TOO_LARGE);
    ccc_buf_wipe(&big);
    expect_refused(kms, ccc_bytes_of(NULL, 0), t, CCC_ERR_PARSE, CCC_KMS_R_PARSE);

    /* tampered document: the signature (last byte) and bytes all over */
    enclave_new(&e);
    attest(&f->sim, t, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e.spki, 44), &doc);
    doc.data[doc.size - 1] ^= 1;
    expect_refused(kms, ccc_buf_bytes(&doc), t, CCC_ERR_CRYPTO, CCC_KMS_R_SIGNATURE);
    doc.data[doc.size - 1] ^= 1;
    for (size_t i = 0; i < doc.size; i += 11) {
        doc.data[i] ^= 0x04;
        ccc_buf sealed;
        ccc_buf_init(&sealed, CCC_KMS_MAX_RELEASE_SIZE);
        ccc_kms_reason r = CCC_KMS_R_OK;
        if (ccc_kms_release(kms, ccc_buf_bytes(&doc), t, &sealed, &r) == CCC_OK)
            fail_msg("tampered document byte %zu released keys", i);
        assert_int_not_equal(r, CCC_KMS_R_OK);
        assert_int_equal(sealed.size, 0);
        ccc_buf_wipe(&sealed);
        doc.data[i] ^= 0x04;
    }
    for (size_t n = 0; n < doc.size; n += 97)
        expect_refused(kms, ccc_bytes_of(doc.data, n), t, CCC_ERR_PARSE, CCC_KMS_R_PARSE);
    /* untouched, it still releases (the loop above burned no nonce) */
    expect_released(f, kms, ccc_buf_bytes(&doc), t, &e);
    ccc_buf_wipe(&doc);

    /* refusals are logged with their reason class */
    fflush(f->log);
    long size = ftell(f->log);
    char *text = calloc(1, (size_t)size + 1);
    rewind(f->log);
    assert_int_equal(fread(text, 1, (size_t)size, f->log), (size_t)size);
    assert_non_null(strstr(text, "\"key_refused\""));
    const char *reasons[] = {"pcrs", "replay", "debug", "stale", "nonce", "public_key", "chain",
                             "too_large", "parse", "signature"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"reason\":\"%s\"", reasons[i]);
        if (!strstr(text, want))
            fail_msg("no log line with %s", want);
    }
    free(text);
    fseek(f->log, 0, SEEK_END);

    /* the refusal body names the class and reason only */
    ccc_buf body;
    ccc_buf_init(&body, 64);
    assert_int_equal(ccc_kms_refusal_body(CCC_ERR_POLICY, CCC_KMS_R_PCRS, &body), CCC_OK);
    assert_int_equal(body.size, strlen("policy:pcrs"));
    assert_memory_equal(body.data, "policy:pcrs", body.size);
    ccc_buf_wipe(&body);

    ccc_kms_free(kms);
    ccc_kms_free(strict);
}

static void nonce_memory_evicts_oldest(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    ccc_kms *kms = kms_with(f, &f->policy);
    ccc_kms_set_nonce_memory(kms, 2);
    enclave e[3];
    ccc_buf doc[3];
    for (size_t i = 0; i < 3; i++) {
        enclave_new(&e[i]);
        attest(&f->sim, f->now_ms, ccc_bytes_of(e[i].nonce, 32), ccc_bytes_of(e[i].spki, 44),
               &doc[i]);
    }
    expect_released(f, kms, ccc_buf_bytes(&doc[0]), f->now_ms, &e[0]);
    expect_released(f, kms, ccc_buf_bytes(&doc[1]), f->now_ms, &e[1]);
    expect_refused(kms, ccc_buf_bytes(&doc[0]), f->now_ms, CCC_ERR_REPLAY, CCC_KMS_R_REPLAY);
    expect_released(f, kms, ccc_buf_bytes(&doc[2]), f->now_ms, &e[2]);
    /* doc[0]'s nonce was the oldest and is gone: within the max age it
     * would release again (to e[0]'s own key only) — the residual risk
     * kms.h documents; past the max age it is stale regardless. */
    expect_refused(kms, ccc_buf_bytes(&doc[1]), f->now_ms, CCC_ERR_REPLAY, CCC_KMS_R_REPLAY);
    expect_refused(kms, ccc_buf_bytes(&doc[2]), f->now_ms, CCC_ERR_REPLAY, CCC_KMS_R_REPLAY);
    expect_refused(kms, ccc_buf_bytes(&doc[0]), f->now_ms + CCC_KMS_DEFAULT_MAX_AGE_MS + 1,
                   CCC_ERR_POLICY, CCC_KMS_R_STALE);
    expect_released(f, kms, ccc_buf_bytes(&doc[0]), f->now_ms, &e[0]);
    for (size_t i = 0; i < 3; i++) {
        ccc_buf_wipe(&doc[i]);
        ccc_hpke_keypair_wipe(&e[i].kp);
    }
    ccc_kms_free(kms);
}

/* ------------------------------------------------------------------------ */
/* Enclave side                                                              */
/* ------------------------------------------------------------------------ */

static void seal_pt(const uint8_t pk[32], ccc_bytes pt, ccc_buf *out)
{
    uint8_t buf[1024];
    size_t n = 0;
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                            CCC_HPKE_AEAD_AES_256_GCM};
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(
        ccc_bytes_of(CCC_KMS_RELEASE_INFO, strlen(CCC_KMS_RELEASE_INFO)));
    assert_int_equal(ccc_hpke_seal(suite, pk, &o, ccc_bytes_of(NULL, 0), pt.ptr, pt.size, buf,
                                   buf + 32, sizeof buf - 32, &n),
                     CCC_OK);
    ccc_buf_init(out, 2048);
    assert_int_equal(ccc_buf_append(out, buf, 32 + n), CCC_OK);
}

/* A fresh enclave, its document, and a successful release to it. */
static void release_now(fixture *f, ccc_kms *kms, enclave *e, ccc_buf *doc, ccc_buf *sealed)
{
    enclave_new(e);
    attest(&f->sim, f->now_ms, ccc_bytes_of(e->nonce, 32), ccc_bytes_of(e->spki, 44), doc);
    ccc_buf_init(sealed, CCC_KMS_MAX_RELEASE_SIZE);
    assert_int_equal(ccc_kms_release(kms, ccc_buf_bytes(doc), f->now_ms, sealed, NULL), CCC_OK);
}

static void release_open_round_trip_and_tamper(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    assert_int_equal(ccc_kms_store_rotate(f->store), CCC_OK);
    ccc_kms *kms = kms_with(f, &f->policy);
    enclave e;
    ccc_buf doc, sealed;
    release_now(f, kms, &e, &doc, &sealed);
    ccc_kms_released got;
    assert_int_equal(ccc_kms_release_open(ccc_buf_bytes(&sealed), e.kp.sk, &got), CCC_OK);
    assert_int_equal(got.count, 2);
    ccc_kms_released_wipe(&got);

    /* every byte flipped, every truncation, another key: nothing comes out */
    for (size_t i = 0; i < sealed.size; i++) {
        sealed.data[i] ^= 0x80;
        assert_int_not_equal(ccc_kms_release_open(ccc_buf_bytes(&sealed), e.kp.sk, &got), CCC_OK);
        assert_true(test_all_zero(&got, sizeof got));
        sealed.data[i] ^= 0x80;
    }
    for (size_t n = 0; n < sealed.size; n++) {
        assert_int_not_equal(ccc_kms_release_open(ccc_bytes_of(sealed.data, n), e.kp.sk, &got),
                             CCC_OK);
        assert_true(test_all_zero(&got, sizeof got));
    }
    enclave other;
    enclave_new(&other);
    assert_int_equal(ccc_kms_release_open(ccc_buf_bytes(&sealed), other.kp.sk, &got),
                     CCC_ERR_CRYPTO);
    ccc_buf_wipe(&sealed);
    ccc_buf_wipe(&doc);

    /* authentic but malformed plaintexts are refused by the strict decoder */
    static const struct {
        const char *hex;
        ccc_status want;
    } bad[] = {
        /* {"v":2, "keys":[{"id":1,"sk":h'00'*32}]} */
        {"a2617602646b65797381a26269640162736b5820"
         "0000000000000000000000000000000000000000000000000000000000000000",
         CCC_ERR_UNSUPPORTED},
        /* keys empty */
        {"a2617601646b65797380", CCC_ERR_PARSE},
        /* sk of 31 bytes */
        {"a2617601646b65797381a26269640162736b581f"
         "00000000000000000000000000000000000000000000000000000000000000",
         CCC_ERR_PARSE},
        /* duplicate ids */
        {"a2617601646b65797382a26269640162736b5820"
         "0000000000000000000000000000000000000000000000000000000000000001"
         "a26269640162736b5820"
         "0000000000000000000000000000000000000000000000000000000000000002",
         CCC_ERR_PARSE},
        /* id 256 */
        {"a2617601646b65797381a262696419010062736b5820"
         "0000000000000000000000000000000000000000000000000000000000000000",
         CCC_ERR_PARSE},
        /* keys in non-canonical order ("keys" before "v") */
        {"a2646b65797381a26269640162736b5820"
         "0000000000000000000000000000000000000000000000000000000000000000"
         "617601",
         CCC_ERR_PARSE},
        /* an extra key in the entry */
        {"a2617601646b65797381a3616101626964016273"
         "6b58200000000000000000000000000000000000000000000000000000000000000000",
         CCC_ERR_PARSE},
        /* three keys */
        {"a2617601646b65797383"
         "a26269640162736b58200000000000000000000000000000000000000000000000000000000000000001"
         "a26269640262736b58200000000000000000000000000000000000000000000000000000000000000002"
         "a26269640362736b58200000000000000000000000000000000000000000000000000000000000000003",
         CCC_ERR_LIMIT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 0;
        uint8_t *pt = test_unhex(bad[i].hex, &n);
        seal_pt(e.kp.pk, ccc_bytes_of(pt, n), &sealed);
        ccc_status st = ccc_kms_release_open(ccc_buf_bytes(&sealed), e.kp.sk, &got);
        if (st != bad[i].want)
            fail_msg("case %zu: want %s, got %s (%s)", i, ccc_status_name(bad[i].want),
                     ccc_status_name(st), ccc_error_detail());
        assert_true(test_all_zero(&got, sizeof got));
        ccc_buf_wipe(&sealed);
        free(pt);
    }
    /* and the well-formed one of the same shape opens */
    size_t n = 0;
    uint8_t *pt = test_unhex("a2617601646b65797381a26269640762736b5820"
                             "0101010101010101010101010101010101010101010101010101010101010101",
                             &n);
    seal_pt(e.kp.pk, ccc_bytes_of(pt, n), &sealed);
    assert_int_equal(ccc_kms_release_open(ccc_buf_bytes(&sealed), e.kp.sk, &got), CCC_OK);
    assert_int_equal(got.count, 1);
    assert_int_equal(got.keys[0].id, 7);
    ccc_kms_released_wipe(&got);
    ccc_buf_wipe(&sealed);
    free(pt);
    ccc_kms_free(kms);
}

static void serve_conn_frames(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    ccc_kms *kms = kms_with(f, &f->policy);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    enclave e;
    enclave_new(&e);
    ccc_buf doc;
    attest(&f->sim, f->now_ms, ccc_bytes_of(e.nonce, 32), ccc_bytes_of(e.spki, 44), &doc);
    /* all requests go out first (they fit the socket buffer), then EOF */
    assert_int_equal(ccc_frame_write(sv[0], CCC_FRAME_PING, ccc_bytes_of("tok", 3)), CCC_OK);
    assert_int_equal(ccc_frame_write(sv[0], CCC_FRAME_KEY_REQUEST, ccc_buf_bytes(&doc)), CCC_OK);
    assert_int_equal(ccc_frame_write(sv[0], CCC_FRAME_KEY_REQUEST, ccc_buf_bytes(&doc)), CCC_OK);
    assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    assert_int_equal(ccc_kms_serve_conn(kms, sv[1], f->now_ms), CCC_OK);
    close(sv[1]);

    ccc_frame_type type;
    ccc_buf body;
    ccc_buf_init(&body, 1u << 20);
    assert_int_equal(ccc_frame_read(sv[0], &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_PONG);
    assert_int_equal(body.size, 3);
    assert_int_equal(ccc_frame_read(sv[0], &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_KEY_RESPONSE);
    ccc_kms_released got;
    assert_int_equal(ccc_kms_release_open(ccc_buf_bytes(&body), e.kp.sk, &got), CCC_OK);
    assert_memory_equal(got.keys[0].kp.sk, ccc_kms_store_keys(f->store)[0].kp.sk, 32);
    ccc_kms_released_wipe(&got);
    /* the replay gets an error frame with the class only */
    assert_int_equal(ccc_frame_read(sv[0], &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_JOB_ERROR);
    assert_int_equal(body.size, strlen("replay:replay"));
    assert_memory_equal(body.data, "replay:replay", body.size);
    assert_int_equal(ccc_frame_read(sv[0], &type, &body), CCC_ERR_NOT_FOUND);
    close(sv[0]);

    /* a frame the kms does not serve: an error frame, then the end */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(ccc_frame_write(sv[0], CCC_FRAME_JOB_REQUEST, ccc_bytes_of("x", 1)), CCC_OK);
    assert_int_equal(ccc_kms_serve_conn(kms, sv[1], f->now_ms), CCC_ERR_USAGE);
    assert_int_equal(ccc_frame_read(sv[0], &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_JOB_ERROR);
    close(sv[0]);
    close(sv[1]);
    /* a broken header ends the connection with an error */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], "\x30\x01\0\0\0\0\0\0", 8), 8);
    assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    assert_int_not_equal(ccc_kms_serve_conn(kms, sv[1], f->now_ms), CCC_OK);
    close(sv[0]);
    close(sv[1]);
    ccc_buf_wipe(&body);
    ccc_buf_wipe(&doc);
    ccc_hpke_keypair_wipe(&e.kp);
    ccc_kms_free(kms);
}

/* The whole chain: a client encrypts to a key from the verified config,
 * an enclave opens it with gateway keys made from a key release. */
static void config_to_release_ohttp_round_trip(void **state)
{
    fixture *f = *state;
    fresh_store(f);
    assert_int_equal(ccc_kms_store_rotate(f->store), CCC_OK);
    ccc_buf cfg_bytes;
    ccc_buf_init(&cfg_bytes, CCC_KMS_MAX_CONFIG_SIZE);
    assert_int_equal(ccc_kms_config_sign(f->store, f->policy_sha256, f->now_ms, &cfg_bytes),
                     CCC_OK);
    ccc_kms_config cfg;
    assert_int_equal(
        ccc_kms_config_verify(ccc_buf_bytes(&cfg_bytes), ccc_kms_store_sign_key(f->store), &cfg),
        CCC_OK);

    ccc_kms *kms = kms_with(f, &f->policy);
    enclave e;
    ccc_buf doc, sealed;
    release_now(f, kms, &e, &doc, &sealed);
    ccc_kms_released rel;
    assert_int_equal(ccc_kms_release_open(ccc_buf_bytes(&sealed), e.kp.sk, &rel), CCC_OK);
    ccc_ohttp_gateway_key gk[CCC_KMS_MAX_LIVE];
    assert_int_equal(ccc_kms_gateway_keys(rel.keys, rel.count, gk), CCC_OK);

    static const char msg[] = "a photo of a cat";
    for (size_t i = 0; i < cfg.key_count; i++) {
        const uint16_t aeads[] = {CCC_HPKE_AEAD_AES_256_GCM, CCC_HPKE_AEAD_CHACHA20_POLY1305};
        for (size_t a = 0; a < 2; a++) {
            ccc_hpke_suite suite;
            assert_int_equal(ccc_ohttp_key_config_choose(&cfg.keys[i], aeads[a], &suite), CCC_OK);
            assert_int_equal(suite.aead_id, aeads[a]);
            uint8_t enc[256], pt[256];
            size_t enc_size = 0, pt_size = 0;
            ccc_ohttp_ctx client, gw;
            ccc_ohttp_ctx_init(&client);
            ccc_ohttp_ctx_init(&gw);
            assert_int_equal(ccc_ohttp_request_encapsulate(&client, &cfg.keys[i], suite,
                                                           (const uint8_t *)msg, sizeof msg, enc,
                                                           sizeof enc, &enc_size),
                             CCC_OK);
            assert_int_equal(ccc_ohttp_request_decapsulate(&gw, gk, rel.count, enc, enc_size, pt,
                                                           sizeof pt, &pt_size),
                             CCC_OK);
            assert_int_equal(pt_size, sizeof msg);
            assert_memory_equal(pt, msg, sizeof msg);
            ccc_ohttp_ctx_wipe(&client);
            ccc_ohttp_ctx_wipe(&gw);
        }
    }
    for (size_t i = 0; i < rel.count; i++)
        ccc_ohttp_gateway_key_wipe(&gk[i]);
    ccc_kms_released_wipe(&rel);
    ccc_buf_wipe(&sealed);
    ccc_buf_wipe(&doc);
    ccc_buf_wipe(&cfg_bytes);
    ccc_hpke_keypair_wipe(&e.kp);
    ccc_kms_free(kms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_create_reopen),
        cmocka_unit_test(store_rotation),
        cmocka_unit_test(config_sign_verify),
        cmocka_unit_test(release_succeeds),
        cmocka_unit_test(release_refusals),
        cmocka_unit_test(nonce_memory_evicts_oldest),
        cmocka_unit_test(release_open_round_trip_and_tamper),
        cmocka_unit_test(serve_conn_frames),
        cmocka_unit_test(config_to_release_ohttp_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
