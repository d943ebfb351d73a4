/* Differential tests of the JIT's LOOP kernels (codegen/jit/jit.h) against
 * the reference interpreter, on hand-made one-kernel schedules:
 *   - every elementwise op of the op table in every dtype the JIT takes,
 *     on shapes with every broadcast pattern, sizes that are not multiples
 *     of the vector width, zero-size and rank-0 tensors, and inputs with
 *     NaN, +-inf, +-0, denormals and huge values;
 *   - fused groups with trailing / leading / middle / full reductions,
 *     empty reductions, several outputs;
 *   - random ops bit-identical to the reference; 1 and 2 threads
 *     bit-identical.
 * Tolerances (per op class; ulps of f32 as tests/jit_util.h jt_ulp, f64 in
 * units of 2^-52 relative): exact (0) for arithmetic + - * /, sqrt,
 * comparisons, selects, floor, round, floor_mod, casts, integer and bool
 * ops; transcendental f32 ops the bounds of test_jit_vmath.c (the vector
 * math error; the reference is the double formula rounded once); f64
 * transcendentals 8 units (gelu_tanh 64: its 1 + tanh cancels); reductions |jit - ref| <= 1e-6 sum|terms|
 * (f32) since the JIT sums in a vectorised order. NaN must match NaN. */
#include "tests/hg_test.h"

#include <omp.h>
#include <stdint.h>

#include "codegen/codegen.h"
#include "tests/jit_util.h"

HG_LABELS(fast)

/* ------------------------------------------------------------ inputs */

static double val(hg_dtype t, int64_t i, int salt) {
    static const double sp[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-40, -3e-39, 1e30,
                                -1e30, 88.8, -104.0, 0.5, -0.5, 1.0, -1.0, 2.0, 3.0, -2.5};
    uint32_t seed = 77u + (uint32_t)salt;
    if (t == HG_BOOL) return hg_rng_uniform(seed, 1, 0, 0, (uint64_t)i) < 0.5;
    if (t == HG_I32) {
        static const double si[] = {0, -1, 1, 2147483647.0, -2147483648.0, 7, -7};
        if (i % 9 == 4) return si[(i / 9) % 7];
        return floor(hg_rng_uniform(seed, 2, 0, 0, (uint64_t)i) * 200 - 100);
    }
    if (i % 7 == 3) return sp[(i / 7 + salt) % (int)(sizeof sp / sizeof sp[0])];
    double u = hg_rng_normal(seed, 3, 0, 0, (uint64_t)i);
    return (i % 5 == 1) ? u * 30 : u * 2;
}

/* Feeds input v; |values| capped at `cap` (sin/cos: accurate for |x| <
 * 2^50 only). */
static hg_status feed(const hg_graph *g, hg_value v, hg_tensor_map *m, int salt, double cap) {
    const hg_node *n = hg_node_at(g, v);
    hg_tensor *t;
    HG_TRY(hg_map_alloc(m, n->attrs.name, n->dtype, n->shape, &t));
    for (int64_t i = 0; i < hg_shape_numel(n->shape); i++) {
        double x = val(n->dtype, i, salt);
        if (fabs(x) > cap && isfinite(x)) x = copysign(cap, x);
        hg_tensor_set(t, i, x);
    }
    return hg_ok();
}

/* ------------------------------------------------------------ compare */

/* Max error of a against the reference b in the op class's units: f32
 * ulps, f64 multiples of 2^-52 relative (1 ulp ~ 1-2 units), exact
 * integers/bools (0 or inf). NaN against NaN is 0. */
static double max_err(const hg_tensor *a, const hg_tensor *b, int64_t *where) {
    double m = 0;
    for (int64_t i = 0; i < hg_shape_numel(b->shape); i++) {
        double x = hg_tensor_get(a, i), y = hg_tensor_get(b, i), e;
        if (b->dtype == HG_F32) e = jt_ulp((float)x, y);
        else if (b->dtype == HG_F64) {
            if (isnan(x) || isnan(y)) e = isnan(x) && isnan(y) ? 0 : INFINITY;
            else if (x == y) e = 0;
            else e = fabs(x - y) / (fabs(y) > 2.2250738585072014e-308 ? fabs(y) : 4.9e-324) * 0x1p52;
        } else {
            e = x == y ? 0 : INFINITY;
        }
        if (e > m || e != e) {
            m = e;
            *where = i;
        }
    }
    return m;
}

