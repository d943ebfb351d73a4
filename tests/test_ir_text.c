/* The IR text format: print -> parse -> print round trips of every op,
 * bit-exact constants, and rejection of malformed text with the line and
 * node named. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/hg_test.h"

HG_LABELS(fast)

/* Field-by-field graph comparison (ignores hg_node.line, which only the
 * parser sets). Returns 0 when equal, else writes the first difference. */
static int graph_diff(const hg_graph *a, const hg_graph *b, char *why, size_t n) {
    if (a->n_nodes != b->n_nodes) {
        snprintf(why, n, "n_nodes %d vs %d", a->n_nodes, b->n_nodes);
        return 1;
    }
    for (int i = 0; i < a->n_nodes; i++) {
        const hg_node *x = &a->nodes[i], *y = &b->nodes[i];
        const hg_attrs *p = &x->attrs, *q = &y->attrs;
        int same = x->op == y->op && x->dtype == y->dtype && hg_shape_eq(x->shape, y->shape) &&
                   x->n_in == y->n_in;
        for (int k = 0; same && k < x->n_in; k++) same = x->in[k] == y->in[k];
        same = same && p->naxes == q->naxes && p->keepdims == q->keepdims &&
               p->axis == q->axis && p->size == q->size && p->trans_a == q->trans_a &&
               p->trans_b == q->trans_b && p->k == q->k && p->stream == q->stream &&
               !memcmp(&p->value, &q->value, sizeof p->value) &&
               !memcmp(&p->box, &q->box, sizeof p->box) &&
               !memcmp(&p->eps, &q->eps, sizeof p->eps) &&
               !memcmp(&p->scale, &q->scale, sizeof p->scale) && !strcmp(p->name, q->name);
        for (int d = 0; same && d < HG_MAX_RANK; d++)
            same = p->axes[d] == q->axes[d] && p->perm[d] == q->perm[d] &&
                   p->starts[d] == q->starts[d] && p->steps[d] == q->steps[d] &&
                   p->pad_lo[d] == q->pad_lo[d] && p->pad_hi[d] == q->pad_hi[d];
        if (same && (x->data || y->data)) {
            size_t bytes = (size_t)hg_shape_numel(x->shape) * hg_dtype_size(x->dtype);
            same = x->data && y->data && !memcmp(x->data, y->data, bytes);
        }
        if (!same) {
            snprintf(why, n, "node %%%d (%s) differs", i, hg_op_table[x->op].name);
            return 1;
        }
    }
    if (a->n_outputs != b->n_outputs || a->n_updates != b->n_updates ||
        a->next_stream != b->next_stream) {
        snprintf(why, n, "outputs %d/%d updates %d/%d next_stream %d/%d", a->n_outputs,
                 b->n_outputs, a->n_updates, b->n_updates, a->next_stream, b->next_stream);
        return 1;
    }
    for (int o = 0; o < a->n_outputs; o++)
        if (strcmp(a->outputs[o].name, b->outputs[o].name) ||
            a->outputs[o].value != b->outputs[o].value) {
            snprintf(why, n, "output #%d differs", o);
            return 1;
        }
    for (int u = 0; u < a->n_updates; u++)
        if (a->updates[u].state != b->updates[u].state ||
            a->updates[u].value != b->updates[u].value) {
            snprintf(why, n, "update #%d differs", u);
            return 1;
        }
    return 0;
}

static hg_shape S1(int64_t a) { return hg_shape_of(1, a); }
static hg_shape S2(int64_t a, int64_t b) { return hg_shape_of(2, a, b); }
static hg_shape S3(int64_t a, int64_t b, int64_t c) { return hg_shape_of(3, a, b, c); }
static hg_shape S4(int64_t a, int64_t b, int64_t c, int64_t d) { return hg_shape_of(4, a, b, c, d); }

