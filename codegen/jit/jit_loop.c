/* The HG_KERNEL_LOOP emitter (jit_internal.h): one LLVM function per
 * fusion group over its iteration space `space`.
 *
 * Loop nest. Every buffer the kernel touches is a stream with an element
 * stride per dim of space: an input broadcast numpy-style into space (stride
 * 0 along broadcast dims), an output of shape space (row-major), the
 * reduction's output (row-major over the kept dims, 0 along reduced dims),
 * and the flat element index (row-major; random ops draw by it). Without a
 * reduction the loops run over space's dims; with one, over the kept dims
 * (outer) then the reduced dims (inner), so every output element of the
 * reduction is one sequential accumulation inside one iteration of the
 * outermost loop. Adjacent dims of one class are collapsed when every stream
 * is contiguous across them; dims of extent 1 are dropped. The outermost
 * loop is the parallel extent: the function computes its iterations
 * [begin, end).
 *
 * Body, per element: every input is loaded first, then the members are
 * computed in node order (formulas of jit_ew.c; random ops drawn inline
 * from the flat index by jit_random.c, exactly the reference's numbers), then every output of shape space is stored. So an
 * output buffer may be the same buffer as an input of the same shape and
 * element size (in place, hg_memplan_schedule's rule): the function then
 * reads and writes it through one pointer (alias[]); any other overlap is
 * not allowed.
 *
 * Column reductions: when the inputs contiguous (stride 1) along the
 * innermost kept level but not along the reduced levels below it hold
 * more elements than those contiguous along the innermost reduced level (a
 * sum over the rows of [R, C] into [C], e.g. a bias or layer-norm gain
 * gradient over N*k edges), the kept level is tiled by COL_TILE and the loops are
 * interchanged: per tile, COL_TILE accumulators (a stack array) are
 * initialised, the reduced levels run outside a unit-stride loop over the
 * tile's columns, then the tile is stored. Each output element still sums
 * its inputs in the same ascending order as the row-wise nest, so the
 * result does not depend on this choice or on the thread count; the
 * row-wise nest read the input once per column with stride C instead.
 *
 * Reductions accumulate in double (float sum/mean, as the reference) or in
 * the dtype with llvm.maximum (max: NaN-propagating); float sums are marked
 * reassociable so the vectoriser may use partial sums: the result differs
 * from the reference's ascending sum by double rounding only, and is the
 * same for every thread count (a reduction is never split).
 *
 * Pointers reach the body as noalias arguments of an always-inlined inner
 * function, so LLVM vectorises without runtime alias checks (an in-place
 * pair is one argument: same pointer, same index, no loop-carried
 * dependence). */
#include <stdlib.h>
#include <string.h>

#include "codegen/jit/jit_internal.h"

#define MAX_STREAMS (2 * HG_MAX_INPUTS + 64)
#define COL_TILE 256 /* accumulators of one column tile */
#define SHORT_ROW_MIN 8  /* innermost extents whose row loop is not */
#define SHORT_ROW_MAX 16 /* loop-vectorised (short_row_outer) */

typedef struct {
    int n;                              /* loop levels */
    int64_t ext[HG_MAX_RANK + 1];       /* extent per level, outer first */
    int reduced[HG_MAX_RANK + 1];       /* level is a reduced dim */
    int ns;                             /* streams */
    int64_t st[MAX_STREAMS][HG_MAX_RANK + 1];
} nest;

/* Stream layout: [0, n_out) outputs, [n_out, n_out + n_in) inputs, then the
 * element index. */
typedef struct {
    const hg_graph *g;
    const hg_kernel *k;
    int red_axis[HG_MAX_RANK]; /* dim d of space is reduced */
    int idx_stream;
    nest ln;
} plan;

static int member_pos(const hg_kernel *k, hg_value v) {
    for (int i = 0; i < k->n_members; i++)
        if (k->members[i] == v) return i;
    return -1;
}
static int input_pos(const hg_kernel *k, hg_value v) {
    for (int i = 0; i < k->n_inputs; i++)
        if (k->inputs[i] == v) return i;
    return -1;
}

