/*
 * hpke: every X25519 entry of RFC 9180 Appendix A (modes 0-3, AES-128-GCM,
 * ChaCha20-Poly1305, export-only) bit for bit — derived keys, key schedule,
 * each encryption at its sequence number, exports — plus context vs
 * single-shot, tampering and truncation, sequence limits and wiping.
 */
#include <jansson.h>
#include <openssl/evp.h>

#include "hpke/hpke.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Vector helpers                                                            */
/* ------------------------------------------------------------------------ */

typedef struct hexval {
    uint8_t b[512];
    size_t n;
} hexval;

static hexval hx(const json_t *obj, const char *field)
{
    hexval v;
    const char *s = json_string_value(json_object_get(obj, field));
    if (!s)
        fail_msg("vector field %s missing", field);
    assert_int_equal(ccc_hex_decode(s, v.b, sizeof v.b, &v.n), CCC_OK);
    return v;
}

static bool has(const json_t *obj, const char *field)
{
    return json_object_get(obj, field) != NULL;
}

static json_t *load_vectors(void)
{
    json_error_t err;
    json_t *root = json_load_file(test_path("tests/vectors/hpke-rfc9180-appendixA.json"), 0, &err);
    if (!root)
        fail_msg("cannot parse vectors: %s", err.text);
    assert_true(json_is_array(root));
    return root;
}

static int jint(const json_t *obj, const char *field)
{
    return (int)json_integer_value(json_object_get(obj, field));
}

static void expect_equal(const uint8_t *got, const hexval *want, size_t got_size)
{
    assert_int_equal(got_size, want->n);
    assert_memory_equal(got, want->b, want->n);
}

