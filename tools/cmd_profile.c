/* `halograph profile`: builds one graph kind of a config with initialised
 * parameters and seeded random inputs, runs warm-up + N iterations through
 * the program executor with the kernel profiler (runtime/profile.h)
 * attached, prints the kernel table sorted by time and optionally writes a
 * Chrome trace (issue 8). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/drivers.h"
#include "runtime/profile.h"
#include "runtime/program.h"
#include "tools/cli.h"

static const char *USAGE =
    "usage: halograph profile --config C --graph train|sample-step|score|nelbo\n"
    "                         [--batch B] [--backend NAME] [--iters N] [--warmup W]\n"
    "                         [--trace T.json] [--threads N] [--seed S] [--by-shape]\n"
    "                         [--top K] [--nelbo-steps S] [--nelbo-terms M] [--no-profile]\n\n"
    "Profiles the kernels of one graph kind of config C: the graph is built for\n"
    "batch B (default: training.batch_size), parameters are initialised from the\n"
    "seed, inputs are seeded random data (z, x ~ N(0, 1), graph-network positions\n"
    "uniform in the box, mask 1, gamma uniform in [gamma_min, gamma_max], t = 0.5,\n"
    "s = 0.49, cond uniform in [0.1, 0.6)); W warm-up runs (default 1) are not\n"
    "profiled, then N runs (default 5) are. Prints per kernel of the backend's\n"
    "schedule (one per node on ref and fast): total and mean wall time, share of\n"
    "the step, calls, achieved GFLOP/s and GB/s, FLOPs per call (SPEC 7\n"
    "convention), output shape and member nodes, sorted by time; then the step\n"
    "time (median, mean, min).\n"
    "  --graph KIND     train | sample-step | score | nelbo\n"
    "  --backend NAME   " HG_CLI_BACKENDS "\n"
    "  --trace T.json   write a Chrome trace event file (open in Perfetto or\n"
    "                   chrome://tracing): one track per thread, one span per kernel\n"
    "  --threads N      OpenMP threads (default: all cores)\n"
    "  --seed S         seed of parameters and inputs (default: training.seed)\n"
    "  --by-shape       one row per kernel signature (op and shapes) instead of per node\n"
    "  --top K          print the K slowest rows only (default 40; 0 = all)\n"
    "  --nelbo-steps S  NELBO discretisation steps (default 50); --nelbo-terms M:\n"
    "                   diffusion terms per call (default: all S in one call)\n"
    "  --no-profile     run without the profiler (no hooks): only the step times\n"
    "  --overhead       measure the profiler's overhead: N pairs of steps, one with\n"
    "                   the profiler on and one off (alternating which goes first);\n"
    "                   prints the median wall and process CPU time of each mode and\n"
    "                   their ratios (bench/profile_overhead.sh)\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const char *cfg_path, *kind, *backend, *trace;
    long batch, iters, warmup, threads, seed, top, nelbo_steps, nelbo_terms;
    int by_shape, no_profile, overhead;
} opts;

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double median(double *v, long n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* --overhead: pairs of steps on/off; times[0..4n): wall on, wall off, cpu on, cpu off. */
static hg_status overhead_steps(hg_program *prog, hg_profile *prof, hg_tensor_map *state,
                                const hg_tensor_map *in, hg_tensor_map *out, long n, double *times) {
    hg_exec_hooks h = hg_profile_hooks(prof);
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < 2; j++) {
            int on = (int)((i + j) % 2 == 0);
            hg_program_set_hooks(prog, on ? &h : NULL);
            double w0 = omp_get_wtime(), c0 = cpu_seconds();
            if (on) hg_profile_step_begin(prof);
            HG_TRY(hg_program_run(prog, state, in, out));
            if (on) hg_profile_step_end(prof);
            times[(on ? 0 : 1) * n + i] = omp_get_wtime() - w0;
            times[(on ? 2 : 3) * n + i] = cpu_seconds() - c0;
        }
    }
    double w_on = median(times, n), w_off = median(times + n, n);
    double c_on = median(times + 2 * n, n), c_off = median(times + 3 * n, n);
    printf("overhead: %ld step pairs; median wall on %.3f ms, off %.3f ms, ratio %.4f; "
           "median CPU on %.3f ms, off %.3f ms, ratio %.4f\n",
           n, 1e3 * w_on, 1e3 * w_off, w_on / w_off, 1e3 * c_on, 1e3 * c_off, c_on / c_off);
    printf("overhead_ratio_wall %.6f\noverhead_ratio_cpu %.6f\n", w_on / w_off, c_on / c_off);
    return hg_ok();
}

