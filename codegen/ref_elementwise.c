/* Reference kernels of the elementwise ops (ir.h op table: unary, binary,
 * comparisons, logical, where) with numpy broadcasting.
 *
 * Floats (f32, f64) are computed in double and rounded once to the output
 * dtype: for + - * / sqrt that is exactly the f32 operation (double has more
 * than 2 * 24 + 2 bits), for the transcendental functions it is nearly
 * correctly rounded, which is what an oracle should be. i32 arithmetic runs
 * in 64-bit integers and wraps to 32 bits (two's complement).
 *
 * Iteration: the output is walked in flat order in blocks (one OpenMP task
 * each); each block is split into runs along the collapsed last dimension,
 * where every input advances with stride 0 (broadcast) or 1. A run is
 * handled by a typed loop (below: no scratch buffers, the strides hoisted)
 * when one exists for the op and dtype, else in CHUNK pieces through double
 * (or int64) scratch buffers. Outputs under PAR_MIN elements are computed
 * by one thread. */
#include "codegen/ref_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define CHUNK 256          /* elements per double scratch buffer */
#define BLOCK 16384        /* output elements per parallel task */
#define PAR_MIN 32768      /* fewer output elements: single-threaded */

/* ------------------------------------------------------ scalar functions */

static double sigmoid_d(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double softplus_d(double x) {
    if (isnan(x)) return x;
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

static double gelu_tanh_d(double x) {
    const double c = 0.79788456080286535588; /* sqrt(2/pi) */
    return 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)));
}

static double sign_d(double x) {
    if (x > 0) return 1.0;
    if (x < 0) return -1.0;
    return x == 0 ? 0.0 : x; /* NaN stays NaN */
}

static double floor_mod_d(double x, double y) {
    double r = fmod(x, y);
    if (r != 0) {
        if ((r < 0) != (y < 0)) r += y;
    } else {
        r = copysign(0.0, y);
    }
    return r;
}

static double max_d(double a, double b) {
    if (isnan(a) || isnan(b)) return a + b;
    return a >= b ? a : b;
}

static double min_d(double a, double b) {
    if (isnan(a) || isnan(b)) return a + b;
    return a <= b ? a : b;
}

static int64_t floor_mod_i(int64_t x, int64_t y) {
    if (y == 0) return 0;
    int64_t r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}

/* ----------------------------------------------------- loads and stores */

static void load_d(double *dst, const hg_tensor *t, int64_t off, int64_t st,
                   int64_t n) {
    switch (t->dtype) {
    case HG_F32: {
        const float *p = (const float *)t->data + off;
        for (int64_t i = 0; i < n; i++) dst[i] = p[i * st];
    } break;
    case HG_F64: {
        const double *p = (const double *)t->data + off;
        for (int64_t i = 0; i < n; i++) dst[i] = p[i * st];
    } break;
    case HG_I32: {
        const int32_t *p = (const int32_t *)t->data + off;
        for (int64_t i = 0; i < n; i++) dst[i] = p[i * st];
    } break;
    default: {
        const uint8_t *p = (const uint8_t *)t->data + off;
        for (int64_t i = 0; i < n; i++) dst[i] = p[i * st] != 0;
    } break;
    }
}

static void load_i(int64_t *dst, const hg_tensor *t, int64_t off, int64_t st,
                   int64_t n) {
    const int32_t *p = (const int32_t *)t->data + off;
    for (int64_t i = 0; i < n; i++) dst[i] = p[i * st];
}

static void store_d(hg_tensor *t, int64_t off, const double *src, int64_t n) {
    switch (t->dtype) {
    case HG_F32: {
        float *p = (float *)t->data + off;
        for (int64_t i = 0; i < n; i++) p[i] = (float)src[i];
    } break;
    case HG_F64:
        memcpy((double *)t->data + off, src, (size_t)n * sizeof(double));
        break;
    case HG_I32: { /* only exact small integers reach here (comparisons) */
        int32_t *p = (int32_t *)t->data + off;
        for (int64_t i = 0; i < n; i++) p[i] = (int32_t)src[i];
    } break;
    default: {
        uint8_t *p = (uint8_t *)t->data + off;
        for (int64_t i = 0; i < n; i++) p[i] = src[i] != 0;
    } break;
    }
}

