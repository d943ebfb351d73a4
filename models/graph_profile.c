/* Profile of one graph kind (models/drivers.h "profile of one graph
 * kind"): the graph built, compiled and filled with seeded inputs, then
 * timed steps with the kernel profiler attached. Shared by `halograph
 * profile` (tools/cmd_profile.c, which prints) and halograph_profile_graph
 * (api/api_profile.c, which returns rows). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/drivers.h"

static const char *const KINDS[] = {"train", "sample-step", "score", "nelbo"};

int hg_graph_profile_kind_known(const char *kind) {
    for (size_t j = 0; kind && j < sizeof KINDS / sizeof KINDS[0]; j++)
        if (!strcmp(kind, KINDS[j])) return 1;
    return 0;
}

/* Fills every input of g: the rules of drivers.h; RNG streams keyed by the
 * input's position so the data only depend on the seed. */
static hg_status make_inputs(const hg_graph *g, const hg_config *c, double box, uint32_t seed,
                             hg_tensor_map *in) {
    int k = 0;
    for (int v = 0; v < g->n_nodes; v++) {
        const hg_node *nd = &g->nodes[v];
        if (nd->op != HG_OP_input) continue;
        const char *name = nd->attrs.name;
        hg_tensor *t;
        HG_TRY(hg_map_alloc(in, name, nd->dtype, nd->shape, &t));
        int64_t n = hg_shape_numel(nd->shape);
        uint32_t stream = 0x1000u + (uint32_t)k++;
        int is_point = (!strcmp(name, "x") || !strcmp(name, "z")) && nd->shape.rank == 3;
        int64_t F = is_point ? nd->shape.dim[2] : 1;
        for (int64_t i = 0; i < n; i++) {
            double val;
            if (nd->dtype == HG_I32) val = !strcmp(name, "seed") ? (double)seed : 0; /* step, replica */
            else if (nd->dtype == HG_BOOL) val = 1;
            else if (!strcmp(name, "mask")) val = 1;
            else if (!strcmp(name, "t")) val = 0.5;
            else if (!strcmp(name, "s")) val = 0.49;
            else if (!strcmp(name, "gamma"))
                val = c->gamma_min + (c->gamma_max - c->gamma_min) * hg_rng_uniform(seed, stream, 0, 0, (uint64_t)i);
            else if (!strcmp(name, "cond")) val = 0.1 + 0.5 * hg_rng_uniform(seed, stream, 0, 0, (uint64_t)i);
            else if (is_point && c->score == HG_SCORE_GRAPH && F >= 3 && i % F < 3)
                val = box * hg_rng_uniform(seed, stream, 0, 0, (uint64_t)i);
            else val = hg_rng_normal(seed, stream, 0, 0, (uint64_t)i);
            hg_tensor_set(t, i, val);
        }
    }
    return hg_ok();
}

