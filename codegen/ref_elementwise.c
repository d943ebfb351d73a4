/* Reference kernels of the elementwise ops (ir.h op table: unary, binary,
 * comparisons, logical, where) with numpy broadcasting.
 *
 * The scalar formulas are ir/elementwise.def, expanded in C by
 * ir/elementwise.h (hg_ew_f_OP, hg_ew_s_OP, hg_ew_i_OP, hg_ew_b_OP); no
 * formula is written here. Floats (f32, f64) are computed in double and
 * rounded once to the output dtype: for + - * / sqrt that is exactly the
 * f32 operation (double has more than 2 * 24 + 2 bits), for the
 * transcendental functions it is nearly correctly rounded, which is what
 * an oracle should be. f32 formulas that do at most one rounding
 * (hg_ew_f32_exact: add, sub, mul, div, maximum, square, ...) run on f32
 * operands directly, which gives the same bits. i32 arithmetic wraps
 * modulo 2^32 (two's complement).
 *
 * Iteration: the output is walked in flat order in blocks (one OpenMP task
 * each); each block is split into runs along the collapsed last dimension,
 * where every input advances with stride 0 (broadcast) or 1. Each run is
 * handled by a typed loop per (op, dtype) generated from the .def, with
 * the strides compile-time constants so the common cases vectorise.
 * Outputs under PAR_MIN elements are computed by one thread. */
#include "codegen/ref_internal.h"
#include "ir/elementwise.h"

#include <stdint.h>
#include <string.h>

#define BLOCK 16384        /* output elements per parallel task */
#define PAR_MIN 32768      /* fewer output elements: single-threaded */

/* ------------------------------------------------------- typed loops */

/* Binary op on one run for all four (stride a, stride b) in {0, 1}^2:
 * out[i] = FN(a[i], b[i]) converted to TY. */
#define L2(TA, TY, FN)                                                        \
    do {                                                                      \
        const TA *pa_ = (const TA *)in[0]->data + off[0];                     \
        const TA *pb_ = (const TA *)in[1]->data + off[1];                     \
        TY *py_ = (TY *)out->data + o;                                        \
        if (ist[0] && ist[1]) {                                               \
            _Pragma("omp simd")                                               \
            for (int64_t i = 0; i < len; i++) py_[i] = (TY)FN(pa_[i], pb_[i]); \
        } else if (ist[0]) {                                                  \
            TA b_ = pb_[0];                                                   \
            _Pragma("omp simd")                                               \
            for (int64_t i = 0; i < len; i++) py_[i] = (TY)FN(pa_[i], b_);    \
        } else if (ist[1]) {                                                  \
            TA a_ = pa_[0];                                                   \
            _Pragma("omp simd")                                               \
            for (int64_t i = 0; i < len; i++) py_[i] = (TY)FN(a_, pb_[i]);    \
        } else {                                                              \
            TY v_ = (TY)FN(pa_[0], pb_[0]);                                   \
            for (int64_t i = 0; i < len; i++) py_[i] = v_;                    \
        }                                                                     \
    } while (0)

/* Unary op over the contiguous elements [o, o + len) (the input has the
 * output's shape). */
#define L1(TA, TY, FN)                                                        \
    do {                                                                      \
        const TA *px_ = (const TA *)x->data + o;                              \
        TY *py_ = (TY *)out->data + o;                                        \
        for (int64_t i = 0; i < len; i++) py_[i] = (TY)FN(px_[i]);            \
    } while (0)

