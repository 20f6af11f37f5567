/*
 * ohttp: the RFC 9458 Appendix A example byte for byte in both directions,
 * key configs (round trip, malformed, lists), tampering and truncation of
 * requests and responses, wrong key ids and suites, buffers and wiping.
 */
#include <ctype.h>

#include "ohttp/ohttp.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* The RFC 9458 example                                                      */
/* ------------------------------------------------------------------------ */

typedef struct hexval {
    uint8_t b[256];
    size_t n;
} hexval;

/* The first all-hex line after the line that starts with `label`. */
static hexval vec(const char *label)
{
    ccc_buf file;
    test_read_file(test_path("tests/vectors/ohttp-rfc9458.txt"), &file);
    assert_int_equal(ccc_buf_append(&file, "\0", 1), CCC_OK);
    const char *text = (const char *)file.data;
    const char *p = strstr(text, label);
    if (!p)
        fail_msg("label %s not in the OHTTP vector file", label);
    hexval v = {{0}, 0};
    bool found = false;
    for (p = strchr(p, '\n'); p && *p && !found; p = strchr(p + 1, '\n')) {
        const char *line = p + 1;
        size_t len = strcspn(line, "\n");
        size_t k = 0;
        while (k < len && isxdigit((unsigned char)line[k]))
            k++;
        if (len > 0 && k == len) {
            char hex[600];
            assert_true(len < sizeof hex);
            memcpy(hex, line, len);
            hex[len] = 0;
            assert_int_equal(ccc_hex_decode(hex, v.b, sizeof v.b, &v.n), CCC_OK);
            found = true;
        }
    }
    assert_true(found);
    ccc_buf_wipe(&file);
    return v;
}

typedef struct example {
    hexval sk_r, config, pk_r, request, sk_e, enc, enc_request, response, exported, response_nonce,
        prk, aead_key, aead_nonce, enc_response;
} example;

static example load_example(void)
{
    example e;
    e.sk_r = vec("Gateway X25519 secret key");
    e.config = vec("Key configuration");
    e.pk_r = vec("Gateway public key pkR");
    e.request = vec("Request, Binary HTTP");
    e.sk_e = vec("Client ephemeral secret key");
    e.enc = vec("Client ephemeral public key");
    e.enc_request = vec("Encapsulated Request");
    e.response = vec("Response, Binary HTTP");
    e.exported = vec("Exported secret");
    e.response_nonce = vec("Response nonce");
    e.prk = vec("PRK = ");
    e.aead_key = vec("aead_key = ");
    e.aead_nonce = vec("aead_nonce = ");
    e.enc_response = vec("Encapsulated Response (");
    /* Sizes follow from the format (the file's prose says 78 and 38 bytes,
     * copied from the RFC's HTTP framing; the hex itself is 80 and 35). */
    assert_int_equal(e.enc_request.n, CCC_OHTTP_REQUEST_OVERHEAD + e.request.n);
    assert_int_equal(e.enc_response.n, 16 + e.response.n + 16);
    return e;
}

/* The example's key config, decoded (the whole input must be one config). */
static void example_config(const example *e, ccc_ohttp_key_config *cfg)
{
    ccc_reader r;
    ccc_reader_init(&r, e->config.b, e->config.n);
    assert_int_equal(ccc_ohttp_key_config_decode(&r, cfg), CCC_OK);
    assert_int_equal(ccc_reader_expect_done(&r), CCC_OK);
}

static void gateway_from_example(const example *e, ccc_ohttp_gateway_key *gk)
{
    ccc_hpke_keypair kp;
    assert_int_equal(ccc_hpke_keypair_from_private(&kp, e->sk_r.b), CCC_OK);
    assert_memory_equal(kp.pk, e->pk_r.b, 32);
    ccc_ohttp_key_config cfg;
    example_config(e, &cfg);
    assert_int_equal(ccc_ohttp_gateway_key_init(gk, cfg.key_id, &kp, cfg.algs, cfg.alg_count),
                     CCC_OK);
    ccc_hpke_keypair_wipe(&kp);
}

