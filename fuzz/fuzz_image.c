/*
 * Fuzz the image decode wrapper (JPEG via libjpeg-turbo, PNG via libpng).
 * Any input must give CCC_OK with a consistent image or a classified error;
 * never a crash, a leak, or a pixel buffer on failure. Limits are lowered
 * so the fuzzer explores parsing rather than big allocations.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccc_image_limits lim = ccc_image_limits_default();
    lim.max_width = lim.max_height = 2048;
    lim.max_pixels = 1u << 20;
    ccc_image img;
    ccc_image_init(&img);
    ccc_status st = ccc_image_decode(ccc_bytes_of(data, size), &lim, &img);
    if (st == CCC_OK) {
        if (img.rgb == NULL || img.width == 0 || img.height == 0 ||
            (uint64_t)img.width * img.height > lim.max_pixels)
            abort();
        /* Touch every pixel: the buffer is exactly w*h*3. */
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < (size_t)img.width * img.height * 3; i++)
            sink ^= img.rgb[i];
        (void)sink;
    } else if (img.rgb != NULL) {
        abort();
    }
    uint32_t dw = img.width, dh = img.height;
    ccc_image_wipe(&img);
    ccc_image_format f;
    uint32_t w = 0, h = 0;
    /* probe agrees with decode: what decodes, probes with the same size;
     * what the probe finds over a limit never decodes. (A header can probe
     * fine and the body still fail to decode: that direction is allowed.) */
    ccc_status pst = ccc_image_probe(ccc_bytes_of(data, size), &lim, &f, &w, &h);
    if (pst == CCC_OK && (w == 0 || h == 0))
        abort();
    if (st == CCC_OK && (pst != CCC_OK || w != dw || h != dh))
        abort();
    if (pst == CCC_ERR_LIMIT && st == CCC_OK)
        abort();
    return 0;
}
