/* Memory planning (passes.h hg_memplan, hg_memplan_schedule): each plan is
 * checked against an independent liveness computation, exhaustively over
 * all pairs of values (random graphs and every model graph kind of
 * configs/tiny-test.yaml, the transformer and the graph network), for the
 * reference plan (check_plan, node order) and for the plan of every fused
 * schedule (check_sched_plan, kernel order, storage for kernel outputs
 * only, the in-place rules per kernel kind); in-place reuse on elementwise
 * chains, aliases, the ping-pong peak of a chain, peak <= sum. */
#include "tests/hg_test.h"

#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "passes/passes.h"

HG_LABELS(fast)

/* Independent liveness: needed by fixed-point iteration (updated states
 * too: they must be fed), last reader by scanning all needed nodes;
 * outputs/updates live to n. */
typedef struct {
    char *needed;
    int *last;
    int *root;
} live;

static void live_compute(const hg_graph *g, live *L) {
    int n = g->n_nodes;
    L->needed = calloc((size_t)n + 1, 1);
    L->last = malloc(((size_t)n + 1) * sizeof(int));
    L->root = malloc(((size_t)n + 1) * sizeof(int));
    for (int i = 0; i < g->n_outputs; i++) L->needed[g->outputs[i].value] = 1;
    for (int i = 0; i < g->n_updates; i++) L->needed[g->updates[i].value] = 1;
    for (int i = 0; i < g->n_updates; i++) L->needed[g->updates[i].state] = 1; /* must be fed */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int v = 0; v < n; v++)
            if (L->needed[v])
                for (int j = 0; j < g->nodes[v].n_in; j++)
                    if (!L->needed[g->nodes[v].in[j]]) L->needed[g->nodes[v].in[j]] = changed = 1;
    }
    for (int v = 0; v < n; v++) {
        L->last[v] = v;
        for (int w = v + 1; w < n; w++)
            if (L->needed[w])
                for (int j = 0; j < g->nodes[w].n_in; j++)
                    if (g->nodes[w].in[j] == v) L->last[v] = w;
        const hg_node *nd = &g->nodes[v];
        L->root[v] = (nd->op == HG_OP_reshape || nd->op == HG_OP_stop_gradient) ? L->root[nd->in[0]] : v;
    }
    for (int i = 0; i < g->n_outputs; i++) L->last[g->outputs[i].value] = n;
    for (int i = 0; i < g->n_updates; i++) L->last[g->updates[i].value] = n;
}

static void live_free(live *L) {
    free(L->needed);
    free(L->last);
    free(L->root);
}

/* The lifetime of a root's group: its definition to the last use of any
 * value aliasing it. */
static int group_end(const hg_graph *g, const live *L, int r) {
    int e = L->last[r];
    for (int v = r + 1; v < g->n_nodes; v++)
        if (L->needed[v] && L->root[v] == r && L->last[v] > e) e = L->last[v];
    return e;
}

/* Node w may overwrite group r in place: elementwise, reads group r, and
 * every input of w in group r has w's dtype and shape. */
static int inplace_legal(const hg_graph *g, const live *L, int r, int w) {
    const hg_node *nd = &g->nodes[w];
    if (!(hg_op_table[nd->op].flags & HG_OPF_ELEMENTWISE)) return 0;
    int reads = 0;
    for (int j = 0; j < nd->n_in; j++) {
        hg_value u = nd->in[j];
        if (L->root[u] != r) continue;
        reads = 1;
        if (g->nodes[u].dtype != nd->dtype || !hg_shape_eq(g->nodes[u].shape, nd->shape)) return 0;
    }
    return reads;
}

