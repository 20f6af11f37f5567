/* nsm: the simulated NSM — boot, measured launch, PCRs, attestation. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cbor/cbor.h"
#include "nsm/nsm.h"
#include "x509/x509.h"

extern char **environ;

#define MAX_EXEC_SIZE (512ull << 20)

static const char pcr1_label[] = "ccc-sim:pcr1:kernel+bootstrap not measured";

void ccc_nsm_sim_init(ccc_nsm_sim *sim)
{
    memset(sim, 0, sizeof *sim);
    ccc_nsm_ca_init(&sim->ca);
    ccc_buf_init(&sim->leaf_cert, 16u * 1024u);
}

void ccc_nsm_sim_wipe(ccc_nsm_sim *sim)
{
    ccc_nsm_ca_wipe(&sim->ca);
    EVP_PKEY_free(sim->leaf_key);
    ccc_buf_wipe(&sim->leaf_cert);
    ccc_wipe(sim, sizeof *sim);
    ccc_nsm_sim_init(sim);
}

ccc_status ccc_nsm_sim_boot(ccc_nsm_sim *sim, ccc_nsm_ca *ca, int64_t now_unix)
{
    ccc_status st = CCC_OK;
    ccc_nsm_sim_wipe(sim);
    sim->ca = *ca;
    ccc_nsm_ca_init(ca); /* moved */
    CCC_TRY(ccc_x509_p384_keygen(&sim->leaf_key));
    uint8_t id[8];
    CCC_CHECK(RAND_bytes(id, sizeof id) == 1, CCC_ERR_CRYPTO, "no randomness");
    char hex[17];
    ccc_hex_encode(id, sizeof id, hex);
    snprintf(sim->module_id, sizeof sim->module_id, "i-ccclocal-enc%s", hex);
    uint64_t serial;
    memcpy(&serial, id, sizeof serial);
    /* AWS's leaves start a few seconds before the boot and last ~3 hours. */
    ccc_x509_issue_params p = {sim->module_id, serial >> 1, now_unix - 5,
                               now_unix + CCC_NSM_LEAF_SECONDS, false, -1};
    CCC_TRY(ccc_x509_issue(&p, sim->leaf_key, sim->ca.keys[CCC_NSM_CA_LEVELS - 1],
                           ccc_buf_bytes(&sim->ca.certs[CCC_NSM_CA_LEVELS - 1]),
                           &sim->leaf_cert));
    CCC_CHECK(EVP_Digest(pcr1_label, sizeof pcr1_label - 1, sim->pcrs[1], NULL, EVP_sha384(),
                         NULL) == 1,
              CCC_ERR_CRYPTO, "SHA-384 failed");
    sim->pcr_count = 16;
out:
    if (st != CCC_OK)
        ccc_nsm_sim_wipe(sim);
    return st;
}

ccc_status ccc_nsm_sim_measure_fd(ccc_nsm_sim *sim, int fd)
{
    ccc_status st = CCC_OK;
    uint8_t buf[64 * 1024];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CCC_CHECK(md && EVP_DigestInit_ex(md, EVP_sha384(), NULL) == 1, CCC_ERR_CRYPTO,
              "SHA-384 failed");
    uint64_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        CCC_CHECK(n >= 0, CCC_ERR_IO, "cannot read the executable");
        if (n == 0)
            break;
        off += (uint64_t)n;
        CCC_CHECK(off <= MAX_EXEC_SIZE, CCC_ERR_LIMIT, "executable too large");
        CCC_CHECK(EVP_DigestUpdate(md, buf, (size_t)n) == 1, CCC_ERR_CRYPTO, "SHA-384 failed");
    }
    CCC_CHECK(off > 0, CCC_ERR_IO, "executable is empty");
    CCC_CHECK(EVP_DigestFinal_ex(md, sim->pcrs[0], NULL) == 1, CCC_ERR_CRYPTO, "SHA-384 failed");
    /* Nitro PCR2 measures the user application; here that is the same file. */
    memcpy(sim->pcrs[2], sim->pcrs[0], CCC_NSM_PCR_SIZE);
    sim->launched = true;
out:
    EVP_MD_CTX_free(md);
    return st;
}

ccc_status ccc_nsm_launch_pcrs(const char *path, uint8_t pcrs[3][CCC_NSM_PCR_SIZE])
{
    ccc_status st = CCC_OK;
    ccc_nsm_sim sim;
    ccc_nsm_sim_init(&sim);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CCC_CHECK(fd >= 0, CCC_ERR_NOT_FOUND, "cannot open the executable");
    CCC_TRY(ccc_nsm_sim_measure_fd(&sim, fd));
    memcpy(pcrs[0], sim.pcrs[0], CCC_NSM_PCR_SIZE);
    CCC_CHECK(EVP_Digest(pcr1_label, sizeof pcr1_label - 1, pcrs[1], NULL, EVP_sha384(), NULL) ==
                  1,
              CCC_ERR_CRYPTO, "SHA-384 failed");
    memcpy(pcrs[2], sim.pcrs[2], CCC_NSM_PCR_SIZE);
out:
    if (fd >= 0)
        close(fd);
    ccc_nsm_sim_wipe(&sim);
    return st;
}

