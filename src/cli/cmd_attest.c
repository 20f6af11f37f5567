/*
 * ccc attest verify | attest show | bench attest — the attestation verifier
 * from the command line.
 *
 *   ccc attest verify DOC [--root PEM] [--at TIME|now] [--pcr N=HEX ...]
 *                         [--nonce HEX] [--user-data HEX] [--public-key HEX]
 *                         [--policy BUNDLE --policy-pub PUB.pem]
 *                         [--max-age SECONDS] [--allow-debug-INSECURE]
 *                         [--any-measurement-INSECURE] [--json]
 *
 * prints every check and its outcome, and exits 0 only if the document is
 * authentic (chain to the pinned root, valid at the time, signed by the
 * leaf) AND satisfies the policy. Without --pcr the measurement check fails
 * (an empty allowlist is an error), unless --any-measurement-INSECURE says
 * to skip it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "attest/attest.h"
#include "cli/cli.h"
#include "policy/policy.h"
#include "x509/x509.h"

#define MAX_DOC_FILE (1u << 20)

/* "2024-09-07T14:37:39.545Z" */
static void format_ms(uint64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000u);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000u));
}

/* now | unix milliseconds | YYYY-MM-DDTHH:MM:SS[.mmm]Z */
ccc_status ccc_cli_parse_time(const char *v, uint64_t *ms)
{
    if (strcmp(v, "now") == 0) {
        *ms = ccc_wall_ms();
        return CCC_OK;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    unsigned frac = 0;
    int used = 0;
    if (sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) == 6) {
        const char *rest = v + used;
        int n2 = 0;
        if (*rest == '.' && sscanf(rest, ".%3u%n", &frac, &n2) == 1)
            rest += n2;
        CCC_ENSURE(strcmp(rest, "Z") == 0, CCC_ERR_USAGE,
                   "time must be now, unix milliseconds or YYYY-MM-DDTHH:MM:SS[.mmm]Z");
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t t = timegm(&tm);
        CCC_ENSURE(t >= 0, CCC_ERR_USAGE, "time before 1970");
        *ms = (uint64_t)t * 1000u + frac;
        return CCC_OK;
    }
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    CCC_ENSURE(end && *end == '\0' && end != v, CCC_ERR_USAGE,
               "time must be now, unix milliseconds or YYYY-MM-DDTHH:MM:SS[.mmm]Z");
    *ms = x;
    return CCC_OK;
}

