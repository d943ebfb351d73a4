/* MATMUL kernels (passes/schedule.h): a matmul and its epilogue chain (bias
 * add, residual add, scale, gelu_tanh) run by fast as one oneDNN primitive
 * with post-ops (codegen/fast_dnnl.c), or, where oneDNN refuses a post-op,
 * the matmul and then each epilogue member in place in the output's block
 * (codegen/fast_run.c fast_matmul_kernel).
 *
 * Expected values are computed here in double with plain loops (the matmul
 * sum and gelu_tanh = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 * SPEC / ir/ir.h), never by the code under test. Tolerance: oneDNN sums in
 * f32 in its own order and evaluates tanh with its own approximation, so
 * |got - want| <= 2e-5 max(1, |want|) for K <= 40 and inputs of size ~1.
 * The tests also check which kernels form (jit's schedule) and that the
 * post-op path is the one that ran (hg_jit_stats n_post_ops). */
#include "tests/hg_test.h"

#include <stdlib.h>
#include <string.h>

#include "codegen/fast.h"
#include "codegen/jit/jit.h"
#include "passes/passes.h"

HG_LABELS(fast)

#define B_ 3
#define M_ 50
#define K_ 37
#define N_ 70
#define TOL 2e-5

static double gelu(double x) {
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* Deterministic inputs of size ~1: value i of input `salt`. */
static double in_val(int salt, int64_t i) {
    return sin(0.37 * (double)i + 1.3 * salt) * (1 + 0.25 * salt);
}

static hg_status feed(const hg_graph *g, hg_tensor_map *m) {
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *n = &g->nodes[v];
        if (n->op != HG_OP_input) continue;
        hg_tensor *t;
        HG_TRY(hg_map_alloc(m, n->attrs.name, n->dtype, n->shape, &t));
        for (int64_t i = 0; i < hg_shape_numel(n->shape); i++) hg_tensor_set(t, i, in_val(v, i));
    }
    return hg_ok();
}

/* x [B,M,K] @ W [K,N] (or W [B,N,K] transposed when wt) in double. */
static void ref_matmul(const hg_tensor *x, const hg_tensor *w, int wt, double *y) {
    for (int b = 0; b < B_; b++)
        for (int m = 0; m < M_; m++)
            for (int n = 0; n < N_; n++) {
                double s = 0;
                for (int k = 0; k < K_; k++) {
                    int64_t wi = wt ? ((int64_t)b * N_ + n) * K_ + k : (int64_t)k * N_ + n;
                    s += hg_tensor_get(x, ((int64_t)b * M_ + m) * K_ + k) * hg_tensor_get(w, wi);
                }
                y[((int64_t)b * M_ + m) * N_ + n] = s;
            }
}

/* Max of |got - want| / max(1, |want|) over the output. */
static double max_rel(const hg_tensor *got, const double *want) {
    double e = 0;
    for (int64_t i = 0; i < hg_shape_numel(got->shape); i++) {
        double d = fabs(hg_tensor_get(got, i) - want[i]) / fmax(1, fabs(want[i]));
        if (!(d <= e)) e = d;
    }
    return e;
}

/* Compiles g on the jit backend, runs it, returns outputs and stats. */
static hg_status run_jit(const hg_graph *g, hg_tensor_map *in, hg_tensor_map *out,
                         hg_schedule *s, hg_jit_stats *stats) {
    HG_TRY(hg_jit_schedule(g, s));
    HG_TRY(hg_schedule_check(g, s));
    hg_jit_backend *b;
    HG_TRY(hg_jit_backend_compile(g, s, &b));
    *stats = *hg_jit_backend_stats(b);
    hg_tensor_map state;
    hg_map_init(&state);
    hg_status st = hg_jit_backend_run(b, &state, in, out, NULL);
    hg_map_free(&state);
    hg_jit_backend_free(b);
    return st;
}

/* One jit case: inputs fed, outputs, schedule and compile stats. */
typedef struct {
    hg_tensor_map in, out;
    hg_schedule s;
    hg_jit_stats st;
} jit_case;

