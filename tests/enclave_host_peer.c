/*
 * enclave_host_peer — a test-only stand-in for ccc-host's relay
 * (docs/protocol.md §10), for tests/enclave_cli.sh:
 *
 *   enclave_host_peer --enclave SOCK --kms SOCK [--wait-s N] [--attest-out FILE]
 *                     [--refusals N]
 *
 * Connects to the enclave's unix socket, relays every 0x30 key_request to
 * ccc-kms on its unix socket (one connection per request, the answer frame
 * relayed unread) and prints one line per relay. When 0x21 attest_response
 * arrives it saves the document (--attest-out), sends one ping and checks
 * the pong, sends attest_request and checks the same document comes back,
 * and exits 0. With --refusals N it stops once ccc-kms has refused N
 * requests and the enclave has asked again (a key request, not an
 * attest_response): "still asking after N refusals", exit 3. Exits 3 too
 * if no attest_response arrives within --wait-s seconds (default 20; a
 * failure bound), 1 on any other failure.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "frame/frame.h"

static int connect_unix(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Frame bodies, freed at exit on every path. */
static ccc_buf g_body, g_answer;

static void free_bufs(void)
{
    ccc_buf_wipe(&g_body);
    ccc_buf_wipe(&g_answer);
}

static int die(const char *what)
{
    fprintf(stderr, "enclave_host_peer: %s: %s\n", what, ccc_error_detail());
    return 1;
}

/* Relay one key_request to ccc-kms; the answer goes into *type / answer. */
static ccc_status relay_to_kms(const char *kms_path, ccc_bytes doc, ccc_frame_type *type,
                               ccc_buf *answer)
{
    int k = connect_unix(kms_path);
    CCC_ENSURE(k >= 0, CCC_ERR_IO, "cannot connect to ccc-kms");
    ccc_status st = ccc_frame_write(k, CCC_FRAME_KEY_REQUEST, doc);
    if (st == CCC_OK)
        st = ccc_frame_read(k, type, answer);
    close(k);
    return st;
}

int main(int argc, char **argv)
{
    const char *enclave = NULL, *kms = NULL, *attest_out = NULL;
    long wait_s = 20, max_refusals = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--enclave") == 0)
            enclave = argv[i + 1];
        else if (strcmp(argv[i], "--kms") == 0)
            kms = argv[i + 1];
        else if (strcmp(argv[i], "--attest-out") == 0)
            attest_out = argv[i + 1];
        else if (strcmp(argv[i], "--wait-s") == 0)
            wait_s = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--refusals") == 0)
            max_refusals = strtol(argv[i + 1], NULL, 10);
    }
    if (!enclave || !kms || wait_s <= 0) {
        fprintf(stderr, "usage: enclave_host_peer --enclave SOCK --kms SOCK [--wait-s N] "
                        "[--attest-out FILE]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int fd = connect_unix(enclave);
    if (fd < 0) {
        fprintf(stderr, "enclave_host_peer: cannot connect to the enclave\n");
        return 1;
    }
    ccc_buf_init(&g_body, CCC_FRAME_MAX_BODY_SIZE);
    ccc_buf_init(&g_answer, CCC_FRAME_MAX_BODY_SIZE);
    atexit(free_bufs);
    ccc_buf *body = &g_body, *answer = &g_answer;
    time_t deadline = time(NULL) + wait_s;
    unsigned requests = 0;
    long refusals = 0;
    for (;;) {
        long left_s = (long)(deadline - time(NULL));
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = left_s > 0 ? poll(&p, 1, (int)(left_s * 1000)) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            printf("no attest_response within %ld s after %u key requests\n", wait_s, requests);
            return 3;
        }
        ccc_frame_type type;
        if (ccc_frame_read(fd, &type, body) != CCC_OK)
            return die("reading from the enclave");
        if (type == CCC_FRAME_KEY_REQUEST) {
            if (max_refusals > 0 && refusals >= max_refusals) {
                printf("still asking after %ld refusals (%u key requests)\n", refusals,
                       requests + 1);
                return 3;
            }
            requests++;
            ccc_frame_type at;
            ccc_buf_reset(answer);
            if (relay_to_kms(kms, ccc_buf_bytes(body), &at, answer) != CCC_OK)
                return die("relaying to ccc-kms");
            if (at == CCC_FRAME_KEY_RESPONSE) {
                printf("key_request %u: key_response (%zu bytes)\n", requests, answer->size);
            } else {
                printf("key_request %u: refused %.*s\n", requests, (int)answer->size,
                       (const char *)answer->data);
                refusals++;
            }
            fflush(stdout);
            if (ccc_frame_write(fd, at, ccc_buf_bytes(answer)) != CCC_OK)
                return die("relaying the answer to the enclave");
            continue;
        }
        if (type != CCC_FRAME_ATTEST_RESPONSE) {
            fprintf(stderr, "enclave_host_peer: unexpected frame 0x%02x\n", (unsigned)type);
            return 1;
        }
        printf("attest_response (%zu bytes) after %u key requests\n", body->size, requests);
        if (attest_out && ccc_file_write(attest_out, body->data, body->size) != CCC_OK)
            return die("writing the document");
        /* ping -> pong with the same token */
        if (ccc_frame_write(fd, CCC_FRAME_PING, ccc_bytes_of("tok", 3)) != CCC_OK ||
            ccc_frame_read(fd, &type, answer) != CCC_OK)
            return die("ping");
        if (type != CCC_FRAME_PONG || answer->size != 3 || memcmp(answer->data, "tok", 3) != 0) {
            fprintf(stderr, "enclave_host_peer: bad pong\n");
            return 1;
        }
        printf("pong\n");
        /* attest_request -> the same document */
        if (ccc_frame_write(fd, CCC_FRAME_ATTEST_REQUEST, ccc_bytes_of(NULL, 0)) != CCC_OK ||
            ccc_frame_read(fd, &type, answer) != CCC_OK)
            return die("attest_request");
        if (type != CCC_FRAME_ATTEST_RESPONSE || answer->size != body->size ||
            memcmp(answer->data, body->data, body->size) != 0) {
            fprintf(stderr, "enclave_host_peer: attest_request answered another document\n");
            return 1;
        }
        printf("attest_request: same document\n");
        close(fd);
        return 0;
    }
}
