/* The fast backend's oneDNN 2.6 matmul primitives (codegen/fast_internal.h):
 * batch broadcasting and transposes expressed as strided memory
 * descriptors, created once per node at compile time. */
#include "codegen/fast_internal.h"

#include <string.h>

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
void hg_fast_mm_create(const hg_graph *g, hg_value v, dnnl_engine_t eng, hg_fast_mm *mm) {
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
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL) != dnnl_success) return;
    dnnl_status_t st = dnnl_primitive_create(&mm->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        mm->prim = NULL;
        return;
    }
    if (dnnl_memory_create(&mm->a, &amd, eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&mm->b, &bmd, eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&mm->c, &cmd, eng, DNNL_MEMORY_NONE) != dnnl_success) {
        if (mm->a) dnnl_memory_destroy(mm->a);
        if (mm->b) dnnl_memory_destroy(mm->b);
        dnnl_primitive_destroy(mm->prim);
        memset(mm, 0, sizeof *mm);
    }
}

hg_status hg_fast_mm_run(hg_value v, const hg_fast_mm *mm, dnnl_stream_t strm, void *a,
                         void *b, void *c) {
    if (dnnl_memory_set_data_handle(mm->a, a) != dnnl_success ||
        dnnl_memory_set_data_handle(mm->b, b) != dnnl_success ||
        dnnl_memory_set_data_handle(mm->c, c) != dnnl_success)
        return hg_error(HG_ERR_UNSUPPORTED, "node %%%d (matmul): oneDNN set_data_handle failed", (int)v);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mm->a}, {DNNL_ARG_WEIGHTS, mm->b}, {DNNL_ARG_DST, mm->c}};
    dnnl_status_t st = dnnl_primitive_execute(mm->prim, strm, 3, args);
    if (st == dnnl_success) st = dnnl_stream_wait(strm);
    if (st != dnnl_success)
        return hg_error(HG_ERR_UNSUPPORTED, "node %%%d (matmul): oneDNN status %d", (int)v, (int)st);
    return hg_ok();
}

void hg_fast_mm_destroy(hg_fast_mm *mm) {
    if (!mm->prim) return;
    dnnl_memory_destroy(mm->a);
    dnnl_memory_destroy(mm->b);
    dnnl_memory_destroy(mm->c);
    dnnl_primitive_destroy(mm->prim);
    memset(mm, 0, sizeof *mm);
}
