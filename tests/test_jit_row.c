/* The JIT's ROW kernels (codegen/jit/jit_row.c): softmax / layer_norm
 * fusion groups with their prologue and epilogue, scheduled by the jit
 * backend's own fuser (hg_jit_schedule), compiled and run by the jit
 * backend, against the reference interpreter:
 *   - every row-group pattern the model graphs produce (the demo and paper
 *     configs, transformer with and without adanorm, graph network):
 *     model_row_groups_are_covered checks that the jit schedules of those
 *     graphs hold no other pattern, the diff_* cases run each one;
 *   - row lengths that are not multiples of the vector width, C = 1,
 *     rank 1 and 4, no rows and empty rows, f64 (the ops need rank >= 1);
 *   - closed forms: constant rows, two-element rows, rows with -inf, NaN
 *     and +inf (the softmax op has no mask: masked attention rows are the
 *     fused attention's, tests/test_attention_fused.c);
 *   - 1 and 2 threads bit-identical;
 *   - the fusion rules under the jit's can_fuse: what joins a ROW group
 *     and what must not;
 *   - the ROW kernels the jit backend runs as oneDNN primitives (which,
 *     which not, agreement with the reference, special rows, threads).
 * Tolerances: the row statistics are sums in double in a vectorised order
 * (the reference sums in ascending order), rounded once to f32, so the
 * anchor's f32 output is within 1 ulp of the reference and almost always
 * equal (at least 99% of elements bit-equal is checked too); an epilogue
 * value (scale, shift, residual, gelu) carries that 1 ulp through its
 * formula: |jit - ref| <= 2^-21 max(|ref|, 1) (gelu: its own 1 ulp more).
 * f64: 16 + C/4 units of 2^-52 max(|ref|, 1) (the f64 exp polynomial, 8
 * units; two orders of a double sum of C terms differ by up to C/2 units of
 * the sum; a layer norm near the row mean has a large relative error from
 * the summation order alone, so the unit is absolute below 1), and f64 is
 * not checked for bit equality (the exp polynomial is not libm's). */
#include "tests/hg_test.h"

#include <omp.h>
#include <stdint.h>

#include "codegen/codegen.h"
#include "models/models.h"
#include "tests/jit_util.h"

HG_LABELS(fast)

/* ------------------------------------------------------------ running */

typedef struct {
    int n_row, n_loop;   /* kernels of the jit schedule by kind */
    int row_members;     /* members of the (last) ROW kernel */
    int n_dnnl;          /* ROW kernels run by oneDNN */
} census;

static void count(const hg_schedule *s, census *c) {
    memset(c, 0, sizeof *c);
    for (int k = 0; k < s->n_kernels; k++) {
        if (s->kernels[k].kind == HG_KERNEL_ROW) {
            c->n_row++;
            c->row_members = s->kernels[k].n_members;
        }
        c->n_loop += s->kernels[k].kind == HG_KERNEL_LOOP;
    }
}

/* Runs g (outputs named "o<id>") on the jit backend (hg_jit_schedule,
 * every ROW kernel run by the JIT's code, or with dnnl_rows those oneDNN
 * computes by oneDNN) into *out with `threads` OpenMP threads. */
static hg_status run_backend(const hg_graph *g, const hg_tensor_map *in, int threads,
                             int dnnl_rows, hg_tensor_map *out, census *c) {
    hg_schedule s;
    HG_TRY(hg_verify(g));
    HG_TRY(hg_jit_schedule(g, &s));
    census tmp;
    count(&s, c ? c : &tmp);
    hg_jit_backend *b = NULL;
    hg_status st = hg_jit_backend_compile_ex(g, &s, dnnl_rows, &b);
    hg_tensor_map state;
    hg_map_init(&state);
    hg_map_init(out);
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    if (st.code == HG_OK) (c ? c : &tmp)->n_dnnl = hg_jit_backend_stats(b)->n_dnnl_rows;
    if (st.code == HG_OK) st = hg_jit_backend_run(b, &state, in, out, NULL);
    omp_set_num_threads(saved);
    hg_jit_backend_free(b);
    hg_map_free(&state);
    hg_schedule_free(&s);
    return st;
}

static hg_status run_jit(const hg_graph *g, const hg_tensor_map *in, int threads,
                         hg_tensor_map *out, census *c) {
    return run_backend(g, in, threads, 0, out, c);
}

static hg_value out(hg_graph *g, hg_value v) {
    char name[32];
    snprintf(name, sizeof name, "o%d", v);
    hg_set_output(g, name, v);
    return v;
}

/* Feeds input v with row-varying values: N(0, 1) * spread + offset per row
 * (so rows have different means and scales). */