ccc_status ccc_nsm_sim_extend(ccc_nsm_sim *sim, unsigned index, ccc_bytes data)
{
    CCC_ENSURE(index == CCC_NSM_PCR_MANIFEST || index == CCC_NSM_PCR_POLICY, CCC_ERR_USAGE,
               "only PCR16 (manifest) and PCR17 (policy) are extendable");
    CCC_GUARD(ccc_nsm_pcr_extend(sim->pcrs[index], data));
    if (sim->pcr_count < CCC_NSM_PCR_POLICY + 1)
        sim->pcr_count = CCC_NSM_PCR_POLICY + 1;
    return CCC_OK;
}

/* Copy `src` into a sealed memfd: what we measure and exec cannot change. */
static ccc_status sealed_copy(int src, int *out)
{
    ccc_status st = CCC_OK;
    uint8_t buf[64 * 1024];
    int mfd = memfd_create("ccc-enclave", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CCC_CHECK(mfd >= 0, CCC_ERR_IO, "memfd_create failed");
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(src, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        CCC_CHECK(n >= 0, CCC_ERR_IO, "cannot read the executable");
        if (n == 0)
            break;
        total += (uint64_t)n;
        CCC_CHECK(total <= MAX_EXEC_SIZE, CCC_ERR_LIMIT, "executable too large");
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(mfd, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            CCC_CHECK(w > 0, CCC_ERR_IO, "cannot copy the executable");
            done += w;
        }
    }
    CCC_CHECK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) ==
                  0,
              CCC_ERR_IO, "cannot seal the executable copy");
    *out = mfd;
    mfd = -1;
out:
    if (mfd >= 0)
        close(mfd);
    return st;
}

ccc_status ccc_nsm_sim_launch(ccc_nsm_sim *sim, const char *path, char *const argv[], int keep_fd,
                              pid_t *pid)
{
    ccc_status st = CCC_OK;
    int src = -1, exe = -1;
    *pid = -1;
    src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0 && errno == ENOENT)
        CCC_FAIL(CCC_ERR_NOT_FOUND, "enclave executable not found");
    CCC_CHECK(src >= 0, CCC_ERR_IO, "cannot open the enclave executable");
    CCC_TRY(sealed_copy(src, &exe));
    /* Measure through the descriptor we are about to execute. */
    CCC_TRY(ccc_nsm_sim_measure_fd(sim, exe));
    pid_t launcher = getpid();
    pid_t child = fork();
    CCC_CHECK(child >= 0, CCC_ERR_IO, "fork failed");
    if (child == 0) {
        /* The enclave does not outlive its launcher (the NSM channel). */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != launcher)
            _exit(127);
        /* Child: move exe out of the way, NSM channel to fd 3, close the rest. */
        int high = fcntl(exe, F_DUPFD_CLOEXEC, 64);
        if (high < 0)
            _exit(127);
        if (keep_fd >= 0 && keep_fd != 3) {
            if (dup2(keep_fd, 3) < 0)
                _exit(127);
        }
        for (int fd = keep_fd >= 0 ? 4 : 3; fd < 1024; fd++)
            if (fd != high)
                close(fd);
        fexecve(high, argv, environ);
        _exit(127);
    }
    *pid = child;
out:
    if (src >= 0)
        close(src);
    if (exe >= 0)
        close(exe);
    return st;
}

ccc_status ccc_nsm_sim_attest(const ccc_nsm_sim *sim, uint64_t now_ms, ccc_bytes user_data,
                              ccc_bytes nonce, ccc_bytes public_key, ccc_buf *doc)
{
    ccc_status st = CCC_OK;
    CCC_CHECK(sim->leaf_key, CCC_ERR_USAGE, "simulated NSM not booted");
    CCC_CHECK(user_data.size <= CCC_NSM_MAX_USER_SIZE && nonce.size <= CCC_NSM_MAX_USER_SIZE &&
                  public_key.size <= CCC_NSM_MAX_USER_SIZE,
              CCC_ERR_LIMIT, "user_data, nonce and public_key are limited to 1024 bytes");
    ccc_bytes bundle[CCC_NSM_CA_LEVELS];
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++)
        bundle[i] = ccc_buf_bytes(&sim->ca.certs[i]);
    ccc_nsm_doc_fields f = {
        .module_id = sim->module_id,
        .digest = "SHA384",
        .timestamp_ms = now_ms,
        .pcrs = (const uint8_t(*)[CCC_NSM_PCR_SIZE])sim->pcrs,
        .pcr_count = sim->pcr_count,
        .certificate = ccc_buf_bytes(&sim->leaf_cert),
        .cabundle = bundle,
        .cabundle_count = CCC_NSM_CA_LEVELS,
        .public_key = public_key,
        .user_data = user_data,
        .nonce = nonce,
    };
    ccc_buf payload;
    ccc_buf_init(&payload, 64u * 1024u);
    CCC_TRY(ccc_nsm_doc_encode(&f, &payload));
    CCC_TRY(ccc_nsm_doc_sign(sim->leaf_key, ccc_buf_bytes(&payload), doc));
