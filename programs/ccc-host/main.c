/* ccc-host — the untrusted host: HTTP API, queue, blind relay to enclaves.
 * For now it only reports its version; the service arrives with the pipeline. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"

int main(int argc, char **argv)
{
    ccc_process_harden();
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ccc-host [--version]\n\nthe untrusted host: HTTP API, queue, blind relay to enclaves (not yet a service).\n");
        return 0;
    }
    printf("ccc-host %s\n", CCC_VERSION);
    return 0;
}
