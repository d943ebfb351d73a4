/* `halograph ir-check` and `halograph ir-run`: check a graph text file
 * (ir/ir.h "text format") and run one with the reference interpreter on
 * tensors read from .npy files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "runtime/program.h"
#include "runtime/runtime.h"
#include "tools/cli.h"

/* ------------------------------------------------------------- ir-check */

static void check_usage(FILE *f) {
    fprintf(f,
            "usage: halograph ir-check FILE\n\n"
            "Parses and verifies a graph text file (one node per line:\n"
            "  %%3 = add f32[2,3] %%1 %%2\n"
            "see ir/ir.h and ir/text.c for the format).\n"
            "Prints `ok` and exits 0 when the graph is valid; otherwise prints\n"
            "FILE:LINE: node %%N: message to stderr and exits 1 (2 on a usage error).\n");
}

static int cmd_ir_check(int argc, char **argv) {
    if (hg_cli_wants_help(argc, argv)) {
        check_usage(stdout);
        return HG_EXIT_OK;
    }
    if (argc < 2)
        return hg_cli_fail("ir-check", HG_EXIT_USAGE,
                           "missing FILE (usage: halograph ir-check FILE; see --help)");
    if (argv[1][0] == '-')
        return hg_cli_fail("ir-check", HG_EXIT_USAGE, "unknown option '%s' (see --help)", argv[1]);
    if (argc > 2)
        return hg_cli_fail("ir-check", HG_EXIT_USAGE,
                           "one FILE expected, got an extra argument '%s'", argv[2]);
    hg_graph *g = NULL;
    hg_status s = hg_parse_file(argv[1], &g);
    if (s.code == HG_ERR_FORMAT || s.code == HG_ERR_INVALID) {
        fprintf(stderr, "%s\n", s.msg);
        return HG_EXIT_FAIL;
    }
    if (s.code != HG_OK) return hg_cli_status("ir-check", s);
    hg_graph_free(g);
    printf("ok\n");
    return HG_EXIT_OK;
}

HG_COMMAND(ir_check, "ir-check", "parse and verify a graph text file", cmd_ir_check)

/* --------------------------------------------------------------- ir-run */

static void run_usage(FILE *f) {
    hg_cli_usage(
            "usage: halograph ir-run FILE --input NAME=PATH.npy ... [--state NAME=PATH.npy ...]\n"
            "                        --out DIR [--state-out DIR] [--backend NAME]\n\n"
            "Runs the graph in FILE (text format, see `halograph ir-check --help`) once.\n"
            "  --input NAME=PATH   the tensor fed to input node NAME (.npy, dtype and shape\n"
            "                      exactly as the node's); one per input node\n"
            "  --state NAME=PATH   the value of state node NAME; one per state node\n"
            "  --out DIR           writes each graph output as DIR/NAME.npy (created)\n"
            "  --state-out DIR     also writes every state after the updates as DIR/NAME.npy\n"
            "  --backend NAME " HG_CLI_BACKENDS "\n"
            "Names containing '/' become subdirectories. Exit 0 ok, 1 failure, 2 usage.\n",
        f);
}

/* What ir-run writes, so that a failed run leaves nothing behind: the
 * files it created (not those it replaced) and the directories it made. */
#define MAX_WRITTEN 256
typedef struct {
    hg_mkdirs_record made;
    int n;
    char *created[MAX_WRITTEN];
} written;

static void written_undo(written *w, int failed) {
    for (int i = 0; i < w->n; i++) {
        if (failed) unlink(w->created[i]);
        free(w->created[i]);
    }
    w->n = 0;
    if (failed) hg_mkdirs_undo(&w->made);
    hg_mkdirs_keep(&w->made);
}

/* DIR/NAME.npy into path; errors for names that are not file names. */
static hg_status named_path(const char *dir, const char *name, char *path, size_t n) {
    if (strstr(name, "..") || name[0] == '/')
        return hg_error(HG_ERR_INVALID, "name \"%s\" cannot be used as a file name", name);
    if (snprintf(path, n, "%s/%s.npy", dir, name) >= (int)n)
        return hg_error(HG_ERR_IO, "%s/%s.npy: path too long", dir, name);
    return hg_ok();
}