/* Run one X25519 vector entry through the whole API. */
static void check_entry(const json_t *e)
{
    ccc_hpke_suite suite = {(uint16_t)jint(e, "kem_id"), (uint16_t)jint(e, "kdf_id"),
                            (uint16_t)jint(e, "aead_id")};
    ccc_hpke_mode mode = (ccc_hpke_mode)jint(e, "mode");
    bool auth = mode == CCC_HPKE_MODE_AUTH || mode == CCC_HPKE_MODE_AUTH_PSK;
    hexval info = hx(e, "info"), ikm_e = hx(e, "ikmE"), ikm_r = hx(e, "ikmR");
    hexval sk_e = hx(e, "skEm"), pk_e = hx(e, "pkEm"), sk_r = hx(e, "skRm"), pk_r = hx(e, "pkRm");
    hexval enc_want = hx(e, "enc");

    /* DeriveKeyPair (§7.1.3) gives the vectors' keys from their ikm. */
    ccc_hpke_keypair kp_e, kp_r, kp_s;
    assert_int_equal(ccc_hpke_keypair_derive(&kp_e, ccc_bytes_of(ikm_e.b, ikm_e.n)), CCC_OK);
    assert_int_equal(ccc_hpke_keypair_derive(&kp_r, ccc_bytes_of(ikm_r.b, ikm_r.n)), CCC_OK);
    expect_equal(kp_e.sk, &sk_e, 32);
    expect_equal(kp_e.pk, &pk_e, 32);
    expect_equal(kp_r.sk, &sk_r, 32);
    expect_equal(kp_r.pk, &pk_r, 32);
    if (auth) {
        hexval ikm_s = hx(e, "ikmS"), sk_s = hx(e, "skSm"), pk_s = hx(e, "pkSm");
        assert_int_equal(ccc_hpke_keypair_derive(&kp_s, ccc_bytes_of(ikm_s.b, ikm_s.n)), CCC_OK);
        expect_equal(kp_s.sk, &sk_s, 32);
        expect_equal(kp_s.pk, &pk_s, 32);
    }

    hexval psk = {{0}, 0}, psk_id = {{0}, 0};
    if (has(e, "psk")) {
        psk = hx(e, "psk");
        psk_id = hx(e, "psk_id");
    }
    ccc_hpke_trace_insecure trace_s, trace_r;
    ccc_hpke_setup_opts os = {mode,
                              ccc_bytes_of(info.b, info.n),
                              ccc_bytes_of(psk.b, psk.n),
                              ccc_bytes_of(psk_id.b, psk_id.n),
                              auth ? &kp_s : NULL,
                              NULL,
                              &trace_s};
    ccc_hpke_setup_opts orr = os;
    orr.sender_kp = NULL;
    orr.sender_pk = auth ? kp_s.pk : NULL;
    orr.trace = &trace_r;

    ccc_hpke_ctx s, r;
    ccc_hpke_ctx_init(&s);
    ccc_hpke_ctx_init(&r);
    uint8_t enc[32];
    assert_int_equal(ccc_hpke_ctx_setup_sender_derand_insecure(&s, suite, kp_r.pk, &os, &kp_e, enc),
                     CCC_OK);
    expect_equal(enc, &enc_want, 32);
    assert_int_equal(ccc_hpke_ctx_setup_receiver(&r, suite, &kp_r, enc, &orr), CCC_OK);

    /* Key schedule values (§5.1), on both sides. */
    hexval ss = hx(e, "shared_secret"), ksc = hx(e, "key_schedule_context"),
           secret = hx(e, "secret"), key = hx(e, "key"), base_nonce = hx(e, "base_nonce"),
           exp = hx(e, "exporter_secret");
    const ccc_hpke_trace_insecure *traces[2] = {&trace_s, &trace_r};
    const ccc_hpke_ctx *ctxs[2] = {&s, &r};
    for (int i = 0; i < 2; i++) {
        expect_equal(traces[i]->shared_secret, &ss, 32);
        expect_equal(traces[i]->key_schedule_context, &ksc, sizeof traces[i]->key_schedule_context);
        expect_equal(traces[i]->secret, &secret, 32);
        expect_equal(ctxs[i]->key, &key, ccc_hpke_aead_key_size(suite.aead_id));
        if (suite.aead_id != CCC_HPKE_AEAD_EXPORT_ONLY)
            expect_equal(ctxs[i]->base_nonce, &base_nonce, 12);
        else
            assert_int_equal(base_nonce.n, 0);
        expect_equal(ctxs[i]->exporter_secret, &exp, 32);
    }

    /* Every encryption at its sequence number (0, 1, 2, 4, 255, 256). */
    const json_t *encs = json_object_get(e, "encryptions");
    size_t idx;
    const json_t *x;
    uint8_t buf[256], pt_buf[256];
    size_t n;
    json_array_foreach(encs, idx, x)
    {
        uint64_t want_seq = (uint64_t)jint(x, "sequence_number");
        hexval aad = hx(x, "aad"), pt = hx(x, "plaintext"), ct = hx(x, "ciphertext"),
               nonce = hx(x, "nonce");
        /* Advance both contexts with filler messages to the vector's seq. */
        while (s.seq < want_seq) {
            uint8_t filler[8] = {0}, fct[24], fpt[8];
            assert_int_equal(
                ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), filler, 8, fct, sizeof fct, &n),
                CCC_OK);
            assert_int_equal(
                ccc_hpke_ctx_open(&r, ccc_bytes_of(NULL, 0), fct, n, fpt, sizeof fpt, &n), CCC_OK);
        }
        assert_true(s.seq == want_seq && r.seq == want_seq);
        /* ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn). */
        uint8_t nn[12];
        memcpy(nn, s.base_nonce, 12);
        for (int k = 0; k < 8; k++)
            nn[11 - k] ^= (uint8_t)(want_seq >> (8 * k));
        expect_equal(nn, &nonce, 12);
        assert_int_equal(
            ccc_hpke_ctx_seal(&s, ccc_bytes_of(aad.b, aad.n), pt.b, pt.n, buf, sizeof buf, &n),
            CCC_OK);
        expect_equal(buf, &ct, n);
        assert_int_equal(ccc_hpke_ctx_open(&r, ccc_bytes_of(aad.b, aad.n), ct.b, ct.n, pt_buf,
                                           sizeof pt_buf, &n),
                         CCC_OK);
        expect_equal(pt_buf, &pt, n);
        if (want_seq == 0) {
            /* Single-shot Open (§6.1) of the first message gives the same. */
            ccc_hpke_setup_opts o1 = orr;
            o1.trace = NULL;
            assert_int_equal(ccc_hpke_open(suite, &kp_r, enc, &o1, ccc_bytes_of(aad.b, aad.n), ct.b,
                                           ct.n, pt_buf, sizeof pt_buf, &n),
                             CCC_OK);
            expect_equal(pt_buf, &pt, n);
        }
    }

    /* Exports (§5.3) from both contexts. */
    const json_t *exports = json_object_get(e, "exports");
    json_array_foreach(exports, idx, x)
    {
        hexval c = hx(x, "exporter_context"), want = hx(x, "exported_value");
        size_t len = (size_t)jint(x, "L");
        uint8_t out[64];
        assert_true(len <= sizeof out);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(ccc_hpke_ctx_export(ctxs[i], ccc_bytes_of(c.b, c.n), out, len),
                             CCC_OK);
            expect_equal(out, &want, len);
        }
    }

    if (suite.aead_id == CCC_HPKE_AEAD_EXPORT_ONLY) {
        /* Export-only contexts refuse to seal or open. */
        uint8_t p[1] = {0}, c[32];
        assert_int_equal(ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), p, 1, c, sizeof c, &n),
                         CCC_ERR_USAGE);
        assert_int_equal(ccc_hpke_ctx_open(&r, ccc_bytes_of(NULL, 0), c, 17, p, 1, &n),
                         CCC_ERR_USAGE);
    } else {
        /* Single-shot Seal then Open, fresh ephemeral key. */
        ccc_hpke_setup_opts o1 = os, o2 = orr;
        o1.trace = o2.trace = NULL;
        uint8_t enc2[32], msg[40] = "single-shot message for the round trip";
        assert_int_equal(ccc_hpke_seal(suite, kp_r.pk, &o1, ccc_bytes_of("ad", 2), msg, sizeof msg,
                                       enc2, buf, sizeof buf, &n),
                         CCC_OK);
        assert_memory_not_equal(enc2, enc, 32);
        assert_int_equal(ccc_hpke_open(suite, &kp_r, enc2, &o2, ccc_bytes_of("ad", 2), buf, n,
                                       pt_buf, sizeof pt_buf, &n),
                         CCC_OK);
        assert_int_equal(n, sizeof msg);
        assert_memory_equal(pt_buf, msg, sizeof msg);
    }
    ccc_hpke_ctx_wipe(&s);
    ccc_hpke_ctx_wipe(&r);
    ccc_hpke_keypair_wipe(&kp_e);
    ccc_hpke_keypair_wipe(&kp_r);
    ccc_hpke_keypair_wipe(&kp_s);
}