/* Runs kernel {mem} of g through the JIT and the reference; returns the
 * max error over the kernel's outputs (names "o<id>"). */
static hg_status jit_vs_ref(hg_graph *g, const hg_value *mem, int n, hg_value reduce,
                            const hg_tensor_map *in, double *err, char *what, size_t wn) {
    hg_schedule s;
    HG_TRY(jt_schedule(g, mem, n, reduce, &s));
    const hg_kernel *k = &s.kernels[0];
    hg_tensor_map ref;
    hg_map_init(&ref);
    hg_status st = hg_ref_run(g, NULL, in, &ref, NULL);
    hg_jit_program *p = NULL;
    hg_jit_options opt = {"", NULL};
    if (st.code == HG_OK) st = hg_jit_compile(g, &s, NULL, &opt, &p);
    if (st.code == HG_OK && !hg_jit_has(p, 0)) st = hg_error(HG_ERR_UNSUPPORTED, "not compiled");
    hg_tensor outs[64] = {{0}};
    if (st.code == HG_OK) st = jt_run(g, &s, p, in, outs);
    *err = 0;
    for (int o = 0; st.code == HG_OK && o < k->n_outputs; o++) {
        char name[32];
        snprintf(name, sizeof name, "o%d", k->outputs[o]);
        int64_t at = -1;
        double e = max_err(&outs[o], hg_map_get(&ref, name), &at);
        if (e > *err || e != e) {
            *err = e;
            snprintf(what, wn, "%%%d[%lld]: jit %.9g ref %.9g", k->outputs[o], (long long)at,
                     hg_tensor_get(&outs[o], at), hg_tensor_get(hg_map_get(&ref, name), at));
        }
    }
    for (int o = 0; o < k->n_outputs; o++) hg_tensor_free(&outs[o]);
    hg_jit_free(p);
    hg_map_free(&ref);
    hg_schedule_free(&s);
    return st;
}

static void out_all(hg_graph *g, const hg_value *v, int n) {
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "o%d", v[i]);
        hg_set_output(g, name, v[i]);
    }
}

/* ---------------------------------------------------- every elementwise op */

/* The bound of op on dtype t (see the file comment). */
static double bound(hg_op op, hg_dtype t) {
    if (t == HG_F64) {
        switch (op) {
        case HG_OP_exp: case HG_OP_expm1: case HG_OP_log: case HG_OP_log1p: case HG_OP_tanh:
        case HG_OP_sigmoid: case HG_OP_softplus:
            return 8;
        case HG_OP_gelu_tanh: /* 1 + tanh(u) amplifies tanh's error 40x at x = -2.5 */
            return 64;
        default: return 0;
        }
    }
    if (t != HG_F32) return 0;
    switch (op) {
    case HG_OP_exp: case HG_OP_log: case HG_OP_erf: case HG_OP_sin: case HG_OP_cos:
    case HG_OP_pow:
        return 2; /* erf 2; the rest 1 (+ rounding of the formula's inputs) */
    case HG_OP_expm1: case HG_OP_rsqrt: return 1.5;
    case HG_OP_log1p: case HG_OP_tanh: case HG_OP_sigmoid: return 2.5;
    case HG_OP_softplus: return 3;
    case HG_OP_gelu_tanh: return 1;
    default: return 0;
    }
}

typedef struct {
    int n;
    hg_shape s[3];
} pattern;

static hg_shape S(int r, int64_t a, int64_t b, int64_t c) {
    int64_t d[3] = {a, b, c};
    return hg_shape_make(r, d);
}