static hg_status feed(const hg_graph *g, hg_value v, hg_tensor_map *m, int salt) {
    const hg_node *n = hg_node_at(g, v);
    hg_tensor *t;
    HG_TRY(hg_map_alloc(m, n->attrs.name, n->dtype, n->shape, &t));
    int64_t C = n->shape.rank ? n->shape.dim[n->shape.rank - 1] : 1;
    for (int64_t i = 0; i < hg_shape_numel(n->shape); i++) {
        int64_t r = C ? i / C : 0;
        double off = (double)(r % 7) - 3.0, spread = 0.25 + (double)(r % 5);
        hg_tensor_set(t, i, off + spread * hg_rng_normal(99u + (uint32_t)salt, 5, 0, 0, (uint64_t)i));
    }
    return hg_ok();
}

/* Max error of output `name`: anchor outputs in f32 ulps (f64: units of
 * 2^-52 max(|ref|, 1)), epilogue outputs as |d| / (2^-21 max(|ref|, 1))
 * (f64: 2^-52); *equal = fraction of bit-equal elements. NaN == NaN. */
static double err_of(const hg_tensor *a, const hg_tensor *r, int anchor, double *equal,
                     int64_t *where) {
    double m = 0;
    int64_t n = hg_shape_numel(r->shape), eq = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = hg_tensor_get(a, i), y = hg_tensor_get(r, i), e;
        if (isnan(x) || isnan(y)) e = isnan(x) && isnan(y) ? 0 : INFINITY;
        else if (x == y) e = 0;
        else if (anchor && r->dtype == HG_F32) e = jt_ulp((float)x, y);
        else if (anchor) e = fabs(x - y) / fmax(fabs(y), 1) * 0x1p52;
        else e = fabs(x - y) / ((r->dtype == HG_F32 ? 0x1p-21 : 0x1p-52) * fmax(fabs(y), 1));
        eq += e == 0;
        if (!(e <= m)) {
            m = e;
            *where = i;
        }
    }
    *equal = n ? (double)eq / (double)n : 1;
    return m;
}

/* jit vs ref on every output of g; anchors[] are the outputs compared in
 * ulps (bound anchor_tol), the others in the epilogue unit (bound
 * epi_tol); want_rows ROW kernels; at least min_equal of the elements of
 * f32 outputs of >= 1000 elements bit-equal to the reference. */
static void diff_eq(hg_graph *g, const hg_tensor_map *in, const hg_value *anchors, int na,
                    double anchor_tol, double epi_tol, int want_rows, double min_equal,
                    const char *what) {
    HG_CHECK_OK(hg_graph_status(g));
    hg_tensor_map ref, jit;
    hg_map_init(&ref);
    HG_CHECK_OK(hg_ref_run(g, NULL, in, &ref, NULL));
    census c;
    HG_CHECK_OK(run_jit(g, in, 2, &jit, &c));
    if (c.n_row != want_rows) HG_FAIL("%s: %d ROW kernels, expected %d", what, c.n_row, want_rows);
    for (int o = 0; o < g->n_outputs; o++) {
        const char *name = g->outputs[o].name;
        int is_anchor = 0;
        for (int i = 0; i < na; i++) is_anchor |= g->outputs[o].value == anchors[i];
        const hg_tensor *a = hg_map_get(&jit, name), *r = hg_map_get(&ref, name);
        HG_CHECK(a && r);
        double eq;
        int64_t at = 0;
        double e = err_of(a, r, is_anchor, &eq, &at);
        double tol = is_anchor ? anchor_tol : epi_tol;
        if (!(e <= tol))
            HG_FAIL("%s: %s error %.3g > %.3g at [%lld]: jit %.9g ref %.9g", what, name, e, tol,
                    (long long)at, hg_tensor_get(a, at), hg_tensor_get(r, at));
        if (r->dtype == HG_F32 && hg_shape_numel(r->shape) >= 1000 && !(eq >= min_equal))
            HG_FAIL("%s: %s only %.4f of elements bit-equal to ref", what, name, eq);
    }
    hg_map_free(&ref);
    hg_map_free(&jit);
}

/* diff_eq with at least 99% of the f32 elements of >= 1000-element outputs
 * bit-equal to the reference. */
static void diff(hg_graph *g, const hg_tensor_map *in, const hg_value *anchors, int na,
                 double anchor_tol, double epi_tol, int want_rows, const char *what) {
    diff_eq(g, in, anchors, na, anchor_tol, epi_tol, want_rows, 0.99, what);
}

/* ------------------------------------------- the model graphs' patterns */

/* y = layer_norm(pre) * scale + bias with scale, bias of shape [C] (or
 * [B, 1, C]: adanorm's (1 + a) and b), pre = x, x + r (residual) or x * m
 * (the graph network's edge gate). Outputs: the layer norm (read by its
 * VJP) and the result. */
