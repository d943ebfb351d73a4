/* hg_bench_attention: attention forward + backward, fused (the attention,
 * attention_lse and attention_grad ops: codegen/attention_fused.c) against
 * the decomposed matmul-softmax-matmul form (passes/decompose.c applied to
 * the forward, then autodiff of the primitives, which keeps P for the
 * backward), on the same backend in the same process (bench/attention.sh).
 *
 *   hg_bench_attention [--batch B] [--heads H] [--n N] [--dhead D]
 *                      [--backend NAME] [--threads T] [--iters K]
 *
 * Defaults: B 8, H 4, N 640, D 32 (issue 12's size), backend jit, threads
 * as OpenMP's default, K 7. The graph: q, k, v, w of [B, H, N, D], a key
 * padding mask [B, 1, 1, N] (cloud b pads its last 8 b points),
 * o = attention(q, k, v, mask; 1 / sqrt(D)), loss = sum(o w), outputs o,
 * dq, dk, dv. One warm-up call of each, then K rounds, each timing one
 * call of each program (alternating which goes first, so a load change
 * hits both alike). Prints "key value" lines: the sizes, backend, threads,
 * fused_ms and decomposed_ms (every timed call), their medians, the ratio
 * decomposed / fused of the medians, the arena bytes of both memory plans
 * and the largest relative difference between the two programs' outputs
 * (relative to each output's largest magnitude).
 * Exit status 0 ok, 1 error (one line on stderr), 2 usage. */
#include <malloc.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "runtime/program.h"

static const char *OUTS[4] = {"o", "dq", "dk", "dv"};

static hg_shape sh4(int64_t a, int64_t b, int64_t c, int64_t d) {
    return (hg_shape){.rank = 4, .dim = {a, b, c, d}};
}

/* The forward graph; loss in *loss, q, k, v in wrt. */
static hg_graph *forward(int B, int H, int N, int D, hg_value *loss, hg_value *wrt) {
    hg_graph *g = hg_graph_new();
    wrt[0] = hg_input(g, "q", HG_F32, sh4(B, H, N, D));
    wrt[1] = hg_input(g, "k", HG_F32, sh4(B, H, N, D));
    wrt[2] = hg_input(g, "v", HG_F32, sh4(B, H, N, D));
    hg_value m = hg_input(g, "mask", HG_F32, sh4(B, 1, 1, N));
    hg_value w = hg_input(g, "w", HG_F32, sh4(B, H, N, D));
    hg_value o = hg_attention(g, wrt[0], wrt[1], wrt[2], m, 1.0 / sqrt((double)D));
    hg_set_output(g, "o", o);
    *loss = hg_sum_all(g, hg_mul(g, o, w));
    return g;
}

/* Adds dq, dk, dv outputs (the gradients of loss). */
static hg_status backward(hg_graph *g, hg_value loss, const hg_value *wrt) {
    hg_value gr[3];
    HG_TRY(hg_grad(g, loss, 3, wrt, gr));
    for (int i = 0; i < 3; i++) hg_set_output(g, OUTS[i + 1], gr[i]);
    return hg_graph_status(g);
}

static hg_status make_inputs(int B, int H, int N, int D, hg_tensor_map *in) {
    const char *names[4] = {"q", "k", "v", "w"};
    uint64_t s = 0x9e3779b97f4a7c15ull;
    hg_map_init(in);
    for (int a = 0; a < 4; a++) {
        hg_tensor *t;
        HG_TRY(hg_map_alloc(in, names[a], HG_F32, sh4(B, H, N, D), &t));
        float *x = t->data;
        for (int64_t e = 0; e < (int64_t)B * H * N * D; e++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[e] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
        }
    }
    hg_tensor *t;
    HG_TRY(hg_map_alloc(in, "mask", HG_F32, sh4(B, 1, 1, N), &t));
    float *m = t->data;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N; j++) m[b * N + j] = j < N - 8 * b;
    return hg_ok();
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int fail(const char *what, hg_status s) {
    fprintf(stderr, "hg_bench_attention: %s: %s\n", what, s.msg);
    return 1;
}

static int usage(const char *msg) {
    fprintf(stderr,
            "hg_bench_attention: %s\nusage: hg_bench_attention [--batch B] [--heads H] [--n N] "
            "[--dhead D] [--backend NAME] [--threads T] [--iters K]\n",
            msg);
    return 2;
}

/* Times one call of p (outputs discarded). */
static hg_status timed(hg_program *p, const hg_tensor_map *in, double *ms) {
    hg_tensor_map st, out;
    hg_map_init(&st);
    hg_map_init(&out);
    double t0 = omp_get_wtime();
    hg_status s = hg_program_run(p, &st, in, &out);
    *ms = 1e3 * (omp_get_wtime() - t0);
    hg_map_free(&out);
    hg_map_free(&st);
    return s;
}

