/*
 * Oblivious HTTP (RFC 9458): key configurations (§3) and the encapsulation
 * of requests (§4.3) and responses (§4.4) on top of hpke. See ohttp.h.
 */
#include "ohttp/ohttp.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* §4.3: the media type that starts the request's HPKE info. */
static const char request_label[] = "message/bhttp request";
/* §4.4: the exporter context for the response secret. */
static const char response_label[] = "message/bhttp response";

size_t ccc_ohttp_response_nonce_size(uint16_t aead_id)
{
    size_t nk = ccc_hpke_aead_key_size(aead_id);
    if (nk == 0)
        return 0;
    /* §4.4: response_nonce = random(max(Nn, Nk)) */
    return nk > CCC_HPKE_NONCE_SIZE ? nk : CCC_HPKE_NONCE_SIZE;
}

size_t ccc_ohttp_response_overhead(uint16_t aead_id)
{
    size_t n = ccc_ohttp_response_nonce_size(aead_id);
    return n ? n + CCC_HPKE_TAG_SIZE : 0;
}

/* ------------------------------------------------------------------------ */
/* Key configuration (§3)                                                    */
/* ------------------------------------------------------------------------ */

ccc_status ccc_ohttp_key_config_encode(const ccc_ohttp_key_config *cfg, ccc_buf *out)
{
    CCC_ENSURE(cfg->kem_id == CCC_HPKE_KEM_X25519_SHA256, CCC_ERR_UNSUPPORTED,
               "unsupported OHTTP KEM");
    CCC_ENSURE(cfg->alg_count > 0 && cfg->alg_count <= CCC_OHTTP_MAX_ALGS, CCC_ERR_USAGE,
               "key config needs 1 to 16 algorithm pairs");
    size_t mark = out->size;
    ccc_status st = CCC_OK;
    CCC_TRY(ccc_buf_u8(out, cfg->key_id));
    CCC_TRY(ccc_buf_be16(out, cfg->kem_id));
    CCC_TRY(ccc_buf_append(out, cfg->public_key, sizeof cfg->public_key));
    /* HPKE Symmetric Algorithms Length (16) = 4..65532 */
    CCC_TRY(ccc_buf_be16(out, (uint16_t)(cfg->alg_count * 4)));
    for (size_t i = 0; i < cfg->alg_count; i++) {
        CCC_TRY(ccc_buf_be16(out, cfg->algs[i].kdf_id));
        CCC_TRY(ccc_buf_be16(out, cfg->algs[i].aead_id));
    }
out:
    if (st != CCC_OK)
        out->size = mark; /* nothing half-written */
    return st;
}

ccc_status ccc_ohttp_key_config_decode(ccc_reader *r, ccc_ohttp_key_config *cfg)
{
    ccc_reader saved = *r, algs;
    ccc_status st = CCC_OK;
    uint16_t algs_size;
    memset(cfg, 0, sizeof *cfg);
    CCC_TRY(ccc_reader_u8(r, &cfg->key_id));
    CCC_TRY(ccc_reader_be16(r, &cfg->kem_id));
    /* The public key's length (Npk) depends on the KEM. */
    CCC_CHECK(cfg->kem_id == CCC_HPKE_KEM_X25519_SHA256, CCC_ERR_UNSUPPORTED,
              "unsupported OHTTP KEM");
    CCC_TRY(ccc_reader_copy(r, cfg->public_key, sizeof cfg->public_key));
    CCC_TRY(ccc_reader_be16(r, &algs_size));
    CCC_CHECK(algs_size >= 4 && algs_size % 4 == 0, CCC_ERR_PARSE,
              "bad symmetric algorithms length");
    CCC_CHECK(algs_size / 4 <= CCC_OHTTP_MAX_ALGS, CCC_ERR_LIMIT, "too many symmetric algorithms");
    CCC_TRY(ccc_reader_sub(r, algs_size, &algs));
    while (!ccc_reader_done(&algs)) {
        ccc_ohttp_symmetric_alg *a = &cfg->algs[cfg->alg_count++];
        CCC_TRY(ccc_reader_be16(&algs, &a->kdf_id));
        CCC_TRY(ccc_reader_be16(&algs, &a->aead_id));
    }
out:
    if (st != CCC_OK) {
        *r = saved;
        memset(cfg, 0, sizeof *cfg);
    }
    return st;
}

