/* The command table and dispatch for `ccc`. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const ccc_cli_command commands[] = {
    {"version", "", "print the version and the crypto library in use", ccc_cmd_version},
    {"up", "[--data DIR] [--port N] [--queue URL] [--detach] [--model-dir DIR] [--static DIR] [--bin-dir DIR] [--ready-timeout S] [-- HOST-OPTIONS...]",
     "start the local stack (key service, simulated NSM + enclave, host) and print its URL",
     ccc_cmd_up},
    {"down", "[--data DIR]", "stop the local stack started by ccc up", ccc_cmd_down},
    {"count",
     "PHOTO... [--server URL] [--trust DIR | --root PEM|aws --policy-pub PEM --kms-pub PEM] "
     "[--state FILE] [--json] [--save DIR] [--timeout S] [--quiet]",
     "count cats in photos in the attested enclave: verify, encrypt, submit, check the receipt",
     ccc_cmd_count},
    {"ohttp demo", "[FILE] [--aead aes-256-gcm|aes-128-gcm|chacha20-poly1305]",
     "watch a file go through OHTTP/HPKE encapsulation and back (one process)",
     ccc_cmd_ohttp_demo},
    {"bench crypto", "[--seconds S | --quick] [--repeats N] [--aead NAME] [--json]",
     "HPKE seal/open throughput vs raw OpenSSL AEAD (1 KB to 10 MB)", ccc_cmd_bench_crypto},
    {"attest verify",
     "DOC [--root PEM|aws] [--at TIME|now] [--pcr N=HEX ...] [--nonce HEX] [--user-data HEX] "
     "[--public-key HEX] [--policy BUNDLE --policy-pub PUB.pem] [--max-age S] [--allow-debug-INSECURE] "
     "[--any-measurement-INSECURE] [--json]",
     "verify a Nitro attestation document: chain, signature, PCRs, nonce, age (every check shown)",
     ccc_cmd_attest_verify},
    {"attest show", "DOC", "decode an attestation document's fields (does not verify)",
     ccc_cmd_attest_show},
    {"bench attest", "[--runs N] [--doc DOC]",
     "median attestation verify time vs the bare OpenSSL P-384 verifications it needs",
     ccc_cmd_bench_attest},
    {"policy init", "--key KEY.pem --pub PUB.pem [--out POLICY.json]",
     "make an Ed25519 policy key pair and a policy template (JSON)", ccc_cmd_policy_init},
    {"policy sign", "--key KEY.pem --in POLICY.json --out BUNDLE",
     "sign a policy (measurement allowlist, egress, TOU, model manifests) into a bundle",
     ccc_cmd_policy_sign},
    {"policy show", "BUNDLE", "decode a policy bundle (does not verify)", ccc_cmd_policy_show},
    {"policy verify", "BUNDLE --pub PUB.pem [--state FILE]",
     "verify a policy bundle's signature; with --state refuse a rollback", ccc_cmd_policy_verify},
    {"policy kms-conditions", "BUNDLE --pub PUB.pem",
     "print the equivalent AWS KMS key-policy conditions (kms:RecipientAttestation:PCRn)",
     ccc_cmd_policy_kms},
    {"receipt verify",
     "RECEIPT --attestation DOC [--root PEM|aws] [--at TIME|now] [--policy BUNDLE --policy-pub PUB.pem] "
     "[--pcr N=HEX ...] [--answer FILE --answer-salt FILE] [--request FILE] [--job-id ID] [--allow-debug-INSECURE] [--json]",
     "check a saved receipt offline: attested enclave key, document, PCRs, policy, answer, request",
     ccc_cmd_receipt_verify},
    {"nsm init", "--dir DIR", "make the simulated NSM's local CA (root to pin: DIR/root.pem)",
     ccc_cmd_nsm_init},
    {"nsm launch",
     "--dir DIR [--manifest-hash HEX] [--policy BUNDLE --policy-pub PUB.pem] -- PROGRAM [ARGS...]",
     "measured launch of PROGRAM under the simulated NSM (serves its requests on fd 3)",
     ccc_cmd_nsm_launch},
    {"nsm request", "[--real] [--nonce HEX] [--user-data HEX] [--public-key HEX] --out FILE",
     "enclave side: ask the NSM (fd 3, or /dev/nsm with --real) for an attestation document",
     ccc_cmd_nsm_request},
    {"detect", "IMAGE... [--threshold T] [--json] [--all] [--model-dir DIR] [--trusted-key PUB.pem] [--manifest FILE] [--threads N] [--raw-out PREFIX]",
     "count cats in photos with the CenterNet detector (locally, no enclave)", ccc_cmd_detect},
    {"bench nn", "[--runs N] [--warmup W] [--threads N] [--isa portable|avx2|avx512] [--model-dir DIR] [--profile] [--compare]",
     "graph interpreter alone on CenterNet: inference median/p95, GFLOP/s, memory, per-op profile",
     ccc_cmd_bench_nn},
    {"bench detect", "IMAGE [--runs N] [--warmup W] [--threads N] [--isa portable|avx2|avx512] [--model-dir DIR] [--no-reference]",
     "detector timings (decode, pre-process, inference, post-process), GFLOP/s, RSS, vs TF.js wasm", ccc_cmd_bench_detect},
    {"bench e2e", "[PHOTO...] [--clients 1,10,50] [--seconds S] [--bare-runs N] [--server URL --trust DIR] [--data DIR] [--port N]",
     "the whole confidential path (own local stack) at 1/10/50 clients vs bare detection: jobs/s, p50/p95, errors, RSS",
     ccc_cmd_bench_e2e},
    {"image ppm", "IMAGE OUT.ppm",
     "decode a JPEG/PNG with the enclave's decoder and write the RGB as binary PPM", ccc_cmd_image_ppm},
    {"image crop", "IN X Y W H OUT.png", "write the W×H rectangle of a photo at (X, Y) as a PNG",
     ccc_cmd_image_crop},
    {"model sign", "--key PRIVATE.pem [--model-dir DIR] [--out FILE]",
     "sign a model manifest (Ed25519 COSE_Sign1) for the files in DIR", ccc_cmd_model_sign},
    {"model verify", "[--model-dir DIR] [--manifest FILE] [--trusted-key PUB.pem]",
     "check model files against the signed manifest (release key unless given)", ccc_cmd_model_verify},
};

static const size_t command_count = sizeof commands / sizeof commands[0];

/* Number of words in a table row ("bench crypto" -> 2). */
static int word_count(const char *words)
{
    int n = 1;
    for (const char *p = words; *p; p++)
        n += (*p == ' ');
    return n;
}

