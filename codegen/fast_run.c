/* The fast backend (codegen/fast.h): a precomputed memory plan over one
 * arena reused by every run, the reference kernels on arena views, and
 * oneDNN matmul primitives cached per node. */
#include "codegen/fast.h"
#include "codegen/ref_internal.h"

#include <dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} fast_mm;

struct hg_fast {
    const hg_graph *g; /* borrowed */
    hg_mem_plan plan;
    char *arena;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    fast_mm *mm;      /* per node; prim NULL where the reference kernel runs */
    hg_tensor *vals;  /* per node: views of this run's data */
    int n_dnnl, n_ref_mm;
};

/* ------------------------------------------------------------ oneDNN */

/* Row-major strides of the last `rank` dims of s, padded on the left with
 * size-1 dims to `r` dims: dims[r], strides[r]. */
static void padded_dims(hg_shape s, int r, dnnl_dims_t dims, dnnl_dims_t strides) {
    int64_t st = 1;
    for (int d = r - 1; d >= 0; d--) {
        int id = d - (r - s.rank);
        dims[d] = id >= 0 ? s.dim[id] : 1;
        strides[d] = st;
        st *= dims[d];
    }
}

/* Builds the primitive of f32 matmul node v; leaves mm->prim NULL when
 * oneDNN refuses (the reference kernel then runs). */
static void mm_create(hg_fast *f, hg_value v, fast_mm *mm) {
    const hg_graph *g = f->g;
    const hg_node *nd = &g->nodes[v];
    hg_shape sa = g->nodes[nd->in[0]].shape, sb = g->nodes[nd->in[1]].shape, so = nd->shape;
    int r = so.rank, ta = nd->attrs.trans_a, tb = nd->attrs.trans_b;
    int64_t M = so.dim[r - 2], N = so.dim[r - 1];
    int64_t K = ta ? sa.dim[sa.rank - 2] : sa.dim[sa.rank - 1];
    if (hg_shape_numel(so) == 0 || K == 0 || r > DNNL_MAX_NDIMS) return;
    int b_batched = 0;
    for (int d = 0; d < sb.rank - 2; d++)
        if (sb.dim[d] != 1) b_batched = 1;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad, as, bd, bs, cd, cs;
    int nd_ = r;
    if (!ta && !b_batched) {
        /* A's rows (all batches) are one contiguous [P M, K] matrix */
        int64_t P = hg_shape_numel(so) / (M * N);
        nd_ = 2;
        ad[0] = P * M; ad[1] = K; as[0] = K; as[1] = 1;
        bd[0] = K; bd[1] = N;
        if (tb) { bs[0] = 1; bs[1] = K; } else { bs[0] = N; bs[1] = 1; }
        cd[0] = P * M; cd[1] = N; cs[0] = N; cs[1] = 1;
    } else {
        padded_dims(sa, r, ad, as);
        padded_dims(sb, r, bd, bs);
        padded_dims(so, r, cd, cs);
        /* the matrix parts as [M, K] and [K, N] views of the stored data */
        if (ta) { ad[r - 2] = M; ad[r - 1] = K; as[r - 2] = 1; as[r - 1] = M; }
        if (tb) { bd[r - 2] = K; bd[r - 1] = N; bs[r - 2] = 1; bs[r - 1] = K; }
    }
    if (dnnl_memory_desc_init_by_strides(&amd, nd_, ad, dnnl_f32, as) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&bmd, nd_, bd, dnnl_f32, bs) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&cmd, nd_, cd, dnnl_f32, cs) != dnnl_success)
        return;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &amd, &bmd, NULL, &cmd) != dnnl_success) return;
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, f->eng, NULL) != dnnl_success) return;
    dnnl_status_t st = dnnl_primitive_create(&mm->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        mm->prim = NULL;
        return;
    }
    if (dnnl_memory_create(&mm->a, &amd, f->eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&mm->b, &bmd, f->eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&mm->c, &cmd, f->eng, DNNL_MEMORY_NONE) != dnnl_success) {
        if (mm->a) dnnl_memory_destroy(mm->a);
        if (mm->b) dnnl_memory_destroy(mm->b);
        dnnl_primitive_destroy(mm->prim);
        memset(mm, 0, sizeof *mm);
    }
}

