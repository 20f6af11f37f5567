/* kms internals shared by store.c and release.c (not part of the API). */
#ifndef CCC_KMS_INTERNAL_H
#define CCC_KMS_INTERNAL_H

#include "cbor/cbor.h"

/* Map value by text key; a missing key is CCC_ERR_PARSE (every key of the
 * kms formats is required). */
CCC_MUST_USE ccc_status ccc_kms_map_get(const ccc_cbor_item *map, const char *key,
                                        const ccc_cbor_item **v);

#endif /* CCC_KMS_INTERNAL_H */