void hg_jit_bcast_strides(hg_shape space, hg_shape s, int64_t *st) {
    int r = space.rank;
    int64_t m = 1;
    for (int d = r - 1; d >= 0; d--) {
        int id = d - (r - s.rank);
        if (id >= 0 && s.dim[id] != 1) {
            st[d] = m;
            m *= s.dim[id];
        } else {
            st[d] = 0;
        }
    }
}

static void make_plan(const hg_graph *g, const hg_kernel *k, plan *p) {
    memset(p, 0, sizeof *p);
    p->g = g;
    p->k = k;
    hg_shape sp = k->space;
    int r = sp.rank;
    if (k->reduce != HG_NONE) {
        const hg_node *rn = hg_node_at(g, k->reduce);
        if (rn->attrs.naxes == 0)
            for (int d = 0; d < r; d++) p->red_axis[d] = 1;
        for (int i = 0; i < rn->attrs.naxes; i++) {
            int a = (int)rn->attrs.axes[i];
            if (a < 0) a += r;
            p->red_axis[a] = 1;
        }
    }
    int ns = k->n_outputs + k->n_inputs + 1;
    p->idx_stream = ns - 1;
    int64_t st[MAX_STREAMS][HG_MAX_RANK];
    for (int o = 0; o < k->n_outputs; o++) {
        if (k->outputs[o] == k->reduce) { /* row-major over the kept dims */
            int64_t m = 1;
            for (int d = r - 1; d >= 0; d--) {
                st[o][d] = p->red_axis[d] ? 0 : m;
                if (!p->red_axis[d]) m *= sp.dim[d];
            }
        } else {
            hg_jit_bcast_strides(sp, sp, st[o]);
        }
    }
    for (int i = 0; i < k->n_inputs; i++)
        hg_jit_bcast_strides(sp, hg_value_shape(g, k->inputs[i]), st[k->n_outputs + i]);
    hg_jit_bcast_strides(sp, sp, st[p->idx_stream]);
    /* loop order: kept dims then reduced dims; collapse within a class */
    nest *ln = &p->ln;
    ln->ns = ns;
    for (int pass = 0; pass < 2; pass++) {
        int start = ln->n;
        for (int d = 0; d < r; d++) {
            if (p->red_axis[d] != pass) continue;
            if (sp.dim[d] == 1) continue;
            if (ln->n > start) {
                int l = ln->n - 1, ok = 1;
                for (int s = 0; s < ns; s++)
                    if (ln->st[s][l] != st[s][d] * sp.dim[d]) ok = 0;
                if (ok) {
                    ln->ext[l] *= sp.dim[d];
                    for (int s = 0; s < ns; s++) ln->st[s][l] = st[s][d];
                    continue;
                }
            }
            ln->ext[ln->n] = sp.dim[d];
            ln->reduced[ln->n] = pass;
            for (int s = 0; s < ns; s++) ln->st[s][ln->n] = st[s][d];
            ln->n++;
        }
        /* the outermost level is kept (the parallel extent), even if of
         * extent 1 (full reductions, rank 0) */
        if (pass == 0 && ln->n == 0) {
            ln->ext[0] = 1;
            ln->reduced[0] = 0;
            for (int s = 0; s < ns; s++) ln->st[s][0] = 0;
            ln->n = 1;
        }
    }
}

void hg_jit_extent(const hg_graph *g, const hg_kernel *k, int64_t *units,
                   int64_t *unit_elems) {
    if (k->kind == HG_KERNEL_ROW) {
        hg_shape s = k->space;
        int64_t c = s.rank ? s.dim[s.rank - 1] : 1;
        *unit_elems = c;
        *units = c ? hg_shape_numel(s) / c : 0;
        return;
    }
    plan p;
    make_plan(g, k, &p);
    *units = p.ln.ext[0];
    int64_t e = 1;
    for (int l = 1; l < p.ln.n; l++) e *= p.ln.ext[l];
    *unit_elems = e;
}

/* ------------------------------------------------------------ emission */