ccc_status ccc_ohttp_key_configs_decode(ccc_reader *r, ccc_ohttp_key_config *cfgs, size_t max_count,
                                        size_t *count)
{
    *count = 0;
    while (!ccc_reader_done(r)) {
        uint16_t len;
        ccc_reader one;
        CCC_GUARD(ccc_reader_be16(r, &len));
        CCC_GUARD(ccc_reader_sub(r, len, &one));
        ccc_ohttp_key_config cfg;
        ccc_status st = ccc_ohttp_key_config_decode(&one, &cfg);
        if (st == CCC_ERR_UNSUPPORTED)
            continue; /* §3.2: a client ignores configs it cannot use */
        CCC_GUARD(st);
        CCC_GUARD(ccc_reader_expect_done(&one));
        CCC_ENSURE(*count < max_count, CCC_ERR_LIMIT, "too many key configs");
        cfgs[(*count)++] = cfg;
    }
    CCC_ENSURE(*count > 0, CCC_ERR_UNSUPPORTED, "no usable key config");
    return CCC_OK;
}

static bool suite_usable(ccc_hpke_suite s)
{
    ccc_status st = ccc_hpke_suite_check(s);
    if (st != CCC_OK) {
        ccc_error_clear();
        return false;
    }
    return s.aead_id != CCC_HPKE_AEAD_EXPORT_ONLY;
}

ccc_status ccc_ohttp_key_config_choose(const ccc_ohttp_key_config *cfg, uint16_t preferred_aead,
                                       ccc_hpke_suite *suite)
{
    bool found = false;
    for (size_t i = 0; i < cfg->alg_count && i < CCC_OHTTP_MAX_ALGS; i++) {
        ccc_hpke_suite s = {cfg->kem_id, cfg->algs[i].kdf_id, cfg->algs[i].aead_id};
        if (!suite_usable(s))
            continue;
        if (!found || s.aead_id == preferred_aead) {
            *suite = s;
            found = true;
            if (s.aead_id == preferred_aead)
                break;
        }
    }
    CCC_ENSURE(found, CCC_ERR_UNSUPPORTED, "key config offers no supported suite");
    return CCC_OK;
}

/* Is `suite` one of cfg's (kdf, aead) pairs, and one we implement? */
static ccc_status config_offers(const ccc_ohttp_key_config *cfg, ccc_hpke_suite suite)
{
    CCC_ENSURE(suite.kem_id == cfg->kem_id, CCC_ERR_UNSUPPORTED, "KEM does not match the key");
    CCC_ENSURE(suite_usable(suite), CCC_ERR_UNSUPPORTED, "unsupported OHTTP suite");
    for (size_t i = 0; i < cfg->alg_count && i < CCC_OHTTP_MAX_ALGS; i++)
        if (cfg->algs[i].kdf_id == suite.kdf_id && cfg->algs[i].aead_id == suite.aead_id)
            return CCC_OK;
    CCC_BAIL(CCC_ERR_UNSUPPORTED, "suite not offered by the key config");
}

/* ------------------------------------------------------------------------ */
/* Gateway keys and contexts                                                 */
/* ------------------------------------------------------------------------ */

ccc_status ccc_ohttp_gateway_key_init(ccc_ohttp_gateway_key *gk, uint8_t key_id,
                                      const ccc_hpke_keypair *kp,
                                      const ccc_ohttp_symmetric_alg *algs, size_t alg_count)
{
    memset(gk, 0, sizeof *gk);
    CCC_ENSURE(alg_count > 0 && alg_count <= CCC_OHTTP_MAX_ALGS, CCC_ERR_USAGE,
               "gateway key needs 1 to 16 algorithm pairs");
    gk->config.key_id = key_id;
    gk->config.kem_id = CCC_HPKE_KEM_X25519_SHA256;
    memcpy(gk->config.public_key, kp->pk, sizeof kp->pk);
    memcpy(gk->config.algs, algs, alg_count * sizeof *algs);
    gk->config.alg_count = alg_count;
    gk->keypair = *kp;
    return CCC_OK;
}

