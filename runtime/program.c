/* The program executor (runtime/program.h): backend dispatch. */
#include <stdlib.h>
#include <string.h>

#include "codegen/fast.h"
#include "runtime/program.h"

typedef enum { HG_BACKEND_REF = 0, HG_BACKEND_FAST } hg_backend_kind;

struct hg_program {
    hg_backend_kind kind;
    hg_graph *g;       /* owned copy */
    hg_fast *fast;     /* HG_BACKEND_FAST: compiled over g */
    hg_ref_hooks hooks;
    int has_hooks;
};

static const char *const backend_names[] = {"ref", "fast"};
#define HG_N_BACKENDS ((int)(sizeof backend_names / sizeof backend_names[0]))

const char *hg_program_backends(void) { return "ref,fast"; }

hg_status hg_program_compile(const hg_graph *g, const char *backend, hg_program **out) {
    *out = NULL;
    if (!backend) backend = "ref";
    int kind = -1;
    for (int i = 0; i < HG_N_BACKENDS; i++)
        if (!strcmp(backend, backend_names[i])) kind = i;
    if (kind < 0)
        return hg_error(HG_ERR_INVALID, "unknown backend '%s' (available: %s)", backend,
                        hg_program_backends());
    if (!g) return hg_error(HG_ERR_INVALID, "program: no graph");
    HG_TRY(hg_status_prefix(hg_verify(g), "program"));
    hg_program *p = calloc(1, sizeof *p);
    if (!p) return hg_error(HG_ERR_NOMEM, "program");
    p->kind = (hg_backend_kind)kind;
    p->g = hg_graph_clone(g);
    if (!p->g) {
        free(p);
        return hg_error(HG_ERR_NOMEM, "program: copying the graph");
    }
    if (p->kind == HG_BACKEND_FAST) {
        hg_status s = hg_fast_compile(p->g, &p->fast);
        if (s.code != HG_OK) {
            hg_program_free(p);
            return hg_status_prefix(s, "program");
        }
    }
    *out = p;
    return hg_ok();
}

hg_status hg_program_run(hg_program *p, hg_tensor_map *state, const hg_tensor_map *inputs,
                         hg_tensor_map *outputs) {
    if (!p) return hg_error(HG_ERR_INVALID, "program: NULL program");
    switch (p->kind) {
    case HG_BACKEND_REF:
        return hg_ref_run(p->g, state, inputs, outputs, p->has_hooks ? &p->hooks : NULL);
    case HG_BACKEND_FAST:
        return hg_fast_run(p->fast, state, inputs, outputs, p->has_hooks ? &p->hooks : NULL);
    }
    return hg_error(HG_ERR_INVALID, "program: corrupt backend kind %d", (int)p->kind);
}

void hg_program_set_hooks(hg_program *p, const hg_ref_hooks *hooks) {
    if (!p) return;
    p->has_hooks = hooks != NULL;
    if (hooks) p->hooks = *hooks;
    else memset(&p->hooks, 0, sizeof p->hooks);
}

const hg_graph *hg_program_graph(const hg_program *p) { return p ? p->g : NULL; }

const char *hg_program_backend(const hg_program *p) {
    return p ? backend_names[p->kind] : NULL;
}

void hg_program_free(hg_program *p) {
    if (!p) return;
    hg_fast_free(p->fast);
    hg_graph_free(p->g);
    free(p);
}
