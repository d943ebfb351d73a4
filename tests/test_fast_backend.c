/* Differential tests of the "fast" backend (codegen/fast.h) against the
 * reference interpreter, through the program executor (runtime/program.h):
 * every model graph kind of configs/tiny-test.yaml and small variants of
 * the transformer and the graph network, all parameters re-initialised to
 * nonzero random values, three consecutive runs (the arena is reused, so a
 * value leaking from one run into the next, or a kernel relying on a
 * zero-filled output, shows up in runs 2 and 3), all outputs and updated
 * states compared; error paths leave state and outputs unchanged.
 *
 * Tolerance (stated in runtime/program.h and codegen/fast.h): f32 matmul
 * runs in oneDNN, which sums in another order, so every element must
 * satisfy |fast - ref| <= RTOL max(|ref|, 0.1 max|ref over the tensor|)
 * with RTOL = 1e-4; i32/bool values must be equal. The floor at 0.1 max|ref|
 * is for gradients and optimiser moments, sums with cancellation whose small
 * elements carry the rounding of the large ones (observed: error / max|ref|
 * <= 3.1e-6 on these graphs). */
#include "tests/hg_test.h"

#include <stdlib.h>
#include <string.h>

#include "codegen/fast.h"
#include "models/models.h"
#include "runtime/program.h"

HG_LABELS(fast)

#define RTOL 1e-4

static double tnorm(int k, int64_t i) { return hg_rng_normal(4242, 9000 + (uint32_t)k, 0, 0, (uint64_t)i); }

/* Compares a (fast) to b (ref); returns the number of bad elements and
 * prints the worst. */
static int64_t compare(const char *what, const char *name, const hg_tensor *a, const hg_tensor *b) {
    if (!a || !b || a->dtype != b->dtype || !hg_shape_eq(a->shape, b->shape)) {
        fprintf(stderr, "%s %s: missing or mismatched\n", what, name);
        return 1;
    }
    int64_t n = hg_shape_numel(b->shape), bad = 0, worst = -1;
    double scale = 0, worst_err = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs(hg_tensor_get(b, i));
        if (r > scale) scale = r;
    }
    for (int64_t i = 0; i < n; i++) {
        double x = hg_tensor_get(a, i), r = hg_tensor_get(b, i), err = fabs(x - r);
        double tol = hg_dtype_is_float(b->dtype) ? RTOL * fmax(fabs(r), 0.1 * scale) : 0;
        if (!(err <= tol) && !(isnan(x) && isnan(r))) {
            bad++;
            if (!(err <= worst_err)) {
                worst_err = err;
                worst = i;
            }
        }
    }
    if (getenv("HG_FAST_VERBOSE")) {
        double w = 0;
        for (int64_t i = 0; i < n; i++) {
            double r = hg_tensor_get(b, i), d = fabs(hg_tensor_get(a, i) - r) / fmax(fabs(r), 0.1 * scale);
            if (d > w) w = d;
        }
        fprintf(stderr, "%s %s: max scaled error %.3g\n", what, name, w);
    }
    if (bad)
        fprintf(stderr, "%s %s: %lld of %lld elements off, worst [%lld] fast %.9g ref %.9g (err / max|ref| %.3g)\n", what, name,
                (long long)bad, (long long)n, (long long)worst, hg_tensor_get(a, worst), hg_tensor_get(b, worst), worst_err / scale);
    return bad;
}

static hg_status copy_map(const hg_tensor_map *src, hg_tensor_map *dst) {
    hg_map_init(dst);
    for (int i = 0; i < src->n; i++) {
        hg_tensor t;
        HG_TRY(hg_tensor_copy(&t, &src->e[i].t));
        HG_TRY(hg_map_put(dst, src->e[i].name, &t));
    }
    return hg_ok();
}

/* Inputs for every `input` node: RNG scalars (step = `step`), a mask with
 * padded points in the last cloud, times t = 0.6 > s = 0.5, and normal
 * values elsewhere (variant k changes them). */
static hg_status make_inputs(const hg_graph *g, int k, int step, hg_tensor_map *in) {
    hg_map_init(in);
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *nd = &g->nodes[v];
        if (nd->op != HG_OP_input) continue;
        hg_tensor *t;
        HG_TRY(hg_map_alloc(in, nd->attrs.name, nd->dtype, nd->shape, &t));
        const char *nm = nd->attrs.name;
        int64_t n = hg_shape_numel(nd->shape);
        for (int64_t i = 0; i < n; i++) {
            double x = tnorm(k * 31 + v, i);
            if (!strcmp(nm, "seed")) x = 7 + k;
            else if (!strcmp(nm, "step")) x = step;
            else if (!strcmp(nm, "replica")) x = 1;
            else if (!strcmp(nm, "mask")) {
                int64_t N = nd->shape.dim[nd->shape.rank - 1];
                x = (i / N == n / N - 1 && i % N >= N - 5) ? 0 : 1;
            } else if (!strcmp(nm, "t")) x = 0.6;
            else if (!strcmp(nm, "s")) x = 0.5;
            else if (!strcmp(nm, "gamma")) x = 1 + 3 * x;
            else if (!strcmp(nm, "cond")) x = 0.5 + 0.1 * x;
            hg_tensor_set(t, i, x);
        }
    }
    return hg_ok();
}