static int n_patterns(int arity, pattern *p) {
    int n = 0;
    if (arity == 1) {
        p[n++] = (pattern){1, {S(1, 37, 0, 0)}};
        p[n++] = (pattern){1, {S(0, 0, 0, 0)}};
        p[n++] = (pattern){1, {S(1, 0, 0, 0)}};
        p[n++] = (pattern){1, {S(3, 3, 5, 67)}};
    } else if (arity == 2) {
        p[n++] = (pattern){2, {S(1, 37, 0, 0), S(1, 37, 0, 0)}};
        p[n++] = (pattern){2, {S(3, 5, 1, 7), S(2, 3, 1, 0)}};
        p[n++] = (pattern){2, {S(0, 0, 0, 0), S(2, 2, 17, 0)}};
        p[n++] = (pattern){2, {S(2, 4, 33, 0), S(0, 0, 0, 0)}};
        p[n++] = (pattern){2, {S(2, 1, 33, 0), S(2, 4, 1, 0)}};
        p[n++] = (pattern){2, {S(2, 0, 3, 0), S(1, 3, 0, 0)}};
        p[n++] = (pattern){2, {S(0, 0, 0, 0), S(0, 0, 0, 0)}};
    } else {
        p[n++] = (pattern){3, {S(2, 4, 1, 0), S(2, 1, 19, 0), S(0, 0, 0, 0)}};
        p[n++] = (pattern){3, {S(1, 21, 0, 0), S(1, 21, 0, 0), S(1, 21, 0, 0)}};
        p[n++] = (pattern){3, {S(0, 0, 0, 0), S(2, 3, 18, 0), S(1, 18, 0, 0)}};
    }
    return n;
}

HG_TEST(loop_every_elementwise_op) {
    hg_dtype dts[4] = {HG_F32, HG_F64, HG_I32, HG_BOOL};
    int checked = 0, failed = 0;
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!(hg_op_table[op].flags & HG_OPF_ELEMENTWISE)) continue;
        int ar = hg_op_table[op].arity;
        for (int d = 0; d < 4; d++) {
            pattern pats[8];
            int np = n_patterns(ar, pats);
            for (int pi = 0; pi < np; pi++) {
                hg_graph *g = hg_graph_new();
                hg_value x[3];
                for (int i = 0; i < ar; i++) {
                    char nm[16];
                    snprintf(nm, sizeof nm, "x%d", i);
                    hg_dtype t = (op == HG_OP_where && i == 0) ? HG_BOOL : dts[d];
                    x[i] = hg_input(g, nm, t, pats[pi].s[i]);
                }
                hg_value y = hg_add_node(g, (hg_op)op, dts[d], pats[pi].s[0], ar, x, NULL);
                if (hg_graph_status(g).code != HG_OK) { /* op not defined on dtype */
                    hg_graph_free(g);
                    break;
                }
                out_all(g, &y, 1);
                hg_schedule s;
                HG_CHECK_OK(jt_schedule(g, &y, 1, HG_NONE, &s));
                int sup = hg_jit_supports(g, &s.kernels[0]);
                hg_schedule_free(&s);
                if (!sup) {
                    hg_graph_free(g);
                    break;
                }
                hg_tensor_map in;
                hg_map_init(&in);
                for (int i = 0; i < ar; i++) HG_CHECK_OK(feed(g, x[i], &in, i,
                                             op == HG_OP_sin || op == HG_OP_cos ? 1e6 : INFINITY));
                double err = 0;
                char what[256] = "";
                HG_CHECK_OK(jit_vs_ref(g, &y, 1, HG_NONE, &in, &err, what, sizeof what));
                checked++;
                if (!(err <= bound((hg_op)op, dts[d]))) {
                    fprintf(stderr, "%s %s pattern %d: error %.3g > %.3g at %s\n",
                            hg_op_table[op].name, hg_dtype_name(dts[d]), pi, err,
                            bound((hg_op)op, dts[d]), what);
                    failed++;
                }
                hg_map_free(&in);
                hg_graph_free(g);
            }
        }
    }
    printf("%d op/dtype/shape cases\n", checked);
    HG_CHECK(checked > 150);
    HG_CHECK(failed == 0);
}

