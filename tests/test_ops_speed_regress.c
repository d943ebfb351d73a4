/* Reference interpreter fast paths (codegen/ref_elementwise.c typed loops,
 * ref_reduce.c contiguous/column paths, ref_composite.c typed rows,
 * ref_matmul.c AVX2 clones) against naive per-element formulas written
 * here: double math rounded once to the dtype (f32 + - * / in double, then
 * rounded), ascending-order sums. Every comparison is bit-exact (NaN ==
 * NaN), and every run is repeated with 1 and 2 OpenMP threads, which must
 * agree bit for bit. Shapes cover each broadcast pattern the kernels
 * specialise (contiguous, scalar, leading, middle, trailing, both sides,
 * rank 0, empty) and sizes above the single-thread threshold. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

HG_LABELS(fast)

/* ------------------------------------------------------------ helpers */

/* Deterministic test data: mostly values in [-4, 4), with NaN, +-inf,
 * -0 and 0 sprinkled in when `special` is set. */
static double datum(uint64_t i, int special) {
    uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull;
    z ^= z >> 29;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 32;
    if (special) {
        switch (z % 61) {
        case 0: return NAN;
        case 1: return INFINITY;
        case 2: return -INFINITY;
        case 3: return -0.0;
        case 4: return 0.0;
        default: break;
        }
    }
    return ((double)(z >> 11) / 9007199254740992.0) * 8.0 - 4.0;
}

static hg_value make_const(hg_graph *g, hg_dtype t, hg_shape s, uint64_t seed,
                           int special) {
    int64_t n = hg_shape_numel(s);
    void *buf = malloc((size_t)(n > 0 ? n : 1) * hg_dtype_size(t));
    for (int64_t i = 0; i < n; i++) {
        double v = datum(seed * 1000003u + (uint64_t)i, special);
        switch (t) {
        case HG_F32: ((float *)buf)[i] = (float)v; break;
        case HG_F64: ((double *)buf)[i] = v; break;
        case HG_I32: ((int32_t *)buf)[i] = (int32_t)(v * 1e8); break;
        default: ((uint8_t *)buf)[i] = v > 0; break;
        }
    }
    hg_value c = hg_constant(g, t, s, buf);
    free(buf);
    return c;
}

/* Input element read as double (bools as 0/1). */
static double elem(const void *data, hg_dtype t, int64_t i) {
    switch (t) {
    case HG_F32: return ((const float *)data)[i];
    case HG_F64: return ((const double *)data)[i];
    case HG_I32: return ((const int32_t *)data)[i];
    default: return ((const uint8_t *)data)[i] != 0;
    }
}

/* Bit-exact equality of element i of a result and an expected double
 * rounded to t (any NaN equals any NaN). */
static int same(const hg_tensor *r, int64_t i, double want) {
    switch (r->dtype) {
    case HG_F32: {
        float a = ((const float *)r->data)[i], b = (float)want;
        if (a != a && b != b) return 1;
        return memcmp(&a, &b, 4) == 0;
    }
    case HG_F64: {
        double a = ((const double *)r->data)[i];
        if (a != a && want != want) return 1;
        return memcmp(&a, &want, 8) == 0;
    }
    case HG_I32: return ((const int32_t *)r->data)[i] == (int32_t)want;
    default: return ((const uint8_t *)r->data)[i] == (want != 0);
    }
}

/* Runs graph g (one output "y") with 1 and then 2 threads; returns the
 * 1-thread result in *out (owned) and whether both agree bit for bit. */
static int run_both(hg_graph *g, hg_value y, hg_tensor *out) {
    hg_set_output(g, "y", y);
    hg_status s = hg_verify(g);
    if (s.code != HG_OK) {
        fprintf(stderr, "verify: %s\n", s.msg);
        return 0;
    }
    int saved = omp_get_max_threads(), ok = 1;
    hg_tensor res[2];
    memset(res, 0, sizeof res);
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        hg_tensor_map m;
        hg_map_init(&m);
        s = hg_ref_run(g, NULL, NULL, &m, NULL);
        if (s.code != HG_OK) {
            fprintf(stderr, "run: %s\n", s.msg);
            ok = 0;
        } else {
            hg_tensor_copy(&res[k], hg_map_get(&m, "y"));
        }
        hg_map_free(&m);
    }
    omp_set_num_threads(saved);
    if (ok)
        ok = hg_tensor_bytes(&res[0]) == hg_tensor_bytes(&res[1]) &&
             memcmp(res[0].data, res[1].data, hg_tensor_bytes(&res[0])) == 0;
    if (!ok) fprintf(stderr, "1 and 2 threads differ (or failed)\n");
    *out = res[0];
    hg_tensor_free(&res[1]);
    return ok;
}

