/*
 * detect: pre-processing, NMS and box mapping as @vladmandic/human 3.3.6
 * src/object/centernet.ts does them, and the model wrapper.
 * Plain reference-style code: this is not where the time goes.
 */
#include "detect/detect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/manifest.h"
#include "nn/nn.h"

/* human src/object/labels.ts: the 80 COCO labels, 0-based here. */
static const char *const coco_labels[CCC_DETECT_CLASS_COUNT] = {
    "person",        "bicycle",      "car",           "motorcycle",    "airplane",
    "bus",           "train",        "truck",         "boat",          "traffic light",
    "fire hydrant",  "stop sign",    "parking meter", "bench",         "bird",
    "cat",           "dog",          "horse",         "sheep",         "cow",
    "elephant",      "bear",         "zebra",         "giraffe",       "backpack",
    "umbrella",      "handbag",      "tie",           "suitcase",      "frisbee",
    "skis",          "snowboard",    "sports ball",   "kite",          "baseball bat",
    "baseball glove", "skateboard",  "surfboard",     "tennis racket", "bottle",
    "wine glass",    "cup",          "fork",          "knife",         "spoon",
    "bowl",          "banana",       "apple",         "sandwich",      "orange",
    "broccoli",      "carrot",       "hot dog",       "pizza",         "donut",
    "cake",          "chair",        "couch",         "potted plant",  "bed",
    "dining table",  "toilet",       "tv",            "laptop",        "mouse",
    "remote",        "keyboard",     "cell phone",    "microwave",     "oven",
    "toaster",       "sink",         "refrigerator",  "book",          "clock",
    "vase",          "scissors",     "teddy bear",    "hair drier",    "toothbrush",
};

struct ccc_detect_model {
    ccc_nn_model *nn;
    double threshold;
    float *input; /* 512*512*3 resized image (user data: wiped on free) */
};

#define INPUT_COUNT ((size_t)CCC_DETECT_INPUT_SIDE * CCC_DETECT_INPUT_SIDE * 3)

const char *ccc_detect_label(int cls)
{
    if (cls < 0 || cls >= CCC_DETECT_CLASS_COUNT)
        return "?";
    return coco_labels[cls];
}

double ccc_detect_score_2dp(float score)
{
    /* centernet.ts: Math.trunc(100 * detections[0][id][4]) / 100 */
    return trunc(100.0 * (double)score) / 100.0;
}

/* ------------------------------------------------------------------------ */
/* Pre-processing                                                            */
/* ------------------------------------------------------------------------ */

/* Source index, its successor and the fraction for one output coordinate
 * (TF legacy: src = scale * i, no half-pixel offset). */
static void axis_coord(uint32_t i, float scale, uint32_t in_size, uint32_t *i0, uint32_t *i1,
                       float *frac)
{
    float src = scale * (float)i;
    uint32_t lo = (uint32_t)floorf(src);
    if (lo > in_size - 1)
        lo = in_size - 1;
    *i0 = lo;
    *i1 = lo + 1 < in_size ? lo + 1 : in_size - 1;
    *frac = src - (float)lo;
}

/* Column coordinates of one output row, computed once per call (they are
 * the same for every row). */
typedef struct resize_col {
    uint32_t x0, x1; /* byte offsets of the two source pixels in a row */
    float fx;
} resize_col;

