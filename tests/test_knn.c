/* Reference knn (SPEC 4.2) against a brute force written here: periodic
 * wrap-around pairs, noisy positions outside the box, padding masks,
 * ties by index on a lattice, the cell-list path vs brute force. */
#include "codegen/codegen.h"
#include "tests/hg_test.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

HG_LABELS(fast)

/* ---- brute force written here from SPEC 4.2 (independent of ref_knn.c) */
typedef struct { double d; int j; } cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* wrap then dr = (pi - pj) + 1e-5, dr -= rint(dr / L) L (rint: half-even
 * in the default rounding mode); computed in float when f32. */
static double d2_f32(const float *pi, const float *pj, float L) {
    float s = 0;
    for (int a = 0; a < 3; a++) {
        float wi = pi[a], wj = pj[a];
        if (L > 0) {
            wi = wi - floorf(wi / L) * L;
            wj = wj - floorf(wj / L) * L;
        }
        float dr = (wi - wj) + 1e-5f;
        if (L > 0) dr -= (float)rint((double)(dr / L)) * L;
        s += dr * dr;
    }
    return s;
}

static double d2_f64(const double *pi, const double *pj, double L) {
    double s = 0;
    for (int a = 0; a < 3; a++) {
        double wi = pi[a], wj = pj[a];
        if (L > 0) {
            wi = wi - floor(wi / L) * L;
            wj = wj - floor(wj / L) * L;
        }
        double dr = (wi - wj) + 1e-5;
        if (L > 0) dr -= rint(dr / L) * L;
        s += dr * dr;
    }
    return s;
}

/* want[B, N, k] by sorting every row */
static void brute_knn(int f32, const void *pos, const void *mask, int B, int N, int k,
                      double L, int32_t *want) {
    cand *c = malloc(N * sizeof *c);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++) {
            int32_t *w = want + ((int64_t)b * N + i) * k;
            for (int e = 0; e < k; e++) w[e] = -1;
            double mi = f32 ? ((const float *)mask)[b * N + i] : ((const double *)mask)[b * N + i];
            if (mi == 0) continue;
            int n = 0;
            for (int j = 0; j < N; j++) {
                double mj = f32 ? ((const float *)mask)[b * N + j] : ((const double *)mask)[b * N + j];
                if (mj == 0) continue;
                c[n].j = j;
                c[n++].d = f32 ? d2_f32((const float *)pos + 3 * (b * N + i),
                                        (const float *)pos + 3 * (b * N + j), (float)L)
                               : d2_f64((const double *)pos + 3 * (b * N + i),
                                        (const double *)pos + 3 * (b * N + j), L);
            }
            qsort(c, n, sizeof *c, cand_cmp);
            for (int e = 0; e < k && e < n; e++) w[e] = c[e].j;
        }
    free(c);
}

/* Runs knn on the given data; returns the i32 output copied (caller frees). */
static int32_t *run_knn(int f32, const void *pos, const void *mask, int B, int N, int k,
                        double L) {
    hg_graph *g = hg_graph_new();
    hg_dtype t = f32 ? HG_F32 : HG_F64;
    hg_value p = hg_constant(g, t, hg_shape_make(3, (int64_t[]){B, N, 3}), pos);
    hg_value m = hg_constant(g, t, hg_shape_make(2, (int64_t[]){B, N}), mask);
    hg_set_output(g, "nn", hg_knn(g, p, m, k, L));
    hg_status s = hg_verify(g);
    hg_tensor_map out;
    hg_map_init(&out);
    if (s.code == HG_OK) s = hg_ref_run(g, NULL, NULL, &out, NULL);
    int32_t *r = NULL;
    if (s.code != HG_OK) {
        fprintf(stderr, "knn run: %s\n", s.msg);
    } else {
        const hg_tensor *o = hg_map_get(&out, "nn");
        r = malloc((size_t)B * N * k * sizeof *r + 1);
        memcpy(r, o->data, (size_t)B * N * k * sizeof *r);
    }
    hg_map_free(&out);
    hg_graph_free(g);
    return r;
}

