/* Memory planning (passes.h hg_memplan; DESIGN.md "Memory is planned, not
 * allocated"): liveness over the definition order of the needed nodes,
 * aliases for reshape/stop_gradient, in-place reuse for elementwise ops,
 * and offsets in one arena by greedy best fit in decreasing size. */
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

/* needed[] and last_use[] exactly as the reference interpreter evaluates:
 * outputs and update values are kept to the end (n), updated states are
 * needed even when nothing reads them. */
static void liveness(const hg_graph *g, hg_mem_plan *p) {
    int n = g->n_nodes;
    for (int i = 0; i < n; i++) p->last_use[i] = -1;
    for (int i = 0; i < g->n_outputs; i++) {
        p->needed[g->outputs[i].value] = 1;
        p->last_use[g->outputs[i].value] = n;
    }
    for (int i = 0; i < g->n_updates; i++) {
        p->needed[g->updates[i].value] = 1;
        p->last_use[g->updates[i].value] = n;
    }
    for (int i = n - 1; i >= 0; i--) {
        if (!p->needed[i]) continue;
        const hg_node *nd = &g->nodes[i];
        for (int j = 0; j < nd->n_in; j++) {
            hg_value v = nd->in[j];
            p->needed[v] = 1;
            if (p->last_use[v] < i) p->last_use[v] = i;
        }
    }
    for (int i = 0; i < g->n_updates; i++) {
        hg_value s = g->updates[i].state;
        p->needed[s] = 1;
        if (p->last_use[s] < s) p->last_use[s] = s;
    }
    for (int i = 0; i < n; i++)
        if (p->needed[i] && p->last_use[i] < i) p->last_use[i] = i;
}

/* The block an elementwise node v may reuse in place, or -1. */
static int inplace_block(const hg_graph *g, const hg_mem_plan *p, hg_value v) {
    const hg_node *nd = &g->nodes[v];
    for (int j = 0; j < nd->n_in; j++) {
        hg_value u = nd->in[j];
        int b = p->block[u];
        if (b < 0 || p->block_end[b] != v) continue;
        if (p->block_size[b] != align_up(p->bytes[v])) continue;
        int ok = 1;
        for (int k = 0; k < nd->n_in && ok; k++) {
            hg_value w = nd->in[k];
            if (p->block[w] != b) continue;
            if (g->nodes[w].dtype != nd->dtype || !hg_shape_eq(g->nodes[w].shape, nd->shape))
                ok = 0;
        }
        if (ok) return b;
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
    int n = p->n_nodes;
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

hg_status hg_memplan(const hg_graph *g, hg_mem_plan *out) {
    memset(out, 0, sizeof *out);
    if (!g) return hg_error(HG_ERR_INVALID, "memplan: graph is NULL");
    HG_TRY(hg_status_prefix(hg_graph_status(g), "memplan"));
    int n = g->n_nodes;
    hg_mem_plan *p = out;
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
        !p->bytes || !p->block_offset || !p->block_size || !p->block_start || !p->block_end) {
        hg_memplan_free(p);
        return hg_error(HG_ERR_NOMEM, "memplan: %d nodes", n);
    }
    liveness(g, p);
    for (int v = 0; v < n; v++) {
        const hg_node *nd = &g->nodes[v];
        p->block[v] = -1;
        p->root[v] = v;
        p->offset[v] = -1;
        p->bytes[v] = hg_shape_numel(nd->shape) * (int64_t)hg_dtype_size(nd->dtype);
        if (!p->needed[v]) continue;
        if (hg_op_table[nd->op].flags & HG_OPF_LEAF) {
            p->kind[v] = HG_MP_EXTERNAL;
            continue;
        }
        if (nd->op == HG_OP_reshape || nd->op == HG_OP_stop_gradient) {
            hg_value u = nd->in[0];
            p->kind[v] = HG_MP_ALIAS;
            p->root[v] = p->root[u];
            int b = p->block[u];
            p->block[v] = b;
            if (b >= 0 && p->block_end[b] < p->last_use[v]) p->block_end[b] = p->last_use[v];
            p->n_alias++;
            continue;
        }
        p->sum_bytes += align_up(p->bytes[v]);
        int b = -1;
        if (hg_op_table[nd->op].flags & HG_OPF_ELEMENTWISE) b = inplace_block(g, p, v);
        if (b >= 0) {
            p->kind[v] = HG_MP_INPLACE;
            p->n_inplace++;
        } else {
            b = p->n_blocks++;
            p->kind[v] = HG_MP_OWN;
            p->block_size[b] = align_up(p->bytes[v]);
            p->block_start[b] = v;
            p->block_end[b] = v;
        }
        p->block[v] = b;
        if (p->block_end[b] < p->last_use[v]) p->block_end[b] = p->last_use[v];
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
    for (int v = 0; v < n; v++)
        if (p->block[v] >= 0) p->offset[v] = p->block_offset[p->block[v]];
    return hg_ok();
}
