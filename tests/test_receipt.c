/* receipt: canonical encoding, exact envelope, verification against a
 * simulated-NSM attestation document, every tampering. */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "nsm/nsm.h"
#include "receipt/receipt.h"
#include "testutil.h"

typedef struct fixture {
    ccc_nsm_sim sim;
    EVP_PKEY *key;       /* the enclave's per-boot receipt key */
    EVP_PKEY *other_key; /* another enclave's */
    uint64_t now_ms;
    ccc_buf doc_bytes;  /* document with key's SPKI */
    ccc_buf doc2_bytes; /* same key, a later document */
    ccc_buf doc3_bytes; /* other_key's SPKI */
    ccc_attest_doc doc, doc2, doc3;
} fixture;

static EVP_PKEY *ed25519_new(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

static void make_doc(fixture *f, uint64_t t, ccc_bytes pk, ccc_buf *bytes, ccc_attest_doc *doc)
{
    ccc_buf_init(bytes, CCC_ATTEST_MAX_DOC_SIZE);
    assert_int_equal(
        ccc_nsm_sim_attest(&f->sim, t, ccc_bytes_of(NULL, 0), ccc_bytes_of(NULL, 0), pk, bytes),
        CCC_OK);
    ccc_attest_doc_init(doc);
    assert_int_equal(ccc_attest_doc_parse(doc, ccc_buf_bytes(bytes), NULL), CCC_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(ccc_nsm_ca_generate(&ca, now - 3600), CCC_OK);
    ccc_nsm_sim_init(&f->sim);
    assert_int_equal(ccc_nsm_sim_boot(&f->sim, &ca, now), CCC_OK);
    ccc_nsm_ca_wipe(&ca);
    int fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(ccc_nsm_sim_measure_fd(&f->sim, fd), CCC_OK);
    close(fd);
    uint8_t h[32];
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("manifest", 8), h), CCC_OK);
    assert_int_equal(ccc_nsm_sim_extend(&f->sim, CCC_NSM_PCR_MANIFEST, ccc_bytes_of(h, 32)),
                     CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("policy", 6), h), CCC_OK);
    assert_int_equal(ccc_nsm_sim_extend(&f->sim, CCC_NSM_PCR_POLICY, ccc_bytes_of(h, 32)), CCC_OK);
    f->key = ed25519_new();
    f->other_key = ed25519_new();
    f->now_ms = (uint64_t)now * 1000u;
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE], spki2[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_receipt_key_spki(f->key, spki), CCC_OK);
    assert_int_equal(ccc_receipt_key_spki(f->other_key, spki2), CCC_OK);
    make_doc(f, f->now_ms, ccc_bytes_of(spki, sizeof spki), &f->doc_bytes, &f->doc);
    make_doc(f, f->now_ms + 1, ccc_bytes_of(spki, sizeof spki), &f->doc2_bytes, &f->doc2);
    make_doc(f, f->now_ms, ccc_bytes_of(spki2, sizeof spki2), &f->doc3_bytes, &f->doc3);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ccc_attest_doc_wipe(&f->doc);
    ccc_attest_doc_wipe(&f->doc2);
    ccc_attest_doc_wipe(&f->doc3);
    ccc_buf_wipe(&f->doc_bytes);
    ccc_buf_wipe(&f->doc2_bytes);
    ccc_buf_wipe(&f->doc3_bytes);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->other_key);
    ccc_nsm_sim_wipe(&f->sim);
    free(f);
    return 0;
}

static const char answer[] = "{\"count\":1,\"confidence\":0.873,\"model\":\"centernet-mnv3\"}";

/* The receipt the enclave would sign for one job against f->doc. */
static void sample_receipt(const fixture *f, ccc_receipt *r)
{
    ccc_receipt_init(r);
    assert_int_equal(ccc_receipt_set_job_id(r, "job-0001", 8), CCC_OK);
    assert_int_equal(ccc_receipt_bind_attestation(r, &f->doc), CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("ciphertext", 10), r->request_sha256), CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of(answer, strlen(answer)), r->answer_sha256),
                     CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("manifest", 8), r->model_sha256), CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("policy", 6), r->policy_sha256), CCC_OK);
    r->time_ms = f->now_ms + 5000;
    r->seq = 7;
}

