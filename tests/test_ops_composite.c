/* Reference interpreter: softmax, layer_norm and attention against their
 * formulas computed here (max shift, two-pass variance, key masks, fully
 * masked rows, thread-count identity). */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <float.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

HG_LABELS(fast)

HG_TEST(softmax_rows_and_shift) {
    hg_test_ctx c = hg_test_ctx_new();
    /* row 0 small, row 1 huge (would overflow exp without the max shift) */
    const double x[6] = {1, 2, 3, 1000, 1001, 1002};
    const hg_tensor *t = hg_test_run1(&c, hg_softmax(c.g, hg_constant(c.g, HG_F64, HG_S2(2, 3), x)));
    HG_CHECK(t);
    double z = 1 + exp(1) + exp(2); /* both rows: e^0, e^1, e^2 over z */
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++) HG_CHECK_NEAR(hg_tensor_get(t, r * 3 + j), exp(j) / z, 1e-15);
    const float xf[4] = {0, 0, 0, -INFINITY};
    t = hg_test_run1(&c, hg_softmax(c.g, hg_test_vec32(&c, 4, xf)));
    HG_CHECK(t);
    for (int j = 0; j < 3; j++) HG_CHECK_NEAR(hg_tensor_get(t, j), 1.0 / 3, 1e-7);
    HG_CHECK(hg_tensor_get(t, 3) == 0);
    /* an all -inf row is NaN (as numpy), documented in ref_composite.c */
    const double xi[2] = {-INFINITY, -INFINITY};
    t = hg_test_run1(&c, hg_softmax(c.g, hg_test_vec64(&c, 2, xi)));
    HG_CHECK(t && isnan(hg_tensor_get(t, 0)));
    hg_test_ctx_free(&c);
}

HG_TEST(layer_norm_formula_f32_f64) {
    hg_test_ctx c = hg_test_ctx_new();
    /* rows [1,2,3,4]: mean 2.5, var 1.25; [1e4 + 1, 1e4 + 3]: mean 1e4 + 2, var 1 */
    const double x[4] = {1, 2, 3, 4};
    const hg_tensor *t = hg_test_run1(&c, hg_layer_norm(c.g, hg_test_vec64(&c, 4, x), 1e-5));
    HG_CHECK(t);
    for (int j = 0; j < 4; j++)
        HG_CHECK_NEAR(hg_tensor_get(t, j), (x[j] - 2.5) / sqrt(1.25 + 1e-5), 1e-15);
    const float y[4] = {10001, 10003, 5, 5};
    t = hg_test_run1(&c, hg_layer_norm(c.g, hg_constant(c.g, HG_F32, HG_S2(2, 2), y), 1e-6));
    HG_CHECK(t && t->dtype == HG_F32);
    /* two-pass variance: exact even with a large mean */
    HG_CHECK_NEAR(hg_tensor_get(t, 0), -1 / sqrt(1 + 1e-6), 1e-6);
    HG_CHECK_NEAR(hg_tensor_get(t, 1), 1 / sqrt(1 + 1e-6), 1e-6);
    /* constant row: 0, not NaN */
    HG_CHECK(hg_tensor_get(t, 2) == 0 && hg_tensor_get(t, 3) == 0);
    hg_test_ctx_free(&c);
}

/* attention vs the formula computed here in double: per (b, h, i),
 * logits_j = scale q_i . k_j, masked -> -DBL_MAX, softmax, sum_j p_j v_j */
static void attn_naive(int B, int H, int Nq, int Nk, int D, int Dv, const double *q,
                       const double *k, const double *v, const double *mask_bhqk,
                       double scale, double *out) {
    double *l = malloc(Nk * sizeof *l);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Nq; i++) {
                double m = -INFINITY, z = 0;
                for (int j = 0; j < Nk; j++) {
                    double s = 0;
                    for (int d = 0; d < D; d++)
                        s += q[(((b * H + h) * Nq) + i) * D + d] * k[(((b * H + h) * Nk) + j) * D + d];
                    double mk = mask_bhqk[(((b * H + h) * Nq) + i) * Nk + j];
                    l[j] = mk != 0 ? s * scale : -DBL_MAX;
                    if (l[j] > m) m = l[j];
                }
                for (int j = 0; j < Nk; j++) z += (l[j] = exp(l[j] - m));
                for (int e = 0; e < Dv; e++) {
                    double o = 0;
                    for (int j = 0; j < Nk; j++) o += l[j] / z * v[(((b * H + h) * Nk) + j) * Dv + e];
                    out[(((b * H + h) * Nq) + i) * Dv + e] = o;
                }
            }
    free(l);
}

