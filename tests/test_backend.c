/* The backend interface and registry (runtime/backend.h) and the shared
 * executor (codegen/exec.h) on every registered backend: the registry's
 * consistency with hg_program_backends, results on a graph worked out by
 * hand, the executor's error paths (missing input or state, mismatched
 * shape or dtype: error naming it, state and outputs unchanged), state
 * updates seeing old values, a hand-made schedule with multi-member
 * kernels giving the node-by-node results, and fast's implementation
 * records (the jit's hook point: an overridden kernel runs, with views of
 * its inputs and outputs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/fast.h"
#include "runtime/program.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

HG_TEST(registry_consistent) {
    int n = hg_backend_count();
    HG_CHECK(n >= 2 && hg_backend_at(n) == NULL && hg_backend_at(-1) == NULL);
    char list[256] = {0};
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const hg_backend *b = hg_backend_at(i);
        HG_CHECK(b && b->name && b->summary && b->schedule && b->compile && b->run && b->free &&
                 b->supports && b->keeps_composite);
        HG_CHECK(hg_backend_find(b->name) == b);
        for (int j = 0; j < i; j++) HG_CHECK(strcmp(hg_backend_at(j)->name, b->name) != 0);
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "," : "", b->name);
        /* every backend runs the ops of the model graphs in f32 */
        HG_CHECK(b->supports(HG_OP_add, HG_F32) && b->supports(HG_OP_matmul, HG_F32) &&
                 b->supports(HG_OP_input, HG_F32));
        HG_CHECK(!b->supports(HG_NUM_OPS, HG_F32) && !b->supports(HG_OP_add, HG_NUM_DTYPES));
        HG_CHECK(!b->keeps_composite(HG_OP_add));
    }
    HG_CHECK(!strcmp(hg_program_backends(), list));
    HG_CHECK(!strcmp(hg_program_backends(), "ref,fast,jit"));
    HG_CHECK(hg_backend_find(NULL) == hg_backend_find(HG_BACKEND_DEFAULT));
    HG_CHECK(hg_backend_find(NULL) && !strcmp(hg_backend_find(NULL)->name, "jit"));
    HG_CHECK(hg_backend_find("nope") == NULL);
    /* the reference kernels exist for the composites */
    const hg_backend *r = hg_backend_find("ref");
    HG_CHECK(r->keeps_composite(HG_OP_layer_norm) && r->keeps_composite(HG_OP_softmax) &&
             r->keeps_composite(HG_OP_attention));
    hg_graph *g = hg_graph_new();
    hg_set_output(g, "y", hg_exp(g, hg_input(g, "x", HG_F32, HG_S1(4))));
    hg_program *p = NULL;
    char want[300];
    snprintf(want, sizeof want, "unknown backend 'nope' (available: %s)", list);
    HG_CHECK_ERR(hg_program_compile(g, "nope", &p), want);
    HG_CHECK(p == NULL);
    hg_graph_free(g);
}

/* x f32[3] (input), c f32[3] (state), k f32[3] (state);
 * y = x * c + 1 (output "y"), t = sum(y) (output "t");
 * updates: c <- y, k <- c (k sees the old c).
 * With x = (1, 2, 3), c = (4, 5, 6), k = 0: y = (5, 11, 19), t = 35,
 * afterwards c = (5, 11, 19), k = (4, 5, 6). */
typedef struct {
    hg_graph *g;
    hg_value x, c, k, m, y, t;
} small;

static small make_small(void) {
    small s;
    s.g = hg_graph_new();
    s.x = hg_input(s.g, "x", HG_F32, HG_S1(3));
    s.c = hg_state(s.g, "c", HG_F32, HG_S1(3));
    s.k = hg_state(s.g, "k", HG_F32, HG_S1(3));
    s.m = hg_mul(s.g, s.x, s.c);
    s.y = hg_add_s(s.g, s.m, 1.0);
    s.t = hg_sum_all(s.g, s.y);
    hg_set_output(s.g, "y", s.y);
    hg_set_output(s.g, "t", s.t);
    hg_set_update(s.g, s.c, s.y);
    hg_set_update(s.g, s.k, s.c);
    return s;
}

static void fill(hg_tensor_map *m, const char *name, hg_dtype dt, hg_shape sh, const float *v) {
    hg_tensor *t = NULL;
    if (hg_map_alloc(m, name, dt, sh, &t).code) abort();
    for (int64_t i = 0; i < hg_shape_numel(sh); i++) hg_tensor_set(t, i, v ? v[i] : 0);
}

