/* ccc — the user's command line. Everything is in libccc (src/cli). */
#include "base/base.h"
#include "cli/cli.h"

int main(int argc, char **argv)
{
    ccc_process_harden();
    return ccc_cli_main(argc, argv);
}