static void rfc9458_example_client_side(void **state)
{
    (void)state;
    example e = load_example();
    /* Key config: decode, check fields, re-encode to the same bytes. */
    ccc_ohttp_key_config cfg;
    example_config(&e, &cfg);
    assert_int_equal(cfg.key_id, 1);
    assert_int_equal(cfg.kem_id, CCC_HPKE_KEM_X25519_SHA256);
    assert_memory_equal(cfg.public_key, e.pk_r.b, 32);
    assert_int_equal(cfg.alg_count, 2);
    assert_int_equal(cfg.algs[0].aead_id, CCC_HPKE_AEAD_AES_128_GCM);
    assert_int_equal(cfg.algs[1].aead_id, CCC_HPKE_AEAD_CHACHA20_POLY1305);
    ccc_buf enc_cfg;
    ccc_buf_init(&enc_cfg, 1024);
    assert_int_equal(ccc_ohttp_key_config_encode(&cfg, &enc_cfg), CCC_OK);
    assert_int_equal(enc_cfg.size, e.config.n);
    assert_memory_equal(enc_cfg.data, e.config.b, e.config.n);
    ccc_buf_wipe(&enc_cfg);

    /* The example uses the first pair: HKDF-SHA256, AES-128-GCM. */
    ccc_hpke_suite suite;
    assert_int_equal(ccc_ohttp_key_config_choose(&cfg, 0, &suite), CCC_OK);
    assert_int_equal(suite.aead_id, CCC_HPKE_AEAD_AES_128_GCM);

    /* Request with the example's ephemeral key: the same 78 bytes. */
    ccc_hpke_keypair eph;
    assert_int_equal(ccc_hpke_keypair_from_private(&eph, e.sk_e.b), CCC_OK);
    assert_memory_equal(eph.pk, e.enc.b, 32);
    ccc_ohttp_ctx client;
    ccc_ohttp_ctx_init(&client);
    uint8_t out[256];
    size_t n;
    assert_int_equal(ccc_ohttp_request_encapsulate_derand_insecure(
                         &client, &cfg, suite, &eph, e.request.b, e.request.n, out, sizeof out, &n),
                     CCC_OK);
    assert_int_equal(n, e.enc_request.n);
    assert_memory_equal(out, e.enc_request.b, n);

    /* Exported secret and the response key derivation (§4.4). */
    uint8_t secret[16], salt[48], prk[32], key[16], nonce[12];
    assert_int_equal(
        ccc_hpke_ctx_export(&client.hpke, ccc_bytes_of("message/bhttp response", 22), secret, 16),
        CCC_OK);
    assert_memory_equal(secret, e.exported.b, 16);
    memcpy(salt, e.enc.b, 32);
    memcpy(salt + 32, e.response_nonce.b, 16);
    assert_int_equal(ccc_hpke_kdf_extract(1, ccc_bytes_of(salt, 48), ccc_bytes_of(secret, 16), prk),
                     CCC_OK);
    assert_memory_equal(prk, e.prk.b, 32);
    assert_int_equal(ccc_hpke_kdf_expand(1, prk, ccc_bytes_of("key", 3), key, 16), CCC_OK);
    assert_memory_equal(key, e.aead_key.b, 16);
    assert_int_equal(ccc_hpke_kdf_expand(1, prk, ccc_bytes_of("nonce", 5), nonce, 12), CCC_OK);
    assert_memory_equal(nonce, e.aead_nonce.b, 12);

    /* The example's encapsulated response decapsulates to 0140c8. */
    assert_int_equal(ccc_ohttp_response_decapsulate(&client, e.enc_response.b, e.enc_response.n,
                                                    out, sizeof out, &n),
                     CCC_OK);
    assert_int_equal(n, e.response.n);
    assert_memory_equal(out, e.response.b, n);
    /* Done: the request's secrets are already gone, a second response is refused. */
    assert_int_equal(client.state, CCC_OHTTP_DONE);
    assert_int_equal(ccc_ohttp_response_decapsulate(&client, e.enc_response.b, e.enc_response.n,
                                                    out, sizeof out, &n),
                     CCC_ERR_USAGE);
    ccc_ohttp_ctx_wipe(&client);
    ccc_hpke_keypair_wipe(&eph);
}

