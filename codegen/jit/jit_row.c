/* The HG_KERNEL_ROW emitter (jit_internal.h): one LLVM function per
 * row-wise fusion group (passes/fuse.c R1/R2): a softmax or layer_norm
 * `anchor` over the last axis of `space`, with elementwise prologue members
 * (the anchor's input and values beside it, e.g. the mul before a GNN
 * layer norm) and epilogue members (reading the anchor, e.g. the learned
 * scale and shift after it, a residual add, a gelu).
 *
 * Loop nest. The function computes rows [begin, end) of space viewed as
 * [R, C] (C = the last dim, R = the product of the others; rank 0 is one
 * row of one element). Every input is a stream broadcast numpy-style into
 * space: per row a base offset (from the row's outer indices) and an
 * element stride 0 or 1 along the row; outputs are row-major of shape
 * space. Per row, statistics passes run over the row's C elements, then
 * one final pass computes and stores everything:
 *   layer_norm  f32: P1 s = sum d, q = sum d^2 with d = x - K, K = x[0]
 *                   (double)  mean = K + s / C, var = max(q / C - (s / C)^2, 0)
 *               f64: P1 s = sum x  mean = s / C
 *                    P2 q = sum (x - mean)^2   var = q / C
 *               P3 y = (T)((x - mean) * inv), inv = 1 / sqrt(var + eps)
 *   softmax     P1 m = max x (NaN-propagating, in the dtype)
 *               P2 s = sum exp(x - m) (double)
 *               P3 y = (T)((double)(T)exp(x - m) / s)
 * the reference's formulas (codegen/ref_composite.c; mean, var, exp and
 * the sums in double, one rounding to T), except that the f32 layer norm
 * takes its mean and variance from one pass of sums shifted by the row's
 * first element (19% faster than two passes, bench/row.sh): the shifted
 * variance cancels by at most (mean - K)^2 / var <= C, so its relative
 * error stays below about C^2 2^-53 (1e-10 at C = 1000), far below the
 * f32 rounding of the result; the double sums are
 * marked reassociable, so the vectoriser keeps partial sums: they differ
 * from the reference's ascending sums by double roundings only (the f32
 * result within 1 ulp, almost always equal). The exp is this module's f64
 * polynomial (jit_vmath.c, within 8 units of 2^-52 of libm's). A row of
 * NaN, or of -inf only, or holding +inf gives NaN (softmax) as in the
 * reference; a constant row gives 0 (layer_norm) and 1/C (softmax).
 *
 * Prologue: the passes P1 and P2 recompute the prologue members the
 * anchor's input depends on from the inputs (a row is read from L1, and
 * prologue formulas are cheap; no scratch row is needed, so any C works);
 * P3 computes every member in node order: the prologue, the anchor from
 * the statistics, the epilogue, and stores every output. Each element of
 * P3 loads its inputs before it stores, and all passes of a row end before
 * the next row starts, so an epilogue output may share the buffer of an
 * input of shape space (hg_memplan_schedule's ROW rule: members after the
 * anchor only): alias[] as in jit_loop.c.
 *
 * Threads: hg_jit_run splits the rows across OpenMP threads; a row is
 * never split and runs the same instructions for every split, so results
 * are bit-identical for any thread count. */
#include <stdlib.h>
#include <string.h>

#include "codegen/jit/jit_internal.h"

#define MAX_STREAMS (2 * HG_MAX_INPUTS + 64)

typedef struct {
    hg_jb *b;
    const hg_graph *g;
    const hg_kernel *k;
    int rank;
    int64_t C;
    LLVMValueRef ptr[MAX_STREAMS];           /* outputs, then inputs */
    int64_t st[MAX_STREAMS][HG_MAX_RANK + 1]; /* broadcast strides over space */
    char *feeds;     /* per member: the anchor's input depends on it */
    int anchor_pos;
    hg_dtype dt;     /* the anchor's dtype */
    LLVMTypeRef t;   /* its register type */
} rctx;

typedef enum { PASS_STATS, PASS_FINAL } pass_kind;

