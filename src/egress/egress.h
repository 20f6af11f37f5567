/*
 * egress — the enclave's egress guard: the only bytes of a job's answer that
 * may leave the enclave (encrypted to the client, but still: the code that
 * decided what they contain is the code that could leak the photo).
 *
 * Two independent layers:
 *   1. ccc_egress_answer_build() writes the answer from a detection result
 *      struct (numbers and a model id — never free text or image bytes);
 *   2. ccc_egress_check() validates the serialized bytes before they leave,
 *      without trusting layer 1: byte rules, a strict parser for the exact
 *      grammar below, ranges and cross-field rules, and a second, general
 *      JSON parser (jansson) that must agree. build() runs check() on its own
 *      output, so the enclave cannot emit an answer that check() refuses.
 *
 * ------------------------------------------------------------------------
 * The answer, version 1 (exact bytes; there is one encoding per answer)
 * ------------------------------------------------------------------------
 *
 *   answer     = "{" count "," confidence [ "," boxes ] "," model "}"
 *   count      = %s"\"count\":" uint
 *   confidence = %s"\"confidence\":" milli
 *   boxes      = %s"\"boxes\":[" [ box *( "," box ) ] "]"
 *   box        = "[" milli "," milli "," milli "," milli "," milli "]"
 *                                         ; x1, y1, x2, y2, score
 *   model      = %s"\"model\":\"" 1*32( %x61-7A / DIGIT / "." / "_" / "-" ) "\""
 *   uint       = "0" / ( %x31-39 *6DIGIT )             ; 0 .. 9999999
 *   milli      = "0." 3DIGIT / "1.000"                  ; 0.000 .. 1.000
 *
 * No whitespace, keys in exactly this order, no other keys. Example:
 *
 *   {"count":2,"confidence":0.873,"boxes":[[0.112,0.080,0.515,0.940,0.873],
 *    [0.550,0.102,0.981,0.877,0.512]],"model":"centernet-mnv3"}
 *
 * Meaning and rules checked:
 *   count       cats detected, <= policy.max_count
 *   confidence  the highest cat score, rounded to 3 decimals; 0.000 when
 *               count is 0
 *   boxes       present exactly when policy.allow_boxes; then it holds
 *               min(count, policy.max_boxes) boxes, sorted by score
 *               (non-increasing), each x1 <= x2 and y1 <= y2 in coordinates
 *               normalised to the image (0 = left/top, 1 = right/bottom;
 *               pixel sizes are not revealed), score <= confidence
 *   model       the detector's short id
 * Three decimals bound what one number can carry (~10 bits); the fixed
 * grammar bounds the whole answer (without boxes < 100 bytes).
 *
 * ------------------------------------------------------------------------
 * Byte rules (checked first, on the raw bytes)
 * ------------------------------------------------------------------------
 *   - size 1 .. policy.max_answer_size (hard cap CCC_EGRESS_MAX_ANSWER_SIZE);
 *   - printable ASCII only (0x20..0x7e);
 *   - no image/document signature anywhere: JPEG FF D8 FF, PNG 89 "PNG",
 *     "GIF8", "RIFF", "WEBP", "BM", TIFF "II*\0"/"MM\0*", "%PDF", "ftyp"
 *     (HEIF/AVIF), "<svg", "data:", their base64 forms ("/9j/", "iVBOR",
 *     "R0lGO", "UklGR", "SUkq", "TU0A", "JVBER") and lower-case hex forms
 *     ("ffd8ff", "89504e47", "47494638");
 *   - no run of more than policy.max_base64_run (default 32) characters from
 *     the base64 alphabets (A-Z a-z 0-9 + / = - _).
 *
 * Refusals are CCC_ERR_POLICY with a detail naming the rule (never the
 * bytes); CCC_ERR_USAGE for a policy outside the hard caps or a detection
 * result that cannot be represented (NaN, too few boxes).
 *
 * Important caveats
 * 1. The guard bounds the format, not the meaning: a compromised detector
 *    could still choose its count, confidence and boxes to signal a few
 *    bits per answer. That residual channel is what the 3-decimal grammar,
 *    the box cap and the size cap keep small.
 * 2. A policy that allows boxes lets out up to 50 bits per box; keep
 *    max_boxes small.
 */
