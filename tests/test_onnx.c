/* ONNX export (codegen/onnx.h): every exported graph passes the reference
 * checker (tests/onnx_check.py: onnx.checker.check_model(full_check=True),
 * Debian python3-onnx) and runs in ONNX Runtime (tests/ort_run.js,
 * onnxruntime-node) giving the outputs of halograph's reference interpreter
 * on the same inputs, weights and noise (relative 1e-4; integer outputs and
 * the index ops exactly). Cases:
 *   - a graph holding every op of the op table (the test fails when an op
 *     is added to the table but not to this graph), against hg_ref_run;
 *   - knn on a lattice (massive exact ties), padding and k > real points:
 *     indices identical; scatter_max / scatter_add / gather with dropped
 *     indices and empty segments: identical;
 *   - refusals: knn on f64 (not expressible with exact ties), a missing
 *     state tensor; nothing left at the path;
 *   - the transformer and the graph network, demo and paper configs, graph
 *     kinds score, sample-step and nelbo (S = 2), batch 1 (demo score: 2),
 *     with EVERY weight re-initialised to non-zero random values first.
 *     The paper configs run with n_particles reduced to 500 (a copy of the
 *     config in memory; every architecture key unchanged): at N = 5000 the
 *     reference interpreter alone needs minutes per graph (the paper
 *     transformer's 6 attention layers over 5000^2 pairs, the paper graph
 *     network's 100,000 edges through 4 x 4 MLP layers), too slow for ctest.
 *     The environment variable HG_ONNX_PAPER_N sets another N (0: 5000).
 * Data is exchanged with node as .npy files (runtime.h hg_npy_read/write).
 * A part whose tool is missing (python3-onnx, node, onnxruntime-node)
 * prints "skipped: ..." and passes. */
#include "tests/hg_test.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "codegen/onnx.h"
#include "models/models.h"
#include "runtime/runtime.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double urand(rng *r) { return (double)(next_u64(r) >> 11) * 0x1.0p-53; }

static const char *tmp_path(const char *name) {
    static char buf[8][2048];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 2048, "%s/%s", hg_test_tmpdir(), name);
    return p;
}

static int have_node_ort(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "command -v node >/dev/null 2>&1 && cd %s && node -e \"try{require('onnxruntime-node')}"
             "catch(e){require('./build/npm/node_modules/onnxruntime-node')}\" >/dev/null 2>&1",
             hg_test_srcdir());
    return system(cmd) == 0;
}

/* Runs tests/onnx_check.py on path; 0 ok, 1 failed, 77 skipped. */
static int run_checker(const char *path, const char *extra) {
    if (access("/usr/bin/python3", X_OK)) return 77;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/onnx_check.py %s %s", hg_test_srcdir(),
             path, extra ? extra : "");
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc)) return 1;
    return WEXITSTATUS(rc);
}

/* Tensor named `name` from either map. */
static const hg_tensor *lookup2(const hg_tensor_map *a, const hg_tensor_map *b, const char *name) {
    const hg_tensor *t = a ? hg_map_get(a, name) : NULL;
    return t ? t : (b ? hg_map_get(b, name) : NULL);
}

/* Exports g to dir/model.onnx, checks it, writes every input (and noise
 * input) from `in`/`noise` as dir/in/NAME.npy, runs ONNX Runtime and reads
 * every graph output into *ort. Returns 0 ok, 77 when ONNX Runtime is
 * unavailable (ort left empty), -1 on failure (message printed). */
static int export_and_run(const hg_graph *g, const hg_tensor_map *state, const hg_tensor_map *in,
                          const hg_tensor_map *noise, const char *dir, const char *check_extra,
                          hg_tensor_map *ort) {
    char path[4096], sub[4096];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    hg_status s = hg_onnx_export(g, state, NULL, path);
    if (s.code) {
        fprintf(stderr, "export failed: %s\n", s.msg);
        return -1;
    }
    int rc = run_checker(path, check_extra);
    if (rc == 77) printf("skipped checker: /usr/bin/python3 with python3-onnx not available\n");
    else if (rc != 0) {
        fprintf(stderr, "onnx checker failed on %s\n", path);
        return -1;
    }
    if (!have_node_ort()) {
        printf("skipped ONNX Runtime parity: node or onnxruntime-node not available "
               "(tools/install-deps installs it into build/npm)\n");
        return 77;
    }
    snprintf(sub, sizeof sub, "%s/in", dir);
    mkdir(sub, 0755);
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *n = &g->nodes[v];
        char name[HG_NAME_MAX];
        if (n->op == HG_OP_input) snprintf(name, sizeof name, "%s", n->attrs.name);
        else if (hg_op_table[n->op].flags & HG_OPF_RANDOM)
            hg_onnx_noise_name(n->attrs.stream, name, sizeof name);
        else continue;
        const hg_tensor *t = lookup2(in, noise, name);
        if (!t) {
            fprintf(stderr, "no tensor for input %s\n", name);
            return -1;
        }
        char f[4400];
        snprintf(f, sizeof f, "%s/%s.npy", sub, name);
        s = hg_npy_write(f, t);
        if (s.code) {
            fprintf(stderr, "%s\n", s.msg);
            return -1;
        }
    }
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd %s && node tests/ort_run.js %s %s/in %s/out", hg_test_srcdir(),
             path, dir, dir);
    rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
        if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) return 77;
        fprintf(stderr, "ort_run.js failed (%d)\n", rc);
        return -1;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        char f[4400];
        snprintf(f, sizeof f, "%s/out/%s.npy", dir, g->outputs[i].name);
        hg_tensor t;
        s = hg_npy_read(f, &t);
        if (s.code == HG_OK) s = hg_map_put(ort, g->outputs[i].name, &t);
        if (s.code) {
            fprintf(stderr, "%s\n", s.msg);
            return -1;
        }
    }
    return 0;
}

