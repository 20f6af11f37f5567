/* image — private: the two decoders behind ccc_image_decode. */
#ifndef CCC_IMAGE_INTERNAL_H
#define CCC_IMAGE_INTERNAL_H

#include "image/image.h"

/* Check width/height against the limits (CCC_ERR_LIMIT / CCC_ERR_PARSE for 0). */
CCC_MUST_USE ccc_status ccc_image_check_size(const ccc_image_limits *lim, uint64_t w, uint64_t h);
/* Allocate the w*h*3 pixel buffer (after the checks) and note its size. */
CCC_MUST_USE ccc_status ccc_image_alloc_pixels(ccc_image *img, uint32_t w, uint32_t h);

/*
 * Per-format decoders: check the header against `lim` and report w x h;
 * with `out` == NULL stop there (probe), else decode into `out`.
 */
CCC_MUST_USE ccc_status ccc_image_jpeg_run(ccc_bytes in, const ccc_image_limits *lim,
                                           ccc_image *out, uint32_t *w, uint32_t *h);
CCC_MUST_USE ccc_status ccc_image_png_run(ccc_bytes in, const ccc_image_limits *lim,
                                          ccc_image *out, uint32_t *w, uint32_t *h);

#endif
