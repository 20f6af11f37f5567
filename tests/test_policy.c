/* policy: signed bundle round trip, strict decoding, anti-rollback, KMS block. */
#include <unistd.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "cbor/cbor.h"
#include "policy/policy.h"
#include "testutil.h"

#define BLOCKY_PCR0 "e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a"

static EVP_PKEY *ed25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    return k;
}

static void sample(ccc_policy *p)
{
    memset(p, 0, sizeof *p);
    p->version = 3;
    uint8_t v[48];
    size_t n;
    assert_int_equal(ccc_hex_decode(BLOCKY_PCR0, v, sizeof v, &n), CCC_OK);
    assert_int_equal(ccc_attest_pcr_set_add(&p->sets[0], 0, ccc_bytes_of(v, n)), CCC_OK);
    memset(v, 0x11, sizeof v);
    assert_int_equal(ccc_attest_pcr_set_add(&p->sets[1], 2, ccc_bytes_of(v, 48)), CCC_OK);
    assert_int_equal(ccc_attest_pcr_set_add(&p->sets[1], 0, ccc_bytes_of(v, 48)), CCC_OK);
    p->set_count = 2;
    p->egress_max_answer_bytes = 512;
    p->egress_max_boxes = 64;
    p->tou_max_body_bytes = 10u << 20;
    p->tou_rate_per_minute = 60;
    memset(p->manifests[0], 0xab, 32);
    p->manifest_count = 1;
}

static void sign_verify_round_trip(void **state)
{
    (void)state;
    EVP_PKEY *key = ed25519(), *other = ed25519();
    ccc_policy p, got;
    sample(&p);
    ccc_buf a, b;
    ccc_buf_init(&a, 1u << 16);
    ccc_buf_init(&b, 1u << 16);
    /* Deterministic: encoding twice gives the same bytes. */
    assert_int_equal(ccc_policy_encode(&p, &a), CCC_OK);
    assert_int_equal(ccc_policy_encode(&p, &b), CCC_OK);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    assert_int_equal(ccc_policy_decode(ccc_buf_bytes(&a), &got), CCC_OK);
    assert_int_equal(got.version, 3);
    assert_int_equal(got.set_count, 2);
    /* Canonical order: PCR 0 before PCR 2 although added the other way. */
    assert_int_equal(got.sets[1].pcrs[0].index, 0);
    ccc_buf_reset(&a);
    assert_int_equal(ccc_policy_sign(&p, key, &a), CCC_OK);
    uint8_t h1[32], h2[32];
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(&a), key, &got, h1), CCC_OK);
    assert_int_equal(got.egress_max_answer_bytes, 512);
    assert_int_equal(got.tou_rate_per_minute, 60);
    assert_memory_equal(got.manifests[0], p.manifests[0], 32);
    /* The hash is the payload's: the same whatever the signature. */
    ccc_buf_reset(&b);
    assert_int_equal(ccc_policy_sign(&p, key, &b), CCC_OK);
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(&b), key, &got, h2), CCC_OK);
    assert_memory_equal(h1, h2, 32);
    /* Wrong key, every single-byte change. */
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(&a), other, &got, NULL), CCC_ERR_CRYPTO);
    for (size_t i = 0; i < a.size; i++) {
        a.data[i] ^= 0x20;
        assert_int_not_equal(ccc_policy_verify(ccc_buf_bytes(&a), key, &got, NULL), CCC_OK);
        a.data[i] ^= 0x20;
    }
    for (size_t n = 0; n < a.size; n++)
        assert_int_not_equal(ccc_policy_verify(ccc_bytes_of(a.data, n), key, &got, NULL), CCC_OK);
    /* Only Ed25519 policy keys. */
    EVP_PKEY *ec = EVP_EC_gen("P-384");
    assert_non_null(ec);
    ccc_buf_reset(&b);
    assert_int_equal(ccc_policy_sign(&p, ec, &b), CCC_ERR_USAGE);
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(&a), ec, &got, NULL), CCC_ERR_USAGE);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    ccc_buf_wipe(&a);
    ccc_buf_wipe(&b);
}