typedef struct {
    hg_jb *b;
    const plan *p;
    LLVMValueRef ptr[MAX_STREAMS];
    LLVMValueRef acc;     /* reduction accumulator (alloca) or NULL */
    LLVMValueRef acc_tile; /* [COL_TILE] accumulators of a column reduction */
    LLVMTypeRef acc_t;
    const char *name;     /* the kernel function's name */
} ectx;

static LLVMTypeRef mem_type(hg_jb *b, hg_dtype t) {
    return t == HG_BOOL ? b->i8 : hg_jit_reg_type(b, t);
}

LLVMValueRef hg_jit_load(hg_jb *b, LLVMValueRef base, hg_dtype t, LLVMValueRef off) {
    LLVMValueRef p = LLVMBuildGEP2(b->B, mem_type(b, t), base, &off, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(b->B, mem_type(b, t), p, "");
    LLVMSetAlignment(v, (unsigned)hg_dtype_size(t));
    if (t == HG_BOOL) v = LLVMBuildICmp(b->B, LLVMIntNE, v, hg_jb_ik(b->i8, 0), "");
    return v;
}

void hg_jit_store(hg_jb *b, LLVMValueRef base, hg_dtype t, LLVMValueRef off, LLVMValueRef v) {
    if (t == HG_BOOL) v = LLVMBuildZExt(b->B, v, b->i8, "");
    LLVMValueRef p = LLVMBuildGEP2(b->B, mem_type(b, t), base, &off, 1, "");
    LLVMSetAlignment(LLVMBuildStore(b->B, v, p), (unsigned)hg_dtype_size(t));
}

static LLVMValueRef load_elem(ectx *e, int s, hg_dtype t, LLVMValueRef off) {
    return hg_jit_load(e->b, e->ptr[s], t, off);
}

static void store_elem(ectx *e, int s, hg_dtype t, LLVMValueRef off, LLVMValueRef v) {
    hg_jit_store(e->b, e->ptr[s], t, off, v);
}

/* One element: offsets off[s] of every stream. */
static hg_status emit_element(ectx *e, LLVMValueRef *off) {
    hg_jb *b = e->b;
    const hg_graph *g = e->p->g;
    const hg_kernel *k = e->p->k;
    LLVMValueRef *mem = calloc((size_t)k->n_members, sizeof *mem);
    LLVMValueRef *inv = calloc((size_t)(k->n_inputs ? k->n_inputs : 1), sizeof *inv);
    if (!mem || !inv) {
        free(mem);
        free(inv);
        return hg_error(HG_ERR_NOMEM, "jit: emitter scratch");
    }
    for (int i = 0; i < k->n_inputs; i++)
        inv[i] = load_elem(e, k->n_outputs + i, hg_value_dtype(g, k->inputs[i]),
                           off[k->n_outputs + i]);
    hg_status st = hg_ok();
    for (int m = 0; m < k->n_members; m++) {
        hg_value v = k->members[m];
        const hg_node *n = hg_node_at(g, v);
        LLVMValueRef a[HG_MAX_INPUTS];
        hg_dtype dt[HG_MAX_INPUTS];
        for (int j = 0; j < n->n_in; j++) {
            int mp = member_pos(k, n->in[j]);
            a[j] = mp >= 0 ? mem[mp] : inv[input_pos(k, n->in[j])];
            dt[j] = hg_value_dtype(g, n->in[j]);
        }
        if (v == k->reduce) {
            LLVMValueRef x = a[0];
            if (n->op == HG_OP_max) {
                LLVMValueRef cur = LLVMBuildLoad2(b->B, e->acc_t, e->acc, "");
                LLVMBuildStore(b->B, hg_jb_intr2(b, "llvm.maximum", cur, x), e->acc);
            } else {
                if (LLVMTypeOf(x) != b->f64) x = LLVMBuildFPExt(b->B, x, b->f64, "");
                LLVMValueRef cur = LLVMBuildLoad2(b->B, e->acc_t, e->acc, "");
                LLVMValueRef s = LLVMBuildFAdd(b->B, cur, x, "");
                LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc);
                LLVMBuildStore(b->B, s, e->acc);
            }
            continue;
        }
        if (n->op == HG_OP_random_uniform || n->op == HG_OP_random_normal)
            mem[m] = hg_jit_emit_random(b, n, a[0], a[1], a[2], off[e->p->idx_stream], e->name);
        else
            mem[m] = hg_jit_ew_emit(b, n, dt, a);
        if (!mem[m]) {
            st = hg_error(HG_ERR_UNSUPPORTED, "jit: node %%%d (%s): no LLVM formula for %s",
                          v, hg_op_table[n->op].name, hg_dtype_name(dt[0]));
            break;
        }
    }
    if (st.code == HG_OK)
        for (int o = 0; o < k->n_outputs; o++) {
            if (k->outputs[o] == k->reduce) continue;
            int mp = member_pos(k, k->outputs[o]);
            store_elem(e, o, hg_value_dtype(g, k->outputs[o]), off[o], mem[mp]);
        }
    free(mem);
    free(inv);
    return st;
}

