/* The kernel profiler (runtime/profile.h): kernels, call counts and FLOPs
 * of a known program (worked out by hand below), the table's order and
 * rates with recorded times chosen by the test, aggregation by signature,
 * fused kernels, thread safety, and the Chrome trace file (balanced,
 * ordered B/E events). */
#include "codegen/fast.h"
#include "runtime/profile.h"
#include "tests/hg_test.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

HG_LABELS(fast)

/* x f32[4,8] (input), w f32[8,16] (state); y = x w [4,16]; e1 = exp(y);
 * e2 = exp(e1); s = sum(e2) (rank 0).
 * FLOPs (SPEC 7): matmul 2*M*N*K = 2*4*16*8 = 1024; exp 1 per element =
 * 64 each; sum 1 per input element = 64.
 * Bytes: matmul (32 + 128 + 64) * 4 = 896; exp (64 + 64) * 4 = 512;
 * sum (64 + 1) * 4 = 260. */
typedef struct {
    hg_graph *g;
    hg_value x, w, y, e1, e2, s;
    hg_tensor_map in, state, out;
} prog;

static int prog_make(prog *p) {
    p->g = hg_graph_new();
    p->x = hg_input(p->g, "x", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)8));
    p->w = hg_state(p->g, "w", HG_F32, hg_shape_of(2, (int64_t)8, (int64_t)16));
    p->y = hg_matmul(p->g, p->x, p->w, 0, 0);
    p->e1 = hg_exp(p->g, p->y);
    p->e2 = hg_exp(p->g, p->e1);
    p->s = hg_sum_all(p->g, p->e2);
    hg_set_output(p->g, "s", p->s);
    hg_map_init(&p->in);
    hg_map_init(&p->state);
    hg_map_init(&p->out);
    hg_tensor *t;
    if (hg_verify(p->g).code || hg_map_alloc(&p->in, "x", HG_F32, hg_value_shape(p->g, p->x), &t).code)
        return -1;
    for (int i = 0; i < 32; i++) hg_tensor_set(t, i, 0.01 * i);
    if (hg_map_alloc(&p->state, "w", HG_F32, hg_value_shape(p->g, p->w), &t).code) return -1;
    for (int i = 0; i < 128; i++) hg_tensor_set(t, i, 0.001 * (i % 7));
    return 0;
}

static void prog_free(prog *p) {
    hg_map_free(&p->in);
    hg_map_free(&p->state);
    hg_map_free(&p->out);
    hg_graph_free(p->g);
}

static const hg_profile_kernel *kernel_of(const hg_profile *pr, hg_value v) {
    int k = pr->kernel_of_node[v];
    return k >= 0 ? &pr->kernels[k] : NULL;
}

HG_TEST(known_program_kernels_counts_flops) {
    prog p;
    HG_CHECK(prog_make(&p) == 0);
    hg_profile pr;
    HG_CHECK_OK(hg_profile_init(&pr, p.g, 0));
    HG_CHECK(pr.n_kernels == 4); /* leaves x, w are not kernels */
    HG_CHECK(pr.kernel_of_node[p.x] == -1 && pr.kernel_of_node[p.w] == -1);
    hg_exec_hooks h = hg_profile_hooks(&pr);
    const int iters = 3;
    for (int it = 0; it < iters; it++) {
        hg_profile_step_begin(&pr);
        HG_CHECK_OK(hg_ref_run(p.g, &p.state, &p.in, &p.out, &h));
        hg_profile_step_end(&pr);
    }
    struct { hg_value v; const char *name; int64_t flops, bytes; const char *shape; } want[4] = {
        {p.y, "matmul", 1024, 896, "f32[4,16]"},
        {p.e1, "exp", 64, 512, "f32[4,16]"},
        {p.e2, "exp", 64, 512, "f32[4,16]"},
        {p.s, "sum", 64, 260, "f32[]"},
    };
    double sum_t = 0;
    for (int i = 0; i < 4; i++) {
        const hg_profile_kernel *k = kernel_of(&pr, want[i].v);
        HG_CHECK(k != NULL);
        HG_CHECK(!strcmp(k->name, want[i].name));
        HG_CHECK(!strcmp(k->shape, want[i].shape));
        HG_CHECK(k->calls == iters);
        HG_CHECK(k->flops == want[i].flops);
        HG_CHECK(k->bytes == want[i].bytes);
        HG_CHECK(k->n_members == 1 && k->members[0] == want[i].v);
        HG_CHECK(k->total_s >= 0 && k->min_s <= k->max_s);
        sum_t += k->total_s;
    }
    HG_CHECK(pr.steps == iters);
    HG_CHECK(pr.step_total_s >= sum_t); /* kernels run inside the steps */
    hg_profile_row *rows;
    int n;
    HG_CHECK_OK(hg_profile_rows(&pr, 0, &rows, &n));
    HG_CHECK(n == 4);
    double share = 0;
    int64_t flops = 0;
    for (int i = 0; i < n; i++) {
        if (i) HG_CHECK(rows[i - 1].total_s >= rows[i].total_s);
        HG_CHECK(rows[i].n_kernels == 1 && rows[i].calls == iters);
        share += rows[i].share;
        flops += rows[i].flops;
    }
    HG_CHECK(share > 0 && share <= 1 + 1e-9);
    HG_CHECK(flops == iters * (1024 + 64 + 64 + 64));
    free(rows);
    hg_profile_reset(&pr);
    HG_CHECK(kernel_of(&pr, p.y)->calls == 0 && pr.steps == 0);
    hg_profile_free(&pr);
    prog_free(&p);
}