static int first_diff(const int32_t *a, const int32_t *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i]) return (int)i;
    return -1;
}

/* deterministic pseudo-random numbers in [0, 1) (a 64-bit LCG) */
static double lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53;
}

HG_TEST(knn_periodic_hand_case) {
    /* L = 10, points on the x axis at 0.2, 9.9, 5.0, 3.0:
     * from 0.2: self 0, 9.9 at 0.3 (through the wall), 3.0 at 2.8, 5.0 at 4.8 */
    const double pos[12] = {0.2, 1, 1, 9.9, 1, 1, 5.0, 1, 1, 3.0, 1, 1};
    const double mask[4] = {1, 1, 1, 1};
    int32_t *r = run_knn(0, pos, mask, 1, 4, 3, 10.0);
    HG_CHECK(r);
    const int32_t want[12] = {0, 1, 3,  1, 0, 3,  2, 3, 0,  3, 2, 0};
    /* 9.9: self, 0.2 (0.3), 3.0 (3.1 via wall vs 6.9) ; 5.0: self, 3.0 (2), 0.2 (4.8) vs 9.9 (4.9)
     * 3.0: self, 5.0 (2), 0.2 (2.8) */
    for (int i = 0; i < 12; i++)
        if (r[i] != want[i]) HG_FAIL("entry %d: %d, want %d", i, r[i], want[i]);
    free(r);
    /* the same without periodic boundaries: 0.2 and 9.9 are far apart */
    r = run_knn(0, pos, mask, 1, 4, 2, 0.0);
    HG_CHECK(r);
    const int32_t want0[8] = {0, 3, 1, 2, 2, 3, 3, 2};
    for (int i = 0; i < 8; i++)
        if (r[i] != want0[i]) HG_FAIL("box 0 entry %d: %d, want %d", i, r[i], want0[i]);
    free(r);
}

HG_TEST(knn_padding_and_too_few_points) {
    /* 4 points, point 1 padded, k = 4: real rows list the 3 real points then -1;
     * the padded row is all -1 */
    const float pos[12] = {0, 0, 0, 1, 0, 0, 2, 0, 0, 3.5f, 0, 0};
    const float mask[4] = {1, 0, 1, 1};
    int32_t *r = run_knn(1, pos, mask, 1, 4, 4, 0.0);
    HG_CHECK(r);
    const int32_t want[16] = {0, 2, 3, -1, -1, -1, -1, -1, 2, 3, 0, -1, 3, 2, 0, -1};
    for (int i = 0; i < 16; i++)
        if (r[i] != want[i]) HG_FAIL("entry %d: %d, want %d", i, r[i], want[i]);
    free(r);
}

static int check_random_cloud(int f32, int B, int N, int k, double L, uint64_t seed) {
    int64_t np = (int64_t)B * N;
    void *pos = malloc(np * 3 * (f32 ? 4 : 8)), *mask = malloc(np * (f32 ? 4 : 8));
    uint64_t s = seed;
    for (int64_t i = 0; i < np; i++) {
        for (int a = 0; a < 3; a++) {
            /* mostly inside [0, L); 5% slightly outside (noisy positions),
             * 10% hugging the walls to create wrap-around pairs */
            double u = lcg(&s), x;
            if (u < 0.05) x = -0.02 * L + 1.04 * L * lcg(&s);
            else if (u < 0.15) x = lcg(&s) < 0.5 ? 0.01 * L * lcg(&s) : L - 0.01 * L * lcg(&s);
            else x = L * lcg(&s);
            if (f32) ((float *)pos)[i * 3 + a] = (float)x;
            else ((double *)pos)[i * 3 + a] = x;
        }
        double m = lcg(&s) < 0.1 ? 0 : 1; /* 10% padded */
        if (f32) ((float *)mask)[i] = (float)m;
        else ((double *)mask)[i] = m;
    }
    int32_t *want = malloc(np * k * sizeof *want);
    brute_knn(f32, pos, mask, B, N, k, L, want);
    int32_t *got = run_knn(f32, pos, mask, B, N, k, L);
    int bad = !got;
    if (got) {
        int d = first_diff(got, want, np * k);
        if (d >= 0) {
            fprintf(stderr, "f32=%d N=%d: entry %d (row %d): %d, want %d\n", f32, N, d, d / k,
                    got[d], want[d]);
            bad = 1;
        }
    }
    free(got);
    free(want);
    free(pos);
    free(mask);
    return bad;
}