static void sign(EVP_PKEY *key, const ccc_receipt *r, ccc_buf *out)
{
    ccc_buf_init(out, CCC_RECEIPT_MAX_SIZE);
    assert_int_equal(ccc_receipt_sign(r, key, out), CCC_OK);
}

/* parse + verify in one go; returns the first failing status */
static ccc_status parse_verify(ccc_bytes in, const ccc_attest_doc *doc, const ccc_receipt_expect *e)
{
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    ccc_status st = ccc_receipt_parse(&m, in);
    if (st == CCC_OK)
        st = ccc_receipt_verify(&m, doc, e);
    ccc_receipt_msg_wipe(&m);
    return st;
}

static void round_trip(void **state)
{
    fixture *f = *state;
    ccc_receipt r;
    sample_receipt(f, &r);
    ccc_buf b;
    sign(f->key, &r, &b);
    assert_true(b.size < 2048);
    /* the documented envelope bytes */
    const uint8_t head[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0};
    assert_memory_equal(b.data, head, sizeof head);
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    assert_int_equal(ccc_receipt_parse(&m, ccc_buf_bytes(&b)), CCC_OK);
    assert_memory_equal(&m.receipt, &r, sizeof r);
    uint8_t pol[32], ans[32], req[32], mod[32];
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("policy", 6), pol), CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of(answer, strlen(answer)), ans), CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("ciphertext", 10), req), CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of("manifest", 8), mod), CCC_OK);
    ccc_receipt_expect e = {.job_id = "job-0001",
                            .request_sha256 = req,
                            .answer_sha256 = ans,
                            .policy_sha256 = pol,
                            .model_sha256 = mod};
    assert_int_equal(ccc_receipt_verify(&m, &f->doc, &e), CCC_OK);
    assert_int_equal(ccc_receipt_verify(&m, &f->doc, NULL), CCC_OK);
    assert_int_equal(ccc_receipt_verify_signature(&m, f->key), CCC_OK);
    assert_int_equal(ccc_receipt_verify_signature(&m, f->other_key), CCC_ERR_CRYPTO);
    /* each expectation that differs is refused */
    uint8_t wrong[32];
    memset(wrong, 0x5a, sizeof wrong);
    const char *details[] = {"receipt request hash differs from the request",
                             "receipt answer hash differs from the answer",
                             "receipt policy hash differs from the policy",
                             "receipt model hash differs from the model manifest"};
    for (int i = 0; i < 4; i++) {
        ccc_receipt_expect w = e;
        const uint8_t **slot[] = {&w.request_sha256, &w.answer_sha256, &w.policy_sha256,
                                  &w.model_sha256};
        *slot[i] = wrong;
        assert_int_equal(ccc_receipt_verify(&m, &f->doc, &w), CCC_ERR_POLICY);
        assert_string_equal(ccc_error_detail(), details[i]);
    }
    uint8_t allowed[2][32];
    memset(allowed[0], 1, 32);
    memcpy(allowed[1], mod, 32);
    ccc_receipt_expect wm = e;
    wm.model_allowed = allowed;
    wm.model_allowed_count = 2;
    assert_int_equal(ccc_receipt_verify(&m, &f->doc, &wm), CCC_OK);
    wm.model_allowed_count = 1;
    assert_int_equal(ccc_receipt_verify(&m, &f->doc, &wm), CCC_ERR_POLICY);
    assert_string_equal(ccc_error_detail(), "receipt model is not one the policy accepts");
    ccc_receipt_expect wj = e;
    wj.job_id = "job-0002";
    assert_int_equal(ccc_receipt_verify(&m, &f->doc, &wj), CCC_ERR_POLICY);
    /* the payload is byte for byte the canonical encoding */
    ccc_buf p;
    ccc_buf_init(&p, CCC_RECEIPT_MAX_SIZE);
    assert_int_equal(ccc_receipt_encode(&r, &p), CCC_OK);
    assert_int_equal(p.size, m.cose.payload.size);
    assert_memory_equal(p.data, m.cose.payload.ptr, p.size);
    /* and its keys come in the documented order */
    const char *order[] = {"v",
                           "seq",
                           "pcrs",
                           "job_id",
                           "time_ms",
                           "model_sha256",
                           "answer_sha256",
                           "policy_sha256",
                           "request_sha256",
                           "attestation_sha256"};
    ccc_cbor_doc d;
    ccc_cbor_doc_init(&d);
    assert_int_equal(ccc_cbor_decode(&d, ccc_buf_bytes(&p), NULL, CCC_CBOR_CANONICAL), CCC_OK);
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, ccc_cbor_doc_root(&d));
    for (int i = 0; i < 10; i++) {
        const ccc_cbor_item *k = ccc_cbor_iter_next(&it);
        assert_non_null(k);
        assert_true(ccc_cbor_text_equals(k, order[i]));
        assert_non_null(ccc_cbor_iter_next(&it));
    }
    assert_null(ccc_cbor_iter_next(&it));
    ccc_cbor_doc_wipe(&d);
    ccc_buf_wipe(&p);
    ccc_receipt_msg_wipe(&m);
    ccc_buf_wipe(&b);
}

