/* hg_bench_row: layer norm and softmax, forward and backward, as the jit
 * backend runs them (ROW fusion groups, codegen/jit/jit_row.c, and the
 * LOOP kernels of their VJPs) against oneDNN 2.6's layer normalization and
 * softmax (v2) primitives, in one process on the same data (issue 11
 * item 4: keep whichever is faster; bench/row.sh).
 *
 *   hg_bench_row [--batch B] [--n N] [--c C] [--sm-rows R] [--sm-c S]
 *                [--threads T] [--iters K] [--reps M]
 *
 * Defaults: layer norm x [B, N, C] = [8, 640, 128] (the demo transformer's)
 * with scale and shift [C]; softmax x [R, S] = [2560, 640] (one batch of
 * the demo's attention logits rows, 4 heads x 640 queries over 640 keys);
 * T 1; K 9 samples; M 20 calls per sample. Variants, each sample the mean
 * of M calls, the variants of a sample run in turn (a load change hits all
 * alike), medians over the K samples printed in ms per call:
 *   ln_fwd_jit_fused      ROW kernel: ln = layer_norm(x), y = ln * s + b,
 *                         both outputs (what the training graph needs:
 *                         the VJP reads ln)
 *   ln_fwd_jit_unfused    main's schedule before ROW groups: fast's
 *                         layer_norm kernel, then a JIT LOOP for * s + b
 *   ln_fwd_jit_y          ROW kernel, y only (the sampling graph)
 *   ln_fwd_dnnl_train     oneDNN forward_training with scale and shift:
 *                         y, mean and variance
 *   ln_fwd_dnnl_infer     oneDNN forward_inference: y only
 *   ln_fb_jit             forward and backward as the training graph runs
 *                         them: the jit kernels of y and of its VJP
 *                         (hg_grad of loss = sum(y w), the loss kernel not
 *                         counted; fusion mixes forward and backward
 *                         members, so they are timed together): dx, ds, db
 *   ln_bwd_dnnl           oneDNN backward (dx, ds, db from x, mean,
 *                         variance, dy = w); compare ln_fb_jit with
 *                         ln_fwd_dnnl_train + ln_bwd_dnnl
 *   sm_fwd_jit / sm_fwd_dnnl, sm_fb_jit / sm_bwd_dnnl   softmax likewise
 * JIT times are kernel times (the executor's hooks: no binding or output
 * copies); oneDNN times are dnnl_primitive_execute + dnnl_stream_wait.
 * Also printed: the largest difference between jit and oneDNN results
 * (relative to the output's largest magnitude). Exit 0 ok, 1 error, 2
 * usage. */
#include <dnnl.h>
#include <malloc.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/jit/jit.h"
#include "passes/passes.h"

typedef struct {
    int B, N, C, R, S, threads, iters, reps;
} opts;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "hg_bench_row: %s: %s\n", what, msg);
    exit(1);
}
static void ok_or_die(hg_status s, const char *what) {
    if (s.code != HG_OK) die(what, s.msg);
}
static void dnnl_ok(dnnl_status_t s, const char *what) {
    if (s != dnnl_success) die(what, "oneDNN call failed");
}

/* ------------------------------------------------------------ jit side */

/* A compiled graph run with hooks that sum the kernel times of every
 * kernel but the one computing `skip` (the scalar loss sum(y w) of the
 * backward programs, which is neither forward nor backward; HG_NONE:
 * every kernel). */
typedef struct {
    hg_jit_backend *b;      /* the jit backend, ROW kernels on the JIT's code */
    hg_schedule s;
    hg_tensor_map in, out, state;
    hg_value skip;
    double seconds;
} jprog;

static void hook(void *user, const hg_graph *g, const hg_schedule *s, int kernel, double sec) {
    (void)g;
    jprog *j = user;
    const hg_kernel *k = &s->kernels[kernel];
    int counted = 1;
    for (int i = 0; i < k->n_members; i++) counted &= k->members[i] != j->skip;
    if (counted) j->seconds += sec;
    if (getenv("HG_BENCH_TRACE"))
        fprintf(stderr, "  kernel %d %s %s %.4f ms\n", kernel, k->name, counted ? "counted" : "-",
                1e3 * sec);
}