static void empty_or_zero_policies_are_refused(void **state)
{
    (void)state;
    ccc_policy p;
    ccc_buf out;
    ccc_buf_init(&out, 1u << 16);
    sample(&p);
    p.set_count = 0;
    assert_int_equal(ccc_policy_encode(&p, &out), CCC_ERR_USAGE);
    sample(&p);
    p.sets[1].count = 0;
    assert_int_equal(ccc_policy_encode(&p, &out), CCC_ERR_USAGE);
    sample(&p);
    p.version = 0;
    assert_int_equal(ccc_policy_encode(&p, &out), CCC_ERR_USAGE);
    sample(&p);
    p.tou_rate_per_minute = 0;
    assert_int_equal(ccc_policy_encode(&p, &out), CCC_ERR_USAGE);
    sample(&p);
    p.manifest_count = 0;
    assert_int_equal(ccc_policy_encode(&p, &out), CCC_ERR_USAGE);
    ccc_buf_wipe(&out);
}

static void decoder_refuses_non_canonical_and_extra_keys(void **state)
{
    (void)state;
    ccc_policy p, got;
    sample(&p);
    ccc_buf good, bad;
    ccc_buf_init(&good, 1u << 16);
    ccc_buf_init(&bad, 1u << 16);
    assert_int_equal(ccc_policy_encode(&p, &good), CCC_OK);
    /* Same map with one more key appended (order kept canonical: "zzz"). */
    bad.size = 0;
    assert_int_equal(ccc_buf_append(&bad, good.data, good.size), CCC_OK);
    assert_int_equal(bad.data[0], 0xa6);
    bad.data[0] = 0xa7;
    assert_int_equal(ccc_cbor_put_cstr(&bad, "zzzzzzzzzzzzzzzz"), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(&bad, 1), CCC_OK);
    assert_int_equal(ccc_policy_decode(ccc_buf_bytes(&bad), &got), CCC_ERR_PARSE);
    /* The same six keys and values with the first two pairs swapped: only
     * the canonical key order is wrong. */
    ccc_buf_reset(&bad);
    ccc_cbor_doc d;
    ccc_cbor_doc_init(&d);
    assert_int_equal(ccc_cbor_decode(&d, ccc_buf_bytes(&good), NULL, CCC_CBOR_CANONICAL), CCC_OK);
    const ccc_cbor_item *pairs[6][2];
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, ccc_cbor_doc_root(&d));
    for (int i = 0; i < 6; i++) {
        pairs[i][0] = ccc_cbor_iter_next(&it);
        pairs[i][1] = ccc_cbor_iter_next(&it);
        assert_non_null(pairs[i][1]);
    }
    static const int order[6] = {1, 0, 2, 3, 4, 5};
    assert_int_equal(ccc_cbor_put_map(&bad, 6), CCC_OK);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ccc_cbor_put_raw(&bad, pairs[order[i]][0]->raw), CCC_OK);
        assert_int_equal(ccc_cbor_put_raw(&bad, pairs[order[i]][1]->raw), CCC_OK);
    }
    assert_int_equal(bad.size, good.size);
    assert_int_equal(ccc_policy_decode(ccc_buf_bytes(&bad), &got), CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "map keys not in canonical order");
    ccc_cbor_doc_wipe(&d);
    ccc_buf_reset(&bad);
    assert_int_equal(ccc_cbor_put_map(&bad, 2), CCC_OK);
    assert_int_equal(ccc_cbor_put_cstr(&bad, "version"), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(&bad, 1), CCC_OK);
    assert_int_equal(ccc_cbor_put_cstr(&bad, "format"), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(&bad, 1), CCC_OK);
    assert_int_equal(ccc_policy_decode(ccc_buf_bytes(&bad), &got), CCC_ERR_PARSE);
    ccc_buf_wipe(&good);
    ccc_buf_wipe(&bad);
}