/* Writes t as DIR/NAME.npy, creating the subdirectories a '/' in NAME implies. */
static hg_status write_named(const char *dir, const char *name, const hg_tensor *t, written *w) {
    char path[4096];
    HG_TRY(named_path(dir, name, path, sizeof path));
    char *slash = strrchr(path, '/');
    *slash = 0;
    HG_TRY(hg_mkdirs(path, &w->made));
    *slash = '/';
    int existed = access(path, F_OK) == 0;
    HG_TRY(hg_npy_write(path, t));
    if (!existed && w->n < MAX_WRITTEN && (w->created[w->n] = strdup(path))) w->n++;
    return hg_ok();
}

/* Every file ir-run would write (DIR/NAME.npy of the outputs, and of the
 * states with --state-out) against its inputs; 0 ok, else the exit code. */
static int check_outputs(const hg_graph *g, const char *out, const char *state_out, const hg_cli_inputs *in) {
    const char *cmd = "ir-run";
    int rc = hg_cli_check_output_dir(cmd, out, in);
    if (!rc && state_out) rc = hg_cli_check_output_dir(cmd, state_out, in);
    char path[4096];
    for (int o = 0; !rc && o < g->n_outputs; o++) {
        hg_status s = named_path(out, g->outputs[o].name, path, sizeof path);
        rc = s.code ? hg_cli_status(cmd, s) : hg_cli_check_output(cmd, path, in);
    }
    for (int i = 0; !rc && state_out && i < g->n_nodes; i++) {
        if (g->nodes[i].op != HG_OP_state) continue;
        hg_status s = named_path(state_out, g->nodes[i].attrs.name, path, sizeof path);
        rc = s.code ? hg_cli_status(cmd, s) : hg_cli_check_output(cmd, path, in);
    }
    return rc;
}

/* Reads "NAME=PATH" into map `m` (after checking NAME names a node of kind op). */
static int load_arg(const char *opt, const char *arg, const hg_graph *g, hg_op op,
                    hg_tensor_map *m) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return hg_cli_fail("ir-run", HG_EXIT_USAGE, "%s expects NAME=PATH.npy, got '%s'", opt, arg);
    char name[HG_NAME_MAX];
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof name) return hg_cli_fail("ir-run", HG_EXIT_USAGE, "%s: name too long", opt);
    memcpy(name, arg, n);
    name[n] = 0;
    hg_value v = op == HG_OP_input ? hg_find_input(g, name) : hg_find_state(g, name);
    if (v == HG_NONE)
        return hg_cli_fail("ir-run", HG_EXIT_FAIL, "the graph has no %s named \"%s\"",
                           hg_op_table[op].name, name);
    if (hg_map_get(m, name))
        return hg_cli_fail("ir-run", HG_EXIT_USAGE, "%s %s given twice", opt, name);
    hg_tensor t;
    hg_status s = hg_npy_read(eq + 1, &t);
    if (s.code) return hg_cli_status("ir-run", s);
    s = hg_map_put(m, name, &t);
    if (s.code) {
        hg_tensor_free(&t);
        return hg_cli_status("ir-run", s);
    }
    return HG_EXIT_OK;
}

