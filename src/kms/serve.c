/* ccc-kms as a process: loading its inputs, listening, and the frame
 * protocol (kms.h §4). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "cose/cose.h"
#include "frame/frame.h"
#include "kms/kms.h"
#include "log/log.h"

ccc_status ccc_kms_load_policy(const char *bundle_path, const char *pub_pem_path,
                               ccc_policy *policy, uint8_t policy_sha256[32])
{
    ccc_status st = CCC_OK;
    ccc_buf bundle;
    ccc_buf_init(&bundle, CCC_POLICY_MAX_BUNDLE_SIZE);
    EVP_PKEY *pub = NULL;
    CCC_TRY(ccc_file_read(bundle_path, &bundle));
    CCC_TRY(ccc_cose_key_read_pem(pub_pem_path, false, &pub));
    CCC_TRY(ccc_policy_verify(ccc_buf_bytes(&bundle), pub, policy, policy_sha256));
out:
    EVP_PKEY_free(pub);
    ccc_buf_wipe(&bundle);
    return st;
}

ccc_status ccc_kms_listen(const char *spec, int *fd_out)
{
    *fd_out = -1;
    int fd = -1;
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        size_t n = strlen(spec + 5);
        CCC_ENSURE(n > 0 && n < sizeof sa.sun_path, CCC_ERR_USAGE, "unix socket path too long");
        memcpy(sa.sun_path, spec + 5, n);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CCC_ENSURE(fd >= 0, CCC_ERR_IO, "cannot create socket");
        unlink(sa.sun_path); /* a stale socket from an earlier run */
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            CCC_BAIL(CCC_ERR_IO, "cannot bind unix socket");
        }
    } else {
        char host[64];
        const char *colon = strrchr(spec, ':');
        CCC_ENSURE(colon && (size_t)(colon - spec) < sizeof host, CCC_ERR_USAGE,
                   "listen address must be unix:PATH or HOST:PORT");
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        char *end = NULL;
        long port = strtol(colon + 1, &end, 10);
        CCC_ENSURE(end && *end == '\0' && port > 0 && port < 65536, CCC_ERR_USAGE,
                   "bad port");
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        CCC_ENSURE(inet_pton(AF_INET, host, &sa.sin_addr) == 1, CCC_ERR_USAGE,
                   "host must be an IPv4 address");
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CCC_ENSURE(fd >= 0, CCC_ERR_IO, "cannot create socket");
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            CCC_BAIL(CCC_ERR_IO, "cannot bind tcp socket");
        }
    }
    if (listen(fd, 16) != 0) {
        close(fd);
        CCC_BAIL(CCC_ERR_IO, "cannot listen");
    }
    *fd_out = fd;
    return CCC_OK;
}

/* Answer one frame. Returns CCC_OK to keep the connection. */
static ccc_status handle_frame(ccc_kms *kms, int fd, ccc_frame_type type, ccc_bytes body,
                               uint64_t now_ms)
{
    ccc_status st = CCC_OK;
    ccc_buf out;
    ccc_buf_init(&out, CCC_KMS_MAX_RELEASE_SIZE);
    if (type == CCC_FRAME_PING) {
        CCC_TRY(ccc_frame_write(fd, CCC_FRAME_PONG, body));
    } else if (type == CCC_FRAME_KEY_REQUEST) {
        ccc_kms_reason reason = CCC_KMS_R_INTERNAL;
        ccc_status rel = ccc_kms_release(kms, body, now_ms, &out, &reason);
        if (rel == CCC_OK) {
            CCC_TRY(ccc_frame_write(fd, CCC_FRAME_KEY_RESPONSE, ccc_buf_bytes(&out)));
        } else {
            ccc_buf_reset(&out);
            CCC_TRY(ccc_kms_refusal_body(rel, reason, &out));
            CCC_TRY(ccc_frame_write(fd, CCC_FRAME_JOB_ERROR, ccc_buf_bytes(&out)));
        }
    } else {
        /* A frame the kms does not serve: say so, then close (the peer is
         * confused; nothing it sends later can be trusted to be in step). */
        CCC_TRY(ccc_buf_append(&out, "usage:frame_type", 16));
        CCC_TRY(ccc_frame_write(fd, CCC_FRAME_JOB_ERROR, ccc_buf_bytes(&out)));
        CCC_FAIL(CCC_ERR_USAGE, "frame type not served by the kms");
    }
out:
    ccc_buf_wipe(&out);
    return st;
}

ccc_status ccc_kms_serve_conn(ccc_kms *kms, int fd, uint64_t now_ms)
{
    ccc_status st = CCC_OK;
    ccc_buf body;
    ccc_buf_init(&body, ccc_frame_type_max_size(CCC_FRAME_KEY_REQUEST));
    for (;;) {
        ccc_frame_type type;
        st = ccc_frame_read(fd, &type, &body);
        if (st == CCC_ERR_NOT_FOUND) { /* clean close between frames */
            st = CCC_OK;
            break;
        }
        CCC_TRY(st);
        CCC_TRY(handle_frame(kms, fd, type, ccc_buf_bytes(&body), now_ms ? now_ms : ccc_wall_ms()));
    }
out:
    ccc_buf_wipe(&body);
    return st;
}

ccc_status ccc_kms_serve(ccc_kms *kms, int listen_fd, volatile sig_atomic_t *stop)
{
    ccc_log(CCC_LOG_INFO, CCC_EV_START,
            ccc_log_count(CCC_F_COUNT, ccc_kms_store_key_count(ccc_kms_store_of(kms))),
            CCC_LOG_END);
    while (!*stop) {
        int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            CCC_BAIL(CCC_ERR_IO, "accept failed");
        }
        /* One connection at a time; a peer that stalls is dropped after
         * 10 s so it cannot hold the service. */
        struct timeval tv = {10, 0};
        (void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ccc_status st = ccc_kms_serve_conn(kms, c, 0);
        if (st != CCC_OK)
            ccc_log_error_status(CCC_EV_ERROR, st);
        close(c);
    }
    ccc_log(CCC_LOG_INFO, CCC_EV_STOP, CCC_LOG_END);
    return CCC_OK;
}