static int equals(const hg_tensor *t, int n, const float *v) {
    if (!t || hg_shape_numel(t->shape) != n) return 0;
    for (int i = 0; i < n; i++)
        if (hg_tensor_get(t, i) != v[i]) return 0;
    return 1;
}

static const float X[3] = {1, 2, 3}, C[3] = {4, 5, 6}, Y[3] = {5, 11, 19}, T[1] = {35};
static const float ZERO[3] = {0, 0, 0};

HG_TEST(every_backend_by_hand) {
    small s = make_small();
    HG_CHECK_OK(hg_verify(s.g));
    for (int b = 0; b < hg_backend_count(); b++) {
        const char *name = hg_backend_at(b)->name;
        hg_program *p = NULL;
        HG_CHECK_OK(hg_program_compile(s.g, name, &p));
        HG_CHECK(!strcmp(hg_program_backend(p), name));
        HG_CHECK_OK(hg_schedule_check(hg_program_graph(p), hg_program_schedule(p)));
        hg_tensor_map in, st, out;
        hg_map_init(&in);
        hg_map_init(&st);
        hg_map_init(&out);
        fill(&in, "x", HG_F32, HG_S1(3), X);
        fill(&st, "c", HG_F32, HG_S1(3), C);
        fill(&st, "k", HG_F32, HG_S1(3), NULL);
        HG_CHECK_OK(hg_program_run(p, &st, &in, &out));
        HG_CHECK(equals(hg_map_get(&out, "y"), 3, Y) && equals(hg_map_get(&out, "t"), 1, T));
        HG_CHECK(equals(hg_map_get(&st, "c"), 3, Y) && equals(hg_map_get(&st, "k"), 3, C));
        hg_map_free(&in);
        hg_map_free(&st);
        hg_map_free(&out);
        hg_program_free(p);
    }
    hg_graph_free(s.g);
}

/* Runs p expecting an error containing `msg`; the state (c = C, k = 0)
 * and the (empty) output map must be unchanged. */
static int fails_cleanly(hg_program *p, hg_tensor_map *st, const hg_tensor_map *in,
                         const char *msg) {
    hg_tensor_map out;
    hg_map_init(&out);
    hg_status s = hg_program_run(p, st, in, &out);
    int ok = s.code == HG_ERR_INVALID && strstr(s.msg, msg) && out.n == 0 &&
             equals(hg_map_get(st, "c"), 3, C) && equals(hg_map_get(st, "k"), 3, ZERO);
    if (!ok) fprintf(stderr, "%s: got \"%s\"\n", hg_program_backend(p), s.msg);
    hg_map_free(&out);
    return ok;
}