typedef enum { PRE_NONE, PRE_ADD, PRE_MUL, PRE_ADD_BCAST } pre_kind;

static void ln_pattern(int64_t B, int64_t N, int64_t C, pre_kind pre, int ada, int gelu) {
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(3, B, N, C);
    hg_shape ps = ada ? hg_shape_of(3, B, (int64_t)1, C) : hg_shape_of(1, C);
    hg_value x = hg_input(g, "x", HG_F32, s);
    hg_value sc = hg_input(g, "scale", HG_F32, ps), bi = hg_input(g, "bias", HG_F32, ps);
    hg_value r = pre == PRE_NONE ? HG_NONE
                 : hg_input(g, "r", HG_F32, pre == PRE_ADD_BCAST ? hg_shape_of(3, B, (int64_t)1, C) : s);
    hg_value h = pre == PRE_NONE ? x : pre == PRE_MUL ? hg_mul(g, x, r) : hg_add(g, x, r);
    if (ada) sc = hg_add_s(g, sc, 1.0); /* [B, 1, C]: outside the row group */
    hg_value ln = out(g, hg_layer_norm(g, h, 1e-6));
    hg_value y = hg_add(g, hg_mul(g, ln, sc), bi);
    if (gelu) y = hg_gelu(g, y);
    out(g, y);
    hg_tensor_map in;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 0));
    HG_CHECK_OK(feed(g, hg_node_at(g, sc)->op == HG_OP_input ? sc : hg_node_at(g, sc)->in[0], &in, 1));
    HG_CHECK_OK(feed(g, bi, &in, 2));
    if (r != HG_NONE) HG_CHECK_OK(feed(g, r, &in, 3));
    char what[96];
    snprintf(what, sizeof what, "ln [%lld,%lld,%lld] pre %d ada %d gelu %d", (long long)B,
             (long long)N, (long long)C, (int)pre, ada, gelu);
    diff(g, &in, &ln, 1, 1.0, gelu ? 2.0 : 1.0, 1, what);
    hg_map_free(&in);
    hg_graph_free(g);
}

/* The transformer's: [8, 640, 128], plain, after the residual add, after
 * the conditioning add ([8, 1, 128]), adanorm, and the MLP head's gelu. */
HG_TEST(diff_transformer_layer_norms) {
    ln_pattern(8, 640, 128, PRE_NONE, 0, 0);
    ln_pattern(8, 640, 128, PRE_ADD, 0, 0);
    ln_pattern(8, 640, 128, PRE_ADD_BCAST, 0, 0);
    ln_pattern(8, 640, 128, PRE_NONE, 1, 0);
    ln_pattern(8, 640, 128, PRE_ADD, 1, 0);
    ln_pattern(2, 640, 128, PRE_NONE, 0, 1);
    ln_pattern(2, 50, 256, PRE_ADD, 0, 0); /* the paper config's width */
}

/* The graph network's: nodes [8, 640, 16], edges [8, 12800, 16] gated by
 * a mul. */
HG_TEST(diff_graph_network_layer_norms) {
    ln_pattern(8, 640, 16, PRE_NONE, 0, 0);
    ln_pattern(8, 12800, 16, PRE_MUL, 0, 0);
    ln_pattern(2, 640, 16, PRE_NONE, 0, 1);
}

/* Which kernel patterns (member ops, C) the jit schedule of every model
 * graph kind of config `path` has; each must be one of `known`. */
static void model_patterns(const char *cfg, int adanorm, int net, const char *const *known,
                           int n_known, int *seen) {
    hg_config c;
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/%s", hg_test_srcdir(), cfg);
    HG_CHECK_OK(hg_config_load(path, &c));
    c.score = net ? HG_SCORE_GRAPH : HG_SCORE_TRANSFORMER;
    c.adanorm = adanorm;
    if (adanorm) c.induced_attention = 0;
    const char *kinds[] = {"train", "sample-step", "nelbo"};
    for (int k = 0; k < 3; k++) {
        hg_model_opts o;
        hg_model_opts_default(&o, &c);
        o.norm.box = 10.0;
        hg_model m;
        HG_CHECK_OK(hg_model_build(&c, kinds[k], 1, HG_F32, &o, &m));
        hg_schedule s;
        HG_CHECK_OK(hg_jit_schedule(m.g, &s));
        for (int i = 0; i < s.n_kernels; i++) {
            const hg_kernel *kr = &s.kernels[i];
            if (kr->kind != HG_KERNEL_ROW) continue;
            if (!hg_jit_supports(m.g, kr)) HG_FAIL("%s %s: %s not compiled", cfg, kinds[k], kr->name);
            char pat[128];
            snprintf(pat, sizeof pat, "%s C=%lld", kr->name,
                     (long long)kr->space.dim[kr->space.rank - 1]);
            int j = 0;
            while (j < n_known && strcmp(known[j], pat) != 0) j++;
            if (j == n_known) HG_FAIL("%s %s: ROW pattern \"%s\" has no diff_ case", cfg, kinds[k], pat);
            seen[j] = 1;
        }
        hg_schedule_free(&s);
        hg_model_free(&m);
    }
}