/* Returns the number of violations (printing the first few). */
static int check_plan(const hg_graph *g, const hg_mem_plan *p) {
    live L;
    live_compute(g, &L);
    int n = g->n_nodes, bad = 0;
#define VIOL(...)                                                             \
    do {                                                                      \
        if (bad++ < 5) fprintf(stderr, __VA_ARGS__);                          \
    } while (0)
    int *gend = malloc(((size_t)n + 1) * sizeof(int));
    for (int v = 0; v < n; v++) gend[v] = L.needed[v] && L.root[v] == v ? group_end(g, &L, v) : -1;
    for (int v = 0; v < n; v++) {
        if (p->needed[v] != L.needed[v]) VIOL("%%%d: needed %d, want %d\n", v, p->needed[v], L.needed[v]);
        if (!L.needed[v]) continue;
        if (p->last_use[v] != L.last[v]) VIOL("%%%d: last use %d, want %d\n", v, p->last_use[v], L.last[v]);
        int leafy = (hg_op_table[g->nodes[L.root[v]].op].flags & HG_OPF_LEAF) != 0;
        if (leafy != (p->offset[v] < 0)) VIOL("%%%d: offset %lld for a %s value\n", v, (long long)p->offset[v], leafy ? "leaf" : "computed");
        if (p->offset[v] >= 0 && (p->offset[v] % 64 || p->offset[v] + p->bytes[v] > p->arena_bytes))
            VIOL("%%%d: offset %lld (+%lld) misaligned or past the arena %lld\n", v, (long long)p->offset[v],
                 (long long)p->bytes[v], (long long)p->arena_bytes);
        if (L.root[v] != v && p->offset[v] != p->offset[L.root[v]]) VIOL("%%%d: alias not at its root's offset\n", v);
    }
    /* every pair of computed groups whose bytes intersect */
    for (int u = 0; u < n; u++) {
        if (gend[u] < 0 || p->offset[u] < 0 || p->bytes[u] == 0) continue;
        for (int v = u + 1; v < n; v++) {
            if (gend[v] < 0 || p->offset[v] < 0 || p->bytes[v] == 0) continue;
            int64_t a0 = p->offset[u], a1 = a0 + p->bytes[u], b0 = p->offset[v], b1 = b0 + p->bytes[v];
            if (a1 <= b0 || b1 <= a0) continue;
            /* u's group must be dead before v is written, or die at v with v in place */
            if (gend[u] < v) continue;
            if (gend[u] == v && inplace_legal(g, &L, u, v)) continue;
            VIOL("%%%d [%lld,%lld) live to %d overlaps %%%d [%lld,%lld)\n", u, (long long)a0, (long long)a1,
                 gend[u], v, (long long)b0, (long long)b1);
        }
    }
    if (p->arena_bytes > p->sum_bytes) VIOL("peak %lld > sum %lld\n", (long long)p->arena_bytes, (long long)p->sum_bytes);
    if (p->live_bytes_max > p->arena_bytes) VIOL("live max %lld > peak\n", (long long)p->live_bytes_max);
#undef VIOL
    free(gend);
    live_free(&L);
    return bad;
}

/* ------------------------------------------- plans of fused schedules */

/* Independent facts of schedule s: the kernel of each node, the last
 * kernel reading each value from outside its own kernel (n_kernels for
 * outputs and update values), whether a value is read outside its kernel. */
typedef struct {
    int *def;      /* kernel index defining v; -1 for leaves and unneeded */
    int *last;     /* last kernel reading v from outside; def if none */
    char *stored;  /* read outside its kernel, or an output/update value */
    int *root;
} slive;

static void slive_compute(const hg_graph *g, const hg_schedule *s, slive *L) {
    int n = g->n_nodes, nk = s->n_kernels;
    L->def = malloc(((size_t)n + 1) * sizeof(int));
    L->last = malloc(((size_t)n + 1) * sizeof(int));
    L->stored = calloc((size_t)n + 1, 1);
    L->root = malloc(((size_t)n + 1) * sizeof(int));
    for (int v = 0; v < n; v++) L->def[v] = L->last[v] = -1;
    for (int k = 0; k < nk; k++)
        for (int i = 0; i < s->kernels[k].n_members; i++) L->def[s->kernels[k].members[i]] = k;
    for (int v = 0; v < n; v++) {
        L->last[v] = L->def[v] >= 0 ? L->def[v] : 0;
        const hg_node *nd = &g->nodes[v];
        L->root[v] = (nd->op == HG_OP_reshape || nd->op == HG_OP_stop_gradient) ? L->root[nd->in[0]] : v;
    }
    for (int w = 0; w < n; w++) {
        if (L->def[w] < 0) continue;
        for (int j = 0; j < g->nodes[w].n_in; j++) {
            hg_value u = g->nodes[w].in[j];
            if (L->def[u] == L->def[w]) continue; /* inside one kernel */
            L->stored[u] = 1;
            if (L->last[u] < L->def[w]) L->last[u] = L->def[w];
        }
    }
    for (int i = 0; i < g->n_outputs; i++) L->last[g->outputs[i].value] = nk, L->stored[g->outputs[i].value] = 1;
    for (int i = 0; i < g->n_updates; i++) L->last[g->updates[i].value] = nk, L->stored[g->updates[i].value] = 1;
}

static void slive_free(slive *L) {
    free(L->def);
    free(L->last);
    free(L->stored);
    free(L->root);
}

static int in_kernel(const hg_kernel *K, hg_value v) {
    for (int i = 0; i < K->n_members; i++)
        if (K->members[i] == v) return 1;
    return 0;
}

/* Member w of ROW kernel K is the anchor or depends on it through members. */
static int reads_anchor(const hg_graph *g, const hg_kernel *K, hg_value w) {
    if (w == K->anchor) return 1;
    const hg_node *nd = &g->nodes[w];
    for (int j = 0; j < nd->n_in; j++)
        if (nd->in[j] >= K->anchor && in_kernel(K, nd->in[j]) && reads_anchor(g, K, nd->in[j])) return 1;
    return 0;
}