/* Compares every output of g: ONNX Runtime vs the reference. Float outputs
 * within |a - b| <= tol max(1, |b|) (tol 0: exact), others exactly.
 * Returns 0 when all agree; prints the worst element of each output. */
static int compare_outputs(const hg_graph *g, const hg_tensor_map *ref, const hg_tensor_map *ort,
                           double tol) {
    int bad = 0;
    for (int i = 0; i < g->n_outputs; i++) {
        const char *name = g->outputs[i].name;
        const hg_tensor *a = hg_map_get(ort, name), *b = hg_map_get(ref, name);
        if (!a || !b) {
            fprintf(stderr, "output %s missing (%s)\n", name, a ? "ref" : "onnx");
            bad = 1;
            continue;
        }
        if (!hg_shape_eq(a->shape, b->shape) || a->dtype != b->dtype) {
            char s1[64], s2[64];
            fprintf(stderr, "output %s: onnx %s%s vs ref %s%s\n", name, hg_dtype_name(a->dtype),
                    hg_shape_str(a->shape, s1, sizeof s1), hg_dtype_name(b->dtype),
                    hg_shape_str(b->shape, s2, sizeof s2));
            bad = 1;
            continue;
        }
        int64_t n = hg_shape_numel(a->shape), worst = -1;
        double wr = 0;
        int exact = !hg_dtype_is_float(a->dtype) || tol == 0;
        for (int64_t e = 0; e < n; e++) {
            double x = hg_tensor_get(a, e), y = hg_tensor_get(b, e);
            double r;
            if (isnan(x) || isnan(y)) r = isnan(x) && isnan(y) ? 0 : INFINITY;
            else if (x == y) r = 0;
            else r = exact ? INFINITY : fabs(x - y) / (fabs(y) > 1 ? fabs(y) : 1);
            if (r > wr || worst < 0) {
                wr = r > wr ? r : wr;
                if (r >= wr) worst = e;
            }
        }
        int fail = exact ? wr > 0 : !(wr <= tol);
        if (worst >= 0)
            printf("  %-14s %8lld elements, max rel diff %.3g at %lld (onnx %.9g, ref %.9g)%s\n",
                   name, (long long)n, wr, (long long)worst, hg_tensor_get(a, worst),
                   hg_tensor_get(b, worst), fail ? "  FAIL" : "");
        bad |= fail;
    }
    return bad;
}

/* --------------------------------------------------- every op of the table */

static hg_value in_f32(hg_graph *g, hg_tensor_map *m, rng *r, const char *name, hg_shape s,
                       double lo, double hi) {
    hg_tensor *t;
    if (hg_map_alloc(m, name, HG_F32, s, &t).code) return HG_NONE;
    for (int64_t i = 0; i < hg_shape_numel(s); i++) hg_tensor_set(t, i, lo + (hi - lo) * urand(r));
    return hg_input(g, name, HG_F32, s);
}

static hg_value in_i32(hg_graph *g, hg_tensor_map *m, const char *name, hg_shape s,
                       const int32_t *vals) {
    hg_tensor *t;
    if (hg_map_alloc(m, name, HG_I32, s, &t).code) return HG_NONE;
    memcpy(t->data, vals, (size_t)hg_shape_numel(s) * sizeof(int32_t));
    return hg_input(g, name, HG_I32, s);
}

static void out(hg_graph *g, int *used, const char *name, hg_value v) {
    (void)used;
    hg_set_output(g, name, v);
}

/* One graph using every op of the table (the caller checks that by
 * scanning its nodes). */
