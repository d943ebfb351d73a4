/* Counter-based RNG: Philox4x32-10 known answers (Random123), the random
 * ops' counter layout, bit-identity across runs and thread counts, and the
 * moments of a million draws. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

HG_LABELS(fast)

/* random op graph: out = random_{uniform,normal}(seed, step, replica) */
static hg_tensor *run_random(int normal, hg_dtype t, int64_t n, int32_t seed, int32_t step,
                             int32_t replica, hg_tensor_map *out) {
    hg_graph *g = hg_graph_new();
    hg_value s = hg_scalar(g, HG_I32, seed), st = hg_scalar(g, HG_I32, step),
             r = hg_scalar(g, HG_I32, replica);
    hg_shape sh = hg_shape_make(2, (int64_t[]){n / 4, 4});
    hg_value v = normal ? hg_random_normal(g, t, sh, s, st, r) : hg_random_uniform(g, t, sh, s, st, r);
    hg_set_output(g, "r", v);
    hg_status stt = hg_verify(g);
    if (stt.code == HG_OK) stt = hg_ref_run(g, NULL, NULL, out, NULL);
    hg_graph_free(g);
    if (stt.code != HG_OK) {
        fprintf(stderr, "random run: %s\n", stt.msg);
        return NULL;
    }
    return hg_map_get(out, "r");
}

HG_TEST(philox_known_answers) {
    /* Random123 known-answer vectors for Philox4x32-10 */
    struct { uint32_t key[2], ctr[4], want[4]; } kat[3] = {
        {{0, 0}, {0, 0, 0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0xa4093822, 0x299f31d0}, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        hg_philox4x32_10(kat[i].key, kat[i].ctr, out);
        for (int w = 0; w < 4; w++)
            if (out[w] != kat[i].want[w])
                HG_FAIL("vector %d word %d: %08x, want %08x", i, w, out[w], kat[i].want[w]);
    }
}

HG_TEST(random_ops_follow_the_counter_layout) {
    /* element e: key (seed, stream), counter (e/4 low, step, replica, e/4
     * high), word e % 4; uniform = (w >> 8) 2^-24; normal per ir.h */
    hg_tensor_map out;
    hg_map_init(&out);
    int32_t seed = 1234, step = 7, rep = 3;
    hg_tensor *t = run_random(0, HG_F64, 4096, seed, step, rep, &out);
    HG_CHECK(t);
    uint32_t stream = 0; /* the first random op of a fresh graph */
    for (int64_t e = 0; e < 4096; e += 317) {
        uint32_t key[2] = {(uint32_t)seed, stream};
        uint32_t ctr[4] = {(uint32_t)(e / 4), (uint32_t)step, (uint32_t)rep, 0}, w[4];
        hg_philox4x32_10(key, ctr, w);
        double want = (double)(w[e % 4] >> 8) * 0x1.0p-24;
        HG_CHECK(hg_tensor_get(t, e) == want);
    }
    t = run_random(1, HG_F64, 4096, seed, step, rep, &out);
    HG_CHECK(t);
    for (int64_t e = 0; e < 4096; e += 211) {
        uint32_t key[2] = {(uint32_t)seed, stream};
        uint32_t ctr[4] = {(uint32_t)(e / 4), (uint32_t)step, (uint32_t)rep, 0}, w[4];
        hg_philox4x32_10(key, ctr, w);
        int lane = (int)(e % 4), a = lane < 2 ? 0 : 2;
        double u1 = ((double)(w[a] >> 8) + 1) * 0x1.0p-24, u2 = (double)(w[a + 1] >> 8) * 0x1.0p-24;
        double r = sqrt(-2 * log(u1));
        double want = lane % 2 == 0 ? r * cos(2 * M_PI * u2) : r * sin(2 * M_PI * u2);
        HG_CHECK_NEAR(hg_tensor_get(t, e), want, 1e-15);
    }
    hg_map_free(&out);
}

HG_TEST(random_bit_identical_runs_and_threads) {
    hg_tensor_map o1, o2;
    hg_map_init(&o1);
    hg_map_init(&o2);
    omp_set_num_threads(1);
    hg_tensor *a = run_random(1, HG_F32, 100000, 42, 5, 0, &o1);
    omp_set_num_threads(2);
    hg_tensor *b = run_random(1, HG_F32, 100000, 42, 5, 0, &o2);
    HG_CHECK(a && b && memcmp(a->data, b->data, hg_tensor_bytes(a)) == 0);
    /* a different step, replica or seed changes the draws */
    int32_t alt[3][3] = {{42, 6, 0}, {42, 5, 1}, {43, 5, 0}};
    float first = ((const float *)a->data)[0];
    for (int i = 0; i < 3; i++) {
        hg_tensor *c = run_random(1, HG_F32, 100000, alt[i][0], alt[i][1], alt[i][2], &o2);
        HG_CHECK(c && ((const float *)c->data)[0] != first);
    }
    hg_map_free(&o1);
    hg_map_free(&o2);
}

HG_TEST(normal_moments_over_a_million) {
    hg_tensor_map out;
    hg_map_init(&out);
    int64_t n = 1000000;
    hg_tensor *t = run_random(1, HG_F64, n, 2024, 1, 0, &out);
    HG_CHECK(t);
    const double *x = t->data;
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    v /= (double)(n - 1);
    /* standard errors: mean 1/sqrt(n), variance sqrt(2/n) */
    HG_CHECK_NEAR(m, 0.0, 4.0 / sqrt((double)n));
    HG_CHECK_NEAR(v, 1.0, 4.0 * sqrt(2.0 / (double)n));
    hg_map_free(&out);
}

HG_TEST(uniform_range_and_mean) {
    hg_tensor_map out;
    hg_map_init(&out);
    int64_t n = 1000000;
    hg_tensor *t = run_random(0, HG_F32, n, 77, 0, 2, &out);
    HG_CHECK(t);
    const float *x = t->data;
    double m = 0;
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        m += x[i];
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    m /= (double)n;
    HG_CHECK(lo >= 0.0f && hi < 1.0f);
    HG_CHECK(lo < 1e-4f && hi > 0.9999f);
    HG_CHECK_NEAR(m, 0.5, 4.0 * sqrt(1.0 / 12.0 / (double)n));
    hg_map_free(&out);
}
