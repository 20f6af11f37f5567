/* Receipts: canonical CBOR payload, exact COSE_Sign1 envelope, verification. */
#include "receipt/receipt.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cbor/cbor.h"

/* RFC 8410 §4: SubjectPublicKeyInfo of an Ed25519 key, up to the key bytes. */
static const uint8_t ed25519_spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
/* RFC 9052 §4.2 protected header {1: -8} (alg EdDSA), as its bstr content. */
static const uint8_t protected_eddsa[3] = {0xa1, 0x01, 0x27};

/* The five hash fields, one table for encode, parse and expectations. */
typedef struct hash_field {
    const char *key;
    size_t offset;
} hash_field;

static const hash_field hash_fields[] = {
    {"model_sha256", offsetof(ccc_receipt, model_sha256)},
    {"answer_sha256", offsetof(ccc_receipt, answer_sha256)},
    {"policy_sha256", offsetof(ccc_receipt, policy_sha256)},
    {"request_sha256", offsetof(ccc_receipt, request_sha256)},
    {"attestation_sha256", offsetof(ccc_receipt, attestation_sha256)},
};
#define HASH_FIELD_COUNT (sizeof hash_fields / sizeof hash_fields[0])
#define RECEIPT_KEY_COUNT (5 + HASH_FIELD_COUNT) /* v seq pcrs job_id time_ms */

static uint8_t *hash_at(ccc_receipt *r, size_t i) { return (uint8_t *)r + hash_fields[i].offset; }

static const uint8_t *hash_at_const(const ccc_receipt *r, size_t i)
{
    return (const uint8_t *)r + hash_fields[i].offset;
}

void ccc_receipt_init(ccc_receipt *r)
{
    memset(r, 0, sizeof *r);
    r->version = CCC_RECEIPT_VERSION;
}

static ccc_status check_job_id(const uint8_t *id, size_t size)
{
    CCC_ENSURE(size >= 1 && size <= CCC_RECEIPT_MAX_JOB_ID, CCC_ERR_USAGE,
               "job id must be 1..256 bytes");
    for (size_t i = 0; i < size; i++)
        CCC_ENSURE(id[i] >= 0x21 && id[i] <= 0x7e, CCC_ERR_USAGE,
                   "job id must be printable ASCII without spaces");
    return CCC_OK;
}

ccc_status ccc_receipt_set_job_id(ccc_receipt *r, const char *id, size_t size)
{
    CCC_ENSURE(id, CCC_ERR_USAGE, "no job id");
    CCC_GUARD(check_job_id((const uint8_t *)id, size));
    memcpy(r->job_id, id, size);
    r->job_id[size] = '\0';
    return CCC_OK;
}

ccc_status ccc_receipt_sha256(ccc_bytes data, uint8_t out[static 32])
{
    return ccc_sha256(data, out);
}

ccc_status ccc_receipt_answer_commit(const uint8_t salt[static CCC_RECEIPT_ANSWER_SALT_SIZE],
                                     ccc_bytes answer, uint8_t out[static 32])
{
    ccc_status st = CCC_OK;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    CCC_CHECK(md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
                  EVP_DigestUpdate(md, salt, CCC_RECEIPT_ANSWER_SALT_SIZE) == 1 &&
                  (answer.size == 0 || EVP_DigestUpdate(md, answer.ptr, answer.size) == 1) &&
                  EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32,
              CCC_ERR_INTERNAL, "SHA-256 failed");
out:
    EVP_MD_CTX_free(md);
    return st;
}

ccc_status ccc_receipt_bind_attestation(ccc_receipt *r, const ccc_attest_doc *doc)
{
    CCC_ENSURE(doc && doc->cose.doc.input.size > 0, CCC_ERR_USAGE, "no attestation document");
    for (size_t i = 0; i < CCC_RECEIPT_PCR_COUNT; i++) {
        r->pcrs[i].present = doc->pcrs[i].present;
        r->pcrs[i].size = 0;
        memset(r->pcrs[i].value, 0, sizeof r->pcrs[i].value);
        if (!doc->pcrs[i].present)
            continue;
        CCC_ENSURE(doc->pcrs[i].value.size <= CCC_RECEIPT_MAX_PCR_SIZE, CCC_ERR_USAGE,
                   "PCR too large");
        memcpy(r->pcrs[i].value, doc->pcrs[i].value.ptr, doc->pcrs[i].value.size);
        r->pcrs[i].size = doc->pcrs[i].value.size;
    }
    return ccc_receipt_sha256(doc->cose.doc.input, r->attestation_sha256);
}

