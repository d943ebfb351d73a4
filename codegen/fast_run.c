/* The fast backend (codegen/fast.h): a memory plan over one arena reused by
 * every run, one implementation record per schedule kernel (fast's own:
 * the kernels of hg_fast_kernel_of on arena views, oneDNN primitives for
 * f32 matmul), run through the shared executor in views mode. */
#include "codegen/fast_internal.h"
#include "codegen/ref_internal.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

struct hg_fast {
    const hg_graph *g;    /* borrowed */
    const hg_schedule *s; /* borrowed */
    hg_exec_plan xp;
    hg_mem_plan plan;
    char *arena;
    size_t arena_bytes;
    int faulted;                /* the arena's pages were written (first run) */
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    hg_fast_mm *mm;             /* per node; prim NULL where the reference kernel runs */
    hg_node_kernel *kernel_of;  /* per node: hg_fast_kernel_of its op */
    hg_tensor *vals;            /* per node: views of this run's data */
    hg_fast_impl *impl;         /* per kernel */
    hg_tensor **views;          /* the impl in/out arrays, one block */
    int n_dnnl, n_ref_mm;
    int n_post, n_post_ref; /* epilogue members run as oneDNN post-ops / by the reference */
};

/* ------------------------------------------------- fast's own kernels */

/* The arena of *bytes bytes (HG_MEMPLAN_ALIGN-aligned; free()). From
 * ARENA_HUGE bytes on it is 2 MiB-aligned, rounded up to whole 2 MiB
 * pages (*bytes updated) and advised as transparent huge pages
 * (MADV_HUGEPAGE; ignored where unavailable), so that faulting it in
 * (hg_fast_run's first call) takes one fault per 2 MiB instead of one per
 * 4 KiB: 1.0-1.2 s -> 20-700 ms for the demo training step's 223 MB arena
 * on this VM (the spread: how much of the memory the host has backed
 * already), and fewer TLB misses in the kernels. */