static void store_i(hg_tensor *t, int64_t off, const int64_t *src, int64_t n) {
    int32_t *p = (int32_t *)t->data + off;
    for (int64_t i = 0; i < n; i++) p[i] = (int32_t)(uint32_t)(uint64_t)src[i];
}

/* ---------------------------------------------------- per-chunk kernels */

static void unary_d(hg_op op, const double *x, double *y, int n) {
#define U(OP, EXPR)                                                           \
    case HG_OP_##OP:                                                          \
        for (int i = 0; i < n; i++) {                                         \
            double a = x[i];                                                  \
            y[i] = (EXPR);                                                    \
        }                                                                     \
        break;
    switch (op) {
        U(neg, -a)
        U(abs, fabs(a))
        U(sign, sign_d(a))
        U(exp, exp(a))
        U(log, log(a))
        U(log1p, log1p(a))
        U(expm1, expm1(a))
        U(sqrt, sqrt(a))
        U(rsqrt, 1.0 / sqrt(a))
        U(square, a * a)
        U(reciprocal, 1.0 / a)
        U(sin, sin(a))
        U(cos, cos(a))
        U(tanh, tanh(a))
        U(sigmoid, sigmoid_d(a))
        U(softplus, softplus_d(a))
        U(gelu_tanh, gelu_tanh_d(a))
        U(erf, erf(a))
        U(floor, floor(a))
        U(round, hg_ref_round_half_even(a))
        U(logical_not, a == 0)
    default:
        break;
    }
#undef U
}

static void binary_d(hg_op op, const double *x, const double *z, double *y,
                     int n) {
#define B(OP, EXPR)                                                           \
    case HG_OP_##OP:                                                          \
        for (int i = 0; i < n; i++) {                                         \
            double a = x[i], b = z[i];                                        \
            y[i] = (EXPR);                                                    \
        }                                                                     \
        break;
    switch (op) {
        B(add, a + b)
        B(sub, a - b)
        B(mul, a * b)
        B(div, a / b)
        B(pow, pow(a, b))
        B(maximum, max_d(a, b))
        B(minimum, min_d(a, b))
        B(floor_mod, floor_mod_d(a, b))
        B(eq, a == b)
        B(ne, a != b)
        B(lt, a < b)
        B(le, a <= b)
        B(gt, a > b)
        B(ge, a >= b)
        B(logical_and, a != 0 && b != 0)
        B(logical_or, a != 0 || b != 0)
    default:
        break;
    }
#undef B
}

/* i32 arithmetic; unary when z == NULL. */
static void int_i(hg_op op, const int64_t *x, const int64_t *z, int64_t *y,
                  int n) {
    for (int i = 0; i < n; i++) {
        int64_t a = x[i], b = z ? z[i] : 0, r = 0;
        switch (op) {
        case HG_OP_neg: r = -a; break;
        case HG_OP_abs: r = a < 0 ? -a : a; break;
        case HG_OP_sign: r = (a > 0) - (a < 0); break;
        case HG_OP_square: r = a * a; break;
        case HG_OP_add: r = a + b; break;
        case HG_OP_sub: r = a - b; break;
        case HG_OP_mul: r = (int64_t)((uint64_t)a * (uint64_t)b); break;
        case HG_OP_maximum: r = a > b ? a : b; break;
        case HG_OP_minimum: r = a < b ? a : b; break;
        case HG_OP_floor_mod: r = floor_mod_i(a, b); break;
        default: break;
        }
        y[i] = r;
    }
}

