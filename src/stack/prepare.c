/* The local stack's data directory: CA, policy, key store, trust anchors
 * (stack.h). Everything is made once and reused; only the policy follows
 * the executable and the model that will actually run. */
#include "stack/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cose/cose.h"
#include "detect/detect.h"
#include "detect/manifest.h"
#include "kms/kms.h"
#include "nn/nn.h"
#include "nsm/nsm.h"
#include "policy/policy.h"

ccc_status ccc_stack_default_dir(char *out, size_t out_size)
{
    const char *env = getenv("CCC_STACK_DIR");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (env && *env)
        n = snprintf(out, out_size, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(out, out_size, "%s/ccc/stack", xdg);
    else if (home && *home)
        n = snprintf(out, out_size, "%s/.local/share/ccc/stack", home);
    else
        CCC_BAIL(CCC_ERR_NOT_FOUND, "no HOME: give the data directory with --data");
    CCC_ENSURE(n > 0 && (size_t)n < out_size, CCC_ERR_LIMIT, "data directory path too long");
    return CCC_OK;
}

ccc_status ccc_stack_path(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, CCC_STACK_PATH_MAX, "%s/%s", dir, name);
    CCC_ENSURE(n > 0 && n < CCC_STACK_PATH_MAX, CCC_ERR_LIMIT, "path too long");
    return CCC_OK;
}

bool ccc_stack_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* mkdir -p for one level below an existing parent, mode 0700. */
static ccc_status make_dir(const char *dir, const char *name)
{
    char path[CCC_STACK_PATH_MAX];
    CCC_GUARD(name ? ccc_stack_path(path, dir, name) : ccc_stack_path(path, dir, "."));
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        CCC_BAIL(CCC_ERR_IO, "cannot create a data directory");
    return CCC_OK;
}

static ccc_status copy_file(const char *from, const char *to)
{
    ccc_buf b;
    ccc_buf_init(&b, 1u << 20);
    ccc_status st = ccc_file_read(from, &b);
    if (st == CCC_OK)
        st = ccc_file_write(to, b.data, b.size);
    ccc_buf_wipe(&b);
    return st;
}

static ccc_status prepare_nsm(const char *dir)
{
    char root[CCC_STACK_PATH_MAX], nsm[CCC_STACK_PATH_MAX];
    CCC_GUARD(ccc_stack_path(nsm, dir, "nsm"));
    CCC_GUARD(ccc_stack_path(root, nsm, "root.pem"));
    if (ccc_stack_exists(root))
        return CCC_OK;
    CCC_GUARD(make_dir(dir, "nsm"));
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    ccc_status st = ccc_nsm_ca_generate(&ca, (int64_t)time(NULL) - 60);
    if (st == CCC_OK)
        st = ccc_nsm_ca_save(&ca, nsm);
    ccc_nsm_ca_wipe(&ca);
    if (st == CCC_OK)
        fprintf(stderr, "ccc up: made the simulated NSM's CA (%s)\n", root);
    return st;
}

static ccc_status prepare_policy_key(const char *dir)
{
    char key_path[CCC_STACK_PATH_MAX], pub_path[CCC_STACK_PATH_MAX];
    CCC_GUARD(ccc_stack_path(key_path, dir, "policy/policy-key.pem"));
    CCC_GUARD(ccc_stack_path(pub_path, dir, "policy/policy-pub.pem"));
    if (ccc_stack_exists(key_path) && ccc_stack_exists(pub_path))
        return CCC_OK;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    CCC_ENSURE(key, CCC_ERR_CRYPTO, "Ed25519 key generation failed");
    ccc_status st = ccc_cose_key_write_pem(key_path, key, true);
    if (st == CCC_OK)
        st = ccc_cose_key_write_pem(pub_path, key, false);
    EVP_PKEY_free(key);
    if (st == CCC_OK)
        fprintf(stderr, "ccc up: made the policy signing key (%s)\n", key_path);
    return st;
}

/* The policy for what will run: the enclave executable's PCRs, the model
 * manifest, default egress limits and terms of use. */
