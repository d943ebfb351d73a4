/* hg_bench: halograph's side of bench/run (issue 13), one process per
 * measurement so that its peak resident memory is its own.
 *
 *   hg_bench make-run --config C --out RUN [--seed S] [--perturb SD] [--box L]
 *       Writes a run directory the other tools read (models/drivers.h):
 *       RUN/checkpoint.h5 (parameters initialised from seed S, default the
 *       config's, then each scalar p += SD * N(0, 1) from the counter RNG,
 *       default SD 0.02, so that zero-initialised layers such as the
 *       transformer's output Dense are not trivially zero; the bench's
 *       normalisation), RUN/config.yaml and RUN/run.yaml. The normalisation
 *       is synthetic but realistic: positions mean L/2, std L/sqrt(12)
 *       (uniform in the box), velocities mean 0, std 300 km/s, log10 mass
 *       mean 13, std 0.5. `halograph export-onnx --run RUN` and the PyTorch
 *       peer (h5py) read the same checkpoint.
 *
 *   hg_bench run --run RUN --graph KIND [--batch B] [--backend NAME]
 *                [--threads T] [--iters N] [--warmup W] [--nelbo-steps S]
 *                [--pad P] [--dump DIR] [--dump-calls K]
 *       Builds graph KIND (train | score | sample-step | nelbo) of the run
 *       for batch B (default: the config's), compiles it for the backend
 *       (default fast) and times W warm-up calls (default 1) and N timed
 *       calls (default 5) of hg_program_run. The inputs are deterministic
 *       synthetic data (seed = the config's seed): x and z are clouds with
 *       positions uniform in the box, velocities N(0, 300^2) km/s and
 *       log10 mass N(13, 0.5^2), normalised with the run's statistics;
 *       gamma uniform in [gamma_min, gamma_max]; t = 0.5, s = 0.49;
 *       Omega_m uniform in [0.1, 0.5), sigma_8 in [0.6, 1.0); mask 1 except
 *       the last P points of the last cloud (default 0); seed = config
 *       seed, replica 0, step = call index (0, 1, ...: a training step k
 *       draws its noise with step k, as the trainer does).
 *       With --dump DIR, before any timing, for each of the first K calls
 *       (default 1) it writes DIR/call<k>/: every graph input
 *       (<name>.npy), every random draw of the graph for that call
 *       (noise_<stream>.npy, the values hg_rng_uniform/normal give the
 *       random op with that stream id), every output (out_<name>.npy) and
 *       the state after the call (state.h5, a checkpoint: /state/<path>).
 *       Prints "key value" lines: backend, threads, compile_ms, gflop
 *       (FLOPs of one call, SPEC 7 convention, over the compiled graph),
 *       matmul_gflop (the part in matmul and attention nodes),
 *       step_ms (every timed call), step_median_ms, step_min_ms,
 *       step_max_ms, peak_rss_kb (getrusage, the whole process).
 *
 *   hg_bench sgemm [--n N] [--iters K] [--threads T]
 *       This machine's f32 matmul peak: oneDNN dnnl_sgemm on N^3 (default
 *       2048), one warm-up and K timed calls (default 5); prints
 *       sgemm_gflops (2 N^3 / median time) and sgemm_median_ms.
 *
 *   hg_bench backends       prints the comma-separated backend list.
 *
 * Exit status 0 ok, 1 error (one line on stderr naming what), 2 usage. */
#include <dnnl.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "models/drivers.h"
#include "models/models.h"
#include "runtime/program.h"
#include "runtime/runtime.h"

#define BENCH_STREAM_DATA 0x2000u  /* RNG streams of the synthetic inputs */
#define BENCH_STREAM_PERTURB 0x3000u

static int usage(const char *msg) {
    fprintf(stderr, "hg_bench: %s (see the comment at the top of bench/hg_bench.c)\n", msg);
    return 2;
}