/* ------------------------------------------------------- typed fast paths
 *
 * The same formulas as above on the typed arrays directly, without the
 * double scratch buffers: f32 values are widened to double, the double
 * formula evaluated and rounded once to float, exactly as the chunk path
 * does. f32 + - * / are computed in float: for these, the double result
 * rounded to float is the float result (double has more than 2 * 24 + 2
 * bits), so the outputs are bit-identical. Comparisons of widened values
 * equal comparisons of the originals. Each input of a binary op or where
 * advances with stride 0 (broadcast) or 1 along a run; the strides are
 * compile-time constants in each loop below so the common cases vectorise. */

/* Loop over one run for all four (stride a, stride b) in {0, 1}^2. */
#define L2(TA, TY, EXPR)                                                      \
    do {                                                                      \
        const TA *pa_ = (const TA *)in[0]->data + off[0];                     \
        const TA *pb_ = (const TA *)in[1]->data + off[1];                     \
        TY *py_ = (TY *)out->data + o;                                        \
        if (ist[0] && ist[1]) {                                               \
            _Pragma("omp simd")                                               \
            for (int64_t i = 0; i < len; i++) {                               \
                TA a = pa_[i], b = pb_[i];                                    \
                py_[i] = (TY)(EXPR);                                          \
            }                                                                 \
        } else if (ist[0]) {                                                  \
            TA b = pb_[0];                                                    \
            _Pragma("omp simd")                                               \
            for (int64_t i = 0; i < len; i++) {                               \
                TA a = pa_[i];                                                \
                py_[i] = (TY)(EXPR);                                          \
            }                                                                 \
        } else if (ist[1]) {                                                  \
            TA a = pa_[0];                                                    \
            _Pragma("omp simd")                                               \
            for (int64_t i = 0; i < len; i++) {                               \
                TA b = pb_[i];                                                \
                py_[i] = (TY)(EXPR);                                          \
            }                                                                 \
        } else {                                                              \
            TA a = pa_[0], b = pb_[0];                                        \
            TY v_ = (TY)(EXPR);                                               \
            for (int64_t i = 0; i < len; i++) py_[i] = v_;                    \
        }                                                                     \
    } while (0)

#define CASE2(OP, TA, TY, EXPR)                                               \
    case HG_OP_##OP:                                                          \
        L2(TA, TY, EXPR);                                                     \
        return 1;

/* Comparisons: any numeric input type, bool output. */
#define CMP_CASES(TA)                                                         \
    CASE2(eq, TA, uint8_t, a == b)                                            \
    CASE2(ne, TA, uint8_t, a != b)                                            \
    CASE2(lt, TA, uint8_t, a < b)                                             \
    CASE2(le, TA, uint8_t, a <= b)                                            \
    CASE2(gt, TA, uint8_t, a > b)                                             \
    CASE2(ge, TA, uint8_t, a >= b)

/* Binary op on one run; returns 0 when no typed loop exists (then the
 * chunk path runs). */
