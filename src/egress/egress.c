/* The egress guard: build the fixed-schema answer, and check it independently. */
#include "egress/egress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

ccc_egress_policy ccc_egress_policy_default(void)
{
    ccc_egress_policy p = {
        .allow_boxes = false,
        .max_boxes = 0,
        .max_count = 1000,
        .max_answer_size = 1024,
        .max_base64_run = 32,
    };
    return p;
}

ccc_egress_policy ccc_egress_policy_from_limits(uint64_t max_answer_bytes, uint64_t max_boxes)
{
    ccc_egress_policy p = ccc_egress_policy_default();
    p.max_boxes = (uint32_t)(max_boxes < CCC_EGRESS_MAX_BOXES ? max_boxes : CCC_EGRESS_MAX_BOXES);
    p.allow_boxes = p.max_boxes > 0;
    p.max_answer_size =
        (size_t)(max_answer_bytes < CCC_EGRESS_MAX_ANSWER_SIZE ? max_answer_bytes
                                                               : CCC_EGRESS_MAX_ANSWER_SIZE);
    return p;
}

ccc_status ccc_egress_policy_check(const ccc_egress_policy *p)
{
    CCC_ENSURE(p, CCC_ERR_USAGE, "no egress policy");
    CCC_ENSURE(p->max_boxes <= CCC_EGRESS_MAX_BOXES, CCC_ERR_USAGE, "egress max_boxes over 64");
    CCC_ENSURE(p->allow_boxes || p->max_boxes == 0, CCC_ERR_USAGE,
               "egress max_boxes set but boxes not allowed");
    CCC_ENSURE(p->max_count <= CCC_EGRESS_MAX_COUNT, CCC_ERR_USAGE, "egress max_count too large");
    CCC_ENSURE(p->max_answer_size >= 1 && p->max_answer_size <= CCC_EGRESS_MAX_ANSWER_SIZE,
               CCC_ERR_USAGE, "egress max_answer_size outside 1..4096");
    CCC_ENSURE(p->max_base64_run >= CCC_EGRESS_MIN_BASE64_RUN, CCC_ERR_USAGE,
               "egress max_base64_run below 16");
    return CCC_OK;
}

static bool model_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* ------------------------------------------------------------------------ */
/* Canonical writer                                                          */
/* ------------------------------------------------------------------------ */

static ccc_status put_str(ccc_buf *out, const char *s) { return ccc_buf_append(out, s, strlen(s)); }

static ccc_status put_milli(ccc_buf *out, uint16_t v)
{
    CCC_ENSURE(v <= 1000, CCC_ERR_USAGE, "answer value over 1.000");
    char tmp[8];
    snprintf(tmp, sizeof tmp, "%u.%03u", (unsigned)(v / 1000u), (unsigned)(v % 1000u));
    return put_str(out, tmp);
}

ccc_status ccc_egress_answer_write(const ccc_egress_answer *a, ccc_buf *out)
{
    CCC_ENSURE(a->count <= CCC_EGRESS_MAX_COUNT, CCC_ERR_USAGE, "answer count too large");
    CCC_ENSURE(a->box_count <= CCC_EGRESS_MAX_BOXES, CCC_ERR_USAGE, "too many boxes");
    size_t mlen = strnlen(a->model, sizeof a->model);
    CCC_ENSURE(mlen >= 1 && mlen <= CCC_EGRESS_MAX_MODEL_SIZE, CCC_ERR_USAGE,
               "model id must be 1..32 characters");
    for (size_t i = 0; i < mlen; i++)
        CCC_ENSURE(model_char((unsigned char)a->model[i]), CCC_ERR_USAGE,
                   "model id must match [a-z0-9._-]");
    char tmp[32];
    snprintf(tmp, sizeof tmp, "{\"count\":%u", (unsigned)a->count);
    CCC_GUARD(put_str(out, tmp));
    CCC_GUARD(put_str(out, ",\"confidence\":"));
    CCC_GUARD(put_milli(out, a->confidence_milli));
    if (a->has_boxes) {
        CCC_GUARD(put_str(out, ",\"boxes\":["));
        for (size_t i = 0; i < a->box_count; i++) {
            const uint16_t v[5] = {a->boxes[i].x1, a->boxes[i].y1, a->boxes[i].x2, a->boxes[i].y2,
                                   a->boxes[i].score};
            CCC_GUARD(put_str(out, i ? ",[" : "["));
            for (int k = 0; k < 5; k++) {
                if (k)
                    CCC_GUARD(ccc_buf_u8(out, ','));
                CCC_GUARD(put_milli(out, v[k]));
            }
            CCC_GUARD(ccc_buf_u8(out, ']'));
        }
        CCC_GUARD(ccc_buf_u8(out, ']'));
    } else {
        CCC_ENSURE(a->box_count == 0, CCC_ERR_USAGE, "boxes given but not enabled");
    }
    CCC_GUARD(put_str(out, ",\"model\":\""));
    CCC_GUARD(ccc_buf_append(out, a->model, mlen));
    return put_str(out, "\"}");
}