HG_TEST(model_row_groups_are_covered) {
    /* the patterns diff_transformer_layer_norms / diff_graph_network_layer_norms run */
    static const char *const known[] = {
        "row:layer_norm_mul_add C=128", "row:add_layer_norm_mul_add C=128",
        "row:layer_norm_mul_add C=256", "row:add_layer_norm_mul_add C=256",
        "row:layer_norm_mul_add C=16",  "row:mul_layer_norm_mul_add C=16",
        "row:layer_norm_mul_add_gelu_tanh C=16", "row:layer_norm_mul_add_gelu_tanh C=128",
    };
    int nk = (int)(sizeof known / sizeof known[0]), seen[16] = {0};
    model_patterns("demo-transformer.yaml", 0, 0, known, nk, seen);
    model_patterns("demo-transformer.yaml", 1, 0, known, nk, seen);
    model_patterns("demo-graph.yaml", 0, 1, known, nk, seen);
    model_patterns("paper-transformer.yaml", 0, 0, known, nk, seen);
    model_patterns("paper-graph.yaml", 0, 1, known, nk, seen);
    /* the model graphs do produce ROW groups on jit */
    HG_CHECK(seen[0] && seen[4] && seen[5]);
}

/* ---------------------------------------------------------- edge cases */

/* softmax / layer_norm of x [R, C] (f32 or f64) plus an epilogue mul by
 * 2 (exact), jit vs ref. */
static void edge(hg_dtype t, hg_shape s, int softmax) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", t, s);
    hg_value a = out(g, softmax ? hg_softmax(g, x) : hg_layer_norm(g, x, 1e-5));
    out(g, hg_mul(g, a, hg_scalar(g, t, 2.0)));
    hg_tensor_map in;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 7));
    char what[96];
    snprintf(what, sizeof what, "%s %s rank %d numel %lld", softmax ? "softmax" : "layer_norm",
             hg_dtype_name(t), s.rank, (long long)hg_shape_numel(s));
    int64_t C = s.dim[s.rank - 1];
    double tol = t == HG_F32 ? 1.0 : 16.0 + (double)C / 4;
    diff(g, &in, &a, 1, tol, t == HG_F32 ? 1.0 : 2 * tol, 1, what); /* y * 2: twice the error */
    hg_map_free(&in);
    hg_graph_free(g);
}

HG_TEST(diff_row_lengths_and_dtypes) {
    const int64_t Cs[] = {1, 2, 7, 15, 16, 17, 33, 100, 129, 1000};
    for (int sm = 0; sm < 2; sm++)
        for (int i = 0; i < (int)(sizeof Cs / sizeof Cs[0]); i++) {
            edge(HG_F32, hg_shape_of(2, (int64_t)37, Cs[i]), sm);
            edge(HG_F64, hg_shape_of(2, (int64_t)5, Cs[i]), sm);
        }
    for (int sm = 0; sm < 2; sm++) {
        edge(HG_F32, hg_shape_of(1, (int64_t)77), sm);  /* rank 1: one row */
        edge(HG_F32, hg_shape_of(4, (int64_t)2, (int64_t)3, (int64_t)5, (int64_t)19), sm);
        edge(HG_F32, hg_shape_of(2, (int64_t)0, (int64_t)8), sm); /* no rows */
        edge(HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)0), sm); /* empty rows */
    }
}