hg_status hg_graph_profile_open(const hg_config *c, const hg_graph_profile_options *o, hg_graph_profile *gp) {
    memset(gp, 0, sizeof *gp);
    hg_map_init(&gp->state);
    hg_map_init(&gp->in);
    hg_map_init(&gp->out);
    if (!hg_graph_profile_kind_known(o->kind))
        return hg_error(HG_ERR_INVALID, "profile: unknown graph kind '%s' (" HG_GRAPH_PROFILE_KINDS ")",
                        o->kind ? o->kind : "(null)");
    if (o->batch < 0) return hg_error(HG_ERR_INVALID, "profile: batch %d < 0", o->batch);
    if (o->nelbo_steps < 0 || o->nelbo_terms < 0)
        return hg_error(HG_ERR_INVALID, "profile: nelbo steps %d / terms %d < 0", o->nelbo_steps, o->nelbo_terms);
    if (o->trace && !o->profile) return hg_error(HG_ERR_INVALID, "profile: a trace needs the profiler");
    hg_model_opts mo;
    hg_model_opts_default(&mo, c);
    if (o->nelbo_steps) mo.nelbo_steps = o->nelbo_steps;
    if (o->nelbo_terms) mo.nelbo_terms_per_call = o->nelbo_terms;
    if (mo.nelbo_terms_per_call > mo.nelbo_steps)
        return hg_error(HG_ERR_INVALID, "profile: %d NELBO terms per call exceed the %d NELBO steps",
                        mo.nelbo_terms_per_call, mo.nelbo_steps);
    gp->batch = o->batch ? o->batch : c->batch_size;
    hg_status s = hg_model_build(c, o->kind, gp->batch, HG_F32, &mo, &gp->m);
    gp->built = s.code == HG_OK;
    if (s.code == HG_OK) s = hg_program_compile(gp->m.g, o->backend, &gp->prog);
    const hg_graph *g = gp->prog ? hg_program_graph(gp->prog) : NULL;
    if (s.code == HG_OK) s = hg_mb_init_params(&gp->m.mb, o->seed, &gp->state);
    if (s.code == HG_OK) s = hg_optim_init_state(g, &gp->state);
    if (s.code == HG_OK) s = make_inputs(g, c, mo.norm.box, o->seed, &gp->in);
    if (s.code == HG_OK && o->profile)
        s = hg_profile_init_schedule(&gp->prof, g, hg_program_schedule(gp->prog), o->trace ? HG_PROFILE_TRACE : 0);
    if (s.code == HG_OK) {
        gp->profiled = o->profile != 0;
        if (o->profile) {
            hg_exec_hooks h = hg_profile_hooks(&gp->prof);
            hg_program_set_hooks(gp->prog, &h);
        }
        for (int v = 0; v < g->n_nodes; v++) gp->flops += hg_node_flops(g, v);
    }
    if (s.code != HG_OK) hg_graph_profile_free(gp);
    return s;
}

hg_status hg_graph_profile_run(hg_graph_profile *gp, long warmup, long iters, volatile sig_atomic_t *interrupt,
                               void (*progress)(void *user, int64_t done, int64_t total), void *user) {
    if (iters < 0 || warmup < 0)
        return hg_error(HG_ERR_INVALID, "profile: %ld iterations, %ld warm-up (need >= 0)", iters, warmup);
    if (!gp->prog) return hg_error(HG_ERR_INVALID, "profile: not opened");
    double *times = realloc(gp->times, (size_t)(iters ? iters : 1) * sizeof *times);
    if (!times) return hg_error(HG_ERR_NOMEM, "profile: %ld step times", iters);
    gp->times = times;
    gp->n_times = 0;
    int profiled = gp->profiled;
    hg_exec_hooks h = profiled ? hg_profile_hooks(&gp->prof) : (hg_exec_hooks){0};
    int64_t total = warmup + iters;
    hg_status s = hg_ok();
    for (long i = 0; i < total && s.code == HG_OK; i++) {
        if (interrupt && *interrupt) return hg_error(HG_ERR_INTERRUPTED, "profile: interrupted after %ld steps", i);
        int timed = i >= warmup;
        if (profiled) hg_program_set_hooks(gp->prog, timed ? &h : NULL);
        double t0 = omp_get_wtime();
        if (timed && profiled) hg_profile_step_begin(&gp->prof);
        s = hg_program_run(gp->prog, &gp->state, &gp->in, &gp->out);
        if (timed && profiled) hg_profile_step_end(&gp->prof);
        if (timed) gp->times[gp->n_times++] = omp_get_wtime() - t0;
        if (s.code == HG_OK && progress) progress(user, i + 1, total);
    }
    return s;
}

void hg_graph_profile_free(hg_graph_profile *gp) {
    hg_profile_free(&gp->prof);
    hg_program_free(gp->prog);
    gp->prog = NULL;
    hg_map_free(&gp->state);
    hg_map_free(&gp->in);
    hg_map_free(&gp->out);
    if (gp->built) hg_model_free(&gp->m);
    gp->built = gp->profiled = 0;
    free(gp->times);
    gp->times = NULL;
    gp->n_times = 0;
}