static void rfc9180_all_x25519_vectors(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    size_t i, checked = 0, seen_modes[4] = {0}, seen_aeads = 0;
    json_t *e;
    json_array_foreach(root, i, e)
    {
        if (jint(e, "kem_id") != CCC_HPKE_KEM_X25519_SHA256)
            continue;
        assert_int_equal(jint(e, "kdf_id"), CCC_HPKE_KDF_HKDF_SHA256);
        check_entry(e);
        seen_modes[jint(e, "mode")]++;
        seen_aeads |= jint(e, "aead_id") == CCC_HPKE_AEAD_EXPORT_ONLY         ? 4u
                      : jint(e, "aead_id") == CCC_HPKE_AEAD_CHACHA20_POLY1305 ? 2u
                                                                              : 1u;
        checked++;
    }
    /* 3 AEADs (AES-128-GCM, ChaCha20-Poly1305, export-only) x 4 modes. */
    assert_int_equal(checked, 12);
    for (int m = 0; m < 4; m++)
        assert_int_equal(seen_modes[m], 3);
    assert_int_equal(seen_aeads, 7);
    json_decref(root);
}

/* ------------------------------------------------------------------------ */
/* A base-mode pair for the failure tests                                    */
/* ------------------------------------------------------------------------ */

static const uint8_t test_info[] = "ccc test info";

static void make_pair(uint16_t aead, ccc_hpke_keypair *kp_r, ccc_hpke_ctx *s, ccc_hpke_ctx *r,
                      uint8_t enc[32])
{
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256, aead};
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(test_info, sizeof test_info));
    assert_int_equal(ccc_hpke_keypair_generate(kp_r), CCC_OK);
    ccc_hpke_ctx_init(s);
    ccc_hpke_ctx_init(r);
    assert_int_equal(ccc_hpke_ctx_setup_sender(s, suite, kp_r->pk, &o, enc), CCC_OK);
    assert_int_equal(ccc_hpke_ctx_setup_receiver(r, suite, kp_r, enc, &o), CCC_OK);
}