static int binary_fast(hg_op op, const hg_tensor *const *in, hg_tensor *out,
                       int64_t o, const int64_t *off, const int64_t *ist,
                       int64_t len) {
    switch (in[0]->dtype) {
    case HG_F32:
        switch (op) {
            CASE2(add, float, float, a + b)
            CASE2(sub, float, float, a - b)
            CASE2(mul, float, float, a * b)
            CASE2(div, float, float, a / b)
            CASE2(pow, float, float, pow(a, b))
            CASE2(maximum, float, float, max_d(a, b))
            CASE2(minimum, float, float, min_d(a, b))
            CASE2(floor_mod, float, float, floor_mod_d(a, b))
            CMP_CASES(float)
        default: return 0;
        }
    case HG_F64:
        switch (op) {
            CASE2(add, double, double, a + b)
            CASE2(sub, double, double, a - b)
            CASE2(mul, double, double, a * b)
            CASE2(div, double, double, a / b)
            CASE2(pow, double, double, pow(a, b))
            CASE2(maximum, double, double, max_d(a, b))
            CASE2(minimum, double, double, min_d(a, b))
            CASE2(floor_mod, double, double, floor_mod_d(a, b))
            CMP_CASES(double)
        default: return 0;
        }
    case HG_I32: /* 32-bit wrap-around = 64-bit result wrapped to 32 bits */
        switch (op) {
            CASE2(add, int32_t, int32_t, (uint32_t)a + (uint32_t)b)
            CASE2(sub, int32_t, int32_t, (uint32_t)a - (uint32_t)b)
            CASE2(mul, int32_t, int32_t, (uint32_t)a * (uint32_t)b)
            CASE2(maximum, int32_t, int32_t, a > b ? a : b)
            CASE2(minimum, int32_t, int32_t, a < b ? a : b)
            CMP_CASES(int32_t)
        default: return 0;
        }
    case HG_BOOL:
        switch (op) {
            CASE2(logical_and, uint8_t, uint8_t, (a != 0) & (b != 0))
            CASE2(logical_or, uint8_t, uint8_t, (a != 0) | (b != 0))
            CASE2(eq, uint8_t, uint8_t, (a != 0) == (b != 0))
            CASE2(ne, uint8_t, uint8_t, (a != 0) != (b != 0))
            CASE2(lt, uint8_t, uint8_t, (a != 0) < (b != 0))
            CASE2(le, uint8_t, uint8_t, (a != 0) <= (b != 0))
            CASE2(gt, uint8_t, uint8_t, (a != 0) > (b != 0))
            CASE2(ge, uint8_t, uint8_t, (a != 0) >= (b != 0))
        default: return 0;
        }
    default:
        return 0;
    }
}
#undef CMP_CASES
#undef CASE2
#undef L2

/* where on one run, copying elements as unsigned integers of their size
 * (bit-exact, NaN payloads included). */
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

/* Unary op over the contiguous elements [o, o + len) (the input has the
 * output's shape); returns 0 when no typed loop exists. */
#define U1(OP, TA, TY, EXPR)                                                  \
    case HG_OP_##OP: {                                                        \
        const TA *px_ = (const TA *)x->data + o;                              \
        TY *py_ = (TY *)out->data + o;                                        \
        for (int64_t i = 0; i < len; i++) {                                   \
            double a = px_[i];                                                \
            py_[i] = (TY)(EXPR);                                              \
        }                                                                     \
        return 1;                                                             \
    }
#define FLOAT_UNARY(T)                                                        \
    U1(neg, T, T, -a)                                                         \
    U1(abs, T, T, fabs(a))                                                    \
    U1(sign, T, T, sign_d(a))                                                 \
    U1(exp, T, T, exp(a))                                                     \
    U1(log, T, T, log(a))                                                     \
    U1(log1p, T, T, log1p(a))                                                 \
    U1(expm1, T, T, expm1(a))                                                 \
    U1(sqrt, T, T, sqrt(a))                                                   \
    U1(rsqrt, T, T, 1.0 / sqrt(a))                                            \
    U1(square, T, T, a * a)                                                   \
    U1(reciprocal, T, T, 1.0 / a)                                             \
    U1(sin, T, T, sin(a))                                                     \
    U1(cos, T, T, cos(a))                                                     \
    U1(tanh, T, T, tanh(a))                                                   \
    U1(sigmoid, T, T, sigmoid_d(a))                                           \
    U1(softplus, T, T, softplus_d(a))                                         \
    U1(gelu_tanh, T, T, gelu_tanh_d(a))                                       \
    U1(erf, T, T, erf(a))                                                     \
    U1(floor, T, T, floor(a))                                                 \
    U1(round, T, T, hg_ref_round_half_even(a))

