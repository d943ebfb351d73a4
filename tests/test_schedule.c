/* Schedules (passes/schedule.h): the reference schedule (one kernel per
 * needed node) on hand-built and model graphs, kernel inputs/outputs
 * worked out by hand, and the checker's refusal of corrupted schedules. */
#include <stdlib.h>
#include <string.h>

#include "hg_test.h"
#include "models/models.h"
#include "passes/passes.h"

HG_LABELS(fast)

/* x -> e = exp(x) -> s = sum(e); dead = neg(x) (unused); out "s", "e". */
typedef struct {
    hg_graph *g;
    hg_value x, e, s, dead, m;
} small;

static small make_small(void) {
    small p;
    p.g = hg_graph_new();
    p.x = hg_input(p.g, "x", HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)3));
    p.e = hg_exp(p.g, p.x);
    p.dead = hg_neg(p.g, p.x);
    p.m = hg_mul(p.g, p.e, p.x);
    p.s = hg_sum_all(p.g, p.m);
    hg_set_output(p.g, "s", p.s);
    hg_set_output(p.g, "e", p.e);
    return p;
}

HG_TEST(reference_schedule_by_hand) {
    small p = make_small();
    HG_CHECK_OK(hg_graph_status(p.g));
    hg_schedule s;
    HG_CHECK_OK(hg_schedule_nodes(p.g, &s));
    HG_CHECK(s.n_kernels == 3); /* exp, mul, sum; neg is not needed */
    HG_CHECK(s.kernel_of[p.x] == -1 && s.kernel_of[p.dead] == -1);
    HG_CHECK(s.kernel_of[p.e] == 0 && s.kernel_of[p.m] == 1 && s.kernel_of[p.s] == 2);
    const hg_kernel *k1 = &s.kernels[1];
    HG_CHECK(k1->kind == HG_KERNEL_OP && !strcmp(k1->name, "mul"));
    HG_CHECK(k1->n_inputs == 2 && k1->inputs[0] == p.x && k1->inputs[1] == p.e);
    HG_CHECK(k1->n_outputs == 1 && k1->outputs[0] == p.m);
    HG_CHECK_OK(hg_schedule_check(p.g, &s));
    hg_schedule_free(&s);
    hg_graph_free(p.g);
}

HG_TEST(fill_io_internal_members) {
    /* One kernel {exp, mul, sum}: e escapes (graph output), m is internal. */
    small p = make_small();
    char *needed = hg_schedule_needed(p.g);
    HG_CHECK(needed && needed[p.e] && needed[p.m] && !needed[p.dead] && needed[p.x]);
    hg_value mem[3] = {p.e, p.m, p.s};
    hg_kernel k = {.kind = HG_KERNEL_LOOP, .n_members = 3, .members = mem,
                   .reduce = p.s, .anchor = HG_NONE};
    HG_CHECK_OK(hg_kernel_fill_io(p.g, needed, &k));
    HG_CHECK(k.n_inputs == 1 && k.inputs[0] == p.x);
    HG_CHECK(k.n_outputs == 2 && k.outputs[0] == p.e && k.outputs[1] == p.s);
    free(k.inputs);
    free(k.outputs);
    free(needed);
    hg_graph_free(p.g);
}

/* Builds the reference schedule, applies `corrupt`, expects the checker to
 * refuse with a message containing `want`. */
static void expect_refused(void (*corrupt)(hg_schedule *, const small *), const char *want) {
    small p = make_small();
    hg_schedule s;
    HG_CHECK_OK(hg_schedule_nodes(p.g, &s));
    corrupt(&s, &p);
    hg_status st = hg_schedule_check(p.g, &s);
    if (st.code == HG_OK) HG_FAIL("corrupted schedule accepted (want \"%s\")", want);
    if (!strstr(st.msg, want)) HG_FAIL("message \"%s\" lacks \"%s\"", st.msg, want);
    hg_schedule_free(&s);
    hg_graph_free(p.g);
}

static void swap_order(hg_schedule *s, const small *p) {
    hg_kernel t = s->kernels[0];
    s->kernels[0] = s->kernels[1];
    s->kernels[1] = t;
    s->kernel_of[p->e] = 1;
    s->kernel_of[p->m] = 0;
}
static void drop_output(hg_schedule *s, const small *p) { s->kernels[0].n_outputs = 0; }
static void wrong_kernel_of(hg_schedule *s, const small *p) { s->kernel_of[p->m] = 2; }
static void dead_member(hg_schedule *s, const small *p) {
    s->kernels[0].members[0] = p->dead;
    s->kernel_of[p->dead] = 0;
}
static void loop_with_reduce_first(hg_schedule *s, const small *p) {
    s->kernels[2].kind = HG_KERNEL_LOOP;
    s->kernels[2].reduce = p->e; /* not a member */
}

