/* The JIT's kernel caches (codegen/jit/jit.h, jit_cache.c): identical
 * kernels compile once per process; the on-disk cache is used on the
 * second compile, ignored when the graph or the CPU features differ, and a
 * corrupt or truncated file is detected (recompiled and replaced, never
 * executed). Every compiled program is also run and checked against the
 * reference. */
#include "tests/hg_test.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "tests/jit_util.h"

HG_LABELS(fast)

/* y = exp(x) * x + 1 over f32[n] */
static hg_graph *graph(int64_t n) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, n));
    hg_value y = hg_add_s(g, hg_mul(g, hg_exp(g, x), x), 1.0);
    hg_set_output(g, "y", y);
    return g;
}

/* y = log(x) * x + 1 over f32[n]: the same structure, shapes and dtypes as
 * graph(n) but another op (cache_other_op_or_dtype_misses); lg selects it,
 * f64 the dtype of x and y. */
static hg_graph *graph_variant(int64_t n, int lg, int f64) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", f64 ? HG_F64 : HG_F32, hg_shape_of(1, n));
    hg_value e = lg ? hg_log(g, x) : hg_exp(g, x);
    hg_value y = hg_add_s(g, hg_mul(g, e, x), 1.0);
    hg_set_output(g, "y", y);
    return g;
}

/* Compiles g's kernel with opt, runs it, checks it against the reference
 * (the vector math's 1 ulp plus two roundings: 3 ulp), returns the stats. */
static hg_status compile_check(hg_graph *g, const hg_jit_options *opt, hg_jit_stats *st,
                               int *ok) {
    hg_value mem[4];
    int n = 0;
    for (hg_value v = 1; v < g->n_nodes; v++)
        if (hg_node_at(g, v)->op != HG_OP_constant) mem[n++] = v;
    hg_schedule s;
    HG_TRY(jt_schedule(g, mem, n, HG_NONE, &s));
    hg_jit_program *p;
    HG_TRY(hg_jit_compile(g, &s, NULL, opt, &p));
    hg_jit_program_stats(p, st);
    hg_tensor_map in, ref;
    hg_map_init(&in);
    hg_map_init(&ref);
    hg_tensor *x;
    HG_TRY(hg_map_alloc(&in, "x", hg_value_dtype(g, 0), hg_value_shape(g, 0), &x));
    for (int64_t i = 0; i < hg_shape_numel(x->shape); i++) hg_tensor_set(x, i, (double)(0.01f * (float)i - 3));
    HG_TRY(hg_ref_run(g, NULL, &in, &ref, NULL));
    hg_tensor out[1] = {{0}};
    HG_TRY(jt_run(g, &s, p, &in, out));
    *ok = 1;
    const hg_tensor *r = hg_map_get(&ref, "y");
    for (int64_t i = 0; i < hg_shape_numel(r->shape); i++) {
        double got = hg_tensor_get(&out[0], i), want = hg_tensor_get(r, i);
        /* f64: 8 units of 2^-52 relative (jit.h); NaN (log of x < 0) as NaN */
        int good = r->dtype == HG_F32 ? jt_ulp((float)got, want) <= 3
                   : (isnan(got) && isnan(want)) || got == want ||
                         fabs(got - want) <= 8 * 0x1p-52 * fabs(want);
        if (!good) *ok = 0;
    }
    hg_tensor_free(&out[0]);
    hg_map_free(&in);
    hg_map_free(&ref);
    hg_jit_free(p);
    hg_schedule_free(&s);
    return hg_ok();
}

static char *fresh_dir(const char *name) {
    char *d = hg_test_path(name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) return NULL;
    return d;
}

HG_TEST(cache_memory_hit) {
    hg_graph *g = graph(100), *g2 = graph(100);
    hg_jit_options opt = {"", NULL};
    hg_value mem[4] = {1, 2, 4};
    hg_schedule s;
    HG_CHECK_OK(jt_schedule(g, mem, 3, HG_NONE, &s));
    hg_jit_program *p1, *p2;
    HG_CHECK_OK(hg_jit_compile(g, &s, NULL, &opt, &p1));
    HG_CHECK_OK(hg_jit_compile(g2, &s, NULL, &opt, &p2)); /* same structure, shapes, dtypes */
    hg_jit_stats a, b;
    hg_jit_program_stats(p1, &a);
    hg_jit_program_stats(p2, &b);
    HG_CHECK(a.n_kernels == 1 && a.n_new == 1 && a.n_memory == 0);
    HG_CHECK(b.n_kernels == 1 && b.n_new == 0 && b.n_memory == 1);
    printf("compile %.1f ms, from memory %.3f ms\n", 1e3 * a.seconds, 1e3 * b.seconds);
    hg_jit_free(p1);
    hg_jit_free(p2);
    hg_schedule_free(&s);
    hg_graph_free(g);
    hg_graph_free(g2);
}

