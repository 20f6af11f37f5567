/* policy: the signed policy bundle (encode, decode, sign, verify, rollback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "cbor/cbor.h"
#include "cose/cose.h"
#include "policy/policy.h"

static bool pcr_size_ok(size_t n) { return n == 32 || n == 48 || n == 64; }

ccc_status ccc_policy_check(const ccc_policy *p)
{
    CCC_ENSURE(p->version >= 1, CCC_ERR_USAGE, "policy version must be at least 1");
    CCC_ENSURE(p->set_count >= 1 && p->set_count <= CCC_POLICY_MAX_SETS, CCC_ERR_USAGE,
               "policy needs 1 to 8 measurement sets (an empty allowlist is refused)");
    for (size_t s = 0; s < p->set_count; s++) {
        CCC_ENSURE(p->sets[s].count >= 1, CCC_ERR_USAGE, "empty measurement set");
        for (size_t i = 0; i < p->sets[s].count; i++)
            CCC_ENSURE(p->sets[s].pcrs[i].index < CCC_ATTEST_PCR_COUNT &&
                           pcr_size_ok(p->sets[s].pcrs[i].size),
                       CCC_ERR_USAGE, "bad PCR in a measurement set");
    }
    CCC_ENSURE(p->manifest_count >= 1 && p->manifest_count <= CCC_POLICY_MAX_MANIFESTS,
               CCC_ERR_USAGE, "policy needs 1 to 8 model manifest hashes");
    CCC_ENSURE(p->egress_max_answer_bytes > 0 && p->egress_max_boxes > 0 &&
                   p->tou_max_body_bytes > 0 && p->tou_rate_per_minute > 0,
               CCC_ERR_USAGE, "policy limits must be positive");
    return CCC_OK;
}

/* {k1: v1, k2: v2} with two uint values, canonical. */
static ccc_status put_pair_map(ccc_buf *out, const char *k1, uint64_t v1, const char *k2,
                               uint64_t v2)
{
    ccc_status st = CCC_OK;
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, 4096);
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, k1));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), v1));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, k2));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), v2));
    CCC_TRY(ccc_cbor_mapb_finish(&mb, out));
out:
    ccc_cbor_mapb_wipe(&mb);
    return st;
}

static ccc_status put_set(ccc_buf *out, const ccc_attest_pcr_set *set)
{
    ccc_status st = CCC_OK;
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, 8192);
    for (size_t i = 0; i < set->count; i++) {
        CCC_TRY(ccc_cbor_mapb_key_int(&mb, set->pcrs[i].index));
        CCC_TRY(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), set->pcrs[i].value,
                                   set->pcrs[i].size));
    }
    CCC_TRY(ccc_cbor_mapb_finish(&mb, out));
out:
    ccc_cbor_mapb_wipe(&mb);
    return st;
}

ccc_status ccc_policy_encode(const ccc_policy *p, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, CCC_POLICY_MAX_BUNDLE_SIZE);
    CCC_TRY(ccc_policy_check(p));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "format"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), CCC_POLICY_FORMAT));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "version"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), p->version));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "measurements"));
    CCC_TRY(ccc_cbor_put_array(ccc_cbor_mapb_value(&mb), p->set_count));
    for (size_t s = 0; s < p->set_count; s++)
        CCC_TRY(put_set(ccc_cbor_mapb_value(&mb), &p->sets[s]));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "egress"));
    CCC_TRY(put_pair_map(ccc_cbor_mapb_value(&mb), "max_answer_bytes", p->egress_max_answer_bytes,
                         "max_boxes", p->egress_max_boxes));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "tou"));
    CCC_TRY(put_pair_map(ccc_cbor_mapb_value(&mb), "max_body_bytes", p->tou_max_body_bytes,
                         "rate_per_minute", p->tou_rate_per_minute));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "model_manifests"));
    CCC_TRY(ccc_cbor_put_array(ccc_cbor_mapb_value(&mb), p->manifest_count));
    for (size_t i = 0; i < p->manifest_count; i++)
        CCC_TRY(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), p->manifests[i], 32));
    CCC_TRY(ccc_cbor_mapb_finish(&mb, out));
out:
    ccc_cbor_mapb_wipe(&mb);
    return st;
}

/* A map of exactly two uint entries named k1 and k2. */
static ccc_status get_pair_map(const ccc_cbor_item *m, const char *k1, uint64_t *v1,
                               const char *k2, uint64_t *v2)
{
    size_t n;
    const ccc_cbor_item *v;
    CCC_GUARD(ccc_cbor_get_map(m, &n));
    CCC_ENSURE(n == 2, CCC_ERR_PARSE, "policy limit map must hold exactly two entries");
    CCC_GUARD(ccc_cbor_map_get_text(m, k1, &v));
    CCC_GUARD(ccc_cbor_get_uint(v, v1));
    CCC_GUARD(ccc_cbor_map_get_text(m, k2, &v));
    return ccc_cbor_get_uint(v, v2);
}