/* Largest |a - b| / max|b| over the outputs of the two programs. */
static hg_status max_rel_diff(hg_program *a, hg_program *b, const hg_tensor_map *in, double *d) {
    hg_tensor_map st, oa, ob;
    hg_map_init(&st);
    hg_map_init(&oa);
    hg_map_init(&ob);
    hg_status s = hg_program_run(a, &st, in, &oa);
    if (s.code == HG_OK) s = hg_program_run(b, &st, in, &ob);
    *d = 0;
    for (int i = 0; i < 4 && s.code == HG_OK; i++) {
        const hg_tensor *x = hg_map_get(&oa, OUTS[i]), *y = hg_map_get(&ob, OUTS[i]);
        double big = 0, diff = 0;
        for (int64_t e = 0; e < hg_shape_numel(y->shape); e++) {
            double u = ((const float *)x->data)[e], v = ((const float *)y->data)[e];
            big = fmax(big, fabs(v));
            diff = fmax(diff, fabs(u - v));
        }
        *d = fmax(*d, big > 0 ? diff / big : diff);
    }
    hg_map_free(&oa);
    hg_map_free(&ob);
    hg_map_free(&st);
    return s;
}

int main(int argc, char **argv) {
    long v[5] = {8, 4, 640, 32, 7}; /* batch, heads, n, dhead, iters */
    const char *flags[5] = {"--batch", "--heads", "--n", "--dhead", "--iters"};
    const char *backend = "jit";
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return usage("every flag needs a value");
        int k = 0;
        while (k < 5 && strcmp(argv[i], flags[k])) k++;
        char *end;
        if (k < 5) {
            v[k] = strtol(argv[++i], &end, 10);
            if (*end || v[k] < 1 || v[k] > 100000) return usage("bad size or count");
        } else if (!strcmp(argv[i], "--backend")) {
            backend = argv[++i];
        } else if (!strcmp(argv[i], "--threads")) {
            threads = (int)strtol(argv[++i], &end, 10);
            if (*end || threads < 1 || threads > 1024) return usage("bad --threads");
        } else {
            return usage("unknown flag");
        }
    }
    int B = (int)v[0], H = (int)v[1], N = (int)v[2], D = (int)v[3], K = (int)v[4];
    /* as every halograph command (tools/main.c): freed memory stays in the
     * heap, so per-run output buffers do not page-fault on every call */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    if (threads) omp_set_num_threads(threads);
    hg_value loss, wrt[3], map_loss, map_wrt[3];
    hg_graph *fused = forward(B, H, N, D, &loss, wrt);
    hg_graph *dec = NULL;
    hg_value *map = malloc(sizeof(hg_value) * (size_t)fused->n_nodes);
    if (!map) return fail("memory", hg_error(HG_ERR_NOMEM, "map"));
    hg_status s = hg_decompose(fused, &dec, map);
    if (s.code != HG_OK) return fail("decompose", s);
    map_loss = map[loss];
    for (int i = 0; i < 3; i++) map_wrt[i] = map[wrt[i]];
    free(map);
    if ((s = backward(fused, loss, wrt)).code != HG_OK) return fail("grad (fused)", s);
    if ((s = backward(dec, map_loss, map_wrt)).code != HG_OK) return fail("grad (decomposed)", s);
    hg_program *pf = NULL, *pd = NULL;
    if ((s = hg_program_compile(fused, backend, &pf)).code != HG_OK) return fail("compile fused", s);
    if ((s = hg_program_compile(dec, backend, &pd)).code != HG_OK) return fail("compile decomposed", s);
    hg_mem_plan plf, pld;
    if ((s = hg_memplan_schedule(hg_program_graph(pf), hg_program_schedule(pf), &plf)).code ||
        (s = hg_memplan_schedule(hg_program_graph(pd), hg_program_schedule(pd), &pld)).code)
        return fail("memory plan", s);
    hg_tensor_map in;
    if ((s = make_inputs(B, H, N, D, &in)).code != HG_OK) return fail("inputs", s);
    double diff, *tf = malloc(sizeof(double) * (size_t)K), *td = malloc(sizeof(double) * (size_t)K);
    if (!tf || !td) return fail("memory", hg_error(HG_ERR_NOMEM, "times"));
    if ((s = max_rel_diff(pf, pd, &in, &diff)).code != HG_OK) return fail("warm-up", s);
    for (int it = 0; it < K; it++) {
        int first = it % 2;
        for (int j = 0; j < 2; j++) {
            int which = j ^ first;
            if ((s = timed(which ? pd : pf, &in, which ? &td[it] : &tf[it])).code != HG_OK)
                return fail("run", s);
        }
    }
    printf("batch %d\nheads %d\nn %d\ndhead %d\nbackend %s\nthreads %d\n", B, H, N, D, backend,
           omp_get_max_threads());
    printf("fused_ms");
    for (int it = 0; it < K; it++) printf(" %.2f", tf[it]);
    printf("\ndecomposed_ms");
    for (int it = 0; it < K; it++) printf(" %.2f", td[it]);
    double mf = median(tf, K), md = median(td, K);
    printf("\nfused_median_ms %.2f\ndecomposed_median_ms %.2f\nratio %.2f\n", mf, md, md / mf);
    printf("fused_arena_bytes %lld\ndecomposed_arena_bytes %lld\nmax_rel_diff %.3g\n",
           (long long)plf.arena_bytes, (long long)pld.arena_bytes, diff);
    free(tf);
    free(td);
    hg_map_free(&in);
    hg_memplan_free(&plf);
    hg_memplan_free(&pld);
    hg_program_free(pf);
    hg_program_free(pd);
    hg_graph_free(fused);
    hg_graph_free(dec);
    return 0;
}
