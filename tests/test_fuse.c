/* Fusion (passes/fuse.c hg_fuse): one hand-built case per rule of the
 * file's header comment (what fuses, what must not, and why), the backend
 * callback, the order, and every model graph kind of configs/tiny-test.yaml
 * (transformer and graph network) through hg_schedule_check. */
#include <stdlib.h>
#include <string.h>

#include "hg_test.h"
#include "models/models.h"
#include "passes/passes.h"

HG_LABELS(fast)

static hg_shape s2(int64_t a, int64_t b) { return hg_shape_of(2, a, b); }

/* Fuses g with opts (NULL: defaults), checks the schedule. */
static void fuse_ok(const hg_graph *g, const hg_fuse_opts *o, hg_schedule *s) {
    HG_CHECK_OK(hg_graph_status(g));
    HG_CHECK_OK(hg_verify(g));
    HG_CHECK_OK(hg_fuse(g, o, s));
    HG_CHECK_OK(hg_schedule_check(g, s));
}

static const hg_kernel *kof(const hg_schedule *s, hg_value v) {
    return s->kernel_of[v] >= 0 ? &s->kernels[s->kernel_of[v]] : NULL;
}

static int same_kernel(const hg_schedule *s, hg_value a, hg_value b) {
    return s->kernel_of[a] >= 0 && s->kernel_of[a] == s->kernel_of[b];
}

