/* Fused attention (codegen/attention_fused.c, FlashAttention-2) on the fast
 * and jit backends against the double-precision reference (the same graph
 * in f64 on `ref`: codegen/ref_composite.c and ref_attention.c, which
 * materialise P), against closed forms (one key: softmax is 1; zero
 * queries: uniform weights over the kept keys; all keys padded: the
 * op's uniform softmax over masked logits), against finite differences
 * of the fused loss, 1 vs 2 threads bit for bit, and the memory plan's
 * arena growing linearly in N for attention forward + backward; the MULTI
 * kernels of fast's and jit's schedules and their profile rows.
 *
 * The graph: o = attention(q, k, v, mask), lse = attention_lse(...),
 * loss = sum(o * w), and dq, dk, dv = hg_grad(loss) (the attention_lse +
 * attention_grad nodes of passes/vjp_composite.c, one MULTI kernel). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/attention_internal.h"
#include "models/models.h"
#include "passes/passes.h"
#include "runtime/backend.h"
#include "runtime/profile.h"
#include "runtime/program.h"
#include "tests/hg_test.h"

/* Mask kinds: all ones [B,1,1,Nk]; key padding [B,1,1,Nk] (batch b pads
 * its last (b+1) Nk/5 keys, at least one key kept); per-row [B,1,Nq,Nk]
 * with ~30% zeros and every query row i % 5 == 3 fully masked; all keys
 * padded [B,1,1,Nk] (every row fully masked); query rows [B,1,Nq,1]
 * (rows i % 4 == 1 fully masked, the others keep every key); per head
 * [B,H,1,Nk] (head h pads its last (h+1) Nk/7 keys). */
enum { M_ONES, M_KEYPAD, M_ROWS, M_NONE_KEPT, M_QROWS, M_HEADS };

typedef struct {
    int B, H, Nq, Nk, D, mask;
} cfg;

static const char *OUTS[] = {"o", "lse", "dq", "dk", "dv"};
enum { N_OUTS = 5 };

static hg_shape sh4(int64_t a, int64_t b, int64_t c, int64_t d) {
    return (hg_shape){.rank = 4, .dim = {a, b, c, d}};
}

static hg_shape mask_shape(const cfg *c) {
    switch (c->mask) {
    case M_ROWS: return sh4(c->B, 1, c->Nq, c->Nk);
    case M_QROWS: return sh4(c->B, 1, c->Nq, 1);
    case M_HEADS: return sh4(c->B, c->H, 1, c->Nk);
    default: return sh4(c->B, 1, 1, c->Nk);
    }
}

/* The test graph in dtype t (see the file comment). */
static hg_graph *build(const cfg *c, hg_dtype t) {
    hg_graph *g = hg_graph_new();
    hg_value q = hg_input(g, "q", t, sh4(c->B, c->H, c->Nq, c->D));
    hg_value k = hg_input(g, "k", t, sh4(c->B, c->H, c->Nk, c->D));
    hg_value v = hg_input(g, "v", t, sh4(c->B, c->H, c->Nk, c->D));
    hg_value m = hg_input(g, "mask", t, mask_shape(c));
    hg_value w = hg_input(g, "w", t, sh4(c->B, c->H, c->Nq, c->D));
    double scale = 1.0 / sqrt((double)c->D);
    hg_value o = hg_attention(g, q, k, v, m, scale);
    hg_value loss = hg_sum_all(g, hg_mul(g, o, w));
    hg_value wrt[3] = {q, k, v}, gr[3];
    hg_set_output(g, "o", o);
    hg_set_output(g, "lse", hg_attention_lse(g, q, k, v, m, scale));
    hg_set_output(g, "loss", loss);
    if (hg_graph_status(g).code == HG_OK && hg_grad(g, loss, 3, wrt, gr).code == HG_OK) {
        hg_set_output(g, "dq", gr[0]);
        hg_set_output(g, "dk", gr[1]);
        hg_set_output(g, "dv", gr[2]);
    }
    return g;
}

