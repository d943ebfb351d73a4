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