HG_TEST(attention_vs_formula_with_key_mask) {
    hg_test_ctx c = hg_test_ctx_new();
    enum { B = 2, H = 3, Nq = 5, Nk = 7, D = 4, Dv = 6 };
    static double q[B * H * Nq * D], k[B * H * Nk * D], v[B * H * Nk * Dv];
    static double mk[B * Nk], full[B * H * Nq * Nk], want[B * H * Nq * Dv];
    for (int i = 0; i < B * H * Nq * D; i++) q[i] = sin(0.3 * i);
    for (int i = 0; i < B * H * Nk * D; i++) k[i] = cos(0.17 * i + 1);
    for (int i = 0; i < B * H * Nk * Dv; i++) v[i] = sin(0.05 * i - 2);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Nk; j++) mk[b * Nk + j] = (j + b) % 3 != 0; /* key padding */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Nq; i++)
                for (int j = 0; j < Nk; j++) full[((b * H + h) * Nq + i) * Nk + j] = mk[b * Nk + j];
    double scale = 0.5;
    attn_naive(B, H, Nq, Nk, D, Dv, q, k, v, full, scale, want);
    hg_value vq = hg_constant(c.g, HG_F64, hg_shape_make(4, (int64_t[]){B, H, Nq, D}), q);
    hg_value vk = hg_constant(c.g, HG_F64, hg_shape_make(4, (int64_t[]){B, H, Nk, D}), k);
    hg_value vv = hg_constant(c.g, HG_F64, hg_shape_make(4, (int64_t[]){B, H, Nk, Dv}), v);
    /* mask [B, 1, 1, Nk]: broadcast over heads and queries */
    hg_value vm = hg_constant(c.g, HG_F64, hg_shape_make(4, (int64_t[]){B, 1, 1, Nk}), mk);
    const hg_tensor *t = hg_test_run1(&c, hg_attention(c.g, vq, vk, vv, vm, scale));
    HG_CHECK(t && t->shape.rank == 4 && t->shape.dim[3] == Dv);
    for (int i = 0; i < B * H * Nq * Dv; i++) HG_CHECK_NEAR(hg_tensor_get(t, i), want[i], 1e-13);
    /* f32 version against the same double reference */
    static float qf[B * H * Nq * D], kf[B * H * Nk * D], vf[B * H * Nk * Dv], mf[B * Nk];
    for (int i = 0; i < B * H * Nq * D; i++) qf[i] = (float)q[i];
    for (int i = 0; i < B * H * Nk * D; i++) kf[i] = (float)k[i];
    for (int i = 0; i < B * H * Nk * Dv; i++) vf[i] = (float)v[i];
    for (int i = 0; i < B * Nk; i++) mf[i] = (float)mk[i];
    t = hg_test_run1(&c, hg_attention(c.g,
                             hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){B, H, Nq, D}), qf),
                             hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){B, H, Nk, D}), kf),
                             hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){B, H, Nk, Dv}), vf),
                             hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){B, 1, 1, Nk}), mf),
                             scale));
    HG_CHECK(t && t->dtype == HG_F32);
    for (int i = 0; i < B * H * Nq * Dv; i++) HG_CHECK_NEAR(hg_tensor_get(t, i), want[i], 2e-6);
    hg_test_ctx_free(&c);
}

