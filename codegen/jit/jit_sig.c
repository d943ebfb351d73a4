/* Kernel signatures (jit_internal.h): the canonical text of a kernel that
 * decides what code it needs. Members and inputs are named by position
 * (m3, i0), so identical fusion groups of different graphs (or repeated
 * layers of one graph) have equal signatures and share one compiled
 * function. The text holds every fact the emitters read: kind, space,
 * reduce/anchor position, each input's dtype and shape, each member's op,
 * dtype, shape, operands and attributes, the outputs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/jit/jit_internal.h"

uint64_t hg_jit_fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (w < 0) { b->oom = 1; return; }
        if ((size_t)w < b->cap - b->n) { b->n += (size_t)w; return; }
        size_t cap = 2 * b->cap + (size_t)w + 64;
        char *s = realloc(b->s, cap);
        if (!s) { b->oom = 1; return; }
        b->s = s;
        b->cap = cap;
    }
}

static void put_shape(sbuf *b, hg_shape s) {
    put(b, "[");
    for (int d = 0; d < s.rank; d++) put(b, d ? ",%lld" : "%lld", (long long)s.dim[d]);
    put(b, "]");
}

static int pos_of(const hg_value *v, int n, hg_value x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

char *hg_jit_signature(const hg_graph *g, const hg_kernel *k, const int *alias) {
    sbuf b = {malloc(256), 0, 256, 0};
    if (!b.s) return NULL;
    b.s[0] = 0;
    put(&b, "%s ", hg_kernel_kind_name(k->kind));
    put_shape(&b, k->space);
    put(&b, " reduce %d anchor %d\n", pos_of(k->members, k->n_members, k->reduce),
        pos_of(k->members, k->n_members, k->anchor));
    for (int i = 0; i < k->n_inputs; i++) {
        put(&b, "i%d %s", i, hg_dtype_name(hg_value_dtype(g, k->inputs[i])));
        put_shape(&b, hg_value_shape(g, k->inputs[i]));
        put(&b, "\n");
    }
    for (int m = 0; m < k->n_members; m++) {
        const hg_node *n = hg_node_at(g, k->members[m]);
        put(&b, "m%d %s %s", m, hg_op_table[n->op].name, hg_dtype_name(n->dtype));
        put_shape(&b, n->shape);
        for (int j = 0; j < n->n_in; j++) {
            int p = pos_of(k->members, k->n_members, n->in[j]);
            if (p >= 0) put(&b, " m%d", p);
            else put(&b, " i%d", pos_of(k->inputs, k->n_inputs, n->in[j]));
        }
        const hg_attrs *a = &n->attrs;
        put(&b, " axes");
        for (int i = 0; i < a->naxes; i++) put(&b, " %lld", (long long)a->axes[i]);
        put(&b, " kd %d eps %.17g stream %d\n", a->keepdims, a->eps, a->stream);
    }
    put(&b, "out");
    for (int o = 0; o < k->n_outputs; o++)
        put(&b, " m%d", pos_of(k->members, k->n_members, k->outputs[o]));
    put(&b, "\n");
    if (alias)
        for (int o = 0; o < k->n_outputs; o++)
            if (alias[o] >= 0) put(&b, "alias m%d i%d\n", pos_of(k->members, k->n_members, k->outputs[o]), alias[o]);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
