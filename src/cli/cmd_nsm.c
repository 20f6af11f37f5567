/*
 * ccc nsm init | launch | request — the simulated Nitro Secure Module from
 * the command line (see src/nsm/nsm.h and docs/attestation.md §4).
 *
 *   ccc nsm init --dir DIR
 *       make the local CA (root → regional → zonal → instance) in DIR;
 *       DIR/root.pem is the root to pin (never the AWS one).
 *   ccc nsm launch --dir DIR [--manifest-hash HEX] [--policy BUNDLE
 *                  --policy-pub PUB.pem] -- PROGRAM [ARGS...]
 *       boot the simulated NSM, measure PROGRAM into PCR0/PCR2 through the
 *       sealed descriptor it then executes, extend PCR16/PCR17 with the
 *       model-manifest and policy hashes, and answer the program's NSM API
 *       requests on its descriptor 3 until it exits.
 *   ccc nsm request [--real] [--nonce HEX] [--user-data HEX]
 *                   [--public-key HEX] --out FILE
 *       the enclave side: ask the NSM on descriptor 3 (or /dev/nsm with
 *       --real) for an attestation document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "nsm/nsm.h"
#include "policy/policy.h"

static const char *opt_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

int ccc_cmd_nsm_init(int argc, char **argv)
{
    static const char words[] = "nsm init";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    const char *dir = opt_value(argc, argv, "--dir");
    if (!dir || argc != 3)
        return ccc_cli_usage_error(words, "needs --dir DIR");
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    ccc_status st = CCC_OK;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        st = ccc_error_raise(CCC_ERR_IO, "cannot create the CA directory", false, 0, __FILE__,
                             __LINE__);
    if (st == CCC_OK)
        st = ccc_nsm_ca_generate(&ca, (int64_t)time(NULL) - 60);
    if (st == CCC_OK)
        st = ccc_nsm_ca_save(&ca, dir);
    ccc_nsm_ca_wipe(&ca);
    if (st == CCC_OK)
        printf("simulated NSM CA written to %s; pin %s/root.pem (a LOCAL root: documents it "
               "signs never verify against the AWS root)\n",
               dir, dir);
    return ccc_cli_report(words, st);
}

int ccc_cmd_nsm_launch(int argc, char **argv)
{
    static const char words[] = "nsm launch";
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--") != 0)
        sep++;
    if (sep == argc && ccc_cli_wants_help(argc, argv, words))
        return 0;
    const char *dir = opt_value(sep, argv, "--dir");
    const char *manifest = opt_value(sep, argv, "--manifest-hash");
    const char *policy = opt_value(sep, argv, "--policy");
    const char *policy_pub = opt_value(sep, argv, "--policy-pub");
    if (!dir || sep + 1 >= argc)
        return ccc_cli_usage_error(words, "needs --dir DIR -- PROGRAM [ARGS...]");
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    ccc_nsm_sim sim;
    ccc_nsm_sim_init(&sim);
    int sv[2] = {-1, -1};
    pid_t pid = -1;
    ccc_status st = ccc_nsm_ca_load(&ca, dir);
    if (st == CCC_OK)
        st = ccc_nsm_sim_boot(&sim, &ca, (int64_t)time(NULL));
    if (st == CCC_OK && manifest) {
        uint8_t h[64];
        size_t n = 0;
        st = ccc_hex_decode(manifest, h, sizeof h, &n);
        if (st == CCC_OK)
            st = ccc_nsm_sim_extend(&sim, CCC_NSM_PCR_MANIFEST, ccc_bytes_of(h, n));
    }
    if (st == CCC_OK && policy) {
        /* Verified with the policy key; its hash goes into PCR17. */
        static ccc_policy p;
        uint8_t hash[32];
        st = ccc_cli_policy_load(policy, policy_pub, &p, hash);
        if (st == CCC_OK)
            st = ccc_nsm_sim_extend(&sim, CCC_NSM_PCR_POLICY, ccc_bytes_of(hash, sizeof hash));
    }
    if (st == CCC_OK && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        st = ccc_error_raise(CCC_ERR_IO, "socketpair failed", false, 0, __FILE__, __LINE__);
    if (st == CCC_OK)
        st = ccc_nsm_sim_launch(&sim, argv[sep + 1], argv + sep + 1, sv[1], &pid);
    if (sv[1] >= 0)
        close(sv[1]);
    if (st == CCC_OK) {
        char hex[97];
        ccc_hex_encode(sim.pcrs[0], CCC_NSM_PCR_SIZE, hex);
        fprintf(stderr, "nsm: launched pid %d, PCR0 %s\n", (int)pid, hex);
        st = ccc_nsm_sim_serve(&sim, sv[0]);
    }
    int rc = ccc_cli_report(words, st);
    if (pid > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
            ;
        if (rc == 0)
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (sv[0] >= 0)
        close(sv[0]);
    ccc_nsm_sim_wipe(&sim);
    ccc_nsm_ca_wipe(&ca);
    return rc;
}

static ccc_status hex_opt(const char *hex, uint8_t *buf, size_t cap, ccc_bytes *out)
{
    *out = ccc_bytes_of(NULL, 0);
    if (!hex)
        return CCC_OK;
    size_t n = 0;
    CCC_GUARD(ccc_hex_decode(hex, buf, cap, &n));
    *out = ccc_bytes_of(buf, n);
    return CCC_OK;
}

int ccc_cmd_nsm_request(int argc, char **argv)
{
    static const char words[] = "nsm request";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    const char *out = opt_value(argc, argv, "--out");
    bool real = false;
    for (int i = 1; i < argc; i++)
        real |= strcmp(argv[i], "--real") == 0;
    if (!out)
        return ccc_cli_usage_error(words, "needs --out FILE");
    static uint8_t nb[1024], ub[1024], pb[1024];
    ccc_bytes nonce, ud, pk;
    ccc_status st = hex_opt(opt_value(argc, argv, "--nonce"), nb, sizeof nb, &nonce);
    if (st == CCC_OK)
        st = hex_opt(opt_value(argc, argv, "--user-data"), ub, sizeof ub, &ud);
    if (st == CCC_OK)
        st = hex_opt(opt_value(argc, argv, "--public-key"), pb, sizeof pb, &pk);
    ccc_nsm_device dev;
    if (real && st == CCC_OK)
        st = ccc_nsm_device_open_real(&dev);
    else {
        /* The descriptor `nsm launch` hands over; refuse to write frames to
         * whatever else descriptor 3 might be. */
        struct stat sb;
        if (st == CCC_OK && (fstat(3, &sb) != 0 || !S_ISSOCK(sb.st_mode)))
            st = ccc_error_raise(CCC_ERR_IO,
                                 "no NSM channel on descriptor 3 (run under `ccc nsm launch`)",
                                 false, 0, __FILE__, __LINE__);
        ccc_nsm_device_use_sim(&dev, 3);
    }
    ccc_buf doc;
    ccc_buf_init(&doc, CCC_NSM_MAX_FRAME);
    if (st == CCC_OK)
        st = ccc_nsm_device_attest(&dev, ud, nonce, pk, &doc);
    if (st == CCC_OK)
        st = ccc_file_write(out, doc.data, doc.size);
    if (real)
        ccc_nsm_device_close(&dev);
    ccc_buf_wipe(&doc);
    return ccc_cli_report(words, st);
}