HG_TEST(cache_disk_hit_and_misses) {
    char *dir = fresh_dir("jitcache");
    HG_CHECK(dir);
    hg_jit_options opt = {dir, NULL};
    hg_graph *g = graph(1000);
    hg_jit_stats st;
    int ok = 0;
    HG_CHECK_OK(compile_check(g, &opt, &st, &ok));
    HG_CHECK(ok && st.n_new == 1 && !st.disk_hit && st.cache_file[0]);
    struct stat sb;
    HG_CHECK(stat(st.cache_file, &sb) == 0 && sb.st_size > 40);
    double cold = st.seconds;
    /* the session ended with the program: the second compile reads the disk */
    HG_CHECK_OK(compile_check(g, &opt, &st, &ok));
    HG_CHECK(ok && st.n_new == 1 && st.disk_hit);
    printf("cold %.1f ms, disk %.2f ms\n", 1e3 * cold, 1e3 * st.seconds);
    /* another graph (shape): miss */
    hg_graph *g2 = graph(999);
    HG_CHECK_OK(compile_check(g2, &opt, &st, &ok));
    HG_CHECK(ok && !st.disk_hit);
    /* other CPU features: miss, and the first file is still used for the host */
    opt.key_features = "+sse2,-avx512f";
    HG_CHECK_OK(compile_check(g, &opt, &st, &ok));
    HG_CHECK(ok && !st.disk_hit);
    opt.key_features = NULL;
    HG_CHECK_OK(compile_check(g, &opt, &st, &ok));
    HG_CHECK(ok && st.disk_hit);
    hg_graph_free(g);
    hg_graph_free(g2);
}

/* Another op or another dtype with the same structure and shape is a
 * different key (a miss, recompiled, correct); and a valid cache file of
 * one graph put under the name of another's key is not used for it (the
 * key and key text in the file disagree), the right one is compiled and
 * written over it. */
HG_TEST(cache_other_op_or_dtype_misses) {
    char *dir = fresh_dir("jitcache-ops");
    HG_CHECK(dir);
    hg_jit_options opt = {dir, NULL};
    hg_graph *ge = graph_variant(300, 0, 0), *gl = graph_variant(300, 1, 0), *gd = graph_variant(300, 0, 1);
    hg_jit_stats st;
    int ok = 0;
    HG_CHECK_OK(compile_check(ge, &opt, &st, &ok));
    HG_CHECK(ok && !st.disk_hit);
    char exp_file[4200];
    snprintf(exp_file, sizeof exp_file, "%s", st.cache_file);
    HG_CHECK_OK(compile_check(gl, &opt, &st, &ok));
    HG_CHECK(ok && !st.disk_hit && strcmp(st.cache_file, exp_file) != 0);
    char log_file[4200];
    snprintf(log_file, sizeof log_file, "%s", st.cache_file);
    HG_CHECK_OK(compile_check(gd, &opt, &st, &ok));
    HG_CHECK(ok && !st.disk_hit && strcmp(st.cache_file, exp_file) != 0 &&
             strcmp(st.cache_file, log_file) != 0);
    /* each is a hit now */
    HG_CHECK_OK(compile_check(gl, &opt, &st, &ok));
    HG_CHECK(ok && st.disk_hit);
    /* exp's object under log's name: a miss for log, then rewritten */
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", exp_file, log_file);
    HG_CHECK(system(cmd) == 0);
    HG_CHECK_OK(compile_check(gl, &opt, &st, &ok));
    if (!ok || st.disk_hit) HG_FAIL("another key's file used (disk_hit %d, ok %d)", st.disk_hit, ok);
    HG_CHECK_OK(compile_check(gl, &opt, &st, &ok));
    HG_CHECK(ok && st.disk_hit);
    hg_graph_free(ge);
    hg_graph_free(gl);
    hg_graph_free(gd);
}

/* Damages the cache file: flips byte `at` (from the end if negative) or
 * truncates to `keep` bytes. */
static int damage(const char *path, long at, long keep) {
    FILE *f = fopen(path, "r+b");
    if (!f) return 0;
    if (keep >= 0) {
        fclose(f);
        return truncate(path, keep) == 0;
    }
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    return 1;
}

HG_TEST(cache_corrupt_or_truncated_recompiled) {
    char *dir = fresh_dir("jitcache-bad");
    HG_CHECK(dir);
    hg_jit_options opt = {dir, NULL};
    hg_graph *g = graph(500);
    hg_jit_stats st;
    int ok = 0;
    HG_CHECK_OK(compile_check(g, &opt, &st, &ok));
    char path[4200];
    snprintf(path, sizeof path, "%s", st.cache_file);
    struct stat sb;
    HG_CHECK(stat(path, &sb) == 0);
    long size = (long)sb.st_size;
    /* a byte of the object, of the key text, of the header; truncations */
    long flips[4] = {-100, 45, 20, 0};
    long keeps[3] = {size - 1, 39, 0};
    for (int i = 0; i < 7; i++) {
        HG_CHECK(i < 4 ? damage(path, flips[i], -1) : damage(path, 0, keeps[i - 4]));
        HG_CHECK_OK(compile_check(g, &opt, &st, &ok));
        if (!ok || st.disk_hit) HG_FAIL("damage %d: used (disk_hit %d, ok %d)", i, st.disk_hit, ok);
        /* the file was rewritten and is valid again */
        HG_CHECK_OK(compile_check(g, &opt, &st, &ok));
        if (!ok || !st.disk_hit) HG_FAIL("damage %d: not rewritten", i);
    }
    /* an unwritable cache directory leaves the code uncached, with a reason */
    hg_jit_options bad = {"/proc/halograph-no-such-dir", NULL};
    HG_CHECK_OK(compile_check(g, &bad, &st, &ok));
    HG_CHECK(ok && !st.disk_hit && st.cache_file[0] == 0 && strstr(st.cache_error, "cache"));
    hg_graph_free(g);
}
