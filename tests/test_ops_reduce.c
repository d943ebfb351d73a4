/* Reference interpreter: sum, mean, max over axes, keepdims, empty and
 * NaN/Inf cases, against hand-computed values. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

HG_LABELS(fast)

/* ---- tiny harness: a graph, and a run returning one value's tensor */
typedef struct {
    hg_graph *g;
    hg_tensor_map out;
    int n;
} ctx;

static inline ctx ctx_new(void) {
    ctx c = {hg_graph_new(), {0}, 0};
    hg_map_init(&c.out);
    return c;
}

static inline void ctx_free(ctx *c) {
    hg_map_free(&c->out);
    hg_graph_free(c->g);
}

/* Makes v an output, runs the graph; the tensor is valid until the next run. */
static inline const hg_tensor *run(ctx *c, hg_value v) {
    char name[32];
    snprintf(name, sizeof name, "y%d", c->n++);
    hg_set_output(c->g, name, v);
    hg_status s = hg_verify(c->g);
    if (s.code == HG_OK) s = hg_ref_run(c->g, NULL, NULL, &c->out, NULL);
    if (s.code != HG_OK) {
        fprintf(stderr, "run: %s\n", s.msg);
        return NULL;
    }
    return hg_map_get(&c->out, name);
}

static inline hg_shape S1(int64_t a) { return hg_shape_make(1, (int64_t[]){a}); }
static inline hg_shape S2(int64_t a, int64_t b) { return hg_shape_make(2, (int64_t[]){a, b}); }

static inline hg_value vec64(ctx *c, int n, const double *v) {
    return hg_constant(c->g, HG_F64, S1(n), v);
}
static inline hg_value vec32(ctx *c, int n, const float *v) {
    return hg_constant(c->g, HG_F32, S1(n), v);
}

HG_TEST(sum_mean_max_axes) {
    ctx c = ctx_new();
    /* x[2,3] = [[1,2,3],[4,5,6]] */
    const double x[6] = {1, 2, 3, 4, 5, 6};
    hg_value vx = hg_constant(c.g, HG_F64, S2(2, 3), x);
    int ax0[1] = {0}, ax1[1] = {1}, axm1[1] = {-1};
    const hg_tensor *t = run(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax0, 0));
    HG_CHECK(t && t->shape.rank == 1 && t->shape.dim[0] == 3);
    HG_CHECK(hg_tensor_get(t, 0) == 5 && hg_tensor_get(t, 1) == 7 && hg_tensor_get(t, 2) == 9);
    t = run(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 1));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 2 && t->shape.dim[1] == 1);
    HG_CHECK(hg_tensor_get(t, 0) == 6 && hg_tensor_get(t, 1) == 15);
    t = run(&c, hg_reduce(c.g, HG_OP_mean, vx, 1, axm1, 0));
    HG_CHECK(t && hg_tensor_get(t, 0) == 2 && hg_tensor_get(t, 1) == 5);
    t = run(&c, hg_reduce(c.g, HG_OP_max, vx, 1, ax0, 0));
    HG_CHECK(t && hg_tensor_get(t, 0) == 4 && hg_tensor_get(t, 2) == 6);
    t = run(&c, hg_reduce(c.g, HG_OP_max, vx, 0, NULL, 0)); /* all axes */
    HG_CHECK(t && t->shape.rank == 0 && hg_tensor_get(t, 0) == 6);
    t = run(&c, hg_sum_all(c.g, vx));
    HG_CHECK(t && t->shape.rank == 0 && hg_tensor_get(t, 0) == 21);
    t = run(&c, hg_reduce(c.g, HG_OP_mean, vx, 0, NULL, 1));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 1 && hg_tensor_get(t, 0) == 3.5);
    ctx_free(&c);
}

HG_TEST(reduce_middle_and_outer_axes_rank3) {
    ctx c = ctx_new();
    /* x[i,j,k] = 100 i + 10 j + k, shape [2,3,4] */
    float x[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) x[(i * 3 + j) * 4 + k] = 100 * i + 10 * j + k;
    hg_value vx = hg_constant(c.g, HG_F32, hg_shape_make(3, (int64_t[]){2, 3, 4}), x);
    int ax1[1] = {1}, ax02[2] = {0, 2};
    const hg_tensor *t = run(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0));
    HG_CHECK(t && t->shape.rank == 2 && t->shape.dim[0] == 2 && t->shape.dim[1] == 4);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) /* sum_j = 300 i + 30 + 3 k */
            HG_CHECK(hg_tensor_get(t, i * 4 + k) == 300 * i + 30 + 3 * k);
    t = run(&c, hg_reduce(c.g, HG_OP_max, vx, 2, ax02, 1));
    HG_CHECK(t && t->shape.rank == 3 && t->shape.dim[1] == 3);
    for (int j = 0; j < 3; j++) HG_CHECK(hg_tensor_get(t, j) == 100 + 10 * j + 3);
    t = run(&c, hg_reduce(c.g, HG_OP_mean, vx, 2, ax02, 0)); /* mean over i,k = 50 + 10 j + 1.5 */
    HG_CHECK(t);
    for (int j = 0; j < 3; j++) HG_CHECK_NEAR(hg_tensor_get(t, j), 51.5 + 10 * j, 1e-5);
    ctx_free(&c);
}

