/* Fusion (passes/schedule.h hg_fuse): the needed nodes of a graph grouped
 * into kernels (issue 11 "Fusion"; DESIGN.md "Data flow").
 *
 * One greedy sweep over the nodes in definition order; every node starts
 * as its own group and joins (or merges) the groups of its inputs when the
 * rules below allow it. The classes:
 *   elementwise-class  HG_OPF_ELEMENTWISE ops, broadcast_to, cast, random_*
 *                      (output element i depends on input elements at i
 *                      after numpy broadcasting; a random op's Philox
 *                      counter is the element index, so a fused kernel
 *                      draws exactly the numbers the reference draws);
 *   reduction          sum, mean, max;
 *   row anchor         softmax, layer_norm (over the last axis);
 *   matmul anchor      matmul.
 *
 * What fuses:
 *  L1 An elementwise-class node v of shape S joins the LOOP group of an
 *     input u when u has shape S and the group's iteration space is S.
 *     Several such input groups merge into one (v is then their join).
 *  L2 An elementwise-class node whose inputs are leaves, of another shape
 *     (broadcast), or in groups it may not join starts a LOOP group of its
 *     own space; a LOOP group of one member is still a LOOP kernel (the JIT
 *     compiles it; the memory traffic is the same as the op's).
 *  L3 A sum/mean/max over a contiguous run of leading or trailing axes
 *     (all axes included) whose input is a member of an open LOOP group
 *     joins it as its trailing reduction; the group is then closed: nothing
 *     else joins it. The reduction is therefore the last member and no
 *     member reads it: a reduction never feeds a broadcast in its own group
 *     (that would need the complete reduced value before the loop that
 *     reads it, i.e. two loop nests; softmax's x - max(x) is the classic
 *     case: max closes the group of x, the sub starts the next one).
 *     Reductions over interior axes, or of a value not in an open LOOP
 *     group, are OP kernels.
 *  R1 A softmax/layer_norm whose input is a member of an open LOOP group of
 *     the anchor's shape turns that group into a ROW group (the group
 *     becomes the prologue), else it starts a ROW group of its own.
 *  R2 An elementwise-class node of the ROW group's shape joins it by L1's
 *     rule (epilogue: the scale and shift after a layer norm, the residual
 *     add); an open LOOP group of that shape read by the same node merges
 *     in. Two ROW groups never merge (one anchor per row kernel).
 *  M1 A matmul starts a MATMUL group. An add, mul or gelu_tanh of the
 *     matmul's shape joins it as the next epilogue step when it reads the
 *     group's last member t, t is read by nothing else and is no graph
 *     output or update value (only the last member is an output), and its
 *     other input is not a member (bias, residual, scale from outside;
 *     broadcast allowed). So the pre-activation the backward pass of gelu
 *     reads stops the chain before the gelu: the gelu then starts a LOOP
 *     group. A matmul left without an epilogue is an OP kernel. M1 is
 *     tried before L1 (a residual add reading a matmul and a LOOP member
 *     becomes a oneDNN post-op).
 *  Every join and merge also needs opts->kinds to enable the kind and
 *  opts->can_fuse to accept each member for that kind (when a LOOP group
 *  becomes a ROW prologue, every member is asked again for ROW).
 *
 * What cannot fuse, and why:
 *  - shape changes: reshape, transpose, slice, concat, pad, gather,
 *    scatter, iota, knn are OP kernels, and an elementwise node never joins
 *    a group of another iteration space (a broadcast input is read from
 *    memory, not recomputed: the loop nest has one shape);
 *  - a reduction that feeds a broadcast in the same group (L3);
 *  - cycles: a join or merge is refused when a path leaves the group and
 *    comes back through an outside kernel (the kernel would have to run
 *    both before and after that kernel). Checked on groups: backward
 *    search from one group's inputs for the other, pruned below the other
 *    group's first member.
 *  - recomputation: a node is in exactly one kernel, so a value read by
 *    several groups is computed once and materialised (it becomes an
 *    output of its group and gets arena space). Duplicating cheap
 *    producers into each consumer group would save that traffic but needs
 *    new nodes in the graph; not done.
 * Order: kernels are sorted topologically over the group graph (Kahn's
 * algorithm, the ready kernel with the smallest last-member id first, so
 * the order stays close to the definition order the memory plan is tuned
 * on). The result passes hg_schedule_check. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

typedef struct {
    hg_kernel_kind kind;
    hg_value *mem;
    int n, cap;
    hg_value minid, maxid;
    hg_value reduce, anchor;
    hg_shape space;
    int closed; /* LOOP with its reduction: nothing more joins */
} group;