/* Output w of kernel K may overwrite group r (which dies at K): the
 * kernel kind allows it for w, K reads group r, and every read of group r
 * by a member of K (from outside K) has w's dtype and shape. */
static int sched_inplace_legal(const hg_graph *g, const slive *L, const hg_kernel *K, int r, hg_value w) {
    const hg_node *wn = &g->nodes[w];
    if (K->kind == HG_KERNEL_OP && !(hg_op_table[wn->op].flags & HG_OPF_ELEMENTWISE)) return 0;
    if (K->kind == HG_KERNEL_LOOP && (w == K->reduce || !hg_shape_eq(wn->shape, K->space))) return 0;
    if (K->kind == HG_KERNEL_ROW && !reads_anchor(g, K, w)) return 0;
    if (K->kind == HG_KERNEL_MATMUL || K->kind == HG_KERNEL_MULTI) return 0;
    int reads = 0;
    for (int i = 0; i < K->n_members; i++) {
        const hg_node *nd = &g->nodes[K->members[i]];
        for (int j = 0; j < nd->n_in; j++) {
            hg_value u = nd->in[j];
            if (L->root[u] != r || in_kernel(K, u)) continue;
            reads = 1;
            if (g->nodes[u].dtype != wn->dtype || !hg_shape_eq(g->nodes[u].shape, wn->shape)) return 0;
        }
    }
    return reads;
}

/* Checks plan p of schedule s; returns the number of violations. */
static int check_sched_plan(const hg_graph *g, const hg_schedule *s, const hg_mem_plan *p) {
    slive L;
    slive_compute(g, s, &L);
    int n = g->n_nodes, bad = 0;
#define VIOL(...)                                                             \
    do {                                                                      \
        if (bad++ < 5) fprintf(stderr, __VA_ARGS__);                          \
    } while (0)
    int *gend = malloc(((size_t)n + 1) * sizeof(int));
    for (int v = 0; v < n; v++) gend[v] = -1;
    for (int v = 0; v < n; v++) /* group lifetime: every stored value sharing the root */
        if (L.def[v] >= 0 && L.stored[v] && L.last[v] > gend[L.root[v]]) gend[L.root[v]] = L.last[v];
    for (int v = 0; v < n; v++) {
        if (L.def[v] < 0) continue;
        int leafy = (hg_op_table[g->nodes[L.root[v]].op].flags & HG_OPF_LEAF) != 0;
        if (!L.stored[v]) {
            if (p->offset[v] != -1 || p->kind[v] != HG_MP_INTERNAL) VIOL("%%%d: internal value with storage\n", v);
            continue;
        }
        if (p->last_use[v] != L.last[v]) VIOL("%%%d: last use %d, want %d\n", v, p->last_use[v], L.last[v]);
        if (leafy != (p->offset[v] < 0)) VIOL("%%%d: offset %lld for a %s value\n", v, (long long)p->offset[v], leafy ? "leaf" : "computed");
        if (p->offset[v] >= 0 && (p->offset[v] % 64 || p->offset[v] + p->bytes[v] > p->arena_bytes))
            VIOL("%%%d: offset %lld misaligned or past the arena\n", v, (long long)p->offset[v]);
        if (L.root[v] != v && p->offset[v] != p->offset[L.root[v]]) VIOL("%%%d: alias not at its root's offset\n", v);
    }
    for (int a = 0; a < n; a++) {
        if (gend[a] < 0 || L.root[a] != a || p->offset[a] < 0 || p->bytes[a] == 0) continue;
        for (int b = 0; b < n; b++) {
            if (b == a || gend[b] < 0 || L.root[b] != b || p->offset[b] < 0 || p->bytes[b] == 0) continue;
            if (L.def[a] > L.def[b] || (L.def[a] == L.def[b] && a > b)) continue; /* a first */
            int64_t a0 = p->offset[a], a1 = a0 + p->bytes[a], b0 = p->offset[b], b1 = b0 + p->bytes[b];
            if (a1 <= b0 || b1 <= a0) continue;
            if (gend[a] < L.def[b]) continue;
            if (gend[a] == L.def[b] && L.def[a] < L.def[b] &&
                sched_inplace_legal(g, &L, &s->kernels[L.def[b]], a, b))
                continue;
            VIOL("%%%d [%lld,%lld) kernels %d..%d overlaps %%%d [%lld,%lld) of kernel %d\n", a, (long long)a0,
                 (long long)a1, L.def[a], gend[a], b, (long long)b0, (long long)b1, L.def[b]);
        }
    }
    if (p->arena_bytes > p->sum_bytes) VIOL("peak %lld > sum %lld\n", (long long)p->arena_bytes, (long long)p->sum_bytes);
    if (p->live_bytes_max > p->arena_bytes) VIOL("live max %lld > peak\n", (long long)p->live_bytes_max);
#undef VIOL
    free(gend);
    slive_free(&L);
    return bad;
}

