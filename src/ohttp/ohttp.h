/*
 * ohttp — Oblivious HTTP message encapsulation (RFC 9458) over hpke.
 *
 * The client encrypts a request (for us: a binary-HTTP message carrying the
 * user's photo) to the gateway's key configuration; the gateway decrypts it
 * and encrypts its response with a key exported from the same HPKE context,
 * so only that client can read it.
 *
 *   key config (§3)      ccc_ohttp_key_config_encode / _decode, and the
 *                        application/ohttp-keys list (§3.2)
 *   request   (§4.3)     hdr = key_id(1) kem_id(2) kdf_id(2) aead_id(2)
 *                        info = "message/bhttp request" || 0x00 || hdr
 *                        enc_request = hdr || enc || Seal("", request)
 *   response  (§4.4)     secret = Export("message/bhttp response", max(Nn,Nk))
 *                        salt = enc || response_nonce (max(Nn,Nk) random bytes)
 *                        prk = Extract(salt, secret)
 *                        key = Expand(prk, "key", Nk); nonce = Expand(prk, "nonce", Nn)
 *                        enc_response = response_nonce || Seal(key, nonce, "", response)
 *
 * Ownership. ccc_ohttp_ctx is caller-owned (init/wipe): the client keeps it
 * from request encapsulation to response decapsulation, the gateway from
 * request decapsulation to response encapsulation. It holds the request's
 * HPKE context (secrets) and enc; ccc_ohttp_ctx_wipe zeroes all of it.
 * Gateway keys (ccc_ohttp_gateway_key) hold a private key: wipe them too.
 *
 * Buffers. Every call writes into a caller buffer (out, out_max) and checks
 * its size first (CCC_ERR_LIMIT). Sizes are exact:
 *   encapsulated request  = request  + CCC_OHTTP_REQUEST_OVERHEAD   (55)
 *   encapsulated response = response + CCC_OHTTP_RESPONSE_OVERHEAD(aead)
 * A request is sealed in one pass without a copy; it may even sit in the
 * output buffer already: request == out + CCC_OHTTP_REQUEST_PREFIX_SIZE.
 * Messages are capped at CCC_OHTTP_MAX_MESSAGE_SIZE (64 MiB; photos are
 * ~16 MB); callers apply their own, smaller limits.
 *
 * Errors on untrusted input: malformed or truncated header/config
 * CCC_ERR_PARSE; unknown KEM/KDF/AEAD or a suite the key does not offer
 * CCC_ERR_UNSUPPORTED; unknown key id CCC_ERR_NOT_FOUND; a message that does
 * not authenticate (any tampered byte of enc, ciphertext or tag)
 * CCC_ERR_CRYPTO. Decapsulation writes no plaintext unless it authenticates
 * (out is zeroed on failure). The gateway may decrypt in place:
 * out == enc_request + CCC_OHTTP_REQUEST_PREFIX_SIZE.
 *
 * Caveats: the header's key_id/kem/kdf/aead are authenticated (they are in
 * the HPKE info), so changing them fails. One response per request context.
 */
#ifndef CCC_OHTTP_H
#define CCC_OHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "hpke/hpke.h"

#define CCC_OHTTP_HEADER_SIZE 7                                                        /* hdr */
#define CCC_OHTTP_REQUEST_PREFIX_SIZE (CCC_OHTTP_HEADER_SIZE + CCC_HPKE_ENC_SIZE)      /* 39 */
#define CCC_OHTTP_REQUEST_OVERHEAD (CCC_OHTTP_REQUEST_PREFIX_SIZE + CCC_HPKE_TAG_SIZE) /* 55 */
/* Response nonce size max(Nn, Nk) for an AEAD (16 or 32). */
#define CCC_OHTTP_RESPONSE_NONCE_MAX 32
#define CCC_OHTTP_MAX_MESSAGE_SIZE ((size_t)64 << 20)
/* Largest number of (kdf, aead) pairs kept from one key config. */
#define CCC_OHTTP_MAX_ALGS 16