void ccc_detect_resize_bilinear(const uint8_t *rgb, uint32_t w, uint32_t h, float *out,
                                uint32_t ow, uint32_t oh)
{
    const float sy = (float)h / (float)oh;
    const float sx = (float)w / (float)ow;
    const size_t stride = (size_t)w * 3;
    resize_col stack_cols[1024];
    resize_col *cols = ow <= 1024 ? stack_cols : malloc((size_t)ow * sizeof *cols);
    for (uint32_t c = 0; cols != NULL && c < ow; c++) {
        uint32_t x0, x1;
        axis_coord(c, sx, w, &x0, &x1, &cols[c].fx);
        cols[c].x0 = x0 * 3;
        cols[c].x1 = x1 * 3;
    }
    for (uint32_t r = 0; r < oh; r++) {
        uint32_t y0, y1;
        float fy;
        axis_coord(r, sy, h, &y0, &y1, &fy);
        const uint8_t *top_row = rgb + (size_t)y0 * stride;
        const uint8_t *bot_row = rgb + (size_t)y1 * stride;
        for (uint32_t c = 0; c < ow; c++) {
            resize_col col;
            if (cols) {
                col = cols[c];
            } else { /* no memory for the table: compute in place */
                uint32_t x0, x1;
                axis_coord(c, sx, w, &x0, &x1, &col.fx);
                col.x0 = x0 * 3;
                col.x1 = x1 * 3;
            }
            float *o = out + ((size_t)r * ow + c) * 3;
            for (int d = 0; d < 3; d++) {
                float tl = top_row[col.x0 + d], tr = top_row[col.x1 + d];
                float bl = bot_row[col.x0 + d], br = bot_row[col.x1 + d];
                float top = tl + (tr - tl) * col.fx;
                float bottom = bl + (br - bl) * col.fx;
                o[d] = top + (bottom - top) * fy;
            }
        }
    }
    if (cols != stack_cols)
        free(cols);
}

/* ------------------------------------------------------------------------ */
/* Non-maximum suppression (tfjs-core non_max_suppression_impl.ts)           */
/* ------------------------------------------------------------------------ */

double ccc_detect_iou(const float a[4], const float b[4])
{
    /* intersectionOverUnion(): min/max of each pair, areas, clamp at 0. */
    double ay1 = fmin(a[0], a[2]), ax1 = fmin(a[1], a[3]);
    double ay2 = fmax(a[0], a[2]), ax2 = fmax(a[1], a[3]);
    double by1 = fmin(b[0], b[2]), bx1 = fmin(b[1], b[3]);
    double by2 = fmax(b[0], b[2]), bx2 = fmax(b[1], b[3]);
    double area_a = (ay2 - ay1) * (ax2 - ax1);
    double area_b = (by2 - by1) * (bx2 - bx1);
    if (area_a <= 0 || area_b <= 0)
        return 0.0;
    double iy1 = fmax(ay1, by1), ix1 = fmax(ax1, bx1);
    double iy2 = fmin(ay2, by2), ix2 = fmin(ax2, bx2);
    double inter = fmax(iy2 - iy1, 0.0) * fmax(ix2 - ix1, 0.0);
    return inter / (area_a + area_b - inter);
}

typedef struct candidate {
    float score;
    size_t index;
} candidate;

/* Descending score; on equal scores the lower index first ("This ensures
 * the same output as the TensorFlow python version"). */
static int candidate_order(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index);
}

size_t ccc_detect_nms(const float *boxes, const float *scores, size_t count, size_t max_out,
                      double iou_threshold, double score_threshold, size_t *out)
{
    candidate stack_cands[CCC_DETECT_ROWS];
    candidate *cands = count <= CCC_DETECT_ROWS ? stack_cands : malloc(count * sizeof *cands);
    if (cands == NULL)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        /* "if (scores[i] > scoreThreshold)": float32 score vs JS double. */
        if ((double)scores[i] > score_threshold) {
            cands[n].score = scores[i];
            cands[n].index = i;
            n++;
        }
    }
    qsort(cands, n, sizeof *cands, candidate_order);
    size_t kept = 0;
    for (size_t k = 0; k < n && kept < max_out; k++) {
        const float *box = boxes + cands[k].index * 4;
        bool suppressed = false;
        /* "for (let j = selectedIndices.length - 1; j >= 0; --j)
         *    if (iou >= iouThreshold) { ignoreCandidate = true; break; }"
         * With softNmsSigma = 0 the weight is 1 below the threshold, so a
         * candidate's score never changes. */
        for (size_t j = kept; j-- > 0;) {
            if (ccc_detect_iou(box, boxes + out[j] * 4) >= iou_threshold) {
                suppressed = true;
                break;
            }
        }
        if (!suppressed)
            out[kept++] = cands[k].index;
    }
    if (cands != stack_cands)
        free(cands);
    return kept;
}