/* cast between every pair of dtypes (NaN -> 0, saturation, bool 0/1). */
HG_TEST(loop_cast_every_pair) {
    hg_dtype dts[4] = {HG_F32, HG_F64, HG_I32, HG_BOOL};
    for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) {
            if (a == b) continue; /* hg_cast to the same dtype adds no node */
            hg_graph *g = hg_graph_new();
            hg_value x = hg_input(g, "x0", dts[a], hg_shape_of(2, (int64_t)3, (int64_t)41));
            hg_value y = hg_cast(g, x, dts[b]);
            out_all(g, &y, 1);
            hg_tensor_map in;
            hg_map_init(&in);
            HG_CHECK_OK(feed(g, x, &in, 3, INFINITY));
            double err = 0;
            char what[256] = "";
            HG_CHECK_OK(jit_vs_ref(g, &y, 1, HG_NONE, &in, &err, what, sizeof what));
            if (err != 0) HG_FAIL("cast %s -> %s: %s", hg_dtype_name(dts[a]), hg_dtype_name(dts[b]), what);
            hg_map_free(&in);
            hg_graph_free(g);
        }
}

/* Reductions: the JIT sums in a vectorised order in double. */
static hg_status reduce_case(hg_op rop, hg_shape xs, int naxes, const int *axes, int keepdims,
                             double *err, char *what, size_t wn) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x0", HG_F32, xs);
    hg_value w = hg_input(g, "x1", HG_F32, hg_shape_of(1, xs.rank ? xs.dim[xs.rank - 1] : 1));
    hg_value t = hg_mul(g, hg_neg(g, x), w); /* members: neg, mul, reduce (exact
                                                 elementwise: only the sum order differs) */
    hg_value r = hg_reduce(g, rop, t, naxes, axes, keepdims);
    hg_value mem[3] = {t - 1, t, r};
    out_all(g, mem + 1, 2);
    HG_TRY(hg_graph_status(g));
    hg_tensor_map in;
    hg_map_init(&in);
    hg_tensor *tx, *tw;
    HG_TRY(hg_map_alloc(&in, "x0", HG_F32, xs, &tx));
    HG_TRY(hg_map_alloc(&in, "x1", HG_F32, hg_value_shape(g, w), &tw));
    for (int64_t i = 0; i < hg_shape_numel(xs); i++)
        ((float *)tx->data)[i] = (float)hg_rng_normal(5, 1, 0, 0, (uint64_t)i);
    for (int64_t i = 0; i < hg_shape_numel(tw->shape); i++)
        ((float *)tw->data)[i] = (float)(1 + 0.1 * i);
    hg_status st = jit_vs_ref(g, mem, 3, r, &in, err, what, wn);
    hg_map_free(&in);
    hg_graph_free(g);
    return st;
}

HG_TEST(loop_reductions) {
    struct {
        hg_op op;
        hg_shape s;
        int naxes;
        int axes[3];
        int kd;
    } cs[] = {
        {HG_OP_sum, S(2, 37, 129, 0), 1, {1}, 0},     /* trailing */
        {HG_OP_mean, S(2, 37, 129, 0), 1, {-1}, 1},
        {HG_OP_max, S(2, 37, 129, 0), 1, {1}, 0},
        {HG_OP_sum, S(2, 300, 19, 0), 1, {0}, 0},     /* leading */
        {HG_OP_max, S(2, 300, 19, 0), 1, {0}, 1},
        {HG_OP_mean, S(3, 4, 9, 5), 1, {1}, 0},       /* middle */
        {HG_OP_sum, S(3, 4, 9, 5), 2, {0, 2}, 0},     /* outer two */
        {HG_OP_sum, S(3, 4, 9, 5), 0, {0}, 0},        /* all */
        {HG_OP_mean, S(1, 1000, 0, 0), 0, {0}, 0},
        {HG_OP_sum, S(2, 4, 0, 0), 1, {1}, 0},        /* empty: 0 */
        {HG_OP_mean, S(2, 4, 0, 0), 1, {1}, 0},       /* empty: NaN */
        {HG_OP_max, S(2, 4, 0, 0), 1, {1}, 0},        /* empty: -inf */
        {HG_OP_sum, S(2, 0, 4, 0), 1, {1}, 0},        /* no output elements */
        {HG_OP_sum, S(0, 0, 0, 0), 0, {0}, 0},        /* rank 0 */
        {HG_OP_max, S(2, 1, 7, 0), 1, {0}, 0},        /* reducing an extent-1 dim */
        /* column reductions (kept dim contiguous, reduced rows strided):
         * tiles of 256 columns, a partial last tile, several tiles per
         * thread chunk, kept dims outside the column level */
        {HG_OP_sum, S(2, 40, 600, 0), 1, {0}, 0},
        {HG_OP_mean, S(2, 40, 600, 0), 1, {0}, 1},
        {HG_OP_max, S(2, 40, 600, 0), 1, {0}, 0},
        {HG_OP_sum, S(3, 3, 50, 300), 2, {0, 1}, 0},  /* [B, E, C] -> [C] */
        {HG_OP_sum, S(3, 4, 9, 300), 1, {1}, 0},      /* [B, E, C] -> [B, C] */
        {HG_OP_max, S(3, 4, 9, 257), 1, {1}, 1},
        {HG_OP_sum, S(2, 0, 300, 0), 1, {0}, 0},      /* empty rows: 0 */
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        double err = 0;
        char what[256] = "";
        HG_CHECK_OK(reduce_case(cs[c].op, cs[c].s, cs[c].naxes, cs[c].axes, cs[c].kd, &err, what,
                                sizeof what));
        /* f32 ulps: the sum of up to 1000 terms of size ~1 in double, then
         * rounded: at most 1 ulp apart from the reference's order */
        if (!(err <= 1.0)) HG_FAIL("case %zu (%s): error %.3g ulp at %s", c,
                                   hg_op_table[cs[c].op].name, err, what);
    }
}