static void rfc9458_example_gateway_side(void **state)
{
    (void)state;
    example e = load_example();
    ccc_ohttp_gateway_key gk;
    gateway_from_example(&e, &gk);
    ccc_ohttp_ctx gw;
    ccc_ohttp_ctx_init(&gw);
    uint8_t out[256];
    size_t n;
    assert_int_equal(ccc_ohttp_request_decapsulate(&gw, &gk, 1, e.enc_request.b, e.enc_request.n,
                                                   out, sizeof out, &n),
                     CCC_OK);
    assert_int_equal(n, e.request.n);
    assert_memory_equal(out, e.request.b, n);
    assert_int_equal(gw.key_id, 1);
    /* Response with the example's nonce: the same 38 bytes. */
    assert_int_equal(ccc_ohttp_response_encapsulate_derand_insecure(
                         &gw, e.response_nonce.b, e.response_nonce.n, e.response.b, e.response.n,
                         out, sizeof out, &n),
                     CCC_OK);
    assert_int_equal(n, e.enc_response.n);
    assert_memory_equal(out, e.enc_response.b, n);
    /* One response per request. */
    assert_int_equal(
        ccc_ohttp_response_encapsulate(&gw, e.response.b, e.response.n, out, sizeof out, &n),
        CCC_ERR_USAGE);
    ccc_ohttp_ctx_wipe(&gw);
    assert_int_equal(gw.state, CCC_OHTTP_EMPTY);
    ccc_ohttp_gateway_key_wipe(&gk);
}

static void request_tampering_and_truncation_fail(void **state)
{
    (void)state;
    example e = load_example();
    ccc_ohttp_gateway_key gk;
    gateway_from_example(&e, &gk);
    uint8_t bad[128], out[128];
    size_t n;
    for (size_t i = 0; i < e.enc_request.n; i++) {
        for (int f = 0; f < 2; f++) {
            memcpy(bad, e.enc_request.b, e.enc_request.n);
            bad[i] ^= f ? 0x80 : 0x01;
            ccc_ohttp_ctx gw;
            ccc_ohttp_ctx_init(&gw);
            memset(out, 0xAA, sizeof out);
            ccc_status st = ccc_ohttp_request_decapsulate(&gw, &gk, 1, bad, e.enc_request.n, out,
                                                          sizeof out, &n);
            if (i == 0)
                assert_int_equal(st, CCC_ERR_NOT_FOUND); /* key id */
            else if (i < 3)
                assert_int_equal(st, CCC_ERR_UNSUPPORTED); /* KEM */
            else if (i < 7)
                /* KDF/AEAD: unsupported, or a suite the key offers (0x0003)
                 * that then fails to authenticate the header change. */
                assert_true(st == CCC_ERR_UNSUPPORTED || st == CCC_ERR_CRYPTO);
            else
                assert_int_equal(st, CCC_ERR_CRYPTO); /* enc, ciphertext, tag */
            assert_int_equal(n, 0);
            if (st == CCC_ERR_CRYPTO)
                assert_true(test_all_zero(out, e.enc_request.n - CCC_OHTTP_REQUEST_OVERHEAD));
            /* A failed decapsulation leaves nothing in the context. */
            assert_true(test_all_zero(&gw, sizeof gw));
        }
    }
    /* Every truncation. */
    for (size_t len = 0; len < e.enc_request.n; len++) {
        ccc_ohttp_ctx gw;
        ccc_ohttp_ctx_init(&gw);
        ccc_status st =
            ccc_ohttp_request_decapsulate(&gw, &gk, 1, e.enc_request.b, len, out, sizeof out, &n);
        assert_int_equal(st, len < CCC_OHTTP_REQUEST_OVERHEAD ? CCC_ERR_PARSE : CCC_ERR_CRYPTO);
        ccc_ohttp_ctx_wipe(&gw);
    }
    /* One byte appended. */
    memcpy(bad, e.enc_request.b, e.enc_request.n);
    bad[e.enc_request.n] = 0;
    ccc_ohttp_ctx gw;
    ccc_ohttp_ctx_init(&gw);
    assert_int_equal(
        ccc_ohttp_request_decapsulate(&gw, &gk, 1, bad, e.enc_request.n + 1, out, sizeof out, &n),
        CCC_ERR_CRYPTO);
    /* Output buffer too small. */
    assert_int_equal(ccc_ohttp_request_decapsulate(&gw, &gk, 1, e.enc_request.b, e.enc_request.n,
                                                   out, e.request.n - 1, &n),
                     CCC_ERR_LIMIT);
    ccc_ohttp_gateway_key_wipe(&gk);
}