static void build_every_op(hg_graph *g, hg_tensor_map *in, hg_tensor_map *state, int *used) {
    rng r = {12345};
    hg_shape s234 = hg_shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4);
    hg_value a = in_f32(g, in, &r, "a", s234, 0.05, 2.0);   /* positive */
    hg_value b = in_f32(g, in, &r, "b", s234, -2.0, 2.0);   /* any sign */
    hg_value tiny = in_f32(g, in, &r, "tiny", s234, -1e-6, 1e-6);
    hg_value w = hg_state(g, "layer/kernel", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)5));
    hg_tensor *wt;
    hg_map_alloc(state, "layer/kernel", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)5), &wt);
    for (int i = 0; i < 20; i++) hg_tensor_set(wt, i, 0.1 * (i - 9.5));

    static const hg_op un[] = {HG_OP_neg, HG_OP_abs, HG_OP_sign, HG_OP_exp, HG_OP_expm1,
                               HG_OP_square, HG_OP_sin, HG_OP_cos, HG_OP_tanh, HG_OP_sigmoid,
                               HG_OP_softplus, HG_OP_gelu_tanh, HG_OP_erf, HG_OP_floor};
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_b", hg_op_table[un[i]].name);
        out(g, used, name, hg_unary(g, un[i], hg_mul_s(g, b, 3.0)));
    }
    static const hg_op pos[] = {HG_OP_log, HG_OP_log1p, HG_OP_sqrt, HG_OP_rsqrt,
                                HG_OP_reciprocal};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_a", hg_op_table[pos[i]].name);
        out(g, used, name, hg_unary(g, pos[i], a));
    }
    out(g, used, "log1p_tiny", hg_unary(g, HG_OP_log1p, tiny));
    out(g, used, "expm1_tiny", hg_unary(g, HG_OP_expm1, tiny));
    out(g, used, "softplus_big", hg_unary(g, HG_OP_softplus, hg_mul_s(g, b, 60.0)));
    /* round: halves go to even */
    static const float halves[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, -3.6f};
    hg_value hv = hg_constant(g, HG_F32, hg_shape_of(1, (int64_t)8), halves);
    out(g, used, "round_halves", hg_unary(g, HG_OP_round, hv));
    out(g, used, "round_b", hg_unary(g, HG_OP_round, hg_mul_s(g, b, 3.0)));

    static const hg_op bin[] = {HG_OP_add, HG_OP_sub, HG_OP_mul, HG_OP_div, HG_OP_maximum,
                                HG_OP_minimum};
    for (size_t i = 0; i < sizeof bin / sizeof bin[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_ab", hg_op_table[bin[i]].name);
        out(g, used, name, hg_binary(g, bin[i], b, a));
    }
    out(g, used, "pow_ab", hg_binary(g, HG_OP_pow, a, b));
    out(g, used, "floor_mod_pos", hg_binary(g, HG_OP_floor_mod, hg_mul_s(g, b, 5.0),
                                            hg_scalar(g, HG_F32, 1.7)));
    out(g, used, "floor_mod_neg", hg_binary(g, HG_OP_floor_mod, hg_mul_s(g, b, 5.0),
                                            hg_scalar(g, HG_F32, -1.7)));
    /* broadcasting [2,3,4] with [4] */
    hg_value row = in_f32(g, in, &r, "row", hg_shape_of(1, (int64_t)4), -1.0, 1.0);
    out(g, used, "add_bcast", hg_add(g, b, row));
    static const hg_op cmp[] = {HG_OP_eq, HG_OP_ne, HG_OP_lt, HG_OP_le, HG_OP_gt, HG_OP_ge};
    hg_value br = hg_unary(g, HG_OP_round, b); /* many equal pairs */
    hg_value ar = hg_unary(g, HG_OP_round, hg_sub(g, a, hg_scalar(g, HG_F32, 1.0)));
    for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_ab", hg_op_table[cmp[i]].name);
        out(g, used, name, hg_binary(g, cmp[i], br, ar));
    }
    hg_value p = hg_binary(g, HG_OP_gt, b, hg_scalar(g, HG_F32, 0.0));
    hg_value q = hg_binary(g, HG_OP_lt, a, hg_scalar(g, HG_F32, 1.0));
    out(g, used, "and", hg_binary(g, HG_OP_logical_and, p, q));
    out(g, used, "or", hg_binary(g, HG_OP_logical_or, p, q));
    out(g, used, "not", hg_unary(g, HG_OP_logical_not, p));
    out(g, used, "where", hg_where(g, p, a, b));

    /* i32 arithmetic */
    static const int32_t iv[6] = {-7, -3, 0, 2, 5, 9}, jv[6] = {3, -4, 5, -2, 3, 4};
    hg_value ii = in_i32(g, in, "ii", hg_shape_of(1, (int64_t)6), iv);
    hg_value jj = in_i32(g, in, "jj", hg_shape_of(1, (int64_t)6), jv);
    out(g, used, "i_floor_mod", hg_binary(g, HG_OP_floor_mod, ii, jj));
    out(g, used, "i_neg_abs_sign", hg_add(g, hg_neg(g, hg_unary(g, HG_OP_abs, ii)),
                                          hg_unary(g, HG_OP_sign, ii)));
    out(g, used, "i_arith", hg_binary(g, HG_OP_maximum, hg_mul(g, hg_mul(g, ii, ii), jj),
                                      hg_binary(g, HG_OP_minimum, hg_sub(g, ii, jj), jj)));

    /* reductions */
    static const int ax1[1] = {1}, ax02[2] = {0, 2};
    out(g, used, "sum_1", hg_reduce(g, HG_OP_sum, b, 1, ax1, 0));
    out(g, used, "mean_02", hg_reduce(g, HG_OP_mean, b, 2, ax02, 1));
    out(g, used, "max_all", hg_reduce(g, HG_OP_max, b, 0, NULL, 0));
    out(g, used, "sum_all", hg_sum_all(g, b));

    /* linear algebra and shapes */
    out(g, used, "matmul_state", hg_matmul(g, b, w, 0, 0));                       /* [2,3,5] */
    hg_value m2 = hg_reshape(g, b, hg_shape_of(2, (int64_t)6, (int64_t)4));
    out(g, used, "gemm_tt", hg_matmul(g, w, m2, 1, 1));                            /* [5,6] */
    out(g, used, "matmul_bt", hg_matmul(g, b, a, 0, 1));                           /* [2,3,3] */
    static const int perm[3] = {2, 0, 1};
    out(g, used, "transpose", hg_transpose(g, b, perm));
    out(g, used, "broadcast", hg_broadcast_to(g, row, hg_shape_of(2, (int64_t)3, (int64_t)4)));
    hg_attrs sa;
    memset(&sa, 0, sizeof sa);
    sa.starts[0] = 1; sa.starts[1] = 0; sa.starts[2] = 1;
    sa.steps[0] = 1; sa.steps[1] = 2; sa.steps[2] = 2;
    hg_value sl = hg_add_node(g, HG_OP_slice, HG_F32, hg_shape_of(3, (int64_t)1, (int64_t)2, (int64_t)2),
                              1, &b, &sa);
    out(g, used, "slice_step", sl);
    hg_value cc[2] = {a, b};
    out(g, used, "concat", hg_concat(g, 2, cc, 1));
    static const int64_t lo[3] = {0, 1, 2}, hi[3] = {1, 0, 1};
    out(g, used, "pad", hg_pad(g, b, lo, hi, -3.5));

    /* gather / scatter with dropped indices and empty segments */
    static const int32_t gi[2 * 5] = {2, -1, 0, 3, 1, 0, 0, 7, 2, 2};
    hg_value gidx = in_i32(g, in, "gidx", hg_shape_of(2, (int64_t)2, (int64_t)5), gi);
    out(g, used, "gather", hg_gather(g, b, gidx, 1));                              /* [2,5,4] */
    hg_value src = in_f32(g, in, &r, "src", hg_shape_of(3, (int64_t)2, (int64_t)5, (int64_t)4), -3, 3);
    out(g, used, "scatter_add", hg_scatter_add(g, src, gidx, 1, 4));
    out(g, used, "scatter_max", hg_scatter_max(g, src, gidx, 1, 4));
    out(g, used, "scatter_max_neg", hg_scatter_max(g, hg_sub(g, hg_unary(g, HG_OP_abs, src), hg_scalar(g, HG_F32, 5.0)),
                                                   gidx, 1, 4));
    out(g, used, "iota", hg_iota(g, HG_I32, hg_shape_of(2, (int64_t)3, (int64_t)4), 1));
    out(g, used, "cast_f2i", hg_cast(g, hg_mul_s(g, b, 3.0), HG_I32));
    out(g, used, "cast_b2f", hg_cast(g, p, HG_F32));
    out(g, used, "stop_gradient", hg_stop_gradient(g, b));

    /* knn: 2 clouds of 6 points, periodic box 10, one padded point */
    static const float pv[2 * 6 * 3] = {
        1, 1, 1,   9.5f, 1, 1,   1, 9, 1,   5, 5, 5,   1, 1, 1,   2, 2, 2,
        0, 0, 0,   1, 0, 0,      0, 1, 0,   0, 0, 1,   -1, 0, 0,  12, 0, 0};
    static const float mv[2 * 6] = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1};
    hg_value kp = hg_constant(g, HG_F32, hg_shape_of(3, (int64_t)2, (int64_t)6, (int64_t)3), pv);
    hg_value km = hg_constant(g, HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)6), mv);
    out(g, used, "knn_pbc", hg_knn(g, kp, km, 4, 10.0));
    out(g, used, "knn_open", hg_knn(g, kp, km, 3, 0.0));

    /* composites */
    out(g, used, "layer_norm", hg_layer_norm(g, b, 1e-6));
    out(g, used, "softmax", hg_softmax(g, hg_mul_s(g, b, 4.0)));
    hg_value q4 = in_f32(g, in, &r, "q", hg_shape_of(4, (int64_t)1, (int64_t)2, (int64_t)3, (int64_t)4), -1, 1);
    hg_value k4 = in_f32(g, in, &r, "k", hg_shape_of(4, (int64_t)1, (int64_t)2, (int64_t)5, (int64_t)4), -1, 1);
    hg_value v4 = in_f32(g, in, &r, "v", hg_shape_of(4, (int64_t)1, (int64_t)2, (int64_t)5, (int64_t)3), -1, 1);
    static const float amask[5] = {1, 0, 1, 1, 0};
    hg_value am = hg_constant(g, HG_F32, hg_shape_of(4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)5), amask);
    hg_value att = hg_attention(g, q4, k4, v4, am, 0.5);
    out(g, used, "attention", att);
    /* the attention backward (the writer lowers it to standard ONNX) */
    hg_value lse = hg_attention_lse(g, q4, k4, v4, am, 0.5);
    out(g, used, "attention_lse", lse);
    hg_value do4 = in_f32(g, in, &r, "do", hg_shape_of(4, (int64_t)1, (int64_t)2, (int64_t)3, (int64_t)3), -1, 1);
    hg_value gin[7] = {q4, k4, v4, am, att, lse, do4};
    out(g, used, "attention_dq", hg_attention_grad(g, gin, 0, 0.5));
    out(g, used, "attention_dk", hg_attention_grad(g, gin, 1, 0.5));
    out(g, used, "attention_dv", hg_attention_grad(g, gin, 2, 0.5));

    /* random ops: become noise inputs */
    hg_value seed = in_i32(g, in, "seed", hg_shape_scalar(), (const int32_t[]){11});
    hg_value step = in_i32(g, in, "step", hg_shape_scalar(), (const int32_t[]){2});
    hg_value rep = in_i32(g, in, "replica", hg_shape_scalar(), (const int32_t[]){0});
    out(g, used, "random_normal", hg_add(g, hg_random_normal(g, HG_F32, s234, seed, step, rep), a));
    out(g, used, "random_uniform", hg_random_uniform(g, HG_F32, s234, seed, step, rep));
}