typedef struct {
    const hg_graph *g;
    hg_fuse_opts o;
    char *needed;
    char *is_out;   /* graph output or update value */
    int *ustart;    /* CSR of needed readers: users of v are users[ustart[v]..ustart[v+1]) */
    hg_value *users;
    int *gid;       /* node -> group index (-1: leaf or not needed) */
    group *gr;      /* indexed like nodes; a merged-away group has n == 0 */
    int *stamp, cur;
    int *stack;
} fuser;

void hg_fuse_opts_default(hg_fuse_opts *o) {
    o->kinds = HG_FUSE_ALL_KINDS;
    o->can_fuse = NULL;
    o->user = NULL;
}

static int is_leaf(const hg_graph *g, hg_value v) {
    return (hg_op_table[g->nodes[v].op].flags & HG_OPF_LEAF) != 0;
}

static int is_ew_class(hg_op op) {
    unsigned f = hg_op_table[op].flags;
    return (f & (HG_OPF_ELEMENTWISE | HG_OPF_RANDOM)) || op == HG_OP_broadcast_to ||
           op == HG_OP_cast;
}

static int kind_on(const fuser *F, hg_kernel_kind k) { return (F->o.kinds >> k) & 1u; }

static int can(const fuser *F, hg_kernel_kind k, hg_value v) {
    if (!kind_on(F, k)) return 0;
    return F->o.can_fuse ? F->o.can_fuse(F->o.user, k, F->g, v) != 0 : 1;
}

/* ------------------------------------------------------------ groups */

static hg_status push_member(group *G, hg_value v) {
    if (G->n == G->cap) {
        int cap = G->cap ? 2 * G->cap : 4;
        hg_value *m = realloc(G->mem, sizeof *m * (size_t)cap);
        if (!m) return hg_error(HG_ERR_NOMEM, "fuse: group members");
        G->mem = m;
        G->cap = cap;
    }
    G->mem[G->n++] = v;
    if (v < G->minid) G->minid = v;
    if (v > G->maxid) G->maxid = v;
    return hg_ok();
}

/* Moves every member of group b into group a. */
static hg_status merge_into(fuser *F, int a, int b) {
    group *B = &F->gr[b];
    for (int i = 0; i < B->n; i++) {
        HG_TRY(push_member(&F->gr[a], B->mem[i]));
        F->gid[B->mem[i]] = a;
    }
    if (B->reduce != HG_NONE) F->gr[a].reduce = B->reduce;
    if (B->anchor != HG_NONE) F->gr[a].anchor = B->anchor;
    B->n = 0;
    return hg_ok();
}

/* 1 if a path leaves group `from` and reaches group `to` through at least
 * one other group (backward search from `to`'s inputs). */
static int reaches_via_outside(fuser *F, int from, int to) {
    const hg_graph *g = F->g;
    hg_value lo = F->gr[from].minid;
    int cur = ++F->cur, sp = 0;
    F->stamp[to] = cur;
    F->stamp[from] = cur; /* direct edges from -> to are fine */
    const group *T = &F->gr[to];
    for (int i = 0; i < T->n; i++) {
        const hg_node *nd = &g->nodes[T->mem[i]];
        for (int j = 0; j < nd->n_in; j++) {
            int c = F->gid[nd->in[j]];
            if (c < 0 || F->stamp[c] == cur || F->gr[c].maxid < lo) continue;
            F->stamp[c] = cur;
            F->stack[sp++] = c;
        }
    }
    while (sp > 0) {
        const group *C = &F->gr[F->stack[--sp]];
        for (int i = 0; i < C->n; i++) {
            const hg_node *nd = &g->nodes[C->mem[i]];
            for (int j = 0; j < nd->n_in; j++) {
                int c = F->gid[nd->in[j]];
                if (c == from) return 1;
                if (c < 0 || F->stamp[c] == cur || F->gr[c].maxid < lo) continue;
                F->stamp[c] = cur;
                F->stack[sp++] = c;
            }
        }
    }
    return 0;
}