static int pos_in(const hg_value *v, int n, hg_value x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

/* feeds[m]: the anchor's input reads member m (transitively inside the
 * kernel), so the statistics passes compute it. */
static hg_status classify(rctx *e) {
    const hg_kernel *k = e->k;
    int n = k->n_members;
    e->feeds = calloc((size_t)n + 1, 1);
    if (!e->feeds) return hg_error(HG_ERR_NOMEM, "jit: row flags");
    e->anchor_pos = pos_in(k->members, n, k->anchor);
    hg_value x = hg_node_at(e->g, k->anchor)->in[0];
    int px = pos_in(k->members, n, x);
    if (px >= 0) e->feeds[px] = 1;
    for (int m = n - 1; m >= 0; m--) { /* members ascend: readers come later */
        if (!e->feeds[m]) continue;
        const hg_node *nd = hg_node_at(e->g, k->members[m]);
        for (int j = 0; j < nd->n_in; j++) {
            int p = pos_in(k->members, n, nd->in[j]);
            if (p >= 0) e->feeds[p] = 1;
        }
    }
    return hg_ok();
}

/* Element j of the row whose stream offsets are base[]: PASS_STATS
 * computes the members the anchor's input depends on and returns that
 * input (*x); PASS_FINAL computes every member, the anchor by `anchor`
 * from its input, and stores every output. */
typedef LLVMValueRef (*anchor_fn)(rctx *e, LLVMValueRef x, void *stats);

static hg_status element(rctx *e, pass_kind pass, LLVMValueRef *base, LLVMValueRef j,
                         LLVMValueRef *x, anchor_fn anchor, void *stats) {
    hg_jb *b = e->b;
    const hg_graph *g = e->g;
    const hg_kernel *k = e->k;
    int no = k->n_outputs, ni = k->n_inputs;
    LLVMValueRef off[MAX_STREAMS];
    for (int s = 0; s < no + ni; s++)
        off[s] = e->st[s][e->rank - 1] ? LLVMBuildAdd(b->B, base[s], j, "") : base[s];
    LLVMValueRef *mem = calloc((size_t)k->n_members + 1, sizeof *mem);
    LLVMValueRef *inv = calloc((size_t)ni + 1, sizeof *inv);
    if (!mem || !inv) {
        free(mem);
        free(inv);
        return hg_error(HG_ERR_NOMEM, "jit: row scratch");
    }
    for (int i = 0; i < ni; i++) /* unused loads are dead code */
        inv[i] = hg_jit_load(b, e->ptr[no + i], hg_value_dtype(g, k->inputs[i]), off[no + i]);
    hg_status st = hg_ok();
    hg_value xin = hg_node_at(g, k->anchor)->in[0];
    for (int m = 0; m < k->n_members && st.code == HG_OK; m++) {
        if (pass == PASS_STATS && !e->feeds[m]) continue;
        const hg_node *n = hg_node_at(g, k->members[m]);
        LLVMValueRef a[HG_MAX_INPUTS];
        hg_dtype dt[HG_MAX_INPUTS];
        for (int q = 0; q < n->n_in; q++) {
            int mp = pos_in(k->members, k->n_members, n->in[q]);
            a[q] = mp >= 0 ? mem[mp] : inv[pos_in(k->inputs, ni, n->in[q])];
            dt[q] = hg_value_dtype(g, n->in[q]);
        }
        if (m == e->anchor_pos) {
            mem[m] = anchor(e, a[0], stats);
            continue;
        }
        mem[m] = hg_jit_ew_emit(b, n, dt, a);
        if (!mem[m])
            st = hg_error(HG_ERR_UNSUPPORTED, "jit: node %%%d (%s): no LLVM formula for %s",
                          k->members[m], hg_op_table[n->op].name, hg_dtype_name(dt[0]));
    }
    if (st.code == HG_OK && pass == PASS_STATS) {
        int mp = pos_in(k->members, k->n_members, xin);
        *x = mp >= 0 ? mem[mp] : inv[pos_in(k->inputs, ni, xin)];
    }
    if (st.code == HG_OK && pass == PASS_FINAL)
        for (int o = 0; o < no; o++)
            hg_jit_store(b, e->ptr[o], hg_value_dtype(g, k->outputs[o]), off[o],
                     mem[pos_in(k->members, k->n_members, k->outputs[o])]);
    free(mem);
    free(inv);
    return st;
}

/* ------------------------------------------------------------ anchors */

typedef struct {
    LLVMValueRef acc;  /* double accumulator (alloca) */
    LLVMValueRef acc2; /* second one: layer norm's sum of squares */
    LLVMValueRef K;    /* layer norm's shift: the row's first x (double) */
    LLVMValueRef macc; /* softmax max accumulator in the dtype (alloca) */
    LLVMValueRef mean, inv, m, sum; /* row statistics (registers) */
} stats;

static LLVMValueRef to_f64(rctx *e, LLVMValueRef x) {
    return e->t == e->b->f64 ? x : LLVMBuildFPExt(e->b->B, x, e->b->f64, "");
}
static LLVMValueRef from_f64(rctx *e, LLVMValueRef x) {
    return e->t == e->b->f64 ? x : LLVMBuildFPTrunc(e->b->B, x, e->t, "");
}

static void acc_add(hg_jb *b, LLVMValueRef acc, LLVMValueRef v) {
    LLVMValueRef s = LLVMBuildFAdd(b->B, LLVMBuildLoad2(b->B, b->f64, acc, ""), v, "");
    LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc);
    LLVMBuildStore(b->B, s, acc);
}