/* Compares output `name` alone: |a - b| <= tol max(floor, |b|) (floor 1:
 * the usual relative test; floor 0: purely relative). */
static int compare_named(const hg_tensor_map *ref, const hg_tensor_map *ort, const char *name,
                         double tol, double floor) {
    const hg_tensor *a = hg_map_get(ort, name), *b = hg_map_get(ref, name);
    if (!a || !b || !hg_shape_eq(a->shape, b->shape)) {
        fprintf(stderr, "output %s missing or mis-shaped\n", name);
        return 1;
    }
    for (int64_t e = 0; e < hg_shape_numel(a->shape); e++) {
        double x = hg_tensor_get(a, e), y = hg_tensor_get(b, e);
        double m = fabs(y) > floor ? fabs(y) : floor;
        if (!(x == y || fabs(x - y) <= tol * m)) {
            fprintf(stderr, "output %s[%lld]: onnx %.9g vs ref %.9g (tol %g)\n", name,
                    (long long)e, x, y, tol);
            return 1;
        }
    }
    return 0;
}

HG_TEST(every_op_matches_reference) {
    hg_graph *g = hg_graph_new();
    hg_tensor_map in, state, ref, ort;
    hg_map_init(&in);
    hg_map_init(&state);
    hg_map_init(&ref);
    hg_map_init(&ort);
    int used[HG_NUM_OPS] = {0};
    build_every_op(g, &in, &state, used);
    hg_graph *clone = NULL;
    int fail = 0;
    if (hg_graph_status(g).code) {
        fprintf(stderr, "build: %s\n", hg_graph_status(g).msg);
        fail = 1;
        goto done;
    }
    for (int v = 0; v < g->n_nodes; v++) used[g->nodes[v].op] = 1;
    for (int op = 0; op < HG_NUM_OPS; op++)
        if (!used[op]) {
            fprintf(stderr, "op %s is missing from the every-op graph\n", hg_op_table[op].name);
            fail = 1;
        }
    clone = hg_graph_clone(g);
    if (!clone || hg_onnx_add_noise_outputs(clone) != 2) {
        fail = 1;
        goto done;
    }
    hg_status s = hg_ref_run(clone, &state, &in, &ref, NULL);
    if (s.code) {
        fprintf(stderr, "ref: %s\n", s.msg);
        fail = 1;
        goto done;
    }
    int rc = export_and_run(g, &state, &in, &ref, tmp_path("every_op"),
                            "--initializer layer/kernel --input noise_0 --input noise_1", &ort);
    if (rc == 77) goto done;
    if (rc) {
        fail = 1;
        goto done;
    }
    fail |= compare_outputs(g, &ref, &ort, 1e-5);
    /* index ops, integer results and exact float ops: bit-identical */
    static const char *exact[] = {"gather", "scatter_add", "scatter_max", "scatter_max_neg",
                                  "knn_pbc", "knn_open", "iota", "round_halves", "round_b",
                                  "floor_mod_pos", "floor_mod_neg", "i_floor_mod", "cast_f2i",
                                  "where", "pad", "slice_step", "concat", "transpose",
                                  "add_ab", "mul_ab", "div_ab", "sqrt_a", "floor_b"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        fail |= compare_named(&ref, &ort, exact[i], 0, 1);
    /* log1p / expm1 near 0: relative accuracy, not just absolute */
    fail |= compare_named(&ref, &ort, "log1p_tiny", 1e-5, 0);
    fail |= compare_named(&ref, &ort, "expm1_tiny", 1e-5, 0);
done:
    hg_graph_free(clone);
    hg_graph_free(g);
    hg_map_free(&in);
    hg_map_free(&state);
    hg_map_free(&ref);
    hg_map_free(&ort);
    HG_CHECK(!fail);
}

/* knn on a lattice: every point has many neighbours at exactly equal
 * distances, so the order among ties decides the result. */
HG_TEST(knn_lattice_ties_exact) {
    const int64_t B = 3, N = 64, k = 10;
    hg_graph *g = hg_graph_new();
    hg_tensor_map in, ref, ort;
    hg_map_init(&in);
    hg_map_init(&ref);
    hg_map_init(&ort);
    hg_tensor *pt, *mt;
    hg_map_alloc(&in, "pos", HG_F32, hg_shape_of(3, B, N, (int64_t)3), &pt);
    hg_map_alloc(&in, "mask", HG_F32, hg_shape_of(2, B, N), &mt);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < N; i++) {
            int c[3] = {(int)(i / 16), (int)(i / 4 % 4), (int)(i % 4)};
            for (int a = 0; a < 3; a++) {
                double p = c[a] * 2.0;
                if (b == 1 && (i + a) % 5 == 0) p += 8.0; /* outside the box: wraps */
                if (b == 1 && (i + a) % 7 == 0) p -= 8.0;
                hg_tensor_set(pt, (b * N + i) * 3 + a, p);
            }
            double m = 1;
            if (b == 1 && i % 9 == 4) m = 0;  /* padded points */
            if (b == 2 && i >= 6) m = 0;      /* fewer real points than k */
            hg_tensor_set(mt, b * N + i, m);
        }
    hg_value pos = hg_input(g, "pos", HG_F32, pt->shape);
    hg_value mask = hg_input(g, "mask", HG_F32, mt->shape);
    hg_set_output(g, "knn_pbc", hg_knn(g, pos, mask, (int)k, 8.0));
    hg_set_output(g, "knn_open", hg_knn(g, pos, mask, (int)k, 0.0));
    hg_set_output(g, "knn_all", hg_knn(g, pos, mask, (int)N, 8.0)); /* k = N: a full sort */
    hg_status s = hg_graph_status(g);
    if (s.code == HG_OK) s = hg_ref_run(g, NULL, &in, &ref, NULL);
    int fail = s.code != HG_OK;
    if (fail) fprintf(stderr, "%s\n", s.msg);
    /* the lattice really has ties: point 0's 2nd and 3rd neighbours are at
     * equal distance (two lattice axes) */
    if (!fail) {
        const hg_tensor *r = hg_map_get(&ref, "knn_open");
        int32_t j1 = ((int32_t *)r->data)[1], j2 = ((int32_t *)r->data)[2];
        double d1 = 0, d2 = 0;
        for (int a = 0; a < 3; a++) {
            double x1 = hg_tensor_get(pt, j1 * 3 + a) - hg_tensor_get(pt, a) - 1e-5;
            double x2 = hg_tensor_get(pt, j2 * 3 + a) - hg_tensor_get(pt, a) - 1e-5;
            d1 += x1 * x1;
            d2 += x2 * x2;
        }
        if (d1 != d2 || j1 > j2) {
            fprintf(stderr, "lattice: expected a tie at point 0 (d %g %g, j %d %d)\n", d1, d2,
                    j1, j2);
            fail = 1;
        }
    }
    int rc = fail ? -1 : export_and_run(g, NULL, &in, NULL, tmp_path("knn_ties"), NULL, &ort);
    if (rc == 0) fail |= compare_outputs(g, &ref, &ort, 0);
    else if (rc != 77) fail = 1;
    hg_graph_free(g);
    hg_map_free(&in);
    hg_map_free(&ref);
    hg_map_free(&ort);
    HG_CHECK(!fail);
}

