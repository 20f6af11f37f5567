/* kms key release: attestation-gated, HPKE-sealed to the document's X25519
 * key (kms.h §3), and the enclave side that opens it. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "kms/internal.h"
#include "kms/kms.h"
#include "log/log.h"

/* RFC 8410 §4: SubjectPublicKeyInfo { AlgorithmIdentifier { id-X25519
 * (1.3.101.110) }, BIT STRING (32-byte key) }. */
const uint8_t ccc_kms_x25519_spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};

/* Release plaintext cap: 2 keys are ~90 bytes. */
#define RELEASE_PT_MAX 256

struct ccc_kms {
    const ccc_kms_store *store;
    const ccc_x509_root *root;
    ccc_policy policy;
    uint8_t policy_sha256[32];
    uint64_t max_age_ms;
    /* Seen nonces: a ring, oldest overwritten first (kms.h "Replay"). */
    uint8_t seen[CCC_KMS_SEEN_NONCES][CCC_KMS_NONCE_SIZE];
    size_t seen_cap;   /* ring size, <= CCC_KMS_SEEN_NONCES */
    size_t seen_count; /* valid entries, <= seen_cap */
    size_t seen_next;  /* slot the next nonce goes to */
};

static const char *const reason_names[CCC_KMS_R_COUNT] = {
    [CCC_KMS_R_OK] = "ok",
    [CCC_KMS_R_TOO_LARGE] = "too_large",
    [CCC_KMS_R_PARSE] = "parse",
    [CCC_KMS_R_CHAIN] = "chain",
    [CCC_KMS_R_SIGNATURE] = "signature",
    [CCC_KMS_R_DEBUG] = "debug",
    [CCC_KMS_R_PCRS] = "pcrs",
    [CCC_KMS_R_STALE] = "stale",
    [CCC_KMS_R_NONCE] = "nonce",
    [CCC_KMS_R_REPLAY] = "replay",
    [CCC_KMS_R_PUBLIC_KEY] = "public_key",
    [CCC_KMS_R_INTERNAL] = "internal",
};

const char *ccc_kms_reason_name(ccc_kms_reason r)
{
    return ((unsigned)r < CCC_KMS_R_COUNT) ? reason_names[r] : "unknown";
}

ccc_status ccc_kms_new(const ccc_kms_store *store, const ccc_policy *policy,
                       const uint8_t policy_sha256[32], const ccc_x509_root *root, ccc_kms **out)
{
    *out = NULL;
    CCC_ENSURE(store && policy && root, CCC_ERR_USAGE, "kms needs a store, policy and root");
    CCC_GUARD(ccc_policy_check(policy));
    ccc_kms *k = ccc_secret_alloc(sizeof *k);
    CCC_ENSURE(k, CCC_ERR_NOMEM, "out of memory");
    k->store = store;
    k->root = root;
    k->policy = *policy;
    memcpy(k->policy_sha256, policy_sha256, 32);
    k->max_age_ms = CCC_KMS_DEFAULT_MAX_AGE_MS;
    k->seen_cap = CCC_KMS_SEEN_NONCES;
    *out = k;
    return CCC_OK;
}

void ccc_kms_free(ccc_kms *kms)
{
    if (kms)
        ccc_secret_free(kms, sizeof *kms);
}

void ccc_kms_set_max_age(ccc_kms *kms, uint64_t max_age_ms)
{
    if (max_age_ms > 0)
        kms->max_age_ms = max_age_ms;
}

void ccc_kms_set_nonce_memory(ccc_kms *kms, size_t count)
{
    if (count > 0 && count <= CCC_KMS_SEEN_NONCES) {
        kms->seen_cap = count;
        kms->seen_count = 0;
        kms->seen_next = 0;
    }
}

const uint8_t *ccc_kms_policy_sha256(const ccc_kms *kms) { return kms->policy_sha256; }
const ccc_kms_store *ccc_kms_store_of(const ccc_kms *kms) { return kms->store; }