/* Times set by the test: rates, shares and the table order are exact. */
HG_TEST(table_rates_and_order) {
    prog p;
    HG_CHECK(prog_make(&p) == 0);
    hg_profile pr;
    HG_CHECK_OK(hg_profile_init(&pr, p.g, 0));
    int km = pr.kernel_of_node[p.y], k1 = pr.kernel_of_node[p.e1];
    int k2 = pr.kernel_of_node[p.e2], ks = pr.kernel_of_node[p.s];
    for (int i = 0; i < 2; i++) {
        hg_profile_record(&pr, km, 1e-6);  /* matmul: 2 us in total */
        hg_profile_record(&pr, k1, 4e-6);  /* exp 1: 8 us */
        hg_profile_record(&pr, k2, 2e-6);  /* exp 2: 4 us */
        hg_profile_record(&pr, ks, 3e-6);  /* sum: 6 us */
    }
    hg_profile_record(&pr, -1, 1.0); /* out of range: ignored */
    hg_profile_row *rows;
    int n;
    HG_CHECK_OK(hg_profile_rows(&pr, 0, &rows, &n));
    HG_CHECK(n == 4);
    HG_CHECK(rows[0].kernel == k1 && rows[1].kernel == ks && rows[2].kernel == k2 &&
             rows[3].kernel == km);
    /* matmul: 2 calls * 1024 FLOP / 2e-6 s = 1.024 GFLOP/s; 2 * 896 B / 2e-6 s = 0.896 GB/s */
    HG_CHECK_REL(rows[3].gflops, 1.024, 1e-9);
    HG_CHECK_REL(rows[3].gbytes, 0.896, 1e-9);
    HG_CHECK_REL(rows[3].mean_s, 1e-6, 1e-9);
    /* no steps marked: share of the 20 us of kernel time */
    HG_CHECK_REL(rows[0].share, 8.0 / 20.0, 1e-9);
    HG_CHECK_REL(rows[3].share, 2.0 / 20.0, 1e-9);
    free(rows);

    /* the printed table: exp (node e1) first, then sum */
    char path[512];
    snprintf(path, sizeof path, "%s/table.txt", hg_test_tmpdir());
    FILE *f = fopen(path, "w");
    HG_CHECK(f != NULL);
    HG_CHECK_OK(hg_profile_print(&pr, f, 0, 0));
    fclose(f);
    f = fopen(path, "r");
    char line[512];
    int row = 0, saw_header = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "total_ms") && strstr(line, "GFLOP/s")) saw_header = 1;
        int rank;
        double ms, sh;
        if (saw_header && sscanf(line, "%d %lf %lf", &rank, &ms, &sh) == 3) {
            row++;
            char mem[32];
            if (row == 1) {
                snprintf(mem, sizeof mem, "%%%d\n", (int)p.e1);
                HG_CHECK(strstr(line, " exp ") && strstr(line, mem));
                HG_CHECK_NEAR(ms, 0.008, 1e-9);
                HG_CHECK_NEAR(sh, 40.0, 1e-9);
            }
            if (row == 2) HG_CHECK(strstr(line, " sum ") != NULL);
            if (row == 4) HG_CHECK(strstr(line, " matmul ") && strstr(line, " 1.024 "));
        }
    }
    fclose(f);
    HG_CHECK(saw_header && row == 4);
    hg_profile_free(&pr);
    prog_free(&p);
}