/* Parameters random and nonzero (normal, sd 0.3); optimiser moments
 * random (v > 0) so the AdamW update is smooth in the gradient; the step
 * counter past the warm-up so the learning rate is not 0. */
static hg_status make_state(hg_model *m, hg_tensor_map *st) {
    hg_map_init(st);
    HG_TRY(hg_mb_init_params(&m->mb, 3, st));
    HG_TRY(hg_optim_init_state(m->g, st));
    for (int i = 0; i < st->n; i++) {
        hg_tensor *t = &st->e[i].t;
        const char *nm = st->e[i].name;
        int64_t n = hg_shape_numel(t->shape);
        for (int64_t j = 0; j < n; j++) {
            double z = tnorm(500 + i, j);
            if (!strcmp(nm, "opt/step")) hg_tensor_set(t, j, 5);
            else if (!strncmp(nm, "opt/m/", 6)) hg_tensor_set(t, j, 1e-2 * z);
            else if (!strncmp(nm, "opt/v/", 6)) hg_tensor_set(t, j, 1e-4 * (1 + z * z));
            else hg_tensor_set(t, j, 0.3 * z + (z >= 0 ? 0.01 : -0.01));
        }
    }
    return hg_ok();
}

/* Three runs of one graph on ref and `backend` (fast, or jit: fast with
 * compiled fusion groups, same tolerance), each with its own state;
 * outputs and states compared after every run. */
static void diff_model_on(const char *backend, const hg_config *c, const char *kind,
                          const char *what) {
    hg_model_opts o;
    hg_model_opts_default(&o, c);
    o.norm.box = 10.0;
    hg_model m;
    HG_CHECK_OK(hg_model_build(c, kind, 2, HG_F32, &o, &m));
    hg_program *pr = NULL, *pf = NULL;
    HG_CHECK_OK(hg_program_compile(m.g, "ref", &pr));
    HG_CHECK_OK(hg_program_compile(m.g, backend, &pf));
    HG_CHECK(!strcmp(hg_program_backend(pf), backend));
    hg_tensor_map sr, sf;
    HG_CHECK_OK(make_state(&m, &sr));
    HG_CHECK_OK(copy_map(&sr, &sf));
    int64_t bad = 0;
    char tag[96];
    for (int run = 0; run < 3; run++) {
        hg_tensor_map in, orf, off;
        HG_CHECK_OK(make_inputs(m.g, run, strcmp(kind, "nelbo") ? run : 0, &in));
        hg_map_init(&orf);
        hg_map_init(&off);
        HG_CHECK_OK(hg_program_run(pr, &sr, &in, &orf));
        HG_CHECK_OK(hg_program_run(pf, &sf, &in, &off));
        snprintf(tag, sizeof tag, "%s %s run %d output", what, kind, run);
        HG_CHECK(off.n == m.g->n_outputs && orf.n == off.n);
        for (int i = 0; i < orf.n; i++)
            bad += compare(tag, orf.e[i].name, hg_map_get(&off, orf.e[i].name), &orf.e[i].t);
        snprintf(tag, sizeof tag, "%s %s run %d state", what, kind, run);
        for (int i = 0; i < sr.n; i++)
            bad += compare(tag, sr.e[i].name, hg_map_get(&sf, sr.e[i].name), &sr.e[i].t);
        hg_map_free(&in);
        hg_map_free(&orf);
        hg_map_free(&off);
    }
    if (!strcmp(kind, "train")) { /* the updates really changed the state */
        hg_tensor_map s0;
        HG_CHECK_OK(make_state(&m, &s0));
        int changed = 0;
        for (int i = 0; i < s0.n; i++)
            if (memcmp(s0.e[i].t.data, hg_map_get(&sf, s0.e[i].name)->data, hg_tensor_bytes(&s0.e[i].t)))
                changed++;
        HG_CHECK(changed > m.mb.n_params);
        hg_map_free(&s0);
    }
    hg_map_free(&sr);
    hg_map_free(&sf);
    hg_program_free(pr);
    hg_program_free(pf);
    hg_model_free(&m);
    if (bad)
        HG_FAIL("%s %s on %s: %lld elements outside the tolerance", what, kind, backend,
                (long long)bad);
}

static void diff_model(const hg_config *c, const char *kind, const char *what) {
    diff_model_on("fast", c, kind, what);
}

