/* ccc-enclave — the trusted worker inside the TEE.
 * For now it only reports its version; the service arrives with the pipeline. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"

int main(int argc, char **argv)
{
    ccc_process_harden();
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ccc-enclave [--version]\n\nthe trusted worker inside the TEE (not yet a service).\n");
        return 0;
    }
    printf("ccc-enclave %s\n", CCC_VERSION);
    return 0;
}