static ccc_status build_policy(const ccc_stack_paths *p, ccc_policy *pol)
{
    memset(pol, 0, sizeof *pol);
    uint8_t pcrs[3][CCC_NSM_PCR_SIZE];
    CCC_GUARD(ccc_nsm_launch_pcrs(p->enclave_bin, pcrs));
    for (uint32_t i = 0; i < 3; i++)
        CCC_GUARD(ccc_attest_pcr_set_add(&pol->sets[0], i, ccc_bytes_of(pcrs[i], CCC_NSM_PCR_SIZE)));
    pol->set_count = 1;
    memcpy(pol->manifests[0], p->manifest_sha256, 32);
    pol->manifest_count = 1;
    pol->version = 1;
    pol->egress_max_answer_bytes = 512;
    pol->egress_max_boxes = 64;
    pol->tou_max_body_bytes = CCC_STACK_MAX_BODY_BYTES;
    pol->tou_rate_per_minute = CCC_STACK_RATE_PER_MINUTE;
    return ccc_policy_check(pol);
}

/* Equal apart from the version? (the encodings are canonical) */
static ccc_status same_policy(const ccc_policy *a, const ccc_policy *b, bool *same)
{
    ccc_policy x = *a, y = *b;
    x.version = y.version = 1;
    ccc_buf ex, ey;
    ccc_buf_init(&ex, CCC_POLICY_MAX_BUNDLE_SIZE);
    ccc_buf_init(&ey, CCC_POLICY_MAX_BUNDLE_SIZE);
    ccc_status st = ccc_policy_encode(&x, &ex);
    if (st == CCC_OK)
        st = ccc_policy_encode(&y, &ey);
    *same = st == CCC_OK && ex.size == ey.size && memcmp(ex.data, ey.data, ex.size) == 0;
    ccc_buf_wipe(&ex);
    ccc_buf_wipe(&ey);
    return st;
}

static ccc_status prepare_policy(const ccc_stack_paths *p)
{
    ccc_status st = CCC_OK;
    ccc_policy want, have;
    ccc_buf bundle, json;
    ccc_buf_init(&bundle, CCC_POLICY_MAX_BUNDLE_SIZE);
    ccc_buf_init(&json, CCC_POLICY_MAX_BUNDLE_SIZE);
    EVP_PKEY *key = NULL;
    CCC_TRY(build_policy(p, &want));
    if (ccc_stack_exists(p->policy) && ccc_file_read(p->policy, &bundle) == CCC_OK &&
        ccc_policy_peek(ccc_buf_bytes(&bundle), &have) == CCC_OK) {
        bool same = false;
        CCC_TRY(same_policy(&want, &have, &same));
        if (same)
            goto out; /* unchanged: keep the signed bundle and its version */
        want.version = have.version + 1;
    }
    ccc_buf_reset(&bundle);
    CCC_TRY(ccc_cose_key_read_pem(p->policy_key, true, &key));
    CCC_TRY(ccc_policy_sign(&want, key, &bundle));
    CCC_TRY(ccc_file_write(p->policy, bundle.data, bundle.size));
    CCC_TRY(ccc_policy_to_json(&want, &json));
    CCC_TRY(ccc_file_write(p->policy_json, json.data, json.size));
    fprintf(stderr, "ccc up: signed policy version %llu for this ccc-enclave and model (%s)\n",
            (unsigned long long)want.version, p->policy);
out:
    EVP_PKEY_free(key);
    ccc_buf_wipe(&bundle);
    ccc_buf_wipe(&json);
    return st;
}

static ccc_status prepare_kms(const char *dir)
{
    char kms[CCC_STACK_PATH_MAX], pub[CCC_STACK_PATH_MAX];
    CCC_GUARD(ccc_stack_path(kms, dir, "kms"));
    CCC_GUARD(ccc_stack_path(pub, dir, "trust/kms-pub.pem"));
    bool fresh = !ccc_stack_exists(kms);
    ccc_kms_store *store = NULL;
    CCC_GUARD(ccc_kms_store_open(kms, true, &store));
    ccc_buf pem;
    ccc_buf_init(&pem, 4096);
    ccc_status st = ccc_kms_store_public_pem(store, &pem);
    if (st == CCC_OK)
        st = ccc_file_write(pub, pem.data, pem.size);
    ccc_buf_wipe(&pem);
    ccc_kms_store_free(store);
    if (st == CCC_OK && fresh)
        fprintf(stderr, "ccc up: made the key service's store (%s)\n", kms);
    return st;
}

