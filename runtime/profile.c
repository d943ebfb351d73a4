/* The kernel profiler (runtime/profile.h): kernel records, the recording
 * hook, step brackets, the table and the Chrome trace writer. */
#include "runtime/profile.h"
#include "runtime/runtime.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The OS id of the calling thread, cached per pthread (inside the lock). */
static int32_t thread_id(hg_profile *p) {
    unsigned long self = (unsigned long)pthread_self();
    for (int i = 0; i < p->n_threads; i++)
        if (p->thread_self[i] == self) return p->thread_tid[i];
    int32_t tid = (int32_t)syscall(SYS_gettid);
    if (p->n_threads < HG_PROFILE_MAX_THREADS) {
        p->thread_self[p->n_threads] = self;
        p->thread_tid[p->n_threads++] = tid;
    }
    return tid;
}

static void kernel_free(hg_profile_kernel *k) {
    free(k->members);
    k->members = NULL;
    k->n_members = 0;
}

/* "op in0,in1->out" with dtypes and shapes. */
static void node_sig(const hg_graph *g, hg_value v, char *buf, size_t n) {
    const hg_node *nd = &g->nodes[v];
    size_t len = (size_t)snprintf(buf, n, "%s ", hg_op_table[nd->op].name);
    char s[96];
    for (int j = 0; j < nd->n_in && len < n; j++) {
        const hg_node *in = &g->nodes[nd->in[j]];
        hg_shape_str(in->shape, s, sizeof s);
        len += (size_t)snprintf(buf + len, n - len, "%s%s%s", j ? "," : "",
                                hg_dtype_name(in->dtype), s);
    }
    if (len < n) {
        hg_shape_str(nd->shape, s, sizeof s);
        snprintf(buf + len, n - len, "->%s%s", hg_dtype_name(nd->dtype), s);
    }
}

static void out_shape(const hg_graph *g, hg_value v, char *buf, size_t n) {
    char s[96];
    hg_shape_str(g->nodes[v].shape, s, sizeof s);
    snprintf(buf, n, "%s%s", hg_dtype_name(g->nodes[v].dtype), s);
}

/* Name, output shape (the last member's), signature, FLOPs and bytes of
 * kernel k from its members (set, ascending): a one-node kernel's
 * signature is its node's, a fused kernel's is "name|sig|sig...". */
static void set_kernel_facts(const hg_graph *g, const char *name, hg_profile_kernel *k) {
    int n = k->n_members;
    snprintf(k->name, sizeof k->name, "%s", name);
    out_shape(g, k->members[n - 1], k->shape, sizeof k->shape);
    k->flops = k->bytes = 0;
    if (n == 1) node_sig(g, k->members[0], k->sig, sizeof k->sig);
    else {
        size_t len = (size_t)snprintf(k->sig, sizeof k->sig, "%s", name);
        for (int i = 0; i < n; i++) {
            char sg[sizeof k->sig];
            node_sig(g, k->members[i], sg, sizeof sg);
            if (len < sizeof k->sig)
                len += (size_t)snprintf(k->sig + len, sizeof k->sig - len, "|%s", sg);
        }
    }
    for (int i = 0; i < n; i++) {
        k->flops += hg_node_flops(g, k->members[i]);
        k->bytes += hg_node_bytes(g, k->members[i]);
    }
}

hg_status hg_profile_init(hg_profile *p, const hg_graph *g, unsigned flags) {
    memset(p, 0, sizeof *p);
    p->step_event = -1;
    if (!g) return hg_error(HG_ERR_INVALID, "profile: graph is NULL");
    HG_TRY(hg_status_prefix(hg_graph_status(g), "profile"));
    p->g = g;
    p->flags = flags;
    p->origin = omp_get_wtime();
    p->pid = (int)getpid();
    int n = g->n_nodes;
    p->kernel_of_node = malloc(((size_t)n + 1) * sizeof *p->kernel_of_node);
    p->kernels = calloc((size_t)n + 1, sizeof *p->kernels);
    if (!p->kernel_of_node || !p->kernels) {
        hg_profile_free(p);
        return hg_error(HG_ERR_NOMEM, "profile: %d nodes", n);
    }
    for (int v = 0; v < n; v++) {
        p->kernel_of_node[v] = -1;
        if (hg_op_table[g->nodes[v].op].flags & HG_OPF_LEAF) continue;
        hg_profile_kernel *k = &p->kernels[p->n_kernels];
        k->members = malloc(sizeof *k->members);
        if (!k->members) {
            hg_profile_free(p);
            return hg_error(HG_ERR_NOMEM, "profile: kernel of node %%%d", v);
        }
        k->members[0] = v;
        k->n_members = 1;
        set_kernel_facts(g, hg_op_table[g->nodes[v].op].name, k);
        p->kernel_of_node[v] = p->n_kernels++;
    }
    return hg_ok();
}