/* Builds and runs (models/drivers.h hg_graph_profile_*), then reports;
 * everything allocated is freed on every path. */
static hg_status profile_run(const opts *o, const hg_config *c) {
    hg_graph_profile_options go = {o->kind, (int)o->batch, o->backend, (uint32_t)(o->seed >= 0 ? o->seed : c->seed),
                                   (int)o->nelbo_steps, (int)o->nelbo_terms, !o->no_profile, o->trace != NULL};
    hg_graph_profile gp;
    double *times = calloc(4 * (size_t)o->iters, sizeof *times);
    if (!times) return hg_error(HG_ERR_NOMEM, "profile: %ld step times", o->iters);
    hg_status s = hg_graph_profile_open(c, &go, &gp);
    if (s.code == HG_OK) {
        const hg_graph *g = hg_program_graph(gp.prog);
        printf("profile: %s, graph %s, batch %d, backend %s, %d threads, %ld warm-up + %ld iterations%s\n",
               o->cfg_path, o->kind, gp.batch, hg_program_backend(gp.prog), omp_get_max_threads(),
               o->warmup, o->iters, o->no_profile ? " (profiler off)" : "");
        printf("graph: %d nodes, %.4g GFLOP per step (SPEC 7 convention)\n", g->n_nodes, (double)gp.flops / 1e9);
        printf("compile: %.1f ms (schedule and backend compile)\n", 1e3 * hg_program_compile_seconds(gp.prog));
        fflush(stdout);
    }
    if (s.code == HG_OK && o->overhead) {
        s = hg_graph_profile_run(&gp, o->warmup, 0, NULL, NULL, NULL); /* the warm-up only */
        if (s.code == HG_OK) s = overhead_steps(gp.prog, &gp.prof, &gp.state, &gp.in, &gp.out, o->iters, times);
        memmove(times, times + o->iters, (size_t)o->iters * sizeof *times); /* steps without the profiler */
    } else if (s.code == HG_OK) {
        s = hg_graph_profile_run(&gp, o->warmup, o->iters, NULL, NULL, NULL);
        if (s.code == HG_OK) memcpy(times, gp.times, (size_t)o->iters * sizeof *times);
    }
    if (s.code == HG_OK && !o->no_profile) {
        printf("\n");
        s = hg_profile_print(&gp.prof, stdout, o->by_shape ? HG_PROFILE_BY_SHAPE : 0, (int)o->top);
    }
    if (s.code == HG_OK) {
        double mean = 0;
        for (long i = 0; i < o->iters; i++) mean += times[i] / (double)o->iters;
        double med = median(times, o->iters);
        printf("\nstep time%s: median %.3f ms, mean %.3f ms, min %.3f ms over %ld iterations; %.3f GFLOP/s\n",
               o->overhead ? " (profiler off)" : "", 1e3 * med, 1e3 * mean, 1e3 * times[0], o->iters,
               med > 0 ? (double)gp.flops / med / 1e9 : 0.0);
        printf("step_median_ms %.6f\n", 1e3 * med);
    }
    if (s.code == HG_OK && o->trace && !o->no_profile) {
        s = hg_profile_write_trace(&gp.prof, o->trace);
        if (s.code == HG_OK)
            printf("trace: %s (%lld events%s)\n", o->trace, (long long)gp.prof.n_events,
                   gp.prof.dropped_events ? ", some dropped: too many" : "");
    }
    hg_graph_profile_free(&gp);
    free(times);
    return s;
}