/* Fuses g (defaults), plans, checks, also the reference schedule through
 * the same checker; returns the violations (a failed call counts 1000).
 * The fused plan goes to *p_out when p_out is not NULL. */
static int fused_plan_violations(const hg_graph *g, hg_mem_plan *p_out) {
#define TRY_OR_COUNT(expr)                                                    \
    do {                                                                      \
        hg_status st_ = (expr);                                               \
        if (st_.code != HG_OK) {                                              \
            fprintf(stderr, "%s: %s\n", #expr, st_.msg);                      \
            return 1000;                                                      \
        }                                                                     \
    } while (0)
    hg_schedule s, r;
    hg_mem_plan p, q;
    TRY_OR_COUNT(hg_fuse(g, NULL, &s));
    TRY_OR_COUNT(hg_schedule_check(g, &s));
    TRY_OR_COUNT(hg_memplan_schedule(g, &s, &p));
    int bad = check_sched_plan(g, &s, &p);
    TRY_OR_COUNT(hg_schedule_nodes(g, &r));
    TRY_OR_COUNT(hg_memplan_schedule(g, &r, &q));
    bad += check_sched_plan(g, &r, &q);
#undef TRY_OR_COUNT
    hg_memplan_free(&q);
    hg_schedule_free(&r);
    hg_schedule_free(&s);
    if (p_out) *p_out = p;
    else hg_memplan_free(&p);
    return bad;
}

/* ------------------------------------------------------------ hand cases */

HG_TEST(inplace_elementwise_chain) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)1000));
    hg_value a = hg_exp(g, x);    /* fresh block (x is the caller's) */
    hg_value b = hg_tanh(g, a);   /* a dies here: in place */
    hg_value c = hg_neg(g, b);    /* b dies here: in place */
    hg_value d = hg_add(g, c, c); /* both inputs the same block, same shape */
    hg_set_output(g, "d", d);
    HG_CHECK_OK(hg_graph_status(g));
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan(g, &p));
    HG_CHECK(p.kind[x] == HG_MP_EXTERNAL && p.offset[x] == -1);
    HG_CHECK(p.kind[a] == HG_MP_OWN);
    HG_CHECK(p.kind[b] == HG_MP_INPLACE && p.kind[c] == HG_MP_INPLACE && p.kind[d] == HG_MP_INPLACE);
    HG_CHECK(p.offset[b] == p.offset[a] && p.offset[c] == p.offset[a] && p.offset[d] == p.offset[a]);
    HG_CHECK(p.n_blocks == 1 && p.n_inplace == 3);
    HG_CHECK(p.arena_bytes == 4032);     /* 4000 bytes rounded up to 64 */
    HG_CHECK(p.sum_bytes == 4 * 4032);   /* four separate buffers */
    HG_CHECK(check_plan(g, &p) == 0);
    hg_memplan_free(&p);
    hg_graph_free(g);
}

HG_TEST(inplace_refused_when_input_lives_on) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)8, (int64_t)8));
    hg_value a = hg_exp(g, x);
    hg_value b = hg_tanh(g, a);            /* a is read again below: not in place */
    hg_value r = hg_reshape(g, b, hg_shape_of(1, (int64_t)64)); /* alias of b */
    hg_value c = hg_neg(g, b);             /* b's alias r lives on: not in place */
    hg_value d = hg_add(g, a, c);          /* a dies here: in place */
    hg_value row = hg_slice_axis(g, d, 0, 0, 1);       /* [1, 8] */
    hg_value e = hg_mul(g, row, d);        /* row broadcast, d dies: in place on d */
    hg_value f = hg_cast(g, e, HG_F64);    /* not elementwise: own block */
    hg_set_output(g, "r", r);
    hg_set_output(g, "f", f);
    HG_CHECK_OK(hg_graph_status(g));
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan(g, &p));
    HG_CHECK(p.kind[b] == HG_MP_OWN);
    HG_CHECK(p.kind[r] == HG_MP_ALIAS && p.offset[r] == p.offset[b]);
    HG_CHECK(p.kind[c] == HG_MP_OWN && p.offset[c] != p.offset[b]);
    HG_CHECK(p.kind[d] == HG_MP_INPLACE && p.offset[d] == p.offset[a]);
    HG_CHECK(p.kind[e] == HG_MP_INPLACE && p.offset[e] == p.offset[d]);
    HG_CHECK(p.kind[f] == HG_MP_OWN);
    HG_CHECK(p.last_use[r] == g->n_nodes && p.last_use[b] == c);
    HG_CHECK(check_plan(g, &p) == 0);
    hg_memplan_free(&p);
    hg_graph_free(g);
}