/* Flat index into input shape `is` (right-aligned, numpy broadcasting) of
 * output element o of shape os. */
static int64_t bcast_index(hg_shape os, hg_shape is, int64_t o) {
    int64_t idx = 0, st = 1;
    for (int d = os.rank - 1; d >= 0; d--) {
        int64_t id = o % os.dim[d];
        o /= os.dim[d];
        int e = d - (os.rank - is.rank);
        if (e >= 0) {
            if (is.dim[e] != 1) idx += id * st;
            st *= is.dim[e];
        }
    }
    return idx;
}

static hg_shape SH(int r, int64_t a, int64_t b, int64_t c) {
    int64_t d[3] = {a, b, c};
    return hg_shape_make(r, d);
}

/* ----------------------------------------------------- the naive formulas */

static double naive_binary(hg_op op, double a, double b) {
    switch (op) {
    case HG_OP_add: return a + b;
    case HG_OP_sub: return a - b;
    case HG_OP_mul: return a * b;
    case HG_OP_div: return a / b;
    case HG_OP_pow: return pow(a, b);
    case HG_OP_maximum: return (isnan(a) || isnan(b)) ? NAN : (a >= b ? a : b);
    case HG_OP_minimum: return (isnan(a) || isnan(b)) ? NAN : (a <= b ? a : b);
    case HG_OP_eq: return a == b;
    case HG_OP_ne: return a != b;
    case HG_OP_lt: return a < b;
    case HG_OP_le: return a <= b;
    case HG_OP_gt: return a > b;
    case HG_OP_ge: return a >= b;
    case HG_OP_logical_and: return a != 0 && b != 0;
    case HG_OP_logical_or: return a != 0 || b != 0;
    default: return NAN;
    }
}

static double naive_unary(hg_op op, double a) {
    switch (op) {
    case HG_OP_neg: return -a;
    case HG_OP_abs: return fabs(a);
    case HG_OP_exp: return exp(a);
    case HG_OP_log1p: return log1p(a);
    case HG_OP_sqrt: return sqrt(a);
    case HG_OP_rsqrt: return 1.0 / sqrt(a);
    case HG_OP_square: return a * a;
    case HG_OP_tanh: return tanh(a);
    case HG_OP_gelu_tanh: /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        return 0.5 * a * (1.0 + tanh(0.79788456080286535588 *
                                     (a + 0.044715 * a * a * a)));
    case HG_OP_logical_not: return a == 0;
    default: return NAN;
    }
}

/* The broadcast patterns: output [5, 3, 2600] (39000 elements, above the
 * single-thread threshold and spanning several blocks) unless noted. */
typedef struct {
    int ra;
    int64_t a[3];
    int rb;
    int64_t b[3];
} bshapes;

static const bshapes PATTERNS[] = {
    {3, {5, 3, 2600}, 3, {5, 3, 2600}}, /* contiguous */
    {3, {5, 3, 2600}, 0, {0, 0, 0}},    /* scalar right */
    {0, {0, 0, 0}, 3, {5, 3, 2600}},    /* scalar left */
    {3, {5, 3, 2600}, 2, {3, 2600, 0}}, /* leading broadcast (missing dim) */
    {3, {1, 3, 2600}, 3, {5, 3, 2600}}, /* leading broadcast (size 1) */
    {3, {5, 3, 2600}, 3, {5, 1, 2600}}, /* middle broadcast */
    {3, {5, 3, 2600}, 3, {5, 3, 1}},    /* trailing broadcast */
    {3, {5, 3, 1}, 3, {1, 1, 2600}},    /* both sides */
    {3, {5, 1, 7}, 3, {1, 3, 1}},       /* small, both sides, 1 thread */
    {0, {0, 0, 0}, 0, {0, 0, 0}},       /* rank 0 */
    {2, {0, 3, 0}, 1, {3, 0, 0}},       /* empty */
};
#define N_PATTERNS (int)(sizeof PATTERNS / sizeof PATTERNS[0])

