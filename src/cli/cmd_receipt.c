/*
 * ccc receipt verify — check a saved receipt offline.
 *
 *   ccc receipt verify RECEIPT --attestation DOC [--root PEM|aws] [--at TIME|now]
 *       [--policy BUNDLE --policy-pub PUB.pem] [--pcr N=HEX ...]
 *       [--answer FILE --answer-salt FILE] [--request FILE] [--job-id ID]
 *       [--allow-debug-INSECURE] [--json]
 *
 * Two steps, both must pass:
 *   1. the attestation document is authentic (chain to the pinned root at
 *      the document's own time unless --at is given, COSE signature) and its
 *      measurements are accepted: by the signed policy bundle (--policy) or
 *      by --pcr; with neither, the measurements are NOT checked and the
 *      output says so;
 *   2. the receipt is signed by the key in the document's public_key, bound
 *      to this document (hash, PCRs, time), and — when given — to the
 *      policy (its hash and model manifest list), the answer file (with
 *      its salt: the receipt commits to SHA-256(salt || answer), receipt.h),
 *      the request ciphertext file and the job id.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "cli/cli.h"
#include "policy/policy.h"
#include "receipt/receipt.h"
#include "x509/x509.h"

#define MAX_INPUT_FILE (32u * 1024u * 1024u) /* --request: a whole ciphertext */

/* SHA-256 of a whole file. */
static ccc_status hash_file(const char *path, uint8_t out[static 32])
{
    ccc_buf b;
    ccc_buf_init(&b, MAX_INPUT_FILE);
    ccc_status st = ccc_file_read(path, &b);
    if (st == CCC_OK)
        st = ccc_receipt_sha256(ccc_buf_bytes(&b), out);
    ccc_buf_wipe(&b);
    return st;
}

/* The answer's commitment: SHA-256(salt || answer), the salt read as hex
 * from `salt_path` (what `ccc count --save` writes). */
static ccc_status commit_answer(const char *answer_path, const char *salt_path,
                                uint8_t out[static 32])
{
    ccc_buf answer, text;
    ccc_buf_init(&answer, MAX_INPUT_FILE);
    ccc_buf_init_secret(&text, 256);
    uint8_t salt[CCC_RECEIPT_ANSWER_SALT_SIZE];
    size_t n = 0;
    ccc_status st = ccc_file_read(salt_path, &text);
    while (st == CCC_OK && text.size > 0 &&
           (text.data[text.size - 1] == '\n' || text.data[text.size - 1] == '\r'))
        text.size--;
    if (st == CCC_OK)
        st = ccc_buf_u8(&text, 0); /* NUL-terminate for the hex decoder */
    if (st == CCC_OK)
        st = ccc_hex_decode((const char *)text.data, salt, sizeof salt, &n);
    if (st == CCC_OK && n != sizeof salt)
        st = ccc_error_raise(CCC_ERR_PARSE, "--answer-salt must hold 64 hex digits", false, 0,
                             __FILE__, __LINE__);
    if (st == CCC_OK)
        st = ccc_file_read(answer_path, &answer);
    if (st == CCC_OK)
        st = ccc_receipt_answer_commit(salt, ccc_buf_bytes(&answer), out);
    ccc_wipe(salt, sizeof salt);
    ccc_buf_wipe(&text);
    ccc_buf_wipe(&answer);
    return st;
}

static void print_hex_field(const char *name, const uint8_t h[32], bool json, bool comma)
{
    char hex[65];
    ccc_hex_encode(h, 32, hex);
    if (json)
        printf("\"%s\":\"%s\"%s", name, hex, comma ? "," : "");
    else
        printf("%-19s %s\n", name, hex);
}