HG_TEST(checker_refuses_corruptions) {
    expect_refused(swap_order, "not an earlier one");
    expect_refused(drop_output, "outputs differ");
    expect_refused(wrong_kernel_of, "kernel_of");
    expect_refused(dead_member, "not needed");
    expect_refused(loop_with_reduce_first, "loop");
}

/* The reference schedule of g with the nodes mem[0..n) (ascending) merged
 * into one kernel of `kind` at the place of the last of them; the io sets
 * of every kernel recomputed. */
static void merged_schedule(const hg_graph *g, const hg_value *mem, int n, hg_kernel_kind kind,
                            hg_value anchor, hg_value reduce, hg_schedule *out) {
    hg_schedule r;
    HG_CHECK_OK(hg_schedule_nodes(g, &r));
    char *needed = hg_schedule_needed(g);
    memset(out, 0, sizeof *out);
    out->n_nodes = g->n_nodes;
    out->kernels = calloc((size_t)r.n_kernels, sizeof *out->kernels);
    out->kernel_of = malloc(sizeof(int) * (size_t)g->n_nodes);
    for (int v = 0; v < g->n_nodes; v++) out->kernel_of[v] = -1;
    for (int k = 0; k < r.n_kernels; k++) {
        hg_value v = r.kernels[k].members[0];
        int in_set = 0;
        for (int i = 0; i < n; i++) in_set |= mem[i] == v;
        if (in_set && v != mem[n - 1]) continue;
        hg_kernel *K = &out->kernels[out->n_kernels];
        K->kind = in_set ? kind : HG_KERNEL_OP;
        K->anchor = in_set ? anchor : HG_NONE;
        K->reduce = in_set ? reduce : HG_NONE;
        K->n_members = in_set ? n : 1;
        K->members = malloc(sizeof(hg_value) * (size_t)K->n_members);
        if (in_set) memcpy(K->members, mem, sizeof(hg_value) * (size_t)n);
        else K->members[0] = v;
        K->space = g->nodes[in_set ? (anchor != HG_NONE ? anchor : mem[0]) : v].shape;
        for (int i = 0; i < K->n_members; i++) out->kernel_of[K->members[i]] = out->n_kernels;
        HG_CHECK_OK(hg_kernel_fill_io(g, needed, K));
        out->n_kernels++;
    }
    free(needed);
    hg_schedule_free(&r);
}

static void expect_merged_refused(const hg_graph *g, const hg_value *mem, int n, hg_kernel_kind kind,
                                  hg_value anchor, hg_value reduce, const char *want) {
    hg_schedule s;
    merged_schedule(g, mem, n, kind, anchor, reduce, &s);
    hg_status st = hg_schedule_check(g, &s);
    if (st.code == HG_OK) HG_FAIL("schedule accepted (want \"%s\")", want);
    else if (!strstr(st.msg, want)) HG_FAIL("message \"%s\" lacks \"%s\"", st.msg, want);
    hg_schedule_free(&s);
}