void ccc_ohttp_gateway_key_wipe(ccc_ohttp_gateway_key *gk)
{
    if (gk)
        OPENSSL_cleanse(gk, sizeof *gk);
}

void ccc_ohttp_ctx_init(ccc_ohttp_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ccc_hpke_ctx_init(&ctx->hpke);
}

void ccc_ohttp_ctx_wipe(ccc_ohttp_ctx *ctx)
{
    if (!ctx)
        return;
    ccc_hpke_ctx_wipe(&ctx->hpke);
    OPENSSL_cleanse(ctx, sizeof *ctx);
}

/* ------------------------------------------------------------------------ */
/* Request (§4.3)                                                            */
/* ------------------------------------------------------------------------ */

/*
 * hdr = concat(encode(1, key_id), encode(2, kem_id), encode(2, kdf_id),
 *              encode(2, aead_id))
 */
static void encode_header(uint8_t hdr[static CCC_OHTTP_HEADER_SIZE], uint8_t key_id,
                          ccc_hpke_suite s)
{
    hdr[0] = key_id;
    hdr[1] = (uint8_t)(s.kem_id >> 8), hdr[2] = (uint8_t)s.kem_id;
    hdr[3] = (uint8_t)(s.kdf_id >> 8), hdr[4] = (uint8_t)s.kdf_id;
    hdr[5] = (uint8_t)(s.aead_id >> 8), hdr[6] = (uint8_t)s.aead_id;
}

/* info = concat(encode_str("message/bhttp request"), encode(1, 0), hdr) */
#define INFO_SIZE (sizeof request_label - 1 + 1 + CCC_OHTTP_HEADER_SIZE)
static void request_info(uint8_t info[static INFO_SIZE],
                         const uint8_t hdr[static CCC_OHTTP_HEADER_SIZE])
{
    memcpy(info, request_label, sizeof request_label - 1);
    info[sizeof request_label - 1] = 0;
    memcpy(info + sizeof request_label, hdr, CCC_OHTTP_HEADER_SIZE);
}

static ccc_status request_encapsulate(ccc_ohttp_ctx *ctx, const ccc_ohttp_key_config *cfg,
                                      ccc_hpke_suite suite, const ccc_hpke_keypair *ephemeral,
                                      const uint8_t *request, size_t request_size, uint8_t *out,
                                      size_t out_max, size_t *out_size)
{
    ccc_status st = CCC_OK;
    uint8_t hdr[CCC_OHTTP_HEADER_SIZE], info[INFO_SIZE];
    size_t ct_size = 0;
    *out_size = 0;
    CCC_ENSURE(ctx->state == CCC_OHTTP_EMPTY, CCC_ERR_USAGE, "OHTTP context already used");
    CCC_GUARD(config_offers(cfg, suite));
    CCC_ENSURE(request_size <= CCC_OHTTP_MAX_MESSAGE_SIZE, CCC_ERR_LIMIT,
               "OHTTP request too large");
    CCC_ENSURE(out_max >= request_size + CCC_OHTTP_REQUEST_OVERHEAD, CCC_ERR_LIMIT,
               "output buffer too small");
    encode_header(hdr, cfg->key_id, suite);
    request_info(info, hdr);
    /* enc, sctxt = SetupBaseS(pkR, info) */
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(info, sizeof info));
    if (ephemeral)
        CCC_TRY(ccc_hpke_ctx_setup_sender_derand_insecure(&ctx->hpke, suite, cfg->public_key, &o,
                                                          ephemeral, ctx->enc));
    else
        CCC_TRY(ccc_hpke_ctx_setup_sender(&ctx->hpke, suite, cfg->public_key, &o, ctx->enc));
    /* ct = sctxt.Seal("", request), straight into place after hdr || enc */
    CCC_TRY(ccc_hpke_ctx_seal(&ctx->hpke, ccc_bytes_of(NULL, 0), request, request_size,
                              out + CCC_OHTTP_REQUEST_PREFIX_SIZE,
                              out_max - CCC_OHTTP_REQUEST_PREFIX_SIZE, &ct_size));
    /* enc_request = concat(hdr, enc, ct) */
    memcpy(out, hdr, sizeof hdr);
    memcpy(out + sizeof hdr, ctx->enc, CCC_HPKE_ENC_SIZE);
    *out_size = CCC_OHTTP_REQUEST_PREFIX_SIZE + ct_size;
    ctx->key_id = cfg->key_id;
    ctx->state = CCC_OHTTP_CLIENT_SENT;