static double urand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static float mask_at(const cfg *c, int64_t b, int64_t h, int64_t i, int64_t j, uint64_t *rng) {
    switch (c->mask) {
    case M_QROWS: return i % 4 != 1;
    case M_HEADS: {
        int64_t pad = (h + 1) * c->Nk / 7;
        return j < c->Nk - pad || j == 0;
    }
    case M_ONES: return 1;
    case M_KEYPAD: {
        int64_t pad = (b + 1) * c->Nk / 5;
        if (pad >= c->Nk) pad = c->Nk - 1;
        return j < c->Nk - pad;
    }
    case M_ROWS: return i % 5 == 3 ? 0.0f : urand(rng) >= 0.3;
    default: return 0;
    }
}

/* Inputs in dtype t with values exactly representable in f32 (so the f32
 * and f64 graphs see the same numbers); q zero when zero_q. */
static void make_inputs(const cfg *c, hg_dtype t, int zero_q, hg_tensor_map *in) {
    uint64_t rng = 0x243f6a8885a308d3ull ^ (uint64_t)(c->Nq * 131 + c->Nk * 7 + c->D);
    const char *names[4] = {"q", "k", "v", "w"};
    hg_shape s[4] = {sh4(c->B, c->H, c->Nq, c->D), sh4(c->B, c->H, c->Nk, c->D),
                     sh4(c->B, c->H, c->Nk, c->D), sh4(c->B, c->H, c->Nq, c->D)};
    hg_map_init(in);
    for (int a = 0; a < 4; a++) {
        hg_tensor *x;
        if (hg_map_alloc(in, names[a], t, s[a], &x).code != HG_OK) return;
        for (int64_t e = 0; e < hg_shape_numel(s[a]); e++)
            hg_tensor_set(x, e, (a == 0 && zero_q) ? 0.0 : (float)(4 * urand(&rng) - 2));
    }
    hg_shape ms = mask_shape(c);
    hg_tensor *m;
    if (hg_map_alloc(in, "mask", t, ms, &m).code != HG_OK) return;
    int64_t heads = ms.dim[1], rows = ms.dim[2], cols = ms.dim[3];
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < cols; j++)
                    hg_tensor_set(m, ((b * heads + h) * rows + i) * cols + j,
                                  mask_at(c, b, h, i, j, &rng));
}

/* Compiles and runs the graph of c in dtype t on backend; outputs in *out. */
static hg_status run_on(const cfg *c, hg_dtype t, const char *backend, int zero_q,
                        hg_tensor_map *out) {
    hg_graph *g = build(c, t);
    hg_map_init(out);
    hg_status st = hg_graph_status(g);
    hg_program *p = NULL;
    if (st.code == HG_OK) st = hg_program_compile(g, backend, &p);
    if (st.code == HG_OK) {
        hg_tensor_map in, state;
        make_inputs(c, t, zero_q, &in);
        hg_map_init(&state);
        st = hg_program_run(p, &state, &in, out);
        hg_map_free(&in);
        hg_map_free(&state);
    }
    hg_program_free(p);
    hg_graph_free(g);
    return st;
}

/* Every output of backend (f32) within tol of the f64 reference, relative
 * to the largest magnitude of that output; -inf lse where the reference
 * has it. */
