/* The k-NN graph and edge features of the graph score network (SPEC 4.2):
 * neighbour indices from the `knn` op, senders/receivers with dropped
 * (padded) edges as -1, periodic relative positions as edge features. */
#include <stdarg.h>
#include <stdio.h>

#include "models/gnn.h"

/* Records a sticky error in g (unless one is there) and returns it. */
static hg_status fail(hg_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static hg_status fail(hg_graph *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hg_status s = hg_verror(HG_ERR_INVALID, fmt, ap);
    va_end(ap);
    if (g && g->err.code == HG_OK) g->err = s;
    return s;
}

/* A [3] constant of dtype t. */
static hg_value vec3(hg_graph *g, hg_dtype t, const double v[3]) {
    if (t == HG_F64) return hg_constant(g, t, hg_shape_of(1, (int64_t)3), v);
    float f[3] = {(float)v[0], (float)v[1], (float)v[2]};
    return hg_constant(g, t, hg_shape_of(1, (int64_t)3), f);
}

hg_status hg_gnn_edges_build(hg_graph *g, hg_value z, hg_value mask, int k,
                             const double mean[3], const double std[3], double box,
                             hg_gnn_edges *out) {
    out->senders = out->receivers = out->keep = out->keep_f = out->features = HG_NONE;
    out->n_edges = 0;
    if (!g) return hg_error(HG_ERR_INVALID, "gnn edges: no graph");
    if (g->err.code != HG_OK) return g->err;
    if (z == HG_NONE || mask == HG_NONE) return fail(g, "gnn edges: missing z or mask");
    hg_dtype t = hg_value_dtype(g, z);
    hg_shape zs = hg_value_shape(g, z), ms = hg_value_shape(g, mask);
    char b1[64], b2[64];
    if (!hg_dtype_is_float(t) || zs.rank != 3 || zs.dim[2] < 3)
        return fail(g, "gnn edges: z must be float [B, N, F >= 3], got %s %s",
                    hg_dtype_name(t), hg_shape_str(zs, b1, sizeof b1));
    int64_t B = zs.dim[0], N = zs.dim[1];
    if (hg_value_dtype(g, mask) != t || ms.rank != 2 || ms.dim[0] != B || ms.dim[1] != N)
        return fail(g, "gnn edges: mask must be %s [B, N] = [%lld, %lld], got %s %s",
                    hg_dtype_name(t), (long long)B, (long long)N,
                    hg_dtype_name(hg_value_dtype(g, mask)), hg_shape_str(ms, b2, sizeof b2));
    if (k < 1 || k > N)
        return fail(g, "gnn edges: k = %d must be in 1..N = %lld", k, (long long)N);
    for (int a = 0; a < 3; a++)
        if (!(std[a] > 0))
            return fail(g, "gnn edges: std[%d] = %g must be > 0", a, std[a]);
    if (!(box >= 0)) return fail(g, "gnn edges: box side %g must be >= 0", box);

    /* physical positions p [B, N, 3], wrapped into [0, L) */
    hg_value p = hg_slice_axis(g, z, 2, 0, 3);
    p = hg_add(g, hg_mul(g, p, vec3(g, t, std)), vec3(g, t, mean));
    hg_value L = hg_scalar(g, t, box);
    if (box > 0) p = hg_binary(g, HG_OP_floor_mod, p, L);

    /* neighbour indices [B, N, k]; -1 = missing / padded */
    hg_value idx = hg_knn(g, p, mask, k, box);
    hg_value keep = hg_binary(g, HG_OP_ge, idx, hg_scalar(g, HG_I32, 0));
    hg_shape es = hg_shape_of(3, B, N, (int64_t)k);
    hg_value iota = hg_iota(g, HG_I32, es, 1);
    hg_value snd = hg_where(g, keep, iota, hg_scalar(g, HG_I32, -1));

    /* dr_ij = (p_i - p_j) + 1e-5, minimum image, / std */
    hg_value pj = hg_gather(g, p, idx, 1); /* [B, N, k, 3] */
    hg_value pi = hg_reshape(g, p, hg_shape_of(4, B, N, (int64_t)1, (int64_t)3));
    hg_value dr = hg_add_s(g, hg_sub(g, pi, pj), 1e-5);
    if (box > 0) {
        hg_value n = hg_unary(g, HG_OP_round, hg_div(g, dr, L));
        dr = hg_sub(g, dr, hg_mul(g, n, L));
    }
    hg_value ef = hg_div(g, dr, vec3(g, t, std));
    hg_value keep4 = hg_reshape(g, keep, hg_shape_of(4, B, N, (int64_t)k, (int64_t)1));
    ef = hg_where(g, keep4, ef, hg_scalar(g, t, 0.0));

    int64_t E = N * k;
    out->senders = hg_reshape(g, snd, hg_shape_of(2, B, E));
    out->receivers = hg_reshape(g, idx, hg_shape_of(2, B, E));
    out->keep = hg_reshape(g, keep, hg_shape_of(3, B, E, (int64_t)1));
    out->keep_f = hg_cast(g, out->keep, t);
    out->features = hg_reshape(g, ef, hg_shape_of(3, B, E, (int64_t)3));
    out->n_edges = E;
    return hg_graph_status(g);
}