/* Rows set by hand, results by closed form (not by the reference). */
static void closed_forms(int softmax) {
    enum { R = 9, C = 19 };
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)R, (int64_t)C));
    hg_value a = out(g, softmax ? hg_softmax(g, x) : hg_layer_norm(g, x, 1e-6));
    hg_value y = out(g, hg_add_s(g, a, 0.5)); /* an epilogue member */
    (void)y;
    hg_tensor_map in, jit;
    hg_map_init(&in);
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F32, hg_shape_of(2, (int64_t)R, (int64_t)C), &t));
    float *xv = t->data;
    for (int j = 0; j < C; j++) {
        xv[0 * C + j] = 3.25f;                        /* constant */
        xv[1 * C + j] = j == 4 ? NAN : (float)j;      /* a NaN */
        xv[2 * C + j] = j == 5 ? INFINITY : (float)j; /* +inf */
        xv[3 * C + j] = -INFINITY;                    /* all -inf */
        xv[4 * C + j] = j % 2 ? -INFINITY : 1.5f;     /* -inf among equal finite */
        xv[5 * C + j] = j < 2 ? (float)(2 * j + 1) : 2.0f; /* 1, 3, 2, 2, ... */
        xv[6 * C + j] = -1e30f;                       /* constant, huge */
        xv[7 * C + j] = j == 7 ? 1.0f : 0.0f;         /* one hot */
        xv[8 * C + j] = 1e-30f * (float)(j - 9);      /* tiny */
    }
    HG_CHECK_OK(run_jit(g, &in, 2, &jit, NULL));
    char name[32];
    snprintf(name, sizeof name, "o%d", a);
    const float *o = hg_map_get(&jit, name)->data;
    for (int j = 0; j < C; j++) {
        if (softmax) {
            HG_CHECK(o[0 * C + j] == (float)(1.0 / C));
            HG_CHECK(isnan(o[1 * C + j]) && isnan(o[2 * C + j]) && isnan(o[3 * C + j]));
            /* 10 entries of 1.5, 9 of -inf: 1/10 and 0 */
            HG_CHECK(o[4 * C + j] == (j % 2 ? 0.0f : (float)(1.0 / 10)));
            HG_CHECK(o[6 * C + j] == (float)(1.0 / C));
            /* e / (e + 18), 1 / (e + 18); the kernel divides the f32 rounding
             * of exp(-1) (as the reference): within 1 ulp */
            double e = exp(1.0), w = j == 7 ? e / (e + 18) : 1 / (e + 18);
            HG_CHECK(jt_ulp(o[7 * C + j], w) <= 1);
        } else {
            HG_CHECK(o[0 * C + j] == 0.0f && o[6 * C + j] == 0.0f);
            HG_CHECK(isnan(o[1 * C + j]) && isnan(o[2 * C + j]) && isnan(o[3 * C + j]));
            /* 10 x 1.5 and 9 x -inf: the mean is -inf, every x - mean inf or NaN */
            HG_CHECK(isnan(o[4 * C + j]) || isinf(o[4 * C + j]));
        }
    }
    if (!softmax) {
        /* row 5: 1, 3, then 17 x 2: mean 2, var 2/19 */
        double inv = 1 / sqrt(2.0 / C + 1e-6);
        HG_CHECK(o[5 * C + 0] == (float)(-inv) && o[5 * C + 1] == (float)inv);
        for (int j = 2; j < C; j++) HG_CHECK(o[5 * C + j] == 0.0f);
        /* tiny row: var ~1e-60 << eps, y = (x - mean) / sqrt(eps) */
        for (int j = 0; j < C; j++)
            HG_CHECK(jt_ulp(o[8 * C + j], (double)(1e-30f * (float)(j - 9)) / sqrt(1e-6 + 0.0)) <= 1);
    }
    /* the epilogue sees the same values */
    snprintf(name, sizeof name, "o%d", y);
    const float *p = hg_map_get(&jit, name)->data;
    for (int i = 0; i < R * C; i++) HG_CHECK((isnan(o[i]) && isnan(p[i])) || p[i] == o[i] + 0.5f);
    /* and the reference agrees with every row */
    hg_tensor_map ref;
    hg_map_init(&ref);
    HG_CHECK_OK(hg_ref_run(g, NULL, &in, &ref, NULL));
    snprintf(name, sizeof name, "o%d", a);
    double eq;
    int64_t at = 0;
    double e = err_of(hg_map_get(&jit, name), hg_map_get(&ref, name), 1, &eq, &at);
    if (!(e <= 1)) HG_FAIL("closed-form rows vs ref: %.3g ulp at %lld", e, (long long)at);
    hg_map_free(&ref);
    hg_map_free(&jit);
    hg_map_free(&in);
    hg_graph_free(g);
}

/* The f32 layer norm's one-pass shifted variance (jit_row.c) on rows it
 * could cancel on: a large offset with a tiny spread, an outlier first
 * element, an outlier last element; within 1 ulp of the reference's two
 * passes. */
HG_TEST(layer_norm_cancellation_rows) {
    enum { R = 6, C = 1000 };
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)R, (int64_t)C));
    hg_value a = out(g, hg_layer_norm(g, x, 1e-6));
    out(g, hg_add_s(g, a, 0.0));
    hg_tensor_map in;
    hg_map_init(&in);
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F32, hg_shape_of(2, (int64_t)R, (int64_t)C), &t));
    float *xv = t->data;
    for (int j = 0; j < C; j++) {
        double z = hg_rng_normal(5, 6, 0, 0, (uint64_t)j);
        xv[0 * C + j] = (float)(1e4 + 1e-2 * z);          /* mean / std 1e6 */
        xv[1 * C + j] = j == 0 ? 1e6f : (float)z;          /* outlier first */
        xv[2 * C + j] = j == C - 1 ? 1e6f : (float)z;      /* outlier last */
        xv[3 * C + j] = j == 0 ? 1.0f : (float)(1e-6 * z); /* first = all the variance */
        xv[4 * C + j] = (float)(-3e7 + 4 * z);             /* huge offset */
        xv[5 * C + j] = j == 0 ? -1e30f : (float)(1e25 * z);
    }
    diff(g, &in, &a, 1, 1.0, 1.0, 1, "cancellation rows");
    hg_map_free(&in);
    hg_graph_free(g);
}