static void check_vs_ref(const cfg *c, const char *backend, double tol) {
    hg_tensor_map ref, got;
    HG_CHECK_OK(run_on(c, HG_F64, "ref", 0, &ref));
    HG_CHECK_OK(run_on(c, HG_F32, backend, 0, &got));
    for (int o = 0; o < N_OUTS; o++) {
        hg_tensor *r = hg_map_get(&ref, OUTS[o]), *x = hg_map_get(&got, OUTS[o]);
        HG_CHECK(r && x && hg_shape_numel(r->shape) == hg_shape_numel(x->shape));
        double big = 1;
        for (int64_t e = 0; e < hg_shape_numel(r->shape); e++)
            if (isfinite(hg_tensor_get(r, e)) && fabs(hg_tensor_get(r, e)) > big)
                big = fabs(hg_tensor_get(r, e));
        for (int64_t e = 0; e < hg_shape_numel(r->shape); e++) {
            double a = hg_tensor_get(x, e), b = hg_tensor_get(r, e);
            if (isinf(b) && a == b) continue;
            if (!(fabs(a - b) <= tol * big))
                HG_FAIL("%s N=%d/%d D=%d mask %d: %s[%lld] = %.9g, reference %.9g (tol %g x %g)",
                        backend, c->Nq, c->Nk, c->D, c->mask, OUTS[o], (long long)e, a, b, tol,
                        big);
        }
    }
    hg_map_free(&ref);
    hg_map_free(&got);
}

HG_TEST(fused_vs_reference_small) {
    const cfg cs[] = {
        {1, 1, 1, 1, 16, M_ONES},   {1, 2, 7, 7, 16, M_KEYPAD}, {2, 2, 7, 7, 32, M_ROWS},
        {1, 2, 63, 63, 32, M_ROWS}, {2, 1, 63, 63, 64, M_KEYPAD},
        {1, 2, 16, 63, 32, M_KEYPAD}, /* induced (PMA/MAB): few queries, many keys */
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0] && !hg_test_failed; i++)
        check_vs_ref(&cs[i], "fast", 2e-5);
}

HG_TEST(fused_vs_reference_not_tile_multiple) {
    const cfg a = {2, 1, 300, 300, 64, M_KEYPAD}, b = {1, 2, 300, 300, 16, M_ROWS},
              induced = {2, 2, 16, 300, 32, M_ROWS};
    check_vs_ref(&a, "fast", 2e-5);
    if (!hg_test_failed) check_vs_ref(&b, "fast", 2e-5);
    if (!hg_test_failed) check_vs_ref(&induced, "fast", 2e-5);
}

HG_TEST(fused_vs_reference_640) {
    const cfg a = {1, 2, 640, 640, 32, M_ROWS}, b = {1, 1, 640, 640, 64, M_ONES};
    check_vs_ref(&a, "fast", 2e-5);
    if (!hg_test_failed) check_vs_ref(&b, "fast", 2e-5);
}

/* jit: the forward is one MULTI kernel there (attention with its lse). */
HG_TEST(jit_vs_reference) {
    const cfg a = {2, 2, 63, 63, 32, M_ROWS}, b = {1, 1, 300, 300, 16, M_KEYPAD};
    check_vs_ref(&a, "jit", 2e-5);
    if (!hg_test_failed) check_vs_ref(&b, "jit", 2e-5);
}

/* The two paths of codegen/attention_fused.c: with HG_ATTENTION_PORTABLE=1
 * the oneDNN sgemm tile products, otherwise (on an AVX-512F host, head
 * dims multiples of 16 up to 64) the register-blocked tile kernels of
 * codegen/attention_tile.c. Sizes straddle the vector path's tiles (48
 * queries, 128 keys, 16-key vectors, 6/8/12-row micro-kernel blocks). */
static const cfg PATH_CASES[] = {
    {1, 1, 1, 1, 16, M_ONES},       {1, 2, 49, 129, 16, M_ROWS},   {2, 2, 97, 257, 64, M_KEYPAD},
    {1, 2, 47, 17, 32, M_QROWS},    {2, 3, 130, 95, 48, M_HEADS},  {1, 1, 300, 300, 32, M_ROWS},
    {2, 1, 16, 300, 64, M_KEYPAD}, /* induced: few queries, many keys */
    {1, 2, 31, 64, 16, M_NONE_KEPT},
};