/* job ids are printable ASCII without space; escape what JSON needs. */
static void print_json_text(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static ccc_status document_unparsed(void)
{
    CCC_BAIL(CCC_ERR_PARSE, "attestation document did not parse");
}

typedef struct verify_outcome {
    ccc_status attest_st, receipt_st;
    char attest_detail[128], receipt_detail[128];
    const char *measurements; /* how PCRs were judged */
} verify_outcome;

static void print_outcome(const ccc_receipt_msg *m, bool parsed, const ccc_attest_report *rep,
                          const verify_outcome *o, bool json)
{
    const ccc_receipt *r = &m->receipt;
    bool valid = o->attest_st == CCC_OK && o->receipt_st == CCC_OK;
    if (json) {
        printf("{\"valid\":%s,\"attestation\":{\"result\":\"%s\",\"measurements\":\"%s\"},"
               "\"receipt\":{\"result\":\"%s\",\"detail\":\"%s\"",
               valid ? "true" : "false", ccc_attest_error_name(rep->result), o->measurements,
               o->receipt_st == CCC_OK ? "ok" : ccc_status_name(o->receipt_st),
               o->receipt_st == CCC_OK ? "" : o->receipt_detail);
        if (parsed) {
            printf(",\"job_id\":");
            print_json_text(r->job_id);
            printf(",\"seq\":%llu,\"time_ms\":%llu,", (unsigned long long)r->seq,
                   (unsigned long long)r->time_ms);
            print_hex_field("request_sha256", r->request_sha256, true, true);
            print_hex_field("answer_sha256", r->answer_sha256, true, true);
            print_hex_field("model_sha256", r->model_sha256, true, true);
            print_hex_field("policy_sha256", r->policy_sha256, true, true);
            print_hex_field("attestation_sha256", r->attestation_sha256, true, false);
        }
        printf("}}\n");
        return;
    }
    if (parsed) {
        printf("%-19s %s\n", "job_id", r->job_id);
        printf("%-19s %llu\n", "seq", (unsigned long long)r->seq);
        printf("%-19s %llu\n", "time_ms", (unsigned long long)r->time_ms);
        print_hex_field("request_sha256", r->request_sha256, false, false);
        print_hex_field("answer_sha256", r->answer_sha256, false, false);
        print_hex_field("model_sha256", r->model_sha256, false, false);
        print_hex_field("policy_sha256", r->policy_sha256, false, false);
        print_hex_field("attestation_sha256", r->attestation_sha256, false, false);
        printf("\n");
    }
    printf("attestation  %s (measurements: %s)\n",
           o->attest_st == CCC_OK ? "ok" : ccc_attest_error_name(rep->result), o->measurements);
    if (o->attest_st != CCC_OK)
        printf("             %s\n", o->attest_detail);
    printf("receipt      %s%s%s\n", o->receipt_st == CCC_OK ? "ok" : ccc_status_name(o->receipt_st),
           o->receipt_st == CCC_OK ? "" : ": ", o->receipt_st == CCC_OK ? "" : o->receipt_detail);
    printf("\nresult       %s\n",
           valid ? "VALID: the receipt binds this answer to this attested enclave" : "INVALID");
}

int ccc_cmd_receipt_verify(int argc, char **argv)
{
    static const char words[] = "receipt verify";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    enum { O_DOC = CCC_CLI_O_OWN, O_ANSWER, O_ANSWER_SALT, O_REQUEST, O_JOB, O_JSON };
    static const struct option opts[] = {
        CCC_CLI_DOC_OPTIONS,
        {"attestation", required_argument, NULL, O_DOC},
        {"answer", required_argument, NULL, O_ANSWER},
        {"answer-salt", required_argument, NULL, O_ANSWER_SALT},
        {"request", required_argument, NULL, O_REQUEST},
        {"job-id", required_argument, NULL, O_JOB},
        {"json", no_argument, NULL, O_JSON},
        {NULL, 0, NULL, 0},
    };
    ccc_status st = CCC_OK;
    int rc = 0;
    const char *doc_path = NULL;
    const char *answer_path = NULL, *salt_path = NULL, *request_path = NULL;
    bool json = false;
    static ccc_policy bundle;
    static ccc_cli_doc_opts d; /* holds the --pcr set that `ap` points at */
    memset(&d, 0, sizeof d);
    bool shared = false;
    ccc_attest_policy ap;
    memset(&ap, 0, sizeof ap);
    ccc_receipt_expect ex;
    memset(&ex, 0, sizeof ex);
    uint8_t policy_hash[32], answer_hash[32], request_hash[32];
    ccc_x509_root *root = NULL;
    ccc_buf rfile, dfile;
    ccc_buf_init(&rfile, CCC_RECEIPT_MAX_SIZE);
    ccc_buf_init(&dfile, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);

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
        case O_DOC:
            doc_path = optarg;
            break;
        case O_ANSWER:
            answer_path = optarg;
            break;
        case O_ANSWER_SALT:
            salt_path = optarg;
            break;
        case O_REQUEST:
            request_path = optarg;
            break;
        case O_JOB:
            ex.job_id = optarg;
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
    if (optind != argc - 1 || !doc_path) {
        rc = ccc_cli_usage_error(words, "expected one RECEIPT and --attestation DOC");
        goto out;
    }
    if (salt_path && !answer_path) {
        rc = ccc_cli_usage_error(words, "--answer-salt goes with --answer");
        goto out;
    }
    verify_outcome o = {.measurements = "NOT CHECKED (give --policy or --pcr)"};
    const char *source = NULL;
    st = ccc_cli_doc_apply(&d, &bundle, policy_hash, &ap, &source);
    if (st != CCC_OK) {
        rc = st == CCC_ERR_USAGE ? ccc_cli_usage_error(words, ccc_error_detail())
                                 : ccc_cli_report(words, st);
        goto out;
    }
    if (source && strcmp(source, "policy") == 0) {
        ex.policy_sha256 = policy_hash;
        ex.model_allowed = (const uint8_t(*)[32])bundle.manifests;
        ex.model_allowed_count = bundle.manifest_count;
        o.measurements = "accepted by the signed policy";
    } else if (source) {
        o.measurements = "equal to --pcr";
    } else {
        ap.allow_any_measurement_INSECURE = true;
    }
    if (answer_path && !salt_path) {
        rc = ccc_cli_usage_error(words, "--answer needs --answer-salt (ccc count --save writes "
                                        "both; the receipt commits to the salted answer)");
        goto out;
    }
    if (answer_path) {
        st = commit_answer(answer_path, salt_path, answer_hash);
        ex.answer_sha256 = answer_hash;
    }
    if (st == CCC_OK && request_path) {
        st = hash_file(request_path, request_hash);
        ex.request_sha256 = request_hash;
    }
    if (st == CCC_OK)
        st = ccc_cli_load_root(d.root, &root);
    if (st == CCC_OK)
        st = ccc_file_read(doc_path, &dfile);
    if (st == CCC_OK)
        st = ccc_file_read(argv[optind], &rfile);
    if (st != CCC_OK) {
        rc = ccc_cli_report(words, st);
        goto out;
    }

    /* 1. the document */
    ccc_attest_report rep;
    memset(&rep, 0, sizeof rep);
    bool doc_parsed = ccc_attest_doc_parse(&doc, ccc_buf_bytes(&dfile), NULL) == CCC_OK;
    o.attest_st = doc_parsed ? ccc_attest_verify(&doc, root, &ap, &rep)
                             : ccc_attest_verify_bytes(ccc_buf_bytes(&dfile), root, &ap, &rep);
    snprintf(o.attest_detail, sizeof o.attest_detail, "%s", ccc_error_detail());
    /* 2. the receipt (checked even when 1 failed, for the report) */
    o.receipt_st = ccc_receipt_parse(&m, ccc_buf_bytes(&rfile));
    bool parsed = o.receipt_st == CCC_OK;
    if (parsed && doc_parsed)
        o.receipt_st = ccc_receipt_verify(&m, &doc, &ex);
    else if (parsed)
        o.receipt_st = document_unparsed();
    snprintf(o.receipt_detail, sizeof o.receipt_detail, "%s", ccc_error_detail());
    print_outcome(&m, parsed, &rep, &o, json);
    st = o.attest_st != CCC_OK ? o.attest_st : o.receipt_st;
    rc = ccc_status_exit_code(st);
out:
    ccc_receipt_msg_wipe(&m);
    ccc_attest_doc_wipe(&doc);
    ccc_buf_wipe(&rfile);
    ccc_buf_wipe(&dfile);
    ccc_x509_root_free(root);
    return rc;
}
