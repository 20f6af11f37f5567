/*
 * ccc policy init | sign | show | verify | kms-conditions — the signed
 * policy bundle from the command line (see src/policy/policy.h).
 *
 *   ccc policy init --key KEY.pem --pub PUB.pem [--out POLICY.json]
 *   ccc policy sign --key KEY.pem --in POLICY.json --out BUNDLE
 *   ccc policy show BUNDLE
 *   ccc policy verify BUNDLE --pub PUB.pem [--state FILE]
 *   ccc policy kms-conditions BUNDLE --pub PUB.pem
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cli/cli.h"
#include "cose/cose.h"
#include "policy/policy.h"

#define MAX_FILE (256u * 1024u)

/* Value of --name in argv (NULL if absent); the rest are positionals. */
static const char *opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

/* Every argument is either a known --option with its value or the one
 * positional; returns the positional (or NULL) and false on junk. */
static bool args_ok(int argc, char **argv, const char *const *known, const char **positional)
{
    *positional = NULL;
    for (int i = 1; i < argc; i++) {
        bool found = false;
        for (const char *const *k = known; *k; k++)
            if (strcmp(argv[i], *k) == 0)
                found = true;
        if (found) {
            if (++i >= argc)
                return false;
        } else if (argv[i][0] == '-' || *positional) {
            return false;
        } else {
            *positional = argv[i];
        }
    }
    return true;
}

static ccc_status load_key(const char *path, bool private_key, EVP_PKEY **out)
{
    CCC_GUARD(ccc_cose_key_read_pem(path, private_key, out));
    if (EVP_PKEY_get_id(*out) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(*out);
        *out = NULL;
        CCC_BAIL(CCC_ERR_USAGE, "the policy key must be Ed25519");
    }
    return CCC_OK;
}

/* Read and verify a bundle (or only decode it when pub is NULL). */
static ccc_status open_bundle(const char *path, const char *pub_path, ccc_policy *p,
                              uint8_t hash[32])
{
    ccc_buf b;
    ccc_buf_init(&b, CCC_POLICY_MAX_BUNDLE_SIZE);
    EVP_PKEY *pub = NULL;
    ccc_status st = ccc_file_read(path, &b);
    if (st == CCC_OK && pub_path)
        st = load_key(pub_path, false, &pub);
    if (st == CCC_OK)
        st = pub ? ccc_policy_verify(ccc_buf_bytes(&b), pub, p, hash)
                 : ccc_policy_peek(ccc_buf_bytes(&b), p);
    EVP_PKEY_free(pub);
    ccc_buf_wipe(&b);
    return st;
}

static int print_json(const char *words, const ccc_policy *p, bool kms)
{
    ccc_buf out;
    ccc_buf_init(&out, 1u << 20);
    ccc_status st = kms ? ccc_policy_kms_conditions(p, &out) : ccc_policy_to_json(p, &out);
    if (st == CCC_OK)
        fwrite(out.data, 1, out.size, stdout);
    ccc_buf_wipe(&out);
    return ccc_cli_report(words, st);
}

