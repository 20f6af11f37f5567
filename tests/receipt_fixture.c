/*
 * Test-only: writes a complete, consistent receipt scenario into OUTDIR for
 * tests/receipt_cli.sh — a simulated-NSM attestation document carrying an
 * Ed25519 receipt key, a signed policy bundle accepting the document's PCR0
 * and the model manifest, and a receipt for one job — plus look-alikes that
 * must fail (a later document with the same key, another policy).
 *
 *   receipt_fixture OUTDIR
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "attest/attest.h"
#include "nsm/nsm.h"
#include "policy/policy.h"
#include "receipt/receipt.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != CCC_OK) {                                                                       \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, ccc_error_detail());                \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static char dir[512];

static ccc_status put(const char *name, const void *p, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return ccc_file_write(path, p, n);
}

static ccc_status put_pubkey(const char *name, EVP_PKEY *k)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CCC_ENSURE(f, CCC_ERR_IO, "cannot write key");
    int ok = PEM_write_PUBKEY(f, k);
    fclose(f);
    CCC_ENSURE(ok == 1, CCC_ERR_CRYPTO, "cannot write key");
    return CCC_OK;
}

static ccc_status make_policy(EVP_PKEY *key, const uint8_t *pcr0, uint64_t version,
                              const uint8_t model[32], ccc_buf *bundle, uint8_t hash[32])
{
    static ccc_policy p;
    memset(&p, 0, sizeof p);
    p.version = version;
    CCC_GUARD(ccc_attest_pcr_set_add(&p.sets[0], 0, ccc_bytes_of(pcr0, CCC_NSM_PCR_SIZE)));
    p.set_count = 1;
    p.egress_max_answer_bytes = 1024;
    p.egress_max_boxes = 4;
    p.tou_max_body_bytes = 16u << 20;
    p.tou_rate_per_minute = 60;
    memcpy(p.manifests[0], model, 32);
    p.manifest_count = 1;
    CCC_GUARD(ccc_policy_sign(&p, key, bundle));
    return ccc_policy_verify(ccc_buf_bytes(bundle), key, &p, hash);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: receipt_fixture OUTDIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    int64_t now = (int64_t)time(NULL);
    uint64_t now_ms = (uint64_t)now * 1000u;
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    CHECK(ccc_nsm_ca_generate(&ca, now - 3600));
    ccc_buf pem;
    ccc_buf_init(&pem, 64u * 1024u);
    CHECK(ccc_nsm_ca_root_pem(&ca, &pem));
    CHECK(put("root.pem", pem.data, pem.size));
    static ccc_nsm_sim sim;
    ccc_nsm_sim_init(&sim);
    CHECK(ccc_nsm_sim_boot(&sim, &ca, now));
    int fd = open("/proc/self/exe", O_RDONLY);
    CHECK(fd >= 0 ? CCC_OK : CCC_ERR_IO);
    CHECK(ccc_nsm_sim_measure_fd(&sim, fd));
    close(fd);
    char pcr0[2 * CCC_NSM_PCR_SIZE + 2];
    ccc_hex_encode(sim.pcrs[0], CCC_NSM_PCR_SIZE, pcr0);
    CHECK(put("pcr0.hex", pcr0, strlen(pcr0)));

    /* model manifest hash, policy (accepting PCR0 and that manifest) */
    uint8_t model[32], phash[32], phash2[32];
    CHECK(ccc_receipt_sha256(ccc_bytes_of("model manifest", 14), model));
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *rkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    CHECK(pkey && rkey ? CCC_OK : CCC_ERR_CRYPTO);
    ccc_buf bundle, bundle2;
    ccc_buf_init(&bundle, CCC_POLICY_MAX_BUNDLE_SIZE);
    ccc_buf_init(&bundle2, CCC_POLICY_MAX_BUNDLE_SIZE);
    CHECK(make_policy(pkey, sim.pcrs[0], 1, model, &bundle, phash));
    CHECK(make_policy(pkey, sim.pcrs[0], 2, model, &bundle2, phash2));
    CHECK(put("policy.cbor", bundle.data, bundle.size));
    CHECK(put("other-policy.cbor", bundle2.data, bundle2.size));
    CHECK(put_pubkey("policy-pub.pem", pkey));
    CHECK(ccc_nsm_sim_extend(&sim, CCC_NSM_PCR_MANIFEST, ccc_bytes_of(model, 32)));
    CHECK(ccc_nsm_sim_extend(&sim, CCC_NSM_PCR_POLICY, ccc_bytes_of(phash, 32)));

    /* the enclave's documents: its receipt key in public_key */
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    CHECK(ccc_receipt_key_spki(rkey, spki));
    ccc_buf doc, doc2;
    ccc_buf_init(&doc, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_buf_init(&doc2, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    CHECK(ccc_nsm_sim_attest(&sim, now_ms, none, none, ccc_bytes_of(spki, sizeof spki), &doc));
    CHECK(ccc_nsm_sim_attest(&sim, now_ms + 1, none, none, ccc_bytes_of(spki, sizeof spki), &doc2));
    CHECK(put("doc.cbor", doc.data, doc.size));
    CHECK(put("other-doc.cbor", doc2.data, doc2.size));

    /* one job */
    const char answer[] =
        "{\"count\":1,\"confidence\":0.873,\"boxes\":[[0.100,0.200,0.600,0.900,0.873]],"
        "\"model\":\"centernet-mnv3\"}";
    const char request[] = "pretend this is an OHTTP enc_request";
    CHECK(put("answer.json", answer, strlen(answer)));
    CHECK(put("request.bin", request, strlen(request)));
    ccc_attest_doc parsed;
    ccc_attest_doc_init(&parsed);
    CHECK(ccc_attest_doc_parse(&parsed, ccc_buf_bytes(&doc), NULL));
    ccc_receipt r;
    ccc_receipt_init(&r);
    CHECK(ccc_receipt_set_job_id(&r, "job-7f3a", 8));
    CHECK(ccc_receipt_bind_attestation(&r, &parsed));
    /* the answer's salt (receipt.h), written as `ccc count --save` does */
    uint8_t salt[CCC_RECEIPT_ANSWER_SALT_SIZE];
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)(0xa0 + i);
    char salt_hex[2 * sizeof salt + 2];
    ccc_hex_encode(salt, sizeof salt, salt_hex);
    salt_hex[2 * sizeof salt] = '\n';
    CHECK(put("answer-salt", salt_hex, sizeof salt_hex - 1));
    CHECK(ccc_receipt_answer_commit(salt, ccc_bytes_of(answer, strlen(answer)), r.answer_sha256));
    CHECK(ccc_receipt_sha256(ccc_bytes_of(request, strlen(request)), r.request_sha256));
    memcpy(r.model_sha256, model, 32);
    memcpy(r.policy_sha256, phash, 32);
    r.time_ms = now_ms + 10;
    r.seq = 0;
    ccc_buf out;
    ccc_buf_init(&out, CCC_RECEIPT_MAX_SIZE);
    CHECK(ccc_receipt_sign(&r, rkey, &out));
    CHECK(put("receipt.cbor", out.data, out.size));

    ccc_attest_doc_wipe(&parsed);
    ccc_buf_wipe(&out);
    ccc_buf_wipe(&doc);
    ccc_buf_wipe(&doc2);
    ccc_buf_wipe(&bundle);
    ccc_buf_wipe(&bundle2);
    ccc_buf_wipe(&pem);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(rkey);
    ccc_nsm_sim_wipe(&sim);
    return 0;
}