/* One line: the problem and where to read the usage. */
static int usage_error(const char *what, const char *arg) {
    char msg[256];
    snprintf(msg, sizeof msg, what, arg);
    return hg_cli_fail("profile", HG_EXIT_USAGE, "%s (see halograph profile --help)", msg);
}

static int cmd_profile(int argc, char **argv) {
    const char *cmd = "profile";
    if (hg_cli_wants_help(argc, argv)) {
        hg_cli_usage(USAGE, stdout);
        return HG_EXIT_OK;
    }
    opts o = {NULL, NULL, HG_BACKEND_DEFAULT, NULL, 0, 5, 1, 0, -1, 40, 0, 0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        struct { const char *flag; long *dst; long lo, hi; } nums[] = {
            {"--batch", &o.batch, 1, 100000},       {"--iters", &o.iters, 1, 1000000},
            {"--warmup", &o.warmup, 0, 1000000},    {"--threads", &o.threads, 1, 4096},
            {"--seed", &o.seed, 0, 0xffffffffL},    {"--top", &o.top, 0, 1000000},
            {"--nelbo-steps", &o.nelbo_steps, 1, 100000}, {"--nelbo-terms", &o.nelbo_terms, 1, 100000},
        };
        int matched = 0;
        for (size_t j = 0; j < sizeof nums / sizeof nums[0] && !matched; j++) {
            if (strcmp(a, nums[j].flag)) continue;
            matched = 1;
            if (!has) return usage_error("%s needs a value", a);
            if (hg_cli_parse_int(argv[++i], nums[j].lo, nums[j].hi, nums[j].dst))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "%s: '%s' is not an integer in [%ld, %ld]", a,
                                   argv[i], nums[j].lo, nums[j].hi);
        }
        if (matched) continue;
        if (!strcmp(a, "--config") && has) o.cfg_path = argv[++i];
        else if (!strcmp(a, "--graph") && has) o.kind = argv[++i];
        else if (!strcmp(a, "--backend") && has) o.backend = argv[++i];
        else if (!strcmp(a, "--trace") && has) o.trace = argv[++i];
        else if (!strcmp(a, "--by-shape")) o.by_shape = 1;
        else if (!strcmp(a, "--no-profile")) o.no_profile = 1;
        else if (!strcmp(a, "--overhead")) o.overhead = 1;
        else return usage_error("unexpected argument '%s' (or a missing value)", a);
    }
    if (!o.cfg_path || !o.kind) return usage_error("%s", "--config and --graph are required");
    if (!hg_graph_profile_kind_known(o.kind))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--graph: unknown graph kind '%s' (" HG_GRAPH_PROFILE_KINDS ")",
                           o.kind);
    if (!hg_cli_backend_known(o.backend))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--backend: unknown backend '%s' (available: %s)", o.backend,
                           hg_program_backends());
    if (o.overhead && o.no_profile)
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--overhead and --no-profile exclude each other");
    if (o.trace && o.no_profile) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--trace needs the profiler (drop --no-profile)");
    if (o.nelbo_terms && o.nelbo_terms > (o.nelbo_steps ? o.nelbo_steps : 50))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--nelbo-terms %ld exceeds the NELBO steps", o.nelbo_terms);
    if (o.trace) {
        hg_cli_inputs in = {0};
        hg_cli_inputs_add(&in, o.cfg_path);
        int rc = hg_cli_check_output(cmd, o.trace, &in);
        hg_cli_inputs_free(&in);
        if (rc) return rc;
    }
    if (o.threads) omp_set_num_threads((int)o.threads);
    hg_config c;
    hg_status s = hg_config_load(o.cfg_path, &c);
    if (s.code == HG_OK) s = profile_run(&o, &c);
    return s.code == HG_OK ? HG_EXIT_OK : hg_cli_status(cmd, s);
}

HG_COMMAND(profile, "profile", "per-kernel time, FLOP/s and a Chrome trace of one graph kind", cmd_profile)