static void tamper_every_byte_and_truncation_fail(void **state)
{
    (void)state;
    const uint16_t aeads[] = {CCC_HPKE_AEAD_AES_128_GCM, CCC_HPKE_AEAD_AES_256_GCM,
                              CCC_HPKE_AEAD_CHACHA20_POLY1305};
    for (size_t a = 0; a < 3; a++) {
        ccc_hpke_keypair kp;
        ccc_hpke_ctx s, r;
        uint8_t enc[32], msg[48], ct[64], out[64];
        size_t ct_size, n;
        for (size_t i = 0; i < sizeof msg; i++)
            msg[i] = (uint8_t)(i * 7 + 1);
        make_pair(aeads[a], &kp, &s, &r, enc);
        ccc_bytes aad = ccc_bytes_of("aad", 3);
        assert_int_equal(ccc_hpke_ctx_seal(&s, aad, msg, sizeof msg, ct, sizeof ct, &ct_size),
                         CCC_OK);
        assert_int_equal(ct_size, sizeof msg + 16);
        /* Every byte of ciphertext and tag, two different bit flips each. */
        for (size_t i = 0; i < ct_size; i++) {
            for (int f = 0; f < 2; f++) {
                uint8_t bad[64];
                memcpy(bad, ct, ct_size);
                bad[i] ^= f ? 0x80 : 0x01;
                memset(out, 0xAA, sizeof out);
                assert_int_equal(ccc_hpke_ctx_open(&r, aad, bad, ct_size, out, sizeof out, &n),
                                 CCC_ERR_CRYPTO);
                assert_int_equal(n, 0);
                /* Nothing released: the output area is zeroed. */
                assert_true(test_all_zero(out, sizeof msg));
            }
        }
        /* Every truncation. */
        for (size_t len = 0; len < ct_size; len++) {
            ccc_status st = ccc_hpke_ctx_open(&r, aad, ct, len, out, sizeof out, &n);
            assert_int_equal(st, len < 16 ? CCC_ERR_PARSE : CCC_ERR_CRYPTO);
        }
        /* Wrong aad. */
        assert_int_equal(
            ccc_hpke_ctx_open(&r, ccc_bytes_of("aae", 3), ct, ct_size, out, sizeof out, &n),
            CCC_ERR_CRYPTO);
        /* Failures did not advance the sequence: the real message opens. */
        assert_true(r.seq == 0);
        assert_int_equal(ccc_hpke_ctx_open(&r, aad, ct, ct_size, out, sizeof out, &n), CCC_OK);
        assert_memory_equal(out, msg, sizeof msg);
        /* Replaying it at the next sequence number fails. */
        assert_int_equal(ccc_hpke_ctx_open(&r, aad, ct, ct_size, out, sizeof out, &n),
                         CCC_ERR_CRYPTO);

        /* Single-shot: every byte of enc, and a wrong info. */
        ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256, aeads[a]};
        ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(test_info, sizeof test_info));
        uint8_t enc1[32];
        assert_int_equal(
            ccc_hpke_seal(suite, kp.pk, &o, aad, msg, sizeof msg, enc1, ct, sizeof ct, &ct_size),
            CCC_OK);
        for (size_t i = 0; i < 32; i++) {
            for (int f = 0; f < 2; f++) {
                uint8_t bad[32];
                memcpy(bad, enc1, 32);
                bad[i] ^= f ? 0x80 : 0x01;
                assert_int_equal(
                    ccc_hpke_open(suite, &kp, bad, &o, aad, ct, ct_size, out, sizeof out, &n),
                    CCC_ERR_CRYPTO);
            }
        }
        ccc_hpke_setup_opts wrong = ccc_hpke_opts_base(ccc_bytes_of("other", 5));
        assert_int_equal(
            ccc_hpke_open(suite, &kp, enc1, &wrong, aad, ct, ct_size, out, sizeof out, &n),
            CCC_ERR_CRYPTO);
        /* Wrong recipient key. */
        ccc_hpke_keypair other;
        assert_int_equal(ccc_hpke_keypair_generate(&other), CCC_OK);
        assert_int_equal(
            ccc_hpke_open(suite, &other, enc1, &o, aad, ct, ct_size, out, sizeof out, &n),
            CCC_ERR_CRYPTO);
        assert_int_equal(ccc_hpke_open(suite, &kp, enc1, &o, aad, ct, ct_size, out, sizeof out, &n),
                         CCC_OK);
        ccc_hpke_ctx_wipe(&s);
        ccc_hpke_ctx_wipe(&r);
        ccc_hpke_keypair_wipe(&kp);
        ccc_hpke_keypair_wipe(&other);
    }
}