HG_TEST(executor_errors_leave_state_unchanged) {
    small s = make_small();
    HG_CHECK_OK(hg_verify(s.g));
    for (int b = 0; b < hg_backend_count(); b++) {
        hg_program *p = NULL;
        HG_CHECK_OK(hg_program_compile(s.g, hg_backend_at(b)->name, &p));
        hg_tensor_map in, st, none;
        hg_map_init(&in);
        hg_map_init(&st);
        hg_map_init(&none);
        fill(&st, "c", HG_F32, HG_S1(3), C);
        fill(&st, "k", HG_F32, HG_S1(3), NULL);
        char want[64];
        snprintf(want, sizeof want, "node %%%d: input \"x\" missing", s.x);
        HG_CHECK(fails_cleanly(p, &st, &none, want));
        fill(&in, "x", HG_F32, HG_S1(4), NULL); /* wrong shape */
        HG_CHECK(fails_cleanly(p, &st, &in, "input \"x\": expected f32[3], got f32[4]"));
        hg_map_free(&in);
        hg_map_init(&in);
        fill(&in, "x", HG_F64, HG_S1(3), X); /* wrong dtype */
        HG_CHECK(fails_cleanly(p, &st, &in, "expected f32[3], got f64[3]"));
        hg_map_free(&in);
        hg_map_init(&in);
        fill(&in, "x", HG_F32, HG_S1(3), X);
        /* a state of the wrong shape, after a correct one: still nothing written */
        hg_tensor_map st2;
        hg_map_init(&st2);
        fill(&st2, "c", HG_F32, HG_S1(3), C);
        fill(&st2, "k", HG_F32, HG_S1(2), NULL);
        hg_tensor_map out;
        hg_map_init(&out);
        HG_CHECK_ERR(hg_program_run(p, &st2, &in, &out), "state \"k\": expected f32[3], got f32[2]");
        HG_CHECK(out.n == 0 && equals(hg_map_get(&st2, "c"), 3, C));
        /* a missing state */
        hg_tensor_map st3;
        hg_map_init(&st3);
        fill(&st3, "c", HG_F32, HG_S1(3), C);
        snprintf(want, sizeof want, "node %%%d: state \"k\" missing", s.k);
        HG_CHECK_ERR(hg_program_run(p, &st3, &in, &out), want);
        HG_CHECK(out.n == 0 && equals(hg_map_get(&st3, "c"), 3, C));
        /* outputs but no output map */
        HG_CHECK_ERR(hg_program_run(p, &st, &in, NULL), "no output map");
        HG_CHECK(equals(hg_map_get(&st, "c"), 3, C) && equals(hg_map_get(&st, "k"), 3, ZERO));
        /* and then a good run works on the same program */
        HG_CHECK_OK(hg_program_run(p, &st, &in, &out));
        HG_CHECK(equals(hg_map_get(&out, "t"), 1, T) && equals(hg_map_get(&st, "c"), 3, Y));
        hg_map_free(&out);
        hg_map_free(&st2);
        hg_map_free(&st3);
        hg_map_free(&in);
        hg_map_free(&st);
        hg_map_free(&none);
        hg_program_free(p);
    }
    hg_graph_free(s.g);
}

/* A graph of 2 chains: a = exp(x) * 2, b = sum(a); d = tanh(x) + a, e =
 * max(d) (outputs b, e, d). Hand schedule: {exp, mul} loop, {sum} op,
 * {tanh, add, max} loop; the ref and fast runs of it are bit-identical to
 * hg_ref_run's node-by-node run (no matmul: fast is bit-identical too),
 * which matches closed-form values. */