/* ------------------------------------------------------------------------ */
/* Post-processing (centernet.ts process())                                  */
/* ------------------------------------------------------------------------ */

ccc_status ccc_detect_postprocess(const float *det, size_t rows, uint32_t width,
                                  uint32_t height, double threshold, ccc_detect_result *out)
{
    memset(out, 0, sizeof *out);
    CCC_ENSURE(rows <= CCC_DETECT_ROWS, CCC_ERR_USAGE, "too many detection rows");
    CCC_ENSURE(width > 0 && height > 0, CCC_ERR_USAGE, "empty image");
    /* Boxes reordered as tf.nms expects: [y1, x1, y2, x2]. */
    float boxes[CCC_DETECT_ROWS * 4], scores[CCC_DETECT_ROWS];
    for (size_t i = 0; i < rows; i++) {
        const float *d = det + i * 6;
        boxes[i * 4 + 0] = d[1];
        boxes[i * 4 + 1] = d[0];
        boxes[i * 4 + 2] = d[3];
        boxes[i * 4 + 3] = d[2];
        scores[i] = d[4];
    }
    size_t kept[CCC_DETECT_MAX_BOXES];
    size_t n = ccc_detect_nms(boxes, scores, rows, CCC_DETECT_MAX_BOXES,
                              CCC_DETECT_IOU_THRESHOLD, threshold, kept);
    const double side = CCC_DETECT_INPUT_SIDE, W = width, H = height;
    for (size_t k = 0; k < n; k++) {
        const float *d = det + kept[k] * 6;
        float cls = d[5];
        /* "if (Number.isNaN(classVal)) continue;" and labels[classVal]
         * must exist: anything but an integer 0..79 is skipped. */
        if (!(cls >= 0 && cls < CCC_DETECT_CLASS_COUNT) || cls != floorf(cls))
            continue;
        ccc_detect_box *b = &out->boxes[out->count++];
        b->cls = (int)cls;
        b->score = d[4];
        b->row = kept[k];
        /* boxRaw = [x, y, x2/512 - x, y2/512 - y]; box = trunc(boxRaw * [W,H,W,H]) */
        double x = d[0] / side, y = d[1] / side;
        double bw = d[2] / side - x, bh = d[3] / side - y;
        b->box[0] = (int)trunc(x * W);
        b->box[1] = (int)trunc(y * H);
        b->box[2] = (int)trunc(bw * W);
        b->box[3] = (int)trunc(bh * H);
        b->x1 = x * W;
        b->y1 = y * H;
        b->x2 = d[2] / side * W;
        b->y2 = d[3] / side * H;
        if (b->cls == CCC_DETECT_CLASS_CAT) {
            out->cat_count++;
            if (b->score > out->cat_max_score)
                out->cat_max_score = b->score;
        }
    }
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* The model                                                                 */
/* ------------------------------------------------------------------------ */

ccc_status ccc_detect_model_load_unverified(ccc_bytes model_json, ccc_bytes weights,
                                            const ccc_detect_options *opt,
                                            ccc_detect_model **out)
{
    ccc_status st = CCC_OK;
    *out = NULL;
    ccc_detect_model *m = calloc(1, sizeof *m);
    CCC_ENSURE(m != NULL, CCC_ERR_NOMEM, "out of memory for the detector");
    ccc_nn_options nopt = {0};
    if (opt) {
        nopt.threads = opt->threads;
        nopt.reference_kernels = opt->reference_kernels;
        nopt.isa = opt->isa;
    }
    CCC_TRY(ccc_nn_model_load(model_json, weights, &nopt, &m->nn));
    ccc_nn_tensor_view in;
    CCC_TRY(ccc_nn_model_input_shape(m->nn, CCC_DETECT_INPUT_NAME, &in));
    CCC_CHECK(in.rank == 4 && in.shape[0] == 1 && in.shape[1] == CCC_DETECT_INPUT_SIDE &&
                  in.shape[2] == CCC_DETECT_INPUT_SIDE && in.shape[3] == 3,
              CCC_ERR_UNSUPPORTED, "model input is not [1,512,512,3]");
    m->threshold = CCC_DETECT_DEFAULT_THRESHOLD;
    m->input = calloc(INPUT_COUNT, sizeof *m->input);
    CCC_CHECK(m->input != NULL, CCC_ERR_NOMEM, "out of memory for the detector input");
    *out = m;
    m = NULL;
out:
    ccc_detect_model_free(m);
    return st;
}

ccc_status ccc_detect_model_load(const char *model_dir, const ccc_detect_options *opt,
                                 ccc_detect_model **out)
{
    ccc_status st = CCC_OK;
    ccc_buf json, bin;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    ccc_detect_manifest_info info;
    ccc_detect_model *m = NULL;
    *out = NULL;
    CCC_TRY(ccc_detect_manifest_load_files(model_dir, opt ? opt->manifest_path : NULL,
                                           opt ? opt->trusted_key_path : NULL, &json, &bin,
                                           &info));
    CCC_TRY(ccc_detect_model_load_unverified(ccc_buf_bytes(&json), ccc_buf_bytes(&bin), opt,
                                             &m));
    m->threshold = info.threshold_milli / 1000.0;
    *out = m;
    m = NULL;
out:
    ccc_detect_model_free(m);
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);
    return st;
}