static void set_portable(int on) {
    if (on) setenv("HG_ATTENTION_PORTABLE", "1", 1);
    else unsetenv("HG_ATTENTION_PORTABLE");
}

HG_TEST(portable_path_vs_reference) {
    set_portable(1);
    for (size_t i = 0; i < sizeof PATH_CASES / sizeof PATH_CASES[0] && !hg_test_failed; i++)
        check_vs_ref(&PATH_CASES[i], "fast", 2e-5);
    set_portable(0);
}

HG_TEST(vector_path_vs_reference) {
    for (size_t i = 0; i < sizeof PATH_CASES / sizeof PATH_CASES[0] && !hg_test_failed; i++)
        check_vs_ref(&PATH_CASES[i], "fast", 2e-5);
}

/* Vector path against the portable path, every output within 2e-5 of the
 * output's largest magnitude (both are f32 FlashAttention-2 with the same
 * exp polynomial; only the summation order differs), -inf lse alike. */
HG_TEST(vector_path_vs_portable) {
    hg_attn probe = {.D = 16, .Dv = 16};
    printf("vector tile path on this host: %s\n", hg_attn_tile_ok(&probe) ? "yes" : "no (both runs portable)");
    for (size_t i = 0; i < sizeof PATH_CASES / sizeof PATH_CASES[0] && !hg_test_failed; i++) {
        const cfg *c = &PATH_CASES[i];
        hg_tensor_map port, vec;
        set_portable(1);
        HG_CHECK_OK(run_on(c, HG_F32, "fast", 0, &port));
        set_portable(0);
        HG_CHECK_OK(run_on(c, HG_F32, "fast", 0, &vec));
        for (int o = 0; o < N_OUTS; o++) {
            hg_tensor *p = hg_map_get(&port, OUTS[o]), *x = hg_map_get(&vec, OUTS[o]);
            HG_CHECK(p && x && hg_shape_numel(p->shape) == hg_shape_numel(x->shape));
            const float *pd = p->data, *xd = x->data;
            double big = 1;
            for (int64_t e = 0; e < hg_shape_numel(p->shape); e++)
                if (isfinite(pd[e]) && fabs(pd[e]) > big) big = fabs(pd[e]);
            for (int64_t e = 0; e < hg_shape_numel(p->shape); e++) {
                if (isinf(pd[e]) && xd[e] == pd[e]) continue;
                if (!(fabs((double)xd[e] - pd[e]) <= 2e-5 * big))
                    HG_FAIL("N=%d/%d D=%d mask %d: %s[%lld] vector %.9g, portable %.9g", c->Nq,
                            c->Nk, c->D, c->mask, OUTS[o], (long long)e, xd[e], pd[e]);
            }
        }
        hg_map_free(&port);
        hg_map_free(&vec);
    }
}

HG_TEST(slow_fused_vs_reference_5000) {
    const cfg a = {1, 1, 5000, 5000, 32, M_KEYPAD};
    check_vs_ref(&a, "fast", 5e-5);
}

/* ------------------------------------------------------ closed forms */

static const float *f32(const hg_tensor_map *m, const char *name) {
    hg_tensor *t = hg_map_get(m, name);
    return t ? t->data : NULL;
}

/* One key: the softmax weight is exactly 1, so o = v, lse = scale q.k,
 * dv = the sum of w over the queries, dq = dk = 0. */