hg_status hg_profile_init_schedule(hg_profile *p, const hg_graph *g, const hg_schedule *s,
                                   unsigned flags) {
    HG_TRY(hg_profile_init(p, g, flags));
    if (!s || s->n_nodes != g->n_nodes) {
        hg_profile_free(p);
        return hg_error(HG_ERR_INVALID, "profile: schedule made for %d nodes, graph has %d",
                        s ? s->n_nodes : -1, g->n_nodes);
    }
    /* one record per schedule kernel, in schedule order */
    for (int i = 0; i < p->n_kernels; i++) kernel_free(&p->kernels[i]);
    p->n_kernels = 0;
    for (int v = 0; v < g->n_nodes; v++) p->kernel_of_node[v] = -1;
    for (int ki = 0; ki < s->n_kernels; ki++) {
        const hg_kernel *sk = &s->kernels[ki];
        hg_profile_kernel *k = &p->kernels[p->n_kernels];
        k->members = malloc(((size_t)sk->n_members + 1) * sizeof *k->members);
        if (!k->members || sk->n_members < 1) {
            hg_profile_free(p);
            return sk->n_members < 1
                       ? hg_error(HG_ERR_INVALID, "profile: schedule kernel %d is empty", ki)
                       : hg_error(HG_ERR_NOMEM, "profile: kernel %d", ki);
        }
        memcpy(k->members, sk->members, (size_t)sk->n_members * sizeof *k->members);
        k->n_members = sk->n_members;
        set_kernel_facts(g, sk->n_members == 1 ? hg_op_table[g->nodes[sk->members[0]].op].name
                                               : sk->name, k);
        if (sk->n_members > 1) { /* a fusion group reads its inputs and writes its
                                    outputs once; internal values stay in registers */
            k->bytes = 0;
            for (int i = 0; i < sk->n_inputs; i++)
                k->bytes += hg_shape_numel(g->nodes[sk->inputs[i]].shape) *
                            (int64_t)hg_dtype_size(g->nodes[sk->inputs[i]].dtype);
            for (int i = 0; i < sk->n_outputs; i++)
                k->bytes += hg_shape_numel(g->nodes[sk->outputs[i]].shape) *
                            (int64_t)hg_dtype_size(g->nodes[sk->outputs[i]].dtype);
        }
        for (int i = 0; i < sk->n_members; i++) p->kernel_of_node[sk->members[i]] = p->n_kernels;
        p->n_kernels++;
    }
    return hg_ok();
}

void hg_profile_free(hg_profile *p) {
    if (!p) return;
    for (int i = 0; i < p->n_kernels; i++) kernel_free(&p->kernels[i]);
    free(p->kernels);
    free(p->kernel_of_node);
    free(p->events);
    memset(p, 0, sizeof *p);
    p->step_event = -1;
}

void hg_profile_reset(hg_profile *p) {
    for (int i = 0; i < p->n_kernels; i++) {
        hg_profile_kernel *k = &p->kernels[i];
        k->calls = 0;
        k->total_s = k->min_s = k->max_s = 0;
    }
    p->n_events = p->dropped_events = 0;
    p->steps = 0;
    p->step_total_s = 0;
    p->step_event = -1;
}

static int cmp_value(const void *a, const void *b) {
    hg_value x = *(const hg_value *)a, y = *(const hg_value *)b;
    return (x > y) - (x < y);
}

