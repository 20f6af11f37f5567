/*
 * Fuzz the model loader (and, for small graphs, one reference run).
 * Input: [u32 LE json size][model.json bytes][weights shard bytes].
 * The arena is capped at 1 MiB and runs are limited to small graphs so
 * every input stays fast.
 */
#include <string.h>

#include "fuzz.h"
#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t jsize = (size_t)data[0] | ((size_t)data[1] << 8) | ((size_t)data[2] << 16) |
                   ((size_t)data[3] << 24);
    if (jsize > size - 4)
        jsize = size - 4;
    ccc_bytes json = ccc_bytes_of(data + 4, jsize);
    ccc_bytes weights = ccc_bytes_of(data + 4 + jsize, size - 4 - jsize);
    ccc_nn_options opt = {.threads = 1, .reference_kernels = (size & 1) == 0,
                          .arena_limit = 1u << 20};
    ccc_nn_model *m = NULL;
    if (ccc_nn_model_load(json, weights, &opt, &m) != CCC_OK)
        return 0;
    ccc_nn_stats st;
    ccc_nn_model_stats(m, &st);
    /* run small graphs once on a zero input, then read every output we can */
    static float input[4096];
    static const char *const names[] = {"x", "tower_0/images"};
    for (size_t i = 0; i < 2 && st.mac_count <= 2000000; i++) {
        ccc_nn_tensor_view shape;
        if (ccc_nn_model_input_shape(m, names[i], &shape) != CCC_OK || shape.count > 4096)
            continue;
        memset(input, 0, sizeof input);
        if (ccc_nn_model_run(m, names[i], input, shape.count) == CCC_OK) {
            ccc_nn_tensor_view v;
            if (ccc_nn_model_output(m, "y", &v) == CCC_OK && v.count > 0)
                input[0] = v.data[v.count - 1];
        }
    }
    ccc_nn_model_free(m);
    return 0;
}
