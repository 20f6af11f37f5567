/*
 * detect — count cats: the CenterNet pipeline exactly as @vladmandic/human
 * 3.3.6 runs it on TF.js 4.22 (see docs/model-notes.md §2).
 *
 *   1. pre-process  stretch-resize the RGB8 image to 512x512 with bilinear
 *                   interpolation, align_corners=false,
 *                   half_pixel_centers=false (TF's legacy ResizeBilinear),
 *                   float32 values 0..255, NHWC. No letterbox, no
 *                   normalisation, no channel swap.
 *   2. inference    the graph (module nn), output tower_0/detections
 *                   [1,100,6] = x1, y1, x2, y2 (512-input pixels), score,
 *                   class (0-based COCO index).
 *   3. post-process class-agnostic non-maximum suppression with the exact
 *                   semantics of tf.image.nonMaxSuppressionAsync
 *                   (tfjs-core non_max_suppression_impl.ts, softNmsSigma 0):
 *                   candidates have score > threshold (strict, the float32
 *                   score compared as a double with the double threshold),
 *                   visited by descending score with the lower row first on
 *                   ties, dropped when IoU >= 0.4 with a kept box (IoU in
 *                   double; a box of area <= 0 has IoU 0), at most 10 kept.
 *                   Boxes are mapped back to the original image the way
 *                   human does (not clipped).
 *
 * Trust: ccc_detect_model_load() loads a model only after checking the
 * files against a signed model manifest (see manifest.h in this folder).
 *
 * Ownership: a ccc_detect_model owns its nn model and its 512x512 input
 * buffer; results are plain values (no pointers). One run at a time per
 * model.
 */
#ifndef CCC_DETECT_H
#define CCC_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "image/image.h"

struct ccc_nn_model;

#define CCC_DETECT_INPUT_SIDE 512                /* model input is 512x512x3  */
#define CCC_DETECT_ROWS 100                      /* rows of tower_0/detections */
#define CCC_DETECT_MAX_BOXES 10                  /* human maxDetected         */
#define CCC_DETECT_IOU_THRESHOLD 0.4             /* human iouThreshold        */
#define CCC_DETECT_DEFAULT_THRESHOLD 0.2         /* human minConfidence       */
#define CCC_DETECT_CLASS_COUNT 80                /* COCO                      */
#define CCC_DETECT_CLASS_CAT 15                  /* 0-based COCO "cat"        */
#define CCC_DETECT_INPUT_NAME "tower_0/images"
#define CCC_DETECT_OUTPUT_NAME "tower_0/detections"

/* One kept detection. */
typedef struct ccc_detect_box {
    int cls;        /* 0-based COCO class (15 = cat)                        */
    float score;    /* the model's float32 score                            */
    double x1, y1;  /* corners in original-image pixels (double, unclipped): */
    double x2, y2;  /*   (model px / 512) * width or height                 */
    int box[4];     /* human's integer box: trunc([x, y, w, h] * [W,H,W,H])  */
    size_t row;     /* row of tower_0/detections it came from               */
} ccc_detect_box;

/* Result of one image: the kept boxes in NMS order (descending score). */
typedef struct ccc_detect_result {
    size_t count;                            /* boxes kept (all classes)   */
    ccc_detect_box boxes[CCC_DETECT_MAX_BOXES];
    size_t cat_count;                        /* boxes with cls == 15       */
    float cat_max_score;                     /* 0 when no cat              */
} ccc_detect_result;

/* Wall-clock nanoseconds of the stages of one ccc_detect_model_run. */
typedef struct ccc_detect_timing {
    uint64_t preprocess_ns;
    uint64_t inference_ns;
    uint64_t postprocess_ns;
} ccc_detect_timing;

typedef struct ccc_detect_model ccc_detect_model;

typedef struct ccc_detect_options {
    int threads;            /* nn worker threads, 0 = all cores            */
    bool reference_kernels; /* nn reference kernels (tests)                */
    const char *isa;        /* nn ISA cap, NULL = best available           */
    const char *manifest_path;    /* NULL: see ccc_detect_manifest_load_files */
    const char *trusted_key_path; /* NULL: $CCC_MODEL_TRUSTED_KEY or release  */
} ccc_detect_options;

/* COCO label of a 0-based class ("cat"), or "?" when out of range. */
const char *ccc_detect_label(int cls);

/* human's displayed score: trunc(100 * score) / 100. */
double ccc_detect_score_2dp(float score);

