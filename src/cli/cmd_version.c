/* `ccc version`: the program and the OpenSSL it runs on. */
#include <openssl/crypto.h>
#include <stdio.h>

#include "cli/cli.h"

int ccc_cmd_version(int argc, char **argv)
{
    if (ccc_cli_wants_help(argc, argv, "version"))
        return 0;
    printf("ccc %s (%s)\n", CCC_VERSION, OpenSSL_version(OPENSSL_VERSION));
    return 0;
}