/* Reductions with broadcast inputs, where the loop order is chosen by the
 * inputs' sizes (jit_loop.c column_reduction): a row variance
 * mean((x - m)^2) with a [R, 1] m (row-wise nest), a column sum
 * sum(x g + c) over the rows with a [1, C] g and a [R, 1] c (column tiles),
 * and sum((c + g) x g c) (both broadcast inputs used twice). The expected
 * bound is computed here from the terms: |jit - ref| <= 1e-6 sum |terms|
 * (mean: / C), as loop_reductions. */
HG_TEST(loop_reductions_broadcast_inputs) {
    for (int cs = 0; cs < 3; cs++) {
        hg_graph *g = hg_graph_new();
        int64_t R = cs == 0 ? 37 : 301, C = cs == 0 ? 129 : 19;
        hg_value x = hg_input(g, "x0", HG_F32, hg_shape_of(2, R, C));
        hg_value m = hg_input(g, "x1", HG_F32, hg_shape_of(2, R, (int64_t)1));
        hg_value gr = hg_input(g, "x2", HG_F32, hg_shape_of(2, (int64_t)1, C));
        hg_value a, b, r;
        int ax = cs == 0 ? 1 : 0;
        if (cs == 0) {
            a = hg_sub(g, x, m);
            b = hg_square(g, a);
        } else if (cs == 1) {
            a = hg_mul(g, x, gr);
            b = hg_add(g, a, m);
        } else {
            a = hg_mul(g, hg_add(g, m, gr), x);
            b = hg_mul(g, hg_mul(g, a, gr), m);
        }
        r = hg_reduce(g, cs == 0 ? HG_OP_mean : HG_OP_sum, b, 1, &ax, 0);
        HG_CHECK_OK(hg_graph_status(g));
        hg_value mem[8];
        int n = 0;
        for (hg_value v = gr + 1; v <= r; v++) mem[n++] = v;
        out_all(g, &r, 1);
        hg_tensor_map in;
        hg_map_init(&in);
        HG_CHECK_OK(feed(g, x, &in, 0, 1e3));
        HG_CHECK_OK(feed(g, m, &in, 1, 1e3));
        HG_CHECK_OK(feed(g, gr, &in, 2, 1e3));
        /* reference sums of |terms| per output element, for the bound */
        hg_tensor_map ref;
        hg_map_init(&ref);
        HG_CHECK_OK(hg_ref_run(g, NULL, &in, &ref, NULL));
        double err = 0;
        char what[256] = "";
        hg_schedule s;
        HG_CHECK_OK(jt_schedule(g, mem, n, r, &s));
        hg_jit_program *p = NULL;
        hg_jit_options opt = {"", NULL};
        HG_CHECK_OK(hg_jit_compile(g, &s, NULL, &opt, &p));
        HG_CHECK(hg_jit_has(p, 0));
        hg_tensor o[1] = {{0}};
        HG_CHECK_OK(jt_run(g, &s, p, &in, o));
        char name[32];
        snprintf(name, sizeof name, "o%d", r);
        const hg_tensor *want = hg_map_get(&ref, name);
        HG_CHECK(want);
        const float *xv = hg_map_get(&in, "x0")->data, *mv = hg_map_get(&in, "x1")->data,
                    *gv = hg_map_get(&in, "x2")->data;
        int64_t nout = hg_shape_numel(want->shape);
        for (int64_t j = 0; j < nout; j++) {
            double abs_sum = 0;
            int64_t nt = cs == 0 ? C : R;
            for (int64_t t = 0; t < nt; t++) {
                int64_t i = cs == 0 ? j : t, c = cs == 0 ? t : j;
                double xx = xv[i * C + c], mm = mv[i], gg = gv[c], term;
                if (cs == 0) term = (xx - mm) * (xx - mm);
                else if (cs == 1) term = xx * gg + mm;
                else term = (mm + gg) * xx * gg * mm;
                abs_sum += fabs(term);
            }
            if (cs == 0) abs_sum /= (double)C;
            double got = ((float *)o[0].data)[j], w = hg_tensor_get(want, j);
            double e = fabs(got - w) / (abs_sum > 0 ? abs_sum : 1);
            if (e > err) {
                err = e;
                snprintf(what, sizeof what, "case %d [%lld]: jit %.9g ref %.9g", cs, (long long)j, got, w);
            }
        }
        if (!(err <= 1e-6)) HG_FAIL("relative error %.3g at %s", err, what);
        hg_tensor_free(&o[0]);
        hg_jit_free(p);
        hg_schedule_free(&s);
        hg_map_free(&ref);
        hg_map_free(&in);
        hg_graph_free(g);
    }
}