/* A graph that uses every op of the op table (checked by the caller). */
static hg_graph *all_ops_graph(void) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, S2(2, 3));
    hg_value y = hg_input(g, "a \"quoted\" \\name/with\ttab", HG_F32, S2(2, 3));
    hg_value w = hg_state(g, "score/layer_0/w", HG_F32, S2(2, 3));
    float cf[6] = {0.1f, -0.0f, 1e-45f, 3.4028235e38f, -INFINITY, 1.0f / 3.0f};
    hg_value c = hg_constant(g, HG_F32, S2(2, 3), cf);
    hg_value acc = hg_add(g, hg_add(g, x, c), w);
    static const hg_op unary[] = {
        HG_OP_neg, HG_OP_abs, HG_OP_sign, HG_OP_exp, HG_OP_log, HG_OP_log1p, HG_OP_expm1,
        HG_OP_sqrt, HG_OP_rsqrt, HG_OP_square, HG_OP_reciprocal, HG_OP_sin, HG_OP_cos,
        HG_OP_tanh, HG_OP_sigmoid, HG_OP_softplus, HG_OP_gelu_tanh, HG_OP_erf, HG_OP_floor,
        HG_OP_round, HG_OP_stop_gradient, HG_OP_softmax};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        acc = hg_add(g, acc, hg_unary(g, unary[i], x));
    static const hg_op binary[] = {HG_OP_sub, HG_OP_mul, HG_OP_div, HG_OP_pow,
                                   HG_OP_maximum, HG_OP_minimum, HG_OP_floor_mod};
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        acc = hg_add(g, acc, hg_binary(g, binary[i], x, y));
    static const hg_op cmp[] = {HG_OP_eq, HG_OP_ne, HG_OP_lt, HG_OP_le, HG_OP_gt, HG_OP_ge};
    hg_value b = hg_binary(g, HG_OP_eq, x, y);
    for (size_t i = 1; i < sizeof cmp / sizeof cmp[0]; i++) {
        hg_value b2 = hg_binary(g, cmp[i], x, y);
        b = hg_binary(g, i % 2 ? HG_OP_logical_and : HG_OP_logical_or, b, b2);
    }
    b = hg_unary(g, HG_OP_logical_not, b);
    acc = hg_where(g, b, acc, y);
    int ax1[1] = {1}, ax0[1] = {0};
    hg_value r1 = hg_reduce(g, HG_OP_sum, acc, 1, ax1, 0);          /* [2] */
    hg_value r2 = hg_reduce(g, HG_OP_max, acc, 1, ax0, 1);          /* [1,3] */
    hg_value r3 = hg_reduce(g, HG_OP_mean, acc, 0, NULL, 0);        /* [] */
    hg_value mm = hg_matmul(g, acc, y, 0, 1);                       /* [2,2] */
    hg_value mt = hg_matmul(g, acc, y, 1, 0);                       /* [3,3] */
    hg_value rs = hg_reshape(g, acc, S2(3, 2));
    int perm[2] = {1, 0};
    hg_value tr = hg_transpose(g, rs, perm);                        /* [2,3] */
    hg_value bc = hg_broadcast_to(g, r2, S2(2, 3));
    hg_attrs sa;
    memset(&sa, 0, sizeof sa);
    sa.starts[0] = 1;
    sa.starts[1] = 0;
    sa.steps[0] = 1;
    sa.steps[1] = 2;
    hg_value sl = hg_add_node(g, HG_OP_slice, HG_F32, S2(1, 2), 1, &tr, &sa);
    hg_value cc_in[3] = {acc, tr, bc};
    hg_value cc = hg_concat(g, 3, cc_in, 0);                        /* [6,3] */
    int64_t lo[2] = {1, 0}, hi[2] = {0, 2};
    hg_value pd = hg_pad(g, cc, lo, hi, -INFINITY);                  /* [7,5] */
    int32_t idxd[8] = {0, 2, -1, 1, 2, 2, 0, 5};
    hg_value idx = hg_constant(g, HG_I32, S2(2, 4), idxd);
    hg_value ga = hg_gather(g, acc, idx, 1);                        /* [2,4] */
    hg_value sc = hg_scatter_add(g, ga, idx, 1, 3);                 /* [2,3] */
    hg_value sm = hg_scatter_max(g, ga, idx, 1, 3);
    hg_value io = hg_iota(g, HG_I32, S2(2, 3), 1);
    hg_value ci = hg_cast(g, acc, HG_I32);
    hg_value cd = hg_cast(g, hg_add(g, ci, io), HG_F64);
    double dd[3] = {0.1, -1e-310, 6.02214076e23};
    hg_value dc = hg_constant(g, HG_F64, S1(3), dd);
    uint8_t bd[3] = {1, 0, 1};
    hg_value bcst = hg_constant(g, HG_BOOL, S1(3), bd);
    hg_value pos = hg_input(g, "pos", HG_F32, S3(1, 5, 3));
    hg_value pm = hg_input(g, "mask", HG_F32, S2(1, 5));
    hg_value kn = hg_knn(g, pos, pm, 3, 1000.5);
    hg_value ln = hg_layer_norm(g, acc, 1e-6);
    hg_value q = hg_input(g, "q", HG_F32, S4(1, 2, 4, 8));
    hg_value k = hg_input(g, "k", HG_F32, S4(1, 2, 5, 8));
    hg_value v = hg_input(g, "v", HG_F32, S4(1, 2, 5, 3));
    hg_value am = hg_input(g, "am", HG_F32, S4(1, 1, 4, 5));
    hg_value at = hg_attention(g, q, k, v, am, 0.35355339059327379);
    hg_value lse = hg_attention_lse(g, q, k, v, am, 0.35355339059327379);
    hg_value dout = hg_input(g, "dout", HG_F32, S4(1, 2, 4, 3));
    hg_value ag_in[7] = {q, k, v, am, at, lse, dout};
    hg_value agk = hg_attention_grad(g, ag_in, 1, 0.35355339059327379);
    hg_value seed = hg_input(g, "seed", HG_I32, hg_shape_scalar());
    hg_value step = hg_input(g, "step", HG_I32, hg_shape_scalar());
    hg_value rep = hg_scalar(g, HG_I32, 0);
    hg_value ru = hg_random_uniform(g, HG_F32, S1(4), seed, step, rep);
    hg_value rn = hg_random_normal(g, HG_F64, S2(2, 2), seed, step, rep);
    hg_set_output(g, "r1", r1);
    hg_set_output(g, "r3", r3);
    hg_set_output(g, "mm", mm);
    hg_set_output(g, "mt", mt);
    hg_set_output(g, "sl", sl);
    hg_set_output(g, "pd", pd);
    hg_set_output(g, "sc", sc);
    hg_set_output(g, "sm", sm);
    hg_set_output(g, "cd", cd);
    hg_set_output(g, "dc", dc);
    hg_set_output(g, "bool", bcst);
    hg_set_output(g, "knn", kn);
    hg_set_output(g, "ln", ln);
    hg_set_output(g, "att", at);
    hg_set_output(g, "lse", lse);
    hg_set_output(g, "agk", agk);
    hg_set_output(g, "ru", ru);
    hg_set_output(g, "rn", rn);
    hg_set_update(g, w, hg_add(g, w, x));
    return g;
}