/*
 * TF ResizeBilinear (align_corners=false, half_pixel_centers=false) from
 * RGB8 `rgb` (w x h, packed) to float32 NHWC out[oh][ow][3], computed in
 * float32 like XNNPACK/TF.js: src = r * (h / oh), y0 = floor(src),
 * y1 = min(y0 + 1, h - 1), f = src - y0,
 * top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx,
 * out = top + (bottom - top) * fy.
 */
void ccc_detect_resize_bilinear(const uint8_t *rgb, uint32_t w, uint32_t h, float *out,
                                uint32_t ow, uint32_t oh);

/*
 * IoU as tfjs-core computes it, for boxes given as [y1, x1, y2, x2] float32
 * (min/max of each coordinate pair, so corner order does not matter; 0 when
 * either area is <= 0), in double.
 */
double ccc_detect_iou(const float a[4], const float b[4]);

/*
 * tf.image.nonMaxSuppression (softNmsSigma 0) over `count` boxes
 * ([y1,x1,y2,x2] float32 each) and scores: writes at most `max_out` kept
 * indices to `out` in selection order, returns how many.
 */
size_t ccc_detect_nms(const float *boxes, const float *scores, size_t count, size_t max_out,
                      double iou_threshold, double score_threshold, size_t *out);

/*
 * Post-process rows of tower_0/detections ([rows][6] float32) for an image
 * of `width` x `height`: NMS and box mapping as described above. Rows whose
 * class is NaN or outside 0..79 are skipped after NMS (human skips NaN).
 */
CCC_MUST_USE ccc_status ccc_detect_postprocess(const float *detections, size_t rows,
                                               uint32_t width, uint32_t height,
                                               double threshold, ccc_detect_result *out);

/*
 * Load centernet.json and centernet.bin from `model_dir` after verifying
 * them against the signed manifest (found and trusted as described at
 * ccc_detect_manifest_load_files in manifest.h), and refuse a graph that
 * uses an op the manifest does not list. `opt` may be NULL.
 * Errors: CCC_ERR_IO / CCC_ERR_NOT_FOUND (files), CCC_ERR_CRYPTO (manifest
 * signature or file hash), anything ccc_nn_model_load returns.
 */
CCC_MUST_USE ccc_status ccc_detect_model_load(const char *model_dir,
                                              const ccc_detect_options *opt,
                                              ccc_detect_model **out);

/* Load from bytes already verified by the caller (tests, benchmarks). */
CCC_MUST_USE ccc_status ccc_detect_model_load_unverified(ccc_bytes model_json,
                                                         ccc_bytes weights,
                                                         const ccc_detect_options *opt,
                                                         ccc_detect_model **out);

void ccc_detect_model_free(ccc_detect_model *m);

/* Wipe the resized input and everything the engine computed from it (see
 * ccc_nn_model_scrub). The enclave calls it after every job. */
void ccc_detect_model_scrub(ccc_detect_model *m);

/* Default threshold of the loaded model: the manifest's threshold_milli /
 * 1000, or CCC_DETECT_DEFAULT_THRESHOLD for an unverified load. */
double ccc_detect_model_threshold(const ccc_detect_model *m);

/*
 * Run the whole pipeline on a decoded image. `timing` may be NULL.
 * The image is borrowed; its pixels are not kept (the model's input buffer
 * holds the resized copy until the next run or free, and is wiped on free).
 */
CCC_MUST_USE ccc_status ccc_detect_model_run(ccc_detect_model *m, const ccc_image *img,
                                             double threshold, ccc_detect_result *out,
                                             ccc_detect_timing *timing);

/* The pre-processed input of the last run: 512*512*3 floats, NHWC
 * (borrowed; valid until the next run or free). For comparisons with the
 * reference, which must see the bit-identical tensor. */
const float *ccc_detect_model_input(const ccc_detect_model *m);

/* The underlying nn model (borrowed): raw outputs, stats. */
struct ccc_nn_model *ccc_detect_model_nn(ccc_detect_model *m);

/*
 * The model directory to use when the user gives none: $CCC_DATA_DIR/models
 * if CCC_DATA_DIR is set, else the repository's data/models
 * (CCC_SOURCE_DIR "/data/models", fixed at compile time). Writes into
 * `out` (size `out_size`); CCC_ERR_LIMIT if it does not fit.
 */
CCC_MUST_USE ccc_status ccc_detect_default_model_dir(char *out, size_t out_size);

#endif /* CCC_DETECT_H */
