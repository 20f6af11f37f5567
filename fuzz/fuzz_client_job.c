/*
 * Fuzz the client's readers of GET /v1/jobs/{id} answers and of error
 * answers (docs/protocol.md §11). Oracles: a parsed job has a printable
 * id of 1..256 bytes, a known state, an error class only when failed and
 * ciphertext fields only when done; a parsed error class is a real one.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccc_bytes in = ccc_bytes_of(data, size);
    ccc_client_job_json j;
    ccc_client_job_json_init(&j);
    if (ccc_client_job_json_parse(in, &j) == CCC_OK) {
        size_t n = strlen(j.id);
        if (n == 0 || n > CCC_RECEIPT_MAX_JOB_ID)
            abort();
        for (size_t i = 0; i < n; i++)
            if (j.id[i] < 0x21 || j.id[i] > 0x7e)
                abort();
        if (j.state > CCC_CLIENT_JOB_FAILED)
            abort();
        if ((j.state == CCC_CLIENT_JOB_FAILED) != (j.error != CCC_OK))
            abort();
        if (j.state != CCC_CLIENT_JOB_DONE &&
            (j.response.size || j.receipt.size || j.attestation.size))
            abort();
    }
    ccc_client_job_json_wipe(&j);
    ccc_status cls;
    if (ccc_client_error_json_parse(in, &cls) == CCC_OK &&
        (cls == CCC_OK || cls >= CCC_STATUS_COUNT))
        abort();
    return 0;
}