HG_TEST(knn_cells_equal_brute_force_f64) {
    HG_CHECK(!check_random_cloud(0, 2, 1500, 20, 100.0, 1));
    HG_CHECK(!check_random_cloud(0, 1, 300, 5, 1000.0, 2));
    HG_CHECK(!check_random_cloud(0, 1, 200, 20, 50.0, 3)); /* small N: brute path */
}

HG_TEST(knn_cells_equal_brute_force_f32) {
    HG_CHECK(!check_random_cloud(1, 2, 1500, 20, 1000.0, 4));
    HG_CHECK(!check_random_cloud(1, 1, 3000, 7, 250.0, 5));
}

HG_TEST(knn_lattice_ties_by_index) {
    /* 8^3 integer lattice in a box of 8 (N = 512 uses cell lists): many
     * neighbours at exactly equal d2; ties must be broken by lower index */
    enum { S = 8, N = S * S * S, K = 27 };
    static double pos[N * 3], mask[N];
    static float posf[N * 3], maskf[N];
    int n = 0;
    /* a scrambled index order so that ties are not in lattice order */
    for (int t = 0; t < N; t++) {
        int c = (t * 197) % N;
        pos[3 * n] = c / (S * S);
        pos[3 * n + 1] = (c / S) % S;
        pos[3 * n + 2] = c % S;
        mask[n] = 1;
        n++;
    }
    for (int i = 0; i < N * 3; i++) posf[i] = (float)pos[i];
    for (int i = 0; i < N; i++) maskf[i] = 1;
    static int32_t want[N * K];
    brute_knn(0, pos, mask, 1, N, K, (double)S, want);
    /* sanity of the brute force: self first, then 6 face neighbours at d2 ~ 1 */
    HG_CHECK(want[0] == 0);
    int32_t *got = run_knn(0, pos, mask, 1, N, K, (double)S);
    HG_CHECK(got);
    int d = first_diff(got, want, N * K);
    if (d >= 0) HG_FAIL("f64 lattice entry %d: %d, want %d", d, got[d], want[d]);
    free(got);
    brute_knn(1, posf, maskf, 1, N, K, (double)S, want);
    got = run_knn(1, posf, maskf, 1, N, K, (double)S);
    HG_CHECK(got);
    d = first_diff(got, want, N * K);
    if (d >= 0) HG_FAIL("f32 lattice entry %d: %d, want %d", d, got[d], want[d]);
    free(got);
}

HG_TEST(knn_thread_count_identical) {
    enum { N = 2000, K = 10 };
    static float pos[N * 3], mask[N];
    uint64_t s = 9;
    for (int i = 0; i < N * 3; i++) pos[i] = (float)(64.0 * lcg(&s));
    for (int i = 0; i < N; i++) mask[i] = 1;
    omp_set_num_threads(1);
    int32_t *a = run_knn(1, pos, mask, 1, N, K, 64.0);
    omp_set_num_threads(2);
    int32_t *b = run_knn(1, pos, mask, 1, N, K, 64.0);
    HG_CHECK(a && b && memcmp(a, b, sizeof(int32_t) * N * K) == 0);
    free(a);
    free(b);
}

