/*
 * gen_attest_corpus — writes the attestation tampering corpus:
 *
 *   tests/vectors/nitro/sim/        documents signed by a fresh simulated-NSM
 *                                   CA (root.pem is the root to pin; a second
 *                                   unrelated CA gives other-root.pem)
 *   tests/vectors/nitro/tampered/   the real AWS documents with one thing
 *                                   changed (no valid signature possible)
 *
 * Usage: gen_attest_corpus REPO_DIR. The expected result of every file is
 * in tests/vectors/nitro/cases.txt (data, written by hand); test_attest
 * replays it. Re-running regenerates keys, so every file changes but every
 * expected result stays the same. Times are fixed (2026-06-01), so the
 * simulated documents verify only at their own time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "cose/cose.h"
#include "nsm/nsm.h"
#include "x509/x509.h"

#define CA_START 1767225600LL          /* 2026-01-01T00:00:00Z */
#define BOOT 1780315200LL              /* 2026-06-01T12:00:00Z */
#define DOC_MS ((BOOT + 1800) * 1000ULL) /* 30 minutes after boot */

static const char *repo;

static void die(const char *what)
{
    fprintf(stderr, "gen_attest_corpus: %s: %s (%s)\n", what, ccc_error_detail(),
            ccc_error_where());
    exit(1);
}

#define OK(expr, what)            \
    do {                          \
        if ((expr) != CCC_OK)     \
            die(what);            \
    } while (0)

static void write_file(const char *rel, ccc_bytes b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/nitro/%s", repo, rel);
    OK(ccc_file_write(path, b.ptr, b.size), rel);
    chmod(path, 0644);
}

static void read_file(const char *rel, ccc_buf *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/nitro/%s", repo, rel);
    ccc_buf_init(out, 1u << 20);
    OK(ccc_file_read(path, out), rel);
}

/* ------------------------------------------------------------------------ */
/* Rewriting a payload map: drop one key, replace one value, add one entry.  */
/* ------------------------------------------------------------------------ */

typedef struct edit {
    const char *drop;       /* key to drop */
    const char *replace;    /* key whose value is replaced by `value` */
    ccc_bytes value;        /* encoded CBOR item */
    ccc_bytes add_key;      /* encoded key to append (with add_value) */
    ccc_bytes add_value;
} edit;

static void rewrite_map(ccc_bytes map_bytes, const edit *e, ccc_buf *out)
{
    ccc_cbor_doc d;
    ccc_cbor_doc_init(&d);
    OK(ccc_cbor_decode(&d, map_bytes, NULL, 0), "decode payload");
    const ccc_cbor_item *m = ccc_cbor_doc_root(&d);
    size_t n = m->count;
    if (e->drop)
        n--;
    if (e->add_key.ptr)
        n++;
    OK(ccc_cbor_put_map(out, n), "map");
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, m);
    const ccc_cbor_item *k, *v;
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it))) {
        if (e->drop && ccc_cbor_text_equals(k, e->drop))
            continue;
        OK(ccc_cbor_put_raw(out, k->raw), "key");
        if (e->replace && ccc_cbor_text_equals(k, e->replace))
            OK(ccc_cbor_put_raw(out, e->value), "value");
        else
            OK(ccc_cbor_put_raw(out, v->raw), "value");
    }
    if (e->add_key.ptr) {
        OK(ccc_cbor_put_raw(out, e->add_key), "add key");
        OK(ccc_cbor_put_raw(out, e->add_value), "add value");
    }
    ccc_cbor_doc_wipe(&d);
}

/* COSE_Sign1 = [protected bstr, unprotected, payload bstr, signature bstr]. */
static void cose_build(ccc_bytes protected_raw, ccc_bytes payload, ccc_bytes sig, bool tagged,
                       ccc_buf *out)
{
    if (tagged)
        OK(ccc_cbor_put_tag(out, CCC_COSE_TAG_SIGN1), "tag");
    OK(ccc_cbor_put_array(out, 4), "array");
    OK(ccc_cbor_put_bytes(out, protected_raw.ptr, protected_raw.size), "protected");
    OK(ccc_cbor_put_map(out, 0), "unprotected");
    OK(ccc_cbor_put_bytes(out, payload.ptr, payload.size), "payload");
    OK(ccc_cbor_put_bytes(out, sig.ptr, sig.size), "signature");
}

