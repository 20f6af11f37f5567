/* x509: chains to a pinned root at a given time, every refusal with its reason. */
#include <openssl/evp.h>

#include "testutil.h"
#include "x509/x509.h"

/* 2030-01-01T00:00:00Z and one year. */
#define T0 1893456000LL
#define YEAR (365LL * 86400)

typedef struct chain_fixture {
    EVP_PKEY *root_key, *int1_key, *int2_key, *leaf_key, *other_key;
    ccc_buf root, int1, int2, leaf;
    ccc_x509_root *pinned;
} chain_fixture;

static void issue(ccc_buf *out, const char *cn, bool ca, int path_len, int64_t nb, int64_t na,
                  EVP_PKEY *subject, EVP_PKEY *issuer_key, const ccc_buf *issuer)
{
    ccc_x509_issue_params p = {cn, 7, nb, na, ca, path_len};
    ccc_buf_init(out, 1u << 16);
    assert_int_equal(ccc_x509_issue(&p, subject, issuer_key,
                                    issuer ? ccc_buf_bytes(issuer) : ccc_bytes_of(NULL, 0), out),
                     CCC_OK);
}

static int setup(void **state)
{
    chain_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(ccc_x509_p384_keygen(&f->root_key), CCC_OK);
    assert_int_equal(ccc_x509_p384_keygen(&f->int1_key), CCC_OK);
    assert_int_equal(ccc_x509_p384_keygen(&f->int2_key), CCC_OK);
    assert_int_equal(ccc_x509_p384_keygen(&f->leaf_key), CCC_OK);
    assert_int_equal(ccc_x509_p384_keygen(&f->other_key), CCC_OK);
    issue(&f->root, "test root", true, -1, T0, T0 + 10 * YEAR, f->root_key, f->root_key, NULL);
    issue(&f->int1, "test int1", true, 1, T0, T0 + 5 * YEAR, f->int1_key, f->root_key, &f->root);
    issue(&f->int2, "test int2", true, 0, T0, T0 + 2 * YEAR, f->int2_key, f->int1_key, &f->int1);
    issue(&f->leaf, "test leaf", false, -1, T0 + 100, T0 + 3 * 3600, f->leaf_key, f->int2_key,
          &f->int2);
    assert_int_equal(ccc_x509_root_new_der(ccc_buf_bytes(&f->root), &f->pinned), CCC_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    chain_fixture *f = *state;
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->int1_key);
    EVP_PKEY_free(f->int2_key);
    EVP_PKEY_free(f->leaf_key);
    EVP_PKEY_free(f->other_key);
    ccc_buf_wipe(&f->root);
    ccc_buf_wipe(&f->int1);
    ccc_buf_wipe(&f->int2);
    ccc_buf_wipe(&f->leaf);
    ccc_x509_root_free(f->pinned);
    free(f);
    return 0;
}

static ccc_x509_error verify(const ccc_x509_root *root, const ccc_buf *leaf,
                             const ccc_buf *const *chain, size_t n, int64_t at)
{
    ccc_bytes c[8];
    for (size_t i = 0; i < n; i++)
        c[i] = ccc_buf_bytes(chain[i]);
    ccc_x509_error why = CCC_X509_E_COUNT;
    EVP_PKEY *key = NULL;
    ccc_status st = ccc_x509_chain_verify(root, ccc_buf_bytes(leaf), c, n, at, &why, &key);
    if (st == CCC_OK) {
        assert_int_equal(why, CCC_X509_E_NONE);
        assert_non_null(key);
        EVP_PKEY_free(key);
    } else {
        assert_int_not_equal(why, CCC_X509_E_NONE);
        assert_null(key);
    }
    return why;
}

