/*
 * Model loader: model.json (TF.js graph-model) + one weights shard →
 * a checked, scheduled, planned graph.
 *
 * Format (TF.js tfjs-converter "graph-model", docs/model-notes.md §1):
 *   modelTopology.node[]   TF GraphDef NodeDef as JSON: name, op, input[], attr{}
 *   weightsManifest[0]     {paths: [one shard], weights: [{name, shape, dtype,
 *                          quantization?}]}; the shard is the weights
 *                          "concatenated in manifest order with no padding".
 *   float32 weights with quantization {dtype: float16} are binary16 LE;
 *   int32 weights are 4-byte LE.
 * Everything is checked here; the executor trusts the plan.
 */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nn/internal.h"

typedef struct op_info {
    const char *name;
    nn_op op;
    int min_in, max_in, outs;
} op_info;

/* The allowlist: exactly the ops the CenterNet graph uses. */
static const op_info op_table[] = {
    {"Const", OP_CONST, 0, 0, 1},
    {"Placeholder", OP_PLACEHOLDER, 0, 0, 1},
    {"Identity", OP_IDENTITY, 1, 1, 1},
    {"Reshape", OP_RESHAPE, 2, 2, 1},
    {"ExpandDims", OP_EXPANDDIMS, 2, 2, 1},
    {"_FusedConv2D", OP_FUSEDCONV2D, 3, 3, 1},
    {"Conv2D", OP_CONV2D, 2, 2, 1},
    {"FusedDepthwiseConv2dNative", OP_FUSEDDEPTHWISE, 3, 3, 1},
    {"DepthwiseConv2dNative", OP_DEPTHWISE, 2, 2, 1},
    {"Add", OP_ADD, 2, 2, 1},
    {"Sub", OP_SUB, 2, 2, 1},
    {"Mul", OP_MUL, 2, 2, 1},
    {"FloorDiv", OP_FLOORDIV, 2, 2, 1},
    {"FloorMod", OP_FLOORMOD, 2, 2, 1},
    {"Equal", OP_EQUAL, 2, 2, 1},
    {"Relu", OP_RELU, 1, 1, 1},
    {"Relu6", OP_RELU6, 1, 1, 1},
    {"Sigmoid", OP_SIGMOID, 1, 1, 1},
    {"Cast", OP_CAST, 1, 1, 1},
    {"Mean", OP_MEAN, 2, 2, 1},
    {"ConcatV2", OP_CONCAT, 2, NN_MAX_IN, 1},
    {"StridedSlice", OP_STRIDEDSLICE, 4, 4, 1},
    {"ResizeBilinear", OP_RESIZEBILINEAR, 2, 2, 1},
    {"MaxPool", OP_MAXPOOL, 1, 1, 1},
    {"TopKV2", OP_TOPK, 2, 2, 2},
    {"GatherV2", OP_GATHER, 3, 3, 1},
};
#define OP_TABLE_COUNT (sizeof op_table / sizeof op_table[0])

static const op_info *op_lookup(const char *name)
{
    for (size_t i = 0; i < OP_TABLE_COUNT; i++)
        if (strcmp(op_table[i].name, name) == 0)
            return &op_table[i];
    return NULL;
}

bool ccc_nn_op_allowed(const char *op)
{
    return op != NULL && op_lookup(op) != NULL;
}

const char *nn_op_name(nn_op op)
{
    for (size_t i = 0; i < OP_TABLE_COUNT; i++)
        if (op_table[i].op == op)
            return op_table[i].name;
    return "?";
}

float nn_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t e = (h >> 10) & 0x1f, f = h & 0x3ff, bits;
    if (e == 0) {
        /* zero or subnormal: f * 2^-24, exact in binary32 */
        float v = ldexpf((float)f, -24);
        return sign ? -v : v;
    }
    if (e == 31)
        bits = sign | 0x7f800000u | (f << 13); /* inf / NaN (payload kept) */
    else
        bits = sign | ((e + 112) << 23) | (f << 13);
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

