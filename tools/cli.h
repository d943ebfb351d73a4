/* The `halograph` command-line program: one subcommand per tools/cmd_*.c.
 * Each file registers its subcommand with HG_COMMAND; tools/main.c
 * dispatches. Exit codes: 0 success, 1 failure, 2 usage error. */
#ifndef HG_CLI_H
#define HG_CLI_H

#include <signal.h>
#include <stdio.h>
#include <stdint.h>

#include "ir/ir.h"
#include "runtime/comm.h"
#include "runtime/runtime.h"

#define HG_EXIT_OK 0
#define HG_EXIT_FAIL 1
#define HG_EXIT_USAGE 2

typedef struct {
    const char *name;    /* "train" */
    const char *summary; /* one line for `halograph --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} hg_command;

void hg_command_register(const hg_command *c);

/* Registers a subcommand at program start (static constructor). */
#define HG_COMMAND(ident, cname, csummary, fn)                                \
    static const hg_command hg_cmd_##ident = {cname, csummary, fn};           \
    __attribute__((constructor)) static void hg_cmd_reg_##ident(void) {       \
        hg_command_register(&hg_cmd_##ident);                                 \
    }

/* Prints "halograph CMD: message" to stderr; returns `code`. */
int hg_cli_fail(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints a failed status as "halograph CMD: msg" and returns 1 (or 130 for
 * HG_ERR_INTERRUPTED). */
int hg_cli_status(const char *cmd, hg_status s);
/* Data-parallel commands (tools/cli_mpi.c, runtime/comm.h): _begin
 * initialises c (MPI only under mpirun; prints a failure, returns 1);
 * _end prints a failed status (with "rank R: " when P > 1; a rank whose
 * message only points at another rank's stays quiet), aborts the whole
 * job when the ranks lost step (hg_comm_is_fatal), else finalises; returns
 * the exit code (0, 1, 130 for HG_ERR_INTERRUPTED). */
int hg_cli_mpi_begin(const char *cmd, hg_comm *c);
int hg_cli_mpi_end(const char *cmd, hg_comm *c, hg_status s);
/* Prints a usage text to f, replacing the marker HG_CLI_BACKENDS by the
 * backend registry (runtime/backend.h): one line per backend, "NAME:
 * summary" ("(default)" after the default's name), each further line
 * indented to the marker's column. So every command's --backend help
 * lists exactly the registered backends. */
#define HG_CLI_BACKENDS "@BACKENDS@"
void hg_cli_usage(const char *usage, FILE *f);
/* True if argv contains -h or --help. */
int hg_cli_wants_help(int argc, char **argv);
/* Strict number parsing: 0 ok, -1 not a number / out of range. */
int hg_cli_parse_int(const char *s, long lo, long hi, long *out);
int hg_cli_parse_double(const char *s, double *out);

/* One line for an argument that matched no option of the command's loop:
 * "option --x needs a value" when a is one of the space-separated
 * `value_options` and is the last argument, "unknown option '--x'" for
 * another dash argument, else "unexpected argument 'x'" (each followed by
 * "(see halograph CMD --help)"). Returns HG_EXIT_USAGE. */
int hg_cli_bad_arg(const char *cmd, const char *a, int is_last, const char *value_options);
/* 1 if b names an available program backend (hg_program_backends). */
int hg_cli_backend_known(const char *b);
/* "train", "val" or "test" -> 0 and *out; else -1. */
int hg_cli_parse_split(const char *s, hg_split *out);

/* The input files of a command, against which every output is checked
 * (runtime.h hg_output_check). A run directory's inputs are its files
 * (hg_run_files of models/drivers.h), so that no output can replace a file
 * of a run the command reads. */
#define HG_CLI_MAX_INPUTS 64
typedef struct {
    int n;
    char *path[HG_CLI_MAX_INPUTS]; /* owned copies */
} hg_cli_inputs;
void hg_cli_inputs_add(hg_cli_inputs *in, const char *path); /* NULL: ignored */
void hg_cli_inputs_add_run(hg_cli_inputs *in, const char *run_dir);
void hg_cli_inputs_free(hg_cli_inputs *in);
/* 0 when `out` may be written by a command reading `in`; else prints one
 * line ("halograph CMD: ...") and returns HG_EXIT_USAGE. The _dir form is
 * for an output directory (hg_output_dir_check). */
int hg_cli_check_output(const char *cmd, const char *out, const hg_cli_inputs *in);
int hg_cli_check_output_dir(const char *cmd, const char *dir, const hg_cli_inputs *in);

/* Installs a handler for SIGINT (and SIGTERM when also_term) that sets the
 * returned flag, with SA_RESETHAND so a second signal kills at once. Pass the
 * flag as a driver's `interrupt` option (models/drivers.h). The flag is one
 * per process, shared by every call. */
volatile sig_atomic_t *hg_cli_catch_interrupt(int also_term);

/* Counter progress on stderr for drivers that report (done, total): make
 * with hg_cli_counter_make("sampling: step"), pass hg_cli_counter_progress
 * as the driver's `progress` and the counter as its `user`. Prints
 * "\r<label> done/total" (newline when done == total) only when stderr is a
 * terminal. */
typedef struct {
    int tty;           /* stderr is a terminal */
    const char *label; /* borrowed */
} hg_cli_counter;
hg_cli_counter hg_cli_counter_make(const char *label);
void hg_cli_counter_progress(void *user, int64_t done, int64_t total);

#endif