hg_status hg_profile_fuse(hg_profile *p, const char *name, int n, const hg_value *members,
                          int *index) {
    if (index) *index = -1;
    if (!p->g || n < 1 || !members || !name)
        return hg_error(HG_ERR_INVALID, "profile: fuse: empty member list");
    const hg_graph *g = p->g;
    for (int i = 0; i < n; i++) {
        hg_value v = members[i];
        if (v < 0 || v >= g->n_nodes)
            return hg_error(HG_ERR_INVALID, "profile: fuse %s: node %%%d out of range", name,
                            (int)v);
        int k = p->kernel_of_node[v];
        if (k < 0)
            return hg_error(HG_ERR_INVALID, "profile: fuse %s: node %%%d is a leaf (%s)", name,
                            (int)v, hg_op_table[g->nodes[v].op].name);
        if (p->kernels[k].n_members != 1)
            return hg_error(HG_ERR_INVALID, "profile: fuse %s: node %%%d already in kernel %s",
                            name, (int)v, p->kernels[k].name);
        for (int j = 0; j < i; j++)
            if (members[j] == v)
                return hg_error(HG_ERR_INVALID, "profile: fuse %s: node %%%d listed twice",
                                name, (int)v);
    }
    hg_profile_kernel fk;
    memset(&fk, 0, sizeof fk);
    fk.members = malloc((size_t)n * sizeof *fk.members);
    if (!fk.members) return hg_error(HG_ERR_NOMEM, "profile: fuse %s", name);
    memcpy(fk.members, members, (size_t)n * sizeof *members);
    qsort(fk.members, (size_t)n, sizeof *fk.members, cmp_value);
    fk.n_members = n;
    set_kernel_facts(g, name, &fk);
    /* drop the members' own kernels, compact, and point the members at the new one */
    for (int i = 0; i < n; i++) {
        int k = p->kernel_of_node[members[i]];
        kernel_free(&p->kernels[k]);
    }
    int *remap = malloc(((size_t)p->n_kernels + 1) * sizeof *remap);
    if (!remap) {
        free(fk.members);
        return hg_error(HG_ERR_NOMEM, "profile: fuse %s", name);
    }
    int m = 0;
    for (int k = 0; k < p->n_kernels; k++) {
        remap[k] = -1;
        if (p->kernels[k].n_members == 0) continue;
        remap[k] = m;
        p->kernels[m++] = p->kernels[k];
    }
    for (int v = 0; v < g->n_nodes; v++)
        if (p->kernel_of_node[v] >= 0) p->kernel_of_node[v] = remap[p->kernel_of_node[v]];
    free(remap);
    p->kernels[m] = fk; /* fits: at least one kernel was removed */
    for (int i = 0; i < n; i++) p->kernel_of_node[fk.members[i]] = m;
    p->n_kernels = m + 1;
    if (index) *index = m;
    return hg_ok();
}

/* Appends an event; returns its index or -1 (dropped). Inside the lock. */
static int64_t push_event(hg_profile *p, int32_t kernel, int32_t tid, double t0, double dur) {
    if (p->n_events == p->cap_events) {
        if (p->cap_events >= HG_PROFILE_MAX_EVENTS) {
            p->dropped_events++;
            return -1;
        }
        int64_t cap = p->cap_events ? 2 * p->cap_events : 4096;
        if (cap > HG_PROFILE_MAX_EVENTS) cap = HG_PROFILE_MAX_EVENTS;
        hg_profile_event *e = realloc(p->events, (size_t)cap * sizeof *e);
        if (!e) {
            p->dropped_events++;
            return -1;
        }
        p->events = e;
        p->cap_events = cap;
    }
    hg_profile_event *e = &p->events[p->n_events];
    e->kernel = kernel;
    e->tid = tid;
    e->t0 = t0;
    e->dur = dur;
    return p->n_events++;
}

void hg_profile_record(hg_profile *p, int k, double seconds) {
    if (k < 0 || k >= p->n_kernels) return;
    int trace = (p->flags & HG_PROFILE_TRACE) != 0;
    double t_end = trace ? omp_get_wtime() - p->origin : 0;
#pragma omp critical(hg_profile)
    {
        hg_profile_kernel *kr = &p->kernels[k];
        if (kr->calls == 0 || seconds < kr->min_s) kr->min_s = seconds;
        if (kr->calls == 0 || seconds > kr->max_s) kr->max_s = seconds;
        kr->calls++;
        kr->total_s += seconds;
        if (trace) push_event(p, k, thread_id(p), t_end - seconds, seconds);
    }
}