/* f32: the f32 evaluation when it is bit-identical, else the double one. */
#define F32(L, TY, op)                                                        \
    if (hg_ew_f32_exact[HG_OP_##op])                                          \
        L(float, TY, hg_ew_s_##op);                                           \
    else                                                                      \
        L(float, TY, hg_ew_f_##op)

/* One case per (op, dtype class) the .def defines: CASE(slot, op, body). */
#define CASE(slot, op, ...) HG_EWC_IF(slot, case HG_OP_##op: __VA_ARGS__; return;)

/* Binary ops and comparisons on one run (dtypes checked by the caller). */
static void binary_run(hg_op op, const hg_tensor *const *in, hg_tensor *out,
                       int64_t o, const int64_t *off, const int64_t *ist,
                       int64_t len) {
#define HG_EW_UNARY(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
    switch (in[0]->dtype) {
    case HG_F32:
        switch (op) {
#define HG_EW_BINARY(op, F, I, B) CASE(F, op, F32(L2, float, op))
#define HG_EW_COMPARE(op, F, I, B) CASE(F, op, F32(L2, uint8_t, op))
#include "ir/elementwise.def"
        default: return;
        }
    case HG_F64:
        switch (op) {
#define HG_EW_UNARY(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
#define HG_EW_BINARY(op, F, I, B) CASE(F, op, L2(double, double, hg_ew_f_##op))
#define HG_EW_COMPARE(op, F, I, B) CASE(F, op, L2(double, uint8_t, hg_ew_f_##op))
#include "ir/elementwise.def"
        default: return;
        }
    case HG_I32:
        switch (op) {
#define HG_EW_UNARY(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
#define HG_EW_BINARY(op, F, I, B) CASE(I, op, L2(int32_t, int32_t, hg_ew_i_##op))
#define HG_EW_COMPARE(op, F, I, B) CASE(I, op, L2(int32_t, uint8_t, hg_ew_i_##op))
#include "ir/elementwise.def"
        default: return;
        }
    case HG_BOOL:
        switch (op) {
#define HG_EW_UNARY(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
#define HG_EW_BINARY(op, F, I, B) CASE(B, op, L2(uint8_t, uint8_t, hg_ew_b_##op))
#define HG_EW_COMPARE(op, F, I, B) CASE(B, op, L2(uint8_t, uint8_t, hg_ew_b_##op))
#include "ir/elementwise.def"
        default: return;
        }
    default:
        return;
    }
}

/* Unary op over the contiguous elements [o, o + len). */
static void unary_run(hg_op op, const hg_tensor *x, hg_tensor *out, int64_t o,
                      int64_t len) {
#define HG_EW_BINARY(op, F, I, B)
#define HG_EW_COMPARE(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
    switch (x->dtype) {
    case HG_F32:
        switch (op) {
#define HG_EW_UNARY(op, F, I, B) CASE(F, op, F32(L1, float, op))
#include "ir/elementwise.def"
        default: return;
        }
    case HG_F64:
        switch (op) {
#define HG_EW_BINARY(op, F, I, B)
#define HG_EW_COMPARE(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
#define HG_EW_UNARY(op, F, I, B) CASE(F, op, L1(double, double, hg_ew_f_##op))
#include "ir/elementwise.def"
        default: return;
        }
    case HG_I32:
        switch (op) {
#define HG_EW_BINARY(op, F, I, B)
#define HG_EW_COMPARE(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
#define HG_EW_UNARY(op, F, I, B) CASE(I, op, L1(int32_t, int32_t, hg_ew_i_##op))
#include "ir/elementwise.def"
        default: return;
        }
    case HG_BOOL:
        switch (op) {
#define HG_EW_BINARY(op, F, I, B)
#define HG_EW_COMPARE(op, F, I, B)
#define HG_EW_SELECT(op, F, I, B)
#define HG_EW_UNARY(op, F, I, B) CASE(B, op, L1(uint8_t, uint8_t, hg_ew_b_##op))
#include "ir/elementwise.def"
        default: return;
        }
    default:
        return;
    }
}
#undef CASE
#undef F32
#undef L1
#undef L2

/* where on one run, copying elements as unsigned integers of their size
 * (bit-exact, NaN payloads included): the .def's F_SEL / I_SEL / M_SEL,
 * which return the chosen operand unchanged. */
#define WL(SC, SX, SY)                                                        \
    _Pragma("omp simd")                                                       \
    for (int64_t i = 0; i < len; i++)                                         \
        o[i] = c[i * SC] ? x[i * SX] : y[i * SY];                             \
    break;
#define DEF_WHERE(T, SUF)                                                     \
    static void where_##SUF(const uint8_t *c, const T *x, const T *y, T *o,   \
                            int64_t len, int sc, int sx, int sy) {            \
        switch (sc * 4 + sx * 2 + sy) {                                       \
        case 0: WL(0, 0, 0)                                                   \
        case 1: WL(0, 0, 1)                                                   \
        case 2: WL(0, 1, 0)                                                   \
        case 3: WL(0, 1, 1)                                                   \
        case 4: WL(1, 0, 0)                                                   \
        case 5: WL(1, 0, 1)                                                   \
        case 6: WL(1, 1, 0)                                                   \
        default: WL(1, 1, 1)                                                  \
        }                                                                     \
    }
DEF_WHERE(uint8_t, u8)
DEF_WHERE(uint32_t, u32)
DEF_WHERE(uint64_t, u64)
#undef DEF_WHERE
#undef WL

static void where_run(const hg_tensor *const *in, hg_tensor *out, int64_t o,
                      const int64_t *off, const int64_t *ist, int64_t len) {
    const uint8_t *c = (const uint8_t *)in[0]->data + off[0];
    int sc = ist[0] != 0, sx = ist[1] != 0, sy = ist[2] != 0;
    switch (hg_dtype_size(out->dtype)) {
    case 1:
        where_u8(c, (const uint8_t *)in[1]->data + off[1],
                 (const uint8_t *)in[2]->data + off[2],
                 (uint8_t *)out->data + o, len, sc, sx, sy);
        break;
    case 4:
        where_u32(c, (const uint32_t *)in[1]->data + off[1],
                  (const uint32_t *)in[2]->data + off[2],
                  (uint32_t *)out->data + o, len, sc, sx, sy);
        break;
    default:
        where_u64(c, (const uint64_t *)in[1]->data + off[1],
                  (const uint64_t *)in[2]->data + off[2],
                  (uint64_t *)out->data + o, len, sc, sx, sy);
        break;
    }
}

/* ---------------------------------------------------------- iteration */

/* Broadcast iteration space: the output shape collapsed to few dims, and
 * each input's element stride per collapsed dim (0 where broadcast). */
typedef struct {
    int rank;
    int64_t dim[HG_MAX_RANK];
    int64_t st[3][HG_MAX_RANK];
    int n_in;
} iter_space;

static void make_space(const hg_node *n, const hg_tensor *const *in,
                       iter_space *sp) {
    hg_shape os = n->shape;
    int r = os.rank;
    int64_t st[3][HG_MAX_RANK];
    sp->n_in = n->n_in;
    for (int k = 0; k < n->n_in; k++) {
        hg_shape is = in[k]->shape;
        int64_t s = 1;
        for (int d = r - 1; d >= 0; d--) {
            int id = d - (r - is.rank);
            if (id >= 0 && is.dim[id] != 1) {
                st[k][d] = s;
                s *= is.dim[id];
            } else {
                st[k][d] = 0;
            }
        }
    }
    /* collapse dim d into d+1 when every input is contiguous across them */
    int m = 0;
    for (int d = 0; d < r; d++) {
        if (m > 0) {
            int ok = 1;
            for (int k = 0; k < n->n_in; k++)
                if (sp->st[k][m - 1] != st[k][d] * os.dim[d]) ok = 0;
            if (ok) {
                sp->dim[m - 1] *= os.dim[d];
                for (int k = 0; k < n->n_in; k++) sp->st[k][m - 1] = st[k][d];
                continue;
            }
        }
        sp->dim[m] = os.dim[d];
        for (int k = 0; k < n->n_in; k++) sp->st[k][m] = st[k][d];
        m++;
    }
    if (m == 0) { /* rank 0 */
        sp->dim[0] = 1;
        for (int k = 0; k < n->n_in; k++) sp->st[k][0] = 0;
        m = 1;
    }
    sp->rank = m;
}

/* The op table's dtype rule (ir/elementwise.def): the data inputs share
 * one dtype the op defines; where's condition is bool. */
static hg_status check_dtypes(const hg_node *n, const hg_tensor *const *in) {
    int first = n->op == HG_OP_where;
    hg_dtype t = in[first]->dtype;
    int ok = (hg_op_table[n->op].dtypes & HG_DTS(t)) != 0;
    for (int k = first; k < n->n_in; k++) ok = ok && in[k]->dtype == t;
    if (first) ok = ok && in[0]->dtype == HG_BOOL;
    if (!ok)
        return hg_error(HG_ERR_UNSUPPORTED, "%s on %s", hg_op_table[n->op].name,
                        hg_dtype_name(t));
    return hg_ok();
}

/* Output elements [o, o + len) of one run of the last collapsed dim. */
static void run_span(const hg_node *n, const hg_tensor *const *in,
                     hg_tensor *out, int64_t o, const int64_t *off,
                     const int64_t *ist, int64_t len) {
    if (n->op == HG_OP_where)
        where_run(in, out, o, off, ist, len);
    else if (n->n_in == 2)
        binary_run(n->op, in, out, o, off, ist, len);
    else
        unary_run(n->op, in[0], out, o, len);
}

hg_status hg_ref_elementwise(const hg_node *n, const hg_tensor *const *in,
                             hg_tensor *out) {
    HG_TRY(check_dtypes(n, in));
    int64_t total = hg_shape_numel(n->shape);
    if (total == 0) return hg_ok();
    iter_space sp;
    make_space(n, in, &sp);
    int r = sp.rank;
    int64_t nblocks = (total + BLOCK - 1) / BLOCK;
    /* small tensors: one thread (a fork/join costs more than the work) */
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        int64_t o = blk * BLOCK, end = o + BLOCK < total ? o + BLOCK : total;
        int64_t idx[HG_MAX_RANK], off[3] = {0, 0, 0}, ist[3] = {0, 0, 0};
        int64_t rem = o;
        for (int d = r - 1; d >= 0; d--) {
            idx[d] = rem % sp.dim[d];
            rem /= sp.dim[d];
        }
        for (int k = 0; k < sp.n_in; k++) {
            for (int d = 0; d < r; d++) off[k] += idx[d] * sp.st[k][d];
            ist[k] = sp.st[k][r - 1];
        }
        while (o < end) {
            int64_t len = sp.dim[r - 1] - idx[r - 1];
            if (len > end - o) len = end - o;
            run_span(n, in, out, o, off, ist, len);
            o += len;
            idx[r - 1] += len;
            for (int k = 0; k < sp.n_in; k++) off[k] += len * ist[k];
            /* carry into outer dims */
            for (int d = r - 1; d > 0 && idx[d] == sp.dim[d]; d--) {
                idx[d] = 0;
                idx[d - 1]++;
                for (int k = 0; k < sp.n_in; k++)
                    off[k] += sp.st[k][d - 1] - sp.dim[d] * sp.st[k][d];
            }
        }
    }
    return hg_ok();
}
