/* The per-op traits of the op table (ir/op_traits.def): every op has
 * exactly one row; the dtype rule is the same fact for hg_infer and the
 * reference kernels (square on i32 included); writes_all holds for the
 * reference kernels (an output buffer full of garbage gives the same
 * result as a zero-filled one); the FLOP rules give hand-counted values;
 * the fusion classes agree with the op flags. */
#include "codegen/codegen.h"
#include "codegen/ref_internal.h"
#include "tests/hg_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

HG_LABELS(fast)

HG_TEST(every_op_has_one_traits_row) {
    int rows[HG_NUM_OPS] = {0};
#define HG_OP_TRAITS(n, ...) rows[HG_OP_##n]++;
#include "ir/op_traits.def"
    for (int op = 0; op < HG_NUM_OPS; op++) {
        const hg_op_info *t = &hg_op_table[op];
        if (rows[op] != 1) HG_FAIL("op %s has %d rows in ir/op_traits.def", t->name, rows[op]);
        if (!t->flops || !t->bytes || !t->fuse || !t->dtypes)
            HG_FAIL("op %s: traits incomplete", t->name);
    }
}

HG_TEST(traits_agree_with_flags) {
    for (int op = 0; op < HG_NUM_OPS; op++) {
        const hg_op_info *t = &hg_op_table[op];
        if (t->flags & HG_OPF_ELEMENTWISE) {
            HG_CHECK(t->fuse == HG_FUSE_ELEMENTWISE);
            HG_CHECK(t->writes_all);
            HG_CHECK(t->flops == HG_FLOPS_OUT && t->flops_k == 1);
            HG_CHECK(t->attrs == 0);
        }
        HG_CHECK(((t->flags & HG_OPF_REDUCE) != 0) == (t->fuse == HG_FUSE_REDUCE));
        if (t->flags & HG_OPF_LEAF) {
            HG_CHECK(t->bytes == HG_BYTES_NONE && t->flops == HG_FLOPS_NONE);
            HG_CHECK(!t->writes_all);
        } else {
            HG_CHECK(t->bytes == HG_BYTES_IO);
        }
    }
    HG_CHECK(hg_op_table[HG_OP_matmul].fuse == HG_FUSE_MATMUL);
    HG_CHECK(hg_op_table[HG_OP_softmax].fuse == HG_FUSE_ROW);
    HG_CHECK(hg_op_table[HG_OP_layer_norm].fuse == HG_FUSE_ROW);
    HG_CHECK(hg_op_table[HG_OP_broadcast_to].fuse == HG_FUSE_BROADCAST);
    HG_CHECK(hg_op_table[HG_OP_random_normal].fuse == HG_FUSE_ELEMENTWISE);
    HG_CHECK(hg_op_table[HG_OP_slice].attrs == (HG_ATTR_BIT(STARTS) | HG_ATTR_BIT(STEPS)));
}

/* A graph with one node of op on inputs of dtype t (rank-1, 5 elements),
 * values chosen per dtype; returns the node or HG_NONE (rejected). */
static hg_value one_node(hg_graph *g, hg_op op, hg_dtype t) {
    static const float f[5] = {1.5f, -2.0f, 0.0f, 3.25f, -0.5f};
    static const double d[5] = {1.5, -2.0, 0.0, 3.25, -0.5};
    static const int32_t i[5] = {46341, -3, INT32_MIN, 7, 0};
    static const uint8_t b[5] = {1, 0, 1, 1, 0};
    const void *data = t == HG_F32 ? (const void *)f : t == HG_F64 ? (const void *)d
                     : t == HG_I32 ? (const void *)i : (const void *)b;
    hg_shape s = hg_shape_of(1, (int64_t)5);
    hg_value x = hg_constant(g, t, s, data);
    hg_value in[3] = {x, x, x};
    if (op == HG_OP_where) in[0] = hg_constant(g, HG_BOOL, s, b);
    hg_attrs at;
    memset(&at, 0, sizeof at);
    char msg[256];
    hg_dtype ot = t;
    hg_shape os = s;
    if (hg_infer(g, op, hg_op_table[op].arity, in, &at, &ot, &os, msg, sizeof msg)) return HG_NONE;
    return hg_add_node(g, op, t, s, hg_op_table[op].arity, in, &at);
}

/* Runs node v's reference kernel on the node's constant inputs into out
 * (allocated by the caller). */