static void every_byte_changed_fails(void **state)
{
    fixture *f = *state;
    ccc_receipt r;
    sample_receipt(f, &r);
    ccc_buf b;
    sign(f->key, &r, &b);
    for (size_t i = 0; i < b.size; i++) {
        const uint8_t flips[] = {0x01, 0x80, 0xff};
        for (size_t k = 0; k < sizeof flips; k++) {
            b.data[i] ^= flips[k];
            if (parse_verify(ccc_buf_bytes(&b), &f->doc, NULL) == CCC_OK)
                fail_msg("byte %zu ^ 0x%02x accepted", i, flips[k]);
            b.data[i] ^= flips[k];
        }
    }
    /* every truncation, and one byte appended */
    for (size_t n = 0; n < b.size; n++)
        assert_int_not_equal(parse_verify(ccc_bytes_of(b.data, n), &f->doc, NULL), CCC_OK);
    assert_int_equal(ccc_buf_u8(&b, 0), CCC_OK);
    assert_int_equal(parse_verify(ccc_buf_bytes(&b), &f->doc, NULL), CCC_ERR_PARSE);
    b.size--;
    assert_int_equal(parse_verify(ccc_buf_bytes(&b), &f->doc, NULL), CCC_OK);
    ccc_buf_wipe(&b);
}

static void other_attestation_documents_fail(void **state)
{
    fixture *f = *state;
    ccc_receipt r;
    sample_receipt(f, &r);
    ccc_buf b;
    sign(f->key, &r, &b);
    /* same key, another document: the hash binding catches it */
    assert_int_equal(parse_verify(ccc_buf_bytes(&b), &f->doc2, NULL), CCC_ERR_POLICY);
    assert_string_equal(ccc_error_detail(), "receipt is bound to another attestation document");
    /* another enclave's document: the signature does not verify */
    assert_int_equal(parse_verify(ccc_buf_bytes(&b), &f->doc3, NULL), CCC_ERR_CRYPTO);
    /* signed by the other key but claiming our document */
    ccc_buf b3;
    sign(f->other_key, &r, &b3);
    assert_int_equal(parse_verify(ccc_buf_bytes(&b3), &f->doc, NULL), CCC_ERR_CRYPTO);
    ccc_buf_wipe(&b3);
    /* documents without a usable public_key */
    ccc_buf nb;
    ccc_attest_doc nd;
    make_doc(f, f->now_ms, ccc_bytes_of(NULL, 0), &nb, &nd);
    assert_int_equal(parse_verify(ccc_buf_bytes(&b), &nd, NULL), CCC_ERR_CRYPTO);
    assert_string_equal(ccc_error_detail(), "attestation document has no public_key");
    ccc_attest_doc_wipe(&nd);
    ccc_buf_wipe(&nb);
    uint8_t raw[32]; /* the raw key instead of its SPKI */
    size_t n = 32;
    assert_int_equal(EVP_PKEY_get_raw_public_key(f->key, raw, &n), 1);
    make_doc(f, f->now_ms, ccc_bytes_of(raw, 32), &nb, &nd);
    assert_int_equal(parse_verify(ccc_buf_bytes(&b), &nd, NULL), CCC_ERR_CRYPTO);
    ccc_attest_doc_wipe(&nd);
    ccc_buf_wipe(&nb);
    /* receipt signed before the document existed */
    ccc_receipt early = r;
    early.time_ms = f->doc.timestamp_ms - 1;
    ccc_buf be;
    sign(f->key, &early, &be);
    assert_int_equal(parse_verify(ccc_buf_bytes(&be), &f->doc, NULL), CCC_ERR_POLICY);
    assert_string_equal(ccc_error_detail(), "receipt is older than its attestation document");
    ccc_buf_wipe(&be);
    ccc_buf_wipe(&b);
}