HG_TEST(empty_reductions) {
    ctx c = ctx_new();
    hg_value vx = hg_fill(c.g, HG_F32, S2(3, 0), 1.0);
    int ax1[1] = {1}, ax0[1] = {0};
    const hg_tensor *t = run(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0));
    HG_CHECK(t && t->shape.dim[0] == 3);
    for (int i = 0; i < 3; i++) HG_CHECK(hg_tensor_get(t, i) == 0.0);
    t = run(&c, hg_reduce(c.g, HG_OP_max, vx, 1, ax1, 0));
    HG_CHECK(t);
    for (int i = 0; i < 3; i++) HG_CHECK(hg_tensor_get(t, i) == -INFINITY);
    t = run(&c, hg_reduce(c.g, HG_OP_mean, vx, 1, ax1, 0));
    HG_CHECK(t);
    for (int i = 0; i < 3; i++) HG_CHECK(isnan(hg_tensor_get(t, i)));
    /* reducing the non-empty axis of an empty tensor: empty output */
    t = run(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax0, 0));
    HG_CHECK(t && t->shape.rank == 1 && t->shape.dim[0] == 0);
    ctx_free(&c);
}

HG_TEST(max_propagates_nan_and_inf) {
    ctx c = ctx_new();
    const double x[6] = {1, NAN, 3, -INFINITY, -INFINITY, INFINITY};
    hg_value vx = hg_constant(c.g, HG_F64, S2(2, 3), x);
    int ax1[1] = {1};
    const hg_tensor *t = run(&c, hg_reduce(c.g, HG_OP_max, vx, 1, ax1, 0));
    HG_CHECK(t && isnan(hg_tensor_get(t, 0)) && hg_tensor_get(t, 1) == INFINITY);
    t = run(&c, hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0));
    HG_CHECK(t && isnan(hg_tensor_get(t, 0)) && isnan(hg_tensor_get(t, 1))); /* -inf + inf */
    const double y[3] = {-INFINITY, -INFINITY, -5};
    t = run(&c, hg_reduce(c.g, HG_OP_max, vec64(&c, 3, y), 0, NULL, 0));
    HG_CHECK(t && hg_tensor_get(t, 0) == -5);
    ctx_free(&c);
}

HG_TEST(sum_f32_accurate_and_thread_independent) {
    /* 1e6 copies of 0.1f: exact sum 1e6 * (double)0.1f; a naive f32
     * accumulation would be off by ~1% */
    ctx c = ctx_new();
    int n = 1000000;
    hg_value vx = hg_fill(c.g, HG_F32, S2(2, n / 2), 0.1);
    const hg_tensor *t = run(&c, hg_sum_all(c.g, vx));
    HG_CHECK(t);
    double want = (double)n * (double)0.1f;
    HG_CHECK_REL(hg_tensor_get(t, 0), want, 1e-7);
    int ax1[1] = {1};
    hg_value r = hg_reduce(c.g, HG_OP_sum, vx, 1, ax1, 0);
    omp_set_num_threads(1);
    t = run(&c, r);
    HG_CHECK(t);
    float a0 = ((const float *)t->data)[0], a1 = ((const float *)t->data)[1];
    omp_set_num_threads(2);
    t = run(&c, r);
    HG_CHECK(t && ((const float *)t->data)[0] == a0 && ((const float *)t->data)[1] == a1);
    ctx_free(&c);
}

HG_TEST(int32_sum_max) {
    ctx c = ctx_new();
    const int32_t x[4] = {3, -7, 11, 2};
    hg_value vx = hg_constant(c.g, HG_I32, S1(4), x);
    const hg_tensor *t = run(&c, hg_sum_all(c.g, vx));
    HG_CHECK(t && t->dtype == HG_I32 && ((const int32_t *)t->data)[0] == 9);
    t = run(&c, hg_reduce(c.g, HG_OP_max, vx, 0, NULL, 0));
    HG_CHECK(t && ((const int32_t *)t->data)[0] == 11);
    ctx_free(&c);
}
