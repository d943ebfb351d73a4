/* Memory planning (passes.h hg_memplan, hg_memplan_schedule; DESIGN.md
 * "Memory is planned, not allocated"): liveness over a schedule's kernels
 * (the reference schedule for hg_memplan), arena space for kernel outputs
 * only, aliases for reshape/stop_gradient, in-place reuse where the
 * kernel kind allows it, and offsets in one arena by greedy best fit in
 * decreasing size. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static int64_t align_up(int64_t x) {
    return (x + HG_MEMPLAN_ALIGN - 1) / HG_MEMPLAN_ALIGN * HG_MEMPLAN_ALIGN;
}

void hg_memplan_free(hg_mem_plan *p) {
    if (!p) return;
    free(p->needed);
    free(p->last_use);
    free(p->kind);
    free(p->block);
    free(p->root);
    free(p->offset);
    free(p->bytes);
    free(p->block_offset);
    free(p->block_size);
    free(p->block_start);
    free(p->block_end);
    memset(p, 0, sizeof *p);
}

/* The time line of a plan: kernel k of schedule s runs at step[k];
 * def_step[v] is the step defining v (its kernel's step; for a leaf, the
 * step it is "defined" at: its node id for hg_memplan, 0 for a schedule),
 * -1 when v is not needed; n_steps is the step after the last kernel (the
 * end of the run, where outputs and update values are still live). */
typedef struct {
    const hg_schedule *s;
    const int *step;
    const int *def_step;
    int n_steps;
} timeline;

/* needed[] and last_use[] as the executor evaluates: outputs and update
 * values are kept to the end (n_steps), updated states are needed even
 * when nothing reads them, a value nothing reads lives at its definition. */
static void liveness(const hg_graph *g, const timeline *T, const char *needed, hg_mem_plan *p) {
    int n = g->n_nodes;
    for (int i = 0; i < n; i++) {
        p->needed[i] = needed[i];
        p->last_use[i] = needed[i] ? T->def_step[i] : -1;
    }
    for (int k = 0; k < T->s->n_kernels; k++) {
        const hg_kernel *K = &T->s->kernels[k];
        for (int j = 0; j < K->n_inputs; j++)
            if (p->last_use[K->inputs[j]] < T->step[k]) p->last_use[K->inputs[j]] = T->step[k];
    }
    for (int i = 0; i < g->n_outputs; i++) p->last_use[g->outputs[i].value] = T->n_steps;
    for (int i = 0; i < g->n_updates; i++) p->last_use[g->updates[i].value] = T->n_steps;
}

/* 1 if every input of kernel K stored in block b has shape `space` and
 * dtype t (read at the element index the output is written at). */
static int block_inputs_match(const hg_graph *g, const hg_mem_plan *p, const hg_kernel *K,
                              const hg_node *nd, int b, hg_shape space, hg_dtype t) {
    int n_in = K ? K->n_inputs : nd->n_in;
    for (int k = 0; k < n_in; k++) {
        hg_value w = K ? K->inputs[k] : nd->in[k];
        if (p->block[w] != b) continue;
        if (g->nodes[w].dtype != t || !hg_shape_eq(g->nodes[w].shape, space)) return 0;
    }
    return 1;
}