static hg_status run_kernel(const hg_graph *g, hg_value v, hg_tensor *out) {
    const hg_node *n = &g->nodes[v];
    hg_tensor ts[HG_MAX_INPUTS];
    const hg_tensor *ins[HG_MAX_INPUTS];
    for (int k = 0; k < n->n_in; k++) {
        const hg_node *c = &g->nodes[n->in[k]];
        ts[k] = (hg_tensor){c->dtype, c->shape, c->data, 0};
        ins[k] = &ts[k];
    }
    hg_ref_kernel kern = hg_ref_kernel_of(n->op);
    if (!kern) return hg_error(HG_ERR_UNSUPPORTED, "no kernel");
    return kern(n, ins, out);
}

HG_TEST(infer_and_kernels_share_the_dtype_rule) {
    /* written from the op documentation in ir.h, not from the tables */
    static const hg_op i32_ok[] = {HG_OP_neg, HG_OP_abs, HG_OP_sign, HG_OP_square, HG_OP_add,
                                   HG_OP_sub, HG_OP_mul, HG_OP_maximum, HG_OP_minimum,
                                   HG_OP_floor_mod, HG_OP_eq, HG_OP_ne, HG_OP_lt, HG_OP_le,
                                   HG_OP_gt, HG_OP_ge, HG_OP_where};
    static const hg_op bool_ok[] = {HG_OP_eq, HG_OP_ne, HG_OP_logical_and, HG_OP_logical_or,
                                    HG_OP_logical_not, HG_OP_where};
    unsigned want[HG_NUM_OPS] = {0};
    for (int op = 0; op < HG_NUM_OPS; op++)
        if (hg_op_table[op].flags & HG_OPF_ELEMENTWISE) want[op] = HG_DTS_FLOAT;
    want[HG_OP_logical_and] = want[HG_OP_logical_or] = want[HG_OP_logical_not] = 0;
    for (size_t k = 0; k < sizeof i32_ok / sizeof i32_ok[0]; k++) want[i32_ok[k]] |= HG_DTS_I32;
    for (size_t k = 0; k < sizeof bool_ok / sizeof bool_ok[0]; k++) want[bool_ok[k]] |= HG_DTS_BOOL;
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!(hg_op_table[op].flags & HG_OPF_ELEMENTWISE)) continue;
        for (int t = 0; t < HG_NUM_DTYPES; t++) {
            hg_graph *g = hg_graph_new();
            hg_value v = one_node(g, (hg_op)op, (hg_dtype)t);
            int accepted = v != HG_NONE;
            int expected = (want[op] >> t) & 1;
            if (accepted != expected) {
                hg_graph_free(g);
                HG_FAIL("infer %s %s for %s", accepted ? "accepts" : "rejects",
                        hg_op_table[op].name, hg_dtype_name((hg_dtype)t));
            }
            if (!accepted) { /* the kernel, given such a node, refuses it */
                hg_node n;
                memset(&n, 0, sizeof n);
                n.op = (hg_op)op;
                n.dtype = (hg_dtype)t;
                n.shape = hg_shape_of(1, (int64_t)5);
                n.n_in = hg_op_table[op].arity;
                uint8_t buf[5 * 8] = {0};
                hg_tensor x = {(hg_dtype)t, n.shape, buf, 0}, c = {HG_BOOL, n.shape, buf, 0};
                const hg_tensor *ins[3] = {&x, &x, &x};
                if (op == HG_OP_where) ins[0] = &c;
                uint8_t obuf[5 * 8];
                hg_tensor out = {(hg_dtype)t, n.shape, obuf, 0};
                hg_status s = hg_ref_elementwise(&n, ins, &out);
                hg_graph_free(g);
                if (s.code != HG_ERR_UNSUPPORTED)
                    HG_FAIL("kernel runs %s on %s, which infer rejects", hg_op_table[op].name,
                            hg_dtype_name((hg_dtype)t));
                continue;
            }
            hg_tensor out;
            HG_CHECK_OK(hg_tensor_alloc(&out, g->nodes[v].dtype, g->nodes[v].shape));
            hg_status s = run_kernel(g, v, &out);
            hg_tensor_free(&out);
            hg_graph_free(g);
            if (s.code != HG_OK)
                HG_FAIL("kernel fails %s on %s: %s", hg_op_table[op].name, hg_dtype_name((hg_dtype)t), s.msg);
        }
    }
}