static double jrun(jprog *j) {
    hg_exec_hooks h = {hook, j};
    j->seconds = 0;
    ok_or_die(hg_jit_backend_run(j->b, &j->state, &j->in, &j->out, &h), "jit run");
    return j->seconds;
}

static void feed(hg_tensor_map *m, const char *name, hg_shape s, uint32_t salt) {
    hg_tensor *t;
    ok_or_die(hg_map_alloc(m, name, HG_F32, s, &t), "inputs");
    float *d = t->data;
    for (int64_t i = 0; i < hg_shape_numel(s); i++)
        d[i] = (float)(hg_rng_normal(31, salt, 0, 0, (uint64_t)i) * (1 + (i % 3)) + (i % 5) * 0.1);
}

static void jinit(jprog *j) {
    memset(j, 0, sizeof *j);
    hg_map_init(&j->in);
    hg_map_init(&j->out);
    hg_map_init(&j->state);
    j->skip = HG_NONE;
}

static void jfree(jprog *j) {
    hg_jit_backend_free(j->b);
    hg_schedule_free(&j->s);
    hg_map_free(&j->in);
    hg_map_free(&j->out);
    hg_map_free(&j->state);
}

/* layer norm graph; which: 0 fused (ln, y), 1 y only, 2 unfused (ln, y),
 * 3 backward (dx, ds, db of sum(y w)). */
static void ln_prog(const opts *o, int which, jprog *j, hg_graph **gout) {
    jinit(j);
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(3, (int64_t)o->B, (int64_t)o->N, (int64_t)o->C);
    hg_value x = hg_input(g, "x", HG_F32, s);
    hg_value sc = hg_input(g, "scale", HG_F32, hg_shape_of(1, (int64_t)o->C));
    hg_value bi = hg_input(g, "bias", HG_F32, hg_shape_of(1, (int64_t)o->C));
    hg_value ln = hg_layer_norm(g, x, 1e-6);
    hg_value y = hg_add(g, hg_mul(g, ln, sc), bi);
    if (which != 1 && which != 3) hg_set_output(g, "ln", ln);
    if (which != 3) hg_set_output(g, "y", y);
    feed(&j->in, "x", s, 1);
    feed(&j->in, "scale", hg_shape_of(1, (int64_t)o->C), 2);
    feed(&j->in, "bias", hg_shape_of(1, (int64_t)o->C), 3);
    if (which == 3) {
        hg_value w = hg_input(g, "w", HG_F32, s);
        feed(&j->in, "w", s, 4);
        hg_value loss = hg_sum_all(g, hg_mul(g, y, w));
        j->skip = loss;
        hg_value wrt[3] = {x, sc, bi}, gr[3];
        ok_or_die(hg_grad(g, loss, 3, wrt, gr), "grad");
        hg_set_output(g, "dx", gr[0]);
        hg_set_output(g, "ds", gr[1]);
        hg_set_output(g, "db", gr[2]);
    }
    ok_or_die(hg_graph_status(g), "graph");
    ok_or_die(hg_verify(g), "verify");
    if (which == 2) { /* LOOP groups only: layer_norm is fast's OP kernel */
        hg_fuse_opts fo;
        hg_fuse_opts_default(&fo);
        fo.kinds = 1u << HG_KERNEL_LOOP;
        ok_or_die(hg_fuse(g, &fo, &j->s), "fuse");
    } else {
        ok_or_die(hg_jit_schedule(g, &j->s), "schedule");
    }
    /* the JIT's ROW code, never the oneDNN route (measured separately) */
    ok_or_die(hg_jit_backend_compile_ex(g, &j->s, 0, &j->b), "compile");
    *gout = g;
}