static int member_index(const hg_kernel *K, hg_value u) {
    int lo = 0, hi = K->n_members - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (K->members[mid] == u) return mid;
        if (K->members[mid] < u) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* 1 if member v of ROW kernel K is the anchor or reads it through members
 * (written in the row's last pass); -1 when out of memory. */
static int after_anchor(const hg_graph *g, const hg_kernel *K, hg_value v) {
    if (v == K->anchor) return 1;
    if (v < K->anchor) return 0;
    char *dep = calloc((size_t)K->n_members, 1);
    if (!dep) return -1;
    int r = 0;
    for (int i = 0; i < K->n_members && K->members[i] <= v; i++) {
        hg_value m = K->members[i];
        dep[i] = m == K->anchor;
        const hg_node *nd = &g->nodes[m];
        for (int j = 0; j < nd->n_in && !dep[i]; j++) {
            int k = member_index(K, nd->in[j]);
            dep[i] = k >= 0 && dep[k];
        }
        r = dep[i];
    }
    free(dep);
    return r;
}

/* The block output v of kernel K (at step t) may take in place, or -1:
 * a block all of whose values die at this kernel, of v's aligned size,
 * read by the kernel only at the index v is written at (hg_memplan_schedule
 * lists the kernel kinds and members allowed). */
static int inplace_block(const hg_graph *g, const hg_mem_plan *p, const hg_kernel *K, int t,
                         hg_value v) {
    const hg_node *nd = &g->nodes[v];
    switch (K->kind) {
    case HG_KERNEL_OP:
        if (!(hg_op_table[nd->op].flags & HG_OPF_ELEMENTWISE)) return -1;
        break;
    case HG_KERNEL_LOOP:
        if (v == K->reduce || !hg_shape_eq(nd->shape, K->space)) return -1;
        break;
    case HG_KERNEL_ROW:
        if (after_anchor(g, K, v) != 1) return -1; /* out of memory: no reuse */
        break;
    default:
        return -1;
    }
    const hg_kernel *src = K->kind == HG_KERNEL_OP ? NULL : K; /* OP: the node's own reads */
    for (int j = 0; j < (src ? src->n_inputs : nd->n_in); j++) {
        hg_value u = src ? src->inputs[j] : nd->in[j];
        int b = p->block[u];
        if (b < 0 || p->block_end[b] != t) continue;
        if (p->block_size[b] != align_up(p->bytes[v])) continue;
        if (block_inputs_match(g, p, src, nd, b, nd->shape, nd->dtype)) return b;
    }
    return -1;
}

/* Greedy best fit in decreasing block size: each block goes into the
 * smallest gap among the placed blocks whose lifetimes intersect its own
 * (scanned in offset order), else above the highest of them. */
static hg_status place_blocks(hg_mem_plan *p) {
    int nb = p->n_blocks;
    int *order = malloc(((size_t)nb + 1) * sizeof *order);
    int *placed = malloc(((size_t)nb + 1) * sizeof *placed); /* by offset */
    if (!order || !placed) {
        free(order);
        free(placed);
        return hg_error(HG_ERR_NOMEM, "memplan: %d blocks", nb);
    }
    for (int i = 0; i < nb; i++) order[i] = i;
    /* stable bottom-up merge sort of order[] by (size desc, start asc);
     * placed[] is its scratch before the placement uses it */
    for (int w = 1; w < nb; w *= 2) {
        for (int lo = 0; lo < nb - w; lo += 2 * w) {
            int mid = lo + w, hi = lo + 2 * w < nb ? lo + 2 * w : nb;
            int i = lo, j = mid, k = 0;
            int *tmp = placed; /* scratch, reused */
            while (i < mid || j < hi) {
                int take_i;
                if (i >= mid) take_i = 0;
                else if (j >= hi) take_i = 1;
                else {
                    int a = order[i], b = order[j];
                    take_i = p->block_size[a] > p->block_size[b] ||
                             (p->block_size[a] == p->block_size[b] &&
                              p->block_start[a] <= p->block_start[b]);
                }
                tmp[k++] = take_i ? order[i++] : order[j++];
            }
            memcpy(order + lo, tmp, (size_t)k * sizeof *order);
        }
    }
    int n_placed = 0;
    int64_t peak = 0;
    for (int oi = 0; oi < nb; oi++) {
        int b = order[oi];
        int64_t size = p->block_size[b];
        int64_t prev_end = 0, best = -1, best_gap = INT64_MAX;
        for (int q = 0; q < n_placed; q++) {
            int c = placed[q];
            if (p->block_start[c] > p->block_end[b] || p->block_start[b] > p->block_end[c])
                continue; /* lifetimes disjoint */
            int64_t off = p->block_offset[c];
            if (off > prev_end) {
                int64_t gap = off - prev_end;
                if (gap >= size && gap < best_gap) {
                    best_gap = gap;
                    best = prev_end;
                }
            }
            if (off + p->block_size[c] > prev_end) prev_end = off + p->block_size[c];
        }
        int64_t off = best >= 0 ? best : prev_end;
        p->block_offset[b] = off;
        if (off + size > peak) peak = off + size;
        /* insert into placed[] keeping offset order */
        int q = n_placed;
        while (q > 0 && p->block_offset[placed[q - 1]] > off) {
            placed[q] = placed[q - 1];
            q--;
        }
        placed[q] = b;
        n_placed++;
    }
    p->arena_bytes = peak;
    free(order);
    free(placed);
    return hg_ok();
}

/* The largest sum of block sizes live at one node (sweep over starts and
 * ends; a block is live on [start, end]). */
static int64_t live_max(const hg_mem_plan *p) {
    int n = p->n_steps;
    int64_t *delta = calloc((size_t)n + 2, sizeof *delta);
    if (!delta) return -1;
    for (int b = 0; b < p->n_blocks; b++) {
        delta[p->block_start[b]] += p->block_size[b];
        delta[p->block_end[b] + 1] -= p->block_size[b];
    }
    int64_t cur = 0, best = 0;
    for (int i = 0; i <= n; i++) {
        cur += delta[i];
        if (cur > best) best = cur;
    }
    free(delta);
    return best;
}

static hg_status plan_alloc(const hg_graph *g, hg_mem_plan *p) {
    int n = g->n_nodes;
    size_t m = (size_t)n + 1;
    p->n_nodes = n;
    p->needed = calloc(m, 1);
    p->last_use = malloc(m * sizeof *p->last_use);
    p->kind = calloc(m, 1);
    p->block = malloc(m * sizeof *p->block);
    p->root = malloc(m * sizeof *p->root);
    p->offset = malloc(m * sizeof *p->offset);
    p->bytes = calloc(m, sizeof *p->bytes);
    p->block_offset = calloc(m, sizeof *p->block_offset);
    p->block_size = calloc(m, sizeof *p->block_size);
    p->block_start = calloc(m, sizeof *p->block_start);
    p->block_end = calloc(m, sizeof *p->block_end);
    if (!p->needed || !p->last_use || !p->kind || !p->block || !p->root || !p->offset ||
        !p->bytes || !p->block_offset || !p->block_size || !p->block_start || !p->block_end)
        return hg_error(HG_ERR_NOMEM, "memplan: %d nodes", n);
    return hg_ok();
}

/* Storage of output v of kernel K at step t: alias, in place, or a fresh block. */
static void assign(const hg_graph *g, const hg_kernel *K, int t, hg_value v, hg_mem_plan *p) {
    const hg_node *nd = &g->nodes[v];
    if (nd->op == HG_OP_reshape || nd->op == HG_OP_stop_gradient) {
        hg_value u = nd->in[0];
        p->kind[v] = HG_MP_ALIAS;
        p->root[v] = p->root[u];
        int b = p->block[u];
        p->block[v] = b;
        if (b >= 0 && p->block_end[b] < p->last_use[v]) p->block_end[b] = p->last_use[v];
        p->n_alias++;
        return;
    }
    p->sum_bytes += align_up(p->bytes[v]);
    int b = inplace_block(g, p, K, t, v);
    if (b >= 0) {
        p->kind[v] = HG_MP_INPLACE;
        p->n_inplace++;
    } else {
        b = p->n_blocks++;
        p->kind[v] = HG_MP_OWN;
        p->block_size[b] = align_up(p->bytes[v]);
        p->block_start[b] = t;
        p->block_end[b] = t;
    }
    p->block[v] = b;
    if (p->block_end[b] < p->last_use[v]) p->block_end[b] = p->last_use[v];
}

/* The plan of schedule s (valid for g) on time line T. */
static hg_status plan_schedule(const hg_graph *g, const timeline *T, hg_mem_plan *p) {
    memset(p, 0, sizeof *p);
    HG_TRY(hg_status_prefix(hg_graph_status(g), "memplan"));
    if (T->s->n_nodes != g->n_nodes)
        return hg_error(HG_ERR_INVALID, "memplan: schedule made for %d nodes, graph has %d",
                        T->s->n_nodes, g->n_nodes);
    char *needed = hg_schedule_needed(g);
    hg_status st = needed ? plan_alloc(g, p) : hg_error(HG_ERR_NOMEM, "memplan: needed[]");
    if (st.code != HG_OK) {
        free(needed);
        hg_memplan_free(p);
        return st;
    }
    p->n_steps = T->n_steps;
    liveness(g, T, needed, p);
    free(needed);
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *nd = &g->nodes[v];
        p->block[v] = -1;
        p->root[v] = v;
        p->offset[v] = -1;
        p->bytes[v] = hg_shape_numel(nd->shape) * (int64_t)hg_dtype_size(nd->dtype);
        if (!p->needed[v]) continue;
        p->kind[v] = (hg_op_table[nd->op].flags & HG_OPF_LEAF) ? HG_MP_EXTERNAL : HG_MP_INTERNAL;
    }
    for (int k = 0; k < T->s->n_kernels; k++) {
        const hg_kernel *K = &T->s->kernels[k];
        for (int j = 0; j < K->n_outputs; j++) assign(g, K, T->step[k], K->outputs[j], p);
    }
    hg_status s = place_blocks(p);
    if (s.code == HG_OK) {
        p->live_bytes_max = live_max(p);
        if (p->live_bytes_max < 0) s = hg_error(HG_ERR_NOMEM, "memplan: live sweep");
    }
    if (s.code != HG_OK) {
        hg_memplan_free(p);
        return s;
    }
    for (int v = 0; v < g->n_nodes; v++)
        if (p->block[v] >= 0) p->offset[v] = p->block_offset[p->block[v]];
    return hg_ok();
}

/* Runs plan_schedule with the kernel index (by_node 0) or the node id of
 * the kernel's single member (by_node 1, the reference schedule) as step. */
static hg_status plan_with_steps(const hg_graph *g, const hg_schedule *s, int by_node,
                                 hg_mem_plan *out) {
    int n = g->n_nodes;
    int *step = malloc(((size_t)s->n_kernels + 1) * sizeof *step);
    int *def = malloc(((size_t)n + 1) * sizeof *def);
    if (!step || !def) {
        free(step);
        free(def);
        return hg_error(HG_ERR_NOMEM, "memplan: steps");
    }
    for (int k = 0; k < s->n_kernels; k++) step[k] = by_node ? s->kernels[k].members[0] : k;
    for (int v = 0; v < n; v++) {
        int k = v < s->n_nodes ? s->kernel_of[v] : -1;
        def[v] = k >= 0 ? step[k] : by_node ? v : 0;
    }
    timeline T = {s, step, def, by_node ? n : s->n_kernels};
    hg_status st = plan_schedule(g, &T, out);
    free(step);
    free(def);
    return st;
}

hg_status hg_memplan_schedule(const hg_graph *g, const hg_schedule *s, hg_mem_plan *out) {
    memset(out, 0, sizeof *out);
    if (!g || !s) return hg_error(HG_ERR_INVALID, "memplan: graph or schedule is NULL");
    HG_TRY(hg_status_prefix(hg_graph_status(g), "memplan"));
    return plan_with_steps(g, s, 0, out);
}

hg_status hg_memplan(const hg_graph *g, hg_mem_plan *out) {
    memset(out, 0, sizeof *out);
    if (!g) return hg_error(HG_ERR_INVALID, "memplan: graph is NULL");
    HG_TRY(hg_status_prefix(hg_graph_status(g), "memplan"));
    hg_schedule s;
    HG_TRY(hg_status_prefix(hg_schedule_nodes(g, &s), "memplan"));
    hg_status st = plan_with_steps(g, &s, 1, out);
    hg_schedule_free(&s);
    return st;
}