static int fail(const char *what, hg_status s) {
    fprintf(stderr, "hg_bench: %s: %s\n", what, s.msg);
    return 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, min and max of v[0..n) (v is sorted in place). */
static void stats(double *v, int n, double *med, double *mn, double *mx) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    *mn = v[0];
    *mx = v[n - 1];
}

static long peak_rss_kb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss;
}

/* Finds "--flag value" in argv; NULL when absent. */
static const char *opt(int argc, char **argv, const char *flag) {
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag)) return argv[i + 1];
    return NULL;
}

static long opt_long(int argc, char **argv, const char *flag, long def) {
    const char *v = opt(argc, argv, flag);
    if (!v) return def;
    char *end;
    errno = 0;
    long r = strtol(v, &end, 10);
    if (errno || *end || end == v) {
        fprintf(stderr, "hg_bench: %s: '%s' is not an integer\n", flag, v);
        exit(2);
    }
    return r;
}

static double opt_double(int argc, char **argv, const char *flag, double def) {
    const char *v = opt(argc, argv, flag);
    if (!v) return def;
    char *end;
    double r = strtod(v, &end);
    if (*end || end == v) {
        fprintf(stderr, "hg_bench: %s: '%s' is not a number\n", flag, v);
        exit(2);
    }
    return r;
}

/* Every argument must be a known flag followed by a value. */
static int check_flags(int argc, char **argv, const char *const *known, int n_known) {
    for (int i = 2; i < argc; i += 2) {
        int ok = 0;
        for (int j = 0; j < n_known; j++) ok |= !strcmp(argv[i], known[j]);
        if (!ok || i + 1 >= argc) {
            fprintf(stderr, "hg_bench %s: unexpected argument '%s' (or a missing value)\n", argv[1],
                    argv[i]);
            return 0;
        }
    }
    return 1;
}

/* snprintf into a path buffer; an error when the path does not fit. */
static hg_status path_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static hg_status path_fmt(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n) return hg_error(HG_ERR_INVALID, "path too long: %.60s...", buf);
    return hg_ok();
}

/* ------------------------------------------------------------- make-run */

/* The bench's synthetic normalisation (see the top comment). */
static void bench_norm(hg_norm *n, int F, double box) {
    hg_norm_identity(n, F, box);
    for (int f = 0; f < F; f++) {
        if (f < 3) {
            n->mean[f] = box / 2;
            n->std[f] = box / sqrt(12.0);
        } else if (f < 6) {
            n->mean[f] = 0;
            n->std[f] = 300;
        } else {
            n->mean[f] = 13;
            n->std[f] = 0.5;
        }
    }
}

static hg_status write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return hg_error(HG_ERR_IO, "%s: cannot create (%s)", path, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? hg_error(HG_ERR_IO, "%s: write failed", path) : hg_ok();
}