HG_TEST(one_key_closed_form) {
    const cfg c = {1, 2, 7, 1, 16, M_ONES};
    hg_tensor_map in, out;
    make_inputs(&c, HG_F32, 0, &in);
    HG_CHECK_OK(run_on(&c, HG_F32, "fast", 0, &out));
    const float *q = f32(&in, "q"), *k = f32(&in, "k"), *v = f32(&in, "v"), *w = f32(&in, "w");
    const float *o = f32(&out, "o"), *lse = f32(&out, "lse"), *dq = f32(&out, "dq"),
                *dk = f32(&out, "dk"), *dv = f32(&out, "dv");
    HG_CHECK(o && lse && dq && dk && dv);
    for (int h = 0; h < c.H; h++) {
        for (int d = 0; d < c.D; d++) {
            double sw = 0;
            for (int i = 0; i < c.Nq; i++) sw += w[(h * c.Nq + i) * c.D + d];
            HG_CHECK_NEAR(dv[h * c.D + d], sw, 1e-5);
            HG_CHECK_NEAR(dk[h * c.D + d], 0, 1e-5);
        }
        for (int i = 0; i < c.Nq; i++) {
            double dot = 0;
            for (int d = 0; d < c.D; d++) {
                int e = (h * c.Nq + i) * c.D + d;
                dot += (double)q[e] * k[h * c.D + d];
                HG_CHECK_NEAR(o[e], v[h * c.D + d], 1e-6);
                HG_CHECK_NEAR(dq[e], 0, 1e-5);
            }
            HG_CHECK_NEAR(lse[h * c.Nq + i], dot / 4.0, 1e-5); /* scale 1/sqrt(16) */
        }
    }
    hg_map_free(&in);
    hg_map_free(&out);
}

/* Zero queries: every logit is 0, the weights are 1/n over the n kept keys
 * of each batch (or 1/Nk over all keys when none is kept, the op's
 * uniform softmax of equal masked logits): o = mean of the weighted v,
 * lse = log n (-inf when none kept), dv_j = weight_j sum_i w_i, dk = 0
 * (dk = scale dS^T q), and dq_i = scale sum_j p_j (w_i.v_j - D_i) k_j with
 * D_i = sum_j p_j w_i.v_j over kept keys (0 when none kept). */
static void check_uniform(const cfg *c) {
    hg_tensor_map in, out;
    make_inputs(c, HG_F32, 1, &in);
    HG_CHECK_OK(run_on(c, HG_F32, "fast", 1, &out));
    const float *k = f32(&in, "k"), *v = f32(&in, "v"), *w = f32(&in, "w"), *mk = f32(&in, "mask");
    const float *o = f32(&out, "o"), *lse = f32(&out, "lse"), *dq = f32(&out, "dq"),
                *dk = f32(&out, "dk"), *dv = f32(&out, "dv");
    HG_CHECK(o && lse && dq && dk && dv);
    int D = c->D, Nq = c->Nq, Nk = c->Nk;
    double scale = 1.0 / sqrt((double)D);
    double *p = malloc(sizeof(double) * (size_t)Nk);
    for (int b = 0; b < c->B; b++) {
        int n = 0;
        for (int j = 0; j < Nk; j++) n += mk[b * Nk + j] != 0;
        for (int j = 0; j < Nk; j++) p[j] = n ? (mk[b * Nk + j] != 0) / (double)n : 1.0 / Nk;
        for (int h = 0; h < c->H; h++) {
            int64_t bh = (int64_t)b * c->H + h;
            const float *kb = k + bh * Nk * D, *vb = v + bh * Nk * D, *wb = w + bh * Nq * D;
            for (int i = 0; i < Nq; i++) {
                double want = n ? log((double)n) : -INFINITY, got = lse[bh * Nq + i];
                if (!(got == want || fabs(got - want) <= 1e-5))
                    HG_FAIL("lse[%d,%d,%d] = %g, want %g", b, h, i, got, want);
                double dsum = 0, wv[512];
                for (int j = 0; j < Nk; j++) {
                    wv[j] = 0;
                    for (int d = 0; d < D; d++) wv[j] += (double)wb[i * D + d] * vb[j * D + d];
                    dsum += p[j] * wv[j];
                }
                for (int d = 0; d < D; d++) {
                    double om = 0, g = 0;
                    for (int j = 0; j < Nk; j++) {
                        om += p[j] * vb[j * D + d];
                        if (n && mk[b * Nk + j] != 0) g += p[j] * (wv[j] - dsum) * kb[j * D + d];
                    }
                    HG_CHECK_NEAR(o[(bh * Nq + i) * D + d], om, 1e-5);
                    HG_CHECK_NEAR(dq[(bh * Nq + i) * D + d], scale * g, 1e-4);
                }
            }
            for (int j = 0; j < Nk; j++)
                for (int d = 0; d < D; d++) {
                    double sw = 0;
                    for (int i = 0; i < Nq; i++) sw += wb[i * D + d];
                    HG_CHECK_NEAR(dv[(bh * Nk + j) * D + d], p[j] * sw, 1e-4);
                    HG_CHECK_NEAR(dk[(bh * Nk + j) * D + d], 0, 1e-6);
                }
        }
    }
    free(p);
    hg_map_free(&in);
    hg_map_free(&out);
}

