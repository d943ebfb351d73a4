/* The fast backend's oneDNN 2.6 matmul primitives (codegen/fast_internal.h):
 * batch broadcasting and transposes expressed as strided memory
 * descriptors, a MATMUL kernel's epilogue (bias, residual, scale,
 * gelu_tanh) as post-ops, created once per kernel at compile time. */
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

/* Memory descriptors of f32 matmul node v: A, B and C (C also gives the
 * dims cd, of nd_ dims, the epilogue operands broadcast into). When A is
 * not transposed and B not batched, A's rows of all batches are one
 * contiguous [P M, K] matrix and the descriptors are 2-d (*collapsed = 1).
 * Returns 0 when there is nothing to compute or oneDNN refuses. */
static int mm_descs(const hg_graph *g, hg_value v, dnnl_memory_desc_t *amd,
                    dnnl_memory_desc_t *bmd, dnnl_memory_desc_t *cmd, int *nd_out,
                    dnnl_dims_t cd, int *collapsed) {
    const hg_node *nd = &g->nodes[v];
    hg_shape sa = g->nodes[nd->in[0]].shape, sb = g->nodes[nd->in[1]].shape, so = nd->shape;
    int r = so.rank, ta = nd->attrs.trans_a, tb = nd->attrs.trans_b;
    int64_t M = so.dim[r - 2], N = so.dim[r - 1];
    int64_t K = ta ? sa.dim[sa.rank - 2] : sa.dim[sa.rank - 1];
    if (hg_shape_numel(so) == 0 || K == 0 || r > DNNL_MAX_NDIMS) return 0;
    int b_batched = 0;
    for (int d = 0; d < sb.rank - 2; d++)
        if (sb.dim[d] != 1) b_batched = 1;
    dnnl_dims_t ad, as, bd, bs, cs;
    int nd_ = r;
    *collapsed = !ta && !b_batched;
    if (*collapsed) {
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
    *nd_out = nd_;
    return dnnl_memory_desc_init_by_strides(amd, nd_, ad, dnnl_f32, as) == dnnl_success &&
           dnnl_memory_desc_init_by_strides(bmd, nd_, bd, dnnl_f32, bs) == dnnl_success &&
           dnnl_memory_desc_init_by_strides(cmd, nd_, cd, dnnl_f32, cs) == dnnl_success;
}

/* Descriptor of epilogue operand shape su (numpy-broadcast into the
 * matmul's shape so) over the dst dims cd[0..nd_): dims 1 where it
 * broadcasts. Collapsed dst ([P M, N]): su must be the whole shape or
 * broadcast over every dim but the last. Returns 0 if not expressible. */
static int operand_md(hg_shape su, hg_shape so, int nd_, const dnnl_dims_t cd, int collapsed,
                      dnnl_memory_desc_t *md) {
    dnnl_dims_t d, st;
    if (!collapsed) {
        padded_dims(su, nd_, d, st);
    } else {
        padded_dims(su, so.rank, d, st);
        int lead_one = 1;
        for (int k = 0; k < so.rank - 1; k++) lead_one = lead_one && d[k] == 1;
        if (hg_shape_eq(su, so)) {
            d[0] = cd[0]; d[1] = cd[1];
        } else if (lead_one) {
            d[1] = d[so.rank - 1]; d[0] = 1;
        } else {
            return 0;
        }
        st[1] = 1; st[0] = d[1];
    }
    return dnnl_memory_desc_init_by_strides(md, nd_, d, dnnl_f32, st) == dnnl_success;
}

/* Appends epilogue member m (reading prev) to po; its binary operand's
 * descriptor goes to mm->bin slot. Returns 0 if m is not a post-op. */
static int append_post(const hg_graph *g, hg_value m, hg_value prev, int nd_, const dnnl_dims_t cd,
                       int collapsed, dnnl_post_ops_t po, dnnl_memory_desc_t *bmds,
                       hg_fast_mm *mm) {
    const hg_node *e = &g->nodes[m];
    if (e->dtype != HG_F32) return 0;
    if (e->op == HG_OP_gelu_tanh)
        return e->in[0] == prev &&
               dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_tanh, 0.0f, 0.0f) ==
                   dnnl_success;
    if ((e->op != HG_OP_add && e->op != HG_OP_mul) || mm->n_bin == HG_FAST_MAX_POST) return 0;
    if ((e->in[0] == prev) == (e->in[1] == prev)) return 0; /* exactly one reads the chain */
    hg_value u = e->in[0] == prev ? e->in[1] : e->in[0];
    if (g->nodes[u].dtype != HG_F32) return 0;
    dnnl_memory_desc_t *md = &bmds[mm->n_bin];
    if (!operand_md(g->nodes[u].shape, e->shape, nd_, cd, collapsed, md)) return 0;
    if (dnnl_post_ops_append_binary(po, e->op == HG_OP_add ? dnnl_binary_add : dnnl_binary_mul,
                                    md) != dnnl_success)
        return 0;
    mm->bin_index[mm->n_bin] = mm->n_post;
    mm->bin_src[mm->n_bin++] = u;
    return 1;
}

