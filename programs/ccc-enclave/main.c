/* ccc-enclave — the trusted worker inside the TEE. A thin main over
 * src/enclave: arguments, signals and the NSM device here; start-up, key
 * release, the sandbox and the frame service in the library (enclave.h,
 * "Start-up on the host socket"; docs/protocol.md §10). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "enclave/enclave.h"
#include "log/log.h"
#include "nsm/nsm.h"

static const char usage[] =
    "usage: ccc-enclave --listen unix:PATH|vsock:PORT --policy BUNDLE --policy-pub PEM\n"
    "                   [--model-dir DIR] [--manifest FILE] [--trusted-key PEM]\n"
    "                   [--threads N] [--nsm sim|real]\n"
    "       ccc-enclave --help | --version\n"
    "\n"
    "The trusted worker inside the TEE. At start it verifies the policy bundle,\n"
    "loads the signed model, asks the NSM for the attestation document of its\n"
    "per-boot receipt key and listens for the host. On each host connection it\n"
    "first obtains the service keys from ccc-kms through the host (key_request\n"
    "with a fresh attestation document; retried with backoff after a refusal),\n"
    "announces itself with attest_response, enters its seccomp sandbox once,\n"
    "and then counts cats in encrypted jobs (docs/protocol.md §10).\n"
    "\n"
    "  --listen ADDR      unix:PATH (local) or vsock:PORT (Nitro)\n"
    "  --policy FILE      signed policy bundle\n"
    "  --policy-pub PEM   the policy public key that signed it\n"
    "  --model-dir DIR    centernet.json, centernet.bin and centernet.manifest\n"
    "                     (default: $CCC_DATA_DIR/models, else the repository's\n"
    "                     data/models)\n"
    "  --manifest FILE    signed model manifest (default DIR/centernet.manifest)\n"
    "  --trusted-key PEM  model release key (default $CCC_MODEL_TRUSTED_KEY or the\n"
    "                     built-in release key)\n"
    "  --threads N        detector threads (default: all cores)\n"
    "  --nsm sim|real     sim: the simulated NSM on descriptor 3, as `ccc nsm\n"
    "                     launch` hands it over (default); real: /dev/nsm\n"
    "\n"
    "Run it under the simulated NSM:\n"
    "  ccc nsm launch --dir NSM --manifest-hash HEX --policy BUNDLE --policy-pub PEM \\\n"
    "      -- ccc-enclave --listen unix:enclave.sock --policy BUNDLE --policy-pub PEM\n";

/* The self-pipe: SIGTERM/SIGINT write one byte; every wait polls it. */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
    (void)sig;
    char c = 1;
    ssize_t n = write(stop_pipe[1], &c, 1); /* async-signal-safe; full pipe = already stopping */
    (void)n;
}

static int fail(ccc_status st, const char *what)
{
    fprintf(stderr, "ccc-enclave: %s: %s (%s)\n", what, ccc_error_detail(), ccc_status_name(st));
    return ccc_status_exit_code(st);
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "ccc-enclave: %s\n\n%s", msg, usage);
    return 2;
}

static bool install_signals(void)
{
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN; /* a host that goes away is an error return, not a signal */
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return false;
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGTERM, &sa, NULL) == 0 && sigaction(SIGINT, &sa, NULL) == 0;
}

int main(int argc, char **argv)
{
    ccc_process_harden();
    ccc_enclave_boot_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stop_fd = -1;
    cfg.sandbox = true;
    bool real_nsm = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (ccc_program_std_option(a, "ccc-enclave", usage)) {
            return 0;
        } else if (v && strcmp(a, "--listen") == 0) {
            cfg.listen = v, i++;
        } else if (v && strcmp(a, "--policy") == 0) {
            cfg.policy_path = v, i++;
        } else if (v && strcmp(a, "--policy-pub") == 0) {
            cfg.policy_pub_path = v, i++;
        } else if (v && strcmp(a, "--model-dir") == 0) {
            cfg.model_dir = v, i++;
        } else if (v && strcmp(a, "--manifest") == 0) {
            cfg.detect.manifest_path = v, i++;
        } else if (v && strcmp(a, "--trusted-key") == 0) {
            cfg.detect.trusted_key_path = v, i++;
        } else if (v && strcmp(a, "--threads") == 0) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (!end || *end || end == v || n < 0 || n > 256)
                return usage_error("--threads needs a number 0..256 (0 = all cores)");
            cfg.detect.threads = (int)n, i++;
        } else if (v && strcmp(a, "--nsm") == 0) {
            if (strcmp(v, "sim") != 0 && strcmp(v, "real") != 0)
                return usage_error("--nsm must be sim or real");
            real_nsm = strcmp(v, "real") == 0, i++;
        } else {
            fprintf(stderr, "ccc-enclave: unknown or incomplete option '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    if (!cfg.listen || !cfg.policy_path || !cfg.policy_pub_path)
        return usage_error("needs --listen, --policy and --policy-pub");
    ccc_log_init(stderr, "ccc-enclave", CCC_LOG_INFO);
    if (!install_signals())
        return fail(ccc_error_raise(CCC_ERR_IO, "cannot install signal handlers", false, 0,
                                    __FILE__, __LINE__),
                    "start-up");
    cfg.stop_fd = stop_pipe[0];

    ccc_nsm_device nsm;
    ccc_status st = CCC_OK;
    if (real_nsm) {
        st = ccc_nsm_device_open_real(&nsm);
        if (st != CCC_OK)
            return fail(st, "cannot open /dev/nsm (not inside a Nitro enclave?)");
    } else {
        /* The descriptor `ccc nsm launch` hands over; refuse to write NSM
         * frames to whatever else descriptor 3 might be. */
        struct stat sb;
        if (fstat(3, &sb) != 0 || !S_ISSOCK(sb.st_mode))
            return fail(ccc_error_raise(CCC_ERR_IO, "no NSM channel on descriptor 3", false, 0,
                                        __FILE__, __LINE__),
                        "run it under `ccc nsm launch` (or --nsm real on Nitro)");
        ccc_nsm_device_use_sim(&nsm, 3);
    }
    cfg.nsm = &nsm;

    ccc_enclave_boot *b = NULL;
    st = ccc_enclave_boot_start(&cfg, &b);
    int rc = 0;
    if (st != CCC_OK) {
        rc = fail(st, "start-up");
    } else {
        fprintf(stderr, "ccc-enclave: listening on %s (waiting for the host)\n", cfg.listen);
        st = ccc_enclave_boot_run(b);
        if (st != CCC_OK)
            rc = fail(st, "stopped");
    }
    ccc_enclave_boot_free(b); /* keys wiped */
    if (real_nsm)
        ccc_nsm_device_close(&nsm);
    return rc;
}