static void response_tampering_and_truncation_fail(void **state)
{
    (void)state;
    example e = load_example();
    ccc_ohttp_key_config cfg;
    example_config(&e, &cfg);
    ccc_hpke_keypair eph;
    assert_int_equal(ccc_hpke_keypair_from_private(&eph, e.sk_e.b), CCC_OK);
    ccc_hpke_suite suite = {0x20, 1, 1};
    ccc_ohttp_ctx client;
    ccc_ohttp_ctx_init(&client);
    uint8_t out[128], bad[64];
    size_t n;
    assert_int_equal(ccc_ohttp_request_encapsulate_derand_insecure(
                         &client, &cfg, suite, &eph, e.request.b, e.request.n, out, sizeof out, &n),
                     CCC_OK);
    for (size_t i = 0; i < e.enc_response.n; i++) {
        for (int f = 0; f < 2; f++) {
            memcpy(bad, e.enc_response.b, e.enc_response.n);
            bad[i] ^= f ? 0x80 : 0x01;
            memset(out, 0xAA, sizeof out);
            assert_int_equal(
                ccc_ohttp_response_decapsulate(&client, bad, e.enc_response.n, out, sizeof out, &n),
                CCC_ERR_CRYPTO);
            assert_true(test_all_zero(out, e.response.n));
        }
    }
    for (size_t len = 0; len < e.enc_response.n; len++)
        assert_int_equal(
            ccc_ohttp_response_decapsulate(&client, e.enc_response.b, len, out, sizeof out, &n),
            len < 32 ? CCC_ERR_PARSE : CCC_ERR_CRYPTO);
    /* None of that consumed the exchange: the genuine response still opens. */
    assert_int_equal(client.state, CCC_OHTTP_CLIENT_SENT);
    assert_int_equal(ccc_ohttp_response_decapsulate(&client, e.enc_response.b, e.enc_response.n,
                                                    out, sizeof out, &n),
                     CCC_OK);
    assert_memory_equal(out, e.response.b, e.response.n);
    ccc_ohttp_ctx_wipe(&client);
    ccc_hpke_keypair_wipe(&eph);
}

/* ------------------------------------------------------------------------ */
/* Round trips, suites, key ids                                              */
/* ------------------------------------------------------------------------ */

static const ccc_ohttp_symmetric_alg all_algs[] = {
    {CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_AES_128_GCM},
    {CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_AES_256_GCM},
    {CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_CHACHA20_POLY1305},
};