static const char template_json[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"measurements\": [\n"
    "    {\"0\": \"<PCR0 hex, 96 digits>\", \"1\": \"<PCR1 hex>\", \"2\": \"<PCR2 hex>\"}\n"
    "  ],\n"
    "  \"egress\": {\"max_answer_bytes\": 512, \"max_boxes\": 64},\n"
    "  \"tou\": {\"max_body_bytes\": 10485760, \"rate_per_minute\": 60},\n"
    "  \"model_manifests\": [\"<SHA-256 of the signed model manifest, 64 hex digits>\"]\n"
    "}\n";

int ccc_cmd_policy_init(int argc, char **argv)
{
    static const char words[] = "policy init";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    static const char *const known[] = {"--key", "--pub", "--out", NULL};
    const char *pos, *key_path = opt(argc, argv, "--key"), *pub_path = opt(argc, argv, "--pub");
    const char *out_path = opt(argc, argv, "--out");
    if (!args_ok(argc, argv, known, &pos) || pos || !key_path || !pub_path)
        return ccc_cli_usage_error(words, "needs --key and --pub");
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ccc_status st = key ? CCC_OK
                        : ccc_error_raise(CCC_ERR_CRYPTO, "Ed25519 key generation failed", false,
                                          0, __FILE__, __LINE__);
    if (st == CCC_OK)
        st = ccc_cose_key_write_pem(key_path, key, true);
    if (st == CCC_OK)
        st = ccc_cose_key_write_pem(pub_path, key, false);
    if (st == CCC_OK && out_path)
        st = ccc_file_write(out_path, template_json, sizeof template_json - 1);
    else if (st == CCC_OK)
        fputs(template_json, stdout);
    EVP_PKEY_free(key);
    if (st == CCC_OK)
        fprintf(stderr, "policy key written to %s (keep it offline), public key to %s\n",
                key_path, pub_path);
    return ccc_cli_report(words, st);
}

int ccc_cmd_policy_sign(int argc, char **argv)
{
    static const char words[] = "policy sign";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    static const char *const known[] = {"--key", "--in", "--out", NULL};
    const char *pos, *key_path = opt(argc, argv, "--key"), *in = opt(argc, argv, "--in");
    const char *out_path = opt(argc, argv, "--out");
    if (!args_ok(argc, argv, known, &pos) || pos || !key_path || !in || !out_path)
        return ccc_cli_usage_error(words, "needs --key, --in and --out");
    ccc_buf json, bundle;
    ccc_buf_init(&json, MAX_FILE);
    ccc_buf_init(&bundle, CCC_POLICY_MAX_BUNDLE_SIZE);
    EVP_PKEY *key = NULL;
    ccc_policy p;
    ccc_status st = ccc_file_read(in, &json);
    if (st == CCC_OK)
        st = ccc_policy_from_json(ccc_buf_bytes(&json), &p);
    if (st == CCC_OK)
        st = load_key(key_path, true, &key);
    if (st == CCC_OK)
        st = ccc_policy_sign(&p, key, &bundle);
    if (st == CCC_OK)
        st = ccc_file_write(out_path, bundle.data, bundle.size);
    if (st == CCC_OK)
        printf("signed policy version %llu (%zu measurement sets) -> %s\n",
               (unsigned long long)p.version, p.set_count, out_path);
    EVP_PKEY_free(key);
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bundle);
    return ccc_cli_report(words, st);
}

int ccc_cmd_policy_show(int argc, char **argv)
{
    static const char words[] = "policy show";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    if (argc != 2)
        return ccc_cli_usage_error(words, "expected exactly one bundle");
    ccc_policy p;
    ccc_status st = open_bundle(argv[1], NULL, &p, NULL);
    if (st != CCC_OK)
        return ccc_cli_report(words, st);
    fprintf(stderr, "NOT VERIFIED: run `ccc policy verify` with the policy public key.\n");
    return print_json(words, &p, false);
}

int ccc_cmd_policy_verify(int argc, char **argv)
{
    static const char words[] = "policy verify";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    static const char *const known[] = {"--pub", "--state", NULL};
    const char *pos, *pub = opt(argc, argv, "--pub"), *state = opt(argc, argv, "--state");
    if (!args_ok(argc, argv, known, &pos) || !pos || !pub)
        return ccc_cli_usage_error(words, "needs a bundle and --pub");
    ccc_policy p;
    uint8_t hash[32];
    char hex[65];
    ccc_status st = open_bundle(pos, pub, &p, hash);
    if (st == CCC_OK && state)
        st = ccc_policy_rollback_check(state, p.version, hash);
    if (st != CCC_OK)
        return ccc_cli_report(words, st);
    ccc_hex_encode(hash, sizeof hash, hex);
    printf("policy bundle VALID: version %llu, %zu measurement sets, %zu model manifests\n"
           "policy hash (sha256 of the payload, extended into PCR17): %s\n%s",
           (unsigned long long)p.version, p.set_count, p.manifest_count, hex,
           state ? "anti-rollback: version recorded in the state file\n"
                 : "anti-rollback: not checked (no --state)\n");
    return 0;
}

int ccc_cmd_policy_kms(int argc, char **argv)
{
    static const char words[] = "policy kms-conditions";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    static const char *const known[] = {"--pub", NULL};
    const char *pos, *pub = opt(argc, argv, "--pub");
    if (!args_ok(argc, argv, known, &pos) || !pos || !pub)
        return ccc_cli_usage_error(words, "needs a bundle and --pub");
    ccc_policy p;
    ccc_status st = open_bundle(pos, pub, &p, NULL);
    if (st != CCC_OK)
        return ccc_cli_report(words, st);
    return print_json(words, &p, true);
}

/* For `attest verify --policy` and `nsm launch --policy`; hash may be NULL. */
ccc_status ccc_cli_policy_load(const char *bundle, const char *pub, ccc_policy *out,
                               uint8_t hash[32])
{
    CCC_ENSURE(pub, CCC_ERR_USAGE, "--policy needs --policy-pub (the policy public key)");
    return open_bundle(bundle, pub, out, hash);
}
