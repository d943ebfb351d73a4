/* libhalograph training: halograph_train over hg_train (models/train.c),
 * with the output checks of `halograph train` (the run's files are its
 * outputs; the dataset and the config must not be among them, except a
 * --config that is RUN/config.yaml itself, which train keeps). */
#include <string.h>

#include "api/api_internal.h"
#include "ir/atomic.h"
#include "runtime/backend.h"

static void on_step(void *user, const hg_train_progress *p) {
    hg_api_progress *pg = user;
    if (pg->fn && pg->fn(pg->user, p->step, p->total, p->loss)) pg->stop = 1;
}

static hg_status check_outputs(const char *config, const char *data, const char *run_dir) {
    const char *in[2] = {data, config};
    HG_TRY(hg_output_dir_check(run_dir, in, 1));
    char files[HG_RUN_MAX_FILES][HG_PATH_MAX];
    int nf = hg_run_files(run_dir, files, HG_RUN_MAX_FILES);
    for (int i = 0; i < nf; i++) {
        size_t len = strlen(files[i]);
        int is_config = len >= 11 && !strcmp(files[i] + len - 11, "config.yaml");
        HG_TRY(hg_output_check(files[i], in, is_config || !config ? 1 : 2));
    }
    return hg_ok();
}

int halograph_train(const char *config, const char *data, const char *run_dir, int64_t steps, int resume,
                    const char *backend, halograph_progress_fn progress, void *user) {
    if (!data || !run_dir || (!config && !resume))
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "train: data, run_dir and config (unless resuming) are required");
    if (steps < 0) return hg_api_fail(HALOGRAPH_ERR_INVALID, "train: steps %lld < 0", (long long)steps);
    if (backend && !hg_backend_find(backend))
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "train: unknown backend '%s' (available: %s)", backend,
                           hg_program_backends());
    hg_status s = check_outputs(config, data, run_dir);
    if (s.code) return hg_api_status(s);
    hg_api_progress pg;
    hg_api_progress_init(&pg, progress, user);
    hg_train_options o;
    hg_train_options_default(&o);
    o.config_path = config;
    o.data_path = data;
    o.run_dir = run_dir;
    o.steps = steps;
    o.resume = resume != 0;
    o.backend = backend;
    o.interrupt = &pg.stop;
    o.progress = on_step;
    o.user = &pg;
    hg_train_result res;
    return hg_api_status(hg_train(&o, &res));
}