HG_TEST(softmax_closed_forms) { closed_forms(1); }
HG_TEST(layer_norm_closed_forms) { closed_forms(0); }

/* The demo shape on 1 and 2 threads: the same bits. */
HG_TEST(threads_bit_identical) {
    for (int sm = 0; sm < 2; sm++) {
        hg_graph *g = hg_graph_new();
        hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(3, (int64_t)8, (int64_t)640, (int64_t)128));
        hg_value r = hg_input(g, "r", HG_F32, hg_shape_of(3, (int64_t)8, (int64_t)640, (int64_t)128));
        hg_value h = hg_add(g, x, r);
        hg_value a = out(g, sm ? hg_softmax(g, h) : hg_layer_norm(g, h, 1e-6));
        out(g, hg_gelu(g, hg_mul(g, a, r)));
        hg_tensor_map in, o1, o2;
        hg_map_init(&in);
        HG_CHECK_OK(feed(g, x, &in, 0));
        HG_CHECK_OK(feed(g, r, &in, 1));
        census c;
        HG_CHECK_OK(run_jit(g, &in, 1, &o1, &c));
        HG_CHECK(c.n_row == 1 && c.row_members == 4);
        HG_CHECK_OK(run_jit(g, &in, 2, &o2, NULL));
        for (int i = 0; i < o1.n; i++) {
            const hg_tensor *p = &o1.e[i].t, *q = hg_map_get(&o2, o1.e[i].name);
            HG_CHECK(q && memcmp(p->data, q->data, hg_tensor_bytes(p)) == 0);
        }
        hg_map_free(&o1);
        hg_map_free(&o2);
        hg_map_free(&in);
        hg_graph_free(g);
    }
}

/* ------------------------------------------------------- fusion rules */

static void jit_sched(hg_graph *g, hg_schedule *s) {
    HG_CHECK_OK(hg_graph_status(g));
    HG_CHECK_OK(hg_verify(g));
    HG_CHECK_OK(hg_jit_schedule(g, s));
    HG_CHECK_OK(hg_schedule_check(g, s));
}

static const hg_kernel *kof(const hg_schedule *s, hg_value v) {
    return s->kernel_of[v] >= 0 ? &s->kernels[s->kernel_of[v]] : NULL;
}

/* What forms a ROW group on jit: the prologue chain of the anchor's shape
 * (R1), the epilogue of its shape and a LOOP group merged in by a reader
 * (R2); each ROW kernel is compiled. */
HG_TEST(fusion_row_group_forms) {
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(2, (int64_t)6, (int64_t)10);
    hg_value x = hg_input(g, "x", HG_F32, s), r = hg_input(g, "r", HG_F32, s);
    hg_value b = hg_input(g, "b", HG_F32, hg_shape_of(1, (int64_t)10));
    hg_value p = hg_tanh(g, hg_add(g, x, b));        /* prologue: add, tanh */
    hg_value sm = hg_softmax(g, p);
    hg_value side = hg_exp(g, r);                   /* an open LOOP group ... */
    hg_value y = out(g, hg_mul(g, sm, side));        /* ... merged by the epilogue */
    hg_schedule sc;
    jit_sched(g, &sc);
    const hg_kernel *k = kof(&sc, sm);
    HG_CHECK(k && k->kind == HG_KERNEL_ROW && k->anchor == sm);
    HG_CHECK(kof(&sc, p) == k && kof(&sc, p - 1) == k && kof(&sc, side) == k && kof(&sc, y) == k);
    HG_CHECK(k->n_members == 5 && k->n_outputs == 1 && hg_jit_supports(g, k));
    hg_schedule_free(&sc);
    hg_tensor_map in;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 0));
    HG_CHECK_OK(feed(g, r, &in, 1));
    HG_CHECK_OK(feed(g, b, &in, 2));
    diff(g, &in, NULL, 0, 1, 2.0, 1, "softmax prologue + merged epilogue");
    hg_map_free(&in);
    hg_graph_free(g);
}