/* Checks op(a, b) for every pattern; input dtype t, with special values. */
static int check_binary(hg_op op, hg_dtype t, int special) {
    for (int p = 0; p < N_PATTERNS; p++) {
        hg_graph *g = hg_graph_new();
        hg_shape sa = SH(PATTERNS[p].ra, PATTERNS[p].a[0], PATTERNS[p].a[1],
                         PATTERNS[p].a[2]);
        hg_shape sb = SH(PATTERNS[p].rb, PATTERNS[p].b[0], PATTERNS[p].b[1],
                         PATTERNS[p].b[2]);
        hg_value va = make_const(g, t, sa, 11 + (uint64_t)p, special);
        hg_value vb = make_const(g, t, sb, 97 + (uint64_t)p, special);
        hg_tensor r;
        int ok = run_both(g, hg_binary(g, op, va, vb), &r);
        const hg_node *na = &g->nodes[va], *nb = &g->nodes[vb];
        int64_t n = hg_shape_numel(r.shape);
        for (int64_t o = 0; ok && o < n; o++) {
            double a = elem(na->data, t, bcast_index(r.shape, sa, o));
            double b = elem(nb->data, t, bcast_index(r.shape, sb, o));
            double w = naive_binary(op, a, b);
            if (t == HG_I32 && (op == HG_OP_add || op == HG_OP_sub ||
                                op == HG_OP_mul)) { /* 32-bit wrap */
                int64_t x = (int64_t)a, y = (int64_t)b;
                uint64_t u = op == HG_OP_add ? (uint64_t)x + (uint64_t)y
                             : op == HG_OP_sub ? (uint64_t)x - (uint64_t)y
                                               : (uint64_t)x * (uint64_t)y;
                w = (double)(int32_t)(uint32_t)u;
            }
            if (!same(&r, o, w)) {
                fprintf(stderr, "%s %s pattern %d element %lld: got %.17g want %.17g\n",
                        hg_op_table[op].name, hg_dtype_name(t), p, (long long)o,
                        hg_tensor_get(&r, o), w);
                ok = 0;
            }
        }
        if (ok && p == N_PATTERNS - 1 && n != 0) ok = 0; /* empty stays empty */
        hg_tensor_free(&r);
        hg_graph_free(g);
        if (!ok) return 0;
    }
    return 1;
}

/* -------------------------------------------------------- elementwise */

HG_TEST(binary_arith_f32_f64) {
    hg_op ops[] = {HG_OP_add, HG_OP_sub, HG_OP_mul, HG_OP_div,
                   HG_OP_maximum, HG_OP_minimum};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        HG_CHECK(check_binary(ops[i], HG_F32, 1));
        HG_CHECK(check_binary(ops[i], HG_F64, 1));
    }
    HG_CHECK(check_binary(HG_OP_pow, HG_F32, 0));
    HG_CHECK(check_binary(HG_OP_pow, HG_F64, 0));
}

HG_TEST(binary_compare_logical_int) {
    hg_op cmp[] = {HG_OP_eq, HG_OP_ne, HG_OP_lt, HG_OP_le, HG_OP_gt, HG_OP_ge};
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        HG_CHECK(check_binary(cmp[i], HG_F32, 1));
        HG_CHECK(check_binary(cmp[i], HG_F64, 1));
        HG_CHECK(check_binary(cmp[i], HG_I32, 0));
    }
    HG_CHECK(check_binary(HG_OP_logical_and, HG_BOOL, 0));
    HG_CHECK(check_binary(HG_OP_logical_or, HG_BOOL, 0));
    HG_CHECK(check_binary(HG_OP_add, HG_I32, 0));
    HG_CHECK(check_binary(HG_OP_sub, HG_I32, 0));
    HG_CHECK(check_binary(HG_OP_mul, HG_I32, 0));
    HG_CHECK(check_binary(HG_OP_maximum, HG_I32, 0));
}

