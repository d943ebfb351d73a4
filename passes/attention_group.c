/* Attention kernels of a schedule (passes/schedule.h hg_attention_group):
 * the multi-output representation of DESIGN.md "Key decisions". A node
 * has one output; a fused attention backward computes dq, dk and dv in
 * one pass and the forward can hand the backward its log-sum-exp rows, so
 * those nodes become ONE kernel of the schedule (HG_KERNEL_MULTI) that a
 * backend runs with one routine (codegen/attention_fused.c):
 *   backward  the attention_grad nodes (axis 0, 1, 2) reading the same
 *             seven inputs (q, k, v, mask, o, lse, do) with the same scale;
 *   forward   an attention node and the attention_lse node with the same
 *             four inputs and scale (only without in_order: the lse node
 *             is defined in the backward, so the kernel moves it forward).
 * The merged kernel takes the place of its first kernel: every member
 * reads the same inputs, which are ready there, and every consumer of a
 * member comes after that member's old place, so the order stays valid.
 * With in_order only kernels adjacent in the schedule merge, so kernels
 * keep running nodes in definition order (the fast backend's node memory
 * plan needs it). */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static const hg_node *single(const hg_graph *g, const hg_kernel *k) {
    return k->kind == HG_KERNEL_OP && k->n_members == 1 ? &g->nodes[k->members[0]] : NULL;
}

/* 1 if node b joins the kernel anchored at node a. */
static int partner(const hg_node *a, const hg_node *b) {
    if (!b || b->attrs.scale != a->attrs.scale) return 0;
    if (a->op == HG_OP_attention_grad && b->op != HG_OP_attention_grad) return 0;
    if (a->op == HG_OP_attention && b->op != HG_OP_attention_lse) return 0;
    int n = a->op == HG_OP_attention ? 4 : 7;
    return memcmp(a->in, b->in, (size_t)n * sizeof a->in[0]) == 0;
}

/* The output a member computes: 0, 1, 2 for dq, dk, dv, 3 for the
 * forward's o, 4 for its lse. A kernel has at most one member per slot
 * (a graph may hold two equal attention_lse nodes: one joins). */
static int slot(const hg_node *n) {
    return n->op == HG_OP_attention ? 3 : n->op == HG_OP_attention_lse ? 4 : (int)n->attrs.axis;
}

static int cmp_value(const void *x, const void *y) {
    hg_value a = *(const hg_value *)x, b = *(const hg_value *)y;
    return (a > b) - (a < b);
}

hg_status hg_attention_group(const hg_graph *g, int in_order, hg_schedule *s) {
    int n = s->n_kernels, merged = 0;
    int *into = malloc(sizeof(int) * ((size_t)n + 1)); /* kernel absorbed into, or -1 */
    if (!into) return hg_error(HG_ERR_NOMEM, "attention_group: %d kernels", n);
    for (int k = 0; k < n; k++) into[k] = -1;
    for (int k = 0; k < n; k++) {
        const hg_node *a = single(g, &s->kernels[k]);
        if (into[k] >= 0 || !a) continue;
        if (a->op != HG_OP_attention_grad && (in_order || a->op != HG_OP_attention)) continue;
        int cnt = 1, full = a->op == HG_OP_attention ? 2 : 3;
        unsigned have = 1u << slot(a);
        for (int k2 = k + 1; k2 < n && cnt < full; k2++) {
            const hg_node *b = single(g, &s->kernels[k2]);
            if (into[k2] < 0 && partner(a, b) && !(have & (1u << slot(b)))) {
                have |= 1u << slot(b);
                into[k2] = k;
                cnt++;
            } else if (in_order) {
                break;
            }
        }
        if (cnt == 1) continue;
        hg_kernel *K = &s->kernels[k];
        hg_value *m = realloc(K->members, sizeof(hg_value) * (size_t)cnt);
        if (!m) {
            free(into);
            return hg_error(HG_ERR_NOMEM, "attention_group: kernel %d", k);
        }
        K->members = m;
        for (int k2 = k + 1; k2 < n; k2++)
            if (into[k2] == k) m[K->n_members++] = s->kernels[k2].members[0];
        qsort(m, (size_t)K->n_members, sizeof *m, cmp_value);
        K->kind = HG_KERNEL_MULTI;
        K->anchor = m[0];
        K->space = g->nodes[m[0]].shape;
        snprintf(K->name, sizeof K->name, "multi:%s", a->op == HG_OP_attention
                                                           ? "attention_lse"
                                                           : "attention_grad");
        merged = 1;
    }
    if (merged) {
        int w = 0;
        for (int k = 0; k < n; k++) {
            hg_kernel *K = &s->kernels[k];
            if (into[k] >= 0) {
                free(K->members);
                free(K->inputs);
                free(K->outputs);
                continue;
            }
            s->kernels[w] = *K;
            for (int i = 0; i < K->n_members; i++) s->kernel_of[K->members[i]] = w;
            w++;
        }
        s->n_kernels = w;
    }
    free(into);
    return merged ? hg_status_prefix(hg_schedule_fill_io(g, s), "attention_group") : hg_ok();
}