/* ------------------------------------------------------------------------ */
/* Encoding and signing                                                      */
/* ------------------------------------------------------------------------ */

static bool pcr_size_ok(size_t n) { return n == 32 || n == 48 || n == 64; }

static ccc_status encode_pcrs(const ccc_receipt *r, ccc_buf *out)
{
    size_t count = 0;
    for (size_t i = 0; i < CCC_RECEIPT_PCR_COUNT; i++) {
        if (!r->pcrs[i].present)
            continue;
        CCC_ENSURE(pcr_size_ok(r->pcrs[i].size), CCC_ERR_USAGE, "PCR size must be 32, 48 or 64");
        count++;
    }
    CCC_ENSURE(count >= 1, CCC_ERR_USAGE, "receipt needs at least one PCR");
    /* uint keys 0..31 in increasing order are already canonical (§4.2.1) */
    CCC_GUARD(ccc_cbor_put_map(out, count));
    for (size_t i = 0; i < CCC_RECEIPT_PCR_COUNT; i++) {
        if (!r->pcrs[i].present)
            continue;
        CCC_GUARD(ccc_cbor_put_uint(out, i));
        CCC_GUARD(ccc_cbor_put_bytes(out, r->pcrs[i].value, r->pcrs[i].size));
    }
    return CCC_OK;
}

ccc_status ccc_receipt_encode(const ccc_receipt *r, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, CCC_RECEIPT_MAX_SIZE);
    CCC_CHECK(r->version == CCC_RECEIPT_VERSION, CCC_ERR_USAGE, "receipt version must be 1");
    size_t id_size = strnlen(r->job_id, sizeof r->job_id);
    CCC_TRY(check_job_id((const uint8_t *)r->job_id, id_size));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "v"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), r->version));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "seq"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), r->seq));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "pcrs"));
    CCC_TRY(encode_pcrs(r, ccc_cbor_mapb_value(&mb)));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "job_id"));
    CCC_TRY(ccc_cbor_put_text(ccc_cbor_mapb_value(&mb), r->job_id, id_size));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "time_ms"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), r->time_ms));
    for (size_t i = 0; i < HASH_FIELD_COUNT; i++) {
        CCC_TRY(ccc_cbor_mapb_key_text(&mb, hash_fields[i].key));
        CCC_TRY(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), hash_at_const(r, i), 32));
    }
    CCC_TRY(ccc_cbor_mapb_finish(&mb, out));
out:
    ccc_cbor_mapb_wipe(&mb);
    return st;
}