HG_TEST(schedule_run_equals_node_by_node) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F64, HG_S1(5));
    hg_value ex = hg_exp(g, x);
    hg_value a = hg_mul_s(g, ex, 2.0);
    hg_value b = hg_sum_all(g, a);
    hg_value th = hg_tanh(g, x);
    hg_value d = hg_add(g, th, a);
    hg_value e = hg_reduce(g, HG_OP_max, d, 0, NULL, 0);
    hg_set_output(g, "b", b);
    hg_set_output(g, "e", e);
    hg_set_output(g, "d", d);
    HG_CHECK_OK(hg_verify(g));
    hg_value two = g->nodes[a].in[1]; /* the scalar constant 2 */
    HG_CHECK(g->nodes[two].op == HG_OP_constant);
    hg_schedule s;
    hg_kernel_kind kinds[3] = {HG_KERNEL_LOOP, HG_KERNEL_OP, HG_KERNEL_LOOP};
    int nm[3] = {2, 1, 3};
    hg_value mem[6] = {ex, a, b, th, d, e};
    HG_CHECK_OK(hg_test_schedule(g, 3, kinds, nm, mem, &s));
    HG_CHECK(s.kernels[0].n_outputs == 1 && s.kernels[0].outputs[0] == a); /* exp internal */
    HG_CHECK(s.kernels[2].n_outputs == 2); /* d (graph output) and e */
    const double xs[5] = {-1, -0.5, 0, 0.25, 2};
    hg_tensor_map in, ref, o1, o2;
    hg_map_init(&in);
    hg_map_init(&ref);
    hg_map_init(&o1);
    hg_map_init(&o2);
    hg_tensor *t = NULL;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F64, HG_S1(5), &t));
    for (int i = 0; i < 5; i++) hg_tensor_set(t, i, xs[i]);
    HG_CHECK_OK(hg_ref_run(g, NULL, &in, &ref, NULL));
    double bsum = 0, emax = -1e300;
    for (int i = 0; i < 5; i++) {
        double di = tanh(xs[i]) + 2 * exp(xs[i]);
        bsum += 2 * exp(xs[i]);
        if (di > emax) emax = di;
        HG_CHECK(fabs(hg_tensor_get(hg_map_get(&ref, "d"), i) - di) <= 1e-15 * fabs(di));
    }
    HG_CHECK(fabs(hg_tensor_get(hg_map_get(&ref, "b"), 0) - bsum) <= 1e-14 * bsum);
    HG_CHECK(fabs(hg_tensor_get(hg_map_get(&ref, "e"), 0) - emax) <= 1e-15 * emax);
    hg_ref_program *rp = NULL;
    hg_fast *fp = NULL;
    HG_CHECK_OK(hg_ref_compile(g, &s, &rp));
    HG_CHECK_OK(hg_fast_compile(g, &s, &fp));
    HG_CHECK(hg_fast_n_kernels(fp) == 3);
    for (int it = 0; it < 2; it++) { /* the second fast run sees the previous arena */
        HG_CHECK_OK(hg_ref_program_run(rp, NULL, &in, &o1, NULL));
        HG_CHECK_OK(hg_fast_run(fp, NULL, &in, &o2, NULL));
        const char *names[3] = {"b", "e", "d"};
        for (int i = 0; i < 3; i++) {
            const hg_tensor *r = hg_map_get(&ref, names[i]), *u = hg_map_get(&o1, names[i]),
                            *v = hg_map_get(&o2, names[i]);
            HG_CHECK(r && u && v && hg_tensor_bytes(r) == hg_tensor_bytes(u) &&
                     hg_tensor_bytes(r) == hg_tensor_bytes(v));
            HG_CHECK(!memcmp(r->data, u->data, hg_tensor_bytes(r)));
            HG_CHECK(!memcmp(r->data, v->data, hg_tensor_bytes(r)));
        }
    }
    hg_ref_program_free(rp);
    hg_fast_free(fp);
    /* a schedule running a later node first is refused by fast's node plan */
    hg_schedule bad;
    hg_kernel_kind k2[5] = {HG_KERNEL_OP, HG_KERNEL_OP, HG_KERNEL_OP, HG_KERNEL_OP,
                            HG_KERNEL_LOOP};
    int nm2[5] = {1, 1, 1, 1, 2};
    hg_value mem2[6] = {th, ex, a, b, d, e};
    HG_CHECK_OK(hg_test_schedule(g, 5, k2, nm2, mem2, &bad));
    fp = NULL;
    HG_CHECK_ERR(hg_fast_compile(g, &bad, &fp), "definition order");
    HG_CHECK(fp == NULL);
    /* ref runs any valid order */
    HG_CHECK_OK(hg_ref_compile(g, &bad, &rp));
    hg_map_free(&o1);
    hg_map_init(&o1);
    HG_CHECK_OK(hg_ref_program_run(rp, NULL, &in, &o1, NULL));
    HG_CHECK(!memcmp(hg_map_get(&o1, "d")->data, hg_map_get(&ref, "d")->data, 40));
    hg_ref_program_free(rp);
    hg_schedule_free(&bad);
    hg_schedule_free(&s);
    hg_map_free(&in);
    hg_map_free(&ref);
    hg_map_free(&o1);
    hg_map_free(&o2);
    hg_graph_free(g);
}

/* An override of kernel 0 of fast (what the jit does for the kernels it
 * compiled): writes out[0] = 3 * in[0] + in[1] from its views. */
typedef struct {
    int calls;
    int freed;
} probe;

static hg_status probe_run(const hg_fast_impl *im, hg_tensor *vals) {
    probe *pr = im->data;
    pr->calls++;
    if (im->kernel->n_inputs != 2 || im->kernel->n_outputs != 1 ||
        im->out[0] != &vals[im->kernel->outputs[0]])
        return hg_error(HG_ERR_INVALID, "probe: unexpected views");
    const double *x = im->in[0]->data, *c = im->in[1]->data;
    double *y = im->out[0]->data;
    for (int i = 0; i < 3; i++) y[i] = 3 * x[i] + c[i];
    return hg_ok();
}

static void probe_free(void *d) { ((probe *)d)->freed++; }