static int merge_makes_cycle(fuser *F, int a, int b) {
    return reaches_via_outside(F, a, b) || reaches_via_outside(F, b, a);
}

/* ------------------------------------------------------------- rules */

/* L3: axes a contiguous run of leading or trailing axes (or all axes). */
static int reduce_axes_ok(const hg_node *r, int rank) {
    int na = r->attrs.naxes;
    if (na == 0 || na == rank) return 1;
    char on[HG_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = r->attrs.axes[i];
        if (a < 0) a += rank;
        if (a < 0 || a >= rank) return 0;
        on[a] = 1;
    }
    int lead = 1, trail = 1;
    for (int i = 0; i < na; i++) lead &= on[i], trail &= on[rank - 1 - i];
    return lead || trail;
}

static int open_loop(const group *G, hg_shape s) {
    return G->kind == HG_KERNEL_LOOP && !G->closed && hg_shape_eq(G->space, s);
}

/* Every member of G accepted by can_fuse for kind k. */
static int all_can(const fuser *F, const group *G, hg_kernel_kind k) {
    for (int i = 0; i < G->n; i++)
        if (G->mem[i] != G->anchor && !can(F, k, G->mem[i])) return 0;
    return 1;
}

static int n_users(const fuser *F, hg_value v) { return F->ustart[v + 1] - F->ustart[v]; }

/* M1: the MATMUL group v may extend as its next epilogue step, or -1. */
static int matmul_epilogue(fuser *F, hg_value v) {
    const hg_node *nd = &F->g->nodes[v];
    if (nd->op != HG_OP_add && nd->op != HG_OP_mul && nd->op != HG_OP_gelu_tanh) return -1;
    if (!can(F, HG_KERNEL_MATMUL, v)) return -1;
    for (int j = 0; j < nd->n_in; j++) {
        hg_value u = nd->in[j];
        int gi = F->gid[u];
        if (gi < 0) continue;
        const group *G = &F->gr[gi];
        if (G->kind != HG_KERNEL_MATMUL || G->maxid != u || F->is_out[u] || n_users(F, u) != 1)
            continue;
        if (!hg_shape_eq(nd->shape, G->space)) continue;
        int other_in_group = 0;
        for (int k = 0; k < nd->n_in; k++)
            if (k != j && F->gid[nd->in[k]] == gi) other_in_group = 1;
        if (other_in_group) continue;
        if (merge_makes_cycle(F, gi, v)) continue;
        return gi;
    }
    return -1;
}

/* The groups v may join by L1/R2: open LOOP or ROW groups of v's shape
 * holding one of v's inputs of v's shape. */
static int joinable(fuser *F, hg_value v, int gi) {
    const group *G = &F->gr[gi];
    hg_shape s = F->g->nodes[v].shape;
    if (open_loop(G, s)) return can(F, HG_KERNEL_LOOP, v);
    if (G->kind == HG_KERNEL_ROW && hg_shape_eq(G->space, s)) return can(F, HG_KERNEL_ROW, v);
    return 0;
}

/* May groups a (holding v now) and b merge (L1/R2)? */
static int mergeable(fuser *F, int a, int b) {
    const group *A = &F->gr[a], *B = &F->gr[b];
    if (!hg_shape_eq(A->space, B->space)) return 0;
    if (A->kind == HG_KERNEL_LOOP && B->kind == HG_KERNEL_LOOP) return !A->closed && !B->closed;
    if (A->kind == HG_KERNEL_ROW && B->kind == HG_KERNEL_LOOP)
        return !B->closed && all_can(F, B, HG_KERNEL_ROW);
    if (A->kind == HG_KERNEL_LOOP && B->kind == HG_KERNEL_ROW)
        return !A->closed && all_can(F, A, HG_KERNEL_ROW);
    return 0;
}