out:
    if (st != CCC_OK)
        ccc_ohttp_ctx_wipe(ctx);
    return st;
}

ccc_status ccc_ohttp_request_encapsulate(ccc_ohttp_ctx *ctx, const ccc_ohttp_key_config *cfg,
                                         ccc_hpke_suite suite, const uint8_t *request,
                                         size_t request_size, uint8_t *out, size_t out_max,
                                         size_t *out_size)
{
    return request_encapsulate(ctx, cfg, suite, NULL, request, request_size, out, out_max,
                               out_size);
}

ccc_status ccc_ohttp_request_encapsulate_derand_insecure(
    ccc_ohttp_ctx *ctx, const ccc_ohttp_key_config *cfg, ccc_hpke_suite suite,
    const ccc_hpke_keypair *ephemeral, const uint8_t *request, size_t request_size, uint8_t *out,
    size_t out_max, size_t *out_size)
{
    *out_size = 0;
    CCC_ENSURE(ephemeral != NULL, CCC_ERR_USAGE, "missing ephemeral key");
    return request_encapsulate(ctx, cfg, suite, ephemeral, request, request_size, out, out_max,
                               out_size);
}

ccc_status ccc_ohttp_request_decapsulate(ccc_ohttp_ctx *ctx, const ccc_ohttp_gateway_key *keys,
                                         size_t key_count, const uint8_t *enc_request,
                                         size_t enc_request_size, uint8_t *out, size_t out_max,
                                         size_t *out_size)
{
    ccc_status st = CCC_OK;
    ccc_reader r;
    ccc_bytes hdr, enc;
    ccc_hpke_suite suite;
    uint8_t key_id, info[INFO_SIZE];
    const ccc_ohttp_gateway_key *key = NULL;
    *out_size = 0;
    CCC_ENSURE(ctx->state == CCC_OHTTP_EMPTY, CCC_ERR_USAGE, "OHTTP context already used");
    CCC_ENSURE(enc_request_size <= CCC_OHTTP_MAX_MESSAGE_SIZE + CCC_OHTTP_REQUEST_OVERHEAD,
               CCC_ERR_LIMIT, "OHTTP request too large");
    ccc_reader_init(&r, enc_request, enc_request_size);
    /* The raw header bytes go into info exactly as received. */
    CCC_TRY(ccc_reader_bytes(&r, CCC_OHTTP_HEADER_SIZE, &hdr));
    {
        ccc_reader h;
        ccc_reader_init(&h, hdr.ptr, hdr.size);
        CCC_TRY(ccc_reader_u8(&h, &key_id));
        CCC_TRY(ccc_reader_be16(&h, &suite.kem_id));
        CCC_TRY(ccc_reader_be16(&h, &suite.kdf_id));
        CCC_TRY(ccc_reader_be16(&h, &suite.aead_id));
    }
    for (size_t i = 0; i < key_count && !key; i++)
        if (keys[i].config.key_id == key_id)
            key = &keys[i];
    CCC_CHECK(key != NULL, CCC_ERR_NOT_FOUND, "unknown OHTTP key id");
    CCC_TRY(config_offers(&key->config, suite));
    CCC_TRY(ccc_reader_bytes(&r, CCC_HPKE_ENC_SIZE, &enc));
    ccc_bytes ct = ccc_reader_rest(&r);
    CCC_CHECK(ct.size >= CCC_HPKE_TAG_SIZE, CCC_ERR_PARSE, "OHTTP request truncated");
    CCC_CHECK(out_max >= ct.size - CCC_HPKE_TAG_SIZE, CCC_ERR_LIMIT, "output buffer too small");
    request_info(info, hdr.ptr);
    memcpy(ctx->enc, enc.ptr, CCC_HPKE_ENC_SIZE);
    /* rctxt = SetupBaseR(enc, skR, info); request, error = rctxt.Open("", ct) */
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(info, sizeof info));
    CCC_TRY(ccc_hpke_ctx_setup_receiver(&ctx->hpke, suite, &key->keypair, ctx->enc, &o));
    CCC_TRY(ccc_hpke_ctx_open(&ctx->hpke, ccc_bytes_of(NULL, 0), ct.ptr, ct.size, out, out_max,
                              out_size));
    ctx->key_id = key_id;
    ctx->state = CCC_OHTTP_GATEWAY_OPENED;