static void in_place_and_buffer_limits(void **state)
{
    (void)state;
    ccc_hpke_keypair kp;
    ccc_hpke_ctx s, r;
    uint8_t enc[32], buf[1000 + 16], copy[1000];
    size_t n;
    make_pair(CCC_HPKE_AEAD_AES_256_GCM, &kp, &s, &r, enc);
    for (size_t i = 0; i < 1000; i++)
        buf[i] = copy[i] = (uint8_t)i;
    /* Output too small: refused, nothing consumed. */
    assert_int_equal(ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), buf, 1000, buf, 1015, &n),
                     CCC_ERR_LIMIT);
    assert_true(s.seq == 0);
    /* In place: out == pt. */
    assert_int_equal(ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), buf, 1000, buf, sizeof buf, &n),
                     CCC_OK);
    assert_int_equal(n, sizeof buf);
    assert_memory_not_equal(buf, copy, 1000);
    assert_int_equal(ccc_hpke_ctx_open(&r, ccc_bytes_of(NULL, 0), buf, n, buf, 999, &n),
                     CCC_ERR_LIMIT);
    assert_int_equal(
        ccc_hpke_ctx_open(&r, ccc_bytes_of(NULL, 0), buf, sizeof buf, buf, sizeof buf, &n), CCC_OK);
    assert_int_equal(n, 1000);
    assert_memory_equal(buf, copy, 1000);
    /* Empty plaintext works. */
    assert_int_equal(ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), NULL, 0, buf, sizeof buf, &n),
                     CCC_OK);
    assert_int_equal(n, 16);
    assert_int_equal(ccc_hpke_ctx_open(&r, ccc_bytes_of(NULL, 0), buf, 16, copy, 0, &n), CCC_OK);
    assert_int_equal(n, 0);
    /* Roles are one-way. */
    assert_int_equal(ccc_hpke_ctx_seal(&r, ccc_bytes_of(NULL, 0), copy, 1, buf, sizeof buf, &n),
                     CCC_ERR_USAGE);
    assert_int_equal(ccc_hpke_ctx_open(&s, ccc_bytes_of(NULL, 0), buf, 16, copy, 16, &n),
                     CCC_ERR_USAGE);
    ccc_hpke_ctx_wipe(&s);
    ccc_hpke_ctx_wipe(&r);
    ccc_hpke_keypair_wipe(&kp);
}

static void sequence_number_limit(void **state)
{
    (void)state;
    ccc_hpke_keypair kp;
    ccc_hpke_ctx s, r;
    uint8_t enc[32], buf[32], p[4] = {1, 2, 3, 4};
    size_t n;
    make_pair(CCC_HPKE_AEAD_CHACHA20_POLY1305, &kp, &s, &r, enc);
    /* §5.2 IncrementSeq: the last usable number works, then the limit. */
    s.seq = UINT64_MAX - 1;
    r.seq = UINT64_MAX - 1;
    assert_int_equal(ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), p, 4, buf, sizeof buf, &n),
                     CCC_OK);
    assert_int_equal(ccc_hpke_ctx_open(&r, ccc_bytes_of(NULL, 0), buf, n, buf, sizeof buf, &n),
                     CCC_OK);
    assert_memory_equal(buf, p, 4);
    assert_int_equal(ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), p, 4, buf, sizeof buf, &n),
                     CCC_ERR_LIMIT);
    assert_int_equal(ccc_hpke_ctx_open(&r, ccc_bytes_of(NULL, 0), buf, 20, buf, sizeof buf, &n),
                     CCC_ERR_LIMIT);
    ccc_hpke_ctx_wipe(&s);
    ccc_hpke_ctx_wipe(&r);
    ccc_hpke_keypair_wipe(&kp);
}