HG_TEST(attention_fully_masked_row_is_mean_of_v) {
    /* Documented behaviour: a query row with every key masked has all
     * logits equal to the most negative finite value, so uniform weights:
     * the output is the mean of v over all keys (finite, not NaN). */
    hg_test_ctx c = hg_test_ctx_new();
    const float q[2 * 2] = {1, 0, 0, 1};          /* [1,1,2,2] */
    const float k[3 * 2] = {1, 0, 0, 1, 1, 1};    /* [1,1,3,2] */
    const float v[3 * 1] = {3, 6, 12};            /* [1,1,3,1] */
    const float m[2 * 3] = {0, 0, 0, 1, 0, 0};    /* [1,1,2,3]: row 0 fully masked */
    hg_value vq = hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){1, 1, 2, 2}), q);
    hg_value vk = hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){1, 1, 3, 2}), k);
    hg_value vv = hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){1, 1, 3, 1}), v);
    hg_value vm = hg_constant(c.g, HG_F32, hg_shape_make(4, (int64_t[]){1, 1, 2, 3}), m);
    const hg_tensor *t = hg_test_run1(&c, hg_attention(c.g, vq, vk, vv, vm, 1.0));
    HG_CHECK(t);
    HG_CHECK_NEAR(hg_tensor_get(t, 0), 7.0, 1e-6); /* (3 + 6 + 12) / 3 */
    HG_CHECK(hg_tensor_get(t, 1) == 3.0);          /* only key 0: exactly v[0] */
    hg_test_ctx_free(&c);
}

HG_TEST(attention_thread_count_bit_identical) {
    hg_test_ctx c = hg_test_ctx_new();
    enum { B = 2, H = 4, N = 64, D = 16 };
    static float q[B * H * N * D], m[N];
    for (int i = 0; i < B * H * N * D; i++) q[i] = (float)sin(0.01 * i);
    for (int j = 0; j < N; j++) m[j] = j % 5 != 4;
    hg_shape s = hg_shape_make(4, (int64_t[]){B, H, N, D});
    hg_value vq = hg_constant(c.g, HG_F32, s, q);
    hg_value vm = hg_constant(c.g, HG_F32, hg_shape_make(1, (int64_t[]){N}), m);
    hg_value a = hg_attention(c.g, vq, vq, vq, vm, 0.25);
    omp_set_num_threads(1);
    const hg_tensor *t = hg_test_run1(&c, a);
    HG_CHECK(t);
    static float one[B * H * N * D];
    memcpy(one, t->data, sizeof one);
    omp_set_num_threads(2);
    t = hg_test_run1(&c, a);
    HG_CHECK(t && memcmp(one, t->data, sizeof one) == 0);
    hg_test_ctx_free(&c);
}

/* ---- decomposition into primitive ops (passes/decompose.c) */

#include "passes/passes.h"

/* Constant of shape s with values lo + span * u, u from a fixed LCG. */
static hg_value lcg_const(hg_graph *g, hg_dtype t, hg_shape s, double lo, double span, uint64_t *st) {
    int64_t n = hg_shape_numel(s);
    double *d = malloc((size_t)n * sizeof *d);
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++) {
        *st = *st * 6364136223846793005ull + 1442695040888963407ull;
        d[i] = lo + span * (double)(*st >> 11) / 9007199254740992.0;
        f[i] = (float)d[i];
    }
    hg_value v = hg_constant(g, t, s, t == HG_F32 ? (void *)f : (void *)d);
    free(d);
    free(f);
    return v;
}