static void kernel_done(void *user, const hg_graph *g, const hg_schedule *s, int kernel,
                        double seconds) {
    hg_profile *p = user;
    (void)g;
    if (!s || kernel < 0 || kernel >= s->n_kernels || s->kernels[kernel].n_members < 1) return;
    hg_value first = s->kernels[kernel].members[0];
    if (first < 0 || first >= p->g->n_nodes) return;
    int k = p->kernel_of_node[first];
    if (k >= 0) hg_profile_record(p, k, seconds);
}

hg_exec_hooks hg_profile_hooks(hg_profile *p) {
    hg_exec_hooks h;
    h.kernel_done = kernel_done;
    h.user = p;
    return h;
}

void hg_profile_step_begin(hg_profile *p) {
    double t = omp_get_wtime() - p->origin;
    int trace = (p->flags & HG_PROFILE_TRACE) != 0;
#pragma omp critical(hg_profile)
    {
        p->step_t0 = t;
        p->step_event = trace ? push_event(p, -1, thread_id(p), t, -1) : -1;
    }
}

void hg_profile_step_end(hg_profile *p) {
    double t = omp_get_wtime() - p->origin;
#pragma omp critical(hg_profile)
    {
        p->steps++;
        p->step_total_s += t - p->step_t0;
        if (p->step_event >= 0) p->events[p->step_event].dur = t - p->step_t0;
        p->step_event = -1;
    }
}

/* ------------------------------------------------------------------ rows */

typedef struct {
    int idx;
    const hg_profile_kernel *k;
} sig_ref;

static int cmp_sig(const void *a, const void *b) {
    const sig_ref *x = a, *y = b;
    int c = strcmp(x->k->sig, y->k->sig);
    if (c) return c;
    if (x->k->flops != y->k->flops) return x->k->flops < y->k->flops ? -1 : 1;
    if (x->k->bytes != y->k->bytes) return x->k->bytes < y->k->bytes ? -1 : 1;
    return x->idx - y->idx;
}

static int same_sig(const hg_profile_kernel *x, const hg_profile_kernel *y) {
    return !strcmp(x->sig, y->sig) && x->flops == y->flops && x->bytes == y->bytes;
}

static int cmp_row(const void *a, const void *b) {
    const hg_profile_row *x = a, *y = b;
    if (x->total_s != y->total_s) return x->total_s > y->total_s ? -1 : 1;
    return x->kernel - y->kernel;
}

static double kernel_time(const hg_profile *p) {
    double t = 0;
    for (int i = 0; i < p->n_kernels; i++) t += p->kernels[i].total_s;
    return t;
}

hg_status hg_profile_rows(const hg_profile *p, unsigned flags, hg_profile_row **rows, int *n) {
    *rows = NULL;
    *n = 0;
    int nk = p->n_kernels;
    int *order = malloc(((size_t)nk + 1) * sizeof *order);
    hg_profile_row *r = calloc((size_t)nk + 1, sizeof *r);
    if (!order || !r) {
        free(order);
        free(r);
        return hg_error(HG_ERR_NOMEM, "profile: %d rows", nk);
    }
    int by_shape = (flags & HG_PROFILE_BY_SHAPE) != 0;
    if (by_shape) {
        sig_ref *refs = malloc(((size_t)nk + 1) * sizeof *refs);
        if (!refs) {
            free(order);
            free(r);
            return hg_error(HG_ERR_NOMEM, "profile: %d rows", nk);
        }
        for (int i = 0; i < nk; i++) refs[i] = (sig_ref){i, &p->kernels[i]};
        qsort(refs, (size_t)nk, sizeof *refs, cmp_sig);
        for (int i = 0; i < nk; i++) order[i] = refs[i].idx;
        free(refs);
    } else {
        for (int i = 0; i < nk; i++) order[i] = i;
    }
    double denom = p->steps > 0 ? p->step_total_s : kernel_time(p);
    int nr = 0;
    for (int i = 0; i < nk;) {
        int j = i + 1;
        if (by_shape)
            while (j < nk && same_sig(&p->kernels[order[i]], &p->kernels[order[j]])) j++;
        hg_profile_row row;
        memset(&row, 0, sizeof row);
        row.kernel = order[i];
        for (int q = i; q < j; q++) {
            const hg_profile_kernel *k = &p->kernels[order[q]];
            if (k->calls == 0) continue;
            if (order[q] < row.kernel || row.n_kernels == 0) row.kernel = order[q];
            row.n_kernels++;
            row.calls += k->calls;
            row.total_s += k->total_s;
            row.flops += k->flops * k->calls;
            row.bytes += k->bytes * k->calls;
        }
        i = j;
        if (row.n_kernels == 0) continue;
        row.mean_s = row.total_s / (double)row.calls;
        if (row.total_s > 0) {
            row.gflops = (double)row.flops / row.total_s / 1e9;
            row.gbytes = (double)row.bytes / row.total_s / 1e9;
        }
        row.share = denom > 0 ? row.total_s / denom : 0;
        r[nr++] = row;
    }
    free(order);
    qsort(r, (size_t)nr, sizeof *r, cmp_row);
    *rows = r;
    *n = nr;
    return hg_ok();
}