static hg_status mm_run(hg_fast *f, hg_value v, const fast_mm *mm, void *a, void *b, void *c) {
    if (dnnl_memory_set_data_handle(mm->a, a) != dnnl_success ||
        dnnl_memory_set_data_handle(mm->b, b) != dnnl_success ||
        dnnl_memory_set_data_handle(mm->c, c) != dnnl_success)
        return hg_error(HG_ERR_UNSUPPORTED, "node %%%d (matmul): oneDNN set_data_handle failed", (int)v);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mm->a}, {DNNL_ARG_WEIGHTS, mm->b}, {DNNL_ARG_DST, mm->c}};
    dnnl_status_t st = dnnl_primitive_execute(mm->prim, f->strm, 3, args);
    if (st == dnnl_success) st = dnnl_stream_wait(f->strm);
    if (st != dnnl_success)
        return hg_error(HG_ERR_UNSUPPORTED, "node %%%d (matmul): oneDNN status %d", (int)v, (int)st);
    return hg_ok();
}

/* ----------------------------------------------------------- compile */

void hg_fast_free(hg_fast *f) {
    if (!f) return;
    if (f->mm)
        for (int v = 0; v < f->g->n_nodes; v++) {
            fast_mm *m = &f->mm[v];
            if (!m->prim) continue;
            dnnl_memory_destroy(m->a);
            dnnl_memory_destroy(m->b);
            dnnl_memory_destroy(m->c);
            dnnl_primitive_destroy(m->prim);
        }
    free(f->mm);
    free(f->vals);
    free(f->arena);
    if (f->strm) dnnl_stream_destroy(f->strm);
    if (f->eng) dnnl_engine_destroy(f->eng);
    hg_memplan_free(&f->plan);
    free(f);
}

hg_status hg_fast_compile(const hg_graph *g, hg_fast **out) {
    *out = NULL;
    if (!g) return hg_error(HG_ERR_INVALID, "fast: graph is NULL");
    HG_TRY(hg_status_prefix(hg_verify(g), "fast"));
    hg_fast *f = calloc(1, sizeof *f);
    if (!f) return hg_error(HG_ERR_NOMEM, "fast: program");
    f->g = g;
    hg_status s = hg_memplan(g, &f->plan);
    if (s.code != HG_OK) {
        free(f);
        return hg_status_prefix(s, "fast");
    }
    int n = g->n_nodes;
    f->mm = calloc((size_t)n + 1, sizeof *f->mm);
    f->vals = calloc((size_t)n + 1, sizeof *f->vals);
    size_t abytes = (size_t)f->plan.arena_bytes + HG_MEMPLAN_ALIGN;
    f->arena = aligned_alloc(HG_MEMPLAN_ALIGN, abytes);
    if (!f->mm || !f->vals || !f->arena) {
        hg_fast_free(f);
        return hg_error(HG_ERR_NOMEM, "fast: arena of %lld bytes", (long long)abytes);
    }
    memset(f->arena, 0, abytes); /* fault every page in now, not in the runs */
    if (dnnl_engine_create(&f->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&f->strm, f->eng, dnnl_stream_default_flags) != dnnl_success) {
        hg_fast_free(f);
        return hg_error(HG_ERR_UNSUPPORTED, "fast: oneDNN CPU engine/stream");
    }
    for (int v = 0; v < n; v++) {
        const hg_node *nd = &g->nodes[v];
        if (!f->plan.needed[v] || nd->op != HG_OP_matmul) continue;
        if (nd->dtype == HG_F32) mm_create(f, v, &f->mm[v]);
        if (f->mm[v].prim) f->n_dnnl++;
        else f->n_ref_mm++;
    }
    *out = f;
    return hg_ok();
}

const hg_mem_plan *hg_fast_plan(const hg_fast *f) { return f ? &f->plan : NULL; }

void hg_fast_matmul_counts(const hg_fast *f, int *n_dnnl, int *n_ref) {
    if (n_dnnl) *n_dnnl = f ? f->n_dnnl : 0;
    if (n_ref) *n_ref = f ? f->n_ref_mm : 0;
}

/* --------------------------------------------------------------- run */

/* Points every needed value's view at its data: leaves at the caller's
 * tensors (checked), aliases at their root's data, the rest into the arena. */
static hg_status bind(hg_fast *f, hg_tensor_map *state, const hg_tensor_map *inputs) {
    const hg_graph *g = f->g;
    const hg_mem_plan *p = &f->plan;
    for (int v = 0; v < g->n_nodes; v++) {
        if (!p->needed[v]) continue;
        const hg_node *nd = &g->nodes[v];
        hg_tensor *t = &f->vals[v];
        t->dtype = nd->dtype;
        t->shape = nd->shape;
        t->owned = 0;
        hg_tensor *fed = NULL;
        switch (p->kind[v]) {
        case HG_MP_EXTERNAL:
            if (nd->op == HG_OP_constant) t->data = nd->data;
            else {
                int is_in = nd->op == HG_OP_input;
                HG_TRY(hg_ref_lookup_leaf(is_in ? inputs : state, is_in ? "input" : "state", nd, v, &fed));
                t->data = fed->data;
            }
            break;
        case HG_MP_ALIAS:
            t->data = f->vals[nd->in[0]].data;
            break;
        default:
            t->data = f->arena + p->offset[v];
            break;
        }
    }
    return hg_ok();
}