HG_TEST(aggregate_identical_kernels_by_shape) {
    prog p;
    HG_CHECK(prog_make(&p) == 0);
    hg_profile pr;
    HG_CHECK_OK(hg_profile_init(&pr, p.g, 0));
    hg_exec_hooks h = hg_profile_hooks(&pr);
    for (int it = 0; it < 5; it++) HG_CHECK_OK(hg_ref_run(p.g, &p.state, &p.in, &p.out, &h));
    hg_profile_row *rows;
    int n;
    HG_CHECK_OK(hg_profile_rows(&pr, HG_PROFILE_BY_SHAPE, &rows, &n));
    HG_CHECK(n == 3); /* matmul, exp (x2), sum */
    int seen = 0;
    for (int i = 0; i < n; i++) {
        const hg_profile_kernel *k = &pr.kernels[rows[i].kernel];
        if (!strcmp(k->name, "exp")) {
            seen++;
            HG_CHECK(rows[i].n_kernels == 2 && rows[i].calls == 10);
            HG_CHECK(rows[i].flops == 10 * 64 && rows[i].bytes == 10 * 512);
            HG_CHECK(rows[i].kernel == pr.kernel_of_node[p.e1]); /* the first instance */
        } else {
            HG_CHECK(rows[i].n_kernels == 1 && rows[i].calls == 5);
        }
    }
    HG_CHECK(seen == 1);
    free(rows);
    hg_profile_free(&pr);
    prog_free(&p);
}

HG_TEST(fused_kernel_lists_members) {
    prog p;
    HG_CHECK(prog_make(&p) == 0);
    hg_profile pr;
    HG_CHECK_OK(hg_profile_init(&pr, p.g, 0));
    hg_value mem[3] = {p.s, p.e1, p.e2};
    int k = -1;
    HG_CHECK_ERR(hg_profile_fuse(&pr, "bad", 1, &p.x, NULL), "leaf");
    HG_CHECK_ERR(hg_profile_fuse(&pr, "bad", 2, (hg_value[]){p.e1, p.e1}, NULL), "twice");
    HG_CHECK_ERR(hg_profile_fuse(&pr, "bad", 1, (hg_value[]){99}, NULL), "out of range");
    HG_CHECK_OK(hg_profile_fuse(&pr, "exp_exp_sum", 3, mem, &k));
    HG_CHECK(pr.n_kernels == 2 && k >= 0);
    HG_CHECK_ERR(hg_profile_fuse(&pr, "again", 1, &p.e1, NULL), "already in kernel exp_exp_sum");
    const hg_profile_kernel *fk = &pr.kernels[k];
    HG_CHECK(fk->n_members == 3 && fk->members[0] == p.e1 && fk->members[1] == p.e2 &&
             fk->members[2] == p.s);
    HG_CHECK(fk->flops == 64 + 64 + 64 && fk->bytes == 512 + 512 + 260);
    HG_CHECK(!strcmp(fk->shape, "f32[]"));
    HG_CHECK(pr.kernel_of_node[p.e1] == k && pr.kernel_of_node[p.s] == k);
    HG_CHECK(!strcmp(pr.kernels[pr.kernel_of_node[p.y]].name, "matmul"));
    hg_profile_record(&pr, k, 1e-6);
    HG_CHECK(fk->calls == 1);
    hg_profile_free(&pr);
    prog_free(&p);
}

/* A program run with a hand-made schedule whose second kernel has three
 * members (exp, exp, sum: a loop over [4,16] with a trailing sum): the
 * profile has one kernel per schedule kernel (2), the fused one named and
 * listing its members, FLOPs the member sums worked out above, bytes its
 * inputs plus outputs,
 * one call per run on ref and on fast, one table row each; the result
 * equals the node-by-node run. */