HG_TEST(unary_f32_f64) {
    hg_op ops[] = {HG_OP_neg, HG_OP_abs, HG_OP_exp, HG_OP_log1p, HG_OP_sqrt,
                   HG_OP_rsqrt, HG_OP_square, HG_OP_tanh, HG_OP_gelu_tanh};
    hg_dtype ts[] = {HG_F32, HG_F64};
    hg_shape shapes[] = {SH(3, 5, 3, 2600), SH(2, 7, 9, 0), SH(0, 0, 0, 0),
                         SH(2, 0, 4, 0)};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        for (int ti = 0; ti < 2; ti++)
            for (int si = 0; si < 4; si++) {
                hg_graph *g = hg_graph_new();
                hg_value vx = make_const(g, ts[ti], shapes[si], 5 + (uint64_t)si, 1);
                hg_tensor r;
                int ok = run_both(g, hg_unary(g, ops[i], vx), &r);
                int64_t n = hg_shape_numel(shapes[si]);
                ok = ok && hg_shape_numel(r.shape) == n;
                for (int64_t o = 0; ok && o < n; o++) {
                    double w = naive_unary(ops[i], elem(g->nodes[vx].data, ts[ti], o));
                    if (!same(&r, o, w)) {
                        fprintf(stderr, "%s %s element %lld: got %.17g want %.17g\n",
                                hg_op_table[ops[i]].name, hg_dtype_name(ts[ti]),
                                (long long)o, hg_tensor_get(&r, o), w);
                        ok = 0;
                    }
                }
                hg_tensor_free(&r);
                hg_graph_free(g);
                HG_CHECK(ok);
            }
    /* logical_not on bool */
    hg_graph *g = hg_graph_new();
    hg_value vb = make_const(g, HG_BOOL, SH(2, 300, 200, 0), 3, 0);
    hg_tensor r;
    int ok = run_both(g, hg_unary(g, HG_OP_logical_not, vb), &r);
    for (int64_t o = 0; ok && o < 60000; o++)
        ok = same(&r, o, elem(g->nodes[vb].data, HG_BOOL, o) == 0);
    hg_tensor_free(&r);
    hg_graph_free(g);
    HG_CHECK(ok);
}

HG_TEST(where_all_patterns) {
    /* condition, x, y shapes; output [5, 3, 2600] unless rank 0 / empty */
    static const int64_t sh[][3][4] = { /* {rank, d0, d1, d2} */
        {{3, 5, 3, 2600}, {3, 5, 3, 2600}, {3, 5, 3, 2600}},
        {{3, 5, 1, 2600}, {3, 5, 3, 2600}, {0, 0, 0, 0}},
        {{2, 3, 2600, 0}, {0, 0, 0, 0}, {3, 5, 3, 2600}},
        {{3, 5, 3, 1}, {3, 1, 3, 2600}, {3, 5, 3, 1}},
        {{0, 0, 0, 0}, {3, 5, 3, 2600}, {1, 2600, 0, 0}},
        {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}},
        {{2, 0, 4, 0}, {1, 4, 0, 0}, {0, 0, 0, 0}},
    };
    hg_dtype ts[] = {HG_F32, HG_F64, HG_I32, HG_BOOL};
    for (int ti = 0; ti < 4; ti++)
        for (size_t p = 0; p < sizeof sh / sizeof sh[0]; p++) {
            hg_graph *g = hg_graph_new();
            hg_shape s[3];
            for (int k = 0; k < 3; k++)
                s[k] = SH((int)sh[p][k][0], sh[p][k][1], sh[p][k][2], sh[p][k][3]);
            hg_value vc = make_const(g, HG_BOOL, s[0], 1 + p, 0);
            hg_value vx = make_const(g, ts[ti], s[1], 2 + p, 1);
            hg_value vy = make_const(g, ts[ti], s[2], 3 + p, 1);
            hg_tensor r;
            int ok = run_both(g, hg_where(g, vc, vx, vy), &r);
            int64_t n = hg_shape_numel(r.shape);
            size_t es = hg_dtype_size(ts[ti]);
            for (int64_t o = 0; ok && o < n; o++) {
                int c = ((const uint8_t *)g->nodes[vc].data)[bcast_index(r.shape, s[0], o)];
                const char *src = c ? (const char *)g->nodes[vx].data +
                                          bcast_index(r.shape, s[1], o) * es
                                    : (const char *)g->nodes[vy].data +
                                          bcast_index(r.shape, s[2], o) * es;
                ok = memcmp((const char *)r.data + o * es, src, es) == 0;
                if (!ok)
                    fprintf(stderr, "where %s pattern %zu element %lld\n",
                            hg_dtype_name(ts[ti]), p, (long long)o);
            }
            hg_tensor_free(&r);
            hg_graph_free(g);
            HG_CHECK(ok);
        }
}