#ifndef CCC_EGRESS_H
#define CCC_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define CCC_EGRESS_VERSION 1
#define CCC_EGRESS_MAX_BOXES 64
#define CCC_EGRESS_MAX_COUNT 9999999u
#define CCC_EGRESS_MAX_ANSWER_SIZE 4096u
#define CCC_EGRESS_MAX_MODEL_SIZE 32u
#define CCC_EGRESS_MIN_BASE64_RUN 16u /* lower would refuse our own keys */

/* What the policy bundle says about answers. Start from the defaults. */
typedef struct ccc_egress_policy {
    bool allow_boxes;       /* default false                                */
    uint32_t max_boxes;     /* default 0; <= CCC_EGRESS_MAX_BOXES           */
    uint32_t max_count;     /* default 1000; <= CCC_EGRESS_MAX_COUNT        */
    size_t max_answer_size; /* default 1024; <= CCC_EGRESS_MAX_ANSWER_SIZE  */
    size_t max_base64_run;  /* default 32; >= CCC_EGRESS_MIN_BASE64_RUN    */
} ccc_egress_policy;

ccc_egress_policy ccc_egress_policy_default(void);
/*
 * From the policy bundle's "egress" block (src/policy: max_answer_bytes,
 * max_boxes): boxes are allowed when max_boxes > 0; both limits are clamped
 * to the hard caps (64 boxes, 4096 bytes), never raised above them.
 */
ccc_egress_policy ccc_egress_policy_from_limits(uint64_t max_answer_bytes, uint64_t max_boxes);
/* CCC_ERR_USAGE when a field is outside the hard caps above. */
CCC_MUST_USE ccc_status ccc_egress_policy_check(const ccc_egress_policy *p);

/* ------------------------------------------------------------------------ */
/* Building (inside the enclave)                                             */
/* ------------------------------------------------------------------------ */

/* One detected cat: coordinates normalised to 0..1, score 0..1. */
typedef struct ccc_egress_box {
    float x1, y1, x2, y2;
    float score;
} ccc_egress_box;

/* The detector's result as the guard takes it. Borrowed. */
typedef struct ccc_egress_detection {
    uint32_t count;              /* cats above the threshold              */
    float confidence;            /* highest cat score (0 when none)       */
    const ccc_egress_box *boxes; /* candidates, any order                 */
    size_t box_count;            /* >= min(count, max_boxes) when boxes
                                    are allowed; ignored otherwise         */
    const char *model;           /* [a-z0-9._-]{1,32}                      */
} ccc_egress_detection;

/*
 * Write the answer for `det` under `policy` into `out` (reset first), then
 * run ccc_egress_check on it. Values are clamped to 0..1 and rounded to
 * three decimals; coordinates are ordered (x1 <= x2, y1 <= y2); the
 * min(count, max_boxes) highest-scoring boxes are kept, sorted by score.
 * On any failure `out` is empty. Errors: CCC_ERR_USAGE (NaN, too few boxes,
 * bad model id, bad policy), CCC_ERR_POLICY (the check refused), CCC_ERR_LIMIT.
 */
CCC_MUST_USE ccc_status ccc_egress_answer_build(const ccc_egress_detection *det,
                                                const ccc_egress_policy *policy, ccc_buf *out);

/* ------------------------------------------------------------------------ */
/* Checking (enclave before sending; client after decrypting)                */
/* ------------------------------------------------------------------------ */

/* A parsed answer; numbers in thousandths (0..1000). */
typedef struct ccc_egress_answer {
    uint32_t count;
    uint16_t confidence_milli;
    bool has_boxes;
    size_t box_count;
    struct {
        uint16_t x1, y1, x2, y2, score;
    } boxes[CCC_EGRESS_MAX_BOXES];
    char model[CCC_EGRESS_MAX_MODEL_SIZE + 1]; /* NUL-terminated */
} ccc_egress_answer;

/*
 * Validate `answer` under `policy` (every rule in the file comment). On
 * CCC_OK and if `parsed` is non-NULL it receives the answer; on failure
 * `parsed` is zeroed. Errors: CCC_ERR_POLICY (detail names the rule),
 * CCC_ERR_USAGE (bad policy), CCC_ERR_NOMEM.
 */
CCC_MUST_USE ccc_status ccc_egress_check(ccc_bytes answer, const ccc_egress_policy *policy,
                                         ccc_egress_answer *parsed);

/* Serialize a parsed answer in the one canonical form (no checks beyond the
 * grammar's ranges: CCC_ERR_USAGE). Appends to `out`. */
CCC_MUST_USE ccc_status ccc_egress_answer_write(const ccc_egress_answer *a, ccc_buf *out);

#endif /* CCC_EGRESS_H */
