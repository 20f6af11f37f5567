/* enclave internals shared by enclave_frame.c and enclave_boot.c (not API). */
#ifndef CCC_ENCLAVE_INTERNAL_H
#define CCC_ENCLAVE_INTERNAL_H

#include "base/base.h"

typedef enum ccc_enclave_wait_result {
    CCC_ENCLAVE_WAIT_READY,   /* fd is readable (data, EOF or an error to read) */
    CCC_ENCLAVE_WAIT_STOP,    /* stop_fd is readable: stop was requested        */
    CCC_ENCLAVE_WAIT_TIMEOUT, /* timeout_ms passed                              */
} ccc_enclave_wait_result;

/*
 * Wait until `fd` or `stop_fd` (-1: none) is readable, at most timeout_ms
 * (-1: no limit). Stop wins over a readable fd. EINTR is retried with the
 * remaining time. CCC_ERR_IO if poll fails.
 */
CCC_MUST_USE ccc_status ccc_enclave_wait(int fd, int stop_fd, int timeout_ms,
                                         ccc_enclave_wait_result *out);

#endif /* CCC_ENCLAVE_INTERNAL_H */