HG_TEST(loop_chain_with_trailing_sum) {
    /* L1 + L3: y = sum(tanh(exp(x) * w), axis 1): one LOOP kernel of space
     * [4, 8] with the sum as its reduction; exp and mul are internal. */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(4, 8));
    hg_value w = hg_input(g, "w", HG_F32, hg_shape_of(1, (int64_t)8));
    hg_value e = hg_exp(g, x);
    hg_value m = hg_mul(g, e, w); /* w broadcast: an input */
    hg_value t = hg_tanh(g, m);
    int ax = 1;
    hg_value y = hg_reduce(g, HG_OP_sum, t, 1, &ax, 0);
    hg_set_output(g, "y", y);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(s.n_kernels == 1);
    const hg_kernel *k = &s.kernels[0];
    HG_CHECK(k->kind == HG_KERNEL_LOOP && k->reduce == y && k->n_members == 4);
    HG_CHECK(hg_shape_eq(k->space, s2(4, 8)));
    HG_CHECK(k->n_inputs == 2 && k->inputs[0] == x && k->inputs[1] == w);
    HG_CHECK(k->n_outputs == 1 && k->outputs[0] == y);
    HG_CHECK(!strcmp(k->name, "loop:exp_mul_tanh_sum"));
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(reduction_never_feeds_its_own_group) {
    /* softmax written out: m = max(x) closes the group of x's producer;
     * the sub reads the broadcast reduction and starts the next group, whose
     * sum closes it; the div starts a third. */
    hg_graph *g = hg_graph_new();
    hg_value x0 = hg_input(g, "x", HG_F32, s2(4, 8));
    hg_value x = hg_mul_s(g, x0, 2.0);
    int ax = 1;
    hg_value mx = hg_reduce(g, HG_OP_max, x, 1, &ax, 1);
    hg_value e = hg_exp(g, hg_sub(g, x, mx));
    hg_value se = hg_reduce(g, HG_OP_sum, e, 1, &ax, 1);
    hg_value p = hg_div(g, e, se);
    hg_set_output(g, "p", p);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(same_kernel(&s, x, mx) && kof(&s, mx)->reduce == mx);
    HG_CHECK(!same_kernel(&s, mx, e) && same_kernel(&s, e, se) && kof(&s, se)->reduce == se);
    HG_CHECK(!same_kernel(&s, se, p) && kof(&s, p)->kind == HG_KERNEL_LOOP);
    /* x is read by the first and second groups: materialised */
    HG_CHECK(kof(&s, x)->n_outputs == 2);
    HG_CHECK(s.n_kernels == 3);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(interior_axis_reduction_is_op) {
    /* L3: a sum over the middle axis of [2,3,4] is not leading or trailing */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4));
    hg_value e = hg_exp(g, x);
    int mid = 1, lead[2] = {0, 1};
    hg_value a = hg_reduce(g, HG_OP_sum, e, 1, &mid, 0);
    hg_value e2 = hg_exp(g, x);
    hg_value b = hg_reduce(g, HG_OP_mean, hg_neg(g, e2), 2, lead, 0);
    hg_set_output(g, "a", a);
    hg_set_output(g, "b", b);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(kof(&s, a)->kind == HG_KERNEL_OP && !same_kernel(&s, e, a));
    HG_CHECK(kof(&s, b)->kind == HG_KERNEL_LOOP && kof(&s, b)->reduce == b && same_kernel(&s, e2, b));
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(shape_change_breaks_the_loop) {
    /* exp -> reshape -> tanh: the reshape is an OP kernel, tanh a new loop;
     * a broadcast of a [8] value into [4,8] reads it from memory. */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(4, 8));
    hg_value v = hg_input(g, "v", HG_F32, hg_shape_of(1, (int64_t)8));
    hg_value e = hg_exp(g, x);
    hg_value r = hg_reshape(g, e, s2(8, 4));
    hg_value t = hg_tanh(g, r);
    hg_value sv = hg_sqrt(g, v);        /* space [8] */
    hg_value a = hg_add(g, e, sv);      /* space [4,8]: joins e, sv is an input */
    hg_set_output(g, "t", t);
    hg_set_output(g, "a", a);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(kof(&s, r)->kind == HG_KERNEL_OP);
    HG_CHECK(!same_kernel(&s, e, t) && !same_kernel(&s, r, t));
    HG_CHECK(same_kernel(&s, e, a) && !same_kernel(&s, sv, a));
    HG_CHECK(kof(&s, sv)->kind == HG_KERNEL_LOOP && hg_shape_eq(kof(&s, sv)->space, hg_shape_of(1, (int64_t)8)));
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(merge_refused_through_outside_kernel) {
    /* a = exp(x), ta = tanh(a) (one group); mm = matmul(a, w) reads the
     * group; c = ta - mm reads both: c joining the group of a would need mm
     * both before and after that kernel. c's group is separate and after mm
     * (sub is not a matmul epilogue op, so c is a LOOP of its own). */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(4, 4));
    hg_value w = hg_input(g, "w", HG_F32, s2(4, 4));
    hg_value a = hg_exp(g, x);
    hg_value mm = hg_matmul(g, a, w, 0, 0);
    hg_value ta = hg_tanh(g, a);         /* joins a */
    hg_value c = hg_sub(g, ta, mm);
    hg_set_output(g, "c", c);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(same_kernel(&s, a, ta));
    HG_CHECK(!same_kernel(&s, ta, c) && kof(&s, c)->kind == HG_KERNEL_LOOP);
    HG_CHECK(s.kernel_of[a] < s.kernel_of[mm] && s.kernel_of[mm] < s.kernel_of[c]);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(two_chains_merge_at_their_join) {
    /* L1: p = exp(x), q = log(y) (two LOOP groups), r = p + q merges both */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(3, 5));
    hg_value y = hg_input(g, "y", HG_F32, s2(3, 5));
    hg_value p = hg_exp(g, x), q = hg_log(g, y);
    hg_value r = hg_add(g, p, q);
    hg_set_output(g, "r", r);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(s.n_kernels == 1 && s.kernels[0].n_members == 3 && s.kernels[0].n_outputs == 1);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(row_group_prologue_and_epilogue) {
    /* R1/R2: y = layer_norm(x + b) * gamma + beta: one ROW kernel with the
     * add as prologue and mul/add as epilogue; softmax likewise. */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(6, 16));
    hg_value b = hg_input(g, "b", HG_F32, s2(6, 16));
    hg_value ga = hg_input(g, "gamma", HG_F32, hg_shape_of(1, (int64_t)16));
    hg_value h = hg_add(g, x, b);
    hg_value ln = hg_layer_norm(g, h, 1e-5);
    hg_value y = hg_add(g, hg_mul(g, ln, ga), ga);
    hg_value sm = hg_softmax(g, y);      /* a second anchor: a new ROW group */
    hg_set_output(g, "sm", sm);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    const hg_kernel *k = kof(&s, ln);
    HG_CHECK(k->kind == HG_KERNEL_ROW && k->anchor == ln && k->n_members == 4);
    HG_CHECK(same_kernel(&s, h, ln) && same_kernel(&s, ln, y));
    HG_CHECK(kof(&s, sm)->kind == HG_KERNEL_ROW && !same_kernel(&s, y, sm));
    HG_CHECK(k->n_outputs == 1 && k->outputs[0] == y);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(matmul_epilogue_and_gelu_preactivation) {
    /* M1: h = gelu(x w + bias); with h's pre-activation also read by
     * another node (as the backward pass of gelu does), the gelu may not
     * join; without it, the whole chain is one MATMUL kernel. */
    for (int keep_pre = 0; keep_pre < 2; keep_pre++) {
        hg_graph *g = hg_graph_new();
        hg_value x = hg_input(g, "x", HG_F32, s2(8, 4));
        hg_value w = hg_input(g, "w", HG_F32, s2(4, 6));
        hg_value bias = hg_input(g, "bias", HG_F32, hg_shape_of(1, (int64_t)6));
        hg_value mm = hg_matmul(g, x, w, 0, 0);
        hg_value pre = hg_add(g, mm, bias);
        hg_value h = hg_gelu(g, pre);
        hg_value res = hg_input(g, "res", HG_F32, s2(8, 6));
        hg_value r = hg_add(g, h, res); /* residual add */
        hg_set_output(g, "r", r);
        if (keep_pre) hg_set_output(g, "pre", hg_mul_s(g, pre, 3.0));
        hg_schedule s;
        fuse_ok(g, NULL, &s);
        const hg_kernel *k = kof(&s, mm);
        HG_CHECK(k->kind == HG_KERNEL_MATMUL && k->anchor == mm && same_kernel(&s, mm, pre));
        if (keep_pre) {
            HG_CHECK(!same_kernel(&s, pre, h) && kof(&s, h)->kind == HG_KERNEL_LOOP);
            HG_CHECK(same_kernel(&s, h, r));
            HG_CHECK(k->n_outputs == 1 && k->outputs[0] == pre);
        } else {
            HG_CHECK(same_kernel(&s, pre, h) && same_kernel(&s, h, r) && k->n_members == 4);
            HG_CHECK(k->n_outputs == 1 && k->outputs[0] == r);
        }
        hg_schedule_free(&s);
        hg_graph_free(g);
    }
}