static hg_status jc_run(jit_case *c, const hg_graph *g) {
    memset(c, 0, sizeof *c);
    hg_map_init(&c->in);
    hg_map_init(&c->out);
    HG_TRY(hg_graph_status(g));
    HG_TRY(feed(g, &c->in));
    return run_jit(g, &c->in, &c->out, &c->s, &c->st);
}

static void jc_free(jit_case *c, hg_graph *g) {
    hg_schedule_free(&c->s);
    hg_map_free(&c->in);
    hg_map_free(&c->out);
    hg_graph_free(g);
}

/* The kernel computing v in s. */
static const hg_kernel *kernel_of(const hg_schedule *s, hg_value v) {
    return s->kernel_of[v] >= 0 ? &s->kernels[s->kernel_of[v]] : NULL;
}

typedef struct {
    hg_graph *g;
    hg_value x, w, mm;
} mm_graph;

static void mm_graph_make(mm_graph *G, int wt) {
    G->g = hg_graph_new();
    G->x = hg_input(G->g, "x", HG_F32, hg_shape_of(3, (int64_t)B_, (int64_t)M_, (int64_t)K_));
    G->w = wt ? hg_input(G->g, "w", HG_F32, hg_shape_of(3, (int64_t)B_, (int64_t)N_, (int64_t)K_))
              : hg_input(G->g, "w", HG_F32, hg_shape_of(2, (int64_t)K_, (int64_t)N_));
    G->mm = hg_matmul(G->g, G->x, G->w, 0, wt);
}

/* gelu(x W + b): the score network's MLP; one MATMUL kernel of three
 * members, both epilogue steps as post-ops. */
HG_TEST(bias_gelu_is_one_primitive) {
    mm_graph G;
    mm_graph_make(&G, 0);
    hg_value bias = hg_input(G.g, "b", HG_F32, hg_shape_of(1, (int64_t)N_));
    hg_value h = hg_add(G.g, G.mm, bias), y = hg_gelu(G.g, h);
    hg_set_output(G.g, "y", y);
    jit_case c;
    HG_CHECK_OK(jc_run(&c, G.g));
    const hg_kernel *k = kernel_of(&c.s, y);
    HG_CHECK(k && k->kind == HG_KERNEL_MATMUL && k->n_members == 3 && k->members[0] == G.mm);
    HG_CHECK(c.st.n_post_ops == 2 && c.st.n_post_ref == 0);
    double *want = malloc(sizeof(double) * B_ * M_ * N_);
    ref_matmul(hg_map_get(&c.in, "x"), hg_map_get(&c.in, "w"), 0, want);
    const hg_tensor *tb = hg_map_get(&c.in, "b");
    for (int64_t i = 0; i < (int64_t)B_ * M_ * N_; i++)
        want[i] = gelu(want[i] + hg_tensor_get(tb, i % N_));
    double e = max_rel(hg_map_get(&c.out, "y"), want);
    free(want);
    jc_free(&c, G.g);
    HG_CHECK(e <= TOL);
}

/* ((x W + b) + r) * c with a full-shape residual r and a rank-0 scale c:
 * four members, three binary post-ops. */
HG_TEST(bias_residual_scale_post_ops) {
    mm_graph G;
    mm_graph_make(&G, 0);
    hg_value bias = hg_input(G.g, "b", HG_F32, hg_shape_of(2, (int64_t)1, (int64_t)N_));
    hg_value r = hg_input(G.g, "r", HG_F32, hg_shape_of(3, (int64_t)B_, (int64_t)M_, (int64_t)N_));
    hg_value scale = hg_input(G.g, "c", HG_F32, hg_shape_scalar());
    hg_value y = hg_mul(G.g, scale, hg_add(G.g, r, hg_add(G.g, G.mm, bias)));
    hg_set_output(G.g, "y", y);
    jit_case c;
    HG_CHECK_OK(jc_run(&c, G.g));
    const hg_kernel *k = kernel_of(&c.s, y);
    HG_CHECK(k && k->kind == HG_KERNEL_MATMUL && k->n_members == 4);
    HG_CHECK(c.st.n_post_ops == 3 && c.st.n_post_ref == 0);
    double *want = malloc(sizeof(double) * B_ * M_ * N_);
    ref_matmul(hg_map_get(&c.in, "x"), hg_map_get(&c.in, "w"), 0, want);
    const hg_tensor *tb = hg_map_get(&c.in, "b"), *tr = hg_map_get(&c.in, "r");
    double cv = hg_tensor_get(hg_map_get(&c.in, "c"), 0);
    for (int64_t i = 0; i < (int64_t)B_ * M_ * N_; i++)
        want[i] = cv * (hg_tensor_get(tr, i) + (want[i] + hg_tensor_get(tb, i % N_)));
    double e = max_rel(hg_map_get(&c.out, "y"), want);
    free(want);
    jc_free(&c, G.g);
    HG_CHECK(e <= TOL);
}