static void bad_inputs_are_refused(void **state)
{
    (void)state;
    ccc_hpke_keypair kp, sender;
    ccc_hpke_ctx ctx;
    uint8_t enc[32], psk[32], short_psk[31];
    memset(psk, 1, sizeof psk);
    memset(short_psk, 1, sizeof short_psk);
    assert_int_equal(ccc_hpke_keypair_generate(&kp), CCC_OK);
    assert_int_equal(ccc_hpke_keypair_generate(&sender), CCC_OK);
    ccc_hpke_ctx_init(&ctx);
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                            CCC_HPKE_AEAD_AES_128_GCM};
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(NULL, 0));
    /* Unsupported suites. */
    ccc_hpke_suite bad = suite;
    bad.kem_id = 0x0010;
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, bad, kp.pk, &o, enc), CCC_ERR_UNSUPPORTED);
    bad = suite;
    bad.kdf_id = 0x0002;
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, bad, kp.pk, &o, enc), CCC_ERR_UNSUPPORTED);
    bad = suite;
    bad.aead_id = 0x0004;
    assert_int_equal(ccc_hpke_ctx_setup_receiver(&ctx, bad, &kp, enc, &o), CCC_ERR_UNSUPPORTED);
    /* VerifyPSKInputs (§5.1). */
    o.psk = ccc_bytes_of(psk, sizeof psk);
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_ERR_USAGE);
    o.psk_id = ccc_bytes_of("id", 2);
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_ERR_USAGE);
    o.mode = CCC_HPKE_MODE_PSK;
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_OK);
    o.psk = ccc_bytes_of(short_psk, sizeof short_psk);
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_ERR_USAGE);
    o.psk = ccc_bytes_of(NULL, 0);
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_ERR_USAGE);
    /* Auth modes need the sender key on the right side. */
    o = ccc_hpke_opts_base(ccc_bytes_of(NULL, 0));
    o.mode = CCC_HPKE_MODE_AUTH;
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_ERR_USAGE);
    o.sender_kp = &sender;
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_OK);
    o.sender_kp = NULL;
    o.sender_pk = sender.pk;
    assert_int_equal(ccc_hpke_ctx_setup_receiver(&ctx, suite, &kp, enc, &o), CCC_OK);
    /* A wrong sender public key in auth mode is a different context. */
    ccc_hpke_ctx s2, r2;
    ccc_hpke_ctx_init(&s2);
    ccc_hpke_ctx_init(&r2);
    o.sender_kp = &sender;
    o.sender_pk = NULL;
    assert_int_equal(ccc_hpke_ctx_setup_sender(&s2, suite, kp.pk, &o, enc), CCC_OK);
    o.sender_kp = NULL;
    o.sender_pk = kp.pk; /* not the sender */
    assert_int_equal(ccc_hpke_ctx_setup_receiver(&r2, suite, &kp, enc, &o), CCC_OK);
    uint8_t ct[32], pt[16];
    size_t n;
    assert_int_equal(ccc_hpke_ctx_seal(&s2, ccc_bytes_of(NULL, 0), psk, 8, ct, sizeof ct, &n),
                     CCC_OK);
    assert_int_equal(ccc_hpke_ctx_open(&r2, ccc_bytes_of(NULL, 0), ct, n, pt, sizeof pt, &n),
                     CCC_ERR_CRYPTO);
    /* Oversized info. */
    static uint8_t big[CCC_HPKE_MAX_LABEL_INPUT + 1];
    o = ccc_hpke_opts_base(ccc_bytes_of(big, sizeof big));
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_ERR_LIMIT);
    /* DeriveKeyPair wants >= Nsk bytes of ikm; export length is capped. */
    ccc_hpke_keypair d;
    assert_int_equal(ccc_hpke_keypair_derive(&d, ccc_bytes_of(psk, 31)), CCC_ERR_USAGE);
    o = ccc_hpke_opts_base(ccc_bytes_of(NULL, 0));
    assert_int_equal(ccc_hpke_ctx_setup_sender(&ctx, suite, kp.pk, &o, enc), CCC_OK);
    assert_int_equal(ccc_hpke_ctx_export(&ctx, ccc_bytes_of(NULL, 0), big, 255 * 32 + 1),
                     CCC_ERR_USAGE);
    assert_int_equal(ccc_hpke_ctx_export(&ctx, ccc_bytes_of(NULL, 0), big, 0), CCC_ERR_USAGE);
    ccc_hpke_ctx_wipe(&ctx);
    ccc_hpke_ctx_wipe(&s2);
    ccc_hpke_ctx_wipe(&r2);
    ccc_hpke_keypair_wipe(&kp);
    ccc_hpke_keypair_wipe(&sender);
}