HG_TEST(matmul_alone_is_op_and_epilogue_needs_unique_reader) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(8, 4));
    hg_value w = hg_input(g, "w", HG_F32, s2(4, 4));
    hg_value m1 = hg_matmul(g, x, w, 0, 0);
    hg_value t = hg_tanh(g, m1);          /* not an epilogue op: a LOOP */
    hg_value m2 = hg_matmul(g, t, w, 0, 0);
    hg_value d = hg_add(g, m2, m2);       /* reads the matmul twice: not an epilogue */
    hg_set_output(g, "d", d);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(kof(&s, m1)->kind == HG_KERNEL_OP && kof(&s, t)->kind == HG_KERNEL_LOOP);
    HG_CHECK(kof(&s, m2)->kind == HG_KERNEL_OP && !same_kernel(&s, m2, d));
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(random_ops_fuse) {
    /* z = mu + sigma * N(0,1): the random draw starts the loop */
    hg_graph *g = hg_graph_new();
    hg_value seed = hg_input(g, "seed", HG_I32, hg_shape_scalar());
    hg_value step = hg_input(g, "step", HG_I32, hg_shape_scalar());
    hg_value rep = hg_input(g, "replica", HG_I32, hg_shape_scalar());
    hg_value mu = hg_input(g, "mu", HG_F32, s2(4, 8));
    hg_value e = hg_random_normal(g, HG_F32, s2(4, 8), seed, step, rep);
    hg_value z = hg_add(g, mu, hg_mul_s(g, e, 0.5));
    hg_set_output(g, "z", z);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(s.n_kernels == 1 && same_kernel(&s, e, z) && kof(&s, z)->kind == HG_KERNEL_LOOP);
    /* the multiply by a splat constant is a member too */
    HG_CHECK(kof(&s, z)->n_outputs == 1 && kof(&s, z)->outputs[0] == z);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

/* A backend that fuses f32 only and no ROW/MATMUL epilogue gelu. */
static int f32_only(void *user, hg_kernel_kind kind, const hg_graph *g, hg_value v) {
    int *calls = user;
    (*calls)++;
    const hg_node *nd = &g->nodes[v];
    if (nd->dtype != HG_F32) return 0;
    for (int j = 0; j < nd->n_in; j++)
        if (g->nodes[nd->in[j]].dtype != HG_F32 && nd->op != HG_OP_random_normal) return 0;
    return !(kind == HG_KERNEL_MATMUL && nd->op == HG_OP_gelu_tanh);
}

HG_TEST(backend_callback_and_kinds) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(8, 4));
    hg_value w = hg_input(g, "w", HG_F32, s2(4, 4));
    hg_value i = hg_cast(g, x, HG_I32);      /* i32 output: refused */
    hg_value ia = hg_add(g, i, i);           /* i32: refused */
    hg_value f = hg_cast(g, ia, HG_F32);     /* reads i32: refused */
    hg_value e = hg_exp(g, f);               /* f32: a LOOP */
    hg_value m = hg_matmul(g, e, w, 0, 0);
    hg_value gl = hg_gelu(g, m);             /* refused for MATMUL: a LOOP */
    hg_value sm = hg_softmax(g, gl);         /* ROW with gl as prologue */
    hg_set_output(g, "sm", sm);
    int calls = 0;
    hg_fuse_opts o;
    hg_fuse_opts_default(&o);
    o.can_fuse = f32_only;
    o.user = &calls;
    hg_schedule s;
    fuse_ok(g, &o, &s);
    HG_CHECK(calls > 0);
    HG_CHECK(kof(&s, i)->kind == HG_KERNEL_OP && kof(&s, ia)->kind == HG_KERNEL_OP);
    HG_CHECK(kof(&s, f)->kind == HG_KERNEL_OP && kof(&s, e)->kind == HG_KERNEL_LOOP);
    HG_CHECK(kof(&s, m)->kind == HG_KERNEL_OP);
    HG_CHECK(kof(&s, sm)->kind == HG_KERNEL_ROW && same_kernel(&s, gl, sm));
    hg_schedule_free(&s);
    /* kinds = 0: the reference schedule */
    o.kinds = 0;
    fuse_ok(g, &o, &s);
    hg_schedule ref;
    HG_CHECK_OK(hg_schedule_nodes(g, &ref));
    HG_CHECK(s.n_kernels == ref.n_kernels);
    for (int k = 0; k < s.n_kernels && k < ref.n_kernels; k++)
        HG_CHECK(s.kernels[k].kind == HG_KERNEL_OP && s.kernels[k].members[0] == ref.kernels[k].members[0]);
    hg_schedule_free(&ref);
    hg_schedule_free(&s);
    /* LOOP only: softmax is an OP kernel */
    o.kinds = 1u << HG_KERNEL_LOOP;
    fuse_ok(g, &o, &s);
    HG_CHECK(kof(&s, sm)->kind == HG_KERNEL_OP && kof(&s, gl)->kind == HG_KERNEL_LOOP);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(order_follows_dependencies_not_ids) {
    /* a = exp(x) and b = tanh(a) + a are one group whose last member comes
     * after r = reshape(a) ... neg(r) (an OP chain reading a): the group
     * must run before the chain, and the chain's consumer after both. */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(2, 8));
    hg_value a = hg_exp(g, x);
    hg_value r = hg_reshape(g, a, hg_shape_of(1, (int64_t)16));
    hg_value b = hg_add(g, hg_tanh(g, a), a);
    hg_value c = hg_reshape(g, b, hg_shape_of(1, (int64_t)16));
    hg_value d = hg_sub(g, c, r);
    hg_set_output(g, "d", d);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(same_kernel(&s, a, b) && s.kernel_of[a] < s.kernel_of[r]);
    HG_CHECK(s.kernel_of[d] > s.kernel_of[c] && s.kernel_of[d] > s.kernel_of[r]);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