/* A batched, transposed B (x [B,M,K] @ w[B,N,K]^T): the descriptors are
 * not collapsed; the bias is still a post-op (or, if oneDNN refuses it,
 * runs after the matmul): the numbers are right either way. */
HG_TEST(batched_transposed_with_bias) {
    mm_graph G;
    mm_graph_make(&G, 1);
    hg_value bias = hg_input(G.g, "b", HG_F32, hg_shape_of(1, (int64_t)N_));
    hg_value y = hg_gelu(G.g, hg_add(G.g, bias, G.mm));
    hg_set_output(G.g, "y", y);
    jit_case c;
    HG_CHECK_OK(jc_run(&c, G.g));
    const hg_kernel *k = kernel_of(&c.s, y);
    HG_CHECK(k && k->kind == HG_KERNEL_MATMUL && k->n_members == 3);
    HG_CHECK(c.st.n_post_ops + c.st.n_post_ref == 2);
    double *want = malloc(sizeof(double) * B_ * M_ * N_);
    ref_matmul(hg_map_get(&c.in, "x"), hg_map_get(&c.in, "w"), 1, want);
    const hg_tensor *tb = hg_map_get(&c.in, "b");
    for (int64_t i = 0; i < (int64_t)B_ * M_ * N_; i++)
        want[i] = gelu(hg_tensor_get(tb, i % N_) + want[i]);
    double e = max_rel(hg_map_get(&c.out, "y"), want);
    free(want);
    jc_free(&c, G.g);
    HG_CHECK(e <= TOL);
}

/* Groups that must not form on jit: a pre-activation that is itself an
 * output stops the chain before the gelu (the backward pass reads it); an
 * operand broadcast over a middle dim ([B,1,N]) is no post-op in the
 * collapsed layout, so the add is not an epilogue member. */
HG_TEST(chains_that_stop) {
    mm_graph G;
    mm_graph_make(&G, 0);
    hg_value bias = hg_input(G.g, "b", HG_F32, hg_shape_of(1, (int64_t)N_));
    hg_value h = hg_add(G.g, G.mm, bias), y = hg_gelu(G.g, h);
    hg_value pb = hg_input(G.g, "pb", HG_F32, hg_shape_of(3, (int64_t)B_, (int64_t)1, (int64_t)N_));
    hg_value mm2 = hg_matmul(G.g, G.x, G.w, 0, 0);
    hg_value z = hg_add(G.g, mm2, pb);
    hg_set_output(G.g, "h", h);
    hg_set_output(G.g, "y", y);
    hg_set_output(G.g, "z", z);
    jit_case c;
    HG_CHECK_OK(jc_run(&c, G.g));
    const hg_kernel *kh = kernel_of(&c.s, h), *ky = kernel_of(&c.s, y), *kz = kernel_of(&c.s, z);
    HG_CHECK(kh && kh->kind == HG_KERNEL_MATMUL && kh->n_members == 2);
    HG_CHECK(ky && ky != kh && ky->kind == HG_KERNEL_LOOP);
    HG_CHECK(kz && kz->kind != HG_KERNEL_MATMUL && kernel_of(&c.s, mm2)->kind == HG_KERNEL_OP);
    double *mm = malloc(sizeof(double) * B_ * M_ * N_);
    double *wh = malloc(sizeof(double) * B_ * M_ * N_), *wy = malloc(sizeof(double) * B_ * M_ * N_);
    double *wz = malloc(sizeof(double) * B_ * M_ * N_);
    ref_matmul(hg_map_get(&c.in, "x"), hg_map_get(&c.in, "w"), 0, mm);
    const hg_tensor *tb = hg_map_get(&c.in, "b"), *tp = hg_map_get(&c.in, "pb");
    for (int64_t i = 0; i < (int64_t)B_ * M_ * N_; i++) {
        int64_t n = i % N_, b = i / ((int64_t)M_ * N_);
        wh[i] = mm[i] + hg_tensor_get(tb, n);
        wy[i] = gelu(wh[i]);
        wz[i] = mm[i] + hg_tensor_get(tp, b * N_ + n);
    }
    double eh = max_rel(hg_map_get(&c.out, "h"), wh), ey = max_rel(hg_map_get(&c.out, "y"), wy);
    double ez = max_rel(hg_map_get(&c.out, "z"), wz);
    free(mm);
    free(wh);
    free(wy);
    free(wz);
    jc_free(&c, G.g);
    HG_CHECK(eh <= TOL && ey <= TOL && ez <= TOL);
}

