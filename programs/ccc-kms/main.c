/* ccc-kms — the attestation-gated key service. A thin main over src/kms:
 * argument handling here, everything else in the library (the root is
 * loaded by src/cli's shared ccc_cli_load_root: "aws" or a PEM file). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "cli/cli.h"
#include "kms/kms.h"
#include "log/log.h"

static const char usage[] =
    "usage: ccc-kms --state DIR --init\n"
    "       ccc-kms --state DIR --rotate | --retire\n"
    "       ccc-kms --state DIR --policy BUNDLE --policy-pub PEM --root PEM|aws\n"
    "               --listen unix:PATH|A.B.C.D:PORT [--max-age-ms N]\n"
    "\n"
    "The attestation-gated key service: releases the HPKE service keys only to\n"
    "an enclave whose fresh attestation document verifies against the pinned\n"
    "root and whose PCRs are in the signed policy bundle, sealed to the key in\n"
    "that document. Serves key_request frames (see src/kms/kms.h).\n"
    "\n"
    "  --state DIR     key store (storage.key, state.cbor; mode 0600)\n"
    "  --init          create the store if missing, print the kms public key (PEM)\n"
    "  --rotate        make a new current key (the old one stays live)\n"
    "  --retire        drop the previous key\n"
    "  --policy FILE   signed policy bundle to enforce\n"
    "  --policy-pub F  the policy key (PEM) that signed it\n"
    "  --root PEM|aws  pinned attestation root: the simulated NSM's root.pem\n"
    "                  locally, 'aws' for the AWS Nitro root\n"
    "  --listen ADDR   unix:PATH or A.B.C.D:PORT\n"
    "  --max-age-ms N  oldest accepted attestation document (default 60000)\n"
    "\n"
    "At start the signed key configuration is written to DIR/config.cose.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int fail(ccc_status st, const char *what)
{
    fprintf(stderr, "ccc-kms: %s: %s (%s)\n", what, ccc_error_detail(), ccc_status_name(st));
    return ccc_status_exit_code(st);
}

int main(int argc, char **argv)
{
    ccc_process_harden();
    const char *state = NULL, *policy_path = NULL, *policy_pub = NULL, *root_spec = NULL,
               *listen_spec = NULL;
    bool init = false, rotate = false, retire = false;
    uint64_t max_age = CCC_KMS_DEFAULT_MAX_AGE_MS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (ccc_program_std_option(a, "ccc-kms", usage)) {
            return 0;
        } else if (strcmp(a, "--init") == 0) {
            init = true;
        } else if (strcmp(a, "--rotate") == 0) {
            rotate = true;
        } else if (strcmp(a, "--retire") == 0) {
            retire = true;
        } else if (v && strcmp(a, "--state") == 0) {
            state = v, i++;
        } else if (v && strcmp(a, "--policy") == 0) {
            policy_path = v, i++;
        } else if (v && strcmp(a, "--policy-pub") == 0) {
            policy_pub = v, i++;
        } else if (v && strcmp(a, "--root") == 0) {
            root_spec = v, i++;
        } else if (v && strcmp(a, "--listen") == 0) {
            listen_spec = v, i++;
        } else if (v && strcmp(a, "--max-age-ms") == 0) {
            char *end = NULL;
            max_age = strtoull(v, &end, 10);
            if (!end || *end || max_age == 0) {
                fprintf(stderr, "ccc-kms: --max-age-ms needs a positive number\n");
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "ccc-kms: unknown or incomplete option '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    if (!state || (init + rotate + retire) > 1 ||
        (!init && !rotate && !retire && (!policy_path || !policy_pub || !root_spec || !listen_spec))) {
        fprintf(stderr, "ccc-kms: missing or conflicting options\n\n%s", usage);
        return 2;
    }
    ccc_log_init(stderr, "ccc-kms", CCC_LOG_INFO);

    ccc_kms_store *store = NULL;
    ccc_status st = ccc_kms_store_open(state, init, &store);
    if (st != CCC_OK)
        return fail(st, init ? "cannot create the key store"
                             : "cannot open the key store (run ccc-kms --init first)");
    int rc = 0;
    if (init || rotate || retire) {
        ccc_buf pem;
        ccc_buf_init(&pem, 4096);
        st = rotate ? ccc_kms_store_rotate(store) : retire ? ccc_kms_store_retire(store) : CCC_OK;
        if (st == CCC_OK && init)
            st = ccc_kms_store_public_pem(store, &pem);
        if (st != CCC_OK) {
            rc = fail(st, "key store");
        } else if (init) {
            fwrite(pem.data, 1, pem.size, stdout);
        } else {
            printf("live key ids:");
            for (size_t i = 0; i < ccc_kms_store_key_count(store); i++)
                printf(" %u", (unsigned)ccc_kms_store_keys(store)[i].id);
            printf(" (current first)\n");
        }
        ccc_buf_wipe(&pem);
        ccc_kms_store_free(store);
        return rc;
    }

    static ccc_policy policy;
    uint8_t policy_sha256[32];
    ccc_x509_root *root = NULL;
    ccc_kms *kms = NULL;
    int lfd = -1;
    char path[4096];
    ccc_buf cfg;
    ccc_buf_init(&cfg, CCC_KMS_MAX_CONFIG_SIZE);
    if ((st = ccc_kms_load_policy(policy_path, policy_pub, &policy, policy_sha256)) != CCC_OK) {
        rc = fail(st, "policy bundle");
    } else if ((st = ccc_cli_load_root(root_spec, &root)) != CCC_OK) {
        rc = fail(st, "attestation root");
    } else if ((st = ccc_kms_new(store, &policy, policy_sha256, root, &kms)) != CCC_OK) {
        rc = fail(st, "key service");
    } else if ((st = ccc_kms_config_sign(store, policy_sha256, ccc_wall_ms(), &cfg)) != CCC_OK ||
               (snprintf(path, sizeof path, "%s/config.cose", state),
                (st = ccc_file_write(path, cfg.data, cfg.size)) != CCC_OK)) {
        rc = fail(st, "signed configuration");
    } else if ((st = ccc_kms_listen(listen_spec, &lfd)) != CCC_OK) {
        rc = fail(st, "listen");
    } else {
        ccc_kms_set_max_age(kms, max_age);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        st = ccc_kms_serve(kms, lfd, &stop_flag);
        if (st != CCC_OK)
            rc = fail(st, "serve");
        close(lfd);
        if (strncmp(listen_spec, "unix:", 5) == 0)
            unlink(listen_spec + 5);
    }
    ccc_buf_wipe(&cfg);
    ccc_kms_free(kms);
    ccc_x509_root_free(root);
    ccc_kms_store_free(store);
    return rc;
}