static void round_trip_every_aead_in_place(void **state)
{
    (void)state;
    ccc_hpke_keypair kp;
    assert_int_equal(ccc_hpke_keypair_generate(&kp), CCC_OK);
    ccc_ohttp_gateway_key keys[2];
    assert_int_equal(ccc_ohttp_gateway_key_init(&keys[0], 7, &kp, all_algs, 1), CCC_OK);
    assert_int_equal(ccc_ohttp_gateway_key_init(&keys[1], 9, &kp, all_algs, 3), CCC_OK);
    const size_t size = 1 << 20;
    uint8_t *req = malloc(size), *wire = malloc(size + 100), *got = malloc(size + 100);
    assert_non_null(req);
    assert_non_null(wire);
    assert_non_null(got);
    for (size_t i = 0; i < size; i++)
        req[i] = (uint8_t)(i * 31 + 7);
    for (size_t a = 0; a < 3; a++) {
        ccc_hpke_suite suite;
        assert_int_equal(ccc_ohttp_key_config_choose(&keys[1].config, all_algs[a].aead_id, &suite),
                         CCC_OK);
        assert_int_equal(suite.aead_id, all_algs[a].aead_id);
        ccc_ohttp_ctx client, gw;
        ccc_ohttp_ctx_init(&client);
        ccc_ohttp_ctx_init(&gw);
        size_t n, m;
        /* In place: the request already sits at its final position. */
        memcpy(wire + CCC_OHTTP_REQUEST_PREFIX_SIZE, req, size);
        assert_int_equal(ccc_ohttp_request_encapsulate(&client, &keys[1].config, suite,
                                                       wire + CCC_OHTTP_REQUEST_PREFIX_SIZE, size,
                                                       wire, size + CCC_OHTTP_REQUEST_OVERHEAD, &n),
                         CCC_OK);
        assert_int_equal(n, size + CCC_OHTTP_REQUEST_OVERHEAD);
        assert_int_equal(wire[0], 9);
        assert_int_equal(ccc_ohttp_request_decapsulate(&gw, keys, 2, wire, n, got, size, &m),
                         CCC_OK);
        assert_int_equal(m, size);
        assert_memory_equal(got, req, size);
        /* The gateway can decrypt in place too (same request, fresh context). */
        ccc_ohttp_ctx gw2;
        ccc_ohttp_ctx_init(&gw2);
        assert_int_equal(ccc_ohttp_request_decapsulate(&gw2, keys, 2, wire, n,
                                                       wire + CCC_OHTTP_REQUEST_PREFIX_SIZE, size,
                                                       &m),
                         CCC_OK);
        assert_memory_equal(wire + CCC_OHTTP_REQUEST_PREFIX_SIZE, req, size);
        ccc_ohttp_ctx_wipe(&gw2);
        uint8_t answer[] = "{\"cats\":1}", resp[128], back[64];
        size_t overhead = ccc_ohttp_response_overhead(suite.aead_id);
        assert_int_equal(overhead, (a == 0 ? 16u : 32u) + 16u);
        assert_int_equal(ccc_ohttp_response_encapsulate(&gw, answer, sizeof answer, resp,
                                                        sizeof answer + overhead - 1, &n),
                         CCC_ERR_LIMIT);
        assert_int_equal(
            ccc_ohttp_response_encapsulate(&gw, answer, sizeof answer, resp, sizeof resp, &n),
            CCC_OK);
        assert_int_equal(n, sizeof answer + overhead);
        /* The gateway dropped the request's secrets once it answered. */
        assert_true(test_all_zero(&gw.hpke, sizeof gw.hpke));
        assert_int_equal(ccc_ohttp_response_decapsulate(&client, resp, n, back, sizeof back, &m),
                         CCC_OK);
        assert_int_equal(m, sizeof answer);
        assert_memory_equal(back, answer, m);
        assert_true(test_all_zero(&client.hpke, sizeof client.hpke));
        ccc_ohttp_ctx_wipe(&client);
        ccc_ohttp_ctx_wipe(&gw);
        assert_true(test_all_zero(&client, sizeof client));
        assert_true(test_all_zero(&gw, sizeof gw));
    }
    free(req);
    free(wire);
    free(got);
    ccc_ohttp_gateway_key_wipe(&keys[0]);
    ccc_ohttp_gateway_key_wipe(&keys[1]);
    assert_true(test_all_zero(&keys[0], sizeof keys[0]));
    ccc_hpke_keypair_wipe(&kp);
}