out:
    ccc_buf_wipe(&payload);
    return st;
}

/* Parse {"Attestation": {"user_data"?, "nonce"?, "public_key"?}}. */
static ccc_status parse_request(const ccc_cbor_item *root, ccc_bytes out[3])
{
    static const char *const keys[3] = {"user_data", "nonce", "public_key"};
    const ccc_cbor_item *body;
    size_t n;
    CCC_GUARD(ccc_cbor_get_map(root, &n));
    CCC_ENSURE(n == 1, CCC_ERR_PARSE, "request must be one NSM API call");
    CCC_GUARD(ccc_cbor_map_get_text(root, "Attestation", &body));
    CCC_GUARD(ccc_cbor_get_map(body, &n));
    size_t found = 0;
    for (int i = 0; i < 3; i++) {
        const ccc_cbor_item *v;
        out[i] = ccc_bytes_of(NULL, 0);
        ccc_status st = ccc_cbor_map_get_text(body, keys[i], &v);
        if (st == CCC_ERR_NOT_FOUND)
            continue;
        CCC_GUARD(st);
        found++;
        if (ccc_cbor_is_null(v))
            continue;
        CCC_GUARD(ccc_cbor_get_bytes(v, &out[i]));
        CCC_ENSURE(out[i].size <= CCC_NSM_MAX_USER_SIZE, CCC_ERR_LIMIT,
                   "attestation request field over 1024 bytes");
        if (!out[i].ptr) /* an empty bstr is bound, not null */
            out[i].ptr = (const uint8_t *)"";
    }
    CCC_ENSURE(found == n, CCC_ERR_PARSE, "unknown key in attestation request");
    return CCC_OK;
}

ccc_status ccc_nsm_sim_handle(const ccc_nsm_sim *sim, ccc_bytes request, ccc_buf *response)
{
    ccc_status st = CCC_OK;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    ccc_buf out;
    ccc_buf_init(&out, CCC_NSM_MAX_FRAME);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = 4096; /* NSM_REQUEST_MAX_SIZE */
    lim.max_items = 16;
    lim.max_depth = 3;
    ccc_bytes f[3];
    if (ccc_cbor_decode(&doc, request, &lim, 0) != CCC_OK ||
        parse_request(ccc_cbor_doc_root(&doc), f) != CCC_OK) {
        /* The real NSM answers a bad request with ErrorCode::InvalidArgument. */
        CCC_TRY(ccc_cbor_put_map(response, 1));
        CCC_TRY(ccc_cbor_put_cstr(response, "Error"));
        CCC_TRY(ccc_cbor_put_cstr(response, "InvalidArgument"));
        goto out;
    }
    CCC_TRY(ccc_nsm_sim_attest(sim, ccc_wall_ms(), f[0], f[1], f[2], &out));
    CCC_TRY(ccc_cbor_put_map(response, 1));
    CCC_TRY(ccc_cbor_put_cstr(response, "Attestation"));
    CCC_TRY(ccc_cbor_put_map(response, 1));
    CCC_TRY(ccc_cbor_put_cstr(response, "document"));
    CCC_TRY(ccc_cbor_put_bytes(response, out.data, out.size));
out:
    ccc_buf_wipe(&out);
    ccc_cbor_doc_wipe(&doc);
    return st;
}

ccc_status ccc_nsm_sim_serve(const ccc_nsm_sim *sim, int fd)
{
    ccc_status st = CCC_OK;
    ccc_buf req, resp;
    ccc_buf_init(&req, CCC_NSM_MAX_FRAME);
    ccc_buf_init(&resp, CCC_NSM_MAX_FRAME);
    for (;;) {
        ccc_buf_reset(&req);
        ccc_buf_reset(&resp);
        st = ccc_nsm_frame_read(fd, &req);
        if (st == CCC_ERR_NOT_FOUND) { /* peer closed: done */
            st = CCC_OK;
            break;
        }
        CCC_TRY(st);
        CCC_TRY(ccc_nsm_sim_handle(sim, ccc_buf_bytes(&req), &resp));
        CCC_TRY(ccc_nsm_frame_write(fd, ccc_buf_bytes(&resp)));
    }
out:
    ccc_buf_wipe(&req);
    ccc_buf_wipe(&resp);
    return st;
}
