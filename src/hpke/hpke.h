/*
 * hpke — Hybrid Public Key Encryption (RFC 9180) on OpenSSL 3.0 primitives.
 *
 * OpenSSL 3.0 has no HPKE API (it arrived in 3.2), so this module builds
 * RFC 9180 from EVP pieces: X25519 through EVP_PKEY (raw keys, derive),
 * HKDF through EVP_KDF "HKDF" in EXTRACT_ONLY / EXPAND_ONLY modes, and the
 * AEADs through EVP_CIPHER. No primitive is written here.
 *
 * Supported (anything else is CCC_ERR_UNSUPPORTED):
 *   KEM   0x0020 DHKEM(X25519, HKDF-SHA256)            (RFC 9180 §7.1)
 *   KDF   0x0001 HKDF-SHA256                           (§7.2)
 *   AEAD  0x0001 AES-128-GCM, 0x0002 AES-256-GCM,
 *         0x0003 ChaCha20-Poly1305, 0xFFFF export-only (§7.3)
 *   modes base (0), psk (1), auth (2), auth_psk (3)    (§5.1)
 *
 * Layers, bottom up (each public because OHTTP and the tests use them):
 *   ccc_hpke_kdf_*      plain HKDF Extract/Expand (OHTTP's response keys)
 *   ccc_hpke_aead_*     one AEAD operation with an explicit key and nonce
 *   ccc_hpke_keypair_*  X25519 key pairs, DeriveKeyPair (§7.1.3)
 *   ccc_hpke_ctx_*      the encryption context (§5): setup, seal/open at the
 *                       running sequence number, export
 *   ccc_hpke_seal/open  single-shot (§6.1)
 *
 * Ownership and wiping. Every struct here is caller-owned memory (no hidden
 * heap state except one EVP_CIPHER_CTX inside a context, freed and cleansed
 * by ccc_hpke_ctx_wipe). Structs that hold secrets have a *_wipe function that
 * zeroes every byte of the struct; a failed setup leaves the context wiped.
 * Intermediate secrets of the KEM and the key schedule (DH outputs, the
 * shared secret, eae_prk, the "secret", labeled inputs) live in stack buffers
 * that are OPENSSL_cleanse'd on every path before the function returns.
 *
 * Buffers. Seal and open write into a buffer the caller provides (out, out_max)
 * and never allocate per message: a 16 MB photo is encrypted in one pass with
 * no copy. `out` may be exactly `in` (in-place), never a partial overlap.
 *
 * Important caveats
 *   - Open releases no plaintext before the tag check: `out` is scratch until
 *     the call returns CCC_OK, and is zeroed on any failure.
 *   - A context is for one direction: a sender context only seals, a
 *     receiver context only opens. Sequence numbers are per context; both
 *     sides must seal/open the same messages in the same order (§5.2).
 *   - info, psk, psk_id, DeriveKeyPair ikm and exporter contexts are capped at
 *     CCC_HPKE_MAX_LABEL_INPUT bytes (RFC 9180 §7.2.1 asks for >= 64).
 *   - Not thread-safe per context; distinct contexts are independent.
 */
#ifndef CCC_HPKE_H
#define CCC_HPKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Algorithm identifiers (RFC 9180 §7, IANA "HPKE" registry). */
#define CCC_HPKE_KEM_X25519_SHA256 0x0020
#define CCC_HPKE_KDF_HKDF_SHA256 0x0001
#define CCC_HPKE_AEAD_AES_128_GCM 0x0001
#define CCC_HPKE_AEAD_AES_256_GCM 0x0002
#define CCC_HPKE_AEAD_CHACHA20_POLY1305 0x0003
#define CCC_HPKE_AEAD_EXPORT_ONLY 0xFFFF

/* Sizes for DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256 (§7.1, §7.2). */
#define CCC_HPKE_X25519_SIZE 32 /* Nsk = Npk = Nenc = Ndh */
#define CCC_HPKE_ENC_SIZE 32    /* Nenc */
#define CCC_HPKE_SECRET_SIZE 32 /* Nsecret = Nh */
#define CCC_HPKE_TAG_SIZE 16    /* Nt of every supported AEAD */
#define CCC_HPKE_NONCE_SIZE 12  /* Nn of every supported AEAD */
#define CCC_HPKE_KEY_MAX 32     /* largest Nk */
/* Cap on info, psk, psk_id and exporter_context (bytes). */
#define CCC_HPKE_MAX_LABEL_INPUT 1024
/* Largest Export length: 255 * Nh (§7.2.1, HKDF-Expand limit). */
#define CCC_HPKE_MAX_EXPORT_SIZE (255 * CCC_HPKE_SECRET_SIZE)