static void wrong_key_id_and_wrong_suite(void **state)
{
    (void)state;
    ccc_hpke_keypair kp, other;
    assert_int_equal(ccc_hpke_keypair_generate(&kp), CCC_OK);
    assert_int_equal(ccc_hpke_keypair_generate(&other), CCC_OK);
    ccc_ohttp_gateway_key gk_all, gk_aes128, gk_other;
    assert_int_equal(ccc_ohttp_gateway_key_init(&gk_all, 1, &kp, all_algs, 3), CCC_OK);
    assert_int_equal(ccc_ohttp_gateway_key_init(&gk_aes128, 1, &kp, all_algs, 1), CCC_OK);
    assert_int_equal(ccc_ohttp_gateway_key_init(&gk_other, 1, &other, all_algs, 3), CCC_OK);
    ccc_ohttp_ctx c, g;
    uint8_t wire[128], out[128], msg[16] = "photo bytes";
    size_t n, m;
    ccc_hpke_suite s256 = {0x20, 1, CCC_HPKE_AEAD_AES_256_GCM};

    /* The client refuses a suite the config does not offer. */
    ccc_ohttp_ctx_init(&c);
    assert_int_equal(ccc_ohttp_request_encapsulate(&c, &gk_aes128.config, s256, msg, sizeof msg,
                                                   wire, sizeof wire, &n),
                     CCC_ERR_UNSUPPORTED);
    ccc_hpke_suite export_only = {0x20, 1, CCC_HPKE_AEAD_EXPORT_ONLY};
    assert_int_equal(ccc_ohttp_request_encapsulate(&c, &gk_all.config, export_only, msg, sizeof msg,
                                                   wire, sizeof wire, &n),
                     CCC_ERR_UNSUPPORTED);
    assert_int_equal(ccc_ohttp_request_encapsulate(&c, &gk_all.config, s256, msg, sizeof msg, wire,
                                                   sizeof msg + CCC_OHTTP_REQUEST_OVERHEAD - 1, &n),
                     CCC_ERR_LIMIT);
    assert_int_equal(ccc_ohttp_request_encapsulate(&c, &gk_all.config, s256, msg, sizeof msg, wire,
                                                   sizeof wire, &n),
                     CCC_OK);
    /* A context is for one exchange. */
    assert_int_equal(ccc_ohttp_request_encapsulate(&c, &gk_all.config, s256, msg, sizeof msg, wire,
                                                   sizeof wire, &m),
                     CCC_ERR_USAGE);
    /* The gateway refuses a suite its key does not offer... */
    ccc_ohttp_ctx_init(&g);
    assert_int_equal(ccc_ohttp_request_decapsulate(&g, &gk_aes128, 1, wire, n, out, sizeof out, &m),
                     CCC_ERR_UNSUPPORTED);
    /* ...an unknown key id... */
    ccc_ohttp_ctx_init(&g);
    wire[0] = 2;
    assert_int_equal(ccc_ohttp_request_decapsulate(&g, &gk_all, 1, wire, n, out, sizeof out, &m),
                     CCC_ERR_NOT_FOUND);
    wire[0] = 1;
    /* ...and with the right key id but another private key, it fails to open. */
    ccc_ohttp_ctx_init(&g);
    assert_int_equal(ccc_ohttp_request_decapsulate(&g, &gk_other, 1, wire, n, out, sizeof out, &m),
                     CCC_ERR_CRYPTO);
    /* No keys at all. */
    ccc_ohttp_ctx_init(&g);
    assert_int_equal(ccc_ohttp_request_decapsulate(&g, NULL, 0, wire, n, out, sizeof out, &m),
                     CCC_ERR_NOT_FOUND);
    /* Responses need a decapsulated request first. */
    ccc_ohttp_ctx_init(&g);
    assert_int_equal(ccc_ohttp_response_encapsulate(&g, msg, 1, out, sizeof out, &m),
                     CCC_ERR_USAGE);
    assert_int_equal(ccc_ohttp_request_decapsulate(&g, &gk_all, 1, wire, n, out, sizeof out, &m),
                     CCC_OK);
    assert_memory_equal(out, msg, sizeof msg);
    /* A response nonce of the wrong size is refused (test-only entry). */
    uint8_t nonce16[16] = {0};
    assert_int_equal(ccc_ohttp_response_encapsulate_derand_insecure(&g, nonce16, 16, msg, 1, out,
                                                                    sizeof out, &m),
                     CCC_ERR_USAGE);
    ccc_ohttp_ctx_wipe(&c);
    ccc_ohttp_ctx_wipe(&g);
    ccc_ohttp_gateway_key_wipe(&gk_all);
    ccc_ohttp_gateway_key_wipe(&gk_aes128);
    ccc_ohttp_gateway_key_wipe(&gk_other);
    ccc_hpke_keypair_wipe(&kp);
    ccc_hpke_keypair_wipe(&other);
}