HG_TEST(unsupported_and_invalid_refused) {
    const char *path = tmp_path("refused.onnx");
    hg_graph *g = hg_graph_new();
    hg_value pos = hg_input(g, "pos", HG_F64, hg_shape_of(3, (int64_t)1, (int64_t)4, (int64_t)3));
    hg_value mask = hg_input(g, "mask", HG_F64, hg_shape_of(2, (int64_t)1, (int64_t)4));
    hg_set_output(g, "nbrs", hg_knn(g, pos, mask, 2, 1.0));
    HG_CHECK_OK(hg_graph_status(g));
    hg_status s = hg_onnx_export(g, NULL, NULL, path);
    hg_graph_free(g);
    HG_CHECK(s.code == HG_ERR_UNSUPPORTED);
    HG_CHECK(strstr(s.msg, "knn") != NULL && strstr(s.msg, "node %2") != NULL);
    HG_CHECK(access(path, F_OK) != 0);

    /* a parameter without its tensor */
    g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)3));
    hg_value w = hg_state(g, "dense/kernel", HG_F32, hg_shape_of(1, (int64_t)3));
    hg_set_output(g, "y", hg_mul(g, x, w));
    hg_tensor_map st;
    hg_map_init(&st);
    HG_CHECK_ERR(hg_onnx_export(g, &st, NULL, path), "dense/kernel");
    /* ... or with the wrong shape */
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&st, "dense/kernel", HG_F32, hg_shape_of(1, (int64_t)4), &t));
    HG_CHECK_ERR(hg_onnx_export(g, &st, NULL, path), "[4]");
    HG_CHECK(access(path, F_OK) != 0);
    /* an output named like a graph input collides */
    hg_set_output(g, "x", hg_neg(g, x));
    HG_CHECK_OK(hg_map_alloc(&st, "dense/kernel", HG_F32, hg_shape_of(1, (int64_t)3), &t));
    HG_CHECK_ERR(hg_onnx_export(g, &st, NULL, path), "\"x\" is used twice");
    HG_CHECK(access(path, F_OK) != 0);
    hg_map_free(&st);
    hg_graph_free(g);
}

