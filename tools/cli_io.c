/* CLI helpers shared by the subcommands (tools/cli.h): one-line argument
 * errors, backend and split names, and the check of every output against
 * the command's inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/drivers.h"
#include "runtime/backend.h"
#include "runtime/program.h"
#include "tools/cli.h"

static int listed(const char *list, const char *a, const char *sep) {
    size_t n = strlen(a);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, sep);
        if (len == n && !strncmp(p, a, n)) return 1;
        p += len;
        if (*p) p++;
    }
    return 0;
}

int hg_cli_bad_arg(const char *cmd, const char *a, int is_last, const char *value_options) {
    if (is_last && value_options && listed(value_options, a, " "))
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "option %s needs a value (see halograph %s --help)", a, cmd);
    if (a[0] == '-')
        return hg_cli_fail(cmd, HG_EXIT_USAGE, "unknown option '%s' (see halograph %s --help)", a, cmd);
    return hg_cli_fail(cmd, HG_EXIT_USAGE, "unexpected argument '%s' (see halograph %s --help)", a, cmd);
}

int hg_cli_backend_known(const char *b) { return hg_backend_find(b) != NULL; }

int hg_cli_parse_split(const char *s, hg_split *out) {
    for (int k = 0; k < HG_NUM_SPLITS; k++)
        if (!strcmp(s, hg_split_name((hg_split)k))) {
            *out = (hg_split)k;
            return 0;
        }
    return -1;
}

void hg_cli_inputs_add(hg_cli_inputs *in, const char *path) {
    if (!path || in->n >= HG_CLI_MAX_INPUTS) return;
    char *c = strdup(path);
    if (c) in->path[in->n++] = c;
}

void hg_cli_inputs_add_run(hg_cli_inputs *in, const char *run_dir) {
    if (!run_dir) return;
    char files[HG_RUN_MAX_FILES][HG_PATH_MAX];
    int n = hg_run_files(run_dir, files, HG_RUN_MAX_FILES);
    hg_cli_inputs_add(in, run_dir);
    for (int i = 0; i < n; i++) hg_cli_inputs_add(in, files[i]);
}

void hg_cli_inputs_free(hg_cli_inputs *in) {
    for (int i = 0; i < in->n; i++) free(in->path[i]);
    in->n = 0;
}

int hg_cli_check_output(const char *cmd, const char *out, const hg_cli_inputs *in) {
    hg_status s = hg_output_check(out, (const char *const *)in->path, in->n);
    if (s.code == HG_OK) return 0;
    return hg_cli_fail(cmd, HG_EXIT_USAGE, "%s", s.msg);
}

int hg_cli_check_output_dir(const char *cmd, const char *dir, const hg_cli_inputs *in) {
    hg_status s = hg_output_dir_check(dir, (const char *const *)in->path, in->n);
    if (s.code == HG_OK) return 0;
    return hg_cli_fail(cmd, HG_EXIT_USAGE, "%s", s.msg);
}