static ccc_status decode_root(const ccc_cbor_item *root, ccc_policy *p)
{
    size_t n;
    const ccc_cbor_item *v;
    uint64_t format;
    CCC_GUARD(ccc_cbor_get_map(root, &n));
    CCC_ENSURE(n == 6, CCC_ERR_PARSE, "policy must hold exactly the six policy keys");
    CCC_GUARD(ccc_cbor_map_get_text(root, "format", &v));
    CCC_GUARD(ccc_cbor_get_uint(v, &format));
    CCC_ENSURE(format == CCC_POLICY_FORMAT, CCC_ERR_UNSUPPORTED, "unknown policy format");
    CCC_GUARD(ccc_cbor_map_get_text(root, "version", &v));
    CCC_GUARD(ccc_cbor_get_uint(v, &p->version));
    CCC_GUARD(ccc_cbor_map_get_text(root, "measurements", &v));
    CCC_GUARD(ccc_cbor_get_array(v, &n));
    CCC_ENSURE(n >= 1 && n <= CCC_POLICY_MAX_SETS, CCC_ERR_LIMIT,
               "policy needs 1 to 8 measurement sets");
    ccc_cbor_iter it, jt;
    ccc_cbor_iter_init(&it, v);
    const ccc_cbor_item *set, *k, *val;
    while ((set = ccc_cbor_iter_next(&it))) {
        ccc_attest_pcr_set *out = &p->sets[p->set_count++];
        size_t m;
        CCC_GUARD(ccc_cbor_get_map(set, &m));
        CCC_ENSURE(m >= 1, CCC_ERR_PARSE, "empty measurement set");
        ccc_cbor_iter_init(&jt, set);
        while ((k = ccc_cbor_iter_next(&jt)) && (val = ccc_cbor_iter_next(&jt))) {
            uint64_t idx;
            ccc_bytes b;
            CCC_GUARD(ccc_cbor_get_uint(k, &idx));
            CCC_GUARD(ccc_cbor_get_bytes(val, &b));
            CCC_ENSURE(idx < CCC_ATTEST_PCR_COUNT && pcr_size_ok(b.size), CCC_ERR_PARSE,
                       "bad PCR in a measurement set");
            ccc_status st = ccc_attest_pcr_set_add(out, (uint32_t)idx, b);
            CCC_ENSURE(st == CCC_OK, CCC_ERR_PARSE, "bad measurement set");
        }
    }
    CCC_GUARD(ccc_cbor_map_get_text(root, "egress", &v));
    CCC_GUARD(get_pair_map(v, "max_answer_bytes", &p->egress_max_answer_bytes, "max_boxes",
                           &p->egress_max_boxes));
    CCC_GUARD(ccc_cbor_map_get_text(root, "tou", &v));
    CCC_GUARD(get_pair_map(v, "max_body_bytes", &p->tou_max_body_bytes, "rate_per_minute",
                           &p->tou_rate_per_minute));
    CCC_GUARD(ccc_cbor_map_get_text(root, "model_manifests", &v));
    CCC_GUARD(ccc_cbor_get_array(v, &n));
    CCC_ENSURE(n >= 1 && n <= CCC_POLICY_MAX_MANIFESTS, CCC_ERR_LIMIT,
               "policy needs 1 to 8 model manifest hashes");
    ccc_cbor_iter_init(&it, v);
    while ((val = ccc_cbor_iter_next(&it))) {
        ccc_bytes b;
        CCC_GUARD(ccc_cbor_get_bytes(val, &b));
        CCC_ENSURE(b.size == 32, CCC_ERR_PARSE, "model manifest hash must be 32 bytes");
        memcpy(p->manifests[p->manifest_count++], b.ptr, 32);
    }
    CCC_GUARD(ccc_policy_check(p) == CCC_OK ? CCC_OK : CCC_ERR_PARSE);
    return CCC_OK;
}

ccc_status ccc_policy_decode(ccc_bytes payload, ccc_policy *out)
{
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    memset(out, 0, sizeof *out);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_POLICY_MAX_BUNDLE_SIZE;
    lim.max_items = 1024;
    lim.max_depth = 4;
    ccc_status st = ccc_cbor_decode(&doc, payload, &lim, CCC_CBOR_CANONICAL);
    if (st == CCC_OK)
        st = decode_root(ccc_cbor_doc_root(&doc), out);
    ccc_cbor_doc_wipe(&doc);
    if (st != CCC_OK)
        memset(out, 0, sizeof *out);
    return st;
}

ccc_status ccc_policy_sign(const ccc_policy *p, EVP_PKEY *key, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_buf payload;
    ccc_buf_init(&payload, CCC_POLICY_MAX_BUNDLE_SIZE);
    CCC_CHECK(EVP_PKEY_get_id(key) == EVP_PKEY_ED25519, CCC_ERR_USAGE,
              "the policy key must be Ed25519");
    CCC_TRY(ccc_policy_encode(p, &payload));
    ccc_cose_sign1_params params;
    memset(&params, 0, sizeof params);
    params.alg = CCC_COSE_ALG_EDDSA;
    CCC_TRY(ccc_cose_sign1_sign(key, &params, ccc_buf_bytes(&payload), out));
out:
    ccc_buf_wipe(&payload);
    return st;
}