/* Encoded CBOR items for edits. */
static ccc_bytes enc_text(ccc_buf *b, const char *s)
{
    ccc_buf_init(b, 4096);
    OK(ccc_cbor_put_cstr(b, s), "text");
    return ccc_buf_bytes(b);
}
static ccc_bytes enc_bytes(ccc_buf *b, const uint8_t *p, size_t n)
{
    ccc_buf_init(b, 1u << 16);
    OK(ccc_cbor_put_bytes(b, p, n), "bytes");
    return ccc_buf_bytes(b);
}
static ccc_bytes enc_uint(ccc_buf *b, uint64_t v)
{
    ccc_buf_init(b, 64);
    OK(ccc_cbor_put_uint(b, v), "uint");
    return ccc_buf_bytes(b);
}

/* ------------------------------------------------------------------------ */
/* Real documents, tampered without a key                                    */
/* ------------------------------------------------------------------------ */

typedef struct real_doc {
    ccc_buf file;
    ccc_attest_doc doc;
} real_doc;

static void real_load(real_doc *r, const char *rel)
{
    read_file(rel, &r->file);
    ccc_attest_doc_init(&r->doc);
    OK(ccc_attest_doc_parse(&r->doc, ccc_buf_bytes(&r->file), NULL), rel);
}

/* Re-emit `r` with the payload edited (signature kept, so it no longer fits). */
static void real_edit(const real_doc *r, const edit *e, const char *name)
{
    ccc_buf payload, out;
    ccc_buf_init(&payload, 1u << 16);
    ccc_buf_init(&out, 1u << 16);
    rewrite_map(r->doc.cose.payload, e, &payload);
    cose_build(r->doc.cose.protected_raw, ccc_buf_bytes(&payload), r->doc.cose.signature, false,
               &out);
    write_file(name, ccc_buf_bytes(&out));
    ccc_buf_wipe(&payload);
    ccc_buf_wipe(&out);
}

/* Replace one value (already encoded). */
static void real_replace(const real_doc *r, const char *key, ccc_bytes value, const char *name)
{
    edit e = {.replace = key, .value = value};
    real_edit(r, &e, name);
}

/* cabundle array from a list of byte strings. */
static ccc_bytes enc_bundle(ccc_buf *b, const ccc_bytes *certs, size_t n)
{
    ccc_buf_init(b, 1u << 16);
    OK(ccc_cbor_put_array(b, n), "array");
    for (size_t i = 0; i < n; i++)
        OK(ccc_cbor_put_bytes(b, certs[i].ptr, certs[i].size), "cert");
    return ccc_buf_bytes(b);
}