HG_TEST(fast_impl_override) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F64, HG_S1(3));
    hg_value c = hg_constant(g, HG_F64, HG_S1(3), (double[]){10, 20, 30});
    hg_value m = hg_mul(g, x, c); /* kernel 0: overridden by the probe */
    hg_value y = hg_neg(g, m);    /* kernel 1: fast's own */
    hg_set_output(g, "y", y);
    HG_CHECK_OK(hg_verify(g));
    hg_schedule s;
    HG_CHECK_OK(hg_schedule_nodes(g, &s));
    hg_fast *f = NULL;
    HG_CHECK_OK(hg_fast_compile(g, &s, &f));
    HG_CHECK(hg_fast_n_kernels(f) == 2 && hg_fast_impl_at(f, 2) == NULL);
    const hg_fast_impl *im = hg_fast_impl_at(f, 0);
    HG_CHECK(im && im->kernel == &s.kernels[0] && im->index == 0 && im->run && im->g == g);
    /* kernel inputs are ascending node ids: x, then c */
    HG_CHECK(x < c && s.kernels[0].inputs[0] == x && s.kernels[0].inputs[1] == c);
    probe pr = {0, 0};
    HG_CHECK_ERR(hg_fast_set_impl(f, 5, probe_run, &pr, probe_free), "out of range");
    HG_CHECK_ERR(hg_fast_set_impl(f, 0, NULL, &pr, probe_free), "no function");
    HG_CHECK_OK(hg_fast_set_impl(f, 0, probe_run, &pr, probe_free));
    hg_tensor_map in, out;
    hg_map_init(&in);
    hg_map_init(&out);
    hg_tensor *t = NULL;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F64, HG_S1(3), &t));
    for (int i = 0; i < 3; i++) hg_tensor_set(t, i, i + 1);
    HG_CHECK_OK(hg_fast_run(f, NULL, &in, &out, NULL));
    /* y = -(3 x + c) with x = 1, 2, 3 and c = 10, 20, 30 */
    const hg_tensor *r = hg_map_get(&out, "y");
    HG_CHECK(r && hg_tensor_get(r, 0) == -13 && hg_tensor_get(r, 1) == -26 &&
             hg_tensor_get(r, 2) == -39 && pr.calls == 1);
    hg_fast_free(f);
    HG_CHECK(pr.freed == 1);
    hg_schedule_free(&s);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_graph_free(g);
}

/* hg_decompose_some (what hg_program_compile applies for a backend's
 * keeps_composite): keeping softmax decomposes layer_norm only, and the
 * result matches the composite kernels; keep NULL decomposes both. */
static int keep_softmax(hg_op op) { return op == HG_OP_softmax; }

static int count_op(const hg_graph *g, hg_op op) {
    int n = 0;
    for (int v = 0; v < g->n_nodes; v++) n += g->nodes[v].op == op;
    return n;
}

HG_TEST(decompose_unkept_composites) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F64, HG_S2(2, 4));
    hg_set_output(g, "s", hg_softmax(g, x));
    hg_set_output(g, "l", hg_layer_norm(g, x, 1e-5));
    HG_CHECK_OK(hg_verify(g));
    hg_graph *d = NULL, *all = NULL;
    HG_CHECK_OK(hg_decompose_some(g, keep_softmax, &d, NULL));
    HG_CHECK_OK(hg_decompose_some(g, NULL, &all, NULL));
    HG_CHECK(count_op(d, HG_OP_softmax) == 1 && count_op(d, HG_OP_layer_norm) == 0);
    HG_CHECK(count_op(all, HG_OP_softmax) == 0 && count_op(all, HG_OP_layer_norm) == 0);
    hg_tensor_map in, o1, o2;
    hg_map_init(&in);
    hg_map_init(&o1);
    hg_map_init(&o2);
    hg_tensor *t = NULL;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F64, HG_S2(2, 4), &t));
    for (int i = 0; i < 8; i++) hg_tensor_set(t, i, 0.3 * i - 1);
    HG_CHECK_OK(hg_ref_run(g, NULL, &in, &o1, NULL));
    HG_CHECK_OK(hg_ref_run(d, NULL, &in, &o2, NULL));
    for (int i = 0; i < 8; i++) {
        HG_CHECK(hg_tensor_get(hg_map_get(&o1, "s"), i) == hg_tensor_get(hg_map_get(&o2, "s"), i));
        double a = hg_tensor_get(hg_map_get(&o1, "l"), i), b = hg_tensor_get(hg_map_get(&o2, "l"), i);
        HG_CHECK(fabs(a - b) <= 1e-12);
    }
    hg_map_free(&in);
    hg_map_free(&o1);
    hg_map_free(&o2);
    hg_graph_free(d);
    hg_graph_free(all);
    hg_graph_free(g);
}
