/*
 * nsm: the real Nitro Secure Module, /dev/nsm. Runs only inside a Nitro
 * enclave; compiled everywhere, exercised nowhere here (docs/attestation.md).
 *
 * The Linux driver (drivers/misc/nsm.c, include/uapi/linux/nsm.h, and the
 * aws-nitro-enclaves-nsm-api driver module) takes one ioctl:
 *
 *   struct nsm_message { struct iovec request; struct iovec response; };
 *   #define NSM_MAGIC 0x0A
 *   #define NSM_IOCTL_REQUEST _IOWR(NSM_MAGIC, 0, struct nsm_message)
 *
 * with the CBOR request in `request` (at most NSM_REQUEST_MAX_SIZE = 0x1000
 * bytes) and a buffer for the CBOR response (NSM_RESPONSE_MAX_SIZE =
 * 0x3000); the driver sets response.iov_len to the bytes written.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "nsm/nsm.h"

struct ccc_nsm_message {
    struct iovec request;
    struct iovec response;
};
#define CCC_NSM_MAGIC 0x0A
#define CCC_NSM_IOCTL_REQUEST _IOWR(CCC_NSM_MAGIC, 0, struct ccc_nsm_message)
#define CCC_NSM_REQUEST_MAX_SIZE 0x1000
#define CCC_NSM_RESPONSE_MAX_SIZE 0x3000

ccc_status ccc_nsm_dev_roundtrip(int fd, ccc_bytes request, ccc_buf *response)
{
    CCC_ENSURE(request.size <= CCC_NSM_REQUEST_MAX_SIZE, CCC_ERR_LIMIT, "NSM request too large");
    uint8_t *tail;
    size_t before = response->size;
    CCC_GUARD(ccc_buf_extend(response, CCC_NSM_RESPONSE_MAX_SIZE, &tail));
    struct ccc_nsm_message msg = {
        .request = {.iov_base = (void *)request.ptr, .iov_len = request.size},
        .response = {.iov_base = tail, .iov_len = CCC_NSM_RESPONSE_MAX_SIZE},
    };
    int rc;
    do {
        rc = ioctl(fd, CCC_NSM_IOCTL_REQUEST, &msg);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 || msg.response.iov_len > CCC_NSM_RESPONSE_MAX_SIZE) {
        response->size = before;
        CCC_BAIL(CCC_ERR_IO, "NSM ioctl failed");
    }
    response->size = before + msg.response.iov_len;
    return CCC_OK;
}