out:
    if (st != CCC_OK)
        ccc_ohttp_ctx_wipe(ctx);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Response (§4.4)                                                           */
/* ------------------------------------------------------------------------ */

/*
 *   secret = context.Export("message/bhttp response", max(Nn, Nk))
 *   salt = concat(enc, response_nonce)
 *   prk = Extract(salt, secret)
 *   aead_key = Expand(prk, "key", Nk)
 *   aead_nonce = Expand(prk, "nonce", Nn)
 */
static ccc_status response_keys(const ccc_ohttp_ctx *ctx, const uint8_t *response_nonce,
                                uint8_t key[static CCC_HPKE_KEY_MAX],
                                uint8_t nonce[static CCC_HPKE_NONCE_SIZE])
{
    ccc_status st = CCC_OK;
    const ccc_hpke_suite s = ctx->hpke.suite;
    size_t nsz = ccc_ohttp_response_nonce_size(s.aead_id), nk = ccc_hpke_aead_key_size(s.aead_id);
    uint8_t secret[CCC_OHTTP_RESPONSE_NONCE_MAX], prk[CCC_HPKE_SECRET_SIZE];
    uint8_t salt[CCC_HPKE_ENC_SIZE + CCC_OHTTP_RESPONSE_NONCE_MAX];
    CCC_CHECK(nsz != 0, CCC_ERR_INTERNAL, "OHTTP context has no AEAD");
    CCC_TRY(ccc_hpke_ctx_export(&ctx->hpke, ccc_bytes_of(response_label, sizeof response_label - 1),
                                secret, nsz));
    memcpy(salt, ctx->enc, CCC_HPKE_ENC_SIZE);
    memcpy(salt + CCC_HPKE_ENC_SIZE, response_nonce, nsz);
    CCC_TRY(ccc_hpke_kdf_extract(s.kdf_id, ccc_bytes_of(salt, CCC_HPKE_ENC_SIZE + nsz),
                                 ccc_bytes_of(secret, nsz), prk));
    CCC_TRY(ccc_hpke_kdf_expand(s.kdf_id, prk, ccc_bytes_of("key", 3), key, nk));
    CCC_TRY(
        ccc_hpke_kdf_expand(s.kdf_id, prk, ccc_bytes_of("nonce", 5), nonce, CCC_HPKE_NONCE_SIZE));
out:
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(prk, sizeof prk);
    if (st != CCC_OK) {
        OPENSSL_cleanse(key, CCC_HPKE_KEY_MAX);
        OPENSSL_cleanse(nonce, CCC_HPKE_NONCE_SIZE);
    }
    return st;
}