HG_TEST(uniform_rows_closed_form) {
    const cfg pad = {3, 2, 63, 130, 32, M_KEYPAD}, none = {2, 2, 7, 300, 16, M_NONE_KEPT};
    check_uniform(&pad);
    if (!hg_test_failed) check_uniform(&none);
}

/* --------------------------------------------- finite differences (f32) */

/* Central differences of the fused loss sum(o w) in every element of q, k
 * and v at eps = 1/64 against the fused dq, dk, dv. The loss is O(1), so
 * f32 rounding adds ~1e-5 to each quotient; the truncation error is
 * O(eps^2). */
HG_TEST(finite_differences_fused) {
    const cfg c = {1, 1, 7, 9, 4, M_ROWS};
    int saved = omp_get_max_threads();
    omp_set_num_threads(1); /* 200 tiny runs: no thread wake-ups */
    hg_graph *g = build(&c, HG_F32);
    hg_program *p = NULL;
    HG_CHECK_OK(hg_program_compile(g, "fast", &p));
    hg_tensor_map in, st, out;
    make_inputs(&c, HG_F32, 0, &in);
    hg_map_init(&st);
    hg_map_init(&out);
    HG_CHECK_OK(hg_program_run(p, &st, &in, &out));
    const char *xs[3] = {"q", "k", "v"}, *gs[3] = {"dq", "dk", "dv"};
    const float eps = 1.0f / 64;
    for (int a = 0; a < 3 && !hg_test_failed; a++) {
        float *x = hg_map_get(&in, xs[a])->data;
        const float *gr = f32(&out, gs[a]);
        for (int64_t e = 0; e < hg_shape_numel(hg_map_get(&in, xs[a])->shape); e++) {
            float x0 = x[e];
            double l[2];
            for (int s = 0; s < 2; s++) {
                hg_tensor_map o2;
                hg_map_init(&o2);
                x[e] = x0 + (s ? -eps : eps);
                HG_CHECK_OK(hg_program_run(p, &st, &in, &o2));
                l[s] = hg_tensor_get(hg_map_get(&o2, "loss"), 0);
                hg_map_free(&o2);
            }
            x[e] = x0;
            double fd = (l[0] - l[1]) / (2.0 * eps);
            if (!(fabs(fd - gr[e]) <= 2e-3 * (1 + fabs(fd))))
                HG_FAIL("%s[%lld]: fused %.7g, finite difference %.7g", gs[a], (long long)e,
                        gr[e], fd);
        }
    }
    hg_map_free(&in);
    hg_map_free(&st);
    hg_map_free(&out);
    hg_program_free(p);
    hg_graph_free(g);
    omp_set_num_threads(saved);
}

/* ----------------------------------------------------------- threads */

