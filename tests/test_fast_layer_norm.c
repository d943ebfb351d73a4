/* fast's layer_norm kernel (hg_fast_kernel_of(HG_OP_layer_norm),
 * codegen/layer_norm_fast.c) against the formula computed here in long
 * double: y = (x - mean) / sqrt(var + eps), population variance over the
 * last axis (SPEC 4). Row lengths 1, 7, 128 (the demo's d_model), 1000;
 * constant rows (variance 0: y = 0), a large offset (catastrophic
 * cancellation if the variance were E[x^2] - mean^2), NaN and inf
 * propagating to their row only; 1 and 2 threads bit-identical.
 * Tolerance: 1 ulp of f32 (the kernel computes in double and rounds once). */
#include "tests/hg_test.h"

#include <float.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/fast.h"

HG_LABELS(fast)

static double ulps(float got, long double want) {
    if (isnan(want)) return isnan(got) ? 0 : INFINITY;
    float w = (float)want;
    if (got == w) return 0;
    int e;
    frexp(fabs((double)want), &e);
    double u = fabs((double)want) < FLT_MIN ? ldexp(1.0, -149) : ldexp(1.0, e - 24);
    return fabs((double)got - (double)want) / u;
}

/* Runs the kernel on rows x C of x (threads t); returns max ulp error. */
static double run_case(int64_t rows, int64_t C, double eps, const float *x, int threads,
                       float *y_out) {
    hg_graph *g = hg_graph_new();
    hg_value in = hg_input(g, "x", HG_F32, hg_shape_of(2, rows, C));
    hg_value v = hg_layer_norm(g, in, eps);
    hg_tensor tx, ty;
    if (hg_tensor_alloc(&tx, HG_F32, hg_shape_of(2, rows, C)).code != HG_OK ||
        hg_tensor_alloc(&ty, HG_F32, hg_shape_of(2, rows, C)).code != HG_OK)
        return INFINITY;
    memcpy(tx.data, x, sizeof(float) * (size_t)(rows * C));
    const hg_tensor *ins[1] = {&tx};
    omp_set_num_threads(threads);
    hg_status st = hg_fast_kernel_of(HG_OP_layer_norm)(hg_node_at(g, v), ins, &ty);
    omp_set_num_threads(2);
    double worst = st.code == HG_OK ? 0 : INFINITY;
    const float *y = ty.data;
    for (int64_t r = 0; r < rows && st.code == HG_OK; r++) {
        const float *xr = x + r * C;
        long double m = 0, var = 0;
        for (int64_t j = 0; j < C; j++) m += xr[j];
        m /= C;
        for (int64_t j = 0; j < C; j++) var += (xr[j] - m) * (xr[j] - m);
        var /= C;
        long double inv = 1 / sqrtl(var + eps);
        for (int64_t j = 0; j < C; j++) {
            double e = ulps(y[r * C + j], (xr[j] - m) * inv);
            if (!(e <= worst)) worst = e;
        }
    }
    if (y_out) memcpy(y_out, ty.data, sizeof(float) * (size_t)(rows * C));
    hg_tensor_free(&tx);
    hg_tensor_free(&ty);
    hg_graph_free(g);
    return worst;
}

HG_TEST(layer_norm_matches_formula) {
    static const int64_t Cs[] = {1, 7, 128, 1000};
    for (int c = 0; c < 4; c++) {
        int64_t C = Cs[c], rows = 300;
        float *x = malloc(sizeof(float) * (size_t)(rows * C));
        for (int64_t i = 0; i < rows * C; i++) {
            int64_t r = i / C;
            double base = sin(0.7 * (double)i) * (1 + (double)(r % 5));
            if (r % 7 == 3) base = 2.5;                  /* constant row */
            if (r % 11 == 5) base += 1e4;                /* large offset */
            x[i] = (float)base;
        }
        double e = run_case(rows, C, 1e-5, x, 2, NULL);
        free(x);
        if (!(e <= 1)) HG_FAIL("C = %lld: %.2f ulp", (long long)C, e);
    }
}

HG_TEST(layer_norm_nan_stays_in_its_row_and_threads_agree) {
    int64_t rows = 400, C = 128;
    float *x = malloc(sizeof(float) * (size_t)(rows * C));
    float *y1 = malloc(sizeof(float) * (size_t)(rows * C)), *y2 = malloc(sizeof(float) * (size_t)(rows * C));
    for (int64_t i = 0; i < rows * C; i++) x[i] = (float)cos(0.3 * (double)i);
    x[5 * C + 3] = NAN;
    x[9 * C + 100] = INFINITY;
    double e1 = run_case(rows, C, 1e-5, x, 1, y1), e2 = run_case(rows, C, 1e-5, x, 2, y2);
    int nan_rows_ok = 1;
    for (int64_t j = 0; j < C; j++) nan_rows_ok = nan_rows_ok && isnan(y1[5 * C + j]) && isnan(y1[9 * C + j]);
    for (int64_t j = 0; j < C; j++) nan_rows_ok = nan_rows_ok && !isnan(y1[4 * C + j]) && !isnan(y1[6 * C + j]);
    int same = memcmp(y1, y2, sizeof(float) * (size_t)(rows * C)) == 0;
    free(x);
    free(y1);
    free(y2);
    HG_CHECK(e1 <= 1 && e2 <= 1);
    HG_CHECK(nan_rows_ok);
    HG_CHECK(same);
}