/* A fused chain with several outputs and broadcast inputs of every kind
 * (scalar constant, row, column). */
HG_TEST(loop_fused_chain) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x0", HG_F32, hg_shape_of(2, (int64_t)13, (int64_t)70));
    hg_value row = hg_input(g, "x1", HG_F32, hg_shape_of(1, (int64_t)70));
    hg_value col = hg_input(g, "x2", HG_F32, hg_shape_of(2, (int64_t)13, (int64_t)1));
    hg_value a = hg_mul(g, x, row);                 /* %3 */
    hg_value b = hg_add(g, a, col);                 /* %4 */
    hg_value c = hg_gelu(g, b);                     /* %5 */
    hg_value d = hg_add_s(g, c, 0.25);              /* %6 const, %7 */
    hg_value e = hg_sigmoid(g, d);                  /* %8 */
    hg_value f = hg_where(g, hg_binary(g, HG_OP_gt, e, hg_scalar(g, HG_F32, 0.6)), e, b);
    HG_CHECK_OK(hg_graph_status(g));
    hg_value mem[16];
    int n = 0;
    for (hg_value v = a; v <= f; v++)
        if (hg_node_at(g, v)->op != HG_OP_constant) mem[n++] = v;
    hg_value outs[3] = {b, e, f};
    out_all(g, outs, 3);
    hg_tensor_map in;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 0, INFINITY));
    HG_CHECK_OK(feed(g, row, &in, 1, INFINITY));
    HG_CHECK_OK(feed(g, col, &in, 2, INFINITY));
    double err = 0;
    char what[256] = "";
    HG_CHECK_OK(jit_vs_ref(g, mem, n, HG_NONE, &in, &err, what, sizeof what));
    /* gelu 1 ulp, its rounding through + 0.25 and sigmoid 2.5: 4 ulp */
    if (!(err <= 4.0)) HG_FAIL("error %.3g ulp at %s", err, what);
    hg_map_free(&in);
    hg_graph_free(g);
}

/* random_uniform / random_normal of dtype t and shape sh in one fused
 * kernel with an elementwise use of both: the draws and u x + z equal the
 * reference's bits (Philox inline, jit_random.c), on `threads` threads. */