ccc_status ccc_stack_model_manifest_hash(const char *model_dir, uint8_t out[32])
{
    ccc_buf json, bin;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    ccc_detect_manifest_info info;
    ccc_status st = ccc_detect_manifest_load_files(model_dir, NULL, NULL, &json, &bin, &info);
    if (st == CCC_OK)
        memcpy(out, info.sha256, 32);
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);
    return st;
}

ccc_status ccc_stack_paths_init(const ccc_stack_options *opts, ccc_stack_paths *p)
{
    memset(p, 0, sizeof *p);
    if (opts->dir)
        CCC_GUARD(ccc_stack_path(p->dir, opts->dir, "."));
    else
        CCC_GUARD(ccc_stack_default_dir(p->dir, sizeof p->dir));
    size_t len = strlen(p->dir);
    if (len > 2 && strcmp(p->dir + len - 2, "/.") == 0)
        p->dir[len - 2] = '\0';
    if (opts->bin_dir) {
        CCC_GUARD(ccc_stack_path(p->bin_dir, opts->bin_dir, "."));
        p->bin_dir[strlen(p->bin_dir) - 2] = '\0';
    } else {
        ssize_t n = readlink("/proc/self/exe", p->bin_dir, sizeof p->bin_dir - 1);
        CCC_ENSURE(n > 0 && (size_t)n < sizeof p->bin_dir - 1, CCC_ERR_IO,
                   "cannot find this executable's directory");
        p->bin_dir[n] = '\0';
        char *slash = strrchr(p->bin_dir, '/');
        CCC_ENSURE(slash, CCC_ERR_IO, "cannot find this executable's directory");
        *slash = '\0';
    }
    if (opts->model_dir)
        CCC_GUARD(ccc_stack_path(p->model_dir, opts->model_dir, "."));
    else
        CCC_GUARD(ccc_detect_default_model_dir(p->model_dir, sizeof p->model_dir));
    if (opts->static_dir)
        CCC_GUARD(ccc_stack_path(p->static_dir, opts->static_dir, "."));
    else if (ccc_stack_exists(CCC_SOURCE_DIR "/build/web/index.html"))
        CCC_GUARD(ccc_stack_path(p->static_dir, CCC_SOURCE_DIR, "build/web"));
    p->port = opts->port ? opts->port : CCC_STACK_DEFAULT_PORT;
    CCC_GUARD(ccc_stack_path(p->ccc_bin, p->bin_dir, "ccc"));
    CCC_GUARD(ccc_stack_path(p->host_bin, p->bin_dir, "ccc-host"));
    CCC_GUARD(ccc_stack_path(p->kms_bin, p->bin_dir, "ccc-kms"));
    CCC_GUARD(ccc_stack_path(p->enclave_bin, p->bin_dir, "ccc-enclave"));
    CCC_GUARD(ccc_stack_path(p->nsm_dir, p->dir, "nsm"));
    CCC_GUARD(ccc_stack_path(p->root, p->dir, "nsm/root.pem"));
    CCC_GUARD(ccc_stack_path(p->policy, p->dir, "policy/policy.cbor"));
    CCC_GUARD(ccc_stack_path(p->policy_json, p->dir, "policy/policy.json"));
    CCC_GUARD(ccc_stack_path(p->policy_key, p->dir, "policy/policy-key.pem"));
    CCC_GUARD(ccc_stack_path(p->policy_pub, p->dir, "policy/policy-pub.pem"));
    CCC_GUARD(ccc_stack_path(p->kms_dir, p->dir, "kms"));
    CCC_GUARD(ccc_stack_path(p->kms_config, p->dir, "kms/config.cose"));
    CCC_GUARD(ccc_stack_path(p->run_dir, p->dir, "run"));
    CCC_GUARD(ccc_stack_path(p->log_dir, p->dir, "logs"));
    CCC_GUARD(ccc_stack_path(p->kms_sock, p->dir, "run/kms.sock"));
    CCC_GUARD(ccc_stack_path(p->enclave_sock, p->dir, "run/enclave.sock"));
    CCC_GUARD(ccc_stack_path(p->pid_file, p->dir, "run/up.pid"));
    CCC_GUARD(ccc_stack_path(p->url_file, p->dir, "run/url"));
    if (opts->queue_url) {
        int n = snprintf(p->queue_url, sizeof p->queue_url, "%s", opts->queue_url);
        CCC_ENSURE(n > 0 && (size_t)n < sizeof p->queue_url, CCC_ERR_LIMIT, "queue URL too long");
    } else {
        int n = snprintf(p->queue_url, sizeof p->queue_url, "sqlite://%s/queue.db", p->dir);
        CCC_ENSURE(n > 0 && (size_t)n < sizeof p->queue_url, CCC_ERR_LIMIT, "path too long");
    }
    const char *bins[] = {p->ccc_bin, p->host_bin, p->kms_bin, p->enclave_bin};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++)
        CCC_ENSURE(access(bins[i], X_OK) == 0, CCC_ERR_NOT_FOUND,
                   "a stack program is missing next to ccc (build all targets, or --bin-dir)");
    return CCC_OK;
}

