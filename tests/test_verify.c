/* hg_verify on graphs built in memory: a valid graph passes, and each
 * hand-made corruption is rejected with the node (or output/update) named. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/hg_test.h"

HG_LABELS(fast)

/* The base graph; node ids are fixed and used by the corruptions below. */
static hg_graph *base_graph(void) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)3));   /* %0 */
    hg_input(g, "x2", HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)3));               /* %1 */
    hg_value w = hg_state(g, "w", HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)3));   /* %2 */
    float cd[6] = {1, 2, 3, 4, 5, 6};
    hg_value c = hg_constant(g, HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)3), cd); /* %3 */
    hg_value a = hg_add(g, x, c);                                                    /* %4 */
    int ax[1] = {1};
    hg_reduce(g, HG_OP_sum, a, 1, ax, 0);                                            /* %5 [2] */
    int perm[2] = {1, 0};
    hg_transpose(g, x, perm);                                                        /* %6 */
    int64_t st[2] = {0, 1}, sz[2] = {2, 2};
    hg_slice(g, x, st, sz);                                                          /* %7 */
    hg_value pos = hg_input(g, "pos", HG_F32, hg_shape_of(3, (int64_t)1, (int64_t)4, (int64_t)3));
    hg_value m = hg_input(g, "mask", HG_F32, hg_shape_of(2, (int64_t)1, (int64_t)4)); /* %9 */
    hg_knn(g, pos, m, 2, 0);                                                         /* %10 */
    hg_layer_norm(g, x, 1e-5);                                                       /* %11 */
    hg_value seed = hg_input(g, "seed", HG_I32, hg_shape_scalar());                  /* %12 */
    hg_random_uniform(g, HG_F32, hg_shape_of(1, (int64_t)2), seed, seed, seed);      /* %13 */
    hg_random_normal(g, HG_F32, hg_shape_of(1, (int64_t)2), seed, seed, seed);       /* %14 */
    hg_state(g, "v", HG_F32, hg_shape_of(1, (int64_t)2));                            /* %15 */
    hg_set_output(g, "y", a);
    hg_set_update(g, w, a);
    return g;
}

HG_TEST(valid_graphs_pass) {
    hg_graph *g = base_graph();
    HG_CHECK_OK(hg_graph_status(g));
    HG_CHECK(g->n_nodes == 16 && g->next_stream == 2);
    HG_CHECK_OK(hg_verify(g));
    /* an input and a state may share a name (uniqueness is per kind) */
    strcpy(g->nodes[15].attrs.name, "x");
    HG_CHECK_OK(hg_verify(g));
    hg_graph *c = hg_graph_clone(g);
    HG_CHECK_OK(hg_verify(c));
    hg_graph_free(c);
    hg_graph_free(g);
    hg_graph *e = hg_graph_new();
    HG_CHECK_OK(hg_verify(e)); /* the empty graph is valid */
    hg_graph_free(e);
}

/* Applies corruption `which` to g; returns the expected message part, or
 * NULL when `which` is past the last case. */