HG_TEST(all_ops_round_trip) {
    hg_graph *g = all_ops_graph();
    HG_CHECK_OK(hg_graph_status(g));
    /* every op of the table is used */
    for (int op = 0; op < HG_NUM_OPS; op++) {
        int used = 0;
        for (int i = 0; i < g->n_nodes; i++) used |= g->nodes[i].op == op;
        if (!used) {
            hg_graph_free(g);
            HG_FAIL("op %s is not covered by the round-trip graph", hg_op_table[op].name);
        }
    }
    HG_CHECK_OK(hg_verify(g));
    char *t1 = hg_print_string(g);
    HG_CHECK(t1 != NULL);
    hg_graph *g2 = NULL;
    hg_status s = hg_parse(t1, &g2);
    if (s.code) {
        fprintf(stderr, "%s\n", t1);
        free(t1);
        hg_graph_free(g);
        HG_FAIL("parse of printed graph failed: %s", s.msg);
    }
    char *t2 = hg_print_string(g2);
    char why[200];
    int diff = graph_diff(g, g2, why, sizeof why);
    int same_text = !strcmp(t1, t2);
    /* lines are recorded: node i is on line i + 1 */
    int lines_ok = 1;
    for (int i = 0; i < g2->n_nodes; i++) lines_ok &= g2->nodes[i].line == i + 1;
    if (!same_text) fprintf(stderr, "first:\n%s\nsecond:\n%s\n", t1, t2);
    free(t1);
    free(t2);
    hg_graph_free(g);
    hg_graph_free(g2);
    if (diff) HG_FAIL("graphs differ after the round trip: %s", why);
    HG_CHECK(same_text);
    HG_CHECK(lines_ok);
}