/* Does argv[0..] start with the row's words? */
static bool row_matches(const ccc_cli_command *c, int argc, char **argv)
{
    const char *w = c->words;
    for (int i = 0; i < argc; i++) {
        size_t len = strcspn(w, " ");
        if (strlen(argv[i]) != len || strncmp(argv[i], w, len) != 0)
            return false;
        w += len;
        if (*w == '\0')
            return true;
        w++;
    }
    return false;
}

static void print_table(FILE *out)
{
    fprintf(out, "usage: ccc <command> [options]\n\n"
                 "Confidential Cat Counter: count cats in a photo that only an attested\n"
                 "enclave can read. Commands:\n\n");
    for (size_t i = 0; i < command_count; i++)
        fprintf(out, "  %-22s %s\n", commands[i].words, commands[i].summary);
    fprintf(out, "\nRun `ccc <command> --help` for the options of one command.\n");
}

static const ccc_cli_command *find_row(const char *words)
{
    for (size_t i = 0; i < command_count; i++)
        if (strcmp(commands[i].words, words) == 0)
            return &commands[i];
    return NULL;
}

bool ccc_cli_wants_help(int argc, char **argv, const char *words)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            const ccc_cli_command *c = find_row(words);
            printf("usage: ccc %s %s\n", words, c ? c->args : "");
            if (c)
                printf("\n%s\n", c->summary);
            return true;
        }
    }
    return false;
}

int ccc_cli_usage_error(const char *words, const char *why)
{
    const ccc_cli_command *c = find_row(words);
    fprintf(stderr, "ccc %s: %s\nusage: ccc %s %s\n", words, why, words, c ? c->args : "");
    return ccc_status_exit_code(CCC_ERR_USAGE);
}

int ccc_cli_report(const char *words, ccc_status st)
{
    if (st == CCC_OK)
        return 0;
    fprintf(stderr, "ccc %s: %s error: %s\n", words, ccc_status_name(st), ccc_error_detail());
    return ccc_status_exit_code(st);
}

int ccc_cli_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_table(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return ccc_cmd_version(1, argv);
    const ccc_cli_command *best = NULL;
    int best_words = 0;
    for (size_t i = 0; i < command_count; i++) {
        int n = word_count(commands[i].words);
        if (n > best_words && row_matches(&commands[i], argc - 1, argv + 1)) {
            best = &commands[i];
            best_words = n;
        }
    }
    if (!best) {
        fprintf(stderr, "ccc: unknown command '%s'\n\n", argv[1]);
        print_table(stderr);
        return ccc_status_exit_code(CCC_ERR_USAGE);
    }
    /* argv for the command starts at its last word, like a program name. */
    return best->run(argc - best_words, argv + best_words);
}