typedef enum ccc_hpke_mode {
    CCC_HPKE_MODE_BASE = 0x00,
    CCC_HPKE_MODE_PSK = 0x01,
    CCC_HPKE_MODE_AUTH = 0x02,
    CCC_HPKE_MODE_AUTH_PSK = 0x03,
} ccc_hpke_mode;

/* A ciphersuite: the three registry ids. */
typedef struct ccc_hpke_suite {
    uint16_t kem_id;
    uint16_t kdf_id;
    uint16_t aead_id;
} ccc_hpke_suite;

/* CCC_OK if this module implements the suite, CCC_ERR_UNSUPPORTED if not. */
CCC_MUST_USE ccc_status ccc_hpke_suite_check(ccc_hpke_suite suite);
/* Nk of an AEAD (0 for export-only), or 0 for an unknown id. */
size_t ccc_hpke_aead_key_size(uint16_t aead_id);
/* "AES-256-GCM", ... or "unknown". */
const char *ccc_hpke_aead_name(uint16_t aead_id);

/* ------------------------------------------------------------------------ */
/* KDF: plain HKDF (RFC 5869) — used by OHTTP responses (RFC 9458 §4.4)      */
/* ------------------------------------------------------------------------ */

/* prk = HKDF-Extract(salt, ikm) with the suite's KDF. prk: Nh bytes. */
CCC_MUST_USE ccc_status ccc_hpke_kdf_extract(uint16_t kdf_id, ccc_bytes salt, ccc_bytes ikm,
                                             uint8_t prk[static CCC_HPKE_SECRET_SIZE]);
/* out = HKDF-Expand(prk, info, out_size); out_size <= 255*Nh. */
CCC_MUST_USE ccc_status ccc_hpke_kdf_expand(uint16_t kdf_id,
                                            const uint8_t prk[static CCC_HPKE_SECRET_SIZE],
                                            ccc_bytes info, uint8_t *out, size_t out_size);

/* ------------------------------------------------------------------------ */
/* AEAD: one operation with an explicit key and nonce (§5.2's Seal/Open)     */
/* ------------------------------------------------------------------------ */

/*
 * ct || tag = Seal(key, nonce, aad, pt). Writes pt_size + 16 bytes to out
 * (out_max must allow it; out may equal pt). key: Nk bytes of aead_id.
 */
CCC_MUST_USE ccc_status ccc_hpke_aead_seal(uint16_t aead_id, const uint8_t *key,
                                           const uint8_t nonce[static CCC_HPKE_NONCE_SIZE],
                                           ccc_bytes aad, const uint8_t *pt, size_t pt_size,
                                           uint8_t *out, size_t out_max, size_t *out_size);
/*
 * pt = Open(key, nonce, aad, ct || tag). CCC_ERR_CRYPTO if the tag does not
 * verify (out zeroed), CCC_ERR_PARSE if ct is shorter than the tag.
 */
CCC_MUST_USE ccc_status ccc_hpke_aead_open(uint16_t aead_id, const uint8_t *key,
                                           const uint8_t nonce[static CCC_HPKE_NONCE_SIZE],
                                           ccc_bytes aad, const uint8_t *ct, size_t ct_size,
                                           uint8_t *out, size_t out_max, size_t *out_size);

/* ------------------------------------------------------------------------ */
/* Key pairs (DHKEM(X25519, HKDF-SHA256))                                    */
/* ------------------------------------------------------------------------ */

/* A caller-owned X25519 key pair. sk is secret: ccc_hpke_keypair_wipe. */
typedef struct ccc_hpke_keypair {
    uint8_t sk[CCC_HPKE_X25519_SIZE];
    uint8_t pk[CCC_HPKE_X25519_SIZE];
} ccc_hpke_keypair;