HG_TEST(broadcast_input_not_overwritten) {
    /* y = x_row + m with x_row [1, 16] broadcast to [16, 16]: x_row's block
     * is smaller, m (dies here, same shape) may be taken; a broadcast read
     * of the block being overwritten is never allowed. */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)16, (int64_t)16));
    hg_value m = hg_exp(g, x);
    hg_value row = hg_slice_axis(g, m, 0, 3, 1); /* [1, 16], own block */
    hg_value sq = hg_square(g, row);             /* in place on row's block */
    hg_value y = hg_add(g, sq, m);               /* sq broadcast; m dies: in place on m */
    hg_set_output(g, "y", y);
    HG_CHECK_OK(hg_graph_status(g));
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan(g, &p));
    HG_CHECK(p.kind[sq] == HG_MP_INPLACE && p.offset[sq] == p.offset[row]);
    HG_CHECK(p.kind[y] == HG_MP_INPLACE && p.offset[y] == p.offset[m]);
    HG_CHECK(check_plan(g, &p) == 0);
    hg_memplan_free(&p);
    hg_graph_free(g);
}

HG_TEST(chain_ping_pong_peak) {
    /* ten transposes of an [8, 8] f32 matrix (256 bytes each): each one
     * reads the previous, so two blocks alternate: peak 512, sum 2560 */
    hg_graph *g = hg_graph_new();
    hg_value v = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)8, (int64_t)8));
    const int perm[2] = {1, 0};
    for (int i = 0; i < 10; i++) v = hg_transpose(g, v, perm);
    hg_set_output(g, "y", v);
    HG_CHECK_OK(hg_graph_status(g));
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan(g, &p));
    HG_CHECK(p.n_blocks == 10 && p.n_inplace == 0);
    HG_CHECK(p.arena_bytes == 512);
    HG_CHECK(p.sum_bytes == 2560);
    HG_CHECK(p.live_bytes_max == 512);
    HG_CHECK(check_plan(g, &p) == 0);
    hg_memplan_free(&p);
    hg_graph_free(g);
}

HG_TEST(leaf_alias_and_unused) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)6));
    hg_value s = hg_state(g, "s", HG_F32, hg_shape_of(1, (int64_t)6));
    hg_value dead = hg_exp(g, x); /* nothing needs it */
    hg_value r = hg_reshape(g, x, hg_shape_of(2, (int64_t)2, (int64_t)3));
    hg_value e = hg_exp(g, r);    /* r aliases the caller's x: never in place */
    hg_set_output(g, "e", e);
    hg_set_update(g, s, hg_add(g, s, x));
    HG_CHECK_OK(hg_graph_status(g));
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan(g, &p));
    HG_CHECK(!p.needed[dead] && p.kind[dead] == HG_MP_UNUSED);
    HG_CHECK(p.kind[r] == HG_MP_ALIAS && p.offset[r] == -1 && p.root[r] == x);
    HG_CHECK(p.kind[e] == HG_MP_OWN && p.offset[e] >= 0);
    HG_CHECK(p.needed[s] && p.kind[s] == HG_MP_EXTERNAL);
    HG_CHECK(check_plan(g, &p) == 0);
    hg_memplan_free(&p);
    hg_graph_free(g);
}

HG_TEST(schedule_internal_values_get_no_space) {
    /* one LOOP kernel exp -> tanh -> neg -> sum over [1000]: only the
     * rank-0 sum is stored (64 bytes); the reference plan stores a chain */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)1000));
    hg_value a = hg_exp(g, x), b = hg_tanh(g, a), c = hg_neg(g, b);
    hg_value y = hg_sum_all(g, c);
    hg_set_output(g, "y", y);
    HG_CHECK_OK(hg_graph_status(g));
    hg_mem_plan p;
    HG_CHECK(fused_plan_violations(g, &p) == 0);
    HG_CHECK(p.kind[a] == HG_MP_INTERNAL && p.kind[b] == HG_MP_INTERNAL && p.kind[c] == HG_MP_INTERNAL);
    HG_CHECK(p.offset[a] == -1 && p.block[c] == -1);
    HG_CHECK(p.kind[y] == HG_MP_OWN && p.arena_bytes == 64 && p.sum_bytes == 64 && p.n_steps == 1);
    HG_CHECK(p.last_use[y] == 1 && p.last_use[x] == 0);
    hg_memplan_free(&p);
    hg_mem_plan q;
    HG_CHECK_OK(hg_memplan(g, &q));
    HG_CHECK(q.arena_bytes == 4032 + 64 && q.n_steps == g->n_nodes); /* a, b, c in place; y */
    hg_memplan_free(&q);
    hg_graph_free(g);
}

/* A schedule of g with the given kernels (member lists, kinds, anchors). */
typedef struct {
    hg_kernel_kind kind;
    int n;
    hg_value mem[4];
    hg_value anchor, reduce;
} kspec;