static void gen_real(void)
{
    real_doc blocky, ever;
    real_load(&blocky, "attestation-blocky-2024-09-07.cbor");
    real_load(&ever, "attestation-evervault-2023-01-18.cbor");
    const ccc_attest_doc *d = &blocky.doc;
    ccc_buf t1, t2;
    uint8_t tmp[2048];

    /* Truncations of the whole document. */
    size_t cuts[] = {1, 16, 100, blocky.file.size / 2, blocky.file.size - 97,
                     blocky.file.size - 1};
    const char *cut_names[] = {"tampered/real-trunc-1.cbor",    "tampered/real-trunc-16.cbor",
                               "tampered/real-trunc-100.cbor",  "tampered/real-trunc-half.cbor",
                               "tampered/real-trunc-nosig.cbor", "tampered/real-trunc-last.cbor"};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        write_file(cut_names[i], ccc_bytes_of(blocky.file.data, cuts[i]));

    /* Every payload field changed (the signature no longer fits). */
    real_replace(&blocky, "module_id", enc_text(&t1, "i-0a22e5c5f24d22174-enc0191cceb4289903e"),
                 "tampered/real-module_id.cbor");
    ccc_buf_wipe(&t1);
    real_replace(&blocky, "digest", enc_text(&t1, "SHA512"), "tampered/real-digest-sha512.cbor");
    ccc_buf_wipe(&t1);
    real_replace(&blocky, "timestamp", enc_uint(&t1, d->timestamp_ms + 1),
                 "tampered/real-timestamp.cbor");
    ccc_buf_wipe(&t1);
    {
        /* pcrs: PCR4 changed; and PCR0..2 zeroed (debug mode) */
        ccc_buf pcrs;
        for (int variant = 0; variant < 2; variant++) {
            ccc_buf_init(&pcrs, 1u << 16);
            OK(ccc_cbor_put_map(&pcrs, d->pcr_count), "pcrs");
            for (uint32_t i = 0; i < CCC_ATTEST_PCR_COUNT; i++) {
                if (!d->pcrs[i].present)
                    continue;
                memcpy(tmp, d->pcrs[i].value.ptr, d->pcrs[i].value.size);
                if (variant == 0 && i == 4)
                    tmp[0] ^= 0x80;
                if (variant == 1 && i <= 2)
                    memset(tmp, 0, d->pcrs[i].value.size);
                OK(ccc_cbor_put_uint(&pcrs, i), "idx");
                OK(ccc_cbor_put_bytes(&pcrs, tmp, d->pcrs[i].value.size), "pcr");
            }
            real_replace(&blocky, "pcrs", ccc_buf_bytes(&pcrs),
                         variant == 0 ? "tampered/real-pcr4.cbor"
                                      : "tampered/real-debug-pcrs.cbor");
            ccc_buf_wipe(&pcrs);
        }
    }
    /* certificate: one byte inside the signed part (the TBS serial). */
    memcpy(tmp, d->certificate.ptr, d->certificate.size);
    tmp[20] ^= 0x01;
    real_replace(&blocky, "certificate", enc_bytes(&t1, tmp, d->certificate.size),
                 "tampered/real-certificate-byte.cbor");
    ccc_buf_wipe(&t1);
    /* certificate: garbage */
    real_replace(&blocky, "certificate", enc_bytes(&t1, (const uint8_t *)"not a cert", 10),
                 "tampered/real-certificate-garbage.cbor");
    ccc_buf_wipe(&t1);
    /* certificate: evervault's leaf (another enclave's) */
    real_replace(&blocky, "certificate", enc_bytes(&t1, ever.doc.certificate.ptr,
                                                   ever.doc.certificate.size),
                 "tampered/real-certificate-other-enclave.cbor");
    ccc_buf_wipe(&t1);
    {
        ccc_bytes c[4];
        memcpy(c, d->cabundle, sizeof c);
        /* cabundle: intermediates 1 and 2 swapped */
        c[1] = d->cabundle[2];
        c[2] = d->cabundle[1];
        real_replace(&blocky, "cabundle", enc_bundle(&t1, c, 4),
                     "tampered/real-cabundle-swapped.cbor");
        ccc_buf_wipe(&t1);
        /* cabundle: reversed (leaf side first) */
        for (int i = 0; i < 4; i++)
            c[i] = d->cabundle[3 - i];
        real_replace(&blocky, "cabundle", enc_bundle(&t1, c, 4),
                     "tampered/real-cabundle-reversed.cbor");
        ccc_buf_wipe(&t1);
        /* cabundle: the zonal intermediate from another region's chain */
        memcpy(c, d->cabundle, sizeof c);
        c[2] = ever.doc.cabundle[2];
        real_replace(&blocky, "cabundle", enc_bundle(&t1, c, 4),
                     "tampered/real-wrong-intermediate.cbor");
        ccc_buf_wipe(&t1);
        /* cabundle: an intermediate missing */
        ccc_bytes c3[3] = {d->cabundle[0], d->cabundle[1], d->cabundle[3]};
        real_replace(&blocky, "cabundle", enc_bundle(&t1, c3, 3),
                     "tampered/real-missing-intermediate.cbor");
        ccc_buf_wipe(&t1);
        /* certificate and last intermediate swapped */
        memcpy(c, d->cabundle, sizeof c);
        c[3] = d->certificate;
        edit e = {.replace = "cabundle", .value = enc_bundle(&t1, c, 4)};
        ccc_buf payload, mid, out;
        ccc_buf_init(&payload, 1u << 16);
        ccc_buf_init(&mid, 1u << 16);
        ccc_buf_init(&out, 1u << 16);
        rewrite_map(d->cose.payload, &e, &mid);
        edit e2 = {.replace = "certificate",
                   .value = enc_bytes(&t2, d->cabundle[3].ptr, d->cabundle[3].size)};
        rewrite_map(ccc_buf_bytes(&mid), &e2, &payload);
        cose_build(d->cose.protected_raw, ccc_buf_bytes(&payload), d->cose.signature, false,
                   &out);
        write_file("tampered/real-leaf-intermediate-swapped.cbor", ccc_buf_bytes(&out));
        ccc_buf_wipe(&payload);
        ccc_buf_wipe(&mid);
        ccc_buf_wipe(&out);
        ccc_buf_wipe(&t1);
        ccc_buf_wipe(&t2);
        /* cabundle: one byte flipped inside the instance intermediate */
        memcpy(c, d->cabundle, sizeof c);
        memcpy(tmp, d->cabundle[3].ptr, d->cabundle[3].size);
        tmp[20] ^= 0x01;
        c[3] = ccc_bytes_of(tmp, d->cabundle[3].size);
        real_replace(&blocky, "cabundle", enc_bundle(&t1, c, 4),
                     "tampered/real-cabundle-byte.cbor");
        ccc_buf_wipe(&t1);
        /* cabundle empty */
        real_replace(&blocky, "cabundle", enc_bundle(&t1, c, 0),
                     "tampered/real-cabundle-empty.cbor");
        ccc_buf_wipe(&t1);
    }
    /* public_key / user_data / nonce: one byte changed, then 1025 bytes */
    const char *opt[3] = {"public_key", "user_data", "nonce"};
    const ccc_bytes vals[3] = {d->public_key, d->user_data, d->nonce};
    for (int i = 0; i < 3; i++) {
        char name[128];
        memcpy(tmp, vals[i].ptr, vals[i].size);
        tmp[0] ^= 0x01;
        snprintf(name, sizeof name, "tampered/real-%s-byte.cbor", opt[i]);
        real_replace(&blocky, opt[i], enc_bytes(&t1, tmp, vals[i].size), name);
        ccc_buf_wipe(&t1);
        memcpy(tmp, vals[i].ptr, vals[i].size);
        tmp[vals[i].size] = 0x01;
        snprintf(name, sizeof name, "tampered/real-%s-1025.cbor", opt[i]);
        real_replace(&blocky, opt[i], enc_bytes(&t1, tmp, vals[i].size + 1), name);
        ccc_buf_wipe(&t1);
    }
    /* Extra and missing keys */
    {
        ccc_buf k, v;
        edit e = {.add_key = enc_text(&k, "debug"), .add_value = enc_uint(&v, 0)};
        real_edit(&blocky, &e, "tampered/real-extra-key.cbor");
        ccc_buf_wipe(&k);
        ccc_buf_wipe(&v);
        const char *req[] = {"module_id", "digest", "timestamp",
                             "pcrs",      "certificate", "cabundle", "nonce"};
        for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
            char name[128];
            snprintf(name, sizeof name, "tampered/real-missing-%s.cbor", req[i]);
            edit m = {.drop = req[i]};
            real_edit(&blocky, &m, name);
        }
    }
    /* Envelope: signature from the other document; protected header ES512;
     * tagged 18 (accepted: same signed bytes). */
    {
        ccc_buf out;
        ccc_buf_init(&out, 1u << 16);
        cose_build(d->cose.protected_raw, d->cose.payload, ever.doc.cose.signature, false, &out);
        write_file("tampered/real-signature-other-doc.cbor", ccc_buf_bytes(&out));
        ccc_buf_reset(&out);
        static const uint8_t es512[] = {0xa1, 0x01, 0x38, 0x23};
        cose_build(ccc_bytes_of(es512, sizeof es512), d->cose.payload, d->cose.signature, false,
                   &out);
        write_file("tampered/real-alg-es512.cbor", ccc_buf_bytes(&out));
        ccc_buf_reset(&out);
        cose_build(d->cose.protected_raw, d->cose.payload, d->cose.signature, true, &out);
        write_file("tampered/real-tagged.cbor", ccc_buf_bytes(&out));
        ccc_buf_reset(&out);
        /* signature with the last byte flipped */
        memcpy(tmp, d->cose.signature.ptr, d->cose.signature.size);
        tmp[d->cose.signature.size - 1] ^= 0x01;
        cose_build(d->cose.protected_raw, d->cose.payload,
                   ccc_bytes_of(tmp, d->cose.signature.size), false, &out);
        write_file("tampered/real-signature-bit.cbor", ccc_buf_bytes(&out));
        ccc_buf_wipe(&out);
    }
    ccc_attest_doc_wipe(&blocky.doc);
    ccc_attest_doc_wipe(&ever.doc);
    ccc_buf_wipe(&blocky.file);
    ccc_buf_wipe(&ever.file);
}

