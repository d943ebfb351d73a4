/* libhalograph kernel profiles of one graph kind of a run's model: the
 * `halograph profile` command's build and timing (models/drivers.h
 * hg_graph_profile_*), returned as rows instead of printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "ir/atomic.h"

struct halograph_profile {
    hg_graph_profile gp;
    hg_profile_row *rows; /* per kernel, sorted by total time */
    int n_rows;
    char backend[32];
    char run_files[HG_RUN_MAX_FILES + 1][HG_PATH_MAX]; /* the run's files and directory: never written */
    int n_run_files;
};

int halograph_profile_graph(halograph_run *run, const char *kind, int batch, int iters, int warmup, int64_t seed,
                            int nelbo_steps, int trace, halograph_profile **out, halograph_progress_fn progress,
                            void *user) {
    if (!out) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: NULL output handle");
    *out = NULL;
    if (!run) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: NULL run");
    const hg_config *c = &run->run.cfg;
    if (!hg_graph_profile_kind_known(kind))
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: unknown graph kind '%s' (" HG_GRAPH_PROFILE_KINDS ")",
                           kind ? kind : "(null)");
    if (batch < 0) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: batch %d < 0 (0: the training batch size)", batch);
    if (iters < 1) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: iters = %d (need at least 1)", iters);
    if (warmup < 0) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: warmup = %d < 0", warmup);
    if (seed > (int64_t)UINT32_MAX)
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: seed %lld exceeds 2^32 - 1", (long long)seed);
    if (nelbo_steps < 0) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: nelbo_steps = %d < 0", nelbo_steps);
    halograph_profile *p = calloc(1, sizeof *p);
    if (!p) return hg_api_fail(HALOGRAPH_ERR_NOMEM, "profile: out of memory");
    hg_graph_profile_options o = {kind, batch, run->backend[0] ? run->backend : NULL,
                                  (uint32_t)(seed < 0 ? (int64_t)c->seed : seed), nelbo_steps, 0, 1, trace != 0};
    hg_api_progress pg;
    hg_api_progress_init(&pg, progress, user);
    hg_status s = hg_graph_profile_open(c, &o, &p->gp);
    if (s.code == HG_OK) s = hg_graph_profile_run(&p->gp, warmup, iters, &pg.stop, hg_api_progress_count, &pg);
    if (s.code == HG_OK) s = hg_profile_rows(&p->gp.prof, 0, &p->rows, &p->n_rows);
    if (s.code == HG_OK) {
        snprintf(p->backend, sizeof p->backend, "%s", hg_program_backend(p->gp.prog));
        p->n_run_files = hg_run_files(run->run.dir, p->run_files, HG_RUN_MAX_FILES);
        snprintf(p->run_files[p->n_run_files++], HG_PATH_MAX, "%s", run->run.dir);
        *out = p;
        return HALOGRAPH_OK;
    }
    halograph_profile_close(p);
    return hg_api_status(s);
}

void halograph_profile_close(halograph_profile *p) {
    if (!p) return;
    hg_graph_profile_free(&p->gp);
    free(p->rows);
    free(p);
}

void halograph_profile_info(const halograph_profile *p, int *n_kernels, int *n_rows, int *iters, int *batch,
                            int64_t *flops_per_step, double *compile_seconds, const char **backend) {
    if (n_kernels) *n_kernels = p->gp.prof.n_kernels;
    if (n_rows) *n_rows = p->n_rows;
    if (iters) *iters = (int)p->gp.n_times;
    if (batch) *batch = p->gp.batch;
    if (flops_per_step) *flops_per_step = p->gp.flops;
    if (compile_seconds) *compile_seconds = hg_program_compile_seconds(p->gp.prog);
    if (backend) *backend = p->backend;
}

const double *halograph_profile_step_seconds(const halograph_profile *p) { return p->gp.times; }

int halograph_profile_row_get(const halograph_profile *p, int i, halograph_profile_row *row) {
    if (!row) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: NULL row");
    if (i < 0 || i >= p->n_rows)
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: row %d out of range [0, %d)", i, p->n_rows);
    const hg_profile_row *r = &p->rows[i];
    const hg_profile_kernel *k = &p->gp.prof.kernels[r->kernel];
    memset(row, 0, sizeof *row);
    row->name = k->name;
    row->shape = k->shape;
    row->kernel = r->kernel;
    row->n_members = k->n_members;
    row->calls = r->calls;
    row->total_seconds = r->total_s;
    row->mean_seconds = r->mean_s;
    row->min_seconds = k->min_s;
    row->max_seconds = k->max_s;
    row->flops_per_call = k->flops;
    row->bytes_per_call = k->bytes;
    row->gflops = r->gflops;
    row->gbytes = r->gbytes;
    row->share = r->share;
    return HALOGRAPH_OK;
}

/* Refuses the run's files and directory and anything hg_output_check refuses. */
static hg_status check_output(const halograph_profile *p, const char *path) {
    const char *inputs[HG_RUN_MAX_FILES + 1];
    for (int i = 0; i < p->n_run_files; i++) inputs[i] = p->run_files[i];
    return hg_output_check(path, inputs, p->n_run_files);
}

int halograph_profile_write(const halograph_profile *p, const char *path, int by_shape) {
    if (!p || !path) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: NULL %s", p ? "path" : "profile");
    hg_status s = check_output(p, path);
    if (s.code) return hg_api_status(s);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return hg_api_fail(HALOGRAPH_ERR_NOMEM, "profile: cannot buffer the table");
    s = hg_profile_print(&p->gp.prof, f, by_shape ? HG_PROFILE_BY_SHAPE : 0, 0);
    fclose(f);
    if (s.code == HG_OK) s = hg_atomic_write(path, text, len);
    free(text);
    return hg_api_status(s);
}

int halograph_profile_write_trace(const halograph_profile *p, const char *path) {
    if (!p || !path) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: NULL %s", p ? "path" : "profile");
    hg_status s = check_output(p, path);
    if (s.code == HG_OK) s = hg_profile_write_trace(&p->gp.prof, path);
    return hg_api_status(s);
}