static void wrong_pcrs_fail(void **state)
{
    fixture *f = *state;
    for (int variant = 0; variant < 4; variant++) {
        ccc_receipt r;
        sample_receipt(f, &r);
        switch (variant) {
        case 0:
            r.pcrs[0].value[0] ^= 1;
            break; /* PCR0 changed */
        case 1:
            r.pcrs[17].value[47] ^= 0x80;
            break; /* policy PCR   */
        case 2:
            r.pcrs[17].present = false;
            break; /* one missing  */
        case 3:    /* one extra    */
            r.pcrs[20].present = true;
            r.pcrs[20].size = 48;
            break;
        }
        ccc_buf b;
        sign(f->key, &r, &b);
        assert_int_equal(parse_verify(ccc_buf_bytes(&b), &f->doc, NULL), CCC_ERR_POLICY);
        ccc_buf_wipe(&b);
    }
}

/* ------------------------------------------------------------------------ */
/* Hand-made payloads: canonical and every kind of deviation                 */
/* ------------------------------------------------------------------------ */

enum {
    V_OK,
    V_NONSHORT_SEQ,
    V_UNSORTED,
    V_EXTRA_KEY,
    V_MISSING_KEY,
    V_DUP_KEY,
    V_SHORT_HASH,
    V_VERSION2,
    V_JOBID_BSTR,
    V_JOBID_SPACE,
    V_JOBID_EMPTY,
    V_PCR_SIZE,
    V_PCR_INDEX,
    V_PCR_UNSORTED,
    V_PCRS_EMPTY,
    V_FLOAT_TIME,
    V_NEG_SEQ,
    V_INDEF_MAP,
    V_NONSHORT_LEN,
    V_TRAILING,
    V_COUNT
};

static void put_key(ccc_buf *b, const char *k)
{
    assert_int_equal(ccc_cbor_put_cstr(b, k), CCC_OK);
}

