/* halograph: entry point and subcommand dispatch. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/halograph.h"
#include "runtime/backend.h"
#include "tools/cli.h"

#define HG_MAX_COMMANDS 64
static const hg_command *commands[HG_MAX_COMMANDS];
static int n_commands;

void hg_command_register(const hg_command *c) {
    if (n_commands < HG_MAX_COMMANDS) commands[n_commands++] = c;
}

int hg_cli_fail(const char *cmd, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "halograph %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int hg_cli_status(const char *cmd, hg_status s) {
    /* the drivers' messages start with their name for the library's callers
     * ("train: ..."): not "halograph train: train: ..." */
    const char *msg = s.msg;
    size_t n = strlen(cmd);
    if (!strncmp(msg, cmd, n) && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
    fprintf(stderr, "halograph %s: %s\n", cmd, msg);
    return s.code == HG_ERR_INTERRUPTED ? 130 : HG_EXIT_FAIL;
}

void hg_cli_usage(const char *usage, FILE *f) {
    const char *mark = strstr(usage, HG_CLI_BACKENDS);
    if (!mark) {
        fputs(usage, f);
        return;
    }
    const char *line = mark;
    while (line > usage && line[-1] != '\n') line--;
    int col = (int)(mark - line);
    fwrite(usage, 1, (size_t)(mark - usage), f);
    for (int i = 0; i < hg_backend_count(); i++) {
        const hg_backend *b = hg_backend_at(i);
        int is_default = !strcmp(b->name, HG_BACKEND_DEFAULT);
        fprintf(f, "%s%*s%s%s: %s", i ? "\n" : "", i ? col : 0, "", b->name,
                is_default ? " (default)" : "", b->summary);
    }
    hg_cli_usage(mark + strlen(HG_CLI_BACKENDS), f);
}

int hg_cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int hg_cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int hg_cli_parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

volatile sig_atomic_t *hg_cli_catch_interrupt(int also_term) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    if (also_term) sigaction(SIGTERM, &sa, NULL);
    return &interrupted;
}

hg_cli_counter hg_cli_counter_make(const char *label) {
    hg_cli_counter c = {isatty(STDERR_FILENO), label};
    return c;
}

void hg_cli_counter_progress(void *user, int64_t done, int64_t total) {
    const hg_cli_counter *c = user;
    if (c->tty) {
        fprintf(stderr, "\r%s %lld/%lld", c->label, (long long)done, (long long)total);
        if (done == total) fputc('\n', stderr);
        fflush(stderr);
    }
}

static int cmp_cmd(const void *a, const void *b) {
    return strcmp((*(const hg_command *const *)a)->name,
                  (*(const hg_command *const *)b)->name);
}

static void usage(FILE *f) {
    fprintf(f, "usage: halograph [--version] [--help] COMMAND [ARGS]\n\n"
               "Graph compiler and runtime for point-cloud diffusion models of the cosmic web.\n\n"
               "commands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(f, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\n`halograph COMMAND --help` describes one command.\n");
}

/* stdout_checked: RC of command CMD ("" for the top level), or, when CMD
 * succeeded but its standard output could not be written (a full disk,
 * /dev/full), 1 with one message: a command whose result is what it prints
 * (info, inspect, --help) must not exit 0 having printed nothing. A failed
 * command has reported its own error already. */
static int stdout_checked(const char *cmd, int rc) {
    if (rc != HG_EXIT_OK) return rc;
    errno = 0;
    int flush_failed = fflush(stdout) != 0;
    if (!flush_failed && !ferror(stdout)) return rc;
    fprintf(stderr, "halograph%s%s: write error on standard output%s%s\n", *cmd ? " " : "", cmd,
            flush_failed && errno ? ": " : "", flush_failed && errno ? strerror(errno) : "");
    return HG_EXIT_FAIL;
}

int main(int argc, char **argv) {
    /* The reference interpreter allocates and frees large buffers at every
     * node: keep freed memory in the heap instead of returning it to the
     * kernel (glibc unmaps blocks above its mmap threshold, and each reuse
     * then page-faults again: 15-25% of a training step on this VM). */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    qsort(commands, n_commands, sizeof commands[0], cmp_cmd);
    if (argc < 2) {
        usage(stderr);
        return HG_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("halograph %s\n", halograph_version()); /* libhalograph's: the CLI links it */
        printf("mpi: %s\n", hg_comm_available() ? "yes (data-parallel train, sample, likelihood, nelbo under mpirun)" : "no");
        return stdout_checked("", HG_EXIT_OK);
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return stdout_checked("", HG_EXIT_OK);
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i]->name))
            return stdout_checked(commands[i]->name, commands[i]->run(argc - 1, argv + 1));
    fprintf(stderr, "halograph: unknown command '%s' (see halograph --help)\n", argv[1]);
    return HG_EXIT_USAGE;
}