static void sm_prog(const opts *o, int bwd, jprog *j, hg_graph **gout) {
    jinit(j);
    hg_graph *g = hg_graph_new();
    hg_shape s = hg_shape_of(2, (int64_t)o->R, (int64_t)o->S);
    hg_value x = hg_input(g, "x", HG_F32, s);
    hg_value y = hg_softmax(g, x);
    feed(&j->in, "x", s, 5);
    if (bwd) {
        hg_value w = hg_input(g, "w", HG_F32, s);
        feed(&j->in, "w", s, 6);
        hg_value loss = hg_sum_all(g, hg_mul(g, y, w));
        j->skip = loss;
        hg_value gr;
        ok_or_die(hg_grad(g, loss, 1, &x, &gr), "grad");
        hg_set_output(g, "dx", gr);
    } else {
        hg_set_output(g, "y", y);
    }
    ok_or_die(hg_graph_status(g), "graph");
    ok_or_die(hg_verify(g), "verify");
    ok_or_die(hg_jit_schedule(g, &j->s), "schedule");
    ok_or_die(hg_jit_backend_compile_ex(g, &j->s, 0, &j->b), "compile");
    *gout = g;
}

/* ------------------------------------------------------------ oneDNN */

typedef struct {
    dnnl_primitive_t prim;
    int n;
    dnnl_exec_arg_t args[10];
} dprim;

static dnnl_engine_t eng;
static dnnl_stream_t strm;

static dnnl_memory_t mem(const dnnl_memory_desc_t *md, void *data) {
    dnnl_memory_t m;
    dnnl_ok(dnnl_memory_create(&m, md, eng, data ? data : DNNL_MEMORY_ALLOCATE), "memory");
    return m;
}

static void *mem_ptr(dnnl_memory_t m) {
    void *p;
    dnnl_ok(dnnl_memory_get_data_handle(m, &p), "handle");
    return p;
}

static double drun(const dprim *d) {
    double t0 = omp_get_wtime();
    dnnl_ok(dnnl_primitive_execute(d->prim, strm, d->n, d->args), "execute");
    dnnl_ok(dnnl_stream_wait(strm), "wait");
    return omp_get_wtime() - t0;
}

static void arg(dprim *d, int a, dnnl_memory_t m) {
    d->args[d->n].arg = a;
    d->args[d->n].memory = m;
    d->n++;
}

/* Layer norm primitives over x (data of the jit's input, copied): fwd
 * training, fwd inference, bwd with dy = w. */
typedef struct {
    dprim train, infer, bwd;
    dnnl_memory_t y, dx, ds, db;
} dln;