static void hand_payload(const ccc_receipt *r, int v, ccc_buf *b)
{
    ccc_buf_init(b, 4096);
    size_t pairs = 10 + (v == V_EXTRA_KEY) - (v == V_MISSING_KEY);
    if (v == V_INDEF_MAP)
        assert_int_equal(ccc_buf_u8(b, 0xbf), CCC_OK);
    else
        assert_int_equal(ccc_cbor_put_map(b, pairs), CCC_OK);
    if (v == V_UNSORTED) {
        put_key(b, "seq");
        assert_int_equal(ccc_cbor_put_uint(b, r->seq), CCC_OK);
    }
    put_key(b, "v");
    assert_int_equal(ccc_cbor_put_uint(b, v == V_VERSION2 ? 2 : 1), CCC_OK);
    if (v != V_UNSORTED) {
        put_key(b, v == V_DUP_KEY ? "v" : "seq");
        if (v == V_NONSHORT_SEQ) {
            assert_int_equal(ccc_buf_u8(b, 0x18), CCC_OK);
            assert_int_equal(ccc_buf_u8(b, (uint8_t)r->seq), CCC_OK);
        } else if (v == V_NEG_SEQ) {
            assert_int_equal(ccc_cbor_put_int(b, -1), CCC_OK);
        } else {
            assert_int_equal(ccc_cbor_put_uint(b, r->seq), CCC_OK);
        }
    }
    put_key(b, "pcrs");
    size_t count = 0;
    for (int i = 0; i < 32; i++)
        count += r->pcrs[i].present;
    if (v == V_PCRS_EMPTY) {
        assert_int_equal(ccc_cbor_put_map(b, 0), CCC_OK);
    } else {
        assert_int_equal(ccc_cbor_put_map(b, count), CCC_OK);
        int idx[32], n = 0;
        for (int i = 0; i < 32; i++)
            if (r->pcrs[i].present)
                idx[n++] = i;
        if (v == V_PCR_UNSORTED) {
            int t = idx[0];
            idx[0] = idx[1];
            idx[1] = t;
        }
        for (int j = 0; j < n; j++) {
            int i = idx[j];
            assert_int_equal(
                ccc_cbor_put_uint(b, (v == V_PCR_INDEX && j == n - 1) ? 32 : (uint64_t)i), CCC_OK);
            size_t sz = (v == V_PCR_SIZE && j == 0) ? 20 : r->pcrs[i].size;
            assert_int_equal(ccc_cbor_put_bytes(b, r->pcrs[i].value, sz), CCC_OK);
        }
    }
    put_key(b, "job_id");
    if (v == V_JOBID_BSTR)
        assert_int_equal(ccc_cbor_put_bytes(b, r->job_id, strlen(r->job_id)), CCC_OK);
    else if (v == V_JOBID_SPACE)
        assert_int_equal(ccc_cbor_put_cstr(b, "job 0001"), CCC_OK);
    else if (v == V_JOBID_EMPTY)
        assert_int_equal(ccc_cbor_put_cstr(b, ""), CCC_OK);
    else
        assert_int_equal(ccc_cbor_put_cstr(b, r->job_id), CCC_OK);
    put_key(b, "time_ms");
    if (v == V_FLOAT_TIME) {
        const uint8_t f64[] = {0xfb, 0x42, 0x78, 0, 0, 0, 0, 0, 0};
        assert_int_equal(ccc_buf_append(b, f64, sizeof f64), CCC_OK);
    } else {
        assert_int_equal(ccc_cbor_put_uint(b, r->time_ms), CCC_OK);
    }
    const struct {
        const char *k;
        const uint8_t *h;
    } hashes[] = {{"model_sha256", r->model_sha256},
                  {"answer_sha256", r->answer_sha256},
                  {"policy_sha256", r->policy_sha256},
                  {"request_sha256", r->request_sha256},
                  {"attestation_sha256", r->attestation_sha256}};
    for (int i = 0; i < 5; i++) {
        if (v == V_MISSING_KEY && i == 0)
            continue;
        put_key(b, hashes[i].k);
        if (v == V_NONSHORT_LEN && i == 1) { /* bstr length 32 as 0x59 0x0020 */
            assert_int_equal(ccc_buf_u8(b, 0x59), CCC_OK);
            assert_int_equal(ccc_buf_u8(b, 0), CCC_OK);
            assert_int_equal(ccc_buf_u8(b, 32), CCC_OK);
            assert_int_equal(ccc_buf_append(b, hashes[i].h, 32), CCC_OK);
        } else {
            assert_int_equal(
                ccc_cbor_put_bytes(b, hashes[i].h, (v == V_SHORT_HASH && i == 2) ? 31 : 32),
                CCC_OK);
        }
    }
    if (v == V_EXTRA_KEY) {
        put_key(b, "zzzzzzzzzzzzzzzzzzzzzzzzz");
        assert_int_equal(ccc_cbor_put_uint(b, 0), CCC_OK);
    }
    if (v == V_INDEF_MAP)
        assert_int_equal(ccc_buf_u8(b, 0xff), CCC_OK);
    if (v == V_TRAILING)
        assert_int_equal(ccc_buf_u8(b, 0x00), CCC_OK);
}