ccc_status nn_conv_geometry(int64_t in, int k, int s, bool same, int64_t *out,
                            int *pad_before)
{
    CCC_ENSURE(k >= 1 && s >= 1 && in >= 1, CCC_ERR_PARSE, "nn: bad window geometry");
    if (same) {
        /* TF: out = ceil(in/s); pad_total = max((out-1)*s + k - in, 0);
         * pad_before = pad_total / 2 (the extra pixel goes after). */
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + k - in;
        if (total < 0)
            total = 0;
        *out = o;
        *pad_before = (int)(total / 2);
    } else {
        CCC_ENSURE(in >= k, CCC_ERR_PARSE, "nn: VALID window larger than input");
        *out = (in - k) / s + 1;
        *pad_before = 0;
    }
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON attribute helpers                                                    */
/* ------------------------------------------------------------------------ */

/* Strict decimal int64 from a JSON string ("12") or integer. */
static bool json_int(const json_t *j, int64_t *out)
{
    if (json_is_integer(j)) {
        *out = (int64_t)json_integer_value(j);
        return true;
    }
    if (!json_is_string(j))
        return false;
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    if (len == 0 || len > 20)
        return false;
    bool neg = (s[0] == '-');
    size_t i = neg ? 1 : 0;
    if (i == len)
        return false;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (INT64_MAX - (s[i] - '0')) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static json_t *attr_get(const json_t *nj, const char *key)
{
    json_t *a = json_object_get(nj, "attr");
    return a ? json_object_get(a, key) : NULL;
}

static ccc_status attr_int(const json_t *nj, const char *key, bool required, int64_t dflt,
                           int64_t *out)
{
    json_t *a = attr_get(nj, key);
    if (a == NULL) {
        CCC_ENSURE(!required, CCC_ERR_PARSE, "nn: missing integer attribute");
        *out = dflt;
        return CCC_OK;
    }
    CCC_ENSURE(json_int(json_object_get(a, "i"), out), CCC_ERR_PARSE,
               "nn: bad integer attribute");
    return CCC_OK;
}

static ccc_status attr_bool(const json_t *nj, const char *key, bool dflt, bool *out)
{
    json_t *a = attr_get(nj, key);
    if (a == NULL) {
        *out = dflt;
        return CCC_OK;
    }
    json_t *b = json_object_get(a, "b");
    if (b == NULL) { /* proto3 JSON omits false */
        CCC_ENSURE(json_object_size(a) == 0, CCC_ERR_PARSE, "nn: bad boolean attribute");
        *out = false;
        return CCC_OK;
    }
    CCC_ENSURE(json_is_boolean(b), CCC_ERR_PARSE, "nn: bad boolean attribute");
    *out = json_is_true(b);
    return CCC_OK;
}

/* An int list attribute {"list": {"i": [...]}}; *count receives its length. */
static ccc_status attr_ints(const json_t *nj, const char *key, int64_t *out, size_t max,
                            size_t *count)
{
    *count = 0;
    json_t *a = attr_get(nj, key);
    if (a == NULL)
        return CCC_OK;
    json_t *list = json_object_get(a, "list");
    CCC_ENSURE(json_is_object(list), CCC_ERR_PARSE, "nn: bad list attribute");
    json_t *arr = json_object_get(list, "i");
    if (arr == NULL)
        return CCC_OK;
    CCC_ENSURE(json_is_array(arr) && json_array_size(arr) <= max, CCC_ERR_PARSE,
               "nn: bad integer list attribute");
    for (size_t i = 0; i < json_array_size(arr); i++)
        CCC_ENSURE(json_int(json_array_get(arr, i), &out[i]), CCC_ERR_PARSE,
                   "nn: bad integer list attribute");
    *count = json_array_size(arr);
    return CCC_OK;
}

/* Does the string attribute (base64 in the JSON) equal `b64`? Absent → `absent_ok`. */
static ccc_status attr_str_check(const json_t *nj, const char *key, const char *const *allowed,
                                 size_t n_allowed, bool absent_ok, size_t *which)
{
    json_t *a = attr_get(nj, key);
    if (a == NULL) {
        CCC_ENSURE(absent_ok, CCC_ERR_PARSE, "nn: missing string attribute");
        *which = 0;
        return CCC_OK;
    }
    const char *s = json_string_value(json_object_get(a, "s"));
    CCC_ENSURE(s != NULL, CCC_ERR_PARSE, "nn: bad string attribute");
    for (size_t i = 0; i < n_allowed; i++) {
        if (strcmp(s, allowed[i]) == 0) {
            *which = i;
            return CCC_OK;
        }
    }
    CCC_BAIL(CCC_ERR_UNSUPPORTED, "nn: unsupported attribute value (padding, data_format or fused_ops)");
}

static ccc_status dtype_of(const char *s, nn_dtype *out)
{
    CCC_ENSURE(s != NULL, CCC_ERR_PARSE, "nn: missing dtype");
    if (strcmp(s, "DT_FLOAT") == 0)
        *out = NN_F32;
    else if (strcmp(s, "DT_INT32") == 0)
        *out = NN_I32;
    else if (strcmp(s, "DT_BOOL") == 0)
        *out = NN_BOOL;
    else
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "nn: unsupported dtype");
    return CCC_OK;
}

static ccc_status attr_type(const json_t *nj, const char *key, bool required, nn_dtype *out)
{
    json_t *a = attr_get(nj, key);
    if (a == NULL) {
        CCC_ENSURE(!required, CCC_ERR_PARSE, "nn: missing type attribute");
        return CCC_OK;
    }
    return dtype_of(json_string_value(json_object_get(a, "type")), out);
}

/* A TensorShapeProto {"dim": [{"size": "1"}, ...]} → rank and dims. */
static ccc_status parse_shape(const json_t *shape, int *rank, int64_t *dims)
{
    CCC_ENSURE(json_is_object(shape), CCC_ERR_PARSE, "nn: bad tensor shape");
    CCC_ENSURE(json_object_get(shape, "unknownRank") == NULL, CCC_ERR_UNSUPPORTED,
               "nn: unknown rank");
    json_t *dim = json_object_get(shape, "dim");
    if (dim == NULL) {
        *rank = 0;
        return CCC_OK;
    }
    CCC_ENSURE(json_is_array(dim) && json_array_size(dim) <= CCC_NN_MAX_RANK, CCC_ERR_PARSE,
               "nn: bad tensor shape rank");
    for (size_t i = 0; i < json_array_size(dim); i++) {
        json_t *d = json_array_get(dim, i);
        json_t *size = json_object_get(d, "size");
        int64_t v = 0;
        if (size != NULL)
            CCC_ENSURE(json_int(size, &v), CCC_ERR_PARSE, "nn: bad dimension");
        CCC_ENSURE(v >= 1 && v <= NN_MAX_DIM, CCC_ERR_UNSUPPORTED,
                   "nn: dimension must be fixed and positive");
        dims[i] = v;
    }
    *rank = (int)json_array_size(dim);
    return CCC_OK;
}

static ccc_status shape_count(int rank, const int64_t *dims, size_t *count)
{
    size_t c = 1;
    for (int i = 0; i < rank; i++) {
        CCC_ENSURE(dims[i] >= 1 && dims[i] <= NN_MAX_DIM, CCC_ERR_PARSE, "nn: bad dimension");
        c *= (size_t)dims[i];
        CCC_ENSURE(c <= NN_MAX_COUNT, CCC_ERR_LIMIT, "nn: tensor too large");
    }
    *count = c;
    return CCC_OK;
}

static ccc_status set_shape(nn_value *v, nn_dtype dt, int rank, const int64_t *dims)
{
    CCC_ENSURE(rank >= 0 && rank <= CCC_NN_MAX_RANK, CCC_ERR_PARSE, "nn: bad rank");
    v->dtype = dt;
    v->rank = rank;
    for (int i = 0; i < rank; i++)
        v->shape[i] = dims[i];
    return shape_count(rank, dims, &v->count);
}

/* ------------------------------------------------------------------------ */
/* Weights manifest                                                          */
/* ------------------------------------------------------------------------ */

typedef struct weight_entry {
    const char *name; /* borrowed from the JSON */
    nn_dtype dtype;
    int rank;
    int64_t shape[CCC_NN_MAX_RANK];
    size_t count;
    size_t const_offset; /* byte offset in m->consts */
} weight_entry;

static int weight_cmp(const void *a, const void *b)
{
    return strcmp(((const weight_entry *)a)->name, ((const weight_entry *)b)->name);
}

static ccc_status load_weights(ccc_nn_model *m, const json_t *root, ccc_bytes weights,
                               weight_entry **out, size_t *out_count)
{
    ccc_status st = CCC_OK;
    weight_entry *w = NULL;
    json_t *man = json_object_get(root, "weightsManifest");
    CCC_CHECK(json_is_array(man) && json_array_size(man) <= 1, CCC_ERR_UNSUPPORTED,
              "nn: weightsManifest must have one group");
    json_t *list = json_array_size(man) ? json_object_get(json_array_get(man, 0), "weights")
                                        : NULL;
    size_t n = list ? json_array_size(list) : 0;
    CCC_CHECK(list == NULL || json_is_array(list), CCC_ERR_PARSE, "nn: bad weights list");
    CCC_CHECK(n <= CCC_NN_MAX_NODES, CCC_ERR_LIMIT, "nn: too many weights");
    w = calloc(n ? n : 1, sizeof *w);
    CCC_CHECK(w != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    size_t file_off = 0, const_size = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(list, i);
        w[i].name = json_string_value(json_object_get(e, "name"));
        const char *dt = json_string_value(json_object_get(e, "dtype"));
        CCC_CHECK(w[i].name != NULL && dt != NULL, CCC_ERR_PARSE, "nn: weight without name or dtype");
        json_t *shape = json_object_get(e, "shape");
        CCC_CHECK(json_is_array(shape) && json_array_size(shape) <= CCC_NN_MAX_RANK,
                  CCC_ERR_PARSE, "nn: bad weight shape");
        w[i].rank = (int)json_array_size(shape);
        for (int d = 0; d < w[i].rank; d++) {
            CCC_CHECK(json_int(json_array_get(shape, (size_t)d), &w[i].shape[d]), CCC_ERR_PARSE,
                      "nn: bad weight shape");
        }
        CCC_TRY(shape_count(w[i].rank, w[i].shape, &w[i].count));
        json_t *q = json_object_get(e, "quantization");
        size_t elem;
        if (strcmp(dt, "float32") == 0) {
            w[i].dtype = NN_F32;
            elem = 4;
            if (q != NULL) {
                const char *qd = json_string_value(json_object_get(q, "dtype"));
                CCC_CHECK(qd != NULL && strcmp(qd, "float16") == 0 &&
                              json_object_get(q, "scale") == NULL &&
                              json_object_get(q, "min") == NULL,
                          CCC_ERR_UNSUPPORTED, "nn: only float16 weight quantization is supported");
                elem = 2;
            }
        } else if (strcmp(dt, "int32") == 0) {
            CCC_CHECK(q == NULL, CCC_ERR_UNSUPPORTED, "nn: quantized int32 weight");
            w[i].dtype = NN_I32;
            elem = 4;
        } else {
            CCC_FAIL(CCC_ERR_UNSUPPORTED, "nn: unsupported weight dtype");
        }
        size_t bytes = w[i].count * elem;
        CCC_CHECK(bytes <= weights.size - file_off, CCC_ERR_PARSE,
                  "nn: weights file shorter than the manifest");
        w[i].const_offset = const_size;
        const_size += (w[i].count * 4 + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
        file_off += bytes;
    }
    CCC_CHECK(file_off == weights.size, CCC_ERR_PARSE,
              "nn: weights file longer than the manifest");
    if (const_size >= NN_HUGE_PAGE) {
        const_size = (const_size + NN_HUGE_PAGE - 1) / NN_HUGE_PAGE * NN_HUGE_PAGE;
        m->consts = aligned_alloc(NN_HUGE_PAGE, const_size);
        if (m->consts != NULL)
            (void)madvise(m->consts, const_size, MADV_HUGEPAGE); /* advisory only */
    } else {
        m->consts = aligned_alloc(NN_ALIGN, const_size ? const_size : NN_ALIGN);
    }
    CCC_CHECK(m->consts != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    m->consts_size = const_size;
    /* Widen in manifest order; the reader enforces the bounds again. */
    ccc_reader r;
    ccc_reader_init(&r, weights.ptr, weights.size);
    for (size_t i = 0; i < n; i++) {
        uint8_t *dst = (uint8_t *)m->consts + w[i].const_offset;
        bool half = (w[i].dtype == NN_F32 &&
                     json_object_get(json_array_get(list, i), "quantization") != NULL);
        for (size_t k = 0; k < w[i].count; k++) {
            uint8_t b[4];
            if (half) {
                CCC_TRY(ccc_reader_copy(&r, b, 2));
                float f = nn_half_to_float((uint16_t)(b[0] | (b[1] << 8)));
                memcpy(dst + 4 * k, &f, 4);
            } else {
                CCC_TRY(ccc_reader_copy(&r, b, 4));
                uint32_t u = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
                             ((uint32_t)b[3] << 24);
                memcpy(dst + 4 * k, &u, 4);
            }
        }
    }
    CCC_TRY(ccc_reader_expect_done(&r));
    qsort(w, n, sizeof *w, weight_cmp);
    for (size_t i = 1; i < n; i++)
        CCC_CHECK(strcmp(w[i - 1].name, w[i].name) != 0, CCC_ERR_PARSE,
                  "nn: duplicate weight name");
    *out = w;
    *out_count = n;
    w = NULL;
out:
    free(w);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Graph                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct name_idx {
    const char *name;
    int node;
} name_idx;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const name_idx *)a)->name, ((const name_idx *)b)->name);
}