static ccc_status response_encapsulate(ccc_ohttp_ctx *ctx, const uint8_t *fixed_nonce,
                                       size_t fixed_nonce_size, const uint8_t *response,
                                       size_t response_size, uint8_t *out, size_t out_max,
                                       size_t *out_size)
{
    ccc_status st = CCC_OK;
    uint8_t key[CCC_HPKE_KEY_MAX], nonce[CCC_HPKE_NONCE_SIZE];
    size_t ct_size = 0;
    *out_size = 0;
    CCC_ENSURE(ctx->state == CCC_OHTTP_GATEWAY_OPENED, CCC_ERR_USAGE,
               "no decapsulated OHTTP request to answer");
    size_t nsz = ccc_ohttp_response_nonce_size(ctx->hpke.suite.aead_id);
    CCC_ENSURE(response_size <= CCC_OHTTP_MAX_MESSAGE_SIZE, CCC_ERR_LIMIT,
               "OHTTP response too large");
    CCC_ENSURE(out_max >= response_size + nsz + CCC_HPKE_TAG_SIZE, CCC_ERR_LIMIT,
               "output buffer too small");
    /* response_nonce = random(max(Nn, Nk)), placed first in the output. */
    uint8_t response_nonce[CCC_OHTTP_RESPONSE_NONCE_MAX];
    if (fixed_nonce) {
        CCC_ENSURE(fixed_nonce_size == nsz, CCC_ERR_USAGE, "response nonce must be max(Nn, Nk)");
        memcpy(response_nonce, fixed_nonce, nsz);
    } else {
        CCC_ENSURE(RAND_bytes(response_nonce, (int)nsz) == 1, CCC_ERR_INTERNAL,
                   "random generator failed");
    }
    CCC_TRY(response_keys(ctx, response_nonce, key, nonce));
    /* ct = Seal(aead_key, aead_nonce, "", response) */
    CCC_TRY(ccc_hpke_aead_seal(ctx->hpke.suite.aead_id, key, nonce, ccc_bytes_of(NULL, 0), response,
                               response_size, out + nsz, out_max - nsz, &ct_size));
    /* enc_response = concat(response_nonce, ct) */
    memcpy(out, response_nonce, nsz);
    *out_size = nsz + ct_size;
    /* The exchange is over: drop the request's secrets now. */
    ccc_hpke_ctx_wipe(&ctx->hpke);
    ctx->state = CCC_OHTTP_DONE;
out:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(nonce, sizeof nonce);
    return st;
}

ccc_status ccc_ohttp_response_encapsulate(ccc_ohttp_ctx *ctx, const uint8_t *response,
                                          size_t response_size, uint8_t *out, size_t out_max,
                                          size_t *out_size)
{
    return response_encapsulate(ctx, NULL, 0, response, response_size, out, out_max, out_size);
}

ccc_status ccc_ohttp_response_encapsulate_derand_insecure(
    ccc_ohttp_ctx *ctx, const uint8_t *response_nonce, size_t response_nonce_size,
    const uint8_t *response, size_t response_size, uint8_t *out, size_t out_max, size_t *out_size)
{
    *out_size = 0;
    CCC_ENSURE(response_nonce != NULL, CCC_ERR_USAGE, "missing response nonce");
    return response_encapsulate(ctx, response_nonce, response_nonce_size, response, response_size,
                                out, out_max, out_size);
}

ccc_status ccc_ohttp_response_decapsulate(ccc_ohttp_ctx *ctx, const uint8_t *enc_response,
                                          size_t enc_response_size, uint8_t *out, size_t out_max,
                                          size_t *out_size)
{
    ccc_status st = CCC_OK;
    uint8_t key[CCC_HPKE_KEY_MAX], nonce[CCC_HPKE_NONCE_SIZE];
    ccc_reader r;
    ccc_bytes response_nonce;
    *out_size = 0;
    CCC_ENSURE(ctx->state == CCC_OHTTP_CLIENT_SENT, CCC_ERR_USAGE,
               "no OHTTP request waiting for a response");
    size_t nsz = ccc_ohttp_response_nonce_size(ctx->hpke.suite.aead_id);
    CCC_ENSURE(enc_response_size <= CCC_OHTTP_MAX_MESSAGE_SIZE + nsz + CCC_HPKE_TAG_SIZE,
               CCC_ERR_LIMIT, "OHTTP response too large");
    ccc_reader_init(&r, enc_response, enc_response_size);
    /* enc_response = concat(response_nonce, ct) */
    CCC_GUARD(ccc_reader_bytes(&r, nsz, &response_nonce));
    ccc_bytes ct = ccc_reader_rest(&r);
    CCC_ENSURE(ct.size >= CCC_HPKE_TAG_SIZE, CCC_ERR_PARSE, "OHTTP response truncated");
    CCC_TRY(response_keys(ctx, response_nonce.ptr, key, nonce));
    /* response, error = Open(aead_key, aead_nonce, "", ct) */
    CCC_TRY(ccc_hpke_aead_open(ctx->hpke.suite.aead_id, key, nonce, ccc_bytes_of(NULL, 0), ct.ptr,
                               ct.size, out, out_max, out_size));
    ccc_hpke_ctx_wipe(&ctx->hpke);
    ctx->state = CCC_OHTTP_DONE;
out:
    /* On failure the context stays usable for the genuine response. */
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(nonce, sizeof nonce);
    return st;
}