static int cmd_make_run(int argc, char **argv) {
    static const char *const known[] = {"--config", "--out", "--seed", "--perturb", "--box"};
    if (!check_flags(argc, argv, known, 5)) return 2;
    const char *cfg_path = opt(argc, argv, "--config"), *dir = opt(argc, argv, "--out");
    if (!cfg_path || !dir) return usage("make-run needs --config and --out");
    hg_config c;
    hg_status s = hg_config_load(cfg_path, &c);
    if (s.code) return fail("config", s);
    uint32_t seed = (uint32_t)opt_long(argc, argv, "--seed", c.seed);
    double sd = opt_double(argc, argv, "--perturb", 0.02);
    double box = opt_double(argc, argv, "--box", 1000.0);
    if (mkdir(dir, 0777) && errno != EEXIST)
        return fail(dir, hg_error(HG_ERR_IO, "cannot create (%s)", strerror(errno)));

    hg_model_opts mo;
    hg_model_opts_default(&mo, &c);
    bench_norm(&mo.norm, c.n_features, box);
    hg_model m;
    s = hg_model_build(&c, "loss", 1, HG_F32, &mo, &m);
    if (s.code) return fail("model", s);
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    s = hg_mb_init_params(&m.mb, seed, &ck.state);
    for (int i = 0; i < ck.state.n && s.code == HG_OK && sd > 0; i++) {
        hg_tensor *t = &ck.state.e[i].t;
        int64_t n = hg_shape_numel(t->shape);
        for (int64_t j = 0; j < n; j++)
            hg_tensor_set(t, j, hg_tensor_get(t, j) +
                                    sd * hg_rng_normal(seed, BENCH_STREAM_PERTURB + (uint32_t)i, 0, 0,
                                                       (uint64_t)j));
    }
    char *yaml = hg_config_to_yaml(&c);
    if (s.code == HG_OK && !yaml) s = hg_error(HG_ERR_NOMEM, "config text");
    if (s.code == HG_OK) s = hg_checkpoint_set_config(&ck, yaml);
    ck.seed = seed;
    ck.has_norm = 1;
    ck.norm = mo.norm;
    char path[4096];
    if (s.code == HG_OK) s = path_fmt(path, sizeof path, "%s/checkpoint.h5", dir);
    if (s.code == HG_OK) s = hg_checkpoint_save(path, &ck);
    if (s.code == HG_OK) s = path_fmt(path, sizeof path, "%s/config.yaml", dir);
    if (s.code == HG_OK) s = write_text(path, yaml);
    if (s.code == HG_OK) s = path_fmt(path, sizeof path, "%s/run.yaml", dir);
    if (s.code == HG_OK)
        s = write_text(path, "# written by bench/hg_bench make-run: synthetic weights, no dataset\n"
                             "format: halograph-run-1\ndataset: none\nredshift: 0\n");
    int64_t n_params = hg_mb_param_count(&m.mb);
    free(yaml);
    hg_checkpoint_free(&ck);
    hg_model_free(&m);
    if (s.code) return fail(dir, s);
    printf("run %s\nparams %lld\nseed %u\nperturb %g\nbox %g\n", dir, (long long)n_params, seed, sd,
           box);
    return 0;
}

/* ------------------------------------------------------------------ run */

/* Fills every input of g with the synthetic data of the top comment. */
static hg_status make_inputs(const hg_graph *g, const hg_run *r, int pad, hg_tensor_map *in) {
    const hg_config *c = &r->cfg;
    uint32_t seed = (uint32_t)c->seed;
    int k = 0;
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *nd = &g->nodes[v];
        if (nd->op != HG_OP_input) continue;
        const char *name = nd->attrs.name;
        hg_tensor *t;
        HG_TRY(hg_map_alloc(in, name, nd->dtype, nd->shape, &t));
        int64_t n = hg_shape_numel(nd->shape);
        uint32_t st = BENCH_STREAM_DATA + (uint32_t)k++;
        int cloud = (!strcmp(name, "x") || !strcmp(name, "z")) && nd->shape.rank == 3;
        int64_t F = cloud ? nd->shape.dim[2] : 1;
        for (int64_t i = 0; i < n; i++) {
            double u = hg_rng_uniform(seed, st, 0, 0, (uint64_t)i);
            double nn = hg_rng_normal(seed, st, 1, 0, (uint64_t)i);
            double val = 0;
            if (!strcmp(name, "seed")) val = (double)seed;
            else if (nd->dtype == HG_I32) val = 0; /* step, replica: set per call */
            else if (!strcmp(name, "mask")) {
                int64_t N = nd->shape.dim[1];
                val = (i >= n - pad && i >= n - N) ? 0.0 : 1.0;
            } else if (!strcmp(name, "t")) val = 0.5;
            else if (!strcmp(name, "s")) val = 0.49;
            else if (!strcmp(name, "gamma")) val = c->gamma_min + (c->gamma_max - c->gamma_min) * u;
            else if (!strcmp(name, "cond")) val = (i % 2 == 0) ? 0.1 + 0.4 * u : 0.6 + 0.4 * u;
            else if (cloud) {
                int64_t f = i % F;
                double phys = f < 3 ? u * r->norm.box : f < 6 ? 300.0 * nn : 13.0 + 0.5 * nn;
                val = (phys - r->norm.mean[f] + 1e-7) / (r->norm.std[f] + 1e-7);
            } else val = nn;
            hg_tensor_set(t, i, val);
        }
    }
    return hg_ok();
}