ccc_status ccc_receipt_sign(const ccc_receipt *r, EVP_PKEY *key, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_buf payload;
    ccc_buf_init(&payload, CCC_RECEIPT_MAX_SIZE);
    CCC_CHECK(key && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519, CCC_ERR_CRYPTO,
              "receipt key must be Ed25519");
    CCC_TRY(ccc_receipt_encode(r, &payload));
    ccc_cose_sign1_params params = {.alg = CCC_COSE_ALG_EDDSA};
    CCC_TRY(ccc_cose_sign1_sign(key, &params, ccc_buf_bytes(&payload), out));
out:
    ccc_buf_wipe(&payload);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */

void ccc_receipt_msg_init(ccc_receipt_msg *m)
{
    ccc_cose_sign1_init(&m->cose);
    ccc_receipt_init(&m->receipt);
}

void ccc_receipt_msg_wipe(ccc_receipt_msg *m)
{
    ccc_cose_sign1_wipe(&m->cose);
    ccc_receipt_init(&m->receipt);
}

/* The one envelope we emit, rebuilt from the parsed payload and signature. */
static ccc_status check_envelope(const ccc_cose_sign1 *c, ccc_bytes input)
{
    ccc_status st = CCC_OK;
    ccc_buf want;
    ccc_buf_init(&want, CCC_RECEIPT_MAX_SIZE + 64);
    CCC_CHECK(c->alg == CCC_COSE_ALG_EDDSA, CCC_ERR_UNSUPPORTED, "receipt alg must be EdDSA");
    CCC_CHECK(!c->detached, CCC_ERR_PARSE, "receipt payload is detached");
    CCC_TRY(ccc_cbor_put_tag(&want, CCC_COSE_TAG_SIGN1));
    CCC_TRY(ccc_cbor_put_array(&want, 4));
    CCC_TRY(ccc_cbor_put_bytes(&want, protected_eddsa, sizeof protected_eddsa));
    CCC_TRY(ccc_cbor_put_map(&want, 0));
    CCC_TRY(ccc_cbor_put_bytes(&want, c->payload.ptr, c->payload.size));
    CCC_TRY(ccc_cbor_put_bytes(&want, c->signature.ptr, c->signature.size));
    CCC_CHECK(want.size == input.size && memcmp(want.data, input.ptr, input.size) == 0,
              CCC_ERR_PARSE, "receipt envelope is not the canonical COSE_Sign1");
    CCC_CHECK(c->signature.size == 64, CCC_ERR_PARSE, "receipt signature must be 64 bytes");
out:
    ccc_buf_wipe(&want);
    return st;
}

/* A required key: absent is malformed input, not "not found". */
static ccc_status get_key(const ccc_cbor_item *map, const char *key, const ccc_cbor_item **out)
{
    ccc_status st = ccc_cbor_map_get_text(map, key, out);
    if (st == CCC_ERR_NOT_FOUND)
        CCC_BAIL(CCC_ERR_PARSE, "receipt lacks a required key");
    return st;
}

static ccc_status get_hash(const ccc_cbor_item *map, const char *key, uint8_t out[static 32])
{
    const ccc_cbor_item *it;
    ccc_bytes b;
    CCC_GUARD(get_key(map, key, &it));
    CCC_GUARD(ccc_cbor_get_bytes(it, &b));
    CCC_ENSURE(b.size == 32, CCC_ERR_PARSE, "receipt hash must be 32 bytes");
    memcpy(out, b.ptr, 32);
    return CCC_OK;
}

static ccc_status parse_pcrs(const ccc_cbor_item *item, ccc_receipt *r)
{
    size_t count = 0;
    CCC_GUARD(ccc_cbor_get_map(item, &count));
    CCC_ENSURE(count >= 1 && count <= CCC_RECEIPT_PCR_COUNT, CCC_ERR_PARSE,
               "receipt pcrs must have 1..32 entries");
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, item);
    const ccc_cbor_item *k, *v;
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it))) {
        uint64_t idx;
        ccc_bytes b;
        CCC_GUARD(ccc_cbor_get_uint(k, &idx));
        CCC_ENSURE(idx < CCC_RECEIPT_PCR_COUNT, CCC_ERR_PARSE, "receipt PCR index over 31");
        CCC_GUARD(ccc_cbor_get_bytes(v, &b));
        CCC_ENSURE(pcr_size_ok(b.size), CCC_ERR_PARSE, "receipt PCR size must be 32, 48 or 64");
        /* duplicates are refused by the canonical decoder */
        r->pcrs[idx].present = true;
        r->pcrs[idx].size = b.size;
        memcpy(r->pcrs[idx].value, b.ptr, b.size);
    }
    return CCC_OK;
}