/* ------------------------------------------------------ model graphs */

/* Adds to every element of every tensor a random non-zero amount (sd-like
 * scale max(0.1 rms, 0.05), random sign), so no weight is zero and the
 * zero-initialised heads contribute. */
static void perturb_all(hg_tensor_map *st, rng *r) {
    for (int i = 0; i < st->n; i++) {
        hg_tensor *t = &st->e[i].t;
        int64_t n = hg_shape_numel(t->shape);
        double ss = 0;
        for (int64_t e = 0; e < n; e++) ss += hg_tensor_get(t, e) * hg_tensor_get(t, e);
        double rms = n ? sqrt(ss / (double)n) : 0;
        double sc = 0.1 * rms > 0.05 ? 0.1 * rms : 0.05;
        for (int64_t e = 0; e < n; e++) {
            double d = sc * (0.5 + 0.5 * urand(r)) * (urand(r) < 0.5 ? -1 : 1);
            double v = hg_tensor_get(t, e) + d;
            hg_tensor_set(t, e, v == 0 ? d : v);
        }
    }
}

/* Fills the model graph's inputs by name. */
static int fill_inputs(const hg_graph *g, hg_tensor_map *in, rng *r, int step) {
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *n = &g->nodes[v];
        if (n->op != HG_OP_input) continue;
        const char *nm = n->attrs.name;
        hg_tensor *t;
        if (hg_map_alloc(in, nm, n->dtype, n->shape, &t).code) return -1;
        int64_t cnt = hg_shape_numel(n->shape);
        if (!strcmp(nm, "z") || !strcmp(nm, "x")) {
            int64_t B = n->shape.dim[0], N = n->shape.dim[1], F = n->shape.dim[2];
            for (int64_t e = 0; e < cnt; e++) hg_tensor_set(t, e, -1.9 + 3.8 * urand(r));
            /* point 5 sits on point 3: exact knn ties for every point */
            for (int64_t b = 0; b < B; b++)
                for (int64_t f = 0; f < 3 && f < F && N > 5; f++)
                    hg_tensor_set(t, (b * N + 5) * F + f, hg_tensor_get(t, (b * N + 3) * F + f));
        } else if (!strcmp(nm, "gamma")) {
            for (int64_t e = 0; e < cnt; e++) hg_tensor_set(t, e, -4.0 + 3.0 * (double)e);
        } else if (!strcmp(nm, "cond")) {
            for (int64_t e = 0; e < cnt; e++) hg_tensor_set(t, e, e % 2 ? 0.8 : 0.3 + 0.01 * e);
        } else if (!strcmp(nm, "mask")) {
            int64_t N = n->shape.dim[1];
            for (int64_t e = 0; e < cnt; e++) hg_tensor_set(t, e, e % N < N - N / 10 ? 1.0 : 0.0);
        } else if (!strcmp(nm, "t")) {
            hg_tensor_set(t, 0, 0.7);
        } else if (!strcmp(nm, "s")) {
            hg_tensor_set(t, 0, 0.68);
        } else if (!strcmp(nm, "seed")) {
            hg_tensor_set(t, 0, 7);
        } else if (!strcmp(nm, "step")) {
            hg_tensor_set(t, 0, step);
        } else if (!strcmp(nm, "replica")) {
            hg_tensor_set(t, 0, 1);
        } else {
            fprintf(stderr, "unknown model input %s\n", nm);
            return -1;
        }
    }
    return 0;
}