/* ------------------------------------------------------------------------ */
/* Wiping                                                                    */
/* ------------------------------------------------------------------------ */

static void wipe_zeroes_every_byte(void **state)
{
    (void)state;
    ccc_hpke_keypair kp;
    ccc_hpke_ctx s, r;
    uint8_t enc[32];
    make_pair(CCC_HPKE_AEAD_AES_256_GCM, &kp, &s, &r, enc);
    assert_false(test_all_zero(s.key, sizeof s.key));
    assert_false(test_all_zero(r.exporter_secret, sizeof r.exporter_secret));
    ccc_hpke_ctx_wipe(&s);
    ccc_hpke_ctx_wipe(&r);
    /* Every byte of the struct (key, nonce, exporter secret, padding). */
    assert_true(test_all_zero(&s, sizeof s));
    assert_true(test_all_zero(&r, sizeof r));
    ccc_hpke_keypair_wipe(&kp);
    assert_true(test_all_zero(&kp, sizeof kp));
    /* Wiping twice (or a never-used context) is fine. */
    ccc_hpke_ctx_wipe(&s);
    ccc_hpke_ctx_wipe(NULL);
}

static void failed_setup_leaves_context_zero(void **state)
{
    (void)state;
    ccc_hpke_keypair kp;
    ccc_hpke_ctx s, r;
    uint8_t enc[32];
    size_t n;
    make_pair(CCC_HPKE_AEAD_CHACHA20_POLY1305, &kp, &s, &r, enc);
    /* Receiver re-setup with a low-order point (all-zero DH): CRYPTO, and
     * the context that held keys before is zero afterwards. */
    uint8_t zero_enc[32] = {0};
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(NULL, 0));
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                            CCC_HPKE_AEAD_CHACHA20_POLY1305};
    assert_int_equal(ccc_hpke_ctx_setup_receiver(&r, suite, &kp, zero_enc, &o), CCC_ERR_CRYPTO);
    assert_true(test_all_zero(&r, sizeof r));
    /* Sender to a low-order public key: same. */
    assert_int_equal(ccc_hpke_ctx_setup_sender(&s, suite, zero_enc, &o, enc), CCC_ERR_CRYPTO);
    assert_true(test_all_zero(&s, sizeof s));
    /* A wiped context refuses to work. */
    uint8_t buf[32];
    assert_int_equal(ccc_hpke_ctx_seal(&s, ccc_bytes_of(NULL, 0), buf, 1, buf, sizeof buf, &n),
                     CCC_ERR_USAGE);
    assert_int_equal(ccc_hpke_ctx_export(&s, ccc_bytes_of(NULL, 0), buf, 32), CCC_ERR_USAGE);
    /* Failed setup on bad options: also zero. */
    make_pair(CCC_HPKE_AEAD_AES_128_GCM, &kp, &s, &r, enc);
    o.mode = CCC_HPKE_MODE_PSK;
    assert_int_equal(ccc_hpke_ctx_setup_receiver(&r, suite, &kp, enc, &o), CCC_ERR_USAGE);
    assert_true(test_all_zero(&r, sizeof r));
    ccc_hpke_ctx_wipe(&s);
    ccc_hpke_keypair_wipe(&kp);
}

#ifndef CCC_SANITIZED
/*
 * Intermediate secrets of the KEM and key schedule (DH output, shared secret,
 * "secret") must not survive on the stack after setup returns. Run a setup,
 * then scan the stack area that its frames used for those values. Only in
 * unsanitised builds (ASan moves frames to a fake stack).
 */