/* Expected text for a small graph, written by hand from the format. */
HG_TEST(print_exact_text) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, S2(2, 3));
    hg_value c = hg_scalar(g, HG_F32, 0.5);
    hg_value a = hg_add(g, x, c);
    int ax[1] = {0};
    hg_value s = hg_reduce(g, HG_OP_sum, a, 1, ax, 0);
    hg_value seed = hg_scalar(g, HG_I32, 7);
    hg_value r = hg_random_normal(g, HG_F64, S1(2), seed, seed, seed);
    hg_value st = hg_state(g, "n", HG_F32, S1(3));
    hg_set_output(g, "loss", s);
    hg_set_output(g, "noise", r);
    hg_set_update(g, st, s);
    g->next_stream = 4;
    char *t = hg_print_string(g);
    const char *want =
        "%0 = input f32[2,3] name=\"x\"\n"
        "%1 = constant f32[] data=[0.5]\n"
        "%2 = add f32[2,3] %0 %1\n"
        "%3 = sum f32[3] %2 axes=[0] keepdims=0\n"
        "%4 = constant i32[] data=[7]\n"
        "%5 = random_normal f64[2] %4 %4 %4 stream=0\n"
        "%6 = state f32[3] name=\"n\"\n"
        "output \"loss\" %3\n"
        "output \"noise\" %5\n"
        "update %6 %3\n"
        "next_stream 4\n";
    int ok = t && !strcmp(t, want);
    if (!ok) fprintf(stderr, "got:\n%s\nwant:\n%s\n", t ? t : "(null)", want);
    hg_graph *g2 = NULL;
    hg_status ps = hg_parse(want, &g2);
    char why[200] = "";
    int diff = ps.code == HG_OK ? graph_diff(g, g2, why, sizeof why) : 1;
    free(t);
    hg_graph_free(g);
    hg_graph_free(g2);
    HG_CHECK(ok);
    HG_CHECK_OK(ps);
    if (diff) HG_FAIL("%s", why);
}

/* Deterministic 64-bit generator (splitmix64) for bit patterns. */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Arbitrary bit patterns (NaNs with payloads, subnormals, infinities, -0)
 * survive print -> parse bit for bit in f32, f64, i32 and bool constants. */
HG_TEST(constants_bit_exact) {
    enum { N = 4096 };
    uint32_t *f = malloc(N * sizeof *f);
    uint64_t *d = malloc(N * sizeof *d);
    int32_t *iv = malloc(N * sizeof *iv);
    uint8_t *bv = malloc(N);
    uint64_t st = 12345;
    for (int i = 0; i < N; i++) {
        f[i] = (uint32_t)mix(&st);
        d[i] = mix(&st);
        iv[i] = (int32_t)(uint32_t)mix(&st);
        bv[i] = (uint8_t)(mix(&st) & 1);
    }
    /* special values at the front */
    const uint32_t fs[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x7f7fffffu,
                           0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u, 0x7f800001u,
                           0x7fc00001u, 0x3dcccccdu};
    const uint64_t ds[] = {0, UINT64_C(1) << 63, 1, UINT64_C(0x7fefffffffffffff),
                           UINT64_C(0x7ff0000000000000), UINT64_C(0x7ff8000000000000),
                           UINT64_C(0xfff8000000000000), UINT64_C(0x7ff0000000000001),
                           UINT64_C(0x3fb999999999999a)};
    memcpy(f, fs, sizeof fs);
    memcpy(d, ds, sizeof ds);
    iv[0] = INT32_MIN;
    iv[1] = INT32_MAX;
    hg_graph *g = hg_graph_new();
    hg_value a = hg_constant(g, HG_F32, S2(64, 64), f);
    hg_value b = hg_constant(g, HG_F64, S1(N), d);
    hg_value c = hg_constant(g, HG_I32, S3(16, 16, 16), iv);
    hg_value e = hg_constant(g, HG_BOOL, S1(N), bv);
    hg_value z = hg_constant(g, HG_F32, S2(0, 3), NULL);
    hg_set_output(g, "a", a);
    hg_set_output(g, "b", b);
    hg_set_output(g, "c", c);
    hg_set_output(g, "e", e);
    hg_set_output(g, "z", z);
    HG_CHECK_OK(hg_graph_status(g));
    char *t = hg_print_string(g);
    hg_graph *g2 = NULL;
    hg_status s = hg_parse(t, &g2);
    int ok = s.code == HG_OK && g2->n_nodes == 5 &&
             !memcmp(g2->nodes[0].data, f, N * sizeof *f) &&
             !memcmp(g2->nodes[1].data, d, N * sizeof *d) &&
             !memcmp(g2->nodes[2].data, iv, N * sizeof *iv) &&
             !memcmp(g2->nodes[3].data, bv, N) && hg_shape_numel(g2->nodes[4].shape) == 0;
    /* the NaN with a payload is printed with its bits */
    int payload_text = t && strstr(t, "nan:0x7f800001") && strstr(t, "nan:0x7ff0000000000001");
    char why[200] = "";
    int diff = s.code == HG_OK ? graph_diff(g, g2, why, sizeof why) : 1;
    free(t);
    free(f);
    free(d);
    free(iv);
    free(bv);
    hg_graph_free(g);
    hg_graph_free(g2);
    HG_CHECK_OK(s);
    HG_CHECK(ok);
    HG_CHECK(payload_text);
    if (diff) HG_FAIL("%s", why);
}