/* Untrusted text (module_id, certificate names) printed only if plain. */
static const char *safe_text(const uint8_t *p, size_t n, char *out, size_t out_size)
{
    if (n == 0 || n >= out_size)
        return "<invalid>";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._-:=, /", c)))
            return "<invalid>";
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

ccc_status ccc_cli_load_root(const char *path, ccc_x509_root **root)
{
    if (!path || strcmp(path, "aws") == 0)
        return ccc_attest_aws_root(root);
    ccc_buf pem;
    ccc_buf_init(&pem, 64u * 1024u);
    ccc_status st = ccc_file_read(path, &pem);
    if (st == CCC_OK)
        st = ccc_x509_root_new_pem(ccc_buf_bytes(&pem), root);
    ccc_buf_wipe(&pem);
    return st;
}

/* Bytes from hex for --nonce etc. (kept in a static-size heap buffer). */
static ccc_status parse_hex_arg(const char *hex, uint8_t **out, size_t *size)
{
    size_t cap = strlen(hex) / 2 + 1;
    CCC_ENSURE(cap <= CCC_ATTEST_MAX_USER_SIZE + 1, CCC_ERR_USAGE, "value over 1024 bytes");
    free(*out);
    *out = malloc(cap);
    CCC_ENSURE(*out, CCC_ERR_NOMEM, "out of memory");
    return ccc_hex_decode(hex, *out, cap, size);
}

/* --pcr N=HEX */
ccc_status ccc_cli_parse_pcr_arg(const char *arg, ccc_attest_pcr_set *set)
{
    char *end = NULL;
    unsigned long idx = strtoul(arg, &end, 10);
    CCC_ENSURE(end && end != arg && *end == '=', CCC_ERR_USAGE, "--pcr wants N=HEX");
    uint8_t v[CCC_ATTEST_MAX_PCR_SIZE];
    size_t n = 0;
    CCC_GUARD(ccc_hex_decode(end + 1, v, sizeof v, &n));
    CCC_ENSURE(idx < CCC_ATTEST_PCR_COUNT, CCC_ERR_USAGE, "PCR index must be below 32");
    return ccc_attest_pcr_set_add(set, (uint32_t)idx, ccc_bytes_of(v, n));
}

static void print_report_text(const char *path, const ccc_attest_doc *doc, size_t size,
                              const ccc_attest_report *rep, const char *root_desc)
{
    char t[32], id[300];
    printf("document     %s (%zu bytes)\n", path, size);
    if (doc) {
        format_ms(doc->timestamp_ms, t);
        printf("module_id    %s\n",
               safe_text(doc->module_id.ptr, doc->module_id.size, id, sizeof id));
        printf("timestamp    %s\n", t);
    }
    format_ms(rep->verified_at_ms, t);
    if (doc)
        printf("verified at  %s (%s)\n", t,
               rep->time_from_document ? "the document's own timestamp" : "given with --at");
    printf("pinned root  %s\n\n", root_desc);
    for (int i = 0; i < CCC_ATTEST_CHECK_COUNT; i++) {
        const ccc_attest_check *c = &rep->checks[i];
        printf("  %-8s %-11s %s", ccc_attest_outcome_name(c->outcome),
               ccc_attest_check_name((ccc_attest_check_id)i), c->detail);
        if (c->outcome == CCC_ATTEST_FAIL)
            printf(" [%s]", ccc_attest_error_name(c->error));
        printf("\n");
    }
    printf("\nresult       %s\n", rep->result == CCC_ATTEST_OK
                                        ? "VALID: authentic and within the policy"
                                        : ccc_attest_error_name(rep->result));
}

static void print_report_json(const char *path, const ccc_attest_report *rep)
{
    (void)path; /* a user path may hold any character: not echoed */
    char t[32];
    format_ms(rep->verified_at_ms, t);
    printf("{\"valid\":%s,\"result\":\"%s\",\"verified_at\":\"%s\",\"time_from_document\":%s,"
           "\"checks\":[",
           rep->result == CCC_ATTEST_OK ? "true" : "false", ccc_attest_error_name(rep->result),
           t, rep->time_from_document ? "true" : "false");
    for (int i = 0; i < CCC_ATTEST_CHECK_COUNT; i++) {
        const ccc_attest_check *c = &rep->checks[i];
        /* details are our own literals (plus a number): no quotes inside */
        printf("%s{\"check\":\"%s\",\"outcome\":\"%s\",\"error\":\"%s\",\"detail\":\"%s\"}",
               i ? "," : "", ccc_attest_check_name((ccc_attest_check_id)i),
               ccc_attest_outcome_name(c->outcome), ccc_attest_error_name(c->error), c->detail);
    }
    printf("]}\n");
}

ccc_status ccc_cli_doc_opt(ccc_cli_doc_opts *o, int code, const char *arg, bool *handled)
{
    *handled = true;
    switch (code) {
    case CCC_CLI_O_ROOT: o->root = arg; return CCC_OK;
    case CCC_CLI_O_AT: o->has_time = true; return ccc_cli_parse_time(arg, &o->at_ms);
    case CCC_CLI_O_PCR: return ccc_cli_parse_pcr_arg(arg, &o->set);
    case CCC_CLI_O_POLICY: o->policy = arg; return CCC_OK;
    case CCC_CLI_O_POLICY_PUB: o->policy_pub = arg; return CCC_OK;
    case CCC_CLI_O_DEBUG: o->allow_debug = true; return CCC_OK;
    default: *handled = false; return CCC_OK;
    }
}

ccc_status ccc_cli_doc_apply(ccc_cli_doc_opts *o, ccc_policy *bundle, uint8_t hash[32],
                             ccc_attest_policy *ap, const char **source)
{
    *source = NULL;
    CCC_ENSURE(!(o->set.count > 0 && o->policy), CCC_ERR_USAGE, "give --pcr or --policy, not both");
    ap->has_time = o->has_time;
    ap->at_ms = o->at_ms;
    ap->allow_debug_INSECURE = o->allow_debug;
    if (o->policy) {
        /* The signed bundle's measurement sets (blue/green) are the allowlist. */
        CCC_GUARD(ccc_cli_policy_load(o->policy, o->policy_pub, bundle, hash));
        ccc_policy_to_attest(bundle, ap);
        *source = "policy";
    } else if (o->set.count > 0) {
        ap->sets = &o->set;
        ap->set_count = 1;
        *source = "pcr";
    }
    return CCC_OK;
}

int ccc_cmd_attest_verify(int argc, char **argv)
{
    static const char words[] = "attest verify";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    enum { O_NONCE = CCC_CLI_O_OWN, O_UD, O_PK, O_AGE, O_ANY, O_JSON };
    static const struct option opts[] = {
        CCC_CLI_DOC_OPTIONS,
        {"nonce", required_argument, NULL, O_NONCE},
        {"user-data", required_argument, NULL, O_UD},
        {"public-key", required_argument, NULL, O_PK},
        {"max-age", required_argument, NULL, O_AGE},
        {"any-measurement-INSECURE", no_argument, NULL, O_ANY},
        {"json", no_argument, NULL, O_JSON},
        {NULL, 0, NULL, 0},
    };
    ccc_status st = CCC_OK;
    int rc = 0;
    bool json = false, shared = false;
    static ccc_policy bundle;
    static ccc_cli_doc_opts d; /* holds the --pcr set that `p` points at */
    memset(&d, 0, sizeof d);
    uint64_t max_age_ms = 0;
    bool any = false;
    ccc_attest_policy p;
    memset(&p, 0, sizeof p);
    uint8_t *nonce = NULL, *ud = NULL, *pk = NULL;
    size_t nonce_size = 0, ud_size = 0, pk_size = 0;
    ccc_x509_root *root = NULL;
    ccc_buf file;
    ccc_buf_init(&file, MAX_DOC_FILE);
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        st = ccc_cli_doc_opt(&d, c, optarg, &shared);
        if (shared) {
            if (st != CCC_OK) {
                rc = ccc_cli_report(words, st);
                goto out;
            }
            continue;
        }
        switch (c) {
        case O_NONCE:
            st = parse_hex_arg(optarg, &nonce, &nonce_size);
            break;
        case O_UD:
            st = parse_hex_arg(optarg, &ud, &ud_size);
            break;
        case O_PK:
            st = parse_hex_arg(optarg, &pk, &pk_size);
            break;
        case O_AGE: {
            char *end = NULL;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (!end || *end || s == 0 || s > 86400ull * 365)
                st = ccc_error_raise(CCC_ERR_USAGE, "--max-age wants seconds (1..31536000)",
                                     false, 0, __FILE__, __LINE__);
            max_age_ms = s * 1000u;
            break;
        }
        case O_ANY:
            any = true;
            break;
        case O_JSON:
            json = true;
            break;
        default:
            rc = ccc_cli_usage_error(words, "unknown option");
            goto out;
        }
        if (st != CCC_OK) {
            rc = ccc_cli_report(words, st);
            goto out;
        }
    }
    if (optind != argc - 1) {
        rc = ccc_cli_usage_error(words, "expected exactly one document");
        goto out;
    }
    const char *path = argv[optind];
    const char *source = NULL;
    uint8_t policy_hash[32];
    st = ccc_cli_doc_apply(&d, &bundle, policy_hash, &p, &source);
    if (st != CCC_OK) {
        rc = st == CCC_ERR_USAGE ? ccc_cli_usage_error(words, ccc_error_detail())
                                 : ccc_cli_report(words, st);
        goto out;
    }
    p.max_age_ms = max_age_ms;
    p.allow_any_measurement_INSECURE = any;
    if (nonce)
        p.nonce = ccc_bytes_of(nonce, nonce_size);
    if (ud)
        p.user_data = ccc_bytes_of(ud, ud_size);
    if (pk)
        p.public_key = ccc_bytes_of(pk, pk_size);
    st = ccc_cli_load_root(d.root, &root);
    if (st == CCC_OK)
        st = ccc_file_read(path, &file);
    if (st != CCC_OK) {
        rc = ccc_cli_report(words, st);
        goto out;
    }
    uint8_t fp[32];
    char fp_hex[65], root_desc[160];
    ccc_x509_root_sha256(root, fp);
    ccc_hex_encode(fp, sizeof fp, fp_hex);
    snprintf(root_desc, sizeof root_desc, "%s (sha256 %.16s...)",
             d.root ? "given with --root" : "AWS Nitro Enclaves root G1 (compiled in)", fp_hex);

    ccc_attest_report rep;
    ccc_attest_error why = CCC_ATTEST_OK;
    bool parsed = ccc_attest_doc_parse(&doc, ccc_buf_bytes(&file), &why) == CCC_OK;
    if (parsed)
        st = ccc_attest_verify(&doc, root, &p, &rep);
    else
        st = ccc_attest_verify_bytes(ccc_buf_bytes(&file), root, &p, &rep);
    if (json)
        print_report_json(path, &rep);
    else
        print_report_text(path, parsed ? &doc : NULL, file.size, &rep, root_desc);
    rc = st == CCC_OK ? 0 : ccc_cli_report(words, st);
out:
    ccc_attest_doc_wipe(&doc);
    ccc_buf_wipe(&file);
    ccc_x509_root_free(root);
    free(nonce);
    free(ud);
    free(pk);
    return rc;
}