HG_TEST(multi_member_kernel_profiled) {
    prog p;
    HG_CHECK(prog_make(&p) == 0);
    hg_schedule s;
    hg_kernel_kind kinds[2] = {HG_KERNEL_OP, HG_KERNEL_LOOP};
    int nm[2] = {1, 3};
    hg_value mem[4] = {p.y, p.e1, p.e2, p.s};
    HG_CHECK_OK(hg_test_schedule(p.g, 2, kinds, nm, mem, &s));
    HG_CHECK(s.kernels[1].n_outputs == 1 && s.kernels[1].outputs[0] == p.s);
    hg_tensor_map ref;
    hg_map_init(&ref);
    HG_CHECK_OK(hg_ref_run(p.g, &p.state, &p.in, &ref, NULL));
    for (int backend = 0; backend < 2; backend++) {
        hg_profile pr;
        HG_CHECK_OK(hg_profile_init_schedule(&pr, p.g, &s, 0));
        HG_CHECK(pr.n_kernels == 2);
        const hg_profile_kernel *fk = &pr.kernels[1];
        HG_CHECK(!strcmp(fk->name, "loop:exp_exp_sum") && !strcmp(pr.kernels[0].name, "matmul"));
        HG_CHECK(fk->n_members == 3 && fk->members[0] == p.e1 && fk->members[1] == p.e2 &&
                 fk->members[2] == p.s);
        /* a fusion group moves its inputs and outputs only: y f32[4,16]
         * (256 bytes) in, s f32[] (4 bytes) out */
        HG_CHECK(fk->flops == 64 + 64 + 64 && fk->bytes == 256 + 4);
        HG_CHECK(pr.kernel_of_node[p.e2] == 1 && pr.kernel_of_node[p.y] == 0 &&
                 pr.kernel_of_node[p.x] == -1);
        hg_exec_hooks h = hg_profile_hooks(&pr);
        hg_ref_program *rp = NULL;
        hg_fast *fp = NULL;
        if (backend == 0) HG_CHECK_OK(hg_ref_compile(p.g, &s, &rp));
        else HG_CHECK_OK(hg_fast_compile(p.g, &s, &fp));
        for (int it = 0; it < 3; it++) {
            hg_map_free(&p.out);
            if (backend == 0) HG_CHECK_OK(hg_ref_program_run(rp, &p.state, &p.in, &p.out, &h));
            else HG_CHECK_OK(hg_fast_run(fp, &p.state, &p.in, &p.out, &h));
        }
        HG_CHECK(pr.kernels[0].calls == 3 && fk->calls == 3);
        hg_profile_row *rows = NULL;
        int n = 0;
        HG_CHECK_OK(hg_profile_rows(&pr, 0, &rows, &n));
        HG_CHECK(n == 2 && rows[0].n_kernels == 1 && rows[1].n_kernels == 1);
        free(rows);
        const char *path = hg_test_path("multi.txt");
        FILE *f = fopen(path, "w");
        HG_CHECK(f != NULL);
        HG_CHECK_OK(hg_profile_print(&pr, f, 0, 0));
        fclose(f);
        char buf[8192] = {0}, want[64];
        f = fopen(path, "r");
        HG_CHECK(f && fread(buf, 1, sizeof buf - 1, f) > 0);
        fclose(f);
        snprintf(want, sizeof want, "%%%d,%%%d,%%%d", p.e1, p.e2, p.s);
        HG_CHECK(strstr(buf, "loop:exp_exp_sum") && strstr(buf, want));
        /* on ref the result is bit-identical to the node-by-node run; on
         * fast the matmul is oneDNN's (rounding), so within 1e-4 */
        const hg_tensor *a = hg_map_get(&p.out, "s"), *b = hg_map_get(&ref, "s");
        HG_CHECK(a && b);
        double x = hg_tensor_get(a, 0), y = hg_tensor_get(b, 0);
        if (backend == 0) HG_CHECK(memcmp(a->data, b->data, 4) == 0);
        else HG_CHECK(fabs(x - y) <= 1e-4 * fabs(y));
        hg_ref_program_free(rp);
        hg_fast_free(fp);
        hg_profile_free(&pr);
    }
    hg_map_free(&ref);
    hg_schedule_free(&s);
    prog_free(&p);
}

/* Counts B and E events and checks per-thread nesting and time order in a
 * trace written one event per line. Returns the number of B events, or -1. */
