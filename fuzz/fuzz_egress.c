/*
 * Egress validator: any bytes under two policies (boxes off / on). Whatever
 * is accepted must re-serialize to exactly the input (one encoding per
 * answer) and obey the byte rules the guard promises.
 */
#include <stdlib.h>
#include <string.h>

#include "egress/egress.h"
#include "fuzz.h"

static void one(const uint8_t *data, size_t size, const ccc_egress_policy *p)
{
    ccc_egress_answer a;
    if (ccc_egress_check(ccc_bytes_of(data, size), p, &a) != CCC_OK)
        return;
    ccc_buf re;
    ccc_buf_init(&re, CCC_EGRESS_MAX_ANSWER_SIZE);
    if (ccc_egress_answer_write(&a, &re) != CCC_OK || re.size != size ||
        memcmp(re.data, data, size) != 0)
        abort();
    for (size_t i = 0; i < size; i++)
        if (data[i] < 0x20 || data[i] > 0x7e)
            abort();
    if (a.count > p->max_count || a.box_count > p->max_boxes || a.has_boxes != p->allow_boxes)
        abort();
    ccc_buf_wipe(&re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccc_egress_policy p = ccc_egress_policy_default();
    one(data, size, &p);
    p.allow_boxes = true;
    p.max_boxes = 4;
    p.max_answer_size = CCC_EGRESS_MAX_ANSWER_SIZE;
    one(data, size, &p);
    return 0;
}