HG_TEST(knn_paper_size_timing_and_spot_check) {
    /* the paper's graph: B = 16 clouds of N = 5000 points, k = 20, L = 1000
     * (f32); prints the time, checks every 97th row against brute force */
    enum { B = 16, N = 5000, K = 20 };
    float *pos = malloc(sizeof(float) * B * N * 3), *mask = malloc(sizeof(float) * B * N);
    uint64_t s = 11;
    for (int i = 0; i < B * N * 3; i++) pos[i] = (float)(1000.0 * lcg(&s));
    for (int i = 0; i < B * N; i++) mask[i] = (i % N) < N - 300; /* 300 padded per cloud */
    double t0 = omp_get_wtime();
    int32_t *got = run_knn(1, pos, mask, B, N, K, 1000.0);
    printf("knn B=%d N=%d k=%d: %.3f s\n", B, N, K, omp_get_wtime() - t0);
    HG_CHECK(got);
    cand *c = malloc(N * sizeof *c);
    for (int row = 0; row < B * N; row += 97) {
        int b = row / N, i = row % N;
        const int32_t *g = got + (int64_t)row * K;
        if (mask[row] == 0) {
            for (int e = 0; e < K; e++) HG_CHECK(g[e] == -1);
            continue;
        }
        int n = 0;
        for (int j = 0; j < N; j++) {
            if (mask[b * N + j] == 0) continue;
            c[n].j = j;
            c[n++].d = d2_f32(pos + 3 * (b * N + i), pos + 3 * (b * N + j), 1000.0f);
        }
        qsort(c, n, sizeof *c, cand_cmp);
        for (int e = 0; e < K; e++)
            if (g[e] != c[e].j) HG_FAIL("row %d entry %d: %d, want %d", row, e, g[e], c[e].j);
    }
    free(c);
    free(got);
    free(pos);
    free(mask);
}

/* Duplicate points (every position taken by 3 points: d2 ties broken by
 * index, self not necessarily first among the copies' equal distances),
 * copies straddling the walls, 10% padded; cell-list path (N > 256), and
 * the same result on 1 and 2 threads. */
HG_TEST(knn_duplicates_cells_threads) {
    enum { N = 900, K = 8 };
    static float pos[N * 3], mask[N];
    uint64_t s = 11;
    const float L = 64.0f;
    for (int i = 0; i < N; i += 3) {
        float x[3];
        for (int a = 0; a < 3; a++)
            x[a] = lcg(&s) < 0.2 ? (float)(L - 1e-3 * lcg(&s)) : (float)(L * lcg(&s));
        for (int c = 0; c < 3; c++) {
            for (int a = 0; a < 3; a++) pos[3 * (i + c) + a] = x[a];
            mask[i + c] = lcg(&s) < 0.1 ? 0.0f : 1.0f;
        }
    }
    static int32_t want[N * K];
    brute_knn(1, pos, mask, 1, N, K, L, want);
    int saved = omp_get_max_threads();
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        int32_t *got = run_knn(1, pos, mask, 1, N, K, L);
        HG_CHECK(got);
        int d = first_diff(got, want, (int64_t)N * K);
        free(got);
        omp_set_num_threads(saved);
        if (d >= 0) HG_FAIL("%d threads: entry %d (row %d) differs from brute force", t, d, d / K);
    }
}

/* N = 2000 slots of which only 15 are real, k = 20: every real row lists
 * the 15 real points then -1, padded rows are all -1 (fewer than k real
 * neighbours, large N). */
HG_TEST(knn_fewer_real_than_k_large_n) {
    enum { N = 2000, K = 20 };
    static double pos[N * 3], mask[N];
    uint64_t s = 12;
    for (int i = 0; i < N; i++) {
        for (int a = 0; a < 3; a++) pos[3 * i + a] = 100.0 * lcg(&s);
        mask[i] = i % 133 == 7 ? 1.0 : 0.0; /* 15 real points */
    }
    static int32_t want[N * K];
    brute_knn(0, pos, mask, 1, N, K, 100.0, want);
    int32_t *got = run_knn(0, pos, mask, 1, N, K, 100.0);
    HG_CHECK(got);
    int d = first_diff(got, want, (int64_t)N * K);
    int real_row = 7 * K, minus = 0;
    for (int e = 0; e < K; e++) minus += got[real_row + e] == -1;
    free(got);
    if (d >= 0) HG_FAIL("entry %d (row %d) differs from brute force", d, d / K);
    HG_CHECK(minus == K - 15);
}