static int find_node(const name_idx *idx, size_t n, const char *name, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(idx[mid].name, name, len);
        if (c == 0 && idx[mid].name[len] != '\0')
            c = 1;
        if (c == 0)
            return idx[mid].node;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Value of a constant int input (scalar or vector); refuses non-constants. */
static ccc_status const_ints(const ccc_nn_model *m, int v, int64_t *out, size_t max,
                             size_t *count)
{
    const nn_value *x = &m->values[v];
    const nn_value *r = &m->values[x->root];
    CCC_ENSURE(r->storage == ST_CONST, CCC_ERR_UNSUPPORTED,
               "nn: shape/axis operand must be a constant");
    CCC_ENSURE(x->dtype == NN_I32, CCC_ERR_PARSE, "nn: shape/axis operand must be int32");
    CCC_ENSURE(x->count <= max, CCC_ERR_PARSE, "nn: shape/axis operand too long");
    const int32_t *d = r->cdata;
    for (size_t i = 0; i < x->count; i++)
        out[i] = d[i];
    *count = x->count;
    return CCC_OK;
}

static ccc_status const_scalar(const ccc_nn_model *m, int v, int64_t *out)
{
    size_t c = 0;
    CCC_GUARD(const_ints(m, v, out, 1, &c));
    CCC_ENSURE(c == 1 && m->values[v].rank <= 1, CCC_ERR_PARSE, "nn: operand must be a scalar");
    return CCC_OK;
}

static ccc_status broadcast_shape(const nn_value *a, const nn_value *b, nn_value *o)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    int64_t dims[CCC_NN_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int ia = a->rank - rank + i, ib = b->rank - rank + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        CCC_ENSURE(da == db || da == 1 || db == 1, CCC_ERR_PARSE,
                   "nn: operand shapes do not broadcast");
        dims[i] = da > db ? da : db;
    }
    o->rank = rank;
    for (int i = 0; i < rank; i++)
        o->shape[i] = dims[i];
    return shape_count(rank, dims, &o->count);
}

static ccc_status check_t(const json_t *nj, const char *key, nn_dtype want)
{
    nn_dtype t = want;
    CCC_GUARD(attr_type(nj, key, false, &t));
    CCC_ENSURE(t == want, CCC_ERR_UNSUPPORTED, "nn: unsupported operand type");
    return CCC_OK;
}

static const char *const PADDINGS[] = {"U0FNRQ==" /* SAME */, "VkFMSUQ=" /* VALID */};
static const char *const FORMATS[] = {"TkhXQw==" /* NHWC */};

/* strides / padding / data_format / dilations of a conv or pool node. */
static ccc_status window_attrs(const json_t *nj, nn_node *n, bool *same)
{
    int64_t s[8], d[8];
    size_t ns, nd, which = 0;
    CCC_GUARD(attr_ints(nj, "strides", s, 8, &ns));
    CCC_ENSURE(ns == 4 && s[0] == 1 && s[3] == 1 && s[1] >= 1 && s[1] <= 16 && s[2] >= 1 &&
                   s[2] <= 16,
               CCC_ERR_UNSUPPORTED, "nn: unsupported strides");
    n->sh = (int)s[1];
    n->sw = (int)s[2];
    CCC_GUARD(attr_ints(nj, "dilations", d, 8, &nd));
    CCC_ENSURE(nd == 0 || (nd == 4 && d[0] == 1 && d[1] == 1 && d[2] == 1 && d[3] == 1),
               CCC_ERR_UNSUPPORTED, "nn: dilations other than 1");
    CCC_GUARD(attr_ints(nj, "explicit_paddings", d, 8, &nd));
    CCC_ENSURE(nd == 0, CCC_ERR_UNSUPPORTED, "nn: explicit paddings");
    CCC_GUARD(attr_str_check(nj, "padding", PADDINGS, 2, false, &which));
    *same = (which == 0);
    CCC_GUARD(attr_str_check(nj, "data_format", FORMATS, 1, true, &which));
    return CCC_OK;
}

static ccc_status fused_attrs(const json_t *nj, nn_node *n)
{
    json_t *a = attr_get(nj, "fused_ops");
    json_t *l = a ? json_object_get(json_object_get(a, "list"), "s") : NULL;
    CCC_ENSURE(json_is_array(l) && json_array_size(l) >= 1 && json_array_size(l) <= 2,
               CCC_ERR_UNSUPPORTED, "nn: fused_ops must be [BiasAdd] or [BiasAdd, Relu|Relu6]");
    const char *first = json_string_value(json_array_get(l, 0));
    CCC_ENSURE(first && strcmp(first, "Qmlhc0FkZA==") == 0, CCC_ERR_UNSUPPORTED,
               "nn: fused_ops must start with BiasAdd");
    n->act = ACT_NONE;
    if (json_array_size(l) == 2) {
        const char *second = json_string_value(json_array_get(l, 1));
        if (second && strcmp(second, "UmVsdQ==") == 0)
            n->act = ACT_RELU;
        else if (second && strcmp(second, "UmVsdTY=") == 0)
            n->act = ACT_RELU6;
        else
            CCC_BAIL(CCC_ERR_UNSUPPORTED, "nn: unsupported fused activation");
    }
    int64_t na;
    CCC_GUARD(attr_int(nj, "num_args", false, 1, &na));
    CCC_ENSURE(na == 1, CCC_ERR_UNSUPPORTED, "nn: fused op with num_args other than 1");
    n->has_bias = true;
    return CCC_OK;
}

static ccc_status infer_conv(ccc_nn_model *m, nn_node *n, const json_t *nj, nn_value *o)
{
    bool same, depthwise = (n->op == OP_DEPTHWISE || n->op == OP_FUSEDDEPTHWISE);
    CCC_GUARD(check_t(nj, "T", NN_F32));
    CCC_GUARD(window_attrs(nj, n, &same));
    if (n->op == OP_FUSEDCONV2D || n->op == OP_FUSEDDEPTHWISE)
        CCC_GUARD(fused_attrs(nj, n));
    const nn_value *x = &m->values[n->in[0]], *w = &m->values[n->in[1]];
    CCC_ENSURE(x->dtype == NN_F32 && x->rank == 4 && x->shape[0] == 1, CCC_ERR_PARSE,
               "nn: conv input must be float [1,H,W,C]");
    CCC_ENSURE(m->values[w->root].storage == ST_CONST && w->dtype == NN_F32 && w->rank == 4,
               CCC_ERR_UNSUPPORTED, "nn: conv filter must be a float constant [kh,kw,ci,co]");
    CCC_ENSURE(w->shape[0] <= 15 && w->shape[1] <= 15, CCC_ERR_UNSUPPORTED, "nn: conv kernel too large");
    CCC_ENSURE(w->shape[2] == x->shape[3], CCC_ERR_PARSE, "nn: conv filter channels mismatch");
    int64_t cout = w->shape[3];
    if (depthwise) {
        CCC_ENSURE(w->shape[3] == 1, CCC_ERR_UNSUPPORTED, "nn: depthwise multiplier other than 1");
        cout = x->shape[3];
    }
    if (n->has_bias) {
        const nn_value *b = &m->values[n->in[2]];
        CCC_ENSURE(m->values[b->root].storage == ST_CONST && b->dtype == NN_F32 &&
                       b->rank == 1 && b->shape[0] == cout,
                   CCC_ERR_PARSE, "nn: conv bias must be a float constant [cout]");
    }
    n->kh = (int)w->shape[0];
    n->kw = (int)w->shape[1];
    int64_t dims[4] = {1, 0, 0, cout};
    CCC_GUARD(nn_conv_geometry(x->shape[1], n->kh, n->sh, same, &dims[1], &n->pad_top));
    CCC_GUARD(nn_conv_geometry(x->shape[2], n->kw, n->sw, same, &dims[2], &n->pad_left));
    CCC_GUARD(set_shape(o, NN_F32, 4, dims));
    n->macs = (uint64_t)o->count * (uint64_t)n->kh * (uint64_t)n->kw *
              (depthwise ? 1u : (uint64_t)x->shape[3]);
    return CCC_OK;
}