static ccc_status parse_payload(ccc_bytes payload, ccc_receipt *r)
{
    ccc_status st = CCC_OK;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_RECEIPT_MAX_SIZE;
    lim.max_string_size = CCC_RECEIPT_MAX_JOB_ID;
    lim.max_items = 2 * RECEIPT_KEY_COUNT + 1 + 2 * CCC_RECEIPT_PCR_COUNT;
    lim.max_depth = 2;
    CCC_TRY(ccc_cbor_decode(&doc, payload, &lim, CCC_CBOR_CANONICAL));
    const ccc_cbor_item *map = ccc_cbor_doc_root(&doc), *it;
    size_t pairs = 0;
    CCC_TRY(ccc_cbor_get_map(map, &pairs));
    /* exactly our keys: the right count, and each one found (no duplicates
     * survive the decoder), so no other key can be present */
    CCC_CHECK(pairs == RECEIPT_KEY_COUNT, CCC_ERR_PARSE, "receipt has the wrong number of keys");
    CCC_TRY(get_key(map, "v", &it));
    CCC_TRY(ccc_cbor_get_uint(it, &r->version));
    CCC_CHECK(r->version == CCC_RECEIPT_VERSION, CCC_ERR_UNSUPPORTED,
              "receipt version not supported");
    CCC_TRY(get_key(map, "seq", &it));
    CCC_TRY(ccc_cbor_get_uint(it, &r->seq));
    CCC_TRY(get_key(map, "time_ms", &it));
    CCC_TRY(ccc_cbor_get_uint(it, &r->time_ms));
    CCC_TRY(get_key(map, "job_id", &it));
    ccc_bytes id;
    CCC_TRY(ccc_cbor_get_text(it, &id));
    CCC_CHECK(check_job_id(id.ptr, id.size) == CCC_OK, CCC_ERR_PARSE, "receipt job id invalid");
    memcpy(r->job_id, id.ptr, id.size);
    r->job_id[id.size] = '\0';
    CCC_TRY(get_key(map, "pcrs", &it));
    CCC_TRY(parse_pcrs(it, r));
    for (size_t i = 0; i < HASH_FIELD_COUNT; i++)
        CCC_TRY(get_hash(map, hash_fields[i].key, hash_at(r, i)));
out:
    ccc_cbor_doc_wipe(&doc);
    return st;
}

