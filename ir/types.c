/* dtypes, shapes and the op table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

const hg_op_info hg_op_table[HG_NUM_OPS] = {
#define HG_OP_ROW(n, a, f) [HG_OP_##n] = {#n, a, f},
    HG_OP_LIST(HG_OP_ROW)
#undef HG_OP_ROW
};

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