static hg_status join_elementwise(fuser *F, hg_value v) {
    const hg_node *nd = &F->g->nodes[v];
    int m = kind_on(F, HG_KERNEL_MATMUL) ? matmul_epilogue(F, v) : -1;
    if (m >= 0) return merge_into(F, m, v);
    int home = -1;
    for (int j = 0; j < nd->n_in; j++) {
        hg_value u = nd->in[j];
        int gi = F->gid[u];
        if (gi < 0 || gi == F->gid[v] || !hg_shape_eq(F->g->nodes[u].shape, nd->shape)) continue;
        if (home < 0) {
            if (!joinable(F, v, gi) || merge_makes_cycle(F, gi, F->gid[v])) continue;
            HG_TRY(merge_into(F, gi, v));
            home = gi;
            continue;
        }
        if (!mergeable(F, home, gi) || merge_makes_cycle(F, home, gi)) continue;
        if (F->gr[gi].kind == HG_KERNEL_ROW) { /* keep the ROW group's record */
            HG_TRY(merge_into(F, gi, home));
            home = gi;
        } else {
            HG_TRY(merge_into(F, home, gi));
        }
    }
    if (home < 0 && can(F, HG_KERNEL_LOOP, v)) F->gr[v].kind = HG_KERNEL_LOOP; /* L2 */
    return hg_ok();
}

static hg_status visit(fuser *F, hg_value v) {
    const hg_node *nd = &F->g->nodes[v];
    group *G = &F->gr[v];
    G->kind = HG_KERNEL_OP;
    G->reduce = G->anchor = HG_NONE;
    G->space = nd->shape;
    G->minid = G->maxid = v;
    G->closed = 0;
    HG_TRY(push_member(G, v));
    F->gid[v] = v;
    hg_op op = nd->op;
    if (is_ew_class(op)) return join_elementwise(F, v);
    if (op == HG_OP_sum || op == HG_OP_mean || op == HG_OP_max) {
        hg_value u = nd->in[0];
        int gi = F->gid[u];
        if (gi >= 0 && open_loop(&F->gr[gi], F->g->nodes[u].shape) &&
            reduce_axes_ok(nd, F->g->nodes[u].shape.rank) && can(F, HG_KERNEL_LOOP, v) &&
            !merge_makes_cycle(F, gi, v)) {
            HG_TRY(merge_into(F, gi, v));
            F->gr[gi].reduce = v;
            F->gr[gi].closed = 1;
        }
        return hg_ok();
    }
    if ((op == HG_OP_softmax || op == HG_OP_layer_norm) && can(F, HG_KERNEL_ROW, v)) {
        G->kind = HG_KERNEL_ROW;
        G->anchor = v;
        int gi = F->gid[nd->in[0]];
        if (gi >= 0 && open_loop(&F->gr[gi], nd->shape) && all_can(F, &F->gr[gi], HG_KERNEL_ROW) &&
            !merge_makes_cycle(F, gi, v)) {
            HG_TRY(merge_into(F, gi, v));
            F->gr[gi].kind = HG_KERNEL_ROW;
        }
        return hg_ok();
    }
    if (op == HG_OP_matmul && can(F, HG_KERNEL_MATMUL, v)) {
        G->kind = HG_KERNEL_MATMUL;
        G->anchor = v;
    }
    return hg_ok();
}

/* ------------------------------------------------------------ output */

static int cmp_value(const void *a, const void *b) {
    hg_value x = *(const hg_value *)a, y = *(const hg_value *)b;
    return (x > y) - (x < y);
}

static void kernel_name(const hg_graph *g, hg_kernel *k) {
    if (k->kind == HG_KERNEL_OP) {
        snprintf(k->name, sizeof k->name, "%s", hg_op_table[g->nodes[k->members[0]].op].name);
        return;
    }
    size_t len = (size_t)snprintf(k->name, sizeof k->name, "%s:", hg_kernel_kind_name(k->kind));
    for (int i = 0; i < k->n_members && len + 1 < sizeof k->name; i++) {
        const char *op = hg_op_table[g->nodes[k->members[i]].op].name;
        int r = snprintf(k->name + len, sizeof k->name - len, "%s%s", i ? "_" : "", op);
        if (r < 0) break;
        len += (size_t)r;
    }
}