/* Shape inference and attribute checks for one node (inputs already known). */
static ccc_status infer_node(ccc_nn_model *m, nn_node *n, const json_t *nj)
{
    nn_value *o = &m->values[n->out[0]];
    const nn_value *a = n->in_count > 0 ? &m->values[n->in[0]] : NULL;
    const nn_value *b = n->in_count > 1 ? &m->values[n->in[1]] : NULL;
    int64_t v[CCC_NN_MAX_RANK], dims[CCC_NN_MAX_RANK];
    size_t cnt = 0;
    switch (n->op) {
    case OP_CONST:
    case OP_PLACEHOLDER:
        return CCC_OK; /* set while building */
    case OP_IDENTITY:
        CCC_GUARD(set_shape(o, a->dtype, a->rank, a->shape));
        o->storage = ST_ALIAS;
        return CCC_OK;
    case OP_RESHAPE: {
        CCC_GUARD(const_ints(m, n->in[1], v, CCC_NN_MAX_RANK, &cnt));
        CCC_ENSURE(b->rank == 1, CCC_ERR_PARSE, "nn: reshape shape must be a vector");
        int infer = -1;
        size_t known = 1;
        for (size_t i = 0; i < cnt; i++) {
            if (v[i] == -1) {
                CCC_ENSURE(infer < 0, CCC_ERR_PARSE, "nn: reshape with two -1");
                infer = (int)i;
            } else {
                CCC_ENSURE(v[i] >= 1 && v[i] <= NN_MAX_DIM, CCC_ERR_PARSE, "nn: bad reshape dimension");
                known *= (size_t)v[i];
                CCC_ENSURE(known <= NN_MAX_COUNT, CCC_ERR_PARSE, "nn: bad reshape");
            }
            dims[i] = v[i];
        }
        if (infer >= 0) {
            CCC_ENSURE(a->count % known == 0, CCC_ERR_PARSE, "nn: reshape does not divide");
            dims[infer] = (int64_t)(a->count / known);
        }
        CCC_GUARD(set_shape(o, a->dtype, (int)cnt, dims));
        CCC_ENSURE(o->count == a->count, CCC_ERR_PARSE, "nn: reshape changes the element count");
        o->storage = ST_ALIAS;
        return CCC_OK;
    }
    case OP_EXPANDDIMS: {
        int64_t d;
        CCC_GUARD(const_scalar(m, n->in[1], &d));
        CCC_ENSURE(a->rank < CCC_NN_MAX_RANK && d >= -(a->rank + 1) && d <= a->rank,
                   CCC_ERR_PARSE, "nn: bad ExpandDims axis");
        if (d < 0)
            d += a->rank + 1;
        for (int i = 0, j = 0; i <= a->rank; i++)
            dims[i] = (i == d) ? 1 : a->shape[j++];
        CCC_GUARD(set_shape(o, a->dtype, a->rank + 1, dims));
        o->storage = ST_ALIAS;
        return CCC_OK;
    }
    case OP_FUSEDCONV2D:
    case OP_CONV2D:
    case OP_FUSEDDEPTHWISE:
    case OP_DEPTHWISE:
        return infer_conv(m, n, nj, o);
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_FLOORDIV:
    case OP_FLOORMOD:
    case OP_EQUAL: {
        nn_dtype t = a->dtype;
        CCC_GUARD(attr_type(nj, "T", true, &t));
        CCC_ENSURE(a->dtype == t && b->dtype == t && t != NN_BOOL, CCC_ERR_PARSE,
                   "nn: operand types differ from T");
        if (n->op == OP_FLOORDIV || n->op == OP_FLOORMOD)
            CCC_ENSURE(t == NN_I32, CCC_ERR_UNSUPPORTED, "nn: FloorDiv/FloorMod only on int32");
        CCC_GUARD(broadcast_shape(a, b, o));
        o->dtype = (n->op == OP_EQUAL) ? NN_BOOL : t;
        return CCC_OK;
    }
    case OP_RELU:
    case OP_RELU6:
    case OP_SIGMOID:
        CCC_GUARD(check_t(nj, "T", NN_F32));
        CCC_ENSURE(a->dtype == NN_F32, CCC_ERR_PARSE, "nn: activation on a non-float tensor");
        return set_shape(o, NN_F32, a->rank, a->shape);
    case OP_CAST: {
        nn_dtype src = NN_F32, dst = NN_F32;
        CCC_GUARD(attr_type(nj, "SrcT", true, &src));
        CCC_GUARD(attr_type(nj, "DstT", true, &dst));
        CCC_ENSURE(src == a->dtype, CCC_ERR_PARSE, "nn: Cast SrcT differs from its input");
        CCC_ENSURE(dst != NN_BOOL, CCC_ERR_UNSUPPORTED, "nn: Cast to bool");
        n->dst_dtype = dst;
        return set_shape(o, dst, a->rank, a->shape);
    }
    case OP_MEAN: {
        CCC_GUARD(check_t(nj, "T", NN_F32));
        CCC_ENSURE(a->dtype == NN_F32, CCC_ERR_PARSE, "nn: Mean of a non-float tensor");
        CCC_GUARD(attr_bool(nj, "keep_dims", false, &n->keep_dims));
        CCC_GUARD(const_ints(m, n->in[1], v, CCC_NN_MAX_RANK, &cnt));
        n->axes_mask = 0;
        for (size_t i = 0; i < cnt; i++) {
            CCC_ENSURE(v[i] >= -a->rank && v[i] < a->rank, CCC_ERR_PARSE, "nn: bad Mean axis");
            int ax = (int)(v[i] < 0 ? v[i] + a->rank : v[i]);
            CCC_ENSURE(!(n->axes_mask & (1u << ax)), CCC_ERR_PARSE, "nn: repeated Mean axis");
            n->axes_mask |= 1u << ax;
        }
        int r = 0;
        for (int i = 0; i < a->rank; i++) {
            if (n->axes_mask & (1u << i)) {
                if (n->keep_dims)
                    dims[r++] = 1;
            } else {
                dims[r++] = a->shape[i];
            }
        }
        return set_shape(o, NN_F32, r, dims);
    }
    case OP_CONCAT: {
        int64_t nattr, ax;
        CCC_GUARD(attr_int(nj, "N", true, 0, &nattr));
        CCC_ENSURE(nattr == n->in_count - 1 && nattr >= 1, CCC_ERR_PARSE,
                   "nn: ConcatV2 N does not match its inputs");
        CCC_GUARD(const_scalar(m, n->in[n->in_count - 1], &ax));
        CCC_ENSURE(a->rank >= 1 && ax >= -a->rank && ax < a->rank, CCC_ERR_PARSE,
                   "nn: bad ConcatV2 axis");
        n->axis = (int)(ax < 0 ? ax + a->rank : ax);
        for (int i = 0; i < a->rank; i++)
            dims[i] = a->shape[i];
        dims[n->axis] = 0;
        for (int k = 0; k < n->in_count - 1; k++) {
            const nn_value *x = &m->values[n->in[k]];
            CCC_ENSURE(x->rank == a->rank && x->dtype == a->dtype, CCC_ERR_PARSE,
                       "nn: ConcatV2 inputs differ in rank or type");
            for (int i = 0; i < a->rank; i++)
                CCC_ENSURE(i == n->axis || x->shape[i] == a->shape[i], CCC_ERR_PARSE,
                           "nn: ConcatV2 inputs differ in shape");
            dims[n->axis] += x->shape[n->axis];
        }
        return set_shape(o, a->dtype, a->rank, dims);
    }
    case OP_STRIDEDSLICE: {
        int64_t bm, em, sm, elm, nam, be[8], en[8], sd[8];
        size_t c1 = 0, c2 = 0, c3 = 0;
        CCC_GUARD(attr_int(nj, "begin_mask", false, 0, &bm));
        CCC_GUARD(attr_int(nj, "end_mask", false, 0, &em));
        CCC_GUARD(attr_int(nj, "shrink_axis_mask", false, 0, &sm));
        CCC_GUARD(attr_int(nj, "ellipsis_mask", false, 0, &elm));
        CCC_GUARD(attr_int(nj, "new_axis_mask", false, 0, &nam));
        CCC_ENSURE(elm == 0 && nam == 0, CCC_ERR_UNSUPPORTED,
                   "nn: StridedSlice ellipsis/new-axis masks");
        CCC_GUARD(const_ints(m, n->in[1], be, 8, &c1));
        CCC_GUARD(const_ints(m, n->in[2], en, 8, &c2));
        CCC_GUARD(const_ints(m, n->in[3], sd, 8, &c3));
        CCC_ENSURE(c1 == (size_t)a->rank && c2 == c1 && c3 == c1, CCC_ERR_UNSUPPORTED,
                   "nn: StridedSlice spec must cover every axis");
        int r = 0;
        for (int i = 0; i < a->rank; i++) {
            int64_t d = a->shape[i], s = sd[i];
            CCC_ENSURE(s != 0 && s > -NN_MAX_DIM && s < NN_MAX_DIM, CCC_ERR_PARSE, "nn: bad StridedSlice stride");
            int64_t lo, hi, len;
            if (sm & (1 << i)) {
                /* TF: a shrunk axis takes the single element at begin. */
                int64_t x = be[i] < 0 ? be[i] + d : be[i];
                CCC_ENSURE(x >= 0 && x < d, CCC_ERR_PARSE, "nn: StridedSlice index out of range");
                n->begin[i] = x;
                n->strides[i] = 1;
                continue;
            }
            /* TF ValidateStridedSliceOp: clamp into [0,d] (s>0) or [-1,d-1] (s<0). */
            if (s > 0) {
                lo = (bm & (1 << i)) ? 0 : (be[i] < 0 ? be[i] + d : be[i]);
                hi = (em & (1 << i)) ? d : (en[i] < 0 ? en[i] + d : en[i]);
                lo = lo < 0 ? 0 : (lo > d ? d : lo);
                hi = hi < 0 ? 0 : (hi > d ? d : hi);
                len = hi > lo ? (hi - lo + s - 1) / s : 0;
            } else {
                lo = (bm & (1 << i)) ? d - 1 : (be[i] < 0 ? be[i] + d : be[i]);
                hi = (em & (1 << i)) ? -1 : (en[i] < 0 ? en[i] + d : en[i]);
                lo = lo < -1 ? -1 : (lo > d - 1 ? d - 1 : lo);
                hi = hi < -1 ? -1 : (hi > d - 1 ? d - 1 : hi);
                len = lo > hi ? (lo - hi + (-s) - 1) / (-s) : 0;
            }
            CCC_ENSURE(len >= 1, CCC_ERR_UNSUPPORTED, "nn: empty StridedSlice");
            n->begin[i] = lo;
            n->strides[i] = s;
            dims[r++] = len;
        }
        /* keep the un-shrunk lengths for the kernel: stored via output shape */
        CCC_GUARD(set_shape(o, a->dtype, r, dims));
        n->axes_mask = (uint32_t)sm;
        return CCC_OK;
    }
    case OP_RESIZEBILINEAR: {
        CCC_GUARD(check_t(nj, "T", NN_F32));
        CCC_GUARD(attr_bool(nj, "align_corners", false, &n->align_corners));
        CCC_GUARD(attr_bool(nj, "half_pixel_centers", false, &n->half_pixel));
        CCC_ENSURE(!(n->align_corners && n->half_pixel), CCC_ERR_UNSUPPORTED,
                   "nn: align_corners with half_pixel_centers");
        CCC_ENSURE(a->dtype == NN_F32 && a->rank == 4 && a->shape[0] == 1, CCC_ERR_PARSE,
                   "nn: ResizeBilinear input must be float [1,H,W,C]");
        CCC_GUARD(const_ints(m, n->in[1], v, 2, &cnt));
        CCC_ENSURE(cnt == 2 && v[0] >= 1 && v[1] >= 1 && v[0] <= 8192 && v[1] <= 8192,
                   CCC_ERR_PARSE, "nn: bad ResizeBilinear size");
        int64_t d4[4] = {1, v[0], v[1], a->shape[3]};
        return set_shape(o, NN_F32, 4, d4);
    }
    case OP_MAXPOOL: {
        bool same;
        int64_t ks[8];
        CCC_GUARD(check_t(nj, "T", NN_F32));
        CCC_GUARD(window_attrs(nj, n, &same));
        CCC_GUARD(attr_ints(nj, "ksize", ks, 8, &cnt));
        CCC_ENSURE(cnt == 4 && ks[0] == 1 && ks[3] == 1 && ks[1] >= 1 && ks[1] <= 15 &&
                       ks[2] >= 1 && ks[2] <= 15,
                   CCC_ERR_UNSUPPORTED, "nn: unsupported MaxPool ksize");
        CCC_ENSURE(a->dtype == NN_F32 && a->rank == 4 && a->shape[0] == 1, CCC_ERR_PARSE,
                   "nn: MaxPool input must be float [1,H,W,C]");
        n->kh = (int)ks[1];
        n->kw = (int)ks[2];
        int64_t d4[4] = {1, 0, 0, a->shape[3]};
        CCC_GUARD(nn_conv_geometry(a->shape[1], n->kh, n->sh, same, &d4[1], &n->pad_top));
        CCC_GUARD(nn_conv_geometry(a->shape[2], n->kw, n->sw, same, &d4[2], &n->pad_left));
        return set_shape(o, NN_F32, 4, d4);
    }
    case OP_TOPK: {
        int64_t k;
        bool sorted;
        CCC_GUARD(check_t(nj, "T", NN_F32));
        CCC_GUARD(attr_bool(nj, "sorted", true, &sorted));
        CCC_ENSURE(sorted, CCC_ERR_UNSUPPORTED, "nn: TopKV2 with sorted=false");
        CCC_ENSURE(a->dtype == NN_F32 && a->rank >= 1, CCC_ERR_PARSE, "nn: TopKV2 input must be float");
        CCC_GUARD(const_scalar(m, n->in[1], &k));
        CCC_ENSURE(k >= 1 && k <= a->shape[a->rank - 1] && k <= 65536, CCC_ERR_PARSE,
                   "nn: TopKV2 k out of range");
        n->k = (int)k;
        for (int i = 0; i < a->rank; i++)
            dims[i] = a->shape[i];
        dims[a->rank - 1] = k;
        CCC_GUARD(set_shape(o, NN_F32, a->rank, dims));
        return set_shape(&m->values[n->out[1]], NN_I32, a->rank, dims);
    }
    case OP_GATHER: {
        int64_t ax, bd;
        CCC_GUARD(attr_int(nj, "batch_dims", false, 0, &bd));
        CCC_ENSURE(bd == 0, CCC_ERR_UNSUPPORTED, "nn: GatherV2 batch_dims");
        CCC_ENSURE(b->dtype == NN_I32, CCC_ERR_PARSE, "nn: GatherV2 indices must be int32");
        CCC_GUARD(const_scalar(m, n->in[2], &ax));
        CCC_ENSURE(a->rank >= 1 && ax >= -a->rank && ax < a->rank, CCC_ERR_PARSE,
                   "nn: bad GatherV2 axis");
        n->axis = (int)(ax < 0 ? ax + a->rank : ax);
        int r = 0;
        CCC_ENSURE(a->rank - 1 + b->rank <= CCC_NN_MAX_RANK, CCC_ERR_PARSE, "nn: GatherV2 rank too large");
        for (int i = 0; i < n->axis; i++)
            dims[r++] = a->shape[i];
        for (int i = 0; i < b->rank; i++)
            dims[r++] = b->shape[i];
        for (int i = n->axis + 1; i < a->rank; i++)
            dims[r++] = a->shape[i];
        return set_shape(o, a->dtype, r, dims);
    }
    case OP_HSWISH:
    case OP_COUNT:
        break;
    }
    CCC_BAIL(CCC_ERR_INTERNAL, "nn: unknown op");
}

