/* Reference kernels of random_uniform and random_normal (ir.h op table):
 * inputs seed, step, replica (i32 scalars, reinterpreted as uint32),
 * attrs.stream; element e of the output (its flat row-major index) is
 * hg_rng_uniform / hg_rng_normal(seed, stream, step, replica, e), computed
 * in double and rounded to the node's float dtype. Every element is
 * independent, so the result does not depend on the thread count. */
#include "codegen/ref_internal.h"

#include <stdint.h>

static uint32_t scalar_u32(const hg_tensor *t) {
    return (uint32_t)((const int32_t *)t->data)[0];
}

hg_status hg_ref_random(const hg_node *n, const hg_tensor *const *in,
                        hg_tensor *out) {
    for (int i = 0; i < 3; i++)
        if (in[i]->dtype != HG_I32 || hg_shape_numel(in[i]->shape) != 1)
            return hg_error(HG_ERR_INVALID,
                            "input %d (seed, step, replica) must be an i32 scalar", i);
    if (!hg_dtype_is_float(out->dtype))
        return hg_error(HG_ERR_UNSUPPORTED, "random of %s",
                        hg_dtype_name(out->dtype));
    uint32_t seed = scalar_u32(in[0]), step = scalar_u32(in[1]),
             replica = scalar_u32(in[2]), stream = (uint32_t)n->attrs.stream;
    int64_t total = hg_shape_numel(out->shape);
    int normal = n->op == HG_OP_random_normal, f32 = out->dtype == HG_F32;
#pragma omp parallel for schedule(static) if (total > 4096)
    for (int64_t e = 0; e < total; e++) {
        double v = normal ? hg_rng_normal(seed, stream, step, replica, (uint64_t)e)
                          : hg_rng_uniform(seed, stream, step, replica, (uint64_t)e);
        if (f32) ((float *)out->data)[e] = (float)v;
        else ((double *)out->data)[e] = v;
    }
    return hg_ok();
}
