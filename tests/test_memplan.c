/* Memory planning (passes.h hg_memplan): the plan is checked against an
 * independent liveness computation, exhaustively over all pairs of values
 * (random graphs and every model graph kind of configs/tiny-test.yaml, the
 * transformer and the graph network); in-place reuse on elementwise
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

/* --------------------------------------------------------- random graphs */

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A random graph over shapes [4,8], [8] and [32] of f32. */
static hg_graph *random_graph(uint64_t seed, int n_ops) {
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
        switch (lcg(&s) % 8) {
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
        default:
            if (hg_shape_numel(sa) == 32) r = hg_reshape(g, a, hg_shape_of(2, (int64_t)4, (int64_t)8));
            else r = hg_sigmoid(g, a);
            break;
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
