/* The IR text format: printer (hg_print, hg_print_string) and parser
 * (hg_parse, hg_parse_file). Grammar, one statement per line:
 *
 *   %N = OP DTYPE[d0,d1,...] %in0 %in1 ... key=value ...
 *   output "NAME" %N
 *   update %STATE %VALUE
 *   next_stream N
 *
 * `#` starts a comment (outside a quoted string); blank lines are allowed.
 * Node ids are 0..n-1 in definition order (SSA). A node carries exactly the
 * attributes its op uses (see op_attrs below: ir/op_traits.def), every one of them required:
 *   sum/mean/max   axes=[..] keepdims=0|1   (axes=[] means all axes)
 *   matmul         trans_a=0|1 trans_b=0|1
 *   transpose      perm=[..]                (one entry per input axis)
 *   slice          starts=[..] steps=[..]   (one entry per input axis)
 *   concat gather iota   axis=A
 *   scatter_*      axis=A size=S
 *   pad            pad_lo=[..] pad_hi=[..] value=V
 *   knn            k=K box=L
 *   layer_norm     eps=E
 *   attention attention_lse   scale=S
 *   attention_grad scale=S axis=A
 *   random_*       stream=S
 *   input state    name="..."  (escapes: \" \\ \xHH)
 *   constant       data=[v0,v1,...]  (row-major, numel values)
 * Numbers are printed so they parse back bit-exactly: f32 with %.9g (parsed
 * with strtof), f64 and double attributes with %.17g (strtod); infinities
 * as inf/-inf; NaN as `nan` / `-nan` for the default quiet NaN of either
 * sign and as `nan:0xBITS` (the raw IEEE bits in hex) for any other NaN.
 * i32 as decimal integers, bool as 0/1.
 * `next_stream N` is printed only when the graph's next_stream differs from
 * what the parser derives (1 + the largest random stream id, 0 if none).
 *
 * The parser builds the graph with hg_add_node / hg_constant (so shapes are
 * checked by hg_infer, as for the builder) and runs hg_verify at the end.
 * Errors: HG_ERR_FORMAT, message "LINE: node %N: what" (or "LINE: what" for
 * lines that are not nodes). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* ------------------------------------------------------------ attributes */

static const char *const attr_names[HG_NUM_ATTRS] = {
    "name", "data", "axes", "keepdims", "trans_a", "trans_b", "perm", "starts",
    "steps", "axis", "size", "pad_lo", "pad_hi", "value", "k", "box", "eps",
    "scale", "stream"};

#define BIT(a) (1u << (a))

/* The attributes an op carries in text (printed in bit order): the op
 * table's attrs (ir/op_traits.def). */
static unsigned op_attrs(hg_op op) { return hg_op_table[op].attrs; }

static int is_random(hg_op op) {
    return op == HG_OP_random_uniform || op == HG_OP_random_normal;
}

/* The stream counter the parser derives from the random nodes. */
static int derived_next_stream(const hg_graph *g) {
    int next = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (is_random(g->nodes[i].op) && g->nodes[i].attrs.stream >= next)
            next = g->nodes[i].attrs.stream + 1;
    return next;
}

/* --------------------------------------------------------------- printer */

#define F32_QNAN 0x7fc00000u
#define F64_QNAN UINT64_C(0x7ff8000000000000)

static void put_f64(FILE *f, double v) {
    if (isnan(v)) {
        uint64_t b;
        memcpy(&b, &v, sizeof b);
        if (b == F64_QNAN) fputs("nan", f);
        else if (b == (F64_QNAN | UINT64_C(1) << 63)) fputs("-nan", f);
        else fprintf(f, "nan:0x%016" PRIx64, b);
    } else {
        fprintf(f, "%.17g", v);
    }
}

static void put_f32(FILE *f, float v) {
    if (isnan(v)) {
        uint32_t b;
        memcpy(&b, &v, sizeof b);
        if (b == F32_QNAN) fputs("nan", f);
        else if (b == (F32_QNAN | 1u << 31)) fputs("-nan", f);
        else fprintf(f, "nan:0x%08" PRIx32, b);
    } else {
        fprintf(f, "%.9g", (double)v);
    }
}