ccc_status ccc_receipt_parse(ccc_receipt_msg *m, ccc_bytes input)
{
    ccc_status st = CCC_OK;
    ccc_receipt_msg_wipe(m);
    CCC_CHECK(input.size <= CCC_RECEIPT_MAX_SIZE, CCC_ERR_LIMIT, "receipt over 8 KiB");
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_RECEIPT_MAX_SIZE;
    lim.max_string_size = CCC_RECEIPT_MAX_SIZE;
    lim.max_items = 64;
    lim.max_depth = 4;
    CCC_TRY(ccc_cose_sign1_parse(&m->cose, input, &lim));
    CCC_TRY(check_envelope(&m->cose, input));
    CCC_TRY(parse_payload(m->cose.payload, &m->receipt));
out:
    if (st != CCC_OK)
        ccc_receipt_msg_wipe(m);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */
/* ------------------------------------------------------------------------ */

ccc_status ccc_receipt_key_spki(EVP_PKEY *key, uint8_t out[static CCC_RECEIPT_SPKI_SIZE])
{
    CCC_ENSURE(key && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519, CCC_ERR_CRYPTO,
               "receipt key must be Ed25519");
    size_t n = 32;
    memcpy(out, ed25519_spki_prefix, sizeof ed25519_spki_prefix);
    CCC_ENSURE(EVP_PKEY_get_raw_public_key(key, out + sizeof ed25519_spki_prefix, &n) == 1 &&
                   n == 32,
               CCC_ERR_CRYPTO, "cannot export the Ed25519 public key");
    return CCC_OK;
}

ccc_status ccc_receipt_key_from_spki(ccc_bytes spki, EVP_PKEY **out)
{
    *out = NULL;
    CCC_ENSURE(spki.size == CCC_RECEIPT_SPKI_SIZE &&
                   memcmp(spki.ptr, ed25519_spki_prefix, sizeof ed25519_spki_prefix) == 0,
               CCC_ERR_CRYPTO, "public_key is not a DER Ed25519 SubjectPublicKeyInfo");
    *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                       spki.ptr + sizeof ed25519_spki_prefix, 32);
    CCC_ENSURE(*out, CCC_ERR_CRYPTO, "invalid Ed25519 public key");
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Verification                                                              */
/* ------------------------------------------------------------------------ */

ccc_status ccc_receipt_verify_signature(const ccc_receipt_msg *m, EVP_PKEY *pub)
{
    CCC_ENSURE(m->cose.alg == CCC_COSE_ALG_EDDSA, CCC_ERR_USAGE, "receipt not parsed");
    CCC_ENSURE(pub && EVP_PKEY_get_id(pub) == EVP_PKEY_ED25519, CCC_ERR_CRYPTO,
               "receipt key must be Ed25519");
    return ccc_cose_sign1_verify(&m->cose, pub, ccc_bytes_of(NULL, 0), NULL);
}

static ccc_status check_pcrs(const ccc_receipt *r, const ccc_attest_doc *doc)
{
    for (size_t i = 0; i < CCC_RECEIPT_PCR_COUNT; i++) {
        if (r->pcrs[i].present != doc->pcrs[i].present)
            CCC_BAIL_NUM(CCC_ERR_POLICY, "receipt and attestation PCR sets differ at index", i);
        if (!r->pcrs[i].present)
            continue;
        if (r->pcrs[i].size != doc->pcrs[i].value.size ||
            memcmp(r->pcrs[i].value, doc->pcrs[i].value.ptr, r->pcrs[i].size) != 0)
            CCC_BAIL_NUM(CCC_ERR_POLICY, "receipt PCR differs from the attestation at index", i);
    }
    return CCC_OK;
}

static ccc_status check_expectations(const ccc_receipt *r, const ccc_receipt_expect *e)
{
    if (!e)
        return CCC_OK;
    if (e->job_id)
        CCC_ENSURE(strcmp(e->job_id, r->job_id) == 0, CCC_ERR_POLICY,
                   "receipt is for another job id");
    CCC_ENSURE(!e->request_sha256 || memcmp(e->request_sha256, r->request_sha256, 32) == 0,
               CCC_ERR_POLICY, "receipt request hash differs from the request");
    CCC_ENSURE(!e->answer_sha256 || memcmp(e->answer_sha256, r->answer_sha256, 32) == 0,
               CCC_ERR_POLICY, "receipt answer hash differs from the answer");
    CCC_ENSURE(!e->policy_sha256 || memcmp(e->policy_sha256, r->policy_sha256, 32) == 0,
               CCC_ERR_POLICY, "receipt policy hash differs from the policy");
    CCC_ENSURE(!e->model_sha256 || memcmp(e->model_sha256, r->model_sha256, 32) == 0,
               CCC_ERR_POLICY, "receipt model hash differs from the model manifest");
    if (e->model_allowed_count) {
        bool found = false;
        for (size_t i = 0; i < e->model_allowed_count; i++)
            found |= memcmp(e->model_allowed[i], r->model_sha256, 32) == 0;
        CCC_ENSURE(found, CCC_ERR_POLICY, "receipt model is not one the policy accepts");
    }
    return CCC_OK;
}

ccc_status ccc_receipt_verify(const ccc_receipt_msg *m, const ccc_attest_doc *doc,
                              const ccc_receipt_expect *expect)
{
    ccc_status st = CCC_OK;
    EVP_PKEY *pub = NULL;
    CCC_CHECK(doc && doc->cose.doc.input.size > 0, CCC_ERR_USAGE, "no attestation document");
    /* 1. the key: the document's public_key, as an Ed25519 SPKI */
    CCC_CHECK(doc->has_public_key, CCC_ERR_CRYPTO, "attestation document has no public_key");
    CCC_TRY(ccc_receipt_key_from_spki(doc->public_key, &pub));
    /* 2. the signature */
    CCC_TRY(ccc_receipt_verify_signature(m, pub));
    /* 3. bound to exactly this document */
    uint8_t h[32];
    CCC_TRY(ccc_receipt_sha256(doc->cose.doc.input, h));
    CCC_CHECK(memcmp(h, m->receipt.attestation_sha256, 32) == 0, CCC_ERR_POLICY,
              "receipt is bound to another attestation document");
    /* 4. the measurements it claims are the document's */
    CCC_TRY(check_pcrs(&m->receipt, doc));
    /* 5. signed after the document was made */
    CCC_CHECK(m->receipt.time_ms >= doc->timestamp_ms, CCC_ERR_POLICY,
              "receipt is older than its attestation document");
    /* 6. what the caller knows */
    CCC_TRY(check_expectations(&m->receipt, expect));
out:
    EVP_PKEY_free(pub);
    return st;
}