#define ARENA_HUGE (8u << 20)
#define HUGE_PAGE (2u << 20)
static char *arena_alloc(size_t *bytes) {
    if (*bytes < ARENA_HUGE) return aligned_alloc(HG_MEMPLAN_ALIGN, *bytes);
    *bytes = (*bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    char *a = aligned_alloc(HUGE_PAGE, *bytes);
    if (a) (void)madvise(a, *bytes, MADV_HUGEPAGE);
    return a;
}

/* Computes node v on arena views: an alias points at its input's data; an
 * own block that the kernel does not overwrite is zero-filled first (the
 * kernel contract). An in-place output holds its input instead: only
 * elementwise kernels get one, and they write every element from the same
 * elements of their inputs. */
static hg_status fast_node(const hg_fast *f, hg_value v, hg_tensor *vals) {
    const hg_node *nd = &f->g->nodes[v];
    const hg_mem_plan *p = &f->plan;
    if (p->kind[v] == HG_MP_ALIAS) {
        vals[v].data = vals[nd->in[0]].data;
        return hg_ok();
    }
    if (p->kind[v] == HG_MP_INTERNAL && !vals[v].data)
        return hg_error(HG_ERR_UNSUPPORTED,
                        "node %%%d (%s): internal to a fusion group (no storage): fast runs "
                        "fusion groups only through a backend that implements them", v,
                        hg_op_table[nd->op].name);
    const hg_fast_mm *mm = &f->mm[v];
    if (mm->prim)
        return hg_fast_mm_run(v, mm, f->strm, vals[nd->in[0]].data, vals[nd->in[1]].data,
                              vals[v].data, vals);
    if ((p->kind[v] == HG_MP_OWN || p->kind[v] == HG_MP_INTERNAL) && !hg_fast_overwrites(nd->op))
        memset(vals[v].data, 0, (size_t)p->bytes[v]);
    return hg_ref_eval_node(f->g, v, f->kernel_of[v], vals);
}

/* fast's implementation of any kernel: its members one by one in
 * ascending node order (every member has storage under the node plan). */
static hg_status fast_kernel(const hg_fast_impl *impl, hg_tensor *vals) {
    const hg_fast *f = impl->data;
    const hg_kernel *k = impl->kernel;
    for (int i = 0; i < k->n_members; i++) HG_TRY(fast_node(f, k->members[i], vals));
    return hg_ok();
}

/* A MATMUL kernel (passes/schedule.h): one oneDNN primitive with the whole
 * epilogue as post-ops, writing the last member; else (oneDNN refused a
 * post-op) the matmul and then each epilogue member one by one, in place
 * in the output's block (setup_matmul_groups points the internal members
 * there; the elementwise kernels read and write the same index). */
static hg_status fast_matmul_kernel(const hg_fast_impl *impl, hg_tensor *vals) {
    const hg_fast *f = impl->data;
    const hg_kernel *k = impl->kernel;
    hg_value v = k->members[0], last = k->members[k->n_members - 1];
    const hg_fast_mm *mm = &f->mm[v];
    const hg_node *nd = &f->g->nodes[v];
    if (mm->prim && mm->n_post == k->n_members - 1)
        return hg_fast_mm_run(v, mm, f->strm, vals[nd->in[0]].data, vals[nd->in[1]].data,
                              vals[last].data, vals);
    return fast_kernel(impl, vals);
}

/* ----------------------------------------------------------- compile */

void hg_fast_free(hg_fast *f) {
    if (!f) return;
    if (f->impl)
        for (int k = 0; k < f->s->n_kernels; k++)
            if (f->impl[k].free_data) f->impl[k].free_data(f->impl[k].data);
    if (f->mm)
        for (int v = 0; v < f->g->n_nodes; v++) hg_fast_mm_destroy(&f->mm[v]);
    free(f->impl);
    free(f->views);
    free(f->mm);
    free(f->kernel_of);
    free(f->vals);
    free(f->arena);
    if (f->strm) dnnl_stream_destroy(f->strm);
    if (f->eng) dnnl_engine_destroy(f->eng);
    hg_memplan_free(&f->plan);
    hg_exec_plan_free(&f->xp);
    free(f);
}

/* The node plan is valid only when the kernels run the nodes in
 * definition order. */
static hg_status check_order(const hg_schedule *s) {
    hg_value last = -1;
    for (int k = 0; k < s->n_kernels; k++) {
        const hg_kernel *kr = &s->kernels[k];
        if (kr->n_members < 1) return hg_error(HG_ERR_INVALID, "fast: kernel %d has no members", k);
        if (kr->members[0] <= last)
            return hg_error(HG_ERR_UNSUPPORTED,
                            "fast: kernel %d (%s) runs node %%%d after node %%%d: the node "
                            "memory plan needs kernels in definition order", k, kr->name,
                            (int)kr->members[0], (int)last);
        last = kr->members[kr->n_members - 1];
    }
    return hg_ok();
}

/* The program's memory plan, chosen in this one place: by_node, the node
 * plan (hg_memplan), valid for schedules in definition order (check_order),
 * so fast_kernel's member-by-member fallback has storage for every member;
 * else the plan over the schedule's kernel outputs (hg_memplan_schedule:
 * internal members of a fusion group get no arena space, so every
 * multi-member kernel must be overridden, as the jit backend does). */
static hg_status plan_memory(const hg_graph *g, const hg_schedule *s, int by_node,
                             hg_mem_plan *plan) {
    if (by_node) HG_TRY(check_order(s));
    return hg_status_prefix(by_node ? hg_memplan(g, plan) : hg_memplan_schedule(g, s, plan),
                            "fast");
}

/* Arena views of every computed value; per-node kernels; matmul primitives. */
static hg_status setup_nodes(hg_fast *f) {
    const hg_graph *g = f->g;
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *nd = &g->nodes[v];
        hg_tensor *t = &f->vals[v];
        t->dtype = nd->dtype;
        t->shape = nd->shape;
        t->owned = 0;
        if (f->plan.offset[v] >= 0) t->data = f->arena + f->plan.offset[v];
        if (f->s->kernel_of[v] < 0) continue;
        f->kernel_of[v] = hg_fast_kernel_of(nd->op);
        if (!f->kernel_of[v])
            return hg_error(HG_ERR_UNSUPPORTED, "fast: node %%%d: op %s has no kernel", v,
                            hg_op_table[nd->op].name);
        if (nd->op != HG_OP_matmul) continue;
        const hg_kernel *kr = &f->s->kernels[f->s->kernel_of[v]];
        if (kr->kind == HG_KERNEL_MATMUL && kr->n_members > 1) continue; /* setup_matmul_groups */
        if (nd->dtype == HG_F32) hg_fast_mm_create(g, v, NULL, 0, f->eng, &f->mm[v]);
        if (f->mm[v].prim) f->n_dnnl++;
        else f->n_ref_mm++;
    }
    return hg_ok();
}

