/*
 * image — decode an untrusted JPEG or PNG held in memory into packed RGB8.
 *
 * This runs inside the enclave on the user's photo, so it is a parser of
 * hostile bytes first and a decoder second:
 *
 *   - Limits are checked BEFORE any pixel memory is allocated: the input
 *     size, then (from the header alone) width, height and width*height.
 *     A 100-megapixel header is refused with CCC_ERR_LIMIT after reading a
 *     few dozen bytes. For PNG we read IHDR ourselves through ccc_reader
 *     before libpng sees the data; for JPEG we check after jpeg_read_header(),
 *     which reads only markers and allocates no image memory.
 *   - libjpeg-turbo's error_exit and libpng's error function longjmp back
 *     into the wrapper (never exit(), never print). libjpeg warnings about
 *     damaged data ("premature end of JPEG file", "bad Huffman code", ...)
 *     are fatal: a truncated or damaged JPEG is CCC_ERR_PARSE, not a
 *     half-grey picture. Four metadata warnings are tolerated (extraneous
 *     bytes before a marker, unknown JFIF revision, unknown Adobe transform
 *     code, bad ICC marker), since ordinary cameras produce them.
 *     libjpeg's working memory is capped (max_memory_to_use, no backing
 *     store), progressive JPEGs may have at most CCC_IMAGE_MAX_JPEG_SCANS
 *     scans, and libpng's allocations go through a counting allocator with
 *     a budget (plus png_set_user_limits / chunk limits as a second fence).
 *   - A PNG must be complete up to and including IEND (CRCs of critical
 *     chunks and the zlib stream checked); bytes after IEND are ignored.
 *
 * Pixel conversion (what the detector sees, matching TensorFlow's
 * decode_png/decode_jpeg with channels=3, which is what the reference feeds):
 *   - grey (1/2/4/8/16 bit)   -> R = G = B = grey value (scaled to 8 bits)
 *   - palette                 -> the palette's RGB
 *   - 16-bit samples          -> the high byte (png_set_strip_16)
 *   - alpha (RGBA, grey+alpha, tRNS) -> ALPHA IS DROPPED: colour values are
 *     used as stored, not composited over any background. A fully
 *     transparent pixel keeps whatever colour it stores.
 *   - JPEG grey / YCbCr / RGB -> RGB via libjpeg (JCS_RGB). CMYK and YCCK
 *     JPEGs are CCC_ERR_UNSUPPORTED.
 *   - EXIF orientation is IGNORED, as in the reference (@vladmandic/human on
 *     TF.js decodes the stored pixel grid and never rotates). A phone photo
 *     taken upright may therefore be processed sideways; the detector is
 *     mostly rotation-tolerant for cats but box coordinates refer to the
 *     stored (unrotated) grid.
 *   - Colour profiles (ICC, gAMA, cHRM) are ignored.
 *
 * Errors: CCC_ERR_PARSE (empty, truncated or malformed), CCC_ERR_LIMIT (over
 * a limit), CCC_ERR_UNSUPPORTED (not JPEG/PNG by its magic bytes, or a JPEG
 * colour space we do not convert), CCC_ERR_NOMEM. Details are fixed strings
 * (sometimes with the library's numeric message code), never image bytes.
 *
 * Ownership: ccc_image is caller-owned (ccc_image_init / ccc_image_wipe).
 * The pixels are user data: ccc_image_wipe zeroes them before freeing.
 *
 * Important caveats:
 *   1. libjpeg and libpng keep decoded rows in their own internal buffers,
 *      which they free without zeroing. Pixels of the user's image may stay
 *      in freed heap memory of the enclave process until reused.
 *   2. The decoder is not constant-time; decode time depends on the image.
 *   3. Animated PNG (APNG) decodes its default image only; JPEG thumbnails
 *      and other metadata are skipped.
 */
#ifndef CCC_IMAGE_H
#define CCC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define CCC_IMAGE_DEFAULT_MAX_INPUT_SIZE (16u << 20) /* 16 MiB           */
#define CCC_IMAGE_DEFAULT_MAX_SIDE 8192u             /* pixels per side  */
#define CCC_IMAGE_DEFAULT_MAX_PIXELS 40000000u       /* 40 megapixels    */
#define CCC_IMAGE_MAX_JPEG_SCANS 500                 /* progressive scans */

typedef enum ccc_image_format {
    CCC_IMAGE_UNKNOWN = 0,
    CCC_IMAGE_JPEG,
    CCC_IMAGE_PNG,
} ccc_image_format;

/* Caller-supplied limits; start from ccc_image_limits_default(). */
typedef struct ccc_image_limits {
    size_t max_input_size; /* encoded bytes                                */
    uint32_t max_width;    /* pixels                                       */
    uint32_t max_height;   /* pixels                                       */
    uint64_t max_pixels;   /* width * height                               */
} ccc_image_limits;

/* A decoded image: width*height pixels, 3 bytes each (R, G, B), row-major,
 * rows packed (stride = 3*width). */
typedef struct ccc_image {
    uint8_t *rgb;
    uint32_t width;
    uint32_t height;
    ccc_image_format format; /* what it was decoded from */
} ccc_image;

ccc_image_limits ccc_image_limits_default(void);

void ccc_image_init(ccc_image *img);
/* Zero and free the pixels; the struct is empty and reusable after. */
void ccc_image_wipe(ccc_image *img);


/*
 * The format by magic bytes: JPEG = FF D8 FF, PNG = the 8-byte signature.
 * CCC_IMAGE_UNKNOWN for anything else (including a too-short prefix).
 */
ccc_image_format ccc_image_sniff(ccc_bytes in);

/*
 * Read only the header: format, width and height, with the limits applied
 * (CCC_ERR_LIMIT if over). Allocates no pixel memory. `limits` may be NULL
 * for the defaults.
 */
CCC_MUST_USE ccc_status ccc_image_probe(ccc_bytes in, const ccc_image_limits *limits,
                                        ccc_image_format *format, uint32_t *width,
                                        uint32_t *height);

/*
 * Decode `in` (borrowed) into `out` (wiped first, then filled). `limits` may
 * be NULL for the defaults. On failure `out` is empty.
 */
CCC_MUST_USE ccc_status ccc_image_decode(ccc_bytes in, const ccc_image_limits *limits,
                                         ccc_image *out);

/*
 * The w×h rectangle of `in` at (x, y) as a new image in `out` (wiped first).
 * CCC_ERR_USAGE if the rectangle is empty or leaves the image.
 */
CCC_MUST_USE ccc_status ccc_image_crop(const ccc_image *in, uint32_t x, uint32_t y, uint32_t w,
                                       uint32_t h, ccc_image *out);

/*
 * Encode `img` as an 8-bit RGB PNG (libpng), appended to `out` (its cap
 * applies). For tools and tests: the enclave never encodes images.
 */
CCC_MUST_USE ccc_status ccc_image_encode_png(const ccc_image *img, ccc_buf *out);

/*
 * Bytes of pixel memory the last ccc_image_decode on this thread allocated
 * (0 if it failed before allocating). For tests and benchmarks: it proves
 * that an oversized header is refused before allocation.
 */
size_t ccc_image_last_alloc_size(void);

#endif /* CCC_IMAGE_H */