void ccc_kms_x25519_spki(const uint8_t pk[static 32], uint8_t out[static CCC_KMS_X25519_SPKI_SIZE])
{
    memcpy(out, ccc_kms_x25519_spki_prefix, sizeof ccc_kms_x25519_spki_prefix);
    memcpy(out + sizeof ccc_kms_x25519_spki_prefix, pk, 32);
}

ccc_status ccc_kms_refusal_body(ccc_status st, ccc_kms_reason reason, ccc_buf *out)
{
    const char *a = ccc_status_name(st), *b = ccc_kms_reason_name(reason);
    CCC_GUARD(ccc_buf_append(out, a, strlen(a)));
    CCC_GUARD(ccc_buf_u8(out, ':'));
    return ccc_buf_append(out, b, strlen(b));
}

/* Map the attestation verifier's first failure to a reason class. */
static ccc_kms_reason reason_of_attest(ccc_attest_error e)
{
    switch (e) {
    case CCC_ATTEST_E_CERT_MALFORMED:
    case CCC_ATTEST_E_CERT_EXPIRED:
    case CCC_ATTEST_E_CERT_NOT_YET_VALID:
    case CCC_ATTEST_E_UNTRUSTED_ROOT:
    case CCC_ATTEST_E_CERT_SIGNATURE:
    case CCC_ATTEST_E_CHAIN:
        return CCC_KMS_R_CHAIN;
    case CCC_ATTEST_E_SIGNATURE:
        return CCC_KMS_R_SIGNATURE;
    case CCC_ATTEST_E_DEBUG_MODE:
        return CCC_KMS_R_DEBUG;
    case CCC_ATTEST_E_POLICY_EMPTY:
    case CCC_ATTEST_E_PCR_MISMATCH:
        return CCC_KMS_R_PCRS;
    case CCC_ATTEST_E_TOO_OLD:
    case CCC_ATTEST_E_FROM_FUTURE:
    case CCC_ATTEST_E_NEEDS_TIME:
        return CCC_KMS_R_STALE;
    case CCC_ATTEST_E_NONCE_MISMATCH:
        return CCC_KMS_R_NONCE;
    case CCC_ATTEST_E_PUBLIC_KEY_MISMATCH:
        return CCC_KMS_R_PUBLIC_KEY;
    case CCC_ATTEST_OK:
    case CCC_ATTEST_E_USER_DATA_MISMATCH:
    case CCC_ATTEST_E_COUNT:
        return CCC_KMS_R_INTERNAL;
    default:
        return CCC_KMS_R_PARSE; /* the parsing errors */
    }
}

static bool nonce_seen(const ccc_kms *kms, const uint8_t *nonce)
{
    /* Linear scan: 4096 x 32 bytes, a few microseconds per release. Nonces
     * are not secret, but compare in constant time anyway. */
    for (size_t i = 0; i < kms->seen_count; i++)
        if (ccc_ct_equal(kms->seen[i], nonce, CCC_KMS_NONCE_SIZE))
            return true;
    return false;
}

static void nonce_remember(ccc_kms *kms, const uint8_t *nonce)
{
    memcpy(kms->seen[kms->seen_next], nonce, CCC_KMS_NONCE_SIZE);
    kms->seen_next = (kms->seen_next + 1) % kms->seen_cap;
    if (kms->seen_count < kms->seen_cap)
        kms->seen_count++;
}

/* Plaintext: {"v": 1, "keys": [{"id": id, "sk": bstr(32)}, ...]}, canonical
 * ("v" < "keys"; "id" < "sk"). Written into a secret buffer. */