static ccc_status open_bundle(ccc_bytes bundle, EVP_PKEY *pub, ccc_policy *out, uint8_t hash[32])
{
    ccc_status st = CCC_OK;
    ccc_cose_sign1 msg;
    ccc_cose_sign1_init(&msg);
    memset(out, 0, sizeof *out);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_POLICY_MAX_BUNDLE_SIZE;
    lim.max_string_size = CCC_POLICY_MAX_BUNDLE_SIZE;
    CCC_TRY(ccc_cose_sign1_parse(&msg, bundle, &lim));
    CCC_CHECK(msg.alg == CCC_COSE_ALG_EDDSA, CCC_ERR_UNSUPPORTED, "policy bundle alg is not EdDSA");
    CCC_CHECK(!msg.detached, CCC_ERR_PARSE, "policy bundle payload is detached");
    if (pub) {
        CCC_CHECK(EVP_PKEY_get_id(pub) == EVP_PKEY_ED25519, CCC_ERR_USAGE,
                  "the policy key must be Ed25519");
        CCC_TRY(ccc_cose_sign1_verify(&msg, pub, ccc_bytes_of(NULL, 0), NULL));
    }
    CCC_TRY(ccc_policy_decode(msg.payload, out));
    if (hash)
        CCC_TRY(ccc_sha256(msg.payload, hash));
out:
    ccc_cose_sign1_wipe(&msg);
    return st;
}

ccc_status ccc_policy_verify(ccc_bytes bundle, EVP_PKEY *pub, ccc_policy *out, uint8_t hash[32])
{
    CCC_ENSURE(pub, CCC_ERR_USAGE, "verifying a policy needs the policy public key");
    return open_bundle(bundle, pub, out, hash);
}

ccc_status ccc_policy_peek(ccc_bytes bundle, ccc_policy *out)
{
    return open_bundle(bundle, NULL, out, NULL);
}

ccc_status ccc_policy_rollback_check(const char *state_path, uint64_t version,
                                     const uint8_t hash[32])
{
    ccc_status st = CCC_OK;
    ccc_buf state;
    ccc_buf_init(&state, 4096);
    char hex[65], text[160];
    ccc_hex_encode(hash, 32, hex);
    st = ccc_file_read(state_path, &state);
    if (st == CCC_OK) {
        /* "ccc-policy-state 1\nversion N\nsha256 HEX\n" */
        unsigned long long seen = 0;
        char seen_hex[65] = {0};
        CCC_TRY(ccc_buf_u8(&state, 0));
        if (sscanf((const char *)state.data, "ccc-policy-state 1\nversion %llu\nsha256 %64s", &seen,
                   seen_hex) != 2 ||
            strlen(seen_hex) != 64)
            CCC_FAIL(CCC_ERR_PARSE, "policy state file is malformed");
        if (version < seen)
            CCC_FAIL_NUM(CCC_ERR_REPLAY, "policy bundle older than one already accepted, version",
                         seen);
        if (version == seen) {
            if (strcmp(seen_hex, hex) != 0)
                CCC_FAIL(CCC_ERR_REPLAY, "policy bundle with an accepted version but other content");
            goto out; /* the same bundle again */
        }
    } else if (st != CCC_ERR_NOT_FOUND) {
        goto out;
    }
    int n = snprintf(text, sizeof text, "ccc-policy-state 1\nversion %llu\nsha256 %s\n",
                     (unsigned long long)version, hex);
    st = ccc_file_write(state_path, text, (size_t)n);
out:
    ccc_buf_wipe(&state);
    return st;
}

void ccc_policy_to_attest(const ccc_policy *p, ccc_attest_policy *out)
{
    out->sets = p->sets;
    out->set_count = p->set_count;
}

ccc_status ccc_policy_kms_conditions(const ccc_policy *p, ccc_buf *out)
{
    /* AWS KMS condition keys for Nitro Enclaves: kms:RecipientAttestation:
     * PCR0..PCR31 (hex, compared case-insensitively). */
    char line[256], hex[129];
    CCC_GUARD(ccc_buf_append(out, "[\n", 2));
    for (size_t s = 0; s < p->set_count; s++) {
        int n = snprintf(line, sizeof line, "  {\n    \"StringEqualsIgnoreCase\": {\n");
        CCC_GUARD(ccc_buf_append(out, line, (size_t)n));
        for (size_t i = 0; i < p->sets[s].count; i++) {
            ccc_hex_encode(p->sets[s].pcrs[i].value, p->sets[s].pcrs[i].size, hex);
            n = snprintf(line, sizeof line, "      \"kms:RecipientAttestation:PCR%u\": \"%s\"%s\n",
                         (unsigned)p->sets[s].pcrs[i].index, hex,
                         i + 1 < p->sets[s].count ? "," : "");
            CCC_GUARD(ccc_buf_append(out, line, (size_t)n));
        }
        n = snprintf(line, sizeof line, "    }\n  }%s\n", s + 1 < p->set_count ? "," : "");
        CCC_GUARD(ccc_buf_append(out, line, (size_t)n));
    }
    return ccc_buf_append(out, "]\n", 2);
}