/* ------------------------------------------------------------------------ */
/* Byte rules                                                                */
/* ------------------------------------------------------------------------ */

/* Signatures of image and document formats, raw and in base64/hex form. */
static const struct {
    const char *bytes;
    size_t size;
} magic[] = {
    {"\xff\xd8\xff", 3}, /* JPEG SOI + marker */
    {"\x89PNG", 4},      /* PNG */
    {"GIF8", 4},         /* GIF87a / GIF89a */
    {"RIFF", 4},         /* RIFF container (WebP) */
    {"WEBP", 4},         /* WebP form type */
    {"BM", 2},           /* BMP */
    {"II*\0", 4},        /* TIFF little-endian */
    {"MM\0*", 4},        /* TIFF big-endian */
    {"%PDF", 4},         /* PDF */
    {"ftyp", 4},         /* ISO-BMFF: HEIF, AVIF */
    {"<svg", 4},         /* SVG */
    {"data:", 5},        /* data: URL */
    {"/9j/", 4},         /* base64 of FF D8 FF */
    {"iVBOR", 5},        /* base64 of 89 50 4E 47 */
    {"R0lGO", 5},        /* base64 of "GIF8" */
    {"UklGR", 5},        /* base64 of "RIFF" */
    {"SUkq", 4},         /* base64 of "II*" */
    {"TU0A", 4},         /* base64 of "MM\0" */
    {"JVBER", 5},        /* base64 of "%PDF" */
    {"ffd8ff", 6},       /* hex JPEG */
    {"89504e47", 8},     /* hex PNG */
    {"47494638", 8},     /* hex GIF8 */
};

static bool base64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=' || c == '-' || c == '_';
}

