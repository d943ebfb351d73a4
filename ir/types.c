/* dtypes, shapes and the op table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

/* The dtype classes of each elementwise op (ir/elementwise.def): bit
 * HG_DTS(t) set when the slot of t's class is defined. */
#define HG_EW_NONE 0
#define HG_EW_DEF(e) 1
#define HG_EW_LET(t, e) 1
#define EW_ROW(op, F, I, B)                                                   \
    EW_DTS_##op = (F) * HG_DTS_FLOAT | (I) * HG_DTS_I32 | (B) * HG_DTS_BOOL,
#define HG_EW_UNARY EW_ROW
#define HG_EW_BINARY EW_ROW
#define HG_EW_COMPARE EW_ROW
#define HG_EW_SELECT EW_ROW
enum {
#include "ir/elementwise.def"
};
#undef EW_ROW
#undef HG_EW_NONE
#undef HG_EW_DEF
#undef HG_EW_LET

/* The op table: HG_OP_LIST (ir.h) and ir/op_traits.def, member by member. */
#define HG_OP_ROW(n, a, f)                                                    \
    [HG_OP_##n].name = #n, [HG_OP_##n].arity = a, [HG_OP_##n].flags = f,
#define A(x) HG_ATTR_BIT(x)
#define EW(op) EW_DTS_##op
#define HG_OP_TRAITS(n, at, dts, wr, fl, k, by, fu)                           \
    [HG_OP_##n].attrs = at, [HG_OP_##n].dtypes = dts,                         \
    [HG_OP_##n].writes_all = wr, [HG_OP_##n].flops = HG_FLOPS_##fl,           \
    [HG_OP_##n].flops_k = k, [HG_OP_##n].bytes = HG_BYTES_##by,               \
    [HG_OP_##n].fuse = HG_FUSE_##fu,
const hg_op_info hg_op_table[HG_NUM_OPS] = {
    HG_OP_LIST(HG_OP_ROW)
#include "ir/op_traits.def"
};
#undef HG_OP_ROW
#undef A
#undef EW

int hg_op_from_name(const char *name) {
    for (int i = 0; i < HG_NUM_OPS; i++)
        if (!strcmp(hg_op_table[i].name, name)) return i;
    return -1;
}

static const char *dtype_names[HG_NUM_DTYPES] = {"f32", "f64", "i32", "bool"};
static const size_t dtype_sizes[HG_NUM_DTYPES] = {4, 8, 4, 1};

const char *hg_dtype_name(hg_dtype t) {
    return (unsigned)t < HG_NUM_DTYPES ? dtype_names[t] : "?";
}

int hg_dtype_parse(const char *s, hg_dtype *out) {
    for (int i = 0; i < HG_NUM_DTYPES; i++)
        if (!strcmp(s, dtype_names[i])) {
            *out = (hg_dtype)i;
            return 0;
        }
    return -1;
}

size_t hg_dtype_size(hg_dtype t) { return (unsigned)t < HG_NUM_DTYPES ? dtype_sizes[t] : 0; }

int hg_dtype_is_float(hg_dtype t) { return t == HG_F32 || t == HG_F64; }

hg_shape hg_shape_make(int rank, const int64_t *dims) {
    hg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank && i < HG_MAX_RANK; i++) s.dim[i] = dims[i];
    return s;
}

hg_shape hg_shape_of(int rank, ...) {
    hg_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank && i < HG_MAX_RANK; i++) s.dim[i] = va_arg(ap, int64_t);
    va_end(ap);
    return s;
}

hg_shape hg_shape_scalar(void) {
    hg_shape s;
    memset(&s, 0, sizeof s);
    return s;
}

int64_t hg_shape_numel(hg_shape s) {
    int64_t n = 1;
    for (int i = 0; i < s.rank; i++) n *= s.dim[i];
    return n;
}

int hg_shape_eq(hg_shape a, hg_shape b) {
    if (a.rank != b.rank) return 0;
    for (int i = 0; i < a.rank; i++)
        if (a.dim[i] != b.dim[i]) return 0;
    return 1;
}

int hg_shape_broadcast(hg_shape a, hg_shape b, hg_shape *out) {
    hg_shape r;
    memset(&r, 0, sizeof r);
    r.rank = a.rank > b.rank ? a.rank : b.rank;
    for (int i = 0; i < r.rank; i++) {
        int ia = a.rank - r.rank + i, ib = b.rank - r.rank + i;
        int64_t da = ia >= 0 ? a.dim[ia] : 1, db = ib >= 0 ? b.dim[ib] : 1;
        if (da == db || db == 1) r.dim[i] = da;
        else if (da == 1) r.dim[i] = db;
        else return -1;
    }
    *out = r;
    return 0;
}

char *hg_shape_str(hg_shape s, char *buf, size_t n) {
    size_t k = 0;
    if (n == 0) return buf;
    k += snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s.rank && k < n; i++)
        k += snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)s.dim[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    buf[n - 1] = 0;
    return buf;
}