/* ------------------------------------------------------------------------ */
/* Simulated-NSM documents (valid signatures from a local CA)                */
/* ------------------------------------------------------------------------ */

typedef struct sim_ctx {
    ccc_nsm_ca ca, other;
    EVP_PKEY *leaf_key, *other_leaf_key, *stray_key;
    ccc_buf leaf, other_leaf;
    uint8_t pcrs[16][CCC_NSM_PCR_SIZE];
} sim_ctx;

static void sha384(const char *s, uint8_t out[CCC_NSM_PCR_SIZE])
{
    if (EVP_Digest(s, strlen(s), out, NULL, EVP_sha384(), NULL) != 1)
        die("sha384");
}

static void issue_leaf(ccc_nsm_ca *ca, EVP_PKEY **key, ccc_buf *leaf)
{
    OK(ccc_x509_p384_keygen(key), "leaf key");
    ccc_x509_issue_params p = {"i-ccccorpus-enc0000000000000001", 42, BOOT - 5,
                               BOOT + CCC_NSM_LEAF_SECONDS, false, -1};
    ccc_buf_init(leaf, 1u << 16);
    OK(ccc_x509_issue(&p, *key, ca->keys[3], ccc_buf_bytes(&ca->certs[3]), leaf), "leaf");
}

/* The baseline fields of a good simulated document. */
static ccc_nsm_doc_fields base_fields(const sim_ctx *s, ccc_bytes *bundle)
{
    for (int i = 0; i < 4; i++)
        bundle[i] = ccc_buf_bytes(&s->ca.certs[i]);
    ccc_nsm_doc_fields f = {
        .module_id = "i-ccccorpus-enc0000000000000001",
        .digest = "SHA384",
        .timestamp_ms = DOC_MS,
        .pcrs = (const uint8_t(*)[CCC_NSM_PCR_SIZE])s->pcrs,
        .pcr_count = 16,
        .certificate = ccc_buf_bytes(&s->leaf),
        .cabundle = bundle,
        .cabundle_count = 4,
        .public_key = ccc_bytes_of("ccc corpus public key", 21),
        .user_data = ccc_bytes_of("ccc corpus user data", 20),
        .nonce = ccc_bytes_of("ccc corpus nonce", 16),
    };
    return f;
}