static void non_canonical_payloads_refused(void **state)
{
    fixture *f = *state;
    ccc_receipt r;
    sample_receipt(f, &r);
    ccc_buf canon;
    ccc_buf_init(&canon, 4096);
    assert_int_equal(ccc_receipt_encode(&r, &canon), CCC_OK);
    for (int v = 0; v < V_COUNT; v++) {
        ccc_buf p, msg;
        hand_payload(&r, v, &p);
        if (v == V_OK) { /* the hand encoding is the library's encoding */
            assert_int_equal(p.size, canon.size);
            assert_memory_equal(p.data, canon.data, p.size);
        }
        ccc_buf_init(&msg, 8192);
        ccc_cose_sign1_params params = {.alg = CCC_COSE_ALG_EDDSA};
        assert_int_equal(ccc_cose_sign1_sign(f->key, &params, ccc_buf_bytes(&p), &msg), CCC_OK);
        ccc_status st = parse_verify(ccc_buf_bytes(&msg), &f->doc, NULL);
        if (v == V_OK)
            assert_int_equal(st, CCC_OK);
        else if (v == V_VERSION2)
            assert_int_equal(st, CCC_ERR_UNSUPPORTED);
        else if (st != CCC_ERR_PARSE)
            fail_msg("variant %d: status %d (%s)", v, (int)st, ccc_error_detail());
        ccc_buf_wipe(&msg);
        ccc_buf_wipe(&p);
    }
    ccc_buf_wipe(&canon);
}

static void envelope_variants_refused(void **state)
{
    fixture *f = *state;
    ccc_receipt r;
    sample_receipt(f, &r);
    ccc_buf p;
    ccc_buf_init(&p, 4096);
    assert_int_equal(ccc_receipt_encode(&r, &p), CCC_OK);
    ccc_cose_sign1_params variants[] = {
        {.alg = CCC_COSE_ALG_EDDSA, .untagged = true},
        {.alg = CCC_COSE_ALG_EDDSA, .kid = ccc_bytes_of("k1", 2)},
        {.alg = CCC_COSE_ALG_EDDSA, .detached = true},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        ccc_buf msg;
        ccc_buf_init(&msg, 8192);
        assert_int_equal(ccc_cose_sign1_sign(f->key, &variants[i], ccc_buf_bytes(&p), &msg),
                         CCC_OK);
        ccc_receipt_msg m;
        ccc_receipt_msg_init(&m);
        assert_int_not_equal(ccc_receipt_parse(&m, ccc_buf_bytes(&msg)), CCC_OK);
        ccc_receipt_msg_wipe(&m);
        ccc_buf_wipe(&msg);
    }
    /* an ES256 signature by a P-256 key over the same payload */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    ccc_buf msg;
    ccc_buf_init(&msg, 8192);
    assert_int_equal(ccc_cose_sign1_sign(ec, NULL, ccc_buf_bytes(&p), &msg), CCC_OK);
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    assert_int_equal(ccc_receipt_parse(&m, ccc_buf_bytes(&msg)), CCC_ERR_UNSUPPORTED);
    assert_int_equal(ccc_receipt_sign(&r, ec, &msg), CCC_ERR_CRYPTO);
    EVP_PKEY_free(ec);
    /* oversize input */
    uint8_t *big = calloc(1, CCC_RECEIPT_MAX_SIZE + 1);
    assert_non_null(big);
    assert_int_equal(ccc_receipt_parse(&m, ccc_bytes_of(big, CCC_RECEIPT_MAX_SIZE + 1)),
                     CCC_ERR_LIMIT);
    free(big);
    ccc_receipt_msg_wipe(&m);
    ccc_buf_wipe(&msg);
    ccc_buf_wipe(&p);
}