/* ------------------------------------------------------------------------ */
/* Key configs                                                               */
/* ------------------------------------------------------------------------ */

static ccc_status decode_hex_config(const char *hex, ccc_ohttp_key_config *cfg)
{
    uint8_t b[256];
    size_t n;
    assert_int_equal(ccc_hex_decode(hex, b, sizeof b, &n), CCC_OK);
    ccc_reader r;
    ccc_reader_init(&r, b, n);
    ccc_status st = ccc_ohttp_key_config_decode(&r, cfg);
    if (st == CCC_OK)
        st = ccc_reader_expect_done(&r);
    return st;
}

#define PK "31e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e798155"

static void key_config_malformed(void **state)
{
    (void)state;
    example e = load_example();
    ccc_ohttp_key_config cfg;
    /* Every truncation of a valid config. */
    for (size_t len = 0; len < e.config.n; len++) {
        ccc_reader r;
        ccc_reader_init(&r, e.config.b, len);
        assert_int_equal(ccc_ohttp_key_config_decode(&r, &cfg), CCC_ERR_PARSE);
        assert_int_equal(r.pos, 0); /* nothing consumed */
    }
    assert_int_equal(decode_hex_config("010020" PK "000400010002", &cfg), CCC_OK);
    assert_int_equal(cfg.alg_count, 1);
    /* Algorithms length 0, not a multiple of 4, past the end. */
    assert_int_equal(decode_hex_config("010020" PK "0000", &cfg), CCC_ERR_PARSE);
    assert_int_equal(decode_hex_config("010020" PK "00050001000200", &cfg), CCC_ERR_PARSE);
    assert_int_equal(decode_hex_config("010020" PK "000800010002", &cfg), CCC_ERR_PARSE);
    /* Trailing bytes after one config are the caller's to reject. */
    assert_int_equal(decode_hex_config("010020" PK "00040001000200", &cfg), CCC_ERR_PARSE);
    /* Unknown KEM (P-256): its key size is unknown to us. */
    assert_int_equal(decode_hex_config("010010" PK "000400010001", &cfg), CCC_ERR_UNSUPPORTED);
    /* More pairs than we keep. */
    char many[512];
    snprintf(many, sizeof many, "010020" PK "0044");
    for (int i = 0; i < 17; i++)
        strcat(many, "00010001");
    assert_int_equal(decode_hex_config(many, &cfg), CCC_ERR_LIMIT);
    /* Unknown KDF/AEAD pairs are kept, but choose() skips them. */
    assert_int_equal(decode_hex_config("010020" PK "0008"
                                       "00020001"
                                       "00010003",
                                       &cfg),
                     CCC_OK);
    ccc_hpke_suite s;
    assert_int_equal(ccc_ohttp_key_config_choose(&cfg, CCC_HPKE_AEAD_AES_256_GCM, &s), CCC_OK);
    assert_int_equal(s.kdf_id, 1);
    assert_int_equal(s.aead_id, CCC_HPKE_AEAD_CHACHA20_POLY1305);
    assert_int_equal(decode_hex_config("010020" PK "0008"
                                       "00020001"
                                       "0001ffff",
                                       &cfg),
                     CCC_OK);
    assert_int_equal(ccc_ohttp_key_config_choose(&cfg, 0, &s), CCC_ERR_UNSUPPORTED);
    /* Encoding refuses what it cannot express. */
    ccc_buf b;
    ccc_buf_init(&b, 1024);
    cfg.alg_count = 0;
    assert_int_equal(ccc_ohttp_key_config_encode(&cfg, &b), CCC_ERR_USAGE);
    cfg.alg_count = 1;
    cfg.kem_id = 0x10;
    assert_int_equal(ccc_ohttp_key_config_encode(&cfg, &b), CCC_ERR_UNSUPPORTED);
    /* A capped buffer is left as it was on failure. */
    ccc_buf small;
    ccc_buf_init(&small, 20);
    cfg.kem_id = 0x20;
    assert_int_equal(ccc_ohttp_key_config_encode(&cfg, &small), CCC_ERR_LIMIT);
    assert_int_equal(small.size, 0);
    ccc_buf_wipe(&small);
    ccc_buf_wipe(&b);
}

