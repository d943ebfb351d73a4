/* Compiling the kernels of a schedule and running one (jit.h).
 *
 * hg_jit_compile: signature of every supported kernel; those already
 * compiled in this process are reused; the others (deduplicated by
 * signature) form one object: read from the disk cache if present and
 * valid, else emitted into one LLVM module, optimised, emitted and written
 * to the cache; then linked and their addresses recorded in the session. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/jit/jit_internal.h"

#define JIT_VERSION "halograph-jit 6" /* bump when the emitted code changes */
#define MIN_CHUNK_ELEMS 16384 /* fewer elements per thread: one thread */

struct hg_jit_program {
    hg_jit_session *s;
    int n;
    hg_jit_fn *fn;
    int64_t *units, *unit_elems;
    hg_jit_stats stats;
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void hg_jit_default_cache_dir(char *buf, size_t n) {
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (x && *x) snprintf(buf, n, "%s/halograph", x);
    else if (h && *h) snprintf(buf, n, "%s/.cache/halograph", h);
    else if (n) buf[0] = 0;
}

static int loop_supported(const hg_graph *g, const hg_kernel *k) {
    for (int m = 0; m < k->n_members; m++) {
        const hg_node *n = hg_node_at(g, k->members[m]);
        if (k->members[m] == k->reduce) {
            if (n->op != HG_OP_sum && n->op != HG_OP_mean && n->op != HG_OP_max) return 0;
            if (!hg_dtype_is_float(n->dtype)) return 0;
            continue;
        }
        if (n->op == HG_OP_random_uniform || n->op == HG_OP_random_normal) {
            if (!hg_dtype_is_float(n->dtype)) return 0;
            continue;
        }
        if (!hg_jit_ew_supported(g, n)) return 0;
    }
    return 1;
}

/* The kernel as the LOOP emitter sees it: a LOOP kernel as is; an OP
 * kernel of an elementwise-class, random or reduction node as a LOOP of
 * that one node (a reduction reading its input from outside). 0 if k is
 * neither. *v shares k's arrays. */
static int loop_view(const hg_graph *g, const hg_kernel *k, hg_kernel *v) {
    *v = *k;
    if (k->kind == HG_KERNEL_LOOP) return 1;
    if (k->kind != HG_KERNEL_OP || k->n_members != 1) return 0;
    const hg_node *n = hg_node_at(g, k->members[0]);
    unsigned fl = hg_op_table[n->op].flags;
    if (fl & HG_OPF_REDUCE) {
        v->reduce = k->members[0];
        v->space = hg_value_shape(g, n->in[0]);
    } else if (!(fl & (HG_OPF_ELEMENTWISE | HG_OPF_RANDOM)) && n->op != HG_OP_cast &&
               n->op != HG_OP_broadcast_to) {
        return 0;
    }
    v->kind = HG_KERNEL_LOOP;
    return 1;
}

/* The kernel as an emitter sees it (*v: a ROW kernel as is, else
 * loop_view) and whether that emitter compiles it. */
static int view_supported(const hg_graph *g, const hg_kernel *k, hg_kernel *v) {
    if (k->kind == HG_KERNEL_ROW) {
        *v = *k;
        return hg_jit_row_supported(g, k);
    }
    return loop_view(g, k, v) && loop_supported(g, v);
}

int hg_jit_supports(const hg_graph *g, const hg_kernel *k) {
    hg_kernel v;
    return view_supported(g, k, &v);
}

/* ------------------------------------------------------------ compile */

typedef struct {
    char **sig;     /* per kernel (NULL: not compiled by the JIT) */
    int **alias;    /* per kernel: in-place input of each output, or NULL */
    hg_kernel *view; /* per kernel: view_supported's view */
    int *slot;      /* per kernel: index into the new-kernel list, or -1 */
    int *first;     /* per new kernel: the kernel index that defines it */
    int n_new;
    char *key_text;
    uint64_t key;
} work;

static void work_free(work *w, int n) {
    if (w->sig)
        for (int i = 0; i < n; i++) free(w->sig[i]);
    free(w->sig);
    if (w->alias)
        for (int i = 0; i < n; i++) free(w->alias[i]);
    free(w->alias);
    free(w->view);
    free(w->slot);
    free(w->first);
    free(w->key_text);
}

static hg_status build_key(hg_jit_session *s, const hg_jit_options *opt, work *w) {
    const char *feat = opt && opt->key_features ? opt->key_features : hg_jit_session_features(s);
    size_t len = strlen(JIT_VERSION) + strlen(hg_jit_session_cpu(s)) + strlen(feat) + 8;
    for (int j = 0; j < w->n_new; j++) len += strlen(w->sig[w->first[j]]) + 8;
    w->key_text = malloc(len);
    if (!w->key_text) return hg_error(HG_ERR_NOMEM, "jit: cache key");
    char *p = w->key_text;
    p += sprintf(p, "%s\n%s\n%s\n", JIT_VERSION, hg_jit_session_cpu(s), feat);
    for (int j = 0; j < w->n_new; j++) p += sprintf(p, "%s;\n", w->sig[w->first[j]]);
    w->key = hg_jit_fnv(HG_FNV_INIT, w->key_text, strlen(w->key_text));
    return hg_ok();
}

static void sym_name(uint64_t key, int j, char *buf, size_t n) {
    snprintf(buf, n, "hgk_%016llx_%d", (unsigned long long)key, j);
}

static hg_status emit_object(hg_jit_session *s, const hg_graph *g, const hg_schedule *sc,
                             work *w, char **obj, size_t *n) {
    hg_jb b = {0};
    b.C = LLVMContextCreate();
    b.M = LLVMModuleCreateWithNameInContext("halograph", b.C);
    b.B = LLVMCreateBuilderInContext(b.C);
    hg_jb_types(&b);
    hg_status st = hg_ok();
    for (int j = 0; j < w->n_new && st.code == HG_OK; j++) {
        char name[64];
        sym_name(w->key, j, name, sizeof name);
        const hg_kernel *k = &w->view[w->first[j]];
        st = k->kind == HG_KERNEL_ROW ? hg_jit_emit_row(&b, g, k, w->alias[w->first[j]], name)
                                      : hg_jit_emit_loop(&b, g, k, w->alias[w->first[j]], name);
        if (st.code != HG_OK) st = hg_status_prefix(st, "kernel %d (%s)", w->first[j], k->name);
    }
    LLVMDisposeBuilder(b.B);
    if (st.code == HG_OK) st = hg_jit_session_codegen(s, b.M, obj, n);
    else LLVMDisposeModule(b.M);
    LLVMContextDispose(b.C);
    return st;
}

static hg_status link_new(hg_jit_program *p, const hg_graph *g, const hg_schedule *sc,
                          const hg_jit_options *opt, work *w) {
    HG_TRY(build_key(p->s, opt, w));
    char dir[4000];
    if (opt && opt->cache_dir) snprintf(dir, sizeof dir, "%s", opt->cache_dir);
    else hg_jit_default_cache_dir(dir, sizeof dir);
    char *obj = NULL;
    size_t n = 0;
    if (dir[0] && hg_jit_cache_read(dir, w->key, w->key_text, &obj, &n)) {
        p->stats.disk_hit = 1;
    } else {
        HG_TRY(emit_object(p->s, g, sc, w, &obj, &n));
        if (dir[0]) {
            hg_status st = hg_jit_cache_write(dir, w->key, w->key_text, obj, n);
            if (st.code != HG_OK) { /* not fatal: the code runs, uncached */
                snprintf(p->stats.cache_error, sizeof p->stats.cache_error, "%s", st.msg);
                dir[0] = 0;
            }
        }
    }
    if (dir[0])
        snprintf(p->stats.cache_file, sizeof p->stats.cache_file, "%s/%016llx.hgjit", dir,
                 (unsigned long long)w->key);
    char **names = calloc((size_t)w->n_new, sizeof *names);
    void **addr = calloc((size_t)w->n_new, sizeof *addr);
    hg_status st = names && addr ? hg_ok() : hg_error(HG_ERR_NOMEM, "jit: symbols");
    for (int j = 0; j < w->n_new && st.code == HG_OK; j++) {
        names[j] = malloc(64);
        if (!names[j]) st = hg_error(HG_ERR_NOMEM, "jit: symbols");
        else sym_name(w->key, j, names[j], 64);
    }
    if (st.code == HG_OK) st = hg_jit_session_load(p->s, obj, n, w->n_new, names, addr);
    for (int j = 0; j < w->n_new && st.code == HG_OK; j++)
        st = hg_jit_session_remember(p->s, w->sig[w->first[j]], addr[j]);
    for (int i = 0; i < p->n && st.code == HG_OK; i++)
        if (w->slot[i] >= 0) p->fn[i] = (hg_jit_fn)addr[w->slot[i]];
    if (names)
        for (int j = 0; j < w->n_new; j++) free(names[j]);
    free(names);
    free(addr);
    free(obj);
    return st;
}

/* alias[o] = the input of k sharing output o's block in plan, or -1;
 * *out NULL when none does. */
static hg_status aliases(const hg_kernel *k, const hg_mem_plan *plan, int **out) {
    *out = NULL;
    if (!plan) return hg_ok();
    for (int o = 0; o < k->n_outputs; o++) {
        int b = plan->block[k->outputs[o]], j = -1;
        for (int i = 0; b >= 0 && i < k->n_inputs && j < 0; i++)
            if (plan->block[k->inputs[i]] == b) j = i;
        if (j < 0) continue;
        if (!*out) {
            *out = malloc(sizeof(int) * (size_t)k->n_outputs);
            if (!*out) return hg_error(HG_ERR_NOMEM, "jit: aliases");
            for (int q = 0; q < k->n_outputs; q++) (*out)[q] = -1;
        }
        (*out)[o] = j;
    }
    return hg_ok();
}

static hg_status compile_into(hg_jit_program *p, const hg_graph *g, const hg_schedule *sc,
                              const hg_mem_plan *plan, const hg_jit_options *opt, work *w) {
    int n = sc->n_kernels;
    w->sig = calloc((size_t)n + 1, sizeof *w->sig);
    w->alias = calloc((size_t)n + 1, sizeof *w->alias);
    w->view = calloc((size_t)n + 1, sizeof *w->view);
    w->slot = malloc(sizeof *w->slot * ((size_t)n + 1));
    w->first = malloc(sizeof *w->first * ((size_t)n + 1));
    if (!w->sig || !w->alias || !w->view || !w->slot || !w->first) return hg_error(HG_ERR_NOMEM, "jit: compile");
    for (int i = 0; i < n; i++) {
        w->slot[i] = -1;
        if (!view_supported(g, &sc->kernels[i], &w->view[i])) continue;
        const hg_kernel *k = &w->view[i];
        hg_jit_extent(g, k, &p->units[i], &p->unit_elems[i]);
        HG_TRY(aliases(k, plan, &w->alias[i]));
        w->sig[i] = hg_jit_signature(g, k, w->alias[i]);
        if (!w->sig[i]) return hg_error(HG_ERR_NOMEM, "jit: signature");
        p->stats.n_kernels++;
        p->fn[i] = (hg_jit_fn)hg_jit_session_lookup(p->s, w->sig[i]);
        if (p->fn[i]) {
            p->stats.n_memory++;
            continue;
        }
        for (int j = 0; j < w->n_new && w->slot[i] < 0; j++)
            if (strcmp(w->sig[w->first[j]], w->sig[i]) == 0) w->slot[i] = j;
        if (w->slot[i] < 0) {
            w->slot[i] = w->n_new;
            w->first[w->n_new++] = i;
        }
    }
    p->stats.n_new = w->n_new;
    if (w->n_new == 0) return hg_ok();
    return link_new(p, g, sc, opt, w);
}

hg_status hg_jit_compile(const hg_graph *g, const hg_schedule *sc, const hg_mem_plan *plan,
                         const hg_jit_options *opt, hg_jit_program **out) {
    double t0 = now();
    hg_jit_program *p = calloc(1, sizeof *p);
    if (!p) return hg_error(HG_ERR_NOMEM, "jit: program");
    p->n = sc->n_kernels;
    p->fn = calloc((size_t)p->n + 1, sizeof *p->fn);
    p->units = calloc((size_t)p->n + 1, sizeof *p->units);
    p->unit_elems = calloc((size_t)p->n + 1, sizeof *p->unit_elems);
    hg_status st = p->fn && p->units && p->unit_elems ? hg_ok()
                                                      : hg_error(HG_ERR_NOMEM, "jit: program");
    if (st.code == HG_OK) st = hg_jit_session_get(&p->s);
    work w = {0};
    if (st.code == HG_OK) st = compile_into(p, g, sc, plan, opt, &w);
    work_free(&w, sc->n_kernels);
    if (st.code != HG_OK) {
        hg_jit_free(p);
        return st;
    }
    p->stats.seconds = now() - t0;
    *out = p;
    return hg_ok();
}

/* ---------------------------------------------------------------- run */

int hg_jit_has(const hg_jit_program *p, int kernel) {
    return p && kernel >= 0 && kernel < p->n && p->fn[kernel] != NULL;
}

void hg_jit_run(const hg_jit_program *p, int kernel, void *const *ptrs) {
    hg_jit_fn fn = p->fn[kernel];
    int64_t units = p->units[kernel], ue = p->unit_elems[kernel];
    if (units <= 0) return;
    int64_t nt = omp_get_max_threads();
    int64_t by_work = (units * (ue > 0 ? ue : 1)) / MIN_CHUNK_ELEMS;
    if (nt > by_work) nt = by_work;
    if (nt > units) nt = units;
    if (nt <= 1 || omp_in_parallel()) {
        fn(0, units, ptrs);
        return;
    }
#pragma omp parallel for schedule(static) num_threads((int)nt)
    for (int64_t c = 0; c < nt; c++) {
        int64_t b = units * c / nt, e = units * (c + 1) / nt;
        if (e > b) fn(b, e, ptrs);
    }
}

void hg_jit_program_stats(const hg_jit_program *p, hg_jit_stats *out) { *out = p->stats; }

void hg_jit_free(hg_jit_program *p) {
    if (!p) return;
    hg_jit_session_put(p->s);
    free(p->fn);
    free(p->units);
    free(p->unit_elems);
    free(p);
}