static const char *const kinds[] = {"train", "loss", "score", "sample-step", "sample-decode", "nelbo"};

static void tiny(hg_config *c) {
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    hg_status s = hg_config_load(path, c);
    if (s.code != HG_OK) fprintf(stderr, "%s\n", s.msg);
}

HG_TEST(tiny_transformer_all_kinds) {
    hg_config c;
    tiny(&c);
    for (int k = 0; k < 6; k++) diff_model(&c, kinds[k], "tiny transformer");
}

HG_TEST(transformer_variant_all_kinds) {
    hg_config c;
    tiny(&c);
    c.n_layers = 2;
    c.d_model = 24;
    c.n_heads = 3;
    c.d_mlp = 40;
    for (int variant = 0; variant < 2; variant++) { /* adanorm needs self-attention */
        c.induced_attention = variant == 0;
        c.adanorm = variant == 1;
        for (int k = 0; k < 6; k++)
            diff_model(&c, kinds[k], variant ? "transformer adanorm" : "transformer induced");
    }
}

HG_TEST(graph_network_all_kinds) {
    hg_config c;
    tiny(&c);
    c.score = HG_SCORE_GRAPH;
    for (int k = 0; k < 6; k++) diff_model(&c, kinds[k], "graph network");
}

HG_TEST(graph_network_variant_all_kinds) {
    hg_config c;
    tiny(&c);
    c.score = HG_SCORE_GRAPH;
    c.attention = 0;
    c.relative_updates = 0;
    c.message_passing_steps = 2;
    c.hidden_size = 24;
    for (int k = 0; k < 6; k++) diff_model(&c, kinds[k], "graph network variant");
}

/* The jit backend on the same graphs and variants. */
HG_TEST(jit_tiny_transformer_all_kinds) {
    hg_config c;
    tiny(&c);
    for (int k = 0; k < 6; k++) diff_model_on("jit", &c, kinds[k], "tiny transformer");
}

HG_TEST(jit_transformer_variant_all_kinds) {
    hg_config c;
    tiny(&c);
    c.n_layers = 2;
    c.d_model = 24;
    c.n_heads = 3;
    c.d_mlp = 40;
    for (int variant = 0; variant < 2; variant++) {
        c.induced_attention = variant == 0;
        c.adanorm = variant == 1;
        for (int k = 0; k < 6; k++)
            diff_model_on("jit", &c, kinds[k], variant ? "transformer adanorm" : "transformer induced");
    }
}

HG_TEST(jit_graph_network_all_kinds) {
    hg_config c;
    tiny(&c);
    c.score = HG_SCORE_GRAPH;
    for (int k = 0; k < 6; k++) diff_model_on("jit", &c, kinds[k], "graph network");
}

HG_TEST(jit_graph_network_variant_all_kinds) {
    hg_config c;
    tiny(&c);
    c.score = HG_SCORE_GRAPH;
    c.attention = 0;
    c.relative_updates = 0;
    c.message_passing_steps = 2;
    c.hidden_size = 24;
    for (int k = 0; k < 6; k++) diff_model_on("jit", &c, kinds[k], "graph network variant");
}

/* Arena reuse: inputs A, B, A again give bit-identical results for A; the
 * models' matmuls really ran in oneDNN. */
HG_TEST(arena_reuse_no_leak) {
    hg_config c;
    tiny(&c);
    hg_model_opts o;
    hg_model_opts_default(&o, &c);
    hg_model m;
    HG_CHECK_OK(hg_model_build(&c, "score", 2, HG_F32, &o, &m));
    hg_program *pf = NULL;
    HG_CHECK_OK(hg_program_compile(m.g, "fast", &pf));
    hg_fast *f = NULL;
    hg_schedule sc;
    HG_CHECK_OK(hg_schedule_nodes(m.g, &sc));
    HG_CHECK_OK(hg_fast_compile(m.g, &sc, &f));
    int nd = 0, nr = 0;
    hg_fast_matmul_counts(f, &nd, &nr);
    HG_CHECK(nd > 0 && nr == 0);
    const hg_mem_plan *p = hg_fast_plan(f);
    HG_CHECK(p->arena_bytes > 0 && p->arena_bytes < p->sum_bytes && p->n_inplace > 0);
    hg_tensor_map st, a, b, o1, o2, o3;
    HG_CHECK_OK(make_state(&m, &st));
    HG_CHECK_OK(make_inputs(m.g, 0, 0, &a));
    HG_CHECK_OK(make_inputs(m.g, 1, 1, &b));
    hg_map_init(&o1);
    hg_map_init(&o2);
    hg_map_init(&o3);
    HG_CHECK_OK(hg_fast_run(f, &st, &a, &o1, NULL));
    HG_CHECK_OK(hg_fast_run(f, &st, &b, &o2, NULL));
    HG_CHECK_OK(hg_fast_run(f, &st, &a, &o3, NULL));
    hg_tensor *e1 = hg_map_get(&o1, "e_hat"), *e2 = hg_map_get(&o2, "e_hat"), *e3 = hg_map_get(&o3, "e_hat");
    HG_CHECK(e1 && e2 && e3);
    HG_CHECK(memcmp(e1->data, e3->data, hg_tensor_bytes(e1)) == 0);
    HG_CHECK(memcmp(e1->data, e2->data, hg_tensor_bytes(e1)) != 0);
    hg_map_free(&st);
    hg_map_free(&a);
    hg_map_free(&b);
    hg_map_free(&o1);
    hg_map_free(&o2);
    hg_map_free(&o3);
    hg_fast_free(f);
    hg_schedule_free(&sc);
    hg_program_free(pf);
    hg_model_free(&m);
}