/* Members as "%3" or "%3,%4,%9" (shortened to fit). */
static void members_str(const hg_profile_kernel *k, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < k->n_members; i++) {
        char one[24];
        snprintf(one, sizeof one, "%s%%%d", i ? "," : "", (int)k->members[i]);
        if (len + strlen(one) + 4 >= n) {
            snprintf(buf + len, n - len, ",..");
            return;
        }
        len += (size_t)snprintf(buf + len, n - len, "%s", one);
    }
}

hg_status hg_profile_print(const hg_profile *p, FILE *f, unsigned flags, int max_rows) {
    hg_profile_row *rows;
    int n;
    HG_TRY(hg_profile_rows(p, flags, &rows, &n));
    double kt = kernel_time(p);
    int by_shape = (flags & HG_PROFILE_BY_SHAPE) != 0;
    if (p->steps > 0) {
        double st = p->step_total_s;
        fprintf(f, "profile: %lld steps, %.3f ms per step (wall); kernels %.3f ms per step (%.1f%%), "
                   "outside kernels %.3f ms\n",
                (long long)p->steps, 1e3 * st / (double)p->steps, 1e3 * kt / (double)p->steps,
                st > 0 ? 100 * kt / st : 0.0, 1e3 * (st - kt) / (double)p->steps);
    } else {
        fprintf(f, "profile: kernels %.3f ms in total (no steps marked; share is of kernel time)\n",
                1e3 * kt);
    }
    int fused = 0;
    for (int i = 0; i < p->n_kernels; i++) fused |= p->kernels[i].n_members > 1;
    fprintf(f, "%d %s (%s)%s\n", n, by_shape ? "kernel signatures" : "kernels",
            by_shape ? "identical op and shapes aggregated"
            : fused  ? "fused kernels list their member nodes"
                     : "one per node on the ref backend",
            p->dropped_events ? "; trace events dropped" : "");
    fprintf(f, "%4s %11s %7s %8s %11s %9s %9s %11s  %-14s %-22s %s\n", "#", "total_ms", "share%",
            "calls", "mean_us", "GFLOP/s", "GB/s", "MFLOP/call", "kernel", "shape",
            by_shape ? "instances (first)" : "members");
    int shown = max_rows > 0 && max_rows < n ? max_rows : n;
    for (int i = 0; i < shown; i++) {
        const hg_profile_row *r = &rows[i];
        const hg_profile_kernel *k = &p->kernels[r->kernel];
        char mem[160];
        if (by_shape) {
            char first[120];
            members_str(k, first, sizeof first);
            snprintf(mem, sizeof mem, "%d (%s)", r->n_kernels, first);
        } else {
            members_str(k, mem, sizeof mem);
        }
        fprintf(f, "%4d %11.3f %7.2f %8lld %11.2f %9.3f %9.3f %11.4f  %-14s %-22s %s\n", i + 1,
                1e3 * r->total_s, 100 * r->share, (long long)r->calls, 1e6 * r->mean_s, r->gflops,
                r->gbytes, (double)k->flops / 1e6, k->name, k->shape, mem);
    }
    if (shown < n) {
        double t = 0, sh = 0;
        int64_t calls = 0;
        for (int i = shown; i < n; i++) {
            t += rows[i].total_s;
            sh += rows[i].share;
            calls += rows[i].calls;
        }
        fprintf(f, "%4s %11.3f %7.2f %8lld  (%d more rows)\n", "...", 1e3 * t, 100 * sh,
                (long long)calls, n - shown);
    }
    free(rows);
    if (ferror(f)) return hg_error(HG_ERR_IO, "profile: writing the table failed");
    return hg_ok();
}