/* ---------------------------------------------------------- model graphs */

typedef struct {
    int n_nodes, n_kernels, by_kind[HG_NUM_KERNEL_KINDS];
} counts;

static void check_model(const hg_config *c, const char *kind, counts *ct) {
    hg_model_opts o;
    hg_model_opts_default(&o, c);
    o.norm.box = 10.0;
    hg_model m;
    HG_CHECK_OK(hg_model_build(c, kind, 2, HG_F32, &o, &m));
    hg_schedule s;
    HG_CHECK_OK(hg_fuse(m.g, NULL, &s));
    hg_status st = hg_schedule_check(m.g, &s);
    if (st.code != HG_OK) HG_FAIL("%s: %s", kind, st.msg);
    ct->n_nodes += m.g->n_nodes;
    ct->n_kernels += s.n_kernels;
    for (int k = 0; k < s.n_kernels; k++) ct->by_kind[s.kernels[k].kind]++;
    hg_schedule_free(&s);
    hg_model_free(&m);
}

HG_TEST(model_graphs_fuse_and_check) {
    hg_config c;
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    HG_CHECK_OK(hg_config_load(path, &c));
    const char *kinds[] = {"train", "score", "sample-step", "nelbo", "loss"};
    for (int net = 0; net < 2; net++) {
        c.score = net ? HG_SCORE_GRAPH : HG_SCORE_TRANSFORMER;
        counts ct;
        memset(&ct, 0, sizeof ct);
        for (int k = 0; k < 5; k++) check_model(&c, kinds[k], &ct);
        /* every fusion kind occurs, and fusion removes kernels */
        HG_CHECK(ct.by_kind[HG_KERNEL_LOOP] > 0 && ct.by_kind[HG_KERNEL_MATMUL] > 0);
        if (!net) HG_CHECK(ct.by_kind[HG_KERNEL_ROW] > 0);
        HG_CHECK(ct.n_kernels * 2 < ct.n_nodes);
    }
}

