/* fast's f32 layer_norm kernel (codegen/fast_internal.h): the reference's
 * formula (codegen/ref_composite.c, SPEC 4: y = (x - mean) / sqrt(var +
 * eps), population variance over the last axis, mean and variance in
 * double) with the row sums vectorised: each sum is a reduction of double
 * partial sums (omp simd), so it differs from the reference's ascending
 * sum only in the order of double additions (about 1e-16 relative before
 * the one rounding to f32: almost always bit-identical, else 1 ulp). Rows
 * split across OpenMP threads; a row is never split, so the result is the
 * same for every thread count. Built for AVX-512, AVX2 and baseline
 * (target_clones). f64 runs the reference kernel. */
#include "codegen/fast_internal.h"
#include "codegen/ref_internal.h"

#include <math.h>

#define ROW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

/* y[0..C) = layer_norm(x[0..C)) with eps. */
ROW_CLONES static void ln_row(const float *restrict x, float *restrict y, int64_t C, double eps) {
    double s = 0, v = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < C; j++) s += (double)x[j];
    double mean = s / (double)C;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < C; j++) {
        double d = (double)x[j] - mean;
        v += d * d;
    }
    double inv = 1.0 / sqrt(v / (double)C + eps);
#pragma omp simd
    for (int64_t j = 0; j < C; j++) y[j] = (float)(((double)x[j] - mean) * inv);
}

hg_status hg_fast_layer_norm_node(const hg_node *n, const hg_tensor *const *in, hg_tensor *out) {
    const hg_tensor *x = in[0];
    if (x->dtype != HG_F32) return hg_ref_kernel_of(HG_OP_layer_norm)(n, in, out);
    int64_t C = x->shape.rank ? x->shape.dim[x->shape.rank - 1] : 1;
    int64_t total = hg_shape_numel(x->shape);
    if (C == 0 || total == 0) return hg_ok();
    int64_t rows = total / C;
    const float *xs = x->data;
    float *ys = out->data;
    double eps = n->attrs.eps;
#pragma omp parallel for schedule(static) if (total > 32768)
    for (int64_t r = 0; r < rows; r++) ln_row(xs + r * C, ys + r * C, C, eps);
    return hg_ok();
}
