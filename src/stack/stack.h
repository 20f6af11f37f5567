/*
 * stack — the local stack behind `ccc up` / `ccc down`: one machine playing
 * every part of a Nitro deployment, with keys generated on first use.
 *
 *   process                  plays                          started as
 *   ccc-kms                  AWS KMS + the key policy       ccc-kms --state DIR/kms ...
 *   ccc nsm launch           the Nitro hypervisor + NSM     measured launch of ccc-enclave
 *     └ ccc-enclave          the enclave                    --listen unix:DIR/run/enclave.sock
 *   ccc-host                 the parent EC2 instance        --listen 127.0.0.1:PORT
 *
 * Data directory (DIR; default $CCC_STACK_DIR, else
 * ${XDG_DATA_HOME:-~/.local/share}/ccc/stack), made on first `ccc up`:
 *
 *   nsm/         the simulated NSM's CA (root.pem + ca-N.{der,key.pem})
 *   policy/      policy-key.pem (the policy signing key: on a real
 *                deployment it stays offline), policy-pub.pem, policy.json
 *                (readable) and policy.cbor (the signed bundle)
 *   kms/         the key service's store and its published config.cose
 *   trust/       root.pem, policy-pub.pem, kms-pub.pem: the three anchors
 *                a client pins (docs/protocol.md §12)
 *   web/         the browser page with those anchors baked in (when Node
 *                and tools/web are installed), served at the URL
 *   queue.db     the SQLite queue (unless --queue says otherwise)
 *   run/         sockets, up.pid, url
 *   logs/        kms.log, enclave.log, host.log (each process's stderr)
 *
 * The policy is (re)written on every `ccc up` from what will actually run:
 * the PCR0/1/2 of the ccc-enclave executable (ccc_nsm_launch_pcrs), the
 * model manifest's hash and the default limits. If that differs from the
 * stored policy (a rebuilt enclave, say), the version goes up by one, so a
 * client's anti-rollback state accepts it and refuses the old one.
 *
 * Supervision: each child runs in its own process group with its stderr in
 * logs/NAME.log; a child that exits is restarted (0.5 s, doubling to 8 s if
 * it keeps dying within 10 s of its start) — that is what brings a killed
 * enclave back. The enclave is also rebooted every 2 hours: the simulated
 * NSM's per-boot certificate, in every document it signs, lives 3 hours. SIGINT/SIGTERM stop the host, then the enclave, then the
 * key service (SIGTERM, then SIGKILL after 5 s) and remove run/.
 *
 * Honest scope: everything here runs as one user on one machine; see
 * docs/threat-model.md "What the local simulation does not protect".
 */
#ifndef CCC_STACK_H
#define CCC_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define CCC_STACK_DEFAULT_PORT 8750
#define CCC_STACK_PATH_MAX 4096
/* The default rate limit in the local policy: high enough for
 * `ccc bench e2e` (every client is 127.0.0.1, one token bucket). */
#define CCC_STACK_RATE_PER_MINUTE 60000u
#define CCC_STACK_MAX_BODY_BYTES (16u * 1024u * 1024u)

typedef struct ccc_stack_options {
    const char *dir;          /* NULL: ccc_stack_default_dir                */
    uint16_t port;            /* 0: CCC_STACK_DEFAULT_PORT                  */
    const char *queue_url;    /* NULL: sqlite://DIR/queue.db                */
    const char *bin_dir;      /* NULL: the directory of this executable     */
    const char *model_dir;    /* NULL: ccc_detect_default_model_dir         */
    const char *static_dir;   /* NULL: the repository's build/web if present */
    char *const *host_args;   /* extra arguments for ccc-host (tests: short
                                 visibility timeout, ...)                    */
    size_t host_arg_count;
    unsigned ready_timeout_s; /* 0: 120                                     */
} ccc_stack_options;

/* The default data directory (see the file comment). CCC_ERR_LIMIT if it
 * does not fit, CCC_ERR_NOT_FOUND without HOME. */
CCC_MUST_USE ccc_status ccc_stack_default_dir(char *out, size_t out_size);

/*
 * Make or refresh DIR (see the file comment): CA, policy key and policy,
 * key store, trust anchors. Idempotent; prints one line per thing it
 * creates to stderr.
 */
CCC_MUST_USE ccc_status ccc_stack_prepare(const ccc_stack_options *opts);

/*
 * ccc_stack_prepare, then start the processes, wait until the host's
 * /healthz says an enclave is ready, and call ready(url, arg) (may be NULL).
 * Then supervise until SIGINT/SIGTERM, stop everything and return CCC_OK.
 * CCC_ERR_BUSY if a stack already runs in DIR; CCC_ERR_IO if a process
 * cannot start or the stack is not ready in time (everything is stopped).
 */
CCC_MUST_USE ccc_status ccc_stack_run(const ccc_stack_options *opts,
                                      void (*ready)(const char *url, void *arg), void *arg);

/* CCC_OK if no stack runs in the options' directory now (CCC_ERR_BUSY if
 * one does): a probe for `ccc up --detach`, which must say so before it
 * forks. */
CCC_MUST_USE ccc_status ccc_stack_check_free(const ccc_stack_options *opts);

/*
 * Stop the stack running in `dir` (NULL: default) and wait for it to exit
 * (up to timeout_s). *was_running tells whether there was one.
 */
CCC_MUST_USE ccc_status ccc_stack_down(const char *dir, unsigned timeout_s, bool *was_running);

#endif /* CCC_STACK_H */
