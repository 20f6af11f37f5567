/* The libFuzzer entry point every fuzz_<name>.c defines. */
#ifndef CCC_FUZZ_H
#define CCC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