/* Fresh random key pair (GenerateKeyPair, §4). */
CCC_MUST_USE ccc_status ccc_hpke_keypair_generate(ccc_hpke_keypair *kp);
/*
 * DeriveKeyPair(ikm) for X25519 (§7.1.3):
 *   dkp_prk = LabeledExtract("", "dkp_prk", ikm)
 *   sk = LabeledExpand(dkp_prk, "sk", "", Nsk)
 * ikm must have at least Nsk (32) bytes and at most CCC_HPKE_MAX_LABEL_INPUT.
 */
CCC_MUST_USE ccc_status ccc_hpke_keypair_derive(ccc_hpke_keypair *kp, ccc_bytes ikm);
/* Key pair from a raw 32-byte private key (computes pk). */
CCC_MUST_USE ccc_status ccc_hpke_keypair_from_private(ccc_hpke_keypair *kp,
                                                      const uint8_t sk[static 32]);
/* Zero the whole struct. */
void ccc_hpke_keypair_wipe(ccc_hpke_keypair *kp);

/* ------------------------------------------------------------------------ */
/* Context (§5)                                                              */
/* ------------------------------------------------------------------------ */

typedef enum ccc_hpke_role {
    CCC_HPKE_ROLE_NONE = 0,
    CCC_HPKE_ROLE_SENDER,
    CCC_HPKE_ROLE_RECEIVER
} ccc_hpke_role;

/*
 * The encryption context of §5.1: key, base_nonce, exporter_secret and the
 * sequence number, plus the AEAD keyed once (so each seal/open only sets the
 * nonce). Caller-owned; ccc_hpke_ctx_init before use, ccc_hpke_ctx_wipe after
 * (it frees the cipher context and zeroes every byte of the struct). Fields
 * are visible for tests; do not touch them.
 */
typedef struct ccc_hpke_ctx {
    ccc_hpke_suite suite;
    ccc_hpke_role role;
    uint8_t key[CCC_HPKE_KEY_MAX];                 /* secret, Nk used */
    uint8_t base_nonce[CCC_HPKE_NONCE_SIZE];       /* secret */
    uint8_t exporter_secret[CCC_HPKE_SECRET_SIZE]; /* secret */
    uint64_t seq;                                  /* next sequence number */
    void *cipher;                                  /* EVP_CIPHER_CTX, keyed */
} ccc_hpke_ctx;

void ccc_hpke_ctx_init(ccc_hpke_ctx *ctx);
void ccc_hpke_ctx_wipe(ccc_hpke_ctx *ctx);

/*
 * Optional observer of the key schedule's intermediate values, for the RFC
 * test vectors only. Never set it in production: it copies secrets out.
 */
typedef struct ccc_hpke_trace_insecure {
    uint8_t shared_secret[CCC_HPKE_SECRET_SIZE];
    uint8_t key_schedule_context[1 + 2 * CCC_HPKE_SECRET_SIZE];
    uint8_t secret[CCC_HPKE_SECRET_SIZE];
} ccc_hpke_trace_insecure;

/* Per-setup inputs beyond the suite and the recipient key (all borrowed). */
typedef struct ccc_hpke_setup_opts {
    ccc_hpke_mode mode;
    ccc_bytes info;   /* application info, may be empty */
    ccc_bytes psk;    /* modes psk/auth_psk: >= 32 bytes; else empty */
    ccc_bytes psk_id; /* modes psk/auth_psk: non-empty; else empty */
    /* Modes auth/auth_psk: the sender's static key pair (sender side)... */
    const ccc_hpke_keypair *sender_kp;
    /* ...or the sender's public key (receiver side). */
    const uint8_t *sender_pk;
    /* Test-only: receives intermediate values when non-NULL. */
    ccc_hpke_trace_insecure *trace;
} ccc_hpke_setup_opts;

/* Base mode options with `info` (the common case). */
static inline ccc_hpke_setup_opts ccc_hpke_opts_base(ccc_bytes info)
{
    ccc_hpke_setup_opts o = {CCC_HPKE_MODE_BASE, info, {NULL, 0}, {NULL, 0}, NULL, NULL, NULL};
    return o;
}

/*
 * SetupBaseS / SetupPSKS / SetupAuthS / SetupAuthPSKS (§5.1.1-5.1.4): a fresh
 * ephemeral key, Encap (or AuthEncap) to pk_r, KeySchedule. Writes enc
 * (Nenc bytes, to send with the ciphertext). On failure ctx is wiped.
 */