static void key_config_list(void **state)
{
    (void)state;
    example e = load_example();
    /* application/ohttp-keys (§3.2): a P-256 config we skip, then ours. */
    uint8_t list[256];
    size_t n = 0;
    const size_t p256_size = 1 + 2 + 65 + 2 + 4;
    list[n++] = 0;
    list[n++] = (uint8_t)p256_size;
    list[n++] = 5;
    list[n++] = 0x00;
    list[n++] = 0x10;
    memset(list + n, 4, 65);
    n += 65;
    memcpy(list + n, "\x00\x04\x00\x01\x00\x01", 6);
    n += 6;
    list[n++] = 0;
    list[n++] = (uint8_t)e.config.n;
    memcpy(list + n, e.config.b, e.config.n);
    n += e.config.n;
    ccc_ohttp_key_config cfgs[4];
    size_t count;
    ccc_reader r;
    ccc_reader_init(&r, list, n);
    assert_int_equal(ccc_ohttp_key_configs_decode(&r, cfgs, 4, &count), CCC_OK);
    assert_int_equal(count, 1);
    assert_int_equal(cfgs[0].key_id, 1);
    /* Every truncation of the list fails. */
    for (size_t len = 0; len < n; len++) {
        ccc_reader_init(&r, list, len);
        assert_int_not_equal(ccc_ohttp_key_configs_decode(&r, cfgs, 4, &count), CCC_OK);
    }
    /* Room for none. */
    ccc_reader_init(&r, list, n);
    assert_int_equal(ccc_ohttp_key_configs_decode(&r, cfgs, 0, &count), CCC_ERR_LIMIT);
    /* A length prefix that disagrees with the config inside. */
    list[p256_size + 3] = (uint8_t)(e.config.n + 1);
    ccc_reader_init(&r, list, n);
    assert_int_equal(ccc_ohttp_key_configs_decode(&r, cfgs, 4, &count), CCC_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc9458_example_client_side),
        cmocka_unit_test(rfc9458_example_gateway_side),
        cmocka_unit_test(request_tampering_and_truncation_fail),
        cmocka_unit_test(response_tampering_and_truncation_fail),
        cmocka_unit_test(round_trip_every_aead_in_place),
        cmocka_unit_test(wrong_key_id_and_wrong_suite),
        cmocka_unit_test(key_config_malformed),
        cmocka_unit_test(key_config_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