/* What must not join: a reduction of the row output (L3: a reduction only
 * closes a LOOP group), a second anchor (one per ROW kernel), a value of
 * another shape (the broadcast [6, 1] of a mean is read from memory), a
 * random op (the jit's ROW emitter draws no numbers: it stays a LOOP
 * kernel feeding the row), a shape change (reshape). */
HG_TEST(fusion_row_group_refuses) {
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(2, (int64_t)6, (int64_t)10);
    hg_value x = hg_input(g, "x", HG_F32, s);
    hg_value seed = hg_input(g, "seed", HG_I32, hg_shape_scalar());
    hg_value z = hg_random_normal(g, HG_F32, s, seed, seed, seed);
    hg_value ln = hg_layer_norm(g, hg_add(g, x, z), 1e-6);
    int ax = 1;
    hg_value mu = hg_reduce(g, HG_OP_mean, ln, 1, &ax, 1); /* [6, 1] */
    hg_value d = hg_sub(g, ln, mu);                         /* reads the mean: not in ln's group */
    hg_value sm = hg_softmax(g, d);                         /* second anchor */
    hg_value rs = hg_reshape(g, sm, hg_shape_of(2, (int64_t)10, (int64_t)6));
    hg_value ln2 = hg_layer_norm(g, rs, 1e-6);              /* after a shape change */
    out(g, ln2);
    out(g, ln);
    hg_schedule sc;
    jit_sched(g, &sc);
    const hg_kernel *k = kof(&sc, ln);
    HG_CHECK(k->kind == HG_KERNEL_ROW);
    HG_CHECK(kof(&sc, z)->kind == HG_KERNEL_LOOP && kof(&sc, z) != k);
    HG_CHECK(kof(&sc, hg_node_at(g, ln)->in[0]) == kof(&sc, z)); /* the add stays with z */
    HG_CHECK(kof(&sc, mu) != k && kof(&sc, d) != k);
    HG_CHECK(kof(&sc, sm) != k && kof(&sc, sm)->kind == HG_KERNEL_ROW && kof(&sc, d) == kof(&sc, sm));
    HG_CHECK(kof(&sc, rs)->kind == HG_KERNEL_OP);
    HG_CHECK(kof(&sc, ln2)->kind == HG_KERNEL_ROW && kof(&sc, ln2)->n_members == 1);
    hg_schedule_free(&sc);
    hg_tensor_map in;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 0));
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&in, "seed", HG_I32, hg_shape_scalar(), &t));
    ((int32_t *)t->data)[0] = 5;
    hg_value anchors[2] = {ln, ln2};
    diff(g, &in, anchors, 2, 1.0, 1.0, 3, "refused joins");
    hg_map_free(&in);
    hg_graph_free(g);
}

/* ------------------------------------------------- the oneDNN route */

/* jit_dnnl_row.c: the ROW kernels oneDNN computes alone run as its
 * primitives on the jit backend (hg_jit_backend_compile), the others on
 * the JIT's code. oneDNN computes the statistics in f32: checked against
 * the reference with |d| <= 1e-5 max(|ref|, 1) (observed below 1e-6), NaN
 * rows NaN as in the reference; 1 and 2 threads bit-identical. */
