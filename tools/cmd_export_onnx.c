/* `halograph export-onnx (--run RUN | --config C) --graph KIND --batch B
 * --out M.onnx`: writes one graph kind of a trained run (its checkpoint's
 * weights and normalisation) or of a config (initial weights from the
 * config seed) as an ONNX model (codegen/onnx.h), atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/onnx.h"
#include "models/drivers.h"
#include "models/models.h"
#include "tools/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: halograph export-onnx (--run RUN | --config FILE) --graph KIND --batch B\n"
            "                             --out M.onnx [--nelbo-steps S] [--nelbo-terms M]\n"
            "                             [--box L] [--seed S]\n\n"
            "Writes graph KIND (score | sample-step | sample-decode | nelbo) of a model as an\n"
            "ONNX model (opset 17, IR version 8): weights as initializers named by their\n"
            "parameter paths, inputs and outputs documented (shapes, units) in doc strings,\n"
            "random draws as explicit noise_<stream> inputs. The file is written atomically.\n"
            "  --run RUN          a training run directory (RUN/checkpoint.h5: weights, data\n"
            "                     normalisation and box side)\n"
            "  --config FILE      a YAML config instead: weights initialised from the config's\n"
            "                     seed (or --seed), identity normalisation\n"
            "  --graph KIND       score | sample-step | sample-decode | nelbo\n"
            "  --batch B          batch size the graph is built for (static shapes)\n"
            "  --out M.onnx       output file\n"
            "  --nelbo-steps S    nelbo: S time steps (default 50)\n"
            "  --nelbo-terms M    nelbo: diffusion terms per call (default S; must divide S)\n"
            "  --box L            --config only: box side in Mpc/h (default 1000)\n"
            "  --seed S           --config only: parameter initialisation seed\n");
}

static int valid_kind(const char *k) {
    return !strcmp(k, "score") || !strcmp(k, "sample-step") || !strcmp(k, "sample-decode") ||
           !strcmp(k, "nelbo");
}

static int cmd_export_onnx(int argc, char **argv) {
    const char *cmd = "export-onnx";
    if (hg_cli_wants_help(argc, argv)) {
        usage(stdout);
        return HG_EXIT_OK;
    }
    const char *run = NULL, *cfg_path = NULL, *kind = NULL, *out = NULL;
    long batch = 0, steps = 50, terms = 0, seed = -1;
    double box = 1000.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--run") && has) {
            run = argv[++i];
        } else if (!strcmp(a, "--config") && has) {
            cfg_path = argv[++i];
        } else if (!strcmp(a, "--graph") && has) {
            kind = argv[++i];
        } else if (!strcmp(a, "--out") && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 1 << 20, &batch))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--batch: '%s' is not a positive integer",
                                   argv[i]);
        } else if (!strcmp(a, "--nelbo-steps") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 1 << 20, &steps))
                return hg_cli_fail(cmd, HG_EXIT_USAGE,
                                   "--nelbo-steps: '%s' is not a positive integer", argv[i]);
        } else if (!strcmp(a, "--nelbo-terms") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 1 << 20, &terms))
                return hg_cli_fail(cmd, HG_EXIT_USAGE,
                                   "--nelbo-terms: '%s' is not a positive integer", argv[i]);
        } else if (!strcmp(a, "--box") && has) {
            if (hg_cli_parse_double(argv[++i], &box) || !(box > 0))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--box: '%s' is not a positive number",
                                   argv[i]);
        } else if (!strcmp(a, "--seed") && has) {
            if (hg_cli_parse_int(argv[++i], 0, 0xffffffffL, &seed))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--seed: '%s' is not a seed", argv[i]);
        } else {
            return hg_cli_bad_arg(cmd, a, !has,
                                  "--run --config --graph --out --batch --nelbo-steps --nelbo-terms --box --seed");
        }
    }
    if (!run == !cfg_path)
        return hg_cli_fail(cmd, HG_EXIT_USAGE,
                           "give exactly one of --run RUN and --config FILE (see --help)");
    if (!kind || !out || !batch)
        return hg_cli_fail(cmd, HG_EXIT_USAGE,
                           "--graph, --batch and --out are required (see --help)");
    if (!valid_kind(kind))
        return hg_cli_fail(cmd, HG_EXIT_USAGE,
                           "--graph: '%s' is not one of score, sample-step, sample-decode, nelbo",
                           kind);
    if (terms && (terms > steps || steps % terms))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "--nelbo-terms %ld must divide --nelbo-steps %ld",
                           terms, steps);
    hg_cli_inputs in = {0};
    hg_cli_inputs_add_run(&in, run);
    hg_cli_inputs_add(&in, cfg_path);
    int rc = hg_cli_check_output(cmd, out, &in);
    hg_cli_inputs_free(&in);
    if (rc) return rc;

    hg_model m;
    memset(&m, 0, sizeof m);
    hg_tensor_map init;
    hg_map_init(&init);
    const hg_tensor_map *state = NULL;
    hg_run r;
    int have_run = 0;
    hg_status s;
    char doc[1024];
    if (run) {
        s = hg_run_open(run, &r);
        if (s.code) {
            hg_run_free(&r);
            return hg_cli_status(cmd, s);
        }
        have_run = 1;
        hg_model_opts o;
        hg_model_opts_default(&o, &r.cfg);
        o.nelbo_steps = (int)steps;
        o.nelbo_terms_per_call = (int)terms;
        s = hg_run_build(&r, kind, (int)batch, &o, &m);
        state = &r.state;
        snprintf(doc, sizeof doc,
                 "halograph %s graph of the training run %s (after %lld steps), batch %ld.", kind,
                 run, (long long)r.step, batch);
    } else {
        hg_config c;
        s = hg_config_load(cfg_path, &c);
        if (s.code == HG_OK) {
            hg_model_opts o;
            hg_model_opts_default(&o, &c);
            o.norm.box = box;
            o.nelbo_steps = (int)steps;
            o.nelbo_terms_per_call = (int)terms;
            s = hg_model_build(&c, kind, (int)batch, HG_F32, &o, &m);
            uint32_t sd = seed >= 0 ? (uint32_t)seed : (uint32_t)c.seed;
            if (s.code == HG_OK) s = hg_mb_init_params(&m.mb, sd, &init);
            snprintf(doc, sizeof doc,
                     "halograph %s graph of the config %s with initial (untrained) weights "
                     "(seed %u), identity normalisation, box side %g Mpc/h, batch %ld.",
                     kind, cfg_path, sd, box, batch);
        }
        state = &init;
    }
    if (s.code == HG_OK) {
        hg_onnx_options oo;
        hg_onnx_options_default(&oo);
        oo.graph_name = kind;
        oo.model_doc = doc;
        s = hg_onnx_export(m.g, state, &oo, out);
    }
    int n_nodes = m.g ? m.g->n_nodes : 0;
    hg_model_free(&m);
    hg_map_free(&init);
    if (have_run) hg_run_free(&r);
    if (s.code) return hg_cli_status(cmd, s);
    printf("wrote %s (%s graph, batch %ld, %d halograph nodes)\n", out, kind, batch, n_nodes);
    return HG_EXIT_OK;
}

HG_COMMAND(export_onnx, "export-onnx", "write a model graph as an ONNX file", cmd_export_onnx)