/* ------------------------------------------------------------------------ */
/* Arena plan: first fit by liveness                                         */
/* ------------------------------------------------------------------------ */

typedef struct block {
    size_t off, size;
    int value;
} block;

static ccc_status plan_arena(ccc_nn_model *m)
{
    ccc_status st = CCC_OK;
    size_t nv = m->value_count;
    block *live = calloc(nv ? nv : 1, sizeof *live);
    CCC_CHECK(live != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    size_t nlive = 0, high = 0;
    for (size_t i = 0; i < nv; i++)
        m->values[i].last_use = -1;
    for (size_t s = 0; s < m->step_count; s++) {
        const nn_node *n = &m->nodes[m->steps[s]];
        for (int k = 0; k < n->in_count; k++) {
            nn_value *r = &m->values[m->values[n->in[k]].root];
            r->last_use = (int)s;
        }
    }
    for (size_t s = 0; s < m->step_count; s++) {
        const nn_node *n = &m->nodes[m->steps[s]];
        for (int k = 0; k < n->out_count; k++) {
            nn_value *v = &m->values[n->out[k]];
            if (v->storage != ST_ARENA)
                continue;
            size_t need = (v->count * 4 + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
            /* lowest gap between live blocks (kept sorted by offset) */
            size_t off = 0, pos = 0;
            for (; pos < nlive; pos++) {
                if (live[pos].off >= off + need)
                    break;
                if (live[pos].off + live[pos].size > off)
                    off = live[pos].off + live[pos].size;
            }
            memmove(&live[pos + 1], &live[pos], (nlive - pos) * sizeof *live);
            live[pos] = (block){off, need, n->out[k]};
            nlive++;
            v->offset = off;
            if (off + need > high)
                high = off + need;
            CCC_CHECK(high <= m->arena_limit, CCC_ERR_LIMIT, "nn: activation arena too large");
            if (v->last_use < 0 && !v->pinned)
                v->last_use = (int)s; /* dead output: free right away */
        }
        /* free every block whose last reader is this step */
        size_t w = 0;
        for (size_t i = 0; i < nlive; i++) {
            const nn_value *v = &m->values[live[i].value];
            if (!v->pinned && v->last_use <= (int)s)
                continue;
            live[w++] = live[i];
        }
        nlive = w;
    }
    /* 2 MiB aligned and rounded, and transparent huge pages asked for: the
     * kernels stride through tens of MB (TLB misses otherwise) */
    m->arena_size = high ? high : NN_ALIGN; /* the planned bytes (stats) */
    size_t alloc = high ? (high + NN_HUGE_PAGE - 1) / NN_HUGE_PAGE * NN_HUGE_PAGE : NN_ALIGN;
    m->arena = aligned_alloc(high ? NN_HUGE_PAGE : NN_ALIGN, alloc);
    CCC_CHECK(m->arena != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    if (high)
        (void)madvise(m->arena, alloc, MADV_HUGEPAGE); /* advisory only */
    memset(m->arena, 0, alloc);
out:
    free(live);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Fusion (fast mode): hard-swish                                            */
/* ------------------------------------------------------------------------ */

/* The value's float scalar constant, if it is one. */
static bool scalar_const(const ccc_nn_model *m, int v, float *out)
{
    const nn_value *x = &m->values[v];
    if (m->values[x->root].storage != ST_CONST || x->dtype != NN_F32 || x->count != 1)
        return false;
    *out = *(const float *)m->values[x->root].cdata;
    return true;
}

/* The node producing v if it is `op` with one consumer and not an output. */
static nn_node *sole_producer(ccc_nn_model *m, const int *consumers, int v, nn_op op)
{
    nn_node *p = &m->nodes[m->values[v].producer];
    if (p->op != op || p->skip || consumers[v] != 1 || m->values[v].pinned)
        return NULL;
    return p;
}

/*
 * MobileNetV3's hard-swish is four graph ops over one tensor X:
 *   Mul(c, X) ; Add(X, a) → Relu6 ; Mul(mul, relu6).
 * Rewrite the last Mul as OP_HSWISH(X) computing the same float operations
 * in the same order (bit-identical), and skip the other three.
 */
static ccc_status fuse_hswish(ccc_nn_model *m)
{
    int *consumers = calloc(m->value_count, sizeof *consumers);
    CCC_ENSURE(consumers != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    for (size_t i = 0; i < m->node_count; i++)
        for (int k = 0; k < m->nodes[i].in_count; k++)
            consumers[m->nodes[i].in[k]]++;
    for (size_t i = 0; i < m->node_count; i++) {
        nn_node *f = &m->nodes[i];
        if (f->op != OP_MUL || m->values[f->out[0]].dtype != NN_F32)
            continue;
        for (int side = 0; side < 2; side++) {
            nn_node *r = sole_producer(m, consumers, f->in[side], OP_RELU6);
            nn_node *mu = sole_producer(m, consumers, f->in[1 - side], OP_MUL);
            if (!r || !mu)
                continue;
            nn_node *ad = sole_producer(m, consumers, r->in[0], OP_ADD);
            if (!ad)
                continue;
            float a, c;
            int x;
            if (scalar_const(m, ad->in[1], &a))
                x = ad->in[0];
            else if (scalar_const(m, ad->in[0], &a))
                x = ad->in[1];
            else
                continue;
            if (!((mu->in[1] == x && scalar_const(m, mu->in[0], &c)) ||
                  (mu->in[0] == x && scalar_const(m, mu->in[1], &c))))
                continue;
            const nn_value *xv = &m->values[x], *fo = &m->values[f->out[0]];
            if (xv->dtype != NN_F32 || xv->count != fo->count)
                continue;
            f->op = OP_HSWISH;
            f->in[0] = x;
            f->in_count = 1;
            f->hs_a = a;
            f->hs_c = c;
            r->skip = mu->skip = ad->skip = true;
            /* X straight from a conv that nothing else reads: move the
             * hard-swish into the conv's store and alias the result to X. */
            nn_node *pr = &m->nodes[xv->producer];
            bool conv = pr->op == OP_FUSEDCONV2D || pr->op == OP_CONV2D ||
                        pr->op == OP_FUSEDDEPTHWISE || pr->op == OP_DEPTHWISE;
            if (conv && pr->act == ACT_NONE && consumers[x] == 2 && !xv->pinned &&
                xv->root == x) {
                pr->act = ACT_HSWISH;
                pr->hs_a = a;
                pr->hs_c = c;
                f->skip = true;
                int fo_id = f->out[0];
                bool pin = m->values[fo_id].pinned;
                for (size_t v = 0; v < m->value_count; v++)
                    if (m->values[v].root == fo_id)
                        m->values[v].root = x;
                m->values[fo_id].storage = ST_ALIAS;
                if (pin)
                    m->values[x].pinned = true;
            }
            if (!m->op_counts[OP_HSWISH]++) {
                m->op_slot[OP_HSWISH] = (int)m->op_kinds;
                m->op_names[m->op_kinds++] = "HardSwish (fused)";
            }
            m->op_hist[m->op_slot[OP_HSWISH]]++;
            break;
        }
    }
    /* conv → Sigmoid (the class heat-map) and ConcatV2 → Relu (the head):
     * the activation moves into the producer's store, the activation's result
     * aliases the producer's */
    for (size_t i = 0; i < m->node_count; i++) {
        nn_node *f = &m->nodes[i];
        if ((f->op != OP_SIGMOID && f->op != OP_RELU) || f->skip)
            continue;
        int x = f->in[0];
        nn_value *xv = &m->values[x];
        nn_node *pr = &m->nodes[xv->producer];
        bool conv = pr->op == OP_FUSEDCONV2D || pr->op == OP_CONV2D ||
                    pr->op == OP_FUSEDDEPTHWISE || pr->op == OP_DEPTHWISE;
        bool ok = f->op == OP_SIGMOID ? conv : (pr->op == OP_CONCAT && xv->dtype == NN_F32);
        if (!ok || pr->act != ACT_NONE || consumers[x] != 1 || xv->pinned || xv->root != x)
            continue;
        pr->act = f->op == OP_SIGMOID ? ACT_SIGMOID : ACT_RELU;
        f->skip = true;
        int fo_id = f->out[0];
        bool pin = m->values[fo_id].pinned;
        for (size_t v = 0; v < m->value_count; v++)
            if (m->values[v].root == fo_id)
                m->values[v].root = x;
        m->values[fo_id].storage = ST_ALIAS;
        if (pin)
            xv->pinned = true;
    }
    /* The CenterNet peak test Mul(h, Cast(Equal(h, MaxPool(h)))) with a
     * stride-1 SAME MaxPool: one pass in the MaxPool, the Mul aliases it */
    for (size_t i = 0; i < m->node_count; i++) {
        nn_node *f = &m->nodes[i];
        if (f->op != OP_MUL || f->skip || m->values[f->out[0]].dtype != NN_F32)
            continue;
        for (int side = 0; side < 2; side++) {
            int h = f->in[1 - side];
            nn_node *cast = sole_producer(m, consumers, f->in[side], OP_CAST);
            if (!cast || cast->dst_dtype != NN_F32 || m->values[cast->in[0]].dtype != NN_BOOL)
                continue;
            nn_node *eq = sole_producer(m, consumers, cast->in[0], OP_EQUAL);
            if (!eq)
                continue;
            int pin = eq->in[0] == h ? 1 : eq->in[1] == h ? 0 : -1;
            nn_node *mp = pin >= 0 ? sole_producer(m, consumers, eq->in[pin], OP_MAXPOOL) : NULL;
            if (!mp || mp->in[0] != h || mp->act != ACT_NONE || mp->sh != 1 || mp->sw != 1)
                continue;
            nn_value *hv = &m->values[h], *pv = &m->values[mp->out[0]], *fo = &m->values[f->out[0]];
            if (hv->count != pv->count || fo->count != pv->count || pv->root != mp->out[0])
                continue;
            mp->act = ACT_PEAK;
            eq->skip = cast->skip = f->skip = true;
            int fo_id = f->out[0];
            for (size_t v = 0; v < m->value_count; v++)
                if (m->values[v].root == fo_id)
                    m->values[v].root = mp->out[0];
            fo->storage = ST_ALIAS;
            if (fo->pinned)
                pv->pinned = true;
            break;
        }
    }
    free(consumers);
    size_t w = 0;
    for (size_t s = 0; s < m->step_count; s++)
        if (!m->nodes[m->steps[s]].skip)
            m->steps[w++] = m->steps[s];
    m->step_count = w;
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Load                                                                      */
/* ------------------------------------------------------------------------ */

static ccc_status build_graph(ccc_nn_model *m, const json_t *root, const weight_entry *w,
                              size_t wn)
{
    ccc_status st = CCC_OK;
    name_idx *idx = NULL;
    int *indeg = NULL, *queue = NULL, *cons_start = NULL, *cons = NULL;
    json_t *topo = json_object_get(root, "modelTopology");
    json_t *nodes = json_object_get(topo, "node");
    CCC_CHECK(json_is_array(nodes), CCC_ERR_PARSE, "nn: modelTopology.node missing");
    size_t nn = json_array_size(nodes);
    CCC_CHECK(nn >= 1 && nn <= CCC_NN_MAX_NODES, CCC_ERR_LIMIT, "nn: node count out of range");
    json_t *lib = json_object_get(topo, "library");
    CCC_CHECK(lib == NULL || json_object_size(json_object_get(lib, "function")) == 0 ||
                  json_array_size(json_object_get(lib, "function")) == 0,
              CCC_ERR_UNSUPPORTED, "nn: graph functions are not supported");
    m->nodes = calloc(nn, sizeof *m->nodes);
    idx = calloc(nn, sizeof *idx);
    CCC_CHECK(m->nodes && idx, CCC_ERR_NOMEM, "nn: out of memory");
    m->node_count = nn;
    size_t nv = 0;
    for (size_t i = 0; i < nn; i++) {
        json_t *nj = json_array_get(nodes, i);
        const char *name = json_string_value(json_object_get(nj, "name"));
        const char *op = json_string_value(json_object_get(nj, "op"));
        CCC_CHECK(name && op && name[0] != '\0' && strlen(name) < 512, CCC_ERR_PARSE,
                  "nn: node without name or op");
        CCC_CHECK(strchr(name, ':') == NULL && name[0] != '^', CCC_ERR_PARSE, "nn: bad node name");
        const op_info *oi = op_lookup(op);
        CCC_CHECK(oi != NULL, CCC_ERR_UNSUPPORTED, "nn: op not in the allowlist");
        m->nodes[i].name = strdup(name);
        CCC_CHECK(m->nodes[i].name != NULL, CCC_ERR_NOMEM, "nn: out of memory");
        m->nodes[i].op = oi->op;
        m->nodes[i].out_count = oi->outs;
        json_t *in = json_object_get(nj, "input");
        size_t nin = in ? json_array_size(in) : 0;
        CCC_CHECK(in == NULL || json_is_array(in), CCC_ERR_PARSE, "nn: bad node input list");
        CCC_CHECK((int)nin >= oi->min_in && (int)nin <= oi->max_in, CCC_ERR_PARSE,
                  "nn: wrong number of inputs for the op");
        m->nodes[i].in_count = (int)nin;
        idx[i] = (name_idx){m->nodes[i].name, (int)i};
        for (int k = 0; k < oi->outs; k++)
            m->nodes[i].out[k] = (int)(nv + (size_t)k);
        nv += (size_t)oi->outs;
    }
    qsort(idx, nn, sizeof *idx, name_cmp);
    for (size_t i = 1; i < nn; i++)
        CCC_CHECK(strcmp(idx[i - 1].name, idx[i].name) != 0, CCC_ERR_PARSE, "nn: duplicate node name");
    m->values = calloc(nv, sizeof *m->values);
    CCC_CHECK(m->values != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    m->value_count = nv;
    for (size_t i = 0; i < nn; i++)
        for (int k = 0; k < m->nodes[i].out_count; k++) {
            nn_value *v = &m->values[m->nodes[i].out[k]];
            v->producer = (int)i;
            v->root = m->nodes[i].out[k];
            v->storage = ST_ARENA;
        }
    /* resolve inputs "name" or "name:k" */
    for (size_t i = 0; i < nn; i++) {
        json_t *in = json_object_get(json_array_get(nodes, i), "input");
        for (int k = 0; k < m->nodes[i].in_count; k++) {
            const char *s = json_string_value(json_array_get(in, (size_t)k));
            CCC_CHECK(s != NULL, CCC_ERR_PARSE, "nn: bad input name");
            CCC_CHECK(s[0] != '^', CCC_ERR_UNSUPPORTED, "nn: control inputs are not supported");
            const char *colon = strrchr(s, ':');
            size_t len = colon ? (size_t)(colon - s) : strlen(s);
            int64_t port = 0;
            if (colon) {
                json_t *pj = json_string(colon + 1);
                bool ok = pj && json_int(pj, &port);
                json_decref(pj);
                CCC_CHECK(ok && port >= 0 && port < NN_MAX_OUT, CCC_ERR_PARSE, "nn: bad input port");
            }
            int src = find_node(idx, nn, s, len);
            CCC_CHECK(src >= 0, CCC_ERR_PARSE, "nn: input names a missing node");
            CCC_CHECK(port < m->nodes[src].out_count, CCC_ERR_PARSE, "nn: input port out of range");
            m->nodes[i].in[k] = m->nodes[src].out[port];
        }
    }
    /* Kahn's algorithm, FIFO in file order: sources (Const, Placeholder) first */
    indeg = calloc(nn, sizeof *indeg);
    queue = calloc(nn, sizeof *queue);
    cons_start = calloc(nn + 1, sizeof *cons_start);
    size_t edges = 0;
    for (size_t i = 0; i < nn; i++)
        edges += (size_t)m->nodes[i].in_count;
    cons = calloc(edges ? edges : 1, sizeof *cons);
    m->steps = calloc(nn, sizeof *m->steps);
    CCC_CHECK(indeg && queue && cons_start && cons && m->steps, CCC_ERR_NOMEM, "nn: out of memory");
    for (size_t i = 0; i < nn; i++)
        for (int k = 0; k < m->nodes[i].in_count; k++)
            cons_start[m->values[m->nodes[i].in[k]].producer + 1]++;
    for (size_t i = 0; i < nn; i++)
        cons_start[i + 1] += cons_start[i];
    {
        int *fill = indeg; /* temporarily: fill positions */
        for (size_t i = 0; i < nn; i++)
            for (int k = 0; k < m->nodes[i].in_count; k++) {
                int p = m->values[m->nodes[i].in[k]].producer;
                cons[cons_start[p] + fill[p]++] = (int)i;
            }
        memset(indeg, 0, nn * sizeof *indeg);
    }
    for (size_t i = 0; i < nn; i++)
        indeg[i] = m->nodes[i].in_count;
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < nn; i++)
        if (indeg[i] == 0)
            queue[qt++] = (int)i;
    while (qh < qt) {
        int u = queue[qh++];
        for (int e = cons_start[u]; e < cons_start[u + 1]; e++)
            if (--indeg[cons[e]] == 0)
                queue[qt++] = cons[e];
    }
    CCC_CHECK(qt == nn, CCC_ERR_PARSE, "nn: the graph has a cycle");

    /* shapes in topological order; Const and Placeholder first */
    const json_t *sig_in = json_object_get(json_object_get(root, "signature"), "inputs");
    (void)sig_in;
    m->input_value = -1;
    for (size_t q = 0; q < nn; q++) {
        int i = queue[q];
        nn_node *n = &m->nodes[i];
        json_t *nj = json_array_get(nodes, (size_t)i);
        nn_value *o = &m->values[n->out[0]];
        if (n->op == OP_CONST) {
            nn_dtype dt = NN_F32;
            CCC_TRY(attr_type(nj, "dtype", true, &dt));
            json_t *val = attr_get(nj, "value");
            json_t *tensor = json_object_get(val, "tensor");
            CCC_CHECK(json_is_object(tensor), CCC_ERR_PARSE, "nn: Const without a tensor");
            CCC_CHECK(json_object_get(tensor, "tensorContent") == NULL &&
                          json_object_get(tensor, "floatVal") == NULL &&
                          json_object_get(tensor, "intVal") == NULL,
                      CCC_ERR_UNSUPPORTED, "nn: inline constant values are not supported");
            int rank = 0;
            int64_t dims[CCC_NN_MAX_RANK];
            json_t *ts = json_object_get(tensor, "tensorShape");
            if (ts != NULL)
                CCC_TRY(parse_shape(ts, &rank, dims));
            weight_entry key = {.name = n->name};
            const weight_entry *e = wn ? bsearch(&key, w, wn, sizeof *w, weight_cmp) : NULL;
            CCC_CHECK(e != NULL, CCC_ERR_PARSE, "nn: Const has no entry in the weights manifest");
            CCC_CHECK(e->dtype == dt && e->rank == rank, CCC_ERR_PARSE,
                      "nn: Const type or rank differs from the manifest");
            for (int d = 0; d < rank; d++)
                CCC_CHECK(e->shape[d] == dims[d], CCC_ERR_PARSE, "nn: Const shape differs from the manifest");
            CCC_TRY(set_shape(o, dt, rank, dims));
            o->storage = ST_CONST;
            o->cdata = (const uint8_t *)m->consts + e->const_offset;
            m->const_count++;
        } else if (n->op == OP_PLACEHOLDER) {
            nn_dtype dt = NN_F32;
            CCC_TRY(attr_type(nj, "dtype", true, &dt));
            CCC_CHECK(dt == NN_F32, CCC_ERR_UNSUPPORTED, "nn: Placeholder must be float");
            CCC_CHECK(m->input_value < 0, CCC_ERR_UNSUPPORTED, "nn: more than one Placeholder");
            json_t *sh = attr_get(nj, "shape");
            CCC_CHECK(sh != NULL, CCC_ERR_PARSE, "nn: Placeholder without a shape");
            int rank = 0;
            int64_t dims[CCC_NN_MAX_RANK];
            CCC_TRY(parse_shape(json_object_get(sh, "shape"), &rank, dims));
            CCC_TRY(set_shape(o, NN_F32, rank, dims));
            m->input_value = n->out[0];
            o->pinned = true; /* the caller's input stays readable */
        } else {
            CCC_TRY(infer_node(m, n, nj));
            if (o->storage == ST_ALIAS) {
                o->root = m->values[n->in[0]].root;
                if (m->values[o->root].storage == ST_CONST)
                    o->storage = ST_CONST;
            }
        }
        m->macs += n->macs;
    }
    /* steps: every node that computes something */
    for (size_t q = 0; q < nn; q++) {
        nn_node *n = &m->nodes[queue[q]];
        if (n->op != OP_CONST)
            m->steps[m->step_count++] = queue[q];
        if (!m->op_counts[n->op]++) {
            m->op_slot[n->op] = (int)m->op_kinds;
            m->op_names[m->op_kinds++] = nn_op_name(n->op);
        }
        m->op_hist[m->op_slot[n->op]]++;
    }
    /* outputs: every unconsumed node, and every signature output */
    for (size_t i = 0; i < nn; i++)
        if (cons_start[i + 1] == cons_start[i])
            for (int k = 0; k < m->nodes[i].out_count; k++)
                m->values[m->values[m->nodes[i].out[k]].root].pinned = true;
    json_t *outs = json_object_get(json_object_get(root, "signature"), "outputs");
    const char *key;
    json_t *val;
    json_object_foreach(outs, key, val) {
        int src = find_node(idx, nn, key, strlen(key));
        if (src >= 0)
            m->values[m->values[m->nodes[src].out[0]].root].pinned = true;
    }
out:
    free(idx);
    free(indeg);
    free(queue);
    free(cons_start);
    free(cons);
    return st;
}

ccc_status ccc_nn_model_load(ccc_bytes model_json, ccc_bytes weights, const ccc_nn_options *opt,
                             ccc_nn_model **out)
{
    ccc_status st = CCC_OK;
    json_t *root = NULL;
    weight_entry *w = NULL;
    size_t wn = 0;
    ccc_nn_model *m = NULL;
    *out = NULL;
    CCC_CHECK(model_json.size <= CCC_NN_MAX_JSON_SIZE, CCC_ERR_LIMIT, "nn: model.json too large");
    CCC_CHECK(weights.size <= CCC_NN_MAX_WEIGHTS_SIZE, CCC_ERR_LIMIT, "nn: weights file too large");
    CCC_CHECK(model_json.ptr != NULL || model_json.size == 0, CCC_ERR_USAGE, "nn: no model");
    json_error_t jerr;
    root = json_loadb((const char *)model_json.ptr, model_json.size, JSON_REJECT_DUPLICATES, &jerr);
    CCC_CHECK(root != NULL && json_is_object(root), CCC_ERR_PARSE, "nn: model.json is not a JSON object");
    const char *fmt = json_string_value(json_object_get(root, "format"));
    CCC_CHECK(fmt == NULL || strcmp(fmt, "graph-model") == 0, CCC_ERR_UNSUPPORTED,
              "nn: model format is not graph-model");
    m = calloc(1, sizeof *m);
    CCC_CHECK(m != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    m->reference = opt && opt->reference_kernels;
    m->profile = opt && opt->profile;
    m->arena_limit = (opt && opt->arena_limit) ? opt->arena_limit : CCC_NN_MAX_ARENA_SIZE;
    m->isa = m->reference ? -1 : nn_fast_detect_isa();
    if (!m->reference && opt && opt->isa) {
        int cap = strcmp(opt->isa, "portable") == 0 ? 0 : strcmp(opt->isa, "avx2") == 0 ? 1
                  : strcmp(opt->isa, "avx512") == 0 ? 2 : -1;
        CCC_CHECK(cap >= 0, CCC_ERR_USAGE, "nn: unknown isa (portable, avx2, avx512)");
        if (cap < m->isa)
            m->isa = cap;
    }
    CCC_TRY(load_weights(m, root, weights, &w, &wn));
    CCC_TRY(build_graph(m, root, w, wn));
    if (!m->reference)
        CCC_TRY(fuse_hswish(m));
    CCC_TRY(plan_arena(m));
    size_t maxc = 1;
    for (size_t i = 0; i < m->value_count; i++)
        if (m->values[i].rank == 4 && (size_t)m->values[i].shape[3] > maxc)
            maxc = (size_t)m->values[i].shape[3];
    float *z = aligned_alloc(NN_ALIGN, (maxc * 4 + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN);
    CCC_CHECK(z != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    memset(z, 0, maxc * 4);
    m->zeros = z;
    if (!m->reference)
        for (size_t i = 0; i < m->node_count; i++)
            CCC_TRY(nn_fast_pack(m, &m->nodes[i]));
    int threads = opt ? opt->threads : 0;
    if (threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 0 ? (int)nc : 1;
    }
    if (threads > 64)
        threads = 64;
    if (m->reference)
        threads = 1;
    m->threads = threads;
    CCC_TRY(nn_pool_new(threads, &m->pool));
    *out = m;
    m = NULL;
out:
    if (root)
        json_decref(root);
    free(w);
    ccc_nn_model_free(m);
    return st;
}

void ccc_nn_model_free(ccc_nn_model *m)
{
    if (m == NULL)
        return;
    nn_pool_free(m->pool);
    m->pool = NULL; /* the scrub below must not park a freed pool */
    for (size_t i = 0; i < m->node_count; i++) {
        free(m->nodes[i].name);
        free(m->nodes[i].packed);
    }
    free(m->nodes);
    free(m->values);
    free(m->steps);
    free(m->consts);
    ccc_nn_model_scrub(m);
    free(m->arena);
    free((void *)(uintptr_t)m->zeros);
    free(m->scratch);
    free(m);
}

void ccc_nn_model_scrub(ccc_nn_model *m)
{
    if (m == NULL)
        return;
    nn_pool_park(m->pool); /* the job is over: free the cores at once */
    if (m->arena)
        ccc_wipe(m->arena, m->arena_size);
    if (m->scratch)
        ccc_wipe(m->scratch, m->scratch_size);
}
