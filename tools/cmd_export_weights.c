/* `halograph export-weights`: the pretrained-weights directory of a run
 * (parameters + normalisation, no optimiser state; models/drivers.h
 * hg_run_export). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/drivers.h"
#include "tools/cli.h"

static const char *USAGE =
    "usage: halograph export-weights --run RUN --out DIR [--commands FILE]\n\n"
    "Writes the weights of training run RUN to DIR (created if absent), a run directory\n"
    "that sample, likelihood, coverage, nelbo and export-onnx read with --run DIR:\n"
    "  DIR/checkpoint.h5  parameters only (the EMA weights when training.ema_decay is on;\n"
    "                     no optimiser state), normalisation, config, step, seed\n"
    "  DIR/config.yaml, DIR/norm.h5, DIR/run.yaml, DIR/metrics.csv (copied from RUN)\n"
    "  DIR/COMMANDS       the text of FILE (the commands that made the run), then this\n"
    "                     export command\n"
    "Every file is written atomically; DIR must not be RUN or hold an input.\n";

static int run_export_weights(int argc, char **argv) {
    const char *cmd = "export-weights";
    if (hg_cli_wants_help(argc, argv)) {
        hg_cli_usage(USAGE, stdout);
        return HG_EXIT_OK;
    }
    const char *run = NULL, *out = NULL, *commands = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--run") && has) run = argv[++i];
        else if (!strcmp(a, "--out") && has) out = argv[++i];
        else if (!strcmp(a, "--commands") && has) commands = argv[++i];
        else return hg_cli_bad_arg(cmd, a, !has, "--run --out --commands");
    }
    if (!run || !out) return hg_cli_fail(cmd, HG_EXIT_USAGE, "--run and --out are required (see halograph %s --help)", cmd);
    hg_cli_inputs in = {0};
    hg_cli_inputs_add_run(&in, run);
    hg_cli_inputs_add(&in, commands);
    int rc = hg_cli_check_output_dir(cmd, out, &in);
    static const char *const names[] = {"checkpoint.h5", "config.yaml", "norm.h5", "run.yaml", "metrics.csv",
                                        "COMMANDS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !rc; i++) {
        char p[HG_PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/%s", out, names[i]);
        rc = hg_cli_check_output(cmd, p, &in);
    }
    hg_cli_inputs_free(&in);
    if (rc) return rc;
    /* COMMANDS: the given file, then this command line */
    char *text = NULL;
    size_t n = 0;
    hg_status s = commands ? hg_read_text_file(commands, HG_TEXT_MAX_BYTES, &text, &n) : hg_ok();
    size_t cap = n + 64;
    for (int i = 0; i < argc; i++) cap += strlen(argv[i]) + 1;
    char *all = s.code == HG_OK ? malloc(cap) : NULL;
    if (s.code == HG_OK && !all) s = hg_error(HG_ERR_NOMEM, "%s", cmd);
    if (s.code == HG_OK) {
        size_t L = (size_t)snprintf(all, cap, "%s%s# exported with\nhalograph", text ? text : "",
                                    text && n && text[n - 1] != '\n' ? "\n" : "");
        for (int i = 0; i < argc; i++) L += (size_t)snprintf(all + L, cap - L, "%s%s", i ? " " : " ", argv[i]);
        snprintf(all + L, cap - L, "\n");
    }
    free(text);
    hg_run r;
    int opened = 0;
    int64_t np = 0;
    if (s.code == HG_OK) s = hg_run_open(run, &r), opened = 1;
    if (s.code == HG_OK) s = hg_run_export(&r, out, all, &np);
    if (s.code == HG_OK)
        printf("exported %lld parameters of %s (step %lld%s) to %s\n", (long long)np, run, (long long)r.step,
               r.ema ? ", EMA weights" : "", out);
    if (opened) hg_run_free(&r);
    free(all);
    return s.code ? hg_cli_status(cmd, s) : HG_EXIT_OK;
}

HG_COMMAND(export_weights, "export-weights", "pretrained-weights directory of a run (parameters + normalisation)",
           run_export_weights)