HG_TEST(square_on_i32_wraps) {
    hg_graph *g = hg_graph_new();
    hg_value v = one_node(g, HG_OP_square, HG_I32);
    HG_CHECK(v != HG_NONE && g->nodes[v].dtype == HG_I32);
    hg_set_output(g, "y", v);
    HG_CHECK_OK(hg_verify(g));
    hg_tensor_map st, ins, outs;
    hg_map_init(&st);
    hg_map_init(&ins);
    hg_map_init(&outs);
    HG_CHECK_OK(hg_ref_run(g, &st, &ins, &outs, NULL));
    const int32_t *y = (const int32_t *)hg_map_get(&outs, "y")->data;
    /* 46341^2 = 2147488281 = 2^32 - 2147479015; (-2^31)^2 = 2^62 = 0 mod 2^32 */
    static const int32_t want[5] = {-2147479015, 9, 0, 49, 0};
    int ok = memcmp(y, want, sizeof want) == 0;
    hg_map_free(&outs);
    hg_map_free(&st);
    hg_map_free(&ins);
    hg_graph_free(g);
    HG_CHECK(ok);
}

HG_TEST(other_dtype_rules) {
    hg_graph *g = hg_graph_new();
    int64_t d[2] = {2, 3};
    hg_shape s = hg_shape_make(2, d);
    hg_value xi = hg_input(g, "xi", HG_I32, s), xb = hg_input(g, "xb", HG_BOOL, s);
    hg_value xf = hg_input(g, "xf", HG_F32, s);
    int ax[1] = {0};
    HG_CHECK(hg_reduce(g, HG_OP_sum, xi, 1, ax, 0) != HG_NONE);
    HG_CHECK(hg_reduce(g, HG_OP_max, xi, 1, ax, 0) != HG_NONE);
    HG_CHECK(hg_reduce(g, HG_OP_mean, xf, 1, ax, 0) != HG_NONE);
    HG_CHECK(hg_graph_status(g).code == HG_OK);
    HG_CHECK(hg_reduce(g, HG_OP_mean, xi, 1, ax, 0) == HG_NONE);
    HG_CHECK(strstr(hg_graph_status(g).msg, "mean is not defined for i32"));
    hg_graph_free(g);
    g = hg_graph_new();
    xb = hg_input(g, "xb", HG_BOOL, s);
    HG_CHECK(hg_reduce(g, HG_OP_sum, xb, 1, ax, 0) == HG_NONE);
    hg_graph_free(g);
    g = hg_graph_new();
    HG_CHECK(hg_iota(g, HG_BOOL, s, 0) == HG_NONE);
    hg_graph_free(g);
    g = hg_graph_new();
    xi = hg_input(g, "xi", HG_I32, s);
    HG_CHECK(hg_softmax(g, xi) == HG_NONE);
    HG_CHECK(strstr(hg_graph_status(g).msg, "softmax is not defined for i32"));
    hg_graph_free(g);
}

/* Fills t with the byte 0xA5 (garbage). */
static void garbage(hg_tensor *t) { memset(t->data, 0xA5, hg_tensor_bytes(t)); }

HG_TEST(writes_all_kernels_overwrite_garbage) {
    int covered[HG_NUM_OPS] = {0};
    for (int op = 0; op < HG_NUM_OPS; op++) {
        if (!hg_op_table[op].writes_all) continue;
        hg_graph *g = hg_graph_new();
        hg_value v;
        hg_dtype t = HG_F32;
        if (hg_op_table[op].flags & HG_OPF_ELEMENTWISE) {
            if (op == HG_OP_logical_and || op == HG_OP_logical_or || op == HG_OP_logical_not) t = HG_BOOL;
            v = one_node(g, (hg_op)op, t);
        } else {
            int64_t d[2] = {3, 4};
            hg_shape s = hg_shape_make(2, d);
            float data[12];
            for (int i = 0; i < 12; i++) data[i] = 0.25f * (float)i - 1.0f;
            hg_value x = hg_constant(g, HG_F32, s, data);
            hg_value sd = hg_scalar(g, HG_I32, 7), st = hg_scalar(g, HG_I32, 2), rp = hg_scalar(g, HG_I32, 0);
            int perm[2] = {1, 0};
            switch (op) {
            case HG_OP_transpose: v = hg_transpose(g, x, perm); break;
            case HG_OP_broadcast_to: v = hg_broadcast_to(g, x, hg_shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4)); break;
            case HG_OP_slice: v = hg_slice_axis(g, x, 1, 1, 2); break;
            case HG_OP_concat: { hg_value xs[2] = {x, x}; v = hg_concat(g, 2, xs, 0); } break;
            case HG_OP_iota: v = hg_iota(g, HG_F32, s, 1); break;
            case HG_OP_cast: v = hg_cast(g, x, HG_I32); break;
            case HG_OP_layer_norm: v = hg_layer_norm(g, x, 1e-5); break;
            case HG_OP_softmax: v = hg_softmax(g, x); break;
            case HG_OP_random_uniform: v = hg_random_uniform(g, HG_F32, s, sd, st, rp); break;
            case HG_OP_random_normal: v = hg_random_normal(g, HG_F32, s, sd, st, rp); break;
            default:
                hg_graph_free(g);
                HG_FAIL("op %s has writes_all but no case here", hg_op_table[op].name);
            }
        }
        if (v == HG_NONE) {
            hg_graph_free(g);
            HG_FAIL("op %s: node not built", hg_op_table[op].name);
        }
        const hg_node *n = &g->nodes[v];
        hg_tensor a, b;
        HG_CHECK_OK(hg_tensor_alloc(&a, n->dtype, n->shape));
        HG_CHECK_OK(hg_tensor_alloc(&b, n->dtype, n->shape));
        garbage(&b);
        hg_status sa = run_kernel(g, v, &a), sb = run_kernel(g, v, &b);
        int same = memcmp(a.data, b.data, hg_tensor_bytes(&a)) == 0;
        hg_tensor_free(&a);
        hg_tensor_free(&b);
        hg_graph_free(g);
        if (sa.code != HG_OK || sb.code != HG_OK) HG_FAIL("op %s: kernel failed", hg_op_table[op].name);
        if (!same) HG_FAIL("op %s: writes_all, but a garbage-filled output differs", hg_op_table[op].name);
        covered[op] = 1;
    }
    HG_CHECK(covered[HG_OP_softmax] && covered[HG_OP_add] && covered[HG_OP_where]);
}