static int check_trace(const char *path, int *n_tids) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[2048];
    int tids[64], depth[64];
    double last[64];
    int nt = 0, nb = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        const char *ph = strstr(line, "\"ph\":\"");
        if (!ph) continue;
        char c = ph[6];
        if (c != 'B' && c != 'E') continue;
        const char *tp = strstr(line, "\"tid\":"), *ts = strstr(line, "\"ts\":");
        if (!tp || !ts) { bad = 1; break; }
        int tid = atoi(tp + 6);
        double t = atof(ts + 5);
        int j = 0;
        while (j < nt && tids[j] != tid) j++;
        if (j == nt) {
            if (nt == 64) { bad = 1; break; }
            tids[nt] = tid;
            depth[nt] = 0;
            last[nt] = -1;
            nt++;
        }
        if (t < last[j]) bad = 1;
        last[j] = t;
        if (c == 'B') { depth[j]++; nb++; }
        else if (--depth[j] < 0) bad = 1;
    }
    fclose(f);
    for (int j = 0; j < nt; j++) if (depth[j] != 0) bad = 1;
    *n_tids = nt;
    return bad ? -1 : nb;
}

HG_TEST(trace_balanced_and_ordered) {
    prog p;
    HG_CHECK(prog_make(&p) == 0);
    hg_profile pr;
    HG_CHECK_OK(hg_profile_init(&pr, p.g, 0));
    char path[512];
    snprintf(path, sizeof path, "%s/trace.json", hg_test_tmpdir());
    HG_CHECK_ERR(hg_profile_write_trace(&pr, path), "HG_PROFILE_TRACE");
    hg_profile_free(&pr);
    HG_CHECK_OK(hg_profile_init(&pr, p.g, HG_PROFILE_TRACE));
    hg_exec_hooks h = hg_profile_hooks(&pr);
    HG_CHECK_OK(hg_ref_run(p.g, &p.state, &p.in, &p.out, &h)); /* outside any step */
    for (int it = 0; it < 3; it++) {
        hg_profile_step_begin(&pr);
        HG_CHECK_OK(hg_ref_run(p.g, &p.state, &p.in, &p.out, &h));
        hg_profile_step_end(&pr);
    }
    HG_CHECK(pr.n_events == 4 * 4 + 3);
    HG_CHECK_OK(hg_profile_write_trace(&pr, path));
    int nt = 0;
    HG_CHECK(check_trace(path, &nt) == 4 * 4 + 3);
    HG_CHECK(nt == 1);
    /* the kernel events carry their cost */
    FILE *f = fopen(path, "r");
    char buf[1 << 14];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    HG_CHECK(strstr(buf, "\"traceEvents\"") != NULL);
    HG_CHECK(strstr(buf, "\"name\":\"matmul\",\"cat\":\"kernel\",\"args\":{\"members\":[") != NULL);
    HG_CHECK(strstr(buf, "\"flops\":1024,\"bytes\":896") != NULL);
    HG_CHECK(strstr(buf, "\"name\":\"step\"") != NULL);
    snprintf(path, sizeof path, "%s/no/such/dir/trace.json", hg_test_tmpdir());
    HG_CHECK_ERR(hg_profile_write_trace(&pr, path), "no/such/dir");
    hg_profile_free(&pr);
    prog_free(&p);
}

/* Several threads recording at once: exact counts, one track per thread. */
HG_TEST(threads_record_safely) {
    prog p;
    HG_CHECK(prog_make(&p) == 0);
    hg_profile pr;
    HG_CHECK_OK(hg_profile_init(&pr, p.g, HG_PROFILE_TRACE));
    int k = pr.kernel_of_node[p.y];
    int nthreads = 0;
#pragma omp parallel num_threads(3)
    {
#pragma omp single
        nthreads = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int i = 0; i < 3000; i++) hg_profile_record(&pr, k, 1e-9);
    }
    HG_CHECK(pr.kernels[k].calls == 3000 && pr.n_events == 3000);
    char path[512];
    snprintf(path, sizeof path, "%s/threads.json", hg_test_tmpdir());
    HG_CHECK_OK(hg_profile_write_trace(&pr, path));
    int nt = 0;
    HG_CHECK(check_trace(path, &nt) == 3000);
    HG_CHECK(nt == nthreads);
    hg_profile_free(&pr);
    prog_free(&p);
}

HG_TEST(init_errors) {
    hg_profile pr;
    HG_CHECK_ERR(hg_profile_init(&pr, NULL, 0), "graph is NULL");
    hg_profile_free(&pr);
    hg_graph *g = hg_graph_new();
    hg_exp(g, hg_input(g, "x", HG_I32, hg_shape_scalar())); /* exp of i32: builder error */
    HG_CHECK_ERR(hg_profile_init(&pr, g, 0), "profile");
    hg_profile_free(&pr);
    hg_graph_free(g);
}