static void set_i32(hg_tensor_map *in, const char *name, int32_t v) {
    hg_tensor *t = hg_map_get(in, name);
    if (t) ((int32_t *)t->data)[0] = v;
}

static hg_status mkdir_p(const char *d) {
    if (mkdir(d, 0777) && errno != EEXIST)
        return hg_error(HG_ERR_IO, "%s: cannot create (%s)", d, strerror(errno));
    return hg_ok();
}

/* Writes the random draws of call `in` of graph g: DIR/noise_<stream>.npy. */
static hg_status dump_noise(const hg_graph *g, const hg_tensor_map *in, const char *dir) {
    const hg_tensor *ts = hg_map_get(in, "seed"), *tp = hg_map_get(in, "step"),
                    *tr = hg_map_get(in, "replica");
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *nd = &g->nodes[v];
        if (nd->op != HG_OP_random_normal && nd->op != HG_OP_random_uniform) continue;
        for (int j = 0; j < 3; j++) {
            const hg_node *a = &g->nodes[nd->in[j]];
            static const char *const want[3] = {"seed", "step", "replica"};
            if (a->op != HG_OP_input || strcmp(a->attrs.name, want[j]))
                return hg_error(HG_ERR_UNSUPPORTED, "random node %d: input %d is not the graph input %s",
                                v, j, want[j]);
        }
        uint32_t seed = (uint32_t)((int32_t *)ts->data)[0], step = (uint32_t)((int32_t *)tp->data)[0],
                 rep = (uint32_t)((int32_t *)tr->data)[0], stream = (uint32_t)nd->attrs.stream;
        hg_tensor t;
        HG_TRY(hg_tensor_alloc(&t, nd->dtype, nd->shape));
        int64_t n = hg_shape_numel(nd->shape);
        for (int64_t e = 0; e < n; e++)
            hg_tensor_set(&t, e, nd->op == HG_OP_random_normal
                                     ? hg_rng_normal(seed, stream, step, rep, (uint64_t)e)
                                     : hg_rng_uniform(seed, stream, step, rep, (uint64_t)e));
        char path[4096];
        hg_status s = path_fmt(path, sizeof path, "%s/noise_%u.npy", dir, stream);
        if (s.code == HG_OK) s = hg_npy_write(path, &t);
        hg_tensor_free(&t);
        HG_TRY(s);
    }
    return hg_ok();
}

static hg_status dump_map(const hg_tensor_map *m, const char *dir, const char *prefix) {
    for (int i = 0; i < m->n; i++) {
        char path[4096];
        HG_TRY(path_fmt(path, sizeof path, "%s/%s%s.npy", dir, prefix, m->e[i].name));
        HG_TRY(hg_npy_write(path, &m->e[i].t));
    }
    return hg_ok();
}

static hg_status dump_state(const hg_tensor_map *state, const char *dir) {
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    hg_status s = hg_ok();
    for (int i = 0; i < state->n && s.code == HG_OK; i++) {
        hg_tensor t;
        s = hg_tensor_copy(&t, &state->e[i].t);
        if (s.code == HG_OK) s = hg_map_put(&ck.state, state->e[i].name, &t);
    }
    char path[4096];
    if (s.code == HG_OK) s = path_fmt(path, sizeof path, "%s/state.h5", dir);
    if (s.code == HG_OK) s = hg_checkpoint_save(path, &ck);
    hg_checkpoint_free(&ck);
    return s;
}

typedef struct {
    const char *run, *kind, *backend, *dump;
    long batch, iters, warmup, threads, nelbo_steps, pad, dump_calls;
} run_opts;