/* A missing or mismatched input: the error names it (as the reference
 * does), and neither the state nor the outputs change. */
HG_TEST(error_leaves_state_unchanged) {
    hg_config c;
    tiny(&c);
    hg_model_opts o;
    hg_model_opts_default(&o, &c);
    hg_model m;
    HG_CHECK_OK(hg_model_build(&c, "train", 2, HG_F32, &o, &m));
    hg_program *pf = NULL;
    HG_CHECK_OK(hg_program_compile(m.g, "fast", &pf));
    hg_tensor_map st, st0, in, out;
    HG_CHECK_OK(make_state(&m, &st));
    HG_CHECK_OK(copy_map(&st, &st0));
    HG_CHECK_OK(make_inputs(m.g, 0, 0, &in));
    hg_map_init(&out);
    /* one good run first, so the arena holds values */
    HG_CHECK_OK(hg_program_run(pf, &st, &in, &out));
    hg_map_free(&st);
    HG_CHECK_OK(copy_map(&st0, &st));
    hg_map_free(&out);
    hg_map_init(&out);
    hg_tensor_map bad;
    hg_map_init(&bad);
    for (int i = 0; i < in.n; i++) /* everything but the mask */
        if (strcmp(in.e[i].name, "mask")) {
            hg_tensor t;
            HG_CHECK_OK(hg_tensor_copy(&t, &in.e[i].t));
            HG_CHECK_OK(hg_map_put(&bad, in.e[i].name, &t));
        }
    HG_CHECK_ERR(hg_program_run(pf, &st, &bad, &out), "input \"mask\" missing");
    HG_CHECK(out.n == 0);
    for (int i = 0; i < st0.n; i++)
        HG_CHECK(memcmp(st0.e[i].t.data, hg_map_get(&st, st0.e[i].name)->data, hg_tensor_bytes(&st0.e[i].t)) == 0);
    /* a mismatched shape: also refused before anything runs */
    hg_tensor *mk;
    HG_CHECK_OK(hg_map_alloc(&bad, "mask", HG_F32, hg_shape_of(1, (int64_t)3), &mk));
    HG_CHECK_ERR(hg_program_run(pf, &st, &bad, &out), "\"mask\": expected f32[2,64], got f32[3]");
    /* a missing state (the last parameter): the other states keep their values */
    hg_tensor_map part;
    hg_map_init(&part);
    for (int i = 0; i + 1 < st0.n; i++) {
        hg_tensor t;
        HG_CHECK_OK(hg_tensor_copy(&t, &st0.e[i].t));
        HG_CHECK_OK(hg_map_put(&part, st0.e[i].name, &t));
    }
    char want[200];
    snprintf(want, sizeof want, "state \"%s\" missing", st0.e[st0.n - 1].name);
    HG_CHECK_ERR(hg_program_run(pf, &part, &in, &out), want);
    for (int i = 0; i + 1 < st0.n; i++)
        HG_CHECK(memcmp(st0.e[i].t.data, hg_map_get(&part, st0.e[i].name)->data, hg_tensor_bytes(&st0.e[i].t)) == 0);
    hg_map_free(&part);
    for (int i = 0; i < st0.n; i++)
        HG_CHECK(memcmp(st0.e[i].t.data, hg_map_get(&st, st0.e[i].name)->data, hg_tensor_bytes(&st0.e[i].t)) == 0);
    HG_CHECK(out.n == 0);
    hg_map_free(&bad);
    hg_map_free(&st);
    hg_map_free(&st0);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_program_free(pf);
    hg_model_free(&m);
}

HG_TEST(backend_listed_and_unknown_refused) {
    HG_CHECK(!strcmp(hg_program_backends(), "ref,fast,jit"));
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)4));
    hg_set_output(g, "y", hg_exp(g, x));
    hg_program *p = NULL;
    HG_CHECK_ERR(hg_program_compile(g, "nosuch", &p), "available: ref,fast,jit");
    HG_CHECK(p == NULL);
    hg_graph_free(g);
}