/* Comments, blank lines, CRLF line ends, extra spaces, attributes in any
 * order; values checked against the text by hand. */
HG_TEST(parse_comments_and_spacing) {
    const char *text =
        "# a graph\r\n"
        "\r\n"
        "%0 = input   f32[2,3]  name=\"in#put\"   # the hash in the name is not a comment\r\n"
        "  %1 = pad f32[3,3] %0 value=-1.5 pad_hi=[0, 0] pad_lo=[ 1 ,0]\n"
        "%2 = constant f64[2] data=[ 1e-3 , -inf ]\n"
        "\toutput \"y\"   %1 # done\n";
    hg_graph *g = NULL;
    HG_CHECK_OK(hg_parse(text, &g));
    HG_CHECK(g->n_nodes == 3);
    HG_CHECK(!strcmp(g->nodes[0].attrs.name, "in#put"));
    HG_CHECK(g->nodes[1].attrs.pad_lo[0] == 1 && g->nodes[1].attrs.pad_lo[1] == 0);
    HG_CHECK(g->nodes[1].attrs.value == -1.5);
    HG_CHECK(g->nodes[1].line == 4);
    const double *dd = g->nodes[2].data;
    HG_CHECK(dd[0] == 1e-3 && isinf(dd[1]) && dd[1] < 0);
    HG_CHECK(hg_find_output(g, "y") == 1);
    hg_graph_free(g);
}

typedef struct {
    const char *text;
    const char *msg; /* expected substring, with the line and node */
} bad_case;

