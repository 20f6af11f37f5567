/*
 * cli — the `ccc` command table.
 *
 * Every command is one row {words, args, summary, run}; `ccc --help` and
 * `ccc help` print the table, and dispatch matches the longest row whose
 * words equal the leading arguments ("bench crypto", "attest verify").
 * A command's run() gets argv starting at its last word, so getopt works as
 * usual, and returns a process exit code (see ccc_status_exit_code).
 *
 * To add a command: write cmd_<name>.c in this folder with its run
 * function, declare it below, and add one row to the table in cli.c.
 */
#ifndef CCC_CLI_H
#define CCC_CLI_H

#include <stdbool.h>

#include "attest/attest.h"
#include "base/base.h"

typedef int (*ccc_cli_run_fn)(int argc, char **argv);

typedef struct ccc_cli_command {
    const char *words;   /* "bench crypto" */
    const char *args;    /* "[--seconds S]" */
    const char *summary; /* one line */
    ccc_cli_run_fn run;
} ccc_cli_command;

/* Entry point of the `ccc` program. */
int ccc_cli_main(int argc, char **argv);

/*
 * Print "ccc <words>: <class>: <detail>" for a failed status to stderr and
 * return the status's exit code. The detail never carries payload bytes.
 */
int ccc_cli_report(const char *words, ccc_status st);

/* True if argv has -h or --help; prints "usage: ccc <words> <args>" and summary. */
bool ccc_cli_wants_help(int argc, char **argv, const char *words);

/* Print the usage line of one command to stderr and return exit code 2. */
int ccc_cli_usage_error(const char *words, const char *why);

/* Commands (one run function each). */
int ccc_cmd_version(int argc, char **argv);
int ccc_cmd_ohttp_demo(int argc, char **argv);
int ccc_cmd_bench_crypto(int argc, char **argv);
int ccc_cmd_attest_verify(int argc, char **argv);
int ccc_cmd_attest_show(int argc, char **argv);
int ccc_cmd_bench_attest(int argc, char **argv);
int ccc_cmd_policy_init(int argc, char **argv);
int ccc_cmd_policy_sign(int argc, char **argv);
int ccc_cmd_policy_show(int argc, char **argv);
int ccc_cmd_policy_verify(int argc, char **argv);
int ccc_cmd_policy_kms(int argc, char **argv);
int ccc_cmd_receipt_verify(int argc, char **argv);
/* Shared by `attest verify` and `receipt verify` (cmd_attest.c):
 * --at: now | unix milliseconds | YYYY-MM-DDTHH:MM:SS[.mmm]Z;
 * --root: NULL or "aws" (compiled-in AWS root) or a PEM file;
 * --pcr N=HEX: added to one measurement set. */
struct ccc_x509_root;
struct ccc_attest_pcr_set;
CCC_MUST_USE ccc_status ccc_cli_parse_time(const char *v, uint64_t *ms);
CCC_MUST_USE ccc_status ccc_cli_load_root(const char *path, struct ccc_x509_root **root);
CCC_MUST_USE ccc_status ccc_cli_parse_pcr_arg(const char *arg, struct ccc_attest_pcr_set *set);
/*
 * The document-check options `attest verify` and `receipt verify` share
 * (cmd_attest.c): --root, --at, --pcr, --policy, --policy-pub and
 * --allow-debug-INSECURE. A command puts CCC_CLI_DOC_OPTIONS in its getopt
 * table (its own codes start at CCC_CLI_O_OWN), passes every code to
 * ccc_cli_doc_opt, and after parsing calls ccc_cli_doc_apply.
 */
struct ccc_policy;
enum {
    CCC_CLI_O_ROOT = 256,
    CCC_CLI_O_AT,
    CCC_CLI_O_PCR,
    CCC_CLI_O_POLICY,
    CCC_CLI_O_POLICY_PUB,
    CCC_CLI_O_DEBUG,
    CCC_CLI_O_OWN
};
#define CCC_CLI_DOC_OPTIONS                                                                        \
    {"root", required_argument, NULL, CCC_CLI_O_ROOT}, {"at", required_argument, NULL, CCC_CLI_O_AT}, \
        {"pcr", required_argument, NULL, CCC_CLI_O_PCR},                                           \
        {"policy", required_argument, NULL, CCC_CLI_O_POLICY},                                     \
        {"policy-pub", required_argument, NULL, CCC_CLI_O_POLICY_PUB},                             \
        {"allow-debug-INSECURE", no_argument, NULL, CCC_CLI_O_DEBUG}

typedef struct ccc_cli_doc_opts {
    const char *root;       /* NULL: the AWS root (ccc_cli_load_root)  */
    const char *policy;     /* signed policy bundle                     */
    const char *policy_pub;
    ccc_attest_pcr_set set; /* --pcr N=HEX ...                          */
    bool has_time;
    uint64_t at_ms;
    bool allow_debug;
} ccc_cli_doc_opts;

/* One getopt code: *handled tells whether it was a shared option. */
CCC_MUST_USE ccc_status ccc_cli_doc_opt(ccc_cli_doc_opts *o, int code, const char *arg,
                                        bool *handled);
/*
 * Into `ap`: the time, debug permission and the measurements — the signed
 * policy's sets (loaded into `bundle`, its hash into `hash`) or the --pcr
 * set, never both (CCC_ERR_USAGE). *source: "policy", "pcr" or NULL (no
 * measurements given). `ap` must stay next to `o` (it points at o->set).
 */
CCC_MUST_USE ccc_status ccc_cli_doc_apply(ccc_cli_doc_opts *o, struct ccc_policy *bundle,
                                          uint8_t hash[32], ccc_attest_policy *ap,
                                          const char **source);
/* Read and verify a policy bundle for `attest verify --policy` and
 * `nsm launch --policy` (cmd_policy.c); `hash` (may be NULL) receives the
 * policy hash. */
struct ccc_policy;
CCC_MUST_USE ccc_status ccc_cli_policy_load(const char *bundle, const char *pub,
                                            struct ccc_policy *out, uint8_t hash[32]);
int ccc_cmd_nsm_init(int argc, char **argv);
int ccc_cmd_nsm_launch(int argc, char **argv);
int ccc_cmd_nsm_request(int argc, char **argv);
int ccc_cmd_detect(int argc, char **argv);
int ccc_cmd_bench_detect(int argc, char **argv);
int ccc_cmd_bench_nn(int argc, char **argv);
int ccc_cmd_image_ppm(int argc, char **argv);
int ccc_cmd_image_crop(int argc, char **argv);
int ccc_cmd_model_sign(int argc, char **argv);
int ccc_cmd_model_verify(int argc, char **argv);
int ccc_cmd_up(int argc, char **argv);
int ccc_cmd_bench_e2e(int argc, char **argv);
int ccc_cmd_down(int argc, char **argv);
int ccc_cmd_count(int argc, char **argv);

#endif /* CCC_CLI_H */