HG_TEST(threads_bit_identical) {
    const cfg c = {2, 2, 300, 300, 32, M_ROWS};
    int saved = omp_get_max_threads();
    hg_tensor_map o1, o2;
    omp_set_num_threads(1);
    HG_CHECK_OK(run_on(&c, HG_F32, "fast", 0, &o1));
    omp_set_num_threads(2);
    HG_CHECK_OK(run_on(&c, HG_F32, "fast", 0, &o2));
    omp_set_num_threads(saved);
    for (int o = 0; o < N_OUTS; o++) {
        hg_tensor *a = hg_map_get(&o1, OUTS[o]), *b = hg_map_get(&o2, OUTS[o]);
        HG_CHECK(a && b);
        size_t bytes = (size_t)hg_shape_numel(a->shape) * sizeof(float);
        if (memcmp(a->data, b->data, bytes))
            HG_FAIL("%s differs between 1 and 2 threads", OUTS[o]);
    }
    hg_map_free(&o1);
    hg_map_free(&o2);
}

/* ------------------------------------------------------------ memory */

/* Arena bytes of the memory plan of the graph of c (decomposed first when
 * decompose: the matmul-softmax-matmul form), over fast's schedule (nodes
 * with the attention kernels grouped). */
static int64_t arena_of(const cfg *c, int decompose) {
    hg_graph *g = build(c, HG_F32), *d = NULL;
    int64_t bytes = -1;
    if (decompose && hg_decompose(g, &d, NULL).code == HG_OK) {
        hg_graph_free(g);
        g = d;
    }
    hg_schedule s;
    hg_mem_plan plan;
    if (hg_graph_status(g).code == HG_OK && hg_schedule_nodes(g, &s).code == HG_OK) {
        if (hg_attention_group(g, 1, &s).code == HG_OK) {
            if (hg_memplan_schedule(g, &s, &plan).code == HG_OK) {
                bytes = plan.arena_bytes;
                hg_memplan_free(&plan);
            }
            hg_schedule_free(&s);
        }
    }
    hg_graph_free(g);
    return bytes;
}

/* Attention forward + backward at N = 1000, 2000, 4000: the fused graph's
 * arena grows linearly (x2 per doubling, up to alignment); the decomposed
 * form's quadratically (the check can fail). */
HG_TEST(arena_linear_in_n) {
    int64_t f[3], dec[3];
    for (int i = 0; i < 3; i++) {
        int n = 1000 << i;
        cfg c = {1, 4, n, n, 32, M_KEYPAD};
        f[i] = arena_of(&c, 0);
        dec[i] = arena_of(&c, 1);
        HG_CHECK(f[i] > 0 && dec[i] > 0);
    }
    /* linear: a + b N with a, b >= 0 gives ratio <= 2 per doubling */
    HG_CHECK((double)f[1] <= 2.02 * (double)f[0]);
    HG_CHECK((double)f[2] <= 2.02 * (double)f[1]);
    HG_CHECK((double)f[2] >= 3.5 * (double)f[0]); /* and it does grow */
    /* an N x N matrix per head in f32 */
    HG_CHECK(dec[2] >= (int64_t)4 * 4000 * 4000 * 4);
    HG_CHECK((double)dec[2] >= 12.0 * (double)dec[0]);
    fprintf(stderr, "arena bytes fused %lld %lld %lld, decomposed %lld %lld %lld\n",
            (long long)f[0], (long long)f[1], (long long)f[2], (long long)dec[0],
            (long long)dec[1], (long long)dec[2]);
}

/* ------------------------------------- MULTI kernels and the profiler */

/* Kernels of schedule s that are MULTI with anchor op `op` and n members. */
static int count_multi(const hg_graph *g, const hg_schedule *s, hg_op op, int n) {
    int c = 0;
    for (int k = 0; k < s->n_kernels; k++) {
        const hg_kernel *K = &s->kernels[k];
        c += K->kind == HG_KERNEL_MULTI && g->nodes[K->anchor].op == op && K->n_members == n;
    }
    return c;
}

/* The jit program of the test graph: one MULTI kernel for dq, dk, dv and
 * one for the attention with its lse; the profiler shows each as one row
 * (one call per run) listing its members. */
