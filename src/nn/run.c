/* The executor: the planned steps, in order, over the one arena. */
#include <string.h>

#include "nn/internal.h"

static int find_value(const ccc_nn_model *m, const char *name)
{
    for (size_t i = 0; i < m->node_count; i++)
        if (strcmp(m->nodes[i].name, name) == 0)
            return m->nodes[i].out[0];
    return -1;
}

ccc_status ccc_nn_model_run(ccc_nn_model *m, const char *input_name, const float *input,
                            size_t input_count)
{
    CCC_ENSURE(m != NULL && input_name != NULL && input != NULL, CCC_ERR_USAGE, "nn: bad arguments");
    int v = find_value(m, input_name);
    CCC_ENSURE(v >= 0 && v == m->input_value, CCC_ERR_NOT_FOUND, "nn: no such input placeholder");
    CCC_ENSURE(input_count == m->values[v].count, CCC_ERR_USAGE,
               "nn: input element count differs from the placeholder shape");
    memcpy(nn_f(m, v), input, input_count * sizeof *input);
    for (size_t s = 0; s < m->step_count; s++) {
        const nn_node *n = &m->nodes[m->steps[s]];
        nn_kernel_fn fn = m->reference ? NULL : nn_fast_kernel(n->op);
        if (fn == NULL)
            fn = nn_ref_kernel(n->op);
        uint64_t t0 = m->profile ? ccc_now_ns() : 0;
        CCC_GUARD(fn(m, n));
        if (m->profile)
            m->op_ns[m->op_slot[n->op]] += ccc_now_ns() - t0;
    }
    return CCC_OK;
}

static ccc_status view_of(const ccc_nn_model *m, int v, ccc_nn_tensor_view *out)
{
    const nn_value *x = &m->values[v];
    out->data = nn_f(m, v);
    out->rank = x->rank;
    for (int i = 0; i < CCC_NN_MAX_RANK; i++)
        out->shape[i] = i < x->rank ? x->shape[i] : 0;
    out->count = x->count;
    return CCC_OK;
}

ccc_status ccc_nn_model_output(const ccc_nn_model *m, const char *name, ccc_nn_tensor_view *out)
{
    CCC_ENSURE(m != NULL && name != NULL && out != NULL, CCC_ERR_USAGE, "nn: bad arguments");
    int v = find_value(m, name);
    CCC_ENSURE(v >= 0, CCC_ERR_NOT_FOUND, "nn: no such tensor");
    const nn_value *x = &m->values[v];
    CCC_ENSURE(m->values[x->root].pinned, CCC_ERR_NOT_FOUND,
               "nn: tensor is not a graph output (its memory is reused)");
    CCC_ENSURE(x->dtype == NN_F32, CCC_ERR_UNSUPPORTED, "nn: output is not float32");
    return view_of(m, v, out);
}

ccc_status ccc_nn_model_input_shape(const ccc_nn_model *m, const char *name, ccc_nn_tensor_view *out)
{
    CCC_ENSURE(m != NULL && name != NULL && out != NULL, CCC_ERR_USAGE, "nn: bad arguments");
    int v = find_value(m, name);
    CCC_ENSURE(v >= 0 && v == m->input_value, CCC_ERR_NOT_FOUND, "nn: no such input placeholder");
    CCC_GUARD(view_of(m, v, out));
    out->data = NULL;
    return CCC_OK;
}

void ccc_nn_model_stats(const ccc_nn_model *m, ccc_nn_stats *out)
{
    memset(out, 0, sizeof *out);
    if (m == NULL)
        return;
    out->node_count = m->node_count;
    out->const_count = m->const_count;
    out->step_count = m->step_count;
    out->mac_count = m->macs;
    out->arena_size = m->arena_size;
    out->weights_size = m->consts_size + m->packed_size;
    out->threads = m->threads;
    static const char *const isa_names[] = {"portable", "avx2", "avx512"};
    out->isa = m->isa < 0 ? "reference" : isa_names[m->isa];
    out->op_count = m->op_kinds;
    out->op_names = m->op_names;
    /* op_counts is indexed by op; expose it in op_names order */
    out->op_counts = m->op_hist;
    out->op_ns = m->profile ? m->op_ns : NULL;
}