HG_TEST(decomposition_matches_composite_kernels) {
    for (int dt = 0; dt < 2; dt++) {
        hg_dtype t = dt ? HG_F64 : HG_F32;
        double tol = dt ? 1e-13 : 2e-6;
        hg_graph *g = hg_graph_new();
        uint64_t st = 17;
        /* softmax rows of very different magnitudes; layer norm rows with a
         * large offset (a one-pass variance would cancel) */
        hg_value x = lcg_const(g, t, hg_shape_of(2, (int64_t)3, (int64_t)6), -3, 6, &st);
        hg_value big = hg_add_s(g, x, 1000.0);
        hg_value q = lcg_const(g, t, hg_shape_of(4, (int64_t)2, (int64_t)2, (int64_t)3, (int64_t)4), -1, 2, &st);
        hg_value k = lcg_const(g, t, hg_shape_of(4, (int64_t)2, (int64_t)2, (int64_t)5, (int64_t)4), -1, 2, &st);
        hg_value v = lcg_const(g, t, hg_shape_of(4, (int64_t)2, (int64_t)2, (int64_t)5, (int64_t)3), -1, 2, &st);
        /* mask [2, 1, 3, 5]: some keys off, query row 1 of batch 1 fully masked */
        double mv[30];
        for (int i = 0; i < 30; i++) mv[i] = (i % 5 == 3 || (i >= 20 && i < 25)) ? 0 : 1;
        float mf[30];
        for (int i = 0; i < 30; i++) mf[i] = (float)mv[i];
        hg_value mask = hg_constant(g, t, hg_shape_of(4, (int64_t)2, (int64_t)1, (int64_t)3, (int64_t)5),
                                    dt ? (void *)mv : (void *)mf);
        hg_value sm = hg_softmax(g, big), ln = hg_layer_norm(g, big, 1e-6);
        hg_value at = hg_attention(g, q, k, v, mask, 0.5);
        hg_attrs a;
        memset(&a, 0, sizeof a);
        a.eps = 1e-6;
        hg_value ln_d = hg_decompose_node(g, HG_OP_layer_norm, (hg_value[]){big}, &a);
        hg_value sm_d = hg_decompose_node(g, HG_OP_softmax, (hg_value[]){big}, &a);
        a.scale = 0.5;
        hg_value at_d = hg_decompose_node(g, HG_OP_attention, (hg_value[]){q, k, v, mask}, &a);
        HG_CHECK_OK(hg_graph_status(g));
        const char *nm[6] = {"sm", "ln", "at", "sm_d", "ln_d", "at_d"};
        hg_value vals[6] = {sm, ln, at, sm_d, ln_d, at_d};
        for (int i = 0; i < 6; i++) hg_set_output(g, nm[i], vals[i]);
        HG_CHECK_OK(hg_verify(g));
        /* the whole-graph rewrite leaves no composite op and the same outputs */
        hg_graph *d = NULL;
        HG_CHECK_OK(hg_decompose(g, &d, NULL));
        HG_CHECK_OK(hg_verify(d));
        int composite = 0;
        for (int i = 0; i < d->n_nodes; i++)
            composite += (hg_op_table[d->nodes[i].op].flags & HG_OPF_COMPOSITE) != 0;
        HG_CHECK(composite == 0);
        hg_tensor_map o1, o2;
        hg_map_init(&o1);
        hg_map_init(&o2);
        HG_CHECK_OK(hg_ref_run(g, NULL, NULL, &o1, NULL));
        HG_CHECK_OK(hg_ref_run(d, NULL, NULL, &o2, NULL));
        for (int p = 0; p < 3; p++) {
            const hg_tensor *ref = hg_map_get(&o1, nm[p]), *dec = hg_map_get(&o1, nm[p + 3]);
            const hg_tensor *whole = hg_map_get(&o2, nm[p]);
            HG_CHECK(ref && dec && whole);
            if (!ref || !dec || !whole) continue;
            double maxd = 0;
            for (int64_t i = 0; i < hg_shape_numel(ref->shape); i++) {
                double r = hg_tensor_get(ref, i);
                maxd = fmax(maxd, fabs(hg_tensor_get(dec, i) - r) / fmax(1.0, fabs(r)));
                maxd = fmax(maxd, fabs(hg_tensor_get(whole, i) - r) / fmax(1.0, fabs(r)));
                HG_CHECK(isfinite(r));
            }
            /* f32 layer norm of values near 1000: the primitive ops round
             * x - mean in f32 (ulp(1000) / std ~ 4e-5), the kernel accumulates
             * in double */
            double tp = (!dt && p == 1) ? 1e-4 : tol;
            if (!(maxd <= tp)) HG_FAIL("%s %s: decomposition differs by %g", hg_dtype_name(t), nm[p], maxd);
        }
        hg_map_free(&o1);
        hg_map_free(&o2);
        hg_graph_free(d);
        /* a primitive op has no decomposition */
        HG_CHECK(hg_decompose_node(g, HG_OP_exp, (hg_value[]){x}, &a) == HG_NONE);
        HG_CHECK_ERR(hg_graph_status(g), "exp is not a composite op");
        hg_graph_free(g);
    }
}