/* The in-place fallback: a MATMUL kernel oneDNN cannot take as post-ops
 * (f64, made by hg_fuse with every kind on) runs the reference matmul and
 * then the epilogue members one by one in the output's block; and an f32
 * kernel whose operand broadcast over a middle dim is refused as a post-op
 * runs oneDNN's plain matmul and then the members. Both exact in f64 /
 * within TOL in f32. */
HG_TEST(fallback_runs_members_in_place) {
    for (int f64 = 0; f64 <= 1; f64++) {
        hg_dtype t = f64 ? HG_F64 : HG_F32;
        hg_graph *g = hg_graph_new();
        hg_value x = hg_input(g, "x", t, hg_shape_of(3, (int64_t)B_, (int64_t)M_, (int64_t)K_));
        hg_value w = hg_input(g, "w", t, hg_shape_of(2, (int64_t)K_, (int64_t)N_));
        hg_value pb = hg_input(g, "pb", t, hg_shape_of(3, (int64_t)B_, (int64_t)1, (int64_t)N_));
        hg_value y = hg_gelu(g, hg_add(g, hg_matmul(g, x, w, 0, 0), pb));
        hg_set_output(g, "y", y);
        HG_CHECK_OK(hg_graph_status(g));
        hg_schedule s = {0};
        HG_CHECK_OK(hg_fuse(g, NULL, &s));
        const hg_kernel *k = kernel_of(&s, y);
        HG_CHECK(k && k->kind == HG_KERNEL_MATMUL && k->n_members == 3);
        hg_fast *f;
        HG_CHECK_OK(hg_fast_compile_fused(g, &s, &f));
        int np, nr;
        hg_fast_epilogue_counts(f, &np, &nr);
        HG_CHECK(np == 0 && nr == 2);
        hg_tensor_map in, out, state;
        hg_map_init(&in);
        hg_map_init(&out);
        hg_map_init(&state);
        HG_CHECK_OK(feed(g, &in));
        double *want = malloc(sizeof(double) * B_ * M_ * N_);
        ref_matmul(hg_map_get(&in, "x"), hg_map_get(&in, "w"), 0, want);
        const hg_tensor *tp = hg_map_get(&in, "pb");
        for (int64_t i = 0; i < (int64_t)B_ * M_ * N_; i++)
            want[i] = gelu(want[i] + hg_tensor_get(tp, (i / ((int64_t)M_ * N_)) * N_ + i % N_));
        double e = 1;
        for (int run = 0; run < 2; run++) { /* the arena is reused: run twice */
            HG_CHECK_OK(hg_fast_run(f, &state, &in, &out, NULL));
            e = max_rel(hg_map_get(&out, "y"), want);
            if (!(e <= (f64 ? 1e-12 : TOL))) break;
        }
        free(want);
        hg_fast_free(f);
        hg_schedule_free(&s);
        hg_map_free(&in);
        hg_map_free(&out);
        hg_map_free(&state);
        hg_graph_free(g);
        HG_CHECK(e <= (f64 ? 1e-12 : TOL));
    }
}