CCC_MUST_USE ccc_status ccc_hpke_ctx_setup_sender(ccc_hpke_ctx *ctx, ccc_hpke_suite suite,
                                                  const uint8_t pk_r[static 32],
                                                  const ccc_hpke_setup_opts *opts,
                                                  uint8_t enc[static CCC_HPKE_ENC_SIZE]);
/*
 * The same with a given ephemeral key pair instead of a fresh one (the
 * "DeriveKeyPair(ikmE)" of the test vectors). TEST ONLY: reusing an
 * ephemeral key breaks HPKE's security.
 */
CCC_MUST_USE ccc_status ccc_hpke_ctx_setup_sender_derand_insecure(
    ccc_hpke_ctx *ctx, ccc_hpke_suite suite, const uint8_t pk_r[static 32],
    const ccc_hpke_setup_opts *opts, const ccc_hpke_keypair *ephemeral,
    uint8_t enc[static CCC_HPKE_ENC_SIZE]);
/*
 * SetupBaseR / ... (§5.1): Decap (or AuthDecap) enc with kp_r, KeySchedule.
 * CCC_ERR_CRYPTO for an invalid enc (e.g. a low-order point). On failure ctx
 * is wiped.
 */
CCC_MUST_USE ccc_status ccc_hpke_ctx_setup_receiver(ccc_hpke_ctx *ctx, ccc_hpke_suite suite,
                                                    const ccc_hpke_keypair *kp_r,
                                                    const uint8_t enc[static CCC_HPKE_ENC_SIZE],
                                                    const ccc_hpke_setup_opts *opts);

/*
 * ContextS.Seal(aad, pt) (§5.2): ct = Seal(key, ComputeNonce(seq), aad, pt);
 * IncrementSeq. Writes pt_size + 16 bytes into out (out == pt allowed).
 * CCC_ERR_LIMIT when the sequence number is exhausted (§5.2
 * MessageLimitReachedError), CCC_ERR_USAGE on a receiver context.
 */
CCC_MUST_USE ccc_status ccc_hpke_ctx_seal(ccc_hpke_ctx *ctx, ccc_bytes aad, const uint8_t *pt,
                                          size_t pt_size, uint8_t *out, size_t out_max,
                                          size_t *out_size);
/*
 * ContextR.Open(aad, ct) (§5.2). On failure (CCC_ERR_CRYPTO, CCC_ERR_PARSE
 * for ct shorter than the tag) out is zeroed and seq does not advance.
 */
CCC_MUST_USE ccc_status ccc_hpke_ctx_open(ccc_hpke_ctx *ctx, ccc_bytes aad, const uint8_t *ct,
                                          size_t ct_size, uint8_t *out, size_t out_max,
                                          size_t *out_size);
/*
 * Context.Export(exporter_context, L) (§5.3):
 *   LabeledExpand(exporter_secret, "sec", exporter_context, L)
 * Either role; works with the export-only AEAD.
 */
CCC_MUST_USE ccc_status ccc_hpke_ctx_export(const ccc_hpke_ctx *ctx, ccc_bytes exporter_context,
                                            uint8_t *out, size_t out_size);

/* ------------------------------------------------------------------------ */
/* Single-shot (§6.1)                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Seal(pkR, info, aad, pt, ...) = SetupS + ContextS.Seal: writes enc and
 * ct (pt_size + 16 bytes into out; out == pt allowed). Nothing secret
 * remains after the call.
 */
CCC_MUST_USE ccc_status ccc_hpke_seal(ccc_hpke_suite suite, const uint8_t pk_r[static 32],
                                      const ccc_hpke_setup_opts *opts, ccc_bytes aad,
                                      const uint8_t *pt, size_t pt_size,
                                      uint8_t enc[static CCC_HPKE_ENC_SIZE], uint8_t *out,
                                      size_t out_max, size_t *out_size);
/* Open(enc, skR, info, aad, ct, ...) = SetupR + ContextR.Open. */
CCC_MUST_USE ccc_status ccc_hpke_open(ccc_hpke_suite suite, const ccc_hpke_keypair *kp_r,
                                      const uint8_t enc[static CCC_HPKE_ENC_SIZE],
                                      const ccc_hpke_setup_opts *opts, ccc_bytes aad,
                                      const uint8_t *ct, size_t ct_size, uint8_t *out,
                                      size_t out_max, size_t *out_size);

#endif /* CCC_HPKE_H */