static void reduce_init(ectx *e) {
    hg_jb *b = e->b;
    const hg_node *rn = hg_node_at(e->p->g, e->p->k->reduce);
    double v = rn->op == HG_OP_max ? -1.0 / 0.0 : 0.0;
    LLVMBuildStore(b->B, LLVMConstReal(e->acc_t, v), e->acc);
}

static void reduce_finish(ectx *e, LLVMValueRef *off) {
    hg_jb *b = e->b;
    const plan *p = e->p;
    const hg_kernel *k = p->k;
    const hg_node *rn = hg_node_at(p->g, k->reduce);
    LLVMValueRef acc = LLVMBuildLoad2(b->B, e->acc_t, e->acc, "");
    if (rn->op == HG_OP_mean) {
        int64_t cnt = 1;
        for (int d = 0; d < k->space.rank; d++)
            if (p->red_axis[d]) cnt *= k->space.dim[d];
        acc = LLVMBuildFDiv(b->B, acc, LLVMConstReal(b->f64, (double)cnt), "");
    }
    LLVMTypeRef t = hg_jit_reg_type(b, rn->dtype);
    if (LLVMTypeOf(acc) != t) acc = LLVMBuildFPTrunc(b->B, acc, t, "");
    for (int o = 0; o < k->n_outputs; o++)
        if (k->outputs[o] == k->reduce) store_elem(e, o, rn->dtype, off[o], acc);
}

/* Plain loop levels l.. (the reduced ones) down to one element. */
/* Level l runs over the rows of a short innermost level (SHORT_ROW_MIN..
 * SHORT_ROW_MAX elements, e.g. [R, 16] times a [16] or [R, 1] operand, or
 * a mean over 16 features): the loop vectoriser is kept off it. LLVM
 * unrolls the short row fully and then vectorised the row loop around it
 * with stride-16 interleaved accesses: 1.6 ns/element on one thread for
 * x [102400, 16] * m + x; off, the SLP vectoriser packs the unrolled row:
 * 0.10. Measured the same way (1.6M elements, m [R, 1] or [C]), rows of 8
 * gain a little (0.13 -> 0.10-0.11) and rows of 3, 20 and 32 run as well
 * or better with the loop vectoriser (0.08-0.13), so they keep it. */
static int short_row_outer(const nest *ln, int l) {
    return l == ln->n - 2 && ln->ext[l + 1] >= SHORT_ROW_MIN && ln->ext[l + 1] <= SHORT_ROW_MAX;
}

static hg_status emit_level(ectx *e, int l, LLVMValueRef *base) {
    hg_jb *b = e->b;
    const nest *ln = &e->p->ln;
    if (l == ln->n) return emit_element(e, base);
    hg_jb_loop lp;
    LLVMValueRef iv = hg_jb_loop_begin(b, &lp, hg_jb_ik(b->i64, 0),
                                       hg_jb_ik(b->i64, ln->ext[l]), "r");
    LLVMValueRef off[MAX_STREAMS];
    for (int s = 0; s < ln->ns; s++)
        off[s] = LLVMBuildAdd(b->B, base[s],
                              LLVMBuildMul(b->B, iv, hg_jb_ik(b->i64, ln->st[s][l]), ""), "");
    HG_TRY(emit_level(e, l + 1, off));
    lp.no_vectorize = short_row_outer(ln, l);
    hg_jb_loop_end(b, &lp);
    return hg_ok();
}