HG_TEST(parse_rejects_malformed) {
    static const char *X = "%0 = input f32[2,3] name=\"x\"\n"; /* line 1 */
    static const bad_case cases[] = {
        {"%0 = frobnicate f32[2]\n", "1: node %0: unknown op 'frobnicate'"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = add f32[2,3] %0\n", "2: node %1: add takes 2 inputs, got 1"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = neg f32[2,3] %5\n", "2: node %1: input %5 is not defined"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = neg f32[2,3] %1\n", "2: node %1: input %1 is not defined (use before definition)"},
        {"%0 = input f16[2] name=\"x\"\n", "1: node %0: unknown dtype 'f16'"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = neg f32[3,2] %0\n", "2: node %1: type f32[3,2] differs from the inferred f32[2,3]"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = neg f64[2,3] %0\n", "2: node %1: type f64[2,3] differs"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = sum f32[] %0 keepdims=0\n", "2: node %1: missing attribute 'axes'"},
        {"%0 = input f32[2,3] name=\"x\"\n%0 = neg f32[2,3] %0\n", "2: node %0: duplicate node id (already defined on line 1)"},
        {"%0 = input f32[2,3] name=\"x\"\n%2 = neg f32[2,3] %0\n", "2: node %2: ids not in order: expected %1"},
        {"%0 = constant f32[2] data=[1.5,abc]\n", "1: node %0: bad number 'abc'"},
        {"%0 = constant f32[2] data=[1.5]\n", "1: node %0: data has 1 values, the shape needs 2"},
        {"%0 = constant f32[1] data=[1e999]\n", "1: node %0: number '1e999' out of range"},
        {"%0 = constant i32[1] data=[1.5]\n", "1: node %0: bad integer '1.5'"},
        {"%0 = constant bool[1] data=[2]\n", "1: node %0: integer 2 outside [0, 1]"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = neg f32[2,3] %0 axis=1\n", "2: node %1: attribute 'axis' is not used by neg"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = neg f32[2,3] %0 colour=1\n", "2: node %1: unknown attribute 'colour'"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = transpose f32[2,3] %0 perm=[0,0]\n", "2: node %1: perm is not a permutation"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = transpose f32[3,2] %0 perm=[1,0,2]\n", "2: node %1: perm has 3 entries, the input has rank 2"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = slice f32[2,2] %0 starts=[0,2] steps=[1,1]\n", "2: node %1: slice runs past the end of axis 1"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = sum f32[2] %0 axes=[5] keepdims=0\n", "2: node %1: axis 5 out of range"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = layer_norm f32[2,3] %0 eps=0\n", "2: node %1: layer_norm eps 0 must be > 0"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = input f32[2] name=\"x\"\n", "2: node %1: name \"x\" already used by input %0"},
        {"%0 = input f32[2,3] name=\"\"\n", "1: node %0: empty name"},
        {"%0 = input f32[2,3] name=\"x\n", "1: node %0: unterminated string"},
        {"%0 = input f32[2,3] name=\"a\\qb\"\n", "1: node %0: bad escape"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = add f32[2,3] %0 %0 extra\n", "2: node %1: unknown attribute 'extra'"},
        {"%0 = input f32[2,3] name=\"x\"\nupdate %0 %0\n", "2: update target %0 is not a state (it is input)"},
        {"%0 = state f32[2,3] name=\"w\"\n%1 = state f32[3] name=\"v\"\nupdate %0 %1\n", "3: update of state \"w\": state %0 is f32[2,3], value %1 is f32[3]"},
        {"%0 = state f32[2] name=\"w\"\n%1 = neg f32[2] %0\nupdate %0 %1\nupdate %0 %0\n", "4: state \"w\" (%0) updated twice"},
        {"%0 = input f32[2,3] name=\"x\"\noutput \"y\" %0\noutput \"y\" %0\n", "3: output \"y\" declared twice"},
        {"%0 = input f32[2,3] name=\"x\"\noutput \"y\" %3\n", "2: output value %3 is not defined"},
        {"%0 = input f32[2,3] name=\"x\"\nfrobnicate %0\n", "2: unknown statement 'frobnicate'"},
        {"%0 = input i32[] name=\"s\"\n%1 = random_uniform f32[2] %0 %0 %0 stream=0\n"
         "%2 = random_normal f32[2] %0 %0 %0 stream=0\n", "3: node %2: stream 0 already used by %1"},
        {"%0 = input f32[1,4,3] name=\"p\"\n%1 = input f32[1,4] name=\"m\"\n"
         "%2 = knn i32[1,4,9] %0 %1 k=9 box=0\n", "3: node %2: knn k = 9 must be in 1..N = 4"},
        {"%0 = input i32[] name=\"s\"\n%1 = random_uniform f32[2] %0 %0 %0 stream=3\nnext_stream 2\n",
         "3: next_stream 2 is not above the largest stream id 3"},
        {"%0 = input f32[2,3 name=\"x\"\n", "1: node %0: expected ',' at 'name=\"x\"'"},
        {"%0 = input f32[1,2,3,4,5,6,7] name=\"x\"\n", "1: node %0: shape has more than 6 entries"},
        {"%0 = input f32[2,3] name=\"x\"\n%1 = add f32[2,3] %0 %0 %0\n", "2: node %1: add takes 2 inputs, got 3"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    (void)X;
    for (int i = 0; i < n; i++) {
        hg_graph *g = (hg_graph *)1;
        hg_status s = hg_parse(cases[i].text, &g);
        if (s.code == HG_OK) {
            hg_graph_free(g);
            HG_FAIL("case %d accepted:\n%s", i, cases[i].text);
        }
        if (g != NULL) HG_FAIL("case %d: *out not NULL on error", i);
        if (s.code != HG_ERR_FORMAT) HG_FAIL("case %d: code %d, expected HG_ERR_FORMAT", i, s.code);
        if (!strstr(s.msg, cases[i].msg))
            HG_FAIL("case %d: message \"%s\" lacks \"%s\"", i, s.msg, cases[i].msg);
    }
}

HG_TEST(parse_file_names_path_and_line) {
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.hg", hg_test_tmpdir());
    FILE *f = fopen(path, "w");
    HG_CHECK(f != NULL);
    fputs("# comment\n%0 = input f32[2] name=\"x\"\n%1 = exp f32[3] %0\n", f);
    fclose(f);
    hg_graph *g = NULL;
    char want[1100];
    snprintf(want, sizeof want, "%s:3: node %%1: type f32[3] differs from the inferred f32[2]", path);
    HG_CHECK_ERR(hg_parse_file(path, &g), want);
    HG_CHECK(g == NULL);
    snprintf(path, sizeof path, "%s/missing.hg", hg_test_tmpdir());
    hg_status s = hg_parse_file(path, &g);
    HG_CHECK(s.code == HG_ERR_IO);
    HG_CHECK(strstr(s.msg, "missing.hg") != NULL);
}

/* The example graph files shipped in tests/data/ir parse, verify, and
 * print back to a graph that parses to the same nodes. */
HG_TEST(example_files_parse) {
    static const char *files[] = {"mlp.hg", "update.hg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/ir/%s", hg_test_srcdir(), files[i]);
        hg_graph *g = NULL;
        hg_status s = hg_parse_file(path, &g);
        if (s.code) HG_FAIL("%s", s.msg);
        char *t = hg_print_string(g);
        hg_graph *g2 = NULL;
        s = hg_parse(t, &g2);
        char why[200] = "";
        int diff = s.code == HG_OK ? graph_diff(g, g2, why, sizeof why) : 1;
        free(t);
        hg_graph_free(g);
        hg_graph_free(g2);
        HG_CHECK_OK(s);
        if (diff) HG_FAIL("%s: %s", files[i], why);
    }
}

/* Random edits of a valid text (bytes replaced, deleted, lines swapped)
 * either parse to a graph that verifies and round-trips, or fail with
 * HG_ERR_FORMAT and a message starting with the line number; never crash
 * (this runs under ASan/UBSan in CI). */
HG_TEST(parse_random_edits) {
    hg_graph *g = all_ops_graph();
    char *base = hg_print_string(g);
    hg_graph_free(g);
    HG_CHECK(base != NULL);
    size_t len = strlen(base);
    char *t = malloc(len + 1);
    static const char alphabet[] = "%=[],\"0123456789-.aefinx#\n \t\\";
    uint64_t st = 99;
    int n_ok = 0, n_err = 0;
    for (int trial = 0; trial < 1000; trial++) {
        memcpy(t, base, len + 1);
        size_t tl = len;
        int edits = 1 + (int)(mix(&st) % 3);
        for (int e = 0; e < edits; e++) {
            size_t pos = (size_t)(mix(&st) % tl);
            switch (mix(&st) % 3) {
            case 0: t[pos] = alphabet[mix(&st) % (sizeof alphabet - 1)]; break;
            case 1: memmove(t + pos, t + pos + 1, tl - pos); tl--; break;
            default: { /* swap with the byte at another position */
                size_t q = (size_t)(mix(&st) % tl);
                char ch = t[pos];
                t[pos] = t[q];
                t[q] = ch;
            }
            }
        }
        hg_graph *p = NULL;
        hg_status s = hg_parse(t, &p);
        if (s.code == HG_OK) {
            n_ok++;
            hg_status v = hg_verify(p);
            char *t2 = hg_print_string(p);
            hg_graph *p2 = NULL;
            hg_status s2 = hg_parse(t2, &p2);
            char why[200] = "";
            int diff = s2.code == HG_OK ? graph_diff(p, p2, why, sizeof why) : 1;
            free(t2);
            hg_graph_free(p);
            hg_graph_free(p2);
            if (v.code || s2.code || diff) {
                free(t);
                free(base);
                HG_FAIL("trial %d: accepted text does not verify/round-trip: %s %s %s", trial,
                        v.msg, s2.msg, why);
            }
        } else {
            n_err++;
            int line = 0;
            if (p != NULL || s.code != HG_ERR_FORMAT || sscanf(s.msg, "%d: ", &line) != 1 ||
                line < 1) {
                free(t);
                free(base);
                HG_FAIL("trial %d: bad failure (code %d): %s", trial, s.code, s.msg);
            }
        }
    }
    free(t);
    free(base);
    HG_CHECK(n_err > 300);  /* most edits break the text */
    HG_CHECK(n_ok > 0);     /* some (e.g. inside constants, comments) do not */
}