#define SCAN_SIZE (48 * 1024)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static bool __attribute__((noinline)) stack_contains(const uint8_t *needle, size_t n)
{
    volatile uint8_t area[SCAN_SIZE];
    /* Read only; the area is whatever the previous call left there. */
    for (size_t i = 0; i + n <= SCAN_SIZE; i++) {
        size_t k = 0;
        while (k < n && area[i + k] == needle[k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}
#pragma GCC diagnostic pop

static void __attribute__((noinline))
run_setup(ccc_hpke_ctx *ctx, const ccc_hpke_keypair *kp_r, const ccc_hpke_keypair *eph,
          ccc_hpke_trace_insecure *trace, uint8_t dh[32], ccc_status *st, const uint8_t *bad_enc)
{
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                            CCC_HPKE_AEAD_AES_256_GCM};
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(test_info, sizeof test_info));
    o.trace = trace;
    uint8_t enc[32];
    (void)dh;
    if (bad_enc)
        *st = ccc_hpke_ctx_setup_receiver(ctx, suite, kp_r, bad_enc, &o);
    else
        *st = ccc_hpke_ctx_setup_sender_derand_insecure(ctx, suite, kp_r->pk, &o, eph, enc);
}

/* Zero the stack area the scan looks at, so only the next call's leftovers count. */
static void __attribute__((noinline)) scrub_stack(void)
{
    volatile uint8_t area[SCAN_SIZE + 4096];
    for (size_t i = 0; i < sizeof area; i++)
        area[i] = 0;
}

/* Positive control: a function that leaves a secret on its stack. */
static void __attribute__((noinline)) leave_on_stack(const uint8_t v[32])
{
    volatile uint8_t copy[32];
    for (size_t i = 0; i < 32; i++)
        copy[i] = v[i];
    __asm__ volatile("" : : "r"(copy) : "memory");
}

static void key_schedule_intermediates_are_cleansed(void **state)
{
    (void)state;
    ccc_hpke_keypair kp_r, eph;
    ccc_hpke_ctx ctx;
    ccc_hpke_trace_insecure trace;
    ccc_status st;
    assert_int_equal(ccc_hpke_keypair_generate(&kp_r), CCC_OK);
    assert_int_equal(ccc_hpke_keypair_generate(&eph), CCC_OK);
    ccc_hpke_ctx_init(&ctx);
    /* The raw DH value, computed independently with EVP. */
    uint8_t dh[32];
    size_t dh_len = 32;
    EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, eph.sk, 32);
    EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, kp_r.pk, 32);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(a, NULL);
    assert_int_equal(EVP_PKEY_derive_init(pc), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(pc, b), 1);
    assert_int_equal(EVP_PKEY_derive(pc, dh, &dh_len), 1);
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);

    scrub_stack();
    run_setup(&ctx, &kp_r, &eph, &trace, dh, &st, NULL);
    assert_int_equal(st, CCC_OK);
    assert_false(stack_contains(dh, 32));
    scrub_stack();
    run_setup(&ctx, &kp_r, &eph, &trace, dh, &st, NULL);
    assert_false(stack_contains(trace.shared_secret, 32));
    scrub_stack();
    run_setup(&ctx, &kp_r, &eph, &trace, dh, &st, NULL);
    assert_false(stack_contains(trace.secret, 32));
    /* The receiver side, and a failing setup (low-order enc). */
    uint8_t zero_enc[32] = {0};
    scrub_stack();
    run_setup(&ctx, &kp_r, &eph, &trace, dh, &st, eph.pk);
    assert_int_equal(st, CCC_OK);
    assert_false(stack_contains(dh, 32));
    assert_false(stack_contains(trace.shared_secret, 32));
    scrub_stack();
    run_setup(&ctx, &kp_r, &eph, &trace, dh, &st, zero_enc);
    assert_int_equal(st, CCC_ERR_CRYPTO);
    assert_false(stack_contains(trace.secret, 32));
    /* The scanner can fail: a value left on purpose is found. */
    scrub_stack();
    leave_on_stack(trace.secret);
    assert_true(stack_contains(trace.secret, 32));
    ccc_hpke_ctx_wipe(&ctx);
    ccc_hpke_keypair_wipe(&kp_r);
    ccc_hpke_keypair_wipe(&eph);
    OPENSSL_cleanse(dh, sizeof dh);
    OPENSSL_cleanse(&trace, sizeof trace);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc9180_all_x25519_vectors),
        cmocka_unit_test(tamper_every_byte_and_truncation_fail),
        cmocka_unit_test(in_place_and_buffer_limits),
        cmocka_unit_test(sequence_number_limit),
        cmocka_unit_test(bad_inputs_are_refused),
        cmocka_unit_test(wipe_zeroes_every_byte),
        cmocka_unit_test(failed_setup_leaves_context_zero),
#ifndef CCC_SANITIZED
        cmocka_unit_test(key_schedule_intermediates_are_cleansed),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