static const char *corrupt(hg_graph *g, int which) {
    hg_node *n = g->nodes;
    switch (which) {
    case 0: n[4].op = (hg_op)999; return "node %4 (?): unknown op code 999";
    case 1: n[4].n_in = 1; return "node %4 (add): has 1 inputs, the op takes 2";
    case 2: n[4].in[1] = 99; return "node %4 (add): input 1 is %99, not a node of the graph";
    case 3: n[4].in[0] = 4; return "node %4 (add): input 0 is %4, used before its definition";
    case 4: n[4].in[0] = 5; return "node %4 (add): input 0 is %5, used before its definition";
    case 5: n[4].dtype = HG_F64; return "node %4 (add): dtype f64, the shape rule gives f32";
    case 6: n[4].shape.dim[1] = 4; return "node %4 (add): shape [2,4], the shape rule gives [2,3]";
    case 7: n[4].dtype = (hg_dtype)9; return "node %4 (add): unknown dtype code 9";
    case 8: n[4].shape.rank = 7; return "node %4 (add): rank 7 outside [0, 6]";
    case 9: n[0].shape.dim[1] = -1; return "node %0 (input): dimension 1 is negative (-1)";
    case 10: n[5].attrs.axes[0] = 2; return "node %5 (sum): axes[0] = 2 outside [0, 2)";
    case 11:
        n[5].attrs.naxes = 2;
        n[5].attrs.axes[1] = 1;
        return "node %5 (sum): axis 1 repeated in axes";
    case 12: n[5].attrs.keepdims = 2; return "node %5 (sum): keepdims = 2, expected 0 or 1";
    case 13: n[6].attrs.perm[0] = 0; return "node %6 (transpose): perm is not a permutation";
    case 14: n[7].attrs.starts[1] = 2; return "node %7 (slice): slice out of bounds on axis 1";
    case 15: n[7].attrs.steps[0] = 0; return "node %7 (slice): steps[0] = 0, must be >= 1";
    case 16: n[10].attrs.k = 5; return "node %10 (knn): k = 5 exceeds the number of points 4";
    case 17: n[10].attrs.box = -1; return "node %10 (knn): box = -1, must be finite and >= 0";
    case 18: n[11].attrs.eps = 0; return "node %11 (layer_norm): eps = 0, must be finite and > 0";
    case 19: n[11].attrs.eps = NAN; return "node %11 (layer_norm): eps = nan";
    case 20: n[1].attrs.name[0] = 0; return "node %1 (input): empty name";
    case 21: strcpy(n[1].attrs.name, "x"); return "node %1 (input): name \"x\" already used by input %0";
    case 22: strcpy(n[15].attrs.name, "w"); return "node %15 (state): name \"w\" already used by state %2";
    case 23: memset(n[1].attrs.name, 'a', HG_NAME_MAX); return "node %1 (input): name is not NUL-terminated";
    case 24: n[14].attrs.stream = 0; return "node %14 (random_normal): stream 0 already used by %13";
    case 25: n[14].attrs.stream = 7; return "node %14 (random_normal): stream 7 >= the graph's next_stream 2";
    case 26: n[13].attrs.stream = -1; return "node %13 (random_uniform): stream -1 is negative";
    case 27:
        free(n[3].data);
        n[3].data = NULL;
        return "node %3 (constant): constant has no data";
    case 28: n[0].n_in = 1; n[0].in[0] = 0; return "node %0 (input): has 1 inputs, the op takes 0";
    case 29: g->outputs[0].value = 99; return "output \"y\": %99 is not a node of the graph";
    case 30: g->outputs[0].name[0] = 0; return "output #0: empty name";
    case 31:
        g->outputs[g->n_outputs] = g->outputs[0]; /* capacity >= 8 */
        g->n_outputs++;
        return "output \"y\": name used twice";
    case 32: g->updates[0].state = 0; return "update #0: node %0 (input) is not a state";
    case 33: g->updates[0].value = 5; return "update #0 of state \"w\" (%2, f32[2,3]): value %5 is f32[2]";
    case 34: g->updates[0].value = 99; return "update #0 of state \"w\": value %99 is not a node";
    case 35:
        g->updates[g->n_updates] = g->updates[0]; /* capacity >= 16 */
        g->n_updates++;
        return "update #1: state \"w\" (%2) updated twice";
    case 36: g->updates[0].state = -3; return "update #0: state %-3 is not a node of the graph";
    case 37:
        g->err = hg_error(HG_ERR_INVALID, "node %%9 (add): boom");
        return "graph has a builder error: node %9 (add): boom";
    case 38: n[5].attrs.naxes = 3; return "node %5 (sum): naxes 3 outside [0, 2]";
    case 39: n[12].dtype = HG_F32; return "node %13 (random_uniform): random input 0";
    default: return NULL;
    }
}

HG_TEST(corrupted_graphs_rejected) {
    int n_cases = 0;
    for (int which = 0;; which++) {
        hg_graph *g = base_graph();
        const char *want = corrupt(g, which);
        if (!want) {
            hg_graph_free(g);
            break;
        }
        n_cases++;
        hg_status s = hg_verify(g);
        hg_graph_free(g);
        if (s.code == HG_OK) HG_FAIL("corruption %d accepted (expected \"%s\")", which, want);
        if (s.code != HG_ERR_INVALID) HG_FAIL("corruption %d: code %d", which, s.code);
        if (!strstr(s.msg, want))
            HG_FAIL("corruption %d: message \"%s\" lacks \"%s\"", which, s.msg, want);
    }
    HG_CHECK(n_cases >= 15);
}

/* A corrupted graph that the printer can still print (it must not crash
 * on bad ids) and that the parser then rejects at the right line. */
HG_TEST(printed_corruption_rejected_by_parser) {
    hg_graph *g = base_graph();
    g->nodes[6].attrs.perm[0] = 0; /* transpose %6: perm [1,0] -> [0,0] */
    char *t = hg_print_string(g);
    hg_graph_free(g);
    HG_CHECK(t != NULL);
    hg_graph *p = NULL;
    hg_status s = hg_parse(t, &p);
    free(t);
    HG_CHECK(p == NULL);
    HG_CHECK_ERR(s, "7: node %6: perm is not a permutation");
}
