/* `halograph ir-grad`: reads a graph text file, appends the reverse-mode
 * gradient of one output w.r.t. named inputs/states (passes/passes.h
 * hg_grad), simplifies, and prints or writes the result as text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "tools/cli.h"

#define MAX_WRT 256

static void usage(FILE *f) {
    fprintf(f,
            "usage: halograph ir-grad FILE --loss NAME --wrt A,B,... [--out FILE]\n\n"
            "Differentiates the graph in FILE (text format, see `halograph ir-check --help`):\n"
            "appends the gradient of output NAME (a float value; a non-scalar one is summed)\n"
            "with respect to each input or state node named in --wrt, declares it as the\n"
            "output \"grad/<name>\" (the graph's other outputs and updates are kept),\n"
            "simplifies the graph (dead code, splat constants, x*1, x+0, common\n"
            "subexpressions) and prints it as text, or writes it to --out.\n"
            "A --wrt name that the loss does not depend on gets zeros.\n"
            "Exit 0 ok, 1 failure (unreadable or invalid graph, unknown names), 2 usage.\n");
}

/* Splits "a,b,c" into wrt ids of g; 0 ok, else prints the failure and
 * returns the exit code. */
static int resolve_wrt(hg_graph *g, char *list, hg_value *wrt, char names[][HG_NAME_MAX], int *n) {
    *n = 0;
    for (char *tok = list, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        if (!*tok)
            return hg_cli_fail("ir-grad", HG_EXIT_USAGE, "--wrt has an empty name in its list");
        if (*n == MAX_WRT) {
            return hg_cli_fail("ir-grad", HG_EXIT_FAIL, "too many --wrt names (max %d)", MAX_WRT);
        }
        hg_value v = hg_find_input(g, tok);
        if (v == HG_NONE) v = hg_find_state(g, tok);
        if (v == HG_NONE) {
            return hg_cli_fail("ir-grad", HG_EXIT_FAIL, "--wrt %s: no input or state of that name",
                               tok);
        }
        if (!hg_dtype_is_float(hg_value_dtype(g, v))) {
            return hg_cli_fail("ir-grad", HG_EXIT_FAIL, "--wrt %s: %%%d is %s, not a float value",
                               tok, (int)v, hg_dtype_name(hg_value_dtype(g, v)));
        }
        if (strlen(tok) + 5 >= HG_NAME_MAX) {
            return hg_cli_fail("ir-grad", HG_EXIT_FAIL, "--wrt %s: name too long", tok);
        }
        snprintf(names[*n], HG_NAME_MAX, "%s", tok);
        wrt[(*n)++] = v;
    }
    if (*n == 0) return hg_cli_fail("ir-grad", HG_EXIT_USAGE, "--wrt lists no names");
    return 0;
}

static int cmd_ir_grad(int argc, char **argv) {
    if (hg_cli_wants_help(argc, argv)) {
        usage(stdout);
        return HG_EXIT_OK;
    }
    const char *file = NULL, *loss_name = NULL, *out_path = NULL;
    char *wrt_list = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--loss") && has) loss_name = argv[++i];
        else if (!strcmp(a, "--wrt") && has) wrt_list = argv[++i];
        else if (!strcmp(a, "--out") && has) out_path = argv[++i];
        else if (a[0] == '-' || file) return hg_cli_bad_arg("ir-grad", a, !has, "--loss --wrt --out");
        else file = a;
    }
    if (!file || !loss_name || !wrt_list)
        return hg_cli_fail("ir-grad", HG_EXIT_USAGE, "FILE, --loss and --wrt are required (see halograph ir-grad --help)");
    if (out_path) {
        hg_cli_inputs in = {0};
        hg_cli_inputs_add(&in, file);
        int rc = hg_cli_check_output("ir-grad", out_path, &in);
        hg_cli_inputs_free(&in);
        if (rc) return rc;
    }
    hg_graph *g = NULL;
    hg_status s = hg_parse_file(file, &g);
    /* parse messages already start with "FILE:LINE:" (or "FILE:") */
    if (s.code != HG_OK) return hg_cli_status("ir-grad", s);
    int rc = HG_EXIT_FAIL;
    hg_graph *o = NULL;
    char *wl = strdup(wrt_list);
    static char names[MAX_WRT][HG_NAME_MAX];
    hg_value wrt[MAX_WRT], grads[MAX_WRT];
    int n = 0;
    hg_value loss = hg_find_output(g, loss_name);
    if (!wl) {
        hg_cli_fail("ir-grad", HG_EXIT_FAIL, "out of memory");
        goto done;
    }
    if (loss == HG_NONE) {
        hg_cli_fail("ir-grad", HG_EXIT_FAIL, "--loss %s: the graph has no output of that name",
                    loss_name);
        goto done;
    }
    if (!hg_dtype_is_float(hg_value_dtype(g, loss))) {
        hg_cli_fail("ir-grad", HG_EXIT_FAIL, "--loss %s: output %%%d is %s, not a float value",
                    loss_name, (int)loss, hg_dtype_name(hg_value_dtype(g, loss)));
        goto done;
    }
    if ((rc = resolve_wrt(g, wl, wrt, names, &n)) != 0) goto done;
    rc = HG_EXIT_FAIL;
    s = hg_grad(g, loss, n, wrt, grads);
    for (int i = 0; i < n && s.code == HG_OK; i++) {
        char oname[HG_NAME_MAX + 8];
        snprintf(oname, sizeof oname, "grad/%s", names[i]);
        if (hg_set_output(g, oname, grads[i])) s = hg_graph_status(g);
    }
    if (s.code == HG_OK) s = hg_simplify(g, &o, NULL);
    if (s.code == HG_OK) s = hg_verify(o);
    if (s.code != HG_OK) {
        rc = hg_cli_status("ir-grad", s);
        goto done;
    }
    hg_atomic_file *af = NULL;
    if (out_path) {
        s = hg_atomic_open(out_path, &af);
        if (s.code != HG_OK) {
            rc = hg_cli_status("ir-grad", s);
            goto done;
        }
    }
    s = hg_print(o, af ? hg_atomic_stream(af) : stdout);
    if (af) s = hg_atomic_close(af, s);
    if (s.code != HG_OK) {
        rc = hg_cli_status("ir-grad", s);
        goto done;
    }
    rc = HG_EXIT_OK;
done:
    free(wl);
    hg_graph_free(o);
    hg_graph_free(g);
    return rc;
}

HG_COMMAND(ir_grad, "ir-grad", "append the gradient of a graph output and print the graph",
           cmd_ir_grad)