HG_TEST(checker_kind_rules) {
    /* bugs fixed in the checker: a LOOP whose `reduce` is not a member was
     * accepted when every member was elementwise; reductions over interior
     * axes, broken MATMUL chains and misplaced anchor/reduce fields were
     * not checked */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4));
    hg_value w = hg_input(g, "w", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)4));
    hg_value b = hg_input(g, "b", HG_F32, hg_shape_of(1, (int64_t)4));
    hg_value e = hg_exp(g, x);
    int mid = 1, last = 2;
    hg_value rmid = hg_reduce(g, HG_OP_sum, e, 1, &mid, 0);
    hg_value e2 = hg_tanh(g, x);
    hg_value rlast = hg_reduce(g, HG_OP_max, e2, 1, &last, 0);
    hg_value mm = hg_matmul(g, x, w, 0, 0);
    hg_value a = hg_add(g, mm, b);
    hg_value c = hg_mul(g, a, mm);      /* reads the anchor again */
    hg_value mm2 = hg_matmul(g, x, w, 0, 1);
    hg_value a2 = hg_add(g, mm2, b);
    hg_value c2 = hg_gelu(g, a2);
    hg_set_output(g, "rmid", rmid);
    hg_set_output(g, "rlast", rlast);
    hg_set_output(g, "c", c);
    hg_set_output(g, "a2", a2);         /* a2 is an output of its chain */
    hg_set_output(g, "c2", c2);
    HG_CHECK_OK(hg_graph_status(g));
    hg_value m1[2] = {e, rmid}, m2[2] = {e2, rlast}, m3[3] = {mm, a, c}, m4[3] = {mm2, a2, c2};
    hg_value m5[1] = {e}, m6[2] = {mm2, a2}, m7[2] = {mm, a};
    hg_schedule s;
    merged_schedule(g, m2, 2, HG_KERNEL_LOOP, HG_NONE, rlast, &s); /* the legal one */
    HG_CHECK_OK(hg_schedule_check(g, &s));
    hg_schedule_free(&s);
    merged_schedule(g, m6, 2, HG_KERNEL_MATMUL, mm2, HG_NONE, &s);
    HG_CHECK_OK(hg_schedule_check(g, &s)); /* a2 is read outside (c2, output): the last member */
    hg_schedule_free(&s);
    expect_merged_refused(g, m5, 1, HG_KERNEL_LOOP, HG_NONE, rlast, "is not the last member");
    expect_merged_refused(g, m1, 2, HG_KERNEL_LOOP, HG_NONE, rmid, "leading or trailing");
    expect_merged_refused(g, m3, 3, HG_KERNEL_MATMUL, mm, HG_NONE, "exactly once");
    expect_merged_refused(g, m4, 3, HG_KERNEL_MATMUL, mm2, HG_NONE, "other than the last");
    expect_merged_refused(g, m7, 2, HG_KERNEL_MATMUL, mm, HG_NONE, "other than the last"); /* c reads mm */
    expect_merged_refused(g, m6, 2, HG_KERNEL_MATMUL, a2, HG_NONE, "anchor %");
    expect_merged_refused(g, m5, 1, HG_KERNEL_OP, e, HG_NONE, "anchor set");
    expect_merged_refused(g, m5, 1, HG_KERNEL_OP, HG_NONE, e, "reduce set");
    hg_graph_free(g);
}

static void check_model(const hg_config *c, const char *kind) {
    hg_model_opts o;
    hg_model_opts_default(&o, c);
    o.norm.box = 10.0;
    hg_model m;
    HG_CHECK_OK(hg_model_build(c, kind, 2, HG_F32, &o, &m));
    hg_schedule s;
    HG_CHECK_OK(hg_schedule_nodes(m.g, &s));
    HG_CHECK_OK(hg_schedule_check(m.g, &s));
    int n_compute = 0;
    char *needed = hg_schedule_needed(m.g);
    for (int v = 0; v < m.g->n_nodes; v++)
        n_compute += needed[v] && !(hg_op_table[m.g->nodes[v].op].flags & HG_OPF_LEAF);
    HG_CHECK(s.n_kernels == n_compute);
    /* the one-pass io sets (hg_schedule_fill_io) equal the per-kernel ones
     * (hg_kernel_fill_io), on this and on the fused schedule */
    hg_schedule f;
    HG_CHECK_OK(hg_fuse(m.g, NULL, &f));
    for (int pass = 0; pass < 2; pass++) {
        hg_schedule *t = pass ? &f : &s;
        for (int k = 0; k < t->n_kernels; k++) {
            hg_kernel c = t->kernels[k];
            c.inputs = c.outputs = NULL;
            HG_CHECK_OK(hg_kernel_fill_io(m.g, needed, &c));
            const hg_kernel *K = &t->kernels[k];
            if (c.n_inputs != K->n_inputs || c.n_outputs != K->n_outputs ||
                memcmp(c.inputs, K->inputs, sizeof(hg_value) * (size_t)c.n_inputs) ||
                memcmp(c.outputs, K->outputs, sizeof(hg_value) * (size_t)c.n_outputs))
                HG_FAIL("%s, %s schedule, kernel %d: io sets differ", kind, pass ? "fused" : "node", k);
            free(c.inputs);
            free(c.outputs);
        }
    }
    hg_schedule_free(&f);
    free(needed);
    hg_schedule_free(&s);
    hg_model_free(&m);
}

HG_TEST(reference_schedule_of_model_graphs) {
    hg_config c;
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    HG_CHECK_OK(hg_config_load(path, &c));
    const char *kinds[] = {"train", "score", "sample-step", "nelbo"};
    for (int k = 0; k < 4; k++) check_model(&c, kinds[k]);
    c.score = HG_SCORE_GRAPH;
    for (int k = 0; k < 4; k++) check_model(&c, kinds[k]);
}