/* Level l is the innermost kept level, every level below it is reduced, and
 * the inputs contiguous along l but not along the innermost reduced level
 * hold more elements than those contiguous along the innermost reduced
 * level: the column-reduction case of the header comment. An input's
 * elements: the product of the extents of the levels it is not broadcast
 * along. (Counting inputs instead made the layer-norm variance
 * mean((x - m)^2) over rows of 128 a column reduction because of the small
 * [R, 1] mean m: x was gathered with stride 128, 1-6 GB/s instead of 80.) */
static int column_reduction(const plan *p, int l) {
    const nest *ln = &p->ln;
    if (p->k->reduce == HG_NONE || ln->reduced[l] || l + 1 >= ln->n) return 0;
    for (int m = l + 1; m < ln->n; m++)
        if (!ln->reduced[m]) return 0;
    double col = 0, row = 0;
    for (int i = 0; i < p->k->n_inputs; i++) {
        const int64_t *st = ln->st[p->k->n_outputs + i];
        double elems = 1;
        for (int m = 0; m < ln->n; m++)
            if (st[m] != 0) elems *= (double)ln->ext[m];
        if (st[ln->n - 1] == 1) row += elems;
        else if (st[l] == 1) col += elems;
    }
    return col > row;
}

/* Offsets base[s] + (c0 + j) * st[s][l] of every stream, and the
 * accumulator of tile column j. */
static void col_offsets(ectx *e, int l, LLVMValueRef *base, LLVMValueRef c0, LLVMValueRef j,
                        LLVMValueRef *off) {
    hg_jb *b = e->b;
    const nest *ln = &e->p->ln;
    LLVMValueRef c = LLVMBuildAdd(b->B, c0, j, "");
    for (int s = 0; s < ln->ns; s++) {
        LLVMValueRef t = LLVMBuildMul(b->B, c, hg_jb_ik(b->i64, ln->st[s][l]), "");
        off[s] = base ? LLVMBuildAdd(b->B, base[s], t, "") : t;
    }
    e->acc = LLVMBuildGEP2(b->B, e->acc_t, e->acc_tile, &j, 1, "");
}

/* The reduced levels m.. of a column tile [c0, c0 + cw) of kept level l,
 * the tile's columns innermost. */
static hg_status emit_col_reduced(ectx *e, int l, int m, LLVMValueRef *base, LLVMValueRef c0,
                                  LLVMValueRef cw) {
    hg_jb *b = e->b;
    const nest *ln = &e->p->ln;
    hg_jb_loop lp;
    if (m == ln->n) {
        LLVMValueRef j = hg_jb_loop_begin(b, &lp, hg_jb_ik(b->i64, 0), cw, "c");
        LLVMValueRef off[MAX_STREAMS];
        col_offsets(e, l, base, c0, j, off);
        HG_TRY(emit_element(e, off));
        hg_jb_loop_end(b, &lp);
        return hg_ok();
    }
    LLVMValueRef iv = hg_jb_loop_begin(b, &lp, hg_jb_ik(b->i64, 0),
                                       hg_jb_ik(b->i64, ln->ext[m]), "r");
    LLVMValueRef off[MAX_STREAMS];
    for (int s = 0; s < ln->ns; s++) {
        LLVMValueRef t = LLVMBuildMul(b->B, iv, hg_jb_ik(b->i64, ln->st[s][m]), "");
        off[s] = base ? LLVMBuildAdd(b->B, base[s], t, "") : t;
    }
    HG_TRY(emit_col_reduced(e, l, m + 1, off, c0, cw));
    hg_jb_loop_end(b, &lp);
    return hg_ok();
}

