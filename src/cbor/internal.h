/* cbor: helpers shared by the module's source files (not public API). */
#ifndef CCC_CBOR_INTERNAL_H
#define CCC_CBOR_INTERNAL_H

#include "base/base.h"

/* RFC 8949 §4.2.1 bytewise lexicographic comparison (memcmp, then shorter
 * first). Returns <0, 0, >0. */
int ccc_cbor_bytes_cmp(ccc_bytes a, ccc_bytes b);
/* Well-formed UTF-8 (RFC 3629): no overlongs, surrogates or > U+10FFFF. */
bool ccc_cbor_utf8_valid(const uint8_t *s, size_t size);

#endif