/* Response nonce size max(Nn, Nk) of an AEAD, 0 if unsupported. */
size_t ccc_ohttp_response_nonce_size(uint16_t aead_id);
/* Bytes an encapsulated response adds: max(Nn, Nk) + Nt; 0 if unsupported. */
size_t ccc_ohttp_response_overhead(uint16_t aead_id);

/* ------------------------------------------------------------------------ */
/* Key configuration (§3)                                                    */
/* ------------------------------------------------------------------------ */

typedef struct ccc_ohttp_symmetric_alg {
    uint16_t kdf_id;
    uint16_t aead_id;
} ccc_ohttp_symmetric_alg;

/*
 * §3.1:
 *   Key Config {
 *     Key Identifier (8),
 *     HPKE KEM ID (16),
 *     HPKE Public Key (Npk * 8),
 *     HPKE Symmetric Algorithms Length (16) = 4..65532,
 *     HPKE Symmetric Algorithms (32) ...,
 *   }
 * Plain data, no secrets.
 */
typedef struct ccc_ohttp_key_config {
    uint8_t key_id;
    uint16_t kem_id;
    uint8_t public_key[CCC_HPKE_X25519_SIZE];
    size_t alg_count;
    ccc_ohttp_symmetric_alg algs[CCC_OHTTP_MAX_ALGS];
} ccc_ohttp_key_config;

/* Append the §3.1 encoding of cfg to out. */
CCC_MUST_USE ccc_status ccc_ohttp_key_config_encode(const ccc_ohttp_key_config *cfg, ccc_buf *out);
/*
 * Read one Key Config from r (untrusted). CCC_ERR_PARSE if truncated or the
 * algorithms length is not a non-zero multiple of 4; CCC_ERR_UNSUPPORTED for
 * a KEM other than X25519 (its key size is unknown); CCC_ERR_LIMIT for more
 * than CCC_OHTTP_MAX_ALGS pairs. Unknown KDF/AEAD pairs are kept (a client
 * picks one it supports with ccc_ohttp_key_config_choose).
 */
CCC_MUST_USE ccc_status ccc_ohttp_key_config_decode(ccc_reader *r, ccc_ohttp_key_config *cfg);
/*
 * §3.2 application/ohttp-keys: a list of configs, each preceded by a 2-byte
 * length. Decodes at most max_count; the whole input must be consumed.
 * Configs with an unsupported KEM are skipped (the list may mix KEMs).
 */
CCC_MUST_USE ccc_status ccc_ohttp_key_configs_decode(ccc_reader *r, ccc_ohttp_key_config *cfgs,
                                                     size_t max_count, size_t *count);
/*
 * The suite to use with cfg: the first pair this module supports, preferring
 * `preferred_aead` when the config offers it. CCC_ERR_UNSUPPORTED if none.
 */
CCC_MUST_USE ccc_status ccc_ohttp_key_config_choose(const ccc_ohttp_key_config *cfg,
                                                    uint16_t preferred_aead, ccc_hpke_suite *suite);

/* ------------------------------------------------------------------------ */
/* Gateway keys                                                              */
/* ------------------------------------------------------------------------ */

/* A gateway's key: its config and the matching private key (secret). */
typedef struct ccc_ohttp_gateway_key {
    ccc_ohttp_key_config config;
    ccc_hpke_keypair keypair;
} ccc_ohttp_gateway_key;

/*
 * Build a gateway key from a key pair (copied) with the given algorithms.
 * The config's public key is the key pair's.
 */
CCC_MUST_USE ccc_status ccc_ohttp_gateway_key_init(ccc_ohttp_gateway_key *gk, uint8_t key_id,
                                                   const ccc_hpke_keypair *kp,
                                                   const ccc_ohttp_symmetric_alg *algs,
                                                   size_t alg_count);
void ccc_ohttp_gateway_key_wipe(ccc_ohttp_gateway_key *gk);

