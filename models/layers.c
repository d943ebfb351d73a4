/* Layers with hierarchical parameter paths (SPEC 4): dense, layer norm,
 * MLP, multi-head attention, and the conditioned residual MLP of the
 * optional encoder/decoder (SPEC 3.4). */
#include <math.h>
#include <string.h>

#include "models/models.h"

hg_value hg_dense(hg_mb *mb, const char *name, hg_value x, int64_t out, int use_bias,
                  hg_init kernel_init) {
    hg_graph *g = mb->g;
    if (x == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    hg_shape xs = hg_value_shape(g, x);
    if (xs.rank < 1) {
        g->err = hg_error(HG_ERR_INVALID, "dense %s/%s: input is a scalar", mb->prefix, name);
        return HG_NONE;
    }
    int64_t in = xs.dim[xs.rank - 1];
    hg_mb_push(mb, "%s", name);
    hg_value k = hg_mb_param(mb, "kernel", hg_shape_of(2, in, out), kernel_init, 0, in, out);
    hg_value y;
    if (xs.rank == 1) {
        hg_value x2 = hg_reshape(g, x, hg_shape_of(2, (int64_t)1, in));
        y = hg_reshape(g, hg_matmul(g, x2, k, 0, 0), hg_shape_of(1, out));
    } else {
        y = hg_matmul(g, x, k, 0, 0);
    }
    if (use_bias) {
        hg_value b = hg_mb_param(mb, "bias", hg_shape_of(1, out), HG_INIT_ZEROS, 0, out, out);
        y = hg_add(g, y, b);
    }
    hg_mb_pop(mb);
    return y;
}

hg_value hg_layer_norm_p(hg_mb *mb, const char *name, hg_value x) {
    hg_graph *g = mb->g;
    if (x == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    hg_shape xs = hg_value_shape(g, x);
    int64_t d = xs.dim[xs.rank - 1];
    hg_mb_push(mb, "%s", name);
    hg_value sc = hg_mb_param(mb, "scale", hg_shape_of(1, d), HG_INIT_ONES, 0, d, d);
    hg_value bi = hg_mb_param(mb, "bias", hg_shape_of(1, d), HG_INIT_ZEROS, 0, d, d);
    hg_mb_pop(mb);
    return hg_add(g, hg_mul(g, hg_layer_norm(g, x, 1e-6), sc), bi);
}

hg_value hg_mlp(hg_mb *mb, const char *name, hg_value x, int n, const int64_t *widths) {
    hg_graph *g = mb->g;
    hg_mb_push(mb, "%s", name);
    for (int i = 0; i < n; i++) {
        char dn[32];
        snprintf(dn, sizeof dn, "dense_%d", i);
        x = hg_dense(mb, dn, x, widths[i], 1, HG_INIT_LECUN_NORMAL);
        if (i + 1 < n) x = hg_gelu(g, x);
    }
    hg_mb_pop(mb);
    return x;
}

/* [B, N, H*D] -> [B, H, N, D] */
static hg_value split_heads(hg_graph *g, hg_value x, int64_t B, int64_t N, int H, int64_t D) {
    static const int perm[4] = {0, 2, 1, 3};
    x = hg_reshape(g, x, hg_shape_of(4, B, N, (int64_t)H, D));
    return hg_transpose(g, x, perm);
}

/* Xavier-uniform Dense with bias whose fan_out is d_model (fan_in = input width). */
static hg_value dense_xavier(hg_mb *mb, const char *name, hg_value x, int64_t out) {
    return hg_dense(mb, name, x, out, 1, HG_INIT_XAVIER_UNIFORM);
}

hg_value hg_mha(hg_mb *mb, const char *name, hg_value xq, hg_value xkv, hg_value mask,
                int64_t d_model, int n_heads) {
    hg_graph *g = mb->g;
    if (xq == HG_NONE || xkv == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    if (n_heads <= 0 || d_model % n_heads) {
        g->err = hg_error(HG_ERR_INVALID, "mha %s/%s: d_model %lld not divisible by %d heads",
                          mb->prefix, name, (long long)d_model, n_heads);
        return HG_NONE;
    }
    hg_shape qs = hg_value_shape(g, xq), ks = hg_value_shape(g, xkv);
    if (qs.rank != 3 || ks.rank != 3 || qs.dim[0] != ks.dim[0]) {
        g->err = hg_error(HG_ERR_INVALID, "mha %s/%s: inputs must be [B, N, D] with equal B",
                          mb->prefix, name);
        return HG_NONE;
    }
    int64_t B = qs.dim[0], Nq = qs.dim[1], Nk = ks.dim[1], hd = d_model / n_heads;
    hg_mb_push(mb, "%s", name);
    hg_value q = split_heads(g, dense_xavier(mb, "query", xq, d_model), B, Nq, n_heads, hd);
    hg_value k = split_heads(g, dense_xavier(mb, "key", xkv, d_model), B, Nk, n_heads, hd);
    hg_value v = split_heads(g, dense_xavier(mb, "value", xkv, d_model), B, Nk, n_heads, hd);
    if (mask == HG_NONE) mask = hg_fill(g, mb->dtype, hg_shape_of(4, B, (int64_t)1, Nq, Nk), 1.0);
    hg_value a = hg_attention(g, q, k, v, mask, 1.0 / sqrt((double)hd));
    static const int perm[4] = {0, 2, 1, 3};
    a = hg_reshape(g, hg_transpose(g, a, perm), hg_shape_of(3, B, Nq, d_model));
    hg_value o = dense_xavier(mb, "out", a, d_model);
    hg_mb_pop(mb);
    return o;
}

hg_value hg_resnet_cond(hg_mb *mb, const char *name, hg_value z, hg_value cond,
                        int64_t d_hidden, int n_layers) {
    hg_graph *g = mb->g;
    if (z == HG_NONE || g->err.code != HG_OK) return HG_NONE;
    hg_shape zs = hg_value_shape(g, z);
    int64_t D = zs.dim[zs.rank - 1];
    hg_mb_push(mb, "%s", name);
    for (int l = 0; l < n_layers; l++) {
        hg_mb_push(mb, "layer_%d", l);
        hg_value h = hg_gelu(g, hg_layer_norm_p(mb, "ln_0", z));
        h = hg_dense(mb, "dense_0", h, d_hidden, 1, HG_INIT_LECUN_NORMAL);
        if (cond != HG_NONE) {
            hg_value zc = hg_dense(mb, "cond", cond, d_hidden, 0, HG_INIT_LECUN_NORMAL);
            hg_shape cs = hg_value_shape(g, zc); /* [B, d_hidden] -> [B, 1, d_hidden] */
            zc = hg_reshape(g, zc, hg_shape_of(3, cs.dim[0], (int64_t)1, d_hidden));
            h = hg_add(g, h, zc);
        }
        h = hg_gelu(g, hg_layer_norm_p(mb, "ln_1", h));
        h = hg_dense(mb, "dense_1", h, D, 1, HG_INIT_ZEROS);
        z = hg_add(g, z, h);
        hg_mb_pop(mb);
    }
    hg_mb_pop(mb);
    return z;
}