static hg_status bench_run(const run_opts *o, hg_run *r) {
    hg_model_opts mo;
    hg_model_opts_default(&mo, &r->cfg);
    mo.norm = r->norm;
    mo.nelbo_steps = (int)o->nelbo_steps;
    int batch = (int)(o->batch ? o->batch : r->cfg.batch_size);
    hg_model m;
    HG_TRY(hg_run_build(r, o->kind, batch, &mo, &m));
    hg_program *prog = NULL;
    hg_tensor_map in, out;
    hg_map_init(&in);
    hg_map_init(&out);
    double *times = calloc((size_t)o->iters, sizeof *times);
    double t0 = omp_get_wtime();
    hg_status s = times ? hg_program_compile(m.g, o->backend, &prog)
                        : hg_error(HG_ERR_NOMEM, "step times");
    double compile_s = omp_get_wtime() - t0;
    const hg_graph *g = prog ? hg_program_graph(prog) : NULL;
    if (s.code == HG_OK) s = hg_optim_init_state(g, &r->state);
    if (s.code == HG_OK) s = make_inputs(g, r, (int)o->pad, &in);
    int64_t flops = 0, mm_flops = 0;
    for (int v = 0; g && v < g->n_nodes; v++) {
        int64_t f = hg_node_flops(g, v);
        flops += f;
        if (g->nodes[v].op == HG_OP_matmul || g->nodes[v].op == HG_OP_attention) mm_flops += f;
    }
    if (s.code == HG_OK)
        printf("backend %s\nthreads %d\ngraph %s\nbatch %d\nnodes %d\ncompile_ms %.3f\n"
               "gflop %.6f\nmatmul_gflop %.6f\n",
               hg_program_backend(prog), omp_get_max_threads(), o->kind, batch, g->n_nodes,
               1e3 * compile_s, (double)flops / 1e9, (double)mm_flops / 1e9);
    int32_t call = 0;
    for (long k = 0; k < o->dump_calls && o->dump && s.code == HG_OK; k++, call++) {
        char dir[4096];
        set_i32(&in, "step", call);
        s = path_fmt(dir, sizeof dir, "%s/call%ld", o->dump, k);
        if (s.code == HG_OK) s = mkdir_p(o->dump);
        if (s.code == HG_OK) s = mkdir_p(dir);
        if (s.code == HG_OK) s = dump_map(&in, dir, "");
        if (s.code == HG_OK) s = dump_noise(m.g, &in, dir);
        if (s.code == HG_OK) s = hg_program_run(prog, &r->state, &in, &out);
        if (s.code == HG_OK) s = dump_map(&out, dir, "out_");
        if (s.code == HG_OK) s = dump_state(&r->state, dir);
    }
    for (long i = 0; i < o->warmup && s.code == HG_OK; i++, call++) {
        set_i32(&in, "step", call);
        s = hg_program_run(prog, &r->state, &in, &out);
    }
    for (long i = 0; i < o->iters && s.code == HG_OK; i++, call++) {
        set_i32(&in, "step", call);
        double a = omp_get_wtime();
        s = hg_program_run(prog, &r->state, &in, &out);
        times[i] = omp_get_wtime() - a;
    }
    if (s.code == HG_OK && o->iters > 0) {
        printf("step_ms");
        for (long i = 0; i < o->iters; i++) printf(" %.3f", 1e3 * times[i]);
        double med, mn, mx;
        stats(times, (int)o->iters, &med, &mn, &mx);
        printf("\nstep_median_ms %.3f\nstep_min_ms %.3f\nstep_max_ms %.3f\n", 1e3 * med, 1e3 * mn,
               1e3 * mx);
    }
    if (s.code == HG_OK) printf("peak_rss_kb %ld\n", peak_rss_kb());
    hg_program_free(prog);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_model_free(&m);
    free(times);
    return s;
}