/* ----------------------------------------------------------------- trace */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* One "B" or "E" event; *first tracks the comma. */
static void emit(FILE *f, const hg_profile *p, const hg_profile_event *e, int begin, double ts,
                 int *first) {
    fprintf(f, "%s\n{\"ph\":\"%c\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,", *first ? "" : ",",
            begin ? 'B' : 'E', p->pid, (int)e->tid, 1e6 * ts);
    *first = 0;
    if (e->kernel < 0) {
        fprintf(f, "\"name\":\"step\",\"cat\":\"step\"}");
        return;
    }
    const hg_profile_kernel *k = &p->kernels[e->kernel];
    fprintf(f, "\"name\":");
    json_str(f, k->name);
    fprintf(f, ",\"cat\":\"kernel\"");
    if (begin) {
        fprintf(f, ",\"args\":{\"members\":[");
        for (int i = 0; i < k->n_members; i++)
            fprintf(f, "%s%d", i ? "," : "", (int)k->members[i]);
        fprintf(f, "],\"shape\":");
        json_str(f, k->shape);
        fprintf(f, ",\"signature\":");
        json_str(f, k->sig);
        fprintf(f, ",\"flops\":%lld,\"bytes\":%lld}", (long long)k->flops, (long long)k->bytes);
    }
    fputc('}', f);
}

/* The events of one thread, in begin order, as nested B/E pairs: before an
 * event begins, every open span that ended by then (or that it would
 * overlap without nesting, which the clock order rules out) is closed. */
static void emit_thread(FILE *f, const hg_profile *p, int32_t tid, int64_t *stack, int *first) {
    int depth = 0;
    double last = 0;
    for (int64_t i = 0; i <= p->n_events; i++) {
        const hg_profile_event *e = i < p->n_events ? &p->events[i] : NULL;
        if (e && (e->tid != tid || e->dur < 0)) continue; /* other thread, open step */
        while (depth > 0) {
            const hg_profile_event *top = &p->events[stack[depth - 1]];
            double end = top->t0 + top->dur;
            if (e && end > e->t0 && end >= e->t0 + e->dur) break; /* e nests inside */
            double ts = e && end > e->t0 ? e->t0 : end;
            if (ts < last) ts = last;
            emit(f, p, top, 0, ts, first);
            last = ts;
            depth--;
        }
        if (!e) break;
        double ts = e->t0 < last ? last : e->t0;
        emit(f, p, e, 1, ts, first);
        last = ts;
        stack[depth++] = i;
    }
}

hg_status hg_profile_write_trace(const hg_profile *p, const char *path) {
    if (!(p->flags & HG_PROFILE_TRACE))
        return hg_error(HG_ERR_INVALID, "trace %s: no events kept (HG_PROFILE_TRACE not set)",
                        path);
    int32_t *tids = malloc(((size_t)p->n_events + 1) * sizeof *tids);
    int64_t *stack = malloc(((size_t)p->n_events + 1) * sizeof *stack);
    if (!tids || !stack) {
        free(tids);
        free(stack);
        return hg_error(HG_ERR_NOMEM, "trace %s", path);
    }
    int ntid = 0;
    for (int64_t i = 0; i < p->n_events; i++) {
        int seen = 0;
        for (int j = 0; j < ntid && !seen; j++) seen = tids[j] == p->events[i].tid;
        if (!seen) tids[ntid++] = p->events[i].tid;
    }
    hg_atomic_file *af;
    hg_status s = hg_atomic_open(path, &af);
    if (s.code == HG_OK) {
        FILE *f = hg_atomic_stream(af);
        int first = 1;
        fprintf(f, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"dropped_events\":%lld},"
                   "\"traceEvents\":[",
                (long long)p->dropped_events);
        fprintf(f, "\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"process_name\","
                   "\"args\":{\"name\":\"halograph\"}}",
                p->pid, ntid ? (int)tids[0] : 0);
        first = 0;
        for (int j = 0; j < ntid; j++)
            fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"thread_name\","
                       "\"args\":{\"name\":\"host thread %d\"}}",
                    p->pid, (int)tids[j], (int)tids[j]);
        for (int j = 0; j < ntid; j++) emit_thread(f, p, tids[j], stack, &first);
        fprintf(f, "\n]}\n");
        s = hg_status_prefix(hg_atomic_close(af, hg_ok()), "trace");
    }
    free(tids);
    free(stack);
    return s;
}