HG_TEST(multi_kernels_profiled) {
    const cfg c = {1, 2, 63, 63, 16, M_KEYPAD};
    hg_graph *g = build(&c, HG_F32);
    hg_program *p = NULL;
    HG_CHECK_OK(hg_program_compile(g, "jit", &p));
    const hg_graph *pg = hg_program_graph(p);
    const hg_schedule *s = hg_program_schedule(p);
    HG_CHECK(count_multi(pg, s, HG_OP_attention_grad, 3) == 1);
    HG_CHECK(count_multi(pg, s, HG_OP_attention, 2) == 1);
    hg_profile pr;
    HG_CHECK_OK(hg_profile_init_schedule(&pr, pg, s, 0));
    hg_exec_hooks h = hg_profile_hooks(&pr);
    hg_program_set_hooks(p, &h);
    hg_tensor_map in, st, out;
    make_inputs(&c, HG_F32, 0, &in);
    hg_map_init(&st);
    for (int it = 0; it < 2; it++) {
        hg_map_init(&out);
        HG_CHECK_OK(hg_program_run(p, &st, &in, &out));
        hg_map_free(&out);
    }
    int found = 0;
    for (int k = 0; k < pr.n_kernels; k++) {
        const hg_profile_kernel *K = &pr.kernels[k];
        if (!strcmp(K->name, "multi:attention_grad")) {
            HG_CHECK(K->n_members == 3 && K->calls == 2);
            for (int i = 0; i < 3; i++) HG_CHECK(pg->nodes[K->members[i]].op == HG_OP_attention_grad);
            found |= 1;
        } else if (!strcmp(K->name, "multi:attention_lse")) {
            HG_CHECK(K->n_members == 2 && K->calls == 2);
            HG_CHECK(pg->nodes[K->members[0]].op == HG_OP_attention &&
                     pg->nodes[K->members[1]].op == HG_OP_attention_lse);
            found |= 2;
        }
    }
    HG_CHECK(found == 3);
    hg_profile_row *rows = NULL;
    int n = 0;
    HG_CHECK_OK(hg_profile_rows(&pr, 0, &rows, &n));
    int multi_rows = 0;
    for (int r = 0; r < n; r++) multi_rows += !strncmp(pr.kernels[rows[r].kernel].name, "multi:", 6);
    HG_CHECK(multi_rows == 2);
    free(rows);
    hg_profile_free(&pr);
    hg_map_free(&in);
    hg_map_free(&st);
    hg_program_free(p);
    hg_graph_free(g);
}

/* The demo transformer's training graph on fast and jit: every attention
 * gets one MULTI backward kernel (dq, dk, dv), and on jit one MULTI
 * forward kernel (o with the lse rows the backward reads). */
HG_TEST(demo_transformer_train_groups_attention) {
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/demo-transformer.yaml", hg_test_srcdir());
    hg_config cf;
    HG_CHECK_OK(hg_config_load(path, &cf));
    hg_model_opts o;
    hg_model_opts_default(&o, &cf);
    hg_model m;
    HG_CHECK_OK(hg_model_build(&cf, "train", 2, HG_F32, &o, &m));
    int n_att = 0;
    for (int v = 0; v < m.g->n_nodes; v++) n_att += m.g->nodes[v].op == HG_OP_attention;
    HG_CHECK(n_att >= 2);
    const char *names[2] = {"fast", "jit"};
    for (int b = 0; b < 2; b++) {
        hg_schedule s;
        HG_CHECK_OK(hg_backend_find(names[b])->schedule(m.g, &s));
        HG_CHECK(count_multi(m.g, &s, HG_OP_attention_grad, 3) == n_att);
        HG_CHECK(count_multi(m.g, &s, HG_OP_attention, 2) == (b ? n_att : 0));
        hg_schedule_free(&s);
    }
    hg_model_free(&m);
}