static void make_schedule(const hg_graph *g, const kspec *ks, int nk, hg_schedule *s) {
    char *needed = hg_schedule_needed(g);
    s->n_nodes = g->n_nodes;
    s->n_kernels = nk;
    s->kernels = calloc((size_t)nk, sizeof *s->kernels);
    s->kernel_of = malloc(sizeof(int) * (size_t)g->n_nodes);
    for (int v = 0; v < g->n_nodes; v++) s->kernel_of[v] = -1;
    for (int k = 0; k < nk; k++) {
        hg_kernel *K = &s->kernels[k];
        K->kind = ks[k].kind;
        K->n_members = ks[k].n;
        K->members = malloc(sizeof(hg_value) * (size_t)ks[k].n);
        memcpy(K->members, ks[k].mem, sizeof(hg_value) * (size_t)ks[k].n);
        K->anchor = ks[k].anchor;
        K->reduce = ks[k].reduce;
        K->space = g->nodes[ks[k].kind == HG_KERNEL_LOOP || ks[k].kind == HG_KERNEL_OP ? ks[k].mem[0] : ks[k].anchor].shape;
        for (int i = 0; i < ks[k].n; i++) s->kernel_of[ks[k].mem[i]] = k;
        HG_CHECK_OK(hg_kernel_fill_io(g, needed, K));
    }
    free(needed);
    HG_CHECK_OK(hg_schedule_check(g, s));
}

HG_TEST(schedule_inplace_rules_per_kind) {
    /* m = x w (OP); L = loop{t = tanh(m), u = t * 2}: m dies there, same
     * shape: u takes m's block. R = row{p = exp(u) (prologue, also read
     * by `o`), sm = softmax(p)}: p is written before the anchor: own block
     * although u dies; the anchor sm takes u's block (u is read in the
     * row's first pass only), not p's (p lives on).
     * M = matmul{mm = sm w2, r = mm + res}: res dies there with r's shape,
     * but a MATMUL kernel never works in place. */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)16, (int64_t)8));
    hg_value w = hg_input(g, "w", HG_F32, hg_shape_of(2, (int64_t)8, (int64_t)16));
    hg_value w2 = hg_input(g, "w2", HG_F32, hg_shape_of(2, (int64_t)16, (int64_t)16));
    hg_value m = hg_matmul(g, x, w, 0, 0);
    hg_value t = hg_tanh(g, m);
    hg_value u = hg_mul_s(g, t, 2.0);
    hg_value res = hg_sigmoid(g, u);      /* kernel of its own: read by r */
    hg_value p = hg_exp(g, u);
    hg_value sm = hg_softmax(g, p);
    hg_value mm = hg_matmul(g, sm, w2, 0, 0);
    hg_value r = hg_add(g, mm, res);
    hg_value o = hg_add(g, r, p);
    hg_set_output(g, "o", o);
    HG_CHECK_OK(hg_graph_status(g));
    /* the constant 2 of mul_s is a leaf */
    kspec ks[] = {
        {HG_KERNEL_OP, 1, {m}, HG_NONE, HG_NONE},
        {HG_KERNEL_LOOP, 2, {t, u}, HG_NONE, HG_NONE},
        {HG_KERNEL_LOOP, 1, {res}, HG_NONE, HG_NONE},
        {HG_KERNEL_ROW, 2, {p, sm}, sm, HG_NONE},
        {HG_KERNEL_MATMUL, 2, {mm, r}, mm, HG_NONE},
        {HG_KERNEL_LOOP, 1, {o}, HG_NONE, HG_NONE},
    };
    hg_schedule s;
    make_schedule(g, ks, 6, &s);
    hg_mem_plan pl;
    HG_CHECK_OK(hg_memplan_schedule(g, &s, &pl));
    HG_CHECK(check_sched_plan(g, &s, &pl) == 0);
    HG_CHECK(pl.kind[t] == HG_MP_INTERNAL);
    HG_CHECK(pl.kind[u] == HG_MP_INPLACE && pl.offset[u] == pl.offset[m]);
    HG_CHECK(pl.kind[p] == HG_MP_OWN);   /* prologue: written before the anchor */
    HG_CHECK(pl.kind[sm] == HG_MP_INPLACE && pl.offset[sm] == pl.offset[u] && pl.offset[sm] != pl.offset[p]);
    HG_CHECK(pl.kind[r] == HG_MP_OWN && pl.offset[r] != pl.offset[res]); /* MATMUL */
    HG_CHECK(pl.kind[o] == HG_MP_INPLACE); /* r and p both die at o: takes one */
    HG_CHECK(pl.last_use[u] == 3 && pl.last_use[p] == 5 && pl.last_use[o] == 6);
    /* the checker refuses a MATMUL output moved onto its dying residual */
    int64_t keep = pl.offset[r];
    pl.offset[r] = pl.offset[res];
    HG_CHECK(check_sched_plan(g, &s, &pl) > 0);
    pl.offset[r] = keep;
    hg_memplan_free(&pl);
    hg_schedule_free(&s);
    /* a ROW kernel without an outside reader of its prologue: the anchor
     * takes the block of its dying input */
    hg_graph *h = hg_graph_new();
    hg_value hx = hg_input(h, "x", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)32));
    hg_value he = hg_exp(h, hx);          /* OP-kernel-like LOOP of its own */
    hg_value hs = hg_softmax(h, he);
    hg_value hy = hg_mul(h, hs, hx);      /* epilogue: reads the anchor */
    hg_set_output(h, "y", hy);
    kspec hk[] = {{HG_KERNEL_LOOP, 1, {he}, HG_NONE, HG_NONE}, {HG_KERNEL_ROW, 2, {hs, hy}, hs, HG_NONE}};
    make_schedule(h, hk, 2, &s);
    HG_CHECK_OK(hg_memplan_schedule(h, &s, &pl));
    HG_CHECK(check_sched_plan(h, &s, &pl) == 0);
    HG_CHECK(pl.kind[hs] == HG_MP_INTERNAL && pl.kind[hy] == HG_MP_INPLACE && pl.offset[hy] == pl.offset[he]);
    HG_CHECK(pl.arena_bytes == 512);
    hg_memplan_free(&pl);
    hg_schedule_free(&s);
    hg_graph_free(h);
    hg_graph_free(g);
}