/* Export + ONNX Runtime vs hg_ref_run for one config and graph kind.
 * n_particles > 0 overrides the config's N (see the file comment). */
static int model_parity(const char *cfg_name, const char *kind, int batch, int n_particles) {
    char cfg_path[4096], dir[256];
    snprintf(cfg_path, sizeof cfg_path, "%s/configs/%s.yaml", hg_test_srcdir(), cfg_name);
    snprintf(dir, sizeof dir, "%s-%s", cfg_name, kind);
    hg_config c;
    hg_status s = hg_config_load(cfg_path, &c);
    if (s.code) {
        fprintf(stderr, "%s\n", s.msg);
        return 1;
    }
    /* HG_ONNX_PAPER_N overrides the reduced N of the paper cases (0: the
     * config's own N) for runs on a bigger machine */
    const char *env = getenv("HG_ONNX_PAPER_N");
    if (n_particles > 0 && env) n_particles = atoi(env);
    if (n_particles > 0) c.n_particles = n_particles;
    hg_model_opts o;
    hg_model_opts_default(&o, &c);
    for (int a = 0; a < 3; a++) { /* positions spread over the box (and beyond: wraps) */
        o.norm.mean[a] = 500.0;
        o.norm.std[a] = 290.0;
    }
    o.norm.box = 1000.0;
    o.nelbo_steps = 2;
    o.nelbo_terms_per_call = 2;
    hg_model m;
    s = hg_model_build(&c, kind, batch, HG_F32, &o, &m);
    if (s.code) {
        fprintf(stderr, "%s\n", s.msg);
        return 1;
    }
    hg_tensor_map st, init, in, ref, ort;
    hg_map_init(&st);
    hg_map_init(&init);
    hg_map_init(&in);
    hg_map_init(&ref);
    hg_map_init(&ort);
    rng r = {(uint64_t)strlen(cfg_name) * 1000003u + (uint64_t)kind[1]};
    hg_graph *clone = NULL;
    int fail = 0;
    s = hg_mb_init_params(&m.mb, 3, &st);
    if (s.code == HG_OK) s = hg_mb_init_params(&m.mb, 3, &init);
    if (s.code) {
        fprintf(stderr, "%s\n", s.msg);
        fail = 1;
        goto done;
    }
    perturb_all(&st, &r);
    /* every weight re-initialised: non-zero, and different from its init */
    for (int i = 0; i < st.n; i++) {
        const hg_tensor *t = &st.e[i].t, *t0 = hg_map_get(&init, st.e[i].name);
        int64_t n = hg_shape_numel(t->shape), changed = 0;
        for (int64_t e = 0; e < n; e++) {
            if (hg_tensor_get(t, e) == 0) {
                fprintf(stderr, "%s[%lld] is zero\n", st.e[i].name, (long long)e);
                fail = 1;
            }
            changed += hg_tensor_get(t, e) != hg_tensor_get(t0, e);
        }
        if (changed != n) {
            fprintf(stderr, "%s: %lld of %lld elements re-initialised\n", st.e[i].name,
                    (long long)changed, (long long)n);
            fail = 1;
        }
    }
    if (fill_inputs(m.g, &in, &r, 0)) {
        fail = 1;
        goto done;
    }
    clone = hg_graph_clone(m.g);
    if (!clone || hg_onnx_add_noise_outputs(clone) < 0) {
        fail = 1;
        goto done;
    }
    s = hg_ref_run(clone, &st, &in, &ref, NULL);
    if (s.code) {
        fprintf(stderr, "ref: %s\n", s.msg);
        fail = 1;
        goto done;
    }
    char extra[1024];
    snprintf(extra, sizeof extra, "--initializer %s --input mask", m.mb.params[0].path);
    int rc = export_and_run(m.g, &st, &in, &ref, tmp_path(dir), extra, &ort);
    if (rc == 77) goto done;
    if (rc) {
        fail = 1;
        goto done;
    }
    printf("%s %s (N %d, batch %d):\n", cfg_name, kind, c.n_particles, batch);
    fail |= compare_outputs(m.g, &ref, &ort, 1e-4);
done:
    hg_graph_free(clone);
    hg_model_free(&m);
    hg_map_free(&st);
    hg_map_free(&init);
    hg_map_free(&in);
    hg_map_free(&ref);
    hg_map_free(&ort);
    return fail;
}