/* MATMUL kernels of several members: the primitive with the epilogue as
 * post-ops, else a plain one (or the reference kernel) and the epilogue
 * members in place in the output's block. */
static void setup_matmul_groups(hg_fast *f) {
    const hg_graph *g = f->g;
    for (int k = 0; k < f->s->n_kernels; k++) {
        const hg_kernel *kr = &f->s->kernels[k];
        if (kr->kind != HG_KERNEL_MATMUL || kr->n_members < 2) continue;
        hg_value v = kr->members[0], last = kr->members[kr->n_members - 1];
        int n_epi = kr->n_members - 1;
        hg_fast_mm *mm = &f->mm[v];
        if (g->nodes[v].dtype == HG_F32) {
            hg_fast_mm_create(g, v, kr->members + 1, n_epi, f->eng, mm);
            if (!mm->prim) hg_fast_mm_create(g, v, NULL, 0, f->eng, mm);
        }
        if (mm->prim) f->n_dnnl++;
        else f->n_ref_mm++;
        int fused = mm->prim && mm->n_post == n_epi;
        f->n_post += fused ? n_epi : 0;
        f->n_post_ref += fused ? 0 : n_epi;
        f->impl[k].run = fast_matmul_kernel;
        for (int i = 0; i < kr->n_members; i++)
            if (!f->vals[kr->members[i]].data) f->vals[kr->members[i]].data = f->vals[last].data;
    }
}

/* One record per kernel: fast_kernel, with views of its inputs/outputs. */
static hg_status setup_impls(hg_fast *f) {
    const hg_schedule *s = f->s;
    size_t nv = 0;
    for (int k = 0; k < s->n_kernels; k++)
        nv += (size_t)s->kernels[k].n_inputs + (size_t)s->kernels[k].n_outputs;
    f->impl = calloc((size_t)s->n_kernels + 1, sizeof *f->impl);
    f->views = malloc((nv + 1) * sizeof *f->views);
    if (!f->impl || !f->views) return hg_error(HG_ERR_NOMEM, "fast: %d kernels", s->n_kernels);
    hg_tensor **w = f->views;
    for (int k = 0; k < s->n_kernels; k++) {
        const hg_kernel *kr = &s->kernels[k];
        hg_fast_impl *im = &f->impl[k];
        im->run = fast_kernel;
        im->data = f;
        if (hg_fused_attention_multi_ok(f->g, kr)) { /* attention's MULTI kernels */
            im->run = hg_fused_attention_multi;
            im->data = NULL;
        }
        im->g = f->g;
        im->kernel = kr;
        im->index = k;
        im->plan = &f->plan;
        for (int i = 0; i < kr->n_inputs; i++) w[i] = &f->vals[kr->inputs[i]];
        im->in = w;
        w += kr->n_inputs;
        for (int i = 0; i < kr->n_outputs; i++) w[i] = &f->vals[kr->outputs[i]];
        im->out = w;
        w += kr->n_outputs;
    }
    return hg_ok();
}

/* by_node: the node plan (hg_fast_compile), else the schedule plan
 * (hg_fast_compile_fused). */