static void ln_dnnl(const opts *o, const float *x, const float *sc, const float *bi,
                    const float *w, dln *d) {
    memset(d, 0, sizeof *d);
    dnnl_dims_t dd = {o->B, o->N, o->C}, cd = {o->C};
    dnnl_dims_t sd = {o->B, o->N};
    dnnl_memory_desc_t md, cmd, smd;
    dnnl_ok(dnnl_memory_desc_init_by_tag(&md, 3, dd, dnnl_f32, dnnl_abc), "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&smd, 2, sd, dnnl_f32, dnnl_ab), "md");
    dnnl_ok(dnnl_memory_desc_init_by_tag(&cmd, 1, cd, dnnl_f32, dnnl_a), "md");
    unsigned fl = dnnl_use_scale | dnnl_use_shift;
    dnnl_layer_normalization_desc_t fd, id, bd;
    dnnl_ok(dnnl_layer_normalization_forward_desc_init(&fd, dnnl_forward_training, &md, &smd, 1e-6f, fl), "ln fwd");
    dnnl_ok(dnnl_layer_normalization_forward_desc_init(&id, dnnl_forward_inference, &md, &smd, 1e-6f, fl), "ln inf");
    dnnl_ok(dnnl_layer_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, &smd, 1e-6f, fl), "ln bwd");
    dnnl_primitive_desc_t fpd, ipd, bpd;
    dnnl_ok(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL), "ln fwd pd");
    dnnl_ok(dnnl_primitive_desc_create(&ipd, &id, NULL, eng, NULL), "ln inf pd");
    dnnl_ok(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd), "ln bwd pd");
    size_t nb = sizeof(float) * (size_t)o->B * (size_t)o->N * (size_t)o->C;
    dnnl_memory_t X = mem(&md, NULL), S = mem(&cmd, NULL), Bm = mem(&cmd, NULL);
    dnnl_memory_t W = mem(&md, NULL), mean = mem(&smd, NULL), var = mem(&smd, NULL);
    memcpy(mem_ptr(X), x, nb);
    memcpy(mem_ptr(W), w, nb);
    memcpy(mem_ptr(S), sc, sizeof(float) * (size_t)o->C);
    memcpy(mem_ptr(Bm), bi, sizeof(float) * (size_t)o->C);
    d->y = mem(&md, NULL);
    dnnl_memory_t y2 = mem(&md, NULL);
    d->dx = mem(&md, NULL);
    d->ds = mem(&cmd, NULL);
    d->db = mem(&cmd, NULL);
    dnnl_ok(dnnl_primitive_create(&d->train.prim, fpd), "prim");
    dnnl_ok(dnnl_primitive_create(&d->infer.prim, ipd), "prim");
    dnnl_ok(dnnl_primitive_create(&d->bwd.prim, bpd), "prim");
    dprim *t = &d->train;
    arg(t, DNNL_ARG_SRC, X); arg(t, DNNL_ARG_DST, d->y); arg(t, DNNL_ARG_MEAN, mean);
    arg(t, DNNL_ARG_VARIANCE, var); arg(t, DNNL_ARG_SCALE, S); arg(t, DNNL_ARG_SHIFT, Bm);
    t = &d->infer;
    arg(t, DNNL_ARG_SRC, X); arg(t, DNNL_ARG_DST, y2); arg(t, DNNL_ARG_SCALE, S);
    arg(t, DNNL_ARG_SHIFT, Bm);
    t = &d->bwd;
    arg(t, DNNL_ARG_SRC, X); arg(t, DNNL_ARG_MEAN, mean); arg(t, DNNL_ARG_VARIANCE, var);
    arg(t, DNNL_ARG_DIFF_DST, W); arg(t, DNNL_ARG_SCALE, S); arg(t, DNNL_ARG_SHIFT, Bm);
    arg(t, DNNL_ARG_DIFF_SRC, d->dx); arg(t, DNNL_ARG_DIFF_SCALE, d->ds);
    arg(t, DNNL_ARG_DIFF_SHIFT, d->db);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(ipd);
    dnnl_primitive_desc_destroy(bpd);
}

typedef struct {
    dprim fwd, bwd;
    dnnl_memory_t y, dx;
} dsm;

static void sm_dnnl(const opts *o, const float *x, const float *w, dsm *d) {
    memset(d, 0, sizeof *d);
    dnnl_dims_t dd = {o->R, o->S};
    dnnl_memory_desc_t md;
    dnnl_ok(dnnl_memory_desc_init_by_tag(&md, 2, dd, dnnl_f32, dnnl_ab), "md");
    dnnl_softmax_v2_desc_t fd, bd;
    dnnl_ok(dnnl_softmax_v2_forward_desc_init(&fd, dnnl_forward_training, dnnl_softmax_accurate, &md, &md, 1), "sm fwd");
    dnnl_ok(dnnl_softmax_v2_backward_desc_init(&bd, dnnl_softmax_accurate, &md, &md, &md, 1), "sm bwd");
    dnnl_primitive_desc_t fpd, bpd;
    dnnl_ok(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL), "sm fwd pd");
    dnnl_ok(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd), "sm bwd pd");
    size_t nb = sizeof(float) * (size_t)o->R * (size_t)o->S;
    dnnl_memory_t X = mem(&md, NULL), W = mem(&md, NULL);
    memcpy(mem_ptr(X), x, nb);
    memcpy(mem_ptr(W), w, nb);
    d->y = mem(&md, NULL);
    d->dx = mem(&md, NULL);
    dnnl_ok(dnnl_primitive_create(&d->fwd.prim, fpd), "prim");
    dnnl_ok(dnnl_primitive_create(&d->bwd.prim, bpd), "prim");
    arg(&d->fwd, DNNL_ARG_SRC, X); arg(&d->fwd, DNNL_ARG_DST, d->y);
    arg(&d->bwd, DNNL_ARG_DST, d->y); arg(&d->bwd, DNNL_ARG_DIFF_DST, W);
    arg(&d->bwd, DNNL_ARG_DIFF_SRC, d->dx);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bpd);
}

