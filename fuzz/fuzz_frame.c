/*
 * Frame decoder: the input is split into chunks by its own first byte (so
 * the fuzzer explores partial reads), every frame that comes out must
 * re-encode to the bytes that went in, and after an error the decoder must
 * stay poisoned.
 */
#include <stdlib.h>
#include <string.h>

#include "frame/frame.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 16 + 1;
    data++;
    size--;
    ccc_frame_decoder d;
    ccc_frame_decoder_init(&d, false);
    ccc_buf re;
    ccc_buf_init(&re, CCC_FRAME_MAX_BODY_SIZE + 64);
    size_t pos = 0, consumed_ok = 0;
    ccc_status st = CCC_OK;
    while (pos < size && st == CCC_OK) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        size_t used = 0;
        bool ready = false;
        st = ccc_frame_decoder_feed(&d, data + pos, n, &used, &ready);
        if (used > n || (st == CCC_OK && used == 0 && !ready))
            abort();
        pos += used;
        if (st == CCC_OK)
            consumed_ok = pos;
        if (ready) {
            ccc_frame f = ccc_frame_decoder_frame(&d);
            if (f.body.size > ccc_frame_type_max_size(f.type))
                abort();
            if (ccc_frame_encode(f.type, f.body, &re) != CCC_OK)
                abort();
        }
    }
    /* Complete frames re-encode to exactly the prefix they came from. */
    if (re.size > consumed_ok || memcmp(re.data ? re.data : (const uint8_t *)"", data, re.size))
        abort();
    if (st != CCC_OK) {
        size_t used = 1;
        bool ready = true;
        if (ccc_frame_decoder_feed(&d, data, size, &used, &ready) != st || used || ready)
            abort();
    }
    ccc_buf_wipe(&re);
    ccc_frame_decoder_wipe(&d);
    return 0;
}