/* The page with this stack's three anchors baked in, built into DIR/web
 * (tools/web/build.mjs, about 0.4 s). A page served by the host is only as
 * trustworthy as the host (docs/browser.md); baking the anchors saves the
 * local user from pinning them by hand. Quietly skipped without Node or the
 * web tools: then the repository's build/web (no anchors) is served. */
static void build_page(ccc_stack_paths *p)
{
    char script[CCC_STACK_PATH_MAX], trust[CCC_STACK_PATH_MAX], out[CCC_STACK_PATH_MAX];
    if (ccc_stack_path(script, CCC_SOURCE_DIR, "tools/web/build.mjs") != CCC_OK ||
        ccc_stack_path(trust, p->dir, "trust") != CCC_OK ||
        ccc_stack_path(out, p->dir, "web") != CCC_OK || !ccc_stack_exists(script) ||
        !ccc_stack_exists(CCC_SOURCE_DIR "/tools/web/node_modules"))
        return;
    pid_t pid = fork();
    if (pid < 0)
        return;
    if (pid == 0) {
        int null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0) {
            dup2(null_fd, 1);
            dup2(null_fd, 2);
        }
        execlp("node", "node", script, "--trust", trust, "--out", out, "--label", "local stack",
               (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char index[CCC_STACK_PATH_MAX];
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        ccc_stack_path(index, out, "index.html") == CCC_OK && ccc_stack_exists(index))
        memcpy(p->static_dir, out, sizeof out);
}

ccc_status ccc_stack_make_dirs(const ccc_stack_paths *p)
{
    CCC_GUARD(ccc_mkdir_p(p->dir, 0700));
    static const char *const subdirs[] = {"policy", "trust", "run", "logs"};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++)
        CCC_GUARD(make_dir(p->dir, subdirs[i]));
    return CCC_OK;
}

ccc_status ccc_stack_prepare_paths(ccc_stack_paths *p, bool page)
{
    CCC_GUARD(ccc_stack_make_dirs(p));
    CCC_GUARD(prepare_nsm(p->dir));
    CCC_GUARD(prepare_policy_key(p->dir));
    CCC_GUARD(prepare_kms(p->dir));
    CCC_GUARD(prepare_policy(p));
    char to[CCC_STACK_PATH_MAX];
    CCC_GUARD(ccc_stack_path(to, p->dir, "trust/root.pem"));
    CCC_GUARD(copy_file(p->root, to));
    CCC_GUARD(ccc_stack_path(to, p->dir, "trust/policy-pub.pem"));
    CCC_GUARD(copy_file(p->policy_pub, to));
    if (page)
        build_page(p);
    return CCC_OK;
}

ccc_status ccc_stack_prepare(const ccc_stack_options *opts)
{
    ccc_stack_paths *p = calloc(1, sizeof *p);
    CCC_ENSURE(p, CCC_ERR_NOMEM, "out of memory");
    ccc_status st = ccc_stack_paths_init(opts, p);
    if (st == CCC_OK)
        st = ccc_stack_model_manifest_hash(p->model_dir, p->manifest_sha256);
    if (st == CCC_OK)
        st = ccc_stack_prepare_paths(p, false);
    free(p);
    return st;
}