/* (T)((x - mean) * inv) */
static LLVMValueRef ln_final(rctx *e, LLVMValueRef x, void *sv) {
    stats *S = sv;
    hg_jb *b = e->b;
    LLVMValueRef d = LLVMBuildFSub(b->B, to_f64(e, x), S->mean, "");
    return from_f64(e, LLVMBuildFMul(b->B, d, S->inv, ""));
}

/* exp((double)x - m) */
static LLVMValueRef sm_exp(rctx *e, LLVMValueRef x, stats *S) {
    return hg_jv_exp(e->b, LLVMBuildFSub(e->b->B, to_f64(e, x), S->m, ""));
}

/* (T)((double)(T)exp(x - m) / sum) */
static LLVMValueRef sm_final(rctx *e, LLVMValueRef x, void *sv) {
    stats *S = sv;
    LLVMValueRef r = to_f64(e, from_f64(e, sm_exp(e, x, S)));
    return from_f64(e, LLVMBuildFDiv(e->b->B, r, S->sum, ""));
}

/* One statistics pass over the row, results in the accumulators: `what`
 * 0 = the sums of d = x - K and of d^2 (f32 layer norm), 1 = sum x, 4 =
 * sum (x - mean)^2 (f64 layer norm), 2 = max x, 3 = sum exp(x - m)
 * (softmax). */
static hg_status stats_pass(rctx *e, LLVMValueRef *base, stats *S, int what) {
    hg_jb *b = e->b;
    if (what == 2) LLVMBuildStore(b->B, hg_jb_fk(b, e->t, -1.0 / 0.0), S->macc);
    else LLVMBuildStore(b->B, hg_jb_fk(b, b->f64, 0.0), S->acc);
    if (what == 0) LLVMBuildStore(b->B, hg_jb_fk(b, b->f64, 0.0), S->acc2);
    hg_jb_loop lp;
    LLVMValueRef j = hg_jb_loop_begin(b, &lp, hg_jb_ik(b->i64, 0), hg_jb_ik(b->i64, e->C), "j");
    LLVMValueRef x = NULL;
    HG_TRY(element(e, PASS_STATS, base, j, &x, NULL, NULL));
    switch (what) {
    case 0: {
        LLVMValueRef d = LLVMBuildFSub(b->B, to_f64(e, x), S->K, "");
        acc_add(b, S->acc, d);
        acc_add(b, S->acc2, LLVMBuildFMul(b->B, d, d, ""));
        break;
    }
    case 1: acc_add(b, S->acc, to_f64(e, x)); break;
    case 4: {
        LLVMValueRef d = LLVMBuildFSub(b->B, to_f64(e, x), S->mean, "");
        acc_add(b, S->acc, LLVMBuildFMul(b->B, d, d, ""));
        break;
    }
    case 2: {
        LLVMValueRef cur = LLVMBuildLoad2(b->B, e->t, S->macc, "");
        LLVMBuildStore(b->B, hg_jb_intr2(b, "llvm.maximum", cur, x), S->macc);
        break;
    }
    default: acc_add(b, S->acc, sm_exp(e, x, S)); break;
    }
    hg_jb_loop_end(b, &lp);
    return hg_ok();
}