HG_TEST(transformer_demo_score) { HG_CHECK(!model_parity("demo-transformer", "score", 2, 0)); }
HG_TEST(transformer_demo_sample_step) {
    HG_CHECK(!model_parity("demo-transformer", "sample-step", 1, 0));
}
HG_TEST(transformer_demo_nelbo) { HG_CHECK(!model_parity("demo-transformer", "nelbo", 1, 0)); }
HG_TEST(graph_demo_score) { HG_CHECK(!model_parity("demo-graph", "score", 2, 0)); }
HG_TEST(graph_demo_sample_step) { HG_CHECK(!model_parity("demo-graph", "sample-step", 1, 0)); }
HG_TEST(graph_demo_nelbo) { HG_CHECK(!model_parity("demo-graph", "nelbo", 1, 0)); }
HG_TEST(transformer_paper_score) { HG_CHECK(!model_parity("paper-transformer", "score", 1, 500)); }
HG_TEST(transformer_paper_sample_step) {
    HG_CHECK(!model_parity("paper-transformer", "sample-step", 1, 500));
}
HG_TEST(transformer_paper_nelbo) { HG_CHECK(!model_parity("paper-transformer", "nelbo", 1, 500)); }
HG_TEST(graph_paper_score) { HG_CHECK(!model_parity("paper-graph", "score", 1, 500)); }
HG_TEST(graph_paper_sample_step) { HG_CHECK(!model_parity("paper-graph", "sample-step", 1, 500)); }
HG_TEST(graph_paper_nelbo) { HG_CHECK(!model_parity("paper-graph", "nelbo", 1, 500)); }