static hg_status compile_with(const hg_graph *g, const hg_schedule *s, int by_node,
                              hg_fast **out) {
    *out = NULL;
    if (!g || !s) return hg_error(HG_ERR_INVALID, "fast: graph or schedule is NULL");
    HG_TRY(hg_status_prefix(hg_verify(g), "fast"));
    hg_fast *f = calloc(1, sizeof *f);
    if (!f) return hg_error(HG_ERR_NOMEM, "fast: program");
    f->g = g;
    f->s = s;
    hg_status st = hg_status_prefix(hg_exec_plan_make(g, s, &f->xp), "fast");
    if (st.code == HG_OK) st = plan_memory(g, s, by_node, &f->plan);
    if (st.code != HG_OK) {
        hg_fast_free(f);
        return st;
    }
    int n = g->n_nodes;
    f->mm = calloc((size_t)n + 1, sizeof *f->mm);
    f->kernel_of = calloc((size_t)n + 1, sizeof *f->kernel_of);
    f->vals = calloc((size_t)n + 1, sizeof *f->vals);
    size_t abytes = (size_t)f->plan.arena_bytes + HG_MEMPLAN_ALIGN;
    f->arena = arena_alloc(&abytes);
    if (!f->mm || !f->kernel_of || !f->vals || !f->arena) {
        hg_fast_free(f);
        return hg_error(HG_ERR_NOMEM, "fast: arena of %lld bytes", (long long)abytes);
    }
    f->arena_bytes = abytes;
    if (dnnl_engine_create(&f->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&f->strm, f->eng, dnnl_stream_default_flags) != dnnl_success) {
        hg_fast_free(f);
        return hg_error(HG_ERR_UNSUPPORTED, "fast: oneDNN CPU engine/stream");
    }
    st = setup_nodes(f);
    if (st.code == HG_OK) st = setup_impls(f);
    if (st.code == HG_OK) setup_matmul_groups(f);
    if (st.code != HG_OK) {
        hg_fast_free(f);
        return st;
    }
    *out = f;
    return hg_ok();
}

hg_status hg_fast_compile(const hg_graph *g, const hg_schedule *s, hg_fast **out) {
    return compile_with(g, s, 1, out);
}

hg_status hg_fast_compile_fused(const hg_graph *g, const hg_schedule *s, hg_fast **out) {
    return compile_with(g, s, 0, out);
}

int hg_fast_n_kernels(const hg_fast *f) { return f ? f->s->n_kernels : 0; }

const hg_fast_impl *hg_fast_impl_at(const hg_fast *f, int k) {
    return f && k >= 0 && k < f->s->n_kernels ? &f->impl[k] : NULL;
}

hg_status hg_fast_set_impl(hg_fast *f, int k, hg_fast_fn run, void *data,
                           void (*free_data)(void *data)) {
    if (!f || k < 0 || k >= f->s->n_kernels)
        return hg_error(HG_ERR_INVALID, "fast: set_impl: kernel %d out of range", k);
    if (!run) return hg_error(HG_ERR_INVALID, "fast: set_impl: kernel %d: no function", k);
    hg_fast_impl *im = &f->impl[k];
    if (im->free_data) im->free_data(im->data);
    im->run = run;
    im->data = data;
    im->free_data = free_data;
    return hg_ok();
}

const hg_mem_plan *hg_fast_plan(const hg_fast *f) { return f ? &f->plan : NULL; }

void hg_fast_matmul_counts(const hg_fast *f, int *n_dnnl, int *n_ref) {
    if (n_dnnl) *n_dnnl = f ? f->n_dnnl : 0;
    if (n_ref) *n_ref = f ? f->n_ref_mm : 0;
}

void hg_fast_epilogue_counts(const hg_fast *f, int *n_post, int *n_ref) {
    if (n_post) *n_post = f ? f->n_post : 0;
    if (n_ref) *n_ref = f ? f->n_post_ref : 0;
}

/* --------------------------------------------------------------- run */

static hg_status run_kernel(void *self, const hg_exec_plan *p, int k, hg_tensor *vals) {
    hg_fast *f = self;
    const hg_fast_impl *im = &f->impl[k];
    return im->run(im, vals);
}

hg_status hg_fast_run(hg_fast *f, hg_tensor_map *state, const hg_tensor_map *inputs,
                      hg_tensor_map *outputs, const hg_exec_hooks *hooks) {
    if (!f) return hg_error(HG_ERR_INVALID, "fast: program is NULL");
    if (!f->faulted) {
        /* fault every arena page in before the first kernel, not inside
         * the kernels (their times), and not in compile: hg_fast_compile
         * plans and builds primitives only (a cached jit program "starts
         * without compiling" in ~50 ms; faulting in the 223 MB arena of the
         * demo training step takes 20-500 ms on this VM, more without huge
         * pages) */
        memset(f->arena, 0, f->arena_bytes);
        f->faulted = 1;
    }
    hg_exec_backend b = {run_kernel, f, 0};
    return hg_exec_run(&f->xp, &b, f->vals, state, inputs, outputs, hooks);
}