static void aws_root_loads_with_known_fingerprint(void **state)
{
    (void)state;
    ccc_buf pem;
    test_read_file(test_path("tests/vectors/nitro/aws-nitro-root-g1.pem"), &pem);
    ccc_x509_root *root = NULL;
    assert_int_equal(ccc_x509_root_new_pem(ccc_buf_bytes(&pem), &root), CCC_OK);
    uint8_t fp[32];
    char hex[65];
    ccc_x509_root_sha256(root, fp);
    ccc_hex_encode(fp, sizeof fp, hex);
    /* SOURCES.md §3: SHA-256 fingerprint of the AWS Nitro root G1. */
    assert_string_equal(hex, "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
    ccc_x509_root_free(root);
    /* Truncated PEM and garbage are refused. */
    assert_int_equal(ccc_x509_root_new_pem(ccc_bytes_of(pem.data, pem.size / 2), &root),
                     CCC_ERR_PARSE);
    assert_null(root);
    assert_int_equal(ccc_x509_root_new_der(ccc_bytes_of("junk", 4), &root), CCC_ERR_PARSE);
    ccc_buf_wipe(&pem);
}

static void good_chain_verifies_in_window_only(void **state)
{
    chain_fixture *f = *state;
    const ccc_buf *with_root[] = {&f->root, &f->int1, &f->int2};
    const ccc_buf *without_root[] = {&f->int1, &f->int2};
    assert_int_equal(verify(f->pinned, &f->leaf, with_root, 3, T0 + 200), CCC_X509_E_NONE);
    assert_int_equal(verify(f->pinned, &f->leaf, without_root, 2, T0 + 200), CCC_X509_E_NONE);
    /* Leaf validity: 3 hours. */
    assert_int_equal(verify(f->pinned, &f->leaf, with_root, 3, T0 + 3 * 3600 + 1),
                     CCC_X509_E_EXPIRED);
    assert_int_equal(verify(f->pinned, &f->leaf, with_root, 3, T0 + 99),
                     CCC_X509_E_NOT_YET_VALID);
    assert_int_equal(verify(f->pinned, &f->leaf, with_root, 3, T0 - YEAR),
                     CCC_X509_E_NOT_YET_VALID);
}

static void wrong_root_missing_or_swapped_intermediates_refused(void **state)
{
    chain_fixture *f = *state;
    ccc_buf other_root;
    issue(&other_root, "test root", true, -1, T0, T0 + 10 * YEAR, f->other_key, f->other_key,
          NULL);
    ccc_x509_root *other = NULL;
    assert_int_equal(ccc_x509_root_new_der(ccc_buf_bytes(&other_root), &other), CCC_OK);
    const ccc_buf *good[] = {&f->root, &f->int1, &f->int2};
    /* Same subject name, different key: the pinned root's signature check fails. */
    ccc_x509_error why = verify(other, &f->leaf, good, 3, T0 + 200);
    assert_true(why == CCC_X509_E_UNTRUSTED_ROOT || why == CCC_X509_E_BAD_SIGNATURE);
    const ccc_buf *missing[] = {&f->root, &f->int2};
    assert_int_equal(verify(f->pinned, &f->leaf, missing, 2, T0 + 200),
                     CCC_X509_E_UNTRUSTED_ROOT);
    assert_int_equal(verify(f->pinned, &f->leaf, NULL, 0, T0 + 200), CCC_X509_E_UNTRUSTED_ROOT);
    const ccc_buf *swapped[] = {&f->root, &f->int2, &f->int1};
    assert_int_equal(verify(f->pinned, &f->leaf, swapped, 3, T0 + 200), CCC_X509_E_CHAIN_ORDER);
    const ccc_buf *extra[] = {&f->root, &f->int1, &f->int2, &f->int2};
    assert_int_equal(verify(f->pinned, &f->leaf, extra, 4, T0 + 200), CCC_X509_E_CHAIN_ORDER);
    /* The leaf listed as its own issuer / the root as the leaf. */
    assert_int_not_equal(verify(f->pinned, &f->root, good, 3, T0 + 200), CCC_X509_E_NONE);
    ccc_x509_root_free(other);
    ccc_buf_wipe(&other_root);
}

static void bad_signature_and_malformed_refused(void **state)
{
    chain_fixture *f = *state;
    const ccc_buf *good[] = {&f->root, &f->int1, &f->int2};
    /* Flip a bit in the last byte of the leaf's signature value. */
    ccc_buf bad;
    ccc_buf_init(&bad, 1u << 16);
    assert_int_equal(ccc_buf_append_bytes(&bad, ccc_buf_bytes(&f->leaf)), CCC_OK);
    bad.data[bad.size - 1] ^= 1;
    ccc_x509_error why = verify(f->pinned, &bad, good, 3, T0 + 200);
    assert_true(why == CCC_X509_E_BAD_SIGNATURE || why == CCC_X509_E_MALFORMED);
    /* Every truncation of the leaf is malformed. */
    for (size_t n = 0; n < f->leaf.size; n += 7) {
        ccc_buf_reset(&bad);
        assert_int_equal(ccc_buf_append(&bad, f->leaf.data, n), CCC_OK);
        assert_int_equal(verify(f->pinned, &bad, good, 3, T0 + 200), CCC_X509_E_MALFORMED);
    }
    /* Trailing bytes after the DER. */
    ccc_buf_reset(&bad);
    assert_int_equal(ccc_buf_append_bytes(&bad, ccc_buf_bytes(&f->leaf)), CCC_OK);
    assert_int_equal(ccc_buf_u8(&bad, 0), CCC_OK);
    assert_int_equal(verify(f->pinned, &bad, good, 3, T0 + 200), CCC_X509_E_MALFORMED);
    /* A leaf signed by a key that is not its issuer's. */
    ccc_buf forged;
    issue(&forged, "test leaf", false, -1, T0, T0 + 3600, f->leaf_key, f->other_key, &f->int2);
    assert_int_equal(verify(f->pinned, &forged, good, 3, T0 + 200), CCC_X509_E_BAD_SIGNATURE);
    ccc_buf_wipe(&forged);
    ccc_buf_wipe(&bad);
}

static void ca_flag_and_path_length_enforced(void **state)
{
    chain_fixture *f = *state;
    /* int2 issued as a non-CA, then used to issue the leaf. */
    ccc_buf notca, leaf2;
    issue(&notca, "test int2", false, -1, T0, T0 + YEAR, f->int2_key, f->int1_key, &f->int1);
    issue(&leaf2, "test leaf", false, -1, T0, T0 + 3600, f->leaf_key, f->int2_key, &notca);
    const ccc_buf *c1[] = {&f->root, &f->int1, &notca};
    assert_int_equal(verify(f->pinned, &leaf2, c1, 3, T0 + 200), CCC_X509_E_NOT_CA);
    /* int2 has pathlen 0: a CA under it may not issue a leaf. */
    ccc_buf int3, leaf3;
    EVP_PKEY *k3 = NULL;
    assert_int_equal(ccc_x509_p384_keygen(&k3), CCC_OK);
    issue(&int3, "test int3", true, -1, T0, T0 + YEAR, k3, f->int2_key, &f->int2);
    issue(&leaf3, "test leaf", false, -1, T0, T0 + 3600, f->leaf_key, k3, &int3);
    const ccc_buf *c2[] = {&f->root, &f->int1, &f->int2, &int3};
    assert_int_equal(verify(f->pinned, &leaf3, c2, 4, T0 + 200), CCC_X509_E_PATH_LENGTH);
    EVP_PKEY_free(k3);
    ccc_buf_wipe(&int3);
    ccc_buf_wipe(&leaf3);
    ccc_buf_wipe(&notca);
    ccc_buf_wipe(&leaf2);
}

static void error_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(ccc_x509_error_name(CCC_X509_E_EXPIRED), "CCC_X509_E_EXPIRED");
    assert_string_equal(ccc_x509_error_name(CCC_X509_E_COUNT), "CCC_X509_E_UNKNOWN");
    for (int e = 0; e < CCC_X509_E_COUNT; e++)
        assert_non_null(ccc_x509_error_name((ccc_x509_error)e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws_root_loads_with_known_fingerprint),
        cmocka_unit_test(good_chain_verifies_in_window_only),
        cmocka_unit_test(wrong_root_missing_or_swapped_intermediates_refused),
        cmocka_unit_test(bad_signature_and_malformed_refused),
        cmocka_unit_test(ca_flag_and_path_length_enforced),
        cmocka_unit_test(error_names_are_stable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