static void put_ints(FILE *f, const int64_t *v, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, i ? ",%lld" : "%lld", (long long)v[i]);
    fputc(']', f);
}

static void put_name(FILE *f, const char *s) {
    fputc('"', f);
    for (int i = 0; i < HG_NAME_MAX && s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\x%02x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void put_data(FILE *f, const hg_node *n) {
    int64_t numel = hg_shape_numel(n->shape);
    fputs("[", f);
    for (int64_t i = 0; n->data && i < numel; i++) {
        if (i) fputc(',', f);
        switch (n->dtype) {
        case HG_F32: put_f32(f, ((const float *)n->data)[i]); break;
        case HG_F64: put_f64(f, ((const double *)n->data)[i]); break;
        case HG_I32: fprintf(f, "%" PRId32, ((const int32_t *)n->data)[i]); break;
        case HG_BOOL: fprintf(f, "%d", ((const uint8_t *)n->data)[i] ? 1 : 0); break;
        default: fputs("?", f); break;
        }
    }
    fputs("]", f);
}

static int clamp_rank(int r) { return r < 0 ? 0 : r > HG_MAX_RANK ? HG_MAX_RANK : r; }

/* Rank of a node's first input (the length of perm/starts/pad arrays). */
static int first_input_rank(const hg_graph *g, const hg_node *n) {
    if (n->n_in > 0 && n->in[0] >= 0 && n->in[0] < g->n_nodes)
        return clamp_rank(g->nodes[n->in[0]].shape.rank);
    return clamp_rank(n->shape.rank);
}

static void put_attr(FILE *f, const hg_graph *g, const hg_node *n, int a) {
    const hg_attrs *at = &n->attrs;
    int r = first_input_rank(g, n);
    fprintf(f, " %s=", attr_names[a]);
    switch (a) {
    case HG_ATTR_NAME: put_name(f, at->name); break;
    case HG_ATTR_DATA: put_data(f, n); break;
    case HG_ATTR_AXES: put_ints(f, at->axes, at->naxes < 0 ? 0 : at->naxes > HG_MAX_RANK ? HG_MAX_RANK : at->naxes); break;
    case HG_ATTR_KEEPDIMS: fprintf(f, "%d", at->keepdims); break;
    case HG_ATTR_TRANS_A: fprintf(f, "%d", at->trans_a); break;
    case HG_ATTR_TRANS_B: fprintf(f, "%d", at->trans_b); break;
    case HG_ATTR_PERM: put_ints(f, at->perm, r); break;
    case HG_ATTR_STARTS: put_ints(f, at->starts, r); break;
    case HG_ATTR_STEPS: put_ints(f, at->steps, r); break;
    case HG_ATTR_AXIS: fprintf(f, "%d", at->axis); break;
    case HG_ATTR_SIZE: fprintf(f, "%lld", (long long)at->size); break;
    case HG_ATTR_PAD_LO: put_ints(f, at->pad_lo, r); break;
    case HG_ATTR_PAD_HI: put_ints(f, at->pad_hi, r); break;
    case HG_ATTR_VALUE: put_f64(f, at->value); break;
    case HG_ATTR_K: fprintf(f, "%d", at->k); break;
    case HG_ATTR_BOX: put_f64(f, at->box); break;
    case HG_ATTR_EPS: put_f64(f, at->eps); break;
    case HG_ATTR_SCALE: put_f64(f, at->scale); break;
    case HG_ATTR_STREAM: fprintf(f, "%d", at->stream); break;
    default: break;
    }
}

hg_status hg_print(const hg_graph *g, FILE *f) {
    if (!g || !f) return hg_error(HG_ERR_INVALID, "hg_print: NULL graph or file");
    for (int i = 0; i < g->n_nodes; i++) {
        const hg_node *n = &g->nodes[i];
        int known = (unsigned)n->op < HG_NUM_OPS;
        const char *dt = (unsigned)n->dtype < HG_NUM_DTYPES ? hg_dtype_name(n->dtype) : "?";
        fprintf(f, "%%%d = %s %s", i, known ? hg_op_table[n->op].name : "?", dt);
        hg_shape s = n->shape;
        put_ints(f, s.dim, clamp_rank(s.rank));
        int n_in = n->n_in < 0 ? 0 : n->n_in > HG_MAX_INPUTS ? HG_MAX_INPUTS : n->n_in;
        for (int k = 0; k < n_in; k++) fprintf(f, " %%%d", (int)n->in[k]);
        unsigned mask = known ? op_attrs(n->op) : 0;
        for (int a = 0; a < HG_NUM_ATTRS; a++)
            if (mask & BIT(a)) put_attr(f, g, n, a);
        fputc('\n', f);
    }
    for (int o = 0; o < g->n_outputs; o++) {
        fputs("output ", f);
        put_name(f, g->outputs[o].name);
        fprintf(f, " %%%d\n", (int)g->outputs[o].value);
    }
    for (int u = 0; u < g->n_updates; u++)
        fprintf(f, "update %%%d %%%d\n", (int)g->updates[u].state, (int)g->updates[u].value);
    if (g->next_stream != derived_next_stream(g)) fprintf(f, "next_stream %d\n", g->next_stream);
    if (ferror(f)) return hg_error(HG_ERR_IO, "hg_print: write error");
    return hg_ok();
}

char *hg_print_string(const hg_graph *g) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    hg_status s = hg_print(g, f);
    if (fclose(f) != 0 || s.code != HG_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---------------------------------------------------------------- parser */

typedef struct {
    char *p;    /* cursor in the current line (NUL-terminated) */
    int line;   /* 1-based */
    int node;   /* id of the node defined on this line, or -1 */
    hg_status err;
} cursor;

/* Records "LINE: node %N: msg" (or "LINE: msg") and returns -1. */
__attribute__((format(printf, 2, 3))) static int fail(cursor *c, const char *fmt, ...) {
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (c->node >= 0) c->err = hg_error(HG_ERR_FORMAT, "%d: node %%%d: %s", c->line, c->node, m);
    else c->err = hg_error(HG_ERR_FORMAT, "%d: %s", c->line, m);
    return -1;
}

static void skip_ws(cursor *c) {
    while (*c->p == ' ' || *c->p == '\t') c->p++;
}

static int at_eol(cursor *c) {
    skip_ws(c);
    return *c->p == 0 || *c->p == '#';
}

/* What the cursor points at, for messages. */
static const char *here(const cursor *c) { return *c->p ? c->p : "end of line"; }

static int expect(cursor *c, char ch) {
    skip_ws(c);
    if (*c->p != ch) return fail(c, "expected '%c' at '%.20s'", ch, here(c));
    c->p++;
    return 0;
}

static int is_ident(char ch, int first) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

static int parse_ident(cursor *c, char *buf, size_t n, const char *what) {
    skip_ws(c);
    size_t k = 0;
    if (!is_ident(*c->p, 1)) return fail(c, "expected %s at '%.20s'", what, here(c));
    while (is_ident(*c->p, k == 0)) {
        if (k + 1 >= n) return fail(c, "%s too long", what);
        buf[k++] = *c->p++;
    }
    buf[k] = 0;
    return 0;
}

/* One number token: up to a delimiter (space, ',', ']', '#', end). */
static int number_token(cursor *c, char *buf, size_t n) {
    skip_ws(c);
    size_t k = 0;
    while (*c->p && !strchr(" \t,]#[", *c->p)) {
        if (k + 1 >= n) return fail(c, "bad number '%.20s...' (too long)", buf);
        buf[k++] = *c->p++;
    }
    buf[k] = 0;
    if (k == 0) return fail(c, "expected a number at '%.20s'", here(c));
    return 0;
}

static int parse_i64(cursor *c, int64_t lo, int64_t hi, int64_t *out) {
    char buf[64];
    if (number_token(c, buf, sizeof buf)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return fail(c, "bad integer '%s'", buf);
    if (v < lo || v > hi) return fail(c, "integer %s outside [%lld, %lld]", buf, (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

static int parse_int(cursor *c, int *out) {
    int64_t v;
    if (parse_i64(c, INT32_MIN, INT32_MAX, &v)) return -1;
    *out = (int)v;
    return 0;
}

/* Parses "nan:0xBITS" into raw bits; 1 if the token has that form. */
static int nan_bits(const char *s, uint64_t *bits, int *ok) {
    if (strncmp(s, "nan:0x", 6)) return 0;
    char *end;
    errno = 0;
    unsigned long long b = strtoull(s + 6, &end, 16);
    *ok = !errno && *end == 0 && s[6] != 0;
    *bits = b;
    return 1;
}

/* inf / nan tokens that strtod accepts; anything else overflowing is an error. */
static int names_inf(const char *s) {
    if (*s == '-' || *s == '+') s++;
    return !strncmp(s, "inf", 3) || !strncmp(s, "INF", 3);
}

static int parse_f64(cursor *c, double *out) {
    char buf[64];
    if (number_token(c, buf, sizeof buf)) return -1;
    uint64_t bits;
    int ok;
    if (nan_bits(buf, &bits, &ok)) {
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!ok || !isnan(v)) return fail(c, "bad NaN bits '%s'", buf);
        *out = v;
        return 0;
    }
    char *end;
    double v = strtod(buf, &end);
    if (*end) return fail(c, "bad number '%s'", buf);
    if (isinf(v) && !names_inf(buf)) return fail(c, "number '%s' out of range", buf);
    *out = v;
    return 0;
}

static int parse_f32(cursor *c, float *out) {
    char buf[64];
    if (number_token(c, buf, sizeof buf)) return -1;
    uint64_t bits;
    int ok;
    if (nan_bits(buf, &bits, &ok)) {
        uint32_t b32 = (uint32_t)bits;
        float v;
        memcpy(&v, &b32, sizeof v);
        if (!ok || bits > UINT32_MAX || !isnan(v)) return fail(c, "bad NaN bits '%s'", buf);
        *out = v;
        return 0;
    }
    char *end;
    float v = strtof(buf, &end);
    if (*end) return fail(c, "bad number '%s'", buf);
    if (isinf(v) && !names_inf(buf)) return fail(c, "number '%s' out of range for f32", buf);
    *out = v;
    return 0;
}

/* "[a,b,...]" of at most `max` integers in [lo, hi]. */
static int parse_int_list(cursor *c, int64_t *v, int max, int64_t lo, int64_t hi, int *count,
                          const char *what) {
    if (expect(c, '[')) return -1;
    int n = 0;
    skip_ws(c);
    if (*c->p == ']') {
        c->p++;
        *count = 0;
        return 0;
    }
    for (;;) {
        if (n >= max) return fail(c, "%s has more than %d entries", what, max);
        if (parse_i64(c, lo, hi, &v[n++])) return -1;
        skip_ws(c);
        if (*c->p == ']') {
            c->p++;
            break;
        }
        if (expect(c, ',')) return -1;
    }
    *count = n;
    return 0;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A quoted name with escapes \" \\ \xHH; non-empty, < HG_NAME_MAX bytes. */
static int parse_name(cursor *c, char *buf) {
    if (expect(c, '"')) return -1;
    size_t k = 0;
    for (;;) {
        char ch = *c->p;
        if (ch == 0) return fail(c, "unterminated string");
        c->p++;
        if (ch == '"') break;
        if (ch == '\\') {
            char e = *c->p++;
            if (e == '"' || e == '\\') ch = e;
            else if (e == 'x' && hexval(c->p[0]) >= 0 && hexval(c->p[1]) >= 0) {
                ch = (char)(hexval(c->p[0]) * 16 + hexval(c->p[1]));
                c->p += 2;
            } else {
                return fail(c, "bad escape in string");
            }
            if (ch == 0) return fail(c, "NUL byte in string");
        }
        if (k + 1 >= HG_NAME_MAX) return fail(c, "name longer than %d bytes", HG_NAME_MAX - 1);
        buf[k++] = ch;
    }
    buf[k] = 0;
    if (k == 0) return fail(c, "empty name");
    return 0;
}

/* "%N" with N a defined node (< limit). */
static int parse_ref(cursor *c, int limit, hg_value *out, const char *what) {
    skip_ws(c);
    if (*c->p != '%') return fail(c, "expected %s (%%N) at '%.20s'", what, here(c));
    c->p++;
    if (!(*c->p >= '0' && *c->p <= '9')) return fail(c, "bad node id after '%%' in %s", what);
    int64_t v;
    if (parse_i64(c, 0, INT32_MAX, &v)) return -1;
    if (v >= limit)
        return fail(c, "%s %%%lld is not defined (use before definition)", what, (long long)v);
    *out = (hg_value)v;
    return 0;
}

/* Constant payload "[v,...]" of exactly numel values of dtype t; *out is
 * malloc'd (caller frees). Grows as values arrive so a huge declared shape
 * costs nothing before its values are there. */
static int parse_data(cursor *c, hg_dtype t, int64_t numel, void **out) {
    size_t es = hg_dtype_size(t), cap = 0;
    unsigned char *buf = NULL;
    int64_t n = 0;
    *out = NULL;
    if (expect(c, '[')) return -1;
    skip_ws(c);
    int empty = *c->p == ']';
    if (empty) c->p++;
    while (!empty) {
        if (n >= numel) {
            free(buf);
            return fail(c, "data has more than %lld values (shape numel)", (long long)numel);
        }
        if ((size_t)n == cap) {
            cap = cap ? 2 * cap : 64;
            if ((int64_t)cap > numel) cap = (size_t)numel;
            unsigned char *nb = realloc(buf, cap * es);
            if (!nb) {
                free(buf);
                c->err = hg_error(HG_ERR_NOMEM, "%d: out of memory for constant data", c->line);
                return -1;
            }
            buf = nb;
        }
        int rc = 0;
        unsigned char *dst = buf + (size_t)n * es;
        switch (t) {
        case HG_F32: {
            float v = 0;
            rc = parse_f32(c, &v);
            memcpy(dst, &v, sizeof v);
            break;
        }
        case HG_F64: {
            double v = 0;
            rc = parse_f64(c, &v);
            memcpy(dst, &v, sizeof v);
            break;
        }
        case HG_I32: {
            int v = 0;
            rc = parse_int(c, &v);
            int32_t w = v;
            memcpy(dst, &w, sizeof w);
            break;
        }
        default: {
            int64_t v;
            rc = parse_i64(c, 0, 1, &v);
            *dst = (unsigned char)v;
            break;
        }
        }
        if (rc) {
            free(buf);
            return -1;
        }
        n++;
        skip_ws(c);
        if (*c->p == ']') {
            c->p++;
            break;
        }
        if (expect(c, ',')) {
            free(buf);
            return -1;
        }
    }
    if (n != numel) {
        free(buf);
        return fail(c, "data has %lld values, the shape needs %lld", (long long)n, (long long)numel);
    }
    *out = buf;
    return 0;
}

#define MAX_NUMEL (INT64_C(1) << 40)

/* "dtype[d0,...]" */
static int parse_type(cursor *c, hg_dtype *t, hg_shape *s) {
    char name[16];
    if (parse_ident(c, name, sizeof name, "a dtype")) return -1;
    if (hg_dtype_parse(name, t)) return fail(c, "unknown dtype '%s'", name);
    if (*c->p != '[') return fail(c, "expected '[' right after the dtype '%s'", name);
    memset(s, 0, sizeof *s);
    if (parse_int_list(c, s->dim, HG_MAX_RANK, 0, INT64_MAX, &s->rank, "shape")) return -1;
    int64_t numel = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->dim[i] > 0 && numel > MAX_NUMEL / s->dim[i])
            return fail(c, "shape has more than 2^40 elements");
        numel *= s->dim[i];
    }
    return 0;
}

/* Copies an int list into an attribute array after checking its length. */
static int want_len(cursor *c, const char *what, int got, int want) {
    if (got != want)
        return fail(c, "%s has %d entries, the input has rank %d", what, got, want);
    return 0;
}

/* Strips a builder message's "node %N (op): " prefix. */
static const char *strip_node_prefix(const char *m) {
    if (strncmp(m, "node %", 6)) return m;
    const char *q = strstr(m, "): ");
    return q ? q + 3 : m;
}

static int parse_node(cursor *c, hg_graph *g) {
    hg_value id;
    c->p++; /* '%' */
    int64_t v;
    if (!(*c->p >= '0' && *c->p <= '9')) return fail(c, "bad node id after '%%'");
    if (parse_i64(c, 0, INT32_MAX, &v)) return -1;
    id = (hg_value)v;
    if (id < g->n_nodes) {
        c->node = id;
        return fail(c, "duplicate node id (already defined on line %d)", g->nodes[id].line);
    }
    if (id > g->n_nodes) {
        c->node = id;
        return fail(c, "ids not in order: expected %%%d (ids are 0..n-1 in definition order)",
                    g->n_nodes);
    }
    c->node = id;
    if (expect(c, '=')) return -1;
    char opname[32];
    if (parse_ident(c, opname, sizeof opname, "an op name")) return -1;
    int op = hg_op_from_name(opname);
    if (op < 0) return fail(c, "unknown op '%s'", opname);
    hg_dtype dt;
    hg_shape sh;
    if (parse_type(c, &dt, &sh)) return -1;

    hg_value in[HG_MAX_INPUTS];
    int n_in = 0;
    skip_ws(c);
    while (*c->p == '%') {
        if (n_in >= HG_MAX_INPUTS) return fail(c, "more than %d inputs", HG_MAX_INPUTS);
        if (parse_ref(c, id, &in[n_in], "input")) return -1;
        n_in++;
        skip_ws(c);
    }
    int arity = hg_op_table[op].arity;
    if (arity >= 0 && n_in != arity)
        return fail(c, "%s takes %d input%s, got %d", opname, arity, arity == 1 ? "" : "s", n_in);
    if (arity < 0 && n_in < 1) return fail(c, "%s takes at least one input", opname);

    hg_attrs at;
    memset(&at, 0, sizeof at);
    unsigned allowed = op_attrs((hg_op)op), seen = 0;
    void *data = NULL;
    int xr = n_in > 0 ? g->nodes[in[0]].shape.rank : sh.rank;
    int cnt;
    while (!at_eol(c)) {
        char key[32];
        if (parse_ident(c, key, sizeof key, "an attribute name")) goto fail_data;
        int a = 0;
        while (a < HG_NUM_ATTRS && strcmp(attr_names[a], key)) a++;
        if (a == HG_NUM_ATTRS) {
            fail(c, "unknown attribute '%s'", key);
            goto fail_data;
        }
        if (!(allowed & BIT(a))) {
            fail(c, "attribute '%s' is not used by %s", key, opname);
            goto fail_data;
        }
        if (seen & BIT(a)) {
            fail(c, "attribute '%s' given twice", key);
            goto fail_data;
        }
        seen |= BIT(a);
        if (*c->p != '=') {
            fail(c, "expected '=' right after attribute '%s'", key);
            goto fail_data;
        }
        c->p++;
        int rc = 0;
        int64_t i64;
        switch (a) {
        case HG_ATTR_NAME: rc = parse_name(c, at.name); break;
        case HG_ATTR_DATA: rc = parse_data(c, dt, hg_shape_numel(sh), &data); break;
        case HG_ATTR_AXES:
            rc = parse_int_list(c, at.axes, HG_MAX_RANK, INT32_MIN, INT32_MAX, &at.naxes, "axes");
            break;
        case HG_ATTR_KEEPDIMS: rc = parse_int(c, &at.keepdims); break;
        case HG_ATTR_TRANS_A: rc = parse_int(c, &at.trans_a); break;
        case HG_ATTR_TRANS_B: rc = parse_int(c, &at.trans_b); break;
        case HG_ATTR_PERM:
            rc = parse_int_list(c, at.perm, HG_MAX_RANK, INT32_MIN, INT32_MAX, &cnt, "perm") ||
                 want_len(c, "perm", cnt, xr);
            break;
        case HG_ATTR_STARTS:
            rc = parse_int_list(c, at.starts, HG_MAX_RANK, INT64_MIN, INT64_MAX, &cnt, "starts") ||
                 want_len(c, "starts", cnt, xr);
            break;
        case HG_ATTR_STEPS:
            rc = parse_int_list(c, at.steps, HG_MAX_RANK, INT64_MIN, INT64_MAX, &cnt, "steps") ||
                 want_len(c, "steps", cnt, xr);
            break;
        case HG_ATTR_PAD_LO:
            rc = parse_int_list(c, at.pad_lo, HG_MAX_RANK, INT64_MIN, INT64_MAX, &cnt, "pad_lo") ||
                 want_len(c, "pad_lo", cnt, xr);
            break;
        case HG_ATTR_PAD_HI:
            rc = parse_int_list(c, at.pad_hi, HG_MAX_RANK, INT64_MIN, INT64_MAX, &cnt, "pad_hi") ||
                 want_len(c, "pad_hi", cnt, xr);
            break;
        case HG_ATTR_AXIS: rc = parse_int(c, &at.axis); break;
        case HG_ATTR_SIZE:
            rc = parse_i64(c, INT64_MIN, INT64_MAX, &i64);
            at.size = i64;
            break;
        case HG_ATTR_VALUE: rc = parse_f64(c, &at.value); break;
        case HG_ATTR_K: rc = parse_int(c, &at.k); break;
        case HG_ATTR_BOX: rc = parse_f64(c, &at.box); break;
        case HG_ATTR_EPS: rc = parse_f64(c, &at.eps); break;
        case HG_ATTR_SCALE: rc = parse_f64(c, &at.scale); break;
        case HG_ATTR_STREAM: rc = parse_int(c, &at.stream); break;
        default: break;
        }
        if (rc) goto fail_data;
        if (*c->p && !strchr(" \t#", *c->p)) {
            fail(c, "unexpected '%.20s' after attribute '%s'", c->p, key);
            goto fail_data;
        }
    }
    if (allowed & ~seen) {
        int a = 0;
        while (!((allowed & ~seen) & BIT(a))) a++;
        fail(c, "missing attribute '%s'", attr_names[a]);
        goto fail_data;
    }
    /* duplicate input/state names are found by hg_verify (O(n log n)). */
    hg_value got;
    if (op == HG_OP_constant) got = hg_constant(g, dt, sh, data);
    else got = hg_add_node(g, (hg_op)op, dt, sh, n_in, in, &at);
    free(data);
    data = NULL;
    if (got == HG_NONE) {
        hg_status s = hg_graph_status(g);
        if (s.code == HG_ERR_NOMEM) {
            c->err = hg_error(HG_ERR_NOMEM, "%d: node %%%d: %s", c->line, id, s.msg);
            return -1;
        }
        return fail(c, "%s", strip_node_prefix(s.msg));
    }
    if (got != id) return fail(c, "internal: builder returned %%%d", (int)got);
    /* hg_add_node keeps the inferred dtype/shape; the text must state them. */
    const hg_node *n = &g->nodes[id];
    if (n->dtype != dt || !hg_shape_eq(n->shape, sh)) {
        char b1[128], b2[128];
        return fail(c, "type %s%s differs from the inferred %s%s", hg_dtype_name(dt),
                    hg_shape_str(sh, b1, sizeof b1), hg_dtype_name(n->dtype),
                    hg_shape_str(n->shape, b2, sizeof b2));
    }
    g->nodes[id].line = c->line;
    return 0;
fail_data:
    free(data);
    return -1;
}

static int parse_output(cursor *c, hg_graph *g) {
    char name[HG_NAME_MAX];
    hg_value v;
    if (parse_name(c, name)) return -1;
    if (parse_ref(c, g->n_nodes, &v, "output value")) return -1;
    if (!at_eol(c)) return fail(c, "unexpected '%.20s' after output", c->p);
    if (hg_find_output(g, name) != HG_NONE) return fail(c, "output \"%s\" declared twice", name);
    if (hg_set_output(g, name, v)) return fail(c, "output \"%s\": %s", name, hg_graph_status(g).msg);
    return 0;
}

static int parse_update(cursor *c, hg_graph *g) {
    hg_value s, v;
    if (parse_ref(c, g->n_nodes, &s, "update target")) return -1;
    if (parse_ref(c, g->n_nodes, &v, "update value")) return -1;
    if (!at_eol(c)) return fail(c, "unexpected '%.20s' after update", c->p);
    const hg_node *sn = &g->nodes[s], *vn = &g->nodes[v];
    if (sn->op != HG_OP_state)
        return fail(c, "update target %%%d is not a state (it is %s)", (int)s,
                    hg_op_table[sn->op].name);
    if (sn->dtype != vn->dtype || !hg_shape_eq(sn->shape, vn->shape)) {
        char b1[128], b2[128];
        return fail(c, "update of state \"%s\": state %%%d is %s%s, value %%%d is %s%s",
                    sn->attrs.name, (int)s, hg_dtype_name(sn->dtype),
                    hg_shape_str(sn->shape, b1, sizeof b1), (int)v, hg_dtype_name(vn->dtype),
                    hg_shape_str(vn->shape, b2, sizeof b2));
    }
    for (int u = 0; u < g->n_updates; u++)
        if (g->updates[u].state == s)
            return fail(c, "state \"%s\" (%%%d) updated twice", sn->attrs.name, (int)s);
    if (hg_set_update(g, s, v)) return fail(c, "%s", hg_graph_status(g).msg);
    return 0;
}

/* Turns a verifier message "node %N (op): what" into "LINE: node %N: what". */
static hg_status locate(const hg_graph *g, hg_status s) {
    int n;
    if (sscanf(s.msg, "node %%%d", &n) == 1 && n >= 0 && n < g->n_nodes) {
        hg_status r = hg_error(HG_ERR_FORMAT, "%d: node %%%d: %s", g->nodes[n].line, n,
                               strip_node_prefix(s.msg));
        return r;
    }
    return hg_status_prefix(s, "verify");
}

hg_status hg_parse(const char *text, hg_graph **out) {
    *out = NULL;
    if (!text) return hg_error(HG_ERR_INVALID, "hg_parse: NULL text");
    char *buf = strdup(text);
    hg_graph *g = hg_graph_new();
    if (!buf || !g) {
        free(buf);
        hg_graph_free(g);
        return hg_error(HG_ERR_NOMEM, "hg_parse: out of memory");
    }
    cursor c = {buf, 0, -1, hg_ok()};
    int next_stream = -1, next_stream_line = 0;
    char *line = buf;
    while (line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[len - 1] = 0;
        c.p = line;
        c.line++;
        c.node = -1;
        int rc = 0;
        if (!at_eol(&c)) {
            if (*c.p == '%') {
                rc = parse_node(&c, g);
                if (!rc && !at_eol(&c)) rc = fail(&c, "unexpected '%.20s'", c.p);
            } else {
                char kw[32];
                rc = parse_ident(&c, kw, sizeof kw, "'%N =', 'output', 'update' or 'next_stream'");
                if (rc) {
                } else if (!strcmp(kw, "output")) {
                    rc = parse_output(&c, g);
                } else if (!strcmp(kw, "update")) {
                    rc = parse_update(&c, g);
                } else if (!strcmp(kw, "next_stream")) {
                    int64_t v;
                    if (next_stream >= 0) rc = fail(&c, "next_stream given twice");
                    else if (!(rc = parse_i64(&c, 0, INT32_MAX, &v))) {
                        next_stream = (int)v;
                        next_stream_line = c.line;
                        if (!at_eol(&c)) rc = fail(&c, "unexpected '%.20s'", c.p);
                    }
                } else {
                    rc = fail(&c, "unknown statement '%s' (expected '%%N =', 'output', "
                                  "'update' or 'next_stream')", kw);
                }
            }
        }
        if (rc) {
            free(buf);
            hg_graph_free(g);
            return c.err;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    if (next_stream >= 0) {
        if (next_stream < g->next_stream) {
            hg_status s = hg_error(HG_ERR_FORMAT,
                                   "%d: next_stream %d is not above the largest stream id %d",
                                   next_stream_line, next_stream, g->next_stream - 1);
            hg_graph_free(g);
            return s;
        }
        g->next_stream = next_stream;
    }
    hg_status s = hg_verify(g);
    if (s.code != HG_OK) {
        s = locate(g, s);
        hg_graph_free(g);
        return s;
    }
    *out = g;
    return hg_ok();
}

hg_status hg_parse_file(const char *path, hg_graph **out) {
    *out = NULL;
    char *buf = NULL;
    HG_TRY(hg_read_text_file(path, HG_TEXT_MAX_BYTES, &buf, NULL));
    hg_status s = hg_parse(buf, out);
    free(buf);
    if (s.code != HG_OK) {
        return hg_error(s.code, "%s:%s", path, s.msg);
    }
    return s;
}