static int cmd_run(int argc, char **argv) {
    static const char *const known[] = {"--run",   "--graph",       "--batch", "--backend",
                                        "--threads", "--iters",     "--warmup", "--nelbo-steps",
                                        "--pad",   "--dump",        "--dump-calls"};
    if (!check_flags(argc, argv, known, 11)) return 2;
    run_opts o;
    o.run = opt(argc, argv, "--run");
    o.kind = opt(argc, argv, "--graph");
    o.backend = opt(argc, argv, "--backend");
    o.dump = opt(argc, argv, "--dump");
    if (!o.backend) o.backend = "fast";
    o.batch = opt_long(argc, argv, "--batch", 0);
    o.iters = opt_long(argc, argv, "--iters", 5);
    o.warmup = opt_long(argc, argv, "--warmup", 1);
    o.threads = opt_long(argc, argv, "--threads", 0);
    o.nelbo_steps = opt_long(argc, argv, "--nelbo-steps", 50);
    o.pad = opt_long(argc, argv, "--pad", 0);
    o.dump_calls = opt_long(argc, argv, "--dump-calls", 1);
    if (!o.run || !o.kind) return usage("run needs --run and --graph");
    if (o.iters < 0 || o.warmup < 0 || o.batch < 0 || o.pad < 0 || o.nelbo_steps < 1)
        return usage("negative --iters, --warmup, --batch or --pad, or --nelbo-steps < 1");
    if (strcmp(o.kind, "train") && strcmp(o.kind, "score") && strcmp(o.kind, "sample-step") &&
        strcmp(o.kind, "nelbo"))
        return usage("--graph must be train, score, sample-step or nelbo");
    if (o.threads > 0) omp_set_num_threads((int)o.threads);
    hg_run r;
    hg_status s = hg_run_open(o.run, &r);
    if (s.code == HG_OK) s = bench_run(&o, &r);
    hg_run_free(&r);
    return s.code ? fail(o.run, s) : 0;
}

/* ---------------------------------------------------------------- sgemm */

static int cmd_sgemm(int argc, char **argv) {
    static const char *const known[] = {"--n", "--iters", "--threads"};
    if (!check_flags(argc, argv, known, 3)) return 2;
    long n = opt_long(argc, argv, "--n", 2048), iters = opt_long(argc, argv, "--iters", 5);
    long threads = opt_long(argc, argv, "--threads", 0);
    if (n < 1 || n > 16384 || iters < 1) return usage("--n must be in 1..16384, --iters >= 1");
    if (threads > 0) omp_set_num_threads((int)threads);
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    double *times = calloc((size_t)iters, sizeof *times);
    if (!a || !b || !c || !times) {
        free(a), free(b), free(c), free(times);
        return fail("sgemm", hg_error(HG_ERR_NOMEM, "three %ld^2 matrices", n));
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)hg_rng_normal(1, 1, 0, 0, i);
        b[i] = (float)hg_rng_normal(1, 2, 0, 0, i);
        c[i] = 0;
    }
    int bad = 0;
    for (long i = -1; i < iters && !bad; i++) {
        double t0 = omp_get_wtime();
        bad = dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n) != dnnl_success;
        if (i >= 0) times[i] = omp_get_wtime() - t0;
    }
    if (!bad) {
        double med, mn, mx;
        stats(times, (int)iters, &med, &mn, &mx);
        printf("threads %d\nsgemm_n %ld\nsgemm_median_ms %.3f\nsgemm_gflops %.3f\n",
               omp_get_max_threads(), n, 1e3 * med, 2.0 * (double)n * (double)n * (double)n / med / 1e9);
    }
    free(a), free(b), free(c), free(times);
    return bad ? fail("sgemm", hg_error(HG_ERR_INVALID, "dnnl_sgemm failed")) : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage("give a subcommand: make-run, run, sgemm or backends");
    if (!strcmp(argv[1], "make-run")) return cmd_make_run(argc, argv);
    if (!strcmp(argv[1], "run")) return cmd_run(argc, argv);
    if (!strcmp(argv[1], "sgemm")) return cmd_sgemm(argc, argv);
    if (!strcmp(argv[1], "backends")) {
        printf("%s\n", hg_program_backends());
        return 0;
    }
    return usage("unknown subcommand");
}