/* ------------------------------------------------------------ main */

/* max |a - b| / max |b| over n floats */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double m = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m) m = d;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return s > 0 ? m / s : m;
}

static const float *out_of(const jprog *j, const char *name) {
    const hg_tensor *t = hg_map_get(&j->out, name);
    if (!t) die(name, "missing output");
    return t->data;
}

static const float *in_of(const jprog *j, const char *name) {
    return hg_map_get(&j->in, name)->data;
}

enum { LN_FUSED, LN_UNFUSED, LN_Y, LN_DTRAIN, LN_DINFER, LN_BWD, LN_DBWD, SM_FWD, SM_DFWD,
       SM_BWD, SM_DBWD, NV };
static const char *NAMES[NV] = {"ln_fwd_jit_fused", "ln_fwd_jit_unfused", "ln_fwd_jit_y",
                                "ln_fwd_dnnl_train", "ln_fwd_dnnl_infer", "ln_fb_jit",
                                "ln_bwd_dnnl", "sm_fwd_jit", "sm_fwd_dnnl", "sm_fb_jit",
                                "sm_bwd_dnnl"};

int main(int argc, char **argv) {
    opts o = {8, 640, 128, 2560, 640, 1, 9, 20};
    for (int i = 1; i < argc; i++) {
        int *f = !strcmp(argv[i], "--batch") ? &o.B : !strcmp(argv[i], "--n") ? &o.N
                 : !strcmp(argv[i], "--c") ? &o.C : !strcmp(argv[i], "--sm-rows") ? &o.R
                 : !strcmp(argv[i], "--sm-c") ? &o.S : !strcmp(argv[i], "--threads") ? &o.threads
                 : !strcmp(argv[i], "--iters") ? &o.iters : !strcmp(argv[i], "--reps") ? &o.reps
                 : NULL;
        if (!f || i + 1 >= argc || (*f = atoi(argv[++i])) <= 0) {
            fprintf(stderr, "usage: hg_bench_row [--batch B] [--n N] [--c C] [--sm-rows R] "
                            "[--sm-c S] [--threads T] [--iters K] [--reps M]\n");
            return 2;
        }
    }
    mallopt(M_MMAP_THRESHOLD, 1 << 30); /* as tools/main.c: no page faults per run */
    mallopt(M_TRIM_THRESHOLD, -1);
    omp_set_num_threads(o.threads);
    dnnl_ok(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    dnnl_ok(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags), "stream");
    jprog J[4], SJ[2];
    hg_graph *G[4], *SG[2];
    ln_prog(&o, 0, &J[0], &G[0]);
    ln_prog(&o, 2, &J[1], &G[1]);
    ln_prog(&o, 1, &J[2], &G[2]);
    ln_prog(&o, 3, &J[3], &G[3]);
    sm_prog(&o, 0, &SJ[0], &SG[0]);
    sm_prog(&o, 1, &SJ[1], &SG[1]);
    dln D;
    ln_dnnl(&o, in_of(&J[3], "x"), in_of(&J[3], "scale"), in_of(&J[3], "bias"), in_of(&J[3], "w"), &D);
    dsm DS;
    sm_dnnl(&o, in_of(&SJ[1], "x"), in_of(&SJ[1], "w"), &DS);
    double *t[NV];
    for (int v = 0; v < NV; v++) t[v] = calloc((size_t)o.iters, sizeof(double));
    for (int it = -1; it < o.iters; it++) { /* it -1: warm-up */
        for (int v = 0; v < NV; v++) {
            double s = 0;
            if (getenv("HG_BENCH_TRACE")) fprintf(stderr, "variant %s\n", NAMES[v]);
            for (int r = 0; r < o.reps; r++) switch (v) {
                case LN_FUSED: s += jrun(&J[0]); break;
                case LN_UNFUSED: s += jrun(&J[1]); break;
                case LN_Y: s += jrun(&J[2]); break;
                case LN_DTRAIN: s += drun(&D.train); break;
                case LN_DINFER: s += drun(&D.infer); break;
                case LN_BWD: s += jrun(&J[3]); break;
                case LN_DBWD: s += drun(&D.bwd); break;
                case SM_FWD: s += jrun(&SJ[0]); break;
                case SM_DFWD: s += drun(&DS.fwd); break;
                case SM_BWD: s += jrun(&SJ[1]); break;
                default: s += drun(&DS.bwd); break;
                }
            if (it >= 0) t[v][it] = 1e3 * s / o.reps;
        }
    }
    printf("ln_shape [%d,%d,%d] sm_shape [%d,%d] threads %d iters %d reps %d\n", o.B, o.N, o.C,
           o.R, o.S, o.threads, o.iters, o.reps);
    double med[NV];
    for (int v = 0; v < NV; v++) {
        qsort(t[v], (size_t)o.iters, sizeof(double), cmp_d);
        med[v] = t[v][o.iters / 2];
        printf("%-20s median_ms %8.4f  min_ms %8.4f\n", NAMES[v], med[v], t[v][0]);
    }
    printf("ratio ln_fwd dnnl_train / jit_fused %.3f\n", med[LN_DTRAIN] / med[LN_FUSED]);
    printf("ratio ln_fwd jit_unfused / jit_fused %.3f\n", med[LN_UNFUSED] / med[LN_FUSED]);
    printf("ratio ln_fwd dnnl_infer / jit_y %.3f\n", med[LN_DINFER] / med[LN_Y]);
    printf("ratio ln_fwd+bwd dnnl_train+dnnl_bwd / jit %.3f\n", (med[LN_DTRAIN] + med[LN_DBWD]) / med[LN_BWD]);
    printf("ratio sm_fwd dnnl / jit %.3f\n", med[SM_DFWD] / med[SM_FWD]);
    printf("ratio sm_fwd+bwd dnnl_fwd+dnnl_bwd / jit %.3f\n", (med[SM_DFWD] + med[SM_DBWD]) / med[SM_BWD]);
    int64_t n = (int64_t)o.B * o.N * o.C, ns = (int64_t)o.R * o.S;
    printf("diff ln y %.3g dx %.3g ds %.3g db %.3g; sm y %.3g dx %.3g (max|jit - dnnl| / max|jit|)\n",
           rel_diff(mem_ptr(D.y), out_of(&J[0], "y"), n), rel_diff(mem_ptr(D.dx), out_of(&J[3], "dx"), n),
           rel_diff(mem_ptr(D.ds), out_of(&J[3], "ds"), o.C), rel_diff(mem_ptr(D.db), out_of(&J[3], "db"), o.C),
           rel_diff(mem_ptr(DS.y), out_of(&SJ[0], "y"), ns), rel_diff(mem_ptr(DS.dx), out_of(&SJ[1], "dx"), ns));
    printf("diff ln jit_unfused vs jit_fused y %.3g\n", rel_diff(out_of(&J[1], "y"), out_of(&J[0], "y"), n));
    for (int v = 0; v < NV; v++) free(t[v]);
    for (int i = 0; i < 4; i++) {
        jfree(&J[i]);
        hg_graph_free(G[i]);
    }
    for (int i = 0; i < 2; i++) {
        jfree(&SJ[i]);
        hg_graph_free(SG[i]);
    }
    return 0;
}