void ccc_detect_model_scrub(ccc_detect_model *m)
{
    if (m == NULL)
        return;
    if (m->input)
        ccc_wipe(m->input, INPUT_COUNT * sizeof *m->input);
    ccc_nn_model_scrub(m->nn);
}

void ccc_detect_model_free(ccc_detect_model *m)
{
    if (m == NULL)
        return;
    ccc_nn_model_free(m->nn);
    if (m->input) {
        ccc_wipe(m->input, INPUT_COUNT * sizeof *m->input);
        free(m->input);
    }
    free(m);
}

double ccc_detect_model_threshold(const ccc_detect_model *m)
{
    return m->threshold;
}

const float *ccc_detect_model_input(const ccc_detect_model *m)
{
    return m->input;
}

struct ccc_nn_model *ccc_detect_model_nn(ccc_detect_model *m)
{
    return m->nn;
}

ccc_status ccc_detect_model_run(ccc_detect_model *m, const ccc_image *img, double threshold,
                                ccc_detect_result *out, ccc_detect_timing *timing)
{
    CCC_ENSURE(img->rgb != NULL && img->width > 0 && img->height > 0, CCC_ERR_USAGE,
               "no image to run the detector on");
    uint64_t t0 = ccc_now_ns();
    ccc_detect_resize_bilinear(img->rgb, img->width, img->height, m->input,
                               CCC_DETECT_INPUT_SIDE, CCC_DETECT_INPUT_SIDE);
    uint64_t t1 = ccc_now_ns();
    CCC_GUARD(ccc_nn_model_run(m->nn, CCC_DETECT_INPUT_NAME, m->input, INPUT_COUNT));
    uint64_t t2 = ccc_now_ns();
    ccc_nn_tensor_view det;
    CCC_GUARD(ccc_nn_model_output(m->nn, CCC_DETECT_OUTPUT_NAME, &det));
    CCC_ENSURE(det.rank == 3 && det.shape[0] == 1 && det.shape[1] == CCC_DETECT_ROWS &&
                   det.shape[2] == 6,
               CCC_ERR_UNSUPPORTED, "model output is not [1,100,6]");
    CCC_GUARD(ccc_detect_postprocess(det.data, CCC_DETECT_ROWS, img->width, img->height,
                                     threshold, out));
    uint64_t t3 = ccc_now_ns();
    if (timing) {
        timing->preprocess_ns = t1 - t0;
        timing->inference_ns = t2 - t1;
        timing->postprocess_ns = t3 - t2;
    }
    return CCC_OK;
}

ccc_status ccc_detect_default_model_dir(char *out, size_t out_size)
{
    const char *data = getenv("CCC_DATA_DIR");
    int n = data && *data ? snprintf(out, out_size, "%s/models", data)
                          : snprintf(out, out_size, "%s/data/models", CCC_SOURCE_DIR);
    CCC_ENSURE(n > 0 && (size_t)n < out_size, CCC_ERR_LIMIT, "model directory path too long");
    return CCC_OK;
}
