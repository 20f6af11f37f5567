/* ccc-host — the untrusted host: HTTP API, queue, blind relay to enclaves and
 * to the key service. A thin main over src/host (host.h is the manual). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "host/host.h"
#include "log/log.h"

static const char usage[] =
    "usage: ccc-host --kms-config FILE --policy BUNDLE (--queue URL | --state DIR)\n"
    "                [--listen A.B.C.D:PORT] [--enclave unix:PATH]... [--kms unix:PATH]\n"
    "                [--visibility-timeout-ms N] [--max-attempts N] [--backoff-unit-ms N]\n"
    "                [--result-ttl-s N] [--max-body BYTES] [--rate-per-minute N]\n"
    "                [--job-timeout-ms N] [--static DIR] [--worker-id ID]\n"
    "\n"
    "The untrusted host (docs/protocol.md §10-§11): the HTTP API, the job queue\n"
    "and a blind relay to each enclave; it forwards the enclaves' key requests\n"
    "to ccc-kms unread and never holds a key that opens user data.\n"
    "\n"
    "  --listen ADDR          HTTP address (default 127.0.0.1:8750; port 0: any)\n"
    "  --enclave unix:PATH    an enclave's socket (repeatable, up to 16)\n"
    "  --kms unix:PATH        ccc-kms's socket (without it, key requests are\n"
    "                         answered io:kms_unavailable)\n"
    "  --kms-config FILE      config.cose written by ccc-kms (re-read per request)\n"
    "  --policy BUNDLE        signed policy bundle: served as is; its tou limits\n"
    "                         are read WITHOUT verifying it (they only protect\n"
    "                         this host; clients verify the bundle)\n"
    "  --queue URL            sqlite:///path/queue.db or redis://host[:port][/db]\n"
    "  --state DIR            default queue: sqlite://DIR/queue.db\n"
    "  --visibility-timeout-ms N  lease of a claimed job (default 300000)\n"
    "  --max-attempts N       claims before a dead letter (default 3)\n"
    "  --backoff-unit-ms N    retry after unit * 2^attempt (default 1000)\n"
    "  --result-ttl-s N       results and dedup kept (default 86400)\n"
    "  --max-body BYTES       override the policy's tou.max_body_bytes\n"
    "  --rate-per-minute N    override the policy's tou.rate_per_minute\n"
    "  --job-timeout-ms N     wait for an enclave's answer (default 120000)\n"
    "  --static DIR           serve the browser client's files at / and /<name>\n"
    "  --worker-id ID         queue worker id prefix (default host-<pid>)\n"
    "\n"
    "Prints \"ccc-host: listening on http://ADDR:PORT\" when ready; stops cleanly\n"
    "on SIGINT/SIGTERM (the in-flight job finishes or goes back to the queue).\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int usage_error(const char *why)
{
    fprintf(stderr, "ccc-host: %s\n\n%s", why, usage);
    return ccc_status_exit_code(CCC_ERR_USAGE);
}

static bool parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    if (!v || !*v || *v == '-')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n > max)
        return false;
    *out = n;
    return true;
}

int main(int argc, char **argv)
{
    ccc_process_harden();
    ccc_host_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *state_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (ccc_program_std_option(a, "ccc-host", usage))
            return 0;
        if (!v)
            return usage_error("missing value for an option");
        i++;
        if (strcmp(a, "--listen") == 0)
            cfg.listen = v;
        else if (strcmp(a, "--enclave") == 0) {
            if (cfg.enclave_count == CCC_HOST_MAX_ENCLAVES)
                return usage_error("too many --enclave");
            cfg.enclaves[cfg.enclave_count++] = v;
        } else if (strcmp(a, "--kms") == 0)
            cfg.kms = v;
        else if (strcmp(a, "--kms-config") == 0)
            cfg.kms_config_path = v;
        else if (strcmp(a, "--policy") == 0)
            cfg.policy_path = v;
        else if (strcmp(a, "--queue") == 0)
            cfg.queue_url = v;
        else if (strcmp(a, "--state") == 0)
            state_dir = v;
        else if (strcmp(a, "--static") == 0)
            cfg.static_dir = v;
        else if (strcmp(a, "--worker-id") == 0)
            cfg.worker_id = v;
        else if (strcmp(a, "--visibility-timeout-ms") == 0 && parse_u64(v, UINT32_MAX, &n))
            cfg.queue_opts.visibility_timeout_ms = (uint32_t)n;
        else if (strcmp(a, "--max-attempts") == 0 && parse_u64(v, 10, &n) && n > 0)
            cfg.queue_opts.max_attempts = (uint32_t)n;
        else if (strcmp(a, "--backoff-unit-ms") == 0 && parse_u64(v, UINT32_MAX, &n))
            cfg.queue_opts.backoff_unit_ms = (uint32_t)n;
        else if (strcmp(a, "--result-ttl-s") == 0 && parse_u64(v, UINT32_MAX, &n) && n > 0)
            cfg.queue_opts.result_ttl_ms = n * 1000u;
        else if (strcmp(a, "--max-body") == 0 && parse_u64(v, (uint64_t)64 << 20, &n) && n > 0)
            cfg.max_body_size = n;
        else if (strcmp(a, "--rate-per-minute") == 0 && parse_u64(v, 1000000, &n) && n > 0)
            cfg.rate_per_minute = n;
        else if (strcmp(a, "--job-timeout-ms") == 0 && parse_u64(v, UINT32_MAX, &n) && n > 0)
            cfg.job_timeout_ms = (uint32_t)n;
        else
            return usage_error("unknown option or bad value");
    }
    if (!cfg.kms_config_path)
        return usage_error("--kms-config is required");
    if (!cfg.policy_path)
        return usage_error("--policy is required");
    char queue_url[4200];
    if (!cfg.queue_url) {
        if (!state_dir)
            return usage_error("--queue or --state is required");
        snprintf(queue_url, sizeof queue_url, "sqlite://%s/queue.db", state_dir);
        cfg.queue_url = queue_url;
    }

    ccc_log_init(stderr, "ccc-host", CCC_LOG_INFO);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ccc_host *h = NULL;
    ccc_status st = ccc_host_new(&cfg, &h);
    if (st == CCC_OK)
        st = ccc_host_start(h);
    if (st != CCC_OK) {
        fprintf(stderr, "ccc-host: cannot start: %s (%s)\n", ccc_error_detail(),
                ccc_status_name(st));
        ccc_host_free(h);
        return ccc_status_exit_code(st);
    }
    const char *listen = cfg.listen ? cfg.listen : CCC_HOST_DEFAULT_LISTEN;
    const char *colon = strrchr(listen, ':');
    printf("ccc-host: listening on http://%.*s:%u\n", (int)(colon - listen), listen,
           (unsigned)ccc_host_port(h));
    fflush(stdout);
    volatile sig_atomic_t *flag = &stop_flag;
    while (!*flag) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ccc_host_free(h); /* stops: the in-flight jobs finish or go back */
    return 0;
}