static ccc_status check_bytes(ccc_bytes a, const ccc_egress_policy *p)
{
    CCC_ENSURE(a.size >= 1 && a.ptr, CCC_ERR_POLICY, "answer is empty");
    CCC_ENSURE(a.size <= p->max_answer_size, CCC_ERR_POLICY, "answer over the policy size cap");
    for (size_t i = 0; i < a.size; i++)
        CCC_ENSURE(a.ptr[i] >= 0x20 && a.ptr[i] <= 0x7e, CCC_ERR_POLICY,
                   "answer has a byte outside printable ASCII");
    for (size_t m = 0; m < sizeof magic / sizeof magic[0]; m++)
        for (size_t i = 0; i + magic[m].size <= a.size; i++)
            if (memcmp(a.ptr + i, magic[m].bytes, magic[m].size) == 0)
                CCC_BAIL(CCC_ERR_POLICY, "answer contains an image or document signature");
    size_t run = 0;
    for (size_t i = 0; i < a.size; i++) {
        run = base64_char(a.ptr[i]) ? run + 1 : 0;
        CCC_ENSURE(run <= p->max_base64_run, CCC_ERR_POLICY,
                   "answer has a long run of base64 characters");
    }
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Strict grammar parser                                                     */
/* ------------------------------------------------------------------------ */

static ccc_status expect(ccc_reader *r, const char *lit)
{
    size_t n = strlen(lit);
    ccc_bytes b;
    CCC_ENSURE(ccc_reader_bytes(r, n, &b) == CCC_OK && memcmp(b.ptr, lit, n) == 0, CCC_ERR_POLICY,
               "answer does not follow the schema");
    return CCC_OK;
}

static bool peek(const ccc_reader *r, char c)
{
    return r->pos < r->size && r->data[r->pos] == (uint8_t)c;
}

static bool digit_at(const ccc_reader *r, size_t off)
{
    return r->pos + off < r->size && r->data[r->pos + off] >= '0' && r->data[r->pos + off] <= '9';
}

/* uint = "0" / %x31-39 *6DIGIT */
static ccc_status parse_uint(ccc_reader *r, uint32_t *out)
{
    CCC_ENSURE(digit_at(r, 0), CCC_ERR_POLICY, "answer count is not an unsigned integer");
    uint32_t v = 0;
    size_t n = 0;
    while (digit_at(r, 0)) {
        CCC_ENSURE(n < 7, CCC_ERR_POLICY, "answer count has too many digits");
        CCC_ENSURE(!(n == 1 && v == 0), CCC_ERR_POLICY, "answer count has a leading zero");
        v = v * 10u + (uint32_t)(r->data[r->pos] - '0');
        r->pos++;
        n++;
    }
    *out = v;
    return CCC_OK;
}

/* milli = "0." 3DIGIT / "1.000" */
static ccc_status parse_milli(ccc_reader *r, uint16_t *out)
{
    CCC_ENSURE(r->size - r->pos >= 5 && digit_at(r, 0) && r->data[r->pos + 1] == '.' &&
                   digit_at(r, 2) && digit_at(r, 3) && digit_at(r, 4),
               CCC_ERR_POLICY, "answer number is not d.ddd");
    const uint8_t *d = r->data + r->pos;
    unsigned v = (unsigned)(d[0] - '0') * 1000u + (unsigned)(d[2] - '0') * 100u +
                 (unsigned)(d[3] - '0') * 10u + (unsigned)(d[4] - '0');
    CCC_ENSURE(v <= 1000, CCC_ERR_POLICY, "answer number outside 0..1");
    CCC_ENSURE(!digit_at(r, 5), CCC_ERR_POLICY, "answer number is not d.ddd");
    r->pos += 5;
    *out = (uint16_t)v;
    return CCC_OK;
}

static ccc_status parse_answer(ccc_bytes in, ccc_egress_answer *a)
{
    ccc_reader r;
    ccc_reader_init(&r, in.ptr, in.size);
    memset(a, 0, sizeof *a);
    CCC_GUARD(expect(&r, "{\"count\":"));
    CCC_GUARD(parse_uint(&r, &a->count));
    CCC_GUARD(expect(&r, ",\"confidence\":"));
    CCC_GUARD(parse_milli(&r, &a->confidence_milli));
    CCC_GUARD(expect(&r, ",\""));
    if (peek(&r, 'b')) {
        CCC_GUARD(expect(&r, "boxes\":["));
        a->has_boxes = true;
        while (!peek(&r, ']')) {
            CCC_ENSURE(a->box_count < CCC_EGRESS_MAX_BOXES, CCC_ERR_POLICY,
                       "answer has too many boxes");
            if (a->box_count)
                CCC_GUARD(expect(&r, ","));
            uint16_t v[5];
            CCC_GUARD(expect(&r, "["));
            for (int k = 0; k < 5; k++) {
                if (k)
                    CCC_GUARD(expect(&r, ","));
                CCC_GUARD(parse_milli(&r, &v[k]));
            }
            CCC_GUARD(expect(&r, "]"));
            a->boxes[a->box_count].x1 = v[0];
            a->boxes[a->box_count].y1 = v[1];
            a->boxes[a->box_count].x2 = v[2];
            a->boxes[a->box_count].y2 = v[3];
            a->boxes[a->box_count].score = v[4];
            a->box_count++;
        }
        CCC_GUARD(expect(&r, "],\""));
    }
    CCC_GUARD(expect(&r, "model\":\""));
    size_t n = 0;
    while (r.pos < r.size && model_char(r.data[r.pos])) {
        CCC_ENSURE(n < CCC_EGRESS_MAX_MODEL_SIZE, CCC_ERR_POLICY, "answer model id too long");
        a->model[n++] = (char)r.data[r.pos++];
    }
    CCC_ENSURE(n >= 1, CCC_ERR_POLICY, "answer model id empty or invalid");
    CCC_GUARD(expect(&r, "\"}"));
    CCC_ENSURE(ccc_reader_done(&r), CCC_ERR_POLICY, "answer has trailing bytes");
    return CCC_OK;
}

/* Rules across fields and against the policy. */
static ccc_status check_semantics(const ccc_egress_answer *a, const ccc_egress_policy *p)
{
    CCC_ENSURE(a->count <= p->max_count, CCC_ERR_POLICY, "answer count over the policy limit");
    CCC_ENSURE(a->count != 0 || a->confidence_milli == 0, CCC_ERR_POLICY,
               "answer confidence must be 0 when count is 0");
    CCC_ENSURE(!a->has_boxes || p->allow_boxes, CCC_ERR_POLICY,
               "answer has boxes the policy does not allow");
    CCC_ENSURE(a->has_boxes || !p->allow_boxes, CCC_ERR_POLICY,
               "answer lacks the boxes the policy asks for");
    if (!a->has_boxes)
        return CCC_OK;
    size_t want = a->count < p->max_boxes ? a->count : p->max_boxes;
    CCC_ENSURE(a->box_count == want, CCC_ERR_POLICY,
               "answer box count is not min(count, max_boxes)");
    for (size_t i = 0; i < a->box_count; i++) {
        CCC_ENSURE(a->boxes[i].x1 <= a->boxes[i].x2 && a->boxes[i].y1 <= a->boxes[i].y2,
                   CCC_ERR_POLICY, "answer box corners out of order");
        CCC_ENSURE(a->boxes[i].score <= a->confidence_milli, CCC_ERR_POLICY,
                   "answer box score above the confidence");
        CCC_ENSURE(i == 0 || a->boxes[i].score <= a->boxes[i - 1].score, CCC_ERR_POLICY,
                   "answer boxes not sorted by score");
    }
    return CCC_OK;
}

/* jansson number as thousandths, only if it is exactly representable so. */
static bool json_milli_equals(const json_t *v, uint16_t milli)
{
    if (!json_is_real(v))
        return false;
    return fabs(json_real_value(v) - milli / 1000.0) < 1e-9;
}

/*
 * The second opinion: a general JSON parser must read the same answer —
 * an object with exactly our keys, no duplicates, the same values.
 */
static ccc_status check_with_jansson(ccc_bytes in, const ccc_egress_answer *a)
{
    ccc_status st = CCC_OK;
    json_error_t err;
    json_t *root = json_loadb((const char *)in.ptr, in.size, JSON_REJECT_DUPLICATES, &err);
    CCC_CHECK(root && json_is_object(root), CCC_ERR_POLICY, "answer is not a JSON object");
    CCC_CHECK(json_object_size(root) == (a->has_boxes ? 4u : 3u), CCC_ERR_POLICY,
              "answer has the wrong key set");
    json_t *count = json_object_get(root, "count");
    CCC_CHECK(json_is_integer(count) && json_integer_value(count) == (json_int_t)a->count,
              CCC_ERR_POLICY, "answer count disagrees between parsers");
    CCC_CHECK(json_milli_equals(json_object_get(root, "confidence"), a->confidence_milli),
              CCC_ERR_POLICY, "answer confidence disagrees between parsers");
    json_t *model = json_object_get(root, "model");
    CCC_CHECK(json_is_string(model) && strcmp(json_string_value(model), a->model) == 0,
              CCC_ERR_POLICY, "answer model disagrees between parsers");
    if (a->has_boxes) {
        json_t *boxes = json_object_get(root, "boxes");
        CCC_CHECK(json_is_array(boxes) && json_array_size(boxes) == a->box_count, CCC_ERR_POLICY,
                  "answer boxes disagree between parsers");
        for (size_t i = 0; i < a->box_count; i++) {
            json_t *b = json_array_get(boxes, i);
            const uint16_t v[5] = {a->boxes[i].x1, a->boxes[i].y1, a->boxes[i].x2, a->boxes[i].y2,
                                   a->boxes[i].score};
            CCC_CHECK(json_is_array(b) && json_array_size(b) == 5, CCC_ERR_POLICY,
                      "answer boxes disagree between parsers");
            for (size_t k = 0; k < 5; k++)
                CCC_CHECK(json_milli_equals(json_array_get(b, k), v[k]), CCC_ERR_POLICY,
                          "answer boxes disagree between parsers");
        }
    }
out:
    json_decref(root);
    return st;
}

ccc_status ccc_egress_check(ccc_bytes answer, const ccc_egress_policy *policy,
                            ccc_egress_answer *parsed)
{
    ccc_status st = CCC_OK;
    ccc_egress_answer *a = calloc(1, sizeof *a);
    ccc_buf re; /* a copy of the answer: secret, wiped on free */
    ccc_buf_init_secret(&re, CCC_EGRESS_MAX_ANSWER_SIZE);
    if (parsed)
        memset(parsed, 0, sizeof *parsed);
    CCC_CHECK(a, CCC_ERR_NOMEM, "out of memory");
    CCC_TRY(ccc_egress_policy_check(policy));
    CCC_TRY(check_bytes(answer, policy));
    CCC_TRY(parse_answer(answer, a));
    CCC_TRY(check_semantics(a, policy));
    /* One encoding per answer: what we parsed must re-serialize to the input. */
    CCC_TRY(ccc_egress_answer_write(a, &re));
    CCC_CHECK(re.size == answer.size && memcmp(re.data, answer.ptr, re.size) == 0, CCC_ERR_POLICY,
              "answer is not in canonical form");
    CCC_TRY(check_with_jansson(answer, a));
    if (parsed)
        *parsed = *a;
out:
    ccc_buf_wipe(&re);
    if (a)
        ccc_wipe(a, sizeof *a);
    free(a);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Building                                                                  */
/* ------------------------------------------------------------------------ */

static ccc_status to_milli(float v, uint16_t *out)
{
    CCC_ENSURE(!isnan(v), CCC_ERR_USAGE, "detection value is not a number");
    double d = v < 0.0f ? 0.0 : v > 1.0f ? 1.0 : (double)v;
    *out = (uint16_t)lround(d * 1000.0);
    return CCC_OK;
}

/* qsort order: higher score first. */
static int by_score_desc(const void *pa, const void *pb)
{
    const uint16_t *a = pa, *b = pb; /* each row: x1,y1,x2,y2,score */
    return (int)b[4] - (int)a[4];
}

ccc_status ccc_egress_answer_build(const ccc_egress_detection *det, const ccc_egress_policy *policy,
                                   ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_buf_reset(out);
    ccc_egress_answer *a = calloc(1, sizeof *a);
    uint16_t(*rows)[5] = NULL;
    CCC_CHECK(a, CCC_ERR_NOMEM, "out of memory");
    CCC_TRY(ccc_egress_policy_check(policy));
    CCC_CHECK(det && det->model, CCC_ERR_USAGE, "no detection result");
    size_t mlen = strlen(det->model);
    CCC_CHECK(mlen >= 1 && mlen <= CCC_EGRESS_MAX_MODEL_SIZE, CCC_ERR_USAGE,
              "model id must be 1..32 characters");
    memcpy(a->model, det->model, mlen);
    CCC_CHECK(det->count <= CCC_EGRESS_MAX_COUNT, CCC_ERR_USAGE, "detection count too large");
    a->count = det->count;
    CCC_TRY(to_milli(det->confidence, &a->confidence_milli));
    if (det->count == 0)
        a->confidence_milli = 0;
    if (policy->allow_boxes) {
        a->has_boxes = true;
        size_t want = det->count < policy->max_boxes ? det->count : policy->max_boxes;
        CCC_CHECK(det->box_count >= want && (want == 0 || det->boxes), CCC_ERR_USAGE,
                  "fewer boxes than the answer needs");
        if (want) {
            rows = calloc(det->box_count, sizeof *rows);
            CCC_CHECK(rows, CCC_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < det->box_count; i++) {
                const ccc_egress_box *b = &det->boxes[i];
                uint16_t x1 = 0, y1 = 0, x2 = 0, y2 = 0;
                CCC_TRY(to_milli(b->x1, &x1));
                CCC_TRY(to_milli(b->y1, &y1));
                CCC_TRY(to_milli(b->x2, &x2));
                CCC_TRY(to_milli(b->y2, &y2));
                CCC_TRY(to_milli(b->score, &rows[i][4]));
                rows[i][0] = x1 < x2 ? x1 : x2;
                rows[i][1] = y1 < y2 ? y1 : y2;
                rows[i][2] = x1 < x2 ? x2 : x1;
                rows[i][3] = y1 < y2 ? y2 : y1;
            }
            qsort(rows, det->box_count, sizeof *rows, by_score_desc);
            for (size_t i = 0; i < want; i++) {
                a->boxes[i].x1 = rows[i][0];
                a->boxes[i].y1 = rows[i][1];
                a->boxes[i].x2 = rows[i][2];
                a->boxes[i].y2 = rows[i][3];
                a->boxes[i].score = rows[i][4];
            }
        }
        a->box_count = want;
    }
    CCC_TRY(ccc_egress_answer_write(a, out));
    /* Layer 2 never trusts layer 1: the bytes we wrote go through the check. */
    CCC_TRY(ccc_egress_check(ccc_buf_bytes(out), policy, NULL));
out:
    if (st != CCC_OK)
        ccc_buf_reset(out);
    /* The answer's numbers in other shapes: wipe before release. */
    if (rows)
        ccc_wipe(rows, det->box_count * sizeof *rows);
    free(rows);
    if (a)
        ccc_wipe(a, sizeof *a);
    free(a);
    return st;
}