static int cmd_ir_run(int argc, char **argv) {
    if (hg_cli_wants_help(argc, argv)) {
        run_usage(stdout);
        return HG_EXIT_OK;
    }
    const char *file = NULL, *out = NULL, *state_out = NULL, *backend = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--backend")) {
            if (++i >= argc) return hg_cli_fail("ir-run", HG_EXIT_USAGE, "--backend needs a NAME");
            backend = argv[i];
        } else if (!strcmp(a, "--input") || !strcmp(a, "--state")) {
            if (++i >= argc) return hg_cli_fail("ir-run", HG_EXIT_USAGE, "%s needs NAME=PATH.npy", a);
        } else if (!strcmp(a, "--out") || !strcmp(a, "--state-out")) {
            if (++i >= argc) return hg_cli_fail("ir-run", HG_EXIT_USAGE, "%s needs a directory", a);
            if (!strcmp(a, "--out")) out = argv[i];
            else state_out = argv[i];
        } else if (a[0] == '-') {
            return hg_cli_bad_arg("ir-run", a, 0, NULL);
        } else if (file) {
            return hg_cli_fail("ir-run", HG_EXIT_USAGE, "more than one graph file ('%s', '%s')",
                               file, a);
        } else {
            file = a;
        }
    }
    if (!file)
        return hg_cli_fail("ir-run", HG_EXIT_USAGE, "missing the graph FILE (see --help)");
    if (!out) return hg_cli_fail("ir-run", HG_EXIT_USAGE, "--out DIR is required (see --help)");
    if (backend && !hg_cli_backend_known(backend))
        return hg_cli_fail("ir-run", HG_EXIT_USAGE, "--backend: unknown backend '%s' (available: %s)",
                           backend, hg_program_backends());

    hg_graph *g = NULL;
    hg_status s = hg_parse_file(file, &g);
    if (s.code == HG_ERR_FORMAT || s.code == HG_ERR_INVALID) {
        fprintf(stderr, "%s\n", s.msg);
        return HG_EXIT_FAIL;
    }
    if (s.code) return hg_cli_status("ir-run", s);
    hg_cli_inputs in = {0};
    hg_cli_inputs_add(&in, file);
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--input") || !strcmp(argv[i], "--state")) {
            const char *eq = strchr(argv[++i], '=');
            if (eq) hg_cli_inputs_add(&in, eq + 1);
        }
    int rc = check_outputs(g, out, state_out, &in);
    hg_cli_inputs_free(&in);
    if (rc) {
        hg_graph_free(g);
        return rc;
    }

    hg_tensor_map inputs, state, outputs;
    hg_map_init(&inputs);
    hg_map_init(&state);
    hg_map_init(&outputs);
    for (int i = 1; i < argc && rc == HG_EXIT_OK; i++) {
        if (!strcmp(argv[i], "--input")) rc = load_arg("--input", argv[++i], g, HG_OP_input, &inputs);
        else if (!strcmp(argv[i], "--state")) rc = load_arg("--state", argv[++i], g, HG_OP_state, &state);
        else if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "--state-out") ||
                 !strcmp(argv[i], "--backend"))
            i++;
    }
    if (rc == HG_EXIT_OK) {
        hg_program *p = NULL;
        s = hg_program_compile(g, backend, &p);
        if (!s.code) s = hg_program_run(p, &state, &inputs, &outputs);
        hg_program_free(p);
        if (s.code) rc = hg_cli_status("ir-run", s);
    }
    written w = {0};
    if (rc == HG_EXIT_OK) {
        s = hg_mkdirs(out, &w.made);
        if (s.code) rc = hg_cli_status("ir-run", s);
    }
    for (int o = 0; rc == HG_EXIT_OK && o < g->n_outputs; o++) {
        const char *name = g->outputs[o].name;
        hg_tensor *t = hg_map_get(&outputs, name);
        if (!t) {
            rc = hg_cli_fail("ir-run", HG_EXIT_FAIL, "the backend returned no output \"%s\"", name);
            break;
        }
        s = write_named(out, name, t, &w);
        if (s.code) rc = hg_cli_status("ir-run", s);
    }
    if (rc == HG_EXIT_OK && state_out) {
        s = hg_mkdirs(state_out, &w.made);
        if (s.code) rc = hg_cli_status("ir-run", s);
        for (int k = 0; rc == HG_EXIT_OK && k < state.n; k++) {
            s = write_named(state_out, state.e[k].name, &state.e[k].t, &w);
            if (s.code) rc = hg_cli_status("ir-run", s);
        }
    }
    written_undo(&w, rc != HG_EXIT_OK);
    hg_map_free(&inputs);
    hg_map_free(&state);
    hg_map_free(&outputs);
    hg_graph_free(g);
    return rc;
}

HG_COMMAND(ir_run, "ir-run", "run a graph text file with the reference interpreter", cmd_ir_run)