/* Encode `f`, optionally edit the payload, sign with `key`, write `name`. */
static void sim_write(const ccc_nsm_doc_fields *f, const edit *e, EVP_PKEY *key,
                      const char *name)
{
    ccc_buf payload, edited, out;
    ccc_buf_init(&payload, 1u << 16);
    ccc_buf_init(&edited, 1u << 16);
    ccc_buf_init(&out, 1u << 16);
    OK(ccc_nsm_doc_encode(f, &payload), name);
    ccc_bytes p = ccc_buf_bytes(&payload);
    if (e) {
        rewrite_map(p, e, &edited);
        p = ccc_buf_bytes(&edited);
    }
    OK(ccc_nsm_doc_sign(key, p, &out), name);
    write_file(name, ccc_buf_bytes(&out));
    ccc_buf_wipe(&payload);
    ccc_buf_wipe(&edited);
    ccc_buf_wipe(&out);
}

static void gen_sim(void)
{
    sim_ctx s;
    memset(&s, 0, sizeof s);
    ccc_nsm_ca_init(&s.ca);
    ccc_nsm_ca_init(&s.other);
    OK(ccc_nsm_ca_generate(&s.ca, CA_START), "CA");
    OK(ccc_nsm_ca_generate(&s.other, CA_START), "other CA");
    issue_leaf(&s.ca, &s.leaf_key, &s.leaf);
    issue_leaf(&s.other, &s.other_leaf_key, &s.other_leaf);
    OK(ccc_x509_p384_keygen(&s.stray_key), "stray key");
    sha384("ccc corpus enclave image", s.pcrs[0]);
    sha384("ccc corpus kernel", s.pcrs[1]);
    sha384("ccc corpus application", s.pcrs[2]);

    ccc_buf pem;
    ccc_buf_init(&pem, 1u << 16);
    OK(ccc_nsm_ca_root_pem(&s.ca, &pem), "root pem");
    write_file("sim/root.pem", ccc_buf_bytes(&pem));
    ccc_buf_reset(&pem);
    OK(ccc_nsm_ca_root_pem(&s.other, &pem), "other root pem");
    write_file("sim/other-root.pem", ccc_buf_bytes(&pem));
    ccc_buf_wipe(&pem);

    ccc_bytes bundle[4];
    ccc_nsm_doc_fields f = base_fields(&s, bundle);
    sim_write(&f, NULL, s.leaf_key, "sim/good.cbor");
    sim_write(&f, NULL, s.stray_key, "sim/signed-by-stray-key.cbor");

    /* Debug mode: PCR0..2 zero. */
    uint8_t debug_pcrs[16][CCC_NSM_PCR_SIZE];
    memset(debug_pcrs, 0, sizeof debug_pcrs);
    f.pcrs = (const uint8_t(*)[CCC_NSM_PCR_SIZE])debug_pcrs;
    sim_write(&f, NULL, s.leaf_key, "sim/debug.cbor");
    f = base_fields(&s, bundle);

    /* Optional fields null; sizes at and over the limits. */
    f.public_key = f.user_data = f.nonce = ccc_bytes_of(NULL, 0);
    sim_write(&f, NULL, s.leaf_key, "sim/all-null.cbor");
    f = base_fields(&s, bundle);
    static uint8_t big[1025];
    memset(big, 0x55, sizeof big);
    f.public_key = f.user_data = f.nonce = ccc_bytes_of(big, 1024);
    sim_write(&f, NULL, s.leaf_key, "sim/all-1024.cbor");
    f = base_fields(&s, bundle);
    f.user_data = ccc_bytes_of(big, 1025);
    sim_write(&f, NULL, s.leaf_key, "sim/user_data-1025.cbor");
    f = base_fields(&s, bundle);
    f.nonce = ccc_bytes_of(big, 1025);
    sim_write(&f, NULL, s.leaf_key, "sim/nonce-1025.cbor");
    f = base_fields(&s, bundle);
    f.public_key = ccc_bytes_of(big, 1025);
    sim_write(&f, NULL, s.leaf_key, "sim/public_key-1025.cbor");
    f = base_fields(&s, bundle);
    f.public_key = ccc_bytes_of("", 0);
    sim_write(&f, NULL, s.leaf_key, "sim/public_key-empty.cbor");
    f = base_fields(&s, bundle);

    /* Field values the parser must refuse (all validly signed). */
    f.digest = "SHA256";
    sim_write(&f, NULL, s.leaf_key, "sim/digest-sha256.cbor");
    f = base_fields(&s, bundle);
    f.module_id = "";
    sim_write(&f, NULL, s.leaf_key, "sim/module_id-empty.cbor");
    f = base_fields(&s, bundle);
    f.timestamp_ms = DOC_MS / 1000; /* seconds, like the self-signed sample */
    sim_write(&f, NULL, s.leaf_key, "sim/timestamp-seconds.cbor");
    f = base_fields(&s, bundle);
    f.pcr_count = 0;
    sim_write(&f, NULL, s.leaf_key, "sim/pcrs-empty.cbor");
    f = base_fields(&s, bundle);
    f.cabundle_count = 0;
    sim_write(&f, NULL, s.leaf_key, "sim/cabundle-empty.cbor");
    f = base_fields(&s, bundle);

    ccc_buf k, v;
    {
        edit e = {.add_key = enc_text(&k, "extra"), .add_value = enc_uint(&v, 1)};
        sim_write(&f, &e, s.leaf_key, "sim/extra-key.cbor");
        ccc_buf_wipe(&k);
        ccc_buf_wipe(&v);
        edit e2 = {.add_key = enc_uint(&k, 1), .add_value = enc_uint(&v, 1)};
        sim_write(&f, &e2, s.leaf_key, "sim/extra-int-key.cbor");
        ccc_buf_wipe(&k);
        ccc_buf_wipe(&v);
    }
    const char *req[] = {"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "sim/missing-%s.cbor", req[i]);
        edit m = {.drop = req[i]};
        sim_write(&f, &m, s.leaf_key, name);
    }
    const char *opt[] = {"public_key", "user_data", "nonce"};
    for (size_t i = 0; i < 3; i++) {
        char name[128];
        snprintf(name, sizeof name, "sim/absent-%s.cbor", opt[i]);
        edit m = {.drop = opt[i]};
        sim_write(&f, &m, s.leaf_key, name);
    }
    /* Wrong types. */
    {
        edit e = {.replace = "timestamp", .value = enc_text(&v, "1780317000000")};
        sim_write(&f, &e, s.leaf_key, "sim/timestamp-text.cbor");
        ccc_buf_wipe(&v);
        edit e2 = {.replace = "module_id", .value = enc_bytes(&v, (const uint8_t *)"i-x", 3)};
        sim_write(&f, &e2, s.leaf_key, "sim/module_id-bytes.cbor");
        ccc_buf_wipe(&v);
        edit e3 = {.replace = "user_data", .value = enc_text(&v, "text, not bytes")};
        sim_write(&f, &e3, s.leaf_key, "sim/user_data-text.cbor");
        ccc_buf_wipe(&v);
        edit e4 = {.replace = "cabundle", .value = enc_bytes(&v, bundle[0].ptr, bundle[0].size)};
        sim_write(&f, &e4, s.leaf_key, "sim/cabundle-not-array.cbor");
        ccc_buf_wipe(&v);
    }
    /* PCR index 32 and a 47-byte PCR. */
    {
        ccc_buf p;
        for (int variant = 0; variant < 2; variant++) {
            ccc_buf_init(&p, 1u << 16);
            OK(ccc_cbor_put_map(&p, 16), "pcrs");
            for (uint32_t i = 0; i < 16; i++) {
                OK(ccc_cbor_put_uint(&p, (variant == 0 && i == 15) ? 32 : i), "idx");
                OK(ccc_cbor_put_bytes(&p, s.pcrs[i], (variant == 1 && i == 3) ? 47 : 48), "pcr");
            }
            edit e = {.replace = "pcrs", .value = ccc_buf_bytes(&p)};
            sim_write(&f, &e, s.leaf_key,
                      variant == 0 ? "sim/pcr-index-32.cbor" : "sim/pcr-size-47.cbor");
            ccc_buf_wipe(&p);
        }
    }
    /* Chains: swapped intermediates, one missing, one from the other CA,
     * a leaf and chain from the other CA, the root left out of the bundle. */
    {
        ccc_bytes b[4];
        memcpy(b, bundle, sizeof b);
        b[1] = bundle[2];
        b[2] = bundle[1];
        f.cabundle = b;
        sim_write(&f, NULL, s.leaf_key, "sim/cabundle-swapped.cbor");
        ccc_bytes b3[3] = {bundle[0], bundle[1], bundle[3]};
        f.cabundle = b3;
        f.cabundle_count = 3;
        sim_write(&f, NULL, s.leaf_key, "sim/cabundle-missing-intermediate.cbor");
        ccc_bytes nr[3] = {bundle[1], bundle[2], bundle[3]};
        f.cabundle = nr;
        sim_write(&f, NULL, s.leaf_key, "sim/cabundle-without-root.cbor");
        f.cabundle_count = 4;
        memcpy(b, bundle, sizeof b);
        b[2] = ccc_buf_bytes(&s.other.certs[2]);
        f.cabundle = b;
        sim_write(&f, NULL, s.leaf_key, "sim/wrong-intermediate.cbor");
        ccc_bytes ob[4];
        for (int i = 0; i < 4; i++)
            ob[i] = ccc_buf_bytes(&s.other.certs[i]);
        f.cabundle = ob;
        f.certificate = ccc_buf_bytes(&s.other_leaf);
        sim_write(&f, NULL, s.other_leaf_key, "sim/other-ca.cbor");
        f = base_fields(&s, bundle);
    }

    ccc_nsm_ca_wipe(&s.ca);
    ccc_nsm_ca_wipe(&s.other);
    EVP_PKEY_free(s.leaf_key);
    EVP_PKEY_free(s.other_leaf_key);
    EVP_PKEY_free(s.stray_key);
    ccc_buf_wipe(&s.leaf);
    ccc_buf_wipe(&s.other_leaf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_attest_corpus REPO_DIR\n");
        return 2;
    }
    repo = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/nitro/tampered", repo);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/tests/vectors/nitro/sim", repo);
    mkdir(path, 0755);
    gen_real();
    gen_sim();
    printf("corpus written under %s/tests/vectors/nitro/{tampered,sim}\n", repo);
    return 0;
}