HG_TEST(schedule_checker_catches_overlap) {
    /* the checker itself: a plan with two live outputs moved onto one
     * offset is refused */
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)64));
    hg_value a = hg_exp(g, x), b = hg_tanh(g, x);
    hg_value c = hg_reshape(g, a, hg_shape_of(2, (int64_t)8, (int64_t)8));
    hg_value d = hg_reshape(g, b, hg_shape_of(2, (int64_t)8, (int64_t)8));
    hg_set_output(g, "c", c);
    hg_set_output(g, "d", d);
    HG_CHECK_OK(hg_graph_status(g));
    hg_schedule s;
    HG_CHECK_OK(hg_fuse(g, NULL, &s));
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan_schedule(g, &s, &p));
    HG_CHECK(check_sched_plan(g, &s, &p) == 0);
    HG_CHECK(p.offset[a] != p.offset[b]);
    p.offset[b] = p.offset[d] = p.offset[a];
    HG_CHECK(check_sched_plan(g, &s, &p) > 0);
    hg_memplan_free(&p);
    hg_schedule_free(&s);
    hg_graph_free(g);
}

/* --------------------------------------------------------- random graphs */

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A random graph over shapes [4,8], [8] and [32] of f32; with `rich`, also
 * softmax, layer_norm, gelu, matmul epilogues and trailing means (for the
 * fusion kinds). */
static hg_graph *random_graph_k(uint64_t seed, int n_ops, int rich) {
    hg_graph *g = hg_graph_new();
    hg_value vals[256];
    int nv = 0;
    vals[nv++] = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)4, (int64_t)8));
    vals[nv++] = hg_input(g, "y", HG_F32, hg_shape_of(1, (int64_t)8));
    vals[nv++] = hg_state(g, "w", HG_F32, hg_shape_of(2, (int64_t)8, (int64_t)4));
    uint64_t s = seed;
    for (int i = 0; i < n_ops && nv < 250; i++) {
        hg_value a = vals[lcg(&s) % (uint64_t)nv], b = vals[lcg(&s) % (uint64_t)nv];
        hg_shape sa = hg_value_shape(g, a), sb = hg_value_shape(g, b), t;
        hg_value r = HG_NONE;
        switch (lcg(&s) % (rich ? 12 : 8)) {
        case 0: r = hg_exp(g, hg_mul_s(g, a, 0.1)); break;
        case 1: r = hg_tanh(g, a); break;
        case 2:
            if (hg_shape_broadcast(sa, sb, &t) == 0) r = hg_add(g, a, b);
            else r = hg_neg(g, a);
            break;
        case 3: r = hg_reshape(g, a, hg_shape_of(1, hg_shape_numel(sa))); break;
        case 4: r = hg_stop_gradient(g, a); break;
        case 5: {
            int ax = 0;
            r = hg_reduce(g, HG_OP_sum, a, sa.rank ? 1 : 0, &ax, 0);
        } break;
        case 6:
            if (sa.rank == 2 && sb.rank == 2 && sa.dim[1] == sb.dim[0]) r = hg_matmul(g, a, b, 0, 0);
            else if (hg_shape_numel(sa) == 32) r = hg_reshape(g, a, hg_shape_of(2, (int64_t)8, (int64_t)4));
            else r = hg_square(g, a);
            break;
        case 7:
            if (hg_shape_numel(sa) == 32) r = hg_reshape(g, a, hg_shape_of(2, (int64_t)4, (int64_t)8));
            else r = hg_sigmoid(g, a);
            break;
        case 8: r = sa.rank ? hg_softmax(g, a) : hg_exp(g, a); break;
        case 9: r = sa.rank ? hg_layer_norm(g, a, 1e-5) : hg_gelu(g, a); break;
        case 10:
            if (sa.rank == 2 && sa.dim[1] == 8) {
                hg_value mmv = hg_matmul(g, a, vals[2], 0, 0); /* [4|8, 4] */
                r = hg_gelu(g, hg_mul_s(g, mmv, 0.5)); /* scale, gelu epilogue */
            } else r = hg_gelu(g, a);
            break;
        default: {
            int ax = sa.rank ? sa.rank - 1 : 0;
            r = hg_reduce(g, HG_OP_mean, hg_mul(g, a, a), sa.rank ? 1 : 0, &ax, (int)(lcg(&s) % 2));
        } break;
        }
        if (r != HG_NONE) vals[nv++] = r;
    }
    /* a few outputs and an update of w when a value has its shape */
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof name, "o%d", k);
        hg_set_output(g, name, vals[nv - 1 - (int)(lcg(&s) % (uint64_t)(nv / 2))]);
    }
    for (int k = nv - 1; k >= 3; k--)
        if (hg_shape_eq(hg_value_shape(g, vals[k]), hg_shape_of(2, (int64_t)8, (int64_t)4))) {
            hg_set_update(g, vals[2], vals[k]);
            break;
        }
    return g;
}