static void field_checks_on_build(void **state)
{
    fixture *f = *state;
    ccc_receipt r;
    sample_receipt(f, &r);
    char long_id[CCC_RECEIPT_MAX_JOB_ID + 2];
    memset(long_id, 'a', sizeof long_id);
    assert_int_equal(ccc_receipt_set_job_id(&r, long_id, CCC_RECEIPT_MAX_JOB_ID), CCC_OK);
    assert_int_equal(ccc_receipt_set_job_id(&r, long_id, CCC_RECEIPT_MAX_JOB_ID + 1),
                     CCC_ERR_USAGE);
    assert_int_equal(ccc_receipt_set_job_id(&r, "", 0), CCC_ERR_USAGE);
    assert_int_equal(ccc_receipt_set_job_id(&r, "a\nb", 3), CCC_ERR_USAGE);
    assert_int_equal(ccc_receipt_set_job_id(&r, "a\xc3\xa9", 3), CCC_ERR_USAGE);
    ccc_buf b;
    ccc_buf_init(&b, CCC_RECEIPT_MAX_SIZE);
    ccc_receipt bad = r;
    bad.version = 2;
    assert_int_equal(ccc_receipt_sign(&bad, f->key, &b), CCC_ERR_USAGE);
    bad = r;
    bad.job_id[0] = '\0';
    assert_int_equal(ccc_receipt_sign(&bad, f->key, &b), CCC_ERR_USAGE);
    bad = r;
    for (int i = 0; i < 32; i++)
        bad.pcrs[i].present = false;
    assert_int_equal(ccc_receipt_sign(&bad, f->key, &b), CCC_ERR_USAGE);
    bad = r;
    bad.pcrs[0].size = 20;
    assert_int_equal(ccc_receipt_sign(&bad, f->key, &b), CCC_ERR_USAGE);
    assert_int_equal(b.size, 0);
    /* the longest job id still round-trips */
    assert_int_equal(ccc_receipt_sign(&r, f->key, &b), CCC_OK);
    assert_int_equal(parse_verify(ccc_buf_bytes(&b), &f->doc, NULL), CCC_OK);
    ccc_buf_wipe(&b);
}

static void spki_is_strict(void **state)
{
    fixture *f = *state;
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_receipt_key_spki(f->key, spki), CCC_OK);
    /* the same bytes OpenSSL writes for the SPKI (i2d_PUBKEY) */
    uint8_t *der = NULL;
    int n = i2d_PUBKEY(f->key, &der);
    assert_int_equal(n, CCC_RECEIPT_SPKI_SIZE);
    assert_memory_equal(der, spki, CCC_RECEIPT_SPKI_SIZE);
    OPENSSL_free(der);
    EVP_PKEY *k = NULL;
    assert_int_equal(ccc_receipt_key_from_spki(ccc_bytes_of(spki, sizeof spki), &k), CCC_OK);
    assert_int_equal(EVP_PKEY_eq(k, f->key), 1);
    EVP_PKEY_free(k);
    for (size_t i = 0; i < 12; i++) { /* every prefix byte matters */
        spki[i] ^= 1;
        assert_int_equal(ccc_receipt_key_from_spki(ccc_bytes_of(spki, sizeof spki), &k),
                         CCC_ERR_CRYPTO);
        assert_null(k);
        spki[i] ^= 1;
    }
    assert_int_equal(ccc_receipt_key_from_spki(ccc_bytes_of(spki, 43), &k), CCC_ERR_CRYPTO);
    assert_int_equal(ccc_receipt_key_from_spki(ccc_bytes_of(spki + 12, 32), &k), CCC_ERR_CRYPTO);
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    assert_non_null(x);
    assert_int_equal(ccc_receipt_key_spki(x, spki), CCC_ERR_CRYPTO);
    EVP_PKEY_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(every_byte_changed_fails),
        cmocka_unit_test(other_attestation_documents_fail),
        cmocka_unit_test(wrong_pcrs_fail),
        cmocka_unit_test(non_canonical_payloads_refused),
        cmocka_unit_test(envelope_variants_refused),
        cmocka_unit_test(field_checks_on_build),
        cmocka_unit_test(spki_is_strict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
