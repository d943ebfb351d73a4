/* `halograph info --config C`: parameter count per module and in total,
 * and the FLOPs (SPEC 7 convention, hg_node_flops) of one training step
 * and one sampling step, counted by walking the graphs' nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "tools/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: halograph info --config FILE [--batch B] [--box L]\n\n"
            "Prints the model of a config (SPEC 7): the parameter count of each module\n"
            "(parameters grouped by path: cond_embed, vdm/gamma, score/cond_mlp,\n"
            "score/layer_N, ...) and in total, and the FLOPs of one training step\n"
            "(forward + backward + clipping + AdamW, graph kind `train`) and of one\n"
            "sampling step (graph kind `sample-step`), counted node by node: 2 per\n"
            "multiply-add in matmuls and attention, 1 per elementwise operation (a\n"
            "transcendental counts 1).\n"
            "  --config FILE  YAML config (configs/*.yaml)\n"
            "  --batch B      batch size (default: training.batch_size of the config)\n"
            "  --box L        box side in Mpc/h for the graph network (default 1000)\n");
}

/* Module of a parameter path: its first component, and the second one
 * under "score" and "vdm" (e.g. "score/layer_3", "vdm/gamma"). */
static void module_of(const char *path, char *out, size_t n) {
    const char *sl = strchr(path, '/');
    size_t len = sl ? (size_t)(sl - path) : strlen(path);
    if (sl && (!strncmp(path, "score", len) || !strncmp(path, "vdm", len) ||
               !strncmp(path, "encoder", len) || !strncmp(path, "decoder", len))) {
        const char *sl2 = strchr(sl + 1, '/');
        len = sl2 ? (size_t)(sl2 - path) : strlen(path);
    }
    if (len >= n) len = n - 1;
    memcpy(out, path, len);
    out[len] = 0;
}

static int64_t graph_flops(const hg_graph *g) {
    int64_t f = 0;
    for (int i = 0; i < g->n_nodes; i++) f += hg_node_flops(g, i);
    return f;
}

static void print_flops(const char *what, int64_t f) {
    printf("%-28s %20lld  (%.4g GFLOP)\n", what, (long long)f, (double)f / 1e9);
}

static int cmd_info(int argc, char **argv) {
    if (hg_cli_wants_help(argc, argv)) {
        usage(stdout);
        return HG_EXIT_OK;
    }
    const char *cfg_path = NULL;
    long batch = 0;
    double box = 1000.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            cfg_path = argv[++i];
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (hg_cli_parse_int(argv[++i], 1, 1 << 20, &batch))
                return hg_cli_fail("info", HG_EXIT_USAGE, "--batch: '%s' is not a positive integer", argv[i]);
        } else if (!strcmp(argv[i], "--box") && i + 1 < argc) {
            if (hg_cli_parse_double(argv[++i], &box) || !(box > 0))
                return hg_cli_fail("info", HG_EXIT_USAGE, "--box: '%s' is not a positive number", argv[i]);
        } else if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--batch") ||
                   !strcmp(argv[i], "--box")) {
            return hg_cli_fail("info", HG_EXIT_USAGE, "%s needs a value", argv[i]);
        } else {
            return hg_cli_fail("info", HG_EXIT_USAGE, "unexpected argument '%s' (see --help)",
                               argv[i]);
        }
    }
    if (!cfg_path)
        return hg_cli_fail("info", HG_EXIT_USAGE, "--config FILE is required (see --help)");
    hg_config c;
    hg_status s = hg_config_load(cfg_path, &c);
    if (s.code) return hg_cli_status("info", s);
    if (!batch) batch = c.batch_size;
    hg_model_opts o;
    hg_model_opts_default(&o, &c);
    o.norm.box = box;

    hg_model tm, sm;
    s = hg_model_build(&c, "train", (int)batch, HG_F32, &o, &tm);
    if (s.code) return hg_cli_status("info", s);
    s = hg_model_build(&c, "sample-step", (int)batch, HG_F32, &o, &sm);
    if (s.code) {
        hg_model_free(&tm);
        return hg_cli_status("info", s);
    }
    printf("config: %s\n", cfg_path);
    printf("model: %s score, N %d, F %d, conditioning %d, batch %ld\n",
           c.score == HG_SCORE_GRAPH ? "graph" : "transformer", c.n_particles, c.n_features,
           c.n_cond, batch);
    printf("\nparameters by module:\n");
    /* modules in order of first appearance */
    const hg_mb *mb = &tm.mb;
    char *done = calloc((size_t)mb->n_params + 1, 1);
    if (!done) {
        hg_model_free(&tm);
        hg_model_free(&sm);
        return hg_cli_fail("info", HG_EXIT_FAIL, "out of memory");
    }
    for (int i = 0; i < mb->n_params; i++) {
        if (done[i]) continue;
        char mod[HG_NAME_MAX], other[HG_NAME_MAX];
        module_of(mb->params[i].path, mod, sizeof mod);
        int64_t n = 0;
        int np = 0;
        for (int j = i; j < mb->n_params; j++) {
            module_of(mb->params[j].path, other, sizeof other);
            if (strcmp(mod, other)) continue;
            done[j] = 1;
            n += hg_shape_numel(mb->params[j].shape);
            np++;
        }
        printf("  %-28s %12lld  (%d tensors)\n", mod, (long long)n, np);
    }
    free(done);
    printf("  %-28s %12lld\n", "total", (long long)hg_mb_param_count(mb));
    printf("\nFLOPs (2 per multiply-add, 1 per elementwise op):\n");
    print_flops("  training step", graph_flops(tm.g));
    print_flops("  sampling step", graph_flops(sm.g));
    printf("  (graphs: train %d nodes, sample-step %d nodes)\n", tm.g->n_nodes, sm.g->n_nodes);
    hg_model_free(&tm);
    hg_model_free(&sm);
    return HG_EXIT_OK;
}

HG_COMMAND(info, "info", "parameter counts and FLOPs of a model config", cmd_info)