static void print_hex_field(const char *name, bool has, ccc_bytes v)
{
    if (!has) {
        printf("%-12s null\n", name);
        return;
    }
    char hex[65];
    size_t n = v.size < 32 ? v.size : 32;
    ccc_hex_encode(v.ptr, n, hex);
    printf("%-12s %zu bytes: %s%s\n", name, v.size, hex, v.size > 32 ? "..." : "");
}

static void print_cert_line(const char *label, ccc_bytes der)
{
    const unsigned char *p = der.ptr;
    X509 *x = d2i_X509(NULL, &p, (long)der.size);
    char buf[256] = "<does not parse>", safe[256];
    const char *shown = buf;
    if (x) {
        X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
        shown = safe_text((const uint8_t *)buf, strlen(buf), safe, sizeof safe);
        X509_free(x);
    }
    uint8_t h[32];
    char hex[17];
    SHA256(der.ptr, der.size, h);
    ccc_hex_encode(h, 8, hex);
    printf("%-12s %zu bytes, sha256 %s..., subject %s\n", label, der.size, hex, shown);
}

int ccc_cmd_attest_show(int argc, char **argv)
{
    static const char words[] = "attest show";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    if (argc != 2)
        return ccc_cli_usage_error(words, "expected exactly one document");
    ccc_buf file;
    ccc_buf_init(&file, MAX_DOC_FILE);
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    ccc_attest_error why = CCC_ATTEST_OK;
    ccc_status st = ccc_file_read(argv[1], &file);
    if (st == CCC_OK)
        st = ccc_attest_doc_parse(&doc, ccc_buf_bytes(&file), &why);
    if (st != CCC_OK) {
        if (why != CCC_ATTEST_OK)
            fprintf(stderr, "ccc attest show: %s\n", ccc_attest_error_name(why));
        int rc = ccc_cli_report(words, st);
        ccc_buf_wipe(&file);
        return rc;
    }
    char t[32], id[300];
    uint8_t h[32];
    char hex[65];
    SHA256(file.data, file.size, h);
    ccc_hex_encode(h, sizeof h, hex);
    format_ms(doc.timestamp_ms, t);
    printf("NOT VERIFIED: decoded fields only; run `ccc attest verify` to check them.\n\n");
    printf("%-12s %zu bytes, sha256 %s\n", "document", file.size, hex);
    printf("%-12s %s\n", "envelope", doc.cose.tagged ? "COSE_Sign1 (tag 18)" : "COSE_Sign1 (untagged)");
    printf("%-12s ES384, signature %zu bytes\n", "alg", doc.cose.signature.size);
    printf("%-12s %s\n", "module_id", safe_text(doc.module_id.ptr, doc.module_id.size, id, sizeof id));
    printf("%-12s SHA384\n", "digest");
    printf("%-12s %s (%llu ms)\n", "timestamp", t, (unsigned long long)doc.timestamp_ms);
    printf("%-12s %zu%s\n", "pcrs", doc.pcr_count,
           ccc_attest_doc_is_debug(&doc) ? "  (PCR0/1/2 all zero: DEBUG MODE)" : "");
    for (int i = 0; i < CCC_ATTEST_PCR_COUNT; i++) {
        if (!doc.pcrs[i].present)
            continue;
        char pcr[129];
        ccc_hex_encode(doc.pcrs[i].value.ptr, doc.pcrs[i].value.size, pcr);
        printf("  PCR%-3d %s\n", i, pcr);
    }
    print_cert_line("certificate", doc.certificate);
    for (size_t i = 0; i < doc.cabundle_count; i++) {
        char label[32];
        snprintf(label, sizeof label, "cabundle[%zu]", i);
        print_cert_line(label, doc.cabundle[i]);
    }
    print_hex_field("public_key", doc.has_public_key, doc.public_key);
    print_hex_field("user_data", doc.has_user_data, doc.user_data);
    print_hex_field("nonce", doc.has_nonce, doc.nonce);
    ccc_attest_doc_wipe(&doc);
    ccc_buf_wipe(&file);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* ccc bench attest                                                          */
/* ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The signatures the verifier checks, prepared once, checked bare. */
typedef struct bare_sigs {
    X509 *certs[CCC_ATTEST_MAX_CABUNDLE + 1]; /* cabundle..., leaf */
    EVP_PKEY *keys[CCC_ATTEST_MAX_CABUNDLE + 1];
    size_t count;
    ccc_buf tbs;        /* COSE Sig_structure */
    uint8_t der[128];   /* COSE signature as DER ECDSA-Sig-Value */
    size_t der_size;
} bare_sigs;

static ccc_status bare_prepare(const ccc_attest_doc *doc, bare_sigs *b)
{
    memset(b, 0, sizeof *b);
    ccc_buf_init(&b->tbs, 1u << 16);
    for (size_t i = 0; i <= doc->cabundle_count; i++) {
        ccc_bytes der = i < doc->cabundle_count ? doc->cabundle[i] : doc->certificate;
        const unsigned char *p = der.ptr;
        b->certs[i] = d2i_X509(NULL, &p, (long)der.size);
        CCC_ENSURE(b->certs[i], CCC_ERR_PARSE, "certificate does not parse");
        b->keys[i] = X509_get_pubkey(b->certs[i]);
        CCC_ENSURE(b->keys[i], CCC_ERR_PARSE, "certificate key does not parse");
        b->count++;
    }
    CCC_GUARD(ccc_cose_sig_structure(doc->cose.protected_raw, ccc_bytes_of(NULL, 0),
                                     doc->cose.payload, &b->tbs));
    CCC_ENSURE(doc->cose.signature.size == 96, CCC_ERR_CRYPTO, "not an ES384 signature");
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(doc->cose.signature.ptr, 48, NULL);
    BIGNUM *s = BN_bin2bn(doc->cose.signature.ptr + 48, 48, NULL);
    unsigned char *out = b->der;
    bool ok = sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1;
    if (ok) {
        r = s = NULL;
        int n = i2d_ECDSA_SIG(sig, &out);
        ok = n > 0 && (size_t)n <= sizeof b->der;
        b->der_size = ok ? (size_t)n : 0;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    CCC_ENSURE(ok, CCC_ERR_CRYPTO, "cannot encode the signature");
    return CCC_OK;
}

static void bare_free(bare_sigs *b)
{
    for (size_t i = 0; i < b->count; i++) {
        X509_free(b->certs[i]);
        EVP_PKEY_free(b->keys[i]);
    }
    ccc_buf_wipe(&b->tbs);
}

/* One round of the signature checks the verifier needs: each certificate
 * below the root by its issuer's key (the pinned root's self-signature is
 * not checked by the verifier either), then the COSE signature. */
static bool bare_round(const bare_sigs *b)
{
    bool ok = true;
    for (size_t i = 1; i < b->count; i++)
        ok &= X509_verify(b->certs[i], b->keys[i - 1]) == 1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ok &= md && EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, b->keys[b->count - 1]) == 1 &&
          EVP_DigestVerify(md, b->der, b->der_size, b->tbs.data, b->tbs.size) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

int ccc_cmd_bench_attest(int argc, char **argv)
{
    static const char words[] = "bench attest";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    int runs = 200;
    const char *path = CCC_SOURCE_DIR "/tests/vectors/nitro/attestation-blocky-2024-09-07.cbor";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--doc") == 0 && i + 1 < argc)
            path = argv[++i];
        else
            return ccc_cli_usage_error(words, "unknown option");
    }
    if (runs < 5 || runs > 100000)
        return ccc_cli_usage_error(words, "--runs must be 5..100000");
    ccc_buf file;
    ccc_buf_init(&file, MAX_DOC_FILE);
    ccc_x509_root *root = NULL;
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    bare_sigs bare;
    memset(&bare, 0, sizeof bare);
    uint64_t *t_full = calloc((size_t)runs, sizeof *t_full);
    uint64_t *t_bare = calloc((size_t)runs, sizeof *t_bare);
    int rc = 0;
    ccc_status st = t_full && t_bare ? CCC_OK : CCC_ERR_NOMEM;
    if (st == CCC_OK)
        st = ccc_file_read(path, &file);
    if (st == CCC_OK)
        st = ccc_attest_aws_root(&root);
    if (st == CCC_OK)
        st = ccc_attest_doc_parse(&doc, ccc_buf_bytes(&file), NULL);
    if (st == CCC_OK)
        st = bare_prepare(&doc, &bare);
    if (st != CCC_OK) {
        rc = ccc_cli_report(words, st);
        goto out;
    }
    /* The policy: the document's own PCR0..2 (so every check runs). */
    ccc_attest_pcr_set set;
    memset(&set, 0, sizeof set);
    for (uint32_t i = 0; i < 3; i++)
        if (doc.pcrs[i].present && ccc_attest_pcr_set_add(&set, i, doc.pcrs[i].value) != CCC_OK)
            goto out;
    ccc_attest_policy p;
    memset(&p, 0, sizeof p);
    p.sets = &set;
    p.set_count = 1;
    /* Interleave the two measurements so drift affects both alike. */
    for (int i = 0; i < runs; i++) {
        ccc_attest_report rep;
        uint64_t t0 = ccc_now_ns();
        st = ccc_attest_verify_bytes(ccc_buf_bytes(&file), root, &p, &rep);
        uint64_t t1 = ccc_now_ns();
        bool ok = bare_round(&bare);
        uint64_t t2 = ccc_now_ns();
        if (st != CCC_OK || !ok) {
            rc = ccc_cli_report(words, st != CCC_OK ? st : CCC_ERR_CRYPTO);
            goto out;
        }
        t_full[i] = t1 - t0;
        t_bare[i] = t2 - t1;
    }
    qsort(t_full, (size_t)runs, sizeof *t_full, cmp_u64);
    qsort(t_bare, (size_t)runs, sizeof *t_bare, cmp_u64);
    double full = (double)t_full[runs / 2] / 1e6, bare_ms = (double)t_bare[runs / 2] / 1e6;
    printf("attestation verify, %d runs (document %zu bytes, chain of %zu certificates)\n", runs,
           file.size, bare.count);
    printf("  full verify (parse + chain + COSE + policy)  median %.3f ms\n", full);
    printf("  bare OpenSSL P-384 verifications (%zu: %zu certificates + COSE)  median %.3f ms\n",
           bare.count, bare.count - 1, bare_ms);
    printf("  ratio %.2fx (bar: 1.5x)\n", full / bare_ms);
out:
    bare_free(&bare);
    free(t_full);
    free(t_bare);
    ccc_attest_doc_wipe(&doc);
    ccc_x509_root_free(root);
    ccc_buf_wipe(&file);
    return rc;
}
