/* The program executor (runtime/program.h): a graph copy, the backend's
 * schedule of it and the backend's compiled program. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/program.h"

struct hg_program {
    const hg_backend *be;
    hg_graph *g;      /* owned copy */
    hg_schedule s;    /* the backend's schedule of g */
    void *prog;       /* the backend's compiled program over g and s */
    hg_exec_hooks hooks;
    int has_hooks;
    double compile_seconds; /* schedule + check + backend compile */
    double compile_cpu_seconds; /* the same, process CPU time (clock()) */
};

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The registry's names joined by commas, built once (pthread_once) from
 * the static const registry, so it never changes afterwards. */
static char backend_list[256];
static pthread_once_t backend_list_once = PTHREAD_ONCE_INIT;

static void build_backend_list(void) {
    size_t len = 0;
    for (int i = 0; i < hg_backend_count() && len < sizeof backend_list; i++)
        len += (size_t)snprintf(backend_list + len, sizeof backend_list - len, "%s%s",
                                i ? "," : "", hg_backend_at(i)->name);
}

const char *hg_program_backends(void) {
    pthread_once(&backend_list_once, build_backend_list);
    return backend_list;
}

/* Replaces *g by its decomposition when it holds a composite node the
 * backend does not keep (hg_decompose_some with keeps_composite). */
static hg_status decompose_unkept(const hg_backend *be, hg_graph **g) {
    int any = 0;
    for (int v = 0; v < (*g)->n_nodes && !any; v++) {
        hg_op op = (*g)->nodes[v].op;
        any = (hg_op_table[op].flags & HG_OPF_COMPOSITE) && !be->keeps_composite(op);
    }
    if (!any) return hg_ok();
    hg_graph *d = NULL;
    HG_TRY(hg_decompose_some(*g, be->keeps_composite, &d, NULL));
    hg_graph_free(*g);
    *g = d;
    return hg_status_prefix(hg_verify(d), "program: decomposed graph");
}

/* Replaces *g by hg_remat's graph (activations recomputed before their
 * far users) on the planning backends; ref, the oracle, runs the graph as
 * given (settings HG_REMAT_MIN_DISTANCE, HG_REMAT_MIN_NUMEL). */
static hg_status remat_far_uses(const hg_backend *be, hg_graph **g) {
    if (!strcmp(be->name, "ref")) return hg_ok();
    hg_graph *r = NULL;
    int copies = 0;
    HG_TRY(hg_remat(*g, HG_REMAT_MIN_DISTANCE, HG_REMAT_MIN_NUMEL, &r, &copies));
    if (!copies) {
        hg_graph_free(r);
        return hg_ok();
    }
    hg_graph_free(*g);
    *g = r;
    return hg_status_prefix(hg_verify(r), "program: rematerialised graph");
}

hg_status hg_program_compile(const hg_graph *g, const char *backend, hg_program **out) {
    *out = NULL;
    const hg_backend *be = hg_backend_find(backend);
    if (!be)
        return hg_error(HG_ERR_INVALID, "unknown backend '%s' (available: %s)", backend,
                        hg_program_backends());
    if (!g) return hg_error(HG_ERR_INVALID, "program: no graph");
    HG_TRY(hg_status_prefix(hg_verify(g), "program"));
    hg_program *p = calloc(1, sizeof *p);
    if (!p) return hg_error(HG_ERR_NOMEM, "program");
    p->be = be;
    p->g = hg_graph_clone(g);
    if (!p->g) {
        free(p);
        return hg_error(HG_ERR_NOMEM, "program: copying the graph");
    }
    double t0 = now_seconds();
    clock_t c0 = clock();
    hg_status s = decompose_unkept(be, &p->g);
    if (s.code == HG_OK) s = remat_far_uses(be, &p->g);
    if (s.code == HG_OK) s = be->schedule(p->g, &p->s);
    if (s.code == HG_OK) s = hg_schedule_check(p->g, &p->s);
    if (s.code == HG_OK) s = be->compile(p->g, &p->s, &p->prog);
    if (s.code != HG_OK) {
        hg_program_free(p);
        return hg_status_prefix(s, "program");
    }
    p->compile_seconds = now_seconds() - t0;
    p->compile_cpu_seconds = (double)(clock() - c0) / CLOCKS_PER_SEC;
    *out = p;
    return hg_ok();
}

hg_status hg_program_run(hg_program *p, hg_tensor_map *state, const hg_tensor_map *inputs,
                         hg_tensor_map *outputs) {
    if (!p) return hg_error(HG_ERR_INVALID, "program: NULL program");
    return p->be->run(p->prog, state, inputs, outputs, p->has_hooks ? &p->hooks : NULL);
}

void hg_program_set_hooks(hg_program *p, const hg_exec_hooks *hooks) {
    if (!p) return;
    p->has_hooks = hooks != NULL;
    if (hooks) p->hooks = *hooks;
    else memset(&p->hooks, 0, sizeof p->hooks);
}

const hg_graph *hg_program_graph(const hg_program *p) { return p ? p->g : NULL; }

const hg_schedule *hg_program_schedule(const hg_program *p) { return p ? &p->s : NULL; }

const char *hg_program_backend(const hg_program *p) { return p ? p->be->name : NULL; }

double hg_program_compile_seconds(const hg_program *p) { return p ? p->compile_seconds : 0; }

double hg_program_compile_cpu_seconds(const hg_program *p) { return p ? p->compile_cpu_seconds : 0; }

void hg_program_free(hg_program *p) {
    if (!p) return;
    if (p->prog) p->be->free(p->prog);
    hg_schedule_free(&p->s);
    hg_graph_free(p->g);
    free(p);
}