/* The primitive descriptor with epi[0..n_epi) as post-ops (NULL if refused). */
static dnnl_primitive_desc_t make_pd(const hg_graph *g, hg_value v, const hg_value *epi,
                                     int n_epi, const dnnl_matmul_desc_t *desc, int nd_,
                                     const dnnl_dims_t cd, int collapsed,
                                     dnnl_memory_desc_t *bmds, dnnl_engine_t eng,
                                     hg_fast_mm *mm) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int ok = n_epi <= HG_FAST_MAX_POST;
    if (ok && n_epi > 0) {
        ok = dnnl_post_ops_create(&po) == dnnl_success;
        for (int i = 0; ok && i < n_epi; i++, mm->n_post++)
            ok = append_post(g, epi[i], i ? epi[i - 1] : v, nd_, cd, collapsed, po, bmds, mm);
        ok = ok && dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    if (ok && dnnl_primitive_desc_create(&pd, desc, attr, eng, NULL) != dnnl_success) pd = NULL;
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (po) dnnl_post_ops_destroy(po);
    return pd;
}

/* Builds the primitive of f32 matmul node v with its epilogue as post-ops;
 * leaves mm zeroed (prim NULL) when oneDNN refuses. */
void hg_fast_mm_create(const hg_graph *g, hg_value v, const hg_value *epi, int n_epi,
                       dnnl_engine_t eng, hg_fast_mm *mm) {
    memset(mm, 0, sizeof *mm);
    dnnl_memory_desc_t amd, bmd, cmd, bmds[HG_FAST_MAX_POST];
    dnnl_dims_t cd;
    int nd_, collapsed;
    if (!mm_descs(g, v, &amd, &bmd, &cmd, &nd_, cd, &collapsed)) return;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &amd, &bmd, NULL, &cmd) != dnnl_success) return;
    dnnl_primitive_desc_t pd =
        make_pd(g, v, epi, n_epi, &desc, nd_, cd, collapsed, bmds, eng, mm);
    if (!pd) {
        memset(mm, 0, sizeof *mm);
        return;
    }
    dnnl_status_t st = dnnl_primitive_create(&mm->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    int ok = st == dnnl_success &&
             dnnl_memory_create(&mm->a, &amd, eng, DNNL_MEMORY_NONE) == dnnl_success &&
             dnnl_memory_create(&mm->b, &bmd, eng, DNNL_MEMORY_NONE) == dnnl_success &&
             dnnl_memory_create(&mm->c, &cmd, eng, DNNL_MEMORY_NONE) == dnnl_success;
    for (int i = 0; ok && i < mm->n_bin; i++)
        ok = dnnl_memory_create(&mm->bin[i], &bmds[i], eng, DNNL_MEMORY_NONE) == dnnl_success;
    if (!ok) {
        if (st != dnnl_success) mm->prim = NULL;
        hg_fast_mm_destroy(mm);
    }
}

hg_status hg_fast_mm_run(hg_value v, const hg_fast_mm *mm, dnnl_stream_t strm, void *a,
                         void *b, void *c, const hg_tensor *vals) {
    dnnl_exec_arg_t args[3 + HG_FAST_MAX_POST] = {
        {DNNL_ARG_SRC, mm->a}, {DNNL_ARG_WEIGHTS, mm->b}, {DNNL_ARG_DST, mm->c}};
    int ok = dnnl_memory_set_data_handle(mm->a, a) == dnnl_success &&
             dnnl_memory_set_data_handle(mm->b, b) == dnnl_success &&
             dnnl_memory_set_data_handle(mm->c, c) == dnnl_success;
    for (int i = 0; ok && i < mm->n_bin; i++) {
        ok = dnnl_memory_set_data_handle(mm->bin[i], vals[mm->bin_src[i]].data) == dnnl_success;
        args[3 + i].arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(mm->bin_index[i]) | DNNL_ARG_SRC_1;
        args[3 + i].memory = mm->bin[i];
    }
    if (!ok)
        return hg_error(HG_ERR_UNSUPPORTED, "node %%%d (matmul): oneDNN set_data_handle failed", (int)v);
    dnnl_status_t st = dnnl_primitive_execute(mm->prim, strm, 3 + mm->n_bin, args);
    if (st == dnnl_success) st = dnnl_stream_wait(strm);
    if (st != dnnl_success)
        return hg_error(HG_ERR_UNSUPPORTED, "node %%%d (matmul): oneDNN status %d", (int)v, (int)st);
    return hg_ok();
}

void hg_fast_mm_destroy(hg_fast_mm *mm) {
    if (mm->a) dnnl_memory_destroy(mm->a);
    if (mm->b) dnnl_memory_destroy(mm->b);
    if (mm->c) dnnl_memory_destroy(mm->c);
    for (int i = 0; i < mm->n_bin; i++)
        if (mm->bin[i]) dnnl_memory_destroy(mm->bin[i]);
    if (mm->prim) dnnl_primitive_destroy(mm->prim);
    memset(mm, 0, sizeof *mm);
}