/* 1 / sqrt(var + eps) in double */
static LLVMValueRef ln_inv(rctx *e, LLVMValueRef var, double eps) {
    hg_jb *b = e->b;
    var = LLVMBuildFAdd(b->B, var, hg_jb_fk(b, b->f64, eps), "");
    return LLVMBuildFDiv(b->B, hg_jb_fk(b, b->f64, 1.0), hg_jb_intr1(b, "llvm.sqrt", var), "inv");
}

/* The passes of one row (offsets base[]). */
static hg_status emit_row(rctx *e, LLVMValueRef *base, stats *S) {
    hg_jb *b = e->b;
    const hg_node *an = hg_node_at(e->g, e->k->anchor);
    LLVMValueRef Cd = hg_jb_fk(b, b->f64, (double)e->C);
    anchor_fn fin;
    if (an->op == HG_OP_layer_norm && e->dt == HG_F32) {
        /* one pass: the sums shifted by K = x[0] (see the file comment) */
        LLVMValueRef x0 = NULL;
        HG_TRY(element(e, PASS_STATS, base, hg_jb_ik(b->i64, 0), &x0, NULL, NULL));
        S->K = to_f64(e, x0);
        HG_TRY(stats_pass(e, base, S, 0));
        LLVMValueRef s1 = LLVMBuildLoad2(b->B, b->f64, S->acc, "");
        LLVMValueRef s2 = LLVMBuildLoad2(b->B, b->f64, S->acc2, "");
        LLVMValueRef m1 = LLVMBuildFDiv(b->B, s1, Cd, ""); /* mean - K */
        S->mean = LLVMBuildFAdd(b->B, S->K, m1, "mean");
        LLVMValueRef var = LLVMBuildFSub(b->B, LLVMBuildFDiv(b->B, s2, Cd, ""),
                                         LLVMBuildFMul(b->B, m1, m1, ""), "");
        /* >= 0 against the cancellation; NaN stays NaN */
        var = hg_jb_intr2(b, "llvm.maximum", var, hg_jb_fk(b, b->f64, 0.0));
        S->inv = ln_inv(e, var, an->attrs.eps);
        fin = ln_final;
    } else if (an->op == HG_OP_layer_norm) {
        HG_TRY(stats_pass(e, base, S, 1));
        S->mean = LLVMBuildFDiv(b->B, LLVMBuildLoad2(b->B, b->f64, S->acc, ""), Cd, "mean");
        HG_TRY(stats_pass(e, base, S, 4));
        LLVMValueRef var = LLVMBuildFDiv(b->B, LLVMBuildLoad2(b->B, b->f64, S->acc, ""), Cd, "");
        S->inv = ln_inv(e, var, an->attrs.eps);
        fin = ln_final;
    } else {
        HG_TRY(stats_pass(e, base, S, 2));
        S->m = to_f64(e, LLVMBuildLoad2(b->B, e->t, S->macc, ""));
        HG_TRY(stats_pass(e, base, S, 3));
        S->sum = LLVMBuildLoad2(b->B, b->f64, S->acc, "sum");
        fin = sm_final;
    }
    hg_jb_loop lp;
    LLVMValueRef j = hg_jb_loop_begin(b, &lp, hg_jb_ik(b->i64, 0), hg_jb_ik(b->i64, e->C), "j");
    HG_TRY(element(e, PASS_FINAL, base, j, NULL, fin, S));
    hg_jb_loop_end(b, &lp);
    return hg_ok();
}

/* ------------------------------------------------------------ kernel */