static void random_exact(hg_dtype t, hg_shape sh, int threads) {
    hg_graph *g = hg_graph_new();
    hg_value seed = hg_input(g, "seed", HG_I32, hg_shape_scalar());
    hg_value step = hg_input(g, "step", HG_I32, hg_shape_scalar());
    hg_value rep = hg_input(g, "rep", HG_I32, hg_shape_scalar());
    hg_value x = hg_input(g, "x0", t, sh);
    hg_value u = hg_random_uniform(g, t, sh, seed, step, rep);
    hg_value z = hg_random_normal(g, t, sh, seed, step, rep);
    hg_value y = hg_add(g, hg_mul(g, u, x), z);
    HG_CHECK_OK(hg_graph_status(g));
    hg_value mem[4] = {u, z, y - 1, y};
    hg_value outs[3] = {u, z, y};
    out_all(g, outs, 3);
    hg_tensor_map in;
    hg_map_init(&in);
    hg_tensor *tt;
    /* seed and replica with the top bit set: the i32 inputs are uint32 words */
    int32_t sv[3] = {(int32_t)0x9abcdef1u, 17, (int32_t)0x80000002u};
    const char *nm[3] = {"seed", "step", "rep"};
    for (int i = 0; i < 3; i++) {
        HG_CHECK_OK(hg_map_alloc(&in, nm[i], HG_I32, hg_shape_scalar(), &tt));
        ((int32_t *)tt->data)[0] = sv[i];
    }
    HG_CHECK_OK(feed(g, x, &in, 0, 1e30));
    double err = 0;
    char what[256] = "";
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    HG_CHECK_OK(jit_vs_ref(g, mem, 4, HG_NONE, &in, &err, what, sizeof what));
    omp_set_num_threads(saved);
    if (err != 0)
        HG_FAIL("%s, %lld elements, %d threads: random draws differ: %s", hg_dtype_name(t),
                (long long)hg_shape_numel(sh), threads, what);
    hg_map_free(&in);
    hg_graph_free(g);
}

/* every size class: rank 0, below / not a multiple of the vector width
 * (16 f32, 8 f64) and of the Philox block (4), one split across threads */
HG_TEST(loop_random_exact) {
    hg_shape sh[] = {hg_shape_scalar(), hg_shape_of(1, (int64_t)3), hg_shape_of(1, (int64_t)17),
                     hg_shape_of(2, (int64_t)7, (int64_t)33),
                     hg_shape_of(2, (int64_t)3, (int64_t)40001)};
    hg_dtype dt[2] = {HG_F32, HG_F64};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 5; i++)
            for (int th = 1; th <= 2; th++) random_exact(dt[d], sh[i], th);
}

/* The same kernel on 1 and 2 threads gives the same bits (elementwise and
 * reductions; sizes large enough to be split). */
static void threads_bit_identical(int ax) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x0", HG_F32, hg_shape_of(2, (int64_t)517, (int64_t)300));
    hg_value e = hg_exp(g, hg_tanh(g, x));
    hg_value r = hg_reduce(g, HG_OP_sum, e, 1, &ax, 0);
    hg_value mem[3] = {e - 1, e, r};
    hg_value outs[2] = {e, r};
    out_all(g, outs, 2);
    hg_schedule s;
    HG_CHECK_OK(jt_schedule(g, mem, 3, r, &s));
    hg_tensor_map in;
    hg_map_init(&in);
    HG_CHECK_OK(feed(g, x, &in, 0, INFINITY));
    hg_jit_options opt = {"", NULL};
    hg_jit_program *p;
    HG_CHECK_OK(hg_jit_compile(g, &s, NULL, &opt, &p));
    hg_tensor o1[2] = {{0}}, o2[2] = {{0}};
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    HG_CHECK_OK(jt_run(g, &s, p, &in, o1));
    omp_set_num_threads(2);
    HG_CHECK_OK(jt_run(g, &s, p, &in, o2));
    omp_set_num_threads(saved);
    for (int o = 0; o < 2; o++)
        HG_CHECK(memcmp(o1[o].data, o2[o].data, hg_tensor_bytes(&o1[o])) == 0);
    for (int o = 0; o < 2; o++) {
        hg_tensor_free(&o1[o]);
        hg_tensor_free(&o2[o]);
    }
    hg_jit_free(p);
    hg_schedule_free(&s);
    hg_map_free(&in);
    hg_graph_free(g);
}

/* row-wise (axis 1) and column (axis 0) reductions */
HG_TEST(loop_threads_bit_identical) {
    threads_bit_identical(1);
    threads_bit_identical(0);
}