static int unary_fast(hg_op op, const hg_tensor *x, hg_tensor *out, int64_t o,
                      int64_t len) {
    switch (x->dtype) {
    case HG_F32:
        switch (op) {
            FLOAT_UNARY(float)
        default: return 0;
        }
    case HG_F64:
        switch (op) {
            FLOAT_UNARY(double)
        default: return 0;
        }
    case HG_BOOL:
        switch (op) {
            U1(logical_not, uint8_t, uint8_t, a == 0)
        default: return 0;
        }
    default:
        return 0;
    }
}
#undef FLOAT_UNARY
#undef U1

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

/* Applies the node's op to output elements [o, o + len) that lie in one
 * run of the last collapsed dim; off[k] is input k's offset of element o. */
static void run_chunk(const hg_node *n, const hg_tensor *const *in,
                      hg_tensor *out, int64_t o, const int64_t *off,
                      const int64_t *ist, int len) {
    hg_op op = n->op;
    int is_int = in[0]->dtype == HG_I32 && out->dtype == HG_I32;
    if (is_int) {
        int64_t a[CHUNK], b[CHUNK], r[CHUNK];
        load_i(a, in[0], off[0], ist[0], len);
        if (n->n_in > 1) load_i(b, in[1], off[1], ist[1], len);
        int_i(op, a, n->n_in > 1 ? b : NULL, r, len);
        store_i(out, o, r, len);
        return;
    }
    double a[CHUNK], b[CHUNK], r[CHUNK];
    load_d(a, in[0], off[0], ist[0], len);
    if (n->n_in > 1) {
        load_d(b, in[1], off[1], ist[1], len);
        binary_d(op, a, b, r, len);
    } else {
        unary_d(op, a, r, len);
    }
    store_d(out, o, r, len);
}

static hg_status check_dtypes(const hg_node *n, const hg_tensor *const *in) {
    hg_op op = n->op;
    hg_dtype t = in[n->n_in == 3 ? 1 : 0]->dtype;
    int ok;
    switch (op) {
    case HG_OP_where:
        ok = in[0]->dtype == HG_BOOL;
        break;
    case HG_OP_eq: case HG_OP_ne: case HG_OP_lt: case HG_OP_le:
    case HG_OP_gt: case HG_OP_ge:
        ok = n->dtype == HG_BOOL;
        break;
    case HG_OP_logical_and: case HG_OP_logical_or: case HG_OP_logical_not:
        ok = t == HG_BOOL;
        break;
    case HG_OP_neg: case HG_OP_abs: case HG_OP_sign: case HG_OP_square:
    case HG_OP_add: case HG_OP_sub: case HG_OP_mul: case HG_OP_maximum:
    case HG_OP_minimum: case HG_OP_floor_mod:
        ok = hg_dtype_is_float(t) || t == HG_I32;
        break;
    default:
        ok = hg_dtype_is_float(t);
        break;
    }
    if (!ok)
        return hg_error(HG_ERR_UNSUPPORTED, "elementwise op on %s",
                        hg_dtype_name(t));
    return hg_ok();
}

/* Output elements [o, o + len) of one run of the last collapsed dim. */
static void run_span(const hg_node *n, const hg_tensor *const *in,
                     hg_tensor *out, int64_t o, const int64_t *off0,
                     const int64_t *ist, int64_t len) {
    if (n->op == HG_OP_where) {
        where_run(in, out, o, off0, ist, len);
        return;
    }
    if (n->n_in == 2 && binary_fast(n->op, in, out, o, off0, ist, len)) return;
    if (n->n_in == 1 && unary_fast(n->op, in[0], out, o, len)) return;
    int64_t off[3] = {off0[0], off0[1], n->n_in > 2 ? off0[2] : 0};
    while (len > 0) {
        int c = len > CHUNK ? CHUNK : (int)len;
        run_chunk(n, in, out, o, off, ist, c);
        o += c;
        len -= c;
        for (int k = 0; k < n->n_in; k++) off[k] += c * ist[k];
    }
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