/* Kept level l over [lo, hi) in tiles of COL_TILE columns: initialise the
 * tile's accumulators, accumulate over the reduced levels, store. */
static hg_status emit_col_nest(ectx *e, int l, LLVMValueRef *base, LLVMValueRef lo,
                               LLVMValueRef hi) {
    hg_jb *b = e->b;
    LLVMValueRef tile = hg_jb_ik(b->i64, COL_TILE);
    LLVMValueRef n = LLVMBuildSub(b->B, hi, lo, "");
    LLVMValueRef nt = LLVMBuildSDiv(b->B, LLVMBuildAdd(b->B, n, hg_jb_ik(b->i64, COL_TILE - 1), ""),
                                    tile, "");
    hg_jb_loop lt, lj;
    LLVMValueRef t = hg_jb_loop_begin(b, &lt, hg_jb_ik(b->i64, 0), nt, "t");
    LLVMValueRef c0 = LLVMBuildAdd(b->B, lo, LLVMBuildMul(b->B, t, tile, ""), "");
    LLVMValueRef rest = LLVMBuildSub(b->B, hi, c0, "");
    LLVMValueRef cw = LLVMBuildSelect(b->B, LLVMBuildICmp(b->B, LLVMIntSLT, rest, tile, ""),
                                      rest, tile, "");
    LLVMValueRef off[MAX_STREAMS];
    LLVMValueRef j = hg_jb_loop_begin(b, &lj, hg_jb_ik(b->i64, 0), cw, "c");
    col_offsets(e, l, base, c0, j, off);
    reduce_init(e);
    hg_jb_loop_end(b, &lj);
    HG_TRY(emit_col_reduced(e, l, l + 1, base, c0, cw));
    j = hg_jb_loop_begin(b, &lj, hg_jb_ik(b->i64, 0), cw, "c");
    col_offsets(e, l, base, c0, j, off);
    reduce_finish(e, off);
    hg_jb_loop_end(b, &lj);
    hg_jb_loop_end(b, &lt);
    return hg_ok();
}

/* The kept levels l.. (outermost: [begin, end)), then the reduction (if
 * any) initialised, accumulated over the reduced levels and stored. */
static hg_status emit_nest(ectx *e, int l, LLVMValueRef *base, LLVMValueRef begin,
                           LLVMValueRef end) {
    hg_jb *b = e->b;
    const nest *ln = &e->p->ln;
    int has_red = e->p->k->reduce != HG_NONE;
    if (l == ln->n || (has_red && ln->reduced[l])) {
        /* all kept levels open: the reduction (if any) covers levels l.. */
        if (!has_red) return emit_element(e, base);
        reduce_init(e);
        HG_TRY(emit_level(e, l, base));
        reduce_finish(e, base);
        return hg_ok();
    }
    if (column_reduction(e->p, l))
        return emit_col_nest(e, l, base, begin ? begin : hg_jb_ik(b->i64, 0),
                             end ? end : hg_jb_ik(b->i64, ln->ext[l]));
    hg_jb_loop lp;
    LLVMValueRef iv = hg_jb_loop_begin(b, &lp, begin ? begin : hg_jb_ik(b->i64, 0),
                                       end ? end : hg_jb_ik(b->i64, ln->ext[l]), "k");
    LLVMValueRef off[MAX_STREAMS];
    for (int s = 0; s < ln->ns; s++) {
        LLVMValueRef t = LLVMBuildMul(b->B, iv, hg_jb_ik(b->i64, ln->st[s][l]), "");
        off[s] = base ? LLVMBuildAdd(b->B, base[s], t, "") : t;
    }
    HG_TRY(emit_nest(e, l + 1, off, NULL, NULL));
    lp.no_vectorize = short_row_outer(ln, l);
    hg_jb_loop_end(b, &lp);
    return hg_ok();
}