int hg_jit_row_supported(const hg_graph *g, const hg_kernel *k) {
    if (k->kind != HG_KERNEL_ROW || k->anchor == HG_NONE) return 0;
    const hg_node *an = hg_node_at(g, k->anchor);
    if (an->op != HG_OP_layer_norm && an->op != HG_OP_softmax) return 0;
    if (!hg_dtype_is_float(an->dtype) || hg_value_dtype(g, an->in[0]) != an->dtype) return 0;
    for (int m = 0; m < k->n_members; m++) {
        if (k->members[m] == k->anchor) continue;
        const hg_node *n = hg_node_at(g, k->members[m]);
        if (!hg_shape_eq(n->shape, k->space) || !hg_jit_ew_supported(g, n)) return 0;
    }
    return hg_shape_eq(an->shape, k->space);
}

hg_status hg_jit_emit_row(hg_jb *b, const hg_graph *g, const hg_kernel *k, const int *alias,
                          const char *name) {
    rctx *e = calloc(1, sizeof *e);
    if (!e) return hg_error(HG_ERR_NOMEM, "jit: row kernel");
    e->b = b;
    e->g = g;
    e->k = k;
    hg_shape sp = k->space;
    if (sp.rank == 0) sp = hg_shape_of(1, (int64_t)1); /* one row of one element */
    e->rank = sp.rank;
    e->C = sp.dim[sp.rank - 1];
    int no = k->n_outputs, ni = k->n_inputs, np = no + ni;
    hg_status st = np <= MAX_STREAMS ? classify(e)
                                     : hg_error(HG_ERR_UNSUPPORTED, "jit: row kernel: %d buffers", np);
    if (st.code != HG_OK) {
        free(e->feeds);
        free(e);
        return st;
    }
    e->dt = hg_node_at(g, k->anchor)->dtype;
    e->t = hg_jit_reg_type(b, e->dt);
    for (int o = 0; o < no; o++) hg_jit_bcast_strides(sp, sp, e->st[o]);
    for (int i = 0; i < ni; i++) {
        hg_shape is = hg_value_shape(g, k->inputs[i]);
        if (k->space.rank == 0) is = hg_shape_of(1, (int64_t)1);
        hg_jit_bcast_strides(sp, is, e->st[no + i]);
    }
    LLVMValueRef in = hg_jit_open_kernel(b, name, np, e->ptr);
    for (int o = 0; alias && o < no; o++)
        if (alias[o] >= 0) e->ptr[o] = e->ptr[no + alias[o]];
    stats S = {0};
    S.acc = LLVMBuildAlloca(b->B, b->f64, "acc");
    S.acc2 = LLVMBuildAlloca(b->B, b->f64, "acc2");
    S.macc = LLVMBuildAlloca(b->B, e->t, "macc");
    if (e->C > 0 && hg_shape_numel(sp) > 0) {
        hg_jb_loop lr;
        LLVMValueRef r = hg_jb_loop_begin(b, &lr, LLVMGetParam(in, 0), LLVMGetParam(in, 1), "row");
        /* outer indices of row r (row-major over dims 0..rank-2) */
        LLVMValueRef base[MAX_STREAMS];
        for (int s = 0; s < np; s++) base[s] = hg_jb_ik(b->i64, 0);
        int64_t inner = 1;
        for (int d = e->rank - 2; d >= 0; d--) {
            int64_t n = sp.dim[d];
            if (n > 1) {
                LLVMValueRef q = LLVMBuildUDiv(b->B, r, hg_jb_ik(b->i64, inner), "");
                LLVMValueRef id = LLVMBuildURem(b->B, q, hg_jb_ik(b->i64, n), "");
                for (int s = 0; s < np; s++)
                    if (e->st[s][d])
                        base[s] = LLVMBuildAdd(
                            b->B, base[s], LLVMBuildMul(b->B, id, hg_jb_ik(b->i64, e->st[s][d]), ""),
                            "");
            }
            inner *= n;
        }
        st = emit_row(e, base, &S);
        if (st.code == HG_OK) hg_jb_loop_end(b, &lr);
    }
    if (st.code == HG_OK) LLVMBuildRetVoid(b->B);
    free(e->feeds);
    free(e);
    return st;
}