HG_TEST(degenerate_graphs) {
    /* no nodes; rank-0 values; a zero-size iteration space with a sum
     * over it (an empty sum: 0) */
    hg_graph *g = hg_graph_new();
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    HG_CHECK(s.n_kernels == 0);
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan_schedule(g, &s, &p));
    HG_CHECK(p.arena_bytes == 0);
    hg_memplan_free(&p);
    hg_schedule_free(&s);
    hg_graph_free(g);
    g = hg_graph_new();
    hg_value a = hg_input(g, "a", HG_F32, hg_shape_scalar());
    hg_value b = hg_mul(g, hg_exp(g, a), a);
    hg_value z = hg_input(g, "z", HG_F32, s2(0, 4));
    hg_value zs = hg_sum_all(g, hg_tanh(g, z));
    hg_value st = hg_state(g, "st", HG_F32, hg_shape_scalar());
    hg_set_output(g, "b", b);
    hg_set_output(g, "zs", zs);
    hg_set_update(g, st, hg_add(g, st, b));
    fuse_ok(g, NULL, &s);
    HG_CHECK(same_kernel(&s, b, s.kernels[s.kernel_of[b]].members[0]) && kof(&s, b)->kind == HG_KERNEL_LOOP);
    HG_CHECK(kof(&s, zs)->kind == HG_KERNEL_LOOP && kof(&s, zs)->reduce == zs && kof(&s, zs)->n_members == 2);
    HG_CHECK(hg_shape_numel(kof(&s, zs)->space) == 0);
    HG_CHECK_OK(hg_memplan_schedule(g, &s, &p));
    HG_CHECK(p.offset[zs] >= 0 && p.kind[b] != HG_MP_INTERNAL);
    hg_memplan_free(&p);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

HG_TEST(shared_values_are_materialised_once) {
    /* e = exp(x) feeds its own group's tanh and, through a transpose (a
     * shape change), another kernel: no node is recomputed, so e is an
     * output of its group (arena space) while t stays internal */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, s2(4, 6));
    hg_value e = hg_exp(g, x);
    hg_value t = hg_tanh(g, e);
    hg_value y = hg_mul_s(g, t, 3.0);
    const int perm[2] = {1, 0};
    hg_value tr = hg_transpose(g, e, perm);
    hg_set_output(g, "y", y);
    hg_set_output(g, "tr", tr);
    hg_schedule s;
    fuse_ok(g, NULL, &s);
    const hg_kernel *k = kof(&s, e);
    HG_CHECK(same_kernel(&s, e, t) && same_kernel(&s, t, y) && k->n_members == 3);
    HG_CHECK(k->n_outputs == 2 && k->outputs[0] == e && k->outputs[1] == y);
    HG_CHECK(kof(&s, tr)->kind == HG_KERNEL_OP && kof(&s, tr)->inputs[0] == e);
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan_schedule(g, &s, &p));
    HG_CHECK(p.kind[t] == HG_MP_INTERNAL && p.offset[e] >= 0 && p.offset[y] >= 0);
    hg_memplan_free(&p);
    hg_schedule_free(&s);
    hg_graph_free(g);
}