static void rollback_is_refused(void **state)
{
    (void)state;
    char path[] = "/tmp/ccc-test-policy-state-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    uint8_t h1[32], h2[32];
    memset(h1, 1, sizeof h1);
    memset(h2, 2, sizeof h2);
    assert_int_equal(ccc_policy_rollback_check(path, 5, h1), CCC_OK); /* first seen */
    assert_int_equal(ccc_policy_rollback_check(path, 5, h1), CCC_OK); /* same again */
    assert_int_equal(ccc_policy_rollback_check(path, 4, h1), CCC_ERR_REPLAY);
    assert_non_null(strstr(ccc_error_detail(), "older"));
    assert_int_equal(ccc_policy_rollback_check(path, 5, h2), CCC_ERR_REPLAY);
    assert_int_equal(ccc_policy_rollback_check(path, 6, h2), CCC_OK);
    assert_int_equal(ccc_policy_rollback_check(path, 5, h1), CCC_ERR_REPLAY);
    assert_int_equal(ccc_file_write(path, "junk", 4), CCC_OK);
    assert_int_equal(ccc_policy_rollback_check(path, 9, h1), CCC_ERR_PARSE);
    unlink(path);
}

static void kms_conditions_and_json_round_trip(void **state)
{
    (void)state;
    ccc_policy p, back;
    sample(&p);
    ccc_buf out;
    ccc_buf_init(&out, 1u << 16);
    assert_int_equal(ccc_policy_kms_conditions(&p, &out), CCC_OK);
    json_error_t err;
    json_t *arr = json_loadb((const char *)out.data, out.size, 0, &err);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 2);
    json_t *c = json_object_get(json_array_get(arr, 0), "StringEqualsIgnoreCase");
    assert_string_equal(json_string_value(json_object_get(c, "kms:RecipientAttestation:PCR0")),
                        BLOCKY_PCR0);
    json_decref(arr);
    ccc_buf_reset(&out);
    assert_int_equal(ccc_policy_to_json(&p, &out), CCC_OK);
    assert_int_equal(ccc_policy_from_json(ccc_buf_bytes(&out), &back), CCC_OK);
    ccc_buf a, b;
    ccc_buf_init(&a, 1u << 16);
    ccc_buf_init(&b, 1u << 16);
    assert_int_equal(ccc_policy_encode(&p, &a), CCC_OK);
    assert_int_equal(ccc_policy_encode(&back, &b), CCC_OK);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    static const char empty[] =
        "{\"version\":1,\"measurements\":[],\"egress\":{\"max_answer_bytes\":1,\"max_boxes\":1},"
        "\"tou\":{\"max_body_bytes\":1,\"rate_per_minute\":1},\"model_manifests\":[]}";
    assert_int_equal(ccc_policy_from_json(ccc_bytes_of(empty, sizeof empty - 1), &back),
                     CCC_ERR_PARSE);
    ccc_buf_wipe(&a);
    ccc_buf_wipe(&b);
    ccc_buf_wipe(&out);
}

static void policy_drives_the_attestation_verifier(void **state)
{
    (void)state;
    ccc_policy p;
    sample(&p);
    ccc_attest_policy ap;
    memset(&ap, 0, sizeof ap);
    ccc_policy_to_attest(&p, &ap);
    ccc_buf doc;
    test_read_file(test_path("tests/vectors/nitro/attestation-blocky-2024-09-07.cbor"), &doc);
    ccc_x509_root *root = NULL;
    assert_int_equal(ccc_attest_aws_root(&root), CCC_OK);
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), root, &ap, &rep), CCC_OK);
    p.sets[0].pcrs[0].value[0] ^= 1; /* neither set matches now */
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), root, &ap, &rep),
                     CCC_ERR_POLICY);
    assert_int_equal(rep.result, CCC_ATTEST_E_PCR_MISMATCH);
    ccc_x509_root_free(root);
    ccc_buf_wipe(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_verify_round_trip),
        cmocka_unit_test(empty_or_zero_policies_are_refused),
        cmocka_unit_test(decoder_refuses_non_canonical_and_extra_keys),
        cmocka_unit_test(rollback_is_refused),
        cmocka_unit_test(kms_conditions_and_json_round_trip),
        cmocka_unit_test(policy_drives_the_attestation_verifier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
