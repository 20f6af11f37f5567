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