/* Ops whose reference kernel assigns every output element need no zero
 * fill of their arena output: the op table's writes_all (ir/op_traits.def).
 * A kernel that stopped writing every element would show in the
 * differential tests, whose later runs see the previous run's values. */
static int overwrites(hg_op op) { return hg_op_table[op].writes_all; }

static hg_status exec_node(hg_fast *f, hg_value v) {
    const hg_node *nd = &f->g->nodes[v];
    const hg_mem_plan *p = &f->plan;
    if (p->kind[v] == HG_MP_ALIAS) return hg_ok();
    hg_tensor *out = &f->vals[v];
    const fast_mm *mm = &f->mm[v];
    if (mm->prim) return mm_run(f, v, mm, f->vals[nd->in[0]].data, f->vals[nd->in[1]].data, out->data);
    hg_ref_kernel k = hg_ref_kernel_of(nd->op);
    if (!k) return hg_error(HG_ERR_UNSUPPORTED, "node %%%d: op %d has no kernel", (int)v, (int)nd->op);
    const hg_tensor *ins[HG_MAX_INPUTS];
    for (int j = 0; j < nd->n_in; j++) ins[j] = &f->vals[nd->in[j]];
    /* the kernel contract: a zero-filled output, except for the kernels
     * that assign every output element (overwrites()). An in-place output
     * holds its input instead: only elementwise kernels get one, and they
     * write every element from the same elements of their inputs. */
    if (p->kind[v] == HG_MP_OWN && !overwrites(nd->op)) memset(out->data, 0, (size_t)p->bytes[v]);
    hg_status s = k(nd, ins, out);
    if (s.code != HG_OK) return hg_status_prefix(s, "node %%%d (%s)", (int)v, hg_op_table[nd->op].name);
    return hg_ok();
}

/* Outputs (owned copies) into `outputs`, then updates into `state`. Every
 * allocation happens first; an update whose value lives in a caller's
 * buffer (an alias of a state or input) is copied first too, so it sees
 * the old values whatever the order of the updates. */
static hg_status commit(hg_fast *f, hg_tensor_map *state, hg_tensor_map *outputs) {
    const hg_graph *g = f->g;
    int no = g->n_outputs, nu = g->n_updates;
    if (no > 0 && !outputs) return hg_error(HG_ERR_INVALID, "fast: graph has outputs but no output map");
    hg_tensor *tmp = calloc((size_t)(no + nu) + 1, sizeof *tmp);
    if (!tmp) return hg_error(HG_ERR_NOMEM, "fast: output copies");
    hg_status s = hg_ok();
    for (int i = 0; i < no + nu && s.code == HG_OK; i++) {
        hg_value v = i < no ? g->outputs[i].value : g->updates[i - no].value;
        if (i >= no && f->plan.offset[v] >= 0) continue; /* arena: copied below */
        s = hg_tensor_copy(&tmp[i], &f->vals[v]);
    }
    if (s.code == HG_OK) {
        for (int i = 0; i < no && s.code == HG_OK; i++) s = hg_map_put(outputs, g->outputs[i].name, &tmp[i]);
        for (int i = 0; i < nu && s.code == HG_OK; i++) {
            const hg_node *sn = &g->nodes[g->updates[i].state];
            hg_tensor *dst = hg_map_get(state, sn->attrs.name); /* checked by bind */
            const hg_tensor *src = tmp[no + i].data ? &tmp[no + i] : &f->vals[g->updates[i].value];
            size_t nb = hg_tensor_bytes(dst);
            if (nb) memcpy(dst->data, src->data, nb);
        }
    }
    for (int i = 0; i < no + nu; i++) hg_tensor_free(&tmp[i]);
    free(tmp);
    return s;
}

hg_status hg_fast_run(hg_fast *f, hg_tensor_map *state, const hg_tensor_map *inputs,
                      hg_tensor_map *outputs, const hg_ref_hooks *hooks) {
    if (!f) return hg_error(HG_ERR_INVALID, "fast: program is NULL");
    HG_TRY(bind(f, state, inputs));
    const hg_graph *g = f->g;
    int timed = hooks && hooks->node_done;
    for (int v = 0; v < g->n_nodes; v++) {
        if (!f->plan.needed[v]) continue;
        double t0 = timed ? omp_get_wtime() : 0;
        if (f->plan.kind[v] != HG_MP_EXTERNAL) HG_TRY(exec_node(f, v));
        if (timed) hooks->node_done(hooks->user, g, v, omp_get_wtime() - t0);
    }
    return commit(f, state, outputs);
}
