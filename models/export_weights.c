/* Pretrained weights (models/drivers.h hg_run_export): a run directory
 * holding only what inference needs — the parameters (the EMA weights when
 * training.ema_decay is on), the normalisation, the config, the provenance,
 * the training metrics and the commands that made it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/drivers.h"

/* Copies text file src to dst atomically when src exists (else nothing). */
static hg_status copy_text(const char *src, const char *dst) {
    if (access(src, F_OK)) return hg_ok();
    char *text = NULL;
    size_t n = 0;
    HG_TRY(hg_read_text_file(src, HG_TEXT_MAX_BYTES, &text, &n));
    hg_status s = hg_atomic_write(dst, text, n);
    free(text);
    return s;
}

static hg_status write_all(const hg_run *r, const char *out, const char *commands, int64_t *n_params) {
    char path[HG_PATH_MAX + 32], src[HG_PATH_MAX + 32];
    hg_model m;
    HG_TRY(hg_run_build(r, "loss", 1, NULL, &m));
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    hg_status s = hg_ok();
    *n_params = 0;
    for (int i = 0; i < m.mb.n_params && s.code == HG_OK; i++) {
        const hg_tensor *t = hg_map_get(&r->state, m.mb.params[i].path);
        hg_tensor copy;
        s = t ? hg_tensor_copy(&copy, t) : hg_error(HG_ERR_INVALID, "%s: no parameter %s", r->dir, m.mb.params[i].path);
        if (s.code == HG_OK) s = hg_map_put(&ck.state, m.mb.params[i].path, &copy);
        if (s.code == HG_OK) *n_params += hg_shape_numel(t->shape);
    }
    hg_model_free(&m);
    ck.step = r->step;
    ck.seed = (uint64_t)r->cfg.seed;
    ck.has_norm = 1;
    ck.norm = r->norm;
    ck.dataset_checksum = r->dataset_checksum;
    if (s.code == HG_OK) s = hg_checkpoint_set_config(&ck, r->config_yaml);
    if (s.code == HG_OK) s = hg_checkpoint_set_counter(&ck, HG_WEIGHTS_ONLY_COUNTER, 1);
    if (s.code == HG_OK) s = hg_checkpoint_set_counter(&ck, "ema", r->ema);
    snprintf(path, sizeof path, "%s/checkpoint.h5", out);
    if (s.code == HG_OK) s = hg_checkpoint_save(path, &ck);
    hg_checkpoint_free(&ck);
    snprintf(path, sizeof path, "%s/config.yaml", out);
    if (s.code == HG_OK) s = hg_atomic_write(path, r->config_yaml, strlen(r->config_yaml));
    snprintf(path, sizeof path, "%s/norm.h5", out);
    if (s.code == HG_OK) s = hg_norm_save(path, &r->norm);
    snprintf(src, sizeof src, "%s/run.yaml", r->dir);
    snprintf(path, sizeof path, "%s/run.yaml", out);
    if (s.code == HG_OK) s = copy_text(src, path);
    snprintf(src, sizeof src, "%s/metrics.csv", r->dir);
    snprintf(path, sizeof path, "%s/metrics.csv", out);
    if (s.code == HG_OK) s = copy_text(src, path);
    snprintf(path, sizeof path, "%s/COMMANDS", out);
    if (s.code == HG_OK && commands) s = hg_atomic_write(path, commands, strlen(commands));
    return s;
}

hg_status hg_run_export(const hg_run *r, const char *out_dir, const char *commands, int64_t *n_params) {
    HG_TRY(hg_output_dir_foreign_check(out_dir, "checkpoint.h5"));
    hg_mkdirs_record made = {0};
    HG_TRY(hg_mkdirs(out_dir, &made));
    hg_status s = write_all(r, out_dir, commands, n_params);
    if (s.code && made.n > 0) {
        /* the directory is new: remove what was written, then it */
        static const char *const names[] = {"checkpoint.h5", "config.yaml", "norm.h5", "run.yaml", "metrics.csv",
                                            "COMMANDS"};
        char path[HG_PATH_MAX + 32];
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", out_dir, names[i]);
            unlink(path);
        }
        hg_mkdirs_undo(&made);
    }
    hg_mkdirs_keep(&made);
    return s;
}