static void dnnl_case(int pattern, int want_dnnl) {
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(3, (int64_t)8, (int64_t)640, (int64_t)128);
    hg_value x = hg_input(g, "x", HG_F32, s);
    hg_value sc = hg_input(g, "scale", HG_F32, hg_shape_of(1, (int64_t)128));
    hg_value bi = hg_input(g, "bias", HG_F32, hg_shape_of(1, (int64_t)128));
    hg_value r = hg_input(g, "r", HG_F32, hg_shape_of(3, (int64_t)8, (int64_t)1, (int64_t)128));
    switch (pattern) {
    case 0: out(g, hg_add(g, hg_mul(g, hg_layer_norm(g, x, 1e-6), sc), bi)); break; /* sampling LN */
    case 1: out(g, hg_add(g, hg_mul(g, sc, hg_layer_norm(g, x, 1e-6)), bi)); break; /* operands swapped */
    case 2: out(g, hg_layer_norm(g, x, 1e-5)); break;
    case 3: out(g, hg_softmax(g, x)); break;
    case 4: out(g, hg_add(g, hg_mul(g, hg_layer_norm(g, hg_add(g, x, r), 1e-6), sc), bi)); break; /* prologue */
    case 5: { /* the normalised value is an output too (training) */
        hg_value ln = out(g, hg_layer_norm(g, x, 1e-6));
        out(g, hg_add(g, hg_mul(g, ln, sc), bi));
        break;
    }
    default: out(g, hg_add(g, hg_mul(g, hg_layer_norm(g, x, 1e-6), r), bi)); break; /* [B,1,C] scale */
    }
    hg_tensor_map in, ref, o1, o2;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 0));
    HG_CHECK_OK(feed(g, sc, &in, 1));
    HG_CHECK_OK(feed(g, bi, &in, 2));
    HG_CHECK_OK(feed(g, r, &in, 3));
    float *xv = hg_map_get(&in, "x")->data; /* special rows: NaN, +inf, all -inf, constant */
    for (int j = 0; j < 128; j++) {
        xv[0 * 128 + j] = j == 3 ? NAN : (float)j;
        xv[1 * 128 + j] = j == 9 ? INFINITY : (float)j;
        xv[2 * 128 + j] = -INFINITY;
        xv[3 * 128 + j] = 2.5f;
    }
    hg_map_init(&ref);
    HG_CHECK_OK(hg_ref_run(g, NULL, &in, &ref, NULL));
    census c;
    HG_CHECK_OK(run_backend(g, &in, 1, 1, &o1, &c));
    if (c.n_dnnl != want_dnnl) HG_FAIL("pattern %d: %d kernels on oneDNN, expected %d", pattern, c.n_dnnl, want_dnnl);
    HG_CHECK_OK(run_backend(g, &in, 2, 1, &o2, NULL));
    for (int o = 0; o < g->n_outputs; o++) {
        const hg_tensor *a = hg_map_get(&o1, g->outputs[o].name), *b = hg_map_get(&ref, g->outputs[o].name);
        HG_CHECK(memcmp(a->data, hg_map_get(&o2, g->outputs[o].name)->data, hg_tensor_bytes(a)) == 0);
        double worst = 0;
        int64_t at = 0;
        for (int64_t i = 0; i < hg_shape_numel(b->shape); i++) {
            double u = hg_tensor_get(a, i), v = hg_tensor_get(b, i);
            double e = isnan(v) || isnan(u) ? (isnan(u) && isnan(v) ? 0 : INFINITY)
                                            : fabs(u - v) / fmax(fabs(v), 1);
            if (!(e <= worst)) {
                worst = e;
                at = i;
            }
        }
        if (!(worst <= 1e-5))
            HG_FAIL("pattern %d %s: error %.3g at [%lld]: got %.9g ref %.9g", pattern,
                    g->outputs[o].name, worst, (long long)at, hg_tensor_get(a, at), hg_tensor_get(b, at));
    }
    hg_map_free(&o1);
    hg_map_free(&o2);
    hg_map_free(&ref);
    hg_map_free(&in);
    hg_graph_free(g);
}

HG_TEST(dnnl_rows_route_and_agree) {
    dnnl_case(0, 1);
    dnnl_case(1, 1);
    dnnl_case(2, 1);
    dnnl_case(3, 0); /* softmax: oneDNN returns 0 on NaN rows (jit_dnnl_row.c) */
    dnnl_case(4, 0); /* prologue: the JIT's fused kernel */
    dnnl_case(5, 0); /* two outputs */
    dnnl_case(6, 0); /* scale not [C] */
}

/* An epilogue output in place in the block of the anchor's input, which
 * dies at the ROW kernel (hg_memplan_schedule's ROW rule): h = x^T (a
 * transpose kernel, exact), y = layer_norm(h) * s + s and z = softmax(h2)
 * + 1 take h's and h2's blocks; the JIT reads and writes them through one
 * pointer (jit_row.c), and the results still match the reference. */
HG_TEST(in_place_epilogue) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)40, (int64_t)300));
    hg_value sc = hg_input(g, "scale", HG_F32, hg_shape_of(1, (int64_t)40));
    int perm[2] = {1, 0};
    hg_value h = hg_transpose(g, x, perm);
    hg_value y = out(g, hg_add(g, hg_mul(g, hg_layer_norm(g, h, 1e-6), sc), sc));
    hg_value h2 = hg_transpose(g, x, perm);
    hg_value z = out(g, hg_add_s(g, hg_softmax(g, h2), 1.0));
    HG_CHECK_OK(hg_graph_status(g));
    HG_CHECK_OK(hg_verify(g));
    hg_schedule s;
    HG_CHECK_OK(hg_jit_schedule(g, &s));
    hg_mem_plan plan;
    HG_CHECK_OK(hg_memplan_schedule(g, &s, &plan));
    HG_CHECK(plan.kind[y] == HG_MP_INPLACE && plan.block[y] == plan.block[h]);
    HG_CHECK(plan.kind[z] == HG_MP_INPLACE && plan.block[z] == plan.block[h2]);
    hg_memplan_free(&plan);
    hg_schedule_free(&s);
    hg_tensor_map in;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 0));
    HG_CHECK_OK(feed(g, sc, &in, 2));
    diff(g, &in, NULL, 0, 1, 1, 2, "in place");
    hg_map_free(&in);
    hg_graph_free(g);
}