LLVMValueRef hg_jit_open_kernel(hg_jb *b, const char *name, int np, LLVMValueRef *inner_ptrs) {
    LLVMTypeRef wt_args[3] = {b->i64, b->i64, b->ptr};
    LLVMTypeRef wt = LLVMFunctionType(b->vd, wt_args, 3, 0);
    LLVMValueRef w = LLVMAddFunction(b->M, name, wt);
    LLVMTypeRef *it_args = malloc(sizeof(LLVMTypeRef) * (size_t)(np + 2));
    it_args[0] = b->i64;
    it_args[1] = b->i64;
    for (int i = 0; i < np; i++) it_args[2 + i] = b->ptr;
    LLVMTypeRef it = LLVMFunctionType(b->vd, it_args, (unsigned)(np + 2), 0);
    free(it_args);
    char iname[160];
    snprintf(iname, sizeof iname, "%s.body", name);
    LLVMValueRef in = LLVMAddFunction(b->M, iname, it);
    LLVMSetLinkage(in, LLVMInternalLinkage);
    unsigned na = LLVMGetEnumAttributeKindForName("noalias", 7);
    unsigned ai = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
    for (int i = 0; i < np; i++)
        LLVMAddAttributeAtIndex(in, (unsigned)(3 + i), LLVMCreateEnumAttribute(b->C, na, 0));
    LLVMAddAttributeAtIndex(in, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(b->C, ai, 0));
    /* wrapper: load the pointers, call the body */
    b->fn = w;
    LLVMPositionBuilderAtEnd(b->B, LLVMAppendBasicBlockInContext(b->C, w, "entry"));
    LLVMValueRef *args = malloc(sizeof(LLVMValueRef) * (size_t)(np + 2));
    args[0] = LLVMGetParam(w, 0);
    args[1] = LLVMGetParam(w, 1);
    for (int i = 0; i < np; i++) {
        LLVMValueRef idx = hg_jb_ik(b->i64, i);
        LLVMValueRef pp = LLVMBuildGEP2(b->B, b->ptr, LLVMGetParam(w, 2), &idx, 1, "");
        args[2 + i] = LLVMBuildLoad2(b->B, b->ptr, pp, "");
    }
    LLVMBuildCall2(b->B, it, in, args, (unsigned)(np + 2), "");
    LLVMBuildRetVoid(b->B);
    free(args);
    b->fn = in;
    LLVMPositionBuilderAtEnd(b->B, LLVMAppendBasicBlockInContext(b->C, in, "entry"));
    for (int i = 0; i < np; i++) inner_ptrs[i] = LLVMGetParam(in, (unsigned)(2 + i));
    return in;
}

hg_status hg_jit_emit_loop(hg_jb *b, const hg_graph *g, const hg_kernel *k, const int *alias,
                           const char *name) {
    plan *p = malloc(sizeof *p);
    ectx *e = calloc(1, sizeof *e);
    if (!p || !e) {
        free(p);
        free(e);
        return hg_error(HG_ERR_NOMEM, "jit: plan");
    }
    make_plan(g, k, p);
    e->b = b;
    e->p = p;
    int np = k->n_outputs + k->n_inputs;
    LLVMValueRef in = hg_jit_open_kernel(b, name, np, e->ptr);
    for (int o = 0; alias && o < k->n_outputs; o++)
        if (alias[o] >= 0) e->ptr[o] = e->ptr[k->n_outputs + alias[o]];
    e->name = name;
    if (k->reduce != HG_NONE) {
        const hg_node *rn = hg_node_at(g, k->reduce);
        e->acc_t = rn->op == HG_OP_max ? hg_jit_reg_type(b, rn->dtype) : b->f64;
        e->acc = LLVMBuildAlloca(b->B, e->acc_t, "acc");
        e->acc_tile = LLVMBuildArrayAlloca(b->B, e->acc_t, hg_jb_ik(b->i64, COL_TILE), "acct");
    }
    hg_status st = hg_ok();
    if (hg_shape_numel(k->space) > 0 || k->reduce != HG_NONE)
        st = emit_nest(e, 0, NULL, LLVMGetParam(in, 0), LLVMGetParam(in, 1));
    if (st.code == HG_OK) LLVMBuildRetVoid(b->B);
    free(p);
    free(e);
    return st;
}