/* Heap of group ids keyed by maxid (smallest first). */
static void heap_push(int *h, int *n, const group *gr, int x) {
    int i = (*n)++;
    h[i] = x;
    while (i > 0 && gr[h[(i - 1) / 2]].maxid > gr[h[i]].maxid) {
        int p = (i - 1) / 2, t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static int heap_pop(int *h, int *n, const group *gr) {
    int top = h[0];
    h[0] = h[--(*n)];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && gr[h[l]].maxid < gr[h[m]].maxid) m = l;
        if (r < *n && gr[h[r]].maxid < gr[h[m]].maxid) m = r;
        if (m == i) break;
        int t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

/* Kahn's algorithm over the groups; order[] receives the group ids. */
static hg_status topo_order(fuser *F, int *order, int *n_order) {
    const hg_graph *g = F->g;
    int n = g->n_nodes;
    int *indeg = calloc((size_t)n + 1, sizeof *indeg);
    int *heap = malloc(((size_t)n + 1) * sizeof *heap);
    if (!indeg || !heap) {
        free(indeg);
        free(heap);
        return hg_error(HG_ERR_NOMEM, "fuse: order");
    }
    /* in-degree: distinct producer groups */
    for (int a = 0; a < n; a++) {
        const group *A = &F->gr[a];
        if (A->n == 0) continue;
        int cur = ++F->cur;
        F->stamp[a] = cur;
        for (int i = 0; i < A->n; i++) {
            const hg_node *nd = &g->nodes[A->mem[i]];
            for (int j = 0; j < nd->n_in; j++) {
                int c = F->gid[nd->in[j]];
                if (c < 0 || F->stamp[c] == cur) continue;
                F->stamp[c] = cur;
                indeg[a]++;
            }
        }
    }
    int nh = 0, no = 0;
    for (int a = 0; a < n; a++)
        if (F->gr[a].n > 0 && indeg[a] == 0) heap_push(heap, &nh, F->gr, a);
    while (nh > 0) {
        int a = heap_pop(heap, &nh, F->gr);
        order[no++] = a;
        const group *A = &F->gr[a];
        int cur = ++F->cur;
        F->stamp[a] = cur;
        for (int i = 0; i < A->n; i++)
            for (int k = F->ustart[A->mem[i]]; k < F->ustart[A->mem[i] + 1]; k++) {
                int c = F->gid[F->users[k]];
                if (c < 0 || F->stamp[c] == cur) continue;
                F->stamp[c] = cur;
                if (--indeg[c] == 0) heap_push(heap, &nh, F->gr, c);
            }
    }
    int n_groups = 0;
    for (int a = 0; a < n; a++) n_groups += F->gr[a].n > 0;
    free(indeg);
    free(heap);
    *n_order = no;
    if (no != n_groups) /* the cycle checks make this unreachable */
        return hg_error(HG_ERR_INVALID, "fuse: the kernel graph has a cycle (%d of %d ordered)",
                        no, n_groups);
    return hg_ok();
}

static hg_status emit(fuser *F, hg_schedule *out) {
    const hg_graph *g = F->g;
    int n = g->n_nodes;
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    if (!order) return hg_error(HG_ERR_NOMEM, "fuse: order");
    int no = 0;
    hg_status st = topo_order(F, order, &no);
    if (st.code == HG_OK) {
        out->n_nodes = n;
        out->kernels = calloc((size_t)no + 1, sizeof *out->kernels);
        out->kernel_of = malloc(((size_t)n + 1) * sizeof *out->kernel_of);
        if (!out->kernels || !out->kernel_of) st = hg_error(HG_ERR_NOMEM, "fuse: %d kernels", no);
    }
    for (int v = 0; st.code == HG_OK && v < n; v++) out->kernel_of[v] = -1;
    for (int i = 0; st.code == HG_OK && i < no; i++) {
        group *G = &F->gr[order[i]];
        hg_kernel *k = &out->kernels[out->n_kernels++];
        if (G->kind == HG_KERNEL_MATMUL && G->n == 1) G->kind = HG_KERNEL_OP; /* M1 */
        k->kind = G->kind;
        k->space = G->space;
        k->reduce = G->kind == HG_KERNEL_LOOP ? G->reduce : HG_NONE;
        k->anchor = G->kind == HG_KERNEL_ROW || G->kind == HG_KERNEL_MATMUL ? G->anchor : HG_NONE;
        k->members = G->mem; /* ownership moves to the kernel */
        k->n_members = G->n;
        G->mem = NULL;
        G->n = G->cap = 0;
        qsort(k->members, (size_t)k->n_members, sizeof *k->members, cmp_value);
        for (int j = 0; j < k->n_members; j++) out->kernel_of[k->members[j]] = i;
        kernel_name(g, k);
    }
    if (st.code == HG_OK) st = hg_schedule_fill_io(g, out);
    free(order);
    return st;
}

static hg_status fuser_init(fuser *F, const hg_graph *g, const hg_fuse_opts *opts) {
    memset(F, 0, sizeof *F);
    F->g = g;
    if (opts) F->o = *opts;
    else hg_fuse_opts_default(&F->o);
    int n = g->n_nodes;
    size_t m = (size_t)n + 1;
    F->needed = hg_schedule_needed(g);
    F->is_out = calloc(m, 1);
    F->ustart = calloc(m + 1, sizeof *F->ustart);
    F->gid = malloc(m * sizeof *F->gid);
    F->gr = calloc(m, sizeof *F->gr);
    F->stamp = calloc(m, sizeof *F->stamp);
    F->stack = malloc(m * sizeof *F->stack);
    if (!F->needed || !F->is_out || !F->ustart || !F->gid || !F->gr || !F->stamp || !F->stack)
        return hg_error(HG_ERR_NOMEM, "fuse: %d nodes", n);
    for (int i = 0; i < g->n_outputs; i++) F->is_out[g->outputs[i].value] = 1;
    for (int i = 0; i < g->n_updates; i++) F->is_out[g->updates[i].value] = 1;
    size_t n_edges = 0;
    for (int v = 0; v < n; v++) {
        F->gid[v] = -1;
        if (!F->needed[v]) continue;
        for (int j = 0; j < g->nodes[v].n_in; j++) F->ustart[g->nodes[v].in[j] + 1]++;
        n_edges += (size_t)g->nodes[v].n_in;
    }
    for (int v = 0; v < n; v++) F->ustart[v + 1] += F->ustart[v];
    F->users = malloc((n_edges + 1) * sizeof *F->users);
    int *fill = malloc(m * sizeof *fill);
    if (!F->users || !fill) {
        free(fill);
        return hg_error(HG_ERR_NOMEM, "fuse: %zu edges", n_edges);
    }
    memcpy(fill, F->ustart, (size_t)n * sizeof *fill);
    for (int v = 0; v < n; v++) {
        if (!F->needed[v]) continue;
        for (int j = 0; j < g->nodes[v].n_in; j++) {
            hg_value u = g->nodes[v].in[j];
            /* a node reading u twice is one user */
            if (fill[u] > F->ustart[u] && F->users[fill[u] - 1] == v) continue;
            F->users[fill[u]++] = v;
        }
    }
    /* compact the duplicate-free lists */
    int w = 0;
    for (int v = 0; v < n; v++) {
        int s0 = F->ustart[v], e0 = fill[v];
        F->ustart[v] = w;
        for (int k = s0; k < e0; k++) F->users[w++] = F->users[k];
    }
    F->ustart[n] = w;
    free(fill);
    return hg_ok();
}

static void fuser_free(fuser *F) {
    if (F->gr)
        for (int v = 0; v < F->g->n_nodes; v++) free(F->gr[v].mem);
    free(F->needed);
    free(F->is_out);
    free(F->ustart);
    free(F->users);
    free(F->gid);
    free(F->gr);
    free(F->stamp);
    free(F->stack);
}

hg_status hg_fuse(const hg_graph *g, const hg_fuse_opts *opts, hg_schedule *out) {
    memset(out, 0, sizeof *out);
    if (!g) return hg_error(HG_ERR_INVALID, "fuse: graph is NULL");
    HG_TRY(hg_status_prefix(hg_graph_status(g), "fuse"));
    fuser F;
    hg_status st = fuser_init(&F, g, opts);
    for (int v = 0; st.code == HG_OK && v < g->n_nodes; v++)
        if (F.needed[v] && !is_leaf(g, v)) st = visit(&F, v);
    if (st.code == HG_OK) st = emit(&F, out);
    fuser_free(&F);
    if (st.code != HG_OK) hg_schedule_free(out);
    return st;
}