static ccc_status release_plaintext(const ccc_kms_store *store, ccc_buf *pt)
{
    size_t n = ccc_kms_store_key_count(store);
    const ccc_kms_key *keys = ccc_kms_store_keys(store);
    CCC_GUARD(ccc_cbor_put_map(pt, 2));
    CCC_GUARD(ccc_cbor_put_cstr(pt, "v"));
    CCC_GUARD(ccc_cbor_put_uint(pt, 1));
    CCC_GUARD(ccc_cbor_put_cstr(pt, "keys"));
    CCC_GUARD(ccc_cbor_put_array(pt, n));
    for (size_t i = 0; i < n; i++) {
        CCC_GUARD(ccc_cbor_put_map(pt, 2));
        CCC_GUARD(ccc_cbor_put_cstr(pt, "id"));
        CCC_GUARD(ccc_cbor_put_uint(pt, keys[i].id));
        CCC_GUARD(ccc_cbor_put_cstr(pt, "sk"));
        CCC_GUARD(ccc_cbor_put_bytes(pt, keys[i].kp.sk, 32));
    }
    return CCC_OK;
}

static const ccc_hpke_suite release_suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                                             CCC_HPKE_AEAD_AES_256_GCM};

static ccc_bytes release_info(void)
{
    return ccc_bytes_of(CCC_KMS_RELEASE_INFO, sizeof CCC_KMS_RELEASE_INFO - 1);
}

static ccc_status seal_to(const ccc_kms *kms, const uint8_t pk[32], ccc_buf *sealed_out)
{
    ccc_status st = CCC_OK;
    ccc_buf pt;
    ccc_buf_init_secret(&pt, RELEASE_PT_MAX);
    uint8_t out[CCC_KMS_MAX_RELEASE_SIZE];
    size_t out_size = 0;
    ccc_hpke_setup_opts opts = ccc_hpke_opts_base(release_info());
    CCC_TRY(release_plaintext(kms->store, &pt));
    CCC_TRY(ccc_hpke_seal(release_suite, pk, &opts, ccc_bytes_of(NULL, 0), pt.data, pt.size, out,
                          out + CCC_HPKE_ENC_SIZE, sizeof out - CCC_HPKE_ENC_SIZE, &out_size));
    CCC_TRY(ccc_buf_append(sealed_out, out, CCC_HPKE_ENC_SIZE + out_size));
out:
    ccc_buf_wipe(&pt);
    ccc_wipe(out, sizeof out); /* ciphertext only, but keep the habit */
    return st;
}

static void log_decision(const ccc_kms *kms, bool released, ccc_status st, ccc_kms_reason reason,
                         const uint8_t doc_sha256[32], const ccc_attest_doc *doc)
{
    ccc_log_field pcr0 = CCC_LOG_END;
    if (doc && doc->pcrs[0].present && doc->pcrs[0].value.size == 48)
        pcr0 = ccc_log_sha384(CCC_F_PCR_SHA384, doc->pcrs[0].value.ptr);
    char id[4];
    snprintf(id, sizeof id, "%u", (unsigned)ccc_kms_store_keys(kms->store)[0].id);
    /* A missing PCR0 leaves CCC_LOG_END in its place: the list ends early,
     * and the optional fields sit last for that reason. */
    ccc_log(released ? CCC_LOG_INFO : CCC_LOG_WARN,
            released ? CCC_EV_KEY_RELEASED : CCC_EV_KEY_REFUSED,
            ccc_log_sha256(CCC_F_DOC_SHA256, doc_sha256), ccc_log_id(CCC_F_REASON,
                                                                     ccc_kms_reason_name(reason)),
            ccc_log_status(st), ccc_log_id(CCC_F_KEY_ID, id),
            ccc_log_count(CCC_F_COUNT, released ? ccc_kms_store_key_count(kms->store) : 0), pcr0,
            CCC_LOG_END);
}