HG_TEST(flop_rules_counted_by_hand) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)3));
    int ax[1] = {1};
    HG_CHECK(hg_node_flops(g, hg_reduce(g, HG_OP_sum, x, 1, ax, 0)) == 6);
    HG_CHECK(hg_node_flops(g, hg_layer_norm(g, x, 1e-5)) == 7 * 6);
    HG_CHECK(hg_node_flops(g, hg_softmax(g, x)) == 5 * 6);
    HG_CHECK(hg_node_flops(g, hg_transpose(g, x, (int[]){1, 0})) == 0);
    hg_value w = hg_where(g, hg_binary(g, HG_OP_lt, x, x), x, x);
    HG_CHECK(hg_node_flops(g, w) == 6);
    HG_CHECK(hg_node_bytes(g, w) == 6 * 4 * 3 + 6 * 1);
    /* knn: 9 per pair, B N N = 1 * 4 * 4 pairs */
    hg_value pos = hg_input(g, "p", HG_F32, hg_shape_of(3, (int64_t)1, (int64_t)4, (int64_t)3));
    hg_value mask = hg_input(g, "m", HG_F32, hg_shape_of(2, (int64_t)1, (int64_t)4));
    HG_CHECK(hg_node_flops(g, hg_knn(g, pos, mask, 2, 0)) == 9 * 16);
    /* attention: logits B H Nq Nk = 1 * 1 * 2 * 5 = 10; 2 * 10 * (D 3 + Dv 4) + 7 * 10 */
    hg_value q = hg_input(g, "q", HG_F32, hg_shape_of(4, (int64_t)1, (int64_t)1, (int64_t)2, (int64_t)3));
    hg_value k = hg_input(g, "k", HG_F32, hg_shape_of(4, (int64_t)1, (int64_t)1, (int64_t)5, (int64_t)3));
    hg_value v = hg_input(g, "v", HG_F32, hg_shape_of(4, (int64_t)1, (int64_t)1, (int64_t)5, (int64_t)4));
    hg_value am = hg_input(g, "am", HG_F32, hg_shape_of(4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)5));
    HG_CHECK(hg_node_flops(g, hg_attention(g, q, k, v, am, 0.5)) == 210);
    /* scatter_add: 1 per source element */
    hg_value idx = hg_input(g, "i", HG_I32, hg_shape_of(1, (int64_t)2));
    HG_CHECK(hg_node_flops(g, hg_scatter_add(g, x, idx, 0, 7)) == 6);
    /* random: 1 per output element */
    hg_value sd = hg_scalar(g, HG_I32, 1);
    HG_CHECK(hg_node_flops(g, hg_random_normal(g, HG_F64, hg_shape_of(1, (int64_t)9), sd, sd, sd)) == 9);
    HG_CHECK_OK(hg_graph_status(g));
    hg_graph_free(g);
}