/* ------------------------------------------------------------------------ */
/* Request and response                                                      */
/* ------------------------------------------------------------------------ */

typedef enum ccc_ohttp_state {
    CCC_OHTTP_EMPTY = 0,
    CCC_OHTTP_CLIENT_SENT,    /* client: request out, waiting for response */
    CCC_OHTTP_GATEWAY_OPENED, /* gateway: request in, response not yet out */
    CCC_OHTTP_DONE,           /* the response was produced or consumed */
} ccc_ohttp_state;

/* One request/response exchange. Caller-owned; init before, wipe after. */
typedef struct ccc_ohttp_ctx {
    ccc_ohttp_state state;
    uint8_t key_id;
    ccc_hpke_ctx hpke; /* secrets: the request's HPKE context */
    uint8_t enc[CCC_HPKE_ENC_SIZE];
} ccc_ohttp_ctx;

void ccc_ohttp_ctx_init(ccc_ohttp_ctx *ctx);
void ccc_ohttp_ctx_wipe(ccc_ohttp_ctx *ctx);

/*
 * Client, §4.3: encapsulate `request` for cfg with `suite` (see
 * ccc_ohttp_key_config_choose; it must be one of cfg's pairs). Writes
 * request_size + 55 bytes into out. ctx must be fresh (init'ed).
 */
CCC_MUST_USE ccc_status ccc_ohttp_request_encapsulate(ccc_ohttp_ctx *ctx,
                                                      const ccc_ohttp_key_config *cfg,
                                                      ccc_hpke_suite suite, const uint8_t *request,
                                                      size_t request_size, uint8_t *out,
                                                      size_t out_max, size_t *out_size);
/*
 * Gateway, §4.3: decapsulate an encapsulated request with one of `keys`
 * (picked by key id; CCC_ERR_NOT_FOUND if none matches). Writes the request
 * (enc_request_size - 55 bytes) into out. ctx must be fresh.
 */
CCC_MUST_USE ccc_status ccc_ohttp_request_decapsulate(ccc_ohttp_ctx *ctx,
                                                      const ccc_ohttp_gateway_key *keys,
                                                      size_t key_count, const uint8_t *enc_request,
                                                      size_t enc_request_size, uint8_t *out,
                                                      size_t out_max, size_t *out_size);
/*
 * Gateway, §4.4: encapsulate the response to the request ctx decapsulated.
 * Writes response_size + ccc_ohttp_response_overhead(aead) bytes.
 */
CCC_MUST_USE ccc_status ccc_ohttp_response_encapsulate(ccc_ohttp_ctx *ctx, const uint8_t *response,
                                                       size_t response_size, uint8_t *out,
                                                       size_t out_max, size_t *out_size);
/* Client, §4.4: decapsulate the gateway's response to ctx's request. */
CCC_MUST_USE ccc_status ccc_ohttp_response_decapsulate(ccc_ohttp_ctx *ctx,
                                                       const uint8_t *enc_response,
                                                       size_t enc_response_size, uint8_t *out,
                                                       size_t out_max, size_t *out_size);

/*
 * TEST ONLY (RFC 9458 Appendix A reproduction): the same as the functions
 * above with a fixed ephemeral key / response nonce instead of fresh random
 * ones. Reusing either breaks the protocol's security.
 */
CCC_MUST_USE ccc_status ccc_ohttp_request_encapsulate_derand_insecure(
    ccc_ohttp_ctx *ctx, const ccc_ohttp_key_config *cfg, ccc_hpke_suite suite,
    const ccc_hpke_keypair *ephemeral, const uint8_t *request, size_t request_size, uint8_t *out,
    size_t out_max, size_t *out_size);
CCC_MUST_USE ccc_status ccc_ohttp_response_encapsulate_derand_insecure(
    ccc_ohttp_ctx *ctx, const uint8_t *response_nonce, size_t response_nonce_size,
    const uint8_t *response, size_t response_size, uint8_t *out, size_t out_max, size_t *out_size);

#endif /* CCC_OHTTP_H */