ccc_status ccc_kms_release(ccc_kms *kms, ccc_bytes doc_bytes, uint64_t now_ms,
                           ccc_buf *sealed_out, ccc_kms_reason *reason_out)
{
    ccc_status st = CCC_OK;
    ccc_kms_reason reason = CCC_KMS_R_INTERNAL;
    uint8_t doc_sha256[32] = {0};
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    bool parsed = false;
    ccc_attest_error why = CCC_ATTEST_OK;
    ccc_attest_report report;
    ccc_attest_policy ap;
    memset(&ap, 0, sizeof ap);
    uint8_t pk[32];

    if (doc_bytes.size > CCC_ATTEST_MAX_DOC_SIZE) {
        reason = CCC_KMS_R_TOO_LARGE;
        CCC_FAIL(CCC_ERR_LIMIT, "attestation document too large");
    }
    CCC_TRY(ccc_sha256(doc_bytes, doc_sha256));
    reason = CCC_KMS_R_PARSE;
    CCC_TRY(ccc_attest_doc_parse(&doc, doc_bytes, &why));
    parsed = true;

    /* src/attest checks chain, signature, debug, PCRs and freshness. The
     * nonce is not known in advance (the enclave chose it), so the verifier
     * does not bind it; it is checked below, after authentication. */
    ccc_policy_to_attest(&kms->policy, &ap);
    ap.allow_debug_INSECURE = false;
    ap.allow_any_measurement_INSECURE = false;
    ap.has_time = true;
    ap.at_ms = now_ms;
    ap.max_age_ms = kms->max_age_ms;
    st = ccc_attest_verify(&doc, kms->root, &ap, &report);
    if (st != CCC_OK) {
        reason = reason_of_attest(report.result);
        goto out;
    }

    reason = CCC_KMS_R_NONCE;
    CCC_CHECK(doc.has_nonce && doc.nonce.size == CCC_KMS_NONCE_SIZE, CCC_ERR_POLICY,
              "document nonce must be 32 bytes");
    reason = CCC_KMS_R_REPLAY;
    CCC_CHECK(!nonce_seen(kms, doc.nonce.ptr), CCC_ERR_REPLAY, "document nonce seen before");
    reason = CCC_KMS_R_PUBLIC_KEY;
    CCC_CHECK(doc.has_public_key && doc.public_key.size == CCC_KMS_X25519_SPKI_SIZE &&
                  memcmp(doc.public_key.ptr, ccc_kms_x25519_spki_prefix,
                         sizeof ccc_kms_x25519_spki_prefix) == 0,
              CCC_ERR_POLICY, "document public_key must be an X25519 SubjectPublicKeyInfo");
    memcpy(pk, doc.public_key.ptr + sizeof ccc_kms_x25519_spki_prefix, 32);

    st = seal_to(kms, pk, sealed_out);
    if (st != CCC_OK) {
        /* A low-order X25519 point fails the DH (RFC 9180 §7.1.4): the
         * document's key is unusable. */
        if (st == CCC_ERR_CRYPTO) {
            reason = CCC_KMS_R_PUBLIC_KEY;
            CCC_FAIL(CCC_ERR_POLICY, "document public_key is not a usable X25519 key");
        }
        reason = CCC_KMS_R_INTERNAL;
        goto out;
    }
    nonce_remember(kms, doc.nonce.ptr);
    reason = CCC_KMS_R_OK;
out:
    log_decision(kms, st == CCC_OK, st, reason, doc_sha256, parsed ? &doc : NULL);
    if (reason_out)
        *reason_out = reason;
    ccc_attest_doc_wipe(&doc);
    ccc_wipe(&report, sizeof report);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Enclave side                                                              */
/* ------------------------------------------------------------------------ */

void ccc_kms_released_wipe(ccc_kms_released *r) { ccc_wipe(r, sizeof *r); }

static ccc_status release_decode(ccc_bytes pt, ccc_kms_released *out)
{
    ccc_status st = CCC_OK;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = RELEASE_PT_MAX;
    lim.max_items = 32;
    lim.max_depth = 3;
    const ccc_cbor_item *root, *item, *e;
    size_t n = 0, m = 0;
    uint64_t v = 0;
    ccc_bytes sk;
    ccc_cbor_iter it;
    CCC_TRY(ccc_cbor_decode(&doc, pt, &lim, CCC_CBOR_CANONICAL));
    root = ccc_cbor_doc_root(&doc);
    CCC_TRY(ccc_cbor_get_map(root, &n));
    CCC_CHECK(n == 2, CCC_ERR_PARSE, "release: exactly v and keys");
    CCC_TRY(ccc_kms_map_get(root, "v", &item));
    CCC_TRY(ccc_cbor_get_uint(item, &v));
    CCC_CHECK(v == 1, CCC_ERR_UNSUPPORTED, "release: version not 1");
    CCC_TRY(ccc_kms_map_get(root, "keys", &item));
    CCC_TRY(ccc_cbor_get_array(item, &n));
    CCC_CHECK(n >= 1, CCC_ERR_PARSE, "release: no keys");
    CCC_CHECK(n <= CCC_KMS_MAX_LIVE, CCC_ERR_LIMIT, "release: more than 2 keys");
    ccc_cbor_iter_init(&it, item);
    for (size_t i = 0; i < n; i++) {
        e = ccc_cbor_iter_next(&it);
        CCC_TRY(ccc_cbor_get_map(e, &m));
        CCC_CHECK(m == 2, CCC_ERR_PARSE, "release: key entry needs exactly id and sk");
        CCC_TRY(ccc_kms_map_get(e, "id", &item));
        CCC_TRY(ccc_cbor_get_uint(item, &v));
        CCC_CHECK(v <= 255, CCC_ERR_PARSE, "release: key id over 255");
        CCC_TRY(ccc_kms_map_get(e, "sk", &item));
        CCC_TRY(ccc_cbor_get_bytes(item, &sk));
        CCC_CHECK(sk.size == 32, CCC_ERR_PARSE, "release: sk must be 32 bytes");
        for (size_t j = 0; j < i; j++)
            CCC_CHECK(out->keys[j].id != (uint8_t)v, CCC_ERR_PARSE, "release: duplicate key id");
        out->keys[i].id = (uint8_t)v;
        CCC_TRY(ccc_hpke_keypair_from_private(&out->keys[i].kp, sk.ptr));
        out->count = i + 1;
    }
out:
    ccc_cbor_doc_wipe(&doc);
    return st;
}

ccc_status ccc_kms_release_open(ccc_bytes sealed, const uint8_t x25519_sk[static 32],
                                ccc_kms_released *out)
{
    ccc_status st = CCC_OK;
    ccc_hpke_keypair kp;
    uint8_t pt[RELEASE_PT_MAX];
    size_t pt_size = 0;
    ccc_hpke_setup_opts opts = ccc_hpke_opts_base(release_info());
    memset(out, 0, sizeof *out);
    memset(&kp, 0, sizeof kp);
    CCC_CHECK(sealed.size >= CCC_HPKE_ENC_SIZE + CCC_HPKE_TAG_SIZE, CCC_ERR_PARSE,
              "sealed release too short");
    CCC_CHECK(sealed.size <= CCC_HPKE_ENC_SIZE + CCC_HPKE_TAG_SIZE + RELEASE_PT_MAX,
              CCC_ERR_LIMIT, "sealed release too long");
    CCC_TRY(ccc_hpke_keypair_from_private(&kp, x25519_sk));
    CCC_TRY(ccc_hpke_open(release_suite, &kp, sealed.ptr, &opts, ccc_bytes_of(NULL, 0),
                          sealed.ptr + CCC_HPKE_ENC_SIZE, sealed.size - CCC_HPKE_ENC_SIZE, pt,
                          sizeof pt, &pt_size));
    CCC_TRY(release_decode(ccc_bytes_of(pt, pt_size), out));
out:
    if (st != CCC_OK)
        ccc_kms_released_wipe(out);
    ccc_wipe(pt, sizeof pt);
    ccc_hpke_keypair_wipe(&kp);
    return st;
}