/* ------------------------------------------------------------ reduce */

HG_TEST(reduce_paths) {
    /* x [6, 5, 1300]: trailing (contiguous), leading and middle (column),
     * leading + trailing (generic), all axes, plus an empty reduction */
    struct { int naxes; int axes[2]; } cases[] = {
        {1, {2, 0}}, {2, {1, 2}}, {1, {0, 0}}, {1, {1, 0}}, {2, {0, 1}},
        {2, {0, 2}}, {0, {0, 0}},
    };
    hg_op ops[] = {HG_OP_sum, HG_OP_mean, HG_OP_max};
    hg_dtype ts[] = {HG_F32, HG_F64};
    hg_shape xs = SH(3, 6, 5, 1300);
    for (int ti = 0; ti < 2; ti++)
        for (int oi = 0; oi < 3; oi++)
            for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
                hg_graph *g = hg_graph_new();
                hg_value vx = make_const(g, ts[ti], xs, 40 + ci, oi == 2);
                hg_tensor r;
                int ok = run_both(g, hg_reduce(g, ops[oi], vx, cases[ci].naxes,
                                               cases[ci].axes, 1), &r);
                int red[3] = {cases[ci].naxes == 0, cases[ci].naxes == 0,
                              cases[ci].naxes == 0};
                for (int k = 0; k < cases[ci].naxes; k++) red[cases[ci].axes[k]] = 1;
                /* naive: one pass over the input in ascending order, each
                 * element added into its output's accumulator */
                int64_t no = hg_shape_numel(r.shape);
                double *acc = malloc((size_t)no * sizeof *acc);
                int64_t *cnt = calloc((size_t)no, sizeof *cnt);
                for (int64_t o = 0; o < no; o++)
                    acc[o] = ops[oi] == HG_OP_max ? -INFINITY : 0;
                for (int64_t i = 0; ok && i < 6 * 5 * 1300; i++) {
                    int64_t id[3] = {i / 6500, (i / 1300) % 5, i % 1300};
                    int64_t o = 0;
                    for (int d = 0; d < 3; d++)
                        o = o * r.shape.dim[d] + (red[d] ? 0 : id[d]);
                    double v = elem(g->nodes[vx].data, ts[ti], i);
                    if (ops[oi] == HG_OP_max)
                        acc[o] = isnan(acc[o]) ? acc[o] : (isnan(v) || v > acc[o]) ? v : acc[o];
                    else
                        acc[o] += v;
                    cnt[o]++;
                }
                for (int64_t o = 0; ok && o < no; o++) {
                    double w = ops[oi] == HG_OP_mean ? acc[o] / (double)cnt[o] : acc[o];
                    if (!same(&r, o, w)) {
                        fprintf(stderr, "%s %s case %zu output %lld: got %.17g want %.17g\n",
                                hg_op_table[ops[oi]].name, hg_dtype_name(ts[ti]), ci,
                                (long long)o, hg_tensor_get(&r, o), w);
                        ok = 0;
                    }
                }
                free(acc);
                free(cnt);
                hg_tensor_free(&r);
                hg_graph_free(g);
                HG_CHECK(ok);
            }
    /* empty reduction: sum 0, max -inf, mean NaN */
    hg_graph *g = hg_graph_new();
    hg_value vx = make_const(g, HG_F32, SH(2, 3, 0, 0), 1, 0);
    int ax = 1;
    hg_tensor r;
    HG_CHECK(run_both(g, hg_reduce(g, HG_OP_max, vx, 1, &ax, 0), &r));
    HG_CHECK(hg_shape_numel(r.shape) == 3 && isinf(hg_tensor_get(&r, 2)) &&
             hg_tensor_get(&r, 2) < 0);
    hg_tensor_free(&r);
    hg_graph_free(g);
}

/* --------------------------------------------------------- composite */