static hg_graph *random_graph(uint64_t seed, int n_ops) { return random_graph_k(seed, n_ops, 0); }

HG_TEST(random_graphs_fused_no_overlap) {
    int kinds[HG_NUM_KERNEL_KINDS] = {0};
    for (uint64_t seed = 1; seed <= 80; seed++) {
        hg_graph *g = random_graph_k(seed, 20 + (int)(seed % 5) * 20, (int)(seed % 2));
        HG_CHECK_OK(hg_graph_status(g));
        HG_CHECK_OK(hg_verify(g));
        int bad = fused_plan_violations(g, NULL);
        if (bad) HG_FAIL("seed %llu: %d violations", (unsigned long long)seed, bad);
        hg_schedule s;
        HG_CHECK_OK(hg_fuse(g, NULL, &s));
        for (int k = 0; k < s.n_kernels; k++) kinds[s.kernels[k].kind] += s.kernels[k].n_members > 1;
        hg_schedule_free(&s);
        hg_graph_free(g);
    }
    /* the checks saw every fusion kind */
    HG_CHECK(kinds[HG_KERNEL_LOOP] > 0 && kinds[HG_KERNEL_ROW] > 0 && kinds[HG_KERNEL_MATMUL] > 0);
}

HG_TEST(random_graphs_no_overlap) {
    int total_inplace = 0, total_alias = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        hg_graph *g = random_graph(seed, 20 + (int)(seed % 5) * 20);
        HG_CHECK_OK(hg_graph_status(g));
        HG_CHECK_OK(hg_verify(g));
        hg_mem_plan p;
        HG_CHECK_OK(hg_memplan(g, &p));
        int bad = check_plan(g, &p);
        if (bad) HG_FAIL("seed %llu: %d violations", (unsigned long long)seed, bad);
        total_inplace += p.n_inplace;
        total_alias += p.n_alias;
        hg_memplan_free(&p);
        hg_graph_free(g);
    }
    HG_CHECK(total_inplace > 0 && total_alias > 0); /* the checks saw both */
}

/* ---------------------------------------------------------- model graphs */

static void check_model(const hg_config *c, const char *kind, const char *what) {
    hg_model_opts o;
    hg_model_opts_default(&o, c);
    o.norm.box = 10.0;
    hg_model m;
    HG_CHECK_OK(hg_model_build(c, kind, 2, HG_F32, &o, &m));
    hg_mem_plan p;
    HG_CHECK_OK(hg_memplan(m.g, &p));
    int bad = check_plan(m.g, &p);
    if (bad) HG_FAIL("%s %s: %d violations", what, kind, bad);
    HG_CHECK(p.arena_bytes < p.sum_bytes);
    if (!strcmp(kind, "train")) HG_CHECK(p.n_inplace > 0); /* backward chains of elementwise ops */
    hg_mem_plan fp;
    bad = fused_plan_violations(m.g, &fp);
    if (bad) HG_FAIL("%s %s fused: %d violations", what, kind, bad);
    HG_CHECK(fp.sum_bytes < p.sum_bytes); /* internal values get no space */
    hg_memplan_free(&fp);
    hg_memplan_free(&p);
    hg_model_free(&m);
}

static const char *const kinds[] = {"train", "loss", "score", "sample-step", "sample-decode", "nelbo"};

HG_TEST(model_graphs_transformer) {
    hg_config c;
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    HG_CHECK_OK(hg_config_load(path, &c));
    for (int k = 0; k < 6; k++) check_model(&c, kinds[k], "transformer");
}

HG_TEST(model_graphs_graph_network) {
    hg_config c;
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    HG_CHECK_OK(hg_config_load(path, &c));
    c.score = HG_SCORE_GRAPH;
    for (int k = 0; k < 6; k++) check_model(&c, kinds[k], "graph network");
}