HG_TEST(softmax_layer_norm_rows) {
    hg_dtype ts[] = {HG_F32, HG_F64};
    hg_shape shapes[] = {SH(3, 4, 30, 640), SH(1, 5, 0, 0), SH(2, 3, 1, 0)};
    for (int ti = 0; ti < 2; ti++)
        for (int si = 0; si < 3; si++)
            for (int ln = 0; ln < 2; ln++) {
                hg_graph *g = hg_graph_new();
                hg_value vx = make_const(g, ts[ti], shapes[si], 77 + si, 0);
                hg_tensor r;
                int ok = run_both(g, ln ? hg_layer_norm(g, vx, 1e-5) : hg_softmax(g, vx), &r);
                int64_t n = hg_shape_numel(shapes[si]);
                int64_t C = shapes[si].dim[shapes[si].rank - 1];
                const void *x = g->nodes[vx].data;
                for (int64_t o = 0; ok && o < n; o += C) {
                    if (ln) {
                        double mean = 0, var = 0;
                        for (int64_t j = 0; j < C; j++) mean += elem(x, ts[ti], o + j);
                        mean /= (double)C;
                        for (int64_t j = 0; j < C; j++) {
                            double d = elem(x, ts[ti], o + j) - mean;
                            var += d * d;
                        }
                        var /= (double)C;
                        double inv = 1.0 / sqrt(var + 1e-5);
                        for (int64_t j = 0; ok && j < C; j++)
                            ok = same(&r, o + j, (elem(x, ts[ti], o + j) - mean) * inv);
                    } else {
                        double m = -INFINITY, sum = 0;
                        for (int64_t j = 0; j < C; j++) m = fmax(m, elem(x, ts[ti], o + j));
                        for (int64_t j = 0; j < C; j++) sum += exp(elem(x, ts[ti], o + j) - m);
                        for (int64_t j = 0; ok && j < C; j++) {
                            double e = exp(elem(x, ts[ti], o + j) - m);
                            /* the stored exp (rounded to the dtype) over the sum */
                            double stored = ts[ti] == HG_F32 ? (double)(float)e : e;
                            ok = same(&r, o + j, stored / sum);
                        }
                    }
                    if (!ok)
                        fprintf(stderr, "%s %s shape %d row %lld\n", ln ? "layer_norm" : "softmax",
                                hg_dtype_name(ts[ti]), si, (long long)(o / C));
                }
                hg_tensor_free(&r);
                hg_graph_free(g);
                HG_CHECK(ok);
            }
}

/* ------------------------------------------------------------ matmul */

HG_TEST(matmul_transposes) {
    /* [2, M, K] x [K, N] batch-broadcast, odd sizes (vector tails) */
    const int64_t M = 37, K = 29, N = 45;
    hg_dtype ts[] = {HG_F32, HG_F64};
    for (int ti = 0; ti < 2; ti++)
        for (int tr = 0; tr < 4; tr++) {
            int ta = tr & 1, tb = tr >> 1;
            hg_graph *g = hg_graph_new();
            hg_value va = make_const(g, ts[ti], ta ? SH(3, 2, K, M) : SH(3, 2, M, K), 8, 0);
            hg_value vb = make_const(g, ts[ti], tb ? SH(2, N, K, 0) : SH(2, K, N, 0), 9, 0);
            hg_tensor r;
            int ok = run_both(g, hg_matmul(g, va, vb, ta, tb), &r);
            const void *a = g->nodes[va].data, *b = g->nodes[vb].data;
            for (int64_t bi = 0; ok && bi < 2; bi++)
                for (int64_t i = 0; ok && i < M; i++)
                    for (int64_t j = 0; ok && j < N; j++) {
                        float sf = 0;
                        double sd = 0;
                        for (int64_t k = 0; k < K; k++) {
                            int64_t ia = bi * M * K + (ta ? k * M + i : i * K + k);
                            int64_t ib = tb ? j * K + k : k * N + j;
                            if (ts[ti] == HG_F32) {
                                float p = (float)elem(a, HG_F32, ia) * (float)elem(b, HG_F32, ib);
                                sf = sf + p;
                            } else {
                                double p = elem(a, HG_F64, ia) * elem(b, HG_F64, ib);
                                sd = sd + p;
                            }
                        }
                        ok = same(&r, (bi * M + i) * N + j, ts[ti] == HG_F32 ? sf : sd);
                        if (!ok)
                            fprintf(stderr, "matmul %s ta %d tb %d [%lld, %lld, %lld]\n",
                                    hg_dtype_name(ts[ti]), ta, tb, (long long)bi,
                                    (long long)i, (long long)j);
                    }
            hg_tensor_free(&r);
            hg_graph_free(g);
            HG_CHECK(ok);
        }
}
